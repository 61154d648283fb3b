//! Rule folders as a rule source: read at start, re-read when a file changes. A file that
//! turns bad keeps its last good rules (and exceptions) in force until it is fixed, and its
//! error is reported. Exceptions count inside folders only, as `portal check --exceptions`
//! reads them; a rule file named on its own holds rules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use portal_files::{RuleFile, load_exception_file, load_rule_file, rule_files};
use portal_rules::exception::{ExceptionSet, LoadedException};
use portal_rules::{LoadedRule, RuleLimits, RuleSet};
use tokio::sync::mpsc;

use super::event::{SourceEvent, SourceProblem};

/// What one file holds.
#[derive(Clone)]
struct FileContent {
    rules: Vec<LoadedRule>,
    exceptions: Vec<LoadedException>,
}

/// The rules and exceptions of every file, as last loaded without error, and the files' current
/// problems.
pub(crate) struct FolderRules {
    roots: Vec<PathBuf>,
    good: BTreeMap<RuleFile, FileContent>,
    problems: Vec<SourceProblem>,
    /// How many of `problems` are about exceptions.
    exception_problems: usize,
    /// The rule set's limits: a rule over them makes its file bad.
    limits: RuleLimits,
}

impl FolderRules {
    pub fn new(roots: Vec<PathBuf>, limits: RuleLimits) -> FolderRules {
        FolderRules { roots, good: BTreeMap::new(), problems: Vec::new(), exception_problems: 0, limits }
    }

    /// Re-reads every file. A file that now has any problem (YAML, schema, CEL) keeps the rules
    /// it last loaded cleanly; a file that is gone takes its rules with it.
    pub fn reload(&mut self) {
        self.problems.clear();
        self.exception_problems = 0;
        let files = match rule_files(&self.roots) {
            Ok((files, skipped)) => {
                self.problems.extend(
                    skipped.into_iter().map(|p| SourceProblem { location: p.location.clone(), message: p.to_string() }),
                );
                files
            }
            Err(error) => {
                // A folder that cannot be listed keeps everything as it was.
                let problem = portal_files::Problem::from_error(&error);
                self.problems.push(SourceProblem { location: problem.location.clone(), message: problem.to_string() });
                return;
            }
        };
        let mut good = BTreeMap::new();
        for file in files {
            let (rules, mut problems) = load_rule_file(&file);
            let (exceptions, exception_problems) =
                if file.in_directory { load_exception_file(&file) } else { (Vec::new(), Vec::new()) };
            // Compile the file on its own too: a CEL error is a bad file as much as bad YAML.
            let as_problem = |error: &portal_rules::Error| SourceProblem {
                location: error.origin().map(ToString::to_string).unwrap_or_default(),
                message: error.to_string(),
            };
            let compile_problems: Vec<SourceProblem> = RuleSet::compile_with_limits(rules.clone(), self.limits.clone())
                .1
                .iter()
                .filter(|error| !matches!(error, portal_rules::Error::DuplicateRuleName { .. }))
                .map(as_problem)
                .collect();
            let exception_compile_problems: Vec<SourceProblem> =
                ExceptionSet::compile(exceptions.clone(), &self.limits).1.iter().map(as_problem).collect();
            // A file that is not YAML fails both readings with the same error: say it once.
            let exception_problems: Vec<_> = exception_problems
                .into_iter()
                .filter(|problem| !problems.iter().any(|seen| seen.to_string() == problem.to_string()))
                .collect();
            self.exception_problems += exception_problems.len() + exception_compile_problems.len();
            problems.extend(exception_problems);
            let bad = !problems.is_empty() || !compile_problems.is_empty() || !exception_compile_problems.is_empty();
            self.problems.extend(
                problems.into_iter().map(|p| SourceProblem { location: p.location.clone(), message: p.to_string() }),
            );
            self.problems.extend(compile_problems);
            self.problems.extend(exception_compile_problems);
            if bad {
                if let Some(previous) = self.good.remove(&file) {
                    tracing::warn!(file = %file.path.display(), "keeping the last good rules of a file with errors");
                    good.insert(file, previous);
                }
            } else {
                good.insert(file, FileContent { rules, exceptions });
            }
        }
        self.good = good;
    }

    /// The rules in force from the folders, in file order.
    pub fn loaded_rules(&self) -> Vec<LoadedRule> {
        self.good.values().flat_map(|content| content.rules.iter().cloned()).collect()
    }

    /// The exceptions in force from the folders, in file order.
    pub fn loaded_exceptions(&self) -> Vec<LoadedException> {
        self.good.values().flat_map(|content| content.exceptions.iter().cloned()).collect()
    }

    /// How many of the current problems are about exceptions.
    pub fn exception_problems(&self) -> usize {
        self.exception_problems
    }

    pub fn problems(&self) -> Vec<SourceProblem> {
        self.problems.clone()
    }
}

/// Forwards file-system changes under the rule folders to the reconciler.
#[derive(Debug)]
pub(crate) struct FolderWatcher {
    _watcher: RecommendedWatcher,
}

impl FolderWatcher {
    pub fn start(roots: &[PathBuf], events: mpsc::Sender<SourceEvent>) -> notify::Result<FolderWatcher> {
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let relevant = match &event {
                Ok(event) => !matches!(event.kind, notify::EventKind::Access(_)),
                Err(_) => true,
            };
            if relevant {
                // A full queue already holds a reload request: dropping this one loses nothing.
                let _ = events.try_send(SourceEvent::FoldersChanged);
            }
        })?;
        for root in roots {
            // A single file is watched through its directory: editors replace files by renaming.
            let (path, mode) = if root.is_dir() {
                (root.as_path(), RecursiveMode::Recursive)
            } else {
                (
                    root.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")),
                    RecursiveMode::NonRecursive,
                )
            };
            watcher.watch(path, mode)?;
        }
        Ok(FolderWatcher { _watcher: watcher })
    }
}
