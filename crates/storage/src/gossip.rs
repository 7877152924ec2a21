//! Gossip: a segment fills its own gaps from its peers (Aurora SIGMOD 2017 §4.2, step 4 of the
//! storage node's work: "identify gaps in the log and gossip with peers to fill them").
//!
//! This is the tokio driver of [`GossipCore`], which decides what to ask
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
//! A peer that collected above our SCL answers `BelowHorizon`: the records we lack are gone
//! there, so this PG is then repaired by a *copy* of that peer's cut (see `core.rs`, "Copy
//! repair"): `FetchBase` page by page, the records appended to our log through the log writer
//! (not inserted), the images to an image file, each answer synced before the next question;
//! when the cut is complete it is installed behind a durable checkpoint, and gossip goes on above
//! the copied floor. Progress is logged like a repair (bytes copied, MB/s), and once more when the
//! copy is installed.
//!
//! When there is no gap the question is still asked with `upto = MAX`: that is how a segment
//! that missed the latest writes (it was down, or partitioned) learns that a peer is ahead, and
//! an empty answer costs little. One connection per peer is kept open and re-made after a failure;
//! a dead peer costs one connect timeout per turn. Gossip shares the log writer's bounded queue
//! with writes but never holds the state lock across I/O, so it cannot stall the write path.

use crate::StorageError;
use crate::core::{CopyOutcome, CopyProgress, GossipAsk, GossipCore, Origin};
use crate::housekeeping;
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
            let mut st = node.state();
            for pg in gossip.stalled_copies(now_ms, &st.core) {
                if let Some(c) = st.core.abandon_copy(pg) {
                    eprintln!(
                        "storage node {}: copy of PG {pg} from {} given up: no progress",
                        node.id, c.peer
                    );
                }
            }
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
                    if ask.copy.is_some() && node.state().core.abandon_copy(ask.pg).is_some() {
                        eprintln!(
                            "storage node {}: copy of PG {} from {addr} given up: {why}",
                            node.id, ask.pg
                        );
                        repairs.remove(&ask.pg);
                    }
                    continue;
                }
            };
            if ask.copy.is_some() {
                if copy_step(&node, &mut gossip, &ask, resp, &mut repairs, asked_at).await? {
                    behind = true;
                }
                continue;
            }
            let outcome = GossipCore::on_answer(&node.state().core, &ask, resp);
            if let Some(peer) = outcome.copy_from {
                let mut st = node.state();
                if st.core.begin_copy(ask.pg, &peer) {
                    eprintln!(
                        "storage node {}: PG {}: {peer} collected the records above our SCL {}; copying its bases",
                        node.id,
                        ask.pg,
                        st.core.segment().scl(ask.pg)
                    );
                    behind = true;
                }
                continue;
            }
            if let Some((term, truncations)) = outcome.adopt
                && let Err((_, why)) = node.adopt(term, &truncations, None, None, None).await
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

/// Handles one answer to a copy question: checks it, adopts what it teaches, persists its
/// items, and installs the copy once complete. Returns whether to ask again at once.
async fn copy_step(
    node: &Arc<Node>,
    gossip: &mut GossipCore,
    ask: &GossipAsk,
    resp: Response,
    repairs: &mut HashMap<PgId, Repair>,
    asked_at: Instant,
) -> Result<bool, StorageError> {
    let pg = ask.pg;
    let outcome = GossipCore::on_base_answer(&node.state().core, ask, resp);
    let (adopt, answer) = match outcome {
        CopyOutcome::Abandon(why) => {
            if node.state().core.abandon_copy(pg).is_some() {
                eprintln!(
                    "storage node {}: copy of PG {pg} from {} given up: {why}",
                    node.id, ask.peer
                );
            }
            repairs.remove(&pg);
            return Ok(false);
        }
        CopyOutcome::Stale => return Ok(false),
        CopyOutcome::Persist { adopt, answer } => (adopt, answer),
    };
    if let Some((term, truncations)) = adopt
        && let Err((_, why)) = node.adopt(term, &truncations, None, None, None).await
    {
        eprintln!(
            "storage node {}: cannot adopt what {} knows: {why}",
            node.id, ask.peer
        );
        node.state().core.abandon_copy(pg);
        return Ok(false);
    }
    // Held from the first append to `copied`: a checkpoint taken in between would not name the
    // new entries, and could delete their files.
    let serial = node.checkpoint_lock.lock().await;
    let records: Vec<_> = answer.items.iter().map(|i| i.record.clone()).collect();
    let images: Vec<Vec<u8>> = answer
        .items
        .iter()
        .filter_map(|i| i.image.clone())
        .collect();
    let record_locs = match node.append_copied(records).await {
        Ok(l) => l,
        Err((_, why)) => {
            eprintln!("storage node {}: copied records not logged: {why}", node.id);
            node.state().core.abandon_copy(pg);
            return Ok(false);
        }
    };
    let image_locs = housekeeping::append_images(node, images).await?;
    let Some(asked) = ask.copy else {
        return Ok(false);
    };
    let progress = node
        .state()
        .core
        .copied(&ask.peer, asked, &answer, &record_locs, &image_locs);
    drop(serial);
    let bytes = node.state().core.copying(pg).map_or(0, |c| c.bytes);
    let now = Instant::now();
    let r = repairs.entry(pg).or_insert(Repair {
        started: asked_at,
        logged: now,
        records: 0,
        bytes: 0,
    });
    r.records += answer.items.len() as u64;
    r.bytes = bytes;
    match progress {
        CopyProgress::Ignored => Ok(false),
        CopyProgress::More => {
            if r.logged.elapsed() >= Duration::from_millis(REPAIR_PROGRESS_LOG_MS) {
                r.logged = now;
                eprintln!(
                    "storage node {}: copying PG {pg} from {}: floor {}, {} items, {} bytes copied, {:.1} MB/s",
                    node.id,
                    ask.peer,
                    answer.floor,
                    r.records,
                    r.bytes,
                    r.rate_mb_s()
                );
            }
            Ok(true)
        }
        CopyProgress::Complete => {
            let r = repairs.remove(&pg).unwrap_or(Repair {
                started: asked_at,
                logged: now,
                records: 0,
                bytes,
            });
            match housekeeping::install_copy(node, pg).await? {
                Ok(c) => {
                    gossip.follow(pg, &c.peer);
                    let scl = node.state().core.segment().scl(pg);
                    eprintln!(
                        "storage node {}: PG {pg} repaired by a copy from {}: floor {} (horizon {}), {} records and {} images ({} bytes) copied in {} ms, {:.1} MB/s, {} restarts; SCL now {scl}",
                        node.id,
                        c.peer,
                        c.floor,
                        c.horizon,
                        c.records.len(),
                        c.bases.len(),
                        c.bytes,
                        r.started.elapsed().as_millis(),
                        r.rate_mb_s(),
                        c.restarts
                    );
                }
                Err(why) => {
                    eprintln!(
                        "storage node {}: copy of PG {pg} from {} not installed: {why}",
                        node.id, ask.peer
                    );
                }
            }
            Ok(true)
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
