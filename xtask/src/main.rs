//! `cargo xtask`: the project's own automation. `cargo xtask test` is the one entry point that
//! runs every check and test CI runs.

mod alertmanager;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod architecture;
mod archive;
mod bench_check;
mod ca_bundle;
mod checksum;
mod chromium;
mod cmd;
mod crates;
mod date;
mod deny;
mod dist;
mod elf;
mod embed;
mod envtest;
mod fuzz;
mod go;
mod helm;
mod image;
mod lockfile;
mod playground;
mod project;
mod provenance;
mod public_api;
mod report_crds;
mod repro;
mod sbom;
mod sigstore;
mod toolchain;
mod tools;
mod wasm;

use anyhow::{Context, Result, bail};

use crate::cmd::{cargo, cargo_command, cargo_with_env};
use crate::project::project_root;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  test     provision the test control plane (see envtest), the tools the tests run (helm,
           Alertmanager, Chromium) and the playground, then cargo fmt --check, clippy with
           -D warnings, and every test of the workspace
  envtest  build kube-apiserver and etcd for the integration tests into a per-user cache
           (once; needs Go) and print the directory to export as PORTAL_ENVTEST_ASSETS
  bench    the rule-evaluation benchmarks (criterion), numbers on stdout;
           `bench admission`: the webhook of a release binary at fixed offered loads;
           `bench audit`: the audit of a release binary over 10,000 Pods and 1,000 Deployments;
           `bench lookups`: its webhook at 500 reviews/s with lookup rules and 10,000 Pods cached;
           `bench check`: `portal check` of a release binary over 40,000 generated Pods;
           `bench playground`: the playground's engine (WebAssembly) in Node.js
  crds     regenerate deploy/crds/ from the Rust types; with --check, fail if they drifted
  chart    copy the CRDs into deploy/helm/portal, lint it (default values and every feature on)
           and render deploy/manifests/portal.yaml; with --check, fail if anything drifted
  helm     build helm into the per-user tool cache (like envtest) and print its path
  alertmanager  build Alertmanager into the per-user tool cache (like envtest) and print its path
  chromium install Debian's chromium (apt-get, once per machine) for the playground test and
           print its path
  dist     the static release binary (x86_64-unknown-linux-musl, cargo-auditable), its .tar.gz
           and SHA256SUMS in target/dist/, built reproducibly with the pinned Zig toolchain (fetched
           into the tool cache on first use: Zig from PyPI, cargo-zigbuild from crates.io)
  image    dist, then the OCI image (layout target/dist/oci/ and portal-<version>-oci.tar);
           with --verify, unpack it and run `portal version` in it as 65532 with chroot
  checksums  rewrite target/dist/SHA256SUMS over every file there (after sbom)
  repro    build dist and image twice in different directories, fail unless identical (slow);
           --hermetic: the second build under env -i, other HOME, locale, TZ, umask, cwd, and a
           PATH without any C compiler
  cosign, crane  build cosign v3.1.3 / crane v0.22.1 into the tool cache and print the path
  sign     (--key FILE | --keyless) --repository REPO [--allow-http]: push target/dist/oci to REPO,
           sign it by digest and attest its provenance and SBOM with cosign, sign and attest the
           binary and tarball (bundles in target/dist/); the key's password in COSIGN_PASSWORD
  supply-chain  image, sbom, provenance, then sign into a registry on loopback with a fresh key
           and verify with cosign: signatures, attestations, blobs, and that tampering fails;
           syft's crates of the image against the binary's list and the SBOM
  wasm     add the wasm32-unknown-unknown target (rustup), build the pure crates for it, and run
           the rule engine there (examples/embed's evaluate-in-wasm, in Node.js)
  crates   the published library crates: docs without warnings, cargo publish --dry-run, and a
           build with their rust-version's toolchain (installed with rustup)
  public-api [--check]  list the public API of the published library crates into
           crates/<crate>/public-api.txt (from rustdoc's JSON); --check fails when it changed
  playground [--out DIR]  the rule playground: the engine built for wasm32-wasip1 and the static
           page that runs it, into target/playground/ (open index.html; no server needed)
  provenance  SLSA provenance v1 (an in-toto Statement) of the artifacts in target/dist/:
           target/dist/portal.intoto.json (after image; times from SOURCE_DATE_EPOCH)
  sbom     CycloneDX SBOMs of the binary and the image: target/dist/portal.cdx.json and
           portal-image.cdx.json (after dist and image, for the binary hash and image digest)
  deny     cargo-deny check (advisories, bans, licenses, sources) with deny.toml
  audit    cargo-audit of Cargo.lock; deny and audit run offline against ../shared/advisory-db
           or --advisory-db PATH when there is one, and print the database's date
  lockfile-check BASE  fail if Cargo.lock changed since BASE (BASE...HEAD) without a Cargo.toml
  fuzz     [--seconds N] [TARGET...]: the fuzz targets of crates/portal-fuzz (admission-review,
           rule-documents, manifests, expression), N seconds each (default 60); keeps crashing
           inputs in target/fuzz-findings/ and fails if there are any
";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("envtest") => {
            println!("{}", envtest::ensure()?.display());
            Ok(())
        }
        Some("bench") => bench(&args[1..]),
        Some("dist") => dist::main(&args[1..]),
        Some("image") => image::main(&args[1..]),
        Some("checksums") => checksum::checksums_main(),
        Some("repro") => repro::main(&args[1..]),
        Some("repro-build") => repro::build_main(&args[1..]),
        Some("sbom") => sbom::main(&args[1..]),
        Some("provenance") => provenance::main(&args[1..]),
        Some("sign") => sigstore::sign_main(&args[1..]),
        Some("cosign") => print_path(sigstore::cosign()),
        Some("crane") => print_path(sigstore::crane()),
        Some("supply-chain") => sigstore::supply_chain_main(&args[1..]),
        Some("wasm") => wasm::main(&args[1..]),
        Some("playground") => playground::main(&args[1..]),
        Some("public-api") => public_api::main(&args[1..]),
        Some("crates") => crates::main(&args[1..]),
        Some("deny") => deny::deny_main(&args[1..]),
        Some("audit") => deny::audit_main(&args[1..]),
        Some("lockfile-check") => lockfile::main(&args[1..]),
        Some("fuzz") => fuzz::main(&args[1..]),
        Some("chart") => helm::chart_main(&args[1..]),
        Some("alertmanager") => print_path(alertmanager::ensure()),
        Some("helm") => print_path(helm::ensure()),
        Some("chromium") => print_path(chromium::ensure()),
        Some("crds") => match args.get(1).map(String::as_str) {
            None => crds(false),
            Some("--check") => crds(true),
            Some(other) => bail!("cargo xtask crds: unknown argument {other:?}; use no argument or --check"),
        },
        Some("help" | "--help" | "-h") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}

/// Prints where a tool of the cache is (built first when missing), for scripts and workflows.
fn print_path(path: Result<std::path::PathBuf>) -> Result<()> {
    println!("{}", path?.display());
    Ok(())
}

fn test() -> Result<()> {
    // First, so that a blank machine builds the control plane once and every later step
    // (and every later run) finds it.
    let assets = envtest::ensure()?;
    eprintln!("{}={}", envtest::ASSETS_ENV, assets.display());
    let helm = helm::ensure()?;
    eprintln!("{}={}", helm::HELM_ENV, helm.display());
    let alertmanager = alertmanager::ensure()?;
    eprintln!("{}={}", alertmanager::ALERTMANAGER_ENV, alertmanager.display());
    let chromium = chromium::ensure()?;
    eprintln!("{}={}", chromium::CHROMIUM_ENV, chromium.display());
    let playground = project::target_dir().join("playground");
    playground::build(&playground)?;
    eprintln!("{}={}", playground::PLAYGROUND_ENV, playground.display());
    let env = [
        (envtest::ASSETS_ENV, assets.as_os_str()),
        (helm::HELM_ENV, helm.as_os_str()),
        (alertmanager::ALERTMANAGER_ENV, alertmanager.as_os_str()),
        (chromium::CHROMIUM_ENV, chromium.as_os_str()),
        (playground::PLAYGROUND_ENV, playground.as_os_str()),
    ];
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"])?;
    cargo_with_env(&["test", "--workspace", "--all-targets", "--locked"], &env)?;
    // Doc tests are not part of --all-targets.
    cargo_with_env(&["test", "--workspace", "--doc", "--locked"], &env)?;
    public_api::main(&["--check".to_owned()])?;
    embed::test()?;
    wasm::check()
}

/// The CRD files are generated by `portal crds --output-dir`; `--check` generates them into a
/// scratch directory and compares, so CI fails when someone changed the types but not the files.
fn crds(check: bool) -> Result<()> {
    let target = project_root().join("deploy/crds");
    if !check {
        let dir = target.to_string_lossy().into_owned();
        return cargo(&["run", "--quiet", "--locked", "-p", "portal", "--", "crds", "--output-dir", &dir]);
    }
    let scratch = project_root().join("target/xtask-crds-check");
    let _ = std::fs::remove_dir_all(&scratch);
    let dir = scratch.to_string_lossy().into_owned();
    cargo(&["run", "--quiet", "--locked", "-p", "portal", "--", "crds", "--output-dir", &dir])?;
    let mut drifted = Vec::new();
    for entry in std::fs::read_dir(&scratch).with_context(|| format!("reading {}", scratch.display()))? {
        let generated = entry?.path();
        let name = generated.file_name().map(|n| n.to_owned()).unwrap_or_default();
        let committed = std::fs::read_to_string(target.join(&name)).unwrap_or_default();
        if std::fs::read_to_string(&generated)? != committed {
            drifted.push(name.to_string_lossy().into_owned());
        }
    }
    if !drifted.is_empty() {
        bail!("deploy/crds/ is out of date ({}): run `cargo xtask crds` and commit the result", drifted.join(", "));
    }
    eprintln!("deploy/crds/ matches the Rust types");
    Ok(())
}

fn bench(extra: &[String]) -> Result<()> {
    if extra.first().map(String::as_str) == Some("admission") {
        return bench_admission();
    }
    if extra.first().map(String::as_str) == Some("playground") {
        return playground::bench();
    }
    if extra.first().map(String::as_str) == Some("check") {
        return bench_check::run();
    }
    if extra.first().map(String::as_str) == Some("audit") {
        return bench_audit();
    }
    if extra.first().map(String::as_str) == Some("lookups") {
        return bench_lookups();
    }
    let mut args = vec!["bench", "--locked", "-p", "portal-rules", "--bench", "evaluate", "--"];
    // `cargo xtask bench -- restricted`: the `--` is for cargo's alias, not for criterion.
    let filters = extra.strip_prefix(&["--".to_owned()]).unwrap_or(extra);
    args.extend(filters.iter().map(String::as_str));
    cargo(&args)
}

/// The audit of a release `portal` binary over a populated test control plane.
fn bench_audit() -> Result<()> {
    let assets = envtest::ensure()?;
    bench_release_binary("audit", &[(envtest::ASSETS_ENV, assets.as_os_str())])
}

/// The admission endpoint of a release `portal` binary at 500 reviews a second with lookup rules
/// and 10,000 Pods cached from a test control plane.
fn bench_lookups() -> Result<()> {
    let assets = envtest::ensure()?;
    let pods = std::ffi::OsStr::new("10000");
    bench_release_binary(
        "admission",
        &[(envtest::ASSETS_ENV, assets.as_os_str()), ("ADMISSION_BENCH_LOOKUP_PODS", pods)],
    )
}

/// The admission endpoint of a release `portal` binary under fixed offered loads.
fn bench_admission() -> Result<()> {
    bench_release_binary("admission", &[])
}

/// `cargo bench -p portal-kube --bench <bench>` against a release build of `portal`
/// (`PORTAL_BIN`), with `env` set too.
fn bench_release_binary(bench: &str, env: &[(&str, &std::ffi::OsStr)]) -> Result<()> {
    cargo(&["build", "--release", "--locked", "-p", "portal"])?;
    let binary = project_root().join("target/release/portal");
    let shown: Vec<String> = env.iter().map(|(name, value)| format!("{name}={} ", value.to_string_lossy())).collect();
    eprintln!("$ {}cargo bench -p portal-kube --bench {bench}", shown.concat());
    let status = cargo_command()
        .args(["bench", "--locked", "-p", "portal-kube", "--bench", bench])
        .env("PORTAL_BIN", &binary)
        .envs(env.iter().copied())
        .status()
        .context("running cargo bench")?;
    if !status.success() {
        bail!("the {bench} benchmark failed with {status}");
    }
    Ok(())
}
