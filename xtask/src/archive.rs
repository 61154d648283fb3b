//! Deterministic archives for the release: a POSIX ustar writer and gzip without a name or a
//! timestamp. Written here rather than by `tar`/`gzip`, so that the same files give the same
//! bytes on every machine: entries sorted by path, one mtime (`SOURCE_DATE_EPOCH`) for all,
//! numeric owners only, no user or group names.

use std::collections::BTreeMap;
use std::io::Write as _;

use anyhow::{Context, Result, ensure};
use flate2::{Compression, GzBuilder};

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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::fs;
    use std::process::Command;

    use super::*;
    use crate::cmd::stdout_of;

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
}
