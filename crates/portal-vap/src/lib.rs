//! Portal rules mirrored as Kubernetes `ValidatingAdmissionPolicy` and
//! `ValidatingAdmissionPolicyBinding` objects (`admissionregistration.k8s.io/v1`), so that the
//! API server itself keeps enforcing them while every Portal replica is down.
//!
//! A rule is exported only when the API server decides exactly as Portal does: its expression
//! only calls functions Kubernetes' CEL has (Kubernetes 1.36 and later), Portal's pod sugar is
//! rebuilt as the policy's `variables`, its `match`/`exclude` become `matchConstraints` and
//! `matchConditions`. Every other rule is listed with the reason ([`Export::refused`]).
//!
//! [`import`] does the reverse: policies and bindings in, Portal rules out.
//!
//! Pure: rules in, JSON objects out.

mod admission_scope;
mod expression;
mod functions;
mod import;
mod labels;
mod matching;
mod sugar;

use portal_rules::kinds::{SYSTEM_NAMESPACES, is_protected};
use portal_rules::{CompiledRule, EnforcementAction, FailurePolicy, Mode, RuleSet};
use serde_json::{Value as Json, json};

use crate::admission_scope::{excluded_selector, not_bypassed};

pub use import::{Import, compiles, import};

pub use labels::{MANAGED_BY, MANAGED_BY_LABEL, RULE_LABEL};

/// How to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Namespaces never enforced in, as Portal's `admission.excludedNamespaces` (Portal's own
    /// namespace among them).
    pub excluded_namespaces: Vec<String>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions { excluded_namespaces: SYSTEM_NAMESPACES.iter().map(|ns| (*ns).to_owned()).collect() }
    }
}

/// What exporting a rule set gave.
#[derive(Debug, Default)]
pub struct Export {
    /// A policy and its binding per exported rule, in the rules' order.
    pub objects: Vec<Json>,
    /// The rules exported, with what they do not cover (e.g. `scale` requests).
    pub exported: Vec<(String, Vec<String>)>,
    /// The rules not exported, and why.
    pub refused: Vec<(String, String)>,
}

/// The first line of the YAML output.
pub const HEADER: &str = "# Rendered by `portal export vap`: ValidatingAdmissionPolicies mirroring Portal rules.\n";

impl Export {
    /// The objects as a YAML stream, after [`HEADER`].
    pub fn to_yaml(&self) -> Result<String, serde_saphyr::ser_error::Error> {
        let mut text = String::from(HEADER);
        for object in &self.objects {
            text.push_str("---\n");
            text.push_str(&serde_saphyr::to_string(object)?);
        }
        Ok(text)
    }

    /// The objects as a `v1` `List`.
    pub fn to_json(&self) -> String {
        let list = json!({"apiVersion": "v1", "kind": "List", "items": self.objects});
        serde_json::to_string_pretty(&list).unwrap_or_default() + "\n"
    }
}

/// Exports every enabled admission rule of `rules` that can be mirrored exactly.
pub fn export(rules: &RuleSet, options: &ExportOptions) -> Export {
    let mut export = Export::default();
    for rule in rules.rules() {
        let spec = rule.spec();
        if !spec.enabled || !spec.mode.contains(&Mode::Admission) {
            continue;
        }
        match export_rule(rule, options) {
            Ok((policy, binding, notes)) => {
                export.objects.push(policy);
                export.objects.push(binding);
                export.exported.push((rule.name().to_owned(), notes));
            }
            Err(reason) => export.refused.push((rule.name().to_owned(), reason)),
        }
    }
    export
}

fn export_rule(rule: &CompiledRule, options: &ExportOptions) -> Result<(Json, Json, Vec<String>), String> {
    let spec = rule.spec();
    if !rule.lookups().is_empty() {
        return Err("reads the cluster (cluster.get/cluster.list), which an admission policy cannot".to_owned());
    }
    if rule.namespace().is_some() {
        return Err("is a PortalRule, confined to its namespace; export PortalClusterRules".to_owned());
    }
    for (field, source) in [("rule", Some(&spec.rule)), ("messageExpression", spec.message_expression.as_ref())] {
        if source.is_some_and(|source| source.contains("cel.bind")) {
            return Err(format!("its {field} uses cel.bind, which Kubernetes' CEL environment does not have"));
        }
    }
    if let Some((field, line, column, message)) = rule.strict_literal_error() {
        return Err(format!(
            "its {field} (line {line}, column {column}): {message}; Kubernetes checks literals so where objects \
             have no schema, and would refuse the policy"
        ));
    }
    let name = policy_name(rule.name())?;
    let matching = matching::matching(&spec.match_spec, spec.exclude.as_ref(), &is_protected)?;
    let uses = rule.rule_uses();
    let translated = expression::translate(&spec.rule, &uses)?;
    let mut notes = matching.notes;
    // A scale request changes only the replicas: it matters to rules that read them.
    if uses.fields.contains("replicas") && !matching.scalable_kinds.is_empty() {
        notes.push(format!(
            "`scale` requests on {} are not mirrored (Portal evaluates them as an UPDATE of the scaled object)",
            matching.scalable_kinds.join(", ")
        ));
    }
    let per_container = rule.is_per_container();
    let mut validation = json!({"expression": expression::validation(&translated, per_container)});
    match (&spec.message_expression, rule.message_uses()) {
        (Some(source), Some(uses)) => {
            let message =
                expression::translate(source, &uses).map_err(|reason| format!("its messageExpression {reason}"))?;
            validation["messageExpression"] =
                json!(expression::message_expression(&translated, &message, per_container));
            if let Some(message) = &spec.message {
                validation["message"] = json!(message);
            }
        }
        _ => {
            validation["message"] =
                json!(spec.message.clone().unwrap_or_else(|| format!("violates rule {}", rule.name())))
        }
    }
    let labels = json!({MANAGED_BY_LABEL: MANAGED_BY, RULE_LABEL: rule.name()});
    let mut conditions = vec![("not-bypassed".to_owned(), not_bypassed())];
    if spec.match_spec.gvk.iter().any(|gvk| gvk.group == "*") {
        conditions.push(("not-protected".to_owned(), portal_rules::kinds::protected_condition()));
    }
    conditions.extend(matching.conditions);
    let policy = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": labels, "annotations": {"portal.io/rule-origin": rule.origin().to_string()}},
        "spec": {
            "failurePolicy": match spec.failure_policy { FailurePolicy::Fail => "Fail", FailurePolicy::Ignore => "Ignore" },
            "matchConstraints": matching.constraints,
            "matchConditions": conditions.iter().map(|(name, expression)| json!({"name": name, "expression": expression})).collect::<Vec<_>>(),
            "variables": sugar::variables().into_iter().map(|(name, expression)| json!({"name": name, "expression": expression})).collect::<Vec<_>>(),
            "validations": [validation],
        },
    });
    let binding = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "policyName": name,
            "validationActions": [match spec.enforcement_action {
                EnforcementAction::Deny => "Deny",
                EnforcementAction::Warn => "Warn",
                EnforcementAction::Dryrun => "Audit",
            }],
            "matchResources": {"namespaceSelector": excluded_selector(&options.excluded_namespaces)},
        },
    });
    Ok((policy, binding, notes))
}

/// The policy's (and binding's) name: `portal-<rule>`, when that is a valid object name.
fn policy_name(rule: &str) -> Result<String, String> {
    let name = format!("portal-{rule}");
    let valid = name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if valid { Ok(name) } else { Err(format!("its name makes {name:?}, which is not a valid object name")) }
}
