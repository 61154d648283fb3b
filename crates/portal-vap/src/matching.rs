//! `match` and `exclude` as a policy's `matchConstraints` and `matchConditions`, with the
//! semantics of `portal-rules`' `matching.rs`: which requests the policy sees is what Portal's
//! webhook would evaluate the rule on.
//!
//! Match conditions cannot read the policy's `variables`, so each repeats what it needs.

use portal_rules::Operation;
use portal_rules::kinds::{admission_resources, is_cluster_scoped, is_scalable, resource_of};
use portal_rules::schema::{GroupVersionKind, LabelSelector, MatchSpec, NamespaceFilter, SelectorOperator};
use serde_json::{Value as Json, json};

/// The match condition of `terminating: false`: UPDATEs of objects being deleted pass.
pub(crate) const NOT_TERMINATING: &str = "!(request.operation == 'UPDATE' && oldObject != null && oldObject.metadata.?deletionTimestamp.orValue(null) != null)";

/// The object the request is about: on DELETE, the old object.
const SUBJECT: &str = "(object != null ? object : oldObject)";

/// What `match` and `exclude` become, and what they cannot express.
pub(crate) struct Matching {
    pub constraints: Json,
    pub conditions: Vec<(String, String)>,
    /// Requests Portal evaluates that the policy does not see.
    pub notes: Vec<String>,
    /// The matched kinds with a `scale` subresource, whose scale requests the policy does not see.
    pub scalable_kinds: Vec<String>,
}

/// Why a rule's `match` cannot be mirrored.
pub(crate) type Refusal = String;

pub(crate) fn matching(
    spec: &MatchSpec,
    exclude: Option<&MatchSpec>,
    protected: &dyn Fn(&str, &str) -> bool,
) -> Result<Matching, Refusal> {
    let operations: Vec<&str> = spec
        .operations
        .as_deref()
        .unwrap_or(&[Operation::Create, Operation::Update])
        .iter()
        .map(|operation| operation_name(*operation))
        .collect();
    let mut rules = Vec::new();
    let mut notes = Vec::new();
    let mut scalable_kinds = Vec::new();
    for gvk in &spec.gvk {
        let resource = if gvk.kind == "*" { "*".to_owned() } else { resource_of(&gvk.kind) };
        if gvk.group != "*" && protected(&gvk.group, &resource) {
            notes.push(format!(
                "{}/{} is never intercepted (by Portal's webhook either)",
                if gvk.group.is_empty() { "core" } else { &gvk.group },
                gvk.kind
            ));
            continue;
        }
        let mut resources = admission_resources(&gvk.group, &gvk.kind);
        if is_scalable(&gvk.group, &gvk.kind) {
            scalable_kinds.push(gvk.kind.clone());
        }
        for subresource in &spec.subresources {
            resources.push(format!("{resource}/{subresource}"));
        }
        let scope = if gvk.kind == "*" {
            "*"
        } else if is_cluster_scoped(&gvk.kind) {
            "Cluster"
        } else {
            "Namespaced"
        };
        rules.push(json!({
            "apiGroups": [gvk.group],
            "apiVersions": [gvk.version],
            "operations": operations,
            "resources": resources,
            "scope": scope,
        }));
    }
    if rules.is_empty() {
        return Err("matches only kinds that are never intercepted".to_owned());
    }
    let mut constraints = json!({"resourceRules": rules});
    if let Some(selector) = &spec.namespace_selector {
        constraints["namespaceSelector"] = label_selector_json(selector);
    }
    let mut conditions = Vec::new();
    if let Some(filter) = &spec.namespaces {
        conditions.push(("namespaces".to_owned(), namespaces_selected(filter)));
    }
    if let Some(selector) = &spec.object_selector {
        conditions.push((
            "object-selector".to_owned(),
            selector_cel(selector, &format!("{SUBJECT}.metadata.?labels.orValue({{}})")),
        ));
    }
    if !spec.terminating {
        conditions.push(("not-terminating".to_owned(), NOT_TERMINATING.to_owned()));
    }
    if let Some(exclude) = exclude
        && let Some(excluded) = excluded(exclude)
    {
        conditions.push(("not-excluded".to_owned(), format!("!({excluded})")));
    }
    Ok(Matching { constraints, conditions, notes, scalable_kinds })
}

pub(crate) fn operation_name(operation: Operation) -> &'static str {
    match operation {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
        Operation::Connect => "CONNECT",
    }
}

/// The namespace matching sees: a Namespace's own name, else the request's (`''` for
/// cluster-scoped objects, which are in no namespace).
fn namespace_of_request() -> String {
    format!(
        "(request.kind.group == '' && request.kind.kind == 'Namespace' ? {SUBJECT}.metadata.name : request.namespace)"
    )
}

fn namespaces_selected(filter: &NamespaceFilter) -> String {
    let namespace = namespace_of_request();
    let include = if filter.include.is_empty() {
        "true".to_owned()
    } else {
        format!("({namespace} != '' && ({}))", globs(&namespace, &filter.include))
    };
    if filter.exclude.is_empty() {
        include
    } else {
        format!("{include} && !({namespace} != '' && ({}))", globs(&namespace, &filter.exclude))
    }
}

fn globs(text: &str, patterns: &[String]) -> String {
    patterns
        .iter()
        .map(|pattern| format!("{text}.matches({})", quote(&glob_regex(pattern))))
        .collect::<Vec<_>>()
        .join(" || ")
}

/// `*` is any run of characters; everything else stands for itself.
fn glob_regex(pattern: &str) -> String {
    let mut regex = String::from("^");
    for c in pattern.chars() {
        match c {
            '*' => regex.push_str(".*"),
            c if c.is_ascii_alphanumeric() || c == '-' || c == '_' => regex.push(c),
            c => {
                regex.push('\\');
                regex.push(c);
            }
        }
    }
    regex.push('$');
    regex
}

/// A CEL string literal of `text`.
pub(crate) fn quote(text: &str) -> String {
    let mut quoted = String::from("'");
    for c in text.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '\'' => quoted.push_str("\\'"),
            '\n' => quoted.push_str("\\n"),
            c => quoted.push(c),
        }
    }
    quoted.push('\'');
    quoted
}

fn label_selector_json(selector: &LabelSelector) -> Json {
    let mut json = json!({});
    if !selector.match_labels.is_empty() {
        json["matchLabels"] = json!(selector.match_labels);
    }
    if !selector.match_expressions.is_empty() {
        json["matchExpressions"] = selector
            .match_expressions
            .iter()
            .map(|requirement| {
                json!({"key": requirement.key, "operator": operator_name(requirement.operator), "values": requirement.values})
            })
            .collect();
    }
    json
}

fn operator_name(operator: SelectorOperator) -> &'static str {
    match operator {
        SelectorOperator::In => "In",
        SelectorOperator::NotIn => "NotIn",
        SelectorOperator::Exists => "Exists",
        SelectorOperator::DoesNotExist => "DoesNotExist",
    }
}

/// Kubernetes label selector semantics over `labels` (a CEL map of strings).
fn selector_cel(selector: &LabelSelector, labels: &str) -> String {
    let mut terms: Vec<String> = selector
        .match_labels
        .iter()
        .map(|(key, value)| format!("({k} in {labels} && {labels}[{k}] == {v})", k = quote(key), v = quote(value)))
        .collect();
    for requirement in &selector.match_expressions {
        let key = quote(&requirement.key);
        let values = format!("[{}]", requirement.values.iter().map(|v| quote(v)).collect::<Vec<_>>().join(", "));
        terms.push(match requirement.operator {
            SelectorOperator::In => format!("({key} in {labels} && {labels}[{key}] in {values})"),
            SelectorOperator::NotIn => format!("!({key} in {labels} && {labels}[{key}] in {values})"),
            SelectorOperator::Exists => format!("({key} in {labels})"),
            SelectorOperator::DoesNotExist => format!("!({key} in {labels})"),
        });
    }
    if terms.is_empty() { "true".to_owned() } else { terms.join(" && ") }
}

/// The CEL of "`exclude` carves this request out": every criterion it sets holds. `None` when
/// it sets none (an empty `exclude` excludes nothing).
fn excluded(spec: &MatchSpec) -> Option<String> {
    let mut criteria = Vec::new();
    if !spec.gvk.is_empty() {
        criteria.push(format!("({})", spec.gvk.iter().map(gvk_cel).collect::<Vec<_>>().join(" || ")));
    }
    if let Some(filter) = &spec.namespaces {
        let namespace = namespace_of_request();
        let include = if filter.include.is_empty() {
            "true".to_owned()
        } else {
            format!("({namespace} != '' && ({}))", globs(&namespace, &filter.include))
        };
        let kept = if filter.exclude.is_empty() {
            String::new()
        } else {
            format!(" && !({namespace} != '' && ({}))", globs(&namespace, &filter.exclude))
        };
        criteria.push(format!("({include}{kept})"));
    }
    if let Some(selector) = &spec.namespace_selector {
        // The labels of the object's Namespace (a Namespace's own); unknown: not carved out.
        let labels = format!(
            "(request.kind.group == '' && request.kind.kind == 'Namespace' ? dyn({SUBJECT}.metadata.?labels.orValue({{}})) : \
             namespaceObject != null ? dyn(namespaceObject.metadata.?labels.orValue({{}})) : dyn(null))"
        );
        criteria.push(format!("({labels} != null && {})", selector_cel(selector, &labels)));
    }
    if let Some(selector) = &spec.object_selector {
        criteria.push(format!("({})", selector_cel(selector, &format!("{SUBJECT}.metadata.?labels.orValue({{}})"))));
    }
    if let Some(operations) = &spec.operations {
        let names: Vec<String> = operations.iter().map(|operation| quote(operation_name(*operation))).collect();
        criteria.push(format!("request.operation in [{}]", names.join(", ")));
    }
    (!criteria.is_empty()).then(|| criteria.join(" && "))
}

/// Whether the request is for the group/version/kind `pattern` (the API server leaves
/// `apiVersion` and `kind` out of the objects it gives policies).
fn gvk_cel(pattern: &GroupVersionKind) -> String {
    let mut terms = Vec::new();
    if pattern.kind != "*" {
        terms.push(format!("request.kind.kind == {}", quote(&pattern.kind)));
    }
    if pattern.group != "*" {
        terms.push(format!("request.kind.group == {}", quote(&pattern.group)));
    }
    if pattern.version != "*" {
        terms.push(format!("request.kind.version == {}", quote(&pattern.version)));
    }
    if terms.is_empty() { "true".to_owned() } else { format!("({})", terms.join(" && ")) }
}
