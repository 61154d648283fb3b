//! `portal check`: every enabled rule on every object, as a CREATE admission would see it.
//! Audit-only rules run too, and their findings are reported, but only what admission would
//! deny makes the check fail. What admission does with the results is
//! [`portal_rules::AdmissionVerdict`], the very function the webhook uses.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;

use portal_files::{Manifest, ManifestFiles, ManifestItem, Problem};
use portal_rules::LoadedRule;
use portal_rules::cluster::{ClusterView, Overlay};
use portal_rules::exception::LoadedException;
use portal_rules::{
    Activation, AdmissionVerdict, Effect, EnforcementAction, EvaluationError, EvaluationInput, FailurePolicy, Mode,
    ModeFilter, ObjectIdentity, Operation, Origin, Outcome, RuleSet, Severity, Violation,
};
use serde::Serialize;
use serde_json::Value as Json;

use portal_rules::exception::ExceptionSet;

use crate::pipeline;
use crate::request::AdmissionRequest;

/// What to check: rule files or folders, manifests, and the namespace of objects that name none.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub rules: Vec<PathBuf>,
    pub manifests: Vec<PathBuf>,
    /// As `kubectl apply -n` would put them.
    pub namespace: String,
    /// Objects that cluster lookups see (`--cluster`); none: a rule that looks anything up
    /// fails to evaluate, saying it needs them.
    pub cluster: Vec<PathBuf>,
    /// The admission request objects are evaluated as; `None`: a CREATE, with `request` null
    /// (what `portal check` does).
    pub request: Option<AdmissionRequest>,
    /// Files or folders of `PortalException`/`PortalClusterException` resources to honour.
    pub exceptions: Vec<PathBuf>,
}

/// Rules and manifests given as text instead of paths.
#[derive(Debug, Clone)]
pub struct TextInput {
    /// What problems call the rules' text, as they would a file's path (`rules.yaml:3: …`).
    pub rules_name: String,
    /// Rule documents, YAML.
    pub rules: String,
    /// What problems and reports call the manifests' text.
    pub manifests_name: String,
    /// Kubernetes objects, YAML or JSON, several documents or a `kind: List`.
    pub manifests: String,
    /// As `kubectl apply -n` would put objects that name none.
    pub namespace: String,
}

/// What one `portal check` found besides the objects' reports.
#[derive(Debug)]
pub struct CheckRun {
    pub rules: RuleSet,
    pub summary: Summary,
    /// Documents that are not Kubernetes objects: reported and skipped.
    pub skipped: Vec<Problem>,
    /// Bad input: unreadable files, invalid YAML, invalid rules.
    pub errors: Vec<Problem>,
}

impl CheckRun {
    /// Loads the rules and manifests and checks every object. Each object's report goes through
    /// `prepare` (on the thread that checked it: render it there) and then, in input order, to
    /// `visit`. Memory holds the manifests' text and the objects in flight, not every object and
    /// report at once. Stops at the first error `visit` returns.
    pub fn run<R: Send, E>(
        options: &CheckOptions,
        prepare: impl Fn(ObjectReport) -> R + Sync,
        visit: impl FnMut(R) -> Result<(), E>,
    ) -> Result<CheckRun, E> {
        let (rules, rule_problems) = portal_files::load_rule_paths(&options.rules);
        let (exceptions, exception_problems) = portal_files::load_exception_paths(&options.exceptions);
        let input = Loaded {
            rules,
            rule_problems,
            exceptions,
            exception_problems,
            manifests: ManifestFiles::read(&options.manifests),
            cluster: &options.cluster,
            namespace: &options.namespace,
            request: options.request.as_ref(),
            rules_named: paths_of(&options.rules),
            manifests_named: paths_of(&options.manifests),
        };
        input.check(prepare, visit)
    }

    /// [`CheckRun::run`] on rules and manifests given as text (an editor's buffers, the rule
    /// playground): the same loading, evaluation and verdicts as files on disk with that text.
    pub fn run_text<R: Send, E>(
        input: &TextInput,
        prepare: impl Fn(ObjectReport) -> R + Sync,
        visit: impl FnMut(R) -> Result<(), E>,
    ) -> Result<CheckRun, E> {
        let (rules, rule_problems) = portal_files::load_rule_text(&input.rules_name, &input.rules);
        let loaded = Loaded {
            rules,
            rule_problems,
            exceptions: Vec::new(),
            exception_problems: Vec::new(),
            manifests: ManifestFiles::from_text(&input.manifests_name, input.manifests.clone()),
            cluster: &[],
            namespace: &input.namespace,
            request: None,
            rules_named: input.rules_name.clone(),
            manifests_named: input.manifests_name.clone(),
        };
        loaded.check(prepare, visit)
    }

    /// [`CheckRun::run`], keeping every object's report: for `portal test` and small inputs.
    pub fn collect(options: &CheckOptions) -> (CheckRun, Vec<ObjectReport>) {
        let mut reports = Vec::new();
        let run = CheckRun::run(
            options,
            |report| report,
            |report| {
                reports.push(report);
                Ok::<(), Infallible>(())
            },
        );
        match run {
            Ok(run) => (run, reports),
            Err(never) => match never {},
        }
    }
}

/// Rules, exceptions and manifests read, from paths or text, and ready to check.
struct Loaded<'a> {
    rules: Vec<LoadedRule>,
    rule_problems: Vec<Problem>,
    exceptions: Vec<LoadedException>,
    exception_problems: Vec<Problem>,
    manifests: ManifestFiles,
    cluster: &'a [PathBuf],
    namespace: &'a str,
    request: Option<&'a AdmissionRequest>,
    /// How problems name the rules and the manifests when there is nothing in them to check.
    rules_named: String,
    manifests_named: String,
}

impl Loaded<'_> {
    fn check<R: Send, E>(
        self,
        prepare: impl Fn(ObjectReport) -> R + Sync,
        mut visit: impl FnMut(R) -> Result<(), E>,
    ) -> Result<CheckRun, E> {
        let mut errors = self.rule_problems;
        let (rules, compile_errors) = RuleSet::compile(self.rules);
        errors.extend(compile_errors.iter().map(Problem::from_rules_error));
        errors.extend(self.exception_problems);
        let (exceptions, exception_errors) = ExceptionSet::compile(self.exceptions, rules.limits());
        errors.extend(exception_errors.iter().map(Problem::from_rules_error));
        let rules = rules.with_exceptions(exceptions);
        let documents = self.manifests.documents();
        let namespaces = documents.namespaces();
        let cluster = (!self.cluster.is_empty()).then(|| {
            let (cluster, problems) = crate::cluster::load_cluster(self.cluster, self.namespace);
            errors.extend(problems);
            cluster
        });
        let mut summary = Summary { rules: rules.len(), ..Summary::default() };
        let mut skipped = Vec::new();
        let mut take = |checked| match checked {
            Checked::Report(counts, prepared) => {
                summary.merge(&counts);
                visit(prepared)
            }
            Checked::Skipped(problem) => {
                skipped.push(problem);
                Ok(())
            }
            Checked::Error(problem) => {
                errors.push(problem);
                Ok(())
            }
        };
        let check_item = |item| match item {
            ManifestItem::Object(manifest) => {
                let report = check_object(&rules, &manifest, &namespaces, cluster.as_ref(), self.request);
                let mut counts = Summary::default();
                counts.count(&report);
                Checked::Report(counts, prepare(report))
            }
            ManifestItem::Skipped(problem) => Checked::Skipped(problem),
            ManifestItem::Error(problem) => Checked::Error(problem),
        };
        documents.problems().map(check_item).try_for_each(&mut take)?;
        // Units are parsed, checked and prepared on every core; they still come out in order.
        pipeline::map_in_order(
            pipeline::worker_count(),
            |emit| {
                documents.units().iter().take_while(|unit| emit(**unit)).for_each(drop);
            },
            |unit| {
                let mut checked = Vec::new();
                unit.expand(self.namespace, &mut |item| checked.push(check_item(item)));
                checked
            },
            |checked| checked.into_iter().try_for_each(&mut take),
        )?;
        // A check that checks nothing must not pass silently.
        if errors.is_empty() && rules.is_empty() {
            skipped.push(Problem::new(self.rules_named, "no rules found: nothing was checked".to_owned()));
        }
        if errors.is_empty() && summary.objects == 0 {
            skipped.push(Problem::new(
                self.manifests_named,
                "no Kubernetes objects found: nothing was checked".to_owned(),
            ));
        }
        Ok(CheckRun { rules, summary, skipped, errors })
    }
}

/// A manifest item once checked: an object's counts and its prepared report, or a problem.
enum Checked<R> {
    Report(Summary, R),
    Skipped(Problem),
    Error(Problem),
}

fn paths_of(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// The results of one object.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReport {
    pub source: String,
    #[serde(skip)]
    pub origin: Origin,
    #[serde(skip)]
    pub identity: ObjectIdentity,
    pub resource: String,
    /// Names of the object's containers (pod sugar), for test expectations.
    #[serde(skip)]
    pub containers: Vec<String>,
    /// What a CREATE admission of the object would answer: its denials and warnings.
    pub admission: AdmissionVerdict,
    pub results: Vec<RuleReport>,
}

/// One matching rule's verdict on one object.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleReport {
    pub rule: String,
    pub result: Outcome,
    pub severity: Severity,
    pub mode: Vec<Mode>,
    pub enforcement_action: EnforcementAction,
    pub failure_policy: FailurePolicy,
    /// What each violation does at admission.
    #[serde(skip)]
    pub violation_effect: Effect,
    /// What each evaluation error does at admission.
    #[serde(skip)]
    pub error_effect: Effect,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<EvaluationError>,
    /// The exception that exempted the object from the rule (`result` is then `skip`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
}

impl RuleReport {
    /// What the rule does to the object at admission, or `audit` when it only runs in audit.
    pub fn action_label(&self) -> &'static str {
        match self.violation_effect {
            Effect::Deny => "deny",
            Effect::Warn => "warn",
            Effect::Dryrun => "dryrun",
            Effect::None => "audit",
        }
    }
}

/// Totals over a check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub objects: usize,
    pub rules: usize,
    /// Violations admission would deny.
    pub deny: usize,
    pub warn: usize,
    pub dryrun: usize,
    /// Violations of rules that only run in audit: reported, never denied.
    pub audit: usize,
    pub errors: usize,
    /// Evaluation errors of `failurePolicy: Fail` deny rules: admission denies these too.
    pub fail_closed_errors: usize,
    /// Rules not evaluated on an object because an exception exempts it (once per rule and object).
    pub exempted: usize,
}

impl Summary {
    /// Whether admission would have denied at least one object.
    pub fn denies(&self) -> bool {
        self.deny > 0 || self.fail_closed_errors > 0
    }

    /// Adds the counts of `other` (whose `rules` is not counted).
    pub fn merge(&mut self, other: &Summary) {
        self.objects += other.objects;
        self.deny += other.deny;
        self.warn += other.warn;
        self.dryrun += other.dryrun;
        self.audit += other.audit;
        self.errors += other.errors;
        self.fail_closed_errors += other.fail_closed_errors;
        self.exempted += other.exempted;
    }

    /// Counts one object, its violations by what admission would do with them, and its
    /// evaluation errors.
    pub fn count(&mut self, report: &ObjectReport) {
        self.objects += 1;
        for result in &report.results {
            let count = result.violations.len();
            match result.violation_effect {
                Effect::Deny => self.deny += count,
                Effect::Warn => self.warn += count,
                Effect::Dryrun => self.dryrun += count,
                Effect::None => self.audit += count,
            }
            self.errors += result.errors.len();
            self.exempted += usize::from(result.exception.is_some());
            if result.error_effect == Effect::Deny {
                self.fail_closed_errors += result.errors.len();
            }
        }
    }
}

/// Evaluates every enabled rule of `rules` on one manifest, as a CREATE admission unless
/// `request` says otherwise (on DELETE the manifest is the object being deleted; on UPDATE its
/// previous version comes from the request). `namespaces` (the Namespace objects among the
/// manifests) give `namespaceObject`; lookups see `cluster` as it will be once the request is
/// admitted, as at admission.
pub fn check_object(
    rules: &RuleSet,
    manifest: &Manifest,
    namespaces: &HashMap<String, Json>,
    cluster: Option<&Arc<dyn ClusterView>>,
    request: Option<&AdmissionRequest>,
) -> ObjectReport {
    let identity = ObjectIdentity::of(&manifest.object);
    let namespace_object = identity.namespace.as_deref().and_then(|ns| namespaces.get(ns));
    let operation = request.map_or(Operation::Create, |request| request.operation);
    let (object, old_object) = match operation {
        Operation::Delete => (None, Some(&manifest.object)),
        _ => (Some(&manifest.object), request.and_then(|request| request.old_objects.get(&identity.display_name()))),
    };
    let overlay: Option<Arc<dyn ClusterView>> = cluster
        .filter(|_| rules.reads_cluster())
        .map(|cluster| Arc::new(Overlay::new(Arc::clone(cluster), &identity, object.cloned())) as Arc<dyn ClusterView>);
    let request_json = request.map(|request| request.to_json(&identity));
    let activation = Activation::new(EvaluationInput {
        object,
        old_object,
        request: request_json.as_ref(),
        namespace_object,
        operation: Some(operation),
        cluster: overlay.as_ref(),
    });
    let evaluated = rules.evaluate(&activation, ModeFilter::Any);
    let admission = AdmissionVerdict::of(&evaluated);
    let results = evaluated
        .into_iter()
        .map(|result| {
            let spec = result.rule.spec();
            RuleReport {
                rule: result.rule.name().to_owned(),
                result: result.outcome(),
                severity: spec.severity,
                mode: spec.mode.clone(),
                enforcement_action: spec.enforcement_action,
                failure_policy: spec.failure_policy,
                violation_effect: Effect::of_violation(spec),
                error_effect: Effect::of_error(spec),
                violations: result.violations,
                errors: result.errors,
                exception: result.exception.as_deref().map(str::to_owned),
            }
        })
        .collect();
    ObjectReport {
        source: manifest.origin.to_string(),
        origin: manifest.origin.clone(),
        resource: identity.display_name(),
        containers: activation.container_names().map(str::to_owned).collect(),
        identity,
        admission,
        results,
    }
}
