//! Crash recovery of a volume, sans-IO: segment states in, VDL and truncation out.
//!
//! A new writer (after a crash, or fencing an old one) has raised the epoch on a write quorum and
//! holds the states of at least a read quorum (3/6) of every protection group. Every record that
//! was durable (on 4/6) is on at least one segment of any 3/6, so the union of what the answering
//! segments hold contains every durable record. Following PG backlinks from the highest SCL
//! through the records held above it yields the complete chain; its end is the PG's complete LSN,
//! and the highest CPL on it is the VDL. Everything above VDL is discarded by a durable,
//! epoch-tagged truncation `(VDL, VDL + LAL]`, and LSN allocation resumes above it: the writer
//! never allocated beyond VDL + LAL, so no record of the old epoch can survive above VDL.
//! There is no redo replay: storage materialises pages on demand.
//!
//! # Which membership (Aurora SIGMOD 2018 §3)
//!
//! Recovery asks every node it knows of (the configured members and the spares) for its state and
//! takes the highest membership epoch any of them reports, [`choose_membership`]; it then needs a
//! write quorum (for the term) and a read quorum (for the chain) of *each* quorum set of that
//! membership. This is safe:
//!
//! - Every membership a writer ever opened anywhere is one under which every acknowledged record
//!   is on a read-quorum-intersecting set: during `m+1` (dual) records become durable only on 4/6
//!   of both ABCDEF and ABCDEG; `m+2` is proposed only once the joining node holds everything up
//!   to VDL, so under `m+2` every acknowledged record is on 4/6 of ABCDEG. A membership seen on a
//!   single node (its writer died mid-change) is therefore still a safe one to recover with: the
//!   dual state needs 3/6 of ABCDEF *and* 3/6 of ABCDEG, which intersects every write quorum that
//!   ever acknowledged anything.
//! - Picking an *older* membership than one already acted upon is what would be unsafe (recovering
//!   `m` = ABCDEF after records were acknowledged on ABCDEG only). It cannot happen: `m+2` is
//!   proposed only after `m+1` is on a write quorum of ABCDEF, so any read quorum of ABCDEF holds
//!   `m+1` or later, and the highest epoch seen is never below `m+1`; and `m+1` reads ABCDEG too.
//! - A membership never discards anything: a dropped member keeps its records; it is only no
//!   longer counted, and refuses writes (it is not a member). Its state is left out of recovery
//!   (it may hold records an old writer wrote above a truncation it never learned).
//!
//! Records between the highest acknowledged commit and VDL may have been complete in the read
//! quorum without being acknowledged to a client; they survive (as in any database, a commit whose
//! acknowledgement was lost may or may not have happened) and are made durable before the writer
//! opens (the caller waits until a write quorum holds VDL).

use crate::limits::{LAL_RECORDS, SLOTS, WRITE_QUORUM};
use crate::quorum::DurabilityTracker;
use crate::vcl::{PgHeld, VolumeRecovery, recover_volume};
use crate::writer::{PG, quorum_sets, slot_addrs};
use borealis_common::proto::{Membership, PgState, SegmentState, StoredMap, Term, Truncation};
use borealis_common::{Epoch, Lsn, PgId, WriterId};
use std::collections::HashMap;

/// Step 1: the term a new writer takes, from the states a write quorum reported: one epoch above
/// the highest any of them adopted, with this writer's id (which breaks ties with a writer that
/// starts at the same moment and picks the same epoch).
#[must_use]
pub fn choose_term(states: &[SegmentState], writer: WriterId) -> Term {
    assert!(writer != WriterId::NONE, "a writer needs an identity");
    let highest = states.iter().map(|s| s.epoch.0).max().unwrap_or(0);
    Term {
        epoch: Epoch(highest + 1),
        writer,
    }
}

/// The membership to recover with: the highest epoch any node reported, or — on a volume whose
/// nodes never adopted one — the configured six, epoch 1. See the module documentation for why
/// the highest is safe.
#[must_use]
pub fn choose_membership(states: &[SegmentState], configured: &[String]) -> Membership {
    states
        .iter()
        .map(|s| &s.membership)
        .filter(|m| m.epoch.0 > 0)
        .max_by_key(|m| m.epoch)
        .cloned()
        .unwrap_or_else(|| Membership::initial(configured.to_vec()))
}

/// Whether the nodes in `answered` hold `q` of every quorum set of `m`.
#[must_use]
pub fn quorum_of(m: &Membership, answered: &[String], q: usize) -> bool {
    m.sets()
        .iter()
        .all(|set| set.iter().filter(|a| answered.contains(a)).count() >= q)
}

/// The slot of `addr` in `m`, if it names it.
#[must_use]
pub fn slot_of(m: &Membership, addr: &str) -> Option<usize> {
    slot_addrs(m)
        .iter()
        .position(|a| a.as_deref() == Some(addr))
}

/// Every truncation any of `states` knows, each once.
#[must_use]
pub fn known_truncations(states: &[SegmentState]) -> Vec<Truncation> {
    let mut all: Vec<Truncation> = Vec::new();
    for s in states {
        for t in &s.truncations {
            if !all.contains(t) {
                all.push(*t);
            }
        }
    }
    all
}

/// The SCL of PG 0 in a state.
#[must_use]
pub fn pg_scl(state: &SegmentState) -> Lsn {
    scl_of(state, PG)
}

/// The SCL of `pg` in a state (0 if it reports none).
#[must_use]
pub fn scl_of(state: &SegmentState, pg: PgId) -> Lsn {
    state
        .pgs
        .iter()
        .find(|p| p.pg == pg)
        .map_or(Lsn::ZERO, |p| p.scl)
}

/// The volume map to recover with: the one listing the most PGs that any of PG 0's segments
/// reports. The writer stored it on a write quorum of PG 0 before it sent any record of a new
/// PG, so a read quorum of PG 0 shows every PG that may hold a durable record. `None`: a volume
/// that never grew past PG 0 (or predates the map).
#[must_use]
pub fn choose_map(states: &[SegmentState]) -> Option<StoredMap> {
    states
        .iter()
        .filter_map(|s| s.map.as_ref())
        .max_by_key(|m| m.version())
        .cloned()
}

/// The plan of a volume of several PGs (see [`plan`] for one): VDL from the volume scan over a
/// read quorum of every PG ([`scan_volume`]), and the same truncation `(VDL, upto]` for every
/// PG. `fenced` are the states of every PG's segments that adopted our term; `pgs` the number of
/// PGs.
#[must_use]
pub fn plan_volume(
    term: Term,
    known: &[Truncation],
    fenced: &[SegmentState],
    pgs: usize,
) -> VolumePlan {
    let mut all = known.to_vec();
    for t in known_truncations(fenced) {
        if !all.contains(&t) {
            all.push(t);
        }
    }
    let scan = scan_volume(fenced, &all);
    let highest_truncated = all.iter().map(|t| t.upto).max().unwrap_or(Lsn::ZERO);
    let upto = Lsn(scan.vdl.0.max(highest_truncated.0).max(scan.held_to.0) + LAL_RECORDS);
    let mut tails = Vec::with_capacity(pgs);
    for k in 0..pgs {
        let pg = PgId(u32::try_from(k).expect("PG id"));
        let t = Truncation {
            epoch: term.epoch,
            pg,
            above: scan.vdl,
            upto,
        };
        all.push(t);
        tails.push(scan.pg_tails.get(&pg).copied().unwrap_or(Lsn::ZERO));
    }
    VolumePlan {
        vdl: scan.vdl,
        upto,
        tails,
        truncations: all,
    }
}

/// What recovery decided for a volume of several PGs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumePlan {
    pub vdl: Lsn,
    /// This writer's truncation is `(vdl, upto]` in every PG.
    pub upto: Lsn,
    /// Per PG, its last record at or below VDL.
    pub tails: Vec<Lsn>,
    /// Every truncation known, this writer's last.
    pub truncations: Vec<Truncation>,
}

/// Whether a segment's state shows a term above ours: another writer took over while we were
/// recovering, and we are fenced.
#[must_use]
pub fn overtaken(ours: Term, state: &SegmentState) -> bool {
    Term {
        epoch: state.epoch,
        writer: state.writer,
    } > ours
}

/// What recovery decided, once the term is adopted by a write quorum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub recovery: PgRecovery,
    /// This writer's truncation `(VDL, upto]`: every record an older writer may have allocated
    /// above VDL lies in it.
    pub truncation: Truncation,
    /// Every truncation known — those of step 1, those the adopting segments reported, and
    /// `truncation` last: what the writer's `Open`s carry from now on.
    pub truncations: Vec<Truncation>,
}

/// Steps 2–3: from the states the segments returned after adopting `term` (at least a read
/// quorum), the VDL and the truncation above it. `known` are the truncations learned in step 1.
///
/// `upto` lies above everything any older writer can have allocated: an older writer never
/// allocated beyond max(its VDL, the end of its own truncation) + LAL, its VDL is at most ours,
/// and its truncation was stored on a write quorum before it allocated anything, so it is in the
/// states of our write quorum. It must be taken from *these* states, not only from step 1: a
/// writer that started at the same moment may have finished its own recovery between our step 1
/// and our step 2 (the deterministic simulator found exactly that: both writers then allocated
/// the same LSNs).
#[must_use]
pub fn plan(term: Term, known: &[Truncation], fenced: &[SegmentState]) -> Plan {
    let mut all = known.to_vec();
    for t in known_truncations(fenced) {
        if !all.contains(&t) {
            all.push(t);
        }
    }
    let known = all.as_slice();
    assert!(
        fenced.len() >= crate::limits::READ_QUORUM,
        "recovery needs a read quorum"
    );
    // What a truncation known anywhere covers is discarded everywhere, even on a segment that
    // has not learned it yet: such a segment's records in the range must not extend the chain
    // (the simulator found a chain through them, past a truncation another segment held, whose
    // VDL pointed at records about to be discarded).
    let pg_states: Vec<PgState> = fenced
        .iter()
        .filter_map(|s| s.pgs.iter().find(|p| p.pg == PG))
        .map(|p| without_truncated(p, known))
        .collect();
    let pg_states: Vec<&PgState> = pg_states.iter().collect();
    let recovery = if pg_states.is_empty() {
        PgRecovery {
            complete_lsn: Lsn::ZERO,
            vdl: Lsn::ZERO,
        }
    } else {
        recover_pg(&pg_states)
    };
    let highest_truncated = known.iter().map(|t| t.upto).max().unwrap_or(Lsn::ZERO);
    let upto = Lsn(recovery
        .vdl
        .0
        .max(highest_truncated.0)
        .max(recovery.complete_lsn.0)
        + LAL_RECORDS);
    let truncation = Truncation {
        epoch: term.epoch,
        pg: PG,
        above: recovery.vdl,
        upto,
    };
    all.push(truncation);
    Plan {
        recovery,
        truncation,
        truncations: all,
    }
}

/// A segment's state of one PG as it will be once it learns `truncations`: the records held
/// above its SCL that a truncation covers are gone, and an SCL inside a truncated range stands
/// at the range's start, a recovered VDL and so a CPL, which becomes its CPL too.
#[must_use]
pub fn without_truncated(p: &PgState, truncations: &[Truncation]) -> PgState {
    let covering = |l: Lsn| {
        truncations
            .iter()
            .find(|t| t.pg == p.pg && t.above < l && l <= t.upto)
    };
    let mut out = p.clone();
    out.above.retain(|m| covering(m.lsn).is_none());
    if let Some(t) = covering(out.scl) {
        // The segment holds every record up to its SCL, so up to the range's start, which is a
        // recovered VDL: a CPL.
        out.scl = t.above;
        out.scl_cpl = t.above;
    }
    out
}

/// Step 4: whether the recovered VDL is on a write quorum of every quorum set of `m` yet (gossip
/// moves the records there); nothing may be built on it before. `scls` are per slot of `m`.
/// For a PG of a volume of several, `vdl` is the PG's tail at VDL (its SCL stands at its own
/// last record).
#[must_use]
pub fn vdl_on_write_quorum(m: &Membership, scls: [Lsn; SLOTS], vdl: Lsn) -> bool {
    const _: () = assert!(WRITE_QUORUM <= SLOTS);
    DurabilityTracker::new(Lsn::ZERO, scls, quorum_sets(m)).pgcl() >= vdl
}

/// Recovery's scan over the whole volume (see [`crate::vcl`]) from the states of the segments
/// that adopted our term, every PG they report, and every truncation known. With one PG its VDL
/// equals [`recover_pg`]'s; the simulator checks that on every recovery, which is how the scan
/// that several PGs will need is exercised before they exist.
#[must_use]
pub fn scan_volume(fenced: &[SegmentState], truncations: &[Truncation]) -> VolumeRecovery {
    let held: Vec<PgHeld> = fenced
        .iter()
        .flat_map(|s| s.pgs.iter())
        .map(|p| PgHeld {
            pg: p.pg,
            complete_floor: p.complete_floor,
            cpl_floor: p.cpl_floor,
            floor_tail: p.floor_tail,
            records: p.held.clone(),
        })
        .collect();
    let truncated: Vec<(Lsn, Lsn)> = truncations.iter().map(|t| (t.above, t.upto)).collect();
    recover_volume(&held, &truncated)
}

/// What recovery decided for one protection group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PgRecovery {
    /// End of the complete chain found in the read quorum.
    pub complete_lsn: Lsn,
    /// Highest CPL at or below `complete_lsn`.
    pub vdl: Lsn,
}

/// Computes the complete chain and VDL of one PG from the states of the segments that answered.
///
/// # Panics
/// If `states` is empty: recovery must not run without a read quorum.
#[must_use]
pub fn recover_pg(states: &[&PgState]) -> PgRecovery {
    assert!(
        !states.is_empty(),
        "recovery needs the states of a read quorum"
    );
    let best = states.iter().max_by_key(|s| s.scl).expect("non-empty");
    let mut next_of: HashMap<Lsn, (Lsn, bool)> = HashMap::new();
    for s in states {
        for m in &s.above {
            next_of.insert(m.prev_pg_lsn, (m.lsn, m.cpl));
        }
    }
    let mut complete = best.scl;
    let mut vdl = best.scl_cpl;
    while let Some(&(lsn, cpl)) = next_of.get(&complete) {
        assert!(lsn > complete, "backlinks must point backwards");
        complete = lsn;
        if cpl {
            vdl = lsn;
        }
    }
    assert!(vdl <= complete, "VDL above the complete chain");
    PgRecovery {
        complete_lsn: complete,
        vdl,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use borealis_common::proto::RecordMeta;

    fn st(scl: u64, scl_cpl: u64, above: &[(u64, u64, bool)]) -> PgState {
        PgState {
            pg: PgId(0),
            scl: Lsn(scl),
            scl_cpl: Lsn(scl_cpl),
            above: above
                .iter()
                .map(|&(l, p, c)| RecordMeta {
                    lsn: Lsn(l),
                    prev_pg_lsn: Lsn(p),
                    cpl: c,
                })
                .collect(),
            ..PgState::default()
        }
    }

    #[test]
    fn chain_continues_through_records_held_above_scl_elsewhere() {
        // Segment a is complete to 5; b holds 6 and 8 (gap at 7); c holds 7 (cpl) and 9.
        let a = st(5, 4, &[]);
        let b = st(3, 3, &[(6, 5, false), (8, 7, true)]);
        let c = st(2, 2, &[(7, 6, true), (9, 8, false)]);
        let r = recover_pg(&[&a, &b, &c]);
        assert_eq!(r.complete_lsn, Lsn(9));
        assert_eq!(r.vdl, Lsn(8));
    }

    #[test]
    fn a_gap_nobody_fills_stops_the_chain() {
        let a = st(5, 5, &[(7, 6, true)]);
        let b = st(4, 4, &[]);
        let c = st(5, 5, &[]);
        let r = recover_pg(&[&a, &b, &c]);
        assert_eq!(
            r,
            PgRecovery {
                complete_lsn: Lsn(5),
                vdl: Lsn(5)
            }
        );
    }

    #[test]
    fn empty_volume() {
        let a = st(0, 0, &[]);
        assert_eq!(
            recover_pg(&[&a]),
            PgRecovery {
                complete_lsn: Lsn(0),
                vdl: Lsn(0)
            }
        );
    }

    #[test]
    fn records_inside_a_known_truncation_do_not_extend_the_chain() {
        // Segment a never learned the truncation (5, 100] that b holds; a's records 6 and 7
        // (waiting above its SCL) lie inside it and must not carry the chain past 5.
        let t = Truncation {
            epoch: Epoch(3),
            pg: PgId(0),
            above: Lsn(5),
            upto: Lsn(100),
        };
        let a = st(5, 5, &[(6, 5, false), (7, 6, true)]);
        let b = st(5, 5, &[]);
        assert_eq!(
            recover_pg(&[&a, &b]).vdl,
            Lsn(7),
            "the chain alone goes through them"
        );
        let a2 = without_truncated(&a, &[t]);
        assert_eq!(recover_pg(&[&a2, &b]).vdl, Lsn(5));
        // An SCL inside the range falls back to its start, which is a CPL (a recovered VDL),
        // even where the segment's own CPL was below it.
        let c = without_truncated(&st(7, 7, &[]), &[t]);
        assert_eq!((c.scl, c.scl_cpl), (Lsn(5), Lsn(5)));
        let d = without_truncated(&st(7, 3, &[]), &[t]);
        assert_eq!((d.scl, d.scl_cpl), (Lsn(5), Lsn(5)));
        // A truncation of another PG changes nothing.
        let other = Truncation { pg: PgId(1), ..t };
        assert_eq!(without_truncated(&a, &[other]), a);
    }
}
