//! `cargo xtask bench admission`: the admission endpoint of the real `portal` binary under a
//! fixed offered load, driven over HTTPS (HTTP/2, as the API server does) on loopback.
//!
//! Loads the PSS baseline + restricted bundles and the example rules, sends a mix of compliant
//! and violating Pods and Deployments at fixed rates, and reports p50/p99/p99.9 latency, the
//! achieved rate, and the server's RSS idle and under load. Needs `PORTAL_BIN` (the xtask sets
//! it to a release build).
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
    let group = if kind == "Pod" { "" } else { "apps" };
    let resource = if kind == "Pod" { "pods" } else { "deployments" };
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
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params.subject_alt_names.push(SanType::IpAddress(Ipv4Addr::LOCALHOST.into()));
    let certificate = params.self_signed(&key).unwrap();
    std::fs::write(dir.join("tls.crt"), certificate.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), key.serialize_pem()).unwrap();
    let port = free_port();
    let child = portal_run("admission")
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
        assert!(started.elapsed() < Duration::from_secs(30), "portal did not start listening");
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
