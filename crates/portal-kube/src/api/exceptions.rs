//! `PortalException` (namespaced) and `PortalClusterException` (cluster-scoped),
//! `portal.io/v1alpha1`: the exception schema of portal-rules as Kubernetes resources, with a
//! status that says whether each is in force or expired.

use std::fmt;

use kube::CustomResource;
use portal_rules::exception::ExceptionSpec;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::rules::{Condition, ParseError};

/// Exempts named rules for matching objects of its own namespace.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "portal.io",
    version = "v1alpha1",
    kind = "PortalException",
    namespaced,
    shortname = "pex",
    category = "portal",
    status = "ExceptionStatus",
    printcolumn = r#"{"name":"Rules","type":"string","jsonPath":".spec.rules"}"#,
    printcolumn = r#"{"name":"Expires","type":"string","jsonPath":".spec.expires"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(transparent)]
pub struct PortalExceptionSpec(pub ExceptionSpec);

/// Exempts named rules for matching objects anywhere in the cluster.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "portal.io",
    version = "v1alpha1",
    kind = "PortalClusterException",
    shortname = "pcex",
    category = "portal",
    status = "ExceptionStatus",
    printcolumn = r#"{"name":"Rules","type":"string","jsonPath":".spec.rules"}"#,
    printcolumn = r#"{"name":"Expires","type":"string","jsonPath":".spec.expires"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(transparent)]
pub struct PortalClusterExceptionSpec(pub ExceptionSpec);

/// What Portal made of an exception resource.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExceptionStatus {
    /// `Ready`: True (reason `Active`) while the exception is in force; False with reason
    /// `Expired` once `expires` has passed, or with the reason it was rejected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// True once `expires` has passed: the exception exempts nothing any more.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expired: bool,
    /// Why the exception was rejected, with the field and, for the condition, line and column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<ParseError>,
}

/// Which exception resource something is about; displayed as reports and metrics name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExceptionResourceKey {
    /// A `PortalClusterException` by name.
    Cluster(String),
    /// A `PortalException` by namespace and name.
    Namespaced(String, String),
}

impl fmt::Display for ExceptionResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExceptionResourceKey::Cluster(name) => write!(f, "PortalClusterException/{name}"),
            ExceptionResourceKey::Namespaced(namespace, name) => write!(f, "PortalException/{namespace}/{name}"),
        }
    }
}
