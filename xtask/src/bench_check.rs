//! `cargo xtask bench check`: `portal check` of a release binary over a whole cluster's Pods, as
//! `kubectl get pods -A -o json` prints them: wall time, Pods per second and peak RSS.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

use crate::cmd::cargo;
use crate::project::project_root;

/// As many Pods as a large cluster runs.
const PODS: usize = 40_000;
/// Every this many Pods one runs privileged on the host network, as a few do in any cluster.
const PRIVILEGED_EVERY: usize = 100;
const RUNS: usize = 3;

pub fn run() -> Result<()> {
    cargo(&["build", "--release", "--locked", "-p", "portal"])?;
    let root = project_root();
    let binary = root.join("target/release/portal");
    let input = root.join("target/bench/cluster-pods.json");
    if !input.exists() {
        write_pods(&input)?;
    }
    let size = std::fs::metadata(&input).with_context(|| format!("reading {}", input.display()))?.len();
    println!("input: {} ({PODS} Pods, {:.1} MB)", input.display(), size as f64 / 1e6);
    println!("| output | wall time | Pods/s | peak RSS | RSS / input |");
    println!("|---|---|---|---|---|");
    for output in ["table", "json"] {
        let mut samples = Vec::new();
        for _ in 0..RUNS {
            samples.push(measure(&binary, &input, output)?);
        }
        samples.sort_by_key(|sample| sample.0);
        let (wall, _) = samples[RUNS / 2];
        let peak = samples.iter().map(|sample| sample.1).max().unwrap_or(0);
        println!(
            "| {output} | {:.2} s | {:.0} | {:.0} MB | {:.2}× |",
            wall.as_secs_f64(),
            PODS as f64 / wall.as_secs_f64(),
            peak as f64 / 1e6,
            peak as f64 / size as f64
        );
    }
    Ok(())
}

/// One run: its wall time and the peak resident set the kernel recorded (`VmHWM`), sampled until
/// the process exits.
fn measure(binary: &Path, input: &Path, output: &str) -> Result<(Duration, u64)> {
    let root = project_root();
    let started = Instant::now();
    let mut child = Command::new(binary)
        .current_dir(&root)
        .args(["check", "-o", output])
        .args(["--rules", "examples/rules"])
        .args(["--rules", "examples/policies/pod-security/baseline"])
        .args(["--rules", "examples/policies/pod-security/restricted"])
        .arg(input)
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let status_file = PathBuf::from(format!("/proc/{}/status", child.id()));
    let mut peak = 0;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            peak = peak.max(high_water_mark(&text).unwrap_or(0));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let wall = started.elapsed();
    // 1: admission would deny some Pods, as the privileged ones are meant to be.
    ensure!(status.code() == Some(1), "portal check -o {output} exited with {status}, expected 1 (denials)");
    Ok((wall, peak))
}

/// `VmHWM` of a `/proc/PID/status` text, in bytes.
fn high_water_mark(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

/// A `kubectl get pods -A -o json` List of [`PODS`] Deployment-owned Pods: labels, owner
/// references, 15 environment variables, resources, security contexts, volumes and status.
fn write_pods(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    eprintln!("writing {}", path.display());
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = BufWriter::new(file);
    let items: Vec<Value> = (0..PODS).map(pod).collect();
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}});
    serde_json::to_writer_pretty(&mut out, &list)?;
    out.write_all(b"\n")?;
    out.flush().with_context(|| format!("writing {}", path.display()))
}

fn pod(index: usize) -> Value {
    let env: Vec<Value> = (0..15).map(|i| json!({"name": format!("ENV_{i}"), "value": format!("value-{i}")})).collect();
    let privileged = index % PRIVILEGED_EVERY == PRIVILEGED_EVERY - 1;
    let time = "2026-12-01T00:00:00Z";
    let conditions: Vec<Value> = ["Initialized", "Ready", "ContainersReady", "PodScheduled"]
        .map(|kind| json!({"type": kind, "status": "True", "lastTransitionTime": time}))
        .to_vec();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("web-{index}"),
            "namespace": format!("ns{}", index % 250),
            "uid": format!("uid-{index}"),
            "labels": {"app": "web", "tier": "front", "pod-template-hash": "abc123"},
            "annotations": {"kubectl.kubernetes.io/restartedAt": time},
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc123", "uid": "rs-uid", "controller": true
            }]
        },
        "spec": {
            "serviceAccountName": "web",
            "hostNetwork": privileged,
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "app",
                "image": "registry.example.com/shop/web:1.2.3",
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "env": env,
                "resources": {
                    "limits": {"cpu": "500m", "memory": "512Mi"},
                    "requests": {"cpu": "100m", "memory": "128Mi"}
                },
                "securityContext": {
                    "allowPrivilegeEscalation": privileged,
                    "privileged": privileged,
                    "capabilities": {"drop": ["ALL"]},
                    "readOnlyRootFilesystem": true
                },
                "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "tmp", "mountPath": "/tmp"}]
            }],
            "volumes": [{"name": "data", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}]
        },
        "status": {
            "phase": "Running",
            "podIP": format!("10.{}.{}.{}", index / 65_536 % 256, index / 256 % 256, index % 256),
            "conditions": conditions
        }
    })
}
