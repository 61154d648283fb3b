//! The metrics of NetworkPolicy analysis: the findings standing now, by check and severity.

use prometheus::{IntCounterVec, IntGaugeVec, Opts};

use crate::audit::SEVERITY;
use crate::definitions::Definitions;
use crate::error::Result;

pub(crate) const NETWORK_FINDINGS: &str = "portal_network_findings";
pub(crate) const NETWORK_RECOMPUTATIONS: &str = "portal_network_recomputations_total";

pub(crate) const CHECK: &str = "check";

#[derive(Debug, Clone)]
pub(crate) struct NetworkMetrics {
    findings: IntGaugeVec,
    recomputations: IntCounterVec,
}

impl NetworkMetrics {
    pub(crate) fn define(definitions: &mut Definitions) -> Result<NetworkMetrics> {
        let metrics = NetworkMetrics {
            findings: definitions.define(
                NETWORK_FINDINGS,
                IntGaugeVec::new(
                    Opts::new(
                        NETWORK_FINDINGS,
                        "NetworkPolicy analysis findings standing now, by check and the severity configured for it.",
                    ),
                    &[CHECK, SEVERITY],
                ),
            )?,
            recomputations: definitions.define(
                NETWORK_RECOMPUTATIONS,
                IntCounterVec::new(
                    Opts::new(
                        NETWORK_RECOMPUTATIONS,
                        "Namespaces whose network findings were computed again after a change to a Pod, Namespace \
                         or NetworkPolicy.",
                    ),
                    &[],
                ),
            )?,
        };
        metrics.recomputations.with_label_values::<&str>(&[]).inc_by(0);
        Ok(metrics)
    }

    pub(crate) fn set_findings(&self, check: &str, severity: &str, count: usize) {
        self.findings.with_label_values(&[check, severity]).set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    pub(crate) fn recomputed(&self, namespaces: usize) {
        self.recomputations.with_label_values::<&str>(&[]).inc_by(u64::try_from(namespaces).unwrap_or(u64::MAX));
    }
}
