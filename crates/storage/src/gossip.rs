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
//! When there is no gap the question is still asked with `upto = MAX`: that is how a segment
//! that missed the latest writes (it was down, or partitioned) learns that a peer is ahead, and
//! an empty answer costs little. One connection per peer is kept open and re-made after a failure;
//! a dead peer costs one connect timeout per turn. Gossip shares the log writer's bounded queue
//! with writes but never holds the state lock across I/O, so it cannot stall the write path.

use crate::StorageError;
use crate::core::{GossipCore, Origin};
use crate::limits::{GOSSIP_CONNECT_TIMEOUT_MS, GOSSIP_INTERVAL_MS, GOSSIP_RESPONSE_TIMEOUT_MS};
use crate::node::Node;
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

/// Runs forever.
pub(crate) async fn run(node: Arc<Node>) -> Result<(), StorageError> {
    let mut peers: HashMap<String, Peer> = HashMap::new();
    let mut gossip = GossipCore::new();
    let mut req_id = 0u64;
    let started = Instant::now();
    let mut tick = interval(Duration::from_millis(GOSSIP_INTERVAL_MS));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
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
                && let Err((_, why)) = node.adopt(term, &truncations, None).await
            {
                eprintln!(
                    "storage node {}: cannot adopt what {addr} knows: {why}",
                    node.id
                );
                continue;
            }
            if outcome.records.is_empty() {
                continue;
            }
            if let Err((_, why)) = node.submit(Origin::Gossip, outcome.records).await {
                eprintln!(
                    "storage node {}: records from {addr} not logged: {why}",
                    node.id
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
