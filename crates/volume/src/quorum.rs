//! Durability bookkeeping of the writer, sans-IO: acknowledgements in, VDL out.
//!
//! Each segment acknowledges a write with its SCL (segment complete LSN): it holds every record of
//! its protection group up to that LSN. The writer derives, per §2 of the design:
//!
//! ```text
//!   SCL[6] ──4th highest──▶ PGCL ──VolumeComplete──▶ VCL ──highest CPL ≤ VCL──▶ VDL
//! ```
//!
//! VCL is not a minimum of PGCLs: [`VolumeComplete`] keeps the PG of every LSN allocated above
//! VDL, and VCL is the LSN before the first one its PG's PGCL does not cover (see
//! [`crate::vcl`]). A commit is acknowledged to its client only once VDL ≥ its commit LSN. VDL
//! never goes backwards: asserted.
//!
//! SCLs are kept per writer *slot*: each PG has `limits::SLOTS` of them (six members and one
//! joining node), PG `k`'s at indexes `k·SLOTS ..` (the writer's flat slot numbering). Each PG's
//! PGCL is computed over its membership's quorum *sets*: one set of six slots when the
//! membership is stable, two during a replacement (the old six, and the six with the joining
//! slot in place of the one being replaced). The PGCL is then the lowest of the sets' 4th-highest
//! SCLs: a record is durable only on 4/6 of ABCDEF AND 4/6 of ABCDEG (the dual quorum).

use crate::vcl::VolumeComplete;
use crate::writer::PG;
use borealis_common::{Lsn, PgId};
use std::collections::VecDeque;

use crate::limits::{SEGMENTS_PER_PG, SLOTS, WRITE_QUORUM};

/// A quorum set: six slots.
pub type QuorumSet = [usize; SEGMENTS_PER_PG];

/// The quorum set of a stable membership: slots 0..6.
pub const STABLE_SET: QuorumSet = [0, 1, 2, 3, 4, 5];

/// Tracks the SCL of every slot of every PG and the CPLs not yet durable.
#[derive(Debug)]
pub struct DurabilityTracker {
    /// By flat slot: PG `k`'s slot `i` at `k·SLOTS + i`.
    scls: Vec<Lsn>,
    /// Per PG, the quorum sets (one, or two during a replacement), of slots within the PG.
    sets: Vec<Vec<QuorumSet>>,
    /// CPLs allocated above VDL, ascending.
    pending_cpls: VecDeque<Lsn>,
    vdl: Lsn,
    /// Per PG: new quorum sets were adopted and their membership is not yet on a write quorum
    /// of each: VDL stays where it is (see [`set_sets`](Self::set_sets)).
    held: Vec<bool>,
    /// The PG of every LSN allocated above VDL: VCL from the PGCLs.
    complete: VolumeComplete,
}

impl DurabilityTracker {
    /// Starts from a recovered VDL and PG 0's slots' SCLs as recovery found them (more PGs
    /// join with [`add_pg`](Self::add_pg)).
    #[must_use]
    pub fn new(vdl: Lsn, scls: [Lsn; SLOTS], sets: Vec<QuorumSet>) -> Self {
        assert!(!sets.is_empty(), "at least one quorum set");
        DurabilityTracker {
            scls: scls.to_vec(),
            sets: vec![sets],
            pending_cpls: VecDeque::new(),
            vdl,
            held: vec![false],
            complete: VolumeComplete::new(vdl),
        }
    }

    /// The next PG joins, with its slots' SCLs and quorum sets. Returns its id.
    pub fn add_pg(&mut self, scls: [Lsn; SLOTS], sets: Vec<QuorumSet>) -> PgId {
        assert!(!sets.is_empty(), "at least one quorum set");
        let pg = PgId(u32::try_from(self.sets.len()).expect("PG id"));
        self.scls.extend_from_slice(&scls);
        self.sets.push(sets);
        self.held.push(false);
        pg
    }

    /// The number of PGs tracked.
    #[must_use]
    pub fn pgs(&self) -> usize {
        self.sets.len()
    }

    /// The last record of `pg` at or below VDL (see [`VolumeComplete::durable_tail`]).
    #[must_use]
    pub fn durable_tail(&self, pg: PgId) -> Lsn {
        self.complete.durable_tail(pg)
    }

    /// Recovery found `pg`'s last record at or below VDL at `lsn`.
    pub fn set_durable_tail(&mut self, pg: PgId, lsn: Lsn) {
        self.complete.set_durable_tail(pg, lsn);
    }

    #[must_use]
    pub fn vdl(&self) -> Lsn {
        self.vdl
    }

    /// The SCL of flat slot `segment`.
    #[must_use]
    pub fn scl(&self, segment: usize) -> Lsn {
        self.scls[segment]
    }

    /// PG 0's quorum sets.
    #[must_use]
    pub fn sets(&self) -> &[QuorumSet] {
        &self.sets[0]
    }

    /// `pg`'s quorum sets (slots within the PG).
    #[must_use]
    pub fn sets_of(&self, pg: PgId) -> &[QuorumSet] {
        &self.sets[pg.0 as usize]
    }

    /// PG 0's PGCL.
    #[must_use]
    pub fn pgcl(&self) -> Lsn {
        self.pgcl_of(PG)
    }

    /// `pg`'s PGCL: the highest LSN of the PG that a write quorum of every quorum set holds
    /// completely.
    #[must_use]
    pub fn pgcl_of(&self, pg: PgId) -> Lsn {
        let base = pg.0 as usize * SLOTS;
        self.sets[pg.0 as usize]
            .iter()
            .map(|set| {
                let mut sorted = set.map(|i| self.scls[base + i]);
                sorted.sort_unstable_by(|a, b| b.cmp(a));
                sorted[WRITE_QUORUM - 1]
            })
            .min()
            .expect("at least one quorum set")
    }

    /// The membership changed: count durability over these sets from now on. Never lowers VDL
    /// (it only moves on CPLs yet to come).
    ///
    /// VDL is then held until [`release`](Self::release): the SCLs known now were reported
    /// under the previous membership, and a record counted durable on them alone could be on a
    /// quorum only of sets that a writer recovering before the new membership reached its nodes
    /// would not use. (The simulator found a completed replacement acknowledging, on the new set
    /// alone, a commit the old set held three times, and the writer crashing before any node had
    /// adopted the new membership.)
    pub fn set_sets(&mut self, sets: Vec<QuorumSet>) {
        self.set_sets_of(PG, sets);
    }

    /// [`set_sets`](Self::set_sets) for `pg`: VDL is held until `pg`'s new membership is
    /// released.
    pub fn set_sets_of(&mut self, pg: PgId, sets: Vec<QuorumSet>) {
        assert!(!sets.is_empty(), "at least one quorum set");
        self.sets[pg.0 as usize] = sets;
        self.held[pg.0 as usize] = true;
    }

    /// Whether VDL is held after a change of PG 0's quorum sets.
    #[must_use]
    pub fn held(&self) -> bool {
        self.held[0]
    }

    /// Whether VDL is held after a change of `pg`'s quorum sets.
    #[must_use]
    pub fn held_of(&self, pg: PgId) -> bool {
        self.held[pg.0 as usize]
    }

    /// The membership of PG 0's current sets is on a write quorum of each: VDL may move again.
    /// Returns the new VDL if it advanced.
    pub fn release(&mut self) -> Option<Lsn> {
        self.release_of(PG)
    }

    /// [`release`](Self::release) for `pg`.
    pub fn release_of(&mut self, pg: PgId) -> Option<Lsn> {
        self.held[pg.0 as usize] = false;
        self.advance()
    }

    /// The node of flat slot `from` now occupies flat slot `to` (a completed replacement): its
    /// SCL moves with it and `from` is empty.
    pub fn move_slot(&mut self, from: usize, to: usize) {
        self.scls[to] = self.scls[from];
        self.scls[from] = Lsn::ZERO;
    }

    /// LSN `lsn` was allocated to a record of `pg`, in increasing order.
    pub fn add_record(&mut self, pg: PgId, lsn: Lsn) {
        assert!(
            lsn > self.vdl,
            "a new record {lsn} must lie above VDL {}",
            self.vdl
        );
        self.complete.allocated(pg, lsn);
    }

    /// The VCL: every LSN at or below it is on a write quorum of its PG (counted over the
    /// current quorum sets, whether or not VDL is held).
    #[must_use]
    pub fn vcl(&mut self) -> Lsn {
        for k in 0..self.sets.len() {
            let pg = PgId(u32::try_from(k).expect("PG id"));
            let pgcl = self.pgcl_of(pg);
            self.complete.pg_complete(pg, pgcl);
        }
        self.complete.vcl()
    }

    /// A new MTR ended at `cpl` (its records registered by [`add_record`](Self::add_record)).
    /// CPLs arrive in increasing order.
    pub fn add_cpl(&mut self, cpl: Lsn) {
        assert!(
            cpl > self.vdl,
            "a new CPL {cpl} must lie above VDL {}",
            self.vdl
        );
        if let Some(last) = self.pending_cpls.back() {
            assert!(cpl > *last, "CPLs must be allocated in increasing order");
        }
        self.pending_cpls.push_back(cpl);
    }

    /// Records a segment's acknowledgement. Returns the new VDL if it advanced.
    ///
    /// Within one connection a segment's SCL only rises (it falls only through a truncation, and
    /// truncations are made by recovery before tracking starts), so a late, lower answer changes
    /// nothing.
    pub fn ack(&mut self, segment: usize, scl: Lsn) -> Option<Lsn> {
        if scl > self.scls[segment] {
            self.scls[segment] = scl;
        }
        self.advance()
    }

    /// A segment (re)connected and reported this SCL in answer to our `Open`. Unlike
    /// [`ack`](Self::ack) this may lower what we believed: the node may have lost its disk while
    /// we were apart and restarted empty, and the records it held then must no longer count
    /// towards the quorum. Returns the new VDL if it advanced.
    pub fn reconnected(&mut self, segment: usize, scl: Lsn) -> Option<Lsn> {
        self.scls[segment] = scl;
        self.advance()
    }

    /// Moves VDL to the highest pending CPL at or below the VCL.
    fn advance(&mut self) -> Option<Lsn> {
        if self.held.iter().any(|&h| h) {
            return None;
        }
        let vcl = self.vcl();
        let mut advanced = None;
        while let Some(&cpl) = self.pending_cpls.front() {
            if cpl > vcl {
                break;
            }
            self.pending_cpls.pop_front();
            assert!(cpl > self.vdl, "VDL must never go backwards");
            self.vdl = cpl;
            advanced = Some(cpl);
        }
        if advanced.is_some() {
            self.complete.forget_through(self.vdl);
        }
        advanced
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An MTR of PG 0 records `first..=cpl`.
    fn mtr(t: &mut DurabilityTracker, first: u64, cpl: u64) {
        for l in first..=cpl {
            t.add_record(PG, Lsn(l));
        }
        t.add_cpl(Lsn(cpl));
    }

    #[test]
    fn a_record_of_another_pg_holds_vdl_until_its_pg_holds_it() {
        // LSN 2 went to PG 1, which this tracker's quorum does not count: VCL stops below it,
        // although PG 0's segments all report SCL 3.
        let mut t = DurabilityTracker::new(Lsn(0), [Lsn(0); SLOTS], vec![STABLE_SET]);
        t.add_record(PG, Lsn(1));
        t.add_cpl(Lsn(1));
        t.add_record(PgId(1), Lsn(2));
        t.add_record(PG, Lsn(3));
        t.add_cpl(Lsn(3));
        for seg in 0..6 {
            t.ack(seg, Lsn(3));
        }
        assert_eq!(t.vcl(), Lsn(1));
        assert_eq!(t.vdl(), Lsn(1), "a max of PGCLs would have made 3 durable");
    }

    #[test]
    fn vdl_needs_four_segments_and_stops_at_a_cpl() {
        let mut t = DurabilityTracker::new(Lsn(0), [Lsn(0); SLOTS], vec![STABLE_SET]);
        mtr(&mut t, 1, 3);
        mtr(&mut t, 4, 5);
        for seg in 0..3 {
            assert_eq!(t.ack(seg, Lsn(5)), None, "three copies are not durable");
        }
        // The fourth segment holds only up to 4: LSN 3 is on four, 5 is not.
        assert_eq!(t.ack(3, Lsn(4)), Some(Lsn(3)));
        assert_eq!(t.vdl(), Lsn(3));
        assert_eq!(t.ack(4, Lsn(5)), Some(Lsn(5)));
        // A stale, lower acknowledgement changes nothing.
        assert_eq!(t.ack(4, Lsn(1)), None);
        assert_eq!(t.vdl(), Lsn(5));
    }

    #[test]
    fn a_segment_that_returns_empty_no_longer_counts() {
        let mut t = DurabilityTracker::new(Lsn(0), [Lsn(0); SLOTS], vec![STABLE_SET]);
        mtr(&mut t, 1, 5);
        mtr(&mut t, 6, 8);
        for seg in 0..3 {
            t.ack(seg, Lsn(8));
        }
        t.ack(3, Lsn(5));
        assert_eq!(t.vdl(), Lsn(5));
        // Segment 0 lost its disk and reconnects empty: 8 is on segments 1 and 2 only, and one
        // more copy must not make it durable.
        assert_eq!(t.reconnected(0, Lsn(0)), None);
        assert_eq!(t.scl(0), Lsn(0));
        assert_eq!(t.ack(4, Lsn(8)), None, "three real copies of 8");
        assert_eq!(t.ack(5, Lsn(8)), Some(Lsn(8)));
        // VDL never goes back, whatever is reported.
        assert_eq!(t.reconnected(1, Lsn(0)), None);
        assert_eq!(t.vdl(), Lsn(8));
    }

    #[test]
    fn the_dual_quorum_needs_four_of_each_set() {
        // Replacing slot 5 (F) by the joining slot 6 (G).
        let mut t = DurabilityTracker::new(
            Lsn(0),
            [Lsn(0); SLOTS],
            vec![STABLE_SET, [0, 1, 2, 3, 4, 6]],
        );
        mtr(&mut t, 1, 5);
        // A, B, C and F: four of ABCDEF, three of ABCDEG.
        for seg in [0, 1, 2, 5] {
            assert_eq!(t.ack(seg, Lsn(5)), None);
        }
        // G too: four of ABCDEG as well.
        assert_eq!(t.ack(6, Lsn(5)), Some(Lsn(5)));
        // Completed: G takes slot 5, one set again.
        t.move_slot(6, 5);
        t.set_sets(vec![STABLE_SET]);
        assert_eq!((t.scl(5), t.scl(6)), (Lsn(5), Lsn(0)));
        assert_eq!(t.pgcl(), Lsn(5));
    }

    #[test]
    fn a_new_membership_holds_vdl_until_released() {
        // G (slot 6) joins for F (slot 5); a record reaches A, B, C and G only: three of ABCDEF.
        let mut t = DurabilityTracker::new(
            Lsn(0),
            [Lsn(0); SLOTS],
            vec![STABLE_SET, [0, 1, 2, 3, 4, 6]],
        );
        mtr(&mut t, 1, 7);
        for seg in [0, 1, 2, 6] {
            assert_eq!(t.ack(seg, Lsn(7)), None);
        }
        // Completing the replacement counts over ABCDEG alone, where the record is on four, but
        // no node has adopted that membership yet: nothing becomes durable.
        t.move_slot(6, 5);
        t.set_sets(vec![STABLE_SET]);
        assert!(t.held());
        assert_eq!(t.ack(3, Lsn(7)), None, "held");
        assert_eq!(t.vdl(), Lsn(0));
        // The new membership reached a write quorum: VDL moves.
        assert_eq!(t.release(), Some(Lsn(7)));
    }

    #[test]
    fn vcl_between_cpls_does_not_expose_half_an_mtr() {
        let mut t = DurabilityTracker::new(Lsn(0), [Lsn(0); SLOTS], vec![STABLE_SET]);
        mtr(&mut t, 1, 10);
        for seg in 0..6 {
            assert_eq!(t.ack(seg, Lsn(9)), None);
        }
        assert_eq!(t.vdl(), Lsn(0));
    }
}
