//! Architecture invariants (ARCHITECTURE.md), checked as tests.
//!
//! Each `#[test]` here is named after an invariant and reads the workspace as it is now: the
//! package graph from `cargo metadata` ([`workspace`]) and the Rust sources parsed with syn
//! ([`sources`], [`references`]). The checks themselves are functions over that data
//! ([`invariants`]), each also run there on a broken fixture, so that every test is known to
//! fail when its invariant breaks. A test that names a crate or a folder that does not exist
//! fails too: it never passes by finding nothing to check.

mod graph;
mod invariants;
mod references;
mod sources;
mod workspace;

use std::sync::OnceLock;

use self::invariants::{ADMISSION_CRATE, ADMISSION_FOLDER, PURE_CRATES};
use self::references::Crate;
use self::sources::CrateSources;
use self::workspace::Workspace;
use crate::project::project_root;

/// `cargo metadata`, run once for all the tests.
fn workspace() -> &'static Workspace {
    static WORKSPACE: OnceLock<Workspace> = OnceLock::new();
    WORKSPACE.get_or_init(|| Workspace::load(&project_root()).expect("cargo metadata describes the workspace"))
}

/// The sources of the package in `dir` (relative to the workspace root).
fn read_crate(dir: &str) -> Result<Crate, String> {
    CrateSources::read(&project_root(), dir).map(Crate::new).map_err(|e| format!("{e:#}"))
}

#[track_caller]
fn assert_holds(invariant: &str, problems: &[String]) {
    assert!(problems.is_empty(), "{invariant}, but:\n  {}", problems.join("\n  "));
}

#[test]
fn pure_crates_depend_on_no_runtime_and_no_workspace_crate_but_portal_cel() {
    let workspace = workspace();
    assert!(workspace.normal.reachable("portal-rules").contains("cel"), "the dependency graph was read");
    assert_holds(
        "portal-cel depends on no workspace crate, portal-rules on none but portal-cel, and neither on a runtime",
        &invariants::pure_crate_dependencies(workspace),
    );
}

#[test]
fn pure_crates_do_no_io() {
    let mut problems = Vec::new();
    for name in PURE_CRATES {
        match read_crate(&format!("crates/{name}")) {
            Ok(krate) => problems.extend(invariants::io_offences(name, &krate)),
            Err(error) => problems.push(error),
        }
    }
    assert_holds(&format!("{} do no I/O", PURE_CRATES.join(", ")), &problems);
}

#[test]
fn dependencies_point_one_way() {
    assert_holds("dependencies between workspace crates point one way", &invariants::dependency_direction(workspace()));
}

#[test]
fn portal_kube_does_not_depend_on_portal_offline() {
    assert_holds("portal-kube does not depend on portal-offline", &invariants::kube_does_not_use_offline(workspace()));
}

#[test]
fn anyhow_only_in_the_binary_and_xtask() {
    assert_holds("only bins/portal and xtask depend on anyhow", &invariants::anyhow_only_in_binaries(workspace()));
}

#[test]
fn webhook_replicas_stay_stateless() {
    let problems = match read_crate(ADMISSION_CRATE) {
        Ok(krate) => invariants::admission_stays_stateless(&krate, ADMISSION_FOLDER),
        Err(error) => vec![error],
    };
    assert_holds("the admission webhook keeps no state and runs no rule sources", &problems);
}

#[test]
fn no_two_source_files_import_each_other() {
    let root = project_root();
    let mut dirs = vec!["xtask".to_owned()];
    for parent in ["crates", "bins"] {
        let entries = std::fs::read_dir(root.join(parent)).unwrap_or_else(|e| panic!("reading {parent}/: {e}"));
        let mut found: Vec<String> = entries
            .map(|entry| entry.expect("directory entry").path())
            .filter(|path| path.join("Cargo.toml").is_file())
            .map(|path| format!("{parent}/{}", path.file_name().unwrap_or_default().to_string_lossy()))
            .collect();
        assert!(!found.is_empty(), "there is no package under {parent}/");
        found.sort();
        dirs.extend(found);
    }
    let mut crates = Vec::new();
    let mut problems = Vec::new();
    for dir in &dirs {
        match read_crate(dir) {
            Ok(krate) => crates.push(krate),
            Err(error) => problems.push(error),
        }
    }
    problems.extend(invariants::file_cycles(&crates));
    assert_holds("no two source files import each other", &problems);
}
