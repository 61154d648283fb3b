//! `cargo xtask wasm`: the crates that do no I/O build for `wasm32-unknown-unknown`, so that a
//! browser (the rule playground) or any WebAssembly host can embed the rule engine. The target
//! is added with rustup when missing.

use anyhow::{Context, Result, bail};

use crate::cmd::{cargo, run};

/// The crates that do no I/O: text in, values out. The architecture tests check that they reach
/// no async runtime, client or file watcher; this command, that they build for WebAssembly.
pub const PURE_CRATES: &[&str] =
    &["portal-cel", "portal-yaml", "portal-rules", "portal-report", "portal-network", "portal-vap", "portal-migrate"];

const TARGET: &str = "wasm32-unknown-unknown";

pub fn main(args: &[String]) -> Result<()> {
    if let Some(other) = args.first() {
        bail!("cargo xtask wasm: unknown argument {other:?}; it takes none");
    }
    let mut rustup = std::process::Command::new("rustup");
    rustup.args(["target", "add", TARGET]);
    run(&mut rustup).with_context(|| format!("adding the {TARGET} target with rustup"))?;
    let mut check = vec!["check", "--locked", "--target", TARGET];
    for krate in PURE_CRATES {
        check.extend(["-p", krate]);
    }
    cargo(&check)?;
    eprintln!("wasm: {} build for {TARGET}", PURE_CRATES.join(", "));
    Ok(())
}
