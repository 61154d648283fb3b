//! The counters on each rule resource's status — `evalCount`, `violationCount`, `errorCount` —
//! from the audit's evaluations since this replica started, written by the leader at most once
//! per interval per rule, and only when they changed.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use portal_rules::RuleResult;

use crate::api::RuleResourceKey;
use crate::writers::{RuleCounts, write_rule_counts};

/// The counts of every rule that came from a rule resource, by its origin.
#[derive(Debug, Default)]
pub(crate) struct RuleCounters {
    counts: Mutex<HashMap<String, RuleCounts>>,
}

impl RuleCounters {
    /// Counts one evaluation of each rule in `results`.
    pub(crate) fn record(&self, results: &[RuleResult<'_>]) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        for result in results {
            let source = &result.rule.origin().source;
            // Rules from files have no resource to write to; an exempted rule was not evaluated.
            if RuleResourceKey::from_origin(source).is_none() || result.exception.is_some() {
                continue;
            }
            let count = counts.entry(source.clone()).or_default();
            count.evaluations += 1;
            count.violations += i64::try_from(result.violations.len()).unwrap_or(i64::MAX);
            count.errors += i64::try_from(result.errors.len()).unwrap_or(i64::MAX);
        }
    }

    fn snapshot(&self) -> Vec<(String, RuleCounts)> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner).iter().map(|(k, v)| (k.clone(), *v)).collect()
    }
}

/// Every `interval`, while `may_write` says so, writes the counts that changed since they were
/// last written.
pub(crate) async fn keep_written(
    client: kube::Client,
    counters: &RuleCounters,
    may_write: impl Fn() -> bool,
    interval: Duration,
) {
    let mut written: HashMap<String, RuleCounts> = HashMap::new();
    loop {
        tokio::time::sleep(interval).await;
        if !may_write() {
            // Another replica writes; when this one leads again it writes its own counts.
            written.clear();
            continue;
        }
        for (source, counts) in counters.snapshot() {
            if written.get(&source) == Some(&counts) {
                continue;
            }
            let Some(key) = RuleResourceKey::from_origin(&source) else { continue };
            match write_rule_counts(&client, &key, counts).await {
                Ok(()) => {
                    written.insert(source, counts);
                }
                // The rule was deleted meanwhile: nothing to count on.
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(error) => tracing::warn!(rule = %key, "audit: writing the rule's counters failed: {error}"),
            }
        }
    }
}
