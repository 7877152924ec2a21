//! Every bound and period of the simulated world, in one place. Queues are bounded by the
//! protocol itself: a writer keeps one `Write` in flight per segment and a node one gossip
//! question per PG per interval, so a node's pending batches never exceed a few per sync.

use borealis_volume::limits::SEGMENTS_PER_PG;

/// The volume's original members: two per AZ, AZs a, b, c (nodes 0–5).
pub const MEMBERS_INITIAL: usize = SEGMENTS_PER_PG;
/// Spare storage nodes, two per AZ (nodes 6, 7, 8 in a, b, c, then 9, 10, 11): a lost member is
/// replaced by a spare of its AZ. Two, because a member merely unreachable for `SEGMENT_LOST_MS`
/// (a long partition, a slow restart) is replaced too and may take an AZ's first spare before a
/// member of that AZ is lost for good.
pub const SPARES: usize = 6;
/// Every storage node of the simulated world.
pub const NODES: usize = MEMBERS_INITIAL + SPARES;
/// Nodes lost for good in one run, at most: one per AZ.
pub const PERMANENT_LOSSES_MAX: usize = 3;
/// How often a writer's driver wakes up (sends, timeouts, workload).
pub const WRITER_TICK_MS: u64 = 10;
/// How often a recovering writer resends to segments that did not answer.
pub const RESEND_MS: u64 = 1_000;
/// How often recovery polls SCLs while waiting for VDL to reach a write quorum.
pub const POLL_MS: u64 = 100;
/// A recovering writer whose VDL does not reach a write quorum in this long gives up (as the real
/// one does when `Volume::open` times out) and a new writer starts: the records its VDL needed may
/// have existed only on a disk lost since.
pub const POLL_GIVE_UP_MS: u64 = 10_000;
/// A liveness violation: a CPL allocated this long ago is still not durable although at most two
/// segments were unavailable the whole time.
pub const PROGRESS_WINDOW_MS: u64 = 20_000;
/// How long the final phase may take to converge once everything is healed.
pub const SETTLE_MS_MAX: u64 = 60_000;
/// Distinct pages the workload writes.
pub const PAGES: u64 = 8;
/// Writers started while faults are injected, at most (bounds the run; healing and the final
/// recovery may start more).
pub const WRITERS_MAX: usize = 8;
/// A simulated node checkpoints after this many logged records (or every
/// [`SIM_CHECKPOINT_MS`]), far more often than a real one, so that restarts from checkpoints, and
/// the scan of only the log after them, happen in most seeds.
pub const SIM_CHECKPOINT_RECORDS: u64 = 40;
/// See [`SIM_CHECKPOINT_RECORDS`].
pub const SIM_CHECKPOINT_MS: u64 = 1_000;

/// Protection groups a simulated volume grows to on the seeds that grow (pages of `PAGES` in
/// PGs of `PAGES_PER_PG_GROWING`).
pub const PGS_GROWING: usize = 3;
pub const PAGES_PER_PG_GROWING: u64 = 3;
const _: () = assert!(PAGES.div_ceil(PAGES_PER_PG_GROWING) as usize == PGS_GROWING);
