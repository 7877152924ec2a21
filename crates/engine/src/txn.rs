//! Transactions: isolation level, snapshot, write set, row locks held, savepoints.
//!
//! A [`Txn`] is private to one session. Its write set maps each tree to a sorted map from key to
//! the transaction's last write of that key (a value, or a delete); nothing reaches a page before
//! commit. Its snapshot is an LSN, registered with the engine so vacuum keeps every version it may
//! still read; it is taken when the transaction begins and, through
//! [`Engine::new_statement`](crate::Engine::new_statement), again at each statement (READ
//! COMMITTED) or only at the first one (REPEATABLE READ, SERIALIZABLE).
//!
//! Savepoints are marks in an undo list that records, for every write and every lock taken while
//! a savepoint exists, what was there before: rolling back to a savepoint replays the list
//! backwards down to its mark (restoring write-set entries and releasing or lowering the locks
//! taken since), releasing one drops its mark. With no savepoint, nothing is recorded.
//!
//! A transaction that is dropped without commit or rollback rolls back: its locks are released,
//! its snapshot unregistered and its serializable read set forgotten.

use crate::locks::{LockManager, LockMode, RowId, Waiter};
use crate::mvcc::LiveSet;
use crate::ssi::Ssi;
use crate::{EngineError, TreeId};
use borealis_common::pagestore::PageStore;
use borealis_common::{Lsn, TxnId};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Isolation levels, with PostgreSQL's semantics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Isolation {
    /// Each statement reads at its own snapshot; a write waits for the row's lock and then applies
    /// to its newest committed version (the SQL layer re-checks its predicate on it, see
    /// [`Engine::lock_row`](crate::Engine::lock_row)).
    #[default]
    ReadCommitted,
    /// Snapshot isolation: one snapshot for the whole transaction; writing a row whose newest
    /// committed version is newer than the snapshot fails with
    /// [`EngineError::SerializationFailure`] (first updater wins).
    RepeatableRead,
    /// Serializable snapshot isolation: repeatable read plus tracking of rw-antidependencies;
    /// a dangerous structure fails one transaction with [`EngineError::SerializationFailure`].
    Serializable,
}

/// Names a savepoint of one transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SavepointId(pub(crate) u64);

/// What a buffered write costs in memory besides its key and value bytes (map node, enum).
const WRITE_OVERHEAD_BYTES: usize = 64;

/// One buffered write of a key.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum Write {
    /// Set the key to `value`. `must_be_absent`: the key came from an insert while no row was
    /// there, so the commit fails if a row is there by then.
    Put {
        value: Vec<u8>,
        must_be_absent: bool,
    },
    /// Remove the key.
    Delete,
}

/// Writes taken out of a transaction's write set by [`Engine::set_aside`](crate::Engine::set_aside),
/// to be put back by [`Engine::put_back`](crate::Engine::put_back).
#[derive(Debug)]
pub struct AsideWrites {
    writes: Vec<AsideWrite>,
}

#[derive(Debug)]
struct AsideWrite {
    tree: TreeId,
    key: Vec<u8>,
    /// The transaction's own write of the key once these were set aside (none: it read the
    /// committed row).
    before: Option<Write>,
    /// The write set aside (none: the key had no own write).
    after: Option<Write>,
}

/// What a savepoint rollback undoes.
enum Undo {
    Write {
        tree: TreeId,
        key: Vec<u8>,
        before: Option<Write>,
    },
    Lock {
        row: RowId,
        before: Option<LockMode>,
    },
}

/// State shared by the engine and its transactions (which must be able to release their locks
/// and snapshots when they are dropped).
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn PageStore>,
    pub(crate) locks: LockManager,
    /// Snapshots in use (transactions' and registered external ones), with their counts.
    snapshots: Mutex<BTreeMap<Lsn, usize>>,
    ssi: Mutex<Ssi>,
    /// The last LSN the engine appended (written under the engine lock).
    pub(crate) last_lsn: AtomicU64,
    /// Spilled transactions still running (see `mvcc`).
    pub(crate) live: Arc<LiveSet>,
    /// Advanced before and after every commit that changes the catalog tree (see
    /// [`Engine::catalog_generation`](crate::Engine::catalog_generation)).
    pub(crate) catalog_generation: AtomicU64,
}

impl Shared {
    pub(crate) fn new(store: Arc<dyn PageStore>, last_lsn: Lsn) -> Shared {
        Shared {
            store,
            locks: LockManager::default(),
            snapshots: Mutex::new(BTreeMap::new()),
            ssi: Mutex::new(Ssi::default()),
            last_lsn: AtomicU64::new(last_lsn.0),
            live: Arc::new(LiveSet::default()),
            catalog_generation: AtomicU64::new(0),
        }
    }

    fn registry(&self) -> MutexGuard<'_, BTreeMap<Lsn, usize>> {
        self.snapshots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn ssi(&self) -> MutexGuard<'_, Ssi> {
        self.ssi
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes a snapshot at the durable LSN and registers it, atomically with respect to
    /// [`horizon`](Self::horizon): a horizon computed before the registration read a durable LSN
    /// no higher than this snapshot.
    pub(crate) fn take_snapshot(&self) -> Lsn {
        let mut reg = self.registry();
        let s = self.store.durable_lsn();
        *reg.entry(s).or_default() += 1;
        s
    }

    /// Registers a given snapshot if vacuum may not have pruned past it yet.
    pub(crate) fn register(&self, s: Lsn) -> Result<(), EngineError> {
        let mut reg = self.registry();
        if s < horizon_of(&reg, self.store.durable_lsn()) {
            return Err(EngineError::SnapshotTooOld { snapshot: s });
        }
        *reg.entry(s).or_default() += 1;
        Ok(())
    }

    pub(crate) fn unregister(&self, s: Lsn) {
        let mut reg = self.registry();
        let n = reg
            .get_mut(&s)
            .expect("unregistering a snapshot that is not registered");
        *n -= 1;
        if *n == 0 {
            reg.remove(&s);
        }
    }

    /// The oldest snapshot anyone may still read at: the oldest registered one, or the durable
    /// LSN (where the next snapshot will be taken) if that is older or none is registered.
    pub(crate) fn horizon(&self) -> Lsn {
        let reg = self.registry();
        horizon_of(&reg, self.store.durable_lsn())
    }
}

fn horizon_of(reg: &BTreeMap<Lsn, usize>, durable: Lsn) -> Lsn {
    reg.keys()
        .next()
        .map_or(durable, |&oldest| oldest.min(durable))
}

/// A snapshot registered from outside (a read replica's read point, a long backup): vacuum keeps
/// every version it may read until the guard is dropped.
pub struct SnapshotGuard {
    pub(crate) shared: Arc<Shared>,
    pub(crate) lsn: Lsn,
}

impl SnapshotGuard {
    /// The registered snapshot.
    #[must_use]
    pub fn lsn(&self) -> Lsn {
        self.lsn
    }
}

impl Drop for SnapshotGuard {
    fn drop(&mut self) {
        self.shared.unregister(self.lsn);
    }
}

impl fmt::Debug for SnapshotGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnapshotGuard")
            .field("lsn", &self.lsn)
            .finish()
    }
}

/// Cancels a transaction's lock wait from another thread (statement timeout, a client's cancel
/// request). A wait in progress fails with [`EngineError::Canceled`]; if none is in progress, the
/// next one of the current statement does.
#[derive(Clone)]
pub struct CancelHandle {
    pub(crate) shared: Arc<Shared>,
    pub(crate) waiter: Arc<Waiter>,
}

impl CancelHandle {
    /// Cancels the transaction's current (or next) lock wait.
    pub fn cancel(&self) {
        self.shared.locks.cancel(&self.waiter);
    }
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHandle").finish_non_exhaustive()
    }
}

/// A transaction. Obtained from [`Engine::begin`](crate::Engine::begin) or
/// [`Engine::begin_with`](crate::Engine::begin_with), ended by
/// [`Engine::commit`](crate::Engine::commit) or [`Engine::rollback`](crate::Engine::rollback)
/// (dropping it is a rollback too).
pub struct Txn {
    pub(crate) id: TxnId,
    pub(crate) engine: u64,
    pub(crate) shared: Arc<Shared>,
    pub(crate) isolation: Isolation,
    pub(crate) snapshot: Lsn,
    /// Whether `snapshot` is registered with the engine.
    pub(crate) snapshot_registered: bool,
    /// Statements begun through `new_statement`.
    pub(crate) statements: u64,
    pub(crate) writes: BTreeMap<TreeId, BTreeMap<Vec<u8>, Write>>,
    /// Bytes buffered in `writes` since the last spill (keys and values, an estimate that only
    /// grows until the next spill).
    pub(crate) write_bytes: usize,
    /// Whether some of the transaction's writes are already in pages, as versions of an
    /// `UNCOMMITTED` transaction (see `mvcc`).
    pub(crate) spilled: bool,
    /// Trees the spilled writes went to (vacuum visits them after the transaction ends).
    pub(crate) spilled_trees: BTreeSet<TreeId>,
    /// The greatest key spilled into each tree this transaction created: an insert of a key
    /// past it finds no spilled version of its own to collide with, so a tree filled in key
    /// order (an index build) is not searched once per insert.
    pub(crate) spilled_last: BTreeMap<TreeId, Vec<u8>>,
    /// Rows this transaction holds locks on.
    pub(crate) locks: BTreeMap<RowId, LockMode>,
    /// Trees this transaction created ([`crate::Engine::create_tree_in`]): nothing names them
    /// for another transaction until it commits, so inserts into them take no row locks.
    pub(crate) created_trees: BTreeSet<TreeId>,
    undo: Vec<Undo>,
    /// Open savepoints, oldest first, with the undo length at their creation.
    savepoints: Vec<(SavepointId, usize)>,
    next_savepoint: u64,
    pub(crate) lock_timeout: Option<Duration>,
    pub(crate) waiter: Arc<Waiter>,
    /// Set once committed or rolled back (the drop then has nothing left to do).
    pub(crate) ended: bool,
}

impl Txn {
    pub(crate) fn new(
        id: TxnId,
        engine: u64,
        shared: Arc<Shared>,
        isolation: Isolation,
        snapshot: Lsn,
    ) -> Txn {
        Txn {
            id,
            engine,
            shared,
            isolation,
            snapshot,
            snapshot_registered: true,
            statements: 0,
            writes: BTreeMap::new(),
            write_bytes: 0,
            spilled: false,
            spilled_trees: BTreeSet::new(),
            spilled_last: BTreeMap::new(),
            locks: BTreeMap::new(),
            created_trees: BTreeSet::new(),
            undo: Vec::new(),
            savepoints: Vec::new(),
            next_savepoint: 1,
            lock_timeout: None,
            waiter: Arc::new(Waiter::default()),
            ended: false,
        }
    }

    /// The transaction's id, as it will appear in its versions and its commit record.
    #[must_use]
    pub fn id(&self) -> TxnId {
        self.id
    }

    /// Whether the transaction has written to the catalog tree (its own view of the catalog
    /// may then differ from everyone else's).
    #[must_use]
    pub fn wrote_catalog(&self) -> bool {
        self.writes.contains_key(&crate::CATALOG) || self.spilled_trees.contains(&crate::CATALOG)
    }

    /// Whether the transaction has buffered no write (its commit would append nothing).
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        self.writes.is_empty() && !self.spilled
    }

    /// Bytes of writes buffered in memory (an estimate; spilled writes are not counted). For
    /// tests and monitoring.
    #[must_use]
    pub fn buffered_write_bytes(&self) -> usize {
        if self.writes.is_empty() {
            0
        } else {
            self.write_bytes
        }
    }

    /// Row locks held in memory (rows whose spilled versions lock them are not counted). For
    /// tests and monitoring.
    #[must_use]
    pub fn rows_locked(&self) -> usize {
        self.locks.len()
    }

    /// Whether some of the transaction's writes were spilled into pages before its commit.
    #[must_use]
    pub fn has_spilled(&self) -> bool {
        self.spilled
    }

    /// The transaction's isolation level.
    #[must_use]
    pub fn isolation(&self) -> Isolation {
        self.isolation
    }

    /// The snapshot the transaction reads at: it sees every version whose transaction committed
    /// at or below this LSN, plus its own writes.
    #[must_use]
    pub fn snapshot(&self) -> Lsn {
        self.snapshot
    }

    /// Bounds the lock waits of writes (`insert`, `put`, `delete`); `None` waits without limit
    /// (PostgreSQL's `lock_timeout = 0`). Deadlocks are detected either way.
    pub fn set_lock_timeout(&mut self, timeout: Option<Duration>) {
        self.lock_timeout = timeout;
    }

    /// A handle another thread can use to cancel this transaction's lock waits.
    #[must_use]
    pub fn cancel_handle(&self) -> CancelHandle {
        CancelHandle {
            shared: self.shared.clone(),
            waiter: self.waiter.clone(),
        }
    }

    pub(crate) fn write_of(&self, tree: TreeId, key: &[u8]) -> Option<&Write> {
        let writes = self.writes.get(&tree)?;
        // A key past the last buffered one (a tree written in key order) is answered by one
        // comparison: a search would compare it with every key of each node on the way down.
        if writes
            .last_key_value()
            .is_none_or(|(last, _)| last.as_slice() < key)
        {
            return None;
        }
        writes.get(key)
    }

    fn record(&mut self, undo: Undo) {
        if !self.savepoints.is_empty() {
            self.undo.push(undo);
        }
    }

    pub(crate) fn set(&mut self, tree: TreeId, key: &[u8], write: Write) {
        self.write_bytes += WRITE_OVERHEAD_BYTES
            + key.len()
            + match &write {
                Write::Put { value, .. } => value.len(),
                Write::Delete => 0,
            };
        let before = self
            .writes
            .entry(tree)
            .or_default()
            .insert(key.to_vec(), write);
        self.record(Undo::Write {
            tree,
            key: key.to_vec(),
            before,
        });
    }

    pub(crate) fn unset(&mut self, tree: TreeId, key: &[u8]) {
        let mut before = None;
        if let Some(w) = self.writes.get_mut(&tree) {
            before = w.remove(key);
            if w.is_empty() {
                self.writes.remove(&tree);
            }
        }
        self.record(Undo::Write {
            tree,
            key: key.to_vec(),
            before,
        });
    }

    fn restore_write(&mut self, tree: TreeId, key: Vec<u8>, before: Option<Write>) {
        match before {
            Some(w) => {
                self.writes.entry(tree).or_default().insert(key, w);
            }
            None => {
                if let Some(w) = self.writes.get_mut(&tree) {
                    w.remove(&key);
                    if w.is_empty() {
                        self.writes.remove(&tree);
                    }
                }
            }
        }
    }

    /// Notes that the transaction now holds `row` in `mode` (having held `before`).
    pub(crate) fn note_lock(&mut self, row: RowId, mode: LockMode, before: Option<LockMode>) {
        self.locks.insert(row.clone(), mode);
        self.record(Undo::Lock { row, before });
    }

    /// Gives back a lock taken by a write that then turned out to write nothing.
    pub(crate) fn give_back_lock(&mut self, row: &RowId, before: Option<LockMode>) {
        self.shared.locks.release(self.id, row, before);
        match before {
            Some(m) => self.locks.insert(row.clone(), m),
            None => self.locks.remove(row),
        };
    }

    pub(crate) fn savepoint(&mut self) -> SavepointId {
        let id = SavepointId(self.next_savepoint);
        self.next_savepoint += 1;
        self.savepoints.push((id, self.undo.len()));
        id
    }

    fn position(&self, sp: SavepointId) -> Result<usize, EngineError> {
        self.savepoints
            .iter()
            .position(|(id, _)| *id == sp)
            .ok_or(EngineError::NoSuchSavepoint)
    }

    /// Undoes everything done since `sp`; `sp` stays open (as in SQL).
    pub(crate) fn rollback_to(&mut self, sp: SavepointId) -> Result<(), EngineError> {
        let i = self.position(sp)?;
        let mark = self.savepoints[i].1;
        self.savepoints.truncate(i + 1);
        while self.undo.len() > mark {
            match self.undo.pop().expect("above the mark") {
                Undo::Write { tree, key, before } => self.restore_write(tree, key, before),
                Undo::Lock { row, before } => {
                    self.shared.locks.release(self.id, &row, before);
                    match before {
                        Some(m) => self.locks.insert(row, m),
                        None => self.locks.remove(&row),
                    };
                }
            }
        }
        Ok(())
    }

    /// Takes the writes made since `sp` out of the write set, keeping the locks taken since:
    /// the transaction reads as it did at `sp` until [`put_back`](Self::put_back). Later
    /// savepoints are closed; `sp` stays open.
    pub(crate) fn set_aside(&mut self, sp: SavepointId) -> Result<AsideWrites, EngineError> {
        let i = self.position(sp)?;
        let mark = self.savepoints[i].1;
        self.savepoints.truncate(i + 1);
        let tail = self.undo.split_off(mark);
        let mut keys = BTreeSet::new();
        for u in &tail {
            if let Undo::Write { tree, key, .. } = u {
                keys.insert((*tree, key.clone()));
            }
        }
        let after: Vec<Option<Write>> = keys
            .iter()
            .map(|(tree, key)| self.write_of(*tree, key).cloned())
            .collect();
        let mut locks = Vec::new();
        for u in tail.into_iter().rev() {
            match u {
                Undo::Write { tree, key, before } => self.restore_write(tree, key, before),
                lock @ Undo::Lock { .. } => locks.push(lock),
            }
        }
        locks.reverse();
        self.undo.extend(locks);
        let writes = keys
            .into_iter()
            .zip(after)
            .map(|((tree, key), after)| {
                let before = self.write_of(tree, &key).cloned();
                AsideWrite {
                    tree,
                    key,
                    before,
                    after,
                }
            })
            .collect();
        Ok(AsideWrites { writes })
    }

    /// Puts writes set aside back, unless the transaction has written one of their keys since
    /// they were set aside: then nothing is put back and the tree of such a key is returned.
    pub(crate) fn put_back(&mut self, aside: AsideWrites) -> Result<(), TreeId> {
        if let Some(w) = aside
            .writes
            .iter()
            .find(|w| self.write_of(w.tree, &w.key) != w.before.as_ref())
        {
            return Err(w.tree);
        }
        for w in aside.writes {
            match w.after {
                Some(write) => self.set(w.tree, &w.key, write),
                None => self.unset(w.tree, &w.key),
            }
        }
        Ok(())
    }

    /// Forgets `sp` and every savepoint opened after it; their changes stay.
    pub(crate) fn release(&mut self, sp: SavepointId) -> Result<(), EngineError> {
        let i = self.position(sp)?;
        self.savepoints.truncate(i);
        if self.savepoints.is_empty() {
            self.undo.clear();
        }
        Ok(())
    }

    /// Replaces the transaction's snapshot by a fresh one at the durable LSN.
    pub(crate) fn refresh_snapshot(&mut self) {
        let fresh = self.shared.take_snapshot();
        if self.snapshot_registered {
            self.shared.unregister(self.snapshot);
        }
        self.snapshot = fresh;
        self.snapshot_registered = true;
        if self.isolation == Isolation::Serializable {
            self.shared.ssi().set_snapshot(self.id, fresh);
        }
    }

    /// Unregisters the snapshot (at commit: the transaction reads no more).
    pub(crate) fn drop_snapshot(&mut self) {
        if self.snapshot_registered {
            self.shared.unregister(self.snapshot);
            self.snapshot_registered = false;
        }
    }

    /// Releases everything the transaction holds. `committed`: its SSI record stays (marked
    /// committed by the commit); otherwise it is forgotten.
    pub(crate) fn end(&mut self, committed: bool) {
        if self.ended {
            return;
        }
        self.ended = true;
        if self.spilled && !committed {
            // Dead before anyone woken by the lock release looks at its versions again.
            self.shared.live.remove(self.id);
        }
        self.shared.locks.release_all(self.id, self.locks.keys());
        self.locks.clear();
        self.drop_snapshot();
        if !committed && self.isolation == Isolation::Serializable {
            self.shared.ssi().abort(self.id);
        }
        self.writes.clear();
        self.undo.clear();
        self.savepoints.clear();
    }

    /// Whether the transaction has open savepoints (spilling waits until none is open: the
    /// writes a rollback to a savepoint undoes must still be in memory).
    pub(crate) fn has_savepoints(&self) -> bool {
        !self.savepoints.is_empty()
    }

    /// Read sets, for serializable transactions only.
    pub(crate) fn ssi_tracked(&self) -> bool {
        self.isolation == Isolation::Serializable
    }

    pub(crate) fn last_lsn(&self) -> Lsn {
        Lsn(self.shared.last_lsn.load(Ordering::Acquire))
    }
}

impl Drop for Txn {
    fn drop(&mut self) {
        self.end(false);
    }
}

impl fmt::Debug for Txn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Txn")
            .field("id", &self.id)
            .field("isolation", &self.isolation)
            .field("snapshot", &self.snapshot)
            .field("trees_written", &self.writes.len())
            .field(
                "keys_written",
                &self.writes.values().map(BTreeMap::len).sum::<usize>(),
            )
            .field("rows_locked", &self.locks.len())
            .finish()
    }
}
