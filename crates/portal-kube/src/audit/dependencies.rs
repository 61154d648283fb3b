//! What each audited object's rules read through cluster lookups, so that a change to what they
//! read evaluates the object again (SPEC §5.3).
//!
//! Bounded: at most [`Dependencies::MAX_PAIRS`] (rule, object) pairs are indexed; past that the
//! oldest pair is evicted, and is not re-evaluated when what it read changes until the object or
//! the rules change again (which evaluates it, and indexes it anew). A pair is re-evaluated at
//! most [`Dependencies::BUDGET`] times per [`Dependencies::BUDGET_WINDOW`]: a rule whose
//! evaluation leads to a change of what it reads (an action writing the object it looks up)
//! cannot loop; what the budget holds back is counted.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use portal_rules::RuleResult;
use portal_rules::cluster::{ClusterRead, LookupTarget};

use crate::cache::ObjectChange;

/// A rule (by name) evaluated on an object (by UID).
type Pair = (Arc<str>, Arc<str>);

/// Where a read looks: one object (`group/Kind/namespace/name`), or a list of one namespace or
/// of all (`group/Kind/namespace`, `group/Kind/*`). A change is matched against its own places
/// only, not against every read of its kind.
fn object_place(target: &LookupTarget, namespace: Option<&str>, name: &str) -> String {
    format!("{}/{}/{}/{name}", target.group(), target.kind, namespace.unwrap_or(""))
}

fn list_place(target: &LookupTarget, namespace: Option<&str>) -> String {
    format!("{}/{}/{}", target.group(), target.kind, namespace.unwrap_or("*"))
}

/// A list's selector, compact: a `BTreeMap` allocates a whole node even for one label.
type Selector = Box<[(Box<str>, Box<str>)]>;

/// A read as the index keeps it: its place, shared with the place's entry, and for a list the
/// selector a changed object's labels must match.
type Read = (Arc<str>, Option<Selector>);

fn place(read: &ClusterRead) -> (String, Option<Selector>) {
    match read {
        ClusterRead::Object { target, namespace, name } => (object_place(target, namespace.as_deref(), name), None),
        ClusterRead::List { target, namespace, selector } => {
            let compact = selector.iter().map(|(name, value)| (Box::from(name.as_str()), Box::from(value.as_str())));
            (list_place(target, namespace.as_deref()), Some(compact.collect()))
        }
    }
}

/// Whether `labels` include every label of `selector`.
fn selects(selector: &Selector, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(name, value)| labels.get(&**name).is_some_and(|found| **found == **value))
}

#[derive(Default)]
struct Index {
    /// What each pair read, and the generation it was recorded at.
    reads: HashMap<Pair, (u64, Box<[Read]>)>,
    /// The pairs that read each place. Vectors rather than sets: most places are read by one
    /// pair, and an empty set costs several times what a one-element vector does.
    by_place: HashMap<Arc<str>, Vec<Pair>>,
    /// The rules of each object that read something.
    by_object: HashMap<Arc<str>, Vec<Arc<str>>>,
    /// Oldest first, with the generation they were recorded at (a pair recorded again has a
    /// newer entry; the older one is skipped when it comes up).
    order: VecDeque<(Pair, u64)>,
    generation: u64,
    /// When each pair was last re-evaluated for a change, within the budget's window.
    recent: HashMap<Pair, VecDeque<Instant>>,
}

/// What a change asked for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Affected {
    /// Objects to evaluate again.
    pub queued: Vec<String>,
    /// Pairs held back by their budget.
    pub suppressed: usize,
}

/// The index of reads, shared by the audit's workers and its follower of changes.
#[derive(Default)]
pub struct Dependencies {
    index: Mutex<Index>,
    max_pairs: usize,
}

impl std::fmt::Debug for Dependencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dependencies").field("pairs", &self.len()).field("max_pairs", &self.max_pairs).finish()
    }
}

impl Dependencies {
    /// The most (rule, object) pairs indexed.
    pub const MAX_PAIRS: usize = 100_000;
    /// Re-evaluations of one pair per window.
    pub const BUDGET: usize = 3;
    pub const BUDGET_WINDOW: Duration = Duration::from_secs(10);

    pub fn new() -> Dependencies {
        Dependencies::with_capacity(Dependencies::MAX_PAIRS)
    }

    pub fn with_capacity(max_pairs: usize) -> Dependencies {
        Dependencies { index: Mutex::new(Index::default()), max_pairs }
    }

    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Indexes the reads of every rule evaluated on the object `uid` (replacing what they read
    /// before). Returns how many pairs were evicted to make room.
    pub fn record(&self, uid: &str, results: &[RuleResult<'_>]) -> u64 {
        let mut index = self.index();
        // The common case, every evaluation of rules that look nothing up: nothing to do.
        if results.iter().all(|result| result.reads.is_empty()) && !index.by_object.contains_key(uid) {
            return 0;
        }
        let mut evicted = 0;
        let uid: Arc<str> =
            index.by_object.get_key_value(uid).map_or_else(|| Arc::from(uid), |(known, _)| Arc::clone(known));
        for result in results {
            let pair: Pair = (result.rule.shared_name(), Arc::clone(&uid));
            index.remove(&pair);
            if result.reads.is_empty() {
                continue;
            }
            index.generation += 1;
            let generation = index.generation;
            let mut reads = Vec::with_capacity(result.reads.len());
            for read in &result.reads {
                let (place, selector) = place(read);
                let place: Arc<str> = match index.by_place.get_key_value(place.as_str()) {
                    Some((known, _)) => Arc::clone(known),
                    None => Arc::from(place),
                };
                let readers = index.by_place.entry(Arc::clone(&place)).or_default();
                if !readers.contains(&pair) {
                    readers.push(pair.clone());
                }
                reads.push((place, selector));
            }
            index.by_object.entry(Arc::clone(&pair.1)).or_default().push(Arc::clone(&pair.0));
            index.reads.insert(pair.clone(), (generation, reads.into_boxed_slice()));
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
    pub fn forget(&self, uid: &str) {
        let mut index = self.index();
        let Some((uid, rules)) = index.by_object.get_key_value(uid).map(|(k, v)| (Arc::clone(k), v.clone())) else {
            return;
        };
        for rule in rules {
            let pair = (rule, Arc::clone(&uid));
            index.remove(&pair);
            index.recent.remove(&pair);
        }
    }

    /// How many pairs are indexed.
    pub fn len(&self) -> usize {
        self.index().reads.len()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every object with an indexed read: what to evaluate again when changes were missed.
    pub fn objects(&self) -> Vec<String> {
        self.index().by_object.keys().map(|uid| uid.to_string()).collect()
    }

    /// The objects whose rules read what `change` changed, within their budget at `now`.
    pub fn affected(&self, change: &ObjectChange, now: Instant) -> Affected {
        let mut index = self.index();
        let namespace = change.namespace.as_deref();
        let mut hit: HashSet<Pair> = HashSet::new();
        if let Some(pairs) = index.by_place.get(object_place(&change.target, namespace, &change.name).as_str()) {
            hit.extend(pairs.iter().cloned());
        }
        for list in [list_place(&change.target, namespace), list_place(&change.target, None)] {
            let Some((list, pairs)) = index.by_place.get_key_value(list.as_str()) else { continue };
            for pair in pairs {
                let selected = index.reads.get(pair).is_some_and(|(_, reads)| {
                    reads.iter().any(|(place, selector)| {
                        place == list
                            && selector.as_ref().is_some_and(|selector| {
                                selects(selector, &change.labels_before) || selects(selector, &change.labels_after)
                            })
                    })
                });
                if selected {
                    hit.insert(pair.clone());
                }
            }
        }
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
            if queued.insert(Arc::clone(&pair.1)) {
                affected.queued.push(pair.1.to_string());
            }
        }
        affected
    }
}

impl Index {
    fn remove(&mut self, pair: &Pair) {
        let Some((_, reads)) = self.reads.remove(pair) else { return };
        if let Some(rules) = self.by_object.get_mut(&pair.1) {
            rules.retain(|rule| *rule != pair.0);
            if rules.is_empty() {
                self.by_object.remove(&pair.1);
            }
        }
        for (place, _) in reads.iter() {
            if let Some(pairs) = self.by_place.get_mut(place) {
                pairs.retain(|reader| reader != pair);
                if pairs.is_empty() {
                    self.by_place.remove(place);
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
    fn a_list_is_affected_by_objects_entering_or_leaving_it() {
        let (loaded, errors) = load_rules(
            "t",
            "name: lonely\nmatch: {gvk: [{group: '', kind: Service}]}\n\
             rule: \"cluster.list('v1', 'Pod', object.metadata.namespace, {'app': 'web'}).size() == 0\"\n",
        );
        assert!(errors.is_empty());
        let set = RuleSet::compile(loaded).0;
        let dependencies = Dependencies::new();
        let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop", "uid": "s"}});
        record(&dependencies, &set, &service);
        let pod_change = |namespace: &str, before: &[(&str, &str)], after: &[(&str, &str)]| {
            let labels =
                |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
            ObjectChange {
                target: LookupTarget::new("v1", "Pod"),
                namespace: Some(namespace.to_owned()),
                name: "p".to_owned(),
                labels_before: labels(before),
                labels_after: labels(after),
            }
        };
        let at = |seconds: u64| Instant::now() + Duration::from_secs(seconds);
        assert_eq!(dependencies.affected(&pod_change("shop", &[], &[("app", "web")]), at(0)).queued, ["s"], "enters");
        assert_eq!(dependencies.affected(&pod_change("shop", &[("app", "web")], &[]), at(20)).queued, ["s"], "leaves");
        assert!(
            dependencies.affected(&pod_change("shop", &[("app", "db")], &[("app", "db")]), at(40)).queued.is_empty()
        );
        assert!(dependencies.affected(&pod_change("blog", &[], &[("app", "web")]), at(60)).queued.is_empty());
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
