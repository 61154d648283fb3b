//! A rule's expression rewritten for the API server: the rule variables Portal adds read the
//! `variables` of `sugar.rs`, a per-container rule becomes a comprehension over the containers,
//! and the whole is negated (a ValidatingAdmissionPolicy validation says what is allowed).
//! Rewriting works on the source text at the places the parsed expression gives, so what the
//! rule's author wrote is kept exactly, comments and layout aside.

use portal_rules::{ExpressionUses, VariableRead};

use crate::functions::is_kubernetes_function;
use crate::sugar::{defaulted_fields, source_map};

/// Why an expression cannot be mirrored.
pub(crate) type Refusal = String;

/// `source` with every rule variable read replaced by what reads the same in the API server.
pub(crate) fn translate(source: &str, uses: &ExpressionUses) -> Result<String, Refusal> {
    for function in &uses.functions {
        if !is_kubernetes_function(function) {
            // `math.greatest`/`math.least` are macros in Portal, over hidden functions.
            let written = function.replace("@max", "greatest").replace("@min", "least");
            return Err(format!("calls {written}(), which Kubernetes' CEL environment does not have"));
        }
    }
    if uses.fields.contains("imageRef") {
        return Err("reads imageRef (the parsed image reference), which has no Kubernetes CEL equivalent".to_owned());
    }
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::new();
    let mut at = 0;
    for read in &uses.variables {
        let written: String = chars.get(read.start..read.end).map(|c| c.iter().collect()).unwrap_or_default();
        if written != read.name || read.start < at {
            return Err(format!("could not locate `{}` in the expression's text (a bug in Portal)", read.name));
        }
        out.extend(&chars[at..read.start]);
        let (replacement, end) = replacement(&chars, read)?;
        out.push_str(&replacement);
        at = end;
    }
    out.extend(&chars[at..]);
    Ok(out)
}

/// What replaces the read, and where the replaced text ends.
fn replacement(chars: &[char], read: &VariableRead) -> Result<(String, usize), Refusal> {
    let name = read.name.as_str();
    match name {
        "object" | "oldObject" | "request" | "namespaceObject" => Ok((name.to_owned(), read.end)),
        "container" => Ok((name.to_owned(), read.end)),
        "containers" | "metadata" => Ok((format!("variables.{name}"), read.end)),
        "spec" | "securityContext" | "podMetadata" => {
            let source = source_map(name).unwrap_or("null");
            let Some(selection) = selection_after(chars, read.end) else {
                return Err(format!(
                    "uses `{name}` as a whole value; only its fields (`{name}.field`) can be mirrored"
                ));
            };
            let default = defaulted_fields(name).iter().find(|(field, _)| *field == selection.field);
            let text = match (default, selection.optional) {
                (Some((field, default)), false) => format!("{source}.?{field}.orValue({default})"),
                (Some((field, default)), true) => format!("optional.of({source}.?{field}.orValue({default}))"),
                (None, false) => format!("{source}.{}", selection.field),
                (None, true) => format!("{source}.?{}", selection.field),
            };
            Ok((text, selection.end))
        }
        other => Err(format!("reads `{other}`, which Portal's translation does not know")),
    }
}

struct Selection {
    field: String,
    optional: bool,
    end: usize,
}

/// The field selected right after a variable: `.field` or `.?field` (whitespace allowed), and
/// where it ends. `None` when the variable is not followed by a selection.
fn selection_after(chars: &[char], mut at: usize) -> Option<Selection> {
    let skip_space = |at: &mut usize| {
        while chars.get(*at).is_some_and(|c| c.is_whitespace()) {
            *at += 1;
        }
    };
    skip_space(&mut at);
    if chars.get(at) != Some(&'.') {
        return None;
    }
    at += 1;
    let optional = chars.get(at) == Some(&'?');
    if optional {
        at += 1;
    }
    skip_space(&mut at);
    let start = at;
    while chars.get(at).is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_') {
        at += 1;
    }
    if at == start || chars[start].is_ascii_digit() {
        return None;
    }
    // `spec.volumes(…)` would be a method call, not a selection.
    let mut after = at;
    skip_space(&mut after);
    if chars.get(after) == Some(&'(') {
        return None;
    }
    Some(Selection { field: chars[start..at].iter().collect(), optional, end: at })
}

/// The validation: what the API server allows, the negation of the rule's violation.
pub(crate) fn validation(translated_rule: &str, per_container: bool) -> String {
    if per_container {
        format!("!variables.containers.exists(container, ({translated_rule}))")
    } else {
        format!("!({translated_rule})")
    }
}

/// A `messageExpression` for the validation. For a per-container rule, the message of each
/// violating container, joined.
pub(crate) fn message_expression(translated_rule: &str, translated_message: &str, per_container: bool) -> String {
    if per_container {
        format!(
            "variables.containers.filter(container, ({translated_rule})).map(container, string({translated_message})).join('; ')"
        )
    } else {
        format!("string({translated_message})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(name: &str, start: usize) -> VariableRead {
        VariableRead { name: name.to_owned(), start, end: start + name.chars().count() }
    }

    fn uses(reads: Vec<VariableRead>) -> ExpressionUses {
        ExpressionUses { variables: reads, ..ExpressionUses::default() }
    }

    #[test]
    fn sugar_fields_read_the_same_values_in_the_api_server() {
        let source = "spec.hostNetwork == true || spec.?priority.orValue(0) > 1 || spec .volumes.size() > 0";
        let starts = source.match_indices("spec").map(|(at, _)| read("spec", at)).collect();
        let translated = translate(source, &uses(starts));
        assert_eq!(
            translated.as_deref(),
            Ok("variables.podSpec.?hostNetwork.orValue(null) == true || variables.podSpec.?priority.orValue(0) > 1 \
                || variables.podSpec.?volumes.orValue([]).size() > 0")
        );
    }

    #[test]
    fn a_whole_sugar_value_or_an_unknown_function_is_refused() {
        let refused = translate("size(spec) > 3", &uses(vec![read("spec", 5)]));
        assert!(refused.is_err_and(|reason| reason.contains("uses `spec` as a whole value")));
        let mut with_function = uses(Vec::new());
        with_function.functions.insert("image.registry".to_owned());
        assert!(translate("x", &with_function).is_err_and(|reason| reason.contains("calls image.registry()")));
    }

    #[test]
    fn per_container_rules_become_a_comprehension() {
        assert_eq!(
            validation("container.securityContext.privileged == true", true),
            "!variables.containers.exists(container, (container.securityContext.privileged == true))"
        );
    }
}
