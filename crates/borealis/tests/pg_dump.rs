//! pg_dump round trips with a real PostgreSQL 15: a database of tables (text, varchar, char,
//! bool, int, bigint, float8, timestamp, and arrays of text, int and varchar(n); NULLs, quotes,
//! tabs, backslashes and newlines in text, NULL elements and quoted ones in arrays),
//! primary keys, unique constraints, a secondary index, CHECK and FOREIGN KEY constraints,
//! defaults, a serial column, a sequence that has handed out values, a view, and comments, in
//! `public` and in a second schema (with a table of the same name as one of `public`'s, and
//! foreign keys across the two), with data, is
//! dumped from PostgreSQL by `pg_dump` (plain format) and restored into Borealis with psql. Every
//! table's data (ordered by key) and the schema objects as the catalogs describe them (columns,
//! relations, indexes, constraints, sequences and their current values, views) must then read
//! the same on both.
//!
//! Then the same tables, view and sequences are moved to another schema in both (`ALTER …
//! SET SCHEMA`) and some of them renamed (`ALTER … RENAME`), and the other way: `pg_dump` of the Borealis database is restored into a new
//! PostgreSQL 15 database and, after every object is dropped, into Borealis again. Both restores run with
//! `ON_ERROR_STOP`, and both must read the same as the original PostgreSQL database.
//!
//! ```text
//!   SCHEMA ──psql──▶ PostgreSQL 15 ──pg_dump──▶ dump.sql ──psql──▶ Borealis
//!                          │                                          │
//!                          └──────── catalog queries, data ───────────┴─▶ compare
//!   Borealis ──pg_dump──▶ dump-back.sql ──psql──▶ PostgreSQL 15 (new database) ─▶ compare
//!                                       └─psql──▶ Borealis (emptied)            ─▶ compare
//! ```

// Tests hold the serial lock across awaits on purpose: one cluster at a time.
#![allow(clippy::await_holding_lock, clippy::unwrap_used)]

mod common;

use common::postgres::{PG_BIN, Postgres};
use common::{Cluster, serial};
use std::path::{Path, PathBuf};
use std::process::Command;
use tokio_postgres::Client;

/// The objects dumped: every kind pg_dump writes for a plain schema.
const SCHEMA: &str = r"
CREATE TABLE authors (
    id serial PRIMARY KEY,
    name varchar(40) NOT NULL UNIQUE,
    code char(4),
    active bool DEFAULT true,
    born timestamp
);
CREATE TABLE books (
    id bigint PRIMARY KEY,
    author_id int NOT NULL REFERENCES authors (id),
    title text NOT NULL,
    price float8 CHECK (price >= 0),
    pages int DEFAULT 100,
    added timestamp DEFAULT now()
);
CREATE INDEX books_title ON books (title);
CREATE TABLE tags (book bigint NOT NULL, tag text NOT NULL, UNIQUE (book, tag));
CREATE SEQUENCE tickets START 10 INCREMENT 5;
CREATE VIEW cheap AS SELECT id, title FROM books WHERE price < 10;
COMMENT ON TABLE books IS 'the catalogue';
COMMENT ON COLUMN books.title IS 'as printed, with ''quotes''';
INSERT INTO authors (name, code, born) VALUES
    ('ann', 'A1', '1970-01-02 03:04:05'), ('bob', NULL, NULL), ('O''Hara', 'x', '2001-12-31 23:59:59');
INSERT INTO books VALUES
    (1, 1, 'one', 5.5, 10, '2020-01-01 00:00:00'),
    (2, 2, E'tab\there\nnewline \\ backslash', 12.25, DEFAULT, '2021-06-01 12:00:00'),
    (9000000000, 3, 'big', 0.125, NULL, '1999-01-01 00:00:00');
INSERT INTO tags VALUES (1, 'red'), (1, 'blue'), (2, 'red');
SELECT nextval('tickets');
SELECT nextval('tickets');
CREATE SCHEMA shop;
COMMENT ON SCHEMA shop IS 'the shop';
CREATE TABLE shop.orders (
    id serial PRIMARY KEY,
    book_id bigint REFERENCES public.books (id),
    qty int NOT NULL CHECK (qty > 0),
    note text
);
CREATE INDEX orders_book ON shop.orders (book_id);
CREATE TABLE shop.books (isbn text PRIMARY KEY, title text UNIQUE);
CREATE TABLE holds (order_id int REFERENCES shop.orders (id), since timestamp);
CREATE SEQUENCE shop.counter START 3;
CREATE VIEW shop.big_orders AS SELECT id, qty FROM shop.orders WHERE qty > 1;
COMMENT ON TABLE shop.orders IS 'orders taken';
INSERT INTO shop.orders (book_id, qty, note) VALUES (1, 2, 'first'), (9000000000, 1, NULL), (NULL, 5, 'x');
INSERT INTO shop.books VALUES ('978-0', 'zero'), ('978-1', 'one');
INSERT INTO holds VALUES (1, '2022-02-02 02:02:02'), (3, NULL);
SELECT nextval('shop.counter');
CREATE TABLE labels (id int PRIMARY KEY, names text[], scores int[] NOT NULL, codes varchar(3)[]);
INSERT INTO labels VALUES
    (1, ARRAY['a', 'b c', NULL, 'NULL', 'q' || chr(34) || 'x', 'back\slash', '{}'], '{1,NULL,-3}', '{abc,de}'),
    (2, '{}', '{}', NULL),
    (3, NULL, ARRAY[7], ARRAY['x,y']);
";

/// The data compared, each ordered by its key.
const DATA: &[&str] = &[
    "SELECT * FROM authors ORDER BY id",
    "SELECT * FROM books ORDER BY id",
    "SELECT * FROM tags ORDER BY book, tag",
    "SELECT * FROM cheap ORDER BY id",
    "SELECT * FROM shop.orders ORDER BY id",
    "SELECT * FROM shop.books ORDER BY isbn",
    "SELECT * FROM shop.big_orders ORDER BY id",
    "SELECT * FROM holds ORDER BY order_id",
    "SELECT * FROM labels ORDER BY id",
];

/// The schema objects compared, as the catalogs describe them.
const CATALOG: &[&str] = &[
    "SELECT table_schema, table_name, column_name, data_type, is_nullable, column_default, \
     character_maximum_length FROM information_schema.columns \
     WHERE table_schema IN ('public', 'shop') ORDER BY table_schema, table_name, ordinal_position",
    "SELECT n.nspname, c.relname, c.relkind FROM pg_class c \
     JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname IN ('public', 'shop') ORDER BY 1, 2",
    "SELECT schemaname, indexname, tablename, indexdef FROM pg_indexes \
     WHERE schemaname IN ('public', 'shop') ORDER BY 1, 2",
    "SELECT n.nspname, con.conname, c.relname, con.contype, pg_get_constraintdef(con.oid) \
     FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid \
     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('public', 'shop') \
     ORDER BY 1, 2",
    "SELECT schemaname, sequencename, data_type, start_value, increment_by, min_value, \
     max_value, last_value FROM pg_sequences ORDER BY 1, 2",
    "SELECT schemaname, viewname FROM pg_views WHERE schemaname IN ('public', 'shop') \
     ORDER BY 1, 2",
    "SELECT obj_description('books'::regclass, 'pg_class'), \
     col_description('books'::regclass, 3), col_description('books'::regclass, 2), \
     obj_description(2200, 'pg_namespace'), obj_description('shop.orders'::regclass, 'pg_class')",
    "SELECT nspname, obj_description(oid, 'pg_namespace') FROM pg_namespace \
     WHERE nspname IN ('public', 'shop') ORDER BY 1",
];

/// Moves applied to both databases after the first comparison: a table, a view, a sequence
/// and a table of the second schema go to a third one (`ALTER … SET SCHEMA`), and a table
/// (whose primary key keeps its name), an index, a constraint, a sequence a default calls and
/// a view are renamed, so that the dumps of Borealis that follow carry moved and renamed
/// objects.
const MOVES: &str = "CREATE SCHEMA moved; ALTER TABLE tags SET SCHEMA moved; \
     ALTER VIEW cheap SET SCHEMA moved; ALTER SEQUENCE tickets SET SCHEMA moved; \
     ALTER TABLE shop.books SET SCHEMA moved; ALTER TABLE authors RENAME TO writers; \
     ALTER INDEX books_title RENAME TO books_by_title; \
     ALTER TABLE books RENAME CONSTRAINT books_price_check TO price_ok; \
     ALTER SEQUENCE shop.orders_id_seq RENAME TO order_ids; \
     ALTER VIEW shop.big_orders RENAME TO large_orders";

/// A query of [`DATA`], [`CATALOG`] or the sequence checks, naming the objects where
/// [`MOVES`] put them.
fn after_moves(sql: &str) -> String {
    sql.replace("FROM tags", "FROM moved.tags")
        .replace("FROM authors", "FROM writers")
        .replace("FROM shop.big_orders", "FROM shop.large_orders")
        .replace("FROM cheap", "FROM moved.cheap")
        .replace("FROM shop.books", "FROM moved.books")
        .replace("nextval('tickets')", "nextval('moved.tickets')")
        .replace("('public', 'shop')", "('public', 'shop', 'moved')")
}

/// A PostgreSQL client program of the same version as the server.
fn client_program(name: &str) -> PathBuf {
    let p = Path::new(PG_BIN).join(name);
    assert!(p.is_file(), "{} does not exist", p.display());
    p
}

/// Runs psql with a script file against `host:port/db` as `user`; returns its stderr.
fn psql_file(
    host: &str,
    port: &str,
    user: &str,
    db: &str,
    file: &Path,
    stop_on_error: bool,
) -> String {
    let out = Command::new(client_program("psql"))
        .args(["-X", "-q", "-h", host, "-p", port, "-U", user, "-d", db])
        .args(["-v", &format!("ON_ERROR_STOP={}", u8::from(stop_on_error))])
        .arg("-f")
        .arg(file)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("run psql");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success(),
        "psql -f {} failed:\n{stderr}",
        file.display()
    );
    stderr
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_dump_restores_into_borealis() {
    let _g = serial();
    let pg = Postgres::start("pg-dump");
    let port = pg.port.to_string();
    pg.client("postgres")
        .await
        .batch_execute("CREATE DATABASE src")
        .await
        .unwrap();
    let schema = pg.dir.join("schema.sql");
    std::fs::write(&schema, SCHEMA).unwrap();
    psql_file("127.0.0.1", &port, "postgres", "src", &schema, true);

    let dump = pg.dir.join("dump.sql");
    let out = Command::new(client_program("pg_dump"))
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "postgres",
            "-d",
            "src",
            "-f",
        ])
        .arg(&dump)
        .output()
        .expect("run pg_dump");
    assert!(
        out.status.success(),
        "pg_dump failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The dump names its objects' owner, `postgres`: the restore connects as that role, the one
    // Borealis knows for the session.
    let cluster = Cluster::start("pg-dump");
    let addr = cluster.writer.as_ref().unwrap().addr.clone();
    let (host, bport) = addr.rsplit_once(':').unwrap();
    psql_file(host, bport, "postgres", "borealis", &dump, true);

    let source = pg.client("src").await;
    let restored = {
        let url = format!("postgres://postgres@{addr}/borealis");
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    };
    for sql in DATA.iter().chain(CATALOG) {
        let want = texts(&source, sql).await;
        assert!(!want.is_empty(), "{sql} reads nothing");
        assert_eq!(texts(&restored, sql).await, want, "{sql}");
    }
    // The sequences go on from where they were.
    for sql in [
        "SELECT nextval('tickets')",
        "INSERT INTO authors (name) VALUES ('new') RETURNING id",
        "SELECT nextval('shop.counter')",
        "INSERT INTO shop.orders (qty) VALUES (3) RETURNING id",
    ] {
        assert_eq!(
            texts(&restored, sql).await,
            texts(&source, sql).await,
            "{sql}"
        );
    }

    // The same moves in both; from here on both are compared where the objects went.
    source.batch_execute(MOVES).await.unwrap();
    restored.batch_execute(MOVES).await.unwrap();
    let moved: Vec<String> = DATA.iter().chain(CATALOG).map(|q| after_moves(q)).collect();
    for sql in &moved {
        assert_eq!(
            texts(&restored, sql).await,
            texts(&source, sql).await,
            "after the moves: {sql}"
        );
    }

    // Borealis → PostgreSQL 15.
    let back = pg.dir.join("dump-back.sql");
    let out = Command::new(client_program("pg_dump"))
        .args([
            "-h", host, "-p", bport, "-U", "postgres", "-d", "borealis", "-f",
        ])
        .arg(&back)
        .output()
        .expect("run pg_dump");
    assert!(
        out.status.success(),
        "pg_dump of Borealis failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    pg.client("postgres")
        .await
        .batch_execute("CREATE DATABASE back")
        .await
        .unwrap();
    psql_file("127.0.0.1", &port, "postgres", "back", &back, true);
    let in_postgres = pg.client("back").await;
    for sql in &moved {
        assert_eq!(
            texts(&in_postgres, sql).await,
            texts(&source, sql).await,
            "Borealis → PostgreSQL: {sql}"
        );
    }

    // Borealis → Borealis: every object dropped, then the dump restored.
    restored
        .batch_execute(
            "DROP TABLE holds; DROP SCHEMA shop CASCADE; DROP SCHEMA moved CASCADE; \
             DROP TABLE books; DROP TABLE writers; DROP TABLE labels",
        )
        .await
        .unwrap();
    assert!(texts(&restored, &moved[DATA.len() + 1]).await.is_empty());
    psql_file(host, bport, "postgres", "borealis", &back, true);
    for sql in &moved {
        assert_eq!(
            texts(&restored, sql).await,
            texts(&source, sql).await,
            "Borealis → Borealis: {sql}"
        );
    }
    for sql in [
        "SELECT nextval('moved.tickets')",
        "INSERT INTO writers (name) VALUES ('newer') RETURNING id",
        "SELECT nextval('shop.counter')",
        "INSERT INTO shop.orders (qty) VALUES (4) RETURNING id",
    ] {
        assert_eq!(
            texts(&restored, sql).await,
            texts(&in_postgres, sql).await,
            "{sql}"
        );
    }
}
