//! `borealis`: one binary, a subcommand per role.
//!
//! ```text
//! borealis up [--data-dir DIR] [--port PORT] [--spares N] [--storage-nodes N] [--pg-size SIZE]
//!                                                    a whole local cluster (6 or more storage nodes, N spares, writer)
//! borealis storage --node-id N --data-dir DIR [--listen ADDR] [--retention-lsns N] [--peer-lag-lsns N]
//!                                                    collection below PGMRPL (defaults: the storage limits)
//! borealis instance --storage A,B,C,D,E,F [--more-storage G,H,I] [--spares G,H,I] [--pg-size SIZE]
//!                   [--listen ADDR] [--buffer-pool-pages N] [--txn-write-buffer-bytes N] [--send-log-bytes SIZE]
//!                                                    spare k replaces a lost segment of AZ k mod 3;
//!                                                    new PGs (every SIZE of pages, 10GiB by default)
//!                                                    go on the six and the more-storage nodes
//! ```

mod cli;
mod instance;
mod up;

use anyhow::{Context, Result, bail};
use borealis_common::NodeId;
use std::io::Write;

/// Every role of the binary allocates through mimalloc (see the workspace manifest for why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn usage() -> ! {
    eprintln!(
        "usage:\n  borealis up [--data-dir DIR] [--port PORT] [--spares N] [--storage-nodes N] [--pg-size SIZE]\n  borealis storage --node-id N --data-dir DIR [--listen ADDR] [--retention-lsns N] [--peer-lag-lsns N]\n  borealis instance --storage ADDR,ADDR,ADDR,ADDR,ADDR,ADDR [--more-storage ADDR,...] [--spares ADDR,...] [--pg-size SIZE] [--listen ADDR] [--buffer-pool-pages N] [--txn-write-buffer-bytes N] [--send-log-bytes SIZE]"
    );
    std::process::exit(2);
}

fn main() -> Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        usage();
    }
    let cmd = args.remove(0);
    let opts = cli::Options::parse(&args).unwrap_or_else(|e| {
        eprintln!("borealis {cmd}: {e}");
        usage()
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Background engine work (autovacuum, autoanalyze) runs on the blocking threads; client
        // statements run on their connections' threads, which get the same stack size.
        .thread_stack_size(borealis_sql::query::STATEMENT_STACK_BYTES)
        .build()?;
    match cmd.as_str() {
        "up" => rt.block_on(up::run(opts)),
        "storage" => rt.block_on(storage(opts)),
        "instance" => rt.block_on(instance::run(opts)),
        "help" | "--help" | "-h" => usage(),
        other => bail!("unknown command {other:?}"),
    }
}

async fn storage(opts: cli::Options) -> Result<()> {
    let node: u32 = opts
        .require("node-id")?
        .parse()
        .context("--node-id must be a number")?;
    let data_dir = opts.require("data-dir")?;
    let listen = opts.get("listen").unwrap_or("127.0.0.1:0");
    let mut config = borealis_storage::NodeConfig::new(NodeId(node), data_dir.clone().into());
    // Collection below PGMRPL keeps `retention` LSNs, and a lagging peer holds it back by at most
    // `peer-lag` LSNs (beyond, that peer is repaired by a copy): small values make collection
    // (and copy repair) happen quickly, for tests.
    if let Some(v) = opts.get("retention-lsns") {
        config.retention_lsns = v.parse().context("--retention-lsns must be a number")?;
    }
    if let Some(v) = opts.get("peer-lag-lsns") {
        config.peer_lag_lsns = v.parse().context("--peer-lag-lsns must be a number")?;
    }
    std::fs::create_dir_all(&data_dir).with_context(|| format!("creating {data_dir}"))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    // The first line on stdout is how `borealis up` learns the port.
    println!("storage node {node} listening on {addr}");
    std::io::stdout().flush()?;
    borealis_storage::serve(listener, config)
        .await
        .context("storage node failed")?;
    Ok(())
}
