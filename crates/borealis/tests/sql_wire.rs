//! SQL over the real wire protocol against a real cluster: simple and extended query, errors with
//! their SQLSTATE, transactions, and psql.

// Tests hold the serial lock across awaits on purpose: one cluster at a time.
#![allow(clippy::await_holding_lock, clippy::unwrap_used)]

mod common;

use common::{Cluster, serial, sqlstate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_over_simple_and_extended_protocol() {
    let _g = serial();
    let cluster = Cluster::start("sql");
    let c = cluster.client().await;

    c.batch_execute("CREATE TABLE kv (k int8 PRIMARY KEY, v text NOT NULL, f float8, b bool)")
        .await
        .unwrap();
    // Extended protocol, prepared and binary: parameter types are inferred from the columns.
    let ins = c
        .prepare("INSERT INTO kv VALUES ($1, $2, $3, $4)")
        .await
        .unwrap();
    assert_eq!(
        ins.params(),
        &[
            tokio_postgres::types::Type::INT8,
            tokio_postgres::types::Type::TEXT,
            tokio_postgres::types::Type::FLOAT8,
            tokio_postgres::types::Type::BOOL
        ]
    );
    for k in 0..50i64 {
        let n = c
            .execute(
                &ins,
                &[&k, &format!("v{k}"), &(k as f64 / 2.0), &(k % 2 == 0)],
            )
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
    let row = c
        .query_one("SELECT v, f, b FROM kv WHERE k = $1", &[&7i64])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "v7");
    assert_eq!(row.get::<_, f64>(1), 3.5);
    assert!(!row.get::<_, bool>(2));
    let n: i64 = c
        .query_one("SELECT count(*) FROM kv WHERE k >= $1", &[&40i64])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 10);
    let rows = c
        .query("SELECT k FROM kv ORDER BY k DESC LIMIT 3", &[])
        .await
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.get::<_, i64>(0)).collect::<Vec<_>>(),
        vec![49, 48, 47]
    );

    // Simple protocol, several statements in one message.
    let msgs = c.simple_query("UPDATE kv SET v = 'x' WHERE k < 10; DELETE FROM kv WHERE k >= 45; SELECT count(*) FROM kv WHERE v = 'x'").await.unwrap();
    let tags: Vec<u64> = msgs
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::CommandComplete(n) => Some(*n),
            _ => None,
        })
        .collect();
    assert_eq!(tags, vec![10, 5, 1]);
    let count = msgs.iter().find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
        _ => None,
    });
    assert_eq!(count.as_deref(), Some("10"));

    // Errors carry PostgreSQL's SQLSTATE codes.
    let cases = [
        ("SELECT * FROM missing", "42P01"),
        ("SELECT nope FROM kv", "42703"),
        ("INSERT INTO kv VALUES (1, 'dup')", "23505"),
        ("INSERT INTO kv (k) VALUES (1000)", "23502"),
        ("SELEC 1", "42601"),
        ("SELECT 1/0", "22012"),
        ("SELECT 'abc'::int4", "22P02"),
        ("CREATE TABLE kv (a int)", "42P07"),
        ("SELECT 2147483647::int4 + 1", "22003"),
    ];
    for (sql, code) in cases {
        let e = c.batch_execute(sql).await.expect_err(sql);
        assert_eq!(sqlstate(&e), code, "{sql}: {e:?}");
    }
    let e = c
        .execute("INSERT INTO kv VALUES (1, 'dup')", &[])
        .await
        .unwrap_err();
    let db = e.as_db_error().expect("a server error");
    assert_eq!(db.detail(), Some("Key (k)=(1) already exists."));

    // Transactions: rollback discards, an error aborts the block until ROLLBACK.
    c.batch_execute("BEGIN; INSERT INTO kv VALUES (500, 'in txn'); ROLLBACK")
        .await
        .unwrap();
    assert!(
        c.query_opt("SELECT 1 FROM kv WHERE k = 500", &[])
            .await
            .unwrap()
            .is_none()
    );
    c.batch_execute("BEGIN").await.unwrap();
    c.batch_execute("INSERT INTO kv VALUES (501, 'a')")
        .await
        .unwrap();
    let seen: i64 = c
        .query_one("SELECT count(*) FROM kv WHERE k = 501", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(seen, 1, "a transaction sees its own writes");
    let other = cluster.client().await;
    let unseen: i64 = other
        .query_one("SELECT count(*) FROM kv WHERE k = 501", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(unseen, 0, "uncommitted writes are invisible to others");
    assert_eq!(
        sqlstate(&c.batch_execute("SELECT * FROM missing").await.unwrap_err()),
        "42P01"
    );
    assert_eq!(
        sqlstate(&c.batch_execute("SELECT 1").await.unwrap_err()),
        "25P02"
    );
    c.batch_execute("COMMIT").await.unwrap(); // rolls back
    assert!(
        c.query_opt("SELECT 1 FROM kv WHERE k = 501", &[])
            .await
            .unwrap()
            .is_none()
    );
    c.batch_execute("BEGIN; INSERT INTO kv VALUES (502, 'b'); COMMIT")
        .await
        .unwrap();
    assert!(
        other
            .query_opt("SELECT 1 FROM kv WHERE k = 502", &[])
            .await
            .unwrap()
            .is_some()
    );

    // A table without a primary key gets hidden row ids; DROP TABLE removes it.
    c.batch_execute(
        "CREATE TABLE log (msg text, n int4); INSERT INTO log VALUES ('a', 1), ('a', 1), (NULL, 2)",
    )
    .await
    .unwrap();
    let n: i64 = c
        .query_one("SELECT count(*) FROM log WHERE msg = 'a'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
    c.batch_execute("DROP TABLE log").await.unwrap();
    assert_eq!(
        sqlstate(&c.batch_execute("SELECT * FROM log").await.unwrap_err()),
        "42P01"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_can_use_the_cluster() {
    let _g = serial();
    if std::process::Command::new("psql")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("psql is required for this test (PostgreSQL 15 client)");
    }
    let cluster = Cluster::start("psql");
    let script = "CREATE TABLE t (id int PRIMARY KEY, name text);\n\
                  INSERT INTO t VALUES (1, 'one'), (2, 'two');\n\
                  BEGIN;\nUPDATE t SET name = 'TWO' WHERE id = 2;\nCOMMIT;\n\
                  SELECT id, name FROM t ORDER BY id;\n";
    let out = std::process::Command::new("psql")
        .args([
            &cluster.url(),
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            script,
        ])
        .output()
        .expect("run psql");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "1|one\n2|TWO");
    let out = std::process::Command::new("psql")
        .args([&cluster.url(), "-X", "-c", "SELECT * FROM nosuch"])
        .output()
        .expect("run psql");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("relation \"nosuch\" does not exist"));
}

/// A prepared query keeps its plan between executions, and a catalog change by any session
/// (or by its own transaction) makes the next execution plan again: it never reads a dropped
/// table's data nor misses a new column. A plan whose result type would change is refused,
/// as PostgreSQL refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_plans_are_cached_until_the_catalog_changes() {
    let _g = serial();
    let cluster = Cluster::start("plancache");
    let c = cluster.client().await;
    let other = cluster.client().await;
    c.batch_execute(
        "CREATE TABLE pc (k int PRIMARY KEY, v text); INSERT INTO pc VALUES (1, 'one'), (2, 'two')",
    )
    .await
    .unwrap();
    let by_key = c.prepare("SELECT v FROM pc WHERE k = $1").await.unwrap();
    let star = c.prepare("SELECT * FROM pc ORDER BY k").await.unwrap();
    for _ in 0..3 {
        let v: String = c.query_one(&by_key, &[&1i32]).await.unwrap().get(0);
        assert_eq!(v, "one");
    }
    assert_eq!(c.query(&star, &[]).await.unwrap().len(), 2);

    // Another session replaces the table: same shape, new tree, new rows.
    other
        .batch_execute("DROP TABLE pc; CREATE TABLE pc (k int PRIMARY KEY, v text); INSERT INTO pc VALUES (1, 'uno')")
        .await
        .unwrap();
    let v: String = c.query_one(&by_key, &[&1i32]).await.unwrap().get(0);
    assert_eq!(v, "uno");
    assert_eq!(c.query(&star, &[]).await.unwrap().len(), 1);

    // An index created since is used by a fresh plan, and the answer stays right.
    other
        .batch_execute("CREATE INDEX pc_v ON pc (v)")
        .await
        .unwrap();
    let by_v = c.prepare("SELECT k FROM pc WHERE v = $1").await.unwrap();
    let k: i32 = c.query_one(&by_v, &[&"uno"]).await.unwrap().get(0);
    assert_eq!(k, 1);

    // Inside a transaction that changes the catalog itself, its own change is seen; after a
    // rollback the old catalog is back.
    c.batch_execute("BEGIN; DROP TABLE pc; CREATE TABLE pc (k int PRIMARY KEY, v text); INSERT INTO pc VALUES (1, 'eins')")
        .await
        .unwrap();
    let v: String = c.query_one(&by_key, &[&1i32]).await.unwrap().get(0);
    assert_eq!(v, "eins");
    c.batch_execute("ROLLBACK").await.unwrap();
    let v: String = c.query_one(&by_key, &[&1i32]).await.unwrap().get(0);
    assert_eq!(v, "uno");

    // A new column would change what SELECT * returns: refused, as PostgreSQL does.
    other
        .batch_execute("ALTER TABLE pc ADD COLUMN w int")
        .await
        .unwrap();
    let e = c.query(&star, &[]).await.unwrap_err();
    assert_eq!(sqlstate(&e), "0A000", "{e}");
    let message = e.as_db_error().map(|d| d.message().to_string());
    assert_eq!(
        message.as_deref(),
        Some("cached plan must not change result type")
    );
    // The narrower statement is planned again and still answers.
    let v: String = c.query_one(&by_key, &[&1i32]).await.unwrap().get(0);
    assert_eq!(v, "uno");
}

/// A parameter the client declares `bpchar` is a bpchar (its trailing blanks do not count, and
/// casting it to text drops them, as PostgreSQL 15 answers), and a `character(n)` column comes
/// back padded, in text and binary form; a `text` parameter keeps its blanks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bpchar_parameters_and_results() {
    use tokio_postgres::types::Type;
    let _g = serial();
    let cluster = Cluster::start("sql-bpchar-wire");
    let c = cluster.client().await;
    c.batch_execute(
        "CREATE TABLE ch (k char(3) PRIMARY KEY, n int); INSERT INTO ch VALUES ('a', 1)",
    )
    .await
    .unwrap();
    let st = c
        .prepare_typed("SELECT $1 = 'a'::char(3), $1::text || '|'", &[Type::BPCHAR])
        .await
        .unwrap();
    let row = c.query_one(&st, &[&"a  "]).await.unwrap();
    assert!(row.get::<_, bool>(0));
    assert_eq!(row.get::<_, String>(1), "a|");
    let st = c
        .prepare_typed("SELECT $1::text || '|'", &[Type::TEXT])
        .await
        .unwrap();
    let row = c.query_one(&st, &[&"a  "]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "a  |");
    // A key lookup by a bpchar parameter with fewer (or more) blanks than the stored value.
    let st = c
        .prepare_typed("SELECT n, k FROM ch WHERE k = $1", &[Type::BPCHAR])
        .await
        .unwrap();
    for probe in ["a", "a ", "a    "] {
        let row = c.query_one(&st, &[&probe]).await.unwrap();
        assert_eq!(row.get::<_, i32>(0), 1, "probe {probe:?}");
        // Binary result: the stored, padded text.
        assert_eq!(row.get::<_, String>(1), "a  ");
    }
    let rows = c.simple_query("SELECT k FROM ch").await.unwrap();
    let tokio_postgres::SimpleQueryMessage::Row(r) = &rows[1] else {
        panic!("no row: {rows:?}");
    };
    assert_eq!(r.get(0), Some("a  "));
}

/// A record result over the extended protocol: described as `record` (OID 2249), sent in
/// binary as `record_send` lays it out (field count, then each field's type OID, length and
/// bytes; NULL as length -1), and in text as `record_out` writes it.
/// A result column read from a column declared with a modifier, or cast to such a type, is
/// described with that type and modifier, as PostgreSQL 15 describes it (psql's `\gdesc`
/// there: numeric(10,3), character varying(20), character(4), text, timestamp(2) without
/// time zone, character varying(7)[], numeric(6,1), character varying(5), numeric); its
/// values still come back in binary form.
/// A prepared statement's result columns: name, type and type modifier.
fn describe(st: &tokio_postgres::Statement) -> Vec<(&str, tokio_postgres::types::Type, i32)> {
    st.columns()
        .iter()
        .map(|col| (col.name(), col.type_().clone(), col.type_modifier()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn result_columns_carry_their_declared_modifiers() {
    use tokio_postgres::types::Type;
    let _g = serial();
    let cluster = Cluster::start("sql-typmod-wire");
    let c = cluster.client().await;
    c.batch_execute(
        "CREATE TABLE rdt (a numeric(10,3), b varchar(20), c char(4), d text, g timestamp(2), \
         i varchar(7)[]); INSERT INTO rdt VALUES (1.5, 'bee', 'c', 'dee', now(), '{x}'); \
         CREATE VIEW rdt_v AS SELECT a, b FROM rdt",
    )
    .await
    .unwrap();
    let st = c
        .prepare(
            "SELECT a, b, c, d, g, i, a::numeric(6,1) AS a2, d::varchar(5) AS d5, \
             a + 1 AS a_plus FROM rdt",
        )
        .await
        .unwrap();
    let described = describe(&st);
    let numeric = |p: i32, s: i32| ((p << 16) | s) + 4;
    assert_eq!(
        described,
        vec![
            ("a", Type::NUMERIC, numeric(10, 3)),
            ("b", Type::VARCHAR, 24),
            ("c", Type::BPCHAR, 8),
            ("d", Type::TEXT, -1),
            ("g", Type::TIMESTAMP, 2),
            ("i", Type::VARCHAR_ARRAY, 11),
            ("a2", Type::NUMERIC, numeric(6, 1)),
            ("d5", Type::VARCHAR, 9),
            ("a_plus", Type::NUMERIC, -1),
        ]
    );
    let row = c
        .query_one("SELECT b, d::varchar(2), i FROM rdt", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "bee");
    assert_eq!(row.get::<_, String>(1), "de");
    assert_eq!(row.get::<_, Vec<String>>(2), vec!["x".to_string()]);
    // CASE and COALESCE keep a modifier all their choices declare; an array cast keeps its
    // element's and applies it to each element. (As psql's `\gdesc` shows on PostgreSQL 15.)
    let st = c
        .prepare(
            "SELECT CASE WHEN a > 0 THEN b ELSE b END AS cb, CASE WHEN a > 0 THEN b END AS cn, \
             coalesce(a, a) AS ca, coalesce(b, 'x') AS cx, coalesce(b, d::varchar(3)) AS cv, \
             coalesce(b, d) AS cd, ARRAY['abcdef', NULL]::varchar(3)[] AS av, \
             ARRAY['a']::char(3)[] AS ac, ARRAY['5']::interval minute[] AS ai FROM rdt",
        )
        .await
        .unwrap();
    let described = describe(&st);
    let minute = (1 << (16 + 11)) | 0xffff;
    assert_eq!(
        described,
        vec![
            ("cb", Type::VARCHAR, 24),
            ("cn", Type::VARCHAR, -1),
            ("ca", Type::NUMERIC, numeric(10, 3)),
            ("cx", Type::VARCHAR, -1),
            ("cv", Type::VARCHAR, -1),
            ("cd", Type::TEXT, -1),
            ("av", Type::VARCHAR_ARRAY, 7),
            ("ac", Type::BPCHAR_ARRAY, 7),
            ("ai", Type::INTERVAL_ARRAY, minute),
        ]
    );
    let row = c.query_one(&st, &[]).await.unwrap();
    assert_eq!(
        row.get::<_, Vec<Option<String>>>("av"),
        vec![Some("abc".to_string()), None]
    );
    assert_eq!(row.get::<_, Vec<String>>("ac"), vec!["a  ".to_string()]);
    // Through a view, the same.
    let st = c.prepare("SELECT a, b FROM rdt_v").await.unwrap();
    let described: Vec<(Type, i32)> = st
        .columns()
        .iter()
        .map(|col| (col.type_().clone(), col.type_modifier()))
        .collect();
    assert_eq!(
        described,
        vec![(Type::NUMERIC, numeric(10, 3)), (Type::VARCHAR, 24)]
    );
}

/// A column read straight from a table (or view, or catalog) is described with the table's
/// OID and its column number, through subqueries and CTEs too; a computed one with zeros. The
/// cases and their answers are node-postgres's `tableID`/`columnID` on PostgreSQL 15.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn result_columns_name_the_table_column_they_come_from() {
    let _g = serial();
    let cluster = Cluster::start("sql-column-source");
    let c = cluster.client().await;
    c.batch_execute(
        "CREATE TABLE ft (id int PRIMARY KEY, a text); CREATE TABLE ft2 (id int, c text); \
         CREATE VIEW fv AS SELECT a, id, a || 'x' AS ax FROM ft; CREATE SEQUENCE fs",
    )
    .await
    .unwrap();
    let oid = |name: &str| {
        let c = &c;
        let name = name.to_string();
        async move {
            let oid: i64 = c
                .query_one(
                    "SELECT oid::int8 FROM pg_class WHERE relname = $1",
                    &[&name],
                )
                .await
                .unwrap()
                .get(0);
            u32::try_from(oid).unwrap()
        }
    };
    let (ft, ft2, fv, fs) = (
        oid("ft").await,
        oid("ft2").await,
        oid("fv").await,
        oid("fs").await,
    );
    let cases: Vec<(&str, Vec<(u32, i16)>)> = vec![
        (
            "SELECT id, a, id + 1 AS e, a::text AS f, (a) AS g FROM ft",
            vec![(ft, 1), (ft, 2), (0, 0), (ft, 2), (ft, 2)],
        ),
        ("SELECT * FROM fv", vec![(fv, 1), (fv, 2), (fv, 3)]),
        (
            "SELECT x.a, y.c FROM ft x JOIN ft2 y USING (id)",
            vec![(ft, 2), (ft2, 2)],
        ),
        ("SELECT s.q FROM (SELECT a AS q FROM ft) s", vec![(ft, 2)]),
        (
            "WITH w AS (SELECT a FROM ft) SELECT a FROM w",
            vec![(ft, 2)],
        ),
        (
            "SELECT relname, oid FROM pg_class LIMIT 0",
            vec![(1259, 2), (1259, 1)],
        ),
        ("SELECT id FROM ft UNION SELECT id FROM ft2", vec![(0, 0)]),
        (
            "SELECT a, count(*) FROM ft GROUP BY a",
            vec![(ft, 2), (0, 0)],
        ),
        ("SELECT (SELECT a FROM ft LIMIT 1) AS sub", vec![(0, 0)]),
        ("SELECT last_value FROM fs", vec![(fs, 1)]),
        (
            "INSERT INTO ft2 VALUES (1, 'x') RETURNING id, c, id + 1 AS z, *",
            vec![(ft2, 1), (ft2, 2), (0, 0), (ft2, 1), (ft2, 2)],
        ),
    ];
    for (sql, want) in cases {
        let st = c.prepare(sql).await.unwrap();
        let got: Vec<(u32, i16)> = st
            .columns()
            .iter()
            .map(|col| (col.table_oid().unwrap_or(0), col.column_id().unwrap_or(0)))
            .collect();
        assert_eq!(got, want, "{sql}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_values_in_text_and_binary() {
    use tokio_postgres::types::{FromSql, Type};
    struct Raw(Vec<u8>);
    impl<'a> FromSql<'a> for Raw {
        fn from_sql(
            _: &Type,
            raw: &'a [u8],
        ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
            Ok(Raw(raw.to_vec()))
        }
        fn accepts(_: &Type) -> bool {
            true
        }
    }
    let _g = serial();
    let cluster = Cluster::start("sql-record-wire");
    let c = cluster.client().await;
    c.batch_execute("CREATE TABLE r (a int, b text); INSERT INTO r VALUES (7, 'x y')")
        .await
        .unwrap();
    let st = c
        .prepare("SELECT ROW(a, b, $1::int8, NULL::bool), r FROM r")
        .await
        .unwrap();
    assert_eq!(st.columns()[0].type_(), &Type::RECORD);
    let row = c.query_one(&st, &[&42i64]).await.unwrap();
    let Raw(b) = row.get::<_, Raw>(0);
    let want: Vec<u8> = [
        &4i32.to_be_bytes()[..],
        &23u32.to_be_bytes(),
        &4i32.to_be_bytes(),
        &7i32.to_be_bytes(),
        &25u32.to_be_bytes(),
        &3i32.to_be_bytes(),
        b"x y",
        &20u32.to_be_bytes(),
        &8i32.to_be_bytes(),
        &42i64.to_be_bytes(),
        &16u32.to_be_bytes(),
        &(-1i32).to_be_bytes(),
    ]
    .concat();
    assert_eq!(b, want);
    // The whole-row reference: the table's two columns.
    let Raw(b) = row.get::<_, Raw>(1);
    assert_eq!(&b[..4], &2i32.to_be_bytes());
    assert_eq!(b.len(), 4 + (4 + 4 + 4) + (4 + 4 + 3));
    // Text: through the simple protocol.
    let rows = c
        .simple_query("SELECT ROW(a, b, 42, NULL::bool), r FROM r")
        .await
        .unwrap();
    let tokio_postgres::SimpleQueryMessage::Row(r) = &rows[1] else {
        panic!("no row: {rows:?}");
    };
    assert_eq!(r.get(0), Some("(7,\"x y\",42,)"));
    assert_eq!(r.get(1), Some("(7,\"x y\")"));
}
