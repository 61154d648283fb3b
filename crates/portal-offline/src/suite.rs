//! `portal test`: rule test suites that name rules, resources and the expected result per
//! (rule, resource), and print what differed; network suites (`network_suite.rs`) beside them.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use portal_files::{Problem, expand_paths, is_test_file, read_source};
use portal_rules::{Operation, Outcome, parse_documents};
use serde::Deserialize;

use crate::check::{CheckOptions, CheckRun, ObjectReport};
use crate::network_suite::{NetworkSuiteSpec, run_network_suite};
use crate::request::{AdmissionRequest, RequestSpec};

/// The namespace of resources that name none, as in `portal check`.
const DEFAULT_NAMESPACE: &str = "default";

/// A test file: which rules, which resources, and what each rule should decide on each resource.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SuiteSpec {
    pub name: Option<String>,
    /// Rule files or directories, relative to the test file.
    pub rules: Vec<PathBuf>,
    /// Manifest files or directories, relative to the test file.
    pub resources: Vec<PathBuf>,
    /// Objects that cluster lookups see, relative to the test file (as `portal check
    /// --cluster`). Each resource is evaluated as if being created in that cluster.
    #[serde(default)]
    pub cluster: Vec<PathBuf>,
    /// The admission request the resources are evaluated as; a CREATE with `request` null when
    /// absent.
    #[serde(default)]
    pub request: Option<RequestSpec>,
    /// `PortalException`/`PortalClusterException` files or directories, relative to the test
    /// file (as `portal check --exceptions`): an exempted rule's result is `skip`.
    #[serde(default)]
    pub exceptions: Vec<PathBuf>,
    pub results: Vec<Expectation>,
}

/// One expected verdict.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Expectation {
    pub rule: String,
    /// `Kind/namespace/name` or `Kind/name`.
    pub resource: String,
    pub result: ExpectedResult,
    /// Restricts the expectation to one container of a per-container rule.
    pub container: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpectedResult {
    Pass,
    Fail,
    Skip,
    Error,
}

impl std::fmt::Display for ExpectedResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ExpectedResult::Pass => "pass",
            ExpectedResult::Fail => "fail",
            ExpectedResult::Skip => "skip",
            ExpectedResult::Error => "error",
        })
    }
}

/// The outcome of every suite found.
#[derive(Debug, Default)]
pub struct TestRun {
    pub suites: Vec<SuiteOutcome>,
    /// Bad input: unreadable files, bad rules or manifests, unknown rules or resources.
    pub problems: Vec<Problem>,
    /// Files that test nothing (an empty test file).
    pub warnings: Vec<Problem>,
}

#[derive(Debug)]
pub struct SuiteOutcome {
    pub name: String,
    pub file: String,
    pub passed: usize,
    pub failures: Vec<String>,
}

impl TestRun {
    pub fn passed(&self) -> usize {
        self.suites.iter().map(|s| s.passed).sum()
    }

    pub fn failed(&self) -> usize {
        self.suites.iter().map(|s| s.failures.len()).sum()
    }

    /// A human-readable account: each suite, each difference, and the totals. Problems (bad
    /// input) are not part of it: print them on their own.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for suite in &self.suites {
            let verdict = if suite.failures.is_empty() { "ok" } else { "FAILED" };
            let _ = writeln!(
                text,
                "{verdict:<6} {} ({}): {} passed, {} failed",
                suite.name,
                suite.file,
                suite.passed,
                suite.failures.len()
            );
            for failure in &suite.failures {
                let _ = writeln!(text, "       {failure}");
            }
        }
        let _ = writeln!(text, "{} passed, {} failed", self.passed(), self.failed());
        text
    }
}

/// Finds test files under `paths` (a file given explicitly is taken as a test file).
fn find_test_files(paths: &[PathBuf], run: &mut TestRun) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_file() {
            files.push(path.clone());
            continue;
        }
        match expand_paths(std::slice::from_ref(path)) {
            Ok(found) => {
                files.extend(found.files.into_iter().filter(|f| is_test_file(f)));
                // A test file that cannot be read is a suite not run.
                run.problems.extend(found.skipped.into_iter().filter(|p| is_test_file(Path::new(&p.location))));
            }
            Err(error) => run.problems.push(Problem::from_error(&error)),
        }
    }
    if files.is_empty() && run.problems.is_empty() {
        let listed: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        run.problems.push(Problem::new(
            listed.join(", "),
            "no test files found: name them portal-test.yaml or *.portal-test.yaml".to_owned(),
        ));
    }
    files
}

/// Runs every suite found under `paths`.
pub fn run_tests(paths: &[PathBuf]) -> TestRun {
    let mut run = TestRun::default();
    for file in find_test_files(paths, &mut run) {
        run_file(&file, &mut run);
    }
    run
}

fn run_file(file: &Path, run: &mut TestRun) {
    let source = file.display().to_string();
    let text = match read_source(file) {
        Ok(text) => text,
        Err(error) => return run.problems.push(Problem::from_error(&error)),
    };
    let documents = match parse_documents(&source, &text) {
        Ok(documents) => documents,
        Err(error) => return run.problems.push(Problem::from_rules_error(&error)),
    };
    if documents.is_empty() {
        run.warnings.push(Problem::new(source, "no test suites in this file: it tests nothing".to_owned()));
        return;
    }
    let base = file.parent().unwrap_or(Path::new("."));
    for document in documents {
        let location = document.origin.to_string();
        if document.value.get("network").is_some() {
            let spec: NetworkSuiteSpec = match parse_suite(document.value) {
                Ok(spec) => spec,
                Err((path, message)) => {
                    run.problems.push(Problem::new(location, format!("field `{path}`: {message}")));
                    continue;
                }
            };
            if let Some(outcome) = run_network_suite(&spec, base, &location, &mut run.problems) {
                run.suites.push(SuiteOutcome {
                    name: spec.name.clone().unwrap_or_else(|| location.clone()),
                    file: location,
                    passed: outcome.passed,
                    failures: outcome.failures,
                });
            }
            continue;
        }
        let spec: SuiteSpec = match parse_suite(document.value) {
            Ok(spec) => spec,
            Err((path, message)) => {
                run.problems.push(Problem::new(location, format!("field `{path}`: {message}")));
                continue;
            }
        };
        if let Some(outcome) = run_suite(&spec, base, &location, &mut run.problems) {
            run.suites.push(outcome);
        }
    }
}

fn parse_suite<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(value).map_err(|error| (error.path().to_string(), error.into_inner().to_string()))
}

fn run_suite(spec: &SuiteSpec, base: &Path, location: &str, problems: &mut Vec<Problem>) -> Option<SuiteOutcome> {
    let problems_before = problems.len();
    let request = spec.request.as_ref().map(|request| {
        let old: Vec<PathBuf> = request.old_resources.iter().map(|p| base.join(p)).collect();
        let (request, unreadable) = AdmissionRequest::from_spec(request, &old, DEFAULT_NAMESPACE);
        problems.extend(unreadable);
        request
    });
    let (CheckRun { rules, errors, .. }, reports) = CheckRun::collect(&CheckOptions {
        rules: spec.rules.iter().map(|p| base.join(p)).collect(),
        manifests: spec.resources.iter().map(|p| base.join(p)).collect(),
        namespace: DEFAULT_NAMESPACE.to_owned(),
        cluster: spec.cluster.iter().map(|p| base.join(p)).collect(),
        request: request.clone(),
        exceptions: spec.exceptions.iter().map(|p| base.join(p)).collect(),
    });
    if let Some(request) = request.as_ref().filter(|request| request.operation == Operation::Update) {
        for report in reports.iter().filter(|report| !request.old_objects.contains_key(&report.resource)) {
            problems.push(Problem::new(
                location.to_owned(),
                format!(
                    "request.oldResources: no previous version of {} for the UPDATE; add it to a file of oldResources",
                    report.resource
                ),
            ));
        }
    }
    problems.extend(errors);
    let mut by_resource: HashMap<String, &ObjectReport> = HashMap::new();
    for report in &reports {
        if let Some(previous) = by_resource.insert(report.resource.clone(), report) {
            problems.push(Problem::new(
                report.source.clone(),
                format!(
                    "resource {} is defined twice (also at {}); give it a unique name",
                    report.resource, previous.source
                ),
            ));
        }
    }
    let mut outcome = SuiteOutcome {
        name: spec.name.clone().unwrap_or_else(|| location.to_owned()),
        file: location.to_owned(),
        passed: 0,
        failures: Vec::new(),
    };
    for (index, expectation) in spec.results.iter().enumerate() {
        let Some(report) = by_resource.get(&expectation.resource) else {
            problems.push(Problem::new(
                location.to_owned(),
                format!("results[{index}].resource: no resource {} among the suite's resources", expectation.resource),
            ));
            continue;
        };
        if rules.get(&expectation.rule).is_none() {
            problems.push(Problem::new(
                location.to_owned(),
                format!("results[{index}].rule: no rule named {} among the suite's rules", expectation.rule),
            ));
            continue;
        }
        if let Some(container) = &expectation.container
            && !report.containers.contains(container)
        {
            problems.push(Problem::new(
                location.to_owned(),
                format!(
                    "results[{index}].container: {} has no container named {container} (it has: {})",
                    expectation.resource,
                    report.containers.join(", ")
                ),
            ));
            continue;
        }
        let (actual, detail) = actual_result(report, expectation);
        if actual == expectation.result {
            outcome.passed += 1;
        } else {
            let container = expectation.container.as_deref().map(|c| format!(" container {c}")).unwrap_or_default();
            outcome.failures.push(format!(
                "{} on {}{container}: expected {}, got {actual}{detail}",
                expectation.rule, expectation.resource, expectation.result
            ));
        }
    }
    (problems.len() == problems_before).then_some(outcome)
}

/// What the rule actually decided on the resource, with the messages behind it.
fn actual_result(report: &ObjectReport, expectation: &Expectation) -> (ExpectedResult, String) {
    let Some(result) = report.results.iter().find(|r| r.rule == expectation.rule) else {
        return (ExpectedResult::Skip, String::new());
    };
    if let Some(exception) = &result.exception {
        return (ExpectedResult::Skip, format!(" (exempted by {exception})"));
    }
    let in_scope = |container: &Option<String>| {
        expectation.container.as_ref().is_none_or(|wanted| container.as_ref() == Some(wanted))
    };
    let violations: Vec<&str> =
        result.violations.iter().filter(|v| in_scope(&v.container)).map(|v| v.message.as_str()).collect();
    let errors: Vec<&str> =
        result.errors.iter().filter(|e| in_scope(&e.container)).map(|e| e.message.as_str()).collect();
    if !violations.is_empty() {
        (ExpectedResult::Fail, format!(" ({})", violations.join("; ")))
    } else if !errors.is_empty() {
        (ExpectedResult::Error, format!(" ({})", errors.join("; ")))
    } else {
        debug_assert!(result.result != Outcome::Fail || expectation.container.is_some());
        (ExpectedResult::Pass, String::new())
    }
}
