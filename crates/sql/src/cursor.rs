//! SQL cursors: `DECLARE … CURSOR`, `FETCH`, `MOVE`, `CLOSE` and the `pg_cursors` view.
//!
//! A cursor is a named result a session reads a piece at a time, forward or backward. Here
//! the DECLARE runs its query at once, in the DECLARE's transaction and snapshot, and keeps
//! the rows in a [`RowStore`]; FETCH and MOVE then only move a position over that store:
//!
//! ```text
//!   DECLARE c … FOR query ──run──▶ rows ──▶ RowStore: in memory up to work_mem,
//!                                                    beyond it every row in a temporary file
//!                                                    (spill.rs) + a row-offset index
//!   FETCH / MOVE direction c ──▶ Cursor::fetch: new position, rows [a, b] read by position
//!   CLOSE c, transaction end, session end ──▶ the store and its file are dropped
//! ```
//!
//! Positions follow PostgreSQL's portal: 0 is before the first row, 1..=n on a row, n + 1
//! after the last. A forward fetch of `k` rows from `p` returns rows `p+1 ..= min(p+k, n)`
//! and stops on the last row it returned, or after the last row when it ran out; a backward
//! fetch is the mirror image; ABSOLUTE and RELATIVE land on one row (or before-first /
//! after-last when out of range) and return it; a count of 0 (`FETCH RELATIVE 0`, `FORWARD 0`)
//! returns the current row again. MOVE does the same without returning rows; its count is the
//! rows a FETCH would have returned.
//!
//! Rules, as PostgreSQL 15 has them:
//! - without `WITH HOLD`, DECLARE outside a transaction block fails (25P01), and the cursor is
//!   closed when its transaction ends, whichever way;
//! - a `WITH HOLD` cursor outlives the COMMIT of its transaction (its rows are already kept);
//!   if that transaction rolls back, the cursor goes with it. Declared outside a block, it
//!   runs in an implicit transaction of its own;
//! - a cursor's rows are those of the DECLARE's snapshot, whatever commits afterwards;
//! - ROLLBACK TO a savepoint closes the cursors declared after it (held ones too); the
//!   others keep their position (moves are not undone);
//! - `NO SCROLL` refuses any move backward (55000 "cursor can only scan forward");
//! - an unknown name is 34000, a name in use 42P03.
//!
//! Differences from PostgreSQL, each a consequence of running the query at DECLARE:
//! - an error the query raises at its row N (a division by zero) is raised by the DECLARE,
//!   not by the FETCH that would reach row N;
//! - without SCROLL or NO SCROLL, PostgreSQL allows backward moves only when the plan can run
//!   backward (scans and sorts can, aggregates and joins cannot). Every result here is kept
//!   whole, so the default is to allow them: the rule is SCROLL unless NO SCROLL is written,
//!   and `pg_cursors.is_scrollable` says so;
//! - `FOR UPDATE` / `FOR SHARE` cursors, `WHERE CURRENT OF` and data-modifying `WITH` in a
//!   cursor's query are refused with 0A000 (PostgreSQL refuses only the last);
//!
//! Memory: the rows a cursor keeps between statements take at most `work_mem` in memory; the
//! statement that runs the query still builds its result in memory first, as every query's
//! result is built. A session holds at most [`CURSORS_PER_SESSION_MAX`] cursors.

use crate::error::{SqlError, SqlResult};
use crate::query::ColumnInfo;
use crate::spill::{SpillFile, SpillReader, value_bytes};
use crate::types::Value;
use std::collections::BTreeMap;
use std::fmt;

/// Cursors one session may hold open at once: each may hold a temporary file and an open
/// descriptor on it, so the bound keeps a session from exhausting either.
pub const CURSORS_PER_SESSION_MAX: usize = 1024;

/// Rows between two entries of a spilled store's offset index: a read at an arbitrary
/// position decodes at most this many rows before it, and the index takes 8 bytes per this
/// many rows (80 kB for 10 M rows).
pub const ROW_INDEX_STRIDE: u64 = 128;

/// A cursor statement, as `ddl_parse::parse_cursor_statement` reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CursorStatement {
    Declare {
        name: String,
        binary: bool,
        /// `Some(true)`: SCROLL, `Some(false)`: NO SCROLL.
        scroll: Option<bool>,
        hold: bool,
        /// The query's text.
        query: String,
    },
    /// FETCH, or MOVE (`move_only`).
    Fetch {
        name: String,
        direction: Direction,
        move_only: bool,
    },
    /// `CLOSE name`; `None`: CLOSE ALL.
    Close { name: Option<String> },
}

/// How many rows a FORWARD or BACKWARD fetch wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    Rows(i64),
    All,
}

/// Where a FETCH or MOVE goes. NEXT is `Forward(Rows(1))`, PRIOR `Backward(Rows(1))`, FIRST
/// `Absolute(1)`, LAST `Absolute(-1)`, a bare count or ALL a forward one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Forward(Count),
    Backward(Count),
    Absolute(i64),
    Relative(i64),
}

/// A result's rows, kept in memory up to a byte budget and in a temporary file beyond it,
/// read back by position (a cursor) or in order ([`RowStore::for_each`], [`RowStore::reader`]:
/// the executor's work tables, nested-loop inner rows and rows waiting between join steps).
pub struct RowStore {
    width: usize,
    budget_bytes: usize,
    memory: Vec<Vec<Value>>,
    memory_bytes: usize,
    spilled: Option<Spilled>,
    rows: u64,
}

/// A store's rows on disk: the file, the byte offset of every [`ROW_INDEX_STRIDE`]-th row, and
/// a reader left where the last read ended (sequential fetches do not seek).
struct Spilled {
    file: SpillFile,
    index: Vec<u64>,
    reader: Option<(SpillReader, u64)>,
    buf: Vec<u8>,
}

impl RowStore {
    /// An empty store of rows of `width` values that keeps up to `budget_bytes` in memory.
    #[must_use]
    pub fn new(width: usize, budget_bytes: usize) -> RowStore {
        RowStore {
            width,
            budget_bytes,
            memory: Vec::new(),
            memory_bytes: 0,
            spilled: None,
            rows: 0,
        }
    }

    /// Appends a row; once the rows outgrow the budget, all of them move to a file.
    pub fn push(&mut self, row: Vec<Value>) -> SqlResult<()> {
        if let Some(s) = &mut self.spilled {
            if s.file.rows.is_multiple_of(ROW_INDEX_STRIDE) {
                s.index.push(s.file.bytes);
            }
            s.file.write_row(&row, &mut s.buf)?;
        } else {
            self.memory_bytes += row.iter().map(value_bytes).sum::<usize>();
            self.memory.push(row);
            if self.memory_bytes > self.budget_bytes {
                let mut s = Spilled {
                    file: SpillFile::create()?,
                    index: Vec::new(),
                    reader: None,
                    buf: Vec::new(),
                };
                for r in std::mem::take(&mut self.memory) {
                    if s.file.rows.is_multiple_of(ROW_INDEX_STRIDE) {
                        s.index.push(s.file.bytes);
                    }
                    s.file.write_row(&r, &mut s.buf)?;
                }
                self.memory_bytes = 0;
                self.spilled = Some(s);
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// Ends writing: a spilled store's rows reach its file, so that [`RowStore::for_each`]
    /// may read them through a shared reference.
    pub fn finish_writing(&mut self) -> SqlResult<()> {
        match &mut self.spilled {
            Some(s) => s.file.finish_writing(),
            None => Ok(()),
        }
    }

    /// Gives every row, in the order pushed, to `f`; a spilled store must have ended writing
    /// ([`RowStore::finish_writing`]). Holds one row of a spilled store at a time.
    pub fn for_each(&self, f: &mut dyn FnMut(&[Value]) -> SqlResult<()>) -> SqlResult<()> {
        let Some(s) = &self.spilled else {
            for row in &self.memory {
                f(row)?;
            }
            return Ok(());
        };
        let mut reader = s.file.reader_written(self.width)?;
        while let Some(row) = reader.next_row()? {
            f(&row)?;
        }
        Ok(())
    }

    /// A reader of the rows, in the order pushed, one at a time; a spilled store must have
    /// ended writing ([`RowStore::finish_writing`]).
    pub fn reader(&self) -> SqlResult<RowStoreReader<'_>> {
        Ok(RowStoreReader {
            memory: self.memory.iter(),
            file: match &self.spilled {
                Some(s) => Some(s.file.reader_written(self.width)?),
                None => None,
            },
        })
    }

    /// A reader of the rows from row `first` (numbered from 0) on, in the order pushed; a
    /// spilled store must have ended writing. A spilled store seeks to the nearest indexed
    /// row at or before `first` and decodes at most [`ROW_INDEX_STRIDE`] rows to reach it, so
    /// several readers may each hold their own place in one store (a window partition's
    /// current row, frame start and frame end).
    pub fn reader_from(&self, first: u64) -> SqlResult<RowStoreReader<'_>> {
        let Some(s) = &self.spilled else {
            #[allow(clippy::cast_possible_truncation)] // bounded by the rows held in memory
            let from = (first.min(self.rows)) as usize;
            return Ok(RowStoreReader {
                memory: self.memory[from..].iter(),
                file: None,
            });
        };
        let first = first.min(self.rows);
        let slot = first / ROW_INDEX_STRIDE;
        #[allow(clippy::cast_possible_truncation)] // one entry per stride of rows
        let Some(&offset) = s.index.get(slot as usize) else {
            return Ok(RowStoreReader {
                memory: std::slice::Iter::default(),
                file: None,
            });
        };
        let mut file = s
            .file
            .reader_written_at(self.width, offset, slot * ROW_INDEX_STRIDE)?;
        for _ in slot * ROW_INDEX_STRIDE..first {
            file.next_row()?;
        }
        Ok(RowStoreReader {
            memory: std::slice::Iter::default(),
            file: Some(file),
        })
    }

    /// The first row, if any; a spilled store must have ended writing.
    pub fn first(&self) -> SqlResult<Option<Vec<Value>>> {
        self.reader()?.next_row()
    }

    /// Drops every row (and a spilled store's file), keeping the memory for rows to come.
    pub fn clear(&mut self) {
        self.memory.clear();
        self.memory_bytes = 0;
        self.spilled = None;
        self.rows = 0;
    }

    /// The rows, if they are all in memory (the store never spilled).
    #[must_use]
    pub fn into_memory(self) -> Option<Vec<Vec<Value>>> {
        self.spilled.is_none().then_some(self.memory)
    }

    /// Rows kept.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.rows
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Bytes the rows held in memory take (none once they moved to a file).
    #[must_use]
    pub fn memory_bytes(&self) -> usize {
        self.memory_bytes
    }

    /// Bytes written to the store's temporary file (none while it is in memory).
    #[must_use]
    pub fn disk_bytes(&self) -> u64 {
        self.spilled.as_ref().map_or(0, |s| s.file.bytes)
    }

    /// Whether the rows are in a temporary file.
    #[must_use]
    pub fn spilled(&self) -> bool {
        self.spilled.is_some()
    }

    /// Rows `first ..= last` (numbered from 1), in that order.
    pub fn range(&mut self, first: u64, last: u64) -> SqlResult<Vec<Vec<Value>>> {
        if first > last {
            return Ok(Vec::new());
        }
        assert!(
            first >= 1 && last <= self.rows,
            "cursor rows {first}..={last} read beyond a store of {} rows",
            self.rows
        );
        let Some(s) = &mut self.spilled else {
            #[allow(clippy::cast_possible_truncation)] // bounded by the rows held in memory
            return Ok(self.memory[(first - 1) as usize..last as usize].to_vec());
        };
        let at = first - 1;
        let mut reader = match s.reader.take() {
            Some((r, next)) if next == at => r,
            _ => {
                let slot = at / ROW_INDEX_STRIDE;
                #[allow(clippy::cast_possible_truncation)] // one entry per stride of rows
                let offset = s.index[slot as usize];
                let mut r = s
                    .file
                    .reader_at(self.width, offset, slot * ROW_INDEX_STRIDE)?;
                for _ in slot * ROW_INDEX_STRIDE..at {
                    r.next_row()?;
                }
                r
            }
        };
        let mut out = Vec::new();
        for _ in first..=last {
            out.push(reader.next_row()?.ok_or_else(|| {
                SqlError::Corrupted("a cursor's temporary file ended early".into())
            })?);
        }
        s.reader = Some((reader, last));
        Ok(out)
    }
}

/// Reads a [`RowStore`]'s rows in order, one at a time (see [`RowStore::reader`]).
pub struct RowStoreReader<'s> {
    memory: std::slice::Iter<'s, Vec<Value>>,
    file: Option<SpillReader>,
}

impl RowStoreReader<'_> {
    /// The next row, or `None` after the last.
    pub fn next_row(&mut self) -> SqlResult<Option<Vec<Value>>> {
        match &mut self.file {
            Some(f) => f.next_row(),
            None => Ok(self.memory.next().cloned()),
        }
    }
}

impl crate::query::ResultSink for RowStore {
    fn push_row(&mut self, row: Vec<Value>) -> SqlResult<()> {
        self.push(row)
    }

    fn row_count(&self) -> usize {
        usize::try_from(self.rows).unwrap_or(usize::MAX)
    }
}

impl fmt::Debug for RowStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowStore")
            .field("rows", &self.rows)
            .field("spilled", &self.spilled.is_some())
            .finish_non_exhaustive()
    }
}

/// Stores are compared by identity: a statement's output holding one equals only itself.
impl PartialEq for RowStore {
    fn eq(&self, other: &RowStore) -> bool {
        std::ptr::eq(self, other)
    }
}

/// One open cursor.
pub struct Cursor {
    /// The DECLARE's text, as `pg_cursors.statement` shows it.
    pub statement: String,
    pub columns: Vec<ColumnInfo>,
    pub binary: bool,
    pub scroll: bool,
    pub hold: bool,
    /// Declared in the transaction now open (a rollback of it closes even a held cursor).
    pub in_open_transaction: bool,
    /// Savepoints open when it was declared: ROLLBACK TO the savepoint at that index or an
    /// earlier one closes it.
    pub savepoint_level: usize,
    /// When it was declared, µs since 1970 UTC.
    pub created_us: i64,
    store: RowStore,
    /// 0 before the first row, n + 1 after the last.
    position: u64,
}

/// What a FETCH or MOVE produced.
#[derive(Debug, PartialEq)]
pub struct Fetched {
    /// The rows, in the order fetched (empty for MOVE).
    pub rows: Vec<Vec<Value>>,
    /// The count of the command tag.
    pub count: u64,
}

impl Cursor {
    #[must_use]
    pub fn new(
        statement: String,
        columns: Vec<ColumnInfo>,
        store: RowStore,
        (binary, scroll, hold): (bool, bool, bool),
        created_us: i64,
    ) -> Cursor {
        Cursor {
            statement,
            columns,
            binary,
            scroll,
            hold,
            in_open_transaction: true,
            savepoint_level: 0,
            created_us,
            store,
            position: 0,
        }
    }

    /// Whether the rows left memory for a temporary file.
    #[must_use]
    pub fn spilled(&self) -> bool {
        self.store.spilled()
    }

    /// Runs a FETCH (or, with `move_only`, a MOVE) in `direction`.
    pub fn fetch(&mut self, direction: Direction, move_only: bool) -> SqlResult<Fetched> {
        let n = self.store.len();
        let p = self.position;
        let on_row = p >= 1 && p <= n;
        // A count's sign turns FORWARD into BACKWARD and back.
        let signed = |c: Count, forward: bool| match c {
            Count::All => (forward, u64::MAX),
            Count::Rows(k) => (forward == (k >= 0), k.unsigned_abs()),
        };
        let (forward, count) = match direction {
            Direction::Forward(c) => signed(c, true),
            Direction::Backward(c) => signed(c, false),
            Direction::Absolute(k) => {
                // Backward unless it lands after where the cursor is (a rewind to the start is
                // allowed from the start).
                let target = if k > 0 {
                    k.unsigned_abs().min(n + 1)
                } else if k < 0 {
                    (n + 1).saturating_sub(k.unsigned_abs())
                } else {
                    0
                };
                let backward = if k > 0 {
                    k.unsigned_abs() <= p
                } else {
                    k < 0 || p > 0
                };
                if backward {
                    self.check_scroll()?;
                }
                return self.land(target, move_only);
            }
            Direction::Relative(0) => (true, 0),
            Direction::Relative(k) => {
                if k < 0 {
                    self.check_scroll()?;
                }
                let target = if k > 0 {
                    p.saturating_add(k.unsigned_abs()).min(n + 1)
                } else {
                    p.saturating_sub(k.unsigned_abs())
                };
                return self.land(target, move_only);
            }
        };
        if count == 0 {
            // The current row again (MOVE 0 counts it); reading it backs the scan up.
            if !on_row {
                return Ok(Fetched {
                    rows: Vec::new(),
                    count: 0,
                });
            }
            self.check_scroll()?;
            let rows = if move_only {
                Vec::new()
            } else {
                self.store.range(p, p)?
            };
            return Ok(Fetched { rows, count: 1 });
        }
        if forward {
            if p > n {
                return Ok(Fetched {
                    rows: Vec::new(),
                    count: 0,
                });
            }
            let last = p.saturating_add(count).min(n);
            let rows = if move_only {
                Vec::new()
            } else {
                self.store.range(p + 1, last)?
            };
            let got = last - p;
            self.position = if got < count { n + 1 } else { last };
            Ok(Fetched { rows, count: got })
        } else {
            self.check_scroll()?;
            if p == 0 {
                return Ok(Fetched {
                    rows: Vec::new(),
                    count: 0,
                });
            }
            let first = p.saturating_sub(count).max(1);
            let mut rows = if move_only {
                Vec::new()
            } else {
                self.store.range(first, p - 1)?
            };
            rows.reverse();
            let got = p - first;
            self.position = if got < count { 0 } else { first };
            Ok(Fetched { rows, count: got })
        }
    }

    /// Moves to `target` (0 ..= n + 1) and returns the row there, if it is one.
    fn land(&mut self, target: u64, move_only: bool) -> SqlResult<Fetched> {
        self.position = target;
        if target == 0 || target > self.store.len() {
            return Ok(Fetched {
                rows: Vec::new(),
                count: 0,
            });
        }
        let rows = if move_only {
            Vec::new()
        } else {
            self.store.range(target, target)?
        };
        Ok(Fetched { rows, count: 1 })
    }

    fn check_scroll(&self) -> SqlResult<()> {
        if self.scroll {
            Ok(())
        } else {
            Err(SqlError::CursorNoScroll)
        }
    }
}

/// A session's open cursors, by name.
#[derive(Default)]
pub struct Cursors {
    open: BTreeMap<String, Cursor>,
}

impl Cursors {
    /// Adds a cursor under `name`, unless the name is taken or the session holds the most it
    /// may.
    pub fn declare(&mut self, name: &str, cursor: Cursor) -> SqlResult<()> {
        self.check_new(name)?;
        self.open.insert(name.to_string(), cursor);
        Ok(())
    }

    /// Whether a cursor named `name` could be declared now.
    pub fn check_new(&self, name: &str) -> SqlResult<()> {
        if self.open.contains_key(name) {
            return Err(SqlError::DuplicateCursor(name.to_string()));
        }
        if self.open.len() >= CURSORS_PER_SESSION_MAX {
            return Err(SqlError::ProgramLimitExceeded(format!(
                "a session may hold at most {CURSORS_PER_SESSION_MAX} open cursors"
            )));
        }
        Ok(())
    }

    pub fn get_mut(&mut self, name: &str) -> SqlResult<&mut Cursor> {
        self.open
            .get_mut(name)
            .ok_or_else(|| SqlError::UndefinedCursor(name.to_string()))
    }

    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Cursor> {
        self.open.get(name)
    }

    /// `CLOSE name`, or every cursor (`None`).
    pub fn close(&mut self, name: Option<&str>) -> SqlResult<()> {
        match name {
            None => self.open.clear(),
            Some(n) => {
                self.open
                    .remove(n)
                    .ok_or_else(|| SqlError::UndefinedCursor(n.to_string()))?;
            }
        }
        Ok(())
    }

    /// The transaction ends: cursors without HOLD close; held ones declared in it stay only if
    /// it committed.
    pub fn transaction_ended(&mut self, committed: bool) {
        self.open
            .retain(|_, c| c.hold && (committed || !c.in_open_transaction));
        for c in self.open.values_mut() {
            c.in_open_transaction = false;
        }
    }

    /// `ROLLBACK TO` the savepoint at index `at` of the block's list: cursors declared after
    /// it close (held or not); those declared before it stay, where they are.
    pub fn rolled_back_to(&mut self, at: usize) {
        self.open
            .retain(|_, c| !(c.in_open_transaction && c.savepoint_level > at));
    }

    /// `RELEASE` of the savepoint at index `at`: cursors declared after it now belong to the
    /// savepoint (or transaction) around it.
    pub fn released(&mut self, at: usize) {
        for c in self.open.values_mut() {
            c.savepoint_level = c.savepoint_level.min(at);
        }
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Every open cursor, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Cursor)> {
        self.open.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::DataType;

    /// A store read through a shared reference gives its rows in order, in memory or spilled,
    /// and several readers may read one file at once.
    #[test]
    fn stores_read_in_order_by_several_readers() {
        for budget in [1 << 20, 256] {
            let mut store = RowStore::new(2, budget);
            for i in 0..1000i64 {
                store
                    .push(vec![Value::Int(i), Value::Text(format!("r{i}"))])
                    .unwrap();
            }
            store.finish_writing().unwrap();
            assert_eq!(store.spilled(), budget == 256);
            let mut seen = Vec::new();
            store
                .for_each(&mut |row| {
                    seen.push(row.to_vec());
                    Ok(())
                })
                .unwrap();
            assert_eq!(seen.len(), 1000);
            assert_eq!(seen[999], vec![Value::Int(999), Value::Text("r999".into())]);
            let (mut a, mut b) = (store.reader().unwrap(), store.reader().unwrap());
            assert_eq!(a.next_row().unwrap(), Some(seen[0].clone()));
            assert_eq!(a.next_row().unwrap(), Some(seen[1].clone()));
            assert_eq!(b.next_row().unwrap(), Some(seen[0].clone()));
            let mut n = 2;
            while let Some(row) = a.next_row().unwrap() {
                assert_eq!(row, seen[n]);
                n += 1;
            }
            assert_eq!(n, 1000);
        }
    }

    fn cursor(n: i64, budget_bytes: usize, scroll: bool) -> Cursor {
        let mut store = RowStore::new(1, budget_bytes);
        for i in 1..=n {
            store.push(vec![Value::Int(i)]).unwrap();
        }
        let columns = vec![ColumnInfo {
            name: "a".into(),
            ty: DataType::Int8,
            bpchar: None,
            kind: crate::catalog::TextKind::Text,
            source: None,
        }];
        Cursor::new(String::new(), columns, store, (false, scroll, false), 0)
    }

    fn ints(f: &Fetched) -> Vec<i64> {
        f.rows
            .iter()
            .map(|r| match r[0] {
                Value::Int(i) => i,
                _ => panic!("not an int"),
            })
            .collect()
    }

    use Direction::{Absolute, Backward, Forward, Relative};

    /// The sequence of PostgreSQL 15's answers to the golden file's scroll cursor over
    /// 1..=10, fetch by fetch, in memory and spilled.
    #[test]
    fn fetches_move_as_postgresql_portals_do() {
        for budget in [usize::MAX, 0] {
            let mut c = cursor(10, budget, true);
            assert_eq!(c.spilled(), budget == 0);
            let mut f = |d, m| c.fetch(d, m).unwrap();
            assert_eq!(ints(&f(Forward(Count::Rows(3)), false)), [1, 2, 3]);
            assert_eq!(ints(&f(Backward(Count::Rows(1)), false)), [2]);
            assert_eq!(ints(&f(Relative(0), false)), [2]);
            assert_eq!(f(Forward(Count::Rows(100)), true).count, 8);
            assert_eq!(ints(&f(Backward(Count::Rows(1)), false)), [10]);
            assert_eq!(ints(&f(Absolute(-1), false)), [10]);
            assert!(f(Absolute(0), false).rows.is_empty());
            assert!(f(Absolute(11), false).rows.is_empty());
            assert_eq!(f(Absolute(11), true).count, 0);
            assert_eq!(f(Absolute(5), true).count, 1);
            assert_eq!(f(Relative(3), true).count, 1);
            assert_eq!(f(Relative(10), true).count, 0);
            assert_eq!(
                ints(&f(Backward(Count::All), false)),
                [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]
            );
            assert_eq!(f(Absolute(-1), true).count, 1);
            assert_eq!(f(Absolute(1), true).count, 1);
            assert_eq!(
                ints(&f(Forward(Count::Rows(10)), false)),
                [2, 3, 4, 5, 6, 7, 8, 9, 10]
            );
            assert_eq!(ints(&f(Backward(Count::Rows(1)), false)), [10]);
            assert_eq!(f(Forward(Count::Rows(-2)), true).count, 2);
            assert_eq!(ints(&f(Forward(Count::Rows(-2)), false)), [7, 6]);
            assert_eq!(ints(&f(Forward(Count::Rows(1)), false)), [7]);
            assert_eq!(ints(&f(Forward(Count::Rows(1)), false)), [8]);
            assert_eq!(ints(&f(Backward(Count::Rows(0)), false)), [8]);
            assert_eq!(f(Forward(Count::All), true).count, 2);
            assert_eq!(f(Backward(Count::All), true).count, 10);
            assert_eq!(f(Forward(Count::All), true).count, 10);
            assert_eq!(ints(&f(Relative(-3), false)), [8]);
        }
    }

    #[test]
    fn no_scroll_refuses_only_backward_moves() {
        let mut c = cursor(5, usize::MAX, false);
        assert_eq!(ints(&c.fetch(Forward(Count::Rows(1)), false).unwrap()), [1]);
        for d in [
            Backward(Count::Rows(1)),
            Forward(Count::Rows(-1)),
            Relative(-1),
            Relative(0),
            Absolute(1),
            Absolute(-1),
            Absolute(0),
        ] {
            assert!(
                matches!(c.fetch(d, false), Err(SqlError::CursorNoScroll)),
                "{d:?}"
            );
        }
        assert_eq!(ints(&c.fetch(Absolute(3), false).unwrap()), [3]);
        assert_eq!(ints(&c.fetch(Relative(2), false).unwrap()), [5]);
        // From the start, a rewind is no move at all.
        let mut c = cursor(5, usize::MAX, false);
        assert_eq!(ints(&c.fetch(Absolute(1), false).unwrap()), [1]);
    }

    #[test]
    fn a_spilled_store_reads_any_range_in_order() {
        let mut s = RowStore::new(2, 1024);
        for i in 0..1000 {
            s.push(vec![Value::Int(i), Value::Text(format!("row {i}"))])
                .unwrap();
        }
        assert!(s.spilled());
        for (a, b) in [
            (1, 1),
            (1, 1000),
            (129, 300),
            (500, 500),
            (501, 640),
            (2, 3),
        ] {
            let rows = s.range(a, b).unwrap();
            assert_eq!(rows.len() as u64, b - a + 1);
            for (k, r) in rows.iter().enumerate() {
                let i = a as i64 - 1 + k as i64;
                assert_eq!(r, &vec![Value::Int(i), Value::Text(format!("row {i}"))]);
            }
        }
    }

    #[test]
    fn held_cursors_survive_only_a_commit() {
        let mut cs = Cursors::default();
        let mut held = cursor(1, usize::MAX, true);
        held.hold = true;
        cs.declare("h", held).unwrap();
        cs.declare("c", cursor(1, usize::MAX, true)).unwrap();
        assert!(matches!(
            cs.declare("c", cursor(1, usize::MAX, true)),
            Err(SqlError::DuplicateCursor(_))
        ));
        cs.transaction_ended(true);
        assert!(cs.get("h").is_some() && cs.get("c").is_none());
        // Committed once, a held cursor outlives later rollbacks.
        cs.transaction_ended(false);
        assert!(cs.get("h").is_some());
        let mut held = cursor(1, usize::MAX, true);
        held.hold = true;
        cs.declare("h2", held).unwrap();
        cs.transaction_ended(false);
        assert!(cs.get("h2").is_none());
        assert!(matches!(
            cs.close(Some("x")),
            Err(SqlError::UndefinedCursor(_))
        ));
    }

    #[test]
    fn a_session_holds_a_bounded_number_of_cursors() {
        let mut cs = Cursors::default();
        for i in 0..CURSORS_PER_SESSION_MAX {
            cs.declare(&format!("c{i}"), cursor(0, usize::MAX, true))
                .unwrap();
        }
        assert!(matches!(
            cs.declare("one_more", cursor(0, usize::MAX, true)),
            Err(SqlError::ProgramLimitExceeded(_))
        ));
        cs.close(Some("c0")).unwrap();
        cs.declare("one_more", cursor(0, usize::MAX, true)).unwrap();
    }
}
