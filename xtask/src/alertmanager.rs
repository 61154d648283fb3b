//! Alertmanager, built from its published Go module into the per-user tool cache beside the test
//! control plane: the real program the alerting tests send to.
//!
//! ```text
//! <envtest cache root>/tools/alertmanager-v0.35.0/alertmanager
//! ```
//!
//! The module leaves out the web UI's compiled files (upstream's Makefile builds them with Elm and
//! npm), yet `go:embed`s their directory; the build copies the module and puts a one-page note in
//! that directory. The API (`/api/v2/`), which is all Portal and its tests use, is built unchanged.
//! The first run needs Go and the Go module proxy (about a minute on two cores); later runs find
//! the binary and return at once. Tests find it through `PORTAL_ALERTMANAGER`, which `cargo xtask
//! test` sets.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::go::Go;

/// The Alertmanager release the alerting tests run against.
pub const ALERTMANAGER_VERSION: &str = "v0.35.0";

/// The variable through which tests find Alertmanager.
pub const ALERTMANAGER_ENV: &str = "PORTAL_ALERTMANAGER";

const MODULE: &str = "github.com/prometheus/alertmanager";

/// Served at `/` instead of the web UI, which the Go module does not contain.
const UI_NOTE: &str = "<!doctype html><title>Alertmanager</title>\
<p>Built by Portal's xtask from the Go module, without the web UI; the API is at /api/v2/.\n";

/// The Alertmanager binary, built first when the cache does not have it.
pub fn ensure() -> Result<PathBuf> {
    let root = crate::envtest::cache_root(|name| std::env::var_os(name))?;
    let dir = root.join("tools").join(format!("alertmanager-{ALERTMANAGER_VERSION}"));
    let binary = dir.join("alertmanager");
    if binary.is_file() {
        return Ok(binary);
    }
    let partial =
        root.join("tools").join(format!(".alertmanager-{ALERTMANAGER_VERSION}.{}.partial", std::process::id()));
    let _ = fs::remove_dir_all(&partial);
    fs::create_dir_all(partial.join("logs")).with_context(|| format!("creating {}", partial.display()))?;
    let go = Go::find(partial.join("logs"), "building Alertmanager")?;
    eprintln!(
        "alertmanager: building Alertmanager {ALERTMANAGER_VERSION} into {} (first run only: about a minute)",
        dir.display()
    );
    let download = go.run(
        "alertmanager: go mod download",
        &partial,
        &["mod", "download", "-json", &format!("{MODULE}@{ALERTMANAGER_VERSION}")],
    )?;
    let source = partial.join("src");
    crate::project::copy_tree(&crate::go::module_dir(&download)?, &source)?;
    let dist = source.join("ui/app/dist");
    fs::create_dir_all(&dist).with_context(|| format!("creating {}", dist.display()))?;
    fs::write(dist.join("index.html"), UI_NOTE).context("writing the web UI's note")?;
    let output = partial.join("bin").join("alertmanager");
    let version = ALERTMANAGER_VERSION.trim_start_matches('v');
    let ldflags = format!("-X github.com/prometheus/common/version.Version={version}");
    let output_arg = output.to_string_lossy().into_owned();
    go.run(
        "go build alertmanager",
        &source,
        &["build", "-ldflags", &ldflags, "-o", &output_arg, "./cmd/alertmanager"],
    )?;
    let _ = fs::remove_dir_all(&dir);
    if let Err(error) = fs::rename(partial.join("bin"), &dir) {
        // Another run finished first.
        let _ = fs::remove_dir_all(&partial);
        if !binary.is_file() {
            return Err(error).with_context(|| format!("moving Alertmanager to {}", dir.display()));
        }
    }
    let _ = fs::remove_dir_all(&partial);
    Ok(binary)
}
