//! The audit's metrics: what it evaluated and found, how far behind it is, and what it wrote.

use std::time::Duration;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts};

use crate::definitions::{Definitions, RULE};
use crate::error::Result;

pub(crate) const AUDIT_EVALUATIONS: &str = "portal_audit_evaluations_total";
pub(crate) const AUDIT_VIOLATIONS: &str = "portal_audit_violations_total";
pub(crate) const AUDIT_QUEUE_DEPTH: &str = "portal_audit_queue_depth";
pub(crate) const AUDIT_OBJECTS: &str = "portal_audit_objects";
pub(crate) const AUDIT_REPORT_LATENCY: &str = "portal_audit_report_latency_seconds";
pub(crate) const AUDIT_REPORT_WRITES: &str = "portal_audit_report_writes_total";
pub(crate) const AUDIT_WATCH_RESTARTS: &str = "portal_audit_watch_restarts_total";

pub(crate) const SEVERITY: &str = "severity";
pub(crate) const KIND: &str = "kind";
pub(crate) const RESULT: &str = "result";

/// Values of the `severity` label, as rules declare them.
pub(crate) const SEVERITIES: [&str; 5] = ["info", "low", "medium", "high", "critical"];

/// From 5 ms (an object evaluated and found unchanged) to 1 min (a backlog after start-up).
pub(crate) const REPORT_LATENCY_BUCKETS: [f64; 12] =
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0];

/// What happened to a report after an evaluation: the `result` label of
/// `portal_audit_report_writes_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportWriteResult {
    /// A new report was written.
    Created,
    /// The report's results changed and it was rewritten.
    Updated,
    /// The results were what the report already held: nothing was written.
    Unchanged,
    /// The object is gone, or no rule matches it any more: its report was deleted.
    Deleted,
}

impl ReportWriteResult {
    /// Every result, in the order the docs list them.
    pub const ALL: [ReportWriteResult; 4] = [
        ReportWriteResult::Created,
        ReportWriteResult::Updated,
        ReportWriteResult::Unchanged,
        ReportWriteResult::Deleted,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportWriteResult::Created => "created",
            ReportWriteResult::Updated => "updated",
            ReportWriteResult::Unchanged => "unchanged",
            ReportWriteResult::Deleted => "deleted",
        }
    }

    /// What the result means, for docs/metrics.md.
    pub(crate) fn meaning(self) -> &'static str {
        match self {
            ReportWriteResult::Created => "a new report was written",
            ReportWriteResult::Updated => "the report's results changed and it was rewritten",
            ReportWriteResult::Unchanged => "the results were what the report already held: nothing was written",
            ReportWriteResult::Deleted => "the object is gone, or no rule matches it any more: its report was deleted",
        }
    }
}

/// The audit's series.
#[derive(Debug, Clone)]
pub(crate) struct AuditMetrics {
    evaluations: IntCounterVec,
    violations: IntCounterVec,
    queue_depth: IntGaugeVec,
    objects: IntGaugeVec,
    report_latency: HistogramVec,
    report_writes: IntCounterVec,
    watch_restarts: IntCounterVec,
}

impl AuditMetrics {
    pub(crate) fn define(definitions: &mut Definitions) -> Result<AuditMetrics> {
        let counter = |name, help, labels: &[&str]| IntCounterVec::new(Opts::new(name, help), labels);
        let gauge = |name, help, labels: &[&str]| IntGaugeVec::new(Opts::new(name, help), labels);
        let metrics = AuditMetrics {
            evaluations: definitions.define(
                AUDIT_EVALUATIONS,
                counter(AUDIT_EVALUATIONS, "Evaluations of a rule on an object by the audit, by rule.", &[RULE]),
            )?,
            violations: definitions.define(
                AUDIT_VIOLATIONS,
                counter(
                    AUDIT_VIOLATIONS,
                    "Violations the audit found (one per object and container), by rule and severity.",
                    &[RULE, SEVERITY],
                ),
            )?,
            queue_depth: definitions.define(
                AUDIT_QUEUE_DEPTH,
                gauge(AUDIT_QUEUE_DEPTH, "Objects waiting to be evaluated by the audit.", &[]),
            )?,
            objects: definitions.define(
                AUDIT_OBJECTS,
                gauge(AUDIT_OBJECTS, "Objects the audit holds in its watch caches, by kind.", &[KIND]),
            )?,
            report_latency: definitions.define(
                AUDIT_REPORT_LATENCY,
                HistogramVec::new(
                    HistogramOpts::new(
                        AUDIT_REPORT_LATENCY,
                        "Time from the audit seeing an object change (or the rules change) to its report being \
                         written or found unchanged, in seconds.",
                    )
                    .buckets(REPORT_LATENCY_BUCKETS.to_vec()),
                    &[],
                ),
            )?,
            report_writes: definitions.define(
                AUDIT_REPORT_WRITES,
                counter(
                    AUDIT_REPORT_WRITES,
                    "What became of a report after an evaluation: created, updated, unchanged (nothing written) or \
                     deleted.",
                    &[RESULT],
                ),
            )?,
            watch_restarts: definitions.define(
                AUDIT_WATCH_RESTARTS,
                counter(
                    AUDIT_WATCH_RESTARTS,
                    "Times a watch of the audit failed and was restarted (with backoff), by kind.",
                    &[KIND],
                ),
            )?,
        };
        for result in ReportWriteResult::ALL {
            metrics.report_writes.with_label_values(&[result.as_str()]).inc_by(0);
        }
        Ok(metrics)
    }

    pub(crate) fn evaluation(&self, rule: &str) {
        self.evaluations.with_label_values(&[rule]).inc();
    }

    pub(crate) fn violations(&self, rule: &str, severity: &str, count: u64) {
        self.violations.with_label_values(&[rule, severity]).inc_by(count);
    }

    pub(crate) fn set_queue_depth(&self, depth: usize) {
        self.queue_depth.with_label_values::<&str>(&[]).set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    pub(crate) fn set_objects(&self, kind: &str, count: usize) {
        self.objects.with_label_values(&[kind]).set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    pub(crate) fn forget_kind(&self, kind: &str) {
        // An error only says that the kind had no series.
        let _ = self.objects.remove_label_values(&[kind]);
        let _ = self.watch_restarts.remove_label_values(&[kind]);
    }

    pub(crate) fn report_written(&self, result: ReportWriteResult, latency: Duration) {
        self.report_writes.with_label_values(&[result.as_str()]).inc();
        self.report_latency.with_label_values::<&str>(&[]).observe(latency.as_secs_f64());
    }

    pub(crate) fn watch_restart(&self, kind: &str) {
        self.watch_restarts.with_label_values(&[kind]).inc();
    }

    pub(crate) fn forget_rule(&self, rule: &str) {
        let _ = self.evaluations.remove_label_values(&[rule]);
        for severity in SEVERITIES {
            let _ = self.violations.remove_label_values(&[rule, severity]);
        }
    }
}
