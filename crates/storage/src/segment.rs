//! The segment: what this node holds of each protection group, in memory, without any I/O.
//!
//! This is the sans-IO core of the storage node. The log writer calls [`Segment::insert`] for a
//! record only after the record's log entry is on disk (its `sync_data` returned), and recovery
//! calls it for every entry it finds in the log, in log order, so the state after a restart is the
//! state before it. Everything here is deterministic and is unit-tested without files or sockets.
//!
//! # SCL and the PG chain (Aurora SIGMOD 2017 §4.2, "segment complete LSN")
//!
//! Every record carries `prev_pg_lsn`, the LSN of the previous record of its protection group (0
//! for the first). Following these backlinks from the start gives the PG's chain. The SCL is the
//! end of the longest prefix of the chain this segment holds:
//!
//! ```text
//!   held:     1 ◀─ 2 ◀─ 4 ◀─ 5        8 ◀─ 9        (records 6, 7 not yet here)
//!                          ▲           ▲
//!                         SCL       pending, keyed by prev_pg_lsn (7 → 8, 8 → 9)
//! ```
//!
//! A record whose `prev_pg_lsn` equals the SCL extends the chain; the SCL moves to it, and then
//! to any pending record whose `prev_pg_lsn` is the new SCL, and so on. A record arriving out of
//! order waits in `pending`. When the gap fills (from the writer or by gossip from a peer), the
//! whole run chains at once. `scl_cpl` is the highest chained record flagged as a consistency
//! point (the end of a mini-transaction).
//!
//! # Invariants
//!
//! - The SCL never decreases, except when a truncation removes records (then the chain is rebuilt
//!   from the records that remain).
//! - Every record at or below the SCL that is held is on the chain; a record that arrives below
//!   the SCL and is not held cannot be on the chain (the chain is complete there) and is dropped.
//! - The page index holds chained records only, so a page read at a read point ≤ SCL sees exactly
//!   the records of the chain.
//! - A record covered by a known truncation is never held.
//! - No pending record has `prev_pg_lsn == scl` (it would have been chained).
//! - A copied cut is installed only above the SCL, and moves it up; below the cut's floor the
//!   segment holds page versions only, and `floor_cpl <= floor <= horizon` (asserted in
//!   [`Segment::install_copy`]).
//!
//! # Materialised bases, collection and checkpoints (issue 3, item 3; Aurora SIGMOD 2017 §3.3,
//! steps 5–7 of the storage node's work: coalesce, garbage-collect, checkpoint)
//!
//! A page's versions form a delta chain that starts at an `Init` record. A materialised **base**
//! is a persisted image of the page at one of its versions; a page build starts at the newest base
//! (or `Init`) at or below the read point, so it applies at most the deltas chained since. The
//! segment counts, per page, the deltas since its newest base or `Init`; a page with
//! [`DELTA_CHAIN_MAX`] of them is *due*, and the materialiser
//! builds and persists a base at its newest version.
//!
//! **Collection** below a horizon `H` (from PGMRPL, what every segment holds, and a retention;
//! see `core.rs`) keeps, for every page, its newest version at or below `H` and everything a build
//! of it needs (back to its base or `Init`), and every version above. Everything older goes, and
//! the held records with it; the chain below `floor` (the highest chained LSN at or below `H`) is
//! then no longer complete in memory, so the segment remembers `floor` and `floor_cpl` to rebuild
//! its chain from there. Reads below `H` are refused (`PagePlan::BelowHorizon`): the versions they
//! need are gone.
//!
//! ```text
//!   page 7:  I ── d ── d ── B ── d ── d ── d ── B ── d        (I init, d delta, B base)
//!                              ▲         ▲ H
//!            collected ◀───────┘ start of the newest version ≤ H: kept from here up
//! ```
//!
//! A **checkpoint** ([`SegmentSnapshot`]) is the held records (shape and location), the bases,
//! and `floor`/`floor_cpl`/`horizon` of each PG. [`Segment::restore`] rebuilds exactly the same
//! chain, page index and bases from it, so a restart reads the checkpoint and then only the log
//! written after it.
//!
//! # Copy repair (below the peers' collection floor)
//!
//! A segment whose SCL is below a peer's `floor` cannot catch up by gossip: the records between
//! are collected on that peer (`FetchRecords` is refused `BelowHorizon`). It copies the peer's
//! **cut** instead. The cut at `floor` is, for every page, what the peer holds at or below
//! `floor` — the records of the page's newest version at or below `floor` back to its base or
//! `Init`, and those bases — exactly what collection keeps ([`Segment::base_batch`] walks it in
//! (page, LSN) order). Installing it ([`Segment::install_copy`]) makes the PG look as the
//! peer's did right after its collection:
//!
//! ```text
//!   before:  chain ─── SCL                         (own records above SCL: pending)
//!   peer:        collected ───────── floor ── chain ───▶
//!   after:   copied cut ─────────── floor ── own records above floor, chained from the floor
//! ```
//!
//! Every record at or below `floor` the segment held before is dropped (the cut replaces it);
//! every record above it stays and is chained again from `floor`, exactly as [`Segment::restore`]
//! does for a checkpoint, so the SCL only moves up. Truncations known to this segment are applied
//! to the cut as to any record. Reads below the copied `horizon` are refused, as on the peer.
//!
//! # Corruption and repair
//!
//! A held record whose log entry was found corrupted (by the scrub, or by a read that failed its
//! CRC check) is marked corrupt: it stays on the chain — the segment did receive it, and the copy
//! to be fetched again is byte for byte the same record — but it is offered again: a healthy copy
//! from a peer (or from the writer) is appended to the log anew, and the record's location moves
//! to the new entry ([`Inserted::Repaired`]). Nothing is rewritten in place. Until then, a read
//! that needs the record fails its CRC check and is refused, never served.

use crate::limits::DELTA_CHAIN_MAX;
use borealis_common::limits::{TAIL_RECORDS_MAX, TRUNCATIONS_MAX};
use borealis_common::proto::{PgState, RecordMeta, Truncation};
use borealis_common::{Lsn, PageId, Payload, PgId, RedoRecord};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

/// Where a record's log entry lives: file number, offset of the entry's first byte, and the
/// entry's whole length (header included).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    pub file: u32,
    pub offset: u64,
    pub len: u32,
}

/// What the segment remembers of a held record; the payload stays in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Held {
    prev_pg_lsn: Lsn,
    page: PageId,
    cpl: bool,
    init: bool,
    loc: Location,
}

/// The outcome of offering a record to the segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// Newly held (chained or pending).
    Held,
    /// Already held: nothing changed.
    Duplicate,
    /// Covered by a known truncation: dropped.
    Truncated,
    /// Below the SCL and not held, so not on the chain: dropped.
    OffChain,
    /// Held, but its log entry was corrupted: this healthy copy's entry replaces it.
    Repaired,
}

/// How to build a page at a read point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PagePlan {
    /// The read point is above the PG's SCL: the segment cannot answer yet.
    NotReady { scl: Lsn },
    /// The read point is below what was collected.
    BelowHorizon { horizon: Lsn },
    /// The page has no record at or below the read point.
    Absent,
    /// The cached version (this LSN) is exactly the page at the read point.
    Cached(Lsn),
    /// Start from `base` and apply `records` (oldest first); the result has the LSN of the last.
    Build {
        base: Base,
        records: Vec<(Lsn, Location)>,
    },
}

/// The image a page build starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// A zero page (the first record is an `Init`, or the page's chain starts with patches).
    Zero,
    /// The cached version with this LSN.
    Cached(Lsn),
    /// The materialised base image of version `lsn`, persisted at `loc` in an image file.
    Image { lsn: Lsn, loc: Location },
}

/// One held record as a checkpoint stores it: its shape and where its log entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeldRecord {
    pub lsn: Lsn,
    pub prev_pg_lsn: Lsn,
    pub page: PageId,
    pub cpl: bool,
    pub init: bool,
    pub loc: Location,
}

/// What a checkpoint holds of one PG.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PgSnapshot {
    pub pg: PgId,
    /// The highest chained LSN at or below the collection horizon (0 before any collection).
    pub floor: Lsn,
    /// The highest CPL at or below `floor`.
    pub floor_cpl: Lsn,
    /// Reads below this are refused: collected.
    pub horizon: Lsn,
    /// The highest `known_vdl` of any record offered.
    pub known_vdl: Lsn,
    /// Every held record, in LSN order.
    pub records: Vec<HeldRecord>,
    /// Every base: page, version, location in an image file.
    pub bases: Vec<(PageId, Lsn, Location)>,
}

/// The segment as a checkpoint stores it (truncations live in the meta file).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SegmentSnapshot {
    pub pgs: Vec<PgSnapshot>,
}

/// One item of a copy, as the serving peer finds it: a held record at or below the floor (its
/// page, LSN and log entry) and the base image at that version, if there is one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CopyItem {
    pub page: PageId,
    pub lsn: Lsn,
    pub loc: Location,
    pub image: Option<Location>,
}

/// A page of a copy of one PG's cut at its floor (see the module essay).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CopyBatch {
    pub floor: Lsn,
    pub floor_cpl: Lsn,
    pub horizon: Lsn,
    pub items: Vec<CopyItem>,
    /// The cursor of the next batch; `None`: the cut is complete.
    pub next: Option<(PageId, Lsn)>,
}

/// Why a copied cut was not installed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CopyRefused {
    /// The segment's SCL already reached the cut: ordinary gossip serves it.
    #[error("SCL {scl} already reaches the copied floor {floor}")]
    NotBehind { scl: Lsn, floor: Lsn },
    /// The cut contradicts itself or what this segment knows.
    #[error("inconsistent copy: {0}")]
    Inconsistent(String),
}

/// What one collection dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Collected {
    pub records: u64,
    pub versions: u64,
    pub bases: u64,
}

/// One segment of one protection group.
#[derive(Clone, Debug, Default)]
struct PgSegment {
    scl: Lsn,
    scl_cpl: Lsn,
    held: BTreeMap<Lsn, Held>,
    /// Held records above the SCL, as `(prev_pg_lsn, lsn)`.
    pending: BTreeSet<(Lsn, Lsn)>,
    /// The same records, by LSN alone.
    above: BTreeSet<Lsn>,
    /// Chained records of each page: LSN → (is an `Init`, location). Ordered by page, so a copy
    /// of the segment walks it with a cursor.
    pages: BTreeMap<PageId, BTreeMap<Lsn, (bool, Location)>>,
    /// Held records whose log entry is known to be corrupted, waiting for a healthy copy.
    corrupt: BTreeSet<Lsn>,
    /// Materialised bases of each page: version → image location.
    bases: HashMap<PageId, BTreeMap<Lsn, Location>>,
    /// Deltas chained on each page since its newest base or `Init`.
    deltas: HashMap<PageId, u32>,
    /// Pages with at least `DELTA_CHAIN_MAX` deltas since their newest base or `Init`.
    due: BTreeSet<PageId>,
    /// The highest chained LSN at or below the collection horizon; the chain below is partial.
    floor: Lsn,
    floor_cpl: Lsn,
    /// Reads below this are refused.
    horizon: Lsn,
    /// The highest `known_vdl` of any record offered (a writer's VDL: every LSN of the volume up
    /// to it was durable). Kept across truncations and copies: it stays true.
    known_vdl: Lsn,
}

impl PgSegment {
    /// A PG whose chain was collected up to `floor`: the chain continues from there.
    fn from_floor(floor: Lsn, floor_cpl: Lsn, horizon: Lsn) -> PgSegment {
        PgSegment {
            scl: floor,
            scl_cpl: floor_cpl,
            floor,
            floor_cpl,
            horizon,
            ..PgSegment::default()
        }
    }

    /// Rebuilds a PG from held records (any order) and bases: records at or below the floor are
    /// placed as they were (their chain below is collected), the rest chain from the floor in LSN
    /// order, exactly as they did when they arrived. Bases of versions no longer indexed are
    /// dropped.
    fn rebuild(
        floor: Lsn,
        floor_cpl: Lsn,
        horizon: Lsn,
        records: impl IntoIterator<Item = (Lsn, Held)>,
        bases: impl IntoIterator<Item = (PageId, Lsn, Location)>,
    ) -> PgSegment {
        let mut s = PgSegment::from_floor(floor, floor_cpl, horizon);
        let mut sorted: Vec<(Lsn, Held)> = records.into_iter().collect();
        sorted.sort_by_key(|(lsn, _)| *lsn);
        for (lsn, h) in sorted {
            if lsn <= floor {
                s.held.insert(lsn, h);
                if h.page != PageId::NONE {
                    s.pages
                        .entry(h.page)
                        .or_default()
                        .insert(lsn, (h.init, h.loc));
                }
            } else {
                s.insert(lsn, h);
            }
        }
        for (page, lsn, loc) in bases {
            if s.pages.get(&page).is_some_and(|v| v.contains_key(&lsn)) {
                s.bases.entry(page).or_default().insert(lsn, loc);
            }
        }
        let pages: Vec<PageId> = s.pages.keys().copied().collect();
        for page in pages {
            s.recount(page);
        }
        s
    }

    /// Recomputes the deltas of `page` since its newest base or `Init`.
    fn recount(&mut self, page: PageId) {
        let bases = self.bases.get(&page);
        let n = self.pages.get(&page).map_or(0, |v| {
            v.iter()
                .rev()
                .take_while(|(lsn, (init, _))| {
                    !*init && !bases.is_some_and(|b| b.contains_key(lsn))
                })
                .count()
        });
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        self.set_deltas(page, n);
    }

    fn set_deltas(&mut self, page: PageId, n: u32) {
        self.deltas.insert(page, n);
        if n >= DELTA_CHAIN_MAX {
            self.due.insert(page);
        } else {
            self.due.remove(&page);
        }
    }

    fn insert(&mut self, lsn: Lsn, h: Held) -> Inserted {
        if let Some(old) = self.held.get_mut(&lsn) {
            let same = (old.prev_pg_lsn, old.page, old.cpl, old.init)
                == (h.prev_pg_lsn, h.page, h.cpl, h.init);
            if !same || !self.corrupt.remove(&lsn) {
                return Inserted::Duplicate;
            }
            old.loc = h.loc;
            if let Some(v) = self
                .pages
                .get_mut(&h.page)
                .and_then(|versions| versions.get_mut(&lsn))
            {
                v.1 = h.loc;
            }
            return Inserted::Repaired;
        }
        if lsn <= self.scl {
            return Inserted::OffChain;
        }
        self.held.insert(lsn, h);
        if h.prev_pg_lsn == self.scl {
            self.chain(lsn);
            self.chain_pending();
        } else {
            self.pending.insert((h.prev_pg_lsn, lsn));
            self.above.insert(lsn);
        }
        Inserted::Held
    }

    /// Moves the SCL to `lsn`, which must extend the chain.
    fn chain(&mut self, lsn: Lsn) {
        let Some(h) = self.held.get(&lsn).copied() else {
            unreachable!("chaining record {lsn} that is not held");
        };
        assert!(
            lsn > self.scl,
            "SCL never decreases except by truncation ({} -> {lsn})",
            self.scl
        );
        assert_eq!(
            h.prev_pg_lsn, self.scl,
            "record {lsn} does not extend the chain"
        );
        self.scl = lsn;
        if h.cpl {
            self.scl_cpl = lsn;
        }
        if h.page != PageId::NONE {
            self.pages
                .entry(h.page)
                .or_default()
                .insert(lsn, (h.init, h.loc));
            let n = if h.init {
                0
            } else {
                self.deltas
                    .get(&h.page)
                    .copied()
                    .unwrap_or(0)
                    .saturating_add(1)
            };
            self.set_deltas(h.page, n);
        }
    }

    /// Collects below `horizon` (see the module essay). The caller has clamped it to the SCL.
    fn collect(&mut self, horizon: Lsn) -> Collected {
        let mut out = Collected::default();
        if horizon <= self.horizon {
            return out;
        }
        assert!(horizon <= self.scl, "collection never passes the SCL");
        // The new floor: the highest chained record at or below the horizon.
        let floor = self
            .held
            .range(..=horizon)
            .next_back()
            .map_or(self.floor, |(lsn, _)| *lsn)
            .max(self.floor);
        let floor_cpl = self
            .held
            .range(..=floor)
            .rev()
            .find(|(_, h)| h.cpl)
            .map_or(self.floor_cpl, |(lsn, _)| *lsn)
            .max(self.floor_cpl);
        for (page, versions) in &mut self.pages {
            let bases = self.bases.get_mut(page);
            // The start of the newest version at or below the horizon: its base or Init.
            let start = versions
                .range(..=horizon)
                .rev()
                .find(|(lsn, (init, _))| {
                    *init || bases.as_ref().is_some_and(|b| b.contains_key(lsn))
                })
                .map(|(lsn, _)| *lsn);
            let Some(start) = start else { continue };
            let keep = versions.split_off(&start);
            out.versions += versions.len() as u64;
            *versions = keep;
            if let Some(b) = bases {
                let keep = b.split_off(&start);
                out.bases += b.len() as u64;
                *b = keep;
            }
        }
        let below: Vec<Lsn> = self.held.range(..=floor).map(|(lsn, _)| *lsn).collect();
        for lsn in below {
            let h = self.held[&lsn];
            let indexed = h.page != PageId::NONE
                && self
                    .pages
                    .get(&h.page)
                    .is_some_and(|v| v.contains_key(&lsn));
            if !indexed {
                self.held.remove(&lsn);
                self.corrupt.remove(&lsn);
                out.records += 1;
            }
        }
        self.floor = floor;
        self.floor_cpl = floor_cpl;
        self.horizon = horizon;
        out
    }

    fn snapshot(&self, pg: PgId) -> PgSnapshot {
        PgSnapshot {
            pg,
            floor: self.floor,
            floor_cpl: self.floor_cpl,
            horizon: self.horizon,
            known_vdl: self.known_vdl,
            records: self
                .held
                .iter()
                .map(|(&lsn, h)| HeldRecord {
                    lsn,
                    prev_pg_lsn: h.prev_pg_lsn,
                    page: h.page,
                    cpl: h.cpl,
                    init: h.init,
                    loc: h.loc,
                })
                .collect(),
            bases: {
                // In (page, LSN) order: equal segments give equal snapshots.
                let mut v: Vec<(PageId, Lsn, Location)> = self
                    .bases
                    .iter()
                    .flat_map(|(page, b)| b.iter().map(move |(lsn, loc)| (*page, *lsn, *loc)))
                    .collect();
                v.sort_unstable_by_key(|(page, lsn, _)| (*page, *lsn));
                v
            },
        }
    }

    /// Chains pending records while one continues the chain, then drops pending records the SCL
    /// has passed (they belong to no chain).
    fn chain_pending(&mut self) {
        loop {
            let next = self
                .pending
                .range((self.scl, Lsn::ZERO)..=(self.scl, Lsn(u64::MAX)))
                .next_back()
                .copied();
            let Some((prev, lsn)) = next else { break };
            // Two pending records with one predecessor can only come from two writers whose
            // truncation this node has not learned; the newer writer allocated the higher LSN.
            self.pending.remove(&(prev, lsn));
            self.above.remove(&lsn);
            self.chain(lsn);
        }
        while let Some(&lsn) = self.above.first() {
            if lsn > self.scl {
                break;
            }
            self.above.remove(&lsn);
            if let Some(h) = self.held.remove(&lsn) {
                self.pending.remove(&(h.prev_pg_lsn, lsn));
            }
        }
        assert!(
            self.pending
                .range((self.scl, Lsn::ZERO)..=(self.scl, Lsn(u64::MAX)))
                .next()
                .is_none(),
            "a pending record continues the chain at {}",
            self.scl
        );
    }

    /// Every LSN of the volume up to here is durable: the highest known VDL, or the collection
    /// floor (at or below a read horizon a writer sent, itself at or below its VDL).
    fn complete_floor(&self) -> Lsn {
        self.known_vdl.max(self.floor)
    }

    fn state(&self, pg: PgId) -> PgState {
        let complete_floor = self.complete_floor();
        let held_cpl = self
            .held
            .range(..=complete_floor)
            .rev()
            .find(|(_, h)| h.cpl)
            .map_or(Lsn::ZERO, |(lsn, _)| *lsn);
        let cpl_floor = self.known_vdl.max(self.floor_cpl).max(held_cpl);
        // The collection floor is an LSN of this PG's chain, like every held record.
        let floor_tail = self
            .held
            .range(..=complete_floor)
            .next_back()
            .map_or(Lsn::ZERO, |(lsn, _)| *lsn)
            .max(self.floor);
        let held = self
            .held
            .range((Bound::Excluded(complete_floor), Bound::Unbounded))
            .take(TAIL_RECORDS_MAX as usize)
            .map(|(lsn, h)| RecordMeta {
                lsn: *lsn,
                prev_pg_lsn: h.prev_pg_lsn,
                cpl: h.cpl,
            })
            .collect();
        let above = self
            .above
            .iter()
            .take(TAIL_RECORDS_MAX as usize)
            .filter_map(|lsn| {
                self.held.get(lsn).map(|h| RecordMeta {
                    lsn: *lsn,
                    prev_pg_lsn: h.prev_pg_lsn,
                    cpl: h.cpl,
                })
            })
            .collect();
        PgState {
            pg,
            scl: self.scl,
            scl_cpl: self.scl_cpl,
            above,
            complete_floor,
            cpl_floor,
            floor_tail,
            held,
        }
    }
}

/// Truncations could not be merged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("more than {TRUNCATIONS_MAX} truncations")]
pub struct TooManyTruncations;

/// Everything this node holds, of every protection group, plus the truncations it knows.
#[derive(Clone, Debug)]
pub struct Segment {
    pgs: BTreeMap<PgId, PgSegment>,
    truncations: Vec<Truncation>,
    /// The PG the segment is of: pages are read from it. (Its records are all of this PG; the
    /// map by PG serves tests and the checkpoint format, which allow several.)
    home: PgId,
}

impl Segment {
    /// An empty segment of PG 0 that knows `truncations`.
    #[must_use]
    pub fn new(truncations: Vec<Truncation>) -> Segment {
        Segment::of(PgId(0), truncations)
    }

    /// An empty segment of `pg` that knows `truncations`. Its PG always exists.
    #[must_use]
    pub fn of(pg: PgId, truncations: Vec<Truncation>) -> Segment {
        let mut pgs = BTreeMap::new();
        pgs.insert(pg, PgSegment::default());
        Segment {
            pgs,
            truncations,
            home: pg,
        }
    }

    /// Whether a known truncation discards this record.
    #[must_use]
    pub fn is_truncated(&self, pg: PgId, lsn: Lsn) -> bool {
        self.truncations.iter().any(|t| t.covers(pg, lsn))
    }

    /// Whether offering this record would change anything (a cheap check before logging it).
    #[must_use]
    pub fn wants(&self, rec: &RedoRecord) -> bool {
        if self.is_truncated(rec.pg, rec.lsn) {
            return false;
        }
        match self.pgs.get(&rec.pg) {
            Some(s) => {
                (rec.lsn > s.scl && !s.held.contains_key(&rec.lsn)) || s.corrupt.contains(&rec.lsn)
            }
            None => true,
        }
    }

    /// The log entry of held record `lsn` of `pg`, at `loc`, failed its check: mark the record
    /// corrupt so that a healthy copy is fetched and logged again. Returns whether this is news
    /// (the record is held at exactly that location and was not marked yet).
    pub fn mark_corrupt(&mut self, pg: PgId, lsn: Lsn, loc: Location) -> bool {
        let Some(s) = self.pgs.get_mut(&pg) else {
            return false;
        };
        match s.held.get(&lsn) {
            Some(h) if h.loc == loc => s.corrupt.insert(lsn),
            _ => false,
        }
    }

    /// Held records of every PG whose log entry is corrupted, at most `max`, lowest first.
    #[must_use]
    pub fn corrupt_records(&self, max: usize) -> Vec<(PgId, Lsn)> {
        self.pgs
            .iter()
            .flat_map(|(pg, s)| s.corrupt.iter().map(move |lsn| (*pg, *lsn)))
            .take(max)
            .collect()
    }

    /// Held records after `cursor` in (PG, LSN) order, up to `bytes_max` bytes of log entries
    /// (at least one record if any is left): what the scrub reads next.
    #[must_use]
    pub fn scrub_batch(
        &self,
        cursor: Option<(PgId, Lsn)>,
        bytes_max: u64,
    ) -> Vec<(PgId, Lsn, Location)> {
        let mut out = Vec::new();
        let mut bytes = 0u64;
        let start_pg = cursor.map_or(PgId(0), |(pg, _)| pg);
        for (&pg, s) in self.pgs.range(start_pg..) {
            let range = match cursor {
                Some((c_pg, c_lsn)) if c_pg == pg => {
                    s.held.range((Bound::Excluded(c_lsn), Bound::Unbounded))
                }
                _ => s.held.range(..),
            };
            for (&lsn, h) in range {
                if !out.is_empty() && bytes + u64::from(h.loc.len) > bytes_max {
                    return out;
                }
                bytes += u64::from(h.loc.len);
                out.push((pg, lsn, h.loc));
            }
        }
        out
    }

    /// Offers a record whose log entry is durable at `loc`.
    pub fn insert(&mut self, rec: &RedoRecord, loc: Location) -> Inserted {
        if self.is_truncated(rec.pg, rec.lsn) {
            return Inserted::Truncated;
        }
        let h = Held {
            prev_pg_lsn: rec.prev_pg_lsn,
            page: rec.page,
            cpl: rec.cpl,
            init: matches!(rec.payload, Payload::Init(_)),
            loc,
        };
        let s = self.pgs.entry(rec.pg).or_default();
        s.known_vdl = s.known_vdl.max(rec.known_vdl);
        s.insert(rec.lsn, h)
    }

    /// The SCL of a PG (0 for a PG never seen).
    #[must_use]
    pub fn scl(&self, pg: PgId) -> Lsn {
        self.pgs.get(&pg).map_or(Lsn::ZERO, |s| s.scl)
    }

    /// The lowest LSN held above the SCL of a PG: there is a gap below it.
    #[must_use]
    pub fn lowest_pending(&self, pg: PgId) -> Option<Lsn> {
        self.pgs.get(&pg).and_then(|s| s.above.first().copied())
    }

    /// Every PG this segment knows.
    #[must_use]
    pub fn pg_ids(&self) -> Vec<PgId> {
        self.pgs.keys().copied().collect()
    }

    /// Known truncations.
    #[must_use]
    pub fn truncations(&self) -> &[Truncation] {
        &self.truncations
    }

    /// The state of every PG, as reported to a writer.
    #[must_use]
    pub fn pg_states(&self) -> Vec<PgState> {
        self.pgs.iter().map(|(pg, s)| s.state(*pg)).collect()
    }

    /// Learns `new` truncations and applies them: covered records are dropped and the chain of
    /// every affected PG is rebuilt from the records that remain. Returns whether anything new was
    /// learned.
    pub fn merge_truncations(&mut self, new: &[Truncation]) -> Result<bool, TooManyTruncations> {
        let fresh: Vec<Truncation> = new
            .iter()
            .filter(|t| !self.truncations.contains(t))
            .copied()
            .fold(Vec::new(), |mut v, t| {
                if !v.contains(&t) {
                    v.push(t);
                }
                v
            });
        if fresh.is_empty() {
            return Ok(false);
        }
        if self.truncations.len() + fresh.len() > TRUNCATIONS_MAX as usize {
            return Err(TooManyTruncations);
        }
        self.truncations.extend_from_slice(&fresh);
        let affected: BTreeSet<PgId> = fresh.iter().map(|t| t.pg).collect();
        for pg in affected {
            let Some(old) = self.pgs.remove(&pg) else {
                continue;
            };
            // A base built over records a truncation removes is wrong: drop every base above the
            // lowest truncated LSN of this PG.
            let lowest = fresh
                .iter()
                .filter(|t| t.pg == pg)
                .map(|t| t.above)
                .min()
                .unwrap_or(Lsn(u64::MAX));
            let truncations = &self.truncations;
            let kept = old
                .held
                .iter()
                .filter(|(lsn, _)| !truncations.iter().any(|t| t.covers(pg, **lsn)))
                .map(|(l, h)| (*l, *h));
            let bases = old.bases.iter().flat_map(|(page, b)| {
                b.range(..=lowest)
                    .map(move |(lsn, loc)| (*page, *lsn, *loc))
            });
            let mut rebuilt =
                PgSegment::rebuild(old.floor, old.floor_cpl, old.horizon, kept, bases);
            rebuilt.known_vdl = old.known_vdl;
            rebuilt.corrupt = old
                .corrupt
                .iter()
                .filter(|l| rebuilt.held.contains_key(l))
                .copied()
                .collect();
            self.pgs.insert(pg, rebuilt);
        }
        Ok(true)
    }

    /// How to build `page` (of the segment's PG) as of `read_point`, given the LSN of its cached
    /// version, if any. `pg_point`: every record of the PG at or below the read point lies at or
    /// below it (see `Request::GetPage`); the segment must hold them all.
    #[must_use]
    pub fn page_plan(
        &self,
        page: PageId,
        read_point: Lsn,
        pg_point: Lsn,
        cached: Option<Lsn>,
    ) -> PagePlan {
        let pg = self.home;
        let scl = self.scl(pg);
        if scl < pg_point {
            return PagePlan::NotReady { scl };
        }
        let Some(s) = self.pgs.get(&pg) else {
            return PagePlan::Absent;
        };
        if read_point < s.horizon {
            return PagePlan::BelowHorizon { horizon: s.horizon };
        }
        let Some(versions) = s.pages.get(&page) else {
            return PagePlan::Absent;
        };
        let bases = s.bases.get(&page);
        let mut iter = versions.range(..=read_point).rev().peekable();
        let Some(&(&newest, _)) = iter.peek() else {
            return PagePlan::Absent;
        };
        if cached == Some(newest) {
            return PagePlan::Cached(newest);
        }
        let mut records = Vec::new();
        let mut base = Base::Zero;
        for (&lsn, &(init, loc)) in iter {
            if Some(lsn) == cached {
                base = Base::Cached(lsn);
                break;
            }
            if let Some(&image) = bases.and_then(|b| b.get(&lsn)) {
                base = Base::Image { lsn, loc: image };
                break;
            }
            records.push((lsn, loc));
            if init {
                break;
            }
        }
        records.reverse();
        PagePlan::Build { base, records }
    }

    /// Pages due for a base (at most `max`, in (PG, page) order), each with the plan that builds
    /// its newest version.
    #[must_use]
    pub fn materialise_due(&self, max: usize) -> Vec<(PgId, PageId, Lsn, PagePlan)> {
        let mut out = Vec::new();
        for (&pg, s) in &self.pgs {
            for &page in &s.due {
                if out.len() >= max {
                    return out;
                }
                let Some((&lsn, _)) = s.pages.get(&page).and_then(|v| v.iter().next_back()) else {
                    continue;
                };
                out.push((pg, page, lsn, self.page_plan(page, lsn, lsn, None)));
            }
        }
        out
    }

    /// A base of `page` at version `lsn` is durable at `loc` (an image file). Returns whether it
    /// was taken: the version may have been truncated or collected while it was being built.
    pub fn add_base(&mut self, pg: PgId, page: PageId, lsn: Lsn, loc: Location) -> bool {
        let Some(s) = self.pgs.get_mut(&pg) else {
            return false;
        };
        if !s.pages.get(&page).is_some_and(|v| v.contains_key(&lsn)) || lsn < s.horizon {
            return false;
        }
        s.bases.entry(page).or_default().insert(lsn, loc);
        s.recount(page);
        true
    }

    /// The deltas a build of `page` at its newest version applies on top of its base or `Init`.
    #[must_use]
    pub fn delta_chain(&self, page: PageId) -> u32 {
        self.pgs
            .get(&self.home)
            .and_then(|s| s.deltas.get(&page))
            .copied()
            .unwrap_or(0)
    }

    /// The highest chained LSN of `pg` at or below its collection horizon: records at or below
    /// it may be gone, so gossip cannot serve them.
    #[must_use]
    pub fn floor(&self, pg: PgId) -> Lsn {
        self.pgs.get(&pg).map_or(Lsn::ZERO, |s| s.floor)
    }

    /// Reads of `pg` below this are refused (collected).
    #[must_use]
    pub fn horizon(&self, pg: PgId) -> Lsn {
        self.pgs.get(&pg).map_or(Lsn::ZERO, |s| s.horizon)
    }

    /// Held records of every PG.
    #[must_use]
    pub fn held_count(&self) -> usize {
        self.pgs.values().map(|s| s.held.len()).sum()
    }

    /// Collects `pg` below `horizon`, clamped to its SCL (see the module essay).
    pub fn collect(&mut self, pg: PgId, horizon: Lsn) -> Collected {
        let Some(s) = self.pgs.get_mut(&pg) else {
            return Collected::default();
        };
        let h = horizon.min(s.scl);
        s.collect(h)
    }

    /// The log files and image files some held record or base still points into.
    #[must_use]
    pub fn referenced_files(&self) -> (BTreeSet<u32>, BTreeSet<u32>) {
        let mut logs = BTreeSet::new();
        let mut images = BTreeSet::new();
        for s in self.pgs.values() {
            logs.extend(s.held.values().map(|h| h.loc.file));
            for v in s.pages.values() {
                logs.extend(v.values().map(|(_, l)| l.file));
            }
            for b in s.bases.values() {
                images.extend(b.values().map(|l| l.file));
            }
        }
        (logs, images)
    }

    /// What a checkpoint stores.
    #[must_use]
    pub fn snapshot(&self) -> SegmentSnapshot {
        SegmentSnapshot {
            pgs: self.pgs.iter().map(|(pg, s)| s.snapshot(*pg)).collect(),
        }
    }

    /// The segment a checkpoint describes, with the truncations of the meta file (which may be
    /// newer than the checkpoint: covered records are dropped as they would have been).
    #[must_use]
    pub fn restore(truncations: Vec<Truncation>, snap: &SegmentSnapshot) -> Segment {
        Segment::restore_of(PgId(0), truncations, snap)
    }

    /// [`restore`](Self::restore) for a segment of `pg`.
    #[must_use]
    pub fn restore_of(pg: PgId, truncations: Vec<Truncation>, snap: &SegmentSnapshot) -> Segment {
        let mut seg = Segment::of(pg, truncations);
        for p in &snap.pgs {
            let pg = p.pg;
            let truncs = &seg.truncations;
            let lowest = truncs
                .iter()
                .filter(|t| t.pg == pg)
                .map(|t| t.above)
                .min()
                .unwrap_or(Lsn(u64::MAX));
            let records = p
                .records
                .iter()
                .filter(|r| !truncs.iter().any(|t| t.covers(pg, r.lsn)))
                .map(|r| {
                    (
                        r.lsn,
                        Held {
                            prev_pg_lsn: r.prev_pg_lsn,
                            page: r.page,
                            cpl: r.cpl,
                            init: r.init,
                            loc: r.loc,
                        },
                    )
                });
            // A base above a truncation the checkpoint may not have known is dropped (it may
            // have been built over truncated records) — but never one at or below the horizon:
            // every truncation starting below the horizon was known when the segment collected
            // up to it (the writer that reported that read horizon had learned it first), so such
            // a base is good, and it may be the only start left of its page.
            let bases = p
                .bases
                .iter()
                .filter(|(_, lsn, _)| *lsn <= lowest || *lsn <= p.horizon)
                .copied();
            let mut s = PgSegment::rebuild(p.floor, p.floor_cpl, p.horizon, records, bases);
            s.known_vdl = p.known_vdl;
            seg.pgs.insert(pg, s);
        }
        seg
    }

    /// The next items of `pg`'s cut at its floor after `after`, in (page, LSN) order: every
    /// indexed record at or below the floor with its base image, if any; at most `max` items and
    /// about `bytes_max` bytes (log entries plus `image_bytes` per image), at least one item if
    /// any is left. Empty with `floor` 0 when nothing was ever collected.
    #[must_use]
    pub fn base_batch(
        &self,
        pg: PgId,
        after: Option<(PageId, Lsn)>,
        bytes_max: u64,
        image_bytes: u64,
        max: usize,
    ) -> CopyBatch {
        let Some(s) = self.pgs.get(&pg) else {
            return CopyBatch::default();
        };
        let mut out = CopyBatch {
            floor: s.floor,
            floor_cpl: s.floor_cpl,
            horizon: s.horizon,
            items: Vec::new(),
            next: None,
        };
        if s.floor == Lsn::ZERO {
            return out;
        }
        let mut bytes = 0u64;
        let start = after.map_or(Bound::Unbounded, |(page, _)| Bound::Included(page));
        for (&page, versions) in s.pages.range((start, Bound::Unbounded)) {
            let from = match after {
                Some((p, lsn)) if p == page => Bound::Excluded(lsn),
                _ => Bound::Unbounded,
            };
            let bases = s.bases.get(&page);
            for (&lsn, &(_, loc)) in versions.range((from, Bound::Included(s.floor))) {
                let image = bases.and_then(|b| b.get(&lsn)).copied();
                let cost = u64::from(loc.len) + if image.is_some() { image_bytes } else { 0 };
                if !out.items.is_empty() && (bytes + cost > bytes_max || out.items.len() >= max) {
                    out.next = out.items.last().map(|i| (i.page, i.lsn));
                    return out;
                }
                bytes += cost;
                out.items.push(CopyItem {
                    page,
                    lsn,
                    loc,
                    image,
                });
            }
        }
        out
    }

    /// Installs a copied cut of `pg` (see the module essay): `records` are the copied records
    /// (shape and location in this node's log), `bases` the copied images (in this node's image
    /// files), all durable. Every record this segment held at or below `floor` is dropped, every
    /// one above it is chained again from `floor`.
    pub fn install_copy(
        &mut self,
        pg: PgId,
        floor: Lsn,
        floor_cpl: Lsn,
        horizon: Lsn,
        records: &[HeldRecord],
        bases: &[(PageId, Lsn, Location)],
    ) -> Result<(), CopyRefused> {
        let scl = self.scl(pg);
        if scl >= floor {
            return Err(CopyRefused::NotBehind { scl, floor });
        }
        if floor_cpl > floor || horizon < floor {
            return Err(CopyRefused::Inconsistent(format!(
                "floor {floor}, floor CPL {floor_cpl}, horizon {horizon}"
            )));
        }
        if self.is_truncated(pg, floor) {
            return Err(CopyRefused::Inconsistent(format!(
                "floor {floor} is covered by a known truncation"
            )));
        }
        if let Some(r) = records
            .iter()
            .find(|r| r.lsn > floor || r.page == PageId::NONE)
        {
            return Err(CopyRefused::Inconsistent(format!(
                "record {} of page {} is not part of a cut at {floor}",
                r.lsn, r.page
            )));
        }
        let old = self.pgs.remove(&pg).unwrap_or_default();
        let truncs = &self.truncations;
        let lowest = truncs
            .iter()
            .filter(|t| t.pg == pg)
            .map(|t| t.above)
            .min()
            .unwrap_or(Lsn(u64::MAX));
        let copied = records
            .iter()
            .filter(|r| !truncs.iter().any(|t| t.covers(pg, r.lsn)))
            .map(|r| {
                (
                    r.lsn,
                    Held {
                        prev_pg_lsn: r.prev_pg_lsn,
                        page: r.page,
                        cpl: r.cpl,
                        init: r.init,
                        loc: r.loc,
                    },
                )
            });
        let own = old.held.range((Bound::Excluded(floor), Bound::Unbounded));
        let all = copied.chain(own.map(|(l, h)| (*l, *h)));
        // Copied bases are at or below the floor, so below the horizon: kept (see `restore`).
        let bases = bases
            .iter()
            .filter(|(_, lsn, _)| *lsn <= lowest || *lsn <= horizon)
            .copied();
        let mut s = PgSegment::rebuild(floor, floor_cpl, horizon, all, bases);
        s.known_vdl = old.known_vdl;
        s.corrupt = old
            .corrupt
            .iter()
            .filter(|l| **l > floor && s.held.contains_key(l))
            .copied()
            .collect();
        assert!(
            s.scl >= floor && s.scl > old.scl,
            "an installed copy moves the SCL up ({} -> {}, floor {floor})",
            old.scl,
            s.scl
        );
        assert!(
            s.held.range(..=floor).all(|(_, h)| h.page != PageId::NONE),
            "a cut holds page versions only"
        );
        assert!(
            s.horizon >= s.floor && s.floor_cpl <= s.floor,
            "floor CPL <= floor <= horizon"
        );
        self.pgs.insert(pg, s);
        Ok(())
    }

    /// Held records of `pg` with `after < lsn <= upto`, in LSN order, at most `max`.
    #[must_use]
    pub fn fetch(&self, pg: PgId, after: Lsn, upto: Lsn, max: usize) -> Vec<(Lsn, Location)> {
        let Some(s) = self.pgs.get(&pg) else {
            return Vec::new();
        };
        if after >= upto {
            return Vec::new();
        }
        s.held
            .range((Bound::Excluded(after), Bound::Included(upto)))
            .take(max)
            .map(|(lsn, h)| (*lsn, h.loc))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use borealis_common::redo::Patch;
    use borealis_common::{Epoch, TxnId};

    fn rec(lsn: u64, prev: u64, page: u64, cpl: bool) -> RedoRecord {
        RedoRecord {
            lsn: Lsn(lsn),
            pg: PgId(0),
            prev_pg_lsn: Lsn(prev),
            page: PageId(page),
            prev_page_lsn: Lsn::ZERO,
            known_vdl: Lsn::ZERO,
            cpl,
            payload: Payload::Patch(vec![Patch {
                offset: 0,
                bytes: vec![lsn as u8],
            }]),
        }
    }

    fn loc(lsn: u64) -> Location {
        Location {
            file: 1,
            offset: lsn * 100,
            len: 50,
        }
    }

    fn put(s: &mut Segment, r: &RedoRecord) -> Inserted {
        s.insert(r, loc(r.lsn.0))
    }

    #[test]
    fn state_reports_the_known_vdl_floor_and_every_record_above_it() {
        let mut s = Segment::new(vec![]);
        // 1..=3 (CPL at 2), then 5 above a gap at 4; records 3 and 5 say VDL was 2 when they
        // were allocated.
        put(&mut s, &rec(1, 0, 1, false));
        put(&mut s, &rec(2, 1, 1, true));
        let mut r3 = rec(3, 2, 2, false);
        r3.known_vdl = Lsn(2);
        put(&mut s, &r3);
        let mut r5 = rec(5, 4, 2, true);
        r5.known_vdl = Lsn(2);
        put(&mut s, &r5);
        let st = &s.pg_states()[0];
        assert_eq!(st.scl, Lsn(3));
        assert_eq!(
            (st.complete_floor, st.cpl_floor, st.floor_tail),
            (Lsn(2), Lsn(2), Lsn(2))
        );
        let held: Vec<u64> = st.held.iter().map(|m| m.lsn.0).collect();
        assert_eq!(
            held,
            vec![3, 5],
            "chained and pending records above the floor alike"
        );
        // The known VDL survives a checkpoint and a truncation.
        let again = Segment::restore(vec![], &s.snapshot());
        assert_eq!(again.pg_states(), s.pg_states());
        let t = Truncation {
            epoch: Epoch(2),
            pg: PgId(0),
            above: Lsn(3),
            upto: Lsn(9),
        };
        s.merge_truncations(&[t]).unwrap();
        let st = &s.pg_states()[0];
        assert_eq!(st.complete_floor, Lsn(2));
        let held: Vec<u64> = st.held.iter().map(|m| m.lsn.0).collect();
        assert_eq!(held, vec![3], "the truncated record is gone");
    }

    #[test]
    fn scl_follows_backlinks_out_of_order_and_with_duplicates() {
        // The PG chain skips LSNs 3 and 6 (records of other PGs would use them).
        let chain = [
            rec(1, 0, 10, false),
            rec(2, 1, 10, true),
            rec(4, 2, 11, false),
            rec(5, 4, 11, true),
            rec(7, 5, 10, false),
            rec(8, 7, 10, true),
        ];
        let mut s = Segment::new(vec![]);
        assert_eq!(put(&mut s, &chain[1]), Inserted::Held);
        assert_eq!(s.scl(PgId(0)), Lsn(0), "2 waits for 1");
        assert_eq!(put(&mut s, &chain[3]), Inserted::Held);
        assert_eq!(put(&mut s, &chain[5]), Inserted::Held);
        assert_eq!(s.lowest_pending(PgId(0)), Some(Lsn(2)));
        assert_eq!(put(&mut s, &chain[0]), Inserted::Held);
        assert_eq!(s.scl(PgId(0)), Lsn(2), "1 chains 2, then 4 is missing");
        assert_eq!(put(&mut s, &chain[1]), Inserted::Duplicate);
        assert_eq!(put(&mut s, &chain[0]), Inserted::Duplicate);
        assert_eq!(s.scl(PgId(0)), Lsn(2));
        let st = &s.pg_states()[0];
        assert_eq!(st.scl_cpl, Lsn(2));
        assert_eq!(
            st.above.iter().map(|m| m.lsn.0).collect::<Vec<_>>(),
            vec![5, 8]
        );
        assert_eq!(put(&mut s, &chain[2]), Inserted::Held);
        assert_eq!(s.scl(PgId(0)), Lsn(5), "4 chains 5; 8 waits for 7");
        assert_eq!(s.pg_states()[0].scl_cpl, Lsn(5));
        assert_eq!(put(&mut s, &chain[4]), Inserted::Held);
        assert_eq!(s.scl(PgId(0)), Lsn(8));
        let st = &s.pg_states()[0];
        assert_eq!(st.scl_cpl, Lsn(8));
        assert!(st.above.is_empty());
        assert_eq!(s.lowest_pending(PgId(0)), None);
        // A record below the SCL that is not held is not on the chain.
        assert_eq!(put(&mut s, &rec(3, 2, 12, true)), Inserted::OffChain);
        assert_eq!(put(&mut s, &chain[4]), Inserted::Duplicate);
        assert_eq!(s.scl(PgId(0)), Lsn(8));
    }

    #[test]
    fn scl_cpl_is_the_highest_cpl_at_or_below_scl() {
        let mut s = Segment::new(vec![]);
        put(&mut s, &rec(1, 0, 1, true));
        put(&mut s, &rec(2, 1, 1, false));
        put(&mut s, &rec(4, 3, 1, true)); // pending: its CPL does not count yet
        let st = &s.pg_states()[0];
        assert_eq!((st.scl, st.scl_cpl), (Lsn(2), Lsn(1)));
        put(&mut s, &rec(3, 2, 1, false));
        let st = &s.pg_states()[0];
        assert_eq!((st.scl, st.scl_cpl), (Lsn(4), Lsn(4)));
    }

    #[test]
    fn truncation_drops_records_and_rebuilds_the_chain() {
        let mut s = Segment::new(vec![]);
        for i in 1..=6 {
            put(&mut s, &rec(i, i - 1, 1, i % 2 == 0));
        }
        put(&mut s, &rec(9, 8, 1, true));
        assert_eq!(s.scl(PgId(0)), Lsn(6));
        let t = Truncation {
            epoch: Epoch(2),
            pg: PgId(0),
            above: Lsn(4),
            upto: Lsn(100),
        };
        assert_eq!(s.merge_truncations(&[t, t]), Ok(true));
        assert_eq!(s.truncations(), &[t]);
        assert_eq!(s.merge_truncations(&[t]), Ok(false));
        let st = &s.pg_states()[0];
        assert_eq!((st.scl, st.scl_cpl), (Lsn(4), Lsn(4)));
        assert!(st.above.is_empty(), "9 was truncated too");
        assert_eq!(s.fetch(PgId(0), Lsn(0), Lsn(u64::MAX), 100).len(), 4);
        // Covered records are refused from now on; the new writer continues above the range.
        assert_eq!(put(&mut s, &rec(5, 4, 1, true)), Inserted::Truncated);
        assert!(!s.wants(&rec(5, 4, 1, true)));
        assert_eq!(put(&mut s, &rec(101, 4, 1, true)), Inserted::Held);
        assert_eq!(s.scl(PgId(0)), Lsn(101));
        // The page index forgot the truncated versions.
        assert_eq!(
            s.page_plan(PageId(1), Lsn(101), Lsn(101), None),
            PagePlan::Build {
                base: Base::Zero,
                records: [1, 2, 3, 4, 101]
                    .iter()
                    .map(|&l| (Lsn(l), loc(l)))
                    .collect()
            }
        );
    }

    #[test]
    fn page_plan_starts_at_the_newest_init_or_the_cached_version() {
        let mut s = Segment::new(vec![]);
        let mut init = rec(3, 2, 7, true);
        init.payload = Payload::Init(vec![1]);
        put(&mut s, &rec(1, 0, 7, true));
        put(&mut s, &rec(2, 1, 8, true));
        put(&mut s, &init);
        put(&mut s, &rec(4, 3, 7, true));
        put(&mut s, &rec(5, 4, 7, true));
        let commit = RedoRecord {
            lsn: Lsn(6),
            pg: PgId(0),
            prev_pg_lsn: Lsn(5),
            page: PageId::NONE,
            prev_page_lsn: Lsn::ZERO,
            known_vdl: Lsn::ZERO,
            cpl: true,
            payload: Payload::Commit {
                txn: TxnId(1),
                time_us: 0,
            },
        };
        put(&mut s, &commit);
        let build = |base, lsns: &[u64]| PagePlan::Build {
            base,
            records: lsns.iter().map(|&l| (Lsn(l), loc(l))).collect(),
        };
        assert_eq!(
            s.page_plan(PageId(7), Lsn(6), Lsn(6), None),
            build(Base::Zero, &[3, 4, 5])
        );
        assert_eq!(
            s.page_plan(PageId(7), Lsn(2), Lsn(2), None),
            build(Base::Zero, &[1])
        );
        assert_eq!(
            s.page_plan(PageId(7), Lsn(0), Lsn(0), None),
            PagePlan::Absent
        );
        assert_eq!(
            s.page_plan(PageId(9), Lsn(6), Lsn(6), None),
            PagePlan::Absent
        );
        assert_eq!(
            s.page_plan(PageId(7), Lsn(5), Lsn(5), Some(Lsn(4))),
            build(Base::Cached(Lsn(4)), &[5])
        );
        assert_eq!(
            s.page_plan(PageId(7), Lsn(4), Lsn(4), Some(Lsn(4))),
            PagePlan::Cached(Lsn(4))
        );
        // A cached version newer than the read point is of no use.
        assert_eq!(
            s.page_plan(PageId(7), Lsn(4), Lsn(4), Some(Lsn(5))),
            build(Base::Zero, &[3, 4])
        );
        assert_eq!(
            s.page_plan(PageId(7), Lsn(7), Lsn(7), None),
            PagePlan::NotReady { scl: Lsn(6) }
        );
    }

    #[test]
    fn a_corrupt_record_is_repaired_by_a_healthy_copy_at_a_new_location() {
        let mut s = Segment::new(vec![]);
        for i in 1..=5 {
            put(&mut s, &rec(i, i - 1, 1, true));
        }
        let moved = Location {
            file: 2,
            offset: 16,
            len: 50,
        };
        assert!(!s.wants(&rec(3, 2, 1, true)), "held and healthy");
        assert!(!s.mark_corrupt(PgId(0), Lsn(3), moved), "not held there");
        assert!(s.mark_corrupt(PgId(0), Lsn(3), loc(3)));
        assert!(!s.mark_corrupt(PgId(0), Lsn(3), loc(3)), "already known");
        assert_eq!(s.corrupt_records(10), vec![(PgId(0), Lsn(3))]);
        assert!(s.wants(&rec(3, 2, 1, true)), "a healthy copy is wanted");
        assert_eq!(s.scl(PgId(0)), Lsn(5), "the record is still on the chain");
        // A record that differs is not a copy of it.
        assert_eq!(
            s.insert(&rec(3, 2, 2, true), moved),
            Inserted::Duplicate,
            "another page: not the same record"
        );
        assert_eq!(s.insert(&rec(3, 2, 1, true), moved), Inserted::Repaired);
        assert!(s.corrupt_records(10).is_empty());
        assert_eq!(
            s.page_plan(PageId(1), Lsn(3), Lsn(3), None),
            PagePlan::Build {
                base: Base::Zero,
                records: vec![(Lsn(1), loc(1)), (Lsn(2), loc(2)), (Lsn(3), moved)]
            }
        );
        assert_eq!(s.fetch(PgId(0), Lsn(2), Lsn(3), 10), vec![(Lsn(3), moved)]);
        assert_eq!(put(&mut s, &rec(3, 2, 1, true)), Inserted::Duplicate);
        // The scrub walks every held record in order, in bounded batches.
        let all: Vec<u64> = s
            .scrub_batch(None, 1_000)
            .iter()
            .map(|(_, l, _)| l.0)
            .collect();
        assert_eq!(all, vec![1, 2, 3, 4, 5]);
        let first = s.scrub_batch(None, 120);
        assert_eq!(first.len(), 2, "two entries of 50 bytes fit in 120");
        let next = s.scrub_batch(Some((PgId(0), first[1].1)), 120);
        assert_eq!(
            next.iter().map(|(_, l, _)| l.0).collect::<Vec<_>>(),
            vec![3, 4]
        );
        assert!(s.scrub_batch(Some((PgId(0), Lsn(5))), 120).is_empty());
    }

    #[test]
    fn fetch_is_bounded_and_never_panics_on_inverted_ranges() {
        let mut s = Segment::new(vec![]);
        for i in 1..=10 {
            put(&mut s, &rec(i, i - 1, 1, true));
        }
        put(&mut s, &rec(20, 15, 1, true));
        let lsns = |v: Vec<(Lsn, Location)>| v.into_iter().map(|(l, _)| l.0).collect::<Vec<_>>();
        assert_eq!(lsns(s.fetch(PgId(0), Lsn(3), Lsn(6), 100)), vec![4, 5, 6]);
        assert_eq!(
            lsns(s.fetch(PgId(0), Lsn(8), Lsn(u64::MAX), 2)),
            vec![9, 10]
        );
        assert_eq!(
            lsns(s.fetch(PgId(0), Lsn(8), Lsn(u64::MAX), 100)),
            vec![9, 10, 20]
        );
        assert!(s.fetch(PgId(0), Lsn(6), Lsn(6), 100).is_empty());
        assert!(s.fetch(PgId(0), Lsn(7), Lsn(3), 100).is_empty());
        assert!(s.fetch(PgId(5), Lsn(0), Lsn(9), 100).is_empty());
    }

    /// Copies `peer`'s cut of PG 0 in batches of at most `bytes` bytes, "persisting" each record
    /// at its peer location in file 2 and each image in file 3 (the asker's own files).
    fn copy_cut(
        peer: &Segment,
        bytes: u64,
    ) -> (CopyBatch, Vec<HeldRecord>, Vec<(PageId, Lsn, Location)>) {
        let mut cursor = None;
        let mut records = Vec::new();
        let mut bases = Vec::new();
        let mut rounds = 0;
        loop {
            let b = peer.base_batch(PgId(0), cursor, bytes, 30, 1000);
            rounds += 1;
            assert!(rounds < 1000, "a copy ends");
            for i in &b.items {
                let held = peer.pgs[&PgId(0)].held[&i.lsn];
                records.push(HeldRecord {
                    lsn: i.lsn,
                    prev_pg_lsn: held.prev_pg_lsn,
                    page: i.page,
                    cpl: held.cpl,
                    init: held.init,
                    loc: Location { file: 2, ..i.loc },
                });
                if let Some(l) = i.image {
                    bases.push((i.page, i.lsn, Location { file: 3, ..l }));
                }
            }
            if b.next.is_none() {
                return (b, records, bases);
            }
            assert!(b.next > cursor, "the cursor moves on");
            cursor = b.next;
        }
    }

    fn relocate(plan: PagePlan) -> PagePlan {
        // The copy lives in other files; compare plans by shape (LSNs and base versions).
        match plan {
            PagePlan::Build { base, records } => PagePlan::Build {
                base: match base {
                    Base::Image { lsn, loc } => Base::Image {
                        lsn,
                        loc: Location { file: 0, ..loc },
                    },
                    other => other,
                },
                records: records
                    .into_iter()
                    .map(|(l, loc)| (l, Location { file: 0, ..loc }))
                    .collect(),
            },
            other => other,
        }
    }

    #[test]
    fn a_copied_cut_installs_below_the_peer_floor_and_keeps_later_records_chained() {
        // The peer: pages 1..=4 written in turn, an Init on page 2 at LSN 6, a base of page 1
        // at LSN 24 and of page 2 at LSN 9; collected below 30.
        let mut peer = Segment::new(vec![]);
        let mut all = Vec::new();
        for i in 1..=40u64 {
            let mut r = rec(i, i - 1, 1 + i % 4, i % 3 == 0);
            if i == 6 {
                r.payload = Payload::Init(vec![6]);
            }
            all.push(r);
        }
        for r in &all {
            put(&mut peer, r);
        }
        assert!(peer.add_base(PgId(0), PageId(2), Lsn(9), loc(9)));
        assert!(peer.add_base(PgId(0), PageId(1), Lsn(24), loc(24)));
        peer.collect(PgId(0), Lsn(30));
        assert_eq!(peer.floor(PgId(0)), Lsn(30));
        // The asker: an old chain up to 3, and records 31..=35 and 37..=40 (36 is missing).
        let mut asker = Segment::new(vec![]);
        for r in all.iter().take(3) {
            put(&mut asker, r);
        }
        for r in all.iter().skip(30).filter(|r| r.lsn != Lsn(36)) {
            put(&mut asker, r);
        }
        assert_eq!(asker.scl(PgId(0)), Lsn(3));
        // Small batches: pagination by (page, LSN).
        let (last, records, bases) = copy_cut(&peer, 120);
        assert_eq!(bases.len(), 2);
        assert!(records.iter().all(|r| r.lsn <= Lsn(30)));
        asker
            .install_copy(
                PgId(0),
                last.floor,
                last.floor_cpl,
                last.horizon,
                &records,
                &bases,
            )
            .expect("installed");
        assert_eq!(
            asker.scl(PgId(0)),
            Lsn(35),
            "35 chains from the floor; 36 is missing"
        );
        assert_eq!(asker.lowest_pending(PgId(0)), Some(Lsn(37)));
        assert_eq!(asker.floor(PgId(0)), Lsn(30));
        assert_eq!(asker.horizon(PgId(0)), Lsn(30));
        let below = asker.fetch(PgId(0), Lsn(0), Lsn(30), 1000);
        assert_eq!(below.len(), records.len());
        assert!(
            below.iter().all(|(_, l)| l.file == 2),
            "below the floor the cut replaced the old chain"
        );
        put(&mut asker, &all[35]);
        assert_eq!(asker.scl(PgId(0)), Lsn(40));
        // Every page reads as on the peer, at every read point from the horizon up.
        for rp in 30..=40 {
            for page in 1..=4 {
                assert_eq!(
                    relocate(asker.page_plan(PageId(page), Lsn(rp), Lsn(rp), None)),
                    relocate(peer.page_plan(PageId(page), Lsn(rp), Lsn(rp), None)),
                    "page {page} at {rp}"
                );
            }
        }
        assert_eq!(
            asker.page_plan(PageId(1), Lsn(29), Lsn(29), None),
            PagePlan::BelowHorizon { horizon: Lsn(30) }
        );
        // A checkpoint of the installed segment restores the same segment.
        let again = Segment::restore(vec![], &asker.snapshot());
        assert_eq!(again.snapshot(), asker.snapshot());
        assert_eq!(again.scl(PgId(0)), Lsn(40));
        // Once there, a copy is refused: the SCL is not behind.
        assert_eq!(
            asker.install_copy(
                PgId(0),
                last.floor,
                last.floor_cpl,
                last.horizon,
                &records,
                &bases
            ),
            Err(CopyRefused::NotBehind {
                scl: Lsn(40),
                floor: Lsn(30)
            })
        );
    }

    #[test]
    fn an_inconsistent_or_truncated_cut_is_refused_and_truncations_apply_to_it() {
        let mut peer = Segment::new(vec![]);
        for i in 1..=20u64 {
            put(&mut peer, &rec(i, i - 1, 1, true));
        }
        peer.collect(PgId(0), Lsn(12));
        let (last, records, bases) = copy_cut(&peer, 1 << 20);
        let mut asker = Segment::new(vec![]);
        let bad = [HeldRecord {
            lsn: Lsn(13),
            ..records[0]
        }];
        assert!(matches!(
            asker.install_copy(PgId(0), Lsn(12), Lsn(12), Lsn(12), &bad, &[]),
            Err(CopyRefused::Inconsistent(_))
        ));
        assert!(matches!(
            asker.install_copy(PgId(0), Lsn(12), Lsn(13), Lsn(12), &records, &bases),
            Err(CopyRefused::Inconsistent(_))
        ));
        assert_eq!(asker.scl(PgId(0)), Lsn(0), "nothing changed");
        // A truncation this node knows covers the floor: refused.
        let t = Truncation {
            epoch: Epoch(2),
            pg: PgId(0),
            above: Lsn(10),
            upto: Lsn(100),
        };
        let mut truncated = Segment::new(vec![t]);
        assert!(matches!(
            truncated.install_copy(
                PgId(0),
                last.floor,
                last.floor_cpl,
                last.horizon,
                &records,
                &bases
            ),
            Err(CopyRefused::Inconsistent(_))
        ));
        // Above the floor, truncations keep applying: record 105 chains from the floor, a
        // record in the truncated range does not.
        let t = Truncation {
            epoch: Epoch(2),
            pg: PgId(0),
            above: Lsn(14),
            upto: Lsn(100),
        };
        let mut asker = Segment::new(vec![t]);
        assert_eq!(put(&mut asker, &rec(15, 14, 1, true)), Inserted::Truncated);
        put(&mut asker, &rec(101, 12, 1, true));
        asker
            .install_copy(
                PgId(0),
                last.floor,
                last.floor_cpl,
                last.horizon,
                &records,
                &bases,
            )
            .expect("installed");
        assert_eq!(asker.scl(PgId(0)), Lsn(101));
    }

    #[test]
    fn a_restore_keeps_a_base_below_the_horizon_whatever_the_truncations() {
        // A truncation from an old epoch (above 2), then a chain continuing above it.
        let t = Truncation {
            epoch: Epoch(2),
            pg: PgId(0),
            above: Lsn(2),
            upto: Lsn(10),
        };
        let mut s = Segment::new(vec![t]);
        put(&mut s, &rec(1, 0, 1, true));
        put(&mut s, &rec(2, 1, 1, true));
        for i in 11..=20u64 {
            let prev = if i == 11 { 2 } else { i - 1 };
            put(&mut s, &rec(i, prev, 1, true));
        }
        // A base of page 1 at 15, then collection below 17: the base is the page's only start.
        assert!(s.add_base(PgId(0), PageId(1), Lsn(15), loc(15)));
        s.collect(PgId(0), Lsn(17));
        let plan = s.page_plan(PageId(1), Lsn(20), Lsn(20), None);
        let PagePlan::Build { base, .. } = &plan else {
            panic!("a build: {plan:?}");
        };
        assert_eq!(
            *base,
            Base::Image {
                lsn: Lsn(15),
                loc: loc(15)
            }
        );
        // The base is above the old truncation, yet below the horizon: a restart keeps it.
        let again = Segment::restore(vec![t], &s.snapshot());
        assert_eq!(again.page_plan(PageId(1), Lsn(20), Lsn(20), None), plan);
    }
}
