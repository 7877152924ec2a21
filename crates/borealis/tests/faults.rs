//! Faults against real processes: storage nodes and the writer killed with SIGKILL under load,
//! and garbage bytes sent to every port. What clients were told is checked against what the
//! database holds afterwards.

// Tests hold the serial lock across awaits on purpose: one cluster at a time.
#![allow(clippy::await_holding_lock, clippy::unwrap_used)]

mod common;

use common::{Cluster, serial, sqlstate, storage_scl};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn count(c: &tokio_postgres::Client, table: &str) -> i64 {
    c.query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_a_whole_az_keeps_reads_and_writes_going() {
    let _g = serial();
    let mut cluster = Cluster::start("az");
    let c = cluster.client().await;
    c.batch_execute("CREATE TABLE t (id int8 PRIMARY KEY, v text)")
        .await
        .unwrap();
    for i in 0..100i64 {
        c.execute("INSERT INTO t VALUES ($1, 'before')", &[&i])
            .await
            .unwrap();
    }
    // AZ a holds nodes 1 and 2.
    cluster.kill_storage(0);
    cluster.kill_storage(1);
    for i in 100..300i64 {
        c.execute("INSERT INTO t VALUES ($1, 'during')", &[&i])
            .await
            .unwrap();
    }
    assert_eq!(count(&c, "t").await, 300);
    // A writer restarted now recovers from four segments and reads every page from storage.
    drop(c);
    cluster.kill_writer();
    cluster.start_writer();
    let c = cluster.client().await;
    assert_eq!(count(&c, "t").await, 300);
    c.execute("UPDATE t SET v = 'after' WHERE id < 50", &[])
        .await
        .unwrap();
    // The lost AZ returns and catches up from its peers; then any two others may fail.
    cluster.restart_storage(0);
    cluster.restart_storage(1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.kill_storage(4);
    cluster.kill_storage(5);
    drop(c);
    cluster.kill_writer();
    cluster.start_writer();
    let c = cluster.client().await;
    assert_eq!(count(&c, "t").await, 300);
    let after: i64 = c
        .query_one("SELECT count(*) FROM t WHERE v = 'after'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(after, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_down_blocks_commits_until_one_returns() {
    let _g = serial();
    let mut cluster = Cluster::start("three");
    let c = cluster.client().await;
    c.batch_execute("CREATE TABLE t (id int8 PRIMARY KEY, v text)")
        .await
        .unwrap();
    c.execute("INSERT INTO t VALUES (1, 'durable')", &[])
        .await
        .unwrap();
    cluster.kill_storage(0);
    cluster.kill_storage(2);
    cluster.kill_storage(4);

    // With three of six left, no commit may be acknowledged: the client's timeout expires.
    c.batch_execute("SET statement_timeout = '1s'")
        .await
        .unwrap();
    let started = Instant::now();
    let e = c
        .execute("INSERT INTO t VALUES (2, 'timed out')", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "57014", "{e:?}");
    assert!(started.elapsed() >= Duration::from_millis(900));

    // A commit without a timeout waits, and completes once a fourth node is back.
    let c2 = cluster.client().await;
    let pending = tokio::spawn(async move {
        c2.execute("INSERT INTO t VALUES (3, 'waited')", &[])
            .await
            .map(|_| ())
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !pending.is_finished(),
        "a commit was acknowledged with only three durable copies"
    );
    cluster.restart_storage(2);
    tokio::time::timeout(Duration::from_secs(30), pending)
        .await
        .expect("the commit completes once a fourth node returns")
        .unwrap()
        .unwrap();

    // Everything acknowledged survives a full restart of every node and the writer.
    drop(c);
    cluster.kill_writer();
    cluster.restart_storage(0);
    cluster.restart_storage(4);
    for i in 0..6 {
        cluster.kill_storage(i);
        cluster.restart_storage(i);
    }
    cluster.start_writer();
    let c = cluster.client().await;
    let rows: Vec<(i64, String)> = c
        .query("SELECT id, v FROM t ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(rows.contains(&(1, "durable".into())));
    assert!(rows.contains(&(3, "waited".into())));
    // The timed-out commit was applied at the writer and became durable when the quorum returned,
    // as a commit whose acknowledgement was lost may; it is whole either way.
    assert!(
        rows.len() == 2 || rows.contains(&(2, "timed out".into())),
        "{rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_writer_under_load_loses_no_acknowledged_commit() {
    let _g = serial();
    let mut cluster = Cluster::start("writer");
    let c = cluster.client().await;
    c.batch_execute("CREATE TABLE pairs (id int8 PRIMARY KEY, side text)")
        .await
        .unwrap();
    let mut pages_read = Vec::new();
    for round in 0..3i64 {
        let acked = Arc::new(Mutex::new(Vec::<i64>::new()));
        let mut workers = Vec::new();
        for w in 0..4i64 {
            let client = cluster.client().await;
            let acked = acked.clone();
            workers.push(tokio::spawn(async move {
                // Each transaction inserts a pair; a crash must never leave half of one.
                for n in 0..100_000i64 {
                    let id = round * 10_000_000 + w * 1_000_000 + n;
                    let r = client
                        .batch_execute(&format!(
                            "BEGIN; INSERT INTO pairs VALUES ({id}, 'left'); INSERT INTO pairs VALUES ({}, 'right'); COMMIT",
                            id + 500_000
                        ))
                        .await;
                    match r {
                        Ok(()) => acked.lock().unwrap().push(id),
                        Err(_) => return,
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        cluster.kill_writer();
        for w in workers {
            let _ = tokio::time::timeout(Duration::from_secs(10), w).await;
        }
        let line = cluster.start_writer().first_line.clone();
        let n: u64 = line
            .split(", ")
            .find_map(|p| p.strip_suffix(" pages read)"))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no page count in {line:?}"));
        pages_read.push(n);

        let c = cluster.client().await;
        let present: HashSet<i64> = c
            .query("SELECT id FROM pairs", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let acked = acked.lock().unwrap().clone();
        assert!(!acked.is_empty(), "the workload made no progress");
        eprintln!(
            "round {round}: {} transactions acknowledged, {} rows present",
            acked.len(),
            present.len()
        );
        for id in &acked {
            assert!(
                present.contains(id),
                "acknowledged commit {id} lost (round {round})"
            );
        }
        for id in &present {
            let (base, other) = if id % 1_000_000 >= 500_000 {
                (id - 500_000, *id)
            } else {
                (*id, id + 500_000)
            };
            assert!(
                present.contains(&base) && present.contains(&other),
                "half a transaction is visible: {id} without its pair (round {round})"
            );
        }
    }
    // Start-up reads the same handful of pages however much data there is: no redo replay.
    assert!(
        pages_read.iter().all(|n| *n <= 4),
        "pages read at start-up: {pages_read:?}"
    );
    drop(c);
}

async fn assert_closed(addr: &str, garbage: &[u8]) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(garbage).await.unwrap();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return,                   // closed
            Ok(Ok(_)) if Instant::now() < deadline => continue, // an error message, then close
            _ => panic!("{addr} kept a connection open after garbage"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_bytes_close_only_their_own_connection() {
    let _g = serial();
    let cluster = Cluster::start("garbage");
    let c = cluster.client().await;
    c.batch_execute("CREATE TABLE t (id int4 PRIMARY KEY); INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    let mut junk = vec![0u8; 64 * 1024];
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for b in junk.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    for addr in &cluster.storage_addrs {
        assert_closed(addr, &junk).await;
        // A frame header announcing 4 GiB must be refused before anything is allocated.
        assert_closed(addr, &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1]).await;
    }
    let sql_addr = cluster.writer.as_ref().unwrap().addr.clone();
    assert_closed(&sql_addr, &junk).await;
    assert_closed(
        &sql_addr,
        b"\x00\x00\x00\x08\x04\xd2\x16\x2fGET / HTTP/1.1\r\n\r\n",
    )
    .await;
    // Everyone else is still served, through every layer.
    c.execute("INSERT INTO t VALUES (2)", &[]).await.unwrap();
    assert_eq!(count(&c, "t").await, 2);
    let c2 = cluster.client().await;
    assert_eq!(count(&c2, "t").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_writer_fences_the_first() {
    let _g = serial();
    let mut cluster = Cluster::start("fence");
    let old = cluster.client().await;
    old.batch_execute("CREATE TABLE t (id int8 PRIMARY KEY, who text)")
        .await
        .unwrap();
    for i in 0..20i64 {
        old.execute("INSERT INTO t VALUES ($1, 'old')", &[&i])
            .await
            .unwrap();
    }

    // A new writer on the same volume raises the epoch on a write quorum during its recovery.
    let new_writer = cluster.start_second_writer();
    let url = format!("postgres://borealis@{}/borealis", new_writer.addr);
    let (new, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    assert_eq!(
        count(&new, "t").await,
        20,
        "the new writer sees every acknowledged commit"
    );

    // The old writer's next writes are refused by storage: its client gets an error, never an
    // acknowledgement.
    let mut refused = 0;
    for i in 100..110i64 {
        match old
            .execute("INSERT INTO t VALUES ($1, 'late')", &[&i])
            .await
        {
            Ok(_) => panic!("a fenced writer acknowledged a commit"),
            Err(_) => refused += 1,
        }
    }
    assert_eq!(refused, 10);
    // And it stops: its buffer pool may hold changes it can no longer log.
    let old_proc = cluster.writer.as_mut().unwrap();
    let mut exited = None;
    for _ in 0..50 {
        if let Some(status) = old_proc.child.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        exited.and_then(|s| s.code()),
        Some(3),
        "the fenced writer exits"
    );

    // None of its late writes ever appear; the new writer carries on.
    new.execute("INSERT INTO t VALUES (1000, 'new')", &[])
        .await
        .unwrap();
    let late: i64 = new
        .query_one("SELECT count(*) FROM t WHERE who = 'late'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(late, 0);
    assert_eq!(count(&new, "t").await, 21);
    drop(new);
    drop(new_writer);
}

/// A row value long enough that a few thousand rows fill dozens of pages.
fn padded(i: i64) -> String {
    format!("{i:08}-{}", "x".repeat(200))
}

/// Inserts rows `range` with [`padded`] values, a hundred per statement.
async fn load(c: &tokio_postgres::Client, range: std::ops::Range<i64>) {
    let ids: Vec<i64> = range.collect();
    for chunk in ids.chunks(100) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| format!("({i}, '{}')", padded(*i)))
            .collect();
        c.batch_execute(&format!("INSERT INTO t VALUES {}", values.join(", ")))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_an_az_and_one_more_node_keeps_every_row_readable() {
    let _g = serial();
    // The writer caches 16 pages; the table fills about sixty, so reading it back reads most of
    // its pages from the storage nodes that are left.
    let mut cluster = Cluster::start_with_pool("az-plus-one", 16);
    let c = cluster.client().await;
    c.batch_execute("CREATE TABLE t (id int8 PRIMARY KEY, v text)")
        .await
        .unwrap();
    load(&c, 0..2000).await;
    let expected: Vec<(i64, String)> = (0..2000).map(|i| (i, padded(i))).collect();

    // AZ a (nodes 1 and 2) and node 3 of AZ b: three segments are left, a read quorum and no
    // write quorum.
    cluster.kill_storage(0);
    cluster.kill_storage(1);
    cluster.kill_storage(2);
    let rows: Vec<(i64, String)> = c
        .query("SELECT id, v FROM t WHERE id < 2000 ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(rows == expected, "a committed row is missing or changed");
    for i in (0..2000i64).step_by(97) {
        let v: String = c
            .query_one("SELECT v FROM t WHERE id = $1", &[&i])
            .await
            .unwrap()
            .get(0);
        assert_eq!(v, padded(i));
    }

    // A commit needs four copies: it waits, and the statement timeout ends the wait.
    c.batch_execute("SET statement_timeout = '1s'")
        .await
        .unwrap();
    let e = c
        .execute("INSERT INTO t VALUES (1000000, 'never acknowledged')", &[])
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "57014", "{e:?}");

    // Reads keep being served after the blocked write.
    c.batch_execute("SET statement_timeout = 0").await.unwrap();
    let rows: Vec<(i64, String)> = c
        .query("SELECT id, v FROM t WHERE id < 2000 ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(rows == expected, "a committed row is missing or changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_lost_its_disk_is_refilled_from_its_peers_under_load() {
    let _g = serial();
    let mut cluster = Cluster::start_with_pool("lost-disk", 16);
    let c = cluster.client().await;
    c.batch_execute("CREATE TABLE t (id int8 PRIMARY KEY, v text)")
        .await
        .unwrap();
    load(&c, 0..3000).await;

    // A write workload runs throughout: single-row commits, each acknowledged one remembered.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<i64>::new()));
    let worker = {
        let client = cluster.client().await;
        let (stop, acked) = (stop.clone(), acked.clone());
        tokio::spawn(async move {
            for id in 1_000_000i64.. {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let v = padded(id);
                match client
                    .execute("INSERT INTO t VALUES ($1, $2)", &[&id, &v])
                    .await
                {
                    Ok(_) => acked.lock().unwrap().push(id),
                    Err(e) => panic!("commit {id} failed with one node down: {e}"),
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(1000)).await;

    // Node 4 loses its disk and comes back empty on the same port.
    cluster.wipe_storage(3);
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.restart_storage(3);
    let restored = cluster.storage_addrs[3].clone();
    tokio::time::sleep(Duration::from_millis(1000)).await;

    // While the workload goes on, its SCL reaches what the others held a moment ago: it holds
    // every record of the PG up to there, fetched from its peers.
    let mut target = borealis_common::Lsn::ZERO;
    for (i, addr) in cluster.storage_addrs.iter().enumerate() {
        if i != 3 {
            target = target.max(storage_scl(addr).await.expect("a live node answers"));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let scl = storage_scl(&restored).await.unwrap_or_default();
        if scl >= target {
            eprintln!("restored node reached SCL {scl} (target {target})");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the restored node is stuck at SCL {scl}, below {target}\n{}",
            cluster.storage_log(3)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::Relaxed);
    worker.await.unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 20,
        "the workload made progress: {}",
        acked.len()
    );
    eprintln!(
        "{} commits during the repair; repair log:\n{}",
        acked.len(),
        cluster
            .storage_log(3)
            .lines()
            .filter(|l| l.contains("repair"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // Now two other nodes fail, one in AZ a and one in AZ c. The restored node is one of the four
    // that are left: without it there is no write quorum, and a new writer cannot even recover.
    cluster.kill_storage(0);
    cluster.kill_storage(5);
    drop(c);
    cluster.kill_writer();
    cluster.start_writer();
    let c = cluster.client().await;
    c.batch_execute("SET statement_timeout = '20s'")
        .await
        .unwrap();
    let present: HashSet<i64> = c
        .query("SELECT id FROM t", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for id in (0..3000).chain(acked.iter().copied()) {
        assert!(present.contains(&id), "acknowledged row {id} lost");
    }
    for &id in acked.iter().step_by(acked.len() / 10 + 1) {
        let v: String = c
            .query_one("SELECT v FROM t WHERE id = $1", &[&id])
            .await
            .unwrap()
            .get(0);
        assert_eq!(v, padded(id));
    }
    c.execute("INSERT INTO t VALUES (5000000, 'after')", &[])
        .await
        .unwrap();
    assert_eq!(count(&c, "t").await, present.len() as i64 + 1);
}

/// Aurora's repair (SIGMOD 2018 §3): a storage node lost for good is replaced by a spare of the
/// same AZ through the dual-quorum state while writes go on; the replacement hydrates from its
/// peers and then counts, so two more original nodes can fail without losing anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_lost_for_good_is_replaced_by_a_spare_of_its_az_under_load() {
    let _g = serial();
    // Three spares, one per AZ: spare k (node 6 + k) is in AZ k mod 3; node 5 is in AZ c, as is
    // spare 2 (node 8).
    let mut cluster = Cluster::start_with_spares("replace", 16, 3);
    let c = cluster.client().await;
    c.batch_execute("CREATE TABLE t (id int8 PRIMARY KEY, v text)")
        .await
        .unwrap();
    load(&c, 0..3000).await;

    // A write workload runs throughout: every commit must succeed, each acknowledged one is
    // remembered.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<i64>::new()));
    let worker = {
        let client = cluster.client().await;
        let (stop, acked) = (stop.clone(), acked.clone());
        tokio::spawn(async move {
            for id in 1_000_000i64.. {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let v = padded(id);
                match client
                    .execute("INSERT INTO t VALUES ($1, $2)", &[&id, &v])
                    .await
                {
                    Ok(_) => acked.lock().unwrap().push(id),
                    Err(e) => panic!("commit {id} failed during the repair: {e}"),
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(1000)).await;

    // Node 6 (index 5, AZ c) dies and never comes back.
    let lost = cluster.storage_addrs[5].clone();
    let spare = cluster.spare_addrs[2].clone();
    cluster.kill_storage(5);
    let before = acked.lock().unwrap().len();

    // The writer replaces it by the spare of AZ c: the spare adopts a membership that names it
    // in slot 5, with no replacement in progress, and the lost node is no longer named.
    let deadline = Instant::now() + Duration::from_secs(60);
    let membership = loop {
        if let Some(m) = common::storage_membership(&spare).await
            && m.joining.is_none()
            && m.members.get(5) == Some(&spare)
        {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "the spare did not take slot 5; writer log:\n{}",
            cluster.writer_log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(!membership.names(&lost), "the lost node is dropped");
    for (i, addr) in cluster.storage_addrs.iter().enumerate().take(5) {
        assert_eq!(membership.members[i], *addr, "the other members stay");
    }
    let log = cluster.writer_log();
    let began = log
        .lines()
        .find(|l| l.contains("joins in its place"))
        .expect("the writer logs the start of the replacement");
    assert!(began.contains(&lost) && began.contains(&spare), "{began}");
    let completed = log
        .lines()
        .find(|l| l.contains("took slot 5"))
        .expect("the writer logs the end of the replacement");
    assert!(completed.contains(&spare), "{completed}");
    // The closing line reports the repair's size and rate: the spare held the whole PG, the
    // 3,000 loaded rows and the workload's commits since, estimated from the writer's record
    // sizes. How many records that is depends on how fast the workload committed before the
    // loss (each commit is a few records), so the check is on the bytes the loaded rows alone
    // must have brought.
    assert!(
        completed.contains(" MB, in ") && completed.contains(" MB/s"),
        "{completed}"
    );
    let copied = completed
        .split(" repair copied ")
        .nth(1)
        .unwrap_or_else(|| panic!("no repair size in {completed:?}"));
    let records: u64 = copied
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no record count in {completed:?}"));
    let megabytes: f64 = copied
        .split('≈')
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no byte count in {completed:?}"));
    assert!(records >= 30, "{completed}");
    assert!(
        megabytes * 1e6 >= 3000.0 * padded(0).len() as f64,
        "{completed}"
    );
    eprintln!("{began}\n{completed}");

    // Writes went on during the replacement and go on after it.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let during = acked.lock().unwrap().len();
    assert!(
        during > before + 20,
        "the workload made progress during the repair: {before} -> {during}"
    );

    // The replacement's SCL catches up with what the others hold (it is sent every new record and
    // fetched the old ones from its peers).
    let mut target = borealis_common::Lsn::ZERO;
    for addr in cluster.storage_addrs.iter().take(5) {
        target = target.max(storage_scl(addr).await.expect("a live node answers"));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let scl = storage_scl(&spare).await.unwrap_or_default();
        if scl >= target {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replacement is stuck at SCL {scl}, below {target}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::Relaxed);
    worker.await.unwrap();
    let acked = acked.lock().unwrap().clone();

    // Two more original nodes fail, in AZs a and b. Four members are left, the replacement one
    // of them: without it there would be no write quorum, and a new writer could not recover.
    cluster.kill_storage(0);
    cluster.kill_storage(2);
    drop(c);
    cluster.kill_writer();
    cluster.start_writer();
    let c = cluster.client().await;
    c.batch_execute("SET statement_timeout = '20s'")
        .await
        .unwrap();
    let present: HashSet<i64> = c
        .query("SELECT id FROM t", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for id in (0..3000).chain(acked.iter().copied()) {
        assert!(present.contains(&id), "acknowledged row {id} lost");
    }
    for &id in acked.iter().step_by(acked.len() / 10 + 1) {
        let v: String = c
            .query_one("SELECT v FROM t WHERE id = $1", &[&id])
            .await
            .unwrap()
            .get(0);
        assert_eq!(v, padded(id));
    }
    c.execute("INSERT INTO t VALUES (5000000, 'after')", &[])
        .await
        .unwrap();
    assert_eq!(count(&c, "t").await, present.len() as i64 + 1);
}
