//! Every bound of the engine, named and explained in one place.
//!
//! The page-format bounds are checked against each other at compile time below: a B+tree split
//! must always leave both halves fitting in a page, which is what limits the size of one entry.

use crate::mvcc::{CHAIN_HEADER_BYTES, VERSION_HEADER_BYTES};
use crate::page::{HEADER_BYTES, INTERNAL_CELL_OVERHEAD, LEAF_CELL_OVERHEAD, SLOT_BYTES};
use borealis_common::PAGE_SIZE;

/// Longest key accepted by a B+tree. Keys are copied into internal nodes as separators, so this
/// bounds an internal cell and, with it, keeps at least seven separators per internal page.
pub const KEY_BYTES_MAX: usize = 1024;

/// Longest stored entry (key plus stored value) of a B+tree leaf cell. A split of an overfull leaf
/// must give two halves that each fit in a page; with entries up to a third of the page's usable
/// space that is always possible (see the assertions below). Larger values (overflow pages) are a
/// later issue.
pub const CELL_ENTRY_BYTES_MAX: usize = 2700;

/// Longest row (key plus value) a transaction may write. A row is stored as a version chain, so
/// its newest version must fit in a cell together with the chain and version headers. Older
/// versions are kept only while they fit beside it: a chain of large rows may have to drop
/// versions a snapshot still needs, which that snapshot then reports as
/// [`EngineError::SnapshotTooOld`](crate::EngineError::SnapshotTooOld).
pub const ENTRY_BYTES_MAX: usize = CELL_ENTRY_BYTES_MAX - CHAIN_HEADER_BYTES - VERSION_HEADER_BYTES;

/// Most levels a B+tree may have, leaves included. Levels strictly decrease on the way down, so
/// this also bounds every descent and every recursion over a tree, even over corrupted pages. With
/// at least seven children per internal page, sixteen levels are far beyond any real volume.
pub const TREE_LEVELS_MAX: u16 = 16;

/// Smallest buffer pool the engine runs with; a smaller configured size is raised to this. A
/// B+tree operation needs a handful of pages at once (a root split touches the meta page, the root
/// and two new children), and the pool may exceed its capacity while every frame is pinned, so
/// this only keeps the clock from thrashing.
pub const BUFFER_POOL_PAGES_MIN: usize = 4;

/// How many full sweeps of the clock hand one eviction attempt makes before giving up (the first
/// sweep may only clear reference bits). When nothing is evictable the pool grows past its
/// capacity instead of waiting.
pub const EVICTION_SWEEPS_MAX: usize = 2;

/// Transaction ids are handed out from memory and reserved on the meta page in blocks of this
/// many, so that only about one commit in this many changes the meta page for its id.
pub const TXN_IDS_RESERVED: u64 = 1024;

/// Buckets of the transaction status tree (entries are keyed by `txn mod STATUS_BUCKETS` first,
/// see `mvcc`). Enough buckets that each leaf of the tree covers a few of them, few enough that a
/// bucket sees a new commit often and so gets its old entries truncated often.
pub const STATUS_BUCKETS: u16 = 256;

/// Most status entries one commit truncates from its own bucket, so a commit's MTR stays small
/// even after a long-lived snapshot held truncation back.
pub const STATUS_TRUNCATIONS_PER_COMMIT: usize = 8;

/// Status buckets one [`Engine::vacuum_step`](crate::Engine::vacuum_step) truncates.
pub const STATUS_BUCKETS_PER_VACUUM_STEP: u16 = 16;

/// Transactions whose status the engine keeps in memory. Dropping an entry is always correct
/// (the status tree in pages is the truth); this only bounds memory.
pub const STATUS_CACHE_ENTRIES_MAX: usize = 64 * 1024;

/// Entries one vacuum step examines (one MTR, under the engine lock for its duration).
pub const VACUUM_ENTRIES_PER_STEP: usize = 256;

/// Trees remembered for background vacuum (trees written since they were last vacuumed). When
/// full, newly written trees wait for the next explicit vacuum.
pub const VACUUM_QUEUE_TREES_MAX: usize = 4096;

/// Keys a serializable transaction tracks individually per tree as read (SIREAD locks); beyond
/// this its reads of that tree are escalated to the whole tree (more false conflicts, bounded
/// memory).
pub const SIREAD_KEYS_PER_TREE_MAX: usize = 4096;

/// Key ranges a serializable transaction tracks per tree as read before escalating to the whole
/// tree.
pub const SIREAD_RANGES_PER_TREE_MAX: usize = 256;

/// Smallest per-transaction write buffer (see `EngineConfig::txn_write_buffer_bytes`): a
/// configured budget below this is raised to it.
pub const TXN_WRITE_BUFFER_BYTES_MIN: usize = 4 * 1024;

/// Rows one spill MTR writes (the pages it changes stay pinned until it is appended, so this
/// bounds the pinned pages and how long the engine lock is held per step).
pub const SPILL_ENTRIES_PER_MTR: usize = 256;

/// Largest leaf cell plus its slot.
const LEAF_CELL_BYTES_MAX: usize = LEAF_CELL_OVERHEAD + CELL_ENTRY_BYTES_MAX + SLOT_BYTES;
/// Largest internal cell plus its slot.
const INTERNAL_CELL_BYTES_MAX: usize = INTERNAL_CELL_OVERHEAD + KEY_BYTES_MAX + SLOT_BYTES;
/// Space for cells and slots in a B+tree page.
const NODE_SPACE_BYTES: usize = PAGE_SIZE - HEADER_BYTES;

const _: () = assert!(KEY_BYTES_MAX <= ENTRY_BYTES_MAX);
const _: () = assert!(ENTRY_BYTES_MAX < CELL_ENTRY_BYTES_MAX);
const _: () = assert!(CELL_ENTRY_BYTES_MAX < u16::MAX as usize);
const _: () = assert!(STATUS_BUCKETS > 0 && STATUS_BUCKETS_PER_VACUUM_STEP <= STATUS_BUCKETS);
// A split puts about half of (a full page + one entry) on each side; each half exceeds half of
// that by at most one entry. Three entries per page guarantee both halves fit.
const _: () = assert!(3 * LEAF_CELL_BYTES_MAX <= NODE_SPACE_BYTES);
const _: () = assert!(3 * INTERNAL_CELL_BYTES_MAX <= NODE_SPACE_BYTES);
const _: () = assert!(BUFFER_POOL_PAGES_MIN >= 4);
const _: () = assert!(TXN_IDS_RESERVED > 0);
