//! Helpers shared by portal-kube's integration tests: the test control plane's client, the
//! shipped CRDs installed, a TLS client that trusts one CA, and plain HTTP GETs. Every test
//! binary includes this module and uses part of it.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::discovery::ApiResource;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
use rustls_pki_types::CertificateDer;

/// How long a test waits for the cluster or Portal to get somewhere.
pub const WAIT: Duration = Duration::from_secs(30);

/// A client for the test binary's shared control plane.
pub async fn client() -> kube::Client {
    let env = portal_testenv::shared().await.expect("the test control plane starts");
    env.client().expect("a client for the test control plane")
}

/// Applies the CRD `files` of `dir` and waits until the API server serves each.
pub async fn apply_crd_files(client: &kube::Client, dir: &Path, files: &[&str]) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for file in files {
        let text = std::fs::read_to_string(dir.join(file)).expect("the CRD file");
        let crd: CustomResourceDefinition = serde_saphyr::from_str(&text).expect("a CRD");
        let name = crd.metadata.name.clone().expect("a named CRD");
        api.patch(&name, &PatchParams::apply("portal-tests").force(), &Patch::Apply(&crd)).await.expect("CRD applied");
        let established = kube::runtime::conditions::is_crd_established();
        tokio::time::timeout(WAIT, kube::runtime::wait::await_condition(api.clone(), &name, established))
            .await
            .expect("the CRD is established in time")
            .expect("watching the CRD");
    }
}

/// Applies the CRDs from deploy/crds/ (the shipped files, not the Rust types).
pub async fn install_crds(client: &kube::Client) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crds");
    apply_crd_files(
        client,
        &dir,
        &["portalclusterrules.yaml", "portalrules.yaml", "portalclusterexceptions.yaml", "portalexceptions.yaml"],
    )
    .await;
}

/// Applies the report CRDs of deploy/reports/ (the shipped files).
pub async fn install_report_crds(client: &kube::Client) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/reports");
    apply_crd_files(client, &dir, &["policyreports.yaml", "clusterpolicyreports.yaml"]).await;
}

/// An audit of the cluster with the rules of `sources` (two workers, rule counters written every
/// 200 ms), its Namespace cache filled first.
pub async fn start_audit(
    client: &kube::Client,
    sources: &portal_kube::RuleSources,
    metrics: &portal_metrics::Metrics,
    leadership: Option<portal_kube::lease::Leadership>,
    cluster: Option<Arc<portal_kube::cache::ClusterCache>>,
    report_api: portal_report::ReportApi,
) -> portal_kube::audit::Audit {
    start_audit_with_network(client, sources, metrics, leadership, cluster, report_api, None).await
}

/// [`start_audit`] with the NetworkPolicy analysis.
#[allow(clippy::too_many_arguments)]
pub async fn start_audit_with_network(
    client: &kube::Client,
    sources: &portal_kube::RuleSources,
    metrics: &portal_metrics::Metrics,
    leadership: Option<portal_kube::lease::Leadership>,
    cluster: Option<Arc<portal_kube::cache::ClusterCache>>,
    report_api: portal_report::ReportApi,
    network: Option<Arc<portal_kube::network::NetworkAnalysis>>,
) -> portal_kube::audit::Audit {
    let namespaces = portal_kube::cache::NamespaceCache::start(client.clone());
    namespaces.wait_filled().await;
    portal_kube::audit::start(
        portal_kube::audit::AuditSettings { workers: 2, counters_interval: Duration::from_millis(200), report_api },
        portal_kube::audit::AuditInputs {
            client: client.clone(),
            rules: sources.rules(),
            snapshots: sources.subscribe(),
            namespaces: Arc::new(namespaces),
            leadership,
            metrics: metrics.clone(),
            cluster,
            network,
            actions: None,
        },
    )
    .await
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|l| l.local_addr()).expect("a free port").port()
}

/// TLS to 127.0.0.1 trusting only `ca`, offering the ALPN protocols given.
pub fn tls_connector(ca: &CertificateDer<'static>, alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).expect("a valid CA certificate");
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// The server name of 127.0.0.1, as the certificates name it.
pub fn localhost() -> rustls_pki_types::ServerName<'static> {
    rustls_pki_types::ServerName::IpAddress(Ipv4Addr::LOCALHOST.into())
}

/// A plain HTTP/1.1 GET: the status and body, or status 0 when nothing answers.
pub async fn http_get(address: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(address).await else { return (0, String::new()) };
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return (0, String::new());
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response).await;
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// A test CA that signs serving certificates for 127.0.0.1.
pub struct Certificates {
    pub ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Certificates {
    pub fn new() -> Certificates {
        let key = KeyPair::generate().expect("test certificates");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("test certificates");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = params.self_signed(&key).expect("test certificates");
        let issuer = Issuer::from_ca_cert_der(ca.der(), key).expect("test certificates");
        Certificates { ca_pem: ca.pem(), issuer }
    }

    /// A serving certificate for 127.0.0.1, written to `dir`.
    pub fn write_serving(&self, dir: &Path) -> String {
        let key = KeyPair::generate().expect("test certificates");
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("test certificates");
        params.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        let certificate = params.signed_by(&key, &self.issuer).expect("test certificates");
        // The key first, then the certificate: the server must never pair a new key with an old cert.
        std::fs::write(dir.join("tls.key.tmp"), key.serialize_pem()).expect("test certificates");
        std::fs::write(dir.join("tls.crt.tmp"), certificate.pem()).expect("test certificates");
        std::fs::rename(dir.join("tls.key.tmp"), dir.join("tls.key")).expect("test certificates");
        std::fs::rename(dir.join("tls.crt.tmp"), dir.join("tls.crt")).expect("test certificates");
        certificate.pem()
    }
}

/// A webhook configuration that sends the `rules` (webhook rules) of namespaces labelled
/// `portal-e2e: <selector_value>` to Portal on 127.0.0.1:`port`.
pub fn webhook(
    name: &str,
    port: u16,
    ca_pem: &str,
    selector_value: &str,
    failure_policy: &str,
    rules: serde_json::Value,
) -> ValidatingWebhookConfiguration {
    serde_json::from_value(serde_json::json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [{
            "name": "validate.portal.io",
            "clientConfig": {"url": format!("https://127.0.0.1:{port}/validate"), "caBundle": base64_encode(ca_pem.as_bytes())},
            "rules": rules,
            "failurePolicy": failure_policy,
            "sideEffects": "None",
            "timeoutSeconds": 3,
            "admissionReviewVersions": ["v1"],
            "matchPolicy": "Equivalent",
            // Only this test's namespaces; system namespaces are always excluded.
            "namespaceSelector": {"matchExpressions": [
                {"key": "portal-e2e", "operator": "In", "values": [selector_value]},
                {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "kube-public", "kube-node-lease"]}
            ]}
        }]
    }))
    .expect("a valid webhook configuration")
}

/// Standard base64, as `caBundle` wants it (kept local: the test needs nothing else of a crate).
pub fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Admission settings for a test webhook on 127.0.0.1 (any port) serving the certificate in
/// `tls_dir`, failing closed, checking the certificate files every `certificate_poll`.
pub fn admission_settings(tls_dir: &Path, certificate_poll: Duration) -> portal_kube::admission::AdmissionSettings {
    portal_kube::admission::AdmissionSettings {
        listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        cert_file: tls_dir.join("tls.crt"),
        key_file: tls_dir.join("tls.key"),
        deadline: Duration::from_secs(2),
        max_request_bytes: 3 * 1024 * 1024,
        options: portal_kube::admission::DecisionOptions {
            failure_policy: portal_kube::admission::DefaultFailurePolicy::Fail,
            excluded_namespaces: Vec::new(),
            actions: None,
        },
        certificate_poll,
        max_concurrent_evaluations: 16,
        limits: portal_kube::admission::ConnectionLimits::default(),
    }
}

/// Rule sources reading `rules` (YAML) from a file in a fresh folder, loaded once; keep the
/// folder as long as the sources.
pub async fn folder_sources(rules: &str) -> (tempfile::TempDir, portal_kube::RuleSources) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("rules.yaml"), rules).expect("the rules file");
    let sources = portal_kube::RuleSources::start(portal_kube::SourcesConfig {
        cluster: None,
        folders: vec![dir.path().to_owned()],
        debounce: Duration::from_millis(20),
        limits: Default::default(),
        lookups: None,
    })
    .expect("the rule sources start");
    let snapshot = sources.wait_ready().await;
    assert!(snapshot.problems.is_empty(), "{:?}", snapshot.problems);
    (dir, sources)
}

/// A webhook serving `rules` with Portal's deadline set to `deadline`, no lookups, failing
/// closed; and the CA its certificate is signed by. Keep the folder as long as the server.
pub async fn start_webhook(
    rules: portal_rules::RuleSet,
    deadline: Duration,
) -> (tempfile::TempDir, portal_kube::admission::AdmissionServer, CertificateDer<'static>) {
    start_webhook_with(rules, |settings| settings.deadline = deadline).await
}

/// [`start_webhook`] with the settings adjusted by `adjust`.
pub async fn start_webhook_with(
    rules: portal_rules::RuleSet,
    adjust: impl FnOnce(&mut portal_kube::admission::AdmissionSettings),
) -> (tempfile::TempDir, portal_kube::admission::AdmissionServer, CertificateDer<'static>) {
    use rustls_pki_types::pem::PemObject;
    let certificates = Certificates::new();
    let tls_dir = tempfile::tempdir().expect("a temporary folder");
    certificates.write_serving(tls_dir.path());
    let mut settings = admission_settings(tls_dir.path(), Duration::from_secs(60));
    adjust(&mut settings);
    let lookups = portal_kube::admission::Lookups {
        namespaces: Arc::new(portal_kube::cache::NoNamespaces),
        scaled: Arc::new(portal_kube::admission::NoScaledObjects),
        cluster: None,
    };
    let metrics = portal_metrics::Metrics::new().expect("the metrics registry");
    let rules = Arc::new(portal_rules::SharedRuleSet::new(rules));
    let server = portal_kube::admission::start(settings, rules, lookups, metrics).await.expect("the webhook starts");
    let ca = CertificateDer::from_pem_slice(certificates.ca_pem.as_bytes()).expect("the CA certificate");
    (tls_dir, server, ca)
}

/// POSTs an AdmissionReview to the webhook at `address` over TLS and returns the whole HTTP
/// answer (empty if none came within 10 s).
pub async fn post_review(address: SocketAddr, ca: &CertificateDer<'static>, review: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(address).await.expect("the webhook accepts connections");
    let mut client = tls_connector(ca, &[b"http/1.1"]).connect(localhost(), stream).await.expect("a TLS session");
    let request = format!(
        "POST /validate HTTP/1.1\r\nHost: portal\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{review}",
        review.len()
    );
    client.write_all(request.as_bytes()).await.expect("the request is sent");
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), client.read_to_string(&mut answer)).await.ok();
    answer
}

/// `yaml` compiled with both rule limits switched off, as an operator raising them would: for
/// tests of what bounds evaluation besides them.
pub fn unbounded_rule_set(yaml: &str) -> portal_rules::RuleSet {
    let (loaded, errors) = portal_rules::load_rules("rules.yaml", yaml);
    assert!(errors.is_empty(), "{errors:?}");
    let unbounded = portal_rules::RuleLimits {
        max_estimated_cost: f64::INFINITY,
        max_iterations: u64::MAX,
        ..portal_rules::RuleLimits::default()
    };
    let (rules, errors) = portal_rules::RuleSet::compile_with_limits(loaded, unbounded);
    assert!(errors.is_empty(), "{errors:?}");
    rules
}

/// Seconds of work per Pod in a test build (with the limits raised: [`unbounded_rule_set`]), long
/// enough to be seen running and short enough that a failing test ends; nothing for ConfigMaps.
pub const SLOW_POD_RULES: &str = "\
name: slow-pods
match: {gvk: [{group: '', version: v1, kind: Pod}]}
rule: 'lists.range(10).all(i, lists.range(1000).all(j, lists.range(100).all(k, i + j + k >= 0))) && false'
---
name: config-maps
match: {gvk: [{group: '', version: v1, kind: ConfigMap}]}
rule: 'false'
";

/// An AdmissionReview creating an object `x` of `kind` (core group, v1) in `namespace`.
pub fn create_review(uid: &str, kind: &str, namespace: &str) -> String {
    format!(
        r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{"uid":"{uid}","operation":"CREATE","namespace":"{namespace}","kind":{{"group":"","version":"v1","kind":"{kind}"}},"object":{{"apiVersion":"v1","kind":"{kind}","metadata":{{"name":"x","namespace":"{namespace}"}}}}}}}}"#
    )
}

/// The `wgpolicyk8s.io/v1alpha2` report resource: `PolicyReport`, or `ClusterPolicyReport`
/// when not `namespaced`.
pub fn report_resource(namespaced: bool) -> ApiResource {
    let (kind, plural) =
        if namespaced { ("PolicyReport", "policyreports") } else { ("ClusterPolicyReport", "clusterpolicyreports") };
    ApiResource {
        group: "wgpolicyk8s.io".into(),
        version: "v1alpha2".into(),
        api_version: "wgpolicyk8s.io/v1alpha2".into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

/// The reports of `namespace`, or the cluster's reports when `None`.
pub fn reports(client: &kube::Client, namespace: Option<&str>) -> Api<DynamicObject> {
    match namespace {
        Some(namespace) => Api::namespaced_with(client.clone(), namespace, &report_resource(true)),
        None => Api::all_with(client.clone(), &report_resource(false)),
    }
}

/// The result of `rule` in the report on the object `uid`, once it is `expected`; the time that
/// took.
pub async fn wait_for_result(reports: &Api<DynamicObject>, uid: &str, rule: &str, expected: &str) -> Duration {
    let started = Instant::now();
    loop {
        let report = reports.get_opt(&format!("portal-{uid}")).await.unwrap().map(|r| serde_json::to_value(r).unwrap());
        let found = report.as_ref().and_then(|report| {
            report["results"].as_array()?.iter().find(|result| result["policy"] == rule).map(|r| r["result"].clone())
        });
        if found.as_ref().and_then(serde_json::Value::as_str) == Some(expected) {
            return started.elapsed();
        }
        assert!(started.elapsed() < WAIT, "{rule} never became {expected} on {uid}: {report:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
