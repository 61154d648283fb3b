//! Exceptions exempt exactly the rules and objects they name, inside their namespace, until they
//! expire, where their condition holds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use portal_rules::exception::{ExceptionSet, load_exceptions};
use portal_rules::{
    Activation, AdmissionVerdict, EvaluationInput, ModeFilter, Operation, Outcome, RuleLimits, RuleSet, load_rules,
};
use serde_json::{Value as Json, json};

const RULES: &str = "
name: no-host-network
match: {gvk: [{group: '', kind: Pod}]}
rule: spec.hostNetwork == true
---
name: no-privileged
match: {gvk: [{group: '', kind: Pod}]}
rule: container.securityContext.?privileged.orValue(false)
---
name: namespaces-labelled
match: {gvk: [{group: '', kind: Namespace}]}
rule: \"!has(object.metadata.labels)\"
";

fn set_with(exceptions: &str) -> RuleSet {
    let (rules, errors) = load_rules("rules.yaml", RULES);
    assert!(errors.is_empty(), "{errors:?}");
    let (set, errors) = RuleSet::compile(rules);
    assert!(errors.is_empty(), "{errors:?}");
    let (loaded, errors) = load_exceptions("exceptions.yaml", exceptions);
    assert!(errors.is_empty(), "{errors:?}");
    let (exceptions, errors) = ExceptionSet::compile(loaded, &RuleLimits::default());
    assert!(errors.is_empty(), "{errors:?}");
    set.with_exceptions(exceptions)
}

fn pod(namespace: &str, name: &str, labels: Json) -> Json {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": namespace, "labels": labels},
           "spec": {"hostNetwork": true, "containers": [{"name": "c", "image": "x", "securityContext": {"privileged": true}}]}})
}

/// (rule, outcome, exception) of every matching rule on `object` at CREATE.
fn outcomes(set: &RuleSet, object: &Json) -> Vec<(String, Outcome, Option<String>)> {
    let activation = Activation::new(EvaluationInput {
        object: Some(object),
        operation: Some(Operation::Create),
        ..Default::default()
    });
    set.evaluate(&activation, ModeFilter::Any)
        .iter()
        .map(|r| (r.rule.name().to_owned(), r.outcome(), r.exception.as_deref().map(str::to_owned)))
        .collect()
}

fn exception(kind_and_namespace: &str, spec: &str) -> String {
    format!("apiVersion: portal.io/v1alpha1\n{kind_and_namespace}\nspec:\n  justification: test\n{spec}\n---\n")
}

const IN_SHOP: &str = "kind: PortalException\nmetadata: {name: legacy, namespace: shop}";
const CLUSTER: &str = "kind: PortalClusterException\nmetadata: {name: everywhere}";

fn skip(rule: &str, exception: &str) -> (String, Outcome, Option<String>) {
    (rule.to_owned(), Outcome::Skip, Some(exception.to_owned()))
}

fn fail(rule: &str) -> (String, Outcome, Option<String>) {
    (rule.to_owned(), Outcome::Fail, None)
}

#[test]
fn an_exception_exempts_only_the_rules_it_names() {
    let set = set_with(&exception(IN_SHOP, "  rules: [no-host-*]"));
    assert_eq!(
        outcomes(&set, &pod("shop", "web", json!({}))),
        [skip("no-host-network", "PortalException/shop/legacy"), fail("no-privileged")]
    );
}

#[test]
fn a_namespaced_exception_never_reaches_beyond_its_namespace() {
    let set = set_with(&exception(IN_SHOP, "  rules: ['*']\n  match: {namespaces: {include: ['*']}}"));
    assert_eq!(outcomes(&set, &pod("other", "web", json!({}))), [fail("no-host-network"), fail("no-privileged")]);
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}});
    assert_eq!(outcomes(&set, &namespace), [fail("namespaces-labelled")], "the Namespace object is cluster-scoped");
    let cluster_wide = set_with(&exception(CLUSTER, "  rules: ['*']"));
    assert_eq!(outcomes(&cluster_wide, &namespace), [skip("namespaces-labelled", "PortalClusterException/everywhere")]);
}

#[test]
fn names_selectors_and_operations_narrow_it() {
    let set = set_with(&exception(
        CLUSTER,
        "  rules: ['*']\n  names: [legacy-*]\n  match: {gvk: [{group: '', kind: Pod}], objectSelector: {matchLabels: {tier: old}}, operations: [CREATE]}",
    ));
    let both = [
        skip("no-host-network", "PortalClusterException/everywhere"),
        skip("no-privileged", "PortalClusterException/everywhere"),
    ];
    assert_eq!(outcomes(&set, &pod("a", "legacy-1", json!({"tier": "old"}))), both);
    let enforced = [fail("no-host-network"), fail("no-privileged")];
    assert_eq!(outcomes(&set, &pod("a", "web", json!({"tier": "old"}))), enforced, "another name");
    assert_eq!(outcomes(&set, &pod("a", "legacy-1", json!({"tier": "new"}))), enforced, "another label");
    let legacy = pod("a", "legacy-1", json!({"tier": "old"}));
    let update = Activation::new(EvaluationInput {
        object: Some(&legacy),
        operation: Some(Operation::Update),
        ..Default::default()
    });
    assert!(set.evaluate(&update, ModeFilter::Any).iter().all(|r| r.exception.is_none()), "another operation");
}

#[test]
fn an_expired_exception_no_longer_exempts() {
    let expired = set_with(&exception(CLUSTER, "  rules: ['*']\n  expires: 2020-01-01T00:00:00Z"));
    assert_eq!(outcomes(&expired, &pod("a", "web", json!({}))), [fail("no-host-network"), fail("no-privileged")]);
    let future = set_with(&exception(CLUSTER, "  rules: [no-privileged]\n  expires: 2999-01-01T00:00:00Z"));
    assert_eq!(
        outcomes(&future, &pod("a", "web", json!({}))),
        [fail("no-host-network"), skip("no-privileged", "PortalClusterException/everywhere")]
    );
    let now = std::time::SystemTime::now();
    assert!(future.exceptions().next_expiry(now).is_some());
    assert!(expired.exceptions().next_expiry(now).is_none());
}

#[test]
fn an_evaluation_at_a_given_time_judges_expiry_and_stamps_violations_then() {
    let set = set_with(&exception(CLUSTER, "  rules: [no-privileged]\n  expires: 2020-01-01T00:00:00Z"));
    let object = pod("a", "web", json!({}));
    let before_expiry = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_500_000_000);
    let activation = Activation::new(EvaluationInput {
        object: Some(&object),
        operation: Some(Operation::Create),
        ..Default::default()
    })
    .at(before_expiry);
    assert_eq!(activation.time(), before_expiry);
    let results = set.evaluate(&activation, ModeFilter::Any);
    let exempted: Vec<_> = results.iter().filter_map(|r| r.exception.as_deref()).collect();
    assert_eq!(exempted, ["PortalClusterException/everywhere"], "in 2017 the exception had not expired");
    let violations: Vec<_> = results.iter().flat_map(|r| &r.violations).collect();
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].timestamp, before_expiry);
}

#[test]
fn the_condition_decides_and_an_error_does_not_exempt() {
    let set = set_with(&exception(CLUSTER, "  rules: ['*']\n  condition: object.metadata.labels.team == 'infra'"));
    assert_eq!(outcomes(&set, &pod("a", "web", json!({"team": "infra"})))[0].1, Outcome::Skip);
    assert_eq!(outcomes(&set, &pod("a", "web", json!({"team": "shop"})))[0].1, Outcome::Fail);
    // No `team` label: the condition fails to evaluate, so the rule is enforced.
    assert_eq!(outcomes(&set, &pod("a", "web", json!({})))[0].1, Outcome::Fail);
}

#[test]
fn exempted_rules_deny_nothing_and_are_recorded() {
    let set = set_with(&exception(IN_SHOP, "  rules: [no-host-network, no-privileged]"));
    let object = pod("shop", "web", json!({}));
    let activation = Activation::new(EvaluationInput {
        object: Some(&object),
        operation: Some(Operation::Create),
        ..Default::default()
    });
    let verdict = AdmissionVerdict::of(&set.evaluate(&activation, ModeFilter::Any));
    assert!(verdict.allowed(), "{verdict:?}");
    assert_eq!(verdict.exemptions.len(), 2);
    assert_eq!(verdict.exemptions[0], ("no-host-network".to_owned(), "PortalException/shop/legacy".to_owned()));
}

#[test]
fn a_bad_condition_is_refused_with_its_position() {
    let (loaded, errors) =
        load_exceptions("x.yaml", &exception(CLUSTER, "  rules: ['*']\n  condition: object.metadata.name ==\n"));
    assert!(errors.is_empty(), "{errors:?}");
    let (_, errors) = ExceptionSet::compile(loaded, &RuleLimits::default());
    let message = errors[0].to_string();
    assert!(
        message.starts_with(
            "x.yaml:1: exception \"PortalClusterException/everywhere\": `spec.condition` is refused at line 1, column"
        ),
        "{message}"
    );
    for (condition, expected) in [
        ("container.image == 'x'", "cannot read `container`"),
        ("size(object.metadata.name)", "must evaluate to a bool"),
        ("cluster.get('v1', 'ConfigMap', 'a', 'b') != null", "cannot call cluster.get"),
    ] {
        let (loaded, _) =
            load_exceptions("x.yaml", &exception(CLUSTER, &format!("  rules: ['*']\n  condition: \"{condition}\"")));
        let (_, errors) = ExceptionSet::compile(loaded, &RuleLimits::default());
        assert!(errors.first().is_some_and(|e| e.to_string().contains(expected)), "{condition}: {errors:?}");
    }
}
