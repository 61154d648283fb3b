//! Evaluating one compiled rule on one object: violations, messages and evaluation errors.

use std::sync::Arc;
use std::time::SystemTime;

use cel::{Context, Env, Value};
use portal_cel::budget::{self, Budget, Stopped};
use serde::Serialize;

use crate::activation::{Activation, ObjectIdentity};
use crate::cluster::ClusterRead;
use crate::cluster::context;
use crate::compile::CompiledRule;
use crate::schema::{EnforcementAction, Mode, Severity};

/// One object that violates one rule (in one container, for per-container rules).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    /// The name of the rule (or of the check, for findings that are not rules).
    pub rule: Arc<str>,
    /// The rule's `severity`.
    pub severity: Severity,
    /// The modes the rule runs in.
    pub mode: Vec<Mode>,
    /// The rule's `enforcementAction`: what the violation does at admission.
    pub enforcement_action: EnforcementAction,
    /// The object's API group; empty for the core group.
    pub group: String,
    /// The object's API version, e.g. `v1`.
    pub version: String,
    /// The object's kind, e.g. `Pod`.
    pub kind: String,
    /// The object's namespace; `None` for a cluster-scoped object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The object's name (or `generateName` before it has one); `None` when it has neither.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The object's UID; `None` when it has none (e.g. a manifest checked offline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// The violating container, for a per-container rule; `None` for a rule on the whole object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The message: `messageExpression`'s result when usable, else `message`, else one naming the rule.
    pub message: String,
    /// When it was found; serialised as RFC 3339 UTC with seconds.
    #[serde(serialize_with = "rfc3339")]
    pub timestamp: SystemTime,
}

/// Serialises a time as RFC 3339 UTC with seconds, as Kubernetes writes times.
fn rfc3339<S: serde::Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_rfc3339(*time))
}

/// `2026-11-28T05:07:56Z`.
pub fn format_rfc3339(time: SystemTime) -> String {
    let seconds = time.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = ((seconds / 86_400) as i64, seconds % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// A rule that could not be evaluated on an object. Never a violation; at admission the rule's
/// `failurePolicy` decides what it means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvaluationError {
    /// The container evaluated, for a per-container rule; `None` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Why it failed: the CEL error, a result that is not a bool, or why the evaluation was stopped.
    pub message: String,
}

/// What one matching rule found on one object.
#[derive(Debug, Clone)]
pub struct RuleResult<'r> {
    /// The rule.
    pub rule: &'r CompiledRule,
    /// Its violations: at most one, or one per container for a per-container rule; empty when none.
    pub violations: Vec<Violation>,
    /// Its evaluation errors: at most one, or one per container for a per-container rule.
    pub errors: Vec<EvaluationError>,
    /// What its cluster lookups read: when one of those changes, the result may change.
    pub reads: Vec<ClusterRead>,
    /// The exception that exempted the object from the rule (`PortalException/ns/name`): the
    /// rule was not evaluated, and its result is a skip.
    pub exception: Option<Arc<str>>,
}

/// The verdict of one rule on one object, in PolicyReport terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Evaluated, with neither a violation nor an error.
    Pass,
    /// At least one violation.
    Fail,
    /// No violation, but at least one evaluation error.
    Error,
    /// Not evaluated: an exception exempts the object from the rule.
    Skip,
}

impl<'r> RuleResult<'r> {
    /// The result of `rule` on an object `exception` exempts from it.
    pub(crate) fn exempted(rule: &'r CompiledRule, exception: Arc<str>) -> RuleResult<'r> {
        RuleResult { rule, violations: Vec::new(), errors: Vec::new(), reads: Vec::new(), exception: Some(exception) }
    }

    /// `skip` when an exception exempted the object, else `fail` when anything violated, else
    /// `error` when anything failed to evaluate, else `pass`.
    pub fn outcome(&self) -> Outcome {
        if self.exception.is_some() {
            Outcome::Skip
        } else if !self.violations.is_empty() {
            Outcome::Fail
        } else if !self.errors.is_empty() {
            Outcome::Error
        } else {
            Outcome::Pass
        }
    }
}

/// Kubernetes' limit on a `messageExpression` result.
const MAX_MESSAGE_BYTES: usize = 5 * 1024;

pub(crate) fn evaluate_rule<'r>(
    env: &Arc<Env>,
    rule: &'r CompiledRule,
    activation: &Activation<'_>,
    budget: &Budget,
) -> RuleResult<'r> {
    let mut result =
        RuleResult { rule, violations: Vec::new(), errors: Vec::new(), reads: Vec::new(), exception: None };
    let ((), reads) = context::for_rule(rule.namespace(), || {
        if rule.per_container {
            for index in 0..activation.container_count() {
                evaluate_once(env, rule, activation, Some(index), budget, &mut result);
            }
        } else {
            evaluate_once(env, rule, activation, None, budget, &mut result);
        }
    });
    result.reads = reads;
    result
}

fn evaluate_once(
    env: &Arc<Env>,
    rule: &CompiledRule,
    activation: &Activation<'_>,
    container: Option<usize>,
    budget: &Budget,
    result: &mut RuleResult<'_>,
) {
    let bindings = activation.bindings(container);
    let mut context = Context::with_env(Arc::clone(env));
    context.set_variable_resolver(&bindings);
    // Only a violation or an error needs the container's name: don't allocate it otherwise.
    let container_name = || container.and_then(|index| activation.container_name(index)).map(str::to_owned);
    let outcome = match budget::within(budget, || rule.program.execute(&context)) {
        Ok(outcome) => outcome,
        Err(stopped) => {
            result.errors.push(EvaluationError { container: container_name(), message: stopped_message(stopped) });
            return;
        }
    };
    match outcome {
        Ok(Value::Bool(false)) => {}
        Ok(Value::Bool(true)) => {
            let message = message(rule, &context, budget);
            result.violations.push(violation(rule, activation, container_name(), message));
        }
        Ok(other) => result.errors.push(EvaluationError {
            container: container_name(),
            message: format!("rule returned {} instead of bool (true means violation)", other.type_of()),
        }),
        Err(error) => result.errors.push(EvaluationError { container: container_name(), message: error.to_string() }),
    }
}

/// Whether a boolean `program` (an exception's condition) is true on the object; an error, a
/// non-bool or a stopped evaluation is not.
pub(crate) fn holds(program: &cel::Program, activation: &Activation<'_>, budget: &Budget) -> bool {
    let bindings = activation.bindings(None);
    let Ok(env) = crate::environment::environment() else { return false };
    let mut context = Context::with_env(Arc::clone(env));
    context.set_variable_resolver(&bindings);
    matches!(budget::within(budget, || program.execute(&context)), Ok(Ok(Value::Bool(true))))
}

/// `messageExpression` when it yields a usable string, as Kubernetes decides it; else `message`;
/// else a message naming the rule.
fn message(rule: &CompiledRule, context: &Context<'_, '_>, budget: &Budget) -> String {
    if let Some(program) = &rule.message_program
        && let Ok(Ok(Value::String(text))) = budget::within(budget, || program.execute(context))
    {
        let text = text.trim();
        if !text.is_empty() && !text.contains(['\n', '\r']) && text.len() <= MAX_MESSAGE_BYTES {
            return text.to_owned();
        }
    }
    rule.spec.message.clone().unwrap_or_else(|| format!("failed rule {}", rule.name))
}

/// Why an evaluation was stopped, and what to do about it.
pub(crate) fn stopped_message(stopped: Stopped) -> String {
    match stopped {
        Stopped::Iterations { limit } => format!(
            "evaluation stopped: the rule's comprehensions would visit more than {limit} elements \
             (rules.limits.maxIterations)"
        ),
        Stopped::Cancelled => "evaluation stopped: the admission deadline passed".to_owned(),
    }
}

fn violation(
    rule: &CompiledRule,
    activation: &Activation<'_>,
    container: Option<String>,
    message: String,
) -> Violation {
    Violation {
        timestamp: activation.time(),
        ..Violation::on_object(
            Arc::clone(&rule.name),
            rule.spec.severity,
            rule.spec.mode.clone(),
            rule.spec.enforcement_action,
            activation.identity(),
            container,
            message,
        )
    }
}

impl Violation {
    /// A violation, found now (by the system clock; the Unix epoch where there is none), of the rule named `rule` (with its severity, modes and action) on
    /// the object `identity`; for checks that are not rules too (the network analysis).
    pub fn on_object(
        rule: Arc<str>,
        severity: Severity,
        mode: Vec<Mode>,
        enforcement_action: EnforcementAction,
        identity: &ObjectIdentity,
        container: Option<String>,
        message: String,
    ) -> Violation {
        Violation {
            rule,
            severity,
            mode,
            enforcement_action,
            group: identity.group.clone(),
            version: identity.version.clone(),
            kind: identity.kind.clone(),
            namespace: identity.namespace.clone(),
            name: identity.name.clone(),
            uid: identity.uid.clone(),
            container,
            message,
            timestamp: crate::activation::system_clock().unwrap_or(SystemTime::UNIX_EPOCH),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::format_rfc3339;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(format_rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap_day = SystemTime::UNIX_EPOCH + Duration::from_secs(1_709_210_096);
        assert_eq!(format_rfc3339(leap_day), "2024-02-29T12:34:56Z");
        let later = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_835_276);
        assert_eq!(format_rfc3339(later), "2026-11-28T03:07:56Z");
    }
}
