//! Helpers shared by the binary's tests against the test control plane.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{Patch, PatchParams};

/// How long a test waits for the cluster or Portal to get somewhere.
pub const WAIT: Duration = Duration::from_secs(30);

/// Installs the CRDs of `dir` named `files` and waits until they are established.
pub async fn install_crds(client: &kube::Client, dir: &str, files: &[&str]) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(dir);
    for file in files {
        let crd: CustomResourceDefinition =
            serde_saphyr::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
        let name = crd.metadata.name.clone().unwrap();
        api.patch(&name, &PatchParams::apply("portal-tests").force(), &Patch::Apply(&crd)).await.unwrap();
        let established = kube::runtime::conditions::is_crd_established();
        tokio::time::timeout(WAIT, kube::runtime::wait::await_condition(api.clone(), &name, established))
            .await
            .unwrap()
            .unwrap();
    }
}

/// Installs Portal's `wgpolicyk8s.io` report CRDs and waits until they are established.
pub async fn install_report_crds(client: &kube::Client) {
    install_crds(client, "deploy/reports", &["policyreports.yaml", "clusterpolicyreports.yaml"]).await;
}

/// Waits until every CustomResourceDefinition among `documents` is established.
pub async fn wait_until_served(client: &kube::Client, documents: &[serde_json::Value]) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in documents.iter().filter(|d| d["kind"] == "CustomResourceDefinition") {
        let name = crd["metadata"]["name"].as_str().unwrap().to_owned();
        let established = kube::runtime::conditions::is_crd_established();
        tokio::time::timeout(WAIT, kube::runtime::wait::await_condition(api.clone(), &name, established))
            .await
            .unwrap()
            .unwrap();
    }
}

/// A free port on 127.0.0.1 (bound, read and let go).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port()
}

/// A `portal run` process, killed when dropped, with its health endpoint's port.
pub struct Replica {
    process: std::process::Child,
    health: u16,
    log: std::path::PathBuf,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Replica {
    /// Spawns `command` (a `portal run` serving health on `health`), its log in `log`.
    pub fn spawn(mut command: std::process::Command, health: u16, log: &Path) -> Replica {
        let process = command
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap();
        Replica { process, health, log: log.to_path_buf() }
    }

    /// Its `/metrics`, or nothing while it does not serve them yet.
    pub async fn metrics(&self) -> Option<String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect((std::net::Ipv4Addr::LOCALHOST, self.health)).await.ok()?;
        stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).await.ok()?;
        Some(text)
    }

    /// Waits until `series` has a value `ready` accepts.
    pub async fn wait_for(&self, series: &str, ready: impl Fn(f64) -> bool) {
        let started = std::time::Instant::now();
        loop {
            let value = self.metric(series).await;
            if value.is_some_and(&ready) {
                return;
            }
            assert!(started.elapsed() < WAIT, "{series} never got there: {value:?}\n{}", self.log_tail());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The end of its log, to show with a failure.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!("--- the end of {} ---\n{}", self.log.display(), lines[lines.len().saturating_sub(40)..].join("\n"))
    }

    /// The value of `series` (its name and labels, with the trailing space), when served.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let text = self.metrics().await?;
        text.lines().find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
    }
}

/// The two replicas as (leader, follower), once exactly one of them leads.
pub async fn leader_and_follower(first: Replica, second: Replica) -> (Replica, Replica) {
    let started = std::time::Instant::now();
    loop {
        let leading = (first.metric("portal_leader ").await, second.metric("portal_leader ").await);
        match leading {
            (Some(1.0), Some(0.0)) => return (first, second),
            (Some(0.0), Some(1.0)) => return (second, first),
            _ => {}
        }
        assert!(started.elapsed() < WAIT, "no single leader: {leading:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
