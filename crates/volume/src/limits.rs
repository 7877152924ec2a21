//! Bounds of the volume client, in one place.

/// LSN allocation limit (LAL): the writer never allocates an LSN more than this many records above
/// VDL. It is the back-pressure that keeps a slow or partitioned storage tier from letting the
/// writer run unboundedly ahead; it also bounds the unacknowledged tail that recovery must truncate
/// (recovery discards `(VDL, VDL + LAL]`). The Aurora paper uses ten million; our LSNs count
/// records, not bytes, so a smaller figure bounds memory to roughly LAL × record size.
pub const LAL_RECORDS: u64 = 1 << 16;

/// The same bound in bytes: the records allocated above VDL (which the send log must hold) never
/// exceed this by more than one MTR, however large the records (a bulk load writes whole pages).
pub const LAL_BYTES: u64 = 64 << 20;

/// Durable records (at or below VDL) the send log keeps for connected segments that lag behind:
/// past this, the oldest are dropped and a lagging segment fills the gap from its peers (gossip),
/// as one that reconnects does. With [`LAL_BYTES`] this bounds the send log, and so the writer's
/// memory for shipping, whatever the write rate and however slow one segment is.
pub const SEND_LOG_DURABLE_BYTES: u64 = 64 << 20;

/// Write quorum: a record is durable once this many of the six segments hold it.
pub const WRITE_QUORUM: usize = 4;

/// Read quorum, used only by recovery.
pub const READ_QUORUM: usize = 3;

/// Segments per protection group.
pub const SEGMENTS_PER_PG: usize = 6;

/// The writer's segment slots: the six members, and one for a node joining during a
/// replacement (the dual-quorum state).
pub const SLOTS: usize = SEGMENTS_PER_PG + 1;

/// The slot of the node joining during a replacement.
pub const JOINING_SLOT: usize = SEGMENTS_PER_PG;

/// A member the writer has not been connected to for this long is lost: it is replaced by a
/// spare storage node of the same AZ (if one is configured). Long enough that a restart or a
/// short partition heals in place; short enough that the PG does not run on five copies for long.
pub const SEGMENT_LOST_MS: u64 = 3_000;

/// A `Write` in flight longer than this drops the connection (the segment reconnects and resends).
pub const WRITE_TIMEOUT_MS: u64 = 5_000;

/// A connected segment whose acknowledged SCL lags what it was sent (it lost records in a crash,
/// or its disk, and fills the gap by gossip) and that has nothing new to receive is sent its
/// unacknowledged records again after this long: its answer reports the SCL it has reached since,
/// which VDL may be waiting for.
pub const LAGGING_SEGMENT_RESEND_MS: u64 = 1_000;

/// A single page read from one segment; past it the next segment is tried.
pub const GET_PAGE_TIMEOUT_MS: u64 = 2_000;

/// How long a page read keeps retrying while no segment can serve it (segments reconnecting).
pub const GET_PAGE_RETRY_MS_MAX: u64 = 10_000;

/// Connecting to a storage node.
pub const CONNECT_TIMEOUT_MS: u64 = 500;

/// Longest pause between reconnection attempts to a segment.
pub const RECONNECT_BACKOFF_MS_MAX: u64 = 1_000;

/// How long recovery waits for every segment to answer before going on with a quorum.
pub const RECOVERY_ALL_SEGMENTS_WAIT_MS: u64 = 1_500;

/// Frames queued for sending on one connection.
pub const CONN_SEND_QUEUE_FRAMES: usize = 256;

/// Protection group size, in pages, unless configured otherwise: 10 GiB of 8 KiB pages.
pub const PAGES_PER_PG_DEFAULT: u64 = (10 << 30) / 8192;

/// Hedged page reads (see `reads.rs`): the first read goes to one segment; if it has not answered
/// within the hedge delay, the same read goes to a second segment covering the read point. The
/// delay adapts to observed latency (mean + 4 × deviation) within these bounds. The floor keeps
/// ordinary jitter from doubling the read load; the ceiling keeps a stalled segment from costing
/// more than this per read.
pub const HEDGE_DELAY_US_MIN: u64 = 2_000;

/// See [`HEDGE_DELAY_US_MIN`].
pub const HEDGE_DELAY_US_MAX: u64 = 50_000;

/// The hedge delay before any read has been measured.
pub const HEDGE_DELAY_US_INITIAL: u64 = 10_000;

const _: () = assert!(HEDGE_DELAY_US_MIN <= HEDGE_DELAY_US_INITIAL);
const _: () = assert!(HEDGE_DELAY_US_INITIAL <= HEDGE_DELAY_US_MAX);
const _: () = assert!(HEDGE_DELAY_US_MAX < GET_PAGE_TIMEOUT_MS * 1_000);

/// How long growing the volume waits for a write quorum of the new PG's segments and of PG 0
/// (to store the map) before the write that needed it fails.
pub const GROW_WAIT_MS: u64 = 10_000;
