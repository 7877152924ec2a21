//! The node: shared state, request handling, the log writer (group commit) and recovery.
//!
//! ```text
//!  connections ──Write──▶ epoch check ──▶ [log queue, bounded] ──▶ log writer task
//!                                                                   │ takes every queued batch
//!  gossip task ──Records from a peer─────▶ [same queue]             │ appends all, ONE sync_data
//!                                                                   │ then inserts into Segment
//!                                                                   ▼ and acknowledges each batch
//!  connections ──GetPage / FetchRecords──▶ Segment (index, under the state lock, briefly)
//!                                            └─▶ positioned reads of the log, CRC-checked,
//!                                                on the blocking pool — never behind a sync
//! ```
//!
//! Durability (Aurora SIGMOD 2017 §3.3 "the log is the database", steps 1–2 of the storage node's
//! write path: receive, persist, acknowledge): a record becomes visible — counted in the SCL,
//! served to reads and to peers — only after its log entry was synced, and a batch is acknowledged
//! only after that. The state lock is never held across a sync or a disk read, so reads do not wait
//! for the group commit.
//!
//! Fencing: a `Write` or `GetPage` carries the writer's epoch. Lower than the adopted epoch:
//! `StaleEpoch`; higher: `BadRequest` (a writer must `Open` first, which adopts its epoch durably in
//! the meta file before the node answers). A batch whose epoch was overtaken while it was being
//! synced is still logged (recovery would read it back anyway) but answered `StaleEpoch`; records
//! of a deposed writer that the new writer did not see are covered by its truncation.

use crate::cache::PageCache;
use crate::limits::{
    FETCH_ANSWER_HEADROOM_BYTES, GROUP_COMMIT_BYTES_MAX, LOG_QUEUE_BATCHES_MAX,
    PAGE_CACHE_PAGES_MAX,
};
use crate::log::{self, LogWriter, ReadError};
use crate::meta::{self, Meta};
use crate::segment::{Base, Inserted, PagePlan, Segment, pg_of};
use crate::{NodeConfig, StorageError};
use borealis_common::limits::{RECORDS_PER_MESSAGE_MAX, WRITE_BATCH_BYTES_MAX};
use borealis_common::proto::{ErrorCode, Request, Response, SegmentState, Truncation};
use borealis_common::{Epoch, Lsn, NodeId, PAGE_SIZE, PageId, PgId, RedoRecord, redo};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, oneshot};

/// A refusal, as it goes on the wire.
pub(crate) type Refusal = (ErrorCode, String);

/// Who sent a batch of records.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Origin {
    /// A writer, at this epoch.
    Writer(Epoch),
    /// A peer, through gossip.
    Gossip,
}

/// Records waiting for the log writer.
pub(crate) struct Batch {
    pub origin: Origin,
    pub records: Vec<RedoRecord>,
    pub reply: oneshot::Sender<Result<Vec<(PgId, Lsn)>, Refusal>>,
}

/// Everything behind the state lock. Held briefly: never across I/O.
pub(crate) struct State {
    pub epoch: Epoch,
    pub peers: Vec<String>,
    pub segment: Segment,
    pub cache: PageCache,
    /// A read handle per log file.
    pub files: HashMap<u32, Arc<File>>,
}

/// One storage node.
pub(crate) struct Node {
    pub id: NodeId,
    dir: PathBuf,
    state: Mutex<State>,
    log_tx: mpsc::Sender<Batch>,
    /// Serialises changes of the meta file (epoch, truncations, peers).
    meta_lock: tokio::sync::Mutex<()>,
    /// Group commits (appends followed by one sync) done since start-up.
    group_commits: AtomicU64,
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> Response {
    Response::Error {
        code,
        message: message.into(),
    }
}

impl Node {
    /// Recovers the node from its files. Blocking: call on the blocking pool.
    pub(crate) fn open(
        config: &NodeConfig,
    ) -> Result<(Arc<Node>, LogWriter, mpsc::Receiver<Batch>), StorageError> {
        let dir = config.data_dir.clone();
        std::fs::create_dir_all(&dir).map_err(|e| StorageError::Io {
            what: format!("creating {}", dir.display()),
            source: e,
        })?;
        let meta = match meta::load(&dir)? {
            Some(m) if m.node != config.node => {
                return Err(StorageError::Config(format!(
                    "{} belongs to storage node {}, not {}",
                    dir.display(),
                    m.node,
                    config.node
                )));
            }
            Some(m) => m,
            None => Meta {
                node: config.node,
                ..Meta::default()
            },
        };
        let mut segment = Segment::new(meta.truncations.clone());
        let mut counts = [0u64; 4];
        let recovered = log::recover(&dir, config.node, |rec, loc| {
            let i = match segment.insert(&rec, loc) {
                Inserted::Held => 0,
                Inserted::Duplicate => 1,
                Inserted::Truncated => 2,
                Inserted::OffChain => 3,
            };
            counts[i] += 1;
        })?;
        let scls: Vec<String> = segment
            .pg_states()
            .iter()
            .map(|s| format!("PG {} SCL {} ({} above)", s.pg, s.scl, s.above.len()))
            .collect();
        eprintln!(
            "storage node {}: recovered {} records from {} log files ({} duplicates, {} truncated, {} off the chain ignored); epoch {}; {}",
            config.node,
            counts[0],
            recovered.files.len(),
            counts[1],
            counts[2],
            counts[3],
            meta.epoch,
            scls.join(", ")
        );
        let (log_tx, log_rx) = mpsc::channel(LOG_QUEUE_BATCHES_MAX);
        let node = Node {
            id: config.node,
            dir,
            state: Mutex::new(State {
                epoch: meta.epoch,
                peers: meta.peers,
                segment,
                cache: PageCache::new(PAGE_CACHE_PAGES_MAX),
                files: recovered.files.into_iter().collect(),
            }),
            log_tx,
            meta_lock: tokio::sync::Mutex::new(()),
            group_commits: AtomicU64::new(0),
        };
        Ok((Arc::new(node), recovered.writer, log_rx))
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("storage node state lock poisoned")
    }

    fn snapshot(&self, st: &State) -> SegmentState {
        SegmentState {
            node: self.id,
            epoch: st.epoch,
            truncations: st.segment.truncations().to_vec(),
            pgs: st.segment.pg_states(),
        }
    }

    /// The epoch rule of writes and reads: exactly the adopted epoch.
    fn check_epoch(&self, epoch: Epoch) -> Result<(), Response> {
        let adopted = self.state().epoch;
        if epoch < adopted {
            return Err(refuse(
                ErrorCode::StaleEpoch,
                format!("epoch {epoch} is below the adopted epoch {adopted}"),
            ));
        }
        if epoch > adopted {
            return Err(refuse(
                ErrorCode::BadRequest,
                format!("epoch {epoch} is above the adopted epoch {adopted}: Open first"),
            ));
        }
        Ok(())
    }

    /// Answers one request.
    pub(crate) async fn handle(self: &Arc<Self>, req: Request) -> Response {
        match req {
            Request::Open {
                epoch,
                peers,
                truncations,
            } => match self.adopt(epoch, &truncations, Some(peers)).await {
                Ok(state) => Response::State(state),
                Err((code, message)) => Response::Error { code, message },
            },
            // Answered whatever the epoch: it changes nothing, and a writer starting recovery
            // learns the current epoch from it before it can choose a higher one.
            Request::GetState { epoch: _ } => {
                let st = self.state();
                Response::State(self.snapshot(&st))
            }
            Request::Write { epoch, records } => {
                if let Err(r) = self.check_epoch(epoch) {
                    return r;
                }
                if let Some(r) = records
                    .iter()
                    .find(|r| r.page != PageId::NONE && r.pg != pg_of(r.page))
                {
                    return refuse(
                        ErrorCode::BadRequest,
                        format!(
                            "record {} names PG {} but page {} is in PG {}",
                            r.lsn,
                            r.pg,
                            r.page,
                            pg_of(r.page)
                        ),
                    );
                }
                match self.submit(Origin::Writer(epoch), records).await {
                    Ok(scls) => Response::WriteAck { scls },
                    Err((code, message)) => Response::Error { code, message },
                }
            }
            Request::GetPage {
                epoch,
                page,
                read_point,
            } => {
                if let Err(r) = self.check_epoch(epoch) {
                    return r;
                }
                self.get_page(page, read_point).await
            }
            Request::FetchRecords {
                pg,
                after,
                upto,
                max_records,
            } => self.fetch_records(pg, after, upto, max_records).await,
        }
    }

    /// Adopts `epoch` (not below the node's) and `truncations` durably, and optionally replaces
    /// the peers. Returns the resulting state.
    pub(crate) async fn adopt(
        self: &Arc<Self>,
        epoch: Epoch,
        truncations: &[Truncation],
        peers: Option<Vec<String>>,
    ) -> Result<SegmentState, Refusal> {
        let _serial = self.meta_lock.lock().await;
        let (meta, changed) = {
            let st = self.state();
            if epoch < st.epoch {
                return Err((
                    ErrorCode::StaleEpoch,
                    format!("epoch {epoch} is below the adopted epoch {}", st.epoch),
                ));
            }
            let mut all = st.segment.truncations().to_vec();
            for t in truncations {
                if !all.contains(t) {
                    all.push(*t);
                }
            }
            if all.len() > borealis_common::limits::TRUNCATIONS_MAX as usize {
                return Err((ErrorCode::BadRequest, "too many truncations".into()));
            }
            let peers = peers.unwrap_or_else(|| st.peers.clone());
            let changed = epoch != st.epoch
                || all.len() != st.segment.truncations().len()
                || peers != st.peers;
            (
                Meta {
                    node: self.id,
                    epoch,
                    truncations: all,
                    peers,
                },
                changed,
            )
        };
        if changed {
            let dir = self.dir.clone();
            let m = meta.clone();
            let stored = tokio::task::spawn_blocking(move || meta::store(&dir, &m)).await;
            match stored {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    eprintln!("storage node {}: cannot write the meta file: {e}", self.id);
                    return Err((ErrorCode::Internal, format!("meta file: {e}")));
                }
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
        let mut st = self.state();
        assert!(
            meta.epoch >= st.epoch,
            "the epoch never decreases ({} -> {})",
            st.epoch,
            meta.epoch
        );
        if meta.epoch > st.epoch {
            eprintln!("storage node {}: adopted epoch {}", self.id, meta.epoch);
        }
        st.epoch = meta.epoch;
        st.peers = meta.peers;
        match st.segment.merge_truncations(&meta.truncations) {
            Ok(true) => st.cache.clear(),
            Ok(false) => {}
            Err(e) => unreachable!("truncation count was checked under the meta lock: {e}"),
        }
        Ok(self.snapshot(&st))
    }

    /// Hands records to the log writer and waits until they are durable (or refused).
    pub(crate) async fn submit(
        &self,
        origin: Origin,
        records: Vec<RedoRecord>,
    ) -> Result<Vec<(PgId, Lsn)>, Refusal> {
        let (reply, rx) = oneshot::channel();
        let batch = Batch {
            origin,
            records,
            reply,
        };
        if self.log_tx.send(batch).await.is_err() {
            return Err((ErrorCode::Internal, "the log writer has stopped".into()));
        }
        rx.await
            .unwrap_or_else(|_| Err((ErrorCode::Internal, "the log writer has stopped".into())))
    }

    async fn get_page(&self, page: PageId, read_point: Lsn) -> Response {
        let (generation, base, records, files) = {
            let mut st = self.state();
            let cached = st.cache.lsn(page);
            let plan = st.segment.page_plan(page, read_point, cached);
            let (base, records) = match plan {
                PagePlan::NotReady { scl } => {
                    return refuse(
                        ErrorCode::NotReady,
                        format!("SCL {scl} is below read point {read_point}"),
                    );
                }
                PagePlan::Absent => {
                    return Response::Page {
                        lsn: Lsn::ZERO,
                        image: None,
                    };
                }
                PagePlan::Cached(lsn) => match st.cache.get(page, lsn) {
                    Some(image) => {
                        return Response::Page {
                            lsn,
                            image: Some(image),
                        };
                    }
                    None => {
                        unreachable!("cached version {lsn} of page {page} vanished under the lock")
                    }
                },
                PagePlan::Build { base, records } => (base, records),
            };
            let base = match base {
                Base::Zero => None,
                Base::Cached(lsn) => match st.cache.get(page, lsn) {
                    Some(img) => Some((lsn, img)),
                    None => {
                        unreachable!("cached version {lsn} of page {page} vanished under the lock")
                    }
                },
            };
            let files = file_handles(&st, records.iter().map(|(_, l)| l.file));
            (st.cache.generation(), base, records, files)
        };
        let built = tokio::task::spawn_blocking(move || {
            let (mut applied, mut image) = base.unwrap_or((Lsn::ZERO, Box::new([0u8; PAGE_SIZE])));
            for (lsn, loc) in records {
                let Some(file) = files.get(&loc.file) else {
                    return Err(ReadError::Corrupted {
                        file: loc.file,
                        offset: loc.offset,
                        why: "log file not open".into(),
                    });
                };
                let rec = log::read_record(file, loc)?;
                if rec.lsn != lsn || rec.page != page {
                    return Err(ReadError::Corrupted {
                        file: loc.file,
                        offset: loc.offset,
                        why: format!(
                            "expected record {lsn} of page {page}, found {} of page {}",
                            rec.lsn, rec.page
                        ),
                    });
                }
                assert!(lsn > applied, "page versions are applied in LSN order");
                redo::apply(&mut image, &rec.payload);
                applied = lsn;
            }
            Ok((applied, image))
        })
        .await;
        match built {
            Ok(Ok((lsn, image))) => {
                self.state().cache.insert(generation, page, lsn, &image);
                Response::Page {
                    lsn,
                    image: Some(image),
                }
            }
            Ok(Err(e)) => self.read_failed(e),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    fn read_failed(&self, e: ReadError) -> Response {
        eprintln!("storage node {}: {e}", self.id);
        match e {
            ReadError::Corrupted { .. } => refuse(ErrorCode::Corrupted, e.to_string()),
            ReadError::Io(_) => refuse(ErrorCode::Internal, e.to_string()),
        }
    }

    async fn fetch_records(&self, pg: PgId, after: Lsn, upto: Lsn, max_records: u32) -> Response {
        let max = max_records.min(RECORDS_PER_MESSAGE_MAX) as usize;
        let (epoch, truncations, locations, files) = {
            let st = self.state();
            let locations = st.segment.fetch(pg, after, upto, max);
            let files = file_handles(&st, locations.iter().map(|(_, l)| l.file));
            (
                st.epoch,
                st.segment.truncations().to_vec(),
                locations,
                files,
            )
        };
        let read = tokio::task::spawn_blocking(move || {
            let budget = WRITE_BATCH_BYTES_MAX - FETCH_ANSWER_HEADROOM_BYTES;
            let mut bytes = 0;
            let mut records = Vec::new();
            for (lsn, loc) in locations {
                let rec = match files.get(&loc.file) {
                    Some(file) => log::read_record(file, loc),
                    None => Err(ReadError::Corrupted {
                        file: loc.file,
                        offset: loc.offset,
                        why: "log file not open".into(),
                    }),
                };
                let rec = match rec {
                    Ok(r) if r.lsn == lsn && r.pg == pg => r,
                    Ok(r) => {
                        let why = format!(
                            "expected record {lsn} of PG {pg}, found {} of PG {}",
                            r.lsn, r.pg
                        );
                        return (
                            records,
                            Some(ReadError::Corrupted {
                                file: loc.file,
                                offset: loc.offset,
                                why,
                            }),
                        );
                    }
                    Err(e) => return (records, Some(e)),
                };
                bytes += rec.encoded_len();
                if bytes > budget && !records.is_empty() {
                    break;
                }
                records.push(rec);
            }
            (records, None)
        })
        .await;
        match read {
            Ok((records, failure)) => {
                if let Some(e) = failure {
                    // Serve what precedes the bad entry; the peer asks another segment for the rest.
                    if records.is_empty() {
                        return self.read_failed(e);
                    }
                    eprintln!("storage node {}: {e}", self.id);
                }
                Response::Records {
                    epoch,
                    truncations,
                    records,
                }
            }
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

fn file_handles(st: &State, numbers: impl Iterator<Item = u32>) -> HashMap<u32, Arc<File>> {
    let wanted: BTreeSet<u32> = numbers.collect();
    wanted
        .into_iter()
        .filter_map(|n| st.files.get(&n).map(|f| (n, Arc::clone(f))))
        .collect()
}

/// The log writer: group commit. Takes every batch waiting in the queue (up to
/// [`GROUP_COMMIT_BYTES_MAX`]), appends them all, syncs once, makes the records visible, then
/// acknowledges every batch. Returns only on a disk error, which stops the node: after a failed
/// sync the state of the file is unknown, and recovery from disk is the only safe way on.
pub(crate) async fn log_writer(
    node: Arc<Node>,
    mut rx: mpsc::Receiver<Batch>,
    mut writer: LogWriter,
) -> Result<(), StorageError> {
    loop {
        let Some(first) = rx.recv().await else {
            return Ok(());
        };
        let mut bytes: usize = first.records.iter().map(RedoRecord::encoded_len).sum();
        let mut group = vec![first];
        while bytes < GROUP_COMMIT_BYTES_MAX {
            match rx.try_recv() {
                Ok(b) => {
                    bytes += b.records.iter().map(RedoRecord::encoded_len).sum::<usize>();
                    group.push(b);
                }
                Err(_) => break,
            }
        }
        // Log only what would change the segment: not duplicates, not truncated records.
        let mut chosen: Vec<(usize, usize)> = Vec::new();
        let mut entries: Vec<Vec<u8>> = Vec::new();
        {
            let st = node.state();
            let mut seen = HashSet::new();
            for (bi, b) in group.iter().enumerate() {
                for (ri, r) in b.records.iter().enumerate() {
                    if st.segment.wants(r) && seen.insert((r.pg, r.lsn)) {
                        let mut e = Vec::with_capacity(
                            r.encoded_len() + 9 + log::ENTRY_HEADER_BYTES as usize,
                        );
                        log::encode_entry(r, &mut e);
                        entries.push(e);
                        chosen.push((bi, ri));
                    }
                }
            }
        }
        let appended = if entries.is_empty() {
            None
        } else {
            let (w, result) = tokio::task::spawn_blocking(move || {
                let r = writer.append(&entries);
                (writer, r)
            })
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
            writer = w;
            match result {
                Ok(a) => {
                    node.group_commits.fetch_add(1, Ordering::Relaxed);
                    Some(a)
                }
                Err(e) => {
                    eprintln!("storage node {}: log append failed, stopping: {e}", node.id);
                    for b in group {
                        let _ = b.reply.send(Err((
                            ErrorCode::Internal,
                            format!("log append failed: {e}"),
                        )));
                    }
                    return Err(StorageError::Io {
                        what: "appending to the log".into(),
                        source: e,
                    });
                }
            }
        };
        let mut st = node.state();
        if let Some(a) = appended {
            assert!(
                a.synced,
                "records become visible only after sync_data returned"
            );
            assert_eq!(
                a.locations.len(),
                chosen.len(),
                "one location per appended entry"
            );
            for (n, f) in a.new_files {
                st.files.insert(n, f);
            }
            for (&(bi, ri), loc) in chosen.iter().zip(a.locations) {
                st.segment.insert(&group[bi].records[ri], loc);
            }
        }
        let epoch = st.epoch;
        let acks: Vec<_> = group
            .iter()
            .map(|b| {
                let pgs: BTreeSet<PgId> = b.records.iter().map(|r| r.pg).collect();
                let scls: Vec<(PgId, Lsn)> =
                    pgs.into_iter().map(|pg| (pg, st.segment.scl(pg))).collect();
                match b.origin {
                    Origin::Writer(e) if e < epoch => Err((
                        ErrorCode::StaleEpoch,
                        format!("epoch {e} was overtaken by epoch {epoch}"),
                    )),
                    _ => Ok(scls),
                }
            })
            .collect();
        drop(st);
        for (b, ack) in group.into_iter().zip(acks) {
            let _ = b.reply.send(ack);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use borealis_common::Payload;

    #[tokio::test]
    async fn queued_batches_share_one_sync_and_are_acked_after_it() {
        let dir = std::env::temp_dir().join(format!("borealis-node-group-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = NodeConfig {
            node: NodeId(1),
            data_dir: dir.clone(),
        };
        let (node, writer, rx) = Node::open(&config).expect("open");
        // Ten batches (one duplicated) queue up before the log writer runs.
        let mut replies = Vec::new();
        for lsn in (1..=10u64).chain([4]) {
            let (reply, r) = oneshot::channel();
            let rec = RedoRecord {
                lsn: Lsn(lsn),
                pg: PgId(0),
                prev_pg_lsn: Lsn(lsn - 1),
                page: PageId(1),
                prev_page_lsn: Lsn(lsn - 1),
                cpl: true,
                payload: Payload::Init(vec![lsn as u8; 10]),
            };
            node.log_tx
                .try_send(Batch {
                    origin: Origin::Writer(Epoch(0)),
                    records: vec![rec],
                    reply,
                })
                .unwrap_or_else(|_| panic!("queue has room"));
            replies.push(r);
        }
        assert_eq!(
            node.state().segment.scl(PgId(0)),
            Lsn(0),
            "nothing is visible before the sync"
        );
        let task = tokio::spawn(log_writer(Arc::clone(&node), rx, writer));
        for r in replies {
            let ack = r.await.expect("answered").expect("acknowledged");
            assert_eq!(
                ack,
                vec![(PgId(0), Lsn(10))],
                "every ack follows the group's one sync"
            );
        }
        assert_eq!(node.group_commits.load(Ordering::Relaxed), 1);
        let held = node
            .state()
            .segment
            .fetch(PgId(0), Lsn(0), Lsn(u64::MAX), 100);
        assert_eq!(held.len(), 10);
        let end = held.last().map(|(_, l)| l.offset + u64::from(l.len));
        let file_len = std::fs::metadata(dir.join(log::file_name(1)))
            .map(|m| m.len())
            .ok();
        assert_eq!(end, file_len, "the duplicate was not logged twice");
        task.abort();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
