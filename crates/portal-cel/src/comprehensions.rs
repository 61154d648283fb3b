//! The standard macros — `has`, `all`, `exists`, `exists_one` (`existsOne`), `map` and `filter` —
//! expanded as CEL specifies, except that every comprehension's range goes through
//! [`crate::budget::BUDGET_FUNCTION`], so that each evaluation is bounded.
//!
//! The expansions have exactly the shapes of the `cel` crate's own (`@result && p`, `@result + [f]`
//! with a literal `true` condition, …): its interpreter recognises those shapes for its fast paths
//! and for how `all`/`exists` absorb errors. An environment using these macros must not also have
//! the standard ones: build it with `Env::default().with_stdlib()`, not `Env::stdlib()`.

use cel::common::ast::{CallExpr, ComprehensionExpr, Expr, IdedExpr, ListExpr, LiteralValue, operators};
use cel::parser::{Macro, MacroExprHelper, ParseError};
use cel::{DeclarationError, Env};

use crate::budget::BUDGET_FUNCTION;

/// The accumulator's name; `@` keeps it out of reach of expressions.
const RESULT: &str = "@result";

pub(crate) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_macro(Macro::global(operators::HAS, 1, has))?;
    env.add_macro(Macro::receiver(operators::ALL, 2, all))?;
    env.add_macro(Macro::receiver(operators::EXISTS, 2, exists))?;
    env.add_macro(Macro::receiver(operators::EXISTS_ONE, 2, exists_one))?;
    env.add_macro(Macro::receiver("existsOne", 2, exists_one))?;
    env.add_macro(Macro::receiver(operators::MAP, 2, map))?;
    env.add_macro(Macro::receiver(operators::MAP, 3, map))?;
    env.add_macro(Macro::receiver(operators::FILTER, 2, filter))?;
    env.add_macro(Macro::receiver("bind", 3, bind))?;
    Ok(())
}

pub(crate) type Expansion = Result<Option<IdedExpr>, ParseError>;

/// `has(a.f)`: a presence test of the selection.
fn has(helper: &mut MacroExprHelper<'_>, _target: &mut Option<IdedExpr>, args: &mut Vec<IdedExpr>) -> Expansion {
    let Some(argument) = args.pop() else {
        return Ok(None);
    };
    match argument.expr {
        Expr::Select(mut select) => {
            select.test = true;
            Ok(Some(helper.next_expr(Expr::Select(select))))
        }
        _ => Err(helper.new_error(argument.id, "invalid argument to has() macro")),
    }
}

/// `r.all(x, p)`: `@result = true`, continue while `@result` is not false, `@result && p`.
pub(crate) fn all(
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Expansion {
    short_circuiting(helper, target, args, Connective::And)
}

/// `r.exists(x, p)`: `@result = false`, continue while `@result` is not true, `@result || p`.
pub(crate) fn exists(
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Expansion {
    short_circuiting(helper, target, args, Connective::Or)
}

/// How `all` and `exists` combine the elements' answers.
#[derive(Clone, Copy, PartialEq)]
enum Connective {
    And,
    Or,
}

/// `all` and `exists`: they differ only in their connective, the accumulator's start (the
/// connective's identity) and the value that stops the loop (its absorbing one).
fn short_circuiting(
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
    connective: Connective,
) -> Expansion {
    let Some((range, var, predicate)) = range_var_body(helper, target, args)? else {
        return Ok(None);
    };
    let init = literal(helper, LiteralValue::Boolean((connective == Connective::And).into()));
    let accumulator = ident(helper, RESULT);
    let going_on = match connective {
        Connective::And => accumulator,
        Connective::Or => call(helper, operators::LOGICAL_NOT, vec![accumulator]),
    };
    let condition = call(helper, operators::NOT_STRICTLY_FALSE, vec![going_on]);
    let accumulator = ident(helper, RESULT);
    let function = match connective {
        Connective::And => operators::LOGICAL_AND,
        Connective::Or => operators::LOGICAL_OR,
    };
    let step = call(helper, function, vec![accumulator, predicate]);
    let result = ident(helper, RESULT);
    Ok(Some(comprehension(helper, range, var, init, condition, step, result)))
}

/// `r.exists_one(x, p)`: counts the elements for which `p` holds; true when exactly one does.
pub(crate) fn exists_one(
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Expansion {
    let Some((range, var, predicate)) = range_var_body(helper, target, args)? else {
        return Ok(None);
    };
    let init = literal(helper, LiteralValue::Int(0.into()));
    let condition = literal(helper, LiteralValue::Boolean(true.into()));
    let accumulator = ident(helper, RESULT);
    let one = literal(helper, LiteralValue::Int(1.into()));
    let incremented = call(helper, operators::ADD, vec![accumulator, one]);
    let unchanged = ident(helper, RESULT);
    let step = call(helper, operators::CONDITIONAL, vec![predicate, incremented, unchanged]);
    let accumulator = ident(helper, RESULT);
    let one = literal(helper, LiteralValue::Int(1.into()));
    let result = call(helper, operators::EQUALS, vec![accumulator, one]);
    Ok(Some(comprehension(helper, range, var, init, condition, step, result)))
}

/// `r.map(x, f)` and `r.map(x, p, f)`: `@result + [f]` for every element (for which `p` holds).
pub(crate) fn map(
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Expansion {
    let Some(transform) = args.pop() else {
        return Ok(None);
    };
    let guard = if args.len() == 2 { args.pop() } else { None };
    let Some(var) = args.pop() else {
        return Ok(None);
    };
    let Some((range, var, transform)) = range_var_body(helper, target, &mut vec![var, transform])? else {
        return Ok(None);
    };
    let step = append(helper, transform);
    let step = match guard {
        Some(guard) => {
            let unchanged = ident(helper, RESULT);
            call(helper, operators::CONDITIONAL, vec![guard, step, unchanged])
        }
        None => step,
    };
    let init = helper.next_expr(Expr::List(ListExpr::new(Vec::new())));
    let condition = literal(helper, LiteralValue::Boolean(true.into()));
    let result = ident(helper, RESULT);
    Ok(Some(comprehension(helper, range, var, init, condition, step, result)))
}

/// `r.filter(x, p)`: `@result + [x]` for every element for which `p` holds.
fn filter(helper: &mut MacroExprHelper<'_>, target: &mut Option<IdedExpr>, args: &mut Vec<IdedExpr>) -> Expansion {
    let Some((range, var, predicate)) = range_var_body(helper, target, args)? else {
        return Ok(None);
    };
    let element = ident(helper, &var);
    let step = append(helper, element);
    let unchanged = ident(helper, RESULT);
    let step = call(helper, operators::CONDITIONAL, vec![predicate, step, unchanged]);
    let init = helper.next_expr(Expr::List(ListExpr::new(Vec::new())));
    let condition = literal(helper, LiteralValue::Boolean(true.into()));
    let result = ident(helper, RESULT);
    Ok(Some(comprehension(helper, range, var, init, condition, step, result)))
}

/// `cel.bind(x, init, body)`, as Kubernetes' CEL has it: `body` with `x` bound to `init`,
/// evaluated once. A comprehension over an empty range whose accumulator is `x`, as cel-go
/// expands it; any other `y.bind(…)` is left as written.
fn bind(helper: &mut MacroExprHelper<'_>, target: &mut Option<IdedExpr>, args: &mut Vec<IdedExpr>) -> Expansion {
    if !matches!(target.as_ref().map(|t| &t.expr), Some(Expr::Ident(namespace)) if namespace == "cel") {
        return Ok(None);
    }
    let (Some(body), Some(init), Some(var)) = (args.pop(), args.pop(), args.pop()) else {
        return Ok(None);
    };
    let Expr::Ident(name) = var.expr else {
        return Err(helper.new_error(var.id, "cel.bind() variable name must be a simple identifier"));
    };
    Ok(Some(bound(helper, name, init, body)))
}

/// `body` with `name` bound to `init`: what `cel.bind` expands to.
pub(crate) fn bound(helper: &mut MacroExprHelper<'_>, name: String, init: IdedExpr, body: IdedExpr) -> IdedExpr {
    let range = helper.next_expr(Expr::List(ListExpr::new(Vec::new())));
    let condition = literal(helper, LiteralValue::Boolean(false.into()));
    let step = ident(helper, &name);
    helper.next_expr(Expr::Comprehension(Box::new(ComprehensionExpr {
        iter_range: range,
        iter_var: "#unused".to_owned(),
        iter_var2: None,
        accu_var: name,
        accu_init: init,
        loop_cond: condition,
        loop_step: step,
        result: body,
    })))
}

/// The range (through the budget), the variable's name and the body of `r.m(x, body)`. `None`
/// declines the expansion when the call does not have that shape (which the macros' arities
/// already guarantee).
fn range_var_body(
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Result<Option<(IdedExpr, String, IdedExpr)>, ParseError> {
    let (Some(range), Some(body), Some(var)) = (target.take(), args.pop(), args.pop()) else {
        return Ok(None);
    };
    let Expr::Ident(name) = var.expr else {
        return Err(helper.new_error(var.id, "argument must be a simple name"));
    };
    let range = call(helper, BUDGET_FUNCTION, vec![range]);
    Ok(Some((range, name, body)))
}

/// `@result + [element]`.
fn append(helper: &mut MacroExprHelper<'_>, element: IdedExpr) -> IdedExpr {
    let accumulator = ident(helper, RESULT);
    let single = helper.next_expr(Expr::List(ListExpr::new(vec![element])));
    call(helper, operators::ADD, vec![accumulator, single])
}

fn comprehension(
    helper: &mut MacroExprHelper<'_>,
    iter_range: IdedExpr,
    iter_var: String,
    accu_init: IdedExpr,
    loop_cond: IdedExpr,
    loop_step: IdedExpr,
    result: IdedExpr,
) -> IdedExpr {
    helper.next_expr(Expr::Comprehension(Box::new(ComprehensionExpr {
        iter_range,
        iter_var,
        iter_var2: None,
        accu_var: RESULT.to_owned(),
        accu_init,
        loop_cond,
        loop_step,
        result,
    })))
}

pub(crate) fn call(helper: &mut MacroExprHelper<'_>, function: &str, args: Vec<IdedExpr>) -> IdedExpr {
    helper.next_expr(Expr::Call(CallExpr { func_name: function.to_owned(), target: None, args }))
}

pub(crate) fn ident(helper: &mut MacroExprHelper<'_>, name: &str) -> IdedExpr {
    helper.next_expr(Expr::Ident(name.to_owned()))
}

pub(crate) fn literal(helper: &mut MacroExprHelper<'_>, value: LiteralValue) -> IdedExpr {
    helper.next_expr(Expr::Literal(value))
}

#[cfg(test)]
mod tests {
    use crate::test_support::{Expect, check};

    #[test]
    fn the_macros_mean_what_cel_specifies() {
        check(&[
            ("has({'a': 1}.a) && !has({'a': 1}.b)", Expect::Bool(true)),
            ("[1, 2, 3].all(x, x > 0)", Expect::Bool(true)),
            ("[1, 2, 3].all(x, x > 1)", Expect::Bool(false)),
            ("[].all(x, false)", Expect::Bool(true)),
            ("[1, 2, 3].exists(x, x == 2)", Expect::Bool(true)),
            ("[].exists(x, true)", Expect::Bool(false)),
            ("[1, 2, 3].exists_one(x, x > 2)", Expect::Bool(true)),
            ("[1, 2, 3].existsOne(x, x > 1)", Expect::Bool(false)),
            ("[1, 2, 3].map(x, x * 2) == [2, 4, 6]", Expect::Bool(true)),
            ("[1, 2, 3].map(x, x > 1, x * 2) == [4, 6]", Expect::Bool(true)),
            ("[1, 2, 3].filter(x, x != 2) == [1, 3]", Expect::Bool(true)),
            ("{'a': 1, 'b': 2}.all(k, k in ['a', 'b'])", Expect::Bool(true)),
            ("[3, 1, 2].sortBy(x, x) == [1, 2, 3]", Expect::Bool(true)),
            // Errors a later element decides are absorbed, as cel-go does.
            ("[0, 1].exists(x, 1 / x == 1)", Expect::Bool(true)),
            ("[0, 1].all(x, 1 / x == 1)", Expect::Fails("Division by zero")),
            ("[1].all(x.y, true)", Expect::Fails("argument must be a simple name")),
            ("has(a)", Expect::Fails("invalid argument to has() macro")),
            ("cel.bind(x, 'ab', x + x) == 'abab'", Expect::Bool(true)),
            ("cel.bind(x, [1, 2], cel.bind(y, x.map(i, i * 10), y[1] + x[0])) == 21", Expect::Bool(true)),
            ("[1, 2].all(i, cel.bind(d, i * 2, d > i))", Expect::Bool(true)),
            ("cel.bind(x.y, 1, 2)", Expect::Fails("variable name must be a simple identifier")),
        ]);
    }
}
