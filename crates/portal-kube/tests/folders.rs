//! Rule folders as a source: hot reload, and a broken file keeping its last good rules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use portal_kube::{RuleSources, SourcesConfig, SourcesSnapshot};

const WAIT: Duration = Duration::from_secs(20);

fn rule(name: &str, expression: &str) -> String {
    format!("name: {name}\nmatch: {{gvk: [{{group: '', kind: Pod}}]}}\nrule: {expression:?}\n")
}

/// Waits for a snapshot satisfying `done`, returning it and how long it took.
async fn wait_for(sources: &RuleSources, done: impl Fn(&SourcesSnapshot) -> bool) -> (SourcesSnapshot, Duration) {
    let started = Instant::now();
    let mut receiver = sources.subscribe();
    let snapshot = tokio::time::timeout(WAIT, receiver.wait_for(|s| done(s)))
        .await
        .expect("the rule sources reached the expected state in time")
        .expect("the rule sources are running")
        .clone();
    (snapshot, started.elapsed())
}

fn write(dir: &Path, file: &str, text: &str) {
    // Write-then-rename, as editors and `kubectl cp` do.
    let temporary = dir.join(format!(".{file}.tmp"));
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, dir.join(file)).unwrap();
}

#[tokio::test]
async fn folder_rules_reload_and_a_broken_file_keeps_its_last_good_rules() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &rule("first", "spec.hostNetwork == true"));
    write(dir.path(), "b.yaml", &rule("other", "spec.hostPID == true"));
    let sources = RuleSources::start(SourcesConfig {
        cluster: None,
        folders: vec![dir.path().to_owned()],
        debounce: Duration::from_millis(100),
        limits: Default::default(),
        lookups: None,
    })
    .unwrap();
    let ready = sources.wait_ready().await;
    assert_eq!(ready.rules, ["first", "other"]);
    assert!(ready.problems.is_empty(), "{:?}", ready.problems);

    // An edit is picked up without a restart.
    write(dir.path(), "a.yaml", &rule("renamed", "spec.hostNetwork == true"));
    let (snapshot, took) = wait_for(&sources, |s| s.rules.contains(&"renamed".to_owned())).await;
    println!("folder edit reloaded after {} ms", took.as_millis());
    assert_eq!(snapshot.rules, ["renamed", "other"]);
    assert!(sources.rules().load().get("renamed").is_some(), "the live rule set has the edit");

    // A broken file keeps its last good rules and reports the error with its location.
    write(dir.path(), "a.yaml", &rule("renamed", "spec.hostNetwork == = true"));
    let (snapshot, _) = wait_for(&sources, |s| !s.problems.is_empty()).await;
    assert_eq!(snapshot.rules, ["renamed", "other"], "the last good rules stay in force");
    let problem = &snapshot.problems[0];
    assert!(problem.message.contains("does not compile: line 1, column"), "{problem:?}");
    assert!(problem.location.ends_with("a.yaml:1"), "{problem:?}");
    let before = sources.rules().load();
    assert_eq!(before.get("renamed").unwrap().spec().rule, "spec.hostNetwork == true");

    // Invalid YAML too.
    write(dir.path(), "b.yaml", "name: other\nmatch: {gvk: [\n");
    let (snapshot, _) = wait_for(&sources, |s| s.problems.iter().any(|p| p.message.contains("not valid YAML"))).await;
    assert_eq!(snapshot.rules, ["renamed", "other"]);

    // Fixing both clears the problems; deleting a file removes its rules.
    write(dir.path(), "a.yaml", &rule("renamed", "spec.hostIPC == true"));
    write(dir.path(), "b.yaml", &rule("other", "spec.hostPID == true"));
    let (snapshot, _) = wait_for(&sources, |s| s.problems.is_empty()).await;
    assert_eq!(snapshot.rules, ["renamed", "other"]);
    assert_eq!(sources.rules().load().get("renamed").unwrap().spec().rule, "spec.hostIPC == true");
    std::fs::remove_file(dir.path().join("b.yaml")).unwrap();
    let (snapshot, _) = wait_for(&sources, |s| s.rules == ["renamed"]).await;
    assert!(snapshot.problems.is_empty());
}

#[tokio::test]
async fn a_single_rule_file_can_be_a_source() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "only.yaml", &rule("only", "spec.hostNetwork == true"));
    let sources = RuleSources::start(SourcesConfig {
        cluster: None,
        folders: vec![dir.path().join("only.yaml")],
        debounce: Duration::from_millis(50),
        limits: Default::default(),
        lookups: None,
    })
    .unwrap();
    assert_eq!(sources.wait_ready().await.rules, ["only"]);
    write(dir.path(), "only.yaml", &rule("still-only", "spec.hostNetwork == true"));
    wait_for(&sources, |s| s.rules == ["still-only"]).await;
}

/// A rule too deep to evaluate safely (a tenant's attack on the shared webhook: 1,200 chained
/// terms once overflowed a webhook thread's stack) is rejected when loaded, on threads sized as
/// `portal run` sizes them, and the other rules stay in force.
#[test]
fn a_rule_too_deep_to_evaluate_is_rejected_and_the_others_load() {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(8 * 1024 * 1024).build().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "deep.yaml", &rule("deep", &format!("{} > 0", vec!["1"; 1_200].join("+"))));
        write(dir.path(), "good.yaml", &rule("good", "spec.hostPID == true"));
        let sources = RuleSources::start(SourcesConfig {
            cluster: None,
            folders: vec![dir.path().to_owned()],
            debounce: Duration::from_millis(20),
            limits: Default::default(),
            lookups: None,
        })
        .unwrap();
        let snapshot = sources.wait_ready().await;
        assert_eq!(snapshot.rules, ["good"]);
        assert!(
            snapshot.problems.iter().any(|p| p.message.contains("nests deeper than 100 levels")),
            "{:?}",
            snapshot.problems
        );
    });
}

#[tokio::test]
async fn the_rule_set_evaluates_within_the_configured_limits() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "a.yaml", &rule("nested", "containers.exists(c, c.ports.exists(p, p.containerPort == 22))"));
    // Over the configured estimate (not over the default).
    write(dir.path(), "b.yaml", &rule("costly", "lists.range(100000).exists(i, lists.range(1000).exists(j, i == j))"));
    let sources = RuleSources::start(SourcesConfig {
        cluster: None,
        folders: vec![dir.path().to_owned()],
        debounce: Duration::from_millis(20),
        limits: portal_rules::RuleLimits { max_iterations: 5, max_estimated_cost: 1.0e8, ..Default::default() },
        lookups: None,
    })
    .unwrap();
    let snapshot = sources.wait_ready().await;
    assert_eq!(snapshot.rules, ["nested"]);
    assert!(snapshot.problems.iter().any(|p| p.message.contains("over the limit of 100.0 million")), "{snapshot:?}");
    let rules = sources.rules().load();
    assert_eq!(rules.limits().max_iterations, 5);
    let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                 "spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80}]},
                                                         {"name": "b", "ports": [{"containerPort": 81}]}]}});
    let activation =
        portal_rules::Activation::new(portal_rules::EvaluationInput { object: Some(&pod), ..Default::default() });
    let results = rules.evaluate(&activation, portal_rules::ModeFilter::Any);
    // 3 elements for the outer loop, 2 for each inner one: over 5.
    assert!(results[0].errors[0].message.contains("more than 5 elements"), "{:?}", results[0].errors);
}

/// Exceptions beside the rules in a folder are honoured and hot-reloaded; a bad one is a bad
/// file that keeps its last good content.
#[tokio::test]
async fn exceptions_in_a_rule_folder_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "rules.yaml", &rule("no-host-network", "spec.hostNetwork == true"));
    let exception = |justification: &str| {
        format!(
            "apiVersion: portal.io/v1alpha1\nkind: PortalException\nmetadata: {{name: tools, namespace: ops}}\n\
             spec: {{rules: [no-host-network], justification: {justification:?}}}\n"
        )
    };
    write(dir.path(), "exceptions.yaml", &exception("node debugging"));
    let sources = RuleSources::start(SourcesConfig {
        cluster: None,
        folders: vec![dir.path().to_owned()],
        debounce: Duration::from_millis(50),
        limits: Default::default(),
        lookups: None,
    })
    .unwrap();
    let ready = sources.wait_ready().await;
    assert!(ready.problems.is_empty(), "{:?}", ready.problems);
    assert_eq!(ready.rules, ["no-host-network"]);
    assert_eq!((ready.exceptions.active, ready.exceptions.rejected), (1, 0));
    let evaluate = |namespace: &str| {
        let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": namespace},
                                     "spec": {"hostNetwork": true, "containers": []}});
        let rules = sources.rules().load();
        let activation =
            portal_rules::Activation::new(portal_rules::EvaluationInput { object: Some(&pod), ..Default::default() });
        let results = rules.evaluate(&activation, portal_rules::ModeFilter::Any);
        results[0].outcome()
    };
    assert_eq!(evaluate("ops"), portal_rules::Outcome::Skip);
    assert_eq!(evaluate("shop"), portal_rules::Outcome::Fail);

    // An exception without a justification is a bad file: reported, the last good one kept.
    write(dir.path(), "exceptions.yaml", &exception(" "));
    let (snapshot, _) = wait_for(&sources, |s| !s.problems.is_empty()).await;
    assert!(snapshot.problems[0].message.contains("`spec.justification`: is required"), "{:?}", snapshot.problems);
    assert_eq!(snapshot.exceptions.rejected, 1);
    assert_eq!(evaluate("ops"), portal_rules::Outcome::Skip);
}
