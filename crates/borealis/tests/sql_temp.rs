//! Temporary tables over the real wire: a session's temporary relations are its own (another
//! session gets 42P01 for them, even qualified with the owner's `pg_temp_N`, and may make its
//! own of the same name), they shadow permanent relations of the same name, they go when the
//! session's connection ends, and any a crash left behind are removed when the writer next
//! starts (the writer's log says how many sessions' it removed).

// Tests hold the serial lock across awaits on purpose: one cluster at a time.
#![allow(clippy::await_holding_lock, clippy::unwrap_used)]

mod common;

use common::{Cluster, serial, sqlstate};
use std::time::Duration;
use tokio_postgres::Client;

/// Most polls of `pg_stat_activity` for a closed connection's session to end.
const POLLS_MAX: usize = 200;
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Every row of `sql` as text, NULL as "NULL".
async fn texts(c: &Client, sql: &str) -> Vec<Vec<String>> {
    c.simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("NULL").to_string())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

async fn fails_with(c: &Client, sql: &str) -> String {
    sqlstate(&c.batch_execute(sql).await.expect_err(sql))
}

const REMOVED: &str = "removed the temporary relations of";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_tables_are_private_and_end_with_their_session() {
    let _g = serial();
    let mut cluster = Cluster::start("sql-temp");
    let a = cluster.client().await;
    let b = cluster.client().await;
    a.batch_execute(
        "CREATE TABLE t (x int); INSERT INTO t VALUES (1);
         CREATE TEMP TABLE t (a int PRIMARY KEY, b text); CREATE INDEX ON t (b);
         INSERT INTO t VALUES (7, 'seven'), (8, 'eight');
         CREATE TEMP TABLE only_a (z int)",
    )
    .await
    .unwrap();
    assert_eq!(
        texts(&a, "SELECT a FROM t WHERE b = 'eight'").await,
        [["8"]]
    );
    let temp_schema = texts(
        &a,
        "SELECT nspname FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid \
         WHERE c.relname = 'only_a'",
    )
    .await[0][0]
        .clone();
    assert!(temp_schema.starts_with("pg_temp_"), "{temp_schema}");
    assert_eq!(
        texts(&b, "SELECT x FROM t").await,
        [["1"]],
        "b reads public.t"
    );
    assert_eq!(fails_with(&b, "SELECT * FROM only_a").await, "42P01");
    assert_eq!(
        fails_with(&b, &format!("SELECT * FROM {temp_schema}.only_a")).await,
        "42P01"
    );
    assert_eq!(
        texts(&b, "SELECT count(*) FROM pg_class WHERE relname = 'only_a'").await,
        [["0"]]
    );
    b.batch_execute("CREATE TEMP TABLE t (a int); INSERT INTO t VALUES (9)")
        .await
        .unwrap();
    assert_eq!(texts(&b, "SELECT a FROM t").await, [["9"]]);
    assert_eq!(
        texts(&a, "SELECT a FROM t ORDER BY a").await,
        [["7"], ["8"]]
    );

    // A's connection ends: its session (and its temporary relations) with it.
    let a_pid = texts(&a, "SELECT pg_backend_pid()").await[0][0].clone();
    drop(a);
    let gone = format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {a_pid}");
    let mut polls = 0;
    while texts(&b, &gone).await != [["0"]] {
        polls += 1;
        assert!(polls < POLLS_MAX, "session {a_pid} did not end");
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    // B's commit is acknowledged once durable, and it follows A's clean-up: that is durable too.
    b.batch_execute("CREATE TABLE sentinel (x int)")
        .await
        .unwrap();

    // The writer crashes with B's temporary table in place; the next start removes it, and only
    // it (A's went at disconnect).
    cluster.kill_writer();
    drop(b);
    assert!(!cluster.writer_log().contains(REMOVED));
    cluster.start_writer();
    let c = cluster.client().await;
    let log = cluster.writer_log();
    assert!(
        log.contains(&format!("{REMOVED} 1 ended session(s)")),
        "{log}"
    );
    assert_eq!(texts(&c, "SELECT x FROM t").await, [["1"]]);
    assert_eq!(
        texts(
            &c,
            "SELECT count(*) FROM pg_class WHERE relname = 'sentinel'"
        )
        .await,
        [["1"]]
    );
    c.batch_execute("CREATE TEMP TABLE t (a int)")
        .await
        .unwrap();
    assert!(texts(&c, "SELECT * FROM t").await.is_empty());
}
