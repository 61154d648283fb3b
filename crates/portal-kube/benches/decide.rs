//! `cargo bench -p portal-kube --bench decide`: the cost of one admission decision with the
//! PSS baseline + restricted rules, without actions, with the actions dispatcher attached (its
//! rules have no actions), and with a violated rule that has an action (handed over on every
//! request: the first queues it, the rest are duplicates). The median and fastest of 15 rounds
//! of 2,000 decisions, in microseconds per decision.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use portal_actions::alerts::AlertSink;
use portal_actions::{Dispatcher, DispatcherSettings, ExecuteError, Executor, Subject};
use portal_kube::admission::{DecisionOptions, DefaultFailurePolicy, decide, read_review};
use portal_rules::actions::Action;
use portal_rules::{LoadedRule, RuleSet, load_rules};
use serde_json::json;

/// The allocator the `portal` binary ships with, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROUNDS: usize = 15;
const DECISIONS: usize = 2_000;

/// Does nothing: the bench measures the hand-over, not the cluster.
struct Nothing;

impl Executor for Nothing {
    fn execute<'a>(
        &'a self,
        _rule: &'a str,
        _action: &'a Action,
        _subject: &'a Subject,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<String, ExecuteError>> + Send + 'a>> {
        Box::pin(async { Ok(String::new()) })
    }
}

fn rules_in(dir: &Path) -> Vec<LoadedRule> {
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().path()).collect();
    files.retain(|path| path.extension().is_some_and(|extension| extension == "yaml"));
    files.sort();
    files.iter().flat_map(|file| load_rules("pss", &std::fs::read_to_string(file).unwrap()).0).collect()
}

/// (median, fastest) round, in microseconds per decision.
fn micros(mut run: impl FnMut()) -> (f64, f64) {
    let mut rounds: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..DECISIONS {
                run();
            }
            started.elapsed().as_secs_f64() * 1e6 / DECISIONS as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    (rounds[ROUNDS / 2], rounds[0])
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _entered = runtime.enter();
    let pss = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/policies/pod-security");
    let mut loaded = rules_in(&pss.join("baseline"));
    loaded.extend(rules_in(&pss.join("restricted")));
    let plain = RuleSet::compile(loaded.clone()).0;
    loaded.extend(
        load_rules(
            "acting",
            "name: label-latest\nmatch: {gvk: [{group: '', version: v1, kind: Pod}]}\n\
             rule: container.image.endsWith(':latest')\nactions: [{type: label, labels: {latest: 'yes'}}]\n",
        )
        .0,
    );
    let acting = RuleSet::compile(loaded).0;
    let metrics = portal_metrics::Metrics::new().unwrap();
    let (alerts, _sink) = AlertSink::start(Vec::new(), 10, metrics.clone(), Arc::new(|| true));
    let settings = DispatcherSettings {
        dry_run: false,
        queue_size: 1_000,
        workers: 1,
        disabled_types: HashSet::new(),
        excluded_namespaces: HashSet::new(),
        standing: HashSet::new(),
    };
    let (dispatcher, _workers) = Dispatcher::start(settings, Arc::new(Nothing), alerts, metrics, Arc::new(|| true));
    let review = |image: &str| {
        let body = json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "1", "operation": "CREATE", "namespace": "shop",
                        "kind": {"group": "", "version": "v1", "kind": "Pod"},
                        "object": {"apiVersion": "v1", "kind": "Pod",
                                   "metadata": {"name": "web", "namespace": "shop", "uid": "uid-web"},
                                   "spec": {"containers": [{"name": "app", "image": image}]}}},
        });
        read_review(&serde_json::to_vec(&body).unwrap()).unwrap()
    };
    let pinned = review("registry.example.com/web:1.4.2");
    let latest = review("registry.example.com/web:latest");
    let without =
        DecisionOptions { failure_policy: DefaultFailurePolicy::Fail, excluded_namespaces: Vec::new(), actions: None };
    let with = DecisionOptions { actions: Some(dispatcher), ..without.clone() };
    let cases: [(&str, &RuleSet, &DecisionOptions, _); 4] = [
        ("PSS rules, actions off", &plain, &without, &pinned),
        ("PSS rules, dispatcher attached, no rule acts", &plain, &with, &pinned),
        ("PSS rules + a label rule, not violated", &acting, &with, &pinned),
        ("PSS rules + a label rule, violated (handed over)", &acting, &with, &latest),
    ];
    for (name, rules, options, review) in cases {
        let (median, fastest) = micros(|| {
            std::hint::black_box(decide(review, rules, None, options));
        });
        println!("{name:<50} median {median:>6.1} µs, fastest round {fastest:>6.1} µs per decision");
    }
}
