//! Subresources and deletions against the real API server: what the kubelet and controllers send
//! is admitted, and what would sidestep a rule is not.
//!
//! - a `status` update of an object that breaks a rule is admitted (kubelets keep reporting),
//!   unless a rule opts in to `status`;
//! - removing the finalizer of a violating object being deleted is admitted, so it can go;
//! - `kubectl scale` is evaluated as the scaled Deployment, so a replicas rule holds;
//! - a privileged ephemeral container is denied.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use portal_kube::admission::{self, ApiScaledObjects, Lookups};
use portal_kube::cache::NoNamespaces;
use serde_json::{Value, json};

const RULES: &str = "\
name: sub-no-host-ipc
match: {gvk: [{group: '', kind: Pod}]}
rule: spec.hostIPC == true
message: hostIPC is not allowed
---
name: sub-no-privileged
match: {gvk: [{group: '', kind: Pod}]}
rule: container.securityContext.privileged == true
message: privileged containers are not allowed
---
name: sub-max-replicas
match: {gvk: [{group: apps, kind: Deployment}]}
rule: object.spec.replicas > 3
message: at most 3 replicas
---
name: sub-status-opt-in
match:
  gvk: [{group: '', kind: Pod}]
  objectSelector: {matchLabels: {status-rule: 'on'}}
  subresources: [status]
rule: object.status.message == 'forbidden'
message: this status message is not allowed
";

fn object<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn pod(name: &str, extra_spec: Value, metadata: Value) -> Pod {
    let mut spec = json!({"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]});
    if let (Value::Object(spec), Value::Object(extra)) = (&mut spec, extra_spec) {
        spec.extend(extra);
    }
    let mut meta = json!({"name": name});
    if let (Value::Object(meta), Value::Object(extra)) = (&mut meta, metadata) {
        meta.extend(extra);
    }
    object(json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}))
}

fn message(result: Result<impl std::fmt::Debug, kube::Error>) -> String {
    match result {
        Err(kube::Error::Api(status)) => status.message,
        other => panic!("expected a denial, got {other:?}"),
    }
}

#[tokio::test]
async fn subresources_and_deletions_are_admitted_or_evaluated_as_they_should() {
    let env = portal_testenv::shared().await.expect("the test control plane starts");
    let client = env.client().unwrap();
    let unique = env.namespace("sub").await.unwrap();
    let namespace = format!("{unique}-x");
    let ns: Namespace = object(json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": namespace, "labels": {"portal-e2e": unique}}}));
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await.unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    let create = PostParams::default();

    // Objects that exist before the rules: one breaks a rule and has a finalizer.
    let legacy = pod("legacy", json!({"hostIPC": true}), json!({"finalizers": ["portal.io/e2e"]}));
    pods.create(&create, &legacy).await.unwrap();
    pods.create(&create, &pod("debug", json!({}), json!({}))).await.unwrap();
    pods.create(&create, &pod("watched", json!({}), json!({"labels": {"status-rule": "on"}}))).await.unwrap();
    let deployment: Deployment = object(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}}}}));
    deployments.create(&create, &deployment).await.unwrap();

    // Portal, with the webhook covering the main resources and the subresources of interest.
    let (_rules_dir, sources) = common::folder_sources(RULES).await;
    let certificates = common::Certificates::new();
    let tls_dir = tempfile::tempdir().unwrap();
    certificates.write_serving(tls_dir.path());
    let settings = common::admission_settings(tls_dir.path(), Duration::from_secs(60));
    let lookups = Lookups {
        namespaces: Arc::new(NoNamespaces),
        scaled: Arc::new(ApiScaledObjects(client.clone())),
        cluster: None,
    };
    let metrics = portal_metrics::Metrics::new().unwrap();
    let server = admission::start(settings, sources.rules(), lookups, metrics).await.unwrap();
    let rules = json!([
        {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
         "resources": ["pods", "pods/status", "pods/ephemeralcontainers"], "scope": "Namespaced"},
        {"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
         "resources": ["deployments", "deployments/scale"], "scope": "Namespaced"},
    ]);
    let webhooks: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let webhook_name = format!("portal-e2e-{unique}");
    let configuration =
        common::webhook(&webhook_name, server.local_addr().port(), &certificates.ca_pem, &unique, "Fail", rules);
    webhooks.create(&create, &configuration).await.unwrap();
    // The configuration takes a moment to reach the admission chain: wait for a denial.
    let label = |value: &str| Patch::Merge(json!({"metadata": {"labels": {"touched": value}}}));
    let mut attempts = 0;
    while pods.patch("legacy", &PatchParams::default(), &label("1")).await.is_ok() {
        attempts += 1;
        assert!(attempts < 100, "the webhook never started denying");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The object itself is evaluated: legacy breaks sub-no-host-ipc.
    let denial = message(pods.patch("legacy", &PatchParams::default(), &label("2")).await);
    assert!(denial.contains("sub-no-host-ipc: hostIPC is not allowed"), "{denial}");

    // 1. Its status, as the kubelet writes it, is admitted.
    let status = Patch::Merge(json!({"status": {"message": "running"}}));
    pods.patch_status("legacy", &PatchParams::default(), &status).await.expect("a status update is admitted");
    // ...unless a rule opts in to the status subresource.
    let forbidden = Patch::Merge(json!({"status": {"message": "forbidden"}}));
    let denial = message(pods.patch_status("watched", &PatchParams::default(), &forbidden).await);
    assert!(denial.contains("sub-status-opt-in: this status message is not allowed"), "{denial}");
    pods.patch_status("watched", &PatchParams::default(), &status).await.expect("an allowed status is admitted");

    // 2. A violating object being deleted can lose its finalizer and go.
    pods.delete("legacy", &DeleteParams::default()).await.unwrap();
    let terminating = pods.get("legacy").await.unwrap();
    assert!(terminating.metadata.deletion_timestamp.is_some());
    let no_finalizers = Patch::Merge(json!({"metadata": {"finalizers": null}}));
    pods.patch("legacy", &PatchParams::default(), &no_finalizers).await.expect("the finalizer's removal is admitted");
    let mut gone = false;
    for _ in 0..50 {
        if pods.get_opt("legacy").await.unwrap().is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the pod is deleted once its finalizer is removed");

    // 3. Scaling is evaluated as the Deployment with the new replica count.
    let scale = |replicas: i32| Patch::Merge(json!({"spec": {"replicas": replicas}}));
    let denial = message(deployments.patch_scale("web", &PatchParams::default(), &scale(5)).await);
    assert!(denial.contains("sub-max-replicas: at most 3 replicas"), "{denial}");
    deployments.patch_scale("web", &PatchParams::default(), &scale(2)).await.expect("2 replicas are allowed");
    assert_eq!(deployments.get("web").await.unwrap().spec.replicas, Some(2));

    // 4. A privileged ephemeral container is denied; a plain one is admitted.
    let ephemeral = |privileged: bool| {
        Patch::Strategic(json!({"spec": {"ephemeralContainers": [{
            "name": if privileged { "root-shell" } else { "shell" }, "image": "busybox",
            "securityContext": {"privileged": privileged}}]}}))
    };
    let denial = message(
        pods.patch_subresource("ephemeralcontainers", "debug", &PatchParams::default(), &ephemeral(true)).await,
    );
    assert!(denial.contains("sub-no-privileged: privileged containers are not allowed"), "{denial}");
    pods.patch_subresource("ephemeralcontainers", "debug", &PatchParams::default(), &ephemeral(false))
        .await
        .expect("a plain ephemeral container is admitted");

    webhooks.delete(&webhook_name, &DeleteParams::default()).await.unwrap();
}
