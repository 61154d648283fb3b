//! Running the `go` command for the xtask steps that build or fetch from Go modules (the test
//! control plane, the upstream report CRDs): each step's output kept in a log file, and a failure
//! shown with the step's name and the end of its output.

use std::cell::Cell;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::Value;

const GO_MISSING: &str = "Go is required to build the test control plane: install Go 1.24+ \
     (https://go.dev/dl/ or the distribution package golang-go) and rerun `cargo xtask envtest`";

/// Lines of a failed step's output shown in the error.
const TAIL_LINES: usize = 40;

/// Runs `go` with the settings every step shares, keeping each step's output in a log file.
pub(crate) struct Go {
    /// Where each step's output goes.
    log_dir: PathBuf,
    /// Steps run so far, numbering the log files.
    steps: Cell<usize>,
    /// What the steps are for, e.g. `building the test control plane`, named when one fails.
    purpose: &'static str,
}

impl Go {
    /// Fails with installation advice when there is no `go` on PATH.
    pub(crate) fn find(log_dir: PathBuf, purpose: &'static str) -> Result<Self> {
        match Command::new("go").arg("version").stdin(Stdio::null()).output() {
            Ok(output) if output.status.success() => {
                eprintln!("envtest: using {}", String::from_utf8_lossy(&output.stdout).trim());
                Ok(Self { log_dir, steps: Cell::new(0), purpose })
            }
            Ok(output) => bail!("`go version` failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => bail!(GO_MISSING),
            Err(err) => Err(err).context("running `go version`"),
        }
    }

    /// Runs `go args…` in `dir` and returns its stdout. Its stderr goes to
    /// `<log_dir>/NN-<step>.log`; on failure the error names the step and shows the tail.
    pub(crate) fn run(&self, step: &str, dir: &Path, args: &[&str]) -> Result<String> {
        self.run_with_env(step, dir, args, &[])
    }

    /// [`Go::run`] with extra environment variables (e.g. `GOBIN` for `go install`).
    pub(crate) fn run_with_env(
        &self,
        step: &str,
        dir: &Path,
        args: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Result<String> {
        let number = self.steps.get() + 1;
        self.steps.set(number);
        let slug: String = step.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let log_path = self.log_dir.join(format!("{number:02}-{slug}.log"));
        let quoted: Vec<String> =
            args.iter().map(|arg| if arg.contains(' ') { format!("'{arg}'") } else { (*arg).to_owned() }).collect();
        let command_line = format!("go {}", quoted.join(" "));
        eprintln!("envtest: {step}: {command_line}");
        let log = File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let output = Command::new("go")
            .args(args)
            .current_dir(dir)
            // Builds a static binary, resolves modules from the network (not a vendor
            // directory) and ignores any go.work of the user's; GOMODCACHE, GOCACHE, GOPROXY
            // and GOTOOLCHAIN stay the user's so that downloads are shared and reused.
            .env("GOFLAGS", "-mod=mod")
            .env("CGO_ENABLED", "0")
            .env("GOWORK", "off")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stderr(log)
            .output()
            .with_context(|| format!("{step}: running `{command_line}`"))?;
        if output.status.success() {
            return String::from_utf8(output.stdout).with_context(|| format!("{step}: output is not UTF-8"));
        }
        let log_text = fs::read_to_string(&log_path).unwrap_or_default();
        let combined = format!("{}{log_text}", String::from_utf8_lossy(&output.stdout));
        bail!(
            "{} failed at step `{step}`: `{command_line}` in {} exited with {}\n\
             --- last {TAIL_LINES} lines of its output (all of it: {}) ---\n{}",
            self.purpose,
            dir.display(),
            output.status,
            log_path.display(),
            tail(&combined, TAIL_LINES)
        )
    }
}

/// The `Dir` field of `go mod download -json`: where the module's files are.
pub(crate) fn module_dir(download_json: &str) -> Result<std::path::PathBuf> {
    let info: Value = serde_json::from_str(download_json).context("parsing `go mod download -json` output")?;
    if let Some(error) = info["Error"].as_str() {
        bail!("go mod download: {error}");
    }
    match info["Dir"].as_str() {
        Some(dir) => Ok(dir.into()),
        None => bail!("`go mod download -json` printed no Dir field:\n{download_json}"),
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_module_directory() {
        let json = r#"{"Path": "github.com/openreports/reports-api", "Dir": "/go/pkg/mod/x@v0.2.1"}"#;
        assert_eq!(module_dir(json).unwrap(), Path::new("/go/pkg/mod/x@v0.2.1"));
        let failed = r#"{"Path": "x", "Error": "not found"}"#;
        assert!(module_dir(failed).unwrap_err().to_string().contains("not found"));
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
