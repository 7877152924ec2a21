//! Large transactions over the wire: one COPY of far more data than the writer's write buffer
//! and buffer pool commits with the writer's memory bounded (a COPY six times as large as the
//! first ones needs no more memory than they did: its writes are spilled into pages as
//! uncommitted versions as they arrive), and a writer killed with SIGKILL in the middle of
//! such a COPY comes back with none of it visible, nothing locked, and the garbage vacuumed.

#![allow(clippy::await_holding_lock, clippy::unwrap_used)]

mod common;

use common::{Cluster, serial};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio_postgres::SimpleQueryMessage;

/// Rows of the first COPY (about 130 bytes each); the second sends six times as many. Both
/// are far beyond the write buffer and the buffer pool given to the writer below.
const ROWS: u64 = 150_000;
const WRITE_BUFFER_BYTES: &str = "1048576";
const POOL_PAGES: usize = 512;
/// The writer's send log bound (see the first test).
const SEND_LOG_BYTES: &str = "4MiB";

async fn value(client: &tokio_postgres::Client, sql: &str) -> String {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("`{sql}`: {e}"))
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap_or("NULL").to_string()),
            _ => None,
        })
        .unwrap_or_default()
}

fn row(i: u64) -> String {
    format!("{i}\t{}\t{i:0>100}\n", i * 7)
}

/// Starts `psql -c "COPY t FROM STDIN"` against the cluster; rows are written to its stdin.
fn copy_process(url: &str) -> std::process::Child {
    Command::new("psql")
        .arg(url)
        .args([
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            "COPY t FROM STDIN",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("psql must be installed (postgresql-client)")
}

/// Sends rows `from..=to` through one `COPY t FROM STDIN` and waits for it to commit.
async fn copy_rows(url: &str, from: u64, to: u64) {
    let mut copy = copy_process(url);
    let mut stdin = copy.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let mut buf = String::with_capacity(1 << 20);
        for i in from..=to {
            buf.push_str(&row(i));
            if buf.len() > (1 << 20) - 200 {
                stdin.write_all(buf.as_bytes()).unwrap();
                buf.clear();
            }
        }
        stdin.write_all(buf.as_bytes()).unwrap();
    });
    writer.join().unwrap();
    let out = tokio::task::spawn_blocking(move || copy.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "COPY failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_big_copy_commits_with_bounded_writer_memory() {
    let _g = serial();
    // The writer's send log holds up to twice --send-log-bytes (records above VDL, and durable
    // ones kept for lagging segments), so its memory moves with how far storage lags: by up to
    // 128 MiB at the default, more than the COPY below. Made small here, that cannot hide or
    // imitate a write set held in memory.
    let cluster = Cluster::start_with_args(
        "large-copy",
        POOL_PAGES,
        0,
        &[
            "--txn-write-buffer-bytes",
            WRITE_BUFFER_BYTES,
            "--send-log-bytes",
            SEND_LOG_BYTES,
        ],
    );
    let c = cluster.client().await;
    value(
        &c,
        "CREATE TABLE t (id bigint PRIMARY KEY, n bigint, pad text)",
    )
    .await;
    // Two first COPYs bring the writer to its working size: buffer pool, write buffer, send
    // log, the allocator's caches.
    copy_rows(&cluster.url(), 1, ROWS / 2).await;
    copy_rows(&cluster.url(), ROWS / 2 + 1, ROWS).await;
    let (peak_first, _) = cluster.writer_memory_kib();
    // A COPY six times as large as the two together: held in memory, its write set alone
    // would add more than its data; spilled, the writer needs no more than for the first ones.
    // The peak still moves by up to ~35 MiB from run to run (the allocator's retained pages,
    // the send log's share, storage lag), whatever the COPY's size: 100 MiB of data keeps that
    // noise well under the bound of half the data.
    let second = 6 * ROWS;
    copy_rows(&cluster.url(), ROWS + 1, ROWS + second).await;
    let (peak_second, _) = cluster.writer_memory_kib();
    let data_kib = second * row(ROWS).len() as u64 / 1024;
    let growth = peak_second.saturating_sub(peak_first);
    eprintln!(
        "writer peak memory: {peak_first} KiB after {ROWS} rows, {peak_second} KiB after {second} \
         more ({data_kib} KiB of COPY data)"
    );
    // Held in memory, the write set would add at least the data itself; the send log (up to
    // twice SEND_LOG_BYTES) and the allocator moved the peak by 0 to 8 MiB in runs here.
    assert!(
        growth < data_kib / 2,
        "writer memory grew by {growth} KiB for {data_kib} KiB of COPY data"
    );
    let total = ROWS + second;
    assert_eq!(value(&c, "SELECT count(*) FROM t").await, total.to_string());
    assert_eq!(
        value(&c, "SELECT sum(n) FROM t").await,
        (7 * total * (total + 1) / 2).to_string()
    );
    assert_eq!(
        value(&c, "SELECT pad FROM t WHERE id = 123456").await,
        format!("{:0>100}", 123_456)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_killed_during_a_big_copy_comes_back_without_any_of_it() {
    let _g = serial();
    let mut cluster = Cluster::start_with_args(
        "large-copy-kill",
        POOL_PAGES,
        0,
        &["--txn-write-buffer-bytes", WRITE_BUFFER_BYTES],
    );
    let c = cluster.client().await;
    value(
        &c,
        "CREATE TABLE t (id bigint PRIMARY KEY, n bigint, pad text)",
    )
    .await;
    value(&c, "INSERT INTO t VALUES (-1, 1, 'before')").await;
    let size_before: i64 = value(
        &c,
        "SELECT pg_table_size(oid) FROM pg_class WHERE relname = 't'",
    )
    .await
    .parse()
    .unwrap();

    let mut copy = copy_process(&cluster.url());
    let mut stdin = copy.stdin.take().unwrap();
    // Send rows until the table has grown well past one write buffer of spilled versions
    // (its pages are visible to pg_table_size even though no row is), then kill the writer.
    let watcher = cluster.client().await;
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut sent = 0u64;
    loop {
        let mut buf = String::new();
        for i in sent + 1..=sent + 20_000 {
            buf.push_str(&row(i));
        }
        sent += 20_000;
        stdin.write_all(buf.as_bytes()).unwrap();
        let size: i64 = value(
            &watcher,
            "SELECT pg_table_size(oid) FROM pg_class WHERE relname = 't'",
        )
        .await
        .parse()
        .unwrap();
        assert_eq!(value(&watcher, "SELECT count(*) FROM t").await, "1");
        if size > size_before + 4 * 1024 * 1024 {
            break;
        }
        assert!(
            Instant::now() < deadline && sent < 4 * ROWS,
            "the table did not grow while {sent} rows were copied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(watcher);
    drop(c);
    cluster.kill_writer();
    drop(stdin);
    let _ = copy.wait();

    cluster.start_writer();
    let c = cluster.client().await;
    // Only the row committed before the COPY.
    assert_eq!(value(&c, "SELECT count(*) FROM t").await, "1");
    assert_eq!(value(&c, "SELECT pad FROM t WHERE id = -1").await, "before");
    // The dead transaction's rows lock nothing: the same keys go in at once.
    let fresh = cluster.client().await;
    fresh.simple_query("SET lock_timeout = '2s'").await.unwrap();
    value(
        &fresh,
        "INSERT INTO t SELECT g, g, 'after' FROM generate_series(1, 1000) AS g",
    )
    .await;
    assert_eq!(value(&c, "SELECT count(*) FROM t").await, "1001");
    // VACUUM removes the garbage (pages are not given back yet) and keeps every live row.
    value(&c, "VACUUM t").await;
    assert_eq!(value(&c, "SELECT count(*) FROM t").await, "1001");
    assert_eq!(
        value(&c, "SELECT sum(n) FROM t WHERE id > 0").await,
        "500500"
    );
}
