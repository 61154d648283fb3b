//! `cargo xtask repro`: proof that the release is reproducible. It builds dist and image twice,
//! from two copies of the source at different absolute paths into two empty target
//! directories, and compares the results byte for byte. It sits above [`crate::dist`] and
//! [`crate::image`], which know nothing of it.

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
pub fn main() -> Result<()> {
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
        let dist = dist::build(root, target_dir, &release)?;
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
fn artifacts(dist: &Dist, image: &Image) -> Result<Vec<(&'static str, String)>> {
    Ok(vec![
        ("binary sha256", dist.binary_sha256.clone()),
        ("tarball sha256", sha256_hex(&fs::read(&dist.tarball)?)),
        ("image manifest digest", image.manifest_digest.clone()),
        ("image archive sha256", sha256_hex(&fs::read(&image.archive)?)),
    ])
}
