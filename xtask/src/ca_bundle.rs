//! The image's CA bundle: Mozilla's root store as the crate `webpki-root-certs` carries it, at the
//! version pinned in Cargo.lock (with its checksum), written as PEM. Nothing of the build
//! machine's trust store goes into the image.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::cmd::{cargo_command, stdout_of};
use crate::project::project_root;

/// The crate the bundle comes from; `cargo xtask sbom` names it as the image's CA component.
pub const CA_CRATE: &str = "webpki-root-certs";
/// The SPDX license of its data.
pub const CA_LICENSE: &str = "CDLA-Permissive-2.0";

/// The bundle and where it came from.
#[derive(Debug)]
pub struct CaBundle {
    /// The crate version (Cargo.lock's).
    pub version: String,
    /// Every root certificate as PEM, in the crate's order.
    pub pem: Vec<u8>,
    /// The crate's LICENSE file.
    pub license: Vec<u8>,
}

/// The bundle of the `webpki-root-certs` this xtask was built with (the Cargo.lock version).
pub fn ca_bundle() -> Result<CaBundle> {
    let metadata =
        stdout_of(cargo_command().args(["metadata", "--format-version", "1", "--locked"]).current_dir(project_root()))?;
    let metadata: Value = serde_json::from_str(&metadata).context("parsing `cargo metadata`")?;
    let package = metadata["packages"]
        .as_array()
        .and_then(|packages| packages.iter().find(|p| p["name"] == CA_CRATE))
        .with_context(|| format!("`cargo metadata` lists no {CA_CRATE}"))?;
    let version = package["version"].as_str().context("a package without a version")?.to_owned();
    let manifest = PathBuf::from(package["manifest_path"].as_str().context("a package without a manifest")?);
    let license_path = manifest.with_file_name("LICENSE");
    let license = fs::read(&license_path).with_context(|| format!("reading {}", license_path.display()))?;
    let mut pem = String::new();
    for certificate in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        let encoded = base64(certificate.as_ref());
        for line in encoded.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).context("base64 is ASCII")?);
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    let certificates = webpki_root_certs::TLS_SERVER_ROOT_CERTS.len();
    eprintln!("CA bundle: {certificates} root certificates of {CA_CRATE} {version}");
    Ok(CaBundle { version, pem: pem.into_bytes(), license })
}

/// The crate the image's CA bundle comes from, as Cargo.lock pins it.
#[derive(Debug)]
pub(crate) struct LockedCaCrate {
    pub version: String,
    /// The crate archive's SHA-256 (Cargo.lock's checksum).
    pub checksum: Option<String>,
}

impl LockedCaCrate {
    /// The locked version of [`CA_CRATE`] and its checksum.
    pub(crate) fn of(checksums: &BTreeMap<(String, String), String>) -> Result<Self> {
        let (name_version, checksum) = checksums
            .iter()
            .find(|((name, _), _)| name == CA_CRATE)
            .with_context(|| format!("Cargo.lock has no {CA_CRATE}"))?;
        Ok(Self { version: name_version.1.clone(), checksum: Some(checksum.clone()) })
    }
}

/// Standard base64 with padding, as PEM wants it.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn the_bundle_is_the_pinned_crates_roots() {
        let bundle = ca_bundle().unwrap();
        let text = String::from_utf8(bundle.pem).unwrap();
        let count = text.matches("-----BEGIN CERTIFICATE-----").count();
        assert_eq!(count, webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        assert!(count > 100, "Mozilla's store has well over 100 roots");
        assert!(String::from_utf8(bundle.license).unwrap().contains("Community Data License Agreement"));
    }
}
