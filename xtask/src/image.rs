//! `cargo xtask image`: the OCI image, written without Docker or any image builder (SPEC §11).
//!
//! One layer holds a distroless-style root filesystem: `/etc/passwd` and `/etc/group` with
//! `root` (0) and `nonroot` (65532), `/etc/nsswitch.conf`, `/tmp` (1777), the CA bundle of
//! Mozilla's root store from the crate `webpki-root-certs` pinned in Cargo.lock (its version is
//! recorded in an annotation), license files under `/licenses`, and the static `portal` binary at
//! `/usr/local/bin/portal`. Nothing else: no shell, no package manager. The image runs as
//! 65532:65532 with `Entrypoint ["/usr/local/bin/portal"]` and `Cmd ["run"]`.
//!
//! Everything is deterministic: the layer tar and gzip of [`crate::archive`], `created` and every
//! mtime from `SOURCE_DATE_EPOCH`, JSON with sorted keys. Output in `<target dir>/dist/`:
//!
//! ```text
//! oci/                         OCI image layout: oci-layout, index.json, blobs/sha256/…
//! portal-<version>-oci.tar     the same layout as one tar (`oci-archive:` for skopeo, podman load)
//! ```
//!
//! `cargo xtask image --verify` then unpacks the archive with the system's `tar`, checks every
//! digest, size, media type and the config, unpacks the layer into a directory and runs
//! `chroot --userspec=65532:65532 DIR /usr/local/bin/portal version` in it (via `sudo -n` when
//! not root): the image alone is enough to run Portal.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use flate2::read::GzDecoder;
use serde_json::{Value, json};

use crate::archive::{Tar, gzip};
use crate::checksum::{sha256_hex, write_checksums};
use crate::cmd::{run, stdout_of};
use crate::date::rfc3339;
use crate::dist::{self, Dist, Release};
use crate::project::{project_root, target_dir};

// Media types of the OCI image specification (image-spec `media-types.md`).
const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const LAYOUT_FILE: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

/// The user and group the image runs as, `nonroot` in `/etc/passwd` and `/etc/group`.
const NONROOT: u32 = 65532;
const BINARY: &str = "usr/local/bin/portal";
const CA_BUNDLE: &str = "etc/ssl/certs/ca-certificates.crt";
/// The annotation with the version of the `webpki-root-certs` crate the bundle came from.
pub const CA_VERSION_KEY: &str = "io.github.portal-policy.webpki-root-certs.version";
/// The largest image archive accepted by `--verify`.
const MAX_ARCHIVE_BYTES: u64 = 15_000_000;

const PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nnonroot:x:65532:\n";
const NSSWITCH: &str = "hosts: files dns\n";

/// The result of [`build`].
#[derive(Debug)]
pub struct Image {
    pub version: String,
    pub revision: String,
    /// `<dist>/oci`.
    pub layout: PathBuf,
    /// `<dist>/portal-<version>-oci.tar`.
    pub archive: PathBuf,
    /// `sha256:…` of the image manifest.
    pub manifest_digest: String,
    pub binary_sha256: String,
    /// Where `verify` unpacks the image.
    scratch: PathBuf,
}

/// `cargo xtask image [--verify]`: runs `dist` first, so the image always holds the binary of
/// the current sources.
pub fn main(args: &[String]) -> Result<()> {
    let check = match args {
        [] => false,
        [flag] if flag == "--verify" => true,
        _ => bail!("cargo xtask image: unknown arguments {args:?}; use no argument or --verify"),
    };
    let started = Instant::now();
    let root = project_root();
    let dist = dist::build(&root, &target_dir(), &Release::read()?)?;
    let image = build(&dist)?;
    eprintln!("image: {} and {} in {:.0?}", image.layout.display(), image.archive.display(), started.elapsed());
    if check {
        verify(&image)?;
    }
    Ok(())
}

/// Writes the image layout and archive for `dist`'s binary into `dist`'s directory.
pub fn build(dist: &Dist) -> Result<Image> {
    let release = &dist.release;
    let binary = fs::read(&dist.binary).with_context(|| format!("reading {}", dist.binary.display()))?;
    let ca = crate::ca_bundle::ca_bundle()?;
    let ca_version = ca.version.clone();
    let layer_tar = root_filesystem(&dist.root, release.source_date_epoch, binary, ca)?;
    let diff_id = format!("sha256:{}", sha256_hex(&layer_tar));
    let layer = gzip(&layer_tar)?;
    let created = rfc3339(release.source_date_epoch);

    let mut annotations = BTreeMap::from([
        ("org.opencontainers.image.created", created.clone()),
        ("org.opencontainers.image.description", "Portal: a Kubernetes policy engine".to_owned()),
        ("org.opencontainers.image.licenses", release.license.clone()),
        ("org.opencontainers.image.revision", release.revision.clone()),
        ("org.opencontainers.image.source", release.repository.clone()),
        ("org.opencontainers.image.title", "portal".to_owned()),
        ("org.opencontainers.image.version", release.version.clone()),
    ]);
    annotations.insert(CA_VERSION_KEY, ca_version);

    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": {
            "User": format!("{NONROOT}:{NONROOT}"),
            "Entrypoint": ["/usr/local/bin/portal"],
            "Cmd": ["run"],
            "Env": ["PATH=/usr/local/bin", "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"],
            "WorkingDir": "/",
            "Labels": annotations,
        },
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
        "history": [{ "created": created, "created_by": "cargo xtask image" }],
    });
    let config = serde_json::to_vec(&config)?;
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": descriptor(CONFIG_MEDIA_TYPE, &config),
        "layers": [descriptor(LAYER_MEDIA_TYPE, &layer)],
        "annotations": annotations,
    }))?;
    let mut manifest_descriptor = descriptor(MANIFEST_MEDIA_TYPE, &manifest);
    manifest_descriptor["platform"] = json!({ "architecture": "amd64", "os": "linux" });
    manifest_descriptor["annotations"] = json!({ "org.opencontainers.image.ref.name": release.version });
    let manifest_digest = format!("sha256:{}", sha256_hex(&manifest));
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA_TYPE,
        "manifests": [manifest_descriptor],
        "annotations": annotations,
    }))?;

    // The layout, as path → contents; written both as a directory and as one tar.
    let mut files =
        BTreeMap::from([("oci-layout".to_owned(), LAYOUT_FILE.as_bytes().to_vec()), ("index.json".to_owned(), index)]);
    for blob in [config, layer, manifest] {
        files.insert(format!("blobs/sha256/{}", sha256_hex(&blob)), blob);
    }
    let layout = dist.dir.join("oci");
    if layout.exists() {
        fs::remove_dir_all(&layout).with_context(|| format!("emptying {}", layout.display()))?;
    }
    let mut archive = Tar::new(release.source_date_epoch);
    archive.dir("blobs", 0o755, 0, 0)?;
    archive.dir("blobs/sha256", 0o755, 0, 0)?;
    for (path, data) in &files {
        let file = layout.join(path);
        fs::create_dir_all(file.parent().unwrap_or(&layout))?;
        fs::write(&file, data).with_context(|| format!("writing {}", file.display()))?;
        archive.file(path, 0o644, 0, 0, data.clone())?;
    }
    let archive_path = dist.dir.join(format!("portal-{}-oci.tar", release.version));
    let archive = archive.finish()?;
    fs::write(&archive_path, &archive).with_context(|| format!("writing {}", archive_path.display()))?;
    write_checksums(&dist.dir)?;
    eprintln!("image: manifest {manifest_digest}, {} bytes in {}", archive.len(), archive_path.display());

    Ok(Image {
        version: release.version.clone(),
        revision: release.revision.clone(),
        layout,
        archive: archive_path,
        manifest_digest,
        binary_sha256: dist.binary_sha256.clone(),
        scratch: dist.dir.with_file_name("image-verify"),
    })
}

fn descriptor(media_type: &str, blob: &[u8]) -> Value {
    json!({ "mediaType": media_type, "digest": format!("sha256:{}", sha256_hex(blob)), "size": blob.len() })
}

/// The layer: the root filesystem as an uncompressed tar.
fn root_filesystem(root: &Path, mtime: u64, binary: Vec<u8>, ca: crate::ca_bundle::CaBundle) -> Result<Vec<u8>> {
    let license = fs::read(root.join("LICENSE")).context("reading LICENSE")?;
    let mut tar = Tar::new(mtime);
    for dir in ["etc", "etc/ssl", "etc/ssl/certs", "home", "licenses", "licenses/portal", "licenses/webpki-root-certs"]
    {
        tar.dir(dir, 0o755, 0, 0)?;
    }
    for dir in ["usr", "usr/local", "usr/local/bin"] {
        tar.dir(dir, 0o755, 0, 0)?;
    }
    tar.dir("home/nonroot", 0o700, NONROOT, NONROOT)?;
    tar.dir("root", 0o700, 0, 0)?;
    tar.dir("tmp", 0o1777, 0, 0)?;
    tar.file("etc/passwd", 0o644, 0, 0, PASSWD.into())?;
    tar.file("etc/group", 0o644, 0, 0, GROUP.into())?;
    tar.file("etc/nsswitch.conf", 0o644, 0, 0, NSSWITCH.into())?;
    tar.file(CA_BUNDLE, 0o644, 0, 0, ca.pem)?;
    tar.file("licenses/portal/LICENSE", 0o644, 0, 0, license)?;
    tar.file("licenses/webpki-root-certs/LICENSE", 0o644, 0, 0, ca.license)?;
    tar.file(BINARY, 0o755, 0, 0, binary)?;
    tar.finish()
}

/// Checks the image archive as a consumer would see it, then runs `portal version` in its root
/// filesystem as 65532:65532 with `chroot`.
pub fn verify(image: &Image) -> Result<()> {
    let rootfs = unpack_and_check(image)?;
    let mut chroot = if effective_uid()? == 0 { Command::new("chroot") } else { sudo_chroot() };
    chroot.arg(format!("--userspec={NONROOT}:{NONROOT}")).arg(&rootfs).args(["/usr/local/bin/portal", "version"]);
    let line = stdout_of(chroot.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"))?;
    let expected = format!("portal {}", image.version);
    ensure!(line.trim() == expected, "`portal version` in the image printed {line:?}, expected {expected:?}");
    eprintln!("verified: {}; in the image as {NONROOT}:{NONROOT}: {}", image.archive.display(), line.trim());
    fs::remove_dir_all(&image.scratch).with_context(|| format!("removing {}", image.scratch.display()))?;
    Ok(())
}

/// Unpacks the archive with the system's `tar`, checks the layout, the index, the manifest,
/// the config and every blob, unpacks the layer and checks the root filesystem; returns it.
fn unpack_and_check(image: &Image) -> Result<PathBuf> {
    let size = fs::metadata(&image.archive)?.len();
    ensure!(
        size <= MAX_ARCHIVE_BYTES,
        "{} is {size} bytes, over the limit of {MAX_ARCHIVE_BYTES}",
        image.archive.display()
    );
    let scratch = &image.scratch;
    if scratch.exists() {
        fs::remove_dir_all(scratch).with_context(|| format!("emptying {}", scratch.display()))?;
    }
    let (layout, rootfs) = (scratch.join("layout"), scratch.join("rootfs"));
    fs::create_dir_all(&layout)?;
    fs::create_dir_all(&rootfs)?;
    run(Command::new("tar").arg("-xf").arg(&image.archive).arg("-C").arg(&layout))?;

    ensure!(fs::read_to_string(layout.join("oci-layout"))? == LAYOUT_FILE, "oci-layout is not {LAYOUT_FILE}");
    let index: Value = serde_json::from_slice(&fs::read(layout.join("index.json"))?)?;
    ensure!(index["schemaVersion"] == 2 && index["mediaType"] == INDEX_MEDIA_TYPE, "index.json: {index}");
    let [manifest] = index["manifests"].as_array().map(Vec::as_slice).unwrap_or_default() else {
        bail!("index.json does not list exactly one manifest: {index}");
    };
    ensure!(manifest["platform"] == json!({"architecture": "amd64", "os": "linux"}), "index.json: {index}");
    let manifest_bytes = blob(&layout, manifest, MANIFEST_MEDIA_TYPE)?;
    ensure!(manifest["digest"] == image.manifest_digest.as_str(), "index.json points at another manifest");
    let manifest: Value = serde_json::from_slice(&manifest_bytes)?;
    ensure!(manifest["schemaVersion"] == 2 && manifest["mediaType"] == MANIFEST_MEDIA_TYPE, "manifest: {manifest}");
    for (key, expected) in [
        ("org.opencontainers.image.version", image.version.as_str()),
        ("org.opencontainers.image.revision", image.revision.as_str()),
        ("org.opencontainers.image.licenses", "Apache-2.0"),
    ] {
        ensure!(manifest["annotations"][key] == expected, "manifest annotation {key} is not {expected:?}");
        ensure!(index["annotations"][key] == expected, "index annotation {key} is not {expected:?}");
    }
    for key in ["org.opencontainers.image.created", "org.opencontainers.image.source", CA_VERSION_KEY] {
        ensure!(manifest["annotations"][key].is_string(), "the manifest has no annotation {key}");
    }

    let config: Value = serde_json::from_slice(&blob(&layout, &manifest["config"], CONFIG_MEDIA_TYPE)?)?;
    let [layer] = manifest["layers"].as_array().map(Vec::as_slice).unwrap_or_default() else {
        bail!("the manifest does not list exactly one layer: {manifest}");
    };
    let layer_gz = blob(&layout, layer, LAYER_MEDIA_TYPE)?;
    let mut layer_tar = Vec::new();
    GzDecoder::new(layer_gz.as_slice()).read_to_end(&mut layer_tar).context("decompressing the layer")?;
    let expected = json!({
        "architecture": "amd64",
        "os": "linux",
        "User": "65532:65532",
        "Entrypoint": ["/usr/local/bin/portal"],
        "Cmd": ["run"],
        "diff_ids": [format!("sha256:{}", sha256_hex(&layer_tar))],
    });
    let actual = json!({
        "architecture": config["architecture"],
        "os": config["os"],
        "User": config["config"]["User"],
        "Entrypoint": config["config"]["Entrypoint"],
        "Cmd": config["config"]["Cmd"],
        "diff_ids": config["rootfs"]["diff_ids"],
    });
    ensure!(actual == expected, "image config: expected {expected}, found {actual}");

    let layer_path = layout.join("blobs/sha256").join(sha256_hex(&layer_gz));
    run(Command::new("tar").args(["-xzpf"]).arg(&layer_path).arg("--numeric-owner").arg("-C").arg(&rootfs))?;
    check_root_filesystem(&rootfs, &image.binary_sha256)?;
    Ok(rootfs)
}

fn sudo_chroot() -> Command {
    let mut command = Command::new("sudo");
    command.args(["-n", "chroot"]);
    command
}

fn effective_uid() -> Result<u32> {
    let uid = stdout_of(Command::new("id").arg("-u"))?;
    uid.trim().parse().with_context(|| format!("`id -u` printed {uid:?}"))
}

/// The blob `descriptor` points at, after checking its media type, size and digest.
fn blob(layout: &Path, descriptor: &Value, media_type: &str) -> Result<Vec<u8>> {
    ensure!(descriptor["mediaType"] == media_type, "descriptor {descriptor}: media type is not {media_type}");
    let digest = descriptor["digest"].as_str().context("descriptor without a digest")?;
    let hex = digest.strip_prefix("sha256:").with_context(|| format!("digest {digest} is not sha256"))?;
    let bytes = fs::read(layout.join("blobs/sha256").join(hex)).with_context(|| format!("reading blob {digest}"))?;
    ensure!(sha256_hex(&bytes) == hex, "blob {digest} does not have that digest");
    ensure!(descriptor["size"] == bytes.len(), "blob {digest}: size is not {}", bytes.len());
    Ok(bytes)
}

/// Exactly the expected files, no shell, `/tmp` 1777, the binary of this build.
fn check_root_filesystem(rootfs: &Path, binary_sha256: &str) -> Result<()> {
    let mut files = BTreeSet::new();
    let mut stack = vec![rootfs.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let relative = entry.path().strip_prefix(rootfs)?.to_string_lossy().into_owned();
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            } else {
                files.insert(relative);
            }
        }
    }
    let expected: BTreeSet<String> = [
        "etc/group",
        "etc/nsswitch.conf",
        "etc/passwd",
        CA_BUNDLE,
        "licenses/webpki-root-certs/LICENSE",
        "licenses/portal/LICENSE",
        BINARY,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let shells: Vec<&String> = files
        .iter()
        .filter(|f| ["sh", "bash", "dash", "ash", "busybox"].contains(&f.rsplit('/').next().unwrap_or_default()))
        .collect();
    ensure!(shells.is_empty(), "the image contains a shell: {shells:?}");
    ensure!(files == expected, "the image holds {files:?}, expected exactly {expected:?}");
    let mode = |path: &str| -> Result<u32> { Ok(fs::metadata(rootfs.join(path))?.permissions().mode() & 0o7777) };
    ensure!(mode("tmp")? == 0o1777, "/tmp has mode {:o}, not 1777", mode("tmp")?);
    ensure!(mode(BINARY)? == 0o755, "/{BINARY} has mode {:o}, not 755", mode(BINARY)?);
    ensure!(sha256_hex(&fs::read(rootfs.join(BINARY))?) == binary_sha256, "/{BINARY} is not the binary of this build");
    let passwd = fs::read_to_string(rootfs.join("etc/passwd"))?;
    ensure!(passwd.lines().any(|l| l.starts_with("nonroot:x:65532:65532:")), "/etc/passwd has no nonroot user");
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::checksum::CHECKSUMS;

    /// An image around a stand-in binary (no release build): what `--verify` checks short of
    /// running it, and the same digest when built again.
    #[test]
    fn image_of_a_stand_in_binary_passes_the_checks_and_is_deterministic() {
        let target = std::env::temp_dir().join(format!("xtask-image-test-{}", std::process::id()));
        let dir = target.join("dist");
        fs::create_dir_all(&dir).unwrap();
        let binary = dir.join("portal");
        fs::write(&binary, b"\x7fELF stand-in").unwrap();
        let tarball = dir.join("portal.tar.gz");
        fs::write(&tarball, b"").unwrap();
        let dist = Dist {
            release: Release {
                version: "1.2.3".to_owned(),
                repository: "https://example.invalid/portal".to_owned(),
                license: "Apache-2.0".to_owned(),
                revision: "0123456789abcdef0123456789abcdef01234567".to_owned(),
                source_date_epoch: 1_700_000_000,
            },
            root: project_root(),
            dir: dir.clone(),
            binary_sha256: sha256_hex(b"\x7fELF stand-in"),
            binary,
            tarball,
        };
        let image = build(&dist).unwrap();
        let rootfs = unpack_and_check(&image).unwrap();
        let passwd = fs::read_to_string(rootfs.join("etc/passwd")).unwrap();
        assert!(passwd.starts_with("root:x:0:0:"), "{passwd}");
        let bundle = fs::read_to_string(rootfs.join(CA_BUNDLE)).unwrap();
        assert!(bundle.matches("BEGIN CERTIFICATE").count() > 50);
        let config: Value = {
            let index: Value = serde_json::from_slice(&fs::read(image.layout.join("index.json")).unwrap()).unwrap();
            let digest = index["manifests"][0]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_owned();
            let manifest: Value =
                serde_json::from_slice(&fs::read(image.layout.join("blobs/sha256").join(digest)).unwrap()).unwrap();
            assert_eq!(manifest["annotations"]["org.opencontainers.image.created"], "2023-11-14T22:13:20Z");
            let digest = manifest["config"]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_owned();
            serde_json::from_slice(&fs::read(image.layout.join("blobs/sha256").join(digest)).unwrap()).unwrap()
        };
        assert_eq!(config["created"], "2023-11-14T22:13:20Z");
        assert_eq!(config["config"]["Labels"]["org.opencontainers.image.version"], "1.2.3");
        let sums = fs::read_to_string(dir.join(CHECKSUMS)).unwrap();
        assert!(sums.contains("  portal-1.2.3-oci.tar\n"), "{sums}");

        let again = build(&dist).unwrap();
        assert_eq!(again.manifest_digest, image.manifest_digest);
        fs::remove_dir_all(&target).unwrap();
    }
}
