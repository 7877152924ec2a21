//! UNION, INTERSECT and EXCEPT (with or without ALL) over inputs of any size, within
//! `work_mem`.
//!
//! Neither input is held: each is read once, row by row, as its query produces it.
//!
//! ```text
//!  UNION ALL            left ──▶ out, then right ──▶ out
//!  UNION                left, right ──▶ Dedup ──▶ out
//!  INTERSECT / EXCEPT   right ──▶ counts per key ─┐
//!                       left ──▶ look up its key ─┴─▶ out (EXCEPT's rows through a Dedup)
//! ```
//!
//! [`Dedup`] keeps the key of every row it let through (`row_hash_key`: SQL equality, NULLs
//! equal) and passes a row on at once when its key is new; once the keys take more than
//! `work_mem`, rows whose key it does not hold go to one of
//! [`SPILL_PARTITIONS`] temporary files by the key's hash, and
//! each file is deduplicated afterwards on its own (with a fresh hash, again spilling if need
//! be, [`SPILL_DEPTH_MAX`] levels deep at most, then in memory
//! whatever its size). A key held in memory never reaches a file and a key first met after
//! memory filled goes to one file only, so every key comes out exactly once.
//!
//! INTERSECT and EXCEPT count the right input's rows per key first, in memory up to
//! `work_mem`; the rows of keys met after that go to partition files by hash. Each left row
//! whose key is counted is decided at once: INTERSECT ALL keeps it while the count lasts,
//! INTERSECT keeps its key's first row, EXCEPT ALL drops it while the count lasts, EXCEPT drops
//! it. A left row whose key is not counted either goes to the partition file of its key, when
//! the right input spilled (its key may be in that file), or is decided as absent from the
//! right input. Each pair of partition files is then the same problem over fewer keys. This is
//! PostgreSQL's multiset semantics: INTERSECT ALL keeps min(l, r) copies of a row, EXCEPT ALL
//! max(l − r, 0), the others one copy when the condition holds.
//!
//! Rows come out in the order of their first appearance while everything fits in memory; rows
//! of spilled keys come after, by partition. PostgreSQL gives a set operation's rows in no
//! defined order either (a hash or a sort decides).

use super::{SetOp, row_hash_key};
use crate::error::SqlResult;
use crate::expr::CancelFlag;
use crate::spill::{SPILL_DEPTH_MAX, SPILL_PARTITIONS, SpillFile};
use crate::types::Value;
use borealis_common::fasthash::{FastMap, FastSet, FastState};
use std::hash::BuildHasher;

/// Gives its rows, one by one, to the function it is handed.
pub(super) type RowFeed<'f> =
    dyn FnMut(&mut dyn FnMut(Vec<Value>) -> SqlResult<()>) -> SqlResult<()> + 'f;

/// Bytes one key held in memory costs beyond its encoding (the table's slot and the vector).
const KEY_OVERHEAD_BYTES: usize = 48;

/// What a set operation used: in-memory passes (1, plus one per partition file read back),
/// the most bytes its keys took at once, the bytes written to temporary files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct SetOpStats {
    pub batches: usize,
    pub peak_bytes: usize,
    pub disk_bytes: u64,
}

/// A set operation's settings.
pub(super) struct SetOpRun<'a> {
    pub op: SetOp,
    pub all: bool,
    /// Values per row.
    pub width: usize,
    pub work_mem: usize,
    pub cancel: &'a CancelFlag,
}

impl SetOpRun<'_> {
    /// Runs the operation over `left` and `right`, giving the result's rows to `emit`.
    pub fn run(
        &self,
        left: &mut RowFeed<'_>,
        right: &mut RowFeed<'_>,
        emit: &mut dyn FnMut(Vec<Value>) -> SqlResult<()>,
        stats: &mut SetOpStats,
    ) -> SqlResult<()> {
        match (self.op, self.all) {
            (SetOp::Union, true) => {
                left(emit)?;
                right(emit)
            }
            (SetOp::Union, false) => {
                let mut d = Dedup::new(self, 0);
                left(&mut |row| d.push(row, emit))?;
                right(&mut |row| d.push(row, emit))?;
                d.finish(emit, stats)
            }
            _ => self.counted(0, left, right, emit, stats),
        }
    }

    /// INTERSECT or EXCEPT at spill level `depth`.
    fn counted(
        &self,
        depth: u32,
        left: &mut RowFeed<'_>,
        right: &mut RowFeed<'_>,
        emit: &mut dyn FnMut(Vec<Value>) -> SqlResult<()>,
        stats: &mut SetOpStats,
    ) -> SqlResult<()> {
        let state = FastState::default();
        let partition = |k: &[u8]| (state.hash_one(k) % SPILL_PARTITIONS as u64) as usize;
        let may_spill = depth < SPILL_DEPTH_MAX;
        let mut counts: FastMap<Vec<u8>, usize> = FastMap::default();
        let mut bytes = 0usize;
        let mut right_files: Vec<SpillFile> = Vec::new();
        let mut buf = Vec::new();
        right(&mut |row| {
            let k = row_hash_key(&row);
            if let Some(n) = counts.get_mut(&k) {
                *n += 1;
            } else if right_files.is_empty() && (bytes <= self.work_mem || !may_spill) {
                bytes += 2 * k.len() + KEY_OVERHEAD_BYTES;
                counts.insert(k, 1);
            } else {
                if right_files.is_empty() {
                    right_files = new_files()?;
                }
                right_files[partition(&k)].write_row(&row, &mut buf)?;
            }
            Ok(())
        })?;
        let spilled = !right_files.is_empty();
        let mut left_files = if spilled { new_files()? } else { Vec::new() };
        // EXCEPT's rows absent from the right input, deduplicated within `work_mem` too.
        let mut absent = (self.op == SetOp::Except && !self.all).then(|| Dedup::new(self, 0));
        left(&mut |row| {
            let k = row_hash_key(&row);
            match (self.op, counts.get_mut(&k)) {
                (SetOp::Intersect, Some(n)) if *n > 0 => {
                    // INTERSECT keeps a key's first row only: its count is spent at once.
                    *n = if self.all { *n - 1 } else { 0 };
                    emit(row)
                }
                (SetOp::Intersect, Some(_)) => Ok(()),
                (_, Some(n)) => {
                    if self.all && *n == 0 {
                        emit(row)
                    } else {
                        *n = n.saturating_sub(1);
                        Ok(())
                    }
                }
                (_, None) if spilled => left_files[partition(&k)].write_row(&row, &mut buf),
                (SetOp::Except, None) => match &mut absent {
                    Some(d) => d.push(row, emit),
                    None => emit(row),
                },
                (_, None) => Ok(()),
            }
        })?;
        stats.batches += 1;
        stats.peak_bytes = stats.peak_bytes.max(bytes);
        drop(counts);
        if let Some(d) = absent {
            d.finish(emit, stats)?;
        }
        for f in left_files.iter_mut().chain(&mut right_files) {
            f.finish_writing()?;
        }
        for (mut l, mut r) in left_files.into_iter().zip(right_files) {
            self.cancel.check()?;
            if l.rows == 0 {
                // No left rows: nothing of this partition can come out.
                continue;
            }
            stats.disk_bytes += l.bytes + r.bytes;
            let width = self.width;
            self.counted(
                depth + 1,
                &mut |g| read_back(&mut l, width, g),
                &mut |g| read_back(&mut r, width, g),
                emit,
                stats,
            )?;
        }
        Ok(())
    }
}

fn new_files() -> SqlResult<Vec<SpillFile>> {
    (0..SPILL_PARTITIONS).map(|_| SpillFile::create()).collect()
}

/// Gives a temporary file's rows to `g`, in the order written.
fn read_back(
    f: &mut SpillFile,
    width: usize,
    g: &mut dyn FnMut(Vec<Value>) -> SqlResult<()>,
) -> SqlResult<()> {
    let mut r = f.reader(width)?;
    while let Some(row) = r.next_row()? {
        g(row)?;
    }
    Ok(())
}

/// Passes on each row whose key it has not seen, within `work_mem` (see the module essay).
struct Dedup<'r, 'a> {
    run: &'r SetOpRun<'a>,
    depth: u32,
    state: FastState,
    seen: FastSet<Vec<u8>>,
    bytes: usize,
    files: Vec<SpillFile>,
    buf: Vec<u8>,
}

impl<'r, 'a> Dedup<'r, 'a> {
    fn new(run: &'r SetOpRun<'a>, depth: u32) -> Dedup<'r, 'a> {
        Dedup {
            run,
            depth,
            state: FastState::default(),
            seen: FastSet::default(),
            bytes: 0,
            files: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// Takes a row: passed to `emit` now, dropped, or kept in a file for [`Dedup::finish`].
    fn push(
        &mut self,
        row: Vec<Value>,
        emit: &mut dyn FnMut(Vec<Value>) -> SqlResult<()>,
    ) -> SqlResult<()> {
        let k = row_hash_key(&row);
        if self.seen.contains(&k) {
            return Ok(());
        }
        if self.files.is_empty()
            && (self.bytes <= self.run.work_mem || self.depth >= SPILL_DEPTH_MAX)
        {
            self.bytes += 2 * k.len() + KEY_OVERHEAD_BYTES;
            self.seen.insert(k);
            return emit(row);
        }
        if self.files.is_empty() {
            self.files = new_files()?;
        }
        let p = (self.state.hash_one(k.as_slice()) % SPILL_PARTITIONS as u64) as usize;
        self.files[p].write_row(&row, &mut self.buf)
    }

    /// Deduplicates the rows kept in files, each file on its own.
    fn finish(
        self,
        emit: &mut dyn FnMut(Vec<Value>) -> SqlResult<()>,
        stats: &mut SetOpStats,
    ) -> SqlResult<()> {
        let Dedup {
            run,
            depth,
            seen,
            bytes,
            mut files,
            ..
        } = self;
        stats.batches += 1;
        stats.peak_bytes = stats.peak_bytes.max(bytes);
        // The keys seen here are in no file: let their memory go before the files are read.
        drop(seen);
        for f in &mut files {
            f.finish_writing()?;
        }
        for mut f in files {
            run.cancel.check()?;
            if f.rows == 0 {
                continue;
            }
            stats.disk_bytes += f.bytes;
            let mut d = Dedup::new(run, depth + 1);
            read_back(&mut f, run.width, &mut |row| d.push(row, emit))?;
            drop(f);
            d.finish(emit, stats)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `op` over `left` and `right` (one-value rows) within `work_mem`; the rows, sorted,
    /// and the stats.
    fn run(
        op: SetOp,
        all: bool,
        left: &[i64],
        right: &[i64],
        work_mem: usize,
    ) -> (Vec<i64>, SetOpStats) {
        let cancel = CancelFlag::default();
        let r = SetOpRun {
            op,
            all,
            width: 2,
            work_mem,
            cancel: &cancel,
        };
        // A second column pads the rows so that spilled files hold something real.
        let feed = |vals: &[i64]| {
            let vals = vals.to_vec();
            move |g: &mut dyn FnMut(Vec<Value>) -> SqlResult<()>| -> SqlResult<()> {
                for &v in &vals {
                    g(vec![Value::Int(v), Value::Text(format!("pad{v}"))])?;
                }
                Ok(())
            }
        };
        let mut out = Vec::new();
        let mut stats = SetOpStats::default();
        r.run(
            &mut feed(left),
            &mut feed(right),
            &mut |row| {
                match row[0] {
                    Value::Int(v) => out.push(v),
                    ref other => panic!("{other:?}"),
                }
                Ok(())
            },
            &mut stats,
        )
        .unwrap();
        out.sort_unstable();
        (out, stats)
    }

    /// The multiset answer, computed naively.
    fn expected(op: SetOp, all: bool, left: &[i64], right: &[i64]) -> Vec<i64> {
        use std::collections::BTreeMap;
        let count = |xs: &[i64]| {
            let mut m = BTreeMap::new();
            for &x in xs {
                *m.entry(x).or_insert(0usize) += 1;
            }
            m
        };
        let (l, r) = (count(left), count(right));
        let mut keys: Vec<i64> = l.keys().chain(r.keys()).copied().collect();
        keys.sort_unstable();
        keys.dedup();
        let mut out = Vec::new();
        for k in keys {
            let (a, b) = (
                l.get(&k).copied().unwrap_or(0),
                r.get(&k).copied().unwrap_or(0),
            );
            let n = match (op, all) {
                (SetOp::Union, true) => a + b,
                (SetOp::Union, false) => 1,
                (SetOp::Intersect, true) => a.min(b),
                (SetOp::Intersect, false) => usize::from(a > 0 && b > 0),
                (SetOp::Except, true) => a.saturating_sub(b),
                (SetOp::Except, false) => usize::from(a > 0 && b == 0),
            };
            out.extend(std::iter::repeat_n(k, n));
        }
        out
    }

    #[test]
    fn every_operation_gives_the_multiset_answer_in_memory_and_spilled() {
        // Left: 0..6000 with every multiple of 3 twice; right: 3000..9000, multiples of 5
        // three times.
        let mut left: Vec<i64> = (0..6000).collect();
        left.extend((0..6000).filter(|v| v % 3 == 0));
        let mut right: Vec<i64> = (3000..9000).collect();
        for _ in 0..2 {
            right.extend((3000..9000).filter(|v| v % 5 == 0));
        }
        for op in [SetOp::Union, SetOp::Intersect, SetOp::Except] {
            for all in [false, true] {
                let want = expected(op, all, &left, &right);
                let (rows, stats) = run(op, all, &left, &right, 64 << 20);
                assert_eq!(rows, want, "{op:?} {all} in memory");
                assert_eq!(stats.disk_bytes, 0, "{op:?} {all}");
                let (rows, stats) = run(op, all, &left, &right, 4096);
                assert_eq!(rows, want, "{op:?} {all} spilled");
                if (op, all) != (SetOp::Union, true) {
                    // Keys of 4 kB at most in memory at once, the rest through files.
                    assert!(
                        stats.disk_bytes > 0 && stats.batches > 1 && stats.peak_bytes < 8192,
                        "{op:?} {all}: {stats:?}"
                    );
                }
            }
        }
    }

    /// Keys that never fit, however deep the partitions go, are still answered exactly.
    #[test]
    fn the_deepest_level_holds_its_keys_in_memory() {
        let left: Vec<i64> = (0..200).chain(0..200).collect();
        let right: Vec<i64> = (100..300).collect();
        for op in [SetOp::Union, SetOp::Intersect, SetOp::Except] {
            let (rows, stats) = run(op, false, &left, &right, 0);
            assert_eq!(rows, expected(op, false, &left, &right), "{op:?}");
            assert!(stats.disk_bytes > 0, "{op:?}");
        }
    }

    /// Rows come out in their first appearance's order while nothing spills.
    #[test]
    fn in_memory_order_is_first_appearance() {
        let cancel = CancelFlag::default();
        let r = SetOpRun {
            op: SetOp::Except,
            all: false,
            width: 1,
            work_mem: 1 << 20,
            cancel: &cancel,
        };
        let mut out = Vec::new();
        r.run(
            &mut |g| {
                for v in [5, 3, 5, 9, 1, 3] {
                    g(vec![Value::Int(v)])?;
                }
                Ok(())
            },
            &mut |g| g(vec![Value::Int(9)]),
            &mut |row| {
                out.push(row[0].clone());
                Ok(())
            },
            &mut SetOpStats::default(),
        )
        .unwrap();
        assert_eq!(out, [5, 3, 1].map(Value::Int));
    }
}
