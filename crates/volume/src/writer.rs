//! The writer's protocol core, sans-IO: MTRs and storage answers in, requests and VDL out.
//!
//! Everything the writer *decides* about shipping redo lives here; the tokio driver
//! (`lib.rs`: one task per segment, a condition variable for LAL waits, a watch channel for VDL)
//! and the deterministic simulator (`borealis-sim`) both drive this same code. Nothing here reads
//! a clock (time comes in as `now_ms`), spawns a task or touches a socket.
//!
//! ```text
//!  append_mtr(drafts) ──▶ LSNs allocated densely (refused above VDL + LAL), PG backlink and CPL
//!        │                 flag set, each record encoded ONCE into the send log
//!        ▼
//!  send log [log_base ..= next_lsn − 1]            per segment i: cursor `sent`, ≤ 1 Write in flight
//!        │ next_write(i) ──▶ the records above `sent`, up to WRITE_BATCH_BYTES_MAX: boxcarring —
//!        │                   what arrives while a Write flies leaves with the next one, no timer
//!        ▼
//!  write_acked(i, scl) ──▶ DurabilityTracker: SCL×6 → PGCL → VCL → VDL (only on CPLs)
//!                          trim the send log below min(VDL, SCL of every connected segment)
//!  StaleEpoch anywhere ──▶ fenced for good: no more appends, no more sends
//!  SCL lags `sent`, nothing new ──▶ after LAGGING_SEGMENT_RESEND_MS the lagging records are sent
//!                               again: the answer reports the SCL reached by gossip since
//!  write_failed / timed out ──▶ segment disconnected; the driver re-opens it (Open carries our
//!                               term, peers and truncations) and `connected(i, scl)` resumes
//!                               sending above max(scl, what was trimmed)
//! ```
//!
//! # Membership and repair (DESIGN.md §2; Aurora SIGMOD 2018 §3)
//!
//! The core keeps the PG's [`Membership`] and one cursor per *slot*: slots 0–5 are the six
//! members, slot 6 ([`JOINING_SLOT`]) the node joining during a replacement. Every `Open` carries
//! the membership, every `Write` its epoch; a cursor counts as connected only once its segment
//! answered an `Open` of the current membership, so after every change each segment is opened
//! again before it is sent anything (per connection, nothing with the old epoch follows).
//!
//! ```text
//!  tick(now): member of slot s unreachable for SEGMENT_LOST_MS, a spare in its AZ
//!      ──▶ m+1 = {A..F}, joining (s, G): quorum sets ABCDEF and ABCDEG (4/6 of EACH)
//!          G opened empty; it hydrates by gossip from its peers while writes go to all seven
//!  tick(now): m+1 opened on a write quorum of both sets, G connected, SCL(G) ≥ VDL
//!      ──▶ m+2 = {A..E, G}: G's cursor and SCL move to slot s, F is never sent anything again
//! ```
//!
//! Safety: counting over both sets during m+1 is stricter than over ABCDEF alone, so it starts at
//! once. After every change, VDL is held until the new membership is on a write quorum of each
//! of its sets: SCLs reported under the old membership alone never make a record durable. Before m+2, G holds every record up to VDL — every acknowledged one — and whatever was
//! made durable during m+1 is on 4/6 of ABCDEG, so every acknowledged record is on 4/6 of ABCDEG
//! when F is dropped. m+2 is proposed only after m+1 is on a write quorum of ABCDEF, so a writer
//! recovering later from any read quorum of ABCDEF sees m+1 or later (see `recovery`). Nothing a
//! node holds is discarded by a change: F keeps its data, it is only no longer counted or sent to.
//!
//! # Invariants (asserted)
//!
//! - LSNs are dense within an epoch: the send log holds `log_base + k` at index `k`.
//! - No LSN is allocated above `max(VDL, first LSN of the epoch − 1) + LAL`.
//! - VDL never decreases and lands only on CPLs (the tracker asserts it).
//! - At most one `Write` is in flight per segment, and an acknowledgement is applied only for the
//!   `Write` in flight (a late answer to an abandoned one is ignored).

use crate::limits::{
    JOINING_SLOT, LAGGING_SEGMENT_RESEND_MS, LAL_BYTES, LAL_RECORDS, PAGES_PER_PG_DEFAULT,
    SEGMENT_LOST_MS, SEGMENTS_PER_PG, SEND_LOG_DURABLE_BYTES, SLOTS, WRITE_QUORUM,
    WRITE_TIMEOUT_MS,
};
use crate::quorum::{DurabilityTracker, QuorumSet, STABLE_SET};
use borealis_common::limits::WRITE_BATCH_BYTES_MAX;
use borealis_common::pagestore::RecordDraft;
use borealis_common::proto::{Membership, ReadHorizon, Request, StoredMap, Term, Truncation};
use borealis_common::{Lsn, MembershipEpoch, PageId, PgId, RedoRecord};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// PG 0: it holds the volume's first pages, every commit record, and the volume map.
pub const PG: PgId = PgId(0);

/// A record encoded once, shared by every segment's batches.
#[derive(Debug)]
pub struct Encoded {
    pub lsn: Lsn,
    /// The record's PG: only that PG's segments are sent it.
    pub pg: PgId,
    pub bytes: Vec<u8>,
    /// Bytes of every record this writer encoded up to and including this one.
    pub cumulative_bytes: u64,
}

/// What recovery found of one protection group.
#[derive(Clone, Debug)]
pub struct RecoveredPg {
    /// The membership recovery chose (adopted by a write quorum of each of its sets).
    pub membership: Membership,
    /// The SCLs recovery saw, per slot of `membership`.
    pub scls: [Lsn; SLOTS],
    /// The PG's last record at or below VDL (0: none): the backlink of its next record.
    pub tail: Lsn,
}

/// What recovery hands the writer core.
#[derive(Clone, Debug)]
pub struct Recovered {
    /// The term this writer holds (adopted by a write quorum).
    pub term: Term,
    /// Every truncation known, this writer's own included.
    pub truncations: Vec<Truncation>,
    /// The recovered VDL.
    pub vdl: Lsn,
    /// The end of this writer's truncation: allocation resumes above it.
    pub upto: Lsn,
    /// Pages per protection group (fixed for the volume's life).
    pub pages_per_pg: u64,
    /// Every PG of the volume map, by PG id (PG 0 first; never empty).
    pub pgs: Vec<RecoveredPg>,
    /// The memberships the volume map records (each PG's first), by PG id: what `Open`s of PG 0
    /// carry as the map.
    pub map: Vec<Membership>,
}

impl Recovered {
    /// A volume of one PG (`membership`, with these SCLs) whose last record is VDL.
    #[must_use]
    pub fn one_pg(
        term: Term,
        truncations: Vec<Truncation>,
        vdl: Lsn,
        upto: Lsn,
        membership: Membership,
        scls: [Lsn; SLOTS],
    ) -> Recovered {
        Recovered {
            term,
            truncations,
            vdl,
            upto,
            pages_per_pg: PAGES_PER_PG_DEFAULT,
            map: vec![membership.clone()],
            pgs: vec![RecoveredPg {
                membership,
                scls,
                tail: vdl,
            }],
        }
    }
}

/// The quorum sets of a membership, as slots.
#[must_use]
pub fn quorum_sets(m: &Membership) -> Vec<QuorumSet> {
    let mut sets = vec![STABLE_SET];
    if let Some((slot, _)) = &m.joining {
        let mut new = STABLE_SET;
        new[*slot as usize] = JOINING_SLOT;
        sets.push(new);
    }
    sets
}

/// The address of each slot of a membership (`None`: the slot is empty).
#[must_use]
pub fn slot_addrs(m: &Membership) -> [Option<String>; SLOTS] {
    std::array::from_fn(|i| {
        if i < SEGMENTS_PER_PG {
            m.members.get(i).cloned()
        } else {
            m.joining.as_ref().map(|(_, j)| j.clone())
        }
    })
}

/// The PG of flat slot `g` (see [`WriterCore`]).
#[must_use]
pub fn pg_of_slot(g: usize) -> PgId {
    PgId(u32::try_from(g / SLOTS).expect("PG id"))
}

/// A spare storage node the writer may use as a replacement, in an AZ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spare {
    pub addr: String,
    /// AZ `k` holds member slots `2k` and `2k + 1`.
    pub az: usize,
}

/// How far the joining node of a replacement is (see [`WriterCore::repair_progress`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepairProgress {
    pub pg: PgId,
    pub joiner: String,
    /// The joiner's SCL, as it last reported it.
    pub scl: Lsn,
    pub vdl: Lsn,
    /// Records the joiner holds: LSNs up to its SCL outside truncation ranges (exact with one PG;
    /// with several it counts the other PGs' LSNs too, an upper bound).
    pub records: u64,
    /// Their estimated bytes: `records` × the mean size of this writer's records (`None` before
    /// this writer wrote any).
    pub bytes: Option<u64>,
}

/// A membership change the core made (the driver logs it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MembershipChange {
    /// The member of `slot` of `pg` is lost; `joiner` joins in its place (the dual-quorum
    /// state).
    Began {
        pg: PgId,
        membership: Membership,
        slot: usize,
        lost: String,
        joiner: String,
    },
    /// The joining node caught up and took the slot; the lost member is dropped.
    Completed {
        pg: PgId,
        membership: Membership,
        slot: usize,
        dropped: String,
        joiner: String,
    },
}

/// Why an MTR could not be appended now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendError {
    /// A newer writer holds the volume.
    Fenced,
    /// Allocating would pass VDL + LAL: wait for VDL to advance.
    LalExceeded,
    /// The MTR writes `page`, beyond the volume's last protection group: the volume must grow
    /// first ([`WriterCore::add_pg`]).
    Grow { page: PageId },
}

#[derive(Clone, Copy, Debug, Default)]
struct InFlight {
    req_id: u64,
    last: Lsn,
    sent_at_ms: u64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Cursor {
    connected: bool,
    /// Every record of the PG up to here was acknowledged by (or is known to be held by) the
    /// segment.
    sent: Lsn,
    in_flight: Option<InFlight>,
    /// When the segment last answered a `Write` or an `Open`.
    answered_at_ms: u64,
    /// Since when the slot's node has not been connected (`None`: connected, or not yet seen).
    down_since_ms: Option<u64>,
}

/// One batch to send to one segment.
#[derive(Debug)]
pub struct WriteBatch {
    pub req_id: u64,
    /// The PG of every record (the segment's).
    pub pg: PgId,
    /// The LSN of the batch's last record.
    pub last: Lsn,
    /// What storage may collect below (sent with the batch).
    pub horizon: ReadHorizon,
    /// The membership epoch the `Write` carries.
    pub membership: MembershipEpoch,
    pub records: Vec<Arc<Encoded>>,
}

/// Where a page is read from: its PG, the PG point a `GetPage` carries, and the membership
/// epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadTarget {
    pub pg: PgId,
    pub pg_point: Lsn,
    pub membership: MembershipEpoch,
}

/// One protection group's shipping state.
#[derive(Debug)]
struct PgShip {
    membership: Membership,
    cursors: [Cursor; SLOTS],
    /// The LSN of the PG's last record allocated (or recovered): the backlink of its next.
    tail: Lsn,
    /// When the joining node was last opened again to learn the SCL it reached by gossip.
    joiner_probed_at_ms: u64,
}

/// The writer's shipping state.
///
/// Slots are numbered flat across PGs: PG `k`'s slot `i` (0–5 members, 6 the joining node) is
/// `k·SLOTS + i`, so a volume of one PG has slots `0..SLOTS`, as before there were several.
#[derive(Debug)]
pub struct WriterCore {
    term: Term,
    truncations: Vec<Truncation>,
    next_lsn: Lsn,
    /// Records not yet trimmed: `log[i].lsn == log_base + i`.
    log: VecDeque<Arc<Encoded>>,
    log_base: Lsn,
    tracker: DurabilityTracker,
    pages_per_pg: u64,
    /// By PG id.
    pgs: Vec<PgShip>,
    /// The volume map's memberships (each PG's first), by PG id.
    map: Vec<Membership>,
    /// Spare storage nodes a lost member may be replaced by.
    spares: Vec<Spare>,
    /// Nodes that were members once and were dropped: never used again.
    dropped: Vec<String>,
    /// Records this writer encoded, and their bytes: the mean size estimates a repair's bytes.
    records_total: u64,
    record_bytes_total: u64,
    /// `cumulative_bytes` of the last record trimmed from the send log.
    trimmed_bytes: u64,
    /// Durable bytes the send log keeps for lagging segments ([`SEND_LOG_DURABLE_BYTES`]).
    send_log_durable_bytes: u64,
    /// Bytes of records allocated above VDL past which allocation waits ([`LAL_BYTES`]).
    lal_bytes: u64,
    fenced: bool,
    /// Read points of reads in flight, with their counts: PGMRPL never passes the lowest.
    reads: BTreeMap<Lsn, u32>,
}

impl WriterCore {
    /// Starts shipping after recovery: allocation resumes above the truncated range.
    #[must_use]
    pub fn new(r: Recovered) -> WriterCore {
        assert!(r.upto >= r.vdl, "the truncation starts at VDL");
        assert!(!r.pgs.is_empty(), "a volume has PG 0");
        assert!(r.pages_per_pg > 0, "a PG holds at least one page");
        assert_eq!(r.map.len(), r.pgs.len(), "the map lists every PG");
        let mut tracker =
            DurabilityTracker::new(r.vdl, r.pgs[0].scls, quorum_sets(&r.pgs[0].membership));
        for p in &r.pgs[1..] {
            tracker.add_pg(p.scls, quorum_sets(&p.membership));
        }
        let mut pgs = Vec::with_capacity(r.pgs.len());
        for (k, p) in r.pgs.into_iter().enumerate() {
            assert!(
                p.tail <= r.vdl,
                "a PG's recovered tail lies at or below VDL"
            );
            tracker.set_durable_tail(PgId(u32::try_from(k).expect("PG id")), p.tail);
            pgs.push(PgShip {
                membership: p.membership,
                cursors: [Cursor::default(); SLOTS],
                tail: p.tail,
                joiner_probed_at_ms: 0,
            });
        }
        WriterCore {
            term: r.term,
            truncations: r.truncations,
            next_lsn: r.upto.next(),
            log: VecDeque::new(),
            log_base: r.upto.next(),
            tracker,
            pages_per_pg: r.pages_per_pg,
            pgs,
            map: r.map,
            reads: BTreeMap::new(),
            spares: Vec::new(),
            dropped: Vec::new(),
            records_total: 0,
            record_bytes_total: 0,
            trimmed_bytes: 0,
            send_log_durable_bytes: SEND_LOG_DURABLE_BYTES,
            lal_bytes: LAL_BYTES,
            fenced: false,
        }
    }

    /// The spare storage nodes a lost member may be replaced by.
    pub fn set_spares(&mut self, spares: Vec<Spare>) {
        self.spares = spares;
    }

    /// The spare storage nodes, and the nodes dropped from a PG (never placed again).
    #[must_use]
    pub fn spares_and_dropped(&self) -> (&[Spare], &[String]) {
        (&self.spares, &self.dropped)
    }

    /// PG 0's current membership.
    #[must_use]
    pub fn membership(&self) -> &Membership {
        &self.pgs[0].membership
    }

    /// `pg`'s current membership.
    #[must_use]
    pub fn membership_of(&self, pg: PgId) -> &Membership {
        &self.pgs[pg.0 as usize].membership
    }

    /// The number of protection groups.
    #[must_use]
    pub fn pg_count(&self) -> usize {
        self.pgs.len()
    }

    /// The number of flat slots (`SLOTS` per PG).
    #[must_use]
    pub fn slots(&self) -> usize {
        self.pgs.len() * SLOTS
    }

    #[must_use]
    pub fn pages_per_pg(&self) -> u64 {
        self.pages_per_pg
    }

    /// The PG holding `page`, `None` beyond the last PG.
    #[must_use]
    pub fn pg_of(&self, page: PageId) -> Option<PgId> {
        let pg = page.0 / self.pages_per_pg;
        if page == PageId::NONE {
            return Some(PG);
        }
        (pg < self.pgs.len() as u64).then(|| PgId(u32::try_from(pg).expect("PG id")))
    }

    /// The volume map as PG 0's segments keep it.
    #[must_use]
    pub fn stored_map(&self) -> StoredMap {
        StoredMap {
            pages_per_pg: self.pages_per_pg,
            pgs: self.map.clone(),
        }
    }

    /// The address of flat slot `g` in its PG's current membership (`None`: empty slot).
    #[must_use]
    pub fn slot_addr(&self, g: usize) -> Option<String> {
        slot_addrs(&self.pgs.get(g / SLOTS)?.membership)[g % SLOTS].clone()
    }

    /// PG 0's membership is on a write quorum of each of its quorum sets.
    #[must_use]
    pub fn membership_on_quorum(&self) -> bool {
        self.membership_on_quorum_of(PG)
    }

    /// `pg`'s membership is on a write quorum of each of its quorum sets (counted by the
    /// segments connected at its epoch).
    #[must_use]
    pub fn membership_on_quorum_of(&self, pg: PgId) -> bool {
        let cursors = &self.pgs[pg.0 as usize].cursors;
        self.tracker
            .sets_of(pg)
            .iter()
            .all(|set| set.iter().filter(|&&i| cursors[i].connected).count() >= WRITE_QUORUM)
    }

    /// A new protection group joins the volume, its segments on `membership` (epoch 1, already
    /// opened on a write quorum and recorded in the map stored on PG 0 by the driver). Its slots
    /// are opened like any other before they are sent anything. Returns its id.
    pub fn add_pg(&mut self, membership: Membership) -> PgId {
        assert_eq!(
            membership.members.len(),
            SEGMENTS_PER_PG,
            "a PG has six segments"
        );
        let pg = self
            .tracker
            .add_pg([Lsn::ZERO; SLOTS], quorum_sets(&membership));
        assert_eq!(pg.0 as usize, self.pgs.len(), "PG ids are dense");
        self.map.push(membership.clone());
        self.pgs.push(PgShip {
            membership,
            cursors: [Cursor::default(); SLOTS],
            tail: Lsn::ZERO,
            joiner_probed_at_ms: 0,
        });
        pg
    }

    /// Moves memberships on when due (see the module documentation): begins replacing a
    /// member lost for [`SEGMENT_LOST_MS`] by a spare of its AZ, or completes a replacement whose
    /// joining node caught up. Returns the change made, if any (one per call); the driver
    /// re-opens every slot of its PG.
    pub fn tick(&mut self, now_ms: u64) -> Option<MembershipChange> {
        if self.fenced {
            return None;
        }
        for p in &mut self.pgs {
            for c in &mut p.cursors {
                if c.connected {
                    c.down_since_ms = None;
                } else if c.down_since_ms.is_none() {
                    c.down_since_ms = Some(now_ms);
                }
            }
        }
        for k in 0..self.pgs.len() {
            let pg = PgId(u32::try_from(k).expect("PG id"));
            if let Some(change) = self.tick_pg(pg, now_ms) {
                return Some(change);
            }
        }
        None
    }

    fn tick_pg(&mut self, pg: PgId, now_ms: u64) -> Option<MembershipChange> {
        let k = pg.0 as usize;
        let base = k * SLOTS;
        match self.pgs[k].membership.joining.clone() {
            None => {
                // The first lost member that has a spare in its AZ: a lost member whose AZ has
                // none left must not hold up the replacement of another (the simulator found a
                // member of one AZ never replaced behind one of another AZ without a spare).
                let p = &self.pgs[k];
                let (lost, spare) = (0..SEGMENTS_PER_PG)
                    .filter(|&i| {
                        p.cursors[i]
                            .down_since_ms
                            .is_some_and(|t| now_ms.saturating_sub(t) >= SEGMENT_LOST_MS)
                    })
                    .find_map(|i| {
                        self.spares
                            .iter()
                            .find(|s| {
                                s.az == i / 2
                                    && !p.membership.names(&s.addr)
                                    && !self.dropped.contains(&s.addr)
                            })
                            .map(|s| (i, s.addr.clone()))
                    })?;
                let lost_addr = p.membership.members[lost].clone();
                let next = p.membership.replacing(lost, spare.clone());
                self.change(pg, next.clone());
                self.tracker.reconnected(base + JOINING_SLOT, Lsn::ZERO);
                Some(MembershipChange::Began {
                    pg,
                    membership: next,
                    slot: lost,
                    lost: lost_addr,
                    joiner: spare,
                })
            }
            Some((slot, joiner)) => {
                let slot = slot as usize;
                let target = self.tracker.durable_tail(pg);
                // The joiner hydrates by gossip: with nothing new to send it, the writer would
                // never hear the SCL it reached (the records it lacks predate our log, so the
                // lagging-segment resend cannot ask it). Open it again now and then: the answer
                // carries its SCL. (The deterministic simulator found replacements that never
                // completed once the workload paused.)
                let probed = self.pgs[k].joiner_probed_at_ms;
                let j = &mut self.pgs[k].cursors[JOINING_SLOT];
                if j.connected
                    && j.in_flight.is_none()
                    && self.tracker.scl(base + JOINING_SLOT) < target
                    && now_ms.saturating_sub(j.answered_at_ms.max(probed))
                        >= LAGGING_SEGMENT_RESEND_MS
                {
                    j.connected = false;
                    self.pgs[k].joiner_probed_at_ms = now_ms;
                    return None;
                }
                // Caught up: it holds every record of the PG up to VDL.
                let caught_up = self.pgs[k].cursors[JOINING_SLOT].connected
                    && self.tracker.scl(base + JOINING_SLOT) >= target;
                if !(caught_up && self.membership_on_quorum_of(pg)) {
                    return None;
                }
                let p = &mut self.pgs[k];
                let dropped = p.membership.members[slot].clone();
                let next = p.membership.completed();
                self.tracker.move_slot(base + JOINING_SLOT, base + slot);
                p.cursors[slot] = p.cursors[JOINING_SLOT];
                p.cursors[JOINING_SLOT] = Cursor::default();
                self.dropped.push(dropped.clone());
                self.change(pg, next.clone());
                Some(MembershipChange::Completed {
                    pg,
                    membership: next,
                    slot,
                    dropped,
                    joiner,
                })
            }
        }
    }

    /// How many records of PG 0 lie at or below `scl`: every LSN up to it except those in a
    /// truncation range, where nothing survives (a new writer allocates above its range).
    #[must_use]
    pub fn records_up_to(&self, scl: Lsn) -> u64 {
        self.records_up_to_of(PG, scl)
    }

    fn records_up_to_of(&self, pg: PgId, scl: Lsn) -> u64 {
        let mut ranges: Vec<(u64, u64)> = self
            .truncations
            .iter()
            .filter(|t| t.pg == pg)
            .map(|t| (t.above.0.min(scl.0), t.upto.0.min(scl.0)))
            .filter(|(a, b)| a < b)
            .collect();
        ranges.sort_unstable();
        let mut truncated = 0;
        let mut covered_to = 0;
        for (above, upto) in ranges {
            let from = above.max(covered_to);
            if upto > from {
                truncated += upto - from;
            }
            covered_to = covered_to.max(upto);
        }
        assert!(truncated <= scl.0, "truncated LSNs lie at or below the SCL");
        scl.0 - truncated
    }

    /// The mean encoded size of the records this writer wrote (`None` before its first): what a
    /// repair's bytes are estimated from (storage does not report bytes, records are alike).
    #[must_use]
    pub fn mean_record_bytes(&self) -> Option<u64> {
        self.record_bytes_total.checked_div(self.records_total)
    }

    /// A replacement's progress (the first PG with one): the joining node, the records it holds
    /// (up to its SCL), their estimated bytes, and VDL. `None` without a replacement in
    /// progress.
    #[must_use]
    pub fn repair_progress(&self) -> Option<RepairProgress> {
        let (k, joiner) = self
            .pgs
            .iter()
            .enumerate()
            .find_map(|(k, p)| p.membership.joining.clone().map(|(_, j)| (k, j)))?;
        let pg = PgId(u32::try_from(k).expect("PG id"));
        let scl = self.tracker.scl(k * SLOTS + JOINING_SLOT);
        let records = self.records_up_to_of(pg, scl);
        Some(RepairProgress {
            pg,
            joiner,
            scl,
            vdl: self.tracker.vdl(),
            records,
            bytes: self.mean_record_bytes().map(|m| m * records),
        })
    }

    /// Adopts `next` for `pg` (one epoch up): counts over its quorum sets from now on, and every
    /// slot of the PG is opened again with it before it is sent anything more. VDL is held until
    /// `next` is on a write quorum of each of its sets (the `Open` answers, in
    /// [`connected`](Self::connected)).
    fn change(&mut self, pg: PgId, next: Membership) {
        let p = &mut self.pgs[pg.0 as usize];
        assert_eq!(
            next.epoch.0,
            p.membership.epoch.0 + 1,
            "membership epochs move one at a time"
        );
        let sets = quorum_sets(&next);
        p.membership = next;
        for c in &mut p.cursors {
            c.connected = false;
            c.in_flight = None;
        }
        self.tracker.set_sets_of(pg, sets);
    }

    #[must_use]
    pub fn term(&self) -> Term {
        self.term
    }

    #[must_use]
    pub fn vdl(&self) -> Lsn {
        self.tracker.vdl()
    }

    #[must_use]
    pub fn is_fenced(&self) -> bool {
        self.fenced
    }

    /// The last SCL the segment of flat slot `g` reported.
    #[must_use]
    pub fn scl(&self, g: usize) -> Lsn {
        self.tracker.scl(g)
    }

    #[must_use]
    pub fn is_connected(&self, g: usize) -> bool {
        self.cursor(g).connected
    }

    fn cursor(&self, g: usize) -> &Cursor {
        &self.pgs[g / SLOTS].cursors[g % SLOTS]
    }

    fn cursor_mut(&mut self, g: usize) -> &mut Cursor {
        &mut self.pgs[g / SLOTS].cursors[g % SLOTS]
    }

    /// How many segments are connected, over every PG.
    #[must_use]
    pub fn connected_count(&self) -> usize {
        self.pgs
            .iter()
            .flat_map(|p| p.cursors.iter())
            .filter(|c| c.connected)
            .count()
    }

    /// The next LSN to allocate.
    #[must_use]
    pub fn next_lsn(&self) -> Lsn {
        self.next_lsn
    }

    /// The LSN of PG 0's last record allocated (or recovered): the PG backlink of its next.
    #[must_use]
    pub fn pg_tail(&self) -> Lsn {
        self.pgs[0].tail
    }

    /// The LSN of `pg`'s last record allocated (or recovered): the PG backlink of its next.
    #[must_use]
    pub fn pg_tail_of(&self, pg: PgId) -> Lsn {
        self.pgs[pg.0 as usize].tail
    }

    /// `pg`'s last record at or below VDL: a segment whose SCL reaches it holds every record of
    /// the PG up to VDL.
    #[must_use]
    pub fn durable_tail(&self, pg: PgId) -> Lsn {
        self.tracker.durable_tail(pg)
    }

    /// Where to read `page` from (`None` beyond the last PG: a page never written).
    #[must_use]
    pub fn read_target(&self, page: PageId) -> Option<ReadTarget> {
        let pg = self.pg_of(page)?;
        Some(ReadTarget {
            pg,
            pg_point: self.tracker.durable_tail(pg),
            membership: self.pgs[pg.0 as usize].membership.epoch,
        })
    }

    /// Records allocated and not yet trimmed from the send log.
    #[must_use]
    pub fn unsent_records(&self) -> usize {
        self.log.len()
    }

    /// The `Open` a (re)connection to flat slot `g` starts with: our term, the PG's membership,
    /// as peers every other node it names, and for PG 0 the volume map. `None` if the slot is
    /// empty.
    #[must_use]
    pub fn open_request(&self, g: usize) -> Option<Request> {
        let pg = pg_of_slot(g);
        let addrs = slot_addrs(&self.pgs.get(g / SLOTS)?.membership);
        let i = g % SLOTS;
        let me = addrs[i].clone()?;
        let peers = addrs
            .iter()
            .enumerate()
            .filter(|(j, a)| *j != i && a.is_some())
            .filter_map(|(_, a)| a.clone())
            .collect();
        Some(Request::Open {
            epoch: self.term.epoch,
            writer: self.term.writer,
            pg,
            peers,
            // A segment keeps the truncations of its own PG (every recovery makes one per PG).
            truncations: self
                .truncations
                .iter()
                .filter(|t| t.pg == pg)
                .copied()
                .collect(),
            membership: self.pgs[pg.0 as usize].membership.clone(),
            me,
            map: (pg == PG).then(|| self.stored_map()),
        })
    }

    /// Growth, first step: the `Open`s of a new PG's six segments (epoch-1 membership `m`, no
    /// truncations: nothing of it exists yet), by member address.
    #[must_use]
    pub fn new_pg_open_requests(&self, pg: PgId, m: &Membership) -> Vec<(String, Request)> {
        m.members
            .iter()
            .enumerate()
            .map(|(i, me)| {
                let peers = m
                    .members
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, a)| a.clone())
                    .collect();
                let open = Request::Open {
                    epoch: self.term.epoch,
                    writer: self.term.writer,
                    pg,
                    peers,
                    truncations: Vec::new(),
                    membership: m.clone(),
                    me: me.clone(),
                    map: None,
                };
                (me.clone(), open)
            })
            .collect()
    }

    /// Growth, second step: the `Open`s that store `map` on PG 0's segments (each member and the
    /// joining node, as [`open_request`](Self::open_request) makes them), by address.
    #[must_use]
    pub fn map_open_requests(&self, map: &StoredMap) -> Vec<(String, Request)> {
        (0..SLOTS)
            .filter_map(|g| {
                let mut open = self.open_request(g)?;
                let Request::Open { me, map: m, .. } = &mut open else {
                    unreachable!("open_request makes an Open")
                };
                *m = Some(map.clone());
                Some((me.clone(), open))
            })
            .collect()
    }

    /// The highest LSN this writer may allocate now (LAL back-pressure).
    #[must_use]
    pub fn allocation_limit(&self) -> Lsn {
        Lsn(self.tracker.vdl().0.max(self.log_base.0 - 1) + LAL_RECORDS)
    }

    /// Bytes of the records allocated above VDL (all of them are still in the send log, which is
    /// trimmed at or below VDL).
    #[must_use]
    pub fn bytes_above_vdl(&self) -> u64 {
        self.record_bytes_total - self.bytes_through(self.tracker.vdl())
    }

    /// Bytes of the send log (records not yet trimmed).
    #[must_use]
    pub fn send_log_bytes(&self) -> u64 {
        self.record_bytes_total - self.trimmed_bytes
    }

    /// Whether an MTR of `n` records could be appended now: both LAL bounds (records and bytes
    /// above VDL) must have room. The byte bound is checked before the MTR, which may overshoot it
    /// by its own size.
    pub fn room_for(&self, n: usize) -> Result<(), AppendError> {
        if self.fenced {
            return Err(AppendError::Fenced);
        }
        if self.next_lsn.0 + n as u64 - 1 > self.allocation_limit().0
            || self.bytes_above_vdl() >= self.lal_bytes
        {
            return Err(AppendError::LalExceeded);
        }
        Ok(())
    }

    /// Allocates LSNs to one MTR (consecutive; the last record is the CPL), sets each record's
    /// PG (from its page) and PG backlink, encodes each record once into the send log and
    /// registers the CPL. Returns the first LSN. An MTR writing a page beyond the last PG is
    /// refused whole with [`AppendError::Grow`].
    pub fn append_mtr(&mut self, drafts: Vec<RecordDraft>) -> Result<Lsn, AppendError> {
        assert!(!drafts.is_empty(), "an MTR has at least one record");
        let n = drafts.len();
        self.room_for(n)?;
        if let Some(d) = drafts.iter().find(|d| self.pg_of(d.page).is_none()) {
            return Err(AppendError::Grow { page: d.page });
        }
        let first = self.next_lsn;
        for (k, d) in drafts.into_iter().enumerate() {
            let lsn = self.next_lsn;
            let pg = self.pg_of(d.page).expect("checked above");
            let ship = &mut self.pgs[pg.0 as usize];
            let rec = RedoRecord {
                lsn,
                pg,
                prev_pg_lsn: ship.tail,
                page: d.page,
                prev_page_lsn: d.prev_page_lsn,
                known_vdl: self.tracker.vdl(),
                cpl: k + 1 == n,
                payload: d.payload,
            };
            ship.tail = lsn;
            let mut bytes = Vec::with_capacity(rec.encoded_len());
            rec.encode(&mut bytes);
            assert_eq!(
                self.log_base.0 + self.log.len() as u64,
                lsn.0,
                "the send log must stay dense"
            );
            self.record_bytes_total += bytes.len() as u64;
            self.records_total += 1;
            self.log.push_back(Arc::new(Encoded {
                lsn,
                pg,
                bytes,
                cumulative_bytes: self.record_bytes_total,
            }));
            self.tracker.add_record(pg, lsn);
            self.next_lsn = lsn.next();
        }
        let cpl = Lsn(self.next_lsn.0 - 1);
        assert!(
            cpl <= self.allocation_limit(),
            "LSN {cpl} allocated beyond VDL + LAL"
        );
        self.tracker.add_cpl(cpl);
        Ok(first)
    }

    /// The segment of flat slot `g` answered our `Open` with this SCL, having adopted membership
    /// `membership`: start sending to it above what it holds. The SCL replaces what the segment
    /// reported before, even if lower: a node that lost its disk while we were apart must not be
    /// counted for the records it held then. An answer to an `Open` of an earlier membership is
    /// ignored (the slot is opened again). Returns the new VDL if it advanced.
    pub fn connected(&mut self, g: usize, scl: Lsn, membership: MembershipEpoch) -> Option<Lsn> {
        let pg = pg_of_slot(g);
        if self.pgs.get(pg.0 as usize).map(|p| p.membership.epoch) != Some(membership)
            || self.slot_addr(g).is_none()
        {
            return None;
        }
        let log_base = self.log_base;
        let c = self.cursor_mut(g);
        c.connected = true;
        c.in_flight = None;
        // Anything older than the send log is fetched by the segment from its peers (gossip).
        c.sent = Lsn(scl.0.max(log_base.0 - 1));
        let mut advanced = self.tracker.reconnected(g, scl);
        // After a membership change VDL moves again only once the new membership is on a write
        // quorum of each of its sets (see `DurabilityTracker::set_sets`).
        if self.tracker.held_of(pg) && self.membership_on_quorum_of(pg) {
            advanced = self.tracker.release_of(pg).or(advanced);
        }
        self.trim();
        advanced
    }

    /// The connection to the segment of flat slot `g` is gone (or its `Write` failed or timed
    /// out).
    pub fn disconnected(&mut self, g: usize) {
        let c = self.cursor_mut(g);
        c.connected = false;
        c.in_flight = None;
    }

    /// A read at `read_point` starts: storage must keep what it needs until it finishes.
    pub fn read_started(&mut self, read_point: Lsn) {
        *self.reads.entry(read_point).or_insert(0) += 1;
    }

    /// A read started with [`read_started`](Self::read_started) finished.
    pub fn read_finished(&mut self, read_point: Lsn) {
        if let Some(n) = self.reads.get_mut(&read_point) {
            *n -= 1;
            if *n == 0 {
                self.reads.remove(&read_point);
            }
        }
    }

    /// What this writer tells PG 0's storage about collection (see
    /// [`horizon_of`](Self::horizon_of)).
    #[must_use]
    pub fn horizon(&self) -> ReadHorizon {
        self.horizon_of(PG)
    }

    /// What this writer tells `pg`'s storage about collection: PGMRPL is the lowest read point
    /// of a read in flight, or VDL (every new read is at VDL, and VDL never decreases);
    /// `held_by_all` is the lowest SCL any segment of the PG reported.
    #[must_use]
    pub fn horizon_of(&self, pg: PgId) -> ReadHorizon {
        let vdl = self.tracker.vdl();
        let pgmrpl = self
            .reads
            .keys()
            .next()
            .map_or(vdl, |lowest| (*lowest).min(vdl));
        let base = pg.0 as usize * SLOTS;
        let addrs = slot_addrs(&self.pgs[pg.0 as usize].membership);
        let held_by_all = (0..SLOTS)
            .filter(|&i| addrs[i].is_some())
            .map(|i| self.tracker.scl(base + i))
            .min()
            .unwrap_or(Lsn::ZERO);
        ReadHorizon {
            pgmrpl,
            held_by_all,
        }
    }

    /// The last record of `pg` at or below `lsn` still in the send log (`None` if none is).
    fn pg_record_at_or_below(&self, pg: PgId, lsn: Lsn) -> Option<Lsn> {
        if lsn < self.log_base {
            return None;
        }
        let end = usize::try_from(lsn.0 - self.log_base.0 + 1)
            .unwrap_or(usize::MAX)
            .min(self.log.len());
        self.log
            .range(..end)
            .rev()
            .find(|e| e.pg == pg)
            .map(|e| e.lsn)
    }

    /// The next `Write` for flat slot `g`, if its segment is connected, has none in flight and
    /// has records of its PG to send. Marks it in flight.
    pub fn next_write(&mut self, g: usize, req_id: u64, now_ms: u64) -> Option<WriteBatch> {
        if self.fenced {
            return None;
        }
        let pg = pg_of_slot(g);
        let c = *self.cursor(g);
        if !c.connected || c.in_flight.is_some() {
            return None;
        }
        let mut sent = Lsn(c.sent.0.max(self.log_base.0 - 1));
        let acked = self.tracker.scl(g);
        let nothing_new = self.log.back().is_none_or(|e| e.lsn <= sent);
        // Its SCL lags what it was sent (the PG's last record sent, not `sent` itself, which
        // may lie on another PG's record).
        let lagging = self
            .pg_record_at_or_below(pg, sent)
            .is_some_and(|last| acked < last);
        if nothing_new && lagging && now_ms >= c.answered_at_ms + LAGGING_SEGMENT_RESEND_MS {
            // Send the lagging records again; the answer tells how far it has come (by gossip)
            // since.
            sent = Lsn(acked.0.max(self.log_base.0 - 1));
            self.cursor_mut(g).answered_at_ms = now_ms;
        }
        let skip = usize::try_from(sent.0 + 1 - self.log_base.0).expect("send log index");
        let mut bytes = 0;
        let records: Vec<Arc<Encoded>> = self
            .log
            .iter()
            .skip(skip)
            .filter(|e| e.pg == pg)
            .take_while(|e| {
                bytes += e.bytes.len();
                bytes <= WRITE_BATCH_BYTES_MAX
            })
            .cloned()
            .collect();
        let Some(last) = records.last().map(|e| e.lsn) else {
            // Nothing of its PG above `sent`: it has been sent everything up to the log's end.
            if let Some(end) = self.log.back().map(|e| e.lsn) {
                let c = self.cursor_mut(g);
                c.sent = c.sent.max(end);
            }
            return None;
        };
        self.cursor_mut(g).in_flight = Some(InFlight {
            req_id,
            last,
            sent_at_ms: now_ms,
        });
        Some(WriteBatch {
            req_id,
            pg,
            last,
            horizon: self.horizon_of(pg),
            membership: self.pgs[pg.0 as usize].membership.epoch,
            records,
        })
    }

    /// The `Write` `req_id` to flat slot `g` was acknowledged with this SCL. Returns the new VDL
    /// if it advanced. An answer to a `Write` no longer in flight is ignored.
    pub fn write_acked(&mut self, g: usize, req_id: u64, scl: Lsn) -> Option<Lsn> {
        let c = self.cursor_mut(g);
        match c.in_flight {
            Some(f) if f.req_id == req_id => {
                c.sent = c.sent.max(f.last);
                c.in_flight = None;
                c.answered_at_ms = f.sent_at_ms;
            }
            _ => return None,
        }
        self.ack(g, scl)
    }

    /// The `Write` `req_id` to flat slot `g` failed (an error answer): the driver drops the
    /// connection and re-opens it.
    pub fn write_failed(&mut self, g: usize, req_id: u64) {
        if self.cursor(g).in_flight.is_some_and(|f| f.req_id == req_id) {
            self.disconnected(g);
        }
    }

    /// Flat slots whose `Write` has been in flight longer than `WRITE_TIMEOUT_MS`; they are
    /// disconnected (the driver re-opens them and the records are sent again).
    pub fn expire(&mut self, now_ms: u64) -> Vec<usize> {
        let mut expired = Vec::new();
        for g in 0..self.slots() {
            if let Some(f) = self.cursor(g).in_flight
                && now_ms.saturating_sub(f.sent_at_ms) >= WRITE_TIMEOUT_MS
            {
                self.disconnected(g);
                expired.push(g);
            }
        }
        expired
    }

    /// A storage node answered `StaleEpoch`: a newer writer holds the volume. For good.
    pub fn fence(&mut self) {
        self.fenced = true;
        for p in &mut self.pgs {
            for c in &mut p.cursors {
                c.in_flight = None;
            }
        }
    }

    /// Applies an SCL report: maybe advance VDL, trim the send log.
    fn ack(&mut self, g: usize, scl: Lsn) -> Option<Lsn> {
        let advanced = self.tracker.ack(g, scl);
        self.trim();
        advanced
    }

    fn trim(&mut self) {
        // Trim what is durable and held by every connected segment; a disconnected segment catches
        // up from its peers when it returns. A connected segment that lags far behind VDL holds
        // at most SEND_LOG_DURABLE_BYTES of durable records here: it gets what follows them and
        // fills the gap from its peers, as a reconnecting one does. A segment whose SCL reached
        // its PG's last record holds everything of its PG in the log, whatever its SCL says.
        let vdl = self.tracker.vdl();
        let end = Lsn(self.next_lsn.0 - 1);
        let mut keep_from = vdl;
        for (k, p) in self.pgs.iter().enumerate() {
            for (i, c) in p.cursors.iter().enumerate() {
                if c.connected {
                    let scl = self.tracker.scl(k * SLOTS + i);
                    let covered = if scl >= p.tail { end } else { scl };
                    keep_from = keep_from.min(covered);
                }
            }
        }
        let durable_through = self.bytes_through(vdl);
        while let Some(e) = self.log.front() {
            let lagging_too_far =
                e.lsn <= vdl && durable_through - self.trimmed_bytes > self.send_log_durable_bytes;
            if e.lsn > keep_from && !lagging_too_far {
                break;
            }
            if let Some(e) = self.log.pop_front() {
                self.trimmed_bytes = e.cumulative_bytes;
            }
            self.log_base = self.log_base.next();
        }
    }

    /// Changes how many durable bytes the send log keeps for lagging segments (the simulator
    /// makes it tiny, so that lagging segments fill their gaps from peers all the time).
    pub fn set_send_log_durable_bytes(&mut self, bytes: u64) {
        self.send_log_durable_bytes = bytes;
        self.trim();
    }

    /// Bounds the send log's memory to about twice `bytes`: at most `bytes` of records above VDL
    /// (the byte LAL, overshot by at most one MTR) and `bytes` of durable records kept for
    /// lagging segments. (Tests that measure the writer's memory make it small, so that how far
    /// storage lags cannot hide what they measure.)
    pub fn set_send_log_bytes(&mut self, bytes: u64) {
        assert!(bytes > 0, "the send log must hold at least one MTR");
        self.lal_bytes = bytes;
        self.set_send_log_durable_bytes(bytes);
    }

    /// `cumulative_bytes` through `lsn` (which is at most the last record allocated).
    fn bytes_through(&self, lsn: Lsn) -> u64 {
        if lsn < self.log_base {
            return self.trimmed_bytes;
        }
        usize::try_from(lsn.0 - self.log_base.0)
            .ok()
            .and_then(|i| self.log.get(i))
            .map_or(self.record_bytes_total, |e| e.cumulative_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use borealis_common::{Epoch, PageId, Payload, WriterId};

    fn core(vdl: u64, upto: u64) -> WriterCore {
        WriterCore::new(Recovered::one_pg(
            Term {
                epoch: Epoch(1),
                writer: WriterId(1),
            },
            vec![],
            Lsn(vdl),
            Lsn(upto),
            Membership::initial((0..6).map(|i| format!("n{i}")).collect()),
            [Lsn(vdl); SLOTS],
        ))
    }

    const M1: MembershipEpoch = MembershipEpoch(1);

    fn mtr(n: usize) -> Vec<RecordDraft> {
        (0..n)
            .map(|k| RecordDraft {
                page: PageId(k as u64),
                prev_page_lsn: Lsn::ZERO,
                payload: Payload::Init(vec![1]),
            })
            .collect()
    }

    #[test]
    fn boxcarring_one_write_in_flight_per_segment() {
        let mut w = core(0, 10);
        assert_eq!(w.append_mtr(mtr(2)), Ok(Lsn(11)));
        // Four segments connected; two are down.
        for i in 0..4 {
            assert_eq!(w.connected(i, Lsn::ZERO, M1), None);
        }
        let b = w.next_write(0, 1, 0).expect("records to send");
        assert_eq!((b.records.len(), b.last), (2, Lsn(12)));
        assert!(w.next_write(0, 2, 0).is_none(), "one Write in flight");
        // Records appended meanwhile leave with the next Write, all together.
        w.append_mtr(mtr(1)).expect("room");
        w.append_mtr(mtr(1)).expect("room");
        assert_eq!(
            w.write_acked(0, 1, Lsn(12)),
            None,
            "one copy is not durable"
        );
        let b = w.next_write(0, 3, 0).expect("the boxcar");
        assert_eq!(
            b.records.iter().map(|e| e.lsn.0).collect::<Vec<_>>(),
            vec![13, 14]
        );
        // A late answer to an abandoned Write changes nothing.
        assert_eq!(w.write_acked(0, 99, Lsn(14)), None);
        for i in 1..4 {
            let b = w.next_write(i, 10 + i as u64, 0).expect("batch");
            let got = w.write_acked(i, b.req_id, b.last);
            if i < 3 {
                assert_eq!(got, None);
            } else {
                assert_eq!(got, Some(Lsn(12)), "four copies of 12, three of 14");
            }
        }
        assert_eq!(w.write_acked(0, 3, Lsn(14)), Some(Lsn(14)));
        assert_eq!(
            w.unsent_records(),
            0,
            "durable and held by every connected segment: trimmed"
        );
        assert!(w.next_write(4, 20, 0).is_none(), "not connected");
    }

    #[test]
    fn a_segment_that_returns_with_an_empty_disk_counts_for_nothing_it_lost() {
        let mut w = core(0, 10);
        for i in 0..SEGMENTS_PER_PG {
            w.connected(i, Lsn::ZERO, M1);
        }
        w.append_mtr(mtr(1)).expect("room");
        for i in 0..SEGMENTS_PER_PG {
            let b = w.next_write(i, i as u64, 0).expect("batch");
            w.write_acked(i, b.req_id, b.last);
        }
        assert_eq!(w.vdl(), Lsn(11));
        w.append_mtr(mtr(1)).expect("room");
        for i in 0..3 {
            let b = w.next_write(i, 10 + i as u64, 0).expect("batch");
            w.write_acked(i, b.req_id, b.last);
        }
        // Segment 0 dies with its disk and comes back empty.
        w.disconnected(0);
        assert_eq!(w.connected(0, Lsn::ZERO, M1), None);
        assert_eq!(w.scl(0), Lsn::ZERO, "what it held before is gone");
        let b = w.next_write(3, 20, 0).expect("batch");
        assert_eq!(
            w.write_acked(3, b.req_id, b.last),
            None,
            "12 is on three segments, not four"
        );
        let b = w
            .next_write(0, 21, 0)
            .expect("it is sent what the send log holds");
        assert_eq!(b.records.first().map(|e| e.lsn), Some(Lsn(12)));
    }

    #[test]
    fn allocation_waits_when_the_bytes_above_vdl_reach_the_byte_lal() {
        let mut w = core(0, 10);
        for i in 0..SEGMENTS_PER_PG {
            w.connected(i, Lsn::ZERO, M1);
        }
        // Page-sized records: far fewer than LAL_RECORDS fill LAL_BYTES.
        let page = |k: u64| RecordDraft {
            page: PageId(k),
            prev_page_lsn: Lsn::ZERO,
            payload: Payload::Init(vec![7; 8192]),
        };
        let mut appended = 0u64;
        while w.room_for(1).is_ok() {
            w.append_mtr(vec![page(appended)]).expect("room");
            appended += 1;
            assert!(appended < LAL_RECORDS, "the byte bound never applied");
        }
        assert_eq!(w.room_for(1), Err(AppendError::LalExceeded));
        let above = w.bytes_above_vdl();
        assert!((LAL_BYTES..LAL_BYTES + 9000).contains(&above), "{above}");
        // Segments acknowledge every batch they are sent, up to `upto`.
        let mut req = 0;
        let mut pump = |w: &mut WriterCore, i: usize, upto: Lsn| {
            while let Some(b) = w.next_write(i, req, 0) {
                req += 1;
                w.write_acked(i, b.req_id, b.last);
                if b.last >= upto {
                    break;
                }
            }
        };
        // Four segments make half of it durable: there is room again, and less above VDL.
        let half = Lsn(10 + appended / 2);
        for i in 0..4 {
            pump(&mut w, i, half);
        }
        assert!(w.vdl() >= half);
        assert!(w.room_for(1).is_ok());
        assert!(w.bytes_above_vdl() < above / 2 + (4 << 20));
        // Once every segment holds everything, the log is trimmed and nothing is above VDL.
        let last = w.pg_tail();
        for i in 0..SEGMENTS_PER_PG {
            pump(&mut w, i, last);
        }
        assert_eq!(w.vdl(), last);
        assert_eq!(w.bytes_above_vdl(), 0);
        assert_eq!(w.unsent_records(), 0);
    }

    #[test]
    fn a_connected_segment_far_behind_vdl_does_not_pin_the_send_log() {
        let mut w = core(0, 10);
        for i in 0..SEGMENTS_PER_PG {
            w.connected(i, Lsn::ZERO, M1);
        }
        let page = |k: u64| RecordDraft {
            page: PageId(k),
            prev_page_lsn: Lsn::ZERO,
            payload: Payload::Init(vec![7; 8192]),
        };
        let mut req = 0;
        let mut next = 0u64;
        // Five segments keep up; segment 5 stays connected but never answers its first Write.
        let stuck = w.next_write(5, 999_999, 0);
        assert!(stuck.is_none(), "nothing to send yet");
        for _ in 0..4 * (SEND_LOG_DURABLE_BYTES / 8192) {
            w.append_mtr(vec![page(next)]).expect("room");
            next += 1;
            if next == 1 {
                assert!(w.next_write(5, 999_999, 0).is_some(), "the stuck Write");
            }
            for i in 0..5 {
                while let Some(b) = w.next_write(i, req, 0) {
                    req += 1;
                    w.write_acked(i, b.req_id, b.last);
                }
            }
        }
        assert_eq!(w.vdl(), w.pg_tail());
        assert!(
            w.send_log_bytes() <= SEND_LOG_DURABLE_BYTES + 9000,
            "the send log holds {} bytes for a lagging segment",
            w.send_log_bytes()
        );
        // When it answers at last, it is sent what follows the trimmed records: the gap is
        // filled from its peers.
        w.write_acked(5, 999_999, Lsn(11));
        let b = w.next_write(5, req, 0).expect("a batch");
        assert!(b.records[0].lsn > Lsn(12), "sent from the send log's start");
    }

    #[test]
    fn a_lagging_segment_is_asked_again_so_vdl_can_move() {
        let mut w = core(0, 10);
        for i in 0..SEGMENTS_PER_PG {
            w.connected(i, Lsn::ZERO, M1);
        }
        w.append_mtr(mtr(1)).expect("room");
        for i in 0..SEGMENTS_PER_PG {
            let b = w.next_write(i, 1, 0).expect("batch");
            // Three segments hold it; three lost it in a crash and answer a lower SCL.
            let scl = if i < 3 { Lsn(11) } else { Lsn::ZERO };
            w.write_acked(i, b.req_id, scl);
        }
        assert_eq!(w.vdl(), Lsn::ZERO);
        assert!(
            w.next_write(3, 2, 10).is_none(),
            "not yet: it may be catching up"
        );
        // Later (its gap filled by gossip meanwhile), it is sent the record again and says so.
        let b = w
            .next_write(3, 2, LAGGING_SEGMENT_RESEND_MS)
            .expect("resent");
        assert_eq!(b.last, Lsn(11));
        assert_eq!(w.write_acked(3, 2, Lsn(11)), Some(Lsn(11)));
    }

    #[test]
    fn a_lost_member_is_replaced_through_the_dual_quorum() {
        let mut w = core(0, 10);
        w.set_spares(vec![
            Spare {
                addr: "g".into(),
                az: 2,
            },
            Spare {
                addr: "h".into(),
                az: 0,
            },
        ]);
        for i in 0..SEGMENTS_PER_PG {
            w.connected(i, Lsn::ZERO, M1);
        }
        w.append_mtr(mtr(1)).expect("room");
        for i in 0..SEGMENTS_PER_PG {
            let b = w.next_write(i, 1, 0).expect("batch");
            w.write_acked(i, b.req_id, b.last);
        }
        assert_eq!(w.vdl(), Lsn(11));
        // n5 (AZ 2) goes away for good.
        w.disconnected(5);
        assert_eq!(w.tick(100), None);
        assert_eq!(w.tick(100 + SEGMENT_LOST_MS - 1), None);
        let Some(MembershipChange::Began { slot, joiner, .. }) = w.tick(100 + SEGMENT_LOST_MS)
        else {
            panic!("the replacement begins");
        };
        assert_eq!((slot, joiner.as_str()), (5, "g"), "a spare of the same AZ");
        let m2 = w.membership().epoch;
        assert_eq!(m2, MembershipEpoch(2));
        assert!(
            w.next_write(0, 2, 0).is_none(),
            "every slot is opened again first"
        );
        let Some(Request::Open { membership, .. }) = w.open_request(JOINING_SLOT) else {
            panic!("the joiner is opened");
        };
        assert_eq!(membership.joining, Some((5, "g".into())));
        // An answer to an Open of the old membership does not connect.
        assert_eq!(w.connected(0, Lsn(11), M1), None);
        assert!(!w.is_connected(0));
        for i in 0..5 {
            w.connected(i, Lsn(11), m2);
        }
        w.connected(JOINING_SLOT, Lsn::ZERO, m2);
        // Writes go on: durable only on 4/6 of ABCDEF and 4/6 of ABCDEG.
        w.append_mtr(mtr(1)).expect("room");
        for i in 0..3 {
            let b = w.next_write(i, 20 + i as u64, 0).expect("batch");
            assert_eq!(b.membership, m2);
            w.write_acked(i, b.req_id, b.last);
        }
        let b = w
            .next_write(JOINING_SLOT, 30, 0)
            .expect("the joiner is sent the tail");
        assert_eq!(b.records.first().map(|e| e.lsn), Some(Lsn(12)));
        // G has 12 but not 11 (it hydrates by gossip): not yet complete to 12.
        assert_eq!(w.write_acked(JOINING_SLOT, 30, Lsn::ZERO), None);
        assert_eq!(w.vdl(), Lsn(11));
        let b = w.next_write(3, 40, 0).expect("batch");
        assert_eq!(
            w.write_acked(3, b.req_id, b.last),
            Some(Lsn(12)),
            "4 of ABCDEF, and of ABCDEG: A B C D"
        );
        assert_eq!(w.tick(500), None, "the joiner has not caught up");
        assert!(w.is_connected(JOINING_SLOT), "not probed yet");
        // Nothing new to send it: the joiner is opened again, to learn the SCL gossip brought it.
        assert_eq!(w.tick(500 + LAGGING_SEGMENT_RESEND_MS), None);
        assert!(!w.is_connected(JOINING_SLOT), "opened again");
        assert_eq!(w.connected(JOINING_SLOT, Lsn(12), m2), None);
        let Some(MembershipChange::Completed { slot, dropped, .. }) = w.tick(6_000) else {
            panic!("the replacement completes");
        };
        assert_eq!((slot, dropped.as_str()), (5, "n5"));
        assert_eq!(w.membership().epoch, MembershipEpoch(3));
        assert_eq!(w.slot_addr(5).as_deref(), Some("g"));
        assert_eq!(w.slot_addr(JOINING_SLOT), None);
        assert_eq!(w.scl(5), Lsn(12), "G's SCL moved with it");
        // Everyone is opened again with the new membership; nothing more to change.
        for i in 0..SEGMENTS_PER_PG {
            w.connected(i, Lsn(12), MembershipEpoch(3));
        }
        assert_eq!(w.tick(60_000), None);
    }

    #[test]
    fn a_repair_counts_records_outside_truncations_and_estimates_bytes() {
        let mut w = WriterCore::new(Recovered::one_pg(
            Term {
                epoch: Epoch(3),
                writer: WriterId(1),
            },
            vec![
                Truncation {
                    epoch: Epoch(2),
                    pg: PG,
                    above: Lsn(10),
                    upto: Lsn(100),
                },
                Truncation {
                    epoch: Epoch(3),
                    pg: PG,
                    above: Lsn(50),
                    upto: Lsn(200),
                },
            ],
            Lsn(50),
            Lsn(200),
            Membership::initial((0..6).map(|i| format!("n{i}")).collect()),
            [Lsn(50); SLOTS],
        ));
        // Below 10 nothing is truncated; (10, 200] is (overlapping ranges counted once).
        assert_eq!(w.records_up_to(Lsn(10)), 10);
        assert_eq!(w.records_up_to(Lsn(60)), 10);
        assert_eq!(w.records_up_to(Lsn(250)), 60);
        assert_eq!(w.mean_record_bytes(), None, "nothing written yet");
        assert_eq!(w.repair_progress(), None, "no replacement in progress");
        w.append_mtr(mtr(2)).expect("room");
        let mean = w.mean_record_bytes().expect("two records written");
        assert!(mean > 0);
        w.set_spares(vec![Spare {
            addr: "g".into(),
            az: 0,
        }]);
        for i in 1..SEGMENTS_PER_PG {
            w.connected(i, Lsn(50), M1);
        }
        w.tick(0);
        assert!(w.tick(SEGMENT_LOST_MS).is_some(), "n0 is replaced");
        w.connected(JOINING_SLOT, Lsn(202), MembershipEpoch(2));
        let p = w.repair_progress().expect("in progress");
        assert_eq!((p.joiner.as_str(), p.scl, p.records), ("g", Lsn(202), 12));
        assert_eq!(p.bytes, Some(12 * mean));
    }

    #[test]
    fn lal_bounds_allocation_and_fencing_stops_everything() {
        let mut w = core(5, 5);
        assert_eq!(w.allocation_limit(), Lsn(5 + LAL_RECORDS));
        let big = usize::try_from(LAL_RECORDS).expect("fits") + 1;
        assert_eq!(w.room_for(big), Err(AppendError::LalExceeded));
        w.connected(0, Lsn(5), M1);
        w.append_mtr(mtr(1)).expect("room");
        let b = w.next_write(0, 1, 0).expect("batch");
        assert_eq!(w.expire(WRITE_TIMEOUT_MS - 1), Vec::<usize>::new());
        assert_eq!(w.expire(WRITE_TIMEOUT_MS), vec![0]);
        assert_eq!(w.write_acked(0, b.req_id, Lsn(6)), None, "abandoned");
        w.connected(0, Lsn(5), M1);
        w.fence();
        assert!(w.next_write(0, 2, 0).is_none());
        assert_eq!(w.append_mtr(mtr(1)), Err(AppendError::Fenced));
    }

    /// A volume of two PGs of 4 pages: an MTR writing pages of both gets each record's PG and
    /// PG backlink right, each PG's segments are sent only their PG's records, VDL needs a write
    /// quorum of each PG, reads carry the PG's durable tail, and a PG that receives nothing
    /// neither holds VDL back nor pins the send log.
    #[test]
    fn records_go_to_their_protection_group() {
        let mut w = WriterCore::new(Recovered {
            pages_per_pg: 4,
            ..Recovered::one_pg(
                Term {
                    epoch: Epoch(1),
                    writer: WriterId(1),
                },
                vec![],
                Lsn(0),
                Lsn(0),
                Membership::initial((0..6).map(|i| format!("n{i}")).collect()),
                [Lsn(0); SLOTS],
            )
        });
        let page = |p: u64| RecordDraft {
            page: PageId(p),
            prev_page_lsn: Lsn::ZERO,
            payload: Payload::Init(vec![p as u8]),
        };
        assert_eq!(
            w.append_mtr(vec![page(1), page(5)]),
            Err(AppendError::Grow { page: PageId(5) }),
            "page 5 lies in PG 1, which does not exist yet"
        );
        assert_eq!(w.next_lsn(), Lsn(1), "a refused MTR allocates nothing");
        let pg1 = w.add_pg(Membership::initial(
            (0..6).map(|i| format!("m{i}")).collect(),
        ));
        assert_eq!((pg1, w.slots()), (PgId(1), 2 * SLOTS));
        assert!(matches!(
            w.open_request(SLOTS + 2),
            Some(Request::Open { pg, ref me, map: None, .. }) if pg == pg1 && me == "m2"
        ));
        assert!(matches!(
            w.open_request(0),
            Some(Request::Open { map: Some(ref m), .. }) if m.version() == 2 && m.pages_per_pg == 4
        ));
        for g in 0..2 * SLOTS {
            w.connected(g, Lsn::ZERO, M1);
        }
        // LSN 1 → PG 0, 2 → PG 1, 3 (commit) → PG 0.
        w.append_mtr(vec![page(1), page(5), page(PageId::NONE.0)])
            .expect("room");
        let b0 = w.next_write(0, 1, 0).expect("PG 0's records");
        assert_eq!(b0.pg, PG);
        assert_eq!(
            b0.records.iter().map(|e| e.lsn.0).collect::<Vec<_>>(),
            [1, 3]
        );
        let b1 = w.next_write(SLOTS, 2, 0).expect("PG 1's records");
        assert_eq!(b1.pg, pg1);
        assert_eq!(b1.records.iter().map(|e| e.lsn.0).collect::<Vec<_>>(), [2]);
        // Every PG 0 segment holds 1 and 3: not durable until PG 1 holds 2 on a write quorum.
        for g in 1..SEGMENTS_PER_PG {
            let b = w.next_write(g, 10 + g as u64, 0).expect("batch");
            w.write_acked(g, b.req_id, Lsn(3));
        }
        assert_eq!(w.write_acked(0, 1, Lsn(3)), None);
        assert_eq!(w.write_acked(SLOTS, 2, Lsn(2)), None, "one copy of 2");
        for i in 1..3 {
            let g = SLOTS + i;
            let b = w.next_write(g, 20 + i as u64, 0).expect("batch");
            assert_eq!(w.write_acked(g, b.req_id, Lsn(2)), None);
        }
        let b = w.next_write(SLOTS + 3, 30, 0).expect("batch");
        assert_eq!(w.write_acked(SLOTS + 3, b.req_id, Lsn(2)), Some(Lsn(3)));
        for g in [SLOTS + 4, SLOTS + 5] {
            let b = w.next_write(g, 40 + g as u64, 0).expect("batch");
            assert_eq!(w.write_acked(g, b.req_id, Lsn(2)), None);
        }
        assert_eq!((w.durable_tail(PG), w.durable_tail(pg1)), (Lsn(3), Lsn(2)));
        let t = w.read_target(PageId(6)).expect("in PG 1");
        assert_eq!((t.pg, t.pg_point), (pg1, Lsn(2)));
        assert_eq!(w.read_target(PageId(9)), None, "beyond the last PG");
        // PG 0 goes on alone: PG 1's segments, complete to their own last record, hold back
        // neither VDL nor the send log, and are sent nothing.
        for k in 0..5u64 {
            w.append_mtr(vec![page(k % 4)]).expect("room");
            let last = Lsn(4 + k);
            for g in 0..SEGMENTS_PER_PG {
                let b = w.next_write(g, 100 + 10 * k + g as u64, 0).expect("batch");
                w.write_acked(g, b.req_id, last);
            }
            assert_eq!(w.vdl(), last);
            assert!(w.next_write(SLOTS, 999, 0).is_none(), "nothing of PG 1");
        }
        assert_eq!(
            w.unsent_records(),
            0,
            "trimmed: PG 1's SCL is its PG's last record"
        );
        // The next record of PG 1 links back to its last one, 2.
        w.append_mtr(vec![page(7)]).expect("room");
        let b = w.next_write(SLOTS + 4, 500, 0).expect("PG 1's record");
        assert_eq!(b.records.len(), 1);
        let rec = RedoRecord::decode(&mut borealis_common::codec::Reader::new(
            &b.records[0].bytes,
        ))
        .expect("decodes");
        assert_eq!((rec.lsn, rec.pg, rec.prev_pg_lsn), (Lsn(9), pg1, Lsn(2)));
    }
}
