//! Two-variable comprehensions, as Kubernetes' CEL has them (cel-go's `TwoVarComprehensions`):
//! `all(k, v, p)`, `exists(k, v, p)`, `existsOne(k, v, p)`, `transformList(k, v, [p,] f)`,
//! `transformMap(k, v, [p,] f)` and `transformMapEntry(k, v, [p,] m)`, where `k` is a list's index
//! or a map's key and `v` the element or value.
//!
//! The `cel` crate's interpreter binds one variable per comprehension, so each expands into the
//! one-variable form over the entries: `x.all(k, v, p)` is
//! `@portal_entries(x).all(@entry, cel.bind(k, @entry[0], cel.bind(v, @entry[1], p)))`. The loop is
//! then an ordinary comprehension: bounded by the budget, absorbing errors as `all` does.

use std::collections::HashMap;

use cel::common::ast::{Expr, IdedExpr, ListExpr, LiteralValue, operators};
use cel::common::types::{CelInt, CelList, CelMap, CelMapKey, DYN_TYPE, Kind};
use cel::common::value::{CowVal, Val};
use cel::parser::{Macro, MacroExprHelper, ParseError};
use cel::{DeclarationError, Env, ExecutionError};

use crate::comprehensions::{self, Expansion, bound, call, ident, literal};
use crate::support::{elements, no_such_overload, take_args};

/// `[[key or index, value], …]` of a map or list.
pub const ENTRIES_FUNCTION: &str = "@portal_entries";
/// The map of a list of `[key, value]` pairs.
const PAIRS_TO_MAP: &str = "@portal_pairs_to_map";
/// The union of a list of maps with distinct keys.
const MERGE_MAPS: &str = "@portal_merge_maps";
/// The loop variable over the entries; `@` keeps it out of reach of expressions.
const ENTRY: &str = "@entry";

pub(crate) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_macro(Macro::receiver(operators::ALL, 3, all))?;
    env.add_macro(Macro::receiver(operators::EXISTS, 3, exists))?;
    env.add_macro(Macro::receiver("existsOne", 3, exists_one))?;
    env.add_macro(Macro::receiver(operators::EXISTS_ONE, 3, exists_one))?;
    for arity in [3, 4] {
        env.add_macro(Macro::receiver("transformList", arity, transform_list))?;
        env.add_macro(Macro::receiver("transformMap", arity, transform_map))?;
        env.add_macro(Macro::receiver("transformMapEntry", arity, transform_map_entry))?;
    }
    env.add_overload(ENTRIES_FUNCTION, "portal_entries_dyn", vec![DYN_TYPE], entries)?;
    env.add_overload(PAIRS_TO_MAP, "portal_pairs_to_map_dyn", vec![DYN_TYPE], pairs_to_map)?;
    env.add_overload(MERGE_MAPS, "portal_merge_maps_dyn", vec![DYN_TYPE], merge_maps)?;
    Ok(())
}

/// The pieces of `x.m(k, v, …rest)`: the entries of `x`, and the two names.
struct TwoVariables {
    entries: IdedExpr,
    key: String,
    value: String,
}

impl TwoVariables {
    /// `None` declines the expansion when the call has no target.
    fn take(
        helper: &mut MacroExprHelper<'_>,
        target: &mut Option<IdedExpr>,
        args: &mut Vec<IdedExpr>,
    ) -> Result<Option<TwoVariables>, ParseError> {
        let Some(range) = target.take() else {
            return Ok(None);
        };
        if args.len() < 2 {
            return Ok(None);
        }
        let mut names = args.drain(..2).map(|arg| match arg.expr {
            Expr::Ident(name) => Ok(name),
            _ => Err(helper.new_error(arg.id, "argument must be a simple name")),
        });
        let (Some(key), Some(value)) = (names.next(), names.next()) else {
            return Ok(None);
        };
        let (key, value) = (key?, value?);
        if key == value {
            return Err(helper.new_error(range.id, format!("duplicate variable name: {key}")));
        }
        let entries = call(helper, ENTRIES_FUNCTION, vec![range]);
        Ok(Some(TwoVariables { entries, key, value }))
    }

    /// `body` with the key and value bound from the entry being visited.
    fn bind(&self, helper: &mut MacroExprHelper<'_>, body: IdedExpr) -> IdedExpr {
        let value = self.entry_part(helper, 1);
        let inner = bound(helper, self.value.clone(), value, body);
        let key = self.entry_part(helper, 0);
        bound(helper, self.key.clone(), key, inner)
    }

    fn entry_part(&self, helper: &mut MacroExprHelper<'_>, index: i64) -> IdedExpr {
        let entry = ident(helper, ENTRY);
        let index = literal(helper, LiteralValue::Int(index.into()));
        call(helper, operators::INDEX, vec![entry, index])
    }
}

/// `x.all(k, v, p)`.
fn all(helper: &mut MacroExprHelper<'_>, target: &mut Option<IdedExpr>, args: &mut Vec<IdedExpr>) -> Expansion {
    quantify(helper, target, args, Which::All)
}

/// `x.exists(k, v, p)`.
fn exists(helper: &mut MacroExprHelper<'_>, target: &mut Option<IdedExpr>, args: &mut Vec<IdedExpr>) -> Expansion {
    quantify(helper, target, args, Which::Exists)
}

/// `x.existsOne(k, v, p)` (and `exists_one`).
fn exists_one(helper: &mut MacroExprHelper<'_>, target: &mut Option<IdedExpr>, args: &mut Vec<IdedExpr>) -> Expansion {
    quantify(helper, target, args, Which::ExistsOne)
}

#[derive(Clone, Copy)]
enum Which {
    All,
    Exists,
    ExistsOne,
}

/// `all`, `exists`, `existsOne` with two variables: the one-variable form over the entries.
fn quantify(
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
    which: Which,
) -> Expansion {
    let Some(variables) = TwoVariables::take(helper, target, args)? else {
        return Ok(None);
    };
    let Some(predicate) = args.pop() else {
        return Ok(None);
    };
    let body = variables.bind(helper, predicate);
    let mut range = Some(variables.entries);
    let mut rest = vec![ident(helper, ENTRY), body];
    match which {
        Which::All => comprehensions::all(helper, &mut range, &mut rest),
        Which::Exists => comprehensions::exists(helper, &mut range, &mut rest),
        Which::ExistsOne => comprehensions::exists_one(helper, &mut range, &mut rest),
    }
}

/// `transformList(k, v, [p,] f)`: the list of `f` for every entry (for which `p` holds).
fn transform_list(
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Expansion {
    mapped(helper, target, args, |_, _, transformed| transformed)
}

/// `transformMap(k, v, [p,] f)`: the map from every key (for which `p` holds) to `f`.
fn transform_map(
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Expansion {
    let pairs = mapped(helper, target, args, |helper, variables, transformed| {
        let key = variables.entry_part(helper, 0);
        helper.next_expr(Expr::List(ListExpr::new(vec![key, transformed])))
    })?;
    Ok(pairs.map(|pairs| call(helper, PAIRS_TO_MAP, vec![pairs])))
}

/// `transformMapEntry(k, v, [p,] m)`: the union of the maps `m` (for which `p` holds).
fn transform_map_entry(
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Expansion {
    let maps = mapped(helper, target, args, |_, _, transformed| transformed)?;
    Ok(maps.map(|maps| call(helper, MERGE_MAPS, vec![maps])))
}

/// `entries.map(@entry, [bind(p),] shape(bind(f)))` for `x.m(k, v, [p,] f)`.
fn mapped(
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
    shape: impl FnOnce(&mut MacroExprHelper<'_>, &TwoVariables, IdedExpr) -> IdedExpr,
) -> Expansion {
    let Some(variables) = TwoVariables::take(helper, target, args)? else {
        return Ok(None);
    };
    let Some(transform) = args.pop() else {
        return Ok(None);
    };
    let guard = args.pop().map(|guard| variables.bind(helper, guard));
    let transformed = variables.bind(helper, transform);
    let transformed = shape(helper, &variables, transformed);
    let mut range = Some(variables.entries);
    let mut rest = vec![ident(helper, ENTRY)];
    rest.extend(guard);
    rest.push(transformed);
    comprehensions::map(helper, &mut range, &mut rest)
}

/// `@portal_entries(x)`: `[[0, x[0]], [1, x[1]], …]` for a list, `[[k, x[k]], …]` for a map.
fn entries<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [collection] = take_args(args)?;
    let pair = |key: Box<dyn Val + 'v>, value: Box<dyn Val + 'v>| -> Box<dyn Val + 'v> {
        Box::new(CelList::from(vec![key, value]))
    };
    let mut pairs: Vec<Box<dyn Val + 'v>> = Vec::new();
    match collection.get_type().kind() {
        Kind::List => {
            for (index, element) in elements(collection.as_ref())?.into_iter().enumerate() {
                let index = i64::try_from(index).unwrap_or(i64::MAX);
                pairs.push(pair(Box::new(CelInt::from(index)), element.clone_as_boxed()));
            }
        }
        Kind::Map => {
            let indexer = collection
                .as_indexer()
                .ok_or_else(|| no_such_overload("comprehension", &[collection.as_ref()], true))?;
            for key in elements(collection.as_ref())? {
                let value = indexer.get(key)?.as_ref().clone_as_boxed();
                pairs.push(pair(key.clone_as_boxed(), value));
            }
        }
        _ => {
            return Err(ExecutionError::function_error(
                "comprehension",
                format!("a two-variable comprehension needs a list or a map, not {}", collection.get_type().name()),
            ));
        }
    }
    Ok(CowVal::owned(CelList::from(pairs)))
}

/// `@portal_pairs_to_map([[k, v], …])`: the map of the pairs (their keys are distinct: they are
/// the keys or indexes of one collection).
fn pairs_to_map<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [pairs] = take_args(args)?;
    let mut map: HashMap<CelMapKey<'v>, Box<dyn Val + 'v>> = HashMap::new();
    for pair in elements(pairs.as_ref())? {
        let mut halves = elements(pair)?.into_iter();
        let (Some(key), Some(value)) = (halves.next(), halves.next()) else {
            return Err(ExecutionError::function_error("transformMap", "internal: an entry is not a pair"));
        };
        let key = CelMapKey::try_from(key.clone_as_boxed())
            .map_err(|_| ExecutionError::function_error("transformMap", "unsupported key type"))?;
        map.insert(key, value.clone_as_boxed());
    }
    Ok(CowVal::owned(CelMap::from(map)))
}

/// `@portal_merge_maps([m1, m2, …])`: the union of the maps `transformMapEntry` produced, an error
/// when two of them have a key in common.
fn merge_maps<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [maps] = take_args(args)?;
    let mut merged: HashMap<CelMapKey<'v>, Box<dyn Val + 'v>> = HashMap::new();
    for map in elements(maps.as_ref())? {
        if map.get_type().kind() != Kind::Map {
            return Err(ExecutionError::function_error(
                "transformMapEntry",
                format!("the entry expression must give a map, not {}", map.get_type().name()),
            ));
        }
        let indexer = map.as_indexer().ok_or_else(|| no_such_overload("transformMapEntry", &[map], true))?;
        for key in elements(map)? {
            let value = indexer.get(key)?.as_ref().clone_as_boxed();
            let key = CelMapKey::try_from(key.clone_as_boxed())
                .map_err(|_| ExecutionError::function_error("transformMapEntry", "unsupported key type"))?;
            if merged.contains_key(&key) {
                return Err(ExecutionError::function_error(
                    "transformMapEntry",
                    "insert failed: the same key is produced for two entries",
                ));
            }
            merged.insert(key, value);
        }
    }
    Ok(CowVal::owned(CelMap::from(merged)))
}

#[cfg(test)]
mod tests {
    use crate::test_support::{Expect, check};

    #[test]
    fn two_variable_comprehensions_mean_what_kubernetes_gives_them() {
        check(&[
            ("[10, 20].all(i, v, v == (i + 1) * 10)", Expect::Bool(true)),
            ("{'a': 1, 'b': 2}.all(k, v, k in ['a', 'b'] && v > 0)", Expect::Bool(true)),
            ("{'a': 1, 'b': 2}.exists(k, v, k == 'b' && v == 2)", Expect::Bool(true)),
            ("{'a': 1, 'b': 2}.exists(k, v, v > 2)", Expect::Bool(false)),
            ("[1, 2, 3].existsOne(i, v, i == v)", Expect::Bool(false)),
            ("[0, 2, 3].existsOne(i, v, i == v)", Expect::Bool(true)),
            ("[1, 2, 3].exists_one(i, v, i + 1 == v && v == 2)", Expect::Bool(true)),
            ("['a', 'b'].transformList(i, v, v + string(i)) == ['a0', 'b1']", Expect::Bool(true)),
            ("[1, 2, 3].transformList(i, v, i > 0, v * 10) == [20, 30]", Expect::Bool(true)),
            ("{'a': 1, 'b': 2}.transformMap(k, v, v * 2) == {'a': 2, 'b': 4}", Expect::Bool(true)),
            ("{'a': 1, 'b': 2}.transformMap(k, v, k != 'a', v * 2) == {'b': 4}", Expect::Bool(true)),
            ("['x', 'y'].transformMap(i, v, v + v) == {0: 'xx', 1: 'yy'}", Expect::Bool(true)),
            ("{'a': 1}.transformMapEntry(k, v, {v: k}) == {1: 'a'}", Expect::Bool(true)),
            ("{'a': 1, 'b': 1}.transformMapEntry(k, v, {v: k})", Expect::Fails("the same key")),
            ("[1].all(i, i, true)", Expect::Fails("duplicate variable name: i")),
            ("dyn(1).all(k, v, true)", Expect::Fails("needs a list or a map, not int")),
            // Errors a later element decides are absorbed, as in the one-variable form.
            ("[0, 1].exists(i, v, 1 / v == 1)", Expect::Bool(true)),
        ]);
    }
}
