//! `borealis up`: one command starts a whole cluster, prints its endpoints, stops every process on
//! SIGTERM, and resumes the same cluster with its data when run again.

// Tests hold the serial lock across awaits on purpose: one cluster at a time.
#![allow(clippy::await_holding_lock, clippy::unwrap_used)]

mod common;

use common::{BIN, serial};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

struct Up {
    child: std::process::Child,
    lines: Vec<String>,
}

impl Drop for Up {
    /// A failing test must not leave a cluster behind: SIGTERM makes `up` stop everything it
    /// started (SIGKILL would orphan its storage nodes and writer).
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .arg(self.child.id().to_string())
                .status();
            for _ in 0..50 {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn up(dir: &std::path::Path) -> Up {
    let mut child = Command::new(BIN)
        .args([
            "up",
            "--data-dir",
            &dir.display().to_string(),
            "--port",
            "0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start borealis up");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    while let Ok(l) = rx.recv_timeout(Duration::from_secs(60)) {
        let done = l.contains("cluster in");
        lines.push(l);
        if done {
            break;
        }
    }
    Up { child, lines }
}

fn pids_of_cluster(dir: &std::path::Path) -> Vec<String> {
    let out = Command::new("pgrep")
        .args(["-f", &dir.display().to_string()])
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_starts_a_cluster_stops_it_and_resumes_it() {
    let _g = serial();
    let dir = std::env::temp_dir().join(format!("borealis-test-up-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);

    let mut first = up(&dir);
    let endpoint = first
        .lines
        .iter()
        .find_map(|l| l.strip_prefix("cluster endpoint: "))
        .unwrap_or_else(|| panic!("no cluster endpoint line in {:?}", first.lines))
        .to_string();
    assert!(endpoint.starts_with("postgres://"), "{endpoint}");
    assert_eq!(
        first
            .lines
            .iter()
            .filter(|l| l.starts_with("storage node "))
            .count(),
        6
    );
    for az in ["a", "b", "c"] {
        assert!(
            dir.join(format!("az-{az}")).is_dir(),
            "AZ {az} has a data directory"
        );
    }
    // `up` and the six storage nodes name the data directory on their command lines; the writer
    // is checked through its port.
    assert_eq!(
        pids_of_cluster(&dir).len(),
        7,
        "up and six storage nodes, each its own process"
    );
    let writer_addr = endpoint
        .trim_start_matches("postgres://")
        .split('@')
        .nth(1)
        .and_then(|r| r.split('/').next())
        .expect("address")
        .to_string();

    let (client, conn) = tokio_postgres::connect(&endpoint, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client.batch_execute("CREATE TABLE kept (id int4 PRIMARY KEY, v text); INSERT INTO kept VALUES (1, 'one'), (2, 'two')").await.unwrap();
    drop(client);

    // SIGTERM stops every process it started.
    Command::new("kill")
        .arg(first.child.id().to_string())
        .status()
        .expect("kill");
    let status = first.child.wait().expect("wait");
    assert!(status.success(), "up exits cleanly on SIGTERM: {status}");
    let mut left = pids_of_cluster(&dir);
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        left = pids_of_cluster(&dir);
    }
    assert!(left.is_empty(), "processes left running: {left:?}");
    assert!(
        std::net::TcpStream::connect(&writer_addr).is_err(),
        "the writer still listens after SIGTERM"
    );

    // Running it again resumes the same cluster with its data.
    let mut second = up(&dir);
    assert!(
        second
            .lines
            .iter()
            .any(|l| l.starts_with("resumed cluster")),
        "{:?}",
        second.lines
    );
    let endpoint = second
        .lines
        .iter()
        .find_map(|l| l.strip_prefix("cluster endpoint: "))
        .expect("endpoint")
        .to_string();
    let (client, conn) = tokio_postgres::connect(&endpoint, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let rows = client
        .query("SELECT v FROM kept ORDER BY id", &[])
        .await
        .unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>(),
        vec!["one", "two"]
    );
    drop(client);
    Command::new("kill")
        .arg(second.child.id().to_string())
        .status()
        .expect("kill");
    let _ = second.child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
