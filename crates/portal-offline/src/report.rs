//! PolicyReport (`wgpolicyk8s.io/v1alpha2`) rendering of check results: one report per
//! resource, one result per (rule, container), as the audit loop will write them.

use std::time::{SystemTime, UNIX_EPOCH};

use portal_rules::{Outcome, Severity};
use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::check::ObjectReport;

const SOURCE: &str = "portal";

#[derive(Debug, Default, Serialize)]
struct ReportSummary {
    pass: usize,
    fail: usize,
    warn: usize,
    error: usize,
    skip: usize,
}

/// A `v1/List` of PolicyReports (namespaced objects) and ClusterPolicyReports (cluster-scoped).
pub fn policy_reports(reports: &[ObjectReport]) -> Json {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let timestamp = json!({"seconds": now.as_secs(), "nanos": 0});
    let items: Vec<Json> = reports.iter().map(|report| policy_report(report, &timestamp)).collect();
    json!({"apiVersion": "v1", "kind": "List", "items": items})
}

fn policy_report(report: &ObjectReport, timestamp: &Json) -> Json {
    let identity = &report.identity;
    let mut summary = ReportSummary::default();
    let mut results = Vec::new();
    for rule in &report.results {
        let base = |result: &str, message: &str, container: Option<&str>| {
            let mut entry = json!({
                "source": SOURCE,
                "policy": rule.rule,
                "rule": rule.rule,
                "result": result,
                "severity": severity(rule.severity),
                "message": message,
                "scored": true,
                "timestamp": timestamp,
            });
            if let Some(container) = container {
                entry["properties"] = json!({"container": container});
            }
            entry
        };
        // A warn/dryrun or audit-only rule reports `warn`: it would not block admission.
        let fail_label = if rule.action_label() == "deny" { "fail" } else { "warn" };
        for violation in &rule.violations {
            if fail_label == "fail" {
                summary.fail += 1;
            } else {
                summary.warn += 1;
            }
            results.push(base(fail_label, &violation.message, violation.container.as_deref()));
        }
        for error in &rule.errors {
            summary.error += 1;
            results.push(base("error", &error.message, error.container.as_deref()));
        }
        if rule.result == Outcome::Pass {
            summary.pass += 1;
            results.push(base("pass", "", None));
        }
    }
    let api_version = if identity.group.is_empty() {
        identity.version.clone()
    } else {
        format!("{}/{}", identity.group, identity.version)
    };
    let mut scope = json!({"apiVersion": api_version, "kind": identity.kind, "name": identity.name});
    if let Some(uid) = &identity.uid {
        scope["uid"] = json!(uid);
    }
    // Objects named by generateName only end in '-', which no object name may.
    let object_name = identity.name.as_deref().unwrap_or("unnamed").trim_end_matches(['-', '.']);
    let name = format!("portal-{}-{object_name}", identity.kind.to_lowercase());
    let mut metadata = json!({"name": name, "labels": {"app.kubernetes.io/managed-by": "portal"}});
    let kind = match &identity.namespace {
        Some(namespace) => {
            metadata["namespace"] = json!(namespace);
            scope["namespace"] = json!(namespace);
            "PolicyReport"
        }
        None => "ClusterPolicyReport",
    };
    json!({
        "apiVersion": "wgpolicyk8s.io/v1alpha2",
        "kind": kind,
        "metadata": metadata,
        "scope": scope,
        "summary": summary,
        "results": results,
    })
}

fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "info",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}
