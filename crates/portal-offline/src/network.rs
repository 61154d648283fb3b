//! `portal network analyze` and `portal network explain` offline: Pods, Namespaces and
//! NetworkPolicies read from manifests or a `kubectl get -o yaml` dump, and the rendering of
//! findings and verdicts.

use std::fmt::Write as _;
use std::path::PathBuf;

use portal_files::{ManifestFiles, ManifestItem, Problem};
use portal_network::{DirectionVerdict, Explanation, Finding, Inventory, Objects, Reach};
use serde::Serialize;

use crate::error::Error;
use crate::output::{OutputFormat, aligned, json_text, table_cell, yaml_text};

/// Longest message shown in a table cell.
const MAX_MESSAGE_CHARS: usize = 400;

/// What [`load_network`] read.
#[derive(Debug, Default)]
pub struct NetworkInput {
    pub inventory: Inventory,
    /// Unreadable input, and objects Kubernetes would refuse (left out).
    pub errors: Vec<Problem>,
    /// Documents that are not Kubernetes objects, passed over.
    pub skipped: Vec<Problem>,
}

/// The Pods, Namespaces and NetworkPolicies of `paths` (objects that name no namespace go in
/// `namespace`); other kinds are passed over. Each object Kubernetes would refuse is an error
/// at its file and document, and is left out.
pub fn load_network(paths: &[PathBuf], namespace: &str) -> NetworkInput {
    let files = ManifestFiles::read(paths);
    let documents = files.documents();
    let mut objects = Objects::default();
    let mut read = 0;
    let (mut problems, mut skipped) = (Vec::new(), Vec::new());
    let mut take = |item| match item {
        ManifestItem::Object(manifest) => match objects.add_json(&manifest.object) {
            Ok(ours) => read += usize::from(ours),
            Err(error) => problems.push(Problem::new(manifest.origin.to_string(), error.to_string())),
        },
        ManifestItem::Skipped(problem) => skipped.push(problem),
        ManifestItem::Error(problem) => problems.push(problem),
    };
    documents.problems().for_each(&mut take);
    for unit in documents.units() {
        unit.expand(namespace, &mut take);
    }
    if problems.is_empty() && read == 0 {
        let listed: Vec<String> = paths.iter().map(|path| path.display().to_string()).collect();
        problems.push(Problem::new(listed.join(", "), "no Pods, Namespaces or NetworkPolicies found".to_owned()));
    }
    NetworkInput { inventory: Inventory::new(objects), errors: problems, skipped }
}

#[derive(Serialize)]
struct FindingsDocument<'a> {
    findings: &'a [Finding],
    #[serde(skip_serializing_if = "<[Problem]>::is_empty")]
    errors: &'a [Problem],
}

/// The findings as a table (one row each, then a count by severity) or a `findings:` document.
pub fn render_findings(findings: &[Finding], errors: &[Problem], format: OutputFormat) -> Result<String, Error> {
    match format {
        OutputFormat::Json => Ok(json_text(&FindingsDocument { findings, errors }, "")? + "\n"),
        OutputFormat::Yaml | OutputFormat::PolicyReport => yaml_text(&FindingsDocument { findings, errors }, "yaml"),
        OutputFormat::Table => {
            let rows: Vec<[String; 4]> = findings
                .iter()
                .map(|finding| {
                    let object = finding.subject.to_string();
                    [
                        finding.severity.as_str().to_owned(),
                        finding.check.name().to_owned(),
                        table_cell(&object, MAX_MESSAGE_CHARS),
                        table_cell(&finding.message, MAX_MESSAGE_CHARS),
                    ]
                })
                .collect();
            let mut text = String::new();
            if !rows.is_empty() {
                text = aligned(["SEVERITY", "CHECK", "OBJECT", "MESSAGE"], &rows) + "\n";
            }
            let mut by_severity = std::collections::BTreeMap::new();
            for finding in findings {
                *by_severity.entry(std::cmp::Reverse(finding.severity)).or_insert(0usize) += 1;
            }
            let counts: Vec<String> =
                by_severity.iter().map(|(severity, count)| format!("{count} {}", severity.0.as_str())).collect();
            let _ = write!(text, "{} findings", findings.len());
            if !counts.is_empty() {
                let _ = write!(text, " ({})", counts.join(", "));
            }
            text.push('\n');
            Ok(text)
        }
    }
}

/// The verdict, then each direction with the policies and rules that decide it.
pub fn render_explanation(explanation: &Explanation, format: OutputFormat) -> Result<String, Error> {
    match format {
        OutputFormat::Json => Ok(json_text(explanation, "")? + "\n"),
        OutputFormat::Yaml | OutputFormat::PolicyReport => yaml_text(explanation, "yaml"),
        OutputFormat::Table => {
            let on = explanation
                .port
                .as_deref()
                .map(|port| format!(" on {port}"))
                .unwrap_or_else(|| " (any port)".to_owned());
            let mut text =
                format!("{} → {}{on}: {}\n", explanation.from, explanation.to, verdict_word(explanation.verdict));
            for direction in [&explanation.egress, &explanation.ingress].into_iter().flatten() {
                text.push_str(&describe_direction(direction));
            }
            if explanation.egress.is_none() {
                text.push_str(
                    "  egress: the source is an address outside the Pod network; no NetworkPolicy applies to it\n",
                );
            }
            if explanation.ingress.is_none() {
                text.push_str(
                    "  ingress: the destination is an address outside the Pod network; no NetworkPolicy applies to it\n",
                );
            }
            Ok(text)
        }
    }
}

fn verdict_word(reach: Reach) -> &'static str {
    match reach {
        Reach::Allowed => "ALLOWED",
        Reach::Partly => "ALLOWED ON SOME PORTS",
        Reach::Denied => "DENIED",
    }
}

fn describe_direction(verdict: &DirectionVerdict) -> String {
    let mut text =
        format!("  {} of {}: {}", verdict.direction, verdict.pod, verdict_word(verdict.verdict).to_lowercase());
    if verdict.isolated_by.is_empty() {
        let _ = writeln!(
            text,
            " — no NetworkPolicy selects it for {}, so all {} is allowed",
            verdict.direction, verdict.direction
        );
        return text;
    }
    let _ = writeln!(text, " — isolated by {}", verdict.isolated_by.join(", "));
    if verdict.allowed_by.is_empty() {
        let _ = writeln!(text, "    no rule of these policies allows this traffic");
    }
    for rule in &verdict.allowed_by {
        let ports = if rule.ports.is_empty() { String::new() } else { format!(" on {}", rule.ports.join(", ")) };
        let _ = writeln!(text, "    allowed by {} {}{ports}", rule.policy, rule.rule);
    }
    text
}
