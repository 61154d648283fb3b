//! With every Portal replica down and the configuration `portal webhook-config` renders, the
//! cluster can still heal itself, violating Pods are still rejected (fail closed), and each
//! recovery step of docs/admission.md works. Its own test binary, so its own API server: the
//! configuration it installs covers every namespace.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use k8s_openapi::api::rbac::v1::ClusterRole;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use portal_kube::api::PortalClusterRule;
use portal_kube::registration::{self, BREAK_GLASS_LABEL, BREAK_GLASS_VALUE, RegistrationOptions, WebhookClient};
use portal_rules::RuleSet;
use serde_json::{Value, json};

/// Besides the shipped examples: rules on cluster-scoped kinds, one of them protected.
const CLUSTER_RULES: &str = "\
name: lockout-namespace-owner
match: {gvk: [{group: '', kind: Namespace}]}
rule: \"!has(object.metadata.labels) || !('owner' in object.metadata.labels)\"
---
name: lockout-nodes
match: {gvk: [{group: '', kind: Node}]}
rule: 'true'
";

fn object<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn privileged_pod(name: &str) -> Pod {
    object(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10",
                                 "securityContext": {"privileged": true}}]}}))
}

/// Retries `attempt` until it succeeds: webhook configuration changes reach the API server's
/// admission chain after a moment.
async fn eventually<F, Fut, T>(what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut last = None;
    for _ in 0..100 {
        match attempt().await {
            Ok(value) => return value,
            Err(error) => last = Some(error),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} never succeeded: {last:?}");
}

fn rules() -> RuleSet {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cluster.yaml"), CLUSTER_RULES).unwrap();
    let paths = [
        root.join("examples/rules"),
        root.join("examples/policies/pod-security/baseline"),
        root.join("examples/policies/pod-security/restricted"),
        dir.path().join("cluster.yaml"),
    ];
    let (loaded, problems) = portal_files::load_rule_paths(&paths);
    assert!(problems.is_empty(), "{problems:?}");
    let (set, errors) = RuleSet::compile(loaded);
    assert!(errors.is_empty(), "{errors:?}");
    set
}

#[tokio::test]
async fn with_portal_down_the_cluster_heals_itself_and_recovery_works() {
    let client = common::client().await;
    common::install_crds(&client).await;
    let create = PostParams::default();

    // The rendered configuration, pointing at a port where no Portal answers.
    let certificates = common::Certificates::new();
    let options = RegistrationOptions {
        name: "portal-lockout".into(),
        client: WebhookClient::Url(format!("https://127.0.0.1:{}/validate", common::free_port())),
        portal_namespace: "portal-system".into(),
        failure_policy: "Fail".into(),
        cluster_failure_policy: "Ignore".into(),
        ca_bundle: common::base64_encode(certificates.ca_pem.as_bytes()),
    };
    let registration = registration::render(&rules(), &options).unwrap();
    assert!(registration.warnings.iter().any(|w| w.contains("lockout-nodes")), "{:?}", registration.warnings);
    let webhooks: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    webhooks.create(&create, &registration.configuration).await.unwrap();

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let team = |name: &str| -> Namespace {
        object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    };
    namespaces.create(&create, &team("team-a")).await.unwrap();
    namespaces.create(&create, &team("team-b")).await.unwrap();
    let team_a: Api<Pod> = Api::namespaced(client.clone(), "team-a");
    let team_b: Api<Pod> = Api::namespaced(client.clone(), "team-b");

    // Fail closed where it should: a violating Pod in a covered namespace is rejected.
    let mut rejection = String::new();
    for attempt in 0..100 {
        match team_a.create(&create, &privileged_pod(&format!("probe-{attempt}"))).await {
            Err(error) => {
                rejection = error.to_string();
                break;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert!(rejection.contains("failed calling webhook"), "{rejection}");

    // The control plane heals itself: none of these reach the webhook.
    let node: Node = object(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "lockout-node"}}));
    Api::<Node>::all(client.clone()).create(&create, &node).await.expect("a Node registers");
    let lease: Lease = object(json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "lockout-node"}, "spec": {"holderIdentity": "lockout-node", "leaseDurationSeconds": 40}}));
    let node_leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    node_leases.create(&create, &lease).await.expect("a node Lease is created");
    let renew = Patch::Merge(json!({"spec": {"renewTime": "2026-12-06T12:00:00.000000Z"}}));
    node_leases.patch("lockout-node", &PatchParams::default(), &renew).await.expect("a node Lease is renewed");
    let team_leases: Api<Lease> = Api::namespaced(client.clone(), "team-a");
    team_leases.create(&create, &lease).await.expect("a leader-election Lease in a covered namespace");
    namespaces.create(&create, &team("team-c")).await.expect("a Namespace is created (cluster webhook: Ignore)");
    let role: ClusterRole = object(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "portal"}, "rules": []}));
    let roles: Api<ClusterRole> = Api::all(client.clone());
    roles.create(&create, &role).await.expect("Portal's ClusterRole is created");
    let more = Patch::Merge(json!({"rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}));
    roles.patch("portal", &PatchParams::default(), &more).await.expect("Portal's ClusterRole is updated");
    let rule: PortalClusterRule = object(json!({"apiVersion": "portal.io/v1alpha1", "kind": "PortalClusterRule",
        "metadata": {"name": "lockout-rule"}, "spec": {"match": {"gvk": [{"group": "", "kind": "Pod"}]}, "rule": "false"}}));
    let portal_rules: Api<PortalClusterRule> = Api::all(client.clone());
    portal_rules.create(&create, &rule).await.expect("a PortalClusterRule is created");
    let edit = Patch::Merge(json!({"spec": {"enabled": false}}));
    portal_rules.patch("lockout-rule", &PatchParams::default(), &edit).await.expect("a PortalClusterRule is edited");

    // Recovery 1: the break-glass label takes one namespace out; the API server stops calling.
    let label = Patch::Merge(json!({"metadata": {"labels": {BREAK_GLASS_LABEL: BREAK_GLASS_VALUE}}}));
    namespaces.patch("team-a", &PatchParams::default(), &label).await.expect("the label is set while Portal is down");
    let pod = privileged_pod("after-break-glass");
    eventually("a Pod in the namespace with the break-glass label", || team_a.create(&create, &pod)).await;
    assert!(team_b.create(&create, &privileged_pod("still-closed")).await.is_err(), "other namespaces stay closed");

    // Recovery 2: fail open for the moment.
    let mut configuration = webhooks.get("portal-lockout").await.unwrap();
    for webhook in configuration.webhooks.iter_mut().flatten() {
        webhook.failure_policy = Some("Ignore".to_owned());
    }
    webhooks.replace("portal-lockout", &create, &configuration).await.unwrap();
    let pod = privileged_pod("after-fail-open");
    eventually("a Pod once the webhook fails open", || team_b.create(&create, &pod)).await;

    // Recovery 3: the last resort, deleting the configuration.
    webhooks.delete("portal-lockout", &DeleteParams::default()).await.expect("the configuration is deleted");
    let pod = privileged_pod("after-delete");
    eventually("a Pod without the configuration", || team_b.create(&create, &pod)).await;
}
