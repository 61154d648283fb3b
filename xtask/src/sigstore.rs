//! Signatures and attestations with cosign, the tool consumers verify with.
//!
//! - `cargo xtask sign (--key FILE | --keyless) --repository REPO`: pushes the OCI image of
//!   `target/dist/oci` to `REPO` (crane), signs it by digest, attaches the SLSA provenance
//!   (`slsaprovenance1`) and the image's CycloneDX SBOM (`cyclonedx`) as attestations, and signs and
//!   attests the binary and the tarball (`<file>.sigstore.json`, `<file>.intoto.sigstore.json` in
//!   `target/dist/`). With a key (its password in `COSIGN_PASSWORD`) no transparency log is
//!   written, and the signatures are verified with the public key (`--insecure-ignore-tlog`);
//!   `--keyless` is the release workflow's: Sigstore's public Fulcio and Rekor with the workflow's
//!   GitHub OIDC identity.
//! - `cargo xtask supply-chain`: the end-to-end check — a registry on loopback (`crane registry
//!   serve`), a fresh key pair, `sign`, then `cosign verify`, `verify-attestation` for both types,
//!   `verify-blob` and `verify-blob-attestation` succeed, the attested provenance names this
//!   commit and Cargo.lock's digest, and a tampered image (new digest) and a tampered binary (one
//!   byte changed) fail verification.
//!
//! cosign and crane are built from their Go modules into the tool cache beside the test control
//! plane, once.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use crate::checksum::sha256_hex;
use crate::dist::Release;
use crate::project::{project_root, target_dir};

/// The cosign release signing and verification are done with.
pub const COSIGN_VERSION: &str = "v3.1.3";
/// The crane release that pushes images and serves the loopback registry.
pub const CRANE_VERSION: &str = "v0.22.1";
/// The syft release that reads the image as a scanner would.
pub const SYFT_VERSION: &str = "v1.57.2";

const PROVENANCE: &str = "portal.intoto.json";

pub fn cosign() -> Result<PathBuf> {
    let ldflags = format!("-X sigs.k8s.io/release-utils/version.gitVersion={COSIGN_VERSION}");
    crate::tools::installed_tool(
        "cosign",
        COSIGN_VERSION,
        "github.com/sigstore/cosign/v3/cmd/cosign",
        &ldflags,
        "building cosign",
    )
}

pub fn syft() -> Result<PathBuf> {
    let ldflags = format!("-X main.version={SYFT_VERSION}");
    crate::tools::installed_tool("syft", SYFT_VERSION, "github.com/anchore/syft/cmd/syft", &ldflags, "building syft")
}

pub fn crane() -> Result<PathBuf> {
    let ldflags = format!("-X github.com/google/go-containerregistry/cmd/crane/cmd.Version={CRANE_VERSION}");
    crate::tools::installed_tool(
        "crane",
        CRANE_VERSION,
        "github.com/google/go-containerregistry/cmd/crane",
        &ldflags,
        "building crane",
    )
}

/// cosign with a signing configuration that names no transparency log or timestamp authority:
/// key-based signatures that need no network.
struct Cosign {
    binary: PathBuf,
    signing_config: PathBuf,
    /// `COSIGN_PASSWORD` for its processes; `None`: theirs is this process's (`cargo xtask sign`).
    password: Option<String>,
}

impl Cosign {
    fn new(work: &Path) -> Result<Self> {
        let binary = cosign()?;
        let signing_config = work.join("signing-config.json");
        let out = signing_config.to_string_lossy().into_owned();
        run_tool(&binary, &["signing-config", "create", "--out", &out], &[])?;
        Ok(Self { binary, signing_config, password: None })
    }

    fn signing(&self) -> String {
        self.signing_config.to_string_lossy().into_owned()
    }

    fn run(&self, args: &[&str]) -> Result<String> {
        let env: Vec<(&str, &str)> =
            self.password.iter().map(|password| ("COSIGN_PASSWORD", password.as_str())).collect();
        run_tool(&self.binary, args, &env)
    }

    /// Whether the command succeeds (for verifications expected to fail).
    fn succeeds(&self, args: &[&str]) -> bool {
        Command::new(&self.binary)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

/// What `sign` produced.
struct Signed {
    /// `REPO@sha256:…`.
    image: String,
    /// (artifact, signature bundle, attestation bundle).
    blobs: Vec<(PathBuf, PathBuf, PathBuf)>,
}

/// How `sign` signs.
enum Signer {
    /// A cosign key pair's private key; no transparency log.
    Key(PathBuf),
    /// Sigstore's public instance with the ambient OIDC identity (GitHub Actions).
    Keyless,
}

/// `cargo xtask sign (--key FILE | --keyless) --repository REPO [--allow-http]`.
pub fn sign_main(args: &[String]) -> Result<()> {
    let mut signer = None;
    let mut repository = None;
    let mut allow_http = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--key" => signer = rest.next().map(|key| Signer::Key(PathBuf::from(key))),
            "--keyless" => signer = Some(Signer::Keyless),
            "--repository" => repository = rest.next().cloned(),
            "--allow-http" => allow_http = true,
            other => bail!(
                "cargo xtask sign: unknown argument {other:?}; use (--key FILE | --keyless) --repository REPO [--allow-http]"
            ),
        }
    }
    let (Some(signer), Some(repository)) = (signer, repository) else {
        bail!(
            "cargo xtask sign needs --key FILE (a cosign private key; its password in COSIGN_PASSWORD) or --keyless, \
             and --repository REPO"
        );
    };
    let work = target_dir().join("sign");
    fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let signed = sign(&Cosign::new(&work)?, &signer, &repository, allow_http)?;
    println!("sign: {} signed, with provenance and SBOM attestations", signed.image);
    for (blob, signature, attestation) in &signed.blobs {
        println!("sign: {} → {}, {}", blob.display(), signature.display(), attestation.display());
    }
    Ok(())
}

/// Pushes, signs and attests the image and signs and attests the blobs of `target/dist/`.
fn sign(cosign: &Cosign, signer: &Signer, repository: &str, allow_http: bool) -> Result<Signed> {
    let dist = target_dir().join("dist");
    let release = Release::read()?;
    let layout = dist.join("oci");
    ensure!(layout.join("index.json").is_file(), "no image in {}: run `cargo xtask image` first", layout.display());
    let provenance = dist.join(PROVENANCE);
    let sbom = dist.join(crate::sbom::IMAGE_SBOM);
    ensure!(provenance.is_file(), "no {}: run `cargo xtask provenance` first", provenance.display());
    ensure!(sbom.is_file(), "no {}: run `cargo xtask sbom` first", sbom.display());
    // cosign attests a predicate: the provenance Statement's.
    let statement: Value = serde_json::from_str(&fs::read_to_string(&provenance)?).context("parsing the provenance")?;
    let predicate_dir = target_dir().join("sign");
    fs::create_dir_all(&predicate_dir).with_context(|| format!("creating {}", predicate_dir.display()))?;
    let predicate = predicate_dir.join("provenance-predicate.json");
    fs::write(&predicate, serde_json::to_string(&statement["predicate"])?).context("writing the predicate")?;

    let crane = crane()?;
    let mut push = vec!["push", path_str(&layout)?, repository];
    if allow_http {
        push.push("--insecure");
    }
    let pushed = run_tool(&crane, &push, &[])?;
    let image = pushed.lines().last().map(str::trim).unwrap_or_default().to_owned();
    ensure!(image.contains("@sha256:"), "crane push printed no digest reference: {pushed:?}");

    let signing = cosign.signing();
    // The key and the log-free signing configuration, or nothing (keyless: cosign's defaults).
    let identity: Vec<&str> = match signer {
        Signer::Key(key) => vec!["--key", path_str(key)?, "--signing-config", &signing],
        Signer::Keyless => Vec::new(),
    };
    let http: &[&str] = if allow_http { &["--allow-http-registry"] } else { &[] };
    let command = |verb: &str, rest: &[&str], registry: bool| -> Vec<String> {
        let mut args = vec![verb, "--yes"];
        args.extend(&identity);
        if registry {
            args.extend(http);
        }
        args.extend(rest);
        args.into_iter().map(str::to_owned).collect()
    };
    cosign.run(&strs(&command("sign", &[&image], true)))?;
    for (kind, file) in [("slsaprovenance1", path_str(&predicate)?), ("cyclonedx", path_str(&sbom)?)] {
        cosign.run(&strs(&command("attest", &["--type", kind, "--predicate", file, &image], true)))?;
    }
    let mut blobs = Vec::new();
    for name in ["portal".to_owned(), format!("portal-{}-x86_64-unknown-linux-musl.tar.gz", release.version)] {
        let blob = dist.join(&name);
        ensure!(blob.is_file(), "no {}: run `cargo xtask dist` first", blob.display());
        let signature = dist.join(format!("{name}.sigstore.json"));
        let attestation = dist.join(format!("{name}.intoto.sigstore.json"));
        cosign.run(&strs(&command("sign-blob", &["--bundle", path_str(&signature)?, path_str(&blob)?], false)))?;
        cosign.run(&strs(&command(
            "attest-blob",
            &[
                "--type",
                "slsaprovenance1",
                "--predicate",
                path_str(&predicate)?,
                "--bundle",
                path_str(&attestation)?,
                path_str(&blob)?,
            ],
            false,
        )))?;
        blobs.push((blob, signature, attestation));
    }
    Ok(Signed { image, blobs })
}

/// `cargo xtask supply-chain`.
pub fn supply_chain_main(args: &[String]) -> Result<()> {
    if let Some(other) = args.first() {
        bail!("cargo xtask supply-chain: unknown argument {other:?}; it takes none");
    }
    let started = Instant::now();
    let step = |what: &str, since: &mut Instant| {
        println!("supply-chain: {what} ({:.1} s)", since.elapsed().as_secs_f64());
        *since = Instant::now();
    };
    let mut since = Instant::now();
    let dist = target_dir().join("dist");
    let release = Release::read()?;
    let built_from = fs::read_to_string(dist.join("oci/index.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|index| index["annotations"]["org.opencontainers.image.revision"].as_str().map(str::to_owned));
    if built_from.as_deref() != Some(release.revision.as_str()) {
        crate::image::main(&[])?;
    }
    crate::sbom::main(&[])?;
    crate::provenance::main(&[])?;
    step("the image, SBOMs and provenance of this commit are in target/dist", &mut since);
    validate_provenance(&dist.join(PROVENANCE))?;
    step("the provenance validates with the in-toto attestation library's SLSA v1 types", &mut since);

    let work = target_dir().join("supply-chain");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let mut cosign = Cosign::new(&work)?;
    let crane = crane()?;
    step("cosign and crane are in the tool cache", &mut since);
    let registry = Registry::start(&crane, &work)?;
    // A fresh key pair; its password goes only to the cosign processes.
    cosign.password = Some(format!("portal-{}-{}", std::process::id(), started.elapsed().as_nanos()));
    let key_dir = work.join("keys");
    fs::create_dir_all(&key_dir)?;
    let key = key_dir.join("cosign.key");
    cosign.run(&["generate-key-pair", "--output-key-prefix", path_str(&key_dir.join("cosign"))?])?;
    let public = key_dir.join("cosign.pub");
    let public = path_str(&public)?.to_owned();
    let repository = format!("127.0.0.1:{}/portal", registry.port);
    let signed = sign(&cosign, &Signer::Key(key), &repository, true)?;
    step(&format!("pushed, signed and attested {}", signed.image), &mut since);

    let image = signed.image.as_str();
    let verify = ["verify", "--key", &public, "--insecure-ignore-tlog", "--allow-http-registry", image];
    cosign.run(&verify)?;
    for kind in ["slsaprovenance1", "cyclonedx"] {
        let output = cosign.run(&[
            "verify-attestation",
            "--key",
            &public,
            "--insecure-ignore-tlog",
            "--allow-http-registry",
            "--type",
            kind,
            image,
        ])?;
        if kind == "slsaprovenance1" {
            check_attested_provenance(&output, &release)?;
        }
    }
    for (blob, signature, attestation) in &signed.blobs {
        let blob = path_str(blob)?;
        cosign.run(&[
            "verify-blob",
            "--key",
            &public,
            "--insecure-ignore-tlog",
            "--bundle",
            path_str(signature)?,
            blob,
        ])?;
        cosign.run(&[
            "verify-blob-attestation",
            "--key",
            &public,
            "--insecure-ignore-tlog",
            "--type",
            "slsaprovenance1",
            "--bundle",
            path_str(attestation)?,
            blob,
        ])?;
    }
    step(
        "cosign verify, verify-attestation (slsaprovenance1, cyclonedx), verify-blob, verify-blob-attestation: OK",
        &mut since,
    );

    // Tampered: another image (one annotation more: a new digest) and a binary with one byte changed.
    let tampered = run_tool(&crane, &["mutate", "--insecure", "--annotation", "tampered=yes", image], &[])?;
    let tampered = tampered.lines().last().map(str::trim).unwrap_or_default().to_owned();
    ensure!(tampered != image && tampered.contains("@sha256:"), "crane mutate made no new image: {tampered:?}");
    ensure!(
        !cosign.succeeds(&["verify", "--key", &public, "--insecure-ignore-tlog", "--allow-http-registry", &tampered]),
        "cosign verify accepted a tampered image ({tampered})"
    );
    let (binary, signature, _) = &signed.blobs[0];
    let mut bytes = fs::read(binary)?;
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    let changed = work.join("portal-tampered");
    fs::write(&changed, &bytes)?;
    ensure!(
        !cosign.succeeds(&[
            "verify-blob",
            "--key",
            &public,
            "--insecure-ignore-tlog",
            "--bundle",
            path_str(signature)?,
            path_str(&changed)?,
        ]),
        "cosign verify-blob accepted a binary with one byte changed"
    );
    step(&format!("a tampered image ({tampered}) and a tampered binary fail verification"), &mut since);
    scanners_read_the_image(&dist)?;
    step("syft reads the image's crates: every crate of the SBOM, and the proc macros the binary names", &mut since);
    let binary_size = fs::metadata(binary)?.len();
    println!(
        "supply-chain: passed in {:.1} s; image {image}, binary {binary_size} bytes sha256 {}",
        started.elapsed().as_secs_f64(),
        sha256_hex(&fs::read(binary)?)
    );
    drop(registry);
    Ok(())
}

/// syft, run on the OCI image as a scanner would, lists the crates of the binary's embedded
/// dependency list but the build-only ones; every crate of the image SBOM (the CA bundle's is
/// data, not a crate of the binary) is among them. Prints the counts and the differences.
fn scanners_read_the_image(dist: &Path) -> Result<()> {
    use std::collections::BTreeSet;
    let syft = syft()?;
    let layout = format!("oci-dir:{}", path_str(&dist.join("oci"))?);
    let report: Value = serde_json::from_str(&run_tool(&syft, &["scan", &layout, "-o", "json", "-q"], &[])?)
        .context("parsing syft's JSON")?;
    let seen: BTreeSet<(String, String)> = report["artifacts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|artifact| artifact["type"] == "rust-crate")
        .map(|artifact| {
            (
                artifact["name"].as_str().unwrap_or_default().to_owned(),
                artifact["version"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let embedded = crate::elf::embedded_crates(&fs::read(dist.join("portal"))?)?;
    let all: BTreeSet<(String, String)> = embedded.iter().map(|c| (c.name.clone(), c.version.clone())).collect();
    let linked: BTreeSet<(String, String)> =
        embedded.iter().filter(|c| !c.build_only).map(|c| (c.name.clone(), c.version.clone())).collect();
    let sbom: Value = serde_json::from_str(&fs::read_to_string(dist.join(crate::sbom::IMAGE_SBOM))?)?;
    let listed: BTreeSet<(String, String)> = sbom["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|component| component["purl"].as_str().is_some_and(|purl| purl.starts_with("pkg:cargo/")))
        .filter(|component| component["type"] != "data")
        .map(|component| {
            (
                component["name"].as_str().unwrap_or_default().to_owned(),
                component["version"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let show =
        |set: BTreeSet<&(String, String)>| set.iter().map(|(n, v)| format!("{n} {v}")).collect::<Vec<_>>().join(", ");
    println!(
        "supply-chain: syft lists {} crates; the binary names {} ({} linked in, {} build-only); the image SBOM lists {} \
         crates and the CA bundle's",
        seen.len(),
        all.len(),
        linked.len(),
        all.len() - linked.len(),
        listed.len()
    );
    // syft reads the same list and leaves out what only builds it.
    ensure!(
        seen == linked,
        "syft and the binary's list differ: only syft: {}; only the binary: {}",
        show(seen.difference(&linked).collect()),
        show(linked.difference(&seen).collect())
    );
    // cargo-auditable counts proc macros (and what only they use) as linked in; the SBOM, from
    // Cargo's graph, does not: every SBOM crate is seen, and the rest are named.
    ensure!(
        listed.is_subset(&seen),
        "crates of the SBOM that syft does not see: {}",
        show(listed.difference(&seen).collect())
    );
    println!(
        "supply-chain: every SBOM crate is in syft's list; syft also lists {} compile-time crates (proc macros and \
         what only they use): {}",
        seen.len() - listed.len(),
        show(seen.difference(&listed).collect())
    );
    Ok(())
}

/// Validates the provenance with `xtask/go/provenance-check` (the in-toto attestation library's
/// Statement and SLSA provenance v1 types: strict decoding and their `Validate`), and shows that
/// the check refuses a misspelt field.
fn validate_provenance(provenance: &Path) -> Result<()> {
    let check = |file: &Path| -> Result<std::process::Output> {
        Command::new("go")
            .args(["run", ".", path_str(file)?])
            .current_dir(project_root().join("xtask/go/provenance-check"))
            .env("GOFLAGS", "-mod=mod")
            .env("GOWORK", "off")
            .env("CGO_ENABLED", "0")
            .stdin(Stdio::null())
            .output()
            .context("running `go run` in xtask/go/provenance-check (Go is required)")
    };
    let output = check(provenance)?;
    ensure!(
        output.status.success(),
        "the provenance does not validate: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    print!("supply-chain: {}", String::from_utf8_lossy(&output.stdout));
    let misspelt = fs::read_to_string(provenance)?.replacen("\"buildDefinition\"", "\"buildDefinitions\"", 1);
    let scratch = target_dir().join("supply-chain/provenance-misspelt.json");
    fs::write(&scratch, misspelt)?;
    ensure!(!check(&scratch)?.status.success(), "the provenance check accepted a misspelt field");
    Ok(())
}

/// The attested provenance names this commit and Cargo.lock's digest.
fn check_attested_provenance(verify_output: &str, release: &Release) -> Result<()> {
    use base64::Engine as _;
    let lock = sha256_hex(&fs::read(project_root().join("Cargo.lock"))?);
    for line in verify_output.lines().filter(|line| line.trim_start().starts_with('{')) {
        let Ok(envelope) = serde_json::from_str::<Value>(line) else { continue };
        let Some(payload) = envelope["payload"].as_str() else { continue };
        let statement: Value = serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(payload)?)?;
        let text = statement.to_string();
        ensure!(text.contains(&release.revision), "the attested provenance does not name commit {}", release.revision);
        ensure!(text.contains(&lock), "the attested provenance does not name Cargo.lock's digest {lock}");
        return Ok(());
    }
    bail!("cosign verify-attestation printed no attestation:\n{verify_output}")
}

/// Runs a tool with `env` added; on failure the error shows its output.
fn run_tool(binary: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<String> {
    let mut command = Command::new(binary);
    command.args(args).envs(env.iter().copied()).stdin(Stdio::null());
    let name = binary.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let output = command.output().with_context(|| format!("running {name}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "`{name} {}` failed ({}):\n{}{}",
            args.join(" "),
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(stdout)
}

/// `crane registry serve` on a free loopback port, stopped when dropped.
struct Registry {
    process: Child,
    port: u16,
}

impl Registry {
    fn start(crane: &Path, work: &Path) -> Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = fs::File::create(work.join("registry.log"))?;
        let process = Command::new(crane)
            .args(["registry", "serve", "--address", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting crane registry serve")?;
        let registry = Self { process, port };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            ensure!(started.elapsed() < Duration::from_secs(10), "the registry did not listen on 127.0.0.1:{port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(registry)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str().with_context(|| format!("{} is not UTF-8", path.display()))
}
