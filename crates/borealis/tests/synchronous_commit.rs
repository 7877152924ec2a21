//! `synchronous_commit = off` over the wire: a commit is acknowledged before it is durable, and
//! the session still sees its own commit in its next statement (which waits for durability).
//!
//! Durability is held back by killing three of the six storage nodes (no write quorum): a
//! session with `synchronous_commit = on` then cannot get its commit acknowledged, one with `off`
//! can, and its next statement waits until the nodes return.

#![allow(clippy::await_holding_lock, clippy::unwrap_used)]

mod common;

use common::{Cluster, serial};
use std::time::Duration;
use tokio_postgres::SimpleQueryMessage;

async fn values(client: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("`{sql}`: {e}"))
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap_or("NULL").to_string()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_are_acknowledged_early_and_read_back() {
    let _g = serial();
    let mut cluster = Cluster::start("synchronous-commit");
    let sync = cluster.client().await;
    // The startup parameter form, as PGOPTIONS sends it.
    let mut config: tokio_postgres::Config = cluster.url().parse().unwrap();
    let (early, connection) = config
        .options("-c synchronous_commit=off")
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    assert_eq!(values(&early, "SHOW synchronous_commit").await, vec!["off"]);
    values(&sync, "CREATE TABLE t (id int PRIMARY KEY)").await;
    let bad = sync
        .simple_query("SET synchronous_commit = sometimes")
        .await;
    assert_eq!(common::sqlstate(&bad.unwrap_err()), "22023");

    for i in 0..3 {
        cluster.kill_storage(i);
    }
    // Without a write quorum an acknowledged commit would have to wait forever.
    values(&sync, "SET statement_timeout = '500ms'").await;
    let e = sync
        .simple_query("INSERT INTO t VALUES (1)")
        .await
        .unwrap_err();
    assert_eq!(common::sqlstate(&e), "57014", "{e}");
    // With synchronous_commit = off the commit is acknowledged at once.
    tokio::time::timeout(
        Duration::from_secs(5),
        early.simple_query("INSERT INTO t VALUES (2)"),
    )
    .await
    .expect("an asynchronous commit waited for durability")
    .unwrap();
    // Its next statement must see that commit, so it waits for it to become durable.
    let read = tokio::spawn(async move {
        let rows = values(&early, "SELECT id FROM t ORDER BY id").await;
        (early, rows)
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !read.is_finished(),
        "a snapshot was taken below the session's own commit"
    );
    for i in 0..3 {
        cluster.restart_storage(i);
    }
    let (early, rows) = tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("the read stayed blocked after the storage nodes returned")
        .unwrap();
    assert_eq!(rows, vec!["1", "2"]);
    // A session that has nothing pending is not held up.
    values(&early, "SET synchronous_commit = on").await;
    assert_eq!(values(&early, "SELECT count(*) FROM t").await, vec!["2"]);
}
