//! Files, directories and standard input, walked so that nothing given can loop or block:
//! directories reached twice (a symlink loop, or two links to one folder) are read once, and
//! only regular files are read — a FIFO, socket or device is never opened.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::problem::{Error, Problem};

const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// The largest file (or standard input) read: 256 MiB, far above a whole cluster's
/// `kubectl get -o yaml`, far below what would exhaust memory.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// The files found under the paths given, and what was passed over on the way.
#[derive(Debug, Default)]
pub struct Expansion {
    pub files: Vec<PathBuf>,
    /// Entries inside directories that are not regular files (FIFOs, sockets, devices) or that
    /// cannot be read (a dangling symlink): warnings, not errors.
    pub skipped: Vec<Problem>,
}

/// Expands files and directories (recursively, `.yaml`/`.yml`/`.json`, sorted, following
/// symlinks but reading each directory once) into files. `-` stays as is: standard input. A path
/// named explicitly must exist and be a directory or a regular file.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Expansion, Error> {
    let mut expansion = Expansion::default();
    let mut visited = HashSet::new();
    let mut stdin = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if std::mem::replace(&mut stdin, true) {
                return Err(Error::StdinTwice);
            }
            expansion.files.push(path.clone());
            continue;
        }
        let metadata = std::fs::metadata(path).map_err(|source| Error::ReadPath { path: path.clone(), source })?;
        if metadata.is_dir() {
            collect_dir(path, &metadata, &mut visited, &mut expansion)?;
        } else if metadata.is_file() {
            expansion.files.push(path.clone());
        } else {
            return Err(Error::NotRegularFile { path: path.clone() });
        }
    }
    Ok(expansion)
}

fn collect_dir(
    dir: &Path,
    metadata: &std::fs::Metadata,
    visited: &mut HashSet<DirectoryIdentity>,
    expansion: &mut Expansion,
) -> Result<(), Error> {
    if !visited.insert(directory_identity(dir, metadata)) {
        return Ok(());
    }
    let read = std::fs::read_dir(dir).map_err(|source| Error::ReadPath { path: dir.to_owned(), source })?;
    let mut entries: Vec<PathBuf> = Vec::new();
    for entry in read {
        let entry = entry.map_err(|source| Error::ReadPath { path: dir.to_owned(), source })?;
        entries.push(entry.path());
    }
    entries.sort();
    for path in entries {
        let wanted = path.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e));
        let metadata = match std::fs::metadata(&path) {
            Ok(metadata) => metadata,
            Err(error) => {
                if wanted {
                    expansion.skipped.push(Problem::new(path.display().to_string(), format!("skipped: {error}")));
                }
                continue;
            }
        };
        if metadata.is_dir() {
            collect_dir(&path, &metadata, visited, expansion)?;
        } else if wanted && metadata.is_file() {
            expansion.files.push(path);
        } else if wanted {
            expansion.skipped.push(Problem::new(
                path.display().to_string(),
                "skipped: not a regular file (a FIFO, socket or device)".to_owned(),
            ));
        }
    }
    Ok(())
}

/// What makes a directory the same directory however it was reached: device and inode where
/// there are such (Unix); elsewhere (WebAssembly, for the playground) its canonical path.
#[cfg(unix)]
type DirectoryIdentity = (u64, u64);
#[cfg(not(unix))]
type DirectoryIdentity = PathBuf;

#[cfg(unix)]
fn directory_identity(_dir: &Path, metadata: &std::fs::Metadata) -> DirectoryIdentity {
    use std::os::unix::fs::MetadataExt;
    (metadata.dev(), metadata.ino())
}

#[cfg(not(unix))]
fn directory_identity(dir: &Path, _metadata: &std::fs::Metadata) -> DirectoryIdentity {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned())
}

/// Reads a file, or standard input for `-`, up to [`MAX_FILE_BYTES`].
pub fn read_source(path: &Path) -> Result<String, Error> {
    let read_error = |source| Error::ReadPath { path: path.to_owned(), source };
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin().take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(read_error)?;
    } else {
        let file = std::fs::File::open(path).map_err(read_error)?;
        let metadata = file.metadata().map_err(read_error)?;
        if metadata.is_dir() {
            return Err(Error::IsDirectory { path: path.to_owned() });
        }
        if !metadata.is_file() {
            return Err(Error::NotRegularFile { path: path.to_owned() });
        }
        if metadata.len() > MAX_FILE_BYTES {
            return Err(Error::TooLarge { path: path.to_owned(), limit: MAX_FILE_BYTES });
        }
        // The whole file in one allocation: growing by doubling would hold two copies at once.
        bytes.reserve_exact(usize::try_from(metadata.len()).unwrap_or(0).saturating_add(1));
        file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(read_error)?;
    }
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::TooLarge { path: path.to_owned(), limit: MAX_FILE_BYTES });
    }
    String::from_utf8(bytes).map_err(|_| Error::NotText { path: path.to_owned() })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn symlink_loops_are_walked_once() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("rules");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("a.yaml"), "x: 1\n").unwrap();
        symlink(&root, root.join("loop")).unwrap();
        symlink(&root, root.join("again")).unwrap();
        let expansion = expand_paths(std::slice::from_ref(&root)).unwrap();
        assert_eq!(expansion.files, [root.join("a.yaml")]);
    }

    #[test]
    fn fifos_are_skipped_inside_folders_and_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe.yaml");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
        assert!(status.success());
        std::fs::write(dir.path().join("b.yaml"), "x: 1\n").unwrap();
        let expansion = expand_paths(&[dir.path().to_owned()]).unwrap();
        assert_eq!(expansion.files, [dir.path().join("b.yaml")]);
        assert_eq!(expansion.skipped.len(), 1);
        assert!(expansion.skipped[0].to_string().contains("not a regular file"), "{:?}", expansion.skipped);
        assert!(matches!(expand_paths(std::slice::from_ref(&fifo)), Err(Error::NotRegularFile { .. })));
        assert!(matches!(read_source(Path::new("/dev/zero")), Err(Error::NotRegularFile { .. })));
    }
}
