//! The per-user tool cache beside the test control plane (`<envtest cache root>/tools/`): Go
//! programs the tests and release checks run (helm, cosign, crane), built once from their
//! published modules.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::go::Go;

/// A Go program of the tool cache (`<envtest cache root>/tools/<name>-<version>/<name>`), built
/// with `go install <package>@<version>` the first time (`ldflags` set, e.g. its version string).
pub(crate) fn installed_tool(
    name: &str,
    version: &str,
    package: &str,
    ldflags: &str,
    purpose: &'static str,
) -> Result<PathBuf> {
    let root = crate::envtest::cache_root(|variable| std::env::var_os(variable))?;
    let dir = root.join("tools").join(format!("{name}-{version}"));
    let binary = dir.join(name);
    if binary.is_file() {
        return Ok(binary);
    }
    let partial = root.join("tools").join(format!(".{name}-{version}.{}.partial", std::process::id()));
    let _ = fs::remove_dir_all(&partial);
    fs::create_dir_all(partial.join("logs")).with_context(|| format!("creating {}", partial.display()))?;
    let go = Go::find(partial.join("logs"), purpose)?;
    eprintln!("{name}: building {name} {version} into {} (first run only)", dir.display());
    let gobin = partial.join("bin");
    go.run_with_env(
        &format!("go install {name}"),
        &partial,
        &["install", "-ldflags", ldflags, &format!("{package}@{version}")],
        &[("GOBIN", gobin.as_os_str())],
    )?;
    let _ = fs::remove_dir_all(&dir);
    if let Err(error) = fs::rename(&gobin, &dir) {
        // Another run finished first.
        let _ = fs::remove_dir_all(&partial);
        if !binary.is_file() {
            return Err(error).with_context(|| format!("moving {name} to {}", dir.display()));
        }
    }
    let _ = fs::remove_dir_all(&partial);
    Ok(binary)
}
