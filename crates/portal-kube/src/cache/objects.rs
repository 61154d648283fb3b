//! The objects rules read through cluster lookups (`cluster.get`, `cluster.list`): one watch per
//! kind that a loaded rule names, started when the rule set is rebuilt and listed before it is put
//! in force ([`ClusterCache::watch`]), and every change announced ([`ObjectChange`]) so that the
//! audit can evaluate again what read the changed object.
//!
//! Secrets are watched by their metadata only: a rule can tell that a Secret exists, never read
//! what it holds, and Portal never keeps the cluster's secrets in memory.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use futures::{Stream, StreamExt};
use kube::api::DynamicObject;
use kube::core::{GroupVersionKind, PartialObjectMeta};
use kube::discovery::ApiResource;
use kube::runtime::{WatchStreamExt, watcher};
use portal_rules::cluster::{ClusterObject, ClusterView, LabelSelector, LookupError, LookupTarget, selects};
use serde_json::Value as Json;
use tokio::sync::broadcast;

use crate::tasks::OwnedTask;

/// A change to an object some rule may have read: its kind, namespace and name, and its labels
/// before and after (a list read with a selector is affected when either matches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectChange {
    pub target: LookupTarget,
    pub namespace: Option<String>,
    pub name: String,
    pub labels_before: BTreeMap<String, String>,
    pub labels_after: BTreeMap<String, String>,
}

/// How many changes a slow reader may fall behind before it misses some (and is told so).
const CHANGES_BUFFERED: usize = 4096;

/// How long a rebuild waits for the kinds its rules look up to be listed.
pub const LIST_WAIT: Duration = Duration::from_secs(10);

/// The kind's key: group and kind (the version does not matter to a lookup).
type KindKey = (String, String);

fn key_of(target: &LookupTarget) -> KindKey {
    (target.group().to_owned(), target.kind.clone())
}

/// An object's namespace and name.
type ObjectKey = (Option<String>, String);

/// The objects of one kind by (namespace, name), and the keys of those with each label, so that
/// a selector visits the objects with one of its labels rather than every object of the kind.
#[derive(Default)]
struct Objects {
    by_name: BTreeMap<ObjectKey, Arc<ClusterObject>>,
    by_label: HashMap<(String, String), BTreeSet<ObjectKey>>,
}

impl Objects {
    fn insert(&mut self, key: ObjectKey, object: Arc<ClusterObject>) -> Option<Arc<ClusterObject>> {
        for label in object.labels() {
            self.by_label.entry((label.0.clone(), label.1.clone())).or_default().insert(key.clone());
        }
        let before = self.by_name.insert(key.clone(), object);
        self.unindex(&key, before.as_deref(), self.by_name.get(&key).map(|now| now.labels().clone()));
        before
    }

    fn remove(&mut self, key: &ObjectKey) -> Option<Arc<ClusterObject>> {
        let before = self.by_name.remove(key);
        self.unindex(key, before.as_deref(), None);
        before
    }

    /// The objects in `namespace` (all: `None`) whose labels `selector` selects, by namespace
    /// and name.
    fn select(&self, namespace: Option<&str>, selector: &LabelSelector) -> Vec<Arc<ClusterObject>> {
        let selected = |object: &Arc<ClusterObject>| selects(selector, object.labels());
        // With a selector, only the objects with its rarest label are candidates.
        let rarest = selector
            .iter()
            .map(|(name, value)| self.by_label.get(&(name.clone(), value.clone())).map_or(0, BTreeSet::len))
            .zip(selector.iter())
            .min_by_key(|(count, _)| *count);
        if let Some((_, (name, value))) = rarest {
            let Some(keys) = self.by_label.get(&(name.clone(), value.clone())) else { return Vec::new() };
            return keys
                .iter()
                .filter(|(in_namespace, _)| namespace.is_none() || in_namespace.as_deref() == namespace)
                .filter_map(|key| self.by_name.get(key))
                .filter(|object| selected(object))
                .cloned()
                .collect();
        }
        let objects = &self.by_name;
        match namespace {
            // Keys sort by namespace: one namespace is one range.
            Some(namespace) => objects
                .range((Some(namespace.to_owned()), String::new())..)
                .take_while(|((in_namespace, _), _)| in_namespace.as_deref() == Some(namespace))
                .map(|(_, object)| object)
                .filter(|object| selected(object))
                .cloned()
                .collect(),
            None => objects.values().filter(|object| selected(object)).cloned().collect(),
        }
    }

    /// Drops `key` from the index entries of the labels `before` had and `kept` does not.
    fn unindex(&mut self, key: &ObjectKey, before: Option<&ClusterObject>, kept: Option<BTreeMap<String, String>>) {
        let Some(before) = before else { return };
        for (name, value) in before.labels() {
            if kept.as_ref().is_some_and(|kept| kept.get(name) == Some(value)) {
                continue;
            }
            let label = (name.clone(), value.clone());
            if let Some(keys) = self.by_label.get_mut(&label) {
                keys.remove(key);
                if keys.is_empty() {
                    self.by_label.remove(&label);
                }
            }
        }
    }
}

/// The objects of one watched kind.
struct KindObjects {
    objects: RwLock<Objects>,
    synced: AtomicBool,
    /// The watch; `None` until the kind was found through discovery.
    _watch: Mutex<Option<OwnedTask>>,
}

/// Every kind that loaded rules look up, each kept current by one watch.
pub struct ClusterCache {
    client: kube::Client,
    kinds: RwLock<HashMap<KindKey, Arc<KindObjects>>>,
    changes: broadcast::Sender<ObjectChange>,
    metrics: portal_metrics::Metrics,
}

impl std::fmt::Debug for ClusterCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kinds: Vec<KindKey> = self.kinds.read().unwrap_or_else(PoisonError::into_inner).keys().cloned().collect();
        f.debug_struct("ClusterCache").field("kinds", &kinds).finish_non_exhaustive()
    }
}

impl ClusterCache {
    pub fn new(client: kube::Client, metrics: portal_metrics::Metrics) -> Arc<ClusterCache> {
        let (changes, _) = broadcast::channel(CHANGES_BUFFERED);
        Arc::new(ClusterCache { client, kinds: RwLock::new(HashMap::new()), changes, metrics })
    }

    /// Changes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ObjectChange> {
        self.changes.subscribe()
    }

    /// Watches exactly the kinds of `targets`: new ones start, others stop. Waits, at most
    /// `wait`, until every one has been listed once.
    pub async fn watch(self: &Arc<Self>, targets: &[LookupTarget], wait: Duration) {
        let wanted: HashMap<KindKey, &LookupTarget> = targets.iter().map(|target| (key_of(target), target)).collect();
        let started: Vec<Arc<KindObjects>> = {
            let mut kinds = self.kinds.write().unwrap_or_else(PoisonError::into_inner);
            kinds.retain(|key, _| {
                let keep = wanted.contains_key(key);
                if !keep {
                    self.metrics.forget_lookup_kind(&format!("{}/{}", key.0, key.1));
                    tracing::info!(group = %key.0, kind = %key.1, "lookups: no rule reads this kind any more");
                }
                keep
            });
            let mut started = Vec::new();
            for (key, target) in &wanted {
                if kinds.contains_key(key) {
                    continue;
                }
                let objects = Arc::new(KindObjects {
                    objects: RwLock::new(Objects::default()),
                    synced: AtomicBool::new(false),
                    _watch: Mutex::new(None),
                });
                let task = OwnedTask::spawn(watch_kind(Arc::downgrade(self), (*target).clone(), Arc::clone(&objects)));
                *objects._watch.lock().unwrap_or_else(PoisonError::into_inner) = Some(task);
                kinds.insert(key.clone(), Arc::clone(&objects));
                started.push(objects);
            }
            started
        };
        let all_listed = async {
            while !started.iter().all(|kind| kind.synced.load(Ordering::Acquire)) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        if tokio::time::timeout(wait, all_listed).await.is_err() {
            tracing::warn!("lookups: a kind rules read is not listed yet; their lookups fail until it is");
        }
    }

    fn kind(&self, target: &LookupTarget) -> Result<Arc<KindObjects>, LookupError> {
        let kinds = self.kinds.read().unwrap_or_else(PoisonError::into_inner);
        let kind = kinds.get(&key_of(target)).cloned().ok_or_else(|| {
            LookupError(format!("{target} is not watched (no loaded rule names it; this is a bug if one does)"))
        })?;
        if !kind.synced.load(Ordering::Acquire) {
            return Err(LookupError(format!(
                "the {target} objects are not listed yet (is the kind served, and may Portal list and watch it?)"
            )));
        }
        Ok(kind)
    }

    /// Applies one object's new version (`None`: deleted) and announces the change.
    fn update(&self, target: &LookupTarget, kind: &KindObjects, key: (Option<String>, String), after: Option<Json>) {
        let after = after.map(|object| Arc::new(ClusterObject::new(object)));
        let before = {
            let mut objects = kind.objects.write().unwrap_or_else(PoisonError::into_inner);
            let before = match &after {
                Some(after) => objects.insert(key.clone(), Arc::clone(after)),
                None => objects.remove(&key),
            };
            let count = objects.by_name.len();
            self.metrics.set_lookup_objects(&format!("{}/{}", target.group(), target.kind), count);
            before
        };
        if before.as_ref().map(|b| b.json()) == after.as_ref().map(|a| a.json()) {
            return;
        }
        let labels =
            |object: &Option<Arc<ClusterObject>>| object.as_ref().map(|o| o.labels().clone()).unwrap_or_default();
        // Nobody listening is fine: the audit may be off.
        let _ = self.changes.send(ObjectChange {
            target: target.clone(),
            namespace: key.0,
            name: key.1,
            labels_before: labels(&before),
            labels_after: labels(&after),
        });
    }
}

impl ClusterView for ClusterCache {
    fn get(
        &self,
        target: &LookupTarget,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Arc<ClusterObject>>, LookupError> {
        let kind = self.kind(target)?;
        let objects = kind.objects.read().unwrap_or_else(PoisonError::into_inner);
        Ok(objects.by_name.get(&(namespace.map(str::to_owned), name.to_owned())).cloned())
    }

    fn list(
        &self,
        target: &LookupTarget,
        namespace: Option<&str>,
        selector: &LabelSelector,
    ) -> Result<Vec<Arc<ClusterObject>>, LookupError> {
        let kind = self.kind(target)?;
        let objects = kind.objects.read().unwrap_or_else(PoisonError::into_inner);
        Ok(objects.select(namespace, selector))
    }
}

/// One event of a watch, whatever the watch returns (whole objects, or metadata only).
enum Seen {
    Listing,
    Object(Json),
    Listed,
    Deleted(Json),
    Failed(String),
}

/// Finds the kind through discovery (again every 10 s while it is not served), then keeps its
/// objects current. Ends when the cache is dropped.
async fn watch_kind(cache: std::sync::Weak<ClusterCache>, target: LookupTarget, kind: Arc<KindObjects>) {
    let resource = loop {
        let Some(client) = cache.upgrade().map(|cache| cache.client.clone()) else { return };
        let gvk = GroupVersionKind::gvk(target.group(), target.version(), &target.kind);
        match kube::discovery::pinned_kind(&client, &gvk).await {
            Ok((resource, _)) => break resource,
            Err(error) => {
                tracing::warn!(kind = %target, "lookups: the kind is not served, looking again in 10 s: {error}");
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        }
    };
    let Some(client) = cache.upgrade().map(|cache| cache.client.clone()) else { return };
    tracing::info!(kind = %target, "lookups: watching");
    let mut events = seen(client, &resource);
    // What the current (re)list has shown: objects it left out were deleted meanwhile.
    let mut listed: Option<Vec<(Option<String>, String)>> = None;
    while let Some(event) = events.next().await {
        let Some(cache) = cache.upgrade() else { return };
        match event {
            Seen::Listing => listed = Some(Vec::new()),
            Seen::Object(object) => {
                let Some(key) = object_key(&object) else { continue };
                if let Some(listed) = listed.as_mut() {
                    listed.push(key.clone());
                }
                cache.update(&target, &kind, key, Some(object));
            }
            Seen::Deleted(object) => {
                if let Some(key) = object_key(&object) {
                    cache.update(&target, &kind, key, None);
                }
            }
            Seen::Listed => {
                if let Some(listed) = listed.take() {
                    let listed: std::collections::HashSet<_> = listed.into_iter().collect();
                    let gone: Vec<_> = kind
                        .objects
                        .read()
                        .unwrap_or_else(PoisonError::into_inner)
                        .by_name
                        .keys()
                        .filter(|key| !listed.contains(*key))
                        .cloned()
                        .collect();
                    for key in gone {
                        cache.update(&target, &kind, key, None);
                    }
                }
                kind.synced.store(true, Ordering::Release);
            }
            Seen::Failed(error) => {
                cache.metrics.lookup_watch_restart(&format!("{}/{}", target.group(), target.kind));
                tracing::warn!(kind = %target, "lookups: watch failed, restarting: {error}");
            }
        }
    }
}

/// The watch of `resource`'s objects as [`Seen`] events: whole objects without their managed
/// fields, or only the metadata of Secrets.
fn seen(client: kube::Client, resource: &ApiResource) -> std::pin::Pin<Box<dyn Stream<Item = Seen> + Send>> {
    let (api_version, kind) = (resource.api_version.clone(), resource.kind.clone());
    let typed = move |metadata: Json, rest: Option<Json>| {
        let mut object = rest.unwrap_or_else(|| Json::Object(serde_json::Map::new()));
        if let Some(fields) = object.as_object_mut() {
            fields.insert("apiVersion".to_owned(), Json::String(api_version.clone()));
            fields.insert("kind".to_owned(), Json::String(kind.clone()));
            fields.insert("metadata".to_owned(), metadata);
        }
        slimmed(object)
    };
    if resource.group.is_empty() && resource.kind == "Secret" {
        let api = kube::Api::<PartialObjectMeta<DynamicObject>>::all_with(client, resource);
        return watcher(api, watcher::Config::default())
            .default_backoff()
            .map(move |event| {
                let meta = |object: PartialObjectMeta<DynamicObject>| {
                    typed(serde_json::to_value(object.metadata).unwrap_or(Json::Null), None)
                };
                match event {
                    Ok(watcher::Event::Init) => Seen::Listing,
                    Ok(watcher::Event::InitApply(object) | watcher::Event::Apply(object)) => Seen::Object(meta(object)),
                    Ok(watcher::Event::InitDone) => Seen::Listed,
                    Ok(watcher::Event::Delete(object)) => Seen::Deleted(meta(object)),
                    Err(error) => Seen::Failed(error.to_string()),
                }
            })
            .boxed();
    }
    let api = kube::Api::<DynamicObject>::all_with(client, resource);
    watcher(api, watcher::Config::default())
        .default_backoff()
        .map(move |event| {
            let whole = |object: DynamicObject| {
                let metadata = serde_json::to_value(&object.metadata).unwrap_or(Json::Null);
                typed(metadata, Some(object.data))
            };
            match event {
                Ok(watcher::Event::Init) => Seen::Listing,
                Ok(watcher::Event::InitApply(object) | watcher::Event::Apply(object)) => Seen::Object(whole(object)),
                Ok(watcher::Event::InitDone) => Seen::Listed,
                Ok(watcher::Event::Delete(object)) => Seen::Deleted(whole(object)),
                Err(error) => Seen::Failed(error.to_string()),
            }
        })
        .boxed()
}

/// Without what only the API server reads: managed fields, the last-applied annotation, and the
/// resource version (which every write moves, content changed or not).
fn slimmed(mut object: Json) -> Json {
    if let Some(metadata) = object.get_mut("metadata").and_then(Json::as_object_mut) {
        metadata.remove("managedFields");
        metadata.remove("resourceVersion");
        if let Some(annotations) = metadata.get_mut("annotations").and_then(Json::as_object_mut) {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
    }
    object
}

fn object_key(object: &Json) -> Option<(Option<String>, String)> {
    let name = object.pointer("/metadata/name")?.as_str()?.to_owned();
    let namespace = object.pointer("/metadata/namespace").and_then(Json::as_str).filter(|n| !n.is_empty());
    Some((namespace.map(str::to_owned), name))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(namespace: &str, name: &str, labels: Json) -> (ObjectKey, Arc<ClusterObject>) {
        let object = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": labels}});
        ((Some(namespace.to_owned()), name.to_owned()), Arc::new(ClusterObject::new(object)))
    }

    fn names(found: &[Arc<ClusterObject>]) -> Vec<String> {
        found
            .iter()
            .map(|o| format!("{}/{}", o.namespace().unwrap_or_default(), o.name().unwrap_or_default()))
            .collect()
    }

    fn selector(pairs: &[(&str, &str)]) -> LabelSelector {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn selectors_find_the_same_objects_through_the_label_index_as_by_scanning() {
        let mut objects = Objects::default();
        for (namespace, name, labels) in [
            ("shop", "web-1", json!({"app": "web", "tier": "front"})),
            ("shop", "web-2", json!({"app": "web"})),
            ("shop", "db-1", json!({"app": "db", "tier": "back"})),
            ("blog", "web-1", json!({"app": "web", "tier": "front"})),
        ] {
            let (key, object) = pod(namespace, name, labels);
            objects.insert(key, object);
        }
        assert_eq!(names(&objects.select(Some("shop"), &selector(&[("app", "web")]))), ["shop/web-1", "shop/web-2"]);
        assert_eq!(
            names(&objects.select(None, &selector(&[("app", "web"), ("tier", "front")]))),
            ["blog/web-1", "shop/web-1"]
        );
        assert!(objects.select(None, &selector(&[("app", "cache")])).is_empty());
        assert_eq!(objects.select(Some("shop"), &LabelSelector::new()).len(), 3);

        // Relabelled: found under its new labels only; removed: found nowhere.
        let (key, object) = pod("shop", "web-2", json!({"app": "worker"}));
        objects.insert(key, object);
        assert_eq!(names(&objects.select(Some("shop"), &selector(&[("app", "web")]))), ["shop/web-1"]);
        assert_eq!(names(&objects.select(Some("shop"), &selector(&[("app", "worker")]))), ["shop/web-2"]);
        objects.remove(&(Some("shop".to_owned()), "web-2".to_owned()));
        assert!(objects.select(None, &selector(&[("app", "worker")])).is_empty());
        assert!(!objects.by_label.contains_key(&("app".to_owned(), "worker".to_owned())), "empty entries are dropped");
    }
}
