//! `cargo xtask sbom`: CycloneDX 1.6 JSON software bills of materials (SPEC §11).
//!
//! - `<target dir>/dist/portal.cdx.json`: the `portal` binary for [`TARGET`];
//! - `<target dir>/dist/portal-image.cdx.json`: the OCI image: the same, plus the image itself
//!   and the crate `webpki-root-certs` (Mozilla's root store) its CA bundle comes from.
//!
//! **What is listed**: exactly the packages compiled into the binary. From `cargo metadata
//! --filter-platform TARGET`, the resolve graph is walked from `portal` over normal dependencies
//! only, and only over edges the feature resolution activates (cargo metadata's `resolve` also
//! lists optional dependencies that are merely named by a weak `dep?/feature`, e.g. `yasna`'s
//! `bit-vec`; an optional dependency counts only when an enabled feature of its dependent names
//! `dep:NAME` or `NAME/…`). Left out, because none of their code ends up in the binary:
//! build-dependencies (build scripts run on the build machine) and proc-macro crates (they run
//! inside the compiler), with whatever only they depend on. Not listed either, since they are
//! not Cargo packages: the Rust standard library and musl's libc that the toolchain links in
//! statically (the `rustc` version is recorded as a property of the BOM).
//!
//! Each crates.io package has its purl `pkg:cargo/NAME@VERSION`, the SHA-256 of its `.crate`
//! from Cargo.lock, its download URL and its `license` as an SPDX expression (the old `A/B`
//! spelling read as `A OR B`, as cargo documents). Workspace crates have no checksum; their purl
//! carries a `vcs_url` qualifier with the repository and commit, so that nobody looks them up
//! on crates.io. `dependencies[]` is the graph between them. `metadata.timestamp` is the HEAD
//! commit time (`SOURCE_DATE_EPOCH`) and there is no random `serialNumber`, so the same commit
//! gives the same files; the binary's SHA-256 and the image's manifest digest are added when
//! `cargo xtask dist` / `cargo xtask image` output is in the dist directory (run those first).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

use crate::checksum::{CHECKSUMS, sha256_hex, write_checksums};
use crate::cmd::{cargo_command, stdout_of};
use crate::date::rfc3339;
use crate::dist::{Release, TARGET};
use crate::project::{project_root, target_dir};

/// The binary SBOM, in the dist directory.
pub const BINARY_SBOM: &str = "portal.cdx.json";
/// The image SBOM, in the dist directory.
pub const IMAGE_SBOM: &str = "portal-image.cdx.json";

const SPEC_VERSION: &str = "1.6";
const CRATES_IO: &str = "registry+https://github.com/rust-lang/crates.io-index";
use crate::ca_bundle::{CA_CRATE, CA_LICENSE, LockedCaCrate};
use crate::image::CA_VERSION_KEY as CA_VERSION_ANNOTATION;

/// `cargo xtask sbom`.
pub fn main(args: &[String]) -> Result<()> {
    if let Some(other) = args.first() {
        bail!("cargo xtask sbom: unknown argument {other:?}; it takes none");
    }
    let release = Release::read()?;
    let dir = target_dir().join("dist");
    let graph = Graph::compiled_into_portal(&cargo_metadata()?)?;
    let checksums = crate::lockfile::checksums(&fs::read_to_string(project_root().join("Cargo.lock"))?)?;
    let rustc = stdout_of(Command::new("rustc").arg("--version"))?.trim().to_owned();

    let binary = dir.join("portal");
    let binary_sha256 = match fs::read(&binary) {
        Ok(bytes) => Some(sha256_hex(&bytes)),
        Err(_) => {
            eprintln!("note: no {} (cargo xtask dist): the SBOMs carry no hash of the binary", binary.display());
            None
        }
    };
    let image = read_image(&dir.join("oci"))?;
    let ca = LockedCaCrate::of(&checksums)?;
    if let Some(image) = &image {
        ensure!(
            image.ca_version == ca.version,
            "the image in {} holds {CA_CRATE} {} but Cargo.lock has {}: rebuild it with `cargo xtask image`",
            dir.display(),
            image.ca_version,
            ca.version
        );
    } else {
        eprintln!("note: no image in {} (cargo xtask image): the image SBOM carries no image digest", dir.display());
    }

    let input = Input { release: &release, graph: &graph, checksums: &checksums, rustc: &rustc, binary_sha256 };
    let binary_bom = binary_bom(&input)?;
    let image_bom = image_bom(&input, image.as_ref().map(|i| i.digest.as_str()), &ca)?;
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, bom) in [(BINARY_SBOM, &binary_bom), (IMAGE_SBOM, &image_bom)] {
        let path = dir.join(name);
        fs::write(&path, to_pretty_json(bom)?).with_context(|| format!("writing {}", path.display()))?;
        let count = bom["components"].as_array().map_or(0, Vec::len);
        println!("sbom: {} (CycloneDX {SPEC_VERSION}, {count} components)", path.display());
    }
    // SHA256SUMS covers every file in the dist directory, the SBOMs included.
    if dir.join(CHECKSUMS).exists() {
        write_checksums(&dir)?;
    }
    Ok(())
}

/// `cargo metadata` for the release target.
fn cargo_metadata() -> Result<Value> {
    let text = stdout_of(cargo_command().args([
        "metadata",
        "--format-version",
        "1",
        "--locked",
        "--filter-platform",
        TARGET,
    ]))?;
    serde_json::from_str(&text).context("parsing `cargo metadata`")
}

/// A package of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Package {
    name: String,
    version: String,
    /// `None` for workspace (path) packages.
    source: Option<String>,
    license: Option<String>,
}

/// The packages compiled into the binary and the dependency edges between them, by package id.
#[derive(Debug)]
struct Graph {
    root: String,
    packages: BTreeMap<String, Package>,
    edges: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    /// The subgraph of `cargo metadata` output compiled into the `portal` package's binary.
    fn compiled_into_portal(metadata: &Value) -> Result<Self> {
        let packages: BTreeMap<&str, &Value> = metadata["packages"]
            .as_array()
            .context("cargo metadata without packages")?
            .iter()
            .filter_map(|p| Some((p["id"].as_str()?, p)))
            .collect();
        let nodes: BTreeMap<&str, &Value> = metadata["resolve"]["nodes"]
            .as_array()
            .context("cargo metadata without resolve (run without --no-deps)")?
            .iter()
            .filter_map(|n| Some((n["id"].as_str()?, n)))
            .collect();
        let root = metadata["workspace_members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .find(|id| packages.get(id).is_some_and(|p| p["name"] == "portal"))
            .context("the workspace has no package named portal")?
            .to_owned();

        let mut graph = Self { root: root.clone(), packages: BTreeMap::new(), edges: BTreeMap::new() };
        let mut stack = vec![root];
        while let Some(id) = stack.pop() {
            if graph.packages.contains_key(&id) {
                continue;
            }
            let package = packages.get(id.as_str()).with_context(|| format!("no package {id} in cargo metadata"))?;
            let node = nodes.get(id.as_str()).with_context(|| format!("no resolve node for {id}"))?;
            graph.packages.insert(id.clone(), package_of(package)?);
            let mut deps = BTreeSet::new();
            for dep in node["deps"].as_array().into_iter().flatten() {
                let dep_id = dep["pkg"].as_str().context("resolve dependency without pkg")?;
                let dep_package = packages.get(dep_id).with_context(|| format!("no package {dep_id}"))?;
                let normal = dep["dep_kinds"].as_array().into_iter().flatten().any(|kind| kind["kind"].is_null());
                if normal && !is_proc_macro(dep_package) && is_activated(package, node, dep_package) {
                    deps.insert(dep_id.to_owned());
                    stack.push(dep_id.to_owned());
                }
            }
            graph.edges.insert(id, deps);
        }
        Ok(graph)
    }
}

fn package_of(value: &Value) -> Result<Package> {
    let text = |key: &str| value[key].as_str().map(str::to_owned);
    let name = text("name").context("package without name")?;
    let source = text("source");
    if let Some(source) = &source {
        ensure!(source == CRATES_IO, "{name} comes from {source}: only crates.io packages are supported (deny.toml)");
    }
    Ok(Package { version: text("version").context("package without version")?, source, license: text("license"), name })
}

/// A proc-macro crate runs inside the compiler; none of it is linked into the binary.
fn is_proc_macro(package: &Value) -> bool {
    package["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|target| target["kind"].as_array().into_iter().flatten().any(|kind| kind == "proc-macro"))
}

/// Whether `dependent` really uses `dependency`: a non-optional normal dependency, or an optional
/// one that an enabled feature of `dependent` turns on (`dep:NAME`, or `NAME/feature` without `?`;
/// the implicit feature of an optional dependency is `NAME = ["dep:NAME"]` in cargo metadata).
fn is_activated(dependent: &Value, node: &Value, dependency: &Value) -> bool {
    let declarations: Vec<&Value> = dependent["dependencies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["name"] == dependency["name"] && d["kind"].is_null())
        .collect();
    if declarations.iter().any(|d| d["optional"] != true) {
        return true;
    }
    let enabled: Vec<&str> = node["features"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    declarations.iter().any(|declaration| {
        let key = declaration["rename"].as_str().or_else(|| declaration["name"].as_str()).unwrap_or_default();
        enabled.iter().any(|feature| {
            dependent["features"][*feature].as_array().into_iter().flatten().filter_map(Value::as_str).any(|item| {
                item.strip_prefix("dep:") == Some(key) || item.split_once('/').is_some_and(|(name, _)| name == key)
            })
        })
    })
}

/// `license` as an SPDX expression: cargo's deprecated `MIT/Apache-2.0` means `MIT OR Apache-2.0`.
fn spdx_expression(license: &str) -> String {
    if license.contains('/') {
        license.split('/').map(str::trim).collect::<Vec<_>>().join(" OR ")
    } else {
        license.trim().to_owned()
    }
}

/// Percent-encodes a purl qualifier value (everything but unreserved characters).
fn purl_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// What both BOMs are made from.
#[derive(Debug)]
struct Input<'a> {
    release: &'a Release,
    graph: &'a Graph,
    checksums: &'a BTreeMap<(String, String), String>,
    /// `rustc --version`.
    rustc: &'a str,
    /// The SHA-256 of `dist/portal`, when built.
    binary_sha256: Option<String>,
}

impl Input<'_> {
    fn purl(&self, package: &Package) -> String {
        let base = format!("pkg:cargo/{}@{}", package.name, package.version);
        match package.source {
            Some(_) => base,
            None => {
                let vcs = format!("git+{}@{}", self.release.repository, self.release.revision);
                format!("{base}?vcs_url={}", purl_encode(&vcs))
            }
        }
    }

    fn component(&self, package: &Package, kind: &str) -> Result<Value> {
        let purl = self.purl(package);
        let mut component = json!({
            "type": kind,
            "bom-ref": purl,
            "name": package.name,
            "version": package.version,
            "purl": purl,
        });
        match &package.license {
            Some(license) => component["licenses"] = json!([{ "expression": spdx_expression(license) }]),
            None => eprintln!("warning: {} {} declares no SPDX license", package.name, package.version),
        }
        if package.source.is_some() {
            let key = (package.name.clone(), package.version.clone());
            let checksum = self
                .checksums
                .get(&key)
                .with_context(|| format!("Cargo.lock has no checksum for {} {}", package.name, package.version))?;
            component["hashes"] = json!([{ "alg": "SHA-256", "content": checksum }]);
            component["externalReferences"] = json!([{
                "type": "distribution",
                "url": format!("https://crates.io/api/v1/crates/{}/{}/download", package.name, package.version),
                "comment": "the .crate file the SHA-256 is of",
            }]);
        }
        Ok(component)
    }

    /// The `portal` application component.
    fn portal(&self) -> Result<Value> {
        let root = &self.graph.packages[&self.graph.root];
        let mut portal = self.component(root, "application")?;
        portal["description"] = json!(format!("the portal binary for {TARGET}"));
        portal["externalReferences"] = json!([{ "type": "vcs", "url": self.release.repository }]);
        if let Some(sha256) = &self.binary_sha256 {
            portal["hashes"] = json!([{ "alg": "SHA-256", "content": sha256 }]);
        }
        Ok(portal)
    }

    /// Every package but the root, as components, in purl order.
    fn crate_components(&self) -> Result<Vec<Value>> {
        let mut components = self
            .graph
            .packages
            .iter()
            .filter(|(id, _)| **id != self.graph.root)
            .map(|(_, package)| self.component(package, "library"))
            .collect::<Result<Vec<_>>>()?;
        components.sort_by(|a, b| a["bom-ref"].as_str().cmp(&b["bom-ref"].as_str()));
        Ok(components)
    }

    /// `dependencies[]` of the crate graph, in ref order.
    fn crate_dependencies(&self) -> Vec<Value> {
        let reference = |id: &String| self.purl(&self.graph.packages[id]);
        let mut dependencies: Vec<Value> = self
            .graph
            .edges
            .iter()
            .map(|(id, deps)| {
                let mut depends_on: Vec<String> = deps.iter().map(reference).collect();
                depends_on.sort();
                json!({ "ref": reference(id), "dependsOn": depends_on })
            })
            .collect();
        dependencies.sort_by(|a, b| a["ref"].as_str().cmp(&b["ref"].as_str()));
        dependencies
    }

    fn metadata(&self, component: Value) -> Value {
        json!({
            "timestamp": rfc3339(self.release.source_date_epoch),
            "lifecycles": [{ "phase": "build" }],
            "tools": { "components": [{
                "type": "application",
                "name": "cargo xtask sbom",
                "description": "Portal's own SBOM generator (xtask/src/sbom.rs), from cargo metadata and Cargo.lock",
            }] },
            "component": component,
            "properties": [
                { "name": "portal:target", "value": TARGET },
                { "name": "portal:revision", "value": self.release.revision },
                { "name": "portal:rustc", "value": self.rustc },
            ],
        })
    }
}

fn bom(metadata: Value, components: Vec<Value>, dependencies: Vec<Value>) -> Value {
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "version": 1,
        "metadata": metadata,
        "components": components,
        "dependencies": dependencies,
    })
}

/// The BOM of the binary: `portal` is the subject (`metadata.component`), its crates the components.
fn binary_bom(input: &Input<'_>) -> Result<Value> {
    Ok(bom(input.metadata(input.portal()?), input.crate_components()?, input.crate_dependencies()))
}

/// The BOM of the image: the image is the subject; the binary, its crates and the crate of the
/// CA bundle are the components.
fn image_bom(input: &Input<'_>, image_digest: Option<&str>, ca: &LockedCaCrate) -> Result<Value> {
    let release = input.release;
    let mut image = json!({
        "type": "container",
        "bom-ref": "portal-image",
        "name": "portal",
        "version": release.version,
        "description": "the Portal OCI image written by cargo xtask image",
        "externalReferences": [{ "type": "vcs", "url": release.repository }],
    });
    if let Some(digest) = image_digest {
        image["purl"] = json!(format!("pkg:oci/portal@{}", purl_encode(digest)));
        image["hashes"] = json!([{ "alg": "SHA-256", "content": digest.trim_start_matches("sha256:") }]);
    }
    let portal = input.portal()?;
    let portal_ref = portal["bom-ref"].clone();
    let ca_purl = format!("pkg:cargo/{CA_CRATE}@{}", ca.version);
    let mut ca_component = json!({
        "type": "data",
        "bom-ref": format!("{ca_purl}#ca-bundle"),
        "name": CA_CRATE,
        "version": ca.version,
        "purl": ca_purl,
        "licenses": [{ "expression": CA_LICENSE }],
        "description": "Mozilla's root store, written by cargo xtask image as the PEM bundle /etc/ssl/certs/ca-certificates.crt",
        "properties": [
            { "name": "portal:image-path", "value": "/etc/ssl/certs/ca-certificates.crt" },
            { "name": "portal:license-file", "value": "/licenses/webpki-root-certs/LICENSE" },
        ],
    });
    if let Some(checksum) = &ca.checksum {
        ca_component["hashes"] = json!([{ "alg": "SHA-256", "content": checksum }]);
    }
    let ca_purl = ca_component["bom-ref"].as_str().unwrap_or_default().to_owned();
    let ca = ca_component;
    let mut components = vec![portal, ca];
    components.extend(input.crate_components()?);
    let mut dependencies = vec![
        json!({ "ref": "portal-image", "dependsOn": [portal_ref, ca_purl] }),
        json!({ "ref": ca_purl, "dependsOn": [] }),
    ];
    dependencies.extend(input.crate_dependencies());
    Ok(bom(input.metadata(image), components, dependencies))
}

/// What the SBOM needs from an image written by `cargo xtask image`.
#[derive(Debug)]
struct ImageFacts {
    /// `sha256:…` of the manifest.
    digest: String,
    ca_version: String,
}

/// Reads the OCI layout at `layout`, if there is one.
fn read_image(layout: &Path) -> Result<Option<ImageFacts>> {
    let index_path = layout.join("index.json");
    let Ok(text) = fs::read_to_string(&index_path) else { return Ok(None) };
    let index: Value = serde_json::from_str(&text).with_context(|| format!("parsing {}", index_path.display()))?;
    let digest = index["manifests"][0]["digest"].as_str().context("index.json without a manifest digest")?;
    let ca_version = index["annotations"][CA_VERSION_ANNOTATION]
        .as_str()
        .with_context(|| format!("{} has no {CA_VERSION_ANNOTATION} annotation", index_path.display()))?;
    Ok(Some(ImageFacts { digest: digest.to_owned(), ca_version: ca_version.to_owned() }))
}

fn to_pretty_json(value: &Value) -> Result<String> {
    Ok(serde_json::to_string_pretty(value)? + "\n")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn release() -> Release {
        Release::example()
    }

    /// Both BOMs of the real workspace, with fixed release facts.
    fn boms() -> (Value, Value) {
        let graph = Graph::compiled_into_portal(&cargo_metadata().unwrap()).unwrap();
        let checksums =
            crate::lockfile::checksums(&fs::read_to_string(project_root().join("Cargo.lock")).unwrap()).unwrap();
        let release = release();
        let input = Input {
            release: &release,
            graph: &graph,
            checksums: &checksums,
            rustc: "rustc 1.95.0",
            binary_sha256: Some("ab".repeat(32)),
        };
        let digest = format!("sha256:{}", "cd".repeat(32));
        let ca = LockedCaCrate { version: "1.0.11".to_owned(), checksum: Some("ef".repeat(32)) };
        (binary_bom(&input).unwrap(), image_bom(&input, Some(&digest), &ca).unwrap())
    }

    /// `name version` of every package cargo's own resolver builds into portal for the target:
    /// `cargo tree` with normal edges, proc-macros left out (with what only they pull in).
    fn cargo_tree_packages() -> BTreeSet<String> {
        let tree = stdout_of(cargo_command().args([
            "tree",
            "--locked",
            "-p",
            "portal",
            "--target",
            TARGET,
            "-e",
            "normal,no-proc-macro",
            "--prefix",
            "none",
        ]))
        .unwrap();
        tree.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let mut words = line.split_whitespace();
                let (name, version) = (words.next().unwrap(), words.next().unwrap());
                format!("{name} {}", version.strip_prefix('v').unwrap())
            })
            .collect()
    }

    #[test]
    fn sbom_lists_exactly_the_crates_compiled_into_the_binary() {
        let (binary, image) = boms();
        let root = &binary["metadata"]["component"];
        let mut listed: BTreeSet<String> = binary["components"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| format!("{} {}", c["name"].as_str().unwrap(), c["version"].as_str().unwrap()))
            .collect();
        assert_eq!(listed.len(), binary["components"].as_array().unwrap().len(), "a package is listed twice");
        listed.insert(format!("{} {}", root["name"].as_str().unwrap(), root["version"].as_str().unwrap()));
        let expected = cargo_tree_packages();
        let missing: Vec<_> = expected.difference(&listed).collect();
        let extra: Vec<_> = listed.difference(&expected).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "missing from the SBOM: {missing:?}; not in the binary: {extra:?}"
        );
        // Sanity: the graph is the real one, not empty, and no proc-macro or build tool slipped in.
        assert!(listed.len() > 100, "{} packages", listed.len());
        for host_only in ["serde_derive", "syn", "proc-macro2", "cc", "thiserror-impl"] {
            assert!(!listed.iter().any(|p| p.split(' ').next() == Some(host_only)), "{host_only} is listed");
        }
        for linked in ["serde", "tokio", "rustls", "ring", "kube-client"] {
            assert!(listed.iter().any(|p| p.split(' ').next() == Some(linked)), "{linked} is missing");
        }
        // The image lists the same crates, plus portal itself and the CA package.
        assert_eq!(image["components"].as_array().unwrap().len(), binary["components"].as_array().unwrap().len() + 2);
    }

    #[test]
    fn every_component_has_purl_version_checksum_and_license() {
        let (binary, _) = boms();
        let lock = crate::lockfile::checksums(&fs::read_to_string(project_root().join("Cargo.lock")).unwrap()).unwrap();
        for component in binary["components"].as_array().unwrap() {
            let (name, version) = (component["name"].as_str().unwrap(), component["version"].as_str().unwrap());
            let purl = component["purl"].as_str().unwrap();
            assert_eq!(component["bom-ref"], component["purl"]);
            assert_eq!(component["type"], "library");
            let license =
                component["licenses"][0]["expression"].as_str().unwrap_or_else(|| panic!("{name}: no license"));
            assert!(!license.contains('/') && !license.is_empty(), "{name}: {license:?} is not an SPDX expression");
            match lock.get(&(name.to_owned(), version.to_owned())) {
                Some(checksum) => {
                    assert_eq!(purl, format!("pkg:cargo/{name}@{version}"));
                    assert_eq!(component["hashes"], json!([{ "alg": "SHA-256", "content": checksum }]), "{name}");
                }
                None => {
                    // A workspace crate: no checksum, a purl that points at the repository.
                    assert!(name.starts_with("portal-"), "{name} {version} has no checksum in Cargo.lock");
                    assert!(
                        purl.starts_with(&format!(
                            "pkg:cargo/{name}@{version}?vcs_url=git%2Bhttps%3A%2F%2Fgithub.com%2F"
                        )),
                        "{purl}"
                    );
                    assert!(component.get("hashes").is_none());
                }
            }
        }
    }

    #[test]
    fn metadata_and_dependency_graph_are_complete() {
        let (binary, image) = boms();
        for bom in [&binary, &image] {
            assert_eq!(bom["bomFormat"], "CycloneDX");
            assert_eq!(bom["specVersion"], "1.6");
            assert_eq!(bom["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
            let mut refs: BTreeSet<&str> =
                bom["components"].as_array().unwrap().iter().map(|c| c["bom-ref"].as_str().unwrap()).collect();
            refs.insert(bom["metadata"]["component"]["bom-ref"].as_str().unwrap());
            let dependencies = bom["dependencies"].as_array().unwrap();
            let described: BTreeSet<&str> = dependencies.iter().map(|d| d["ref"].as_str().unwrap()).collect();
            assert_eq!(described, refs, "every component, and only those, has a dependencies entry");
            for dependency in dependencies {
                for target in dependency["dependsOn"].as_array().unwrap() {
                    assert!(refs.contains(target.as_str().unwrap()), "dangling {target}");
                }
            }
        }
        let portal = &binary["metadata"]["component"];
        assert_eq!(portal["type"], "application");
        assert_eq!(portal["name"], "portal");
        assert_eq!(portal["version"], "0.1.0");
        assert_eq!(portal["licenses"], json!([{ "expression": "Apache-2.0" }]));
        assert_eq!(portal["hashes"][0]["content"], "ab".repeat(32));
        // portal's direct dependencies include its workspace crates.
        let portal_deps =
            binary["dependencies"].as_array().unwrap().iter().find(|d| d["ref"] == portal["bom-ref"]).unwrap();
        assert!(
            portal_deps["dependsOn"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r.as_str().unwrap().starts_with("pkg:cargo/portal-kube@"))
        );

        let subject = &image["metadata"]["component"];
        assert_eq!(subject["type"], "container");
        assert_eq!(subject["purl"], format!("pkg:oci/portal@sha256%3A{}", "cd".repeat(32)));
        let ca = image["components"].as_array().unwrap().iter().find(|c| c["type"] == "data").unwrap();
        assert_eq!(ca["purl"], "pkg:cargo/webpki-root-certs@1.0.11");
        assert_eq!(ca["licenses"][0]["expression"], "CDLA-Permissive-2.0");
        assert_eq!(ca["hashes"][0]["content"], "ef".repeat(32));
        let image_deps = image["dependencies"].as_array().unwrap().iter().find(|d| d["ref"] == "portal-image").unwrap();
        assert_eq!(image_deps["dependsOn"], json!([portal["bom-ref"], ca["bom-ref"]]));
    }

    #[test]
    fn output_is_deterministic() {
        let (a, _) = boms();
        let (b, _) = boms();
        assert_eq!(to_pretty_json(&a).unwrap(), to_pretty_json(&b).unwrap());
        assert!(a.get("serialNumber").is_none());
    }

    /// A weak dependency feature (`dep?/feature`) does not pull in an optional dependency, though
    /// cargo metadata's resolve lists the edge; `dep:` and `dep/feature` do. Build-dependencies
    /// and proc-macros are not followed.
    #[test]
    fn only_activated_normal_dependencies_are_followed() {
        let package = |name: &str, deps: Value, features: Value, kind: &str| {
            json!({ "id": name, "name": name, "version": "1.0.0", "source": CRATES_IO, "license": "MIT",
                    "dependencies": deps, "features": features, "targets": [{ "kind": [kind] }] })
        };
        let dep = |name: &str, optional: bool, kind: Value| json!({ "name": name, "rename": null, "optional": optional, "kind": kind });
        let mut portal = package(
            "portal",
            json!([
                dep("a", false, Value::Null),
                dep("b", true, Value::Null),
                dep("c", true, Value::Null),
                dep("d", false, json!("build")),
                dep("m", false, Value::Null),
                dep("e", true, Value::Null)
            ]),
            json!({ "std": ["b?/std", "dep:c"], "extra": ["e/std"] }),
            "bin",
        );
        portal["source"] = Value::Null;
        let edge = |pkg: &str, kind: Value| json!({ "name": pkg, "pkg": pkg, "dep_kinds": [{ "kind": kind, "target": null }] });
        let metadata = json!({
            "workspace_members": ["portal"],
            "packages": [portal, package("a", json!([]), json!({}), "lib"), package("b", json!([]), json!({}), "lib"),
                         package("c", json!([]), json!({}), "lib"), package("d", json!([]), json!({}), "lib"),
                         package("m", json!([]), json!({}), "proc-macro"), package("e", json!([]), json!({}), "lib")],
            "resolve": { "nodes": [
                { "id": "portal", "features": ["std"], "deps": [edge("a", Value::Null), edge("b", Value::Null),
                  edge("c", Value::Null), edge("d", json!("build")), edge("m", Value::Null), edge("e", Value::Null)] },
                { "id": "a", "features": [], "deps": [] }, { "id": "c", "features": [], "deps": [] },
            ] },
        });
        let graph = Graph::compiled_into_portal(&metadata).unwrap();
        assert_eq!(graph.packages.keys().collect::<Vec<_>>(), ["a", "c", "portal"]);
        assert_eq!(graph.edges["portal"], BTreeSet::from(["a".to_owned(), "c".to_owned()]));
    }

    #[test]
    fn the_ca_crate_is_the_locked_one() {
        let checksums =
            crate::lockfile::checksums(&fs::read_to_string(project_root().join("Cargo.lock")).unwrap()).unwrap();
        let ca = LockedCaCrate::of(&checksums).unwrap();
        assert_eq!(ca.version, "1.0.11", "the xtask pins webpki-root-certs =1.0.11");
        assert_eq!(ca.checksum.unwrap().len(), 64);
    }

    #[test]
    fn licenses_and_purls_are_normalised() {
        assert_eq!(spdx_expression("MIT/Apache-2.0"), "MIT OR Apache-2.0");
        assert_eq!(spdx_expression("Apache-2.0 / MIT"), "Apache-2.0 OR MIT");
        assert_eq!(spdx_expression("(Apache-2.0 OR MIT) AND BSD-3-Clause"), "(Apache-2.0 OR MIT) AND BSD-3-Clause");
        assert_eq!(purl_encode("20230311+deb12u1"), "20230311%2Bdeb12u1");
        assert_eq!(purl_encode("sha256:ab"), "sha256%3Aab");
    }

    #[test]
    fn lock_checksums_are_read() {
        let lock = "version = 4\n\n[[package]]\nname = \"a\"\nversion = \"1.0.0\"\nsource = \"registry+x\"\n\
                    checksum = \""
            .to_owned()
            + &"0".repeat(64)
            + "\"\n\n[[package]]\nname = \"ws\"\nversion = \"0.1.0\"\n";
        let checksums = crate::lockfile::checksums(&lock).unwrap();
        assert_eq!(checksums.len(), 1);
        assert_eq!(checksums[&("a".to_owned(), "1.0.0".to_owned())], "0".repeat(64));
    }

    /// Validates both BOMs against the CycloneDX 1.6 JSON schema (strict: no unknown fields)
    /// with the schema files and validator of the PyPI package cyclonedx-python-lib, installed
    /// once into a virtual environment under the target directory (offline afterwards).
    #[test]
    fn boms_validate_against_the_cyclonedx_schema() {
        let python = cyclonedx_python();
        let (binary, image) = boms();
        let dir = target_dir().join("xtask/sbom-test");
        fs::create_dir_all(&dir).unwrap();
        for (name, bom) in [("binary.cdx.json", &binary), ("image.cdx.json", &image)] {
            let path = dir.join(name);
            fs::write(&path, to_pretty_json(bom).unwrap()).unwrap();
            let script = "import sys\n\
                from cyclonedx.schema import SchemaVersion\n\
                from cyclonedx.validation.json import JsonStrictValidator\n\
                error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())\n\
                sys.exit(f'invalid CycloneDX 1.6: {error}' if error else 0)\n";
            let output = Command::new(&python).args(["-c", script]).arg(&path).output().unwrap();
            assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));
        }
    }

    /// The pinned validator the schema test uses.
    const CYCLONEDX_PYTHON_LIB: &str = "cyclonedx-python-lib[json-validation]==11.12.0";

    /// The venv's python with cyclonedx-python-lib, created on first use (needs PyPI once).
    fn cyclonedx_python() -> PathBuf {
        let venv = target_dir().join("xtask/cyclonedx-venv");
        let python = venv.join("bin/python");
        let marker = venv.join("installed");
        if fs::read_to_string(&marker).ok().as_deref() == Some(CYCLONEDX_PYTHON_LIB) {
            return python;
        }
        let _ = fs::remove_dir_all(&venv);
        let status = Command::new("python3").args(["-m", "venv"]).arg(&venv).status();
        assert!(
            status.is_ok_and(|s| s.success()),
            "python3 -m venv failed: the CycloneDX schema test needs Python 3 with venv (apt-get install python3-venv)"
        );
        let status = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", CYCLONEDX_PYTHON_LIB])
            .status();
        assert!(status.is_ok_and(|s| s.success()), "pip install {CYCLONEDX_PYTHON_LIB} failed (it needs PyPI once)");
        fs::write(&marker, CYCLONEDX_PYTHON_LIB).unwrap();
        python
    }
}
