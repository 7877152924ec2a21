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
//! # Scrub (issue 3, item 7; Aurora SIGMOD 2017 §3.3 step 8, "periodically validate CRC codes")
//!
//! [`ScrubCore`] walks every held record in (PG, LSN) order, at most [`SCRUB_BYTES_PER_TICK`]
//! bytes of log entries every [`SCRUB_INTERVAL_MS`], and starts over when it reaches the end. The
//! driver re-reads each entry with its CRC checked; an entry that fails is reported with
//! [`NodeCore::mark_corrupt`] (so are entries a page build or a gossip answer found bad). Gossip
//! then asks a peer for exactly that record; its healthy copy is logged anew like any fetched
//! record and the segment moves the record's location to the new entry. Corrupt bytes are never
//! served meanwhile: every read checks the CRC.

use crate::limits::{
    CHECKPOINT_HELD_PER_RECORD, CHECKPOINT_INTERVAL_MS, CHECKPOINT_RECORDS_MIN,
    GOSSIP_FETCH_RECORDS_MAX, GOSSIP_INTERVAL_MS, GOSSIP_REPAIR_ASKS_MAX, MATERIALISE_INTERVAL_MS,
    MATERIALISE_PAGES_PER_TICK, PEER_LAG_LSNS_MAX, RETENTION_LSNS_DEFAULT, SCRUB_BYTES_PER_TICK,
    SCRUB_INTERVAL_MS,
};
use crate::meta::Meta;
use crate::segment::{
    Base, Collected, Inserted, Location, PagePlan, Segment, SegmentSnapshot, pg_of,
};
use borealis_common::limits::{RECORDS_PER_MESSAGE_MAX, TRUNCATIONS_MAX};
use borealis_common::proto::{
    ErrorCode, Membership, ReadHorizon, Request, Response, SegmentState, Term, Truncation,
};
use borealis_common::{Lsn, MembershipEpoch, NodeId, PAGE_SIZE, PageId, PgId, RedoRecord, redo};
use std::collections::{BTreeSet, HashSet};

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
    /// The PG's membership, and the address the writer knows this node by.
    membership: Membership,
    me: String,
    segment: Segment,
    /// The highest read horizon a writer holding the adopted term reported.
    reported: ReadHorizon,
    /// Kept below PGMRPL for backtrack / point-in-time restore and lagging peers.
    retention_lsns: u64,
    /// Records logged since the last checkpoint.
    logged_since_checkpoint: u64,
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
            membership: meta.membership.clone(),
            me: meta.me.clone(),
            segment: Segment::new(meta.truncations.clone()),
            reported: ReadHorizon::default(),
            retention_lsns: RETENTION_LSNS_DEFAULT,
            logged_since_checkpoint: 0,
        }
    }

    /// A node as its meta file and its checkpoint describe it: recovery then offers the records
    /// logged after the checkpoint with [`NodeCore::recover`].
    #[must_use]
    pub fn restore(meta: &Meta, snapshot: &SegmentSnapshot) -> NodeCore {
        let mut core = NodeCore::new(meta);
        core.segment = Segment::restore(meta.truncations.clone(), snapshot);
        core
    }

    /// Sets the retention below PGMRPL, in LSNs (default
    /// [`RETENTION_LSNS_DEFAULT`]).
    pub fn set_retention(&mut self, lsns: u64) {
        self.retention_lsns = lsns;
    }

    /// The read horizon writers reported.
    #[must_use]
    pub fn reported_horizon(&self) -> ReadHorizon {
        self.reported
    }

    /// Where collection may go now: `min(PGMRPL, what every segment holds)` — but a lagging or
    /// lost segment holds collection back by at most [`PEER_LAG_LSNS_MAX`] — minus the
    /// retention. Never above PGMRPL.
    #[must_use]
    pub fn collect_horizon(&self) -> Lsn {
        let ReadHorizon {
            pgmrpl,
            held_by_all,
        } = self.reported;
        let peers = held_by_all.max(Lsn(pgmrpl.0.saturating_sub(PEER_LAG_LSNS_MAX)));
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
        }
    }

    /// The adopted membership.
    #[must_use]
    pub fn membership(&self) -> &Membership {
        &self.membership
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
                peers,
                truncations,
                membership,
                me,
            } => match self.prepare_adopt(
                Term { epoch, writer },
                &truncations,
                Some(peers),
                Some((membership, me)),
            ) {
                Ok(Some(meta)) => Step::StoreMeta(meta),
                Ok(None) => Step::Reply(Response::State(self.state())),
                Err((code, message)) => Step::Reply(Response::Error { code, message }),
            },
            // Answered whatever the epoch: it changes nothing, and a writer starting recovery
            // learns the current epoch from it before it can choose a higher one.
            Request::GetState { epoch: _ } => Step::Reply(Response::State(self.state())),
            Request::Write {
                epoch,
                writer,
                membership,
                horizon,
                records,
            } => {
                let term = Term { epoch, writer };
                if let Err((code, message)) = self
                    .check_term(term)
                    .and_then(|()| self.check_membership(membership))
                {
                    return Step::Reply(Response::Error { code, message });
                }
                // Only the writer holding the adopted term speaks for the read points in use.
                self.reported.pgmrpl = self.reported.pgmrpl.max(horizon.pgmrpl);
                self.reported.held_by_all = self.reported.held_by_all.max(horizon.held_by_all);
                if let Some(r) = records
                    .iter()
                    .find(|r| r.page != PageId::NONE && r.pg != pg_of(r.page))
                {
                    return Step::Reply(refuse(
                        ErrorCode::BadRequest,
                        format!(
                            "record {} names PG {} but page {} is in PG {}",
                            r.lsn,
                            r.pg,
                            r.page,
                            pg_of(r.page)
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
                membership,
                page,
                read_point,
            } => {
                if let Err((code, message)) = self
                    .check_term(Term { epoch, writer })
                    .and_then(|()| self.check_membership(membership))
                {
                    return Step::Reply(Response::Error { code, message });
                }
                match self.segment.page_plan(page, read_point, cached(page)) {
                    PagePlan::NotReady { scl } => Step::Reply(refuse(
                        ErrorCode::NotReady,
                        format!("SCL {scl} is below read point {read_point}"),
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
        if term == self.term
            && all.len() == self.segment.truncations().len()
            && peers == self.peers
            && membership == self.membership
            && me == self.me
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
        self.membership = meta.membership;
        self.me = meta.me;
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

/// One gossip question: ask `peer` for the records of `pg` in `(after, upto]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GossipAsk {
    pub peer: String,
    pub pg: PgId,
    pub after: Lsn,
    pub upto: Lsn,
}

impl GossipAsk {
    /// The request to send.
    #[must_use]
    pub fn request(&self) -> Request {
        Request::FetchRecords {
            pg: self.pg,
            after: self.after,
            upto: self.upto,
            max_records: GOSSIP_FETCH_RECORDS_MAX,
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
}

/// Gossip decisions (Aurora SIGMOD 2017 §4.2, "identify gaps in the log and gossip with peers to
/// fill them"): every [`GOSSIP_INTERVAL_MS`], for each PG, ask one peer (round robin) for the
/// records above the SCL — up to the lowest held record above the gap when there is one.
#[derive(Debug, Default)]
pub struct GossipCore {
    turn: usize,
    next_at_ms: u64,
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
            let peer = peers[self.turn % peers.len()].clone();
            self.turn = self.turn.wrapping_add(1);
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
            });
        }
        asks
    }

    /// Interprets a peer's answer to `ask`. A refusal yields nothing: another peer is asked on a
    /// later turn.
    #[must_use]
    pub fn on_answer(core: &NodeCore, ask: &GossipAsk, resp: Response) -> GossipOutcome {
        let Response::Records {
            epoch,
            writer,
            truncations,
            records,
        } = resp
        else {
            return GossipOutcome::default();
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
        GossipOutcome { adopt, records }
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
    use borealis_common::{Epoch, Payload, WriterId};

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
            peers: vec!["peer-a".into(), "peer-b".into()],
            truncations: vec![],
            membership: Membership::default(),
            me: String::new(),
        }
    }

    fn write(epoch: u64, writer: u64, lsn: u64) -> Request {
        write_m(epoch, writer, 0, lsn)
    }

    fn write_m(epoch: u64, writer: u64, membership: u64, lsn: u64) -> Request {
        Request::Write {
            epoch: Epoch(epoch),
            writer: WriterId(writer),
            membership: MembershipEpoch(membership),
            horizon: ReadHorizon::default(),
            records: vec![RedoRecord {
                lsn: Lsn(lsn),
                pg: PgId(0),
                prev_pg_lsn: Lsn(lsn - 1),
                page: PageId(1),
                prev_page_lsn: Lsn::ZERO,
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
            peers: vec![],
            truncations: vec![],
            membership: membership.clone(),
            me: me.into(),
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
}
