//! The engine's public face: opening a volume, trees, transactions, MVCC reads, row locks,
//! commits, savepoints and vacuum.
//!
//! Reads see the transaction's own writes merged over the trees' committed versions, choosing in
//! each version chain the newest version visible at the transaction's snapshot (see `mvcc`).
//! Writes take the row's `Update` lock (waiting without the engine lock, see `locks`), check the
//! row's newest committed version (a duplicate insert; a concurrent update under REPEATABLE READ
//! or SERIALIZABLE), and buffer the write in the transaction's write set. A write set that outgrows
//! the write buffer is spilled into pages as versions of an uncommitted transaction (see `mvcc`);
//! a writer that meets such a version of another live transaction waits for that transaction.
//! Everything else reaches pages in [`Engine::commit`], which, under the engine lock:
//!
//! 1. unregisters the transaction's snapshot and computes the vacuum horizon;
//! 2. for a serializable transaction, finds its incoming rw-antidependencies and refuses the
//!    commit if it is the pivot of a dangerous structure (`ssi`);
//! 3. for every written key, reads the row's chain, re-checks that an inserted key is still
//!    absent, puts the new version in front, prunes what the horizon no longer needs, and writes
//!    the chain back (or removes the key if nothing is left);
//! 4. inserts the transaction's status entry (its visibility LSN) into the status tree and
//!    truncates a few old entries of the same status bucket;
//! 5. reserves a new block of transaction ids on the meta page if this transaction's id reached
//!    the reserved bound;
//! 6. ends the MTR with the commit record and appends it: the commit record's LSN is the CPL of
//!    the MTR, the transaction's commit LSN;
//! 7. marks the transaction committed for SSI;
//!
//! and then, outside the engine lock, releases the transaction's row locks (early lock release:
//! the commit has its LSN, it need not be durable yet). If any step before the append fails, the
//! MTR is abandoned and the buffer pool is exactly as before the commit.
//!
//! ```text
//!   begin ──► snapshot = VDL (registered)      reads: own writes ∪ versions with v(txn) ≤ snapshot
//!   write ──► Update lock ──► newest version checks ──► write set
//!   commit ─► [engine lock: chains + status entry + commit record = ONE MTR] ──► release locks
//!   caller ─► waits until VDL ≥ commit LSN, then acknowledges (and only then can others see it)
//! ```
//!
//! Transaction ids come from memory, starting at the meta page's reserved bound when the engine
//! opens, so every id that ever appeared in a commit record is below the bound after a restart.
//! Ids of transactions that never committed may be handed out again after a restart; they appear
//! nowhere in storage.
//!
//! Bootstrap: when the store has never seen page 0, [`Engine::open`] writes the meta page, an empty
//! catalog tree root (page 1) and an empty transaction status tree root (page 2) in one MTR.
//!
//! Lock order: the engine lock may be taken before the SSI lock and the snapshot registry, never
//! after them; the lock table's mutex is never held while taking another lock.

use crate::btree::{self, Cursor, ReverseCursor};
use crate::limits::{
    BUFFER_POOL_PAGES_MIN, ENTRY_BYTES_MAX, KEY_BYTES_MAX, SPILL_ENTRIES_PER_MTR, STATUS_BUCKETS,
    STATUS_BUCKETS_PER_VACUUM_STEP, STATUS_TRUNCATIONS_PER_COMMIT, TXN_IDS_RESERVED,
    TXN_WRITE_BUFFER_BYTES_MIN, VACUUM_ENTRIES_PER_STEP, VACUUM_QUEUE_TREES_MAX,
};
use crate::locks::{Acquired, LockMode, LockWait, RowId};
use crate::mtr::Mtr;
use crate::mvcc::{self, Chain, StatusCache, TxnState, UNCOMMITTED, Version};
use crate::page::{self, Kind};
use crate::pool::{BufferPool, PoolStats};
use crate::txn::{AsideWrites, Isolation, SavepointId, Shared, SnapshotGuard, Txn, Write};
use crate::{CATALOG, EngineError, Entry, META_PAGE, STATUS, TreeId};
use borealis_common::pagestore::PageStore;
use borealis_common::{Lsn, Payload, TxnId};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Engine settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Buffer pool capacity, in 8 KiB pages. Raised to
    /// [`BUFFER_POOL_PAGES_MIN`] if smaller.
    pub buffer_pool_pages: usize,
    /// Bytes of writes a transaction buffers in memory before they are spilled into pages as
    /// uncommitted versions (see `mvcc`), so one transaction's memory stays bounded whatever it
    /// writes. Raised to [`TXN_WRITE_BUFFER_BYTES_MIN`] if smaller.
    pub txn_write_buffer_bytes: usize,
    /// Background vacuum passes over a written tree only once its dead versions reach this many
    /// plus [`autovacuum_scale_per_mille`](Self::autovacuum_scale_per_mille) of its live rows
    /// (PostgreSQL's `autovacuum_vacuum_threshold`, 50). Commit-time pruning keeps hot rows short
    /// in between, so a large table written a little is not read whole again and again.
    pub autovacuum_threshold: u64,
    /// Per mille of the live rows added to the threshold (PostgreSQL's
    /// `autovacuum_vacuum_scale_factor`, 0.2).
    pub autovacuum_scale_per_mille: u64,
}

impl Default for EngineConfig {
    /// 16 384 pages (128 MiB) of buffer pool; 16 MiB of write buffer per transaction.
    fn default() -> EngineConfig {
        EngineConfig {
            buffer_pool_pages: 16 * 1024,
            txn_write_buffer_bytes: 16 * 1024 * 1024,
            autovacuum_threshold: 50,
            autovacuum_scale_per_mille: 200,
        }
    }
}

/// A row as [`Engine::lock_row`] and [`Engine::newest_version`] see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowVersion {
    /// The transaction's own write of the row if it has one, else the row's newest committed
    /// version (committed, not necessarily durable yet); `None`: no row (absent or deleted).
    pub value: Option<Vec<u8>>,
    /// Whether the newest committed version is newer than the transaction's snapshot, i.e. the
    /// row changed since the snapshot was taken (always false when the transaction wrote the row
    /// itself). Under READ COMMITTED the SQL layer then re-evaluates its predicate on `value`
    /// (PostgreSQL's EvalPlanQual); under the other levels [`Engine::lock_row`] has already
    /// failed with [`EngineError::SerializationFailure`].
    pub changed: bool,
}

/// What a vacuum call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VacuumStats {
    /// Row entries examined.
    pub entries_visited: u64,
    /// Versions removed from chains (dead tombstones included).
    pub versions_removed: u64,
    /// Keys removed from trees because no version was left.
    pub keys_removed: u64,
    /// Transaction status entries truncated.
    pub status_entries_removed: u64,
    /// Versions older than a row's newest that had to stay (a snapshot may read them, or they
    /// sit under an uncommitted version).
    pub versions_kept: u64,
    /// [`Engine::vacuum_step`]: whether no known work is left.
    pub done: bool,
}

impl VacuumStats {
    fn add(&mut self, o: VacuumStats) {
        self.entries_visited += o.entries_visited;
        self.versions_removed += o.versions_removed;
        self.keys_removed += o.keys_removed;
        self.status_entries_removed += o.status_entries_removed;
        self.versions_kept += o.versions_kept;
    }
}

/// Activity counters of one tree since the engine opened (what PostgreSQL's
/// `pg_stat_user_tables` reports; kept in memory only, so they restart from zero with the writer).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TreeStats {
    /// Rows written where none was visible to the writer (spilled or committed writes; a
    /// transaction that rolls back after spilling still counted them, as PostgreSQL does).
    pub inserted: u64,
    /// Rows written over an existing row.
    pub updated: u64,
    /// Rows deleted.
    pub deleted: u64,
    /// Versions left behind by updates and deletes that pruning has not removed yet (an
    /// estimate: the number of old versions written minus the number removed).
    pub dead_versions: u64,
    /// Explicit vacuums of the tree (`Engine::vacuum`) that completed.
    pub vacuum_count: u64,
    /// Passes of background vacuum (`Engine::vacuum_step`) over the tree that completed.
    pub autovacuum_count: u64,
    /// Wall-clock time of the last explicit vacuum, in µs since the Unix epoch.
    pub last_vacuum_us: Option<u64>,
    /// Wall-clock time of the last completed background vacuum pass, in µs since the Unix epoch.
    pub last_autovacuum_us: Option<u64>,
    /// Versions removed by the pruning that writes do (a delta while counting one commit).
    pruned: u64,
}

/// What one applied write did to its row (for [`TreeStats`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Applied {
    Inserted,
    Updated,
    Deleted,
    /// A delete of nothing visible.
    Nothing,
}

impl TreeStats {
    fn count(&mut self, (applied, pruned): (Applied, u64)) {
        self.pruned += pruned;
        match applied {
            Applied::Inserted => self.inserted += 1,
            Applied::Updated => {
                self.updated += 1;
                self.dead_versions += 1;
            }
            Applied::Deleted => {
                // The old version and the tombstone in front of it.
                self.deleted += 1;
                self.dead_versions += 2;
            }
            Applied::Nothing => {}
        }
    }

    fn add(&mut self, o: &TreeStats) {
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.deleted += o.deleted;
        self.dead_versions = (self.dead_versions + o.dead_versions).saturating_sub(o.pruned);
    }
}

/// Distinguishes engines in one process, so a transaction cannot be used with the wrong one.
static ENGINE_IDS: AtomicU64 = AtomicU64::new(1);

/// The engine over one volume. `Send + Sync`: share it with an `Arc`.
pub struct Engine {
    store: Arc<dyn PageStore>,
    shared: Arc<Shared>,
    state: Mutex<State>,
    vacuum: Mutex<VacuumQueue>,
    /// Next transaction id to hand out.
    next_txn_id: AtomicU64,
    /// Time stamp of the last commit record; commit times never go backwards in LSN order.
    /// Written only under the engine lock.
    last_commit_time_us: AtomicU64,
    /// A transaction buffering more than this many bytes of writes spills them.
    txn_write_buffer_bytes: usize,
    /// Per-tree activity counters. Taken after the engine lock when both are held.
    stats: Mutex<HashMap<TreeId, TreeStats>>,
    /// See [`EngineConfig::autovacuum_threshold`].
    autovacuum_threshold: u64,
    autovacuum_scale_per_mille: u64,
    engine_id: u64,
}

struct State {
    pool: BufferPool,
    status: StatusCache,
    /// Set when an MTR append failed: the engine then refuses everything.
    halted: Option<String>,
}

/// Background vacuum's work list: trees written since they were last vacuumed, where the tree
/// at the front is up to, and the next status bucket to truncate. A pass that had to keep old
/// versions for a snapshot leaves its tree *deferred* with the horizon the pass began at; the
/// tree is queued again once the horizon has moved past it, so versions that only an old
/// snapshot held go even if nobody writes the tree again.
#[derive(Default)]
struct VacuumQueue {
    trees: VecDeque<TreeId>,
    queued: BTreeSet<TreeId>,
    resume: Option<Vec<u8>>,
    /// The front tree's pass: the horizon it began at and the old versions it had to keep.
    pass: Option<(Lsn, u64)>,
    deferred: Vec<(TreeId, Lsn)>,
    next_bucket: u16,
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
    /// an empty volume (meta page, empty catalog tree and empty transaction status tree, in one
    /// MTR).
    pub fn open(store: Arc<dyn PageStore>, config: EngineConfig) -> Result<Engine, EngineError> {
        let mut pool = BufferPool::new(config.buffer_pool_pages.max(BUFFER_POOL_PAGES_MIN));
        let mut last_lsn = store.durable_lsn();
        let next_txn_id = {
            let mut mtr = Mtr::begin(&mut pool, &*store);
            let existing = mtr.read_opt(META_PAGE)?.map(page::meta_next_txn_id);
            let next = match existing {
                Some(next) => next,
                None => {
                    let first_txn_id = 1;
                    page::init_meta(
                        mtr.create(META_PAGE),
                        STATUS.0 + 1,
                        first_txn_id,
                        CATALOG,
                        STATUS,
                    );
                    for root in [CATALOG, STATUS] {
                        page::init_node(mtr.create(root), root, Kind::Leaf, 0, root, 0);
                    }
                    first_txn_id
                }
            };
            for (root, name) in [(CATALOG, "catalog"), (STATUS, "transaction status")] {
                match btree::root_level(&mut mtr, root) {
                    Err(EngineError::NoSuchTree(_)) => {
                        return Err(EngineError::Corrupted(format!(
                            "the {name} tree root is missing"
                        )));
                    }
                    other => other?,
                };
            }
            if let Some(lsn) = mtr.finish(None)? {
                last_lsn = lsn;
            }
            next
        };
        let shared = Arc::new(Shared::new(store.clone(), last_lsn));
        Ok(Engine {
            state: Mutex::new(State {
                pool,
                status: StatusCache::new(shared.live.clone()),
                halted: None,
            }),
            shared,
            store,
            vacuum: Mutex::new(VacuumQueue::default()),
            next_txn_id: AtomicU64::new(next_txn_id),
            last_commit_time_us: AtomicU64::new(0),
            txn_write_buffer_bytes: config
                .txn_write_buffer_bytes
                .max(TXN_WRITE_BUFFER_BYTES_MIN),
            stats: Mutex::new(HashMap::new()),
            autovacuum_threshold: config.autovacuum_threshold,
            autovacuum_scale_per_mille: config.autovacuum_scale_per_mille,
            engine_id: ENGINE_IDS.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Starts a READ COMMITTED transaction (PostgreSQL's default).
    pub fn begin(&self) -> Txn {
        self.begin_with(Isolation::ReadCommitted)
    }

    /// Starts a transaction at the given isolation level. Its snapshot is taken now, at the
    /// store's durable LSN, so it sees exactly the commits that are durable; call
    /// [`new_statement`](Self::new_statement) before each statement (the first included) to get
    /// PostgreSQL's snapshot timing.
    pub fn begin_with(&self, isolation: Isolation) -> Txn {
        let id = self.next_txn_id.fetch_add(1, Ordering::Relaxed);
        assert!(
            id < u64::MAX - TXN_IDS_RESERVED,
            "transaction ids exhausted"
        );
        let id = TxnId(id);
        let snapshot = self.shared.take_snapshot();
        if isolation == Isolation::Serializable {
            self.shared.ssi().begin(id, snapshot);
        }
        Txn::new(id, self.engine_id, self.shared.clone(), isolation, snapshot)
    }

    /// Starts a statement: READ COMMITTED takes a fresh snapshot at the durable LSN for every
    /// statement; REPEATABLE READ and SERIALIZABLE take it at the first statement and keep it.
    /// Also clears a cancel request left over from the previous statement.
    pub fn new_statement(&self, txn: &mut Txn) {
        self.check_owner(txn);
        crate::locks::LockManager::clear_cancel(&txn.waiter);
        let refresh = txn.isolation == Isolation::ReadCommitted || txn.statements == 0;
        txn.statements += 1;
        if refresh {
            txn.refresh_snapshot();
        }
    }

    /// Creates an empty tree and returns its id (its root page). Not transactional: the root is
    /// allocated and logged in its own MTR at once, and a transaction that created a tree and
    /// then rolled back leaks that page (the SQL layer should drop it; there is no free list yet).
    pub fn create_tree(&self) -> Result<TreeId, EngineError> {
        let (tree, _) = self.run_mtr(|mtr, _| {
            let (id, root) = mtr.allocate()?;
            page::init_node(root, id, Kind::Leaf, 0, id, 0);
            Ok((id, None))
        })?;
        Ok(tree)
    }

    /// Creates an empty tree for `txn` to fill and name in a catalog row of its own (a new
    /// table, index, or a table rebuilt): until `txn` commits, no other transaction can reach
    /// it, so `txn`'s inserts into it take no row locks (a bulk load into a new table, or a
    /// primary key's rebuild, would otherwise take and give back one per row). Otherwise as
    /// [`Engine::create_tree`].
    pub fn create_tree_in(&self, txn: &mut Txn) -> Result<TreeId, EngineError> {
        self.check_owner(txn);
        let tree = self.create_tree()?;
        txn.created_trees.insert(tree);
        Ok(tree)
    }

    /// Drops a tree: its root page becomes a "dropped" page, so the id names no tree any more.
    /// Not transactional. The tree's other pages are left unreachable, not reused (no free list
    /// yet).
    pub fn drop_tree(&self, tree: TreeId) -> Result<(), EngineError> {
        if tree == CATALOG {
            return Err(EngineError::CatalogIsPermanent);
        }
        user_tree(tree)?;
        self.run_mtr(|mtr, _| {
            btree::root_level(mtr, tree)?;
            page::init_node(mtr.write(tree)?, tree, Kind::Dropped, 0, tree, 0);
            Ok(((), None))
        })?;
        Ok(())
    }

    /// The value of `key` as `txn` sees it: its own write, else the newest version committed at
    /// or below its snapshot.
    pub fn get(&self, txn: &Txn, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        let mut value = Vec::new();
        Ok(self.get_into(txn, tree, key, &mut value)?.then_some(value))
    }

    /// Like [`get`](Self::get), but the value goes into `out` (replacing its contents), so
    /// that a caller reading many rows reuses one buffer; `false` (and `out` empty) when `txn`
    /// sees no value.
    pub fn get_into(
        &self,
        txn: &Txn,
        tree: TreeId,
        key: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<bool, EngineError> {
        self.check_owner(txn);
        user_tree(tree)?;
        out.clear();
        match txn.write_of(tree, key) {
            Some(Write::Put { value, .. }) => {
                out.extend_from_slice(value);
                return Ok(true);
            }
            Some(Write::Delete) => return Ok(false),
            None => {}
        }
        if txn.ssi_tracked() {
            self.shared.ssi().read_key(txn.id, tree, key);
        }
        let seer = (txn.snapshot, txn.id);
        let (mut newer, mut raw) = (Vec::new(), Vec::new());
        let found = self.read(|mtr, status| {
            let mut finger = btree::Finger::default();
            read_visible(
                mtr,
                status,
                (tree, key),
                &mut finger,
                seer,
                (&mut newer, &mut raw),
                out,
            )
        })?;
        self.conflict_out(txn, &newer)?;
        Ok(found)
    }

    /// The values of `keys` in `tree` as `txn` sees them, into `out` (cleared first): one entry
    /// (key, value) per key it sees a value for, in the order of `keys`; a key it sees no value
    /// for has no entry. Like [`get_into`](Self::get_into) for each key, but under one
    /// acquisition of the engine lock. The keys' leaves are found first, the keys descending
    /// the tree together a level at a time (see `btree::leaf_ids`), and the leaves the buffer
    /// pool holds are read ahead together (`btree::touch_pages`), so that on a table bigger
    /// than the processor's cache their reads from memory overlap rather than follow one
    /// another; then each lookup reads its known leaf.
    pub fn get_batch<'k>(
        &self,
        txn: &Txn,
        tree: TreeId,
        keys: impl Iterator<Item = &'k [u8]> + Clone,
        out: &mut ScanBatch,
    ) -> Result<(), EngineError> {
        self.check_owner(txn);
        user_tree(tree)?;
        out.clear();
        if txn.ssi_tracked() {
            let mut ssi = self.shared.ssi();
            for key in keys.clone() {
                if txn.write_of(tree, key).is_none() {
                    ssi.read_key(txn.id, tree, key);
                }
            }
        }
        let seer = (txn.snapshot, txn.id);
        let (mut newer, mut raw) = (Vec::new(), Vec::new());
        self.read(|mtr, status| {
            // With more than one key, the leaves of the keys to read from the tree are found
            // first and read ahead together (see `btree::touch_pages`); the tree cannot
            // change within this MTR, so each lookup then goes straight to its leaf.
            let mut leaves = Vec::new();
            let mut finger = btree::Finger::default();
            if keys.clone().nth(1).is_some() {
                let stored = keys.clone().filter(|key| txn.write_of(tree, key).is_none());
                btree::leaf_ids(mtr, tree, stored, &mut leaves)?;
                btree::touch_pages(mtr, &leaves, 0);
            }
            let mut leaves = leaves.into_iter();
            for key in keys {
                match txn.write_of(tree, key) {
                    Some(Write::Put { value, .. }) => out.push(key, value),
                    Some(Write::Delete) => {}
                    None => {
                        if let Some((leaf, _)) = leaves.next() {
                            finger.expect_leaf(leaf);
                        }
                        out.push_with(key, |value| {
                            read_visible(
                                mtr,
                                status,
                                (tree, key),
                                &mut finger,
                                seer,
                                (&mut newer, &mut raw),
                                value,
                            )
                        })?;
                    }
                }
            }
            Ok(())
        })?;
        self.conflict_out(txn, &newer)
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
        self.scan_as(txn, tree, (from, to), limit, txn.snapshot)
    }

    /// Like [`scan`](Self::scan), but reading every committed version, durable or not, as if
    /// from a snapshot taken after the newest commit (plus the transaction's own writes); not
    /// recorded as a read for SERIALIZABLE. For constraint checks, which must see rows that
    /// transactions they waited for have just committed (PostgreSQL's "latest snapshot" for
    /// referential checks); what they decide reaches storage only with their own commit, which
    /// is ordered after those.
    pub fn scan_latest(
        &self,
        txn: &Txn,
        tree: TreeId,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, EngineError> {
        self.scan_as(txn, tree, (from, to), limit, LATEST)
    }

    fn scan_as(
        &self,
        txn: &Txn,
        tree: TreeId,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        limit: usize,
        snapshot: Lsn,
    ) -> Result<Vec<Entry>, EngineError> {
        let mut batch = ScanBatch::default();
        self.scan_batch_as(txn, tree, range, limit, snapshot, &mut batch)?;
        Ok(batch
            .iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect())
    }

    /// Like [`scan`](Self::scan), but into `out` (cleared first), whose buffers are reused from
    /// call to call: a scan that pages through a tree with one batch allocates nothing per row.
    pub fn scan_batch(
        &self,
        txn: &Txn,
        tree: TreeId,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
        limit: usize,
        out: &mut ScanBatch,
    ) -> Result<(), EngineError> {
        self.scan_batch_as(txn, tree, (from, to), limit, txn.snapshot, out)
    }

    /// At most `limit` entries of `tree` between `from` and `to`, in descending key order, as
    /// `txn` sees them (the same versions [`scan_batch`](Self::scan_batch) returns, last key
    /// first), into `out` (cleared first). Page backwards through a big tree by calling again
    /// with `to = Excluded(last)`. The tree is walked from its right end by re-descending to
    /// the predecessor of each leaf (see `btree::ReverseCursor`): leaves link only rightwards.
    pub fn scan_batch_rev(
        &self,
        txn: &Txn,
        tree: TreeId,
        from: Bound<&[u8]>,
        to: Bound<&[u8]>,
        limit: usize,
        out: &mut ScanBatch,
    ) -> Result<(), EngineError> {
        self.scan_batch_dir(txn, tree, (from, to), limit, txn.snapshot, true, out)
    }

    fn scan_batch_as(
        &self,
        txn: &Txn,
        tree: TreeId,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        limit: usize,
        snapshot: Lsn,
        out: &mut ScanBatch,
    ) -> Result<(), EngineError> {
        self.scan_batch_dir(txn, tree, range, limit, snapshot, false, out)
    }

    /// The scans of both directions: the stored rows visible at `snapshot`, merged with the
    /// transaction's own writes of the range, in ascending key order or, `backward`, descending.
    #[allow(clippy::too_many_arguments)]
    fn scan_batch_dir(
        &self,
        txn: &Txn,
        tree: TreeId,
        (from, to): (Bound<&[u8]>, Bound<&[u8]>),
        limit: usize,
        snapshot: Lsn,
        backward: bool,
        out: &mut ScanBatch,
    ) -> Result<(), EngineError> {
        self.check_owner(txn);
        user_tree(tree)?;
        out.clear();
        if limit == 0 || range_is_empty(from, to) {
            self.read(|mtr, _| btree::root_level(mtr, tree))?;
            return Ok(());
        }
        let tracked = txn.ssi_tracked() && snapshot != LATEST;
        let range = if tracked {
            self.shared.ssi().read_range(txn.id, tree, from, to)
        } else {
            None
        };
        let seer = (snapshot, txn.id);
        let mut newer = Vec::new();
        let own_range = txn
            .writes
            .get(&tree)
            .map(|w| w.range::<[u8], _>((from, to)))
            .into_iter()
            .flatten();
        let own_range: Box<dyn Iterator<Item = (&Vec<u8>, &Write)> + '_> = if backward {
            Box::new(own_range.rev())
        } else {
            Box::new(own_range)
        };
        let mut own = own_range.peekable();
        let (mut key, mut raw) = (std::mem::take(&mut out.key), std::mem::take(&mut out.raw));
        let result = self.read(|mtr, status| {
            let mut cursor = if backward {
                Walk::Backward(ReverseCursor::seek(mtr, tree, to)?)
            } else {
                Walk::Forward(Cursor::seek(mtr, tree, from)?)
            };
            // The end the walk stops at: `to` going forwards, `from` going backwards.
            let end = if backward { from } else { to };
            if own.peek().is_none() {
                // No write of the transaction's own to merge: the rows are taken in place.
                return scan_stored(
                    &mut cursor,
                    mtr,
                    status,
                    (end, limit),
                    seer,
                    &mut newer,
                    (&mut key, &mut raw),
                    out,
                );
            }
            let mut stored = None;
            // Whether the stored row under the cursor is used up (none read yet, taken, or
            // replaced by the transaction's own write of the same key).
            let mut advance = true;
            loop {
                if advance {
                    stored = next_visible_into(
                        &mut cursor,
                        mtr,
                        status,
                        end,
                        seer,
                        &mut newer,
                        (&mut key, &mut raw),
                    )?;
                }
                if out.len() >= limit {
                    break;
                }
                // Take the buffered write when its key comes first in the walk's order or
                // equals the stored one.
                let take_own = match (&stored, own.peek()) {
                    (None, None) => break,
                    (None, Some(_)) => true,
                    (Some(_), None) => false,
                    (Some(_), Some((own_key, _))) if backward => {
                        own_key.as_slice() >= key.as_slice()
                    }
                    (Some(_), Some((own_key, _))) => own_key.as_slice() <= key.as_slice(),
                };
                advance = if take_own {
                    let (own_key, write) = own.next().expect("peeked");
                    if let Write::Put { value, .. } = write {
                        out.push(own_key, value);
                    }
                    stored.is_some() && key.as_slice() == own_key.as_slice()
                } else {
                    let value = stored.take().expect("checked above");
                    out.push(&key, &raw[value]);
                    true
                };
            }
            Ok(())
        });
        (out.key, out.raw) = (key, raw);
        result?;
        if let Some(index) = range
            && out.len() == limit
            && let Some(last) = out.last_key()
        {
            // A scan stopped at its limit read up to its last key, from whichever side.
            let mut ssi = self.shared.ssi();
            if backward {
                ssi.narrow_range_start(txn.id, tree, index, last);
            } else {
                ssi.narrow_range(txn.id, tree, index, last);
            }
        }
        if tracked {
            self.conflict_out(txn, &newer)?;
        }
        Ok(())
    }

    /// A number that changes whenever a committed transaction changes the catalog tree: a
    /// plan bound from the catalog at generation G stays valid while the generation is G
    /// (for transactions that have not changed the catalog themselves, see
    /// [`Txn::wrote_catalog`]).
    pub fn catalog_generation(&self) -> u64 {
        self.shared.catalog_generation.load(Ordering::Acquire)
    }

    /// The greatest key of `tree` visible to `txn`.
    pub fn last_key(&self, txn: &Txn, tree: TreeId) -> Result<Option<Vec<u8>>, EngineError> {
        self.check_owner(txn);
        user_tree(tree)?;
        let own = txn.writes.get(&tree);
        let own_last = own.and_then(|w| {
            w.iter()
                .rev()
                .find(|(_, write)| matches!(write, Write::Put { .. }))
                .map(|(k, _)| k.clone())
        });
        if txn.ssi_tracked() {
            self.shared.ssi().read_tree(txn.id, tree);
        }
        let (snapshot, own_id) = (txn.snapshot, txn.id);
        let mut newer = Vec::new();
        let stored_last = self.read(|mtr, status| {
            // Stored keys the transaction wrote are decided by its write set.
            let mut take = |mtr: &mut Mtr<'_>, k: &[u8], v: &[u8]| -> Result<bool, EngineError> {
                if own.is_some_and(|w| w.contains_key(k)) {
                    return Ok(false);
                }
                let seen = mvcc::read_at(status, mtr, &Chain::decode(v)?, snapshot, own_id)?;
                newer.extend(seen.newer);
                Ok(seen.value.is_some())
            };
            btree::last_key(mtr, tree, &mut take)
        })?;
        self.conflict_out(txn, &newer)?;
        Ok(own_last.max(stored_last))
    }

    /// Inserts a new row. Takes the row's `Update` lock (waiting for another writer of the key
    /// to commit or roll back, up to the transaction's lock timeout), then fails with
    /// `DuplicateKey` if a row is there: the transaction's own, or the newest committed version
    /// whatever the snapshot (under SERIALIZABLE a row committed after the snapshot is a
    /// `SerializationFailure` instead, as in PostgreSQL). Buffered until commit.
    pub fn insert(
        &self,
        txn: &mut Txn,
        tree: TreeId,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), EngineError> {
        self.check_owner(txn);
        user_tree(tree)?;
        check_entry(key, value)?;
        let must_be_absent = match txn.write_of(tree, key) {
            Some(Write::Put { .. }) => return Err(EngineError::DuplicateKey),
            // The transaction deleted a stored row: the insert replaces it.
            Some(Write::Delete) => false,
            // No other transaction reaches a tree this one created: the key is free unless
            // this transaction's own spilled writes hold it.
            None if txn.created_trees.contains(&tree) => {
                if txn.spilled_trees.contains(&tree)
                    && txn
                        .spilled_last
                        .get(&tree)
                        .is_none_or(|last| key <= last.as_slice())
                    && let Newest::Row(r) = self.newest(txn, tree, key, false)?
                    && r.value.is_some()
                {
                    return Err(EngineError::DuplicateKey);
                }
                true
            }
            None => {
                let row = (tree, key.to_vec());
                let timeout = txn.lock_timeout;
                let (newest, acquired) = self
                    .lock_newest(txn, tree, key, LockMode::Update, LockWait::Block, timeout)?
                    .expect("a blocking lock request is never skipped");
                if newest.value.is_some() {
                    give_back(txn, &row, acquired);
                    if newest.changed && txn.isolation == Isolation::Serializable {
                        return Err(EngineError::SerializationFailure(
                            "could not serialize access: a concurrent transaction inserted the key"
                                .into(),
                        ));
                    }
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
        self.maybe_spill(txn)
    }

    /// Inserts or replaces a row. Takes the row's `Update` lock; under REPEATABLE READ and
    /// SERIALIZABLE fails with `SerializationFailure` if the row's newest committed version is
    /// newer than the snapshot (first updater wins). Buffered until commit.
    pub fn put(
        &self,
        txn: &mut Txn,
        tree: TreeId,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), EngineError> {
        self.check_owner(txn);
        user_tree(tree)?;
        check_entry(key, value)?;
        let must_be_absent = match txn.write_of(tree, key) {
            Some(Write::Put { must_be_absent, .. }) => *must_be_absent,
            Some(Write::Delete) => false,
            None => {
                self.prepare_write(txn, tree, key)?;
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
        self.maybe_spill(txn)
    }

    /// Deletes a row; returns whether there was one (the transaction's own, or the newest
    /// committed version once the row's lock is held). Locks and conflicts as for
    /// [`put`](Self::put). Buffered until commit.
    pub fn delete(&self, txn: &mut Txn, tree: TreeId, key: &[u8]) -> Result<bool, EngineError> {
        self.check_owner(txn);
        user_tree(tree)?;
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
                self.maybe_spill(txn)?;
                Ok(true)
            }
            Some(Write::Delete) => Ok(false),
            None => {
                let (newest, acquired) = self.prepare_write(txn, tree, key)?;
                if newest.value.is_none() {
                    give_back(txn, &(tree, key.to_vec()), acquired);
                    return Ok(false);
                }
                txn.set(tree, key, Write::Delete);
                self.maybe_spill(txn)?;
                Ok(true)
            }
        }
    }

    /// Locks a row (SELECT … FOR SHARE / FOR UPDATE, and the first step of an UPDATE or DELETE
    /// under READ COMMITTED). `wait` says what to do if another transaction holds a conflicting
    /// lock: wait at most `timeout` (`None`: no limit) and fail with `LockTimeout`, fail at once
    /// with `LockNotAvailable` (NOWAIT), or return `Ok(None)` (SKIP LOCKED). Waiting fails with
    /// `Deadlock` if it would close a cycle of waits, and with `Canceled` on a
    /// [`CancelHandle`](crate::CancelHandle) cancel.
    ///
    /// Once locked, returns the row's newest version and whether it changed since the snapshot.
    /// Under READ COMMITTED the caller re-evaluates its predicate on it (EvalPlanQual) and writes
    /// the new version computed from it; under REPEATABLE READ and SERIALIZABLE a change is a
    /// `SerializationFailure`. The lock is held until commit or rollback (or a rollback to a
    /// savepoint taken before it).
    pub fn lock_row(
        &self,
        txn: &mut Txn,
        tree: TreeId,
        key: &[u8],
        mode: LockMode,
        wait: LockWait,
        timeout: Option<Duration>,
    ) -> Result<Option<RowVersion>, EngineError> {
        self.check_owner(txn);
        user_tree(tree)?;
        if txn.ssi_tracked() {
            self.shared.ssi().read_key(txn.id, tree, key);
        }
        let Some((newest, acquired)) = self.lock_newest(txn, tree, key, mode, wait, timeout)?
        else {
            return Ok(None);
        };
        let row = (tree, key.to_vec());
        if newest.changed && txn.isolation != Isolation::ReadCommitted {
            give_back(txn, &row, acquired);
            return Err(concurrent_update());
        }
        Ok(Some(newest))
    }

    /// The row's newest version (the transaction's own write, else the newest committed one,
    /// durable or not) and whether it changed since the transaction's snapshot. Takes no lock:
    /// only a held lock keeps the answer true.
    pub fn newest_version(
        &self,
        txn: &Txn,
        tree: TreeId,
        key: &[u8],
    ) -> Result<RowVersion, EngineError> {
        self.check_owner(txn);
        user_tree(tree)?;
        match txn.write_of(tree, key) {
            Some(Write::Put { value, .. }) => Ok(RowVersion {
                value: Some(value.clone()),
                changed: false,
            }),
            Some(Write::Delete) => Ok(RowVersion {
                value: None,
                changed: false,
            }),
            None => Ok(match self.newest(txn, tree, key, true)? {
                Newest::Row(r) => r,
                Newest::Blocked(_) => unreachable!("live versions were skipped"),
            }),
        }
    }

    /// Opens a savepoint in the transaction's write set.
    pub fn savepoint(&self, txn: &mut Txn) -> SavepointId {
        self.check_owner(txn);
        txn.savepoint()
    }

    /// Undoes every write made and releases every lock taken since `sp`, which stays open; later
    /// savepoints are closed. `NoSuchSavepoint` if `sp` is not open.
    pub fn rollback_to(&self, txn: &mut Txn, sp: SavepointId) -> Result<(), EngineError> {
        self.check_owner(txn);
        txn.rollback_to(sp)
    }

    /// Takes the writes made since savepoint `sp` out of the write set, keeping the row locks
    /// taken since: until [`put_back`](Self::put_back), the transaction reads (and writes) as at
    /// `sp`. For statements whose parts must all read one state while each writes (PostgreSQL's
    /// data-modifying WITH). Savepoints opened after `sp` are closed; `sp` stays open, and its
    /// rollback still releases the locks. `NoSuchSavepoint` if `sp` is not open.
    pub fn set_aside(&self, txn: &mut Txn, sp: SavepointId) -> Result<AsideWrites, EngineError> {
        self.check_owner(txn);
        txn.set_aside(sp)
    }

    /// Puts back writes taken out by [`set_aside`](Self::set_aside). Refused, putting back
    /// nothing, when the transaction has written one of their keys since: the tree of such a
    /// key is returned (the two writes of one row cannot both stand).
    pub fn put_back(&self, txn: &mut Txn, aside: AsideWrites) -> Result<(), TreeId> {
        self.check_owner(txn);
        txn.put_back(aside)
    }

    /// Closes `sp` and every savepoint opened after it, keeping their changes (SQL's RELEASE).
    pub fn release_savepoint(&self, txn: &mut Txn, sp: SavepointId) -> Result<(), EngineError> {
        self.check_owner(txn);
        txn.release(sp)
    }

    /// Commits: applies the write set (new versions in front of each row's chain, the
    /// transaction's status entry) and appends it with the commit record as one MTR, then releases
    /// the row locks at once (early lock release). Returns the commit record's LSN (`None` if the
    /// transaction wrote nothing). The commit is not yet durable: the caller waits for the volume
    /// durable LSN to reach it before acknowledging, and no snapshot sees it before that.
    ///
    /// A serializable transaction may fail here with `SerializationFailure`; any failure rolls the
    /// transaction back.
    pub fn commit(&self, mut txn: Txn) -> Result<Option<Lsn>, EngineError> {
        self.check_owner(&txn);
        if txn.is_read_only() {
            if txn.ssi_tracked() {
                let mut ssi = self.shared.ssi();
                let end = txn.last_lsn();
                ssi.committed(txn.id, end);
            }
            txn.end(true);
            return Ok(None);
        }
        // A catalog change moves the generation on both sides of the moment it becomes
        // visible: a plan bound while it commits is stored under a value that the end of the
        // commit moves past.
        let catalog = txn.wrote_catalog();
        let generation = &self.shared.catalog_generation;
        if catalog {
            generation.fetch_add(1, Ordering::AcqRel);
        }
        let applied = self.apply_commit(&mut txn);
        if catalog {
            generation.fetch_add(1, Ordering::AcqRel);
        }
        let lsn = applied?;
        let written: Vec<TreeId> = txn
            .writes
            .keys()
            .chain(&txn.spilled_trees)
            .copied()
            .collect();
        txn.end(true);
        let mut q = self.vacuum_queue();
        for tree in written {
            if q.queued.len() < VACUUM_QUEUE_TREES_MAX && q.queued.insert(tree) {
                q.trees.push_back(tree);
            }
        }
        Ok(Some(lsn))
    }

    fn apply_commit(&self, txn: &mut Txn) -> Result<Lsn, EngineError> {
        let mut guard = self.lock()?;
        let state = &mut *guard;
        // The transaction reads no more: its own snapshot must not hold back pruning.
        txn.drop_snapshot();
        let horizon = self.shared.horizon();
        if txn.ssi_tracked() {
            let writes = txn
                .writes
                .iter()
                .flat_map(|(t, w)| w.keys().map(move |k| (*t, k.as_slice())));
            self.shared.ssi().pre_commit(txn.id, writes)?;
        }
        // Above every CPL appended so far, at most the commit LSN (see `mvcc`).
        let visibility = txn.last_lsn().next();
        let mut mtr = Mtr::begin(&mut state.pool, &*self.store);
        let status = &mut state.status;
        btree::put(
            &mut mtr,
            STATUS,
            &mvcc::status_key(txn.id),
            &visibility.0.to_le_bytes(),
        )?;
        status.insert(txn.id, visibility);
        let mut counted = Vec::with_capacity(txn.writes.len());
        for (&tree, writes) in &txn.writes {
            let mut tree_stats = TreeStats::default();
            for (key, write) in writes {
                let applied =
                    apply_write(&mut mtr, status, tree, key, write, (txn.id, false), horizon)?;
                tree_stats.count(applied.unwrap_or((Applied::Nothing, 0)));
            }
            counted.push((tree, tree_stats));
        }
        truncate_bucket(
            &mut mtr,
            status,
            mvcc::status_bucket(txn.id),
            horizon,
            STATUS_TRUNCATIONS_PER_COMMIT,
        )?;
        reserve_txn_id(&mut mtr, txn.id, self.next_txn_id.load(Ordering::Relaxed))?;
        let time_us = wall_clock_us().max(self.last_commit_time_us.load(Ordering::Relaxed));
        self.last_commit_time_us.store(time_us, Ordering::Relaxed);
        let lsn = match mtr.finish(Some(Payload::Commit {
            txn: txn.id,
            time_us,
        })) {
            Ok(lsn) => lsn.expect("an MTR ending with a commit record has an LSN"),
            Err(e) => {
                state.halted = Some(e.to_string());
                return Err(e);
            }
        };
        assert!(
            visibility <= lsn,
            "visibility LSN {visibility} of {} above its commit LSN {lsn}",
            txn.id
        );
        self.shared.last_lsn.store(lsn.0, Ordering::Release);
        if txn.ssi_tracked() {
            self.shared.ssi().committed(txn.id, lsn);
        }
        self.add_stats(counted);
        Ok(lsn)
    }

    /// Abandons the transaction: its writes were never applied; its locks are released.
    pub fn rollback(&self, mut txn: Txn) {
        self.check_owner(&txn);
        let spilled = std::mem::take(&mut txn.spilled_trees);
        drop(txn);
        // The dead versions of a spilled transaction go with the next pass over their trees.
        let mut q = self.vacuum_queue();
        for tree in spilled {
            if q.queued.len() < VACUUM_QUEUE_TREES_MAX && q.queued.insert(tree) {
                q.trees.push_back(tree);
            }
        }
    }

    /// Removes from every row of `tree` the versions older than the oldest snapshot in use, and
    /// rows whose newest such version is a delete; then truncates every transaction status entry
    /// no snapshot needs. Works in bounded steps (one MTR each), so writers interleave with it.
    pub fn vacuum(&self, tree: TreeId) -> Result<VacuumStats, EngineError> {
        user_tree(tree)?;
        let mut total = VacuumStats::default();
        let mut from: Option<Vec<u8>> = None;
        loop {
            let (stats, next) = self.vacuum_batch(tree, from.as_deref())?;
            total.add(stats);
            match next {
                Some(k) => from = Some(k),
                None => break,
            }
        }
        self.vacuum_pass_done(tree, total.versions_kept, false);
        for bucket in 0..STATUS_BUCKETS {
            loop {
                let n = self.truncate_status(bucket)?;
                total.status_entries_removed += n;
                if n < STATUS_TRUNCATIONS_PER_COMMIT as u64 {
                    break;
                }
            }
        }
        total.done = true;
        Ok(total)
    }

    /// One bounded unit of background vacuum (autovacuum): truncates a few status buckets and
    /// prunes one batch of the first tree written since it was last vacuumed. `done` in the
    /// result says whether no written tree is waiting.
    pub fn vacuum_step(&self) -> Result<VacuumStats, EngineError> {
        let mut q = self.vacuum_queue();
        let mut stats = VacuumStats::default();
        for _ in 0..STATUS_BUCKETS_PER_VACUUM_STEP {
            let bucket = q.next_bucket;
            q.next_bucket = (bucket + 1) % STATUS_BUCKETS;
            stats.status_entries_removed += self.truncate_status(bucket)?;
        }
        let horizon = self.shared.horizon();
        let q = &mut *q;
        let (ready, waiting): (Vec<_>, Vec<_>) =
            q.deferred.drain(..).partition(|&(_, at)| horizon > at);
        q.deferred = waiting;
        for (tree, _) in ready {
            if q.queued.len() < VACUUM_QUEUE_TREES_MAX && q.queued.insert(tree) {
                q.trees.push_back(tree);
            }
        }
        // Trees whose dead versions are below the threshold wait for more (their next write
        // queues them again); each is looked at once here.
        while q.resume.is_none()
            && let Some(&tree) = q.trees.front()
            && !self.autovacuum_due(tree)
        {
            q.trees.pop_front();
            q.queued.remove(&tree);
        }
        if let Some(&tree) = q.trees.front() {
            let from = q.resume.take();
            if from.is_none() {
                // Writes from now on queue the tree again, behind this pass.
                q.queued.remove(&tree);
                q.pass = Some((horizon, 0));
            }
            match self.vacuum_batch(tree, from.as_deref()) {
                Ok((s, next)) => {
                    stats.add(s);
                    if let Some((_, kept)) = &mut q.pass {
                        *kept += s.versions_kept;
                    }
                    match next {
                        Some(k) => q.resume = Some(k),
                        None => {
                            q.trees.pop_front();
                            let (began, kept) = q.pass.take().unwrap_or((horizon, 0));
                            if kept > 0 && q.deferred.len() < VACUUM_QUEUE_TREES_MAX {
                                q.deferred.push((tree, began));
                            }
                            self.vacuum_pass_done(tree, kept, true);
                        }
                    }
                }
                Err(EngineError::NoSuchTree(_)) => {
                    q.trees.pop_front();
                    q.pass = None;
                }
                Err(e) => {
                    q.resume = from;
                    return Err(e);
                }
            }
        }
        stats.done = q.trees.is_empty();
        Ok(stats)
    }

    /// Prunes up to `VACUUM_ENTRIES_PER_STEP` entries after `from` in one MTR; returns where to
    /// go on from, if anywhere.
    fn vacuum_batch(
        &self,
        tree: TreeId,
        from: Option<&[u8]>,
    ) -> Result<(VacuumStats, Option<Vec<u8>>), EngineError> {
        let (out, _) = self.run_mtr(|mtr, status| {
            let horizon = self.shared.horizon();
            let lower = from.map_or(Bound::Unbounded, Bound::Excluded);
            let mut cursor = Cursor::seek(mtr, tree, lower)?;
            let mut batch = Vec::new();
            while batch.len() < VACUUM_ENTRIES_PER_STEP {
                match cursor.next(mtr)? {
                    Some(e) => batch.push(e),
                    None => break,
                }
            }
            let next = if batch.len() == VACUUM_ENTRIES_PER_STEP {
                batch.last().map(|(k, _)| k.clone())
            } else {
                None
            };
            let mut stats = VacuumStats {
                entries_visited: batch.len() as u64,
                ..VacuumStats::default()
            };
            for (key, raw) in batch {
                let mut chain = Chain::decode(&raw)?;
                let removed = mvcc::prune(status, mtr, &mut chain, horizon)?;
                stats.versions_kept += chain.versions.len().saturating_sub(1) as u64;
                if removed == 0 {
                    continue;
                }
                stats.versions_removed += removed as u64;
                if chain.versions.is_empty() {
                    btree::remove(mtr, tree, &key)?;
                    stats.keys_removed += 1;
                } else {
                    btree::put(mtr, tree, &key, &chain.encode())?;
                }
            }
            Ok(((stats, next), None))
        })?;
        if out.0.versions_removed > 0 {
            let mut all = self.tree_stats_map();
            let s = all.entry(tree).or_default();
            s.dead_versions = s.dead_versions.saturating_sub(out.0.versions_removed);
        }
        Ok(out)
    }

    /// Truncates the status entries of one bucket that every snapshot sees (bounded per call).
    fn truncate_status(&self, bucket: u16) -> Result<u64, EngineError> {
        let (n, _) = self.run_mtr(|mtr, status| {
            let horizon = self.shared.horizon();
            let n = truncate_bucket(mtr, status, bucket, horizon, STATUS_TRUNCATIONS_PER_COMMIT)?;
            Ok((n, None))
        })?;
        Ok(n)
    }

    /// Registers a snapshot taken elsewhere (a read replica's read point): vacuum keeps every
    /// version it may read until the guard is dropped. `SnapshotTooOld` if vacuum may already
    /// have pruned past it.
    pub fn register_snapshot(&self, lsn: Lsn) -> Result<SnapshotGuard, EngineError> {
        self.shared.register(lsn)?;
        Ok(SnapshotGuard {
            shared: self.shared.clone(),
            lsn,
        })
    }

    /// The vacuum horizon: the oldest snapshot in use (transactions' and registered ones), or the
    /// durable LSN if none is older. Versions older than what this snapshot sees may be removed.
    #[must_use]
    pub fn oldest_snapshot(&self) -> Lsn {
        self.shared.horizon()
    }

    /// The store's durable LSN (where new snapshots are taken).
    #[must_use]
    pub fn durable_lsn(&self) -> Lsn {
        self.store.durable_lsn()
    }

    /// Lock requests currently waiting (for tests and monitoring).
    #[must_use]
    pub fn lock_waiters(&self) -> usize {
        self.shared.locks.waiting()
    }

    /// Pages a tree uses (every page reachable from its root).
    pub fn tree_pages(&self, tree: TreeId) -> Result<u64, EngineError> {
        user_tree(tree)?;
        self.read(|mtr, _| btree::page_count(mtr, tree))
    }

    /// Pages the transaction status tree uses.
    pub fn status_pages(&self) -> Result<u64, EngineError> {
        self.read(|mtr, _| btree::page_count(mtr, STATUS))
    }

    /// Keys that cut `tree` into up to `parts` ranges of about the same size (by the root's
    /// children), in order; none for a tree of one page. Parallel scans read one range each.
    pub fn split_keys(&self, tree: TreeId, parts: usize) -> Result<Vec<Vec<u8>>, EngineError> {
        user_tree(tree)?;
        self.read(|mtr, _| btree::split_keys(mtr, tree, parts))
    }

    /// The tree's number of levels (1: its root is a leaf). For tests and query plans.
    pub fn tree_height(&self, tree: TreeId) -> Result<u16, EngineError> {
        user_tree(tree)?;
        Ok(self.read(|mtr, _| btree::root_level(mtr, tree))? + 1)
    }

    /// Whether `tree` has enough dead versions for a background pass.
    fn autovacuum_due(&self, tree: TreeId) -> bool {
        let s = self.tree_stats(tree);
        let live = s.inserted.saturating_sub(s.deleted);
        let threshold = self
            .autovacuum_threshold
            .saturating_add(live.saturating_mul(self.autovacuum_scale_per_mille) / 1000);
        s.dead_versions > 0 && s.dead_versions >= threshold
    }

    /// Counts a completed vacuum pass over `tree`. A pass that kept no old version leaves no dead
    /// one either, which corrects the estimate.
    fn vacuum_pass_done(&self, tree: TreeId, kept: u64, background: bool) {
        let mut all = self.tree_stats_map();
        let s = all.entry(tree).or_default();
        if kept == 0 {
            s.dead_versions = 0;
        }
        let now = Some(wall_clock_us());
        if background {
            s.autovacuum_count += 1;
            s.last_autovacuum_us = now;
        } else {
            s.vacuum_count += 1;
            s.last_vacuum_us = now;
        }
    }

    /// A tree's activity counters since the engine opened (zero for a tree never written).
    #[must_use]
    pub fn tree_stats(&self, tree: TreeId) -> TreeStats {
        self.tree_stats_map()
            .get(&tree)
            .copied()
            .unwrap_or_default()
    }

    fn tree_stats_map(&self) -> MutexGuard<'_, HashMap<TreeId, TreeStats>> {
        self.stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn add_stats(&self, counted: impl IntoIterator<Item = (TreeId, TreeStats)>) {
        let mut all = self.tree_stats_map();
        for (tree, s) in counted {
            all.entry(tree).or_default().add(&s);
        }
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

    fn take_lock(
        &self,
        txn: &mut Txn,
        row: &RowId,
        mode: LockMode,
        wait: LockWait,
        timeout: Option<Duration>,
    ) -> Result<Acquired, EngineError> {
        if txn.locks.get(row).is_some_and(|m| *m >= mode) {
            return Ok(Acquired::AlreadyHeld);
        }
        let acquired = self
            .shared
            .locks
            .acquire(txn.id, &txn.waiter, row, mode, wait, timeout)?;
        if let Acquired::Granted { before } = acquired {
            txn.note_lock(row.clone(), mode, before);
        }
        Ok(acquired)
    }

    /// The newest version of a stored row as a writer sees it: the transaction's own spilled
    /// version, else the newest committed one and whether the transaction's snapshot misses it.
    /// Versions of dead spilled transactions are skipped; a live foreign one is the row's write
    /// lock: `Blocked` by its transaction, unless `skip_live` (then it is skipped too).
    fn newest(
        &self,
        txn: &Txn,
        tree: TreeId,
        key: &[u8],
        skip_live: bool,
    ) -> Result<Newest, EngineError> {
        let (snapshot, own) = (txn.snapshot, txn.id);
        self.read(|mtr, status| {
            if let Some(chain) = mvcc::chain_of(mtr, tree, key)? {
                for v in &chain.versions {
                    if v.txn == own {
                        return Ok(Newest::Row(RowVersion {
                            value: v.value.clone(),
                            changed: false,
                        }));
                    }
                    match status.state(mtr, v.txn)? {
                        TxnState::Dead => {}
                        TxnState::Live if skip_live => {}
                        TxnState::Live => return Ok(Newest::Blocked(v.txn)),
                        TxnState::Committed(visibility) => {
                            return Ok(Newest::Row(RowVersion {
                                value: v.value.clone(),
                                changed: visibility.is_some_and(|l| l > snapshot),
                            }));
                        }
                    }
                }
            }
            Ok(Newest::Row(RowVersion {
                value: None,
                changed: false,
            }))
        })
    }

    /// Takes `mode` on a row and reads its newest version (the transaction's own write first).
    /// A live spilled version of another transaction at the head of the row is that transaction's
    /// write lock: the row lock is given back, the transaction is waited for (as `wait` and
    /// `timeout` say, with deadlock detection), and the whole step runs again. `None`: skipped
    /// (SKIP LOCKED).
    fn lock_newest(
        &self,
        txn: &mut Txn,
        tree: TreeId,
        key: &[u8],
        mode: LockMode,
        wait: LockWait,
        timeout: Option<Duration>,
    ) -> Result<Option<(RowVersion, Acquired)>, EngineError> {
        let row = (tree, key.to_vec());
        loop {
            let acquired = self.take_lock(txn, &row, mode, wait, timeout)?;
            if acquired == Acquired::Skipped {
                return Ok(None);
            }
            let newest = match txn.write_of(tree, key) {
                Some(Write::Put { value, .. }) => Ok(Newest::Row(RowVersion {
                    value: Some(value.clone()),
                    changed: false,
                })),
                Some(Write::Delete) => Ok(Newest::Row(RowVersion {
                    value: None,
                    changed: false,
                })),
                None => self.newest(txn, tree, key, false),
            };
            match newest {
                Ok(Newest::Row(r)) => return Ok(Some((r, acquired))),
                Ok(Newest::Blocked(other)) => {
                    give_back(txn, &row, acquired);
                    if !self.wait_for_txn(txn, other, wait, timeout)? {
                        return Ok(None);
                    }
                }
                Err(e) => {
                    give_back(txn, &row, acquired);
                    return Err(e);
                }
            }
        }
    }

    /// Waits until `other` (a spilled transaction) has ended, by taking and at once giving back
    /// a share of its transaction lock. `false`: it is running and `wait` said SKIP LOCKED.
    fn wait_for_txn(
        &self,
        txn: &Txn,
        other: TxnId,
        wait: LockWait,
        timeout: Option<Duration>,
    ) -> Result<bool, EngineError> {
        let row = txn_lock_row(other);
        let acquired =
            self.shared
                .locks
                .acquire(txn.id, &txn.waiter, &row, LockMode::Share, wait, timeout)?;
        Ok(match acquired {
            Acquired::Skipped => false,
            Acquired::Granted { before } => {
                self.shared.locks.release(txn.id, &row, before);
                true
            }
            Acquired::AlreadyHeld => true,
        })
    }

    /// Spills the transaction's buffered writes if they exceed the write-buffer budget, unless
    /// it has open savepoints (a rollback to one needs the writes in memory) or is serializable
    /// (its rw-antidependency tracking assumes writes reach pages only at commit): those keep
    /// their writes in memory.
    fn maybe_spill(&self, txn: &mut Txn) -> Result<(), EngineError> {
        if txn.write_bytes < self.txn_write_buffer_bytes
            || txn.has_savepoints()
            || txn.ssi_tracked()
        {
            return Ok(());
        }
        self.spill(txn)
    }

    /// Writes the transaction's buffered writes into their chains as versions of an
    /// `UNCOMMITTED` transaction (see `mvcc`), `SPILL_ENTRIES_PER_MTR` rows per MTR, and gives
    /// back the in-memory row locks of the rows written (their spilled versions lock them now).
    fn spill(&self, txn: &mut Txn) -> Result<(), EngineError> {
        let id = txn.id;
        if !txn.spilled {
            // Held until the transaction ends; writers that find its versions wait on it.
            self.take_lock(
                txn,
                &txn_lock_row(id),
                LockMode::Update,
                LockWait::Block,
                None,
            )?;
            self.run_mtr(|mtr, status| {
                btree::put(
                    mtr,
                    STATUS,
                    &mvcc::status_key(id),
                    &UNCOMMITTED.0.to_le_bytes(),
                )?;
                reserve_txn_id(mtr, id, self.next_txn_id.load(Ordering::Relaxed))?;
                status.spilled(id);
                Ok(((), None))
            })?;
            txn.spilled = true;
        }
        let writes = std::mem::take(&mut txn.writes);
        txn.write_bytes = 0;
        for (tree, entries) in writes {
            txn.spilled_trees.insert(tree);
            if txn.created_trees.contains(&tree)
                && let Some((last, _)) = entries.last_key_value()
                && txn
                    .spilled_last
                    .get(&tree)
                    .is_none_or(|before| before < last)
            {
                txn.spilled_last.insert(tree, last.clone());
            }
            let mut entries = entries.into_iter().peekable();
            while entries.peek().is_some() {
                let batch: Vec<(Vec<u8>, Write)> =
                    entries.by_ref().take(SPILL_ENTRIES_PER_MTR).collect();
                let (applied, _) = self.run_mtr(|mtr, status| {
                    let horizon = self.shared.horizon();
                    let mut applied = Vec::with_capacity(batch.len());
                    for (key, write) in &batch {
                        applied.push(apply_write(
                            mtr,
                            status,
                            tree,
                            key,
                            write,
                            (id, true),
                            horizon,
                        )?);
                    }
                    Ok((applied, None))
                })?;
                let mut tree_stats = TreeStats::default();
                for ((key, write), applied) in batch.into_iter().zip(applied) {
                    let Some(applied) = applied else {
                        txn.set(tree, &key, write);
                        continue;
                    };
                    tree_stats.count(applied);
                    let row = (tree, key);
                    if txn.locks.get(&row) == Some(&LockMode::Update) {
                        self.shared.locks.release(id, &row, None);
                        txn.locks.remove(&row);
                    }
                }
                self.add_stats([(tree, tree_stats)]);
            }
        }
        Ok(())
    }

    /// Locks a row for a write and applies first-updater-wins outside READ COMMITTED.
    fn prepare_write(
        &self,
        txn: &mut Txn,
        tree: TreeId,
        key: &[u8],
    ) -> Result<(RowVersion, Acquired), EngineError> {
        let row = (tree, key.to_vec());
        let timeout = txn.lock_timeout;
        let (newest, acquired) = self
            .lock_newest(txn, tree, key, LockMode::Update, LockWait::Block, timeout)?
            .expect("a blocking lock request is never skipped");
        if newest.changed && txn.isolation != Isolation::ReadCommitted {
            give_back(txn, &row, acquired);
            return Err(concurrent_update());
        }
        Ok((newest, acquired))
    }

    fn conflict_out(&self, txn: &Txn, newer: &[TxnId]) -> Result<(), EngineError> {
        if txn.ssi_tracked() && !newer.is_empty() {
            self.shared.ssi().conflict_out(txn.id, newer)
        } else {
            Ok(())
        }
    }

    fn vacuum_queue(&self) -> MutexGuard<'_, VacuumQueue> {
        self.vacuum
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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
        op: impl FnOnce(&mut Mtr<'_>, &mut StatusCache) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let mut guard = self.lock()?;
        let state = &mut *guard;
        let mut mtr = Mtr::begin(&mut state.pool, &*self.store);
        let out = op(&mut mtr, &mut state.status)?;
        let logged = mtr.finish(None)?;
        assert!(logged.is_none(), "a read-only operation changed pages");
        Ok(out)
    }

    /// Runs a writing operation in one MTR under the engine lock, ending the MTR with the commit
    /// payload the operation returns, if any. A failed append halts the engine.
    fn run_mtr<T>(
        &self,
        op: impl FnOnce(&mut Mtr<'_>, &mut StatusCache) -> Result<(T, Option<Payload>), EngineError>,
    ) -> Result<(T, Option<Lsn>), EngineError> {
        let mut guard = self.lock()?;
        let state = &mut *guard;
        let mut mtr = Mtr::begin(&mut state.pool, &*self.store);
        let (out, tail) = op(&mut mtr, &mut state.status)?;
        match mtr.finish(tail) {
            Ok(lsn) => {
                if let Some(lsn) = lsn {
                    self.shared.last_lsn.store(lsn.0, Ordering::Release);
                }
                Ok((out, lsn))
            }
            Err(e) => {
                state.halted = Some(e.to_string());
                Err(e)
            }
        }
    }
}

/// Appends to `out` the value of `key` in `tree` visible to `seer` (snapshot, own
/// transaction), starting from `finger`; false (and `out` unchanged) when there is none. The
/// version chain is decided in its leaf when every writer it asks about has a cached status
/// (the usual case), and only the visible value is copied; otherwise the chain is copied into
/// `raw` and decided the general way, which reads the status from its page. Writers newer than
/// the snapshot are added to `newer`.
fn read_visible(
    mtr: &mut Mtr<'_>,
    status: &mut StatusCache,
    (tree, key): (TreeId, &[u8]),
    finger: &mut btree::Finger,
    (snapshot, own): (Lsn, TxnId),
    (newer, raw): (&mut Vec<TxnId>, &mut Vec<u8>),
    out: &mut Vec<u8>,
) -> Result<bool, EngineError> {
    raw.clear();
    let in_place = btree::with_value(mtr, tree, key, finger, |chain| {
        let decided = mvcc::visible_cached(&mut |t| status.cached(t), chain, snapshot, own, newer)?;
        match &decided {
            Some(Some(r)) => out.extend_from_slice(&chain[r.clone()]),
            Some(None) => {}
            None => raw.extend_from_slice(chain),
        }
        Ok(decided.map(|v| v.is_some()))
    })?;
    match in_place {
        None => Ok(false),
        Some(Some(found)) => Ok(found),
        Some(None) => Ok(
            match mvcc::visible_in(status, mtr, raw, snapshot, own, newer)? {
                Some(r) => {
                    out.extend_from_slice(&raw[r]);
                    true
                }
                None => false,
            },
        ),
    }
}

/// Gives back a lock a write took but did not use.
fn give_back(txn: &mut Txn, row: &RowId, acquired: Acquired) {
    if let Acquired::Granted { before } = acquired {
        txn.give_back_lock(row, before);
    }
}

fn concurrent_update() -> EngineError {
    EngineError::SerializationFailure("could not serialize access due to concurrent update".into())
}

/// Refuses the status tree to user operations: its entries are not version chains.
fn user_tree(tree: TreeId) -> Result<(), EngineError> {
    if tree == STATUS {
        return Err(EngineError::NoSuchTree(tree));
    }
    Ok(())
}

/// Deletes up to `max` entries of one status bucket whose visibility LSN is at or below the
/// horizon (examining at most four times as many). Returns how many it deleted.
fn truncate_bucket(
    mtr: &mut Mtr<'_>,
    status: &mut StatusCache,
    bucket: u16,
    horizon: Lsn,
    max: usize,
) -> Result<u64, EngineError> {
    let prefix = bucket.to_be_bytes();
    let mut cursor = Cursor::seek(mtr, STATUS, Bound::Included(&prefix[..]))?;
    let mut doomed = Vec::new();
    let mut examined = 0;
    while doomed.len() < max && examined < 4 * max {
        let Some((key, value)) = cursor.next(mtr)? else {
            break;
        };
        if !key.starts_with(&prefix) {
            break;
        }
        examined += 1;
        let (txn, visibility) = mvcc::decode_status(&key, &value)?;
        if visibility <= horizon {
            doomed.push((key, txn));
        }
    }
    for (key, txn) in &doomed {
        btree::remove(mtr, STATUS, key)?;
        status.forget(*txn);
    }
    Ok(doomed.len() as u64)
}

/// The snapshot of [`Engine::scan_latest`]: above every visibility LSN, below `UNCOMMITTED`.
const LATEST: Lsn = Lsn(u64::MAX - 1);

/// What a writer finds at the head of a row.
enum Newest {
    Row(RowVersion),
    /// A live spilled transaction's version: the row is write-locked by that transaction.
    Blocked(TxnId),
}

/// The lock-table row that stands for a spilled transaction as a whole: it holds it in `Update`
/// mode until it ends, and writers that find its versions wait for a share of it.
fn txn_lock_row(txn: TxnId) -> RowId {
    (META_PAGE, txn.0.to_be_bytes().to_vec())
}

/// Makes sure transaction ids up to `txn` are reserved on the meta page (so ids that reached
/// pages are never handed out again after a restart).
fn reserve_txn_id(mtr: &mut Mtr<'_>, txn: TxnId, next: u64) -> Result<(), EngineError> {
    let reserved = page::meta_next_txn_id(mtr.read(META_PAGE)?);
    if txn.0 >= reserved {
        let handed_out = next.max(txn.0 + 1);
        page::set_meta_next_txn_id(mtr.write(META_PAGE)?, handed_out + TXN_IDS_RESERVED);
    }
    Ok(())
}

/// Puts transaction `own`'s write of `key` in front of the row's chain (replacing its own
/// spilled version if that is the head), prunes the chain at `horizon`, and stores it back (or
/// removes the key when nothing is left). An insert that required the key to be absent fails with
/// `DuplicateKey` if a row is there. Returns what the write did to the row, and how many old
/// versions pruning removed.
///
/// At commit, a chain too long for its cell drops its oldest versions (see `Chain::fit`). A spill
/// must not: the versions below an uncommitted one are what everyone else reads, and all of them
/// if it rolls back; so a spilled write that does not fit beside them is not applied, and `None`
/// says it stays in memory until the commit.
fn apply_write(
    mtr: &mut Mtr<'_>,
    status: &mut StatusCache,
    tree: TreeId,
    key: &[u8],
    write: &Write,
    (own, spilling): (TxnId, bool),
    horizon: Lsn,
) -> Result<Option<(Applied, u64)>, EngineError> {
    let mut chain = mvcc::chain_of(mtr, tree, key)?.unwrap_or_default();
    let existed = mvcc::newest_value(status, mtr, &chain, own)?;
    let (value, applied) = match write {
        Write::Put {
            value,
            must_be_absent,
        } => {
            if *must_be_absent && existed {
                return Err(EngineError::DuplicateKey);
            }
            let applied = if existed {
                Applied::Updated
            } else {
                Applied::Inserted
            };
            (Some(value.clone()), applied)
        }
        Write::Delete if existed => (None, Applied::Deleted),
        Write::Delete => (None, Applied::Nothing),
    };
    let version = Version { txn: own, value };
    match chain.versions.first_mut() {
        Some(head) if head.txn == own => *head = version,
        _ => chain.versions.insert(0, version),
    }
    let pruned = mvcc::prune(status, mtr, &mut chain, horizon)? as u64;
    if spilling && !chain.fits(key.len()) {
        return Ok(None);
    }
    chain.fit(key.len());
    if chain.versions.is_empty() {
        btree::remove(mtr, tree, key)?;
    } else {
        btree::put(mtr, tree, key, &chain.encode())?;
    }
    Ok(Some((applied, pruned)))
}

/// A cursor walking a tree one way or the other.
enum Walk {
    Forward(Cursor),
    Backward(ReverseCursor),
}

/// The walk's next row not past `end` (the range's far end in the walk's direction) with a
/// version visible at `snapshot` to transaction `own`: its key lands in `key`, its stored chain
/// in `raw` (both reused from row to row), and the visible value's place in `raw` is returned.
/// Writers of versions too new for the snapshot are added to `newer`.
fn next_visible_into(
    cursor: &mut Walk,
    mtr: &mut Mtr<'_>,
    status: &mut StatusCache,
    end: Bound<&[u8]>,
    (snapshot, own): (Lsn, TxnId),
    newer: &mut Vec<TxnId>,
    (key, raw): (&mut Vec<u8>, &mut Vec<u8>),
) -> Result<Option<std::ops::Range<usize>>, EngineError> {
    loop {
        let within = match cursor {
            Walk::Forward(c) => {
                if !c.next_into(mtr, key, raw)? {
                    return Ok(None);
                }
                match end {
                    Bound::Unbounded => true,
                    Bound::Included(end) => key.as_slice() <= end,
                    Bound::Excluded(end) => key.as_slice() < end,
                }
            }
            Walk::Backward(c) => {
                if !c.prev_into(mtr, key, raw)? {
                    return Ok(None);
                }
                match end {
                    Bound::Unbounded => true,
                    Bound::Included(end) => key.as_slice() >= end,
                    Bound::Excluded(end) => key.as_slice() > end,
                }
            }
        };
        if !within {
            return Ok(None);
        }
        if let Some(value) = mvcc::visible_in(status, mtr, raw, snapshot, own, newer)? {
            return Ok(Some(value));
        }
    }
}

/// The stored rows visible at `snapshot` to transaction `own` from the walk on, up to `limit`
/// of them and not past `end`, into `out`: the scan of a range the transaction has not
/// written. Going forwards, each row is decided in its leaf, with no copy but the visible
/// value's into `out` and no lookup of the leaf per row; a row whose writer's status is not
/// cached yet (or any row going backwards) is read the general way, through `key` and `raw`.
/// Writers of versions too new for the snapshot are added to `newer`.
#[allow(clippy::too_many_arguments)]
fn scan_stored(
    cursor: &mut Walk,
    mtr: &mut Mtr<'_>,
    status: &mut StatusCache,
    (end, limit): (Bound<&[u8]>, usize),
    (snapshot, own): (Lsn, TxnId),
    newer: &mut Vec<TxnId>,
    (key, raw): (&mut Vec<u8>, &mut Vec<u8>),
    out: &mut ScanBatch,
) -> Result<(), EngineError> {
    while out.len() < limit {
        if let Walk::Forward(c) = cursor {
            // The status last found: the rows of a table are mostly written by a few
            // transactions, so most rows ask for the one before's writer again. (The engine
            // lock is held: no status changes during the walk.)
            let mut last: Option<(TxnId, Option<Lsn>)> = None;
            let mut status_of = |txn: TxnId| match last {
                Some((t, s)) if t == txn => Some(s),
                _ => {
                    let s = status.cached(txn)?;
                    last = Some((txn, s));
                    Some(s)
                }
            };
            let mut ended = false;
            let halted = c.visit(mtr, &mut |k, chain| {
                let within = match end {
                    Bound::Unbounded => true,
                    Bound::Included(end) => k <= end,
                    Bound::Excluded(end) => k < end,
                };
                if !within {
                    ended = true;
                    return Ok(btree::Visit::Stop);
                }
                match mvcc::visible_cached(&mut status_of, chain, snapshot, own, newer)? {
                    None => Ok(btree::Visit::Defer),
                    Some(None) => Ok(btree::Visit::Next),
                    Some(Some(value)) => {
                        out.push(k, &chain[value]);
                        Ok(if out.len() >= limit {
                            btree::Visit::Stop
                        } else {
                            btree::Visit::Next
                        })
                    }
                }
            })?;
            if !halted || ended || out.len() >= limit {
                return Ok(());
            }
            // Halted on a row whose writer's status is not cached: read below.
        }
        match next_visible_into(cursor, mtr, status, end, (snapshot, own), newer, (key, raw))? {
            Some(value) => out.push(key, &raw[value]),
            None => return Ok(()),
        }
    }
    Ok(())
}

/// A batch of scanned entries in two reused buffers (see [`Engine::scan_batch`]).
#[derive(Default)]
pub struct ScanBatch {
    /// Every entry's key and value, back to back.
    bytes: Vec<u8>,
    /// Per entry: where its key starts in `bytes`, the key's length, the value's length.
    spans: Vec<(usize, usize, usize)>,
    /// Scratch for the cursor (kept here so their capacity is reused too).
    key: Vec<u8>,
    raw: Vec<u8>,
}

impl ScanBatch {
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.spans.clear();
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The bytes its buffers hold allocated.
    pub fn capacity_bytes(&self) -> usize {
        self.bytes.capacity()
            + self.spans.capacity() * std::mem::size_of::<(usize, usize, usize)>()
            + self.key.capacity()
            + self.raw.capacity()
    }

    fn push(&mut self, key: &[u8], value: &[u8]) {
        self.spans.push((self.bytes.len(), key.len(), value.len()));
        self.bytes.extend_from_slice(key);
        self.bytes.extend_from_slice(value);
    }

    /// Pushes `key` with the value `value` appends to the buffer it is given, if it returns
    /// true; nothing if it returns false or fails.
    fn push_with<E>(
        &mut self,
        key: &[u8],
        value: impl FnOnce(&mut Vec<u8>) -> Result<bool, E>,
    ) -> Result<(), E> {
        let at = self.bytes.len();
        self.bytes.extend_from_slice(key);
        let value_at = self.bytes.len();
        match value(&mut self.bytes) {
            Ok(true) => {
                self.spans
                    .push((at, key.len(), self.bytes.len() - value_at));
                Ok(())
            }
            other => {
                self.bytes.truncate(at);
                other.map(|_| ())
            }
        }
    }

    /// Entry `i` as (key, value).
    pub fn get(&self, i: usize) -> (&[u8], &[u8]) {
        let (at, k, v) = self.spans[i];
        (&self.bytes[at..at + k], &self.bytes[at + k..at + k + v])
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + Clone {
        (0..self.len()).map(|i| self.get(i))
    }

    pub fn last_key(&self) -> Option<&[u8]> {
        self.len().checked_sub(1).map(|i| self.get(i).0)
    }
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
