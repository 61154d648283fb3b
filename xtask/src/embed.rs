//! `examples/embed`, a crate outside the workspace that depends on the library crates by path
//! as an outside tool would, built with the workspace's exact dependency versions (Cargo.lock
//! copied in; Cargo drops what it does not use).

use anyhow::{Context, Result};

use crate::cmd::{cargo, cargo_with_env};
use crate::project::project_root;

/// Puts the workspace's Cargo.lock beside the example and returns its manifest's path.
pub fn prepare() -> Result<String> {
    let root = project_root();
    std::fs::copy(root.join("Cargo.lock"), root.join("examples/embed/Cargo.lock"))
        .context("copying Cargo.lock to examples/embed")?;
    Ok(root.join("examples/embed/Cargo.toml").to_string_lossy().into_owned())
}

/// The example is formatted and its tests pass.
pub fn test() -> Result<()> {
    let manifest = prepare()?;
    cargo(&["fmt", "--manifest-path", &manifest, "--check"])?;
    let target = project_root().join("target/embed");
    cargo_with_env(&["test", "--manifest-path", &manifest], &[("CARGO_TARGET_DIR", target.as_os_str())])
}
