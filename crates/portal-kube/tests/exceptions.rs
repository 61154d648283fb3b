//! Exceptions against the real API server: the CRD schema refuses an exception without a
//! justification; an exempted Pod is admitted through the webhook and its audit report says
//! `skip` naming the exception; a namespaced exception cannot exempt another namespace; an
//! expired exception no longer exempts, its status says so, and the audit follows the clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{DeleteParams, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use kube::{Api, ResourceExt};
use portal_kube::admission::{self, Lookups, NoScaledObjects};
use serde_json::{Value, json};

const RULES: &str = "\
name: exc-no-privileged
match: {gvk: [{group: '', version: v1, kind: Pod}]}
rule: container.securityContext.?privileged.orValue(false)
message: privileged containers are not allowed
";

fn exception_resource(namespaced: bool) -> ApiResource {
    let kind = if namespaced { "PortalException" } else { "PortalClusterException" };
    ApiResource {
        group: "portal.io".into(),
        version: "v1alpha1".into(),
        api_version: "portal.io/v1alpha1".into(),
        kind: kind.into(),
        plural: format!("{}s", kind.to_lowercase()),
    }
}

fn exceptions(client: &kube::Client, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &exception_resource(true))
}

async fn create_exception(client: &kube::Client, namespace: &str, name: &str, spec: Value) -> Result<(), kube::Error> {
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "portal.io/v1alpha1", "kind": "PortalException",
        "metadata": {"name": name, "namespace": namespace}, "spec": spec,
    }))
    .unwrap();
    exceptions(client, namespace).create(&PostParams::default(), &object).await.map(drop)
}

/// The exception's `Ready` condition reason, once it is `reason`.
async fn wait_for_reason(client: &kube::Client, namespace: &str, name: &str, reason: &str) -> Value {
    let started = Instant::now();
    loop {
        let object = exceptions(client, namespace).get(name).await.unwrap();
        let status = object.data.get("status").cloned().unwrap_or(Value::Null);
        if status["conditions"][0]["reason"] == reason {
            return status;
        }
        assert!(started.elapsed() < common::WAIT, "{name} never became {reason}: {status:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn privileged_pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10", "securityContext": {"privileged": true}}]},
    }))
    .unwrap()
}

async fn create_namespace(client: &kube::Client, name: &str, selector_value: &str) {
    let namespace: Namespace = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"portal-e2e": selector_value}},
    }))
    .unwrap();
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &namespace).await.unwrap();
}

fn metric(text: &str, series: &str) -> f64 {
    text.lines().find_map(|line| line.strip_prefix(series)?.trim().parse().ok()).unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceptions_exempt_within_their_namespace_until_they_expire() {
    let env = portal_testenv::shared().await.expect("the test control plane starts");
    let client = env.client().unwrap();
    common::install_crds(&client).await;
    common::install_report_crds(&client).await;
    let unique = env.namespace("exc").await.unwrap();
    let (shop, other) = (format!("{unique}-shop"), format!("{unique}-other"));
    create_namespace(&client, &shop, &unique).await;
    create_namespace(&client, &other, &unique).await;

    // The CRD schema refuses an exception without a justification, or with an empty one.
    let missing = create_exception(&client, &shop, "unjustified", json!({"rules": ["*"]})).await.unwrap_err();
    assert!(missing.to_string().contains("spec.justification: Required value"), "{missing}");
    let empty = create_exception(&client, &shop, "unjustified", json!({"rules": ["*"], "justification": ""}))
        .await
        .unwrap_err();
    assert!(empty.to_string().contains("spec.justification"), "{empty}");

    // Rules from a folder, exceptions from the cluster; a webhook and an audit over both.
    let rules_dir = tempfile::tempdir().unwrap();
    std::fs::write(rules_dir.path().join("rules.yaml"), RULES).unwrap();
    let sources = portal_kube::RuleSources::start(portal_kube::SourcesConfig {
        cluster: Some(client.clone()),
        folders: vec![rules_dir.path().to_owned()],
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
    let server = admission::start(
        common::admission_settings(tls_dir.path(), Duration::from_secs(60)),
        sources.rules(),
        Lookups {
            namespaces: Arc::new(portal_kube::cache::NoNamespaces),
            scaled: Arc::new(NoScaledObjects),
            cluster: None,
        },
        metrics.clone(),
    )
    .await
    .unwrap();
    let pod_rules = json!([{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"], "scope": "Namespaced"}]);
    let webhooks: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let webhook_name = format!("portal-e2e-{unique}");
    let port = server.local_addr().port();
    webhooks
        .create(
            &PostParams::default(),
            &common::webhook(&webhook_name, port, &certificates.ca_pem, &unique, "Fail", pod_rules),
        )
        .await
        .unwrap();
    let _audit = common::start_audit(&client, &sources, &metrics, None, None, portal_report::ReportApi::PolicyWg).await;

    // The webhook is in force once a privileged Pod is denied.
    let shop_pods: Api<Pod> = Api::namespaced(client.clone(), &shop);
    let mut denial = String::new();
    for _ in 0..100 {
        match shop_pods.create(&PostParams::default(), &privileged_pod("probe")).await {
            Err(kube::Error::Api(status)) => {
                denial = status.message.clone();
                break;
            }
            Ok(_) => {
                shop_pods.delete("probe", &DeleteParams::default()).await.unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert!(denial.contains("exc-no-privileged: privileged containers are not allowed"), "{denial}");

    // An exception in `shop` for the legacy Pods: they are admitted, and their report says skip.
    // Its match reaches for every namespace; it still exempts only inside its own.
    let legacy = json!({
        "rules": ["exc-no-*"], "names": ["legacy-*"],
        "match": {"namespaces": {"include": ["*"]}},
        "justification": "vendor image that needs privileges until its replacement ships",
    });
    create_exception(&client, &shop, "legacy", legacy).await.unwrap();
    let status = wait_for_reason(&client, &shop, "legacy", "Active").await;
    assert_eq!(status["conditions"][0]["message"], "in force; it does not expire");
    let admitted = shop_pods.create(&PostParams::default(), &privileged_pod("legacy-1")).await.expect("exempted");
    let reports = common::reports(&client, Some(&shop));
    common::wait_for_result(&reports, &admitted.uid().unwrap(), "exc-no-privileged", "skip").await;
    let report = reports.get(&format!("portal-{}", admitted.uid().unwrap())).await.unwrap();
    let result = &serde_json::to_value(report).unwrap()["results"][0];
    let reference = format!("PortalException/{shop}/legacy");
    assert_eq!(result["properties"]["exception"], reference.as_str(), "{result:#}");
    assert_eq!(result["message"], format!("exempted by {reference}"));
    let exemptions = format!(
        "portal_exception_exemptions_total{{control=\"admission\",exception=\"{reference}\",rule=\"exc-no-privileged\"}}"
    );
    assert_eq!(metric(&metrics.encode(), &exemptions), 1.0);
    // Another name in the same namespace is not exempted.
    shop_pods.create(&PostParams::default(), &privileged_pod("web")).await.expect_err("not named by the exception");

    // The same Pod in another namespace is denied.
    let other_pods: Api<Pod> = Api::namespaced(client.clone(), &other);
    let denied = other_pods.create(&PostParams::default(), &privileged_pod("legacy-1")).await.unwrap_err();
    assert!(denied.to_string().contains("exc-no-privileged"), "{denied}");

    // An exception that expires in a few seconds exempts until then, and not after.
    let expires_at = portal_rules::format_rfc3339(SystemTime::now() + Duration::from_secs(4));
    let expires = portal_rules::exception::parse_rfc3339(&expires_at).unwrap();
    let expiring =
        json!({"rules": ["*"], "names": ["legacy-*"], "justification": "migration window", "expires": expires_at});
    create_exception(&client, &other, "window", expiring).await.unwrap();
    wait_for_reason(&client, &other, "window", "Active").await;
    let admitted = other_pods.create(&PostParams::default(), &privileged_pod("legacy-2")).await.expect("exempted");
    let reports = common::reports(&client, Some(&other));
    let uid = admitted.uid().unwrap();
    common::wait_for_result(&reports, &uid, "exc-no-privileged", "skip").await;
    let status = wait_for_reason(&client, &other, "window", "Expired").await;
    assert!(SystemTime::now() >= expires);
    assert_eq!(status["expired"], true, "{status:#}");
    let denied = other_pods.create(&PostParams::default(), &privileged_pod("legacy-3")).await.unwrap_err();
    assert!(denied.to_string().contains("exc-no-privileged"), "{denied}");
    // The audit evaluates the exempted Pod again once the exception has expired.
    common::wait_for_result(&reports, &uid, "exc-no-privileged", "fail").await;
    let counts = sources.subscribe().borrow().exceptions;
    assert_eq!((counts.active, counts.expired, counts.rejected), (1, 1, 0));

    webhooks.delete(&webhook_name, &DeleteParams::default()).await.unwrap();
}
