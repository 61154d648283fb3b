//! The metrics of exceptions: how often each exempted which rule, and how many are in force or
//! expired.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use prometheus::{IntCounterVec, IntGaugeVec, Opts};

use crate::definitions::{Definitions, RULE};
use crate::error::Result;

pub(crate) const EXCEPTION_EXEMPTIONS: &str = "portal_exception_exemptions_total";
pub(crate) const EXCEPTIONS: &str = "portal_exceptions";

pub(crate) const EXCEPTION: &str = "exception";
pub(crate) const CONTROL: &str = "control";
/// `state` is the rules' label: exceptions have a label of their own.
pub(crate) const STATUS: &str = "status";

/// The statuses of `portal_exceptions`, with their meaning for docs/metrics.md.
pub(crate) const EXCEPTION_STATES: [(&str, &str); 3] = [
    ("active", "valid and not expired: it exempts what it names"),
    ("expired", "its `expires` has passed: it exempts nothing, and its status says `Expired`"),
    ("rejected", "invalid (its status says why): it exempts nothing"),
];

/// Where an exemption happened, for the `control` label.
pub(crate) const CONTROLS: [(&str, &str); 2] = [
    ("admission", "an admission request was not denied or warned by the rule"),
    ("audit", "an audit report says `skip`"),
];

/// One series of the exemptions counter: (exception, rule, control).
type Series = (String, String, &'static str);

#[derive(Debug, Clone)]
pub(crate) struct ExceptionMetrics {
    exemptions: IntCounterVec,
    exceptions: IntGaugeVec,
    /// The (exception, rule, control) series that exist, to remove an exception's series when it goes.
    series: Arc<Mutex<BTreeSet<Series>>>,
}

impl ExceptionMetrics {
    pub(crate) fn define(definitions: &mut Definitions) -> Result<ExceptionMetrics> {
        let metrics = ExceptionMetrics {
            exemptions: definitions.define(
                EXCEPTION_EXEMPTIONS,
                IntCounterVec::new(
                    Opts::new(
                        EXCEPTION_EXEMPTIONS,
                        "Rule evaluations an exception exempted an object from (the rule was not evaluated), by \
                         exception, rule and control point.",
                    ),
                    &[EXCEPTION, RULE, CONTROL],
                ),
            )?,
            exceptions: definitions.define(
                EXCEPTIONS,
                IntGaugeVec::new(
                    Opts::new(EXCEPTIONS, "PortalException and PortalClusterException resources by state."),
                    &[STATUS],
                ),
            )?,
            series: Arc::default(),
        };
        metrics.set_counts(0, 0, 0);
        Ok(metrics)
    }

    pub(crate) fn exempted(&self, exception: &str, rule: &str, control: &'static str) {
        self.exemptions.with_label_values(&[exception, rule, control]).inc();
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        if !series.iter().any(|(e, r, c)| e == exception && r == rule && *c == control) {
            series.insert((exception.to_owned(), rule.to_owned(), control));
        }
    }

    pub(crate) fn set_counts(&self, active: usize, expired: usize, rejected: usize) {
        for ((state, _), count) in EXCEPTION_STATES.iter().zip([active, expired, rejected]) {
            self.exceptions.with_label_values(&[*state]).set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    /// Removes every series of `exception`, or of `rule` (whichever is given).
    pub(crate) fn forget(&self, exception: Option<&str>, rule: Option<&str>) {
        let mut series = self.series.lock().unwrap_or_else(PoisonError::into_inner);
        series.retain(|(e, r, c)| {
            let gone = exception.is_some_and(|x| x == e) || rule.is_some_and(|x| x == r);
            if gone {
                let _ = self.exemptions.remove_label_values(&[e.as_str(), r.as_str(), c]);
            }
            !gone
        });
    }
}
