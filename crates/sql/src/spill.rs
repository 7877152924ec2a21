//! Temporary files for operators that outgrow `work_mem`.
//!
//! A [`SpillFile`] holds rows written once and read back once, each as a length-prefixed row
//! in the table row encoding (`catalog::encode_row`). Files live in the system's temporary
//! directory under a name unique to the process and are removed when dropped, so an error or
//! a cancelled statement leaves nothing behind. A crash may; the names start with
//! `borealis-spill-` and the process id, and an instance removes those of processes that are
//! gone as it starts ([`remove_orphaned_files`]).
//!
//! Three operators use them, each accounting the bytes its rows take with [`value_bytes`]:
//!
//! - the hash aggregate (see `Executor::aggregate_into` in `query.rs`), and DISTINCT, which is
//!   that aggregate grouping by every output column: once the groups fill `work_mem`, rows of
//!   groups not seen yet go to one of [`SPILL_PARTITIONS`] files by hash, and each file is
//!   aggregated afterwards on its own, spilling again (with a fresh hash) if need be;
//! - the hash join (`Executor::hash_join_into`): once its table fills `work_mem`, both sides are
//!   partitioned into [`SPILL_PARTITIONS`] file pairs by the hash of the join key and each pair
//!   is joined on its own (a grace hash join), again partitioned if need be;
//! - the sort ([`Sorter`]): sorted runs of `work_mem` each, merged [`MERGE_FAN_IN`] at a time;
//!   an index build's sort of byte entries ([`EntrySorter`], which counts its arena's bytes)
//!   writes and merges runs the same way.
//!
//! The sort also feeds DISTINCT ON and both sides of a merge join.
//!
//! A cursor's store (`cursor.rs`) keeps the rows of a result beyond `work_mem` in one file too,
//! written once and read back by position through [`SpillFile::reader_at`] and an index of row
//! offsets the store keeps. The same store holds a recursive CTE's work table, a nested loop's
//! inner rows, a merge join's waiting rows and the rows between join pipelines, read in order
//! through [`SpillFile::reader_written`].
//!
//! The byte layout of a file is in `docs/formats.md` ("Temporary files of a statement").

use crate::catalog::{decode_row, encode_row};
use crate::error::{SqlError, SqlResult};
use crate::expr::CancelFlag;
use crate::types::Value;
use std::cmp::Ordering;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

/// Files a spilling operator splits its overflow into.
pub const SPILL_PARTITIONS: usize = 32;

/// Levels of re-spilling before a partition is aggregated or joined in memory whatever its size
/// (each level divides the keys by [`SPILL_PARTITIONS`] with a fresh hash).
pub const SPILL_DEPTH_MAX: u32 = 4;

/// Largest encoded row a temporary file holds: PostgreSQL's limit on one field, 1 GB, so
/// that a damaged length prefix cannot ask for more memory than a row could need.
pub const ROW_BYTES_MAX: usize = 1 << 30;

/// Sorted runs one merge pass reads at once: beyond, runs are merged into longer runs first,
/// so that a sort never holds more open files and read buffers than this.
pub const MERGE_FAN_IN: usize = 64;
// A merge pass must shorten the list of runs, or the passes would never end.
const _: () = assert!(MERGE_FAN_IN >= 2);

static NEXT_FILE: AtomicU64 = AtomicU64::new(0);

/// A temporary file's name: this prefix, the process id, `-`, and a number.
const FILE_PREFIX: &str = "borealis-spill-";

/// Removes the temporary files of processes that are gone, and returns how many. A statement's
/// files are removed when it ends, but a process killed in the middle of one leaves them
/// behind; an instance calls this as it starts, as PostgreSQL clears its `pgsql_tmp`. A file
/// whose process id belongs to a running process (this one, another instance on the machine,
/// or an unrelated process that took the id since) is kept, and so is every file where
/// processes cannot be looked up (no `/proc`).
#[must_use]
pub fn remove_orphaned_files() -> usize {
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return 0;
    }
    let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) else {
        return 0;
    };
    let mut removed = 0;
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some((pid, n)) = name
            .to_str()
            .and_then(|n| n.strip_prefix(FILE_PREFIX))
            .and_then(|rest| rest.split_once('-'))
        else {
            continue;
        };
        let (Ok(pid), Ok(_)) = (pid.parse::<u32>(), n.parse::<u64>()) else {
            continue;
        };
        if !proc.join(pid.to_string()).exists() && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

thread_local! {
    /// Temporary files created by this thread: what tests read to tell that an operator spilled.
    static FILES_CREATED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many temporary files this thread has created so far (a statement runs on one thread,
/// so the difference across one tells whether it spilled).
#[must_use]
pub fn files_created_on_this_thread() -> u64 {
    FILES_CREATED.with(std::cell::Cell::get)
}

fn io_error(what: &str, e: &std::io::Error) -> SqlError {
    SqlError::Internal(format!("temporary file: {what}: {e}"))
}

/// One temporary file of rows.
pub struct SpillFile {
    path: PathBuf,
    writer: Option<BufWriter<File>>,
    /// Rows and bytes written.
    pub rows: u64,
    pub bytes: u64,
}

impl SpillFile {
    pub fn create() -> SqlResult<SpillFile> {
        let n = NEXT_FILE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        FILES_CREATED.with(|c| c.set(c.get() + 1));
        let path = std::env::temp_dir().join(format!("{FILE_PREFIX}{}-{n}", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_error("create", &e))?;
        Ok(SpillFile {
            path,
            writer: Some(BufWriter::new(file)),
            rows: 0,
            bytes: 0,
        })
    }

    /// Appends a row; `buf` is scratch space reused between calls.
    pub fn write_row(&mut self, row: &[Value], buf: &mut Vec<u8>) -> SqlResult<()> {
        buf.clear();
        encode_row(row, buf);
        let w = self
            .writer
            .as_mut()
            .ok_or_else(|| SqlError::Internal("temporary file written after reading".into()))?;
        let len = u32::try_from(buf.len())
            .ok()
            .filter(|&n| n as usize <= ROW_BYTES_MAX)
            .ok_or_else(|| {
                SqlError::ProgramLimitExceeded(format!(
                    "a row of {} bytes is too large for a temporary file",
                    buf.len()
                ))
            })?;
        w.write_all(&len.to_le_bytes())
            .and_then(|()| w.write_all(buf))
            .map_err(|e| io_error("write", &e))?;
        self.rows += 1;
        self.bytes += 4 + buf.len() as u64;
        Ok(())
    }

    /// Ends writing: the buffered rows reach the file and its descriptor and buffer are let
    /// go, so a file waiting to be read (a sort run, a partition) holds neither.
    pub fn finish_writing(&mut self) -> SqlResult<()> {
        if let Some(w) = self.writer.take() {
            // Flushed, not synced: the file only has to outlive the statement.
            w.into_inner().map_err(|e| io_error("flush", e.error()))?;
        }
        Ok(())
    }

    /// A reader of the rows written, in the order written, as rows of `width` values.
    pub fn reader(&mut self, width: usize) -> SqlResult<SpillReader> {
        self.finish_writing()?;
        self.reader_written(width)
    }

    /// A reader of the rows written, in the order written, once writing has ended
    /// ([`SpillFile::finish_writing`]): through a shared reference, so that several readers
    /// may read one file at once.
    pub fn reader_written(&self, width: usize) -> SqlResult<SpillReader> {
        if self.writer.is_some() {
            return Err(SqlError::Internal(
                "temporary file read before its writing ended".into(),
            ));
        }
        let file = File::open(&self.path).map_err(|e| io_error("open", &e))?;
        Ok(SpillReader {
            reader: BufReader::new(file),
            rows_left: self.rows,
            width,
            buf: Vec::new(),
        })
    }

    /// A reader of the rows written from the row that starts at byte `offset` (the file's
    /// `bytes` when that row was written), which is row number `row` (0 for the first): the
    /// random access a cursor's store needs, through an index of offsets it keeps itself.
    pub fn reader_at(&mut self, width: usize, offset: u64, row: u64) -> SqlResult<SpillReader> {
        use std::io::Seek as _;
        if row > self.rows || offset > self.bytes {
            return Err(SqlError::Internal(format!(
                "temporary file: row {row} at byte {offset} is beyond its end"
            )));
        }
        self.finish_writing()?;
        let mut file = File::open(&self.path).map_err(|e| io_error("open", &e))?;
        file.seek(std::io::SeekFrom::Start(offset))
            .map_err(|e| io_error("seek", &e))?;
        Ok(SpillReader {
            reader: BufReader::new(file),
            rows_left: self.rows - row,
            width,
            buf: Vec::new(),
        })
    }

    /// [`SpillFile::reader_at`] once writing has ended, through a shared reference: several
    /// readers at different rows of one file at once (a window partition's frame pointers).
    pub fn reader_written_at(&self, width: usize, offset: u64, row: u64) -> SqlResult<SpillReader> {
        use std::io::Seek as _;
        if row > self.rows || offset > self.bytes {
            return Err(SqlError::Internal(format!(
                "temporary file: row {row} at byte {offset} is beyond its end"
            )));
        }
        let mut r = self.reader_written(width)?;
        r.reader
            .seek(std::io::SeekFrom::Start(offset))
            .map_err(|e| io_error("seek", &e))?;
        r.rows_left = self.rows - row;
        Ok(r)
    }

    /// Reads every row back, in the order written, as rows of `width` values.
    pub fn for_each_row(
        &mut self,
        width: usize,
        f: &mut dyn FnMut(&[Value]) -> SqlResult<()>,
    ) -> SqlResult<()> {
        let mut r = self.reader(width)?;
        while let Some(row) = r.next_row()? {
            f(&row)?;
        }
        Ok(())
    }
}

/// Reads the rows of a [`SpillFile`] back one at a time.
pub struct SpillReader {
    reader: BufReader<File>,
    rows_left: u64,
    width: usize,
    buf: Vec<u8>,
}

impl SpillReader {
    /// The next row, or `None` after the last.
    pub fn next_row(&mut self) -> SqlResult<Option<Vec<Value>>> {
        if self.rows_left == 0 {
            return Ok(None);
        }
        self.rows_left -= 1;
        let mut len = [0u8; 4];
        self.reader
            .read_exact(&mut len)
            .map_err(|e| io_error("read", &e))?;
        let len = u32::from_le_bytes(len) as usize;
        // The file is this process's own, but its length still bounds what is read.
        if len > ROW_BYTES_MAX {
            return Err(SqlError::Corrupted(format!(
                "temporary file: a row of {len} bytes"
            )));
        }
        self.buf.resize(len, 0);
        self.reader
            .read_exact(&mut self.buf)
            .map_err(|e| io_error("read", &e))?;
        decode_row(&self.buf, self.width).map(Some)
    }
}

impl Drop for SpillFile {
    fn drop(&mut self) {
        self.writer = None;
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Roughly how many bytes `v` occupies in memory (its enum slot and what it points to), for
/// `work_mem` accounting.
#[must_use]
pub fn value_bytes(v: &Value) -> usize {
    std::mem::size_of::<Value>()
        + match v {
            Value::Text(s) | Value::Json(s) => s.len(),
            Value::Bytes(b) => b.len(),
            Value::Numeric(_) | Value::Jsonb(_) => 32,
            Value::Array(items) => items.iter().map(value_bytes).sum(),
            _ => 0,
        }
}

/// How a sort ran, as EXPLAIN ANALYZE's `Sort Method` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortMethod {
    /// Every row sorted in memory.
    Quicksort,
    /// A LIMIT kept only the first rows, in a bounded heap.
    TopNHeapsort,
    /// Sorted runs written to temporary files, then merged.
    ExternalMerge,
}

impl SortMethod {
    /// PostgreSQL's name for the method.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            SortMethod::Quicksort => "quicksort",
            SortMethod::TopNHeapsort => "top-N heapsort",
            SortMethod::ExternalMerge => "external merge",
        }
    }
}

/// What a sort used: its method, the most memory its rows took at once, the bytes of its
/// sorted runs on disk.
#[derive(Clone, Copy, Debug)]
pub struct SortStats {
    pub method: SortMethod,
    pub memory_bytes: usize,
    pub disk_bytes: u64,
}

/// Compares two rows' sort keys.
pub type KeyOrder<'a> = dyn Fn(&[Value], &[Value]) -> Ordering + 'a;

/// A row waiting to be sorted: its output values, its sort keys and its place in the input.
struct SortRow {
    vals: Vec<Value>,
    keys: Vec<Value>,
    seq: u64,
}

impl SortRow {
    fn bytes(&self) -> usize {
        self.vals
            .iter()
            .chain(&self.keys)
            .map(value_bytes)
            .sum::<usize>()
            + 2 * std::mem::size_of::<Vec<Value>>()
            + std::mem::size_of::<u64>()
    }
}

/// A sort within `work_mem`, as PostgreSQL's tuplesort does it:
///
/// ```text
///  push ─▶ rows in memory ──(all fit)────────────────▶ quicksort ─▶ emit
///             │ more than work_mem
///             ├──(a LIMIT bound, more rows than it)──▶ bounded max-heap of the first
///             │                                         `bound` rows ─▶ top-N heapsort
///             └─▶ sort, write a run, start again ─────▶ runs on disk ─▶ k-way merge
///                                                       (passes of MERGE_FAN_IN runs)
/// ```
///
/// Rows are (output values, sort keys) pairs; a run stores each as one row of both. The
/// order is stable whatever the method: equal keys keep their input order (the in-memory sort
/// is stable, runs hold consecutive input, a merge prefers the earlier run on a tie, and the
/// heap compares input positions after keys), so a query answers the same whatever
/// `work_mem` is. Runs are removed when the sorter is dropped: after the statement, on an
/// error or on a cancel.
pub struct Sorter<'a> {
    order: &'a KeyOrder<'a>,
    cancel: &'a CancelFlag,
    work_mem: usize,
    bound: Option<usize>,
    rows: Vec<SortRow>,
    /// `rows` is a max-heap of the first `bound` rows (by keys, then input position).
    heap: bool,
    bytes: usize,
    peak_bytes: usize,
    runs: Vec<SpillFile>,
    disk_bytes: u64,
    /// Output values and sort keys per row, fixed by the first row.
    widths: Option<(usize, usize)>,
    seq: u64,
    scratch: Vec<Value>,
    buf: Vec<u8>,
}

impl<'a> Sorter<'a> {
    /// A sorter ordering rows by `order` within `work_mem` bytes; with `bound`, only the
    /// first `bound` rows of the order are wanted.
    #[must_use]
    pub fn new(
        order: &'a KeyOrder<'a>,
        cancel: &'a CancelFlag,
        work_mem: usize,
        bound: Option<usize>,
    ) -> Sorter<'a> {
        Sorter {
            order,
            cancel,
            work_mem,
            bound,
            rows: Vec::new(),
            heap: false,
            bytes: 0,
            peak_bytes: 0,
            runs: Vec::new(),
            disk_bytes: 0,
            widths: None,
            seq: 0,
            scratch: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// Whether `a` comes after `b`: by keys, then input position.
    fn after(&self, a: &SortRow, b: &SortRow) -> bool {
        (self.order)(&a.keys, &b.keys).then(a.seq.cmp(&b.seq)) == Ordering::Greater
    }

    /// Adds a row.
    pub fn push(&mut self, vals: Vec<Value>, keys: Vec<Value>) -> SqlResult<()> {
        self.push_giving_back(vals, keys).map(drop)
    }

    /// [`Sorter::push`] that gives back the row a bounded sort drops (the new row, or the one
    /// it displaced), so that the caller can build its next row in those buffers.
    pub fn push_giving_back(
        &mut self,
        vals: Vec<Value>,
        keys: Vec<Value>,
    ) -> SqlResult<Option<(Vec<Value>, Vec<Value>)>> {
        let widths = *self.widths.get_or_insert((vals.len(), keys.len()));
        if widths != (vals.len(), keys.len()) {
            return Err(SqlError::Internal("sorted rows of different widths".into()));
        }
        let row = SortRow {
            vals,
            keys,
            seq: self.seq,
        };
        self.seq += 1;
        if self.heap {
            // Keep the row only if it comes before the last of the first `bound` rows.
            if let Some(top) = self.rows.first()
                && self.after(top, &row)
            {
                self.bytes = self.bytes - top.bytes() + row.bytes();
                let old = std::mem::replace(&mut self.rows[0], row);
                let order = self.order;
                sift_down(&mut self.rows, 0, &|a: &SortRow, b: &SortRow| {
                    order(&a.keys, &b.keys).then(a.seq.cmp(&b.seq)) == Ordering::Greater
                });
                self.peak_bytes = self.peak_bytes.max(self.bytes);
                return Ok(Some((old.vals, old.keys)));
            }
            return Ok(Some((row.vals, row.keys)));
        }
        self.bytes += row.bytes();
        self.rows.push(row);
        self.peak_bytes = self.peak_bytes.max(self.bytes);
        if let Some(bound) = self.bound
            && self.runs.is_empty()
            && (self.rows.len() > bound.saturating_mul(2)
                || (self.bytes > self.work_mem && self.rows.len() > bound))
        {
            // PostgreSQL's switch to a bounded heap: twice the bound, or memory full.
            self.make_heap(bound);
            return Ok(None);
        }
        if self.bytes > self.work_mem {
            self.write_run()?;
        }
        Ok(None)
    }

    /// Keeps the first `bound` rows, as a max-heap.
    fn make_heap(&mut self, bound: usize) {
        let order = self.order;
        self.rows.sort_by(|a, b| order(&a.keys, &b.keys));
        self.rows.truncate(bound);
        // Descending order is a max-heap.
        self.rows.reverse();
        self.bytes = self.rows.iter().map(SortRow::bytes).sum();
        self.heap = true;
    }

    /// Sorts the rows in memory and writes them as one run.
    fn write_run(&mut self) -> SqlResult<()> {
        self.cancel.check()?;
        let order = self.order;
        self.rows.sort_by(|a, b| order(&a.keys, &b.keys));
        let mut file = SpillFile::create()?;
        for mut row in self.rows.drain(..) {
            self.scratch.clear();
            self.scratch.append(&mut row.vals);
            self.scratch.append(&mut row.keys);
            file.write_row(&self.scratch, &mut self.buf)?;
        }
        file.finish_writing()?;
        self.disk_bytes += file.bytes;
        self.runs.push(file);
        self.bytes = 0;
        Ok(())
    }

    /// Gives the rows in order to `emit` until it returns `false`.
    pub fn finish(
        mut self,
        emit: &mut dyn FnMut(Vec<Value>, Vec<Value>) -> SqlResult<bool>,
    ) -> SqlResult<SortStats> {
        let order = self.order;
        let method = if self.heap {
            SortMethod::TopNHeapsort
        } else if self.runs.is_empty() {
            SortMethod::Quicksort
        } else {
            SortMethod::ExternalMerge
        };
        let stats = |s: &Sorter<'_>| SortStats {
            method,
            memory_bytes: s.peak_bytes,
            disk_bytes: s.disk_bytes,
        };
        if method != SortMethod::ExternalMerge {
            let mut rows = std::mem::take(&mut self.rows);
            if self.heap {
                rows.sort_by(|a, b| order(&a.keys, &b.keys).then(a.seq.cmp(&b.seq)));
            } else {
                rows.sort_by(|a, b| order(&a.keys, &b.keys));
            }
            let bound = if self.heap { self.bound } else { None };
            for (n, row) in rows.into_iter().enumerate() {
                if bound.is_some_and(|b| n >= b) || !emit(row.vals, row.keys)? {
                    break;
                }
            }
            return Ok(stats(&self));
        }
        if !self.rows.is_empty() {
            self.write_run()?;
        }
        let (nvals, nkeys) = self.widths.unwrap_or((0, 0));
        let runs = std::mem::take(&mut self.runs);
        merge_runs(
            runs,
            (nvals + nkeys, nvals),
            order,
            self.cancel,
            &mut |mut row| {
                let keys = row.split_off(nvals);
                emit(row, keys)
            },
        )?;
        Ok(stats(&self))
    }
}

/// Merges sorted runs (see [`merge`]), first in passes over groups of [`MERGE_FAN_IN`] runs,
/// in input order (so ties still favour earlier input), until one merge can read them all.
fn merge_runs(
    mut runs: Vec<SpillFile>,
    shape: (usize, usize),
    order: &KeyOrder<'_>,
    cancel: &CancelFlag,
    emit: &mut dyn FnMut(Vec<Value>) -> SqlResult<bool>,
) -> SqlResult<()> {
    let mut buf = Vec::new();
    while runs.len() > MERGE_FAN_IN {
        let mut groups = std::mem::take(&mut runs).into_iter().peekable();
        while groups.peek().is_some() {
            let mut group: Vec<SpillFile> = groups.by_ref().take(MERGE_FAN_IN).collect();
            if group.len() == 1 {
                runs.append(&mut group);
                continue;
            }
            let mut merged = SpillFile::create()?;
            merge(&mut group, shape, order, cancel, &mut |row| {
                merged.write_row(&row, &mut buf)?;
                Ok(true)
            })?;
            merged.finish_writing()?;
            runs.push(merged);
        }
    }
    merge(&mut runs, shape, order, cancel, emit)
}

/// A byte entry waiting in an [`EntrySorter`]: where its key and value are in the arena, and
/// its key's first 8 bytes as a big-endian number (zero-padded), which decides most
/// comparisons without reading the arena.
#[derive(Clone, Copy)]
struct Entry {
    prefix: u64,
    at: usize,
    key_len: u32,
    value_len: u32,
}

impl Entry {
    fn key<'b>(&self, arena: &'b [u8]) -> &'b [u8] {
        &arena[self.at..self.at + self.key_len as usize]
    }

    fn value<'b>(&self, arena: &'b [u8]) -> &'b [u8] {
        let start = self.at + self.key_len as usize;
        &arena[start..start + self.value_len as usize]
    }
}

/// Sorts (key, value) byte pairs by key bytes within `work_mem`: an index build's entries.
/// [`Sorter`] sorts rows of values through a comparison closure; at a million entries its
/// comparisons and moves of two vectors per row were most of a build. Here an entry is its
/// bytes appended to one arena plus 24 bytes of position and key prefix, sorted by the prefix
/// first. Beyond `work_mem` the sorted entries go to a run (rows of value and key, read back
/// by [`merge_runs`]), as the [`Sorter`]'s do. The order of equal keys is unspecified.
pub struct EntrySorter<'a> {
    cancel: &'a CancelFlag,
    work_mem: usize,
    arena: Vec<u8>,
    entries: Vec<Entry>,
    runs: Vec<SpillFile>,
    buf: Vec<u8>,
}

impl<'a> EntrySorter<'a> {
    #[must_use]
    pub fn new(cancel: &'a CancelFlag, work_mem: usize) -> EntrySorter<'a> {
        EntrySorter {
            cancel,
            work_mem,
            arena: Vec::new(),
            entries: Vec::new(),
            runs: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// Adds an entry.
    pub fn push(&mut self, key: &[u8], value: &[u8]) -> SqlResult<()> {
        let too_long = || SqlError::ProgramLimitExceeded("an index entry is too long".into());
        let key_len = u32::try_from(key.len()).map_err(|_| too_long())?;
        let value_len = u32::try_from(value.len()).map_err(|_| too_long())?;
        let mut prefix = [0u8; 8];
        let n = key.len().min(8);
        prefix[..n].copy_from_slice(&key[..n]);
        self.entries.push(Entry {
            prefix: u64::from_be_bytes(prefix),
            at: self.arena.len(),
            key_len,
            value_len,
        });
        self.arena.extend_from_slice(key);
        self.arena.extend_from_slice(value);
        if self.arena.len() + self.entries.len() * std::mem::size_of::<Entry>() > self.work_mem {
            self.write_run()?;
        }
        Ok(())
    }

    fn sort(&mut self) {
        let arena = &self.arena;
        self.entries.sort_unstable_by(|a, b| {
            a.prefix
                .cmp(&b.prefix)
                .then_with(|| a.key(arena).cmp(b.key(arena)))
        });
    }

    /// Sorts the entries in memory and writes them as one run of (value, key) rows.
    fn write_run(&mut self) -> SqlResult<()> {
        self.cancel.check()?;
        self.sort();
        let mut file = SpillFile::create()?;
        for e in &self.entries {
            let row = [
                Value::Bytes(e.value(&self.arena).to_vec()),
                Value::Bytes(e.key(&self.arena).to_vec()),
            ];
            file.write_row(&row, &mut self.buf)?;
        }
        file.finish_writing()?;
        self.runs.push(file);
        self.entries.clear();
        self.arena.clear();
        Ok(())
    }

    /// Gives the entries to `emit` as (key, value), in key order.
    pub fn finish(mut self, mut emit: impl FnMut(&[u8], &[u8]) -> SqlResult<()>) -> SqlResult<()> {
        if self.runs.is_empty() {
            self.sort();
            for (n, e) in self.entries.iter().enumerate() {
                if n % 1024 == 1023 {
                    self.cancel.check()?;
                }
                emit(e.key(&self.arena), e.value(&self.arena))?;
            }
            return Ok(());
        }
        if !self.entries.is_empty() {
            self.write_run()?;
        }
        let order = |a: &[Value], b: &[Value]| match (a, b) {
            ([Value::Bytes(x)], [Value::Bytes(y)]) => x.cmp(y),
            _ => Ordering::Equal,
        };
        let runs = std::mem::take(&mut self.runs);
        merge_runs(
            runs,
            (2, 1),
            &order,
            self.cancel,
            &mut |row| match &row[..] {
                [Value::Bytes(value), Value::Bytes(key)] => {
                    emit(key, value)?;
                    Ok(true)
                }
                _ => Err(SqlError::Internal(
                    "a sort run's entry is not two byte strings".into(),
                )),
            },
        )
    }
}

/// Merges sorted runs of rows `width` wide whose sort keys start at `nvals`, giving each row
/// to `emit` until it returns `false`. On equal keys the earlier run's row comes first.
fn merge(
    runs: &mut [SpillFile],
    (width, nvals): (usize, usize),
    order: &KeyOrder<'_>,
    cancel: &CancelFlag,
    emit: &mut dyn FnMut(Vec<Value>) -> SqlResult<bool>,
) -> SqlResult<()> {
    let mut readers = runs
        .iter_mut()
        .map(|f| f.reader(width))
        .collect::<SqlResult<Vec<_>>>()?;
    let mut heads = readers
        .iter_mut()
        .map(SpillReader::next_row)
        .collect::<SqlResult<Vec<_>>>()?;
    let before = |heads: &[Option<Vec<Value>>], a: usize, b: usize| {
        let key = |i: usize| heads[i].as_deref().map_or(&[][..], |r| &r[nvals..]);
        order(key(a), key(b)).then(a.cmp(&b)) == Ordering::Less
    };
    // A min-heap of the runs that still have rows, by their next row.
    let mut heap: Vec<usize> = (0..heads.len()).filter(|&i| heads[i].is_some()).collect();
    for i in (0..heap.len() / 2).rev() {
        sift_down(&mut heap, i, &|&a, &b| before(&heads, a, b));
    }
    let mut n = 0u64;
    while let Some(&r) = heap.first() {
        n += 1;
        if n.is_multiple_of(1024) {
            cancel.check()?;
        }
        let row = std::mem::replace(&mut heads[r], readers[r].next_row()?);
        if heads[r].is_none() {
            heap.swap_remove(0);
        }
        sift_down(&mut heap, 0, &|&a, &b| before(&heads, a, b));
        if let Some(row) = row
            && !emit(row)?
        {
            return Ok(());
        }
    }
    Ok(())
}

/// Restores a binary heap below `i`, where `before(a, b)` says `a` belongs above `b`.
fn sift_down<T>(heap: &mut [T], mut i: usize, before: &dyn Fn(&T, &T) -> bool) {
    loop {
        let left = 2 * i + 1;
        if left >= heap.len() {
            return;
        }
        let mut child = left;
        if left + 1 < heap.len() && before(&heap[left + 1], &heap[left]) {
            child = left + 1;
        }
        if !before(&heap[child], &heap[i]) {
            return;
        }
        heap.swap(child, i);
        i = child;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_back_in_order_and_the_file_goes_away() {
        let mut f = SpillFile::create().unwrap();
        let path = f.path.clone();
        let mut buf = Vec::new();
        for i in 0..1000i64 {
            f.write_row(
                &[Value::Int(i), Value::Text(format!("r{i}")), Value::Null],
                &mut buf,
            )
            .unwrap();
        }
        let mut seen = Vec::new();
        f.for_each_row(3, &mut |row| {
            seen.push(row.to_vec());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.len(), 1000);
        assert_eq!(
            seen[7],
            vec![Value::Int(7), Value::Text("r7".into()), Value::Null]
        );
        assert!(path.exists());
        drop(f);
        assert!(!path.exists());
    }

    /// Sorts `n` rows (value: input position, key: position modulo `distinct`) with the given
    /// `work_mem` and bound; the rows it gives and how it sorted.
    fn sort(n: i64, distinct: i64, work_mem: usize, bound: Option<usize>) -> (Vec<i64>, SortStats) {
        let order = |a: &[Value], b: &[Value]| a[0].sort_cmp(&b[0]);
        let cancel = CancelFlag::default();
        let mut s = Sorter::new(&order, &cancel, work_mem, bound);
        for i in 0..n {
            // Keys descend then wrap, so every run needs the merge.
            let key = Value::Int((n - i) % distinct);
            s.push(
                vec![Value::Int(i), Value::Text(format!("pad{i}"))],
                vec![key],
            )
            .unwrap();
        }
        let mut out = Vec::new();
        let stats = s
            .finish(&mut |vals, keys| {
                assert_eq!((vals.len(), keys.len()), (2, 1));
                match vals[0] {
                    Value::Int(i) => out.push(i),
                    _ => panic!("{vals:?}"),
                }
                Ok(bound.is_none_or(|b| out.len() < b))
            })
            .unwrap();
        (out, stats)
    }

    /// What a stable sort by key gives.
    fn expected(n: i64, distinct: i64, bound: Option<usize>) -> Vec<i64> {
        let mut rows: Vec<i64> = (0..n).collect();
        rows.sort_by_key(|i| (n - i) % distinct);
        rows.truncate(bound.unwrap_or(usize::MAX));
        rows
    }

    #[test]
    fn every_sort_method_gives_the_stable_order() {
        let (rows, stats) = sort(5000, 37, 64 << 20, None);
        assert_eq!(rows, expected(5000, 37, None));
        assert_eq!((stats.method, stats.disk_bytes), (SortMethod::Quicksort, 0));

        // Runs of a few rows each: more runs than one merge reads, so merged in passes.
        let (rows, stats) = sort(5000, 37, 2048, None);
        assert_eq!(rows, expected(5000, 37, None));
        assert_eq!(stats.method, SortMethod::ExternalMerge);
        assert!(
            stats.disk_bytes > 0 && stats.memory_bytes < 4096,
            "{stats:?}"
        );

        let (rows, stats) = sort(5000, 37, 2048, Some(10));
        assert_eq!(rows, expected(5000, 37, Some(10)));
        assert_eq!(
            (stats.method, stats.disk_bytes),
            (SortMethod::TopNHeapsort, 0)
        );
        let (rows, _) = sort(5000, 37, 64 << 20, Some(0));
        assert!(rows.is_empty());
        // A bound the rows never exceed twice over: sorted in memory.
        let (rows, stats) = sort(100, 7, 64 << 20, Some(60));
        assert_eq!(rows, expected(100, 7, Some(60)));
        assert_eq!(stats.method, SortMethod::Quicksort);
        // A bound too large for memory: the sort spills like an unbounded one.
        let (rows, stats) = sort(3000, 37, 2048, Some(2500));
        assert_eq!(rows, expected(3000, 37, Some(2500)));
        assert_eq!(stats.method, SortMethod::ExternalMerge);
    }

    /// Runs are removed when the sorter goes, whether it finished or not.
    #[test]
    fn sort_runs_go_away_with_the_sorter() {
        let order = |a: &[Value], b: &[Value]| a[0].sort_cmp(&b[0]);
        let cancel = CancelFlag::default();
        let mut s = Sorter::new(&order, &cancel, 1024, None);
        for i in 0..500 {
            s.push(vec![Value::Int(i)], vec![Value::Int(-i)]).unwrap();
        }
        let paths: Vec<PathBuf> = s.runs.iter().map(|f| f.path.clone()).collect();
        assert!(paths.len() > 1 && paths.iter().all(|p| p.exists()));
        drop(s);
        assert!(paths.iter().all(|p| !p.exists()));

        // A cancel stops the merge; its files go too.
        let mut s = Sorter::new(&order, &cancel, 1024, None);
        for i in 0..5000 {
            s.push(vec![Value::Int(i)], vec![Value::Int(-i)]).unwrap();
        }
        let paths: Vec<PathBuf> = s.runs.iter().map(|f| f.path.clone()).collect();
        cancel.cancel();
        let e = s.finish(&mut |_, _| Ok(true)).unwrap_err();
        assert!(matches!(e, SqlError::QueryCanceled), "{e:?}");
        assert!(paths.iter().all(|p| !p.exists()));
    }

    /// Entries come back in key-byte order whether they fit in memory, spill to a few runs or
    /// to more runs than one merge reads; keys share prefixes, are shorter than the 8-byte
    /// prefix or end in zeros, so the arena comparison decides many; runs go away after.
    #[test]
    fn entries_come_back_in_key_order_in_memory_or_from_runs() {
        let cancel = CancelFlag::default();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = (0..3000u32)
            .map(|i| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let len = (seed % 14) as usize;
                let mut key = vec![0u8; len];
                for (j, b) in key.iter_mut().enumerate() {
                    // Few distinct bytes: long common prefixes, and zeros.
                    *b = ((seed >> (j * 3)) % 3) as u8;
                }
                key.extend_from_slice(&i.to_be_bytes()[..(i % 3) as usize]);
                (key, i.to_le_bytes().to_vec())
            })
            .collect();
        entries.push((Vec::new(), b"empty key".to_vec()));
        let mut expected = entries.clone();
        expected.sort();
        for work_mem in [64 << 20, 16 << 10, 512] {
            let files = files_created_on_this_thread();
            let mut sorter = EntrySorter::new(&cancel, work_mem);
            for (k, v) in &entries {
                sorter.push(k, v).unwrap();
            }
            let paths: Vec<PathBuf> = sorter.runs.iter().map(|f| f.path.clone()).collect();
            let mut got: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            sorter
                .finish(|k, v| {
                    got.push((k.to_vec(), v.to_vec()));
                    Ok(())
                })
                .unwrap();
            // Equal keys may come in any order: compare as sorted pairs, and check the keys'
            // order as given.
            assert!(
                got.windows(2).all(|w| w[0].0 <= w[1].0),
                "work_mem {work_mem}"
            );
            got.sort();
            assert_eq!(got, expected, "work_mem {work_mem}");
            let created = files_created_on_this_thread() - files;
            match work_mem {
                w if w > 1 << 20 => assert_eq!(created, 0),
                512 => assert!(paths.len() > MERGE_FAN_IN, "{} runs", paths.len()),
                _ => assert!(
                    created > 1 && paths.len() <= MERGE_FAN_IN,
                    "{created} files"
                ),
            }
            assert!(paths.iter().all(|p| !p.exists()));
        }
    }

    /// Files of a process that is gone are removed; this process's, and names that are not
    /// temporary files', are kept.
    #[test]
    fn files_of_processes_that_are_gone_are_removed() {
        let dir = std::env::temp_dir();
        // Above any pid_max Linux allows (2^22): no process has this id.
        let gone = dir.join(format!("{FILE_PREFIX}4294967290-{}", std::process::id()));
        let alive = SpillFile::create().unwrap();
        let other = dir.join(format!("{FILE_PREFIX}4294967290-x{}", std::process::id()));
        std::fs::write(&gone, b"run").unwrap();
        std::fs::write(&other, b"not ours").unwrap();
        let removed = remove_orphaned_files();
        if std::path::Path::new("/proc/self").exists() {
            assert!(removed >= 1);
            assert!(!gone.exists());
        }
        assert!(alive.path.exists() && other.exists());
        std::fs::remove_file(&other).unwrap();
        let _ = std::fs::remove_file(&gone);
    }
}
