//! Index-only scans, reads in key order and merge joins: the plans the planner picks and the
//! answers they give, through a session over an in-memory engine.

#![allow(clippy::unwrap_used)]

mod common;

use borealis_common::pagestore::MemStore;
use borealis_engine::{Engine, EngineConfig};
use borealis_sql::expr::SessionInfo;
use borealis_sql::session::{Database, Session};
use common::{plan, run, session};
use std::sync::Arc;

/// Runs `sql` under `setting` (a `SET` list), then resets it.
fn run_with(s: &mut Session, setting: &str, sql: &str) -> Vec<String> {
    run(s, setting);
    let rows = run(s, sql);
    run(
        s,
        "RESET enable_hashjoin; RESET enable_mergejoin; RESET enable_nestloop; \
         RESET enable_indexonlyscan; RESET enable_seqscan; RESET enable_indexscan",
    );
    rows
}

/// A table with a column of every type an index-only scan decodes (and a float one it does
/// not), its values from PostgreSQL expressions, and an index per group of columns.
const TYPES_TABLE: &str = "
    CREATE TABLE k (id int PRIMARY KEY, i int, t text, d date, ts timestamp, u uuid,
                    n numeric(10,2), b bool, f float8);
    INSERT INTO k SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE g % 13 END, 'v' || (g % 17),
        date '2020-01-01' + g % 30, timestamp '2020-01-01 00:00' + (g % 11) * interval '1 hour',
        ('00000000-0000-0000-0000-0000000000' || lpad((g % 50)::text, 2, '0'))::uuid,
        (g % 19) * 1.25, g % 2 = 0, g * 0.5
      FROM generate_series(1, 2000) g;
    CREATE INDEX k_i ON k (i);
    CREATE INDEX k_t_d ON k (t, d);
    CREATE INDEX k_ts_u ON k (ts, u);
    CREATE INDEX k_n_b ON k (n, b);
    CREATE INDEX k_f ON k (f);";

#[test]
fn index_only_scans_read_the_key_alone() {
    let mut s = session();
    run(&mut s, TYPES_TABLE);
    // Answers and plans of PostgreSQL 15 on the same table (after VACUUM ANALYZE there), the
    // same with and without statistics here.
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "SELECT count(*) FROM k WHERE i BETWEEN 3 AND 6",
            &["528"],
            &[
                "Aggregate",
                "  ->  Index Only Scan using k_i on k",
                "        Index Cond: ((i >= 3) AND (i <= 6))",
            ],
        ),
        (
            "SELECT i FROM k WHERE i > 10 ORDER BY i LIMIT 4",
            &["11", "11", "11", "11"],
            &[
                "Limit",
                "  ->  Index Only Scan using k_i on k",
                "        Index Cond: (i > 10)",
            ],
        ),
        (
            "SELECT t, d FROM k WHERE t = 'v3' AND d > '2020-01-20' ORDER BY d LIMIT 5",
            &[
                "v3|2020-01-21",
                "v3|2020-01-21",
                "v3|2020-01-21",
                "v3|2020-01-21",
                "v3|2020-01-22",
            ],
            &[
                "Limit",
                "  ->  Index Only Scan using k_t_d on k",
                // PostgreSQL types the literal: '2020-01-20'::date.
                "        Index Cond: ((t = 'v3'::text) AND (d > '2020-01-20'::text))",
            ],
        ),
        (
            "SELECT ts, u FROM k WHERE ts >= '2020-01-01 05:00' ORDER BY ts, u LIMIT 3",
            &["2020-01-01 05:00:00|00000000-0000-0000-0000-000000000000"; 3],
            &[
                "Limit",
                "  ->  Index Only Scan using k_ts_u on k",
                "        Index Cond: (ts >= '2020-01-01 05:00'::text)",
            ],
        ),
        // numeric(10, 2) keys give the declared scale back.
        (
            "SELECT n, b FROM k WHERE n BETWEEN 5 AND 7.5 ORDER BY n, b LIMIT 3",
            &["5.00|f", "5.00|f", "5.00|f"],
            &[
                "Limit",
                "  ->  Index Only Scan using k_n_b on k",
                "        Index Cond: ((n >= 5) AND (n <= 7.5))",
            ],
        ),
        (
            "SELECT n, b, count(*) FROM k WHERE n BETWEEN 5 AND 7.5 GROUP BY n, b ORDER BY n, b",
            &[
                "5.00|f|53",
                "5.00|t|53",
                "6.25|f|53",
                "6.25|t|53",
                "7.50|f|52",
                "7.50|t|53",
            ],
            // PostgreSQL groups the ordered entries (GroupAggregate); Borealis hashes.
            &[
                "Sort",
                "  Sort Key: n, b",
                "  ->  HashAggregate",
                "        Group Key: n, b",
                "        ->  Index Only Scan using k_n_b on k",
                "              Index Cond: ((n >= 5) AND (n <= 7.5))",
            ],
        ),
        // The whole index in order: NULL entries last, as ORDER BY puts them.
        (
            "SELECT i FROM k ORDER BY i OFFSET 1712 LIMIT 5",
            &["12", "12", "12", "NULL", "NULL"],
            &["Limit", "  ->  Index Only Scan using k_i on k"],
        ),
        (
            "SELECT id FROM k WHERE id BETWEEN 10 AND 14 ORDER BY id",
            &["10", "11", "12", "13", "14"],
            &[
                "Index Only Scan using k_pkey on k",
                "  Index Cond: ((id >= 10) AND (id <= 14))",
            ],
        ),
        // float8 keys are lossy (-0 is 0's key): the row is read (PostgreSQL reads the key).
        (
            "SELECT count(*), min(f), max(f) FROM k WHERE f < 3",
            &["5|0.5|2.5"],
            &[
                "Aggregate",
                "  ->  Index Scan using k_f on k",
                "        Index Cond: (f < 3)",
            ],
        ),
    ];
    for analyzed in [false, true] {
        if analyzed {
            run(&mut s, "VACUUM ANALYZE k");
        }
        for (q, rows, shape) in cases {
            assert_eq!(run(&mut s, q), *rows, "{q}");
            assert_eq!(
                plan(&mut s, q),
                shape.join("\n"),
                "{q} (analyzed: {analyzed})"
            );
            // The same answer from the rows themselves.
            let from_rows = run_with(&mut s, "SET enable_indexonlyscan = off", q);
            assert_eq!(from_rows, *rows, "{q} without index-only scans");
        }
    }
    // A column outside the key: the row is needed. With statistics, reading k_t_d in t order
    // until the LIMIT is met beats sorting, as PostgreSQL 15 finds (the rule, without
    // statistics, reads the equality's index).
    let q = "SELECT i, t FROM k WHERE i = 4 ORDER BY t LIMIT 2";
    assert_eq!(run(&mut s, q), ["4|v0", "4|v0"]);
    assert_eq!(
        plan(&mut s, q),
        "Limit\n  ->  Index Scan using k_t_d on k\n        Filter: (i = 4)"
    );
    let off = run_with(
        &mut s,
        "SET enable_indexonlyscan = off",
        "EXPLAIN (COSTS OFF) SELECT count(*) FROM k WHERE i BETWEEN 3 AND 6",
    );
    // Without it, reading a quarter of the table row by row costs more than reading it all.
    assert_eq!(off[1], "  ->  Seq Scan on k", "{off:?}");
    // EXPLAIN ANALYZE: entries are versioned, so no row is ever fetched to check one.
    assert_eq!(
        run(
            &mut s,
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) \
             SELECT i FROM k WHERE i = 5 AND i + 1 > 2"
        ),
        [
            "Index Only Scan using k_i on k (actual rows=132 loops=1)",
            "  Index Cond: (i = 5)",
            "  Filter: ((i + 1) > 2)",
            "  Heap Fetches: 0",
        ]
    );
}

#[test]
fn index_only_scans_see_what_the_snapshot_sees() {
    let db = {
        let engine = Engine::open(Arc::new(MemStore::new()), EngineConfig::default()).unwrap();
        Database::new(Arc::new(engine))
    };
    let mut a = Session::new(db.clone(), SessionInfo::default());
    let mut b = Session::new(db.clone(), SessionInfo::default());
    let mut c = Session::new(db, SessionInfo::default());
    run(
        &mut a,
        "CREATE TABLE v (id int PRIMARY KEY, x int); CREATE INDEX v_x ON v (x);
         INSERT INTO v SELECT g, g % 10 FROM generate_series(1, 100) g",
    );
    let q = "SELECT count(*), sum(x) FROM v WHERE x BETWEEN 2 AND 4";
    assert!(plan(&mut a, q).contains("Index Only Scan using v_x on v"));
    assert_eq!(run(&mut a, q), ["30|90"]);
    // Own writes are seen at once; another transaction's only once committed, and a
    // repeatable-read snapshot never.
    run(&mut b, "BEGIN ISOLATION LEVEL REPEATABLE READ");
    assert_eq!(run(&mut b, q), ["30|90"]);
    run(
        &mut a,
        "BEGIN; DELETE FROM v WHERE x = 2; UPDATE v SET x = 3 WHERE x = 9; \
         INSERT INTO v VALUES (101, 4)",
    );
    assert_eq!(run(&mut a, q), ["31|104"]);
    assert_eq!(
        run(&mut c, q),
        ["30|90"],
        "uncommitted writes are invisible"
    );
    run(&mut a, "COMMIT");
    assert_eq!(run(&mut c, q), ["31|104"]);
    assert_eq!(run(&mut b, q), ["30|90"], "the snapshot keeps its entries");
    run(&mut b, "COMMIT");
    run(&mut a, "BEGIN; DELETE FROM v; ROLLBACK");
    assert_eq!(run(&mut a, q), ["31|104"]);
}

/// Two tables of 10 000 rows joined on their primary keys and on columns with many duplicates.
const JOIN_TABLES: &str = "
    CREATE TABLE ma (id int PRIMARY KEY, x int, t text);
    CREATE TABLE mb (id int PRIMARY KEY, y int);
    INSERT INTO ma SELECT g, g % 100, 't' || g FROM generate_series(1, 10000) g;
    INSERT INTO mb SELECT g, g % 50 FROM generate_series(1, 10000) g;
    VACUUM ANALYZE";

#[test]
fn merge_joins_are_chosen_when_cheaper_or_forced() {
    let mut s = session();
    run(&mut s, JOIN_TABLES);
    // (query, answer's first rows, plan): PostgreSQL 15's on the same tables.
    let cases: &[(&str, &[&str], &[&str])] = &[
        // Joined on the primary keys, every row: hashing costs no more (PostgreSQL too).
        (
            "SELECT count(*) FROM ma JOIN mb ON ma.id = mb.id",
            &["10000"],
            &[
                "Aggregate",
                "  ->  Hash Join",
                "        Hash Cond: (ma.id = mb.id)",
                "        ->  Seq Scan on ma",
                "        ->  Hash",
                "              ->  Seq Scan on mb",
            ],
        ),
        // In key order: both keys read in order, the merge's output needs no sort.
        (
            "SELECT * FROM ma JOIN mb ON ma.id = mb.id ORDER BY ma.id LIMIT 3",
            &["1|1|t1|1|1", "2|2|t2|2|2", "3|3|t3|3|3"],
            &[
                "Limit",
                "  ->  Merge Join",
                "        Merge Cond: (ma.id = mb.id)",
                "        ->  Index Scan using ma_pkey on ma",
                "        ->  Index Scan using mb_pkey on mb",
            ],
        ),
        (
            "SELECT ma.id, mb.y FROM ma JOIN mb ON ma.id = mb.id ORDER BY mb.id LIMIT 2",
            &["1|1", "2|2"],
            &[
                "Limit",
                "  ->  Merge Join",
                "        Merge Cond: (ma.id = mb.id)",
                "        ->  Index Only Scan using ma_pkey on ma",
                "        ->  Index Scan using mb_pkey on mb",
            ],
        ),
        // (PostgreSQL checks `mb.y > 10` in mb's scan, Borealis with the join's ON.)
        (
            "SELECT ma.id, mb.id FROM ma LEFT JOIN mb ON ma.id = mb.id AND mb.y > 10 \
             ORDER BY ma.id LIMIT 3",
            &["1|NULL", "2|NULL", "3|NULL"],
            &[
                "Limit",
                "  ->  Merge Left Join",
                "        Merge Cond: (ma.id = mb.id)",
                "        Join Filter: (mb.y > 10)",
                "        ->  Index Only Scan using ma_pkey on ma",
                "        ->  Index Scan using mb_pkey on mb",
            ],
        ),
    ];
    for (q, rows, shape) in cases {
        assert_eq!(run(&mut s, q), *rows, "{q}");
        assert_eq!(plan(&mut s, q), shape.join("\n"), "{q}");
    }
    // Hash joins switched off: sides not in key order are sorted first.
    let forced: &[(&str, &str, &[&str])] = &[
        (
            "SELECT count(*) FROM ma JOIN mb ON ma.x = mb.y",
            "1000000",
            &[
                "Aggregate",
                "  ->  Merge Join",
                "        Merge Cond: (ma.x = mb.y)",
                "        ->  Sort",
                "              Sort Key: ma.x",
                "              ->  Seq Scan on ma",
                "        ->  Sort",
                "              Sort Key: mb.y",
                "              ->  Seq Scan on mb",
            ],
        ),
        (
            "SELECT count(*) FROM ma FULL JOIN mb ON ma.x = mb.y + 60",
            "808000",
            &[
                "Aggregate",
                "  ->  Merge Full Join",
                "        Merge Cond: (ma.x = ((mb.y + 60)))",
                "        ->  Sort",
                "              Sort Key: ma.x",
                "              ->  Seq Scan on ma",
                "        ->  Sort",
                "              Sort Key: ((mb.y + 60))",
                "              ->  Seq Scan on mb",
            ],
        ),
        // (PostgreSQL runs it as a Merge Left Join with the sides swapped.)
        (
            "SELECT count(*) FROM ma RIGHT JOIN mb ON ma.x = mb.y + 60 AND ma.id < mb.id",
            "398179",
            &[
                "Aggregate",
                "  ->  Merge Right Join",
                "        Merge Cond: (ma.x = ((mb.y + 60)))",
                "        Join Filter: (ma.id < mb.id)",
                "        ->  Sort",
                "              Sort Key: ma.x",
                "              ->  Seq Scan on ma",
                "        ->  Sort",
                "              Sort Key: ((mb.y + 60))",
                "              ->  Seq Scan on mb",
            ],
        ),
        // (PostgreSQL merges on the primary keys alone and filters on the other pair.)
        (
            "SELECT count(*) FROM ma JOIN mb ON ma.x = mb.y AND ma.id = mb.id",
            "5000",
            &[
                "Aggregate",
                "  ->  Merge Join",
                "        Merge Cond: ((ma.x = mb.y) AND (ma.id = mb.id))",
                "        ->  Sort",
                "              Sort Key: ma.x, ma.id",
                "              ->  Seq Scan on ma",
                "        ->  Sort",
                "              Sort Key: mb.y, mb.id",
                "              ->  Seq Scan on mb",
            ],
        ),
    ];
    let off = "SET enable_hashjoin = off; SET enable_nestloop = off";
    for (q, count, shape) in forced {
        assert_eq!(run_with(&mut s, off, q), [*count], "{q}");
        assert_eq!(run(&mut s, q), [*count], "{q} hashed");
        let p = run_with(&mut s, off, &format!("EXPLAIN (COSTS OFF) {q}"));
        assert_eq!(p.join("\n"), shape.join("\n"), "{q}");
    }
    // Hashed, an outer join is named as PostgreSQL names it ("Hash Full Join").
    let p = plan(
        &mut s,
        "SELECT count(*) FROM ma FULL JOIN mb ON ma.x = mb.y + 60",
    );
    assert_eq!(p.lines().nth(1), Some("  ->  Hash Full Join"), "{p}");
    // Merge joins switched off: the ordered join hashes and sorts.
    let q = "SELECT * FROM ma JOIN mb ON ma.id = mb.id ORDER BY ma.id LIMIT 3";
    let p = run_with(
        &mut s,
        "SET enable_mergejoin = off",
        &format!("EXPLAIN (COSTS OFF) {q}"),
    );
    assert_eq!(p[1..3], ["  ->  Sort", "        Sort Key: ma.id"], "{p:?}");
    assert_eq!(p[3], "        ->  Hash Join", "{p:?}");
    // EXPLAIN ANALYZE counts what the merge and its sorts gave. (PostgreSQL 15 gives the same
    // join count; its inner Sort counts the rows re-read after each restore, 999901, and it
    // prints a `Sort Method` line, which Borealis's sorts do not.)
    let analyzed = run_with(
        &mut s,
        off,
        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) \
         SELECT count(*) FROM ma LEFT JOIN mb ON ma.x = mb.y + 40",
    );
    assert_eq!(
        analyzed,
        [
            "Aggregate (actual rows=1 loops=1)",
            "  ->  Merge Left Join (actual rows=1005000 loops=1)",
            "        Merge Cond: (ma.x = ((mb.y + 40)))",
            "        ->  Sort (actual rows=10000 loops=1)",
            "              Sort Key: ma.x",
            "              ->  Seq Scan on ma (actual rows=10000 loops=1)",
            "        ->  Sort (actual rows=10000 loops=1)",
            "              Sort Key: ((mb.y + 40))",
            "              ->  Seq Scan on mb (actual rows=10000 loops=1)",
        ]
    );
    // An index nested loop is a nested loop: switched off, the join hashes.
    run(
        &mut s,
        "CREATE TABLE small (id int PRIMARY KEY, ref int); \
         INSERT INTO small VALUES (1, 5), (2, 7); ANALYZE small",
    );
    let q = "SELECT small.id, ma.t FROM small JOIN ma ON ma.id = small.ref ORDER BY 1";
    assert!(
        plan(&mut s, q).contains("Nested Loop"),
        "{}",
        plan(&mut s, q)
    );
    let p = run_with(
        &mut s,
        "SET enable_nestloop = off",
        &format!("EXPLAIN (COSTS OFF) {q}"),
    );
    assert!(!p.join("\n").contains("Nested Loop"), "{p:?}");
    assert_eq!(
        run_with(&mut s, "SET enable_nestloop = off", q),
        ["1|t5", "2|t7"]
    );
}

/// A small deterministic generator (xorshift64*): the differential test's data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A value below `n`, or NULL one time in `null_in`.
    fn value(&mut self, n: u64, null_in: u64) -> Option<i64> {
        if self.below(null_in) == 0 {
            None
        } else {
            Some(self.below(n) as i64)
        }
    }
}

/// One side's row: (id, k, k2, v).
type Row = (i64, Option<i64>, Option<i64>, Option<i64>);

fn sql_value(v: Option<i64>) -> String {
    v.map_or_else(|| "NULL".into(), |x| x.to_string())
}

/// The answer SQL gives for `l <kind> JOIN r ON <cond>` (`lid|rid` lines, NULL for a padded
/// side), by the definition: every pair for which `cond` is true, then the rows of the
/// preserved sides that found none.
fn reference(l: &[Row], r: &[Row], kind: &str, cond: &dyn Fn(&Row, &Row) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut r_matched = vec![false; r.len()];
    for a in l {
        let mut any = false;
        for (j, b) in r.iter().enumerate() {
            if cond(a, b) {
                any = true;
                r_matched[j] = true;
                out.push(format!("{}|{}", a.0, b.0));
            }
        }
        if !any && matches!(kind, "LEFT" | "FULL") {
            out.push(format!("{}|NULL", a.0));
        }
    }
    if matches!(kind, "RIGHT" | "FULL") {
        for (j, b) in r.iter().enumerate() {
            if !r_matched[j] {
                out.push(format!("NULL|{}", b.0));
            }
        }
    }
    out.sort();
    out
}

/// SQL equality: NULL equals nothing.
fn eq(x: Option<i64>, y: Option<i64>) -> bool {
    matches!((x, y), (Some(x), Some(y)) if x == y)
}

/// The ON conditions the differential test joins by, with their meaning.
type Condition = (&'static str, fn(&Row, &Row) -> bool);
const CONDITIONS: &[Condition] = &[
    ("l.k = r.k", |a, b| eq(a.1, b.1)),
    ("l.k = r.k AND l.k2 = r.k2", |a, b| {
        eq(a.1, b.1) && eq(a.2, b.2)
    }),
    ("l.k = r.k AND l.v < r.v", |a, b| {
        eq(a.1, b.1) && matches!((a.3, b.3), (Some(x), Some(y)) if x < y)
    }),
    // The left side's primary key: read in key order, not sorted again.
    ("l.id = r.k", |a, b| eq(Some(a.0), b.1)),
    ("l.k2 = r.id AND l.k = r.v", |a, b| {
        eq(a.2, Some(b.0)) && eq(a.1, b.3)
    }),
];

#[test]
fn merge_joins_answer_as_hash_joins_and_the_definition_do() {
    // Seeded and bounded: every seed replays exactly; a failure names its seed.
    for seed in 1..=12u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut s = session();
        let mut sides: Vec<Vec<Row>> = Vec::new();
        for name in ["l", "r"] {
            // Few distinct keys: long runs of duplicates on both sides, and NULL keys.
            let n = rng.below(60) as i64;
            let distinct = 1 + rng.below(8);
            let rows: Vec<Row> = (1..=n)
                .map(|id| {
                    (
                        id,
                        rng.value(distinct, 6),
                        rng.value(3, 5),
                        rng.value(10, 4),
                    )
                })
                .collect();
            run(
                &mut s,
                &format!("CREATE TABLE {name} (id int PRIMARY KEY, k int, k2 int, v int)"),
            );
            if !rows.is_empty() {
                let values: Vec<String> = rows
                    .iter()
                    .map(|(id, k, k2, v)| {
                        format!(
                            "({id}, {}, {}, {})",
                            sql_value(*k),
                            sql_value(*k2),
                            sql_value(*v)
                        )
                    })
                    .collect();
                run(
                    &mut s,
                    &format!("INSERT INTO {name} VALUES {}", values.join(", ")),
                );
            }
            sides.push(rows);
        }
        if seed % 2 == 0 {
            run(&mut s, "ANALYZE");
        }
        for kind in ["INNER", "LEFT", "RIGHT", "FULL"] {
            for (on, cond) in CONDITIONS {
                let q = format!("SELECT l.id, r.id FROM l {kind} JOIN r ON {on}");
                let want = reference(&sides[0], &sides[1], kind, cond);
                let mut hashed = run_with(&mut s, "SET enable_mergejoin = off", &q);
                hashed.sort();
                assert_eq!(hashed, want, "seed {seed}: {q} (hash join)");
                let merge = "SET enable_hashjoin = off; SET enable_nestloop = off";
                let p = run_with(&mut s, merge, &format!("EXPLAIN (COSTS OFF) {q}"));
                assert!(p[0].starts_with("Merge"), "seed {seed}: {q}: {p:?}");
                let mut merged = run_with(&mut s, merge, &q);
                merged.sort();
                assert_eq!(merged, want, "seed {seed}: {q} (merge join)");
            }
        }
    }
}

#[test]
fn scan_methods_switched_off_are_avoided_where_another_can_do() {
    let mut s = session();
    run(
        &mut s,
        "CREATE TABLE o (id int PRIMARY KEY, status int, note text);
         CREATE INDEX o_status ON o (status);
         INSERT INTO o SELECT g, g % 5, 'n' || g FROM generate_series(1, 5000) g;
         ANALYZE o",
    );
    // A fifth of the rows: the table is read whole (PostgreSQL 15 too, bitmap scans off).
    let q = "SELECT count(*), max(note) FROM o WHERE status = 1";
    assert_eq!(plan(&mut s, q).lines().nth(1), Some("  ->  Seq Scan on o"));
    let forced = run_with(
        &mut s,
        "SET enable_seqscan = off",
        &format!("EXPLAIN (COSTS OFF) {q}"),
    );
    assert_eq!(
        forced[1], "  ->  Index Scan using o_status on o",
        "{forced:?}"
    );
    assert_eq!(
        run_with(&mut s, "SET enable_seqscan = off", q),
        run(&mut s, q)
    );
    // A few rows by the index; index scans off, the table is read.
    let q = "SELECT note FROM o WHERE status = 1 AND id < 20 ORDER BY note";
    assert!(
        plan(&mut s, q).contains("Index Scan using o_pkey"),
        "{}",
        plan(&mut s, q)
    );
    let forced = run_with(
        &mut s,
        "SET enable_indexscan = off",
        &format!("EXPLAIN (COSTS OFF) {q}"),
    );
    assert!(forced.join("\n").contains("Seq Scan on o"), "{forced:?}");
    assert_eq!(
        run_with(&mut s, "SET enable_indexscan = off", q),
        ["n1", "n11", "n16", "n6"]
    );
    // The settings are PostgreSQL's: booleans, shown by SHOW, reset by RESET.
    assert_eq!(
        run(
            &mut s,
            "SET enable_mergejoin = false; SHOW enable_mergejoin"
        ),
        ["off"]
    );
    assert_eq!(
        run(&mut s, "RESET enable_mergejoin; SHOW enable_mergejoin"),
        ["on"]
    );
}

#[test]
fn merge_joins_read_a_covering_index_in_key_order() {
    let mut s = session();
    run(
        &mut s,
        "CREATE TABLE ma (id int PRIMARY KEY, x int, t text);
         CREATE TABLE mb (id int PRIMARY KEY, y int);
         INSERT INTO ma SELECT g, CASE WHEN g % 11 = 0 THEN NULL ELSE g % 100 END, 't' || g
           FROM generate_series(1, 3000) g;
         INSERT INTO mb SELECT g, CASE WHEN g % 13 = 0 THEN NULL ELSE g % 70 END
           FROM generate_series(1, 3000) g;
         CREATE INDEX ma_x ON ma (x);
         ANALYZE",
    );
    let off = "SET enable_hashjoin = off; SET enable_nestloop = off";
    // ma's side needs only x: reading ma_x in order costs less than sorting the table (the
    // plan PostgreSQL 15 picks); mb's side is sorted.
    let q = "SELECT count(*) FROM ma FULL JOIN mb ON ma.x = mb.y + 50";
    assert_eq!(
        run_with(&mut s, off, &format!("EXPLAIN (COSTS OFF) {q}")),
        [
            "Aggregate",
            "  ->  Merge Full Join",
            "        Merge Cond: (ma.x = ((mb.y + 50)))",
            "        ->  Index Only Scan using ma_x on ma",
            "        ->  Sort",
            "              Sort Key: ((mb.y + 50))",
            "              ->  Seq Scan on mb",
        ]
    );
    assert_eq!(run_with(&mut s, off, q), ["56725"]);
    assert_eq!(run(&mut s, q), ["56725"], "hashed");
    // Needing ma.id too, a read of ma_x would fetch every row: the table is sorted instead.
    let q = "SELECT count(ma.id) FROM ma FULL JOIN mb ON ma.x = mb.y + 50";
    let p = run_with(&mut s, off, &format!("EXPLAIN (COSTS OFF) {q}"));
    assert_eq!(
        p[3..6],
        [
            "        ->  Sort",
            "              Sort Key: ma.x",
            "              ->  Seq Scan on ma"
        ],
        "{p:?}"
    );
    assert_eq!(run_with(&mut s, off, q), ["55710"]);
}
