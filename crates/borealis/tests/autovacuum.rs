//! Vacuum over the wire: a table's size stays bounded under an update-heavy workload (50 000
//! updates of 1 000 rows, then 1 000 more rows), including after a long-lived snapshot made every
//! row keep its old versions for a while. Sizes are reported with `pg_table_size`.
//!
//! What reclaims the space in the first test is both commit-time pruning (a commit prunes the
//! chains it writes) and autovacuum (the rows nobody writes again); it bounds their sum. The
//! second test isolates autovacuum: every row is updated once while a snapshot holds the old
//! versions, then nobody writes the table again, so only autovacuum can remove them; progress is
//! read from `pg_stat_user_tables`.

#![allow(clippy::await_holding_lock, clippy::unwrap_used)]

mod common;

use common::{Cluster, serial};
use tokio_postgres::SimpleQueryMessage;

async fn value(client: &tokio_postgres::Client, sql: &str) -> String {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("`{sql}`: {e:?}"))
        .iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r.get(0).unwrap_or("NULL").to_string()),
            _ => None,
        })
        .unwrap_or_default()
}

async fn pages(client: &tokio_postgres::Client) -> i64 {
    value(
        client,
        "SELECT pg_table_size(oid) FROM pg_class WHERE relname = 't'",
    )
    .await
    .parse::<i64>()
    .unwrap()
        / 8192
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_size_stays_bounded_under_updates() {
    let _g = serial();
    let cluster = Cluster::start("autovacuum");
    let c = cluster.client().await;
    let reader = cluster.client().await;
    value(&c, "CREATE TABLE t (id int PRIMARY KEY, v int, pad text)").await;
    let pad = "x".repeat(100);
    // Odd keys now; the even keys between them come later, into the same leaves.
    value(
        &c,
        &format!("INSERT INTO t SELECT 2 * g - 1, 0, '{pad}' FROM generate_series(1, 1000) AS g"),
    )
    .await;
    let loaded = pages(&c).await;

    // A long-lived snapshot: every update must keep the versions it can read, so the leaves
    // fill with old versions.
    value(&reader, "BEGIN ISOLATION LEVEL REPEATABLE READ").await;
    assert_eq!(value(&reader, "SELECT sum(v) FROM t").await, "0");
    for _ in 0..10 {
        value(&c, "UPDATE t SET v = v + 1").await;
    }
    let held = pages(&c).await;
    assert_eq!(value(&reader, "SELECT sum(v) FROM t").await, "0");
    value(&reader, "COMMIT").await;
    // Give autovacuum a moment to prune the versions the snapshot pinned.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;

    // 1 000 inserts into the same leaves and 40 000 more updates: they fit in the space
    // reclaimed, so the table does not grow.
    value(
        &c,
        &format!("INSERT INTO t SELECT 2 * g, 0, '{pad}' FROM generate_series(1, 1000) AS g"),
    )
    .await;
    for _ in 0..20 {
        value(&c, "UPDATE t SET v = v + 1").await;
    }
    let after = pages(&c).await;
    assert_eq!(value(&c, "SELECT sum(v) FROM t").await, "50000");
    eprintln!(
        "pages: {loaded} loaded, {held} after 10 000 updates under a held snapshot, \
         {after} after 1 000 inserts and 40 000 more updates"
    );
    assert!(
        after <= held + held / 10,
        "the table kept growing: {loaded} → {held} → {after} pages"
    );
}

async fn stats(client: &tokio_postgres::Client) -> (i64, i64, i64) {
    let row = client
        .query_one(
            "SELECT n_tup_upd, n_dead_tup, autovacuum_count FROM pg_stat_user_tables \
             WHERE relname = 'held'",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autovacuum_alone_removes_versions_an_old_snapshot_held() {
    let _g = serial();
    let cluster = Cluster::start("autovacuum-alone");
    let c = cluster.client().await;
    let reader = cluster.client().await;
    value(&c, "CREATE TABLE held (id int PRIMARY KEY, v int)").await;
    value(
        &c,
        "INSERT INTO held SELECT g, 0 FROM generate_series(1, 1000) AS g",
    )
    .await;
    value(&reader, "BEGIN ISOLATION LEVEL REPEATABLE READ").await;
    assert_eq!(value(&reader, "SELECT sum(v) FROM held").await, "0");
    // One update of every row: commit-time pruning never sees these rows again.
    value(&c, "UPDATE held SET v = v + 1").await;
    let (updated, dead, _) = stats(&c).await;
    assert_eq!(updated, 1000);
    assert!(dead >= 1000, "{dead} dead versions counted");
    // Autovacuum passes while the snapshot holds the old versions remove none of them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, dead, passes) = stats(&c).await;
        if passes >= 1 {
            assert!(dead >= 1000, "a held version was removed: {dead} left");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no autovacuum pass");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(value(&reader, "SELECT sum(v) FROM held").await, "0");
    value(&reader, "COMMIT").await;
    let (_, _, passes_before) = stats(&c).await;

    // Nobody writes the table again; autovacuum alone must remove what the snapshot held.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (updated, dead, passes) = stats(&c).await;
        assert_eq!(updated, 1000, "nothing else wrote the table");
        if dead == 0 {
            assert!(passes > passes_before, "removed without an autovacuum pass");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "autovacuum left {dead} dead versions"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(value(&c, "SELECT sum(v) FROM held").await, "1000");
}

async fn analyzed(client: &tokio_postgres::Client) -> (i64, i64, String) {
    let row = client
        .query_one(
            "SELECT autoanalyze_count, n_mod_since_analyze, \
             (SELECT reltuples FROM pg_class WHERE relname = 'fresh')::text \
             FROM pg_stat_user_tables WHERE relname = 'fresh'",
            &[],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autoanalyze_follows_changes_past_the_threshold() {
    let _g = serial();
    let cluster = Cluster::start("autoanalyze");
    let c = cluster.client().await;
    value(&c, "CREATE TABLE fresh (id int PRIMARY KEY, v int)").await;
    // 40 rows: below the threshold of 50 changes, so nothing is analyzed.
    value(
        &c,
        "INSERT INTO fresh SELECT g, g % 7 FROM generate_series(1, 40) AS g",
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(analyzed(&c).await, (0, 40, "-1".into()));
    // 960 more: past it; autoanalyze gathers the statistics.
    value(
        &c,
        "INSERT INTO fresh SELECT g, g % 7 FROM generate_series(41, 1000) AS g",
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (count, mods, rows) = analyzed(&c).await;
        if count >= 1 {
            assert_eq!((count, mods, rows.as_str()), (1, 0, "1000"));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no autoanalyze");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        value(
            &c,
            "SELECT n_distinct || ' ' || most_common_vals FROM pg_stats \
             WHERE tablename = 'fresh' AND attname = 'v'"
        )
        .await,
        "7 {1,2,3,4,5,6,0}"
    );
    assert_eq!(
        value(
            &c,
            "SELECT last_autoanalyze IS NOT NULL AND last_analyze IS NULL FROM pg_stat_user_tables \
             WHERE relname = 'fresh'"
        )
        .await,
        "t"
    );
    // 100 updates: below 50 + 10 % of 1 000 rows, so the statistics stay.
    value(&c, "UPDATE fresh SET v = 0 WHERE id <= 100").await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(analyzed(&c).await, (1, 100, "1000".into()));
}
