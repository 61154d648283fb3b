//! `cargo xtask`: the project's own automation. `cargo xtask test` is the one entry point that
//! runs every check and test CI runs.

mod architecture;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test     cargo fmt --check, clippy with -D warnings, and every test of the workspace
  bench    the rule-evaluation benchmarks (criterion), numbers on stdout
";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("bench") => bench(&args[1..]),
        Some("help" | "--help" | "-h") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}

/// The workspace root (the parent of this crate's directory).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Runs `cargo` with `args` in the workspace root, failing when it fails.
fn cargo(args: &[&str]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    eprintln!("$ cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(args)
        .current_dir(project_root())
        .status()
        .with_context(|| format!("running {cargo}"))?;
    if !status.success() {
        bail!("`cargo {}` failed with {status}", args.join(" "));
    }
    Ok(())
}

fn test() -> Result<()> {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"])?;
    cargo(&["test", "--workspace", "--all-targets", "--locked"])?;
    // Doc tests are not part of --all-targets.
    cargo(&["test", "--workspace", "--doc", "--locked"])?;
    Ok(())
}

fn bench(extra: &[String]) -> Result<()> {
    let mut args = vec!["bench", "--locked", "-p", "portal-rules", "--bench", "evaluate", "--"];
    args.extend(extra.iter().map(String::as_str));
    cargo(&args)
}
