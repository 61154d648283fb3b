//! The few big-integer operations a Kubernetes quantity needs.
//!
//! Kubernetes keeps a quantity that does not fit its `int64` fast path in an arbitrary-precision
//! decimal (`inf.Dec`, a `big.Int` and a scale). To give the same answers we need exact integers
//! beyond `i128` ("9999999999999999999999999999999999999G" is 10^46), but only addition,
//! subtraction, comparison, scaling by powers of ten and conversion to `f64`. That is small
//! enough to write here rather than add a dependency.

use std::cmp::Ordering;

/// Base-10 digits one `u32` limb step handles at a time.
const TEN_POW_9: u32 = 1_000_000_000;

/// A non-negative integer of any size: little-endian base-2^32 limbs, no zero limb at the top
/// (so zero is the empty vector and equal values have equal representations).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct BigUint {
    limbs: Vec<u32>,
}

impl BigUint {
    pub(super) fn from_u64(value: u64) -> Self {
        let mut n = BigUint { limbs: vec![value as u32, (value >> 32) as u32] };
        n.normalize();
        n
    }

    /// Parses ASCII decimal digits; the caller has checked that every byte is one.
    pub(super) fn from_decimal(digits: &[u8]) -> Self {
        let mut n = BigUint::default();
        // Nine digits at a time: one multiply-add pass per chunk instead of per digit.
        for chunk in digits.chunks(9) {
            let mut value = 0u32;
            let mut scale = 1u32;
            for d in chunk {
                value = value * 10 + u32::from(d.wrapping_sub(b'0') % 10);
                scale *= 10;
            }
            n.mul_add_small(scale, value);
        }
        n
    }

    pub(super) fn is_zero(&self) -> bool {
        self.limbs.is_empty()
    }

    fn normalize(&mut self) {
        while self.limbs.last() == Some(&0) {
            self.limbs.pop();
        }
    }

    /// `self = self * m + a`.
    fn mul_add_small(&mut self, m: u32, a: u32) {
        let mut carry = u64::from(a);
        for limb in &mut self.limbs {
            let v = u64::from(*limb) * u64::from(m) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.limbs.push(carry as u32);
        }
        self.normalize();
    }

    /// `self = self / d`, returning the remainder. `d` must not be zero.
    fn div_rem_small(&mut self, d: u32) -> u32 {
        let d = u64::from(d.max(1));
        let mut rem = 0u64;
        for limb in self.limbs.iter_mut().rev() {
            let v = (rem << 32) | u64::from(*limb);
            *limb = (v / d) as u32;
            rem = v % d;
        }
        self.normalize();
        rem as u32
    }

    /// `self * 2^bits`, for the binary suffixes (at most 2^60).
    pub(super) fn shl_small(&mut self, bits: u32) {
        let mut left = bits;
        while left > 0 {
            let step = left.min(31);
            self.mul_add_small(1 << step, 0);
            left -= step;
        }
    }

    /// `self * 10^n`. Callers bound `n` (see [`super::amount::MAX_DIGITS`]).
    pub(super) fn mul_pow10(&mut self, n: u64) {
        if self.is_zero() {
            return;
        }
        let mut left = n;
        while left >= 9 {
            self.mul_add_small(TEN_POW_9, 0);
            left -= 9;
        }
        if left > 0 {
            self.mul_add_small(10u32.pow(left as u32), 0);
        }
    }

    /// `self = self / 10^n` (truncating), returning whether a non-zero remainder was dropped.
    pub(super) fn div_pow10(&mut self, n: u64) -> bool {
        let mut inexact = false;
        let mut left = n;
        while left > 0 && !self.is_zero() {
            let step = left.min(9);
            inexact |= self.div_rem_small(10u32.pow(step as u32)) != 0;
            left -= step;
        }
        // Anything left to divide by turns a non-zero value into zero, dropping it all.
        if left > 0 && !self.is_zero() {
            inexact = true;
            self.limbs.clear();
        }
        inexact
    }

    /// The number of decimal digits; zero has none.
    pub(super) fn decimal_digits(&self) -> u64 {
        let mut n = self.clone();
        let mut digits = 0u64;
        while n.limbs.len() > 1 || n.limbs.first().is_some_and(|&l| l >= TEN_POW_9) {
            n.div_rem_small(TEN_POW_9);
            digits += 9;
        }
        if let Some(&last) = n.limbs.first() {
            digits += u64::from(last.checked_ilog10().unwrap_or(0)) + 1;
        }
        digits
    }

    /// The value in decimal, for the tests' comparisons with Kubernetes' output.
    #[cfg(test)]
    pub(super) fn to_decimal_string(&self) -> String {
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            chunks.push(n.div_rem_small(TEN_POW_9));
        }
        let mut out = chunks.pop().map_or_else(|| "0".to_owned(), |c| c.to_string());
        for c in chunks.iter().rev() {
            out.push_str(&format!("{c:09}"));
        }
        out
    }

    /// An upper bound of [`Self::decimal_digits`] that costs nothing: log10(2) < 0.30103.
    pub(super) fn decimal_digits_bound(&self) -> u64 {
        self.bit_len() * 30103 / 100_000 + 1
    }

    pub(super) fn bit_len(&self) -> u64 {
        match self.limbs.last() {
            None => 0,
            Some(&top) => (self.limbs.len() as u64 - 1) * 32 + u64::from(32 - top.leading_zeros()),
        }
    }

    pub(super) fn to_u64(&self) -> Option<u64> {
        match self.limbs.as_slice() {
            [] => Some(0),
            [lo] => Some(u64::from(*lo)),
            [lo, hi] => Some(u64::from(*lo) | (u64::from(*hi) << 32)),
            _ => None,
        }
    }

    /// The nearest `f64` (ties to even), or infinity when too large: what Go's
    /// `big.Float.SetInt(x).Float64()` returns.
    pub(super) fn to_f64(&self) -> f64 {
        if let Some(v) = self.to_u64() {
            // Rust's integer-to-float conversion rounds to nearest, ties to even.
            return v as f64;
        }
        let bits = self.bit_len();
        let shift = bits - 64;
        let top = self.bits_from(shift);
        // The bits below the top 64 only matter as a "sticky" bit: folded into bit 0, which is
        // itself below the rounding position of a 53-bit mantissa, they make the one rounding of
        // `top` round the whole number correctly.
        let sticky = u64::from(self.any_bit_below(shift));
        let mantissa = (top | sticky) as f64;
        if shift > 1100 {
            return f64::INFINITY;
        }
        // Multiplying by a power of two is exact (or overflows to infinity, as it should).
        mantissa * 2f64.powi(shift as i32)
    }

    /// The 64 bits starting at bit `shift`.
    fn bits_from(&self, shift: u64) -> u64 {
        let mut out = 0u64;
        for i in 0..64u64 {
            let bit = shift + i;
            let limb = (bit / 32) as usize;
            if let Some(&l) = self.limbs.get(limb)
                && (l >> (bit % 32)) & 1 == 1
            {
                out |= 1 << i;
            }
        }
        out
    }

    fn any_bit_below(&self, shift: u64) -> bool {
        let full = (shift / 32) as usize;
        if self.limbs.iter().take(full).any(|&l| l != 0) {
            return true;
        }
        let part = (shift % 32) as u32;
        part > 0 && self.limbs.get(full).is_some_and(|&l| l & ((1u32 << part) - 1) != 0)
    }

    fn add(&self, other: &BigUint) -> BigUint {
        let (long, short) = if self.limbs.len() >= other.limbs.len() { (self, other) } else { (other, self) };
        let mut limbs = Vec::with_capacity(long.limbs.len() + 1);
        let mut carry = 0u64;
        for (i, &l) in long.limbs.iter().enumerate() {
            let v = u64::from(l) + u64::from(short.limbs.get(i).copied().unwrap_or(0)) + carry;
            limbs.push(v as u32);
            carry = v >> 32;
        }
        if carry != 0 {
            limbs.push(carry as u32);
        }
        let mut n = BigUint { limbs };
        n.normalize();
        n
    }

    /// `self - other`, for `self >= other` (the callers order the operands first).
    fn sub(&self, other: &BigUint) -> BigUint {
        let mut limbs = Vec::with_capacity(self.limbs.len());
        let mut borrow = 0i64;
        for (i, &l) in self.limbs.iter().enumerate() {
            let mut v = i64::from(l) - i64::from(other.limbs.get(i).copied().unwrap_or(0)) - borrow;
            borrow = 0;
            if v < 0 {
                v += 1 << 32;
                borrow = 1;
            }
            limbs.push(v as u32);
        }
        let mut n = BigUint { limbs };
        n.normalize();
        n
    }
}

impl Ord for BigUint {
    fn cmp(&self, other: &Self) -> Ordering {
        self.limbs.len().cmp(&other.limbs.len()).then_with(|| self.limbs.iter().rev().cmp(other.limbs.iter().rev()))
    }
}

impl PartialOrd for BigUint {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A signed [`BigUint`]; zero is never negative.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct BigInt {
    pub(super) negative: bool,
    pub(super) magnitude: BigUint,
}

impl BigInt {
    pub(super) fn new(negative: bool, magnitude: BigUint) -> Self {
        BigInt { negative: negative && !magnitude.is_zero(), magnitude }
    }

    pub(super) fn from_i64(value: i64) -> Self {
        BigInt::new(value < 0, BigUint::from_u64(value.unsigned_abs()))
    }

    pub(super) fn signum(&self) -> i64 {
        match (self.magnitude.is_zero(), self.negative) {
            (true, _) => 0,
            (false, true) => -1,
            (false, false) => 1,
        }
    }

    pub(super) fn add(&self, other: &BigInt) -> BigInt {
        if self.negative == other.negative {
            return BigInt::new(self.negative, self.magnitude.add(&other.magnitude));
        }
        // Opposite signs: the larger magnitude wins the sign.
        match self.magnitude.cmp(&other.magnitude) {
            Ordering::Less => BigInt::new(other.negative, other.magnitude.sub(&self.magnitude)),
            _ => BigInt::new(self.negative, self.magnitude.sub(&other.magnitude)),
        }
    }

    pub(super) fn neg(&self) -> BigInt {
        BigInt::new(!self.negative, self.magnitude.clone())
    }

    pub(super) fn to_f64(&self) -> f64 {
        let f = self.magnitude.to_f64();
        if self.negative { -f } else { f }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn big(s: &str) -> BigUint {
        BigUint::from_decimal(s.as_bytes())
    }

    #[test]
    fn decimal_round_trips_through_the_limbs() {
        for s in ["0", "1", "4294967296", "18446744073709551616", "12345678901234567890123"] {
            let n = big(s);
            let digits = if s == "0" { 0 } else { s.len() as u64 };
            assert_eq!(n.decimal_digits(), digits, "{s}");
            assert!(n.decimal_digits_bound() >= digits, "{s}");
        }
        assert_eq!(big("18446744073709551615").to_u64(), Some(u64::MAX));
        assert_eq!(big("18446744073709551616").to_u64(), None);
    }

    #[test]
    fn arithmetic_is_exact() {
        let a = big("99999999999999999999999999999");
        let b = big("1");
        assert_eq!(a.add(&b), big("100000000000000000000000000000"));
        assert_eq!(a.add(&b).sub(&b), a);
        let mut c = big("123");
        c.mul_pow10(30);
        assert_eq!(c, big("123000000000000000000000000000000"));
        assert!(!c.div_pow10(30));
        assert_eq!(c, big("123"));
        assert!(c.div_pow10(1));
        assert_eq!(c, big("12"));
        assert!(c.div_pow10(40));
        assert!(c.is_zero());
        let mut d = big("3");
        d.shl_small(60);
        assert_eq!(d, big("3458764513820540928"));
    }

    #[test]
    fn conversion_to_f64_rounds_to_nearest_even() {
        assert_eq!(big("9007199254740993").to_f64(), 9007199254740992.0);
        assert_eq!(big("9999999999999999999999999999999999999000000000").to_f64(), 1e46);
        // 2^64 + 2^11 + 1 rounds up (above the halfway point thanks to the sticky bit).
        assert_eq!(big("18446744073709553665").to_f64(), 18446744073709555712.0);
        let mut huge = big("1");
        huge.mul_pow10(400);
        assert_eq!(huge.to_f64(), f64::INFINITY);
    }

    #[test]
    fn signed_addition_picks_the_sign_of_the_larger_magnitude() {
        let five = BigInt::from_i64(5);
        let minus_seven = BigInt::from_i64(-7);
        assert_eq!(five.add(&minus_seven), BigInt::from_i64(-2));
        assert_eq!(minus_seven.neg().add(&five), BigInt::from_i64(12));
        assert_eq!(five.add(&five.neg()).signum(), 0);
        assert_eq!(BigInt::from_i64(i64::MIN).magnitude, big("9223372036854775808"));
    }
}
