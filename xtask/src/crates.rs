//! `cargo xtask crates`: the library crates other tools depend on are ready to publish: their
//! docs build without a warning, `cargo publish --dry-run` packages and verifies each (together,
//! so that each finds the others it depends on), and they build with the oldest toolchain they
//! claim (`rust-version`), installed with rustup. Slow (several builds), so it runs in the
//! GitHub workflow rather than in `cargo xtask test`, which checks their public API instead.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cmd::{cargo_with_env, run};
use crate::project::{project_root, target_dir};
use crate::public_api::PUBLISHED_CRATES;

pub fn main(args: &[String]) -> Result<()> {
    if let Some(other) = args.first() {
        bail!("cargo xtask crates: unknown argument {other:?}; it takes none");
    }
    let mut packages = Vec::new();
    for krate in PUBLISHED_CRATES {
        packages.extend(["-p", krate]);
    }
    let deny_warnings = std::ffi::OsStr::new("-D warnings");
    let mut doc = vec!["doc", "--no-deps", "--locked"];
    doc.extend(&packages);
    cargo_with_env(&doc, &[("RUSTDOCFLAGS", deny_warnings)])?;

    let mut publish = vec!["publish", "--dry-run", "--locked"];
    publish.extend(&packages);
    cargo_with_env(&publish, &[])?;

    let msrv = rust_version()?;
    run(Command::new("rustup").args(["toolchain", "install", &msrv, "--profile", "minimal"]))
        .with_context(|| format!("installing Rust {msrv}, the crates' rust-version"))?;
    let mut check = Command::new("rustup");
    check.args(["run", &msrv, "cargo", "check", "--locked"]).args(&packages);
    check.current_dir(project_root()).env("CARGO_TARGET_DIR", target_dir().join("msrv"));
    run(&mut check).with_context(|| format!("building the published crates with Rust {msrv}, their rust-version"))?;
    eprintln!("crates: {} document cleanly, package, and build with Rust {msrv}", PUBLISHED_CRATES.join(", "));
    Ok(())
}

/// `rust-version` of the workspace's `[workspace.package]`, which every crate inherits.
fn rust_version() -> Result<String> {
    let manifest = std::fs::read_to_string(project_root().join("Cargo.toml")).context("reading Cargo.toml")?;
    manifest
        .lines()
        .find_map(|line| line.strip_prefix("rust-version = "))
        .map(|value| value.trim_matches('"').to_owned())
        .context("Cargo.toml has no rust-version")
}
