//! psql's meta-commands against a real cluster: each runs PostgreSQL 15's own catalog queries
//! (pg_class, pg_namespace, pg_attribute, pg_index, pg_constraint, …) and must list the right
//! objects. Also `\x`, `\timing`, `psql -f FILE` and `\copy` in both directions.
//!
//! Then the settings and activity tools read and act on: SET/SHOW/RESET, `pg_settings`,
//! `current_setting`/`set_config`, `pg_stat_activity`, and `pg_cancel_backend` /
//! `pg_terminate_backend` aimed at other connections (each answer checked against PostgreSQL 15).

// Tests hold the serial lock across awaits on purpose: one cluster at a time.
#![allow(clippy::await_holding_lock, clippy::unwrap_used)]

mod common;

use common::{Cluster, serial, sqlstate};
use std::process::Command;

/// Finds a PostgreSQL client program: on the PATH, else where Debian's PostgreSQL 15 packages put it.
fn find_program(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([std::path::PathBuf::from("/usr/lib/postgresql/15/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn psql_path() -> std::path::PathBuf {
    find_program("psql")
        .unwrap_or_else(|| panic!("psql is not installed (Debian: postgresql-client-15)"))
}

/// Runs psql with `args` (after the connection options); returns stdout, failing on errors.
fn psql(cluster: &Cluster, args: &[&str]) -> String {
    let addr = cluster.writer.as_ref().unwrap().addr.clone();
    let (host, port) = addr.rsplit_once(':').unwrap();
    let out = Command::new(psql_path())
        .args([
            "-X", "-h", host, "-p", port, "-U", "borealis", "-d", "borealis",
        ])
        .args(["-v", "ON_ERROR_STOP=1"])
        .args(args)
        .current_dir(&cluster.dir)
        .output()
        .expect("run psql");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success() && !stderr.contains("ERROR"),
        "psql {args:?} failed:\n{stdout}\n{stderr}"
    );
    stdout
}

fn lines_with(out: &str, word: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.split('|').any(|f| f.trim() == word))
        .map(str::to_string)
        .collect()
}

#[test]
fn psql_meta_commands_list_the_right_objects() {
    let _g = serial();
    let cluster = Cluster::start("psql");
    let script = cluster.dir.join("setup.sql");
    std::fs::write(
        &script,
        "CREATE TABLE accounts (id int PRIMARY KEY, owner varchar(20) NOT NULL, balance bigint);\n\
         CREATE TABLE events (at timestamp, note char(8));\n\
         CREATE TABLE transfers (id int PRIMARY KEY, account int REFERENCES accounts (id) ON DELETE CASCADE);\n\
         INSERT INTO accounts VALUES (1, 'ann', 10), (2, 'bob', 20);\n",
    )
    .unwrap();
    let out = psql(&cluster, &["-f", script.to_str().unwrap()]);
    assert!(out.contains("INSERT 0 2"), "{out}");

    let l = psql(&cluster, &["-c", "\\l"]);
    assert_eq!(lines_with(&l, "borealis").len(), 1, "{l}");
    assert!(l.contains("UTF8"), "{l}");

    let dn = psql(&cluster, &["-c", "\\dn"]);
    assert_eq!(lines_with(&dn, "public").len(), 1, "{dn}");
    assert!(!dn.contains("pg_catalog"), "{dn}");
    // PostgreSQL 15's public schema belongs to pg_database_owner.
    assert!(
        lines_with(&dn, "public")[0].contains("pg_database_owner"),
        "{dn}"
    );

    for cmd in ["\\dt", "\\d"] {
        let dt = psql(&cluster, &["-c", cmd]);
        for t in ["accounts", "events"] {
            let ls = lines_with(&dt, t);
            assert_eq!(ls.len(), 1, "{cmd}: {dt}");
            assert!(ls[0].contains("table") && ls[0].contains("public"), "{dt}");
        }
        assert!(!dt.contains("accounts_pkey"), "{cmd} lists no index: {dt}");
    }

    let d = psql(&cluster, &["-c", "\\d accounts"]);
    assert!(d.contains("Table \"public.accounts\""), "{d}");
    let id = lines_with(&d, "id");
    assert!(
        id[0].contains("integer") && id[0].contains("not null"),
        "{d}"
    );
    assert!(
        lines_with(&d, "owner")[0].contains("character varying(20)"),
        "{d}"
    );
    assert!(lines_with(&d, "balance")[0].contains("bigint"), "{d}");
    assert!(
        d.contains("\"accounts_pkey\" PRIMARY KEY, btree (id)"),
        "{d}"
    );
    // Foreign keys, from both ends, as PostgreSQL 15's psql prints them.
    assert!(
        d.contains(
            "Referenced by:\n    TABLE \"transfers\" CONSTRAINT \"transfers_account_fkey\" \
             FOREIGN KEY (account) REFERENCES accounts(id) ON DELETE CASCADE"
        ),
        "{d}"
    );
    let d = psql(&cluster, &["-c", "\\d transfers"]);
    assert!(
        d.contains(
            "Foreign-key constraints:\n    \"transfers_account_fkey\" FOREIGN KEY (account) \
             REFERENCES accounts(id) ON DELETE CASCADE"
        ),
        "{d}"
    );
    let d = psql(&cluster, &["-c", "\\d events"]);
    assert!(
        lines_with(&d, "at")[0].contains("timestamp without time zone"),
        "{d}"
    );
    assert!(lines_with(&d, "note")[0].contains("character(8)"), "{d}");

    // The verbose forms: sizes, storage, access method.
    let dtp = psql(&cluster, &["-c", "\\dt+"]);
    let acc = lines_with(&dtp, "accounts");
    assert!(acc[0].contains("heap") && acc[0].contains("bytes"), "{dtp}");
    let dp = psql(&cluster, &["-c", "\\d+ accounts"]);
    assert!(dp.contains("Access method: heap"), "{dp}");
    assert!(lines_with(&dp, "owner")[0].contains("extended"), "{dp}");

    let di = psql(&cluster, &["-c", "\\di"]);
    let idx = lines_with(&di, "accounts_pkey");
    assert_eq!(idx.len(), 1, "{di}");
    assert!(
        idx[0].contains("index") && idx[0].contains("accounts"),
        "{di}"
    );

    for cmd in ["\\dv", "\\ds"] {
        let out = psql(&cluster, &["-c", cmd]);
        assert!(out.is_empty() || !out.contains("accounts"), "{cmd}: {out}");
    }

    let du = psql(&cluster, &["-c", "\\du"]);
    assert_eq!(lines_with(&du, "borealis").len(), 1, "{du}");
    assert!(du.contains("Superuser"), "{du}");

    let x = psql(
        &cluster,
        &[
            "-c",
            "\\x",
            "-c",
            "SELECT id, owner FROM accounts WHERE id = 1",
        ],
    );
    assert!(x.contains("-[ RECORD 1 ]"), "{x}");
    assert!(lines_with(&x, "ann").len() == 1, "{x}");

    // SHOW ALL: name, setting, description of every setting pg_settings lists.
    let all = psql(&cluster, &["-c", "SHOW ALL"]);
    let sp = lines_with(&all, "search_path");
    assert_eq!(sp.len(), 1, "{all}");
    assert!(sp[0].contains("\"$user\", public"), "{all}");
    let t = psql(&cluster, &["-c", "\\timing", "-c", "SELECT 1"]);
    assert!(t.contains("Time: "), "{t}");

    // \copy out, then back in through COPY FROM STDIN.
    let out = psql(&cluster, &["-c", "\\copy accounts to 'accounts.tsv'"]);
    assert!(out.contains("COPY 2"), "{out}");
    let tsv = std::fs::read_to_string(cluster.dir.join("accounts.tsv")).unwrap();
    assert_eq!(tsv, "1\tann\t10\n2\tbob\t20\n");
    std::fs::write(cluster.dir.join("more.csv"), "3,cy,30\n4,dee,\n").unwrap();
    let out = psql(
        &cluster,
        &["-c", "\\copy accounts from 'more.csv' with csv"],
    );
    assert!(out.contains("COPY 2"), "{out}");
    let all = psql(
        &cluster,
        &[
            "-A",
            "-t",
            "-c",
            "SELECT id, owner, balance FROM accounts ORDER BY id",
        ],
    );
    assert_eq!(all, "1|ann|10\n2|bob|20\n3|cy|30\n4|dee|\n");
}

/// Every row of `sql` as text, NULL as "NULL".
async fn texts(c: &tokio_postgres::Client, sql: &str) -> Vec<Vec<String>> {
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

async fn one(c: &tokio_postgres::Client, sql: &str) -> String {
    texts(c, sql).await[0][0].clone()
}

async fn connect(cluster: &Cluster, application_name: &str) -> tokio_postgres::Client {
    let url = format!("{}?application_name={application_name}", cluster.url());
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// Polls `pg_stat_activity` (bounded) until `pred` holds for the row of `pid` (`None`: no row).
async fn wait_activity(
    c: &tokio_postgres::Client,
    pid: &str,
    pred: impl Fn(Option<&Vec<String>>) -> bool,
) -> Option<Vec<String>> {
    let sql = format!(
        "SELECT state, query, application_name, usename, datname, backend_type, \
         xact_start IS NOT NULL, client_addr FROM pg_stat_activity WHERE pid = {pid}"
    );
    for _ in 0..200 {
        let rows = texts(c, &sql).await;
        if pred(rows.first()) {
            return rows.into_iter().next();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("pg_stat_activity never showed the expected row for {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_activity_cancel_and_terminate() {
    let _g = serial();
    let cluster = Cluster::start("psql-activity");
    let c = connect(&cluster, "watcher").await;

    // SET / SHOW / RESET and pg_settings, as PostgreSQL 15 shows them.
    c.batch_execute("SET work_mem = '8MB'").await.unwrap();
    assert_eq!(
        texts(
            &c,
            "SELECT setting, unit, source, reset_val, boot_val, vartype, context \
             FROM pg_settings WHERE name = 'work_mem'"
        )
        .await,
        [["8192", "kB", "session", "4096", "4096", "integer", "user"]]
    );
    assert_eq!(one(&c, "SELECT current_setting('work_mem')").await, "8MB");
    assert_eq!(
        one(&c, "SELECT set_config('statement_timeout', '5s', false)").await,
        "5s"
    );
    assert_eq!(one(&c, "SHOW statement_timeout").await, "5s");
    assert_eq!(
        texts(
            &c,
            "SELECT setting, source FROM pg_settings WHERE name = 'statement_timeout'"
        )
        .await,
        [["5000", "session"]]
    );
    c.batch_execute("RESET work_mem; RESET statement_timeout")
        .await
        .unwrap();
    assert_eq!(one(&c, "SHOW work_mem").await, "4MB");
    assert_eq!(one(&c, "SHOW statement_timeout").await, "0");
    assert_eq!(
        texts(
            &c,
            "SELECT setting, source FROM pg_settings WHERE name = 'application_name'"
        )
        .await,
        [["watcher", "client"]]
    );
    assert_eq!(
        one(
            &c,
            "SELECT enumvals FROM pg_settings WHERE name = 'default_transaction_isolation'"
        )
        .await,
        "{serializable,\"repeatable read\",\"read committed\",\"read uncommitted\"}"
    );
    let e = c.batch_execute("SET work_mem = 'lots'").await.unwrap_err();
    assert_eq!(sqlstate(&e), "22023");
    assert_eq!(
        e.as_db_error().unwrap().message(),
        "invalid value for parameter \"work_mem\": \"lots\""
    );
    let e = c
        .batch_execute("SELECT current_setting('nosuch')")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42704");
    assert_eq!(
        e.as_db_error().unwrap().message(),
        "unrecognized configuration parameter \"nosuch\""
    );
    assert_eq!(
        one(&c, "SELECT current_setting('nosuch', true) IS NULL").await,
        "t"
    );

    // pg_stat_activity lists every connection with its statement and state.
    c.batch_execute("CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 0)")
        .await
        .unwrap();
    let holder = connect(&cluster, "holder").await;
    let waiter = connect(&cluster, "waiter").await;
    let holder_pid = one(&holder, "SELECT pg_backend_pid()").await;
    let waiter_pid = one(&waiter, "SELECT pg_backend_pid()").await;
    let me = one(&c, "SELECT pg_backend_pid()").await;
    let own = wait_activity(&c, &me, |r| r.is_some()).await.unwrap();
    assert_eq!(own[0], "active");
    assert!(own[1].contains("pg_stat_activity"), "{own:?}");
    assert_eq!(
        own[2..7],
        ["watcher", "borealis", "borealis", "client backend", "t"]
    );
    assert_eq!(own[7], "127.0.0.1");
    holder
        .batch_execute("BEGIN; UPDATE t SET v = 1 WHERE id = 1")
        .await
        .unwrap();
    let h = wait_activity(&c, &holder_pid, |r| r.is_some())
        .await
        .unwrap();
    assert_eq!(h[0], "idle in transaction", "{h:?}");
    assert_eq!(h[6], "t", "a transaction is open: {h:?}");
    assert!(h[1].contains("UPDATE t"), "{h:?}");

    // pg_cancel_backend: the lock-waiting statement of another connection fails with 57014.
    let w = tokio::spawn(async move {
        let r = waiter
            .batch_execute("UPDATE t SET v = 2 WHERE id = 1")
            .await;
        (waiter, r)
    });
    wait_activity(&c, &waiter_pid, |r| {
        r.is_some_and(|r| r[0] == "active" && r[1] == "UPDATE t SET v = 2 WHERE id = 1")
    })
    .await;
    assert_eq!(
        one(&c, &format!("SELECT pg_cancel_backend({waiter_pid})")).await,
        "t"
    );
    let (waiter, r) = w.await.unwrap();
    let e = r.unwrap_err();
    assert_eq!(sqlstate(&e), "57014");
    assert_eq!(
        e.as_db_error().unwrap().message(),
        "canceling statement due to user request"
    );
    assert_eq!(
        one(&waiter, "SELECT 1").await,
        "1",
        "the connection lives on"
    );
    assert_eq!(one(&c, "SELECT pg_cancel_backend(999999)").await, "f");
    assert_eq!(one(&c, "SELECT pg_is_in_recovery()").await, "f");

    // pg_terminate_backend of a waiting connection: FATAL 57P01, then the connection is closed.
    let w = tokio::spawn(async move {
        let r = waiter
            .batch_execute("UPDATE t SET v = 3 WHERE id = 1")
            .await;
        (waiter, r)
    });
    wait_activity(&c, &waiter_pid, |r| {
        r.is_some_and(|r| r[0] == "active" && r[1] == "UPDATE t SET v = 3 WHERE id = 1")
    })
    .await;
    assert_eq!(
        one(&c, &format!("SELECT pg_terminate_backend({waiter_pid})")).await,
        "t"
    );
    let (waiter, r) = w.await.unwrap();
    let e = r.unwrap_err();
    assert_eq!(sqlstate(&e), "57P01");
    assert_eq!(
        e.as_db_error().unwrap().message(),
        "terminating connection due to administrator command"
    );
    assert!(waiter.simple_query("SELECT 1").await.is_err());
    wait_activity(&c, &waiter_pid, |r| r.is_none()).await;

    // … and of an idle one, whose open transaction rolls back (its row lock is released).
    assert_eq!(
        one(&c, &format!("SELECT pg_terminate_backend({holder_pid})")).await,
        "t"
    );
    wait_activity(&c, &holder_pid, |r| r.is_none()).await;
    let e = holder.simple_query("SELECT 1").await.unwrap_err();
    assert!(
        e.is_closed() || sqlstate(&e) == "57P01",
        "the terminated connection is closed: {e:?}"
    );
    c.batch_execute("UPDATE t SET v = 4 WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(one(&c, "SELECT v FROM t").await, "4");
}

/// Runs psql as `postgres` against `host:port/db` with `args`; returns stdout, failing on errors.
fn psql_at(host: &str, port: &str, db: &str, args: &[&str]) -> String {
    psql_at_with_stderr(host, port, db, args).0
}

/// [`psql_at`], returning stdout and stderr (where psql prints notices).
fn psql_at_with_stderr(host: &str, port: &str, db: &str, args: &[&str]) -> (String, String) {
    let out = Command::new(psql_path())
        .args(["-X", "-h", host, "-p", port, "-U", "postgres", "-d", db])
        .args(["-v", "ON_ERROR_STOP=1"])
        .args(args)
        .output()
        .expect("run psql");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success() && !stderr.contains("ERROR"),
        "psql {args:?} failed:\n{stdout}\n{stderr}"
    );
    (stdout, stderr)
}

/// psql's schema-aware meta-commands (`\dn`, `\dt s.*`, `\d s.t`, `\di`, `\ds`, `\dv` with
/// patterns and with the search path) print exactly what they print against PostgreSQL 15
/// for the same objects, among them objects moved by `ALTER … SET SCHEMA` and made by
/// CREATE SCHEMA's elements; DROP SCHEMA … CASCADE reaches views in other schemas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_lists_schemas_as_postgresql_does() {
    let _g = serial();
    let setup = "CREATE SCHEMA shop;\n\
         CREATE TABLE shop.orders (id serial PRIMARY KEY, qty int NOT NULL CHECK (qty > 0), note text);\n\
         CREATE INDEX orders_qty ON shop.orders (qty);\n\
         CREATE TABLE shop.items (order_id int REFERENCES shop.orders (id), sku varchar(10) UNIQUE);\n\
         CREATE TABLE orders (a int);\n\
         CREATE SEQUENCE shop.counter;\n\
         CREATE VIEW shop.big AS SELECT id FROM shop.orders WHERE qty > 10;\n\
         CREATE SCHEMA empty;\n\
         INSERT INTO shop.orders (qty, note) VALUES (3, 'first'), (12, NULL);\n\
         TRUNCATE orders;\n\
         COMMENT ON TABLE shop.orders IS 'orders taken';\n\
         COMMENT ON SCHEMA shop IS 'the shop';\n\
         CREATE TABLE mover (id serial PRIMARY KEY, v text UNIQUE CHECK (v <> ''));\n\
         CREATE INDEX mover_v_idx ON mover (v DESC);\n\
         CREATE VIEW mover_ids AS SELECT id FROM mover;\n\
         ALTER TABLE mover SET SCHEMA shop;\n\
         CREATE SEQUENCE loose;\n\
         ALTER SEQUENCE loose SET SCHEMA shop;\n\
         CREATE SCHEMA made CREATE VIEW mv AS SELECT a FROM m CREATE TABLE m (a int PRIMARY KEY);\n";
    let commands: &[&[&str]] = &[
        &["-c", "\\dn"],
        &["-c", "\\dt"],
        &["-c", "\\dt shop.*"],
        &["-c", "\\dt *.orders"],
        &["-c", "\\d shop.orders"],
        &["-c", "\\d shop.items"],
        &["-c", "\\di shop.*"],
        &["-c", "\\ds shop.*"],
        &["-c", "\\dv shop.*"],
        &["-c", "\\d orders"],
        &["-c", "SET search_path = shop, public", "-c", "\\dt"],
        &["-c", "SET search_path = shop, public", "-c", "\\d orders"],
        &["-c", "SET search_path = shop", "-c", "\\d items"],
        // Moved by SET SCHEMA, with their indexes, constraints and owned sequence; made by
        // CREATE SCHEMA's elements.
        &["-c", "\\d shop.mover"],
        &["-c", "\\d mover_ids"],
        &["-c", "\\dt made.*"],
        &["-c", "\\dv made.*"],
        &["-c", "\\d made.m"],
    ];

    let pg = common::postgres::Postgres::start("psql-schemas");
    let pg_port = pg.port.to_string();
    pg.client("postgres")
        .await
        .batch_execute(setup)
        .await
        .unwrap();
    let cluster = Cluster::start("psql-schemas");
    let addr = cluster.writer.as_ref().unwrap().addr.clone();
    let (host, port) = addr.rsplit_once(':').unwrap();
    psql_at(host, port, "borealis", &["-c", setup]);
    // COPY into and out of a qualified table, through psql's \copy.
    let data = cluster.dir.join("orders.csv");
    std::fs::write(&data, "5,from file\n20,\n").unwrap();
    let copy_in = format!(
        "\\copy shop.orders (qty, note) from '{}' csv",
        data.display()
    );
    for (h, p, db) in [
        ("127.0.0.1", pg_port.as_str(), "postgres"),
        (host, port, "borealis"),
    ] {
        psql_at(h, p, db, &["-c", &copy_in]);
    }
    let commands: Vec<&[&str]> = commands
        .iter()
        .copied()
        .chain([
            &["-c", "COPY shop.orders TO STDOUT"][..],
            &["-c", "\\dn+"][..],
            &["-c", "SELECT * FROM shop.big ORDER BY id"][..],
        ])
        .collect();
    for args in &commands {
        let want = psql_at("127.0.0.1", &pg_port, "postgres", args);
        let got = psql_at(host, port, "borealis", args);
        assert!(
            want.lines().count() > 3,
            "psql {args:?} lists nothing: {want}"
        );
        assert_eq!(got, want, "psql {args:?}");
    }
    let dn = psql_at(host, port, "borealis", &["-c", "\\dn"]);
    assert!(dn.contains(" shop ") && dn.contains(" empty "), "{dn}");
    let d = psql_at(host, port, "borealis", &["-c", "\\d shop.items"]);
    assert!(
        d.contains("Table \"shop.items\"") && d.contains("REFERENCES shop.orders(id)"),
        "{d}"
    );
    // DROP SCHEMA … CASCADE says what it drops, as PostgreSQL says it (a NOTICE with a DETAIL).
    for sql in ["DROP SCHEMA empty CASCADE", "DROP SCHEMA shop CASCADE"] {
        let want = psql_at_with_stderr("127.0.0.1", &pg_port, "postgres", &["-c", sql]);
        let got = psql_at_with_stderr(host, port, "borealis", &["-c", sql]);
        assert_eq!(got, want, "{sql}");
    }
}

/// psql with `FETCH_COUNT` reads a query's rows through a cursor (BEGIN, DECLARE … NO SCROLL
/// CURSOR, FETCH FORWARD n, CLOSE, COMMIT), alone and inside the script's own transaction
/// block; every row arrives, in order, as without it.
#[test]
fn psql_fetch_count_pages_through_a_cursor() {
    let _g = serial();
    let cluster = Cluster::start("psql-fetch-count");
    psql(
        &cluster,
        &[
            "-c",
            "CREATE TABLE fc (id int PRIMARY KEY, t text); \
             INSERT INTO fc SELECT g, 'v' || g FROM generate_series(1, 95) g",
        ],
    );
    let query = "SELECT id, t FROM fc ORDER BY id";
    let plain = psql(&cluster, &["-A", "-t", "-c", query]);
    let want: String = (1..=95).map(|i| format!("{i}|v{i}\n")).collect();
    assert_eq!(plain, want);
    let paged = psql(&cluster, &["-A", "-t", "-v", "FETCH_COUNT=10", "-c", query]);
    assert_eq!(paged, want);
    let script = cluster.dir.join("fetch_count.sql");
    std::fs::write(
        &script,
        format!(
            "\\set FETCH_COUNT 7\n{query};\nBEGIN;\n{query} DESC;\n\
             SELECT count(*) FROM fc;\nCOMMIT;\nSELECT max(id) FROM fc;\n"
        ),
    )
    .unwrap();
    let out = psql(&cluster, &["-A", "-t", "-f", script.to_str().unwrap()]);
    let desc: String = (1..=95).rev().map(|i| format!("{i}|v{i}\n")).collect();
    assert_eq!(out, format!("{want}BEGIN\n{desc}95\nCOMMIT\n95\n"));
}
