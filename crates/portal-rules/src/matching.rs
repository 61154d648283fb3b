//! `match` and `exclude`: which objects a rule applies to, decided before any CEL runs.

use serde_json::Value as Json;

use crate::activation::{EvaluationInput, ObjectIdentity};
use crate::schema::{GroupVersionKind, LabelSelector, MatchSpec, NamespaceFilter, Operation, SelectorOperator};

/// The facts about one object that matching reads.
#[derive(Debug)]
pub(crate) struct MatchTarget<'a> {
    pub identity: &'a ObjectIdentity,
    /// The namespace the object lives in; a Namespace object counts as living in itself.
    pub namespace: Option<&'a str>,
    pub labels: Option<&'a Json>,
    /// Labels of the object's Namespace; `None` when the Namespace is unknown.
    pub namespace_labels: Option<&'a Json>,
    pub operation: Option<Operation>,
    /// The admission request's `subResource`, when it names one.
    pub subresource: Option<&'a str>,
    /// An UPDATE of an object that is being deleted (its previous version has a
    /// `deletionTimestamp`), e.g. a finalizer's removal.
    pub terminating: bool,
}

/// Subresources every rule is evaluated on: they change what a rule sees of the object.
pub const ALWAYS_EVALUATED_SUBRESOURCES: &[&str] = &["ephemeralcontainers", "scale"];

impl<'a> MatchTarget<'a> {
    pub fn new(identity: &'a ObjectIdentity, input: &EvaluationInput<'a>) -> MatchTarget<'a> {
        let subject = input.object.or(input.old_object);
        let labels = subject.and_then(|o| o.get("metadata")).and_then(|m| m.get("labels"));
        let is_namespace = identity.group.is_empty() && identity.kind == "Namespace";
        let namespace = if is_namespace { identity.name.as_deref() } else { identity.namespace.as_deref() };
        let namespace_labels = if is_namespace {
            Some(labels.unwrap_or(&Json::Null))
        } else {
            input.namespace_object.map(|ns| ns.get("metadata").and_then(|m| m.get("labels")).unwrap_or(&Json::Null))
        };
        let subresource = input
            .request
            .and_then(|request| request.get("subResource"))
            .and_then(Json::as_str)
            .filter(|subresource| !subresource.is_empty());
        let terminating = input.operation == Some(Operation::Update)
            && input
                .old_object
                .and_then(|old| old.get("metadata"))
                .and_then(|metadata| metadata.get("deletionTimestamp"))
                .is_some_and(|timestamp| !timestamp.is_null());
        MatchTarget {
            identity,
            namespace,
            labels,
            namespace_labels,
            operation: input.operation,
            subresource,
            terminating,
        }
    }
}

const DEFAULT_OPERATIONS: &[Operation] = &[Operation::Create, Operation::Update];

/// Whether `spec`, used as `match`, selects the target, its gvk list aside: the rule set's
/// index has already matched group, version and kind.
pub(crate) fn selects_besides_gvk(spec: &MatchSpec, target: &MatchTarget<'_>) -> bool {
    spec.namespaces.as_ref().is_none_or(|filter| namespace_filter_selects(filter, target.namespace))
        && spec.namespace_selector.as_ref().is_none_or(|selector| {
            // Unknown namespace (offline, or a cluster-scoped object): the selector cannot rule it out.
            target.namespace_labels.is_none_or(|labels| selector_matches(selector, labels))
        })
        && spec
            .object_selector
            .as_ref()
            .is_none_or(|selector| selector_matches(selector, target.labels.unwrap_or(&Json::Null)))
        && target
            .operation
            .is_none_or(|operation| spec.operations.as_deref().unwrap_or(DEFAULT_OPERATIONS).contains(&operation))
        && target.subresource.is_none_or(|subresource| {
            ALWAYS_EVALUATED_SUBRESOURCES.contains(&subresource)
                || spec.subresources.iter().any(|listed| listed == "*" || listed == subresource)
        })
        && (!target.terminating || spec.terminating)
}

/// Whether `spec`, used as `exclude`, carves the target out: every criterion it sets must hold,
/// and an empty `exclude` excludes nothing.
pub(crate) fn excludes(spec: &MatchSpec, target: &MatchTarget<'_>) -> bool {
    let mut any_criterion = false;
    let mut holds = |criterion: Option<bool>| match criterion {
        Some(result) => {
            any_criterion = true;
            result
        }
        None => true,
    };
    let gvk = holds((!spec.gvk.is_empty()).then(|| spec.gvk.iter().any(|g| gvk_matches(g, target.identity))));
    let namespaces = holds(spec.namespaces.as_ref().map(|filter| {
        let listed =
            |patterns: &[String]| target.namespace.is_some_and(|ns| patterns.iter().any(|p| glob_matches(p, ns)));
        // `exclude.namespaces.include` names the namespaces to carve out; its own
        // `exclude` list keeps some of them in.
        (filter.include.is_empty() || listed(&filter.include)) && !listed(&filter.exclude)
    }));
    let namespace_selector = holds(
        spec.namespace_selector
            .as_ref()
            .map(|selector| target.namespace_labels.is_some_and(|labels| selector_matches(selector, labels))),
    );
    let object_selector = holds(
        spec.object_selector.as_ref().map(|selector| selector_matches(selector, target.labels.unwrap_or(&Json::Null))),
    );
    let operations = holds(
        spec.operations
            .as_ref()
            .map(|operations| target.operation.is_some_and(|operation| operations.contains(&operation))),
    );
    any_criterion && gvk && namespaces && namespace_selector && object_selector && operations
}

pub(crate) fn gvk_matches(pattern: &GroupVersionKind, identity: &ObjectIdentity) -> bool {
    // Kind first: it differs between the entries of a typical list, so most comparisons stop at
    // the length check.
    (pattern.kind == "*" || pattern.kind == identity.kind)
        && (pattern.group == "*" || pattern.group == identity.group)
        && (pattern.version == "*" || pattern.version == identity.version)
}

pub(crate) fn namespace_filter_selects(filter: &NamespaceFilter, namespace: Option<&str>) -> bool {
    match namespace {
        // Cluster-scoped objects are outside every namespace: an include list cannot select them.
        None => filter.include.is_empty(),
        Some(ns) => {
            (filter.include.is_empty() || filter.include.iter().any(|p| glob_matches(p, ns)))
                && !filter.exclude.iter().any(|p| glob_matches(p, ns))
        }
    }
}

/// Kubernetes label selector semantics over a `metadata.labels` JSON map.
pub(crate) fn selector_matches(selector: &LabelSelector, labels: &Json) -> bool {
    let label = |key: &str| labels.get(key).and_then(Json::as_str);
    selector.match_labels.iter().all(|(key, value)| label(key) == Some(value.as_str()))
        && selector.match_expressions.iter().all(|requirement| {
            let actual = label(&requirement.key);
            let listed = || actual.is_some_and(|v| requirement.values.iter().any(|allowed| allowed == v));
            match requirement.operator {
                SelectorOperator::In => listed(),
                SelectorOperator::NotIn => !listed(),
                SelectorOperator::Exists => actual.is_some(),
                SelectorOperator::DoesNotExist => actual.is_none(),
            }
        })
}

/// `*` matches any run of characters, everything else itself.
pub(crate) fn glob_matches(pattern: &str, text: &str) -> bool {
    let Some((first, rest)) = pattern.split_once('*') else {
        return pattern == text;
    };
    let Some(mut remaining) = text.strip_prefix(first) else { return false };
    let mut pieces: Vec<&str> = rest.split('*').collect();
    let last = pieces.pop().unwrap_or_default();
    for piece in pieces {
        match remaining.find(piece) {
            Some(at) => remaining = &remaining[at + piece.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globs() {
        assert!(glob_matches("kube-*", "kube-system"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("team-*-prod", "team-a-prod"));
        assert!(!glob_matches("team-*-prod", "team-a-dev"));
        assert!(glob_matches("a*b*c", "abc"));
        assert!(!glob_matches("a*bc", "abc-"));
        assert!(!glob_matches("ab*ba", "aba"));
        assert!(glob_matches("exact", "exact"));
        assert!(!glob_matches("exact", "exactly"));
    }

    fn selector(yaml: serde_json::Value) -> LabelSelector {
        serde_json::from_value(yaml).unwrap()
    }

    #[test]
    fn label_selectors_follow_kubernetes_semantics() {
        let labels = json!({"app": "web", "tier": "front"});
        assert!(selector_matches(&selector(json!({"matchLabels": {"app": "web"}})), &labels));
        assert!(!selector_matches(&selector(json!({"matchLabels": {"app": "db"}})), &labels));
        let expr = |op: &str, values: serde_json::Value| {
            selector(json!({"matchExpressions": [{"key": "tier", "operator": op, "values": values}]}))
        };
        assert!(selector_matches(&expr("In", json!(["front", "back"])), &labels));
        assert!(!selector_matches(&expr("NotIn", json!(["front"])), &labels));
        assert!(selector_matches(&expr("NotIn", json!(["front"])), &json!({})));
        assert!(selector_matches(&expr("Exists", json!([])), &labels));
        assert!(!selector_matches(&expr("DoesNotExist", json!([])), &labels));
        assert!(selector_matches(&selector(json!({})), &Json::Null));
    }
}
