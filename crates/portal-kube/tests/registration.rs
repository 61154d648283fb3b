//! How many requests the API server sends Portal: the configuration `portal webhook-config`
//! renders for the shipped examples against the catch-all one Portal shipped before (every
//! resource and subresource of every group), on the same mix of writes a cluster makes all day
//! (ConfigMaps, Secrets, Events, Lease renewals) and a few workloads. Its own test binary, so its
//! own API server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Pod, Secret};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use portal_kube::admission::{self, ApiScaledObjects, Lookups};
use portal_kube::cache::NoNamespaces;
use portal_kube::registration::{self, RegistrationOptions, WebhookClient};
use portal_kube::{RuleSources, SourcesConfig};
use serde_json::{Value, json};

fn object<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn requests(metrics: &portal_metrics::Metrics) -> f64 {
    let text = metrics.encode();
    ["allowed", "denied", "warned", "error"]
        .iter()
        .filter_map(|decision| {
            let series = format!("portal_admission_requests_total{{decision=\"{decision}\"}}");
            text.lines().find_map(|line| line.strip_prefix(&series)?.trim().parse::<f64>().ok())
        })
        .sum()
}

/// A round of background writes and a few workloads in `namespace`; returns how many requests
/// it made.
async fn workload(client: &kube::Client, namespace: &str, round: usize) -> usize {
    let create = PostParams::default();
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    let leases: Api<Lease> = Api::namespaced(client.clone(), namespace);
    let lease_name = format!("leader-{round}");
    let lease: Lease = object(json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": lease_name}, "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15}}));
    leases.create(&create, &lease).await.unwrap();
    let mut made = 1;
    for i in 0..10 {
        let name = format!("r{round}-{i}");
        configmaps
            .create(
                &create,
                &object(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name}, "data": {"k": "v"}})),
            )
            .await
            .unwrap();
        secrets
            .create(
                &create,
                &object(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name}, "stringData": {"k": "v"}})),
            )
            .await
            .unwrap();
        events
            .create(
                &create,
                &object(json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name}, "involvedObject": {"kind": "ConfigMap", "name": name, "namespace": namespace},
            "reason": "Test", "message": "m", "type": "Normal"})),
            )
            .await
            .unwrap();
        let renew = Patch::Merge(json!({"spec": {"renewTime": format!("2026-12-06T12:00:{i:02}.000000Z")}}));
        leases.patch(&lease_name, &PatchParams::default(), &renew).await.unwrap();
        made += 4;
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    for i in 0..3 {
        let pod: Pod = object(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": format!("p{round}-{i}")},
            "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}}));
        // Whether admitted or denied, the request reached the webhook (or not).
        let _ = pods.create(&create, &pod).await;
        made += 1;
    }
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let deployment: Deployment = object(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": format!("web-{round}")},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}}}}));
    let _ = deployments.create(&create, &deployment).await;
    made + 1
}

#[tokio::test]
async fn the_rendered_configuration_sends_portal_only_what_rules_judge() {
    let client = common::client().await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let folders = vec![
        root.join("examples/rules"),
        root.join("examples/policies/pod-security/baseline"),
        root.join("examples/policies/pod-security/restricted"),
    ];
    let sources = RuleSources::start(SourcesConfig {
        cluster: None,
        folders,
        debounce: Duration::from_millis(20),
        limits: Default::default(),
        lookups: None,
    })
    .unwrap();
    sources.wait_ready().await;
    let certificates = common::Certificates::new();
    let tls_dir = tempfile::tempdir().unwrap();
    certificates.write_serving(tls_dir.path());
    let metrics = portal_metrics::Metrics::new().unwrap();
    let settings = common::admission_settings(tls_dir.path(), Duration::from_secs(60));
    let lookups = Lookups {
        namespaces: Arc::new(NoNamespaces),
        scaled: Arc::new(ApiScaledObjects(client.clone())),
        cluster: None,
    };
    let server = admission::start(settings, sources.rules(), lookups, metrics.clone()).await.unwrap();
    let url = format!("https://127.0.0.1:{}/validate", server.local_addr().port());
    let ca_bundle = common::base64_encode(certificates.ca_pem.as_bytes());

    let namespace: Namespace = object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "load"}}));
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &namespace).await.unwrap();
    let webhooks: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());

    // The rendered configuration.
    let options = RegistrationOptions {
        name: "portal".into(),
        client: WebhookClient::Url(url.clone()),
        portal_namespace: "portal-system".into(),
        failure_policy: "Fail".into(),
        cluster_failure_policy: "Ignore".into(),
        ca_bundle: ca_bundle.clone(),
    };
    let rendered = registration::render(&sources.rules().load(), &options).unwrap().configuration;
    webhooks.create(&PostParams::default(), &rendered).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "load");
    let probe: Pod = object(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe"},
        "spec": {"containers": [{"name": "app", "image": "x", "securityContext": {"privileged": true}}]}}));
    let mut attempts = 0;
    while pods.create(&PostParams::default(), &probe).await.is_ok() {
        pods.delete("probe", &DeleteParams::default()).await.unwrap();
        attempts += 1;
        assert!(attempts < 100, "the rendered configuration never took effect");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = requests(&metrics);
    let made = workload(&client, "load", 1).await;
    let rendered_requests = requests(&metrics) - before;
    // Only the Pods and the Deployment reach Portal.
    assert_eq!(rendered_requests, 4.0, "of {made} writes");

    // The catch-all configuration Portal shipped before.
    webhooks.delete("portal", &DeleteParams::default()).await.unwrap();
    let catch_all: ValidatingWebhookConfiguration = object(json!({
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "portal-catch-all"},
        "webhooks": [{"name": "validate.portal.io", "admissionReviewVersions": ["v1"], "sideEffects": "None",
            "failurePolicy": "Fail", "timeoutSeconds": 3, "matchPolicy": "Equivalent",
            "clientConfig": {"url": url, "caBundle": ca_bundle},
            "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                "values": ["kube-system", "kube-public", "kube-node-lease", "portal-system"]}]},
            "rules": [{"apiGroups": ["*"], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE", "DELETE"],
                       "resources": ["*/*"], "scope": "*"}]}]}));
    webhooks.create(&PostParams::default(), &catch_all).await.unwrap();
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "load");
    let mut attempts = 0;
    loop {
        let before = requests(&metrics);
        let name = format!("probe-{attempts}");
        let probe: ConfigMap = object(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}));
        configmaps.create(&PostParams::default(), &probe).await.unwrap();
        if requests(&metrics) > before {
            break;
        }
        attempts += 1;
        assert!(attempts < 100, "the catch-all configuration never took effect");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = requests(&metrics);
    let made_again = workload(&client, "load", 2).await;
    let catch_all_requests = requests(&metrics) - before;
    assert_eq!(made, made_again);
    assert_eq!(catch_all_requests, made as f64, "the catch-all configuration sends every write");
    println!(
        "requests sent to Portal for {made} writes: rendered configuration {rendered_requests}, \
         catch-all {catch_all_requests}"
    );
    webhooks.delete("portal-catch-all", &DeleteParams::default()).await.unwrap();
}
