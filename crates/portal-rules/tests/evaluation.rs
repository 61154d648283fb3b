//! Behaviour of the rule engine through its public API: sugar, per-container attribution,
//! matching, messages and error handling.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use portal_rules::{
    Activation, EvaluationInput, ModeFilter, Operation, Outcome, RuleSet, SharedRuleSet, evaluate_expression,
    load_rules,
};
use serde_json::{Value, json};

fn rules(yaml: &str) -> RuleSet {
    let (loaded, errors) = load_rules("test.yaml", yaml);
    assert!(errors.is_empty(), "{errors:?}");
    let (set, errors) = RuleSet::compile(loaded);
    assert!(errors.is_empty(), "{}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
    set
}

fn compile_errors(yaml: &str) -> Vec<String> {
    let (loaded, errors) = load_rules("test.yaml", yaml);
    assert!(errors.is_empty(), "{errors:?}");
    RuleSet::compile(loaded).1.iter().map(ToString::to_string).collect()
}

fn pod_rule(name: &str, rule: &str) -> String {
    format!(
        "name: {name}\nmatch: {{gvk: [{{group: '', version: v1, kind: Pod}}, {{group: apps, version: v1, kind: Deployment}}, {{group: batch, version: v1, kind: CronJob}}]}}\nrule: {rule:?}\n"
    )
}

fn eval(expr: &str, object: &Value) -> Value {
    let activation = Activation::new(EvaluationInput { object: Some(object), ..Default::default() });
    evaluate_expression(expr, &activation).unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "team-a", "labels": {"app": "web"}}, "spec": spec})
}

fn bare_pod() -> Value {
    pod(json!({"containers": [{"name": "app", "image": "nginx"}]}))
}

/// (rule name, outcome, containers that violated) for every matching rule.
fn outcomes(set: &RuleSet, object: &Value) -> Vec<(String, Outcome, Vec<Option<String>>)> {
    let activation = Activation::new(EvaluationInput {
        object: Some(object),
        operation: Some(Operation::Create),
        ..Default::default()
    });
    set.evaluate(&activation, ModeFilter::Any)
        .into_iter()
        .map(|r| (r.rule.name().to_owned(), r.outcome(), r.violations.iter().map(|v| v.container.clone()).collect()))
        .collect()
}

#[test]
fn sugar_fields_are_always_present_on_a_bare_pod() {
    let object = bare_pod();
    for field in [
        "spec.hostPID",
        "spec.hostNetwork",
        "spec.hostIPC",
        "spec.hostUsers",
        "spec.serviceAccountName",
        "spec.automountServiceAccountToken",
        "spec.os",
        "securityContext.runAsUser",
        "securityContext.runAsNonRoot",
        "securityContext.seccompProfile",
        "securityContext.appArmorProfile",
        "securityContext.seLinuxOptions",
        "securityContext.windowsOptions",
        "containers[0].command",
        "containers[0].args",
        "containers[0].resources",
        "containers[0].livenessProbe",
        "containers[0].lifecycle",
        "containers[0].securityContext.privileged",
        "containers[0].securityContext.allowPrivilegeEscalation",
        "containers[0].securityContext.readOnlyRootFilesystem",
        "containers[0].securityContext.runAsUser",
        "containers[0].securityContext.runAsGroup",
        "containers[0].securityContext.runAsNonRoot",
        "containers[0].securityContext.procMount",
        "containers[0].securityContext.seccompProfile",
        "containers[0].securityContext.appArmorProfile",
        "containers[0].securityContext.seLinuxOptions",
        "containers[0].securityContext.windowsOptions",
    ] {
        assert_eq!(eval(&format!("{field} == null"), &object), json!(true), "{field}");
    }
    for field in [
        "spec.volumes",
        "securityContext.sysctls",
        "containers[0].ports",
        "containers[0].env",
        "containers[0].volumeMounts",
        "containers[0].securityContext.capabilities.add",
        "containers[0].securityContext.capabilities.drop",
    ] {
        assert_eq!(eval(&format!("{field} == []"), &object), json!(true), "{field}");
    }
    assert_eq!(eval("podMetadata.labels", &object), json!({"app": "web"}));
    assert_eq!(eval("podMetadata.name", &object), json!("p"));
    assert_eq!(eval("podMetadata.annotations", &object), json!({}));
    assert_eq!(eval("metadata.name", &object), json!("p"));
    assert_eq!(eval("containers[0].containerType", &object), json!("standard"));
    assert_eq!(eval("containers[0].name", &object), json!("app"));
    assert_eq!(eval("containers[0].image", &object), json!("nginx"));
    assert_eq!(
        eval("containers[0].imageRef", &object),
        json!({"registry": "docker.io", "repository": "library/nginx", "tag": "latest", "digest": null})
    );
    assert_eq!(eval("oldObject == null && request == null && namespaceObject == null", &object), json!(true));
}

#[test]
fn present_values_pass_through_and_pod_spec_keeps_other_fields() {
    let object = pod(json!({
        "hostNetwork": true,
        "serviceAccountName": "web",
        "restartPolicy": "Always",
        "securityContext": {"runAsUser": 1000, "sysctls": [{"name": "kernel.shm_rmid_forced", "value": "0"}]},
        "containers": [{"name": "app", "image": "ghcr.io/o/app:1", "securityContext": {"privileged": true, "capabilities": {"add": ["NET_ADMIN"]}}}]
    }));
    assert_eq!(eval("spec.hostNetwork", &object), json!(true));
    assert_eq!(eval("spec.restartPolicy", &object), json!("Always"));
    assert_eq!(eval("securityContext.runAsUser + 1", &object), json!(1001));
    assert_eq!(eval("securityContext.sysctls[0].name", &object), json!("kernel.shm_rmid_forced"));
    assert_eq!(eval("containers[0].securityContext.capabilities", &object), json!({"add": ["NET_ADMIN"], "drop": []}));
}

#[test]
fn json_integers_are_cel_ints() {
    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 3, "template": {"spec": {"containers": []}}}});
    assert_eq!(eval("object.spec.replicas + 1", &deployment), json!(4));
    assert_eq!(eval("object.spec.replicas > 2", &deployment), json!(true));
    assert_eq!(eval("type(object.spec.replicas) == int", &deployment), json!(true));
}

/// As the API server decodes JSON: int64 when the integer fits, else double — never uint (it
/// was uint before, unlike Kubernetes).
#[test]
fn integers_past_int64_are_doubles_as_in_kubernetes() {
    let object: Value = serde_json::from_str(
        r#"{"max": 9223372036854775807, "past": 9223372036854775808, "huge": 18446744073709551616, "min": -9223372036854775808}"#,
    )
    .unwrap();
    assert_eq!(eval("type(object.max) == int && type(object.min) == int", &object), json!(true));
    assert_eq!(eval("type(object.past) == double && type(object.huge) == double", &object), json!(true));
    assert_eq!(eval("object.huge > 1.8e19", &object), json!(true));
}

/// JSON has no number for them: they print as the proto3 JSON mapping writes them (CEL's own JSON
/// form), not as `null`.
#[test]
fn non_finite_doubles_print_as_proto3_json_does() {
    let none = json!({});
    assert_eq!(eval("1.0/0.0", &none), json!("Infinity"));
    assert_eq!(eval("-1.0/0.0", &none), json!("-Infinity"));
    assert_eq!(eval("[0.0/0.0, 2.5]", &none), json!(["NaN", 2.5]));
}

#[test]
fn optional_syntax_reads_deep_paths_without_has_chains() {
    let object = bare_pod();
    assert_eq!(eval("object.?spec.?affinity.?nodeAffinity.orValue('none')", &object), json!("none"));
    assert_eq!(eval("object.?metadata.?labels[?'app'].orValue('')", &object), json!("web"));
    assert_eq!(eval("containers[0].?livenessProbe.?httpGet.?host.hasValue()", &object), json!(false));
}

#[test]
fn field_chains_read_like_selections_from_the_innermost_variable() {
    let object =
        pod(json!({"containers": [{"name": "app", "image": "nginx", "securityContext": {"privileged": true}}]}));
    assert_eq!(eval("object.spec.containers[0].securityContext.privileged", &object), json!(true));
    assert_eq!(eval("object.metadata.labels.app", &object), json!("web"));
    // A comprehension variable shadows the rule variable of the same name, in chains too.
    assert_eq!(eval("[{'spec': {'name': 'inner'}}].map(object, object.spec.name)", &object), json!(["inner"]));
    assert_eq!(eval("[{'image': 'x'}].all(container, container.image == 'x')", &object), json!(true));
    assert_eq!(eval("has(object.spec.hostNetwork)", &object), json!(false));
    assert_eq!(eval("has(object.metadata.labels.app)", &object), json!(true));
    // A missing field or a field of a non-map is an error naming what was missing, as before.
    let activation = Activation::new(EvaluationInput { object: Some(&object), ..Default::default() });
    let missing = evaluate_expression("object.spec.hostNetwork.enabled", &activation).unwrap_err().to_string();
    assert!(missing.contains("hostNetwork"), "{missing}");
    let not_a_map = evaluate_expression("object.kind.name == 'x'", &activation).unwrap_err().to_string();
    assert!(not_a_map.contains("name") || not_a_map.contains("_._"), "{not_a_map}");
}

#[test]
fn templates_are_found_at_their_usual_paths() {
    let container = json!([{"name": "c", "image": "busybox", "securityContext": {"privileged": true}}]);
    let template = json!({"metadata": {"labels": {"t": "1"}}, "spec": {"hostPID": true, "containers": container}});
    let kinds = [
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": {"template": template}}),
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "x"}, "spec": {"template": template}}),
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "x"}, "spec": {"template": template}}),
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "x"}, "spec": {"template": template}}),
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "x"}, "spec": {"template": template}}),
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "x"}, "spec": {"jobTemplate": {"spec": {"template": template}}}}),
        json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "x"}, "spec": {"template": template}}),
        json!({"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "x"}, "template": template}),
    ];
    for object in &kinds {
        assert_eq!(
            eval("spec.hostPID && containers[0].securityContext.privileged && podMetadata.labels.t == '1'", object),
            json!(true),
            "{}",
            object["kind"]
        );
    }
    let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
    assert_eq!(eval("spec == null && containers == [] && securityContext == null", &config_map), json!(true));
}

#[test]
fn container_types_cover_init_and_ephemeral() {
    let object = pod(json!({
        "containers": [{"name": "app", "image": "a"}],
        "initContainers": [{"name": "init", "image": "b"}],
        "ephemeralContainers": [{"name": "debug", "image": "c"}],
    }));
    assert_eq!(
        eval("containers.map(c, c.name + ':' + c.containerType)", &object),
        json!(["app:standard", "init:init", "debug:ephemeral"])
    );
}

#[test]
fn rules_mentioning_container_run_per_container_and_name_it() {
    let set = rules(&pod_rule("privileged", "container.securityContext.privileged == true"));
    let object = pod(json!({
        "containers": [{"name": "ok", "image": "a"}, {"name": "bad", "image": "a", "securityContext": {"privileged": true}}],
        "initContainers": [{"name": "bad-init", "image": "a", "securityContext": {"privileged": true}}],
    }));
    assert_eq!(
        outcomes(&set, &object),
        vec![("privileged".to_owned(), Outcome::Fail, vec![Some("bad".to_owned()), Some("bad-init".to_owned())])]
    );
    let set = rules(&pod_rule("host-network", "spec.hostNetwork == true"));
    let object =
        pod(json!({"hostNetwork": true, "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "x"}]}));
    assert_eq!(outcomes(&set, &object), vec![("host-network".to_owned(), Outcome::Fail, vec![None])]);
    // A comprehension variable named `container` is not the rule variable: one evaluation, one
    // violation for the pod, not one per container.
    let set = rules(&pod_rule(
        "any-privileged",
        "containers.exists(container, container.securityContext.privileged == true)",
    ));
    let object = pod(
        json!({"containers": [{"name": "a", "image": "x", "securityContext": {"privileged": true}}, {"name": "b", "image": "x"}]}),
    );
    assert_eq!(outcomes(&set, &object), vec![("any-privileged".to_owned(), Outcome::Fail, vec![None])]);
}

#[test]
fn message_expression_falls_back_to_message_as_kubernetes_does() {
    let message = |message_expression: &str| {
        let yaml =
            format!("{}message: static message\nmessageExpression: {message_expression:?}\n", pod_rule("r", "true"));
        let set = rules(&yaml);
        let object = bare_pod();
        let activation = Activation::new(EvaluationInput { object: Some(&object), ..Default::default() });
        set.evaluate(&activation, ModeFilter::Any)[0].violations[0].message.clone()
    };
    assert_eq!(message("'  dynamic ' + metadata.name + '  '"), "dynamic p");
    assert_eq!(message("metadata.missing"), "static message", "an error falls back");
    assert_eq!(message("dyn(metadata.name.size())"), "static message", "a non-string falls back");
    assert_eq!(message("'   '"), "static message", "an empty result falls back");
    assert_eq!(message("'a\\nb'"), "static message", "a multi-line result falls back");
    assert_eq!(message("lists.range(5121).map(i, 'x').join('')"), "static message", "an over-5KB result falls back");
    assert_eq!(message("lists.range(5120).map(i, 'x').join('')").len(), 5120, "5 KB exactly is kept");
    let set = rules(&pod_rule("unnamed-message", "true"));
    let object = bare_pod();
    let activation = Activation::new(EvaluationInput { object: Some(&object), ..Default::default() });
    assert_eq!(set.evaluate(&activation, ModeFilter::Any)[0].violations[0].message, "failed rule unnamed-message");
}

#[test]
fn evaluation_errors_are_never_violations() {
    let set = rules(&format!(
        "{}---\n{}",
        pod_rule("errors", "object.spec.nope == 1"),
        pod_rule("not-bool", "metadata.name")
    ));
    let object = bare_pod();
    let activation = Activation::new(EvaluationInput { object: Some(&object), ..Default::default() });
    let results = set.evaluate(&activation, ModeFilter::Any);
    assert_eq!(results.len(), 2);
    for result in &results {
        assert_eq!(result.outcome(), Outcome::Error, "{}", result.rule.name());
        assert!(result.violations.is_empty());
    }
    assert!(results[0].errors[0].message.contains("nope"), "{:?}", results[0].errors);
    assert!(results[1].errors[0].message.contains("instead of bool"), "{:?}", results[1].errors);
}

#[test]
fn compile_errors_point_at_line_and_column_and_spare_the_other_rules() {
    let yaml = format!(
        "{}---\n{}",
        pod_rule("good", "true == false"),
        pod_rule("bad", "object.spec.\n  hostNetwork == = true")
    );
    let (loaded, _) = load_rules("rules.yaml", &yaml);
    let (set, errors) = RuleSet::compile(loaded);
    assert_eq!(set.len(), 1, "the good rule survives");
    assert_eq!(errors.len(), 1);
    let text = errors[0].to_string();
    assert!(text.starts_with("rules.yaml:5: rule \"bad\": `rule` does not compile: line 2, column"), "{text}");
}

#[test]
fn obviously_mistyped_rules_and_bad_regexes_are_rejected_at_load() {
    let errors = compile_errors(&pod_rule("literal", "'yes'"));
    assert!(errors[0].contains("must evaluate to a bool"), "{errors:?}");
    let errors = compile_errors(&pod_rule("regex", "metadata.name.matches('[unclosed')"));
    assert!(
        errors[0].contains("invalid regular expression \"[unclosed\": error parsing regexp: missing closing ]"),
        "{errors:?}"
    );
    assert!(!errors[0].contains('\n'), "one line: {errors:?}");
    let errors = compile_errors(&pod_rule("typo", "contianer.securityContext.privileged == true"));
    assert!(errors[0].contains("refers to unknown variable `contianer` at line 1, column 1"), "{errors:?}");
    let errors = compile_errors(&format!("{}messageExpression: \"'x' + nme\"\n", pod_rule("typo2", "true == false")));
    assert!(
        errors[0].contains("`messageExpression` refers to unknown variable `nme` at line 1, column 7"),
        "{errors:?}"
    );
    let errors = compile_errors(&format!("{}---\n{}", pod_rule("twice", "true"), pod_rule("twice", "false")));
    assert!(errors[0].contains("rule name \"twice\" is already used by the rule at test.yaml:1"), "{errors:?}");
}

#[test]
fn matching_by_kind_namespace_selectors_operations_and_exclude() {
    let yaml = "\
name: scoped
match:
  gvk: [{group: '', version: v1, kind: Pod}]
  namespaces: {include: ['team-*'], exclude: [team-b]}
  objectSelector: {matchLabels: {app: web}}
exclude:
  objectSelector: {matchExpressions: [{key: skip, operator: Exists}]}
rule: 'true'
---
name: deployments-only
match: {gvk: [{group: apps, version: v1, kind: Deployment}]}
rule: 'true'
---
name: any-core-kind
match: {gvk: [{group: '', kind: '*'}]}
rule: 'true'
---
name: delete-only
match: {gvk: [{group: '*', kind: '*'}], operations: [DELETE]}
rule: 'true'
---
name: parked
enabled: false
match: {gvk: [{group: '', kind: Pod}]}
rule: 'true'
---
name: other-version
match: {gvk: [{group: '', version: v2, kind: Pod}]}
rule: 'true'
";
    let set = rules(yaml);
    let names = |object: &Value| outcomes(&set, object).into_iter().map(|(name, ..)| name).collect::<Vec<_>>();
    assert_eq!(names(&bare_pod()), ["scoped", "any-core-kind"]);
    let mut other_ns = bare_pod();
    other_ns["metadata"]["namespace"] = json!("team-b");
    assert_eq!(names(&other_ns), ["any-core-kind"]);
    let mut unlabelled = bare_pod();
    unlabelled["metadata"]["labels"] = json!({});
    assert_eq!(names(&unlabelled), ["any-core-kind"]);
    let mut excluded = bare_pod();
    excluded["metadata"]["labels"]["skip"] = json!("yes");
    assert_eq!(names(&excluded), ["any-core-kind"]);

    let object = bare_pod();
    let delete = Activation::new(EvaluationInput {
        old_object: Some(&object),
        operation: Some(Operation::Delete),
        ..Default::default()
    });
    let on_delete: Vec<_> = set.evaluate(&delete, ModeFilter::Any).iter().map(|r| r.rule.name().to_owned()).collect();
    assert_eq!(on_delete, ["delete-only"]);
    let audit = Activation::new(EvaluationInput { object: Some(&object), operation: None, ..Default::default() });
    let in_audit: Vec<_> = set.evaluate(&audit, ModeFilter::Any).iter().map(|r| r.rule.name().to_owned()).collect();
    assert_eq!(in_audit, ["scoped", "any-core-kind", "delete-only"], "audit ignores operations");
}

#[test]
fn namespace_selector_reads_the_namespace_object_when_known() {
    let set = rules(
        "name: prod-only\nmatch:\n  gvk: [{group: '', kind: Pod}]\n  namespaceSelector: {matchLabels: {env: prod}}\nrule: 'true'\n",
    );
    let object = bare_pod();
    let run = |namespace: Option<&Value>| {
        let activation = Activation::new(EvaluationInput {
            object: Some(&object),
            namespace_object: namespace,
            operation: Some(Operation::Create),
            ..Default::default()
        });
        set.evaluate(&activation, ModeFilter::Any).len()
    };
    let prod =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a", "labels": {"env": "prod"}}});
    let dev =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a", "labels": {"env": "dev"}}});
    assert_eq!(run(Some(&prod)), 1);
    assert_eq!(run(Some(&dev)), 0);
    assert_eq!(run(None), 1, "an unknown namespace cannot rule the object out");
}

#[test]
fn mode_filter_selects_rules_by_mode() {
    let set = rules(&format!("{}mode: [audit]\n", pod_rule("audit-only", "true")));
    let object = bare_pod();
    let activation = Activation::new(EvaluationInput { object: Some(&object), ..Default::default() });
    assert_eq!(set.evaluate(&activation, ModeFilter::Only(portal_rules::Mode::Admission)).len(), 0);
    assert_eq!(set.evaluate(&activation, ModeFilter::Only(portal_rules::Mode::Audit)).len(), 1);
}

#[test]
fn namespaced_portal_rules_apply_only_in_their_namespace() {
    let yaml = "apiVersion: portal.io/v1alpha1\nkind: PortalRule\nmetadata: {name: local, namespace: team-a}\nspec:\n  match: {gvk: [{group: '', kind: Pod}]}\n  rule: 'true'\n";
    let set = rules(yaml);
    assert_eq!(outcomes(&set, &bare_pod()).len(), 1);
    let mut elsewhere = bare_pod();
    elsewhere["metadata"]["namespace"] = json!("team-b");
    assert_eq!(outcomes(&set, &elsewhere).len(), 0);
}

#[test]
fn violations_carry_the_object_identity() {
    let set =
        rules(&format!("{}severity: critical\nenforcementAction: warn\n", pod_rule("r", "container.name == 'app'")));
    let mut object = bare_pod();
    object["metadata"]["uid"] = json!("1234");
    let activation = Activation::new(EvaluationInput { object: Some(&object), ..Default::default() });
    let violation = set.evaluate(&activation, ModeFilter::Any).remove(0).violations.remove(0);
    assert_eq!(&*violation.rule, "r");
    assert_eq!(violation.severity, portal_rules::Severity::Critical);
    assert_eq!(violation.enforcement_action, portal_rules::EnforcementAction::Warn);
    assert_eq!((violation.group.as_str(), violation.version.as_str(), violation.kind.as_str()), ("", "v1", "Pod"));
    assert_eq!(violation.namespace.as_deref(), Some("team-a"));
    assert_eq!(violation.name.as_deref(), Some("p"));
    assert_eq!(violation.uid.as_deref(), Some("1234"));
    assert_eq!(violation.container.as_deref(), Some("app"));
}

#[test]
fn rule_sets_swap_atomically_and_are_shareable() {
    fn assert_shareable<T: Send + Sync>() {}
    assert_shareable::<RuleSet>();
    assert_shareable::<SharedRuleSet>();
    let shared = SharedRuleSet::new(rules(&pod_rule("first", "true")));
    let before = shared.load();
    shared.store(rules(&pod_rule("second", "true")));
    assert_eq!(before.rules()[0].name(), "first", "an evaluation in flight keeps its set");
    assert_eq!(shared.load().rules()[0].name(), "second");
}

#[test]
fn kubernetes_cel_libraries_are_available_to_rules() {
    let object = bare_pod();
    for (expr, expected) in [
        ("'a,b'.split(',')", json!(["a", "b"])),
        ("[3, 1, 2].max()", json!(3)),
        ("[1, 2, 3].isSorted()", json!(true)),
        ("'image:v1'.find('[0-9]+')", json!("1")),
        ("quantity('1Gi').isGreaterThan(quantity('1000Mi'))", json!(true)),
        ("cidr('10.0.0.0/8').containsIP(ip('10.1.2.3'))", json!(true)),
        ("url('https://example.com:8443/p').getPort()", json!("8443")),
        ("sets.contains([1, 2, 3], [2])", json!(true)),
        ("metadata.name.matches('^p$')", json!(true)),
        ("math.greatest(1, 5, 3)", json!(5)),
    ] {
        assert_eq!(eval(expr, &object), expected, "{expr}");
    }
}
