//! Rendering check results for people (a table) and machines (JSON, YAML, PolicyReports).

use std::fmt::Write as _;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use portal_files::Problem;
use portal_report::{Report, RuleFindings, Timestamp};
use serde::Serialize;

use crate::check::{ObjectReport, Summary};
use crate::error::Error;

/// Output formats of `portal check`, named as `--output` names them (`policy-report`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputFormat {
    Table,
    Json,
    Yaml,
    PolicyReport,
}

/// Writes `portal check` results as they come, one object at a time, so that output of any
/// size never sits in memory whole. The table keeps only its rows (violations and errors): the
/// column widths depend on all of them.
///
/// Machine formats are one document: `{"objects": [...], "summary": ..., "skipped": [...],
/// "errors": [...]}` in JSON and YAML (the summary comes last, when it is known), a `v1` `List`
/// of PolicyReports (namespaced objects) and ClusterPolicyReports (cluster-scoped).
#[derive(Debug)]
pub struct Renderer<W: Write> {
    style: ObjectStyle,
    out: W,
    objects: usize,
    rows: Vec<[String; 6]>,
}

/// How one object's part of the output is rendered: on any thread, before it is written.
#[derive(Debug, Clone, Copy)]
pub struct ObjectStyle {
    format: OutputFormat,
    /// When the check ran: every PolicyReport has the same.
    timestamp: Timestamp,
}

/// One object's part of the output, ready to write.
#[derive(Debug)]
pub struct RenderedObject {
    text: String,
    rows: Vec<[String; 6]>,
}

impl ObjectStyle {
    /// Renders one object's report: its table rows, or its text in the machine format.
    pub fn render(&self, report: &ObjectReport) -> Result<RenderedObject, Error> {
        let text = match self.format {
            OutputFormat::Table => return Ok(RenderedObject { text: String::new(), rows: table_rows(report) }),
            OutputFormat::Json => json_text(report, "    ")?,
            OutputFormat::Yaml => yaml_item(&yaml_text(report, "yaml")?),
            OutputFormat::PolicyReport => {
                yaml_item(&yaml_text(&policy_report(report, self.timestamp), "policy-report")?)
            }
        };
        Ok(RenderedObject { text, rows: Vec::new() })
    }
}

impl<W: Write> Renderer<W> {
    pub fn new(format: OutputFormat, out: W) -> Renderer<W> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let timestamp = Timestamp { seconds: i64::try_from(now.as_secs()).unwrap_or(i64::MAX), nanos: 0 };
        Renderer { style: ObjectStyle { format, timestamp }, out, objects: 0, rows: Vec::new() }
    }

    /// How to render objects for this renderer.
    pub fn style(&self) -> ObjectStyle {
        self.style
    }

    /// Writes (or, for the table, keeps the rows of) one object, rendered by [`ObjectStyle::render`].
    pub fn object(&mut self, rendered: RenderedObject) -> Result<(), Error> {
        let first = self.objects == 0;
        self.objects += 1;
        let opening = match self.style.format {
            OutputFormat::Table => {
                self.rows.extend(rendered.rows);
                return Ok(());
            }
            OutputFormat::Json if first => "{\n  \"objects\": [\n    ",
            OutputFormat::Json => ",\n    ",
            OutputFormat::Yaml if first => "objects:\n",
            OutputFormat::PolicyReport if first => "apiVersion: v1\nkind: List\nitems:\n",
            OutputFormat::Yaml | OutputFormat::PolicyReport => "",
        };
        self.write(&[opening, &rendered.text])
    }

    /// Writes what follows the objects: the table, the summary, the problems.
    pub fn finish(mut self, summary: &Summary, skipped: &[Problem], errors: &[Problem]) -> Result<W, Error> {
        let empty = self.objects == 0;
        let text = match self.style.format {
            OutputFormat::Table => table(&self.rows, summary),
            OutputFormat::Json => {
                let mut text = String::from(if empty { "{\n  \"objects\": [],\n" } else { "\n  ],\n" });
                let _ = write!(text, "  \"summary\": {}", json_text(summary, "  ")?);
                for (key, problems) in [("skipped", skipped), ("errors", errors)] {
                    if !problems.is_empty() {
                        let _ = write!(text, ",\n  \"{key}\": {}", json_text(&problems, "  ")?);
                    }
                }
                text + "\n}\n"
            }
            OutputFormat::Yaml => {
                let mut text = String::from(if empty { "objects: []\n" } else { "" });
                text.push_str("summary:\n");
                text.push_str(&indented(&yaml_text(summary, "yaml")?, "  "));
                for (key, problems) in [("skipped", skipped), ("errors", errors)] {
                    if !problems.is_empty() {
                        let _ = writeln!(text, "{key}:");
                        text.push_str(&indented(&yaml_text(&problems, "yaml")?, "  "));
                    }
                }
                text
            }
            OutputFormat::PolicyReport if empty => "apiVersion: v1\nkind: List\nitems: []\n".to_owned(),
            OutputFormat::PolicyReport => String::new(),
        };
        self.write(&[&text])?;
        self.out.flush().map_err(Error::Write)?;
        Ok(self.out)
    }

    fn write(&mut self, pieces: &[&str]) -> Result<(), Error> {
        pieces.iter().try_for_each(|piece| self.out.write_all(piece.as_bytes())).map_err(Error::Write)
    }
}

/// Pretty JSON whose every line after the first starts with `indent`, to nest in a document.
pub(crate) fn json_text<T: Serialize + ?Sized>(value: &T, indent: &str) -> Result<String, Error> {
    let text = serde_json::to_string_pretty(value).map_err(Error::RenderJson)?;
    // JSON strings escape their newlines: every newline here is between tokens.
    Ok(text.replace('\n', &format!("\n{indent}")))
}

pub(crate) fn yaml_text<T: Serialize>(value: &T, format: &'static str) -> Result<String, Error> {
    serde_saphyr::to_string(value).map_err(|source| Error::RenderYaml { format, source })
}

/// A YAML document as an item of a block sequence: `- ` before its first line, its other lines
/// indented to match (a uniform indent keeps block scalars valid).
fn yaml_item(text: &str) -> String {
    let mut item = String::with_capacity(text.len() + text.len() / 8);
    for (index, line) in text.lines().enumerate() {
        item.push_str(if index == 0 {
            "- "
        } else if line.is_empty() {
            ""
        } else {
            "  "
        });
        item.push_str(line);
        item.push('\n');
    }
    item
}

/// Every line of a YAML document indented by `indent`, to nest it under a key.
fn indented(text: &str, indent: &str) -> String {
    text.lines().map(|line| if line.is_empty() { "\n".to_owned() } else { format!("{indent}{line}\n") }).collect()
}

/// The PolicyReport (or ClusterPolicyReport) of one object.
fn policy_report(report: &ObjectReport, timestamp: Timestamp) -> Report {
    let findings = report.results.iter().map(|rule| RuleFindings {
        rule: &rule.rule,
        severity: rule.severity,
        effect: rule.violation_effect,
        outcome: rule.result,
        violations: &rule.violations,
        errors: &rule.errors,
        exception: rule.exception.as_deref(),
    });
    portal_report::object_report(&report.identity, findings, timestamp)
}

/// The widest a table column gets (the message column excepted), in characters.
const MAX_CELL_CHARS: usize = 80;
/// The longest message shown in the table; `--output json` has it whole.
const MAX_MESSAGE_CHARS: usize = 1000;

/// `text` made safe for a terminal table: control characters escaped (a newline or an escape
/// sequence in a container name cannot forge lines or colours), and cut at `max` characters with
/// an ellipsis.
pub(crate) fn table_cell(text: &str, max: usize) -> String {
    // Most cells are short and plain: no need to look at them character by character.
    if text.len() <= max && !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    let mut cell = String::new();
    let mut count = 0;
    for c in text.chars() {
        let escaped = c.is_control().then(|| c.escape_default());
        let width = escaped.as_ref().map_or(1, ExactSizeIterator::len);
        if count + width > max {
            cell.push('…');
            return cell;
        }
        match escaped {
            Some(escaped) => cell.extend(escaped),
            None => cell.push(c),
        }
        count += width;
    }
    cell
}

/// One table row per violation and evaluation error of `report`, made safe to print.
fn table_rows(report: &ObjectReport) -> Vec<[String; 6]> {
    let mut rows = Vec::new();
    for result in &report.results {
        let severity = format!("{:?}", result.severity).to_lowercase();
        let violations = result.violations.iter().map(|v| (result.action_label(), &v.container, &v.message));
        let errors = result.errors.iter().map(|e| ("error", &e.container, &e.message));
        let exempted = result.exception.as_ref().map(|exception| format!("exempted by {exception}"));
        let skips = exempted.iter().map(|message| ("skip", &None, message));
        for (action, container, message) in violations.chain(errors).chain(skips) {
            // Cells come from the manifests and rules: escape them before measuring them.
            rows.push([
                table_cell(&report.resource, MAX_CELL_CHARS),
                table_cell(&result.rule, MAX_CELL_CHARS),
                action.to_owned(),
                severity.clone(),
                table_cell(container.as_deref().unwrap_or_default(), MAX_CELL_CHARS),
                table_cell(message, MAX_MESSAGE_CHARS),
            ]);
        }
    }
    rows
}

/// The rows in columns, then a summary line.
/// `rows` under `header`, each column as wide as its widest cell, the last one unpadded.
pub(crate) fn aligned<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut text = String::new();
    let header = header.map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (index, (cell, width)) in row.iter().zip(widths).enumerate() {
            if index + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ");
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

fn table(rows: &[[String; 6]], s: &Summary) -> String {
    let mut text = String::new();
    if !rows.is_empty() {
        text = aligned(["RESOURCE", "RULE", "ACTION", "SEVERITY", "CONTAINER", "MESSAGE"], rows);
        text.push('\n');
    }
    let _ = write!(
        text,
        "{} objects checked against {} rules: {} deny, {} warn, {} dryrun, {} audit-only violations; {} evaluation errors",
        s.objects, s.rules, s.deny, s.warn, s.dryrun, s.audit, s.errors
    );
    if s.fail_closed_errors > 0 {
        let _ = write!(text, " ({} in failurePolicy: Fail rules, which admission denies)", s.fail_closed_errors);
    }
    if s.exempted > 0 {
        let _ = write!(text, "; {} rules not evaluated on an object an exception exempts", s.exempted);
    }
    if s.objects == 0 || s.rules == 0 {
        text.push_str(" — nothing was checked");
    }
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_cells_are_escaped_and_cut() {
        assert_eq!(table_cell("web", 10), "web");
        assert_eq!(table_cell("a\nb\u{1b}[31m", 80), "a\\nb\\u{1b}[31m");
        let long = "x".repeat(70_000);
        let cell = table_cell(&long, MAX_CELL_CHARS);
        assert_eq!(cell.chars().count(), MAX_CELL_CHARS + 1);
        assert!(cell.ends_with('…'));
    }
}
