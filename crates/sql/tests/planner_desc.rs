//! Indexes with DESC and NULLS FIRST/LAST columns: their entries are kept in the declared
//! order, so an ORDER BY in that order (or in its exact reverse, read backwards) needs no sort,
//! mixed directions included; the answers must equal those of the plan that sorts, over random
//! data with NULLs and duplicates, with equality, range and unique lookups through such keys.

#![allow(clippy::unwrap_used)]

mod common;

use borealis_sql::session::Session;
use common::{next, plan, run, session, value};

fn insert_rows(seed: &mut u64, ids: std::ops::Range<u64>) -> String {
    let rows: Vec<String> = ids
        .map(|id| {
            let t = match next(seed) % 8 {
                0 => "NULL".to_string(),
                k => format!(
                    "'{}{}'",
                    ["a", "B", "b", "ab", "Z", "é", "a b"][k as usize % 7],
                    next(seed) % 4
                ),
            };
            format!("({id}, {}, {}, {t})", value(seed, 8, 6), value(seed, 30, 5))
        })
        .collect();
    format!("INSERT INTO d VALUES {}", rows.join(", "))
}

const SCHEMA: &str = "
    CREATE TABLE d (id int PRIMARY KEY, a int, b int, t text);
    CREATE INDEX d_a_desc_b ON d (a DESC, b);
    CREATE INDEX d_b_nf ON d (b NULLS FIRST, a DESC NULLS LAST);
    CREATE INDEX d_t_desc ON d (t DESC);
    CREATE UNIQUE INDEX d_id_desc ON d (id DESC);";

/// Queries in (or against) the indexes' declared orders, each listing only columns the order
/// decides plus a unique key, so that ties cannot make two right answers differ.
const QUERIES: &[&str] = &[
    "SELECT a, b, id FROM d ORDER BY a DESC, b, id",
    "SELECT a, b, id FROM d ORDER BY a, b DESC, id DESC",
    "SELECT a, b, id FROM d ORDER BY a DESC, b, id LIMIT 9 OFFSET 30",
    "SELECT a, b, id FROM d ORDER BY a NULLS LAST, b DESC NULLS FIRST, id DESC LIMIT 12",
    "SELECT a, b, id FROM d WHERE a = 3 ORDER BY b, id",
    "SELECT a, b, id FROM d WHERE a = 3 ORDER BY b DESC, id DESC LIMIT 4",
    "SELECT a, b, id FROM d WHERE a > 4 ORDER BY a DESC, b, id",
    "SELECT a, b, id FROM d WHERE a <= 2 ORDER BY a, b DESC, id DESC",
    "SELECT a, b, id FROM d WHERE a IS NULL ORDER BY b, id",
    "SELECT a, b, id FROM d WHERE a = 5 AND b < 12 ORDER BY b, id",
    "SELECT a, b, id FROM d WHERE a = 5 AND b >= 12 ORDER BY b DESC, id DESC",
    "SELECT b, a, id FROM d ORDER BY b NULLS FIRST, a DESC NULLS LAST, id",
    "SELECT b, a, id FROM d ORDER BY b DESC NULLS LAST, a NULLS FIRST, id DESC LIMIT 15",
    "SELECT b, a, id FROM d WHERE b = 7 ORDER BY a DESC NULLS LAST, id",
    "SELECT b, a, id FROM d WHERE b BETWEEN 3 AND 9 ORDER BY b NULLS FIRST, a DESC NULLS LAST, id",
    "SELECT t, id FROM d ORDER BY t DESC, id",
    "SELECT t, id FROM d ORDER BY t, id DESC LIMIT 10",
    "SELECT t, id FROM d WHERE t < 'b' ORDER BY t DESC, id LIMIT 8",
    "SELECT t, id FROM d WHERE t >= 'a' ORDER BY t, id DESC",
    "SELECT id FROM d WHERE id = 17",
    "SELECT id FROM d WHERE id > 390 ORDER BY id DESC",
    // Orders no index gives either way: sorted.
    "SELECT a, b, id FROM d ORDER BY a DESC, b DESC, id",
    "SELECT b, a, id FROM d ORDER BY b NULLS LAST, a DESC NULLS LAST, id",
    // min/max over a DESC column's key are aggregated as usual.
    "SELECT max(a), min(a) FROM d",
    "SELECT max(t), min(t) FROM d",
    "SELECT max(b) FROM d WHERE a = 2",
];

/// The rows each query gives as planned, and as the sorting plan gives them.
fn compare_all(s: &mut Session) {
    for q in QUERIES {
        let got = run(s, q);
        run(
            s,
            "SET enable_indexscan = off; SET enable_indexonlyscan = off",
        );
        let want = run(s, q);
        run(s, "RESET enable_indexscan; RESET enable_indexonlyscan");
        assert_eq!(got, want, "{q}\n{}", plan(s, q));
    }
}

#[test]
fn declared_order_reads_answer_as_the_sorted_plan_does() {
    let mut s = session();
    run(&mut s, SCHEMA);
    let mut seed = 0xdec5_u64;
    run(&mut s, &insert_rows(&mut seed, 1..401));
    compare_all(&mut s);
    run(&mut s, "ANALYZE d");
    compare_all(&mut s);
    run(&mut s, "DELETE FROM d WHERE id > 380 OR id % 7 = 0");
    run(
        &mut s,
        "UPDATE d SET a = 7, b = NULL, t = 'zz' WHERE id % 11 = 0",
    );
    compare_all(&mut s);
    run(&mut s, "BEGIN");
    run(&mut s, &insert_rows(&mut seed, 401..450));
    compare_all(&mut s);
    run(&mut s, "ROLLBACK");
    compare_all(&mut s);
}

#[test]
fn declared_orders_need_no_sort_either_way() {
    let mut s = session();
    run(&mut s, SCHEMA);
    let mut seed = 11;
    run(&mut s, &insert_rows(&mut seed, 1..2001));
    run(&mut s, "ANALYZE d");
    let cases: &[(&str, &[&str])] = &[
        (
            "SELECT * FROM d ORDER BY a DESC, b LIMIT 10",
            &["Limit", "  ->  Index Scan using d_a_desc_b on d"],
        ),
        (
            "SELECT * FROM d ORDER BY a, b DESC LIMIT 10",
            &["Limit", "  ->  Index Scan Backward using d_a_desc_b on d"],
        ),
        (
            "SELECT a, b FROM d WHERE a = 3 ORDER BY b DESC LIMIT 5",
            &[
                "Limit",
                "  ->  Index Only Scan Backward using d_a_desc_b on d",
                "        Index Cond: (a = 3)",
            ],
        ),
        (
            "SELECT * FROM d ORDER BY b NULLS FIRST, a DESC NULLS LAST LIMIT 10",
            &["Limit", "  ->  Index Scan using d_b_nf on d"],
        ),
        (
            "SELECT * FROM d ORDER BY t DESC LIMIT 10",
            &["Limit", "  ->  Index Scan using d_t_desc on d"],
        ),
        // Neither direction of any key: a sort.
        (
            "SELECT * FROM d ORDER BY a DESC, b DESC LIMIT 10",
            &["Limit", "  ->  Sort", "        Sort Key: a DESC, b DESC"],
        ),
    ];
    for (q, want) in cases {
        let p = plan(&mut s, q);
        let lines: Vec<&str> = p.lines().take(want.len()).collect();
        assert_eq!(&lines, want, "{q}:\n{p}");
    }
    // Unique checks and ON CONFLICT go through a DESC unique key as through any.
    run(
        &mut s,
        "CREATE TABLE u (k int, v text); CREATE UNIQUE INDEX u_k ON u (k DESC NULLS LAST)",
    );
    run(
        &mut s,
        "INSERT INTO u VALUES (1, 'a'), (2, 'b'), (NULL, 'n'), (NULL, 'm')",
    );
    let dup = borealis_sql::parse("INSERT INTO u VALUES (2, 'c')").unwrap();
    assert!(
        s.execute(&dup[0], &[]).is_err(),
        "a duplicate key is refused"
    );
    run(
        &mut s,
        "INSERT INTO u VALUES (2, 'c') ON CONFLICT (k) DO UPDATE SET v = excluded.v",
    );
    assert_eq!(run(&mut s, "SELECT k, v FROM u WHERE k = 2"), ["2|c"]);
    assert_eq!(
        run(&mut s, "SELECT k, v FROM u ORDER BY k DESC NULLS LAST, v"),
        ["2|c", "1|a", "NULL|m", "NULL|n"]
    );
}
