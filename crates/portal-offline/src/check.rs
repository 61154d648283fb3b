//! `portal check`: every enabled rule on every object, as a CREATE admission would see it.
//! Audit-only rules run too, and their findings are reported, but only what admission would
//! deny makes the check fail. What admission does with the results is
//! [`portal_rules::AdmissionVerdict`], the very function the webhook uses.

use std::collections::HashMap;
use std::path::PathBuf;

use portal_files::{Manifest, Problem};
use portal_rules::{
    Activation, AdmissionVerdict, Effect, EnforcementAction, EvaluationError, EvaluationInput, FailurePolicy, Mode,
    ModeFilter, ObjectIdentity, Operation, Origin, Outcome, RuleSet, Severity, Violation,
};
use serde::Serialize;
use serde_json::Value as Json;

/// What to check: rule files or folders, manifests, and the namespace of objects that name none.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub rules: Vec<PathBuf>,
    pub manifests: Vec<PathBuf>,
    /// As `kubectl apply -n` would put them.
    pub namespace: String,
}

/// Everything one `portal check` found.
#[derive(Debug)]
pub struct CheckRun {
    pub rules: RuleSet,
    pub reports: Vec<ObjectReport>,
    pub summary: Summary,
    /// Documents that are not Kubernetes objects: reported and skipped.
    pub skipped: Vec<Problem>,
    /// Bad input: unreadable files, invalid YAML, invalid rules.
    pub errors: Vec<Problem>,
}

impl CheckRun {
    /// Loads the rules and manifests and checks every object.
    pub fn run(options: &CheckOptions) -> CheckRun {
        let (loaded, mut errors) = portal_files::load_rule_paths(&options.rules);
        let (rules, compile_errors) = RuleSet::compile(loaded);
        errors.extend(compile_errors.iter().map(Problem::from_rules_error));
        let mut manifests = portal_files::load_manifest_paths(&options.manifests);
        portal_files::apply_default_namespace(&mut manifests, &options.namespace);
        errors.extend(manifests.errors);
        let reports = check(&rules, &manifests.objects);
        let summary = summarise(&rules, &reports);
        let mut skipped = manifests.skipped;
        // A check that checks nothing must not pass silently.
        if errors.is_empty() && rules.is_empty() {
            skipped.push(Problem::new(paths_of(&options.rules), "no rules found: nothing was checked".to_owned()));
        }
        if errors.is_empty() && reports.is_empty() {
            skipped.push(Problem::new(
                paths_of(&options.manifests),
                "no Kubernetes objects found: nothing was checked".to_owned(),
            ));
        }
        CheckRun { rules, reports, summary, skipped, errors }
    }
}

fn paths_of(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

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
    /// What a CREATE admission of the object would answer: its denials and warnings.
    pub admission: AdmissionVerdict,
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
    /// What each violation does at admission.
    #[serde(skip)]
    pub violation_effect: Effect,
    /// What each evaluation error does at admission.
    #[serde(skip)]
    pub error_effect: Effect,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<EvaluationError>,
}

impl RuleReport {
    /// What the rule does to the object at admission, or `audit` when it only runs in audit.
    pub fn action_label(&self) -> &'static str {
        match self.violation_effect {
            Effect::Deny => "deny",
            Effect::Warn => "warn",
            Effect::Dryrun => "dryrun",
            Effect::None => "audit",
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
            let evaluated = rules.evaluate(&activation, ModeFilter::Any);
            let admission = AdmissionVerdict::of(&evaluated);
            let results = evaluated
                .into_iter()
                .map(|result| {
                    let spec = result.rule.spec();
                    RuleReport {
                        rule: result.rule.name().to_owned(),
                        result: result.outcome(),
                        severity: spec.severity,
                        mode: spec.mode.clone(),
                        enforcement_action: spec.enforcement_action,
                        failure_policy: spec.failure_policy,
                        violation_effect: Effect::of_violation(spec),
                        error_effect: Effect::of_error(spec),
                        violations: result.violations,
                        errors: result.errors,
                    }
                })
                .collect();
            ObjectReport {
                source: manifest.origin.to_string(),
                origin: manifest.origin.clone(),
                resource: identity.display_name(),
                containers: activation.container_names().map(str::to_owned).collect(),
                identity,
                admission,
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
        match result.violation_effect {
            Effect::Deny => summary.deny += count,
            Effect::Warn => summary.warn += count,
            Effect::Dryrun => summary.dryrun += count,
            Effect::None => summary.audit += count,
        }
        summary.errors += result.errors.len();
        if result.error_effect == Effect::Deny {
            summary.fail_closed_errors += result.errors.len();
        }
    }
    summary
}
