//! The kinds an expression reads through lookups, found from the expression alone. Each
//! lookup's `apiVersion` and `kind` must be literal strings: a kind computed at run time could
//! not be watched before the rule runs.

use cel::Program;
use cel::common::ast::{Expr, IdedExpr, LiteralValue};

use super::functions::{GET_FUNCTION, LIST_FUNCTION};
use super::view::LookupTarget;

/// A lookup whose target is not literal: where (the call's expression id) and what was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NonLiteralTarget {
    pub id: u64,
    pub message: String,
}

/// The kinds `program` reads, sorted and without repeats; or the first lookup whose `apiVersion`
/// or `kind` is not a literal string.
pub(crate) fn lookup_targets(program: &Program) -> Result<Vec<LookupTarget>, NonLiteralTarget> {
    let mut found = Vec::new();
    visit(program.expression(), &mut found)?;
    found.sort();
    found.dedup();
    Ok(found)
}

fn visit(expr: &IdedExpr, found: &mut Vec<LookupTarget>) -> Result<(), NonLiteralTarget> {
    if let Expr::Call(call) = &expr.expr {
        let written = match call.func_name.as_str() {
            GET_FUNCTION => Some("cluster.get"),
            LIST_FUNCTION => Some("cluster.list"),
            _ => None,
        };
        if let Some(written) = written {
            found.push(target(expr.id, written, &call.args)?);
        }
    }
    // Depth was bounded before (`limits::check_depth`): recursion is safe here.
    crate::ast::children(expr).into_iter().try_for_each(|child| visit(child, found))
}

fn target(id: u64, written: &str, args: &[IdedExpr]) -> Result<LookupTarget, NonLiteralTarget> {
    let literal = |index: usize| match args.get(index).map(|arg| &arg.expr) {
        Some(Expr::Literal(LiteralValue::String(text))) if !text.inner().is_empty() => Some(text.inner().to_owned()),
        _ => None,
    };
    match (literal(0), literal(1)) {
        (Some(api_version), Some(kind)) => Ok(LookupTarget::new(api_version, kind)),
        _ => Err(NonLiteralTarget {
            // At the argument that is not literal.
            id: args
                .iter()
                .take(2)
                .find(|arg| !matches!(&arg.expr, Expr::Literal(LiteralValue::String(_))))
                .map_or(id, |arg| arg.id),
            message: format!(
                "{written} needs its apiVersion and kind as literal strings, e.g. {written}(\"v1\", \"ConfigMap\", …), \
                 so that Portal knows from the rule which kinds to watch before it runs; compute only the \
                 namespace, name or labels"
            ),
        }),
    }
}
