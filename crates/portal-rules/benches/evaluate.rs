//! Rule evaluation benchmarks: the shipped PSS bundles and example rules on realistic objects,
//! and the cost of rules that do not match. Run with `cargo xtask bench`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod fixtures;

use criterion::{Criterion, criterion_group, criterion_main};
use fixtures::{compile, deployment, examples, pod, restricted_rules, rules_in};
use portal_rules::{Activation, EvaluationInput, LoadedRule, ModeFilter, Operation, RuleSet, load_rules};
use serde_json::Value;

/// The allocator the `portal` binary ships with, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    let restricted = restricted_rules();
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

    // Exceptions: 40 for other namespaces and 10 cluster-wide whose condition is evaluated on the
    // Pod and is false; and one that exempts the Pod from every rule — what a cluster full of
    // exceptions costs every object, and what an exempted object costs.
    let with_exceptions = |exempting: bool| {
        let mut text: String = (0..50)
            .map(|i| {
                let (kind, namespace) = if i < 40 {
                    ("PortalException", format!(", namespace: team-{i}"))
                } else {
                    ("PortalClusterException", String::new())
                };
                format!(
                    "apiVersion: portal.io/v1alpha1\nkind: {kind}\nmetadata: {{name: e{i}{namespace}}}\n\
                     spec: {{rules: ['pss-*'], justification: bench, \
                     condition: \"object.metadata.?labels.?legacy.orValue('') == 'true'\"}}\n---\n"
                )
            })
            .collect();
        if exempting {
            text.push_str(
                "apiVersion: portal.io/v1alpha1\nkind: PortalClusterException\nmetadata: {name: all}\n\
                 spec: {rules: ['*'], justification: bench}\n",
            );
        }
        let (loaded, errors) = portal_rules::exception::load_exceptions("bench", &text);
        assert!(errors.is_empty(), "{errors:?}");
        let (exceptions, errors) = portal_rules::exception::ExceptionSet::compile(loaded, &Default::default());
        assert!(errors.is_empty(), "{errors:?}");
        compile(restricted_rules()).with_exceptions(exceptions)
    };
    let fifty = with_exceptions(false);
    let exempted = with_exceptions(true);
    group.bench_function("restricted+50-exceptions/typical-pod", |b| b.iter(|| evaluate(&fifty, &typical_pod)));
    group
        .bench_function("restricted+exempting-exception/typical-pod", |b| b.iter(|| evaluate(&exempted, &typical_pod)));

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

    lookups(c, &typical_pod);

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

/// Cluster lookups over a namespace of 1,000 Pods (each labelled `app: web-<i mod 100>`, so a
/// selector picks 10) plus 1,000 ConfigMaps, from the in-memory view `portal check --cluster`
/// and the webhook's cache both answer like.
fn lookups(c: &mut Criterion, typical_pod: &Value) {
    use std::sync::Arc;

    use portal_rules::cluster::{ClusterSnapshot, ClusterView};

    let mut snapshot = ClusterSnapshot::new();
    for i in 0..1000 {
        let mut pod = pod(1);
        pod["metadata"]["name"] = Value::from(format!("web-{i}"));
        pod["metadata"]["labels"] = serde_json::json!({"app": format!("web-{}", i % 100)});
        snapshot.insert(pod).unwrap();
        let name = format!("config-{i}");
        snapshot
            .insert(serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "shop"}, "data": {"mode": "production"}}))
            .unwrap();
    }
    let view: Arc<dyn ClusterView> = Arc::new(snapshot);
    let rule = |name: &str, expression: &str| {
        compile(
            load_rules(
                "lookups",
                &format!("name: {name}\nmatch: {{gvk: [{{group: '', kind: Pod}}]}}\nrule: \"{expression}\"\n"),
            )
            .0,
        )
    };
    let get = rule("get", "cluster.get('v1', 'ConfigMap', 'shop', 'config-500') == null");
    let selected = rule("list-selector", "cluster.list('v1', 'Pod', 'shop', {'app': 'web-7'}).size() == 0");
    let everything = rule("list-namespace", "cluster.list('v1', 'Pod', 'shop').size() == 0");
    let with_view = |set: &RuleSet| {
        let activation = Activation::new(EvaluationInput {
            object: Some(typical_pod),
            operation: Some(Operation::Create),
            cluster: Some(&view),
            ..Default::default()
        });
        set.evaluate(&activation, ModeFilter::Any).len()
    };
    let mut group = c.benchmark_group("lookups");
    group.bench_function("get/1000-config-maps", |b| b.iter(|| with_view(&get)));
    group.bench_function("list-selector-10-of-1000-pods", |b| b.iter(|| with_view(&selected)));
    group.bench_function("list-namespace-1000-pods", |b| b.iter(|| with_view(&everything)));
    group.finish();
}

criterion_group!(evaluation, benches);
criterion_main!(evaluation);
