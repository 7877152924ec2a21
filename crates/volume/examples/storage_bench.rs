//! Storage tier benchmark: six real storage processes on loopback, driven through the `Volume`
//! API with redo records shaped like the engine's (no SQL, no engine), measuring what issue 3 asks
//! for and what the Aurora papers quote.
//!
//! ```text
//!   this program ──spawns itself 6× with --serve-storage──▶ six storage processes (own data dirs)
//!        │ Volume::open (recovery), then:
//!        ├─ ship:    4 threads append MTRs as fast as LAL allows   → records/s, MB/s durable
//!        ├─ commit:  1 and 16 clients, append one MTR, wait VDL    → quorum commit p50/p99
//!        ├─ read:    2,000 pages (Init + 3 patches each) read once → cache-miss GetPage p50/p99
//!        │           then read again (node cache hit: the anchor)
//!        └─ repair:  kill -9 one node, delete its directory, restart it empty on the same port;
//!                    time until its SCL reaches the others'      → repair MB/s
//! ```
//!
//! MTR shapes follow what `Mtr::finish` produces for B+tree work: a row insert is a patch of a
//! leaf (slot entry and a ~120-byte row), a patch of an index leaf, and a commit record; one MTR in
//! ten is a page split: a new page's image (half full), patches of the old leaf and the parent, and
//! the commit. Figures are printed as text and, with `--json PATH`, written as JSON.
//!
//! ```text
//! cargo run --release -p borealis-volume --example storage_bench -- [--seconds 5] [--pages 2000]
//!     [--json PATH] [--dir DIR]
//! ```
//!
//! With `--dir` the nodes' data directories and logs are kept there afterwards.

use borealis_common::frame::{encode_frame, read_frame, write_frames};
use borealis_common::pagestore::{PageStore, RecordDraft};
use borealis_common::proto::{Request, Response};
use borealis_common::{Epoch, Lsn, NodeId, PageId, Patch, Payload, PgId, RedoRecord, TxnId};
use borealis_volume::{Volume, VolumeConfig};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

type Res<T> = Result<T, String>;

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve-storage") {
        return serve_storage(&args[1..]);
    }
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let seconds: u64 = opt("--seconds").map_or(Ok(5), |s| s.parse().map_err(|e| format!("{e}")))?;
    let pages: u64 = opt("--pages").map_or(Ok(2000), |s| s.parse().map_err(|e| format!("{e}")))?;
    let dir = opt("--dir").map_or_else(
        || std::env::temp_dir().join(format!("borealis-storage-bench-{}", std::process::id())),
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut nodes: Vec<Node> = (0..6)
        .map(|i| Node::spawn(&dir, i, "127.0.0.1:0"))
        .collect::<Res<_>>()?;
    let addrs: Vec<String> = nodes.iter().map(|n| n.addr.clone()).collect();
    let volume = rt
        .block_on(Volume::open(
            VolumeConfig::new(addrs.clone()),
            Duration::from_secs(60),
        ))
        .map_err(|e| format!("opening the volume: {e}"))?;
    let mut report = Vec::<(String, f64)>::new();

    // Ship: appenders never wait for durability, only for LAL.
    eprintln!("ship: {seconds} s, 4 appenders");
    let records = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let last = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let (volume, records, bytes, last) = (&volume, &records, &bytes, &last);
            s.spawn(move || {
                let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (t + 1);
                while Instant::now() < deadline {
                    let mtr = realistic_mtr(&mut rng);
                    let (n, b) = size_of(&mtr);
                    let Ok(first) = volume.append_mtr(mtr) else {
                        return;
                    };
                    records.fetch_add(n, Ordering::Relaxed);
                    bytes.fetch_add(b, Ordering::Relaxed);
                    last.fetch_max(first.0 + n - 1, Ordering::Relaxed);
                }
            });
        }
    });
    rt.block_on(volume.wait_durable(Lsn(last.load(Ordering::Relaxed))))
        .map_err(|e| e.to_string())?;
    let secs = started.elapsed().as_secs_f64();
    let n = records.load(Ordering::Relaxed) as f64;
    let b = bytes.load(Ordering::Relaxed) as f64;
    report.push(("ship_records_per_s".into(), n / secs));
    report.push(("ship_mb_per_s".into(), b / 1e6 / secs));
    report.push(("ship_record_bytes_avg".into(), b / n.max(1.0)));

    // Commit latency: append one row-insert MTR, wait until VDL covers it.
    for clients in [1u64, 16] {
        eprintln!("commit: {clients} client(s), 3 s");
        let deadline = Instant::now() + Duration::from_secs(3);
        let handle = rt.handle().clone();
        let mut lat: Vec<f64> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..clients)
                .map(|c| {
                    let (volume, handle) = (&volume, &handle);
                    s.spawn(move || {
                        let mut rng = 0x2545_f491_4f6c_dd1du64 ^ (c + 1);
                        let mut lat = Vec::new();
                        while Instant::now() < deadline {
                            let mtr = row_insert(&mut rng);
                            let n = mtr.len() as u64;
                            let t0 = Instant::now();
                            let Ok(first) = volume.append_mtr(mtr) else {
                                break;
                            };
                            if handle
                                .block_on(volume.wait_durable(Lsn(first.0 + n - 1)))
                                .is_err()
                            {
                                break;
                            }
                            lat.push(t0.elapsed().as_secs_f64() * 1e3);
                        }
                        lat
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_default())
                .collect()
        });
        lat.sort_by(f64::total_cmp);
        report.push((format!("commit_{clients}_per_s"), lat.len() as f64 / 3.0));
        report.push((format!("commit_{clients}_ms_p50"), pct(&lat, 50.0)));
        report.push((format!("commit_{clients}_ms_p99"), pct(&lat, 99.0)));
    }

    // Cache-miss reads: pages nobody has read, each an Init and three patches in the log.
    eprintln!("read: {pages} pages");
    let base = 50_000_000u64;
    let mut rng = 0x1234_5678_9abc_def1u64;
    let mut end = Lsn::ZERO;
    for k in 0..pages {
        let page = PageId(base + k);
        let mut mtr = vec![draft(page, Payload::Init(half_full_image(&mut rng)))];
        for _ in 0..3 {
            mtr.push(draft(page, Payload::Patch(vec![patch(&mut rng, 120)])));
        }
        let n = mtr.len() as u64;
        let first = volume.append_mtr(mtr).map_err(|e| e.to_string())?;
        end = Lsn(first.0 + n - 1);
    }
    rt.block_on(volume.wait_durable(end))
        .map_err(|e| e.to_string())?;
    let read_point = volume.vdl();
    for (name, round) in [("getpage_miss", 0), ("getpage_hit", 1)] {
        let mut lat = Vec::new();
        for k in 0..pages {
            let t0 = Instant::now();
            let v = volume
                .get_page(PageId(base + k), read_point)
                .map_err(|e| e.to_string())?;
            lat.push(t0.elapsed().as_secs_f64() * 1e3);
            if v.is_none() {
                return Err(format!("page {} is absent (round {round})", base + k));
            }
        }
        lat.sort_by(f64::total_cmp);
        report.push((format!("{name}_ms_p50"), pct(&lat, 50.0)));
        report.push((format!("{name}_ms_p99"), pct(&lat, 99.0)));
    }

    // Repair: node 6 loses its disk and refills from its peers.
    let mut target = Lsn::ZERO;
    for a in &addrs {
        target = target.max(rt.block_on(scl_of(a)).unwrap_or_default());
    }
    let log_bytes = log_bytes(&nodes[0].dir);
    eprintln!(
        "repair: node 6 restarted empty; {} MB of log to copy",
        log_bytes / 1_000_000
    );
    nodes[5].kill();
    std::fs::remove_dir_all(&nodes[5].dir).map_err(|e| e.to_string())?;
    let addr = nodes[5].addr.clone();
    let log_before = std::fs::metadata(nodes[5].log()).map_or(0, |m| m.len() as usize);
    let t0 = Instant::now();
    nodes[5] = Node::spawn(&dir, 5, &addr)?;
    loop {
        if rt.block_on(scl_of(&addr)).unwrap_or_default() >= target {
            break;
        }
        if t0.elapsed() > Duration::from_secs(600) {
            return Err("the emptied node did not catch up within 10 minutes".into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let secs = t0.elapsed().as_secs_f64();
    report.push(("repair_mb".into(), log_bytes as f64 / 1e6));
    report.push(("repair_s".into(), secs));
    report.push(("repair_mb_per_s".into(), log_bytes as f64 / 1e6 / secs));
    // What the node itself reports: bytes of records copied and time spent copying, summed over
    // its repair runs since the restart (a run ends when an answer brings nothing new).
    let (mut copied, mut copy_ms) = (0u64, 0u64);
    let log = std::fs::read_to_string(nodes[5].log()).unwrap_or_default();
    for l in log
        .get(log_before..)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("repaired from peers"))
    {
        let field = |after: &str, before: &str| {
            l.split(after)
                .nth(1)
                .and_then(|r| r.split(before).next())
                .and_then(|r| r.parse::<u64>().ok())
        };
        copied += field("records (", " bytes)").unwrap_or(0);
        copy_ms += field("copied in ", " ms").unwrap_or(0);
    }
    report.push(("repair_copied_mb".into(), copied as f64 / 1e6));
    report.push((
        "repair_copy_mb_per_s".into(),
        copied as f64 / 1e3 / copy_ms.max(1) as f64,
    ));

    println!("storage tier benchmark (six storage processes on loopback, one writer)");
    for (k, v) in &report {
        println!("  {k:<28} {v:>12.3}");
    }
    if let Some(path) = opt("--json") {
        let body: Vec<String> = report
            .iter()
            .map(|(k, v)| format!("  \"{k}\": {v:.4}"))
            .collect();
        std::fs::write(&path, format!("{{\n{}\n}}\n", body.join(",\n")))
            .map_err(|e| format!("{path}: {e}"))?;
    }
    drop(nodes);
    if opt("--dir").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

/// Runs one storage node in this process (the benchmark spawns itself six times).
fn serve_storage(args: &[String]) -> Res<()> {
    let [id, dir, listen] = args else {
        return Err("--serve-storage NODE_ID DATA_DIR LISTEN".into());
    };
    let node: u32 = id.parse().map_err(|e| format!("node id: {e}"))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{dir}: {e}"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen.as_str())
            .await
            .map_err(|e| format!("{listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        println!("storage node {node} listening on {addr}");
        std::io::stdout().flush().map_err(|e| e.to_string())?;
        borealis_storage::serve(
            listener,
            borealis_storage::NodeConfig::new(NodeId(node), dir.into()),
        )
        .await
        .map_err(|e| e.to_string())
    })
}

struct Node {
    child: Child,
    addr: String,
    dir: PathBuf,
    log: PathBuf,
}

impl Node {
    fn spawn(root: &Path, i: usize, listen: &str) -> Res<Node> {
        let dir = root.join(format!("node-{}", i + 1));
        let log = root.join(format!("storage-{}.log", i + 1));
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        for _ in 0..50 {
            if listen.ends_with(":0") || std::net::TcpListener::bind(listen).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .args(["--serve-storage", &(i + 1).to_string()])
            .arg(&dir)
            .arg(listen)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .map_err(|e| format!("spawning a storage node: {e}"))?;
        let mut first = String::new();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        BufReader::new(stdout)
            .read_line(&mut first)
            .map_err(|e| e.to_string())?;
        let addr = first
            .split_whitespace()
            .last()
            .ok_or_else(|| format!("storage node {} did not start", i + 1))?
            .to_string();
        Ok(Node {
            child,
            addr,
            dir,
            log,
        })
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn log(&self) -> &Path {
        &self.log
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The SCL of PG 0 at a node, by `GetState`.
async fn scl_of(addr: &str) -> Option<Lsn> {
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    let (kind, body) = Request::GetState {
        epoch: Epoch(0),
        pg: PgId(0),
    }
    .encode(1);
    let mut frame = Vec::new();
    encode_frame(kind, &body, &mut frame);
    write_frames(&mut s, &frame).await.ok()?;
    let (kind, body) = read_frame(&mut s).await.ok()??;
    match Response::decode(kind, &body).ok()? {
        (_, Response::State(st)) => st.pgs.iter().find(|p| p.pg == PgId(0)).map(|p| p.scl),
        _ => None,
    }
}

/// Bytes of log files in a node's data directory.
fn log_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("log-"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn next(rng: &mut u64) -> u64 {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    *rng
}

fn draft(page: PageId, payload: Payload) -> RecordDraft {
    RecordDraft {
        page,
        prev_page_lsn: Lsn::ZERO,
        payload,
    }
}

fn patch(rng: &mut u64, len: usize) -> Patch {
    let offset = (next(rng) % (8192 - len as u64)) as u16;
    Patch {
        offset,
        bytes: (0..len).map(|_| next(rng) as u8).collect(),
    }
}

fn half_full_image(rng: &mut u64) -> Vec<u8> {
    (0..4096).map(|_| next(rng) as u8).collect()
}

fn commit(rng: &mut u64) -> RecordDraft {
    draft(
        PageId::NONE,
        Payload::Commit {
            txn: TxnId(next(rng)),
            time_us: 0,
        },
    )
}

/// A row insert: the table leaf (slot entry and row), an index leaf (slot and key), the commit.
fn row_insert(rng: &mut u64) -> Vec<RecordDraft> {
    let leaf = PageId(10 + next(rng) % 100_000);
    let index = PageId(200_000 + next(rng) % 20_000);
    vec![
        draft(leaf, Payload::Patch(vec![patch(rng, 4), patch(rng, 120)])),
        draft(index, Payload::Patch(vec![patch(rng, 4), patch(rng, 24)])),
        commit(rng),
    ]
}

/// Nine row inserts in ten; one page split in ten.
fn realistic_mtr(rng: &mut u64) -> Vec<RecordDraft> {
    if !next(rng).is_multiple_of(10) {
        return row_insert(rng);
    }
    let new = PageId(300_000 + next(rng) % 1_000_000);
    let old = PageId(10 + next(rng) % 100_000);
    let parent = PageId(1 + next(rng) % 8);
    vec![
        draft(new, Payload::Init(half_full_image(rng))),
        draft(old, Payload::Patch(vec![patch(rng, 64)])),
        draft(parent, Payload::Patch(vec![patch(rng, 4), patch(rng, 16)])),
        commit(rng),
    ]
}

/// Records and encoded bytes of an MTR, as shipped.
fn size_of(mtr: &[RecordDraft]) -> (u64, u64) {
    let bytes = mtr
        .iter()
        .map(|d| {
            RedoRecord {
                lsn: Lsn(1),
                pg: PgId(0),
                prev_pg_lsn: Lsn::ZERO,
                page: d.page,
                prev_page_lsn: d.prev_page_lsn,
                known_vdl: Lsn::ZERO,
                cpl: false,
                payload: d.payload.clone(),
            }
            .encoded_len() as u64
        })
        .sum();
    (mtr.len() as u64, bytes)
}
