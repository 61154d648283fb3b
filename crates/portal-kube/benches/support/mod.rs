//! What the end-to-end benchmarks share: ports, the measured process's memory, percentiles.
#![allow(dead_code)]

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The shipped examples: rules, bundles and manifests.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// `portal run` of the binary in `PORTAL_BIN` (`cargo xtask bench <name>` sets it) with the PSS
/// baseline and restricted bundles and the example rules from their folders, no rule resources,
/// and warnings only in its log.
pub fn portal_run(bench: &str) -> Command {
    portal_run_with(bench, false)
}

/// [`portal_run`], watching rule resources too when `cluster_rules` (which gives it cluster
/// access, and so cluster lookups, with admission alone).
pub fn portal_run_with(bench: &str, cluster_rules: bool) -> Command {
    let binary =
        std::env::var("PORTAL_BIN").unwrap_or_else(|_| panic!("PORTAL_BIN: run through `cargo xtask bench {bench}`"));
    let pss = examples().join("policies/pod-security");
    let mut command = Command::new(binary);
    // Portal rejects PORTAL_* variables it does not know; this one is the benchmark's.
    command
        .env_remove("PORTAL_BIN")
        .args(["run", "--cluster-rules", if cluster_rules { "true" } else { "false" }, "--log-level", "warn"])
        .arg("--rules")
        .arg(pss.join("baseline"))
        .arg("--rules")
        .arg(pss.join("restricted"))
        .arg("--rules")
        .arg(examples().join("rules"));
    command
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

/// A `/proc/<pid>/status` memory field (`VmRSS:`, `VmHWM:`) in KiB; 0 if unreadable.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The `p` quantile (0 to 1) of sorted durations; zero when there are none.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}
