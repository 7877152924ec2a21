//! The simulator in CI: many seeds, exact replay, and proof that the checkers bite.

use borealis_sim::{Options, Report, run_seed};

/// Seeds run by `many_seeds_keep_every_invariant`; `BOREALIS_SIM_SEEDS` overrides it.
const CI_SEEDS: u64 = 1_000;

#[test]
fn many_seeds_keep_every_invariant() {
    let seeds = std::env::var("BOREALIS_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CI_SEEDS);
    let mut failures = Vec::new();
    let mut total = Report::default();
    for seed in 0..seeds {
        match run_seed(seed, Options::default()) {
            Ok(r) => {
                total.acked += r.acked;
                total.reads += r.reads;
                total.reader_reads += r.reader_reads;
                total.fenced += r.fenced;
                total.node_crashes += r.node_crashes;
                total.torn_writes += r.torn_writes;
                total.disks_lost += r.disks_lost;
                total.az_partitions += r.az_partitions;
                total.dueling_starts += r.dueling_starts;
                total.writer_crashes += r.writer_crashes;
                total.copies_installed += r.copies_installed;
                total.volume_scans += r.volume_scans;
                total.volume_scan_records += r.volume_scan_records;
                total.growths += r.growths;
                total.multi_pg_recoveries += r.multi_pg_recoveries;
                total.final_pgs += u64::from(r.final_pgs > 1);
                total.repairs_completed += r.repairs_completed;
            }
            Err(f) => failures.push(f.to_string()),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {seeds} seeds failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    if seeds >= CI_SEEDS {
        // The run is not vacuous: every kind of fault happened and every checker had work.
        for (what, n) in [
            ("commits acknowledged", total.acked),
            ("reads checked", total.reads),
            ("reads by the reader checked", total.reader_reads),
            ("writers fenced", total.fenced),
            ("node crashes", total.node_crashes),
            ("torn writes", total.torn_writes),
            ("disks lost", total.disks_lost),
            ("AZ partitions", total.az_partitions),
            ("dueling writer starts", total.dueling_starts),
            ("writer crashes", total.writer_crashes),
            ("copy repairs installed", total.copies_installed),
            ("volume scans checked", total.volume_scans),
            ("records crossed by volume scans", total.volume_scan_records),
            ("growths of the volume", total.growths),
            (
                "recoveries of a volume of several PGs",
                total.multi_pg_recoveries,
            ),
            ("runs ending with several PGs", total.final_pgs),
            ("replacements completed", total.repairs_completed),
        ] {
            assert!(n > 0, "no {what} in {seeds} seeds");
        }
    }
}

#[test]
fn a_seed_replays_exactly() {
    // Seed 45 installs a copy (copy repair).
    for seed in [3, 45, 1234, u64::MAX] {
        let a = run_seed(seed, Options::default());
        let b = run_seed(seed, Options::default());
        assert_eq!(a, b, "seed {seed} must replay identically");
        if seed == 45 {
            assert!(a.is_ok_and(|r| r.copies_installed > 0), "seed 45 copies");
        }
    }
}

/// Without writer ids, two writers that start together pick the same epoch and storage cannot
/// tell them apart: the simulator must catch the damage (LSNs allocated twice, reads that differ
/// from the model, acknowledged commits lost).
#[test]
fn the_protocol_without_writer_ids_is_caught() {
    let opts = Options {
        same_writer_id: true,
        ..Options::default()
    };
    let failed = (0..300).filter(|&s| run_seed(s, opts).is_err()).count();
    assert!(
        failed > 0,
        "the checkers must catch two writers sharing one term"
    );
}

/// A recovery that plans with the volume map it read before its term was adopted misses a PG
/// that the writer it is fencing placed in between, and half-applies that PG's MTRs: the
/// simulator must catch it (it found it).
#[test]
fn recovery_with_a_stale_volume_map_is_caught() {
    let opts = Options {
        stale_map: true,
        ..Options::default()
    };
    let failed = (0..300).filter(|&s| run_seed(s, opts).is_err()).count();
    assert!(
        failed > 0,
        "the checkers must catch a recovery that misses a PG"
    );
}
