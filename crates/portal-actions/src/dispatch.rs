//! The dispatcher (SPEC §8): turns a rule's violations on an object into action attempts, each
//! counted with its result. An action runs once per (rule, object, action) while the violation
//! lasts (`duplicate` after that) and again after it cleared and came back; at most at its
//! (rule, action)'s rate (`ratelimited` ones wait, bounded, and run when the rate allows unless
//! the violation clears first); through a bounded queue (`dropped` when full) and a pool of
//! workers. Only the leader acts; `dryRun` only logs and counts.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use portal_metrics::ActionResult;
use portal_rules::CompiledRule;
use portal_rules::actions::{Action, ActionKind};
use tokio::sync::mpsc;

use crate::alerts::{AlertSink, AlertSpec, Fired};
use crate::keyed::Keyed;
pub use crate::leading::Leading;
use crate::rate::{RateKey, RateLimits};
use crate::subject::{Source, Subject, Violation};

/// Most (rule, object, action) entries remembered as done; past it the oldest half is forgotten
/// (an idempotent action then runs once more; a non-idempotent one only on a violation that
/// persists, which is what it is for).
const MAX_DONE: usize = 200_000;

/// Most rate-limited actions waiting for their rate; more are dropped.
const MAX_DEFERRED: usize = 10_000;

/// How often waiting actions are checked against their rate, and leadership is looked at.
const DEFERRED_TICK: Duration = Duration::from_millis(100);

/// The error an executor reports: what went wrong, said for the log.
pub type ExecuteError = Box<dyn std::error::Error + Send + Sync>;

/// What carries out the actions that change the cluster (`portal-kube` implements it).
pub trait Executor: Send + Sync + 'static {
    /// Does `action` (never `alertmanager`) of `rule` on `subject`; on success, says what was
    /// done, for the log.
    fn execute<'a>(
        &'a self,
        rule: &'a str,
        action: &'a Action,
        subject: &'a Subject,
    ) -> Pin<Box<dyn Future<Output = Result<String, ExecuteError>> + Send + 'a>>;
}

/// What found violations and has actions: a rule, or something else that reports on objects (a
/// network check).
#[derive(Debug, Clone, Copy)]
pub struct Acting<'a> {
    name: &'a str,
    severity: &'a str,
    actions: &'a [Action],
    /// A namespaced rule (`PortalRule`, written by a namespace's tenants): it may only alert.
    namespaced: bool,
}

impl<'a> Acting<'a> {
    /// A finder that is not a rule (a network check): its name, the severity of its findings and
    /// its checked actions.
    pub fn new(name: &'a str, severity: &'a str, actions: &'a [Action]) -> Self {
        Self { name, severity, actions, namespaced: false }
    }

    pub fn name(&self) -> &'a str {
        self.name
    }

    pub fn severity(&self) -> &'a str {
        self.severity
    }

    pub fn actions(&self) -> &'a [Action] {
        self.actions
    }
}

impl<'a> From<&'a CompiledRule> for Acting<'a> {
    fn from(rule: &'a CompiledRule) -> Self {
        Self {
            name: rule.name(),
            severity: rule.spec().severity.as_str(),
            actions: rule.actions(),
            namespaced: rule.namespace().is_some(),
        }
    }
}

/// How the dispatcher runs.
#[derive(Debug, Clone)]
pub struct DispatcherSettings {
    pub dry_run: bool,
    pub queue_size: usize,
    pub workers: usize,
    /// Action types switched off (`label`, `evict`, …).
    pub disabled_types: HashSet<&'static str>,
    /// Namespaces no action touches: the system's and Portal's own.
    pub excluded_namespaces: HashSet<String>,
    /// Finders that are not rules (network checks) with actions: [`Dispatcher::follow_rules`]
    /// keeps their state and alerts.
    pub standing: HashSet<String>,
}

#[derive(Debug)]
struct Job {
    rule: String,
    action: Action,
    subject: Subject,
}

#[derive(Default)]
struct State {
    /// Done or queued, with when: by object, rule, action position.
    done: Keyed<usize, Instant>,
    /// Waiting for their rate: the place of each in `waiting`.
    deferred: Keyed<usize, u64>,
    /// The waiting actions, in the order they arrived.
    waiting: BTreeMap<u64, Job>,
    next_arrival: u64,
    limits: RateLimits,
    /// Whether this replica led at the last look: losing the lease forgets everything (the new
    /// leader evaluates all again and acts on what it finds).
    leading: bool,
}

impl State {
    fn clear_rule_on(&mut self, object: &str, rule: &str) {
        self.done.remove_rule_on(object, rule);
        for (_, arrival) in self.deferred.remove_rule_on(object, rule) {
            self.waiting.remove(&arrival);
        }
    }

    fn forget_all(&mut self) {
        self.done.clear();
        self.deferred.clear();
        self.waiting.clear();
    }
}

struct Inner {
    settings: DispatcherSettings,
    executor: Arc<dyn Executor>,
    alerts: AlertSink,
    metrics: portal_metrics::Metrics,
    leading: Leading,
    state: Mutex<State>,
    queue: mpsc::Sender<Job>,
    queued: std::sync::atomic::AtomicUsize,
}

impl Inner {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The running dispatcher. Cheap to clone; its tasks stop when it is dropped with its tasks.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").field("settings", &self.inner.settings).finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// Starts the workers and the task that releases rate-limited actions.
    pub fn start(
        settings: DispatcherSettings,
        executor: Arc<dyn Executor>,
        alerts: AlertSink,
        metrics: portal_metrics::Metrics,
        leading: Leading,
    ) -> (Self, Vec<tokio::task::JoinHandle<()>>) {
        let (queue, jobs) = mpsc::channel(settings.queue_size.max(1));
        let workers = settings.workers.max(1);
        let inner = Arc::new(Inner {
            settings,
            executor,
            alerts,
            metrics,
            leading,
            state: Mutex::default(),
            queue,
            queued: std::sync::atomic::AtomicUsize::new(0),
        });
        let jobs = Arc::new(tokio::sync::Mutex::new(jobs));
        let mut tasks: Vec<tokio::task::JoinHandle<()>> =
            (0..workers).map(|_| tokio::spawn(work(Arc::clone(&inner), Arc::clone(&jobs)))).collect();
        tasks.push(tokio::spawn(release_deferred(Arc::clone(&inner))));
        (Self { inner }, tasks)
    }

    /// The evaluation of `rule` on `subject` at `source` found `violations` (none: it passed, so
    /// what its actions did may happen again if it comes back, and its alerts resolve).
    /// Returns at once: admission is never delayed.
    pub fn observe(&self, source: Source, subject: &Subject, rule: Acting<'_>, violations: &[Violation]) {
        if rule.actions().is_empty() {
            return;
        }
        let leading = (self.inner.leading)();
        let admission = matches!(source, Source::Admission { .. });
        // Every replica answers reviews: admission alerts go from any of them (Alertmanager
        // merges equal alerts); everything else is the leader's.
        if !leading && !admission {
            return;
        }
        if violations.is_empty() {
            self.clear(rule.name(), &subject.key());
            return;
        }
        for action in rule.actions().iter().filter(|action| action.triggers.includes(source.trigger())) {
            let alert = matches!(action.kind, ActionKind::Alertmanager { .. });
            if !leading && !alert {
                self.inner.metrics.action(action.kind.type_name(), ActionResult::Follower);
                continue;
            }
            self.offer(source, subject, &rule, action, violations);
        }
    }

    /// `rule` no longer applies to the object `subject_key` (it stopped matching, or its mode
    /// changed): what it did there may happen again, and its alerts there resolve.
    pub fn clear(&self, rule: &str, subject_key: &str) {
        self.inner.state().clear_rule_on(subject_key, rule);
        self.inner.alerts.resolve(rule, subject_key, &[]);
    }

    /// The object is gone: its alerts resolve and its actions are forgotten.
    pub fn forget_object(&self, subject_key: &str) {
        {
            let mut state = self.inner.state();
            state.done.remove_object(subject_key);
            for (_, _, arrival) in state.deferred.remove_object(subject_key) {
                state.waiting.remove(&arrival);
            }
        }
        self.inner.alerts.resolve_object(subject_key);
    }

    /// `rules` are the rules in force now: the state of rules that left goes, and the alerts of
    /// rules that left, are disabled, no longer run in the audit or no longer alert resolve.
    pub fn follow_rules(&self, rules: &portal_rules::RuleSet) {
        let standing = self.inner.settings.standing.iter().map(String::as_str);
        let enabled = || rules.rules().iter().filter(|rule| rule.spec().enabled);
        let acting: HashSet<&str> = enabled()
            .filter(|rule| !rule.actions().is_empty())
            .map(CompiledRule::name)
            .chain(standing.clone())
            .collect();
        let alerting: HashSet<&str> = enabled()
            .filter(|rule| rule.spec().mode.contains(&portal_rules::Mode::Audit))
            .filter(|rule| rule.actions().iter().any(|action| matches!(action.kind, ActionKind::Alertmanager { .. })))
            .map(CompiledRule::name)
            .chain(standing)
            .collect();
        {
            let mut state = self.inner.state();
            state.done.extract(|_, rule, _, _| !acting.contains(rule));
            let gone: Vec<u64> = state
                .deferred
                .extract(|_, rule, _, _| !acting.contains(rule))
                .into_iter()
                .map(|(_, _, _, arrival)| arrival)
                .collect();
            for arrival in gone {
                state.waiting.remove(&arrival);
            }
            state.limits.retain_rules(|rule| acting.contains(rule));
        }
        self.inner.alerts.retain_rules(|rule| alerting.contains(rule));
    }

    fn offer(&self, source: Source, subject: &Subject, rule: &Acting<'_>, action: &Action, violations: &[Violation]) {
        let inner = &self.inner;
        let type_name = action.kind.type_name();
        let count = |result: ActionResult| inner.metrics.action(type_name, result);
        if inner.settings.disabled_types.contains(type_name) {
            count(ActionResult::Disabled);
            return;
        }
        if let ActionKind::Alertmanager { alertname } = &action.kind {
            self.alert(source, subject, rule, action, alertname, violations);
            return;
        }
        if rule.namespaced {
            tracing::debug!(rule = %rule.name(), action = type_name, "action: a PortalRule may only alert");
            count(ActionResult::Disabled);
            return;
        }
        if self.excluded(subject) {
            tracing::debug!(rule = %rule.name(), action = type_name, object = %subject.display(), "action: excluded namespace");
            count(ActionResult::Excluded);
            return;
        }
        if subject.uid.is_none() {
            // An admission CREATE: the object does not exist (and may never).
            tracing::debug!(rule = %rule.name(), action = type_name, object = %subject.display(), "action: the object does not exist yet");
            count(ActionResult::Error);
            return;
        }
        let object = subject.key();
        let mut state = inner.state();
        if state.done.get(&object, rule.name(), &action.index).is_some()
            || state.deferred.get(&object, rule.name(), &action.index).is_some()
        {
            count(ActionResult::Duplicate);
            return;
        }
        if inner.settings.dry_run {
            remember(&mut state, &object, rule.name(), action.index);
            drop(state);
            tracing::info!(
                rule = %rule.name(), action = type_name, object = %subject.display(), dry_run = true,
                "action: would run {}", describe(&action.kind)
            );
            count(ActionResult::DryRun);
            return;
        }
        let job = Job { rule: rule.name().to_owned(), action: action.clone(), subject: subject.clone() };
        let rate_key: RateKey = (rule.name().to_owned(), action.index);
        if !state.limits.try_take(&rate_key, action.rate, Instant::now()) {
            if state.deferred.len() >= MAX_DEFERRED {
                drop(state);
                tracing::warn!(rule = %rule.name(), action = type_name, object = %subject.display(), "action: dropped: {MAX_DEFERRED} actions already wait for their rate");
                count(ActionResult::Dropped);
                return;
            }
            let arrival = state.next_arrival;
            state.next_arrival += 1;
            state.deferred.insert(&object, rule.name(), action.index, arrival);
            state.waiting.insert(arrival, job);
            drop(state);
            tracing::debug!(rule = %rule.name(), action = type_name, object = %subject.display(), "action: rate limited, waiting");
            count(ActionResult::RateLimited);
            return;
        }
        remember(&mut state, &object, rule.name(), action.index);
        drop(state);
        enqueue(inner, job);
    }

    /// Whether the object is in, or is, a namespace no action touches.
    fn excluded(&self, subject: &Subject) -> bool {
        let excluded = &self.inner.settings.excluded_namespaces;
        let namespace_itself = subject.group().is_empty() && subject.kind == "Namespace";
        subject.namespace.as_ref().is_some_and(|namespace| excluded.contains(namespace))
            || (namespace_itself && excluded.contains(&subject.name))
    }

    fn alert(
        &self,
        source: Source,
        subject: &Subject,
        rule: &Acting<'_>,
        action: &Action,
        alertname: &str,
        violations: &[Violation],
    ) {
        let inner = &self.inner;
        let count = |result: ActionResult| inner.metrics.action("alertmanager", result);
        let admission = matches!(source, Source::Admission { .. });
        if inner.settings.dry_run {
            let object = subject.key();
            let mut state = inner.state();
            if state.done.get(&object, rule.name(), &action.index).is_some() {
                count(ActionResult::Duplicate);
            } else {
                remember(&mut state, &object, rule.name(), action.index);
                drop(state);
                tracing::info!(rule = %rule.name(), object = %subject.display(), dry_run = true, "action: would send alert {alertname}");
                count(ActionResult::DryRun);
            }
            return;
        }
        if !inner.alerts.has_receivers() {
            tracing::warn!(rule = %rule.name(), "alerting: the rule alerts, but alerting.alertmanager.urls is empty");
            count(ActionResult::Error);
            return;
        }
        let severity = rule.severity();
        for violation in violations {
            if admission && inner.alerts.admission_alert_known(rule.name(), subject, action.index, violation) {
                count(ActionResult::Duplicate);
                continue;
            }
            // Admission alerts are events a tenant can make at will: the rule's rate holds them.
            if admission
                && !inner.state().limits.try_take(&(rule.name().to_owned(), action.index), action.rate, Instant::now())
            {
                count(ActionResult::RateLimited);
                continue;
            }
            let spec =
                AlertSpec { alertname, rule: rule.name(), action: action.index, severity, source, subject, violation };
            match inner.alerts.fire(&spec, action.rate.interval()) {
                Fired::New => {
                    tracing::info!(rule = %rule.name(), object = %subject.display(), alert = alertname, "action: alert firing");
                    count(ActionResult::Ok);
                }
                Fired::AlreadyFiring => count(ActionResult::Duplicate),
                Fired::Full => count(ActionResult::Dropped),
            }
        }
        if !admission {
            let containers: Vec<Option<&str>> =
                violations.iter().map(|violation| violation.container.as_deref()).collect();
            inner.alerts.resolve(rule.name(), &subject.key(), &containers);
        }
    }
}

fn remember(state: &mut State, object: &str, rule: &str, index: usize) {
    if state.done.len() >= MAX_DONE {
        let mut ages: Vec<Instant> = state.done.iter().map(|(_, _, _, when)| *when).collect();
        ages.sort_unstable();
        let cutoff = ages[ages.len() / 2];
        state.done.extract(|_, _, _, when| *when <= cutoff);
    }
    state.done.insert(object, rule, index, Instant::now());
}

fn enqueue(inner: &Arc<Inner>, job: Job) {
    let type_name = job.action.kind.type_name();
    match inner.queue.try_send(job) {
        Ok(()) => {
            let depth = inner.queued.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            inner.metrics.set_action_queue_depth(depth);
        }
        Err(mpsc::error::TrySendError::Full(job) | mpsc::error::TrySendError::Closed(job)) => {
            inner.state().done.remove(&job.subject.key(), &job.rule, &job.action.index);
            tracing::warn!(
                rule = %job.rule, action = type_name, object = %job.subject.display(),
                "action: dropped: the queue is full (actions.queueSize)"
            );
            inner.metrics.action(type_name, ActionResult::Dropped);
        }
    }
}

/// A worker: runs queued actions, while this replica leads.
async fn work(inner: Arc<Inner>, jobs: Arc<tokio::sync::Mutex<mpsc::Receiver<Job>>>) {
    loop {
        let Some(job) = jobs.lock().await.recv().await else { return };
        let depth = inner.queued.fetch_sub(1, std::sync::atomic::Ordering::Relaxed).saturating_sub(1);
        inner.metrics.set_action_queue_depth(depth);
        let type_name = job.action.kind.type_name();
        if !(inner.leading)() {
            // Leadership was lost while it waited: the new leader acts.
            continue;
        }
        tracing::debug!(rule = %job.rule, action = type_name, object = %job.subject.display(), "action: running");
        match inner.executor.execute(&job.rule, &job.action, &job.subject).await {
            Ok(done) => {
                tracing::info!(rule = %job.rule, action = type_name, object = %job.subject.display(), "action: {done}");
                inner.metrics.action(type_name, ActionResult::Ok);
            }
            Err(error) => {
                inner.state().done.remove(&job.subject.key(), &job.rule, &job.action.index);
                tracing::warn!(rule = %job.rule, action = type_name, object = %job.subject.display(), "action failed: {error}");
                inner.metrics.action(type_name, ActionResult::Error);
            }
        }
    }
}

/// Moves rate-limited actions to the queue, in the order they arrived, as their (rule,
/// action)'s rate allows; forgets everything when this replica stops leading.
async fn release_deferred(inner: Arc<Inner>) {
    loop {
        tokio::time::sleep(DEFERRED_TICK).await;
        let ready: Vec<Job> = {
            let leading = (inner.leading)();
            let mut state = inner.state();
            if state.leading && !leading {
                state.forget_all();
                tracing::info!("actions: no longer leading; the new leader acts on what it finds");
            }
            state.leading = leading;
            if state.waiting.is_empty() || !leading {
                continue;
            }
            let now = Instant::now();
            let arrivals: Vec<(u64, String, usize, portal_rules::actions::Rate)> = state
                .waiting
                .iter()
                .map(|(arrival, job)| (*arrival, job.rule.clone(), job.action.index, job.action.rate))
                .collect();
            let mut ready = Vec::new();
            for (arrival, rule, index, rate) in arrivals {
                if state.limits.try_take(&(rule, index), rate, now)
                    && let Some(job) = state.waiting.remove(&arrival)
                {
                    let object = job.subject.key();
                    state.deferred.remove(&object, &job.rule, &job.action.index);
                    state.done.insert(&object, &job.rule, job.action.index, now);
                    ready.push(job);
                }
            }
            ready
        };
        for job in ready {
            enqueue(&inner, job);
        }
    }
}

/// What an action does, for the dry-run log.
fn describe(kind: &ActionKind) -> String {
    match kind {
        ActionKind::Alertmanager { alertname } => format!("send alert {alertname}"),
        ActionKind::Label { labels } => format!("label {labels:?}"),
        ActionKind::Annotate { annotations } => format!("annotate {annotations:?}"),
        ActionKind::Evict => "evict the Pod".to_owned(),
        ActionKind::PatchNetworkPolicy { name, .. } => format!("apply NetworkPolicy {name}"),
        ActionKind::RevokeSaToken { mode } => format!("revoke the ServiceAccount's tokens ({mode:?})"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use portal_rules::RuleSet;

    use super::*;

    /// Records what it was asked to do; fails while `failing` is set.
    #[derive(Default)]
    struct Recorder {
        done: Mutex<Vec<String>>,
        failing: AtomicBool,
    }

    impl Executor for Recorder {
        fn execute<'a>(
            &'a self,
            rule: &'a str,
            action: &'a Action,
            subject: &'a Subject,
        ) -> Pin<Box<dyn Future<Output = Result<String, ExecuteError>> + Send + 'a>> {
            Box::pin(async move {
                if self.failing.load(Ordering::SeqCst) {
                    return Err("refused".into());
                }
                let entry = format!("{rule} {} {}", action.kind.type_name(), subject.name);
                self.done.lock().unwrap().push(entry.clone());
                Ok(entry)
            })
        }
    }

    const RULES: &str = "\
name: labelled
match: {gvk: [{group: \"\", version: v1, kind: Pod}]}
rule: \"true\"
actions:
- {type: label, labels: {quarantine: \"true\"}, rateLimit: 2/h}
- {type: evict, on: [admission]}
";

    fn rules() -> RuleSet {
        let (loaded, errors) = portal_rules::load_rules("t", RULES);
        assert!(errors.is_empty(), "{errors:?}");
        let (set, errors) = RuleSet::compile(loaded);
        assert!(errors.is_empty(), "{errors:?}");
        set
    }

    fn pod(name: &str, namespace: &str) -> Subject {
        Subject {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: Some(namespace.into()),
            name: name.into(),
            uid: Some(format!("uid-{name}")),
        }
    }

    fn violation() -> Vec<Violation> {
        vec![Violation { message: "bad".into(), container: None }]
    }

    struct Harness {
        dispatcher: Dispatcher,
        recorder: Arc<Recorder>,
        metrics: portal_metrics::Metrics,
        leading: Arc<AtomicBool>,
        _tasks: Vec<tokio::task::JoinHandle<()>>,
    }

    fn start(dry_run: bool, disabled: &[&'static str]) -> Harness {
        let metrics = portal_metrics::Metrics::new().unwrap();
        let recorder = Arc::new(Recorder::default());
        let leading = Arc::new(AtomicBool::new(true));
        let flag = Arc::clone(&leading);
        let sink_flag = Arc::clone(&leading);
        let (alerts, mut tasks) =
            AlertSink::start(Vec::new(), 10, metrics.clone(), Arc::new(move || sink_flag.load(Ordering::SeqCst)));
        let settings = DispatcherSettings {
            dry_run,
            queue_size: 10,
            workers: 2,
            disabled_types: disabled.iter().copied().collect(),
            excluded_namespaces: HashSet::from(["kube-system".to_owned()]),
            standing: HashSet::new(),
        };
        let executor: Arc<dyn Executor> = Arc::clone(&recorder) as Arc<dyn Executor>;
        let (dispatcher, more) = Dispatcher::start(
            settings,
            executor,
            alerts,
            metrics.clone(),
            Arc::new(move || flag.load(Ordering::SeqCst)),
        );
        tasks.extend(more);
        Harness { dispatcher, recorder, metrics, leading, _tasks: tasks }
    }

    /// `portal_actions_total{action, result}` now.
    fn counted(metrics: &portal_metrics::Metrics, action: &str, result: &str) -> u64 {
        let text = metrics.encode();
        let series = format!("portal_actions_total{{action=\"{action}\",result=\"{result}\"}} ");
        text.lines().find_map(|line| line.strip_prefix(&series)).map_or(0, |value| value.trim().parse().unwrap())
    }

    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn an_action_runs_once_while_its_violation_lasts_and_again_after_it_cleared() {
        let harness = start(false, &[]);
        let rules = rules();
        let rule = &rules.rules()[0];
        let web = pod("web", "shop");
        harness.dispatcher.observe(Source::Audit, &web, rule.into(), &violation());
        harness.dispatcher.observe(Source::Audit, &web, rule.into(), &violation());
        settle().await;
        assert_eq!(*harness.recorder.done.lock().unwrap(), ["labelled label web"]);
        assert_eq!(counted(&harness.metrics, "label", "ok"), 1);
        assert_eq!(counted(&harness.metrics, "label", "duplicate"), 1);
        // evict is `on: [admission]`: the audit does not trigger it.
        assert_eq!(counted(&harness.metrics, "evict", "ok"), 0);
        harness.dispatcher.observe(Source::Audit, &web, rule.into(), &[]);
        harness.dispatcher.observe(Source::Audit, &web, rule.into(), &violation());
        settle().await;
        assert_eq!(harness.recorder.done.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn the_rate_holds_the_rest_back_until_their_violation_clears() {
        let harness = start(false, &[]);
        let rules = rules();
        let rule = &rules.rules()[0];
        for index in 0..100 {
            harness.dispatcher.observe(Source::Audit, &pod(&format!("p{index}"), "shop"), rule.into(), &violation());
        }
        settle().await;
        assert_eq!(harness.recorder.done.lock().unwrap().len(), 2, "2/h");
        assert_eq!(counted(&harness.metrics, "label", "ratelimited"), 98);
        // A waiting action whose violation cleared never runs.
        harness.dispatcher.observe(Source::Audit, &pod("p50", "shop"), rule.into(), &[]);
        assert!(
            !harness.dispatcher.inner.state.lock().unwrap().deferred.iter().any(|(object, ..)| object == "uid-p50")
        );
    }

    #[tokio::test]
    async fn followers_dry_runs_disabled_types_and_system_namespaces_change_nothing() {
        let rules = rules();
        let rule = &rules.rules()[0];
        let follower = start(false, &[]);
        follower.leading.store(false, Ordering::SeqCst);
        follower.dispatcher.observe(Source::Audit, &pod("web", "shop"), rule.into(), &violation());
        let dry = start(true, &[]);
        dry.dispatcher.observe(Source::Audit, &pod("web", "shop"), rule.into(), &violation());
        dry.dispatcher.observe(Source::Audit, &pod("web", "shop"), rule.into(), &violation());
        let disabled = start(false, &["label"]);
        disabled.dispatcher.observe(Source::Audit, &pod("web", "shop"), rule.into(), &violation());
        let system = start(false, &[]);
        system.dispatcher.observe(Source::Audit, &pod("coredns", "kube-system"), rule.into(), &violation());
        settle().await;
        for harness in [&follower, &dry, &disabled, &system] {
            assert!(harness.recorder.done.lock().unwrap().is_empty());
        }
        assert_eq!(counted(&follower.metrics, "label", "ok"), 0);
        assert_eq!(counted(&dry.metrics, "label", "dryrun"), 1);
        assert_eq!(counted(&dry.metrics, "label", "duplicate"), 1);
        assert_eq!(counted(&disabled.metrics, "label", "disabled"), 1);
        assert_eq!(counted(&system.metrics, "label", "excluded"), 1);
    }

    #[tokio::test]
    async fn a_failed_action_is_tried_again_on_the_next_violation() {
        let harness = start(false, &[]);
        let rules = rules();
        let rule = &rules.rules()[0];
        harness.recorder.failing.store(true, Ordering::SeqCst);
        harness.dispatcher.observe(Source::Audit, &pod("web", "shop"), rule.into(), &violation());
        settle().await;
        assert_eq!(counted(&harness.metrics, "label", "error"), 1);
        harness.recorder.failing.store(false, Ordering::SeqCst);
        harness.dispatcher.observe(Source::Audit, &pod("web", "shop"), rule.into(), &violation());
        settle().await;
        assert_eq!(*harness.recorder.done.lock().unwrap(), ["labelled label web"]);
    }

    #[tokio::test]
    async fn alerts_resolve_when_their_rule_stops_alerting() {
        const ALERTING: &str =
            "name: alerting\nmatch: {gvk: [{group: \"\", version: v1, kind: Pod}]}\nrule: \"true\"\nalert: Bad\n";
        let metrics = portal_metrics::Metrics::new().unwrap();
        let endpoint = crate::alerts::client::Endpoint::new(
            "http://127.0.0.1:9",
            None,
            crate::alerts::client::Auth::None,
            Duration::from_secs(1),
        )
        .unwrap();
        let (alerts, _tasks) = AlertSink::start(vec![endpoint], 10, metrics.clone(), Arc::new(|| true));
        let settings = DispatcherSettings {
            dry_run: false,
            queue_size: 10,
            workers: 1,
            disabled_types: HashSet::new(),
            excluded_namespaces: HashSet::new(),
            standing: HashSet::new(),
        };
        let (dispatcher, _more) =
            Dispatcher::start(settings, Arc::new(Recorder::default()), alerts, metrics.clone(), Arc::new(|| true));
        let (loaded, _) = portal_rules::load_rules("t", ALERTING);
        let (alerting, _) = RuleSet::compile(loaded);
        dispatcher.observe(Source::Audit, &pod("web", "shop"), (&alerting.rules()[0]).into(), &violation());
        dispatcher.observe(Source::Audit, &pod("web", "shop"), (&alerting.rules()[0]).into(), &violation());
        assert_eq!(counted(&metrics, "alertmanager", "ok"), 1);
        assert_eq!(counted(&metrics, "alertmanager", "duplicate"), 1);
        assert!(metrics.encode().contains("portal_alerts_firing 1"));
        // The same rule, without its alert: the alert resolves.
        let (loaded, _) = portal_rules::load_rules("t", &ALERTING.replace("alert: Bad\n", ""));
        dispatcher.follow_rules(&RuleSet::compile(loaded).0);
        assert!(metrics.encode().contains("portal_alerts_firing 0"));
    }

    #[tokio::test]
    async fn tenants_system_namespaces_followers_and_objects_not_yet_created_change_nothing() {
        let harness = start(false, &[]);
        let mut loaded = portal_rules::load_rules("t", RULES).0;
        // A namespace's own rule (PortalRule): written by tenants, it may only alert.
        loaded[0].namespace = Some("shop".to_owned());
        let tenant = RuleSet::compile(loaded).0;
        harness.dispatcher.observe(Source::Audit, &pod("web", "shop"), (&tenant.rules()[0]).into(), &violation());
        let rules = rules();
        let rule = &rules.rules()[0];
        let kube_system = Subject {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            namespace: None,
            name: "kube-system".into(),
            uid: Some("uid-ns".into()),
        };
        harness.dispatcher.observe(Source::Audit, &kube_system, rule.into(), &violation());
        let mut unborn = pod("unborn", "shop");
        unborn.uid = None;
        let create = Source::Admission { operation: "CREATE" };
        harness.dispatcher.observe(create, &unborn, rule.into(), &violation());
        harness.leading.store(false, Ordering::SeqCst);
        harness.dispatcher.observe(
            Source::Admission { operation: "UPDATE" },
            &pod("web", "shop"),
            rule.into(),
            &violation(),
        );
        settle().await;
        assert!(harness.recorder.done.lock().unwrap().is_empty());
        assert_eq!(counted(&harness.metrics, "label", "disabled"), 1, "the tenant's rule");
        assert_eq!(counted(&harness.metrics, "label", "excluded"), 1, "the kube-system Namespace itself");
        assert_eq!(counted(&harness.metrics, "evict", "error"), 1, "a CREATE's object does not exist");
        assert_eq!(counted(&harness.metrics, "evict", "follower"), 1, "only the leader evicts");
    }
}
