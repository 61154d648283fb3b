//! `cargo bench -p portal-network --bench network`: the whole analysis of 100 namespaces,
//! 1,000 NetworkPolicies and 10,000 Pods, and the recomputation after one Pod's labels change
//! (the namespaces [`Inventory::affected_namespaces`] names, as the live analysis does).
//! Prints the median and the slowest of the runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use portal_network::{Change, CheckSettings, Inventory, Objects, analyze, analyze_namespace, pod_from_json};
use serde_json::{Value, json};

const NAMESPACES: usize = 100;
const PODS_PER_NAMESPACE: usize = 100;
const APPS: usize = 10;
const RUNS: usize = 21;

fn pod(namespace: usize, index: usize, app: usize) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("pod-{index}"), "namespace": format!("ns-{namespace}"),
                     "labels": {"app": format!("app-{app}"), "tier": if index.is_multiple_of(2) { "web" } else { "worker" }}},
        "spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080}, {"name": "metrics", "containerPort": 9090}]}]},
        "status": {"podIP": format!("10.{}.{}.{}", namespace / 250, namespace % 250, index + 1)}})
}

/// Ten policies per namespace: a default deny (in one namespace of ten, an allow-all for one app instead), one per app allowing its peers and the
/// monitoring namespace (a namespace selector: every Pod change reaches them), one egress.
fn policies(namespace: usize) -> Vec<Value> {
    let ns = format!("ns-{namespace}");
    let mut policies = Vec::new();
    // One namespace in ten was never isolated: its findings are part of the work.
    if namespace.is_multiple_of(10) {
        policies.push(json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "legacy", "namespace": ns}, "spec": {"podSelector": {"matchLabels": {"app": "app-9"}}, "ingress": [{}]}}));
    } else {
        policies.push(json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny", "namespace": ns}, "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}));
    }
    for app in 0..8 {
        policies.push(json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": format!("app-{app}"), "namespace": ns},
            "spec": {"podSelector": {"matchLabels": {"app": format!("app-{app}")}},
                     "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": format!("app-{}", (app + 1) % APPS)}}},
                                           {"namespaceSelector": {"matchLabels": {"role": "monitoring"}}, "podSelector": {"matchLabels": {"tier": "web"}}}],
                                  "ports": [{"port": "http"}, {"port": "metrics"}]}]}}));
    }
    policies.push(json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "egress", "namespace": ns},
        "spec": {"podSelector": {"matchLabels": {"tier": "web"}}, "policyTypes": ["Egress"],
                 "egress": [{"to": [{"podSelector": {}}], "ports": [{"port": "http"}]}, {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 53, "protocol": "UDP"}]}]}}));
    policies
}

fn median_and_max(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    (times[times.len() / 2], times[times.len() - 1])
}

fn main() {
    // `cargo test --benches` runs benches with no `--bench`: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mut objects = Objects::default();
    for namespace in 0..NAMESPACES {
        let labels = if namespace == 0 { json!({"role": "monitoring"}) } else { json!({}) };
        objects.add_json(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("ns-{namespace}"), "labels": labels}})).unwrap();
        for index in 0..PODS_PER_NAMESPACE {
            objects.add_json(&pod(namespace, index, index % APPS)).unwrap();
        }
        for policy in policies(namespace) {
            objects.add_json(&policy).unwrap();
        }
    }
    let (pods, policies) = (objects.pods.len(), objects.policies.len());
    let mut inventory = Inventory::new(objects);
    let settings = CheckSettings::default();

    let mut full = Vec::new();
    let mut findings = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        findings = std::hint::black_box(analyze(&inventory, &settings)).len();
        full.push(start.elapsed());
    }
    let (median, max) = median_and_max(full);
    println!(
        "full analysis: {NAMESPACES} namespaces, {policies} policies, {pods} pods → {findings} findings: median {median:.2?}, max {max:.2?}"
    );

    let mut recompute = Vec::new();
    let mut affected = 0;
    for run in 0..RUNS {
        let start = Instant::now();
        let changed = pod_from_json(&pod(7, 3, run % APPS)).unwrap().unwrap();
        inventory.put_pod(changed);
        let namespaces = inventory.affected_namespaces(Change::Pod("ns-7"));
        affected = namespaces.len();
        for namespace in &namespaces {
            std::hint::black_box(analyze_namespace(&inventory, namespace, &settings));
        }
        recompute.push(start.elapsed());
    }
    let (median, max) = median_and_max(recompute);
    println!("one pod's labels changed → {affected} namespaces recomputed: median {median:.2?}, max {max:.2?}");
}
