//! Comments on objects (`COMMENT ON TABLE/COLUMN/INDEX/SEQUENCE … IS '…'`), as
//! `pg_description` holds them.
//!
//! A comment is a catalog entry of its own, written in the commenting transaction like any DDL,
//! so it is exactly as transactional. Its key starts with a NUL byte, which no relation name can
//! contain, so comments never collide with the definitions keyed by name; its value starts with
//! [`COMMENT_TAG`], so the catalog's other readers skip it.
//!
//! ```text
//!   key:   0x00 'c' | classoid:u32 | objoid:u32 | objsubid:i32     (big-endian: ordered)
//!   value: COMMENT_TAG | description (UTF-8)
//! ```
//!
//! `objsubid` is the column number for a column's comment, 0 otherwise. Dropping a table drops
//! the comments on it and on its columns ([`drop_all`]); dropping a column drops its comment and
//! renumbers those of the columns after it, as Borealis renumbers the columns ([`drop_column`]).

use crate::error::{SqlError, SqlResult};
use borealis_engine::{CATALOG, Engine, Txn};
use std::ops::Bound;

/// First byte of a comment's catalog entry (table definitions start with their format version,
/// sequences with 0x81, views with 0x82).
pub const COMMENT_TAG: u8 = 0x83;
const KEY_PREFIX: &[u8] = b"\0c";
/// The first key after every comment's.
const KEY_END: &[u8] = b"\0d";
/// Comments read per scan batch.
const BATCH: usize = 256;

/// One comment: (classoid, objoid, objsubid, description).
pub type Comment = (u32, u32, i32, String);

fn key(classoid: u32, objoid: u32, subid: i32) -> Vec<u8> {
    let mut k = KEY_PREFIX.to_vec();
    k.extend_from_slice(&classoid.to_be_bytes());
    k.extend_from_slice(&objoid.to_be_bytes());
    k.extend_from_slice(&subid.to_be_bytes());
    k
}

fn decode(k: &[u8], v: &[u8]) -> SqlResult<Comment> {
    let corrupt = || SqlError::Corrupted("a comment's catalog entry is malformed".into());
    let rest = k.strip_prefix(KEY_PREFIX).ok_or_else(corrupt)?;
    let [a, b, c] = [0, 4, 8].map(|i| rest.get(i..i + 4).and_then(|s| <[u8; 4]>::try_from(s).ok()));
    let (Some(a), Some(b), Some(c)) = (a, b, c) else {
        return Err(corrupt());
    };
    let text = match v.split_first() {
        Some((&COMMENT_TAG, t)) => String::from_utf8(t.to_vec()).map_err(|_| corrupt())?,
        _ => return Err(corrupt()),
    };
    Ok((
        u32::from_be_bytes(a),
        u32::from_be_bytes(b),
        i32::from_be_bytes(c),
        text,
    ))
}

/// Sets (or with `None`, or an empty text as PostgreSQL treats it, removes) a comment.
pub fn set(
    engine: &Engine,
    txn: &mut Txn,
    classoid: u32,
    objoid: u32,
    subid: i32,
    text: Option<&str>,
) -> SqlResult<()> {
    let k = key(classoid, objoid, subid);
    match text.filter(|t| !t.is_empty()) {
        Some(t) => {
            let mut v = Vec::with_capacity(t.len() + 1);
            v.push(COMMENT_TAG);
            v.extend_from_slice(t.as_bytes());
            engine.put(txn, CATALOG, &k, &v)?;
        }
        None => {
            engine.delete(txn, CATALOG, &k)?;
        }
    }
    Ok(())
}

/// Every comment the transaction sees, in key order.
pub fn all(engine: &Engine, txn: &Txn) -> SqlResult<Vec<Comment>> {
    let mut out = Vec::new();
    let mut from = KEY_PREFIX.to_vec();
    let mut lower = Bound::Included(from.clone());
    loop {
        let batch = engine.scan(
            txn,
            CATALOG,
            lower.as_ref().map(Vec::as_slice),
            Bound::Excluded(KEY_END),
            BATCH,
        )?;
        let full = batch.len() == BATCH;
        for (k, v) in &batch {
            out.push(decode(k, v)?);
            from.clone_from(k);
        }
        if !full {
            return Ok(out);
        }
        lower = Bound::Excluded(from.clone());
    }
}

/// The comment on one object, if any.
pub fn get(
    engine: &Engine,
    txn: &Txn,
    classoid: u32,
    objoid: u32,
    subid: i32,
) -> SqlResult<Option<String>> {
    let k = key(classoid, objoid, subid);
    match engine.get(txn, CATALOG, &k)? {
        Some(v) => Ok(Some(decode(&k, &v)?.3)),
        None => Ok(None),
    }
}

/// Removes every comment on object `objoid` of catalog `classoid` (and on its columns).
pub fn drop_all(engine: &Engine, txn: &mut Txn, classoid: u32, objoid: u32) -> SqlResult<()> {
    let keys: Vec<Vec<u8>> = all(engine, txn)?
        .into_iter()
        .filter(|(c, o, _, _)| *c == classoid && *o == objoid)
        .map(|(c, o, s, _)| key(c, o, s))
        .collect();
    for k in keys {
        engine.delete(txn, CATALOG, &k)?;
    }
    Ok(())
}

/// After `DROP COLUMN` of column `attnum` (columns after it move down one place): its comment
/// goes and the later columns' comments follow their columns.
pub fn drop_column(
    engine: &Engine,
    txn: &mut Txn,
    classoid: u32,
    objoid: u32,
    attnum: i32,
) -> SqlResult<()> {
    let later: Vec<Comment> = all(engine, txn)?
        .into_iter()
        .filter(|(c, o, s, _)| *c == classoid && *o == objoid && *s >= attnum)
        .collect();
    for (c, o, s, text) in later {
        engine.delete(txn, CATALOG, &key(c, o, s))?;
        if s > attnum {
            set(engine, txn, c, o, s - 1, Some(&text))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_decode_and_sort_by_object() {
        let k = key(1259, 16390, 2);
        let mut v = vec![COMMENT_TAG];
        v.extend_from_slice("a note".as_bytes());
        assert_eq!(decode(&k, &v).unwrap(), (1259, 16390, 2, "a note".into()));
        assert!(key(1259, 16390, 0) < key(1259, 16390, 1));
        assert!(key(1259, 16390, 9) < key(1259, 16391, 0));
        assert!(key(u32::MAX, u32::MAX, i32::MAX).as_slice() < KEY_END);
        assert!(decode(&k, b"\x01x").is_err());
        assert!(decode(b"\0c\0\0", &v).is_err());
    }
}
