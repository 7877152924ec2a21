//! SQL types and values, with PostgreSQL's type OIDs, text forms and comparison rules.

use crate::error::{SqlError, SqlResult};
use std::cmp::Ordering;
use std::fmt::Write as _;

/// A column or expression type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataType {
    Bool,
    Int4,
    Int8,
    Float8,
    Text,
}

impl DataType {
    /// PostgreSQL's type OID.
    #[must_use]
    pub fn oid(self) -> u32 {
        match self {
            DataType::Bool => 16,
            DataType::Int8 => 20,
            DataType::Int4 => 23,
            DataType::Text => 25,
            DataType::Float8 => 701,
        }
    }

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            DataType::Bool => "boolean",
            DataType::Int4 => "integer",
            DataType::Int8 => "bigint",
            DataType::Float8 => "double precision",
            DataType::Text => "text",
        }
    }

    #[must_use]
    pub fn is_numeric(self) -> bool {
        matches!(self, DataType::Int4 | DataType::Int8 | DataType::Float8)
    }

    fn tag(self) -> u8 {
        match self {
            DataType::Bool => 1,
            DataType::Int4 => 2,
            DataType::Int8 => 3,
            DataType::Float8 => 4,
            DataType::Text => 5,
        }
    }

    pub(crate) fn from_tag(t: u8) -> Option<DataType> {
        Some(match t {
            1 => DataType::Bool,
            2 => DataType::Int4,
            3 => DataType::Int8,
            4 => DataType::Float8,
            5 => DataType::Text,
            _ => return None,
        })
    }

    pub(crate) fn to_tag(self) -> u8 {
        self.tag()
    }
}

/// A value. Integers of both widths are held as i64; the column or expression type says which.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl Value {
    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// PostgreSQL's text output form.
    #[must_use]
    pub fn to_text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Bool(b) => Some(if *b { "t" } else { "f" }.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(format_float8(*f)),
            Value::Text(s) => Some(s.clone()),
        }
    }

    /// Converts to `ty` as an assignment or explicit cast does.
    pub fn cast(self, ty: DataType) -> SqlResult<Value> {
        Ok(match (self, ty) {
            (Value::Null, _) => Value::Null,
            (Value::Bool(b), DataType::Bool) => Value::Bool(b),
            (Value::Bool(b), DataType::Text) => {
                Value::Text(if b { "true" } else { "false" }.into())
            }
            (Value::Bool(b), DataType::Int4 | DataType::Int8) => Value::Int(i64::from(b)),
            (Value::Bool(_), DataType::Float8) => {
                return Err(SqlError::DatatypeMismatch(
                    "cannot cast type boolean to double precision".into(),
                ));
            }
            (Value::Int(i), DataType::Int4) => {
                if i32::try_from(i).is_err() {
                    return Err(SqlError::NumericOutOfRange("integer".into()));
                }
                Value::Int(i)
            }
            (Value::Int(i), DataType::Int8) => Value::Int(i),
            (Value::Int(i), DataType::Float8) => Value::Float(i as f64),
            (Value::Int(i), DataType::Bool) => Value::Bool(i != 0),
            (Value::Int(i), DataType::Text) => Value::Text(i.to_string()),
            (Value::Float(f), DataType::Float8) => Value::Float(f),
            (Value::Float(f), DataType::Int4 | DataType::Int8) => {
                let r = f.round_ties_even();
                let (lo, hi, name) = if ty == DataType::Int4 {
                    (f64::from(i32::MIN), f64::from(i32::MAX), "integer")
                } else {
                    (i64::MIN as f64, i64::MAX as f64, "bigint")
                };
                if !(r >= lo && r <= hi) {
                    return Err(SqlError::NumericOutOfRange(name.into()));
                }
                Value::Int(r as i64)
            }
            (Value::Float(f), DataType::Text) => Value::Text(format_float8(f)),
            (Value::Float(_), DataType::Bool) => {
                return Err(SqlError::DatatypeMismatch(
                    "cannot cast type double precision to boolean".into(),
                ));
            }
            (Value::Text(s), ty) => parse_text(&s, ty)?,
        })
    }

    /// SQL comparison; `None` when either side is NULL.
    pub fn compare(&self, other: &Value) -> SqlResult<Option<Ordering>> {
        Ok(Some(match (self, other) {
            (Value::Null, _) | (_, Value::Null) => return Ok(None),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Float(a), Value::Float(b)) => cmp_f64(*a, *b),
            (Value::Int(a), Value::Float(b)) => cmp_f64(*a as f64, *b),
            (Value::Float(a), Value::Int(b)) => cmp_f64(*a, *b as f64),
            (Value::Text(a), Value::Text(b)) => a.cmp(b),
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (a, b) => {
                return Err(SqlError::DatatypeMismatch(format!(
                    "cannot compare {} with {}",
                    a.kind_name(),
                    b.kind_name()
                )));
            }
        }))
    }

    /// Total order used by ORDER BY: NULLs last ascending, as PostgreSQL sorts them.
    #[must_use]
    pub fn sort_cmp(&self, other: &Value) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Null, _) => Ordering::Greater,
            (_, Value::Null) => Ordering::Less,
            _ => self
                .compare(other)
                .ok()
                .flatten()
                .unwrap_or(Ordering::Equal),
        }
    }

    fn kind_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "double precision",
            Value::Text(_) => "text",
        }
    }
}

/// PostgreSQL orders NaN above every other float and equal to itself.
fn cmp_f64(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// float8 output with the shortest representation that round-trips (extra_float_digits = 1, the
/// PostgreSQL 12+ default).
#[must_use]
pub fn format_float8(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let exp = f.abs().log10().floor() as i32;
    if (-4..15).contains(&exp) {
        let mut s = String::new();
        let _ = write!(s, "{f}");
        s
    } else {
        // Shortest round-trip digits in exponent form, PostgreSQL style: 1e+16, 1.5e-07.
        let s = format!("{f:e}");
        let (mant, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        format!("{mant}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    }
}

/// Parses PostgreSQL's text input form of `ty`.
pub fn parse_text(s: &str, ty: DataType) -> SqlResult<Value> {
    let bad = || SqlError::InvalidTextRepresentation {
        ty: ty.name().into(),
        value: s.into(),
    };
    let t = s.trim();
    Ok(match ty {
        DataType::Text => Value::Text(s.to_string()),
        DataType::Int4 => {
            let v: i64 = t.parse().map_err(|_| bad())?;
            if i32::try_from(v).is_err() {
                return Err(SqlError::NumericOutOfRange(format!(
                    "value \"{s}\" is out of range for type integer"
                )));
            }
            Value::Int(v)
        }
        DataType::Int8 => Value::Int(t.parse().map_err(|_| bad())?),
        DataType::Float8 => Value::Float(match t.to_ascii_lowercase().as_str() {
            "nan" => f64::NAN,
            "infinity" | "+infinity" | "inf" => f64::INFINITY,
            "-infinity" | "-inf" => f64::NEG_INFINITY,
            _ => t.parse().map_err(|_| bad())?,
        }),
        DataType::Bool => Value::Bool(match t.to_ascii_lowercase().as_str() {
            "t" | "true" | "yes" | "y" | "on" | "1" => true,
            "f" | "false" | "no" | "n" | "off" | "0" => false,
            _ => return Err(bad()),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_text_matches_postgresql() {
        assert_eq!(format_float8(1.5), "1.5");
        assert_eq!(format_float8(0.1), "0.1");
        assert_eq!(format_float8(100.0), "100");
        assert_eq!(format_float8(1e15), "1e+15");
        assert_eq!(format_float8(0.0001), "0.0001");
        assert_eq!(format_float8(0.00001), "1e-05");
        assert_eq!(format_float8(1.5e-7), "1.5e-07");
        assert_eq!(format_float8(f64::NAN), "NaN");
    }

    #[test]
    fn int4_range_is_checked() {
        assert!(parse_text("2147483648", DataType::Int4).is_err());
        assert_eq!(parse_text(" 42 ", DataType::Int4).unwrap(), Value::Int(42));
        assert!(parse_text("4x", DataType::Int8).is_err());
    }
}
