//! `numeric`: arbitrary-precision decimal numbers with PostgreSQL 15's rules for scales,
//! rounding, special values and text, binary and key forms.
//!
//! A finite value is a sign, a magnitude held as its decimal digits (most significant first,
//! no leading zeros; no digits at all is zero) and a display scale: the value is
//! `digits × 10^-scale`. The scale is part of the value as PostgreSQL keeps it (`1.50` prints
//! with two decimals) but not of its identity: `1.5 = 1.50`, and both have the same index key.
//!
//! ```text
//!   -12.340   →  negative, digits [1,2,3,4,0], scale 3
//!   0.00      →  digits [],          scale 2   (zero is never negative)
//! ```
//!
//! Besides finite values there are `NaN`, `Infinity` and `-Infinity`. They sort as PostgreSQL
//! sorts them: `-Infinity` < every finite value < `Infinity` < `NaN`, and `NaN = NaN`.
//!
//! Result scales follow PostgreSQL: `+`/`-` keep the larger input scale, `*` the sum of both,
//! `/` the scale `select_div_scale` picks (at least 16 significant digits, never fewer decimals
//! than either input, at most 1000), `sqrt` and `^` likewise. Rounding is half away from zero.
//! Division is computed exactly to one digit past the result scale and then rounded, which
//! gives the correctly rounded quotient.
//!
//! The binary wire form is PostgreSQL's: the value in base-10000 digits grouped around the
//! decimal point, `ndigits:i16 weight:i16 sign:u16 dscale:u16 digits:i16*`. The memcomparable
//! key form (used by primary keys and indexes) is described in docs/formats.md.

use crate::error::{SqlError, SqlResult};
use borealis_common::codec::{DecodeError, DecodeResult, Put, Reader};
use std::cmp::Ordering;
use std::fmt;

/// Most decimal digits before the decimal point (PostgreSQL: weight ≤ 32767 base-10000 digits,
/// which its input accepts as 131072 decimal digits).
pub const INTEGER_DIGITS_MAX: usize = 131_072;
/// Most decimal digits after the point a value can hold (PostgreSQL's `NUMERIC_DSCALE_MAX`).
pub const SCALE_MAX: u32 = 16_383;
/// The largest precision a `numeric(p, s)` type modifier may name.
pub const PRECISION_MAX: i32 = 1000;
/// The range of scales a `numeric(p, s)` type modifier may name.
pub const TYPMOD_SCALE_MIN: i32 = -1000;
pub const TYPMOD_SCALE_MAX: i32 = 1000;
/// Significant digits a quotient, square root or power gets at least (`NUMERIC_MIN_SIG_DIGITS`).
const MIN_SIG_DIGITS: i64 = 16;
/// The largest scale a computed quotient, root or power gets (`NUMERIC_MAX_DISPLAY_SCALE`).
const DISPLAY_SCALE_MAX: i64 = 1000;
/// Largest scale `round`/`trunc` accept before clamping (`NUMERIC_MAX_RESULT_SCALE`).
const RESULT_SCALE_MAX: i64 = 2000;
/// Most base-10000 digits a binary-form value may carry when received.
const WIRE_DIGITS_MAX: usize = (INTEGER_DIGITS_MAX + SCALE_MAX as usize) / 4 + 2;

/// A `numeric` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Numeric {
    NaN,
    /// `Infinity` or `-Infinity`.
    Infinity {
        negative: bool,
    },
    Finite(Decimal),
}

/// A finite decimal: `(-1)^negative × digits × 10^-scale`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decimal {
    negative: bool,
    /// Decimal digits of the magnitude, most significant first, no leading zero.
    digits: Vec<u8>,
    scale: u32,
}

fn overflow() -> SqlError {
    SqlError::NumericValueOutOfRange("value overflows numeric format".into())
}

// ---------------------------------------------------------------------------------------------
// Magnitudes: big-endian vectors of decimal digits without leading zeros.

fn trim(mut v: Vec<u8>) -> Vec<u8> {
    let lead = v.iter().take_while(|d| **d == 0).count();
    v.drain(..lead);
    v
}

fn mag_cmp(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn mag_add(a: &[u8], b: &[u8]) -> Vec<u8> {
    let n = a.len().max(b.len());
    let mut out = vec![0u8; n + 1];
    let mut carry = 0u8;
    for i in 0..n {
        let x = if i < a.len() { a[a.len() - 1 - i] } else { 0 };
        let y = if i < b.len() { b[b.len() - 1 - i] } else { 0 };
        let s = x + y + carry;
        out[n - i] = s % 10;
        carry = s / 10;
    }
    out[0] = carry;
    trim(out)
}

/// `a - b` for `a ≥ b`.
fn mag_sub(a: &[u8], b: &[u8]) -> Vec<u8> {
    debug_assert!(mag_cmp(a, b) != Ordering::Less);
    let mut out = a.to_vec();
    let mut borrow = 0i8;
    for i in 0..a.len() {
        let y = if i < b.len() {
            b[b.len() - 1 - i] as i8
        } else {
            0
        };
        let idx = a.len() - 1 - i;
        let mut d = out[idx] as i8 - y - borrow;
        if d < 0 {
            d += 10;
            borrow = 1;
        } else {
            borrow = 0;
        }
        out[idx] = d as u8;
    }
    trim(out)
}

fn mag_mul(a: &[u8], b: &[u8]) -> Vec<u8> {
    if a.is_empty() || b.is_empty() {
        return Vec::new();
    }
    let mut acc = vec![0u64; a.len() + b.len()];
    for (i, &x) in a.iter().rev().enumerate() {
        if x == 0 {
            continue;
        }
        for (j, &y) in b.iter().rev().enumerate() {
            acc[i + j] += u64::from(x) * u64::from(y);
        }
        // Keep the accumulators small enough never to overflow.
        if i % 1024 == 1023 {
            let mut carry = 0u64;
            for slot in acc.iter_mut() {
                let v = *slot + carry;
                *slot = v % 10;
                carry = v / 10;
            }
        }
    }
    let mut carry = 0u64;
    let mut out = Vec::with_capacity(acc.len());
    for slot in acc {
        let v = slot + carry;
        out.push((v % 10) as u8);
        carry = v / 10;
    }
    while carry > 0 {
        out.push((carry % 10) as u8);
        carry /= 10;
    }
    out.reverse();
    trim(out)
}

/// Quotient and remainder of `a / b` (`b` non-zero), by schoolbook long division.
fn mag_divmod(a: &[u8], b: &[u8]) -> (Vec<u8>, Vec<u8>) {
    debug_assert!(!b.is_empty(), "division by a zero magnitude");
    if mag_cmp(a, b) == Ordering::Less {
        return (Vec::new(), a.to_vec());
    }
    let mut q = Vec::with_capacity(a.len());
    let mut r: Vec<u8> = Vec::with_capacity(b.len() + 1);
    for &d in a {
        if !(r.is_empty() && d == 0) {
            r.push(d);
        }
        let mut digit = 0u8;
        while mag_cmp(&r, b) != Ordering::Less {
            r = mag_sub(&r, b);
            digit += 1;
        }
        q.push(digit);
    }
    (trim(q), r)
}

fn shift(mut v: Vec<u8>, zeros: usize) -> Vec<u8> {
    if !v.is_empty() {
        v.resize(v.len() + zeros, 0);
    }
    v
}

fn pow10(k: usize) -> Vec<u8> {
    let mut v = vec![1u8];
    v.resize(k + 1, 0);
    v
}

/// Adds one unit in the last place.
fn increment(v: &[u8]) -> Vec<u8> {
    mag_add(v, &[1])
}

fn mag_from_u128(mut n: u128) -> Vec<u8> {
    let mut out = Vec::new();
    while n > 0 {
        out.push((n % 10) as u8);
        n /= 10;
    }
    out.reverse();
    out
}

fn mag_to_u128(v: &[u8]) -> Option<u128> {
    let mut n: u128 = 0;
    for &d in v {
        n = n.checked_mul(10)?.checked_add(u128::from(d))?;
    }
    Some(n)
}

/// Integer square root by Newton's iteration.
fn mag_isqrt(n: &[u8]) -> Vec<u8> {
    if n.is_empty() {
        return Vec::new();
    }
    // Start above the root: 10^ceil(len/2).
    let mut x = pow10(n.len().div_ceil(2));
    loop {
        let (q, _) = mag_divmod(n, &x);
        let sum = mag_add(&x, &q);
        let (y, _) = mag_divmod(&sum, &[2]);
        if mag_cmp(&y, &x) != Ordering::Less {
            return x;
        }
        x = y;
    }
}

// ---------------------------------------------------------------------------------------------

impl Decimal {
    fn new(negative: bool, digits: Vec<u8>, scale: u32) -> Decimal {
        let digits = trim(digits);
        Decimal {
            negative: negative && !digits.is_empty(),
            digits,
            scale,
        }
    }

    fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Digits of the magnitude at scale `s ≥ self.scale`.
    fn mag_at(&self, s: u32) -> Vec<u8> {
        shift(self.digits.clone(), (s - self.scale) as usize)
    }

    /// Decimal digits before the point.
    fn integer_digits(&self) -> usize {
        self.digits.len().saturating_sub(self.scale as usize)
    }

    /// Checks PostgreSQL's format limits; a scale past the limit is rounded away.
    fn checked(self) -> SqlResult<Decimal> {
        let d = if self.scale > SCALE_MAX {
            self.round(i64::from(SCALE_MAX))
        } else {
            self
        };
        if d.integer_digits() > INTEGER_DIGITS_MAX {
            return Err(overflow());
        }
        Ok(d)
    }

    /// Rounds (half away from zero) to `s` decimals; a negative `s` rounds to the left of the
    /// point, leaving scale 0.
    fn round(&self, s: i64) -> Decimal {
        self.rescale(s, true)
    }

    fn rescale(&self, s: i64, round: bool) -> Decimal {
        let cur = i64::from(self.scale);
        if s >= cur {
            let s = u32::try_from(s).unwrap_or(SCALE_MAX);
            return Decimal::new(self.negative, self.mag_at(s), s);
        }
        let drop = usize::try_from(cur - s).unwrap_or(usize::MAX);
        let keep_scale = u32::try_from(s.max(0)).unwrap_or(0);
        let zeros_after = usize::try_from((-s).max(0)).unwrap_or(0);
        if drop > self.digits.len() {
            return Decimal::new(false, Vec::new(), keep_scale);
        }
        let split = self.digits.len() - drop;
        let mut head = self.digits[..split].to_vec();
        if round && self.digits[split] >= 5 {
            head = increment(&head);
        }
        Decimal::new(self.negative, shift(head, zeros_after), keep_scale)
    }

    /// `(base-10000 weight, first base-10000 digit)` of the magnitude, as PostgreSQL's
    /// normalized representation has them; `(0, 0)` for zero.
    fn base10000_lead(&self) -> (i64, u32) {
        if self.is_zero() {
            return (0, 0);
        }
        // The decimal exponent of the leading digit.
        let e = self.digits.len() as i64 - 1 - i64::from(self.scale);
        let w = e.div_euclid(4);
        let lead_len = usize::try_from(e - 4 * w + 1).unwrap_or(1);
        let first = self
            .digits
            .iter()
            .chain(std::iter::repeat(&0))
            .take(lead_len)
            .fold(0u32, |acc, d| acc * 10 + u32::from(*d));
        (w, first)
    }

    fn cmp_value(&self, other: &Decimal) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => return Ordering::Greater,
            (true, false) => return Ordering::Less,
            _ => {}
        }
        let s = self.scale.max(other.scale);
        let o = mag_cmp(&self.mag_at(s), &other.mag_at(s));
        if self.negative { o.reverse() } else { o }
    }

    fn add(&self, other: &Decimal, negate_other: bool) -> Decimal {
        let s = self.scale.max(other.scale);
        let (a, b) = (self.mag_at(s), other.mag_at(s));
        let bneg = other.negative != negate_other;
        if self.negative == bneg {
            return Decimal::new(self.negative, mag_add(&a, &b), s);
        }
        match mag_cmp(&a, &b) {
            Ordering::Less => Decimal::new(bneg, mag_sub(&b, &a), s),
            _ => Decimal::new(self.negative, mag_sub(&a, &b), s),
        }
    }
}

impl Numeric {
    /// Zero with scale 0.
    #[must_use]
    pub fn zero() -> Numeric {
        Numeric::Finite(Decimal::new(false, Vec::new(), 0))
    }

    #[must_use]
    pub fn from_i64(i: i64) -> Numeric {
        Numeric::from_i128(i128::from(i))
    }

    #[must_use]
    pub fn from_i128(i: i128) -> Numeric {
        Numeric::Finite(Decimal::new(i < 0, mag_from_u128(i.unsigned_abs()), 0))
    }

    /// PostgreSQL's float-to-numeric cast: the float printed with `sig_digits` significant
    /// digits (15 for float8, 6 for float4), read back as numeric.
    #[must_use]
    pub fn from_f64(f: f64, sig_digits: usize) -> Numeric {
        if f.is_nan() {
            return Numeric::NaN;
        }
        if f.is_infinite() {
            return Numeric::Infinity { negative: f < 0.0 };
        }
        let s = format!("{:.*e}", sig_digits.saturating_sub(1), f);
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mant = if mant.contains('.') {
            mant.trim_end_matches('0').trim_end_matches('.')
        } else {
            mant
        };
        Numeric::parse(&format!("{mant}e{exp}")).unwrap_or_else(|_| Numeric::zero())
    }

    /// PostgreSQL's text input (`numeric_in`).
    pub fn parse(text: &str) -> SqlResult<Numeric> {
        let bad = || SqlError::InvalidTextRepresentation {
            ty: "numeric".into(),
            value: text.into(),
        };
        let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
        let lower = t.to_ascii_lowercase();
        match lower.as_str() {
            "nan" => return Ok(Numeric::NaN),
            "infinity" | "+infinity" | "inf" | "+inf" => {
                return Ok(Numeric::Infinity { negative: false });
            }
            "-infinity" | "-inf" => return Ok(Numeric::Infinity { negative: true }),
            _ => {}
        }
        let b = t.as_bytes();
        let mut i = 0;
        let mut negative = false;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            negative = b[i] == b'-';
            i += 1;
        }
        let mut digits = Vec::new();
        let mut frac = 0i64;
        let mut seen_digit = false;
        let mut seen_point = false;
        while i < b.len() {
            match b[i] {
                c @ b'0'..=b'9' => {
                    digits.push(c - b'0');
                    seen_digit = true;
                    if seen_point {
                        frac += 1;
                    }
                }
                b'.' if !seen_point => seen_point = true,
                _ => break,
            }
            i += 1;
        }
        if !seen_digit {
            return Err(bad());
        }
        let mut exp = 0i64;
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            i += 1;
            let mut eneg = false;
            if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
                eneg = b[i] == b'-';
                i += 1;
            }
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                exp = exp
                    .saturating_mul(10)
                    .saturating_add(i64::from(b[i] - b'0'));
                i += 1;
            }
            if i == start {
                return Err(bad());
            }
            if eneg {
                exp = -exp;
            }
        }
        if i != b.len() {
            return Err(bad());
        }
        // value = digits × 10^(exp - frac)
        let digits = trim(digits);
        let shift_by = exp - frac;
        if !digits.is_empty() && shift_by > INTEGER_DIGITS_MAX as i64 {
            return Err(overflow());
        }
        let d = if shift_by >= 0 {
            Decimal::new(
                negative,
                shift(digits, usize::try_from(shift_by).unwrap_or(0)),
                0,
            )
        } else {
            Decimal::new(negative, digits, u32::try_from(-shift_by).unwrap_or(0))
        };
        if d.scale > SCALE_MAX {
            return Err(overflow());
        }
        Ok(Numeric::Finite(d.checked()?))
    }

    /// The display scale (0 for the special values).
    #[must_use]
    pub fn scale(&self) -> u32 {
        match self {
            Numeric::Finite(d) => d.scale,
            _ => 0,
        }
    }

    #[must_use]
    pub fn is_nan(&self) -> bool {
        matches!(self, Numeric::NaN)
    }

    /// Total order: -Infinity < finite values < Infinity < NaN; NaN equals NaN.
    #[must_use]
    pub fn total_cmp(&self, other: &Numeric) -> Ordering {
        fn rank(n: &Numeric) -> u8 {
            match n {
                Numeric::Infinity { negative: true } => 0,
                Numeric::Finite(_) => 1,
                Numeric::Infinity { negative: false } => 2,
                Numeric::NaN => 3,
            }
        }
        match (self, other) {
            (Numeric::Finite(a), Numeric::Finite(b)) => a.cmp_value(b),
            _ => rank(self).cmp(&rank(other)),
        }
    }

    #[must_use]
    pub fn to_f64(&self) -> f64 {
        match self {
            Numeric::NaN => f64::NAN,
            Numeric::Infinity { negative } => {
                if *negative {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                }
            }
            Numeric::Finite(_) => self.to_string().parse().unwrap_or(f64::NAN),
        }
    }

    /// Rounds to an integer (half away from zero), for the casts to the integer types; `None`
    /// when it is beyond i64. NaN and infinities are refused as PostgreSQL refuses them.
    /// `type_name` names the target in the error (`integer`, `bigint`).
    pub fn to_i64_rounded(&self, type_name: &str) -> SqlResult<Option<i64>> {
        match self {
            Numeric::NaN => Err(SqlError::NotSupported(format!(
                "cannot convert NaN to {type_name}"
            ))),
            Numeric::Infinity { .. } => Err(SqlError::NotSupported(format!(
                "cannot convert infinity to {type_name}"
            ))),
            Numeric::Finite(d) => {
                let r = d.round(0);
                if r.digits.len() > 20 {
                    return Ok(None);
                }
                let mag = mag_to_u128(&r.digits).unwrap_or(u128::MAX);
                let v = if r.negative {
                    -i128::try_from(mag).unwrap_or(i128::MAX)
                } else {
                    i128::try_from(mag).unwrap_or(i128::MAX)
                };
                Ok(i64::try_from(v).ok())
            }
        }
    }

    fn special_f64(f: f64) -> Numeric {
        if f.is_nan() {
            Numeric::NaN
        } else if f.is_infinite() {
            Numeric::Infinity { negative: f < 0.0 }
        } else {
            Numeric::zero()
        }
    }

    #[must_use]
    pub fn neg(&self) -> Numeric {
        match self {
            Numeric::NaN => Numeric::NaN,
            Numeric::Infinity { negative } => Numeric::Infinity {
                negative: !negative,
            },
            Numeric::Finite(d) => {
                Numeric::Finite(Decimal::new(!d.negative, d.digits.clone(), d.scale))
            }
        }
    }

    #[must_use]
    pub fn abs(&self) -> Numeric {
        match self {
            Numeric::Infinity { .. } => Numeric::Infinity { negative: false },
            Numeric::Finite(d) => Numeric::Finite(Decimal::new(false, d.digits.clone(), d.scale)),
            Numeric::NaN => Numeric::NaN,
        }
    }

    pub fn add(&self, other: &Numeric) -> SqlResult<Numeric> {
        match (self, other) {
            (Numeric::Finite(a), Numeric::Finite(b)) => {
                Ok(Numeric::Finite(a.add(b, false).checked()?))
            }
            _ => Ok(Numeric::special_f64(self.to_f64() + other.to_f64())),
        }
    }

    pub fn sub(&self, other: &Numeric) -> SqlResult<Numeric> {
        match (self, other) {
            (Numeric::Finite(a), Numeric::Finite(b)) => {
                Ok(Numeric::Finite(a.add(b, true).checked()?))
            }
            _ => Ok(Numeric::special_f64(self.to_f64() - other.to_f64())),
        }
    }

    pub fn mul(&self, other: &Numeric) -> SqlResult<Numeric> {
        match (self, other) {
            (Numeric::Finite(a), Numeric::Finite(b)) => {
                let digits = mag_mul(&a.digits, &b.digits);
                Ok(Numeric::Finite(
                    Decimal::new(a.negative != b.negative, digits, a.scale + b.scale).checked()?,
                ))
            }
            _ => Ok(Numeric::special_f64(self.to_f64() * other.to_f64())),
        }
    }

    /// The scale PostgreSQL's `select_div_scale` picks for `a / b`.
    fn div_scale(a: &Decimal, b: &Decimal) -> i64 {
        let (w1, f1) = a.base10000_lead();
        let (w2, f2) = b.base10000_lead();
        let mut qweight = w1 - w2;
        if f1 <= f2 {
            qweight -= 1;
        }
        (MIN_SIG_DIGITS - qweight * 4)
            .max(i64::from(a.scale))
            .max(i64::from(b.scale))
            .clamp(0, DISPLAY_SCALE_MAX)
    }

    pub fn div(&self, other: &Numeric) -> SqlResult<Numeric> {
        if let Numeric::Finite(b) = other
            && b.is_zero()
            && !self.is_nan()
        {
            return Err(SqlError::DivisionByZero);
        }
        match (self, other) {
            (Numeric::Finite(a), Numeric::Finite(b)) => {
                let s = Numeric::div_scale(a, b);
                Ok(Numeric::Finite(div_rounded(a, b, s)?))
            }
            (Numeric::Finite(_), Numeric::Infinity { .. }) => Ok(Numeric::zero()),
            _ => Ok(Numeric::special_f64(self.to_f64() / other.to_f64())),
        }
    }

    /// Truncated division's remainder; its sign is the dividend's, its scale the larger one.
    pub fn rem(&self, other: &Numeric) -> SqlResult<Numeric> {
        if let Numeric::Finite(b) = other
            && b.is_zero()
            && !self.is_nan()
        {
            return Err(SqlError::DivisionByZero);
        }
        match (self, other) {
            (Numeric::Finite(a), Numeric::Finite(b)) => {
                let s = a.scale.max(b.scale);
                let (_, r) = mag_divmod(&a.mag_at(s), &b.mag_at(s));
                Ok(Numeric::Finite(Decimal::new(a.negative, r, s)))
            }
            (Numeric::Finite(_), Numeric::Infinity { .. }) => Ok(self.clone()),
            _ => Ok(Numeric::NaN),
        }
    }

    /// `round(n, s)`: half away from zero; the result has scale `max(s, 0)`.
    #[must_use]
    pub fn round(&self, s: i64) -> Numeric {
        match self {
            Numeric::Finite(d) => {
                Numeric::Finite(d.round(s.clamp(-RESULT_SCALE_MAX, RESULT_SCALE_MAX)))
            }
            other => other.clone(),
        }
    }

    /// `trunc(n, s)`: towards zero; the result has scale `max(s, 0)`.
    #[must_use]
    pub fn trunc(&self, s: i64) -> Numeric {
        match self {
            Numeric::Finite(d) => {
                Numeric::Finite(d.rescale(s.clamp(-RESULT_SCALE_MAX, RESULT_SCALE_MAX), false))
            }
            other => other.clone(),
        }
    }

    /// `ceil` (`up`) or `floor`: scale 0.
    #[must_use]
    pub fn ceil_floor(&self, up: bool) -> Numeric {
        match self {
            Numeric::Finite(d) => {
                let t = d.rescale(0, false);
                let exact = t.cmp_value(d) == Ordering::Equal;
                if exact || d.negative == up {
                    Numeric::Finite(t)
                } else {
                    let digits = increment(&t.digits);
                    Numeric::Finite(Decimal::new(d.negative, digits, 0))
                }
            }
            other => other.clone(),
        }
    }

    /// -1, 0 or 1 (scale 0); NaN for NaN.
    #[must_use]
    pub fn sign(&self) -> Numeric {
        match self {
            Numeric::NaN => Numeric::NaN,
            Numeric::Infinity { negative } => Numeric::from_i64(if *negative { -1 } else { 1 }),
            Numeric::Finite(d) if d.is_zero() => Numeric::zero(),
            Numeric::Finite(d) => Numeric::from_i64(if d.negative { -1 } else { 1 }),
        }
    }

    /// `sqrt`, with PostgreSQL's result scale.
    pub fn sqrt(&self) -> SqlResult<Numeric> {
        let d = match self {
            Numeric::NaN => return Ok(Numeric::NaN),
            Numeric::Infinity { negative: false } => return Ok(self.clone()),
            Numeric::Infinity { negative: true } => {
                return Err(SqlError::InvalidArgumentForPower(
                    "cannot take square root of a negative number".into(),
                ));
            }
            Numeric::Finite(d) => d,
        };
        if d.negative {
            return Err(SqlError::InvalidArgumentForPower(
                "cannot take square root of a negative number".into(),
            ));
        }
        let (w, _) = d.base10000_lead();
        let sweight = (w + 1) * 4 / 2 - 1;
        let rscale = (MIN_SIG_DIGITS - sweight)
            .max(i64::from(d.scale))
            .clamp(0, DISPLAY_SCALE_MAX);
        self.sqrt_at(rscale)
    }

    /// The square root rounded to `rscale` digits after the point (PostgreSQL's `sqrt_var`,
    /// which `stddev` calls at its variance's scale).
    pub fn sqrt_at(&self, rscale: i64) -> SqlResult<Numeric> {
        let d = match self {
            Numeric::NaN => return Ok(Numeric::NaN),
            Numeric::Infinity { negative: false } => return Ok(self.clone()),
            Numeric::Finite(d) if !d.negative => d,
            _ => {
                return Err(SqlError::InvalidArgumentForPower(
                    "cannot take square root of a negative number".into(),
                ));
            }
        };
        let rscale = rscale.clamp(0, DISPLAY_SCALE_MAX);
        // sqrt(m × 10^-s) to rscale + 1 digits: isqrt(m × 10^(2(rscale+1) - s)), with s made
        // even by one more digit when needed.
        let target = 2 * (rscale + 1);
        let k = target - i64::from(d.scale);
        let n = if k >= 0 {
            shift(d.digits.clone(), usize::try_from(k).unwrap_or(0))
        } else {
            d.rescale(target, false).digits
        };
        let root = mag_isqrt(&n);
        let r = Decimal::new(false, root, u32::try_from(rscale + 1).unwrap_or(0));
        Ok(Numeric::Finite(r.round(rscale)))
    }

    /// `base ^ exp` for an integral exponent (scale at least 16, as PostgreSQL); other
    /// exponents are not supported.
    pub fn power(&self, exp: &Numeric) -> SqlResult<Numeric> {
        let (Numeric::Finite(b), Numeric::Finite(e)) = (self, exp) else {
            if self.is_nan() || exp.is_nan() {
                return Ok(Numeric::NaN);
            }
            return Ok(Numeric::special_f64(self.to_f64().powf(exp.to_f64())));
        };
        let t = e.rescale(0, false);
        if t.cmp_value(e) != Ordering::Equal {
            return Err(SqlError::FeatureNotSupported(
                "numeric power with a fractional exponent".into(),
            ));
        }
        let n = mag_to_u128(&t.digits)
            .and_then(|m| i64::try_from(m).ok())
            .ok_or_else(overflow)?;
        if b.is_zero() && t.negative {
            return Err(SqlError::InvalidArgumentForPower(
                "zero raised to a negative power is undefined".into(),
            ));
        }
        let rscale = MIN_SIG_DIGITS
            .max(i64::from(b.scale))
            .clamp(0, DISPLAY_SCALE_MAX);
        if b.is_zero() {
            return Ok(Numeric::Finite(
                Decimal::new(false, if n == 0 { vec![1] } else { Vec::new() }, 0)
                    .rescale(rscale, false),
            ));
        }
        // Bound the work: the result's digit count is about n × digits of the base.
        let approx = (b.digits.len() as i64).saturating_mul(n);
        if approx > (INTEGER_DIGITS_MAX as i64) * 2 {
            return Err(overflow());
        }
        let mut acc = Decimal::new(false, vec![1], 0);
        let mut base = b.clone();
        let mut k = n;
        while k > 0 {
            if k & 1 == 1 {
                acc = Decimal::new(
                    acc.negative != base.negative,
                    mag_mul(&acc.digits, &base.digits),
                    acc.scale + base.scale,
                );
            }
            k >>= 1;
            if k > 0 {
                base = Decimal::new(false, mag_mul(&base.digits, &base.digits), base.scale * 2);
            }
        }
        let result = if t.negative {
            div_rounded(&Decimal::new(false, vec![1], 0), &acc, rscale)?
        } else {
            acc.round(rscale)
        };
        Ok(Numeric::Finite(result.checked()?))
    }

    /// Applies a `numeric(precision, scale)` type modifier: rounds to the scale and refuses a
    /// value with more integer digits than `precision - scale`.
    pub fn apply_typmod(&self, precision: i32, scale: i32) -> SqlResult<Numeric> {
        let d = match self {
            Numeric::NaN => return Ok(Numeric::NaN),
            Numeric::Infinity { .. } => {
                return Err(SqlError::NumericFieldOverflow {
                    detail: format!(
                        "A field with precision {precision}, scale {scale} cannot hold an infinite value."
                    ),
                });
            }
            Numeric::Finite(d) => d.round(i64::from(scale)),
        };
        let max_digits = precision - scale;
        let int_digits = if d.is_zero() {
            0
        } else {
            // Decimal exponent of the leading digit, plus one.
            d.digits.len() as i64 - i64::from(d.scale)
        };
        if int_digits > i64::from(max_digits) {
            return Err(SqlError::NumericFieldOverflow {
                detail: format!(
                    "A field with precision {precision}, scale {scale} must round to an absolute value less than {}{}.",
                    if max_digits != 0 { "10^" } else { "" },
                    if max_digits != 0 { max_digits } else { 1 }
                ),
            });
        }
        Ok(Numeric::Finite(d))
    }

    /// Row encoding: kind, then for a finite value its scale and digits two to a byte.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Numeric::NaN => out.put_u8(2),
            Numeric::Infinity { negative } => out.put_u8(if *negative { 4 } else { 3 }),
            Numeric::Finite(d) => {
                out.put_u8(u8::from(d.negative));
                out.put_u16(u16::try_from(d.scale).unwrap_or(u16::MAX));
                out.put_u32(d.digits.len() as u32);
                for pair in d.digits.chunks(2) {
                    let hi = pair[0];
                    let lo = pair.get(1).copied().unwrap_or(0);
                    out.put_u8((hi << 4) | lo);
                }
            }
        }
    }

    /// Reads what [`Numeric::encode`] wrote.
    pub fn decode(r: &mut Reader<'_>) -> DecodeResult<Numeric> {
        Ok(match r.u8()? {
            2 => Numeric::NaN,
            3 => Numeric::Infinity { negative: false },
            4 => Numeric::Infinity { negative: true },
            k @ (0 | 1) => {
                let scale = u32::from(r.u16()?);
                let n = r.count((INTEGER_DIGITS_MAX + SCALE_MAX as usize) as u32)? as usize;
                let mut digits = Vec::with_capacity(n);
                for _ in 0..n.div_ceil(2) {
                    let b = r.u8()?;
                    let (hi, lo) = (b >> 4, b & 0x0f);
                    if hi > 9 || lo > 9 {
                        return Err(DecodeError("bad numeric digit".into()));
                    }
                    digits.push(hi);
                    digits.push(lo);
                }
                digits.truncate(n);
                if scale > SCALE_MAX {
                    return Err(DecodeError("numeric scale out of range".into()));
                }
                Numeric::Finite(Decimal::new(k == 1, digits, scale))
            }
            _ => return Err(DecodeError("unknown numeric kind".into())),
        })
    }

    /// Memcomparable key: byte order is numeric order, and equal values (`1.5`, `1.50`) have
    /// equal keys. See docs/formats.md.
    pub fn encode_key(&self, out: &mut Vec<u8>) {
        match self {
            Numeric::Infinity { negative: true } => out.push(0x01),
            Numeric::NaN => out.push(0x06),
            Numeric::Infinity { negative: false } => out.push(0x05),
            Numeric::Finite(d) if d.is_zero() => out.push(0x03),
            Numeric::Finite(d) => {
                // Significant digits without trailing zeros, and the decimal exponent of the
                // first: value = 0.d1d2… × 10^exp.
                let sig_len =
                    d.digits.len() - d.digits.iter().rev().take_while(|x| **x == 0).count();
                let exp = d.digits.len() as i64 - i64::from(d.scale);
                let exp = i32::try_from(exp).unwrap_or(i32::MAX);
                let flip = if d.negative { 0xff } else { 0x00 };
                out.push(if d.negative { 0x02 } else { 0x04 });
                let e = ((exp as u32) ^ (1 << 31)).to_be_bytes();
                out.extend(e.iter().map(|b| b ^ flip));
                out.extend(d.digits[..sig_len].iter().map(|x| (x + 1) ^ flip));
                out.push(flip);
            }
        }
    }

    /// Reads a key written by [`encode_key`](Numeric::encode_key) from the front of `r`: the
    /// value at the least scale that holds it (a key has no display scale: `1.50` reads back as
    /// `1.5`). `None` for bytes no key has.
    pub fn decode_key(r: &mut &[u8]) -> Option<Numeric> {
        let (&class, rest) = r.split_first()?;
        *r = rest;
        let negative = match class {
            0x01 => return Some(Numeric::Infinity { negative: true }),
            0x03 => return Some(Numeric::zero()),
            0x05 => return Some(Numeric::Infinity { negative: false }),
            0x06 => return Some(Numeric::NaN),
            0x02 => true,
            0x04 => false,
            _ => return None,
        };
        let flip = if negative { 0xff } else { 0x00 };
        let (e, rest) = r.split_first_chunk::<4>()?;
        *r = rest;
        let exp = i64::from((u32::from_be_bytes(e.map(|b| b ^ flip)) ^ (1 << 31)) as i32);
        let mut digits = Vec::new();
        loop {
            let (&b, rest) = r.split_first()?;
            *r = rest;
            match b ^ flip {
                0 => break,
                d @ 1..=10 if digits.len() < INTEGER_DIGITS_MAX + SCALE_MAX as usize => {
                    digits.push(d - 1);
                }
                _ => return None,
            }
        }
        // A key's digits are significant: a first digit 0 or none at all is no key.
        if digits.first().is_none_or(|d| *d == 0) {
            return None;
        }
        // value = 0.d1d2…dn × 10^exp = d1d2…dn × 10^(exp − n)
        let shift = exp - digits.len() as i64;
        if shift > INTEGER_DIGITS_MAX as i64 || -shift > i64::from(SCALE_MAX) {
            return None;
        }
        let scale = if shift >= 0 {
            digits.extend(std::iter::repeat_n(0, shift as usize));
            0
        } else {
            (-shift) as u32
        };
        Some(Numeric::Finite(Decimal::new(negative, digits, scale)))
    }

    /// PostgreSQL's binary wire form.
    #[must_use]
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let (sign, d) = match self {
            Numeric::NaN => (0xC000u16, None),
            Numeric::Infinity { negative: false } => (0xD000, None),
            Numeric::Infinity { negative: true } => (0xF000, None),
            Numeric::Finite(d) => (if d.negative { 0x4000 } else { 0 }, Some(d)),
        };
        let Some(d) = d else {
            out.extend_from_slice(&0i16.to_be_bytes());
            out.extend_from_slice(&0i16.to_be_bytes());
            out.extend_from_slice(&sign.to_be_bytes());
            // PostgreSQL sends its header's scale bits: 32 for the infinities, 0 for NaN.
            let dscale: u16 = if sign == 0xC000 { 0 } else { 0x20 };
            out.extend_from_slice(&dscale.to_be_bytes());
            return out;
        };
        // Pad the integer part on the left and the fraction on the right to whole groups.
        let int_len = d.integer_digits();
        let frac_len = d.scale as usize;
        let int_pad = (4 - int_len % 4) % 4;
        let frac_pad = (4 - frac_len % 4) % 4;
        let mut all: Vec<u8> = vec![0; int_pad];
        // Digits of the integer part and fraction, the fraction zero-extended to the scale.
        let total = int_len + frac_len;
        let lead_zeros = total - d.digits.len().min(total);
        all.extend(std::iter::repeat_n(0, lead_zeros));
        all.extend_from_slice(&d.digits);
        all.extend(std::iter::repeat_n(0, frac_pad));
        let groups: Vec<u16> = all
            .chunks(4)
            .map(|c| c.iter().fold(0u16, |a, x| a * 10 + u16::from(*x)))
            .collect();
        let int_groups = (int_len + int_pad) / 4;
        // Strip leading and trailing zero groups, adjusting the weight.
        let first = groups.iter().position(|g| *g != 0);
        let (digits, weight) = match first {
            None => (Vec::new(), 0i64),
            Some(f) => {
                let last = groups.iter().rposition(|g| *g != 0).unwrap_or(f);
                (groups[f..=last].to_vec(), int_groups as i64 - 1 - f as i64)
            }
        };
        out.extend_from_slice(&(digits.len() as i16).to_be_bytes());
        out.extend_from_slice(&(weight as i16).to_be_bytes());
        out.extend_from_slice(&sign.to_be_bytes());
        out.extend_from_slice(&(d.scale as u16).to_be_bytes());
        for g in digits {
            out.extend_from_slice(&g.to_be_bytes());
        }
        out
    }

    /// Reads PostgreSQL's binary wire form; `None` when malformed.
    #[must_use]
    pub fn from_wire(b: &[u8]) -> Option<Numeric> {
        if b.len() < 8 {
            return None;
        }
        let ndigits = usize::try_from(i16::from_be_bytes([b[0], b[1]])).ok()?;
        let weight = i64::from(i16::from_be_bytes([b[2], b[3]]));
        let sign = u16::from_be_bytes([b[4], b[5]]);
        let dscale = u32::from(u16::from_be_bytes([b[6], b[7]]));
        if ndigits > WIRE_DIGITS_MAX || b.len() != 8 + 2 * ndigits || dscale > SCALE_MAX {
            return None;
        }
        match sign {
            0xC000 => return Some(Numeric::NaN),
            0xD000 => return Some(Numeric::Infinity { negative: false }),
            0xF000 => return Some(Numeric::Infinity { negative: true }),
            0 | 0x4000 => {}
            _ => return None,
        }
        let mut digits = Vec::with_capacity(ndigits * 4);
        for i in 0..ndigits {
            let g = u16::from_be_bytes([b[8 + 2 * i], b[9 + 2 * i]]);
            if g >= 10_000 {
                return None;
            }
            digits.extend_from_slice(&[
                (g / 1000) as u8,
                (g / 100 % 10) as u8,
                (g / 10 % 10) as u8,
                (g % 10) as u8,
            ]);
        }
        // The digits are 10^(4(weight+1)-1) … 10^(4(weight+1-ndigits)); as an integer times
        // 10^(4(weight+1-ndigits)).
        let low_exp = 4 * (weight + 1 - ndigits as i64);
        let d = if low_exp >= 0 {
            Decimal::new(
                sign == 0x4000,
                shift(digits, usize::try_from(low_exp).ok()?),
                0,
            )
        } else {
            Decimal::new(sign == 0x4000, digits, u32::try_from(-low_exp).ok()?)
        };
        // Display at exactly dscale (rounding away digits past it, as PostgreSQL's receive
        // does for a value sent with more digits than its scale).
        Some(Numeric::Finite(d.round(i64::from(dscale))))
    }
}

/// `a / b` rounded (half away from zero) to `s` decimals; `b` is non-zero.
fn div_rounded(a: &Decimal, b: &Decimal, s: i64) -> SqlResult<Decimal> {
    // |a/b| × 10^(s+1) = ma × 10^(sb - sa + s + 1) / mb
    let k = i64::from(b.scale) - i64::from(a.scale) + s + 1;
    let (num, den) = if k >= 0 {
        (
            shift(a.digits.clone(), usize::try_from(k).unwrap_or(0)),
            b.digits.clone(),
        )
    } else {
        (
            a.digits.clone(),
            shift(b.digits.clone(), usize::try_from(-k).unwrap_or(0)),
        )
    };
    let (q, _) = mag_divmod(&num, &den);
    let q = Decimal::new(
        a.negative != b.negative,
        q,
        u32::try_from(s + 1).unwrap_or(0),
    );
    q.round(s).checked()
}

impl fmt::Display for Numeric {
    /// PostgreSQL's text output: plain notation, exactly `scale` decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = match self {
            Numeric::NaN => return f.write_str("NaN"),
            Numeric::Infinity { negative: false } => return f.write_str("Infinity"),
            Numeric::Infinity { negative: true } => return f.write_str("-Infinity"),
            Numeric::Finite(d) => d,
        };
        let mut s = String::with_capacity(d.digits.len() + 3);
        if d.negative {
            s.push('-');
        }
        let scale = d.scale as usize;
        let n = d.digits.len();
        if n <= scale {
            s.push('0');
        } else {
            s.extend(d.digits[..n - scale].iter().map(|x| char::from(b'0' + x)));
        }
        if scale > 0 {
            s.push('.');
            s.extend(std::iter::repeat_n('0', scale.saturating_sub(n)));
            let from = n.saturating_sub(scale);
            s.extend(d.digits[from..].iter().map(|x| char::from(b'0' + x)));
        }
        f.write_str(&s)
    }
}

/// Parses `numeric(p[, s])` modifiers as PostgreSQL checks them; returns (precision, scale).
pub fn typmod(precision: i64, scale: i64) -> SqlResult<(i32, i32)> {
    if !(1..=i64::from(PRECISION_MAX)).contains(&precision) {
        return Err(SqlError::InvalidParameterValue(format!(
            "NUMERIC precision {precision} must be between 1 and {PRECISION_MAX}"
        )));
    }
    if !(i64::from(TYPMOD_SCALE_MIN)..=i64::from(TYPMOD_SCALE_MAX)).contains(&scale) {
        return Err(SqlError::InvalidParameterValue(format!(
            "NUMERIC scale {scale} must be between {TYPMOD_SCALE_MIN} and {TYPMOD_SCALE_MAX}"
        )));
    }
    Ok((precision as i32, scale as i32))
}

/// PostgreSQL's `atttypmod` of `numeric(p, s)`: `((p << 16) | (s & 0x7ff)) + 4`.
#[must_use]
pub fn typmod_code(precision: i32, scale: i32) -> i32 {
    ((precision << 16) | (scale & 0x7ff)) + 4
}

/// The (precision, scale) of a `numeric` typmod code, `None` for -1.
#[must_use]
pub fn typmod_parts(code: i32) -> Option<(i32, i32)> {
    if code < 4 {
        return None;
    }
    let t = code - 4;
    let p = (t >> 16) & 0xffff;
    // The scale is an 11-bit two's complement field.
    let s = ((t & 0x7ff) ^ 0x400) - 0x400;
    Some((p, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Numeric {
        Numeric::parse(s).unwrap()
    }

    fn t(x: SqlResult<Numeric>) -> String {
        x.unwrap().to_string()
    }

    #[test]
    fn text_forms_keep_the_scale() {
        for (i, o) in [
            ("1.50", "1.50"),
            ("  -0.00 ", "0.00"),
            ("-0", "0"),
            ("007.0100", "7.0100"),
            (".5", "0.5"),
            ("5.", "5"),
            ("1e3", "1000"),
            ("1.5e-3", "0.0015"),
            ("-12.5E+1", "-125"),
            ("nan", "NaN"),
            ("-inf", "-Infinity"),
            ("+Infinity", "Infinity"),
            ("0.000001", "0.000001"),
        ] {
            assert_eq!(n(i).to_string(), o, "{i}");
        }
        for bad in ["", "abc", "1.2.3", "1e", "--1", "1 2", "e5", "."] {
            assert!(Numeric::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(n("1e1001").to_string().len(), 1002);
        assert!(Numeric::parse("1e131072").is_err());
        assert_eq!(n("1e131071").to_string().len(), 131_072);
        assert!(Numeric::parse("1e-16384").is_err());
        assert_eq!(n("1e-16383").to_string().len(), 16_385);
    }

    #[test]
    fn arithmetic_scales_follow_postgresql() {
        assert_eq!(t(n("1.5").add(&n("2.25"))), "3.75");
        assert_eq!(t(n("1.50").sub(&n("1.5"))), "0.00");
        assert_eq!(t(n("1.5").mul(&n("2.25"))), "3.375");
        assert_eq!(t(n("10").div(&n("4"))), "2.5000000000000000");
        assert_eq!(t(n("1").div(&n("3"))), "0.33333333333333333333");
        assert_eq!(t(n("100000").div(&n("3"))), "33333.333333333333");
        assert_eq!(t(n("0.001").div(&n("7"))), "0.00014285714285714286");
        assert_eq!(t(n("1").div(&n("0.0003"))), "3333.3333333333333333");
        assert_eq!(t(n("2").div(&n("3"))), "0.66666666666666666667");
        assert_eq!(t(n("-2").div(&n("3"))), "-0.66666666666666666667");
        assert_eq!(t(n("5.5").rem(&n("2"))), "1.5");
        assert_eq!(t(n("-5.5").rem(&n("2"))), "-1.5");
        assert_eq!(t(n("5").rem(&n("1.30"))), "1.10");
        assert!(matches!(
            n("1").div(&n("0.00")),
            Err(SqlError::DivisionByZero)
        ));
        assert_eq!(t(n("Infinity").sub(&n("Infinity"))), "NaN");
        assert_eq!(t(n("1").div(&n("Infinity"))), "0");
        assert_eq!(t(n("5").rem(&n("Infinity"))), "5");
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(n("2.5").round(0).to_string(), "3");
        assert_eq!(n("-2.5").round(0).to_string(), "-3");
        assert_eq!(n("1234.5678").round(-2).to_string(), "1200");
        assert_eq!(n("1234.5678").round(2).to_string(), "1234.57");
        assert_eq!(n("9.995").round(2).to_string(), "10.00");
        assert_eq!(n("0.5").round(-1).to_string(), "0");
        assert_eq!(n("-1.99").trunc(0).to_string(), "-1");
        assert_eq!(n("1234.5678").trunc(-2).to_string(), "1200");
        assert_eq!(n("1.5").round(3).to_string(), "1.500");
        assert_eq!(n("-1.5").ceil_floor(true).to_string(), "-1");
        assert_eq!(n("-1.5").ceil_floor(false).to_string(), "-2");
        assert_eq!(n("1.2").ceil_floor(true).to_string(), "2");
        assert_eq!(n("-0.2").ceil_floor(true).to_string(), "0");
        assert_eq!(n("3.000").ceil_floor(true).to_string(), "3");
    }

    #[test]
    fn typmods_round_and_refuse_overflow() {
        assert_eq!(n("12.345").apply_typmod(5, 2).unwrap().to_string(), "12.35");
        assert_eq!(
            n("123.456").apply_typmod(10, -2).unwrap().to_string(),
            "100"
        );
        let e = n("12345.678").apply_typmod(5, 2).unwrap_err();
        assert_eq!(e.to_string(), "numeric field overflow");
        assert!(matches!(e, SqlError::NumericFieldOverflow { detail }
            if detail == "A field with precision 5, scale 2 must round to an absolute value less than 10^3."));
        assert!(
            n("999.995").apply_typmod(5, 2).is_err(),
            "rounds up past the precision"
        );
        assert!(n("0.5").apply_typmod(2, 2).is_ok());
        assert!(n("1").apply_typmod(2, 2).is_err());
        assert_eq!(typmod_parts(typmod_code(10, 2)), Some((10, 2)));
        assert_eq!(typmod_parts(typmod_code(10, -2)), Some((10, -2)));
        assert_eq!(typmod_code(10, 2), 655_366);
    }

    #[test]
    fn huge_values_and_limits() {
        let big = format!("1{}", "0".repeat(1000));
        assert_eq!(n("1e1000").to_string(), big);
        let sq = n(&big).mul(&n(&big)).unwrap();
        assert_eq!(sq.to_string().len(), 2001);
        let x = n("99999999999999999999999999999999999999.5");
        assert_eq!(x.to_i64_rounded("bigint").unwrap(), None);
        assert_eq!(
            n("-9223372036854775808").to_i64_rounded("bigint").unwrap(),
            Some(i64::MIN)
        );
        assert_eq!(n("2.5").to_i64_rounded("bigint").unwrap(), Some(3));
        assert!(n("NaN").to_i64_rounded("bigint").is_err());
        assert!(n(&format!("1e{}", 1000)).power(&n("200")).is_err());
    }

    #[test]
    fn sqrt_and_power_scales() {
        assert_eq!(t(n("2").sqrt()), "1.414213562373095");
        assert_eq!(t(n("100").sqrt()), "10.000000000000000");
        assert_eq!(t(n("1e10").sqrt()), "100000.00000000000");
        assert_eq!(t(n("2").power(&n("10"))), "1024.0000000000000000");
        assert_eq!(t(n("2.5").power(&n("3"))), "15.6250000000000000");
        assert_eq!(t(n("2").power(&n("-2"))), "0.2500000000000000");
        assert!(n("-1").sqrt().is_err());
    }

    #[test]
    fn float_conversion_uses_fifteen_digits() {
        assert_eq!(Numeric::from_f64(0.1, 15).to_string(), "0.1");
        assert_eq!(
            Numeric::from_f64(1.0 / 3.0, 15).to_string(),
            "0.333333333333333"
        );
        assert_eq!(
            Numeric::from_f64(1e20, 15).to_string(),
            "100000000000000000000"
        );
        assert_eq!(Numeric::from_f64(1.5e-7, 15).to_string(), "0.00000015");
        assert_eq!(Numeric::from_f64(-0.0, 15).to_string(), "0");
        assert_eq!(n("1.25").to_f64(), 1.25);
    }

    #[test]
    fn comparisons_ignore_scale_and_order_specials() {
        assert_eq!(n("1.5").total_cmp(&n("1.50")), Ordering::Equal);
        assert_eq!(n("-2").total_cmp(&n("-10")), Ordering::Greater);
        assert_eq!(n("NaN").total_cmp(&n("Infinity")), Ordering::Greater);
        assert_eq!(n("-Infinity").total_cmp(&n("-1e100")), Ordering::Less);
        assert_eq!(n("NaN").total_cmp(&n("NaN")), Ordering::Equal);
    }

    #[test]
    fn keys_sort_like_values() {
        let vals = [
            "-Infinity",
            "-1000",
            "-999.9",
            "-1.5",
            "-1.25",
            "-1",
            "-0.001",
            "0",
            "0.001",
            "0.0011",
            "1",
            "1.25",
            "1.5",
            "9.99",
            "10",
            "1e20",
            "Infinity",
            "NaN",
        ];
        let keys: Vec<Vec<u8>> = vals
            .iter()
            .map(|v| {
                let mut k = Vec::new();
                n(v).encode_key(&mut k);
                k
            })
            .collect();
        for w in keys.windows(2).zip(vals.windows(2)) {
            assert!(w.0[0] < w.0[1], "{:?}", w.1);
        }
        let key = |s: &str| {
            let mut k = Vec::new();
            n(s).encode_key(&mut k);
            k
        };
        assert_eq!(key("1.5"), key("1.500"));
        assert_eq!(key("0.00"), key("0"));
        assert_eq!(key("100"), key("100.0"));
    }

    #[test]
    fn row_and_wire_forms_round_trip() {
        for s in [
            "0",
            "0.00",
            "1.50",
            "-123456789.000000001",
            "10000",
            "0.0001",
            "NaN",
            "-Infinity",
            "123456.7",
            "1e30",
        ] {
            let v = n(s);
            let mut b = Vec::new();
            v.encode(&mut b);
            let mut r = Reader::new(&b);
            let back = Numeric::decode(&mut r).unwrap();
            assert_eq!(back.to_string(), v.to_string(), "row {s}");
            let w = v.to_wire();
            assert_eq!(
                Numeric::from_wire(&w).unwrap().to_string(),
                v.to_string(),
                "wire {s}"
            );
        }
        // 1.50: ndigits 2, weight 0, sign +, dscale 2, digits [1, 5000].
        assert_eq!(
            n("1.50").to_wire(),
            vec![0, 2, 0, 0, 0, 0, 0, 2, 0, 1, 0x13, 0x88]
        );
        // 10000: ndigits 1, weight 1, digit [1].
        assert_eq!(n("10000").to_wire(), vec![0, 1, 0, 1, 0, 0, 0, 0, 0, 1]);
        assert!(Numeric::from_wire(&[0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10]).is_none());
    }
}
