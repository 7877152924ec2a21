//! The scrub: a background walk that re-reads every log entry the node holds, at a bounded rate,
//! and reports the ones that fail their check so they are repaired from peers (issue 3, item 7;
//! Aurora SIGMOD 2017 §3.3, step 8 of the storage node's work: "periodically validate CRC codes").
//!
//! This is the tokio/disk driver of [`ScrubCore`], which decides what to read next; see `core.rs`
//! ("Scrub") for the whole path:
//!
//! ```text
//!   every SCRUB_INTERVAL_MS: ScrubCore::tick ─▶ ≤ SCRUB_BYTES_PER_TICK of held records
//!        ─▶ positioned reads on the blocking pool, CRC, length and LSN checked
//!        ─▶ bad entry: Node::corrupt_found ─▶ gossip asks a peer for that record
//!        ─▶ the healthy copy is appended and synced like any fetched record; the segment
//!           points the record at the new entry ("record … repaired" in the log)
//! ```
//!
//! Disk bit rot and misdirected writes in the middle of a log are thereby found even in records
//! nobody reads, before a second failure could leave the PG without a good copy. The scrub never
//! holds the state lock across a read, and its reads are bounded per tick, so it cannot stall the
//! foreground. A pass that found corruption is summarised in one line.

use crate::StorageError;
use crate::core::ScrubCore;
use crate::limits::SCRUB_INTERVAL_MS;
use crate::log::{self, ReadError};
use crate::node::{Node, file_handles};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, MissedTickBehavior, interval};

/// Runs forever.
pub(crate) async fn run(node: Arc<Node>) -> Result<(), StorageError> {
    let mut scrub = ScrubCore::new();
    let started = Instant::now();
    let mut tick = interval(Duration::from_millis(SCRUB_INTERVAL_MS));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let (mut checked, mut bad_in_pass) = (0u64, 0u64);
    loop {
        tick.tick().await;
        let now_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (work, files) = {
            let st = node.state();
            let work = scrub.tick(now_ms, &st.core);
            let files = file_handles(&st, work.reads.iter().map(|(_, _, l)| l.file));
            (work, files)
        };
        if work.pass_done {
            if bad_in_pass > 0 {
                eprintln!(
                    "storage node {}: scrub pass done: {checked} records checked, {bad_in_pass} corrupted",
                    node.id
                );
            }
            (checked, bad_in_pass) = (0, 0);
        }
        if work.reads.is_empty() {
            continue;
        }
        checked += work.reads.len() as u64;
        let bad = tokio::task::spawn_blocking(move || {
            let mut bad = Vec::new();
            for (pg, lsn, loc) in work.reads {
                let why = match files.get(&loc.file) {
                    // A file that is gone was removed by nobody we know of: nothing to check.
                    None => continue,
                    Some(file) => match log::read_record(file, loc) {
                        Ok(r) if r.lsn == lsn && r.pg == pg => continue,
                        Ok(r) => format!(
                            "expected record {lsn} of PG {pg}, found {} of PG {}",
                            r.lsn, r.pg
                        ),
                        Err(e @ ReadError::Corrupted { .. }) => e.to_string(),
                        // An I/O error says nothing about the bytes; the next pass tries again.
                        Err(ReadError::Io(_)) => continue,
                    },
                };
                bad.push((pg, lsn, loc, why));
            }
            bad
        })
        .await;
        let bad = match bad {
            Ok(bad) => bad,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Cancelled: the runtime is shutting down, and the scrub ends with it.
            Err(_) => return Ok(()),
        };
        bad_in_pass += bad.len() as u64;
        for (pg, lsn, loc, why) in bad {
            node.corrupt_found(pg, lsn, loc, &format!("scrub: {why}"));
        }
    }
}
