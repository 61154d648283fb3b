//! The rule schema (SPEC §3.1): what a rule file or the `spec` of a rule resource holds.
//!
//! Deserialisation rejects unknown fields; [`RuleSpec::validate`] checks what serde cannot
//! (non-empty lists, well-formed names, selector operators).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One rule as written by its author.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleSpec {
    /// Unique name; defaults to `metadata.name` of the resource or document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `false` parks the rule: it is loaded and validated but never evaluated.
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// How serious a violation is: info, low, medium (default), high or critical.
    #[serde(default)]
    pub severity: Severity,
    /// Where the rule runs: admission, audit, or both (the default).
    #[serde(default = "Mode::all")]
    pub mode: Vec<Mode>,
    /// The admission verdict of a violation: deny (default), warn, or dryrun (reported only).
    #[serde(default)]
    pub enforcement_action: EnforcementAction,
    /// Which objects the rule applies to; `gvk` is required.
    #[serde(rename = "match")]
    pub match_spec: MatchSpec,
    /// Objects carved out of `match`: excluded when every criterion set here holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<MatchSpec>,
    /// CEL expression; `true` means the object violates the rule.
    pub rule: String,
    /// The message shown for a violation; defaults to one naming the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// CEL expression yielding the message; overrides `message` when it evaluates cleanly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_expression: Option<String>,
    /// What an evaluation error means at admission: Ignore (default) admits, Fail denies.
    #[serde(default)]
    pub failure_policy: FailurePolicy,
    /// Shorthand for one `alertmanager` action with this alert name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    /// Response actions run on violations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionSpec>,
}

fn enabled_by_default() -> bool {
    true
}

/// How serious a violation of a rule is; ordered from [`Severity::Info`] to [`Severity::Critical`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// `info`: the least severe, for information.
    Info,
    /// `low`: above `info`, below `medium`.
    Low,
    /// `medium` (the default).
    #[default]
    Medium,
    /// `high`: above `medium`, below `critical`.
    High,
    /// `critical`: the most severe.
    Critical,
}

impl Severity {
    /// The name a rule file uses: `info`, `low`, `medium`, `high`, `critical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// A control point a rule runs in (an entry of its `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// `admission`: the validating webhook evaluates it on admission requests.
    Admission,
    /// `audit`: the audit evaluates it on the objects in the cluster, into PolicyReports.
    Audit,
}

impl Mode {
    fn all() -> Vec<Mode> {
        vec![Mode::Admission, Mode::Audit]
    }
}

/// The admission verdict of a violation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum EnforcementAction {
    /// `deny` (the default): the request is denied.
    #[default]
    Deny,
    /// `warn`: the request is admitted with a warning shown to the client.
    Warn,
    /// `dryrun`: the request is admitted silently; the violation is only counted and reported.
    Dryrun,
}

/// What an evaluation *error* means at admission.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub enum FailurePolicy {
    /// `Ignore` (the default): the error is recorded, and the request admitted.
    #[default]
    Ignore,
    /// `Fail`: the error counts as a violation, enforced by the rule's `enforcementAction`.
    Fail,
}

/// An admission operation, as in an AdmissionReview's `request.operation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum Operation {
    /// `CREATE`: an object is created.
    Create,
    /// `UPDATE`: an object is changed.
    Update,
    /// `DELETE`: an object is deleted.
    Delete,
    /// `CONNECT`: a connect request to a subresource, e.g. `pods/exec` or `pods/portforward`.
    Connect,
}

impl Operation {
    /// The operation as Kubernetes names it: `CREATE`, `UPDATE`, `DELETE`, `CONNECT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which objects a rule applies to (`match`) or is carved out from (`exclude`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MatchSpec {
    /// Group/version/kind patterns; required and non-empty in `match`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gvk: Vec<GroupVersionKind>,
    /// Namespace names (globs with `*`) to include or exclude.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<NamespaceFilter>,
    /// A label selector on the object's Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// A label selector on the object itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_selector: Option<LabelSelector>,
    /// Admission operations; `match` defaults to CREATE and UPDATE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations: Option<Vec<Operation>>,
    /// Subresources the rule is also evaluated on at admission, e.g. `status` (`*` for all).
    /// Requests for the object itself, and for `ephemeralcontainers` and `scale` (evaluated as
    /// the scaled object), are always evaluated; requests for other subresources only when a rule
    /// lists them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subresources: Vec<String>,
    /// Also evaluate UPDATEs of objects being deleted (with a `deletionTimestamp`), such as the
    /// removal of a finalizer. Default: false, so a violating object can always finish deleting.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub terminating: bool,
}

/// A group/version/kind pattern. `group: ""` is the core group; `kind: "*"` and
/// `version: "*"` (the default) match any.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct GroupVersionKind {
    /// API group; "" is the core group, "*" any group.
    pub group: String,
    /// API version; "*" (the default) matches any.
    #[serde(default = "any")]
    pub version: String,
    /// Kind, e.g. Pod; "*" matches every kind of the group.
    pub kind: String,
}

fn any() -> String {
    "*".to_owned()
}

/// Namespace names to include or exclude; `*` is a glob.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NamespaceFilter {
    /// Only these namespaces (globs); empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Never these namespaces (globs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

/// A Kubernetes label selector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    /// Labels that must have exactly these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Requirements that must all hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One label requirement, as in Kubernetes label selectors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LabelSelectorRequirement {
    /// The label key.
    pub key: String,
    /// In, NotIn, Exists or DoesNotExist.
    pub operator: SelectorOperator,
    /// Values for In and NotIn; empty for Exists and DoesNotExist.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// How a label requirement tests its key, as in Kubernetes label selectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
pub enum SelectorOperator {
    /// The label is set to one of `values`.
    In,
    /// The label is absent, or set to none of `values`.
    NotIn,
    /// The label is set, to any value.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

/// A response action (SPEC §8). Type-specific parameters sit beside `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schemars", schemars(extend("x-kubernetes-preserve-unknown-fields" = true)))]
#[serde(rename_all = "camelCase")]
pub struct ActionSpec {
    /// alertmanager, label, annotate, evict, patch-networkpolicy or revoke-sa-token.
    #[serde(rename = "type")]
    pub action_type: ActionType,
    /// Which control points trigger it: admission, audit, network; default all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<Vec<ActionTrigger>>,
    /// `N/unit` with unit `s`, `m` or `h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<String>,
    /// Type-specific parameters, beside `type`.
    #[serde(flatten)]
    #[cfg_attr(feature = "schemars", schemars(skip))]
    pub parameters: BTreeMap<String, serde_json::Value>,
}

/// What a response action does (its `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ActionType {
    /// `alertmanager`: send an alert while the violation lasts, and resolve it when it clears.
    Alertmanager,
    /// `label`: server-side apply labels to the object.
    Label,
    /// `annotate`: server-side apply annotations to the object.
    Annotate,
    /// `evict`: evict the Pod through the Eviction API.
    Evict,
    /// `patch-networkpolicy`: server-side apply a NetworkPolicy in the object's namespace.
    PatchNetworkpolicy,
    /// `revoke-sa-token`: revoke the credentials of the object's ServiceAccount.
    RevokeSaToken,
}

/// A control point that can trigger a response action (an entry of `on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ActionTrigger {
    /// `admission`: a violation found on an admission request.
    Admission,
    /// `audit`: a violation found by the audit of the objects in the cluster.
    Audit,
    /// `network`: a finding of the NetworkPolicy checks, for their own actions.
    Network,
}

/// A problem found by [`RuleSpec::validate`]: the field path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecProblem {
    /// The field at fault, e.g. `match.gvk[0].kind` or `actions[1].labels`.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl RuleSpec {
    /// Checks what deserialisation cannot; returns every problem found, in field order.
    pub fn validate(&self) -> Vec<SpecProblem> {
        let mut problems = Vec::new();
        let mut problem = |path: String, message: String| problems.push(SpecProblem { path, message });
        match &self.name {
            None => problem("name".into(), "is required (or set metadata.name)".into()),
            Some(name) if !is_rule_name(name) => problem(
                "name".into(),
                format!(
                    "{name:?} is not a valid rule name: use 1-253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
                ),
            ),
            Some(_) => {}
        }
        if self.mode.is_empty() {
            problem("mode".into(), "must list at least one of: admission, audit".into());
        }
        if self.match_spec.gvk.is_empty() {
            problem(
                "match.gvk".into(),
                "must list at least one {group, version, kind}; use kind: \"*\" to match every kind of a group".into(),
            );
        }
        if self.rule.trim().is_empty() {
            problem("rule".into(), "must be a non-empty CEL expression".into());
        }
        if let Some(message) = &self.message
            && message.trim().is_empty()
        {
            problem("message".into(), "must not be empty when set".into());
        }
        validate_match(&self.match_spec, "match", Widening::Allowed, &mut problem);
        if let Some(exclude) = &self.exclude {
            validate_match(
                exclude,
                "exclude",
                Widening::Refused("is only allowed in match: it widens what a rule is evaluated on"),
                &mut problem,
            );
        }
        if let Some(alert) = &self.alert
            && alert.trim().is_empty()
        {
            problem("alert".into(), "must not be empty when set".into());
        }
        problems
    }
}

/// Whether a `match` shape may set the fields that widen what a rule is evaluated on
/// (`subresources`, `terminating`), and if not, why.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Widening {
    Allowed,
    Refused(&'static str),
}

pub(crate) fn validate_match(
    spec: &MatchSpec,
    prefix: &str,
    widening: Widening,
    problem: &mut impl FnMut(String, String),
) {
    for (index, gvk) in spec.gvk.iter().enumerate() {
        if gvk.kind.is_empty() {
            problem(format!("{prefix}.gvk[{index}].kind"), "must not be empty; use \"*\" for any kind".into());
        }
        if gvk.version.is_empty() {
            problem(format!("{prefix}.gvk[{index}].version"), "must not be empty; use \"*\" for any version".into());
        }
    }
    let selectors = [("namespaceSelector", &spec.namespace_selector), ("objectSelector", &spec.object_selector)];
    for (field, selector) in selectors {
        let Some(selector) = selector else { continue };
        for (index, requirement) in selector.match_expressions.iter().enumerate() {
            let path = format!("{prefix}.{field}.matchExpressions[{index}].values");
            match requirement.operator {
                SelectorOperator::In | SelectorOperator::NotIn if requirement.values.is_empty() => {
                    problem(path, "must not be empty for operator In or NotIn".into())
                }
                SelectorOperator::Exists | SelectorOperator::DoesNotExist if !requirement.values.is_empty() => {
                    problem(path, "must be empty for operator Exists or DoesNotExist".into())
                }
                _ => {}
            }
        }
    }
    if let Some(operations) = &spec.operations
        && operations.is_empty()
    {
        problem(
            format!("{prefix}.operations"),
            "must list at least one of CREATE, UPDATE, DELETE, CONNECT when set".into(),
        );
    }
    if let Widening::Refused(why) = widening
        && (!spec.subresources.is_empty() || spec.terminating)
    {
        problem(format!("{prefix}.{}", if spec.terminating { "terminating" } else { "subresources" }), why.into());
    }
    for (index, subresource) in spec.subresources.iter().enumerate() {
        let valid =
            subresource == "*" || (!subresource.is_empty() && subresource.bytes().all(|b| b.is_ascii_lowercase()));
        if !valid {
            problem(
                format!("{prefix}.subresources[{index}]"),
                format!("{subresource:?} is not a subresource name: expected lowercase letters, e.g. status, or \"*\""),
            );
        }
    }
}

/// A DNS-subdomain-like name, as Kubernetes object names are.
pub(crate) fn is_rule_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge_ok = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.len() <= 253
        && bytes.first().is_some_and(edge_ok)
        && bytes.last().is_some_and(edge_ok)
        && bytes.iter().all(|b| edge_ok(b) || *b == b'-' || *b == b'.')
}

/// Parses `N/unit` into (count, seconds per window).
pub(crate) fn parse_rate_limit(text: &str) -> Option<(u32, u64)> {
    let (count, unit) = text.split_once('/')?;
    let count: u32 = count.trim().parse().ok().filter(|n| *n > 0)?;
    let seconds = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return None,
    };
    Some((count, seconds))
}
