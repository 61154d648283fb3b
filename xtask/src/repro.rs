//! `cargo xtask repro`: proof that the release is reproducible. It builds dist and image twice,
//! from two copies of the source at different absolute paths into two empty target
//! directories, and compares the results byte for byte. It sits above [`crate::dist`] and
//! [`crate::image`], which know nothing of it.
//!
//! `--hermetic` runs the second build in another process whose environment differs in
//! everything this machine allows: `env -i` with another HOME, locale, time zone, umask and
//! working directory, a `PATH` without any C compiler, and its sources copied in the reverse order
//! (so the directory entries are laid down differently).

use std::fs;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::checksum::sha256_hex;
use crate::cmd::{git, stdout_of};
use crate::dist::{self, Dist, Release};
use crate::image::{self, Image};
use crate::project::project_root;

/// `cargo xtask repro`: builds dist and image twice and fails unless the binary, the archives and
/// the image are byte-identical. The work tree (tracked and untracked files, not ignored ones) is
/// copied once, so later edits do not reach the second build, and each build has its own copy
/// and its own empty target directory at a different absolute path. On success both are
/// removed; on failure they are kept for `diffoscope`.
pub fn main(args: &[String]) -> Result<()> {
    let hermetic = match args.first().map(String::as_str) {
        None => false,
        Some("--hermetic") => true,
        Some(other) => bail!("cargo xtask repro: unknown argument {other:?}; use no argument or --hermetic"),
    };
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
    let mut files = work_tree_files()?;
    copy_files(&files, &project_root(), &roots[0])?;
    if hermetic {
        files.reverse();
    }
    copy_files(&files, &roots[0], &roots[1])?;
    let release = Release::read_at(&roots[0])?;
    let started = Instant::now();
    let dist_a = dist::build(&roots[0], &target_dirs[0], &release)?;
    let image_a = image::build(&dist_a)?;
    eprintln!("repro: build in {} took {:.0?}", target_dirs[0].display(), started.elapsed());
    let first = artifacts(&dist_a, &image_a)?;
    let started = Instant::now();
    let second = if hermetic {
        hermetic_build(&tops[1], &roots[1], &target_dirs[1], &release)?
    } else {
        let dist = dist::build(&roots[1], &target_dirs[1], &release)?;
        let image = image::build(&dist)?;
        artifacts(&dist, &image)?
    };
    eprintln!("repro: build in {} took {:.0?}", target_dirs[1].display(), started.elapsed());
    let mut differ = Vec::new();
    let image_a = &image_a;
    for ((name, a), (_, b)) in first.into_iter().zip(second) {
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

/// `repro-build ROOT TARGET RELEASE`: one build, its digests printed as `name=digest` lines, for
/// the second build of `repro --hermetic`.
pub fn build_main(args: &[String]) -> Result<()> {
    let [root, target_dir, release] = args else {
        bail!("usage: cargo xtask repro-build ROOT TARGET_DIR RELEASE_JSON")
    };
    let dist = dist::build(Path::new(root), Path::new(target_dir), &Release::from_json(release)?)?;
    let image = image::build(&dist)?;
    for (name, digest) in artifacts(&dist, &image)? {
        println!("{name}={digest}");
    }
    Ok(())
}

/// The second build of `--hermetic`, in a process with another environment (see the module
/// documentation); its digests.
fn hermetic_build(
    top: &Path,
    root: &Path,
    target_dir: &Path,
    release: &Release,
) -> Result<Vec<(&'static str, String)>> {
    let home = top.join("home");
    let work = top.join("elsewhere");
    for dir in [&home, &work] {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let xtask = std::env::current_exe().context("finding the xtask binary")?;
    let cargo_home = crate::project::cargo_home()?;
    let rustup_home = std::env::var_os("RUSTUP_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".rustup"));
    let cache = crate::envtest::cache_root(|name| std::env::var_os(name))?;
    // No C compiler on PATH: only Cargo's and rustup's proxies (and `sh` and `env` through
    // their absolute paths below).
    let path = std::env::join_paths([cargo_home.join("bin")]).context("joining PATH")?;
    let mut command = std::process::Command::new("/bin/sh");
    command
        .arg("-c")
        .arg("umask 077 && exec \"$0\" repro-build \"$1\" \"$2\" \"$3\"")
        .arg(&xtask)
        .arg(root)
        .arg(target_dir)
        .arg(release.to_json())
        .env_clear()
        .env("HOME", &home)
        .env("PATH", path)
        .env("CARGO_HOME", &cargo_home)
        .env("RUSTUP_HOME", &rustup_home)
        .env("PORTAL_ENVTEST_CACHE", &cache)
        .env("LANG", "tr_TR.UTF-8")
        .env("LC_ALL", "tr_TR.UTF-8")
        .env("TZ", "Pacific/Kiritimati")
        .env("TMPDIR", top)
        .current_dir(&work);
    eprintln!(
        "repro: second build: env -i, HOME={}, umask 077, TZ=Pacific/Kiritimati, LANG=tr_TR.UTF-8, PATH={}",
        home.display(),
        cargo_home.join("bin").display()
    );
    let output = command.stderr(std::process::Stdio::inherit()).output().context("running the second build")?;
    if !output.status.success() {
        bail!("the hermetic build failed ({})", output.status);
    }
    let stdout = String::from_utf8(output.stdout).context("the build printed something that is not UTF-8")?;
    let mut digests = Vec::new();
    for name in ["binary sha256", "tarball sha256", "image manifest digest", "image archive sha256"] {
        let digest = stdout
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix('='))
            .with_context(|| format!("the hermetic build printed no {name}"))?;
        digests.push((name, digest.to_owned()));
    }
    Ok(digests)
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
fn artifacts(dist: &Dist, image: &Image) -> Result<Vec<(&'static str, String)>> {
    Ok(vec![
        ("binary sha256", dist.binary_sha256.clone()),
        ("tarball sha256", sha256_hex(&fs::read(&dist.tarball)?)),
        ("image manifest digest", image.manifest_digest.clone()),
        ("image archive sha256", sha256_hex(&fs::read(&image.archive)?)),
    ])
}
