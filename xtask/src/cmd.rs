//! Running the tools xtask drives (cargo, git, rustup, dpkg, tar, …): each command is echoed to
//! stderr before it runs, and a failure says which command failed and how, so that no caller
//! checks an exit status by hand.

use std::ffi::OsStr;
use std::process::Command;

use anyhow::{Context, Result, ensure};

use crate::project::project_root;

/// `cargo` (the one running xtask, from `$CARGO`), in the workspace root.
pub fn cargo_command() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command.current_dir(project_root());
    command
}

/// `git`, in the workspace root.
pub fn git() -> Command {
    let mut command = Command::new("git");
    command.current_dir(project_root());
    command
}

/// Runs `cargo` with `args` in the workspace root, failing when it fails.
pub fn cargo(args: &[&str]) -> Result<()> {
    cargo_with_env(args, &[])
}

/// [`cargo`] with extra environment variables.
pub fn cargo_with_env(args: &[&str], env: &[(&str, &OsStr)]) -> Result<()> {
    let mut cargo = cargo_command();
    cargo.args(args).envs(env.iter().copied());
    eprintln!("$ cargo {}", args.join(" "));
    let status = cargo.status().with_context(|| format!("running {}", cargo.get_program().to_string_lossy()))?;
    ensure!(status.success(), "`cargo {}` failed with {status}", args.join(" "));
    Ok(())
}

/// Runs `command` (echoed to stderr), failing when it fails.
pub fn run(command: &mut Command) -> Result<()> {
    let line = describe(command);
    eprintln!("$ {line}");
    let status = command.status().with_context(|| format!("starting `{line}`"))?;
    ensure!(status.success(), "`{line}` failed with {status}");
    Ok(())
}

/// Runs `command` and returns its standard output, failing (with its standard error) when it fails.
pub fn stdout_of(command: &mut Command) -> Result<String> {
    let line = describe(command);
    let output = command.output().with_context(|| format!("starting `{line}`"))?;
    ensure!(
        output.status.success(),
        "`{line}` failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    String::from_utf8(output.stdout).with_context(|| format!("`{line}` printed something that is not UTF-8"))
}

fn describe(command: &Command) -> String {
    let mut words = vec![command.get_program().to_string_lossy().into_owned()];
    words.extend(command.get_args().map(|arg| arg.to_string_lossy().into_owned()));
    words.join(" ")
}

/// Adds the Rust standard library for `target` with rustup, unless it is there already (which
/// needs no network).
pub fn add_rust_target(target: &str) -> Result<()> {
    let installed = stdout_of(Command::new("rustup").args(["target", "list", "--installed"]))?;
    if !installed.lines().any(|line| line.trim() == target) {
        run(Command::new("rustup").args(["target", "add", target]))
            .with_context(|| format!("adding the {target} target with rustup"))?;
    }
    Ok(())
}
