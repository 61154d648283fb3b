//! Timestamps as the newest cel-go has them, where the `cel` crate differs: `string(t)` keeps the
//! offset the timestamp was written with (`2024-01-01T00:00:00+02:00`, Go's RFC 3339 with
//! nanoseconds), and the accessors without a time zone (`t.getHours()`) read the time in UTC.
//! `string(d)` of a double is cel-go's too: Go's `%g` (`1e+06`, `2e-09`).
//!
//! Both are macros over the crate's functions: `t.getHours()` becomes `@portal_in_utc(t).getHours()`
//! and `string(x)` becomes `@portal_to_string(x)`, which formats timestamps itself and hands
//! anything else to the crate's own `string`. Likewise `optional.ofNonZeroValue(t)`: a timestamp's
//! zero value is Go's zero time, `0001-01-01T00:00:00Z`, not the Unix epoch.

use std::sync::LazyLock;

use cel::common::ast::{Expr, IdedExpr};
use cel::common::types::{CelDouble, CelString, CelTimestamp, DYN_TYPE};
use cel::common::value::CowVal;
use cel::parser::{Macro, MacroExprHelper, ParseError};
use cel::{DeclarationError, Env, ExecutionError};

use crate::comprehensions::call;
use crate::go_text::{go_g, go_rfc3339_nano};
use crate::support::{namespaced_as, no_such_overload, take_args};

/// `string(x)`, with timestamps formatted as cel-go formats them.
pub const TO_STRING_FUNCTION: &str = "@portal_to_string";
/// `optional.ofNonZeroValue(x)`, with Go's zero time as the zero timestamp.
pub const OF_NON_ZERO_FUNCTION: &str = "@portal_of_non_zero_value";
/// A timestamp moved to UTC; anything else untouched.
pub const IN_UTC_FUNCTION: &str = "@portal_in_utc";

/// The accessors that, without a time zone argument, read the time in UTC.
const ACCESSORS: &[&str] = &[
    "getFullYear",
    "getMonth",
    "getDayOfYear",
    "getDate",
    "getDayOfMonth",
    "getDayOfWeek",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
];

/// The `cel` crate's standard library and the Kubernetes libraries, without Portal's macros: for
/// the conversions of everything but timestamps (`string(ip(…))` is the `ip` library's).
static STANDARD: LazyLock<Option<Env>> = LazyLock::new(|| {
    let mut env = Env::default().with_stdlib();
    crate::libraries::register(&mut env).ok().map(|()| env)
});

pub(crate) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    for accessor in ACCESSORS {
        env.add_macro(Macro::receiver(*accessor, 0, move |helper, target, _args| in_utc(helper, target, accessor)))?;
    }
    env.add_macro(Macro::global("string", 1, to_string))?;
    env.add_macro(Macro::receiver("ofNonZeroValue", 1, namespaced_as("optional", OF_NON_ZERO_FUNCTION)))?;
    env.add_overload(OF_NON_ZERO_FUNCTION, "portal_of_non_zero_value_dyn", vec![DYN_TYPE], non_zero_optional)?;
    env.add_overload(IN_UTC_FUNCTION, "portal_in_utc_dyn", vec![DYN_TYPE], timestamp_in_utc)?;
    env.add_overload(TO_STRING_FUNCTION, "portal_to_string_dyn", vec![DYN_TYPE], convert_to_string)
}

/// `t.getHours()` → `@portal_in_utc(t).getHours()`.
fn in_utc(
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    accessor: &str,
) -> Result<Option<IdedExpr>, ParseError> {
    let Some(receiver) = target.take() else {
        return Ok(None);
    };
    let in_utc = call(helper, IN_UTC_FUNCTION, vec![receiver]);
    Ok(Some(helper.next_expr(Expr::Call(cel::common::ast::CallExpr {
        func_name: accessor.to_owned(),
        target: Some(Box::new(in_utc)),
        args: Vec::new(),
    }))))
}

/// `string(x)` → `@portal_to_string(x)`.
fn to_string(
    helper: &mut MacroExprHelper<'_>,
    _target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Result<Option<IdedExpr>, ParseError> {
    Ok(Some(call(helper, TO_STRING_FUNCTION, std::mem::take(args))))
}

fn non_zero_optional<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    if let [value] = args.as_slice()
        && let Some(timestamp) = value.downcast_ref::<CelTimestamp>()
    {
        // Go's `time.Time{}.IsZero()`: the first instant of year 1, UTC.
        const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;
        let zero =
            timestamp.inner().timestamp() == GO_ZERO_TIME_SECONDS && timestamp.inner().timestamp_subsec_nanos() == 0;
        let standard = if zero { "optional.none" } else { "optional.of" };
        let args = if zero { Vec::new() } else { args };
        return delegate(standard, args);
    }
    delegate("optional.ofNonZeroValue", args)
}

/// Calls the standard library's (or a Kubernetes library's) `function`.
fn delegate<'b, 'v>(function: &str, args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    match STANDARD.as_ref().and_then(|standard| standard.find_overload(function, &args)) {
        Some(standard) => standard(args),
        None => {
            let values: Vec<&dyn cel::common::value::Val> = args.iter().map(|arg| arg.as_ref()).collect();
            Err(no_such_overload(function, &values, false))
        }
    }
}

fn timestamp_in_utc<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [value] = take_args(args)?;
    match value.downcast_ref::<CelTimestamp>() {
        Some(timestamp) => {
            let utc = timestamp.inner().with_timezone(&chrono::Utc).fixed_offset();
            Ok(CowVal::owned(CelTimestamp::from(utc)))
        }
        None => Ok(value),
    }
}

fn convert_to_string<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    if let [value] = args.as_slice() {
        if let Some(timestamp) = value.downcast_ref::<CelTimestamp>() {
            return Ok(CowVal::owned(CelString::from(go_rfc3339_nano(timestamp.inner()))));
        }
        // cel-go writes a double as Go's `%g`: `1.234567e+06`, `2e-09`.
        if let Some(double) = value.downcast_ref::<CelDouble>() {
            return Ok(CowVal::owned(CelString::from(go_g(*double.inner()))));
        }
    }
    delegate("string", args)
}

#[cfg(test)]
mod tests {
    use crate::test_support::{Expect, check};

    #[test]
    fn timestamps_convert_and_read_as_cel_go_does() {
        check(&[
            ("string(timestamp('2024-01-01T00:00:00+02:00'))", Expect::Str("2024-01-01T00:00:00+02:00")),
            ("string(timestamp('2024-01-01T00:00:00Z'))", Expect::Str("2024-01-01T00:00:00Z")),
            ("string(timestamp('2024-01-01T00:00:00.120+00:00'))", Expect::Str("2024-01-01T00:00:00.12Z")),
            ("timestamp('2024-01-01T00:00:00+02:00').getHours()", Expect::Int(22)),
            ("timestamp('2024-01-01T00:00:00+02:00').getDate()", Expect::Int(31)),
            ("timestamp('2024-01-01T00:00:00+02:00').getHours('+02:00')", Expect::Int(0)),
            ("duration('2h30m').getHours()", Expect::Int(2)),
            // Everything else converts as the standard library does.
            ("string(1) + string(1u) + string(true) + string('x')", Expect::Str("11truex")),
            ("string(duration('90s'))", Expect::Str("90s")),
            (
                "string(1234567.0) + ' ' + string(0.000000002) + ' ' + string(2.5)",
                Expect::Str("1.234567e+06 2e-09 2.5"),
            ),
            ("string(100000.0) + ' ' + string(-0.0) + ' ' + string(1e21)", Expect::Str("100000 -0 1e+21")),
            ("string(b'\\xff')", Expect::Fails("invalid UTF-8")),
            ("optional.ofNonZeroValue(timestamp('1970-01-01T00:00:00Z')).hasValue()", Expect::Bool(true)),
            ("optional.ofNonZeroValue(timestamp('0001-01-01T00:00:00Z')).hasValue()", Expect::Bool(false)),
            ("optional.ofNonZeroValue(duration('0s')).hasValue()", Expect::Bool(false)),
            ("optional.ofNonZeroValue('').hasValue() || optional.ofNonZeroValue(0).hasValue()", Expect::Bool(false)),
            ("optional.ofNonZeroValue('x').value()", Expect::Str("x")),
            ("optional.ofNonZeroValue(timestamp('1970-01-01T00:00:00Z')).hasValue()", Expect::Bool(true)),
            ("optional.ofNonZeroValue(timestamp('0001-01-01T00:00:00Z')).hasValue()", Expect::Bool(false)),
            ("optional.ofNonZeroValue(duration('0s')).hasValue()", Expect::Bool(false)),
            ("optional.ofNonZeroValue('').hasValue() || optional.ofNonZeroValue(0).hasValue()", Expect::Bool(false)),
            ("optional.ofNonZeroValue('x').value()", Expect::Str("x")),
        ]);
    }
}
