//! One free-standing expression in the full rule environment: what `portal eval` runs.

use std::sync::Arc;

use cel::Context;
use serde_json::Value as Json;

use crate::activation::Activation;
use crate::value::to_json;

/// Why an expression could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpressionError {
    #[error("line {line}, column {column}: {message}")]
    Compile { line: usize, column: usize, message: String },
    #[error("invalid regular expression {pattern:?}: {message}")]
    Regex { pattern: String, message: String },
    #[error("evaluation failed{}: {message}", container.as_deref().map(|c| format!(" for container {c}")).unwrap_or_default())]
    Evaluate { container: Option<String>, message: String },
    #[error("building the CEL environment failed (a bug in Portal; please report it): {0}")]
    Environment(String),
}

/// Compiles and evaluates `source` against `activation`. An expression that mentions
/// `container` is evaluated once per container and yields a map from container name to result.
pub fn evaluate_expression(source: &str, activation: &Activation<'_>) -> Result<Json, ExpressionError> {
    let env = crate::environment::environment().map_err(|e| ExpressionError::Environment(e.to_string()))?;
    let breach = |breach: crate::limits::LimitBreach| ExpressionError::Compile {
        line: breach.line,
        column: breach.column,
        message: breach.message,
    };
    crate::limits::check_size(source).map_err(breach)?;
    let program = env.compile(source).map_err(|errors| {
        let first = errors.errors.first();
        ExpressionError::Compile {
            line: first.map_or(1, |e| e.pos.0.max(1) as usize),
            column: first.map_or(1, |e| e.pos.1.max(1) as usize),
            message: first.map_or_else(|| errors.to_string(), |e| e.msg.clone()),
        }
    })?;
    crate::limits::check_depth(&program, source).map_err(breach)?;
    if let Some((kind, unknown)) = crate::references::first_unknown_name(env, &program, source) {
        let what = match kind {
            crate::NameKind::Variable => "unknown variable",
            crate::NameKind::Function => "unknown function",
        };
        return Err(ExpressionError::Compile {
            line: unknown.line,
            column: unknown.column,
            message: format!("{what} `{}`{}", unknown.name, kind.advice(&unknown.name)),
        });
    }
    portal_cel::regex_cache::precompile_literals(&program).map_err(|(pattern, error)| ExpressionError::Regex {
        pattern,
        message: crate::compile::regex_message(&error),
    })?;
    let run = |container: Option<usize>| {
        let bindings = activation.bindings(container);
        let mut context = Context::with_env(Arc::clone(env));
        context.set_variable_resolver(&bindings);
        program.execute(&context).map(|value| to_json(&value)).map_err(|error| ExpressionError::Evaluate {
            container: container.and_then(|i| activation.container_name(i)).map(str::to_owned),
            message: error.to_string(),
        })
    };
    if !program.references().has_variable("container") {
        return run(None);
    }
    let mut results = serde_json::Map::new();
    for index in 0..activation.container_count() {
        let name = activation.container_name(index).map_or_else(|| format!("#{index}"), str::to_owned);
        results.insert(name, run(Some(index))?);
    }
    Ok(Json::Object(results))
}
