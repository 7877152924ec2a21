//! Aggregates over a table read in parallel parts: the plan PostgreSQL 15 shows for one
//! (`Finalize` over a `Gather` of `Partial` aggregates over a `Parallel Seq Scan`), and answers
//! equal to the serial ones for every aggregate that runs in parallel, with filters, FILTER,
//! HAVING, NULLs, grouping expressions and the transaction's own uncommitted rows.
//! `force_parallel_mode` (as in PostgreSQL) lifts the size thresholds so a small table will do.

#![allow(clippy::unwrap_used)]

mod common;

use common::{plan, run, session};

const TABLE: &str = "
    CREATE TABLE t (id int PRIMARY KEY, g int, x int, f float8, n numeric(12,2), b bool, s text);
    INSERT INTO t SELECT i, i % 7, CASE WHEN i % 11 = 0 THEN NULL ELSE (i * 37) % 1000 - 500 END,
        (i % 13) * 0.5, (i % 101) * 1.25, i % 3 <> 0, 'v' || (i % 17)
      FROM generate_series(1, 30000) i;";

/// Whether this machine has the second core a parallel part needs.
fn parallel_possible() -> bool {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get) >= 2
}

#[test]
fn parallel_aggregates_answer_as_serial_ones_do() {
    let mut s = session();
    run(&mut s, TABLE);
    let queries = [
        "SELECT g, count(*), count(x), sum(x), avg(x), min(x), max(x) FROM t GROUP BY g ORDER BY g",
        "SELECT count(*), sum(id::int8), avg(id::int8), sum(f), avg(f), sum(n), avg(n) FROM t",
        "SELECT b, min(s), max(s), bool_and(x > -400), bool_or(x > 490) FROM t GROUP BY b ORDER BY b",
        "SELECT g % 3, count(*) FILTER (WHERE x IS NULL), sum(x) FILTER (WHERE b) FROM t \
         WHERE s <> 'v3' GROUP BY g % 3 ORDER BY 1",
        "SELECT g, sum(n) FROM t GROUP BY g HAVING sum(n) > 100000 ORDER BY g",
        "SELECT s, g, count(*) FROM t WHERE x BETWEEN -100 AND 100 GROUP BY s, g ORDER BY s, g",
        "SELECT count(*), sum(x), min(s), max(id) FROM t WHERE false",
        "SELECT g, count(*) FROM t WHERE false GROUP BY g",
    ];
    let serial: Vec<Vec<String>> = {
        run(&mut s, "SET max_parallel_workers_per_gather = 0");
        queries.iter().map(|q| run(&mut s, q)).collect()
    };
    run(
        &mut s,
        "SET max_parallel_workers_per_gather = 2; SET force_parallel_mode = on",
    );
    for (q, want) in queries.iter().zip(&serial) {
        assert!(!want.is_empty() || q.contains("GROUP BY g"), "{q}");
        assert_eq!(&run(&mut s, q), want, "{q}");
        let p = plan(&mut s, q);
        // A constant WHERE is a one-time filter above the scan: nothing to split.
        assert_eq!(
            p.contains("Gather") && p.contains("Parallel Seq Scan on t"),
            parallel_possible() && !q.contains("WHERE false"),
            "{q}\n{p}"
        );
    }
    // The transaction's own rows, not yet committed, are seen by every part.
    run(
        &mut s,
        "BEGIN; INSERT INTO t SELECT i, 100, 1, 0, 0, true, 'new' FROM generate_series(30001, 31000) i; DELETE FROM t WHERE id <= 500",
    );
    let mine = run(
        &mut s,
        "SELECT count(*), sum(x), count(*) FILTER (WHERE g = 100) FROM t",
    );
    run(&mut s, "SET max_parallel_workers_per_gather = 0");
    assert_eq!(
        mine,
        run(
            &mut s,
            "SELECT count(*), sum(x), count(*) FILTER (WHERE g = 100) FROM t"
        )
    );
    assert!(mine[0].starts_with("30500|"), "{mine:?}");
    run(&mut s, "ROLLBACK");
}

#[test]
fn the_plan_is_postgresqls_and_what_cannot_run_in_parallel_does_not() {
    if !parallel_possible() {
        return;
    }
    let mut s = session();
    run(&mut s, TABLE);
    run(&mut s, "SET force_parallel_mode = on");
    assert_eq!(
        plan(&mut s, "SELECT g, count(*) FROM t GROUP BY g"),
        [
            "Finalize HashAggregate",
            "  Group Key: g",
            "  ->  Gather",
            "        Workers Planned: 1",
            "        ->  Partial HashAggregate",
            "              Group Key: g",
            "              ->  Parallel Seq Scan on t",
        ]
        .join("\n")
        .replace(
            "Workers Planned: 1",
            &format!("Workers Planned: {}", workers())
        )
    );
    assert_eq!(
        plan(&mut s, "SELECT count(*) FROM t WHERE x > 5"),
        [
            "Finalize Aggregate",
            "  ->  Gather",
            &format!("        Workers Planned: {}", workers()),
            "        ->  Partial Aggregate",
            "              ->  Parallel Seq Scan on t",
            "                    Filter: (x > 5)",
        ]
        .join("\n")
    );
    // Aggregates whose partial states do not merge, subqueries, volatile functions, reads by
    // index and joins stay serial.
    for q in [
        "SELECT string_agg(s, ',') FROM t",
        "SELECT count(DISTINCT g) FROM t",
        "SELECT array_agg(id ORDER BY id) FROM t",
        "SELECT sum(x) FROM t WHERE x > (SELECT 1)",
        "SELECT sum(random()) FROM t",
        "SELECT count(*) FROM t WHERE id < 100",
        "SELECT count(*) FROM t a JOIN t b ON a.id = b.id",
        "SELECT stddev(x) FROM t",
    ] {
        let p = plan(&mut s, q);
        assert!(!p.contains("Gather"), "{q}\n{p}");
    }
    // Off by the setting.
    run(&mut s, "SET max_parallel_workers_per_gather = 0");
    assert!(!plan(&mut s, "SELECT g, count(*) FROM t GROUP BY g").contains("Gather"));
}

/// Workers the plan shows: one fewer than the parts, at most the setting's 2 and the cores.
fn workers() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(3)
        - 1
}
