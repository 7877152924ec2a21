//! The volume complete LSN over several protection groups, sans-IO: at the writer, and in
//! recovery from a read quorum of every PG.
//!
//! # The pitfall
//!
//! A PG's completeness point (its PGCL at the writer, its chain end in recovery) says "every
//! record *of this PG* up to here is held". It says nothing about the LSNs between its records,
//! which belong to other PGs. A PG that received nothing since LSN 10 while PG 0 went on to 100 is
//! complete to 10 *and* to 100 — or it lost a record at 43 that was never durable. Neither naive
//! combination is right:
//!
//! ```text
//!   PG 0: ── 41 ─ 42 ─ 44 ─ 45(CPL) ─ … ─ 100          complete to 100
//!   PG 1: ── 10                     (43 on one segment only, then the writer crashed)
//!
//!   min(100, 10) = 10   truncates the commits of PG 0 acknowledged above 10: an acknowledged
//!                       commit lost
//!   max(100, 10) = 100  skips the hole at 43 (never durable, so nothing above it was
//!                       acknowledged): the MTR 42–45 would be half applied
//! ```
//!
//! # The writer: it knows which PG every LSN went to
//!
//! [`VolumeComplete`] keeps, per PG, the LSNs allocated to it above VDL and the PG's current
//! PGCL. VCL is the LSN before the lowest LSN that its PG's PGCL does not cover (every LSN below
//! it is durable in its own PG), or the last LSN allocated when there is none. A PG that receives
//! nothing never holds VCL back; a record that is not durable always does. A PGCL can fall (a
//! segment returns with an empty disk), so VCL is recomputed from the current PGCLs, never
//! accumulated. The writer's `DurabilityTracker` computes VCL this way, over every PG.
//!
//! # Recovery: dense LSNs and the writer's own VDL carried in records
//!
//! Recovery does not know which PG an LSN went to, but it knows two facts:
//!
//! 1. LSNs are dense within an epoch, and between epochs only truncation ranges are skipped (a
//!    new writer allocates above its truncation). So every LSN between a point known complete and
//!    VCL is a record of *some* PG, or lies in a truncation range.
//! 2. Every record carries `known_vdl`, the writer's VDL when it allocated the record: every
//!    LSN up to it was durable then, in every PG. The highest `known_vdl` on any record any
//!    answering segment holds (or a segment's collection floor) is a **floor** below which the
//!    volume is complete. The start of a truncation is not: the recovery that made it may have
//!    died before its VDL was durable.
//!
//! From a read quorum (3/6) of every PG — which holds every durable record of that PG — recovery
//! collects the records held above the floor (their LSN, PG backlink and CPL flag), across all
//! PGs, and scans upwards from the floor: VCL is the end of the run of LSNs that are each held
//! somewhere or truncated; VDL is the highest CPL held at or below it ([`recover_volume`]).
//! Each PG's tail at or below VDL (where its chain continues) is its highest record there among
//! those listed and the segments' *floor tails* (their highest record of the PG at or below
//! their own floor).
//!
//! - **No acknowledged commit lost.** A commit `C` was acknowledged when the writer's VDL ≥ `C`:
//!   every record up to `C` was durable on 4/6 of its PG, so is in the read quorum of its PG,
//!   and the scan passes `C`.
//! - **No hole skipped.** An LSN that no answering segment holds and no truncation covers stops
//!   the scan, so no MTR is half applied above it.
//! - **Bounded.** A segment reports the records it holds above its *own* highest `known_vdl`;
//!   each such local floor is at or below the global one, so the union covers everything above
//!   the floor. Records are allocated at most LAL above VDL, so a segment reports at most about
//!   LAL records per PG whatever the size of the volume or of its log.
//!
//! Recovery of a volume of several PGs plans with this scan (`recovery::plan_volume`); a volume
//! of one PG plans with its chain, and the simulator checks on every recovery that this scan
//! agrees.
//!
//! With one PG, the PG's chain end *is* VCL, and recovery needs neither the floor nor the scan
//! (`recovery::recover_pg`); the scan gives the same answer.

use borealis_common::proto::RecordMeta;
use borealis_common::{Lsn, PgId};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

/// The writer's view: per PG, the LSNs allocated to it above VDL, and its current PGCL.
///
/// A PGCL may fall (a segment that returns with an empty disk no longer counts for what it held,
/// or the quorum sets change), so VCL is recomputed from the current PGCLs every time rather than
/// accumulated; only LSNs at or below VDL, durable for good, are forgotten.
#[derive(Debug, Default)]
pub struct VolumeComplete {
    /// The last LSN allocated (or where allocation resumed from).
    allocated_to: Lsn,
    /// Per PG, its LSNs above the last [`forget_through`](Self::forget_through), ascending; a PG
    /// with none has no entry.
    allocated: BTreeMap<PgId, BTreeSet<Lsn>>,
    /// Per PG, its current PGCL.
    pgcls: BTreeMap<PgId, Lsn>,
    /// Per PG, its last record at or below the last [`forget_through`](Self::forget_through)
    /// (or as recovery found it): every record of the PG up to that point lies at or below it.
    durable_tails: BTreeMap<PgId, Lsn>,
}

impl VolumeComplete {
    /// Everything up to `base` is complete (a recovered VDL, or the end of this writer's
    /// truncation: nothing lies inside it).
    #[must_use]
    pub fn new(base: Lsn) -> Self {
        VolumeComplete {
            allocated_to: base,
            ..VolumeComplete::default()
        }
    }

    /// LSN `lsn` was allocated to a record of `pg`. LSNs come in increasing order (a jump skips a
    /// truncation range, where nothing lies).
    pub fn allocated(&mut self, pg: PgId, lsn: Lsn) {
        assert!(
            lsn > self.allocated_to,
            "LSNs are allocated in increasing order"
        );
        self.allocated_to = lsn;
        self.allocated.entry(pg).or_default().insert(lsn);
    }

    /// `pg`'s PGCL is now `pgcl` (higher or lower than before): its records up to it are on a
    /// write quorum.
    pub fn pg_complete(&mut self, pg: PgId, pgcl: Lsn) {
        self.pgcls.insert(pg, pgcl);
    }

    /// Every LSN at or below it is durable in its PG: the LSN before the lowest one, over all
    /// PGs, that its PG's PGCL does not cover; the last LSN allocated if there is none.
    #[must_use]
    pub fn vcl(&self) -> Lsn {
        self.allocated
            .iter()
            .filter_map(|(pg, lsns)| {
                let pgcl = self.pgcls.get(pg).copied().unwrap_or(Lsn::ZERO);
                lsns.range((Bound::Excluded(pgcl), Bound::Unbounded))
                    .next()
                    .copied()
            })
            .min()
            .map_or(self.allocated_to, |first| Lsn(first.0 - 1))
    }

    /// LSNs at or below `vdl` are durable for good: stop tracking them (each PG's highest one
    /// becomes its durable tail).
    pub fn forget_through(&mut self, vdl: Lsn) {
        let tails = &mut self.durable_tails;
        self.allocated.retain(|pg, lsns| {
            let above = lsns.split_off(&vdl.next());
            if let Some(&last) = lsns.last() {
                let t = tails.entry(*pg).or_insert(Lsn::ZERO);
                *t = (*t).max(last);
            }
            *lsns = above;
            !lsns.is_empty()
        });
    }

    /// `pg`'s last record at or below the last point forgotten through (VDL): a segment of the
    /// PG whose SCL reaches it holds every record of the PG up to VDL. 0 if the PG has none.
    #[must_use]
    pub fn durable_tail(&self, pg: PgId) -> Lsn {
        self.durable_tails.get(&pg).copied().unwrap_or(Lsn::ZERO)
    }

    /// Recovery found `pg`'s last record at or below VDL at `lsn`.
    pub fn set_durable_tail(&mut self, pg: PgId, lsn: Lsn) {
        let t = self.durable_tails.entry(pg).or_insert(Lsn::ZERO);
        *t = (*t).max(lsn);
    }

    /// LSNs tracked (allocated above the last [`forget_through`](Self::forget_through)).
    #[must_use]
    pub fn tracked(&self) -> usize {
        self.allocated.values().map(BTreeSet::len).sum()
    }
}

/// What one segment of one PG reports for the volume scan (from its `PgState`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgHeld {
    pub pg: PgId,
    /// Every LSN of the volume up to here is known durable: the highest `known_vdl` of the
    /// records it holds, or its collection floor (at or below a VDL the writer had).
    pub complete_floor: Lsn,
    /// The highest CPL known at or below `complete_floor`.
    pub cpl_floor: Lsn,
    /// The highest LSN of a record of its PG it holds (or collected) at or below
    /// `complete_floor`, 0 if none: where the PG's chain stands at the floor.
    pub floor_tail: Lsn,
    /// The records it holds above `complete_floor`, in LSN order.
    pub records: Vec<RecordMeta>,
}

/// What recovery establishes for the whole volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeRecovery {
    /// Every LSN up to here was known durable before the scan.
    pub floor: Lsn,
    /// Distinct records above the floor the answers reported (outside truncation ranges).
    pub records: u64,
    /// Every LSN up to here is held by some answering segment of its PG, or truncated.
    pub vcl: Lsn,
    /// The highest CPL at or below `vcl`: held above the floor, or the CPL floor.
    pub vdl: Lsn,
    /// The highest LSN any answering segment holds above the floor (what the truncation must
    /// cover), at least `vcl`.
    pub held_to: Lsn,
    /// Per PG reported, the LSN of its last record at or below VDL (0: none): the PG backlink
    /// the next record of the PG carries.
    pub pg_tails: BTreeMap<PgId, Lsn>,
}

/// Recovery's scan over a read quorum of every PG. `held` are the reports of every answering
/// segment of every PG; `truncated` are the ranges `(above, upto]` of every truncation known.
///
/// # Panics
/// If a report lists a record at or below its own `known_vdl`, or one whose backlink points
/// forwards: a storage node answered against the protocol.
#[must_use]
pub fn recover_volume(held: &[PgHeld], truncated: &[(Lsn, Lsn)]) -> VolumeRecovery {
    let floor = held
        .iter()
        .map(|h| h.complete_floor)
        .max()
        .unwrap_or(Lsn::ZERO);
    // A truncation's start is not a floor: the recovery that made it may have died before its
    // VDL reached a write quorum, and a read quorum may then lack the records up to it (the
    // simulator found a scan declaring a VDL whose records nobody answering held). Records
    // since carry that VDL as their known VDL once it is durable.
    let cpl_floor = held.iter().map(|h| h.cpl_floor).max().unwrap_or(Lsn::ZERO);
    assert!(cpl_floor <= floor, "a CPL floor above every complete floor");
    let is_truncated = |l: Lsn| truncated.iter().any(|&(a, u)| a < l && l <= u);
    // Every LSN held above the floor, with its PG and CPL flag (duplicates across segments of a
    // PG are the same record).
    let mut lsns: BTreeMap<Lsn, (PgId, Lsn, bool)> = BTreeMap::new();
    for h in held {
        for r in &h.records {
            assert!(
                r.lsn > h.complete_floor && r.prev_pg_lsn < r.lsn,
                "PG {} reported record {} against the protocol",
                h.pg,
                r.lsn
            );
            if r.lsn > floor && !is_truncated(r.lsn) {
                let prev = lsns.insert(r.lsn, (h.pg, r.prev_pg_lsn, r.cpl));
                assert!(
                    prev.is_none_or(|(pg, _, _)| pg == h.pg),
                    "LSN {} reported by two PGs",
                    r.lsn
                );
            }
        }
    }
    // Intervals covered: each held LSN, each truncation range; sweep up from the floor.
    let mut intervals: Vec<(u64, u64)> = lsns.keys().map(|l| (l.0, l.0)).collect();
    intervals.extend(truncated.iter().map(|&(a, u)| (a.0 + 1, u.0)));
    intervals.sort_unstable();
    let mut vcl = floor.0;
    for (from, to) in intervals {
        if from > vcl + 1 {
            break;
        }
        vcl = vcl.max(to);
    }
    let vcl = Lsn(vcl);
    let vdl = lsns
        .range(..=vcl)
        .rev()
        .find(|(_, (_, _, cpl))| *cpl)
        .map_or(cpl_floor, |(&l, _)| l);
    let held_to = lsns.keys().next_back().copied().unwrap_or(floor).max(vcl);
    // Each PG's tail at or below VDL: its highest record there. Above the global floor every
    // record up to VDL is listed (the scan passed them); at or below it, the record is durable,
    // so some answering segment of its PG holds it and reports it — listed (above that segment's
    // own floor) or as its floor tail. (The backlink of the PG's first
    // record above VDL is no answer: it may point at a record above VDL that nobody holds — the
    // model test below found that.)
    let mut pg_tails: BTreeMap<PgId, Lsn> = BTreeMap::new();
    for h in held {
        let listed = h
            .records
            .iter()
            .map(|r| r.lsn)
            .filter(|&l| l <= vdl && !is_truncated(l));
        let highest = listed
            .chain(std::iter::once(h.floor_tail).filter(|&l| l <= vdl && !is_truncated(l)))
            .max()
            .unwrap_or(Lsn::ZERO);
        let t = pg_tails.entry(h.pg).or_insert(Lsn::ZERO);
        *t = (*t).max(highest);
    }
    assert!(
        cpl_floor <= vdl && vdl <= vcl,
        "VDL between the CPL floor and VCL"
    );
    VolumeRecovery {
        floor,
        records: lsns.len() as u64,
        vcl,
        vdl,
        held_to,
        pg_tails,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(lsn: u64, prev: u64, cpl: bool) -> RecordMeta {
        RecordMeta {
            lsn: Lsn(lsn),
            prev_pg_lsn: Lsn(prev),
            cpl,
        }
    }

    /// A report whose floor is a known VDL (a CPL).
    fn held(pg: u32, known_vdl: u64, records: &[(u64, u64, bool)]) -> PgHeld {
        PgHeld {
            pg: PgId(pg),
            complete_floor: Lsn(known_vdl),
            cpl_floor: Lsn(known_vdl),
            floor_tail: Lsn::ZERO,
            records: records.iter().map(|&(l, p, c)| meta(l, p, c)).collect(),
        }
    }

    #[test]
    fn a_pg_that_receives_nothing_does_not_hold_vcl_back() {
        let mut v = VolumeComplete::new(Lsn(0));
        v.allocated(PgId(1), Lsn(1));
        v.allocated(PgId(0), Lsn(2));
        v.allocated(PgId(0), Lsn(3));
        assert_eq!(v.vcl(), Lsn(0));
        v.pg_complete(PgId(1), Lsn(1));
        assert_eq!(v.vcl(), Lsn(1), "PG 0's LSN 2 is not durable yet");
        v.pg_complete(PgId(0), Lsn(3));
        assert_eq!(v.vcl(), Lsn(3));
        // PG 1 gets nothing more; PG 0 goes on alone. A min of PGCLs would stay at 1.
        for l in 4..=10 {
            v.allocated(PgId(0), Lsn(l));
        }
        v.pg_complete(PgId(0), Lsn(10));
        assert_eq!(v.vcl(), Lsn(10));
    }

    #[test]
    fn a_record_not_durable_holds_vcl_below_it_whatever_other_pgs_reach() {
        let mut v = VolumeComplete::new(Lsn(40));
        v.allocated(PgId(0), Lsn(41));
        v.allocated(PgId(1), Lsn(42));
        v.allocated(PgId(0), Lsn(43));
        v.pg_complete(PgId(0), Lsn(43));
        assert_eq!(
            v.vcl(),
            Lsn(41),
            "a max of PGCLs would say 43 over the hole at 42"
        );
        v.pg_complete(PgId(1), Lsn(42));
        assert_eq!(v.vcl(), Lsn(43));
    }

    #[test]
    fn a_pgcl_that_falls_lowers_vcl_again_until_vdl_is_passed() {
        let mut v = VolumeComplete::new(Lsn(0));
        for l in 1..=4 {
            v.allocated(PgId(0), Lsn(l));
        }
        v.pg_complete(PgId(0), Lsn(4));
        assert_eq!(v.vcl(), Lsn(4));
        // A segment came back empty: the PG's quorum now holds only up to 2.
        v.pg_complete(PgId(0), Lsn(2));
        assert_eq!(
            v.vcl(),
            Lsn(2),
            "durability counted on a lost disk is withdrawn"
        );
        // Once VDL passed 3, those LSNs are durable for good (VDL never goes back).
        v.forget_through(Lsn(3));
        assert_eq!(v.tracked(), 1);
        assert_eq!(v.vcl(), Lsn(3));
        v.forget_through(Lsn(4));
        assert_eq!((v.tracked(), v.vcl()), (0, Lsn(4)));
    }

    #[test]
    fn recovery_neither_truncates_another_pgs_commits_nor_skips_a_hole() {
        // PG 1 last got LSN 10; PG 0 went on to 20 with CPLs at 15 and 20. Floor 8.
        let a = held(
            0,
            8,
            &[
                (9, 7, false),
                (11, 9, false),
                (12, 11, false),
                (13, 12, false),
                (14, 13, false),
                (15, 14, true),
            ],
        );
        let b = held(
            0,
            8,
            &[
                (16, 15, false),
                (17, 16, false),
                (18, 17, false),
                (19, 18, false),
            ],
        );
        let c = held(0, 8, &[(20, 19, true)]);
        let d = held(1, 5, &[(10, 6, false)]);
        let r = recover_volume(&[a.clone(), b.clone(), c.clone(), d.clone()], &[]);
        assert_eq!(
            r.vcl,
            Lsn(20),
            "PG 1's chain end (10) must not truncate PG 0's commits"
        );
        assert_eq!(r.vdl, Lsn(20));
        assert_eq!(r.pg_tails[&PgId(1)], Lsn(10));
        assert_eq!(r.pg_tails[&PgId(0)], Lsn(20));
        // Now LSN 13 went to PG 1 and reached no answering segment: it was never durable, so no
        // commit above it was acknowledged, and the scan stops below it.
        let a = held(
            0,
            8,
            &[
                (9, 7, false),
                (11, 9, false),
                (12, 11, true),
                (14, 12, false),
                (15, 14, true),
            ],
        );
        let r = recover_volume(&[a, b, c, d], &[]);
        assert_eq!(r.vcl, Lsn(12));
        assert_eq!(r.vdl, Lsn(12));
        assert_eq!(
            r.held_to,
            Lsn(20),
            "the truncation must cover what lies above"
        );
        assert_eq!(r.pg_tails[&PgId(0)], Lsn(12), "PG 0 continues from 12");
    }

    #[test]
    fn truncation_ranges_are_crossed_and_their_records_ignored() {
        // An earlier recovery truncated (20, 100]; a stray record at 50 of that range is still
        // held by a segment that missed the truncation. Allocation resumed at 101.
        // Records 101-103 were allocated by the writer that recovered VDL 20: they carry it as
        // their known VDL, the segments' floor.
        let a = held(0, 20, &[(50, 20, true), (101, 20, false), (102, 101, true)]);
        let b = held(1, 20, &[(103, 0, true)]);
        let r = recover_volume(&[a, b], &[(Lsn(20), Lsn(100))]);
        assert_eq!(r.vcl, Lsn(103));
        assert_eq!(r.vdl, Lsn(103));
        assert_eq!(r.pg_tails[&PgId(0)], Lsn(102));
    }

    #[test]
    fn a_pg_whose_records_all_lie_above_vdl_stands_at_its_floor_tail() {
        // PG 1's only record above the floor is 12, after a hole at 11: its tail is 7, the
        // record before 12 in PG 1, at or below the floor, reported as the floor tail.
        let a = held(0, 9, &[(10, 9, true)]);
        let mut b = held(1, 9, &[(12, 7, true)]);
        b.floor_tail = Lsn(7);
        let r = recover_volume(&[a, b], &[]);
        assert_eq!((r.vcl, r.vdl), (Lsn(10), Lsn(10)));
        assert_eq!(r.pg_tails[&PgId(1)], Lsn(7));
        assert_eq!(r.held_to, Lsn(12));
    }

    #[test]
    fn a_collection_floor_is_complete_but_vdl_stays_on_a_cpl() {
        // Collected up to 12 (not a CPL; the last CPL at or below it is 10), nothing held above.
        let a = PgHeld {
            pg: PgId(0),
            complete_floor: Lsn(12),
            cpl_floor: Lsn(10),
            floor_tail: Lsn(12),
            records: vec![meta(13, 12, false)],
        };
        let r = recover_volume(&[a], &[]);
        assert_eq!(
            (r.vcl, r.vdl),
            (Lsn(13), Lsn(10)),
            "half an MTR is never exposed"
        );
    }

    #[test]
    fn nothing_above_the_floor_recovers_the_floor() {
        let r = recover_volume(&[held(0, 30, &[]), held(3, 12, &[])], &[]);
        assert_eq!((r.vcl, r.vdl, r.held_to), (Lsn(30), Lsn(30), Lsn(30)));
        assert_eq!(r.pg_tails.len(), 2, "every PG reported has a tail");
    }

    /// A seeded model of writers over several PGs, their crashes and recoveries: records reach
    /// arbitrary subsets of their PG's six segments (loss, reordering, a crash mid-send), each
    /// writer's VDL comes from `VolumeComplete` over the PGCLs, and each recovery scans the states
    /// of a bare read quorum (3/6) of every PG, truncates `(VDL, held_to + slack]` — some
    /// segments never learn it and keep stray records — waits until a write quorum of every PG
    /// holds the records up to VDL, and the next writer continues every PG's chain from the
    /// recovered tails. Checked: no writer calls durable what is not on 4/6 of its
    /// PG; recovery keeps every acknowledged commit, exposes no LSN that nobody holds, lands on a
    /// CPL, and finds each PG's tail exactly; and the two naive combinations of per-PG
    /// completeness do fail in some rounds (the model is not vacuous).
    #[test]
    fn model_writer_and_recovery_over_several_pgs() {
        const ROUNDS: u64 = 300;
        const EPOCHS: u64 = 3;
        const STEPS: usize = 80;
        const SEGMENTS: usize = 6;
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let (mut naive_min_lost, mut naive_max_holes) = (0, 0);
        let (mut recovered_above_floor, mut stray_kept) = (0, 0);
        for _ in 0..ROUNDS {
            let pgs = 1 + next(4) as u32;
            // Every record ever allocated: (PG, PG backlink, CPL, known VDL). Per PG and
            // segment: the LSNs it holds. The truncations decided so far.
            let mut records: BTreeMap<Lsn, (PgId, Lsn, bool, Lsn)> = BTreeMap::new();
            let mut held: BTreeMap<(PgId, usize), BTreeSet<Lsn>> = BTreeMap::new();
            let mut truncated: Vec<(Lsn, Lsn)> = Vec::new();
            let cut = |t: &[(Lsn, Lsn)], l: Lsn| t.iter().any(|&(a, u)| a < l && l <= u);
            let (mut vdl, mut next_lsn) = (Lsn::ZERO, 1u64);
            let mut tails: BTreeMap<PgId, Lsn> = BTreeMap::new();
            for _ in 0..EPOCHS {
                // A writer: allocation resumes at `next_lsn`, above every truncation.
                let mut v = VolumeComplete::new(vdl);
                let mut cpls: Vec<Lsn> = Vec::new();
                let mut opened: BTreeSet<(PgId, usize)> = BTreeSet::new();
                for _ in 0..STEPS {
                    if next(3) == 0 {
                        // An MTR of 1–4 records over random PGs, the commit record in PG 0.
                        let n = 1 + next(4);
                        for k in 0..n {
                            let lsn = Lsn(next_lsn);
                            next_lsn += 1;
                            let pg = if k + 1 == n {
                                PgId(0)
                            } else {
                                PgId(next(u64::from(pgs)) as u32)
                            };
                            let prev = tails.insert(pg, lsn).unwrap_or(Lsn::ZERO);
                            records.insert(lsn, (pg, prev, k + 1 == n, vdl));
                            v.allocated(pg, lsn);
                        }
                        cpls.push(Lsn(next_lsn - 1));
                    }
                    // Deliver a few records above VDL to random segments of their PG. A segment
                    // this writer reaches learns every truncation first (its `Open`).
                    for _ in 0..next(6) {
                        if next_lsn - 1 <= vdl.0 {
                            break;
                        }
                        let lsn = Lsn(vdl.0 + 1 + next(next_lsn - 1 - vdl.0));
                        let Some(&(pg, ..)) = records.get(&lsn) else {
                            continue;
                        };
                        if cut(&truncated, lsn) {
                            continue;
                        }
                        let seg = next(SEGMENTS as u64) as usize;
                        let h = held.entry((pg, seg)).or_default();
                        if opened.insert((pg, seg)) {
                            h.retain(|&l| !cut(&truncated, l));
                        }
                        h.insert(lsn);
                    }
                    // The writer: a segment's SCL is the end of its prefix of the PG's records.
                    for p in 0..pgs {
                        let pg = PgId(p);
                        let mut scls: Vec<Lsn> = (0..SEGMENTS)
                            .map(|seg| {
                                let h = held.get(&(pg, seg));
                                records
                                    .iter()
                                    .filter(|(l, r)| r.0 == pg && !cut(&truncated, **l))
                                    .take_while(|(l, _)| h.is_some_and(|h| h.contains(l)))
                                    .last()
                                    .map_or(Lsn::ZERO, |(l, _)| *l)
                            })
                            .collect();
                        scls.sort_unstable_by(|a, b| b.cmp(a));
                        v.pg_complete(pg, scls[3]);
                    }
                    let vcl = v.vcl();
                    if let Some(&cpl) = cpls.iter().rev().find(|&&c| c <= vcl && c > vdl) {
                        vdl = cpl;
                        v.forget_through(vdl);
                    }
                    for (lsn, r) in records.range(..=vdl) {
                        if cut(&truncated, *lsn) {
                            continue;
                        }
                        let copies = (0..SEGMENTS)
                            .filter(|&seg| held.get(&(r.0, seg)).is_some_and(|h| h.contains(lsn)))
                            .count();
                        assert!(copies >= 4, "LSN {lsn} called durable on {copies} segments");
                    }
                }
                // The crash: recovery hears from three segments of every PG.
                let acked = vdl;
                let mut reports = Vec::new();
                let mut union: BTreeSet<Lsn> = BTreeSet::new();
                for p in 0..pgs {
                    let pg = PgId(p);
                    let mut quorum = BTreeSet::new();
                    while quorum.len() < 3 {
                        quorum.insert(next(SEGMENTS as u64) as usize);
                    }
                    for seg in quorum {
                        let h = held.get(&(pg, seg)).cloned().unwrap_or_default();
                        union.extend(h.iter().copied().filter(|&l| !cut(&truncated, l)));
                        let floor = h.iter().map(|l| records[l].3).max().unwrap_or(Lsn::ZERO);
                        let floor_tail = h.range(..=floor).next_back().copied();
                        reports.push(PgHeld {
                            pg,
                            complete_floor: floor,
                            cpl_floor: floor,
                            floor_tail: floor_tail.unwrap_or(Lsn::ZERO),
                            records: h
                                .range((Bound::Excluded(floor), Bound::Unbounded))
                                .map(|l| meta(l.0, records[l].1.0, records[l].2))
                                .collect(),
                        });
                    }
                }
                let r = recover_volume(&reports, &truncated);
                assert!(
                    r.vdl >= acked,
                    "acknowledged VDL {acked} lost: recovered {}",
                    r.vdl
                );
                assert!(
                    r.vdl == Lsn::ZERO || records[&r.vdl].2,
                    "VDL {} is no CPL",
                    r.vdl
                );
                if r.vdl > r.floor {
                    recovered_above_floor += 1;
                }
                for l in (1..=r.vdl.0).map(Lsn).filter(|&l| !cut(&truncated, l)) {
                    let pg = records[&l].0;
                    assert!(
                        (0..SEGMENTS)
                            .any(|seg| held.get(&(pg, seg)).is_some_and(|h| h.contains(&l))),
                        "recovered VDL {} covers LSN {l}, which nobody holds",
                        r.vdl
                    );
                }
                for p in 0..pgs {
                    let pg = PgId(p);
                    let want = records
                        .range(..=r.vdl)
                        .rev()
                        .find(|(l, x)| x.0 == pg && !cut(&truncated, **l))
                        .map_or(Lsn::ZERO, |(l, _)| *l);
                    assert_eq!(
                        r.pg_tails.get(&pg).copied().unwrap_or(Lsn::ZERO),
                        want,
                        "PG {pg}'s tail"
                    );
                }
                // The naive answers, from the same union: a min of per-PG chain ends, a max of
                // LSNs held.
                let chain_end = |pg: PgId| {
                    records
                        .iter()
                        .filter(|(l, x)| x.0 == pg && !cut(&truncated, **l))
                        .take_while(|(l, _)| union.contains(l))
                        .last()
                        .map_or(Lsn::ZERO, |(l, _)| *l)
                };
                let naive_min = (0..pgs)
                    .map(PgId)
                    .filter(|pg| records.values().any(|x| x.0 == *pg))
                    .map(chain_end)
                    .min()
                    .unwrap_or(Lsn::ZERO);
                if naive_min < acked {
                    naive_min_lost += 1;
                }
                let naive_max = union.last().copied().unwrap_or(Lsn::ZERO);
                if (1..=naive_max.0).any(|l| !union.contains(&Lsn(l)) && !cut(&truncated, Lsn(l))) {
                    naive_max_holes += 1;
                }
                // The truncation, stored on a write quorum: some segments never learn it (until
                // a later writer reaches them) and keep their stray records.
                let upto = Lsn(r.held_to.0.max(next_lsn - 1) + 1 + next(5));
                truncated.push((r.vdl, upto));
                for ((_, _), h) in held.iter_mut() {
                    if next(3) == 0 {
                        if h.iter().any(|&l| cut(&truncated, l)) {
                            stray_kept += 1;
                        }
                    } else {
                        h.retain(|&l| !cut(&truncated, l));
                    }
                }
                // Recovery waits until a write quorum of every PG holds its records up to VDL
                // (gossip moves them there) before the next writer builds on it.
                for (l, rec) in records.range(..=r.vdl) {
                    if cut(&truncated, *l) {
                        continue;
                    }
                    let mut seg = next(SEGMENTS as u64) as usize;
                    while (0..SEGMENTS)
                        .filter(|&s| held.get(&(rec.0, s)).is_some_and(|h| h.contains(l)))
                        .count()
                        < 4
                    {
                        let h = held.entry((rec.0, seg)).or_default();
                        h.retain(|&x| !cut(&truncated, x));
                        h.insert(*l);
                        seg = (seg + 1) % SEGMENTS;
                    }
                }
                vdl = r.vdl;
                next_lsn = upto.0 + 1;
                tails = r.pg_tails.clone();
            }
        }
        assert!(
            naive_min_lost > 0,
            "no round where a min of PG ends loses a commit"
        );
        assert!(naive_max_holes > 0, "no round where a max skips a hole");
        assert!(
            recovered_above_floor > 0,
            "no round where the scan went above its floor"
        );
        assert!(
            stray_kept > 0,
            "no segment kept stray records past a truncation"
        );
    }
}
