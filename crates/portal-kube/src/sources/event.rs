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

/// One rule resource as last seen.
#[derive(Debug, Clone)]
pub(crate) struct RuleResource {
    pub key: RuleResourceKey,
    /// The whole object, as the API server returned it.
    pub object: Json,
    pub generation: Option<i64>,
    pub status: Option<RuleStatus>,
}

#[derive(Debug)]
pub(crate) enum ClusterEvent {
    Applied(Box<RuleResource>),
    Deleted(RuleResourceKey),
    /// A (re)list finished: these are all the resources of the kind.
    Listed(ResourceKind, Vec<RuleResource>),
}

/// One exception resource as last seen.
#[derive(Debug, Clone)]
pub(crate) struct ExceptionResource {
    pub key: ExceptionResourceKey,
    /// The whole object, as the API server returned it.
    pub object: Json,
    pub generation: Option<i64>,
    pub status: Option<ExceptionStatus>,
}

#[derive(Debug)]
pub(crate) enum ExceptionEvent {
    Applied(Box<ExceptionResource>),
    Deleted(ExceptionResourceKey),
    /// A (re)list finished: these are all the exceptions of the kind.
    Listed(ResourceKind, Vec<ExceptionResource>),
}
