//! Secondary indexes over the real wire: builds over existing rows, lookups and ranges that
//! answer exactly as full scans do, unique violations (23505 with PostgreSQL's detail) from every
//! write path, NULLs in unique indexes, concurrent inserters of one unique key, transactional
//! DDL, index maintenance under UPDATE/DELETE/TRUNCATE, a writer restart, and psql's listings.

// Tests hold the serial lock across awaits on purpose: one cluster at a time.
#![allow(clippy::await_holding_lock, clippy::unwrap_used)]

mod common;

use common::{Cluster, serial, sqlstate};
use std::process::Command;
use std::time::Duration;
use tokio_postgres::Client;

/// Every row of `sql` as text, in the order returned.
async fn rows(c: &Client, sql: &str) -> Vec<Vec<Option<String>>> {
    c.simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect()
}

/// The SQLSTATE and detail of a statement that must fail.
async fn error(c: &Client, sql: &str) -> (String, Option<String>) {
    let e = c.batch_execute(sql).await.expect_err(sql);
    let detail = e.as_db_error().and_then(|d| d.detail().map(str::to_string));
    (sqlstate(&e), detail)
}

/// Queries whose answers must not depend on the access path.
const QUERIES: &[&str] = &[
    "SELECT id FROM t WHERE a = 3 ORDER BY id",
    "SELECT id FROM t WHERE a = 3 AND b = 'b3' ORDER BY id",
    "SELECT id FROM t WHERE a = 3 AND b > 'b1' ORDER BY id",
    "SELECT id FROM t WHERE a > 15 ORDER BY id",
    "SELECT id FROM t WHERE a >= 5 AND a < 7 ORDER BY id",
    "SELECT id FROM t WHERE a BETWEEN 2 AND 4 AND id < 150 ORDER BY id",
    "SELECT id FROM t WHERE 3 >= a ORDER BY id",
    "SELECT id FROM t WHERE a = NULL",
    "SELECT count(*) FROM t WHERE a IS NULL",
    "SELECT id FROM t WHERE u = 42",
    "SELECT id FROM t WHERE u > 290 ORDER BY id",
    "SELECT id FROM t WHERE id > 280 AND id <= 285 ORDER BY id",
    "SELECT id FROM t WHERE id BETWEEN 10 AND 13 ORDER BY id",
    "SELECT x.id, y.id FROM t x, t y WHERE x.a = 5 AND y.u = x.id ORDER BY 1, 2",
];

async fn answers(c: &Client) -> Vec<Vec<Vec<Option<String>>>> {
    let mut out = Vec::with_capacity(QUERIES.len());
    for q in QUERIES {
        out.push(rows(c, q).await);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexes_answer_like_full_scans_and_enforce_uniqueness() {
    let _g = serial();
    let mut cluster = Cluster::start("sql-indexes");
    let c = cluster.client().await;
    c.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, a int, b text, u int);
         INSERT INTO t SELECT g, g % 20, 'b' || (g % 7), g FROM generate_series(1, 300) AS g;
         INSERT INTO t VALUES (301, NULL, NULL, NULL), (302, NULL, 'x', NULL)",
    )
    .await
    .unwrap();
    let full_scan = answers(&c).await;

    // Built over the rows already there, in one transaction with its catalog entry.
    c.batch_execute("CREATE INDEX ON t (a, b); CREATE UNIQUE INDEX t_u ON t (u)")
        .await
        .unwrap();
    assert_eq!(answers(&c).await, full_scan);
    let by_param = c
        .query(
            "SELECT id FROM t WHERE a = $1 AND b = $2 ORDER BY id",
            &[&3i32, &"b3"],
        )
        .await
        .unwrap();
    assert_eq!(
        by_param
            .iter()
            .map(|r| r.get::<_, i32>(0))
            .collect::<Vec<_>>(),
        [3, 143, 283]
    );
    assert_eq!(
        rows(
            &c,
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 't' ORDER BY 1"
        )
        .await,
        [
            [
                Some("t_a_b_idx".into()),
                Some("CREATE INDEX t_a_b_idx ON public.t USING btree (a, b)".into())
            ],
            [
                Some("t_pkey".into()),
                Some("CREATE UNIQUE INDEX t_pkey ON public.t USING btree (id)".into())
            ],
            [
                Some("t_u".into()),
                Some("CREATE UNIQUE INDEX t_u ON public.t USING btree (u)".into())
            ],
        ]
    );

    // Unique violations, from INSERT (single, multi-row, INSERT … SELECT) and UPDATE.
    let dup = (
        "23505".to_string(),
        Some("Key (u)=(42) already exists.".to_string()),
    );
    assert_eq!(
        error(&c, "INSERT INTO t VALUES (400, 1, 'z', 42)").await,
        dup
    );
    assert_eq!(
        error(
            &c,
            "INSERT INTO t VALUES (400, 1, 'z', 400), (401, 1, 'z', 42)"
        )
        .await,
        dup
    );
    assert_eq!(
        error(
            &c,
            "INSERT INTO t SELECT 500 + id, a, b, u FROM t WHERE id = 42"
        )
        .await,
        dup
    );
    assert_eq!(error(&c, "UPDATE t SET u = 42 WHERE id = 41").await, dup);
    // The build sorts its entries, then inserts them in order: the first duplicated key in
    // index order is named. (PostgreSQL names the pair its sort happens to compare first:
    // `(a)=(12)` here.)
    assert_eq!(
        error(&c, "CREATE UNIQUE INDEX ON t (a)").await,
        ("23505".into(), Some("Key (a)=(0) is duplicated.".into()))
    );
    // NULLs are distinct: any number of rows may hold NULL in a unique column.
    c.batch_execute("INSERT INTO t VALUES (303, NULL, NULL, NULL)")
        .await
        .unwrap();
    // A key freed in the same statement or transaction can be taken again.
    c.batch_execute(
        "BEGIN; DELETE FROM t WHERE id = 303; UPDATE t SET u = 303 WHERE id = 302; COMMIT",
    )
    .await
    .unwrap();
    assert_eq!(
        rows(&c, "SELECT id FROM t WHERE u = 303").await,
        [[Some("302".into())]]
    );
    c.batch_execute("UPDATE t SET u = NULL WHERE id = 302")
        .await
        .unwrap();

    // DDL is transactional; names are PostgreSQL's; dependent indexes are refused.
    c.batch_execute("BEGIN; CREATE INDEX t_b ON t (b); ROLLBACK")
        .await
        .unwrap();
    assert!(
        rows(&c, "SELECT 1 FROM pg_indexes WHERE indexname = 't_b'")
            .await
            .is_empty()
    );
    assert_eq!(error(&c, "DROP INDEX t_b").await.0, "42704");
    c.batch_execute("DROP INDEX IF EXISTS t_b").await.unwrap();
    assert_eq!(error(&c, "DROP INDEX t_pkey").await.0, "2BP01");
    assert_eq!(error(&c, "CREATE INDEX t ON t (b)").await.0, "42P07");
    assert_eq!(
        error(&c, "ALTER TABLE t ADD CONSTRAINT t_b_a UNIQUE (b, a)")
            .await
            .1,
        Some("Key (b, a)=(b0, 0) is duplicated.".into())
    );
    assert_eq!(error(&c, "DROP INDEX t").await.0, "42809");

    // Writes keep every index in step; compare with the same queries once the indexes are gone.
    c.batch_execute(
        "UPDATE t SET a = a + 1 WHERE id < 50;
         UPDATE t SET id = id + 1000 WHERE id BETWEEN 100 AND 120;
         UPDATE t SET b = 'changed' WHERE a = 5;
         DELETE FROM t WHERE a = 7;
         DELETE FROM t WHERE u > 295",
    )
    .await
    .unwrap();
    let indexed = answers(&c).await;

    // The indexes survive a writer restart.
    drop(c);
    cluster.kill_writer();
    cluster.start_writer();
    let c = cluster.client().await;
    assert_eq!(answers(&c).await, indexed);
    assert_eq!(
        error(&c, "INSERT INTO t VALUES (999, 1, 'z', 42)").await,
        dup
    );

    c.batch_execute("DROP INDEX t_a_b_idx; DROP INDEX t_u")
        .await
        .unwrap();
    assert_eq!(answers(&c).await, indexed, "index and full scan disagree");

    // TRUNCATE empties the indexes with the table.
    c.batch_execute(
        "CREATE UNIQUE INDEX t_u ON t (u); TRUNCATE t; INSERT INTO t VALUES (1, 1, 'a', 42)",
    )
    .await
    .unwrap();
    assert_eq!(
        rows(&c, "SELECT id FROM t WHERE u = 42").await,
        [[Some("1".into())]]
    );
    assert_eq!(error(&c, "INSERT INTO t VALUES (2, 1, 'a', 42)").await, dup);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_inserter_of_a_unique_key_waits_for_the_first() {
    let _g = serial();
    let cluster = Cluster::start("sql-indexes-concurrent");
    let a = cluster.client().await;
    a.batch_execute("CREATE TABLE k (id int PRIMARY KEY, email text UNIQUE)")
        .await
        .unwrap();
    for (finish, second_succeeds) in [("COMMIT", false), ("ROLLBACK", true)] {
        a.batch_execute("BEGIN; INSERT INTO k VALUES (1, 'x@y')")
            .await
            .unwrap();
        let b = cluster.client().await;
        let second = tokio::spawn(async move {
            let r = b.batch_execute("INSERT INTO k VALUES (2, 'x@y')").await;
            r.map_err(|e| {
                let detail = e.as_db_error().and_then(|d| d.detail().map(str::to_string));
                (sqlstate(&e), detail)
            })
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!second.is_finished(), "the second inserter waits");
        a.batch_execute(finish).await.unwrap();
        let r = tokio::time::timeout(Duration::from_secs(30), second)
            .await
            .expect("the second inserter is released")
            .unwrap();
        if second_succeeds {
            r.unwrap();
        } else {
            assert_eq!(
                r.unwrap_err(),
                (
                    "23505".to_string(),
                    Some("Key (email)=(x@y) already exists.".to_string())
                )
            );
        }
        assert_eq!(
            rows(&a, "SELECT id FROM k WHERE email = 'x@y'").await,
            [[Some(if second_succeeds { "2" } else { "1" }.to_string())]]
        );
        a.batch_execute("DELETE FROM k").await.unwrap();
    }
}

/// Runs psql; returns (stdout, stderr).
fn psql(cluster: &Cluster, args: &[&str]) -> (String, String) {
    let addr = cluster.writer.as_ref().unwrap().addr.clone();
    let (host, port) = addr.rsplit_once(':').unwrap();
    let program = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("psql"))
        .find(|p| p.is_file())
        .expect("psql is on the PATH");
    let out = Command::new(program)
        .args([
            "-X", "-h", host, "-p", port, "-U", "borealis", "-d", "borealis",
        ])
        .args(args)
        .current_dir(&cluster.dir)
        .output()
        .expect("run psql");
    (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_lists_indexes_and_copy_checks_uniqueness() {
    let _g = serial();
    let cluster = Cluster::start("sql-indexes-psql");
    let c = cluster.client().await;
    c.batch_execute(
        "CREATE TABLE t (id int PRIMARY KEY, a int, b text, c int UNIQUE);
         CREATE UNIQUE INDEX ON t (a, b);
         CREATE INDEX ON t (a);
         INSERT INTO t VALUES (1, 1, 'x', 1)",
    )
    .await
    .unwrap();
    let (d, err) = psql(&cluster, &["-c", "\\d t"]);
    assert!(err.is_empty(), "{err}");
    let indexes: Vec<&str> = d
        .lines()
        .skip_while(|l| !l.starts_with("Indexes:"))
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        indexes,
        [
            "\"t_pkey\" PRIMARY KEY, btree (id)",
            "\"t_a_b_idx\" UNIQUE, btree (a, b)",
            "\"t_a_idx\" btree (a)",
            "\"t_c_key\" UNIQUE CONSTRAINT, btree (c)",
        ],
        "{d}"
    );
    let (di, err) = psql(&cluster, &["-A", "-t", "-c", "\\di"]);
    assert!(err.is_empty(), "{err}");
    let listed: Vec<&str> = di.lines().collect();
    assert_eq!(
        listed,
        [
            "public|t_a_b_idx|index|borealis|t",
            "public|t_a_idx|index|borealis|t",
            "public|t_c_key|index|borealis|t",
            "public|t_pkey|index|borealis|t",
        ],
        "{di}"
    );

    // COPY FROM checks unique indexes row by row; the failed COPY leaves nothing behind.
    std::fs::write(cluster.dir.join("rows.csv"), "2,2,y,5\n3,3,z,1\n").unwrap();
    let (_, err) = psql(&cluster, &["-c", "\\copy t from 'rows.csv' with csv"]);
    assert!(
        err.contains("ERROR:  duplicate key value violates unique constraint \"t_c_key\""),
        "{err}"
    );
    assert!(
        err.contains("DETAIL:  Key (c)=(1) already exists."),
        "{err}"
    );
    assert_eq!(
        rows(&c, "SELECT count(*) FROM t WHERE c = 5").await,
        [[Some("0".into())]]
    );
    std::fs::write(cluster.dir.join("rows.csv"), "2,2,y,5\n3,3,z,6\n").unwrap();
    let (out, err) = psql(&cluster, &["-c", "\\copy t from 'rows.csv' with csv"]);
    assert!(out.contains("COPY 2"), "{out}{err}");
    assert_eq!(
        rows(&c, "SELECT id FROM t WHERE c = 6").await,
        [[Some("3".into())]]
    );
}
