//! NetworkPolicy analysis against the real API server: findings appear in the audit's reports
//! on Namespaces and NetworkPolicies, and clear, as Pods, Namespaces and policies change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use portal_kube::network::NetworkAnalysis;
use serde_json::json;

/// Rules the audit runs beside the network checks: none about these kinds.
const RULES: &str = "\
name: admission-only
mode: [admission]
match: {gvk: [{group: '', kind: ConfigMap}]}
rule: 'false'
";

fn metric(metrics: &portal_metrics::Metrics, series: &str) -> f64 {
    metrics.encode().lines().find_map(|line| line.strip_prefix(series)?.trim().parse().ok()).unwrap_or(-1.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_appear_and_clear_with_the_cluster() {
    let client = common::client().await;
    common::install_report_crds(&client).await;
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": "np-open"}})).unwrap();
    let namespace = Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &namespace).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "np-open");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx", "ports": [{"name": "http", "containerPort": 8080}]}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();

    let (_rules_dir, sources) = common::folder_sources(RULES).await;
    let metrics = portal_metrics::Metrics::new().unwrap();
    let network = Arc::new(NetworkAnalysis::new(portal_network::CheckSettings::default()));
    let _audit = common::start_audit_with_network(
        &client,
        &sources,
        &metrics,
        None,
        None,
        portal_report::ReportApi::PolicyWg,
        Some(network),
    )
    .await;

    // A namespace with a Pod and no policy: both directions open, reported on the Namespace.
    let cluster_reports = common::reports(&client, None);
    let namespace_uid = namespace.uid().unwrap();
    common::wait_for_result(&cluster_reports, &namespace_uid, "np.default-deny-missing", "warn").await;
    common::wait_for_result(&cluster_reports, &namespace_uid, "np.default-deny-egress-missing", "warn").await;
    let report = cluster_reports.get(&format!("portal-{namespace_uid}")).await.unwrap();
    let report = serde_json::to_value(report).unwrap();
    let message = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|result| result["policy"] == "np.default-deny-missing")
        .map(|result| result["message"].as_str().unwrap_or_default().to_owned())
        .unwrap();
    assert!(message.starts_with("1 of 1 Pods in namespace np-open are not isolated for ingress (web)"), "{message}");
    assert_eq!(report["scope"]["kind"], "Namespace");

    // The default deny clears both.
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), "np-open");
    let deny: NetworkPolicy = serde_json::from_value(json!({
        "metadata": {"name": "default-deny"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    }))
    .unwrap();
    policies.create(&PostParams::default(), &deny).await.unwrap();
    let cleared = common::wait_for_result(&cluster_reports, &namespace_uid, "np.default-deny-missing", "pass").await;
    println!("default-deny applied → np.default-deny-missing pass on the Namespace's report: {cleared:?}");
    common::wait_for_result(&cluster_reports, &namespace_uid, "np.default-deny-egress-missing", "pass").await;
    // A liveness bound, not a timing (the figure above is the measurement).
    assert!(cleared < Duration::from_secs(5), "{cleared:?}");

    // A policy for the web Pod: it selects it, until the Pod's labels change.
    let web: NetworkPolicy = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"ports": [{"port": "http"}]}]}
    }))
    .unwrap();
    let web = policies.create(&PostParams::default(), &web).await.unwrap();
    let reports = common::reports(&client, Some("np-open"));
    let web_uid = web.uid().unwrap();
    common::wait_for_result(&reports, &web_uid, "np.unreachable-selector", "pass").await;
    common::wait_for_result(&reports, &web_uid, "np.named-port-unresolved", "pass").await;

    let relabel = json!({"metadata": {"labels": {"app": "frontend"}}});
    pods.patch("web", &PatchParams::default(), &Patch::Merge(&relabel)).await.unwrap();
    let raised = common::wait_for_result(&reports, &web_uid, "np.unreachable-selector", "warn").await;
    println!("Pod relabelled → np.unreachable-selector warn on the policy's report: {raised:?}");
    assert_eq!(metric(&metrics, "portal_network_findings{check=\"np.unreachable-selector\",severity=\"medium\"}"), 1.0);

    // Labels back: the finding clears.
    let back = json!({"metadata": {"labels": {"app": "web"}}});
    pods.patch("web", &PatchParams::default(), &Patch::Merge(&back)).await.unwrap();
    common::wait_for_result(&reports, &web_uid, "np.unreachable-selector", "pass").await;
    assert_eq!(metric(&metrics, "portal_network_findings{check=\"np.unreachable-selector\",severity=\"medium\"}"), 0.0);
}
