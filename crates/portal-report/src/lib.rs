//! Policy reports: the `wgpolicyk8s.io/v1alpha2` resources ([`v1alpha2`]) and the mapping from
//! Portal's rule results to them ([`object_report`]). One report per evaluated object, one
//! result per (rule, container), as `portal check --output policy-report` prints them and as the
//! audit writes them.
//!
//! The same reports can be written in the successor API, `openreports.io/v1alpha1`
//! (`Report`/`ClusterReport`), whose body is the same: [`ReportApi`] says which.
//!
//! Pure: types and functions only, no client and no I/O.

#![warn(missing_docs)]

mod api;
mod results;
pub mod v1alpha2;

pub use api::{ReportApi, ReportKind};
pub use results::{EXCEPTION_PROPERTY, MANAGED_BY_LABEL, Report, RuleFindings, SOURCE, object_report, report_name};
pub use v1alpha2::{
    ClusterPolicyReport, PolicyReport, PolicyReportResult, PolicyReportSummary, PolicyResult, PolicyResultSeverity,
    Timestamp,
};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
