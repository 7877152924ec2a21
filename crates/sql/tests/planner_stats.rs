//! Planner statistics and the plans they lead to, through a session over an in-memory engine.
//!
//! `pg_stats` contents are checked against what PostgreSQL 15's ANALYZE gives on the same data
//! where it is deterministic (tables smaller than the sample: the sample is the whole table).
//! Plans are checked by shape (EXPLAIN (COSTS OFF) lines): which scan and which join operators
//! the planner picks for selective and unselective predicates and for joins written in a bad
//! order.

#![allow(clippy::unwrap_used)]

mod common;

use common::{plan, run, session};

#[test]
fn analyze_fills_pg_stats_as_postgresql_does() {
    let mut s = session();
    run(
        &mut s,
        "CREATE TABLE st (id int PRIMARY KEY, status int, grp int, note text, maybe int);
         INSERT INTO st SELECT g, g % 5, g % 40, 'n' || (g % 3), CASE WHEN g % 4 = 0 THEN NULL ELSE g END
           FROM generate_series(1, 1000) AS g;",
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT count(*) FROM pg_stats WHERE tablename = 'st'"
        ),
        ["0"]
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT reltuples FROM pg_class WHERE relname = 'st'"
        ),
        ["-1"]
    );
    run(&mut s, "ANALYZE st");
    assert_eq!(
        run(
            &mut s,
            "SELECT reltuples FROM pg_class WHERE relname = 'st'"
        ),
        ["1000"]
    );
    // Answers of PostgreSQL 15 on the same table.
    assert_eq!(
        run(
            &mut s,
            "SELECT attname, null_frac, avg_width, n_distinct, most_common_vals, most_common_freqs, \
             correlation FROM pg_stats WHERE tablename = 'st' AND attname <> 'maybe' ORDER BY attname"
        ),
        [
            "grp|0|4|40|{0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39}|{0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025,0.025}|0.05908506",
            "id|0|4|-1|NULL|NULL|1",
            "note|0|3|3|{n1,n0,n2}|{0.334,0.333,0.333}|0.332",
            "status|0|4|5|{0,1,2,3,4}|{0.2,0.2,0.2,0.2,0.2}|0.1999952",
        ]
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT null_frac, n_distinct, most_common_vals IS NULL, correlation \
             FROM pg_stats WHERE tablename = 'st' AND attname = 'maybe'"
        ),
        ["0.25|-0.75|t|1"]
    );
    // PostgreSQL 15's histogram of the same column, bound for bound.
    let pg = "{1,10,19,30,39,50,59,70,79,90,99,110,119,130,139,150,159,170,179,190,199,210,219,\
              230,239,250,259,270,279,290,299,310,319,330,339,350,359,370,379,390,399,410,419,430,\
              439,450,459,470,479,490,499,509,519,529,539,549,559,569,579,589,599,609,619,629,639,\
              649,659,669,679,689,699,709,719,729,739,749,759,769,779,789,799,809,819,829,839,849,\
              859,869,879,889,899,909,919,929,939,949,959,969,979,989,999}";
    assert_eq!(
        run(
            &mut s,
            "SELECT histogram_bounds FROM pg_stats WHERE tablename = 'st' AND attname = 'maybe'"
        ),
        [pg.replace(' ', "")]
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT last_analyze IS NOT NULL, last_autoanalyze IS NULL, n_mod_since_analyze, analyze_count \
             FROM pg_stat_user_tables WHERE relname = 'st'"
        ),
        ["t|t|0|1"]
    );
    run(&mut s, "UPDATE st SET grp = 0 WHERE id <= 10");
    assert_eq!(
        run(
            &mut s,
            "SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = 'st'"
        ),
        ["10"]
    );
    // A column list analyzes those columns only; dropping a column drops its statistics.
    run(&mut s, "ALTER TABLE st DROP COLUMN grp");
    assert_eq!(
        run(
            &mut s,
            "SELECT attname FROM pg_stats WHERE tablename = 'st' ORDER BY 1"
        ),
        ["id", "maybe", "note", "status"]
    );
    run(
        &mut s,
        "CREATE TABLE two (a int, b int); INSERT INTO two VALUES (1, 1), (1, 2); ANALYZE two (b)",
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT attname, n_distinct FROM pg_stats WHERE tablename = 'two'"
        ),
        ["b|-1"]
    );
    run(&mut s, "VACUUM ANALYZE two");
    assert_eq!(
        run(
            &mut s,
            "SELECT attname, n_distinct FROM pg_stats WHERE tablename = 'two' ORDER BY 1"
        ),
        ["a|-0.5", "b|-1"]
    );
    // json has no equality: PostgreSQL counts only its NULLs and widths.
    run(
        &mut s,
        "CREATE TABLE js (j json, b jsonb); \
         INSERT INTO js SELECT ('{\"a\":' || (g % 3) || '}')::json, ('{\"a\":' || (g % 3) || '}')::jsonb \
         FROM generate_series(1, 100) AS g; ANALYZE js",
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT attname, null_frac, n_distinct, most_common_vals IS NULL FROM pg_stats \
             WHERE tablename = 'js' ORDER BY 1"
        ),
        ["b|0|3|f", "j|0|0|t"]
    );
    // TRUNCATE gives the table a new tree: its row count starts afresh, as PostgreSQL resets
    // reltuples, while the columns' statistics stay.
    run(&mut s, "TRUNCATE js");
    assert_eq!(
        run(
            &mut s,
            "SELECT reltuples, relpages FROM pg_class WHERE relname = 'js'"
        ),
        ["-1|0"]
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT count(*) FROM pg_stats WHERE tablename = 'js'"
        ),
        ["2"]
    );
    // Statistics are catalog entries: a rolled-back ANALYZE leaves none, DROP TABLE drops them.
    run(
        &mut s,
        "CREATE TABLE rb (x int); INSERT INTO rb VALUES (1); BEGIN; ANALYZE rb; ROLLBACK",
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT count(*) FROM pg_stats WHERE tablename = 'rb'"
        ),
        ["0"]
    );
    // The other spellings: bare VACUUM ANALYZE, the option list, several tables.
    run(&mut s, "VACUUM ANALYZE");
    run(&mut s, "VACUUM (ANALYZE, VERBOSE) two");
    run(&mut s, "ANALYZE st, two (a)");
    assert_eq!(
        run(
            &mut s,
            "SELECT relname, analyze_count FROM pg_stat_user_tables WHERE relname IN ('st', 'two') \
             ORDER BY 1"
        ),
        ["st|3", "two|5"]
    );
    // PostgreSQL analyzes in a read-only transaction too.
    run(&mut s, "BEGIN READ ONLY; ANALYZE two; COMMIT");
    run(&mut s, "DROP TABLE two");
    assert_eq!(
        run(
            &mut s,
            "SELECT count(*) FROM pg_stats WHERE tablename = 'two'"
        ),
        ["0"]
    );
}

#[test]
fn plans_follow_the_statistics() {
    let mut s = session();
    run(
        &mut s,
        "CREATE TABLE orders (id int PRIMARY KEY, status int, customer int, amount int);
         CREATE INDEX orders_status ON orders (status);
         CREATE INDEX orders_customer ON orders (customer);
         INSERT INTO orders SELECT g, g % 5, g % 2000, g % 1000 FROM generate_series(1, 10000) AS g;
         CREATE TABLE region (id int PRIMARY KEY, name text);
         INSERT INTO region SELECT g, 'r' || g FROM generate_series(1, 5) AS g;
         CREATE TABLE customer (id int PRIMARY KEY, region int, name text);
         INSERT INTO customer SELECT g, g % 5 + 1, 'c' || g FROM generate_series(0, 1999) AS g;
         CREATE TABLE item (id int PRIMARY KEY, ord int, qty int);
         CREATE INDEX item_ord ON item (ord);
         INSERT INTO item SELECT g, g % 10000 + 1, g % 7 FROM generate_series(1, 20000) AS g;",
    );
    // Without statistics the rule takes any index with an equality.
    assert_eq!(
        plan(&mut s, "SELECT * FROM orders WHERE status = 1"),
        "Index Scan using orders_status on orders\n  Index Cond: (status = 1)"
    );
    run(&mut s, "ANALYZE");
    // PostgreSQL 15 (bitmap scans off) picks the same scans, with the same estimates but for
    // `customer < 10` (58 there).
    let cases: &[(&str, &str, &str)] = &[
        // 20 % of the rows: reading the whole table costs less than an index lookup per row.
        (
            "SELECT * FROM orders WHERE status = 1",
            "Seq Scan on orders",
            "rows=2000 ",
        ),
        (
            "SELECT * FROM orders WHERE customer = 7",
            "Index Scan using orders_customer",
            "rows=5 ",
        ),
        (
            "SELECT * FROM orders WHERE customer < 10",
            "Index Scan using orders_customer",
            "rows=55 ",
        ),
        (
            "SELECT * FROM orders WHERE customer < 1500",
            "Seq Scan on orders",
            "rows=7505 ",
        ),
        (
            "SELECT * FROM orders WHERE id BETWEEN 100 AND 200",
            "Index Scan using orders_pkey",
            "rows=100 ",
        ),
        // IS NULL is no key condition here (PostgreSQL reads the index): a scan, of one row.
        (
            "SELECT * FROM orders WHERE status IS NULL",
            "Seq Scan on orders",
            "rows=1 ",
        ),
        (
            "SELECT * FROM orders WHERE status = 1 OR status = 2",
            "Seq Scan on orders",
            "rows=3600 ",
        ),
        // Groups of a column with statistics: its distinct values.
        (
            "SELECT status, count(*) FROM orders GROUP BY status",
            "HashAggregate",
            "rows=5 ",
        ),
    ];
    for (q, node, rows) in cases {
        let lines = run(&mut s, &format!("EXPLAIN {q}"));
        assert!(
            lines[0].starts_with(node) && lines[0].contains(rows),
            "{q}: {lines:?}"
        );
    }
    // A four-table join written in a bad order, with an unselective filter on the largest
    // table: the search starts from the one customer the query names and probes keys from
    // there (PostgreSQL 15 picks the same order; it joins the five regions by a nested loop
    // over a sequential scan instead of a key probe).
    assert_eq!(
        plan(
            &mut s,
            "SELECT count(*) FROM item i, orders o, customer c, region r \
             WHERE i.ord = o.id AND o.customer = c.id AND c.region = r.id AND i.qty >= 0 \
             AND c.name = 'c42'"
        ),
        [
            "Aggregate",
            "  ->  Nested Loop",
            "        ->  Nested Loop",
            "              ->  Nested Loop",
            "                    ->  Seq Scan on customer c",
            "                          Filter: (name = 'c42'::text)",
            // Only the region's key is read: the key alone answers.
            "                    ->  Index Only Scan using region_pkey on region r",
            "                          Index Cond: (id = c.region)",
            "              ->  Index Scan using orders_customer on orders o",
            "                    Index Cond: (customer = c.id)",
            "        ->  Index Scan using item_ord on item i",
            "              Index Cond: (ord = o.id)",
            "              Filter: (qty >= 0)",
        ]
        .join("\n")
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT count(*), sum(i.qty) FROM item i, orders o, customer c, region r \
             WHERE i.ord = o.id AND o.customer = c.id AND c.region = r.id AND i.qty >= 0 \
             AND c.name = 'c42'"
        ),
        ["10|33"]
    );
    // EXPLAIN ANALYZE runs the chosen plan and counts what it did.
    let analyzed = run(
        &mut s,
        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT count(*) FROM item i, orders o, \
         customer c, region r WHERE i.ord = o.id AND o.customer = c.id AND c.region = r.id \
         AND i.qty >= 0 AND c.name = 'c42'",
    );
    assert_eq!(
        analyzed[1], "  ->  Nested Loop (actual rows=10 loops=1)",
        "{analyzed:?}"
    );
    // Joining everything: hash joins, the small tables hashed.
    let all = plan(
        &mut s,
        "SELECT count(*) FROM item i JOIN orders o ON i.ord = o.id JOIN customer c ON o.customer = c.id",
    );
    assert!(!all.contains("Nested Loop"), "{all}");
    assert_eq!(all.matches("Hash Join").count(), 2, "{all}");
}

#[test]
fn wide_joins_take_the_greedy_order() {
    // Forty tables in a chain, every one analyzed: beyond the exhaustive search, the greedy
    // order plans it in linear steps (no recursion, no 2^n).
    let mut s = session();
    let n = 40;
    for i in 0..n {
        run(
            &mut s,
            &format!(
                "CREATE TABLE w{i} (id int PRIMARY KEY, next int);
                 INSERT INTO w{i} SELECT g, g FROM generate_series(1, 20) AS g"
            ),
        );
    }
    run(&mut s, "ANALYZE");
    let from: Vec<String> = (0..n).rev().map(|i| format!("w{i}")).collect();
    let conds: Vec<String> = (0..n - 1)
        .map(|i| format!("w{i}.next = w{}.id", i + 1))
        .collect();
    let q = format!(
        "SELECT count(*) FROM {} WHERE {} AND w0.id <= 5",
        from.join(", "),
        conds.join(" AND ")
    );
    assert_eq!(run(&mut s, &q), ["5"]);
    let p = plan(&mut s, &q);
    assert_eq!(
        p.matches("Join").count() + p.matches("Nested Loop").count(),
        n - 1,
        "{p}"
    );
}

#[test]
fn join_estimates_use_the_most_common_values() {
    // A skewed key: over half of `fact` has k = 1, which `dim` holds 10 times.
    let mut s = session();
    run(
        &mut s,
        "CREATE TABLE fact (id int PRIMARY KEY, k int);
         INSERT INTO fact SELECT g, CASE WHEN g % 2 = 0 THEN 1 ELSE g % 50 END FROM generate_series(1, 2000) AS g;
         CREATE TABLE dim (id int PRIMARY KEY, k int);
         INSERT INTO dim SELECT g, CASE WHEN g <= 10 THEN 1 ELSE g END FROM generate_series(1, 100) AS g;
         ANALYZE",
    );
    let lines = run(
        &mut s,
        "EXPLAIN SELECT * FROM fact f JOIN dim d ON f.k = d.k",
    );
    // 1 040 × 10 pairs on k = 1 and 20 × 40 more: 11 200; PostgreSQL 15 estimates 11 360, as here.
    assert!(lines[0].contains("rows=11360 "), "{lines:?}");
    assert_eq!(
        run(
            &mut s,
            "SELECT count(*) FROM fact f JOIN dim d ON f.k = d.k"
        ),
        ["11200"]
    );
}

#[test]
fn parenthesized_inner_joins_are_planned_with_the_joins_around_them() {
    let mut s = session();
    run(
        &mut s,
        "CREATE TABLE pa (id int PRIMARY KEY, x int);
         CREATE TABLE pb (id int PRIMARY KEY, aid int, x int);
         CREATE TABLE pc (id int PRIMARY KEY, bid int);
         INSERT INTO pa SELECT g, g FROM generate_series(1, 2000) AS g;
         INSERT INTO pb SELECT g, g % 2000 + 1, g FROM generate_series(1, 4000) AS g;
         INSERT INTO pc SELECT g, g % 4000 + 1 FROM generate_series(1, 8000) AS g;
         CREATE INDEX pb_aid ON pb (aid);
         CREATE INDEX pc_bid ON pc (bid);
         ANALYZE",
    );
    // One row of pa: the rows of pb and pc joined to it are found by their indexes, as when
    // the joins are written without parentheses (before, the parenthesized join was read
    // whole, then joined).
    let nested = "SELECT count(*) FROM pa JOIN (pb JOIN pc ON pc.bid = pb.id) ON pb.aid = pa.id \
                  WHERE pa.id = 5";
    let flat = "SELECT count(*) FROM pa JOIN pb ON pb.aid = pa.id JOIN pc ON pc.bid = pb.id \
                WHERE pa.id = 5";
    assert_eq!(run(&mut s, nested), run(&mut s, flat));
    assert_eq!(run(&mut s, nested), ["4"]);
    let p = plan(&mut s, nested);
    assert_eq!(p, plan(&mut s, flat));
    assert!(
        !p.contains("Subquery Scan") && p.contains("pb_aid") && p.contains("pc_bid"),
        "{p}"
    );
    // A join in parentheses at the front of its FROM item is its left side either way.
    let leading = "SELECT count(*) FROM (pb JOIN pc ON pc.bid = pb.id) JOIN pa ON pb.aid = pa.id \
                   WHERE pa.id = 5";
    assert_eq!(run(&mut s, leading), ["4"]);
    assert!(!plan(&mut s, leading).contains("Subquery Scan"));
    // An unqualified name inside the parentheses could mean another relation's column outside
    // them: such a join stays a block (x is pb's inside, and pa's too outside).
    let bare = "SELECT count(*) FROM pa JOIN (pb JOIN pc ON pc.bid = pb.id AND x > 0) \
                ON pb.aid = pa.id WHERE pa.id = 5";
    assert_eq!(run(&mut s, bare), ["4"]);
    assert!(plan(&mut s, bare).contains("Subquery Scan"));
}
