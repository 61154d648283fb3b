//! Kubernetes' semver library (`k8s.io/apiserver/pkg/cel/library/semverlib.go`):
//! `semver(s)`, `semver(s, normalize)`, `isSemver(s)`, `isSemver(s, normalize)`, and on the
//! `kubernetes.Semver` they return `major()`, `minor()`, `patch()`, `isLessThan(v)`,
//! `isGreaterThan(v)`, `compareTo(v)` and `==`.
//!
//! Kubernetes parses with `github.com/blang/semver/v4`: Semantic Versioning 2.0, strictly
//! (`1.2.3`, `1.2.3-alpha.1+build.5`; no `v`, no missing parts, no leading zeros). The parser
//! here follows blang's, its error messages included. Normalizing, as Kubernetes does it, drops
//! one leading `v`, leading zeros, and fills a missing minor or patch with `0`. Equality and
//! ordering ignore build metadata, as semver's precedence does.

use std::cmp::Ordering;
use std::sync::LazyLock;

use cel::common::types::{BOOL_TYPE, CelBool, CelInt, CelString, STRING_TYPE, Type};
use cel::common::value::{CowVal, Val};
use cel::{DeclarationError, Env, ExecutionError};

use crate::support::{arg, go_quote, take_args};

/// `kubernetes.Semver`, the type of what `semver()` returns.
static SEMVER_TYPE: LazyLock<Type> = LazyLock::new(|| Type::new_opaque_type("kubernetes.Semver"));

/// A pre-release identifier: numeric ones order numerically, and before alphanumeric ones.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PreRelease {
    Numeric(u64),
    Alphanumeric(String),
}

impl PreRelease {
    fn compare(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Numeric(a), Self::Numeric(b)) => a.cmp(b),
            (Self::Numeric(_), Self::Alphanumeric(_)) => Ordering::Less,
            (Self::Alphanumeric(_), Self::Numeric(_)) => Ordering::Greater,
            (Self::Alphanumeric(a), Self::Alphanumeric(b)) => a.cmp(b),
        }
    }
}

/// A `kubernetes.Semver` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Semver {
    major: u64,
    minor: u64,
    patch: u64,
    pre: Vec<PreRelease>,
    build: Vec<String>,
}

impl Semver {
    /// blang's `Version.Compare`: by major, minor, patch, then pre-release (a version without
    /// one is greater), identifier by identifier; build metadata doesn't count.
    fn compare(&self, other: &Self) -> Ordering {
        let core = (self.major, self.minor, self.patch).cmp(&(other.major, other.minor, other.patch));
        if core != Ordering::Equal {
            return core;
        }
        match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => self
                .pre
                .iter()
                .zip(&other.pre)
                .map(|(a, b)| a.compare(b))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or_else(|| self.pre.len().cmp(&other.pre.len())),
        }
    }
}

// Equal when neither orders before the other, as blang's `EQ`.
crate::support::opaque_val!(Semver, SEMVER_TYPE, |this, other| this.compare(other) == Ordering::Equal);

const NUMBERS: &str = "0123456789";
const ALPHANUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-0123456789";

fn contains_only(s: &str, set: &str) -> bool {
    s.chars().all(|c| set.contains(c))
}

fn has_leading_zeroes(s: &str) -> bool {
    s.len() > 1 && s.starts_with('0')
}

/// Go's `strconv.ParseUint(s, 10, 64)`, with its error messages.
fn parse_uint(s: &str) -> Result<u64, String> {
    if s.is_empty() || !contains_only(s, NUMBERS) {
        return Err(format!("strconv.ParseUint: parsing {}: invalid syntax", go_quote(s.as_bytes())));
    }
    s.parse::<u64>().map_err(|_| format!("strconv.ParseUint: parsing {}: value out of range", go_quote(s.as_bytes())))
}

/// A major, minor or patch number, `part` naming it in errors.
fn parse_number(s: &str, part: &str) -> Result<u64, String> {
    if !contains_only(s, NUMBERS) {
        return Err(format!("Invalid character(s) found in {} number {}", part.to_lowercase(), go_quote(s.as_bytes())));
    }
    if has_leading_zeroes(s) {
        return Err(format!("{part} number must not contain leading zeroes {}", go_quote(s.as_bytes())));
    }
    parse_uint(s)
}

/// blang's `NewPRVersion`.
fn parse_pre_release(s: &str) -> Result<PreRelease, String> {
    if s.is_empty() {
        return Err("Prerelease is empty".to_owned());
    }
    if contains_only(s, NUMBERS) {
        if has_leading_zeroes(s) {
            return Err(format!(
                "Numeric PreRelease version must not contain leading zeroes {}",
                go_quote(s.as_bytes())
            ));
        }
        return parse_uint(s).map(PreRelease::Numeric);
    }
    if contains_only(s, ALPHANUM) {
        return Ok(PreRelease::Alphanumeric(s.to_owned()));
    }
    Err(format!("Invalid character(s) found in prerelease {}", go_quote(s.as_bytes())))
}

/// blang's `semver.Parse`: `major.minor.patch[-pre.release][+build.meta]`.
fn parse(s: &str) -> Result<Semver, String> {
    if s.is_empty() {
        return Err("Version string empty".to_owned());
    }
    let parts: Vec<&str> = s.splitn(3, '.').collect();
    let [major, minor, rest] = parts.as_slice() else {
        return Err("No Major.Minor.Patch elements found".to_owned());
    };
    let major = parse_number(major, "Major")?;
    let minor = parse_number(minor, "Minor")?;

    let mut patch = *rest;
    let mut build = Vec::new();
    if let Some((before, meta)) = patch.split_once('+') {
        build = meta.split('.').collect();
        patch = before;
    }
    let mut pre = Vec::new();
    if let Some((before, release)) = patch.split_once('-') {
        pre = release.split('.').collect();
        patch = before;
    }
    let patch = parse_number(patch, "Patch")?;
    let pre = pre.into_iter().map(parse_pre_release).collect::<Result<Vec<_>, _>>()?;
    for meta in &build {
        if meta.is_empty() {
            return Err("Build meta data is empty".to_owned());
        }
        if !contains_only(meta, ALPHANUM) {
            return Err(format!("Invalid character(s) found in build meta data {}", go_quote(meta.as_bytes())));
        }
    }
    Ok(Semver { major, minor, patch, pre, build: build.into_iter().map(str::to_owned).collect() })
}

/// Kubernetes' `normalizeAndParse`: one leading `v` dropped, leading zeros dropped from each
/// of the three parts, a missing minor or patch filled with `0`, then [`parse`].
fn normalize_and_parse(s: &str) -> Result<Semver, String> {
    let s = s.strip_prefix('v').unwrap_or(s);
    let mut parts: Vec<String> = s
        .splitn(3, '.')
        .map(|part| {
            if part.len() <= 1 {
                return part.to_owned();
            }
            let trimmed = part.trim_start_matches('0');
            if trimmed.starts_with(|c: char| c.is_ascii_digit()) { trimmed.to_owned() } else { format!("0{trimmed}") }
        })
        .collect();
    if parts.len() < 3 {
        if parts.last().is_some_and(|last| last.contains(['+', '-'])) {
            return Err("short version cannot contain PreRelease/Build meta data".to_owned());
        }
        parts.resize(3, "0".to_owned());
    }
    parse(&parts.join("."))
}

fn parse_maybe_normalized(s: &str, normalize: bool) -> Result<Semver, String> {
    if normalize { normalize_and_parse(s) } else { parse(s) }
}

pub(crate) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_type(SEMVER_TYPE.to_owned())?;
    env.add_overload("semver", "string_to_semver", vec![STRING_TYPE], string_to_semver)?;
    env.add_overload("semver", "string_bool_to_semver", vec![STRING_TYPE, BOOL_TYPE], string_to_semver_normalize)?;
    env.add_overload("isSemver", "is_semver_string", vec![STRING_TYPE], is_semver)?;
    env.add_overload("isSemver", "is_semver_string_bool", vec![STRING_TYPE, BOOL_TYPE], is_semver_normalize)?;
    let semver = || SEMVER_TYPE.to_owned();
    env.add_member_overload("isGreaterThan", "semver_is_greater_than", semver(), vec![semver()], is_greater_than)?;
    env.add_member_overload("isLessThan", "semver_is_less_than", semver(), vec![semver()], is_less_than)?;
    env.add_member_overload("compareTo", "semver_compare_to", semver(), vec![semver()], compare_to)?;
    env.add_member_overload("major", "semver_major", semver(), vec![], major)?;
    env.add_member_overload("minor", "semver_minor", semver(), vec![], minor)?;
    env.add_member_overload("patch", "semver_patch", semver(), vec![], patch)?;
    Ok(())
}

/// `semver('1.0.0')`.
fn string_to_semver<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [s] = take_args(args)?;
    to_semver(s.as_ref(), false)
}

/// `semver('v1.0', true)`.
fn string_to_semver_normalize<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [s, normalize] = take_args(args)?;
    to_semver(s.as_ref(), *arg::<CelBool>(normalize.as_ref())?.inner())
}

fn to_semver<'b, 'v>(s: &dyn Val, normalize: bool) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let s = arg::<CelString>(s)?.inner();
    parse_maybe_normalized(s, normalize)
        .map(CowVal::owned)
        .map_err(|message| ExecutionError::function_error("semver", message))
}

/// `isSemver('1.0.0')`: whether `semver()` accepts the string.
fn is_semver<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [s] = take_args(args)?;
    let s = arg::<CelString>(s.as_ref())?.inner();
    Ok(CowVal::owned(CelBool::from(parse(s).is_ok())))
}

/// `isSemver('v1.0', true)`.
fn is_semver_normalize<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [s, normalize] = take_args(args)?;
    let s = arg::<CelString>(s.as_ref())?.inner();
    let normalize = *arg::<CelBool>(normalize.as_ref())?.inner();
    Ok(CowVal::owned(CelBool::from(parse_maybe_normalized(s, normalize).is_ok())))
}

/// The receiver and the argument of a comparison, ordered.
fn ordering(args: Vec<CowVal<'_, '_>>) -> Result<Ordering, ExecutionError> {
    let [a, b] = take_args(args)?;
    Ok(arg::<Semver>(a.as_ref())?.compare(arg::<Semver>(b.as_ref())?))
}

fn is_greater_than<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    Ok(CowVal::owned(CelBool::from(ordering(args)? == Ordering::Greater)))
}

fn is_less_than<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    Ok(CowVal::owned(CelBool::from(ordering(args)? == Ordering::Less)))
}

/// `-1`, `0` or `1`.
fn compare_to<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let n: i64 = match ordering(args)? {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    };
    Ok(CowVal::owned(CelInt::from(n)))
}

/// A version number as an `int`. Go converts the `uint64` with `types.Int(n)`, which wraps past
/// `i64::MAX`; this does the same rather than fail.
fn number<'b, 'v>(args: Vec<CowVal<'b, 'v>>, part: fn(&Semver) -> u64) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [v] = take_args(args)?;
    let n = part(arg::<Semver>(v.as_ref())?);
    Ok(CowVal::owned(CelInt::from(i64::from_ne_bytes(n.to_ne_bytes()))))
}

fn major<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    number(args, |v| v.major)
}

fn minor<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    number(args, |v| v.minor)
}

fn patch<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    number(args, |v| v.patch)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::test_support::{assert_values, eval};
    use cel::Value;

    #[test]
    fn kubernetes_examples() {
        // semverlib.go's doc comment and semver_test.go.
        let cases: &[(&str, Value)] = &[
            ("semver('1.0.0') == semver('1.0.0')", true.into()),
            ("isSemver('0.1.0-alpha.1')", true.into()),
            ("semver('v1.0.0', true) == semver('1.0.0')", true.into()),
            ("semver('1.0', true) == semver('1.0.0')", true.into()),
            ("semver('01.01.01', true) == semver('1.1.1')", true.into()),
            ("isSemver('1.0.0')", true.into()),
            ("isSemver('hello')", false.into()),
            ("isSemver('v1.0')", false.into()),
            ("isSemver('v1.0', true)", true.into()),
            ("isSemver('1.0', true)", true.into()),
            ("isSemver('01.01.01', true)", true.into()),
            ("semver('1.2.3').major()", 1.into()),
            ("semver('1.2.3').compareTo(semver('1.2.3'))", 0.into()),
            ("semver('1.2.3').compareTo(semver('2.0.0'))", (-1).into()),
            ("semver('1.2.3').compareTo(semver('0.1.2'))", 1.into()),
            ("isSemver('1.2.3-beta.1+build.1')", true.into()),
            ("isSemver('')", false.into()),
            ("isSemver('v1.0.0')", false.into()),
            ("isSemver(' 1.0.0')", false.into()),
            ("isSemver('1. 0.0')", false.into()),
            ("isSemver('1.0.0 ')", false.into()),
            ("isSemver('01.01.01')", false.into()),
            ("isSemver('1')", false.into()),
            ("isSemver('1.1')", false.into()),
            ("isSemver('', true)", false.into()),
            ("isSemver(' 1.0.0', true)", false.into()),
            ("isSemver('1. 0.0', true)", false.into()),
            ("isSemver('1.0.0 ', true)", false.into()),
            ("isSemver('v1.0.0', true)", true.into()),
            ("isSemver('1', true)", true.into()),
            ("semver('v01.01', true) == semver('1.1.0')", true.into()),
            ("semver('1.2.3') == semver('1.2.3')", true.into()),
            ("semver('1.2.3') == semver('1.0.0')", false.into()),
            ("semver('1.0.0').isLessThan(semver('1.2.3'))", true.into()),
            ("semver('1.0.0').isLessThan(semver('1.0.0'))", false.into()),
            ("semver('1.2.3').isGreaterThan(semver('1.0.0'))", true.into()),
            ("semver('1.0.0').isGreaterThan(semver('1.0.0'))", false.into()),
            ("semver('1.0.0').compareTo(semver('1.2.3'))", (-1).into()),
            ("semver('1.2.3').compareTo(semver('1.0.0'))", 1.into()),
            ("semver('1.2.3').minor()", 2.into()),
            ("semver('1.2.3').patch()", 3.into()),
        ];
        assert_values(cases);
    }

    #[test]
    fn precedence() {
        // semver.org §11's example, in ascending order.
        let ordered = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "2.0.0",
            "2.1.0",
            "2.1.1",
        ];
        for pair in ordered.windows(2) {
            let src = format!("semver('{}').isLessThan(semver('{}'))", pair[0], pair[1]);
            assert_eq!(eval(&src), Ok(Value::Bool(true)), "{src}");
        }
        assert_eq!(eval("semver('1.0.0+build.1') == semver('1.0.0+build.2')"), Ok(Value::Bool(true)));
        assert_eq!(eval("type(semver('1.0.0')) == kubernetes.Semver"), Ok(Value::Bool(true)));
    }

    #[test]
    fn errors() {
        let cases: &[(&str, &str)] = &[
            ("v1.0", "No Major.Minor.Patch elements found"),
            ("200K", "No Major.Minor.Patch elements found"),
            ("", "Version string empty"),
            ("1.2.x", "Invalid character(s) found in patch number \"x\""),
            ("a.2.3", "Invalid character(s) found in major number \"a\""),
            ("1.02.3", "Minor number must not contain leading zeroes \"02\""),
            ("1..3", "strconv.ParseUint: parsing \"\": invalid syntax"),
            ("99999999999999999999.0.0", "strconv.ParseUint: parsing \"99999999999999999999\": value out of range"),
            ("1.2.3-", "Prerelease is empty"),
            ("1.2.3-01", "Numeric PreRelease version must not contain leading zeroes \"01\""),
            ("1.2.3-a_b", "Invalid character(s) found in prerelease \"a_b\""),
            ("1.2.3+", "Build meta data is empty"),
            ("1.2.3+a.", "Build meta data is empty"),
            ("1.2.3+a!", "Invalid character(s) found in build meta data \"a!\""),
        ];
        for (s, want) in cases {
            assert_eq!(parse(s).unwrap_err(), *want, "{s}");
            let err = eval(&format!("semver('{s}')")).unwrap_err();
            assert!(err.contains(want), "{s}: {err}");
        }
        assert_eq!(
            normalize_and_parse("1.0-beta").unwrap_err(),
            "short version cannot contain PreRelease/Build meta data"
        );
        assert!(eval("semver('1.0.0').isLessThan('1.0.0')").is_err());
    }

    #[test]
    fn parses() {
        let v = parse("1.2.3-alpha.10+build.5").unwrap();
        assert_eq!((v.major, v.minor, v.patch), (1, 2, 3));
        assert_eq!(v.pre, vec![PreRelease::Alphanumeric("alpha".into()), PreRelease::Numeric(10)]);
        assert_eq!(v.build, vec!["build".to_owned(), "5".to_owned()]);
        assert_eq!(normalize_and_parse("v00.010.0").unwrap(), parse("0.10.0").unwrap());
        assert_eq!(normalize_and_parse("1.2.003-rc.1").unwrap(), parse("1.2.3-rc.1").unwrap());
        assert_eq!(normalize_and_parse("1.2.00-rc").unwrap(), parse("1.2.0-rc").unwrap());
    }
}
