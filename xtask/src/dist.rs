//! `cargo xtask dist`: the release binary and its archive, built reproducibly (SPEC §11).
//!
//! The `portal` binary is built for [`TARGET`] (static musl, `-C target-feature=+crt-static`)
//! with `cargo auditable build --locked --release`, so its dependency list is embedded in the
//! `.dep-v0` section that Trivy, Grype and Syft read. Reproducibility settings: every absolute
//! build path (workspace root, `CARGO_HOME`, the toolchain's sysroot, the target directory) is
//! remapped with `--remap-path-prefix` (and `-ffile-prefix-map` for the C parts, ring and
//! mimalloc), `SOURCE_DATE_EPOCH` is the HEAD commit time, `CARGO_INCREMENTAL=0`, and the
//! release profile (root `Cargo.toml`) has `codegen-units = 1`, fat LTO and `strip = true`.
//! After the build the binary is checked: ELF without `PT_INTERP` or `DT_NEEDED` (static), a
//! `.dep-v0` section naming `portal` (survived stripping), and none of the build paths in it.
//!
//! Output, in `<target dir>/dist/` (emptied first):
//!
//! ```text
//! portal                                              the binary
//! portal-<version>-x86_64-unknown-linux-musl.tar.gz   portal-<version>-<target>/{portal,LICENSE,README.md}
//! SHA256SUMS                                          `sha256sum -c` format, every file here
//! ```
//!
//! The archive is written by [`crate::archive`] (sorted entries, one mtime, numeric owners, gzip
//! without a name or a timestamp), the binary checked by [`crate::elf`], the checksums written by
//! [`crate::checksum`]. `cargo xtask repro` builds everything twice in different directories and
//! compares.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;

use crate::archive::{Tar, gzip};
use crate::checksum::{sha256_hex, write_checksums};
use crate::cmd::{cargo_command, git, run, stdout_of};
use crate::elf::check_binary;
use crate::project::{self, project_root, target_dir};

/// The target triple of the release binary.
pub const TARGET: &str = "x86_64-unknown-linux-musl";

/// The Rust release the artifacts are built with (the workflows' `RUST_TOOLCHAIN`). Checked,
/// not selected: a `rust-toolchain.toml` would make rustup download a toolchain of that name
/// even where an identical `stable` is installed, and builders reach only package registries.
pub const RUST_VERSION: &str = "1.95.0";

/// The cargo-auditable release installed (with `cargo install --locked`) when missing.
pub const CARGO_AUDITABLE_VERSION: &str = "0.7.7";

/// What the build paths are remapped to, in this order (the last matching prefix wins, so the
/// target directory, usually inside the workspace, comes last).
const REMAP_ROOT: &str = "/portal";
const REMAP_CARGO_HOME: &str = "/cargo";
const REMAP_SYSROOT: &str = "/rust";
const REMAP_TARGET: &str = "/target";

/// Facts about the release, read from the repository.
#[derive(Debug, Clone)]
pub struct Release {
    /// The `portal` package version.
    pub version: String,
    /// The workspace `repository` URL.
    pub repository: String,
    /// The `portal` package license (SPDX).
    pub license: String,
    /// `git rev-parse HEAD`.
    pub revision: String,
    /// The HEAD commit time, seconds since the epoch.
    pub source_date_epoch: u64,
}

impl Release {
    /// The facts as JSON, to hand to a build in another process (`repro --hermetic`).
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "version": self.version, "repository": self.repository, "license": self.license,
            "revision": self.revision, "sourceDateEpoch": self.source_date_epoch,
        })
        .to_string()
    }

    /// The facts [`Release::to_json`] wrote.
    pub fn from_json(text: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(text).context("parsing the release facts")?;
        let text = |name: &str| {
            value[name].as_str().map(str::to_owned).with_context(|| format!("release facts without {name}"))
        };
        Ok(Self {
            version: text("version")?,
            repository: text("repository")?,
            license: text("license")?,
            revision: text("revision")?,
            source_date_epoch: value["sourceDateEpoch"].as_u64().context("release facts without sourceDateEpoch")?,
        })
    }

    /// Fixed facts for tests.
    #[cfg(test)]
    pub fn example() -> Self {
        Self {
            version: "0.1.0".to_owned(),
            repository: "https://github.com/portal-policy/portal".to_owned(),
            license: "Apache-2.0".to_owned(),
            revision: "0123456789abcdef0123456789abcdef01234567".to_owned(),
            source_date_epoch: 1_700_000_000,
        }
    }

    /// The release facts of this workspace and its HEAD commit.
    pub fn read() -> Result<Self> {
        Self::read_at(&project_root())
    }

    /// The release facts of the workspace at `root` (a copy of this one) and of the HEAD commit
    /// of this repository.
    pub fn read_at(root: &Path) -> Result<Self> {
        let metadata = stdout_of(
            cargo_command().args(["metadata", "--no-deps", "--format-version", "1", "--locked"]).current_dir(root),
        )?;
        let metadata: Value = serde_json::from_str(&metadata).context("parsing `cargo metadata`")?;
        let package = metadata["packages"]
            .as_array()
            .and_then(|packages| packages.iter().find(|p| p["name"] == "portal"))
            .context("`cargo metadata` lists no package named portal")?;
        let field = |name: &str| {
            package[name].as_str().map(str::to_owned).with_context(|| format!("the portal package has no `{name}`"))
        };
        let revision = stdout_of(git().args(["rev-parse", "HEAD"]))?.trim().to_owned();
        let epoch = stdout_of(git().args(["log", "-1", "--format=%ct"]))?;
        let source_date_epoch =
            epoch.trim().parse().with_context(|| format!("`git log -1 --format=%ct` printed {epoch:?}"))?;
        if !stdout_of(git().args(["status", "--porcelain", "--untracked-files=no"]))?.trim().is_empty() {
            eprintln!("warning: the work tree has uncommitted changes: the artifacts are not those of {revision}");
        }
        Ok(Self {
            version: field("version")?,
            repository: field("repository")?,
            license: field("license")?,
            revision,
            source_date_epoch,
        })
    }
}

/// The result of [`build`].
#[derive(Debug)]
pub struct Dist {
    pub release: Release,
    /// The workspace built.
    pub root: PathBuf,
    /// `<target dir>/dist`.
    pub dir: PathBuf,
    /// `<dist>/portal`.
    pub binary: PathBuf,
    pub binary_sha256: String,
    /// `<dist>/portal-<version>-<target>.tar.gz`.
    pub tarball: PathBuf,
}

/// `cargo xtask dist`.
pub fn main(args: &[String]) -> Result<()> {
    if let Some(other) = args.first() {
        bail!("cargo xtask dist: unknown argument {other:?}; it takes none");
    }
    let started = Instant::now();
    let root = project_root();
    let dist = build(&root, &target_dir(), &Release::read()?)?;
    eprintln!("dist: {} in {:.0?}", dist.dir.display(), started.elapsed());
    Ok(())
}

/// Builds the release binary of the workspace at `root` into `target_dir` and writes
/// `<target_dir>/dist/`.
pub fn build(root: &Path, target_dir: &Path, release: &Release) -> Result<Dist> {
    let release = release.clone();
    ensure_rust_version()?;
    crate::cmd::add_rust_target(TARGET)?;
    let toolchain = crate::toolchain::ensure()?;
    ensure_cargo_auditable()?;

    let root = absolute(root)?;
    let target_dir = absolute(target_dir)?;
    let cargo_home = cargo_home()?;
    let sysroot = PathBuf::from(stdout_of(Command::new("rustc").args(["--print", "sysroot"]))?.trim());
    let remaps =
        [(&root, REMAP_ROOT), (&cargo_home, REMAP_CARGO_HOME), (&sysroot, REMAP_SYSROOT), (&target_dir, REMAP_TARGET)];
    let mut rustflags = vec!["-C".to_owned(), "target-feature=+crt-static".to_owned()];
    let mut cflags = Vec::new();
    for (from, to) in remaps {
        let from = from.to_str().with_context(|| format!("{} is not UTF-8", from.display()))?;
        // CFLAGS are split on whitespace.
        ensure!(!from.contains(char::is_whitespace), "the build path {from:?} contains whitespace");
        rustflags.push(format!("--remap-path-prefix={from}={to}"));
        cflags.push(format!("-ffile-prefix-map={from}={to}"));
    }
    let cc_target = TARGET.replace('-', "_");
    let epoch = release.source_date_epoch.to_string();
    let mut cargo = cargo_command();
    cargo
        // cargo-zigbuild compiles the C parts and links with the pinned `zig cc` (docs/adr/0005-hermetic-c-toolchain.md).
        .args(["auditable", "zigbuild", "--locked", "--release", "-p", "portal", "--target", TARGET])
        .env("PATH", toolchain.path(&cargo_home.join("bin"))?)
        .env("CC_x86_64_unknown_linux_gnu", &toolchain.host_cc)
        .env("AR_x86_64_unknown_linux_gnu", &toolchain.host_ar)
        .env("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER", &toolchain.host_cc)
        .env("ZIG_GLOBAL_CACHE_DIR", target_dir.join("zig-cache"))
        .env("ZIG_LOCAL_CACHE_DIR", target_dir.join("zig-cache"))
        .env("CARGO_TARGET_DIR", &target_dir)
        // Takes precedence over RUSTFLAGS and any rustflags in a cargo config.
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags.join("\x1f"))
        .env(format!("CFLAGS_{cc_target}"), cflags.join(" "))
        .env("CARGO_INCREMENTAL", "0")
        .env("SOURCE_DATE_EPOCH", &epoch)
        .current_dir(&root);
    eprintln!("SOURCE_DATE_EPOCH={epoch} CARGO_TARGET_DIR={}", target_dir.display());
    eprintln!("RUSTFLAGS: {}", rustflags.join(" "));
    run(&mut cargo)?;

    let built = target_dir.join(TARGET).join("release/portal");
    let bytes = fs::read(&built).with_context(|| format!("reading {}", built.display()))?;
    check_binary(&bytes).with_context(|| format!("checking {}", built.display()))?;
    for (from, _) in remaps {
        let needle = from.as_os_str().as_encoded_bytes();
        ensure!(
            !contains(&bytes, needle),
            "{} contains the build path {}: a path escaped --remap-path-prefix, so the build is not reproducible",
            built.display(),
            from.display()
        );
    }

    let dir = target_dir.join("dist");
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("emptying {}", dir.display()))?;
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let binary = dir.join("portal");
    fs::write(&binary, &bytes).with_context(|| format!("writing {}", binary.display()))?;
    fs::set_permissions(&binary, fs::Permissions::from_mode(0o755))?;

    let stem = format!("portal-{}-{TARGET}", release.version);
    let mut tar = Tar::new(release.source_date_epoch);
    tar.dir(&stem, 0o755, 0, 0)?;
    tar.file(&format!("{stem}/portal"), 0o755, 0, 0, bytes.clone())?;
    for name in ["LICENSE", "README.md"] {
        let data = fs::read(root.join(name)).with_context(|| format!("reading {name}"))?;
        tar.file(&format!("{stem}/{name}"), 0o644, 0, 0, data)?;
    }
    let tarball = dir.join(format!("{stem}.tar.gz"));
    fs::write(&tarball, gzip(&tar.finish()?)?).with_context(|| format!("writing {}", tarball.display()))?;
    write_checksums(&dir)?;

    let binary_sha256 = sha256_hex(&bytes);
    eprintln!("portal: {} bytes, sha256 {binary_sha256}", bytes.len());
    Ok(Dist { release, root, dir, binary, binary_sha256, tarball })
}

fn ensure_rust_version() -> Result<()> {
    let version = stdout_of(Command::new("rustc").arg("--version"))?;
    ensure!(
        version.starts_with(&format!("rustc {RUST_VERSION} ")),
        "the release is built with Rust {RUST_VERSION}, and this rustc is {}: \
         `rustup toolchain install {RUST_VERSION}` and `rustup override set {RUST_VERSION}` here",
        version.trim()
    );
    Ok(())
}

fn ensure_cargo_auditable() -> Result<()> {
    let installed = stdout_of(cargo_command().args(["install", "--list"]))?;
    let wanted = format!("cargo-auditable v{CARGO_AUDITABLE_VERSION}:");
    if !installed.lines().any(|line| line == wanted) {
        run(cargo_command().args(["install", "--locked", "cargo-auditable", "--version", CARGO_AUDITABLE_VERSION]))?;
    }
    Ok(())
}

/// `$CARGO_HOME` made absolute when it is set (cargo resolves it against the working directory),
/// else `$HOME/.cargo`.
fn cargo_home() -> Result<PathBuf> {
    match std::env::var_os("CARGO_HOME") {
        Some(home) => absolute(Path::new(&home)),
        None => project::cargo_home(),
    }
}

/// `path` made absolute and, where it exists, free of symbolic links (as cargo and rustc see it).
fn absolute(path: &Path) -> Result<PathBuf> {
    let path = std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))?;
    Ok(fs::canonicalize(&path).unwrap_or(path))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|window| window == needle)
}
