//! `string.format(list)` as Kubernetes has it: cel-go's strings extension at version 2, whose
//! formatter prints numbers for the `en_US` locale (`%f` groups thousands, `%e` writes
//! `1.5 × 10⁰³`), writes the members of lists and maps as CEL literals, and takes `%s` of a double
//! as Go's `%g`. The `cel` crate implements the newer formatter of version 4, so `s.format(l)` is
//! a macro for `@portal_format(s, l)`, this one.
//!
//! [`interpolate`] walks a format string for both the evaluation and the load-time check (a
//! literal format string with a literal list is checked when the rule is loaded, as Kubernetes
//! does), so the two agree on what a clause is.

use std::fmt::Write as _;

use cel::common::ast::IdedExpr;
use cel::common::types::{
    CelBool, CelBytes, CelDouble, CelDuration, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelTimestamp,
    CelType, CelUInt, DYN_TYPE,
};
use cel::common::value::{CowVal, Val};
use cel::parser::{Macro, MacroExprHelper, ParseError};
use cel::{DeclarationError, Env, ExecutionError};

use crate::comprehensions::call;
use crate::go_text::{go_duration, go_g, go_rfc3339_nano};
use crate::support::{elements, go_quote, take_args};

/// The formatter `s.format(l)` calls.
pub const FORMAT_FUNCTION: &str = "@portal_format";

/// The largest precision a clause may ask for. Kubernetes sets none; digits are written out, so
/// the precision bounds the size of the result, and a rule may not ask for a gigabyte of zeros.
pub const MAX_PRECISION: usize = 1000;

/// What a clause does with its argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `%s`
    String,
    /// `%d`
    Decimal,
    /// `%f`, with its precision (6 when none is given).
    Fixed(usize),
    /// `%e`. cel-go passes the precision (6 when none is given) on as Go's *width*, so it only
    /// pads; the mantissa always has 6 decimals.
    Scientific {
        /// The clause's precision (6 when none is given): the result is padded with spaces on the left to this width.
        width: usize,
    },
    /// `%b`
    Binary,
    /// `%x` and `%X`
    Hex {
        /// `true` for `%X`: digits `A` to `F` in upper case.
        upper: bool,
    },
    /// `%o`
    Octal,
}

/// Which error a clause past the last argument at the very end of the string gets: cel-go's
/// evaluation fetches the argument first, its load-time check looks at the string first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// As evaluation does: `index N out of range` rather than `unexpected end of string`.
    Evaluation,
    /// As the load-time check does: `unexpected end of string` rather than `index N out of range`.
    Check,
}

/// `format` with each clause replaced by what `clause` makes of it and the index of its
/// argument, among `count` arguments. The errors are cel-go's.
pub fn interpolate(
    format: &str,
    count: usize,
    order: Order,
    mut clause: impl FnMut(usize, Verb) -> Result<String, String>,
) -> Result<String, String> {
    let bytes = format.as_bytes();
    let mut out = String::with_capacity(format.len());
    let mut next_arg = 0;
    let mut at = 0;
    while let Some(found) = format[at..].find('%') {
        out.push_str(&format[at..at + found]);
        at += found;
        if bytes.get(at + 1) == Some(&b'%') {
            out.push('%');
            at += 2;
            continue;
        }
        let out_of_range = next_arg >= count;
        if out_of_range && order == Order::Evaluation {
            return Err(format!("index {next_arg} out of range"));
        }
        if at + 1 >= bytes.len() {
            return Err("unexpected end of string".to_owned());
        }
        if out_of_range {
            return Err(format!("index {next_arg} out of range"));
        }
        let (read, verb) =
            parse_clause(&bytes[at + 1..]).map_err(|error| format!("could not parse formatting clause: {error}"))?;
        let text = clause(next_arg, verb).map_err(|error| format!("error during formatting: {error}"))?;
        out.push_str(&text);
        at += 1 + read;
        next_arg += 1;
    }
    out.push_str(&format[at..]);
    Ok(out)
}

/// The clause at the start of `rest` (after its `%`), and how many bytes it takes.
fn parse_clause(rest: &[u8]) -> Result<(usize, Verb), String> {
    let mut at = 0;
    let mut precision = None;
    if rest.first() == Some(&b'.') {
        at = 1;
        while rest.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at >= rest.len() {
            return Err("error while parsing precision: could not find end of precision specifier".to_owned());
        }
        let digits = std::str::from_utf8(&rest[1..at]).unwrap_or_default();
        let value: usize = digits.parse().map_err(|_| {
            format!(
                "error while parsing precision: error while converting precision to integer: strconv.Atoi: parsing {}: {}",
                go_quote(digits.as_bytes()),
                if digits.is_empty() { "invalid syntax" } else { "value out of range" }
            )
        })?;
        if value > MAX_PRECISION {
            return Err(format!("precision {value} is over the limit of {MAX_PRECISION}"));
        }
        precision = Some(value);
    }
    // As cel-go, the clause letter is the byte after the precision.
    let letter = rest.get(at).copied().unwrap_or_default();
    let verb = match letter {
        b's' => Verb::String,
        b'd' => Verb::Decimal,
        b'f' => Verb::Fixed(precision.unwrap_or(6)),
        b'e' => Verb::Scientific { width: precision.unwrap_or(6) },
        b'b' => Verb::Binary,
        b'x' => Verb::Hex { upper: false },
        b'X' => Verb::Hex { upper: true },
        b'o' => Verb::Octal,
        other => return Err(format!("unrecognized formatting clause \"{}\"", char::from(other))),
    };
    Ok((at + 1, verb))
}

pub(crate) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_macro(Macro::receiver("format", 1, format_macro))?;
    env.add_overload(FORMAT_FUNCTION, "portal_format_string_list", vec![DYN_TYPE, DYN_TYPE], format_call)
}

/// `s.format(l)` → `@portal_format(s, l)`.
fn format_macro(
    helper: &mut MacroExprHelper<'_>,
    target: &mut Option<IdedExpr>,
    args: &mut Vec<IdedExpr>,
) -> Result<Option<IdedExpr>, ParseError> {
    let Some(receiver) = target.take() else {
        return Ok(None);
    };
    let mut all = vec![receiver];
    all.append(args);
    Ok(Some(call(helper, FORMAT_FUNCTION, all)))
}

fn format_call<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [format, list] = take_args(args)?;
    let Some(format) = format.downcast_ref::<CelString>() else {
        return Err(ExecutionError::no_such_member_overload(
            "format",
            vec![format.get_type().name().to_owned(), list.get_type().name().to_owned()],
        ));
    };
    let values = elements(list.as_ref())?;
    interpolate(format.inner(), values.len(), Order::Evaluation, |index, verb| match values.get(index) {
        Some(value) => clause(verb, *value),
        None => Err(format!("index {index} out of range")),
    })
    .map(|text| CowVal::owned(CelString::from(text)))
    .map_err(|message| ExecutionError::function_error("format", message))
}

/// One clause applied to its argument.
fn clause(verb: Verb, value: &dyn Val) -> Result<String, String> {
    let type_name = || value.get_type().name().to_owned();
    match verb {
        Verb::String => string_clause(value),
        Verb::Decimal => decimal(value)
            .ok_or_else(|| format!("decimal clause can only be used on integers, was given {}", type_name())),
        Verb::Fixed(precision) => float_argument(value)
            .map(|f| en_us_fixed(f, precision))
            .ok_or_else(|| format!("fixed-point clause can only be used on doubles, was given {}", type_name())),
        Verb::Scientific { width } => float_argument(value)
            .map(|f| pad(en_us_scientific(f), width))
            .ok_or_else(|| format!("scientific clause can only be used on doubles, was given {}", type_name())),
        Verb::Binary => {
            if let Some(i) = value.downcast_ref::<CelInt>() {
                Ok(signed(*i.inner(), |magnitude| format!("{magnitude:b}")))
            } else if let Some(u) = value.downcast_ref::<CelUInt>() {
                Ok(format!("{:b}", u.inner()))
            } else if let Some(b) = value.downcast_ref::<CelBool>() {
                Ok(if *b.inner() { "1" } else { "0" }.to_owned())
            } else {
                Err(format!("only integers and bools can be formatted as binary, was given {}", type_name()))
            }
        }
        Verb::Hex { upper } => {
            let text = if let Some(i) = value.downcast_ref::<CelInt>() {
                signed(*i.inner(), |magnitude| format!("{magnitude:x}"))
            } else if let Some(u) = value.downcast_ref::<CelUInt>() {
                format!("{:x}", u.inner())
            } else if let Some(s) = value.downcast_ref::<CelString>() {
                hex(s.inner().as_bytes())
            } else if let Some(b) = value.downcast_ref::<CelBytes>() {
                hex(b.inner())
            } else {
                return Err(format!(
                    "only integers, byte buffers, and strings can be formatted as hex, was given {}",
                    type_name()
                ));
            };
            Ok(if upper { text.to_ascii_uppercase() } else { text })
        }
        Verb::Octal => {
            if let Some(i) = value.downcast_ref::<CelInt>() {
                Ok(signed(*i.inner(), |magnitude| format!("{magnitude:o}")))
            } else if let Some(u) = value.downcast_ref::<CelUInt>() {
                Ok(format!("{:o}", u.inner()))
            } else {
                Err(format!("octal clause can only be used on integers, was given {}", type_name()))
            }
        }
    }
}

/// Go prints a negative number in another base with a minus sign, not in two's complement.
fn signed(i: i64, digits: impl Fn(u64) -> String) -> String {
    let text = digits(i.unsigned_abs());
    if i < 0 { format!("-{text}") } else { text }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(2 * bytes.len()), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

fn decimal(value: &dyn Val) -> Option<String> {
    if let Some(i) = value.downcast_ref::<CelInt>() {
        Some(i.inner().to_string())
    } else {
        value.downcast_ref::<CelUInt>().map(|u| u.inner().to_string())
    }
}

/// The double `%f` and `%e` print: a double, or one of the strings `"NaN"`, `"Infinity"` and
/// `"-Infinity"`.
fn float_argument(value: &dyn Val) -> Option<f64> {
    if let Some(d) = value.downcast_ref::<CelDouble>() {
        return Some(*d.inner());
    }
    match value.downcast_ref::<CelString>()?.inner() {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// `%s`: a value as `string()` converts it, with lists and maps written as CEL literals.
fn string_clause(value: &dyn Val) -> Result<String, String> {
    if let Some(d) = value.downcast_ref::<CelDouble>() {
        return Ok(go_g(*d.inner()));
    }
    if value.downcast_ref::<CelNull>().is_some() {
        return Ok("null".to_owned());
    }
    if let Some(t) = value.downcast_ref::<CelType>() {
        return Ok(t.name().to_owned());
    }
    if let Some(timestamp) = value.downcast_ref::<CelTimestamp>() {
        return Ok(go_rfc3339_nano(timestamp.inner()));
    }
    if let Some(b) = value.downcast_ref::<CelBytes>() {
        return std::str::from_utf8(b.inner())
            .map(str::to_owned)
            .map_err(|_| "invalid UTF-8 in bytes, cannot convert to string".to_owned());
    }
    if let Some(map) = value.downcast_ref::<CelMap>() {
        return map_literal(map);
    }
    if value.downcast_ref::<CelList>().is_some() {
        return list_literal(value);
    }
    if let Some(s) = value.downcast_ref::<CelString>() {
        return Ok(s.inner().to_owned());
    }
    if let Some(b) = value.downcast_ref::<CelBool>() {
        return Ok(b.inner().to_string());
    }
    if let Some(duration) = value.downcast_ref::<CelDuration>() {
        return Ok(go_duration(duration.inner()));
    }
    decimal(value).ok_or_else(|| {
        format!(
            "string clause can only be used on strings, bools, bytes, ints, doubles, maps, lists, types, durations, \
             and timestamps, was given {}",
            value.get_type().name()
        )
    })
}

/// A member of a list or map written inside `%s`: as a CEL literal.
fn member_literal(value: &dyn Val) -> Result<String, String> {
    if let Some(d) = value.downcast_ref::<CelDouble>() {
        let d = *d.inner();
        return Ok(if d.is_finite() { format!("{d:.6}") } else { format!("\"{}\"", go_g(d)) });
    }
    if let Some(s) = value.downcast_ref::<CelString>() {
        return Ok(go_quote(s.inner().as_bytes()));
    }
    if value.downcast_ref::<CelBytes>().is_some() {
        return Ok(format!("b{}", go_quote(string_clause(value)?.as_bytes())));
    }
    if let Some(timestamp) = value.downcast_ref::<CelTimestamp>() {
        return Ok(format!("timestamp({})", go_quote(go_rfc3339_nano(timestamp.inner()).as_bytes())));
    }
    if let Some(duration) = value.downcast_ref::<CelDuration>() {
        return Ok(format!("duration({})", go_quote(go_duration(duration.inner()).as_bytes())));
    }
    let is_plain = value.downcast_ref::<CelInt>().is_some()
        || value.downcast_ref::<CelUInt>().is_some()
        || value.downcast_ref::<CelBool>().is_some()
        || value.downcast_ref::<CelNull>().is_some()
        || value.downcast_ref::<CelType>().is_some()
        || value.downcast_ref::<CelList>().is_some()
        || value.downcast_ref::<CelMap>().is_some();
    if is_plain {
        return string_clause(value);
    }
    Err(format!("no formatting function for {}", value.get_type().name()))
}

fn list_literal(list: &dyn Val) -> Result<String, String> {
    let members = elements(list).map_err(|error| error.to_string())?;
    let written: Result<Vec<String>, String> = members.into_iter().map(member_literal).collect();
    Ok(format!("[{}]", written?.join(", ")))
}

/// `{key:value, …}`, ordered by the written key as cel-go orders it.
fn map_literal(map: &CelMap<'_>) -> Result<String, String> {
    let mut entries = Vec::with_capacity(map.len());
    for (key, value) in map.iter() {
        let key = match key {
            CelMapKey::String(s) => go_quote(s.inner().as_bytes()),
            CelMapKey::Bool(b) => b.inner().to_string(),
            CelMapKey::Int(i) => i.inner().to_string(),
            CelMapKey::UInt(u) => u.inner().to_string(),
        };
        entries.push((key, member_literal(&**value)?));
    }
    entries.sort();
    let written: Vec<String> = entries.into_iter().map(|(key, value)| format!("{key}:{value}")).collect();
    Ok(format!("{{{}}}", written.join(", ")))
}

/// `%f` as Go's `golang.org/x/text` prints it for `en_US`: thousands grouped with commas, and
/// infinity as `∞`.
fn en_us_fixed(f: f64, precision: usize) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "∞" } else { "-∞" }.to_owned();
    }
    let plain = format!("{:.*}", precision, f.abs());
    let (whole, fraction) = plain.split_once('.').map_or((plain.as_str(), None), |(w, fr)| (w, Some(fr)));
    let mut out = String::with_capacity(plain.len() + plain.len() / 3 + 1);
    if f.is_sign_negative() {
        out.push('-');
    }
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if let Some(fraction) = fraction {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

/// `%e` as `golang.org/x/text` prints it for `en_US`: six decimals, then `×10` and the exponent
/// in superscript digits, at least two of them (`2.718280 × 10⁰⁰`, with narrow no-break spaces).
fn en_us_scientific(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "∞" } else { "-∞" }.to_owned();
    }
    let written = format!("{f:.6e}");
    let (mantissa, exponent) = written.split_once('e').unwrap_or((&written, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let mut out = format!("{mantissa}\u{202f}×\u{202f}10");
    if exponent < 0 {
        out.push('⁻');
    }
    for digit in format!("{:02}", exponent.unsigned_abs()).bytes() {
        out.push(SUPERSCRIPT_DIGITS[usize::from(digit - b'0')]);
    }
    out
}

const SUPERSCRIPT_DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];

/// Go's width: spaces on the left up to `width` characters.
fn pad(text: String, width: usize) -> String {
    let length = text.chars().count();
    if width > length { format!("{}{text}", " ".repeat(width - length)) } else { text }
}

#[cfg(test)]
mod tests;
