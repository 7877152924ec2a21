//! Compute engine: buffer pool, pages, B+trees, mini-transactions, transactions.
//!
//! The engine turns key/value operations on named B+trees into redo. It never writes a page
//! anywhere: every page change happens inside a mini-transaction (`mtr`) whose redo records
//! (page inits and byte-range patches, from `borealis_common::redo`) go to a
//! [`PageStore`](borealis_common::pagestore::PageStore), which assigns LSNs and ships them to the
//! storage tier; pages that fall out of the buffer pool (`pool`) are read back from storage at
//! the volume durable LSN (DESIGN.md §3).
//!
//! ```text
//!   SQL layer ──► Engine (one lock) ──► btree ──► Mtr ──► BufferPool ◄── get_page(page, durable)
//!        │          │  Txn: snapshot LSN, write set,  │
//!        │          │  locks held, savepoints         └──► append_mtr(records) ──► storage
//!        │          ├── mvcc: version chains, status tree (page 2), visibility, pruning
//!        │          └── ssi: read sets, rw-antidependencies (SERIALIZABLE)
//!        └── lock_row / writes ──► locks: row locks, wait queues, deadlock detection
//!                                  (waits never hold the engine lock)
//! ```
//!
//! Data flow of a transaction (DESIGN.md §3, "MVCC where a snapshot is an LSN"):
//! [`Engine::begin_with`] takes a snapshot at the store's durable LSN (VDL) and registers it;
//! [`Engine::new_statement`] refreshes it per statement under READ COMMITTED. Reads
//! ([`Engine::get`], [`Engine::scan`] and, in descending key order, [`Engine::scan_batch_rev`],
//! [`Engine::last_key`]) see the transaction's own buffered writes merged over, for every row,
//! the newest committed version whose transaction is visible at the snapshot. Writes ([`Engine::insert`], [`Engine::put`], [`Engine::delete`]) take the row's
//! lock, check the row's newest committed version (duplicates; first-updater-wins under
//! REPEATABLE READ and SERIALIZABLE) and fill the write set. [`Engine::commit`] takes the engine
//! lock, applies the whole write set as new versions plus the transaction's status entry, and
//! appends ONE MTR holding every changed page and, last, the commit record. That record's LSN is
//! the MTR's CPL, so storage, replicas and recovery see either the whole transaction (versions
//! and status) or none of it; pages never hold uncommitted versions, so there is no undo to do
//! after a crash. The row locks are released as soon as the MTR has its LSN. The caller waits for
//! the volume durable LSN to reach the commit LSN before acknowledging the client, and snapshots,
//! being durable LSNs, see the commit only from then on.
//!
//! Invariants:
//! - A frame is evicted only if its page LSN ≤ the store's durable LSN (asserted in `pool`).
//! - Every changed page passes its format checks before it is logged (asserted in `mtr`);
//!   every page read from storage is checked before use, and a failure is
//!   [`EngineError::Corrupted`], never a panic.
//! - A tree's root page never moves, so a [`TreeId`] stays valid until the tree is dropped.
//! - Page ids come from the meta page's next-free counter, advanced in the same MTR that first
//!   writes the page, and are never reused.
//! - Pages hold committed versions only; a transaction's status entry is written in the MTR of its
//!   versions, with a visibility LSN at most its commit LSN (asserted) and above every earlier CPL.
//! - Vacuum never removes a version that the oldest registered snapshot (or the durable LSN, if
//!   older) can read; status entries go only once every such snapshot sees their transaction.
//! - A row is written only by the holder of its `Update` lock, held until the commit's MTR has its
//!   LSN: commits of one row are in LSN order, so acknowledging in LSN order is safe.
//!
//! What this version does not do yet (later issues):
//! - One engine-wide mutex around the buffer pool and the trees; every public method holds it
//!   briefly (a commit holds it while it applies its write set).
//! - Write sets live in memory, unbounded, and a commit pins every page it changes until its MTR
//!   is appended: a huge transaction grows memory without limit. The SSI read sets are bounded
//!   (escalating to whole trees); the lock table grows with the rows locked.
//! - No free-space management: pages of dropped trees, of rolled-back `create_tree` calls and
//!   pages emptied by deletes are never reused; B+tree pages never merge.
//! - Rows keep only the versions that fit beside their newest one in a leaf cell (no overflow or
//!   separate version store): a large row updated under an old snapshot makes that snapshot's
//!   read of it fail with [`EngineError::SnapshotTooOld`].
//! - Replicas, storage-side visibility and their snapshot reports are not built; the status tree
//!   and [`Engine::register_snapshot`] are what they will use.
//!
//! Formats are described byte by byte in `docs/formats.md` ("Engine pages"); bounds live in
//! [`limits`].

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod btree;
mod engine;
pub mod limits;
mod locks;
mod mtr;
mod mvcc;
mod page;
mod pool;
mod ssi;
mod txn;

pub use engine::{Engine, EngineConfig, RowVersion, ScanBatch, TreeStats, VacuumStats};
pub use locks::{LockMode, LockWait};
pub use pool::PoolStats;
pub use txn::{AsideWrites, CancelHandle, Isolation, SavepointId, SnapshotGuard, Txn};

use borealis_common::PageId;
use borealis_common::pagestore::StoreError;

/// A B+tree is named by its root page, which never moves.
pub type TreeId = PageId;

/// A key and its value, as [`Engine::scan`] returns them.
pub type Entry = (Vec<u8>, Vec<u8>);

/// The catalog tree. The SQL layer keeps its table definitions in it, as opaque bytes.
pub const CATALOG: TreeId = PageId(1);

/// The transaction status tree: transaction id → visibility LSN (see `mvcc`). Internal to the
/// engine: user operations on it fail with [`EngineError::NoSuchTree`].
pub const STATUS: TreeId = PageId(2);

/// The meta page: format, next free page id, transaction id reservation.
pub(crate) const META_PAGE: PageId = PageId(0);

/// What the engine's operations can return.
#[derive(thiserror::Error, Debug)]
pub enum EngineError {
    /// The storage tier failed the request (unavailable, fenced).
    #[error("storage: {0}")]
    Store(StoreError),
    /// The key is already visible to the transaction (on insert), or another transaction
    /// committed it first (on commit, which then applies nothing).
    #[error("duplicate key")]
    DuplicateKey,
    /// The entry exceeds [`limits::KEY_BYTES_MAX`] or [`limits::ENTRY_BYTES_MAX`].
    #[error(
        "entry too large: key of {key_bytes} bytes (at most {}), key and value of {entry_bytes} bytes (at most {})",
        limits::KEY_BYTES_MAX,
        limits::ENTRY_BYTES_MAX
    )]
    EntryTooLarge {
        key_bytes: usize,
        entry_bytes: usize,
    },
    /// Storage returned bytes that break the page format or the tree structure.
    #[error("corrupted: {0}")]
    Corrupted(String),
    /// The id names no live B+tree (never created, dropped, or not a root page).
    #[error("no such tree: {0}")]
    NoSuchTree(TreeId),
    /// The catalog tree cannot be dropped.
    #[error("the catalog tree cannot be dropped")]
    CatalogIsPermanent,
    /// Writing the row would lose a concurrent transaction's update (REPEATABLE READ or
    /// SERIALIZABLE, first updater wins), or a serializable transaction completed a dangerous
    /// structure of rw-antidependencies. The transaction must roll back; retrying it may succeed.
    /// SQLSTATE 40001 (`serialization_failure`).
    #[error("could not serialize access: {0}")]
    SerializationFailure(String),
    /// Waiting for the row lock would have closed a cycle of waiting transactions. The
    /// transaction must roll back; retrying it may succeed. SQLSTATE 40P01
    /// (`deadlock_detected`).
    #[error("deadlock detected")]
    Deadlock,
    /// The row is locked by another transaction and the request said not to wait (NOWAIT).
    /// SQLSTATE 55P03 (`lock_not_available`).
    #[error("could not obtain lock on row")]
    LockNotAvailable,
    /// The row lock was not granted within the timeout (`lock_timeout`). SQLSTATE 55P03
    /// (`lock_not_available`), message "canceling statement due to lock timeout".
    #[error("canceling statement due to lock timeout")]
    LockTimeout,
    /// A lock wait was cancelled through a [`CancelHandle`] (statement timeout, client cancel).
    /// SQLSTATE 57014 (`query_canceled`).
    #[error("canceling statement due to user request")]
    Canceled,
    /// A version this snapshot needs was removed: the row outgrew a cell while keeping its
    /// history, or an external snapshot was registered below the vacuum horizon. SQLSTATE 72000
    /// (`snapshot_too_old`).
    #[error("snapshot too old: versions visible at LSN {snapshot} were removed")]
    SnapshotTooOld { snapshot: borealis_common::Lsn },
    /// The savepoint is not open in this transaction. SQLSTATE 3B001
    /// (`invalid_savepoint_specification`).
    #[error("no such savepoint")]
    NoSuchSavepoint,
    /// An MTR could not be appended, so the engine cannot tell what storage holds: it refuses
    /// all further work. Open a new engine on the store.
    #[error("engine halted after a failed log append ({0}); reopen it")]
    Halted(String),
}

impl EngineError {
    /// Whether retrying the same call later can succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, EngineError::Store(e) if e.is_retryable())
    }

    /// Whether the transaction must roll back and may then succeed if run again from the start
    /// (serialization failures and deadlocks).
    #[must_use]
    pub fn is_transaction_retryable(&self) -> bool {
        matches!(
            self,
            EngineError::SerializationFailure(_) | EngineError::Deadlock
        )
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> EngineError {
        match e {
            StoreError::Corrupted(why) => EngineError::Corrupted(format!("storage: {why}")),
            other => EngineError::Store(other),
        }
    }
}
