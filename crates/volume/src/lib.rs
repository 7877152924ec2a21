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
//! Today a volume is one protection group on six storage nodes; auto-growth to more PGs is the
//! storage-tier issue's work. Pages are never sent to storage, only redo.

pub mod conn;
pub mod limits;
pub mod quorum;
pub mod recovery;

use borealis_common::pagestore::{PageStore, PageVersion, RecordDraft, StoreError};
use borealis_common::proto::{self, ErrorCode, Request, Response, SegmentState, Truncation};
use borealis_common::{Epoch, Lsn, PageId, PgId, RedoRecord};
use conn::Conn;
use limits::{
    GET_PAGE_RETRY_MS_MAX, GET_PAGE_TIMEOUT_MS, LAL_RECORDS, READ_QUORUM, RECONNECT_BACKOFF_MS_MAX,
    RECOVERY_ALL_SEGMENTS_WAIT_MS, SEGMENTS_PER_PG, WRITE_QUORUM, WRITE_TIMEOUT_MS,
};
use quorum::DurabilityTracker;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::sync::{Notify, watch};

/// The one protection group of today's volumes.
const PG: PgId = PgId(0);

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum VolumeError {
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("this writer has been fenced by a newer epoch")]
    Fenced,
}

impl From<VolumeError> for StoreError {
    fn from(e: VolumeError) -> Self {
        match e {
            VolumeError::Unavailable(m) => StoreError::Unavailable(m),
            VolumeError::Fenced => StoreError::Fenced,
        }
    }
}

/// Where the volume lives.
#[derive(Clone, Debug)]
pub struct VolumeConfig {
    /// The six storage nodes holding the segments, `host:port`. Order is placement: two per AZ.
    pub nodes: Vec<String>,
}

/// Health of one segment, for monitoring.
#[derive(Clone, Debug)]
pub struct SegmentStatus {
    pub addr: String,
    pub connected: bool,
    pub scl: Lsn,
}

struct Encoded {
    lsn: Lsn,
    bytes: Vec<u8>,
}

struct State {
    next_lsn: Lsn,
    pg_tail: Lsn,
    /// Records not yet trimmed: `log[i].lsn == log_base + i` (LSNs are dense within an epoch).
    log: VecDeque<Arc<Encoded>>,
    log_base: Lsn,
    tracker: DurabilityTracker,
    connected: [bool; SEGMENTS_PER_PG],
}

struct Shared {
    epoch: Epoch,
    nodes: Vec<String>,
    truncations: Vec<Truncation>,
    state: Mutex<State>,
    /// Signalled when VDL advances or the volume is fenced (LAL waiters).
    vdl_cv: Condvar,
    vdl: AtomicU64,
    vdl_tx: watch::Sender<Lsn>,
    new_records: Notify,
    fenced: AtomicBool,
    conns: Vec<Mutex<Option<Arc<Conn>>>>,
}

/// A handle on the volume; cheap to clone.
#[derive(Clone)]
pub struct Volume {
    shared: Arc<Shared>,
    handle: tokio::runtime::Handle,
}

fn peers_of(nodes: &[String], i: usize) -> Vec<String> {
    nodes
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .map(|(_, a)| a.clone())
        .collect()
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
    pub async fn open(config: VolumeConfig, wait: Duration) -> Result<Volume, VolumeError> {
        assert_eq!(
            config.nodes.len(),
            SEGMENTS_PER_PG,
            "a volume has six segments"
        );
        let nodes = config.nodes;
        let deadline = Instant::now() + wait;
        let started = Instant::now();

        // 1. Learn the current epoch and truncations from whoever answers.
        let states = loop {
            match gather_states(&nodes, WRITE_QUORUM, deadline, |_| Request::GetState {
                epoch: Epoch(0),
            })
            .await
            {
                Ok(s) => break s,
                Err(VolumeError::Unavailable(m)) if Instant::now() < deadline => {
                    eprintln!("volume: waiting for storage: {m}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e),
            }
        };
        let epoch = Epoch(states.iter().map(|(_, s)| s.epoch.0).max().unwrap_or(0) + 1);
        let mut truncations: Vec<Truncation> = Vec::new();
        for (_, s) in &states {
            for t in &s.truncations {
                if !truncations.contains(t) {
                    truncations.push(*t);
                }
            }
        }

        // 2. Raise the epoch on a write quorum: from here on no older writer can make anything
        //    durable. The states returned after adoption are the recovery input.
        let open = |truncs: Vec<Truncation>| {
            let nodes = nodes.clone();
            move |i: usize| Request::Open {
                epoch,
                peers: peers_of(&nodes, i),
                truncations: truncs.clone(),
            }
        };
        let fenced_states =
            gather_states(&nodes, WRITE_QUORUM, deadline, open(truncations.clone())).await?;
        assert!(
            fenced_states.len() >= READ_QUORUM,
            "recovery needs a read quorum"
        );
        let pg_states: Vec<_> = fenced_states
            .iter()
            .filter_map(|(_, s)| s.pgs.iter().find(|p| p.pg == PG))
            .collect();
        let rec = if pg_states.is_empty() {
            recovery::PgRecovery {
                complete_lsn: Lsn::ZERO,
                vdl: Lsn::ZERO,
            }
        } else {
            recovery::recover_pg(&pg_states)
        };
        let vdl = rec.vdl;

        // 3. Durably truncate everything above VDL, tagged with our epoch.
        let highest_truncated = truncations
            .iter()
            .map(|t| t.upto)
            .max()
            .unwrap_or(Lsn::ZERO);
        let upto = Lsn(vdl.0.max(highest_truncated.0).max(rec.complete_lsn.0) + LAL_RECORDS);
        truncations.push(Truncation {
            epoch,
            pg: PG,
            above: vdl,
            upto,
        });
        let truncated =
            gather_states(&nodes, WRITE_QUORUM, deadline, open(truncations.clone())).await?;

        // 4. Records at or below VDL found only in the read quorum must reach a write quorum
        //    (storage gossip fills the gaps) before anything is built on them.
        let mut scls = [Lsn::ZERO; SEGMENTS_PER_PG];
        for (i, s) in &truncated {
            scls[*i] = s
                .pgs
                .iter()
                .find(|p| p.pg == PG)
                .map_or(Lsn::ZERO, |p| p.scl);
        }
        loop {
            let tracker = DurabilityTracker::new(Lsn::ZERO, scls);
            if tracker.pgcl() >= vdl {
                break;
            }
            if Instant::now() >= deadline {
                return Err(VolumeError::Unavailable(format!(
                    "recovered VDL {vdl} is not yet on a write quorum (SCLs {scls:?})"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Ok(states) = gather_states(&nodes, READ_QUORUM, deadline, |_| {
                Request::GetState { epoch }
            })
            .await
            {
                for (i, s) in states {
                    scls[i] = s
                        .pgs
                        .iter()
                        .find(|p| p.pg == PG)
                        .map_or(Lsn::ZERO, |p| p.scl);
                }
            }
        }
        eprintln!(
            "volume: recovered epoch {epoch}: VDL {vdl}, truncated ({vdl}, {upto}], in {} ms",
            started.elapsed().as_millis()
        );

        let (vdl_tx, _) = watch::channel(vdl);
        let shared = Arc::new(Shared {
            epoch,
            truncations,
            state: Mutex::new(State {
                next_lsn: upto.next(),
                pg_tail: vdl,
                log: VecDeque::new(),
                log_base: upto.next(),
                tracker: DurabilityTracker::new(vdl, scls),
                connected: [false; SEGMENTS_PER_PG],
            }),
            vdl_cv: Condvar::new(),
            vdl: AtomicU64::new(vdl.0),
            vdl_tx,
            new_records: Notify::new(),
            fenced: AtomicBool::new(false),
            conns: (0..SEGMENTS_PER_PG).map(|_| Mutex::new(None)).collect(),
            nodes,
        });
        for i in 0..SEGMENTS_PER_PG {
            tokio::spawn(segment_loop(shared.clone(), i));
        }
        // Open for business once a write quorum of segments is connected.
        while shared
            .state
            .lock()
            .expect("poisoned")
            .connected
            .iter()
            .filter(|c| **c)
            .count()
            < WRITE_QUORUM
        {
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
        self.shared.epoch
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

    /// Per-segment health.
    #[must_use]
    pub fn status(&self) -> Vec<SegmentStatus> {
        let st = self.shared.state.lock().expect("poisoned");
        (0..SEGMENTS_PER_PG)
            .map(|i| SegmentStatus {
                addr: self.shared.nodes[i].clone(),
                connected: st.connected[i],
                scl: st.tracker.scl(i),
            })
            .collect()
    }

    async fn get_page_async(
        &self,
        page: PageId,
        read_point: Lsn,
    ) -> Result<Option<PageVersion>, StoreError> {
        // A segment may be reconnecting: keep trying the others, and retry for a bounded time.
        let deadline = Instant::now() + Duration::from_millis(GET_PAGE_RETRY_MS_MAX);
        loop {
            match self.get_page_once(page, read_point).await {
                Err(StoreError::Unavailable(_)) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                other => return other,
            }
        }
    }

    async fn get_page_once(
        &self,
        page: PageId,
        read_point: Lsn,
    ) -> Result<Option<PageVersion>, StoreError> {
        // Segments known to cover the read point first, starting at a page-dependent one to
        // spread load; then the others (our view of their SCL may be stale).
        let scls: Vec<Lsn> = {
            let st = self.shared.state.lock().expect("poisoned");
            (0..SEGMENTS_PER_PG).map(|i| st.tracker.scl(i)).collect()
        };
        let start = (page.0 % SEGMENTS_PER_PG as u64) as usize;
        let mut order: Vec<usize> = (0..SEGMENTS_PER_PG)
            .map(|k| (start + k) % SEGMENTS_PER_PG)
            .collect();
        order.sort_by_key(|&i| scls[i] < read_point);
        let mut last_error = String::from("no segment connected");
        for i in order {
            let conn = self.shared.conns[i].lock().expect("poisoned").clone();
            let Some(conn) = conn.filter(|c| c.is_alive()) else {
                continue;
            };
            let id = conn.next_id();
            let (kind, body) = Request::GetPage {
                epoch: self.shared.epoch,
                page,
                read_point,
            }
            .encode(id);
            match conn.call(id, kind, &body, GET_PAGE_TIMEOUT_MS).await {
                Ok(Response::Page { lsn, image }) => {
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
                Ok(other) => last_error = format!("{}: {other:?}", self.shared.nodes[i]),
                Err(e) => last_error = format!("{}: {e}", self.shared.nodes[i]),
            }
        }
        Err(StoreError::Unavailable(format!(
            "page {page} at {read_point}: {last_error}"
        )))
    }
}

impl Shared {
    fn fence(&self) {
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
        let n = drafts.len() as u64;
        let shared = &self.shared;
        let mut st = shared.state.lock().expect("poisoned");
        // LAL back-pressure: never allocate above VDL + LAL.
        loop {
            if shared.fenced.load(Ordering::Acquire) {
                return Err(StoreError::Fenced);
            }
            let last = st.next_lsn.0 + n - 1;
            let limit = st.tracker.vdl().0.max(st.log_base.0 - 1) + LAL_RECORDS;
            if last <= limit {
                break;
            }
            st = shared
                .vdl_cv
                .wait_timeout(st, Duration::from_millis(500))
                .expect("poisoned")
                .0;
        }
        let first = st.next_lsn;
        for (k, d) in drafts.into_iter().enumerate() {
            let lsn = st.next_lsn;
            let rec = RedoRecord {
                lsn,
                pg: PG,
                prev_pg_lsn: st.pg_tail,
                page: d.page,
                prev_page_lsn: d.prev_page_lsn,
                cpl: k as u64 + 1 == n,
                payload: d.payload,
            };
            let mut bytes = Vec::with_capacity(rec.encoded_len());
            rec.encode(&mut bytes);
            assert_eq!(
                st.log_base.0 + st.log.len() as u64,
                lsn.0,
                "the send log must stay dense"
            );
            st.log.push_back(Arc::new(Encoded { lsn, bytes }));
            st.pg_tail = lsn;
            st.next_lsn = lsn.next();
        }
        let cpl = Lsn(first.0 + n - 1);
        st.tracker.add_cpl(cpl);
        drop(st);
        shared.new_records.notify_waiters();
        Ok(first)
    }
}

/// Keeps one segment fed: connect, open at our epoch, then send whatever is new, one `Write` in
/// flight at a time (the next batch fills while it flies).
async fn segment_loop(shared: Arc<Shared>, i: usize) {
    let addr = shared.nodes[i].clone();
    let mut backoff_ms = 50;
    loop {
        if shared.fenced.load(Ordering::Acquire) {
            return;
        }
        let conn = match Conn::connect(&addr).await {
            Ok(c) => c,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(backoff_ms)).await;
                backoff_ms = (backoff_ms * 2).min(RECONNECT_BACKOFF_MS_MAX);
                continue;
            }
        };
        let id = conn.next_id();
        let (kind, body) = Request::Open {
            epoch: shared.epoch,
            peers: peers_of(&shared.nodes, i),
            truncations: shared.truncations.clone(),
        }
        .encode(id);
        let scl = match conn.call(id, kind, &body, WRITE_TIMEOUT_MS).await {
            Ok(Response::State(s)) => s
                .pgs
                .iter()
                .find(|p| p.pg == PG)
                .map_or(Lsn::ZERO, |p| p.scl),
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
        *shared.conns[i].lock().expect("poisoned") = Some(conn.clone());
        let mut sent = {
            let mut st = shared.state.lock().expect("poisoned");
            st.connected[i] = true;
            ack(&shared, &mut st, i, scl);
            // Anything older than the send log is fetched by the segment from its peers (gossip).
            Lsn(scl.0.max(st.log_base.0 - 1))
        };
        eprintln!("volume: segment {addr} connected (SCL {scl})");
        loop {
            let notified = shared.new_records.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if shared.fenced.load(Ordering::Acquire) {
                return;
            }
            let batch: Vec<Arc<Encoded>> = {
                let st = shared.state.lock().expect("poisoned");
                if sent.0 + 1 < st.log_base.0 {
                    sent = Lsn(st.log_base.0 - 1);
                }
                let skip = (sent.0 + 1 - st.log_base.0) as usize;
                let mut bytes = 0;
                st.log
                    .iter()
                    .skip(skip)
                    .take_while(|e| {
                        bytes += e.bytes.len();
                        bytes <= proto_batch_bytes_max()
                    })
                    .cloned()
                    .collect()
            };
            if batch.is_empty() {
                let _ = tokio::time::timeout(Duration::from_millis(1000), notified).await;
                if !conn.is_alive() {
                    break;
                }
                continue;
            }
            let last = batch.last().map_or(sent, |e| e.lsn);
            let id = conn.next_id();
            let (kind, body) = proto::encode_write_request(
                id,
                shared.epoch,
                batch.iter().map(|e| e.bytes.as_slice()),
            );
            drop(batch);
            match conn.call(id, kind, &body, WRITE_TIMEOUT_MS).await {
                Ok(Response::WriteAck { scls }) => {
                    let scl = scls
                        .iter()
                        .find(|(pg, _)| *pg == PG)
                        .map_or(Lsn::ZERO, |(_, s)| *s);
                    let mut st = shared.state.lock().expect("poisoned");
                    ack(&shared, &mut st, i, scl);
                    sent = last;
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
                    break;
                }
            }
        }
        shared.state.lock().expect("poisoned").connected[i] = false;
        *shared.conns[i].lock().expect("poisoned") = None;
        eprintln!("volume: segment {addr} disconnected");
    }
}

fn proto_batch_bytes_max() -> usize {
    borealis_common::limits::WRITE_BATCH_BYTES_MAX
}

/// Applies an acknowledgement: maybe advance VDL, wake waiters, trim the send log.
fn ack(shared: &Shared, st: &mut State, segment: usize, scl: Lsn) {
    if let Some(vdl) = st.tracker.ack(segment, scl) {
        shared.vdl.store(vdl.0, Ordering::Release);
        shared.vdl_tx.send_replace(vdl);
        shared.vdl_cv.notify_all();
    }
    // Trim what is durable and held by every connected segment; a disconnected segment catches up
    // from its peers when it returns.
    let mut keep_from = st.tracker.vdl();
    for s in 0..SEGMENTS_PER_PG {
        if st.connected[s] {
            keep_from = keep_from.min(st.tracker.scl(s));
        }
    }
    while st.log.front().is_some_and(|e| e.lsn <= keep_from) {
        st.log.pop_front();
        st.log_base = st.log_base.next();
    }
}
