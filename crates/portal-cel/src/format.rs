//! Kubernetes' format library (`k8s.io/apiserver/pkg/cel/library/format.go`): the named string
//! formats of the Kubernetes API, as `kubernetes.NamedFormat` values.
//!
//! - `format.dns1123Label()`, `format.dns1123Subdomain()`, `format.dns1035Label()`,
//!   `format.qualifiedName()`, `format.dns1123LabelPrefix()`, `format.dns1123SubdomainPrefix()`,
//!   `format.dns1035LabelPrefix()`, `format.labelValue()`, `format.uri()`, `format.uuid()`,
//!   `format.byte()`, `format.date()`, `format.datetime()`: each format;
//! - `format.named(name)`: the format of that name, as an optional;
//! - `<format>.validate(s)`: `optional.none()` when `s` is valid, else `optional.of` the
//!   list of what is wrong with it, with Kubernetes' messages.
//!
//! The validations are those of `k8s.io/apimachinery` (names, label values), Go's `net/url`
//! (`uri`) and `k8s.io/kube-openapi`'s `strfmt` (`uuid`, `byte`, `date`, `datetime`),
//! written out by hand rather than with regular expressions, which they all are simple enough
//! for.

use std::borrow::Cow;
use std::sync::LazyLock;

use cel::common::functions::Function;
use cel::common::types::{CelList, CelOptional, CelString, STRING_TYPE, Type};
use cel::common::value::{CowVal, Val};
use cel::{DeclarationError, Env, ExecutionError};

use crate::support::{arg, take_args};

/// `kubernetes.NamedFormat`, the type of a format.
static FORMAT_TYPE: LazyLock<Type> = LazyLock::new(|| Type::new_opaque_type("kubernetes.NamedFormat"));

/// What a validation finds wrong with a string, or, as Kubernetes' own panic would be, an
/// error evaluating it.
type Validation = fn(&str) -> Result<Vec<String>, String>;

/// A named format, as Kubernetes' `ConstantFormats` declares it.
#[derive(Debug)]
struct FormatDef {
    /// The name `format.named()` and the `format.<key>()` function use.
    key: &'static str,
    /// Kubernetes' `Format.Name`, which equality compares.
    name: &'static str,
    validate: Validation,
}

static FORMATS: [FormatDef; 13] = [
    FormatDef { key: "dns1123Label", name: "DNS1123Label", validate: |s| Ok(is_dns1123_label(s.as_bytes())) },
    FormatDef {
        key: "dns1123Subdomain",
        name: "DNS1123Subdomain",
        validate: |s| Ok(is_dns1123_subdomain(s.as_bytes(), MAX_LEN_CHARACTERS)),
    },
    FormatDef { key: "dns1035Label", name: "DNS1035Label", validate: |s| Ok(is_dns1035_label(s.as_bytes())) },
    FormatDef { key: "qualifiedName", name: "QualifiedName", validate: |s| Ok(is_qualified_name(s)) },
    FormatDef {
        key: "dns1123LabelPrefix",
        name: "DNS1123LabelPrefix",
        validate: |s| Ok(is_dns1123_label(&mask_trailing_dash(s)?)),
    },
    FormatDef {
        key: "dns1123SubdomainPrefix",
        name: "DNS1123SubdomainPrefix",
        validate: |s| Ok(is_dns1123_subdomain(&mask_trailing_dash(s)?, MAX_LEN_CHARACTERS)),
    },
    FormatDef {
        key: "dns1035LabelPrefix",
        name: "DNS1035LabelPrefix",
        validate: |s| Ok(is_dns1035_label(&mask_trailing_dash(s)?)),
    },
    FormatDef { key: "labelValue", name: "LabelValue", validate: |s| Ok(is_label_value(s.as_bytes())) },
    FormatDef {
        key: "uri",
        name: "URI",
        validate: |s| Ok(crate::url::parse_request_uri(s).err().map(|err| err.to_string()).into_iter().collect()),
    },
    FormatDef { key: "uuid", name: "uuid", validate: |s| Ok(failing(is_uuid(s), "does not match the UUID format")) },
    FormatDef { key: "byte", name: "byte", validate: |s| Ok(failing(is_base64(s), "invalid base64")) },
    FormatDef { key: "date", name: "date", validate: |s| Ok(failing(is_date(s), "invalid date")) },
    FormatDef { key: "datetime", name: "datetime", validate: |s| Ok(failing(is_date_time(s), "invalid datetime")) },
];

/// A `kubernetes.NamedFormat` value.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Format(&'static FormatDef);

// Formats are equal when they have the same name, as in Kubernetes.
crate::support::opaque_val!(Format, FORMAT_TYPE, |this, other| other.0.name == this.0.name);

/// `format.<key>()`: the format at index `I` of [`FORMATS`]. A `Function` is a plain `fn`,
/// which can't capture the format, so each gets its own instance.
fn constant<'b, 'v, const I: usize>(_args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let def = FORMATS.get(I).ok_or_else(|| ExecutionError::function_error("format", "no such format"))?;
    Ok(CowVal::owned(Format(def)))
}

const CONSTANTS: [Function; 13] = [
    constant::<0>,
    constant::<1>,
    constant::<2>,
    constant::<3>,
    constant::<4>,
    constant::<5>,
    constant::<6>,
    constant::<7>,
    constant::<8>,
    constant::<9>,
    constant::<10>,
    constant::<11>,
    constant::<12>,
];

pub(crate) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_type(FORMAT_TYPE.to_owned())?;
    for (def, function) in FORMATS.iter().zip(CONSTANTS) {
        let name = format!("format.{}", def.key);
        env.add_overload(&name, &name, vec![], function)?;
    }
    env.add_overload("format.named", "format-named", vec![STRING_TYPE], named)?;
    env.add_member_overload("validate", "format-validate", FORMAT_TYPE.to_owned(), vec![STRING_TYPE], validate)?;
    Ok(())
}

/// `format.named('dns1123Label')`: `optional.of` that format, or `optional.none()`.
fn named<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [name] = take_args(args)?;
    let name = arg::<CelString>(name.as_ref())?.inner();
    let found = FORMATS.iter().find(|def| def.key == name);
    Ok(CowVal::owned(match found {
        Some(def) => CelOptional::of(Box::new(Format(def))),
        None => CelOptional::none(),
    }))
}

/// `format.dns1123Label().validate('my-name')`: `optional.none()` if the string is valid, else
/// `optional.of` the list of errors.
fn validate<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let [format, s] = take_args(args)?;
    let format = arg::<Format>(format.as_ref())?;
    let s = arg::<CelString>(s.as_ref())?.inner();
    let errors = (format.0.validate)(s).map_err(|message| ExecutionError::function_error("validate", message))?;
    if errors.is_empty() {
        return Ok(CowVal::owned(CelOptional::none()));
    }
    let list: Vec<Box<dyn Val + 'v>> =
        errors.into_iter().map(|e| Box::new(CelString::from(e)) as Box<dyn Val + 'v>).collect();
    Ok(CowVal::owned(CelOptional::of(Box::new(CelList::from(list)))))
}

fn failing(valid: bool, message: &str) -> Vec<String> {
    if valid { Vec::new() } else { vec![message.to_owned()] }
}

// --- k8s.io/apimachinery: names and labels -------------------------------------------------

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_LABEL_ERR: &str = "a lowercase RFC 1123 label must consist of lower case \
     alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_SUBDOMAIN_ERR: &str = "a lowercase RFC 1123 subdomain must consist of lower \
     case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric \
     character";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const DNS1035_LABEL_ERR: &str = "a DNS-1035 label must consist of lower case alphanumeric \
     characters or '-', start with an alphabetic character, and end with an alphanumeric \
     character";
const LABEL_KEY_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_KEY_ERR: &str = "must consist of alphanumeric characters, '-', '_' or '.', and \
     must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_ERR: &str = "a valid label must be an empty string or consist of \
     alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric \
     character";

/// How a length limit is worded: `k8s.io/apimachinery/pkg/util/validation` counts
/// "characters", its newer `api/validate/content` package (label keys and values) "bytes".
/// Both count bytes.
const MAX_LEN_CHARACTERS: &str = "characters";
const MAX_LEN_BYTES: &str = "bytes";

fn max_len_error(length: usize, unit: &str) -> String {
    format!("must be no more than {length} {unit}")
}

/// apimachinery's `RegexError`, including its doubled space before each " or ".
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let mut out = msg.to_owned();
    if examples.is_empty() {
        out.push_str(&format!(" (regex used for validation is '{fmt}')"));
        return out;
    }
    out.push_str(" (e.g. ");
    for (i, example) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&format!("'{example}', "));
    }
    out.push_str(&format!("regex used for validation is '{fmt}')"));
    out
}

/// apimachinery's `maskTrailingDash`, for the `*Prefix` formats (a generated name's prefix
/// may end with a dash): the last two bytes become an `a`. Go slices bytes, so this does too;
/// on a lone `-` Go panics, which cel-go reports as an internal error.
fn mask_trailing_dash(name: &str) -> Result<Cow<'_, [u8]>, String> {
    let bytes = name.as_bytes();
    if !name.ends_with('-') {
        return Ok(Cow::Borrowed(bytes));
    }
    let Some(kept) = bytes.len().checked_sub(2) else {
        return Err("internal error: runtime error: slice bounds out of range [:-1]".to_owned());
    };
    let mut masked = bytes[..kept].to_vec();
    masked.push(b'a');
    Ok(Cow::Owned(masked))
}

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn matches_dns1123_label(v: &[u8]) -> bool {
    matches!((v.first(), v.last()), (Some(&f), Some(&l)) if is_lower_alnum(f) && is_lower_alnum(l))
        && v.iter().all(|&c| is_lower_alnum(c) || c == b'-')
}

/// Labels joined by dots.
fn matches_dns1123_subdomain(v: &[u8]) -> bool {
    v.split(|&c| c == b'.').all(matches_dns1123_label)
}

/// `[a-z]([-a-z0-9]*[a-z0-9])?`
fn matches_dns1035_label(v: &[u8]) -> bool {
    v.first().is_some_and(u8::is_ascii_lowercase) && matches_dns1123_label(v)
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn matches_label_key_name(v: &[u8]) -> bool {
    matches!((v.first(), v.last()), (Some(f), Some(l)) if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric())
        && v.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// apimachinery's `IsDNS1123Label`.
fn is_dns1123_label(v: &[u8]) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push(max_len_error(63, MAX_LEN_CHARACTERS));
    }
    if !matches_dns1123_label(v) {
        if matches_dns1123_subdomain(v) {
            // A valid subdomain but not a label: the length was checked, so it has dots.
            errs.push("must not contain dots".to_owned());
        } else {
            errs.push(regex_error(DNS1123_LABEL_ERR, DNS1123_LABEL_FMT, &["my-name", "123-abc"]));
        }
    }
    errs
}

/// apimachinery's `IsDNS1123Subdomain`, its length limit worded in `unit`.
fn is_dns1123_subdomain(v: &[u8], unit: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 253 {
        errs.push(max_len_error(253, unit));
    }
    if !matches_dns1123_subdomain(v) {
        errs.push(regex_error(DNS1123_SUBDOMAIN_ERR, DNS1123_SUBDOMAIN_FMT, &["example.com"]));
    }
    errs
}

/// apimachinery's `IsDNS1035Label`.
fn is_dns1035_label(v: &[u8]) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push(max_len_error(63, MAX_LEN_CHARACTERS));
    }
    if !matches_dns1035_label(v) {
        errs.push(regex_error(DNS1035_LABEL_ERR, DNS1035_LABEL_FMT, &["my-name", "abc-123"]));
    }
    errs
}

/// apimachinery's `IsQualifiedName` (a label key): `[prefix/]name`, the prefix a DNS
/// subdomain.
fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_owned());
            } else {
                errs.extend(
                    is_dns1123_subdomain(prefix.as_bytes(), MAX_LEN_BYTES)
                        .into_iter()
                        .map(|msg| format!("prefix part {msg}")),
                );
            }
            *name
        }
        _ => {
            return vec![format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. \
                 'example.com/MyName')",
                regex_error(LABEL_KEY_ERR, LABEL_KEY_FMT, &["MyName", "my.name", "123-abc"])
            )];
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_owned());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_len_error(63, MAX_LEN_BYTES)));
    }
    if !matches_label_key_name(name.as_bytes()) {
        errs.push(format!(
            "name part {}",
            regex_error(LABEL_KEY_ERR, LABEL_KEY_FMT, &["MyName", "my.name", "123-abc"])
        ));
    }
    errs
}

/// What is wrong with `key` as a label or annotation key (apimachinery's `IsQualifiedName`),
/// in Kubernetes' words; empty when it is valid.
pub fn label_key_errors(key: &str) -> Vec<String> {
    is_qualified_name(key)
}

/// What is wrong with `value` as a label value (apimachinery's `IsValidLabelValue`), in
/// Kubernetes' words; empty when it is valid.
pub fn label_value_errors(value: &str) -> Vec<String> {
    is_label_value(value.as_bytes())
}

/// apimachinery's `IsValidLabelValue`.
fn is_label_value(v: &[u8]) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push(max_len_error(63, MAX_LEN_BYTES));
    }
    if !v.is_empty() && !matches_label_key_name(v) {
        errs.push(regex_error(LABEL_VALUE_ERR, LABEL_VALUE_FMT, &["MyValue", "my_value", "12345"]));
    }
    errs
}

// --- k8s.io/kube-openapi strfmt --------------------------------------------------------------

/// strfmt's `IsUUID`: `(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$`.
fn is_uuid(s: &str) -> bool {
    let mut rest = s.as_bytes();
    for (i, n) in [8, 4, 4, 4, 12].into_iter().enumerate() {
        if i > 0
            && let Some(after) = rest.strip_prefix(b"-")
        {
            rest = after;
        }
        match rest.split_at_checked(n) {
            Some((group, after)) if group.iter().all(u8::is_ascii_hexdigit) => rest = after,
            _ => return false,
        }
    }
    rest.is_empty()
}

/// govalidator's `IsBase64`: standard alphabet, padded, at least one group of four:
/// `^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$`.
fn is_base64(s: &str) -> bool {
    let b = s.as_bytes();
    let in_alphabet = |c: &u8| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/';
    let Some(body_len) = b.len().checked_sub(4) else {
        return false;
    };
    if !b.len().is_multiple_of(4) {
        return false;
    }
    let (body, last) = b.split_at(body_len);
    body.iter().all(in_alphabet)
        && match last {
            [x, y, b'=', b'='] => [x, y].into_iter().all(in_alphabet),
            [x, y, z, b'='] => [x, y, z].into_iter().all(in_alphabet),
            group => group.iter().all(in_alphabet),
        }
}

/// strfmt's `IsDate`: Go's `time.Parse("2006-01-02", s)`, which wants exactly four digits,
/// two and two, a month that exists and a day that exists in it.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = b.get(r)?;
        part.iter().all(u8::is_ascii_digit).then(|| part.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Some(year), Some(month), Some(day)) = (digits(0..4), digits(5..7), digits(8..10)) else {
        return false;
    };
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// strfmt's `IsDateTime`: lowercased and split at every `t`, the first part a date and the
/// second `hh:mm:ss`, an optional fraction (any one character, then digits), and `z` or an
/// offset: `^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$`, with
/// the hour at most 23 and the minute and second at most 59. Parts after a third `t` are
/// ignored, as strfmt ignores them.
fn is_date_time(s: &str) -> bool {
    if s.len() < 4 {
        return false;
    }
    let lower = s.to_lowercase();
    let mut parts = lower.split('t');
    let (Some(date), Some(time)) = (parts.next(), parts.next()) else {
        return false;
    };
    is_date(date) && is_time_of_day(time)
}

fn is_time_of_day(time: &str) -> bool {
    let b = time.as_bytes();
    let two = |i: usize| -> Option<u8> {
        match b.get(i..i + 2)? {
            [x, y] if x.is_ascii_digit() && y.is_ascii_digit() => Some((x - b'0') * 10 + (y - b'0')),
            _ => None,
        }
    };
    let (Some(h), Some(m), Some(sec)) = (two(0), two(3), two(6)) else {
        return false;
    };
    if b.get(2) != Some(&b':') || b.get(5) != Some(&b':') || h > 23 || m > 59 || sec > 59 {
        return false;
    }
    let rest = &time[8..];
    if is_zone(rest) {
        return true;
    }
    // The fraction: one character (a `.`, normally, but the pattern doesn't escape it; not a
    // newline), then digits, which a zone never starts with, so taking them all is the only way.
    let mut chars = rest.chars();
    match chars.next() {
        Some(c) if c != '\n' => {}
        _ => return false,
    }
    let after = chars.as_str();
    let zone = after.trim_start_matches(|c: char| c.is_ascii_digit());
    zone.len() < after.len() && is_zone(zone)
}

/// `z`, or `[+-]hh:mm`.
fn is_zone(s: &str) -> bool {
    match s.as_bytes() {
        [b'z'] => true,
        [sign, h1, h2, b':', m1, m2] => {
            matches!(sign, b'+' | b'-') && [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit())
        }
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::test_support::eval;
    use cel::Value;

    fn errors(list: &[&str]) -> String {
        // Compared through CEL: `optional.of([...])`.
        let quoted: Vec<String> =
            list.iter().map(|e| format!("'{}'", e.replace('\\', "\\\\").replace('\'', "\\'"))).collect();
        format!("optional.of([{}])", quoted.join(", "))
    }

    #[test]
    fn kubernetes_examples() {
        // From format.go's doc comment and format_test.go.
        let valid = [
            "format.dns1123Label().validate('my-label-name')",
            "format.dns1123Subdomain().validate('apiextensions.k8s.io')",
            "format.dns1035Label().validate('my-label-name')",
            "format.qualifiedName().validate('apiextensions.k8s.io/v1beta1')",
            "format.dns1123LabelPrefix().validate('my-label-prefix-')",
            "format.dns1123SubdomainPrefix().validate('mysubdomain.prefix.-')",
            "format.dns1035LabelPrefix().validate('my-label-prefix-')",
            "format.uri().validate('http://example.com')",
            "format.uuid().validate('123e4567-e89b-12d3-a456-426614174000')",
            "format.byte().validate('aGVsbG8=')",
            "format.date().validate('2021-01-01')",
            "format.datetime().validate('2021-01-01T00:00:00Z')",
            "format.dns1123Subdomain().validate('example.com')",
            "format.qualifiedName().validate('my.name')",
            "format.date().validate('2020-01-01')",
            "format.datetime().validate('2020-01-01T00:00:00Z')",
            "format.labelValue().validate('my-cool-label-Value')",
        ];
        for src in valid {
            assert_eq!(eval(&format!("{src} == optional.none()")), Ok(Value::Bool(true)), "{src}");
        }

        let label = "a lowercase RFC 1123 label must consist of lower case alphanumeric \
             characters or '-', and must start and end with an alphanumeric character (e.g. \
             'my-name',  or '123-abc', regex used for validation is \
             '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
        let subdomain = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
             characters, '-' or '.', and must start and end with an alphanumeric character (e.g. \
             'example.com', regex used for validation is \
             '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
        let dns1035 = "a DNS-1035 label must consist of lower case alphanumeric characters or \
             '-', start with an alphabetic character, and end with an alphanumeric character \
             (e.g. 'my-name',  or 'abc-123', regex used for validation is \
             '[a-z]([-a-z0-9]*[a-z0-9])?')";
        let qualified = "name part must consist of alphanumeric characters, '-', '_' or '.', \
             and must start and end with an alphanumeric character (e.g. 'MyName',  or \
             'my.name',  or '123-abc', regex used for validation is \
             '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
        let label_value = "a valid label must be an empty string or consist of alphanumeric \
             characters, '-', '_' or '.', and must start and end with an alphanumeric character \
             (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is \
             '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
        let invalid: &[(&str, &[&str])] = &[
            ("format.dns1123Label().validate('contains a space')", &[label]),
            ("format.dns1123Subdomain().validate('contains a space')", &[subdomain]),
            ("format.dns1035Label().validate('contains a space')", &[dns1035]),
            ("format.qualifiedName().validate('contains a space')", &[qualified]),
            ("format.dns1123LabelPrefix().validate('contains a space-')", &[label]),
            ("format.dns1123SubdomainPrefix().validate('contains a space-')", &[subdomain]),
            ("format.dns1035LabelPrefix().validate('contains a space-')", &[dns1035]),
            ("format.byte().validate('aGVsbG8')", &["invalid base64"]),
            ("format.date().validate('2020-01-32')", &["invalid date"]),
            ("format.datetime().validate('2020-01-32T00:00:00Z')", &["invalid datetime"]),
            ("format.labelValue().validate('my-cool-label-Value!!\\n\\n!!!')", &[label_value]),
        ];
        for (src, want) in invalid {
            assert_eq!(
                eval(&format!("{src} == {}", errors(want))),
                Ok(Value::Bool(true)),
                "{src}: {:?}",
                eval(&format!("{src}.value()"))
            );
        }

        assert_eq!(eval("format.named('unknown').hasValue()"), Ok(Value::Bool(false)));
        for lhs in &FORMATS {
            assert_eq!(eval(&format!("format.named('{}').hasValue()", lhs.key)), Ok(Value::Bool(true)));
            assert_eq!(eval(&format!("format.named('{0}').value() == format.{0}()", lhs.key)), Ok(Value::Bool(true)));
            for rhs in &FORMATS {
                if lhs.key != rhs.key {
                    assert_eq!(eval(&format!("format.{}() == format.{}()", lhs.key, rhs.key)), Ok(Value::Bool(false)));
                }
            }
        }
    }

    #[test]
    fn names() {
        let long = "a".repeat(64);
        let cases: &[(&str, Vec<String>)] = &[
            ("a.b", vec!["must not contain dots".into()]),
            ("-a", vec![regex_error(DNS1123_LABEL_ERR, DNS1123_LABEL_FMT, &["my-name", "123-abc"])]),
            (&long, vec!["must be no more than 63 characters".into()]),
            ("abc-123", vec![]),
            ("1abc", vec![]),
        ];
        for (v, want) in cases {
            assert_eq!(&is_dns1123_label(v.as_bytes()), want, "{v}");
        }
        assert!(is_dns1035_label(b"my-name").is_empty());
        assert_eq!(is_dns1035_label(b"1abc").len(), 1);
        assert!(is_dns1123_subdomain(b"a.b-c.d", MAX_LEN_CHARACTERS).is_empty());
        assert_eq!(is_dns1123_subdomain(b"a..b", MAX_LEN_CHARACTERS).len(), 1);
        assert_eq!(is_dns1123_subdomain(b"", MAX_LEN_CHARACTERS).len(), 1);

        assert!(is_qualified_name("example.com/MyName").is_empty());
        assert!(is_qualified_name("My_Name.1").is_empty());
        assert_eq!(is_qualified_name("/a"), vec!["prefix part must be non-empty".to_owned()]);
        assert_eq!(
            is_qualified_name("Example.com/a")[0],
            format!("prefix part {}", regex_error(DNS1123_SUBDOMAIN_ERR, DNS1123_SUBDOMAIN_FMT, &["example.com"]))
        );
        assert_eq!(is_qualified_name("a/")[0], "name part must be non-empty");
        assert!(is_qualified_name("a/b/c")[0].starts_with("a valid label key must consist"));
        assert_eq!(is_qualified_name(&long)[0], "name part must be no more than 63 bytes");
        assert!(is_label_value(b"").is_empty());
        assert_eq!(is_label_value(long.as_bytes())[0], "must be no more than 63 bytes");

        assert_eq!(mask_trailing_dash("ab-").unwrap().as_ref(), b"aa");
        assert_eq!(mask_trailing_dash("a").unwrap().as_ref(), b"a");
        assert!(mask_trailing_dash("-").is_err());
        assert!(eval("format.dns1123LabelPrefix().validate('-')").is_err());
        assert_eq!(eval("format.dns1123LabelPrefix().validate('') == optional.none()"), Ok(Value::Bool(false)));
    }

    #[test]
    fn strfmt() {
        for (s, want) in [
            ("123e4567-e89b-12d3-a456-426614174000", true),
            ("123E4567E89B12D3A456426614174000", true),
            ("123e4567-e89b-12d3-a456-42661417400", false),
            ("123e4567--e89b-12d3-a456-426614174000", false),
            ("g23e4567-e89b-12d3-a456-426614174000", false),
        ] {
            assert_eq!(is_uuid(s), want, "{s}");
        }
        for (s, want) in [
            ("aGVsbG8=", true),
            ("aGVsbA==", true),
            ("aGVs", true),
            ("a+/b", true),
            ("aGVsbG8", false),
            ("", false),
            ("====", false),
            ("a===", false),
            ("aG=s", false),
            ("aGVs\n", false),
        ] {
            assert_eq!(is_base64(s), want, "{s:?}");
        }
        for (s, want) in [
            ("2021-01-01", true),
            ("2024-02-29", true),
            ("2023-02-29", false),
            ("2000-02-29", true),
            ("1900-02-29", false),
            ("2021-13-01", false),
            ("2021-00-01", false),
            ("2021-1-01", false),
            ("21-01-01", false),
            ("2021-01-01 ", false),
        ] {
            assert_eq!(is_date(s), want, "{s}");
        }
        for (s, want) in [
            ("2021-01-01T00:00:00Z", true),
            ("2021-01-01t23:59:59z", true),
            ("2021-01-01T00:00:00.123Z", true),
            ("2021-01-01T00:00:00+01:00", true),
            ("2021-01-01T00:00:00,5-01:00", true),
            ("2021-01-01T24:00:00Z", false),
            ("2021-01-01T00:60:00Z", false),
            ("2021-01-01T00:00:00", false),
            ("2021-01-01T00:00:00.Z", false),
            ("2021-01-01 00:00:00Z", false),
            ("2021-01-01T00:00:00ZT", true),
            ("2021-01-01", false),
        ] {
            assert_eq!(is_date_time(s), want, "{s}");
        }
    }

    #[test]
    fn uri() {
        assert_eq!(
            eval(
                "format.uri().validate('../relative') == optional.of(['parse \"../relative\": invalid URI for request'])"
            ),
            Ok(Value::Bool(true))
        );
        assert_eq!(eval("format.uri().validate('/absolute') == optional.none()"), Ok(Value::Bool(true)));
    }
}
