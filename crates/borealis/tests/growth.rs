//! Auto-growth with real processes: a volume of tiny protection groups (32 pages each) on nine
//! storage nodes grows a new PG every time a page beyond its end is written, places each one two
//! per AZ over all nine nodes, and keeps every acknowledged commit through a writer killed with
//! `kill -9` under load and through the loss of a whole AZ.

// Tests hold the serial lock across awaits on purpose: one cluster at a time.
#![allow(clippy::await_holding_lock, clippy::unwrap_used)]

mod common;

use common::{Cluster, serial};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// 32 pages of 8 KiB per protection group.
const PG_SIZE: &str = "256KiB";
/// Storage nodes beyond the first six: nine in all, three per AZ.
const MORE: usize = 3;

/// Inserts pairs of padded rows, four clients at once, for `ms`; returns the ids whose
/// transaction was acknowledged. Stops a client at its first error.
async fn load(cluster: &Cluster, round: i64, ms: u64) -> Vec<i64> {
    let acked = Arc::new(Mutex::new(Vec::<i64>::new()));
    let mut workers = Vec::new();
    for w in 0..4i64 {
        let client = cluster.client().await;
        let acked = acked.clone();
        workers.push(tokio::spawn(async move {
            for n in 0..100_000i64 {
                let id = round * 10_000_000 + w * 1_000_000 + n;
                let r = client
                    .batch_execute(&format!(
                        "BEGIN; INSERT INTO pairs VALUES ({id}, repeat('l', 400)); INSERT INTO pairs VALUES ({}, repeat('r', 400)); COMMIT",
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
    tokio::time::sleep(Duration::from_millis(ms)).await;
    for w in workers {
        w.abort();
        let _ = w.await;
    }
    acked.lock().unwrap().clone()
}

/// Every acknowledged pair is present, whole, and every row reads back intact.
async fn check(cluster: &Cluster, acked: &[i64], what: &str) {
    let c = cluster.client().await;
    let rows = c
        .query("SELECT id, length(side) FROM pairs", &[])
        .await
        .unwrap();
    let present: HashSet<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert!(
        rows.iter().all(|r| r.get::<_, i32>(1) == 400),
        "{what}: a row came back damaged"
    );
    for id in acked {
        assert!(
            present.contains(id) && present.contains(&(id + 500_000)),
            "{what}: acknowledged commit {id} lost"
        );
    }
    for id in &present {
        let base = if id % 1_000_000 >= 500_000 {
            id - 500_000
        } else {
            *id
        };
        assert!(
            present.contains(&base) && present.contains(&(base + 500_000)),
            "{what}: half a transaction is visible: {id}"
        );
    }
}

/// The number of PGs the writer says the volume has grown to.
fn pgs_grown(cluster: &Cluster) -> usize {
    cluster
        .writer_log()
        .lines()
        .filter_map(|l| l.split("grew to ").nth(1))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .max()
        .unwrap_or(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_volume_grows_over_every_node_and_a_killed_writer_loses_nothing() {
    let _g = serial();
    // A small buffer pool: reads go to the segments of every PG.
    let mut cluster = Cluster::start_with_more("growth", 64, MORE, &["--pg-size", PG_SIZE]);
    let c = cluster.client().await;
    c.batch_execute("CREATE TABLE pairs (id int8 PRIMARY KEY, side text)")
        .await
        .unwrap();
    let mut all = Vec::new();
    for round in 0..2i64 {
        let acked = load(&cluster, round, 2500).await;
        assert!(!acked.is_empty(), "round {round}: no progress");
        all.extend(acked);
        let grown = pgs_grown(&cluster);
        cluster.kill_writer();
        let line = cluster.start_writer().first_line.clone();
        let log = cluster.writer_log();
        let recovered = log
            .lines()
            .rfind(|l| l.contains("recovered term"))
            .unwrap_or_default()
            .to_string();
        eprintln!(
            "round {round}: {} commits, {grown} PGs; {recovered}; {line}",
            all.len()
        );
        // Every PG the killed writer logged (it logs one after storing the map) is found; a
        // growth it was killed in the middle of may be found too.
        let found: usize = recovered
            .split(" protection group(s)")
            .next()
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(
            found >= grown,
            "recovery did not find every PG: {recovered:?}, grown {grown}"
        );
        check(&cluster, &all, &format!("round {round}")).await;
    }
    let grown = pgs_grown(&cluster);
    assert!(grown >= 4, "only {grown} PGs: the volume did not grow");
    // Each PG is placed two per AZ, and with nine nodes the segments spread over all of them.
    for i in 0..6 + MORE {
        let segments = std::fs::read_dir(cluster.storage_dir(i))
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("pg-"))
            .count();
        assert!(
            segments > 0,
            "storage node {} holds no segment of a grown PG",
            i + 1
        );
    }
    let mut by_az = [0usize; 3];
    for line in cluster
        .writer_log()
        .lines()
        .filter(|l| l.contains("grew to"))
    {
        let members: Vec<&str> = line
            .split('[')
            .nth(1)
            .unwrap_or_default()
            .split(',')
            .collect();
        assert_eq!(members.len(), 6, "six segments: {line}");
        for (slot, m) in members.iter().enumerate() {
            let addr = m.trim_matches(|c: char| c == '"' || c == ']' || c.is_whitespace());
            let node = (0..6 + MORE)
                .find(|&i| cluster.addr(i) == addr)
                .unwrap_or_else(|| panic!("unknown node {addr}"));
            let az = if node < 6 { node / 2 } else { (node - 6) % 3 };
            assert_eq!(az, slot / 2, "slot {slot} of {line} outside its AZ");
            by_az[az] += 1;
        }
    }
    assert!(by_az.iter().all(|&n| n > 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grown_volume_keeps_writing_and_growing_without_an_az() {
    let _g = serial();
    let mut cluster = Cluster::start_with_more("growth-az", 64, MORE, &["--pg-size", PG_SIZE]);
    let c = cluster.client().await;
    c.batch_execute("CREATE TABLE pairs (id int8 PRIMARY KEY, side text)")
        .await
        .unwrap();
    let mut all = load(&cluster, 0, 1500).await;
    let before = pgs_grown(&cluster);
    assert!(before >= 2, "the volume did not grow");
    // AZ a is nodes 1, 2 and the first more node: every PG keeps four of its six segments.
    for i in [0, 1, 6] {
        cluster.kill_storage(i);
    }
    let acked = load(&cluster, 1, 2500).await;
    assert!(!acked.is_empty(), "no commit without AZ a");
    all.extend(acked);
    let after = pgs_grown(&cluster);
    assert!(
        after > before,
        "no new PG was placed while AZ a was down ({before} → {after})"
    );
    check(&cluster, &all, "without AZ a").await;
    // A new writer recovers the grown volume from the four segments left of each PG.
    cluster.kill_writer();
    cluster.start_writer();
    check(&cluster, &all, "recovered without AZ a").await;
}
