//! Errors of loading and compiling rules. Evaluation errors are not errors of this kind: they
//! are part of a rule's result (see [`crate::RuleResult`]).

use std::fmt;

use crate::references::NameKind;

/// Where a rule or document came from: a file (and the line its document starts on) or an object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    /// A file path, `-` for standard input, or `PortalClusterRule/name` for a cluster object.
    pub source: String,
    /// 1-based line: where the document starts, or where a YAML error was found in it; `None`
    /// for a cluster object.
    pub line: Option<usize>,
}

impl Origin {
    /// `source`, at the 1-based `line` when known.
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
    /// The `rule` expression: true means a violation.
    Rule,
    /// The `messageExpression`: the violation's message.
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

/// Why a rule or exception could not be loaded or compiled. Each error but
/// [`Error::Environment`] names where the problem is ([`Error::origin`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A document of the text is not valid YAML or JSON, or is over the parser's limits.
    #[error("{origin}: not valid YAML or JSON: {message}")]
    ParseDocument {
        /// The source, and the line of the error in it.
        origin: Origin,
        /// The parser's message, after the column when it has one.
        message: String,
    },

    /// A document is not a rule or an exception, or one of its fields is missing or invalid.
    #[error("{origin}: field `{path}`: {message}")]
    InvalidField {
        /// Where the document came from: file and the line it starts on, or the resource.
        origin: Origin,
        /// The field at fault, e.g. `spec.match.gvk[0].kind`; `(document)` for the whole document.
        path: String,
        /// What is wrong with the field.
        message: String,
    },

    /// An expression is refused at load: too long or too deeply nested, not valid CEL, a type
    /// error, or a cluster lookup whose apiVersion or kind is not a literal string.
    #[error("{origin}: rule {rule:?}: `{field}` does not compile: line {line}, column {column}: {message}")]
    CompileExpression {
        /// Where the rule came from: file and line, or the resource.
        origin: Origin,
        /// The rule's name.
        rule: String,
        /// The expression refused.
        field: ExpressionField,
        /// 1-based line within the expression.
        line: usize,
        /// 1-based column within that line.
        column: usize,
        /// Why the expression is refused.
        message: String,
    },

    /// An expression reads a variable or calls a function that does not exist.
    #[error("{origin}: rule {rule:?}: `{field}` {} `{name}` at line {line}, column {column}{}", kind.what(), kind.advice(name))]
    UnknownName {
        /// Where the rule came from: file and line, or the resource.
        origin: Origin,
        /// The rule's name.
        rule: String,
        /// The expression that uses the name.
        field: ExpressionField,
        /// Whether the name is used as a variable or as a function.
        kind: NameKind,
        /// The unknown name, as written.
        name: String,
        /// 1-based line within the expression.
        line: usize,
        /// 1-based column within that line.
        column: usize,
    },

    /// An expression's type cannot be the one its field needs: a bool for `rule`, a string for
    /// `messageExpression`.
    #[error("{origin}: rule {rule:?}: `{field}` must evaluate to {expected}, but it evaluates to type {found}")]
    ExpressionType {
        /// Where the rule came from: file and line, or the resource.
        origin: Origin,
        /// The rule's name.
        rule: String,
        /// The expression of the wrong type.
        field: ExpressionField,
        /// What the field must evaluate to, in words: `a bool (true means violation)` or `a string`.
        expected: &'static str,
        /// The CEL type it evaluates to.
        found: String,
    },

    /// A literal regular expression in an expression does not compile.
    #[error("{origin}: rule {rule:?}: `{field}`: invalid regular expression {pattern:?}: {message}")]
    InvalidRegex {
        /// Where the rule came from: file and line, or the resource.
        origin: Origin,
        /// The rule's name.
        rule: String,
        /// The expression the pattern is in.
        field: ExpressionField,
        /// The pattern as written.
        pattern: String,
        /// Why the pattern does not compile.
        message: String,
    },

    /// An expression's estimated worst-case cost is over the limit (`rules.limits.maxEstimatedCost`).
    #[error(
        "{origin}: rule {rule:?}: `{field}` could cost up to {} on an object of {}, over the limit of {} \
         (rules.limits.maxEstimatedCost): bound what it iterates over, or avoid loops nested over the whole object",
        crate::cost::display_cost(.estimate), crate::cost::display_bytes(.largest_object_bytes), crate::cost::display_cost(.limit)
    )]
    CostLimit {
        /// Where the rule came from: file and line, or the resource.
        origin: Origin,
        /// The rule's name.
        rule: String,
        /// The expression over the limit.
        field: ExpressionField,
        /// Its estimated worst-case cost ([`crate::estimate_cost`]); not finite when unbounded.
        estimate: f64,
        /// The limit it is over: [`crate::RuleLimits::max_estimated_cost`].
        limit: f64,
        /// The size of the largest object the estimate assumes, in bytes.
        largest_object_bytes: f64,
    },

    /// An exception's `spec.condition` is refused at load: it does not compile, is not a bool,
    /// could cost too much, reads `container`, or calls `cluster.get` or `cluster.list`.
    #[error("{origin}: exception {exception:?}: `spec.condition` is refused{}: {message}", at(.position))]
    ExceptionCondition {
        /// Where the exception came from: file and line, or the resource.
        origin: Origin,
        /// The exception: `PortalException/namespace/name` or `PortalClusterException/name`.
        exception: String,
        /// 1-based line and column within the condition, when the problem has a place.
        position: Option<(usize, usize)>,
        /// Why the condition is refused.
        message: String,
    },

    /// A rule has the name of a rule before it in the same set; the later rule is left out.
    #[error("{origin}: rule name {name:?} is already used by the rule at {first}; rule names must be unique")]
    DuplicateRuleName {
        /// Where the later rule came from: file and line, or the resource.
        origin: Origin,
        /// The name both rules have.
        name: String,
        /// Where the rule that keeps the name came from.
        first: Origin,
    },

    /// Portal's CEL environment could not be built: a bug in Portal, not in the rules.
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

/// A result whose error is, by default, this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
