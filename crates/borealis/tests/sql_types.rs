//! Golden tests of the scalar types over the wire: `sql_types.golden` (beside this file) holds
//! statements with the answers PostgreSQL 15 gives, recorded from a real PostgreSQL 15, and the
//! test checks that a Borealis cluster answers the same.
//!
//! The golden file is a list of cases separated by blank lines; `#` lines are comments.
//!
//! ```text
//! > SELECT 1.50, 10 / 4::numeric            simple query: rows as a|b|c, NULL as NULL
//! 1.50|2.5000000000000000
//!
//! >b SELECT 1.50::numeric                   extended query, results in binary: hex per field
//! 0002000000020001 1388
//!
//! > SELECT 'abc'::numeric                   a failure: SQLSTATE and message
//! ERROR 22P02: invalid input syntax for type numeric: "abc"
//!
//! >t SELECT $1 = ANY($2)                    prepared only: the type OIDs of the parameters
//! params 23 1007                            and of the result columns, as described
//! columns 16
//!
//! >c MOVE 3 IN c                            simple query, with each command's row count
//! -- 3
//! ```
//!
//! To re-record the answers from PostgreSQL 15 (after adding cases):
//!
//! ```text
//! BOREALIS_RECORD_GOLDEN=1 cargo test -p borealis --test sql_types -- --nocapture
//! ```

// Tests hold the serial lock across awaits on purpose: one cluster at a time.
#![allow(clippy::await_holding_lock, clippy::unwrap_used)]

mod common;

use common::{Cluster, serial};
use std::fmt::Write as _;
use std::path::PathBuf;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type};
use tokio_postgres::{Client, SimpleQueryMessage};

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name)
}

/// One case: the statement, whether its results are read in binary (or only its types
/// described), and the answer lines.
struct Case {
    sql: String,
    binary: bool,
    types: bool,
    /// Simple query whose answer also holds each command's row count (`-- n`), as the
    /// command tags give them (`FETCH 3`, `MOVE 8`).
    counts: bool,
    answer: Vec<String>,
}

fn parse_golden(text: &str) -> (Vec<String>, Vec<Case>) {
    let mut header = Vec::new();
    let mut cases: Vec<Case> = Vec::new();
    let mut in_case = false;
    for line in text.lines() {
        if let Some(sql) = line.strip_prefix(">c ") {
            cases.push(Case {
                sql: sql.to_string(),
                binary: false,
                types: false,
                counts: true,
                answer: Vec::new(),
            });
            in_case = true;
        } else if let Some(sql) = line.strip_prefix(">b ") {
            cases.push(Case {
                sql: sql.to_string(),
                binary: true,
                types: false,
                counts: false,
                answer: Vec::new(),
            });
            in_case = true;
        } else if let Some(sql) = line.strip_prefix(">t ") {
            cases.push(Case {
                sql: sql.to_string(),
                binary: false,
                types: true,
                counts: false,
                answer: Vec::new(),
            });
            in_case = true;
        } else if let Some(sql) = line.strip_prefix("> ") {
            cases.push(Case {
                sql: sql.to_string(),
                binary: false,
                types: false,
                counts: false,
                answer: Vec::new(),
            });
            in_case = true;
        } else if line.is_empty() {
            in_case = false;
        } else if line.starts_with('#') && !in_case {
            if cases.is_empty() {
                header.push(line.to_string());
            }
        } else if in_case {
            cases.last_mut().unwrap().answer.push(line.to_string());
        }
    }
    (header, cases)
}

/// Any value, as the raw bytes of its binary form.
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

fn error_line(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("ERROR {}: {}", db.code().code(), db.message()),
        None => format!("ERROR (no SQLSTATE): {e}"),
    }
}

/// An error's answer lines: the error line, then (when `details`) its DETAIL if it has one.
fn error_lines(e: &tokio_postgres::Error, details: bool) -> Vec<String> {
    let mut lines = vec![error_line(e)];
    if details && let Some(d) = e.as_db_error().and_then(|db| db.detail()) {
        // A detail of several lines (a list of dependent objects) spans lines, as the file
        // holds it.
        lines.push(format!("DETAIL: {d}"));
        let last = lines.pop().unwrap_or_default();
        lines.extend(last.split('\n').map(str::to_string));
    }
    lines
}

/// The answer of one case in the golden form.
async fn answer(c: &Client, case: &Case, details: bool) -> Vec<String> {
    if case.types {
        let oids = |types: &mut dyn Iterator<Item = &Type>| {
            types
                .map(|t| t.oid().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        return match c.prepare(case.sql.as_str()).await {
            Ok(st) => vec![
                format!("params {}", oids(&mut st.params().iter())),
                format!(
                    "columns {}",
                    oids(&mut st.columns().iter().map(|c| c.type_()))
                ),
            ],
            Err(e) => error_lines(&e, details),
        };
    }
    if case.binary {
        return match c.query(case.sql.as_str(), &[]).await {
            Ok(rows) => rows
                .iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| match r.get::<_, Option<Raw>>(i) {
                            None => "NULL".to_string(),
                            Some(Raw(b)) => b.iter().fold(String::new(), |mut s, x| {
                                let _ = write!(s, "{x:02x}");
                                s
                            }),
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect(),
            Err(e) => error_lines(&e, details),
        };
    }
    match c.simple_query(&case.sql).await {
        Ok(messages) => messages
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(r) => Some(
                    (0..r.len())
                        .map(|i| r.get(i).unwrap_or("NULL"))
                        .collect::<Vec<_>>()
                        .join("|"),
                ),
                SimpleQueryMessage::CommandComplete(n) if case.counts => Some(format!("-- {n}")),
                _ => None,
            })
            // A value with line breaks (jsonb_pretty) spans lines, as the file holds it.
            .flat_map(|row| row.split('\n').map(str::to_string).collect::<Vec<_>>())
            .collect(),
        Err(e) => error_lines(&e, details),
    }
}

fn write_golden(header: &[String], cases: &[Case]) -> String {
    let mut out = String::new();
    for h in header {
        out.push_str(h);
        out.push('\n');
    }
    for c in cases {
        out.push('\n');
        out.push_str(if c.types {
            ">t "
        } else if c.counts {
            ">c "
        } else if c.binary {
            ">b "
        } else {
            "> "
        });
        out.push_str(&c.sql);
        out.push('\n');
        for a in &c.answer {
            out.push_str(a);
            out.push('\n');
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn types_answer_as_postgresql_does() {
    run_golden("sql_types.golden", "sql-types", false).await;
}

/// `sql_numeric_math.golden`: numeric ln, exp, log, log10 and power with fractional
/// exponents — PostgreSQL's result scales over many magnitudes, the errors, NaN and the
/// infinities, and the float8 forms beside them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numeric_math_answers_as_postgresql_does() {
    run_golden("sql_numeric_math.golden", "sql-numeric-math", false).await;
}

/// `sql_datetime.golden`: date, time, timestamp, timestamptz and interval — text forms, time
/// zones, arithmetic, functions, errors, ordering, keys and binary forms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datetime_types_answer_as_postgresql_does() {
    run_golden("sql_datetime.golden", "sql-datetime", false).await;
}

/// `sql_timezones.golden`: named time zones from the time zone database (daylight saving
/// transitions in both hemispheres, historical offset changes, gaps and overlaps, arithmetic,
/// `AT TIME ZONE`, `date_trunc`, `to_char`, `pg_timezone_names`, POSIX zone strings) and the
/// `timetz` type (text and binary forms, ordering, casts, table columns and keys).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_zones_answer_as_postgresql_does() {
    run_golden("sql_timezones.golden", "sql-timezones", false).await;
}

/// `sql_json.golden`: json and jsonb — parsing and its errors, normalised output, operators,
/// functions, aggregates, set-returning functions in FROM, ordering, table columns, keys and
/// binary forms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_types_answer_as_postgresql_does() {
    run_golden("sql_json.golden", "sql-json", true).await;
}

/// `sql_schemas.golden`: schemas (CREATE/DROP/ALTER SCHEMA, qualified names everywhere,
/// `search_path` resolution, the catalogs' schema columns) and temporary tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemas_answer_as_postgresql_does() {
    run_golden("sql_schemas.golden", "sql-schemas", true).await;
}

/// `sql_depend.golden`: what views depend on (`pg_depend`, and the DROPs and DROP COLUMNs it
/// refuses or cascades to, across schemas), moving tables, views and sequences between schemas
/// (`ALTER … SET SCHEMA`), and CREATE SCHEMA with schema elements — each transactional.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependencies_and_schema_moves_answer_as_postgresql_does() {
    run_golden("sql_depend.golden", "sql-depend", true).await;
}

/// `sql_views_dml.golden`: automatically updatable views — INSERT, UPDATE and DELETE through
/// simple and nested views (RETURNING, ON CONFLICT, UPDATE … FROM, DELETE … USING, defaults),
/// `WITH [LOCAL | CASCADED] CHECK OPTION` (44000), the refusals of views that are not
/// updatable (55000, 0A000, with PostgreSQL's details), information_schema's updatability
/// columns, and transactions (ROLLBACK, read-only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updatable_views_answer_as_postgresql_does() {
    run_golden("sql_views_dml.golden", "sql-views-dml", true).await;
}

/// `sql_cursors.golden`: SQL cursors — DECLARE's options, FETCH and MOVE in every direction
/// (positions before the first and after the last row, counts in the tags), NO SCROLL, WITH
/// HOLD across COMMIT and ROLLBACK, CLOSE, `pg_cursors`, the errors (25P01, 34000, 42P03,
/// 55000), and a cursor whose rows spill beyond `work_mem`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_answer_as_postgresql_does() {
    run_golden("sql_cursors.golden", "sql-cursors", false).await;
}

/// `sql_rename.golden`: renaming tables, views, indexes and sequences, constraints and view
/// columns — the kinds each ALTER takes, the names refused, and the views, foreign keys, keys,
/// defaults, catalogs and statistics that follow the new name; transactional.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renames_answer_as_postgresql_does() {
    run_golden("sql_rename.golden", "sql-rename", true).await;
}

/// `sql_desc_index.golden`: indexes with DESC and NULLS FIRST/LAST columns — their definitions
/// in the catalogs, reads in their declared order and its reverse, unique checks, ON CONFLICT
/// and foreign keys through them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desc_indexes_answer_as_postgresql_does() {
    run_golden("sql_desc_index.golden", "sql-desc-index", true).await;
}

/// `sql_keyset.golden`: keyset pagination — row comparisons over an index's leading columns
/// (every operator, NULL values and NULL keys, parameters, combined bounds, both directions)
/// and ranges on DESC index columns, with the plans that read them as index ranges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyset_pages_answer_as_postgresql_does() {
    run_golden("sql_keyset.golden", "sql-keyset", false).await;
}

/// `sql_spill.golden`: sorts (external merge, top-N), hash joins of every kind, DISTINCT and
/// hash aggregates under `work_mem = 64kB`, so that they spill to temporary files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spilling_operators_answer_as_postgresql_does() {
    run_golden("sql_spill.golden", "sql-spill", false).await;
}

/// `sql_spill2.golden`: UNION / INTERSECT / EXCEPT [ALL], derived tables, CTE references and
/// window functions over a few hundred thousand rows under `work_mem = 64kB`, so that the set
/// operations and the window input spill and derived tables stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_operations_derived_tables_and_windows_past_memory_answer_as_postgresql_does() {
    run_golden("sql_spill2.golden", "sql-spill2", false).await;
}

/// `sql_semijoin.golden`: `[NOT] EXISTS` and `IN (SELECT …)` pulled up into semi- and
/// anti-joins (NULLs on both sides, inner duplicates, an empty inner side, multi-column and
/// nested correlation, beside joins, spilling under `work_mem = 64kB`), the forms that stay
/// per-row subqueries, and the plans PostgreSQL prints for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semijoins_answer_as_postgresql_does() {
    run_golden("sql_semijoin.golden", "sql-semijoin", false).await;
}

/// `sql_spill3.golden`: DISTINCT ON, WITH RECURSIVE, merge joins, nested loops over derived
/// tables, LATERAL subqueries and long FROM clauses over a few hundred thousand rows under
/// `work_mem = 64kB`: DISTINCT ON's sort, the work tables, the merge join's sides and the
/// nested loops' inner rows spill, recursive results and LATERAL rows stream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recursion_distinct_on_and_merge_joins_spill_as_postgresql_does() {
    run_golden("sql_spill3.golden", "sql-spill3", false).await;
}

/// `sql_joins.golden`: index-only scans (every decodable key type, NULL entries, reads in key
/// order under LIMIT) and merge joins (inner, LEFT, RIGHT and FULL, duplicates, NULL keys, extra
/// ON conditions) forced with `enable_hashjoin`/`enable_nestloop` off, against the same queries
/// hashed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_and_index_only_scans_answer_as_postgresql_does() {
    run_golden("sql_joins.golden", "sql-joins", false).await;
}

/// `sql_join_trees.golden`: FULL JOIN … USING and NATURAL FULL JOIN (merged columns),
/// parenthesized joins with and without an alias, RIGHT and FULL joins beside other FROM items,
/// and `SELECT *` over relations with two columns of one name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_trees_answer_as_postgresql_does() {
    run_golden("sql_join_trees.golden", "sql-join-trees", false).await;
}

/// `sql_backward.golden`: ORDER BY … DESC read backwards from a primary key or an index
/// (equality-pinned leading columns, range bounds, LIMIT and OFFSET, NULLs first, multi-column
/// and text keys, a transaction's own writes), orders that still sort (mixed directions, DESC
/// NULLS LAST), and min/max read from one end of a key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backward_scans_answer_as_postgresql_does() {
    run_golden("sql_backward.golden", "sql-backward", false).await;
}

/// `sql_arrays.golden`: one-dimensional arrays — text input and output (quoting, escapes,
/// NULLs, errors), binary forms, type OIDs of results and parameters, table columns of array
/// types (keys, indexes, ordering, COPY), constructors, subscripts and slices, casts, ANY/ALL,
/// the array operators and functions, array_agg, unnest, json of arrays, and the catalogs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrays_answer_as_postgresql_does() {
    run_golden("sql_arrays.golden", "sql-arrays", true).await;
}

/// `sql_aggregates.golden`: the statistical (stddev, variance, corr, covar, regr_*), bitwise
/// and ordered-set (percentile_cont, percentile_disc, mode) aggregates, grouped, filtered and
/// over windows; aggregates inside expressions, typed as PostgreSQL types them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregates_answer_as_postgresql_does() {
    run_golden("sql_aggregates.golden", "sql-aggregates", false).await;
}

/// `sql_srf.golden`: set-returning functions in the select list (generate_series, unnest,
/// the json element and key functions, string_to_table, generate_subscripts) run in lockstep,
/// with aggregates, windows, ORDER BY, DISTINCT and LIMIT, and the clauses that refuse them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_returning_functions_answer_as_postgresql_does() {
    run_golden("sql_srf.golden", "sql-srf", false).await;
}

/// `sql_select.golden`: FETCH FIRST … ROWS ONLY / WITH TIES, the common type of VALUES and
/// set operations, row comparisons, `^`, window frames, joins, set operations and expression
/// basics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_forms_answer_as_postgresql_does() {
    run_golden("sql_select.golden", "sql-select", false).await;
}

/// `sql_functions.golden`: the everyday scalar functions — string functions and their SQL
/// syntax forms, GREATEST/LEAST, regular expressions and SIMILAR TO, encode/decode, hashes,
/// trigonometry, random()/setseed() (PostgreSQL's generator, so seeded values match),
/// gen_random_uuid() by its properties, width_bucket, numeric scale, to_char/to_number for
/// numbers — with NULL inputs, errors and the names of their result columns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_answer_as_postgresql_does() {
    run_golden("sql_functions.golden", "sql-functions", false).await;
}

/// `sql_bpchar.golden`: `character(n)` / `bpchar` — trailing blanks ignored by comparisons,
/// IN, CASE, joins, grouping, DISTINCT, set operations and primary-key and unique-index keys;
/// dropped by lengths, `||` and casts to text; kept by the output, `octet_length`, LIKE and
/// `concat`; explicit casts truncate, assignment refuses what is too long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bpchar_answers_as_postgresql_does() {
    run_golden("sql_bpchar.golden", "sql-bpchar", false).await;
}

/// `sql_dialect2.golden`: `BETWEEN [NOT] SYMMETRIC`, every `TRIM` form, window frames with
/// `EXCLUDE`, `FETCH FIRST ... ROWS ONLY | WITH TIES` and `OFFSET ... ROWS` with negative
/// counts refused, time/timestamp/interval precision rounding, whole-row references cast to
/// text, and `bpchar` compared with `text` (as text: trailing blanks count).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialect2_answers_as_postgresql_does() {
    run_golden("sql_dialect2.golden", "sql-dialect2", false).await;
}

/// `sql_catalog_info.golden`: information_schema's constraint views, `views`, `schemata` and
/// `sequences` (every column, in PostgreSQL's order, and the joins ORMs use to find keys and
/// foreign keys), `reg*` casts of OID 0 (`-`), `$n` in a simple query's INSERT, UPDATE and
/// DELETE (42P02), and `pg_get_constraintdef` / `pg_get_indexdef` / `pg_get_viewdef`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_information_answers_as_postgresql_does() {
    run_golden("sql_catalog_info.golden", "sql-catalog-info", true).await;
}

/// Runs the cases of one golden file against a Borealis cluster (or, with
/// `BOREALIS_RECORD_GOLDEN` set, records PostgreSQL 15's answers into it). With `details`, an
/// error's answer includes its DETAIL line.
async fn run_golden(file: &str, name: &str, details: bool) {
    let _g = serial();
    let text = std::fs::read_to_string(golden_path(file)).unwrap();
    let (header, mut cases) = parse_golden(&text);
    assert!(cases.len() > 50, "the golden file lost its cases");
    if std::env::var_os("BOREALIS_RECORD_GOLDEN").is_some() {
        let pg = common::postgres::Postgres::start(name);
        let c = pg.client("postgres").await;
        for case in &mut cases {
            case.answer = answer(&c, case, details).await;
        }
        std::fs::write(golden_path(file), write_golden(&header, &cases)).unwrap();
        return;
    }
    let cluster = Cluster::start(name);
    let c = cluster.client().await;
    let mut failures = Vec::new();
    for case in &cases {
        let got = answer(&c, case, details).await;
        if got != case.answer {
            failures.push(format!(
                "{}\n  want {:?}\n  got  {:?}",
                case.sql, case.answer, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// A value sent as a parameter in binary: its raw bytes.
#[derive(Debug)]
struct RawParam(Vec<u8>);

impl ToSql for RawParam {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut tokio_postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

/// Binary parameters of the new types arrive intact: each is sent in PostgreSQL's binary form
/// and read back as text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_parameters_are_read_in_postgresql_form() {
    let _g = serial();
    let cluster = Cluster::start("sql-types-params");
    let c = cluster.client().await;
    let cases: &[(Type, &str, Vec<u8>, &str)] = &[
        // numeric 1.50: ndigits 2, weight 0, sign +, dscale 2, digits 1 5000.
        (
            Type::NUMERIC,
            "numeric",
            vec![0, 2, 0, 0, 0, 0, 0, 2, 0, 1, 0x13, 0x88],
            "1.50",
        ),
        // numeric -12345678.9: digits 1234 5678 9000, weight 1, scale 1.
        (
            Type::NUMERIC,
            "numeric",
            vec![
                0, 3, 0, 1, 0x40, 0, 0, 1, 0x04, 0xd2, 0x16, 0x2e, 0x23, 0x28,
            ],
            "-12345678.9",
        ),
        // numeric NaN.
        (
            Type::NUMERIC,
            "numeric",
            vec![0, 0, 0, 0, 0xc0, 0, 0, 0],
            "NaN",
        ),
        // numeric 0.0001: weight -1, digit 1, scale 4.
        (
            Type::NUMERIC,
            "numeric",
            vec![0, 1, 0xff, 0xff, 0, 0, 0, 4, 0, 1],
            "0.0001",
        ),
        // date: days since 2000-01-01 (8887 = 2024-05-01), i32::MAX is infinity.
        (
            Type::DATE,
            "date",
            8887i32.to_be_bytes().to_vec(),
            "2024-05-01",
        ),
        (
            Type::DATE,
            "date",
            (-1i32).to_be_bytes().to_vec(),
            "1999-12-31",
        ),
        (
            Type::DATE,
            "date",
            i32::MAX.to_be_bytes().to_vec(),
            "infinity",
        ),
        // timestamptz: µs since 2000-01-01 UTC, printed in the session's zone (UTC).
        (
            Type::TIMESTAMPTZ,
            "timestamptz",
            1_500_000i64.to_be_bytes().to_vec(),
            "2000-01-01 00:00:01.5+00",
        ),
        (
            Type::TIMESTAMP,
            "timestamp",
            (-1i64).to_be_bytes().to_vec(),
            "1999-12-31 23:59:59.999999",
        ),
        // time: µs since midnight.
        (
            Type::TIME,
            "time",
            47_045_500_000i64.to_be_bytes().to_vec(),
            "13:04:05.5",
        ),
        // timetz: µs since midnight, then the offset in seconds west of UTC.
        (
            Type::TIMETZ,
            "timetz",
            [
                43_200_500_000i64.to_be_bytes().as_slice(),
                &(-19_800i32).to_be_bytes(),
            ]
            .concat(),
            "12:00:00.5+05:30",
        ),
        (
            Type::TIMETZ,
            "timetz",
            [0i64.to_be_bytes().as_slice(), &14_400i32.to_be_bytes()].concat(),
            "00:00:00-04",
        ),
        // interval: µs, days, months.
        (
            Type::INTERVAL,
            "interval",
            [
                3_600_000_000i64.to_be_bytes().as_slice(),
                &(-3i32).to_be_bytes(),
                &14i32.to_be_bytes(),
            ]
            .concat(),
            "1 year 2 mons -3 days +01:00:00",
        ),
        // json: its text, kept as sent.
        (Type::JSON, "json", b"[1,  2]".to_vec(), "[1,  2]"),
        // jsonb: version byte 1, then the text; read into the normalised form.
        (
            Type::JSONB,
            "jsonb",
            [&[1u8][..], br#"{"b":1, "a":[2.50]}"#].concat(),
            r#"{"a": [2.50], "b": 1}"#,
        ),
    ];
    for (ty, name, bytes, want) in cases {
        let stmt = c
            .prepare_typed(
                &format!("SELECT $1::{name}::text"),
                std::slice::from_ref(ty),
            )
            .await
            .unwrap();
        let row = c
            .query_one(&stmt, &[&RawParam(bytes.clone())])
            .await
            .unwrap_or_else(|e| panic!("{name} {want}: {e:?}"));
        assert_eq!(row.get::<_, String>(0), *want, "{name}");
    }
    // A malformed binary numeric (a digit of 10000) is refused, and the connection lives on.
    let stmt = c
        .prepare_typed("SELECT $1::numeric::text", &[Type::NUMERIC])
        .await
        .unwrap();
    let bad = RawParam(vec![0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10]);
    assert!(c.query_one(&stmt, &[&bad]).await.is_err());
    // So are a jsonb of an unknown version and one that is not JSON.
    let stmt = c
        .prepare_typed("SELECT $1::jsonb::text", &[Type::JSONB])
        .await
        .unwrap();
    for bad in [b"\x02{}".to_vec(), b"\x01{".to_vec(), Vec::new()] {
        assert!(c.query_one(&stmt, &[&RawParam(bad)]).await.is_err());
    }
    // A timetz of the wrong length, beyond a day or with an offset beyond 15:59:59 is refused.
    let stmt = c
        .prepare_typed("SELECT $1::timetz::text", &[Type::TIMETZ])
        .await
        .unwrap();
    for bad in [
        vec![0u8; 11],
        [(86_400_000_001i64).to_be_bytes().as_slice(), &[0; 4]].concat(),
        [0i64.to_be_bytes().as_slice(), &57_600i32.to_be_bytes()].concat(),
    ] {
        assert!(c.query_one(&stmt, &[&RawParam(bad)]).await.is_err());
    }
    let row = c.query_one("SELECT 1", &[]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);
}

/// Runs psql against the cluster with `args`; returns stdout, failing on errors.
fn psql(cluster: &Cluster, args: &[&str]) -> String {
    let addr = cluster.writer.as_ref().unwrap().addr.clone();
    let (host, port) = addr.rsplit_once(':').unwrap();
    let out =
        std::process::Command::new(std::path::Path::new(common::postgres::PG_BIN).join("psql"))
            .args([
                "-X", "-h", host, "-p", port, "-U", "borealis", "-d", "borealis",
            ])
            .args(["-v", "ON_ERROR_STOP=1"])
            .args(args)
            .current_dir(&cluster.dir)
            .output()
            .expect("run psql");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success() && !stderr.contains("ERROR"),
        "psql {args:?} failed:\n{stdout}\n{stderr}"
    );
    stdout
}

/// COPY writes numeric, bytea and uuid in PostgreSQL's text and CSV forms (the expected lines
/// are PostgreSQL 15's), and reads its own output back to the same values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_round_trips_the_new_types() {
    let _g = serial();
    let cluster = Cluster::start("sql-types-copy");
    let c = cluster.client().await;
    c.batch_execute(
        "CREATE TABLE ct (n numeric(6,2), b bytea, u uuid, t text);
         INSERT INTO ct VALUES (1.5, '\\x00ff5c', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'x'),
           (-0.004, '', NULL, NULL),
           ('NaN', 'a\\\\b', '00000000-0000-0000-0000-000000000000', 'q,\"r');
         CREATE TABLE ct2 (n numeric(6,2), b bytea, u uuid, t text)",
    )
    .await
    .unwrap();
    let text = psql(&cluster, &["-c", "COPY ct TO STDOUT"]);
    assert_eq!(
        text,
        "1.50\t\\\\x00ff5c\ta0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\tx\n\
         0.00\t\\\\x\t\\N\t\\N\n\
         NaN\t\\\\x615c62\t00000000-0000-0000-0000-000000000000\tq,\"r\n"
    );
    let csv = psql(&cluster, &["-c", "COPY ct TO STDOUT (FORMAT csv)"]);
    assert_eq!(
        csv,
        "1.50,\\x00ff5c,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,x\n\
         0.00,\\x,,\n\
         NaN,\\x615c62,00000000-0000-0000-0000-000000000000,\"q,\"\"r\"\n"
    );
    std::fs::write(cluster.dir.join("ct.tsv"), &text).unwrap();
    std::fs::write(cluster.dir.join("ct.csv"), &csv).unwrap();
    let out = psql(&cluster, &["-c", "\\copy ct2 from 'ct.tsv'"]);
    assert!(out.contains("COPY 3"), "{out}");
    let out = psql(&cluster, &["-c", "\\copy ct2 from 'ct.csv' with csv"]);
    assert!(out.contains("COPY 3"), "{out}");
    let back = psql(&cluster, &["-c", "COPY ct2 TO STDOUT"]);
    assert_eq!(back, format!("{text}{text}"));
    // A value too wide for numeric(6,2) is refused with the column's 22003.
    std::fs::write(cluster.dir.join("wide.tsv"), "12345.6\t\\N\t\\N\t\\N\n").unwrap();
    let err = psql_fails(&cluster, &["-c", "\\copy ct2 from 'wide.tsv'"]);
    assert!(err.contains("numeric field overflow"), "{err}");
}

/// COPY writes the date/time types in PostgreSQL's text form (the expected lines are
/// PostgreSQL 15's, in TimeZone UTC) and reads them back to the same values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_round_trips_the_datetime_types() {
    let _g = serial();
    let cluster = Cluster::start("sql-types-copy-dt");
    let c = cluster.client().await;
    c.batch_execute(
        "CREATE TABLE cd (d date, ts timestamp, tz timestamptz, t time, i interval);
         INSERT INTO cd VALUES ('2024-05-01', '2024-05-01 10:00:00.5', '2024-05-01 10:00+02',
             '23:59:59.999999', '1 year 2 mons -3 days 04:05:06'),
           ('0044-03-15 BC', '-infinity', 'infinity', '24:00', '-1 day'),
           (NULL, NULL, NULL, NULL, NULL);
         CREATE TABLE cd2 (d date, ts timestamp, tz timestamptz, t time, i interval)",
    )
    .await
    .unwrap();
    let text = psql(&cluster, &["-c", "COPY cd TO STDOUT"]);
    assert_eq!(
        text,
        "2024-05-01\t2024-05-01 10:00:00.5\t2024-05-01 08:00:00+00\t23:59:59.999999\t\
         1 year 2 mons -3 days +04:05:06\n\
         0044-03-15 BC\t-infinity\tinfinity\t24:00:00\t-1 days\n\
         \\N\t\\N\t\\N\t\\N\t\\N\n"
    );
    std::fs::write(cluster.dir.join("cd.tsv"), &text).unwrap();
    let out = psql(&cluster, &["-c", "\\copy cd2 from 'cd.tsv'"]);
    assert!(out.contains("COPY 3"), "{out}");
    let back = psql(&cluster, &["-c", "COPY cd2 TO STDOUT"]);
    assert_eq!(back, text);
    // A timestamptz without a zone is read in the session's zone.
    std::fs::write(cluster.dir.join("z.tsv"), "2024-01-01 00:00\n").unwrap();
    let out = psql(
        &cluster,
        &[
            "-c",
            "SET TimeZone = '+05'",
            "-c",
            "\\copy cd2 (tz) from 'z.tsv'",
        ],
    );
    assert!(out.contains("COPY 1"), "{out}");
    let row = c
        .query_one("SELECT tz::text FROM cd2 WHERE tz < '2024-02-01'", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "2023-12-31 19:00:00+00");
    // In a zone with daylight saving time, COPY reads a local time with the offset of its date;
    // a timetz keeps the offset it was written with.
    c.batch_execute("CREATE TABLE cz (tz timestamptz, tt timetz)")
        .await
        .unwrap();
    std::fs::write(
        cluster.dir.join("cz.tsv"),
        "2024-07-01 12:00\t12:00:00+05:30\n2024-01-01 12:00\t23:59:59.5-03\n",
    )
    .unwrap();
    let out = psql(
        &cluster,
        &[
            "-c",
            "SET TimeZone = 'Europe/Paris'",
            "-c",
            "\\copy cz from 'cz.tsv'",
            "-c",
            "COPY cz TO STDOUT",
        ],
    );
    assert!(
        out.ends_with(
            "2024-07-01 12:00:00+02\t12:00:00+05:30\n2024-01-01 12:00:00+01\t23:59:59.5-03\n"
        ),
        "{out}"
    );
    let rows = c
        .query("SELECT tz::text, tt::text FROM cz ORDER BY tz", &[])
        .await
        .unwrap();
    let got: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        got,
        [
            (
                "2024-01-01 11:00:00+00".to_string(),
                "23:59:59.5-03".to_string()
            ),
            (
                "2024-07-01 10:00:00+00".to_string(),
                "12:00:00+05:30".to_string()
            ),
        ]
    );
    // COPY reads a column of restricted interval fields with them: a bare number counts the
    // last field, `1:30` is hours and minutes for `interval minute` (PostgreSQL 15's output).
    c.batch_execute("CREATE TABLE cim (a interval minute, b interval day to second(1))")
        .await
        .unwrap();
    std::fs::write(cluster.dir.join("cim.tsv"), "10\t1 2:03:04.56\n1:30\t5\n").unwrap();
    let out = psql(
        &cluster,
        &[
            "-c",
            "\\copy cim from 'cim.tsv'",
            "-c",
            "COPY cim TO STDOUT",
        ],
    );
    assert!(
        out.ends_with("00:10:00\t1 day 02:03:04.6\n01:30:00\t00:00:05\n"),
        "{out}"
    );
}

/// COPY writes json (its text as written) and jsonb (normalised) in PostgreSQL's text and CSV
/// forms (the expected lines are PostgreSQL 15's), and reads its own output back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_round_trips_json() {
    let _g = serial();
    let cluster = Cluster::start("sql-types-copy-json");
    let c = cluster.client().await;
    c.batch_execute(
        r#"CREATE TABLE cj (id int, j json, b jsonb);
         INSERT INTO cj VALUES (1, '{"a": "x\ty",  "a": 1}', '{"s": "tab\there \\ back", "n": [1, 2.50]}'),
           (2, NULL, 'null'), (3, '"q,\"r"', '"q,\"r"');
         CREATE TABLE cj2 (id int, j json, b jsonb)"#,
    )
    .await
    .unwrap();
    let text = psql(&cluster, &["-c", "COPY cj TO STDOUT"]);
    assert_eq!(
        text,
        "1\t{\"a\": \"x\\\\ty\",  \"a\": 1}\t{\"n\": [1, 2.50], \"s\": \"tab\\\\there \\\\\\\\ back\"}\n\
         2\t\\N\tnull\n\
         3\t\"q,\\\\\"r\"\t\"q,\\\\\"r\"\n"
    );
    let csv = psql(&cluster, &["-c", "COPY cj TO STDOUT (FORMAT csv)"]);
    assert_eq!(
        csv,
        "1,\"{\"\"a\"\": \"\"x\\ty\"\",  \"\"a\"\": 1}\",\"{\"\"n\"\": [1, 2.50], \"\"s\"\": \"\"tab\\there \\\\ back\"\"}\"\n\
         2,,null\n\
         3,\"\"\"q,\\\"\"r\"\"\",\"\"\"q,\\\"\"r\"\"\"\n"
    );
    std::fs::write(cluster.dir.join("cj.tsv"), &text).unwrap();
    std::fs::write(cluster.dir.join("cj.csv"), &csv).unwrap();
    let out = psql(&cluster, &["-c", "\\copy cj2 from 'cj.tsv'"]);
    assert!(out.contains("COPY 3"), "{out}");
    let out = psql(&cluster, &["-c", "\\copy cj2 from 'cj.csv' with csv"]);
    assert!(out.contains("COPY 3"), "{out}");
    let back = psql(&cluster, &["-c", "COPY cj2 TO STDOUT"]);
    assert_eq!(back, format!("{text}{text}"));
    // Malformed JSON in the data is refused with json's error.
    std::fs::write(cluster.dir.join("bad.tsv"), "4\t{bad\t{}\n").unwrap();
    let err = psql_fails(&cluster, &["-c", "\\copy cj2 from 'bad.tsv'"]);
    assert!(err.contains("invalid input syntax for type json"), "{err}");
}

/// Runs psql expecting it to fail; returns its stderr.
fn psql_fails(cluster: &Cluster, args: &[&str]) -> String {
    let addr = cluster.writer.as_ref().unwrap().addr.clone();
    let (host, port) = addr.rsplit_once(':').unwrap();
    let out =
        std::process::Command::new(std::path::Path::new(common::postgres::PG_BIN).join("psql"))
            .args([
                "-X", "-h", host, "-p", port, "-U", "borealis", "-d", "borealis",
            ])
            .args(["-v", "ON_ERROR_STOP=1"])
            .args(args)
            .current_dir(&cluster.dir)
            .output()
            .expect("run psql");
    assert!(!out.status.success(), "psql {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Arrays through tokio-postgres, which sends and reads them in binary: `Vec`s as parameters
/// and results, NULL elements as `Option`s, `= ANY($1)` with a bound array (the ORM's IN), an
/// empty array, and malformed binary arrays refused with an error while the connection stays
/// usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrays_travel_as_vectors_through_tokio_postgres() {
    let _g = serial();
    let cluster = Cluster::start("sql-types-arrays");
    let c = cluster.client().await;
    c.batch_execute(
        "CREATE TABLE va (id int PRIMARY KEY, ints int[], words text[], bigs bigint[]);
         INSERT INTO va VALUES (1, '{1,2}', '{a}', '{1,NULL}'), (2, '{}', '{}', '{}'),
                               (3, NULL, NULL, NULL)",
    )
    .await
    .unwrap();
    let ints: Vec<i32> = vec![7, -1, i32::MAX];
    let words: Vec<String> = vec!["x y".into(), "\"q\"".into(), "NULL".into(), String::new()];
    let bigs: Vec<Option<i64>> = vec![Some(i64::MIN), None, Some(5)];
    c.execute(
        "INSERT INTO va VALUES ($1, $2, $3, $4)",
        &[&4i32, &ints, &words, &bigs],
    )
    .await
    .unwrap();
    let row = c
        .query_one("SELECT ints, words, bigs FROM va WHERE id = 4", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, Vec<i32>>(0), ints);
    assert_eq!(row.get::<_, Vec<String>>(1), words);
    assert_eq!(row.get::<_, Vec<Option<i64>>>(2), bigs);
    // The text form as the server prints it.
    let text = c
        .query_one("SELECT words::text FROM va WHERE id = 4", &[])
        .await
        .unwrap();
    assert_eq!(text.get::<_, String>(0), r#"{"x y","\"q\"","NULL",""}"#);
    let ids: Vec<i32> = c
        .query(
            "SELECT id FROM va WHERE id = ANY($1) ORDER BY id",
            &[&vec![3i32, 1, 99]],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, vec![1, 3]);
    let none: Vec<i32> = Vec::new();
    let rows = c
        .query("SELECT id FROM va WHERE id = ANY($1)", &[&none])
        .await
        .unwrap();
    assert!(rows.is_empty());
    let empty = c
        .query_one("SELECT ints FROM va WHERE id = 2", &[])
        .await
        .unwrap();
    assert_eq!(empty.get::<_, Vec<i32>>(0), Vec::<i32>::new());
    let agg = c
        .query_one("SELECT array_agg(id ORDER BY id) FROM va", &[])
        .await
        .unwrap();
    assert_eq!(agg.get::<_, Vec<i32>>(0), vec![1, 2, 3, 4]);
    // Malformed binary arrays: two dimensions, the wrong element type, a truncated element.
    let st = c.prepare("SELECT $1::int[]").await.unwrap();
    assert_eq!(st.params()[0], Type::INT4_ARRAY);
    let mut two_dims = Vec::new();
    for x in [2i32, 0, 23, 1, 1, 1, 1, 4, 1, 4, 2] {
        two_dims.extend_from_slice(&x.to_be_bytes());
    }
    let mut wrong_elem = Vec::new();
    for x in [1i32, 0, 20, 1, 1, 8] {
        wrong_elem.extend_from_slice(&x.to_be_bytes());
    }
    wrong_elem.extend_from_slice(&5i64.to_be_bytes());
    let mut truncated = Vec::new();
    for x in [1i32, 0, 23, 2, 1, 4, 1, 4] {
        truncated.extend_from_slice(&x.to_be_bytes());
    }
    for (bytes, code) in [
        (two_dims, "0A000"),
        (wrong_elem, "42804"),
        (truncated, "22P03"),
    ] {
        let e = c.query(&st, &[&RawParam(bytes)]).await.unwrap_err();
        assert_eq!(e.as_db_error().map(|d| d.code().code()), Some(code), "{e}");
    }
    let one = c.query_one("SELECT 1", &[]).await.unwrap();
    assert_eq!(one.get::<_, i32>(0), 1);
    // COPY in text and CSV: arrays with quotes, commas, NULL elements and the string NULL go
    // in, read back as their values, and come out as they went in.
    {
        use futures::{SinkExt, TryStreamExt};
        c.batch_execute("CREATE TABLE vc (id int PRIMARY KEY, tags text[], nums int[])")
            .await
            .unwrap();
        let text_in = "1\t{a,\"b c\",NULL,\"NULL\"}\t{1,NULL}\n2\t{}\t\\N\n";
        let sink = c.copy_in("COPY vc FROM STDIN").await.unwrap();
        let mut sink = std::pin::pin!(sink);
        sink.send(bytes::Bytes::from(text_in)).await.unwrap();
        sink.as_mut().finish().await.unwrap();
        let csv_in = "3,\"{x,\"\"y,z\"\"}\",{7}\n";
        let sink = c.copy_in("COPY vc FROM STDIN (FORMAT csv)").await.unwrap();
        let mut sink = std::pin::pin!(sink);
        sink.send(bytes::Bytes::from(csv_in)).await.unwrap();
        sink.as_mut().finish().await.unwrap();
        let rows = c
            .query("SELECT tags, nums FROM vc ORDER BY id", &[])
            .await
            .unwrap();
        let tags: Vec<Option<Vec<Option<String>>>> = rows.iter().map(|r| r.get(0)).collect();
        let some = |v: &[Option<&str>]| Some(v.iter().map(|s| s.map(String::from)).collect());
        assert_eq!(
            tags,
            vec![
                some(&[Some("a"), Some("b c"), None, Some("NULL")]),
                some(&[]),
                some(&[Some("x"), Some("y,z")]),
            ]
        );
        let out: Vec<bytes::Bytes> = c
            .copy_out("COPY vc TO STDOUT")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let out: Vec<u8> = out.concat();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1\t{a,\"b c\",NULL,\"NULL\"}\t{1,NULL}\n2\t{}\t\\N\n3\t{x,\"y,z\"}\t{7}\n"
        );
        let out: Vec<bytes::Bytes> = c
            .copy_out("COPY vc TO STDOUT (FORMAT csv)")
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8(out.concat()).unwrap(),
            "1,\"{a,\"\"b c\"\",NULL,\"\"NULL\"\"}\",\"{1,NULL}\"\n2,{},\n3,\"{x,\"\"y,z\"\"}\",{7}\n"
        );
    }
    // Multi-dimensional arrays are refused, never flattened (PostgreSQL builds them).
    for sql in [
        "SELECT '{{1,2},{3,4}}'::int[]",
        "SELECT ARRAY[[1,2],[3,4]]",
        "SELECT array_fill(1, ARRAY[2,2])",
        "SELECT '[0:1]={1,2}'::int[]",
    ] {
        let e = c.simple_query(sql).await.unwrap_err();
        assert_eq!(
            e.as_db_error().map(|d| d.code().code()),
            Some("0A000"),
            "{sql}: {e}"
        );
    }
}

/// The temporary files the writer process holds now.
fn spill_files(pid: u32) -> Vec<String> {
    let prefix = format!("borealis-spill-{pid}-");
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

/// A result far larger than the result budget (16 MiB, whatever `work_mem` says) goes to a
/// temporary file as it is produced and is read back as it is sent: every row arrives in order
/// over the simple and the extended protocol, through portals with a row limit and through
/// COPY TO, the file is gone afterwards, and the writer's peak memory grows by far less than
/// the result (it grew by about two and a half times the result when results were collected
/// in memory).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_results_are_sent_from_a_file_not_from_memory() {
    use futures::StreamExt;
    const ROWS: i32 = 150_000;
    const PAD: usize = 600;
    let _g = serial();
    let cluster = Cluster::start("sql-big-results");
    let pid = cluster.writer.as_ref().unwrap().child.id();
    let c = cluster.client().await;
    c.batch_execute(&format!(
        "CREATE TABLE big (id int PRIMARY KEY, n int); \
         INSERT INTO big SELECT g, g % 1000 FROM generate_series(1, {ROWS}) g"
    ))
    .await
    .unwrap();
    let query = format!("SELECT id, repeat(chr(97 + n % 26), {PAD}) AS pad FROM big ORDER BY id");
    let pad = |id: i32| {
        let ch = char::from(b'a' + u8::try_from(id % 1000 % 26).unwrap());
        ch.to_string().repeat(PAD)
    };
    // Warm up: the buffer pool and the allocator reach their working size on a small result.
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM big WHERE length(repeat('x', n)) >= 0",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, i64::from(ROWS));
    let (before, _) = cluster.writer_memory_kib();

    // Extended protocol, binary.
    let rows = c.query(&query, &[]).await.unwrap();
    assert_eq!(rows.len(), ROWS as usize);
    for (k, r) in rows.iter().enumerate() {
        let id: i32 = r.get(0);
        assert_eq!(id, i32::try_from(k).unwrap() + 1);
        assert_eq!(r.get::<_, String>(1), pad(id));
    }
    drop(rows);
    let (after, _) = cluster.writer_memory_kib();
    let result_kib = u64::try_from(ROWS).unwrap() * (PAD as u64 + 8) / 1024;
    assert!(
        after.saturating_sub(before) < result_kib / 2,
        "the writer's peak grew from {before} KiB to {after} KiB for a {result_kib} KiB result"
    );
    assert!(spill_files(pid).is_empty(), "the result's file is removed");

    // Simple protocol, text.
    let mut next = 1;
    for m in c.simple_query(&query).await.unwrap() {
        if let SimpleQueryMessage::Row(r) = m {
            assert_eq!(r.get(0), Some(next.to_string().as_str()));
            assert_eq!(r.get(1), Some(pad(next).as_str()));
            next += 1;
        }
    }
    assert_eq!(next, ROWS + 1);

    // A portal paged 10 000 rows per Execute.
    let mut c = c;
    let tx = c.transaction().await.unwrap();
    let portal = tx.bind(query.as_str(), &[]).await.unwrap();
    let mut next = 1;
    loop {
        let rows = tx.query_portal(&portal, 10_000).await.unwrap();
        if rows.is_empty() {
            break;
        }
        for r in rows {
            assert_eq!(r.get::<_, i32>(0), next);
            next += 1;
        }
    }
    assert_eq!(next, ROWS + 1);
    tx.commit().await.unwrap();

    // COPY TO, a line per row.
    let copy = c
        .copy_out(&format!("COPY ({query}) TO STDOUT"))
        .await
        .unwrap();
    let mut data = Vec::new();
    let mut copy = std::pin::pin!(copy);
    while let Some(chunk) = copy.next().await {
        data.extend_from_slice(&chunk.unwrap());
    }
    let text = String::from_utf8(data).unwrap();
    let mut lines = 0;
    for (k, line) in text.lines().enumerate() {
        let id = i32::try_from(k).unwrap() + 1;
        assert_eq!(line, format!("{id}\t{}", pad(id)));
        lines += 1;
    }
    assert_eq!(lines, ROWS);
    assert!(spill_files(pid).is_empty(), "the COPY's file is removed");
}

/// A cursor over far more rows than `work_mem` keeps them in a temporary file, reads all of
/// them back in order a chunk at a time (and backward), and removes the file when closed or
/// when the session ends; protocol portals page through the same rows with a row limit per
/// Execute (tokio-postgres `bind` + `query_portal`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_cursors_spill_and_portals_page_through_every_row() {
    const ROWS: i32 = 200_000;
    let _g = serial();
    let cluster = Cluster::start("sql-cursors-big");
    let pid = cluster.writer.as_ref().unwrap().child.id();
    let mut c = cluster.client().await;
    let pad = |id: i32| format!("{}{id}", "x".repeat((id % 37) as usize));
    c.batch_execute(&format!(
        "CREATE TABLE big (id int PRIMARY KEY, pad text); \
         INSERT INTO big SELECT g, repeat('x', g % 37) || g FROM generate_series(1, {ROWS}) g"
    ))
    .await
    .unwrap();
    c.batch_execute(
        "SET work_mem = '64kB'; BEGIN; DECLARE s CURSOR FOR SELECT id, pad FROM big ORDER BY id",
    )
    .await
    .unwrap();
    assert_eq!(
        spill_files(pid).len(),
        1,
        "the cursor's rows are in one file"
    );
    let mut next = 1;
    loop {
        let rows = c.query("FETCH 7000 FROM s", &[]).await.unwrap();
        if rows.is_empty() {
            break;
        }
        for r in rows {
            let (id, p): (i32, String) = (r.get(0), r.get(1));
            assert_eq!((id, p.as_str()), (next, pad(next).as_str()));
            next += 1;
        }
    }
    assert_eq!(next, ROWS + 1, "every row came back");
    let back: Vec<i32> = c
        .query("FETCH BACKWARD 3 FROM s", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(back, [ROWS, ROWS - 1, ROWS - 2]);
    let one = c.query("FETCH ABSOLUTE 129 FROM s", &[]).await.unwrap();
    assert_eq!(one[0].get::<_, i32>(0), 129);
    c.batch_execute("CLOSE s").await.unwrap();
    assert!(spill_files(pid).is_empty(), "CLOSE removes the file");
    // A held cursor's file outlives COMMIT and goes with the session.
    c.batch_execute("DECLARE h CURSOR WITH HOLD FOR SELECT id, pad FROM big; COMMIT")
        .await
        .unwrap();
    assert_eq!(spill_files(pid).len(), 1);
    assert_eq!(
        c.query("FETCH LAST FROM h", &[]).await.unwrap()[0].get::<_, i32>(0),
        ROWS
    );

    // Portals: 200k rows in Executes of 6000, and a parameterised one.
    let tx = c.transaction().await.unwrap();
    let portal = tx
        .bind("SELECT id, pad FROM big ORDER BY id", &[])
        .await
        .unwrap();
    let mut next = 1;
    loop {
        let rows = tx.query_portal(&portal, 6000).await.unwrap();
        if rows.is_empty() {
            break;
        }
        assert!(rows.len() <= 6000);
        for r in rows {
            assert_eq!(r.get::<_, i32>(0), next);
            assert_eq!(r.get::<_, String>(1), pad(next));
            next += 1;
        }
    }
    assert_eq!(next, ROWS + 1);
    let p2 = tx
        .bind(
            "SELECT id FROM big WHERE id > $1 ORDER BY id DESC",
            &[&(ROWS - 10)],
        )
        .await
        .unwrap();
    let a: Vec<i32> = tx
        .query_portal(&p2, 4)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let b: Vec<i32> = tx
        .query_portal(&p2, 100)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(a, (ROWS - 3..=ROWS).rev().collect::<Vec<_>>());
    assert_eq!(b, (ROWS - 9..=ROWS - 4).rev().collect::<Vec<_>>());
    assert!(tx.query_portal(&p2, 100).await.unwrap().is_empty());
    tx.commit().await.unwrap();
    drop(c);
    // The session's end removes the held cursor's file.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !spill_files(pid).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the session's end left its cursor's file"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// `sql_records.golden`: whole-row references and record values — ROW(...) and `(a, b)` as
/// values, their text and binary forms, record order, grouping and NULL tests, row_to_json and
/// the json functions and aggregates over records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_answer_as_postgresql_does() {
    run_golden("sql_records.golden", "sql-records", false).await;
}

/// `sql_scan_agg.golden`: full scans and hash aggregation over thousands of rows — plain-column
/// grouping keys, count/sum/avg of integer columns, integer comparisons in filters, and scans
/// that merge the transaction's own writes or meet rolled-back versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_and_aggregates_answer_as_postgresql_does() {
    run_golden("sql_scan_agg.golden", "sql-scan-agg", false).await;
}

/// `sql_jsonpath.golden`: jsonpath — its canonical text and syntax errors, every accessor,
/// filters and predicates, lax and strict mode with their errors, item methods, variables,
/// `silent`, the jsonb_path_* functions, `@?` and `@@` over a table, NULLs and binary forms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonpath_answers_as_postgresql_does() {
    run_golden("sql_jsonpath.golden", "sql-jsonpath", true).await;
}
