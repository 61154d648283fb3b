//! Rule sources: `PortalClusterRule`/`PortalRule` resources and rule folders, compiled into one
//! rule set that is swapped atomically whenever either changes, with the
//! `PortalClusterException`/`PortalException` resources it honours. The set is rebuilt when an
//! exception expires too, so that statuses, metrics and the audit follow the clock.
//!
//! One reconciler task owns the state. Watchers send it what changed; it waits for a short
//! quiet period (changes arrive in bursts: a `kubectl apply -f dir/`, an editor saving), then
//! rebuilds the rule set, stores it, and writes the status of every rule resource whose status
//! changed.

mod cluster;
mod event;
mod exceptions;
mod folder;
mod known;
mod status;
mod watching;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use portal_rules::cluster::LookupTarget;
use portal_rules::exception::ExceptionSet;
use portal_rules::{LoadedRule, RuleLimits, RuleSet, SharedRuleSet};

use crate::cache::ClusterCache;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use cluster::ClusterRules;
pub use cluster::list_cluster_rules;
use event::SourceEvent;
pub use event::SourceProblem;
use exceptions::ClusterExceptions;
pub use exceptions::ExceptionCounts;
use folder::FolderRules;

/// What to load rules from.
#[derive(Clone)]
pub struct SourcesConfig {
    /// Watch `PortalClusterRule` and `PortalRule` resources through this client.
    pub cluster: Option<kube::Client>,
    /// Rule files or directories, reloaded when they change.
    pub folders: Vec<PathBuf>,
    /// How long changes must stop before the rule set is rebuilt.
    pub debounce: Duration,
    /// What every evaluation of the rules may do.
    pub limits: RuleLimits,
    /// The cache cluster lookups read: the kinds a new rule set looks up are watched, and listed
    /// (for at most [`crate::cache::LIST_WAIT`]), before it is put in force.
    pub lookups: Option<Arc<ClusterCache>>,
}

impl fmt::Debug for SourcesConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourcesConfig")
            .field("cluster", &self.cluster.is_some())
            .field("folders", &self.folders)
            .field("debounce", &self.debounce)
            .field("limits", &self.limits)
            .field("lookups", &self.lookups.is_some())
            .finish()
    }
}

/// The state after a rebuild: which rules are in force and what was rejected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourcesSnapshot {
    /// Increases with every rebuild.
    pub generation: u64,
    /// Names of the rules in force, in evaluation order.
    pub rules: Vec<String>,
    pub problems: Vec<SourceProblem>,
    /// The exception resources by state.
    pub exceptions: ExceptionCounts,
    /// Whether every configured source has loaded once (the cluster watchers listed, the
    /// folders read).
    pub ready: bool,
}

/// Errors starting the rule sources.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("watching the rule folders")]
    WatchFolders(#[source] notify::Error),
}

/// Running rule sources. Dropping it stops them; the last rule set stays readable through
/// [`RuleSources::rules`].
#[derive(Debug)]
pub struct RuleSources {
    rules: Arc<SharedRuleSet>,
    snapshot: watch::Receiver<SourcesSnapshot>,
    tasks: Vec<JoinHandle<()>>,
    // Kept alive for as long as the sources run: dropping it stops the file notifications.
    _folder_watcher: Option<folder::FolderWatcher>,
}

impl Drop for RuleSources {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl RuleSources {
    /// Starts watching every configured source. Returns at once; see
    /// [`RuleSources::wait_ready`].
    pub fn start(config: SourcesConfig) -> Result<RuleSources, Error> {
        let rules = Arc::new(SharedRuleSet::default());
        let (events, receiver) = mpsc::channel(1024);
        let (snapshot_sender, snapshot) = watch::channel(SourcesSnapshot::default());
        let mut tasks = Vec::new();
        let folder_watcher = if config.folders.is_empty() {
            None
        } else {
            Some(folder::FolderWatcher::start(&config.folders, events.clone()).map_err(Error::WatchFolders)?)
        };
        let cluster = config.cluster.clone();
        if let Some(client) = &cluster {
            tasks.extend(cluster::spawn_watchers(client.clone(), events.clone()));
            tasks.extend(exceptions::spawn_watchers(client.clone(), events.clone()));
        }
        let reconciler = Reconciler {
            rules: Arc::clone(&rules),
            exceptions: ClusterExceptions::new(cluster.clone()),
            cluster: ClusterRules::new(cluster),
            folders: FolderRules::new(config.folders.clone(), config.limits.clone()),
            snapshot: snapshot_sender,
            generation: 0,
            limits: config.limits.clone(),
            lookups: config.lookups.clone(),
            last_rebuild: std::time::SystemTime::now(),
        };
        tasks.push(tokio::spawn(reconciler.run(receiver, config.debounce)));
        // The folders are read once at start even when nothing changes.
        let _ = events.try_send(SourceEvent::FoldersChanged);
        Ok(RuleSources { rules, snapshot, tasks, _folder_watcher: folder_watcher })
    }

    /// The rule set in force; evaluations `load()` it once per object.
    pub fn rules(&self) -> Arc<SharedRuleSet> {
        Arc::clone(&self.rules)
    }

    /// Notifications of every rebuild.
    pub fn subscribe(&self) -> watch::Receiver<SourcesSnapshot> {
        self.snapshot.clone()
    }

    /// Waits until every source has loaded once.
    pub async fn wait_ready(&self) -> SourcesSnapshot {
        let mut receiver = self.snapshot.clone();
        match receiver.wait_for(|snapshot| snapshot.ready).await {
            Ok(snapshot) => snapshot.clone(),
            Err(_) => self.snapshot.borrow().clone(),
        }
    }
}

/// What a burst of events changed.
#[derive(Default)]
struct Changes {
    cluster: bool,
    folders: bool,
}

struct Reconciler {
    rules: Arc<SharedRuleSet>,
    cluster: ClusterRules,
    exceptions: ClusterExceptions,
    folders: FolderRules,
    snapshot: watch::Sender<SourcesSnapshot>,
    generation: u64,
    limits: RuleLimits,
    lookups: Option<Arc<ClusterCache>>,
    /// When the set in force was built: an exception that expired since needs a rebuild.
    last_rebuild: std::time::SystemTime,
}

impl Reconciler {
    async fn run(mut self, mut events: mpsc::Receiver<SourceEvent>, debounce: Duration) {
        loop {
            let first = match self.until_next_expiry() {
                Some(wait) => match tokio::time::timeout(wait, events.recv()).await {
                    Ok(event) => event,
                    Err(_) => {
                        // An exception has just expired: it already exempts nothing (evaluations
                        // read the clock); the rebuild brings its status, the metrics and the
                        // audit's reports up to date.
                        self.rebuild().await;
                        continue;
                    }
                },
                None => events.recv().await,
            };
            let Some(first) = first else { return };
            let mut changes = Changes::default();
            self.apply(first, &mut changes);
            // Collect the rest of the burst.
            while let Ok(Some(event)) = tokio::time::timeout(debounce, events.recv()).await {
                self.apply(event, &mut changes);
            }
            if changes.folders {
                self.folders.reload();
            }
            if changes.folders || changes.cluster {
                self.rebuild().await;
            }
        }
    }

    /// How long until the first exception that was in force at the last rebuild expires (a
    /// moment after, so it has; at once when that moment has passed without a rebuild).
    fn until_next_expiry(&self) -> Option<Duration> {
        let next = self.rules.load().exceptions().next_expiry(self.last_rebuild)?;
        let now = std::time::SystemTime::now();
        Some(next.duration_since(now).unwrap_or_default() + Duration::from_millis(100))
    }

    fn apply(&mut self, event: SourceEvent, changes: &mut Changes) {
        match event {
            SourceEvent::Cluster(event) => changes.cluster |= self.cluster.apply(event),
            SourceEvent::Exceptions(event) => changes.cluster |= self.exceptions.apply(event),
            SourceEvent::FoldersChanged => changes.folders = true,
        }
    }

    /// Compiles every rule, cluster resources first (they win name collisions over files, and
    /// resources and files are each in a stable order), stores the set, and reports.
    async fn rebuild(&mut self) {
        let mut loaded: Vec<LoadedRule> = Vec::new();
        let mut problems = Vec::new();
        let (cluster_rules, cluster_problems) = self.cluster.loaded_rules();
        problems.extend(cluster_problems);
        loaded.extend(cluster_rules);
        loaded.extend(self.folders.loaded_rules());
        problems.extend(self.folders.problems());

        let (set, mut errors) = RuleSet::compile_with_limits(loaded, self.limits.clone());
        // Resources first, then folders, as for rules: the first exception that applies is named.
        let (mut loaded_exceptions, exception_problems) = self.exceptions.loaded_exceptions();
        loaded_exceptions.extend(self.folders.loaded_exceptions());
        let mut rejected_exceptions = exception_problems.len() + self.folders.exception_problems();
        problems.extend(exception_problems);
        let (exceptions, exception_errors) = ExceptionSet::compile(loaded_exceptions, &self.limits);
        rejected_exceptions += exception_errors.len();
        errors.extend(exception_errors);
        let set = set.with_exceptions(exceptions);
        let mut compile_errors: BTreeMap<String, portal_rules::Error> = BTreeMap::new();
        for error in errors {
            let location = error.origin().map(|o| o.source.clone()).unwrap_or_default();
            problems.push(SourceProblem { location: location.clone(), message: error.to_string() });
            compile_errors.entry(location).or_insert(error);
        }
        let names: Vec<String> = set.rules().iter().map(|r| r.name().to_owned()).collect();
        for problem in &problems {
            tracing::warn!(location = %problem.location, "rule rejected: {}", problem.message);
        }
        tracing::info!(rules = names.len(), rejected = problems.len(), "rule set rebuilt");
        if let Some(lookups) = &self.lookups {
            let mut targets: Vec<LookupTarget> = set.rules().iter().flat_map(|rule| rule.lookups().to_vec()).collect();
            targets.sort();
            targets.dedup();
            lookups.watch(&targets, crate::cache::LIST_WAIT).await;
        }
        self.rules.store(set);
        let set = self.rules.load();
        self.cluster.write_status(&compile_errors, &set).await;
        let now = std::time::SystemTime::now();
        self.last_rebuild = now;
        self.exceptions.write_status(&compile_errors, set.exceptions(), now).await;
        let exceptions = ExceptionCounts::of(set.exceptions(), rejected_exceptions, now);
        self.generation += 1;
        let ready = self.cluster.is_ready() && self.exceptions.is_ready();
        self.snapshot.send_replace(SourcesSnapshot {
            generation: self.generation,
            rules: names,
            problems,
            exceptions,
            ready,
        });
    }
}
