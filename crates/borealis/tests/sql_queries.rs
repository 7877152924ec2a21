//! Golden queries over the wire: each statement with the answer PostgreSQL 15 gives, checked
//! against a real PostgreSQL 15 when written. Rows print as `a|b|c` with NULL as `NULL`; a
//! statement that fails prints `ERROR <SQLSTATE>`. Covers aggregate FILTER, constants in GROUP
//! BY and ORDER BY, integer range edge cases, `||` with booleans, the common text functions, joins that probe a key per
//! outer row, and WITH / WITH RECURSIVE (in SELECT and as the source of INSERT … SELECT).

// Tests hold the serial lock across awaits on purpose: one cluster at a time.
#![allow(clippy::await_holding_lock, clippy::unwrap_used)]

mod common;

use common::{Cluster, serial, sqlstate};
use tokio_postgres::{Client, SimpleQueryMessage};

/// Statements run before the cases.
const SETUP: &[&str] = &[
    "CREATE TABLE dept (id int PRIMARY KEY, name text)",
    "CREATE TABLE emp (id int PRIMARY KEY, name text, dept int, boss int, salary int)",
    "CREATE INDEX emp_dept ON emp (dept)",
    "CREATE TABLE nums (n int PRIMARY KEY)",
    "INSERT INTO dept VALUES (1, 'eng'), (2, 'ops'), (3, 'sales')",
    "INSERT INTO emp VALUES (1, 'ada', 1, NULL, 300), (2, 'bob', 1, 1, 200), (3, 'cy', 2, 1, 150), (4, 'di', 2, 3, 90), (5, 'ed', 2, 3, 80), (6, 'flo', NULL, 4, 50), (7, 'gus', 3, 2, NULL)",
];

/// (statement, answer) in order: later cases see what earlier ones wrote.
const CASES: &[(&str, &[&str])] = &[
    (
        "SELECT repeat('ab', 3), repeat('x', 0), repeat('x', -1), repeat(NULL, 2)",
        &["ababab|||NULL"],
    ),
    (
        "SELECT reverse('héllo'), left('abcdef', 2), left('abcdef', -2), right('abcdef', 2), right('abcdef', -2), left('ab', 5)",
        &["olléh|ab|abcd|ef|cdef|ab"],
    ),
    (
        "SELECT replace('abcabc', 'b', 'XY'), replace('abc', '', 'z'), strpos('héllo', 'llo'), strpos('abc', 'z'), strpos('abc', '')",
        &["aXYcaXYc|abc|3|0|1"],
    ),
    (
        "SELECT split_part('a,b,c', ',', 2), split_part('a,b,c', ',', 5), split_part('a,b,c', ',', -1), split_part('abc', '', 1), split_part('abc', '', 2)",
        &["b||c|abc|"],
    ),
    ("SELECT split_part('a,b', ',', 0)", &["ERROR 22023"]),
    (
        "SELECT initcap('hello wORLD-foo bar_baz 3abc'), lpad('hi', 5), lpad('hi', 5, 'xy'), rpad('hi', 5, 'xy'), lpad('hello', 3), rpad('hi', 4, ''), lpad('hi', -1)",
        &["Hello World-Foo Bar_Baz 3abc|   hi|xyxhi|hixyx|hel|hi|"],
    ),
    (
        "SELECT concat('a', NULL, 1, true, 2.5), concat_ws('-', 'a', NULL, 'b', 3), concat_ws(NULL, 'a', 'b') IS NULL, concat(NULL) = ''",
        &["a1t2.5|a-b-3|t|t"],
    ),
    (
        "SELECT dept, count(*) FILTER (WHERE salary > 100), sum(salary) FILTER (WHERE boss IS NOT NULL), count(*) FROM emp GROUP BY dept ORDER BY dept",
        &["1|2|200|2", "2|1|320|3", "3|0|NULL|1", "NULL|0|50|1"],
    ),
    (
        "SELECT count(*) FILTER (WHERE salary > 1000), max(name) FILTER (WHERE dept = 2), string_agg(name, ',') FILTER (WHERE salary < 100) FROM emp",
        &["0|ed|di,ed,flo"],
    ),
    (
        "SELECT count(*) FILTER (WHERE salary) FROM emp",
        &["ERROR 42804"],
    ),
    (
        "SELECT sum(salary) FILTER (WHERE count(*) > 1) FROM emp",
        &["ERROR 42803"],
    ),
    (
        "SELECT upper(name) FILTER (WHERE true) FROM emp",
        &["ERROR 42809"],
    ),
    (
        "SELECT dept, count(*) FROM emp GROUP BY 1 ORDER BY 2 DESC, 1",
        &["2|3", "1|2", "3|1", "NULL|1"],
    ),
    ("SELECT dept FROM emp GROUP BY 'a'", &["ERROR 42601"]),
    ("SELECT dept FROM emp GROUP BY 2", &["ERROR 42P10"]),
    ("SELECT dept FROM emp GROUP BY (-1)", &["ERROR 42P10"]),
    ("SELECT name FROM emp ORDER BY 'x'", &["ERROR 42601"]),
    ("SELECT name FROM emp ORDER BY 0", &["ERROR 42P10"]),
    ("SELECT name FROM emp ORDER BY 1.5", &["ERROR 42601"]),
    ("SELECT name FROM emp ORDER BY 2", &["ERROR 42P10"]),
    (
        "SELECT id FROM emp UNION SELECT id FROM dept ORDER BY NULL",
        &["ERROR 42601"],
    ),
    ("SELECT abs(-2147483647 - 1)", &["ERROR 22003"]),
    ("SELECT -(-2147483647 - 1)", &["ERROR 22003"]),
    (
        "SELECT abs(CAST(-2147483648 AS int8)), -(CAST(-2147483648 AS int8))",
        &["2147483648|2147483648"],
    ),
    (
        "SELECT CAST(9223372036854775807 AS int8), CAST(-9223372036854775808 AS int8)",
        &["9223372036854775807|-9223372036854775808"],
    ),
    ("SELECT CAST(9223372036854775808 AS int8)", &["ERROR 22003"]),
    (
        "SELECT CAST(-9223372036854775809 AS int8)",
        &["ERROR 22003"],
    ),
    (
        "SELECT 'x' || true, (1 > 2) || 'y', name || (salary > 100) FROM emp WHERE id = 1",
        &["xtrue|falsey|adatrue"],
    ),
    ("SELECT max(salary > 100) FROM emp", &["ERROR 42883"]),
    ("SELECT min(true)", &["ERROR 42883"]),
    (
        "SELECT sum(CAST('-0' AS float8)), sum(CAST('-0' AS float8) * salary) FROM emp WHERE id < 3",
        &["-0|-0"],
    ),
    (
        "SELECT e.name, d.name, b.name FROM emp e JOIN dept d ON d.id = e.dept LEFT JOIN emp b ON b.id = e.boss WHERE e.dept = 2 ORDER BY e.id",
        &["cy|ops|ada", "di|ops|cy", "ed|ops|cy"],
    ),
    (
        "SELECT d.name, e.name FROM dept d JOIN emp e ON e.dept = d.id WHERE d.id = 1 ORDER BY e.name",
        &["eng|ada", "eng|bob"],
    ),
    (
        "SELECT d.name, count(e.id) FROM dept d LEFT JOIN emp e ON e.dept = d.id AND e.salary > 100 WHERE d.id IN (1, 3) GROUP BY d.name ORDER BY 1",
        &["eng|2", "sales|0"],
    ),
    (
        "WITH d2 AS (SELECT * FROM emp WHERE dept = 2) SELECT count(*), max(salary) FROM d2",
        &["3|150"],
    ),
    (
        "WITH a(x) AS (SELECT 1), b AS (SELECT x + 1 AS y FROM a) SELECT * FROM a, b",
        &["1|2"],
    ),
    (
        "WITH big AS (SELECT id, name FROM emp WHERE salary >= 150) SELECT e.name FROM emp e WHERE e.boss IN (SELECT id FROM big) ORDER BY 1",
        &["bob", "cy", "di", "ed", "gus"],
    ),
    ("WITH emp AS (SELECT 42 AS id) SELECT * FROM emp", &["42"]),
    (
        "WITH t(a, b) AS (SELECT 1) SELECT * FROM t",
        &["ERROR 42P10"],
    ),
    (
        "WITH t AS (SELECT 1), t AS (SELECT 2) SELECT * FROM t",
        &["ERROR 42712"],
    ),
    (
        "WITH a AS (SELECT * FROM b), b AS (SELECT 1 AS x) SELECT * FROM a",
        &["ERROR 42P01"],
    ),
    (
        "SELECT * FROM (WITH w AS (SELECT 5 AS v) SELECT v * 2 AS v2 FROM w) s",
        &["10"],
    ),
    (
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 5) SELECT sum(n), count(*) FROM t",
        &["15|5"],
    ),
    (
        "WITH RECURSIVE chain AS (SELECT id, name, 1 AS level FROM emp WHERE boss IS NULL UNION ALL SELECT e.id, e.name, c.level + 1 FROM emp e JOIN chain c ON e.boss = c.id) SELECT name, level FROM chain ORDER BY level, name",
        &["ada|1", "bob|2", "cy|2", "di|3", "ed|3", "gus|3", "flo|4"],
    ),
    (
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION SELECT (n + 1) % 3 FROM t) SELECT n FROM t ORDER BY n",
        &["0", "1", "2"],
    ),
    (
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n * 2 FROM t WHERE n < 100) SELECT n FROM t",
        &["1", "2", "4", "8", "16", "32", "64", "128"],
    ),
    (
        "WITH RECURSIVE up(id, path) AS (SELECT id, name FROM emp WHERE id = 6 UNION ALL SELECT e.boss, e2.name || '>' || up.path FROM up JOIN emp e ON e.id = up.id JOIN emp e2 ON e2.id = e.boss) SELECT path FROM up ORDER BY length(path) DESC LIMIT 1",
        &["ada>cy>di>flo"],
    ),
    (
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) SELECT a.n, b.n FROM t a JOIN t b ON b.n = a.n + 1 ORDER BY 1",
        &["1|2", "2|3"],
    ),
    (
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT 2) SELECT n FROM t ORDER BY n",
        &["1", "2"],
    ),
    (
        "WITH RECURSIVE t(n) AS (SELECT n FROM t) SELECT * FROM t",
        &["ERROR 42P19"],
    ),
    (
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < (SELECT max(n) FROM t)) SELECT * FROM t",
        &["ERROR 42P19"],
    ),
    (
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT a.n + 1 FROM t a, t b WHERE a.n < 3) SELECT * FROM t",
        &["ERROR 42P19"],
    ),
    (
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT CAST(n + 1 AS int8) FROM t WHERE n < 3) SELECT * FROM t",
        &["ERROR 42804"],
    ),
    (
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3 ORDER BY 1) SELECT * FROM t",
        &["ERROR 0A000"],
    ),
    (
        "WITH RECURSIVE t(n) AS (SELECT n FROM t UNION ALL SELECT 1) SELECT * FROM t",
        &["ERROR 42P19"],
    ),
    (
        "INSERT INTO nums WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 10) SELECT i FROM s",
        &[],
    ),
    ("SELECT count(*), sum(n) FROM nums", &["10|55"]),
    (
        "INSERT INTO nums WITH x AS (SELECT max(n) + 1 AS m FROM nums) SELECT m FROM x",
        &[],
    ),
    ("SELECT max(n) FROM nums", &["11"]),
    // System columns, catalogs, VALUES, boolean tests, array_agg and bool_and/bool_or, functions
    // in FROM WITH ORDINALITY, SQL PREPARE/EXECUTE/DEALLOCATE, LOCK TABLE, a sequence read as a
    // relation, ALTER SEQUENCE, and search_path as current_schemas sees it.
    (
        "SELECT tableoid = 'emp'::regclass, count(*) FROM emp GROUP BY 1",
        &["t|7"],
    ),
    (
        "SELECT e.tableoid = 'emp'::regclass, d.tableoid = 'dept'::regclass FROM emp e JOIN dept d ON d.id = e.dept WHERE e.id = 1",
        &["t|t"],
    ),
    ("SELECT tableoid FROM (SELECT 1) AS s", &["ERROR 42703"]),
    (
        "SELECT c.tableoid, n.tableoid FROM pg_class c, pg_namespace n WHERE c.relname = 'emp' AND n.nspname = 'public'",
        &["1259|2615"],
    ),
    (
        "SELECT 'pg_class'::regclass::oid, 'pg_catalog.pg_proc'::regclass::oid, '1259'::regclass::oid",
        &["1259|1255|1259"],
    ),
    (
        "SELECT count(*) FROM pg_language WHERE lanname IN ('internal', 'c', 'sql')",
        &["3"],
    ),
    (
        "VALUES (1, 'a'), (2, NULL), (NULL, 'c')",
        &["1|a", "2|NULL", "NULL|c"],
    ),
    (
        "SELECT * FROM (VALUES (1, 'x'), (2, 'y')) AS v (n, s) WHERE n > 1",
        &["2|y"],
    ),
    (
        "SELECT x FROM (VALUES (1), (2), (3)) AS v (x) WHERE x IN (SELECT 1 UNION ALL VALUES (3)) ORDER BY x",
        &["1", "3"],
    ),
    ("VALUES (1), ('a')", &["ERROR 22P02"]),
    (
        "SELECT NULL IS TRUE, NULL IS NOT TRUE, false IS FALSE, true IS NOT FALSE, NULL IS UNKNOWN, true IS NOT UNKNOWN",
        &["f|t|t|t|t|t"],
    ),
    ("SELECT 1 IS TRUE", &["ERROR 42804"]),
    (
        "SELECT dept, array_agg(name), bool_and(salary > 100), bool_or(salary > 250), every(salary IS NOT NULL) FROM emp GROUP BY dept ORDER BY dept",
        &[
            "1|{ada,bob}|t|t|t",
            "2|{cy,di,ed}|f|f|t",
            "3|{gus}|NULL|NULL|f",
            "NULL|{flo}|f|f|t",
        ],
    ),
    (
        "SELECT array_agg(boss) FROM emp WHERE dept = 1",
        &["{NULL,1}"],
    ),
    (
        "SELECT array_agg(DISTINCT dept) FROM emp WHERE dept IS NOT NULL",
        &["{1,2,3}"],
    ),
    ("SELECT bool_and(n) FROM nums", &["ERROR 42883"]),
    (
        "SELECT * FROM unnest('{10,20,30}'::int[]) WITH ORDINALITY AS u (v, i) WHERE v > 10",
        &["20|2", "30|3"],
    ),
    (
        "SELECT * FROM generate_series(5, 7) WITH ORDINALITY",
        &["5|1", "6|2", "7|3"],
    ),
    (
        "SELECT t.x + 1 FROM unnest('{1,2}'::bigint[]) AS t (x)",
        &["2", "3"],
    ),
    (
        "SELECT array_remove('{a,b,a,c}'::text[], 'a'), quote_literal('it''s'), quote_literal(E'back\\\\slash'), quote_literal(NULL)",
        &["{b,c}|'it''s'|E'back\\\\slash'|NULL"],
    ),
    (
        "SELECT acldefault('r', 10) = acldefault('r', 10), acldefault('c', 10)",
        &["t|{}"],
    ),
    ("SELECT acldefault('x', 10)", &["ERROR XX000"]),
    ("PREPARE q (int) AS SELECT name FROM emp WHERE id = $1", &[]),
    ("EXECUTE q (2)", &["bob"]),
    ("EXECUTE q ('3')", &["cy"]),
    ("EXECUTE q (1, 2)", &["ERROR 42601"]),
    ("PREPARE q AS SELECT 1", &["ERROR 42P05"]),
    ("DEALLOCATE q", &[]),
    ("EXECUTE q (2)", &["ERROR 26000"]),
    (
        "PREPARE ins (int, int) AS INSERT INTO nums VALUES ($1), ($2)",
        &[],
    ),
    ("EXECUTE ins (100, 101)", &[]),
    ("SELECT count(*) FROM nums WHERE n >= 100", &["2"]),
    ("DEALLOCATE ALL", &[]),
    ("EXECUTE ins (102, 103)", &["ERROR 26000"]),
    ("LOCK TABLE emp IN ACCESS SHARE MODE", &["ERROR 25P01"]),
    ("BEGIN", &[]),
    ("LOCK TABLE emp, dept IN ROW EXCLUSIVE MODE", &[]),
    ("LOCK TABLE nosuch", &["ERROR 42P01"]),
    ("COMMIT", &[]),
    ("CREATE SEQUENCE s START 5", &[]),
    ("SELECT last_value, log_cnt, is_called FROM s", &["5|0|f"]),
    ("SELECT nextval('s')", &["5"]),
    (
        "SELECT last_value, is_called, s.tableoid = 's'::regclass FROM s",
        &["5|t|t"],
    ),
    ("ALTER SEQUENCE s RESTART WITH 20", &[]),
    ("SELECT nextval('s')", &["20"]),
    ("ALTER SEQUENCE s INCREMENT BY 10", &[]),
    ("SELECT nextval('s'), nextval('s')", &["30|40"]),
    ("ALTER SEQUENCE s MAXVALUE 45", &[]),
    ("SELECT nextval('s')", &["ERROR 2200H"]),
    ("ALTER SEQUENCE s RESTART", &[]),
    ("SELECT nextval('s')", &["5"]),
    ("ALTER SEQUENCE IF EXISTS nosuch RESTART", &[]),
    ("ALTER SEQUENCE nosuch RESTART", &["ERROR 42P01"]),
    ("ALTER SEQUENCE s RESTART WITH 1000", &["ERROR 22023"]),
    ("CREATE TABLE owned (id int)", &[]),
    ("ALTER SEQUENCE s OWNED BY owned.id", &[]),
    (
        "SELECT pg_get_serial_sequence('owned', 'id')",
        &["public.s"],
    ),
    ("ALTER SEQUENCE s OWNED BY owned.nope", &["ERROR 42703"]),
    ("DROP TABLE owned", &[]),
    ("SELECT count(*) FROM pg_class WHERE relname = 's'", &["0"]),
    (
        "SELECT current_schemas(true), current_schemas(false), current_schema()",
        &["{pg_catalog,public}|{public}|public"],
    ),
    ("SET search_path = ''", &[]),
    (
        "SELECT current_schemas(true), current_schemas(false), current_schema()",
        &["{pg_catalog}|{}|NULL"],
    ),
    ("RESET search_path", &[]),
    // COMMENT ON and the descriptions pg_description and obj_description/col_description read.
    ("COMMENT ON TABLE emp IS 'people'", &[]),
    ("COMMENT ON COLUMN emp.name IS 'full name'", &[]),
    (
        "SELECT obj_description('emp'::regclass, 'pg_class'), col_description('emp'::regclass, 2), col_description('emp'::regclass, 3), obj_description(2200, 'pg_namespace')",
        &["people|full name|NULL|standard public schema"],
    ),
    (
        "SELECT d.objsubid, d.description FROM pg_description d JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass WHERE c.relname = 'emp' ORDER BY 1",
        &["0|people", "2|full name"],
    ),
    ("COMMENT ON TABLE emp IS NULL", &[]),
    ("COMMENT ON COLUMN emp.name IS ''", &[]),
    (
        "SELECT obj_description('emp'::regclass, 'pg_class'), col_description('emp'::regclass, 2)",
        &["NULL|NULL"],
    ),
    ("COMMENT ON TABLE nosuch IS 'x'", &["ERROR 42P01"]),
    ("COMMENT ON COLUMN emp.nope IS 'x'", &["ERROR 42703"]),
    ("COMMENT ON INDEX emp_dept IS 'by dept'", &[]),
    (
        "SELECT obj_description('emp_dept'::regclass, 'pg_class')",
        &["by dept"],
    ),
    ("BEGIN", &[]),
    ("COMMENT ON TABLE dept IS 'rolled back'", &[]),
    ("ROLLBACK", &[]),
    (
        "SELECT obj_description('dept'::regclass, 'pg_class')",
        &["NULL"],
    ),
    (
        "SELECT count(*) FILTER (WHERE name = 'search_path') FROM pg_settings",
        &["1"],
    ),
    ("CREATE TABLE noted (a int, b int, c int)", &[]),
    ("COMMENT ON COLUMN noted.b IS 'bee'", &[]),
    ("COMMENT ON COLUMN noted.c IS 'sea'", &[]),
    ("ALTER TABLE noted DROP COLUMN b", &[]),
    (
        "SELECT a.attname, col_description(a.attrelid, a.attnum) FROM pg_attribute a WHERE a.attrelid = 'noted'::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1",
        &["a|NULL", "c|sea"],
    ),
    ("COMMENT ON TABLE noted IS 'gone soon'", &[]),
    ("DROP TABLE noted", &[]),
    (
        "SELECT count(*) FROM pg_description WHERE description IN ('gone soon', 'sea')",
        &["0"],
    ),
    // reg* casts both ways, to_reg*, pg_proc's built-in functions, array type names.
    (
        "SELECT 'int4'::regtype::oid, 'text[]'::regtype::oid, '_int4'::regtype::oid, 23::regtype, 1009::regtype, 'character varying'::regtype::oid",
        &["23|1009|1007|integer|text[]|1043"],
    ),
    (
        "SELECT 'public'::regnamespace::oid, 2200::regnamespace, 11::regnamespace",
        &["2200|public|pg_catalog"],
    ),
    (
        "SELECT 'now'::regproc::oid, 1299::regproc, 'pg_catalog.version'::regproc::oid",
        &["1299|now|89"],
    ),
    (
        "SELECT 10::regrole::text = current_user, current_user::regrole::oid",
        &["t|10"],
    ),
    (
        "SELECT to_regtype('int8')::oid, to_regtype('nope'), to_regclass('nope'), to_regproc('nope'), to_regnamespace('nope'), to_regrole('nope'), to_regproc('round')",
        &["20|NULL|NULL|NULL|NULL|NULL|NULL"],
    ),
    ("SELECT 'round'::regproc", &["ERROR 42725"]),
    ("SELECT 'nope'::regproc", &["ERROR 42883"]),
    ("SELECT 'nope'::regnamespace", &["ERROR 3F000"]),
    ("SELECT 'nope'::regrole", &["ERROR 42704"]),
    (
        "SELECT proname, pronargs, prorettype, prokind FROM pg_proc WHERE proname IN ('count', 'lower', 'now', 'generate_series') ORDER BY oid",
        &[
            "lower|1|25|f",
            "generate_series|3|1114|f",
            "generate_series|3|1184|f",
            "generate_series|3|23|f",
            "generate_series|2|23|f",
            "generate_series|3|20|f",
            "generate_series|2|20|f",
            "now|0|1184|f",
            "count|1|20|a",
            "count|0|20|a",
            "generate_series|3|1700|f",
            "generate_series|2|1700|f",
            "lower|1|2283|f",
            "lower|1|2283|f",
        ],
    ),
    (
        "SELECT format_type(1009, -1), format_type(1007, -1), format_type(1015, 14)",
        &["text[]|integer[]|character varying(10)[]"],
    ),
];

/// The answer of `sql` in the golden form.
async fn answer(c: &Client, sql: &str) -> Vec<String> {
    match c.simple_query(sql).await {
        Ok(messages) => messages
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => Some(
                    (0..r.len())
                        .map(|i| r.get(i).unwrap_or("NULL"))
                        .collect::<Vec<_>>()
                        .join("|"),
                ),
                _ => None,
            })
            .collect(),
        Err(e) => vec![format!("ERROR {}", sqlstate(&e))],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_answer_as_postgresql_does() {
    let _g = serial();
    let cluster = Cluster::start("sql-queries");
    let c = cluster.client().await;
    for s in SETUP {
        c.batch_execute(s)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e:?}"));
    }
    let mut failures = Vec::new();
    for (sql, want) in CASES {
        let got = answer(&c, sql).await;
        if got != *want {
            failures.push(format!("{sql}\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
