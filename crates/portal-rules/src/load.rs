//! Rule documents (flat rule files or `PortalClusterRule`/`PortalRule` resources) into
//! validated [`RuleSpec`]s.

use serde_json::Value as Json;

use crate::document::{Document, parse_documents};
use crate::error::{Error, Origin};
use crate::schema::RuleSpec;

/// A validated rule and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedRule {
    /// The rule's name: its `name`, or else the resource's `metadata.name`.
    pub name: String,
    /// The validated rule, `name` filled in from `metadata.name` when it had none.
    pub spec: RuleSpec,
    /// Where the rule came from: the source and the line its document starts on.
    pub origin: Origin,
    /// Set for a namespaced `PortalRule`: the rule applies only inside this namespace.
    pub namespace: Option<String>,
}

const API_GROUP_PREFIX: &str = "portal.io/";

/// Parses every rule in a YAML stream. A bad document does not hide the good ones: their
/// errors are returned beside them.
pub fn load_rules(source: &str, text: &str) -> (Vec<LoadedRule>, Vec<Error>) {
    match parse_documents(source, text) {
        Ok(documents) => {
            let mut rules = Vec::new();
            let mut errors = Vec::new();
            for document in &documents {
                match rule_from_document(document) {
                    Ok(rule) => rules.push(rule),
                    Err(error) => errors.push(error),
                }
            }
            (rules, errors)
        }
        Err(error) => (Vec::new(), vec![error]),
    }
}

/// Reads one document as a rule: either a `PortalClusterRule`/`PortalRule` resource (the rule is
/// its `spec`) or a flat rule with the fields at top level.
pub fn rule_from_document(document: &Document) -> Result<LoadedRule, Error> {
    let origin = document.origin.clone();
    let Json::Object(fields) = &document.value else {
        return Err(Error::InvalidField {
            origin,
            path: "(document)".into(),
            message: "a rule must be a mapping of fields such as name, match and rule".into(),
        });
    };
    let kind = fields.get("kind").and_then(Json::as_str);
    let metadata = fields.get("metadata");
    let metadata_text = |key: &str| metadata.and_then(|m| m.get(key)).and_then(Json::as_str).map(str::to_owned);
    if let Some(api_version) = fields.get("apiVersion").and_then(Json::as_str)
        && !api_version.starts_with(API_GROUP_PREFIX)
    {
        return Err(Error::InvalidField {
            origin,
            path: "apiVersion".into(),
            message: format!(
                "{api_version:?} is not a Portal rule (expected portal.io/v1alpha1 or no apiVersion); \
                     is this a manifest passed where rules were expected?"
            ),
        });
    }
    let (body, prefix, namespace) = match kind {
        Some("PortalClusterRule" | "PortalRule") => {
            let spec = fields.get("spec").cloned().ok_or_else(|| Error::InvalidField {
                origin: origin.clone(),
                path: "spec".into(),
                message: format!("is required for a {}", kind.unwrap_or_default()),
            })?;
            let namespace = if kind == Some("PortalRule") {
                Some(metadata_text("namespace").unwrap_or_else(|| "default".to_owned()))
            } else {
                None
            };
            (spec, "spec.", namespace)
        }
        Some(other) => {
            return Err(Error::InvalidField {
                origin,
                path: "kind".into(),
                message: format!(
                    "{other:?} is not a rule kind: use PortalClusterRule or PortalRule, or omit kind in a rules folder"
                ),
            });
        }
        None => {
            let mut flat = fields.clone();
            for key in ["apiVersion", "kind", "metadata"] {
                flat.remove(key);
            }
            (Json::Object(flat), "", None)
        }
    };
    let mut spec: RuleSpec = serde_path_to_error::deserialize(body).map_err(|error| {
        let path = error.path().to_string();
        Error::InvalidField {
            origin: origin.clone(),
            path: match (path.as_str(), prefix.strip_suffix('.')) {
                (".", Some(field)) => field.to_owned(),
                (".", None) => "(top level)".to_owned(),
                _ => format!("{prefix}{path}"),
            },
            message: plain_types(&error.into_inner().to_string()),
        }
    })?;
    if spec.name.is_none() {
        spec.name = metadata_text("name");
    }
    // The actions' problems come from their own module (SPEC §8), after the other fields'.
    let action_problems = crate::actions::rule_actions(&spec).1.into_iter().filter(|found| found.path != "alert");
    if let Some(problem) = spec.validate().into_iter().chain(action_problems).next() {
        return Err(Error::InvalidField {
            origin,
            path: format!("{prefix}{}", problem.path),
            message: problem.message,
        });
    }
    let name = spec.name.clone().unwrap_or_default();
    Ok(LoadedRule { name, spec, origin, namespace })
}

/// serde's messages name Rust types (`expected struct RuleSpec`); say what the YAML should be.
fn plain_types(message: &str) -> String {
    const TYPES: &[(&str, &str)] = &[
        ("struct RuleSpec", "a mapping of rule fields (name, match, rule, ...)"),
        ("struct MatchSpec", "a mapping with gvk, namespaces, namespaceSelector, objectSelector, operations, ..."),
        ("struct GroupVersionKind", "a mapping with group, version and kind"),
        ("struct LabelSelector", "a label selector (matchLabels, matchExpressions)"),
        ("struct NamespaceFilter", "a mapping with include and exclude lists"),
        ("struct ActionSpec", "an action (a mapping with type and its parameters)"),
    ];
    let mut message = message.to_owned();
    for (rust, yaml) in TYPES {
        message = message.replace(rust, yaml);
    }
    message
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn error_of(text: &str) -> String {
        let (rules, errors) = load_rules("rules.yaml", text);
        assert!(rules.is_empty(), "expected no rule from {text}");
        errors[0].to_string()
    }

    const GOOD: &str = "name: no-host-network\nmatch:\n  gvk: [{group: \"\", version: v1, kind: Pod}]\nrule: spec.hostNetwork == true\n";

    #[test]
    fn flat_rule_gets_defaults() {
        let (rules, errors) = load_rules("rules.yaml", GOOD);
        assert!(errors.is_empty(), "{errors:?}");
        let rule = &rules[0];
        assert_eq!(rule.name, "no-host-network");
        assert!(rule.spec.enabled);
        assert_eq!(rule.spec.severity, crate::Severity::Medium);
        assert_eq!(rule.spec.mode, vec![crate::Mode::Admission, crate::Mode::Audit]);
        assert_eq!(rule.spec.enforcement_action, crate::EnforcementAction::Deny);
        assert_eq!(rule.spec.failure_policy, crate::FailurePolicy::Ignore);
        assert_eq!(rule.spec.match_spec.gvk[0].version, "v1");
        assert_eq!(rule.origin.to_string(), "rules.yaml:1");
    }

    #[test]
    fn resource_form_takes_name_and_namespace_from_metadata() {
        let text = "apiVersion: portal.io/v1alpha1\nkind: PortalRule\nmetadata: {name: team-rule, namespace: team-a}\nspec:\n  match: {gvk: [{group: apps, kind: Deployment}]}\n  rule: 'true'\n";
        let (rules, errors) = load_rules("r.yaml", text);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rules[0].name, "team-rule");
        assert_eq!(rules[0].namespace.as_deref(), Some("team-a"));
        assert_eq!(rules[0].spec.match_spec.gvk[0].version, "*");
    }

    #[test]
    fn unknown_fields_are_named_with_their_path() {
        let text = format!("{GOOD}sevrity: high\n");
        let message = error_of(&text);
        assert!(message.contains("unknown field `sevrity`"), "{message}");
        assert!(message.starts_with("rules.yaml:1: field `"), "{message}");
        let nested = GOOD.replace("kind: Pod}", "kind: Pod, kindd: x}");
        let message = error_of(&nested);
        assert!(message.contains("field `match.gvk[0]"), "{message}");
        assert!(message.contains("unknown field `kindd`"), "{message}");
    }

    #[test]
    fn wrong_enum_values_list_what_is_allowed() {
        let message = error_of(&format!("{GOOD}enforcementAction: block\n"));
        assert!(message.contains("field `enforcementAction`"), "{message}");
        assert!(message.contains("`deny`, `warn`, `dryrun`"), "{message}");
        let message = error_of(&format!("{GOOD}severity: urgent\n"));
        assert!(message.contains("`info`, `low`, `medium`, `high`, `critical`"), "{message}");
    }

    #[test]
    fn semantic_problems_are_reported_with_their_path() {
        let message = error_of("name: x\nmatch: {gvk: []}\nrule: 'true'\n");
        assert!(message.contains("field `match.gvk`: must list at least one"), "{message}");
        let message = error_of("match: {gvk: [{group: '', kind: Pod}]}\nrule: 'true'\n");
        assert!(message.contains("field `name`: is required"), "{message}");
        let message = error_of("name: Bad_Name\nmatch: {gvk: [{group: '', kind: Pod}]}\nrule: 'true'\n");
        assert!(message.contains("not a valid rule name"), "{message}");
        let message = error_of(
            "name: x\nmatch:\n  gvk: [{group: '', kind: Pod}]\n  objectSelector: {matchExpressions: [{key: a, operator: In}]}\nrule: 'true'\n",
        );
        assert!(message.contains("match.objectSelector.matchExpressions[0].values"), "{message}");
        let message = error_of(&format!("{GOOD}actions: [{{type: label, labels: {{a: b}}, rateLimit: fast}}]\n"));
        assert!(message.contains("actions[0].rateLimit"), "{message}");
        let message =
            error_of("name: x\nmatch: {gvk: [{group: '', kind: Pod}], subresources: [Status]}\nrule: 'true'\n");
        assert!(message.contains("match.subresources[0]") && message.contains("lowercase"), "{message}");
        let message =
            error_of("apiVersion: portal.io/v1alpha1\nkind: PortalClusterRule\nmetadata: {name: x}\nspec: 5\n");
        assert!(message.contains("expected a mapping of rule fields") && !message.contains("struct"), "{message}");
        let message = error_of(&format!("{GOOD}exclude: {{terminating: true}}\n"));
        assert!(message.contains("exclude.terminating") && message.contains("only allowed in match"), "{message}");
    }

    #[test]
    fn manifests_are_not_rules() {
        let message = error_of("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n");
        assert!(message.contains("field `apiVersion`"), "{message}");
        assert!(message.contains("is not a Portal rule"), "{message}");
    }

    #[test]
    fn one_bad_document_keeps_the_others() {
        let text = format!("{GOOD}---\nname: broken\n");
        let (rules, errors) = load_rules("r.yaml", &text);
        assert_eq!(rules.len(), 1);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].to_string().starts_with("r.yaml:6:"), "{}", errors[0]);
    }
}
