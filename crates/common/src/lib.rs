//! The shared vocabulary of Borealis.
//!
//! Everything that more than one layer must agree on byte for byte lives here, so that a client
//! never depends on a server crate:
//!
//! - [`ids`]: newtypes for every domain number (`Lsn`, `PageId`, `PgId`, `NodeId`, `Epoch`,
//!   `MembershipEpoch`, `TxnId`, `WriterId`).
//! - [`redo`]: the engine-agnostic redo record (page init / byte-range patch / commit) and the one
//!   function that applies a record to a page, used by storage nodes and by tests alike.
//! - [`codec`]: bounded little-endian encoding helpers; every length read from untrusted bytes is
//!   checked.
//! - [`frame`]: length + CRC32C framing for every TCP stream.
//! - [`proto`]: the storage protocol spoken between the compute, storage nodes and their peers.
//! - [`pagestore`]: the seam between the engine and the storage tier (`PageStore`), with an
//!   in-memory implementation for engine tests.
//! - [`limits`]: every bound on sizes and counts, in one place.
//! - [`fasthash`]: the hasher of the maps on hot paths (buffer pool, status cache, hash joins).
//!
//! The formats are described byte by byte in `docs/formats.md`.

pub mod codec;
pub mod fasthash;
pub mod frame;
pub mod ids;
pub mod limits;
pub mod pagestore;
pub mod proto;
pub mod redo;

pub use ids::{Epoch, Lsn, MembershipEpoch, NodeId, PageId, PgId, TxnId, WriterId};
pub use redo::{PAGE_SIZE, Patch, Payload, RedoRecord};
