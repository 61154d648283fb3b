//! The workspace's packages and who depends on whom, read from `cargo metadata` (host platform
//! only, every feature on, so that an optional dependency counts too).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use super::graph::Graph;
use crate::cmd::{cargo_command, stdout_of};

/// What `cargo metadata` says about the workspace.
#[derive(Debug, Default, Clone)]
pub struct Workspace {
    /// The workspace members' package names.
    pub members: BTreeSet<String>,
    /// Each member's dependencies as its `Cargo.toml` declares them (`packages[].dependencies`):
    /// every kind, every target.
    pub declared: BTreeMap<String, Vec<Dependency>>,
    /// The resolved graph of normal dependencies of every package, members or not.
    pub normal: Graph,
    /// The resolved graph between members only, over normal and build dependencies.
    pub internal: Graph,
}

/// A declared dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The package's name (not the name it is renamed to).
    pub name: String,
    pub kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Normal,
    Dev,
    Build,
}

impl Kind {
    fn of(value: &Value) -> Result<Self> {
        Ok(match value.as_str() {
            None => Self::Normal,
            Some("dev") => Self::Dev,
            Some("build") => Self::Build,
            Some(other) => bail!("unknown dependency kind {other:?}"),
        })
    }
}

impl Workspace {
    /// Runs `cargo metadata` in `root` for the host platform (`XTASK_HOST`, from build.rs).
    pub fn load(root: &Path) -> Result<Self> {
        let metadata = stdout_of(
            cargo_command()
                .args(["metadata", "--format-version", "1", "--locked", "--all-features"])
                .args(["--filter-platform", env!("XTASK_HOST")])
                .current_dir(root),
        )?;
        let metadata: Value = serde_json::from_str(&metadata).context("parsing cargo metadata")?;
        Self::from_metadata(&metadata)
    }

    /// Reads `cargo metadata --format-version 1` output.
    pub fn from_metadata(metadata: &Value) -> Result<Self> {
        let packages = metadata["packages"].as_array().context("cargo metadata has no packages")?;
        let names: BTreeMap<&str, &str> =
            packages.iter().filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?))).collect();
        let name_of = |id: &Value| -> Result<String> {
            let id = id.as_str().context("a package id is not a string")?;
            Ok(names.get(id).with_context(|| format!("no package has the id {id}"))?.to_string())
        };
        let mut workspace = Self::default();
        for id in metadata["workspace_members"].as_array().context("cargo metadata has no workspace_members")? {
            workspace.members.insert(name_of(id)?);
        }
        ensure!(!workspace.members.is_empty(), "cargo metadata lists no workspace member");
        for package in packages {
            let name = package["name"].as_str().context("a package without a name")?;
            if !workspace.members.contains(name) {
                continue;
            }
            let mut declared = Vec::new();
            for dependency in package["dependencies"].as_array().into_iter().flatten() {
                let dependency_name = dependency["name"].as_str().context("a dependency without a name")?;
                declared.push(Dependency { name: dependency_name.to_owned(), kind: Kind::of(&dependency["kind"])? });
            }
            workspace.declared.insert(name.to_owned(), declared);
        }
        let nodes = metadata["resolve"]["nodes"].as_array().context("cargo metadata has no resolve graph")?;
        for node in nodes {
            let from = name_of(&node["id"])?;
            workspace.normal.add_node(&from);
            if workspace.members.contains(&from) {
                workspace.internal.add_node(&from);
            }
            for dependency in node["deps"].as_array().into_iter().flatten() {
                let to = name_of(&dependency["pkg"])?;
                let mut kinds = Vec::new();
                for kind in dependency["dep_kinds"].as_array().into_iter().flatten() {
                    kinds.push(Kind::of(&kind["kind"])?);
                }
                if kinds.contains(&Kind::Normal) {
                    workspace.normal.add_edge(&from, &to);
                }
                let linked = kinds.contains(&Kind::Normal) || kinds.contains(&Kind::Build);
                if linked && workspace.members.contains(&from) && workspace.members.contains(&to) {
                    workspace.internal.add_edge(&from, &to);
                }
            }
        }
        Ok(workspace)
    }
}
