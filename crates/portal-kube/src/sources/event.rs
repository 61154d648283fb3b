//! What the rule sources' watchers tell the reconciler, and the problems it reports.

use serde_json::Value as Json;

use crate::api::{ExceptionResourceKey, ExceptionStatus, RuleResourceKey, RuleStatus};

/// A problem with one rule source, for logs and for whoever watches the sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceProblem {
    /// A file (and line), or `PortalClusterRule/name`, `PortalRule/namespace/name`.
    pub location: String,
    pub message: String,
}

/// What the watchers tell the reconciler.
#[derive(Debug)]
pub(crate) enum SourceEvent {
    Cluster(ClusterEvent),
    Exceptions(ExceptionEvent),
    FoldersChanged,
}

/// The two kinds watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResourceKind {
    Cluster,
    Namespaced,
}

/// The key of a Portal resource kind that has a cluster-wide and a namespaced variant.
pub(crate) trait ResourceKey: Sized + Clone + Ord + std::fmt::Display {
    /// The key of the object `name` (in `namespace`, for the namespaced variant).
    fn new(kind: ResourceKind, namespace: Option<String>, name: String) -> Option<Self>;
    /// Which variant the key is of.
    fn kind(&self) -> ResourceKind;
}

impl ResourceKey for RuleResourceKey {
    fn new(kind: ResourceKind, namespace: Option<String>, name: String) -> Option<Self> {
        Some(match kind {
            ResourceKind::Cluster => RuleResourceKey::Cluster(name),
            ResourceKind::Namespaced => RuleResourceKey::Namespaced(namespace?, name),
        })
    }

    fn kind(&self) -> ResourceKind {
        match self {
            RuleResourceKey::Cluster(_) => ResourceKind::Cluster,
            RuleResourceKey::Namespaced(..) => ResourceKind::Namespaced,
        }
    }
}

impl ResourceKey for ExceptionResourceKey {
    fn new(kind: ResourceKind, namespace: Option<String>, name: String) -> Option<Self> {
        Some(match kind {
            ResourceKind::Cluster => ExceptionResourceKey::Cluster(name),
            ResourceKind::Namespaced => ExceptionResourceKey::Namespaced(namespace?, name),
        })
    }

    fn kind(&self) -> ResourceKind {
        match self {
            ExceptionResourceKey::Cluster(_) => ResourceKind::Cluster,
            ExceptionResourceKey::Namespaced(..) => ResourceKind::Namespaced,
        }
    }
}

/// One Portal resource as last seen.
#[derive(Debug, Clone)]
pub(crate) struct Resource<Key, Status> {
    pub key: Key,
    /// The whole object, as the API server returned it.
    pub object: Json,
    pub generation: Option<i64>,
    pub status: Option<Status>,
}

/// What changed of one Portal resource kind.
#[derive(Debug)]
pub(crate) enum ResourceEvent<Key, Status> {
    Applied(Box<Resource<Key, Status>>),
    Deleted(Key),
    /// A (re)list finished: these are all the resources of the kind.
    Listed(ResourceKind, Vec<Resource<Key, Status>>),
}

pub(crate) type ClusterEvent = ResourceEvent<RuleResourceKey, RuleStatus>;
pub(crate) type ExceptionEvent = ResourceEvent<ExceptionResourceKey, ExceptionStatus>;

impl<Key: ResourceKey, Status> ResourceEvent<Key, Status> {
    /// Records the event in `resources`; returns whether a spec changed (a status-only update
    /// does not count) and, for a list, which kind is now listed.
    pub fn apply_to(
        self,
        resources: &mut std::collections::BTreeMap<Key, Resource<Key, Status>>,
    ) -> (bool, Option<ResourceKind>) {
        match self {
            ResourceEvent::Applied(resource) => {
                let changed = resources.get(&resource.key).is_none_or(|old| {
                    old.generation != resource.generation || old.object.get("spec") != resource.object.get("spec")
                });
                resources.insert(resource.key.clone(), *resource);
                (changed, None)
            }
            ResourceEvent::Deleted(key) => (resources.remove(&key).is_some(), None),
            ResourceEvent::Listed(kind, listed) => {
                resources.retain(|key, _| key.kind() != kind);
                for resource in listed {
                    resources.insert(resource.key.clone(), resource);
                }
                (true, Some(kind))
            }
        }
    }
}
