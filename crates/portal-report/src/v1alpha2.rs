//! `PolicyReport` (namespaced) and `ClusterPolicyReport` (cluster-scoped), `wgpolicyk8s.io/v1alpha2`:
//! the Policy WG's report resources, typed after the published CRD schema
//! (kubernetes-sigs/wg-policy-prototypes, `policy-report/crd/v1alpha2`).
//!
//! These resources have no `spec` or `status`: `scope`, `scopeSelector`, `summary` and `results`
//! sit at the top level beside `metadata`. Both kinds share one body; they differ only in kind,
//! plural and scope. Each implements `kube::Resource` (from `kube-core`), so
//! `kube::Api<PolicyReport>` and `kube::Api<ClusterPolicyReport>` work as for any built-in type.
//!
//! One JSON name differs from the Go field it comes from: a result's `subjects` (Go `Subjects`)
//! is `resources` on the wire, and that is the name used here.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The API group of both report kinds.
pub const GROUP: &str = "wgpolicyk8s.io";
/// The API version (within [`GROUP`]) these types describe.
pub const VERSION: &str = "v1alpha2";
/// `apiVersion` of both report kinds: `wgpolicyk8s.io/v1alpha2`.
pub const API_VERSION: &str = "wgpolicyk8s.io/v1alpha2";

/// A namespaced policy report: the results of policies for objects in its namespace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicyReport {
    /// Standard object metadata; `namespace` is the report's namespace.
    pub metadata: ObjectMeta,
    /// The object the report is about (e.g. a Deployment, Namespace or Node), if there is one.
    pub scope: Option<ObjectReference>,
    /// Selects the objects the report is about when it covers several (e.g. Pods).
    /// Set at most one of `scope` and `scope_selector`.
    pub scope_selector: Option<LabelSelector>,
    /// Counts of the results by outcome.
    pub summary: PolicyReportSummary,
    /// One entry per policy (rule) outcome.
    pub results: Vec<PolicyReportResult>,
}

/// A cluster-scoped policy report: the results of policies for cluster-scoped objects, or for
/// the cluster as a whole.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterPolicyReport {
    /// Standard object metadata (no namespace).
    pub metadata: ObjectMeta,
    /// The object the report is about (e.g. a Namespace or Node), if there is one.
    pub scope: Option<ObjectReference>,
    /// Selects the objects the report is about when it covers several.
    /// Set at most one of `scope` and `scope_selector`.
    pub scope_selector: Option<LabelSelector>,
    /// Counts of the results by outcome.
    pub summary: PolicyReportSummary,
    /// One entry per policy (rule) outcome.
    pub results: Vec<PolicyReportResult>,
}

/// How many results a report holds of each outcome. All five counts are always written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct PolicyReportSummary {
    /// Policies whose requirements were met.
    #[serde(default)]
    pub pass: i64,
    /// Policies whose requirements were not met.
    #[serde(default)]
    pub fail: i64,
    /// Non-scored policies whose requirements were not met.
    #[serde(default)]
    pub warn: i64,
    /// Policies that could not be evaluated.
    #[serde(default)]
    pub error: i64,
    /// Policies that were not selected for evaluation.
    #[serde(default)]
    pub skip: i64,
}

/// The outcome of one policy (rule) for the report's scope or its subjects.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyReportResult {
    /// The policy engine that produced the result (Portal writes `portal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Name or identifier of the policy. The only field the schema requires.
    pub policy: String,
    /// Name or identifier of the rule within the policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The policy's category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// How critical a failure of the policy is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<PolicyResultSeverity>,
    /// When the result was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Timestamp>,
    /// What evaluating the policy came to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<PolicyResult>,
    /// Whether the result counts towards a score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scored: Option<bool>,
    /// The objects that were checked; `resources` on the wire. When neither this nor
    /// `resource_selector` is set, the result is about the report's scope.
    #[serde(rename = "resources", default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<ObjectReference>,
    /// Selects the checked objects by label, instead of naming them in `subjects`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_selector: Option<LabelSelector>,
    /// A short, human-readable message about the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Further details about the result, such as the container it concerns.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub properties: BTreeMap<String, String>,
}

/// What evaluating a policy came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyResult {
    /// The policy's requirements are met.
    Pass,
    /// The policy's requirements are not met.
    Fail,
    /// The policy's requirements are not met, and the policy is not scored.
    Warn,
    /// The policy could not be evaluated.
    Error,
    /// The policy was not selected, by user choice or because it does not apply.
    Skip,
}

/// How critical a policy's failure is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyResultSeverity {
    /// Critical.
    Critical,
    /// High.
    High,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// Informational only.
    Info,
}

/// A point in time as seconds and nanoseconds since the Unix epoch (protobuf `Timestamp`, Go
/// `metav1.Timestamp`). The schema requires both fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
pub struct Timestamp {
    /// Whole seconds since 1970-01-01T00:00:00Z.
    pub seconds: i64,
    /// Non-negative fraction of a second, in nanoseconds (0 to 999,999,999).
    pub nanos: i32,
}

/// The wire form of either report kind, borrowed for serialisation: `apiVersion` and `kind`
/// come from the type, the rest from its fields.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportOut<'a> {
    api_version: &'a str,
    kind: &'a str,
    metadata: &'a ObjectMeta,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a ObjectReference>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope_selector: Option<&'a LabelSelector>,
    summary: &'a PolicyReportSummary,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    results: &'a [PolicyReportResult],
}

/// The wire form of either report kind as read. Unknown fields are ignored; `apiVersion` and
/// `kind` are checked against the target type when present.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReportIn {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    scope: Option<ObjectReference>,
    #[serde(default)]
    scope_selector: Option<LabelSelector>,
    #[serde(default)]
    summary: PolicyReportSummary,
    #[serde(default)]
    results: Vec<PolicyReportResult>,
}

impl ReportIn {
    /// Fails when `apiVersion` or `kind` is present and names another type than `kind`.
    fn check_type<E: serde::de::Error>(&self, kind: &str) -> Result<(), E> {
        if let Some(api_version) = self.api_version.as_deref().filter(|v| *v != API_VERSION) {
            return Err(E::custom(format!("expected apiVersion {API_VERSION} for {kind}, found {api_version}")));
        }
        if let Some(found) = self.kind.as_deref().filter(|k| k != &kind) {
            return Err(E::custom(format!("expected kind {kind}, found {found}")));
        }
        Ok(())
    }
}

/// `kube::Resource` and serde for one report kind; the two kinds share their fields.
macro_rules! report_kind {
    ($ty:ident, $kind:literal, $plural:literal, $scope:ty) => {
        impl kube_core::Resource for $ty {
            type DynamicType = ();
            type Scope = $scope;

            fn kind(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($kind)
            }

            fn group(_: &()) -> Cow<'_, str> {
                Cow::Borrowed(GROUP)
            }

            fn version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed(VERSION)
            }

            fn api_version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed(API_VERSION)
            }

            fn plural(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($plural)
            }

            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }

            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                ReportOut {
                    api_version: API_VERSION,
                    kind: $kind,
                    metadata: &self.metadata,
                    scope: self.scope.as_ref(),
                    scope_selector: self.scope_selector.as_ref(),
                    summary: &self.summary,
                    results: &self.results,
                }
                .serialize(serializer)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let wire = ReportIn::deserialize(deserializer)?;
                wire.check_type::<D::Error>($kind)?;
                Ok(Self {
                    metadata: wire.metadata,
                    scope: wire.scope,
                    scope_selector: wire.scope_selector,
                    summary: wire.summary,
                    results: wire.results,
                })
            }
        }
    };
}

report_kind!(PolicyReport, "PolicyReport", "policyreports", NamespaceResourceScope);
report_kind!(ClusterPolicyReport, "ClusterPolicyReport", "clusterpolicyreports", ClusterResourceScope);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
    use kube_core::Resource;
    use serde_json::{Value as Json, json};

    use super::*;

    fn reference(kind: &str, name: &str) -> ObjectReference {
        ObjectReference {
            api_version: Some("v1".into()),
            kind: Some(kind.into()),
            name: Some(name.into()),
            namespace: Some("shop".into()),
            uid: Some(format!("uid-{name}")),
            resource_version: Some("42".into()),
            field_path: Some("spec.containers{app}".into()),
        }
    }

    fn selector() -> LabelSelector {
        LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["web".into()]),
            }]),
            match_labels: Some(BTreeMap::from([("app".into(), "shop".into())])),
        }
    }

    fn full_result() -> PolicyReportResult {
        PolicyReportResult {
            source: Some("portal".into()),
            policy: "no-privileged-containers".into(),
            rule: Some("privileged".into()),
            category: Some("Pod Security".into()),
            severity: Some(PolicyResultSeverity::Critical),
            timestamp: Some(Timestamp { seconds: 1_700_000_000, nanos: 5 }),
            result: Some(PolicyResult::Fail),
            scored: Some(true),
            subjects: vec![reference("Pod", "debug-shell")],
            resource_selector: Some(selector()),
            message: Some("container app runs privileged".into()),
            properties: BTreeMap::from([("container".into(), "app".into())]),
        }
    }

    fn full_result_json() -> Json {
        json!({
            "source": "portal",
            "policy": "no-privileged-containers",
            "rule": "privileged",
            "category": "Pod Security",
            "severity": "critical",
            "timestamp": {"seconds": 1_700_000_000, "nanos": 5},
            "result": "fail",
            "scored": true,
            "resources": [{
                "apiVersion": "v1",
                "kind": "Pod",
                "name": "debug-shell",
                "namespace": "shop",
                "uid": "uid-debug-shell",
                "resourceVersion": "42",
                "fieldPath": "spec.containers{app}",
            }],
            "resourceSelector": {
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}],
                "matchLabels": {"app": "shop"},
            },
            "message": "container app runs privileged",
            "properties": {"container": "app"},
        })
    }

    #[test]
    fn policy_report_with_every_field_round_trips() {
        let report = PolicyReport {
            metadata: ObjectMeta {
                name: Some("portal-pod-debug-shell".into()),
                namespace: Some("shop".into()),
                ..ObjectMeta::default()
            },
            scope: Some(reference("Pod", "debug-shell")),
            scope_selector: Some(selector()),
            summary: PolicyReportSummary { pass: 1, fail: 2, warn: 3, error: 4, skip: 5 },
            results: vec![full_result()],
        };
        let expected = json!({
            "apiVersion": "wgpolicyk8s.io/v1alpha2",
            "kind": "PolicyReport",
            "metadata": {"name": "portal-pod-debug-shell", "namespace": "shop"},
            "scope": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": "debug-shell",
                "namespace": "shop",
                "uid": "uid-debug-shell",
                "resourceVersion": "42",
                "fieldPath": "spec.containers{app}",
            },
            "scopeSelector": {
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}],
                "matchLabels": {"app": "shop"},
            },
            "summary": {"pass": 1, "fail": 2, "warn": 3, "error": 4, "skip": 5},
            "results": [full_result_json()],
        });
        assert_eq!(serde_json::to_value(&report).unwrap(), expected);
        assert_eq!(serde_json::from_value::<PolicyReport>(expected).unwrap(), report);
    }

    #[test]
    fn cluster_policy_report_with_every_field_round_trips() {
        let report = ClusterPolicyReport {
            metadata: ObjectMeta { name: Some("portal-namespace-shop".into()), ..ObjectMeta::default() },
            scope: Some(ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Namespace".into()),
                name: Some("shop".into()),
                ..ObjectReference::default()
            }),
            scope_selector: Some(selector()),
            summary: PolicyReportSummary { pass: 0, fail: 1, warn: 0, error: 0, skip: 0 },
            results: vec![full_result()],
        };
        let expected = json!({
            "apiVersion": "wgpolicyk8s.io/v1alpha2",
            "kind": "ClusterPolicyReport",
            "metadata": {"name": "portal-namespace-shop"},
            "scope": {"apiVersion": "v1", "kind": "Namespace", "name": "shop"},
            "scopeSelector": {
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}],
                "matchLabels": {"app": "shop"},
            },
            "summary": {"pass": 0, "fail": 1, "warn": 0, "error": 0, "skip": 0},
            "results": [full_result_json()],
        });
        assert_eq!(serde_json::to_value(&report).unwrap(), expected);
        assert_eq!(serde_json::from_value::<ClusterPolicyReport>(expected).unwrap(), report);
    }

    #[test]
    fn empty_fields_are_left_out_but_summary_is_always_written() {
        let report = PolicyReport {
            results: vec![PolicyReportResult { policy: "p".into(), ..PolicyReportResult::default() }],
            ..PolicyReport::default()
        };
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            json!({
                "apiVersion": "wgpolicyk8s.io/v1alpha2",
                "kind": "PolicyReport",
                "metadata": {},
                "summary": {"pass": 0, "fail": 0, "warn": 0, "error": 0, "skip": 0},
                "results": [{"policy": "p"}],
            })
        );
        let bare = serde_json::to_value(PolicyReport::default()).unwrap();
        assert!(bare.get("results").is_none(), "{bare}");
    }

    #[test]
    fn every_enum_value_uses_the_schema_spelling() {
        let results = [
            (PolicyResult::Pass, "pass"),
            (PolicyResult::Fail, "fail"),
            (PolicyResult::Warn, "warn"),
            (PolicyResult::Error, "error"),
            (PolicyResult::Skip, "skip"),
        ];
        for (value, text) in results {
            assert_eq!(serde_json::to_value(value).unwrap(), json!(text));
            assert_eq!(serde_json::from_value::<PolicyResult>(json!(text)).unwrap(), value);
        }
        let severities = [
            (PolicyResultSeverity::Critical, "critical"),
            (PolicyResultSeverity::High, "high"),
            (PolicyResultSeverity::Low, "low"),
            (PolicyResultSeverity::Medium, "medium"),
            (PolicyResultSeverity::Info, "info"),
        ];
        for (value, text) in severities {
            assert_eq!(serde_json::to_value(value).unwrap(), json!(text));
            assert_eq!(serde_json::from_value::<PolicyResultSeverity>(json!(text)).unwrap(), value);
        }
        assert!(serde_json::from_value::<PolicyResult>(json!("maybe")).is_err());
    }

    #[test]
    fn the_other_kind_or_version_is_rejected() {
        let cluster = json!({"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "ClusterPolicyReport", "metadata": {}});
        assert!(serde_json::from_value::<PolicyReport>(cluster.clone()).is_err());
        assert!(serde_json::from_value::<ClusterPolicyReport>(cluster).is_ok());
        let beta = json!({"apiVersion": "wgpolicyk8s.io/v1beta1", "kind": "PolicyReport", "metadata": {}});
        assert!(serde_json::from_value::<PolicyReport>(beta).is_err());
    }

    #[test]
    fn resource_impl_names_the_v1alpha2_resources() {
        assert_eq!(PolicyReport::group(&()), "wgpolicyk8s.io");
        assert_eq!(PolicyReport::version(&()), "v1alpha2");
        assert_eq!(PolicyReport::api_version(&()), "wgpolicyk8s.io/v1alpha2");
        assert_eq!(PolicyReport::kind(&()), "PolicyReport");
        assert_eq!(PolicyReport::plural(&()), "policyreports");
        assert_eq!(
            PolicyReport::url_path(&(), Some("ns")),
            "/apis/wgpolicyk8s.io/v1alpha2/namespaces/ns/policyreports"
        );
        assert_eq!(PolicyReport::url_path(&(), None), "/apis/wgpolicyk8s.io/v1alpha2/policyreports");

        assert_eq!(ClusterPolicyReport::api_version(&()), "wgpolicyk8s.io/v1alpha2");
        assert_eq!(ClusterPolicyReport::kind(&()), "ClusterPolicyReport");
        assert_eq!(ClusterPolicyReport::plural(&()), "clusterpolicyreports");
        assert_eq!(ClusterPolicyReport::url_path(&(), None), "/apis/wgpolicyk8s.io/v1alpha2/clusterpolicyreports");

        let mut report = PolicyReport::default();
        report.meta_mut().name = Some("r".into());
        let reference = report.object_ref(&());
        assert_eq!(reference.api_version.as_deref(), Some(API_VERSION));
        assert_eq!(reference.kind.as_deref(), Some("PolicyReport"));
        assert_eq!(reference.name.as_deref(), Some("r"));
    }
}
