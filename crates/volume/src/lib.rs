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
//! Today a volume is one protection group on six storage nodes; auto-growth to more PGs is the
//! storage-tier issue's work. Pages are never sent to storage, only redo.
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
use borealis_common::proto::{self, ErrorCode, Membership, Request, Response, SegmentState, Term};
use borealis_common::{Epoch, Lsn, PageId, WriterId};
use conn::Conn;
use limits::{
    GET_PAGE_RETRY_MS_MAX, GET_PAGE_TIMEOUT_MS, READ_QUORUM, RECONNECT_BACKOFF_MS_MAX,
    RECOVERY_ALL_SEGMENTS_WAIT_MS, SEGMENTS_PER_PG, SLOTS, WRITE_QUORUM, WRITE_TIMEOUT_MS,
};
use reads::ReadRouter;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::sync::{Notify, watch};
use writer::{AppendError, MembershipChange, Recovered, Spare, WriterCore};

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
    /// The six storage nodes holding the segments, `host:port`. Order is placement: two per AZ.
    pub nodes: Vec<String>,
    /// Spare storage nodes a lost segment may be replaced by, `host:port`. Spare `k` is in AZ
    /// `k mod 3` (the AZ of member slots `2k mod 6` and `2k+1 mod 6`): list one per AZ in AZ order,
    /// then the next one per AZ, and so on.
    pub spares: Vec<String>,
}

impl VolumeConfig {
    /// Six nodes, no spares.
    #[must_use]
    pub fn new(nodes: Vec<String>) -> VolumeConfig {
        VolumeConfig {
            nodes,
            spares: Vec::new(),
        }
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
    conns: Vec<Mutex<Option<Arc<Conn>>>>,
    /// Read latency and the hedge delay.
    reads: Mutex<ReadRouter>,
    /// The origin of the `now_ms` the writer core is given.
    started: Instant,
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
        let mut known = config.nodes.clone();
        known.extend(config.spares.iter().cloned());

        // 1. Learn the current epoch, membership and truncations from whoever answers: every
        //    node we know of, spares included (a replacement may have made one a member).
        let (states_only, membership) = loop {
            match gather_states(&known, WRITE_QUORUM, deadline, |_| Request::GetState {
                epoch: Epoch(0),
                pg: writer::PG,
            })
            .await
            {
                Ok(s) => {
                    let answered: Vec<String> = s.iter().map(|(i, _)| known[*i].clone()).collect();
                    let states: Vec<SegmentState> = s.into_iter().map(|(_, s)| s).collect();
                    let m = recovery::choose_membership(&states, &config.nodes);
                    if recovery::quorum_of(&m, &answered, WRITE_QUORUM)
                        || Instant::now() >= deadline
                    {
                        break (states, m);
                    }
                    eprintln!(
                        "volume: waiting for a write quorum of membership {}",
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
        };
        let term = recovery::choose_term(&states_only, new_writer_id());
        let mut truncations = recovery::known_truncations(&states_only);
        let slots = writer::slot_addrs(&membership);
        let nodes: Vec<String> = slots.iter().flatten().cloned().collect();
        let slot_of = |addr: &str| recovery::slot_of(&membership, addr).expect("a member");

        // 2. Raise the term on a write quorum of every quorum set of the membership: from here on
        //    no older writer can make anything durable. The states returned after adoption are
        //    the recovery input.
        let open = |truncs: Vec<proto::Truncation>| {
            let nodes = nodes.clone();
            let membership = membership.clone();
            move |i: usize| Request::Open {
                epoch: term.epoch,
                writer: term.writer,
                pg: writer::PG,
                peers: peers_of(&nodes, &nodes[i]),
                truncations: truncs.clone(),
                membership: membership.clone(),
                me: nodes[i].clone(),
                map: None,
            }
        };
        let quorum_check = |answered: &[(usize, SegmentState)]| -> Result<(), VolumeError> {
            let addrs: Vec<String> = answered.iter().map(|(i, _)| nodes[*i].clone()).collect();
            if recovery::quorum_of(&membership, &addrs, WRITE_QUORUM) {
                Ok(())
            } else {
                Err(VolumeError::Unavailable(format!(
                    "no write quorum of every quorum set of membership {} answered",
                    membership.epoch
                )))
            }
        };
        let adopted =
            gather_states(&nodes, WRITE_QUORUM, deadline, open(truncations.clone())).await?;
        quorum_check(&adopted)?;
        let fenced_states: Vec<SegmentState> = adopted.into_iter().map(|(_, s)| s).collect();
        assert!(
            fenced_states.len() >= READ_QUORUM,
            "recovery needs a read quorum"
        );
        let plan = recovery::plan(term, &truncations, &fenced_states);
        let vdl = plan.recovery.vdl;
        let upto = plan.truncation.upto;

        // 3. Durably truncate everything above VDL, tagged with our epoch.
        truncations = plan.truncations;
        let truncated =
            gather_states(&nodes, WRITE_QUORUM, deadline, open(truncations.clone())).await?;
        quorum_check(&truncated)?;

        // 4. Records at or below VDL found only in the read quorum must reach a write quorum
        //    (storage gossip fills the gaps) before anything is built on them.
        let mut scls = [Lsn::ZERO; SLOTS];
        for (i, s) in &truncated {
            scls[slot_of(&nodes[*i])] = recovery::pg_scl(s);
        }
        while !recovery::vdl_on_write_quorum(&membership, scls, vdl) {
            if Instant::now() >= deadline {
                return Err(VolumeError::Unavailable(format!(
                    "recovered VDL {vdl} is not yet on a write quorum (SCLs {scls:?})"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Ok(states) =
                gather_states(&nodes, READ_QUORUM, deadline, |_| Request::GetState {
                    epoch: term.epoch,
                    pg: writer::PG,
                })
                .await
            {
                if states.iter().any(|(_, s)| recovery::overtaken(term, s)) {
                    eprintln!("volume: recovery overtaken by a newer writer");
                    return Err(VolumeError::Fenced);
                }
                for (i, s) in states {
                    scls[slot_of(&nodes[i])] = recovery::pg_scl(&s);
                }
            }
        }
        eprintln!(
            "volume: recovered term {term}: VDL {vdl}, truncated ({vdl}, {upto}], membership {} {:?}, in {} ms",
            membership.epoch,
            membership.members,
            started.elapsed().as_millis()
        );
        let mut core = WriterCore::new(Recovered {
            term,
            truncations,
            vdl,
            upto,
            membership,
            scls,
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

        let (vdl_tx, _) = watch::channel(vdl);
        let shared = Arc::new(Shared {
            term,
            state: Mutex::new(core),
            vdl_cv: Condvar::new(),
            vdl: AtomicU64::new(vdl.0),
            vdl_tx,
            new_records: Notify::new(),
            fenced: AtomicBool::new(false),
            conns: (0..SLOTS).map(|_| Mutex::new(None)).collect(),
            reads: Mutex::new(ReadRouter::new()),
            started: Instant::now(),
        });
        for i in 0..SLOTS {
            tokio::spawn(segment_loop(shared.clone(), i));
        }
        tokio::spawn(membership_loop(shared.clone()));
        // Open for business once a write quorum of segments is connected.
        while shared.state.lock().expect("poisoned").connected_count() < WRITE_QUORUM {
            if Instant::now() >= deadline {
                return Err(VolumeError::Unavailable(
                    "fewer than four segments connected".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(Volume {
            shared,
            handle: tokio::runtime::Handle::current(),
        })
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

    /// Per-segment health: the six members by slot, then the joining node during a replacement.
    #[must_use]
    pub fn status(&self) -> Vec<SegmentStatus> {
        let st = self.shared.state.lock().expect("poisoned");
        (0..SLOTS)
            .filter_map(|i| {
                st.slot_addr(i).map(|addr| SegmentStatus {
                    addr,
                    connected: st.is_connected(i),
                    scl: st.scl(i),
                })
            })
            .collect()
    }

    /// The PG's current membership.
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
        let (scls, membership, addrs): ([Lsn; SLOTS], _, [Option<String>; SLOTS]) = {
            let st = self.shared.state.lock().expect("poisoned");
            (
                std::array::from_fn(|i| st.scl(i)),
                st.membership().epoch,
                std::array::from_fn(|i| st.slot_addr(i)),
            )
        };
        let hedge_delay =
            Duration::from_micros(self.shared.reads.lock().expect("poisoned").hedge_delay_us());
        let mut candidates: std::collections::VecDeque<(usize, Arc<Conn>)> =
            ReadRouter::order(page, read_point, &scls)
                .into_iter()
                .filter_map(|i| {
                    let conn = self.shared.conns[i].lock().expect("poisoned").clone();
                    conn.filter(|c| c.is_alive()).map(|c| (i, c))
                })
                .collect();
        let (epoch, writer) = (self.shared.term.epoch, self.shared.term.writer);
        let call = |i: usize, conn: Arc<Conn>| async move {
            let id = conn.next_id();
            let (kind, body) = Request::GetPage {
                epoch,
                writer,
                pg: writer::PG,
                membership,
                page,
                read_point,
                pg_point: read_point,
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
                .then(|| candidates.front().filter(|(i, _)| scls[*i] >= read_point))
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

impl PageStore for Volume {
    fn durable_lsn(&self) -> Lsn {
        self.vdl()
    }

    fn get_page(&self, page: PageId, read_point: Lsn) -> Result<Option<PageVersion>, StoreError> {
        self.handle.block_on(self.get_page_async(page, read_point))
    }

    fn append_mtr(&self, drafts: Vec<RecordDraft>) -> Result<Lsn, StoreError> {
        assert!(!drafts.is_empty(), "an MTR has at least one record");
        let shared = &self.shared;
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
            }
        }
        let first = match st.append_mtr(drafts) {
            Ok(first) => first,
            Err(AppendError::Fenced) => return Err(StoreError::Fenced),
            Err(AppendError::LalExceeded) => unreachable!("room was checked under the lock"),
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
                Some(MembershipChange::Completed { slot, .. }) => {
                    let records = st.records_up_to(st.scl(*slot));
                    Some((records, st.mean_record_bytes().map(|m| m * records)))
                }
                _ => None,
            };
            (change, st.repair_progress(), held, st.vdl())
        };
        match change {
            Some(MembershipChange::Began {
                membership,
                slot,
                lost,
                joiner,
            }) => {
                eprintln!(
                    "volume: membership {}: segment {lost} (slot {slot}) lost; {joiner} joins in its place (dual quorum: 4/6 of both sets)",
                    membership.epoch
                );
                repair = Some(Repair {
                    began: Instant::now(),
                    last_bytes: 0,
                    last_log: Instant::now(),
                });
            }
            Some(MembershipChange::Completed {
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
                    "volume: membership {}: {joiner} caught up (SCL ≥ VDL {vdl}) and took slot {slot}; {dropped} dropped; repair copied {records} records, {}, in {secs:.1} s ({})",
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
                "volume: repair: {} holds {} records ({}) up to LSN {} of VDL {} ({}, {:.1} s since the start)",
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
            Ok(Response::State(s)) => (recovery::pg_scl(&s), s.membership.epoch),
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
        *shared.conns[i].lock().expect("poisoned") = Some(conn.clone());
        eprintln!("volume: segment {addr} connected (SCL {scl}, membership {membership})");
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
            let (kind, body) = proto::encode_write_request(
                id,
                shared.term.epoch,
                shared.term.writer,
                writer::PG,
                batch.membership,
                batch.horizon,
                batch.records.iter().map(|e| e.bytes.as_slice()),
            );
            drop(batch);
            match conn.call(id, kind, &body, WRITE_TIMEOUT_MS).await {
                Ok(Response::WriteAck { scls }) => {
                    let scl = scls
                        .iter()
                        .find(|(pg, _)| *pg == writer::PG)
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
        *shared.conns[i].lock().expect("poisoned") = None;
        eprintln!("volume: segment {addr} disconnected");
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
