//! Semi- and anti-joins: `WHERE [NOT] EXISTS (correlated subquery)` and `x IN (SELECT …)`
//! pulled up into join steps (`Hash Semi Join`, `Hash Anti Join`, `Nested Loop Semi Join` over
//! an index probe) as PostgreSQL 15 plans them, with the answers of the same queries spelled so
//! that they stay per-row subqueries (`OR false` keeps a conjunct from being pulled up). The
//! forms that must stay per-row (an aggregate in the subquery, an OR-ed EXISTS, correlation by
//! a non-equality, NOT IN) keep their SubPlans.

#![allow(clippy::unwrap_used)]

mod common;

use common::{plan, run, session};

const TABLES: &str = "
    CREATE TABLE sa (id int PRIMARY KEY, x int, y int, t text);
    CREATE TABLE sb (id int PRIMARY KEY, x int, y int, t text);
    INSERT INTO sa SELECT i, CASE WHEN i % 17 = 0 THEN NULL ELSE i % 50 END, i % 7, 't' || (i % 13)
        FROM generate_series(1, 1000) i;
    INSERT INTO sb SELECT i, CASE WHEN i % 23 = 0 THEN NULL ELSE (i * 7) % 40 END, i % 5, 't' || (i % 11)
        FROM generate_series(1, 600) i;
    CREATE INDEX sb_x ON sb (x);
    CREATE TABLE sc (id int PRIMARY KEY, y int);
    INSERT INTO sc SELECT i, i % 3 FROM generate_series(1, 10) i;
    ANALYZE sa; ANALYZE sb; ANALYZE sc;";

/// Each query, and the same query with its subqueries kept per row.
const CASES: &[(&str, &str)] = &[
    (
        "SELECT count(*) FROM sa WHERE EXISTS (SELECT 1 FROM sb WHERE sb.x = sa.x)",
        "SELECT count(*) FROM sa WHERE EXISTS (SELECT 1 FROM sb WHERE sb.x = sa.x) OR false",
    ),
    (
        "SELECT count(*) FROM sa WHERE NOT EXISTS (SELECT 1 FROM sb WHERE sb.x = sa.x)",
        "SELECT count(*) FROM sa WHERE NOT EXISTS (SELECT 1 FROM sb WHERE sb.x = sa.x) OR false",
    ),
    (
        "SELECT id FROM sa WHERE EXISTS (SELECT 1 FROM sb WHERE sb.x = sa.x AND sb.y = sa.y AND sb.t > 't3') ORDER BY id",
        "SELECT id FROM sa WHERE EXISTS (SELECT 1 FROM sb WHERE sb.x = sa.x AND sb.y = sa.y AND sb.t > 't3') OR false ORDER BY id",
    ),
    (
        "SELECT id FROM sa WHERE NOT EXISTS (SELECT 1 FROM sb WHERE sa.x = sb.x AND sa.y = sb.y) ORDER BY id",
        "SELECT id FROM sa WHERE NOT EXISTS (SELECT 1 FROM sb WHERE sa.x = sb.x AND sa.y = sb.y) OR false ORDER BY id",
    ),
    (
        "SELECT id FROM sa WHERE x IN (SELECT x FROM sb WHERE y = 1) ORDER BY id",
        "SELECT id FROM sa WHERE x IN (SELECT x FROM sb WHERE y = 1) OR false ORDER BY id",
    ),
    (
        "SELECT id FROM sa WHERE x IN (SELECT x FROM sb WHERE sb.y = sa.y) ORDER BY id",
        "SELECT id FROM sa WHERE x IN (SELECT x FROM sb WHERE sb.y = sa.y) OR false ORDER BY id",
    ),
    (
        "SELECT sa.id, sc.id FROM sa JOIN sc ON sc.y = sa.y WHERE sa.id < 40 AND EXISTS (SELECT 1 FROM sb WHERE sb.x = sa.x AND sb.y = sc.y) ORDER BY 1, 2",
        "SELECT sa.id, sc.id FROM sa JOIN sc ON sc.y = sa.y WHERE sa.id < 40 AND (EXISTS (SELECT 1 FROM sb WHERE sb.x = sa.x AND sb.y = sc.y) OR false) ORDER BY 1, 2",
    ),
    (
        "SELECT sa.id, sc.id FROM sa LEFT JOIN sc ON sc.id = sa.y WHERE NOT EXISTS (SELECT 1 FROM sb WHERE sb.y = sc.y AND sb.x = sa.x) ORDER BY 1, 2",
        "SELECT sa.id, sc.id FROM sa LEFT JOIN sc ON sc.id = sa.y WHERE NOT EXISTS (SELECT 1 FROM sb WHERE sb.y = sc.y AND sb.x = sa.x) OR false ORDER BY 1, 2",
    ),
    (
        "SELECT id FROM sa WHERE EXISTS (SELECT 1 FROM sb WHERE sb.x = sa.x AND EXISTS (SELECT 1 FROM sc WHERE sc.id = sb.y)) ORDER BY id",
        "SELECT id FROM sa WHERE EXISTS (SELECT 1 FROM sb WHERE sb.x = sa.x AND (EXISTS (SELECT 1 FROM sc WHERE sc.id = sb.y) OR false)) OR false ORDER BY id",
    ),
    (
        "SELECT id FROM sa WHERE id < 5 AND EXISTS (SELECT 1 FROM sb WHERE sb.x = sa.x) ORDER BY id",
        "SELECT id FROM sa WHERE id < 5 AND (EXISTS (SELECT 1 FROM sb WHERE sb.x = sa.x) OR false) ORDER BY id",
    ),
    (
        "SELECT id FROM sa WHERE id < 5 AND NOT EXISTS (SELECT 1 FROM sb WHERE sb.x = sa.x) ORDER BY id",
        "SELECT id FROM sa WHERE id < 5 AND (NOT EXISTS (SELECT 1 FROM sb WHERE sb.x = sa.x) OR false) ORDER BY id",
    ),
    // Empty inner side.
    (
        "SELECT count(*) FROM sa WHERE NOT EXISTS (SELECT 1 FROM sb WHERE sb.x = sa.x AND sb.y > 10)",
        "SELECT count(*) FROM sa",
    ),
    (
        "SELECT count(*) FROM sa WHERE EXISTS (SELECT 1 FROM sb WHERE sb.x = sa.x AND sb.y > 10)",
        "SELECT 0::bigint",
    ),
];

#[test]
fn pulled_up_subqueries_answer_as_per_row_ones() {
    let mut s = session();
    run(&mut s, TABLES);
    for (q, reference) in CASES {
        // Some subquery of the query became a join step; none of the reference's did.
        let p = plan(&mut s, q);
        assert_ne!(p, plan(&mut s, reference), "{q}");
        assert!(
            plan(&mut s, reference).contains("SubPlan") || !reference.contains("EXISTS"),
            "{reference}"
        );
        assert_eq!(run(&mut s, q), run(&mut s, reference), "{q}");
    }
    // Spilled: the same answers within the smallest work_mem.
    run(&mut s, "SET work_mem = '64kB'");
    for (q, reference) in CASES {
        assert_eq!(run(&mut s, q), run(&mut s, reference), "{q}");
    }
}

#[test]
fn semi_and_anti_join_plans() {
    let mut s = session();
    run(&mut s, TABLES);
    // As PostgreSQL 15 prints them for the same ANALYZEd tables, but that PostgreSQL hashes
    // the inner side's distinct keys into a plain `Hash Join` when they are few (40 here).
    assert_eq!(
        plan(
            &mut s,
            "SELECT count(*) FROM sa WHERE NOT EXISTS (SELECT 1 FROM sb WHERE sb.x = sa.x)"
        ),
        [
            "Aggregate",
            "  ->  Hash Anti Join",
            "        Hash Cond: (sa.x = sb.x)",
            "        ->  Seq Scan on sa",
            "        ->  Hash",
            "              ->  Seq Scan on sb",
        ]
        .join("\n")
    );
    assert_eq!(
        plan(
            &mut s,
            "SELECT count(*) FROM sa WHERE x IN (SELECT x FROM sb WHERE y = 1)"
        ),
        [
            "Aggregate",
            "  ->  Hash Semi Join",
            "        Hash Cond: (sa.x = sb.x)",
            "        ->  Seq Scan on sa",
            "        ->  Hash",
            "              ->  Seq Scan on sb",
            "                    Filter: (y = 1)",
        ]
        .join("\n")
    );
    // Few outer rows probe the inner table's index, stopping at a key's first row.
    assert_eq!(
        plan(
            &mut s,
            "SELECT id FROM sa WHERE id < 3 AND NOT EXISTS (SELECT 1 FROM sb WHERE sb.id = sa.x)"
        ),
        [
            "Nested Loop Anti Join",
            "  ->  Index Scan using sa_pkey on sa",
            "        Index Cond: (id < 3)",
            "  ->  Index Only Scan using sb_pkey on sb",
            "        Index Cond: (id = sa.x)",
        ]
        .join("\n")
    );
    // A semi-join on a unique key is an inner join.
    assert_eq!(
        plan(
            &mut s,
            "SELECT id FROM sa WHERE id < 3 AND EXISTS (SELECT 1 FROM sb WHERE sb.id = sa.x)"
        ),
        [
            "Nested Loop",
            "  ->  Index Scan using sa_pkey on sa",
            "        Index Cond: (id < 3)",
            "  ->  Index Only Scan using sb_pkey on sb",
            "        Index Cond: (id = sa.x)",
        ]
        .join("\n")
    );
    // These stay per-row subqueries.
    for q in [
        "SELECT count(*) FROM sa WHERE EXISTS (SELECT count(*) FROM sb WHERE sb.x = sa.x)",
        "SELECT count(*) FROM sa WHERE EXISTS (SELECT 1 FROM sb WHERE sb.x = sa.x LIMIT 1)",
        "SELECT count(*) FROM sa WHERE EXISTS (SELECT 1 FROM sb WHERE sb.x = sa.x) OR sa.y = 1",
        "SELECT count(*) FROM sa WHERE EXISTS (SELECT 1 FROM sb WHERE sb.x > sa.x)",
        "SELECT count(*) FROM sa WHERE EXISTS (SELECT 1 FROM sb WHERE sb.x = sa.x OR sb.y = sa.y)",
        "SELECT count(*) FROM sa WHERE x::numeric IN (SELECT x FROM sb)",
    ] {
        let p = plan(&mut s, q);
        assert!(
            (p.contains("SubPlan") || p.contains("InitPlan")) && !p.contains("Semi Join"),
            "{q}: {p}"
        );
    }
    // NOT IN is NULL, not false, when either side has a NULL: never an anti-join.
    let p = plan(
        &mut s,
        "SELECT count(*) FROM sa WHERE x NOT IN (SELECT x FROM sb)",
    );
    assert!(p.contains("NOT (hashed") && !p.contains("Anti Join"), "{p}");
    assert_eq!(
        run(
            &mut s,
            "SELECT count(*) FROM sa WHERE x NOT IN (SELECT x FROM sb)"
        ),
        ["0"]
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT count(*) FROM sa WHERE x NOT IN (SELECT x FROM sb WHERE x IS NOT NULL)"
        ),
        run(
            &mut s,
            "SELECT count(*) FROM sa WHERE x IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sb WHERE sb.x = sa.x)"
        )
    );
}
