//! Multi-document YAML (and JSON) text into JSON documents that remember where they start.

use serde_json::Value as Json;

use crate::error::{Error, Origin};

/// One non-empty document of a YAML stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The source it was read from and the 1-based line its content starts on.
    pub origin: Origin,
    /// Its content, never `null` (null documents are dropped).
    pub value: Json,
}

/// How deep documents may nest: serde_json's own limit, which the webhook's AdmissionReview
/// parsing has too, so a manifest `portal check` accepts is one the webhook accepts.
pub const MAX_DEPTH: usize = 128;

/// The YAML budget of one document: sized for a whole cluster's `kubectl get -A -o yaml`
/// (hundreds of thousands of objects) yet bounded, against YAML bombs.
fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.max_nodes = 50_000_000;
    budget.max_events = 100_000_000;
    budget.max_total_scalar_bytes = 256 * 1024 * 1024;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

/// Splits `text` into its documents. Empty documents (only comments, or `---` alone) are dropped.
/// `source` names the text in errors (a path, or `-` for stdin). A text that is one JSON value
/// (`kubectl get -o json`) is read as JSON, much faster than through the YAML parser.
pub fn parse_documents(source: &str, text: &str) -> Result<Vec<Document>, Error> {
    let trimmed = text.trim_start();
    if trimmed.starts_with(['{', '[']) {
        // Flow-style YAML also starts this way: when it is not JSON, the YAML parser decides.
        if let Ok(value) = serde_json::from_str::<Json>(text) {
            let first_line = text[..text.len() - trimmed.len()].matches('\n').count() + 1;
            let documents = match value {
                Json::Null => Vec::new(),
                value => vec![Document { origin: Origin::new(source, Some(first_line)), value }],
            };
            return Ok(documents);
        }
    }
    let mut documents = Vec::new();
    for (start_line, chunk) in split_documents(text) {
        if chunk.trim().is_empty() {
            continue;
        }
        let value: Json = serde_saphyr::from_str_with_options(chunk, yaml_options())
            .map_err(|error| yaml_error(source, start_line, &error))?;
        if value.is_null() {
            continue;
        }
        documents.push(Document { origin: Origin::new(source, Some(first_content_line(chunk, start_line))), value });
    }
    Ok(documents)
}

/// Splits on document markers, keeping each chunk's first line number (1-based).
/// Splitting ourselves keeps line numbers exact and lets one bad document name its own line.
///
/// A chunk starts *at* its `---` line, so content written on that line (`--- {a: 1}`) stays
/// with its document, and directives (`%YAML 1.2`) before the first marker stay with the
/// document they introduce. `...` ends a document and is left out.
fn split_documents(text: &str) -> Vec<(usize, &str)> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let content = line.trim_end_matches(['\n', '\r']);
        if content == "---" || content.starts_with("--- ") || content.starts_with("---\t") {
            let previous = &text[start..offset];
            // Directives and comments alone are the header of the document this marker starts.
            if !is_header_only(previous) {
                chunks.push((start_line, previous));
                start = offset;
                start_line = index + 1;
            }
        } else if content == "..." || content.starts_with("... ") {
            chunks.push((start_line, &text[start..offset]));
            start = offset + line.len();
            start_line = index + 2;
        }
        offset += line.len();
    }
    chunks.push((start_line, &text[start..]));
    chunks
}

/// Only blank lines, comments and directives: no document has started yet.
fn is_header_only(chunk: &str) -> bool {
    chunk.lines().all(|line| {
        let trimmed = line.trim();
        trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('%')
    })
}

/// The line a document's content starts on: past blank lines, comments, directives and a bare
/// `---`.
fn first_content_line(chunk: &str, start_line: usize) -> usize {
    chunk
        .lines()
        .position(|line| {
            let trimmed = line.trim();
            !(trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('%') || trimmed == "---")
        })
        .map_or(start_line, |index| start_line + index)
}

/// One line: the file line (serde-saphyr counts from the chunk), the column, and the message.
fn yaml_error(source: &str, start_line: usize, error: &serde_saphyr::Error) -> Error {
    let error = portal_yaml::YamlError::of(error);
    let line = start_line + error.line.map_or(0, |line| line - 1);
    Error::ParseDocument { origin: Origin::new(source, Some(line)), message: error.with_column() }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_start_lines() {
        let text = "# leading comment\na: 1\n---\n\n# only a comment\n---\nb: 2\n...\n";
        let docs = parse_documents("f.yaml", text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].origin.to_string(), "f.yaml:2");
        assert_eq!(docs[1].origin.to_string(), "f.yaml:7");
        assert_eq!(docs[1].value, serde_json::json!({"b": 2}));
    }

    #[test]
    fn content_on_the_marker_line_and_directives_are_kept() {
        let docs = parse_documents("f.yaml", "--- {kind: Pod}\n--- {kind: Service}\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].value, serde_json::json!({"kind": "Pod"}));
        assert_eq!(docs[1].origin.to_string(), "f.yaml:2");
        let docs = parse_documents("f.yaml", "%YAML 1.2\n---\na: 1\n---\nb: 2\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].origin.to_string(), "f.yaml:3");
        assert_eq!(docs[1].origin.to_string(), "f.yaml:5");
    }

    #[test]
    fn json_is_accepted() {
        let docs = parse_documents("f.json", r#"{"kind": "Pod", "spec": {"replicas": 3}}"#).unwrap();
        assert_eq!(docs[0].value["spec"]["replicas"], serde_json::json!(3));
    }

    #[test]
    fn yaml_errors_name_the_file_and_document_line() {
        let error = parse_documents("bad.yaml", "a: 1\n---\nb: [1, 2\n").unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with("bad.yaml:3: not valid YAML or JSON: column "), "{text}");
        assert!(!text.contains('\n'), "one line: {text}");
    }
}
