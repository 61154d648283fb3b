//! Errors of loading and compiling rules. Evaluation errors are not errors of this kind: they
//! are part of a rule's result (see [`crate::RuleResult`]).

use std::fmt;

use crate::references::NameKind;

/// Where a rule or document came from: a file (and the line its document starts on) or an object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    /// A file path, `-` for standard input, or `PortalClusterRule/name` for a cluster object.
    pub source: String,
    /// 1-based line where the document starts, when known.
    pub line: Option<usize>,
}

impl Origin {
    pub fn new(source: impl Into<String>, line: Option<usize>) -> Origin {
        Origin { source: source.into(), line }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.source),
            None => f.write_str(&self.source),
        }
    }
}

/// Which expression of a rule an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpressionField {
    Rule,
    MessageExpression,
}

impl fmt::Display for ExpressionField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExpressionField::Rule => "rule",
            ExpressionField::MessageExpression => "messageExpression",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{origin}: not valid YAML or JSON: {message}")]
    ParseDocument { origin: Origin, message: String },

    #[error("{origin}: field `{path}`: {message}")]
    InvalidField { origin: Origin, path: String, message: String },

    #[error("{origin}: rule {rule:?}: `{field}` does not compile: line {line}, column {column}: {message}")]
    CompileExpression {
        origin: Origin,
        rule: String,
        field: ExpressionField,
        line: usize,
        column: usize,
        message: String,
    },

    #[error("{origin}: rule {rule:?}: `{field}` {} `{name}` at line {line}, column {column}{}", kind.what(), kind.advice(name))]
    UnknownName {
        origin: Origin,
        rule: String,
        field: ExpressionField,
        kind: NameKind,
        name: String,
        line: usize,
        column: usize,
    },

    #[error("{origin}: rule {rule:?}: `{field}` must evaluate to {expected}, but it evaluates to type {found}")]
    ExpressionType { origin: Origin, rule: String, field: ExpressionField, expected: &'static str, found: String },

    #[error("{origin}: rule {rule:?}: `{field}`: invalid regular expression {pattern:?}: {message}")]
    InvalidRegex { origin: Origin, rule: String, field: ExpressionField, pattern: String, message: String },

    #[error(
        "{origin}: rule {rule:?}: `{field}` could cost up to {} on an object of {}, over the limit of {} \
         (rules.limits.maxEstimatedCost): bound what it iterates over, or avoid loops nested over the whole object",
        crate::cost::display_cost(.estimate), crate::cost::display_bytes(.largest_object_bytes), crate::cost::display_cost(.limit)
    )]
    CostLimit {
        origin: Origin,
        rule: String,
        field: ExpressionField,
        estimate: f64,
        limit: f64,
        largest_object_bytes: f64,
    },

    #[error("{origin}: exception {exception:?}: `spec.condition` is refused{}: {message}", at(.position))]
    ExceptionCondition { origin: Origin, exception: String, position: Option<(usize, usize)>, message: String },

    #[error("{origin}: rule name {name:?} is already used by the rule at {first}; rule names must be unique")]
    DuplicateRuleName { origin: Origin, name: String, first: Origin },

    #[error("building the CEL environment failed (a bug in Portal; please report it)")]
    Environment(#[source] cel::DeclarationError),
}

impl Error {
    /// Where the problem is.
    pub fn origin(&self) -> Option<&Origin> {
        match self {
            Error::ParseDocument { origin, .. }
            | Error::InvalidField { origin, .. }
            | Error::CompileExpression { origin, .. }
            | Error::ExpressionType { origin, .. }
            | Error::UnknownName { origin, .. }
            | Error::InvalidRegex { origin, .. }
            | Error::CostLimit { origin, .. }
            | Error::ExceptionCondition { origin, .. }
            | Error::DuplicateRuleName { origin, .. } => Some(origin),
            Error::Environment(_) => None,
        }
    }
}

fn at(position: &Option<(usize, usize)>) -> String {
    position.map(|(line, column)| format!(" at line {line}, column {column}")).unwrap_or_default()
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
