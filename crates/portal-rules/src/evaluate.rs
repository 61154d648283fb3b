//! Evaluating one compiled rule on one object: violations, messages and evaluation errors.

use std::sync::Arc;
use std::time::SystemTime;

use cel::{Context, Env, Value};
use serde::Serialize;

use crate::activation::{Activation, ObjectIdentity};
use crate::compile::CompiledRule;
use crate::schema::{EnforcementAction, Mode, Severity};

/// One object that violates one rule (in one container, for per-container rules).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Violation {
    pub rule: Arc<str>,
    pub severity: Severity,
    /// The modes the rule runs in.
    pub mode: Vec<Mode>,
    pub enforcement_action: EnforcementAction,
    pub group: String,
    pub version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    pub message: String,
    #[serde(skip)]
    pub timestamp: SystemTime,
}

/// A rule that could not be evaluated on an object. Never a violation; at admission the rule's
/// `failurePolicy` decides what it means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvaluationError {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    pub message: String,
}

/// What one matching rule found on one object.
#[derive(Debug, Clone)]
pub struct RuleResult<'r> {
    pub rule: &'r CompiledRule,
    pub violations: Vec<Violation>,
    pub errors: Vec<EvaluationError>,
}

/// The verdict of one rule on one object, in PolicyReport terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    Error,
}

impl RuleResult<'_> {
    /// `fail` when anything violated, else `error` when anything failed to evaluate, else `pass`.
    pub fn outcome(&self) -> Outcome {
        if !self.violations.is_empty() {
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

pub(crate) fn evaluate_rule<'r>(env: &Arc<Env>, rule: &'r CompiledRule, activation: &Activation<'_>) -> RuleResult<'r> {
    let mut result = RuleResult { rule, violations: Vec::new(), errors: Vec::new() };
    if rule.per_container {
        for index in 0..activation.container_count() {
            evaluate_once(env, rule, activation, Some(index), &mut result);
        }
    } else {
        evaluate_once(env, rule, activation, None, &mut result);
    }
    result
}

fn evaluate_once(
    env: &Arc<Env>,
    rule: &CompiledRule,
    activation: &Activation<'_>,
    container: Option<usize>,
    result: &mut RuleResult<'_>,
) {
    let bindings = activation.bindings(container);
    let mut context = Context::with_env(Arc::clone(env));
    context.set_variable_resolver(&bindings);
    let container_name = container.and_then(|index| activation.container_name(index)).map(str::to_owned);
    match rule.program.execute(&context) {
        Ok(Value::Bool(false)) => {}
        Ok(Value::Bool(true)) => {
            let message = message(rule, &context);
            result.violations.push(violation(rule, activation.identity(), container_name, message));
        }
        Ok(other) => result.errors.push(EvaluationError {
            container: container_name,
            message: format!("rule returned {} instead of bool (true means violation)", other.type_of()),
        }),
        Err(error) => result.errors.push(EvaluationError { container: container_name, message: error.to_string() }),
    }
}

/// `messageExpression` when it yields a usable string, as Kubernetes decides it; else `message`;
/// else a message naming the rule.
fn message(rule: &CompiledRule, context: &Context<'_, '_>) -> String {
    if let Some(program) = &rule.message_program
        && let Ok(Value::String(text)) = program.execute(context)
    {
        let text = text.trim();
        if !text.is_empty() && !text.contains(['\n', '\r']) && text.len() <= MAX_MESSAGE_BYTES {
            return text.to_owned();
        }
    }
    rule.spec.message.clone().unwrap_or_else(|| format!("failed rule {}", rule.name))
}

fn violation(rule: &CompiledRule, identity: &ObjectIdentity, container: Option<String>, message: String) -> Violation {
    Violation {
        rule: Arc::clone(&rule.name),
        severity: rule.spec.severity,
        mode: rule.spec.mode.clone(),
        enforcement_action: rule.spec.enforcement_action,
        group: identity.group.clone(),
        version: identity.version.clone(),
        kind: identity.kind.clone(),
        namespace: identity.namespace.clone(),
        name: identity.name.clone(),
        uid: identity.uid.clone(),
        container,
        message,
        timestamp: SystemTime::now(),
    }
}
