//! Secondary indexes: keeping their entries in step with the rows, building them, and naming
//! them as PostgreSQL does.
//!
//! Every index is an engine B+tree of its own, MVCC like the table's: an entry is written in the
//! same transaction as the row change that causes it, so a snapshot that sees a row sees exactly
//! its entries, and a rollback takes both away. Entries are laid out by
//! [`index_entry`] (see docs/formats.md):
//!
//! ```text
//!   table tree:  pk ─────────────────────────────▶ row
//!   index tree:  (a, b) [‖ pk] ──────────────────▶ pk      (pk appended unless unique and no NULL)
//! ```
//!
//! Uniqueness is the engine's: inserting an entry whose key is there already fails with
//! `DuplicateKey`, after waiting for the row lock of a concurrent inserter of the same key (so a
//! second inserter blocks until the first commits, then fails, or proceeds if it rolled back),
//! which is PostgreSQL's behaviour for unique indexes. Writers call [`insert_entries`],
//! [`delete_entries`] and [`update_entries`] for every row they change; readers go through
//! the access paths of [`crate::query`].

use crate::catalog::{IndexDef, TableDef, decode_row, index_entry};
use crate::error::{SqlError, SqlResult};
use crate::expr::CancelFlag;
use crate::spill::EntrySorter;
use crate::types::Value;
use borealis_engine::{CATALOG, Engine, EngineError, Txn};
use std::ops::Bound;

/// Most numbered variants tried when choosing a default index name (PostgreSQL has no bound;
/// a table with this many same-named indexes is not a real case).
const NAME_TRIES_MAX: usize = 10_000;

/// `(a, b)=(1, x)`: the columns and values PostgreSQL names in a unique-violation detail.
#[must_use]
pub fn key_text(def: &TableDef, columns: &[usize], row: &[Value]) -> String {
    let names: Vec<&str> = columns
        .iter()
        .map(|&i| def.columns[i].name.as_str())
        .collect();
    let vals: Vec<String> = columns
        .iter()
        .map(|&i| row[i].to_text().unwrap_or_else(|| "null".into()))
        .collect();
    format!("({})=({})", names.join(", "), vals.join(", "))
}

/// The error for a row whose entry in unique index `ix` collides with another row's.
#[must_use]
pub fn unique_violation(def: &TableDef, ix: &IndexDef, row: &[Value]) -> SqlError {
    SqlError::UniqueViolation {
        constraint: ix.name.clone(),
        detail: format!("Key {} already exists.", key_text(def, &ix.columns, row)),
    }
}

/// Adds the entries of a new row (table key `table_key`) to every index of its table.
pub fn insert_entries(
    engine: &Engine,
    txn: &mut Txn,
    def: &TableDef,
    row: &[Value],
    table_key: &[u8],
) -> SqlResult<()> {
    for ix in &def.indexes {
        let (key, value) = index_entry(ix, row, table_key);
        match engine.insert(txn, ix.tree, &key, &value) {
            Ok(()) => {}
            Err(EngineError::DuplicateKey) => return Err(unique_violation(def, ix, row)),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Removes the entries of a deleted row from every index of its table.
pub fn delete_entries(
    engine: &Engine,
    txn: &mut Txn,
    def: &TableDef,
    row: &[Value],
    table_key: &[u8],
) -> SqlResult<()> {
    for ix in &def.indexes {
        let (key, _) = index_entry(ix, row, table_key);
        engine.delete(txn, ix.tree, &key)?;
    }
    Ok(())
}

/// Moves the entries of an updated row: only indexes whose entry changed are written (an
/// update that touches no indexed column and keeps the table key writes no index at all).
pub fn update_entries(
    engine: &Engine,
    txn: &mut Txn,
    def: &TableDef,
    (old, old_key): (&[Value], &[u8]),
    (new, new_key): (&[Value], &[u8]),
) -> SqlResult<()> {
    for ix in &def.indexes {
        let (ok, ov) = index_entry(ix, old, old_key);
        let (nk, nv) = index_entry(ix, new, new_key);
        if ok == nk {
            if ov != nv {
                engine.put(txn, ix.tree, &nk, &nv)?;
            }
            continue;
        }
        engine.delete(txn, ix.tree, &ok)?;
        match engine.insert(txn, ix.tree, &nk, &nv) {
            Ok(()) => {}
            Err(EngineError::DuplicateKey) => return Err(unique_violation(def, ix, new)),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Fills the (new, empty) tree of index `ix` from the rows of `def` the transaction sees, as
/// PostgreSQL's sorted B-tree build does: the table is read batch by batch, its entries sorted
/// within `work_mem` bytes (`maintenance_work_mem`; runs spill to temporary files beyond it),
/// then inserted in key order. Each insert lands past every key before it, so the tree grows
/// at its right edge and its leaves split 90/10 (see the engine's append split), whatever the
/// order of the table. Inserted in table order, the entries of an index on an unrelated column
/// landed all over the tree, splitting leaves in the middle: a quarter more pages, and a cache
/// miss per insert. A unique index over duplicate values fails as PostgreSQL's build does:
/// `could not create unique index`, with the duplicated key in the detail. The sorter checks
/// the statement's cancel flag as it gives the entries out.
pub fn build(
    engine: &Engine,
    txn: &mut Txn,
    def: &TableDef,
    ix: &IndexDef,
    work_mem: usize,
    cancel: &CancelFlag,
) -> SqlResult<()> {
    let mut sorter = EntrySorter::new(cancel, work_mem);
    let mut from: Option<Vec<u8>> = None;
    loop {
        cancel.check()?;
        let lower = match &from {
            Some(k) => Bound::Excluded(k.as_slice()),
            None => Bound::Unbounded,
        };
        let batch = engine.scan(
            txn,
            def.tree,
            lower,
            Bound::Unbounded,
            crate::query::SCAN_BATCH_ROWS,
        )?;
        let full = batch.len() == crate::query::SCAN_BATCH_ROWS;
        for (k, v) in &batch {
            let row = decode_row(v, def.columns.len())?;
            let (key, value) = index_entry(ix, &row, k);
            sorter.push(&key, &value)?;
        }
        if !full {
            break;
        }
        from = batch.last().map(|(k, _)| k.clone());
    }
    sorter.finish(|key, value| {
        match engine.insert(txn, ix.tree, key, value) {
            Ok(()) => Ok(()),
            Err(EngineError::DuplicateKey) => {
                // The entry's value is its row's table key.
                let stored = engine.get(txn, def.tree, value)?.ok_or_else(|| {
                    SqlError::Internal("index build: a duplicated entry's row is gone".into())
                })?;
                let row = decode_row(&stored, def.columns.len())?;
                Err(SqlError::UniqueIndexBuild {
                    index: ix.name.clone(),
                    detail: format!("Key {} is duplicated.", key_text(def, &ix.columns, &row)),
                })
            }
            Err(e) => Err(e.into()),
        }
    })
}

/// Where a relation name is taken: by a table, or by an index (the primary key's included) of
/// the table returned with the index's position (`None` for the primary key).
pub enum NameOwner {
    Table,
    /// Boxed: a table definition is large beside the other variant.
    Index(Box<TableDef>, Option<usize>),
}

/// Which relation, if any, holds the name of catalog key `key` (relations and indexes share
/// one namespace per schema; see [`crate::namespace`]).
pub fn name_owner(engine: &Engine, txn: &Txn, key: &str) -> SqlResult<Option<NameOwner>> {
    if engine.get(txn, CATALOG, key.as_bytes())?.is_some() {
        return Ok(Some(NameOwner::Table));
    }
    let (schema, name) = crate::namespace::split_key(key);
    for def in crate::catalog_views::user_tables(engine, txn)? {
        if def.schema != schema {
            continue;
        }
        if !def.pk.is_empty() && def.pk_name() == name {
            return Ok(Some(NameOwner::Index(Box::new(def), None)));
        }
        if let Some(i) = def.indexes.iter().position(|ix| ix.name == name) {
            return Ok(Some(NameOwner::Index(Box::new(def), Some(i))));
        }
    }
    Ok(None)
}

/// PostgreSQL's name for a new index or constraint: `table_col1_col2_suffix`, with a number
/// appended (`…_idx1`, `…_idx2`) until no relation of `schema` has it. `taken` holds names
/// chosen in the same statement that are not in the catalog yet.
pub fn choose_name(
    engine: &Engine,
    txn: &Txn,
    schema: &str,
    table: &str,
    columns: &[&str],
    suffix: &str,
    taken: &[String],
) -> SqlResult<String> {
    let base = format!("{table}_{}", columns.join("_"));
    for n in 0..NAME_TRIES_MAX {
        let name = if n == 0 {
            format!("{base}_{suffix}")
        } else {
            format!("{base}_{suffix}{n}")
        };
        if !taken.contains(&name)
            && name_owner(engine, txn, &crate::namespace::rel_key(schema, &name))?.is_none()
        {
            return Ok(name);
        }
    }
    Err(SqlError::DuplicateTable(format!("{base}_{suffix}")))
}
