//! Rule evaluation benchmarks: the shipped PSS bundles and example rules on realistic objects,
//! and the cost of rules that do not match. Run with `cargo xtask bench`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};

/// The allocator the `portal` binary ships with, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use portal_rules::{Activation, EvaluationInput, LoadedRule, ModeFilter, Operation, RuleSet, load_rules};
use serde_json::{Value, json};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Every rule file directly in `dir` (not its tests).
fn rules_in(dir: &Path) -> Vec<LoadedRule> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|file| {
            let (rules, errors) = load_rules(&file.display().to_string(), &std::fs::read_to_string(file).unwrap());
            assert!(errors.is_empty(), "{errors:?}");
            rules
        })
        .collect()
}

fn compile(rules: Vec<LoadedRule>) -> RuleSet {
    let (set, errors) = RuleSet::compile(rules);
    assert!(errors.is_empty(), "{errors:?}");
    set
}

fn container(name: &str) -> Value {
    json!({
        "name": name,
        "image": format!("ghcr.io/example/{name}:1.4.2@sha256:9b2a3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809"),
        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        "env": [{"name": "LOG_LEVEL", "value": "info"}, {"name": "PORT", "value": "8080"}],
        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}}
    })
}

fn pod_spec(containers: usize) -> Value {
    json!({
        "serviceAccountName": "web",
        "automountServiceAccountToken": false,
        "securityContext": {"runAsNonRoot": true, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "volumes": [{"name": "tmp", "emptyDir": {}}],
        "containers": (0..containers).map(|i| container(&format!("c{i}"))).collect::<Vec<_>>()
    })
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "uid": "6f1c2a3e-1111-2222-3333-444455556666",
                     "labels": {"app.kubernetes.io/name": "web", "team": "storefront"},
                     "annotations": {"deployment.kubernetes.io/revision": "3"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app.kubernetes.io/name": "web"}},
                 "template": {"metadata": {"labels": {"app.kubernetes.io/name": "web"}}, "spec": pod_spec(1)}}
    })
}

fn pod(containers: usize) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "shop", "labels": {"app.kubernetes.io/name": "web"}},
        "spec": pod_spec(containers)
    })
}

/// 1,000 rules for a kind the object is not.
fn unrelated_rules(count: usize) -> Vec<LoadedRule> {
    let text: String = (0..count)
        .map(|i| {
            format!(
                "name: unrelated-{i}\nmatch: {{gvk: [{{group: example.com, version: v1, kind: Widget{i}}}]}}\nrule: object.spec.size > {i}\n---\n"
            )
        })
        .collect();
    let (rules, errors) = load_rules("generated", &text);
    assert!(errors.is_empty());
    rules
}

fn evaluate(set: &RuleSet, object: &Value) -> usize {
    let activation = Activation::new(EvaluationInput {
        object: Some(object),
        operation: Some(Operation::Create),
        ..Default::default()
    });
    set.evaluate(&activation, ModeFilter::Any).len()
}

fn benches(c: &mut Criterion) {
    let pss = examples().join("policies/pod-security");
    let restricted = {
        let mut rules = rules_in(&pss.join("baseline"));
        rules.extend(rules_in(&pss.join("restricted")));
        rules
    };
    let mut everything = restricted.clone();
    everything.extend(rules_in(&examples().join("rules")));

    // Loading: what compiling the 28 shipped rules costs, and the cost estimate's share of it.
    let mut group = c.benchmark_group("load");
    group.bench_function("compile/shipped-rules", |b| b.iter(|| compile(everything.clone())));
    let env = portal_rules::environment::environment().unwrap();
    let programs: Vec<cel::Program> = everything
        .iter()
        .flat_map(|rule| std::iter::once(&rule.spec.rule).chain(rule.spec.message_expression.as_ref()))
        .map(|source| env.compile(source).unwrap())
        .collect();
    group.bench_function("estimate-cost/shipped-rules", |b| {
        b.iter(|| {
            programs.iter().map(|p| portal_rules::estimate_cost(p, portal_rules::LARGEST_OBJECT_BYTES)).sum::<f64>()
        })
    });
    group.finish();

    let restricted = compile(restricted);
    let everything = compile(everything);

    let typical_pod = pod(1);
    let ten_containers = pod(10);
    let deployment = deployment();

    let mut group = c.benchmark_group("evaluate");
    group.bench_function("restricted/typical-pod", |b| b.iter(|| evaluate(&restricted, &typical_pod)));
    group.bench_function("restricted+examples/deployment", |b| b.iter(|| evaluate(&everything, &deployment)));
    group
        .bench_function("restricted+examples/pod-10-containers", |b| b.iter(|| evaluate(&everything, &ten_containers)));

    // The interpreter's floor: as many trivial rules as the restricted set has.
    let trivial: String = (0..restricted.len())
        .map(|i| format!("name: trivial-{i}\nmatch: {{gvk: [{{group: '', version: v1, kind: Pod}}]}}\nrule: spec.hostNetwork == true\n---\n"))
        .collect();
    let trivial = compile(load_rules("generated", &trivial).0);
    group.bench_function("trivial-rules/typical-pod", |b| b.iter(|| evaluate(&trivial, &typical_pod)));

    let empty = RuleSet::default();
    let unrelated = compile(unrelated_rules(1000));
    group.bench_function("empty-rule-set/deployment", |b| b.iter(|| evaluate(&empty, &deployment)));
    group.bench_function("1000-unmatched-rules/deployment", |b| b.iter(|| evaluate(&unrelated, &deployment)));
    group.finish();

    // The full cost of the evaluation context: every variable converted, as if rules read them all.
    let mut group = c.benchmark_group("context");
    for (name, object) in
        [("typical-pod", &typical_pod), ("deployment", &deployment), ("pod-10-containers", &ten_containers)]
    {
        group.bench_function(format!("all-variables/{name}"), |b| {
            b.iter(|| {
                let activation = Activation::new(EvaluationInput { object: Some(object), ..Default::default() });
                activation.build_all();
                activation.container_count()
            })
        });
    }
    group.finish();
}

criterion_group!(evaluation, benches);
criterion_main!(evaluation);
