//! Kyverno `validate.pattern` overlays as CEL: the expression that is `true` where the object
//! matches the pattern. The subset with an exact meaning is translated — nested maps, the
//! equality `=()` and negation `X()` anchors, lists whose every element must match, wildcards,
//! `!`, `|` and numeric comparisons; anything else is refused with the reason.

use serde_json::Value as Json;

/// How deep a pattern may nest before it is refused: a pattern is untrusted input.
const MAX_DEPTH: usize = 32;

/// The CEL expression that holds where `value` (a CEL expression) matches `pattern`.
pub fn matches(value: &str, pattern: &Json) -> Result<String, String> {
    matches_at(value, pattern, 0, 0)
}

fn matches_at(value: &str, pattern: &Json, depth: usize, loops: usize) -> Result<String, String> {
    if depth > MAX_DEPTH {
        return Err(format!("the pattern nests deeper than {MAX_DEPTH} levels"));
    }
    match pattern {
        Json::Object(fields) => {
            let mut clauses = Vec::new();
            for (key, field_pattern) in fields {
                clauses.push(field(value, key, field_pattern, depth, loops)?);
            }
            Ok(if clauses.is_empty() { "true".to_owned() } else { clauses.join(" && ") })
        }
        Json::Array(elements) => match elements.as_slice() {
            [Json::Array(_)] => {
                Err("a list of lists in the pattern is matched by position in Kyverno; not translated".to_owned())
            }
            [element] => {
                let variable = format!("e{loops}");
                let inner = matches_at(&variable, element, depth + 1, loops + 1)?;
                // A map (or anything else) where the pattern has a list does not match.
                Ok(format!("type({value}) == list && {value}.all({variable}, {inner})"))
            }
            _ => Err("a list in the pattern must have exactly one element, which every element must match".to_owned()),
        },
        Json::String(text) => string_pattern(value, text),
        Json::Bool(flag) => Ok(format!("{value} == {flag}")),
        Json::Number(number) => Ok(format!("{value} == {number}")),
        Json::Null => Ok(format!("{value} == null")),
    }
}

/// One field of a map pattern, with its anchor.
fn field(value: &str, key: &str, pattern: &Json, depth: usize, loops: usize) -> Result<String, String> {
    let (anchor, name) = match key.split_once('(') {
        Some((anchor @ ("=" | "X" | "" | "^" | "?" | "<" | "+"), rest)) if rest.ends_with(')') => {
            (Some(anchor), &rest[..rest.len() - 1])
        }
        _ => (None, key),
    };
    if name.contains(['*', '?']) {
        return Err(format!(
            "the key {name:?} has wildcards, which Kyverno expands over the object's keys; not translated"
        ));
    }
    let (present, selected) = select(value, name);
    let inner = || matches_at(&selected, pattern, depth + 1, loops);
    match anchor {
        None => Ok(format!("{present} && {}", parenthesised(&inner()?))),
        Some("=") => Ok(format!("(!{present} || {})", parenthesised(&inner()?))),
        Some("X") => Ok(format!("!{present}")),
        Some(other) => Err(format!(
            "the anchor {other}({name}) has no exact translation (only =() and X() are translated): {}",
            match other {
                "" => "a conditional anchor makes the rest of the pattern apply only where it matches",
                "^" | "?" => "an existence anchor needs one matching element, not all",
                "<" => "a global anchor skips the whole rule",
                _ => "it belongs to mutation",
            }
        )),
    }
}

/// (`key` is present in `value`, the field selected).
fn select(value: &str, key: &str) -> (String, String) {
    let plain = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain {
        (format!("has({value}.{key})"), format!("{value}.{key}"))
    } else {
        let quoted = quote(key);
        (format!("({quoted} in {value})"), format!("{value}[{quoted}]"))
    }
}

fn string_pattern(value: &str, text: &str) -> Result<String, String> {
    if text.contains('&') {
        return Err(format!("{text:?} combines conditions with &, which is not translated"));
    }
    if text.contains('|') {
        let alternatives: Result<Vec<String>, String> =
            text.split('|').map(|alternative| single_pattern(value, alternative.trim())).collect();
        return Ok(format!("({})", alternatives?.join(" || ")));
    }
    single_pattern(value, text)
}

/// One alternative: `!` once (Kyverno negates the wildcard or literal after it), a comparison,
/// a wildcard or a literal.
fn single_pattern(value: &str, text: &str) -> Result<String, String> {
    let is_range = |t: &str| {
        t.split_once('-').is_some_and(|(low, high)| {
            let low = low.trim_end_matches('!');
            !low.is_empty() && !high.is_empty() && low.parse::<f64>().is_ok() && high.parse::<f64>().is_ok()
        })
    };
    if is_range(text) {
        return Err(format!("{text:?} is a range, which is not translated"));
    }
    if let Some(rest) = text.strip_prefix('!') {
        if rest.starts_with(['!', '>', '<']) {
            return Err(format!("{text:?} negates something other than a value or a wildcard; not translated"));
        }
        return Ok(format!("!{}", parenthesised(&plain_pattern(value, rest))));
    }
    for operator in [">=", "<=", ">", "<"] {
        if let Some(rest) = text.strip_prefix(operator) {
            let number: f64 = rest.trim().parse().map_err(|_| {
                format!("{text:?} compares with something that is not a plain number (quantities and durations are not translated)")
            })?;
            return Ok(format!("double({value}) {operator} {}", display_double(number)));
        }
    }
    Ok(plain_pattern(value, text))
}

/// A wildcard or a literal.
fn plain_pattern(value: &str, text: &str) -> String {
    match text {
        "*" => "true".to_owned(),
        "?*" => format!("string({value}) != ''"),
        _ if text.contains(['*', '?']) => format!("string({value}).matches({})", quote(&glob_regex(text))),
        _ => format!("string({value}) == {}", quote(text)),
    }
}

fn display_double(number: f64) -> String {
    if number.fract() == 0.0 && number.abs() < 1e15 { format!("{number:.1}") } else { number.to_string() }
}

/// Kyverno's wildcards (`*` any run, `?` one character) as an anchored regular expression.
fn glob_regex(glob: &str) -> String {
    // `(?s)`: a wildcard matches newlines too, as Kyverno's does.
    let mut regex = String::from("(?s)^");
    for c in glob.chars() {
        match c {
            '*' => regex.push_str(".*"),
            '?' => regex.push('.'),
            c if "\\.+()[]{}^$|".contains(c) => {
                regex.push('\\');
                regex.push(c);
            }
            c => regex.push(c),
        }
    }
    regex.push('$');
    regex
}

/// A CEL string literal.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn parenthesised(expression: &str) -> String {
    if expression.contains(' ') { format!("({expression})") } else { expression.to_owned() }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_anchors_lists_and_scalars() {
        assert_eq!(
            matches("spec", &json!({"hostNetwork": "false"})).unwrap(),
            "has(spec.hostNetwork) && (string(spec.hostNetwork) == 'false')"
        );
        assert_eq!(
            matches("spec", &json!({"=(hostPID)": false})).unwrap(),
            "(!has(spec.hostPID) || (spec.hostPID == false))"
        );
        assert_eq!(matches("spec", &json!({"X(hostIPC)": "null"})).unwrap(), "!has(spec.hostIPC)");
        assert_eq!(
            matches("spec", &json!({"containers": [{"image": "registry.example.com/*"}]})).unwrap(),
            "has(spec.containers) && (type(spec.containers) == list && spec.containers.all(e0, has(e0.image) && string(e0.image).matches('(?s)^registry\\\\.example\\\\.com/.*$')))"
        );
        assert_eq!(
            matches("object.metadata", &json!({"labels": {"app.kubernetes.io/name": "?*"}})).unwrap(),
            "has(object.metadata.labels) && (('app.kubernetes.io/name' in object.metadata.labels) && (string(object.metadata.labels['app.kubernetes.io/name']) != ''))"
        );
        assert_eq!(matches("x", &json!(">=2")).unwrap(), "double(x) >= 2.0");
        assert_eq!(matches("x", &json!("a | b")).unwrap(), "(string(x) == 'a' || string(x) == 'b')");
        assert_eq!(matches("x", &json!("!root")).unwrap(), "!(string(x) == 'root')");
    }

    #[test]
    fn what_has_no_exact_meaning_is_refused() {
        assert!(matches("spec", &json!({"(name)": "x", "a": 1})).unwrap_err().contains("conditional anchor"));
        assert!(matches("spec", &json!({"^(containers)": [{}]})).unwrap_err().contains("existence anchor"));
        assert!(matches("x", &json!("<=1Gi")).unwrap_err().contains("not a plain number"));
        assert!(matches("x", &json!([1, 2])).unwrap_err().contains("exactly one element"));
        assert!(matches("x", &json!([[1]])).unwrap_err().contains("by position"));
        assert!(matches("o", &json!({"X(fluxcd.io/*)": "*"})).unwrap_err().contains("wildcards"));
        assert!(matches("x", &json!("!default & !kube-system")).unwrap_err().contains("&"));
        assert!(matches("x", &json!("1-10")).unwrap_err().contains("range"));
        assert!(matches("x", &json!("0!-1023")).unwrap_err().contains("range"));
        assert!(matches("x", &json!("!!x")).unwrap_err().contains("negates"));
        let deep = "!".repeat(100_000) + "x";
        assert!(matches("x", &json!(deep)).is_err(), "no recursion on repeated !");
        let mut deep = json!("x");
        for _ in 0..40 {
            deep = json!({"a": deep});
        }
        assert!(matches("o", &deep).unwrap_err().contains("deeper than 32"));
    }
}
