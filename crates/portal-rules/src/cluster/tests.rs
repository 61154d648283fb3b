#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use serde_json::{Value as Json, json};

use super::*;
use crate::{Activation, EvaluationInput, ModeFilter, RuleLimits, RuleResult, RuleSet, load_rules};

fn rules(text: &str) -> RuleSet {
    rules_in(text, None, RuleLimits::default())
}

fn rules_in(text: &str, namespace: Option<&str>, limits: RuleLimits) -> RuleSet {
    let (mut loaded, errors) = load_rules("t", text);
    assert!(errors.is_empty(), "{errors:?}");
    for rule in &mut loaded {
        rule.namespace = namespace.map(str::to_owned);
    }
    let (set, errors) = RuleSet::compile_with_limits(loaded, limits);
    assert!(errors.is_empty(), "{:?}", errors.iter().map(ToString::to_string).collect::<Vec<_>>());
    set
}

fn load_error(text: &str) -> String {
    let (loaded, errors) = load_rules("t", text);
    assert!(errors.is_empty(), "{errors:?}");
    let (_, errors) = RuleSet::compile(loaded);
    errors.first().map(ToString::to_string).expect("a load error")
}

fn snapshot(objects: &[Json]) -> Arc<dyn ClusterView> {
    let mut snapshot = ClusterSnapshot::new();
    for object in objects {
        snapshot.insert(object.clone()).unwrap();
    }
    Arc::new(snapshot)
}

/// (rule, violated, errors) of every rule evaluated on `object`.
fn evaluate(set: &RuleSet, object: &Json, view: Option<&Arc<dyn ClusterView>>) -> Vec<(String, bool, Vec<String>)> {
    let activation = Activation::new(EvaluationInput { object: Some(object), cluster: view, ..Default::default() });
    set.evaluate(&activation, ModeFilter::Any)
        .iter()
        .map(|result: &RuleResult<'_>| {
            (
                result.rule.name().to_owned(),
                !result.violations.is_empty(),
                result.errors.iter().map(|error| error.message.clone()).collect(),
            )
        })
        .collect()
}

fn pod(namespace: &str, name: &str, config_map: &str) -> Json {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
           "spec": {"volumes": [{"name": "v", "configMap": {"name": config_map}}], "containers": [{"name": "c", "image": "x"}]}})
}

fn config_map(namespace: &str, name: &str) -> Json {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}})
}

const MISSING_CONFIG_MAP: &str = "\
name: missing-config-map
match: {gvk: [{group: '', kind: Pod}]}
rule: >-
  object.spec.volumes.exists(v, has(v.configMap) &&
    cluster.get('v1', 'ConfigMap', object.metadata.namespace, v.configMap.name) == null)
";

#[test]
fn the_kinds_a_rule_reads_are_known_at_load() {
    let set = rules(&format!(
        "{MISSING_CONFIG_MAP}---\nname: lonely\nmatch: {{gvk: [{{group: '', kind: Service}}]}}\n\
         rule: cluster.list('v1', 'Pod', object.metadata.namespace, object.spec.selector).size() == 0\n\
         messageExpression: \"'no pods of ' + string(cluster.list('apps/v1', 'Deployment', '').size())\"\n"
    ));
    assert_eq!(set.get("missing-config-map").unwrap().lookups(), [LookupTarget::new("v1", "ConfigMap")]);
    assert_eq!(
        set.get("lonely").unwrap().lookups(),
        [LookupTarget::new("apps/v1", "Deployment"), LookupTarget::new("v1", "Pod")]
    );
    assert!(set.reads_cluster());
    let plain = rules("name: plain\nmatch: {gvk: [{group: '', kind: Pod}]}\nrule: 'false'\n");
    assert!(!plain.reads_cluster(), "no view is built for rule sets that never look");
    assert_eq!(LookupTarget::new("apps/v1", "Deployment").group(), "apps");
    assert_eq!(LookupTarget::new("v1", "Pod").group(), "");
}

#[test]
fn a_lookup_target_that_is_not_literal_is_refused_with_its_position() {
    let message = load_error(
        "name: computed\nmatch: {gvk: [{group: '', kind: Pod}]}\nrule: |-\n  object.metadata.name == 'x' ||\n    cluster.get('v1', object.kind, 'ns', 'n') == null\n",
    );
    assert!(message.contains("line 2, column 27"), "{message}");
    assert!(message.contains("cluster.get needs its apiVersion and kind as literal strings"), "{message}");
    let message = load_error(
        "name: computed\nmatch: {gvk: [{group: '', kind: Pod}]}\nrule: \"cluster.list('v' + '1', 'Pod', '').size() > 1\"\n",
    );
    assert!(message.contains("cluster.list needs"), "{message}");
}

#[test]
fn get_finds_the_object_or_null() {
    let set = rules(MISSING_CONFIG_MAP);
    let view = snapshot(&[config_map("shop", "settings"), config_map("other", "missing")]);
    assert_eq!(
        evaluate(&set, &pod("shop", "web", "settings"), Some(&view)),
        [("missing-config-map".into(), false, vec![])]
    );
    // The ConfigMap of that name is in another namespace.
    assert_eq!(
        evaluate(&set, &pod("shop", "web", "missing"), Some(&view)),
        [("missing-config-map".into(), true, vec![])]
    );
}

#[test]
fn list_selects_by_namespace_and_labels() {
    let set = rules(
        "name: lonely-service\nmatch: {gvk: [{group: '', kind: Service}]}\n\
         rule: cluster.list('v1', 'Pod', object.metadata.namespace, object.spec.selector).size() == 0\n\
         ---\nname: pods-everywhere\nmatch: {gvk: [{group: '', kind: Service}]}\n\
         rule: cluster.list('v1', 'Pod', '').size() != 3\n",
    );
    let view = snapshot(&[pod("shop", "web", "c"), pod("shop", "db", "c"), pod("other", "web", "c")]);
    let service = |selector: Json| json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "shop"}, "spec": {"selector": selector}});
    let found = evaluate(&set, &service(json!({"app": "web"})), Some(&view));
    assert_eq!(found, [("lonely-service".into(), false, vec![]), ("pods-everywhere".into(), false, vec![])]);
    let found = evaluate(&set, &service(json!({"app": "cache"})), Some(&view));
    assert_eq!(found[0], ("lonely-service".into(), true, vec![]));
}

#[test]
fn the_reads_of_each_rule_are_recorded() {
    let set = rules(MISSING_CONFIG_MAP);
    let view = snapshot(&[]);
    let object = pod("shop", "web", "settings");
    let activation =
        Activation::new(EvaluationInput { object: Some(&object), cluster: Some(&view), ..Default::default() });
    let results = set.evaluate(&activation, ModeFilter::Any);
    let read = ClusterRead::Object {
        target: LookupTarget::new("v1", "ConfigMap"),
        namespace: Some("shop".into()),
        name: "settings".into(),
    };
    assert_eq!(results[0].reads, std::slice::from_ref(&read));
    let labels = std::collections::BTreeMap::new();
    assert!(read.covers(&LookupTarget::new("v1", "ConfigMap"), Some("shop"), "settings", &labels));
    assert!(!read.covers(&LookupTarget::new("v1", "ConfigMap"), Some("other"), "settings", &labels));
    assert!(!read.covers(&LookupTarget::new("v1", "Secret"), Some("shop"), "settings", &labels));
}

#[test]
fn a_rule_that_reads_many_objects_is_noted_as_reading_their_whole_kind() {
    let set = rules(
        "name: many\nmatch: {gvk: [{group: '', kind: Pod}]}\n\
         rule: lists.range(40).exists(i, cluster.get('v1', 'ConfigMap', 'shop', 'c' + string(i)) != null)\n",
    );
    let view = snapshot(&[]);
    let object = pod("shop", "web", "settings");
    let activation =
        Activation::new(EvaluationInput { object: Some(&object), cluster: Some(&view), ..Default::default() });
    let results = set.evaluate(&activation, ModeFilter::Any);
    let whole_kind = ClusterRead::List {
        target: LookupTarget::new("v1", "ConfigMap"),
        namespace: None,
        selector: LabelSelector::new(),
    };
    assert_eq!(results[0].reads, [whole_kind]);
}

#[test]
fn without_a_cluster_a_lookup_is_an_error_that_says_so() {
    let set = rules(MISSING_CONFIG_MAP);
    let found = evaluate(&set, &pod("shop", "web", "settings"), None);
    let (_, violated, errors) = &found[0];
    assert!(!violated);
    assert!(errors[0].contains("this evaluation has no cluster to read"), "{errors:?}");
}

#[test]
fn a_portal_rule_reads_only_its_own_namespace() {
    let set = rules_in(
        "name: peek\nmatch: {gvk: [{group: '', kind: Pod}]}\nrule: cluster.get('v1', 'Secret', 'kube-system', 'admin') != null\n\
         ---\nname: own\nmatch: {gvk: [{group: '', kind: Pod}]}\nrule: cluster.list('v1', 'ConfigMap', '').size() > 0\n",
        Some("shop"),
        RuleLimits::default(),
    );
    let secret =
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "admin", "namespace": "kube-system"}});
    let view = snapshot(&[secret, config_map("other", "elsewhere")]);
    let found = evaluate(&set, &pod("shop", "web", "c"), Some(&view));
    assert!(found[0].2[0].contains("a PortalRule in namespace shop may only look up objects in shop"), "{found:?}");
    // Listing "every namespace" lists its own: the other namespace's ConfigMap is not seen.
    assert_eq!(found[1], ("own".into(), false, vec![]));
}

#[test]
fn what_a_list_returns_is_charged_to_the_budget() {
    let limits = RuleLimits { max_iterations: 10, ..RuleLimits::default() };
    let set = rules_in(
        "name: many\nmatch: {gvk: [{group: '', kind: Service}]}\nrule: cluster.list('v1', 'Pod', '').size() > 100\n",
        None,
        limits,
    );
    let pods: Vec<Json> = (0..20).map(|i| pod("shop", &format!("p{i}"), "c")).collect();
    let view = snapshot(&pods);
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "shop"}});
    let found = evaluate(&set, &service, Some(&view));
    assert!(found[0].2[0].contains("more than 10 elements"), "{found:?}");
}

const UNIQUE_HOST: &str = "\
name: unique-ingress-host
match: {gvk: [{group: networking.k8s.io, kind: Ingress}]}
rule: >-
  object.spec.rules.exists(r, cluster.list('networking.k8s.io/v1', 'Ingress', '').exists(other,
    !(other.metadata.namespace == object.metadata.namespace && other.metadata.name == object.metadata.name) &&
    other.spec.rules.exists(o, o.host == r.host)))
";

fn ingress(namespace: &str, name: &str, host: &str) -> Json {
    json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name, "namespace": namespace},
           "spec": {"rules": [{"host": host}]}})
}

fn admitted(set: &RuleSet, base: &Arc<dyn ClusterView>, object: Option<&Json>, old: Option<&Json>) -> bool {
    let subject = object.or(old).unwrap();
    let identity = crate::ObjectIdentity::of(subject);
    let view: Arc<dyn ClusterView> = Arc::new(Overlay::new(Arc::clone(base), &identity, object.cloned()));
    let activation =
        Activation::new(EvaluationInput { object, old_object: old, cluster: Some(&view), ..Default::default() });
    set.evaluate(&activation, ModeFilter::Any)
        .iter()
        .all(|result| result.violations.is_empty() && result.errors.is_empty())
}

#[test]
fn at_admission_the_object_under_review_is_seen_as_it_will_be() {
    let set = rules(UNIQUE_HOST);
    let base = snapshot(&[ingress("shop", "web", "shop.example"), ingress("blog", "web", "blog.example")]);
    // CREATE of a new host: only the new object has it (and is left out by name).
    assert!(admitted(&set, &base, Some(&ingress("news", "web", "news.example")), None));
    // CREATE of a taken host: denied.
    assert!(!admitted(&set, &base, Some(&ingress("news", "web", "shop.example")), None));
    // UPDATE of shop/web keeping its host: its old version does not count as another Ingress.
    let old = ingress("shop", "web", "shop.example");
    assert!(admitted(&set, &base, Some(&ingress("shop", "web", "shop.example")), Some(&old)));
    // UPDATE of blog/web to shop's host: denied.
    assert!(!admitted(
        &set,
        &base,
        Some(&ingress("blog", "web", "shop.example")),
        Some(&ingress("blog", "web", "blog.example"))
    ));

    // The overlay itself: DELETE removes the object from gets and lists.
    let target = LookupTarget::new("networking.k8s.io/v1", "Ingress");
    let deleted = Overlay::new(Arc::clone(&base), &crate::ObjectIdentity::of(&old), None);
    assert!(deleted.get(&target, Some("shop"), "web").unwrap().is_none());
    assert_eq!(deleted.list(&target, None, &LabelSelector::new()).unwrap().len(), 1);
    let created = Overlay::new(
        Arc::clone(&base),
        &crate::ObjectIdentity::of(&ingress("a", "first", "x")),
        Some(ingress("a", "first", "x")),
    );
    let names: Vec<String> = created
        .list(&target, None, &LabelSelector::new())
        .unwrap()
        .iter()
        .map(|object| format!("{}/{}", object.namespace().unwrap(), object.name().unwrap()))
        .collect();
    assert_eq!(names, ["a/first", "blog/web", "shop/web"], "in the base's order");
    let updated =
        Overlay::new(Arc::clone(&base), &crate::ObjectIdentity::of(&old), Some(ingress("shop", "web", "new.example")));
    let found = updated.get(&target, Some("shop"), "web").unwrap().unwrap();
    assert_eq!(found.json()["spec"]["rules"][0]["host"], "new.example");
    assert_eq!(updated.list(&target, Some("shop"), &LabelSelector::new()).unwrap().len(), 1);
}
