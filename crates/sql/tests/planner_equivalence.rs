//! Equalities implied through joins: with `a = b` and `a = K`, the planner adds `b = K` (so
//! `b`'s relation is read by key on its own) and drops `a = b`, which the two pins imply. The
//! plans are PostgreSQL 15's for the same tables; the answers are checked against the same
//! queries written without the shortcut.

#![allow(clippy::unwrap_used)]

mod common;

use common::{plan, run, session};

const TABLES: &str = "
    CREATE TABLE regions (id int4 PRIMARY KEY, name text);
    CREATE TABLE customers (id int4 PRIMARY KEY, region_id int4, name text);
    CREATE TABLE orders (id int8 PRIMARY KEY, customer_id int4, amount int8, big int8);
    INSERT INTO regions SELECT g, 'region ' || g FROM generate_series(1, 10) g;
    INSERT INTO customers SELECT g, g % 10 + 1, 'customer ' || g FROM generate_series(1, 500) g;
    INSERT INTO orders SELECT g, (g * 7919) % 500 + 1, (g * 37) % 1009, (g * 7919) % 500 + 1
      FROM generate_series(1, 20000) g;
    CREATE INDEX orders_customer_id_idx ON orders (customer_id);
    ANALYZE;";

#[test]
fn a_join_column_pinned_to_a_value_pins_the_other_side() {
    let mut s = session();
    run(&mut s, TABLES);
    let q = "SELECT r.name, c.name, o.id, o.amount FROM orders o \
             JOIN customers c ON c.id = o.customer_id JOIN regions r ON r.id = c.region_id \
             WHERE o.customer_id = 42 ORDER BY o.id";
    let p = plan(&mut s, q);
    // customers is read by its key, once; no join condition is left between orders and
    // customers.
    assert!(
        p.contains("Index Scan using customers_pkey on customers c")
            && p.contains("Index Cond: (id = 42)"),
        "{p}"
    );
    assert!(
        !p.contains("o.customer_id = c.id") && !p.contains("c.id = o.customer_id"),
        "{p}"
    );
    let rows = run(&mut s, q);
    assert_eq!(rows.len(), 40, "{rows:?}");
    // The same answer through a query the rule cannot touch (the pin is on an expression).
    let reference = run(
        &mut s,
        "SELECT r.name, c.name, o.id, o.amount FROM orders o \
         JOIN customers c ON c.id = o.customer_id JOIN regions r ON r.id = c.region_id \
         WHERE o.customer_id + 0 = 42 ORDER BY o.id",
    );
    assert_eq!(rows, reference);
    assert!(
        rows.iter().all(|r| r.starts_with("region 3|customer 42|")),
        "{rows:?}"
    );
}

#[test]
fn parameters_pin_like_constants() {
    let mut s = session();
    run(&mut s, TABLES);
    run(
        &mut s,
        "PREPARE q(int4) AS SELECT count(*), sum(o.amount) FROM orders o \
         JOIN customers c ON c.id = o.customer_id WHERE o.customer_id = $1",
    );
    let p = plan(&mut s, "EXECUTE q(7)");
    assert!(p.contains("customers_pkey"), "{p}");
    for k in [1, 7, 500, 501] {
        let got = run(&mut s, &format!("EXECUTE q({k})"));
        let want = run(
            &mut s,
            &format!(
                "SELECT count(*), sum(o.amount) FROM orders o JOIN customers c \
                 ON c.id = o.customer_id WHERE o.customer_id + 0 = {k}"
            ),
        );
        assert_eq!(got, want, "customer {k}");
    }
}

#[test]
fn what_the_rule_must_leave_alone() {
    let mut s = session();
    run(&mut s, TABLES);
    // Two different pins: the join equality is what makes the answer empty; it must stay.
    assert_eq!(
        run(
            &mut s,
            "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id \
             WHERE o.customer_id = 1 AND c.id = 2"
        ),
        ["0"]
    );
    // Both pinned to the same value: the join equality is implied.
    assert_eq!(
        run(
            &mut s,
            "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id \
             WHERE o.customer_id = 2 AND c.id = 2"
        ),
        ["40"]
    );
    // A NULL pin matches nothing, with or without the rule.
    assert_eq!(
        run(
            &mut s,
            "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id \
             WHERE o.customer_id = NULL"
        ),
        ["0"]
    );
    // Columns of different types (int8 = int4) are not joined into a class: customers is
    // then read through the join, and the answer is the same.
    let p = plan(
        &mut s,
        "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.big WHERE o.big = 42",
    );
    assert!(!p.contains("Index Cond: (id = 42)"), "{p}");
    assert_eq!(
        run(
            &mut s,
            "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.big WHERE o.big = 42"
        ),
        ["40"]
    );
    // Through a LEFT join the pin does not cross the ON condition: customers without orders
    // still appear, NULL-extended.
    assert_eq!(
        run(
            &mut s,
            "SELECT count(*), count(o.id) FROM customers c LEFT JOIN orders o \
             ON o.customer_id = c.id AND o.customer_id = 3 WHERE c.id <= 5"
        ),
        ["44|40"]
    );
    // A three-way class: all three pinned, and the answer is the same as spelled out.
    let three = "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id \
                 JOIN orders o2 ON o2.customer_id = c.id WHERE o.customer_id = 9";
    let p = plan(&mut s, three);
    assert!(p.contains("Index Cond: (id = 9)"), "{p}");
    assert_eq!(run(&mut s, three), ["1600"]);
}
