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

pub mod conn;
pub mod limits;
pub mod quorum;
pub mod reads;
pub mod recovery;
pub mod writer;

use borealis_common::pagestore::{PageStore, PageVersion, RecordDraft, StoreError};
use borealis_common::proto::{self, ErrorCode, Request, Response, SegmentState, Term};
use borealis_common::{Epoch, Lsn, PageId, WriterId};
use conn::Conn;
use limits::{
    GET_PAGE_RETRY_MS_MAX, GET_PAGE_TIMEOUT_MS, READ_QUORUM, RECONNECT_BACKOFF_MS_MAX,
    RECOVERY_ALL_SEGMENTS_WAIT_MS, SEGMENTS_PER_PG, WRITE_QUORUM, WRITE_TIMEOUT_MS,
};
use reads::ReadRouter;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::sync::{Notify, watch};
use writer::{AppendError, Recovered, WriterCore};

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

struct Shared {
    term: Term,
    nodes: Vec<String>,
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
        let states_only: Vec<SegmentState> = states.into_iter().map(|(_, s)| s).collect();
        let term = recovery::choose_term(&states_only, new_writer_id());
        let mut truncations = recovery::known_truncations(&states_only);

        // 2. Raise the term on a write quorum: from here on no older writer can make anything
        //    durable. The states returned after adoption are the recovery input.
        let open = |truncs: Vec<proto::Truncation>| {
            let nodes = nodes.clone();
            move |i: usize| Request::Open {
                epoch: term.epoch,
                writer: term.writer,
                peers: peers_of(&nodes, i),
                truncations: truncs.clone(),
            }
        };
        let fenced_states: Vec<SegmentState> =
            gather_states(&nodes, WRITE_QUORUM, deadline, open(truncations.clone()))
                .await?
                .into_iter()
                .map(|(_, s)| s)
                .collect();
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

        // 4. Records at or below VDL found only in the read quorum must reach a write quorum
        //    (storage gossip fills the gaps) before anything is built on them.
        let mut scls = [Lsn::ZERO; SEGMENTS_PER_PG];
        for (i, s) in &truncated {
            scls[*i] = recovery::pg_scl(s);
        }
        while !recovery::vdl_on_write_quorum(scls, vdl) {
            if Instant::now() >= deadline {
                return Err(VolumeError::Unavailable(format!(
                    "recovered VDL {vdl} is not yet on a write quorum (SCLs {scls:?})"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Ok(states) = gather_states(&nodes, READ_QUORUM, deadline, |_| {
                Request::GetState { epoch: term.epoch }
            })
            .await
            {
                if states.iter().any(|(_, s)| recovery::overtaken(term, s)) {
                    eprintln!("volume: recovery overtaken by a newer writer");
                    return Err(VolumeError::Fenced);
                }
                for (i, s) in states {
                    scls[i] = recovery::pg_scl(&s);
                }
            }
        }
        eprintln!(
            "volume: recovered term {term}: VDL {vdl}, truncated ({vdl}, {upto}], in {} ms",
            started.elapsed().as_millis()
        );

        let (vdl_tx, _) = watch::channel(vdl);
        let shared = Arc::new(Shared {
            term,
            state: Mutex::new(WriterCore::new(Recovered {
                term,
                truncations,
                vdl,
                upto,
                scls,
            })),
            vdl_cv: Condvar::new(),
            vdl: AtomicU64::new(vdl.0),
            vdl_tx,
            new_records: Notify::new(),
            fenced: AtomicBool::new(false),
            conns: (0..SEGMENTS_PER_PG).map(|_| Mutex::new(None)).collect(),
            reads: Mutex::new(ReadRouter::new()),
            nodes,
            started: Instant::now(),
        });
        for i in 0..SEGMENTS_PER_PG {
            tokio::spawn(segment_loop(shared.clone(), i));
        }
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

    /// Per-segment health.
    #[must_use]
    pub fn status(&self) -> Vec<SegmentStatus> {
        let st = self.shared.state.lock().expect("poisoned");
        (0..SEGMENTS_PER_PG)
            .map(|i| SegmentStatus {
                addr: self.shared.nodes[i].clone(),
                connected: st.is_connected(i),
                scl: st.scl(i),
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
        let scls: [Lsn; SEGMENTS_PER_PG] = {
            let st = self.shared.state.lock().expect("poisoned");
            std::array::from_fn(|i| st.scl(i))
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
                page,
                read_point,
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
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// VDL advanced: wake commit waiters and LAL waiters.
    fn publish(&self, vdl: Option<Lsn>) {
        if let Some(vdl) = vdl {
            self.vdl.store(vdl.0, Ordering::Release);
            self.vdl_tx.send_replace(vdl);
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
        let open = shared
            .state
            .lock()
            .expect("poisoned")
            .open_request(peers_of(&shared.nodes, i));
        let (kind, body) = open.encode(id);
        let scl = match conn.call(id, kind, &body, WRITE_TIMEOUT_MS).await {
            Ok(Response::State(s)) => recovery::pg_scl(&s),
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
        let advanced = shared.state.lock().expect("poisoned").connected(i, scl);
        shared.publish(advanced);
        eprintln!("volume: segment {addr} connected (SCL {scl})");
        loop {
            let notified = shared.new_records.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if shared.fenced.load(Ordering::Acquire) {
                return;
            }
            let id = conn.next_id();
            let now_ms = shared.now_ms();
            let batch = shared
                .state
                .lock()
                .expect("poisoned")
                .next_write(i, id, now_ms);
            let Some(batch) = batch else {
                let _ = tokio::time::timeout(Duration::from_millis(1000), notified).await;
                if !conn.is_alive() {
                    break;
                }
                continue;
            };
            let (kind, body) = proto::encode_write_request(
                id,
                shared.term.epoch,
                shared.term.writer,
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
        shared.state.lock().expect("poisoned").disconnected(i);
        *shared.conns[i].lock().expect("poisoned") = None;
        eprintln!("volume: segment {addr} disconnected");
    }
}
