//! Checks of the release binary read from its ELF file: static (no program interpreter, no
//! shared library needed) and carrying cargo-auditable's dependency list, which vulnerability
//! scanners read from the binary alone. A small little-endian ELF64 reader, enough for these
//! facts, so that no ELF crate is needed.

use std::collections::BTreeMap;
use std::io::Read as _;

use anyhow::{Context, Result, ensure};
use flate2::read::ZlibDecoder;
use serde_json::Value;

/// The ELF section in which cargo-auditable stores the zlib-compressed dependency list.
const AUDITABLE_SECTION: &str = ".dep-v0";

/// Static (no `PT_INTERP`, no `DT_NEEDED`) and carrying a cargo-auditable dependency list that
/// names `portal`.
pub fn check_binary(bytes: &[u8]) -> Result<()> {
    let elf = Elf::parse(bytes)?;
    ensure!(!elf.interpreter, "it has a program interpreter (PT_INTERP): it is dynamically linked");
    ensure!(elf.needed == 0, "it needs {} shared libraries (DT_NEEDED): it is not static", elf.needed);
    let list = dependency_list(&elf)?;
    let packages = list["packages"].as_array().map_or(0, Vec::len);
    ensure!(
        list["packages"].as_array().is_some_and(|p| p.iter().any(|p| p["name"] == "portal" && p["root"] == true)),
        "{AUDITABLE_SECTION} does not name portal as its root package"
    );
    eprintln!("static ELF; {AUDITABLE_SECTION}: {packages} packages");
    Ok(())
}

/// A crate of the binary's embedded dependency list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EmbeddedCrate {
    pub name: String,
    pub version: String,
    /// Used only to build it (a build script's or a proc macro's dependency), not linked in.
    pub build_only: bool,
}

/// The crates of cargo-auditable's dependency list in the ELF file `bytes`.
pub fn embedded_crates(bytes: &[u8]) -> Result<Vec<EmbeddedCrate>> {
    let list = dependency_list(&Elf::parse(bytes)?)?;
    Ok(list["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|package| EmbeddedCrate {
            name: package["name"].as_str().unwrap_or_default().to_owned(),
            version: package["version"].as_str().unwrap_or_default().to_owned(),
            build_only: package["kind"] == "build",
        })
        .collect())
}

fn dependency_list(elf: &Elf<'_>) -> Result<Value> {
    let section = elf.section(AUDITABLE_SECTION).with_context(|| {
        format!("it has no {AUDITABLE_SECTION} section: the dependency list of cargo-auditable was stripped")
    })?;
    let mut json = String::new();
    ZlibDecoder::new(section)
        .read_to_string(&mut json)
        .with_context(|| format!("decompressing {AUDITABLE_SECTION}"))?;
    serde_json::from_str(&json).with_context(|| format!("parsing {AUDITABLE_SECTION}"))
}

/// The few facts of a little-endian ELF64 file the checks need.
#[derive(Debug)]
struct Elf<'a> {
    /// A `PT_INTERP` program header is present.
    interpreter: bool,
    /// `DT_NEEDED` entries in the dynamic section.
    needed: usize,
    /// Section name → contents.
    sections: BTreeMap<String, &'a [u8]>,
}

impl<'a> Elf<'a> {
    fn parse(b: &'a [u8]) -> Result<Self> {
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

    fn section(&self, name: &str) -> Option<&'a [u8]> {
        self.sections.get(name).copied()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::fs;

    use super::*;

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
