//! Rendering check results for people (a table) and machines (JSON, YAML, PolicyReports).

use std::fmt::Write as _;

use std::time::{SystemTime, UNIX_EPOCH};

use portal_files::Problem;
use portal_report::{Report, RuleFindings, Timestamp};
use serde::Serialize;

use crate::check::{CheckRun, ObjectReport, Summary};
use crate::error::Error;

/// Output formats of `portal check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
    Yaml,
    PolicyReport,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MachineOutput<'a> {
    summary: &'a Summary,
    objects: &'a [ObjectReport],
    #[serde(skip_serializing_if = "<[Problem]>::is_empty")]
    skipped: &'a [Problem],
    #[serde(skip_serializing_if = "<[Problem]>::is_empty")]
    errors: &'a [Problem],
}

/// Everything a check produced, for rendering.
#[derive(Debug, Clone, Copy)]
pub struct CheckOutput<'a> {
    pub reports: &'a [ObjectReport],
    pub summary: &'a Summary,
    pub skipped: &'a [Problem],
    pub errors: &'a [Problem],
}

impl<'a> From<&'a CheckRun> for CheckOutput<'a> {
    fn from(run: &'a CheckRun) -> CheckOutput<'a> {
        CheckOutput { reports: &run.reports, summary: &run.summary, skipped: &run.skipped, errors: &run.errors }
    }
}

/// A `v1` `List` of PolicyReports (namespaced objects) and ClusterPolicyReports (cluster-scoped).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportList {
    api_version: &'static str,
    kind: &'static str,
    items: Vec<Report>,
}

fn policy_reports(reports: &[ObjectReport]) -> ReportList {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let timestamp = Timestamp { seconds: i64::try_from(now.as_secs()).unwrap_or(i64::MAX), nanos: 0 };
    let items = reports
        .iter()
        .map(|report| {
            let findings = report.results.iter().map(|rule| RuleFindings {
                rule: &rule.rule,
                severity: rule.severity,
                effect: rule.violation_effect,
                outcome: rule.result,
                violations: &rule.violations,
                errors: &rule.errors,
            });
            portal_report::object_report(&report.identity, findings, timestamp)
        })
        .collect();
    ReportList { api_version: "v1", kind: "List", items }
}

/// Renders the check results in `format`.
pub fn render(output: CheckOutput<'_>, format: OutputFormat) -> Result<String, Error> {
    let machine = MachineOutput {
        summary: output.summary,
        objects: output.reports,
        skipped: output.skipped,
        errors: output.errors,
    };
    match format {
        OutputFormat::Table => Ok(table(output)),
        OutputFormat::Json => serde_json::to_string_pretty(&machine).map(|text| text + "\n").map_err(Error::RenderJson),
        OutputFormat::Yaml => {
            serde_saphyr::to_string(&machine).map_err(|source| Error::RenderYaml { format: "yaml", source })
        }
        OutputFormat::PolicyReport => serde_saphyr::to_string(&policy_reports(output.reports))
            .map_err(|source| Error::RenderYaml { format: "policy-report", source }),
    }
}

/// The widest a table column gets (the message column excepted), in characters.
const MAX_CELL_CHARS: usize = 80;
/// The longest message shown in the table; `--output json` has it whole.
const MAX_MESSAGE_CHARS: usize = 1000;

/// `text` made safe for a terminal table: control characters escaped (a newline or an escape
/// sequence in a container name cannot forge lines or colours), and cut at `max` characters with
/// an ellipsis.
fn table_cell(text: &str, max: usize) -> String {
    let mut cell = String::new();
    let mut count = 0;
    for c in text.chars() {
        let piece: String = if c.is_control() { c.escape_default().collect() } else { c.to_string() };
        let width = piece.chars().count();
        if count + width > max {
            cell.push('…');
            return cell;
        }
        cell.push_str(&piece);
        count += width;
    }
    cell
}

/// Violations and evaluation errors, one row each, in columns; then a summary line.
fn table(output: CheckOutput<'_>) -> String {
    let mut rows: Vec<[String; 6]> = Vec::new();
    for report in output.reports {
        for result in &report.results {
            for violation in &result.violations {
                rows.push([
                    report.resource.clone(),
                    result.rule.clone(),
                    result.action_label().to_owned(),
                    format!("{:?}", result.severity).to_lowercase(),
                    violation.container.clone().unwrap_or_default(),
                    violation.message.clone(),
                ]);
            }
            for error in &result.errors {
                rows.push([
                    report.resource.clone(),
                    result.rule.clone(),
                    "error".to_owned(),
                    format!("{:?}", result.severity).to_lowercase(),
                    error.container.clone().unwrap_or_default(),
                    error.message.clone(),
                ]);
            }
        }
    }
    // Cells come from the manifests and rules: make them safe to print before measuring them.
    let rows: Vec<[String; 6]> = rows
        .into_iter()
        .map(|row| {
            let mut index = 0;
            row.map(|cell| {
                index += 1;
                table_cell(&cell, if index == 6 { MAX_MESSAGE_CHARS } else { MAX_CELL_CHARS })
            })
        })
        .collect();
    let mut text = String::new();
    if !rows.is_empty() {
        let header = ["RESOURCE", "RULE", "ACTION", "SEVERITY", "CONTAINER", "MESSAGE"].map(str::to_owned);
        let mut widths = header.clone().map(|h| h.len());
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        for row in std::iter::once(&header).chain(&rows) {
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
        text.push('\n');
    }
    let s = output.summary;
    let _ = write!(
        text,
        "{} objects checked against {} rules: {} deny, {} warn, {} dryrun, {} audit-only violations; {} evaluation errors",
        s.objects, s.rules, s.deny, s.warn, s.dryrun, s.audit, s.errors
    );
    if s.fail_closed_errors > 0 {
        let _ = write!(text, " ({} in failurePolicy: Fail rules, which admission denies)", s.fail_closed_errors);
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
