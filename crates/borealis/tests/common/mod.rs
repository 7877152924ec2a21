//! A real cluster of OS processes for tests: six storage nodes (and optionally spares) and a
//! writer on ephemeral loopback ports, each process killable with SIGKILL and restartable on the
//! same port and data directory. Every process is killed when the cluster is dropped.

#![allow(dead_code)]

pub mod postgres;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

/// Tests that start clusters run one at a time: the machine has two cores.
pub static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

pub const BIN: &str = env!("CARGO_BIN_EXE_borealis");

pub struct Proc {
    pub child: Child,
    pub addr: String,
    pub first_line: String,
}

impl Proc {
    pub fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Starts `borealis ARGS`, waits for its first stdout line (which names its address), and keeps
/// draining the rest so the pipe never fills. Stderr goes to `log`.
pub fn start(args: &[String], log: &PathBuf) -> Proc {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file))
        .spawn()
        .expect("start borealis");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(l)) = lines.next() {
            let _ = tx.send(l);
        }
        for _ in lines {}
    });
    let first_line = match rx.recv_timeout(Duration::from_secs(90)) {
        Ok(l) => l,
        Err(_) => {
            let _ = child.kill();
            let tail = std::fs::read_to_string(log).unwrap_or_default();
            panic!("borealis {args:?} did not start; log:\n{tail}");
        }
    };
    let addr = first_line
        .split_whitespace()
        .find(|w| w.parse::<std::net::SocketAddr>().is_ok())
        .unwrap_or_else(|| panic!("no address in {first_line:?}"))
        .to_string();
    Proc {
        child,
        addr,
        first_line,
    }
}

pub struct Cluster {
    pub dir: PathBuf,
    /// The six original storage nodes (0–5), then the spares (6, 7, …).
    pub storage: Vec<Option<Proc>>,
    /// The six original storage nodes' addresses (what the writer's `--storage` names).
    pub storage_addrs: Vec<String>,
    /// The spares' addresses (the writer's `--spares`): spare k, node 6 + k, is in AZ k mod 3.
    pub spare_addrs: Vec<String>,
    /// More storage nodes new protection groups may be placed on (the writer's
    /// `--more-storage`), after the spares: more node k is in AZ k mod 3.
    pub more_addrs: Vec<String>,
    pub writer: Option<Proc>,
    /// The writer's buffer pool, in pages: small pools make reads really go to storage.
    pub buffer_pool_pages: usize,
    /// More arguments for the writer (`instance`), kept across restarts.
    pub writer_args: Vec<String>,
    /// More arguments for every storage node, kept across restarts.
    pub storage_args: Vec<String>,
}

fn unique_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!(
        "borealis-test-{name}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("test dir");
    dir
}

impl Cluster {
    pub fn start(name: &str) -> Cluster {
        Cluster::start_with_pool(name, 256)
    }

    /// A cluster whose writer caches only `buffer_pool_pages` pages.
    pub fn start_with_pool(name: &str, buffer_pool_pages: usize) -> Cluster {
        Cluster::start_with_spares(name, buffer_pool_pages, 0)
    }

    /// A cluster with `spares` spare storage nodes besides the six, given to the writer.
    pub fn start_with_spares(name: &str, buffer_pool_pages: usize, spares: usize) -> Cluster {
        Cluster::start_with_args(name, buffer_pool_pages, spares, &[])
    }

    /// A cluster whose writer gets `writer_args` besides the usual ones.
    pub fn start_with_args(
        name: &str,
        buffer_pool_pages: usize,
        spares: usize,
        writer_args: &[&str],
    ) -> Cluster {
        Cluster::start_with_storage_args(name, buffer_pool_pages, spares, writer_args, &[])
    }

    /// A cluster whose writer gets `writer_args` and whose storage nodes get `storage_args`
    /// besides the usual ones.
    pub fn start_with_storage_args(
        name: &str,
        buffer_pool_pages: usize,
        spares: usize,
        writer_args: &[&str],
        storage_args: &[&str],
    ) -> Cluster {
        Cluster::start_full(
            name,
            buffer_pool_pages,
            spares,
            0,
            writer_args,
            storage_args,
        )
    }

    /// A cluster of the six storage nodes and `more` more (on which the volume grows), whose
    /// writer gets `writer_args` besides the usual ones (`--pg-size` for one).
    pub fn start_with_more(
        name: &str,
        buffer_pool_pages: usize,
        more: usize,
        writer_args: &[&str],
    ) -> Cluster {
        Cluster::start_full(name, buffer_pool_pages, 0, more, writer_args, &[])
    }

    fn start_full(
        name: &str,
        buffer_pool_pages: usize,
        spares: usize,
        more: usize,
        writer_args: &[&str],
        storage_args: &[&str],
    ) -> Cluster {
        let dir = unique_dir(name);
        let mut c = Cluster {
            dir,
            storage: Vec::new(),
            storage_addrs: Vec::new(),
            spare_addrs: Vec::new(),
            more_addrs: Vec::new(),
            writer: None,
            buffer_pool_pages,
            writer_args: writer_args.iter().map(|a| (*a).to_string()).collect(),
            storage_args: storage_args.iter().map(|a| (*a).to_string()).collect(),
        };
        for i in 0..6 + spares + more {
            let p = c.spawn_storage(i, "127.0.0.1:0");
            if i < 6 {
                c.storage_addrs.push(p.addr.clone());
            } else if i < 6 + spares {
                c.spare_addrs.push(p.addr.clone());
            } else {
                c.more_addrs.push(p.addr.clone());
            }
            c.storage.push(Some(p));
        }
        c.start_writer();
        c
    }

    /// The address of storage node `i` (a spare from 6 on, then the more nodes).
    pub fn addr(&self, i: usize) -> String {
        if i < 6 {
            self.storage_addrs[i].clone()
        } else if i < 6 + self.spare_addrs.len() {
            self.spare_addrs[i - 6].clone()
        } else {
            self.more_addrs[i - 6 - self.spare_addrs.len()].clone()
        }
    }

    /// The data directory of storage node `i`.
    pub fn storage_dir(&self, i: usize) -> PathBuf {
        self.dir.join(format!("node-{}", i + 1))
    }

    fn spawn_storage(&self, i: usize, listen: &str) -> Proc {
        let mut args: Vec<String> = vec![
            "storage".into(),
            "--node-id".into(),
            (i + 1).to_string(),
            "--data-dir".into(),
            self.dir
                .join(format!("node-{}", i + 1))
                .display()
                .to_string(),
            "--listen".into(),
            listen.into(),
        ];
        args.extend(self.storage_args.iter().cloned());
        start(&args, &self.dir.join(format!("storage-{}.log", i + 1)))
    }

    pub fn kill_storage(&mut self, i: usize) {
        if let Some(mut p) = self.storage[i].take() {
            p.kill9();
        }
    }

    /// Kills storage node `i` and deletes its data directory: a lost disk. Restart it with
    /// [`restart_storage`](Self::restart_storage) to bring it back empty on the same port.
    pub fn wipe_storage(&mut self, i: usize) {
        self.kill_storage(i);
        let dir = self.dir.join(format!("node-{}", i + 1));
        std::fs::remove_dir_all(&dir).expect("remove the node's data directory");
    }

    /// What storage node `i` has logged to stderr so far.
    pub fn storage_log(&self, i: usize) -> String {
        std::fs::read_to_string(self.dir.join(format!("storage-{}.log", i + 1))).unwrap_or_default()
    }

    pub fn restart_storage(&mut self, i: usize) {
        assert!(self.storage[i].is_none(), "storage node {i} is running");
        let addr = self.addr(i);
        // The port was ours a moment ago; retry briefly if the kernel still holds it.
        for attempt in 0.. {
            let listener_free = std::net::TcpListener::bind(&addr).is_ok();
            if listener_free || attempt > 50 {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.storage[i] = Some(self.spawn_storage(i, &addr));
    }

    pub fn start_writer(&mut self) -> &Proc {
        assert!(self.writer.is_none(), "a writer is running");
        let mut args: Vec<String> = vec![
            "instance".into(),
            "--storage".into(),
            self.storage_addrs.join(","),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--buffer-pool-pages".into(),
            self.buffer_pool_pages.to_string(),
        ];
        if !self.spare_addrs.is_empty() {
            args.push("--spares".into());
            args.push(self.spare_addrs.join(","));
        }
        if !self.more_addrs.is_empty() {
            args.push("--more-storage".into());
            args.push(self.more_addrs.join(","));
        }
        args.extend(self.writer_args.iter().cloned());
        self.writer = Some(start(&args, &self.dir.join("writer.log")));
        self.writer.as_ref().expect("writer")
    }

    /// Starts another writer on the same volume, beside the current one (which is kept).
    pub fn start_second_writer(&self) -> Proc {
        let args: Vec<String> = vec![
            "instance".into(),
            "--storage".into(),
            self.storage_addrs.join(","),
            "--listen".into(),
            "127.0.0.1:0".into(),
        ];
        start(&args, &self.dir.join("writer-2.log"))
    }

    pub fn kill_writer(&mut self) {
        if let Some(mut p) = self.writer.take() {
            p.kill9();
        }
    }

    pub fn url(&self) -> String {
        format!(
            "postgres://borealis@{}/borealis",
            self.writer.as_ref().expect("writer").addr
        )
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    }

    /// The writer's peak and current resident memory in KiB (`VmHWM`, `VmRSS`).
    pub fn writer_memory_kib(&self) -> (u64, u64) {
        let pid = self.writer.as_ref().expect("writer").child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                .expect("memory field")
        };
        (field("VmHWM:"), field("VmRSS:"))
    }

    pub fn writer_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("writer.log")).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.writer.take();
        self.storage.clear();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            // A failure far away (in CI) is explained by what the processes said last.
            eprintln!("cluster files kept in {}", self.dir.display());
            let mut logs: Vec<PathBuf> = std::fs::read_dir(&self.dir)
                .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
            logs.retain(|p| p.extension().is_some_and(|x| x == "log"));
            logs.sort();
            for log in logs {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let lines: Vec<&str> = text.lines().collect();
                let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
                eprintln!("--- last lines of {}:\n{}", log.display(), tail.join("\n"));
            }
        }
    }
}

/// Lines of each process's log shown when a test fails.
const LOG_TAIL_LINES: usize = 15;

/// The SQLSTATE of a failed statement.
pub fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code()
        .map(|c| c.code().to_string())
        .unwrap_or_else(|| format!("no SQLSTATE: {e}"))
}

/// Asks a storage node for its state (`GetState`, which any client may send) and returns the
/// membership it adopted, or `None` if the node does not answer.
pub async fn storage_membership(addr: &str) -> Option<borealis_common::proto::Membership> {
    storage_state(addr).await.map(|s| s.membership)
}

/// Asks a storage node for its state (`GetState`), or `None` if the node does not answer.
pub async fn storage_state(addr: &str) -> Option<borealis_common::proto::SegmentState> {
    use borealis_common::frame::{encode_frame, read_frame, write_frames};
    use borealis_common::proto::{Request, Response};
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        let (kind, body) = Request::GetState {
            epoch: borealis_common::Epoch(0),
            pg: borealis_common::PgId(0),
        }
        .encode(1);
        let mut frame = Vec::new();
        encode_frame(kind, &body, &mut frame);
        write_frames(&mut s, &frame).await.ok()?;
        let (kind, body) = read_frame(&mut s).await.ok()??;
        match Response::decode(kind, &body).ok()? {
            (_, Response::State(st)) => Some(st),
            _ => None,
        }
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .ok()
        .flatten()
}

/// Asks a storage node for its state (`GetState`, which any client may send) and returns the SCL
/// of PG 0, or `None` if the node does not answer.
pub async fn storage_scl(addr: &str) -> Option<borealis_common::Lsn> {
    use borealis_common::frame::{encode_frame, read_frame, write_frames};
    use borealis_common::proto::{Request, Response};
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        let (kind, body) = Request::GetState {
            epoch: borealis_common::Epoch(0),
            pg: borealis_common::PgId(0),
        }
        .encode(1);
        let mut frame = Vec::new();
        encode_frame(kind, &body, &mut frame);
        write_frames(&mut s, &frame).await.ok()?;
        let (kind, body) = read_frame(&mut s).await.ok()??;
        match Response::decode(kind, &body).ok()? {
            (_, Response::State(st)) => Some(
                st.pgs
                    .iter()
                    .find(|p| p.pg == borealis_common::PgId(0))
                    .map_or(borealis_common::Lsn::ZERO, |p| p.scl),
            ),
            _ => None,
        }
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .ok()
        .flatten()
}
