//! Regular expressions compiled once, never per evaluation, and the functions that use them:
//! Kubernetes' regex library (`k8s.io/apiserver/pkg/cel/library/regex.go`), `find` and
//! `findAll`, and CEL's standard `matches`.
//!
//! The standard library's `matches` compiles its pattern on every call, some 20 µs each. This
//! module adds a macro for `matches`, in both its forms, `s.matches(re)` and `matches(s, re)`,
//! that rewrites the call when the expression is compiled into a call to an internal overload,
//! `@matches`, which CEL source can't name, and which takes the compiled pattern from a
//! process-wide cache. The macro only applies to programs compiled with the `Env` it was
//! registered on ([`cel::Env::compile`]), as every macro.
//!
//! Kubernetes compiles literal patterns when it builds the program, so that a rule with an
//! invalid one is rejected up front: [`precompile_literals`] does that here, and warms the cache.
//! Patterns computed at evaluation time are cached too, up to 1,024 of them; past that
//! they are compiled on each call, which bounds the memory a stream of distinct patterns (from
//! admitted objects, say) can take.
//!
//! Patterns are written in Go's syntax, RE2's, and the `re2` module rewrites the few constructs the
//! regex crate reads differently (`\d`, `\w`, `\s` and `\b` are ASCII-only in Go, for one),
//! so a pattern matches what it matches in Kubernetes.

mod re2;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use cel::common::ast::{CallExpr, EntryExpr, Expr, IdedExpr, LiteralValue};
use cel::common::types::{CelBool, CelInt, CelList, CelString, DYN_TYPE, INT_TYPE, STRING_TYPE};
use cel::common::value::{CowVal, Val};
use cel::parser::{Macro, MacroExprHelper, ParseError};
use cel::{DeclarationError, Env, ExecutionError, Program};
use regex::Regex;

use crate::support::{arg, no_such_overload, take_args};

/// The most patterns the cache holds. Rule sets have far fewer literal patterns; the bound is
/// for patterns that come from the evaluated data.
pub(crate) const MAX_CACHED: usize = 1024;

/// The overload `matches` calls are rewritten to. The `@` keeps CEL source from calling it.
pub const CACHED_MATCHES: &str = "@matches";

/// Compiled patterns by source text.
static CACHE: LazyLock<RwLock<HashMap<String, Arc<Regex>>>> = LazyLock::new(|| RwLock::new(HashMap::new()));

/// The compiled `pattern`, from the cache, or compiled now and cached while the cache has room.
///
/// # Errors
///
/// The pattern's syntax error, or the size limit the regex crate puts on a compiled pattern.
pub(crate) fn compile(pattern: &str) -> Result<Arc<Regex>, regex::Error> {
    // A panic elsewhere while a lock was held leaves the map intact (every write is a single
    // insert), so a poisoned lock is used as it is.
    if let Some(re) = CACHE.read().unwrap_or_else(PoisonError::into_inner).get(pattern) {
        return Ok(Arc::clone(re));
    }
    let translated = re2::translate(pattern).map_err(regex::Error::Syntax)?;
    let re = Arc::new(Regex::new(&translated)?);
    let mut cache = CACHE.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(existing) = cache.get(pattern) {
        // Another thread compiled it meanwhile: share that one.
        return Ok(Arc::clone(existing));
    }
    if cache.len() < MAX_CACHED {
        cache.insert(pattern.to_owned(), Arc::clone(&re));
    }
    Ok(re)
}

/// Compiles `pattern` into the cache, as a rule's literal pattern is when the rule is loaded,
/// so that its first evaluation doesn't pay for it, and an invalid one is reported then.
///
/// # Errors
///
/// The pattern's syntax error.
pub(crate) fn precompile(pattern: &str) -> Result<(), regex::Error> {
    compile(pattern).map(|_| ())
}

/// Precompiles every pattern `program` spells as a string literal: the pattern argument of
/// `matches` (in either form), `find` and `findAll`.
///
/// # Errors
///
/// The first invalid pattern, with its syntax error: the rule should be rejected.
pub fn precompile_literals(program: &Program) -> Result<(), (String, regex::Error)> {
    visit(program.expression())
}

/// Walks `expr` and every expression under it, precompiling the literal patterns of calls.
fn visit(expr: &IdedExpr) -> Result<(), (String, regex::Error)> {
    match &expr.expr {
        Expr::Call(call) => {
            if let Some(pattern) = literal_pattern(call) {
                precompile(pattern).map_err(|err| (pattern.to_owned(), err))?;
            }
            if let Some(target) = &call.target {
                visit(target)?;
            }
            call.args.iter().try_for_each(visit)
        }
        Expr::Comprehension(c) => {
            [&c.iter_range, &c.accu_init, &c.loop_cond, &c.loop_step, &c.result].into_iter().try_for_each(visit)
        }
        Expr::List(list) => list.elements.iter().try_for_each(visit),
        Expr::Map(map) => map.entries.iter().try_for_each(|e| visit_entry(&e.expr)),
        Expr::Struct(s) => s.entries.iter().try_for_each(|e| visit_entry(&e.expr)),
        Expr::Select(select) => visit(&select.operand),
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => Ok(()),
    }
}

fn visit_entry(entry: &EntryExpr) -> Result<(), (String, regex::Error)> {
    match entry {
        EntryExpr::MapEntry(e) => {
            visit(&e.key)?;
            visit(&e.value)
        }
        EntryExpr::StructField(f) => visit(&f.value),
    }
}

/// The pattern of a regex call, when it is a string literal: the argument after the string
/// matched, which is the first argument of a receiver call, and the second of a global one.
fn literal_pattern(call: &CallExpr) -> Option<&str> {
    if !matches!(call.func_name.as_str(), CACHED_MATCHES | "matches" | "find" | "findAll") {
        return None;
    }
    let pattern = if call.target.is_some() { call.args.first() } else { call.args.get(1) }?;
    match &pattern.expr {
        Expr::Literal(LiteralValue::String(s)) => Some(s.inner()),
        _ => None,
    }
}

pub(crate) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_member_overload("find", "string_find_string", STRING_TYPE, vec![STRING_TYPE], find)?;
    env.add_member_overload("findAll", "string_find_all_string", STRING_TYPE, vec![STRING_TYPE], find_all)?;
    env.add_member_overload(
        "findAll",
        "string_find_all_string_int",
        STRING_TYPE,
        vec![STRING_TYPE, INT_TYPE],
        find_all_limit,
    )?;
    // `dyn`, so that a call on other types reaches the overload, which reports it under the
    // name that was written, `matches`, rather than `@matches`.
    env.add_member_overload(CACHED_MATCHES, "string_matches_string_cached", DYN_TYPE, vec![DYN_TYPE], matches_member)?;
    env.add_overload(CACHED_MATCHES, "matches_string_string_cached", vec![DYN_TYPE, DYN_TYPE], matches_global)?;
    env.add_macro(Macro::receiver("matches", 1, expand_receiver_matches))?;
    env.add_macro(Macro::global("matches", 2, expand_global_matches))?;
    Ok(())
}

/// `s.matches(re)` → `s.@matches(re)`.
fn expand_receiver_matches(
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Result<Option<IdedExpr>, ParseError> {
    // A receiver macro is always given its target; decline, leaving the call as written,
    // rather than assume it.
    let Some(target) = target.take() else {
        return Ok(None);
    };
    Ok(Some(helper.next_expr(Expr::Call(CallExpr {
        func_name: CACHED_MATCHES.to_owned(),
        target: Some(Box::new(target)),
        args: std::mem::take(args),
    }))))
}

/// `matches(s, re)` → `@matches(s, re)`.
fn expand_global_matches(
    helper: &mut MacroExprHelper<'_>,
    _target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Result<Option<IdedExpr>, ParseError> {
    Ok(Some(helper.next_expr(Expr::Call(CallExpr {
        func_name: CACHED_MATCHES.to_owned(),
        target: None,
        args: std::mem::take(args),
    }))))
}

fn matches_member<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    cached_matches(args, true)
}

fn matches_global<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    cached_matches(args, false)
}

/// Whether the pattern matches anywhere in the string, as RE2's (and so cel-go's) `matches`.
fn cached_matches<'b, 'v>(args: Vec<CowVal<'b, 'v>>, member: bool) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [s, re] = take_args(args)?;
    let (Some(text), Some(pattern)) = (s.downcast_ref::<CelString>(), re.downcast_ref::<CelString>()) else {
        return Err(no_such_overload("matches", &[s.as_ref(), re.as_ref()], member));
    };
    let compiled = compile(pattern.inner()).map_err(|err| {
        // The message the standard library's `matches` gives.
        ExecutionError::function_error("matches", format!("'{}' not a valid regex:\n{err}", pattern.inner()))
    })?;
    Ok(CowVal::owned(CelBool::from(compiled.is_match(text.inner()))))
}

/// The compiled pattern of `find`/`findAll`, failing as Kubernetes does.
fn compile_for(function: &str, pattern: &str) -> Result<Arc<Regex>, ExecutionError> {
    compile(pattern).map_err(|err| ExecutionError::function_error(function, format!("Illegal regex: {err}")))
}

/// `"abc 123".find('[0-9]+')`: the leftmost match, or `""` when there is none.
fn find<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [s, re] = take_args(args)?;
    let text = arg::<CelString>(s.as_ref())?;
    let compiled = compile_for("find", arg::<CelString>(re.as_ref())?.inner())?;
    let found = compiled.find(text.inner()).map_or("", |m| m.as_str());
    Ok(CowVal::owned(CelString::from(found.to_owned())))
}

/// `"123 abc 456".findAll('[0-9]+')`: every match.
fn find_all<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [s, re] = take_args(args)?;
    all_matches(s.as_ref(), re.as_ref(), -1)
}

/// `"123 abc 456".findAll('[0-9]+', 1)`: the first `n` matches, all of them if `n` is negative.
fn find_all_limit<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [s, re, n] = take_args(args)?;
    let limit = *arg::<CelInt>(n.as_ref())?.inner();
    all_matches(s.as_ref(), re.as_ref(), limit)
}

/// The successive non-overlapping matches of `re` in `s`, at most `limit` unless it is
/// negative, as Go's `FindAllString`: an empty match right after a match is skipped.
fn all_matches<'b, 'v>(s: &dyn Val, re: &dyn Val, limit: i64) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let text = arg::<CelString>(s)?;
    let compiled = compile_for("findAll", arg::<CelString>(re)?.inner())?;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let found: Vec<Box<dyn Val + 'v>> = compiled
        .find_iter(text.inner())
        .take(limit)
        .map(|m| Box::new(CelString::from(m.as_str().to_owned())) as Box<dyn Val + 'v>)
        .collect();
    Ok(CowVal::owned(CelList::from(found)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::test_support::eval;
    use cel::Value;

    fn new_env() -> Env {
        let mut env = Env::default().with_stdlib();
        env.add_extension(cel::extensions::strings).unwrap();
        env.add_extension(cel::extensions::lists).unwrap();
        env.add_extension(crate::register).unwrap();
        env
    }

    fn strings(items: &[&str]) -> Value {
        items.to_vec().into()
    }

    #[test]
    fn matches_is_rewritten_to_the_cached_overload() {
        let env = new_env();
        for src in ["'abc'.matches('^a')", "matches('abc', '^a')"] {
            let program = env.compile(src).unwrap();
            let references = program.references();
            assert!(references.has_function(CACHED_MATCHES), "{src}");
            assert!(!references.has_function("matches"), "{src}");
            let ctx = cel::Context::with_env(Arc::new(new_env()));
            assert_eq!(program.execute(&ctx), Ok(Value::Bool(true)), "{src}");
        }
    }

    #[test]
    fn matches() {
        let cases: &[(&str, bool)] = &[
            ("'abc'.matches('^a')", true),
            ("'abc'.matches('^b')", false),
            ("'abc'.matches('b')", true),
            ("matches('abc', 'c$')", true),
            ("'hello'.matches('^h.*o$') && !'hello'.matches('^x')", true),
            ("['a1', 'b2'].all(s, s.matches('[a-z][0-9]'))", true),
            ("'ünïcode'.matches('^\\\\p{L}+$')", true),
        ];
        for (src, want) in cases {
            assert_eq!(eval(src), Ok(Value::Bool(*want)), "{src}");
        }
        // Go's syntax and meaning: `\\d`, `\\w`, `\\s` and `\\b` are ASCII-only, a `{` that
        // starts no repetition is literal, `\\Q...\\E` quotes.
        let go: &[(&str, bool)] = &[
            ("'١٢٣'.matches('^\\\\d+$')", false),
            ("'123'.matches('^\\\\d+$')", true),
            ("'é'.matches('\\\\w')", false),
            ("'\\u00a0'.matches('\\\\s')", false),
            ("'é'.matches('\\\\bé')", false),
            ("'a{,2}'.matches('^a{,2}$')", true),
            ("'a.b'.matches('^\\\\Qa.b\\\\E$')", true),
            ("'axb'.matches('^\\\\Qa.b\\\\E$')", false),
            ("'&'.matches('^[a&&b]$')", true),
        ];
        for (src, want) in go {
            assert_eq!(eval(src), Ok(Value::Bool(*want)), "{src}");
        }
        let err = eval("'abc'.matches('a(')").unwrap_err();
        assert!(err.contains("not a valid regex"), "{err}");
        let err = eval("1.matches('a')").unwrap_err();
        assert!(err.contains("matches"), "{err}");
    }

    #[test]
    fn find_and_find_all() {
        // The examples of regex.go; its comments show the matches of `[0-9]+`, while `[0-9]*`
        // also matches the empty string, as Go's FindString/FindAllString return it.
        let cases: &[(&str, Value)] = &[
            ("'abc 123'.find('[0-9]+')", "123".into()),
            ("'abc 123'.find('[0-9]*')", "".into()),
            ("'abc 123'.find('xyz')", "".into()),
            ("'123 abc 456'.findAll('[0-9]+')", strings(&["123", "456"])),
            ("'123 abc 456'.findAll('[0-9]+', 1)", strings(&["123"])),
            ("'123 abc 456'.findAll('[0-9]+', 0)", strings(&[])),
            ("'123 abc 456'.findAll('[0-9]+', -1)", strings(&["123", "456"])),
            ("'123 abc 456'.findAll('xyz')", strings(&[])),
            // Go: ["123" "" "" "" "" "456"] and ["" "aaa" ""].
            ("'123 abc 456'.findAll('[0-9]*')", strings(&["123", "", "", "", "", "456"])),
            ("'baaab'.findAll('a*')", strings(&["", "aaa", ""])),
            ("'123 abc 456'.findAll('[0-9]*', 1)", strings(&["123"])),
        ];
        for (src, want) in cases {
            assert_eq!(eval(src).as_ref(), Ok(want), "{src}");
        }
        let err = eval("'abc'.find('a(')").unwrap_err();
        assert!(err.contains("Illegal regex"), "{err}");
        let err = eval("'abc'.findAll('[z-a]')").unwrap_err();
        assert!(err.contains("Illegal regex"), "{err}");
    }

    #[test]
    fn precompile_literals_rejects_an_invalid_literal() {
        let env = new_env();
        let ok = env
            .compile(
                "'a'.matches('^a$') && matches('b', 'b+') && 'c'.find('c') == 'c' \
                 && ['x'].exists(s, s.findAll('[x-z]', 2) == ['x']) && {'k': 'v'.matches('v')}.k",
            )
            .unwrap();
        assert_eq!(precompile_literals(&ok), Ok(()));
        for pattern in ["^a$", "b+", "c", "[x-z]", "v"] {
            assert!(CACHE.read().unwrap().contains_key(pattern), "{pattern} is cached");
        }

        for (src, bad) in [
            ("'a'.matches('(')", "("),
            ("matches('a', '[')", "["),
            ("x.find('a**b(')", "a**b("),
            ("[1].map(i, 'a'.findAll('x{2,1}', 1))", "x{2,1}"),
        ] {
            let program = env.compile(src).unwrap();
            let (pattern, _) = precompile_literals(&program).unwrap_err();
            assert_eq!(pattern, bad, "{src}");
        }

        // A pattern that is not a literal is left for evaluation time.
        let dynamic = env.compile("'a'.matches(p)").unwrap();
        assert_eq!(precompile_literals(&dynamic), Ok(()));
    }

    #[test]
    fn compile_shares_cached_patterns() {
        let a = compile("shared-[0-9]+").unwrap();
        let b = compile("shared-[0-9]+").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(precompile("(").is_err());
    }
}
