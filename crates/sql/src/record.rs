//! Composite (record) values: whole-row references (`t`, `t.*` as a function argument) and row
//! constructors (`ROW(a, b)`, `(a, b)`) used as values.
//!
//! A record is its field values and a shared description of its columns (name and type). The
//! description travels with the value rather than with the expression's static type because
//! the consumers that need it sit far from the binder: `row_to_json` needs the column names,
//! the binary wire form (`record_send`) needs each field's type OID, and a record can reach
//! them through an aggregate (`json_agg(t)`, `array_agg(t)`) or a subquery. The description
//! is one `Arc` per bound expression, so building a record per row clones a pointer, not the
//! names.
//!
//! ```text
//!   binder: t  ──►  Expr::Row { fields: [Column(0), Column(1)], columns: [(a, int4), (b, text)] }
//!   eval:          Value::Record(Record { fields: [Int(1), Text("x")], columns })
//!   output:        text "(1,x)"   binary  count | oid len bytes | oid len bytes
//!                  json {"a":1,"b":"x"}
//! ```
//!
//! The static type of every record expression is [`DataType::Record`] (OID 2249, `record`):
//! the catalog has no row types of tables, so a whole-row reference is described as an
//! anonymous record too (PostgreSQL names the table's own row type there).
//!
//! Semantics follow PostgreSQL's for record values (not row constructors compared field by
//! field, which the binder rewrites into scalar comparisons before they get here):
//! - order and equality (`record_cmp`, `record_eq`): field by field, two NULL fields equal and
//!   a NULL field after every value, so records sort, group and de-duplicate totally;
//! - `IS NULL` is true when every field is NULL, `IS NOT NULL` when none is;
//! - text output (`record_out`): `(f1,f2)`, a NULL field empty, a field quoted when it is empty
//!   or holds a double quote, backslash, parenthesis, comma or white space, with `"` and `\`
//!   doubled inside the quotes.

use crate::types::{DataType, Value};
use std::cmp::Ordering;
use std::sync::Arc;

/// Most fields a row constructor may have: PostgreSQL's limit on a row's columns
/// (`MaxTupleAttributeNumber`). It also keeps a record's field count within the u16 its row
/// form (in spilled results) gives it.
pub const RECORD_FIELDS_MAX: usize = 1664;

const _: () = assert!(RECORD_FIELDS_MAX <= u16::MAX as usize);

/// One column of a record: the key `row_to_json` writes and the type whose OID the binary
/// form carries.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordColumn {
    pub name: String,
    pub ty: DataType,
    /// An untyped string constant of a row constructor: PostgreSQL leaves its type `unknown`
    /// (OID 705), which the binary form names; its value is text.
    pub unknown: bool,
}

/// The OID of PostgreSQL's `unknown` pseudo-type.
const UNKNOWN_OID: u32 = 705;

/// A record's columns, shared by every record one expression builds (a thin pointer, so the
/// expression that holds it stays small).
pub type RecordColumns = Arc<Vec<RecordColumn>>;

/// A record value: one value per column of `columns`.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub fields: Vec<Value>,
    pub columns: RecordColumns,
}

impl Record {
    /// Whether every field is NULL (`IS NULL` of a record).
    #[must_use]
    pub fn all_null(&self) -> bool {
        self.fields.iter().all(Value::is_null)
    }

    /// Whether no field is NULL (`IS NOT NULL` of a record).
    #[must_use]
    pub fn none_null(&self) -> bool {
        !self.fields.iter().any(Value::is_null)
    }

    /// The column names and values, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.columns
            .iter()
            .map(|c| c.name.as_str())
            .zip(self.fields.iter())
    }
}

/// PostgreSQL's text form of a record (`record_out`).
#[must_use]
pub fn format(r: &Record) -> String {
    let mut out = String::from("(");
    for (i, v) in r.fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let Some(t) = v.to_text() else { continue };
        let quote = t.is_empty()
            || t.chars().any(|c| {
                matches!(c, '"' | '\\' | '(' | ')' | ',') || c.is_ascii_whitespace() || c == '\x0b'
            });
        if !quote {
            out.push_str(&t);
            continue;
        }
        out.push('"');
        for c in t.chars() {
            if c == '"' || c == '\\' {
                out.push(c);
            }
            out.push(c);
        }
        out.push('"');
    }
    out.push(')');
    out
}

/// PostgreSQL's binary form of a record (`record_send`): the field count, then per field its
/// type OID, its length (-1 for NULL) and its own binary form.
pub fn to_binary(r: &Record, out: &mut Vec<u8>) {
    out.extend_from_slice(&(r.fields.len() as i32).to_be_bytes());
    for (v, c) in r.fields.iter().zip(r.columns.iter()) {
        let oid = if c.unknown { UNKNOWN_OID } else { c.ty.oid() };
        out.extend_from_slice(&oid.to_be_bytes());
        if v.is_null() {
            out.extend_from_slice(&(-1i32).to_be_bytes());
            continue;
        }
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        crate::array::scalar_to_binary(v, c.ty, out);
        let len = (out.len() - at - 4) as i32;
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
}

/// Record order (`record_cmp`): field by field, NULL fields equal to each other and after
/// every value; a record that is a prefix of another sorts first.
#[must_use]
pub fn compare(a: &Record, b: &Record) -> Ordering {
    crate::array::compare(&a.fields, &b.fields)
}

/// Appends the memcomparable key of a record (for DISTINCT and grouping), laid out as an
/// array's: each field as 01 and its key, or 02 for NULL, then 00.
pub fn encode_key(r: &Record, out: &mut Vec<u8>) {
    for v in &r.fields {
        if v.is_null() {
            out.push(0x02);
        } else {
            out.push(0x01);
            crate::catalog::encode_key_value(v, out);
        }
    }
    out.push(0x00);
}

/// The `json` text of a record (`row_to_json`, `to_json`): an object of its columns, with
/// `,\n ` between the members when `pretty`.
pub fn to_json_text(r: &Record, pretty: bool) -> crate::error::SqlResult<String> {
    let mut out = String::from("{");
    for (i, (k, v)) in r.pairs().enumerate() {
        if i > 0 {
            out.push_str(if pretty { ",\n " } else { "," });
        }
        crate::json::escape_string(&mut out, k);
        out.push(':');
        out.push_str(&crate::json::to_json_text(v)?);
    }
    out.push('}');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(fields: Vec<Value>) -> Record {
        let columns: RecordColumns = (1..=fields.len())
            .map(|i| RecordColumn {
                name: format!("f{i}"),
                ty: DataType::Text,
                unknown: false,
            })
            .collect::<Vec<_>>()
            .into();
        Record { fields, columns }
    }

    #[test]
    fn text_form_quotes_as_record_out() {
        let r = rec(vec![
            Value::Int(1),
            Value::Text("abc".into()),
            Value::Null,
            Value::Text(String::new()),
            Value::Text("a,b".into()),
            Value::Text("say \"hi\"".into()),
            Value::Text("back\\slash".into()),
            Value::Text("(x)".into()),
        ]);
        assert_eq!(
            format(&r),
            r#"(1,abc,,"","a,b","say ""hi""","back\\slash","(x)")"#
        );
    }

    #[test]
    fn nulls_follow_values_and_equal_each_other() {
        let a = rec(vec![Value::Int(1), Value::Null]);
        let b = rec(vec![Value::Int(1), Value::Int(5)]);
        assert_eq!(compare(&a, &b), Ordering::Greater);
        assert_eq!(compare(&a, &a.clone()), Ordering::Equal);
        assert!(!a.all_null() && !a.none_null());
        assert!(rec(vec![Value::Null, Value::Null]).all_null());
    }

    #[test]
    fn binary_form_carries_oids_and_lengths() {
        let columns: RecordColumns = vec![
            RecordColumn {
                name: "a".into(),
                ty: DataType::Int4,
                unknown: false,
            },
            RecordColumn {
                name: "b".into(),
                ty: DataType::Text,
                unknown: false,
            },
        ]
        .into();
        let r = Record {
            fields: vec![Value::Int(7), Value::Null],
            columns,
        };
        let mut b = Vec::new();
        to_binary(&r, &mut b);
        let want: Vec<u8> = [
            2i32.to_be_bytes(),
            23i32.to_be_bytes(),
            4i32.to_be_bytes(),
            7i32.to_be_bytes(),
            25i32.to_be_bytes(),
            (-1i32).to_be_bytes(),
        ]
        .concat();
        assert_eq!(b, want);
    }

    #[test]
    fn keys_group_equal_records() {
        let mut k1 = Vec::new();
        let mut k2 = Vec::new();
        encode_key(&rec(vec![Value::Int(1), Value::Null]), &mut k1);
        encode_key(&rec(vec![Value::Int(1), Value::Int(0)]), &mut k2);
        assert_ne!(k1, k2);
        assert!(k2 < k1, "a NULL field keys after a value");
    }
}
