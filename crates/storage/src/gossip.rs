//! Gossip: a segment fills its own gaps from its peers (Aurora SIGMOD 2017 §4.2, step 4 of the
//! storage node's work: "identify gaps in the log and gossip with peers to fill them").
//!
//! Every [`GOSSIP_INTERVAL_MS`] the task asks one peer (round robin over the peers learned through
//! `Open`) for the records of each PG above this segment's SCL:
//!
//! ```text
//!   me ──FetchRecords{pg, after: SCL, upto: lowest pending − 1 (or MAX), max 4096}──▶ peer
//!      ◀──Records{epoch, truncations, records}──
//!   newer epoch / unknown truncations ─▶ adopt them durably first (as Open would)
//!   records ─▶ the log writer's queue ─▶ synced, then chained like any write
//! ```
//!
//! When there is no gap the question is still asked with `upto = MAX`: that is how a segment
//! that missed the latest writes (it was down, or partitioned) learns that a peer is ahead, and
//! an empty answer costs little. One connection per peer is kept open and re-made after a failure;
//! a dead peer costs one connect timeout per turn. Gossip shares the log writer's bounded queue
//! with writes but never holds the state lock across I/O, so it cannot stall the write path.

use crate::StorageError;
use crate::limits::{
    GOSSIP_CONNECT_TIMEOUT_MS, GOSSIP_FETCH_RECORDS_MAX, GOSSIP_INTERVAL_MS,
    GOSSIP_RESPONSE_TIMEOUT_MS,
};
use crate::node::{Node, Origin};
use borealis_common::frame::{encode_frame, read_frame, write_frames};
use borealis_common::proto::{Request, Response};
use borealis_common::{Lsn, PgId};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::{MissedTickBehavior, interval, timeout};

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
    let mut turn = 0usize;
    let mut req_id = 0u64;
    let mut tick = interval(Duration::from_millis(GOSSIP_INTERVAL_MS));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (addrs, wants) = {
            let st = node.state();
            let wants: Vec<(PgId, Lsn, Option<Lsn>)> = st
                .segment
                .pg_ids()
                .into_iter()
                .map(|pg| (pg, st.segment.scl(pg), st.segment.lowest_pending(pg)))
                .collect();
            (st.peers.clone(), wants)
        };
        peers.retain(|a, _| addrs.contains(a));
        if addrs.is_empty() {
            continue;
        }
        for (pg, scl, lowest_pending) in wants {
            let addr = &addrs[turn % addrs.len()];
            turn = turn.wrapping_add(1);
            // With a gap, ask only for what fills it. If the lowest pending record is right above
            // the SCL yet does not chain, it is off the chain: ask for everything.
            let upto = match lowest_pending {
                Some(l) if Lsn(l.0 - 1) > scl => Lsn(l.0 - 1),
                _ => Lsn(u64::MAX),
            };
            req_id = req_id.wrapping_add(1);
            let req = Request::FetchRecords {
                pg,
                after: scl,
                upto,
                max_records: GOSSIP_FETCH_RECORDS_MAX,
            };
            let peer = peers.entry(addr.clone()).or_default();
            let resp = match exchange(peer, addr, req_id, &req).await {
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
            let Response::Records {
                epoch,
                truncations,
                records,
            } = resp
            else {
                // A refusal (the peer found corruption, say): another peer is asked next turn.
                continue;
            };
            let (my_epoch, unknown) = {
                let st = node.state();
                let known = st.segment.truncations();
                (st.epoch, truncations.iter().any(|t| !known.contains(t)))
            };
            if epoch > my_epoch || unknown {
                // Truncations are durable decisions of some writer: safe to learn from anyone.
                if let Err((_, why)) = node.adopt(epoch.max(my_epoch), &truncations, None).await {
                    eprintln!(
                        "storage node {}: cannot adopt what {addr} knows: {why}",
                        node.id
                    );
                    continue;
                }
            }
            let records: Vec<_> = records
                .into_iter()
                .filter(|r| r.pg == pg && r.lsn > scl && r.lsn <= upto)
                .collect();
            if records.is_empty() {
                continue;
            }
            if let Err((_, why)) = node.submit(Origin::Gossip, records).await {
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
