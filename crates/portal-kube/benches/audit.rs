//! `cargo xtask bench audit`: the audit of the real `portal` binary over a populated test
//! control plane.
//!
//! Creates Pods and Deployments (10,000 and 1,000 unless `AUDIT_BENCH_PODS` and
//! `AUDIT_BENCH_DEPLOYMENTS` say otherwise), starts `portal run` with only the audit on, the PSS
//! bundles and the example rules, and reports: the time from start to every report written, the
//! peak RSS with everything cached, then, at a steady 20 changes per second for 30 s (half of them
//! flipping a rule's result, half touching only an annotation), the change-to-report latency
//! (p50/p99, from the PATCH being answered to the report's update arriving on a watch) and the
//! report writes per change. Needs `PORTAL_BIN`
//! and `PORTAL_ENVTEST_ASSETS` (the xtask sets both).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use serde_json::json;
use support::{free_port, percentile, portal_run, status_kib};

mod support;

const NAMESPACE: &str = "bench";
const CHANGES_PER_SECOND: u64 = 20;
const STEADY_SECONDS: u64 = 30;

fn count(variable: &str, default: usize) -> usize {
    std::env::var(variable).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn pod(i: usize) -> Pod {
    // One in ten runs privileged, one in ten as root: the PSS rules find something.
    let security = match i % 10 {
        0 => json!({"privileged": true}),
        1 => json!({"runAsUser": 0}),
        _ => json!({"allowPrivilegeEscalation": false, "runAsNonRoot": true, "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"}}),
    };
    serde_json::from_value(json!({
        "metadata": {"name": format!("pod-{i}"), "labels": {"app": format!("app-{}", i % 50), "team": "bench"}},
        "spec": {"containers": [{"name": "app", "image": format!("ghcr.io/example/app-{}:1.{}.0", i % 50, i % 7),
                                 "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
                                 "securityContext": security}]}
    }))
    .unwrap()
}

fn deployment(i: usize, host_network: bool) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": format!("deploy-{i}"), "labels": {"team": "bench"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": format!("d-{i}")}},
                 "template": {"metadata": {"labels": {"app": format!("d-{i}")}},
                              "spec": {"hostNetwork": host_network,
                                       "containers": [{"name": "app", "image": "ghcr.io/example/web:2.0.0",
                                                       "resources": {"limits": {"cpu": "1", "memory": "512Mi"}}}]}}}
    }))
    .unwrap()
}

fn report_resource() -> ApiResource {
    ApiResource {
        group: "wgpolicyk8s.io".into(),
        version: "v1alpha2".into(),
        api_version: "wgpolicyk8s.io/v1alpha2".into(),
        kind: "PolicyReport".into(),
        plural: "policyreports".into(),
    }
}

async fn install_report_crds(client: &kube::Client) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for file in ["policyreports.yaml", "clusterpolicyreports.yaml"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/reports").join(file);
        let crd: CustomResourceDefinition = serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let name = crd.name_any();
        api.patch(&name, &PatchParams::apply("bench").force(), &Patch::Apply(&crd)).await.unwrap();
        let established = kube::runtime::conditions::is_crd_established();
        kube::runtime::wait::await_condition(api.clone(), &name, established).await.unwrap();
    }
}

/// A metric's value in the text exposition, or 0.
fn metric(text: &str, series: &str) -> f64 {
    text.lines().find_map(|line| line.strip_prefix(series).and_then(|rest| rest.trim().parse().ok())).unwrap_or(0.0)
}

async fn scrape(port: u16) -> String {
    let mut stream = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).await.unwrap();
    body
}

struct Portal(Child);

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo test --benches` runs benches with no `--bench`: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let pods = count("AUDIT_BENCH_PODS", 10_000);
    let deployments = count("AUDIT_BENCH_DEPLOYMENTS", 1_000);
    let env = portal_testenv::TestEnv::start().await.expect("the test control plane starts");
    let client = env.client().unwrap();
    install_report_crds(&client).await;
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": NAMESPACE}})).unwrap();
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &namespace).await.unwrap();

    let created = Instant::now();
    let pod_api: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    futures::stream::iter(0..pods)
        .map(|i| {
            let api = pod_api.clone();
            async move { api.create(&PostParams::default(), &pod(i)).await.map(|_| ()) }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await
        .unwrap();
    let deployment_api: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    futures::stream::iter(0..deployments)
        .map(|i| {
            let api = deployment_api.clone();
            async move { api.create(&PostParams::default(), &deployment(i, false)).await.map(|_| ()) }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<()>>()
        .await
        .unwrap();
    eprintln!("created {pods} pods and {deployments} deployments in {:.1} s", created.elapsed().as_secs_f64());

    let health = free_port();
    let started = Instant::now();
    let portal = Portal(
        portal_run("audit")
            .env("PORTAL_AUDIT_ENABLED", "true")
            .env("PORTAL_LEADER_ELECTION_NAMESPACE", NAMESPACE)
            .arg("--kubeconfig")
            .arg(env.kubeconfig_path())
            .arg("--health-listen")
            .arg(format!("127.0.0.1:{health}"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting portal"),
    );
    let pid = portal.0.id();
    let objects = (pods + deployments) as f64;
    let mut last = String::new();
    while started.elapsed() < Duration::from_secs(1800) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let Ok(Ok(text)) = tokio::time::timeout(Duration::from_secs(5), tokio::spawn(scrape(health))).await else {
            continue;
        };
        let created = metric(&text, "portal_audit_report_writes_total{result=\"created\"}");
        let unchanged = metric(&text, "portal_audit_report_writes_total{result=\"unchanged\"}");
        let depth = metric(&text, "portal_audit_queue_depth");
        if created + unchanged >= objects && depth == 0.0 {
            last = text;
            break;
        }
    }
    let initial = started.elapsed();
    let peak_after_sync = status_kib(pid, "VmHWM:");
    let rss_after_sync = status_kib(pid, "VmRSS:");
    let written = metric(&last, "portal_audit_report_writes_total{result=\"created\"}");

    // Steady changes: even ones flip a Deployment's hostNetwork (its report changes), odd ones
    // only annotate a Pod (its report does not).
    let report_events: Arc<Mutex<HashMap<String, Vec<Instant>>>> = Arc::default();
    let reports: Api<DynamicObject> = Api::namespaced_with(client.clone(), NAMESPACE, &report_resource());
    let seen = Arc::clone(&report_events);
    let (listed, watching_now) = tokio::sync::oneshot::channel();
    let watching = tokio::spawn(async move {
        let mut events = watcher(reports, watcher::Config::default()).boxed();
        let mut listed = Some(listed);
        while let Some(Ok(event)) = events.next().await {
            match event {
                watcher::Event::Apply(report) => {
                    let at = Instant::now();
                    seen.lock().unwrap().entry(report.name_any()).or_default().push(at);
                }
                // Changes are timed only once the watch is past its initial list (of every
                // report), which would otherwise delay the first ones.
                watcher::Event::InitDone => {
                    if let Some(listed) = listed.take() {
                        let _ = listed.send(());
                    }
                }
                _ => {}
            }
        }
    });
    watching_now.await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    report_events.lock().unwrap().clear();
    let mut flips = Vec::new();
    let total = CHANGES_PER_SECOND * STEADY_SECONDS;
    let steady_started = Instant::now();
    for change in 0..total {
        let due = steady_started + Duration::from_millis(change * 1000 / CHANGES_PER_SECOND);
        tokio::time::sleep_until(due.into()).await;
        let index = usize::try_from(change / 2).unwrap_or(0);
        if change.is_multiple_of(2) {
            let target = index % deployments.max(1);
            let host_network = (index / deployments.max(1)).is_multiple_of(2);
            let patch = json!({"spec": {"template": {"spec": {"hostNetwork": host_network}}}});
            let patched = deployment_api
                .patch(&format!("deploy-{target}"), &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .unwrap();
            // From the change being stored (the PATCH answered), not from sending it.
            let at = Instant::now();
            flips.push((format!("portal-{}", patched.uid().unwrap()), at));
        } else {
            let patch = json!({"metadata": {"annotations": {"bench/touched": change.to_string()}}});
            pod_api
                .patch(&format!("pod-{}", index % pods.max(1)), &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .unwrap();
        }
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    watching.abort();
    let after_steady = scrape(health).await;
    let events = report_events.lock().unwrap().clone();
    let mut latencies: Vec<Duration> = flips
        .iter()
        .filter_map(|(report, at)| events.get(report)?.iter().find(|seen| *seen > at).map(|seen| *seen - *at))
        .collect();
    latencies.sort();
    let writes: usize = events.values().map(Vec::len).sum();
    let peak = status_kib(pid, "VmHWM:");

    println!("audit of {pods} Pods and {deployments} Deployments (PSS baseline + restricted + example rules)");
    println!("  start to every report written:     {:.1} s ({written} reports created)", initial.as_secs_f64());
    println!(
        "  RSS after the initial sync:         {:.1} MiB (peak {:.1} MiB)",
        rss_after_sync as f64 / 1024.0,
        peak_after_sync as f64 / 1024.0
    );
    println!(
        "  steady load:                        {CHANGES_PER_SECOND} changes/s for {STEADY_SECONDS} s, {} result-changing",
        flips.len()
    );
    println!(
        "  change-to-report latency:           p50 {:.0} ms, p99 {:.0} ms ({} of {} seen)",
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
        latencies.len(),
        flips.len()
    );
    println!(
        "  report writes per change:           {:.2} per result-changing change, {} writes for {} annotation-only changes",
        writes as f64 / flips.len().max(1) as f64,
        writes.saturating_sub(flips.len()),
        total as usize - flips.len()
    );
    println!("  Portal's own change-to-written latency (every evaluation, whether or not it wrote):");
    let bucket =
        |text: &str, le: &str| metric(text, &format!("portal_audit_report_latency_seconds_bucket{{le=\"{le}\"}}"));
    for le in ["0.01", "0.025", "0.05", "0.1", "0.2", "0.5", "1", "+Inf"] {
        println!("    <= {le:>5} s: {:>6}", bucket(&after_steady, le) - bucket(&last, le));
    }
    println!("  peak RSS overall:                   {:.1} MiB", peak as f64 / 1024.0);
    drop(portal);
}
