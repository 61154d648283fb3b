//! SHA-256 digests and `SHA256SUMS`, the checksum file of the dist directory in `sha256sum -c`
//! format; `cargo xtask checksums` rewrites it after other commands (`sbom`) added files.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use sha2::{Digest as _, Sha256};

use crate::project::target_dir;

/// The checksum file, in `sha256sum -c` format.
pub const CHECKSUMS: &str = "SHA256SUMS";

/// `cargo xtask checksums`: rewrites `SHA256SUMS` over every file in the dist directory (after
/// `cargo xtask sbom` or anything else added files there).
pub fn checksums_main() -> Result<()> {
    let dir = target_dir().join("dist");
    write_checksums(&dir)?;
    print!("{}", fs::read_to_string(dir.join(CHECKSUMS))?);
    Ok(())
}

/// The SHA-256 of `data` in lower-case hex.
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_standard_test_vector() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
