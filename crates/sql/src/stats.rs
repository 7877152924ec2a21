//! Planner statistics: what `ANALYZE` (and autoanalyze) learns about a table's rows, stored as a
//! catalog entry, read back by the planner's estimates ([`crate::cost`]) and shown through
//! `pg_stats`, `pg_class.reltuples/relpages` and `pg_stat_user_tables`.
//!
//! ```text
//!  table rows ─reservoir sample (≤ SAMPLE_ROWS_MAX)─▶ per column: sort, count runs
//!      ─▶ null_frac, avg_width, n_distinct, MCVs + frequencies, histogram bounds, correlation
//!      ─▶ one catalog entry per table, written in the analyzing transaction
//! ```
//!
//! The numbers follow PostgreSQL 15's `compute_scalar_stats` so that the same data gives the same
//! statistics where the sample is the whole table: `n_distinct` is the Haas–Stokes `Duj1`
//! estimate, stored as a negative fraction of the rows when it exceeds a tenth of them; the most
//! common values are those seen more than once, kept when they are clearly more common than the
//! rest would be (`analyze_mcv_list`); the histogram divides the remaining values into
//! [`STATISTICS_TARGET`] bins of equal count; the correlation is that of the values' sort order
//! with their order in the table (here the table's key order, PostgreSQL's is physical order).
//! The sample is a seeded reservoir sample of every row (PostgreSQL samples blocks first), so
//! an unchanged table analyzes to the same statistics.
//!
//! The entry is a catalog entry of its own, exactly as transactional as DDL (comments.rs is the
//! model): its key starts with a NUL byte, which no relation name can contain, and its value with
//! [`STATS_TAG`], so the catalog's other readers skip it. Dropping a table drops it; dropping a
//! column drops that column's part and renumbers the rest.
//!
//! ```text
//!   key:   0x00 's' | table oid:u32                                       (big-endian)
//!   value: STATS_TAG | version:u8 | reltuples:f64 | relpages:u64 | tree:u64
//!          | last_analyze_us:u64 | last_autoanalyze_us:u64 (0: never)
//!          | analyze_count:u64 | autoanalyze_count:u64
//!          | inserted, updated, deleted at the analyze: u64 ×3   (engine counters)
//!          | columns:u16 × { attnum:u16 | type oid:u32 | null_frac:f64 | avg_width:u32
//!                            | n_distinct:f64 | has_correlation:u8 | correlation:f64
//!                            | mcv values (a row) | mcv freqs: u16 + f64 × n
//!                            | histogram bounds (a row) }
//! ```
//! (numbers little-endian; a row is [`crate::catalog::encode_row`]'s format, length-prefixed.)
//!
//! `n_mod_since_analyze` compares the engine's activity counters (kept in memory since the
//! writer opened) with the ones saved at the analyze; after a restart the counters start again
//! from zero and the saved ones are ignored. Autoanalyze ([`autoanalyze_step`]) analyzes a table
//! once that count exceeds [`AUTOANALYZE_THRESHOLD`] + [`AUTOANALYZE_SCALE`] × `reltuples`,
//! PostgreSQL's defaults.

use crate::catalog::{TableDef, decode_row, encode_row};
use crate::error::{SqlError, SqlResult};
use crate::types::{DataType, Value};
use borealis_common::codec::{DecodeError, DecodeResult, Put, Reader};
use borealis_engine::{CATALOG, Engine, Txn};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex};

/// First byte of a statistics entry (tables start with their format version, sequences 0x81,
/// views 0x82, comments 0x83).
pub const STATS_TAG: u8 = 0x84;
const FORMAT_VERSION: u8 = 1;
const KEY_PREFIX: &[u8] = b"\0s";
/// The first key after every statistics entry's.
const KEY_END: &[u8] = b"\0t";
/// The first catalog key a named object (table, view, sequence) can have: readers that list
/// those start here and never read the statistics (or comments) entries, whose frequent
/// rewrites a long-lived snapshot may no longer be able to read.
pub const NAMED_ENTRIES_FROM: &[u8] = b"\x01";
/// PostgreSQL's `default_statistics_target`: most common values kept, histogram bins.
pub const STATISTICS_TARGET: usize = 100;
/// Rows sampled per table: 300 × the target, as PostgreSQL samples.
pub const SAMPLE_ROWS_MAX: usize = 300 * STATISTICS_TARGET;
/// Autoanalyze's base threshold (`autovacuum_analyze_threshold`).
pub const AUTOANALYZE_THRESHOLD: f64 = 50.0;
/// Autoanalyze's share of the rows (`autovacuum_analyze_scale_factor`).
pub const AUTOANALYZE_SCALE: f64 = 0.1;
/// Rows read per engine call while sampling.
const SCAN_BATCH_ROWS: usize = 1024;
/// Catalog entries read per scan batch.
const CATALOG_BATCH: usize = 256;
/// Most columns and most values per list an entry may hold (bounds for decoding).
const COLUMNS_MAX: u32 = 1600;
const VALUES_MAX: usize = 2 * STATISTICS_TARGET + 2;
/// Bytes per catalog entry: an entry is split into chunks that fit the engine's entry size
/// several times over, so that a chunk's older versions stay beside its newest one for the
/// snapshots that still read them (an engine chain keeps old versions only while they fit).
const CHUNK_BYTES: usize = 256;
/// Values wider than this are left out of the most common values and the histogram (they
/// count as distinct), as PostgreSQL's `WIDTH_THRESHOLD` leaves them out.
const WIDTH_THRESHOLD: usize = 1024;
/// Decoded entries kept for the planner (keyed by table oid, checked against the stored bytes).
const CACHE_ENTRIES_MAX: usize = 1024;

/// One column's statistics (`pg_statistic`'s row for it).
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnStats {
    /// The column's position in the table (0-based).
    pub attnum: u16,
    /// The column's type when analyzed: statistics of a column whose type changed since are
    /// ignored.
    pub type_oid: u32,
    pub null_frac: f64,
    pub avg_width: u32,
    /// Distinct non-NULL values; negative: minus that number as a fraction of the rows.
    pub n_distinct: f64,
    /// Most common values, most common first, with their frequencies (fractions of all rows).
    pub mcv: Vec<Value>,
    pub mcv_freqs: Vec<f64>,
    /// Bounds of bins of equal count over the values not in `mcv`, ascending.
    pub histogram: Vec<Value>,
    pub correlation: Option<f64>,
}

impl ColumnStats {
    /// Distinct non-NULL values in a table of `rows` rows.
    #[must_use]
    pub fn distinct(&self, rows: f64) -> f64 {
        if self.n_distinct < 0.0 {
            (-self.n_distinct * rows).max(1.0)
        } else {
            self.n_distinct.max(1.0)
        }
    }
}

/// A table's statistics: its `pg_class` numbers, its analyze history and its columns'.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableStats {
    pub reltuples: f64,
    pub relpages: u64,
    /// The table's tree when analyzed: a table rewritten since (TRUNCATE, a rebuild) has a new
    /// one, whose row count and changes start afresh.
    pub tree: u64,
    pub last_analyze_us: Option<u64>,
    pub last_autoanalyze_us: Option<u64>,
    pub analyze_count: u64,
    pub autoanalyze_count: u64,
    /// The engine's counters (inserted, updated, deleted) when analyzed.
    pub counters_at_analyze: [u64; 3],
    pub columns: Vec<ColumnStats>,
}

impl TableStats {
    /// Whether these statistics were gathered from `def`'s current tree (not before a
    /// TRUNCATE or a rebuild): only then do `reltuples` and `relpages` describe it.
    #[must_use]
    pub fn current(&self, def: &TableDef) -> bool {
        self.tree == def.tree.0
    }

    /// The statistics of column `c` of `def`, if analyzed with the column's current type.
    #[must_use]
    pub fn column(&self, def: &TableDef, c: usize) -> Option<&ColumnStats> {
        let col = def.columns.get(c)?;
        self.columns
            .iter()
            .find(|s| usize::from(s.attnum) == c && s.type_oid == col.ty.oid())
    }
}

fn key(oid: u32, chunk: u16) -> Vec<u8> {
    let mut k = KEY_PREFIX.to_vec();
    k.extend_from_slice(&oid.to_be_bytes());
    k.extend_from_slice(&chunk.to_be_bytes());
    k
}

/// The key range of one table's chunks.
fn table_range(oid: u32) -> (Vec<u8>, Vec<u8>) {
    let mut from = KEY_PREFIX.to_vec();
    from.extend_from_slice(&oid.to_be_bytes());
    let to = match oid.checked_add(1) {
        Some(next) => {
            let mut t = KEY_PREFIX.to_vec();
            t.extend_from_slice(&next.to_be_bytes());
            t
        }
        None => KEY_END.to_vec(),
    };
    (from, to)
}

/// Reads the chunks of the entries in `[from, to)`: (table oid, concatenated value) per table.
fn read_chunks(
    engine: &Engine,
    txn: &Txn,
    from: &[u8],
    to: &[u8],
) -> SqlResult<Vec<(u32, Vec<u8>)>> {
    let corrupt = || SqlError::Corrupted("a statistics key is malformed".into());
    let mut out: Vec<(u32, Vec<u8>)> = Vec::new();
    let mut lower = Bound::Included(from.to_vec());
    loop {
        let batch = engine.scan(
            txn,
            CATALOG,
            lower.as_ref().map(Vec::as_slice),
            Bound::Excluded(to),
            CATALOG_BATCH,
        )?;
        let full = batch.len() == CATALOG_BATCH;
        for (k, v) in &batch {
            let rest = k.strip_prefix(KEY_PREFIX).ok_or_else(corrupt)?;
            let oid = rest
                .get(..4)
                .and_then(|o| <[u8; 4]>::try_from(o).ok())
                .map(u32::from_be_bytes)
                .ok_or_else(corrupt)?;
            match out.last_mut() {
                Some((o, bytes)) if *o == oid => bytes.extend_from_slice(v),
                _ => out.push((oid, v.clone())),
            }
        }
        match batch.last() {
            Some((k, _)) if full => lower = Bound::Excluded(k.clone()),
            _ => return Ok(out),
        }
    }
}

/// Replaces table `oid`'s entry by `bytes`, in chunks.
fn write(engine: &Engine, txn: &mut Txn, oid: u32, bytes: &[u8]) -> SqlResult<()> {
    delete(engine, txn, oid)?;
    for (i, chunk) in bytes.chunks(CHUNK_BYTES).enumerate() {
        let i = u16::try_from(i)
            .map_err(|_| SqlError::ProgramLimitExceeded("table statistics are too large".into()))?;
        engine.put(txn, CATALOG, &key(oid, i), chunk)?;
    }
    Ok(())
}

fn delete(engine: &Engine, txn: &mut Txn, oid: u32) -> SqlResult<()> {
    let (from, to) = table_range(oid);
    let mut keys = Vec::new();
    let mut lower = Bound::Included(from);
    loop {
        let batch = engine.scan(
            txn,
            CATALOG,
            lower.as_ref().map(Vec::as_slice),
            Bound::Excluded(to.as_slice()),
            CATALOG_BATCH,
        )?;
        let full = batch.len() == CATALOG_BATCH;
        keys.extend(batch.iter().map(|(k, _)| k.clone()));
        match batch.last() {
            Some((k, _)) if full => lower = Bound::Excluded(k.clone()),
            _ => break,
        }
    }
    for k in keys {
        engine.delete(txn, CATALOG, &k)?;
    }
    Ok(())
}

fn put_f64(b: &mut Vec<u8>, f: f64) {
    b.put_u64(f.to_bits());
}

fn get_f64(r: &mut Reader<'_>) -> DecodeResult<f64> {
    Ok(f64::from_bits(r.u64()?))
}

fn put_values(b: &mut Vec<u8>, vs: &[Value]) {
    let mut row = Vec::new();
    encode_row(vs, &mut row);
    b.put_bytes(&row);
}

fn get_values(r: &mut Reader<'_>) -> DecodeResult<Vec<Value>> {
    let bytes = r.bytes(u32::MAX)?;
    let n = bytes
        .get(..2)
        .map_or(0, |b| usize::from(u16::from_le_bytes([b[0], b[1]])));
    let vs = decode_row(bytes, n).map_err(|e| DecodeError(e.to_string()))?;
    if vs.len() > VALUES_MAX {
        return Err(DecodeError("too many values".into()));
    }
    Ok(vs)
}

impl TableStats {
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![STATS_TAG, FORMAT_VERSION];
        put_f64(&mut b, self.reltuples);
        b.put_u64(self.relpages);
        b.put_u64(self.tree);
        b.put_u64(self.last_analyze_us.unwrap_or(0));
        b.put_u64(self.last_autoanalyze_us.unwrap_or(0));
        b.put_u64(self.analyze_count);
        b.put_u64(self.autoanalyze_count);
        for c in self.counters_at_analyze {
            b.put_u64(c);
        }
        b.put_u16(u16::try_from(self.columns.len()).unwrap_or(u16::MAX));
        for c in &self.columns {
            b.put_u16(c.attnum);
            b.put_u32(c.type_oid);
            put_f64(&mut b, c.null_frac);
            b.put_u32(c.avg_width);
            put_f64(&mut b, c.n_distinct);
            b.put_u8(u8::from(c.correlation.is_some()));
            put_f64(&mut b, c.correlation.unwrap_or(0.0));
            put_values(&mut b, &c.mcv);
            b.put_u16(u16::try_from(c.mcv_freqs.len()).unwrap_or(u16::MAX));
            for f in &c.mcv_freqs {
                put_f64(&mut b, *f);
            }
            put_values(&mut b, &c.histogram);
        }
        b
    }

    pub fn decode(bytes: &[u8]) -> SqlResult<TableStats> {
        Self::try_decode(bytes).map_err(|e| SqlError::Corrupted(format!("table statistics: {e}")))
    }

    fn try_decode(bytes: &[u8]) -> DecodeResult<TableStats> {
        let mut r = Reader::new(bytes);
        if r.u8()? != STATS_TAG || r.u8()? != FORMAT_VERSION {
            return Err(DecodeError("not a statistics entry".into()));
        }
        let nonzero = |v: u64| (v != 0).then_some(v);
        let mut s = TableStats {
            reltuples: get_f64(&mut r)?,
            relpages: r.u64()?,
            tree: r.u64()?,
            last_analyze_us: nonzero(r.u64()?),
            last_autoanalyze_us: nonzero(r.u64()?),
            analyze_count: r.u64()?,
            autoanalyze_count: r.u64()?,
            counters_at_analyze: [r.u64()?, r.u64()?, r.u64()?],
            columns: Vec::new(),
        };
        let n = r.u16()?;
        if u32::from(n) > COLUMNS_MAX {
            return Err(DecodeError("too many columns".into()));
        }
        for _ in 0..n {
            let attnum = r.u16()?;
            let type_oid = r.u32()?;
            let null_frac = get_f64(&mut r)?;
            let avg_width = r.u32()?;
            let n_distinct = get_f64(&mut r)?;
            let has_corr = r.u8()? != 0;
            let corr = get_f64(&mut r)?;
            let mcv = get_values(&mut r)?;
            let nf = usize::from(r.u16()?);
            if nf != mcv.len() {
                return Err(DecodeError(
                    "most common values and frequencies differ".into(),
                ));
            }
            let mut mcv_freqs = Vec::with_capacity(nf);
            for _ in 0..nf {
                mcv_freqs.push(get_f64(&mut r)?);
            }
            let histogram = get_values(&mut r)?;
            s.columns.push(ColumnStats {
                attnum,
                type_oid,
                null_frac,
                avg_width,
                n_distinct,
                mcv,
                mcv_freqs,
                histogram,
                correlation: has_corr.then_some(corr),
            });
        }
        r.finish()?;
        Ok(s)
    }
}

/// The stored bytes of table `oid`'s statistics as the transaction sees them.
fn get_bytes(engine: &Engine, txn: &Txn, oid: u32) -> SqlResult<Option<Vec<u8>>> {
    let (from, to) = table_range(oid);
    Ok(read_chunks(engine, txn, &from, &to)?.pop().map(|(_, b)| b))
}

/// The stored statistics of table `oid` as the transaction sees them.
pub fn get(engine: &Engine, txn: &Txn, oid: u32) -> SqlResult<Option<TableStats>> {
    match get_bytes(engine, txn, oid)? {
        Some(v) => TableStats::decode(&v).map(Some),
        None => Ok(None),
    }
}

type Cache = HashMap<u32, (Vec<u8>, Arc<TableStats>)>;
static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

/// The statistics the planner uses for `def`: decoded once per stored version and shared. The
/// first chunk holds the analyze's time and counts, so it tells versions apart: only it is read
/// when the decoded statistics are cached already.
pub fn for_planner(
    engine: &Engine,
    txn: &Txn,
    def: &TableDef,
) -> SqlResult<Option<Arc<TableStats>>> {
    let first = match engine.get(txn, CATALOG, &key(def.oid, 0)) {
        Ok(Some(b)) => b,
        Ok(None) => return Ok(None),
        // Planning without statistics beats failing the statement.
        Err(e) => {
            return match SqlError::from(e) {
                SqlError::SnapshotTooOld => Ok(None),
                e => Err(e),
            };
        }
    };
    {
        let cache = CACHE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((b, s)) = cache.as_ref().and_then(|c| c.get(&def.oid))
            && *b == first
        {
            return Ok(Some(s.clone()));
        }
    }
    let bytes = match get_bytes(engine, txn, def.oid) {
        Ok(Some(b)) => b,
        Ok(None) | Err(SqlError::SnapshotTooOld) => return Ok(None),
        Err(e) => return Err(e),
    };
    let s = Arc::new(TableStats::decode(&bytes)?);
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let cache = cache.get_or_insert_with(HashMap::new);
    if cache.len() >= CACHE_ENTRIES_MAX {
        cache.clear();
    }
    cache.insert(def.oid, (first, s.clone()));
    Ok(Some(s))
}

/// Every statistics entry the transaction sees: (table oid, statistics).
pub fn all(engine: &Engine, txn: &Txn) -> SqlResult<Vec<(u32, TableStats)>> {
    read_chunks(engine, txn, KEY_PREFIX, KEY_END)?
        .into_iter()
        .map(|(oid, b)| Ok((oid, TableStats::decode(&b)?)))
        .collect()
}

/// Every statistics entry by table oid, for the catalog views: none when a long-lived snapshot
/// can no longer read them (their older versions are not all kept).
pub fn by_table(engine: &Engine, txn: &Txn) -> SqlResult<HashMap<u32, TableStats>> {
    match all(engine, txn) {
        Ok(all) => Ok(all.into_iter().collect()),
        Err(SqlError::SnapshotTooOld) => Ok(HashMap::new()),
        Err(e) => Err(e),
    }
}

/// Drops a table's statistics (with the table).
pub fn drop_table(engine: &Engine, txn: &mut Txn, oid: u32) -> SqlResult<()> {
    delete(engine, txn, oid)
}

/// After `DROP COLUMN` of column `attnum` (0-based; later columns move down one place).
pub fn drop_column(engine: &Engine, txn: &mut Txn, oid: u32, attnum: usize) -> SqlResult<()> {
    let Some(mut s) = get(engine, txn, oid)? else {
        return Ok(());
    };
    s.columns.retain(|c| usize::from(c.attnum) != attnum);
    for c in &mut s.columns {
        if usize::from(c.attnum) > attnum {
            c.attnum -= 1;
        }
    }
    write(engine, txn, oid, &s.encode())
}

/// Rows changed since the last analyze: the engine's counters less those saved then (all of
/// them when the counters restarted since).
#[must_use]
pub fn mods_since_analyze(engine: &Engine, def: &TableDef, stats: Option<&TableStats>) -> u64 {
    let t = engine.tree_stats(def.tree);
    let now = [t.inserted, t.updated, t.deleted];
    let total: u64 = now.iter().sum();
    match stats {
        Some(s)
            if s.current(def) && now.iter().zip(&s.counters_at_analyze).all(|(n, a)| n >= a) =>
        {
            total - s.counters_at_analyze.iter().sum::<u64>()
        }
        _ => total,
    }
}

/// A small deterministic generator for the reservoir sample (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// `ANALYZE`: samples `def`'s rows and stores its statistics (for `columns` only, keeping the
/// other columns' earlier statistics, or for every column) in `txn`. `auto`: autoanalyze.
pub fn analyze(
    engine: &Engine,
    txn: &mut Txn,
    def: &TableDef,
    columns: Option<&[usize]>,
    auto: bool,
) -> SqlResult<()> {
    let ncols = def.columns.len();
    let mut rng = Rng(u64::from(def.oid));
    let mut sample: Vec<(u64, Vec<Value>)> = Vec::new();
    let mut total: u64 = 0;
    let mut last: Option<Vec<u8>> = None;
    loop {
        let lower = match &last {
            Some(k) => Bound::Excluded(k.as_slice()),
            None => Bound::Unbounded,
        };
        let batch = engine.scan(txn, def.tree, lower, Bound::Unbounded, SCAN_BATCH_ROWS)?;
        let full = batch.len() == SCAN_BATCH_ROWS;
        for (k, v) in batch {
            if sample.len() < SAMPLE_ROWS_MAX {
                sample.push((total, decode_row(&v, ncols)?));
            } else {
                let j = rng.below(total + 1);
                if let Ok(j) = usize::try_from(j)
                    && j < SAMPLE_ROWS_MAX
                {
                    sample[j] = (total, decode_row(&v, ncols)?);
                }
            }
            total += 1;
            last = Some(k);
        }
        if !full {
            break;
        }
    }
    sample.sort_by_key(|(n, _)| *n);
    let rows: Vec<Vec<Value>> = sample.into_iter().map(|(_, r)| r).collect();
    let previous = get(engine, txn, def.oid)?;
    let mut stats = previous.clone().unwrap_or_default();
    let wanted: Vec<usize> = match columns {
        Some(cs) => cs.to_vec(),
        None => (0..ncols).collect(),
    };
    for c in wanted {
        let col = column_stats(&rows, c, def.columns[c].ty, total as f64);
        stats.columns.retain(|s| usize::from(s.attnum) != c);
        stats.columns.push(col);
    }
    stats.columns.sort_by_key(|c| c.attnum);
    stats.reltuples = total as f64;
    stats.relpages = engine.tree_pages(def.tree)?;
    stats.tree = def.tree.0;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    if auto {
        stats.last_autoanalyze_us = Some(now);
        stats.autoanalyze_count += 1;
    } else {
        stats.last_analyze_us = Some(now);
        stats.analyze_count += 1;
    }
    let t = engine.tree_stats(def.tree);
    stats.counters_at_analyze = [t.inserted, t.updated, t.deleted];
    write(engine, txn, def.oid, &stats.encode())
}

/// Bytes a value takes in PostgreSQL's storage (`avg_width`): fixed-width types their length,
/// variable-width ones their data plus a 1-byte header (4 bytes above 126).
fn width(v: &Value, ty: DataType) -> usize {
    let varlena = |n: usize| if n < 127 { n + 1 } else { n + 4 };
    match ty {
        DataType::Bool => 1,
        DataType::Int2 => 2,
        DataType::Int4 | DataType::Float4 | DataType::Date => 4,
        DataType::Int8
        | DataType::Float8
        | DataType::Timestamp
        | DataType::TimestampTz
        | DataType::Time => 8,
        DataType::TimeTz => 12,
        DataType::Interval | DataType::Uuid => 16,
        DataType::Numeric => {
            // Base-10000 digits of 2 bytes each after a 2-byte header.
            let t = v.to_text().unwrap_or_default();
            let (int, frac) = t
                .trim_start_matches('-')
                .split_once('.')
                .unwrap_or((&t, ""));
            let int = int.trim_start_matches('-').trim_start_matches('0');
            let frac = frac.trim_end_matches('0');
            let digits = int.len().div_ceil(4) + frac.len().div_ceil(4);
            varlena(2 + 2 * digits)
        }
        _ => match v {
            Value::Text(s) | Value::Json(s) => varlena(s.len()),
            Value::Bytes(b) => varlena(b.len()),
            other => varlena(other.to_text().map_or(0, |t| t.len())),
        },
    }
}

fn order(a: &Value, b: &Value) -> Ordering {
    a.compare(b).ok().flatten().unwrap_or(Ordering::Equal)
}

/// PostgreSQL's `analyze_mcv_list`: how many of the most common values (their sample counts in
/// `counts`, descending) are clearly more common than the values left out would be.
fn mcv_kept(counts: &[usize], stadistinct: f64, null_frac: f64, sample: f64, total: f64) -> usize {
    let mut num = counts.len();
    if (sample - total).abs() < 0.5 || total <= 1.0 {
        return num;
    }
    let nd_table = if stadistinct < 0.0 {
        -stadistinct * total
    } else {
        stadistinct
    };
    let mut sum: f64 = counts[..num.saturating_sub(1)]
        .iter()
        .map(|&c| c as f64)
        .sum();
    while num > 0 {
        let mut selec = (1.0 - sum / sample - null_frac).clamp(0.0, 1.0);
        let other = nd_table - (num as f64 - 1.0);
        if other > 1.0 {
            selec /= other;
        }
        let (n_all, n) = (total, sample);
        let k = n_all * counts[num - 1] as f64 / n;
        let variance = n * k * (n_all - k) * (n_all - n) / (n_all * n_all * (n_all - 1.0));
        let stddev = variance.max(0.0).sqrt();
        if counts[num - 1] as f64 > selec * sample + 2.0 * stddev + 0.5 {
            break;
        }
        num -= 1;
        if num == 0 {
            break;
        }
        sum -= counts[num - 1] as f64;
    }
    num
}

/// One column's statistics over the sampled rows (in table order) of a table of `total` rows.
fn column_stats(rows: &[Vec<Value>], c: usize, ty: DataType, total: f64) -> ColumnStats {
    let sample = rows.len();
    let mut values: Vec<(&Value, usize)> = Vec::with_capacity(sample);
    let mut nulls = 0usize;
    let mut toowide = 0usize;
    let mut width_sum = 0usize;
    for r in rows {
        match r.get(c) {
            None | Some(Value::Null) => nulls += 1,
            Some(v) => {
                let w = width(v, ty);
                width_sum += w;
                if w > WIDTH_THRESHOLD {
                    toowide += 1;
                } else {
                    // Positions among the non-NULL values, as PostgreSQL numbers them.
                    values.push((v, values.len()));
                }
            }
        }
    }
    let mut out = ColumnStats {
        attnum: u16::try_from(c).unwrap_or(u16::MAX),
        type_oid: ty.oid(),
        null_frac: if sample > 0 {
            nulls as f64 / sample as f64
        } else {
            0.0
        },
        avg_width: 0,
        n_distinct: 0.0,
        mcv: Vec::new(),
        mcv_freqs: Vec::new(),
        histogram: Vec::new(),
        correlation: None,
    };
    let nonnull = values.len() + toowide;
    if nonnull == 0 {
        return out;
    }
    out.avg_width = u32::try_from(width_sum / nonnull).unwrap_or(u32::MAX);
    if ty == DataType::Json {
        // json has no equality: only the NULLs and the widths are counted, as in PostgreSQL.
        return out;
    }
    if values.is_empty() {
        // Every value too wide to compare: all taken as distinct.
        out.n_distinct = -(1.0 - out.null_frac);
        return out;
    }
    let n = nonnull;
    values.sort_by(|a, b| order(a.0, b.0).then(a.1.cmp(&b.1)));
    // Runs of equal values: (first index, count).
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for i in 0..n {
        match runs.last_mut() {
            Some((start, count)) if order(values[*start].0, values[i].0) == Ordering::Equal => {
                *count += 1;
            }
            _ => runs.push((i, 1)),
        }
    }
    let ndistinct = runs.len();
    let mut track: Vec<(usize, usize)> = runs.iter().copied().filter(|r| r.1 > 1).collect();
    let nmultiple = track.len();
    // Most frequent first; equal counts keep value order.
    track.sort_by_key(|t| std::cmp::Reverse(t.1));
    track.truncate(STATISTICS_TARGET);
    let null_frac = out.null_frac;
    let mut stadistinct = if nmultiple == 0 {
        -(1.0 - null_frac)
    } else if toowide == 0 && nmultiple == ndistinct {
        ndistinct as f64
    } else {
        let f1 = (ndistinct - nmultiple + toowide) as f64;
        let d = f1 + nmultiple as f64;
        let nn = n as f64;
        let big_n = total * (1.0 - null_frac);
        let mut est = if big_n > 0.0 {
            (nn * d) / ((nn - f1) + f1 * nn / big_n)
        } else {
            0.0
        };
        est = est.max(d).min(big_n.max(d));
        (est + 0.5).floor()
    };
    if stadistinct > 0.1 * total {
        stadistinct = -(stadistinct / total);
    }
    out.n_distinct = stadistinct;

    let num_mcv = if track.len() == ndistinct && toowide == 0 && stadistinct > 0.0 {
        track.len()
    } else {
        let counts: Vec<usize> = track.iter().map(|t| t.1).collect();
        if counts.is_empty() {
            0
        } else {
            mcv_kept(&counts, stadistinct, null_frac, sample as f64, total)
        }
    };
    track.truncate(num_mcv);
    for (start, count) in &track {
        out.mcv.push(values[*start].0.clone());
        out.mcv_freqs.push(*count as f64 / sample as f64);
    }

    let mut num_hist = ndistinct - num_mcv;
    if num_hist > STATISTICS_TARGET {
        num_hist = STATISTICS_TARGET + 1;
    }
    if num_hist >= 2 {
        let in_mcv: std::collections::HashSet<usize> = track.iter().map(|t| t.0).collect();
        let rest: Vec<&Value> = runs
            .iter()
            .filter(|r| !in_mcv.contains(&r.0))
            .flat_map(|&(start, count)| values[start..start + count].iter().map(|v| v.0))
            .collect();
        let nvals = rest.len();
        let delta = (nvals - 1) / (num_hist - 1);
        let deltafrac = (nvals - 1) % (num_hist - 1);
        let (mut pos, mut posfrac) = (0usize, 0usize);
        for _ in 0..num_hist {
            out.histogram.push(rest[pos.min(nvals - 1)].clone());
            pos += delta;
            posfrac += deltafrac;
            if posfrac >= num_hist - 1 {
                pos += 1;
                posfrac -= num_hist - 1;
            }
        }
    }

    if values.len() > 1 {
        let nf = values.len() as f64;
        let xsum = (nf - 1.0) * nf / 2.0;
        let x2sum = (nf - 1.0) * nf * (2.0 * nf - 1.0) / 6.0;
        let xysum: f64 = values
            .iter()
            .enumerate()
            .map(|(i, v)| i as f64 * v.1 as f64)
            .sum();
        let denom = nf * x2sum - xsum * xsum;
        if denom != 0.0 {
            out.correlation = Some((nf * xysum - xsum * xsum) / denom);
        }
    }
    out
}

/// Whether autoanalyze should analyze `def`: its changes since the last analyze exceed
/// `AUTOANALYZE_THRESHOLD + AUTOANALYZE_SCALE × reltuples`.
#[must_use]
pub fn autoanalyze_due(engine: &Engine, def: &TableDef, stats: Option<&TableStats>) -> bool {
    let rows = stats.map_or(0.0, |s| s.reltuples.max(0.0));
    let threshold = AUTOANALYZE_THRESHOLD + AUTOANALYZE_SCALE * rows;
    mods_since_analyze(engine, def, stats) as f64 > threshold
}

/// One unit of autoanalyze: analyzes the first user table that is due, in a transaction of its
/// own. Returns the table's name, or `None` when none was due.
pub fn autoanalyze_step(engine: &Engine) -> SqlResult<Option<String>> {
    let txn = engine.begin();
    let due = (|| -> SqlResult<Option<TableDef>> {
        let stats: HashMap<u32, TableStats> = all(engine, &txn)?.into_iter().collect();
        for def in crate::catalog_views::user_tables(engine, &txn)? {
            if autoanalyze_due(engine, &def, stats.get(&def.oid)) {
                return Ok(Some(def));
            }
        }
        Ok(None)
    })();
    let def = match due {
        Ok(Some(def)) => def,
        Ok(None) => {
            engine.rollback(txn);
            return Ok(None);
        }
        Err(e) => {
            engine.rollback(txn);
            return Err(e);
        }
    };
    let mut txn = txn;
    if let Err(e) = analyze(engine, &mut txn, &def, None, true) {
        engine.rollback(txn);
        return Err(e);
    }
    engine.commit(txn)?;
    Ok(Some(def.name))
}

/// `pg_stats` rows: (table name, column name, column statistics), for tables `tables`.
pub fn pg_stats_rows(
    engine: &Engine,
    txn: &Txn,
    tables: &[TableDef],
) -> SqlResult<Vec<(String, String, ColumnStats)>> {
    let stats = by_table(engine, txn)?;
    let mut out = Vec::new();
    for def in tables {
        let Some(s) = stats.get(&def.oid) else {
            continue;
        };
        for (c, col) in def.columns.iter().enumerate() {
            if let Some(cs) = s.column(def, c) {
                out.push((def.name.clone(), col.name.clone(), cs.clone()));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(vs: &[Option<i64>]) -> Vec<Vec<Value>> {
        vs.iter()
            .map(|v| vec![v.map_or(Value::Null, Value::Int)])
            .collect()
    }

    #[test]
    fn a_whole_table_sample_gives_exact_counts() {
        // 1..=10 once each, 7 three more times, two NULLs.
        let mut vs: Vec<Option<i64>> = (1..=10).map(Some).collect();
        vs.extend([Some(7), Some(7), Some(7), None, None]);
        let rows = ints(&vs);
        let s = column_stats(&rows, 0, DataType::Int4, rows.len() as f64);
        assert!((s.null_frac - 2.0 / 15.0).abs() < 1e-9);
        assert_eq!(s.avg_width, 4);
        // 10 distinct of 15 rows: above a tenth, so a fraction.
        assert!(
            (s.n_distinct + 10.0 / 15.0).abs() < 1e-9,
            "{}",
            s.n_distinct
        );
        assert_eq!(s.mcv, vec![Value::Int(7)]);
        assert!((s.mcv_freqs[0] - 4.0 / 15.0).abs() < 1e-9);
        assert_eq!(s.histogram.first(), Some(&Value::Int(1)));
        assert_eq!(s.histogram.last(), Some(&Value::Int(10)));
        assert_eq!(s.histogram.len(), 9);
        assert!(!s.histogram.contains(&Value::Int(7)));
    }

    #[test]
    fn unique_columns_have_no_mcvs_and_sorted_ones_correlate() {
        let rows = ints(&(0..500).map(Some).collect::<Vec<_>>());
        let s = column_stats(&rows, 0, DataType::Int8, 500.0);
        assert_eq!(s.n_distinct, -1.0);
        assert!(s.mcv.is_empty());
        assert_eq!(s.histogram.len(), STATISTICS_TARGET + 1);
        assert_eq!(s.histogram[0], Value::Int(0));
        assert_eq!(s.histogram[STATISTICS_TARGET], Value::Int(499));
        assert!((s.correlation.unwrap() - 1.0).abs() < 1e-9);
        let rev = ints(&(0..500).rev().map(Some).collect::<Vec<_>>());
        let s = column_stats(&rev, 0, DataType::Int8, 500.0);
        assert!((s.correlation.unwrap() + 1.0).abs() < 1e-9);
    }

    #[test]
    fn entries_round_trip_and_reject_garbage() {
        let rows = ints(&[Some(1), Some(1), Some(2), None]);
        let s = TableStats {
            reltuples: 4.0,
            relpages: 1,
            tree: 9,
            last_analyze_us: Some(5),
            last_autoanalyze_us: None,
            analyze_count: 1,
            autoanalyze_count: 0,
            counters_at_analyze: [4, 0, 0],
            columns: vec![column_stats(&rows, 0, DataType::Int4, 4.0)],
        };
        let b = s.encode();
        assert_eq!(TableStats::decode(&b).unwrap(), s);
        assert!(TableStats::decode(&b[..b.len() - 1]).is_err());
        assert!(TableStats::decode(b"\x84\x09").is_err());
        assert!(key(u32::MAX, u16::MAX).as_slice() < KEY_END);
        assert!(key(7, u16::MAX) < table_range(7).1 && table_range(7).0 <= key(7, 0));
    }
}
