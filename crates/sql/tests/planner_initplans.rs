//! Uncorrelated scalar subqueries (InitPlans) as key values, and the min/max rewrite inside
//! them: `WHERE id = (SELECT max(id) FROM t)` reads one key's end and then one row, as
//! PostgreSQL 15 plans it (same plan text, but for PostgreSQL's `t_1` aliases of the inner
//! reads), with the answers of the same queries spelled without the shortcuts.

#![allow(clippy::unwrap_used)]

mod common;

use common::{plan, run, session};

const TABLE: &str = "
    CREATE TABLE t (id int PRIMARY KEY, k int, v text);
    INSERT INTO t SELECT i, i % 100, 'v' || i FROM generate_series(1, 5000) i;
    CREATE INDEX t_k ON t (k);
    ANALYZE t;";

#[test]
fn scalar_subqueries_are_key_values_and_min_max_reads_in_them() {
    let mut s = session();
    run(&mut s, TABLE);
    assert_eq!(
        plan(&mut s, "SELECT * FROM t WHERE id = (SELECT max(id) FROM t)"),
        [
            "Index Scan using t_pkey on t",
            "  Index Cond: (id = $1)",
            "  InitPlan 2 (returns $1)",
            "    ->  Result",
            "          InitPlan 1 (returns $0)",
            "            ->  Limit",
            "                  ->  Index Only Scan Backward using t_pkey on t",
            "                        Index Cond: (id IS NOT NULL)",
        ]
        .join("\n")
    );
    let p = plan(
        &mut s,
        "SELECT count(*) FROM t WHERE id > (SELECT max(id) - 5 FROM t) AND id < (SELECT max(k) FROM t)",
    );
    assert!(
        p.contains("Index Cond: ((id > $1) AND (id < $3))")
            && p.contains("InitPlan 4 (returns $3)")
            && p.contains("Index Only Scan Backward using t_k on t"),
        "{p}"
    );
    let cases = [
        (
            "SELECT id, v FROM t WHERE id = (SELECT max(id) FROM t)",
            "SELECT id, v FROM t WHERE id + 0 = (SELECT max(id + 0) FROM t)",
        ),
        (
            "SELECT count(*) FROM t WHERE id > (SELECT max(id) - 5 FROM t)",
            "SELECT count(*) FROM t WHERE id + 0 > (SELECT max(id + 0) - 5 FROM t)",
        ),
        (
            "SELECT id FROM t WHERE k = (SELECT min(k) FROM t WHERE k > 97) ORDER BY id LIMIT 3",
            "SELECT id FROM t WHERE k + 0 = (SELECT min(k + 0) FROM t WHERE k + 0 > 97) ORDER BY id LIMIT 3",
        ),
        // An empty subquery is NULL: nothing equals it.
        (
            "SELECT count(*) FROM t WHERE id = (SELECT max(id) FROM t WHERE k > 1000)",
            "SELECT 0",
        ),
        (
            "SELECT (SELECT max(id) FROM t), (SELECT min(v) FROM t WHERE id > 4990)",
            "SELECT 5000, 'v4991'",
        ),
    ];
    for (q, reference) in cases {
        assert_eq!(run(&mut s, q), run(&mut s, reference), "{q}");
    }
    // More than one row from a subquery used as a key value is still PostgreSQL's error.
    let stmt = borealis_sql::parse("SELECT * FROM t WHERE id = (SELECT id FROM t)").unwrap();
    let err = s.execute(&stmt[0], &[]).unwrap_err();
    assert!(err.to_string().contains("more than one row"), "{err}");
}
