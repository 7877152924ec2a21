//! The compute's client of the storage tier: the volume.
//!
//! The writer instance sees the volume as a [`PageStore`]: it appends the redo of each MTR and
//! reads pages at a read point. Behind that seam, per §2 of the design and the Aurora papers:
//!
//! ```text
//!  engine ──append_mtr──▶ LSN allocation (dense, bounded by VDL + LAL)
//!                           │ records encoded once, kept until trimmed
//!                           ▼
//!            ┌── segment task ×6: one Write in flight; the next batch fills meanwhile ──┐
//!            │   (boxcarring: no timer; a batch leaves the moment the previous is acked) │
//!            └──────────────▶ storage node: persist, fsync, ack with SCL ────────────────┘
//!                           │
//!                           ▼
//!            DurabilityTracker: SCL ×6 → PGCL → VCL → VDL  ──watch──▶ commits waiting on VDL
//! ```
//!
//! Reads go to ONE segment whose SCL covers the read point (never a quorum read); if it is slow,
//! dead or behind, the next one is tried. Opening a volume is recovery ([`recovery`]): raise the
//! epoch on a write quorum (fencing any older writer), compute VDL from a read quorum, durably
//! truncate everything above it, and resume allocation above the truncated range. No redo replay.
//!
//! The decisions are sans-IO and shared with the deterministic simulator: [`writer::WriterCore`]
//! (LSN allocation, LAL, send cursors, boxcarring, acknowledgements → VDL, fencing) and the pure
//! steps of [`recovery`]. This file is their tokio driver: connections, timeouts, a condition
//! variable for LAL waits and a watch channel for VDL.
//!
//! A volume is a chain of protection groups: it starts as PG 0 on six storage nodes and grows by
//! itself (`Volume::grow`): a write of a page beyond the last PG places the next PGs two per AZ
//! over every storage node it knows, opens their segments, stores the new map on PG 0, and only
//! then ships their records. Pages are never sent to storage, only redo.
//!
//! Repair: the driver runs one task per writer slot (six members and one joining node) and ticks
//! the core's membership policy ([`writer::WriterCore::tick`]); a member unreachable for
//! `SEGMENT_LOST_MS` is replaced by a configured spare of its AZ through the dual-quorum state,
//! and the progress of the joining node (records and estimated bytes it holds, MB/s) and every
//! membership change are logged.

pub mod conn;
pub mod limits;
pub mod map;
pub mod quorum;
pub mod reads;
pub mod recovery;
pub mod vcl;
pub mod writer;

use borealis_common::pagestore::{PageStore, PageVersion, RecordDraft, StoreError};
use borealis_common::proto::{
    self, ErrorCode, Membership, Request, Response, SegmentState, StoredMap, Term,
};
use borealis_common::{Epoch, Lsn, PageId, PgId, WriterId};
use conn::Conn;
use limits::{
    GET_PAGE_RETRY_MS_MAX, GET_PAGE_TIMEOUT_MS, GROW_WAIT_MS, READ_QUORUM,
    RECONNECT_BACKOFF_MS_MAX, RECOVERY_ALL_SEGMENTS_WAIT_MS, SEGMENTS_PER_PG, SLOTS, WRITE_QUORUM,
    WRITE_TIMEOUT_MS,
};
use reads::ReadRouter;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::sync::{Notify, watch};
use writer::{AppendError, MembershipChange, Recovered, RecoveredPg, Spare, WriterCore};

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum VolumeError {
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("this writer has been fenced by a newer epoch")]
    Fenced,
    /// A node refused recovery's `Open` because it adopted a newer membership than the one
    /// recovery chose (a replacement completed meanwhile). [`Volume::open`] starts recovery again
    /// on meeting it; it escapes only as `Unavailable` when time runs out.
    #[error("a newer membership was adopted during recovery: {0}")]
    MembershipChanged(String),
}

impl From<VolumeError> for StoreError {
    fn from(e: VolumeError) -> Self {
        match e {
            VolumeError::Unavailable(m) => StoreError::Unavailable(m),
            VolumeError::Fenced => StoreError::Fenced,
            VolumeError::MembershipChanged(m) => StoreError::Unavailable(m),
        }
    }
}

/// Where the volume lives.
#[derive(Clone, Debug)]
pub struct VolumeConfig {
    /// The six storage nodes holding the segments of PG 0, `host:port`. Order is placement: two
    /// per AZ (node `i` in AZ `i / 2`).
    pub nodes: Vec<String>,
    /// More storage nodes new protection groups may be placed on (auto-growth), `host:port`.
    /// Node `k` is in AZ `k mod 3`: list one per AZ in AZ order, then the next one per AZ, and so
    /// on. New PGs spread over `nodes` and these, two per AZ on the least loaded.
    pub more: Vec<String>,
    /// Spare storage nodes a lost segment may be replaced by, `host:port`. Spare `k` is in AZ
    /// `k mod 3` (the AZ of member slots `2k mod 6` and `2k+1 mod 6`): list one per AZ in AZ order,
    /// then the next one per AZ, and so on.
    pub spares: Vec<String>,
    /// Pages per protection group when the volume is created (a volume keeps the size it was
    /// created with: its map says it).
    pub pages_per_pg: u64,
    /// The writer's send log holds at most about twice this many bytes: this many of records
    /// above VDL (the byte LAL: past it, allocation waits for storage) and as many of durable
    /// records kept for lagging segments.
    pub send_log_bytes: u64,
}

impl VolumeConfig {
    /// Six nodes, no more nodes or spares, protection groups of the default size.
    #[must_use]
    pub fn new(nodes: Vec<String>) -> VolumeConfig {
        VolumeConfig {
            nodes,
            more: Vec::new(),
            spares: Vec::new(),
            pages_per_pg: limits::PAGES_PER_PG_DEFAULT,
            send_log_bytes: limits::LAL_BYTES,
        }
    }

    /// Every node recovery asks: the first six, the others, the spares (each once).
    #[must_use]
    pub fn known_nodes(&self) -> Vec<String> {
        let mut known: Vec<String> = Vec::new();
        for a in self.nodes.iter().chain(&self.more).chain(&self.spares) {
            if !known.contains(a) {
                known.push(a.clone());
            }
        }
        known
    }

    /// The nodes new protection groups are placed on, with their AZs: the six, the more nodes
    /// and the spares.
    #[must_use]
    pub fn placement_nodes(&self) -> Vec<map::StorageNode> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, addr)| map::StorageNode {
                addr: addr.clone(),
                az: i / 2,
            })
            .chain(
                self.more
                    .iter()
                    .enumerate()
                    .map(|(k, addr)| map::StorageNode {
                        addr: addr.clone(),
                        az: k % map::AZS_PER_PG,
                    }),
            )
            // Spares too: once a replacement dropped a member, its AZ may have no other node.
            .chain(
                self.spares
                    .iter()
                    .enumerate()
                    .map(|(k, addr)| map::StorageNode {
                        addr: addr.clone(),
                        az: k % map::AZS_PER_PG,
                    }),
            )
            .collect()
    }
}

/// Health of one segment, for monitoring.
#[derive(Clone, Debug)]
pub struct SegmentStatus {
    pub addr: String,
    pub connected: bool,
    pub scl: Lsn,
}

struct Shared {
    term: Term,
    state: Mutex<WriterCore>,
    /// Signalled when VDL advances or the volume is fenced (LAL waiters).
    vdl_cv: Condvar,
    vdl: AtomicU64,
    vdl_tx: watch::Sender<Lsn>,
    new_records: Notify,
    fenced: AtomicBool,
    /// The connection of each flat slot (see [`WriterCore`]).
    conns: Mutex<Vec<Option<Arc<Conn>>>>,
    /// Read latency and the hedge delay.
    reads: Mutex<ReadRouter>,
    /// The origin of the `now_ms` the writer core is given.
    started: Instant,
    config: VolumeConfig,
    /// Serialises growth.
    grow_lock: Mutex<()>,
}

/// A fresh writer identity: never 0, different for every process and every open. Without a
/// random-number crate, std's randomly keyed hasher mixes the time and the process id.
fn new_writer_id() -> WriterId {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    WriterId(h.finish().max(1))
}

/// A handle on the volume; cheap to clone.
#[derive(Clone)]
pub struct Volume {
    shared: Arc<Shared>,
    handle: tokio::runtime::Handle,
}

fn peers_of(nodes: &[String], me: &str) -> Vec<String> {
    nodes.iter().filter(|a| *a != me).cloned().collect()
}

/// One request on a fresh connection, for recovery.
async fn call_once(addr: &str, req: Request, timeout_ms: u64) -> Result<Response, String> {
    let conn = Conn::connect(addr).await.map_err(|e| e.to_string())?;
    let id = conn.next_id();
    let (kind, body) = req.encode(id);
    conn.call(id, kind, &body, timeout_ms)
        .await
        .map_err(|e| e.to_string())
}

/// Sends `req(i)` to every node at once; returns the states of those that answered with one,
/// waiting for all for a short while and for at least `needed` until `deadline`.
async fn gather_states(
    nodes: &[String],
    needed: usize,
    deadline: Instant,
    req: impl Fn(usize) -> Request,
) -> Result<Vec<(usize, SegmentState)>, VolumeError> {
    let mut set = tokio::task::JoinSet::new();
    for (i, addr) in nodes.iter().enumerate() {
        let addr = addr.clone();
        let r = req(i);
        set.spawn(async move { (i, call_once(&addr, r, WRITE_TIMEOUT_MS).await) });
    }
    let mut states = Vec::new();
    let mut errors = Vec::new();
    let all_by = Instant::now() + Duration::from_millis(RECOVERY_ALL_SEGMENTS_WAIT_MS);
    loop {
        let wait_until = if states.len() >= needed {
            all_by
        } else {
            deadline.max(all_by)
        };
        let now = Instant::now();
        if now >= wait_until {
            break;
        }
        match tokio::time::timeout(wait_until - now, set.join_next()).await {
            Ok(Some(Ok((i, Ok(Response::State(s)))))) => states.push((i, s)),
            Ok(Some(Ok((
                _,
                Ok(Response::Error {
                    code: ErrorCode::StaleEpoch,
                    message,
                }),
            )))) => {
                eprintln!("volume: recovery fenced: {message}");
                return Err(VolumeError::Fenced);
            }
            Ok(Some(Ok((
                i,
                Ok(Response::Error {
                    code: ErrorCode::StaleMembership,
                    message,
                }),
            )))) => {
                return Err(VolumeError::MembershipChanged(format!(
                    "{}: {message}",
                    nodes[i]
                )));
            }
            Ok(Some(Ok((i, other)))) => errors.push(format!("{}: {other:?}", nodes[i])),
            Ok(Some(Err(e))) => errors.push(e.to_string()),
            Ok(None) | Err(_) => break,
        }
    }
    if states.len() < needed {
        return Err(VolumeError::Unavailable(format!(
            "{} of {} storage nodes answered, {needed} needed ({})",
            states.len(),
            nodes.len(),
            errors.join("; ")
        )));
    }
    Ok(states)
}

/// Recovery's first step for one PG: asks every known node for its state of `pg` until a write
/// quorum of the membership chosen from the answers ([`recovery::choose_membership`], with
/// `configured` as the fallback) has answered. Returns the states and the membership.
async fn learn_pg(
    known: &[String],
    pg: PgId,
    configured: &[String],
    deadline: Instant,
) -> Result<(Vec<SegmentState>, Membership), VolumeError> {
    loop {
        match gather_states(known, WRITE_QUORUM, deadline, |_| Request::GetState {
            epoch: Epoch(0),
            pg,
        })
        .await
        {
            Ok(s) => {
                let answered: Vec<String> = s.iter().map(|(i, _)| known[*i].clone()).collect();
                let states: Vec<SegmentState> = s.into_iter().map(|(_, s)| s).collect();
                let m = recovery::choose_membership(&states, configured);
                if recovery::quorum_of(&m, &answered, WRITE_QUORUM) || Instant::now() >= deadline {
                    return Ok((states, m));
                }
                eprintln!(
                    "volume: waiting for a write quorum of PG {pg}'s membership {}",
                    m.epoch
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(VolumeError::Unavailable(m)) if Instant::now() < deadline => {
                eprintln!("volume: waiting for storage: {m}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

impl Volume {
    /// Opens the volume as its writer: recovery, then the segment tasks start. Retries until a
    /// write quorum of storage nodes answers or `wait` has passed.
    ///
    /// A recovery that meets a membership newer than the one it chose (a node answers its `Open`
    /// with `StaleMembership`: a replacement completed between its first step and its `Open`)
    /// starts again from the first step, which then sees the newer membership; the new attempt
    /// takes a higher term, fencing the abandoned one, which wrote nothing.
    pub async fn open(config: VolumeConfig, wait: Duration) -> Result<Volume, VolumeError> {
        assert_eq!(
            config.nodes.len(),
            SEGMENTS_PER_PG,
            "a volume has six segments"
        );
        let deadline = Instant::now() + wait;
        let started = Instant::now();
        loop {
            match Volume::recover(&config, deadline, started).await {
                Err(VolumeError::MembershipChanged(m)) if Instant::now() < deadline => {
                    eprintln!("volume: recovery met a newer membership ({m}): starting again");
                }
                Err(VolumeError::MembershipChanged(m)) => {
                    return Err(VolumeError::Unavailable(m));
                }
                other => return other,
            }
        }
    }

    /// One attempt at recovery (see [`open`](Self::open)).
    async fn recover(
        config: &VolumeConfig,
        deadline: Instant,
        started: Instant,
    ) -> Result<Volume, VolumeError> {
        let known = config.known_nodes();

        // 1. Learn the current epoch, memberships, truncations and the volume map from whoever
        //    answers: every node we know of, spares included (a replacement may have made one a
        //    member). PG 0 first: its segments keep the map, which names every other PG.
        let (states0, membership0) = learn_pg(&known, writer::PG, &config.nodes, deadline).await?;
        let map = recovery::choose_map(&states0);
        let (pages_per_pg, map_pgs) = match map {
            Some(m) => {
                if m.pages_per_pg != config.pages_per_pg {
                    eprintln!(
                        "volume: protection groups hold {} pages (as the volume was created), not the {} configured",
                        m.pages_per_pg, config.pages_per_pg
                    );
                }
                (m.pages_per_pg, m.pgs)
            }
            None => (
                config.pages_per_pg,
                vec![Membership::initial(config.nodes.clone())],
            ),
        };
        let mut memberships = vec![membership0];
        let mut all_states = states0;
        for (k, first) in map_pgs.iter().enumerate().skip(1) {
            let pg = PgId(u32::try_from(k).expect("PG id"));
            let (states, m) = learn_pg(&known, pg, &first.members, deadline).await?;
            memberships.push(m);
            all_states.extend(states);
        }
        let pgs = memberships.len();
        let term = recovery::choose_term(&all_states, new_writer_id());
        let mut truncations = recovery::known_truncations(&all_states);
        let stored = StoredMap {
            pages_per_pg,
            pgs: map_pgs.clone(),
        };

        // 2. Raise the term on a write quorum of every quorum set of every PG's membership: from
        //    here on no older writer can make anything durable. The states returned after
        //    adoption are the recovery input.
        let open_all = |truncs: Vec<proto::Truncation>| {
            let memberships = memberships.clone();
            let stored = stored.clone();
            async move {
                let mut out = Vec::with_capacity(memberships.len());
                for (k, m) in memberships.iter().enumerate() {
                    let pg = PgId(u32::try_from(k).expect("PG id"));
                    let nodes: Vec<String> =
                        writer::slot_addrs(m).iter().flatten().cloned().collect();
                    let own: Vec<proto::Truncation> =
                        truncs.iter().filter(|t| t.pg == pg).copied().collect();
                    let map = (pg == writer::PG).then(|| stored.clone());
                    let answered =
                        gather_states(&nodes, WRITE_QUORUM, deadline, |i| Request::Open {
                            epoch: term.epoch,
                            writer: term.writer,
                            pg,
                            peers: peers_of(&nodes, &nodes[i]),
                            truncations: own.clone(),
                            membership: m.clone(),
                            me: nodes[i].clone(),
                            map: map.clone(),
                        })
                        .await?;
                    let addrs: Vec<String> =
                        answered.iter().map(|(i, _)| nodes[*i].clone()).collect();
                    if !recovery::quorum_of(m, &addrs, WRITE_QUORUM) {
                        return Err(VolumeError::Unavailable(format!(
                            "no write quorum of every quorum set of PG {pg}'s membership {} answered",
                            m.epoch
                        )));
                    }
                    out.push(
                        answered
                            .into_iter()
                            .map(|(i, s)| (nodes[i].clone(), s))
                            .collect::<Vec<_>>(),
                    );
                }
                Ok::<_, VolumeError>(out)
            }
        };
        let adopted = open_all(truncations.clone()).await?;
        // The map may have grown between step 1 and our term's adoption (a writer we are
        // fencing placed a PG meanwhile). A map stored on a write quorum of PG 0 before our
        // term was is in some of these answers; one stored after cannot be (the nodes that
        // adopted our term refuse the older writer). Recover again with it: planning without
        // a PG that holds records would half-apply its MTRs.
        let fenced_map = recovery::choose_map(
            &adopted[0]
                .iter()
                .map(|(_, s)| s.clone())
                .collect::<Vec<_>>(),
        );
        if fenced_map.is_some_and(|m| m.version() > pgs) {
            return Err(VolumeError::MembershipChanged(
                "the volume grew during recovery".into(),
            ));
        }
        let (vdl, upto, tails) = if pgs == 1 {
            let fenced: Vec<SegmentState> = adopted[0].iter().map(|(_, s)| s.clone()).collect();
            assert!(fenced.len() >= READ_QUORUM, "recovery needs a read quorum");
            let plan = recovery::plan(term, &truncations, &fenced);
            truncations = plan.truncations;
            (
                plan.recovery.vdl,
                plan.truncation.upto,
                vec![plan.recovery.vdl],
            )
        } else {
            let fenced: Vec<SegmentState> = adopted
                .iter()
                .flat_map(|pg| pg.iter().map(|(_, s)| s.clone()))
                .collect();
            let plan = recovery::plan_volume(term, &truncations, &fenced, pgs);
            truncations = plan.truncations;
            (plan.vdl, plan.upto, plan.tails)
        };

        // 3. Durably truncate everything above VDL in every PG, tagged with our epoch.
        let truncated = open_all(truncations.clone()).await?;

        // 4. Records at or below VDL found only in the read quorum must reach a write quorum
        //    (storage gossip fills the gaps) before anything is built on them: in each PG, every
        //    record up to its tail at VDL.
        let mut scls = vec![[Lsn::ZERO; SLOTS]; pgs];
        for (k, answered) in truncated.iter().enumerate() {
            for (addr, s) in answered {
                if let Some(slot) = recovery::slot_of(&memberships[k], addr) {
                    scls[k][slot] = recovery::scl_of(s, PgId(u32::try_from(k).expect("PG id")));
                }
            }
        }
        for (k, m) in memberships.iter().enumerate() {
            let pg = PgId(u32::try_from(k).expect("PG id"));
            let nodes: Vec<String> = writer::slot_addrs(m).iter().flatten().cloned().collect();
            while !recovery::vdl_on_write_quorum(m, scls[k], tails[k]) {
                if Instant::now() >= deadline {
                    return Err(VolumeError::Unavailable(format!(
                        "PG {pg}: recovered VDL {vdl} (the PG's tail {}) is not yet on a write quorum (SCLs {:?})",
                        tails[k], scls[k]
                    )));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                if let Ok(states) =
                    gather_states(&nodes, READ_QUORUM, deadline, |_| Request::GetState {
                        epoch: term.epoch,
                        pg,
                    })
                    .await
                {
                    if states.iter().any(|(_, s)| recovery::overtaken(term, s)) {
                        eprintln!("volume: recovery overtaken by a newer writer");
                        return Err(VolumeError::Fenced);
                    }
                    for (i, s) in states {
                        if let Some(slot) = recovery::slot_of(m, &nodes[i]) {
                            scls[k][slot] = recovery::scl_of(&s, pg);
                        }
                    }
                }
            }
        }
        eprintln!(
            "volume: recovered term {term}: VDL {vdl}, truncated ({vdl}, {upto}], {pgs} protection group(s) of {pages_per_pg} pages, PG 0 membership {} {:?}, in {} ms",
            memberships[0].epoch,
            memberships[0].members,
            started.elapsed().as_millis()
        );
        let mut core = WriterCore::new(Recovered {
            term,
            truncations,
            vdl,
            upto,
            pages_per_pg,
            pgs: memberships
                .into_iter()
                .zip(scls)
                .zip(tails)
                .map(|((membership, scls), tail)| RecoveredPg {
                    membership,
                    scls,
                    tail,
                })
                .collect(),
            map: map_pgs,
        });
        core.set_spares(
            config
                .spares
                .iter()
                .enumerate()
                .map(|(k, addr)| Spare {
                    addr: addr.clone(),
                    az: k % (SEGMENTS_PER_PG / 2),
                })
                .collect(),
        );
        core.set_send_log_bytes(config.send_log_bytes);

        let slots = core.slots();
        let (vdl_tx, _) = watch::channel(vdl);
        let shared = Arc::new(Shared {
            term,
            state: Mutex::new(core),
            vdl_cv: Condvar::new(),
            vdl: AtomicU64::new(vdl.0),
            vdl_tx,
            new_records: Notify::new(),
            fenced: AtomicBool::new(false),
            conns: Mutex::new(vec![None; slots]),
            reads: Mutex::new(ReadRouter::new()),
            started: Instant::now(),
            config: config.clone(),
            grow_lock: Mutex::new(()),
        });
        for g in 0..slots {
            tokio::spawn(segment_loop(shared.clone(), g));
        }
        tokio::spawn(membership_loop(shared.clone()));
        // Open for business once a write quorum of every PG's segments is connected.
        loop {
            let ready = {
                let st = shared.state.lock().expect("poisoned");
                (0..st.pg_count())
                    .all(|k| st.membership_on_quorum_of(PgId(u32::try_from(k).expect("PG id"))))
            };
            if ready {
                break;
            }
            if Instant::now() >= deadline {
                return Err(VolumeError::Unavailable(
                    "fewer than four segments of some protection group connected".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(Volume {
            shared,
            handle: tokio::runtime::Handle::current(),
        })
    }

    /// Grows the volume to hold `page` (see docs/architecture.md, "Several protection
    /// groups"): places each new PG two per AZ over the storage nodes, opens its six segments
    /// (a write quorum must adopt them), stores the new map on a write quorum of PG 0, and only
    /// then lets the writer core send the new PG records. Blocks the appending thread meanwhile.
    async fn grow(&self, page: PageId) -> Result<(), StoreError> {
        let shared = &self.shared;
        let (mut map, dropped, term, pg0) = {
            let st = shared.state.lock().expect("poisoned");
            if st.pg_of(page).is_some() {
                return Ok(());
            }
            let pgs: Vec<Membership> = (0..st.pg_count())
                .map(|k| {
                    st.membership_of(PgId(u32::try_from(k).expect("PG id")))
                        .clone()
                })
                .collect();
            (
                map::VolumeMap::from_parts(st.pages_per_pg(), pgs),
                st.spares_and_dropped().1.to_vec(),
                st.term(),
                st.membership().clone(),
            )
        };
        let nodes = shared.config.placement_nodes();
        let added = map
            .grow_to(page, &nodes, &|n| !dropped.contains(&n.addr))
            .map_err(|e| StoreError::Unavailable(format!("the volume cannot grow: {e}")))?;
        let deadline = Instant::now() + Duration::from_millis(GROW_WAIT_MS);
        // Sends each request to its address; a write quorum of `m` must answer.
        let quorum = |m: Membership, reqs: Vec<(String, Request)>| async move {
            let addrs: Vec<String> = reqs.iter().map(|(a, _)| a.clone()).collect();
            let answered = gather_states(&addrs, WRITE_QUORUM, deadline, |i| reqs[i].1.clone())
                .await
                .map_err(StoreError::from)?;
            if answered.iter().any(|(_, s)| recovery::overtaken(term, s)) {
                return Err(StoreError::Fenced);
            }
            let who: Vec<String> = answered.iter().map(|(i, _)| addrs[*i].clone()).collect();
            if !recovery::quorum_of(&m, &who, WRITE_QUORUM) {
                return Err(StoreError::Unavailable(format!(
                    "no write quorum of membership {} answered while growing",
                    m.epoch
                )));
            }
            Ok(answered
                .into_iter()
                .map(|(i, s)| (addrs[i].clone(), s))
                .collect::<Vec<_>>())
        };
        for &pg in &added {
            let m = map.membership(pg).expect("just added").clone();
            let reqs = shared
                .state
                .lock()
                .expect("poisoned")
                .new_pg_open_requests(pg, &m);
            if let Err(e) = quorum(m, reqs).await {
                if e == StoreError::Fenced {
                    shared.fence();
                }
                return Err(e);
            }
        }
        // The new map on a write quorum of PG 0 (of each quorum set during a replacement):
        // recovery reads it from any read quorum of PG 0.
        let stored = {
            let st = shared.state.lock().expect("poisoned");
            let mut stored = st.stored_map();
            stored.pgs.extend(
                added
                    .iter()
                    .map(|&pg| map.membership(pg).expect("just added").clone()),
            );
            stored
        };
        let reqs = shared
            .state
            .lock()
            .expect("poisoned")
            .map_open_requests(&stored);
        let answered = match quorum(pg0.clone(), reqs).await {
            Ok(a) => a,
            Err(e) => {
                if e == StoreError::Fenced {
                    shared.fence();
                }
                return Err(e);
            }
        };
        let holding: Vec<String> = answered
            .into_iter()
            .filter(|(_, s)| {
                s.map
                    .as_ref()
                    .is_some_and(|m| m.version() >= stored.version())
            })
            .map(|(a, _)| a)
            .collect();
        if !recovery::quorum_of(&pg0, &holding, WRITE_QUORUM) {
            return Err(StoreError::Unavailable(
                "the grown volume map is not on a write quorum of PG 0".into(),
            ));
        }
        let first_new = {
            let mut st = shared.state.lock().expect("poisoned");
            let first = st.slots();
            for &pg in &added {
                let m = map.membership(pg).expect("just added").clone();
                eprintln!(
                    "volume: grew to {} protection groups: PG {pg} (pages {} to {}) on {:?}",
                    pg.0 + 1,
                    u64::from(pg.0) * map.pages_per_pg(),
                    (u64::from(pg.0) + 1) * map.pages_per_pg() - 1,
                    m.members
                );
                let got = st.add_pg(m);
                assert_eq!(got, pg, "PGs are added in order");
            }
            first
        };
        let slots = shared.state.lock().expect("poisoned").slots();
        shared.conns.lock().expect("poisoned").resize(slots, None);
        for g in first_new..slots {
            tokio::spawn(segment_loop(shared.clone(), g));
        }
        Ok(())
    }

    /// The epoch this writer holds.
    #[must_use]
    pub fn epoch(&self) -> Epoch {
        self.shared.term.epoch
    }

    /// The term (epoch and writer id) this writer holds.
    #[must_use]
    pub fn term(&self) -> Term {
        self.shared.term
    }

    /// Volume durable LSN.
    #[must_use]
    pub fn vdl(&self) -> Lsn {
        Lsn(self.shared.vdl.load(Ordering::Acquire))
    }

    #[must_use]
    pub fn is_fenced(&self) -> bool {
        self.shared.fenced.load(Ordering::Acquire)
    }

    /// Waits until VDL ≥ `lsn`: the commit at `lsn` is durable on a write quorum.
    pub async fn wait_durable(&self, lsn: Lsn) -> Result<(), VolumeError> {
        let mut rx = self.shared.vdl_tx.subscribe();
        loop {
            if *rx.borrow_and_update() >= lsn {
                return Ok(());
            }
            if self.is_fenced() {
                return Err(VolumeError::Fenced);
            }
            if rx.changed().await.is_err() {
                return Err(VolumeError::Unavailable("volume closed".into()));
            }
        }
    }

    /// Per-segment health: PG by PG, the six members by slot, then the joining node during a
    /// replacement.
    #[must_use]
    pub fn status(&self) -> Vec<SegmentStatus> {
        let st = self.shared.state.lock().expect("poisoned");
        (0..st.slots())
            .filter_map(|i| {
                st.slot_addr(i).map(|addr| SegmentStatus {
                    addr,
                    connected: st.is_connected(i),
                    scl: st.scl(i),
                })
            })
            .collect()
    }

    /// The number of protection groups.
    #[must_use]
    pub fn pg_count(&self) -> usize {
        self.shared.state.lock().expect("poisoned").pg_count()
    }

    /// Every PG's current membership, by PG id.
    #[must_use]
    pub fn memberships(&self) -> Vec<Membership> {
        let st = self.shared.state.lock().expect("poisoned");
        (0..st.pg_count())
            .map(|k| {
                st.membership_of(PgId(u32::try_from(k).expect("PG id")))
                    .clone()
            })
            .collect()
    }

    /// PG 0's current membership.
    #[must_use]
    pub fn membership(&self) -> Membership {
        self.shared
            .state
            .lock()
            .expect("poisoned")
            .membership()
            .clone()
    }

    async fn get_page_async(
        &self,
        page: PageId,
        read_point: Lsn,
    ) -> Result<Option<PageVersion>, StoreError> {
        // A segment may be reconnecting: keep trying the others, and retry for a bounded time.
        let deadline = Instant::now() + Duration::from_millis(GET_PAGE_RETRY_MS_MAX);
        // Storage keeps what this read needs (PGMRPL) until it is done.
        self.shared
            .state
            .lock()
            .expect("poisoned")
            .read_started(read_point);
        let result = loop {
            match self.get_page_once(page, read_point).await {
                Err(StoreError::Unavailable(_)) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                other => break other,
            }
        };
        self.shared
            .state
            .lock()
            .expect("poisoned")
            .read_finished(read_point);
        result
    }

    /// One round of a page read: to the first segment in [`ReadRouter::order`]; hedged to the
    /// next segment covering the read point if no answer came within the hedge delay; on an
    /// error answer, on to the next segment. The first page answer wins.
    async fn get_page_once(
        &self,
        page: PageId,
        read_point: Lsn,
    ) -> Result<Option<PageVersion>, StoreError> {
        // The page's PG, and the PG point: its segments' SCLs are compared with the PG's last
        // record at or below VDL, not with the read point.
        let (target, scls, addrs): (_, [Lsn; SLOTS], [Option<String>; SLOTS]) = {
            let st = self.shared.state.lock().expect("poisoned");
            let Some(target) = st.read_target(page) else {
                // Beyond the last PG: nothing ever wrote this page.
                return Ok(None);
            };
            let base = target.pg.0 as usize * SLOTS;
            (
                target,
                std::array::from_fn(|i| st.scl(base + i)),
                std::array::from_fn(|i| st.slot_addr(base + i)),
            )
        };
        let base = target.pg.0 as usize * SLOTS;
        let pg_point = target.pg_point;
        let hedge_delay =
            Duration::from_micros(self.shared.reads.lock().expect("poisoned").hedge_delay_us());
        let mut candidates: std::collections::VecDeque<(usize, Arc<Conn>)> = {
            let conns = self.shared.conns.lock().expect("poisoned");
            ReadRouter::order(page, pg_point, &scls)
                .into_iter()
                .filter_map(|i| {
                    let conn = conns.get(base + i).cloned().flatten();
                    conn.filter(|c| c.is_alive()).map(|c| (i, c))
                })
                .collect()
        };
        let (epoch, writer) = (self.shared.term.epoch, self.shared.term.writer);
        let (pg, membership) = (target.pg, target.membership);
        let call = |i: usize, conn: Arc<Conn>| async move {
            let id = conn.next_id();
            let (kind, body) = Request::GetPage {
                epoch,
                writer,
                pg,
                membership,
                page,
                read_point,
                pg_point,
            }
            .encode(id);
            let started = Instant::now();
            let answer = conn.call(id, kind, &body, GET_PAGE_TIMEOUT_MS).await;
            (i, answer, started.elapsed())
        };
        let mut in_flight = tokio::task::JoinSet::new();
        let mut hedged = false;
        let mut last_error = String::from("no segment connected");
        loop {
            if in_flight.is_empty() {
                let Some((i, conn)) = candidates.pop_front() else {
                    break;
                };
                in_flight.spawn(call(i, conn));
            }
            // Hedge once, to a segment known to cover the read point.
            let hedge_to = (!hedged && in_flight.len() == 1)
                .then(|| candidates.front().filter(|(i, _)| scls[*i] >= pg_point))
                .flatten()
                .is_some();
            let done = tokio::select! {
                done = in_flight.join_next() => done,
                () = tokio::time::sleep(hedge_delay), if hedge_to => {
                    hedged = true;
                    if let Some((i, conn)) = candidates.pop_front() {
                        in_flight.spawn(call(i, conn));
                    }
                    continue;
                }
            };
            let Some(done) = done else { continue };
            let (i, answer, took) =
                done.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
            match answer {
                Ok(Response::Page { lsn, image }) => {
                    self.shared
                        .reads
                        .lock()
                        .expect("poisoned")
                        .observe(u64::try_from(took.as_micros()).unwrap_or(u64::MAX));
                    // The other read, if any, is abandoned (its answer will be dropped).
                    in_flight.abort_all();
                    return Ok(image.map(|image| {
                        assert!(
                            lsn <= read_point,
                            "storage returned a version above the read point"
                        );
                        PageVersion { lsn, image }
                    }));
                }
                Ok(Response::Error {
                    code: ErrorCode::StaleEpoch,
                    ..
                }) => {
                    self.shared.fence();
                    return Err(StoreError::Fenced);
                }
                Ok(other) => last_error = format!("{:?}: {other:?}", addrs[i]),
                Err(e) => last_error = format!("{:?}: {e}", addrs[i]),
            }
        }
        Err(StoreError::Unavailable(format!(
            "page {page} at {read_point}: {last_error}"
        )))
    }
}

/// Raises the published VDL (the atomic and the watch) to `vdl` if it is higher; never lowers
/// it. Returns whether it rose.
fn raise_vdl(published: &AtomicU64, tx: &watch::Sender<Lsn>, vdl: Lsn) -> bool {
    if vdl.0 <= published.fetch_max(vdl.0, Ordering::AcqRel) {
        return false;
    }
    tx.send_if_modified(|v| {
        let higher = vdl > *v;
        if higher {
            *v = vdl;
        }
        higher
    });
    true
}

impl Shared {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// VDL advanced: wake commit waiters and LAL waiters.
    ///
    /// Segment tasks compute VDL under the state lock but publish it after releasing it, so
    /// two of them may publish out of order: the published VDL only ever moves up. (A lower
    /// value landing after a higher one would let a snapshot taken after an acknowledged
    /// commit miss that commit.)
    fn publish(&self, vdl: Option<Lsn>) {
        if let Some(vdl) = vdl
            && raise_vdl(&self.vdl, &self.vdl_tx, vdl)
        {
            self.vdl_cv.notify_all();
        }
    }

    fn fence(&self) {
        self.state.lock().expect("poisoned").fence();
        if !self.fenced.swap(true, Ordering::AcqRel) {
            eprintln!("volume: fenced: a newer writer holds the volume; this writer stops writing");
        }
        self.vdl_tx.send_modify(|_| {});
        self.vdl_cv.notify_all();
        self.new_records.notify_waiters();
    }
}

impl Volume {
    /// Runs `work` on the volume's runtime while the calling thread blocks. The caller may
    /// itself be driving a runtime (a client connection's thread runs its statements on its
    /// own, see the pgwire crate): `work` is never polled there, where that runtime's
    /// cooperative budget and deferred wake-ups would stall it.
    fn wait_on<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv().unwrap_or_else(|_| {
            Err(StoreError::Unavailable(
                "the volume's runtime stopped".into(),
            ))
        })
    }
}

impl PageStore for Volume {
    fn durable_lsn(&self) -> Lsn {
        self.vdl()
    }

    fn get_page(&self, page: PageId, read_point: Lsn) -> Result<Option<PageVersion>, StoreError> {
        let volume = self.clone();
        self.wait_on(async move { volume.get_page_async(page, read_point).await })
    }

    fn append_mtr(&self, drafts: Vec<RecordDraft>) -> Result<Lsn, StoreError> {
        assert!(!drafts.is_empty(), "an MTR has at least one record");
        let shared = &self.shared;
        // A page beyond the last PG grows the volume first (auto-growth), outside the lock.
        let beyond = {
            let st = shared.state.lock().expect("poisoned");
            drafts
                .iter()
                .map(|d| d.page)
                .filter(|&p| st.pg_of(p).is_none())
                .max()
        };
        if let Some(page) = beyond {
            let _serial = shared.grow_lock.lock().expect("poisoned");
            let volume = self.clone();
            self.wait_on(async move { volume.grow(page).await })?;
        }
        let mut st = shared.state.lock().expect("poisoned");
        // LAL back-pressure: never allocate above VDL + LAL.
        loop {
            match st.room_for(drafts.len()) {
                Ok(()) => break,
                Err(AppendError::Fenced) => return Err(StoreError::Fenced),
                Err(AppendError::LalExceeded) => {
                    st = shared
                        .vdl_cv
                        .wait_timeout(st, Duration::from_millis(500))
                        .expect("poisoned")
                        .0;
                }
                Err(AppendError::Grow { .. }) => unreachable!("room_for does not look at pages"),
            }
        }
        let first = match st.append_mtr(drafts) {
            Ok(first) => first,
            Err(AppendError::Fenced) => return Err(StoreError::Fenced),
            Err(AppendError::LalExceeded) => unreachable!("room was checked under the lock"),
            Err(AppendError::Grow { page }) => unreachable!("page {page} was placed above"),
        };
        drop(st);
        shared.new_records.notify_waiters();
        Ok(first)
    }
}

/// Ticks the core's membership policy, logs every change and, during a replacement, the joining
/// node's progress every second: records and (estimated) bytes it holds, and the rate in MB/s.
/// The line that ends a replacement gives the total and the mean rate over the whole repair.
async fn membership_loop(shared: Arc<Shared>) {
    /// A replacement under way: when it began, and the bytes held at the last progress line.
    struct Repair {
        began: Instant,
        last_bytes: u64,
        last_log: Instant,
    }
    let mut repair: Option<Repair> = None;
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if shared.fenced.load(Ordering::Acquire) {
            return;
        }
        let now_ms = shared.now_ms();
        let (change, progress, held, vdl) = {
            let mut st = shared.state.lock().expect("poisoned");
            let change = st.tick(now_ms);
            // What the node that took a slot holds, for the closing line.
            let held = match &change {
                Some(MembershipChange::Completed { pg, slot, .. }) => {
                    let records = st.records_up_to(st.scl(pg.0 as usize * SLOTS + *slot));
                    Some((records, st.mean_record_bytes().map(|m| m * records)))
                }
                _ => None,
            };
            (change, st.repair_progress(), held, st.vdl())
        };
        match change {
            Some(MembershipChange::Began {
                pg,
                membership,
                slot,
                lost,
                joiner,
            }) => {
                eprintln!(
                    "volume: PG {pg} membership {}: segment {lost} (slot {slot}) lost; {joiner} joins in its place (dual quorum: 4/6 of both sets)",
                    membership.epoch
                );
                repair = Some(Repair {
                    began: Instant::now(),
                    last_bytes: 0,
                    last_log: Instant::now(),
                });
            }
            Some(MembershipChange::Completed {
                pg,
                membership,
                slot,
                dropped,
                joiner,
            }) => {
                let secs = repair
                    .as_ref()
                    .map_or(0.0, |r| r.began.elapsed().as_secs_f64());
                let (records, bytes) = held.unwrap_or((0, None));
                eprintln!(
                    "volume: PG {pg} membership {}: {joiner} caught up (SCL ≥ VDL {vdl}) and took slot {slot}; {dropped} dropped; repair copied {records} records, {}, in {secs:.1} s ({})",
                    membership.epoch,
                    fmt_mb(bytes),
                    fmt_rate(bytes, secs)
                );
                repair = None;
            }
            None => {}
        }
        if let (Some(p), Some(r)) = (progress, repair.as_mut())
            && r.last_log.elapsed() >= Duration::from_secs(1)
        {
            let secs = r.last_log.elapsed().as_secs_f64();
            let bytes = p.bytes.unwrap_or(0);
            let delta = p.bytes.map(|b| b.saturating_sub(r.last_bytes));
            eprintln!(
                "volume: repair of PG {}: {} holds {} records ({}) up to LSN {} of VDL {} ({}, {:.1} s since the start)",
                p.pg,
                p.joiner,
                p.records,
                fmt_mb(p.bytes),
                p.scl,
                p.vdl,
                fmt_rate(delta, secs),
                r.began.elapsed().as_secs_f64()
            );
            r.last_bytes = bytes;
            r.last_log = Instant::now();
        }
    }
}

/// Estimated bytes, in MB (`≈? MB` when there is no estimate: this writer wrote nothing yet).
fn fmt_mb(bytes: Option<u64>) -> String {
    bytes.map_or_else(
        || "≈? MB".to_string(),
        |b| format!("≈{:.2} MB", b as f64 / 1e6),
    )
}

/// A rate in MB/s over `secs`.
fn fmt_rate(bytes: Option<u64>, secs: f64) -> String {
    match bytes {
        Some(b) if secs > 0.0 => format!("{:.2} MB/s", b as f64 / 1e6 / secs),
        _ => "? MB/s".to_string(),
    }
}

/// Keeps one segment fed: connect, open at our epoch, then send whatever is new, one `Write` in
/// flight at a time (the next batch fills while it flies).
async fn segment_loop(shared: Arc<Shared>, i: usize) {
    let pg = writer::pg_of_slot(i);
    let mut backoff_ms = 50;
    loop {
        if shared.fenced.load(Ordering::Acquire) {
            return;
        }
        let Some(addr) = shared.state.lock().expect("poisoned").slot_addr(i) else {
            // An empty slot (no replacement in progress): look again later.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let conn = match Conn::connect(&addr).await {
            Ok(c) => c,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(backoff_ms)).await;
                backoff_ms = (backoff_ms * 2).min(RECONNECT_BACKOFF_MS_MAX);
                continue;
            }
        };
        let id = conn.next_id();
        let open = shared.state.lock().expect("poisoned").open_request(i);
        let Some(open) = open.filter(|o| matches!(o, Request::Open { me, .. } if *me == addr))
        else {
            continue;
        };
        let (kind, body) = open.encode(id);
        let (scl, membership) = match conn.call(id, kind, &body, WRITE_TIMEOUT_MS).await {
            Ok(Response::State(s)) => (recovery::scl_of(&s, pg), s.membership.epoch),
            Ok(Response::Error {
                code: ErrorCode::StaleEpoch,
                ..
            }) => {
                shared.fence();
                return;
            }
            other => {
                eprintln!("volume: segment {addr}: open failed: {other:?}");
                tokio::time::sleep(Duration::from_millis(backoff_ms)).await;
                backoff_ms = (backoff_ms * 2).min(RECONNECT_BACKOFF_MS_MAX);
                continue;
            }
        };
        backoff_ms = 50;
        let (advanced, ok) = {
            let mut st = shared.state.lock().expect("poisoned");
            let advanced = st.connected(i, scl, membership);
            (advanced, st.is_connected(i))
        };
        shared.publish(advanced);
        if !ok {
            // Opened with a membership that changed meanwhile: open again.
            continue;
        }
        shared.conns.lock().expect("poisoned")[i] = Some(conn.clone());
        eprintln!(
            "volume: segment {addr} of PG {pg} connected (SCL {scl}, membership {membership})"
        );
        loop {
            let notified = shared.new_records.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if shared.fenced.load(Ordering::Acquire) {
                return;
            }
            let id = conn.next_id();
            let now_ms = shared.now_ms();
            let batch = {
                let mut st = shared.state.lock().expect("poisoned");
                if !st.is_connected(i) || st.slot_addr(i).as_deref() != Some(addr.as_str()) {
                    // The membership changed: open again (perhaps another node, for this slot).
                    break;
                }
                st.next_write(i, id, now_ms)
            };
            let Some(batch) = batch else {
                let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
                if !conn.is_alive() {
                    break;
                }
                continue;
            };
            let frame = proto::encode_write_frame(
                id,
                shared.term.epoch,
                shared.term.writer,
                batch.pg,
                batch.membership,
                batch.horizon,
                batch.records.iter().map(|e| e.bytes.as_slice()),
            );
            drop(batch);
            match conn.call_frame(id, frame, WRITE_TIMEOUT_MS).await {
                Ok(Response::WriteAck { scls }) => {
                    let scl = scls
                        .iter()
                        .find(|(p, _)| *p == pg)
                        .map_or(Lsn::ZERO, |(_, s)| *s);
                    let advanced = shared
                        .state
                        .lock()
                        .expect("poisoned")
                        .write_acked(i, id, scl);
                    shared.publish(advanced);
                }
                Ok(Response::Error {
                    code: ErrorCode::StaleEpoch,
                    ..
                }) => {
                    shared.fence();
                    return;
                }
                other => {
                    eprintln!("volume: segment {addr}: write failed: {other:?}");
                    shared.state.lock().expect("poisoned").write_failed(i, id);
                    break;
                }
            }
        }
        {
            let mut st = shared.state.lock().expect("poisoned");
            if st.slot_addr(i).as_deref() == Some(addr.as_str()) {
                st.disconnected(i);
            }
        }
        shared.conns.lock().expect("poisoned")[i] = None;
        eprintln!("volume: segment {addr} of PG {pg} disconnected");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two segment tasks publish the VDLs they computed in the opposite order: the published
    /// VDL stays at the higher one.
    #[test]
    fn published_vdl_never_goes_back() {
        let published = AtomicU64::new(0);
        let (tx, rx) = watch::channel(Lsn::ZERO);
        assert!(raise_vdl(&published, &tx, Lsn(120)));
        assert!(!raise_vdl(&published, &tx, Lsn(100)));
        assert!(!raise_vdl(&published, &tx, Lsn(120)));
        assert_eq!(published.load(Ordering::Acquire), 120);
        assert_eq!(*rx.borrow(), Lsn(120));
        assert!(raise_vdl(&published, &tx, Lsn(121)));
        assert_eq!(*rx.borrow(), Lsn(121));
    }
}
