//! The two report APIs a report can be written in. Their bodies are the same (`scope`,
//! `summary`, `results` beside `metadata`, results with the same fields); they differ in group,
//! version, kinds and plurals, and `openreports.io` adds a report-level `source`.

use serde_json::Value as Json;

use crate::results::{Report, SOURCE};
use crate::v1alpha2;

/// Which API reports are written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ReportApi {
    /// `wgpolicyk8s.io/v1alpha2` (`PolicyReport`, `ClusterPolicyReport`): the Policy Working
    /// Group's API, which every report tool reads.
    #[default]
    PolicyWg,
    /// `openreports.io/v1alpha1` (`Report`, `ClusterReport`): its successor, which Kyverno 1.15+
    /// and policy-reporter 3 read.
    OpenReports,
}

/// One report kind of one API: what a client needs to address it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportKind {
    /// The API group: `wgpolicyk8s.io` or `openreports.io`.
    pub group: &'static str,
    /// The version within the group: `v1alpha2` or `v1alpha1`.
    pub version: &'static str,
    /// `apiVersion`: the group and version, as `wgpolicyk8s.io/v1alpha2`.
    pub api_version: &'static str,
    /// `kind`: `PolicyReport`, `ClusterPolicyReport`, `Report` or `ClusterReport`.
    pub kind: &'static str,
    /// The resource name in API paths, as `policyreports`.
    pub plural: &'static str,
    /// Whether reports of this kind live in a namespace (reports on namespaced objects).
    pub namespaced: bool,
}

impl ReportApi {
    /// Both APIs, in the order of preference.
    pub const ALL: [ReportApi; 2] = [ReportApi::PolicyWg, ReportApi::OpenReports];

    /// `apiVersion` of both of its kinds, which is also how the configuration names it.
    pub fn api_version(self) -> &'static str {
        match self {
            ReportApi::PolicyWg => v1alpha2::API_VERSION,
            ReportApi::OpenReports => "openreports.io/v1alpha1",
        }
    }

    /// The kind of report on a namespaced object (`namespaced`) or a cluster-scoped one.
    pub fn kind(self, namespaced: bool) -> ReportKind {
        let (group, version, kind, plural) = match (self, namespaced) {
            (ReportApi::PolicyWg, true) => (v1alpha2::GROUP, v1alpha2::VERSION, "PolicyReport", "policyreports"),
            (ReportApi::PolicyWg, false) => {
                (v1alpha2::GROUP, v1alpha2::VERSION, "ClusterPolicyReport", "clusterpolicyreports")
            }
            (ReportApi::OpenReports, true) => ("openreports.io", "v1alpha1", "Report", "reports"),
            (ReportApi::OpenReports, false) => ("openreports.io", "v1alpha1", "ClusterReport", "clusterreports"),
        };
        ReportKind { group, version, api_version: self.api_version(), kind, plural, namespaced }
    }

    /// `report` as a body of this API.
    pub fn body(self, report: &Report) -> Json {
        let namespaced = matches!(report, Report::Namespaced(_));
        // Serialising plain data into a `Value` cannot fail.
        let mut body = serde_json::to_value(report).unwrap_or(Json::Null);
        if self == ReportApi::OpenReports
            && let Some(fields) = body.as_object_mut()
        {
            let kind = self.kind(namespaced);
            fields.insert("apiVersion".to_owned(), Json::String(kind.api_version.to_owned()));
            fields.insert("kind".to_owned(), Json::String(kind.kind.to_owned()));
            fields.insert("source".to_owned(), Json::String(SOURCE.to_owned()));
        }
        body
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::{ClusterPolicyReport, PolicyReport};

    #[test]
    fn the_policy_wg_body_is_the_report_as_serialised() {
        let report = Report::Namespaced(PolicyReport::default());
        let body = ReportApi::PolicyWg.body(&report);
        assert_eq!(body, serde_json::to_value(&report).unwrap());
        assert_eq!(body["apiVersion"], "wgpolicyk8s.io/v1alpha2");
        assert_eq!(body["kind"], "PolicyReport");
    }

    #[test]
    fn the_open_reports_body_has_its_kinds_and_a_source() {
        let body = ReportApi::OpenReports.body(&Report::Cluster(ClusterPolicyReport::default()));
        assert_eq!(body["apiVersion"], "openreports.io/v1alpha1");
        assert_eq!(body["kind"], "ClusterReport");
        assert_eq!(body["source"], "portal");
        let kind = ReportApi::OpenReports.kind(true);
        assert_eq!((kind.group, kind.kind, kind.plural), ("openreports.io", "Report", "reports"));
    }
}
