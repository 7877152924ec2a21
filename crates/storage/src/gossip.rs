//! Gossip: a segment fills its own gaps from its peers (Aurora SIGMOD 2017 §4.2, step 4 of the
//! storage node's work: "identify gaps in the log and gossip with peers to fill them").
//!
//! This is the tokio driver of [`GossipCore`](crate::core::GossipCore), which decides what to ask
//! of whom; the simulator drives the same core. Every [`GOSSIP_INTERVAL_MS`] the task asks one
//! peer (round robin over the peers learned through `Open`) for the records of each PG above this
//! segment's SCL:
//!
//! ```text
//!   me ──FetchRecords{pg, after: SCL, upto: lowest pending − 1 (or MAX), max 4096}──▶ peer
//!      ◀──Records{epoch, writer, truncations, records}──
//!   newer term / unknown truncations ─▶ adopt them durably first (as Open would)
//!   records ─▶ the log writer's queue ─▶ synced, then chained like any write
//! ```
//!
//! An answer that brings records and moves the SCL means the segment is behind — a lost write, a
//! restart, or a lost disk refilled from nothing: the next question is then asked at once instead
//! of at the next interval, so a repair runs as fast as the peer, the network and our log can go
//! (in steady state answers are empty and gossip costs one small exchange per interval). While a
//! repair runs a line reports progress at most once per [`REPAIR_PROGRESS_LOG_MS`]; when it ends
//! (an answer brings nothing), a last line reports the SCL reached, the records and bytes copied
//! and the rate — if it copied at least [`REPAIR_LOG_RECORDS_MIN`] records.
//!
//! When there is no gap the question is still asked with `upto = MAX`: that is how a segment
//! that missed the latest writes (it was down, or partitioned) learns that a peer is ahead, and
//! an empty answer costs little. One connection per peer is kept open and re-made after a failure;
//! a dead peer costs one connect timeout per turn. Gossip shares the log writer's bounded queue
//! with writes but never holds the state lock across I/O, so it cannot stall the write path.

use crate::StorageError;
use crate::core::{GossipCore, Origin};
use crate::limits::{
    GOSSIP_CONNECT_TIMEOUT_MS, GOSSIP_INTERVAL_MS, GOSSIP_RESPONSE_TIMEOUT_MS,
    REPAIR_LOG_RECORDS_MIN, REPAIR_PROGRESS_LOG_MS,
};
use crate::node::Node;
use borealis_common::PgId;
use borealis_common::frame::{encode_frame, read_frame, write_frames};
use borealis_common::proto::{Request, Response};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::{Instant, MissedTickBehavior, interval, timeout};

/// A kept-open connection to one peer.
#[derive(Default)]
struct Peer {
    stream: Option<TcpStream>,
    /// The last exchange failed (so the next failure is not logged again).
    failing: bool,
}

/// A repair in progress: answers have been bringing records.
struct Repair {
    started: Instant,
    logged: Instant,
    records: u64,
    bytes: u64,
}

impl Repair {
    fn rate_mb_s(&self) -> f64 {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        self.bytes as f64 / 1e6 / secs
    }
}

/// Runs forever.
pub(crate) async fn run(node: Arc<Node>) -> Result<(), StorageError> {
    let mut peers: HashMap<String, Peer> = HashMap::new();
    let mut gossip = GossipCore::new();
    let mut req_id = 0u64;
    let started = Instant::now();
    let mut tick = interval(Duration::from_millis(GOSSIP_INTERVAL_MS));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut repairs: HashMap<PgId, Repair> = HashMap::new();
    let mut behind = false;
    loop {
        if behind {
            gossip.hurry();
            tokio::task::yield_now().await;
        } else {
            tick.tick().await;
        }
        behind = false;
        let now_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let asks = {
            let st = node.state();
            let addrs = st.core.peers();
            peers.retain(|a, _| addrs.contains(a));
            gossip.tick(now_ms, &st.core)
        };
        for ask in asks {
            req_id = req_id.wrapping_add(1);
            let addr = ask.peer.clone();
            let peer = peers.entry(addr.clone()).or_default();
            let asked_at = Instant::now();
            let resp = match exchange(peer, &addr, req_id, &ask.request()).await {
                Ok(r) => {
                    if peer.failing {
                        eprintln!("storage node {}: gossip with {addr} works again", node.id);
                    }
                    peer.failing = false;
                    r
                }
                Err(why) => {
                    if !peer.failing {
                        eprintln!("storage node {}: gossip with {addr} failed: {why}", node.id);
                    }
                    peer.failing = true;
                    peer.stream = None;
                    continue;
                }
            };
            let outcome = GossipCore::on_answer(&node.state().core, &ask, resp);
            if let Some((term, truncations)) = outcome.adopt
                && let Err((_, why)) = node.adopt(term, &truncations, None, None).await
            {
                eprintln!(
                    "storage node {}: cannot adopt what {addr} knows: {why}",
                    node.id
                );
                continue;
            }
            let bytes: u64 = outcome.records.iter().map(|r| r.encoded_len() as u64).sum();
            let count = outcome.records.len() as u64;
            if !outcome.records.is_empty()
                && let Err((_, why)) = node.submit(Origin::Gossip, outcome.records).await
            {
                eprintln!(
                    "storage node {}: records from {addr} not logged: {why}",
                    node.id
                );
                continue;
            }
            let scl = node.state().core.segment().scl(ask.pg);
            // Hurry only while it helps: an answer that did not move the SCL waits for the next
            // interval, so nothing here can spin.
            if count > 0 && scl > ask.after {
                behind = true;
                let now = Instant::now();
                let r = repairs.entry(ask.pg).or_insert(Repair {
                    started: asked_at,
                    logged: now,
                    records: 0,
                    bytes: 0,
                });
                r.records += count;
                r.bytes += bytes;
                if r.logged.elapsed() >= Duration::from_millis(REPAIR_PROGRESS_LOG_MS) {
                    r.logged = now;
                    eprintln!(
                        "storage node {}: repairing PG {} from peers: SCL {scl}, {} records ({} bytes) copied, {:.1} MB/s",
                        node.id,
                        ask.pg,
                        r.records,
                        r.bytes,
                        r.rate_mb_s()
                    );
                }
            } else if let Some(mut r) = repairs.remove(&ask.pg)
                && r.records + count >= REPAIR_LOG_RECORDS_MIN
            {
                r.records += count;
                r.bytes += bytes;
                eprintln!(
                    "storage node {}: PG {} repaired from peers: SCL {scl}, {} records ({} bytes) copied in {} ms, {:.1} MB/s",
                    node.id,
                    ask.pg,
                    r.records,
                    r.bytes,
                    r.started.elapsed().as_millis(),
                    r.rate_mb_s()
                );
            }
        }
    }
}

/// One request and its answer over the peer's kept-open connection.
async fn exchange(
    peer: &mut Peer,
    addr: &str,
    req_id: u64,
    req: &Request,
) -> Result<Response, String> {
    if peer.stream.is_none() {
        let s = timeout(
            Duration::from_millis(GOSSIP_CONNECT_TIMEOUT_MS),
            TcpStream::connect(addr),
        )
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| format!("connect: {e}"))?;
        let _ = s.set_nodelay(true);
        peer.stream = Some(s);
    }
    let Some(stream) = peer.stream.as_mut() else {
        return Err("no connection".into());
    };
    let (kind, body) = req.encode(req_id);
    let mut frame = Vec::new();
    encode_frame(kind, &body, &mut frame);
    timeout(Duration::from_millis(GOSSIP_RESPONSE_TIMEOUT_MS), async {
        write_frames(stream, &frame)
            .await
            .map_err(|e| e.to_string())?;
        loop {
            let Some((kind, body)) = read_frame(stream).await.map_err(|e| e.to_string())? else {
                return Err("connection closed".to_string());
            };
            let (id, resp) = Response::decode(kind, &body).map_err(|e| e.to_string())?;
            if id == req_id {
                return Ok(resp);
            }
            // An answer to an earlier request that timed out: skip it.
        }
    })
    .await
    .map_err(|_| "no answer in time".to_string())?
}
