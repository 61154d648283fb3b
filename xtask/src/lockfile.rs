//! `cargo xtask lockfile-check BASE`: Cargo.lock may change only together with a Cargo.toml
//! (SPEC §11, lockfile integrity). A pull request that changes Cargo.lock alone swaps dependency
//! versions or checksums without any declared reason; CI rejects it.
//!
//! The changes compared are those of `git diff --name-only BASE...HEAD`: the commits on HEAD
//! since it left BASE (the merge base), not what BASE gained meanwhile.

use std::path::Path;
use std::process::Command;

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail, ensure};

use crate::cmd::stdout_of;
use crate::project::project_root;

/// `cargo xtask lockfile-check BASE`.
pub fn main(args: &[String]) -> Result<()> {
    let [base] = args else {
        bail!("usage: cargo xtask lockfile-check BASE (a commit, branch or tag, e.g. origin/main)");
    };
    let changed = changed_files(&project_root(), base)?;
    check(&changed).map_err(|message| anyhow::anyhow!("{message}"))?;
    let lock = if changed.iter().any(|f| f == "Cargo.lock") { "changed with a Cargo.toml" } else { "unchanged" };
    println!(
        "lockfile-check: {} paths changed since {base} (git diff {base}...HEAD); Cargo.lock {lock}",
        changed.len()
    );
    Ok(())
}

/// The paths `git diff --name-only BASE...HEAD` lists in `repo`.
fn changed_files(repo: &Path, base: &str) -> Result<Vec<String>> {
    let git = || {
        let mut git = Command::new("git");
        git.current_dir(repo);
        git
    };
    stdout_of(git().args(["rev-parse", "--verify", "--quiet", &format!("{base}^{{commit}}")])).with_context(|| {
        format!("{base:?} is not a commit here: fetch it first (in CI, check out with fetch-depth: 0)")
    })?;
    let diff = stdout_of(git().args(["diff", "--name-only", "--no-renames", &format!("{base}...HEAD"), "--"]))?;
    Ok(diff.lines().map(str::to_owned).collect())
}

/// Fails when the root Cargo.lock is among `changed` but no Cargo.toml (of any package or the
/// workspace) is.
fn check(changed: &[String]) -> Result<(), String> {
    let lock_changed = changed.iter().any(|path| path == "Cargo.lock");
    let manifest_changed =
        changed.iter().any(|path| Path::new(path).file_name().is_some_and(|name| name == "Cargo.toml"));
    if lock_changed && !manifest_changed {
        return Err("Cargo.lock changed without any Cargo.toml change: a dependency update must come with \
                    the manifest change that asks for it (or be explained in a Cargo.toml comment); \
                    revert Cargo.lock or change the Cargo.toml that needs it"
            .to_owned());
    }
    Ok(())
}

/// `(name, version)` → the SHA-256 checksum Cargo.lock records for it.
pub(crate) fn checksums(lock: &str) -> Result<BTreeMap<(String, String), String>> {
    let mut checksums = BTreeMap::new();
    for block in lock.split("[[package]]").skip(1) {
        let field = |key: &str| {
            block.lines().find_map(|line| {
                line.strip_prefix(key)?.trim_start().strip_prefix('=')?.trim().strip_prefix('"')?.strip_suffix('"')
            })
        };
        let (Some(name), Some(version)) = (field("name"), field("version")) else {
            bail!("Cargo.lock: a package without name or version")
        };
        if let Some(checksum) = field("checksum") {
            ensure!(
                checksum.len() == 64 && checksum.chars().all(|c| c.is_ascii_hexdigit()),
                "Cargo.lock: {name} {version} has a malformed checksum"
            );
            checksums.insert((name.to_owned(), version.to_owned()), checksum.to_owned());
        }
    }
    Ok(checksums)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::fs;

    use super::*;

    fn paths(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn lockfile_alone_is_rejected() {
        assert!(check(&paths(&["Cargo.lock"])).is_err());
        assert!(check(&paths(&["Cargo.lock", "README.md", "crates/portal-cel/src/lib.rs"])).is_err());
        // Not a manifest, only a similar name.
        assert!(check(&paths(&["Cargo.lock", "docs/Cargo.toml.md"])).is_err());
    }

    #[test]
    fn lockfile_with_a_manifest_or_no_lockfile_passes() {
        assert!(check(&paths(&["Cargo.lock", "Cargo.toml"])).is_ok());
        assert!(check(&paths(&["Cargo.lock", "crates/portal-kube/Cargo.toml"])).is_ok());
        assert!(check(&paths(&["crates/portal-kube/Cargo.toml"])).is_ok());
        assert!(check(&paths(&["README.md"])).is_ok());
        assert!(check(&[]).is_ok());
        // Only the workspace's lock file counts.
        assert!(check(&paths(&["examples/tool/Cargo.lock"])).is_ok());
    }

    /// Against a real repository: the three-dot diff sees only HEAD's side.
    #[test]
    fn changed_files_are_those_since_the_merge_base() {
        let repo = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let output = Command::new("git")
                .current_dir(repo.path())
                .args(["-c", "user.name=t", "-c", "user.email=t@invalid", "-c", "commit.gpgsign=false"])
                .args(args)
                .output()
                .unwrap();
            assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        };
        let write = |name: &str, text: &str| fs::write(repo.path().join(name), text).unwrap();
        git(&["init", "--quiet", "--initial-branch=main"]);
        write("Cargo.toml", "[workspace]\n");
        write("Cargo.lock", "version = 4\n");
        git(&["add", "."]);
        git(&["commit", "--quiet", "-m", "base"]);
        git(&["checkout", "--quiet", "-b", "topic"]);
        write("Cargo.lock", "version = 4\n# changed\n");
        git(&["commit", "--quiet", "-am", "lock only"]);
        // main moves on with a manifest change that the topic branch must not be credited with.
        git(&["checkout", "--quiet", "main"]);
        write("Cargo.toml", "[workspace]\nmembers = []\n");
        git(&["commit", "--quiet", "-am", "manifest on main"]);
        git(&["checkout", "--quiet", "topic"]);

        let changed = changed_files(repo.path(), "main").unwrap();
        assert_eq!(changed, ["Cargo.lock"]);
        assert!(check(&changed).is_err());
        assert!(changed_files(repo.path(), "no-such-branch").is_err());
    }
}
