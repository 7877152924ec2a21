//! Row locks, held in memory at the writer, with wait queues and deadlock detection
//! (DESIGN.md §3: "Row locks are held in memory at the writer (there is exactly one writer);
//! deadlocks are detected").
//!
//! A row is named by its tree and key. A lock is held in one of two modes: `Share` (SELECT … FOR
//! SHARE) or `Update` (every write, and SELECT … FOR UPDATE). Shares are compatible with each
//! other; `Update` conflicts with everything. Each locked row has its holders and a FIFO queue of
//! waiters:
//!
//! ```text
//!  (tree, key) ──► holders: [(txn 7, Share), (txn 9, Share)]
//!                  queue:   [txn 12 wants Update] ─► [txn 15 wants Share]
//! ```
//!
//! A request is granted when it is compatible with every other holder and with every waiter
//! queued before it (so a stream of sharers cannot starve a writer); an upgrade from `Share` to
//! `Update` by a holder skips the queue, because the holder already blocks everyone queued.
//!
//! Waiting never holds the engine mutex: the lock table has its own mutex, and each transaction
//! has its own condition variable on which it sleeps until a release, a timeout or a cancel.
//! Before a request sleeps, the wait-for graph is searched from it: it waits for every
//! conflicting holder and every conflicting waiter queued ahead of it, and those wait for whatever
//! their own requests wait for. If the search comes back to the requester, the request fails at
//! once with [`EngineError::Deadlock`] and the requester's transaction is expected to roll back.
//! A new edge can only close a cycle through the request that adds it, so checking when a request
//! starts to wait finds every deadlock.
//!
//! Locks are released all at once when a transaction commits, as soon as its commit MTR has its
//! LSN and before it is durable (early lock release: the next writer of the row commits at a
//! higher LSN, and commits are acknowledged in LSN order, so it can never be acknowledged before
//! the first one is durable), or when it rolls back; and individually when a savepoint that
//! acquired them is rolled back to.

use crate::{EngineError, TreeId};
use borealis_common::TxnId;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How strongly a row is locked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockMode {
    /// Compatible with other `Share` locks: SELECT … FOR SHARE.
    Share,
    /// Exclusive: every write, and SELECT … FOR UPDATE.
    Update,
}

impl LockMode {
    fn conflicts(self, other: LockMode) -> bool {
        self == LockMode::Update || other == LockMode::Update
    }
}

/// What to do when a row is locked by another transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockWait {
    /// Wait (bounded by the timeout given, and by deadlock detection).
    Block,
    /// Fail at once with [`EngineError::LockNotAvailable`] (NOWAIT).
    NoWait,
    /// Give up on this row at once and report it skipped (SKIP LOCKED).
    SkipLocked,
}

/// A row: its tree and key.
pub(crate) type RowId = (TreeId, Vec<u8>);

/// The outcome of a lock request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Acquired {
    /// Granted now; the mode the transaction held before (if any).
    Granted { before: Option<LockMode> },
    /// The transaction already held the row at least this strongly.
    AlreadyHeld,
    /// Locked by another transaction and the request said `SkipLocked`.
    Skipped,
}

/// One transaction's wake-up channel and cancel flag.
#[derive(Default)]
pub(crate) struct Waiter {
    wake: Condvar,
    cancelled: AtomicBool,
}

struct Request {
    txn: TxnId,
    mode: LockMode,
    waiter: Arc<Waiter>,
}

#[derive(Default)]
struct RowLock {
    holders: Vec<(TxnId, LockMode)>,
    queue: VecDeque<Request>,
}

#[derive(Default)]
struct Table {
    rows: HashMap<RowId, RowLock>,
    /// The row each waiting transaction waits for.
    waiting_on: HashMap<TxnId, RowId>,
}

/// The lock table.
#[derive(Default)]
pub(crate) struct LockManager {
    table: Mutex<Table>,
}

impl LockManager {
    fn table(&self) -> MutexGuard<'_, Table> {
        // The table's invariants hold between statements of these methods, none of which can
        // panic half way, so a poisoned mutex (a panic elsewhere while holding it) is still usable.
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Acquires `mode` on `row` for `txn`, waiting as `wait` says, at most `timeout` (`None`:
    /// no limit).
    pub(crate) fn acquire(
        &self,
        txn: TxnId,
        waiter: &Arc<Waiter>,
        row: &RowId,
        mode: LockMode,
        wait: LockWait,
        timeout: Option<Duration>,
    ) -> Result<Acquired, EngineError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut table = self.table();
        let lock = table.rows.entry(row.clone()).or_default();
        let held = held_mode(lock, txn);
        if held.is_some_and(|h| h >= mode) {
            return Ok(Acquired::AlreadyHeld);
        }
        if grantable(lock, txn, mode, None) {
            grant(lock, txn, mode);
            return Ok(Acquired::Granted { before: held });
        }
        match wait {
            LockWait::NoWait => {
                drop_if_unused(&mut table, row);
                return Err(EngineError::LockNotAvailable);
            }
            LockWait::SkipLocked => {
                drop_if_unused(&mut table, row);
                return Ok(Acquired::Skipped);
            }
            LockWait::Block => {}
        }
        if waiter.cancelled.swap(false, Ordering::AcqRel) {
            drop_if_unused(&mut table, row);
            return Err(EngineError::Canceled);
        }
        let lock = table.rows.get_mut(row).expect("entry created above");
        lock.queue.push_back(Request {
            txn,
            mode,
            waiter: waiter.clone(),
        });
        table.waiting_on.insert(txn, row.clone());
        if deadlocked(&table, txn) {
            self.leave_queue(&mut table, txn, row);
            return Err(EngineError::Deadlock);
        }
        loop {
            let lock = table
                .rows
                .get_mut(row)
                .expect("a waited-for row stays in the table");
            let position = lock
                .queue
                .iter()
                .position(|r| r.txn == txn)
                .expect("a waiter stays in its queue");
            if grantable(lock, txn, mode, Some(position)) {
                lock.queue.remove(position);
                grant(lock, txn, mode);
                table.waiting_on.remove(&txn);
                // Others queued behind may be compatible too (sharers after a sharer).
                wake_all(table.rows.get(row).expect("present"));
                return Ok(Acquired::Granted { before: held });
            }
            if waiter.cancelled.swap(false, Ordering::AcqRel) {
                self.leave_queue(&mut table, txn, row);
                return Err(EngineError::Canceled);
            }
            table = match deadline {
                None => waiter
                    .wake
                    .wait(table)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        self.leave_queue(&mut table, txn, row);
                        return Err(EngineError::LockTimeout);
                    }
                    waiter
                        .wake
                        .wait_timeout(table, deadline - now)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0
                }
            };
        }
    }

    fn leave_queue(&self, table: &mut Table, txn: TxnId, row: &RowId) {
        table.waiting_on.remove(&txn);
        if let Some(lock) = table.rows.get_mut(row) {
            lock.queue.retain(|r| r.txn != txn);
            wake_all(lock);
        }
        drop_if_unused(table, row);
    }

    /// Releases `txn`'s lock on one row, or lowers it back to `to` (savepoint rollback).
    pub(crate) fn release(&self, txn: TxnId, row: &RowId, to: Option<LockMode>) {
        let mut table = self.table();
        if let Some(lock) = table.rows.get_mut(row) {
            lock.holders.retain(|(t, _)| *t != txn);
            if let Some(mode) = to {
                lock.holders.push((txn, mode));
            }
            wake_all(lock);
        }
        drop_if_unused(&mut table, row);
    }

    /// Releases every lock of `txn` on `rows`.
    pub(crate) fn release_all<'r>(&self, txn: TxnId, rows: impl IntoIterator<Item = &'r RowId>) {
        let mut table = self.table();
        for row in rows {
            if let Some(lock) = table.rows.get_mut(row) {
                lock.holders.retain(|(t, _)| *t != txn);
                wake_all(lock);
            }
            drop_if_unused(&mut table, row);
        }
    }

    /// Wakes `txn` if it waits, making its request fail with [`EngineError::Canceled`]; if it
    /// does not wait, its next wait fails at once.
    pub(crate) fn cancel(&self, waiter: &Waiter) {
        let table = self.table();
        waiter.cancelled.store(true, Ordering::Release);
        waiter.wake.notify_all();
        drop(table);
    }

    /// Clears a cancel that arrived while nothing waited (a new statement starts afresh).
    pub(crate) fn clear_cancel(waiter: &Waiter) {
        waiter.cancelled.store(false, Ordering::Release);
    }

    /// Requests currently waiting.
    pub(crate) fn waiting(&self) -> usize {
        self.table().waiting_on.len()
    }
}

fn held_mode(lock: &RowLock, txn: TxnId) -> Option<LockMode> {
    lock.holders
        .iter()
        .find(|(t, _)| *t == txn)
        .map(|(_, m)| *m)
}

/// Whether `txn` may hold `mode` now. `position`: its place in the queue if it waits there.
fn grantable(lock: &RowLock, txn: TxnId, mode: LockMode, position: Option<usize>) -> bool {
    let holders_ok = lock
        .holders
        .iter()
        .all(|(t, m)| *t == txn || !m.conflicts(mode));
    if !holders_ok {
        return false;
    }
    if held_mode(lock, txn).is_some() {
        // An upgrade skips the queue.
        return true;
    }
    let ahead = position.unwrap_or(lock.queue.len());
    lock.queue
        .iter()
        .take(ahead)
        .all(|r| !r.mode.conflicts(mode))
}

fn grant(lock: &mut RowLock, txn: TxnId, mode: LockMode) {
    lock.holders.retain(|(t, _)| *t != txn);
    lock.holders.push((txn, mode));
}

fn wake_all(lock: &RowLock) {
    for r in &lock.queue {
        r.waiter.wake.notify_all();
    }
}

fn drop_if_unused(table: &mut Table, row: &RowId) {
    if table
        .rows
        .get(row)
        .is_some_and(|l| l.holders.is_empty() && l.queue.is_empty())
    {
        table.rows.remove(row);
    }
}

/// The transactions `txn`'s waiting request waits for.
fn blockers(table: &Table, txn: TxnId) -> Vec<TxnId> {
    let Some(row) = table.waiting_on.get(&txn) else {
        return Vec::new();
    };
    let Some(lock) = table.rows.get(row) else {
        return Vec::new();
    };
    let Some(position) = lock.queue.iter().position(|r| r.txn == txn) else {
        return Vec::new();
    };
    let mode = lock.queue[position].mode;
    let mut out: Vec<TxnId> = lock
        .holders
        .iter()
        .filter(|(t, m)| *t != txn && m.conflicts(mode))
        .map(|(t, _)| *t)
        .collect();
    if held_mode(lock, txn).is_none() {
        out.extend(
            lock.queue
                .iter()
                .take(position)
                .filter(|r| r.mode.conflicts(mode))
                .map(|r| r.txn),
        );
    }
    out
}

/// Whether the wait-for graph leads from `txn` back to itself. Each transaction is visited at
/// most once, so the search is bounded by the number of waiting transactions.
fn deadlocked(table: &Table, txn: TxnId) -> bool {
    let mut seen = HashSet::new();
    let mut stack = blockers(table, txn);
    while let Some(t) = stack.pop() {
        if t == txn {
            return true;
        }
        if seen.insert(t) {
            stack.extend(blockers(table, t));
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(k: &[u8]) -> RowId {
        (borealis_common::PageId(5), k.to_vec())
    }

    #[test]
    fn shares_coexist_update_excludes_and_upgrades_skip_the_queue() {
        let m = LockManager::default();
        let (a, b, c) = (TxnId(1), TxnId(2), TxnId(3));
        let w = Arc::new(Waiter::default());
        let r = row(b"x");
        let t = Some(Duration::from_millis(1));
        assert_eq!(
            m.acquire(a, &w, &r, LockMode::Share, LockWait::NoWait, t)
                .unwrap(),
            Acquired::Granted { before: None }
        );
        assert_eq!(
            m.acquire(b, &w, &r, LockMode::Share, LockWait::NoWait, t)
                .unwrap(),
            Acquired::Granted { before: None }
        );
        assert!(matches!(
            m.acquire(c, &w, &r, LockMode::Update, LockWait::NoWait, t),
            Err(EngineError::LockNotAvailable)
        ));
        assert_eq!(
            m.acquire(c, &w, &r, LockMode::Update, LockWait::SkipLocked, t)
                .unwrap(),
            Acquired::Skipped
        );
        assert!(matches!(
            m.acquire(c, &w, &r, LockMode::Update, LockWait::Block, t),
            Err(EngineError::LockTimeout)
        ));
        assert_eq!(m.waiting(), 0);
        m.release(b, &r, None);
        assert_eq!(
            m.acquire(a, &w, &r, LockMode::Update, LockWait::NoWait, t)
                .unwrap(),
            Acquired::Granted {
                before: Some(LockMode::Share)
            }
        );
        assert_eq!(
            m.acquire(a, &w, &r, LockMode::Share, LockWait::NoWait, t)
                .unwrap(),
            Acquired::AlreadyHeld
        );
        m.release_all(a, [&r]);
        assert!(m.table().rows.is_empty());
    }
}
