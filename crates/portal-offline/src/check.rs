//! `portal check`: every enabled rule on every object, as a CREATE admission would see it.

use std::collections::HashMap;

use portal_rules::{
    Activation, EnforcementAction, EvaluationError, EvaluationInput, FailurePolicy, ModeFilter, ObjectIdentity,
    Operation, Origin, Outcome, RuleSet, Violation,
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
    pub results: Vec<RuleReport>,
}

/// One matching rule's verdict on one object.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleReport {
    pub rule: String,
    pub result: Outcome,
    pub severity: portal_rules::Severity,
    pub enforcement_action: EnforcementAction,
    #[serde(skip)]
    pub failure_policy: FailurePolicy,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<EvaluationError>,
}

/// Totals over a check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub objects: usize,
    pub rules: usize,
    pub deny: usize,
    pub warn: usize,
    pub dryrun: usize,
    pub errors: usize,
    /// Evaluation errors of `failurePolicy: Fail` deny rules: admission would deny these too.
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
                identity,
                results,
            }
        })
        .collect()
}

/// Counts violations by enforcement action, and evaluation errors.
pub fn summarise(rules: &RuleSet, reports: &[ObjectReport]) -> Summary {
    let mut summary = Summary { objects: reports.len(), rules: rules.len(), ..Summary::default() };
    for result in reports.iter().flat_map(|r| &r.results) {
        let count = result.violations.len();
        match result.enforcement_action {
            EnforcementAction::Deny => summary.deny += count,
            EnforcementAction::Warn => summary.warn += count,
            EnforcementAction::Dryrun => summary.dryrun += count,
        }
        summary.errors += result.errors.len();
        if result.failure_policy == FailurePolicy::Fail && result.enforcement_action == EnforcementAction::Deny {
            summary.fail_closed_errors += result.errors.len();
        }
    }
    summary
}
