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
//!                   │  Txn write sets                 │
//!                   │  (in memory until commit)       └──► append_mtr(records) ──► storage
//! ```
//!
//! Data flow of a transaction: reads ([`Engine::get`], [`Engine::scan`], [`Engine::last_key`])
//! see the transaction's own buffered writes merged over the trees; writes ([`Engine::insert`],
//! [`Engine::put`], [`Engine::delete`]) only fill the transaction's write set. [`Engine::commit`]
//! takes the engine lock, re-checks that every inserted key is still absent, applies the whole
//! write set to the trees and appends ONE MTR holding every changed page and, last, the commit
//! record. That record's LSN is the MTR's CPL, so storage, replicas and recovery see either the
//! whole transaction or none of it, and there is no undo to do after a crash. The caller waits
//! for the volume durable LSN to reach the returned commit LSN before acknowledging the client.
//!
//! Invariants:
//! - A frame is evicted only if its page LSN ≤ the store's durable LSN (asserted in `pool`).
//! - Every changed page passes its format checks before it is logged (asserted in `mtr`);
//!   every page read from storage is checked before use, and a failure is
//!   [`EngineError::Corrupted`], never a panic.
//! - A tree's root page never moves, so a [`TreeId`] stays valid until the tree is dropped.
//! - Page ids come from the meta page's next-free counter, advanced in the same MTR that first
//!   writes the page, and are never reused.
//!
//! What this version does not do yet (later issues):
//! - No MVCC: committed data is visible to every transaction as soon as its commit applies it,
//!   and reads see the latest committed state (a snapshot at an LSN comes later). Write-write
//!   conflicts other than duplicate inserts are last-committer-wins.
//! - One engine-wide mutex around the buffer pool and the trees; every public method holds it
//!   briefly (a commit holds it while it applies its write set).
//! - Write sets live in memory, unbounded, and a commit pins every page it changes until its MTR
//!   is appended: a huge transaction grows memory without limit.
//! - No free-space management: pages of dropped trees, of rolled-back `create_tree` calls and
//!   pages emptied by deletes are never reused; B+tree pages never merge.
//!
//! Formats are described byte by byte in `docs/formats.md` ("Engine pages"); bounds live in
//! [`limits`].

#![cfg_attr(test, allow(clippy::unwrap_used))]

mod btree;
mod engine;
pub mod limits;
mod mtr;
mod page;
mod pool;

pub use engine::{Engine, EngineConfig, Txn};
pub use pool::PoolStats;

use borealis_common::PageId;
use borealis_common::pagestore::StoreError;

/// A B+tree is named by its root page, which never moves.
pub type TreeId = PageId;

/// A key and its value, as [`Engine::scan`] returns them.
pub type Entry = (Vec<u8>, Vec<u8>);

/// The catalog tree. The SQL layer keeps its table definitions in it, as opaque bytes.
pub const CATALOG: TreeId = PageId(1);

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
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> EngineError {
        match e {
            StoreError::Corrupted(why) => EngineError::Corrupted(format!("storage: {why}")),
            other => EngineError::Store(other),
        }
    }
}
