//! The admission webhook end to end: a real kube-apiserver (portal-testenv) calls Portal over
//! HTTPS on loopback, registered with `clientConfig.url` and the CA in `caBundle`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::Api;
use kube::api::{DeleteParams, PostParams};
use portal_kube::admission::{self, Lookups, NoScaledObjects};
use portal_kube::cache::NamespaceLookup;
use serde_json::{Value, json};

const RULES: &str = "\
name: e2e-no-privileged
match: {gvk: [{group: '', version: v1, kind: Pod}]}
rule: container.securityContext.privileged == true
messageExpression: \"'container ' + container.name + ' must not run privileged'\"
---
name: e2e-warn-host-network
enforcementAction: warn
match: {gvk: [{group: '', version: v1, kind: Pod}]}
rule: spec.hostNetwork == true
message: hostNetwork is discouraged here
---
name: e2e-dryrun-host-pid
enforcementAction: dryrun
match: {gvk: [{group: '', version: v1, kind: Pod}]}
rule: spec.hostPID == true
---
name: e2e-error-fail
failurePolicy: Fail
match: {gvk: [{group: '', version: v1, kind: Pod}], objectSelector: {matchLabels: {e2e-error: fail}}}
rule: object.metadata.annotations['missing'] == 'x'
---
name: e2e-error-ignore
failurePolicy: Ignore
match: {gvk: [{group: '', version: v1, kind: Pod}], objectSelector: {matchLabels: {e2e-error: ignore}}}
rule: object.metadata.annotations['missing'] == 'x'
";

/// Namespaces looked up live through the API server (the operator uses a watch cache).
struct LiveNamespaces(Arc<std::sync::Mutex<std::collections::HashMap<String, Value>>>);

impl NamespaceLookup for LiveNamespaces {
    fn namespace(&self, name: &str) -> Option<Value> {
        self.0.lock().ok()?.get(name).cloned()
    }
}

/// The webhook rules of this test: Pods.
static POD_RULES: std::sync::LazyLock<Value> = std::sync::LazyLock::new(
    || json!([{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": ["pods"], "scope": "Namespaced"}]),
);

fn pod(name: &str, spec: Value, labels: Value) -> Pod {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": spec,
    }))
    .unwrap()
}

fn container(extra: Value) -> Value {
    let mut container = json!({"name": "app", "image": "registry.k8s.io/pause:3.10"});
    if let (Value::Object(target), Value::Object(extra)) = (&mut container, extra) {
        target.extend(extra);
    }
    container
}

/// Creates a pod with a raw request, to see the `Warning` headers the client receives.
async fn create_pod_raw(client: &kube::Client, namespace: &str, pod: &Pod) -> (u16, Vec<String>, Value) {
    let body = serde_json::to_vec(pod).unwrap();
    let request = http::Request::post(format!("/api/v1/namespaces/{namespace}/pods"))
        .header("content-type", "application/json")
        .body(body)
        .unwrap();
    let response = client.send(request.map(kube::client::Body::from)).await.unwrap();
    let status = response.status().as_u16();
    let warnings =
        response.headers().get_all("warning").iter().filter_map(|v| v.to_str().ok().map(str::to_owned)).collect();
    let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    (status, warnings, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn create_namespace(client: &kube::Client, name: &str, selector_value: &str, annotations: Value) {
    let namespace: Namespace = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "labels": {"portal-e2e": selector_value}, "annotations": annotations},
    }))
    .unwrap();
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &namespace).await.unwrap();
}

fn metric(text: &str, series: &str) -> f64 {
    text.lines().find_map(|line| line.strip_prefix(series)?.trim().parse().ok()).unwrap_or(0.0)
}

#[tokio::test]
async fn the_api_server_calls_portal_and_enforces_its_decisions() {
    let env = portal_testenv::shared().await.expect("the test control plane starts");
    let client = env.client().unwrap();
    let unique = env.namespace("e2e").await.unwrap(); // only for a unique suffix
    let enforced = format!("{unique}-enforced");
    let bypassed = format!("{unique}-bypassed");
    create_namespace(&client, &enforced, &unique, json!({})).await;
    create_namespace(&client, &bypassed, &unique, json!({"portal.io/bypass": "true"})).await;

    // Rules from a folder; namespaces as the operator's cache would hold them.
    let (_rules_dir, sources) = common::folder_sources(RULES).await;
    let namespaces = Arc::new(std::sync::Mutex::new(std::collections::HashMap::new()));
    for name in [&enforced, &bypassed] {
        let object = Api::<Namespace>::all(client.clone()).get(name).await.unwrap();
        namespaces.lock().unwrap().insert(name.clone(), serde_json::to_value(object).unwrap());
    }

    let certificates = common::Certificates::new();
    let tls_dir = tempfile::tempdir().unwrap();
    let first_certificate = certificates.write_serving(tls_dir.path());
    let metrics = portal_metrics::Metrics::new().unwrap();
    let settings = common::admission_settings(tls_dir.path(), Duration::from_millis(100));
    let server = admission::start(
        settings,
        sources.rules(),
        Lookups { namespaces: Arc::new(LiveNamespaces(namespaces)), scaled: Arc::new(NoScaledObjects), cluster: None },
        metrics.clone(),
    )
    .await
    .unwrap();
    let port = server.local_addr().port();
    let webhooks: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let webhook_name = format!("portal-e2e-{unique}");
    webhooks
        .create(
            &PostParams::default(),
            &common::webhook(&webhook_name, port, &certificates.ca_pem, &unique, "Fail", POD_RULES.clone()),
        )
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &enforced);

    // The webhook configuration takes a moment to reach the API server's admission chain.
    let privileged = pod(
        "privileged",
        json!({"containers": [container(json!({"securityContext": {"privileged": true}}))]}),
        json!({}),
    );
    let mut denial = String::new();
    for _ in 0..100 {
        match pods.create(&PostParams::default(), &privileged).await {
            Err(kube::Error::Api(status)) => {
                denial = status.message.clone();
                break;
            }
            Ok(_) => {
                pods.delete("privileged", &DeleteParams::default()).await.unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    // A privileged pod is rejected with the rule's name and message.
    assert!(denial.contains("e2e-no-privileged: container app must not run privileged"), "{denial}");

    // A warn rule admits and the client receives the warning.
    let host_network =
        pod("host-network", json!({"hostNetwork": true, "containers": [container(json!({}))]}), json!({}));
    let (status, warnings, _) = create_pod_raw(&client, &enforced, &host_network).await;
    assert_eq!(status, 201);
    assert!(
        warnings.iter().any(|w| w.contains("e2e-warn-host-network: hostNetwork is discouraged here")),
        "{warnings:?}"
    );

    // A dryrun rule admits silently, and the metric counts it.
    let host_pid = pod("host-pid", json!({"hostPID": true, "containers": [container(json!({}))]}), json!({}));
    let (status, warnings, _) = create_pod_raw(&client, &enforced, &host_pid).await;
    assert_eq!(status, 201);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        metric(&metrics.encode(), "portal_admission_dryrun_violations_total{rule=\"e2e-dryrun-host-pid\"}"),
        1.0
    );

    // A namespace with the bypass annotation admits without evaluation; the bypass is counted.
    let bypass_pods: Api<Pod> = Api::namespaced(client.clone(), &bypassed);
    bypass_pods.create(&PostParams::default(), &privileged).await.expect("the bypassed namespace admits");
    assert_eq!(metric(&metrics.encode(), &format!("portal_admission_bypass_total{{namespace=\"{bypassed}\"}}")), 1.0);

    // A rule that errors at runtime follows its failurePolicy.
    let fails = pod("error-fail", json!({"containers": [container(json!({}))]}), json!({"e2e-error": "fail"}));
    let error = pods.create(&PostParams::default(), &fails).await.expect_err("failurePolicy: Fail denies");
    assert!(error.to_string().contains("e2e-error-fail: could not be evaluated"), "{error}");
    let ignores = pod("error-ignore", json!({"containers": [container(json!({}))]}), json!({"e2e-error": "ignore"}));
    pods.create(&PostParams::default(), &ignores).await.expect("failurePolicy: Ignore admits");

    // Objects in namespaces outside the webhook's namespaceSelector never reach Portal.
    let before = metrics.encode();
    let system_pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    system_pods
        .create(
            &PostParams::default(),
            &pod(
                &format!("{unique}-sys"),
                json!({"containers": [container(json!({"securityContext": {"privileged": true}}))]}),
                json!({}),
            ),
        )
        .await
        .expect("kube-system is excluded");
    let requests = |text: &str| {
        ["allowed", "denied", "warned", "error"]
            .iter()
            .map(|d| metric(text, &format!("portal_admission_requests_total{{decision=\"{d}\"}}")))
            .sum::<f64>()
    };
    assert_eq!(requests(&metrics.encode()), requests(&before), "no request reached Portal");

    // Replacing the certificate files switches the served certificate without a restart.
    let second_certificate = certificates.write_serving(tls_dir.path());
    assert_ne!(first_certificate, second_certificate);
    let served = wait_for_served_certificate(port, &certificates.ca_pem, &second_certificate).await;
    assert!(served, "the new certificate is served");
    let (status, _, _) = create_pod_raw(
        &client,
        &enforced,
        &pod("after-rotation", json!({"containers": [container(json!({}))]}), json!({})),
    )
    .await;
    assert_eq!(status, 201, "the API server still trusts and reaches Portal after the rotation");

    // With Portal stopped, failurePolicy: Fail rejects and Ignore admits.
    drop(server);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let error = pods
        .create(&PostParams::default(), &pod("portal-down", json!({"containers": [container(json!({}))]}), json!({})))
        .await
        .expect_err("fail closed");
    assert!(error.to_string().contains("failed calling webhook"), "{error}");
    let mut current = webhooks.get(&webhook_name).await.unwrap();
    current.webhooks.as_mut().unwrap()[0].failure_policy = Some("Ignore".to_owned());
    webhooks.replace(&webhook_name, &PostParams::default(), &current).await.unwrap();
    let mut admitted = false;
    for attempt in 0..100 {
        if pods
            .create(
                &PostParams::default(),
                &pod(&format!("portal-down-{attempt}"), json!({"containers": [container(json!({}))]}), json!({})),
            )
            .await
            .is_ok()
        {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(admitted, "failurePolicy: Ignore admits while Portal is down");
    webhooks.delete(&webhook_name, &DeleteParams::default()).await.unwrap();
}

/// Connects with TLS until the server presents `expected` (PEM), trusting only `ca_pem`.
async fn wait_for_served_certificate(port: u16, ca_pem: &str, expected: &str) -> bool {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let expected = CertificateDer::from_pem_slice(expected.as_bytes()).unwrap();
    let connector = common::tls_connector(&CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap(), &[]);
    for _ in 0..100 {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let tls = connector.connect(common::localhost(), stream).await.unwrap();
        let presented = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).cloned();
        if presented.as_ref() == Some(&expected) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn health_readiness_and_metrics_are_served_on_their_own_port() {
    let metrics = portal_metrics::Metrics::new().unwrap();
    let (ready, readiness) = tokio::sync::watch::channel(false);
    let (address, _task) = portal_kube::health::start(
        SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        metrics.clone(),
        readiness,
        portal_kube::admission::ConnectionLimits::default(),
    )
    .await
    .unwrap();
    assert_eq!(common::http_get(address, "/healthz").await.0, 200);
    assert_eq!(common::http_get(address, "/readyz").await.0, 503, "not ready before the rules are loaded");
    ready.send(true).unwrap();
    assert_eq!(common::http_get(address, "/readyz").await.0, 200);
    metrics.admission_request(portal_metrics::Decision::Denied, Duration::from_micros(300));
    let (status, body) = common::http_get(address, "/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("portal_admission_requests_total{decision=\"denied\"} 1"), "{body}");
    assert!(body.contains("portal_build_info{version="), "{body}");
}
