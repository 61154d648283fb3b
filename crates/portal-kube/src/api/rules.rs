//! `PortalClusterRule` (cluster-scoped) and `PortalRule` (namespaced), `portal.io/v1alpha1`:
//! the rule schema of portal-rules as Kubernetes resources, with a status subresource.

use std::fmt;

use kube::CustomResource;
use portal_rules::RuleSpec;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Portal rule that applies cluster-wide.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "portal.io",
    version = "v1alpha1",
    kind = "PortalClusterRule",
    shortname = "pcr",
    category = "portal",
    status = "RuleStatus",
    printcolumn = r#"{"name":"Enabled","type":"boolean","jsonPath":".spec.enabled"}"#,
    printcolumn = r#"{"name":"Modes","type":"string","jsonPath":".spec.mode"}"#,
    printcolumn = r#"{"name":"Action","type":"string","jsonPath":".spec.enforcementAction"}"#,
    printcolumn = r#"{"name":"Severity","type":"string","jsonPath":".spec.severity"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(transparent)]
pub struct PortalClusterRuleSpec(pub RuleSpec);

/// A Portal rule confined to its own namespace.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "portal.io",
    version = "v1alpha1",
    kind = "PortalRule",
    namespaced,
    shortname = "pr",
    category = "portal",
    status = "RuleStatus",
    printcolumn = r#"{"name":"Enabled","type":"boolean","jsonPath":".spec.enabled"}"#,
    printcolumn = r#"{"name":"Modes","type":"string","jsonPath":".spec.mode"}"#,
    printcolumn = r#"{"name":"Action","type":"string","jsonPath":".spec.enforcementAction"}"#,
    printcolumn = r#"{"name":"Severity","type":"string","jsonPath":".spec.severity"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(transparent)]
pub struct PortalRuleSpec(pub RuleSpec);

/// What Portal made of a rule resource.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleStatus {
    /// `Ready`: True when the rule compiled and is in force, False with the reason otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Why the rule was rejected, with the field and, for CEL, the line and column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<ParseError>,
    /// Audit evaluations of the rule since the writing replica started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_count: Option<i64>,
    /// Violations the audit found (one per object and container) since the writing replica started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violation_count: Option<i64>,
    /// Audit evaluation errors since the writing replica started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_count: Option<i64>,
    /// When this generation of the rule came into force (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied: Option<String>,
    /// The control points the rule is active on: admission, audit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub active_on: Vec<String>,
}

/// A status condition, as in Kubernetes' `metav1.Condition`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// The condition type; Portal sets `Ready`.
    #[serde(rename = "type")]
    pub type_: String,
    /// True, False or Unknown.
    pub status: ConditionStatus,
    /// A CamelCase reason: Compiled, InvalidSpec, InvalidExpression, NameConflict.
    pub reason: String,
    /// A human-readable explanation.
    pub message: String,
    /// When the status last changed (RFC 3339).
    pub last_transition_time: String,
    /// The `metadata.generation` the condition was set for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// The status of a condition.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

/// Where and why a rule was rejected.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParseError {
    /// The field path, e.g. `spec.rule` or `spec.match.gvk`.
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
    /// For CEL: the 1-based line within the expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<i64>,
    /// For CEL: the 1-based column within the expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<i64>,
}

/// Which rule resource something is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleResourceKey {
    /// A `PortalClusterRule` by name.
    Cluster(String),
    /// A `PortalRule` by namespace and name.
    Namespaced(String, String),
}

impl RuleResourceKey {
    /// The resource a rule came from, from its origin (`PortalClusterRule/name`,
    /// `PortalRule/namespace/name`, as [`RuleResourceKey`] displays); `None` for a rule from a
    /// file.
    pub fn from_origin(source: &str) -> Option<RuleResourceKey> {
        match source.split('/').collect::<Vec<_>>().as_slice() {
            ["PortalClusterRule", name] => Some(RuleResourceKey::Cluster((*name).to_owned())),
            ["PortalRule", namespace, name] => {
                Some(RuleResourceKey::Namespaced((*namespace).to_owned(), (*name).to_owned()))
            }
            _ => None,
        }
    }
}

impl fmt::Display for RuleResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleResourceKey::Cluster(name) => write!(f, "PortalClusterRule/{name}"),
            RuleResourceKey::Namespaced(namespace, name) => write!(f, "PortalRule/{namespace}/{name}"),
        }
    }
}
