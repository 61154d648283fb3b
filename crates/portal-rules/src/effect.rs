//! What admission does with rule results. Written once and used by the webhook and by
//! `portal check`, so that CI decides exactly what the cluster decides.

use serde::Serialize;

use crate::evaluate::RuleResult;
use crate::schema::{EnforcementAction, FailurePolicy, Mode, RuleSpec};

/// What one finding (a violation or an evaluation error) does to an admission request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// The request is denied.
    Deny,
    /// The request is admitted with a warning shown to the client.
    Warn,
    /// The request is admitted silently; the finding is only counted and reported.
    Dryrun,
    /// Nothing happens at admission: the rule runs only in audit, or an evaluation error of a
    /// `failurePolicy: Ignore` rule (recorded, never enforced).
    None,
}

impl Effect {
    /// What a violation of `rule` does at admission: its `enforcementAction`, when it runs there.
    pub fn of_violation(rule: &RuleSpec) -> Effect {
        if !rule.mode.contains(&Mode::Admission) {
            return Effect::None;
        }
        match rule.enforcement_action {
            EnforcementAction::Deny => Effect::Deny,
            EnforcementAction::Warn => Effect::Warn,
            EnforcementAction::Dryrun => Effect::Dryrun,
        }
    }

    /// What an evaluation error of `rule` does at admission. As in ValidatingAdmissionPolicy,
    /// with `failurePolicy: Fail` an error counts as a violation, enforced by the rule's own
    /// action (so the error of a `warn` rule warns); with `Ignore` it is only recorded.
    pub fn of_error(rule: &RuleSpec) -> Effect {
        match rule.failure_policy {
            FailurePolicy::Fail => Effect::of_violation(rule),
            FailurePolicy::Ignore => Effect::None,
        }
    }
}

/// Everything admission does with the results of the rules evaluated on one request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdmissionVerdict {
    /// `rule: message` of every denying finding, in evaluation order.
    pub denials: Vec<String>,
    /// `rule: message` of every warning finding: the AdmissionResponse's `warnings`.
    pub warnings: Vec<String>,
    /// The rule of every finding admitted silently (once per finding).
    #[serde(skip)]
    pub dryrun_rules: Vec<String>,
    /// The rule of every evaluation error, whatever it did (once per error).
    #[serde(skip)]
    pub error_rules: Vec<String>,
    /// Every rule an exception exempted the object from, with the exception.
    #[serde(skip)]
    pub exemptions: Vec<(String, String)>,
}

impl AdmissionVerdict {
    /// The verdict on the results of one object. Results of rules that do not run at admission
    /// (audit-only) contribute nothing.
    pub fn of<'a, 'r: 'a>(results: impl IntoIterator<Item = &'a RuleResult<'r>>) -> AdmissionVerdict {
        let mut verdict = AdmissionVerdict::default();
        for result in results {
            verdict.add(result);
        }
        verdict
    }

    /// Adds what one rule's result does.
    pub fn add(&mut self, result: &RuleResult<'_>) {
        let rule = result.rule;
        let spec = rule.spec();
        if let Some(exception) = &result.exception {
            if spec.mode.contains(&Mode::Admission) {
                self.exemptions.push((rule.name().to_owned(), exception.to_string()));
            }
            return;
        }
        for violation in &result.violations {
            self.record(Effect::of_violation(spec), rule.name(), || format!("{}: {}", rule.name(), violation.message));
        }
        for error in &result.errors {
            if spec.mode.contains(&Mode::Admission) {
                self.error_rules.push(rule.name().to_owned());
            }
            self.record(Effect::of_error(spec), rule.name(), || {
                format!("{}: could not be evaluated ({}); failurePolicy: Fail", rule.name(), error.message)
            });
        }
    }

    fn record(&mut self, effect: Effect, rule: &str, line: impl FnOnce() -> String) {
        match effect {
            Effect::Deny => self.denials.push(line()),
            Effect::Warn => self.warnings.push(line()),
            Effect::Dryrun => self.dryrun_rules.push(rule.to_owned()),
            Effect::None => {}
        }
    }

    /// Whether admission lets the request through.
    pub fn allowed(&self) -> bool {
        self.denials.is_empty()
    }

    /// The message shown to the client when the request is denied.
    pub fn denial_message(&self) -> Option<String> {
        (!self.denials.is_empty()).then(|| format!("denied by portal: {}", self.denials.join("; ")))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{Activation, EvaluationInput, ModeFilter, Operation, RuleSet, load_rules};

    /// Each rule fires (`spec.hostNetwork == true`) or fails to evaluate (a missing label).
    fn verdict_on_pod(rules: &str, host_network: bool) -> AdmissionVerdict {
        let (loaded, errors) = load_rules("test", rules);
        assert!(errors.is_empty(), "{errors:?}");
        let (set, errors) = RuleSet::compile(loaded);
        assert!(errors.is_empty(), "{errors:?}");
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "a"},
                         "spec": {"hostNetwork": host_network, "containers": [{"name": "c", "image": "x"}]}});
        let activation = Activation::new(EvaluationInput {
            object: Some(&pod),
            operation: Some(Operation::Create),
            ..Default::default()
        });
        AdmissionVerdict::of(&set.evaluate(&activation, ModeFilter::Any))
    }

    fn rule(name: &str, extra: &str, expression: &str) -> String {
        format!(
            "name: {name}\nmatch: {{gvk: [{{group: '', kind: Pod}}]}}\nrule: {expression}\nmessage: {name} fired\n{extra}\n---\n"
        )
    }

    const FIRES: &str = "spec.hostNetwork == true";
    const ERRS: &str = "object.metadata.labels.team == 'x'";

    #[test]
    fn violations_follow_the_enforcement_action() {
        let rules = [
            rule("d", "enforcementAction: deny", FIRES),
            rule("w", "enforcementAction: warn", FIRES),
            rule("r", "enforcementAction: dryrun", FIRES),
            rule("a", "mode: [audit]", FIRES),
        ]
        .concat();
        let verdict = verdict_on_pod(&rules, true);
        assert_eq!(verdict.denials, ["d: d fired"]);
        assert_eq!(verdict.warnings, ["w: w fired"]);
        assert_eq!(verdict.dryrun_rules, ["r"]);
        assert!(!verdict.allowed());
        assert_eq!(verdict.denial_message().unwrap(), "denied by portal: d: d fired");
        assert!(verdict_on_pod(&rules, false).allowed());
    }

    /// The case the webhook and `portal check` once disagreed on: an evaluation error of a
    /// `failurePolicy: Fail` rule is enforced by the rule's own action, so a `warn` rule warns.
    #[test]
    fn errors_of_fail_rules_are_enforced_by_their_action() {
        let rules = [
            rule("fail-deny", "failurePolicy: Fail", ERRS),
            rule("fail-warn", "failurePolicy: Fail\nenforcementAction: warn", ERRS),
            rule("fail-dryrun", "failurePolicy: Fail\nenforcementAction: dryrun", ERRS),
            rule("ignore-deny", "failurePolicy: Ignore", ERRS),
            rule("fail-audit", "failurePolicy: Fail\nmode: [audit]", ERRS),
        ]
        .concat();
        let verdict = verdict_on_pod(&rules, false);
        assert_eq!(verdict.denials.len(), 1, "{verdict:?}");
        assert!(verdict.denials[0].starts_with("fail-deny: could not be evaluated ("), "{verdict:?}");
        assert!(verdict.denials[0].ends_with("); failurePolicy: Fail"), "{verdict:?}");
        assert_eq!(verdict.warnings.len(), 1, "{verdict:?}");
        assert!(verdict.warnings[0].starts_with("fail-warn: could not be evaluated ("), "{verdict:?}");
        assert_eq!(verdict.dryrun_rules, ["fail-dryrun"]);
        assert_eq!(verdict.error_rules, ["fail-deny", "fail-warn", "fail-dryrun", "ignore-deny"]);
    }

    #[test]
    fn effect_of_a_spec() {
        let (loaded, _) = load_rules("t", &rule("x", "failurePolicy: Fail\nenforcementAction: warn", FIRES));
        let spec = &loaded[0].spec;
        assert_eq!(Effect::of_violation(spec), Effect::Warn);
        assert_eq!(Effect::of_error(spec), Effect::Warn);
        let (loaded, _) = load_rules("t", &rule("x", "mode: [audit]", FIRES));
        assert_eq!(Effect::of_violation(&loaded[0].spec), Effect::None);
    }
}
