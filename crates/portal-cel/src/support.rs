//! Small helpers shared by the libraries of this crate: taking a call's arguments apart and
//! walking any `list` value, whatever Rust type backs it.

use cel::ExecutionError;
use cel::common::ast::{CallExpr, Expr, IdedExpr};
use cel::common::value::{CowVal, FromVal, Val};
use cel::parser::{MacroExprHelper, ParseError};

/// `args` as the `N` arguments of an overload. The dispatcher only calls an overload with as
/// many arguments as it declares, so a mismatch is an internal error, reported rather than
/// panicking.
pub(crate) fn take_args<'b, 'v, const N: usize>(
    args: Vec<CowVal<'b, 'v>>,
) -> Result<[CowVal<'b, 'v>; N], ExecutionError> {
    args.try_into().map_err(|args: Vec<_>| ExecutionError::invalid_argument_count(N, args.len()))
}

/// A macro for `namespace.function(…)` that calls `hidden(…)` instead; the same method called on
/// anything else is left as written.
pub fn namespaced_as(
    namespace: &'static str,
    hidden: &'static str,
) -> impl Fn(&mut MacroExprHelper<'_>, &mut Option<IdedExpr>, &mut Vec<IdedExpr>) -> Result<Option<IdedExpr>, ParseError>
+ Send
+ Sync
+ 'static {
    move |helper, target, args| {
        if !matches!(target.as_ref().map(|t| &t.expr), Some(Expr::Ident(name)) if name == namespace) {
            return Ok(None);
        }
        let args = std::mem::take(args);
        Ok(Some(helper.next_expr(Expr::Call(CallExpr { func_name: hidden.to_owned(), target: None, args }))))
    }
}

/// `val` downcast to the `T` its overload was declared with.
pub(crate) fn arg<'b, 'v, T: FromVal<'b, 'v> + Val>(val: &'b (dyn Val + 'v)) -> Result<&'b T, ExecutionError> {
    val.downcast_ref::<T>().ok_or_else(|| ExecutionError::UnexpectedType {
        got: val.get_type().name().to_owned(),
        want: T::cel_type().name().to_owned(),
    })
}

/// The elements of a `list`, borrowed. Any value that is iterable is accepted, so lists an
/// application backs with its own type work too.
pub(crate) fn elements<'b, 'v>(list: &'b (dyn Val + 'v)) -> Result<Vec<&'b (dyn Val + 'v)>, ExecutionError> {
    let iterable = list.as_iterable().ok_or_else(|| ExecutionError::UnexpectedType {
        got: list.get_type().name().to_owned(),
        want: "list".to_owned(),
    })?;
    let mut items = iterable.iter();
    let mut out = Vec::new();
    while let Some(item) = items.next() {
        out.push(item);
    }
    Ok(out)
}

/// The "found no matching overload" error of a call whose arguments have types the function
/// does not take, as a type-checked Kubernetes expression would have reported at compile time.
pub(crate) fn no_such_overload(function: &str, args: &[&dyn Val], member: bool) -> ExecutionError {
    let types = args.iter().map(|arg| arg.get_type().name().to_owned()).collect();
    if member {
        ExecutionError::no_such_member_overload(function, types)
    } else {
        ExecutionError::no_such_overload(function, types)
    }
}

/// Go's `strconv.Quote`, for error messages: in double quotes, with Go's escapes for quotes,
/// backslashes, control characters and bytes that are not UTF-8.
pub(crate) fn go_quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{7}' => out.push_str("\\a"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{b}' => out.push_str("\\v"),
                c if c == ' ' || !(c.is_control() || c.is_whitespace()) => out.push(c),
                c if u32::from(c) < 0x80 => out.push_str(&format!("\\x{:02x}", u32::from(c))),
                c if u32::from(c) < 0x1_0000 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                c => out.push_str(&format!("\\U{:08x}", u32::from(c))),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('"');
    out
}

/// Implements `Val` (and `StaticVal`) for an opaque library type: its CEL type, equality by
/// `$equal` (with `$this` and `$other` bound to the two values), cloning and downcasting.
/// Every opaque type of these libraries needs exactly this and nothing more.
macro_rules! opaque_val {
    ($type:ty, $cel_type:expr, |$this:ident, $other:ident| $equal:expr) => {
        impl cel::common::value::Val for $type {
            fn get_type(&self) -> &cel::common::types::Type {
                &$cel_type
            }

            fn cel_type() -> &'static cel::common::types::Type {
                &$cel_type
            }

            fn equals(&self, other: &dyn cel::common::value::Val) -> bool {
                let $this = self;
                other.downcast_ref::<$type>().is_some_and(|$other| $equal)
            }

            fn clone_as_boxed<'v>(&self) -> Box<dyn cel::common::value::Val + 'v>
            where
                Self: 'v,
            {
                Box::new(self.clone())
            }

            fn as_any(&self) -> Option<&dyn std::any::Any> {
                Some(self)
            }
        }

        impl cel::common::value::StaticVal for $type {}
    };
}

pub(crate) use opaque_val;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn quotes_as_go_does() {
        assert_eq!(go_quote(b"a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote(b"\x01\x7f\n"), r#""\x01\x7f\n""#);
        assert_eq!(go_quote("é".as_bytes()), "\"é\"");
        assert_eq!(go_quote(b"%\xc3"), r#""%\xc3""#);
    }
}
