//! What each audited object's rules read through cluster lookups, so that a change to what they
//! read evaluates the object again (SPEC §5.3).
//!
//! Bounded: at most [`Dependencies::MAX_PAIRS`] (rule, object) pairs are indexed; past that the
//! oldest pair is evicted, and is not re-evaluated when what it read changes until the object or
//! the rules change again (which evaluates it, and indexes it anew). A pair is re-evaluated at
//! most [`Dependencies::BUDGET`] times per [`Dependencies::BUDGET_WINDOW`]: a rule whose
//! evaluation leads to a change of what it reads (an action writing the object it looks up)
//! cannot loop; what the budget holds back is counted.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use portal_rules::RuleResult;
use portal_rules::cluster::ClusterRead;

use crate::cache::ObjectChange;

/// A rule (by name) evaluated on an object (by UID).
type Pair = (Arc<str>, String);

/// A kind: its group and kind.
type KindKey = (String, String);

#[derive(Default)]
struct Index {
    /// What each pair read, and the generation it was recorded at.
    reads: HashMap<Pair, (u64, Vec<ClusterRead>)>,
    /// The pairs that read each kind.
    by_kind: HashMap<KindKey, HashSet<Pair>>,
    /// The rules of each object that read something.
    by_object: HashMap<String, HashSet<Arc<str>>>,
    /// Oldest first, with the generation they were recorded at (a pair recorded again has a
    /// newer entry; the older one is skipped when it comes up).
    order: VecDeque<(Pair, u64)>,
    generation: u64,
    /// When each pair was last re-evaluated for a change, within the budget's window.
    recent: HashMap<Pair, VecDeque<Instant>>,
}

/// What a change asked for.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Affected {
    /// Objects to evaluate again.
    pub queued: Vec<String>,
    /// Pairs held back by their budget.
    pub suppressed: usize,
}

/// The index of reads, shared by the audit's workers and its follower of changes.
#[derive(Default)]
pub(crate) struct Dependencies {
    index: Mutex<Index>,
    max_pairs: usize,
}

impl Dependencies {
    /// The most (rule, object) pairs indexed.
    pub(crate) const MAX_PAIRS: usize = 100_000;
    /// Re-evaluations of one pair per window.
    pub(crate) const BUDGET: usize = 3;
    pub(crate) const BUDGET_WINDOW: Duration = Duration::from_secs(10);

    pub(crate) fn new() -> Dependencies {
        Dependencies::with_capacity(Dependencies::MAX_PAIRS)
    }

    pub(crate) fn with_capacity(max_pairs: usize) -> Dependencies {
        Dependencies { index: Mutex::new(Index::default()), max_pairs }
    }

    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Indexes the reads of every rule evaluated on the object `uid` (replacing what they read
    /// before). Returns how many pairs were evicted to make room.
    pub(crate) fn record(&self, uid: &str, results: &[RuleResult<'_>]) -> u64 {
        let mut index = self.index();
        let mut evicted = 0;
        for result in results {
            let pair: Pair = (Arc::from(result.rule.name()), uid.to_owned());
            index.remove(&pair);
            if result.reads.is_empty() {
                continue;
            }
            index.generation += 1;
            let generation = index.generation;
            for read in &result.reads {
                let kind = (read.target().group().to_owned(), read.target().kind.clone());
                index.by_kind.entry(kind).or_default().insert(pair.clone());
            }
            index.by_object.entry(pair.1.clone()).or_default().insert(Arc::clone(&pair.0));
            index.reads.insert(pair.clone(), (generation, result.reads.clone()));
            index.order.push_back((pair, generation));
            while index.reads.len() > self.max_pairs {
                let Some((oldest, at)) = index.order.pop_front() else { break };
                if index.reads.get(&oldest).is_some_and(|(current, _)| *current == at) {
                    index.remove(&oldest);
                    evicted += 1;
                }
            }
        }
        // Entries of pairs recorded again pile up in `order`: drop them now and then.
        if index.order.len() > 2 * self.max_pairs.max(16) {
            let Index { order, reads, .. } = &mut *index;
            order.retain(|(pair, at)| reads.get(pair).is_some_and(|(current, _)| current == at));
        }
        evicted
    }

    /// Forgets every pair of the object `uid` (it is gone).
    pub(crate) fn forget(&self, uid: &str) {
        let mut index = self.index();
        let rules = index.by_object.get(uid).cloned().unwrap_or_default();
        for rule in rules {
            let pair = (rule, uid.to_owned());
            index.remove(&pair);
            index.recent.remove(&pair);
        }
    }

    /// How many pairs are indexed.
    pub(crate) fn len(&self) -> usize {
        self.index().reads.len()
    }

    /// Every object with an indexed read: what to evaluate again when changes were missed.
    pub(crate) fn objects(&self) -> Vec<String> {
        self.index().by_object.keys().cloned().collect()
    }

    /// The objects whose rules read what `change` changed, within their budget at `now`.
    pub(crate) fn affected(&self, change: &ObjectChange, now: Instant) -> Affected {
        let mut index = self.index();
        let kind = (change.target.group().to_owned(), change.target.kind.clone());
        let Some(candidates) = index.by_kind.get(&kind) else { return Affected::default() };
        let hit: Vec<Pair> = candidates
            .iter()
            .filter(|pair| {
                index.reads.get(*pair).is_some_and(|(_, reads)| {
                    reads.iter().any(|read| {
                        [&change.labels_before, &change.labels_after].into_iter().any(|labels| {
                            read.covers(&change.target, change.namespace.as_deref(), &change.name, labels)
                        })
                    })
                })
            })
            .cloned()
            .collect();
        let mut affected = Affected::default();
        let mut queued = HashSet::new();
        for pair in hit {
            let recent = index.recent.entry(pair.clone()).or_default();
            while recent.front().is_some_and(|at| now.duration_since(*at) >= Dependencies::BUDGET_WINDOW) {
                recent.pop_front();
            }
            if recent.len() >= Dependencies::BUDGET {
                affected.suppressed += 1;
                continue;
            }
            recent.push_back(now);
            if queued.insert(pair.1.clone()) {
                affected.queued.push(pair.1);
            }
        }
        affected
    }
}

impl Index {
    fn remove(&mut self, pair: &Pair) {
        let Some((_, reads)) = self.reads.remove(pair) else { return };
        if let Some(rules) = self.by_object.get_mut(&pair.1) {
            rules.remove(&pair.0);
            if rules.is_empty() {
                self.by_object.remove(&pair.1);
            }
        }
        for read in reads {
            let kind = (read.target().group().to_owned(), read.target().kind.clone());
            if let Some(pairs) = self.by_kind.get_mut(&kind) {
                pairs.remove(pair);
                if pairs.is_empty() {
                    self.by_kind.remove(&kind);
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::BTreeMap;

    use portal_rules::cluster::{ClusterSnapshot, ClusterView, LookupTarget};
    use portal_rules::{Activation, EvaluationInput, ModeFilter, RuleSet, load_rules};
    use serde_json::{Value as Json, json};

    use super::*;

    const RULES: &str = "\
name: needs-config
match: {gvk: [{group: '', kind: Pod}]}
rule: cluster.get('v1', 'ConfigMap', object.metadata.namespace, 'settings') == null
---
name: plain
match: {gvk: [{group: '', kind: Pod}]}
rule: 'false'
";

    fn rules() -> RuleSet {
        let (loaded, errors) = load_rules("t", RULES);
        assert!(errors.is_empty());
        RuleSet::compile(loaded).0
    }

    fn pod(name: &str) -> Json {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "shop", "uid": name}, "spec": {"containers": []}})
    }

    fn record(dependencies: &Dependencies, set: &RuleSet, object: &Json) -> u64 {
        let view: Arc<dyn ClusterView> = Arc::new(ClusterSnapshot::new());
        let activation =
            Activation::new(EvaluationInput { object: Some(object), cluster: Some(&view), ..Default::default() });
        let results = set.evaluate(&activation, ModeFilter::Any);
        dependencies.record(object["metadata"]["uid"].as_str().unwrap(), &results)
    }

    fn change(namespace: &str, name: &str) -> ObjectChange {
        ObjectChange {
            target: LookupTarget::new("v1", "ConfigMap"),
            namespace: Some(namespace.to_owned()),
            name: name.to_owned(),
            labels_before: BTreeMap::new(),
            labels_after: BTreeMap::new(),
        }
    }

    #[test]
    fn a_change_to_what_was_read_names_the_objects_that_read_it() {
        let (set, dependencies) = (rules(), Dependencies::new());
        record(&dependencies, &set, &pod("a"));
        record(&dependencies, &set, &pod("b"));
        assert_eq!(dependencies.len(), 2, "only the rule that looks something up is indexed");
        let now = Instant::now();
        let mut hit = dependencies.affected(&change("shop", "settings"), now).queued;
        hit.sort();
        assert_eq!(hit, ["a", "b"]);
        assert_eq!(dependencies.affected(&change("shop", "other"), now), Affected::default());
        assert_eq!(dependencies.affected(&change("elsewhere", "settings"), now), Affected::default());
        dependencies.forget("a");
        assert_eq!(dependencies.affected(&change("shop", "settings"), now).queued, ["b"]);
        assert_eq!(dependencies.len(), 1);
    }

    #[test]
    fn a_pair_is_re_evaluated_at_most_its_budget_per_window() {
        let (set, dependencies) = (rules(), Dependencies::new());
        record(&dependencies, &set, &pod("a"));
        let start = Instant::now();
        for _ in 0..Dependencies::BUDGET {
            assert_eq!(dependencies.affected(&change("shop", "settings"), start).queued, ["a"]);
        }
        let held = dependencies.affected(&change("shop", "settings"), start + Duration::from_secs(1));
        assert_eq!(held, Affected { queued: Vec::new(), suppressed: 1 });
        let later = start + Dependencies::BUDGET_WINDOW;
        assert_eq!(dependencies.affected(&change("shop", "settings"), later).queued, ["a"]);
    }

    #[test]
    fn the_index_keeps_at_most_its_capacity_evicting_the_oldest() {
        let set = rules();
        let dependencies = Dependencies::with_capacity(10);
        let mut evicted = 0;
        for i in 0..25 {
            evicted += record(&dependencies, &set, &pod(&format!("p{i}")));
        }
        assert_eq!(dependencies.len(), 10);
        assert_eq!(evicted, 15);
        let hit = dependencies.affected(&change("shop", "settings"), Instant::now()).queued;
        assert!(hit.iter().all(|uid| uid.trim_start_matches('p').parse::<u32>().unwrap() >= 15), "{hit:?}");
        // Recording an indexed pair again makes it the newest, not a second entry.
        record(&dependencies, &set, &pod("p15"));
        record(&dependencies, &set, &pod("p99"));
        let hit = dependencies.affected(&change("shop", "settings"), Instant::now() + Duration::from_secs(60)).queued;
        assert!(hit.contains(&"p15".to_owned()) && !hit.contains(&"p16".to_owned()), "{hit:?}");
    }
}
