//! `portal import vap`: ValidatingAdmissionPolicies (with their bindings) as Portal rules.
//!
//! Each validation becomes a rule whose `rule` is the negated validation, after the policy's
//! match conditions; the policy's variables are inlined, except those `portal export vap`
//! writes for Portal's pod sugar, which become the sugar again; `matchConstraints` and the
//! binding's `matchResources` become `match`; the binding's actions, the enforcement action.
//! What Portal has no equivalent for (parameters, the authorizer, excluded resource rules) is
//! refused with the reason, and every rule made is compiled before it is offered.

use std::collections::BTreeMap;

use portal_rules::kinds::{BREAK_GLASS_LABEL, BREAK_GLASS_VALUE, CLUSTER_SCOPED_KINDS, SYSTEM_NAMESPACES, resource_of};
use serde_json::{Value as Json, json};

use crate::admission_scope::{excluded_selector, not_bypassed};
use crate::labels::RULE_LABEL;
use crate::sugar;

/// What importing gave.
#[derive(Debug, Default)]
pub struct Import {
    /// Rule documents, ready for `portal check --rules`.
    pub rules: Vec<Json>,
    /// Policies (or their validations) not imported, and why.
    pub refused: Vec<(String, String)>,
    /// What an imported rule does differently, or what was left out of it.
    pub notes: Vec<(String, String)>,
}

impl Import {
    /// The rules as a YAML stream.
    pub fn to_yaml(&self) -> Result<String, serde_saphyr::ser_error::Error> {
        let mut text = String::from("# Rendered by `portal import vap` from ValidatingAdmissionPolicies.\n");
        for rule in &self.rules {
            text.push_str("---\n");
            text.push_str(&serde_saphyr::to_string(rule)?);
        }
        Ok(text)
    }
}

/// Kinds whose resource names Portal recognises when it meets them in `resourceRules`.
const KNOWN_KINDS: &[&str] = &[
    "Pod",
    "Service",
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "PersistentVolumeClaim",
    "ReplicationController",
    "PodTemplate",
    "LimitRange",
    "ResourceQuota",
    "Endpoints",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "DaemonSet",
    "ControllerRevision",
    "Job",
    "CronJob",
    "Ingress",
    "NetworkPolicy",
    "Role",
    "RoleBinding",
    "PodDisruptionBudget",
    "HorizontalPodAutoscaler",
    "EndpointSlice",
    "Lease",
    "Event",
];

/// Reads every `ValidatingAdmissionPolicy` among `objects`, with the bindings among them.
pub fn import(objects: &[Json]) -> Import {
    let mut import = Import::default();
    let policies = objects.iter().filter(|o| o["kind"] == "ValidatingAdmissionPolicy");
    for policy in policies {
        let name = policy["metadata"]["name"].as_str().unwrap_or("unnamed").to_owned();
        let bindings: Vec<&Json> = objects
            .iter()
            .filter(|o| o["kind"] == "ValidatingAdmissionPolicyBinding" && o["spec"]["policyName"] == name.as_str())
            .collect();
        match import_policy(policy, &bindings, &mut import.notes) {
            Ok(rules) => {
                for rule in rules {
                    match compiles(&rule) {
                        Ok(()) => import.rules.push(rule),
                        Err(error) => {
                            import.refused.push((name.clone(), format!("does not compile as a Portal rule: {error}")))
                        }
                    }
                }
            }
            Err(reason) => import.refused.push((name, reason)),
        }
    }
    import
}

/// Whether a rule document loads and compiles as Portal would load it; the first error if not.
/// A converter offers only rules that pass.
pub fn compiles(rule: &Json) -> Result<(), String> {
    let text = serde_saphyr::to_string(rule).map_err(|e| e.to_string())?;
    let (loaded, errors) = portal_rules::load_rules("imported", &text);
    if let Some(error) = errors.first() {
        return Err(error.to_string());
    }
    let (_, errors) = portal_rules::RuleSet::compile(loaded);
    errors.first().map_or(Ok(()), |error| Err(error.to_string()))
}

fn import_policy(policy: &Json, bindings: &[&Json], notes: &mut Vec<(String, String)>) -> Result<Vec<Json>, String> {
    let name = policy["metadata"]["name"].as_str().unwrap_or("unnamed");
    let spec = &policy["spec"];
    if !spec["paramKind"].is_null() || bindings.iter().any(|b| !b["spec"]["paramRef"].is_null()) {
        return Err("takes parameters (paramKind/paramRef), which Portal rules do not have".to_owned());
    }
    if spec["matchConstraints"]["excludeResourceRules"].as_array().is_some_and(|rules| !rules.is_empty()) {
        return Err("has excludeResourceRules, which this import does not translate; write an exclude".to_owned());
    }
    let rule_name = policy["metadata"]["labels"][RULE_LABEL].as_str().unwrap_or(name).to_owned();
    let binding = bindings.first();
    if bindings.len() > 1 {
        notes.push((
            name.to_owned(),
            "has several bindings; the first one's actions and resources are imported".to_owned(),
        ));
    }
    let actions: Vec<&str> = binding
        .and_then(|b| b["spec"]["validationActions"].as_array())
        .map(|actions| actions.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    let enforcement = if actions.contains(&"Deny") {
        "deny"
    } else if actions.contains(&"Warn") {
        "warn"
    } else {
        "dryrun"
    };
    // Variables, expanded in order: each may read the ones before it.
    let generated: BTreeMap<&str, String> = sugar::variables().into_iter().collect();
    let mut variables: BTreeMap<String, String> = BTreeMap::new();
    for variable in spec["variables"].as_array().into_iter().flatten() {
        let (Some(variable_name), Some(expression)) = (variable["name"].as_str(), variable["expression"].as_str())
        else {
            continue;
        };
        let portal_name =
            sugar_variable(variable_name).filter(|_| generated.get(variable_name).is_some_and(|g| g == expression));
        let expanded = match portal_name {
            Some(portal) => portal.to_owned(),
            None => format!("({})", rewrite(expression, &variables)?),
        };
        variables.insert(variable_name.to_owned(), expanded);
    }
    let mut conditions = Vec::new();
    for condition in spec["matchConditions"].as_array().into_iter().flatten() {
        let expression = condition["expression"].as_str().unwrap_or("true");
        // What Portal's own admission already does: not repeated in the rule.
        if portal_behaviour(expression) {
            continue;
        }
        conditions.push(format!("({})", rewrite(expression, &variables)?));
    }
    let match_spec = match_of(&spec["matchConstraints"], binding.map(|b| &b["spec"]["matchResources"]))?;
    let failure_policy = spec["failurePolicy"].as_str().unwrap_or("Fail");
    let validations = spec["validations"].as_array().cloned().unwrap_or_default();
    if validations.is_empty() {
        return Err("has no validations (audit annotations are not imported)".to_owned());
    }
    // Written by `portal export vap`: its shapes are turned back into what the rule said.
    let exported = !policy["metadata"]["labels"][RULE_LABEL].is_null();
    let mut rules = Vec::new();
    for (index, validation) in validations.iter().enumerate() {
        let mut expression = rewrite(validation["expression"].as_str().unwrap_or("true"), &variables)?;
        if exported {
            expression = sugar_fields(&expression);
        }
        let (violation, per_container) = violation_of(&expression, exported);
        let mut rule_text = conditions.clone();
        rule_text.push(violation.clone());
        let mut rule = json!({
            "name": if validations.len() == 1 { rule_name.clone() } else { format!("{rule_name}-{}", index + 1) },
            "enabled": binding.is_some(),
            "enforcementAction": enforcement,
            "failurePolicy": failure_policy,
            "match": match_spec,
            "rule": rule_text.join(" && "),
        });
        if let Some(message) = validation["message"].as_str() {
            rule["message"] = json!(message);
        }
        if let Some(message) = validation["messageExpression"].as_str() {
            let mut message = rewrite(message, &variables)?;
            if exported {
                message = exported_message(&sugar_fields(&message), &violation, per_container).unwrap_or(message);
            }
            rule["messageExpression"] = json!(message);
        }
        rules.push(rule);
    }
    if binding.is_none() {
        notes.push((name.to_owned(), "has no binding, so it enforces nothing: imported disabled".to_owned()));
    }
    Ok(rules)
}

/// `spec.?hostNetwork.orValue(null)` back to `spec.hostNetwork`: how `portal export vap`
/// writes the fields of the sugar that are always present.
fn sugar_fields(expression: &str) -> String {
    let mut text = expression.to_owned();
    for variable in ["spec", "securityContext", "podMetadata"] {
        for (field, default) in sugar::defaulted_fields(variable) {
            let selected = format!("{variable}.?{field}.orValue({default})");
            text = replace_word(&text, &format!("optional.of({selected})"), &format!("{variable}.?{field}"));
            text = replace_word(&text, &selected, &format!("{variable}.{field}"));
        }
    }
    text
}

/// `text` with `from` replaced where it does not continue an identifier or a selection.
fn replace_word(text: &str, from: &str, to: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(from) {
        let before = rest[..at].chars().next_back().or_else(|| out.chars().next_back());
        let joined = before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        out.push_str(&rest[..at]);
        out.push_str(if joined { from } else { to });
        rest = &rest[at + from.len()..];
    }
    out.push_str(rest);
    out
}

/// What violates the validation `expression` (which says what is allowed), and whether it is
/// the per-container shape `portal export vap` writes.
fn violation_of(expression: &str, exported: bool) -> (String, bool) {
    if exported
        && let Some(inner) =
            expression.strip_prefix("!containers.exists(container, (").and_then(|e| e.strip_suffix("))"))
        && balanced(inner)
    {
        return (inner.to_owned(), true);
    }
    match expression.strip_prefix("!(").and_then(|e| e.strip_suffix(')')).filter(|inner| balanced(inner)) {
        Some(inner) => (inner.to_owned(), false),
        None => (format!("!({expression})"), false),
    }
}

/// The rule's own message expression, from the one `portal export vap` wrote.
fn exported_message(message: &str, violation: &str, per_container: bool) -> Option<String> {
    let inner = if per_container {
        message
            .strip_prefix(&format!("containers.filter(container, ({violation})).map(container, string("))?
            .strip_suffix(")).join('; ')")?
    } else {
        message.strip_prefix("string(")?.strip_suffix(')')?
    };
    balanced(inner).then(|| inner.to_owned())
}

/// Whether every parenthesis of `text` (outside string literals) is closed within it.
fn balanced(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let mut depth = 0i32;
    let mut at = 0;
    while at < chars.len() {
        match chars[at] {
            '\'' | '"' => {
                at = string_end(&chars, at);
                continue;
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
        at += 1;
    }
    depth == 0
}

/// The Portal variable an exported policy variable of this name stands for.
fn sugar_variable(name: &str) -> Option<&'static str> {
    match name {
        "metadata" => Some("metadata"),
        "podSpec" => Some("spec"),
        "securityContext" => Some("securityContext"),
        "podMetadata" => Some("podMetadata"),
        "containers" => Some("containers"),
        _ => None,
    }
}

/// The match conditions `portal export vap` adds for what Portal's admission does itself.
fn portal_behaviour(expression: &str) -> bool {
    expression == not_bypassed()
        || expression == crate::matching::NOT_TERMINATING
        || expression == portal_rules::kinds::protected_condition()
}

/// `expression` with every `variables.NAME` replaced by the variable's expansion; refused when
/// it reads something Portal does not have.
fn rewrite(expression: &str, variables: &BTreeMap<String, String>) -> Result<String, String> {
    let chars: Vec<char> = expression.chars().collect();
    let mut out = String::new();
    let mut at = 0;
    while at < chars.len() {
        let c = chars[at];
        if c == '\'' || c == '"' {
            let end = string_end(&chars, at);
            out.extend(&chars[at..end]);
            at = end;
            continue;
        }
        let starts_identifier = (c.is_ascii_alphabetic() || c == '_')
            && (at == 0 || !(chars[at - 1].is_ascii_alphanumeric() || chars[at - 1] == '_' || chars[at - 1] == '.'));
        if !starts_identifier {
            out.push(c);
            at += 1;
            continue;
        }
        let mut end = at;
        while end < chars.len() && (chars[end].is_ascii_alphanumeric() || chars[end] == '_') {
            end += 1;
        }
        let word: String = chars[at..end].iter().collect();
        match word.as_str() {
            "params" | "authorizer" => {
                return Err(format!("reads `{word}`, which Portal rules do not have"));
            }
            "variables" if chars.get(end) == Some(&'.') => {
                let mut field_end = end + 1;
                while field_end < chars.len() && (chars[field_end].is_ascii_alphanumeric() || chars[field_end] == '_') {
                    field_end += 1;
                }
                let field: String = chars[end + 1..field_end].iter().collect();
                let expansion = variables
                    .get(&field)
                    .ok_or_else(|| format!("reads variables.{field}, which the policy does not define"))?;
                out.push_str(expansion);
                at = field_end;
            }
            _ => {
                out.push_str(&word);
                at = end;
            }
        }
    }
    Ok(out)
}

/// Where the string literal starting at `start` ends (after its closing quote).
fn string_end(chars: &[char], start: usize) -> usize {
    let quote = chars[start];
    let triple = chars.get(start + 1) == Some(&quote) && chars.get(start + 2) == Some(&quote);
    let raw = start > 0 && matches!(chars[start - 1], 'r' | 'R');
    let mut at = start + if triple { 3 } else { 1 };
    while at < chars.len() {
        if chars[at] == '\\' && !raw {
            at += 2;
            continue;
        }
        if chars[at] == quote && (!triple || (chars.get(at + 1) == Some(&quote) && chars.get(at + 2) == Some(&quote))) {
            return at + if triple { 3 } else { 1 };
        }
        at += 1;
    }
    chars.len()
}

/// `match` from the policy's `matchConstraints` and the binding's `matchResources`.
fn match_of(constraints: &Json, resources: Option<&Json>) -> Result<Json, String> {
    let mut gvks = Vec::new();
    let mut operations: Vec<String> = Vec::new();
    let mut subresources: Vec<String> = Vec::new();
    for rule in constraints["resourceRules"].as_array().into_iter().flatten() {
        for operation in rule["operations"].as_array().into_iter().flatten().filter_map(Json::as_str) {
            let all = ["CREATE", "UPDATE", "DELETE", "CONNECT"];
            let names: Vec<&str> = if operation == "*" { all.to_vec() } else { vec![operation] };
            for name in names {
                if !operations.iter().any(|known| known == name) {
                    operations.push(name.to_owned());
                }
            }
        }
        for group in rule["apiGroups"].as_array().into_iter().flatten().filter_map(Json::as_str) {
            for version in rule["apiVersions"].as_array().into_iter().flatten().filter_map(Json::as_str) {
                for resource in rule["resources"].as_array().into_iter().flatten().filter_map(Json::as_str) {
                    let (resource, subresource) =
                        resource.split_once('/').map_or((resource, None), |(r, s)| (r, Some(s)));
                    if let Some(subresource) = subresource {
                        // Portal evaluates these whatever a rule says.
                        if !portal_rules::ALWAYS_EVALUATED_SUBRESOURCES.contains(&subresource)
                            && !subresources.iter().any(|known| known == subresource)
                        {
                            subresources.push(subresource.to_owned());
                        }
                        continue;
                    }
                    let kind = if resource == "*" {
                        "*".to_owned()
                    } else {
                        kind_of(resource).ok_or_else(|| {
                            format!("matches resource {resource:?}, whose kind Portal cannot tell; write the rule's match.gvk")
                        })?
                    };
                    let gvk = json!({"group": group, "version": version, "kind": kind});
                    if !gvks.contains(&gvk) {
                        gvks.push(gvk);
                    }
                }
            }
        }
    }
    if gvks.is_empty() {
        return Err("matches no resource".to_owned());
    }
    let mut match_spec = json!({"gvk": gvks, "operations": operations});
    if !subresources.is_empty() {
        match_spec["subresources"] = json!(subresources);
    }
    for (field, selector) in [("namespaceSelector", "namespaceSelector"), ("objectSelector", "objectSelector")] {
        let mut parts = vec![&constraints[selector]];
        if let Some(resources) = resources {
            parts.push(&resources[selector]);
        }
        if let Some(combined) = combined_selector(&parts) {
            match_spec[field] = combined;
        }
    }
    Ok(match_spec)
}

/// The selectors ANDed into one; the one `portal export vap` puts on bindings (Portal's own
/// excluded namespaces and break-glass label) is left out: Portal's admission applies it.
fn combined_selector(selectors: &[&Json]) -> Option<Json> {
    let mut labels = serde_json::Map::new();
    let mut expressions = Vec::new();
    for selector in selectors {
        let system: Vec<String> = SYSTEM_NAMESPACES.iter().map(|ns| (*ns).to_owned()).collect();
        if selector.is_null() || **selector == excluded_selector(&system) {
            continue;
        }
        if let Some(map) = selector["matchLabels"].as_object() {
            labels.extend(map.clone());
        }
        for expression in selector["matchExpressions"].as_array().into_iter().flatten() {
            let is_break_glass =
                expression["key"] == BREAK_GLASS_LABEL && expression["values"] == json!([BREAK_GLASS_VALUE]);
            if !is_break_glass {
                expressions.push(expression.clone());
            }
        }
    }
    if labels.is_empty() && expressions.is_empty() {
        return None;
    }
    let mut selector = json!({});
    if !labels.is_empty() {
        selector["matchLabels"] = Json::Object(labels);
    }
    if !expressions.is_empty() {
        selector["matchExpressions"] = json!(expressions);
    }
    Some(selector)
}

fn kind_of(resource: &str) -> Option<String> {
    KNOWN_KINDS
        .iter()
        .chain(CLUSTER_SCOPED_KINDS)
        .find(|kind| resource_of(kind) == resource)
        .map(|kind| (*kind).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_inlined_outside_string_literals_only() {
        let variables = BTreeMap::from([("max".to_owned(), "(5)".to_owned())]);
        assert_eq!(
            rewrite(
                "x <= variables.max && 'variables.max' != \"variables.max\" && r'\\' + 'it\\'s' == variables.max",
                &variables
            ),
            Ok("x <= (5) && 'variables.max' != \"variables.max\" && r'\\' + 'it\\'s' == (5)".to_owned())
        );
        assert!(rewrite("variables.nope > 1", &variables).is_err_and(|e| e.contains("does not define")));
        assert!(rewrite("authorizer.group('').check('get')", &variables).is_err_and(|e| e.contains("`authorizer`")));
        assert_eq!(rewrite("myparams.x", &variables), Ok("myparams.x".to_owned()));
    }

    #[test]
    fn exported_shapes_turn_back_into_what_the_rule_said() {
        assert_eq!(
            sugar_fields(
                "spec.?hostNetwork.orValue(null) == true && optional.of(spec.?os.orValue(null)) != x.spec.?os.orValue(null)"
            ),
            "spec.hostNetwork == true && spec.?os != x.spec.?os.orValue(null)"
        );
        assert_eq!(
            violation_of("!containers.exists(container, (container.securityContext.privileged == true))", true),
            ("container.securityContext.privileged == true".to_owned(), true)
        );
        assert_eq!(violation_of("!(a) || !(b)", false), ("!(!(a) || !(b))".to_owned(), false));
        assert_eq!(violation_of("!(a || b)", false), ("a || b".to_owned(), false));
    }
}
