//! The volume map: which protection group holds a page, and which six storage nodes hold each
//! protection group's segments. Sans-IO and pure; the writer's growth step and recovery use it.
//!
//! A volume is a chain of protection groups (DESIGN.md §2), each a range of `pages_per_pg`
//! consecutive pages: page `p` belongs to PG `p / pages_per_pg` (records that change no page —
//! commit records — belong to PG 0, see [`PageId::pg`]). PG ids are dense from 0: the map is a
//! vector indexed by PG id, each entry the PG's [`Membership`] (six members by slot, AZ `k`
//! holding slots `2k` and `2k + 1`, and the member joining during a replacement).
//!
//! ```text
//!  pages:  0 ........ n−1 | n ....... 2n−1 | 2n ...... 3n−1 | 3n ...   (n = pages_per_pg)
//!  PGs:    PG 0           | PG 1           | PG 2           | beyond the end: a write here
//!                                                             grows the volume (PG 3, …)
//!  PG k:   slots 0 1 | 2 3 | 4 5           six segments, two per AZ a | b | c
//! ```
//!
//! # Placement (auto-growth)
//!
//! [`VolumeMap::grow_to`] adds the PGs needed to hold a page beyond the current end, every PG
//! between the old end and that page included (PG ids stay dense). Each new PG takes two nodes of
//! each AZ, chosen by [`place`]: within an AZ the two usable nodes holding the fewest segments of
//! the volume's PGs, ties broken by the order in which the nodes are listed. With exactly two
//! nodes per AZ every PG lands on the same six nodes; with more, consecutive PGs take the least
//! loaded ones, so segments (and the repair work after a lost node) spread over all of them:
//!
//! ```text
//!   AZ a: n1 n2 n3       PG 0: n1 n2 | n4 n5 | n7 n8
//!   AZ b: n4 n5 n6       PG 1: n3 n1 | n6 n4 | n7 n8
//!   AZ c: n7 n8          PG 2: n2 n3 | n5 n6 | n7 n8
//! ```
//!
//! Only the placement of a *new* PG uses [`place`]; once a PG exists its membership is the truth,
//! changed only by replacements (Aurora SIGMOD 2018 §3), which keep a member in its AZ.
//!
//! Invariants (asserted): every PG has six distinct members, two per AZ; PG ids are dense; the
//! map only grows.

use crate::limits::SEGMENTS_PER_PG;
use borealis_common::proto::Membership;
use borealis_common::{PageId, PgId};
use std::collections::HashMap;

/// Availability zones a protection group spans: two segments in each.
pub const AZS_PER_PG: usize = 3;

const _: () = assert!(AZS_PER_PG * 2 == SEGMENTS_PER_PG);

/// A storage node the volume may place segments on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageNode {
    pub addr: String,
    /// Its availability zone, `0..AZS_PER_PG`.
    pub az: usize,
}

/// Why a protection group could not be placed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    #[error("AZ {az} has {usable} usable storage node(s); a protection group needs two in each AZ")]
    TooFewNodes { az: usize, usable: usize },
    #[error("storage node {addr} is in AZ {az}; there are only {AZS_PER_PG} AZs")]
    UnknownAz { addr: String, az: usize },
    #[error("page {page} lies in PG {pg}, above the largest protection group id")]
    PgIdExhausted { page: PageId, pg: u64 },
}

/// The six members of a new protection group, by slot (AZ `k` holds slots `2k` and `2k + 1`):
/// in each AZ the two usable nodes holding the fewest segments (`load`, by address; absent means
/// none), ties broken by their order in `nodes`. `usable` excludes nodes that must not be chosen
/// (known to be down, or dropped from a PG).
///
/// # Errors
/// [`PlacementError::TooFewNodes`] if an AZ has fewer than two usable nodes;
/// [`PlacementError::UnknownAz`] if a node names an AZ outside `0..AZS_PER_PG`.
pub fn place(
    nodes: &[StorageNode],
    load: &HashMap<String, usize>,
    usable: &dyn Fn(&StorageNode) -> bool,
) -> Result<Vec<String>, PlacementError> {
    if let Some(n) = nodes.iter().find(|n| n.az >= AZS_PER_PG) {
        return Err(PlacementError::UnknownAz {
            addr: n.addr.clone(),
            az: n.az,
        });
    }
    let mut members = Vec::with_capacity(SEGMENTS_PER_PG);
    for az in 0..AZS_PER_PG {
        let mut candidates: Vec<(usize, usize, &StorageNode)> = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.az == az && usable(n))
            .map(|(i, n)| (load.get(&n.addr).copied().unwrap_or(0), i, n))
            .collect();
        // The same address listed twice is one node.
        candidates.sort_by(|a, b| a.2.addr.cmp(&b.2.addr).then(a.1.cmp(&b.1)));
        candidates.dedup_by(|a, b| a.2.addr == b.2.addr);
        if candidates.len() < 2 {
            return Err(PlacementError::TooFewNodes {
                az,
                usable: candidates.len(),
            });
        }
        candidates.sort_by_key(|&(load, order, _)| (load, order));
        members.extend(candidates.iter().take(2).map(|c| c.2.addr.clone()));
    }
    assert_placed(&members, nodes);
    Ok(members)
}

/// Six distinct members, two per AZ in slot order.
fn assert_placed(members: &[String], nodes: &[StorageNode]) {
    assert_eq!(members.len(), SEGMENTS_PER_PG, "a PG has six segments");
    for (slot, m) in members.iter().enumerate() {
        assert!(
            members.iter().filter(|o| *o == m).count() == 1,
            "{m} holds two segments of one PG"
        );
        let az = nodes.iter().find(|n| &n.addr == m).map(|n| n.az);
        assert_eq!(az, Some(slot / 2), "slot {slot} must be in AZ {}", slot / 2);
    }
}

/// Which protection groups a volume has and where their segments live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeMap {
    pages_per_pg: u64,
    /// Indexed by PG id.
    pgs: Vec<Membership>,
}

impl VolumeMap {
    /// A volume of one protection group (PG 0) on `members`.
    #[must_use]
    pub fn new(pages_per_pg: u64, members: Vec<String>) -> VolumeMap {
        assert!(
            pages_per_pg > 0,
            "a protection group holds at least one page"
        );
        assert_eq!(members.len(), SEGMENTS_PER_PG, "a PG has six segments");
        VolumeMap {
            pages_per_pg,
            pgs: vec![Membership::initial(members)],
        }
    }

    /// A volume of these PGs, by PG id (from a stored map, or a running writer's memberships).
    #[must_use]
    pub fn from_parts(pages_per_pg: u64, pgs: Vec<Membership>) -> VolumeMap {
        assert!(
            pages_per_pg > 0,
            "a protection group holds at least one page"
        );
        assert!(!pgs.is_empty(), "a volume has PG 0");
        VolumeMap { pages_per_pg, pgs }
    }

    #[must_use]
    pub fn pages_per_pg(&self) -> u64 {
        self.pages_per_pg
    }

    /// The number of protection groups.
    #[must_use]
    pub fn len(&self) -> usize {
        self.pgs.len()
    }

    /// Never true: a volume has PG 0 from its creation.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pgs.is_empty()
    }

    /// The first page beyond the current end.
    #[must_use]
    pub fn end_page(&self) -> PageId {
        PageId(self.pgs.len() as u64 * self.pages_per_pg)
    }

    /// The protection group holding `page`, or `None` if the page lies beyond the current end
    /// (writing it grows the volume first). Commit records (`PageId::NONE`) belong to PG 0.
    #[must_use]
    pub fn pg_of(&self, page: PageId) -> Option<PgId> {
        let pg = page.pg(self.pages_per_pg);
        (usize::try_from(pg.0).is_ok_and(|i| i < self.pgs.len())).then_some(pg)
    }

    /// The membership of `pg`.
    #[must_use]
    pub fn membership(&self, pg: PgId) -> Option<&Membership> {
        self.pgs.get(pg.0 as usize)
    }

    /// Every PG's membership, by PG id.
    #[must_use]
    pub fn pgs(&self) -> &[Membership] {
        &self.pgs
    }

    /// Replaces the membership of an existing PG (a replacement began or completed). Its epoch
    /// must move on.
    pub fn set_membership(&mut self, pg: PgId, m: Membership) {
        let old = &mut self.pgs[pg.0 as usize];
        assert!(m.epoch > old.epoch, "a PG's membership epoch only moves on");
        *old = m;
    }

    /// Segments of the volume's PGs per node (members and joining nodes alike).
    #[must_use]
    pub fn load(&self) -> HashMap<String, usize> {
        let mut load = HashMap::new();
        for m in &self.pgs {
            for a in m.members.iter().chain(m.joining.iter().map(|(_, j)| j)) {
                *load.entry(a.clone()).or_insert(0) += 1;
            }
        }
        load
    }

    /// Grows the volume so that it holds `page`: every PG from the current end up to the page's
    /// is placed over `nodes` (see [`place`]), each seeing the load of those placed before it.
    /// Returns the PGs added, in order (none if the page is already inside the volume). On an
    /// error nothing is added.
    ///
    /// # Errors
    /// As [`place`]; [`PlacementError::PgIdExhausted`] for a page above the last PG id.
    pub fn grow_to(
        &mut self,
        page: PageId,
        nodes: &[StorageNode],
        usable: &dyn Fn(&StorageNode) -> bool,
    ) -> Result<Vec<PgId>, PlacementError> {
        assert!(page != PageId::NONE, "commit records belong to PG 0");
        let want = page.0 / self.pages_per_pg;
        let last =
            u32::try_from(want).map_err(|_| PlacementError::PgIdExhausted { page, pg: want })?;
        let mut grown = self.clone();
        let mut added = Vec::new();
        let mut load = grown.load();
        while (grown.pgs.len() as u64) <= u64::from(last) {
            let members = place(nodes, &load, usable)?;
            for a in &members {
                *load.entry(a.clone()).or_insert(0) += 1;
            }
            added.push(PgId(u32::try_from(grown.pgs.len()).expect("checked above")));
            grown.pgs.push(Membership::initial(members));
        }
        *self = grown;
        Ok(added)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `per_az[k]` nodes in AZ k, named `a1 a2 … b1 …`, listed AZ by AZ.
    fn nodes(per_az: [usize; 3]) -> Vec<StorageNode> {
        let mut out = Vec::new();
        for (az, &n) in per_az.iter().enumerate() {
            for i in 1..=n {
                out.push(StorageNode {
                    addr: format!("{}{i}", ["a", "b", "c"][az]),
                    az,
                });
            }
        }
        out
    }

    fn six() -> Vec<String> {
        ["a1", "a2", "b1", "b2", "c1", "c2"]
            .map(String::from)
            .to_vec()
    }

    fn all(_: &StorageNode) -> bool {
        true
    }

    #[test]
    fn pages_map_to_pgs_and_the_end_is_where_growth_starts() {
        let map = VolumeMap::new(4, six());
        assert_eq!(map.pg_of(PageId(0)), Some(PgId(0)));
        assert_eq!(map.pg_of(PageId(3)), Some(PgId(0)));
        assert_eq!(map.pg_of(PageId(4)), None, "beyond the end");
        assert_eq!(map.pg_of(PageId::NONE), Some(PgId(0)), "commits go to PG 0");
        assert_eq!(map.end_page(), PageId(4));
    }

    #[test]
    fn six_nodes_hold_every_pg_two_per_az() {
        let n = nodes([2, 2, 2]);
        let mut map = VolumeMap::new(4, six());
        let added = map.grow_to(PageId(13), &n, &all).unwrap();
        assert_eq!(
            added,
            vec![PgId(1), PgId(2), PgId(3)],
            "every PG up to the page's"
        );
        assert_eq!(map.pg_of(PageId(13)), Some(PgId(3)));
        for m in map.pgs() {
            assert_eq!(m.members, six(), "the same six nodes, slot by AZ");
        }
        assert_eq!(map.grow_to(PageId(15), &n, &all).unwrap(), vec![]);
    }

    #[test]
    fn more_nodes_spread_pgs_over_all_of_them_least_loaded_first() {
        let n = nodes([3, 3, 2]);
        let mut map = VolumeMap::new(1, six());
        map.grow_to(PageId(2), &n, &all).unwrap();
        let members: Vec<Vec<&str>> = map
            .pgs()
            .iter()
            .map(|m| m.members.iter().map(String::as_str).collect())
            .collect();
        assert_eq!(members[0], ["a1", "a2", "b1", "b2", "c1", "c2"]);
        assert_eq!(members[1], ["a3", "a1", "b3", "b1", "c1", "c2"]);
        assert_eq!(members[2], ["a2", "a3", "b2", "b3", "c1", "c2"]);
        let load = map.load();
        for node in &n {
            assert!(load[&node.addr] > 0, "{} holds no segment", node.addr);
        }
        // Balanced: within an AZ of three, no node holds more than one segment above another.
        map.grow_to(PageId(29), &n, &all).unwrap();
        let load = map.load();
        for az in ["a", "b"] {
            let l: Vec<usize> = (1..=3).map(|i| load[&format!("{az}{i}")]).collect();
            assert!(
                l.iter().max().unwrap() - l.iter().min().unwrap() <= 1,
                "{l:?}"
            );
        }
        for m in map.pgs() {
            assert_placed(&m.members, &n);
        }
    }

    #[test]
    fn an_unusable_node_is_skipped_and_an_az_short_of_two_refuses_growth() {
        let n = nodes([3, 2, 2]);
        let mut map = VolumeMap::new(1, six());
        map.grow_to(PageId(1), &n, &|s: &StorageNode| s.addr != "a3")
            .unwrap();
        assert_eq!(map.pgs()[1].members[..2], ["a1", "a2"]);
        let before = map.clone();
        let err = map
            .grow_to(PageId(3), &n, &|s: &StorageNode| s.addr != "b1")
            .unwrap_err();
        assert_eq!(err, PlacementError::TooFewNodes { az: 1, usable: 1 });
        assert_eq!(map, before, "a failed growth adds nothing");
    }

    #[test]
    fn a_node_in_an_unknown_az_is_refused() {
        let mut n = nodes([2, 2, 2]);
        n.push(StorageNode {
            addr: "d1".into(),
            az: 3,
        });
        assert!(matches!(
            place(&n, &HashMap::new(), &all),
            Err(PlacementError::UnknownAz { .. })
        ));
    }
}
