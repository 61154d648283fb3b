//! The audit: every object of every kind an audit rule matches, watched (never polled),
//! evaluated when it appears or its content changes and whenever the rules change, with its
//! results written to a PolicyReport of its own.
//!
//! - [`kinds`]: which kinds to watch, from the rules and API discovery;
//! - [`queue`]: pending evaluations, one per object, newest version wins;
//! - [`counters`]: the evaluation counters on rule resources' status;
//! - [`dependencies`]: what rules read through cluster lookups, to evaluate again what read a
//!   changed object;
//! - [`network`]: the network analysis's findings as report results, and re-evaluating the
//!   Namespaces and NetworkPolicies whose findings changed;
//! - this module: the watchers (one per kind, started and stopped as rules change), the workers
//!   that evaluate and write, and following leadership: every replica watches and evaluates,
//!   only the leader writes.

mod counters;
pub mod dependencies;
mod kinds;
mod network;
mod queue;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use kube::api::DynamicObject;
use kube::runtime::{WatchStreamExt, watcher};
use portal_metrics::ReportWriteResult;
use portal_report::{Report, ReportApi, RuleFindings, Timestamp, object_report};
use portal_rules::{Activation, EvaluationInput, Mode, ModeFilter, ObjectIdentity, RuleResult, RuleSet, SharedRuleSet};
use serde_json::Value as Json;
use tokio::sync::{Notify, broadcast, watch};

use crate::cache::{ClusterCache, NamespaceLookup, ObjectChange};
use crate::lease::Leadership;
use crate::network::NetworkAnalysis;
use crate::sources::SourcesSnapshot;
use crate::tasks::OwnedTask;
use crate::writers::{ReportWrite, ReportWriter};
use dependencies::Dependencies;
use kinds::WatchedKind;
use portal_metrics::Reevaluation;
use portal_rules::cluster::ClusterView;
use portal_rules::schema::GroupVersionKind;
use queue::{Work, WorkQueue};

/// How the audit runs.
#[derive(Debug, Clone)]
pub struct AuditSettings {
    /// Evaluations that run at once.
    pub workers: usize,
    /// How often the leader writes the counters of a rule resource's status (when they changed).
    pub counters_interval: Duration,
    /// The API reports are written in.
    pub report_api: ReportApi,
}

impl AuditSettings {
    /// The counters are written at most every 30 s per rule.
    pub const COUNTERS_INTERVAL: Duration = Duration::from_secs(30);
}

/// What the audit needs from the rest of `portal run`.
pub struct AuditInputs {
    pub client: kube::Client,
    pub rules: Arc<SharedRuleSet>,
    pub snapshots: watch::Receiver<SourcesSnapshot>,
    pub namespaces: Arc<dyn NamespaceLookup>,
    /// Who may write; `None` when this replica writes alone.
    pub leadership: Option<Leadership>,
    pub metrics: portal_metrics::Metrics,
    /// What rules' cluster lookups read; `None`: they fail, saying there is no cluster to read.
    pub cluster: Option<Arc<ClusterCache>>,
    /// NetworkPolicy analysis, fed by the watches of Pods, Namespaces and NetworkPolicies, whose
    /// findings join the reports on Namespaces and NetworkPolicies; `None` when it is off.
    pub network: Option<Arc<NetworkAnalysis>>,
    /// Where every evaluation goes for rules' actions (`on: [audit]`) and the network checks'
    /// (`on: [network]`); `None` when they are off.
    pub actions: Option<crate::actions::HandOff>,
}

impl std::fmt::Debug for AuditInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditInputs").field("leadership", &self.leadership).finish_non_exhaustive()
    }
}

/// The running audit. Dropping it stops every watch and worker.
#[derive(Debug)]
pub struct Audit {
    _tasks: Vec<OwnedTask>,
}

/// The objects of one watched kind, by UID, with a digest of their content. Kept as compact
/// JSON text, parsed when evaluated: a parsed object takes several times the memory of its text,
/// and most objects are evaluated only when they change.
#[derive(Default)]
struct KindStore {
    objects: Mutex<HashMap<String, (u64, Arc<str>)>>,
    /// Whether the watch has listed every object once.
    synced: AtomicBool,
}

impl KindStore {
    fn objects(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, Arc<str>)>> {
        self.objects.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Everything the tasks share.
struct Shared {
    inputs: AuditInputs,
    queue: WorkQueue,
    writer: ReportWriter,
    /// The stores of the kinds being watched, by kind key.
    stores: Mutex<BTreeMap<String, Arc<KindStore>>>,
    counters: counters::RuleCounters,
    dependencies: Dependencies,
    /// The lookup cache as rules read it.
    view: Option<Arc<dyn ClusterView>>,
}

impl Shared {
    /// Queues every cached object again (the rules changed, or leadership was gained).
    fn requeue_all(&self) {
        for store in self.stores() {
            requeue(&self.queue, &store);
        }
    }

    /// The cached text of the object `uid`, whatever its kind.
    fn object_text(&self, uid: &str) -> Option<Arc<str>> {
        self.stores().iter().find_map(|store| store.objects().get(uid).map(|(_, text)| Arc::clone(text)))
    }

    fn stores(&self) -> Vec<Arc<KindStore>> {
        self.stores.lock().unwrap_or_else(PoisonError::into_inner).values().cloned().collect()
    }

    /// Once every watched kind has listed its objects, deletes the reports of objects the audit
    /// no longer sees — of kinds no rule audits any more (also while Portal was down), or written
    /// in the other report API. The leader's job; a replica that gains the lease sweeps again.
    async fn sweep_when_synced(&self) {
        while !self.stores().iter().all(|store| store.synced.load(Ordering::Acquire)) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !self.may_write() {
            return;
        }
        let seen: HashSet<String> =
            self.stores().iter().flat_map(|store| store.objects().keys().cloned().collect::<Vec<_>>()).collect();
        let mut stale = 0;
        for (namespace, uid) in self.writer.reported() {
            if !seen.contains(&uid) {
                self.queue.push(uid, Work::Forget { namespace });
                stale += 1;
            }
        }
        let other_api = self.writer.delete_other_api().await;
        match other_api {
            Ok(deleted) => tracing::info!(
                unseen_objects = stale,
                other_api = deleted,
                "audit: every watched kind is listed; reports of objects no longer audited are deleted"
            ),
            Err(error) => tracing::warn!("audit: {}", crate::with_causes(&error)),
        }
    }

    fn may_write(&self) -> bool {
        self.inputs.leadership.as_ref().is_none_or(Leadership::is_leader)
    }
}

fn requeue(queue: &WorkQueue, store: &KindStore) {
    let objects: Vec<(String, Arc<str>)> =
        store.objects().iter().map(|(uid, (_, object))| (uid.clone(), Arc::clone(object))).collect();
    for (uid, object) in objects {
        queue.push(uid, Work::Evaluate(object));
    }
}

/// Starts the audit: the report writer reads what it wrote before, then the kinds of the
/// current rules are watched and every object evaluated.
pub async fn start(settings: AuditSettings, inputs: AuditInputs) -> Audit {
    let writer = ReportWriter::new(inputs.client.clone(), settings.report_api);
    match writer.load_existing().await {
        Ok(count) => tracing::info!(reports = count, "audit: read the reports written before"),
        Err(error) => tracing::warn!("audit: reading the existing reports failed, all are written again: {error}"),
    }
    let view = inputs.cluster.clone().map(|cache| cache as Arc<dyn ClusterView>);
    let shared = Arc::new(Shared {
        inputs,
        queue: WorkQueue::default(),
        writer,
        stores: Mutex::new(BTreeMap::new()),
        counters: counters::RuleCounters::default(),
        dependencies: Dependencies::new(),
        view,
    });
    let mut tasks = Vec::new();
    for _ in 0..settings.workers.max(1) {
        tasks.push(OwnedTask::spawn(work(Arc::clone(&shared))));
    }
    if shared.inputs.leadership.is_some() {
        tasks.push(OwnedTask::spawn(follow_leadership(Arc::clone(&shared))));
    }
    let writing = Arc::clone(&shared);
    tasks.push(OwnedTask::spawn(async move {
        let client = writing.inputs.client.clone();
        counters::keep_written(client, &writing.counters, || writing.may_write(), settings.counters_interval).await;
    }));
    if let Some(cache) = &shared.inputs.cluster {
        tasks.push(OwnedTask::spawn(follow_changes(Arc::clone(&shared), cache.subscribe())));
    }
    if let Some(network) = shared.inputs.network.clone() {
        tasks.push(OwnedTask::spawn(follow_network(Arc::clone(&shared), network)));
    }
    tasks.push(OwnedTask::spawn(follow_rules(shared)));
    Audit { _tasks: tasks }
}

/// Keeps one watch per audited kind as the rules and the cluster's CRDs change, and evaluates
/// again the objects of the kinds whose rules changed.
async fn follow_rules(shared: Arc<Shared>) {
    let mut snapshots = shared.inputs.snapshots.clone();
    let mut watches: BTreeMap<String, OwnedTask> = BTreeMap::new();
    // The digest of the rules of each watched kind, to tell which kinds a change concerns.
    let mut digests: BTreeMap<String, u64> = BTreeMap::new();
    let definitions_changed = Arc::new(Notify::new());
    let _definitions =
        OwnedTask::spawn(kinds::watch_definitions(shared.inputs.client.clone(), Arc::clone(&definitions_changed)));
    let mut _sweep = None;
    loop {
        snapshots.borrow_and_update();
        let rules = shared.inputs.rules.load();
        let mut patterns = kinds::audited_patterns(&rules);
        if shared.inputs.network.is_some() {
            patterns.extend(network::PATTERNS.iter().map(|(group, kind)| GroupVersionKind {
                group: (*group).to_owned(),
                version: "*".to_owned(),
                kind: (*kind).to_owned(),
            }));
        }
        let wanted = match kinds::resolve(&shared.inputs.client, &patterns).await {
            Ok(wanted) => wanted,
            Err(error) => {
                tracing::warn!("audit: API discovery failed, retrying: {error}");
                tokio::time::sleep(Duration::from_secs(2)).await;
                continue;
            }
        };
        let gone: Vec<String> = watches.keys().filter(|key| !wanted.contains_key(*key)).cloned().collect();
        for key in gone {
            watches.remove(&key);
            digests.remove(&key);
            // Evaluated once more against rules that no longer match: their reports go.
            let store = shared.stores.lock().unwrap_or_else(PoisonError::into_inner).remove(&key);
            if let Some(store) = store {
                requeue(&shared.queue, &store);
            }
            shared.inputs.metrics.forget_audit_kind(&key);
            tracing::info!(kind = %key, "audit: no longer watched");
        }
        let now = kinds::rule_digests(&rules, wanted.keys().map(String::as_str));
        for (key, digest) in &now {
            if digests.get(key).is_some_and(|known| known != digest) {
                let store = shared.stores.lock().unwrap_or_else(PoisonError::into_inner).get(key).cloned();
                if let Some(store) = store {
                    tracing::info!(kind = %key, "audit: its rules changed, evaluating its objects again");
                    requeue(&shared.queue, &store);
                }
            }
        }
        digests = now;
        for (key, kind) in wanted {
            if watches.contains_key(&key) {
                continue;
            }
            let store = Arc::new(KindStore::default());
            shared.stores.lock().unwrap_or_else(PoisonError::into_inner).insert(key.clone(), Arc::clone(&store));
            tracing::info!(kind = %key, version = %kind.resource.version, "audit: watching");
            watches.insert(key, OwnedTask::spawn(watch_kind(Arc::clone(&shared), kind, store)));
        }
        let sweeping = Arc::clone(&shared);
        _sweep = Some(OwnedTask::spawn(async move { sweeping.sweep_when_synced().await }));
        tokio::select! {
            changed = snapshots.changed() => if changed.is_err() { return },
            () = definitions_changed.notified() => {}
        }
    }
}

/// Watches one kind: each object whose content changed is queued, each deleted one forgotten.
async fn watch_kind(shared: Arc<Shared>, kind: WatchedKind, store: Arc<KindStore>) {
    let api = kube::Api::<DynamicObject>::all_with(shared.inputs.client.clone(), &kind.resource);
    let mut events = watcher(api, watcher::Config::default()).default_backoff().boxed();
    let key = kinds::key(&kind.resource);
    // The analysis, when it reads this kind.
    let network = shared.inputs.network.clone().filter(|_| crate::network::KINDS.contains(&key.as_str()));
    // The UIDs a (re)list has shown so far: after a restarted watch, objects deleted meanwhile
    // are not announced, only left out of the list.
    let mut listed: Option<HashSet<String>> = None;
    while let Some(event) = events.next().await {
        match event {
            Ok(watcher::Event::Init) => listed = Some(HashSet::new()),
            Ok(watcher::Event::InitDone) => {
                let Some(listed) = listed.take() else { continue };
                let vanished: Vec<(String, Arc<str>)> = {
                    let mut objects = store.objects();
                    let gone: Vec<String> = objects.keys().filter(|uid| !listed.contains(*uid)).cloned().collect();
                    gone.into_iter().filter_map(|uid| objects.remove(&uid).map(|(_, text)| (uid, text))).collect()
                };
                for (uid, text) in vanished {
                    let object = serde_json::from_str::<Json>(&text).ok();
                    let field = |pointer: &str| {
                        object.as_ref().and_then(|object| object.pointer(pointer)?.as_str().map(str::to_owned))
                    };
                    let namespace = field("/metadata/namespace");
                    if let (Some(network), Some(name)) = (&network, field("/metadata/name")) {
                        network.forget(&key, namespace.as_deref(), &name);
                    }
                    shared.queue.push(uid, Work::Forget { namespace });
                }
                let count = store.objects().len();
                store.synced.store(true, Ordering::Release);
                shared.inputs.metrics.set_audit_objects(&key, count);
            }
            Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                let Some(Prepared { uid, digest, text: object, value }) = prepared(object, &kind) else { continue };
                if let Some(listed) = listed.as_mut() {
                    listed.insert(uid.clone());
                }
                let mut objects = store.objects();
                if objects.get(&uid).is_some_and(|(known, _)| *known == digest) {
                    continue;
                }
                objects.insert(uid.clone(), (digest, Arc::clone(&object)));
                let count = objects.len();
                drop(objects);
                if let Some(network) = &network {
                    network.observe(&key, &value);
                }
                shared.queue.push(uid, Work::Evaluate(object));
                shared.inputs.metrics.set_audit_objects(&key, count);
            }
            Ok(watcher::Event::Delete(object)) => {
                let Some(uid) = object.metadata.uid.clone() else { continue };
                if let (Some(network), Some(name)) = (&network, object.metadata.name.as_deref()) {
                    network.forget(&key, object.metadata.namespace.as_deref(), name);
                }
                let count = {
                    let mut objects = store.objects();
                    objects.remove(&uid);
                    objects.len()
                };
                shared.queue.push(uid, Work::Forget { namespace: object.metadata.namespace.clone() });
                shared.inputs.metrics.set_audit_objects(&key, count);
            }
            Err(error) => {
                shared.inputs.metrics.audit_watch_restart(&key);
                tracing::warn!(kind = %key, "audit: watch failed, restarting: {error}");
            }
        }
    }
}

/// The object as rules see it — with its `apiVersion` and `kind`, without the fields only the
/// API server reads — and a digest of its content, which a mere `resourceVersion` bump leaves
/// unchanged.
fn prepared(object: DynamicObject, kind: &WatchedKind) -> Option<Prepared> {
    let uid = object.metadata.uid.clone()?;
    let mut json = serde_json::to_value(&object).ok()?;
    if let Some(fields) = json.as_object_mut() {
        fields.insert("apiVersion".to_owned(), Json::String(kind.resource.api_version.clone()));
        fields.insert("kind".to_owned(), Json::String(kind.resource.kind.clone()));
    }
    if let Some(metadata) = json.get_mut("metadata").and_then(Json::as_object_mut) {
        metadata.remove("managedFields");
        if let Some(annotations) = metadata.get_mut("annotations").and_then(Json::as_object_mut) {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    let text = json.to_string();
    if let Some(metadata) = json.get_mut("metadata").and_then(Json::as_object_mut) {
        metadata.remove("resourceVersion");
    }
    let mut hasher = DefaultHasher::new();
    json.to_string().hash(&mut hasher);
    Some(Prepared { uid, digest: hasher.finish(), text: Arc::from(text), value: json })
}

/// An object as the audit keeps it ([`prepared`]).
struct Prepared {
    uid: String,
    /// Of its content, `resourceVersion` left out.
    digest: u64,
    /// What is stored and evaluated.
    text: Arc<str>,
    /// The same, parsed (without `resourceVersion`): what the network analysis reads, so it need
    /// not parse the text again.
    value: Json,
}

/// A worker: evaluates queued objects and, on the leader, writes their reports. Every replica
/// evaluates (its metrics say what it found); one that does not lead writes nothing and catches
/// up when it leads.
async fn work(shared: Arc<Shared>) {
    let metrics = shared.inputs.metrics.clone();
    loop {
        let (uid, work, since) = shared.queue.pop().await;
        metrics.set_audit_queue_depth(shared.queue.len());
        let outcome = match work {
            Work::Evaluate(text) => match serde_json::from_str::<Json>(&text) {
                Ok(object) => {
                    let Evaluated::Report { namespace, report } = evaluate(&shared, &object) else { continue };
                    if !shared.may_write() {
                        continue;
                    }
                    match report {
                        Some(report) => shared.writer.write(&report, &object).await,
                        None => shared.writer.delete(namespace.as_deref(), &uid).await,
                    }
                }
                // Written by this process from a parsed object: cannot fail.
                Err(error) => {
                    tracing::warn!(uid = %uid, "audit: a cached object no longer parses: {error}");
                    continue;
                }
            },
            Work::Forget { namespace } => {
                if let Some(actions) = &shared.inputs.actions {
                    actions.dispatcher.forget_object(&uid);
                }
                shared.dependencies.forget(&uid);
                shared.inputs.metrics.set_lookup_dependencies(shared.dependencies.len());
                if !shared.may_write() {
                    continue;
                }
                shared.writer.delete(namespace.as_deref(), &uid).await
            }
        };
        match outcome {
            Ok(done) => metrics.audit_report_written(written(done), since.elapsed()),
            Err(error) => tracing::warn!("audit: {}", crate::with_causes(&error)),
        }
    }
}

fn written(done: ReportWrite) -> ReportWriteResult {
    match done {
        ReportWrite::Created => ReportWriteResult::Created,
        ReportWrite::Updated => ReportWriteResult::Updated,
        ReportWrite::Unchanged => ReportWriteResult::Unchanged,
        ReportWrite::Deleted => ReportWriteResult::Deleted,
    }
}

/// Evaluates `object` against the audit rules (and the network checks), counting what was
/// found: its namespace, and its report (none when nothing applies to it).
fn evaluate(shared: &Shared, object: &Json) -> Evaluated {
    let identity = ObjectIdentity::of(object);
    let report = {
        let rules = shared.inputs.rules.load();
        let namespace = identity.namespace.as_deref().and_then(|name| shared.inputs.namespaces.namespace(name));
        let activation = Activation::new(EvaluationInput {
            object: Some(object),
            namespace_object: namespace.as_ref(),
            cluster: shared.view.as_ref(),
            ..EvaluationInput::default()
        });
        let results = rules.evaluate(&activation, ModeFilter::Only(Mode::Audit));
        if let Some(uid) = identity.uid.as_deref() {
            let evicted = shared.dependencies.record(uid, &results);
            if evicted > 0 {
                shared.inputs.metrics.lookup_dependencies_evicted(evicted);
            }
            shared.inputs.metrics.set_lookup_dependencies(shared.dependencies.len());
        }
        count(&shared.inputs.metrics, &results);
        if let Some(actions) = &shared.inputs.actions {
            hand_over(&actions.dispatcher, &rules, object, &results);
        }
        shared.counters.record(&results);
        let network_results = match &shared.inputs.network {
            Some(network) => match network::results(network, &identity) {
                network::NetworkResults::Wait => return Evaluated::Wait,
                network::NetworkResults::Results(results) => results,
            },
            None => Vec::new(),
        };
        if let Some(actions) = shared.inputs.actions.as_ref().filter(|actions| !actions.network_checks.is_empty()) {
            network::hand_over(actions, object, &network_results);
        }
        if results.is_empty() && network_results.is_empty() {
            None
        } else {
            let findings = results.iter().map(RuleFindings::from).chain(network_results.iter().map(RuleFindings::from));
            Some(Box::new(object_report(&identity, findings, now())))
        }
    };
    Evaluated::Report { namespace: identity.namespace, report }
}

/// What evaluating an object gave.
enum Evaluated {
    /// Its report (none when no rule and no network check applies), in its namespace.
    Report { namespace: Option<String>, report: Option<Box<Report>> },
    /// The network analysis has not seen the whole cluster yet: the object is evaluated again
    /// once it has.
    Wait,
}

/// Gives every evaluation of a rule with actions to the dispatcher: a violation may act, a pass
/// (or an exemption) clears what a violation did, and so does a rule with actions that no longer
/// applies to the object (its match changed). A result with only errors says nothing.
fn hand_over(dispatcher: &portal_actions::Dispatcher, rules: &RuleSet, object: &Json, results: &[RuleResult<'_>]) {
    if !rules.has_actions() {
        return;
    }
    let Some(subject) = portal_actions::Subject::of(object) else { return };
    let mut evaluated = HashSet::new();
    for result in results.iter().filter(|result| !result.rule.actions().is_empty()) {
        evaluated.insert(result.rule.name());
        if result.violations.is_empty() && !result.errors.is_empty() {
            continue;
        }
        let violations = portal_actions::Violation::all_of(result);
        dispatcher.observe(portal_actions::Source::Audit, &subject, result.rule.into(), &violations);
    }
    let key = subject.key();
    for rule in rules.rules().iter().filter(|rule| !rule.actions().is_empty() && !evaluated.contains(rule.name())) {
        dispatcher.clear(rule.name(), &key);
    }
}

fn count(metrics: &portal_metrics::Metrics, results: &[RuleResult<'_>]) {
    for result in results {
        let rule = result.rule.name();
        if let Some(exception) = &result.exception {
            metrics.audit_exemption(exception, rule);
            continue;
        }
        metrics.audit_evaluation(rule);
        if !result.violations.is_empty() {
            let severity = result.rule.spec().severity.as_str();
            metrics.audit_violations(rule, severity, u64::try_from(result.violations.len()).unwrap_or(u64::MAX));
        }
        for _ in &result.errors {
            metrics.rule_evaluation_error(rule);
        }
    }
}

fn now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp {
        seconds: i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(since_epoch.subsec_nanos()).unwrap_or(0),
    }
}

/// Evaluates again the objects whose rules read what changed in the lookup cache, within their
/// budget. Changes missed (this task fell behind) evaluate every object that read anything.
async fn follow_changes(shared: Arc<Shared>, mut changes: broadcast::Receiver<ObjectChange>) {
    loop {
        let objects = match changes.recv().await {
            Ok(change) => {
                let affected = shared.dependencies.affected(&change, std::time::Instant::now());
                for _ in 0..affected.suppressed {
                    shared.inputs.metrics.lookup_reevaluation(Reevaluation::Suppressed);
                }
                affected.queued
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "audit: fell behind the lookup cache's changes; evaluating every reader again");
                shared.dependencies.objects()
            }
            Err(broadcast::error::RecvError::Closed) => return,
        };
        for uid in objects {
            if let Some(text) = shared.object_text(&uid) {
                shared.inputs.metrics.lookup_reevaluation(Reevaluation::Queued);
                shared.queue.push(uid, Work::Evaluate(text));
            }
        }
    }
}

/// After changes to Pods, Namespaces and NetworkPolicies settle, recomputes the namespaces they
/// affect and evaluates again the Namespaces and NetworkPolicies whose findings changed. Starts
/// once the three kinds have been listed, so that no finding is about half a cluster.
async fn follow_network(shared: Arc<Shared>, network: Arc<NetworkAnalysis>) {
    /// Changes come in bursts (a Deployment rolling out): one recomputation for the burst.
    const SETTLE: Duration = Duration::from_millis(50);
    loop {
        let stores = shared.stores.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let listed = crate::network::KINDS
            .iter()
            .all(|key| stores.get(*key).is_some_and(|store| store.synced.load(Ordering::Acquire)));
        if listed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    network.set_ready();
    tracing::info!("network: Pods, Namespaces and NetworkPolicies are listed; analysing");
    loop {
        let (changed, namespaces) = network.recompute();
        if namespaces > 0 {
            let metrics = &shared.inputs.metrics;
            metrics.network_recomputed(namespaces);
            for (check, count) in network.counts() {
                metrics.set_network_findings(check.name(), network.settings().severity(check).as_str(), count);
            }
        }
        for uid in changed {
            if let Some(text) = shared.object_text(&uid) {
                shared.queue.push(uid, Work::Evaluate(text));
            }
        }
        network.changed().await;
        tokio::time::sleep(SETTLE).await;
    }
}

/// On gaining leadership, reads what the previous leader wrote and evaluates everything again.
async fn follow_leadership(shared: Arc<Shared>) {
    let mut leading = false;
    loop {
        let now_leading = shared.may_write();
        if now_leading && !leading {
            shared.writer.forget();
            if let Err(error) = shared.writer.load_existing().await {
                tracing::warn!("audit: reading the existing reports failed, all are written again: {error}");
            }
            shared.requeue_all();
            shared.sweep_when_synced().await;
            tracing::info!("audit: leading, reports are written by this replica");
        }
        leading = now_leading;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
