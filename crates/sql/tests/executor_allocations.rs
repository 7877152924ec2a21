//! The executor's hot paths allocate nothing per row: each query below runs over the same
//! table at two sizes, and the heap allocations it makes may grow with the row count by no
//! more than [`PER_ROW_MAX`] per row (what is left is per batch of rows read, per statement
//! or per group).
//!
//! The allocator counts every thread's allocations, so this binary holds one test.
//!
//! Not covered, as they still allocate per row: a value computed per row that owns memory
//! (text made by a function or `||`, a numeric result of arithmetic past 38 digits, and every
//! numeric result, whose digits are a vector); a new group of a hash aggregate (its key, first
//! row and accumulators); a row a sort, a window, a hash join's table or a spill file keeps;
//! a row written by INSERT, UPDATE or DELETE; a result row sent to the client.

#![allow(clippy::unwrap_used)]

mod common;

use common::{run, session};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Allocations allowed per row of the larger table over the smaller.
const PER_ROW_MAX: f64 = 0.05;

/// The row counts of the two runs.
const SIZES: [u64; 2] = [2_000, 12_000];

/// Queries whose per-row work is a scan, a filter, a projection, an aggregate over existing
/// groups, a join probe, a bounded sort or a hashed subquery.
const QUERIES: &[&str] = &[
    // Scans and filters over every kind of column the table has.
    "SELECT count(*) FROM a",
    "SELECT count(*) FROM a WHERE t = 'abc'",
    "SELECT count(*) FROM a WHERE t LIKE 'text 1%'",
    "SELECT count(*) FROM a WHERE t ILIKE 'TEXT%'",
    "SELECT count(*) FROM a WHERE t ~ '^text'",
    "SELECT count(*) FROM a WHERE n > 10 AND n < 1000.5",
    "SELECT count(*) FROM a WHERE d > date '2020-01-01'",
    "SELECT count(*) FROM a WHERE k BETWEEN 10 AND 60 OR t IS NULL",
    "SELECT count(*) FROM a WHERE g IN (1, 2, 3) AND c IN ('group 1', 'group 2')",
    "SELECT count(*) FROM a WHERE abs(k - 50) < 10 AND length(t) > 3 AND g <> 3",
    "SELECT sum(CASE WHEN k > 50 THEN 1 ELSE 0 END), count(coalesce(k, g)) FROM a",
    // Index reads.
    "SELECT count(*) FROM a WHERE k > 3",
    "SELECT count(*) FROM a WHERE k BETWEEN 10 AND 60",
    // Aggregates.
    "SELECT sum(k), avg(k), min(t), max(d), max(length(t)) FROM a",
    "SELECT sum(n), avg(n), sum(k * 2) FROM a",
    "SELECT g, count(*), sum(k) FROM a GROUP BY g",
    "SELECT c, count(*), sum(n), max(t) FROM a GROUP BY c",
    "SELECT c, g, avg(n) FROM a GROUP BY c, g",
    "SELECT count(*) FROM (SELECT DISTINCT g FROM a) s",
    // Joins, semi- and anti-joins, subqueries.
    "SELECT count(*) FROM a JOIN b ON b.id = a.g",
    "SELECT count(b.name), max(a.t) FROM a JOIN b ON b.id = a.g",
    "SELECT count(*) FROM a LEFT JOIN b ON b.id = a.k",
    "SELECT count(*) FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.id = a.g)",
    "SELECT count(*) FROM a WHERE g NOT IN (SELECT id FROM b WHERE id > 5)",
    "SELECT count(*) FROM (SELECT id, t FROM a WHERE k > 1) s",
    // A sort bounded by LIMIT.
    "SELECT id FROM a ORDER BY k DESC, id LIMIT 10",
];

#[test]
fn hot_paths_allocate_nothing_per_row() {
    let mut s = session();
    run(
        &mut s,
        "CREATE TABLE a (id int8 PRIMARY KEY, k int4, g int4, t text, n numeric, d date, c text);
         CREATE INDEX a_k ON a (k);
         CREATE TABLE b (id int4 PRIMARY KEY, name text);
         INSERT INTO b SELECT g, 'name ' || g FROM generate_series(1, 100) g;",
    );
    let mut counts: Vec<[u64; 2]> = vec![[0; 2]; QUERIES.len()];
    for (run_no, n) in SIZES.into_iter().enumerate() {
        run(&mut s, "TRUNCATE a");
        run(
            &mut s,
            &format!(
                "INSERT INTO a SELECT g, g % 100, g % 10, 'text value ' || g, g * 1.5,
                     date '2020-01-01' + g % 100, 'group ' || g % 10
                   FROM generate_series(1, {n}) g;
                 ANALYZE a"
            ),
        );
        for (q, c) in QUERIES.iter().zip(&mut counts) {
            // Once to warm what a statement caches (plans, compiled patterns), then counted.
            let first = run(&mut s, q);
            let region = Region::new(GLOBAL);
            let again = run(&mut s, q);
            let change = region.change();
            assert_eq!(first, again, "{q}");
            c[run_no] = (change.allocations + change.reallocations) as u64;
        }
    }
    let extra_rows = (SIZES[1] - SIZES[0]) as f64;
    let mut failed = Vec::new();
    for (q, [small, large]) in QUERIES.iter().zip(&counts) {
        let per_row = (*large as f64 - *small as f64) / extra_rows;
        println!(
            "{per_row:8.4} per row ({small} at {}, {large} at {}): {q}",
            SIZES[0], SIZES[1]
        );
        if per_row > PER_ROW_MAX {
            failed.push(format!("{q}: {per_row:.3} allocations per row"));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}
