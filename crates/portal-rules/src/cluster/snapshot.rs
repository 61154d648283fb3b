//! A cluster held in memory: the objects `portal check --cluster` loads, or a test case gives.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value as Json;

use super::view::{ClusterObject, ClusterView, LabelSelector, LookupError, LookupTarget, selects};

/// Objects by (group, kind), then (namespace, name). The version is not part of the key: an
/// object is found whichever version of its kind a lookup names, as the API server serves every
/// version of a kind.
#[derive(Debug, Default)]
pub struct ClusterSnapshot {
    objects: BTreeMap<(String, String), ObjectsOfKind>,
}

/// The objects of one kind by (namespace, name).
type ObjectsOfKind = BTreeMap<(Option<String>, String), Arc<ClusterObject>>;

impl ClusterSnapshot {
    /// An empty snapshot: every `cluster.get` finds nothing, every `cluster.list` is empty.
    pub fn new() -> ClusterSnapshot {
        ClusterSnapshot::default()
    }

    /// Adds `object` (replacing one of the same kind, namespace and name). Fails, saying what is
    /// missing, without an `apiVersion`, `kind` or `metadata.name`.
    pub fn insert(&mut self, object: Json) -> Result<(), String> {
        let text = |pointer: &str| object.pointer(pointer).and_then(Json::as_str).filter(|s| !s.is_empty());
        let api_version = text("/apiVersion").ok_or("it has no apiVersion")?;
        let kind = text("/kind").ok_or("it has no kind")?.to_owned();
        let name = text("/metadata/name").ok_or("it has no metadata.name")?.to_owned();
        let group = LookupTarget::new(api_version, "").group().to_owned();
        let namespace = text("/metadata/namespace").map(str::to_owned);
        self.objects.entry((group, kind)).or_default().insert((namespace, name), Arc::new(ClusterObject::new(object)));
        Ok(())
    }

    /// How many objects it holds.
    pub fn len(&self) -> usize {
        self.objects.values().map(BTreeMap::len).sum()
    }

    /// Whether it holds no objects.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    fn of_kind(&self, target: &LookupTarget) -> Option<&ObjectsOfKind> {
        self.objects.get(&(target.group().to_owned(), target.kind.clone()))
    }
}

impl ClusterView for ClusterSnapshot {
    fn get(
        &self,
        target: &LookupTarget,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Arc<ClusterObject>>, LookupError> {
        Ok(self
            .of_kind(target)
            .and_then(|objects| objects.get(&(namespace.map(str::to_owned), name.to_owned())).cloned()))
    }

    fn list(
        &self,
        target: &LookupTarget,
        namespace: Option<&str>,
        selector: &LabelSelector,
    ) -> Result<Vec<Arc<ClusterObject>>, LookupError> {
        let Some(objects) = self.of_kind(target) else { return Ok(Vec::new()) };
        Ok(objects
            .iter()
            .filter(|((in_namespace, _), object)| {
                (namespace.is_none() || in_namespace.as_deref() == namespace) && selects(selector, object.labels())
            })
            .map(|(_, object)| Arc::clone(object))
            .collect())
    }
}
