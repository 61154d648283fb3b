//! Kyverno `ClusterPolicy`/`Policy` (`kyverno.io/v1`) validate rules as Portal rules.
//!
//! A rule converts when its meaning carries over exactly: `match`/`exclude` on kinds,
//! namespaces, label selectors and operations; a `validate.pattern` or `anyPattern` the pattern
//! translation accepts, or `validate.cel` expressions; the failure action and `background`. A
//! Pod pattern on `spec` also covers the pod templates of workloads, as Kyverno's auto-generated
//! rules do (Portal's `spec` is the pod spec of either). Everything else is refused with the
//! reason: JMESPath (`deny`, `preconditions`, `{{ }}` variables), `foreach`, `podSecurity`,
//! matching on the requesting user, mutation, generation and image verification.

use serde_json::{Map, Value as Json, json};

use crate::kinds::{POD_CONTROLLERS, group_of};
use crate::pattern;
use crate::report::Report;

/// The rules of one policy, refused ones and notes recorded in `report`.
pub fn convert_policy(policy: &Json, report: &mut Report) -> Vec<Json> {
    let policy_name = policy["metadata"]["name"].as_str().unwrap_or("unnamed").to_owned();
    let namespace =
        (policy["kind"] == "Policy").then(|| policy["metadata"]["namespace"].as_str().unwrap_or("default").to_owned());
    let mut rules = Vec::new();
    let Some(kyverno_rules) = policy["spec"]["rules"].as_array() else {
        report.refuse(&policy_name, "has no spec.rules");
        return rules;
    };
    for kyverno_rule in kyverno_rules {
        let rule_name = kyverno_rule["name"].as_str().unwrap_or("unnamed");
        let source = format!("{policy_name}/{rule_name}");
        match convert_rule(policy, kyverno_rule, namespace.as_deref(), &source, report) {
            Ok(converted) => rules.extend(converted),
            Err(reason) => report.refuse(&source, &reason),
        }
    }
    rules
}

fn convert_rule(
    policy: &Json,
    rule: &Json,
    namespace: Option<&str>,
    source: &str,
    report: &mut Report,
) -> Result<Vec<Json>, String> {
    for (field, what) in [
        ("mutate", "a mutate rule: Portal only validates"),
        ("generate", "a generate rule: Portal only validates"),
        ("verifyImages", "a verifyImages rule: image signatures are not a Portal rule"),
    ] {
        if !rule[field].is_null() {
            return Err(format!("is {what}"));
        }
    }
    let validate = &rule["validate"];
    if validate.is_null() {
        return Err("has no validate".to_owned());
    }
    if !rule["preconditions"].is_null() {
        return Err(
            "has preconditions (JMESPath), which are not translated; write them into the rule in CEL".to_owned()
        );
    }
    if !rule["context"].is_null() {
        return Err("reads context (API calls, ConfigMaps, variables); use cluster.get/cluster.list in CEL".to_owned());
    }
    for (field, reason) in [
        ("deny", "validate.deny conditions are JMESPath, which is not translated; write the condition in CEL"),
        ("foreach", "validate.foreach is not translated; write it with .all()/.exists() in CEL"),
        (
            "podSecurity",
            "validate.podSecurity: use Portal's Pod Security Standards bundles (examples/policies/pod-security)",
        ),
        ("manifests", "validate.manifests verifies signed manifests, which Portal does not"),
        ("assert", "validate.assert trees are not translated"),
    ] {
        if !validate[field].is_null() {
            return Err(reason.to_owned());
        }
    }
    let kinds = match_kinds(rule)?;
    let mut base = Map::new();
    let name = rule_name(source);
    base.insert("name".into(), json!(name));
    if let Some(severity) = severity(policy) {
        base.insert("severity".into(), json!(severity));
    }
    if policy["spec"]["background"] == false {
        base.insert("mode".into(), json!(["admission"]));
    }
    if !policy["spec"]["validationFailureActionOverrides"].is_null() || !validate["failureActionOverrides"].is_null() {
        return Err("has failure action overrides per namespace, which are not translated; split the rule".to_owned());
    }
    if policy["spec"]["admission"] == false {
        return Err("runs in the background only (spec.admission: false); write it with mode: [audit]".to_owned());
    }
    // Kyverno blocks on an error by default: so does the converted rule (a value of the wrong
    // type, say, fails the pattern in Kyverno and fails the evaluation here).
    let failure_policy = match policy["spec"]["failurePolicy"].as_str().unwrap_or("Fail") {
        "Ignore" => "Ignore",
        _ => "Fail",
    };
    base.insert("failurePolicy".into(), json!(failure_policy));
    let action = rule["validate"]["failureAction"]
        .as_str()
        .or_else(|| policy["spec"]["validationFailureAction"].as_str())
        .unwrap_or("Audit");
    let action = match action.to_ascii_lowercase().as_str() {
        "enforce" => "deny",
        "audit" => {
            report.note(source, "Audit becomes enforcementAction: dryrun (admitted, counted and reported)");
            "dryrun"
        }
        other => return Err(format!("has the failure action {other:?}, which is neither Enforce nor Audit")),
    };
    base.insert("enforcementAction".into(), json!(action));
    let message = validate["message"].as_str().map(str::to_owned);
    if let Some(message) = &message {
        if message.contains("{{") {
            report.note(source, "the message's {{ }} variables are not evaluated: it is kept as written");
        }
        base.insert("message".into(), json!(message));
    }

    if let Some(cel) = validate.get("cel").filter(|cel| !cel.is_null()) {
        return cel_rules(cel, &base, &kinds, rule, namespace, source);
    }
    let patterns: Vec<&Json> = match (validate.get("pattern"), validate["anyPattern"].as_array()) {
        (Some(pattern), _) if !pattern.is_null() => vec![pattern],
        (_, Some(any)) if !any.is_empty() => any.iter().collect(),
        _ => return Err("has no pattern, anyPattern or cel to translate".to_owned()),
    };
    let pod_only = kinds.len() == 1 && kinds[0] == json!({"group": "", "version": "*", "kind": "Pod"});
    let spec_only = patterns.iter().all(|p| p.as_object().is_some_and(|m| m.len() == 1 && m.contains_key("spec")));
    let autogen = pod_only
        && spec_only
        && policy["metadata"]["annotations"]["pod-policies.kyverno.io/autogen-controllers"] != "none";
    let holds: Result<Vec<String>, String> = patterns
        .iter()
        .map(
            |pattern| {
                if autogen { pattern::matches("spec", &pattern["spec"]) } else { pattern::matches("object", pattern) }
            },
        )
        .collect();
    let holds = holds?;
    let condition = if holds.len() == 1 {
        holds[0].clone()
    } else {
        holds.iter().map(|h| format!("({h})")).collect::<Vec<_>>().join(" || ")
    };
    let mut gvk = kinds;
    if autogen {
        report.note(source, "also applies to the pod templates of workloads, as Kyverno's auto-generated rules do");
        gvk.extend(POD_CONTROLLERS.iter().map(|(group, kind)| json!({"group": group, "version": "*", "kind": kind})));
    }
    let mut converted = base;
    converted.insert("match".into(), match_spec(rule, gvk, namespace)?);
    if let Some(exclude) = exclude_spec(rule)? {
        converted.insert("exclude".into(), exclude);
    }
    converted.insert("rule".into(), json!(format!("!({condition})")));
    Ok(vec![Json::Object(converted)])
}

/// `validate.cel`: one rule per expression, the negation of what it allows.
fn cel_rules(
    cel: &Json,
    base: &Map<String, Json>,
    kinds: &[Json],
    rule: &Json,
    namespace: Option<&str>,
    source: &str,
) -> Result<Vec<Json>, String> {
    if !cel["paramKind"].is_null() || !cel["paramRef"].is_null() {
        return Err("validate.cel takes parameters, which Portal rules do not have".to_owned());
    }
    if cel["variables"].as_array().is_some_and(|v| !v.is_empty()) {
        return Err("validate.cel has variables; inline them into the expressions".to_owned());
    }
    let expressions =
        cel["expressions"].as_array().filter(|e| !e.is_empty()).ok_or("validate.cel has no expressions")?;
    let mut rules = Vec::new();
    for (index, expression) in expressions.iter().enumerate() {
        let text = expression["expression"].as_str().ok_or("a validate.cel expression has no expression")?;
        let mut converted = base.clone();
        if expressions.len() > 1 {
            converted.insert("name".into(), json!(format!("{}-{}", rule_name(source), index + 1)));
        }
        if let Some(message) = expression["message"].as_str() {
            converted.insert("message".into(), json!(message));
        }
        if let Some(message) = expression["messageExpression"].as_str() {
            converted.insert("messageExpression".into(), json!(message));
        }
        converted.insert("match".into(), match_spec(rule, kinds.to_vec(), namespace)?);
        if let Some(exclude) = exclude_spec(rule)? {
            converted.insert("exclude".into(), exclude);
        }
        converted.insert("rule".into(), json!(format!("!({text})")));
        rules.push(Json::Object(converted));
    }
    Ok(rules)
}

/// The resource filter of `match` (or `exclude`): `any`/`all` with one entry, or the old
/// `resources` form; several entries only when they differ in nothing but their kinds.
fn filter<'a>(section: &'a Json, what: &str) -> Result<Option<(&'a Json, Vec<&'a Json>)>, String> {
    if section.is_null() {
        return Ok(None);
    }
    let entries: Vec<&Json> = match (section["any"].as_array(), section["all"].as_array()) {
        (Some(any), None) => any.iter().collect(),
        (None, Some(all)) if all.len() == 1 => all.iter().collect(),
        (None, Some(_)) => {
            return Err(format!("{what}.all has several entries, which must all hold at once; not translated"));
        }
        (Some(_), Some(_)) => return Err(format!("{what} has both any and all; not translated")),
        (None, None) => vec![section],
    };
    for entry in &entries {
        for field in ["subjects", "roles", "clusterRoles"] {
            if !entry[field].is_null() {
                return Err(format!("{what} on the requesting user ({field}) has no Portal equivalent"));
            }
        }
    }
    let Some(first) = entries.first() else { return Ok(None) };
    let without_kinds = |entry: &Json| {
        let mut resources = entry["resources"].clone();
        if let Some(map) = resources.as_object_mut() {
            map.remove("kinds");
        }
        resources
    };
    if entries.iter().any(|entry| without_kinds(entry) != without_kinds(first)) {
        return Err(format!("{what}.any entries differ in more than their kinds; not translated"));
    }
    Ok(Some((&first["resources"], entries.iter().map(|entry| &entry["resources"]["kinds"]).collect())))
}

fn match_kinds(rule: &Json) -> Result<Vec<Json>, String> {
    let Some((_, kinds)) = filter(&rule["match"], "match")? else {
        return Err("has no match".to_owned());
    };
    let mut gvk = Vec::new();
    for list in kinds {
        for kind in list.as_array().into_iter().flatten() {
            gvk.push(parse_kind(kind.as_str().unwrap_or_default())?);
        }
    }
    if gvk.is_empty() {
        return Err("matches no kinds".to_owned());
    }
    Ok(gvk)
}

/// `Kind`, `version/Kind`, `group/version/Kind` or `*` as a gvk pattern; subresources
/// (`Deployment/scale`, `v1/Pod/status`) and wildcards inside a kind are refused.
fn parse_kind(text: &str) -> Result<Json, String> {
    let parts: Vec<&str> = text.split('/').collect();
    let is_version =
        |part: &str| part == "*" || (part.starts_with('v') && part[1..].starts_with(|c: char| c.is_ascii_digit()));
    let is_kind = |part: &str| part.starts_with(|c: char| c.is_ascii_uppercase()) && !part.contains(['*', '?', '.']);
    let (group, version, kind) = match parts.as_slice() {
        ["*"] | ["*", "*", "*"] => ("*".to_owned(), "*", "*"),
        [kind] if is_kind(kind) => (
            group_of(kind)
                .ok_or_else(|| format!("names the kind {kind:?} without its group; write it as group/version/{kind}"))?
                .to_owned(),
            "*",
            *kind,
        ),
        [version, kind] if is_version(version) && is_kind(kind) => (String::new(), *version, *kind),
        [group, version, kind] if is_version(version) && is_kind(kind) => ((*group).to_owned(), *version, *kind),
        _ => return Err(format!("names {text:?}: subresources and wildcards inside a kind are not translated")),
    };
    Ok(json!({"group": group, "version": version, "kind": kind}))
}

fn match_spec(rule: &Json, gvk: Vec<Json>, namespace: Option<&str>) -> Result<Json, String> {
    let mut spec = Map::new();
    spec.insert("gvk".into(), json!(gvk));
    let resources = filter(&rule["match"], "match")?.map(|(resources, _)| resources.clone()).unwrap_or(Json::Null);
    selectors(&resources, &mut spec, "match")?;
    if let Some(namespace) = namespace {
        if spec.contains_key("namespaces") {
            return Err("a namespaced Policy that also names namespaces is not translated".to_owned());
        }
        // A namespaced Policy applies inside its namespace only.
        spec.insert("namespaces".into(), json!({"include": [namespace]}));
    }
    Ok(Json::Object(spec))
}

fn exclude_spec(rule: &Json) -> Result<Option<Json>, String> {
    let Some((resources, kinds)) = filter(&rule["exclude"], "exclude")? else { return Ok(None) };
    let mut spec = Map::new();
    let mut gvk = Vec::new();
    for list in kinds {
        for kind in list.as_array().into_iter().flatten() {
            gvk.push(parse_kind(kind.as_str().unwrap_or_default())?);
        }
    }
    if !gvk.is_empty() {
        spec.insert("gvk".into(), json!(gvk));
    }
    selectors(resources, &mut spec, "exclude")?;
    Ok((!spec.is_empty()).then_some(Json::Object(spec)))
}

/// namespaces, names, selector, namespaceSelector and operations of a resource filter.
fn selectors(resources: &Json, spec: &mut Map<String, Json>, what: &str) -> Result<(), String> {
    if let Some(namespaces) = resources["namespaces"].as_array().filter(|n| !n.is_empty()) {
        if namespaces.iter().any(|n| n.as_str().is_some_and(|n| n.contains('?'))) {
            return Err(format!("{what}.namespaces uses the ? wildcard; Portal's namespace globs have only *"));
        }
        spec.insert("namespaces".into(), json!({"include": namespaces}));
    }
    if resources["names"].as_array().is_some_and(|n| !n.is_empty()) || !resources["name"].is_null() {
        return Err(format!("{what} by object name is not translated; use an exception (PortalException) or the rule"));
    }
    if !resources["annotations"].is_null() {
        return Err(format!("{what} by annotations is not translated"));
    }
    for (kyverno, portal) in [("selector", "objectSelector"), ("namespaceSelector", "namespaceSelector")] {
        if !resources[kyverno].is_null() {
            spec.insert(portal.into(), resources[kyverno].clone());
        }
    }
    if let Some(operations) = resources["operations"].as_array().filter(|o| !o.is_empty()) {
        spec.insert("operations".into(), json!(operations));
    }
    Ok(())
}

fn severity(policy: &Json) -> Option<&'static str> {
    match policy["metadata"]["annotations"]["policies.kyverno.io/severity"].as_str()?.to_ascii_lowercase().as_str() {
        "info" => Some("info"),
        "low" => Some("low"),
        "medium" => Some("medium"),
        "high" => Some("high"),
        "critical" => Some("critical"),
        _ => None,
    }
}

/// `policy/rule` as a Portal rule name: lowercase letters, digits, '-' and '.'.
pub fn rule_name(source: &str) -> String {
    let mut name: String = source
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '-' })
        .collect();
    while name.contains("--") {
        name = name.replace("--", "-");
    }
    let name = name.trim_matches(|c: char| !c.is_ascii_alphanumeric()).to_owned();
    let name: String = name.chars().take(253).collect();
    if name.is_empty() { "migrated".to_owned() } else { name }
}

/// A Kyverno test result's resource as a Portal suite's `Kind/namespace/name`.
pub fn resource_id(kind: &str, namespace: Option<&str>, name: &str) -> String {
    if portal_rules::kinds::is_cluster_scoped(kind) {
        format!("{kind}/{name}")
    } else {
        format!("{kind}/{}/{name}", namespace.unwrap_or("default"))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kinds_names_and_quotes() {
        assert_eq!(parse_kind("Pod").unwrap(), json!({"group": "", "version": "*", "kind": "Pod"}));
        assert_eq!(
            parse_kind("apps/v1/Deployment").unwrap(),
            json!({"group": "apps", "version": "v1", "kind": "Deployment"})
        );
        assert!(parse_kind("Widget").unwrap_err().contains("without its group"));
        assert!(parse_kind("Deployment/scale").unwrap_err().contains("subresources"));
        assert!(parse_kind("v1/Pod/status").unwrap_err().contains("subresources"));
        assert!(parse_kind("Pod*").unwrap_err().contains("wildcards"));
        assert_eq!(parse_kind("v1/Pod").unwrap(), json!({"group": "", "version": "v1", "kind": "Pod"}));
        assert_eq!(rule_name("Disallow_Host-Path/host--path"), "disallow-host-path-host-path");
        assert_eq!(pattern::quote("it's"), "'it\\'s'");
        assert_eq!(resource_id("Namespace", None, "a"), "Namespace/a");
        assert_eq!(resource_id("Pod", None, "a"), "Pod/default/a");
    }
}
