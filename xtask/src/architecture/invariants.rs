//! The architecture invariants as functions over data: each takes the package graph or the
//! parsed sources and returns one line per breach (empty when the invariant holds), and each is
//! shown here to report a broken fixture. The tables below are the invariants' wording in code;
//! ARCHITECTURE.md says the same in prose, and a change to one is a change to both.

use std::collections::{BTreeMap, BTreeSet};

use super::graph::Graph;
use super::references::{Crate, Kind, Target};
use super::workspace::{self, Workspace};

/// The crates that do no I/O: text in, values out (one list, with `cargo xtask wasm`).
pub use crate::wasm::PURE_CRATES;

/// The workspace crates each dependency-pure crate may depend on, even indirectly.
const PURE_CRATE_WORKSPACE_DEPENDENCIES: &[(&str, &[&str])] =
    &[("portal-cel", &[]), ("portal-yaml", &[]), ("portal-rules", &["portal-cel", "portal-yaml"])];

/// Packages that the dependency-pure crates must not reach through their normal dependencies:
/// an async runtime, a Kubernetes client, an HTTP stack, a file watcher.
const RUNTIME_PACKAGES: &[&str] = &["tokio", "kube", "kube-client", "hyper", "axum", "notify"];

/// Paths the pure crates may not name (a `use`, a path in code, a glob that would bring one in).
const IO_PATHS: &[&str] = &[
    "std::fs",
    "std::net",
    "std::process",
    "std::env",
    "std::os",
    "std::io::stdin",
    "std::io::stdout",
    "std::io::stderr",
    "std::io::Stdin",
    "std::io::StdinLock",
    "std::io::Stdout",
    "std::io::StdoutLock",
    "std::io::Stderr",
    "std::io::StderrLock",
    "tokio",
];

/// Values under [`IO_PATHS`] that do no I/O: IP addresses are parsed and printed, never dialled.
const IO_PATH_EXCEPTIONS: &[&str] = &[
    "std::net::IpAddr",
    "std::net::Ipv4Addr",
    "std::net::Ipv6Addr",
    "std::net::SocketAddr",
    "std::net::SocketAddrV4",
    "std::net::SocketAddrV6",
    "std::net::AddrParseError",
];

/// Macros that write to standard output or standard error.
const PRINT_MACROS: &[&str] = &["print", "println", "eprint", "eprintln", "dbg"];

/// Which workspace crates each workspace crate may depend on directly (normal and build
/// dependencies); the crate graph of ARCHITECTURE.md's code map.
const ALLOWED_DEPENDENCIES: &[(&str, Allowed)] = &[
    ("portal-cel", Allowed::Only(&[])),
    ("portal-yaml", Allowed::Only(&[])),
    ("portal-rules", Allowed::Only(&["portal-cel", "portal-yaml"])),
    ("portal-report", Allowed::Only(&["portal-rules"])),
    ("portal-network", Allowed::Only(&["portal-rules"])),
    ("portal-vap", Allowed::Only(&["portal-rules"])),
    ("portal-migrate", Allowed::Only(&["portal-rules", "portal-vap"])),
    ("portal-files", Allowed::Only(&["portal-rules"])),
    ("portal-actions", Allowed::Only(&["portal-rules", "portal-metrics"])),
    ("portal-offline", Allowed::Only(&["portal-rules", "portal-files", "portal-report", "portal-network"])),
    (
        "portal-kube",
        Allowed::Only(&[
            "portal-rules",
            "portal-files",
            "portal-report",
            "portal-config",
            "portal-metrics",
            "portal-network",
            "portal-actions",
        ]),
    ),
    ("portal-config", Allowed::Only(&["portal-yaml"])),
    ("portal-metrics", Allowed::Only(&[])),
    ("portal-testenv", Allowed::Only(&[])),
    ("portal-fuzz", Allowed::Only(&["portal-rules", "portal-files", "portal-kube"])),
    ("portal", Allowed::AnythingBut(&["xtask", "portal-testenv"])),
    ("portal-playground", Allowed::Only(&["portal-offline"])),
    ("xtask", Allowed::Only(&[])),
];

/// Packages nothing may depend on, with any kind of dependency: the binaries and the automation.
const NOT_DEPENDED_ON: &[&str] = &["portal", "portal-playground", "xtask"];

/// The test harness, a dev-dependency only.
const DEV_ONLY: &str = "portal-testenv";

/// The packages that may use `anyhow`; libraries have typed errors.
const ANYHOW_USERS: &[&str] = &["portal", "xtask"];

/// The webhook's code, and the modules of its crate it must not use: replicas keep no state and
/// write nothing, and admission reads the rule set, it never runs sources.
pub const ADMISSION_CRATE: &str = "crates/portal-kube";
pub const ADMISSION_FOLDER: &str = "crates/portal-kube/src/admission";
const ADMISSION_FORBIDDEN_MODULES: &[&str] = &["crate::writers", "crate::audit", "crate::actions", "crate::sources"];

#[derive(Debug, Clone, Copy)]
enum Allowed {
    Only(&'static [&'static str]),
    AnythingBut(&'static [&'static str]),
}

impl Allowed {
    fn allows(self, dependency: &str) -> bool {
        match self {
            Self::Only(allowed) => allowed.contains(&dependency),
            Self::AnythingBut(forbidden) => !forbidden.contains(&dependency),
        }
    }
}

/// Invariant: `portal-cel` depends on no workspace crate, `portal-rules` on none but
/// `portal-cel`, and neither reaches an async runtime, a Kubernetes client, an HTTP stack or a
/// file watcher through its normal dependencies.
pub fn pure_crate_dependencies(workspace: &Workspace) -> Vec<String> {
    let mut problems = Vec::new();
    for (krate, allowed) in PURE_CRATE_WORKSPACE_DEPENDENCIES {
        if !workspace.members.contains(*krate) {
            problems.push(format!("there is no workspace package {krate}"));
            continue;
        }
        for dependency in workspace.normal.reachable(krate) {
            let workspace_crate = workspace.members.contains(&dependency) && !allowed.contains(&dependency.as_str());
            if workspace_crate || RUNTIME_PACKAGES.contains(&dependency.as_str()) {
                let path = workspace.normal.path(krate, &dependency).unwrap_or_default();
                problems.push(format!("{krate} must not depend on {dependency}: {}", path.join(" -> ")));
            }
        }
    }
    problems
}

/// Invariant: the pure crates do no I/O: no file system, network, processes, environment,
/// standard streams or tokio, by path, `use` or glob, and no printing macros. `crate_name` names
/// the crate in the messages.
pub fn io_offences(crate_name: &str, krate: &Crate) -> Vec<String> {
    let mut problems = BTreeSet::new();
    for (file, references) in krate.files() {
        for reference in references {
            let Target::External(path) = krate.target(file, reference) else { continue };
            let offence = if reference.kind == Kind::Macro {
                let name = path.last().map(String::as_str).unwrap_or_default();
                let std = path.len() == 1 || ["std", "core"].contains(&path[0].as_str());
                (std && PRINT_MACROS.contains(&name)).then(|| "standard output or error".to_owned())
            } else {
                io_path(&path, reference.kind == Kind::Glob).map(str::to_owned)
            };
            if let Some(offence) = offence {
                let resolved = path.join("::");
                let written = reference.written();
                let via =
                    if written.trim_end_matches("::*") == resolved { String::new() } else { format!(" ({resolved})") };
                problems.insert(format!(
                    "{}:{}: {written}{via}: {crate_name} does no I/O ({offence})",
                    file.path, reference.line
                ));
            }
        }
    }
    problems.into_iter().collect()
}

/// The entry of [`IO_PATHS`] that `path` names or, for a glob, may bring into scope.
fn io_path(path: &[String], glob: bool) -> Option<&'static str> {
    let path = path.join("::");
    let under = |parent: &str, child: &str| child == parent || child.starts_with(&format!("{parent}::"));
    if IO_PATH_EXCEPTIONS.iter().any(|allowed| under(allowed, &path)) {
        return None;
    }
    IO_PATHS.iter().copied().find(|forbidden| {
        let partly_allowed = IO_PATH_EXCEPTIONS.iter().any(|allowed| under(forbidden, allowed));
        // `use std::net;` is fine where some of std::net is: what is used through it is checked.
        (under(forbidden, &path) && !(path == *forbidden && partly_allowed && !glob))
            || (glob && under(&path, forbidden))
    })
}

/// Invariant: dependencies between workspace crates point one way: the graph has no circle,
/// every edge is in [`ALLOWED_DEPENDENCIES`], nothing depends on the binary or xtask, and the
/// test harness is a dev-dependency only.
pub fn dependency_direction(workspace: &Workspace) -> Vec<String> {
    let mut problems = Vec::new();
    let table: BTreeMap<&str, Allowed> = ALLOWED_DEPENDENCIES.iter().copied().collect();
    for krate in table.keys().filter(|k| !workspace.members.contains(**k)) {
        problems.push(format!("ALLOWED_DEPENDENCIES names {krate}, but the workspace has no such package"));
    }
    for member in workspace.members.iter().filter(|m| !table.contains_key(m.as_str())) {
        problems.push(format!(
            "{member} is not in ALLOWED_DEPENDENCIES: give it its place in ARCHITECTURE.md's crate graph and in \
             xtask/src/architecture/invariants.rs"
        ));
    }
    for (from, to) in workspace.internal.edges() {
        if table.get(from).is_some_and(|allowed| !allowed.allows(to)) {
            problems.push(format!(
                "{from} -> {to} is not an allowed dependency: remove it, or if it is meant, update ARCHITECTURE.md's \
                 crate graph and ALLOWED_DEPENDENCIES in xtask/src/architecture/invariants.rs"
            ));
        }
    }
    for cycle in workspace.internal.cycles() {
        problems.push(format!("the workspace crates depend on each other in a circle: {cycle}"));
    }
    for (member, dependencies) in &workspace.declared {
        for dependency in dependencies {
            if NOT_DEPENDED_ON.contains(&dependency.name.as_str()) {
                problems.push(format!(
                    "{member} depends on {} ({:?}): nothing depends on the binary or on xtask",
                    dependency.name, dependency.kind
                ));
            }
            if dependency.name == DEV_ONLY && dependency.kind != workspace::Kind::Dev {
                problems.push(format!(
                    "{member} has {DEV_ONLY} as a {:?} dependency: it is a test harness, a dev-dependency only",
                    dependency.kind
                ));
            }
        }
    }
    problems
}

/// Invariant: `portal-kube` does not depend on `portal-offline`, directly or not.
pub fn kube_does_not_use_offline(workspace: &Workspace) -> Vec<String> {
    let mut problems: Vec<String> = ["portal-kube", "portal-offline"]
        .into_iter()
        .filter(|k| !workspace.members.contains(*k))
        .map(|k| format!("there is no workspace package {k}"))
        .collect();
    if let Some(path) = workspace.normal.path("portal-kube", "portal-offline") {
        problems.push(format!("portal-kube depends on portal-offline: {}", path.join(" -> ")));
    }
    problems
}

/// Invariant: only the binary and xtask use `anyhow` (normal and build dependencies).
pub fn anyhow_only_in_binaries(workspace: &Workspace) -> Vec<String> {
    let mut problems: Vec<String> = ANYHOW_USERS
        .iter()
        .filter(|k| !workspace.members.contains(**k))
        .map(|k| format!("there is no workspace package {k}"))
        .collect();
    for (member, dependencies) in &workspace.declared {
        for dependency in dependencies {
            let linked = dependency.kind != workspace::Kind::Dev;
            if dependency.name == "anyhow" && linked && !ANYHOW_USERS.contains(&member.as_str()) {
                problems.push(format!(
                    "{member} has anyhow as a {:?} dependency: library crates have typed errors (thiserror)",
                    dependency.kind
                ));
            }
        }
    }
    problems
}

/// Invariant: the admission webhook's files (`folder`) use none of the modules that write, audit,
/// act or run rule sources, not even through a re-export.
pub fn admission_stays_stateless(krate: &Crate, folder: &str) -> Vec<String> {
    let inside = |path: &str| path.starts_with(&format!("{folder}/"));
    if !krate.sources.files.iter().any(|f| inside(&f.path)) {
        return vec![format!("there are no source files under {folder}/")];
    }
    let forbidden: Vec<Vec<String>> = ADMISSION_FORBIDDEN_MODULES
        .iter()
        .map(|m| m.trim_start_matches("crate::").split("::").map(str::to_owned).collect())
        .collect();
    let mut problems = BTreeSet::new();
    for (file, references) in krate.files().filter(|(f, _)| inside(&f.path)) {
        for reference in references {
            let Target::Internal(path) = krate.target(file, reference) else { continue };
            let defined_in = krate.locate(file.tree, &path, 0).unwrap_or_default();
            if let Some(module) = forbidden.iter().find(|m| path.starts_with(m) || defined_in.starts_with(m)) {
                problems.insert(format!(
                    "{}:{}: {} uses crate::{}: webhook replicas stay stateless (no writers, audit, actions or \
                     rule sources in admission)",
                    file.path,
                    reference.line,
                    reference.written(),
                    module.join("::")
                ));
            }
        }
    }
    problems.into_iter().collect()
}

/// Invariant: no two source files import each other, directly or in a longer circle. An edge is
/// a `use` or a path of non-test code that leads to another file of the crate (a `mod`
/// declaration is not one, so a parent and its child are no circle unless both use the other).
pub fn file_cycles(crates: &[Crate]) -> Vec<String> {
    let mut graph = Graph::default();
    let mut ties: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for krate in crates {
        for (file, references) in krate.files().filter(|(f, _)| f.declared) {
            graph.add_node(&file.path);
            for reference in references {
                let Target::Internal(path) = krate.target(file, reference) else { continue };
                let Some(target) = krate.file_of(file.tree, &path) else { continue };
                if target.path != file.path && !target.test_only {
                    graph.add_edge(&file.path, &target.path);
                    let tie = format!("{} (line {})", reference.written(), reference.line);
                    ties.entry((file.path.clone(), target.path.clone())).or_default().insert(tie);
                }
            }
        }
    }
    let mut problems = Vec::new();
    for cycle in graph.cycles() {
        let mut message = format!("files that import each other: {cycle}");
        for pair in cycle.path.windows(2) {
            let names: Vec<&str> = ties[&(pair[0].clone(), pair[1].clone())].iter().map(String::as_str).collect();
            message.push_str(&format!("\n    {} -> {}: {}", pair[0], pair[1], names.join(", ")));
        }
        problems.push(message);
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::super::sources::CrateSources;
    use super::super::workspace::{Dependency, Kind as DependencyKind};
    use super::*;

    const N: DependencyKind = DependencyKind::Normal;

    /// A workspace of the target layout, from each member's declared dependencies and the
    /// normal dependencies of other packages.
    fn workspace(members: &[(&str, &[(&str, DependencyKind)])], others: &[(&str, &[&str])]) -> Workspace {
        let mut workspace = Workspace::default();
        for (member, _) in members {
            workspace.members.insert((*member).to_owned());
            workspace.normal.add_node(member);
            workspace.internal.add_node(member);
        }
        for (member, dependencies) in members {
            let declared = dependencies.iter().map(|(name, kind)| Dependency { name: (*name).to_owned(), kind: *kind });
            workspace.declared.insert((*member).to_owned(), declared.collect());
            for (name, kind) in *dependencies {
                if *kind == N {
                    workspace.normal.add_edge(member, name);
                }
                if *kind != DependencyKind::Dev && workspace.members.contains(*name) {
                    workspace.internal.add_edge(member, name);
                }
            }
        }
        for (package, dependencies) in others {
            for dependency in *dependencies {
                workspace.normal.add_edge(package, dependency);
            }
        }
        workspace
    }

    const OTHERS: &[(&str, &[&str])] =
        &[("kube", &["kube-client", "tokio"]), ("kube-client", &["hyper"]), ("serde", &[]), ("cel", &["regex"])];

    fn good() -> Workspace {
        workspace(
            &[
                ("portal-cel", &[("cel", N), ("regex", N)]),
                ("portal-yaml", &[]),
                ("portal-rules", &[("portal-cel", N), ("portal-yaml", N), ("cel", N), ("serde", N)]),
                ("portal-report", &[("portal-rules", N), ("serde", N)]),
                ("portal-network", &[("portal-rules", N), ("serde", N)]),
                ("portal-vap", &[("portal-rules", N)]),
                ("portal-migrate", &[("portal-rules", N), ("portal-vap", N)]),
                ("portal-files", &[("portal-rules", N)]),
                ("portal-actions", &[("portal-rules", N), ("portal-metrics", N)]),
                ("portal-offline", &[("portal-rules", N), ("portal-files", N), ("portal-report", N)]),
                (
                    "portal-kube",
                    &[
                        ("portal-rules", N),
                        ("portal-files", N),
                        ("portal-report", N),
                        ("portal-config", N),
                        ("portal-metrics", N),
                        ("kube", N),
                        ("portal-testenv", DependencyKind::Dev),
                        ("anyhow", DependencyKind::Dev),
                    ],
                ),
                ("portal-config", &[("portal-yaml", N), ("serde", N)]),
                ("portal-metrics", &[]),
                ("portal-testenv", &[("kube", N)]),
                ("portal-fuzz", &[("portal-rules", N), ("portal-files", N), ("portal-kube", N)]),
                ("portal", &[("portal-kube", N), ("portal-offline", N), ("anyhow", N)]),
                ("portal-playground", &[("portal-offline", N)]),
                ("xtask", &[("anyhow", N)]),
            ],
            OTHERS,
        )
    }

    fn with(mut workspace: Workspace, from: &str, to: &str, kind: DependencyKind) -> Workspace {
        let members = workspace.members.clone();
        workspace.declared.entry(from.to_owned()).or_default().push(Dependency { name: to.to_owned(), kind });
        if kind == N {
            workspace.normal.add_edge(from, to);
        }
        if kind != DependencyKind::Dev && members.contains(from) && members.contains(to) {
            workspace.internal.add_edge(from, to);
        }
        workspace
    }

    fn without(mut workspace: Workspace, member: &str) -> Workspace {
        workspace.members.remove(member);
        workspace.declared.remove(member);
        workspace
    }

    #[track_caller]
    fn assert_reports(problems: &[String], expected: &str) {
        assert!(problems.iter().any(|p| p.contains(expected)), "expected a problem with {expected:?} in {problems:#?}");
    }

    #[test]
    fn the_target_layout_keeps_every_package_invariant() {
        let good = good();
        for problems in [
            pure_crate_dependencies(&good),
            dependency_direction(&good),
            kube_does_not_use_offline(&good),
            anyhow_only_in_binaries(&good),
        ] {
            assert!(problems.is_empty(), "{problems:#?}");
        }
    }

    #[test]
    fn pure_crate_dependencies_fail_on_a_workspace_crate_or_a_runtime() {
        let problems = pure_crate_dependencies(&with(good(), "portal-cel", "portal-config", N));
        assert_reports(&problems, "portal-cel must not depend on portal-config: portal-cel -> portal-config");
        let problems = pure_crate_dependencies(&with(good(), "portal-rules", "portal-report", N));
        assert_reports(&problems, "portal-rules must not depend on portal-report");
        let mut runtime = good();
        runtime.normal.add_edge("serde", "kube");
        let problems = pure_crate_dependencies(&runtime);
        assert_reports(&problems, "portal-rules must not depend on tokio: portal-rules -> serde -> kube -> tokio");
        assert_reports(&problems, "portal-rules must not depend on hyper");
        assert_reports(&pure_crate_dependencies(&without(good(), "portal-rules")), "no workspace package portal-rules");
    }

    #[test]
    fn dependency_direction_fails_on_an_edge_not_in_the_table() {
        let problems = dependency_direction(&with(good(), "portal-rules", "portal-files", N));
        assert_reports(&problems, "portal-rules -> portal-files is not an allowed dependency");
        assert_reports(&problems, "ARCHITECTURE.md");
        let problems = dependency_direction(&with(good(), "portal-report", "portal-metrics", DependencyKind::Build));
        assert_reports(&problems, "portal-report -> portal-metrics is not an allowed dependency");
    }

    #[test]
    fn dependency_direction_fails_on_a_circle() {
        let problems = dependency_direction(&with(good(), "portal-files", "portal-offline", N));
        assert_reports(&problems, "in a circle: portal-files -> portal-offline -> portal-files");
    }

    #[test]
    fn dependency_direction_fails_when_something_depends_on_the_binary_or_xtask() {
        let problems = dependency_direction(&with(good(), "portal-kube", "portal", DependencyKind::Dev));
        assert_reports(&problems, "portal-kube depends on portal (Dev)");
        let problems = dependency_direction(&with(good(), "portal-metrics", "xtask", DependencyKind::Build));
        assert_reports(&problems, "portal-metrics depends on xtask (Build)");
    }

    #[test]
    fn dependency_direction_fails_when_the_test_harness_is_linked() {
        let problems = dependency_direction(&with(good(), "portal-kube", "portal-testenv", N));
        assert_reports(&problems, "portal-kube has portal-testenv as a Normal dependency");
        let problems = dependency_direction(&with(good(), "portal", "portal-testenv", DependencyKind::Dev));
        assert!(problems.is_empty(), "a dev-dependency of the binary is fine: {problems:#?}");
    }

    #[test]
    fn dependency_direction_fails_on_a_package_missing_from_the_table_or_the_workspace() {
        let mut extra = good();
        extra.members.insert("portal-extra".to_owned());
        assert_reports(&dependency_direction(&extra), "portal-extra is not in ALLOWED_DEPENDENCIES");
        let problems = dependency_direction(&without(good(), "portal-files"));
        assert_reports(&problems, "ALLOWED_DEPENDENCIES names portal-files, but the workspace has no such package");
    }

    #[test]
    fn kube_does_not_use_offline_fails_on_a_direct_or_indirect_dependency() {
        let problems = kube_does_not_use_offline(&with(good(), "portal-kube", "portal-offline", N));
        assert_eq!(problems, ["portal-kube depends on portal-offline: portal-kube -> portal-offline"]);
        let problems = kube_does_not_use_offline(&with(good(), "portal-files", "portal-offline", N));
        assert_eq!(problems, ["portal-kube depends on portal-offline: portal-kube -> portal-files -> portal-offline"]);
        assert_reports(&kube_does_not_use_offline(&without(good(), "portal-offline")), "no workspace package");
    }

    #[test]
    fn anyhow_only_in_binaries_fails_on_a_library_with_anyhow() {
        let problems = anyhow_only_in_binaries(&with(good(), "portal-config", "anyhow", N));
        assert_eq!(
            problems,
            ["portal-config has anyhow as a Normal dependency: library crates have typed errors (thiserror)"]
        );
        let problems = anyhow_only_in_binaries(&with(good(), "portal-metrics", "anyhow", DependencyKind::Build));
        assert_reports(&problems, "portal-metrics has anyhow as a Build dependency");
        assert_reports(&anyhow_only_in_binaries(&without(good(), "xtask")), "no workspace package xtask");
    }

    fn parse(files: &[(&str, &str)]) -> Crate {
        let texts = files.iter().map(|(p, t)| ((*p).to_owned(), (*t).to_owned())).collect();
        Crate::new(CrateSources::from_texts("crates/demo", texts).unwrap())
    }

    /// Every way of naming an I/O path is reported with its line; what is not I/O is not.
    #[test]
    fn io_offences_are_found_however_they_are_written() {
        let offending = "\
use std::{fs};
use std::{self as s, io::Read};
use std::fs as f;
use std::process::*;
use std::io::*;
fn a() { let _ = std::env::var(\"X\"); }
fn b() { let _ = ::std::process::Command::new(\"ls\"); }
fn c() { use std::io; let _ = io::stdin(); }
fn d() { let _ = s::net::TcpStream::connect(\"x\"); }
fn e() { println!(\"{}\", 1); }
fn f() -> String { format!(\"{:?}\", std::env::args()) }
fn g() { tokio::spawn(async {}); }
use std::net::{Ipv4Addr, TcpListener};
";
        let problems = io_offences("demo", &parse(&[("src/lib.rs", offending)]));
        let places: BTreeSet<String> = problems.iter().map(|p| p.split(": ").next().unwrap().to_owned()).collect();
        let expected: BTreeSet<String> =
            [1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13].map(|line| format!("crates/demo/src/lib.rs:{line}")).into();
        assert_eq!(places, expected, "{problems:#?}");
        assert_reports(&problems, "crates/demo/src/lib.rs:1: std::fs: demo does no I/O (std::fs)");
        assert_reports(&problems, "crates/demo/src/lib.rs:8: io::stdin (std::io::stdin)");
        assert_reports(
            &problems,
            "crates/demo/src/lib.rs:9: s::net::TcpStream::connect (std::net::TcpStream::connect)",
        );
        assert_reports(&problems, "crates/demo/src/lib.rs:13: std::net::TcpListener");
        assert!(!problems.iter().any(|p| p.contains("Ipv4Addr")), "{problems:#?}");
    }

    #[test]
    fn io_offences_leave_out_pure_code_and_tests() {
        let clean = "\
use std::fmt::{self, Write as _};
use std::io::Read;
use std::net::{self, IpAddr};
fn a(x: &[u8]) -> Option<net::Ipv6Addr> { let _ = x.bytes(); None }
#[cfg(test)]
mod tests { use std::fs; fn t() { println!(\"{:?}\", std::fs::read(\"x\")); } }
#[test]
fn t() { let _ = std::env::var(\"X\"); }
#[cfg(all(test, unix))]
use std::process::Command;
#[cfg(test)]
mod more;
";
        let problems = io_offences(
            "demo",
            &parse(&[("src/lib.rs", clean), ("src/more.rs", "fn m() { std::fs::read(\"x\").ok(); }")]),
        );
        assert!(problems.is_empty(), "{problems:#?}");
        // A file nothing declares is read all the same.
        let problems = io_offences("demo", &parse(&[("src/lib.rs", ""), ("src/stray.rs", "use std::fs::File;")]));
        assert_eq!(problems, ["crates/demo/src/stray.rs:1: std::fs::File: demo does no I/O (std::fs)"]);
    }

    const KUBE_LIB: &str = "pub mod admission; pub mod sources; pub mod writers; pub use sources::RuleSources;";

    #[test]
    fn admission_stays_stateless_fails_on_any_path_to_a_forbidden_module() {
        let krate = parse(&[
            ("src/lib.rs", KUBE_LIB),
            ("src/sources.rs", "pub struct RuleSources;"),
            ("src/writers.rs", "pub fn write() {}"),
            ("src/admission/mod.rs", "pub mod decide; pub mod server;"),
            ("src/admission/decide.rs", "use crate::sources::RuleSources;\nfn f() { super::super::writers::write(); }"),
            (
                "src/admission/server.rs",
                "use crate::RuleSources;\nfn g() { crate::audit::run(); }\nuse crate::{actions};",
            ),
        ]);
        let problems = admission_stays_stateless(&krate, "crates/demo/src/admission");
        let places: Vec<&str> = problems.iter().map(|p| p.split(": ").next().unwrap()).collect();
        assert_eq!(
            places,
            [
                "crates/demo/src/admission/decide.rs:1",
                "crates/demo/src/admission/decide.rs:2",
                "crates/demo/src/admission/server.rs:1",
                "crates/demo/src/admission/server.rs:2",
                "crates/demo/src/admission/server.rs:3",
            ],
            "{problems:#?}"
        );
        assert_reports(&problems, "decide.rs:2: super::super::writers::write uses crate::writers");
        assert_reports(&problems, "server.rs:1: crate::RuleSources uses crate::sources");
    }

    #[test]
    fn admission_stays_stateless_passes_clean_code_and_fails_without_the_folder() {
        let krate = parse(&[
            ("src/lib.rs", KUBE_LIB),
            ("src/sources.rs", "pub struct RuleSources;"),
            ("src/writers.rs", ""),
            ("src/admission/mod.rs", "mod decide; use decide::decide;"),
            (
                "src/admission/decide.rs",
                "pub fn decide(sources: &[u8]) -> usize { let writers = sources.len(); writers }",
            ),
        ]);
        assert_eq!(admission_stays_stateless(&krate, "crates/demo/src/admission"), Vec::<String>::new());
        assert_eq!(
            admission_stays_stateless(&krate, "crates/demo/src/webhook"),
            ["there are no source files under crates/demo/src/webhook/"]
        );
    }

    #[test]
    fn file_cycles_fail_on_files_that_import_each_other() {
        let krate = parse(&[
            ("src/lib.rs", "mod sources;"),
            ("src/sources/mod.rs", "mod cluster; mod status;"),
            ("src/sources/cluster.rs", "use super::status::{desired_status, same};\npub struct RuleResource;"),
            ("src/sources/status.rs", "pub fn desired_status() {}\npub fn same(r: &super::cluster::RuleResource) {}"),
        ]);
        let problems = file_cycles(&[krate]);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!(
            problems[0],
            "files that import each other: crates/demo/src/sources/cluster.rs -> crates/demo/src/sources/status.rs -> \
             crates/demo/src/sources/cluster.rs\n    \
             crates/demo/src/sources/cluster.rs -> crates/demo/src/sources/status.rs: super::status::desired_status (line 1), \
             super::status::same (line 1)\n    \
             crates/demo/src/sources/status.rs -> crates/demo/src/sources/cluster.rs: super::cluster::RuleResource (line 2)"
        );
    }

    #[test]
    fn file_cycles_follow_re_exports_and_longer_circles() {
        // a -> c through lib.rs's re-export, c -> b, b -> a: one circle of three files.
        let krate = parse(&[
            ("src/lib.rs", "mod a; mod b; mod c; pub use c::C;"),
            ("src/a.rs", "use crate::C;"),
            ("src/b.rs", "pub fn b() { crate::a::f(); }"),
            ("src/c.rs", "pub struct C;\nfn g() { crate::b::b() }"),
        ]);
        let problems = file_cycles(&[krate]);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(
            problems[0].starts_with(
                "files that import each other: crates/demo/src/a.rs -> crates/demo/src/c.rs -> crates/demo/src/b.rs -> \
                 crates/demo/src/a.rs"
            ),
            "{problems:#?}"
        );
    }

    #[test]
    fn file_cycles_pass_parents_children_and_re_exports_that_run_one_way() {
        let krate = parse(&[
            // The parent re-exports and uses its children; children use what the parent
            // re-exports of their siblings, which leads to the sibling, not to the parent.
            (
                "src/lib.rs",
                "mod error; mod load; mod sources; pub use error::Error; pub use load::load; fn f() { load::load(); }",
            ),
            ("src/error.rs", "pub struct Error;"),
            ("src/load.rs", "use crate::Error;\npub fn load() -> Result<(), super::Error> { Ok(()) }"),
            // A child that uses its parent's own item is child -> parent only.
            ("src/sources/mod.rs", "mod cluster; pub struct Settings;"),
            ("src/sources/cluster.rs", "use super::Settings;"),
        ]);
        let problems = file_cycles(&[krate]);
        assert!(problems.is_empty(), "{problems:#?}");
        // But a parent that defines an item its child uses, and uses the child, is a circle.
        let krate = parse(&[
            ("src/main.rs", "mod dist;\npub fn project_root() {}\nfn main() { dist::main() }"),
            ("src/dist.rs", "use crate::project_root;\npub fn main() { project_root() }"),
        ]);
        let problems = file_cycles(&[krate]);
        assert_reports(&problems, "crates/demo/src/dist.rs -> crates/demo/src/main.rs -> crates/demo/src/dist.rs");
        let krate = parse(&[
            ("src/lib.rs", "mod a; mod b;\n#[cfg(test)]\nmod tests { use crate::a::A; }"),
            ("src/a.rs", "pub struct A; #[cfg(test)] fn t() { crate::b::b(); }"),
            ("src/b.rs", "pub fn b() { let _ = crate::a::A; }"),
        ]);
        assert_eq!(file_cycles(&[krate]), Vec::<String>::new());
    }
}
