//! `cargo xtask bench admission`: the admission endpoint of the real `portal` binary under a
//! fixed offered load, driven over HTTPS (HTTP/2, as the API server does) on loopback.
//!
//! Loads the PSS baseline + restricted bundles and the example rules, sends a mix of compliant
//! and violating Pods and Deployments at fixed rates, and reports p50/p99/p99.9 latency, the
//! achieved rate, and the server's RSS idle and under load. Needs `PORTAL_BIN` (the xtask sets
//! it to a release build).
//!
//! With `ADMISSION_BENCH_LOOKUP_PODS=N` (`cargo xtask bench lookups` sets 10,000), the same at 500
//! requests/s against a test control plane holding N Pods, with the example lookup rules loaded
//! too and reviews that look things up: Pods whose ConfigMap, Secret and ServiceAccount are
//! read, a Service whose selector lists a fiftieth of the Pods, a new Ingress (every Ingress
//! listed), a disruption budget (its Pods listed). Needs `PORTAL_ENVTEST_ASSETS` too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{CertificateParams, KeyPair, SanType};
use rustls_pki_types::CertificateDer;
use serde_json::{Value, json};
use support::{examples, free_port, percentile, portal_run, status_kib};

mod support;

const RATES: &[u32] = &[100, 500, 1000];
const SECONDS_PER_RATE: u64 = 10;

fn review(uid: usize, object: Value) -> Bytes {
    let kind = object["kind"].as_str().unwrap_or_default().to_owned();
    let (group, resource) = match kind.as_str() {
        "Pod" => ("", "pods"),
        "Service" => ("", "services"),
        "Ingress" => ("networking.k8s.io", "ingresses"),
        "PodDisruptionBudget" => ("policy", "poddisruptionbudgets"),
        _ => ("apps", "deployments"),
    };
    Bytes::from(
        serde_json::to_vec(&json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": format!("bench-{uid}"), "operation": "CREATE", "namespace": "shop",
                "kind": {"group": group, "version": "v1", "kind": kind},
                "resource": {"group": group, "version": "v1", "resource": resource},
                "userInfo": {"username": "bench", "groups": ["system:authenticated"]},
                "object": object,
            }
        }))
        .unwrap(),
    )
}

fn workloads() -> Vec<Bytes> {
    let mut objects = Vec::new();
    for file in ["manifests/compliant-deployment.yaml", "manifests/violating-pods.yaml"] {
        let text = std::fs::read_to_string(examples().join(file)).unwrap();
        for document in portal_rules::parse_documents(file, &text).unwrap() {
            if matches!(document.value["kind"].as_str(), Some("Pod" | "Deployment")) {
                objects.push(document.value);
            }
        }
    }
    objects.into_iter().enumerate().map(|(i, o)| review(i, o)).collect()
}

struct Server {
    child: Child,
    ca: CertificateDer<'static>,
    address: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(dir: &Path) -> Server {
    start_server_with(dir, portal_run("admission"))
}

fn start_server_with(dir: &Path, mut command: std::process::Command) -> Server {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.subject_alt_names.push(SanType::IpAddress(Ipv4Addr::LOCALHOST.into()));
    let certificate = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("tls.crt"), certificate.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), key.serialize_pem()).unwrap();
    let port = free_port();
    let child = command
        .args(["--admission", "true"])
        .arg("--admission-listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--health-listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--cert-file")
        .arg(dir.join("tls.crt"))
        .arg("--key-file")
        .arg(dir.join("tls.key"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting portal");
    Server { child, ca: certificate.der().clone(), address: SocketAddr::from((Ipv4Addr::LOCALHOST, port)) }
}

async fn connect(server: &Server) -> hyper::client::conn::http2::SendRequest<Full<Bytes>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(server.ca.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let started = Instant::now();
    loop {
        if let Ok(stream) = tokio::net::TcpStream::connect(server.address).await {
            stream.set_nodelay(true).unwrap();
            let name = rustls_pki_types::ServerName::IpAddress(Ipv4Addr::LOCALHOST.into());
            let tls = connector.connect(name, stream).await.unwrap();
            let (sender, connection) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls)).await.unwrap();
            tokio::spawn(connection);
            return sender;
        }
        // With lookups, Portal lists the kinds rules read before it listens.
        assert!(started.elapsed() < Duration::from_secs(120), "portal did not start listening");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn send(sender: &mut hyper::client::conn::http2::SendRequest<Full<Bytes>>, body: Bytes) -> bool {
    let request = hyper::Request::post("https://127.0.0.1/validate")
        .header("content-type", "application/json")
        .body(Full::new(body))
        .unwrap();
    match sender.send_request(request).await {
        Ok(response) => {
            let ok = response.status().is_success();
            let _ = response.into_body().collect().await;
            ok
        }
        Err(_) => false,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    // `cargo test --benches` runs benches with no `--bench`: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    if let Some(pods) = std::env::var("ADMISSION_BENCH_LOOKUP_PODS").ok().and_then(|n| n.parse().ok()) {
        return lookups(pods).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start_server(dir.path());
    let bodies = workloads();
    let mut sender = connect(&server).await;
    // Warm up (and prove the endpoint works before measuring).
    for body in bodies.iter().cycle().take(200) {
        assert!(send(&mut sender, body.clone()).await, "the admission endpoint answers");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = server.child.id();
    println!(
        "admission benchmark: {} rules files, {} distinct reviews (compliant and violating Pods and Deployments)",
        3,
        bodies.len()
    );
    println!("RSS idle: {:.1} MiB", status_kib(pid, "VmRSS:") as f64 / 1024.0);
    println!(
        "{:>10} {:>10} {:>10} {:>10} {:>10} {:>8} {:>12}",
        "offered/s", "achieved/s", "p50", "p99", "p99.9", "errors", "RSS (MiB)"
    );
    for &rate in RATES {
        let latencies = Arc::new(Mutex::new(Vec::new()));
        let errors = Arc::new(Mutex::new(0u64));
        let mut peak_rss = 0;
        let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
        let total = u64::from(rate) * SECONDS_PER_RATE;
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..total {
            // Open loop: requests leave on schedule whether or not earlier ones have returned.
            let due = started + interval.mul_f64(i as f64);
            tokio::time::sleep_until(due.into()).await;
            let mut sender = sender.clone();
            let body = bodies[i as usize % bodies.len()].clone();
            let latencies = Arc::clone(&latencies);
            let errors = Arc::clone(&errors);
            tasks.spawn(async move {
                let sent = Instant::now();
                let ok = send(&mut sender, body).await;
                let took = sent.elapsed();
                if ok {
                    latencies.lock().unwrap().push(took);
                } else {
                    *errors.lock().unwrap() += 1;
                }
            });
            if i % u64::from(rate / 10).max(1) == 0 {
                peak_rss = peak_rss.max(status_kib(pid, "VmRSS:"));
            }
        }
        while tasks.join_next().await.is_some() {}
        let elapsed = started.elapsed();
        let mut latencies = std::mem::take(&mut *latencies.lock().unwrap());
        latencies.sort();
        let errors = *errors.lock().unwrap();
        println!(
            "{:>10} {:>10.0} {:>10.2?} {:>10.2?} {:>10.2?} {:>8} {:>12.1}",
            rate,
            latencies.len() as f64 / elapsed.as_secs_f64(),
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
            percentile(&latencies, 0.999),
            errors,
            peak_rss as f64 / 1024.0,
        );
    }
    println!("RSS after load: {:.1} MiB", status_kib(pid, "VmRSS:") as f64 / 1024.0);
}

/// Applies the CRD files of `deploy/<folder>`, waiting until each is served.
async fn install_crds(client: &kube::Client, folder: &str) {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let api: kube::Api<CustomResourceDefinition> = kube::Api::all(client.clone());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy").join(folder);
    for entry in std::fs::read_dir(dir).unwrap() {
        let crd: CustomResourceDefinition =
            serde_saphyr::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap()).unwrap();
        let name = crd.metadata.name.clone().unwrap();
        let params = kube::api::PatchParams::apply("bench").force();
        api.patch(&name, &params, &kube::api::Patch::Apply(&crd)).await.unwrap();
        let established = kube::runtime::conditions::is_crd_established();
        kube::runtime::wait::await_condition(api.clone(), &name, established).await.unwrap();
    }
}

/// The lookup scenario: `pods` Pods in namespace `shop` of a test control plane, the example
/// lookup rules, 500 reviews a second that look things up.
async fn lookups(pods: usize) {
    use futures::{StreamExt, TryStreamExt};
    use kube::api::PostParams;

    let env = portal_testenv::TestEnv::start().await.expect("the test control plane starts");
    let client = env.client().unwrap();
    install_crds(&client, "crds").await;
    let create = |kind: &str, value: Value| {
        let client = client.clone();
        let (api_version, kind) = (value["apiVersion"].as_str().unwrap().to_owned(), kind.to_owned());
        async move {
            let (group, version) = api_version.split_once('/').unwrap_or(("", api_version.as_str()));
            let plural = match kind.as_str() {
                "Namespace" => "namespaces",
                "Pod" => "pods",
                "ConfigMap" => "configmaps",
                "Secret" => "secrets",
                "ServiceAccount" => "serviceaccounts",
                _ => "ingresses",
            };
            let resource = kube::discovery::ApiResource {
                group: group.to_owned(),
                version: version.to_owned(),
                api_version: api_version.clone(),
                kind: kind.clone(),
                plural: plural.to_owned(),
            };
            let object: kube::api::DynamicObject = serde_json::from_value(value).unwrap();
            let api: kube::Api<kube::api::DynamicObject> = match object.metadata.namespace.as_deref() {
                Some(namespace) => kube::Api::namespaced_with(client, namespace, &resource),
                None => kube::Api::all_with(client, &resource),
            };
            api.create(&PostParams::default(), &object).await.map(|_| ())
        }
    };
    create("Namespace", json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})).await.unwrap();
    let created = Instant::now();
    futures::stream::iter(0..pods)
        .map(|i| {
            create("Pod", json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("pod-{i}"), "namespace": "shop", "labels": {"app": format!("app-{}", i % 50)}},
                "spec": {"containers": [{"name": "app", "image": format!("ghcr.io/example/app-{}:1.0.0", i % 50),
                                         "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}}}]}}))
        })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await
        .unwrap();
    let others = [
        (
            "ConfigMap",
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "shop"}}),
        ),
        (
            "Secret",
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-credentials", "namespace": "shop"}}),
        ),
        (
            "ServiceAccount",
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web", "namespace": "shop"}}),
        ),
        (
            "Ingress",
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "storefront", "namespace": "shop"}, "spec": {"rules": [{"host": "shop.example.com"}]}}),
        ),
    ];
    for (kind, value) in others {
        create(kind, value).await.unwrap();
    }
    eprintln!("created {pods} pods in {:.1} s", created.elapsed().as_secs_f64());

    let dir = tempfile::tempdir().unwrap();
    let mut command = support::portal_run_with("admission", true);
    command.arg("--kubeconfig").arg(env.kubeconfig_path()).arg("--rules").arg(examples().join("lookups/rules"));
    let started = Instant::now();
    let server = start_server_with(dir.path(), command);
    let mut sender = connect(&server).await;
    let listening = started.elapsed();
    let reviews: Vec<Bytes> = [
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-2", "namespace": "shop", "labels": {"app": "app-7"}},
               "spec": {"serviceAccountName": "web",
                        "volumes": [{"name": "settings", "configMap": {"name": "settings"}},
                                    {"name": "db", "secret": {"secretName": "db-credentials"}}],
                        "containers": [{"name": "web", "image": "registry.example.com/shop/web:1.4.2"}]}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
               "spec": {"selector": {"app": "app-7"}, "ports": [{"port": 80}]}}),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "blog", "namespace": "shop"},
               "spec": {"rules": [{"host": "blog.example.com"}]}}),
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "web", "namespace": "shop"},
               "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "app-3"}}}}),
    ]
    .into_iter()
    .chain(workloads().into_iter().map(|body| serde_json::from_slice(&body).map(|r: Value| r["request"]["object"].clone()).unwrap()))
    .enumerate()
    .map(|(i, object)| review(i, object))
    .collect();
    for body in reviews.iter().cycle().take(200) {
        assert!(send(&mut sender, body.clone()).await, "the admission endpoint answers");
    }
    let pid = server.child.id();
    println!(
        "admission with lookups: {pods} Pods cached, the example and lookup rules, {} distinct reviews",
        reviews.len()
    );
    println!("  listening {:.1} s after start (rules loaded, looked-up kinds listed)", listening.as_secs_f64());
    println!("  RSS idle: {:.1} MiB", status_kib(pid, "VmRSS:") as f64 / 1024.0);
    let rate = 500u32;
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let total = u64::from(rate) * SECONDS_PER_RATE;
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(Mutex::new(0u64));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        tokio::time::sleep_until((started + interval.mul_f64(i as f64)).into()).await;
        let (mut sender, body) = (sender.clone(), reviews[i as usize % reviews.len()].clone());
        let (latencies, errors) = (Arc::clone(&latencies), Arc::clone(&errors));
        tasks.spawn(async move {
            let sent = Instant::now();
            if send(&mut sender, body).await {
                latencies.lock().unwrap().push(sent.elapsed());
            } else {
                *errors.lock().unwrap() += 1;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = started.elapsed();
    let mut latencies = std::mem::take(&mut *latencies.lock().unwrap());
    latencies.sort();
    println!(
        "  {rate}/s offered, {:.0}/s achieved: p50 {:.2?}, p99 {:.2?}, p99.9 {:.2?}, {} errors",
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 0.999),
        errors.lock().unwrap()
    );
    println!(
        "  RSS after load: {:.1} MiB (peak {:.1} MiB)",
        status_kib(pid, "VmRSS:") as f64 / 1024.0,
        status_kib(pid, "VmHWM:") as f64 / 1024.0
    );
}
