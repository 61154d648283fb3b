//! `portal network explain` against the live cluster, and `portal run` with `network.enabled`
//! writing findings into reports: the real binary against the test control plane.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::Instant;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{DynamicObject, PostParams};
use kube::discovery::ApiResource;
use kube::{Api, ResourceExt};
use serde_json::json;

async fn create<K>(api: &Api<K>, object: serde_json::Value) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    api.create(&PostParams::default(), &serde_json::from_value(object).unwrap()).await.unwrap()
}

fn explain(env: &portal_testenv::TestEnv, from: &str, to: &str) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_portal"))
        .args(["network", "explain", "--from", from, "--to", to, "--kubeconfig"])
        .arg(env.kubeconfig_path())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_reads_the_cluster_and_run_reports_findings() {
    let env = portal_testenv::shared().await.expect("the test control plane starts");
    let client = env.client().unwrap();
    common::install_report_crds(&client).await;
    let namespace = env.namespace("net").await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    for (name, app) in [("web", "web"), ("db", "db")] {
        create(
            &pods,
            json!({"metadata": {"name": name, "labels": {"app": app}},
                   "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"name": "main", "containerPort": 8080}]}]}}),
        )
        .await;
    }
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), &namespace);
    create(
        &policies,
        json!({"metadata": {"name": "db"}, "spec": {"podSelector": {"matchLabels": {"app": "db"}},
               "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": "main"}]}]}}),
    )
    .await;

    let (status, stdout, stderr) = explain(env, &format!("{namespace}/web"), &format!("{namespace}/db:8080"));
    assert_eq!(status, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains(&format!("{namespace}/web → {namespace}/db on TCP/8080: ALLOWED")), "{stdout}");
    assert!(stdout.contains("allowed by db spec.ingress[0]"), "{stdout}");
    let (status, stdout, stderr) = explain(env, &format!("{namespace}/db"), &format!("{namespace}/db:9090"));
    assert_eq!(status, Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("DENIED"), "{stdout}");

    // `portal run` with the analysis on: the namespace's report says it was never isolated for
    // egress (and for ingress, the web Pod is open).
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "name: nothing\nmode: [audit]\nmatch: {gvk: [{group: '', kind: ConfigMap}]}\nrule: 'false'\n",
    )
    .unwrap();
    let mut run = Command::new(env!("CARGO_BIN_EXE_portal"))
        .arg("run")
        .env("PORTAL_KUBERNETES_KUBECONFIG", env.kubeconfig_path())
        .env("PORTAL_RULES_FOLDERS", &rules)
        .env("PORTAL_RULES_CLUSTER_ENABLED", "false")
        .env("PORTAL_ADMISSION_ENABLED", "false")
        .env("PORTAL_AUDIT_ENABLED", "true")
        .env("PORTAL_NETWORK_ENABLED", "true")
        .env("PORTAL_HEALTH_LISTEN", "127.0.0.1:0")
        .env("PORTAL_LEADER_ELECTION_NAMESPACE", &namespace)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("run.log")).unwrap())
        .spawn()
        .unwrap();
    let uid = Api::<Namespace>::all(client.clone()).get(&namespace).await.unwrap().uid().unwrap();
    let reports: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource {
            group: "wgpolicyk8s.io".into(),
            version: "v1alpha2".into(),
            api_version: "wgpolicyk8s.io/v1alpha2".into(),
            kind: "ClusterPolicyReport".into(),
            plural: "clusterpolicyreports".into(),
        },
    );
    let started = Instant::now();
    let report = loop {
        if let Some(report) = reports.get_opt(&format!("portal-{uid}")).await.unwrap() {
            break serde_json::to_value(report).unwrap();
        }
        if started.elapsed() > common::WAIT {
            let _ = run.kill();
            let log = std::fs::read_to_string(dir.path().join("run.log")).unwrap_or_default();
            panic!("no report on namespace {namespace} within {:?}; portal run logged:\n{log}", common::WAIT);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let _ = run.kill();
    let _ = run.wait();
    let results: Vec<(String, String)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["policy"].as_str().unwrap().to_owned(), r["result"].as_str().unwrap().to_owned()))
        .collect();
    assert!(results.contains(&("np.default-deny-missing".to_owned(), "warn".to_owned())), "{report:#}");
    assert!(results.contains(&("np.default-deny-egress-missing".to_owned(), "warn".to_owned())), "{report:#}");
}
