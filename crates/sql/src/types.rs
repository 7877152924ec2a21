//! SQL types and values, with PostgreSQL's type OIDs, text forms and comparison rules.
//!
//! A `timestamp` (without time zone) is held as microseconds since the Unix epoch, in the
//! proleptic Gregorian calendar; its text form is PostgreSQL's ISO style
//! (`2024-05-01 12:34:56.123456`, trailing zero fractions dropped). The binary wire form counts
//! from 2000-01-01, PostgreSQL's epoch: [`PG_EPOCH_OFFSET_US`] converts.
//!
//! `numeric` values are [`Numeric`]s (see `numeric.rs`): exact decimals that keep their display
//! scale. Mixed arithmetic resolves as PostgreSQL's implicit casts do: an integer meets a
//! numeric as a numeric, a numeric meets a float as a float. A `numeric(p, s)` type modifier is
//! applied by [`apply_typmod`], for a column on assignment and for a cast; so is the precision
//! of `time(p)`, `timetz(p)`, `timestamp(p)`, `timestamptz(p)` and `interval(p)`, which rounds
//! the value to p fractional second digits (see `datetime::round_micros`).
//!
//! `smallint` values are [`Value::Int`]s whose type bounds them (22003 `smallint out of range`);
//! `real` values are [`Value::Float4`]s, printed as the shortest text that reads back to the
//! same f32. real meets real as real and any other number as double precision; smallint meets
//! smallint as smallint and integer as integer, as PostgreSQL's operators resolve. The date/time
//! types live in `datetime.rs`.
//!
//! `bytea` values are byte strings, printed in PostgreSQL's hex format (`\x0102ff`, the
//! default `bytea_output`) and read in hex or escape format. `uuid` values are 128-bit numbers
//! printed in the canonical lower-case 8-4-4-4-12 form; both sort bytewise.
//!
//! `character(n)` (`bpchar`) has no [`DataType`] of its own: it is text whose values are
//! [`Value::Bpchar`]s, made by a `char(n)` column (blank-padded on assignment) or a cast to
//! `char(n)`/`bpchar`. Its trailing blanks are not significant, as in PostgreSQL: two bpchars,
//! or a bpchar and a string, compare without them, and a bpchar's key (hashing, grouping,
//! DISTINCT, index and primary keys) is its text without them, so 'a' and 'a  ' are one key
//! and a decoded key is padded back by its column's length. Casting a bpchar to another type,
//! and passing it to a function that takes text (`||`, `length`, `upper`), drops them; its output
//! (text and binary), `octet_length`, LIKE and the regular expression operators see them.
//! The static type of a bpchar expression is text; where a client can see the difference (a
//! result column's OID, `pg_typeof`) the binder knows a bpchar column or cast by its typmod.
//!
//! Every base type has a one-dimensional array type, [`DataType::Array`], whose values are
//! [`Value::Array`]s; their text and binary forms, order and functions live in `array.rs`.
//! An array casts to and from text and, element by element, to another array type.

pub use crate::datetime::Interval;
use crate::error::{SqlError, SqlResult};
pub use crate::json::Jsonb;
pub use crate::numeric::Numeric;
use std::cmp::Ordering;
use std::fmt::Write as _;

/// A column or expression type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataType {
    Bool,
    /// `smallint`: held as [`Value::Int`], its range checked.
    Int2,
    Int4,
    Int8,
    Float8,
    /// `real`: held as [`Value::Float4`].
    Float4,
    Text,
    /// `timestamp without time zone`.
    Timestamp,
    /// `numeric`: an exact decimal ([`Numeric`]).
    Numeric,
    /// `bytea`: a byte string.
    Bytea,
    /// `uuid`.
    Uuid,
    /// `date`: days since 1970-01-01 (see `datetime.rs`).
    Date,
    /// `timestamp with time zone`: µs since 1970-01-01 UTC.
    TimestampTz,
    /// `time without time zone`: µs since midnight.
    Time,
    /// `time with time zone`: µs since midnight and an offset from UTC.
    TimeTz,
    /// `interval`: months, days and µs.
    Interval,
    /// `json`: valid JSON text, kept as it was written (see `json.rs`).
    Json,
    /// `jsonb`: a normalised JSON value ([`Jsonb`]).
    Jsonb,
    /// `jsonpath`: an SQL/JSON path, held as its canonical text (see `jsonpath.rs`).
    JsonPath,
    /// A one-dimensional array of the element type (see `array.rs`), held as
    /// [`Value::Array`].
    ///
    /// The element is a `&'static` reference so that `DataType` stays `Copy` and one word
    /// wider at most: [`DataType::array_of`] hands out references to promoted constants, one
    /// per scalar type, so no array type is ever allocated. An element is never itself an
    /// array: multi-dimensional arrays are refused where they would be built.
    Array(&'static DataType),
    /// `record` (OID 2249): a composite value, held as [`Value::Record`] (see `record.rs`).
    /// Never a column's type.
    Record,
}

/// The bit a catalog type tag of an array type sets over its element's tag.
const ARRAY_TAG_BIT: u8 = 0x80;

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 00:00:00).
pub const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;

impl DataType {
    /// PostgreSQL's type OID.
    #[must_use]
    pub fn oid(self) -> u32 {
        match self {
            DataType::Bool => 16,
            DataType::Int8 => 20,
            DataType::Int2 => 21,
            DataType::Int4 => 23,
            DataType::Float4 => 700,
            DataType::Text => 25,
            DataType::Float8 => 701,
            DataType::Timestamp => 1114,
            DataType::Numeric => 1700,
            DataType::Bytea => 17,
            DataType::Uuid => 2950,
            DataType::Date => 1082,
            DataType::Time => 1083,
            DataType::TimeTz => 1266,
            DataType::TimestampTz => 1184,
            DataType::Interval => 1186,
            DataType::Json => 114,
            DataType::Jsonb => 3802,
            DataType::JsonPath => 4072,
            DataType::Array(e) => e.array_oid(),
            DataType::Record => 2249,
        }
    }

    /// The array type whose elements are of this type; an array's own (multi-dimensional
    /// arrays are not supported, so an array type is returned unchanged).
    #[must_use]
    pub fn array_of(self) -> DataType {
        DataType::Array(match self {
            DataType::Bool => &DataType::Bool,
            DataType::Int2 => &DataType::Int2,
            DataType::Int4 => &DataType::Int4,
            DataType::Int8 => &DataType::Int8,
            DataType::Float8 => &DataType::Float8,
            DataType::Float4 => &DataType::Float4,
            DataType::Text => &DataType::Text,
            DataType::Timestamp => &DataType::Timestamp,
            DataType::Numeric => &DataType::Numeric,
            DataType::Bytea => &DataType::Bytea,
            DataType::Uuid => &DataType::Uuid,
            DataType::Date => &DataType::Date,
            DataType::TimestampTz => &DataType::TimestampTz,
            DataType::Time => &DataType::Time,
            DataType::TimeTz => &DataType::TimeTz,
            DataType::Interval => &DataType::Interval,
            DataType::Json => &DataType::Json,
            DataType::Jsonb => &DataType::Jsonb,
            DataType::JsonPath => &DataType::JsonPath,
            DataType::Array(e) => e,
            DataType::Record => &DataType::Record,
        })
    }

    /// The element type of an array type.
    #[must_use]
    pub fn element(self) -> Option<DataType> {
        match self {
            DataType::Array(e) => Some(*e),
            _ => None,
        }
    }

    /// The OID of the array type over this (scalar) type, as PostgreSQL numbers them.
    #[must_use]
    pub fn array_oid(self) -> u32 {
        match self {
            DataType::Bool => 1000,
            DataType::Bytea => 1001,
            DataType::Int2 => 1005,
            DataType::Int4 => 1007,
            DataType::Text => 1009,
            DataType::Int8 => 1016,
            DataType::Float4 => 1021,
            DataType::Float8 => 1022,
            DataType::Timestamp => 1115,
            DataType::Date => 1182,
            DataType::Time => 1183,
            DataType::TimestampTz => 1185,
            DataType::Interval => 1187,
            DataType::Numeric => 1231,
            DataType::TimeTz => 1270,
            DataType::Uuid => 2951,
            DataType::Json => 199,
            DataType::Jsonb => 3807,
            DataType::JsonPath => 4073,
            DataType::Record => 2287,
            DataType::Array(e) => e.array_oid(),
        }
    }

    /// The type whose OID (scalar or array) is `oid`.
    #[must_use]
    pub fn from_oid(oid: u32) -> Option<DataType> {
        const SCALARS: [DataType; 19] = [
            DataType::Bool,
            DataType::Int2,
            DataType::Int4,
            DataType::Int8,
            DataType::Float8,
            DataType::Float4,
            DataType::Text,
            DataType::Timestamp,
            DataType::Numeric,
            DataType::Bytea,
            DataType::Uuid,
            DataType::Date,
            DataType::TimestampTz,
            DataType::Time,
            DataType::TimeTz,
            DataType::Interval,
            DataType::Json,
            DataType::Jsonb,
            DataType::JsonPath,
        ];
        SCALARS.iter().find_map(|t| {
            if t.oid() == oid {
                Some(*t)
            } else if t.array_oid() == oid {
                Some(t.array_of())
            } else {
                None
            }
        })
    }

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            DataType::Bool => "boolean",
            DataType::Int2 => "smallint",
            DataType::Int4 => "integer",
            DataType::Int8 => "bigint",
            DataType::Float4 => "real",
            DataType::Float8 => "double precision",
            DataType::Text => "text",
            DataType::Timestamp => "timestamp without time zone",
            DataType::Numeric => "numeric",
            DataType::Bytea => "bytea",
            DataType::Uuid => "uuid",
            DataType::Date => "date",
            DataType::Time => "time without time zone",
            DataType::TimeTz => "time with time zone",
            DataType::TimestampTz => "timestamp with time zone",
            DataType::Interval => "interval",
            DataType::Json => "json",
            DataType::Jsonb => "jsonb",
            DataType::JsonPath => "jsonpath",
            DataType::Record => "record",
            DataType::Array(e) => e.array_name(),
        }
    }

    /// `format_type`'s name of the array type over this type (`integer[]`).
    #[must_use]
    pub fn array_name(self) -> &'static str {
        match self {
            DataType::Bool => "boolean[]",
            DataType::Int2 => "smallint[]",
            DataType::Int4 => "integer[]",
            DataType::Int8 => "bigint[]",
            DataType::Float4 => "real[]",
            DataType::Float8 => "double precision[]",
            DataType::Text => "text[]",
            DataType::Timestamp => "timestamp without time zone[]",
            DataType::Numeric => "numeric[]",
            DataType::Bytea => "bytea[]",
            DataType::Uuid => "uuid[]",
            DataType::Date => "date[]",
            DataType::Time => "time without time zone[]",
            DataType::TimeTz => "time with time zone[]",
            DataType::TimestampTz => "timestamp with time zone[]",
            DataType::Interval => "interval[]",
            DataType::Json => "json[]",
            DataType::Jsonb => "jsonb[]",
            DataType::JsonPath => "jsonpath[]",
            DataType::Record => "record[]",
            DataType::Array(e) => e.array_name(),
        }
    }

    /// Whether this is an array type.
    #[must_use]
    pub fn is_array(self) -> bool {
        matches!(self, DataType::Array(_))
    }

    #[must_use]
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            DataType::Int2
                | DataType::Int4
                | DataType::Int8
                | DataType::Float4
                | DataType::Float8
                | DataType::Numeric
        )
    }

    fn tag(self) -> u8 {
        match self {
            DataType::Bool => 1,
            DataType::Int4 => 2,
            DataType::Int8 => 3,
            DataType::Float8 => 4,
            DataType::Text => 5,
            DataType::Timestamp => 6,
            DataType::Numeric => 7,
            DataType::Bytea => 8,
            DataType::Uuid => 9,
            DataType::Date => 10,
            DataType::TimestampTz => 11,
            DataType::Time => 12,
            DataType::Interval => 13,
            DataType::Int2 => 14,
            DataType::Float4 => 15,
            DataType::Json => 16,
            DataType::Jsonb => 17,
            DataType::TimeTz => 18,
            DataType::Record => 19,
            DataType::JsonPath => 20,
            // An array's tag is its element's with the high bit set (tags 1..=127 are
            // scalars'), so definitions written before arrays existed read unchanged.
            DataType::Array(e) => ARRAY_TAG_BIT | e.tag(),
        }
    }

    pub(crate) fn from_tag(t: u8) -> Option<DataType> {
        Some(match t {
            1 => DataType::Bool,
            2 => DataType::Int4,
            3 => DataType::Int8,
            4 => DataType::Float8,
            5 => DataType::Text,
            6 => DataType::Timestamp,
            7 => DataType::Numeric,
            8 => DataType::Bytea,
            9 => DataType::Uuid,
            10 => DataType::Date,
            11 => DataType::TimestampTz,
            12 => DataType::Time,
            13 => DataType::Interval,
            14 => DataType::Int2,
            15 => DataType::Float4,
            16 => DataType::Json,
            17 => DataType::Jsonb,
            18 => DataType::TimeTz,
            19 => DataType::Record,
            20 => DataType::JsonPath,
            t if t & ARRAY_TAG_BIT != 0 && t != ARRAY_TAG_BIT => {
                match DataType::from_tag(t & !ARRAY_TAG_BIT)? {
                    DataType::Array(_) => return None,
                    e => e.array_of(),
                }
            }
            _ => return None,
        })
    }

    pub(crate) fn to_tag(self) -> u8 {
        self.tag()
    }
}

/// A value. Integers of both widths are held as i64; the column or expression type says which.
/// The default is NULL.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    /// A `character(n)` / `bpchar` value, held as written (blank-padded to `n` when it came
    /// through a length). Its trailing blanks are not significant: it compares, groups and
    /// keys as its text without them, and casting it to text drops them; its output keeps
    /// them (see [`bpchar_trim`]).
    Bpchar(String),
    /// Microseconds since 1970-01-01 00:00:00 (no time zone).
    Timestamp(i64),
    Numeric(Numeric),
    /// A `bytea` value.
    Bytes(Vec<u8>),
    /// A `uuid`, its 16 bytes read big-endian.
    Uuid(u128),
    /// A `date`: days since 1970-01-01; `i32::MIN`/`MAX` are -infinity/infinity.
    Date(i32),
    /// A `timestamptz`: µs since 1970-01-01 UTC.
    TimestampTz(i64),
    /// A `time`: µs since midnight.
    Time(i64),
    /// A `timetz`: µs since midnight (local time) and the offset from UTC, seconds east.
    TimeTz(i64, i32),
    /// An `interval`.
    Interval(Interval),
    /// A `real`.
    Float4(f32),
    /// A `json` value: its text, already checked to be valid JSON.
    Json(String),
    /// A `jsonb` value.
    Jsonb(Jsonb),
    /// A `jsonpath` value: its canonical text (read again where it is evaluated).
    JsonPath(String),
    /// A one-dimensional array (see `array.rs`): its elements, each NULL or of the element
    /// type the array's [`DataType::Array`] names.
    Array(Vec<Value>),
    /// A record (see `record.rs`): its fields and its columns' names and types.
    Record(Box<crate::record::Record>),
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
            Value::Text(s) | Value::Bpchar(s) => Some(s.clone()),
            Value::Timestamp(t) => Some(format_timestamp(*t)),
            Value::Numeric(n) => Some(n.to_string()),
            Value::Bytes(b) => Some(format_bytea(b)),
            Value::Uuid(u) => Some(format_uuid(*u)),
            Value::Date(d) => Some(crate::datetime::format_date(*d)),
            Value::TimestampTz(t) => Some(crate::datetime::format_timestamptz(*t)),
            Value::Time(t) => Some(crate::datetime::format_time(*t)),
            Value::TimeTz(t, e) => Some(crate::datetime::format_timetz(*t, *e)),
            Value::Interval(iv) => Some(crate::datetime::format_interval(iv)),
            Value::Float4(f) => Some(format_float4(*f)),
            Value::Json(s) => Some(s.clone()),
            Value::Jsonb(j) => Some(j.to_string()),
            Value::JsonPath(p) => Some(p.clone()),
            Value::Array(items) => Some(crate::array::format(items)),
            Value::Record(r) => Some(crate::record::format(r)),
        }
    }

    /// Converts to `ty` as an assignment or explicit cast does.
    pub fn cast(self, ty: DataType) -> SqlResult<Value> {
        // A bpchar converts as its text without the padding (PostgreSQL's `rtrim1` cast), but
        // to bytea with it (through its output form, as PostgreSQL's I/O conversion does).
        if let Value::Bpchar(s) = self {
            if ty == DataType::Bytea {
                return Value::Text(s).cast(ty);
            }
            return Value::Text(bpchar_trim(&s).to_string()).cast(ty);
        }
        if let DataType::Array(elem) = ty {
            return match self {
                Value::Null => Ok(Value::Null),
                Value::Array(items) => Ok(Value::Array(crate::array::cast_elements(items, *elem)?)),
                Value::Text(s) => Ok(Value::Array(crate::array::parse(&s, *elem)?)),
                v => Err(SqlError::CannotCoerce(format!(
                    "cannot cast type {} to {}",
                    v.kind_name(),
                    ty.name()
                ))),
            };
        }
        if let Value::Record(r) = self {
            return match ty {
                DataType::Text => Ok(Value::Text(crate::record::format(&r))),
                DataType::Record => Ok(Value::Record(r)),
                _ => Err(SqlError::CannotCoerce(format!(
                    "cannot cast type record to {}",
                    ty.name()
                ))),
            };
        }
        if ty == DataType::Record {
            return match self {
                Value::Null => Ok(Value::Null),
                v => Err(SqlError::FeatureNotSupported(format!(
                    "cast of type {} to record",
                    v.kind_name()
                ))),
            };
        }
        if let Value::Array(items) = self {
            return match ty {
                DataType::Text => Ok(Value::Text(crate::array::format(&items))),
                _ => Err(SqlError::CannotCoerce(format!(
                    "cannot cast type {} to {}",
                    Value::Array(items).kind_name(),
                    ty.name()
                ))),
            };
        }
        // jsonpath casts to and from text only (and to itself).
        if matches!(self, Value::JsonPath(_)) || ty == DataType::JsonPath {
            return match (self, ty) {
                (Value::Null, _) => Ok(Value::Null),
                (Value::JsonPath(p), DataType::JsonPath) => Ok(Value::JsonPath(p)),
                (Value::JsonPath(p), DataType::Text) => Ok(Value::Text(p)),
                (Value::Text(t), DataType::JsonPath) => {
                    Ok(Value::JsonPath(crate::jsonpath::canonical(&t)?))
                }
                (v, ty) => Err(SqlError::CannotCoerce(format!(
                    "cannot cast type {} to {}",
                    v.kind_name(),
                    ty.name()
                ))),
            };
        }
        if let Some(r) = crate::datetime::cast(&self, ty) {
            return r;
        }
        if matches!(self, Value::Json(_) | Value::Jsonb(_))
            || matches!(ty, DataType::Json | DataType::Jsonb)
        {
            return cast_json(self, ty);
        }
        // real and smallint: through their wider types, then narrowed with a range check.
        match (&self, ty) {
            (Value::Null, _) => return Ok(Value::Null),
            (Value::Float4(f), DataType::Float4) => return Ok(Value::Float4(*f)),
            (Value::Float4(f), DataType::Text) => return Ok(Value::Text(format_float4(*f))),
            (Value::Float4(f), _) => return Value::Float(f64::from(*f)).cast(ty),
            (Value::Text(s), DataType::Int2 | DataType::Float4) => return parse_text(s, ty),
            (_, DataType::Int2) => {
                return match self.cast(DataType::Int8) {
                    Ok(Value::Int(i)) if i16::try_from(i).is_ok() => Ok(Value::Int(i)),
                    Ok(_) | Err(SqlError::NumericOutOfRange(_)) => {
                        Err(SqlError::NumericOutOfRange("smallint".into()))
                    }
                    Err(e) => Err(e),
                };
            }
            (_, DataType::Float4) => {
                return match self.cast(DataType::Float8)? {
                    Value::Float(f) => float4_of(f).map(Value::Float4),
                    other => Ok(other),
                };
            }
            _ => {}
        }
        Ok(match (self, ty) {
            (Value::Null, _) => Value::Null,
            (Value::Bytes(b), DataType::Bytea) => Value::Bytes(b),
            (Value::Uuid(u), DataType::Uuid) => Value::Uuid(u),
            (Value::Bytes(b), DataType::Text) => Value::Text(format_bytea(&b)),
            (Value::Uuid(u), DataType::Text) => Value::Text(format_uuid(u)),
            (v @ (Value::Bytes(_) | Value::Uuid(_)), ty)
            | (
                v @ (Value::Bool(_)
                | Value::Int(_)
                | Value::Float(_)
                | Value::Numeric(_)
                | Value::Timestamp(_)),
                ty @ (DataType::Bytea | DataType::Uuid),
            ) => {
                return Err(SqlError::CannotCoerce(format!(
                    "cannot cast type {} to {}",
                    v.kind_name(),
                    ty.name()
                )));
            }
            (Value::Numeric(n), DataType::Numeric) => Value::Numeric(n),
            (Value::Numeric(n), DataType::Int4 | DataType::Int8) => {
                let name = if ty == DataType::Int4 {
                    "integer"
                } else {
                    "bigint"
                };
                match n.to_i64_rounded(name)? {
                    Some(i) if ty == DataType::Int8 || i32::try_from(i).is_ok() => Value::Int(i),
                    _ => return Err(SqlError::NumericOutOfRange(name.into())),
                }
            }
            (Value::Numeric(n), DataType::Float8) => Value::Float(n.to_f64()),
            (Value::Numeric(n), DataType::Text) => Value::Text(n.to_string()),
            (Value::Int(i), DataType::Numeric) => Value::Numeric(Numeric::from_i64(i)),
            (Value::Float(f), DataType::Numeric) => Value::Numeric(Numeric::from_f64(f, 15)),
            (Value::Bool(_), DataType::Numeric) => {
                return Err(SqlError::CannotCoerce(
                    "cannot cast type boolean to numeric".into(),
                ));
            }
            (Value::Numeric(_), DataType::Bool) => {
                return Err(SqlError::CannotCoerce(
                    "cannot cast type numeric to boolean".into(),
                ));
            }
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
                // int8's upper bound, 2^63, is exact in a float and itself out of range.
                let fits = if ty == DataType::Int4 {
                    r >= f64::from(i32::MIN) && r <= f64::from(i32::MAX)
                } else {
                    r >= i64::MIN as f64 && r < -(i64::MIN as f64)
                };
                let name = if ty == DataType::Int4 {
                    "integer"
                } else {
                    "bigint"
                };
                if !fits {
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
            (Value::Timestamp(t), DataType::Timestamp) => Value::Timestamp(t),
            (Value::Timestamp(t), DataType::Text) => Value::Text(format_timestamp(t)),
            (Value::Timestamp(_), ty) => {
                return Err(SqlError::DatatypeMismatch(format!(
                    "cannot cast type timestamp without time zone to {}",
                    ty.name()
                )));
            }
            (v, DataType::Timestamp) => {
                return Err(SqlError::DatatypeMismatch(format!(
                    "cannot cast type {} to timestamp without time zone",
                    v.kind_name()
                )));
            }
            (v, ty) => {
                return Err(SqlError::CannotCoerce(format!(
                    "cannot cast type {} to {}",
                    v.kind_name(),
                    ty.name()
                )));
            }
        })
    }

    /// SQL comparison; `None` when either side is NULL.
    pub fn compare(&self, other: &Value) -> SqlResult<Option<Ordering>> {
        // real meets the other numbers as double precision, as PostgreSQL casts it.
        if let Value::Float4(f) = self {
            return Value::Float(f64::from(*f)).compare(other);
        }
        if let Value::Float4(f) = other {
            return self.compare(&Value::Float(f64::from(*f)));
        }
        Ok(Some(match (self, other) {
            (Value::Null, _) | (_, Value::Null) => return Ok(None),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Float(a), Value::Float(b)) => cmp_f64(*a, *b),
            (Value::Int(a), Value::Float(b)) => cmp_f64(*a as f64, *b),
            (Value::Float(a), Value::Int(b)) => cmp_f64(*a, *b as f64),
            (Value::Numeric(a), Value::Numeric(b)) => a.total_cmp(b),
            (Value::Numeric(a), Value::Int(b)) => numeric_int_cmp(a, *b),
            (Value::Int(a), Value::Numeric(b)) => numeric_int_cmp(b, *a).reverse(),
            // numeric meets float8 as float8, PostgreSQL's implicit cast.
            (Value::Numeric(a), Value::Float(b)) => cmp_f64(a.to_f64(), *b),
            (Value::Float(a), Value::Numeric(b)) => cmp_f64(*a, b.to_f64()),
            (Value::Text(a), Value::Text(b)) => a.cmp(b),
            // bpchar meets bpchar, and an untyped string constant (which resolves to bpchar),
            // with trailing blanks ignored on both sides.
            (Value::Bpchar(a), Value::Bpchar(b) | Value::Text(b))
            | (Value::Text(a), Value::Bpchar(b)) => bpchar_trim(a).cmp(bpchar_trim(b)),
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Timestamp(a), Value::Timestamp(b)) => a.cmp(b),
            (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
            (Value::Uuid(a), Value::Uuid(b)) => a.cmp(b),
            (Value::Jsonb(a), Value::Jsonb(b)) => crate::json::compare(a, b),
            (Value::Array(a), Value::Array(b)) => crate::array::compare(a, b),
            (Value::Record(a), Value::Record(b)) => crate::record::compare(a, b),
            // An untyped string constant meets a jsonb as a jsonb (IN lists, BETWEEN).
            (Value::Jsonb(a), Value::Text(b)) => {
                crate::json::compare(a, &crate::json::parse_jsonb(b)?)
            }
            (Value::Text(a), Value::Jsonb(b)) => {
                crate::json::compare(&crate::json::parse_jsonb(a)?, b)
            }
            (a, b) if crate::datetime::compare(a, b).is_some() => {
                crate::datetime::compare(a, b).unwrap_or(Ordering::Equal)
            }
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
            Value::Bpchar(_) => "character",
            Value::Timestamp(_) => "timestamp without time zone",
            Value::Numeric(_) => "numeric",
            Value::Bytes(_) => "bytea",
            Value::Uuid(_) => "uuid",
            Value::Date(_) => "date",
            Value::TimestampTz(_) => "timestamp with time zone",
            Value::Time(_) => "time without time zone",
            Value::TimeTz(..) => "time with time zone",
            Value::Interval(_) => "interval",
            Value::Float4(_) => "real",
            Value::Json(_) => "json",
            Value::Jsonb(_) => "jsonb",
            Value::JsonPath(_) => "jsonpath",
            Value::Array(_) => "array",
            Value::Record(_) => "record",
        }
    }
}

/// Casts to or from `json`/`jsonb`: text in and out, json and jsonb into each other, and a
/// jsonb number or boolean to a SQL number or boolean. Nothing else converts.
fn cast_json(v: Value, ty: DataType) -> SqlResult<Value> {
    Ok(match (v, ty) {
        (Value::Null, _) => Value::Null,
        (Value::Json(s), DataType::Json) => Value::Json(s),
        (Value::Json(s), DataType::Jsonb) => Value::Jsonb(crate::json::parse_jsonb(&s)?),
        (Value::Json(s), DataType::Text) => Value::Text(s),
        (Value::Jsonb(j), DataType::Jsonb) => Value::Jsonb(j),
        (Value::Jsonb(j), DataType::Json | DataType::Text) => {
            let t = j.to_string();
            if ty == DataType::Json {
                Value::Json(t)
            } else {
                Value::Text(t)
            }
        }
        (Value::Jsonb(j), DataType::Int2) => match crate::json::cast_jsonb(&j, DataType::Int8)? {
            Value::Int(i) if i16::try_from(i).is_ok() => Value::Int(i),
            _ => return Err(SqlError::NumericOutOfRange("smallint".into())),
        },
        (Value::Jsonb(j), ty) => crate::json::cast_jsonb(&j, ty)?,
        (Value::Text(s), ty) => parse_text(&s, ty)?,
        (v, ty) => {
            return Err(SqlError::CannotCoerce(format!(
                "cannot cast type {} to {}",
                v.kind_name(),
                ty.name()
            )));
        }
    })
}

/// A bpchar's significant text: the value without its trailing blanks (only U+0020, as
/// PostgreSQL's `bpchartruelen` counts them).
#[must_use]
pub fn bpchar_trim(s: &str) -> &str {
    s.trim_end_matches(' ')
}

/// A double narrowed to `real`, refusing what overflows or underflows it as PostgreSQL does.
pub fn float4_of(f: f64) -> SqlResult<f32> {
    let r = f as f32;
    if r.is_infinite() && f.is_finite() {
        return Err(SqlError::NumericValueOutOfRange(
            "value out of range: overflow".into(),
        ));
    }
    if r == 0.0 && f != 0.0 {
        return Err(SqlError::NumericValueOutOfRange(
            "value out of range: underflow".into(),
        ));
    }
    Ok(r)
}

/// `real` output: the shortest text that reads back to the same f32, in exponent form from
/// 1e+06 and below 1e-04 (PostgreSQL 12+ with `extra_float_digits` 1).
#[must_use]
pub fn format_float4(f: f32) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Rust's shortest round-trip digits of the f32, placed as PostgreSQL places them.
    let e = format!("{f:e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        format!("{f}")
    } else {
        format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

/// `bytea` in PostgreSQL's hex output format: `\x` and two lower-case digits a byte.
#[must_use]
pub fn format_bytea(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * b.len());
    s.push_str("\\x");
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

/// Reads `bytea` text input: hex format (`\x` then digit pairs, whitespace between pairs
/// allowed) or escape format (bytes as they are, `\\` a backslash, `\nnn` an octal byte).
pub fn parse_bytea(s: &str) -> SqlResult<Vec<u8>> {
    if let Some(hex) = s.strip_prefix("\\x") {
        let mut out = Vec::with_capacity(hex.len() / 2);
        let mut chars = hex.chars();
        let digit = |c: char| {
            c.to_digit(16).ok_or_else(|| {
                SqlError::InvalidParameterValue(format!("invalid hexadecimal digit: \"{c}\""))
            })
        };
        while let Some(c) = chars.next() {
            if c.is_ascii_whitespace() {
                continue;
            }
            let hi = digit(c)?;
            let lo = match chars.next() {
                Some(c2) => digit(c2)?,
                None => {
                    return Err(SqlError::InvalidParameterValue(
                        "invalid hexadecimal data: odd number of digits".into(),
                    ));
                }
            };
            out.push((hi * 16 + lo) as u8);
        }
        return Ok(out);
    }
    let bad = || SqlError::InvalidInput("invalid input syntax for type bytea".into());
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
        } else if b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else if i + 3 < b.len()
            && (b'0'..=b'3').contains(&b[i + 1])
            && (b'0'..=b'7').contains(&b[i + 2])
            && (b'0'..=b'7').contains(&b[i + 3])
        {
            out.push(((b[i + 1] - b'0') << 6) | ((b[i + 2] - b'0') << 3) | (b[i + 3] - b'0'));
            i += 4;
        } else {
            return Err(bad());
        }
    }
    Ok(out)
}

/// A `uuid` in its canonical form, `a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11`.
#[must_use]
pub fn format_uuid(u: u128) -> String {
    let h = format!("{u:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Reads a `uuid` as PostgreSQL does: 32 hex digits, optionally in braces, with a hyphen
/// allowed after any group of four digits.
fn parse_uuid(s: &str) -> Option<u128> {
    let inner = match s.strip_prefix('{') {
        Some(rest) => rest.strip_suffix('}')?,
        None => s,
    };
    let b = inner.as_bytes();
    let mut v: u128 = 0;
    let mut digits = 0;
    let mut i = 0;
    while i < b.len() {
        let d = char::from(b[i]).to_digit(16)?;
        v = (v << 4) | u128::from(d);
        digits += 1;
        i += 1;
        if digits % 4 == 0 && digits < 32 && b.get(i) == Some(&b'-') {
            i += 1;
        }
    }
    (digits == 32).then_some(v)
}

/// Compares a numeric with an integer: as scaled i128s when the numeric has up to 38 digits
/// (no numeric is made of the integer per row), else as two numerics.
fn numeric_int_cmp(a: &Numeric, b: i64) -> Ordering {
    if let Some((v, scale)) = a.to_scaled()
        && let Some(w) = crate::numeric::rescale_scaled(i128::from(b), 0, scale)
    {
        return v.cmp(&w);
    }
    a.total_cmp(&Numeric::from_i64(b))
}

/// The result of `sum` (`avg` when `avg`) over `count` values whose numeric inputs summed to
/// `numeric_sum` and integer inputs to `int_sum`: a numeric, divided with numeric's scale rule.
pub fn numeric_sum_avg(
    avg: bool,
    numeric_sum: Option<Numeric>,
    int_sum: i128,
    count: i64,
) -> SqlResult<Value> {
    let sum = match numeric_sum {
        Some(n) => n.add(&Numeric::from_i128(int_sum))?,
        None => Numeric::from_i128(int_sum),
    };
    Ok(Value::Numeric(if avg {
        sum.div(&Numeric::from_i64(count))?
    } else {
        sum
    }))
}

/// A type with its modifier as `format_type` prints it (`numeric(10,2)`, `numeric(10,2)[]`).
#[must_use]
pub fn type_display(ty: DataType, typmod: i32) -> String {
    let precision = |t: DataType| {
        let p = match t {
            DataType::Interval => typmod & 0xFFFF,
            _ => typmod,
        };
        match t {
            DataType::Time => format!("time({p}) without time zone"),
            DataType::TimeTz => format!("time({p}) with time zone"),
            DataType::Timestamp => format!("timestamp({p}) without time zone"),
            DataType::TimestampTz => format!("timestamp({p}) with time zone"),
            // `interval`, `interval(3)`, `interval hour to second(3)`.
            _ => {
                let fields = crate::datetime::interval_range(typmod)
                    .and_then(crate::datetime::interval_range_name)
                    .map_or(String::new(), |f| format!(" {f}"));
                if p == 0xFFFF {
                    format!("interval{fields}")
                } else {
                    format!("interval{fields}({p})")
                }
            }
        }
    };
    match (ty, crate::numeric::typmod_parts(typmod)) {
        (DataType::Numeric, Some((p, s))) => format!("numeric({p},{s})"),
        (DataType::Array(DataType::Numeric), Some((p, s))) => format!("numeric({p},{s})[]"),
        (
            DataType::Time
            | DataType::TimeTz
            | DataType::Timestamp
            | DataType::TimestampTz
            | DataType::Interval,
            _,
        ) if typmod >= 0 => precision(ty),
        (
            DataType::Array(
                e @ (DataType::Time
                | DataType::TimeTz
                | DataType::Timestamp
                | DataType::TimestampTz
                | DataType::Interval),
            ),
            _,
        ) if typmod >= 0 => format!("{}[]", precision(*e)),
        _ => ty.name().to_string(),
    }
}

/// Applies a type modifier (PostgreSQL's `typmod`, -1 for none) of `ty` to a value already of
/// that type: `numeric(p, s)` rounds to its scale and refuses values too wide for it.
pub fn apply_typmod(v: Value, ty: DataType, typmod: i32) -> SqlResult<Value> {
    match (v, ty) {
        (Value::Numeric(n), DataType::Numeric) => match crate::numeric::typmod_parts(typmod) {
            Some((p, s)) => Ok(Value::Numeric(n.apply_typmod(p, s)?)),
            None => Ok(Value::Numeric(n)),
        },
        // `time(p)`, `timestamp(p)`, `interval(p)`: rounded to p fractional second digits.
        (Value::Time(us), DataType::Time) => Ok(Value::Time(
            match crate::datetime::typmod_precision(ty, typmod) {
                Some(p) => crate::datetime::round_micros(us, p),
                None => us,
            },
        )),
        (Value::TimeTz(us, zone), DataType::TimeTz) => Ok(Value::TimeTz(
            match crate::datetime::typmod_precision(ty, typmod) {
                Some(p) => crate::datetime::round_micros(us, p),
                None => us,
            },
            zone,
        )),
        (Value::Timestamp(us), DataType::Timestamp) => Ok(Value::Timestamp(
            match crate::datetime::typmod_precision(ty, typmod) {
                Some(p) => crate::datetime::round_timestamp(us, p),
                None => us,
            },
        )),
        (Value::TimestampTz(us), DataType::TimestampTz) => Ok(Value::TimestampTz(
            match crate::datetime::typmod_precision(ty, typmod) {
                Some(p) => crate::datetime::round_timestamp(us, p),
                None => us,
            },
        )),
        // `interval hour to minute`: the fields below the last dropped, then the rounding.
        (Value::Interval(iv), DataType::Interval) => {
            Ok(Value::Interval(crate::datetime::bound_interval(iv, typmod)))
        }
        (Value::Array(items), DataType::Array(e)) if typmod >= 0 => Ok(Value::Array(
            items
                .into_iter()
                .map(|v| apply_typmod(v, *e, typmod))
                .collect::<SqlResult<_>>()?,
        )),
        (v, _) => Ok(v),
    }
}

/// PostgreSQL's ISO text form of a timestamp.
#[must_use]
pub fn format_timestamp(us: i64) -> String {
    crate::datetime::format_timestamp(us)
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
        DataType::Record => {
            return Err(SqlError::FeatureNotSupported(
                "input of anonymous composite types".into(),
            ));
        }
        DataType::Int4 => {
            let v: i64 = t.parse().map_err(|_| bad())?;
            if i32::try_from(v).is_err() {
                return Err(SqlError::NumericValueOutOfRange(format!(
                    "value \"{s}\" is out of range for type integer"
                )));
            }
            Value::Int(v)
        }
        DataType::Int8 => Value::Int(t.parse().map_err(|_| bad())?),
        DataType::Int2 => {
            let v: i64 = t.parse().map_err(|_| bad())?;
            if i16::try_from(v).is_err() {
                return Err(SqlError::NumericValueOutOfRange(format!(
                    "value \"{s}\" is out of range for type smallint"
                )));
            }
            Value::Int(v)
        }
        DataType::Float4 => {
            let f = match parse_text(s, DataType::Float8)? {
                Value::Float(f) => f,
                _ => return Err(bad()),
            };
            let r = f as f32;
            if (r.is_infinite() && f.is_finite()) || (r == 0.0 && f != 0.0) {
                return Err(SqlError::NumericValueOutOfRange(format!(
                    "\"{t}\" is out of range for type real"
                )));
            }
            Value::Float4(r)
        }
        DataType::Numeric => Value::Numeric(Numeric::parse(s)?),
        DataType::Bytea => Value::Bytes(parse_bytea(s)?),
        DataType::Uuid => Value::Uuid(parse_uuid(s).ok_or_else(bad)?),
        DataType::Float8 => Value::Float(match t.to_ascii_lowercase().as_str() {
            "nan" => f64::NAN,
            "infinity" | "+infinity" | "inf" => f64::INFINITY,
            "-infinity" | "-inf" => f64::NEG_INFINITY,
            _ => t.parse().map_err(|_| bad())?,
        }),
        DataType::Timestamp => Value::Timestamp(crate::datetime::parse_timestamp(s)?),
        DataType::TimestampTz => Value::TimestampTz(crate::datetime::parse_timestamptz(s)?),
        DataType::Date => Value::Date(crate::datetime::parse_date(s)?),
        DataType::Time => Value::Time(crate::datetime::parse_time(s)?),
        DataType::TimeTz => {
            let (t, e) = crate::datetime::parse_timetz(s)?;
            Value::TimeTz(t, e)
        }
        DataType::Interval => Value::Interval(crate::datetime::parse_interval(s)?),
        DataType::Json => {
            crate::json::validate_json(s)?;
            Value::Json(s.to_string())
        }
        DataType::Jsonb => Value::Jsonb(crate::json::parse_jsonb(s)?),
        DataType::JsonPath => Value::JsonPath(crate::jsonpath::canonical(s)?),
        DataType::Array(elem) => Value::Array(crate::array::parse(s, *elem)?),
        DataType::Bool => Value::Bool(match t.to_ascii_lowercase().as_str() {
            "t" | "true" | "yes" | "y" | "on" | "1" => true,
            "f" | "false" | "no" | "n" | "off" | "0" => false,
            _ => return Err(bad()),
        }),
    })
}

/// The wall clock in microseconds since 1970 (UTC).
#[must_use]
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bpchar_compares_without_trailing_blanks_and_casts_to_text_without_them() {
        let b = |s: &str| Value::Bpchar(s.into());
        let t = |s: &str| Value::Text(s.into());
        assert_eq!(b("a").compare(&b("a  ")).unwrap(), Some(Ordering::Equal));
        assert_eq!(b("a  ").compare(&t("a ")).unwrap(), Some(Ordering::Equal));
        assert_eq!(t("a").compare(&b("a   ")).unwrap(), Some(Ordering::Equal));
        assert_eq!(b("a").compare(&b("a\t")).unwrap(), Some(Ordering::Less));
        assert_eq!(b(" a").compare(&b("a")).unwrap(), Some(Ordering::Less));
        assert_eq!(b("a").compare(&Value::Null).unwrap(), None);
        assert_eq!(b("ab  ").cast(DataType::Text).unwrap(), t("ab"));
        assert_eq!(b("12 ").cast(DataType::Int4).unwrap(), Value::Int(12));
        assert_eq!(
            b("a ").cast(DataType::Bytea).unwrap(),
            Value::Bytes(b"a ".to_vec())
        );
        // The output keeps the padding.
        assert_eq!(b("a  ").to_text().as_deref(), Some("a  "));
        assert_eq!(bpchar_trim("a \t "), "a \t");
    }

    #[test]
    fn timestamps_round_trip_in_postgresql_text_form() {
        for s in [
            "2000-01-01 00:00:00",
            "1969-12-31 23:59:59.5",
            "2024-02-29 12:34:56.123456",
            "1900-03-01 00:00:01",
        ] {
            let Value::Timestamp(us) = parse_text(s, DataType::Timestamp).unwrap() else {
                panic!("a timestamp")
            };
            assert_eq!(format_timestamp(us), s);
        }
        assert_eq!(
            parse_text("2000-01-01", DataType::Timestamp).unwrap(),
            Value::Timestamp(PG_EPOCH_OFFSET_US)
        );
        assert!(parse_text("2023-02-29", DataType::Timestamp).is_err());
        assert!(parse_text("yesterday-ish", DataType::Timestamp).is_err());
    }

    #[test]
    fn timestamp_input_ignores_a_time_zone_as_postgresql_does() {
        let plain = parse_text("2024-05-01 12:34:56.123", DataType::Timestamp).unwrap();
        for s in [
            "2024-05-01T12:34:56.123+00:00",
            "2024-05-01 12:34:56.123-05:30",
            "2024-05-01T12:34:56.123Z",
            "2024-05-01 12:34:56.123+02",
        ] {
            assert_eq!(parse_text(s, DataType::Timestamp).unwrap(), plain, "{s}");
        }
        assert!(parse_text("2024-05-01 12:34:56+", DataType::Timestamp).is_err());
    }

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
    fn bytea_and_uuid_text_forms() {
        assert_eq!(parse_bytea("\\x0102FF").unwrap(), vec![1, 2, 255]);
        assert_eq!(parse_bytea("\\x01 02").unwrap(), vec![1, 2]);
        assert_eq!(parse_bytea("a\\000b\\\\").unwrap(), b"a\0b\\".to_vec());
        assert!(parse_bytea("\\x0").is_err());
        assert!(parse_bytea("\\xzz").is_err());
        assert!(parse_bytea("a\\").is_err());
        assert!(parse_bytea("\\8").is_err());
        assert_eq!(format_bytea(&[1, 2, 255]), "\\x0102ff");
        assert_eq!(format_bytea(&[]), "\\x");
        let canonical = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11";
        for s in [
            "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
            "{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
        ] {
            assert_eq!(
                parse_uuid(s).map(format_uuid).as_deref(),
                Some(canonical),
                "{s}"
            );
        }
        for s in [
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-",
            "-a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc999-c0b-4ef8-bb6d-6bb9bd380a11",
        ] {
            assert!(parse_uuid(s).is_none(), "{s}");
        }
    }

    #[test]
    fn real_prints_the_shortest_single_precision_text() {
        assert_eq!(format_float4(0.1), "0.1");
        assert_eq!(format_float4(1.0 / 3.0), "0.33333334");
        assert_eq!(format_float4(123_456.0), "123456");
        assert_eq!(format_float4(1_234_567.0), "1.234567e+06");
        assert_eq!(format_float4(1e-5), "1e-05");
        assert_eq!(format_float4(3.4e38), "3.4e+38");
        assert_eq!(format_float4(-0.0), "-0");
        assert!(parse_text("1e39", DataType::Float4).is_err());
        assert!(parse_text("1e-50", DataType::Float4).is_err());
        assert_eq!(
            parse_text("0", DataType::Float4).unwrap(),
            Value::Float4(0.0)
        );
    }

    #[test]
    fn smallint_range_is_checked() {
        assert!(parse_text("32768", DataType::Int2).is_err());
        assert_eq!(
            parse_text("-32768", DataType::Int2).unwrap(),
            Value::Int(-32768)
        );
        assert!(Value::Int(40_000).cast(DataType::Int2).is_err());
        assert_eq!(
            Value::Float(2.5).cast(DataType::Int2).unwrap(),
            Value::Int(2)
        );
        assert!(Value::Float(1e10).cast(DataType::Int2).is_err());
    }

    #[test]
    fn int4_range_is_checked() {
        assert!(parse_text("2147483648", DataType::Int4).is_err());
        assert_eq!(parse_text(" 42 ", DataType::Int4).unwrap(), Value::Int(42));
        assert!(parse_text("4x", DataType::Int8).is_err());
    }
}
