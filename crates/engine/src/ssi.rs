//! Serializable snapshot isolation: rw-antidependency tracking between serializable transactions
//! and the dangerous-structure test (Cahill, Röhm, Fekete, SIGMOD 2008; Ports and Grittner,
//! VLDB 2012, the design PostgreSQL follows).
//!
//! An rw-antidependency `R →rw W` means R read a row (or a range) and W wrote a version of it that
//! R's snapshot did not see. Every cycle in the serialization graph of a snapshot-isolation history
//! contains two consecutive such edges `T1 →rw T2 →rw T3` (T1 may be T3) in which T3 committed
//! first. Aborting one transaction of every such "dangerous structure" therefore makes the history
//! serializable; some aborts are false positives, none is ever missed.
//!
//! What each serializable transaction leaves here: its snapshot, what it read (SIREAD locks: keys,
//! key ranges, or whole trees, escalating when there are too many), its edges, and, once
//! committed, its place in commit order. Edges are found at two moments:
//!
//! ```text
//!  reader R reads a row whose chain holds a version        W pre-commit: every R (≠ W) whose
//!  by committed W that R's snapshot does not see           SIREADs cover a key W wrote, and
//!      ──► edge R → W   (`conflict_out`)                   that did not end before W's snapshot
//!                                                              ──► edge R → W   (`pre_commit`)
//! ```
//!
//! Together they find every edge: a read either happens before W's pre-commit, and then its SIREAD
//! is registered before W looks (a read registers its SIREAD first and then reads pages under the
//! engine lock, and W's pre-commit, apply and append all run under the engine lock), or after W
//! applied its versions, and then the reader sees them as too new. Because writes reach pages only
//! at commit, an active transaction never has incoming edges; so the two checks below suffice:
//!
//! - at W's pre-commit, after adding its incoming edges: W is a pivot `X → W → Y` with Y committed
//!   and Y committed before X (or X uncommitted, or X = Y) ⇒ W fails with 40001;
//! - when a read adds `R → W` with W committed: R is a pivot `X → R → W` with W committing before
//!   X, or W is a pivot `R → W → Y` with Y committed before W ⇒ R fails with 40001.
//!
//! A committed transaction's record is kept while some active serializable transaction's
//! snapshot is older than the end of the committed one (the last LSN appended when it committed);
//! after that no new edge can involve it in a dangerous structure, and it is forgotten.

use crate::limits::{SIREAD_KEYS_PER_TREE_MAX, SIREAD_RANGES_PER_TREE_MAX};
use crate::{EngineError, TreeId};
use borealis_common::{Lsn, TxnId};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::Bound;

/// A key range read, as the bounds of a scan.
type KeyRange = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// What a serializable transaction read of one tree.
#[derive(Default)]
struct TreeReads {
    whole: bool,
    keys: BTreeSet<Vec<u8>>,
    ranges: Vec<KeyRange>,
}

impl TreeReads {
    fn covers(&self, key: &[u8]) -> bool {
        self.whole
            || self.keys.contains(key)
            || self.ranges.iter().any(|(from, to)| in_range(key, from, to))
    }

    fn escalate(&mut self) {
        self.whole = true;
        self.keys.clear();
        self.ranges.clear();
    }
}

fn in_range(key: &[u8], from: &Bound<Vec<u8>>, to: &Bound<Vec<u8>>) -> bool {
    let above = match from {
        Bound::Unbounded => true,
        Bound::Included(f) => key >= f.as_slice(),
        Bound::Excluded(f) => key > f.as_slice(),
    };
    let below = match to {
        Bound::Unbounded => true,
        Bound::Included(t) => key <= t.as_slice(),
        Bound::Excluded(t) => key < t.as_slice(),
    };
    above && below
}

fn owned(b: Bound<&[u8]>) -> Bound<Vec<u8>> {
    match b {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(k) => Bound::Included(k.to_vec()),
        Bound::Excluded(k) => Bound::Excluded(k.to_vec()),
    }
}

struct SsiTxn {
    snapshot: Lsn,
    /// Place in commit order, once committed.
    commit_seq: Option<u64>,
    /// Once committed: the last LSN appended when it committed (its commit LSN if it wrote).
    end_lsn: Lsn,
    /// Transactions X with X →rw self.
    incoming: HashSet<TxnId>,
    /// Transactions Y with self →rw Y.
    outgoing: HashSet<TxnId>,
    reads: HashMap<TreeId, TreeReads>,
}

/// The SSI state of every serializable transaction that may still matter.
#[derive(Default)]
pub(crate) struct Ssi {
    txns: HashMap<TxnId, SsiTxn>,
    next_seq: u64,
}

impl Ssi {
    pub(crate) fn begin(&mut self, txn: TxnId, snapshot: Lsn) {
        self.txns.insert(
            txn,
            SsiTxn {
                snapshot,
                commit_seq: None,
                end_lsn: Lsn::ZERO,
                incoming: HashSet::new(),
                outgoing: HashSet::new(),
                reads: HashMap::new(),
            },
        );
    }

    pub(crate) fn set_snapshot(&mut self, txn: TxnId, snapshot: Lsn) {
        if let Some(t) = self.txns.get_mut(&txn) {
            t.snapshot = snapshot;
        }
    }

    fn reads(&mut self, txn: TxnId, tree: TreeId) -> Option<&mut TreeReads> {
        self.txns
            .get_mut(&txn)
            .map(|t| t.reads.entry(tree).or_default())
    }

    /// Records a point read (of a row, or of its absence).
    pub(crate) fn read_key(&mut self, txn: TxnId, tree: TreeId, key: &[u8]) {
        if let Some(r) = self.reads(txn, tree) {
            if r.whole || r.keys.contains(key) {
                return;
            }
            if r.keys.len() >= SIREAD_KEYS_PER_TREE_MAX {
                r.escalate();
            } else {
                r.keys.insert(key.to_vec());
            }
        }
    }

    /// Records a range read; returns its index for [`narrow_range`](Self::narrow_range).
    pub(crate) fn read_range(
        &mut self,
        txn: TxnId,
        tree: TreeId,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
    ) -> Option<usize> {
        let r = self.reads(txn, tree)?;
        if r.whole {
            return None;
        }
        if r.ranges.len() >= SIREAD_RANGES_PER_TREE_MAX {
            r.escalate();
            return None;
        }
        r.ranges.push((owned(from), owned(to)));
        Some(r.ranges.len() - 1)
    }

    /// Shrinks a recorded range to what was actually read (a scan stopped at its limit).
    pub(crate) fn narrow_range(&mut self, txn: TxnId, tree: TreeId, index: usize, to: &[u8]) {
        if let Some(r) = self.reads(txn, tree)
            && let Some(range) = r.ranges.get_mut(index)
        {
            range.1 = Bound::Included(to.to_vec());
        }
    }

    /// Shrinks a recorded range from below to what a backward scan stopped at its limit read.
    pub(crate) fn narrow_range_start(
        &mut self,
        txn: TxnId,
        tree: TreeId,
        index: usize,
        from: &[u8],
    ) {
        if let Some(r) = self.reads(txn, tree)
            && let Some(range) = r.ranges.get_mut(index)
        {
            range.0 = Bound::Included(from.to_vec());
        }
    }

    /// Records a read that depended on the whole tree (its greatest key).
    pub(crate) fn read_tree(&mut self, txn: TxnId, tree: TreeId) {
        if let Some(r) = self.reads(txn, tree) {
            r.escalate();
        }
    }

    fn seq(&self, txn: TxnId) -> Option<u64> {
        self.txns.get(&txn).and_then(|t| t.commit_seq)
    }

    fn add_edge(&mut self, reader: TxnId, writer: TxnId) {
        if let Some(r) = self.txns.get_mut(&reader) {
            r.outgoing.insert(writer);
        }
        if let Some(w) = self.txns.get_mut(&writer) {
            w.incoming.insert(reader);
        }
    }

    /// `reader` saw versions by `writers` that its snapshot does not include.
    pub(crate) fn conflict_out(
        &mut self,
        reader: TxnId,
        writers: &[TxnId],
    ) -> Result<(), EngineError> {
        if !self.txns.contains_key(&reader) {
            return Ok(());
        }
        for &w in writers {
            if w == reader {
                continue;
            }
            // Writers not tracked are not serializable, or ended before every active snapshot.
            let Some(w_seq) = self.seq(w) else {
                continue;
            };
            self.add_edge(reader, w);
            let reader_pivot = self.txns[&reader]
                .incoming
                .iter()
                .any(|&x| self.seq(x).is_none_or(|x_seq| x_seq >= w_seq));
            let writer_pivot = self.txns[&w]
                .outgoing
                .iter()
                .any(|&y| self.seq(y).is_some_and(|y_seq| y_seq < w_seq));
            if reader_pivot || writer_pivot {
                return Err(EngineError::SerializationFailure(
                    "a read saw a concurrent serializable commit that completes a dangerous structure"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    /// Finds the incoming edges of a committing writer and refuses its commit if it is the pivot
    /// of a dangerous structure. Called under the engine lock, before its MTR is built.
    pub(crate) fn pre_commit<'w>(
        &mut self,
        txn: TxnId,
        writes: impl Iterator<Item = (TreeId, &'w [u8])> + Clone,
    ) -> Result<(), EngineError> {
        let Some(me) = self.txns.get(&txn) else {
            return Ok(());
        };
        let my_snapshot = me.snapshot;
        let readers: Vec<TxnId> = self
            .txns
            .iter()
            .filter(|(id, t)| {
                **id != txn
                    && !(t.commit_seq.is_some() && t.end_lsn <= my_snapshot)
                    && writes
                        .clone()
                        .any(|(tree, key)| t.reads.get(&tree).is_some_and(|r| r.covers(key)))
            })
            .map(|(id, _)| *id)
            .collect();
        for r in readers {
            self.add_edge(r, txn);
        }
        let me = &self.txns[&txn];
        for &y in &me.outgoing {
            let Some(y_seq) = self.seq(y) else {
                continue;
            };
            let dangerous = me
                .incoming
                .iter()
                .any(|&x| x == y || self.seq(x).is_none_or(|x_seq| x_seq > y_seq));
            if dangerous {
                return Err(EngineError::SerializationFailure(
                    "the transaction is the pivot of a dangerous structure of rw-antidependencies"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    /// Marks a transaction committed, `end_lsn` being the last LSN appended at that moment.
    pub(crate) fn committed(&mut self, txn: TxnId, end_lsn: Lsn) {
        let seq = self.next_seq;
        if let Some(t) = self.txns.get_mut(&txn) {
            self.next_seq += 1;
            t.commit_seq = Some(seq);
            t.end_lsn = end_lsn;
        }
        self.cleanup();
    }

    /// Forgets an aborted transaction: its reads and edges never happened.
    pub(crate) fn abort(&mut self, txn: TxnId) {
        if self.txns.remove(&txn).is_some() {
            for t in self.txns.values_mut() {
                t.incoming.remove(&txn);
                t.outgoing.remove(&txn);
            }
        }
        self.cleanup();
    }

    /// Forgets committed transactions that no active one can still form a structure with.
    fn cleanup(&mut self) {
        let oldest_active = self
            .txns
            .values()
            .filter(|t| t.commit_seq.is_none())
            .map(|t| t.snapshot)
            .min();
        let gone: Vec<TxnId> = self
            .txns
            .iter()
            .filter(|(_, t)| t.commit_seq.is_some() && oldest_active.is_none_or(|s| t.end_lsn <= s))
            .map(|(id, _)| *id)
            .collect();
        for id in &gone {
            self.txns.remove(id);
        }
        if !gone.is_empty() {
            for t in self.txns.values_mut() {
                for id in &gone {
                    t.incoming.remove(id);
                    t.outgoing.remove(id);
                }
            }
        }
    }

    /// Serializable transactions tracked (active, or committed and still relevant).
    #[cfg(test)]
    pub(crate) fn tracked(&self) -> usize {
        self.txns.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use borealis_common::PageId;

    const T: TreeId = PageId(9);

    #[test]
    fn write_skew_aborts_the_second_committer() {
        let mut s = Ssi::default();
        let (a, b) = (TxnId(1), TxnId(2));
        s.begin(a, Lsn(10));
        s.begin(b, Lsn(10));
        for t in [a, b] {
            s.read_key(t, T, b"x");
            s.read_key(t, T, b"y");
        }
        s.pre_commit(a, [(T, &b"x"[..])].into_iter()).unwrap();
        s.committed(a, Lsn(11));
        assert!(matches!(
            s.pre_commit(b, [(T, &b"y"[..])].into_iter()),
            Err(EngineError::SerializationFailure(_))
        ));
        s.abort(b);
        assert_eq!(s.tracked(), 0, "nothing active: everything forgotten");
    }

    #[test]
    fn disjoint_reads_and_writes_commit() {
        let mut s = Ssi::default();
        let (a, b) = (TxnId(1), TxnId(2));
        s.begin(a, Lsn(10));
        s.begin(b, Lsn(10));
        s.read_range(a, T, Bound::Included(b"a"), Bound::Excluded(b"m"));
        s.read_key(b, T, b"q");
        s.pre_commit(a, [(T, &b"x"[..])].into_iter()).unwrap();
        s.committed(a, Lsn(11));
        s.pre_commit(b, [(T, &b"c"[..])].into_iter()).unwrap();
        s.committed(b, Lsn(12));
    }
}
