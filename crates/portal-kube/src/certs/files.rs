//! Writing the certificates the server serves into a directory: `tls.key`, `tls.crt` and
//! `ca.crt`, each atomically and only when it changed.

use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

use super::bundle::{CA_CRT, CertBundle, TLS_CRT, TLS_KEY};
use super::error::{Error, Result};

impl CertBundle {
    /// Writes `tls.key`, `tls.crt` and `ca.crt` into `dir` (created if missing), each
    /// atomically (a temporary file renamed over the old one) and only if its content changed.
    /// The key is written before the certificate, so a server that reloads when `tls.crt`
    /// changes finds the matching key in place; one that reloads on the key's change may see the
    /// old certificate once and must retry on the next change. Returns whether anything changed.
    pub fn write_files(&self, dir: &Path) -> Result<bool> {
        fs::create_dir_all(dir).map_err(|source| Error::WriteFile { path: dir.to_owned(), source })?;
        let mut changed = write_atomically(&dir.join(TLS_KEY), &self.key_pem, 0o600)?;
        changed |= write_atomically(&dir.join(TLS_CRT), &self.cert_pem, 0o644)?;
        changed |= write_atomically(&dir.join(CA_CRT), &self.ca_pem, 0o644)?;
        if changed {
            // Make the renames durable before anyone is told the files are there.
            fs::File::open(dir)
                .and_then(|directory| directory.sync_all())
                .map_err(|source| Error::WriteFile { path: dir.to_owned(), source })?;
        }
        Ok(changed)
    }
}

/// Writes `content` to `path` through a temporary file in the same directory and a rename, so
/// readers see the old content or the new, never a mix. Returns false when it was already there.
fn write_atomically(path: &Path, content: &str, mode: u32) -> Result<bool> {
    let io_error = |source| Error::WriteFile { path: path.to_owned(), source };
    if fs::read(path).is_ok_and(|existing| existing == content.as_bytes()) {
        return Ok(false);
    }
    let file_name = path.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
    let temporary = path.with_file_name(format!(".{file_name}.tmp"));
    // A leftover from a crash may have other permissions; `mode` only applies to new files.
    match fs::remove_file(&temporary) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(io_error(error)),
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(&temporary).map_err(io_error)?;
    file.write_all(content.as_bytes()).and_then(|()| file.sync_all()).map_err(io_error)?;
    drop(file);
    fs::rename(&temporary, path).map_err(io_error)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::SystemTime;

    use super::*;
    use crate::certs::bundle::Outcome;

    #[test]
    fn files_are_written_once_and_the_key_is_private() {
        let dir = tempfile::tempdir().unwrap();
        // The files' content is opaque text here: no certificate needs to be generated.
        let pem = |label: &str, body: &str| format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n");
        let bundle = CertBundle {
            cert_pem: pem("CERTIFICATE", "c2VydmluZw=="),
            key_pem: pem("PRIVATE KEY", "a2V5"),
            ca_pem: pem("CERTIFICATE", "Y2E="),
            ca_bundle_pem: pem("CERTIFICATE", "Y2E="),
            not_after: SystemTime::now(),
            outcome: Outcome::Created,
        };
        let out = dir.path().join("certs");
        assert!(bundle.write_files(&out).unwrap());
        assert!(!bundle.write_files(&out).unwrap(), "unchanged files are not rewritten");
        assert_eq!(fs::read_to_string(out.join(TLS_CRT)).unwrap(), bundle.cert_pem);
        assert_eq!(fs::read_to_string(out.join(TLS_KEY)).unwrap(), bundle.key_pem);
        assert_eq!(fs::read_to_string(out.join(CA_CRT)).unwrap(), bundle.ca_pem);
        let mut files: Vec<_> = fs::read_dir(&out).unwrap().map(|entry| entry.unwrap().file_name()).collect();
        files.sort();
        assert_eq!(files, ["ca.crt", "tls.crt", "tls.key"], "no temporary files are left behind");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(out.join(TLS_KEY)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{bundle:?}").contains(&bundle.key_pem), "Debug never shows the key");
    }
}
