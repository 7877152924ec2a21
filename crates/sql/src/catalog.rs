//! Table definitions and how rows and keys are laid out in the engine's B+trees.
//!
//! The catalog is the engine's catalog tree: key = table name, value = an encoded [`TableDef`].
//! Every table is a B+tree clustered by its primary key, or by a hidden 8-byte row id when it has
//! none. Keys are memcomparable (byte order = SQL order), so the B+tree needs no knowledge of
//! types. Layouts are described in docs/formats.md.

use crate::error::{SqlError, SqlResult};
use crate::types::{DataType, Value};
use borealis_common::PageId;
use borealis_common::codec::{DecodeResult, Put, Reader};
use borealis_engine::TreeId;

/// Format version of an encoded table definition. Version 1 had no OID and no declared
/// character types, version 2 no secondary indexes; both are still read.
const TABLE_DEF_VERSION: u8 = 3;
/// OIDs below this are PostgreSQL's own objects; user objects start here, as in PostgreSQL.
pub const FIRST_USER_OID: u32 = 16_384;
/// Bounds for decoding table definitions read from pages.
const COLUMNS_MAX: u32 = 1600;
const NAME_BYTES_MAX: u32 = 1024;
/// Most secondary indexes a table definition may hold when decoded.
const INDEXES_MAX: u32 = 1024;
/// Most columns of one index (PostgreSQL's INDEX_MAX_KEYS).
pub const INDEX_COLUMNS_MAX: usize = 32;

#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub ty: DataType,
    pub not_null: bool,
    /// How a `text` column was declared: its length rule and its name in `\\d`.
    pub text_kind: TextKind,
}

/// The declared flavour of a character column (stored as `text`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TextKind {
    #[default]
    Text,
    /// `varchar(n)`: longer values are refused.
    Varchar(Option<u32>),
    /// `char(n)`: blank-padded to n; longer values are refused unless the excess is blanks.
    Char(u32),
}

impl Column {
    /// A column with no declared character flavour.
    #[must_use]
    pub fn new(name: impl Into<String>, ty: DataType, not_null: bool) -> Column {
        Column {
            name: name.into(),
            ty,
            not_null,
            text_kind: TextKind::Text,
        }
    }

    /// PostgreSQL's type OID of the column as declared.
    #[must_use]
    pub fn type_oid(&self) -> u32 {
        match self.text_kind {
            TextKind::Text => self.ty.oid(),
            TextKind::Varchar(_) => 1043,
            TextKind::Char(_) => 1042,
        }
    }

    /// PostgreSQL's `atttypmod`: declared length + 4 for character types, else -1.
    #[must_use]
    pub fn typmod(&self) -> i32 {
        match self.text_kind {
            TextKind::Varchar(Some(n)) | TextKind::Char(n) => n as i32 + 4,
            _ => -1,
        }
    }

    /// The declared type as `format_type` prints it.
    #[must_use]
    pub fn type_display(&self) -> String {
        match self.text_kind {
            TextKind::Text => self.ty.name().to_string(),
            TextKind::Varchar(None) => "character varying".into(),
            TextKind::Varchar(Some(n)) => format!("character varying({n})"),
            TextKind::Char(n) => format!("character({n})"),
        }
    }

    /// Applies the declared length rule to a value being stored (assignment cast).
    pub fn fit(&self, v: Value) -> SqlResult<Value> {
        let Value::Text(s) = v else { return Ok(v) };
        match self.text_kind {
            TextKind::Text | TextKind::Varchar(None) => Ok(Value::Text(s)),
            TextKind::Varchar(Some(n)) => {
                if s.chars().count() > n as usize {
                    let trimmed = s.trim_end_matches(' ');
                    if trimmed.chars().count() <= n as usize {
                        return Ok(Value::Text(s.chars().take(n as usize).collect()));
                    }
                    return Err(SqlError::StringDataRightTruncation(format!(
                        "character varying({n})"
                    )));
                }
                Ok(Value::Text(s))
            }
            TextKind::Char(n) => {
                let len = s.chars().count();
                let n = n as usize;
                if len > n {
                    let trimmed = s.trim_end_matches(' ');
                    if trimmed.chars().count() <= n {
                        return Ok(Value::Text(s.chars().take(n).collect()));
                    }
                    return Err(SqlError::StringDataRightTruncation(format!(
                        "character({n})"
                    )));
                }
                let mut s = s;
                s.extend(std::iter::repeat_n(' ', n - len));
                Ok(Value::Text(s))
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct TableDef {
    pub name: String,
    /// The table's OID, fixed at CREATE and kept when the table is rebuilt (a new tree).
    pub oid: u32,
    pub tree: TreeId,
    pub columns: Vec<Column>,
    /// Column positions of the primary key, in key order; empty means a hidden row id.
    pub pk: Vec<usize>,
    /// Secondary indexes, in creation order.
    pub indexes: Vec<IndexDef>,
}

/// A secondary index: its own B+tree of entries that point at rows by their table key.
///
/// An entry's key is the memcomparable encoding of the indexed columns (see [`index_entry`]);
/// for a unique index whose columns are all non-NULL that is the whole key, so the engine's
/// duplicate-key check (with its row-lock wait for a concurrent inserter) is the uniqueness
/// check; otherwise the row's table key is appended, which makes every entry distinct. The
/// value is always the row's table key (its primary key or hidden row id).
#[derive(Clone, Debug, PartialEq)]
pub struct IndexDef {
    pub name: String,
    /// Fixed at creation, as `16384 + 2 × tree` of the tree created then; kept on rebuilds.
    /// A unique constraint takes `oid + 1`.
    pub oid: u32,
    pub tree: TreeId,
    /// Column positions, in key order.
    pub columns: Vec<usize>,
    pub unique: bool,
    /// Made by a `UNIQUE` constraint (it has a `pg_constraint` row and is dropped with it).
    pub constraint: bool,
}

impl IndexDef {
    /// The OID of the constraint a unique-constraint index belongs to.
    #[must_use]
    pub fn constraint_oid(&self) -> u32 {
        self.oid + 1
    }
}

impl TableDef {
    #[must_use]
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    #[must_use]
    pub fn pk_name(&self) -> String {
        format!("{}_pkey", self.name)
    }

    /// The OID a table created on `tree` gets: even numbers for tables, the next odd one for its
    /// primary-key index. Tree roots are never reused, so neither are OIDs.
    #[must_use]
    pub fn oid_for_tree(tree: TreeId) -> u32 {
        FIRST_USER_OID.saturating_add(
            u32::try_from(tree.0.saturating_mul(2)).unwrap_or(u32::MAX - FIRST_USER_OID),
        )
    }

    /// The OID of the primary-key index (and of its constraint).
    #[must_use]
    pub fn pk_oid(&self) -> u32 {
        self.oid + 1
    }

    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.put_u8(TABLE_DEF_VERSION);
        b.put_str(&self.name);
        b.put_u32(self.oid);
        b.put_u64(self.tree.0);
        b.put_u32(self.columns.len() as u32);
        for c in &self.columns {
            b.put_str(&c.name);
            b.put_u8(c.ty.to_tag());
            b.put_u8(u8::from(c.not_null));
            let (kind, len) = match c.text_kind {
                TextKind::Text => (0u8, 0u32),
                TextKind::Varchar(None) => (1, 0),
                TextKind::Varchar(Some(n)) => (2, n),
                TextKind::Char(n) => (3, n),
            };
            b.put_u8(kind);
            b.put_u32(len);
        }
        b.put_u32(self.pk.len() as u32);
        for &i in &self.pk {
            b.put_u32(i as u32);
        }
        b.put_u32(self.indexes.len() as u32);
        for ix in &self.indexes {
            b.put_str(&ix.name);
            b.put_u32(ix.oid);
            b.put_u64(ix.tree.0);
            b.put_u8(u8::from(ix.unique) | (u8::from(ix.constraint) << 1));
            b.put_u32(ix.columns.len() as u32);
            for &c in &ix.columns {
                b.put_u32(c as u32);
            }
        }
        b
    }

    pub fn decode(bytes: &[u8]) -> SqlResult<TableDef> {
        Self::try_decode(bytes).map_err(|e| SqlError::Corrupted(format!("table definition: {e}")))
    }

    fn try_decode(bytes: &[u8]) -> DecodeResult<TableDef> {
        use borealis_common::codec::DecodeError;
        let mut r = Reader::new(bytes);
        let v = r.u8()?;
        if !(1..=TABLE_DEF_VERSION).contains(&v) {
            return Err(DecodeError(format!("unknown version {v}")));
        }
        let name = r.string(NAME_BYTES_MAX)?;
        let oid = if v >= 2 { Some(r.u32()?) } else { None };
        let tree = PageId(r.u64()?);
        let oid = oid.unwrap_or_else(|| TableDef::oid_for_tree(tree));
        let n = r.count(COLUMNS_MAX)?;
        let mut columns = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let name = r.string(NAME_BYTES_MAX)?;
            let ty = DataType::from_tag(r.u8()?)
                .ok_or_else(|| DecodeError("unknown type tag".into()))?;
            let not_null = r.u8()? != 0;
            let text_kind = if v >= 2 {
                let kind = r.u8()?;
                let len = r.u32()?;
                match kind {
                    0 => TextKind::Text,
                    1 => TextKind::Varchar(None),
                    2 => TextKind::Varchar(Some(len)),
                    3 => TextKind::Char(len),
                    _ => return Err(DecodeError("unknown character kind".into())),
                }
            } else {
                TextKind::Text
            };
            columns.push(Column {
                name,
                ty,
                not_null,
                text_kind,
            });
        }
        let k = r.count(COLUMNS_MAX)?;
        let mut pk = Vec::with_capacity(k as usize);
        for _ in 0..k {
            let i = r.u32()? as usize;
            if i >= columns.len() {
                return Err(DecodeError("primary key column out of range".into()));
            }
            pk.push(i);
        }
        let mut indexes = Vec::new();
        if v >= 3 {
            let n = r.count(INDEXES_MAX)?;
            for _ in 0..n {
                let name = r.string(NAME_BYTES_MAX)?;
                let oid = r.u32()?;
                let tree = PageId(r.u64()?);
                let flags = r.u8()?;
                if flags > 3 {
                    return Err(DecodeError("unknown index flags".into()));
                }
                let k = r.count(INDEX_COLUMNS_MAX as u32)?;
                if k == 0 {
                    return Err(DecodeError("index without columns".into()));
                }
                let mut cols = Vec::with_capacity(k as usize);
                for _ in 0..k {
                    let i = r.u32()? as usize;
                    if i >= columns.len() {
                        return Err(DecodeError("index column out of range".into()));
                    }
                    cols.push(i);
                }
                indexes.push(IndexDef {
                    name,
                    oid,
                    tree,
                    columns: cols,
                    unique: flags & 1 != 0,
                    constraint: flags & 2 != 0,
                });
            }
        }
        r.finish()?;
        Ok(TableDef {
            name,
            oid,
            tree,
            columns,
            pk,
            indexes,
        })
    }
}

/// Encodes a row's values (one per column, already of the column's type).
pub fn encode_row(values: &[Value], out: &mut Vec<u8>) {
    out.put_u16(values.len() as u16);
    for v in values {
        match v {
            Value::Null => out.put_u8(0),
            Value::Bool(b) => {
                out.put_u8(1);
                out.put_u8(u8::from(*b));
            }
            Value::Int(i) => {
                out.put_u8(2);
                out.put_u64(*i as u64);
            }
            Value::Float(f) => {
                out.put_u8(3);
                out.put_u64(f.to_bits());
            }
            Value::Text(s) => {
                out.put_u8(4);
                out.put_str(s);
            }
            Value::Timestamp(t) => {
                out.put_u8(5);
                out.put_u64(*t as u64);
            }
        }
    }
}

/// Decodes a row of `ncols` values. Rows written before a column existed are padded with NULLs.
pub fn decode_row(bytes: &[u8], ncols: usize) -> SqlResult<Vec<Value>> {
    let corrupt = |e: borealis_common::codec::DecodeError| SqlError::Corrupted(format!("row: {e}"));
    let mut r = Reader::new(bytes);
    let n = r.u16().map_err(corrupt)? as usize;
    let mut vals = Vec::with_capacity(ncols.max(n));
    for _ in 0..n {
        let tag = r.u8().map_err(corrupt)?;
        vals.push(match tag {
            0 => Value::Null,
            1 => Value::Bool(r.u8().map_err(corrupt)? != 0),
            2 => Value::Int(r.u64().map_err(corrupt)? as i64),
            3 => Value::Float(f64::from_bits(r.u64().map_err(corrupt)?)),
            4 => Value::Text(r.string(u32::MAX).map_err(corrupt)?),
            5 => Value::Timestamp(r.u64().map_err(corrupt)? as i64),
            t => return Err(SqlError::Corrupted(format!("row: unknown value tag {t}"))),
        });
    }
    vals.resize(ncols, Value::Null);
    vals.truncate(ncols);
    Ok(vals)
}

/// Appends the memcomparable encoding of a key value: byte order equals SQL order.
pub fn encode_key_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(0x00),
        Value::Bool(b) => out.push(u8::from(*b)),
        Value::Int(i) | Value::Timestamp(i) => {
            out.extend_from_slice(&((*i as u64) ^ (1 << 63)).to_be_bytes())
        }
        Value::Float(f) => {
            // SQL equality: -0 = 0, and every NaN is one value that sorts above +Infinity.
            let f = if *f == 0.0 {
                0.0
            } else if f.is_nan() {
                f64::NAN
            } else {
                *f
            };
            let bits = f.to_bits();
            let key = if f.is_sign_negative() {
                !bits
            } else {
                bits ^ (1 << 63)
            };
            out.extend_from_slice(&key.to_be_bytes());
        }
        Value::Text(s) => {
            for &b in s.as_bytes() {
                out.push(b);
                if b == 0 {
                    out.push(0xff);
                }
            }
            out.extend_from_slice(&[0, 0]);
        }
    }
}

/// The B+tree key of a row with a primary key.
#[must_use]
pub fn pk_key(def: &TableDef, row: &[Value]) -> Vec<u8> {
    let mut k = Vec::with_capacity(16);
    for &i in &def.pk {
        encode_key_value(&row[i], &mut k);
    }
    k
}

/// Marks a non-NULL column in an index key; NULL is [`INDEX_NULL`] alone, sorting after every
/// value, as in PostgreSQL's default `NULLS LAST` B-tree order.
pub const INDEX_VALUE: u8 = 0x01;
/// An indexed NULL.
pub const INDEX_NULL: u8 = 0x02;

/// Appends one column of an index key: [`INDEX_VALUE`] then the memcomparable value, or
/// [`INDEX_NULL`]. Self-delimiting, so concatenations sort column by column.
pub fn encode_index_value(v: &Value, out: &mut Vec<u8>) {
    if v.is_null() {
        out.push(INDEX_NULL);
    } else {
        out.push(INDEX_VALUE);
        encode_key_value(v, out);
    }
}

/// The entry of `row` (whose table key is `table_key`) in index `ix`: (key, value).
#[must_use]
pub fn index_entry(ix: &IndexDef, row: &[Value], table_key: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut k = Vec::with_capacity(16 + table_key.len());
    let mut any_null = false;
    for &c in &ix.columns {
        any_null |= row[c].is_null();
        encode_index_value(&row[c], &mut k);
    }
    // NULLs are distinct, as in PostgreSQL: such entries never collide.
    if !ix.unique || any_null {
        k.extend_from_slice(table_key);
    }
    (k, table_key.to_vec())
}

/// The B+tree key of a hidden row id.
#[must_use]
pub fn rowid_key(id: u64) -> Vec<u8> {
    id.to_be_bytes().to_vec()
}

/// Parses a hidden row id key.
#[must_use]
pub fn rowid_of_key(key: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(key).ok().map(u64::from_be_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_like_values() {
        let vals = [
            Value::Int(i64::MIN),
            Value::Int(-5),
            Value::Int(0),
            Value::Int(7),
            Value::Int(i64::MAX),
        ];
        let keys: Vec<Vec<u8>> = vals
            .iter()
            .map(|v| {
                let mut k = Vec::new();
                encode_key_value(v, &mut k);
                k
            })
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        let texts = ["", "a", "a\0", "a\0b", "ab", "b"];
        let keys: Vec<Vec<u8>> = texts
            .iter()
            .map(|t| {
                let mut k = Vec::new();
                encode_key_value(&Value::Text((*t).into()), &mut k);
                k
            })
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        let floats = [f64::NEG_INFINITY, -2.5, -0.0, 1.0, 3.5, f64::INFINITY];
        let keys: Vec<Vec<u8>> = floats
            .iter()
            .map(|f| {
                let mut k = Vec::new();
                encode_key_value(&Value::Float(*f), &mut k);
                k
            })
            .collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]));
        let key = |f: f64| {
            let mut k = Vec::new();
            encode_key_value(&Value::Float(f), &mut k);
            k
        };
        assert_eq!(key(-0.0), key(0.0), "-0 and 0 are the same key");
        assert_eq!(key(-f64::NAN), key(f64::NAN), "NaN is one key");
        assert!(
            key(f64::NAN) > key(f64::INFINITY),
            "NaN sorts above Infinity"
        );
    }

    #[test]
    fn rows_and_defs_round_trip() {
        let row = vec![
            Value::Int(-3),
            Value::Null,
            Value::Text("x".into()),
            Value::Float(1.5),
            Value::Bool(true),
        ];
        let mut b = Vec::new();
        encode_row(&row, &mut b);
        assert_eq!(decode_row(&b, 5).unwrap(), row);
        assert!(decode_row(&b[..b.len() - 1], 5).is_err());
        let def = TableDef {
            name: "t".into(),
            oid: TableDef::oid_for_tree(PageId(9)),
            tree: PageId(9),
            columns: vec![
                Column::new("a", DataType::Int4, true),
                Column {
                    text_kind: TextKind::Char(84),
                    ..Column::new("f", DataType::Text, false)
                },
            ],
            pk: vec![0],
            indexes: vec![IndexDef {
                name: "t_f_key".into(),
                oid: TableDef::oid_for_tree(PageId(11)),
                tree: PageId(11),
                columns: vec![1, 0],
                unique: true,
                constraint: true,
            }],
        };
        assert_eq!(TableDef::decode(&def.encode()).unwrap(), def);
        // A version 2 entry (no index list) still reads, with no indexes.
        let mut v2 = def.encode();
        v2[0] = 2;
        let ix_bytes = 4 + 4 + 7 + 4 + 8 + 1 + 4 + 2 * 4;
        v2.truncate(v2.len() - ix_bytes);
        let old = TableDef::decode(&v2).unwrap();
        assert!(old.indexes.is_empty());
        assert_eq!(old.columns, def.columns);
        // An index column out of range is refused.
        let mut bad = def.clone();
        bad.indexes[0].columns = vec![5];
        assert!(TableDef::decode(&bad.encode()).is_err());
    }

    #[test]
    fn index_entries_keep_nulls_distinct_and_sort_nulls_last() {
        let ix = IndexDef {
            name: "i".into(),
            oid: 0,
            tree: PageId(3),
            columns: vec![0],
            unique: true,
            constraint: false,
        };
        let (k1, v1) = index_entry(&ix, &[Value::Int(5)], b"pk1");
        let (k2, _) = index_entry(&ix, &[Value::Int(5)], b"pk2");
        assert_eq!(k1, k2, "unique, non-NULL: the key is the value alone");
        assert_eq!(v1, b"pk1");
        let (n1, _) = index_entry(&ix, &[Value::Null], b"pk1");
        let (n2, _) = index_entry(&ix, &[Value::Null], b"pk2");
        assert_ne!(n1, n2, "NULLs are distinct");
        assert!(n1 > k1, "NULL sorts after values");
        let plain = IndexDef {
            unique: false,
            ..ix
        };
        let (p1, _) = index_entry(&plain, &[Value::Int(5)], b"pk1");
        let (p2, _) = index_entry(&plain, &[Value::Int(5)], b"pk2");
        assert!(p1 < p2 && p1.starts_with(&k1));
    }
}
