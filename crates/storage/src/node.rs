//! The node: shared state, request handling, the log writer (group commit) and recovery.
//!
//! ```text
//!  connections ──Write──▶ epoch check ──▶ [log queue, bounded] ──▶ log writer task
//!                                                                   │ takes every queued batch
//!  gossip task ──Records from a peer─────▶ [same queue]             │ appends all, ONE sync_data
//!              ──a copy's records───────▶ [same queue]             │ (copies: appended, NOT
//!                                                                   │  inserted; locations back)
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
//! Every decision — the term rule, what to log, when and how to acknowledge, how to build a page —
//! is made by the sans-IO [`NodeCore`] under the state lock; this file only
//! carries out the [`Step`]s it returns: meta file writes, log appends with one
//! `sync_data` per group, and CRC-checked positioned reads on the blocking pool. The simulator
//! drives the same core with a simulated disk.
//!
//! Fencing: a `Write` or `GetPage` carries the writer's term (epoch, writer id). Lower than the
//! adopted term: `StaleEpoch`; higher: `BadRequest` (a writer must `Open` first, which adopts its
//! term durably in the meta file before the node answers). A batch whose term was overtaken while
//! it was being synced is still logged (recovery would read it back anyway) but answered
//! `StaleEpoch`; records of a deposed writer that the new writer did not see are covered by its
//! truncation.

use crate::cache::PageCache;
use crate::checkpoint;
use crate::core::{self, NodeCore, Origin, Refusal, Step};
use crate::image::{self, ImageWriter};
use crate::limits::{
    FETCH_ANSWER_HEADROOM_BYTES, GROUP_COMMIT_BYTES_MAX, LOG_QUEUE_BATCHES_MAX,
    PAGE_CACHE_PAGES_MAX,
};
use crate::log::{self, LogWriter, ReadError};
use crate::meta::{self, Meta};
use crate::segment::CopyBatch;
use crate::segment::{Base, Inserted, Location};
use crate::{NodeConfig, StorageError};
use borealis_common::limits::WRITE_BATCH_BYTES_MAX;
use borealis_common::proto::{
    BaseItem, ErrorCode, Membership, Request, Response, SegmentState, StoredMap, Term, Truncation,
};
use borealis_common::{Lsn, NodeId, PAGE_SIZE, PageId, PgId, RedoRecord};
use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{mpsc, oneshot};

/// Records waiting for the log writer.
pub(crate) struct Batch {
    pub origin: Origin,
    pub records: Vec<RedoRecord>,
    pub reply: oneshot::Sender<Result<Vec<(PgId, Lsn)>, Refusal>>,
    /// A copy repair's records (see `core.rs`, "Copy repair"): every one is appended, none is
    /// inserted in the segment, and their locations are sent here once synced.
    pub copied: Option<oneshot::Sender<Vec<Location>>>,
}

/// Everything behind the state lock. Held briefly: never across I/O.
pub(crate) struct State {
    pub core: NodeCore,
    pub cache: PageCache,
    /// A read handle per log file.
    pub files: HashMap<u32, Arc<File>>,
    /// A read handle per image file.
    pub images: HashMap<u32, Arc<File>>,
    /// The end of the log: every entry before it is reflected in the core (a checkpoint's
    /// position).
    pub log_end: (u32, u64),
}

/// One segment of a storage node: the node's share of one protection group, with its own meta
/// file, log, image files and checkpoint (PG 0 in the node's data directory, PG `k` in its
/// subdirectory `pg-k`, see [`segment_dir`]). `server.rs` routes each request to the segment of
/// the PG it names.
pub(crate) struct Node {
    pub id: NodeId,
    pub pg: PgId,
    pub dir: PathBuf,
    state: Mutex<State>,
    log_tx: mpsc::Sender<Batch>,
    /// Serialises changes of the meta file (term, truncations, peers).
    meta_lock: tokio::sync::Mutex<()>,
    /// Group commits (appends followed by one sync) done since start-up.
    group_commits: AtomicU64,
    /// The appending end of the image files, shared by the materialiser and copy repair.
    pub image_writer: Arc<Mutex<ImageWriter>>,
    /// Serialises checkpoints (the materialiser's and copy installs): a checkpoint is stored
    /// whole before the next snapshot is taken, so an older snapshot never replaces a newer one.
    pub checkpoint_lock: tokio::sync::Mutex<()>,
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> Response {
    Response::Error {
        code,
        message: message.into(),
    }
}

/// What is left to do once the state lock is released.
enum Next {
    Append(Origin, Vec<RedoRecord>),
    Fetch(PgId, Vec<(Lsn, Location)>, HashMap<u32, Arc<File>>),
    FetchBase(
        PgId,
        CopyBatch,
        HashMap<u32, Arc<File>>,
        HashMap<u32, Arc<File>>,
    ),
    Build(PageId, PageBuild),
}

/// A page version: its LSN and image.
pub(crate) type Version = (Lsn, Box<[u8; PAGE_SIZE]>);

/// The image a page build starts from, as the driver finds it.
pub(crate) enum BuildBase {
    Zero,
    Ready(Lsn, Box<[u8; PAGE_SIZE]>),
    /// A base image to read (CRC-checked) from an image file.
    Image(Lsn, Location, Option<Arc<File>>),
}

impl BuildBase {
    /// Reads the base, if it is in an image file.
    pub(crate) fn load(self, page: PageId) -> Result<Option<Version>, ReadError> {
        match self {
            BuildBase::Zero => Ok(None),
            BuildBase::Ready(lsn, img) => Ok(Some((lsn, img))),
            BuildBase::Image(lsn, loc, file) => match file {
                Some(f) => image::read_image(&f, loc, page, lsn).map(|img| Some((lsn, img))),
                None => Err(ReadError::Corrupted {
                    file: loc.file,
                    offset: loc.offset,
                    why: "image file not open".into(),
                }),
            },
        }
    }
}

/// A page build planned under the lock, carried out off it.
struct PageBuild {
    generation: u64,
    base: BuildBase,
    records: Vec<(Lsn, Location)>,
    files: HashMap<u32, Arc<File>>,
}

/// The directory of the node's segment of `pg`: the data directory for PG 0 (as before there
/// were several), its subdirectory `pg-NNNNNNNN` for the others.
pub(crate) fn segment_dir(data_dir: &std::path::Path, pg: PgId) -> PathBuf {
    if pg == PgId(0) {
        data_dir.to_path_buf()
    } else {
        data_dir.join(crate::numbered::file_name(SEGMENT_DIR_PREFIX, pg.0))
    }
}

/// Subdirectories of segments other than PG 0's are named `pg-NNNNNNNN`.
pub(crate) const SEGMENT_DIR_PREFIX: &str = "pg";

/// The PGs whose segments have a subdirectory in `data_dir` (PG 0 not included).
pub(crate) fn segment_dirs(data_dir: &std::path::Path) -> Result<Vec<PgId>, StorageError> {
    let entries = match std::fs::read_dir(data_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(StorageError::Io {
                what: format!("listing {}", data_dir.display()),
                source: e,
            });
        }
    };
    let mut pgs = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StorageError::Io {
            what: format!("listing {}", data_dir.display()),
            source: e,
        })?;
        if let Some(k) = entry
            .file_name()
            .to_str()
            .and_then(|n| crate::numbered::parse_file_name(SEGMENT_DIR_PREFIX, n))
            && k > 0
            && entry.file_type().is_ok_and(|t| t.is_dir())
        {
            pgs.push(PgId(k));
        }
    }
    pgs.sort_unstable();
    Ok(pgs)
}

impl Node {
    /// Recovers the node's segment of `pg` from its files (a new, empty one if there are none).
    /// Blocking: call on the blocking pool.
    #[allow(clippy::type_complexity)]
    pub(crate) fn open(
        config: &NodeConfig,
        pg: PgId,
    ) -> Result<(Arc<Node>, LogWriter, mpsc::Receiver<Batch>), StorageError> {
        let dir = segment_dir(&config.data_dir, pg);
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
            Some(m) if m.pg != pg => {
                return Err(StorageError::Config(format!(
                    "{} holds a segment of PG {}, not of PG {pg}",
                    dir.display(),
                    m.pg
                )));
            }
            Some(m) => m,
            None => Meta {
                node: config.node,
                pg,
                ..Meta::default()
            },
        };
        let checkpoint = checkpoint::load(&dir, config.node)?;
        let (mut core, start) = match &checkpoint {
            Some(c) => (
                NodeCore::restore(&meta, &c.segment),
                Some((c.log_file, c.log_offset)),
            ),
            None => (NodeCore::new(&meta), None),
        };
        core.set_retention(config.retention_lsns);
        core.set_peer_lag(config.peer_lag_lsns);
        let from_checkpoint = core.segment().held_count();
        let mut counts = [0u64; 4];
        let recovered = log::recover(&dir, config.node, start, |rec, loc| {
            let i = match core.recover(&rec, loc) {
                Inserted::Held => 0,
                Inserted::Duplicate => 1,
                Inserted::Truncated => 2,
                Inserted::OffChain => 3,
                // Nothing is marked corrupt during recovery.
                Inserted::Repaired => 1,
            };
            counts[i] += 1;
        })?;
        let scls: Vec<String> = core
            .segment()
            .pg_states()
            .iter()
            .map(|s| format!("PG {} SCL {} ({} above)", s.pg, s.scl, s.above.len()))
            .collect();
        let images = image::open(&dir).map_err(|e| StorageError::Io {
            what: "opening the image files".into(),
            source: e,
        })?;
        eprintln!(
            "storage node {} (PG {pg}): recovered {} records from a checkpoint and {} from {} log entries scanned in {} log files ({} duplicates, {} truncated, {} off the chain ignored); term {}; {}",
            config.node,
            from_checkpoint,
            counts[0],
            recovered.entries_scanned,
            recovered.files.len(),
            counts[1],
            counts[2],
            counts[3],
            core.term(),
            scls.join(", ")
        );
        let (log_tx, log_rx) = mpsc::channel(LOG_QUEUE_BATCHES_MAX);
        let log_end = recovered.writer.position();
        let node = Node {
            id: config.node,
            pg,
            dir,
            state: Mutex::new(State {
                core,
                cache: PageCache::new(PAGE_CACHE_PAGES_MAX),
                files: recovered.files.into_iter().collect(),
                images: images.files.into_iter().collect(),
                log_end,
            }),
            log_tx,
            meta_lock: tokio::sync::Mutex::new(()),
            group_commits: AtomicU64::new(0),
            image_writer: Arc::new(Mutex::new(images.writer)),
            checkpoint_lock: tokio::sync::Mutex::new(()),
        };
        Ok((Arc::new(node), recovered.writer, log_rx))
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("storage node state lock poisoned")
    }

    /// Answers one request: the core decides, this carries out the step.
    pub(crate) async fn handle(self: &Arc<Self>, req: Request) -> Response {
        if let Request::Open {
            epoch,
            writer,
            pg,
            peers,
            truncations,
            membership,
            me,
            map,
        } = req
        {
            if let Err((code, message)) = self.state().core.check_pg(pg) {
                return Response::Error { code, message };
            }
            // Open is decided under the meta lock, so that concurrent adoptions are serialised.
            return match self
                .adopt(
                    Term { epoch, writer },
                    &truncations,
                    Some(peers),
                    Some((membership, me)),
                    map,
                )
                .await
            {
                Ok(state) => Response::State(state),
                Err((code, message)) => Response::Error { code, message },
            };
        }
        // Decide under the lock; do the I/O after it is released.
        let next = {
            let mut guard = self.state();
            let st = &mut *guard;
            let step = {
                let cache = &st.cache;
                st.core.handle(req, &|page| cache.lsn(page))
            };
            match step {
                Step::Reply(r) => return r,
                Step::StoreMeta(_) => unreachable!("only Open changes the meta file"),
                Step::Append { origin, records } => Next::Append(origin, records),
                Step::Fetch { pg, locations } => {
                    let files = file_handles(st, locations.iter().map(|(_, l)| l.file));
                    Next::Fetch(pg, locations, files)
                }
                Step::FetchBase { pg, batch } => {
                    let files = file_handles(st, batch.items.iter().map(|i| i.loc.file));
                    let wanted: BTreeSet<u32> = batch
                        .items
                        .iter()
                        .filter_map(|i| i.image.map(|l| l.file))
                        .collect();
                    let images = wanted
                        .into_iter()
                        .filter_map(|n| st.images.get(&n).map(|f| (n, Arc::clone(f))))
                        .collect();
                    Next::FetchBase(pg, batch, files, images)
                }
                Step::Cached { page, lsn } => match st.cache.get(page, lsn) {
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
                Step::BuildPage {
                    page,
                    base,
                    records,
                } => {
                    let base = match base {
                        Base::Zero => BuildBase::Zero,
                        Base::Cached(lsn) => match st.cache.get(page, lsn) {
                            Some(img) => BuildBase::Ready(lsn, img),
                            None => unreachable!(
                                "cached version {lsn} of page {page} vanished under the lock"
                            ),
                        },
                        Base::Image { lsn, loc } => {
                            BuildBase::Image(lsn, loc, st.images.get(&loc.file).cloned())
                        }
                    };
                    let files = file_handles(st, records.iter().map(|(_, l)| l.file));
                    Next::Build(
                        page,
                        PageBuild {
                            generation: st.cache.generation(),
                            base,
                            records,
                            files,
                        },
                    )
                }
            }
        };
        match next {
            Next::Append(origin, records) => match self.submit(origin, records).await {
                Ok(scls) => Response::WriteAck { scls },
                Err((code, message)) => Response::Error { code, message },
            },
            Next::Fetch(pg, locations, files) => self.fetch_records(pg, locations, files).await,
            Next::FetchBase(pg, batch, files, images) => {
                self.fetch_base(pg, batch, files, images).await
            }
            Next::Build(page, build) => self.build_page(page, build).await,
        }
    }

    /// Adopts `term` (not below the node's) and `truncations` durably, and optionally replaces
    /// the peers. Returns the resulting state.
    pub(crate) async fn adopt(
        self: &Arc<Self>,
        term: Term,
        truncations: &[Truncation],
        peers: Option<Vec<String>>,
        membership: Option<(Membership, String)>,
        map: Option<StoredMap>,
    ) -> Result<SegmentState, Refusal> {
        let _serial = self.meta_lock.lock().await;
        let prepared =
            self.state()
                .core
                .prepare_adopt(term, truncations, peers, membership, map)?;
        let Some(meta) = prepared else {
            return Ok(self.state().core.state());
        };
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
        let mut st = self.state();
        let before = st.core.term();
        let before_membership = st.core.membership().clone();
        let before_map = st.core.map().map_or(0, StoredMap::version);
        if st.core.adopted(meta) {
            st.cache.clear();
        }
        if st.core.membership() != &before_membership {
            let m = st.core.membership();
            eprintln!(
                "storage node {} (PG {}): membership {} adopted: members {:?}{}",
                self.id,
                self.pg,
                m.epoch,
                m.members,
                m.joining
                    .as_ref()
                    .map_or(String::new(), |(s, j)| format!(", {j} joining in slot {s}"))
            );
        }
        if st.core.term() > before {
            eprintln!(
                "storage node {} (PG {}): adopted term {}",
                self.id,
                self.pg,
                st.core.term()
            );
        }
        if let Some(m) = st.core.map()
            && m.version() > before_map
        {
            eprintln!(
                "storage node {}: volume map of {} protection group(s) of {} pages stored",
                self.id,
                m.version(),
                m.pages_per_pg
            );
        }
        Ok(st.core.state())
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
            copied: None,
        };
        if self.log_tx.send(batch).await.is_err() {
            return Err((ErrorCode::Internal, "the log writer has stopped".into()));
        }
        rx.await
            .unwrap_or_else(|_| Err((ErrorCode::Internal, "the log writer has stopped".into())))
    }

    /// Appends a copy repair's records to the log (through the log writer's queue, so that they
    /// share its group commit) and returns their locations once synced. They are not inserted
    /// in the segment: the copy is installed whole, later.
    pub(crate) async fn append_copied(
        &self,
        records: Vec<RedoRecord>,
    ) -> Result<Vec<Location>, Refusal> {
        let (reply, _) = oneshot::channel();
        let (copied, rx) = oneshot::channel();
        let batch = Batch {
            origin: Origin::Gossip,
            records,
            reply,
            copied: Some(copied),
        };
        if self.log_tx.send(batch).await.is_err() {
            return Err((ErrorCode::Internal, "the log writer has stopped".into()));
        }
        rx.await
            .map_err(|_| (ErrorCode::Internal, "the log writer has stopped".into()))
    }

    async fn build_page(&self, page: PageId, build: PageBuild) -> Response {
        let PageBuild {
            generation,
            base,
            records,
            files,
        } = build;
        let planned = records.clone();
        let built = tokio::task::spawn_blocking(move || {
            let base = match base.load(page) {
                Ok(b) => b,
                // A bad base image: rebuild it from the log is the materialiser's job; refuse.
                Err(e) => return Err(e),
            };
            let mut failure = None;
            let result = core::build_page(page, base, &records, |loc| {
                let read = match files.get(&loc.file) {
                    Some(file) => log::read_record(file, loc),
                    None => Err(ReadError::Corrupted {
                        file: loc.file,
                        offset: loc.offset,
                        why: "log file not open".into(),
                    }),
                };
                read.map_err(|e| {
                    let why = e.to_string();
                    failure = Some(e);
                    why
                })
            });
            result.map_err(|why| {
                failure.take().unwrap_or(ReadError::Corrupted {
                    file: 0,
                    offset: 0,
                    why,
                })
            })
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
            Ok(Err(e)) => {
                if let ReadError::Corrupted { file, offset, .. } = &e
                    && let Some(&(lsn, loc)) = planned
                        .iter()
                        .find(|(_, l)| l.file == *file && l.offset == *offset)
                {
                    self.corrupt_found(self.pg, lsn, loc, &e.to_string());
                }
                self.read_failed(e)
            }
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// A held record's log entry failed its check: mark it so that gossip fetches a healthy copy
    /// from a peer (see `core.rs`, "Scrub"). Logged once per record.
    pub(crate) fn corrupt_found(&self, pg: PgId, lsn: Lsn, loc: Location, why: &str) {
        if self.state().core.mark_corrupt(pg, lsn, loc) {
            eprintln!(
                "storage node {}: record {lsn} of PG {pg} is corrupted on disk ({why}); fetching a healthy copy from a peer",
                self.id
            );
        }
    }

    fn read_failed(&self, e: ReadError) -> Response {
        eprintln!("storage node {}: {e}", self.id);
        match e {
            ReadError::Corrupted { .. } => refuse(ErrorCode::Corrupted, e.to_string()),
            ReadError::Io(_) => refuse(ErrorCode::Internal, e.to_string()),
        }
    }

    async fn fetch_records(
        &self,
        pg: PgId,
        locations: Vec<(Lsn, Location)>,
        files: HashMap<u32, Arc<File>>,
    ) -> Response {
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
                            Some((
                                lsn,
                                loc,
                                ReadError::Corrupted {
                                    file: loc.file,
                                    offset: loc.offset,
                                    why,
                                },
                            )),
                        );
                    }
                    Err(e) => return (records, Some((lsn, loc, e))),
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
                if let Some((lsn, loc, e)) = failure {
                    if matches!(e, ReadError::Corrupted { .. }) {
                        self.corrupt_found(pg, lsn, loc, &e.to_string());
                    }
                    // Serve what precedes the bad entry; the peer asks another segment for the rest.
                    if records.is_empty() {
                        return self.read_failed(e);
                    }
                    eprintln!("storage node {}: {e}", self.id);
                }
                self.state().core.records_answer(records)
            }
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

impl Node {
    /// Reads a copy batch (records from the log, images from the image files, every one
    /// checked) and answers with what precedes the first bad one: the asker's cursor then
    /// resumes there, and a corrupt record is repaired like any other.
    async fn fetch_base(
        &self,
        pg: PgId,
        batch: CopyBatch,
        files: HashMap<u32, Arc<File>>,
        images: HashMap<u32, Arc<File>>,
    ) -> Response {
        let planned = batch.items.clone();
        let read = tokio::task::spawn_blocking(move || {
            let mut items = Vec::new();
            for i in &planned {
                let rec = match files.get(&i.loc.file) {
                    Some(f) => log::read_record(f, i.loc),
                    None => Err(ReadError::Corrupted {
                        file: i.loc.file,
                        offset: i.loc.offset,
                        why: "log file not open".into(),
                    }),
                };
                let rec = match rec {
                    Ok(r) if r.lsn == i.lsn && r.pg == pg && r.page == i.page => r,
                    Ok(r) => {
                        let e = ReadError::Corrupted {
                            file: i.loc.file,
                            offset: i.loc.offset,
                            why: format!("expected record {} of PG {pg}, found {}", i.lsn, r.lsn),
                        };
                        return (items, Some((i.lsn, Some(i.loc), e)));
                    }
                    Err(e) => return (items, Some((i.lsn, Some(i.loc), e))),
                };
                let image = match i.image {
                    None => None,
                    Some(l) => {
                        let img = match images.get(&l.file) {
                            Some(f) => image::read_image(f, l, i.page, i.lsn),
                            None => Err(ReadError::Corrupted {
                                file: l.file,
                                offset: l.offset,
                                why: "image file not open".into(),
                            }),
                        };
                        match img {
                            Ok(img) => Some(image::encode_image(pg, i.page, i.lsn, &img)),
                            Err(e) => return (items, Some((i.lsn, None, e))),
                        }
                    }
                };
                items.push(BaseItem { record: rec, image });
            }
            (items, None)
        })
        .await;
        match read {
            Ok((items, failure)) => {
                if let Some((lsn, loc, e)) = failure {
                    if let (Some(loc), ReadError::Corrupted { .. }) = (loc, &e) {
                        self.corrupt_found(pg, lsn, loc, &e.to_string());
                    }
                    if items.is_empty() {
                        return self.read_failed(e);
                    }
                    eprintln!("storage node {}: {e}", self.id);
                }
                self.state().core.base_answer(pg, &batch, items)
            }
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

pub(crate) fn file_handles(
    st: &State,
    numbers: impl Iterator<Item = u32>,
) -> HashMap<u32, Arc<File>> {
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
        // Log only what would change the segment: not duplicates, not truncated records. A copy
        // repair's records are all logged, after the others.
        let mut chosen = {
            let batches: Vec<&[RedoRecord]> = group
                .iter()
                .map(|b| {
                    if b.copied.is_some() {
                        &[][..]
                    } else {
                        b.records.as_slice()
                    }
                })
                .collect();
            node.state().core.select(&batches)
        };
        let selected = chosen.len();
        for (bi, b) in group.iter().enumerate() {
            if b.copied.is_some() {
                chosen.extend((0..b.records.len()).map(|ri| (bi, ri)));
            }
        }
        let entries: Vec<Vec<u8>> = chosen
            .iter()
            .map(|&(bi, ri)| {
                let r = &group[bi].records[ri];
                let mut e =
                    Vec::with_capacity(r.encoded_len() + 9 + log::ENTRY_HEADER_BYTES as usize);
                log::encode_entry(r, &mut e);
                e
            })
            .collect();
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
        let mut copied: HashMap<usize, Vec<Location>> = HashMap::new();
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
            st.log_end = a.end;
            for (k, (&(bi, ri), loc)) in chosen.iter().zip(a.locations).enumerate() {
                if k >= selected {
                    copied.entry(bi).or_default().push(loc);
                    continue;
                }
                let rec = &group[bi].records[ri];
                if st.core.logged(rec, loc) == Inserted::Repaired {
                    eprintln!(
                        "storage node {}: record {} of PG {} repaired: a healthy copy is logged at file {} offset {}",
                        node.id, rec.lsn, rec.pg, loc.file, loc.offset
                    );
                }
            }
        }
        let acks: Vec<_> = group
            .iter()
            .map(|b| st.core.answer_write(b.origin, &b.records))
            .collect();
        drop(st);
        for (bi, (b, ack)) in group.into_iter().zip(acks).enumerate() {
            match b.copied {
                Some(tx) => {
                    let _ = tx.send(copied.remove(&bi).unwrap_or_default());
                }
                None => {
                    let _ = b.reply.send(ack);
                }
            }
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
        let config = NodeConfig::new(NodeId(1), dir.clone());
        let (node, writer, rx) = Node::open(&config, PgId(0)).expect("open");
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
                known_vdl: Lsn::ZERO,
                cpl: true,
                payload: Payload::Init(vec![lsn as u8; 10]),
            };
            node.log_tx
                .try_send(Batch {
                    origin: Origin::Writer(Term::default()),
                    records: vec![rec],
                    reply,
                    copied: None,
                })
                .unwrap_or_else(|_| panic!("queue has room"));
            replies.push(r);
        }
        assert_eq!(
            node.state().core.segment().scl(PgId(0)),
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
            .core
            .segment()
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

    #[tokio::test]
    async fn a_copys_records_are_logged_but_not_inserted() {
        let dir = std::env::temp_dir().join(format!("borealis-node-copy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = NodeConfig::new(NodeId(1), dir.clone());
        let (node, writer, rx) = Node::open(&config, PgId(0)).expect("open");
        let task = tokio::spawn(log_writer(Arc::clone(&node), rx, writer));
        let rec = |lsn: u64| RedoRecord {
            lsn: Lsn(lsn),
            pg: PgId(0),
            prev_pg_lsn: Lsn(lsn - 1),
            page: PageId(1),
            prev_page_lsn: Lsn(lsn - 1),
            known_vdl: Lsn::ZERO,
            cpl: true,
            payload: Payload::Init(vec![lsn as u8; 10]),
        };
        // A copy of records 1..=3 (they would chain): durable, located, and not in the segment.
        let locs = node
            .append_copied((1..=3).map(rec).collect())
            .await
            .expect("logged");
        assert_eq!(locs.len(), 3);
        assert_eq!(node.state().core.segment().scl(PgId(0)), Lsn(0));
        assert_eq!(node.state().core.segment().held_count(), 0);
        let file = Arc::clone(&node.state().files[&locs[2].file]);
        assert_eq!(log::read_record(&file, locs[2]).expect("read").lsn, Lsn(3));
        // A write of the same records afterwards is logged and inserted as usual.
        let scls = node
            .submit(Origin::Writer(Term::default()), (1..=3).map(rec).collect())
            .await
            .expect("acknowledged");
        assert_eq!(scls, vec![(PgId(0), Lsn(3))]);
        task.abort();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
