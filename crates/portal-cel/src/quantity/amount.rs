//! The numeric model of a Kubernetes `resource.Quantity` (k8s.io/apimachinery/pkg/api/resource).
//!
//! Kubernetes holds a quantity in one of two forms, and its CEL functions can tell them apart:
//! `isInteger()` is true only for the `int64` form with a non-negative scale, so
//! `quantity('1.5Gi').isInteger()` is false although 1.5Gi is a whole number of bytes. To give the
//! same answers this module keeps the same two forms, created by the same parsing rules and
//! arithmetic:
//!
//! - [`Amount::Int`]: `value × 10^scale` in an `i64` (the parser's fast path);
//! - [`Amount::Dec`]: `unscaled × 10^-scale` with an unbounded integer (Go's `inf.Dec`), which
//!   the parser rounds up to nanounits.
//!
//! Comparison and equality are by value, whatever the form.

use super::big::{BigInt, BigUint};
use std::cmp::Ordering;
use std::fmt;

/// The most decimal digits an exact intermediate result may have. Go's decimals are unbounded, so
/// Kubernetes accepts absurd quantities such as `1e2000000000` plus a nanounit and then spends
/// gigabytes computing them; past this bound we report an error instead. No float is that large
/// (`f64::MAX` is about 1.8e308), so no realistic quantity comes near.
pub(super) const MAX_DIGITS: u64 = 4096;

/// Nanounits: the finest precision a parsed quantity keeps (Kubernetes' `resource.Nano`).
const NANO_SCALE: i32 = 9;

/// The `resource.ParseQuantity` errors, with Kubernetes' messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ParseError {
    /// `ErrFormatWrong`.
    FormatWrong,
    /// `ErrNumeric`.
    Numeric,
    /// `ErrSuffix`.
    Suffix,
    /// Beyond [`MAX_DIGITS`]: Kubernetes would accept it; see there.
    TooLarge,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParseError::FormatWrong => {
                "quantities must match the regular expression \
                 '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
            }
            ParseError::Numeric => "unable to parse numeric part of quantity",
            ParseError::Suffix => "unable to parse quantity's suffix",
            ParseError::TooLarge => TooLarge::MESSAGE,
        })
    }
}

/// An exact result would need more than [`MAX_DIGITS`] digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TooLarge;

impl TooLarge {
    const MESSAGE: &'static str = "quantity is too large to be computed exactly";
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::MESSAGE)
    }
}

/// A quantity's value, in the form Kubernetes would hold it (see the module documentation).
#[derive(Clone, Debug)]
pub(super) enum Amount {
    /// `value × 10^scale` (Go's `int64Amount`).
    Int { value: i64, scale: i32 },
    /// `unscaled × 10^-scale` (Go's `inf.Dec`; note the inverted scale, as in Go).
    Dec { unscaled: BigInt, scale: i32 },
}

/// How a suffix scales the number before it, and whether it marked the binary format (the only
/// format that changes how a quantity is parsed).
struct Suffix {
    base: u32,
    exponent: i32,
    binary: bool,
}

/// The pieces of a quantity string, as Go's `parseQuantityString` splits them.
struct Parts<'a> {
    positive: bool,
    /// Sign, digits and decimal point: what the exact (slow) path parses.
    value: &'a [u8],
    /// Integer digits, leading zeros dropped ("0" when there are none).
    num: &'a [u8],
    /// Fraction digits.
    denom: &'a [u8],
    suffix: &'a [u8],
}

/// The letters a suffix may start with; Go's scanner takes any run of them, and the suffix is
/// validated afterwards.
const SUFFIX_LETTERS: &[u8] = b"eEinumkKMGTP";

/// Scans `s` the way Go's `parseQuantityString` does, quirks included: "", ".", "+", "k" and
/// "Mi" all read as zero, and "1." is 1.
fn split(s: &[u8]) -> Result<Parts<'_>, ParseError> {
    let end = s.len();
    let mut positive = true;
    let mut pos = 0;
    match s.first() {
        Some(b'-') => {
            positive = false;
            pos = 1;
        }
        Some(b'+') => pos = 1,
        _ => {}
    }
    let whole = |num, denom| Parts { positive, value: s, num, denom, suffix: b"" };

    while pos < end && s[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        return Ok(Parts { positive, value: b"0", num: b"0", denom: b"", suffix: b"" });
    }

    let num_start = pos;
    while pos < end && s[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos >= end {
        return Ok(whole(&s[num_start..], b""));
    }
    let num: &[u8] = if pos == num_start { b"0" } else { &s[num_start..pos] };

    let mut denom: &[u8] = b"";
    if s[pos] == b'.' {
        pos += 1;
        let denom_start = pos;
        while pos < end && s[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos >= end {
            return Ok(whole(num, &s[denom_start..]));
        }
        denom = &s[denom_start..pos];
    }
    let value = &s[..pos];

    let suffix_start = pos;
    let parts = |suffix| Parts { positive, value, num, denom, suffix };
    while pos < end && SUFFIX_LETTERS.contains(&s[pos]) {
        pos += 1;
    }
    if pos >= end {
        return Ok(parts(&s[suffix_start..]));
    }
    if s[pos] == b'-' || s[pos] == b'+' {
        pos += 1;
    }
    while pos < end && s[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos >= end {
        return Ok(parts(&s[suffix_start..]));
    }
    Err(ParseError::FormatWrong)
}

/// Go's `quantitySuffixer.interpret`: SI and binary suffixes, or `e`/`E` and a decimal exponent.
fn interpret(suffix: &[u8]) -> Option<Suffix> {
    let decimal = |exponent| Suffix { base: 10, exponent, binary: false };
    let binary = |exponent| Suffix { base: 2, exponent, binary: true };
    Some(match suffix {
        b"" => decimal(0),
        b"n" => decimal(-9),
        b"u" => decimal(-6),
        b"m" => decimal(-3),
        b"k" => decimal(3),
        b"M" => decimal(6),
        b"G" => decimal(9),
        b"T" => decimal(12),
        b"P" => decimal(15),
        b"E" => decimal(18),
        b"Ki" => binary(10),
        b"Mi" => binary(20),
        b"Gi" => binary(30),
        b"Ti" => binary(40),
        b"Pi" => binary(50),
        b"Ei" => binary(60),
        [b'e' | b'E', rest @ ..] if !rest.is_empty() => {
            let parsed: i64 = std::str::from_utf8(rest).ok()?.parse().ok()?;
            // Go parses an int64 and then truncates it to int32; "1e4294967296" is 1.
            decimal(parsed as i32)
        }
        _ => return None,
    })
}

/// What Go's `inf.Dec.SetString` makes of a quantity's numeric part: the digits as one integer,
/// and the number of fraction digits as the scale. `None` when there is no digit at all.
fn parse_decimal(value: &[u8]) -> Result<Option<(BigInt, i32)>, ParseError> {
    let (negative, rest) = match value.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, value),
    };
    let mut digits = Vec::with_capacity(rest.len());
    let mut fraction_digits: Option<i32> = None;
    for &b in rest {
        if b == b'.' {
            fraction_digits = Some(0);
        } else {
            digits.push(b);
            if let Some(n) = fraction_digits.as_mut() {
                *n = n.saturating_add(1);
            }
        }
    }
    if digits.is_empty() {
        return Ok(None);
    }
    let significant = digits.iter().skip_while(|&&d| d == b'0').count();
    if significant as u64 > MAX_DIGITS {
        return Err(ParseError::TooLarge);
    }
    let magnitude = BigUint::from_decimal(&digits);
    Ok(Some((BigInt::new(negative, magnitude), fraction_digits.unwrap_or(0))))
}

/// `magnitude × 10^-scale` rounded away from zero to nanounits, as the parser does so that a
/// tiny request still gets something ("0.1n" is 1n). Returns the new unscaled magnitude.
fn round_up_to_nano(mut magnitude: BigUint, scale: i32) -> Result<BigUint, ParseError> {
    let target = i64::from(NANO_SCALE);
    let scale = i64::from(scale);
    if scale > target {
        let drop = (scale - target) as u64;
        if drop >= magnitude.decimal_digits_bound() {
            // Below one nanounit: a non-zero magnitude rounds up to exactly one.
            return Ok(BigUint::from_u64(1));
        }
        if magnitude.div_pow10(drop) {
            magnitude = magnitude_plus_one(magnitude);
        }
    } else if scale < target {
        let grow = (target - scale) as u64;
        if magnitude.decimal_digits_bound().saturating_add(grow) > MAX_DIGITS {
            return Err(ParseError::TooLarge);
        }
        magnitude.mul_pow10(grow);
    }
    Ok(magnitude)
}

fn magnitude_plus_one(magnitude: BigUint) -> BigUint {
    BigInt::new(false, magnitude).add(&BigInt::from_i64(1)).magnitude
}

/// Go's `positiveScaleInt64`: `base × 10^scale`, `None` on overflow.
fn positive_scale(base: i64, scale: i64) -> Option<i64> {
    if base == 0 {
        return Some(0);
    }
    let mut value = base;
    for _ in 0..scale {
        value = value.checked_mul(10)?;
    }
    Some(value)
}

/// Go's `int64Amount.Add`: exact, at the smaller scale, `None` on overflow (the caller then
/// switches to the decimal form, as Kubernetes does). A zero operand leaves the other as is,
/// scale included, which `isInteger()` can observe.
fn int_add(a: (i64, i32), b: (i64, i32)) -> Option<(i64, i32)> {
    if b.0 == 0 {
        return Some(a);
    }
    if a.0 == 0 {
        return Some(b);
    }
    match a.1.cmp(&b.1) {
        Ordering::Equal => Some((a.0.checked_add(b.0)?, a.1)),
        Ordering::Greater => {
            let a0 = positive_scale(a.0, i64::from(a.1) - i64::from(b.1))?;
            Some((a0.checked_add(b.0)?, b.1))
        }
        Ordering::Less => {
            let b0 = positive_scale(b.0, i64::from(b.1) - i64::from(a.1))?;
            Some((a.0.checked_add(b0)?, a.1))
        }
    }
}

impl Amount {
    /// Parses a quantity exactly as `resource.ParseQuantity` does.
    pub(super) fn parse(s: &str) -> Result<Amount, ParseError> {
        if s.is_empty() {
            return Err(ParseError::FormatWrong);
        }
        if s == "0" {
            return Ok(Amount::Int { value: 0, scale: 0 });
        }
        let parts = split(s.as_bytes())?;
        let suffix = interpret(parts.suffix).ok_or(ParseError::Suffix)?;
        if let Some(fast) = Self::parse_int64(&parts, &suffix) {
            return Ok(fast);
        }
        Self::parse_exact(&parts, &suffix)
    }

    /// The parser's `int64` fast path: small enough numbers, at a scale of nanounits or coarser.
    fn parse_int64(parts: &Parts<'_>, suffix: &Suffix) -> Option<Amount> {
        let digits = (parts.num.len() + parts.denom.len()) as i64;
        let (precision, mut scale, multiplier) = if suffix.binary {
            if suffix.exponent < 0 || !parts.denom.is_empty() {
                return None;
            }
            // Go estimates the digits a binary suffix adds as exponent*3/10.
            let precision = 15 - parts.num.len() as i64 - i64::from(suffix.exponent) * 3 / 10 - 1;
            (precision, 0i32, 1i64 << suffix.exponent.clamp(0, 62))
        } else {
            (18 - digits, suffix.exponent, 1i64)
        };
        if precision < 0 {
            return None;
        }
        // Go subtracts in int32, wrapping: keep that for absurd exponents.
        scale = scale.wrapping_sub(parts.denom.len() as i32);
        if scale < -NANO_SCALE {
            return None;
        }
        let mut value = 0i64;
        for &d in parts.num.iter().chain(parts.denom) {
            value = value.checked_mul(10)?.checked_add(i64::from(d.wrapping_sub(b'0')))?;
        }
        let value = value.checked_mul(multiplier)?;
        Some(Amount::Int { value: if parts.positive { value } else { -value }, scale })
    }

    /// The parser's exact path: a decimal, rounded up to nanounits, and capped at 2^63-1 for
    /// binary suffixes.
    fn parse_exact(parts: &Parts<'_>, suffix: &Suffix) -> Result<Amount, ParseError> {
        let (unscaled, mut scale) = parse_decimal(parts.value)?.ok_or(ParseError::Numeric)?;
        let negative = unscaled.negative;
        let mut magnitude = unscaled.magnitude;
        if suffix.base == 10 {
            scale = scale.wrapping_add(suffix.exponent.wrapping_neg());
        } else {
            magnitude.shl_small(suffix.exponent.clamp(0, 60) as u32);
        }
        if !magnitude.is_zero() {
            magnitude = round_up_to_nano(magnitude, scale)?;
            scale = NANO_SCALE;
        }
        // The cap compares values: a non-zero magnitude is in nanounits by now.
        let max = BigUint::from_u64(i64::MAX as u64);
        if suffix.binary && !magnitude.is_zero() {
            let mut max_nanos = max.clone();
            max_nanos.mul_pow10(NANO_SCALE as u64);
            if magnitude > max_nanos {
                magnitude = max;
                scale = 0;
            }
        }
        Ok(Amount::Dec { unscaled: BigInt::new(negative, magnitude), scale })
    }

    /// An `int` as a quantity (Go's `NewQuantity(i, DecimalExponent)`).
    pub(super) fn from_i64(value: i64) -> Amount {
        Amount::Int { value, scale: 0 }
    }

    /// -1, 0 or 1.
    pub(super) fn sign(&self) -> i64 {
        match self {
            Amount::Int { value, .. } => value.signum(),
            Amount::Dec { unscaled, .. } => unscaled.signum(),
        }
    }

    /// Go's `Quantity.AsInt64`: only the `int64` form at a scale of units or coarser converts.
    pub(super) fn as_i64(&self) -> Option<i64> {
        match *self {
            Amount::Int { value, scale } if scale >= 0 => positive_scale(value, i64::from(scale)),
            _ => None,
        }
    }

    /// Go's `Quantity.AsApproximateFloat64`, rounding step for rounding step.
    pub(super) fn approximate_f64(&self) -> f64 {
        let (base, exponent) = match self {
            Amount::Int { value, scale } => (*value as f64, i64::from(*scale)),
            Amount::Dec { unscaled, scale } => (unscaled.to_f64(), -i64::from(*scale)),
        };
        if exponent == 0 { base } else { base * go_pow10(exponent) }
    }

    /// The value as `±magnitude × 10^exponent`.
    fn parts(&self) -> (bool, BigUint, i64) {
        match self {
            Amount::Int { value, scale } => (*value < 0, BigUint::from_u64(value.unsigned_abs()), i64::from(*scale)),
            Amount::Dec { unscaled, scale } => (unscaled.negative, unscaled.magnitude.clone(), -i64::from(*scale)),
        }
    }

    /// Exact comparison by value (Go's `Quantity.Cmp`).
    pub(super) fn cmp(&self, other: &Amount) -> Ordering {
        let by_sign = self.sign().cmp(&other.sign());
        if by_sign != Ordering::Equal || self.sign() == 0 {
            return by_sign;
        }
        let (negative, a, ea) = self.parts();
        let (_, b, eb) = other.parts();
        // Orders of magnitude first, so that 1e2000000000 never has to be written out; when they
        // agree, the exponents differ by at most the digit counts and aligning is cheap.
        let (da, db) = (a.decimal_digits(), b.decimal_digits());
        let by_magnitude = (da as i64 + ea).cmp(&(db as i64 + eb)).then_with(|| {
            let (mut a, mut b) = (a, b);
            match ea.cmp(&eb) {
                Ordering::Greater => a.mul_pow10((ea - eb) as u64),
                Ordering::Less => b.mul_pow10((eb - ea) as u64),
                Ordering::Equal => {}
            }
            a.cmp(&b)
        });
        if negative { by_magnitude.reverse() } else { by_magnitude }
    }

    /// The decimal form (Go's `AsDec`).
    fn to_dec(&self) -> (BigInt, i32) {
        match self {
            Amount::Int { value, scale } => (BigInt::from_i64(*value), scale.wrapping_neg()),
            Amount::Dec { unscaled, scale } => (unscaled.clone(), *scale),
        }
    }

    /// `self + other` (Go's `Quantity.Add`): in `int64` while both are and it fits, else in
    /// decimal at the finer of the two scales.
    pub(super) fn add(&self, other: &Amount) -> Result<Amount, TooLarge> {
        if let (Amount::Int { value: a, scale: sa }, Amount::Int { value: b, scale: sb }) = (self, other)
            && let Some((value, scale)) = int_add((*a, *sa), (*b, *sb))
        {
            return Ok(Amount::Int { value, scale });
        }
        let (x, xs) = self.to_dec();
        let (y, ys) = other.to_dec();
        Self::dec_add(x, xs, y, ys)
    }

    /// `self - other` (Go's `Quantity.Sub`).
    pub(super) fn sub(&self, other: &Amount) -> Result<Amount, TooLarge> {
        if let (
            Amount::Int { value: a, scale: sa },
            Amount::Int { value: b, scale: sb },
        ) = (self, other)
            // Go negates with wraparound and so adds -2^63 instead of subtracting it; falling
            // back to the exact form keeps the arithmetic right.
            && let Some(neg_b) = b.checked_neg()
            && let Some((value, scale)) = int_add((*a, *sa), (neg_b, *sb))
        {
            return Ok(Amount::Int { value, scale });
        }
        let (x, xs) = self.to_dec();
        let (y, ys) = other.to_dec();
        Self::dec_add(x, xs, y.neg(), ys)
    }

    /// Go's `inf.Dec.Add`: both operands brought to the larger scale, then added.
    fn dec_add(x: BigInt, xs: i32, y: BigInt, ys: i32) -> Result<Amount, TooLarge> {
        let scale = xs.max(ys);
        let rescale = |mut n: BigInt, s: i32| -> Result<BigInt, TooLarge> {
            let grow = (i64::from(scale) - i64::from(s)) as u64;
            if grow > 0 && !n.magnitude.is_zero() {
                if n.magnitude.decimal_digits_bound().saturating_add(grow) > MAX_DIGITS {
                    return Err(TooLarge);
                }
                n.magnitude.mul_pow10(grow);
            }
            Ok(n)
        };
        let sum = rescale(x, xs)?.add(&rescale(y, ys)?);
        Ok(Amount::Dec { unscaled: sum, scale })
    }
}

/// Go's `math.Pow10`, with its tables, so that `asApproximateFloat()` rounds exactly as
/// Kubernetes does (10^n is not exact beyond 10^22, and how it is assembled matters).
fn go_pow10(n: i64) -> f64 {
    const POW10: [f64; 32] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
        1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29, 1e30, 1e31,
    ];
    const POW10_POS32: [f64; 10] = [1e0, 1e32, 1e64, 1e96, 1e128, 1e160, 1e192, 1e224, 1e256, 1e288];
    const POW10_NEG32: [f64; 11] = [1e-0, 1e-32, 1e-64, 1e-96, 1e-128, 1e-160, 1e-192, 1e-224, 1e-256, 1e-288, 1e-320];
    if (0..=308).contains(&n) {
        let n = n as usize;
        return POW10_POS32[n / 32] * POW10[n % 32];
    }
    if (-323..=0).contains(&n) {
        let n = (-n) as usize;
        return POW10_NEG32[n / 32] / POW10[n % 32];
    }
    if n > 0 { f64::INFINITY } else { 0.0 }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Kubernetes' own answers: apimachinery's `resource` package (at HEAD), run on each input
    /// (or on `a|add|b`, `a|sub|b`), printed as its internal form (which `isInteger()`
    /// observes), `AsInt64()` and `AsApproximateFloat64()`.
    const ORACLE: &[(&str, &str, Option<i64>, f64)] = &[
        ("0", "Int(0,0)", Some(0), 0.0),
        ("1Gi", "Int(1073741824,0)", Some(1073741824), 1.073741824e9),
        ("1024Mi", "Int(1073741824,0)", Some(1073741824), 1.073741824e9),
        ("12Mi", "Int(12582912,0)", Some(12582912), 1.2582912e7),
        ("100m", "Int(100,-3)", None, 0.1),
        ("0.1", "Int(1,-1)", None, 0.1),
        ("1e3", "Int(1,3)", Some(1000), 1000.0),
        ("1E-3", "Int(1,-3)", None, 0.001),
        ("1.5G", "Int(15,8)", Some(1500000000), 1.5e9),
        ("50.703k", "Int(50703,0)", Some(50703), 50703.0),
        ("1.", "Int(1,0)", Some(1), 1.0),
        ("1.G", "Int(1,9)", Some(1000000000), 1e9),
        (".001", "Int(1,-3)", None, 0.001),
        ("-1.5", "Int(-15,-1)", None, -1.5),
        ("+5", "Int(5,0)", Some(5), 5.0),
        ("1e+3", "Int(1,3)", Some(1000), 1000.0),
        ("1e4294967296", "Int(1,0)", Some(1), 1.0),
        ("123456789012345678", "Int(123456789012345678,0)", Some(123456789012345678), 1.2345678901234568e17),
        ("Mi", "Int(0,0)", Some(0), 0.0),
        ("k", "Int(0,3)", Some(0), 0.0),
        (".", "Int(0,0)", Some(0), 0.0),
        ("-", "Int(0,0)", Some(0), 0.0),
        ("00", "Int(0,0)", Some(0), 0.0),
        ("1.5Gi", "Dec(1610612736000000000,9)", None, 1.610612736e9),
        ("0.5Ki", "Dec(512000000000,9)", None, 512.0),
        ("1.1Ki", "Dec(1126400000000,9)", None, 1126.4),
        ("1e-10", "Dec(1,9)", None, 1e-9),
        ("0.1n", "Dec(1,9)", None, 1e-9),
        ("1.5n", "Dec(2,9)", None, 2e-9),
        ("-1.5n", "Dec(-2,9)", None, -2e-9),
        ("0.000000000001Ki", "Dec(2,9)", None, 2e-9),
        ("1Ei", "Dec(1152921504606846976000000000,9)", None, 1.152921504606847e18),
        ("7Ei", "Dec(8070450532247928832000000000,9)", None, 8.070450532247929e18),
        ("8Ei", "Dec(9223372036854775807,0)", None, 9.223372036854776e18),
        ("-8Ei", "Dec(-9223372036854775807,0)", None, -9.223372036854776e18),
        ("9223372036854775807", "Dec(9223372036854775807000000000,9)", None, 9.223372036854776e18),
        (
            "9999999999999999999999999999999999999G",
            "Dec(9999999999999999999999999999999999999000000000000000000,9)",
            None,
            1.0000000000000001e46,
        ),
        ("1000m", "Int(1000,-3)", None, 1.0),
        ("1.0", "Int(10,-1)", None, 1.0),
        ("0.0", "Int(0,-1)", None, 0.0),
        ("0e5", "Int(0,5)", Some(0), 0.0),
        ("-0", "Int(0,0)", Some(0), 0.0),
        ("5Ti", "Int(5497558138880,0)", Some(5497558138880), 5.49755813888e12),
        ("50Ti", "Int(54975581388800,0)", Some(54975581388800), 5.49755813888e13),
        ("0.0000000000000000000", "Dec(0,19)", None, 0.0),
        ("1.0001m", "Int(10001,-7)", None, 0.0010000999999999999),
        ("2.5e-1", "Int(25,-2)", None, 0.25),
        ("1.5e-2147483648", "Int(15,2147483647)", None, f64::INFINITY),
        ("-.5Ki", "Dec(-512000000000,9)", None, -512.0),
        ("1234567890123456789e-30", "Dec(1,9)", None, 1e-9),
        ("50k|add|20", "Int(50020,0)", Some(50020), 50020.0),
        ("50k|add|20k", "Int(70,3)", Some(70000), 70000.0),
        ("1000m|add|0", "Int(1000,-3)", None, 1.0),
        ("0|add|1000m", "Int(1000,-3)", None, 1.0),
        ("1.5Gi|add|512Mi", "Dec(2147483648000000000,9)", None, 2.147483648e9),
        ("9223372036854775807|add|1", "Dec(9223372036854775808000000000,9)", None, 9.223372036854776e18),
        ("50k|sub|20", "Int(49980,0)", Some(49980), 49980.0),
        ("1|sub|1.5", "Int(-5,-1)", None, -0.5),
        ("100m|add|900m", "Int(1000,-3)", None, 1.0),
        ("0.1|add|0.2", "Int(3,-1)", None, 0.30000000000000004),
        ("1e18|add|1e18", "Int(2,18)", Some(2000000000000000000), 2e18),
        ("5e18|add|5e18", "Int(10,18)", None, 1e19),
        ("1n|add|1e3", "Int(1000000000001,-9)", None, 1000.0000000010001),
        ("1e-9|add|1e9", "Int(1000000000000000001,-9)", None, 1.0000000000000001e9),
        ("-5|sub|-5", "Int(0,0)", Some(0), 0.0),
        ("1Ki|sub|1000", "Int(24,0)", Some(24), 24.0),
        ("1.5Gi|sub|1.5Gi", "Dec(0,9)", None, 0.0),
        ("0.5|sub|1.5Gi", "Dec(-1610612735500000000,9)", None, -1.6106127355e9),
        ("1e3|sub|1k", "Int(0,3)", Some(0), 0.0),
    ];

    /// `ParseQuantity` errors, checked against Kubernetes the same way.
    const PARSE_ERRORS: &[(&str, ParseError)] = &[
        ("200K", ParseError::Suffix),
        ("10Mm", ParseError::Suffix),
        ("1ki", ParseError::Suffix),
        ("1e", ParseError::Suffix),
        ("1e+", ParseError::Suffix),
        ("0.1mi", ParseError::Suffix),
        (".5i", ParseError::Suffix),
        ("-3.01e-", ParseError::Suffix),
        ("1e99999999999999999999", ParseError::Suffix),
        ("10Mo", ParseError::FormatWrong),
        ("1,3G", ParseError::FormatWrong),
        ("Three", ParseError::FormatWrong),
        (" 1", ParseError::FormatWrong),
        ("1 ", ParseError::FormatWrong),
        ("", ParseError::FormatWrong),
        ("1.1.M", ParseError::FormatWrong),
        ("1+1.0M", ParseError::FormatWrong),
        ("1e5k", ParseError::FormatWrong),
        ("１", ParseError::FormatWrong),
        (".e-10", ParseError::Numeric),
        ("e-10", ParseError::Numeric),
    ];

    fn form(amount: &Amount) -> String {
        match amount {
            Amount::Int { value, scale } => format!("Int({value},{scale})"),
            Amount::Dec { unscaled, scale } => {
                let sign = if unscaled.negative { "-" } else { "" };
                format!("Dec({sign}{},{scale})", unscaled.magnitude.to_decimal_string())
            }
        }
    }

    #[test]
    fn parses_and_adds_like_kubernetes() {
        for &(input, want_form, want_int, want_float) in ORACLE {
            let parsed = match input.split('|').collect::<Vec<_>>().as_slice() {
                [a] => Amount::parse(a).unwrap(),
                [a, "add", b] => Amount::parse(a).unwrap().add(&Amount::parse(b).unwrap()).unwrap(),
                [a, "sub", b] => Amount::parse(a).unwrap().sub(&Amount::parse(b).unwrap()).unwrap(),
                _ => panic!("bad case {input}"),
            };
            assert_eq!(form(&parsed), want_form, "{input}");
            assert_eq!(parsed.as_i64(), want_int, "{input}");
            assert_eq!(parsed.approximate_f64(), want_float, "{input}");
        }
    }

    #[test]
    fn rejects_like_kubernetes() {
        for &(input, want) in PARSE_ERRORS {
            assert_eq!(Amount::parse(input).err(), Some(want), "{input:?}");
        }
    }

    #[test]
    fn absurd_sizes_are_refused_rather_than_computed() {
        let huge = format!("{}e-20", "1".repeat(5000));
        assert_eq!(Amount::parse(&huge).err(), Some(ParseError::TooLarge));
        let far = Amount::parse("1e2000000000").unwrap();
        let near = Amount::parse("1.5n").unwrap();
        assert_eq!(far.add(&near).err(), Some(TooLarge));
        // Comparing never needs the digits written out.
        assert_eq!(far.cmp(&near), Ordering::Greater);
        assert_eq!(far.approximate_f64(), f64::INFINITY);
    }

    #[test]
    fn compares_by_value_across_forms() {
        let q = |s| Amount::parse(s).unwrap();
        let cases = [
            ("200M", "0.2G", Ordering::Equal),
            ("1Gi", "1.0Gi", Ordering::Equal),
            ("50M", "50Mi", Ordering::Less),
            ("-1", "-2", Ordering::Greater),
            ("1n", "0", Ordering::Greater),
            ("9999999999999999999999999999999999999G", "1e46", Ordering::Less),
            ("-9999999999999999999999999999999999999G", "-1e46", Ordering::Greater),
            ("0", "-0.0000000000000000000", Ordering::Equal),
        ];
        for (a, b, want) in cases {
            assert_eq!(q(a).cmp(&q(b)), want, "{a} vs {b}");
            assert_eq!(q(b).cmp(&q(a)), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn int64_arithmetic_keeps_the_int64_form() {
        let q = |s| Amount::parse(s).unwrap();
        let sum = q("50k").add(&Amount::from_i64(20)).unwrap();
        assert!(matches!(sum, Amount::Int { value: 50020, scale: 0 }));
        let zero_kept = q("1000m").add(&q("0")).unwrap();
        assert!(matches!(zero_kept, Amount::Int { value: 1000, scale: -3 }));
        // Overflow switches to the decimal form, exactly.
        let big = Amount::from_i64(i64::MAX).add(&Amount::from_i64(1)).unwrap();
        assert!(matches!(big, Amount::Dec { .. }));
        assert_eq!(big.cmp(&q("9223372036854775808")), Ordering::Equal);
        let min = Amount::from_i64(0).sub(&Amount::from_i64(i64::MIN)).unwrap();
        assert_eq!(min.cmp(&q("9223372036854775808")), Ordering::Equal);
    }

    #[test]
    fn go_pow10_matches_go() {
        assert_eq!(go_pow10(0), 1.0);
        assert_eq!(go_pow10(-9), 1e-9);
        assert_eq!(go_pow10(22), 1e22);
        assert_eq!(go_pow10(309), f64::INFINITY);
        assert_eq!(go_pow10(-324), 0.0);
    }
}
