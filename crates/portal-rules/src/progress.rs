//! Which rule an evaluation is on, readable from another thread while it runs: what the webhook
//! names when its deadline passes before the evaluation ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::compile::CompiledRule;

/// The progress of one [`crate::RuleSet::evaluate_tracked`].
#[derive(Debug, Default)]
pub struct Progress {
    /// The index in the rule set of the rule being evaluated, plus one; 0 when none is.
    running: AtomicUsize,
    /// Matching rules not finished yet, the running one included.
    unfinished: AtomicUsize,
    /// Set to stop the evaluation at its next comprehension.
    cancelled: Arc<AtomicBool>,
}

impl Progress {
    pub(crate) fn matched(&self, count: usize) {
        self.unfinished.store(count, Ordering::Relaxed);
    }

    pub(crate) fn start(&self, index: usize) {
        // The previous rule, if any, has finished.
        if self.running.swap(index + 1, Ordering::Relaxed) != 0 {
            self.unfinished.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn finish(&self) {
        self.running.store(0, Ordering::Relaxed);
        self.unfinished.store(0, Ordering::Relaxed);
    }

    /// Stops the evaluation: the running rule at its next comprehension, with an error, and every
    /// rule after it. For the webhook, once its answer no longer waits for the evaluation.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    pub(crate) fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancelled)
    }

    /// The rule being evaluated now, if one is; `rules` are those of the rule set evaluating.
    pub fn running<'s>(&self, rules: &'s [CompiledRule]) -> Option<&'s CompiledRule> {
        self.running.load(Ordering::Relaxed).checked_sub(1).and_then(|index| rules.get(index))
    }

    /// How many matching rules have not finished: the running one and those after it.
    pub fn unfinished(&self) -> usize {
        self.unfinished.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::{Activation, EvaluationInput, ModeFilter, RuleSet, load_rules};

    #[test]
    fn another_thread_sees_the_slow_rule_running() {
        let yaml = "name: quick\nmatch: {gvk: [{group: '', version: v1, kind: Pod}]}\nrule: 'false'\n---\n\
                    name: slow\nmatch: {gvk: [{group: '', version: v1, kind: Pod}]}\n\
                    rule: 'lists.range(400).all(i, lists.range(400).all(j, i + j >= 0)) && false'\n---\n\
                    name: after\nmatch: {gvk: [{group: '', version: v1, kind: Pod}]}\nrule: 'false'\n";
        let (loaded, errors) = load_rules("rules.yaml", yaml);
        assert!(errors.is_empty(), "{errors:?}");
        let (rules, errors) = RuleSet::compile(loaded);
        assert!(errors.is_empty(), "{errors:?}");
        let rules = Arc::new(rules);
        let progress = Arc::new(Progress::default());
        let (evaluating_rules, evaluating_progress) = (Arc::clone(&rules), Arc::clone(&progress));
        let evaluation = std::thread::spawn(move || {
            let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
            let activation = Activation::new(EvaluationInput { object: Some(&pod), ..Default::default() });
            evaluating_rules.evaluate_tracked(&activation, ModeFilter::Any, &evaluating_progress).len()
        });
        let started = Instant::now();
        let mut seen = None;
        while seen.is_none() && started.elapsed() < Duration::from_secs(30) && !evaluation.is_finished() {
            seen = progress.running(rules.rules()).filter(|rule| rule.name() == "slow").map(|_| progress.unfinished());
        }
        assert_eq!(evaluation.join().unwrap(), 3);
        assert_eq!(seen, Some(2), "the slow rule was seen running with itself and `after` unfinished");
        assert!(progress.running(rules.rules()).is_none());
        assert_eq!(progress.unfinished(), 0);
    }
}
