//! Label selectors as Kubernetes evaluates them (`metav1.LabelSelectorAsSelector`): every
//! `matchLabels` pair and every `matchExpressions` requirement must hold; an empty selector
//! selects everything.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{FieldPath, ModelError};

/// The labels of a Pod or Namespace.
pub type Labels = BTreeMap<String, String>;

/// A validated label selector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    labels: Vec<(String, String)>,
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

impl Selector {
    /// The selector that selects everything (`{}`).
    pub fn everything() -> Selector {
        Selector::default()
    }

    /// A selector of exactly these labels (`matchLabels`).
    pub fn of_labels(labels: impl IntoIterator<Item = (String, String)>) -> Selector {
        Selector { labels: labels.into_iter().collect(), requirements: Vec::new() }
    }

    /// `true` for `{}`: no pair and no requirement.
    pub fn selects_everything(&self) -> bool {
        self.labels.is_empty() && self.requirements.is_empty()
    }

    /// Whether `labels` have every `matchLabels` pair and meet every `matchExpressions` requirement.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.labels.iter().all(|(key, value)| labels.get(key) == Some(value))
            && self.requirements.iter().all(|requirement| requirement.matches(labels))
    }
}

impl Requirement {
    fn matches(&self, labels: &Labels) -> bool {
        match self {
            Requirement::In(key, values) => labels.get(key).is_some_and(|value| values.contains(value)),
            // As in Kubernetes: an object without the key is not in the set, so NotIn holds.
            Requirement::NotIn(key, values) => labels.get(key).is_none_or(|value| !values.contains(value)),
            Requirement::Exists(key) => labels.contains_key(key),
            Requirement::DoesNotExist(key) => !labels.contains_key(key),
        }
    }
}

impl std::fmt::Display for Selector {
    /// The `kubectl get -l` form: `app=web,tier in (a,b),!legacy`; `{}` when empty.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.selects_everything() {
            return f.write_str("{}");
        }
        let mut parts: Vec<String> = self.labels.iter().map(|(key, value)| format!("{key}={value}")).collect();
        parts.extend(self.requirements.iter().map(|requirement| match requirement {
            Requirement::In(key, values) => format!("{key} in ({})", values.join(",")),
            Requirement::NotIn(key, values) => format!("{key} notin ({})", values.join(",")),
            Requirement::Exists(key) => key.clone(),
            Requirement::DoesNotExist(key) => format!("!{key}"),
        }));
        f.write_str(&parts.join(","))
    }
}

/// A selector as written in a manifest.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawSelector {
    #[serde(default)]
    match_labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    match_expressions: Option<Vec<RawRequirement>>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RawRequirement {
    key: String,
    operator: String,
    #[serde(default)]
    values: Option<Vec<String>>,
}

impl RawSelector {
    pub(crate) fn validate(self, path: &FieldPath) -> Result<Selector, ModelError> {
        let labels = self.match_labels.unwrap_or_default().into_iter().collect();
        let mut requirements = Vec::new();
        for (index, raw) in self.match_expressions.unwrap_or_default().into_iter().enumerate() {
            let at = path.field("matchExpressions").index(index);
            let values = raw.values.unwrap_or_default();
            let requirement = match raw.operator.as_str() {
                "In" | "NotIn" if values.is_empty() => {
                    return Err(ModelError::invalid(
                        at.field("values"),
                        format!("operator {} needs at least one value", raw.operator),
                    ));
                }
                "Exists" | "DoesNotExist" if !values.is_empty() => {
                    return Err(ModelError::invalid(
                        at.field("values"),
                        format!("operator {} takes no values; remove them", raw.operator),
                    ));
                }
                "In" => Requirement::In(raw.key, values),
                "NotIn" => Requirement::NotIn(raw.key, values),
                "Exists" => Requirement::Exists(raw.key),
                "DoesNotExist" => Requirement::DoesNotExist(raw.key),
                other => {
                    return Err(ModelError::invalid(
                        at.field("operator"),
                        format!("unknown operator {other:?}; use In, NotIn, Exists or DoesNotExist"),
                    ));
                }
            };
            requirements.push(requirement);
        }
        Ok(Selector { labels, requirements })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selector(json: serde_json::Value) -> Result<Selector, ModelError> {
        let raw: RawSelector =
            serde_json::from_value(json).map_err(|e| ModelError::invalid(FieldPath::root(), e.to_string()))?;
        raw.validate(&FieldPath::root().field("podSelector"))
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn selectors_match_as_kubernetes_does() {
        let web = labels(&[("app", "web"), ("tier", "front")]);
        let bare = labels(&[]);
        let cases = [
            (serde_json::json!({}), true, true),
            (serde_json::json!({"matchLabels": {}}), true, true),
            (serde_json::json!({"matchLabels": {"app": "web"}}), true, false),
            (serde_json::json!({"matchLabels": {"app": "web", "tier": "back"}}), false, false),
            (
                serde_json::json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "x"]}]}),
                true,
                false,
            ),
            // NotIn holds for an object without the key.
            (
                serde_json::json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]}),
                false,
                true,
            ),
            (serde_json::json!({"matchExpressions": [{"key": "app", "operator": "Exists"}]}), true, false),
            (serde_json::json!({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}), false, true),
            (
                serde_json::json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}),
                false,
                false,
            ),
        ];
        for (json, on_web, on_bare) in cases {
            let parsed = selector(json.clone()).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(parsed.matches(&web), on_web, "{json} on app=web,tier=front");
            assert_eq!(parsed.matches(&bare), on_bare, "{json} on no labels");
        }
    }

    #[test]
    fn malformed_requirements_are_refused_at_their_field() {
        let cases = [
            (
                serde_json::json!({"matchExpressions": [{"key": "a", "operator": "In"}]}),
                "podSelector.matchExpressions[0].values",
            ),
            (
                serde_json::json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
                "podSelector.matchExpressions[0].values",
            ),
            (
                serde_json::json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}),
                "podSelector.matchExpressions[0].operator",
            ),
        ];
        for (json, path) in cases {
            let error = selector(json.clone()).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.starts_with(path), "{json}: {error}");
        }
    }

    #[test]
    fn selectors_print_as_kubectl_reads_them() {
        let printed = selector(serde_json::json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}, {"key": "old", "operator": "DoesNotExist"}]
        }))
        .map(|s| s.to_string());
        assert_eq!(printed.ok().as_deref(), Some("app=web,tier in (a,b),!old"));
        assert_eq!(Selector::everything().to_string(), "{}");
    }
}
