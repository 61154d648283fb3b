//! `portal migrate`: reading the policies, calling `portal-migrate`, writing the rules, the suite
//! and the report.

use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use portal_migrate::{Migration, SourceDocument};

use crate::cli::MigrateArgs;
use crate::problems::{BAD_INPUT, print_problems};

/// What the rules file is called in the output directory.
const RULES_FILE: &str = "rules.yaml";

pub fn migrate(args: &MigrateArgs) -> anyhow::Result<ExitCode> {
    let manifests = portal_files::load_manifest_paths(&args.paths, "default");
    if !manifests.errors.is_empty() {
        print_problems("error", &manifests.errors);
        return Ok(ExitCode::from(BAD_INPUT));
    }
    let documents: Vec<SourceDocument> = manifests
        .objects
        .into_iter()
        .map(|manifest| {
            let directory = Path::new(&manifest.origin.source).parent().map(Path::to_path_buf).unwrap_or_default();
            SourceDocument { object: manifest.object, directory: directory.display().to_string() }
        })
        .collect();
    let migration = portal_migrate::migrate(&documents);
    match &args.output_dir {
        None => print!("{}", migration.rules_yaml()?),
        Some(dir) => write_output(&migration, dir)?,
    }
    for (source, note) in &migration.report.notes {
        eprintln!("note: {source}: {note}");
    }
    for (source, reason) in &migration.report.refused {
        eprintln!("not converted: {source}: {reason}");
    }
    if !migration.ignored.is_empty() {
        let ignored: Vec<String> = migration.ignored.iter().map(|(kind, name)| format!("{kind} {name}")).collect();
        eprintln!("ignored, not a policy portal migrate reads: {}", ignored.join(", "));
    }
    eprintln!("{} rules converted, {} not converted", migration.rules.len(), migration.report.refused.len());
    Ok(if migration.rules.is_empty() && migration.report.refused.is_empty() {
        eprintln!("error: no Kyverno policy or ValidatingAdmissionPolicy found in the input: nothing to convert");
        ExitCode::from(BAD_INPUT)
    } else if migration.report.refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// rules.yaml, and a suite per source test (portal-test.yaml, then N.portal-test.yaml), or a
/// skeleton suite when the sources had none.
fn write_output(migration: &Migration, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let write = |file: &str, text: String| {
        let path = dir.join(file);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    };
    write(RULES_FILE, migration.rules_yaml()?)?;
    if migration.suites.is_empty() {
        return write("portal-test.yaml", portal_migrate::suite::skeleton(RULES_FILE, &migration.rule_names()));
    }
    for (index, suite) in migration.suites.iter().enumerate() {
        let prefix = relative(dir, Path::new(&suite.resources_dir))?;
        let file = if index == 0 { "portal-test.yaml".to_owned() } else { format!("{}.portal-test.yaml", index + 1) };
        write(&file, suite.to_yaml(RULES_FILE, &prefix)?)?;
    }
    Ok(())
}

/// The path from directory `from` to directory `to`, `/`-separated ("" when they are the same).
fn relative(from: &Path, to: &Path) -> anyhow::Result<String> {
    let absolute = |path: &Path| -> anyhow::Result<PathBuf> {
        let path = if path.as_os_str().is_empty() { Path::new(".") } else { path };
        path.canonicalize().with_context(|| format!("resolving {}", path.display()))
    };
    let (from, to) = (absolute(from)?, absolute(to)?);
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_owned(); from.len() - common];
    parts.extend(to[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    Ok(parts.join("/"))
}
