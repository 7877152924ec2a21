//! The storage node's protocol core, sans-IO: a decoded request in, a [`Step`] out.
//!
//! Everything a storage node *decides* lives here: the epoch rule (fencing), which records of a
//! batch are worth logging, when a batch may be acknowledged and with which SCLs, how a page is
//! built at a read point, what a gossip answer carries, and what gossip asks of whom. Everything a
//! node *does* — files, fsync, sockets, timers, tasks — belongs to a driver. Two drivers call this
//! core: the tokio/disk driver of the real process (`node.rs`, `gossip.rs`, `server.rs`) and the
//! deterministic simulator (`borealis-sim`), which gives it a simulated disk and network. Nothing
//! here reads a clock (time comes in as `now_ms`), spawns a task or touches a file.
//!
//! ```text
//!   request ──▶ NodeCore::handle ──▶ Step::Reply(response)                 answer now
//!                                    Step::StoreMeta(meta) ──driver: make meta durable──▶
//!                                        NodeCore::adopted(meta) ──▶ answer State
//!                                    Step::Append{origin, records} ──driver: append, sync──▶
//!                                        NodeCore::logged(record, location) for each,
//!                                        NodeCore::answer_write(origin, records) ──▶ WriteAck
//!                                    Step::BuildPage{..} ──driver: read log entries (CRC)──▶
//!                                        apply in order ──▶ Page
//!                                    Step::Fetch{..} ──driver: read log entries──▶ Records
//!
//!   ScrubCore::tick(now_ms, core) ──▶ the next held records to re-read (bounded bytes per tick)
//!        driver: read each entry, CRC-checked ──bad──▶ NodeCore::mark_corrupt
//!   GossipCore::tick(now_ms, core) ──▶ asks: FetchRecords to one peer per PG (round robin),
//!                                      and one per corrupt record (its healthy copy)
//!   GossipCore::on_answer(core, ask, response) ──▶ term/truncations to adopt first, then records
//!                                                   to submit like a write (Origin::Gossip)
//! ```
//!
//! # Fencing (Aurora SIGMOD 2018 §2.2: epochs instead of leases)
//!
//! The node has adopted one [`Term`] — the pair (epoch, writer id) — durably in its meta file. A
//! writer's `Open` with a lower term is refused with `StaleEpoch`; an equal or higher one is made
//! durable (driver) and then adopted. `Write` and `GetPage` must carry exactly the adopted term:
//! lower is `StaleEpoch` (the sender has been fenced), higher is `BadRequest` ("Open first").
//! Ordering by the pair and not the epoch alone closes a gap: two writers starting at once both
//! pick "highest epoch seen + 1", and a node that accepted an `Open` whose epoch merely *equals*
//! its own would let both write. With the writer id as tie-breaker exactly one of them is ever
//! accepted at a node once it has seen both, and only one can gather a write quorum.
//!
//! # Membership (Aurora SIGMOD 2018 §3)
//!
//! The node also adopts, with every `Open`, the protection group's [`Membership`] and the address
//! the writer knows it by (`me`), durably in the meta file. A membership whose epoch is below the
//! adopted one is refused (`StaleMembership`). `Write` and `GetPage` must carry exactly the
//! adopted membership epoch (lower: `StaleMembership`; higher: "Open first"), and are refused
//! with `StaleMembership` when the adopted membership does not name `me`: a member dropped by a
//! completed replacement never adopts the membership that dropped it, and a node that is not a
//! member takes no writes. A node that never adopted a membership (epoch 0) accepts epoch 0 only:
//! volumes from before memberships keep working until their writer's first `Open`.
//!
//! # Invariants
//!
//! - The adopted term never decreases (asserted in [`NodeCore::adopted`]), nor does the adopted
//!   membership epoch.
//! - A record enters the segment (SCL, page index, gossip answers) only through
//!   [`NodeCore::logged`], which a driver calls only after the record's log entry is synced.
//! - A batch is acknowledged only with the SCLs computed after its records were inserted; a batch
//!   whose writer's term was overtaken meanwhile is answered `StaleEpoch`, never acknowledged.
//! - A record covered by a known truncation is never logged, held or served.
//!
//! # Copy repair (issue 3, item 5: a replacement or an emptied disk on a volume with a history)
//!
//! Gossip asks for the records above the SCL. A peer that collected above it cannot answer
//! (`BelowHorizon`: "records ... were collected"); [`GossipCore::on_answer`] then names that peer,
//! and the driver starts a copy of it with [`NodeCore::begin_copy`]. While a PG copies, gossip asks
//! that peer `FetchBase` instead of `FetchRecords`, one answer at a time with a cursor:
//!
//! ```text
//!   FetchRecords{after: SCL} ──▶ BelowHorizon ──▶ begin_copy(pg, peer)
//!   FetchBase{floor, after: cursor} ──▶ Base{floor, floor_cpl, horizon, items, next}
//!     GossipCore::on_base_answer: check it (order, PG, LSN ≤ floor, image CRCs) ──bad──▶ abandon
//!     adopt a newer term / truncations first (durably), then
//!     driver: append the records to the log and the images to an image file, ONE sync each
//!     NodeCore::copied(locations): a new floor on the peer restarts the cut; next cursor
//!   next = None (the cut is complete):
//!     NodeCore::prepare_install ──▶ the checkpoint of the segment as it will be
//!     driver: store that checkpoint (atomically) ──▶ NodeCore::install_copy ──▶ gossip goes on
//!     above the floor
//! ```
//!
//! Copied records are *not* inserted while the copy runs: the segment keeps answering as before,
//! from its old chain. The copy becomes visible only through [`NodeCore::install_copy`], after the
//! checkpoint that describes it is durable; a crash before that restarts the node exactly as it
//! was (recovery may read copied records back from the log: they are genuine records of the PG,
//! held above the SCL like any record that arrived early) and gossip starts the copy again. The
//! log and image files a running copy wrote are named by [`NodeCore::referenced_files`], so
//! checkpoints do not delete them under it. Drivers serialise the install's checkpoint with the
//! materialiser's, so an older snapshot never replaces it.
//!
//! # Scrub (issue 3, item 7; Aurora SIGMOD 2017 §3.3 step 8, "periodically validate CRC codes")
//!
//! [`ScrubCore`] walks every held record in (PG, LSN) order, at most [`SCRUB_BYTES_PER_TICK`]
//! bytes of log entries every [`SCRUB_INTERVAL_MS`], and starts over when it reaches the end. The
//! driver re-reads each entry with its CRC checked; an entry that fails is reported with
//! [`NodeCore::mark_corrupt`] (so are entries a page build or a gossip answer found bad). Gossip
//! then asks a peer for exactly that record; its healthy copy is logged anew like any fetched
//! record and the segment moves the record's location to the new entry. Corrupt bytes are never
//! served meanwhile: every read checks the CRC.

use crate::image::{IMAGE_ENTRY_BYTES, decode_image};
use crate::limits::{
    CHECKPOINT_HELD_PER_RECORD, CHECKPOINT_INTERVAL_MS, CHECKPOINT_RECORDS_MIN, COPY_STALL_MS,
    GOSSIP_FETCH_RECORDS_MAX, GOSSIP_INTERVAL_MS, GOSSIP_REPAIR_ASKS_MAX, MATERIALISE_INTERVAL_MS,
    MATERIALISE_PAGES_PER_TICK, PEER_LAG_LSNS_MAX, RETENTION_LSNS_DEFAULT, SCRUB_BYTES_PER_TICK,
    SCRUB_INTERVAL_MS,
};
use crate::meta::Meta;
use crate::segment::{
    Base, Collected, CopyBatch, CopyRefused, HeldRecord, Inserted, Location, PagePlan, Segment,
    SegmentSnapshot,
};
use borealis_common::Payload;
use borealis_common::limits::{COPY_ANSWER_BYTES_MAX, RECORDS_PER_MESSAGE_MAX, TRUNCATIONS_MAX};
use borealis_common::proto::{
    BaseAnswer, BaseItem, ErrorCode, Membership, ReadHorizon, Request, Response, SegmentState,
    StoredMap, Term, Truncation,
};
use borealis_common::{Lsn, MembershipEpoch, NodeId, PAGE_SIZE, PageId, PgId, RedoRecord, redo};
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// A refusal, as it goes on the wire.
pub type Refusal = (ErrorCode, String);

/// Who sent a batch of records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A writer holding this term.
    Writer(Term),
    /// A peer, through gossip.
    Gossip,
}

/// What a driver must do to answer one request.
#[derive(Debug)]
pub enum Step {
    /// Answer with this, now.
    Reply(Response),
    /// Make `meta` durable (replace the meta file atomically), then call [`NodeCore::adopted`]
    /// and answer `State` with [`NodeCore::state`].
    StoreMeta(Meta),
    /// Append `records` to the log (only those [`NodeCore::select`] chooses, deduplicated across
    /// every batch of a group commit), sync, call [`NodeCore::logged`] for each, then answer with
    /// [`NodeCore::answer_write`].
    Append {
        origin: Origin,
        records: Vec<RedoRecord>,
    },
    /// The page version cached by the driver (at this LSN) is exactly the page at the read point.
    Cached { page: PageId, lsn: Lsn },
    /// Read `records` of `page` from the log (each checked), apply them in order to `base`
    /// ([`build_page`]) and answer `Page`.
    BuildPage {
        page: PageId,
        base: Base,
        records: Vec<(Lsn, Location)>,
    },
    /// Read these records of `pg` from the log and answer with [`NodeCore::records_answer`].
    Fetch {
        pg: PgId,
        locations: Vec<(Lsn, Location)>,
    },
    /// Read the batch's records from the log and its images from the image files (each checked)
    /// and answer with [`NodeCore::base_answer`].
    FetchBase { pg: PgId, batch: CopyBatch },
}

/// A copy of a peer's cut in progress (see "Copy repair" above). Held in memory only: a restart
/// forgets it, and gossip starts it again.
#[derive(Clone, Debug)]
pub struct CopyState {
    /// The peer copied from (the whole cut comes from one peer: cuts of two peers do not mix).
    pub peer: String,
    /// The cut being copied; 0 until the first answer.
    pub floor: Lsn,
    pub floor_cpl: Lsn,
    pub horizon: Lsn,
    /// The cursor to ask with next.
    pub next: Option<(PageId, Lsn)>,
    /// The last answer said the cut is complete.
    pub complete: bool,
    /// Copied records, durable in this node's log.
    pub records: Vec<HeldRecord>,
    /// Copied bases, durable in this node's image files.
    pub bases: Vec<(PageId, Lsn, Location)>,
    /// Bytes copied (record entries and images), across restarts of the cut.
    pub bytes: u64,
    /// Times the peer's floor moved under the copy, so that it started over.
    pub restarts: u32,
}

/// What [`NodeCore::copied`] made of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyProgress {
    /// More to ask.
    More,
    /// The cut is complete: install it.
    Complete,
    /// No copy of this PG from this peer runs any more: the answer was ignored.
    Ignored,
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> Response {
    Response::Error {
        code,
        message: message.into(),
    }
}

/// The protocol state of one storage node: adopted term, peers, and the segment.
#[derive(Debug)]
pub struct NodeCore {
    id: NodeId,
    term: Term,
    peers: Vec<String>,
    /// The protection group this segment belongs to (a node holds one segment per PG, each with
    /// its own core, log and meta file).
    pg: PgId,
    /// The PG's membership, and the address the writer knows this node by.
    membership: Membership,
    me: String,
    /// Segments of PG 0: the volume map the writer stored here.
    map: Option<StoredMap>,
    segment: Segment,
    /// The highest read horizon a writer holding the adopted term reported.
    reported: ReadHorizon,
    /// Kept below PGMRPL for backtrack / point-in-time restore and lagging peers.
    retention_lsns: u64,
    /// Records logged since the last checkpoint.
    logged_since_checkpoint: u64,
    /// A lagging or lost peer holds collection back by at most this many LSNs below PGMRPL.
    peer_lag_lsns: u64,
    /// Copies of a peer's cut in progress, by PG.
    copies: BTreeMap<PgId, CopyState>,
    /// Bytes asked for per `FetchBase` answer.
    copy_bytes_max: u32,
}

impl NodeCore {
    /// A node as its meta file describes it, holding no records yet: recovery then offers every
    /// record found in the log with [`NodeCore::recover`].
    #[must_use]
    pub fn new(meta: &Meta) -> NodeCore {
        NodeCore {
            id: meta.node,
            term: Term {
                epoch: meta.epoch,
                writer: meta.writer,
            },
            peers: meta.peers.clone(),
            pg: meta.pg,
            membership: meta.membership.clone(),
            me: meta.me.clone(),
            map: meta.map.clone(),
            segment: Segment::of(meta.pg, meta.truncations.clone()),
            reported: ReadHorizon::default(),
            retention_lsns: RETENTION_LSNS_DEFAULT,
            logged_since_checkpoint: 0,
            peer_lag_lsns: PEER_LAG_LSNS_MAX,
            copies: BTreeMap::new(),
            copy_bytes_max: COPY_ANSWER_BYTES_MAX,
        }
    }

    /// A node as its meta file and its checkpoint describe it: recovery then offers the records
    /// logged after the checkpoint with [`NodeCore::recover`].
    #[must_use]
    pub fn restore(meta: &Meta, snapshot: &SegmentSnapshot) -> NodeCore {
        let mut core = NodeCore::new(meta);
        core.segment = Segment::restore_of(meta.pg, meta.truncations.clone(), snapshot);
        core
    }

    /// Sets the retention below PGMRPL, in LSNs (default
    /// [`RETENTION_LSNS_DEFAULT`]).
    pub fn set_retention(&mut self, lsns: u64) {
        self.retention_lsns = lsns;
    }

    /// Sets how far below PGMRPL a lagging peer may hold collection back, in LSNs (default
    /// [`PEER_LAG_LSNS_MAX`]). Beyond it, the lagging peer needs a copy.
    pub fn set_peer_lag(&mut self, lsns: u64) {
        self.peer_lag_lsns = lsns;
    }

    /// Sets the bytes asked for per `FetchBase` answer (default and maximum
    /// [`COPY_ANSWER_BYTES_MAX`]; the simulator asks for less, to copy in many pages).
    pub fn set_copy_bytes_max(&mut self, bytes: u32) {
        self.copy_bytes_max = bytes.clamp(1, COPY_ANSWER_BYTES_MAX);
    }

    /// The read horizon writers reported.
    #[must_use]
    pub fn reported_horizon(&self) -> ReadHorizon {
        self.reported
    }

    /// Where collection may go now: `min(PGMRPL, what every segment holds)` — but a lagging or
    /// lost segment holds collection back by at most [`PEER_LAG_LSNS_MAX`] (or what
    /// [`set_peer_lag`](Self::set_peer_lag) set) — minus the
    /// retention. Never above PGMRPL.
    #[must_use]
    pub fn collect_horizon(&self) -> Lsn {
        let ReadHorizon {
            pgmrpl,
            held_by_all,
        } = self.reported;
        let peers = held_by_all.max(Lsn(pgmrpl.0.saturating_sub(self.peer_lag_lsns)));
        let h = Lsn(pgmrpl.min(peers).0.saturating_sub(self.retention_lsns));
        assert!(h <= pgmrpl, "collection never passes PGMRPL");
        h
    }

    /// Collects every PG below [`collect_horizon`](Self::collect_horizon).
    pub fn collect(&mut self) -> Collected {
        let h = self.collect_horizon();
        let mut total = Collected::default();
        for pg in self.segment.pg_ids() {
            let c = self.segment.collect(pg, h);
            total.records += c.records;
            total.versions += c.versions;
            total.bases += c.bases;
        }
        total
    }

    /// A base of `page` at `lsn` is durable at `loc`: builds start from it from now on.
    pub fn materialised(&mut self, pg: PgId, page: PageId, lsn: Lsn, loc: Location) -> bool {
        self.segment.add_base(pg, page, lsn, loc)
    }

    /// Records logged since the last checkpoint.
    #[must_use]
    pub fn logged_since_checkpoint(&self) -> u64 {
        self.logged_since_checkpoint
    }

    /// A checkpoint of the segment as it is now was made durable.
    pub fn checkpointed(&mut self) {
        self.logged_since_checkpoint = 0;
    }

    /// Offers a record read back from the log during recovery.
    pub fn recover(&mut self, rec: &RedoRecord, loc: Location) -> Inserted {
        self.segment.insert(rec, loc)
    }

    #[must_use]
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The adopted term.
    #[must_use]
    pub fn term(&self) -> Term {
        self.term
    }

    /// The peers this node gossips with.
    #[must_use]
    pub fn peers(&self) -> &[String] {
        &self.peers
    }

    /// The segment (SCL, page index, truncations).
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.segment
    }

    /// What the meta file holds now.
    #[must_use]
    pub fn meta(&self) -> Meta {
        Meta {
            node: self.id,
            epoch: self.term.epoch,
            writer: self.term.writer,
            truncations: self.segment.truncations().to_vec(),
            peers: self.peers.clone(),
            membership: self.membership.clone(),
            me: self.me.clone(),
            pg: self.pg,
            map: self.map.clone(),
        }
    }

    /// The protection group of this segment.
    #[must_use]
    pub fn pg(&self) -> PgId {
        self.pg
    }

    /// The volume map held (segments of PG 0).
    #[must_use]
    pub fn map(&self) -> Option<&StoredMap> {
        self.map.as_ref()
    }

    /// The adopted membership.
    #[must_use]
    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    /// Requests name the PG of the segment they are for (the node routes them by it).
    pub fn check_pg(&self, pg: PgId) -> Result<(), Refusal> {
        if pg == self.pg {
            Ok(())
        } else {
            Err((
                ErrorCode::BadRequest,
                format!(
                    "a request for PG {pg} reached the segment of PG {}",
                    self.pg
                ),
            ))
        }
    }

    /// The membership rule of writes and reads: exactly the adopted epoch, and the adopted
    /// membership names this node.
    pub fn check_membership(&self, epoch: MembershipEpoch) -> Result<(), Refusal> {
        let ours = self.membership.epoch;
        if epoch < ours {
            return Err((
                ErrorCode::StaleMembership,
                format!("membership epoch {epoch} is below the adopted {ours}"),
            ));
        }
        if epoch > ours {
            return Err((
                ErrorCode::BadRequest,
                format!("membership epoch {epoch} is above the adopted {ours}: Open first"),
            ));
        }
        if ours.0 > 0 && !self.membership.names(&self.me) {
            return Err((
                ErrorCode::StaleMembership,
                format!(
                    "{} is not a member of membership {ours}: it takes no writes",
                    self.me
                ),
            ));
        }
        Ok(())
    }

    /// The node's state, as `Open` and `GetState` report it.
    #[must_use]
    pub fn state(&self) -> SegmentState {
        SegmentState {
            node: self.id,
            epoch: self.term.epoch,
            writer: self.term.writer,
            membership: self.membership.clone(),
            truncations: self.segment.truncations().to_vec(),
            pgs: self.segment.pg_states(),
            map: self.map.clone(),
        }
    }

    /// The term rule of writes and reads: exactly the adopted term.
    pub fn check_term(&self, term: Term) -> Result<(), Refusal> {
        if term < self.term {
            return Err((
                ErrorCode::StaleEpoch,
                format!("term {term} is below the adopted term {}", self.term),
            ));
        }
        if term > self.term {
            return Err((
                ErrorCode::BadRequest,
                format!(
                    "term {term} is above the adopted term {}: Open first",
                    self.term
                ),
            ));
        }
        Ok(())
    }

    /// Decides how to answer `req`. `cached` tells which version of a page the driver's page
    /// cache holds, if any.
    pub fn handle(&mut self, req: Request, cached: &dyn Fn(PageId) -> Option<Lsn>) -> Step {
        match req {
            Request::Open {
                epoch,
                writer,
                pg,
                peers,
                truncations,
                membership,
                me,
                map,
            } => match self.check_pg(pg).and_then(|()| {
                self.prepare_adopt(
                    Term { epoch, writer },
                    &truncations,
                    Some(peers),
                    Some((membership, me)),
                    map,
                )
            }) {
                Ok(Some(meta)) => Step::StoreMeta(meta),
                Ok(None) => Step::Reply(Response::State(self.state())),
                Err((code, message)) => Step::Reply(Response::Error { code, message }),
            },
            // Answered whatever the epoch: it changes nothing, and a writer starting recovery
            // learns the current epoch from it before it can choose a higher one.
            Request::GetState { epoch: _, pg } => match self.check_pg(pg) {
                Ok(()) => Step::Reply(Response::State(self.state())),
                Err((code, message)) => Step::Reply(Response::Error { code, message }),
            },
            Request::Write {
                epoch,
                writer,
                pg,
                membership,
                horizon,
                records,
            } => {
                let term = Term { epoch, writer };
                if let Err((code, message)) = self
                    .check_pg(pg)
                    .and_then(|()| self.check_term(term))
                    .and_then(|()| self.check_membership(membership))
                {
                    return Step::Reply(Response::Error { code, message });
                }
                // Only the writer holding the adopted term speaks for the read points in use.
                self.reported.pgmrpl = self.reported.pgmrpl.max(horizon.pgmrpl);
                self.reported.held_by_all = self.reported.held_by_all.max(horizon.held_by_all);
                if let Some(r) = records.iter().find(|r| r.pg != self.pg) {
                    return Step::Reply(refuse(
                        ErrorCode::BadRequest,
                        format!(
                            "record {} of page {} names PG {}, but this is a segment of PG {}",
                            r.lsn, r.page, r.pg, self.pg
                        ),
                    ));
                }
                Step::Append {
                    origin: Origin::Writer(term),
                    records,
                }
            }
            Request::GetPage {
                epoch,
                writer,
                pg,
                membership,
                page,
                read_point,
                pg_point,
            } => {
                if let Err((code, message)) = self
                    .check_pg(pg)
                    .and_then(|()| self.check_term(Term { epoch, writer }))
                    .and_then(|()| self.check_membership(membership))
                {
                    return Step::Reply(Response::Error { code, message });
                }
                match self
                    .segment
                    .page_plan(page, read_point, pg_point, cached(page))
                {
                    PagePlan::NotReady { scl } => Step::Reply(refuse(
                        ErrorCode::NotReady,
                        format!("SCL {scl} is below PG point {pg_point} (read point {read_point})"),
                    )),
                    PagePlan::BelowHorizon { horizon } => Step::Reply(refuse(
                        ErrorCode::BelowHorizon,
                        format!(
                            "read point {read_point} is below the collected horizon {horizon} (PGMRPL {})",
                            self.reported.pgmrpl
                        ),
                    )),
                    PagePlan::Absent => Step::Reply(Response::Page {
                        lsn: Lsn::ZERO,
                        image: None,
                    }),
                    PagePlan::Cached(lsn) => Step::Cached { page, lsn },
                    PagePlan::Build { base, records } => Step::BuildPage {
                        page,
                        base,
                        records,
                    },
                }
            }
            Request::FetchRecords {
                pg,
                after,
                upto,
                max_records,
            } => {
                if let Err((code, message)) = self.check_pg(pg) {
                    return Step::Reply(Response::Error { code, message });
                }
                let max = max_records.min(RECORDS_PER_MESSAGE_MAX) as usize;
                let floor = self.segment.floor(pg);
                if after < floor {
                    // The chain below the floor was collected: the asker needs a copy, not gossip.
                    return Step::Reply(refuse(
                        ErrorCode::BelowHorizon,
                        format!("records of PG {pg} at or below {floor} were collected"),
                    ));
                }
                Step::Fetch {
                    pg,
                    locations: self.segment.fetch(pg, after, upto, max),
                }
            }
            Request::FetchBase {
                pg,
                floor,
                after,
                bytes_max,
            } => {
                if let Err((code, message)) = self.check_pg(pg) {
                    return Step::Reply(Response::Error { code, message });
                }
                // A cursor is only meaningful in the cut it was taken from: on a new floor the
                // asker gets the first items of the new cut, and starts over.
                let after = if floor == self.segment.floor(pg) {
                    after
                } else {
                    None
                };
                let batch = self.segment.base_batch(
                    pg,
                    after,
                    u64::from(bytes_max.clamp(1, COPY_ANSWER_BYTES_MAX)),
                    IMAGE_ENTRY_BYTES as u64,
                    RECORDS_PER_MESSAGE_MAX as usize,
                );
                Step::FetchBase { pg, batch }
            }
        }
    }

    /// Decides whether to adopt `term` and `truncations` (and `peers` and the membership with
    /// this node's address, if given). `Ok(None)`: the node knows all of it already.
    /// `Ok(Some(meta))`: make `meta` durable, then call [`adopted`](Self::adopted). A term below
    /// the adopted one is refused, and so is a membership whose epoch is below the adopted one.
    pub fn prepare_adopt(
        &self,
        term: Term,
        truncations: &[Truncation],
        peers: Option<Vec<String>>,
        membership: Option<(Membership, String)>,
        map: Option<StoredMap>,
    ) -> Result<Option<Meta>, Refusal> {
        if term < self.term {
            return Err((
                ErrorCode::StaleEpoch,
                format!("term {term} is below the adopted term {}", self.term),
            ));
        }
        if let Some((m, _)) = &membership
            && m.epoch < self.membership.epoch
        {
            return Err((
                ErrorCode::StaleMembership,
                format!(
                    "membership epoch {} is below the adopted {}",
                    m.epoch, self.membership.epoch
                ),
            ));
        }
        let mut all = self.segment.truncations().to_vec();
        for t in truncations {
            if !all.contains(t) {
                all.push(*t);
            }
        }
        if all.len() > TRUNCATIONS_MAX as usize {
            return Err((ErrorCode::BadRequest, "too many truncations".into()));
        }
        let peers = peers.unwrap_or_else(|| self.peers.clone());
        let (membership, me) =
            membership.unwrap_or_else(|| (self.membership.clone(), self.me.clone()));
        if map.is_some() && self.pg != PgId(0) {
            return Err((
                ErrorCode::BadRequest,
                format!("the volume map is kept by PG 0, not PG {}", self.pg),
            ));
        }
        // The map only grows: an older one (a writer that grew less) changes nothing.
        let map = match (map, &self.map) {
            (Some(new), Some(old)) if new.version() <= old.version() => Some(old.clone()),
            (Some(new), _) => Some(new),
            (None, old) => old.clone(),
        };
        if term == self.term
            && all.len() == self.segment.truncations().len()
            && peers == self.peers
            && membership == self.membership
            && me == self.me
            && map == self.map
        {
            return Ok(None);
        }
        Ok(Some(Meta {
            node: self.id,
            epoch: term.epoch,
            writer: term.writer,
            truncations: all,
            peers,
            membership,
            me,
            pg: self.pg,
            map,
        }))
    }

    /// Adopts what a durable meta file now says. Returns whether truncations were learned (the
    /// driver then drops cached page versions).
    pub fn adopted(&mut self, meta: Meta) -> bool {
        let term = Term {
            epoch: meta.epoch,
            writer: meta.writer,
        };
        assert!(
            term >= self.term,
            "the adopted term never decreases ({} -> {term})",
            self.term
        );
        assert_eq!(meta.node, self.id, "a meta file of another node");
        assert!(
            meta.membership.epoch >= self.membership.epoch,
            "the adopted membership epoch never decreases ({} -> {})",
            self.membership.epoch,
            meta.membership.epoch
        );
        self.term = term;
        self.peers = meta.peers;
        assert_eq!(meta.pg, self.pg, "a meta file of another PG's segment");
        if let (Some(new), Some(old)) = (&meta.map, &self.map) {
            assert!(
                new.version() >= old.version(),
                "the volume map never shrinks"
            );
        }
        self.membership = meta.membership;
        self.me = meta.me;
        self.map = meta.map;
        match self.segment.merge_truncations(&meta.truncations) {
            Ok(learned) => learned,
            Err(e) => unreachable!("truncation count was checked by prepare_adopt: {e}"),
        }
    }

    /// Chooses which records of a group of batches to log: only those that would change the
    /// segment (not held, not truncated), each once. Returns `(batch, record)` indexes.
    #[must_use]
    pub fn select(&self, batches: &[&[RedoRecord]]) -> Vec<(usize, usize)> {
        let mut seen = HashSet::new();
        let mut chosen = Vec::new();
        for (bi, b) in batches.iter().enumerate() {
            for (ri, r) in b.iter().enumerate() {
                if self.segment.wants(r) && seen.insert((r.pg, r.lsn)) {
                    chosen.push((bi, ri));
                }
            }
        }
        chosen
    }

    /// The log entry of held record `lsn` of `pg` at `loc` failed its check (CRC, length, or it
    /// is not that record): gossip will fetch a healthy copy. Returns whether this is news.
    pub fn mark_corrupt(&mut self, pg: PgId, lsn: Lsn, loc: Location) -> bool {
        self.segment.mark_corrupt(pg, lsn, loc)
    }

    /// A record's log entry is durable at `loc`: the record joins the segment.
    pub fn logged(&mut self, rec: &RedoRecord, loc: Location) -> Inserted {
        self.logged_since_checkpoint += 1;
        self.segment.insert(rec, loc)
    }

    /// The answer to a batch once its records are durable and inserted: the SCL of every PG it
    /// touched, or `StaleEpoch` if its writer's term was overtaken meanwhile.
    pub fn answer_write(
        &self,
        origin: Origin,
        records: &[RedoRecord],
    ) -> Result<Vec<(PgId, Lsn)>, Refusal> {
        if let Origin::Writer(t) = origin
            && t < self.term
        {
            return Err((
                ErrorCode::StaleEpoch,
                format!("term {t} was overtaken by term {}", self.term),
            ));
        }
        let pgs: BTreeSet<PgId> = records.iter().map(|r| r.pg).collect();
        Ok(pgs
            .into_iter()
            .map(|pg| (pg, self.segment.scl(pg)))
            .collect())
    }

    /// A copy answer: `batch` as planned by [`Step::FetchBase`], with its records and images read
    /// back (and checked) by the driver, in the batch's order. A driver that could read only a
    /// prefix of the batch passes that prefix: the cursor then points after its last item.
    #[must_use]
    pub fn base_answer(&self, pg: PgId, batch: &CopyBatch, items: Vec<BaseItem>) -> Response {
        let complete = items.len() == batch.items.len();
        let next = if complete {
            batch.next
        } else {
            items.last().map(|i| (i.record.page, i.record.lsn))
        };
        Response::Base(Box::new(BaseAnswer {
            epoch: self.term.epoch,
            writer: self.term.writer,
            truncations: self.segment.truncations().to_vec(),
            pg,
            floor: batch.floor,
            floor_cpl: batch.floor_cpl,
            horizon: batch.horizon,
            items,
            next,
        }))
    }

    /// Starts a copy of `peer`'s cut of `pg` (gossip met its collection floor), unless one runs.
    /// Returns whether one was started.
    pub fn begin_copy(&mut self, pg: PgId, peer: &str) -> bool {
        if self.copies.contains_key(&pg) {
            return false;
        }
        self.copies.insert(
            pg,
            CopyState {
                peer: peer.to_string(),
                floor: Lsn::ZERO,
                floor_cpl: Lsn::ZERO,
                horizon: Lsn::ZERO,
                next: None,
                complete: false,
                records: Vec::new(),
                bases: Vec::new(),
                bytes: 0,
                restarts: 0,
            },
        );
        true
    }

    /// The copy of `pg` in progress, if any.
    #[must_use]
    pub fn copying(&self, pg: PgId) -> Option<&CopyState> {
        self.copies.get(&pg)
    }

    /// Gives up the copy of `pg` (the peer failed or answered nonsense); gossip goes on, and a
    /// later `BelowHorizon` starts another.
    pub fn abandon_copy(&mut self, pg: PgId) -> Option<CopyState> {
        self.copies.remove(&pg)
    }

    /// The records and images of a checked answer (see [`GossipCore::on_base_answer`]) are
    /// durable: `records[i]` at `record_locs[i]`, and each image at the next of `image_locs`, in
    /// item order. Records a known truncation covers are kept out of the cut.
    pub fn copied(
        &mut self,
        peer: &str,
        asked: CopyAsk,
        answer: &BaseAnswer,
        record_locs: &[Location],
        image_locs: &[Location],
    ) -> CopyProgress {
        let Some(c) = self.copies.get_mut(&answer.pg) else {
            return CopyProgress::Ignored;
        };
        if c.peer != peer || c.complete || (asked.floor, asked.after) != (c.floor, c.next) {
            // A late or duplicated answer to a question already answered.
            return CopyProgress::Ignored;
        }
        assert_eq!(
            record_locs.len(),
            answer.items.len(),
            "one log entry per copied record"
        );
        assert_eq!(
            image_locs.len(),
            answer.items.iter().filter(|i| i.image.is_some()).count(),
            "one image entry per copied image"
        );
        if answer.floor != c.floor {
            // The peer collected further (or this is the first answer): a new cut.
            if c.floor != Lsn::ZERO {
                c.restarts += 1;
            }
            c.floor = answer.floor;
            c.floor_cpl = answer.floor_cpl;
            c.horizon = answer.horizon;
            c.records.clear();
            c.bases.clear();
        }
        let mut images = image_locs.iter();
        for (item, &loc) in answer.items.iter().zip(record_locs) {
            let r = &item.record;
            c.bytes += u64::from(loc.len);
            if let Some(&img) = item.image.as_ref().and_then(|_| images.next()) {
                c.bytes += u64::from(img.len);
                c.bases.push((r.page, r.lsn, img));
            }
            if self.segment.is_truncated(answer.pg, r.lsn) {
                continue;
            }
            c.records.push(HeldRecord {
                lsn: r.lsn,
                prev_pg_lsn: r.prev_pg_lsn,
                page: r.page,
                cpl: r.cpl,
                init: matches!(r.payload, Payload::Init(_)),
                loc,
            });
        }
        c.next = answer.next;
        if c.next.is_none() {
            c.complete = true;
            CopyProgress::Complete
        } else {
            CopyProgress::More
        }
    }

    /// The checkpoint of the segment as it will be once the complete copy of `pg` is installed:
    /// the driver stores it, then calls [`install_copy`](Self::install_copy). Changes nothing.
    pub fn prepare_install(&self, pg: PgId) -> Result<SegmentSnapshot, CopyRefused> {
        let mut seg = self.segment.clone();
        Self::install_into(&mut seg, pg, self.copies.get(&pg))?;
        Ok(seg.snapshot())
    }

    /// Installs the complete copy of `pg`, once the checkpoint from
    /// [`prepare_install`](Self::prepare_install) is durable. The copy ends either way.
    pub fn install_copy(&mut self, pg: PgId) -> Result<CopyState, CopyRefused> {
        let copy = self.copies.remove(&pg);
        Self::install_into(&mut self.segment, pg, copy.as_ref())?;
        copy.ok_or_else(|| CopyRefused::Inconsistent("no copy".into()))
    }

    fn install_into(
        seg: &mut Segment,
        pg: PgId,
        copy: Option<&CopyState>,
    ) -> Result<(), CopyRefused> {
        let Some(c) = copy.filter(|c| c.complete) else {
            return Err(CopyRefused::Inconsistent(format!(
                "no complete copy of PG {pg}"
            )));
        };
        seg.install_copy(pg, c.floor, c.floor_cpl, c.horizon, &c.records, &c.bases)
    }

    /// The log and image files the segment and every running copy point into: checkpoints keep
    /// them.
    #[must_use]
    pub fn referenced_files(&self) -> (BTreeSet<u32>, BTreeSet<u32>) {
        let (mut logs, mut images) = self.segment.referenced_files();
        for c in self.copies.values() {
            logs.extend(c.records.iter().map(|r| r.loc.file));
            images.extend(c.bases.iter().map(|(_, _, l)| l.file));
        }
        (logs, images)
    }

    /// A gossip answer carrying `records` (read back from the log by the driver).
    #[must_use]
    pub fn records_answer(&self, records: Vec<RedoRecord>) -> Response {
        Response::Records {
            epoch: self.term.epoch,
            writer: self.term.writer,
            truncations: self.segment.truncations().to_vec(),
            records,
        }
    }
}

/// Applies the records of a [`Step::BuildPage`], read back from the log, to the base image.
/// `records` must be exactly the planned ones, in order; a record that is not the planned one is
/// reported (the log is corrupted there), never applied.
pub fn build_page(
    page: PageId,
    base: Option<(Lsn, Box<[u8; PAGE_SIZE]>)>,
    planned: &[(Lsn, Location)],
    mut read: impl FnMut(Location) -> Result<RedoRecord, String>,
) -> Result<(Lsn, Box<[u8; PAGE_SIZE]>), String> {
    let (mut applied, mut image) = base.unwrap_or((Lsn::ZERO, Box::new([0u8; PAGE_SIZE])));
    for &(lsn, loc) in planned {
        let rec = read(loc)?;
        if rec.lsn != lsn || rec.page != page {
            return Err(format!(
                "expected record {lsn} of page {page}, found {} of page {}",
                rec.lsn, rec.page
            ));
        }
        assert!(lsn > applied, "page versions are applied in LSN order");
        redo::apply(&mut image, &rec.payload);
        applied = lsn;
    }
    Ok((applied, image))
}

/// One gossip question: ask `peer` for the records of `pg` in `(after, upto]` — or, with
/// `copy`, for the next items of its cut (`FetchBase`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GossipAsk {
    pub peer: String,
    pub pg: PgId,
    pub after: Lsn,
    pub upto: Lsn,
    pub copy: Option<CopyAsk>,
}

/// The copy part of a [`GossipAsk`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyAsk {
    pub floor: Lsn,
    pub after: Option<(PageId, Lsn)>,
    pub bytes_max: u32,
}

impl GossipAsk {
    /// The request to send.
    #[must_use]
    pub fn request(&self) -> Request {
        match self.copy {
            Some(c) => Request::FetchBase {
                pg: self.pg,
                floor: c.floor,
                after: c.after,
                bytes_max: c.bytes_max,
            },
            None => Request::FetchRecords {
                pg: self.pg,
                after: self.after,
                upto: self.upto,
                max_records: GOSSIP_FETCH_RECORDS_MAX,
            },
        }
    }
}

/// What to do with a gossip answer.
#[derive(Debug, Default)]
pub struct GossipOutcome {
    /// Adopt this term and these truncations first (durably, as `Open` would; peers unchanged).
    pub adopt: Option<(Term, Vec<Truncation>)>,
    /// Then submit these records like a write, with [`Origin::Gossip`].
    pub records: Vec<RedoRecord>,
    /// The peer collected above our SCL: copy its cut ([`NodeCore::begin_copy`]).
    pub copy_from: Option<String>,
}

/// What to do with a `FetchBase` answer.
#[derive(Debug)]
pub enum CopyOutcome {
    /// A late or duplicated answer, or one to a copy that ended: ignore it.
    Stale,
    /// Give the copy up (say why): gossip goes on, and may start another.
    Abandon(String),
    /// Adopt the term and truncations first (durably), then persist the items (records to the
    /// log, images to an image file, synced), then call [`NodeCore::copied`].
    Persist {
        adopt: Option<(Term, Vec<Truncation>)>,
        answer: Box<BaseAnswer>,
    },
}

/// How far a copy got: its floor, its cursor and the bytes it copied.
type CopyPosition = (Lsn, Option<(PageId, Lsn)>, u64);

/// Gossip decisions (Aurora SIGMOD 2017 §4.2, "identify gaps in the log and gossip with peers to
/// fill them"): every [`GOSSIP_INTERVAL_MS`], for each PG, ask one peer (round robin) for the
/// records above the SCL — up to the lowest held record above the gap when there is one — or,
/// while the PG copies, the copied peer for the next items of its cut.
#[derive(Debug, Default)]
pub struct GossipCore {
    turn: usize,
    next_at_ms: u64,
    /// Each running copy's position and since when (ms) it has not moved.
    copy_watch: BTreeMap<PgId, (CopyPosition, u64)>,
    /// The peer the next question of a PG goes to, out of turn (see [`GossipCore::follow`]).
    follow: BTreeMap<PgId, String>,
}

impl GossipCore {
    #[must_use]
    pub fn new() -> GossipCore {
        GossipCore::default()
    }

    /// The last answer was full: the peer has more, so the next question is due at once rather
    /// than at the next interval (a repair runs at the speed of the disks and the network).
    pub fn hurry(&mut self) {
        self.next_at_ms = 0;
    }

    /// Sends the next question of `pg` to `peer`, out of turn: after a copy is installed, the
    /// peer it came from holds the records right above its floor, while another peer may have
    /// collected further and would only start another copy.
    pub fn follow(&mut self, pg: PgId, peer: &str) {
        self.follow.insert(pg, peer.to_string());
    }

    /// Copies that made no progress for [`COPY_STALL_MS`] (the peer is gone, or its answers are
    /// lost): the driver gives them up with [`NodeCore::abandon_copy`], and gossip starts over.
    pub fn stalled_copies(&mut self, now_ms: u64, core: &NodeCore) -> Vec<PgId> {
        let mut stalled = Vec::new();
        self.copy_watch.retain(|pg, _| core.copying(*pg).is_some());
        for pg in core.segment().pg_ids() {
            let Some(c) = core.copying(pg) else { continue };
            let position = (c.floor, c.next, c.bytes);
            let w = self.copy_watch.entry(pg).or_insert((position, now_ms));
            if w.0 != position {
                *w = (position, now_ms);
            } else if now_ms.saturating_sub(w.1) >= COPY_STALL_MS {
                stalled.push(pg);
                self.copy_watch.remove(&pg);
            }
        }
        stalled
    }

    /// The questions due at `now_ms` (none between intervals, none without peers).
    pub fn tick(&mut self, now_ms: u64, core: &NodeCore) -> Vec<GossipAsk> {
        if now_ms < self.next_at_ms {
            return Vec::new();
        }
        self.next_at_ms = now_ms + GOSSIP_INTERVAL_MS;
        let peers = core.peers();
        if peers.is_empty() {
            return Vec::new();
        }
        let seg = core.segment();
        let mut asks = Vec::new();
        for pg in seg.pg_ids() {
            let scl = seg.scl(pg);
            if let Some(c) = core.copying(pg) {
                // While a PG copies, its peer is asked for the next items of the cut, nothing else.
                if !c.complete {
                    asks.push(GossipAsk {
                        peer: c.peer.clone(),
                        pg,
                        after: scl,
                        upto: Lsn(u64::MAX),
                        copy: Some(CopyAsk {
                            floor: c.floor,
                            after: c.next,
                            bytes_max: core.copy_bytes_max,
                        }),
                    });
                }
                continue;
            }
            let peer = match self.follow.remove(&pg) {
                Some(p) if peers.contains(&p) => p,
                _ => {
                    let p = peers[self.turn % peers.len()].clone();
                    self.turn = self.turn.wrapping_add(1);
                    p
                }
            };
            // With a gap, ask only for what fills it. If the lowest pending record is right above
            // the SCL yet does not chain, it is off the chain: ask for everything.
            let upto = match seg.lowest_pending(pg) {
                Some(l) if Lsn(l.0 - 1) > scl => Lsn(l.0 - 1),
                _ => Lsn(u64::MAX),
            };
            asks.push(GossipAsk {
                peer,
                pg,
                after: scl,
                upto,
                copy: None,
            });
        }
        // Each corrupt record is asked for by itself, from the next peer in turn.
        for (pg, lsn) in seg.corrupt_records(GOSSIP_REPAIR_ASKS_MAX) {
            let peer = peers[self.turn % peers.len()].clone();
            self.turn = self.turn.wrapping_add(1);
            asks.push(GossipAsk {
                peer,
                pg,
                after: Lsn(lsn.0 - 1),
                upto: lsn,
                copy: None,
            });
        }
        asks
    }

    /// Interprets a peer's answer to `ask`. A refusal yields nothing (another peer is asked on a
    /// later turn) — except `BelowHorizon` to the question above the SCL: that peer collected
    /// the records we lack, and its cut is copied instead.
    #[must_use]
    pub fn on_answer(core: &NodeCore, ask: &GossipAsk, resp: Response) -> GossipOutcome {
        let (epoch, writer, truncations, records) = match resp {
            Response::Records {
                epoch,
                writer,
                truncations,
                records,
            } => (epoch, writer, truncations, records),
            Response::Error {
                code: ErrorCode::BelowHorizon,
                ..
            } if ask.copy.is_none()
                && ask.after == core.segment().scl(ask.pg)
                && core.copying(ask.pg).is_none() =>
            {
                return GossipOutcome {
                    copy_from: Some(ask.peer.clone()),
                    ..GossipOutcome::default()
                };
            }
            _ => return GossipOutcome::default(),
        };
        let theirs = Term { epoch, writer };
        let known = core.segment().truncations();
        let unknown = truncations.iter().any(|t| !known.contains(t));
        // Terms and truncations are durable decisions of some writer: safe to learn from anyone.
        let adopt =
            (theirs > core.term() || unknown).then(|| (theirs.max(core.term()), truncations));
        let records = records
            .into_iter()
            .filter(|r| r.pg == ask.pg && r.lsn > ask.after && r.lsn <= ask.upto)
            .collect();
        GossipOutcome {
            adopt,
            records,
            copy_from: None,
        }
    }

    /// Checks a peer's answer to a copy question: any refusal, and any answer that is not a part
    /// of one cut after the asked cursor — items out of order or of another PG, a record above
    /// the floor or of no page, an image failing its CRC or of another version — gives the copy
    /// up. So does a floor that is not above our SCL: gossip serves that.
    #[must_use]
    pub fn on_base_answer(core: &NodeCore, ask: &GossipAsk, resp: Response) -> CopyOutcome {
        let Some(q) = ask.copy else {
            return CopyOutcome::Stale;
        };
        match core.copying(ask.pg) {
            Some(c)
                if c.peer == ask.peer && !c.complete && (c.floor, c.next) == (q.floor, q.after) => {
            }
            _ => return CopyOutcome::Stale,
        }
        let a = match resp {
            Response::Base(a) => a,
            Response::Error { code, message } => {
                return CopyOutcome::Abandon(format!("{code:?}: {message}"));
            }
            other => return CopyOutcome::Abandon(format!("unexpected answer {other:?}")),
        };
        let scl = core.segment().scl(ask.pg);
        if a.pg != ask.pg {
            return CopyOutcome::Abandon(format!("an answer about PG {}", a.pg));
        }
        if a.horizon < a.floor {
            return CopyOutcome::Abandon(format!(
                "horizon {} is below the floor {}",
                a.horizon, a.floor
            ));
        }
        if a.floor <= scl {
            return CopyOutcome::Abandon(format!(
                "the peer's floor {} is not above our SCL {scl}",
                a.floor
            ));
        }
        let mut cursor = if a.floor == q.floor { q.after } else { None };
        for item in &a.items {
            let r = &item.record;
            let key = (r.page, r.lsn);
            if cursor.is_some_and(|c| key <= c) {
                return CopyOutcome::Abandon(format!("item {key:?} is not after {cursor:?}"));
            }
            cursor = Some(key);
            if r.pg != a.pg || r.page == PageId::NONE || r.lsn > a.floor {
                return CopyOutcome::Abandon(format!(
                    "record {} of page {} (PG {}) is not in the cut of PG {} at {}",
                    r.lsn, r.page, r.pg, a.pg, a.floor
                ));
            }
            if let Some(img) = &item.image
                && let Err(why) = decode_image(img, r.page, r.lsn)
            {
                return CopyOutcome::Abandon(format!(
                    "image of page {} at {}: {why}",
                    r.page, r.lsn
                ));
            }
        }
        if a.next.is_some() && a.next != cursor {
            return CopyOutcome::Abandon(format!(
                "cursor {:?} does not follow the last item {cursor:?}",
                a.next
            ));
        }
        let theirs = Term {
            epoch: a.epoch,
            writer: a.writer,
        };
        let known = core.segment().truncations();
        let unknown = a.truncations.iter().any(|t| !known.contains(t));
        let adopt = (theirs > core.term() || unknown)
            .then(|| (theirs.max(core.term()), a.truncations.clone()));
        CopyOutcome::Persist { adopt, answer: a }
    }
}

/// What the materialiser does on one tick.
#[derive(Debug, Default)]
pub struct Housekeeping {
    /// Pages due for a base: build each at its version with the plan, persist the image (synced),
    /// then call [`NodeCore::materialised`].
    pub builds: Vec<(PgId, PageId, Lsn, PagePlan)>,
    /// Collect ([`NodeCore::collect`]), then write a checkpoint of the segment and the log
    /// position it covers, then call [`NodeCore::checkpointed`] and delete the log and image files
    /// the checkpoint no longer names.
    pub checkpoint: bool,
}

/// The materialiser's schedule (Aurora SIGMOD 2017 §3.3, steps 5–7): every
/// [`MATERIALISE_INTERVAL_MS`], at most [`MATERIALISE_PAGES_PER_TICK`] bases; a checkpoint (with
/// collection) once [`CHECKPOINT_RECORDS_MIN`] records were logged since the last, or every
/// [`CHECKPOINT_INTERVAL_MS`] while any were. The work per tick is bounded, so it never holds up
/// the foreground for long, and it runs beside the log writer, never in front of it.
///
/// A checkpoint describes every held record, so its cost grows with what retention keeps (up to
/// about a million records, 42 MB). In production a checkpoint therefore also waits until at
/// least 1/[`CHECKPOINT_HELD_PER_RECORD`] of the held records were logged since the last one:
/// checkpoints then cost a bounded number of entries per record logged, and a restart scans at
/// most that fraction of the held records more.
#[derive(Debug)]
pub struct HousekeepingCore {
    next_at_ms: u64,
    last_checkpoint_ms: u64,
    records_min: u64,
    interval_ms: u64,
    /// Whether checkpoints are spaced by the held records (see above).
    amortised: bool,
}

impl Default for HousekeepingCore {
    fn default() -> HousekeepingCore {
        HousekeepingCore {
            amortised: true,
            ..HousekeepingCore::with_checkpoints(CHECKPOINT_RECORDS_MIN, CHECKPOINT_INTERVAL_MS)
        }
    }
}

impl HousekeepingCore {
    #[must_use]
    pub fn new() -> HousekeepingCore {
        HousekeepingCore::default()
    }

    /// Checkpoints after `records_min` logged records, or every `interval_ms` while any were
    /// (the simulator checkpoints often, to restart from checkpoints often).
    #[must_use]
    pub fn with_checkpoints(records_min: u64, interval_ms: u64) -> HousekeepingCore {
        assert!(records_min > 0, "a checkpoint follows at least one record");
        HousekeepingCore {
            next_at_ms: 0,
            last_checkpoint_ms: 0,
            records_min,
            interval_ms,
            amortised: false,
        }
    }

    /// The work due at `now_ms`.
    pub fn tick(&mut self, now_ms: u64, core: &NodeCore) -> Housekeeping {
        if now_ms < self.next_at_ms {
            return Housekeeping::default();
        }
        self.next_at_ms = now_ms + MATERIALISE_INTERVAL_MS;
        let builds = core.segment().materialise_due(MATERIALISE_PAGES_PER_TICK);
        let logged = core.logged_since_checkpoint();
        let spacing = if self.amortised {
            core.segment().held_count() as u64 / CHECKPOINT_HELD_PER_RECORD
        } else {
            0
        };
        let checkpoint = logged >= self.records_min.max(spacing)
            || (logged > 0
                && logged >= spacing
                && now_ms >= self.last_checkpoint_ms + self.interval_ms);
        if checkpoint {
            self.last_checkpoint_ms = now_ms;
        }
        Housekeeping { builds, checkpoint }
    }
}

/// What the scrub reads next.
#[derive(Debug, Default)]
pub struct ScrubWork {
    /// Held records to re-read, with their log entries.
    pub reads: Vec<(PgId, Lsn, Location)>,
    /// The walk reached the end of the log: the next tick starts over.
    pub pass_done: bool,
}

/// The scrub's walk over the held records, at a bounded rate.
#[derive(Debug, Default)]
pub struct ScrubCore {
    cursor: Option<(PgId, Lsn)>,
    next_at_ms: u64,
}

impl ScrubCore {
    #[must_use]
    pub fn new() -> ScrubCore {
        ScrubCore::default()
    }

    /// The records due for re-reading at `now_ms`: none between intervals, else the next ones
    /// after the cursor, at most [`SCRUB_BYTES_PER_TICK`] bytes of entries.
    pub fn tick(&mut self, now_ms: u64, core: &NodeCore) -> ScrubWork {
        if now_ms < self.next_at_ms {
            return ScrubWork::default();
        }
        self.next_at_ms = now_ms + SCRUB_INTERVAL_MS;
        let reads = core
            .segment()
            .scrub_batch(self.cursor, SCRUB_BYTES_PER_TICK);
        match reads.last() {
            Some(&(pg, lsn, _)) => {
                self.cursor = Some((pg, lsn));
                ScrubWork {
                    reads,
                    pass_done: false,
                }
            }
            None => {
                let pass_done = self.cursor.is_some();
                self.cursor = None;
                ScrubWork { reads, pass_done }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::encode_image;
    use borealis_common::{Epoch, WriterId};

    fn core() -> NodeCore {
        NodeCore::new(&Meta {
            node: NodeId(1),
            ..Meta::default()
        })
    }

    fn open(epoch: u64, writer: u64) -> Request {
        Request::Open {
            epoch: Epoch(epoch),
            writer: WriterId(writer),
            pg: PgId(0),
            peers: vec!["peer-a".into(), "peer-b".into()],
            truncations: vec![],
            membership: Membership::default(),
            me: String::new(),
            map: None,
        }
    }

    fn write(epoch: u64, writer: u64, lsn: u64) -> Request {
        write_m(epoch, writer, 0, lsn)
    }

    fn write_m(epoch: u64, writer: u64, membership: u64, lsn: u64) -> Request {
        Request::Write {
            epoch: Epoch(epoch),
            writer: WriterId(writer),
            pg: PgId(0),
            membership: MembershipEpoch(membership),
            horizon: ReadHorizon::default(),
            records: vec![RedoRecord {
                lsn: Lsn(lsn),
                pg: PgId(0),
                prev_pg_lsn: Lsn(lsn - 1),
                page: PageId(1),
                prev_page_lsn: Lsn::ZERO,
                known_vdl: Lsn::ZERO,
                cpl: true,
                payload: Payload::Init(vec![lsn as u8]),
            }],
        }
    }

    /// Runs a step to completion the way a driver would, with an in-memory "log".
    fn drive(c: &mut NodeCore, req: Request) -> Response {
        match c.handle(req, &|_| None) {
            Step::Reply(r) => r,
            Step::StoreMeta(m) => {
                c.adopted(m);
                Response::State(c.state())
            }
            Step::Append { origin, records } => {
                let batches = [records.as_slice()];
                for (i, (_, ri)) in c.select(&batches).into_iter().enumerate() {
                    let loc = Location {
                        file: 1,
                        offset: i as u64,
                        len: 1,
                    };
                    c.logged(&records[ri], loc);
                }
                match c.answer_write(origin, &records) {
                    Ok(scls) => Response::WriteAck { scls },
                    Err((code, message)) => Response::Error { code, message },
                }
            }
            other => panic!("unexpected step {other:?}"),
        }
    }

    fn code(r: &Response) -> Option<ErrorCode> {
        match r {
            Response::Error { code, .. } => Some(*code),
            _ => None,
        }
    }

    fn open_m(epoch: u64, membership: &Membership, me: &str) -> Request {
        Request::Open {
            epoch: Epoch(epoch),
            writer: WriterId(1),
            pg: PgId(0),
            peers: vec![],
            truncations: vec![],
            membership: membership.clone(),
            me: me.into(),
            map: None,
        }
    }

    #[test]
    fn checkpoints_are_spaced_by_the_records_held() {
        let mut c = core();
        drive(&mut c, open(1, 1));
        for lsn in 1..=100 {
            drive(&mut c, write(1, 1, lsn));
        }
        assert_eq!(c.segment().held_count(), 100);
        let mut plain = HousekeepingCore::with_checkpoints(10, 1_000);
        let mut amortised = HousekeepingCore {
            amortised: true,
            ..HousekeepingCore::with_checkpoints(10, 1_000)
        };
        // 100 logged: both checkpoint.
        assert!(plain.tick(0, &c).checkpoint);
        assert!(amortised.tick(0, &c).checkpoint);
        c.checkpointed();
        // 20 more: enough for the plain schedule, not for 100 held / 4.
        for lsn in 101..=120 {
            drive(&mut c, write(1, 1, lsn));
        }
        assert!(plain.tick(200, &c).checkpoint);
        assert!(!amortised.tick(200, &c).checkpoint);
        // Nor after the interval: a checkpoint still costs too much for what was logged.
        assert!(!amortised.tick(5_000, &c).checkpoint);
        for lsn in 121..=160 {
            drive(&mut c, write(1, 1, lsn));
        }
        // 60 logged, 160 held: due.
        assert!(amortised.tick(5_200, &c).checkpoint);
    }

    #[test]
    fn membership_epochs_are_enforced_and_a_dropped_member_takes_no_writes() {
        let names: Vec<String> = ["a", "b", "c", "d", "e", "f"].map(String::from).to_vec();
        let m1 = Membership::initial(names);
        let m2 = m1.replacing(5, "g".into());
        let m3 = m2.completed();
        // Node "f" adopts m1, then the dual state m2 (it is still a member there).
        let mut c = core();
        assert!(matches!(
            drive(&mut c, open_m(1, &m1, "f")),
            Response::State(_)
        ));
        assert!(matches!(
            drive(&mut c, write_m(1, 1, 1, 1)),
            Response::WriteAck { .. }
        ));
        assert!(
            matches!(drive(&mut c, open_m(1, &m2, "f")), Response::State(s) if s.membership == m2)
        );
        // A write carrying the old epoch is refused; higher: Open first.
        assert_eq!(
            code(&drive(&mut c, write_m(1, 1, 1, 2))),
            Some(ErrorCode::StaleMembership)
        );
        assert_eq!(
            code(&drive(&mut c, write_m(1, 1, 3, 2))),
            Some(ErrorCode::BadRequest)
        );
        assert!(matches!(
            drive(&mut c, write_m(1, 1, 2, 2)),
            Response::WriteAck { .. }
        ));
        // An Open with an older membership is refused, whatever its term.
        assert_eq!(
            code(&drive(&mut c, open_m(2, &m1, "f"))),
            Some(ErrorCode::StaleMembership)
        );
        // Told of m3 (which dropped it), "f" refuses writes and reads, yet keeps what it holds.
        assert!(matches!(
            drive(&mut c, open_m(1, &m3, "f")),
            Response::State(_)
        ));
        assert_eq!(
            code(&drive(&mut c, write_m(1, 1, 3, 3))),
            Some(ErrorCode::StaleMembership)
        );
        assert_eq!(
            c.segment().scl(PgId(0)),
            Lsn(2),
            "nothing durable is discarded"
        );
        // The membership is in the meta file, and survives a restart.
        let again = NodeCore::new(&c.meta());
        assert_eq!(again.membership(), &m3);
        assert_eq!(
            code(&drive(&mut NodeCore::new(&c.meta()), write_m(1, 1, 3, 3))),
            Some(ErrorCode::StaleMembership)
        );
    }

    #[test]
    fn two_writers_with_the_same_epoch_are_told_apart() {
        let mut c = core();
        assert!(matches!(drive(&mut c, open(3, 5)), Response::State(_)));
        // Same epoch, lower writer id: this is the writer that lost the tie.
        assert_eq!(
            code(&drive(&mut c, open(3, 4))),
            Some(ErrorCode::StaleEpoch)
        );
        assert_eq!(
            code(&drive(&mut c, write(3, 4, 1))),
            Some(ErrorCode::StaleEpoch)
        );
        assert!(matches!(
            drive(&mut c, write(3, 5, 1)),
            Response::WriteAck { .. }
        ));
        // Same epoch, higher writer id: it wins, and the first one is fenced from now on.
        assert!(matches!(drive(&mut c, open(3, 6)), Response::State(_)));
        assert_eq!(
            code(&drive(&mut c, write(3, 5, 2))),
            Some(ErrorCode::StaleEpoch)
        );
        // A writer that has not opened yet is told to.
        assert_eq!(
            code(&drive(&mut c, write(4, 1, 2))),
            Some(ErrorCode::BadRequest)
        );
        let s = c.state();
        assert_eq!((s.epoch, s.writer), (Epoch(3), WriterId(6)));
        assert_eq!(c.segment().scl(PgId(0)), Lsn(1));
    }

    #[test]
    fn a_batch_overtaken_while_syncing_is_not_acknowledged() {
        let mut c = core();
        drive(&mut c, open(1, 1));
        let Step::Append { origin, records } = c.handle(write(1, 1, 1), &|_| None) else {
            panic!("a write at the adopted term is appended");
        };
        // A new writer's Open lands while the batch is being synced.
        drive(&mut c, open(2, 9));
        c.logged(
            &records[0],
            Location {
                file: 1,
                offset: 0,
                len: 1,
            },
        );
        assert_eq!(
            c.answer_write(origin, &records).map_err(|(code, _)| code),
            Err(ErrorCode::StaleEpoch)
        );
    }

    #[test]
    fn gossip_asks_peers_in_turn_and_adopts_a_newer_term_first() {
        let mut c = core();
        let mut g = GossipCore::new();
        assert!(g.tick(0, &c).is_empty(), "no peers yet");
        drive(&mut c, open(1, 1));
        let a = g.tick(GOSSIP_INTERVAL_MS, &c);
        assert_eq!(a.len(), 1);
        assert!(g.tick(GOSSIP_INTERVAL_MS + 1, &c).is_empty(), "not due yet");
        let b = g.tick(2 * GOSSIP_INTERVAL_MS, &c);
        assert_ne!(a[0].peer, b[0].peer, "round robin over the peers");
        assert_eq!((a[0].after, a[0].upto), (Lsn::ZERO, Lsn(u64::MAX)));
        let t = Truncation {
            epoch: Epoch(2),
            pg: PgId(0),
            above: Lsn(0),
            upto: Lsn(10),
        };
        let Request::Write { records, .. } = write(1, 1, 11) else {
            unreachable!()
        };
        let out = GossipCore::on_answer(
            &c,
            &a[0],
            Response::Records {
                epoch: Epoch(2),
                writer: WriterId(7),
                truncations: vec![t],
                records,
            },
        );
        let (term, truncs) = out.adopt.expect("a newer term is adopted");
        assert_eq!(
            term,
            Term {
                epoch: Epoch(2),
                writer: WriterId(7)
            }
        );
        assert_eq!(truncs, vec![t]);
        assert_eq!(out.records.len(), 1);
    }

    /// A node's simulated disk: its log (records by offset), image entries, and checkpoint.
    #[derive(Default)]
    struct Disk {
        log: Vec<RedoRecord>,
        images: Vec<Vec<u8>>,
        checkpoint: Option<(SegmentSnapshot, usize)>,
    }

    impl Disk {
        fn append(&mut self, rec: &RedoRecord) -> Location {
            self.log.push(rec.clone());
            Location {
                file: 1,
                offset: self.log.len() as u64 - 1,
                len: rec.encoded_len() as u32,
            }
        }

        fn read(&self, loc: Location) -> Result<RedoRecord, String> {
            self.log
                .get(loc.offset as usize)
                .cloned()
                .ok_or_else(|| "past the end".to_string())
        }

        fn image(&self, loc: Location, page: PageId, lsn: Lsn) -> Box<[u8; PAGE_SIZE]> {
            decode_image(&self.images[loc.offset as usize], page, lsn).expect("a good image")
        }

        fn append_image(&mut self, entry: Vec<u8>) -> Location {
            self.images.push(entry);
            Location {
                file: 1,
                offset: self.images.len() as u64 - 1,
                len: IMAGE_ENTRY_BYTES as u32,
            }
        }

        /// A restart: the meta file, the checkpoint, then the log after it.
        fn restart(&self, meta: &Meta) -> NodeCore {
            let (mut c, from) = match &self.checkpoint {
                Some((snap, from)) => (NodeCore::restore(meta, snap), *from),
                None => (NodeCore::new(meta), 0),
            };
            for (i, r) in self.log.iter().enumerate().skip(from) {
                let loc = Location {
                    file: 1,
                    offset: i as u64,
                    len: r.encoded_len() as u32,
                };
                c.recover(r, loc);
            }
            c
        }
    }

    /// The page at `read_point` as node `c` with disk `d` serves it.
    fn read_page(c: &mut NodeCore, d: &Disk, page: u64, read_point: Lsn) -> Response {
        let t = c.term();
        let req = Request::GetPage {
            epoch: t.epoch,
            writer: t.writer,
            pg: PgId(0),
            membership: MembershipEpoch(0),
            page: PageId(page),
            read_point,
            pg_point: read_point,
        };
        match c.handle(req, &|_| None) {
            Step::Reply(r) => r,
            Step::BuildPage {
                page,
                base,
                records,
            } => {
                let base = match base {
                    Base::Zero => None,
                    Base::Image { lsn, loc } => Some((lsn, d.image(loc, page, lsn))),
                    Base::Cached(_) => unreachable!("no cache here"),
                };
                let (lsn, image) = build_page(page, base, &records, |l| d.read(l)).expect("built");
                Response::Page {
                    lsn,
                    image: Some(image),
                }
            }
            other => panic!("unexpected step {other:?}"),
        }
    }

    /// The peer answers a question as a driver would, from its disk.
    fn serve(peer: &mut NodeCore, d: &Disk, req: Request) -> Response {
        match peer.handle(req, &|_| None) {
            Step::Reply(r) => r,
            Step::Fetch { locations, .. } => peer.records_answer(
                locations
                    .iter()
                    .map(|(_, l)| d.read(*l).expect("read"))
                    .collect(),
            ),
            Step::FetchBase { pg, batch } => {
                let items = batch
                    .items
                    .iter()
                    .map(|i| BaseItem {
                        record: d.read(i.loc).expect("read"),
                        image: i.image.map(|l| d.images[l.offset as usize].clone()),
                    })
                    .collect();
                peer.base_answer(pg, &batch, items)
            }
            other => panic!("unexpected step {other:?}"),
        }
    }

    fn rec_at(lsn: u64, page: u64, init: bool) -> RedoRecord {
        RedoRecord {
            lsn: Lsn(lsn),
            pg: PgId(0),
            prev_pg_lsn: Lsn(lsn - 1),
            page: PageId(page),
            prev_page_lsn: Lsn::ZERO,
            known_vdl: Lsn::ZERO,
            cpl: lsn.is_multiple_of(2),
            payload: if init {
                Payload::Init(vec![lsn as u8; 8])
            } else {
                Payload::Patch(vec![borealis_common::redo::Patch {
                    offset: (lsn % 64) as u16,
                    bytes: vec![lsn as u8; 3],
                }])
            },
        }
    }

    /// A peer that logged records 1..=60 over pages 1..=5, materialised a few bases, and
    /// collected below 50 (retention 0, and no lagging peer holds it back).
    fn collected_peer() -> (NodeCore, Disk, Vec<RedoRecord>) {
        let mut peer = core();
        let mut d = Disk::default();
        drive(&mut peer, open(1, 1));
        peer.set_retention(0);
        peer.set_peer_lag(0);
        let all: Vec<RedoRecord> = (1..=60u64)
            .map(|l| rec_at(l, 1 + l % 5, l <= 5 || l == 33))
            .collect();
        for r in &all {
            let loc = d.append(r);
            peer.logged(r, loc);
        }
        // Bases of pages 2 and 4 at their versions 21 and 43.
        for (page, lsn) in [(2u64, 21u64), (4, 43)] {
            let Response::Page { lsn: got, image } = read_page(&mut peer, &d, page, Lsn(lsn))
            else {
                panic!("a page");
            };
            assert_eq!(got, Lsn(lsn));
            let loc = d.append_image(encode_image(
                PgId(0),
                PageId(page),
                Lsn(lsn),
                &image.expect("image"),
            ));
            assert!(peer.materialised(PgId(0), PageId(page), Lsn(lsn), loc));
        }
        let horizon = Request::Write {
            epoch: Epoch(1),
            writer: WriterId(1),
            pg: PgId(0),
            membership: MembershipEpoch(0),
            horizon: ReadHorizon {
                pgmrpl: Lsn(50),
                held_by_all: Lsn(0),
            },
            records: vec![],
        };
        drive(&mut peer, horizon);
        assert_eq!(peer.collect_horizon(), Lsn(50));
        peer.collect();
        assert_eq!(peer.segment().floor(PgId(0)), Lsn(50));
        (peer, d, all)
    }

    /// Runs gossip rounds between `asker` and `peer` until `stop` says so or nothing is asked.
    /// Copy answers are persisted to `d` and their images checked; returns the completed copy
    /// (`prepare_install` done, not installed) if one completed.
    fn copy_rounds(
        asker: &mut NodeCore,
        d: &mut Disk,
        peer: &mut NodeCore,
        pd: &Disk,
        rounds: usize,
        mut tamper: impl FnMut(&mut Response),
    ) -> Option<SegmentSnapshot> {
        let mut g = GossipCore::new();
        for round in 0..rounds {
            g.hurry();
            let asks = g.tick(round as u64, asker);
            for ask in asks.into_iter().filter(|a| a.peer == "peer-a") {
                let mut resp = serve(peer, pd, ask.request());
                if ask.copy.is_none() {
                    let out = GossipCore::on_answer(asker, &ask, resp);
                    if let Some(p) = out.copy_from {
                        assert!(asker.begin_copy(ask.pg, &p));
                    }
                    for r in out.records {
                        let loc = d.append(&r);
                        asker.logged(&r, loc);
                    }
                    continue;
                }
                tamper(&mut resp);
                let (adopt, answer) = match GossipCore::on_base_answer(asker, &ask, resp) {
                    CopyOutcome::Persist { adopt, answer } => (adopt, answer),
                    CopyOutcome::Abandon(why) => {
                        asker.abandon_copy(ask.pg);
                        panic!("copy abandoned: {why}");
                    }
                    CopyOutcome::Stale => continue,
                };
                assert!(adopt.is_none(), "same term, no truncations");
                let record_locs: Vec<Location> =
                    answer.items.iter().map(|i| d.append(&i.record)).collect();
                let image_locs: Vec<Location> = answer
                    .items
                    .iter()
                    .filter_map(|i| i.image.clone())
                    .map(|e| d.append_image(e))
                    .collect();
                let asked = ask.copy.expect("a copy ask");
                match asker.copied(&ask.peer, asked, &answer, &record_locs, &image_locs) {
                    CopyProgress::Complete => {
                        return Some(asker.prepare_install(ask.pg).expect("installable"));
                    }
                    CopyProgress::More => {}
                    CopyProgress::Ignored => panic!("answers arrive in order here"),
                }
            }
        }
        None
    }

    fn asker_with(records: &[RedoRecord]) -> (NodeCore, Disk) {
        let mut c = NodeCore::new(&Meta {
            node: NodeId(2),
            ..Meta::default()
        });
        drive(
            &mut c,
            Request::Open {
                epoch: Epoch(1),
                writer: WriterId(1),
                pg: PgId(0),
                peers: vec!["peer-a".into()],
                truncations: vec![],
                membership: Membership::default(),
                me: String::new(),
                map: None,
            },
        );
        c.set_copy_bytes_max(600);
        let mut d = Disk::default();
        for r in records {
            let loc = d.append(r);
            c.logged(r, loc);
        }
        (c, d)
    }

    #[test]
    fn a_segment_below_its_peers_floor_is_repaired_by_a_copy_and_survives_restarts() {
        let (mut peer, pd, all) = collected_peer();
        // The asker holds 1..=3 and, from the writer, 51..=60 without 57.
        let mine: Vec<RedoRecord> = all[..3]
            .iter()
            .chain(all[50..].iter().filter(|r| r.lsn != Lsn(57)))
            .cloned()
            .collect();
        let (mut asker, mut d) = asker_with(&mine);
        let meta = asker.meta();
        assert_eq!(asker.segment().scl(PgId(0)), Lsn(3));

        // Crash point 1: part of a copy persisted, then a crash. The node restarts as it was.
        let mut pages = 0;
        let partial = copy_rounds(&mut asker, &mut d, &mut peer, &pd, 4, |_| pages += 1);
        assert!(
            partial.is_none(),
            "600-byte answers: not complete in 3 pages"
        );
        assert!(pages >= 2, "copy answers came");
        assert!(
            asker
                .copying(PgId(0))
                .is_some_and(|c| !c.records.is_empty())
        );
        let (logs, _) = asker.referenced_files();
        assert!(logs.contains(&1), "a running copy's files are kept");
        let mut asker = d.restart(&meta);
        asker.set_copy_bytes_max(600);
        assert_eq!(
            asker.segment().scl(PgId(0)),
            Lsn(3),
            "the restart is as before"
        );
        assert!(asker.copying(PgId(0)).is_none());
        assert_eq!(
            read_page(&mut asker, &d, 1, Lsn(3)),
            read_page(&mut peer_before_collection(&all), &disk_of(&all), 1, Lsn(3))
        );

        // The copy starts again and completes; the checkpoint of the installed segment is stored.
        let snap = copy_rounds(&mut asker, &mut d, &mut peer, &pd, 200, |_| {}).expect("complete");
        assert_eq!(
            asker.segment().scl(PgId(0)),
            Lsn(3),
            "nothing is visible before the install"
        );
        d.checkpoint = Some((snap, d.log.len()));

        // Crash point 2: the checkpoint is durable, the install not applied: a restart installs.
        let mut restarted = d.restart(&meta);
        let installed = asker.install_copy(PgId(0)).expect("installed");
        assert_eq!(installed.floor, Lsn(50));
        for c in [&asker, &restarted] {
            assert_eq!(
                c.segment().scl(PgId(0)),
                Lsn(56),
                "56 chains from the floor; 57 is missing"
            );
            assert_eq!(c.segment().floor(PgId(0)), Lsn(50));
            assert_eq!(c.segment().horizon(PgId(0)), Lsn(50));
        }
        assert_eq!(asker.segment().snapshot(), restarted.segment().snapshot());

        // Gossip goes on above the floor and fills the gap.
        assert!(copy_rounds(&mut asker, &mut d, &mut peer, &pd, 3, |_| {}).is_none());
        assert_eq!(asker.segment().scl(PgId(0)), Lsn(60));
        // Every page reads as on the peer at every read point from the horizon up, and below it
        // the read is refused, as on the peer.
        for rp in 50..=60 {
            for page in 1..=5 {
                assert_eq!(
                    read_page(&mut asker, &d, page, Lsn(rp)),
                    read_page(&mut peer, &pd, page, Lsn(rp)),
                    "page {page} at {rp}"
                );
            }
        }
        for c in [&mut asker, &mut restarted] {
            let r = read_page(c, &d, 1, Lsn(49));
            assert_eq!(code(&r), Some(ErrorCode::BelowHorizon));
        }
    }

    fn disk_of(all: &[RedoRecord]) -> Disk {
        let mut d = Disk::default();
        for r in all {
            d.append(r);
        }
        d
    }

    fn peer_before_collection(all: &[RedoRecord]) -> NodeCore {
        let mut c = core();
        drive(&mut c, open(1, 1));
        let d = disk_of(all);
        for (i, r) in d.log.iter().enumerate() {
            c.logged(
                r,
                Location {
                    file: 1,
                    offset: i as u64,
                    len: r.encoded_len() as u32,
                },
            );
        }
        c
    }

    #[test]
    fn a_corrupt_image_or_an_answer_out_of_order_ends_the_copy() {
        let (mut peer, pd, all) = collected_peer();
        let (mut asker, mut d) = asker_with(&all[..2]);
        asker.set_copy_bytes_max(COPY_ANSWER_BYTES_MAX);
        // Flip one byte of the first image an answer carries.
        let tampered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            copy_rounds(&mut asker, &mut d, &mut peer, &pd, 5, |resp| {
                if let Response::Base(a) = resp
                    && let Some(img) = a.items.iter_mut().find_map(|i| i.image.as_mut())
                {
                    img[100] ^= 1;
                }
            })
        }));
        let why = tampered.expect_err("the copy is abandoned");
        let why = why.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(why.contains("CRC"), "{why}");
        assert!(asker.copying(PgId(0)).is_none());
        assert_eq!(asker.segment().scl(PgId(0)), Lsn(2));
        // Items out of order, or of a record above the floor: refused the same way.
        for bad in 0..2 {
            let mut g = GossipCore::new();
            let ask = GossipAsk {
                peer: "peer-a".into(),
                pg: PgId(0),
                after: Lsn(2),
                upto: Lsn(u64::MAX),
                copy: None,
            };
            let out = GossipCore::on_answer(&asker, &ask, serve(&mut peer, &pd, ask.request()));
            assert!(asker.begin_copy(PgId(0), &out.copy_from.expect("below the floor")));
            let ask = g.tick(0, &asker).remove(0);
            let Response::Base(mut a) = serve(&mut peer, &pd, ask.request()) else {
                panic!("a copy answer");
            };
            if bad == 0 {
                a.items.swap(0, 1);
            } else {
                a.items[0].record.lsn = Lsn(51);
            }
            assert!(matches!(
                GossipCore::on_base_answer(&asker, &ask, Response::Base(a)),
                CopyOutcome::Abandon(_)
            ));
            asker.abandon_copy(PgId(0));
        }
    }
}
