//! Row locks and timeouts over the wire, two sessions at a time: `SELECT … FOR UPDATE / FOR NO
//! KEY UPDATE / FOR SHARE / FOR KEY SHARE` with NOWAIT and SKIP LOCKED, blocking, READ COMMITTED
//! re-checks, serialization failures, `lock_timeout`, deadlocks, `statement_timeout` and
//! `idle_in_transaction_session_timeout`. Each expectation is what PostgreSQL 15 does.

#![allow(clippy::await_holding_lock, clippy::unwrap_used)]

mod common;

use common::{Cluster, serial};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, SimpleQueryMessage};

/// How long a statement must stay unfinished to count as blocked.
const BLOCK_MS: u64 = 400;
/// How long any statement may take before the test fails.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

type Outcome = Result<Vec<String>, String>;

/// Runs `sql`; the rows' columns joined by `,`, or the SQLSTATE of the failure.
async fn simple(client: &Client, sql: &str) -> Outcome {
    match tokio::time::timeout(STEP_TIMEOUT, client.simple_query(sql)).await {
        Err(_) => Err(format!("`{sql}` took too long")),
        Ok(Ok(msgs)) => Ok(msgs
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => Some(
                    (0..r.len())
                        .map(|i| r.get(i).unwrap_or("NULL").to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                ),
                _ => None,
            })
            .collect()),
        Ok(Err(e)) => Err(common::sqlstate(&e)),
    }
}

async fn ok(client: &Client, sql: &str) -> Vec<String> {
    simple(client, sql)
        .await
        .unwrap_or_else(|e| panic!("`{sql}` failed: {e}"))
}

async fn fails(client: &Client, sql: &str) -> String {
    match simple(client, sql).await {
        Ok(rows) => panic!("`{sql}` succeeded with {rows:?}"),
        Err(code) => code,
    }
}

/// Starts `sql` on `client` and checks that it is still running after [`BLOCK_MS`].
async fn blocks(client: &Arc<Client>, sql: &str) -> JoinHandle<Outcome> {
    let c = client.clone();
    let owned = sql.to_string();
    let handle = tokio::spawn(async move { simple(&c, &owned).await });
    tokio::time::sleep(Duration::from_millis(BLOCK_MS)).await;
    assert!(!handle.is_finished(), "`{sql}` did not block");
    handle
}

async fn finish(handle: JoinHandle<Outcome>) -> Outcome {
    tokio::time::timeout(STEP_TIMEOUT, handle)
        .await
        .expect("a blocked statement stayed blocked")
        .unwrap()
}

fn ids(rows: &[String]) -> Vec<i64> {
    rows.iter()
        .map(|r| r.split(',').next().unwrap().parse().unwrap())
        .collect()
}

async fn reset_jobs(admin: &Client) {
    ok(admin, "DROP TABLE IF EXISTS jobs").await;
    ok(admin, "CREATE TABLE jobs (id int PRIMARY KEY, state text)").await;
    ok(
        admin,
        "INSERT INTO jobs SELECT g, 'new' FROM generate_series(1, 10) AS g",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_for_update_locks_rows_like_postgresql() {
    let _g = serial();
    let cluster = Cluster::start("locking-select");
    let admin = cluster.client().await;
    let a = Arc::new(cluster.client().await);
    let b = Arc::new(cluster.client().await);
    reset_jobs(&admin).await;

    // Queue consumers: SKIP LOCKED hands each its own rows, and LIMIT bounds what is locked.
    let take = "SELECT id FROM jobs WHERE state = 'new' ORDER BY id LIMIT 2 FOR UPDATE SKIP LOCKED";
    ok(&a, "BEGIN").await;
    ok(&b, "BEGIN").await;
    let got_a = ids(&ok(&a, take).await);
    let got_b = ids(&ok(&b, take).await);
    assert_eq!(got_a, vec![1, 2]);
    assert_eq!(got_b, vec![3, 4]);
    let rest = ids(&ok(
        &b,
        "SELECT id FROM jobs ORDER BY id FOR NO KEY UPDATE SKIP LOCKED",
    )
    .await);
    assert_eq!(rest, vec![3, 4, 5, 6, 7, 8, 9, 10], "a's rows are skipped");
    // NOWAIT fails at once on a row a holds; the block is then aborted.
    assert_eq!(
        fails(&b, "SELECT id FROM jobs WHERE id = 1 FOR KEY SHARE NOWAIT").await,
        "55P03"
    );
    assert_eq!(fails(&b, "SELECT 1").await, "25P02");
    ok(&b, "ROLLBACK").await;
    ok(&a, "ROLLBACK").await;

    // FOR UPDATE blocks a concurrent UPDATE until the locker commits; FOR SHARE blocks it too,
    // and two FOR SHARE lockers do not block each other.
    ok(&a, "BEGIN").await;
    assert_eq!(
        ok(&a, "SELECT id, state FROM jobs WHERE id = 1 FOR UPDATE").await,
        vec!["1,new"]
    );
    let upd = blocks(&b, "UPDATE jobs SET state = 'done' WHERE id = 1").await;
    ok(&a, "COMMIT").await;
    finish(upd).await.unwrap();
    ok(&a, "BEGIN").await;
    ok(&a, "SELECT id FROM jobs WHERE id = 2 FOR SHARE").await;
    ok(&b, "BEGIN").await;
    ok(&b, "SELECT id FROM jobs WHERE id = 2 FOR SHARE NOWAIT").await;
    ok(&b, "ROLLBACK").await;
    let upd = blocks(&b, "UPDATE jobs SET state = 'done' WHERE id = 2").await;
    ok(&a, "ROLLBACK").await;
    finish(upd).await.unwrap();

    // READ COMMITTED: a row changed while we waited is re-checked against WHERE and returned as
    // its newest version.
    ok(&a, "BEGIN").await;
    ok(&a, "UPDATE jobs SET state = 'taken' WHERE id = 3").await;
    ok(&a, "UPDATE jobs SET state = 'new, again' WHERE id = 4").await;
    let sel = blocks(
        &b,
        "SELECT id, state FROM jobs WHERE id IN (3, 4, 5) AND state LIKE 'new%' ORDER BY id FOR UPDATE",
    )
    .await;
    ok(&a, "COMMIT").await;
    assert_eq!(finish(sel).await.unwrap(), vec!["4,new, again", "5,new"]);

    // REPEATABLE READ: a row updated after the snapshot cannot be locked.
    ok(&b, "BEGIN ISOLATION LEVEL REPEATABLE READ").await;
    ok(&b, "SELECT count(*) FROM jobs").await;
    ok(&a, "UPDATE jobs SET state = 'x' WHERE id = 6").await;
    assert_eq!(
        fails(&b, "SELECT id FROM jobs WHERE id = 6 FOR UPDATE").await,
        "40001"
    );
    ok(&b, "ROLLBACK").await;

    // lock_timeout bounds the wait for both UPDATE and SELECT … FOR SHARE.
    ok(&a, "BEGIN").await;
    ok(&a, "SELECT id FROM jobs WHERE id = 7 FOR UPDATE").await;
    ok(&b, "SET lock_timeout = '200ms'").await;
    assert_eq!(
        fails(&b, "UPDATE jobs SET state = 'y' WHERE id = 7").await,
        "55P03"
    );
    assert_eq!(
        fails(&b, "SELECT id FROM jobs WHERE id = 7 FOR SHARE").await,
        "55P03"
    );
    ok(&b, "SET lock_timeout = 0").await;
    ok(&a, "ROLLBACK").await;

    // A deadlock between two sessions: exactly one of them fails with 40P01; once it rolls
    // back, the other gets its row.
    ok(&a, "BEGIN").await;
    ok(&b, "BEGIN").await;
    ok(&a, "SELECT id FROM jobs WHERE id = 8 FOR UPDATE").await;
    ok(&b, "SELECT id FROM jobs WHERE id = 9 FOR UPDATE").await;
    let wa = blocks(&a, "SELECT id FROM jobs WHERE id = 9 FOR UPDATE").await;
    let bc = b.clone();
    let wb =
        tokio::spawn(
            async move { simple(&bc, "SELECT id FROM jobs WHERE id = 8 FOR UPDATE").await },
        );
    let deadline = tokio::time::Instant::now() + STEP_TIMEOUT;
    while !wa.is_finished() && !wb.is_finished() {
        assert!(tokio::time::Instant::now() < deadline, "no deadlock found");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (victim, victim_handle, survivor, survivor_handle) = if wb.is_finished() {
        (&b, wb, &a, wa)
    } else {
        (&a, wa, &b, wb)
    };
    assert_eq!(finish(victim_handle).await, Err("40P01".to_string()));
    ok(victim, "ROLLBACK").await;
    finish(survivor_handle).await.unwrap();
    ok(survivor, "COMMIT").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_cancel_statements_and_end_idle_transactions() {
    let _g = serial();
    let cluster = Cluster::start("locking-timeouts");
    let admin = cluster.client().await;
    let a = Arc::new(cluster.client().await);
    let b = Arc::new(cluster.client().await);
    reset_jobs(&admin).await;

    // statement_timeout cancels a statement waiting for a row lock (57014); inside a block the
    // block is then failed (25P02) until ROLLBACK.
    ok(&a, "BEGIN").await;
    ok(&a, "SELECT id FROM jobs WHERE id = 1 FOR UPDATE").await;
    ok(&b, "SET statement_timeout = '300ms'").await;
    ok(&b, "BEGIN").await;
    assert_eq!(
        fails(&b, "UPDATE jobs SET state = 'b' WHERE id = 1").await,
        "57014"
    );
    assert_eq!(fails(&b, "SELECT 1").await, "25P02");
    ok(&b, "ROLLBACK").await;
    assert_eq!(
        fails(&b, "SELECT id FROM jobs WHERE id = 1 FOR SHARE").await,
        "57014"
    );
    // … and a statement that runs long; the next statement is not affected.
    ok(&b, "SET statement_timeout = '50ms'").await;
    assert_eq!(
        fails(&b, "SELECT count(*) FROM generate_series(1, 3000000) AS g").await,
        "57014"
    );
    assert_eq!(ok(&b, "SELECT 1").await, vec!["1"]);
    ok(&b, "SET statement_timeout = 0").await;
    ok(&a, "ROLLBACK").await;

    // idle_in_transaction_session_timeout ends a session idle inside a transaction with FATAL
    // 25P03, closes its connection and releases its locks.
    let (c, connection) = tokio_postgres::connect(&cluster.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    ok(&c, "SET idle_in_transaction_session_timeout = '300ms'").await;
    ok(&c, "SELECT 1").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        !connection.is_finished(),
        "an idle session outside a block is kept"
    );
    ok(&c, "BEGIN").await;
    ok(&c, "SELECT id FROM jobs WHERE id = 2 FOR UPDATE").await;
    let ended = tokio::time::timeout(STEP_TIMEOUT, connection)
        .await
        .expect("the idle session was not ended")
        .unwrap();
    let e = ended.expect_err("the connection ended with an error");
    assert_eq!(common::sqlstate(&e), "25P03", "{e}");
    assert!(c.simple_query("SELECT 1").await.is_err());
    assert_eq!(
        ok(&b, "SELECT id FROM jobs WHERE id = 2 FOR UPDATE NOWAIT").await,
        vec!["2"],
        "the ended session's locks are released"
    );
}
