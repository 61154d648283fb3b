//! serde-saphyr's YAML errors as one located line (ADR 0002): the line and column, and the
//! message without the source snippet serde-saphyr prints, its repeated location, or advice
//! about its own API that a user cannot act on. Rule files, manifests and the configuration
//! file all report YAML errors through it, so they read alike.

#![warn(missing_docs)]

/// A YAML error, located within the text that was parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// 1-based line within the parsed text, when serde-saphyr knows it.
    pub line: Option<usize>,
    /// 1-based column, with `line`.
    pub column: Option<usize>,
    /// What is wrong, one line, without the location.
    pub message: String,
}

impl YamlError {
    /// Describes `error`.
    pub fn of(error: &serde_saphyr::Error) -> YamlError {
        let text = error.without_snippet().to_string();
        let first_line = text.lines().next().unwrap_or_default();
        let message = first_line.trim_start_matches("error: ");
        // Drop the "line L column C: " prefix; the location is reported separately.
        let message = match message.split_once(": ") {
            Some((prefix, rest)) if prefix.starts_with("line ") => rest,
            _ => message,
        };
        // …and the same location repeated as a suffix.
        let message = match message.rfind(" at line ") {
            Some(at) if message[at + 9..].chars().next().is_some_and(|c| c.is_ascii_digit()) => &message[..at],
            _ => message,
        };
        let message = message
            .trim_end_matches(", set DuplicateKeyPolicy in Options if acceptable")
            .replace("duplicate mapping key", "duplicate key");
        let message = budget_message(&message).unwrap_or(message);
        let location = error.location();
        YamlError {
            line: location.map(|l| usize::try_from(l.line()).unwrap_or(usize::MAX).max(1)),
            column: location.map(|l| usize::try_from(l.column()).unwrap_or(usize::MAX)),
            message,
        }
    }

    /// `column C: message`, or the message alone without a location, for use after a
    /// `file:line: ` prefix.
    pub fn with_column(&self) -> String {
        match self.column {
            Some(column) => format!("column {column}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

/// serde-saphyr's budget errors (`budget breached: Depth { depth: 129 }`) in words: which
/// limit, and what to do.
fn budget_message(message: &str) -> Option<String> {
    let breach = message.strip_prefix("budget breached: ")?;
    let number = breach.split(|c: char| !c.is_ascii_digit()).find(|part| !part.is_empty()).unwrap_or("?");
    let what = breach.split([' ', '{']).next().unwrap_or(breach);
    Some(match what {
        "Depth" => format!("nested {number} levels deep, past the limit on nesting; flatten the document"),
        "Nodes" | "Events" => {
            format!("more than {number} values in one document, past the limit on a document's size; split it")
        }
        "Aliases" | "Anchors" | "AliasAnchorRatio" => {
            "too many YAML aliases (a YAML bomb?), past the limit on aliases; expand them".to_owned()
        }
        _ => format!("past a limit on YAML documents ({breach}); split the document"),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> YamlError {
        YamlError::of(&serde_saphyr::from_str::<std::collections::BTreeMap<String, u32>>(text).unwrap_err())
    }

    #[test]
    fn the_message_is_one_line_with_the_location_apart() {
        let error = error_of("a: 1\nb: [\n");
        assert!(error.line.is_some() && error.column.is_some(), "{error:?}");
        assert!(!error.message.contains('\n') && !error.message.starts_with("line "), "{error:?}");
        assert!(!error.message.contains(" at line "), "{error:?}");
        assert!(error.with_column().starts_with("column "), "{error:?}");
    }

    #[test]
    fn budget_breaches_name_the_limit() {
        assert_eq!(
            budget_message("budget breached: Depth { depth: 129 }").unwrap(),
            "nested 129 levels deep, past the limit on nesting; flatten the document"
        );
        assert!(budget_message("budget breached: Nodes { nodes: 250001 }").unwrap().contains("250001 values"));
        assert_eq!(budget_message("invalid type"), None);
    }

    #[test]
    fn duplicate_keys_are_named_plainly() {
        let error = error_of("a: 1\na: 2\n");
        assert_eq!(error.line, Some(2), "{error:?}");
        assert!(error.message.contains("duplicate key"), "{error:?}");
        assert!(!error.message.contains("DuplicateKeyPolicy"), "{error:?}");
    }
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
