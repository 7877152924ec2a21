//! `borealis`: one binary, a subcommand per role.
//!
//! ```text
//! borealis up [--data-dir DIR] [--port PORT] [--spares N]        a whole local cluster (6 storage nodes, N spares, writer)
//! borealis storage --node-id N --data-dir DIR [--listen ADDR]
//! borealis instance --storage A,B,C,D,E,F [--spares G,H,I] [--listen ADDR] [--buffer-pool-pages N] [--txn-write-buffer-bytes N]
//!                                                    spare k replaces a lost segment of AZ k mod 3
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
        "usage:\n  borealis up [--data-dir DIR] [--port PORT] [--spares N]\n  borealis storage --node-id N --data-dir DIR [--listen ADDR]\n  borealis instance --storage ADDR,ADDR,ADDR,ADDR,ADDR,ADDR [--spares ADDR,...] [--listen ADDR] [--buffer-pool-pages N] [--txn-write-buffer-bytes N]"
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
    std::fs::create_dir_all(&data_dir).with_context(|| format!("creating {data_dir}"))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let addr = listener.local_addr()?;
    // The first line on stdout is how `borealis up` learns the port.
    println!("storage node {node} listening on {addr}");
    std::io::stdout().flush()?;
    borealis_storage::serve(
        listener,
        borealis_storage::NodeConfig {
            node: NodeId(node),
            data_dir: data_dir.into(),
        },
    )
    .await
    .context("storage node failed")?;
    Ok(())
}
