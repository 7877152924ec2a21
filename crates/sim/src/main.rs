//! Runs the deterministic simulator over many seeds, or replays one.
//!
//! ```text
//! cargo run -p borealis-sim --release -- --seeds 10000          seeds 0..10000
//! cargo run -p borealis-sim --release -- --seeds 500 --from 7000 seeds 7000..7500
//! cargo run -p borealis-sim --release -- --seed 4242              replay one seed, with its report
//! options: --mtrs N (workload size), --duration-ms N (fault phase), --same-writer-id (the old,
//!          unsafe protocol: expected to fail), --stale-map (recovery that does not look at the
//!          volume map again once its term is adopted: expected to fail)
//! ```

use borealis_sim::{Options, run_seed};
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let mut opts = Options::default();
    let mut seeds: u64 = 100;
    let mut from: u64 = 0;
    let mut one: Option<u64> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| -> u64 {
            match args.next().and_then(|v| v.parse().ok()) {
                Some(v) => v,
                None => {
                    eprintln!("{name} needs a number");
                    std::process::exit(2);
                }
            }
        };
        match a.as_str() {
            "--seeds" => seeds = value("--seeds"),
            "--from" => from = value("--from"),
            "--seed" => one = Some(value("--seed")),
            "--mtrs" => opts.mtrs = value("--mtrs"),
            "--duration-ms" => opts.duration_ms = value("--duration-ms"),
            "--same-writer-id" => opts.same_writer_id = true,
            "--stale-map" => opts.stale_map = true,
            other => {
                eprintln!(
                    "unknown argument {other}; see the doc comment of crates/sim/src/main.rs"
                );
                return ExitCode::from(2);
            }
        }
    }
    // Core assertions are reported per seed, not as a raw panic message.
    std::panic::set_hook(Box::new(|_| {}));
    if let Some(seed) = one {
        return match run_seed(seed, opts) {
            Ok(report) => {
                println!("seed {seed} passed: {report:#?}");
                ExitCode::SUCCESS
            }
            Err(f) => {
                println!("{f}");
                ExitCode::FAILURE
            }
        };
    }
    let started = Instant::now();
    let mut failed = 0u64;
    let mut copy_seeds = 0u64;
    let mut grown_seeds = 0u64;
    let mut total = borealis_sim::Report::default();
    for seed in from..from + seeds {
        match run_seed(seed, opts) {
            Ok(r) => {
                total.events += r.events;
                total.mtrs += r.mtrs;
                total.acked += r.acked;
                total.reads += r.reads;
                total.reader_reads += r.reader_reads;
                total.recoveries += r.recoveries;
                total.fenced += r.fenced;
                total.node_crashes += r.node_crashes;
                total.torn_writes += r.torn_writes;
                total.disks_lost += r.disks_lost;
                total.az_partitions += r.az_partitions;
                total.dueling_starts += r.dueling_starts;
                total.permanent_losses += r.permanent_losses;
                total.repairs_begun += r.repairs_begun;
                total.repairs_completed += r.repairs_completed;
                total.stale_refused += r.stale_refused;
                total.recovery_restarts += r.recovery_restarts;
                total.copy_checks += r.copy_checks;
                total.copies_begun += r.copies_begun;
                total.copies_installed += r.copies_installed;
                total.copy_restarts += r.copy_restarts;
                total.copies_abandoned += r.copies_abandoned;
                total.copy_bytes += r.copy_bytes;
                total.volume_scans += r.volume_scans;
                total.volume_scan_records += r.volume_scan_records;
                if r.copies_installed > 0 {
                    copy_seeds += 1;
                }
                total.growths += r.growths;
                total.multi_pg_recoveries += r.multi_pg_recoveries;
                if r.final_pgs > 1 {
                    grown_seeds += 1;
                }
            }
            Err(f) => {
                failed += 1;
                println!("{f}");
            }
        }
    }
    println!(
        "{} seeds ({from}..{}) in {:.1} s: {failed} failed; {} events, {} MTRs, {} commits acknowledged, {} reads checked ({} by the reader), {} recoveries, {} writers fenced, {} node crashes, {} torn writes, {} disks lost, {} AZ partitions, {} dueling starts; {} nodes lost for good, {} repairs begun, {} completed, {} stale-membership requests refused, {} recoveries restarted, {} copy checks; copy repair: {} seeds installed a copy, {} copies begun, {} installed, {} restarted on a moved floor, {} given up, {} bytes copied; {} volume scans (those of one PG agreed with the PG chain), through {} records above their floors; growth: {} seeds ended with several PGs, {} growths, {} recoveries of several PGs",
        seeds,
        from + seeds,
        started.elapsed().as_secs_f64(),
        total.events,
        total.mtrs,
        total.acked,
        total.reads,
        total.reader_reads,
        total.recoveries,
        total.fenced,
        total.node_crashes,
        total.torn_writes,
        total.disks_lost,
        total.az_partitions,
        total.dueling_starts,
        total.permanent_losses,
        total.repairs_begun,
        total.repairs_completed,
        total.stale_refused,
        total.recovery_restarts,
        total.copy_checks,
        copy_seeds,
        total.copies_begun,
        total.copies_installed,
        total.copy_restarts,
        total.copies_abandoned,
        total.copy_bytes,
        total.volume_scans,
        total.volume_scan_records,
        grown_seeds,
        total.growths,
        total.multi_pg_recoveries
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
