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
//! Records between the highest acknowledged commit and VDL may have been complete in the read
//! quorum without being acknowledged to a client; they survive (as in any database, a commit whose
//! acknowledgement was lost may or may not have happened) and are made durable before the writer
//! opens (the caller waits until a write quorum holds VDL).

use borealis_common::Lsn;
use borealis_common::proto::PgState;
use std::collections::HashMap;

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
    use borealis_common::PgId;
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
}
