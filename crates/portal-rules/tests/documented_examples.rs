//! Every example in docs/rules.md written as `` `expression` → `result` `` evaluates to that
//! result, so the reference cannot drift from the engine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use portal_rules::{Activation, EvaluationInput, evaluate_expression};

/// The (line, expression, result) of every example on a table row of the document.
fn examples(document: &str) -> Vec<(usize, String, String)> {
    let mut found = Vec::new();
    for (index, line) in document.lines().enumerate() {
        if !line.starts_with('|') {
            continue;
        }
        let spans: Vec<&str> = line.split('`').collect();
        // Code spans are the odd pieces; an example is a span, ` → `, then the next span.
        for at in (1..spans.len().saturating_sub(2)).step_by(2) {
            if spans[at + 1] == " → " {
                found.push((index + 1, spans[at].to_owned(), spans[at + 2].to_owned()));
            }
        }
    }
    found
}

#[test]
fn every_documented_example_evaluates_to_its_documented_result() {
    let document = include_str!("../../../docs/rules.md");
    let examples = examples(document);
    assert!(examples.len() >= 25, "found only {} examples: is the table format still `a` → `b`?", examples.len());
    let activation = Activation::new(EvaluationInput::default());
    let failures: Vec<String> = examples
        .iter()
        .filter_map(|(line, expression, result)| {
            let actual = evaluate_expression(expression, &activation);
            let expected = evaluate_expression(result, &activation);
            match (actual, expected) {
                (Ok(actual), Ok(expected)) if actual == expected => None,
                (actual, expected) => Some(format!(
                    "docs/rules.md:{line}: `{expression}` gave {actual:?}, the document says `{result}` ({expected:?})"
                )),
            }
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
