//! `borealis instance`: the writer. Opens the volume (recovery), the engine over it, and serves
//! PostgreSQL clients.

use crate::cli::Options;
use anyhow::{Context, Result, bail};
use borealis_common::Lsn;
use borealis_common::pagestore::{PageStore, StoreError};
use borealis_engine::{Engine, EngineConfig};
use borealis_pgwire::{Durability, Frontend};
use borealis_volume::{Volume, VolumeConfig};
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct VolumeDurability(Volume);

impl Durability for VolumeDurability {
    fn wait(&self, lsn: Lsn) -> Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + '_>> {
        Box::pin(async move { self.0.wait_durable(lsn).await.map_err(Into::into) })
    }
}

pub async fn run(opts: Options) -> Result<()> {
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
    // Spare storage nodes a lost segment is replaced by; spare k is in AZ k mod 3.
    let spares: Vec<String> = opts
        .get("spares")
        .map(|s| {
            s.split(',')
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let listen = opts.get("listen").unwrap_or("127.0.0.1:7432").to_string();
    let pages: usize = match opts.get("buffer-pool-pages") {
        Some(p) => p.parse().context("--buffer-pool-pages must be a number")?,
        None => EngineConfig::default().buffer_pool_pages,
    };
    let started = Instant::now();
    let volume = Volume::open(VolumeConfig { nodes, spares }, Duration::from_secs(60))
        .await
        .context("opening the volume")?;
    let store: Arc<dyn PageStore> = Arc::new(volume.clone());
    let engine = tokio::task::spawn_blocking(move || {
        Engine::open(
            store,
            EngineConfig {
                buffer_pool_pages: pages,
            },
        )
    })
    .await?
    .context("opening the engine")?;
    // Start-up reads a fixed handful of pages (meta page, catalog root), whatever the data size:
    // there is no redo replay. The count is printed so tests can hold us to it.
    let pages_read = engine.buffer_pool_stats().map(|s| s.misses).unwrap_or(0);
    let db = borealis_sql::Database::new(Arc::new(engine));
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
