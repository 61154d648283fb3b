//! `cargo xtask fuzz [--seconds N] [TARGET...]`: runs the fuzz targets of `crates/portal-fuzz`
//! with its mutation fuzzer (stable Rust; no nightly toolchain, so not cargo-fuzz), each for N
//! seconds (default 60), two at a time on this machine's two cores. A run that dies keeps the
//! input that killed it in `target/fuzz-findings/<target>/`, and fuzzing goes on with a new seed
//! until the time is up; any finding makes the command fail. Replay a finding by copying it into
//! `crates/portal-fuzz/corpus/<target>/`, where the crate's tests run every input.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cmd::cargo;
use crate::project::{project_root, target_dir};

const TARGETS: [&str; 4] = ["admission-review", "rule-documents", "manifests", "expression"];

pub fn main(args: &[String]) -> Result<()> {
    let mut seconds = 60;
    let mut targets = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = args.next().context("--seconds needs a number")?;
                seconds = value.parse().with_context(|| format!("--seconds {value:?} is not a number"))?;
            }
            target if TARGETS.contains(&target) => targets.push(target.to_owned()),
            other => bail!("cargo xtask fuzz: unknown argument {other:?}; targets are {}", TARGETS.join(", ")),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.map(str::to_owned).to_vec();
    }
    cargo(&["build", "--locked", "--profile", "fuzz", "-p", "portal-fuzz", "--bin", "portal-fuzz"])?;
    let binary = target_dir().join("fuzz/portal-fuzz");
    let findings_root = target_dir().join("fuzz-findings");
    let mut reports = Vec::new();
    for pair in targets.chunks(2) {
        let runs: Vec<_> = pair
            .iter()
            .map(|target| {
                let binary = binary.clone();
                let findings = findings_root.join(target);
                let target = target.clone();
                std::thread::spawn(move || fuzz_target(&binary, &target, Duration::from_secs(seconds), &findings))
            })
            .collect();
        for run in runs {
            reports.push(run.join().map_err(|_| anyhow::anyhow!("a fuzzing thread panicked"))??);
        }
    }
    let mut failed = false;
    for report in &reports {
        eprintln!(
            "fuzz {}: {} executions in {} s ({:.0}/s), {} findings: {}",
            report.target,
            report.executions,
            report.seconds,
            report.executions as f64 / report.seconds.max(1) as f64,
            report.findings.len(),
            if report.findings.is_empty() {
                "none".to_owned()
            } else {
                report.findings.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
            }
        );
        failed |= !report.findings.is_empty();
    }
    if failed {
        bail!("fuzzing found inputs that crash or hang Portal (above)");
    }
    Ok(())
}

#[derive(Debug)]
struct Report {
    target: String,
    executions: u64,
    seconds: u64,
    findings: Vec<PathBuf>,
}

/// Runs the fuzzer on `target` until `duration` has passed, restarting it after each crash.
fn fuzz_target(binary: &Path, target: &str, duration: Duration, findings: &Path) -> Result<Report> {
    std::fs::create_dir_all(findings).with_context(|| format!("creating {}", findings.display()))?;
    let started = Instant::now();
    let mut report =
        Report { target: target.to_owned(), executions: 0, seconds: duration.as_secs(), findings: Vec::new() };
    let mut seed: u64 = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_secs());
    while started.elapsed() < duration {
        let remaining = (duration - started.elapsed()).as_secs().max(1);
        let output = Command::new(binary)
            .args([target, &remaining.to_string(), &seed.to_string(), &findings.display().to_string()])
            .current_dir(project_root())
            .output()
            .with_context(|| format!("running {}", binary.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if let Some(count) = stdout.split_whitespace().nth(1).and_then(|n| n.parse::<u64>().ok()) {
            report.executions += count;
        }
        if !output.status.success() {
            let finding = findings.join(format!("crash-{seed}"));
            let hang = findings.join(format!("hang-{seed}"));
            if hang.exists() {
                report.findings.push(hang);
            } else {
                std::fs::copy(findings.join("current"), &finding)
                    .with_context(|| format!("keeping the input that crashed {target}"))?;
                std::fs::write(finding.with_extension("stderr"), &output.stderr)?;
                report.findings.push(finding);
            }
        }
        seed = seed.wrapping_add(1);
    }
    Ok(report)
}
