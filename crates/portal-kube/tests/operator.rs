//! `portal run`'s wiring against the real API server: configuration in, health endpoint up,
//! admission served only once rules and namespaces are loaded, with the namespace cache feeding
//! the bypass annotation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::PostParams;
use rcgen::{CertificateParams, KeyPair, SanType};
use serde_json::{Value, json};

async fn review(port: u16, ca: &rustls_pki_types::CertificateDer<'static>, namespace: &str) -> Value {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let tls = common::tls_connector(ca, &[b"h2"]).connect(common::localhost(), stream).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls)).await.unwrap();
    tokio::spawn(connection);
    let body = json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "op-1", "operation": "CREATE", "namespace": namespace,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "userInfo": {"username": "test"},
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": namespace},
                       "spec": {"containers": [{"name": "c", "image": "x", "securityContext": {"privileged": true}}]}},
        }
    });
    let request = hyper::Request::post("https://127.0.0.1/validate")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(&body).unwrap())))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

/// Settings for `portal run` with rules from `rules` only (no rule resources), the test control
/// plane's kubeconfig and the health endpoint on `health_port`.
fn folder_rules_only(
    env: &portal_testenv::TestEnv,
    rules: &std::path::Path,
    health_port: u16,
) -> portal_config::Overrides {
    portal_config::Overrides::default()
        .set("--rules", "rules.folders", vec![rules.to_owned()])
        .set("--cluster-rules", "rules.cluster.enabled", false)
        .set("--kubeconfig", "kubernetes.kubeconfig", env.kubeconfig_path())
        .set("--health-listen", "health.listen", SocketAddr::from((Ipv4Addr::LOCALHOST, health_port)))
}

/// `portal run` with the settings of `overrides`, running until the sender is used.
fn start_portal_run(
    overrides: &portal_config::Overrides,
) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<Result<(), portal_kube::operator::Error>>) {
    let config = portal_config::Config::load(None, Vec::new(), overrides).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(async move {
        portal_kube::operator::run(&config, async {
            let _ = stopped.await;
        })
        .await
    });
    (stop, run)
}

const NO_PRIVILEGED: &str = "name: op-no-privileged\nmatch: {gvk: [{group: '', kind: Pod}]}\nrule: container.securityContext.privileged == true\n";

#[tokio::test]
async fn portal_run_serves_admission_with_namespaces_from_its_cache() {
    let env = portal_testenv::shared().await.expect("the test control plane starts");
    let client = env.client().unwrap();
    let enforced = env.namespace("op-enforced").await.unwrap();
    let bypassed = format!("{enforced}-bypass");
    let namespace: Namespace = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": bypassed, "annotations": {"portal.io/bypass": "true"}},
    }))
    .unwrap();
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &namespace).await.unwrap();
    // Rule resources are a source too: without their CRDs the watch never lists and Portal never
    // becomes ready (it keeps retrying and logging).
    common::install_crds(&client).await;

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yaml"),
        format!("{NO_PRIVILEGED}---\nname: op-dryrun\nenforcementAction: dryrun\nmatch: {{gvk: [{{group: '', kind: Pod}}]}}\nrule: 'true'\n"),
    )
    .unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.subject_alt_names.push(SanType::IpAddress(Ipv4Addr::LOCALHOST.into()));
    let certificate = params.self_signed(&key).unwrap();
    std::fs::write(dir.path().join("tls.crt"), certificate.pem()).unwrap();
    std::fs::write(dir.path().join("tls.key"), key.serialize_pem()).unwrap();

    let (admission_port, health_port) = (common::free_port(), common::free_port());
    let overrides = portal_config::Overrides::default()
        .set("--rules", "rules.folders", vec![dir.path().join("rules.yaml")])
        .set("--kubeconfig", "kubernetes.kubeconfig", env.kubeconfig_path())
        .set("--admission", "admission.enabled", true)
        .set("--admission-listen", "admission.listen", SocketAddr::from((Ipv4Addr::LOCALHOST, admission_port)))
        .set("--health-listen", "health.listen", SocketAddr::from((Ipv4Addr::LOCALHOST, health_port)))
        .set("--cert-file", "admission.certFile", dir.path().join("tls.crt"))
        .set("--key-file", "admission.keyFile", dir.path().join("tls.key"));
    let (stop, run) = start_portal_run(&overrides);

    let started = Instant::now();
    while common::http_get(SocketAddr::from((Ipv4Addr::LOCALHOST, health_port)), "/readyz").await.0 != 200 {
        assert!(started.elapsed() < Duration::from_secs(30), "portal run never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("portal run ready after {} ms", started.elapsed().as_millis());
    // Admission comes up right after readiness; wait for the port.
    while tokio::net::TcpStream::connect(("127.0.0.1", admission_port)).await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "the webhook never listened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ca = certificate.der().clone();
    let denied = review(admission_port, &ca, &enforced).await;
    assert_eq!(denied["response"]["allowed"], false, "{denied}");
    assert!(denied["response"]["status"]["message"].as_str().unwrap().contains("op-no-privileged"), "{denied}");
    let bypassed_review = review(admission_port, &ca, &bypassed).await;
    assert_eq!(bypassed_review["response"]["allowed"], true, "the namespace cache feeds the bypass: {bypassed_review}");

    // A rule that leaves the rule set takes its series with it.
    let health = SocketAddr::from((Ipv4Addr::LOCALHOST, health_port));
    let dryrun_series = r#"portal_admission_dryrun_violations_total{rule="op-dryrun"}"#;
    assert!(common::http_get(health, "/metrics").await.1.contains(dryrun_series));
    std::fs::write(dir.path().join("rules.yaml"), NO_PRIVILEGED).unwrap();
    let started = Instant::now();
    while common::http_get(health, "/metrics").await.1.contains(dryrun_series) {
        assert!(started.elapsed() < Duration::from_secs(30), "the removed rule's series stayed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A certificate about to expire (renewal failed, say): picked up from the files, and the
    // replica is no longer ready; a good one again, and it is.
    let mut expiring = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    expiring.not_after = (std::time::SystemTime::now() + Duration::from_secs(120)).into();
    let expiring = expiring.self_signed(&key).unwrap();
    std::fs::write(dir.path().join("tls.crt"), expiring.pem()).unwrap();
    let started = Instant::now();
    while common::http_get(health, "/readyz").await.0 != 503 {
        assert!(started.elapsed() < Duration::from_secs(30), "a certificate expiring in 2 minutes left it ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    std::fs::write(dir.path().join("tls.crt"), certificate.pem()).unwrap();
    while common::http_get(health, "/readyz").await.0 != 200 {
        assert!(started.elapsed() < Duration::from_secs(30), "a renewed certificate did not make it ready again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
}

/// `portal run` with `admission.webhookConfiguration.manage`: it joins the election, leads (alone),
/// rewrites the installed configuration's rules to its rule set, reports `portal_leader 1`, and
/// gives the Lease up when it stops.
#[tokio::test]
async fn portal_run_keeps_the_managed_webhook_configuration_in_step() {
    use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
    use k8s_openapi::api::coordination::v1::Lease;
    use portal_kube::registration::{self, RegistrationOptions, WebhookClient};

    let env = portal_testenv::shared().await.expect("the test control plane starts");
    let client = env.client().unwrap();
    // Installed for Pods; the rule set is about Deployments.
    let (loaded, _) =
        portal_rules::load_rules("r.yaml", "name: p\nmatch: {gvk: [{group: '', kind: Pod}]}\nrule: 'false'\n");
    let options = RegistrationOptions {
        name: "op-managed".to_owned(),
        client: WebhookClient::Url("https://127.0.0.1:1/validate".to_owned()),
        portal_namespace: "portal-system".to_owned(),
        failure_policy: "Ignore".to_owned(),
        cluster_failure_policy: "Ignore".to_owned(),
        ca_bundle: String::new(),
    };
    let installed = registration::render(&portal_rules::RuleSet::compile(loaded).0, &options).unwrap().configuration;
    let configurations: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    configurations.create(&PostParams::default(), &installed).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yaml"),
        "name: op-replicas\nmatch: {gvk: [{group: apps, kind: Deployment}]}\nrule: object.spec.replicas > 50\n",
    )
    .unwrap();
    let health_port = common::free_port();
    let overrides = folder_rules_only(env, &dir.path().join("rules.yaml"), health_port)
        .set("(test)", "admission.webhookConfiguration.manage", true)
        .set("(test)", "admission.webhookConfiguration.name", "op-managed")
        .set("(test)", "leaderElection.namespace", "default")
        .set("(test)", "leaderElection.leaseName", "op-managed")
        .set("(test)", "leaderElection.leaseDuration", "2s")
        .set("(test)", "leaderElection.renewDeadline", "1500ms")
        .set("(test)", "leaderElection.retryPeriod", "200ms");
    let (stop, run) = start_portal_run(&overrides);

    let started = Instant::now();
    loop {
        let live = configurations.get("op-managed").await.unwrap();
        let rules = serde_json::to_value(&live.webhooks.unwrap()[0].rules).unwrap();
        if rules[0]["resources"] == json!(["deployments", "deployments/scale"]) {
            break;
        }
        assert!(started.elapsed() < common::WAIT, "the rules never followed the rule set: {rules}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = common::http_get(SocketAddr::from((Ipv4Addr::LOCALHOST, health_port)), "/metrics").await.1;
    assert!(metrics.lines().any(|line| line == "portal_leader 1"), "{metrics}");

    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
    let lease: Lease = Api::namespaced(client.clone(), "default").get("op-managed").await.unwrap();
    assert_eq!(lease.spec.unwrap().holder_identity, None, "the Lease is given up on stop");
    configurations.delete("op-managed", &Default::default()).await.unwrap();
}

/// `portal run` with only `audit.enabled`: no TLS is served, the Lease is won, and an object of an
/// audited kind gets its report.
#[tokio::test]
async fn portal_run_audits_with_audit_enabled_alone() {
    let env = portal_testenv::shared().await.expect("the test control plane starts");
    let client = env.client().unwrap();
    let namespace = env.namespace("op-audit").await.unwrap();
    common::install_report_crds(&client).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yaml"),
        format!(
            "name: op-audit-label\nmode: [audit]\nmatch: {{gvk: [{{group: '', kind: ConfigMap}}], namespaces: {{include: [{namespace}]}}}}\n\
             rule: \"object.metadata.?labels.?team.orValue('') == ''\"\n"
        ),
    )
    .unwrap();
    let health_port = common::free_port();
    let overrides = folder_rules_only(env, &dir.path().join("rules.yaml"), health_port)
        .set("PORTAL_AUDIT_ENABLED", "audit.enabled", true)
        .set("PORTAL_LEADER_ELECTION_NAMESPACE", "leaderElection.namespace", namespace.clone())
        .set("PORTAL_LEADER_ELECTION_LEASE_NAME", "leaderElection.leaseName", "op-audit".to_owned());
    let (stop, run) = start_portal_run(&overrides);

    let config_map: k8s_openapi::api::core::v1::ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "unlabelled"}, "data": {"a": "b"}})).unwrap();
    let created = Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(client.clone(), &namespace)
        .create(&PostParams::default(), &config_map)
        .await
        .unwrap();
    let reports: Api<kube::api::DynamicObject> = Api::namespaced_with(
        client.clone(),
        &namespace,
        &kube::discovery::ApiResource {
            group: "wgpolicyk8s.io".into(),
            version: "v1alpha2".into(),
            api_version: "wgpolicyk8s.io/v1alpha2".into(),
            kind: "PolicyReport".into(),
            plural: "policyreports".into(),
        },
    );
    let name = format!("portal-{}", created.metadata.uid.clone().unwrap());
    let started = Instant::now();
    let report = loop {
        if let Some(report) = reports.get_opt(&name).await.unwrap() {
            break serde_json::to_value(report).unwrap();
        }
        assert!(started.elapsed() < common::WAIT, "portal run never wrote the report");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(report["results"][0]["policy"], "op-audit-label", "{report}");
    assert_eq!(report["results"][0]["result"], "warn", "{report}");
    let (status, metrics) = common::http_get(SocketAddr::from((Ipv4Addr::LOCALHOST, health_port)), "/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("portal_leader 1"), "{metrics}");
    assert!(metrics.contains(r#"portal_audit_objects{kind="/ConfigMap"}"#), "{metrics}");

    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
}
