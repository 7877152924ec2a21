//! `borealis instance`: the writer. Opens the volume (recovery), the engine over it, and serves
//! PostgreSQL clients.
//!
//! Background work it drives:
//! - the fence watch: a writer fenced by a newer one exits;
//! - autovacuum: every [`AUTOVACUUM_INTERVAL`] a blocking task runs at most
//!   [`AUTOVACUUM_STEPS_PER_TICK`] of the engine's bounded vacuum steps (each one MTR that holds
//!   the engine lock for at most `VACUUM_ENTRIES_PER_STEP` entries, releasing it between steps),
//!   and comes back sooner ([`AUTOVACUUM_BUSY_INTERVAL`]) while written trees are still waiting.
//!   It removes versions older than the oldest snapshot in use, so tables stay bounded under an
//!   update-heavy workload without anyone running VACUUM.
//! - autoanalyze: every [`AUTOANALYZE_INTERVAL`] a blocking task analyzes the tables whose rows
//!   changed enough since their last analyze (50 + 10 % of their rows, PostgreSQL's defaults;
//!   see `borealis_sql::stats`), at most [`AUTOANALYZE_TABLES_PER_TICK`] of them, so the
//!   planner's statistics follow the data without anyone running ANALYZE.

use crate::cli::Options;
use anyhow::{Context, Result, bail};
use borealis_common::Lsn;
use borealis_common::pagestore::{PageStore, StoreError};
use borealis_common::redo::PAGE_SIZE;
use borealis_engine::{Engine, EngineConfig};
use borealis_pgwire::{Durability, Frontend};
use borealis_volume::{Volume, VolumeConfig};
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often autovacuum wakes when it has nothing left to do.
const AUTOVACUUM_INTERVAL: Duration = Duration::from_millis(200);
/// How soon autovacuum comes back while written trees are still waiting.
const AUTOVACUUM_BUSY_INTERVAL: Duration = Duration::from_millis(10);
/// Vacuum steps per wake-up: bounds the work (and the engine-lock hold time, one step at a time)
/// autovacuum does before yielding to the runtime.
const AUTOVACUUM_STEPS_PER_TICK: usize = 16;

/// How often autoanalyze looks for tables whose statistics are out of date.
const AUTOANALYZE_INTERVAL: Duration = Duration::from_secs(1);
/// Tables analyzed per wake-up: each one is a full read of the table.
const AUTOANALYZE_TABLES_PER_TICK: usize = 4;
/// Longest pause after repeated failures.
const AUTOANALYZE_BACKOFF_MAX: Duration = Duration::from_secs(60);

/// Runs autoanalyze for ever (see the module documentation). A failed analyze is logged and
/// retried at the next interval; a halted engine ends the task.
async fn autoanalyze(engine: Arc<Engine>) {
    let mut pause = AUTOANALYZE_INTERVAL;
    loop {
        tokio::time::sleep(pause).await;
        let e = engine.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            for _ in 0..AUTOANALYZE_TABLES_PER_TICK {
                if borealis_sql::stats::autoanalyze_step(&e)?.is_none() {
                    break;
                }
            }
            Ok::<(), borealis_sql::SqlError>(())
        })
        .await;
        // A failure (a halted engine ends autovacuum, which says so) backs off, so that one
        // that repeats is not logged every interval.
        pause = match outcome {
            Ok(Ok(())) => AUTOANALYZE_INTERVAL,
            Ok(Err(e)) => {
                eprintln!("instance: autoanalyze failed: {e}");
                (pause * 2).min(AUTOANALYZE_BACKOFF_MAX)
            }
            Err(e) => {
                eprintln!("instance: autoanalyze task failed: {e}");
                (pause * 2).min(AUTOANALYZE_BACKOFF_MAX)
            }
        };
    }
}

/// Runs the engine's background vacuum for ever (see the module documentation). A failed step
/// is logged and retried at the next interval; a halted engine ends the task.
async fn autovacuum(engine: Arc<Engine>) {
    loop {
        let e = engine.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            for _ in 0..AUTOVACUUM_STEPS_PER_TICK {
                if e.vacuum_step()?.done {
                    return Ok(true);
                }
            }
            Ok::<bool, borealis_engine::EngineError>(false)
        })
        .await;
        let pause = match outcome {
            Ok(Ok(true)) => AUTOVACUUM_INTERVAL,
            Ok(Ok(false)) => AUTOVACUUM_BUSY_INTERVAL,
            Ok(Err(borealis_engine::EngineError::Halted(why))) => {
                eprintln!("instance: autovacuum stopped: engine halted ({why})");
                return;
            }
            Ok(Err(e)) => {
                eprintln!("instance: autovacuum step failed: {e}");
                AUTOVACUUM_INTERVAL
            }
            Err(e) => {
                eprintln!("instance: autovacuum task failed: {e}");
                AUTOVACUUM_INTERVAL
            }
        };
        tokio::time::sleep(pause).await;
    }
}

struct VolumeDurability(Volume);

impl Durability for VolumeDurability {
    fn wait(&self, lsn: Lsn) -> Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + '_>> {
        Box::pin(async move { self.0.wait_durable(lsn).await.map_err(Into::into) })
    }
}

pub async fn run(opts: Options) -> Result<()> {
    // Temporary files of statements that a killed instance was running.
    let orphans = borealis_sql::spill::remove_orphaned_files();
    if orphans > 0 {
        eprintln!("instance: removed {orphans} temporary files of processes that are gone");
    }
    let nodes: Vec<String> = opts
        .require("storage")?
        .split(',')
        .map(str::to_string)
        .collect();
    if nodes.len() != 6 {
        bail!(
            "--storage needs the six storage nodes of the volume, got {}",
            nodes.len()
        );
    }
    let addrs = |name: &str| -> Vec<String> {
        opts.get(name)
            .map(|s| {
                s.split(',')
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    // Spare storage nodes a lost segment is replaced by; spare k is in AZ k mod 3.
    let spares = addrs("spares");
    // Storage nodes beyond the first six that new protection groups may be placed on; node k is
    // in AZ k mod 3.
    let more = addrs("more-storage");
    let pages_per_pg = match opts.get("pg-size") {
        Some(s) => {
            let bytes = crate::cli::parse_size(s).context("--pg-size")?;
            if bytes == 0 || bytes % PAGE_SIZE as u64 != 0 {
                bail!("--pg-size must be a positive multiple of the {PAGE_SIZE}-byte page");
            }
            bytes / PAGE_SIZE as u64
        }
        None => borealis_volume::limits::PAGES_PER_PG_DEFAULT,
    };
    let listen = opts.get("listen").unwrap_or("127.0.0.1:7432").to_string();
    let pages: usize = match opts.get("buffer-pool-pages") {
        Some(p) => p.parse().context("--buffer-pool-pages must be a number")?,
        None => default_buffer_pool_pages(),
    };
    let write_buffer: usize = match opts.get("txn-write-buffer-bytes") {
        Some(p) => p
            .parse()
            .context("--txn-write-buffer-bytes must be a number")?,
        None => EngineConfig::default().txn_write_buffer_bytes,
    };
    let send_log_bytes: u64 = match opts.get("send-log-bytes") {
        Some(s) => match crate::cli::parse_size(s).context("--send-log-bytes")? {
            0 => bail!("--send-log-bytes must be positive"),
            n => n,
        },
        None => borealis_volume::limits::LAL_BYTES,
    };
    let started = Instant::now();
    eprintln!(
        "instance: buffer pool of {pages} pages ({} MiB)",
        pages * PAGE_SIZE / (1024 * 1024)
    );
    let volume = Volume::open(
        VolumeConfig {
            nodes,
            more,
            spares,
            pages_per_pg,
            send_log_bytes,
        },
        Duration::from_secs(60),
    )
    .await
    .context("opening the volume")?;
    let store: Arc<dyn PageStore> = Arc::new(volume.clone());
    let engine = tokio::task::spawn_blocking(move || {
        Engine::open(
            store,
            EngineConfig {
                buffer_pool_pages: pages,
                txn_write_buffer_bytes: write_buffer,
                ..EngineConfig::default()
            },
        )
    })
    .await?
    .context("opening the engine")?;
    // Start-up reads a fixed handful of pages (meta page, catalog root), whatever the data size:
    // there is no redo replay. The count is printed so tests can hold us to it.
    let pages_read = engine.buffer_pool_stats().map(|s| s.misses).unwrap_or(0);
    let engine = Arc::new(engine);
    tokio::spawn(autovacuum(engine.clone()));
    tokio::spawn(autoanalyze(engine.clone()));
    let db = borealis_sql::Database::new(engine);
    // Temporary relations of sessions that ended with the last run are removed before anyone
    // connects.
    let cleanup = db.clone();
    let removed = tokio::task::spawn_blocking(move || cleanup.drop_leftover_temp_relations())
        .await?
        .context("removing temporary relations left by the last run")?;
    if removed > 0 {
        eprintln!("instance: removed the temporary relations of {removed} ended session(s)");
    }
    let frontend = Frontend::new(db, Arc::new(VolumeDurability(volume.clone())));
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    // The first line on stdout is how `borealis up` and tests learn the port.
    println!(
        "instance listening on {addr} (epoch {}, started in {} ms, {pages_read} pages read)",
        volume.epoch(),
        started.elapsed().as_millis()
    );
    std::io::stdout().flush()?;

    // A fenced writer must stop: its buffer pool may hold changes it can no longer log.
    let watch = volume.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if watch.is_fenced() {
                eprintln!("instance: fenced by a newer writer; exiting");
                std::process::exit(3);
            }
        }
    });
    borealis_pgwire::serve(listener, frontend).await?;
    Ok(())
}

/// The buffer pool's size when `--buffer-pool-pages` is not given: an eighth of the machine's
/// memory, at least 128 MiB and at most 8 GiB. Frames are allocated as pages are first read, so
/// an idle instance does not hold it. A miss costs a round trip to storage, where a database
/// over a file system falls back on the kernel's page cache, so the pool is the only cache a
/// compute instance has.
fn default_buffer_pool_pages() -> usize {
    const MIN_BYTES: u64 = 128 << 20;
    const MAX_BYTES: u64 = 8 << 30;
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(MIN_BYTES, |kib| kib * 1024);
    ((total / 8).clamp(MIN_BYTES, MAX_BYTES) / PAGE_SIZE as u64) as usize
}
