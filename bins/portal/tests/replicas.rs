//! Two `portal run` processes auditing one cluster (the real binary against the test control
//! plane): only the one that holds the Lease writes reports, and when it is killed — SIGKILL, so
//! the Lease is not handed over but has to expire — the other takes over and keeps the reports
//! current.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{DynamicObject, PostParams};
use kube::discovery::ApiResource;
use kube::{Api, ResourceExt};

use common::{Replica, WAIT};
/// `leaderElection.leaseDuration` of both replicas.
const LEASE_DURATION: Duration = Duration::from_secs(2);

/// Starts a replica of `portal run` auditing `rules`, electing in `namespace`.
fn replica(env: &portal_testenv::TestEnv, rules: &Path, namespace: &str, log: &Path) -> Replica {
    let health = common::free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_portal"));
    command
        .arg("run")
        .env("PORTAL_KUBERNETES_KUBECONFIG", env.kubeconfig_path())
        .env("PORTAL_RULES_FOLDERS", rules)
        .env("PORTAL_RULES_CLUSTER_ENABLED", "false")
        .env("PORTAL_ADMISSION_ENABLED", "false")
        .env("PORTAL_AUDIT_ENABLED", "true")
        .env("PORTAL_HEALTH_LISTEN", format!("127.0.0.1:{health}"))
        .env("PORTAL_LEADER_ELECTION_NAMESPACE", namespace)
        .env("PORTAL_LEADER_ELECTION_LEASE_DURATION", "2s")
        .env("PORTAL_LEADER_ELECTION_RENEW_DEADLINE", "1500ms")
        .env("PORTAL_LEADER_ELECTION_RETRY_PERIOD", "200ms")
        .env("PORTAL_LOGGING_FORMAT", "text");
    Replica::spawn(command, health, log)
}

async fn wait_for_report(reports: &Api<DynamicObject>, config_map: &ConfigMap, limit: Duration) -> Duration {
    let name = format!("portal-{}", config_map.uid().unwrap());
    let started = Instant::now();
    while reports.get_opt(&name).await.unwrap().is_none() {
        assert!(started.elapsed() < limit, "no report on {} within {limit:?}", config_map.name_any());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_writes_and_a_killed_leader_is_replaced_within_a_lease_period() {
    let env = portal_testenv::shared().await.expect("the test control plane starts");
    let client = env.client().unwrap();
    let namespace = env.namespace("replicas").await.unwrap();
    common::install_report_crds(&client).await;
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        format!(
            "name: team-label\nmode: [audit]\nmatch: {{gvk: [{{group: '', kind: ConfigMap}}], namespaces: {{include: [{namespace}]}}}}\n\
             rule: \"object.metadata.?labels.?team.orValue('') == ''\"\n"
        ),
    )
    .unwrap();
    let first = replica(env, &rules, &namespace, &dir.path().join("first.log"));
    let second = replica(env, &rules, &namespace, &dir.path().join("second.log"));

    let (leader, follower) = common::leader_and_follower(first, second).await;

    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    let reports: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &namespace,
        &ApiResource {
            group: "wgpolicyk8s.io".into(),
            version: "v1alpha2".into(),
            api_version: "wgpolicyk8s.io/v1alpha2".into(),
            kind: "PolicyReport".into(),
            plural: "policyreports".into(),
        },
    );
    let config_map =
        |name: &str| -> ConfigMap { serde_json::from_value(serde_json::json!({"metadata": {"name": name}})).unwrap() };
    let one = config_maps.create(&PostParams::default(), &config_map("one")).await.unwrap();
    wait_for_report(&reports, &one, WAIT).await;
    // Both evaluated it; only the leader wrote.
    let created = r#"portal_audit_report_writes_total{result="created"} "#;
    // The writer counts the write when the API server's answer arrives, which may be a moment
    // after the report can be read.
    leader.wait_for(created, |count| count >= 1.0).await;
    // The follower evaluates too, on its own watch's time, and writes nothing.
    follower.wait_for(r#"portal_audit_evaluations_total{rule="team-label"} "#, |count| count >= 1.0).await;
    assert_eq!(follower.metric(created).await, Some(0.0));

    // Killed: the Lease stays held until it expires, then the other replica writes.
    drop(leader);
    let killed = Instant::now();
    let two = config_maps.create(&PostParams::default(), &config_map("two")).await.unwrap();
    wait_for_report(&reports, &two, WAIT).await;
    let took_over = killed.elapsed();
    println!("took over {took_over:?} after the leader was killed (lease duration {LEASE_DURATION:?})");
    // One lease period, plus slack for a loaded 2-core machine: a liveness bound, not a timing.
    assert!(took_over < LEASE_DURATION + Duration::from_secs(3), "the take-over took {took_over:?}");
    follower.wait_for("portal_leader ", |leading| leading == 1.0).await;
}
