//! Rule files: found under the paths given, read, and turned into rules.

use std::path::{Path, PathBuf};

use portal_rules::exception::{LoadedException, exception_from_document};
use portal_rules::{LoadedRule, parse_documents, rule_from_document};
use serde_json::Value as Json;

use crate::paths::{expand_paths, read_source};
use crate::problem::{Error, Problem};

/// Loads every rule under `paths`. Errors are collected, not fatal: the good rules still load.
///
/// Inside a directory, rule bundles keep their test suites beside the rules: test files
/// (`portal-test.yaml`, `*.portal-test.yaml`) and Kubernetes objects of other API groups (the
/// suites' fixtures) are passed over. A file named explicitly is always read as rules.
pub fn load_rule_paths(paths: &[PathBuf]) -> (Vec<LoadedRule>, Vec<Problem>) {
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    match rule_files(paths) {
        Ok((files, skipped)) => {
            problems.extend(skipped);
            for file in files {
                let (loaded, file_problems) = load_rule_file(&file);
                rules.extend(loaded);
                problems.extend(file_problems);
            }
        }
        Err(error) => problems.push(Problem::from_error(&error)),
    }
    (rules, problems)
}

/// A rule file found under the paths given, and whether it was found inside a directory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RuleFile {
    pub path: PathBuf,
    pub in_directory: bool,
}

/// Whether `path` is a rule test file by name (`portal-test.yaml`, `*.portal-test.yaml`).
pub fn is_test_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n == "portal-test.yaml" || n.ends_with(".portal-test.yaml"))
}

/// The rule files under `paths`: directories expanded (sorted), test files inside them left out;
/// and what could not be read as a rule file (a FIFO in a rules folder, say), which is a problem
/// for rules: a rule that silently does not load is a rule not enforced.
pub fn rule_files(paths: &[PathBuf]) -> Result<(Vec<RuleFile>, Vec<Problem>), Error> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for path in paths {
        let in_directory = path.is_dir();
        let expansion = expand_paths(std::slice::from_ref(path))?;
        skipped.extend(expansion.skipped);
        for file in expansion.files {
            if in_directory && is_test_file(&file) {
                continue;
            }
            files.push(RuleFile { path: file, in_directory });
        }
    }
    Ok((files, skipped))
}

/// Loads the rules of one file; fixtures of other API groups are passed over inside directories.
pub fn load_rule_file(file: &RuleFile) -> (Vec<LoadedRule>, Vec<Problem>) {
    let text = match read_source(&file.path) {
        Ok(text) => text,
        Err(error) => return (Vec::new(), vec![Problem::from_error(&error)]),
    };
    load_rule_documents(&file.path.display().to_string(), &text, file.in_directory)
}

/// Loads the rules of one text named `source` in problems, as a file named explicitly: every
/// document must be a rule.
pub fn load_rule_text(source: &str, text: &str) -> (Vec<LoadedRule>, Vec<Problem>) {
    load_rule_documents(source, text, false)
}

fn load_rule_documents(source: &str, text: &str, in_directory: bool) -> (Vec<LoadedRule>, Vec<Problem>) {
    let documents = match parse_documents(source, text) {
        Ok(documents) => documents,
        Err(error) => return (Vec::new(), vec![Problem::from_rules_error(&error)]),
    };
    let mut rules = Vec::new();
    let mut problems = Vec::new();
    for document in documents {
        if in_directory && (is_foreign_object(&document.value) || is_exception(&document.value)) {
            continue;
        }
        match rule_from_document(&document) {
            Ok(rule) => rules.push(rule),
            Err(error) => problems.push(Problem::from_rules_error(&error)),
        }
    }
    (rules, problems)
}

/// Loads the `PortalException`/`PortalClusterException` documents of files and directories
/// (`portal check --exceptions`); other objects inside directories are passed over.
pub fn load_exception_paths(paths: &[PathBuf]) -> (Vec<LoadedException>, Vec<Problem>) {
    let mut exceptions = Vec::new();
    let mut problems = Vec::new();
    let (files, skipped) = match rule_files(paths) {
        Ok(found) => found,
        Err(error) => return (exceptions, vec![Problem::from_error(&error)]),
    };
    problems.extend(skipped);
    for file in files {
        let (loaded, file_problems) = load_exception_file(&file);
        exceptions.extend(loaded);
        problems.extend(file_problems);
    }
    (exceptions, problems)
}

/// Loads the exceptions of one file: inside a directory its exception documents (the rules and
/// fixtures beside them are passed over); a file named explicitly must hold only exceptions.
pub fn load_exception_file(file: &RuleFile) -> (Vec<LoadedException>, Vec<Problem>) {
    let text = match read_source(&file.path) {
        Ok(text) => text,
        Err(error) => return (Vec::new(), vec![Problem::from_error(&error)]),
    };
    let documents = match parse_documents(&file.path.display().to_string(), &text) {
        Ok(documents) => documents,
        Err(error) => return (Vec::new(), vec![Problem::from_rules_error(&error)]),
    };
    let mut exceptions = Vec::new();
    let mut problems = Vec::new();
    for document in documents {
        if file.in_directory && !is_exception(&document.value) {
            continue;
        }
        match exception_from_document(&document) {
            Ok(exception) => exceptions.push(exception),
            Err(error) => problems.push(Problem::from_rules_error(&error)),
        }
    }
    (exceptions, problems)
}

/// An exception beside the rules: read by `--exceptions`, not as a rule.
fn is_exception(value: &Json) -> bool {
    matches!(value.get("kind").and_then(Json::as_str), Some("PortalException" | "PortalClusterException"))
}

/// A Kubernetes object that is not a Portal rule, e.g. a test fixture beside the rules.
fn is_foreign_object(value: &Json) -> bool {
    value.get("apiVersion").and_then(Json::as_str).is_some_and(|api_version| !api_version.starts_with("portal.io/"))
}
