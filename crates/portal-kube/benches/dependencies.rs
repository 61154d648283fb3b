//! `cargo bench -p portal-kube --bench dependencies`: the audit's index of what rules read
//! through cluster lookups — its memory with 10,000 and 100,000 (rule, object) pairs (the
//! process's RSS before and after filling it), the time to record an evaluation's reads, and
//! the time to find what one change affects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use portal_kube::audit::dependencies::Dependencies;
use portal_kube::cache::ObjectChange;
use portal_rules::cluster::{ClusterSnapshot, ClusterView, LookupTarget};
use portal_rules::{Activation, EvaluationInput, ModeFilter, RuleSet, load_rules};
use serde_json::json;

mod support;

/// Each Pod's rule reads two objects and one list: three reads per pair.
const RULE: &str = "\
name: reads-three
match: {gvk: [{group: '', kind: Pod}]}
rule: >-
  cluster.get('v1', 'ConfigMap', object.metadata.namespace, object.metadata.name + '-config') == null &&
  cluster.get('v1', 'Secret', object.metadata.namespace, object.metadata.name + '-secret') == null &&
  cluster.list('v1', 'Service', object.metadata.namespace, {'app': object.metadata.name}).size() == 0
";

fn rss_kib() -> u64 {
    support::status_kib(std::process::id(), "VmRSS:")
}

fn main() {
    // `cargo test --benches` runs benches with no `--bench`: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let (loaded, errors) = load_rules("bench", RULE);
    assert!(errors.is_empty());
    let rules = RuleSet::compile(loaded).0;
    let view: Arc<dyn ClusterView> = Arc::new(ClusterSnapshot::new());
    println!("dependency index: one rule reading 2 objects and 1 list per Pod");
    for pairs in [10_000usize, 100_000] {
        let dependencies = Dependencies::new();
        // Every evaluation first, so that the RSS difference is the index's alone.
        let pods: Vec<_> = (0..pairs)
            .map(|i| {
                json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": format!("pod-{i}"), "namespace": format!("team-{}", i % 100), "uid": format!("uid-{i:08}")},
                    "spec": {"containers": []}})
            })
            .collect();
        let results: Vec<_> = pods
            .iter()
            .map(|pod| {
                let activation =
                    Activation::new(EvaluationInput { object: Some(pod), cluster: Some(&view), ..Default::default() });
                rules.evaluate(&activation, ModeFilter::Any)
            })
            .collect();
        let before = rss_kib();
        let started = Instant::now();
        for (i, results) in results.iter().enumerate() {
            dependencies.record(&format!("uid-{i:08}"), results);
        }
        let recording = started.elapsed();
        let after = rss_kib();
        let change = ObjectChange {
            target: LookupTarget::new("v1", "ConfigMap"),
            namespace: Some("team-7".to_owned()),
            name: "pod-7-config".to_owned(),
            labels_before: Default::default(),
            labels_after: Default::default(),
        };
        let started = Instant::now();
        let rounds = 100u32;
        let mut hits = 0;
        for round in 0..rounds {
            let later = Instant::now() + std::time::Duration::from_secs(u64::from(round) * 20);
            hits += dependencies.affected(&change, later).queued.len();
        }
        let per_change = started.elapsed() / rounds;
        println!(
            "  {:>7} pairs: {:>6.1} MiB RSS ({:.0} bytes a pair), {:.2?} to record one evaluation, {:.2?} to find what a change affects ({} hit)",
            dependencies.len(),
            after.saturating_sub(before) as f64 / 1024.0,
            after.saturating_sub(before) as f64 * 1024.0 / pairs as f64,
            recording / u32::try_from(pairs).unwrap(),
            per_change,
            hits / rounds as usize,
        );
    }
}
