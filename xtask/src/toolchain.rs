//! The pinned C toolchain of the release build (docs/adr/0005-hermetic-c-toolchain.md): Zig, from its PyPI wheel `ziglang`
//! at an exact version and checksum, driven by `cargo-zigbuild` at an exact version, both in the
//! per-user tool cache beside the test control plane. No host C compiler, linker or libc
//! headers take part in `cargo xtask dist`: ring's and mimalloc's C code and the final link go
//! through `zig cc` for the musl target, whose libc comes with Zig.
//!
//! ```text
//! <envtest cache root>/tools/zig-0.15.2/zig                 (and its lib/)
//! <envtest cache root>/tools/cargo-zigbuild-0.24.1/bin/cargo-zigbuild
//! ```
//!
//! The first run downloads the wheel with `python3 -m pip download` (Python ships on the
//! builders; pip resolves nothing, `--no-deps`, one exact file), checks its SHA-256 and unpacks
//! it with Python's `zipfile`; `cargo install --locked` builds cargo-zigbuild from crates.io.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};

use crate::checksum::sha256_hex;
use crate::cmd::{cargo_command, run};

/// The Zig release, as the PyPI package `ziglang` ships it.
pub const ZIG_VERSION: &str = "0.15.2";
/// The wheel of that release for x86_64 Linux, and its SHA-256 (as PyPI lists it).
const ZIG_WHEEL: &str = "ziglang-0.15.2-py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.musllinux_1_1_x86_64.whl";
pub const ZIG_WHEEL_SHA256: &str = "806316453d1ede7174ed3fefb8e5348154629089c3bb5fe812dfd0e172fac130";
/// The cargo-zigbuild release.
pub const CARGO_ZIGBUILD_VERSION: &str = "0.24.1";

/// Where the pinned tools are.
#[derive(Debug, Clone)]
pub struct Toolchain {
    /// The directory holding `zig`.
    pub zig_dir: PathBuf,
    /// The directory holding `cargo-zigbuild`.
    pub zigbuild_dir: PathBuf,
    /// `zig cc` (through cargo-zigbuild's argument filter) and `zig ar` for the build machine
    /// itself: build scripts and the C code they compile (psm's, for instance) run on the host,
    /// and without these they would need the host's `cc`.
    pub host_cc: PathBuf,
    pub host_ar: PathBuf,
}

impl Toolchain {
    /// `PATH` for the build: the pinned tools, then Cargo's and rustup's own directories only —
    /// nothing of the host's `PATH`, so no host `cc`, `gcc` or `musl-gcc` can be picked up.
    pub fn path(&self, cargo_bin: &Path) -> Result<std::ffi::OsString> {
        std::env::join_paths([self.zig_dir.as_path(), self.zigbuild_dir.as_path(), cargo_bin])
            .context("joining the build PATH")
    }
}

/// The pinned tools, fetched or built first when the cache does not have them.
pub fn ensure() -> Result<Toolchain> {
    let tools = crate::envtest::cache_root(|name| std::env::var_os(name))?.join("tools");
    let zig_dir = tools.join(format!("zig-{ZIG_VERSION}"));
    if !zig_dir.join("zig").is_file() {
        fetch_zig(&tools, &zig_dir)?;
    }
    let zigbuild_root = tools.join(format!("cargo-zigbuild-{CARGO_ZIGBUILD_VERSION}"));
    let zigbuild_dir = zigbuild_root.join("bin");
    if !zigbuild_dir.join("cargo-zigbuild").is_file() {
        eprintln!("toolchain: building cargo-zigbuild {CARGO_ZIGBUILD_VERSION} (first run only)");
        let root = zigbuild_root.to_str().context("the tool cache path is not UTF-8")?;
        run(cargo_command().args([
            "install",
            "--locked",
            "cargo-zigbuild",
            "--version",
            CARGO_ZIGBUILD_VERSION,
            "--root",
            root,
        ]))?;
    }
    let wrappers = tools.join(format!("zig-{ZIG_VERSION}-host"));
    fs::create_dir_all(&wrappers).with_context(|| format!("creating {}", wrappers.display()))?;
    let zigbuild = zigbuild_dir.join("cargo-zigbuild");
    let host_cc =
        wrapper(&wrappers, "cc", &format!("exec '{}' zig cc -- -target x86_64-linux-gnu \"$@\"", zigbuild.display()))?;
    let host_ar = wrapper(&wrappers, "ar", &format!("exec '{}' ar \"$@\"", zig_dir.join("zig").display()))?;
    Ok(Toolchain { zig_dir, zigbuild_dir, host_cc, host_ar })
}

/// A `/bin/sh` script `name` in `dir` that runs `command`; written only when it changed.
fn wrapper(dir: &Path, name: &str, command: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    let text = format!("#!/bin/sh\n{command}\n");
    if fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
    }
    Ok(path)
}

fn fetch_zig(tools: &Path, zig_dir: &Path) -> Result<()> {
    let partial = tools.join(format!(".zig-{ZIG_VERSION}.{}.partial", std::process::id()));
    let _ = fs::remove_dir_all(&partial);
    fs::create_dir_all(&partial).with_context(|| format!("creating {}", partial.display()))?;
    eprintln!("toolchain: fetching Zig {ZIG_VERSION} (PyPI ziglang, ~90 MB, first run only)");
    let partial_str = partial.to_str().context("the tool cache path is not UTF-8")?;
    run(Command::new("python3").args([
        "-m",
        "pip",
        "download",
        &format!("ziglang=={ZIG_VERSION}"),
        "--no-deps",
        "--only-binary",
        ":all:",
        "--platform",
        "manylinux_2_12_x86_64",
        "--disable-pip-version-check",
        "--quiet",
        "-d",
        partial_str,
    ]))
    .context("downloading Zig needs python3 with pip and access to PyPI")?;
    let wheel = partial.join(ZIG_WHEEL);
    let bytes = fs::read(&wheel).with_context(|| format!("reading {} (pip fetched another file?)", wheel.display()))?;
    let digest = sha256_hex(&bytes);
    ensure!(
        digest == ZIG_WHEEL_SHA256,
        "{ZIG_WHEEL} has SHA-256 {digest}, not the pinned {ZIG_WHEEL_SHA256}: refusing to build with it"
    );
    let unpacked = partial.join("unpacked");
    run(Command::new("python3").args(["-m", "zipfile", "-e"]).arg(&wheel).arg(&unpacked))?;
    let zig = unpacked.join("ziglang").join("zig");
    if !zig.is_file() {
        bail!("the Zig wheel has no ziglang/zig");
    }
    fs::set_permissions(&zig, fs::Permissions::from_mode(0o755))?;
    let _ = fs::remove_dir_all(zig_dir);
    fs::rename(unpacked.join("ziglang"), zig_dir).with_context(|| format!("moving Zig to {}", zig_dir.display()))?;
    let _ = fs::remove_dir_all(&partial);
    Ok(())
}
