//! `cargo xtask wasm`: the crates that do no I/O build for `wasm32-unknown-unknown`, so that a
//! browser or any WebAssembly host can embed the rule engine, and the engine runs there. The
//! target is added with rustup when missing.

use anyhow::{Context, Result, bail};

use crate::cmd::{cargo, cargo_with_env, run};
use crate::project::project_root;

/// The crates that do no I/O: text in, values out. The architecture tests check that they reach
/// no async runtime, client or file watcher; this command, that they build for WebAssembly.
pub const PURE_CRATES: &[&str] =
    &["portal-cel", "portal-yaml", "portal-rules", "portal-report", "portal-network", "portal-vap", "portal-migrate"];

const TARGET: &str = "wasm32-unknown-unknown";

pub fn main(args: &[String]) -> Result<()> {
    if let Some(other) = args.first() {
        bail!("cargo xtask wasm: unknown argument {other:?}; it takes none");
    }
    check()
}

/// Builds the pure crates for WebAssembly, then runs the rule engine there: the embedding
/// example's `evaluate-in-wasm` (loads, compiles and evaluates rules, and says by its exit
/// status whether it decided right) in Node.js.
pub fn check() -> Result<()> {
    crate::cmd::add_rust_target(TARGET)?;
    let mut check = vec!["check", "--locked", "--target", TARGET];
    for krate in PURE_CRATES {
        check.extend(["-p", krate]);
    }
    cargo(&check)?;
    eprintln!("wasm: {} build for {TARGET}", PURE_CRATES.join(", "));

    let manifest = crate::embed::prepare()?;
    let target = project_root().join("target/embed");
    let build = ["build", "--manifest-path", &manifest, "--target", TARGET, "--bin", "evaluate-in-wasm"];
    cargo_with_env(&build, &[("CARGO_TARGET_DIR", target.as_os_str())])?;
    let module = target.join(TARGET).join("debug/evaluate-in-wasm.wasm");
    // No imports: the target has no system interface. A panic traps, which Node reports.
    let script = "const fs = require('fs'); \
        const module = new WebAssembly.Module(fs.readFileSync(process.argv[1])); \
        const status = new WebAssembly.Instance(module, {}).exports.main(0, 0); \
        if (status !== 0) { console.error('evaluate-in-wasm exited with status ' + status); process.exit(1); }";
    let mut node = std::process::Command::new("node");
    node.args(["-e", script]).arg(&module);
    run(&mut node).context("running the rule engine on wasm32-unknown-unknown in Node.js (node must be installed)")?;
    eprintln!("wasm: the rule engine evaluates rules on {TARGET}");
    Ok(())
}
