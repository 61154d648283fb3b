//! The metrics of cluster lookups: the objects cached for them, and the index of what audited
//! rules read, which re-evaluates them when it changes.

use prometheus::{IntCounterVec, IntGaugeVec, Opts};

use crate::audit::KIND;
use crate::definitions::Definitions;
use crate::error::Result;

pub(crate) const LOOKUP_OBJECTS: &str = "portal_lookup_objects";
pub(crate) const LOOKUP_WATCH_RESTARTS: &str = "portal_lookup_watch_restarts_total";
pub(crate) const LOOKUP_DEPENDENCIES: &str = "portal_lookup_dependencies";
pub(crate) const LOOKUP_DEPENDENCY_EVICTIONS: &str = "portal_lookup_dependency_evictions_total";
pub(crate) const LOOKUP_REEVALUATIONS: &str = "portal_lookup_reevaluations_total";

pub(crate) const OUTCOME: &str = "outcome";

/// What became of a re-evaluation that a change to a read object asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reevaluation {
    /// The object was queued for evaluation.
    Queued,
    /// The (rule, object) pair had used its budget of re-evaluations: not queued.
    Suppressed,
}

impl Reevaluation {
    /// Every outcome, in the order the docs list them.
    pub const ALL: [Reevaluation; 2] = [Reevaluation::Queued, Reevaluation::Suppressed];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Reevaluation::Queued => "queued",
            Reevaluation::Suppressed => "suppressed",
        }
    }

    pub(crate) fn meaning(self) -> &'static str {
        match self {
            Reevaluation::Queued => "the object was queued for evaluation",
            Reevaluation::Suppressed => {
                "the rule and object had used their budget of re-evaluations (a feedback loop?): not queued"
            }
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct LookupMetrics {
    objects: IntGaugeVec,
    watch_restarts: IntCounterVec,
    dependencies: IntGaugeVec,
    evictions: IntCounterVec,
    reevaluations: IntCounterVec,
}

impl LookupMetrics {
    pub(crate) fn define(definitions: &mut Definitions) -> Result<LookupMetrics> {
        let counter = |name, help, labels: &[&str]| IntCounterVec::new(Opts::new(name, help), labels);
        let gauge = |name, help, labels: &[&str]| IntGaugeVec::new(Opts::new(name, help), labels);
        let metrics = LookupMetrics {
            objects: definitions.define(
                LOOKUP_OBJECTS,
                gauge(LOOKUP_OBJECTS, "Objects cached for cluster lookups, by kind.", &[KIND]),
            )?,
            watch_restarts: definitions.define(
                LOOKUP_WATCH_RESTARTS,
                counter(
                    LOOKUP_WATCH_RESTARTS,
                    "Times a watch of the lookup cache failed and was restarted (with backoff), by kind.",
                    &[KIND],
                ),
            )?,
            dependencies: definitions.define(
                LOOKUP_DEPENDENCIES,
                gauge(
                    LOOKUP_DEPENDENCIES,
                    "(rule, object) pairs of the audit whose lookup reads are indexed, to re-evaluate them when \
                     what they read changes.",
                    &[],
                ),
            )?,
            evictions: definitions.define(
                LOOKUP_DEPENDENCY_EVICTIONS,
                counter(
                    LOOKUP_DEPENDENCY_EVICTIONS,
                    "(rule, object) pairs dropped from the full dependency index (the oldest first): they are not \
                     re-evaluated when what they read changes, until they are evaluated again.",
                    &[],
                ),
            )?,
            reevaluations: definitions.define(
                LOOKUP_REEVALUATIONS,
                counter(
                    LOOKUP_REEVALUATIONS,
                    "Re-evaluations asked for by a change to an object a rule read: queued, or suppressed by the \
                     per-(rule, object) budget.",
                    &[OUTCOME],
                ),
            )?,
        };
        metrics.evictions.with_label_values::<&str>(&[]).inc_by(0);
        metrics.dependencies.with_label_values::<&str>(&[]).set(0);
        for outcome in Reevaluation::ALL {
            metrics.reevaluations.with_label_values(&[outcome.as_str()]).inc_by(0);
        }
        Ok(metrics)
    }

    pub(crate) fn set_objects(&self, kind: &str, count: usize) {
        self.objects.with_label_values(&[kind]).set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    pub(crate) fn forget_kind(&self, kind: &str) {
        let _ = self.objects.remove_label_values(&[kind]);
        let _ = self.watch_restarts.remove_label_values(&[kind]);
    }

    pub(crate) fn watch_restart(&self, kind: &str) {
        self.watch_restarts.with_label_values(&[kind]).inc();
    }

    pub(crate) fn set_dependencies(&self, pairs: usize) {
        self.dependencies.with_label_values::<&str>(&[]).set(i64::try_from(pairs).unwrap_or(i64::MAX));
    }

    pub(crate) fn evicted(&self, pairs: u64) {
        self.evictions.with_label_values::<&str>(&[]).inc_by(pairs);
    }

    pub(crate) fn reevaluation(&self, outcome: Reevaluation) {
        self.reevaluations.with_label_values(&[outcome.as_str()]).inc();
    }
}
