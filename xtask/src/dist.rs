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
//! Archives are written here, not by `tar`/`gzip`: entries sorted, every mtime
//! `SOURCE_DATE_EPOCH`, uid/gid 0 and no user or group names, gzip without a name or a
//! timestamp. `cargo xtask repro` builds everything twice in different directories and compares.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use flate2::read::ZlibDecoder;
use flate2::{Compression, GzBuilder};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::{image, project_root};

/// The target triple of the release binary.
pub const TARGET: &str = "x86_64-unknown-linux-musl";

/// The cargo-auditable release installed (with `cargo install --locked`) when missing.
pub const CARGO_AUDITABLE_VERSION: &str = "0.7.7";

/// The ELF section in which cargo-auditable stores the zlib-compressed dependency list.
const AUDITABLE_SECTION: &str = ".dep-v0";

/// The checksum file, in `sha256sum -c` format.
pub const CHECKSUMS: &str = "SHA256SUMS";

/// What the build paths are remapped to, in this order (the last matching prefix wins, so the
/// target directory, usually inside the workspace, comes last).
const REMAP_ROOT: &str = "/portal";
const REMAP_CARGO_HOME: &str = "/cargo";
const REMAP_SYSROOT: &str = "/rust";
const REMAP_TARGET: &str = "/target";

const MUSL_GCC_MISSING: &str = "musl-gcc is required to compile the C parts of the static binary \
     (ring, mimalloc) for x86_64-unknown-linux-musl: install it with `apt-get install musl-tools` \
     (Debian, Ubuntu) and rerun";

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

/// `cargo xtask checksums`: rewrites `SHA256SUMS` over every file in the dist directory (after
/// `cargo xtask sbom` or anything else added files there).
pub fn checksums_main() -> Result<()> {
    let dir = target_dir().join("dist");
    write_checksums(&dir)?;
    print!("{}", fs::read_to_string(dir.join(CHECKSUMS))?);
    Ok(())
}

/// `$CARGO_TARGET_DIR` (relative to the workspace root) or the workspace's `target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => project_root().join(dir),
        None => project_root().join("target"),
    }
}

/// Builds the release binary of the workspace at `root` into `target_dir` and writes
/// `<target_dir>/dist/`.
pub fn build(root: &Path, target_dir: &Path, release: &Release) -> Result<Dist> {
    let release = release.clone();
    ensure_rust_target()?;
    ensure_musl_gcc()?;
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
        .args(["auditable", "build", "--locked", "--release", "-p", "portal", "--target", TARGET])
        .env("CARGO_TARGET_DIR", &target_dir)
        // Takes precedence over RUSTFLAGS and any rustflags in a cargo config.
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags.join("\x1f"))
        .env(format!("CC_{cc_target}"), "musl-gcc")
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

/// `cargo xtask repro`: builds dist and image twice and fails unless the binary, the archives and
/// the image are byte-identical. The work tree (tracked and untracked files, not ignored ones) is
/// copied once, so later edits do not reach the second build, and each build has its own copy
/// and its own empty target directory at a different absolute path. On success both are
/// removed; on failure they are kept for `diffoscope`.
pub fn repro() -> Result<()> {
    let base = std::env::temp_dir();
    let tops = [base.join("portal-repro-a"), base.join("portal-repro-b")];
    let roots = [tops[0].join("src"), tops[1].join("x/src")];
    let target_dirs = [tops[0].join("target"), tops[1].join("x/target")];
    for top in &tops {
        if top.exists() {
            fs::remove_dir_all(top).with_context(|| format!("removing {}", top.display()))?;
        }
    }
    // One snapshot of the sources and of the HEAD commit for both builds.
    let files = work_tree_files()?;
    copy_files(&files, &project_root(), &roots[0])?;
    copy_files(&files, &roots[0], &roots[1])?;
    let release = Release::read_at(&roots[0])?;
    let mut results = Vec::new();
    for (root, target_dir) in roots.iter().zip(&target_dirs) {
        let started = Instant::now();
        let dist = build(root, target_dir, &release)?;
        let image = image::build(&dist)?;
        eprintln!("repro: build in {} took {:.0?}", target_dir.display(), started.elapsed());
        results.push((dist, image));
    }
    let mut differ = Vec::new();
    let [(dist_a, image_a), (dist_b, image_b)] = &results[..] else { bail!("repro builds twice") };
    for ((name, a), (_, b)) in artifacts(dist_a, image_a)?.into_iter().zip(artifacts(dist_b, image_b)?) {
        println!("{name}:\n  {a}  ({})\n  {b}  ({})", target_dirs[0].display(), target_dirs[1].display());
        if a != b {
            differ.push(name);
        }
    }
    if !differ.is_empty() {
        bail!(
            "not reproducible: {} differ between {} and {} (kept for inspection, e.g. with diffoscope)",
            differ.join(", "),
            tops[0].display(),
            tops[1].display()
        );
    }
    image::verify(image_a)?;
    for top in &tops {
        fs::remove_dir_all(top).with_context(|| format!("removing {}", top.display()))?;
    }
    println!("reproducible: both builds are byte-identical");
    Ok(())
}

/// The files git sees in the work tree: tracked and untracked, not ignored.
fn work_tree_files() -> Result<Vec<String>> {
    let listing = stdout_of(git().args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"]))?;
    Ok(listing.split('\0').filter(|name| !name.is_empty()).map(str::to_owned).collect())
}

/// Copies `files` (relative paths) from `from` to `to`, keeping modes and symbolic links.
fn copy_files(files: &[String], from: &Path, to: &Path) -> Result<()> {
    for name in files {
        let source = from.join(name);
        // Listed by --cached but deleted in the work tree.
        let Ok(metadata) = fs::symlink_metadata(&source) else { continue };
        let target = to.join(name);
        fs::create_dir_all(target.parent().unwrap_or(to))?;
        if metadata.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&source)?, &target)?;
        } else if metadata.is_file() {
            fs::copy(&source, &target).with_context(|| format!("copying {}", source.display()))?;
        }
    }
    Ok(())
}

/// The digests `repro` compares, by name.
fn artifacts(dist: &Dist, image: &image::Image) -> Result<Vec<(&'static str, String)>> {
    Ok(vec![
        ("binary sha256", dist.binary_sha256.clone()),
        ("tarball sha256", sha256_hex(&fs::read(&dist.tarball)?)),
        ("image manifest digest", image.manifest_digest.clone()),
        ("image archive sha256", sha256_hex(&fs::read(&image.archive)?)),
    ])
}

fn ensure_rust_target() -> Result<()> {
    let installed = stdout_of(Command::new("rustup").args(["target", "list", "--installed"]))?;
    if !installed.lines().any(|line| line.trim() == TARGET) {
        run(Command::new("rustup").args(["target", "add", TARGET]))?;
    }
    Ok(())
}

fn ensure_musl_gcc() -> Result<()> {
    match Command::new("musl-gcc").arg("--version").output() {
        Ok(output) if output.status.success() => Ok(()),
        _ => bail!(MUSL_GCC_MISSING),
    }
}

fn ensure_cargo_auditable() -> Result<()> {
    let installed = stdout_of(cargo_command().args(["install", "--list"]))?;
    let wanted = format!("cargo-auditable v{CARGO_AUDITABLE_VERSION}:");
    if !installed.lines().any(|line| line == wanted) {
        run(cargo_command().args(["install", "--locked", "cargo-auditable", "--version", CARGO_AUDITABLE_VERSION]))?;
    }
    Ok(())
}

fn cargo_home() -> Result<PathBuf> {
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        return absolute(Path::new(&home));
    }
    let home = std::env::var_os("HOME").context("neither CARGO_HOME nor HOME is set")?;
    Ok(Path::new(&home).join(".cargo"))
}

/// `path` made absolute and, where it exists, free of symbolic links (as cargo and rustc see it).
fn absolute(path: &Path) -> Result<PathBuf> {
    let path = std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))?;
    Ok(fs::canonicalize(&path).unwrap_or(path))
}

/// Static (no `PT_INTERP`, no `DT_NEEDED`) and carrying a cargo-auditable dependency list that
/// names `portal`.
fn check_binary(bytes: &[u8]) -> Result<()> {
    let elf = Elf::parse(bytes)?;
    ensure!(!elf.interpreter, "it has a program interpreter (PT_INTERP): it is dynamically linked");
    ensure!(elf.needed == 0, "it needs {} shared libraries (DT_NEEDED): it is not static", elf.needed);
    let section = elf.section(AUDITABLE_SECTION).with_context(|| {
        format!("it has no {AUDITABLE_SECTION} section: the dependency list of cargo-auditable was stripped")
    })?;
    let mut json = String::new();
    ZlibDecoder::new(section)
        .read_to_string(&mut json)
        .with_context(|| format!("decompressing {AUDITABLE_SECTION}"))?;
    let list: Value = serde_json::from_str(&json).with_context(|| format!("parsing {AUDITABLE_SECTION}"))?;
    let packages = list["packages"].as_array().map_or(0, Vec::len);
    ensure!(
        list["packages"].as_array().is_some_and(|p| p.iter().any(|p| p["name"] == "portal" && p["root"] == true)),
        "{AUDITABLE_SECTION} does not name portal as its root package"
    );
    eprintln!("static ELF; {AUDITABLE_SECTION}: {packages} packages");
    Ok(())
}

/// The few facts of a little-endian ELF64 file the checks need.
#[derive(Debug)]
pub struct Elf<'a> {
    /// A `PT_INTERP` program header is present.
    pub interpreter: bool,
    /// `DT_NEEDED` entries in the dynamic section.
    pub needed: usize,
    /// Section name → contents.
    pub sections: BTreeMap<String, &'a [u8]>,
}

impl<'a> Elf<'a> {
    pub fn parse(b: &'a [u8]) -> Result<Self> {
        ensure!(b.get(..4) == Some(b"\x7fELF".as_slice()), "not an ELF file");
        ensure!(b.get(4..6) == Some([2u8, 1].as_slice()), "not a little-endian 64-bit ELF file");
        let slice = |offset: u64, len: u64| -> Result<&'a [u8]> {
            let start = usize::try_from(offset)?;
            let end = start.checked_add(usize::try_from(len)?).context("ELF offset overflows")?;
            b.get(start..end).with_context(|| format!("ELF range {start}..{end} is past the end of the file"))
        };
        let u16_at = |offset: u64| -> Result<u64> { Ok(u16::from_le_bytes(slice(offset, 2)?.try_into()?).into()) };
        let u32_at = |offset: u64| -> Result<u64> { Ok(u32::from_le_bytes(slice(offset, 4)?.try_into()?).into()) };
        let u64_at = |offset: u64| -> Result<u64> { Ok(u64::from_le_bytes(slice(offset, 8)?.try_into()?)) };

        let (phoff, phentsize, phnum) = (u64_at(0x20)?, u16_at(0x36)?, u16_at(0x38)?);
        let (mut interpreter, mut needed) = (false, 0);
        for i in 0..phnum {
            let ph = phoff + i * phentsize;
            match u32_at(ph)? {
                3 => interpreter = true,
                2 => {
                    let (offset, size) = (u64_at(ph + 8)?, u64_at(ph + 0x20)?);
                    for entry in (offset..offset + size).step_by(16) {
                        match u64_at(entry)? {
                            0 => break,
                            1 => needed += 1,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }

        let (shoff, shentsize, shnum, shstrndx) = (u64_at(0x28)?, u16_at(0x3a)?, u16_at(0x3c)?, u16_at(0x3e)?);
        let header = |i: u64| shoff + i * shentsize;
        let names = slice(u64_at(header(shstrndx) + 0x18)?, u64_at(header(shstrndx) + 0x20)?)?;
        let mut sections = BTreeMap::new();
        for i in 0..shnum {
            let sh = header(i);
            let name_at = usize::try_from(u32_at(sh)?)?;
            let name = names.get(name_at..).context("ELF section name past the string table")?;
            let name = name.split(|&c| c == 0).next().unwrap_or_default();
            // SHT_NOBITS (.bss) occupies no bytes of the file.
            let data = if u32_at(sh + 4)? == 8 { &[][..] } else { slice(u64_at(sh + 0x18)?, u64_at(sh + 0x20)?)? };
            sections.insert(String::from_utf8_lossy(name).into_owned(), data);
        }
        Ok(Self { interpreter, needed, sections })
    }

    pub fn section(&self, name: &str) -> Option<&'a [u8]> {
        self.sections.get(name).copied()
    }
}

/// A tar archive (POSIX ustar) written deterministically: entries in path order whatever the
/// order they were added in, one mtime for all, numeric owners only (empty user and group names).
#[derive(Debug)]
pub struct Tar {
    mtime: u64,
    /// Archive path (directories end with `/`) → entry.
    entries: BTreeMap<String, TarEntry>,
}

/// Mode, uid, gid and contents (`None` for a directory).
type TarEntry = (u32, u32, u32, Option<Vec<u8>>);

impl Tar {
    pub fn new(mtime: u64) -> Self {
        Self { mtime, entries: BTreeMap::new() }
    }

    pub fn dir(&mut self, path: &str, mode: u32, uid: u32, gid: u32) -> Result<()> {
        self.add(format!("{}/", path.trim_end_matches('/')), (mode, uid, gid, None))
    }

    pub fn file(&mut self, path: &str, mode: u32, uid: u32, gid: u32, data: Vec<u8>) -> Result<()> {
        self.add(path.to_owned(), (mode, uid, gid, Some(data)))
    }

    fn add(&mut self, path: String, entry: TarEntry) -> Result<()> {
        ensure!(
            !path.starts_with('/') && !path.split('/').any(|part| part == ".." || part == "."),
            "tar entry {path:?}: paths are relative, without . or .."
        );
        ensure!(self.entries.insert(path.clone(), entry).is_none(), "tar entry {path:?} added twice");
        Ok(())
    }

    /// The archive bytes. Every entry's parent directory must have been added.
    pub fn finish(self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        for (path, (mode, uid, gid, data)) in &self.entries {
            if let Some((parent, _)) = path.trim_end_matches('/').rsplit_once('/') {
                ensure!(self.entries.contains_key(&format!("{parent}/")), "tar entry {path:?}: add {parent}/ first");
            }
            let size = data.as_ref().map_or(0, Vec::len);
            out.extend_from_slice(&ustar_header(path, *mode, *uid, *gid, size as u64, self.mtime, data.is_none())?);
            if let Some(data) = data {
                out.extend_from_slice(data);
                out.resize(out.len().next_multiple_of(512), 0);
            }
        }
        // The end-of-archive marker: two zero blocks.
        out.resize(out.len() + 1024, 0);
        Ok(out)
    }
}

fn ustar_header(path: &str, mode: u32, uid: u32, gid: u32, size: u64, mtime: u64, dir: bool) -> Result<[u8; 512]> {
    let mut h = [0u8; 512];
    // Names longer than 100 bytes go into `prefix` (155 bytes), split at a slash.
    let (prefix, name) = if path.len() <= 100 {
        ("", path)
    } else {
        let split = path.char_indices().rfind(|&(i, c)| c == '/' && i <= 155 && path.len() - i - 1 <= 100);
        let (i, _) = split.with_context(|| format!("tar entry {path:?} is too long for ustar"))?;
        (&path[..i], &path[i + 1..])
    };
    let put = |h: &mut [u8; 512], at: usize, bytes: &[u8]| h[at..at + bytes.len()].copy_from_slice(bytes);
    let octal = |h: &mut [u8; 512], at: usize, width: usize, value: u64| -> Result<()> {
        let text = format!("{value:0digits$o}", digits = width - 1);
        ensure!(text.len() == width - 1, "tar entry {path:?}: {value} does not fit the header");
        put(h, at, text.as_bytes());
        Ok(())
    };
    put(&mut h, 0, name.as_bytes());
    octal(&mut h, 100, 8, mode.into())?;
    octal(&mut h, 108, 8, uid.into())?;
    octal(&mut h, 116, 8, gid.into())?;
    octal(&mut h, 124, 12, size)?;
    octal(&mut h, 136, 12, mtime)?;
    h[156] = if dir { b'5' } else { b'0' };
    put(&mut h, 257, b"ustar\x0000");
    // uname (265) and gname (297) stay empty; devmajor/devminor are zero.
    octal(&mut h, 329, 8, 0)?;
    octal(&mut h, 337, 8, 0)?;
    put(&mut h, 345, prefix.as_bytes());
    // The checksum is computed with its own field filled with spaces.
    put(&mut h, 148, b"        ");
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    put(&mut h, 148, format!("{sum:06o}\0 ").as_bytes());
    Ok(h)
}

/// gzip at the best compression, with no file name and a zero timestamp (RFC 1952 MTIME = 0),
/// so equal input gives equal output.
pub fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = GzBuilder::new().mtime(0).write(Vec::new(), Compression::best());
    encoder.write_all(data)?;
    Ok(encoder.finish()?)
}

pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `SHA256SUMS` over every regular file directly in `dir`, in name order.
pub fn write_checksums(dir: &Path) -> Result<()> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let name =
            entry.file_name().into_string().map_err(|name| anyhow::anyhow!("file name {name:?} is not UTF-8"))?;
        if entry.file_type()?.is_file() && name != CHECKSUMS {
            names.push(name);
        }
    }
    names.sort();
    let mut sums = String::new();
    for name in names {
        let data = fs::read(dir.join(&name)).with_context(|| format!("reading {name}"))?;
        sums.push_str(&format!("{}  {name}\n", sha256_hex(&data)));
    }
    fs::write(dir.join(CHECKSUMS), sums).with_context(|| format!("writing {}", dir.join(CHECKSUMS).display()))
}

/// `epoch` (seconds, UTC) as RFC 3339, e.g. `2023-11-14T22:13:20Z`.
pub fn rfc3339(epoch: u64) -> String {
    // Days to civil date: Howard Hinnant's `civil_from_days`, for days after 1970-01-01.
    let (days, secs) = (epoch / 86_400, epoch % 86_400);
    let z = days + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|window| window == needle)
}

pub fn cargo_command() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command.current_dir(project_root());
    command
}

fn git() -> Command {
    let mut command = Command::new("git");
    command.current_dir(project_root());
    command
}

fn describe(command: &Command) -> String {
    let mut words = vec![command.get_program().to_string_lossy().into_owned()];
    words.extend(command.get_args().map(|arg| arg.to_string_lossy().into_owned()));
    words.join(" ")
}

/// Runs `command` (echoed to stderr), failing when it fails.
pub fn run(command: &mut Command) -> Result<()> {
    let line = describe(command);
    eprintln!("$ {line}");
    let status = command.status().with_context(|| format!("starting `{line}`"))?;
    ensure!(status.success(), "`{line}` failed with {status}");
    Ok(())
}

/// Runs `command` and returns its standard output, failing (with its standard error) when it fails.
pub fn stdout_of(command: &mut Command) -> Result<String> {
    let line = describe(command);
    let output = command.output().with_context(|| format!("starting `{line}`"))?;
    ensure!(
        output.status.success(),
        "`{line}` failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    String::from_utf8(output.stdout).with_context(|| format!("`{line}` printed something that is not UTF-8"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn sample() -> Tar {
        let mut tar = Tar::new(1_700_000_000);
        // Added out of order on purpose.
        tar.file("top/bin/tool", 0o755, 0, 0, b"#!binary\n".to_vec()).unwrap();
        tar.dir("top/tmp", 0o1777, 0, 0).unwrap();
        tar.dir("top", 0o755, 0, 0).unwrap();
        tar.dir("top/bin", 0o755, 0, 0).unwrap();
        tar.dir("top/home", 0o755, 0, 0).unwrap();
        tar.dir("top/home/nonroot", 0o700, 65532, 65532).unwrap();
        let long = format!("top/{}/{}", "d".repeat(60), "f".repeat(90));
        tar.dir(long.rsplit_once('/').unwrap().0, 0o755, 0, 0).unwrap();
        tar.file(&long, 0o644, 0, 0, vec![7; 1000]).unwrap();
        tar
    }

    /// GNU tar reads what [`Tar`] writes, with the modes, owners, names and mtime given.
    #[test]
    fn tar_is_read_by_gnu_tar_with_the_metadata_given() {
        let dir = std::env::temp_dir().join(format!("xtask-tar-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let archive = dir.join("sample.tar.gz");
        fs::write(&archive, gzip(&sample().finish().unwrap()).unwrap()).unwrap();
        let listing = stdout_of(
            Command::new("tar").args(["--list", "--verbose", "--numeric-owner", "--full-time", "-zf"]).arg(&archive),
        )
        .unwrap();
        fs::remove_dir_all(&dir).unwrap();
        let lines: Vec<Vec<&str>> = listing.lines().map(|line| line.split_whitespace().collect()).collect();
        let long = format!("top/{}/{}", "d".repeat(60), "f".repeat(90));
        let expected = [
            ("drwxr-xr-x", "0/0", "top/"),
            ("drwxr-xr-x", "0/0", "top/bin/"),
            ("-rwxr-xr-x", "0/0", "top/bin/tool"),
            ("drwxr-xr-x", "0/0", &format!("top/{}/", "d".repeat(60))),
            ("-rw-r--r--", "0/0", &long),
            ("drwxr-xr-x", "0/0", "top/home/"),
            ("drwx------", "65532/65532", "top/home/nonroot/"),
            ("drwxrwxrwt", "0/0", "top/tmp/"),
        ];
        assert_eq!(lines.len(), expected.len(), "{listing}");
        for (line, (mode, owner, name)) in lines.iter().zip(expected) {
            assert_eq!((line[0], line[1], line[5]), (mode, owner, name), "{listing}");
            assert_eq!((line[3], line[4]), ("2023-11-14", "22:13:20"), "{listing}");
        }
    }

    #[test]
    fn archives_do_not_depend_on_insertion_order_or_time() {
        let a = gzip(&sample().finish().unwrap()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let b = gzip(&sample().finish().unwrap()).unwrap();
        assert_eq!(a, b);
        // gzip header: no FNAME flag, MTIME 0.
        assert_eq!(&a[..8], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn tar_rejects_missing_parents_and_escaping_paths() {
        let mut tar = Tar::new(0);
        tar.file("a/b", 0o644, 0, 0, Vec::new()).unwrap();
        assert!(tar.finish().unwrap_err().to_string().contains("add a/ first"));
        assert!(Tar::new(0).file("/etc/passwd", 0o644, 0, 0, Vec::new()).is_err());
        assert!(Tar::new(0).file("a/../b", 0o644, 0, 0, Vec::new()).is_err());
    }

    #[test]
    fn rfc3339_formats_utc_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn sha256_matches_the_standard_test_vector() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    /// The test binary itself is dynamically linked: the ELF reader must see its interpreter,
    /// its DT_NEEDED entries and its sections.
    #[test]
    fn elf_reader_sees_the_interpreter_of_a_dynamic_binary() {
        let bytes = fs::read(std::env::current_exe().unwrap()).unwrap();
        let elf = Elf::parse(&bytes).unwrap();
        assert!(elf.interpreter);
        assert!(elf.needed > 0);
        assert!(elf.section(".text").is_some_and(|text| !text.is_empty()));
        assert!(elf.section(AUDITABLE_SECTION).is_none());
        assert!(check_binary(&bytes).unwrap_err().to_string().contains("PT_INTERP"));
        assert!(Elf::parse(b"#!/bin/sh\n").is_err());
    }
}
