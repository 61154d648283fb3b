//! The metric registry: every metric's definition and the typed methods that record into it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus::{
    GaugeVec, Histogram, HistogramOpts, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::actions::{ActionMetrics, ActionResult};
use crate::audit::AuditMetrics;
pub use crate::audit::ReportWriteResult;
use crate::definitions::Definitions;
pub(crate) use crate::definitions::{DECISION, NAMESPACE, RULE, STATE, VERSION};
use crate::error::Result;
use crate::exceptions::ExceptionMetrics;
use crate::lookups::LookupMetrics;
pub use crate::lookups::Reevaluation;
use crate::network::NetworkMetrics;

/// `Content-Type` of [`Metrics::encode`]'s output: the Prometheus text exposition format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(crate) const ADMISSION_REQUESTS: &str = "portal_admission_requests_total";
pub(crate) const ADMISSION_DURATION: &str = "portal_admission_duration_seconds";
pub(crate) const ADMISSION_BYPASSES: &str = "portal_admission_bypass_total";
pub(crate) const ADMISSION_DRYRUN_VIOLATIONS: &str = "portal_admission_dryrun_violations_total";
pub(crate) const RULE_EVALUATION_ERRORS: &str = "portal_rule_evaluation_errors_total";
pub(crate) const RULES_LOADED: &str = "portal_rules_loaded";
pub(crate) const CERTIFICATE_EXPIRY: &str = "portal_certificate_expiry_timestamp_seconds";
pub(crate) const LEADER: &str = "portal_leader";
pub(crate) const BUILD_INFO: &str = "portal_build_info";

/// From 100 µs (a trivial rule set) to 5 s (beyond the webhook's 3 s timeout, SPEC §4).
pub(crate) const ADMISSION_DURATION_BUCKETS: [f64; 15] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// Values of the `state` label of `portal_rules_loaded`, with their meaning (for the docs).
pub(crate) const RULE_STATES: [(&str, &str); 3] = [
    ("ready", "compiled and in the active rule set"),
    ("rejected", "failed validation or compilation (the other rules still load)"),
    ("disabled", "parked with `enabled: false`"),
];

/// The outcome of one admission request: the `decision` label of
/// `portal_admission_requests_total`. Every request is counted once, with exactly one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Admitted without warnings: no `deny` and no `warn` violation (`dryrun` violations may be
    /// present). Requests from a bypassed namespace count here too.
    Allowed,
    /// Refused: at least one `deny` violation, or an evaluation error in a rule with
    /// `failurePolicy: Fail`.
    Denied,
    /// Admitted with AdmissionResponse `warnings`: at least one `warn` violation and no reason
    /// to deny.
    Warned,
    /// Portal could not evaluate the request (a malformed AdmissionReview, or evaluation did not
    /// finish within Portal's deadline); the answer followed the configured failure policy and
    /// said why.
    Error,
}

impl Decision {
    /// Every decision, in the order the docs list them.
    pub const ALL: [Decision; 4] = [Decision::Allowed, Decision::Denied, Decision::Warned, Decision::Error];

    /// The label value: `allowed`, `denied`, `warned` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Denied => "denied",
            Decision::Warned => "warned",
            Decision::Error => "error",
        }
    }

    /// What the decision means, for docs/metrics.md (kept in step with the variants' docs).
    pub(crate) fn meaning(self) -> &'static str {
        match self {
            Decision::Allowed => {
                "admitted without warnings: no `deny` and no `warn` violation (`dryrun` violations may be \
                 present); requests from a bypassed namespace count here too"
            }
            Decision::Denied => {
                "refused: at least one `deny` violation, or an evaluation error in a rule with `failurePolicy: Fail`"
            }
            Decision::Warned => {
                "admitted with AdmissionResponse `warnings`: at least one `warn` violation and no reason to deny"
            }
            Decision::Error => {
                "Portal could not evaluate the request (a malformed AdmissionReview, or evaluation did not finish \
                 within Portal's deadline); the answer followed the configured failure policy and said why"
            }
        }
    }
}

/// Every metric Portal exposes, registered in a registry of its own.
///
/// Cloning is cheap and clones share the same series (the metrics are reference-counted), so
/// one `Metrics` built at start-up is handed to every component and to the `/metrics` handler.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub(crate) registry: Registry,
    /// Names in registration order, the order of docs/metrics.md.
    pub(crate) registered: Vec<&'static str>,
    admission_requests: IntCounterVec,
    admission_duration: Histogram,
    admission_bypasses: IntCounterVec,
    admission_dryrun_violations: IntCounterVec,
    rule_evaluation_errors: IntCounterVec,
    rules_loaded: IntGaugeVec,
    /// A vector without labels, so that the series is absent until a certificate is loaded
    /// (audit-only mode serves no TLS and must not export an expiry of 0).
    certificate_expiry: GaugeVec,
    /// Without labels, absent until an election runs.
    leader: IntGaugeVec,
    audit: AuditMetrics,
    lookups: LookupMetrics,
    network: NetworkMetrics,
    exceptions: ExceptionMetrics,
    actions: ActionMetrics,
}

impl Metrics {
    /// Creates every metric in a new registry. `portal_build_info` carries this crate's
    /// version, which is the workspace's (Portal's) version. The fixed label values
    /// (decisions, rule states) start at 0 so that `rate()` and alerts see them from the start.
    ///
    /// # Errors
    ///
    /// [`Error::DefineMetric`] if a metric is malformed or registered twice — a bug in this
    /// crate, which its tests catch.
    pub fn new() -> Result<Metrics> {
        let mut definitions = Definitions::default();
        let admission_requests = definitions.define(
            ADMISSION_REQUESTS,
            IntCounterVec::new(
                Opts::new(
                    ADMISSION_REQUESTS,
                    "Admission requests answered, by decision: allowed, denied, warned (allowed with warnings), \
                     or error (Portal could not evaluate; the failure policy answered).",
                ),
                &[DECISION],
            ),
        )?;
        let admission_duration = definitions.define(
            ADMISSION_DURATION,
            Histogram::with_opts(
                HistogramOpts::new(
                    ADMISSION_DURATION,
                    "Time from receiving an AdmissionReview to sending its response, in seconds.",
                )
                .buckets(ADMISSION_DURATION_BUCKETS.to_vec()),
            ),
        )?;
        let admission_bypasses = definitions.define(
            ADMISSION_BYPASSES,
            IntCounterVec::new(
                Opts::new(
                    ADMISSION_BYPASSES,
                    "Admission requests allowed without evaluation because their namespace is annotated \
                     portal.io/bypass=\"true\", by namespace.",
                ),
                &[NAMESPACE],
            ),
        )?;
        let admission_dryrun_violations = definitions.define(
            ADMISSION_DRYRUN_VIOLATIONS,
            IntCounterVec::new(
                Opts::new(
                    ADMISSION_DRYRUN_VIOLATIONS,
                    "Violations of dryrun rules at admission (the request is allowed silently; the violation is \
                     still reported), by rule.",
                ),
                &[RULE],
            ),
        )?;
        let rule_evaluation_errors = definitions.define(
            RULE_EVALUATION_ERRORS,
            IntCounterVec::new(
                Opts::new(
                    RULE_EVALUATION_ERRORS,
                    "Runtime errors evaluating a rule at admission or in audit (an error is never a violation), \
                     by rule.",
                ),
                &[RULE],
            ),
        )?;
        let rules_loaded = definitions.define(
            RULES_LOADED,
            IntGaugeVec::new(
                Opts::new(
                    RULES_LOADED,
                    "Rules known to Portal, by state: ready (in the active rule set), rejected (failed validation \
                     or compilation), disabled (enabled: false).",
                ),
                &[STATE],
            ),
        )?;
        let certificate_expiry = definitions.define(
            CERTIFICATE_EXPIRY,
            GaugeVec::new(
                Opts::new(
                    CERTIFICATE_EXPIRY,
                    "Expiry (notAfter) of the admission webhook's serving certificate, in Unix seconds; absent \
                     until a certificate is loaded.",
                ),
                &[],
            ),
        )?;
        let leader = definitions.define(
            LEADER,
            IntGaugeVec::new(
                Opts::new(
                    LEADER,
                    "1 while this replica leads the leader election (leaderElection), else 0; absent when no \
                     election runs (nothing needs a leader).",
                ),
                &[],
            ),
        )?;
        let build_info = definitions.define(
            BUILD_INFO,
            IntGauge::with_opts(
                Opts::new(BUILD_INFO, "Always 1; the version label is Portal's version.")
                    .const_label(VERSION, env!("CARGO_PKG_VERSION")),
            ),
        )?;
        build_info.set(1);
        let audit = AuditMetrics::define(&mut definitions)?;
        let lookups = LookupMetrics::define(&mut definitions)?;
        let network = NetworkMetrics::define(&mut definitions)?;
        let exceptions = ExceptionMetrics::define(&mut definitions)?;
        let actions = ActionMetrics::define(&mut definitions)?;

        let metrics = Metrics {
            registry: definitions.registry,
            registered: definitions.names,
            admission_requests,
            admission_duration,
            admission_bypasses,
            admission_dryrun_violations,
            rule_evaluation_errors,
            rules_loaded,
            certificate_expiry,
            leader,
            audit,
            lookups,
            network,
            exceptions,
            actions,
        };
        for decision in Decision::ALL {
            metrics.admission_requests.with_label_values(&[decision.as_str()]).inc_by(0);
        }
        metrics.set_rules_loaded(0, 0, 0);
        Ok(metrics)
    }

    /// Records one answered admission request: its decision and the time from receiving the
    /// AdmissionReview to sending the response. Call it exactly once per request, bypassed
    /// ones included (with [`Decision::Allowed`]).
    pub fn admission_request(&self, decision: Decision, duration: Duration) {
        self.admission_requests.with_label_values(&[decision.as_str()]).inc();
        self.admission_duration.observe(duration.as_secs_f64());
    }

    /// Records a request allowed without evaluation because its namespace is annotated
    /// `portal.io/bypass: "true"`. `namespace` is that namespace's name (SPEC §4 counts
    /// bypasses by namespace; see [`Metrics::forget_namespace`]).
    pub fn admission_bypass(&self, namespace: &str) {
        self.admission_bypasses.with_label_values(&[namespace]).inc();
    }

    /// Records one violation of a `dryrun` rule at admission (allowed silently, still counted
    /// and reported, SPEC §4). `rule` is the rule's name; call once per violation, so a
    /// per-container rule counts each violating container.
    pub fn admission_dryrun_violation(&self, rule: &str) {
        self.admission_dryrun_violations.with_label_values(&[rule]).inc();
    }

    /// Records a runtime error evaluating the rule named `rule` (admission or audit). The error
    /// itself goes to the logs and the rule's status, never into a label.
    pub fn rule_evaluation_error(&self, rule: &str) {
        self.rule_evaluation_errors.with_label_values(&[rule]).inc();
    }

    /// Sets how many rules are in each state after a rule set was (re)loaded: `ready` (in the
    /// active rule set), `rejected` (failed validation or compilation), `disabled`
    /// (`enabled: false`).
    pub fn set_rules_loaded(&self, ready: usize, rejected: usize, disabled: usize) {
        for ((state, _), count) in RULE_STATES.iter().zip([ready, rejected, disabled]) {
            self.rules_loaded.with_label_values(&[*state]).set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    /// Sets the serving certificate's expiry (its `notAfter`); call it whenever a certificate
    /// is (re)loaded. Exported in Unix seconds, so that `portal_certificate_expiry_timestamp_seconds
    /// - time()` is the time left.
    pub fn set_certificate_expiry(&self, not_after: SystemTime) {
        let seconds = match not_after.duration_since(UNIX_EPOCH) {
            Ok(after) => after.as_secs_f64(),
            Err(before) => -before.duration().as_secs_f64(),
        };
        self.certificate_expiry.with_label_values::<&str>(&[]).set(seconds);
    }

    /// Records whether this replica leads the election now.
    pub fn set_leader(&self, leading: bool) {
        self.leader.with_label_values::<&str>(&[]).set(i64::from(leading));
    }

    /// Removes the series of the rule named `rule` (call it when the rule leaves the rule set),
    /// so that rule churn cannot grow the number of series without bound.
    pub fn forget_rule(&self, rule: &str) {
        // An error only says that the rule had no series in that metric.
        let _ = self.admission_dryrun_violations.remove_label_values(&[rule]);
        let _ = self.rule_evaluation_errors.remove_label_values(&[rule]);
        self.audit.forget_rule(rule);
        self.exceptions.forget(None, Some(rule));
    }

    /// One evaluation of `rule` by the audit.
    pub fn audit_evaluation(&self, rule: &str) {
        self.audit.evaluation(rule);
    }

    /// `count` violations of `rule` (of `severity`: `info` … `critical`) found by the audit.
    pub fn audit_violations(&self, rule: &str, severity: &str, count: u64) {
        self.audit.violations(rule, severity, count);
    }

    /// Objects waiting for the audit.
    pub fn set_audit_queue_depth(&self, depth: usize) {
        self.audit.set_queue_depth(depth);
    }

    /// Objects of `kind` (`group/Kind`) in the audit's caches.
    pub fn set_audit_objects(&self, kind: &str, count: usize) {
        self.audit.set_objects(kind, count);
    }

    /// Removes the series of a kind the audit no longer watches.
    pub fn forget_audit_kind(&self, kind: &str) {
        self.audit.forget_kind(kind);
    }

    /// What became of a report, `latency` after the change that caused it was seen.
    pub fn audit_report_written(&self, result: ReportWriteResult, latency: Duration) {
        self.audit.report_written(result, latency);
    }

    /// A failed watch of `kind`, restarted.
    pub fn audit_watch_restart(&self, kind: &str) {
        self.audit.watch_restart(kind);
    }

    /// Objects of `kind` (`group/Kind`) cached for cluster lookups.
    pub fn set_lookup_objects(&self, kind: &str, count: usize) {
        self.lookups.set_objects(kind, count);
    }

    /// Removes the series of a kind no rule looks up any more.
    pub fn forget_lookup_kind(&self, kind: &str) {
        self.lookups.forget_kind(kind);
    }

    /// A failed watch of the lookup cache, restarted.
    pub fn lookup_watch_restart(&self, kind: &str) {
        self.lookups.watch_restart(kind);
    }

    /// How many (rule, object) pairs the audit's dependency index holds.
    pub fn set_lookup_dependencies(&self, pairs: usize) {
        self.lookups.set_dependencies(pairs);
    }

    /// `pairs` dropped from the full dependency index.
    pub fn lookup_dependencies_evicted(&self, pairs: u64) {
        self.lookups.evicted(pairs);
    }

    /// A re-evaluation asked for by a change to a read object.
    pub fn lookup_reevaluation(&self, outcome: Reevaluation) {
        self.lookups.reevaluation(outcome);
    }

    /// The network findings of `check` (`np.…`, a fixed set) standing now, with the severity
    /// configured for the check.
    pub fn set_network_findings(&self, check: &str, severity: &str, count: usize) {
        self.network.set_findings(check, severity, count);
    }

    /// The exception `exception` (`PortalException/ns/name`) exempted an admission request from
    /// the rule named `rule`.
    pub fn admission_exemption(&self, exception: &str, rule: &str) {
        self.exceptions.exempted(exception, rule, "admission");
    }

    /// The exception `exception` exempted an audited object from the rule named `rule`.
    pub fn audit_exemption(&self, exception: &str, rule: &str) {
        self.exceptions.exempted(exception, rule, "audit");
    }

    /// Sets how many exceptions are `active`, `expired` and `rejected` now.
    pub fn set_exceptions(&self, active: usize, expired: usize, rejected: usize) {
        self.exceptions.set_counts(active, expired, rejected);
    }

    /// One response action attempt of type `action` (`label`, `evict`, …) and what became of it.
    pub fn action(&self, action: &str, result: ActionResult) {
        self.actions.action(action, result);
    }

    /// Sets how many actions wait for a worker.
    pub fn set_action_queue_depth(&self, depth: usize) {
        self.actions.set_queue_depth(depth);
    }

    /// Sets how many alerts are firing (kept refreshed) now.
    pub fn set_alerts_firing(&self, count: usize) {
        self.actions.set_alerts_firing(count);
    }

    /// Starts the series of the Alertmanager at `url` at 0 (call it once per configured URL).
    pub fn declare_alertmanager(&self, url: &str) {
        self.actions.declare_alertmanager(url);
    }

    /// One batch of alerts posted to the Alertmanager at `url`: accepted or not.
    pub fn alertmanager_send(&self, url: &str, ok: bool) {
        self.actions.alert_send(url, ok);
    }

    /// `count` alert updates for the Alertmanager at `url` dropped from its full queue.
    pub fn alerts_dropped(&self, url: &str, count: usize) {
        self.actions.alerts_dropped(url, count);
    }

    /// Removes the series of `exception` (call it when the exception is deleted).
    pub fn forget_exception(&self, exception: &str) {
        self.exceptions.forget(Some(exception), None);
    }

    /// `namespaces` namespaces' network findings were computed again.
    pub fn network_recomputed(&self, namespaces: usize) {
        self.network.recomputed(namespaces);
    }

    /// Removes the bypass series of `namespace` (call it when the namespace is deleted or loses
    /// its bypass annotation).
    pub fn forget_namespace(&self, namespace: &str) {
        // An error only says that the namespace had no series.
        let _ = self.admission_bypasses.remove_label_values(&[namespace]);
    }

    /// Every metric in the Prometheus text exposition format 0.0.4 (serve it with
    /// [`CONTENT_TYPE`]). Metrics with labels appear once a series exists.
    pub fn encode(&self) -> String {
        let encoder = TextEncoder::new();
        let mut out = String::new();
        for family in self.registry.gather() {
            // The encoder refuses only families without samples or names, which the registry
            // never gathers, and writing to a String cannot fail. Should that change, the
            // family is replaced by a comment and the others are still served.
            if let Err(error) = encoder.encode_utf8(std::slice::from_ref(&family), &mut out) {
                let error = error.to_string().replace('\n', " ");
                out.push_str(&format!("# {} could not be encoded: {error}\n", family.name()));
            }
        }
        out
    }

    /// Touches every series with example values, so that every metric and every fixed label
    /// value appears in [`Metrics::encode`] (for the docs and the exposition tests).
    pub(crate) fn exercise_every_series(&self) {
        for decision in Decision::ALL {
            self.admission_request(decision, Duration::from_micros(300));
        }
        self.admission_bypass("example-namespace");
        self.admission_dryrun_violation("example-rule");
        self.rule_evaluation_error("example-rule");
        self.set_rules_loaded(3, 1, 1);
        self.set_certificate_expiry(UNIX_EPOCH + Duration::from_secs(1_798_761_600));
        self.set_leader(true);
        self.audit_evaluation("example-rule");
        for severity in crate::audit::SEVERITIES {
            self.audit_violations("example-rule", severity, 1);
        }
        self.set_audit_queue_depth(0);
        self.set_audit_objects("/Pod", 120);
        for result in ReportWriteResult::ALL {
            self.audit_report_written(result, Duration::from_millis(40));
        }
        self.audit_watch_restart("/Pod");
        self.set_lookup_objects("/ConfigMap", 40);
        self.lookup_watch_restart("/ConfigMap");
        self.set_lookup_dependencies(250);
        self.lookup_dependencies_evicted(0);
        for outcome in Reevaluation::ALL {
            self.lookup_reevaluation(outcome);
        }
        self.set_network_findings("np.default-deny-missing", "high", 3);
        self.network_recomputed(2);
        self.admission_exemption("PortalException/shop/legacy-images", "pss-restricted-run-as-non-root");
        self.audit_exemption("PortalException/shop/legacy-images", "pss-restricted-run-as-non-root");
        self.set_exceptions(2, 1, 0);
        for result in ActionResult::ALL {
            self.action("label", result);
        }
        self.set_action_queue_depth(0);
        self.set_alerts_firing(3);
        self.declare_alertmanager("http://alertmanager.monitoring:9093");
        self.alertmanager_send("http://alertmanager.monitoring:9093", true);
        self.alerts_dropped("http://alertmanager.monitoring:9093", 0);
    }
}
