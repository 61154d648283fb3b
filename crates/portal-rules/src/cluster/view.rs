//! What lookups read: the kinds they name, the objects a view holds, and the view itself.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use cel::common::value::Val;
use serde_json::Value as Json;

/// A kind a rule reads, as written in its lookups.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LookupTarget {
    /// `v1`, `apps/v1`, …
    pub api_version: String,
    /// The kind, e.g. `ConfigMap`.
    pub kind: String,
}

impl LookupTarget {
    /// The kind `kind` of `api_version` (`v1`, `apps/v1`, …).
    pub fn new(api_version: impl Into<String>, kind: impl Into<String>) -> LookupTarget {
        LookupTarget { api_version: api_version.into(), kind: kind.into() }
    }

    /// The API group: empty for the core group.
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(group, _)| group)
    }

    /// The version within the group.
    pub fn version(&self) -> &str {
        self.api_version.rsplit_once('/').map_or(self.api_version.as_str(), |(_, version)| version)
    }
}

impl std::fmt::Display for LookupTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.api_version, self.kind)
    }
}

/// Objects whose labels include every one of these (a selector's `matchLabels`); empty selects
/// every object.
pub type LabelSelector = BTreeMap<String, String>;

/// Whether `labels` include every label of `selector`.
pub fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(key, value)| labels.get(key) == Some(value))
}

/// One object a view holds, with what lookups need of it: its labels for selectors, and its CEL
/// value, built on its first lookup and shared by every later one.
#[derive(Debug)]
pub struct ClusterObject {
    json: Json,
    labels: BTreeMap<String, String>,
    value: OnceLock<Box<dyn Val>>,
}

impl ClusterObject {
    /// Wraps an object, reading its labels now and leaving its CEL value for its first lookup.
    pub fn new(json: Json) -> ClusterObject {
        let labels = json
            .pointer("/metadata/labels")
            .and_then(Json::as_object)
            .map(|labels| {
                labels.iter().filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_owned()))).collect()
            })
            .unwrap_or_default();
        ClusterObject { json, labels, value: OnceLock::new() }
    }

    /// The object as given.
    pub fn json(&self) -> &Json {
        &self.json
    }

    /// `metadata.labels` (those whose values are strings); empty when it has none.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    /// `metadata.namespace`; `None` when it is missing or empty (a cluster-scoped object).
    pub fn namespace(&self) -> Option<&str> {
        self.json.pointer("/metadata/namespace").and_then(Json::as_str).filter(|namespace| !namespace.is_empty())
    }

    /// `metadata.name`; `None` when the object has none.
    pub fn name(&self) -> Option<&str> {
        self.json.pointer("/metadata/name").and_then(Json::as_str)
    }

    /// The object as a CEL value: converted once, then shared (cloning it clones an `Arc`).
    pub(crate) fn value(&self) -> Box<dyn Val> {
        self.value.get_or_init(|| crate::value::to_owned_val(&self.json)).clone_as_boxed()
    }
}

/// Why a lookup could not be answered. Its message is the evaluation error's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LookupError(pub String);

/// What lookups read: a cluster's objects by kind.
pub trait ClusterView: Send + Sync + std::fmt::Debug {
    /// The object `name` of `target` in `namespace` (`None`: a cluster-scoped object).
    fn get(
        &self,
        target: &LookupTarget,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Arc<ClusterObject>>, LookupError>;

    /// The objects of `target` in `namespace` (`None`: in every namespace, or cluster-scoped)
    /// whose labels `selector` selects, in a stable order.
    fn list(
        &self,
        target: &LookupTarget,
        namespace: Option<&str>,
        selector: &LabelSelector,
    ) -> Result<Vec<Arc<ClusterObject>>, LookupError>;
}
