//! Golden queries over the wire: each statement with the answer PostgreSQL 15 gives, checked
//! against a real PostgreSQL 15 when written. Rows print as `a|b|c` with NULL as `NULL`; a
//! statement that fails prints `ERROR <SQLSTATE>`. Covers aggregate FILTER, constants in GROUP
//! BY and ORDER BY, integer range edge cases, `||` with booleans, the common text functions,
//! joins that probe a key per outer row, WITH / WITH RECURSIVE (in SELECT and as the source of
//! INSERT … SELECT; before INSERT / UPDATE / DELETE; data-modifying statements in WITH), window
//! functions (ranking, offsets, framed values and aggregates over ROWS,
//! RANGE and GROUPS frames, named windows, windows over groups, and their errors), DISTINCT ON,
//! RIGHT/FULL joins, USING and NATURAL joins, UPDATE … FROM / DELETE … USING, and EXPLAIN of
//! queries and of INSERT/UPDATE/DELETE (plans with COSTS OFF line by line; EXPLAIN ANALYZE's
//! counters checked against the rows, and its DML run for real).

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
    // Aggregates read only the columns they use (the others are skipped while decoding); these
    // read columns from the filter, HAVING, FILTER, ORDER BY and a correlated subquery.
    (
        "SELECT dept, max(name) FROM emp WHERE salary > 60 GROUP BY dept HAVING sum(salary) > 100 ORDER BY dept",
        &["1|bob", "2|ed"],
    ),
    (
        "SELECT count(*), count(salary), min(boss) FROM emp WHERE name LIKE '%d%'",
        &["3|3|3"],
    ),
    (
        "SELECT dept, count(*) FROM emp e GROUP BY dept HAVING EXISTS (SELECT 1 FROM emp x WHERE x.dept = e.dept AND x.salary > 250) ORDER BY 1",
        &["1|2"],
    ),
    (
        "SELECT id, name, min(salary) FROM emp GROUP BY id, name ORDER BY max(salary) DESC NULLS LAST, id LIMIT 3",
        &["1|ada|300", "2|bob|200", "3|cy|150"],
    ),
    ("SELECT count(*) FROM emp WHERE boss = 3", &["2"]),
    // A GROUP BY that lists a table's primary key determines the table's other columns.
    (
        "SELECT id, name, salary FROM emp GROUP BY id ORDER BY salary DESC NULLS LAST, id LIMIT 3",
        &["1|ada|300", "2|bob|200", "3|cy|150"],
    ),
    (
        "SELECT d.id, d.name, count(e.id) FROM dept d LEFT JOIN emp e ON e.dept = d.id GROUP BY d.id ORDER BY d.id",
        &["1|eng|2", "2|ops|3", "3|sales|1"],
    ),
    (
        "SELECT e.name, count(*) FROM emp e JOIN dept d ON d.id = e.dept GROUP BY d.id",
        &["ERROR 42803"],
    ),
    (
        "SELECT d.name FROM dept d GROUP BY d.id HAVING d.name <> 'ops' ORDER BY d.name",
        &["eng", "sales"],
    ),
    (
        "SELECT upper(name), salary * 2 FROM emp GROUP BY id ORDER BY id LIMIT 2",
        &["ADA|600", "BOB|400"],
    ),
    (
        "SELECT sum(salary) FILTER (WHERE name > 'c') FROM emp GROUP BY dept ORDER BY 1 NULLS FIRST",
        &["NULL", "NULL", "50", "320"],
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
    // DESC and NULLS FIRST/LAST in an index are recorded and shown as PostgreSQL shows them.
    ("CREATE TABLE ix (a int, b int, c int, d int)", &[]),
    (
        "CREATE INDEX ix_m ON ix (a DESC, b NULLS FIRST, c DESC NULLS LAST, d ASC NULLS LAST)",
        &[],
    ),
    ("CREATE UNIQUE INDEX ix_u ON ix (d DESC)", &[]),
    (
        "SELECT pg_get_indexdef('ix_m'::regclass), indoption FROM pg_index WHERE indexrelid = 'ix_m'::regclass",
        &[
            "CREATE INDEX ix_m ON public.ix USING btree (a DESC, b NULLS FIRST, c DESC NULLS LAST, d)|3 2 1 0",
        ],
    ),
    (
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_u'",
        &["CREATE UNIQUE INDEX ix_u ON public.ix USING btree (d DESC)"],
    ),
    (
        "INSERT INTO ix VALUES (1, NULL, 3, 4), (2, 5, NULL, 6), (NULL, 7, 8, 9)",
        &[],
    ),
    (
        "SELECT a, b FROM ix WHERE a >= 1 ORDER BY a DESC",
        &["2|5", "1|NULL"],
    ),
    ("INSERT INTO ix VALUES (9, 9, 9, 4)", &["ERROR 23505"]),
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
    // Window functions and DISTINCT ON.
    (
        "CREATE TABLE w (id int PRIMARY KEY, g text, v int, f float8)",
        &[],
    ),
    (
        "INSERT INTO w VALUES (1, 'a', 10, 1.5), (2, 'a', 20, 2.5), (3, 'a', 20, NULL), (4, 'b', NULL, 4), (5, 'b', 5, 5), (6, NULL, 7, 6), (7, 'a', NULL, 7), (8, 'c', 1, 8)",
        &[],
    ),
    (
        "SELECT id, row_number() OVER (ORDER BY id), rank() OVER (ORDER BY v), dense_rank() OVER (ORDER BY v), v FROM w ORDER BY id",
        &[
            "1|1|4|4|10",
            "2|2|5|5|20",
            "3|3|5|5|20",
            "4|4|7|6|NULL",
            "5|5|2|2|5",
            "6|6|3|3|7",
            "7|7|7|6|NULL",
            "8|8|1|1|1",
        ],
    ),
    (
        "SELECT g, v, rank() OVER (PARTITION BY g ORDER BY v), dense_rank() OVER (PARTITION BY g ORDER BY v DESC), percent_rank() OVER (PARTITION BY g ORDER BY v), cume_dist() OVER (PARTITION BY g ORDER BY v) FROM w ORDER BY g, v, id",
        &[
            "a|10|1|3|0|0.25",
            "a|20|2|2|0.3333333333333333|0.75",
            "a|20|2|2|0.3333333333333333|0.75",
            "a|NULL|4|1|1|1",
            "b|5|1|2|0|0.5",
            "b|NULL|2|1|1|1",
            "c|1|1|1|0|1",
            "NULL|7|1|1|0|1",
        ],
    ),
    (
        "SELECT id, ntile(3) OVER (ORDER BY id), ntile(5) OVER (PARTITION BY g ORDER BY id), ntile(NULL) OVER () FROM w ORDER BY id",
        &[
            "1|1|1|NULL",
            "2|1|2|NULL",
            "3|1|3|NULL",
            "4|2|1|NULL",
            "5|2|2|NULL",
            "6|2|1|NULL",
            "7|3|4|NULL",
            "8|3|1|NULL",
        ],
    ),
    (
        "SELECT id, lag(v) OVER (ORDER BY id), lead(v) OVER (ORDER BY id), lag(v, 2, -1) OVER (ORDER BY id), lead(v, -1) OVER (ORDER BY id), lag(v, 0) OVER (ORDER BY id) FROM w ORDER BY id",
        &[
            "1|NULL|20|-1|NULL|10",
            "2|10|20|-1|10|20",
            "3|20|NULL|10|20|20",
            "4|20|5|20|20|NULL",
            "5|NULL|7|20|NULL|5",
            "6|5|NULL|NULL|5|7",
            "7|7|1|5|7|NULL",
            "8|NULL|NULL|7|NULL|1",
        ],
    ),
    (
        "SELECT id, g, lag(id) OVER (PARTITION BY g ORDER BY id), lead(id, 1, 0) OVER (PARTITION BY g ORDER BY id) FROM w ORDER BY id",
        &[
            "1|a|NULL|2",
            "2|a|1|3",
            "3|a|2|7",
            "4|b|NULL|5",
            "5|b|4|0",
            "6|NULL|NULL|0",
            "7|a|3|0",
            "8|c|NULL|0",
        ],
    ),
    (
        "SELECT id, first_value(id) OVER (PARTITION BY g ORDER BY v), last_value(id) OVER (PARTITION BY g ORDER BY v, id), nth_value(id, 2) OVER (PARTITION BY g ORDER BY id) FROM w ORDER BY id",
        &[
            "1|1|1|NULL",
            "2|1|2|2",
            "3|1|3|2",
            "4|5|4|NULL",
            "5|5|5|5",
            "6|6|6|NULL",
            "7|1|7|2",
            "8|8|8|NULL",
        ],
    ),
    (
        "SELECT id, last_value(v) OVER (ORDER BY v), last_value(id) OVER (ORDER BY v, id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING), nth_value(id, 3) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING), min(id) OVER (ORDER BY v) FROM w ORDER BY id",
        &[
            "1|10|7|NULL|1",
            "2|20|7|3|1",
            "3|20|7|4|1",
            "4|NULL|7|5|1",
            "5|5|7|6|5",
            "6|7|7|7|5",
            "7|NULL|7|8|1",
            "8|1|7|NULL|8",
        ],
    ),
    (
        "SELECT id, sum(v) OVER (ORDER BY id), count(*) OVER (ORDER BY v), count(v) OVER (), avg(v) OVER (PARTITION BY g), min(v) OVER (ORDER BY id DESC), max(f) OVER (PARTITION BY g ORDER BY id) FROM w ORDER BY id",
        &[
            "1|10|4|6|16.6666666666666667|1|1.5",
            "2|30|6|6|16.6666666666666667|1|2.5",
            "3|50|6|6|16.6666666666666667|1|2.5",
            "4|50|8|6|5.0000000000000000|1|4",
            "5|55|2|6|5.0000000000000000|1|5",
            "6|62|3|6|7.0000000000000000|1|6",
            "7|62|8|6|16.6666666666666667|1|7",
            "8|63|1|6|1.00000000000000000000|1|8",
        ],
    ),
    (
        "SELECT id, string_agg(g, ',') OVER (ORDER BY id), array_agg(v) OVER (PARTITION BY g ORDER BY id), bool_and(v > 5) OVER (ORDER BY id), bool_or(v > 15) OVER (ORDER BY id) FROM w ORDER BY id",
        &[
            "1|a|{10}|t|f",
            "2|a,a|{10,20}|t|t",
            "3|a,a,a|{10,20,20}|t|t",
            "4|a,a,a,b|{NULL}|t|t",
            "5|a,a,a,b,b|{NULL,5}|f|t",
            "6|a,a,a,b,b|{7}|f|t",
            "7|a,a,a,b,b,a|{10,20,20,NULL}|f|t",
            "8|a,a,a,b,b,a,c|{1}|f|t",
        ],
    ),
    (
        "SELECT id, sum(v) FILTER (WHERE v > 5) OVER (ORDER BY id), count(*) FILTER (WHERE g = 'a') OVER (PARTITION BY g) FROM w ORDER BY id",
        &[
            "1|10|4", "2|30|4", "3|50|4", "4|50|0", "5|50|0", "6|57|0", "7|57|4", "8|57|0",
        ],
    ),
    (
        "SELECT id, sum(v) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING), sum(v) OVER (ORDER BY id ROWS 2 PRECEDING), sum(v) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING), sum(v) OVER (ORDER BY id ROWS BETWEEN 2 FOLLOWING AND 3 FOLLOWING), sum(v) OVER (ORDER BY id ROWS BETWEEN 3 PRECEDING AND 2 PRECEDING) FROM w ORDER BY id",
        &[
            "1|30|10|63|20|NULL",
            "2|50|30|53|5|NULL",
            "3|40|50|33|12|10",
            "4|25|40|13|7|30",
            "5|12|25|13|1|40",
            "6|12|12|8|1|20",
            "7|8|12|1|NULL|5",
            "8|1|8|1|NULL|12",
        ],
    ),
    (
        "SELECT id, v, sum(id) OVER (ORDER BY v RANGE BETWEEN 5 PRECEDING AND 5 FOLLOWING), count(*) OVER (ORDER BY v DESC RANGE BETWEEN CURRENT ROW AND 10 FOLLOWING), sum(id) OVER (ORDER BY v RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), sum(id) OVER (ORDER BY v NULLS FIRST RANGE BETWEEN 3 PRECEDING AND CURRENT ROW) FROM w ORDER BY id",
        &[
            "1|10|12|4|20|7",
            "2|20|5|3|25|5",
            "3|20|5|3|25|5",
            "4|NULL|11|2|36|11",
            "5|5|20|2|13|5",
            "6|7|12|3|19|11",
            "7|NULL|11|2|36|11",
            "8|1|13|1|8|8",
        ],
    ),
    (
        "SELECT id, f, sum(id) OVER (ORDER BY f RANGE BETWEEN 1.5 PRECEDING AND 0.5 FOLLOWING) FROM w ORDER BY id",
        &[
            "1|1.5|1", "2|2.5|3", "3|NULL|3", "4|4|6", "5|5|9", "6|6|11", "7|7|13", "8|8|15",
        ],
    ),
    (
        "SELECT id, v, count(*) OVER (ORDER BY v GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW), sum(id) OVER (ORDER BY v GROUPS BETWEEN CURRENT ROW AND 1 FOLLOWING), sum(id) OVER (ORDER BY v RANGE CURRENT ROW) FROM w ORDER BY id",
        &[
            "1|10|2|6|1",
            "2|20|3|16|5",
            "3|20|3|16|5",
            "4|NULL|4|11|11",
            "5|5|2|11|5",
            "6|7|2|7|6",
            "7|NULL|4|11|11",
            "8|1|1|13|8",
        ],
    ),
    (
        "SELECT id, sum(v) OVER w, row_number() OVER w, count(*) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM w WINDOW w AS (PARTITION BY g ORDER BY id) ORDER BY id",
        &[
            "1|10|1|4",
            "2|30|2|4",
            "3|50|3|4",
            "4|NULL|1|2",
            "5|5|2|2",
            "6|7|1|1",
            "7|50|4|4",
            "8|1|1|1",
        ],
    ),
    (
        "SELECT id, sum(v) OVER (p ORDER BY id DESC) FROM w WINDOW p AS (PARTITION BY g) ORDER BY id",
        &["1|50", "2|40", "3|20", "4|5", "5|5", "6|7", "7|NULL", "8|1"],
    ),
    (
        "SELECT g, sum(v), sum(sum(v)) OVER (), rank() OVER (ORDER BY sum(v) DESC), count(*) * 100 / sum(count(*)) OVER () FROM w GROUP BY g ORDER BY g",
        &[
            "a|50|63|1|50.0000000000000000",
            "b|5|63|3|25.0000000000000000",
            "c|1|63|4|12.5000000000000000",
            "NULL|7|63|2|12.5000000000000000",
        ],
    ),
    (
        "SELECT g, count(*) OVER () FROM w GROUP BY g HAVING count(*) > 1 ORDER BY g",
        &["a|2", "b|2"],
    ),
    (
        "SELECT id, row_number() OVER (ORDER BY v DESC, id) AS rn FROM w ORDER BY rn",
        &["4|1", "7|2", "2|3", "3|4", "1|5", "6|6", "5|7", "8|8"],
    ),
    (
        "SELECT id FROM w ORDER BY row_number() OVER (ORDER BY f DESC NULLS LAST) LIMIT 3",
        &["8", "7", "6"],
    ),
    (
        "SELECT id, rank() OVER (ORDER BY v) + 100, sum(v) OVER () - v FROM w WHERE id < 4 ORDER BY id",
        &["1|101|40", "2|102|30", "3|102|30"],
    ),
    (
        "SELECT DISTINCT count(*) OVER (PARTITION BY g) FROM w ORDER BY 1",
        &["1", "2", "4"],
    ),
    ("SELECT id, row_number() OVER () FROM w WHERE false", &[]),
    (
        "SELECT count(*) OVER (), sum(v) OVER () FROM w WHERE id > 100",
        &[],
    ),
    (
        "SELECT x, sum(x) OVER (ORDER BY x) FROM (VALUES (1), (2), (2), (3)) t(x) ORDER BY x",
        &["1|1", "2|5", "2|5", "3|8"],
    ),
    (
        "SELECT id, (SELECT max(v) FROM w w2 WHERE w2.g = w.g), rank() OVER (ORDER BY (SELECT max(v) FROM w w2 WHERE w2.g = w.g)) FROM w ORDER BY id",
        &[
            "1|20|4", "2|20|4", "3|20|4", "4|5|2", "5|5|2", "6|NULL|8", "7|20|4", "8|1|1",
        ],
    ),
    (
        "SELECT id FROM w WHERE row_number() OVER () > 1",
        &["ERROR 42P20"],
    ),
    (
        "SELECT g FROM w GROUP BY row_number() OVER ()",
        &["ERROR 42P20"],
    ),
    (
        "SELECT g FROM w GROUP BY g HAVING rank() OVER () > 1",
        &["ERROR 42P20"],
    ),
    (
        "SELECT 1 FROM w a JOIN w b ON row_number() OVER () > 1",
        &["ERROR 42P20"],
    ),
    ("SELECT sum(row_number() OVER ()) FROM w", &["ERROR 42803"]),
    (
        "SELECT row_number() OVER (PARTITION BY rank() OVER ()) FROM w",
        &["ERROR 42P20"],
    ),
    (
        "SELECT sum(rank() OVER ()) OVER () FROM w",
        &["ERROR 42P20"],
    ),
    ("SELECT upper(g) OVER () FROM w", &["ERROR 42809"]),
    (
        "SELECT rank() FILTER (WHERE true) OVER () FROM w",
        &["ERROR 0A000"],
    ),
    ("SELECT sum(DISTINCT v) OVER () FROM w", &["ERROR 0A000"]),
    ("SELECT sum(v) OVER nosuch FROM w", &["ERROR 42704"]),
    (
        "SELECT sum(v) OVER (w ORDER BY id) FROM w WINDOW w AS (ORDER BY v)",
        &["ERROR 42P20"],
    ),
    (
        "SELECT sum(v) OVER (w PARTITION BY id) FROM w WINDOW w AS (ORDER BY v)",
        &["ERROR 42P20"],
    ),
    (
        "SELECT sum(v) OVER (w) FROM w WINDOW w AS (ORDER BY v ROWS 1 PRECEDING)",
        &["ERROR 42P20"],
    ),
    ("SELECT 1 FROM w WINDOW x AS (), x AS ()", &["ERROR 42P20"]),
    (
        "SELECT sum(v) OVER (ROWS BETWEEN UNBOUNDED FOLLOWING AND CURRENT ROW) FROM w",
        &["ERROR 42P20"],
    ),
    (
        "SELECT sum(v) OVER (ROWS BETWEEN CURRENT ROW AND UNBOUNDED PRECEDING) FROM w",
        &["ERROR 42P20"],
    ),
    (
        "SELECT sum(v) OVER (ROWS BETWEEN CURRENT ROW AND 1 PRECEDING) FROM w",
        &["ERROR 42P20"],
    ),
    (
        "SELECT sum(v) OVER (ROWS BETWEEN 1 FOLLOWING AND CURRENT ROW) FROM w",
        &["ERROR 42P20"],
    ),
    (
        "SELECT sum(v) OVER (ROWS BETWEEN -1 PRECEDING AND CURRENT ROW) FROM w",
        &["ERROR 22013"],
    ),
    (
        "SELECT sum(v) OVER (ROWS BETWEEN NULL PRECEDING AND CURRENT ROW) FROM w",
        &["ERROR 22004"],
    ),
    (
        "SELECT sum(v) OVER (ROWS BETWEEN id PRECEDING AND CURRENT ROW) FROM w",
        &["ERROR 42P10"],
    ),
    (
        "SELECT sum(v) OVER (ORDER BY g RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) FROM w",
        &["ERROR 0A000"],
    ),
    (
        "SELECT sum(v) OVER (ORDER BY id, v RANGE BETWEEN 1 PRECEDING AND CURRENT ROW) FROM w",
        &["ERROR 42P20"],
    ),
    (
        "SELECT sum(v) OVER (ORDER BY v RANGE BETWEEN -1 PRECEDING AND CURRENT ROW) FROM w",
        &["ERROR 22013"],
    ),
    (
        "SELECT sum(v) OVER (ORDER BY v RANGE BETWEEN 1.5 PRECEDING AND CURRENT ROW) FROM w",
        &["ERROR 0A000"],
    ),
    ("SELECT ntile(0) OVER () FROM w", &["ERROR 22014"]),
    ("SELECT nth_value(v, 0) OVER () FROM w", &["ERROR 22016"]),
    ("SELECT row_number(1) OVER () FROM w", &["ERROR 42883"]),
    ("SELECT lag(g, 1, 5) OVER () FROM w", &["ERROR 42883"]),
    ("UPDATE w SET v = row_number() OVER ()", &["ERROR 42P20"]),
    (
        "INSERT INTO w VALUES (row_number() OVER (), 'x')",
        &["ERROR 42P20"],
    ),
    (
        "SELECT DISTINCT ON (g) g, id, v FROM w ORDER BY g, v DESC NULLS LAST, id",
        &["a|2|20", "b|5|5", "c|8|1", "NULL|6|7"],
    ),
    (
        "SELECT DISTINCT ON (g) g, id FROM w ORDER BY g, id DESC",
        &["a|7", "b|5", "c|8", "NULL|6"],
    ),
    (
        "SELECT DISTINCT ON (1) g, id FROM w ORDER BY 1, 2",
        &["a|1", "b|4", "c|8", "NULL|6"],
    ),
    (
        "SELECT DISTINCT ON (g, v > 5) g, v > 5, id FROM w ORDER BY v > 5, g, id",
        &[
            "b|f|5", "c|f|8", "a|t|1", "NULL|t|6", "a|NULL|7", "b|NULL|4",
        ],
    ),
    (
        "SELECT DISTINCT ON (g) g, id FROM w ORDER BY id",
        &["ERROR 42P10"],
    ),
    (
        "SELECT DISTINCT ON (g) g, id FROM w ORDER BY id, g",
        &["ERROR 42P10"],
    ),
    (
        "SELECT count(*) FROM (SELECT DISTINCT ON (g) g FROM w) s",
        &["4"],
    ),
    (
        "SELECT DISTINCT ON (g) g, count(*) FROM w GROUP BY g, v ORDER BY g, count(*) DESC",
        &["a|2", "b|1", "c|1", "NULL|1"],
    ),
    (
        "SELECT DISTINCT ON (g) g, id FROM w ORDER BY g, id LIMIT 2 OFFSET 1",
        &["b|4", "c|8"],
    ),
    (
        "SELECT id, lag(v, 1, 0.5) OVER (ORDER BY id), lead(f, 1, 0) OVER (ORDER BY id) FROM w ORDER BY id",
        &[
            "1|0.5|2.5",
            "2|10|NULL",
            "3|20|4",
            "4|20|5",
            "5|NULL|6",
            "6|5|7",
            "7|7|8",
            "8|NULL|0",
        ],
    ),
    (
        "SELECT s.g, s.r FROM (SELECT g, rank() OVER (PARTITION BY g ORDER BY v DESC NULLS LAST, id) AS r FROM w) s WHERE s.r = 1 ORDER BY s.g",
        &["a|1", "b|1", "c|1", "NULL|1"],
    ),
    (
        "WITH t AS (SELECT id, sum(v) OVER (ORDER BY id) AS run FROM w) SELECT max(run) FROM t",
        &["63"],
    ),
    (
        "SELECT id, (SELECT count(*) OVER () FROM w w2 WHERE w2.id = w.id) FROM w ORDER BY id LIMIT 3",
        &["1|1", "2|1", "3|1"],
    ),
    (
        "SELECT g, max(v) AS m, row_number() OVER (ORDER BY max(v) DESC NULLS LAST) FROM w GROUP BY g ORDER BY 3",
        &["a|20|1", "NULL|7|2", "b|5|3", "c|1|4"],
    ),
    (
        "SELECT id, count(*) OVER (ORDER BY id ROWS BETWEEN CURRENT ROW AND CURRENT ROW), count(*) OVER (ORDER BY id ROWS BETWEEN 5 FOLLOWING AND 10 FOLLOWING), first_value(id) OVER (ORDER BY id ROWS BETWEEN 2 FOLLOWING AND UNBOUNDED FOLLOWING) FROM w ORDER BY id",
        &[
            "1|1|3|3",
            "2|1|2|4",
            "3|1|1|5",
            "4|1|0|6",
            "5|1|0|7",
            "6|1|0|8",
            "7|1|0|NULL",
            "8|1|0|NULL",
        ],
    ),
    (
        "SELECT n, sum(n) OVER (ORDER BY n RANGE BETWEEN 2 PRECEDING AND 2 FOLLOWING), avg(n) OVER (ORDER BY n DESC RANGE BETWEEN 1 PRECEDING AND 3 FOLLOWING) FROM generate_series(1, 6) n ORDER BY n",
        &[
            "1|6|1.5000000000000000",
            "2|10|2.0000000000000000",
            "3|15|2.5000000000000000",
            "4|20|3.0000000000000000",
            "5|18|4.0000000000000000",
            "6|15|4.5000000000000000",
        ],
    ),
    (
        "SELECT count(*), max(s) FROM (SELECT sum(n) OVER (ORDER BY n) AS s FROM generate_series(1, 100000) n) x",
        &["100000|5000050000"],
    ),
    (
        "SELECT count(*), max(s) FROM (SELECT count(*) OVER (PARTITION BY n % 7 ORDER BY n ROWS BETWEEN 3 PRECEDING AND 3 FOLLOWING) AS s FROM generate_series(1, 100000) n) x",
        &["100000|7"],
    ),
    (
        "SELECT id, ntile(3) OVER (ORDER BY id DESC), percent_rank() OVER (ORDER BY id) FROM w WHERE id <= 1 ORDER BY id",
        &["1|1|0"],
    ),
    (
        "SELECT id, array_agg(id) OVER (ORDER BY id GROUPS BETWEEN 1 PRECEDING AND 1 FOLLOWING) FROM w ORDER BY id",
        &[
            "1|{1,2}",
            "2|{1,2,3}",
            "3|{2,3,4}",
            "4|{3,4,5}",
            "5|{4,5,6}",
            "6|{5,6,7}",
            "7|{6,7,8}",
            "8|{7,8}",
        ],
    ),
    (
        "SELECT id, string_agg(g, '') OVER (PARTITION BY v IS NULL ORDER BY id DESC) FROM w ORDER BY id",
        &[
            "1|cbaaa", "2|cbaa", "3|cba", "4|ab", "5|cb", "6|c", "7|a", "8|c",
        ],
    ),
    (
        "SELECT DISTINCT ON (v IS NULL) id, v FROM w ORDER BY v IS NULL, id DESC",
        &["8|1", "7|NULL"],
    ),
    (
        "SELECT sum(v) OVER (ORDER BY f RANGE BETWEEN '1.5' PRECEDING AND CURRENT ROW) FROM w ORDER BY id",
        &["10", "30", "20", "20", "5", "12", "7", "1"],
    ),
    (
        "SELECT row_number() OVER (ORDER BY id) FROM w GROUP BY g",
        &["ERROR 42803"],
    ),
    (
        "SELECT id, row_number() OVER () FROM w FOR UPDATE",
        &["ERROR 0A000"],
    ),
    (
        "SELECT DISTINCT ON (g) id FROM w FOR UPDATE",
        &["ERROR 0A000"],
    ),
    // RIGHT and FULL joins.
    ("INSERT INTO dept VALUES (4, 'hr')", &[]),
    (
        "SELECT e.name, d.name FROM emp e RIGHT JOIN dept d ON e.dept = d.id ORDER BY d.id, e.name",
        &[
            "ada|eng",
            "bob|eng",
            "cy|ops",
            "di|ops",
            "ed|ops",
            "gus|sales",
            "NULL|hr",
        ],
    ),
    (
        "SELECT e.name, d.name FROM emp e FULL JOIN dept d ON e.dept = d.id ORDER BY d.id, e.name",
        &[
            "ada|eng",
            "bob|eng",
            "cy|ops",
            "di|ops",
            "ed|ops",
            "gus|sales",
            "NULL|hr",
            "flo|NULL",
        ],
    ),
    (
        "SELECT e.name, d.name FROM emp e FULL OUTER JOIN dept d ON e.dept = d.id AND e.salary > 100 ORDER BY d.id, e.name",
        &[
            "ada|eng",
            "bob|eng",
            "cy|ops",
            "NULL|sales",
            "NULL|hr",
            "di|NULL",
            "ed|NULL",
            "flo|NULL",
            "gus|NULL",
        ],
    ),
    (
        "SELECT e.name, d.name FROM emp e FULL JOIN dept d ON e.dept = d.id WHERE e.name IS NULL OR d.name IS NULL ORDER BY d.id, e.name",
        &["NULL|hr", "flo|NULL"],
    ),
    (
        "SELECT e.name, d.name FROM emp e RIGHT OUTER JOIN dept d ON e.dept = d.id WHERE d.id > 1 ORDER BY d.id, e.name",
        &["cy|ops", "di|ops", "ed|ops", "gus|sales", "NULL|hr"],
    ),
    (
        "SELECT count(*), count(e.id), count(d.id) FROM emp e FULL JOIN dept d ON e.dept = d.id",
        &["8|7|7"],
    ),
    (
        "SELECT e.name, b.name, d.name FROM emp e JOIN emp b ON e.boss = b.id RIGHT JOIN dept d ON b.dept = d.id ORDER BY d.id, e.name",
        &[
            "bob|ada|eng",
            "cy|ada|eng",
            "gus|bob|eng",
            "di|cy|ops",
            "ed|cy|ops",
            "flo|di|ops",
            "NULL|NULL|sales",
            "NULL|NULL|hr",
        ],
    ),
    (
        "SELECT e.name, b.name, d.name FROM emp e LEFT JOIN emp b ON e.boss = b.id FULL JOIN dept d ON e.dept = d.id ORDER BY d.id, e.name",
        &[
            "ada|NULL|eng",
            "bob|ada|eng",
            "cy|ada|ops",
            "di|cy|ops",
            "ed|cy|ops",
            "gus|bob|sales",
            "NULL|NULL|hr",
            "flo|di|NULL",
        ],
    ),
    (
        "SELECT a.x, b.y FROM (VALUES (1), (2), (NULL)) a(x) FULL JOIN (VALUES (2), (3), (NULL)) b(y) ON a.x = b.y ORDER BY a.x, b.y",
        &["1|NULL", "2|2", "NULL|3", "NULL|NULL", "NULL|NULL"],
    ),
    (
        "SELECT a.x, b.y FROM (VALUES (1), (2)) a(x) FULL JOIN (VALUES (2), (3)) b(y) ON true ORDER BY a.x, b.y",
        &["1|2", "1|3", "2|2", "2|3"],
    ),
    (
        "SELECT a.x, b.y FROM (VALUES (1), (2)) a(x) RIGHT JOIN (VALUES (2), (3)) b(y) ON a.x < b.y ORDER BY a.x, b.y",
        &["1|2", "1|3", "2|3"],
    ),
    (
        "SELECT d.name, count(e.id) FROM emp e RIGHT JOIN dept d ON e.dept = d.id GROUP BY d.name ORDER BY d.name",
        &["eng|2", "hr|0", "ops|3", "sales|1"],
    ),
    // UPDATE … FROM and DELETE … USING.
    (
        "CREATE TABLE acct (id int PRIMARY KEY, owner text, bal int)",
        &[],
    ),
    (
        "INSERT INTO acct VALUES (1, 'ada', 100), (2, 'bob', 50), (3, 'cy', 0), (4, 'di', NULL)",
        &[],
    ),
    ("CREATE TABLE pay (acct int, amount int, note text)", &[]),
    (
        "INSERT INTO pay VALUES (1, 10, 'a'), (2, 5, 'b'), (2, 7, 'c'), (9, 1, 'x')",
        &[],
    ),
    (
        "UPDATE acct SET bal = bal + p.amount FROM pay p WHERE p.acct = acct.id AND p.acct = 1 RETURNING acct.id, bal, p.note",
        &["1|110|a"],
    ),
    (
        "UPDATE acct a SET bal = a.bal - p.amount FROM pay p WHERE p.acct = a.id AND p.note = 'c' RETURNING *",
        &["2|bob|43|2|7|c"],
    ),
    (
        "UPDATE acct SET owner = owner || '!' FROM pay WHERE pay.acct = acct.id AND pay.amount > 100",
        &[],
    ),
    (
        "UPDATE acct SET bal = 0 FROM (SELECT acct, sum(amount) AS s FROM pay GROUP BY acct) t WHERE t.acct = acct.id AND t.s > 10 RETURNING acct.id, t.s",
        &["2|12"],
    ),
    (
        "SELECT * FROM acct ORDER BY id",
        &["1|ada|110", "2|bob|0", "3|cy|0", "4|di|NULL"],
    ),
    ("UPDATE acct SET bal = -1 FROM pay WHERE acct.id = 3", &[]),
    (
        "SELECT * FROM acct ORDER BY id",
        &["1|ada|110", "2|bob|0", "3|cy|-1", "4|di|NULL"],
    ),
    (
        "UPDATE acct SET bal = -2 FROM pay WHERE acct.id = 4 AND pay.acct = 77",
        &[],
    ),
    (
        "UPDATE acct SET bal = 1 FROM acct WHERE acct.id = 1",
        &["ERROR 42712"],
    ),
    (
        "UPDATE acct SET bal = amount FROM pay WHERE pay.acct = acct.id AND id = 1 RETURNING id, bal, amount",
        &["1|10|10"],
    ),
    (
        "DELETE FROM acct USING pay WHERE pay.acct = acct.id AND pay.note = 'b' RETURNING acct.*, pay.note",
        &["2|bob|0|b"],
    ),
    (
        "SELECT * FROM acct ORDER BY id",
        &["1|ada|10", "3|cy|-1", "4|di|NULL"],
    ),
    (
        "DELETE FROM acct a USING pay p, (VALUES (1)) v(k) WHERE p.acct = a.id AND v.k = a.id RETURNING a.id, p.amount, v.k",
        &["1|10|1"],
    ),
    ("DELETE FROM acct USING pay WHERE pay.acct = acct.id", &[]),
    ("SELECT * FROM acct ORDER BY id", &["3|cy|-1", "4|di|NULL"]),
    (
        "DELETE FROM acct USING pay WHERE acct.id = 3 AND false",
        &[],
    ),
    ("SELECT count(*) FROM acct", &["2"]),
    // JOIN … USING and NATURAL joins.
    ("CREATE TABLE ua (k int, x text, c int)", &[]),
    ("CREATE TABLE ub (c int, y text, k int)", &[]),
    (
        "INSERT INTO ua VALUES (1, 'a1', 10), (2, 'a2', 20), (3, 'a3', NULL)",
        &[],
    ),
    (
        "INSERT INTO ub VALUES (10, 'b1', 1), (20, 'b2', 9), (30, 'b3', 3)",
        &[],
    ),
    (
        "SELECT * FROM ua JOIN ub USING (c) ORDER BY c",
        &["10|1|a1|b1|1", "20|2|a2|b2|9"],
    ),
    (
        "SELECT c, ua.c, ub.c, x, y FROM ua LEFT JOIN ub USING (c) ORDER BY x",
        &["10|10|10|a1|b1", "20|20|20|a2|b2", "NULL|NULL|NULL|a3|NULL"],
    ),
    (
        "SELECT * FROM ua RIGHT JOIN ub USING (c) ORDER BY c",
        &["10|1|a1|b1|1", "20|2|a2|b2|9", "30|NULL|NULL|b3|3"],
    ),
    (
        "SELECT c, k FROM ua RIGHT JOIN ub USING (c) ORDER BY c",
        &["ERROR 42702"],
    ),
    (
        "SELECT * FROM ua NATURAL JOIN ub ORDER BY k",
        &["1|10|a1|b1"],
    ),
    (
        "SELECT * FROM ua NATURAL LEFT JOIN ub ORDER BY k",
        &["1|10|a1|b1", "2|20|a2|NULL", "3|NULL|a3|NULL"],
    ),
    ("SELECT * FROM ua JOIN ub USING (c, k)", &["10|1|a1|b1"]),
    (
        "SELECT ua.*, ub.* FROM ua JOIN ub USING (c) ORDER BY ua.c",
        &["1|a1|10|10|b1|1", "2|a2|20|20|b2|9"],
    ),
    (
        "SELECT * FROM ua JOIN ub USING (c) JOIN ua AS u2 USING (x) ORDER BY 1, 2",
        &["a1|10|1|b1|1|1|10", "a2|20|2|b2|9|2|20"],
    ),
    ("SELECT * FROM ua JOIN ub USING (nosuch)", &["ERROR 42703"]),
    ("SELECT * FROM ua JOIN ub USING (c, c)", &["ERROR 42701"]),
    ("SELECT k FROM ua JOIN ub USING (c)", &["ERROR 42702"]),
    ("SELECT count(*) FROM ua NATURAL JOIN dept", &["12"]),
    (
        "SELECT x, c FROM ua JOIN ub USING (c) WHERE c > 10",
        &["a2|20"],
    ),
    (
        "SELECT c, count(*) FROM ua LEFT JOIN ub USING (c) GROUP BY c ORDER BY c",
        &["10|1", "20|1", "NULL|1"],
    ),
    (
        "SELECT * FROM ua AS p NATURAL JOIN ua AS q ORDER BY k",
        &["1|a1|10", "2|a2|20"],
    ),
    // EXPLAIN (COSTS OFF): the plans Borealis runs, in PostgreSQL 15's text layout. Unless a
    // comment says otherwise, PostgreSQL 15 prints the same lines (with enable_hashjoin,
    // enable_mergejoin and enable_bitmapscan off, so that it picks the same strategy).
    (
        "EXPLAIN (COSTS OFF) SELECT * FROM emp WHERE salary > 100",
        &["Seq Scan on emp", "  Filter: (salary > 100)"],
    ),
    (
        "EXPLAIN (COSTS OFF) SELECT name FROM emp WHERE id = 3",
        &["Index Scan using emp_pkey on emp", "  Index Cond: (id = 3)"],
    ),
    (
        "EXPLAIN (COSTS OFF) SELECT * FROM emp WHERE dept >= 2 AND dept < 3",
        &[
            "Index Scan using emp_dept on emp",
            "  Index Cond: ((dept >= 2) AND (dept < 3))",
        ],
    ),
    (
        "EXPLAIN (COSTS OFF) SELECT * FROM emp WHERE dept = 2 AND salary > 80",
        &[
            "Index Scan using emp_dept on emp",
            "  Index Cond: (dept = 2)",
            "  Filter: (salary > 80)",
        ],
    ),
    (
        "EXPLAIN (COSTS OFF) SELECT e.name, d.name FROM emp e JOIN dept d ON d.id = e.dept WHERE e.id = 2",
        &[
            "Nested Loop",
            "  ->  Index Scan using emp_pkey on emp e",
            "        Index Cond: (id = 2)",
            "  ->  Index Scan using dept_pkey on dept d",
            "        Index Cond: (id = e.dept)",
        ],
    ),
    (
        "EXPLAIN (COSTS OFF) SELECT * FROM emp e JOIN emp b ON b.id = e.boss WHERE e.salary < 100",
        &[
            "Nested Loop",
            "  ->  Seq Scan on emp e",
            "        Filter: (salary < 100)",
            "  ->  Index Scan using emp_pkey on emp b",
            "        Index Cond: (id = e.boss)",
        ],
    ),
    // Differs from PostgreSQL 15: Borealis checks the ON condition on the emp side after the probe (a Join Filter); PostgreSQL pushes it into the inner scan.
    (
        "EXPLAIN (COSTS OFF) SELECT d.name, e.name FROM dept d LEFT JOIN emp e ON e.dept = d.id AND e.salary > 100",
        &[
            "Nested Loop Left Join",
            "  Join Filter: (e.salary > 100)",
            "  ->  Seq Scan on dept d",
            "  ->  Index Scan using emp_dept on emp e",
            "        Index Cond: (dept = d.id)",
        ],
    ),
    (
        "EXPLAIN (COSTS OFF) SELECT name, salary FROM emp ORDER BY salary DESC LIMIT 3",
        &[
            "Limit",
            "  ->  Sort",
            "        Sort Key: salary DESC",
            "        ->  Seq Scan on emp",
        ],
    ),
    (
        "EXPLAIN (COSTS OFF) SELECT dept, count(*), sum(salary) FROM emp GROUP BY dept HAVING count(*) > 1 ORDER BY dept",
        &[
            "Sort",
            "  Sort Key: dept",
            "  ->  HashAggregate",
            "        Group Key: dept",
            "        Filter: (count(*) > 1)",
            "        ->  Seq Scan on emp",
        ],
    ),
    (
        "EXPLAIN (COSTS OFF) SELECT dept, count(*) FROM emp GROUP BY dept ORDER BY count(*) DESC",
        &[
            "Sort",
            "  Sort Key: (count(*)) DESC",
            "  ->  HashAggregate",
            "        Group Key: dept",
            "        ->  Seq Scan on emp",
        ],
    ),
    (
        "EXPLAIN (COSTS OFF) SELECT count(*) FROM emp",
        &["Aggregate", "  ->  Seq Scan on emp"],
    ),
    (
        "EXPLAIN (COSTS OFF) SELECT name, rank() OVER (ORDER BY salary) FROM emp",
        &[
            "WindowAgg",
            "  ->  Sort",
            "        Sort Key: salary",
            "        ->  Seq Scan on emp",
        ],
    ),
    (
        "EXPLAIN (COSTS OFF) SELECT name, row_number() OVER (PARTITION BY id % 3 ORDER BY salary DESC) FROM emp",
        &[
            "WindowAgg",
            "  ->  Sort",
            "        Sort Key: ((id % 3)), salary DESC",
            "        ->  Seq Scan on emp",
        ],
    ),
    (
        "EXPLAIN (COSTS OFF) SELECT id FROM emp UNION ALL SELECT id FROM dept",
        &["Append", "  ->  Seq Scan on emp", "  ->  Seq Scan on dept"],
    ),
    (
        "EXPLAIN (COSTS OFF) SELECT id FROM emp UNION SELECT id FROM dept",
        &[
            "HashAggregate",
            "  Group Key: emp.id",
            "  ->  Append",
            "        ->  Seq Scan on emp",
            "        ->  Seq Scan on dept",
        ],
    ),
    // Differs from PostgreSQL 15: a CTE is bound in place and run as a subquery; PostgreSQL flattens it into the scan.
    (
        "EXPLAIN (COSTS OFF) WITH rich AS (SELECT * FROM emp WHERE salary > 100) SELECT name FROM rich",
        &[
            "Subquery Scan on rich",
            "  ->  Seq Scan on emp",
            "        Filter: (salary > 100)",
        ],
    ),
    (
        "EXPLAIN (COSTS OFF) VALUES (1, 'a'), (2, 'b')",
        &["Values Scan on \"*VALUES*\""],
    ),
    (
        "EXPLAIN (COSTS OFF) SELECT * FROM generate_series(1, 10) g WHERE g > 5",
        &["Function Scan on generate_series g", "  Filter: (g > 5)"],
    ),
    ("EXPLAIN (COSTS OFF) SELECT 1", &["Result"]),
    (
        "EXPLAIN (COSTS OFF) SELECT DISTINCT dept FROM emp",
        &[
            "HashAggregate",
            "  Group Key: dept",
            "  ->  Seq Scan on emp",
        ],
    ),
    (
        "EXPLAIN (COSTS OFF) SELECT * FROM emp WHERE name LIKE 'a%' OR salary IS NULL",
        &[
            "Seq Scan on emp",
            "  Filter: ((name ~~ 'a%'::text) OR (salary IS NULL))",
        ],
    ),
    (
        "EXPLAIN (COSTS OFF) SELECT * FROM emp WHERE id BETWEEN 2 AND 4",
        &[
            "Index Scan using emp_pkey on emp",
            "  Index Cond: ((id >= 2) AND (id <= 4))",
        ],
    ),
    (
        "EXPLAIN (COSTS OFF, VERBOSE) SELECT name FROM emp WHERE salary > 100",
        &[
            "Seq Scan on public.emp",
            "  Output: name",
            "  Filter: (emp.salary > 100)",
        ],
    ),
    (
        "EXPLAIN (COSTS OFF) SELECT * FROM emp e, dept d WHERE d.id = e.dept",
        &[
            "Nested Loop",
            "  ->  Seq Scan on emp e",
            "  ->  Index Scan using dept_pkey on dept d",
            "        Index Cond: (id = e.dept)",
        ],
    ),
    // Differs from PostgreSQL 15: PostgreSQL names the second reference `emp emp_1`.
    (
        "EXPLAIN (COSTS OFF) SELECT * FROM emp WHERE salary > (SELECT min(salary) FROM emp)",
        &[
            "Seq Scan on emp",
            "  Filter: (salary > $0)",
            "  InitPlan 1 (returns $0)",
            "    ->  Aggregate",
            "          ->  Seq Scan on emp",
        ],
    ),
    ("EXPLAIN (FORMAT JSON) SELECT 1", &["ERROR 0A000"]),
    ("EXPLAIN (COSTS OFF, FORMAT TEXT) SELECT 1", &["Result"]),
    ("EXPLAIN (TIMING) SELECT 1", &["ERROR 22023"]),
    ("EXPLAIN (BOGUS) SELECT 1", &["ERROR 42601"]),
    // EXPLAIN of INSERT, UPDATE and DELETE: the statement's node over the one that gives its
    // rows (plain EXPLAIN runs nothing: see `explain_analyze_of_dml_runs_it`).
    (
        "EXPLAIN (COSTS OFF) INSERT INTO dept VALUES (9, 'x'), (10, 'y')",
        &["Insert on dept", "  ->  Values Scan on \"*VALUES*\""],
    ),
    // One VALUES row is computed by a Result, as PostgreSQL plans it.
    (
        "EXPLAIN (COSTS OFF) INSERT INTO dept VALUES (9, 'x') RETURNING id",
        &["Insert on dept", "  ->  Result"],
    ),
    (
        "EXPLAIN (COSTS OFF) INSERT INTO nums SELECT id FROM emp WHERE salary > 100",
        &[
            "Insert on nums",
            "  ->  Seq Scan on emp",
            "        Filter: (salary > 100)",
        ],
    ),
    (
        "EXPLAIN (COSTS OFF) INSERT INTO dept VALUES (1, 'x') ON CONFLICT DO NOTHING",
        &[
            "Insert on dept",
            "  Conflict Resolution: NOTHING",
            "  ->  Result",
        ],
    ),
    (
        "EXPLAIN (COSTS OFF) INSERT INTO dept VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET name = excluded.name WHERE dept.name <> 'eng'",
        &[
            "Insert on dept",
            "  Conflict Resolution: UPDATE",
            "  Conflict Arbiter Indexes: dept_pkey",
            "  Conflict Filter: (dept.name <> 'eng'::text)",
            "  ->  Result",
        ],
    ),
    (
        "EXPLAIN (COSTS OFF, VERBOSE) INSERT INTO dept VALUES (1, 'x') RETURNING id, name",
        &[
            "Insert on public.dept",
            "  Output: dept.id, dept.name",
            "  ->  Result",
            "        Output: 1, 'x'::text",
        ],
    ),
    (
        "EXPLAIN (COSTS OFF) UPDATE emp SET salary = salary + 1 WHERE id = 3",
        &[
            "Update on emp",
            "  ->  Index Scan using emp_pkey on emp",
            "        Index Cond: (id = 3)",
        ],
    ),
    (
        "EXPLAIN (COSTS OFF) UPDATE emp SET salary = 0 WHERE name = 'ada'",
        &[
            "Update on emp",
            "  ->  Seq Scan on emp",
            "        Filter: (name = 'ada'::text)",
        ],
    ),
    (
        "EXPLAIN (COSTS OFF) UPDATE emp e SET salary = 0 WHERE e.dept = 2 AND e.salary > 80",
        &[
            "Update on emp e",
            "  ->  Index Scan using emp_dept on emp e",
            "        Index Cond: (dept = 2)",
            "        Filter: (salary > 80)",
        ],
    ),
    // A subquery in SET shows on the statement's node. PostgreSQL computes max(id) through the
    // primary key (an InitPlan over `Index Only Scan Backward`); Borealis aggregates a scan.
    (
        "EXPLAIN (COSTS OFF) UPDATE emp SET salary = (SELECT max(id) FROM dept) WHERE id = 1",
        &[
            "Update on emp",
            "  InitPlan 1 (returns $0)",
            "    ->  Aggregate",
            "          ->  Seq Scan on dept",
            "  ->  Index Scan using emp_pkey on emp",
            "        Index Cond: (id = 1)",
        ],
    ),
    // UPDATE … FROM runs the other relations once per target row: a nested loop, here probing
    // dept's primary key.
    (
        "EXPLAIN (COSTS OFF) UPDATE emp SET salary = d.id FROM dept d WHERE d.id = emp.dept",
        &[
            "Update on emp",
            "  ->  Nested Loop",
            "        ->  Seq Scan on emp",
            "        ->  Index Scan using dept_pkey on dept d",
            "              Index Cond: (id = emp.dept)",
        ],
    ),
    // Borealis reads whole rows where PostgreSQL's scan outputs the new values and the row's
    // ctid (`Output: 0, ctid`).
    (
        "EXPLAIN (COSTS OFF, VERBOSE) UPDATE emp SET salary = 0 WHERE id = 3 RETURNING id, salary",
        &[
            "Update on public.emp",
            "  Output: id, salary",
            "  ->  Index Scan using emp_pkey on public.emp",
            "        Output: id, name, dept, boss, salary",
            "        Index Cond: (emp.id = 3)",
        ],
    ),
    (
        "EXPLAIN (COSTS OFF) DELETE FROM emp WHERE id = 4",
        &[
            "Delete on emp",
            "  ->  Index Scan using emp_pkey on emp",
            "        Index Cond: (id = 4)",
        ],
    ),
    // PostgreSQL drives this join from dept (`Seq Scan on dept` with the filter, then `Index
    // Scan using emp_dept on emp`); Borealis always reads the target first.
    (
        "EXPLAIN (COSTS OFF) DELETE FROM emp USING dept WHERE dept.id = emp.dept AND dept.name = 'ops'",
        &[
            "Delete on emp",
            "  ->  Nested Loop",
            "        ->  Seq Scan on emp",
            "        ->  Index Scan using dept_pkey on dept",
            "              Index Cond: (id = emp.dept)",
            "              Filter: (name = 'ops'::text)",
        ],
    ),
    (
        "EXPLAIN (COSTS OFF) DELETE FROM nums",
        &["Delete on nums", "  ->  Seq Scan on nums"],
    ),
];

/// Statements run before [`WITH_CASES`].
const WITH_SETUP: &[&str] = &[
    "CREATE TABLE src (id int PRIMARY KEY, v int)",
    "CREATE TABLE dst (id int PRIMARY KEY, v int)",
    "CREATE TABLE note (id serial PRIMARY KEY, msg text)",
    "CREATE TABLE parent (id int PRIMARY KEY)",
    "CREATE TABLE child (id int PRIMARY KEY, p int REFERENCES parent ON DELETE CASCADE)",
    "INSERT INTO src VALUES (1, 10), (2, 20), (3, 30), (4, 40)",
    "INSERT INTO parent VALUES (1), (2)",
    "INSERT INTO child VALUES (10, 1), (20, 2)",
];

/// WITH before INSERT / UPDATE / DELETE, and data-modifying statements inside WITH: each runs
/// once, to completion, whether or not it is read; errors for misuse. In order, as [`CASES`].
const WITH_CASES: &[(&str, &[&str])] = &[
    (
        "WITH x AS (SELECT id, v * 2 AS w FROM src WHERE id <= 3) INSERT INTO dst SELECT id, w FROM x RETURNING *",
        &["1|20", "2|40", "3|60"],
    ),
    (
        "WITH x AS (SELECT id FROM src WHERE v > 10) UPDATE dst SET v = dst.v + 1 FROM x WHERE dst.id = x.id RETURNING dst.id, dst.v, x.id",
        &["2|41|2", "3|61|3"],
    ),
    (
        "WITH x AS (SELECT 1 AS id) DELETE FROM dst USING x WHERE dst.id = x.id RETURNING dst.*",
        &["1|20"],
    ),
    (
        "WITH x AS (SELECT 2 AS id) DELETE FROM dst WHERE id IN (SELECT id FROM x) RETURNING *",
        &["2|41"],
    ),
    (
        "WITH x AS (SELECT 5 AS id, 50 AS v) INSERT INTO dst VALUES ((SELECT id FROM x), (SELECT v FROM x)) RETURNING id",
        &["5"],
    ),
    (
        "WITH x AS (SELECT 1000 AS bonus) UPDATE src SET v = v + (SELECT bonus FROM x) WHERE id = 2 RETURNING v",
        &["1020"],
    ),
    (
        "WITH x AS (SELECT 7 AS id) UPDATE dst SET v = 0 WHERE id IN (SELECT id FROM x)",
        &[],
    ),
    (
        "WITH x AS (SELECT 3 AS id), y AS (SELECT id FROM x) SELECT * FROM dst WHERE id IN (SELECT id FROM y) ORDER BY id",
        &["3|61"],
    ),
    ("SELECT * FROM dst ORDER BY id", &["3|61", "5|50"]),
    (
        "WITH moved AS (DELETE FROM src WHERE id >= 3 RETURNING *) INSERT INTO dst SELECT id + 10, v FROM moved RETURNING *",
        &["13|30", "14|40"],
    ),
    ("SELECT * FROM src ORDER BY id", &["1|10", "2|1020"]),
    (
        "WITH ins AS (INSERT INTO note (msg) VALUES ('a'), ('b'), ('c') RETURNING id) SELECT count(*) FROM ins",
        &["3"],
    ),
    (
        "WITH u AS (UPDATE src SET v = v + 1 RETURNING id, v) SELECT * FROM u ORDER BY id",
        &["1|11", "2|1021"],
    ),
    (
        "WITH d AS (DELETE FROM dst WHERE id = 14 RETURNING id) SELECT 1",
        &["1"],
    ),
    ("SELECT count(*) FROM dst WHERE id = 14", &["0"]),
    (
        "WITH d AS (DELETE FROM dst WHERE id = 13 RETURNING *) SELECT id FROM d LIMIT 0",
        &[],
    ),
    ("SELECT count(*) FROM dst WHERE id = 13", &["0"]),
    (
        "WITH d AS (INSERT INTO note (msg) VALUES ('unread')) SELECT 2",
        &["2"],
    ),
    (
        "SELECT msg FROM note ORDER BY id",
        &["a", "b", "c", "unread"],
    ),
    (
        "WITH a AS (SELECT 100 AS k), i AS (INSERT INTO note (msg) SELECT 'k' || k FROM a RETURNING msg), j AS (INSERT INTO dst SELECT 20, length(msg) FROM i RETURNING *) SELECT * FROM j",
        &["20|4"],
    ),
    (
        "WITH d AS (DELETE FROM dst WHERE id = 20 RETURNING *) SELECT d.id, s.v FROM d, src s WHERE s.id = 1",
        &["20|11"],
    ),
    (
        "WITH d AS (DELETE FROM dst WHERE id = 3 RETURNING *) SELECT * FROM d, d AS d2",
        &["3|61|3|61"],
    ),
    (
        "WITH d(a, b) AS (UPDATE dst SET v = v + 1 WHERE id = 5 RETURNING id, v) SELECT b, a FROM d",
        &["51|5"],
    ),
    (
        "WITH d AS (DELETE FROM parent WHERE id = 1 RETURNING *) SELECT id FROM d",
        &["1"],
    ),
    ("SELECT * FROM child ORDER BY id", &["20|2"]),
    (
        "WITH d AS (DELETE FROM dst WHERE id = 99) SELECT * FROM d",
        &["ERROR 0A000"],
    ),
    (
        "SELECT * FROM (WITH d AS (DELETE FROM dst RETURNING *) SELECT * FROM d) s",
        &["ERROR 0A000"],
    ),
    (
        "SELECT (WITH d AS (DELETE FROM dst RETURNING *) SELECT count(*) FROM d)",
        &["ERROR 0A000"],
    ),
    (
        "INSERT INTO dst WITH d AS (DELETE FROM src RETURNING *) SELECT * FROM d",
        &["ERROR 0A000"],
    ),
    (
        "WITH x AS (WITH d AS (DELETE FROM dst RETURNING *) SELECT * FROM d) SELECT * FROM x",
        &["ERROR 0A000"],
    ),
    (
        "WITH RECURSIVE r AS (DELETE FROM dst WHERE id IN (SELECT id FROM r) RETURNING *) SELECT * FROM r",
        &["ERROR 42P19"],
    ),
    (
        "WITH RECURSIVE dst AS (DELETE FROM dst WHERE id = 999 RETURNING *) SELECT count(*) FROM dst",
        &["ERROR 42P19"],
    ),
    (
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3), d AS (DELETE FROM dst WHERE id = 100 RETURNING *) SELECT * FROM r",
        &["1", "2", "3"],
    ),
    (
        "WITH d AS (DELETE FROM dst RETURNING *), d AS (SELECT 1) SELECT 1",
        &["ERROR 42712"],
    ),
    (
        "WITH d(a, b, c) AS (DELETE FROM dst RETURNING id) SELECT * FROM d",
        &["ERROR 42P10"],
    ),
    ("SELECT count(*) FROM dst", &["1"]),
    (
        "BEGIN READ ONLY; WITH d AS (DELETE FROM dst RETURNING *) SELECT * FROM d",
        &["ERROR 25006"],
    ),
    ("ROLLBACK", &[]),
    (
        "BEGIN READ ONLY; WITH x AS (SELECT 1) DELETE FROM dst",
        &["ERROR 25006"],
    ),
    ("ROLLBACK", &[]),
    ("INSERT INTO dst VALUES (40, 4), (41, 41), (42, 42)", &[]),
    (
        "WITH d AS (WITH x AS (SELECT 40 AS id) DELETE FROM dst WHERE id IN (SELECT id FROM x) RETURNING *) SELECT * FROM d",
        &["40|4"],
    ),
    (
        "WITH d AS (WITH x AS (DELETE FROM dst WHERE id = 41 RETURNING id) DELETE FROM dst WHERE id IN (SELECT id FROM x) RETURNING *) SELECT * FROM d",
        &["ERROR 0A000"],
    ),
    (
        "WITH x AS (SELECT 3 AS id), d AS (WITH x AS (SELECT 42 AS id) DELETE FROM dst WHERE id IN (SELECT id FROM x) RETURNING *) SELECT * FROM d, x",
        &["42|42|3"],
    ),
    ("SELECT * FROM dst ORDER BY id", &["5|51", "41|41"]),
    (
        "WITH d AS (DELETE FROM dst WHERE id = 41 RETURNING *) SELECT * INTO t7 FROM d",
        &[],
    ),
    ("SELECT * FROM t7", &["41|41"]),
    (
        "CREATE TABLE t10 AS WITH d AS (UPDATE dst SET v = v + 1 WHERE id = 5 RETURNING *) SELECT v, (SELECT v FROM dst WHERE id = 5) AS before FROM d",
        &[],
    ),
    ("SELECT * FROM t10", &["52|51"]),
    (
        "PREPARE ins(int) AS WITH i AS (INSERT INTO dst VALUES ($1, $1) RETURNING id) SELECT id * 2 FROM i; EXECUTE ins(60)",
        &["120"],
    ),
    ("SELECT * FROM dst ORDER BY id", &["5|52", "60|60"]),
    (
        "WITH d AS (DELETE FROM src RETURNING *) SELECT count(*) FROM src",
        &["2"],
    ),
    ("SELECT count(*) FROM src", &["0"]),
    ("INSERT INTO src VALUES (1, 10), (2, 20)", &[]),
    (
        "WITH i AS (INSERT INTO src VALUES (3, 30) RETURNING id) SELECT count(*) FROM src",
        &["2"],
    ),
    (
        "WITH u AS (UPDATE src SET v = v * 10 WHERE id = 3 RETURNING v) SELECT u.v, s.v FROM u, src s WHERE s.id = 3",
        &["300|30"],
    ),
    (
        "WITH i AS (INSERT INTO src VALUES (9, 90) RETURNING *), s AS (SELECT * FROM src) SELECT count(*) FROM s",
        &["3"],
    ),
    (
        "WITH d AS (DELETE FROM src WHERE id = 9 RETURNING *) UPDATE src SET v = v + 1 WHERE id = 1 RETURNING id, v, (SELECT count(*) FROM src)",
        &["1|11|4"],
    ),
    (
        "WITH a AS (UPDATE src SET v = v + 1 WHERE id = 1 RETURNING v), b AS (UPDATE src SET v = v + 2 WHERE id = 2 RETURNING v) SELECT a.v, b.v, (SELECT sum(v) FROM src) FROM a, b",
        &["12|22|331"],
    ),
    ("SELECT * FROM src ORDER BY id", &["1|12", "2|22", "3|300"]),
    (
        "WITH d AS (DELETE FROM parent WHERE id = 2 RETURNING *) SELECT count(*) FROM child",
        &["1"],
    ),
    ("SELECT count(*) FROM child", &["0"]),
    ("INSERT INTO parent VALUES (5)", &[]),
    // Differs from PostgreSQL 15, which answers []: refused rather than answered
    // differently (see the sql crate's `cte` module).
    (
        "WITH a AS (UPDATE src SET v = 0 WHERE id = 1 RETURNING *), b AS (UPDATE src SET v = 1 WHERE id = 1 RETURNING *) SELECT * FROM a, b",
        &["ERROR 0A000"],
    ),
    // Differs from PostgreSQL 15, which answers ["3|301"]: refused rather than answered
    // differently (see the sql crate's `cte` module).
    (
        "WITH d AS (DELETE FROM src WHERE id = 3 RETURNING *) INSERT INTO src SELECT id, v + 1 FROM d RETURNING *",
        &["ERROR 0A000"],
    ),
    // Differs from PostgreSQL 15, which answers ["ERROR 23503"]: refused rather than answered
    // differently (see the sql crate's `cte` module).
    (
        "WITH d AS (DELETE FROM parent WHERE id = 5 RETURNING *) INSERT INTO child VALUES (50, 5)",
        &["ERROR 0A000"],
    ),
    // Differs from PostgreSQL 15 (1|0, 2|22, 3|301): the statements refused above changed
    // nothing.
    ("SELECT * FROM src ORDER BY id", &["1|12", "2|22", "3|300"]),
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

/// Runs `setup`, then each case on one connection, and fails with every case whose answer
/// differs. The client is returned for more checks on the same cluster.
async fn run_cases(cluster: &Cluster, setup: &[&str], cases: &[(&str, &[&str])]) -> Client {
    let c = cluster.client().await;
    for s in setup {
        c.batch_execute(s)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e:?}"));
    }
    let mut failures = Vec::new();
    for (sql, want) in cases {
        let got = answer(&c, sql).await;
        if got != *want {
            failures.push(format!("{sql}\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_answer_as_postgresql_does() {
    let _g = serial();
    let cluster = Cluster::start("sql-queries");
    run_cases(&cluster, SETUP, CASES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_modifying_with_answers_as_postgresql_does() {
    let _g = serial();
    let cluster = Cluster::start("sql-with");
    let c = run_cases(&cluster, WITH_SETUP, WITH_CASES).await;
    // Prepared through the protocol: the parameter's type comes from the CTE's INSERT, and
    // each execution runs the INSERT once (PostgreSQL 15 answers px|0, then px|1).
    let sql = "WITH i AS (INSERT INTO note (msg) VALUES ($1) RETURNING id, msg) \
               SELECT msg, (SELECT count(*) FROM note WHERE msg = $1) FROM i";
    let stmt = c.prepare(sql).await.unwrap();
    for want in [0_i64, 1] {
        let rows = c.query(&stmt, &[&"px"]).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get::<_, &str>(0), "px");
        assert_eq!(rows[0].get::<_, i64>(1), want);
    }
}

/// EXPLAIN ANALYZE runs the statement: its per-node row counts are the real ones, its times
/// vary, so the lines are checked by shape.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_analyze_counts_what_ran() {
    let _g = serial();
    let cluster = Cluster::start("sql-explain-analyze");
    let c = cluster.client().await;
    for s in SETUP {
        c.batch_execute(s)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e:?}"));
    }
    let lines = answer(
        &c,
        "EXPLAIN ANALYZE SELECT e.name, d.name FROM emp e JOIN dept d ON d.id = e.dept WHERE e.salary > 100",
    )
    .await;
    let shape: Vec<String> = lines
        .iter()
        .map(|l| match l.find("  (cost=") {
            Some(i) => l[..i].to_string(),
            None => l.split(':').next().unwrap_or("").to_string(),
        })
        .collect();
    assert_eq!(
        shape,
        [
            "Nested Loop",
            "  ->  Seq Scan on emp e",
            "        Filter",
            "  ->  Index Scan using dept_pkey on dept d",
            "        Index Cond",
            "Planning Time",
            "Execution Time",
        ],
        "{lines:#?}"
    );
    let actual = |line: &str| -> (u64, u64) {
        let a = &line[line.find("(actual time=").unwrap()..];
        let rows = a.split("rows=").nth(1).unwrap().split(' ').next().unwrap();
        let loops = a.split("loops=").nth(1).unwrap().trim_end_matches(')');
        (rows.parse().unwrap(), loops.parse().unwrap())
    };
    // Three employees earn over 100 (ada, bob in dept 1, cy in dept 2); ada and bob probe the
    // same department one after the other, which the join reads once.
    assert_eq!(actual(&lines[0]), (3, 1));
    assert_eq!(actual(&lines[1]), (3, 1));
    assert_eq!(actual(&lines[3]), (1, 2));
    for l in &lines[5..] {
        assert!(l.ends_with(" ms"), "{l}");
    }

    // TIMING OFF drops the times, SUMMARY OFF the summary lines; an aggregate counts groups.
    let lines = answer(
        &c,
        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT dept, count(*) FROM emp GROUP BY dept ORDER BY dept LIMIT 2",
    )
    .await;
    // A hash aggregate reports its batches and memory, a sort its method and memory, as
    // PostgreSQL does (the kilobytes are Borealis's own estimate); the sort under the LIMIT
    // gives the two rows asked for.
    let memory = lines.get(6).cloned().unwrap_or_default();
    assert!(
        memory.starts_with("              Batches: 1  Memory Usage: ")
            && memory.ends_with("kB")
            && !memory.contains("Disk"),
        "{lines:?}"
    );
    let sort = lines.get(3).cloned().unwrap_or_default();
    assert!(
        sort.starts_with("        Sort Method: quicksort  Memory: ") && sort.ends_with("kB"),
        "{lines:?}"
    );
    let without_memory: Vec<&String> = lines
        .iter()
        .filter(|l| **l != memory && **l != sort)
        .collect();
    assert_eq!(
        without_memory,
        [
            "Limit (actual rows=2 loops=1)",
            "  ->  Sort (actual rows=2 loops=1)",
            "        Sort Key: dept",
            "        ->  HashAggregate (actual rows=4 loops=1)",
            "              Group Key: dept",
            "              ->  Seq Scan on emp (actual rows=7 loops=1)",
        ]
    );

    // Costs are printed by default: a primary-key point lookup is estimated at one row.
    let lines = answer(&c, "EXPLAIN SELECT * FROM emp WHERE id = 3").await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("Index Scan using emp_pkey on emp  (cost=")
            && lines[0].ends_with(" rows=1 width=48)"),
        "{lines:?}"
    );
    assert_eq!(lines[1], "  Index Cond: (id = 3)");

    // Describe of an EXPLAIN reports the one text column.
    let stmt = c
        .prepare("EXPLAIN (COSTS OFF) SELECT * FROM emp")
        .await
        .unwrap();
    assert_eq!(stmt.columns().len(), 1);
    assert_eq!(stmt.columns()[0].name(), "QUERY PLAN");
    let rows = c.query(&stmt, &[]).await.unwrap();
    assert_eq!(rows[0].get::<_, String>(0), "Seq Scan on emp");
}

/// EXPLAIN ANALYZE of INSERT, UPDATE and DELETE runs the statement, as PostgreSQL does: its
/// changes stay, unless the transaction block rolls back; plain EXPLAIN runs nothing. The
/// lines were recorded from PostgreSQL 15 (with enable_bitmapscan off) on the same data, except
/// that Borealis prints no `Rows Removed by Filter` (nor does its EXPLAIN ANALYZE of queries).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_analyze_of_dml_runs_it() {
    let _g = serial();
    let cluster = Cluster::start("sql-explain-dml");
    let c = cluster.client().await;
    for s in SETUP {
        c.batch_execute(s)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e:?}"));
    }
    let totals = "SELECT (SELECT count(*) FROM emp), (SELECT sum(salary) FROM emp), (SELECT count(*) FROM dept), (SELECT count(*) FROM nums)";
    let before = answer(&c, totals).await;
    assert_eq!(before, ["7|870|3|0"]);
    for sql in [
        "EXPLAIN INSERT INTO dept VALUES (8, 'a')",
        "EXPLAIN UPDATE emp SET salary = 0",
        "EXPLAIN (COSTS OFF) DELETE FROM emp",
    ] {
        let lines = answer(&c, sql).await;
        assert!(lines.len() >= 2, "{sql}: {lines:?}");
    }
    assert_eq!(answer(&c, totals).await, before);

    c.batch_execute("BEGIN").await.unwrap();
    let cases: &[(&str, &[&str])] = &[
        (
            "INSERT INTO dept VALUES (8, 'a'), (9, 'b')",
            &[
                "Insert on dept (actual rows=0 loops=1)",
                "  ->  Values Scan on \"*VALUES*\" (actual rows=2 loops=1)",
            ],
        ),
        (
            "INSERT INTO dept VALUES (1, 'x'), (10, 'y') ON CONFLICT DO NOTHING",
            &[
                "Insert on dept (actual rows=0 loops=1)",
                "  Conflict Resolution: NOTHING",
                "  Tuples Inserted: 1",
                "  Conflicting Tuples: 1",
                "  ->  Values Scan on \"*VALUES*\" (actual rows=2 loops=1)",
            ],
        ),
        // With RETURNING the statement's node counts the rows it returns.
        (
            "INSERT INTO dept VALUES (2, 'x') ON CONFLICT (id) DO UPDATE SET name = excluded.name RETURNING name",
            &[
                "Insert on dept (actual rows=1 loops=1)",
                "  Conflict Resolution: UPDATE",
                "  Conflict Arbiter Indexes: dept_pkey",
                "  Tuples Inserted: 0",
                "  Conflicting Tuples: 1",
                "  ->  Result (actual rows=1 loops=1)",
            ],
        ),
        (
            "INSERT INTO nums SELECT id FROM emp WHERE salary > 100",
            &[
                "Insert on nums (actual rows=0 loops=1)",
                "  ->  Seq Scan on emp (actual rows=3 loops=1)",
                "        Filter: (salary > 100)",
            ],
        ),
        (
            "UPDATE emp SET salary = salary + 1 WHERE dept = 2",
            &[
                "Update on emp (actual rows=0 loops=1)",
                "  ->  Index Scan using emp_dept on emp (actual rows=3 loops=1)",
                "        Index Cond: (dept = 2)",
            ],
        ),
        (
            "DELETE FROM emp WHERE salary < 100 RETURNING id",
            &[
                "Delete on emp (actual rows=3 loops=1)",
                "  ->  Seq Scan on emp (actual rows=3 loops=1)",
                "        Filter: (salary < 100)",
            ],
        ),
        (
            "UPDATE emp SET boss = d.id FROM dept d WHERE d.id = emp.dept",
            &[
                "Update on emp (actual rows=0 loops=1)",
                "  ->  Nested Loop (actual rows=4 loops=1)",
                "        ->  Seq Scan on emp (actual rows=4 loops=1)",
                "        ->  Index Scan using dept_pkey on dept d (actual rows=1 loops=4)",
                "              Index Cond: (id = emp.dept)",
            ],
        ),
        (
            "DELETE FROM emp WHERE id = 1",
            &[
                "Delete on emp (actual rows=0 loops=1)",
                "  ->  Index Scan using emp_pkey on emp (actual rows=1 loops=1)",
                "        Index Cond: (id = 1)",
            ],
        ),
        // The row is gone: the scan finds nothing.
        (
            "DELETE FROM emp WHERE id = 1",
            &[
                "Delete on emp (actual rows=0 loops=1)",
                "  ->  Index Scan using emp_pkey on emp (actual rows=0 loops=1)",
                "        Index Cond: (id = 1)",
            ],
        ),
    ];
    let mut failures = Vec::new();
    for (sql, want) in cases {
        let got = answer(
            &c,
            &format!("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {sql}"),
        )
        .await;
        if got != *want {
            failures.push(format!("{sql}\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(answer(&c, totals).await, ["3|351|6|3"]);
    c.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(answer(&c, totals).await, before);

    // Outside a block the statement commits as any other does.
    let lines = answer(&c, "EXPLAIN ANALYZE INSERT INTO nums VALUES (1)").await;
    let shape: Vec<String> = lines
        .iter()
        .map(|l| match l.find("  (cost=") {
            Some(i) => l[..i].to_string(),
            None => l.split(':').next().unwrap_or("").to_string(),
        })
        .collect();
    assert_eq!(
        shape,
        [
            "Insert on nums",
            "  ->  Result",
            "Planning Time",
            "Execution Time"
        ],
        "{lines:?}"
    );
    assert!(
        lines[0].contains(" rows=0 width=0) (actual time="),
        "{lines:?}"
    );
    assert!(lines[0].ends_with(" rows=0 loops=1)"), "{lines:?}");
    assert!(lines[1].ends_with(" rows=1 loops=1)"), "{lines:?}");
    assert_eq!(answer(&c, "SELECT count(*) FROM nums").await, ["1"]);

    // Parameters of the explained statement take the types it gives them.
    let rows = c
        .query(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) UPDATE emp SET salary = $1 WHERE id = $2",
            &[&5i32, &3i32],
        )
        .await
        .unwrap();
    assert_eq!(
        rows[0].get::<_, String>(0),
        "Update on emp (actual rows=0 loops=1)"
    );
    assert_eq!(
        rows[1].get::<_, String>(0),
        "  ->  Index Scan using emp_pkey on emp (actual rows=1 loops=1)"
    );
    assert_eq!(
        answer(&c, "SELECT salary FROM emp WHERE id = 3").await,
        ["5"]
    );

    // A read-only transaction explains a DML statement but refuses to run it.
    c.batch_execute("BEGIN READ ONLY").await.unwrap();
    assert_eq!(
        answer(&c, "EXPLAIN (COSTS OFF) DELETE FROM nums").await,
        ["Delete on nums", "  ->  Seq Scan on nums"]
    );
    assert_eq!(
        answer(&c, "EXPLAIN ANALYZE DELETE FROM nums").await,
        ["ERROR 25006"]
    );
    c.batch_execute("ROLLBACK").await.unwrap();
}

/// A hash aggregate whose groups outgrow `work_mem` spills rows of new groups to temporary
/// files and aggregates them afterwards: the answers (recorded from PostgreSQL 15 with the same
/// `work_mem`) are those of an in-memory aggregate, and EXPLAIN ANALYZE shows the batches and
/// the disk used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hash_aggregates_spill_beyond_work_mem() {
    let _g = serial();
    let cluster = Cluster::start("sql-spill");
    let c = cluster.client().await;
    c.batch_execute(
        "CREATE TABLE sp (id int PRIMARY KEY, k int, t text);
         INSERT INTO sp SELECT g, g % 6000, 'x' || (g % 7) FROM generate_series(1, 30000) g",
    )
    .await
    .unwrap();
    let cases: [(&str, &[&str]); 3] = [
        (
            "SELECT count(*), sum(c), sum(s), max(mt), min(mn) FROM (SELECT k, count(*) c, sum(id) s, max(t) mt, min(t) mn FROM sp GROUP BY k) q",
            &["6000|30000|450015000|x6|x0"],
        ),
        (
            "SELECT k, count(*), min(t), sum(id) FROM sp GROUP BY k HAVING sum(id) > 74000 ORDER BY k DESC LIMIT 3",
            &["5999|5|x0|89995", "5998|5|x0|89990", "5997|5|x0|89985"],
        ),
        (
            "SELECT count(DISTINCT k), count(*) FROM (SELECT k, t FROM sp GROUP BY k, t) q",
            &["6000|30000"],
        ),
    ];
    for work_mem in ["64kB", "64MB"] {
        c.batch_execute(&format!("SET work_mem = '{work_mem}'"))
            .await
            .unwrap();
        for (sql, want) in &cases {
            assert_eq!(answer(&c, sql).await, *want, "work_mem {work_mem}: {sql}");
        }
    }
    c.batch_execute("SET work_mem = '64kB'").await.unwrap();
    let lines = answer(
        &c,
        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT k, count(*) FROM sp GROUP BY k",
    )
    .await;
    assert_eq!(
        lines[0], "HashAggregate (actual rows=6000 loops=1)",
        "{lines:?}"
    );
    let batches: usize = lines[2]
        .trim()
        .strip_prefix("Batches: ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        batches > 1 && lines[2].contains("Disk Usage: "),
        "{lines:?}"
    );
    c.batch_execute("RESET work_mem").await.unwrap();
    let lines = answer(
        &c,
        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT k, count(*) FROM sp GROUP BY k",
    )
    .await;
    assert!(
        lines[2].trim().starts_with("Batches: 1  Memory Usage: ") && !lines[2].contains("Disk"),
        "{lines:?}"
    );
}

/// How many temporary files the writer holds now (they are named for its process).
fn spill_files(cluster: &Cluster) -> usize {
    let pid = cluster.writer.as_ref().unwrap().child.id();
    let prefix = format!("borealis-spill-{pid}-");
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(&prefix))
        .count()
}

/// Sorts, hash joins and DISTINCT whose rows outgrow `work_mem` spill to temporary files: a
/// sort writes sorted runs and merges them, a hash join partitions both sides and joins each
/// pair of partitions, DISTINCT spills as a hash aggregate does. Their answers (counts, first
/// and last rows recorded from PostgreSQL 15 with the same `work_mem`) are those of the
/// in-memory operators row for row, EXPLAIN ANALYZE prints PostgreSQL's lines for what ran,
/// and no temporary file outlives its statement, whether it ends, fails or is cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sorts_hash_joins_and_distinct_spill_beyond_work_mem() {
    let _g = serial();
    let cluster = Cluster::start("sql-spill-sort");
    let c = cluster.client().await;
    c.batch_execute(
        "CREATE TABLE sp (id int PRIMARY KEY, k int, t text);
         INSERT INTO sp SELECT g, g % 6000, 'x' || (g % 7) FROM generate_series(1, 30000) g;
         CREATE TABLE sj (id int PRIMARY KEY, k int, u text);
         INSERT INTO sj SELECT g, CASE WHEN g % 50 = 0 THEN NULL ELSE g % 9000 END, 'y' || g
             FROM generate_series(1, 20000) g",
    )
    .await
    .unwrap();
    // (query, rows, first row, last row)
    let cases: [(&str, usize, &str, &str); 7] = [
        (
            "SELECT id, k, t FROM sp ORDER BY t DESC, k, id",
            30000,
            "24002|2|x6",
            "5999|5999|x0",
        ),
        (
            "SELECT sp.id, sj.id, sj.u FROM sp JOIN sj ON sp.k = sj.k ORDER BY sj.u, sp.id",
            68600,
            "1|1|y1",
            "24999|9999|y9999",
        ),
        (
            "SELECT sp.id, sj.id FROM sp FULL JOIN sj ON sp.k = sj.k ORDER BY 1 NULLS FIRST, 2 NULLS FIRST",
            75480,
            "NULL|50",
            "30000|NULL",
        ),
        (
            "SELECT sp.id, sj.id FROM sp LEFT JOIN sj ON sp.k = sj.k AND sj.id % 3 = 0 ORDER BY 1, 2",
            43065,
            "1|NULL",
            "30000|NULL",
        ),
        (
            "SELECT DISTINCT k, t FROM sp ORDER BY k DESC, t",
            30000,
            "5999|x0",
            "0|x5",
        ),
        (
            "SELECT count(*) FROM (SELECT DISTINCT k % 1000, t FROM sp) d",
            1,
            "7000",
            "7000",
        ),
        (
            "SELECT id, t FROM sp ORDER BY t, id DESC LIMIT 3 OFFSET 10",
            3,
            "29925|x0",
            "29911|x0",
        ),
    ];
    let mut in_memory = Vec::new();
    for work_mem in ["64MB", "64kB"] {
        c.batch_execute(&format!("SET work_mem = '{work_mem}'"))
            .await
            .unwrap();
        for (i, (sql, rows, first, last)) in cases.iter().enumerate() {
            let got = answer(&c, sql).await;
            assert_eq!(
                (got.len(), got[0].as_str(), got[got.len() - 1].as_str()),
                (*rows, *first, *last),
                "work_mem {work_mem}: {sql}"
            );
            if work_mem == "64MB" {
                in_memory.push(got);
            } else {
                assert!(got == in_memory[i], "work_mem {work_mem}: {sql}");
            }
        }
    }
    assert_eq!(spill_files(&cluster), 0, "temporary files left");

    let explain = async |sql: &str| {
        answer(
            &c,
            &format!("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {sql}"),
        )
        .await
    };
    let line = |lines: &[String], prefix: &str| {
        lines
            .iter()
            .map(|l| l.trim())
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {lines:?}"))
            .to_string()
    };
    let sort = "SELECT * FROM sp ORDER BY t, id DESC";
    let top = "SELECT * FROM sp ORDER BY t, id DESC LIMIT 10";
    let join = "SELECT * FROM sp JOIN sj ON sp.k = sj.k";
    let distinct = "SELECT DISTINCT k, t FROM sp";
    c.batch_execute("SET work_mem = '64kB'").await.unwrap();
    let lines = explain(sort).await;
    assert_eq!(lines[0], "Sort (actual rows=30000 loops=1)", "{lines:?}");
    assert!(
        line(&lines, "Sort Method:").starts_with("Sort Method: external merge  Disk: "),
        "{lines:?}"
    );
    let lines = explain(top).await;
    assert_eq!(lines[1], "  ->  Sort (actual rows=10 loops=1)", "{lines:?}");
    assert!(
        line(&lines, "Sort Method:").starts_with("Sort Method: top-N heapsort  Memory: "),
        "{lines:?}"
    );
    let lines = explain(join).await;
    assert_eq!(
        lines[0], "Hash Join (actual rows=68600 loops=1)",
        "{lines:?}"
    );
    let buckets = line(&lines, "Buckets:");
    let batches: usize = buckets
        .split("Batches: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        batches > 1 && buckets.contains(" (originally 1)  Memory Usage: "),
        "{lines:?}"
    );
    let lines = explain(distinct).await;
    assert!(
        line(&lines, "Batches:").contains("  Disk Usage: "),
        "{lines:?}"
    );
    // Borealis's rows take more memory than PostgreSQL's: 4MB does not hold these.
    c.batch_execute("SET work_mem = '64MB'").await.unwrap();
    let lines = explain(sort).await;
    assert!(
        line(&lines, "Sort Method:").starts_with("Sort Method: quicksort  Memory: "),
        "{lines:?}"
    );
    let lines = explain(join).await;
    assert!(
        line(&lines, "Buckets:").starts_with("Buckets: 32768  Batches: 1  Memory Usage: "),
        "{lines:?}"
    );
    let lines = explain(distinct).await;
    assert!(!line(&lines, "Batches:").contains("Disk"), "{lines:?}");

    // A statement failing after its sort and its join spilled leaves no file behind.
    c.batch_execute("SET work_mem = '64kB'").await.unwrap();
    assert_eq!(
        answer(&c, "SELECT id FROM sp ORDER BY 1 / (id - 29000)").await,
        ["ERROR 22012"]
    );
    assert_eq!(
        answer(
            &c,
            "SELECT sp.id FROM sp JOIN sj ON sp.k = sj.k WHERE 1 / (sj.id - 19990) > 0"
        )
        .await,
        ["ERROR 22012"]
    );
    assert_eq!(spill_files(&cluster), 0, "temporary files left");

    // Nor does a cancelled one (or, should the statement win the race, a finished one).
    let token = c.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        token.cancel_query(tokio_postgres::NoTls).await.unwrap();
    });
    let got = answer(
        &c,
        "SELECT count(*) FROM (SELECT a.id, b.t FROM sp a JOIN sp b ON a.k % 1000 = b.k % 1000
             ORDER BY b.t, a.id DESC, b.id) q",
    )
    .await;
    canceller.await.unwrap();
    assert!(got == ["ERROR 57014"] || got == ["900000"], "{got:?}");
    assert_eq!(spill_files(&cluster), 0, "temporary files left");
}
