//! One free-standing expression in the full rule environment: what `portal eval` runs.

use std::sync::Arc;

use cel::Context;
use serde_json::Value as Json;

use crate::activation::Activation;
use crate::compile::{Problem, checked_program};
use crate::value::to_json;

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpressionError {
    /// It is refused before it runs: not CEL, an unknown name, a type error, or over the size,
    /// depth or cost limits of a rule.
    #[error("does not compile: line {line}, column {column}: {message}")]
    Compile {
        /// 1-based line within the expression (1 when the problem has no place).
        line: usize,
        /// 1-based column within that line.
        column: usize,
        /// Why it is refused.
        message: String,
    },
    /// A literal regular expression in it does not compile.
    #[error("invalid regular expression {pattern:?}: {message}")]
    Regex {
        /// The pattern as written.
        pattern: String,
        /// Why the pattern does not compile.
        message: String,
    },
    /// Evaluating it failed: a CEL error, or the evaluation budget stopped it.
    #[error("evaluation failed{}: {message}", container.as_deref().map(|c| format!(" for container {c}")).unwrap_or_default())]
    Evaluate {
        /// The container evaluated, when the expression reads `container`; `None` otherwise.
        container: Option<String>,
        /// Why it failed.
        message: String,
    },
    /// Portal's CEL environment could not be built (a bug in Portal); holds the reason.
    #[error("building the CEL environment failed (a bug in Portal; please report it): {0}")]
    Environment(String),
}

/// Compiles and evaluates `source` against `activation`. An expression that mentions
/// `container` is evaluated once per container and yields a map from container name to result.
pub fn evaluate_expression(source: &str, activation: &Activation<'_>) -> Result<Json, ExpressionError> {
    let env = crate::environment::environment().map_err(|e| ExpressionError::Environment(e.to_string()))?;
    let limits = crate::RuleLimits::default();
    let program = checked_program(env, source, &limits, None).map_err(|problem| match problem {
        Problem::Compile { line, column, message } => ExpressionError::Compile { line, column, message },
        Problem::UnknownName { kind, name, line, column } => {
            let what = match kind {
                crate::NameKind::Variable => "unknown variable",
                crate::NameKind::Function => "unknown function",
            };
            ExpressionError::Compile { line, column, message: format!("{what} `{name}`{}", kind.advice(&name)) }
        }
        Problem::Regex { pattern, message } => ExpressionError::Regex { pattern, message },
        Problem::Cost { estimate } => ExpressionError::Compile {
            line: 1,
            column: 1,
            message: format!(
                "the expression could cost up to {} on an object of {}, over the limit of {}: bound what it \
                 iterates over, or avoid loops nested over the whole object",
                crate::cost::display_cost(&estimate),
                crate::cost::display_bytes(&limits.largest_object_bytes),
                crate::cost::display_cost(&limits.max_estimated_cost)
            ),
        },
        // Nothing is expected of a free-standing expression's type.
        Problem::WrongType { found } => {
            ExpressionError::Compile { line: 1, column: 1, message: format!("unexpected type {}", found.name()) }
        }
    })?;
    let budget = portal_cel::budget::Budget { max_iterations: limits.max_iterations, cancel: None };
    let run = |container: Option<usize>| {
        let bindings = activation.bindings(container);
        let mut context = Context::with_env(Arc::clone(env));
        context.set_variable_resolver(&bindings);
        let container_name = || container.and_then(|i| activation.container_name(i)).map(str::to_owned);
        let outcome = portal_cel::budget::within(&budget, || program.execute(&context)).map_err(|stopped| {
            ExpressionError::Evaluate {
                container: container_name(),
                message: crate::evaluate::stopped_message(stopped),
            }
        })?;
        outcome
            .map(|value| to_json(&value))
            .map_err(|error| ExpressionError::Evaluate { container: container_name(), message: error.to_string() })
    };
    if !crate::references::reads_rule_variable(&program, "container") {
        return run(None);
    }
    let mut results = serde_json::Map::new();
    for index in 0..activation.container_count() {
        let name = activation.container_name(index).map_or_else(|| format!("#{index}"), str::to_owned);
        results.insert(name, run(Some(index))?);
    }
    Ok(Json::Object(results))
}
