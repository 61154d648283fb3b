//! Kubernetes' list library (`k8s.io/apiserver/pkg/cel/library/lists.go`): `isSorted()`,
//! `sum()`, `min()`, `max()`, `indexOf(x)`, `lastIndexOf(x)` and `includes(x)`.
//!
//! Kubernetes type-checks its expressions, so it declares these for `list(T)` with `T` one of
//! a few types. This `cel` crate has no type checker: every list is a `list(dyn)`, so the
//! element types are checked when the function runs, and a list of the wrong elements is the
//! "no matching overload" error Kubernetes would have reported at compile time.
//!
//! None of the names clash with the `lists` extension of `cel` (`slice`, `flatten`, ...), and
//! `indexOf`/`lastIndexOf` coexist with the `strings` extension's: those take a `string`
//! receiver, these a `list`.

use std::cmp::Ordering;

use cel::common::types::{CelBool, CelInt, DYN_TYPE, Kind, LIST_TYPE};
use cel::common::value::{CowVal, Val};
use cel::{DeclarationError, Env, ExecutionError};

use crate::support::{elements, no_such_overload, take_args};

pub(crate) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    // The ids are Kubernetes' own where it has a single overload; where it has one per
    // element type, this registers one for any list, and names it after the function.
    env.add_member_overload("isSorted", "list_is_sorted_bool", LIST_TYPE, vec![], is_sorted)?;
    env.add_member_overload("sum", "list_sum", LIST_TYPE, vec![], sum)?;
    env.add_member_overload("min", "list_min", LIST_TYPE, vec![], min)?;
    env.add_member_overload("max", "list_max", LIST_TYPE, vec![], max)?;
    env.add_member_overload("indexOf", "list_a_index_of_int", LIST_TYPE, vec![DYN_TYPE], index_of)?;
    env.add_member_overload("lastIndexOf", "list_a_last_index_of_int", LIST_TYPE, vec![DYN_TYPE], last_index_of)?;
    // `includes` takes any receiver: a list includes its elements, anything else only itself.
    env.add_member_overload("includes", "list_includes_dyn_dyn", DYN_TYPE, vec![DYN_TYPE], includes)?;
    Ok(())
}

/// Whether values of this kind are ordered, as Kubernetes' `comparableTypes` are.
fn is_comparable(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Int
            | Kind::UInt
            | Kind::Double
            | Kind::Boolean
            | Kind::Duration
            | Kind::Timestamp
            | Kind::String
            | Kind::Bytes
    )
}

/// Whether values of this kind add up, as Kubernetes' `summableTypes` do.
fn is_summable(kind: Kind) -> bool {
    matches!(kind, Kind::Int | Kind::UInt | Kind::Double | Kind::Duration)
}

/// Checks that every element of the list `function` was called on is of a kind `allowed`
/// accepts, reporting the first that is not as a missing overload.
fn check_elements(function: &str, items: &[&dyn Val], allowed: fn(Kind) -> bool) -> Result<(), ExecutionError> {
    match items.iter().find(|item| !allowed(item.get_type().kind())) {
        Some(item) => Err(no_such_overload(function, &[*item], true)),
        None => Ok(()),
    }
}

/// The order of two elements. Unlike cel-go, which skips a pair it cannot order (a `NaN`, or
/// an int next to a string in a `list(dyn)`), this reports it: a silently wrong answer is
/// worse than an error in a policy.
fn compare(a: &dyn Val, b: &dyn Val, function: &str) -> Result<Ordering, ExecutionError> {
    a.as_comparer().ok_or_else(|| no_such_overload(function, &[a], true))?.compare(b)
}

/// `[1, 2, 3].isSorted()`: whether no element is greater than the one after it.
fn is_sorted<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [list] = take_args(args)?;
    let items = elements(list.as_ref())?;
    check_elements("isSorted", &items, is_comparable)?;
    for pair in items.windows(2) {
        if let [prev, next] = pair
            && compare(*prev, *next, "isSorted")? == Ordering::Greater
        {
            return Ok(CowVal::owned(CelBool::from(false)));
        }
    }
    Ok(CowVal::owned(CelBool::from(true)))
}

/// `[1, 3].sum()`: the elements added up, `0` for an empty list. Kubernetes picks the zero of
/// the list's static element type (`0u`, `0.0`, `duration('0s')`); without static types an
/// empty list sums to the int `0`, as `[].sum()` does in Kubernetes.
fn sum<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [list] = take_args(args)?;
    let items = elements(list.as_ref())?;
    check_elements("sum", &items, is_summable)?;
    let mut rest = items.iter();
    let Some(first) = rest.next() else {
        return Ok(CowVal::owned(CelInt::from(0)));
    };
    let mut acc: Box<dyn Val + 'v> = first.clone_as_boxed();
    for item in rest {
        let adder = acc.as_adder().ok_or_else(|| no_such_overload("sum", &[acc.as_ref()], true))?;
        let next = adder.add(*item)?.into_owned();
        acc = next;
    }
    Ok(CowVal::Owned(acc))
}

/// `[1, 3].min()`: the least element, the first of equal ones.
fn min<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    extreme(args, "min", Ordering::Greater)
}

/// `[1, 3].max()`: the greatest element, the first of equal ones.
fn max<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    extreme(args, "max", Ordering::Less)
}

/// The element that wins every comparison: the running result is replaced by an element it
/// compares `replace_when` to, as in Kubernetes' `cmp`.
fn extreme<'b, 'v>(
    args: Vec<CowVal<'b, 'v>>,
    function: &str,
    replace_when: Ordering,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [list] = take_args(args)?;
    let items = elements(list.as_ref())?;
    check_elements(function, &items, is_comparable)?;
    let mut rest = items.iter();
    let Some(mut result) = rest.next().copied() else {
        return Err(ExecutionError::function_error(function, format!("{function} called on empty list")));
    };
    for item in rest {
        if compare(result, *item, function)? == replace_when {
            result = *item;
        }
    }
    Ok(CowVal::Owned(result.clone_as_boxed()))
}

/// `[1, 2, 2, 3].indexOf(2)`: the index of the first element equal to the argument, or `-1`.
fn index_of<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [list, item] = take_args(args)?;
    let items = elements(list.as_ref())?;
    let found = items.iter().position(|e| e.equals(item.as_ref()));
    Ok(CowVal::owned(index(found)))
}

/// `['a', 'b', 'b', 'c'].lastIndexOf('b')`: the index of the last element equal to the
/// argument, or `-1`.
fn last_index_of<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [list, item] = take_args(args)?;
    let items = elements(list.as_ref())?;
    let found = items.iter().rposition(|e| e.equals(item.as_ref()));
    Ok(CowVal::owned(index(found)))
}

fn index(found: Option<usize>) -> CelInt {
    // A list can't have more than `i64::MAX` elements in practice; saturate rather than wrap.
    CelInt::from(found.map_or(-1, |i| i64::try_from(i).unwrap_or(i64::MAX)))
}

/// `[1, 2, 3].includes(2)`, `'model-a'.includes('model-a')`: whether the receiver, a list,
/// has an element equal to the argument, or, any other value, is equal to it.
fn includes<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [target, item] = take_args(args)?;
    let found = if target.get_type().kind() == Kind::List {
        elements(target.as_ref())?.iter().any(|e| e.equals(item.as_ref()))
    } else {
        target.equals(item.as_ref())
    };
    Ok(CowVal::owned(CelBool::from(found)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use crate::test_support::{assert_values, eval};
    use cel::Value;

    #[test]
    fn kubernetes_examples() {
        // From the doc comment of k8s.io/apiserver/pkg/cel/library/lists.go.
        let cases: &[(&str, Value)] = &[
            ("[1, 2, 3].isSorted()", true.into()),
            ("['a', 'b', 'b', 'c'].isSorted()", true.into()),
            ("[2.0, 1.0].isSorted()", false.into()),
            ("[1].isSorted()", true.into()),
            ("[].isSorted()", true.into()),
            ("[1, 3].sum()", 4.into()),
            ("[1.0, 3.0].sum()", 4.0.into()),
            ("[].sum()", 0.into()),
            ("[1, 3].min()", 1.into()),
            ("[1, 3].max()", 3.into()),
            ("[1].min()", 1.into()),
            ("([0] + []).min()", 0.into()),
            ("[1, 2, 2, 3].indexOf(2)", 1.into()),
            ("['a', 'b', 'b', 'c'].lastIndexOf('b')", 2.into()),
            ("[1.0].indexOf(1.1)", (-1).into()),
            ("[].indexOf('string')", (-1).into()),
            ("[1, 2, 3].includes(2)", true.into()),
            ("[1, 2, 3].includes(4)", false.into()),
            ("'model-a'.includes('model-a')", true.into()),
            ("'model-a'.includes('model-b')", false.into()),
        ];
        assert_values(cases);
    }

    #[test]
    fn more_element_types() {
        let cases: &[(&str, Value)] = &[
            ("[1u, 2u].sum() == 3u", true.into()),
            ("[duration('1m'), duration('1s')].sum() == duration('61s')", true.into()),
            ("['b', 'a', 'c'].min()", "a".into()),
            ("['b', 'a', 'c'].max()", "c".into()),
            ("[true, false].min()", false.into()),
            ("[b'b', b'a'].max() == b'b'", true.into()),
            ("[3u, 1u, 2u].isSorted()", false.into()),
            (
                "[timestamp('2024-01-01T00:00:00Z'), timestamp('2023-01-01T00:00:00Z')].min() \
                 == timestamp('2023-01-01T00:00:00Z')",
                true.into(),
            ),
            ("[1, 2.5, 2u].max()", 2.5.into()),
            ("[[1], [2]].indexOf([2])", 1.into()),
            ("[1, 1u, 1.0].lastIndexOf(1)", 2.into()),
            ("[{'a': 1}].includes({'a': 1})", true.into()),
            // Coexisting with the strings extension's overloads on `string`.
            ("'hello'.indexOf('l')", 2.into()),
            ("'hello'.lastIndexOf('l')", 3.into()),
        ];
        assert_values(cases);
    }

    #[test]
    fn errors() {
        let cases: &[(&str, &str)] = &[
            ("[].min()", "min called on empty list"),
            ("[].max()", "max called on empty list"),
            ("['a', 'b'].sum()", "sum"),
            ("[[1], [2]].isSorted()", "isSorted"),
            ("[{'a': 1}].min()", "min"),
            ("[1, 'a'].max()", "compared"),
            ("[1, 2.0].sum()", "add"),
            ("[9223372036854775807, 1].sum()", "Overflow"),
        ];
        for (src, want) in cases {
            let err = eval(src).expect_err(src);
            assert!(err.contains(want), "{src}: {err}");
        }
    }
}
