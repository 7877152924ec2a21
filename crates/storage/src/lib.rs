//! The storage node: persists redo records, computes its SCL, gossips with its peers to fill
//! gaps, and serves pages as of any read point (GetPage@LSN).
//!
//! One storage node is one OS process holding one segment of every protection group (PG) of the
//! volume; six nodes in three availability zones hold the six segments of each PG, and the writer
//! counts a record durable once four of them acknowledged it (Aurora SIGMOD 2017 §2, §4.2). The
//! node never sees a page written: it receives redo records only and materialises pages on demand
//! by applying them ("the log is the database", §3.3).
//!
//! ```text
//!              Write / Open / GetPage / GetState             FetchRecords (peers)
//!                        │                                          │
//!                  ┌─────▼──────────── server (per connection) ─────▼─────┐
//!                  │ frames in → requests handled concurrently → frames out│
//!                  └─────┬──────────────────────┬──────────────────────────┘
//!             Write      │                      │ GetPage / FetchRecords
//!        ┌───────────────▼────┐                 ▼
//!        │ log writer (group  │   append,   ┌──────────────────────────────┐
//!        │ commit, one sync)  │──sync──────▶│ Segment: SCL, pending, page  │◀── positioned,
//!        └───────────────▲────┘  then insert│ index, truncations (sans-IO) │    CRC-checked
//!                        │                  └──────────────────────────────┘    log reads
//!            gossip task: FetchRecords from peers when behind or with a gap
//!
//!   data_dir/  log-00000001 log-00000002 …   append-only records  (docs/formats.md)
//!              meta                          epoch, truncations, peers (atomic replace)
//! ```
//!
//! Modules, bottom up: [`limits`] (every bound), [`segment`] (the in-memory state machine: SCL,
//! chain, page index, truncations), [`core`] (the sans-IO protocol core: the term rule, what to
//! log, when to acknowledge, how to build a page, gossip decisions — shared with the
//! deterministic simulator), `cache` (materialised page versions), [`log`] (the log files:
//! append, group sync, recovery scan, checked reads), [`meta`] (the meta file), `node` (the
//! tokio/disk driver of the core: request handling and the log writer), `gossip` (its gossip
//! driver), `scrub` (the background CRC scrub, whose finds gossip repairs from peers), `server`
//! (connections).
//!
//! Invariants, checked with `assert!` where they are established:
//! - a record is acknowledged, counted in the SCL, or served only after `sync_data` returned for
//!   its log entry;
//! - the SCL never decreases except when a truncation removes records;
//! - the adopted epoch never decreases, and is durable before any answer that depends on it;
//! - bytes read back from disk are CRC-checked every time; corrupt bytes are never served.
//!
//! In the background, `housekeeping` persists base images of pages whose delta chain grew long
//! ([`image`] files), collects page versions and records below the read horizon the writer
//! reports (PGMRPL), writes a [`checkpoint`] of the index, and deletes the log and image files it
//! no longer names. A restart loads the checkpoint and scans only the log written after it.
//!
//! A segment that falls below its peers' collection floor (an emptied disk, a joiner, a node down
//! for long) cannot catch up by gossip; it copies a peer's *cut* at its floor — the records and
//! base images every page needs there (`FetchBase`) — installs it behind a durable checkpoint and
//! gossips on from the floor: copy repair, see [`core`] and [`segment`].

mod cache;
pub mod checkpoint;
pub mod core;
mod gossip;
mod housekeeping;
pub mod image;
pub mod limits;
pub mod log;
pub mod meta;
mod node;
mod numbered;
mod scrub;
pub mod segment;
mod server;

use borealis_common::NodeId;
use std::path::PathBuf;
use thiserror::Error;

/// How to run one storage node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// This node's id; recorded in its meta file, which then refuses to be opened as another node.
    pub node: NodeId,
    /// Where the node keeps its log files and its meta file.
    pub data_dir: PathBuf,
    /// Retention below PGMRPL, in LSNs (default [`limits::RETENTION_LSNS_DEFAULT`]).
    pub retention_lsns: u64,
    /// How far below PGMRPL a lagging peer holds collection back, in LSNs (default
    /// [`limits::PEER_LAG_LSNS_MAX`]); beyond it the peer is repaired by a copy.
    pub peer_lag_lsns: u64,
}

impl NodeConfig {
    /// A node with the default retention and peer lag.
    #[must_use]
    pub fn new(node: NodeId, data_dir: PathBuf) -> NodeConfig {
        NodeConfig {
            node,
            data_dir,
            retention_lsns: limits::RETENTION_LSNS_DEFAULT,
            peer_lag_lsns: limits::PEER_LAG_LSNS_MAX,
        }
    }
}

/// Why a storage node could not start or had to stop.
#[derive(Debug, Error)]
pub enum StorageError {
    /// The disk failed us. After a failed append or sync the node stops: its file's state is
    /// unknown and only recovery from disk is safe.
    #[error("i/o error {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// Files the node cannot trust (the meta file fails its CRC, a log file has no header).
    #[error("corrupted data: {0}")]
    Corrupted(String),
    /// The data directory does not belong to this node.
    #[error("configuration: {0}")]
    Config(String),
}

/// Opens (recovers) the node's files under `data_dir`, then serves connections from `listener`
/// forever. Recovery completes before the first connection is accepted. Returns only on a fatal
/// error: recovery failed, or the log could not be appended to or synced. Dropping the returned
/// future stops every task the node started.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: NodeConfig,
) -> Result<(), StorageError> {
    server::serve(listener, config).await
}
