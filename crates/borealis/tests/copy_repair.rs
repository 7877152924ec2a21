//! Copy repair against real processes: a storage node loses its disk after its peers collected
//! far past anything it could fetch by gossip, and is repaired by a copy of a peer's cut (its
//! bases and the records they need) while a write workload runs. Every acknowledged row is then
//! read back with the repaired node in every write quorum.

// Tests hold the serial lock across awaits on purpose: one cluster at a time.
#![allow(clippy::await_holding_lock, clippy::unwrap_used)]

mod common;

use common::{Cluster, serial, storage_scl};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// Waits until `cond` holds for the log of storage node `i`, or fails after `secs`.
async fn wait_for_log(
    cluster: &Cluster,
    i: usize,
    secs: u64,
    what: &str,
    cond: impl Fn(&str) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let log = cluster.storage_log(i);
        if cond(&log) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "storage node {i}: {what} did not happen in {secs} s; log:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_peers_collected_past_its_lost_disk_is_repaired_by_a_copy_under_load() {
    let _g = serial();
    let started = Instant::now();
    // No retention below PGMRPL, and a lagging peer holds nothing back: the survivors collect
    // everything below what the writer reads at their first checkpoint.
    let mut cluster = Cluster::start_with_storage_args(
        "copy-repair",
        16,
        0,
        &[],
        &["--retention-lsns", "0", "--peer-lag-lsns", "0"],
    );
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
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Node 4 loses its disk. While it is down its peers checkpoint and collect: the records it
    // would need from them are gone.
    cluster.wipe_storage(3);
    for i in [0, 1, 2, 4, 5] {
        wait_for_log(&cluster, i, 30, "a collection", |log| {
            log.contains("collected") && !log.contains("collected 0 records")
        })
        .await;
    }
    cluster.restart_storage(3);
    let restored = cluster.storage_addrs[3].clone();

    // It meets its peers' collection floor, copies a peer's cut, installs it and gossips on.
    wait_for_log(&cluster, 3, 30, "a copy repair", |log| {
        log.contains("repaired by a copy")
    })
    .await;
    let log = cluster.storage_log(3);
    assert!(
        log.contains("copying its bases"),
        "gossip met a collection floor first:\n{log}"
    );
    let mut target = borealis_common::Lsn::ZERO;
    for (i, addr) in cluster.storage_addrs.iter().enumerate() {
        if i != 3 {
            target = target.max(storage_scl(addr).await.expect("a live node answers"));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(20);
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
            .filter(|l| l.contains("cop") || l.contains("repair"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // Two other nodes fail, one in AZ a and one in AZ c: the restored node is one of the four
    // left, so every write quorum and every recovery now needs what it copied.
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
    eprintln!("test took {} ms", started.elapsed().as_millis());
}
