//! The engine's public face: opening a volume, trees, transactions and their write sets.
//!
//! A [`Txn`] is a private, in-memory write set: a map from tree to a sorted map from key to the
//! transaction's last write of that key (a value, or a delete). Reads merge it over the trees, so
//! a transaction sees its own writes first. Nothing touches a page before [`Engine::commit`],
//! which, under the engine lock:
//!
//! 1. re-checks that every key the transaction inserted (rather than upserted) is still absent
//!    from its tree: another transaction may have committed it since. If not, the commit fails
//!    with `DuplicateKey` and applies nothing;
//! 2. applies every write to the trees inside one MTR;
//! 3. reserves a new block of transaction ids on the meta page if this transaction's id reached
//!    the reserved bound (same MTR);
//! 4. ends the MTR with the commit record and appends it: the commit record's LSN is the CPL of
//!    the MTR, the transaction's commit LSN.
//!
//! If any step fails, the MTR is abandoned and the buffer pool is exactly as before the commit.
//!
//! Transaction ids come from memory, starting at the meta page's reserved bound when the engine
//! opens, so every id that ever appeared in a commit record is below the bound after a restart.
//! Ids of transactions that never committed may be handed out again after a restart; they appear
//! nowhere in storage.
//!
//! Bootstrap: when the store has never seen page 0, [`Engine::open`] writes the meta page and an
//! empty catalog tree root (page 1) in one MTR.

use crate::btree::{self, Cursor};
use crate::limits::{BUFFER_POOL_PAGES_MIN, ENTRY_BYTES_MAX, KEY_BYTES_MAX, TXN_IDS_RESERVED};
use crate::mtr::Mtr;
use crate::page::{self, Kind};
use crate::pool::{BufferPool, PoolStats};
use crate::{CATALOG, EngineError, Entry, META_PAGE, TreeId};
use borealis_common::pagestore::PageStore;
use borealis_common::{Lsn, Payload, TxnId};
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

/// Engine settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Buffer pool capacity, in 8 KiB pages. Raised to
    /// [`BUFFER_POOL_PAGES_MIN`](crate::limits::BUFFER_POOL_PAGES_MIN) if smaller.
    pub buffer_pool_pages: usize,
}

impl Default for EngineConfig {
    /// 16 384 pages: 128 MiB.
    fn default() -> EngineConfig {
        EngineConfig {
            buffer_pool_pages: 16 * 1024,
        }
    }
}

/// One buffered write of a key.
#[derive(Clone, PartialEq, Eq)]
enum Write {
    /// Set the key to `value`. `must_be_absent`: the key came from an insert while no row was
    /// visible, so the commit fails if the tree holds the key by then.
    Put {
        value: Vec<u8>,
        must_be_absent: bool,
    },
    /// Remove the key.
    Delete,
}

/// A transaction: its id and its private write set. Obtained from [`Engine::begin`], ended by
/// [`Engine::commit`] or [`Engine::rollback`] (dropping it is a rollback too).
pub struct Txn {
    id: TxnId,
    engine: u64,
    writes: BTreeMap<TreeId, BTreeMap<Vec<u8>, Write>>,
}

impl Txn {
    /// The transaction's id, as it will appear in its commit record.
    #[must_use]
    pub fn id(&self) -> TxnId {
        self.id
    }

    /// Whether the transaction has buffered no write (its commit would append nothing).
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        self.writes.is_empty()
    }

    fn write_of(&self, tree: TreeId, key: &[u8]) -> Option<&Write> {
        self.writes.get(&tree).and_then(|w| w.get(key))
    }

    fn set(&mut self, tree: TreeId, key: &[u8], write: Write) {
        self.writes
            .entry(tree)
            .or_default()
            .insert(key.to_vec(), write);
    }

    fn unset(&mut self, tree: TreeId, key: &[u8]) {
        if let Some(w) = self.writes.get_mut(&tree) {
            w.remove(key);
            if w.is_empty() {
                self.writes.remove(&tree);
            }
        }
    }
}

impl fmt::Debug for Txn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Txn")
            .field("id", &self.id)
            .field("trees_written", &self.writes.len())
            .field(
                "keys_written",
                &self.writes.values().map(BTreeMap::len).sum::<usize>(),
            )
            .finish()
    }
}

/// Distinguishes engines in one process, so a transaction cannot be used with the wrong one.
static ENGINE_IDS: AtomicU64 = AtomicU64::new(1);

/// The engine over one volume. `Send + Sync`: share it with an `Arc`.
pub struct Engine {
    store: Arc<dyn PageStore>,
    state: Mutex<State>,
    /// Next transaction id to hand out.
    next_txn_id: AtomicU64,
    /// Time stamp of the last commit record; commit times never go backwards in LSN order.
    /// Written only under the engine lock.
    last_commit_time_us: AtomicU64,
    engine_id: u64,
}

struct State {
    pool: BufferPool,
    /// Set when an MTR append failed: the engine then refuses everything.
    halted: Option<String>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("engine_id", &self.engine_id)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens the volume behind `store`, reading the meta page at the durable LSN, or bootstraps
    /// an empty volume (meta page and empty catalog tree, in one MTR).
    pub fn open(store: Arc<dyn PageStore>, config: EngineConfig) -> Result<Engine, EngineError> {
        let mut pool = BufferPool::new(config.buffer_pool_pages.max(BUFFER_POOL_PAGES_MIN));
        let next_txn_id = {
            let mut mtr = Mtr::begin(&mut pool, &*store);
            let existing = mtr.read_opt(META_PAGE)?.map(page::meta_next_txn_id);
            let next = match existing {
                Some(next) => next,
                None => {
                    let first_txn_id = 1;
                    page::init_meta(mtr.create(META_PAGE), CATALOG.0 + 1, first_txn_id, CATALOG);
                    page::init_node(mtr.create(CATALOG), CATALOG, Kind::Leaf, 0, CATALOG, 0);
                    first_txn_id
                }
            };
            match btree::root_level(&mut mtr, CATALOG) {
                Err(EngineError::NoSuchTree(_)) => {
                    return Err(EngineError::Corrupted(
                        "the catalog tree root is missing".into(),
                    ));
                }
                other => other?,
            };
            mtr.finish(None)?;
            next
        };
        Ok(Engine {
            store,
            state: Mutex::new(State { pool, halted: None }),
            next_txn_id: AtomicU64::new(next_txn_id),
            last_commit_time_us: AtomicU64::new(0),
            engine_id: ENGINE_IDS.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Starts a transaction. It sees the latest committed state plus its own writes.
    pub fn begin(&self) -> Txn {
        let id = self.next_txn_id.fetch_add(1, Ordering::Relaxed);
        assert!(
            id < u64::MAX - TXN_IDS_RESERVED,
            "transaction ids exhausted"
        );
        Txn {
            id: TxnId(id),
            engine: self.engine_id,
            writes: BTreeMap::new(),
        }
    }

    /// Creates an empty tree and returns its id (its root page). Not transactional: the root is
    /// allocated and logged in its own MTR at once, and a transaction that created a tree and
    /// then rolled back leaks that page (the SQL layer should drop it; there is no free list yet).
    pub fn create_tree(&self) -> Result<TreeId, EngineError> {
        let (tree, _) = self.run_mtr(|mtr| {
            let (id, root) = mtr.allocate()?;
            page::init_node(root, id, Kind::Leaf, 0, id, 0);
            Ok((id, None))
        })?;
        Ok(tree)
    }

    /// Drops a tree: its root page becomes a "dropped" page, so the id names no tree any more.
    /// Not transactional. The tree's other pages are left unreachable, not reused (no free list
    /// yet).
    pub fn drop_tree(&self, tree: TreeId) -> Result<(), EngineError> {
        if tree == CATALOG {
            return Err(EngineError::CatalogIsPermanent);
        }
        self.run_mtr(|mtr| {
            btree::root_level(mtr, tree)?;
            page::init_node(mtr.write(tree)?, tree, Kind::Dropped, 0, tree, 0);
            Ok(((), None))
        })?;
        Ok(())
    }

    /// The value of `key` as `txn` sees it.
    pub fn get(&self, txn: &Txn, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        self.check_owner(txn);
        match txn.write_of(tree, key) {
            Some(Write::Put { value, .. }) => Ok(Some(value.clone())),
            Some(Write::Delete) => Ok(None),
            None => self.read(|mtr| btree::get(mtr, tree, key)),
        }
    }

    /// At most `limit` entries of `tree` between `from` and `to`, in ascending key order, as
    /// `txn` sees them. Page through a big tree by calling again with `from = Excluded(last)`.
    pub fn scan(
        &self,
        txn: &Txn,
        tree: TreeId,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, EngineError> {
        self.check_owner(txn);
        if limit == 0 || range_is_empty(from, to) {
            self.read(|mtr| btree::root_level(mtr, tree))?;
            return Ok(Vec::new());
        }
        let mut own = txn
            .writes
            .get(&tree)
            .map(|w| w.range::<[u8], _>((from, to)))
            .into_iter()
            .flatten()
            .peekable();
        self.read(|mtr| {
            let mut cursor = Cursor::seek(mtr, tree, from)?;
            let mut stored = next_before(&mut cursor, mtr, to)?;
            let mut out = Vec::new();
            while out.len() < limit {
                // Take the buffered write when its key comes first or equals the stored one.
                let take_own = match (&stored, own.peek()) {
                    (None, None) => break,
                    (None, Some(_)) => true,
                    (Some(_), None) => false,
                    (Some((k, _)), Some((own_key, _))) => own_key.as_slice() <= k.as_slice(),
                };
                if take_own {
                    let (own_key, write) = own.next().expect("peeked");
                    if stored
                        .as_ref()
                        .is_some_and(|(k, _)| k.as_slice() == own_key.as_slice())
                    {
                        stored = next_before(&mut cursor, mtr, to)?;
                    }
                    if let Write::Put { value, .. } = write {
                        out.push((own_key.clone(), value.clone()));
                    }
                } else {
                    out.push(stored.take().expect("checked above"));
                    stored = next_before(&mut cursor, mtr, to)?;
                }
            }
            Ok(out)
        })
    }

    /// The greatest key of `tree` visible to `txn`.
    pub fn last_key(&self, txn: &Txn, tree: TreeId) -> Result<Option<Vec<u8>>, EngineError> {
        self.check_owner(txn);
        let own = txn.writes.get(&tree);
        let own_last = own.and_then(|w| {
            w.iter()
                .rev()
                .find(|(_, write)| matches!(write, Write::Put { .. }))
                .map(|(k, _)| k.clone())
        });
        // Stored keys the transaction wrote are decided by its write set.
        let skip = |k: &[u8]| own.is_some_and(|w| w.contains_key(k));
        let stored_last = self.read(|mtr| btree::last_key(mtr, tree, &skip))?;
        Ok(own_last.max(stored_last))
    }

    /// Inserts a new row. `DuplicateKey` if `txn` already sees the key. Buffered until commit,
    /// which checks again that no other transaction committed the key meanwhile.
    pub fn insert(
        &self,
        txn: &mut Txn,
        tree: TreeId,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), EngineError> {
        self.check_owner(txn);
        check_entry(key, value)?;
        let must_be_absent = match txn.write_of(tree, key) {
            Some(Write::Put { .. }) => return Err(EngineError::DuplicateKey),
            // The transaction deleted a stored row: the insert replaces it.
            Some(Write::Delete) => false,
            None => {
                if self.read(|mtr| btree::get(mtr, tree, key))?.is_some() {
                    return Err(EngineError::DuplicateKey);
                }
                true
            }
        };
        txn.set(
            tree,
            key,
            Write::Put {
                value: value.to_vec(),
                must_be_absent,
            },
        );
        Ok(())
    }

    /// Inserts or replaces a row. Buffered until commit.
    pub fn put(
        &self,
        txn: &mut Txn,
        tree: TreeId,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), EngineError> {
        self.check_owner(txn);
        check_entry(key, value)?;
        let must_be_absent = match txn.write_of(tree, key) {
            Some(Write::Put { must_be_absent, .. }) => *must_be_absent,
            Some(Write::Delete) => false,
            None => {
                self.read(|mtr| btree::root_level(mtr, tree))?;
                false
            }
        };
        txn.set(
            tree,
            key,
            Write::Put {
                value: value.to_vec(),
                must_be_absent,
            },
        );
        Ok(())
    }

    /// Deletes a row; returns whether one was visible to `txn`. Buffered until commit.
    pub fn delete(&self, txn: &mut Txn, tree: TreeId, key: &[u8]) -> Result<bool, EngineError> {
        self.check_owner(txn);
        match txn.write_of(tree, key) {
            // Inserted by this transaction over no stored row: forgetting the insert is the delete.
            Some(Write::Put {
                must_be_absent: true,
                ..
            }) => {
                txn.unset(tree, key);
                Ok(true)
            }
            Some(Write::Put { .. }) => {
                txn.set(tree, key, Write::Delete);
                Ok(true)
            }
            Some(Write::Delete) => Ok(false),
            None => {
                let visible = self.read(|mtr| btree::get(mtr, tree, key))?.is_some();
                if visible {
                    txn.set(tree, key, Write::Delete);
                }
                Ok(visible)
            }
        }
    }

    /// Commits: applies the write set and appends it with the commit record as one MTR. Returns
    /// the commit record's LSN (`None` if the transaction wrote nothing). The commit is not yet
    /// durable: the caller waits for the volume durable LSN to reach it.
    pub fn commit(&self, txn: Txn) -> Result<Option<Lsn>, EngineError> {
        self.check_owner(&txn);
        if txn.writes.is_empty() {
            return Ok(None);
        }
        let ((), lsn) = self.run_mtr(|mtr| {
            for (&tree, writes) in &txn.writes {
                for (key, write) in writes {
                    if let Write::Put {
                        must_be_absent: true,
                        ..
                    } = write
                        && btree::get(mtr, tree, key)?.is_some()
                    {
                        return Err(EngineError::DuplicateKey);
                    }
                }
            }
            for (&tree, writes) in &txn.writes {
                for (key, write) in writes {
                    match write {
                        Write::Put { value, .. } => btree::put(mtr, tree, key, value)?,
                        Write::Delete => {
                            btree::remove(mtr, tree, key)?;
                        }
                    }
                }
            }
            let reserved = page::meta_next_txn_id(mtr.read(META_PAGE)?);
            if txn.id.0 >= reserved {
                let handed_out = self.next_txn_id.load(Ordering::Relaxed).max(txn.id.0 + 1);
                page::set_meta_next_txn_id(mtr.write(META_PAGE)?, handed_out + TXN_IDS_RESERVED);
            }
            let time_us = wall_clock_us().max(self.last_commit_time_us.load(Ordering::Relaxed));
            self.last_commit_time_us.store(time_us, Ordering::Relaxed);
            Ok((
                (),
                Some(Payload::Commit {
                    txn: txn.id,
                    time_us,
                }),
            ))
        })?;
        let lsn = lsn.expect("an MTR ending with a commit record has an LSN");
        Ok(Some(lsn))
    }

    /// Abandons the transaction's writes. Nothing was ever written for them.
    pub fn rollback(&self, txn: Txn) {
        self.check_owner(&txn);
        drop(txn);
    }

    /// The tree's number of levels (1: its root is a leaf). For tests and query plans.
    pub fn tree_height(&self, tree: TreeId) -> Result<u16, EngineError> {
        Ok(self.read(|mtr| btree::root_level(mtr, tree))? + 1)
    }

    /// Buffer pool counters.
    pub fn buffer_pool_stats(&self) -> Result<PoolStats, EngineError> {
        Ok(self.lock()?.pool.stats())
    }

    fn check_owner(&self, txn: &Txn) {
        assert!(
            txn.engine == self.engine_id,
            "transaction {} used with an engine that did not begin it",
            txn.id
        );
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, EngineError> {
        let state = self
            .state
            .lock()
            .map_err(|_| EngineError::Halted("a thread panicked inside the engine".into()))?;
        if let Some(why) = &state.halted {
            return Err(EngineError::Halted(why.clone()));
        }
        Ok(state)
    }

    /// Runs a read-only operation under the engine lock.
    fn read<T>(
        &self,
        op: impl FnOnce(&mut Mtr<'_>) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let mut state = self.lock()?;
        let mut mtr = Mtr::begin(&mut state.pool, &*self.store);
        let out = op(&mut mtr)?;
        let logged = mtr.finish(None)?;
        assert!(logged.is_none(), "a read-only operation changed pages");
        Ok(out)
    }

    /// Runs a writing operation in one MTR under the engine lock, ending the MTR with the commit
    /// payload the operation returns, if any. A failed append halts the engine.
    fn run_mtr<T>(
        &self,
        op: impl FnOnce(&mut Mtr<'_>) -> Result<(T, Option<Payload>), EngineError>,
    ) -> Result<(T, Option<Lsn>), EngineError> {
        let mut state = self.lock()?;
        let state = &mut *state;
        let mut mtr = Mtr::begin(&mut state.pool, &*self.store);
        let (out, tail) = op(&mut mtr)?;
        match mtr.finish(tail) {
            Ok(lsn) => Ok((out, lsn)),
            Err(e) => {
                state.halted = Some(e.to_string());
                Err(e)
            }
        }
    }
}

/// The cursor's next entry if it lies before `to`.
fn next_before(
    cursor: &mut Cursor,
    mtr: &mut Mtr<'_>,
    to: Bound<&[u8]>,
) -> Result<Option<Entry>, EngineError> {
    Ok(cursor.next(mtr)?.filter(|(k, _)| match to {
        Bound::Unbounded => true,
        Bound::Included(end) => k.as_slice() <= end,
        Bound::Excluded(end) => k.as_slice() < end,
    }))
}

/// Whether no key can lie between the bounds (`BTreeMap::range` panics on some of these).
fn range_is_empty(from: Bound<&[u8]>, to: Bound<&[u8]>) -> bool {
    match (from, to) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b)) => a >= b,
        _ => false,
    }
}

fn check_entry(key: &[u8], value: &[u8]) -> Result<(), EngineError> {
    let entry_bytes = key.len() + value.len();
    if key.len() > KEY_BYTES_MAX || entry_bytes > ENTRY_BYTES_MAX {
        return Err(EngineError::EntryTooLarge {
            key_bytes: key.len(),
            entry_bytes,
        });
    }
    Ok(())
}

/// Wall-clock time for commit records (maps a time to an LSN for point-in-time restore).
fn wall_clock_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_is_shareable_and_txn_movable() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<Engine>();
        send::<Txn>();
    }

    #[test]
    fn empty_ranges_are_recognised() {
        let (a, b): (&[u8], &[u8]) = (b"a", b"b");
        assert!(range_is_empty(Bound::Excluded(a), Bound::Excluded(a)));
        assert!(range_is_empty(Bound::Included(a), Bound::Excluded(a)));
        assert!(range_is_empty(Bound::Included(b), Bound::Included(a)));
        assert!(!range_is_empty(Bound::Included(a), Bound::Included(a)));
        assert!(!range_is_empty(Bound::Excluded(a), Bound::Unbounded));
        assert!(!range_is_empty(Bound::Unbounded, Bound::Excluded(a)));
    }
}
