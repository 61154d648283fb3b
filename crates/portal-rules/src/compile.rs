//! Compiling a [`LoadedRule`] into a [`CompiledRule`]: CEL parsed once, literal regular
//! expressions compiled once, per-container evaluation decided from the expression.

use std::sync::Arc;

use cel::{Env, Program};

use crate::cluster::LookupTarget;
use crate::cluster::targets::lookup_targets;
use crate::error::{Error, ExpressionField, Origin};
use crate::limits::RuleLimits;
use crate::load::LoadedRule;
use crate::references::{ExpressionUses, NameKind, expression_uses, first_unknown_name};
use crate::schema::RuleSpec;
use crate::types::Type;

/// A rule ready to evaluate. Immutable and shareable across threads.
#[derive(Debug)]
pub struct CompiledRule {
    pub(crate) name: Arc<str>,
    pub(crate) spec: RuleSpec,
    pub(crate) origin: Origin,
    pub(crate) namespace: Option<String>,
    pub(crate) program: Program,
    pub(crate) message_program: Option<Program>,
    /// The rule reads the rule variable `container`: evaluate it once per container.
    pub(crate) per_container: bool,
    /// The kinds its cluster lookups read (rule and message), sorted.
    pub(crate) lookups: Vec<LookupTarget>,
    /// Its response actions, checked at load.
    pub(crate) actions: Vec<crate::actions::Action>,
}

impl CompiledRule {
    /// The rule's name, unique within its [`crate::RuleSet`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The name, shared: for indexes that hold it per object (cloning it allocates nothing).
    pub fn shared_name(&self) -> Arc<str> {
        Arc::clone(&self.name)
    }

    /// The rule as loaded and validated.
    pub fn spec(&self) -> &RuleSpec {
        &self.spec
    }

    /// Where the rule came from: the file and the line its document starts on, or the resource.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The namespace a `PortalRule` is confined to.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// Whether the rule is evaluated once per container.
    pub fn is_per_container(&self) -> bool {
        self.per_container
    }

    /// The kinds its `cluster.get`/`cluster.list` calls read: what must be watched before it runs.
    pub fn lookups(&self) -> &[LookupTarget] {
        &self.lookups
    }

    /// Its response actions (`actions`, then the `alert` shorthand).
    pub fn actions(&self) -> &[crate::actions::Action] {
        &self.actions
    }

    /// The variables, functions and fields its `rule` expression uses.
    pub fn rule_uses(&self) -> ExpressionUses {
        expression_uses(&self.program)
    }

    /// The first list or map literal of its `rule` or `messageExpression` that mixes `dyn`
    /// with another type, which Kubernetes rejects where objects have no schema (see
    /// `portal export vap`): the field, line, column and message.
    pub fn strict_literal_error(&self) -> Option<(ExpressionField, usize, usize, String)> {
        let expressions = [(ExpressionField::Rule, Some(&self.program), Some(self.spec.rule.as_str()))]
            .into_iter()
            .chain(std::iter::once((
                ExpressionField::MessageExpression,
                self.message_program.as_ref(),
                self.spec.message_expression.as_deref(),
            )));
        for (field, program, source) in expressions {
            let (Some(program), Some(source)) = (program, source) else { continue };
            if let Err(error) = crate::types::check_strict_literals(program) {
                let (line, column) = crate::references::line_and_column(source, error.offset);
                return Some((field, line, column, error.message));
            }
        }
        None
    }

    /// The same for its `messageExpression`, when it has one.
    pub fn message_uses(&self) -> Option<ExpressionUses> {
        self.message_program.as_ref().map(expression_uses)
    }
}

/// Compiles one rule against `env`, within `limits`.
pub fn compile_rule(env: &Arc<Env>, rule: LoadedRule, limits: &RuleLimits) -> Result<CompiledRule, Error> {
    let program = compile_expression(env, &rule, ExpressionField::Rule, &rule.spec.rule, limits, Type::Bool)?;
    let message_program = match &rule.spec.message_expression {
        Some(source) => {
            Some(compile_expression(env, &rule, ExpressionField::MessageExpression, source, limits, Type::String)?)
        }
        None => None,
    };
    let per_container = crate::references::reads_rule_variable(&program, "container");
    let mut lookups = lookup_targets(&program).unwrap_or_default();
    if let Some(message) = &message_program {
        lookups.extend(lookup_targets(message).unwrap_or_default());
        lookups.sort();
        lookups.dedup();
    }
    // Loading refused every rule whose actions have problems: these are all of them.
    let actions = crate::actions::rule_actions(&rule.spec).0;
    Ok(CompiledRule {
        actions,
        name: Arc::from(rule.name.as_str()),
        spec: rule.spec,
        origin: rule.origin,
        namespace: rule.namespace,
        program,
        message_program,
        per_container,
        lookups,
    })
}

fn compile_expression(
    env: &Arc<Env>,
    rule: &LoadedRule,
    field: ExpressionField,
    source: &str,
    limits: &RuleLimits,
    expected: Type,
) -> Result<Program, Error> {
    let (origin, name) = (rule.origin.clone(), rule.name.clone());
    checked_program(env, source, limits, Some(&expected)).map_err(|problem| match problem {
        Problem::Compile { line, column, message } => {
            Error::CompileExpression { origin, rule: name, field, line, column, message }
        }
        Problem::UnknownName { kind, name: unknown, line, column } => {
            Error::UnknownName { origin, rule: name, field, kind, name: unknown, line, column }
        }
        Problem::WrongType { found } => Error::ExpressionType {
            origin,
            rule: name,
            field,
            expected: match field {
                ExpressionField::Rule => "a bool (true means violation)",
                ExpressionField::MessageExpression => "a string",
            },
            found: found.name(),
        },
        Problem::Regex { pattern, message } => Error::InvalidRegex { origin, rule: name, field, pattern, message },
        Problem::Cost { estimate } => Error::CostLimit {
            origin,
            rule: name,
            field,
            estimate,
            limit: limits.max_estimated_cost,
            largest_object_bytes: limits.largest_object_bytes,
        },
    })
}

/// Why an expression is refused at load, before it is placed in a rule or in `portal eval`.
pub(crate) enum Problem {
    /// Too long or deep, not CEL, or a type error.
    Compile {
        line: usize,
        column: usize,
        message: String,
    },
    UnknownName {
        kind: NameKind,
        name: String,
        line: usize,
        column: usize,
    },
    /// The expression's type cannot be the one expected of it.
    WrongType {
        found: Type,
    },
    Regex {
        pattern: String,
        message: String,
    },
    /// The estimated worst case is over `limits.max_estimated_cost`.
    Cost {
        estimate: f64,
    },
}

/// Every check an expression passes at load, in order: size, syntax, depth, names, types (and,
/// when `expected` is given, that its type can be that), literal regular expressions, cost.
pub(crate) fn checked_program(
    env: &Arc<Env>,
    source: &str,
    limits: &RuleLimits,
    expected: Option<&Type>,
) -> Result<Program, Problem> {
    let breach = |breach: crate::limits::LimitBreach| Problem::Compile {
        line: breach.line,
        column: breach.column,
        message: breach.message,
    };
    crate::limits::check_size(source).map_err(breach)?;
    let program = env.compile(source).map_err(|errors| {
        let first = errors.errors.first();
        let (line, column) = first.map_or((1, 1), |e| (e.pos.0.max(1) as usize, e.pos.1.max(1) as usize));
        let message = first.map_or_else(|| errors.to_string(), |e| readable_parse_message(&e.msg));
        Problem::Compile { line, column, message }
    })?;
    crate::limits::check_depth(&program, source).map_err(breach)?;
    if let Some((kind, unknown)) = first_unknown_name(env, &program, source) {
        return Err(Problem::UnknownName { kind, name: unknown.name, line: unknown.line, column: unknown.column });
    }
    if let Err(non_literal) = lookup_targets(&program) {
        let (line, column) = program
            .source_info()
            .offset_for(non_literal.id)
            .map_or((1, 1), |(start, _)| crate::references::line_and_column(source, start as usize));
        return Err(Problem::Compile { line, column, message: non_literal.message });
    }
    let found = crate::types::check(&program).map_err(|error| {
        let (line, column) = crate::references::line_and_column(source, error.offset);
        Problem::Compile { line, column, message: error.message }
    })?;
    if let Some(expected) = expected
        && !found.compatible(expected)
    {
        return Err(Problem::WrongType { found });
    }
    portal_cel::regex_cache::precompile_literals(&program)
        .map_err(|(pattern, error)| Problem::Regex { pattern, message: regex_message(&error) })?;
    let estimate = crate::cost::estimate_cost(&program, limits.largest_object_bytes);
    // An estimate that is not a number is over any limit.
    if estimate.is_nan() || estimate > limits.max_estimated_cost {
        return Err(Problem::Cost { estimate });
    }
    Ok(program)
}

/// The regex crate's syntax errors span several lines (pattern, caret, reason): keep the reason.
pub(crate) fn regex_message(error: &regex::Error) -> String {
    let text = error.to_string();
    text.lines()
        .find_map(|line| line.trim().strip_prefix("error: "))
        .map_or_else(|| text.lines().next().unwrap_or_default().to_owned(), str::to_owned)
}

/// The parser's message, without the debug form of its internal error type that the `cel`
/// crate prints for some errors (`Syntax error: OtherError(ParseError { …, msg: "…", … })`).
fn readable_parse_message(message: &str) -> String {
    let Some((_, inner)) = message.split_once("OtherError(") else { return message.to_owned() };
    let Some((_, text)) = inner.split_once("msg: \"") else { return message.to_owned() };
    let text = text.split('"').next().unwrap_or_default();
    if text.starts_with("Recursion limit") {
        return format!(
            "the expression nests deeper than the parser allows ({}); split it",
            text.to_lowercase().replace(" exceeded", " levels")
        );
    }
    format!("Syntax error: {text}")
}

#[cfg(test)]
mod parse_message_tests {
    use super::readable_parse_message;

    #[test]
    fn the_parsers_internal_error_type_is_not_shown() {
        let raw = "Syntax error: OtherError(ParseError { source: None, pos: (96, -1), msg: \"Recursion limit of 96 \
                   exceeded\", expr_id: 0, source_info: None })";
        assert_eq!(
            readable_parse_message(raw),
            "the expression nests deeper than the parser allows (recursion limit of 96 levels); split it"
        );
        assert_eq!(readable_parse_message("Syntax error: mismatched input ')'"), "Syntax error: mismatched input ')'");
    }
}
