//! `cargo xtask provenance`: SLSA provenance v1 for the artifacts in `target/dist/` — an in-toto
//! Statement v1 whose subjects are the binary, the archive and the image (archive and manifest),
//! and whose predicate (`https://slsa.dev/provenance/v1`) names the build: the xtask command, the
//! source repository and commit, and every pinned input the bytes depend on (Cargo.lock, the
//! Rust, Zig, cargo-zigbuild and cargo-auditable versions, the CA bundle's crate). Times come
//! from `SOURCE_DATE_EPOCH`, so the same commit gives the same provenance wherever it is built;
//! the builder is the GitHub workflow when run there (`GITHUB_*`), a local build otherwise.
//!
//! Written to `target/dist/portal.intoto.json` (one Statement, pretty JSON). Signing it and
//! attaching it to the image (cosign) are not done here yet.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::ca_bundle::{CA_CRATE, LockedCaCrate};
use crate::checksum::sha256_hex;
use crate::date::rfc3339;
use crate::dist::{CARGO_AUDITABLE_VERSION, RUST_VERSION, Release, TARGET};
use crate::project::{project_root, target_dir};
use crate::toolchain::{CARGO_ZIGBUILD_VERSION, ZIG_VERSION, ZIG_WHEEL_SHA256};

/// The file written into the dist directory.
pub const PROVENANCE: &str = "portal.intoto.json";

/// What the build is, for `buildDefinition.buildType` (a URI naming this xtask's build).
const BUILD_TYPE: &str = "https://github.com/portal-policy/portal/blob/main/docs/security/supply-chain.md#provenance";

/// `cargo xtask provenance`.
pub fn main(args: &[String]) -> Result<()> {
    if let Some(other) = args.first() {
        bail!("cargo xtask provenance: unknown argument {other:?}; it takes none");
    }
    let release = Release::read()?;
    let dir = target_dir().join("dist");
    let subjects = subjects(&dir, &release)?;
    if subjects.is_empty() {
        bail!("no artifacts in {}: run `cargo xtask image` (or `dist`) first", dir.display());
    }
    let lock = fs::read(project_root().join("Cargo.lock")).context("reading Cargo.lock")?;
    let ca = LockedCaCrate::of(&crate::lockfile::checksums(&String::from_utf8_lossy(&lock))?)?;
    let builder = builder_id(|name| std::env::var(name).ok());
    let statement = statement(&release, subjects, &sha256_hex(&lock), &ca, &builder);
    let problems = problems(&statement);
    if !problems.is_empty() {
        bail!("the provenance misses what SLSA v1 requires: {}", problems.join("; "));
    }
    let path = dir.join(PROVENANCE);
    fs::write(&path, serde_json::to_string_pretty(&statement)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    println!(
        "provenance: {} ({} subjects, builder {builder})",
        path.display(),
        statement["subject"].as_array().map_or(0, Vec::len)
    );
    Ok(())
}

/// (name, sha256) of every artifact present in `dir`: the binary, the archive, the image archive,
/// and the image manifest digest (named after the image).
fn subjects(dir: &Path, release: &Release) -> Result<Vec<(String, String)>> {
    let mut subjects = Vec::new();
    let files = [
        "portal".to_owned(),
        format!("portal-{}-{TARGET}.tar.gz", release.version),
        format!("portal-{}-oci.tar", release.version),
    ];
    for name in files {
        if let Ok(bytes) = fs::read(dir.join(&name)) {
            subjects.push((name, sha256_hex(&bytes)));
        }
    }
    let index = dir.join("oci/index.json");
    if let Ok(text) = fs::read_to_string(&index) {
        let index: Value = serde_json::from_str(&text).with_context(|| format!("parsing {}", index.display()))?;
        let built_from = index["annotations"]["org.opencontainers.image.revision"].as_str().unwrap_or_default();
        if built_from != release.revision {
            bail!(
                "the image in {} was built from {built_from}, not from HEAD ({}): rebuild with `cargo xtask image`",
                dir.display(),
                release.revision
            );
        }
        if let Some(digest) = index["manifests"][0]["digest"].as_str().and_then(|d| d.strip_prefix("sha256:")) {
            subjects.push(("portal-image-manifest".to_owned(), digest.to_owned()));
        }
    }
    Ok(subjects)
}

/// The workflow run that built, when run in GitHub Actions; else a local build.
fn builder_id(var: impl Fn(&str) -> Option<String>) -> String {
    match (var("GITHUB_SERVER_URL"), var("GITHUB_REPOSITORY"), var("GITHUB_WORKFLOW_REF")) {
        (Some(server), Some(_), Some(workflow)) => format!("{server}/{workflow}"),
        _ => "urn:portal:local-xtask-build".to_owned(),
    }
}

/// The in-toto Statement. Pure: the same inputs give the same bytes.
fn statement(
    release: &Release,
    subjects: Vec<(String, String)>,
    cargo_lock_sha256: &str,
    ca: &LockedCaCrate,
    builder: &str,
) -> Value {
    let subject: Vec<Value> =
        subjects.into_iter().map(|(name, sha256)| json!({"name": name, "digest": {"sha256": sha256}})).collect();
    let time = rfc3339(release.source_date_epoch);
    let repository = release.repository.trim_end_matches('/');
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": subject,
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "repository": repository,
                    "revision": release.revision,
                    "command": "cargo --locked xtask image && cargo --locked xtask provenance",
                    "target": TARGET,
                },
                "internalParameters": {"SOURCE_DATE_EPOCH": release.source_date_epoch},
                "resolvedDependencies": [
                    {"uri": format!("git+{repository}@{}", release.revision), "digest": {"gitCommit": release.revision}},
                    {"uri": "Cargo.lock", "digest": {"sha256": cargo_lock_sha256}},
                    {"uri": format!("pkg:generic/rust@{RUST_VERSION}"), "annotations": {"installedBy": "rustup"}},
                    {"uri": format!("pkg:pypi/ziglang@{ZIG_VERSION}"), "digest": {"sha256": ZIG_WHEEL_SHA256}},
                    {"uri": format!("pkg:cargo/cargo-zigbuild@{CARGO_ZIGBUILD_VERSION}")},
                    {"uri": format!("pkg:cargo/cargo-auditable@{CARGO_AUDITABLE_VERSION}")},
                    {
                        "uri": format!("pkg:cargo/{CA_CRATE}@{}", ca.version),
                        "digest": ca.checksum.as_ref().map(|sha256| json!({"sha256": sha256})).unwrap_or(json!({})),
                        "annotations": {"role": "the image's CA bundle"},
                    },
                ],
            },
            "runDetails": {
                "builder": {"id": builder},
                "metadata": {"invocationId": release.revision, "startedOn": time, "finishedOn": time},
            },
        },
    })
}

/// The fields SLSA provenance v1 requires, checked on `statement` (the schema's required
/// properties and types, as the specification lists them); the problems, or none.
pub fn problems(statement: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut need = |ok: bool, what: &str| {
        if !ok {
            problems.push(what.to_owned());
        }
    };
    need(statement["_type"] == "https://in-toto.io/Statement/v1", "_type is the in-toto Statement v1");
    need(statement["predicateType"] == "https://slsa.dev/provenance/v1", "predicateType is SLSA provenance v1");
    let subjects = statement["subject"].as_array().cloned().unwrap_or_default();
    need(!subjects.is_empty(), "at least one subject");
    for subject in &subjects {
        let digest = subject["digest"]["sha256"].as_str().unwrap_or_default();
        need(subject["name"].is_string(), "every subject has a name");
        need(digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()), "every subject has a sha256 digest");
    }
    let definition = &statement["predicate"]["buildDefinition"];
    need(definition["buildType"].is_string(), "buildDefinition.buildType");
    need(definition["externalParameters"].is_object(), "buildDefinition.externalParameters");
    for dependency in definition["resolvedDependencies"].as_array().into_iter().flatten() {
        need(dependency["uri"].is_string(), "every resolved dependency has a uri");
    }
    need(statement["predicate"]["runDetails"]["builder"]["id"].is_string(), "runDetails.builder.id");
    problems
}

/// The subjects by name.
#[cfg(test)]
fn subject_names(statement: &Value) -> std::collections::BTreeMap<String, String> {
    statement["subject"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| Some((s["name"].as_str()?.to_owned(), s["digest"]["sha256"].as_str()?.to_owned())))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn release() -> Release {
        Release::example()
    }

    fn example() -> Value {
        let subjects =
            vec![("portal".to_owned(), "ab".repeat(32)), ("portal-image-manifest".to_owned(), "cd".repeat(32))];
        let ca = LockedCaCrate { version: "1.0.11".to_owned(), checksum: Some("12".repeat(32)) };
        statement(&release(), subjects, &"ef".repeat(32), &ca, "urn:portal:local-xtask-build")
    }

    #[test]
    fn the_statement_names_the_commit_the_lockfile_and_the_pinned_tools() {
        let statement = example();
        assert!(problems(&statement).is_empty(), "{:?}", problems(&statement));
        let definition = &statement["predicate"]["buildDefinition"];
        assert_eq!(definition["externalParameters"]["revision"], release().revision);
        let uris: Vec<&str> =
            definition["resolvedDependencies"].as_array().unwrap().iter().map(|d| d["uri"].as_str().unwrap()).collect();
        assert!(uris.contains(&"Cargo.lock"));
        assert!(uris.contains(&"pkg:pypi/ziglang@0.15.2"));
        assert!(uris.contains(&"pkg:cargo/webpki-root-certs@1.0.11"));
        assert_eq!(statement["predicate"]["runDetails"]["metadata"]["startedOn"], "2023-11-14T22:13:20Z");
        assert_eq!(subject_names(&statement).len(), 2);
    }

    #[test]
    fn the_same_inputs_give_the_same_bytes_and_a_broken_statement_is_caught() {
        assert_eq!(serde_json::to_string(&example()).unwrap(), serde_json::to_string(&example()).unwrap());
        let mut broken = example();
        broken["subject"][0]["digest"]["sha256"] = json!("not-hex");
        broken["predicateType"] = json!("https://slsa.dev/provenance/v0.2");
        assert_eq!(problems(&broken).len(), 2, "{:?}", problems(&broken));
    }

    #[test]
    fn the_builder_is_the_workflow_in_github_actions() {
        let github = |name: &str| match name {
            "GITHUB_SERVER_URL" => Some("https://github.com".to_owned()),
            "GITHUB_REPOSITORY" => Some("portal-policy/portal".to_owned()),
            "GITHUB_WORKFLOW_REF" => {
                Some("portal-policy/portal/.github/workflows/release.yml@refs/tags/v0.1.0".to_owned())
            }
            _ => None,
        };
        assert_eq!(
            builder_id(github),
            "https://github.com/portal-policy/portal/.github/workflows/release.yml@refs/tags/v0.1.0"
        );
        assert_eq!(builder_id(|_| None), "urn:portal:local-xtask-build");
    }

    #[test]
    fn the_ca_crate_version_is_read_from_the_lockfile() {
        let lock = fs::read_to_string(project_root().join("Cargo.lock")).unwrap();
        let ca = LockedCaCrate::of(&crate::lockfile::checksums(&lock).unwrap()).unwrap();
        assert_eq!(ca.version, "1.0.11");
    }
}
