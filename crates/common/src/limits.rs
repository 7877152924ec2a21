//! Every bound on sizes and counts that crosses a process boundary, named and explained in one
//! place. Bytes from the network or the disk are checked against these before anything is
//! allocated for them.

use crate::redo::PAGE_SIZE;

/// Largest frame accepted on any storage-protocol stream. A write batch is bounded by
/// [`WRITE_BATCH_BYTES_MAX`] plus headers, and a page response by one page, so 32 MiB leaves ample
/// room while keeping a malicious length from allocating gigabytes.
pub const FRAME_BYTES_MAX: u32 = 32 << 20;

/// Largest encoded batch of records the writer sends in one `Write` request. The writer keeps a
/// batch filling while the previous one is in flight (boxcarring), up to this size.
pub const WRITE_BATCH_BYTES_MAX: usize = 4 << 20;

/// Bytes of items one `FetchBase` answer carries at most (a copy of a peer's bases and held
/// records, page by page). An answer always carries at least one item (at most one record and
/// one image, well under a frame), so this bounds answers far below [`FRAME_BYTES_MAX`] while
/// keeping a copy to a few round trips per 4 MiB.
pub const COPY_ANSWER_BYTES_MAX: u32 = 4 << 20;

/// Most records a `Write` or `Records` message may carry.
pub const RECORDS_PER_MESSAGE_MAX: u32 = 64 * 1024;

/// Most patches in one patch record: one per byte of the page would already be absurd.
pub const PATCHES_PER_RECORD_MAX: u16 = (PAGE_SIZE / 2) as u16;

/// Most peers a segment can be told about (six segments per PG, plus room for membership changes).
pub const PEERS_MAX: u32 = 16;

/// Most truncation ranges carried in an `Open` handshake.
pub const TRUNCATIONS_MAX: u32 = 1024;

/// Most protection groups reported in one state response.
pub const PGS_MAX: u32 = 1 << 16;

/// Most protection groups a volume map lists: 16,384 PGs of 10 GiB are 160 TiB, above
/// Aurora's 128 TiB.
pub const MAP_PGS_MAX: u32 = 1 << 14;

/// Most record descriptors above SCL reported per PG in a state response (recovery input).
pub const TAIL_RECORDS_MAX: u32 = 1 << 20;

/// Longest string (error message, peer address) accepted in a message.
pub const STRING_BYTES_MAX: u32 = 64 * 1024;

const _: () = assert!(PAGE_SIZE.is_multiple_of(512));
const _: () = assert!(PAGE_SIZE <= u16::MAX as usize);
const _: () = assert!(WRITE_BATCH_BYTES_MAX < FRAME_BYTES_MAX as usize);
const _: () = assert!(COPY_ANSWER_BYTES_MAX < FRAME_BYTES_MAX / 2);

/// Nodes named by a membership: the six members and at most one joining node.
pub const MEMBERS_MAX: u32 = 7;
