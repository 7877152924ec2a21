//! Backward index scans and the min/max rewrite: the plans the planner picks for descending
//! orders and for `min`/`max`, and answers equal to those of the plan that sorts (or
//! aggregates the whole table) over random data with NULLs and duplicates.

#![allow(clippy::unwrap_used)]

mod common;

use borealis_sql::session::Session;
use common::{next, plan, run, session, value};

/// Random rows of `r`: ids from `ids`, small ranges of values (many duplicates), NULLs.
fn insert_rows(seed: &mut u64, ids: std::ops::Range<u64>) -> String {
    let rows: Vec<String> = ids
        .map(|id| {
            let t = match next(seed) % 9 {
                0 => "NULL".to_string(),
                1 => "''".to_string(),
                k => format!(
                    "'{}{}'",
                    ["a", "B", "b", "ab", "Z", "é", "a b"][k as usize % 7],
                    next(seed) % 5
                ),
            };
            format!("({id}, {}, {}, {t})", value(seed, 8, 6), value(seed, 30, 5))
        })
        .collect();
    format!("INSERT INTO r VALUES {}", rows.join(", "))
}

const SCHEMA: &str = "
    CREATE TABLE r (id int PRIMARY KEY, a int, b int, t text);
    CREATE INDEX r_a_b ON r (a, b);
    CREATE INDEX r_t ON r (t);
    CREATE TABLE c2 (x int, y text, z int, PRIMARY KEY (x, y));";

/// Queries whose ORDER BY is a key's order reversed (or not, for the ones that must sort),
/// each listing only columns the order decides (plus a unique key), so that ties cannot make
/// two right answers differ.
const QUERIES: &[&str] = &[
    "SELECT id FROM r ORDER BY id DESC",
    "SELECT id FROM r ORDER BY id DESC LIMIT 7",
    "SELECT id, a, b, t FROM r ORDER BY id DESC LIMIT 5 OFFSET 20",
    "SELECT id FROM r WHERE id < 150 ORDER BY id DESC LIMIT 10",
    "SELECT id FROM r WHERE id <= 150 AND id > 120 ORDER BY id DESC",
    "SELECT id, b FROM r WHERE id >= 390 ORDER BY id DESC",
    "SELECT a, b FROM r ORDER BY a DESC, b DESC",
    "SELECT a, b FROM r ORDER BY a DESC, b DESC LIMIT 9 OFFSET 40",
    "SELECT a FROM r ORDER BY a DESC LIMIT 30",
    "SELECT a, b FROM r WHERE a = 3 ORDER BY b DESC",
    "SELECT a, b FROM r WHERE a = 3 ORDER BY b DESC LIMIT 4",
    "SELECT a, b FROM r WHERE a = 5 AND b < 12 ORDER BY b DESC LIMIT 6",
    "SELECT a, b FROM r WHERE a = 5 AND b >= 12 ORDER BY b DESC",
    "SELECT a, b FROM r WHERE a = 6 ORDER BY a DESC, b DESC LIMIT 5",
    "SELECT a, b FROM r WHERE a > 4 ORDER BY a DESC, b DESC LIMIT 12",
    "SELECT t FROM r ORDER BY t DESC",
    "SELECT t FROM r WHERE t < 'b' ORDER BY t DESC LIMIT 8",
    "SELECT t FROM r WHERE t >= 'a' ORDER BY t DESC",
    "SELECT x, y FROM c2 ORDER BY x DESC, y DESC",
    "SELECT x, y, z FROM c2 WHERE x = 2 ORDER BY y DESC LIMIT 3",
    "SELECT x, y FROM c2 WHERE x = 1 AND y < 'm' ORDER BY y DESC",
    // Not a key's order reversed: these sort either way.
    "SELECT a, b FROM r ORDER BY a DESC, b ASC",
    "SELECT a, b FROM r ORDER BY a DESC NULLS LAST, b DESC NULLS LAST LIMIT 20",
    "SELECT a, b FROM r WHERE a = 3 ORDER BY b DESC NULLS LAST",
    "SELECT t FROM r ORDER BY t ASC NULLS FIRST LIMIT 10",
    // min/max from a key's end (NULLs skipped), and from an equality-pinned key.
    "SELECT max(id), min(id) FROM r",
    "SELECT max(a) FROM r",
    "SELECT min(a), max(a), max(id) FROM r",
    "SELECT max(b) FROM r WHERE a = 2",
    "SELECT min(b), max(b) FROM r WHERE a = 7",
    "SELECT max(b) FROM r WHERE a = 99",
    "SELECT max(t), min(t) FROM r",
    "SELECT max(id) - min(id) FROM r WHERE id < 300",
    "SELECT max(y) FROM c2 WHERE x = 3",
];

/// The rows each query gives as planned, and as the sorting (or whole-table aggregating) plan
/// gives them, index reads switched off.
fn compare_all(s: &mut Session) {
    for q in QUERIES {
        let got = run(s, q);
        run(
            s,
            "SET enable_indexscan = off; SET enable_indexonlyscan = off",
        );
        let p = plan(s, q);
        assert!(
            !p.contains("Backward") && !p.contains("InitPlan"),
            "{q}:\n{p}"
        );
        let want = run(s, q);
        run(s, "RESET enable_indexscan; RESET enable_indexonlyscan");
        assert_eq!(got, want, "{q}\n{}", plan(s, q));
    }
}

#[test]
fn backward_reads_answer_as_the_sorted_plan_does() {
    let mut s = session();
    run(&mut s, SCHEMA);
    let mut seed = 0xbac4_u64;
    run(&mut s, &insert_rows(&mut seed, 1..401));
    let c2: Vec<String> = (0..200)
        .map(|i| {
            format!(
                "({}, '{}{}', {i})",
                i % 5,
                ["m", "A", "z", "mm", ""][i % 5],
                i / 3
            )
        })
        .collect();
    run(
        &mut s,
        &format!(
            "INSERT INTO c2 VALUES {} ON CONFLICT DO NOTHING",
            c2.join(", ")
        ),
    );
    compare_all(&mut s);
    // With statistics, the same.
    run(&mut s, "ANALYZE r; ANALYZE c2");
    compare_all(&mut s);
    // Deletes (rows gone from the keys' ends and middles) and a transaction's own writes,
    // merged into the backward reads.
    run(&mut s, "DELETE FROM r WHERE id > 380 OR id % 7 = 0");
    compare_all(&mut s);
    run(&mut s, "BEGIN");
    run(&mut s, &insert_rows(&mut seed, 401..450));
    run(&mut s, "DELETE FROM r WHERE id BETWEEN 100 AND 140");
    run(
        &mut s,
        "UPDATE r SET a = 7, b = 29, t = 'zz' WHERE id % 11 = 0",
    );
    compare_all(&mut s);
    run(&mut s, "ROLLBACK");
    compare_all(&mut s);
}

#[test]
fn descending_orders_read_keys_backwards() {
    let mut s = session();
    run(&mut s, SCHEMA);
    let mut seed = 7;
    run(&mut s, &insert_rows(&mut seed, 1..2001));
    run(&mut s, "ANALYZE r");
    let cases: &[(&str, &[&str])] = &[
        (
            "SELECT * FROM r ORDER BY id DESC LIMIT 10",
            &["Limit", "  ->  Index Scan Backward using r_pkey on r"],
        ),
        (
            "SELECT id FROM r WHERE id < 100 ORDER BY id DESC LIMIT 10",
            &[
                "Limit",
                "  ->  Index Only Scan Backward using r_pkey on r",
                "        Index Cond: (id < 100)",
            ],
        ),
        (
            "SELECT id, t FROM r WHERE a = 3 ORDER BY b DESC LIMIT 20",
            &[
                "Limit",
                "  ->  Index Scan Backward using r_a_b on r",
                "        Index Cond: (a = 3)",
            ],
        ),
        (
            "SELECT a, b FROM r WHERE a = 3 ORDER BY a DESC, b DESC LIMIT 5",
            &[
                "Limit",
                "  ->  Index Only Scan Backward using r_a_b on r",
                "        Index Cond: (a = 3)",
            ],
        ),
        // Mixed directions and DESC NULLS LAST are no key's order: they sort.
        (
            "SELECT a, b FROM r ORDER BY a DESC, b LIMIT 5",
            &[
                "Limit",
                "  ->  Sort",
                "        Sort Key: a DESC, b",
                "        ->  Seq Scan on r",
            ],
        ),
        (
            "SELECT id FROM r ORDER BY id DESC NULLS LAST LIMIT 5",
            &[
                "Limit",
                "  ->  Sort",
                "        Sort Key: id DESC NULLS LAST",
                "        ->  Seq Scan on r",
            ],
        ),
        (
            "SELECT max(a) FROM r",
            &[
                "Result",
                "  InitPlan 1 (returns $0)",
                "    ->  Limit",
                "          ->  Index Only Scan Backward using r_a_b on r",
                "                Index Cond: (a IS NOT NULL)",
            ],
        ),
        (
            "SELECT min(id), max(t) FROM r",
            &[
                "Result",
                "  InitPlan 1 (returns $0)",
                "    ->  Limit",
                "          ->  Index Only Scan using r_pkey on r",
                "                Index Cond: (id IS NOT NULL)",
                "  InitPlan 2 (returns $1)",
                "    ->  Limit",
                "          ->  Index Only Scan Backward using r_t on r r_1",
                "                Index Cond: (t IS NOT NULL)",
            ],
        ),
        (
            "SELECT max(b) FROM r WHERE a = 4",
            &[
                "Result",
                "  InitPlan 1 (returns $0)",
                "    ->  Limit",
                "          ->  Index Only Scan Backward using r_a_b on r",
                "                Index Cond: ((a = 4) AND (b IS NOT NULL))",
            ],
        ),
        // Not only min/max: the table is aggregated.
        (
            "SELECT max(a), count(*) FROM r",
            &["Aggregate", "  ->  Seq Scan on r"],
        ),
    ];
    for (q, want) in cases {
        assert_eq!(plan(&mut s, q), want.join("\n"), "{q}");
    }
    // A table of a few rows costs less to aggregate than to descend into (PostgreSQL 15 plans
    // the same); a subquery's min/max reads a key's end too (see planner_initplans.rs).
    run(
        &mut s,
        "CREATE TABLE tiny (id int PRIMARY KEY); INSERT INTO tiny VALUES (1), (2), (3); \
         ANALYZE tiny",
    );
    assert_eq!(
        plan(&mut s, "SELECT max(id) FROM tiny"),
        "Aggregate\n  ->  Seq Scan on tiny"
    );
    assert!(
        plan(
            &mut s,
            "SELECT id FROM r WHERE id = (SELECT max(id) FROM r)"
        )
        .contains("Backward"),
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT id FROM r WHERE id = (SELECT max(id) FROM r)"
        ),
        ["2000"]
    );
    // EXPLAIN ANALYZE counts the rows the backward read really gives.
    let analyzed = run(
        &mut s,
        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) \
         SELECT id FROM r WHERE id < 100 ORDER BY id DESC LIMIT 10",
    );
    assert!(
        analyzed[1].contains("Index Only Scan Backward using r_pkey on r (actual rows=10 loops=1)"),
        "{analyzed:?}"
    );
    let analyzed = run(
        &mut s,
        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT max(a), min(a) FROM r",
    );
    assert!(
        analyzed[0].contains("Result (actual rows=1 loops=1)"),
        "{analyzed:?}"
    );
    assert!(
        analyzed[2].contains("Limit (actual rows=1 loops=1)"),
        "{analyzed:?}"
    );
}
