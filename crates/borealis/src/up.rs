//! `borealis up`: a complete local cluster in one command.
//!
//! Six storage nodes (two in each of three local "AZs", each its own process with its own data
//! directory) and one writer instance; with `--storage-nodes N` (N > 6), N − 6 more storage
//! nodes spread over the AZs (node 6 + k in AZ (k − 1) mod 3), on which the volume places its
//! new protection groups as it grows (every `--pg-size` bytes of pages, 10 GiB by default); with
//! `--spares N`, N spare storage nodes besides, spread over the AZs (spare k in AZ k mod 3),
//! which the writer may use to replace a lost member of the same AZ (see `WriterCore::tick`).
//! The ports chosen the first time, spares included, and the PG size are recorded in
//! `DIR/cluster.conf`, so running `up` again on the same directory resumes the same cluster with
//! its data and its spares. Ctrl-C or SIGTERM stops every process it started. Logs go to
//! `DIR/logs/`.
//!
//! ```text
//!   # Borealis local cluster: storage <node> <az> <port>, spare <k> <az> <port>
//!   storage 1 a 40001        …six lines, nodes 1–6, two per AZ, then one per more node
//!   spare 1 a 40007          …one line per spare, spare k in AZ (k-1) mod 3
//!   pg-size 10737418240      the PG size the volume was created with
//! ```

use crate::cli::Options;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const AZS: [&str; 3] = ["a", "b", "c"];
const DEFAULT_PORT: u16 = 7432;

/// Spares `up` starts at most (each is a process).
const SPARES_MAX: usize = 9;
/// Storage nodes `up` starts at most, spares not counted.
const STORAGE_NODES_MAX: usize = 15;

struct Layout {
    dir: PathBuf,
    storage_ports: Vec<u16>,
    spare_ports: Vec<u16>,
    pg_size: Option<u64>,
}

/// The AZ of storage node `i` (from 0): the first six two per AZ, then one per AZ in turn.
fn node_az(i: usize) -> &'static str {
    if i < 6 {
        AZS[i / 2]
    } else {
        AZS[(i - 6) % AZS.len()]
    }
}

fn node_dir(dir: &Path, i: usize) -> PathBuf {
    dir.join(format!("az-{}", node_az(i)))
        .join(format!("node-{}", i + 1))
}

/// The node id of storage node `i` (from 0): 1–6 for the first six; the spares came next
/// (7, 8, …) before there could be more, so more nodes start above every spare.
fn node_id(i: usize) -> usize {
    if i < 6 {
        i + 1
    } else {
        7 + SPARES_MAX + (i - 6)
    }
}

/// The AZ of spare `k` (from 0).
fn spare_az(k: usize) -> &'static str {
    AZS[k % AZS.len()]
}

fn spare_dir(dir: &Path, k: usize) -> PathBuf {
    dir.join(format!("az-{}", spare_az(k)))
        .join(format!("spare-{}", k + 1))
}

/// A recorded layout: the storage ports (six or more), the spares' ports, the PG size.
type Recorded = (Vec<u16>, Vec<u16>, Option<u64>);

/// The recorded layout: the storage ports, then the spares' ports, and the PG size.
fn read_layout(dir: &Path) -> Result<Option<Recorded>> {
    let path = dir.join("cluster.conf");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut ports = Vec::new();
    let mut spares = Vec::new();
    let mut pg_size = None;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        if let Some(r) = line.strip_prefix("pg-size ") {
            pg_size = Some(
                r.trim()
                    .parse()
                    .with_context(|| format!("{}: bad PG size in {line:?}", path.display()))?,
            );
            continue;
        }
        let (list, rest) = if let Some(r) = line.strip_prefix("storage ") {
            (&mut ports, r)
        } else if let Some(r) = line.strip_prefix("spare ") {
            (&mut spares, r)
        } else {
            bail!("{}: unexpected line {line:?}", path.display());
        };
        let Some(port) = rest.split_whitespace().nth(2) else {
            bail!("{}: unexpected line {line:?}", path.display());
        };
        list.push(
            port.parse()
                .with_context(|| format!("{}: bad port in {line:?}", path.display()))?,
        );
    }
    if spares.len() > SPARES_MAX {
        bail!(
            "{}: at most {SPARES_MAX} spares, found {}",
            path.display(),
            spares.len()
        );
    }
    if !(6..=STORAGE_NODES_MAX).contains(&ports.len()) {
        bail!(
            "{}: expected six to {STORAGE_NODES_MAX} storage nodes, found {}",
            path.display(),
            ports.len()
        );
    }
    Ok(Some((ports, spares, pg_size)))
}

fn write_layout(l: &Layout) -> Result<()> {
    let mut text = String::from(
        "# Borealis local cluster: storage <node> <az> <port>, spare <k> <az> <port>\n",
    );
    for (i, p) in l.storage_ports.iter().enumerate() {
        text.push_str(&format!("storage {} {} {}\n", i + 1, node_az(i), p));
    }
    for (k, p) in l.spare_ports.iter().enumerate() {
        text.push_str(&format!("spare {} {} {}\n", k + 1, spare_az(k), p));
    }
    if let Some(size) = l.pg_size {
        text.push_str(&format!("pg-size {size}\n"));
    }
    let tmp = l.dir.join("cluster.conf.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, l.dir.join("cluster.conf"))?;
    Ok(())
}

/// The allocator's switch for transparent huge pages (mimalloc's `allow_thp` option).
const ALLOCATOR_THP_VAR: &str = "MIMALLOC_ALLOW_THP";

/// Starts a child whose first stdout line announces its address; the rest of its output goes to
/// its log file.
async fn spawn(name: &str, logs: &Path, args: &[String]) -> Result<(Child, String)> {
    let exe = std::env::current_exe()?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(logs.join(format!("{name}.log")))?;
    let mut command = Command::new(exe);
    // Transparent huge pages off for the allocator, unless the caller chose: a bulk load faults
    // in fresh memory all along, and each fault of a huge page zeroes 2 MiB of it (a fifth of
    // the writer's CPU during `pgbench -i`; with them off the load took a quarter less time,
    // and reads measured the same).
    if std::env::var_os(ALLOCATOR_THP_VAR).is_none() {
        command.env(ALLOCATOR_THP_VAR, "0");
    }
    let mut child = command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log.try_clone()?))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    let stdout = child.stdout.take().context("child stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
        .await
        .with_context(|| {
            format!(
                "{name} did not start in time (see {}/{name}.log)",
                logs.display()
            )
        })??
        .with_context(|| {
            format!(
                "{name} exited during start-up (see {}/{name}.log)",
                logs.display()
            )
        })?;
    let addr = first
        .split_whitespace()
        .find(|w| w.contains(':') && w.parse::<std::net::SocketAddr>().is_ok())
        .with_context(|| format!("{name} printed no address: {first:?}"))?
        .to_string();
    let mut log = tokio::fs::File::from_std(log);
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = log.write_all(format!("{line}\n").as_bytes()).await;
        }
    });
    Ok((child, addr))
}

pub async fn run(opts: Options) -> Result<()> {
    let dir = PathBuf::from(opts.get("data-dir").unwrap_or(".borealis"));
    let port: u16 = match opts.get("port") {
        Some(p) => p.parse().context("--port must be a number")?,
        None => DEFAULT_PORT,
    };
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let recorded = read_layout(&dir)?;
    let resumed = recorded.is_some();
    let spares_asked: Option<usize> = match opts.get("spares") {
        Some(n) => Some(n.parse().context("--spares must be a number")?),
        None => None,
    };
    let nodes_asked: Option<usize> = match opts.get("storage-nodes") {
        Some(n) => Some(n.parse().context("--storage-nodes must be a number")?),
        None => None,
    };
    let size_asked: Option<u64> = match opts.get("pg-size") {
        Some(s) => Some(crate::cli::parse_size(s).context("--pg-size")?),
        None => None,
    };
    // A resumed cluster keeps the nodes and PG size it was created with.
    let (storage_nodes, pg_size) = match &recorded {
        Some((ports, _, size)) => {
            if nodes_asked.is_some_and(|n| n != ports.len())
                || size_asked.is_some_and(|s| Some(s) != *size)
            {
                eprintln!(
                    "note: resuming with the {} storage nodes and the PG size recorded in cluster.conf",
                    ports.len()
                );
            }
            (ports.len(), *size)
        }
        None => (nodes_asked.unwrap_or(6), size_asked),
    };
    if !(6..=STORAGE_NODES_MAX).contains(&storage_nodes) {
        bail!("--storage-nodes: from 6 to {STORAGE_NODES_MAX}");
    }
    // A resumed cluster keeps the spares it was created with (a spare may be a member by now).
    let spares = match (&recorded, spares_asked) {
        (Some((_, recorded_spares, _)), asked) => {
            if asked.is_some_and(|n| n != recorded_spares.len()) {
                eprintln!(
                    "note: resuming with the {} spares recorded in cluster.conf",
                    recorded_spares.len()
                );
            }
            recorded_spares.len()
        }
        (None, asked) => asked.unwrap_or(0),
    };
    if spares > SPARES_MAX {
        bail!("--spares: at most {SPARES_MAX}");
    }

    let mut children: Vec<(String, Child)> = Vec::new();
    let mut storage_addrs = Vec::new();
    for i in 0..storage_nodes {
        let listen = match &recorded {
            Some((ports, _, _)) => format!("127.0.0.1:{}", ports[i]),
            None => "127.0.0.1:0".to_string(),
        };
        let data = node_dir(&dir, i);
        let name = format!("storage-{}", i + 1);
        let args = vec![
            "storage".to_string(),
            "--node-id".into(),
            node_id(i).to_string(),
            "--data-dir".into(),
            data.display().to_string(),
            "--listen".into(),
            listen,
        ];
        let (child, addr) = spawn(&name, &logs, &args).await?;
        children.push((name, child));
        storage_addrs.push(addr);
    }
    // Spares are storage nodes too (node ids 7, 8, …): the writer makes one a member when it
    // replaces a lost member of the spare's AZ.
    let mut spare_addrs = Vec::new();
    for k in 0..spares {
        let listen = match &recorded {
            Some((_, ports, _)) => format!("127.0.0.1:{}", ports[k]),
            None => "127.0.0.1:0".to_string(),
        };
        let name = format!("spare-{}", k + 1);
        let args = vec![
            "storage".to_string(),
            "--node-id".into(),
            (7 + k).to_string(),
            "--data-dir".into(),
            spare_dir(&dir, k).display().to_string(),
            "--listen".into(),
            listen,
        ];
        let (child, addr) = spawn(&name, &logs, &args).await?;
        children.push((name, child));
        spare_addrs.push(addr);
    }
    if !resumed {
        let port_of = |addrs: &[String]| {
            addrs
                .iter()
                .map(|a| a.rsplit(':').next().unwrap_or("0").parse::<u16>())
                .collect::<Result<Vec<_>, _>>()
        };
        write_layout(&Layout {
            dir: dir.clone(),
            storage_ports: port_of(&storage_addrs)?,
            spare_ports: port_of(&spare_addrs)?,
            pg_size,
        })?;
    }
    let mut args = vec![
        "instance".to_string(),
        "--storage".into(),
        storage_addrs[..6].join(","),
        "--listen".into(),
        format!("127.0.0.1:{port}"),
    ];
    if storage_addrs.len() > 6 {
        args.push("--more-storage".into());
        args.push(storage_addrs[6..].join(","));
    }
    if let Some(size) = pg_size {
        args.push("--pg-size".into());
        args.push(size.to_string());
    }
    if !spare_addrs.is_empty() {
        args.push("--spares".into());
        args.push(spare_addrs.join(","));
    }
    let (writer, writer_addr) = spawn("writer", &logs, &args).await?;
    children.push(("writer".into(), writer));

    println!("cluster endpoint: postgres://borealis@{writer_addr}/borealis");
    println!("instance endpoint (writer): postgres://borealis@{writer_addr}/borealis");
    for (i, a) in storage_addrs.iter().enumerate() {
        println!("storage node {} (az {}): {a}", i + 1, node_az(i));
    }
    for (k, a) in spare_addrs.iter().enumerate() {
        println!("spare storage node {} (az {}): {a}", k + 1, spare_az(k));
    }
    println!(
        "{} cluster in {}; logs in {}. Connect with: psql postgres://borealis@{writer_addr}/borealis — Ctrl-C stops it.",
        if resumed { "resumed" } else { "created" },
        dir.display(),
        logs.display()
    );

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    eprintln!("stopping the cluster");
    for (_, child) in &mut children {
        if let Some(pid) = child.id() {
            // SIGTERM first; kill_on_drop sends SIGKILL to whatever is left.
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
    }
    for (name, child) in &mut children {
        if tokio::time::timeout(Duration::from_secs(3), child.wait())
            .await
            .is_err()
        {
            eprintln!("{name} did not stop; killing it");
            let _ = child.kill().await;
        }
    }
    Ok(())
}
