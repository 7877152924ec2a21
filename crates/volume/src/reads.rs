//! Read routing, sans-IO: which segment a page read goes to, and when to hedge it to a second.
//!
//! A page read at a read point goes to ONE segment whose SCL covers it — never to a quorum
//! (Aurora SIGMOD 2017 §4.2.3: "the database … can read from a single storage node"). A slow
//! segment (a long sync, a busy disk, a node paused or partitioned without its connection
//! breaking) would then stall every read routed to it until the read timed out. So a read that
//! has not been answered within the *hedge delay* is sent again, as is, to a second segment whose
//! SCL covers the read point, and the first answer wins (the other is ignored). Page reads are
//! idempotent: a duplicate costs one page build.
//!
//! ```text
//!   t=0        GetPage ─▶ segment A (SCL ≥ read point; start at page mod 6 to spread load)
//!   t=hedge    no answer yet ─▶ the same GetPage ─▶ segment B (SCL ≥ read point)
//!   first Page answer wins; an error answer from one waits for the other, then the rest in turn
//! ```
//!
//! The hedge delay adapts to observed read latency the way TCP's retransmission timer does
//! (RFC 6298): a smoothed mean `srtt` and mean deviation `rttvar` of answered reads, hedge at
//! `srtt + 4·rttvar`, clamped to [`HEDGE_DELAY_US_MIN`, `HEDGE_DELAY_US_MAX`]. With a tight
//! latency distribution only the tail is hedged, so extra load stays at a few per cent.
//!
//! Nothing here reads a clock: latencies come in as measured by the driver (`lib.rs`).

use crate::limits::{HEDGE_DELAY_US_INITIAL, HEDGE_DELAY_US_MAX, HEDGE_DELAY_US_MIN};
use borealis_common::{Lsn, PageId};

/// Read latency statistics and routing decisions.
#[derive(Clone, Debug)]
pub struct ReadRouter {
    /// Smoothed latency, microseconds (0 until the first observation).
    srtt_us: u64,
    /// Smoothed mean deviation, microseconds.
    rttvar_us: u64,
}

impl Default for ReadRouter {
    fn default() -> Self {
        ReadRouter::new()
    }
}

impl ReadRouter {
    #[must_use]
    pub fn new() -> ReadRouter {
        ReadRouter {
            srtt_us: 0,
            rttvar_us: 0,
        }
    }

    /// The order in which to try segments for `page` at `read_point`, given the SCLs we know:
    /// those covering the read point first, each group starting at a page-dependent segment to
    /// spread load. Segments not known to cover it come last (our view may be stale).
    #[must_use]
    /// `scls` has one entry per slot (an empty slot simply finds no connection).
    pub fn order(page: PageId, read_point: Lsn, scls: &[Lsn]) -> Vec<usize> {
        let n = scls.len();
        assert!(n > 0, "at least one segment");
        let start = (page.0 % n as u64) as usize;
        let mut order: Vec<usize> = (0..n).map(|k| (start + k) % n).collect();
        order.sort_by_key(|&i| scls[i] < read_point);
        order
    }

    /// How long to wait for the first segment before hedging to a second, microseconds.
    #[must_use]
    pub fn hedge_delay_us(&self) -> u64 {
        if self.srtt_us == 0 {
            return HEDGE_DELAY_US_INITIAL;
        }
        (self.srtt_us + 4 * self.rttvar_us).clamp(HEDGE_DELAY_US_MIN, HEDGE_DELAY_US_MAX)
    }

    /// A read was answered after `latency_us`.
    pub fn observe(&mut self, latency_us: u64) {
        // Bounded so that one pathological sample cannot park the estimate for long.
        let sample = latency_us.min(HEDGE_DELAY_US_MAX * 4);
        if self.srtt_us == 0 {
            self.srtt_us = sample.max(1);
            self.rttvar_us = sample / 2;
            return;
        }
        let deviation = self.srtt_us.abs_diff(sample);
        // rttvar ← 3/4 rttvar + 1/4 |srtt − sample|;  srtt ← 7/8 srtt + 1/8 sample
        self.rttvar_us = (3 * self.rttvar_us + deviation) / 4;
        self.srtt_us = ((7 * self.srtt_us + sample) / 8).max(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::SEGMENTS_PER_PG;

    #[test]
    fn covering_segments_first_starting_at_the_page() {
        let mut scls = [Lsn(10); SEGMENTS_PER_PG];
        scls[3] = Lsn(5);
        assert_eq!(
            ReadRouter::order(PageId(2), Lsn(8), &scls),
            vec![2, 4, 5, 0, 1, 3]
        );
        assert_eq!(
            ReadRouter::order(PageId(9), Lsn(8), &scls),
            vec![4, 5, 0, 1, 2, 3]
        );
        assert_eq!(
            ReadRouter::order(PageId(9), Lsn(3), &scls),
            vec![3, 4, 5, 0, 1, 2]
        );
    }

    #[test]
    fn the_hedge_delay_follows_the_latency_and_stays_bounded() {
        let mut r = ReadRouter::new();
        assert_eq!(r.hedge_delay_us(), HEDGE_DELAY_US_INITIAL);
        // Steady 100 µs reads: the delay settles at the floor.
        for _ in 0..100 {
            r.observe(100);
        }
        assert_eq!(r.hedge_delay_us(), HEDGE_DELAY_US_MIN);
        // Reads become 8 ms (a busy disk everywhere): the delay grows past them, so that reads
        // are not all sent twice.
        for _ in 0..100 {
            r.observe(8_000);
        }
        let d = r.hedge_delay_us();
        assert!(d > 8_000 && d <= HEDGE_DELAY_US_MAX, "{d}");
        // Jittery reads widen it; a pathological sample is clamped.
        r.observe(10_000_000);
        assert_eq!(r.hedge_delay_us(), HEDGE_DELAY_US_MAX);
        // And it comes back down when reads are fast again.
        for _ in 0..200 {
            r.observe(100);
        }
        assert_eq!(r.hedge_delay_us(), HEDGE_DELAY_US_MIN);
    }
}
