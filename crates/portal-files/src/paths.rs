//! Files, directories and standard input.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::problem::Error;

const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// Expands files and directories (recursively, `.yaml`/`.yml`/`.json`, sorted) into files.
/// `-` stays as is: standard input.
pub fn expand_paths(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            files.push(path.clone());
            continue;
        }
        let metadata = std::fs::metadata(path).map_err(|source| Error::ReadPath { path: path.clone(), source })?;
        if metadata.is_dir() {
            collect_dir(path, &mut files)?;
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn collect_dir(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), Error> {
    let read = std::fs::read_dir(dir).map_err(|source| Error::ReadPath { path: dir.to_owned(), source })?;
    let mut entries: Vec<PathBuf> = Vec::new();
    for entry in read {
        let entry = entry.map_err(|source| Error::ReadPath { path: dir.to_owned(), source })?;
        entries.push(entry.path());
    }
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_dir(&path, files)?;
        } else if path.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e)) {
            files.push(path);
        }
    }
    Ok(())
}

/// Reads a file, or standard input for `-`.
pub fn read_source(path: &Path) -> Result<String, Error> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|source| Error::ReadPath { path: path.to_owned(), source })?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|source| Error::ReadPath { path: path.to_owned(), source })
}
