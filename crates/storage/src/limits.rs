//! Every bound of the storage node — queues, batches, caches, files, timers — named and explained
//! in one place. Back-pressure comes from these bounds: when a queue is full its producer waits,
//! so a node with a backlog simply looks slow to the writer's quorum instead of growing without
//! limit.
//!
//! Bounds on what crosses the wire (frame size, records per message, truncations, peers) live in
//! `borealis_common::limits`; this file holds only what is private to the node.

use borealis_common::limits::WRITE_BATCH_BYTES_MAX;
use borealis_common::redo::{PAGE_SIZE, RECORD_HEADER_BYTES};

/// Batches (one `Write` request, or one gossip answer) waiting for the log writer. A connection
/// whose batch does not fit waits; that is the node's back-pressure on its writer.
pub const LOG_QUEUE_BATCHES_MAX: usize = 256;

/// Bytes of encoded entries the log writer gathers into one group commit (one `sync_data`).
/// A group always takes at least one batch, so a single batch larger than this still goes through.
/// Bigger groups amortise the sync further but delay the first batch of the group.
pub const GROUP_COMMIT_BYTES_MAX: usize = 2 * WRITE_BATCH_BYTES_MAX;

/// A log file is closed and the next one started once appending would take it past this size.
/// Files are never rewritten, so this only bounds the size of one file, not of the log.
pub const LOG_FILE_BYTES_MAX: u64 = 64 << 20;

/// Largest log entry (`kind` + body) accepted when a log file is scanned or read back. A redo
/// record's body is at most two pages (the decoder's own bound), so any longer length prefix is
/// garbage: a torn or corrupted entry, never a real one.
pub const LOG_ENTRY_BYTES_MAX: u32 = 64 * 1024;

/// Materialised page versions kept in memory (the newest one computed for each page, least
/// recently used evicted first). 4096 × 8 KiB = 32 MiB. A hot page is then rebuilt from its cached
/// version plus the few records after it, not from its whole chain.
pub const PAGE_CACHE_PAGES_MAX: usize = 4096;

/// Connections served at once. Further connections wait in the listener's backlog.
pub const CONNECTIONS_MAX: usize = 1024;

/// Requests in flight on one connection. The connection stops reading frames until one finishes.
pub const REQUESTS_IN_FLIGHT_PER_CONNECTION_MAX: usize = 256;

/// Responses gathered into one socket write.
pub const RESPONSE_WRITE_BYTES_MAX: usize = 1 << 20;

/// How often the gossip task asks a peer for records above this segment's SCL.
pub const GOSSIP_INTERVAL_MS: u64 = 200;

/// How long the gossip task waits for a TCP connection to a peer.
pub const GOSSIP_CONNECT_TIMEOUT_MS: u64 = 500;

/// How long the gossip task waits for a peer's answer before dropping the connection.
pub const GOSSIP_RESPONSE_TIMEOUT_MS: u64 = 5_000;

/// Records asked of a peer in one gossip request.
pub const GOSSIP_FETCH_RECORDS_MAX: u32 = 4096;

/// Reserve kept below [`WRITE_BATCH_BYTES_MAX`] when answering `FetchRecords`, for the frame and
/// message headers and the truncation list of the answer.
pub const FETCH_ANSWER_HEADROOM_BYTES: usize = 64 * 1024;

const _: () = assert!(LOG_ENTRY_BYTES_MAX as usize >= 1 + RECORD_HEADER_BYTES + 8 + 2 * PAGE_SIZE);
const _: () = assert!(LOG_FILE_BYTES_MAX > 2 * LOG_ENTRY_BYTES_MAX as u64);
const _: () = assert!(GROUP_COMMIT_BYTES_MAX >= WRITE_BATCH_BYTES_MAX);
const _: () = assert!(FETCH_ANSWER_HEADROOM_BYTES < WRITE_BATCH_BYTES_MAX);
const _: () = assert!(GOSSIP_CONNECT_TIMEOUT_MS < GOSSIP_RESPONSE_TIMEOUT_MS);

/// While a segment repairs itself from its peers (gossip answers come back full), a progress line
/// is logged at most this often.
pub const REPAIR_PROGRESS_LOG_MS: u64 = 1_000;

/// A repair (a run of gossip answers that each brought records) is reported when it ends only if
/// it copied at least this many records; shorter runs are the ordinary filling of small gaps.
pub const REPAIR_LOG_RECORDS_MIN: u64 = 1_000;

/// The scrub re-reads at most this many bytes of log entries per tick: with
/// [`SCRUB_INTERVAL_MS`] this bounds it to 5 MiB/s of disk reads, so it never competes with the
/// foreground for long (a 10 GiB segment is checked about every 35 minutes).
pub const SCRUB_BYTES_PER_TICK: u64 = 256 * 1024;

/// How often the scrub reads its next batch.
pub const SCRUB_INTERVAL_MS: u64 = 50;

/// Corrupt records asked for again from peers per gossip interval.
pub const GOSSIP_REPAIR_ASKS_MAX: usize = 64;

/// A page build applies at most about this many deltas on top of the newest base (or `Init`) at
/// or below its read point: once a page has this many deltas since its newest base, the
/// materialiser persists a new base at its newest version. Smaller chains make reads cheaper and
/// cost one page image (8 KiB) of writes per this many deltas.
pub const DELTA_CHAIN_MAX: u32 = 16;

/// How often the materialiser looks for pages due for a base (and for a checkpoint).
pub const MATERIALISE_INTERVAL_MS: u64 = 100;

/// Bases built per materialiser tick: with [`MATERIALISE_INTERVAL_MS`] this bounds the
/// background work to 640 page builds (5 MiB of images) a second, so it never competes with the
/// foreground for long; a node with a backlog simply keeps longer chains for a while.
pub const MATERIALISE_PAGES_PER_TICK: usize = 64;

/// A checkpoint is written once this many records were logged since the last one (or, with any
/// logged at all, every [`CHECKPOINT_INTERVAL_MS`]). A restart scans at most the log written since
/// the last checkpoint: about this many records, plus one interval's worth.
pub const CHECKPOINT_RECORDS_MIN: u64 = 50_000;

/// Held records per record logged that a checkpoint may cost (see `HousekeepingCore`).
pub const CHECKPOINT_HELD_PER_RECORD: u64 = 4;

/// The longest time between checkpoints while records are being logged (and as many were logged
/// as the held records require).
pub const CHECKPOINT_INTERVAL_MS: u64 = 10_000;

/// Held records a checkpoint may describe; a checkpoint file is at most about 42 bytes each.
/// Collection below PGMRPL keeps a node well under this; a node above it stops checkpointing
/// (and says so) rather than writing an unbounded file.
pub const CHECKPOINT_RECORDS_MAX: u64 = 1 << 26;

/// Default retention below PGMRPL, in LSNs: versions a backtrack or point-in-time restore to a
/// recent LSN would need, and the records a segment that lost its disk refills from its peers by
/// gossip. Small against a 10 GiB segment (about a million records).
pub const RETENTION_LSNS_DEFAULT: u64 = 1 << 20;

/// A segment that lags (or is gone) holds back collection on its peers by at most this many LSNs
/// below PGMRPL: beyond it, the lagging segment must be repaired by a copy, not by gossip.
pub const PEER_LAG_LSNS_MAX: u64 = 1 << 22;

/// A copy repair whose peer sent nothing new for this long (it died, or its answers are lost) is
/// given up; gossip then meets a collection floor again and starts a copy, maybe of another peer.
/// Well above [`GOSSIP_RESPONSE_TIMEOUT_MS`], so one slow answer does not end a copy.
pub const COPY_STALL_MS: u64 = 3 * GOSSIP_RESPONSE_TIMEOUT_MS;

/// An image file is closed and the next one started once appending would take it past this size.
pub const IMAGE_FILE_BYTES_MAX: u64 = 64 << 20;

const _: () = assert!(DELTA_CHAIN_MAX >= 1);
const _: () = assert!(CHECKPOINT_RECORDS_MIN < CHECKPOINT_RECORDS_MAX);
const _: () = assert!(IMAGE_FILE_BYTES_MAX > 2 * PAGE_SIZE as u64);
