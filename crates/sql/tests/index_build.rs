//! CREATE INDEX's sorted build: entries sorted (spilling beyond `maintenance_work_mem`) and
//! inserted in key order, so an index on a column unrelated to the table's order is laid out as
//! densely as one filled in order, answers as a scan does, and a unique build over duplicates
//! fails with PostgreSQL's error.

#![allow(clippy::unwrap_used)]

mod common;

use borealis_common::pagestore::MemStore;
use borealis_engine::{Engine, EngineConfig};
use borealis_sql::expr::SessionInfo;
use borealis_sql::session::{Database, Session};
use common::{plan, run};
use std::sync::Arc;

const ROWS: u64 = 40_000;

/// A session over an engine whose transactions spill their writes every 64 KiB, as a large
/// load spills every 16 MiB: a write buffer applies its writes in key order, so only a build
/// larger than it shows the order it inserts in.
fn session() -> Session {
    let config = EngineConfig {
        txn_write_buffer_bytes: 64 * 1024,
        ..EngineConfig::default()
    };
    let engine = Engine::open(Arc::new(MemStore::new()), config).unwrap();
    Session::new(Database::new(Arc::new(engine)), SessionInfo::default())
}

/// Bytes of relation `name`'s pages.
fn size(s: &mut Session, name: &str) -> u64 {
    let r = run(s, &format!("SELECT pg_relation_size('{name}')"));
    r[0].parse()
        .unwrap_or_else(|e| panic!("{name}: {r:?}: {e}"))
}

#[test]
fn an_index_built_over_scattered_values_is_sorted_dense_and_answers_as_a_scan_does() {
    let mut s = session();
    // `a` is a permutation of the ids, unrelated to their order; `b` repeats every 5 000 rows.
    let load = format!(
        "INSERT INTO {{t}} SELECT g, (g * 7919) % {ROWS}, g % 5000, 'row ' || g \
         FROM generate_series(1, {ROWS}) AS g"
    );
    run(
        &mut s,
        "CREATE TABLE built (id int PRIMARY KEY, a int, b int, pad text)",
    );
    run(&mut s, &load.replace("{t}", "built"));
    // Entries of about 40 bytes in memory each: a 1 MB sort spills runs and merges them.
    run(&mut s, "SET maintenance_work_mem = '1MB'");
    let files = borealis_sql::spill::files_created_on_this_thread();
    run(&mut s, "CREATE INDEX built_a ON built (a)");
    assert!(
        borealis_sql::spill::files_created_on_this_thread() > files,
        "the build's sort stayed in memory"
    );
    run(&mut s, "ANALYZE built");
    // The same rows inserted with the index already there, entries arriving in table order;
    // and rows whose `a` follows the table's order, entries arriving in key order.
    for t in ["grown", "ordered"] {
        run(
            &mut s,
            &format!("CREATE TABLE {t} (id int PRIMARY KEY, a int, b int, pad text)"),
        );
        run(&mut s, &format!("CREATE INDEX {t}_a ON {t} (a)"));
    }
    run(&mut s, &load.replace("{t}", "grown"));
    run(
        &mut s,
        &format!(
            "INSERT INTO ordered SELECT g, g, g % 5000, 'row ' || g \
             FROM generate_series(1, {ROWS}) AS g"
        ),
    );

    // The sorted build is as dense as an index filled in key order (leaves 90% full), and
    // denser than one filled in table order, whose spilled batches split leaves mid-tree.
    let built = size(&mut s, "built_a");
    let (grown, ordered) = (size(&mut s, "grown_a"), size(&mut s, "ordered_a"));
    assert!(
        built <= ordered + 8192 && built < grown,
        "sorted build {built} bytes, in key order {ordered}, in table order {grown}"
    );

    // Every entry is there and the index answers as a scan does.
    let q = "SELECT id, a FROM built WHERE a BETWEEN 700 AND 705 ORDER BY a";
    assert!(plan(&mut s, q).contains("built_a"), "{}", plan(&mut s, q));
    let expected: Vec<String> = (700..=705u64)
        .map(|a| {
            let id = (1..=ROWS).find(|g| g * 7919 % ROWS == a).unwrap();
            format!("{id}|{a}")
        })
        .collect();
    assert_eq!(run(&mut s, q), expected);
    assert_eq!(
        run(
            &mut s,
            "SELECT count(*), count(DISTINCT a) FROM built WHERE a >= 0"
        ),
        [format!("{ROWS}|{ROWS}")]
    );
    run(&mut s, "SET enable_seqscan = off");
    assert_eq!(
        run(&mut s, "SELECT sum(a) FROM built WHERE a < 1000"),
        [(0..1000u64).sum::<u64>().to_string()]
    );

    // A unique build over duplicates fails as PostgreSQL's does, and leaves no index behind.
    // It names the first duplicated key in index order (PostgreSQL names the first pair its
    // sort compares: `(b)=(1)` for these rows).
    let err = s
        .execute(
            &borealis_sql::parse("CREATE UNIQUE INDEX built_b ON built (b)")
                .unwrap()
                .remove(0),
            &[],
        )
        .map(|_| ())
        .unwrap_err();
    let borealis_sql::error::SqlError::UniqueIndexBuild { index, detail } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (index.as_str(), detail.as_str(), err.to_string().as_str()),
        (
            "built_b",
            "Key (b)=(0) is duplicated.",
            "could not create unique index \"built_b\""
        )
    );
    assert!(run(&mut s, "SELECT 1 FROM pg_class WHERE relname = 'built_b'").is_empty());
    run(&mut s, "CREATE UNIQUE INDEX built_a_unique ON built (a)");
}
