//! What `export` makes of rules: the policy's parts, and the reasons rules are not exported.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use portal_rules::{RuleSet, load_rules};
use portal_vap::{ExportOptions, export};
use serde_json::Value;

fn exported(rules: &str) -> portal_vap::Export {
    let (loaded, errors) = load_rules("rules.yaml", rules);
    assert!(errors.is_empty(), "{errors:?}");
    let (set, errors) = RuleSet::compile(loaded);
    assert!(errors.is_empty(), "{errors:?}");
    export(&set, &ExportOptions::default())
}

fn policy(export: &portal_vap::Export) -> &Value {
    export
        .objects
        .iter()
        .find(|o| o["kind"] == "ValidatingAdmissionPolicy")
        .unwrap_or_else(|| panic!("{:?}", export.refused))
}

fn condition<'a>(policy: &'a Value, name: &str) -> Option<&'a str> {
    policy["spec"]["matchConditions"].as_array()?.iter().find(|c| c["name"] == name)?["expression"].as_str()
}

#[test]
fn a_rule_becomes_a_policy_and_a_binding_with_its_actions() {
    let export = exported(
        "name: no-latest\nenforcementAction: warn\nfailurePolicy: Fail\nmatch: {gvk: [{group: apps, version: v1, kind: Deployment}], operations: [CREATE]}\n\
         rule: object.spec.replicas > 10\nmessage: too many\n",
    );
    assert_eq!(export.objects.len(), 2);
    let policy = policy(&export);
    assert_eq!(policy["metadata"]["name"], "portal-no-latest");
    assert_eq!(policy["metadata"]["labels"]["portal.io/rule"], "no-latest");
    assert_eq!(policy["spec"]["failurePolicy"], "Fail");
    assert_eq!(policy["spec"]["validations"][0]["expression"], "!(object.spec.replicas > 10)");
    assert_eq!(policy["spec"]["validations"][0]["message"], "too many");
    let rule = &policy["spec"]["matchConstraints"]["resourceRules"][0];
    assert_eq!(rule["resources"], serde_json::json!(["deployments"]));
    assert_eq!(rule["operations"], serde_json::json!(["CREATE"]));
    let binding = &export.objects[1];
    assert_eq!(binding["spec"]["policyName"], "portal-no-latest");
    assert_eq!(binding["spec"]["validationActions"], serde_json::json!(["Warn"]));
    let excluded = &binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"];
    assert_eq!(excluded[0]["values"], serde_json::json!(["kube-system", "kube-public", "kube-node-lease"]));
    assert_eq!(excluded[1]["key"], "portal.io/admission");
    // It reads the replicas of a scalable kind: scale requests are not mirrored, and it says so.
    assert!(
        export.exported[0].1.iter().any(|note| note.contains("`scale` requests on Deployment")),
        "{:?}",
        export.exported
    );
}

#[test]
fn match_and_exclude_become_conditions_with_portal_semantics() {
    let export = exported(
        "name: scoped\nmatch:\n  gvk: [{group: '', kind: ConfigMap}]\n  namespaces: {include: ['team-*'], exclude: [team-legacy]}\n  \
         objectSelector: {matchLabels: {tier: web}, matchExpressions: [{key: owner, operator: Exists}]}\n  \
         namespaceSelector: {matchLabels: {env: prod}}\nexclude: {operations: [UPDATE], objectSelector: {matchLabels: {frozen: 'true'}}}\n\
         rule: \"object.data.size() > 3\"\n",
    );
    let policy = policy(&export);
    let namespaces = condition(policy, "namespaces").unwrap();
    assert!(namespaces.contains(".matches('^team-.*$')"), "{namespaces}");
    assert!(namespaces.contains("!(") && namespaces.contains(".matches('^team-legacy$')"), "{namespaces}");
    let selector = condition(policy, "object-selector").unwrap();
    assert!(
        selector.contains("('tier' in") && selector.contains("== 'web'") && selector.contains("('owner' in"),
        "{selector}"
    );
    assert_eq!(policy["spec"]["matchConstraints"]["namespaceSelector"]["matchLabels"]["env"], "prod");
    let excluded = condition(policy, "not-excluded").unwrap();
    assert!(excluded.starts_with("!(") && excluded.contains("request.operation in ['UPDATE']"), "{excluded}");
    assert!(condition(policy, "not-terminating").is_some());
    assert!(condition(policy, "not-bypassed").is_some_and(|c| c.contains("'portal.io/bypass'")));
}

#[test]
fn per_container_rules_and_their_messages_iterate_the_containers() {
    let export = exported(
        "name: no-root\nmatch: {gvk: [{group: '', kind: Pod}]}\nrule: container.securityContext.runAsUser == 0\n\
         messageExpression: \"'container ' + container.name + ' runs as root'\"\n",
    );
    let validation = &policy(&export)["spec"]["validations"][0];
    assert_eq!(
        validation["expression"],
        "!variables.containers.exists(container, (container.securityContext.runAsUser == 0))"
    );
    assert_eq!(
        validation["messageExpression"],
        "variables.containers.filter(container, (container.securityContext.runAsUser == 0)).map(container, \
         string('container ' + container.name + ' runs as root')).join('; ')"
    );
}

#[test]
fn rules_the_api_server_cannot_decide_alike_are_refused_with_the_reason() {
    let cases = [
        (
            "match: {gvk: [{group: '', kind: Pod}]}\nrule: containers.exists(c, c.imageRef.registry == 'docker.io')",
            "reads imageRef",
        ),
        (
            "match: {gvk: [{group: '', kind: Pod}]}\nrule: cluster.get('v1', 'ConfigMap', 'a', 'b') == null",
            "reads the cluster",
        ),
        ("match: {gvk: [{group: '', kind: Pod}]}\nrule: math.greatest([1, 2]) > 1", "calls math.greatest()"),
        ("match: {gvk: [{group: '', kind: Pod}]}\nrule: cel.bind(x, 1, x > 0)", "uses cel.bind"),
        ("match: {gvk: [{group: '', kind: Pod}]}\nrule: size(spec) > 3", "uses `spec` as a whole value"),
        (
            "match: {gvk: [{group: '', kind: Pod}]}\nrule: \"['a', object.metadata.name].size() > 1\"",
            "list literal holds one type",
        ),
        ("match: {gvk: [{group: coordination.k8s.io, kind: Lease}]}\nrule: 'true'", "never intercepted"),
    ];
    for (body, reason) in cases {
        let export = exported(&format!("name: r\n{body}\n"));
        assert!(export.objects.is_empty(), "{body}");
        assert!(export.refused[0].1.contains(reason), "{body}: {:?}", export.refused);
    }
    // Audit-only and disabled rules are not admission rules: neither exported nor refused.
    let export = exported("name: a\nmode: [audit]\nmatch: {gvk: [{group: '', kind: Pod}]}\nrule: 'true'\n");
    assert!(export.objects.is_empty() && export.refused.is_empty());
}
