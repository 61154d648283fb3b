//! `portal check`: every enabled rule on every object, as a CREATE admission would see it.
//! Audit-only rules run too, and their findings are reported, but only what admission would
//! deny makes the check fail.

use std::collections::HashMap;

use portal_rules::{
    Activation, EnforcementAction, EvaluationError, EvaluationInput, FailurePolicy, Mode, ModeFilter, ObjectIdentity,
    Operation, Origin, Outcome, RuleSet, Severity, Violation,
};
use serde::Serialize;
use serde_json::Value as Json;

use crate::input::Manifest;

/// The results of one object.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReport {
    pub source: String,
    #[serde(skip)]
    pub origin: Origin,
    #[serde(skip)]
    pub identity: ObjectIdentity,
    pub resource: String,
    /// Names of the object's containers (pod sugar), for test expectations.
    #[serde(skip)]
    pub containers: Vec<String>,
    pub results: Vec<RuleReport>,
}

/// One matching rule's verdict on one object.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleReport {
    pub rule: String,
    pub result: Outcome,
    pub severity: Severity,
    pub mode: Vec<Mode>,
    pub enforcement_action: EnforcementAction,
    pub failure_policy: FailurePolicy,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<EvaluationError>,
}

impl RuleReport {
    /// Whether the rule runs at admission at all.
    pub fn at_admission(&self) -> bool {
        self.mode.contains(&Mode::Admission)
    }

    /// What the rule does to the object at admission, or `audit` when it only runs in audit.
    pub fn action_label(&self) -> &'static str {
        if !self.at_admission() {
            return "audit";
        }
        match self.enforcement_action {
            EnforcementAction::Deny => "deny",
            EnforcementAction::Warn => "warn",
            EnforcementAction::Dryrun => "dryrun",
        }
    }
}

/// Totals over a check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub objects: usize,
    pub rules: usize,
    /// Violations admission would deny.
    pub deny: usize,
    pub warn: usize,
    pub dryrun: usize,
    /// Violations of rules that only run in audit: reported, never denied.
    pub audit: usize,
    pub errors: usize,
    /// Evaluation errors of `failurePolicy: Fail` deny rules: admission denies these too.
    pub fail_closed_errors: usize,
}

impl Summary {
    /// Whether admission would have denied at least one object.
    pub fn denies(&self) -> bool {
        self.deny > 0 || self.fail_closed_errors > 0
    }
}

/// Evaluates every enabled rule of `rules` on every manifest, as a CREATE admission. Namespace
/// objects among the manifests serve as `namespaceObject` for objects in them.
pub fn check(rules: &RuleSet, manifests: &[Manifest]) -> Vec<ObjectReport> {
    let namespaces: HashMap<&str, &Json> = manifests
        .iter()
        .filter(|m| m.object.get("kind").and_then(Json::as_str) == Some("Namespace"))
        .filter_map(|m| Some((m.object.get("metadata")?.get("name")?.as_str()?, &m.object)))
        .collect();
    manifests
        .iter()
        .map(|manifest| {
            let identity = ObjectIdentity::of(&manifest.object);
            let namespace_object = identity.namespace.as_deref().and_then(|ns| namespaces.get(ns).copied());
            let activation = Activation::new(EvaluationInput {
                object: Some(&manifest.object),
                namespace_object,
                operation: Some(Operation::Create),
                ..Default::default()
            });
            let results = rules
                .evaluate(&activation, ModeFilter::Any)
                .into_iter()
                .map(|result| RuleReport {
                    rule: result.rule.name().to_owned(),
                    result: result.outcome(),
                    severity: result.rule.spec().severity,
                    mode: result.rule.spec().mode.clone(),
                    enforcement_action: result.rule.spec().enforcement_action,
                    failure_policy: result.rule.spec().failure_policy,
                    violations: result.violations,
                    errors: result.errors,
                })
                .collect();
            ObjectReport {
                source: manifest.origin.to_string(),
                origin: manifest.origin.clone(),
                resource: identity.display_name(),
                containers: activation.container_names().map(str::to_owned).collect(),
                identity,
                results,
            }
        })
        .collect()
}

/// Counts violations by what admission would do with them, and evaluation errors.
pub fn summarise(rules: &RuleSet, reports: &[ObjectReport]) -> Summary {
    let mut summary = Summary { objects: reports.len(), rules: rules.len(), ..Summary::default() };
    for result in reports.iter().flat_map(|r| &r.results) {
        let count = result.violations.len();
        match (result.at_admission(), result.enforcement_action) {
            (false, _) => summary.audit += count,
            (true, EnforcementAction::Deny) => summary.deny += count,
            (true, EnforcementAction::Warn) => summary.warn += count,
            (true, EnforcementAction::Dryrun) => summary.dryrun += count,
        }
        summary.errors += result.errors.len();
        if result.at_admission()
            && result.failure_policy == FailurePolicy::Fail
            && result.enforcement_action == EnforcementAction::Deny
        {
            summary.fail_closed_errors += result.errors.len();
        }
    }
    summary
}
