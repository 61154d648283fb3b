//! The sets library of cel-go (`ext.Sets()`), which Kubernetes includes: lists treated as
//! sets, compared with CEL equality, so `1`, `1u` and `1.0` are one element.
//!
//! - `sets.contains(a, b)`: every element of `b` is in `a` (true when `b` is empty);
//! - `sets.equivalent(a, b)`: each contains the other, whatever the duplicates;
//! - `sets.intersects(a, b)`: some element of `a` is in `b` (false when either is empty).

use cel::common::types::{CelBool, LIST_TYPE};
use cel::common::value::{CowVal, Val};
use cel::{DeclarationError, Env, ExecutionError};

use crate::support::{elements, take_args};

pub(crate) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_overload("sets.contains", "sets_contains_list_list", vec![LIST_TYPE, LIST_TYPE], contains)?;
    env.add_overload("sets.equivalent", "sets_equivalent_list_list", vec![LIST_TYPE, LIST_TYPE], equivalent)?;
    env.add_overload("sets.intersects", "sets_intersects_list_list", vec![LIST_TYPE, LIST_TYPE], intersects)?;
    Ok(())
}

/// Whether every element of `sub` equals some element of `list`.
fn contains_all(list: &[&dyn Val], sub: &[&dyn Val]) -> bool {
    sub.iter().all(|item| list.iter().any(|e| e.equals(*item)))
}

fn contains<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [list, sub] = take_args(args)?;
    let (list, sub) = (elements(list.as_ref())?, elements(sub.as_ref())?);
    Ok(CowVal::owned(CelBool::from(contains_all(&list, &sub))))
}

fn equivalent<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [a, b] = take_args(args)?;
    let (a, b) = (elements(a.as_ref())?, elements(b.as_ref())?);
    Ok(CowVal::owned(CelBool::from(contains_all(&a, &b) && contains_all(&b, &a))))
}

fn intersects<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [a, b] = take_args(args)?;
    let (a, b) = (elements(a.as_ref())?, elements(b.as_ref())?);
    let found = a.iter().any(|x| b.iter().any(|y| y.equals(*x)));
    Ok(CowVal::owned(CelBool::from(found)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use crate::test_support::eval;
    use cel::Value;

    #[test]
    fn cel_go_examples() {
        // From the doc comment of cel-go's ext/sets.go.
        let cases: &[(&str, bool)] = &[
            ("sets.contains([], [])", true),
            ("sets.contains([], [1])", false),
            ("sets.contains([1, 2, 3, 4], [2, 3])", true),
            ("sets.contains([1, 2.0, 3u], [1.0, 2u, 3])", true),
            ("sets.equivalent([], [])", true),
            ("sets.equivalent([1], [1, 1])", true),
            ("sets.equivalent([1], [1u, 1.0])", true),
            ("sets.equivalent([1, 2, 3], [3u, 2.0, 1])", true),
            ("sets.intersects([1], [])", false),
            ("sets.intersects([1], [1, 2])", true),
            ("sets.intersects([[1], [2, 3]], [[1, 2], [2, 3.0]])", true),
        ];
        for (src, want) in cases {
            assert_eq!(eval(src), Ok(Value::Bool(*want)), "{src}");
        }
    }

    #[test]
    fn more() {
        let cases: &[(&str, bool)] = &[
            ("sets.contains([1], [])", true),
            ("sets.contains(['a', 'b'], ['b', 'c'])", false),
            ("sets.equivalent([1, 2], [1])", false),
            ("sets.equivalent([1], [1, 2])", false),
            ("sets.intersects([], [1])", false),
            ("sets.intersects(['a'], ['b'])", false),
            ("sets.intersects([{'k': 1}], [{'k': 1.0}])", true),
            ("sets.contains(['x'].map(s, s + 'y'), ['xy'])", true),
        ];
        for (src, want) in cases {
            assert_eq!(eval(src), Ok(Value::Bool(*want)), "{src}");
        }
        assert!(eval("sets.contains('ab', ['a'])").is_err());
    }
}
