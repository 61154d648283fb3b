//! From rule results to report results: one report per object, one result per violation,
//! evaluation error or passing rule.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use portal_rules::{Effect, EvaluationError, ObjectIdentity, Outcome, RuleResult, Severity, Violation};
use serde::Serialize;

use crate::v1alpha2::{
    ClusterPolicyReport, PolicyReport, PolicyReportResult, PolicyReportSummary, PolicyResult, PolicyResultSeverity,
    Timestamp,
};

/// `source` of every result Portal writes.
pub const SOURCE: &str = "portal";
/// The result property that names the exception of a `skip` (`PortalException/ns/name`).
pub const EXCEPTION_PROPERTY: &str = "exception";
/// The label on every report Portal writes, with the value [`SOURCE`].
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// One rule's findings on one object, as a report needs them.
#[derive(Debug, Clone, Copy)]
pub struct RuleFindings<'a> {
    /// The rule's name: each result's `policy` and `rule`.
    pub rule: &'a str,
    /// The rule's severity: each result's `severity`.
    pub severity: Severity,
    /// What a violation does at admission: `deny` reports `fail`; anything else (warn, dryrun,
    /// audit-only) `warn`, since it blocks nothing.
    pub effect: Effect,
    /// The rule's outcome on the object; [`Outcome::Pass`] adds one `pass` result.
    pub outcome: Outcome,
    /// The violations: one `fail` or `warn` result each (see [`effect`](Self::effect)).
    pub violations: &'a [Violation],
    /// The errors of the evaluation: one `error` result each.
    pub errors: &'a [EvaluationError],
    /// The exception that exempted the object (`outcome` is then `skip`).
    pub exception: Option<&'a str>,
}

impl<'a> From<&'a RuleResult<'_>> for RuleFindings<'a> {
    fn from(result: &'a RuleResult<'_>) -> RuleFindings<'a> {
        RuleFindings {
            rule: result.rule.name(),
            severity: result.rule.spec().severity,
            effect: Effect::of_violation(result.rule.spec()),
            outcome: result.outcome(),
            violations: &result.violations,
            errors: &result.errors,
            exception: result.exception.as_deref(),
        }
    }
}

/// A report of either kind: namespaced objects get a `PolicyReport` in their namespace,
/// cluster-scoped ones a `ClusterPolicyReport`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Report {
    /// A `PolicyReport` (`Report` in `openreports.io`), in the namespace of the namespaced object it is on.
    Namespaced(PolicyReport),
    /// A `ClusterPolicyReport` (`ClusterReport` in `openreports.io`), on a cluster-scoped object.
    Cluster(ClusterPolicyReport),
}

/// The report's name: `portal-<kind>-<name>`, which stays a valid object name.
pub fn report_name(identity: &ObjectIdentity) -> String {
    // Objects named by generateName only end in '-', which no object name may.
    let object_name = identity.name.as_deref().unwrap_or("unnamed").trim_end_matches(['-', '.']);
    format!("portal-{}-{object_name}", identity.kind.to_lowercase())
}

/// The report on one object, scoped to it.
pub fn object_report<'a>(
    identity: &ObjectIdentity,
    findings: impl IntoIterator<Item = RuleFindings<'a>>,
    timestamp: Timestamp,
) -> Report {
    let mut summary = PolicyReportSummary::default();
    let mut results = Vec::new();
    for rule in findings {
        let result = |outcome: PolicyResult, message: &str, container: Option<&str>| PolicyReportResult {
            source: Some(SOURCE.to_owned()),
            policy: rule.rule.to_owned(),
            rule: Some(rule.rule.to_owned()),
            severity: Some(severity(rule.severity)),
            timestamp: Some(timestamp),
            result: Some(outcome),
            scored: Some(true),
            message: Some(message.to_owned()),
            properties: container.map(|c| BTreeMap::from([("container".to_owned(), c.to_owned())])).unwrap_or_default(),
            ..PolicyReportResult::default()
        };
        let violated = if rule.effect == Effect::Deny { PolicyResult::Fail } else { PolicyResult::Warn };
        for violation in rule.violations {
            count(&mut summary, violated);
            results.push(result(violated, &violation.message, violation.container.as_deref()));
        }
        for error in rule.errors {
            count(&mut summary, PolicyResult::Error);
            results.push(result(PolicyResult::Error, &error.message, error.container.as_deref()));
        }
        if rule.outcome == Outcome::Pass {
            count(&mut summary, PolicyResult::Pass);
            results.push(result(PolicyResult::Pass, "", None));
        }
        if let Some(exception) = rule.exception {
            count(&mut summary, PolicyResult::Skip);
            let mut skipped = result(PolicyResult::Skip, &format!("exempted by {exception}"), None);
            skipped.properties.insert(EXCEPTION_PROPERTY.to_owned(), exception.to_owned());
            results.push(skipped);
        }
    }
    let api_version = if identity.group.is_empty() {
        identity.version.clone()
    } else {
        format!("{}/{}", identity.group, identity.version)
    };
    let scope = ObjectReference {
        api_version: Some(api_version),
        kind: Some(identity.kind.clone()),
        name: identity.name.clone(),
        namespace: identity.namespace.clone(),
        uid: identity.uid.clone(),
        ..ObjectReference::default()
    };
    let metadata = ObjectMeta {
        name: Some(report_name(identity)),
        namespace: identity.namespace.clone(),
        labels: Some(BTreeMap::from([(MANAGED_BY_LABEL.to_owned(), SOURCE.to_owned())])),
        ..ObjectMeta::default()
    };
    match identity.namespace {
        Some(_) => {
            Report::Namespaced(PolicyReport { metadata, scope: Some(scope), scope_selector: None, summary, results })
        }
        None => Report::Cluster(ClusterPolicyReport {
            metadata,
            scope: Some(scope),
            scope_selector: None,
            summary,
            results,
        }),
    }
}

fn count(summary: &mut PolicyReportSummary, result: PolicyResult) {
    match result {
        PolicyResult::Pass => summary.pass += 1,
        PolicyResult::Fail => summary.fail += 1,
        PolicyResult::Warn => summary.warn += 1,
        PolicyResult::Error => summary.error += 1,
        PolicyResult::Skip => summary.skip += 1,
    }
}

fn severity(severity: Severity) -> PolicyResultSeverity {
    match severity {
        Severity::Info => PolicyResultSeverity::Info,
        Severity::Low => PolicyResultSeverity::Low,
        Severity::Medium => PolicyResultSeverity::Medium,
        Severity::High => PolicyResultSeverity::High,
        Severity::Critical => PolicyResultSeverity::Critical,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use portal_rules::{Activation, EvaluationInput, ModeFilter, RuleSet, load_rules};
    use serde_json::{Value as Json, json};

    use super::*;

    const RULES: &str = "\
name: no-privileged
severity: critical
match: {gvk: [{group: '', kind: Pod}]}
rule: container.securityContext.privileged == true
message: privileged
---
name: host-network
enforcementAction: warn
match: {gvk: [{group: '', kind: Pod}]}
rule: spec.hostNetwork == true
---
name: team-label
match: {gvk: [{group: '', kind: Pod}, {group: '', kind: Namespace}]}
severity: low
rule: object.metadata.labels.team == 'x'
---
name: always-fine
severity: info
match: {gvk: [{group: '', kind: Pod}, {group: '', kind: Namespace}]}
rule: 'false'
";

    fn report(object: &Json) -> Json {
        let (loaded, errors) = load_rules("t", RULES);
        assert!(errors.is_empty(), "{errors:?}");
        let (set, errors) = RuleSet::compile(loaded);
        assert!(errors.is_empty(), "{errors:?}");
        let activation = Activation::new(EvaluationInput { object: Some(object), ..Default::default() });
        let results = set.evaluate(&activation, ModeFilter::Any);
        let identity = ObjectIdentity::of(object);
        let timestamp = Timestamp { seconds: 1_795_845_135, nanos: 0 };
        serde_json::to_value(object_report(&identity, results.iter().map(RuleFindings::from), timestamp)).unwrap()
    }

    #[test]
    fn a_pod_gets_a_namespaced_report_with_one_result_per_container_and_rule() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "debug-shell", "namespace": "shop", "uid": "u-1", "labels": {}},
            "spec": {"hostNetwork": true, "containers": [
                {"name": "shell", "image": "x", "securityContext": {"privileged": true}},
                {"name": "ok", "image": "x"}]}});
        let report = report(&pod);
        assert_eq!(report["kind"], "PolicyReport");
        assert_eq!(report["apiVersion"], "wgpolicyk8s.io/v1alpha2");
        assert_eq!(
            report["metadata"],
            json!({"name": "portal-pod-debug-shell", "namespace": "shop",
                   "labels": {"app.kubernetes.io/managed-by": "portal"}})
        );
        assert_eq!(
            report["scope"],
            json!({"apiVersion": "v1", "kind": "Pod", "name": "debug-shell", "namespace": "shop", "uid": "u-1"})
        );
        assert_eq!(report["summary"], json!({"pass": 1, "fail": 1, "warn": 1, "error": 1, "skip": 0}));
        let results = report["results"].as_array().unwrap();
        let brief: Vec<(&str, &str, &Json)> = results
            .iter()
            .map(|r| (r["policy"].as_str().unwrap(), r["result"].as_str().unwrap(), &r["properties"]))
            .collect();
        assert_eq!(
            brief,
            [
                ("no-privileged", "fail", &json!({"container": "shell"})),
                ("host-network", "warn", &Json::Null),
                ("team-label", "error", &Json::Null),
                ("always-fine", "pass", &Json::Null),
            ]
        );
        assert_eq!(
            results[0],
            json!({"source": "portal", "policy": "no-privileged", "rule": "no-privileged", "severity": "critical",
                   "timestamp": {"seconds": 1_795_845_135, "nanos": 0}, "result": "fail", "scored": true,
                   "message": "privileged", "properties": {"container": "shell"}})
        );
        // It reads back as the typed resource.
        let typed: PolicyReport = serde_json::from_value(report).unwrap();
        assert_eq!(typed.results.len(), 4);
    }

    #[test]
    fn a_cluster_scoped_object_gets_a_cluster_report() {
        let namespace =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "y"}}});
        let report = report(&namespace);
        assert_eq!(report["kind"], "ClusterPolicyReport");
        assert_eq!(report["metadata"]["name"], "portal-namespace-shop");
        assert!(report["metadata"].get("namespace").is_none());
        assert_eq!(report["summary"], json!({"pass": 2, "fail": 0, "warn": 0, "error": 0, "skip": 0}));
        let _: ClusterPolicyReport = serde_json::from_value(report).unwrap();
    }

    #[test]
    fn names_of_generated_objects_stay_valid() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "job-", "namespace": "b"}});
        assert_eq!(report_name(&ObjectIdentity::of(&pod)), "portal-pod-job");
        let unnamed = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {}});
        assert_eq!(report_name(&ObjectIdentity::of(&unnamed)), "portal-pod-unnamed");
    }
}
