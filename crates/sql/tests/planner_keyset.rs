//! Keyset pagination: a row comparison over a key's leading columns, `(a, b) > (x, y)`, bounds
//! the key's read, so a page `WHERE (a, b) > (last a, last b) ORDER BY a, b LIMIT n` reads
//! about n entries from where the previous page stopped instead of the table from its start.
//! Paging through a table with NULLs and duplicates, both directions, over ascending and DESC
//! keys, with literals and with parameters, must give every row exactly once and in order,
//! each page as the plan that sorts gives it; a bound on a DESC key column narrows the read as
//! one on an ascending column does. How much a read touches is counted in buffer pool page
//! accesses, which do not depend on the machine's speed.

#![allow(clippy::unwrap_used)]

mod common;

use borealis_common::pagestore::MemStore;
use borealis_engine::{Engine, EngineConfig};
use borealis_sql::expr::SessionInfo;
use borealis_sql::session::{Database, Session};
use common::{plan, run, value};
use std::sync::Arc;

/// A session, and its engine to count page accesses on.
fn session() -> (Session, Arc<Engine>) {
    let engine =
        Arc::new(Engine::open(Arc::new(MemStore::new()), EngineConfig::default()).unwrap());
    let s = Session::new(Database::new(engine.clone()), SessionInfo::default());
    (s, engine)
}

/// The buffer pool page accesses `query` makes, and its rows.
fn accesses(s: &mut Session, engine: &Engine, query: &str) -> (u64, Vec<String>) {
    let before = engine.buffer_pool_stats().unwrap();
    let rows = run(s, query);
    let after = engine.buffer_pool_stats().unwrap();
    (
        after.hits + after.misses - before.hits - before.misses,
        rows,
    )
}

/// 10,000 rows of `t (id, a, b)`: `a` of 40 values and `b` of 300, each NULL now and then.
fn fill(s: &mut Session) {
    run(
        s,
        "CREATE TABLE t (id int PRIMARY KEY, a int, b int, c text)",
    );
    let mut seed = 0x6b65_7973_u64;
    for chunk in 0..10 {
        let rows: Vec<String> = (chunk * 1000 + 1..=chunk * 1000 + 1000)
            .map(|id| {
                format!(
                    "({id}, {}, {}, 'r{id}')",
                    value(&mut seed, 40, 17),
                    value(&mut seed, 300, 13)
                )
            })
            .collect();
        run(s, &format!("INSERT INTO t VALUES {}", rows.join(", ")));
    }
}

/// The rows `query` gives with the index scans off (the plan that filters and sorts).
fn sorted_answer(s: &mut Session, query: &str) -> Vec<String> {
    run(
        s,
        "SET enable_indexscan = off; SET enable_indexonlyscan = off",
    );
    let want = run(s, query);
    run(s, "RESET enable_indexscan; RESET enable_indexonlyscan");
    want
}

/// `a|b|id` as a row literal.
fn row_of(line: &str) -> String {
    line.replace('|', ", ")
}

const PAGE: usize = 97;

/// Pages through `t` by `(a, b, id)` (`desc`: from the top down), each page's condition made
/// by `condition` from the previous page's last row (`None` for the first page); checks each
/// page against the sorting plan, and the pages together against the whole ordered answer.
fn page_through(
    s: &mut Session,
    desc: bool,
    condition: &dyn Fn(&mut Session, Option<&str>) -> String,
) -> usize {
    let dir = if desc { " DESC" } else { "" };
    let order = format!("ORDER BY a{dir}, b{dir}, id{dir}");
    let all = sorted_answer(
        s,
        &format!("SELECT a, b, id FROM t WHERE a IS NOT NULL AND b IS NOT NULL {order}"),
    );
    let mut got: Vec<String> = Vec::new();
    let mut pages = 0;
    loop {
        let cond = condition(s, got.last().map(String::as_str));
        let q = format!(
            "SELECT a, b, id FROM t WHERE {cond} AND a IS NOT NULL AND b IS NOT NULL {order} LIMIT {PAGE}"
        );
        let page = run(s, &q);
        if pages % 10 == 0 {
            // Without the NULL tests too: a row comparison's NULL rules, over a read that
            // passes over the index's NULL entries.
            let bare = format!("SELECT a, b, id FROM t WHERE {cond} {order} LIMIT {PAGE}");
            assert_eq!(
                run(s, &bare),
                sorted_answer(s, &bare),
                "{bare}\n{}",
                plan(s, &bare)
            );
            assert_eq!(page, sorted_answer(s, &q), "{q}\n{}", plan(s, &q));
        }
        pages += 1;
        if page.is_empty() {
            break;
        }
        got.extend(page);
        assert!(pages <= all.len() / PAGE + 2, "paging does not end");
    }
    assert_eq!(got.len(), all.len());
    assert!(got == all, "the pages differ from the ordered answer");
    pages
}

fn keyset(last: Option<&str>, op: &str) -> String {
    last.map_or_else(
        || "true".into(),
        |l| format!("(a, b, id) {op} ({})", row_of(l)),
    )
}

#[test]
fn keyset_pages_give_every_row_once_in_order() {
    let (mut s, _) = session();
    fill(&mut s);
    run(&mut s, "CREATE INDEX t_ab ON t (a, b, id); ANALYZE t");
    let q = "SELECT a, b, id FROM t WHERE (a, b, id) > (7, 100, 5000) ORDER BY a, b, id LIMIT 20";
    assert_eq!(
        plan(&mut s, q),
        "Limit\n  ->  Index Only Scan using t_ab on t\n        Index Cond: (ROW(a, b, id) > ROW(7, 100, 5000))"
    );
    let pages = page_through(&mut s, false, &|_, last| keyset(last, ">"));
    assert!(pages > 90, "{pages} pages");
    // Down, read backwards.
    let q = "SELECT a, b, id FROM t WHERE (a, b, id) < (7, 100, 5000) ORDER BY a DESC, b DESC, id DESC LIMIT 20";
    assert_eq!(
        plan(&mut s, q),
        "Limit\n  ->  Index Only Scan Backward using t_ab on t\n        Index Cond: (ROW(a, b, id) < ROW(7, 100, 5000))"
    );
    page_through(&mut s, true, &|_, last| keyset(last, "<"));
    // Inclusive bounds, written the other way round: the last row comes again and is dropped.
    page_through(&mut s, false, &|_, last| {
        last.map_or_else(
            || "true".into(),
            |l| {
                format!(
                    "({}) <= (a, b, id) AND (a, b, id) <> ({})",
                    row_of(l),
                    row_of(l)
                )
            },
        )
    });
    // Through a prepared statement's parameters.
    run(
        &mut s,
        "PREPARE next_page(int, int, int) AS SELECT a, b, id FROM t \
         WHERE (a, b, id) > ($1, $2, $3) AND a IS NOT NULL AND b IS NOT NULL \
         ORDER BY a, b, id LIMIT 97",
    );
    let all = sorted_answer(
        &mut s,
        "SELECT a, b, id FROM t WHERE a IS NOT NULL AND b IS NOT NULL ORDER BY a, b, id",
    );
    let mut got = run(
        &mut s,
        "SELECT a, b, id FROM t WHERE a IS NOT NULL AND b IS NOT NULL ORDER BY a, b, id LIMIT 97",
    );
    loop {
        let last = row_of(got.last().unwrap());
        let page = run(&mut s, &format!("EXECUTE next_page({last})"));
        if page.is_empty() {
            break;
        }
        got.extend(page);
        assert!(got.len() <= all.len());
    }
    assert!(
        got == all,
        "the prepared pages differ from the ordered answer"
    );
    assert!(
        plan(&mut s, "EXECUTE next_page(1, 2, 3)")
            .contains("Index Cond: (ROW(a, b, id) > ROW($1, $2, $3))")
    );
}

#[test]
fn keyset_pages_over_desc_keys() {
    let (mut s, _) = session();
    fill(&mut s);
    // All DESC: the key's order is the pages' downward order.
    run(
        &mut s,
        "CREATE INDEX t_desc ON t (a DESC, b DESC, id DESC); ANALYZE t",
    );
    let q = "SELECT a, b, id FROM t WHERE (a, b, id) < (7, 100, 5000) ORDER BY a DESC, b DESC, id DESC LIMIT 20";
    assert_eq!(
        plan(&mut s, q),
        "Limit\n  ->  Index Only Scan using t_desc on t\n        Index Cond: (ROW(a, b, id) < ROW(7, 100, 5000))"
    );
    page_through(&mut s, true, &|_, last| keyset(last, "<"));
    page_through(&mut s, false, &|_, last| keyset(last, ">"));
    // Mixed directions: the row bounds the columns of the first one's direction only; the
    // answers stay the sorting plan's.
    run(
        &mut s,
        "DROP INDEX t_desc; CREATE INDEX t_mixed ON t (a, b DESC, id); ANALYZE t",
    );
    for q in [
        "SELECT a, b, id FROM t WHERE (a, b) > (7, 100) ORDER BY a, b DESC, id LIMIT 50",
        "SELECT a, b, id FROM t WHERE (a, b) <= (7, 100) ORDER BY a DESC, b, id DESC LIMIT 50",
        "SELECT a, b, id FROM t WHERE (a, b, id) >= (39, 5, 10) ORDER BY a, b DESC, id",
        "SELECT a, b, id FROM t WHERE (a, b) > (7, NULL) ORDER BY a, b DESC, id LIMIT 50",
        "SELECT a, b, id FROM t WHERE (a, b) > (NULL, 7) ORDER BY a, b DESC, id LIMIT 50",
    ] {
        assert_eq!(
            run(&mut s, q),
            sorted_answer(&mut s, q),
            "{q}\n{}",
            plan(&mut s, q)
        );
    }
}

#[test]
fn row_bounds_keep_null_rules() {
    let (mut s, _) = session();
    fill(&mut s);
    run(&mut s, "CREATE INDEX t_ab ON t (a, b); ANALYZE t");
    for q in [
        // A NULL first value: no row; a later one: the rows the first values decide.
        "SELECT a, b, id FROM t WHERE (a, b) > (NULL, 3) ORDER BY a, b, id",
        "SELECT a, b, id FROM t WHERE (a, b) > (38, NULL) ORDER BY a, b, id",
        "SELECT a, b, id FROM t WHERE (a, b) <= (1, NULL) ORDER BY a DESC, b DESC, id LIMIT 60",
        "SELECT a, b, id FROM t WHERE (a, b) >= (38, 250) ORDER BY a, b, id",
        "SELECT a, b, id FROM t WHERE (a, b) < (0, 20) ORDER BY a, b, id",
        // Values of other types, and ones that are no key of the column.
        "SELECT a, b, id FROM t WHERE (a, b) > (38, 250.5) ORDER BY a, b, id",
        "SELECT a, b, id FROM t WHERE (a, b) > (37.5, 2) ORDER BY a, b, id",
        "SELECT a, b, id FROM t WHERE (a, b) > ('38', '250') ORDER BY a, b, id",
        "SELECT a, b, id FROM t WHERE (a, b) > (38::int8, 250::int2) ORDER BY a, b, id",
        // Combined with other bounds on the same columns.
        "SELECT a, b, id FROM t WHERE (a, b) > (20, 100) AND a < 22 ORDER BY a, b, id",
        "SELECT a, b, id FROM t WHERE a = 20 AND (b, id) > (100, 4000) ORDER BY b, id",
        "SELECT a, b, id FROM t WHERE (a, b) > (20, 100) AND (a, b) < (20, 140) ORDER BY a, b, id",
        "SELECT a, b, id FROM t WHERE (a, b) > (20, 100) AND a >= 25 ORDER BY a, b, id LIMIT 30",
        // The key's columns in another order, or not a prefix: a filter.
        "SELECT a, b, id FROM t WHERE (b, a) > (250, 3) ORDER BY a, b, id",
        "SELECT a, b, id FROM t WHERE (a, id) > (38, 9000) ORDER BY a, b, id",
        "SELECT a, b, id FROM t WHERE (id, a) > (9990, 3) ORDER BY id",
        // Inside an OR, or negated: a filter.
        "SELECT a, b, id FROM t WHERE (a, b) > (38, 250) OR id = 5 ORDER BY a, b, id",
        "SELECT a, b, id FROM t WHERE NOT ((a, b) <= (38, 250)) ORDER BY a, b, id",
    ] {
        assert_eq!(
            run(&mut s, q),
            sorted_answer(&mut s, q),
            "{q}\n{}",
            plan(&mut s, q)
        );
    }
    // A row whose later value is NULL bounds the read by its first values, as PostgreSQL
    // does.
    assert_eq!(
        plan(
            &mut s,
            "SELECT * FROM t WHERE a = 20 AND (b, id) > (100, 4000)"
        ),
        "Index Scan using t_ab on t\n  Index Cond: ((a = 20) AND (b >= 100))\n  Filter: (ROW(b, id) > ROW(100, 4000))"
    );
    assert_eq!(
        plan(&mut s, "SELECT * FROM t WHERE (id, a) > (9990, 3)"),
        "Index Scan using t_pkey on t\n  Index Cond: (id >= 9990)\n  Filter: (ROW(id, a) > ROW(9990, 3))"
    );
}

/// A deep page reads about a page's entries, not the table up to it; a DESC column's range
/// reads its rows, not the whole index.
#[test]
fn keyset_pages_and_desc_ranges_read_little() {
    let (mut s, engine) = session();
    fill(&mut s);
    run(
        &mut s,
        "CREATE INDEX t_ab ON t (a, b, id); CREATE INDEX t_b ON t (b DESC); ANALYZE t",
    );
    let deep = "SELECT a, b, id FROM t WHERE (a, b, id) > (38, 250, 0) ORDER BY a, b, id LIMIT 20";
    // The same condition, in a form that is no key bound.
    let filtered =
        "SELECT a, b, id FROM t WHERE NOT ((a, b, id) <= (38, 250, 0)) ORDER BY a, b, id LIMIT 20";
    // Each statement also reads the catalog (and, the first time, the statistics), so
    // both are measured warm, against the same read of one row.
    let first = "SELECT a, b, id FROM t WHERE (a, b, id) > (38, 250, 0) ORDER BY a, b, id LIMIT 1";
    for q in [deep, filtered, first] {
        run(&mut s, q);
    }
    let (one, _) = accesses(&mut s, &engine, first);
    let (keyset, rows) = accesses(&mut s, &engine, deep);
    let (scan, want) = accesses(&mut s, &engine, filtered);
    assert_eq!(rows, want);
    assert_eq!(rows.len(), 20);
    // Twenty entries span at most a leaf or two beyond the first.
    assert!(
        keyset <= one + 3 && keyset * 8 < scan,
        "keyset page: {keyset} page accesses (one row: {one}), filtered: {scan}"
    );
    // `b > 295` on `b DESC`: the first entries of the index after its NULLs, not all of it.
    let q = "SELECT b FROM t WHERE b > 295";
    assert_eq!(
        plan(&mut s, q),
        "Index Only Scan using t_b on t\n  Index Cond: (b > 295)"
    );
    let (range, rows) = accesses(&mut s, &engine, q);
    assert_eq!(
        rows,
        sorted_answer(&mut s, "SELECT b FROM t WHERE b > 295 ORDER BY b DESC")
    );
    let (whole, all) = accesses(&mut s, &engine, "SELECT b FROM t ORDER BY b DESC");
    assert_eq!(all.len(), 10_000);
    assert!(
        range * 5 < whole,
        "DESC range: {range} page accesses, whole index: {whole}"
    );
    eprintln!(
        "keyset page: {keyset} page accesses (one row: {one}), filtered: {scan}; DESC range: {range}, whole index: {whole}"
    );
}
