//! The DDL and DML applications and dumps need, over the real wire: column defaults (and
//! `DEFAULT` in INSERT and UPDATE), SET/DROP NOT NULL, sequences (nextval and friends, serial and
//! identity columns, values that survive a writer restart without being handed out twice, and
//! concurrent callers that never share a value), and RETURNING over the simple and the extended
//! protocol, with psql's listings of all of them.

// Tests hold the serial lock across awaits on purpose: one cluster at a time.
#![allow(clippy::await_holding_lock, clippy::unwrap_used)]

mod common;

use common::{Cluster, serial, sqlstate};
use std::collections::BTreeSet;
use std::process::Command;
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

/// The rows of `sql` as text, NULL as "NULL".
async fn texts(c: &Client, sql: &str) -> Vec<Vec<String>> {
    rows(c, sql)
        .await
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|v| v.unwrap_or_else(|| "NULL".into()))
                .collect()
        })
        .collect()
}

/// The SQLSTATE, message, detail and hint of a statement that must fail.
async fn error(c: &Client, sql: &str) -> (String, String, Option<String>, Option<String>) {
    let e = c.batch_execute(sql).await.expect_err(sql);
    let db = e.as_db_error();
    (
        sqlstate(&e),
        db.map(|d| d.message().to_string()).unwrap_or_default(),
        db.and_then(|d| d.detail().map(str::to_string)),
        db.and_then(|d| d.hint().map(str::to_string)),
    )
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
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("run psql");
    (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_not_null_and_returning() {
    let _g = serial();
    let cluster = Cluster::start("sql-ddl-defaults");
    let c = cluster.client().await;
    c.batch_execute(
        "CREATE TABLE t (id serial PRIMARY KEY, a int DEFAULT 5, b text DEFAULT 'x',
             c timestamp DEFAULT now(), d int DEFAULT -1, e varchar(5) DEFAULT 'ab',
             g bigint DEFAULT 1 + 2, n int)",
    )
    .await
    .unwrap();
    // Omitted columns, the DEFAULT keyword and DEFAULT VALUES take the defaults, per row.
    assert_eq!(
        texts(
            &c,
            "INSERT INTO t (n) VALUES (1), (2) RETURNING id, a, b, c IS NOT NULL, d, e, g, n"
        )
        .await,
        [
            ["1", "5", "x", "t", "-1", "ab", "3", "1"],
            ["2", "5", "x", "t", "-1", "ab", "3", "2"]
        ]
    );
    c.batch_execute(
        "INSERT INTO t (a, n) VALUES (DEFAULT, 3), (7, DEFAULT); INSERT INTO t DEFAULT VALUES",
    )
    .await
    .unwrap();
    assert_eq!(
        texts(&c, "SELECT id, a, n FROM t ORDER BY id").await,
        [
            ["1", "5", "1"],
            ["2", "5", "2"],
            ["3", "5", "3"],
            ["4", "7", "NULL"],
            ["5", "5", "NULL"]
        ]
    );
    assert_eq!(
        texts(
            &c,
            "SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
             JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
             WHERE d.adrelid = 't'::regclass ORDER BY d.adnum"
        )
        .await,
        [
            ["id", "nextval('t_id_seq'::regclass)"],
            ["a", "5"],
            ["b", "'x'::text"],
            ["c", "now()"],
            ["d", "'-1'::integer"],
            ["e", "'ab'::character varying"],
            ["g", "(1 + 2)"]
        ]
    );
    // ALTER COLUMN SET/DROP DEFAULT, and UPDATE … SET col = DEFAULT.
    c.batch_execute(
        "ALTER TABLE t ALTER COLUMN n SET DEFAULT 40 + 2;
         ALTER TABLE t ALTER COLUMN a DROP DEFAULT;
         UPDATE t SET n = DEFAULT WHERE id = 4",
    )
    .await
    .unwrap();
    assert_eq!(texts(&c, "SELECT n FROM t WHERE id = 4").await, [["42"]]);
    assert_eq!(
        texts(&c, "INSERT INTO t (b) VALUES ('y') RETURNING a, n").await,
        [["NULL", "42"]]
    );
    // Defaults can name no column.
    let (code, message, ..) = error(&c, "CREATE TABLE u (a int DEFAULT b)").await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("0A000", "cannot use column reference in DEFAULT expression")
    );
    // A relation inside an aliased join is out of reach, with PostgreSQL 15's hint.
    assert_eq!(
        error(&c, "SELECT a.n FROM (t a JOIN t b USING (id)) AS j").await,
        (
            "42P01".to_string(),
            "invalid reference to FROM-clause entry for table \"a\"".to_string(),
            None,
            Some(
                "There is an entry for table \"a\", but it cannot be referenced from this \
                 part of the query."
                    .to_string()
            )
        )
    );
    // SET NOT NULL checks the rows there (23502); a key column keeps its NOT NULL (42P16).
    let (code, message, ..) = error(&c, "ALTER TABLE t ALTER COLUMN a SET NOT NULL").await;
    assert_eq!(code, "23502");
    assert_eq!(
        message,
        "column \"a\" of relation \"t\" contains null values"
    );
    assert_eq!(
        error(&c, "ALTER TABLE t ALTER COLUMN id DROP NOT NULL")
            .await
            .0,
        "42P16"
    );
    c.batch_execute(
        "UPDATE t SET a = 0 WHERE a IS NULL; ALTER TABLE t ALTER COLUMN a SET NOT NULL",
    )
    .await
    .unwrap();
    assert_eq!(
        error(&c, "INSERT INTO t (a) VALUES (NULL)").await.0,
        "23502"
    );
    c.batch_execute("ALTER TABLE t ALTER COLUMN a DROP NOT NULL; INSERT INTO t (a) VALUES (NULL)")
        .await
        .unwrap();
    // DDL is transactional: a rolled-back default change leaves the old one.
    c.batch_execute("BEGIN; ALTER TABLE t ALTER COLUMN n SET DEFAULT 1; ROLLBACK")
        .await
        .unwrap();
    assert_eq!(
        texts(&c, "INSERT INTO t (a) VALUES (1) RETURNING n").await,
        [["42"]]
    );

    // RETURNING over the extended protocol: Describe reports the columns and their types.
    let stmt = c
        .prepare("UPDATE t SET a = a + $1 WHERE id = $2 RETURNING id, a * 2 AS twice, b")
        .await
        .unwrap();
    let names: Vec<&str> = stmt.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, ["id", "twice", "b"]);
    assert_eq!(
        stmt.columns()[0].type_(),
        &tokio_postgres::types::Type::INT4
    );
    let r = c.query(&stmt, &[&10i32, &1i32]).await.unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(
        (
            r[0].get::<_, i32>(0),
            r[0].get::<_, i32>(1),
            r[0].get::<_, String>(2)
        ),
        (1, 30, "x".to_string())
    );
    let deleted = c
        .query("DELETE FROM t WHERE id >= $1 RETURNING *", &[&6i32])
        .await
        .unwrap();
    assert_eq!(deleted.len(), 3);
    assert_eq!(deleted[0].columns().len(), 8);
    // The command tags are the DML's, with the row count.
    let tags: Vec<u64> = c
        .simple_query("INSERT INTO t (n) VALUES (7), (8) RETURNING id")
        .await
        .unwrap()
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::CommandComplete(n) => Some(*n),
            _ => None,
        })
        .collect();
    assert_eq!(tags, [2]);
    assert_eq!(
        c.execute("UPDATE t SET n = 1 WHERE id < 3 RETURNING id", &[])
            .await
            .unwrap(),
        2
    );

    // psql's \d shows the defaults as PostgreSQL does.
    let (d, err) = psql(&cluster, &["-c", "\\d t"]);
    assert!(err.is_empty(), "{err}");
    for line in [
        " id     | integer                     |           | not null | nextval('t_id_seq'::regclass)",
        " b      | text                        |           |          | 'x'::text",
        " n      | integer                     |           |          | (40 + 2)",
    ] {
        assert!(d.contains(line), "{line}\n{d}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequences_serial_identity_and_a_writer_restart() {
    let _g = serial();
    let mut cluster = Cluster::start("sql-ddl-sequences");
    let c = cluster.client().await;
    c.batch_execute("CREATE SEQUENCE s MAXVALUE 3")
        .await
        .unwrap();
    let (code, message, ..) = error(&c, "SELECT currval('s')").await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "55000",
            "currval of sequence \"s\" is not yet defined in this session"
        )
    );
    assert_eq!(error(&c, "SELECT lastval()").await.0, "55000");
    assert_eq!(
        texts(&c, "SELECT nextval('s'), nextval('s')").await,
        [["1", "2"]]
    );
    // Not transactional: the value a rolled-back transaction took is gone.
    c.batch_execute("BEGIN; SELECT nextval('s'); ROLLBACK")
        .await
        .unwrap();
    let (code, message, ..) = error(&c, "SELECT nextval('s')").await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "2200H",
            "nextval: reached maximum value of sequence \"s\" (3)"
        )
    );
    assert_eq!(
        texts(&c, "SELECT currval('s'), lastval()").await,
        [["3", "3"]]
    );
    let (code, message, ..) = error(&c, "SELECT setval('s', 0)").await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "22003",
            "setval: value 0 is out of bounds for sequence \"s\" (1..3)"
        )
    );
    assert_eq!(error(&c, "SELECT nextval('nope')").await.0, "42P01");
    let (code, message, ..) = error(&c, "CREATE SEQUENCE z MINVALUE 5 MAXVALUE 3").await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("22023", "MINVALUE (5) must be less than MAXVALUE (3)")
    );
    assert_eq!(error(&c, "CREATE SEQUENCE s").await.0, "42P07");
    c.batch_execute("CREATE SEQUENCE IF NOT EXISTS s")
        .await
        .unwrap();

    // Serial and identity columns.
    c.batch_execute(
        "CREATE TABLE t (id bigserial PRIMARY KEY, v text);
         CREATE TABLE i (id int GENERATED ALWAYS AS IDENTITY, v int);
         CREATE TABLE d (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, v int)",
    )
    .await
    .unwrap();
    assert_eq!(
        texts(&c, "INSERT INTO t (v) VALUES ('a'), ('b') RETURNING id").await,
        [["1"], ["2"]]
    );
    assert_eq!(texts(&c, "SELECT currval('t_id_seq')").await, [["2"]]);
    let (code, message, detail, hint) = error(&c, "INSERT INTO i (id, v) VALUES (1, 1)").await;
    assert_eq!(code, "428C9");
    assert_eq!(
        message,
        "cannot insert a non-DEFAULT value into column \"id\""
    );
    assert_eq!(
        detail.as_deref(),
        Some("Column \"id\" is an identity column defined as GENERATED ALWAYS.")
    );
    assert_eq!(
        hint.as_deref(),
        Some("Use OVERRIDING SYSTEM VALUE to override.")
    );
    assert_eq!(
        texts(&c, "INSERT INTO i (id, v) VALUES (DEFAULT, 5) RETURNING *").await,
        [["1", "5"]]
    );
    assert_eq!(error(&c, "UPDATE i SET id = 3").await.0, "428C9");
    assert_eq!(
        texts(&c, "INSERT INTO d (id, v) VALUES (10, 1) RETURNING id").await,
        [["10"]]
    );
    assert_eq!(
        texts(&c, "INSERT INTO d (v) VALUES (2) RETURNING id").await,
        [["1"]]
    );
    assert_eq!(
        texts(
            &c,
            "SELECT pg_get_serial_sequence('t', 'id'), pg_get_serial_sequence('i', 'id'),
                    pg_get_serial_sequence('i', 'v')"
        )
        .await,
        [["public.t_id_seq", "public.i_id_seq", "NULL"]]
    );
    assert_eq!(
        texts(
            &c,
            "SELECT sequencename, data_type, start_value, max_value, last_value
             FROM pg_sequences ORDER BY 1"
        )
        .await,
        [
            ["d_id_seq", "integer", "1", "2147483647", "1"],
            ["i_id_seq", "integer", "1", "2147483647", "1"],
            ["s", "bigint", "1", "3", "3"],
            ["t_id_seq", "bigint", "1", "9223372036854775807", "2"]
        ]
    );
    assert_eq!(
        texts(
            &c,
            "SELECT sequence_name FROM information_schema.sequences ORDER BY 1"
        )
        .await,
        [["s"], ["t_id_seq"]]
    );
    assert_eq!(
        texts(
            &c,
            "SELECT c.relname, c.relkind, s.seqmax FROM pg_class c
             JOIN pg_sequence s ON s.seqrelid = c.oid ORDER BY 1"
        )
        .await,
        [
            ["d_id_seq", "S", "2147483647"],
            ["i_id_seq", "S", "2147483647"],
            ["s", "S", "3"],
            ["t_id_seq", "S", "9223372036854775807"]
        ]
    );
    let (ds, err) = psql(&cluster, &["-A", "-t", "-c", "\\ds"]);
    assert!(err.is_empty(), "{err}");
    assert_eq!(
        ds.lines().collect::<Vec<_>>(),
        [
            "public|d_id_seq|sequence|borealis",
            "public|i_id_seq|sequence|borealis",
            "public|s|sequence|borealis",
            "public|t_id_seq|sequence|borealis"
        ]
    );
    let (d, err) = psql(&cluster, &["-c", "\\d i"]);
    assert!(err.is_empty(), "{err}");
    assert!(
        d.contains(" id     | integer |           | not null | generated always as identity"),
        "{d}"
    );
    // A sequence a default uses cannot be dropped alone; DROP TABLE takes it along.
    let (code, _, detail, _) = error(&c, "DROP SEQUENCE t_id_seq").await;
    assert_eq!(code, "2BP01");
    assert_eq!(
        detail.as_deref(),
        Some("default value for column id of table t depends on sequence t_id_seq")
    );
    assert_eq!(error(&c, "DROP TABLE s").await.0, "42809");
    assert_eq!(error(&c, "DROP SEQUENCE t").await.0, "42809");
    c.batch_execute("DROP TABLE d; DROP SEQUENCE IF EXISTS d_id_seq")
        .await
        .unwrap();
    assert_eq!(error(&c, "DROP SEQUENCE d_id_seq").await.0, "42P01");

    // Concurrent callers never share a value.
    c.batch_execute("CREATE SEQUENCE shared").await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let client = cluster.client().await;
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..50 {
                let r = client
                    .query_one("SELECT nextval('shared')", &[])
                    .await
                    .unwrap();
                got.push(r.get::<_, i64>(0));
            }
            got
        }));
    }
    let mut all = BTreeSet::new();
    for t in tasks {
        for v in t.await.unwrap() {
            assert!(all.insert(v), "value {v} handed out twice");
        }
    }
    assert_eq!(all.len(), 200);
    let before_crash = *all.last().unwrap();

    // A writer killed mid-block resumes after the reserved block: no value is handed out twice.
    let seen_t: i64 = texts(&c, "SELECT max(id) FROM t").await[0][0]
        .parse()
        .unwrap();
    drop(c);
    cluster.kill_writer();
    cluster.start_writer();
    let c = cluster.client().await;
    let after: i64 = texts(&c, "SELECT nextval('shared')").await[0][0]
        .parse()
        .unwrap();
    assert!(after > before_crash, "{after} after {before_crash}");
    let next_t: i64 = texts(&c, "INSERT INTO t (v) VALUES ('c') RETURNING id").await[0][0]
        .parse()
        .unwrap();
    assert!(next_t > seen_t, "{next_t} after {seen_t}");
    // currval is per session: a new one has none.
    let other = cluster.client().await;
    assert_eq!(error(&other, "SELECT currval('shared')").await.0, "55000");
    drop(other);
    assert_eq!(
        texts(&c, "SELECT setval('shared', 1000), nextval('shared')").await,
        [["1000", "1001"]]
    );
    drop(c);
    cluster.kill_writer();
    cluster.start_writer();
    let c = cluster.client().await;
    let v: i64 = texts(&c, "SELECT nextval('shared')").await[0][0]
        .parse()
        .unwrap();
    assert!(v > 1001, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_conflict_waits_for_a_concurrent_inserter() {
    let _g = serial();
    let cluster = Cluster::start("sql-ddl-on-conflict");
    let c = cluster.client().await;
    c.batch_execute(
        "CREATE TABLE kv (k int PRIMARY KEY, v text, u int UNIQUE);
         INSERT INTO kv VALUES (1, 'one', 1)",
    )
    .await
    .unwrap();
    // Errors and their PostgreSQL messages.
    let (code, message, ..) = error(
        &c,
        "INSERT INTO kv VALUES (2, 'x', 2) ON CONFLICT (v) DO NOTHING",
    )
    .await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "42P10",
            "there is no unique or exclusion constraint matching the ON CONFLICT specification"
        )
    );
    let (code, message, _, hint) = error(
        &c,
        "INSERT INTO kv VALUES (3, 'a', 3), (3, 'b', 4) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
    )
    .await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "21000",
            "ON CONFLICT DO UPDATE command cannot affect row a second time"
        )
    );
    assert_eq!(
        hint.as_deref(),
        Some(
            "Ensure that no rows proposed for insertion within the same command have duplicate constrained values."
        )
    );
    assert_eq!(
        error(
            &c,
            "INSERT INTO kv VALUES (1, 'x', 1) ON CONFLICT ON CONSTRAINT nope DO NOTHING"
        )
        .await
        .0,
        "42704"
    );
    assert_eq!(
        texts(
            &c,
            "INSERT INTO kv VALUES (1, 'uno', 9), (2, 'two', 2)
             ON CONFLICT (k) DO UPDATE SET v = kv.v || '/' || excluded.v RETURNING k, v, u"
        )
        .await,
        [["1", "one/uno", "1"], ["2", "two", "2"]]
    );
    // Prepared, with parameters, over the extended protocol.
    let upsert = c
        .prepare("INSERT INTO kv VALUES ($1, $2, $3) ON CONFLICT (u) DO UPDATE SET v = excluded.v WHERE kv.k < 10 RETURNING k, v")
        .await
        .unwrap();
    let r = c.query(&upsert, &[&7i32, &"seven", &2i32]).await.unwrap();
    assert_eq!(
        (r[0].get::<_, i32>(0), r[0].get::<_, String>(1)),
        (2, "seven".to_string())
    );

    // A conflicting insert in flight makes the upsert wait, then update what it committed.
    let a = cluster.client().await;
    a.batch_execute("BEGIN; INSERT INTO kv VALUES (5, 'from a', 5)")
        .await
        .unwrap();
    let b = cluster.client().await;
    let second = tokio::spawn(async move {
        b.simple_query(
            "INSERT INTO kv VALUES (5, 'from b', 50) ON CONFLICT (k) DO UPDATE SET v = kv.v || ' then b'",
        )
        .await
        .map(|_| ())
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!second.is_finished(), "the upsert waits for the inserter");
    a.batch_execute("COMMIT").await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(30), second)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        texts(&c, "SELECT v, u FROM kv WHERE k = 5").await,
        [["from a then b", "5"]]
    );
    // If the inserter rolls back, the upsert inserts; DO NOTHING waits the same way.
    a.batch_execute("BEGIN; INSERT INTO kv VALUES (6, 'from a', 6)")
        .await
        .unwrap();
    let b = cluster.client().await;
    let second = tokio::spawn(async move {
        b.simple_query("INSERT INTO kv VALUES (6, 'from b', 60) ON CONFLICT DO NOTHING")
            .await
            .map(|_| ())
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!second.is_finished(), "DO NOTHING waits for the inserter");
    a.batch_execute("ROLLBACK").await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(30), second)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        texts(&c, "SELECT v, u FROM kv WHERE k = 6").await,
        [["from b", "60"]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_constraints() {
    let _g = serial();
    let cluster = Cluster::start("sql-ddl-checks");
    let c = cluster.client().await;
    c.batch_execute(
        "CREATE TABLE ck (a int CHECK (a > 0), b int, c text, CHECK (a < b),
             CHECK (b > 0 AND c <> 'x'), CONSTRAINT named CHECK (b < 1000))",
    )
    .await
    .unwrap();
    let (code, message, detail, _) = error(&c, "INSERT INTO ck VALUES (-1, 5, 'a')").await;
    assert_eq!(code, "23514");
    assert_eq!(
        message,
        "new row for relation \"ck\" violates check constraint \"ck_a_check\""
    );
    assert_eq!(detail.as_deref(), Some("Failing row contains (-1, 5, a)."));
    c.batch_execute("INSERT INTO ck VALUES (1, 5, NULL)")
        .await
        .unwrap();
    assert_eq!(error(&c, "UPDATE ck SET b = 2000").await.0, "23514");
    assert_eq!(
        error(&c, "INSERT INTO ck VALUES (2, 5, 'a') ON CONFLICT DO NOTHING; INSERT INTO ck VALUES (9, 5, 'a')")
            .await
            .0,
        "23514"
    );
    let (code, message, detail, _) =
        error(&c, "ALTER TABLE ck ADD CONSTRAINT pos CHECK (a > 3)").await;
    assert_eq!(
        (code.as_str(), message.as_str(), detail),
        (
            "23514",
            "check constraint \"pos\" of relation \"ck\" is violated by some row",
            None
        )
    );
    assert_eq!(
        texts(
            &c,
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
             WHERE conrelid = 'ck'::regclass AND contype = 'c' ORDER BY 1"
        )
        .await,
        [
            ["ck_a_check", "CHECK ((a > 0))"],
            ["ck_check", "CHECK ((a < b))"],
            ["ck_check1", "CHECK (((b > 0) AND (c <> 'x'::text)))"],
            ["named", "CHECK ((b < 1000))"]
        ]
    );
    let (d, err) = psql(&cluster, &["-c", "\\d ck"]);
    assert!(err.is_empty(), "{err}");
    assert!(
        d.contains(
            "Check constraints:\n    \"ck_a_check\" CHECK (a > 0)\n    \"ck_check\" CHECK (a < b)\n    \"ck_check1\" CHECK (b > 0 AND c <> 'x'::text)\n    \"named\" CHECK (b < 1000)"
        ),
        "{d}"
    );
    // A rolled-back ADD CONSTRAINT leaves no constraint.
    c.batch_execute("BEGIN; ALTER TABLE ck ADD CHECK (b > 1); ROLLBACK")
        .await
        .unwrap();
    assert_eq!(
        texts(&c, "SELECT relchecks FROM pg_class WHERE relname = 'ck'").await,
        [["4"]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views() {
    let _g = serial();
    let cluster = Cluster::start("sql-ddl-views");
    let c = cluster.client().await;
    c.batch_execute(
        "CREATE TABLE vt (a int PRIMARY KEY, b text);
         INSERT INTO vt VALUES (1, 'x'), (2, 'y'), (3, 'z');
         CREATE VIEW v AS SELECT a, b FROM vt WHERE a > 1;
         CREATE VIEW v2 (x) AS SELECT a * 10 FROM vt",
    )
    .await
    .unwrap();
    assert_eq!(
        texts(&c, "SELECT * FROM v ORDER BY a").await,
        [["2", "y"], ["3", "z"]]
    );
    // In joins, subqueries and over the extended protocol.
    assert_eq!(
        texts(
            &c,
            "SELECT v2.x, v.b FROM v2 JOIN v ON v.a * 10 = v2.x WHERE v2.x IN (SELECT x FROM v2 WHERE x < 30) ORDER BY 1"
        )
        .await,
        [["20", "y"]]
    );
    let r = c
        .query("SELECT b FROM v WHERE a = $1", &[&3i32])
        .await
        .unwrap();
    assert_eq!(r[0].get::<_, String>(0), "z");
    // The view reads the table as it is now.
    c.batch_execute("INSERT INTO vt VALUES (4, 'w')")
        .await
        .unwrap();
    assert_eq!(texts(&c, "SELECT count(*) FROM v").await, [["3"]]);
    let (code, message, _, _) = error(&c, "CREATE OR REPLACE VIEW v AS SELECT b FROM vt").await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("42P16", "cannot drop columns from view")
    );
    let (code, message, _, hint) =
        error(&c, "CREATE OR REPLACE VIEW v AS SELECT a AS z, b FROM vt").await;
    assert_eq!(code, "42P16");
    assert_eq!(message, "cannot change name of view column \"a\" to \"z\"");
    assert_eq!(
        hint.as_deref(),
        Some("Use ALTER VIEW ... RENAME COLUMN ... to change name of view column instead.")
    );
    c.batch_execute("CREATE OR REPLACE VIEW v AS SELECT a, b, a + 1 AS c FROM vt")
        .await
        .unwrap();
    let (code, message, _, hint) = error(&c, "DROP VIEW vt").await;
    assert_eq!(
        (code.as_str(), message.as_str(), hint.as_deref()),
        (
            "42809",
            "\"vt\" is not a view",
            Some("Use DROP TABLE to remove a table.")
        )
    );
    let (code, _, _, hint) = error(&c, "DROP TABLE v").await;
    assert_eq!(
        (code.as_str(), hint.as_deref()),
        ("42809", Some("Use DROP VIEW to remove a view."))
    );
    let (code, message, ..) = error(&c, "DROP VIEW nope").await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("42P01", "view \"nope\" does not exist")
    );
    c.batch_execute("DROP VIEW IF EXISTS nope").await.unwrap();
    assert_eq!(
        texts(
            &c,
            "SELECT viewname FROM pg_views WHERE schemaname = 'public' ORDER BY 1"
        )
        .await,
        [["v"], ["v2"]]
    );
    assert_eq!(
        texts(
            &c,
            "SELECT table_name, table_type FROM information_schema.tables
             WHERE table_schema = 'public' ORDER BY 1"
        )
        .await,
        [["v", "VIEW"], ["v2", "VIEW"], ["vt", "BASE TABLE"]]
    );
    let (dv, err) = psql(&cluster, &["-A", "-t", "-c", "\\dv"]);
    assert!(err.is_empty(), "{err}");
    assert_eq!(
        dv.lines().collect::<Vec<_>>(),
        ["public|v|view|borealis", "public|v2|view|borealis"]
    );
    let (d, err) = psql(&cluster, &["-c", "\\d v"]);
    assert!(err.is_empty(), "{err}");
    assert!(d.contains("View \"public.v\""), "{d}");
    for line in [
        " a      | integer |           |          | ",
        " b      | text    |           |          | ",
        " c      | integer |           |          | ",
    ] {
        assert!(d.contains(line), "{line}\n{d}");
    }
    // The table the views read cannot go without them: PostgreSQL's error, detail and hint.
    let (code, message, detail, hint) = error(&c, "DROP TABLE vt").await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "2BP01",
            "cannot drop table vt because other objects depend on it"
        )
    );
    assert_eq!(
        detail.as_deref(),
        Some("view v depends on table vt\nview v2 depends on table vt")
    );
    assert_eq!(
        hint.as_deref(),
        Some("Use DROP ... CASCADE to drop the dependent objects too.")
    );
    let (code, message, detail, _) = error(&c, "ALTER TABLE vt DROP COLUMN b").await;
    assert_eq!(
        (code.as_str(), message.as_str(), detail.as_deref()),
        (
            "2BP01",
            "cannot drop column b of table vt because other objects depend on it",
            Some("view v depends on column b of table vt")
        )
    );
    // Transactional DDL.
    c.batch_execute("BEGIN; DROP VIEW v2; ROLLBACK")
        .await
        .unwrap();
    assert_eq!(texts(&c, "SELECT count(*) FROM v2").await, [["4"]]);
    c.batch_execute("DROP VIEW v, v2").await.unwrap();
    assert_eq!(error(&c, "SELECT * FROM v").await.0, "42P01");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_keys() {
    let _g = serial();
    let cluster = Cluster::start("sql-ddl-foreign-keys");
    let c = cluster.client().await;
    c.batch_execute(
        "CREATE TABLE p (id int PRIMARY KEY, u int UNIQUE);
         CREATE TABLE c (cid int PRIMARY KEY, pid int REFERENCES p,
             pu int, FOREIGN KEY (pu) REFERENCES p(u) ON DELETE CASCADE ON UPDATE SET NULL);
         INSERT INTO p VALUES (1, 10), (2, 20), (3, 30)",
    )
    .await
    .unwrap();
    let (code, message, detail, _) = error(&c, "INSERT INTO c VALUES (1, 5, NULL)").await;
    assert_eq!(code, "23503");
    assert_eq!(
        message,
        "insert or update on table \"c\" violates foreign key constraint \"c_pid_fkey\""
    );
    assert_eq!(
        detail.as_deref(),
        Some("Key (pid)=(5) is not present in table \"p\".")
    );
    c.batch_execute("INSERT INTO c VALUES (1, 1, 10), (2, NULL, 20), (3, NULL, 30)")
        .await
        .unwrap();
    let (code, message, detail, _) = error(&c, "DELETE FROM p WHERE id = 1").await;
    assert_eq!(code, "23503");
    assert_eq!(
        message,
        "update or delete on table \"p\" violates foreign key constraint \"c_pid_fkey\" on table \"c\""
    );
    assert_eq!(
        detail.as_deref(),
        Some("Key (id)=(1) is still referenced from table \"c\".")
    );
    c.batch_execute("DELETE FROM p WHERE id = 2; UPDATE p SET u = 31 WHERE id = 3")
        .await
        .unwrap();
    assert_eq!(
        texts(&c, "SELECT cid, pid, pu FROM c ORDER BY cid").await,
        [["1", "1", "10"], ["3", "NULL", "NULL"]]
    );
    let (code, message, detail, hint) = error(&c, "TRUNCATE p").await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "0A000",
            "cannot truncate a table referenced in a foreign key constraint"
        )
    );
    assert_eq!(detail.as_deref(), Some("Table \"c\" references \"p\"."));
    assert_eq!(
        hint.as_deref(),
        Some("Truncate table \"c\" at the same time, or use TRUNCATE ... CASCADE.")
    );
    // Every constraint that references it is listed, as PostgreSQL lists them.
    let (code, _, detail, _) = error(&c, "DROP TABLE p").await;
    assert_eq!(code, "2BP01");
    assert_eq!(
        detail.as_deref(),
        Some(
            "constraint c_pid_fkey on table c depends on table p\n\
             constraint c_pu_fkey on table c depends on table p"
        )
    );
    assert_eq!(
        error(&c, "CREATE TABLE c3 (a int REFERENCES c(pid))")
            .await
            .0,
        "42830"
    );
    assert_eq!(
        texts(
            &c,
            "SELECT conname, pg_get_constraintdef(oid), confrelid = 'p'::regclass
             FROM pg_constraint WHERE contype = 'f' ORDER BY 1"
        )
        .await,
        [
            ["c_pid_fkey", "FOREIGN KEY (pid) REFERENCES p(id)", "t"],
            [
                "c_pu_fkey",
                "FOREIGN KEY (pu) REFERENCES p(u) ON UPDATE SET NULL ON DELETE CASCADE",
                "t"
            ]
        ]
    );
    // ADD CONSTRAINT validates the rows there.
    c.batch_execute("CREATE TABLE d (x int); INSERT INTO d VALUES (1), (7)")
        .await
        .unwrap();
    assert_eq!(
        error(&c, "ALTER TABLE d ADD FOREIGN KEY (x) REFERENCES p")
            .await
            .0,
        "23503"
    );
    c.batch_execute(
        "DELETE FROM d WHERE x = 7;
         ALTER TABLE d ADD FOREIGN KEY (x) REFERENCES p ON DELETE SET NULL ON UPDATE CASCADE;
         UPDATE c SET pid = NULL; UPDATE p SET id = 100 WHERE id = 1",
    )
    .await
    .unwrap();
    assert_eq!(texts(&c, "SELECT x FROM d").await, [["100"]]);

    // The referencing check share-locks the referenced row: an insert referencing a row whose
    // DELETE is in flight waits for it, then fails if it committed or goes in if it rolled back.
    let a = cluster.client().await;
    a.batch_execute("BEGIN; DELETE FROM p WHERE id = 3")
        .await
        .unwrap();
    let b = cluster.client().await;
    let child = tokio::spawn(async move {
        b.batch_execute("INSERT INTO c VALUES (20, 3, NULL)")
            .await
            .map_err(|e| sqlstate(&e))
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!child.is_finished(), "the referencing insert waits");
    a.batch_execute("COMMIT").await.unwrap();
    let r = tokio::time::timeout(std::time::Duration::from_secs(30), child)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r, Err("23503".to_string()));
    c.batch_execute("INSERT INTO p VALUES (4, 40)")
        .await
        .unwrap();
    a.batch_execute("BEGIN; DELETE FROM p WHERE id = 4")
        .await
        .unwrap();
    let b = cluster.client().await;
    let child = tokio::spawn(async move {
        b.batch_execute("INSERT INTO c VALUES (21, 4, NULL)")
            .await
            .map_err(|e| sqlstate(&e))
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!child.is_finished(), "the referencing insert waits");
    a.batch_execute("ROLLBACK").await.unwrap();
    let r = tokio::time::timeout(std::time::Duration::from_secs(30), child)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r, Ok(()));
    assert_eq!(texts(&c, "SELECT pid FROM c WHERE cid = 21").await, [["4"]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_drop_column_and_create_table_as() {
    let _g = serial();
    let cluster = Cluster::start("sql-ddl-columns");
    let c = cluster.client().await;
    c.batch_execute(
        "CREATE TABLE ac (id int PRIMARY KEY, v text, w int);
         CREATE INDEX ON ac (w);
         INSERT INTO ac VALUES (1, 'a', 10), (2, 'b', 20);
         ALTER TABLE ac ADD COLUMN n int DEFAULT 7, ADD COLUMN s serial",
    )
    .await
    .unwrap();
    assert_eq!(
        texts(&c, "SELECT id, n, s FROM ac ORDER BY id").await,
        [["1", "7", "1"], ["2", "7", "2"]]
    );
    let (code, message, ..) = error(&c, "ALTER TABLE ac ADD COLUMN nn int NOT NULL").await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "23502",
            "column \"nn\" of relation \"ac\" contains null values"
        )
    );
    let (code, message, ..) = error(&c, "ALTER TABLE ac ADD COLUMN id int").await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("42701", "column \"id\" of relation \"ac\" already exists")
    );
    c.batch_execute("ALTER TABLE ac DROP COLUMN w")
        .await
        .unwrap();
    assert_eq!(
        texts(
            &c,
            "SELECT indexname FROM pg_indexes WHERE tablename = 'ac'"
        )
        .await,
        [["ac_pkey"]]
    );
    assert_eq!(
        texts(&c, "INSERT INTO ac (id, v) VALUES (3, 'c') RETURNING *").await,
        [["3", "c", "7", "3"]]
    );
    let (code, message, ..) = error(&c, "ALTER TABLE ac DROP COLUMN nope").await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("42703", "column \"nope\" of relation \"ac\" does not exist")
    );
    // CREATE TABLE AS and SELECT INTO report SELECT n.
    let tags: Vec<u64> = c
        .simple_query("CREATE TABLE c1 AS SELECT id, v || '!' AS bang FROM ac; SELECT * INTO c2 FROM ac WHERE id > 1")
        .await
        .unwrap()
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::CommandComplete(n) => Some(*n),
            _ => None,
        })
        .collect();
    assert_eq!(tags, [3, 2]);
    assert_eq!(
        texts(&c, "SELECT bang FROM c1 ORDER BY id").await,
        [["a!"], ["b!"], ["c!"]]
    );
    assert_eq!(texts(&c, "SELECT count(*) FROM c2").await, [["2"]]);
    assert_eq!(error(&c, "CREATE TABLE c1 AS SELECT 1").await.0, "42P07");
}

/// Referential checks of a parent's DELETE see children committed after the transaction's
/// snapshot, at READ COMMITTED and REPEATABLE READ alike (checked against PostgreSQL 15: 23503
/// both times).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parent_deletes_see_children_committed_after_their_snapshot() {
    let _g = serial();
    let cluster = Cluster::start("fk-latest");
    let a = cluster.client().await;
    let b = cluster.client().await;
    a.batch_execute(
        "CREATE TABLE p (id int PRIMARY KEY); \
         CREATE TABLE c (id int PRIMARY KEY, p int REFERENCES p); \
         INSERT INTO p VALUES (1), (2)",
    )
    .await
    .unwrap();
    // REPEATABLE READ: the snapshot predates the child.
    a.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM p")
        .await
        .unwrap();
    b.batch_execute("INSERT INTO c VALUES (10, 1)")
        .await
        .unwrap();
    let (state, _, detail, _) = error(&a, "DELETE FROM p WHERE id = 1").await;
    assert_eq!(state, "23503");
    assert_eq!(
        detail.as_deref(),
        Some("Key (id)=(1) is still referenced from table \"c\".")
    );
    a.batch_execute("ROLLBACK").await.unwrap();
    // READ COMMITTED inside a transaction block: the child committed meanwhile blocks the delete.
    a.batch_execute("BEGIN; SELECT count(*) FROM p")
        .await
        .unwrap();
    b.batch_execute("INSERT INTO c VALUES (20, 2)")
        .await
        .unwrap();
    let (state, _, detail, _) = error(&a, "DELETE FROM p WHERE id = 2").await;
    assert_eq!(state, "23503");
    assert_eq!(
        detail.as_deref(),
        Some("Key (id)=(2) is still referenced from table \"c\".")
    );
    a.batch_execute("ROLLBACK").await.unwrap();
}

/// READ ONLY transactions refuse writes with 25006, as PostgreSQL 15 does (messages checked
/// against it): BEGIN READ ONLY, SET TRANSACTION READ ONLY, default_transaction_read_only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_transactions() {
    let _g = serial();
    let cluster = Cluster::start("read-only");
    let c = cluster.client().await;
    c.batch_execute("CREATE TABLE r (id int PRIMARY KEY, v int); INSERT INTO r VALUES (1, 1)")
        .await
        .unwrap();
    c.batch_execute("BEGIN READ ONLY").await.unwrap();
    assert_eq!(
        texts(&c, "SELECT v FROM r").await,
        vec![vec!["1".to_string()]]
    );
    assert_eq!(
        texts(&c, "SHOW transaction_read_only").await,
        vec![vec!["on".to_string()]]
    );
    let (state, message, _, _) = error(&c, "INSERT INTO r VALUES (2, 2)").await;
    assert_eq!(
        (state.as_str(), message.as_str()),
        ("25006", "cannot execute INSERT in a read-only transaction")
    );
    assert_eq!(error(&c, "SELECT 1").await.0, "25P02");
    c.batch_execute("ROLLBACK").await.unwrap();

    c.batch_execute("BEGIN; SET TRANSACTION READ ONLY")
        .await
        .unwrap();
    let (state, message, _, _) = error(&c, "SELECT v FROM r FOR UPDATE").await;
    assert_eq!(
        (state.as_str(), message.as_str()),
        (
            "25006",
            "cannot execute SELECT FOR UPDATE in a read-only transaction"
        )
    );
    c.batch_execute("ROLLBACK").await.unwrap();

    c.batch_execute("BEGIN READ ONLY; SELECT 1").await.unwrap();
    let (state, message, _, _) = error(&c, "SET TRANSACTION READ WRITE").await;
    assert_eq!(
        (state.as_str(), message.as_str()),
        (
            "25001",
            "transaction read-write mode must be set before any query"
        )
    );
    c.batch_execute("ROLLBACK").await.unwrap();

    c.batch_execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        .await
        .unwrap();
    let (state, message, _, _) = error(&c, "CREATE TABLE other (id int)").await;
    assert_eq!(
        (state.as_str(), message.as_str()),
        (
            "25006",
            "cannot execute CREATE TABLE in a read-only transaction"
        )
    );
    c.batch_execute("BEGIN READ WRITE; UPDATE r SET v = 5; COMMIT")
        .await
        .unwrap();
    c.batch_execute("SET default_transaction_read_only = off; DELETE FROM r")
        .await
        .unwrap();
    assert_eq!(
        texts(&c, "SHOW transaction_read_only").await,
        vec![vec!["off".to_string()]]
    );
}
