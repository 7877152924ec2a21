//! Differential test: the same random SELECTs run on Borealis and on a real PostgreSQL 15, and
//! their answers must agree.
//!
//! ```text
//!   seed ─▶ Rng ─┬─▶ three tables, the same rows ──────────────▶ Borealis and PostgreSQL
//!                └─▶ Gen ─▶ SELECT ─┬─▶ Borealis  ──▶ rows | SQLSTATE ─┐
//!                                   └─▶ PostgreSQL ──▶ rows | SQLSTATE ─┴─▶ compare
//! ```
//!
//! One seed fixes everything: the rows of the tables (NULLs and duplicates included; a primary
//! key and secondary indexes on each, so both access paths are exercised) and the sequence of
//! queries. The generator builds typed expressions (arithmetic with and without parentheses,
//! both forms of CASE, COALESCE, NULLIF, casts, string functions and `||`), predicates
//! (comparisons, also of int with float8, AND/OR/NOT, IS [NOT] NULL, IS [NOT] DISTINCT FROM,
//! BETWEEN, IN lists with NULLs, LIKE, ILIKE, and scalar, IN, ANY/ALL and EXISTS subqueries,
//! correlated or not), and queries over them: projections with DISTINCT, inner/left/right/full/
//! cross joins of two tables, GROUP BY columns or expressions with aggregates (count, count
//! DISTINCT, sum, min, max, avg; with FILTER) and HAVING, constants in GROUP BY and ORDER BY
//! (positions or errors), aggregates over the whole input, UNION/INTERSECT/EXCEPT [ALL] of two or
//! three operands, common table expressions (WITH, and WITH RECURSIVE with UNION and UNION ALL),
//! window functions (ranking, lag/lead, first/last/nth_value and the aggregates over ROWS, GROUPS
//! and RANGE frames, partitioned or not), ORDER BY with NULLS FIRST/LAST, LIMIT and OFFSET, and
//! statements that must fail (division by zero, overflow, a scalar subquery with two rows, unknown
//! names).
//!
//! Comparison rules, which hold for any correct implementation:
//! - Both succeed with the same rows, or both fail with the same SQLSTATE.
//! - Without ORDER BY the rows are compared as multisets. ORDER BY names output columns by
//!   position, so the sequence of sort keys must agree row by row, and rows with equal keys form
//!   multisets. A LIMIT or OFFSET only ever comes with an ORDER BY over every output column, a
//!   total order, so the rows kept are the same ones.
//! - Values are compared in their text form, by the type of their column (learned by preparing
//!   the statement): integers as integers, exactly; float8 as numbers within a relative
//!   tolerance of 1e-9, since sums of floats may be added up in another order; everything else,
//!   `numeric` included (`avg` of integers is `2.5000000000000000` in both), byte for byte. The data's floats are multiples of
//!   1/8, so most sums are exact anyway. -0 and 0 are equal numbers, as they are to SQL: which of
//!   two equal values DISTINCT, GROUP BY, a set operation or a sort keeps is the system's choice.
//!
//! PostgreSQL runs with the C collation (`--no-locale`), as Borealis compares text bytewise.
//!
//! Which row an error surfaces on, and whether it surfaces at all when a filter or a LIMIT could
//! skip that row, legitimately depends on the plan. So the random expressions cannot fail:
//! division and modulo always divide by `NULLIF(divisor, 0)`, multiplication is by small
//! constants only; errors come from a list of statements that fail on every row they read.
//!
//! A fixed list of seeds runs by default; `BOREALIS_DIFF_SEED=N` runs seed N alone, with
//! `BOREALIS_DIFF_QUERIES=M` queries (default [`QUERIES_PER_SEED`]). A mismatch fails the test,
//! printing the seed, the query's number, its SQL and both answers. `BOREALIS_DIFF_VERBOSE=1`
//! prints every query with PostgreSQL's answer.
//!
//! Constructs left out because Borealis does not yet answer them as PostgreSQL does are marked
//! `Excluded:` where the generator would otherwise produce them. Differences found outside the
//! generator's grammar, which it therefore never produces (remove from this list when fixed, and
//! teach the generator the construct):
//! - `upper`/`lower` map beyond ASCII (`upper('straße')` is `STRASSE`); the data is ASCII.
//! - A `sum` of int8 past the int8 range fails with 22003; PostgreSQL's sum is numeric.

// Tests hold the serial lock across awaits on purpose: one cluster at a time.
#![allow(clippy::await_holding_lock)]

mod common;

use common::postgres::Postgres;
use common::{Cluster, serial};
use std::cmp::Ordering;
use std::fmt::Write as _;
use std::time::Duration;
use tokio_postgres::{Client, SimpleQueryMessage};

/// Seeds run by default (in CI).
const SEEDS: &[u64] = &[1, 2, 3, 4];
/// Queries generated per seed by default.
const QUERIES_PER_SEED: usize = 500;
/// Upper bound on the queries of one run, whatever the environment asks for.
const QUERIES_MAX: usize = 100_000;
/// Mismatches collected before the test stops and reports them.
const MISMATCHES_MAX: usize = 10;
/// Rows of an answer printed in a report.
const ROWS_SHOWN_MAX: usize = 25;
/// Longest either system may take to answer one statement.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Randomness.
// ---------------------------------------------------------------------------------------------

/// xorshift64*: small, fast, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // A zero state would stay zero; mix the seed so that small seeds differ at once.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "below(0)");
        (self.next() % n as u64) as usize
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    /// True with probability `percent`/100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

// ---------------------------------------------------------------------------------------------
// The tables and their rows.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ty {
    Int,
    Float,
    Text,
    Bool,
}

struct Table {
    name: &'static str,
    columns: &'static [(&'static str, Ty)],
}

const T1: Table = Table {
    name: "t1",
    columns: &[
        ("id", Ty::Int),
        ("a", Ty::Int),
        ("b", Ty::Int),
        ("s", Ty::Text),
        ("f", Ty::Float),
        ("flag", Ty::Bool),
    ],
};
const T2: Table = Table {
    name: "t2",
    columns: &[
        ("id", Ty::Int),
        ("t1_id", Ty::Int),
        ("c", Ty::Int),
        ("s", Ty::Text),
        ("g", Ty::Float),
    ],
};
const T3: Table = Table {
    name: "t3",
    columns: &[("k", Ty::Int), ("name", Ty::Text), ("w", Ty::Int)],
};

const T1_ROWS: usize = 300;
const T2_ROWS: usize = 200;
const T3_ROWS: usize = 20;

/// Words for text columns and literals: duplicates by construction, mixed case, the empty string,
/// and LIKE's special characters.
const WORDS: &[&str] = &[
    "apple", "banana", "cherry", "Apple", "date", "fig", "grape", "kiwi", "lemon", "mango", "a_c",
    "a%c", "", "berry", "plum", "pear", "apricot", "zebra",
];

fn text_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A float that is a multiple of 1/8 (exact in binary), as SQL.
fn float_literal(eighths: i64) -> String {
    let v = eighths as f64 / 8.0;
    if v < 0.0 {
        format!("(-{}::float8)", -v)
    } else {
        format!("{v}::float8")
    }
}

fn int_literal(v: i64) -> String {
    if v < 0 {
        format!("(-{})", -v)
    } else {
        v.to_string()
    }
}

/// NULL with probability `percent`/100, else a value drawn by `value`.
fn null_or(rng: &mut Rng, percent: usize, value: impl FnOnce(&mut Rng) -> String) -> String {
    if rng.chance(percent) {
        "NULL".into()
    } else {
        value(rng)
    }
}

/// The statements that create and fill the tables, the same for both systems.
fn schema_and_rows(rng: &mut Rng) -> Vec<String> {
    let mut out = vec![
        "DROP TABLE IF EXISTS t1".to_string(),
        "DROP TABLE IF EXISTS t2".to_string(),
        "DROP TABLE IF EXISTS t3".to_string(),
        "CREATE TABLE t1 (id int PRIMARY KEY, a int, b bigint, s text, f float8, flag bool)"
            .to_string(),
        "CREATE INDEX t1_a ON t1 (a)".to_string(),
        "CREATE INDEX t1_s_b ON t1 (s, b)".to_string(),
        "CREATE TABLE t2 (id int PRIMARY KEY, t1_id int, c int, s varchar(20), g float8)"
            .to_string(),
        "CREATE INDEX t2_t1_id ON t2 (t1_id)".to_string(),
        "CREATE TABLE t3 (k bigint PRIMARY KEY, name text, w int)".to_string(),
    ];
    let mut t1_ids = Vec::with_capacity(T1_ROWS);
    let mut rows = Vec::new();
    for i in 0..T1_ROWS as i64 {
        let id = 3 * i + rng.range(1, 3);
        t1_ids.push(id);
        let a = null_or(rng, 15, |rng| int_literal(rng.range(-20, 20)));
        let b = null_or(rng, 10, |rng| rng.range(0, 1000).to_string());
        let s = null_or(rng, 10, |rng| text_literal(rng.pick(WORDS)));
        let f = null_or(rng, 10, |rng| float_literal(rng.range(-400, 400)));
        let flag = null_or(rng, 20, |rng| rng.pick(&["true", "false"]).to_string());
        rows.push(format!("({id}, {a}, {b}, {s}, {f}, {flag})"));
    }
    insert_chunks(&mut out, "t1", &rows);
    rows.clear();
    for id in 1..=T2_ROWS as i64 {
        // Some references dangle (no such t1 row), some are NULL.
        let t1_id = null_or(rng, 10, |rng| {
            if rng.chance(15) {
                rng.range(0, 1000).to_string()
            } else {
                rng.pick(&t1_ids).to_string()
            }
        });
        let c = null_or(rng, 10, |rng| int_literal(rng.range(-10, 30)));
        let s = null_or(rng, 10, |rng| text_literal(rng.pick(WORDS)));
        let g = null_or(rng, 10, |rng| float_literal(rng.range(-200, 200)));
        rows.push(format!("({id}, {t1_id}, {c}, {s}, {g})"));
    }
    insert_chunks(&mut out, "t2", &rows);
    rows.clear();
    for i in 1..=T3_ROWS as i64 {
        let name = null_or(rng, 10, |rng| text_literal(rng.pick(WORDS)));
        let w = null_or(rng, 10, |rng| int_literal(rng.range(-5, 5)));
        rows.push(format!("({}, {name}, {w})", 10 * i));
    }
    insert_chunks(&mut out, "t3", &rows);
    out
}

fn insert_chunks(out: &mut Vec<String>, table: &str, rows: &[String]) {
    for chunk in rows.chunks(100) {
        out.push(format!("INSERT INTO {table} VALUES {}", chunk.join(", ")));
    }
}

// ---------------------------------------------------------------------------------------------
// The query generator.
// ---------------------------------------------------------------------------------------------

/// A generated statement and what its answer's order means.
struct Query {
    sql: String,
    /// The output columns (0-based) of the ORDER BY, if any: the answer must follow them.
    order_by: Option<Vec<usize>>,
}

/// A table in the FROM clause of the query being generated, under its alias.
#[derive(Clone)]
struct Source {
    alias: String,
    table: &'static Table,
}

struct Gen {
    rng: Rng,
    /// The FROM clause of the query being generated; expressions refer to these columns.
    from: Vec<Source>,
    /// Whether expressions may contain subqueries (only at the outermost level: bounds the cost).
    subqueries: bool,
    /// Numbers subquery aliases so that they never shadow an outer one.
    aliases: usize,
}

/// Deepest nesting of generated expressions.
const DEPTH_MAX: u32 = 3;

impl Gen {
    fn new(rng: Rng) -> Gen {
        Gen {
            rng,
            from: Vec::new(),
            subqueries: false,
            aliases: 0,
        }
    }

    fn columns(&self, ty: Ty) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.from {
            for (name, t) in s.table.columns {
                if *t == ty {
                    out.push(format!("{}.{name}", s.alias));
                }
            }
        }
        out
    }

    fn column(&mut self, ty: Ty) -> Option<String> {
        let cols = self.columns(ty);
        if cols.is_empty() {
            None
        } else {
            Some(cols[self.rng.below(cols.len())].clone())
        }
    }

    fn literal(&mut self, ty: Ty) -> String {
        match ty {
            Ty::Int => int_literal(self.rng.range(-5, 25)),
            Ty::Float => float_literal(self.rng.range(-200, 200)),
            Ty::Text => {
                // Mostly words in the data, sometimes ones in between them.
                if self.rng.chance(80) {
                    text_literal(self.rng.pick(WORDS))
                } else {
                    text_literal(self.rng.pick(&["b", "c", "Z", "aa", "lemonade", "m"]))
                }
            }
            Ty::Bool => self.rng.pick(&["true", "false"]).to_string(),
        }
    }

    fn expr(&mut self, ty: Ty, depth: u32) -> String {
        match ty {
            Ty::Int => self.int_expr(depth),
            Ty::Float => self.float_expr(depth),
            Ty::Text => self.text_expr(depth),
            Ty::Bool => self.pred(depth),
        }
    }

    /// A leaf: mostly a column, sometimes a constant.
    fn leaf(&mut self, ty: Ty) -> String {
        if self.rng.chance(80)
            && let Some(c) = self.column(ty)
        {
            return c;
        }
        self.literal(ty)
    }

    fn case(&mut self, ty: Ty, depth: u32) -> String {
        let when = self.pred(depth + 1);
        let then = self.expr(ty, depth + 1);
        if self.rng.chance(25) {
            format!("CASE WHEN {when} THEN {then} END")
        } else {
            let otherwise = self.expr(ty, depth + 1);
            format!("CASE WHEN {when} THEN {then} ELSE {otherwise} END")
        }
    }

    /// `CASE operand WHEN value THEN … END`.
    fn simple_case(&mut self, ty: Ty, depth: u32) -> String {
        let operand = self.leaf(Ty::Int);
        let mut sql = format!("CASE {operand}");
        for _ in 0..self.rng.range(1, 3) {
            let value = self.literal(Ty::Int);
            let then = self.expr(ty, depth + 1);
            let _ = write!(sql, " WHEN {value} THEN {then}");
        }
        if self.rng.chance(60) {
            let _ = write!(sql, " ELSE {}", self.expr(ty, depth + 1));
        }
        sql.push_str(" END");
        sql
    }

    fn coalesce(&mut self, ty: Ty, depth: u32) -> String {
        let first = self.leaf(ty);
        let second = if self.rng.chance(50) {
            self.expr(ty, depth + 1)
        } else {
            self.literal(ty)
        };
        format!("COALESCE({first}, {second})")
    }

    fn int_expr(&mut self, depth: u32) -> String {
        if depth >= DEPTH_MAX {
            return self.leaf(Ty::Int);
        }
        let d = depth + 1;
        match self.rng.below(18) {
            0..=3 => self.leaf(Ty::Int),
            // Unparenthesized chains: precedence and left associativity.
            14 => format!(
                "({} - {} + {} * {})",
                self.leaf(Ty::Int),
                self.leaf(Ty::Int),
                self.leaf(Ty::Int),
                int_literal(self.rng.range(-3, 5))
            ),
            15 => format!(
                "({} - {} - {} % NULLIF({}, 0))",
                self.leaf(Ty::Int),
                self.leaf(Ty::Int),
                self.leaf(Ty::Int),
                self.leaf(Ty::Int)
            ),
            // float8 → int rounds half to even.
            16 => format!("CAST({} AS int)", self.float_expr(d)),
            17 => self.simple_case(Ty::Int, depth),
            4 => format!("({} + {})", self.int_expr(d), self.int_expr(d)),
            5 => format!("({} - {})", self.int_expr(d), self.int_expr(d)),
            // Multiplication by small constants only: products of columns could overflow on
            // some rows, and which row fails first depends on the plan.
            6 => format!(
                "({} * {})",
                self.int_expr(d),
                int_literal(self.rng.range(-3, 5))
            ),
            7 => {
                let op = self.rng.pick(&["/", "%"]);
                format!(
                    "({} {op} NULLIF({}, 0))",
                    self.int_expr(d),
                    self.int_expr(d)
                )
            }
            8 => format!("abs({})", self.int_expr(d)),
            9 => self.coalesce(Ty::Int, depth),
            10 => self.case(Ty::Int, depth),
            11 => format!("length({})", self.text_expr(d)),
            12 => format!("(-{})", self.int_expr(d)),
            _ => {
                if self.subqueries && depth <= 1 {
                    self.scalar_subquery()
                } else {
                    self.leaf(Ty::Int)
                }
            }
        }
    }

    fn float_expr(&mut self, depth: u32) -> String {
        if depth >= DEPTH_MAX {
            return self.leaf(Ty::Float);
        }
        let d = depth + 1;
        match self.rng.below(11) {
            0..=3 => self.leaf(Ty::Float),
            4 => {
                let op = self.rng.pick(&["+", "-", "*"]);
                format!("({} {op} {})", self.float_expr(d), self.float_expr(d))
            }
            5 => format!(
                "({} / NULLIF({}, 0))",
                self.float_expr(d),
                self.float_expr(d)
            ),
            6 => {
                let op = self.rng.pick(&["+", "-", "*"]);
                format!("({} {op} {})", self.int_expr(d), self.float_expr(d))
            }
            7 => format!("abs({})", self.float_expr(d)),
            8 => self.coalesce(Ty::Float, depth),
            9 => self.case(Ty::Float, depth),
            _ => format!("CAST({} AS float8)", self.int_expr(d)),
        }
    }

    fn text_expr(&mut self, depth: u32) -> String {
        if depth >= DEPTH_MAX {
            return self.leaf(Ty::Text);
        }
        let d = depth + 1;
        match self.rng.below(12) {
            0..=3 => self.leaf(Ty::Text),
            9 => format!("CAST({} AS text)", self.int_expr(d)),
            10 => format!("CAST({} AS text)", self.float_expr(d)),
            // `||` casts a non-text operand to text: a boolean reads `true`/`false`.
            11 if self.rng.chance(30) => format!("({} || ({}))", self.text_expr(d), self.pred(d)),
            11 => format!("({} || {})", self.text_expr(d), self.int_expr(d)),
            4 => {
                let f = self.rng.pick(&["lower", "upper"]);
                format!("{f}({})", self.text_expr(d))
            }
            5 => format!("({} || {})", self.text_expr(d), self.text_expr(d)),
            6 => self.coalesce(Ty::Text, depth),
            7 => self.case(Ty::Text, depth),
            _ => format!(
                "NULLIF({}, {})",
                self.leaf(Ty::Text),
                self.literal(Ty::Text)
            ),
        }
    }

    /// A boolean expression.
    fn pred(&mut self, depth: u32) -> String {
        if depth >= DEPTH_MAX {
            return self.comparison(depth);
        }
        let d = depth + 1;
        match self.rng.below(24) {
            0..=4 => self.comparison(depth),
            20 => {
                let ty = self.rng.pick(&[Ty::Int, Ty::Float, Ty::Text, Ty::Bool]);
                let left = self.leaf(ty);
                let right = self.leaf(ty);
                let not = if self.rng.chance(50) { " NOT" } else { "" };
                format!("({left} IS{not} DISTINCT FROM {right})")
            }
            21 => {
                let e = self.text_expr(d);
                let pattern = self.rng.pick(&["a%", "%AN%", "_A%", "%E", "A\\_C"]);
                let not = if self.rng.chance(30) { " NOT" } else { "" };
                format!("({e}{not} ILIKE {})", text_literal(pattern))
            }
            // int against float8: the int is converted.
            22 => {
                let op = self.rng.pick(&["=", "<>", "<", "<=", ">", ">="]);
                format!("{} {op} {}", self.int_expr(d), self.float_expr(d))
            }
            // Unparenthesized: NOT binds tighter than AND, AND tighter than OR.
            23 => format!(
                "({} OR {} AND NOT {})",
                self.comparison(d),
                self.comparison(d),
                self.comparison(d)
            ),
            5 => format!("({} AND {})", self.pred(d), self.pred(d)),
            6 => format!("({} OR {})", self.pred(d), self.pred(d)),
            7 => format!("(NOT {})", self.pred(d)),
            8 => {
                let ty = self.rng.pick(&[Ty::Int, Ty::Float, Ty::Text, Ty::Bool]);
                let e = if ty == Ty::Bool {
                    self.leaf(Ty::Bool)
                } else {
                    self.expr(ty, d)
                };
                let not = if self.rng.chance(40) { " NOT" } else { "" };
                format!("({e} IS{not} NULL)")
            }
            9 => {
                let ty = self.rng.pick(&[Ty::Int, Ty::Float, Ty::Text]);
                let e = self.expr(ty, d);
                let lo = self.leaf(ty);
                let hi = self.leaf(ty);
                let not = if self.rng.chance(30) { " NOT" } else { "" };
                format!("({e}{not} BETWEEN {lo} AND {hi})")
            }
            10 => {
                let ty = self.rng.pick(&[Ty::Int, Ty::Text]);
                let e = self.expr(ty, d);
                let n = self.rng.range(1, 5);
                let mut items = Vec::new();
                for _ in 0..n {
                    items.push(if self.rng.chance(10) {
                        "NULL".to_string()
                    } else {
                        self.literal(ty)
                    });
                }
                let not = if self.rng.chance(30) { " NOT" } else { "" };
                format!("({e}{not} IN ({}))", items.join(", "))
            }
            11 => {
                let e = self.text_expr(d);
                let pattern = self.rng.pick(&[
                    "a%", "%an%", "_a%", "%e", "%", "", "a\\_c", "a\\%c", "%r_", "A%", "%p%e%",
                ]);
                let not = if self.rng.chance(30) { " NOT" } else { "" };
                format!("({e}{not} LIKE {})", text_literal(pattern))
            }
            12 => {
                let b = self.leaf(Ty::Bool);
                match self.rng.below(3) {
                    0 => b,
                    1 => format!("(NOT {b})"),
                    _ => format!("({b} = {})", self.literal(Ty::Bool)),
                }
            }
            _ => {
                if self.subqueries && depth <= 1 {
                    self.subquery_pred()
                } else {
                    self.comparison(depth)
                }
            }
        }
    }

    fn comparison(&mut self, depth: u32) -> String {
        let d = depth + 1;
        let ty = self.rng.pick(&[Ty::Int, Ty::Int, Ty::Float, Ty::Text]);
        let op = self.rng.pick(&["=", "<>", "<", "<=", ">", ">="]);
        let left = self.expr(ty, d);
        let right = if self.rng.chance(50) {
            self.literal(ty)
        } else {
            self.expr(ty, d)
        };
        format!("{left} {op} {right}")
    }

    fn next_alias(&mut self) -> String {
        self.aliases += 1;
        format!("q{}", self.aliases)
    }

    /// Generates `f(inner)` with the FROM clause replaced by one table under a fresh alias and no
    /// further subqueries; returns what `f` returned and the alias.
    fn inside<T>(
        &mut self,
        table: &'static Table,
        f: impl FnOnce(&mut Gen, &str) -> T,
    ) -> (T, String) {
        let alias = self.next_alias();
        let outer = std::mem::replace(
            &mut self.from,
            vec![Source {
                alias: alias.clone(),
                table,
            }],
        );
        let subqueries = std::mem::replace(&mut self.subqueries, false);
        let out = f(self, &alias);
        self.from = outer;
        self.subqueries = subqueries;
        (out, alias)
    }

    /// A condition correlating a subquery over t2 (alias `inner`) with the outer query, if the
    /// outer query reads t1 or t2.
    fn correlation(&mut self, inner: &str, outer: &[Source]) -> Option<String> {
        let candidates: Vec<String> = outer
            .iter()
            .filter_map(|s| match s.table.name {
                "t1" => Some(format!("{inner}.t1_id = {}.id", s.alias)),
                "t2" => Some(format!("{inner}.c = {}.c", s.alias)),
                "t3" => Some(format!("{inner}.c = {}.w", s.alias)),
                _ => None,
            })
            .collect();
        if candidates.is_empty() {
            None
        } else {
            Some(candidates[self.rng.below(candidates.len())].clone())
        }
    }

    /// An int-valued scalar subquery: an aggregate, so always exactly one row.
    fn scalar_subquery(&mut self) -> String {
        let outer = self.from.clone();
        let correlated = self.rng.chance(60);
        let ((agg, mut cond), alias) = self.inside(&T2, |g, alias| {
            let agg = match g.rng.below(4) {
                0 => "count(*)".to_string(),
                1 => format!("max({alias}.c)"),
                2 => format!("min({alias}.id)"),
                _ => format!("sum({alias}.c)"),
            };
            (agg, g.pred(1))
        });
        if correlated && let Some(c) = self.correlation(&alias, &outer) {
            cond = format!("{c} AND {cond}");
        }
        format!("(SELECT {agg} FROM t2 AS {alias} WHERE {cond})")
    }

    /// EXISTS, IN or a comparison with a subquery.
    fn subquery_pred(&mut self) -> String {
        let outer = self.from.clone();
        match self.rng.below(5) {
            0 | 1 => {
                let ((mut cond, table), alias) = {
                    let table = if self.rng.chance(70) { &T2 } else { &T3 };
                    self.inside(table, |g, _| (g.pred(1), table))
                };
                if table.name == "t2"
                    && self.rng.chance(75)
                    && let Some(c) = self.correlation(&alias, &outer)
                {
                    cond = format!("{c} AND {cond}");
                }
                let not = if self.rng.chance(30) { "NOT " } else { "" };
                format!(
                    "({not}EXISTS (SELECT 1 FROM {} AS {alias} WHERE {cond}))",
                    table.name
                )
            }
            2 => {
                let e = self.int_expr(2);
                let ((column, cond), alias) = self.inside(&T2, |g, alias| {
                    let column = format!("{alias}.{}", g.rng.pick(&["c", "t1_id", "id"]));
                    (column, g.pred(1))
                });
                let not = if self.rng.chance(30) { " NOT" } else { "" };
                format!("({e}{not} IN (SELECT {column} FROM t2 AS {alias} WHERE {cond}))")
            }
            3 => {
                let e = self.int_expr(2);
                let op = self.rng.pick(&["=", "<", ">", "<>"]);
                let s = self.scalar_subquery();
                format!("{e} {op} {s}")
            }
            _ => {
                let e = self.int_expr(2);
                let op = self.rng.pick(&["=", "<", ">=", "<>"]);
                let quantifier = self.rng.pick(&["ANY", "ALL"]);
                let ((column, cond), alias) = self.inside(&T2, |g, alias| {
                    let column = format!("{alias}.{}", g.rng.pick(&["c", "t1_id"]));
                    (column, g.pred(1))
                });
                format!("({e} {op} {quantifier} (SELECT {column} FROM t2 AS {alias} WHERE {cond}))")
            }
        }
    }

    fn table(&mut self) -> &'static Table {
        match self.rng.below(10) {
            0..=5 => &T1,
            6..=8 => &T2,
            _ => &T3,
        }
    }

    /// Sets the FROM clause: one table or two joined, the join sometimes in parentheses. Returns
    /// its SQL.
    fn choose_from(&mut self, joins: bool) -> String {
        self.aliases = 0;
        if !joins || self.rng.chance(45) {
            let table = self.table();
            self.from = vec![Source {
                alias: "x".into(),
                table,
            }];
            return format!("{} AS x", table.name);
        }
        let (left, right, on) = match self.rng.below(5) {
            0 | 1 => (&T1, &T2, "x.id = y.t1_id"),
            2 => (&T2, &T1, "x.t1_id = y.id"),
            3 => (&T1, &T3, "x.a = y.w"),
            _ => (&T2, &T2, "x.c = y.c"),
        };
        self.from = vec![
            Source {
                alias: "x".into(),
                table: left,
            },
            Source {
                alias: "y".into(),
                table: right,
            },
        ];
        let join = match self.rng.below(7) {
            0 | 1 => format!("{} AS x JOIN {} AS y ON {on}", left.name, right.name),
            2 | 3 | 5 | 6 => {
                let extra = if self.rng.chance(40) {
                    format!(" AND {}", self.pred(2))
                } else {
                    String::new()
                };
                let kind = match self.rng.below(4) {
                    0 => "RIGHT",
                    1 => "FULL",
                    _ => "LEFT",
                };
                format!(
                    "{} AS x {kind} JOIN {} AS y ON {on}{extra}",
                    left.name, right.name
                )
            }
            _ => {
                // Cross joins only with the small table: t1 × t3 is 6 000 rows.
                self.from[1].table = &T3;
                format!("{} AS x CROSS JOIN t3 AS y", left.name)
            }
        };
        // Sometimes in parentheses: a join bound as a block of its own.
        if self.rng.chance(20) {
            format!("({join})")
        } else {
            join
        }
    }

    fn where_clause(&mut self) -> String {
        if self.rng.chance(75) {
            format!(" WHERE {}", self.pred(0))
        } else {
            String::new()
        }
    }

    /// ORDER BY over some output columns; with LIMIT/OFFSET, over all of them (a total order).
    fn order_by(&mut self, width: usize, sql: &mut String) -> Option<Vec<usize>> {
        if self.rng.chance(45) {
            return None;
        }
        let limit = self.rng.chance(50);
        let mut positions: Vec<usize> = (0..width).collect();
        // Shuffle, then keep a prefix unless LIMIT needs all of them.
        for i in (1..positions.len()).rev() {
            let j = self.rng.below(i + 1);
            positions.swap(i, j);
        }
        if !limit {
            positions.truncate(self.rng.range(1, width as i64) as usize);
        }
        let mut keys = Vec::new();
        for &p in &positions {
            let mut k = (p + 1).to_string();
            if self.rng.chance(40) {
                k.push_str(" DESC");
            }
            if self.rng.chance(25) {
                k.push_str(self.rng.pick(&[" NULLS FIRST", " NULLS LAST"]));
            }
            keys.push(k);
        }
        if self.rng.chance(3) {
            // A constant that is no position: 42601, or a position out of range: 42P10.
            let bad = [
                "'x'".to_string(),
                "0".to_string(),
                (width + 1).to_string(),
                "(-1)".to_string(),
                "1.5".to_string(),
                "NULL".to_string(),
            ];
            let i = self.rng.below(bad.len());
            keys.push(bad[i].clone());
        }
        let _ = write!(sql, " ORDER BY {}", keys.join(", "));
        if limit {
            if self.rng.chance(80) {
                let _ = write!(sql, " LIMIT {}", self.rng.range(0, 30));
            }
            if self.rng.chance(40) {
                let _ = write!(sql, " OFFSET {}", self.rng.range(0, 40));
            }
        }
        Some(positions)
    }

    fn projection(&mut self, width: usize) -> Vec<String> {
        let mut out = Vec::new();
        for _ in 0..width {
            let ty = self
                .rng
                .pick(&[Ty::Int, Ty::Int, Ty::Float, Ty::Text, Ty::Bool]);
            let depth = self.rng.range(0, 2) as u32;
            out.push(if ty == Ty::Bool {
                self.pred(1)
            } else {
                self.expr(ty, depth)
            });
        }
        out
    }

    fn query(&mut self) -> Query {
        match self.rng.below(100) {
            0..=44 => self.select(),
            45..=64 => self.group_by(),
            65..=71 => self.aggregate(),
            72..=76 => self.common_table_expression(),
            77..=88 => self.set_operation(),
            89..=96 => self.window(),
            _ => self.failing(),
        }
    }

    /// SELECT [DISTINCT] expressions FROM one or two tables [WHERE] [ORDER BY [LIMIT]].
    fn select(&mut self) -> Query {
        let from = self.choose_from(true);
        self.subqueries = true;
        let width = self.rng.range(1, 4) as usize;
        let columns = self.projection(width);
        let distinct = if self.rng.chance(20) { "DISTINCT " } else { "" };
        let mut sql = format!("SELECT {distinct}{} FROM {from}", columns.join(", "));
        sql.push_str(&self.where_clause());
        self.subqueries = false;
        let order_by = self.order_by(width, &mut sql);
        Query { sql, order_by }
    }

    /// `WITH q(c1, …) AS (SELECT …) SELECT * FROM q …`, or a recursive CTE counting from a
    /// constant, with UNION or UNION ALL, joined to a table.
    fn common_table_expression(&mut self) -> Query {
        if self.rng.chance(50) {
            let from = self.choose_from(true);
            self.subqueries = true;
            let width = self.rng.range(1, 3) as usize;
            let columns = self.projection(width);
            let mut inner = format!("SELECT {} FROM {from}", columns.join(", "));
            inner.push_str(&self.where_clause());
            self.subqueries = false;
            let names: Vec<String> = (1..=width).map(|i| format!("c{i}")).collect();
            let mut sql = format!("WITH q({}) AS ({inner}) SELECT * FROM q", names.join(", "));
            if self.rng.chance(40) {
                // Reading the CTE twice: the same rows each time.
                let _ = write!(
                    sql,
                    " WHERE q.c1 IS NOT DISTINCT FROM (SELECT max(c1) FROM q)"
                );
            }
            let order_by = self.order_by(width, &mut sql);
            return Query { sql, order_by };
        }
        let start = self.rng.range(-3, 5);
        let stop = self.rng.range(5, 25);
        let union = self.rng.pick(&["UNION", "UNION ALL"]);
        let from = self.choose_from(false);
        let column = self.column(Ty::Int).expect("every table has an int column");
        let value = self.expr(Ty::Int, 1);
        let mut sql = format!(
            "WITH RECURSIVE r(n) AS (SELECT {start} {union} SELECT n + 1 FROM r WHERE n < {stop}) \
             SELECT r.n, {value} FROM r JOIN {from} ON {column} = r.n"
        );
        sql.push_str(&self.where_clause());
        let order_by = self.order_by(2, &mut sql);
        Query { sql, order_by }
    }

    /// SELECT expressions, window calls FROM one table [WHERE] [ORDER BY [LIMIT]]. A call whose
    /// answer depends on the order of peers (row_number, lag, first_value, ROWS frames, …)
    /// orders by the table's key last, a total order; rank, cume_dist and aggregates over the
    /// default or a RANGE/GROUPS frame see whole peer groups and order by anything.
    fn window(&mut self) -> Query {
        let from = self.choose_from(false);
        let key = match self.from[0].table.name {
            "t3" => "x.k",
            _ => "x.id",
        };
        let width = self.rng.range(0, 1) as usize;
        let mut columns = self.projection(width);
        for _ in 0..self.rng.range(1, 3) {
            columns.push(self.window_call(key));
        }
        let mut sql = format!("SELECT {} FROM {from}", columns.join(", "));
        sql.push_str(&self.where_clause());
        let order_by = self.order_by(columns.len(), &mut sql);
        Query { sql, order_by }
    }

    fn window_call(&mut self, key: &str) -> String {
        let partition = if self.rng.chance(60) {
            let ty = self.rng.pick(&[Ty::Int, Ty::Text, Ty::Bool]);
            format!("PARTITION BY {} ", self.leaf(ty))
        } else {
            String::new()
        };
        let ty = self.rng.pick(&[Ty::Int, Ty::Float, Ty::Text]);
        let mut order = self.leaf(ty);
        if self.rng.chance(40) {
            order.push_str(" DESC");
        }
        if self.rng.chance(25) {
            order.push_str(self.rng.pick(&[" NULLS FIRST", " NULLS LAST"]));
        }
        let total = format!("{partition}ORDER BY {order}, {key}");
        let peers = format!("{partition}ORDER BY {order}");
        let bound = |rng: &mut Rng, start: bool| -> String {
            match rng.below(5) {
                0 if start => "UNBOUNDED PRECEDING".to_string(),
                0 => "UNBOUNDED FOLLOWING".to_string(),
                1 => "CURRENT ROW".to_string(),
                2 | 3 if start => format!("{} PRECEDING", rng.range(0, 3)),
                _ => format!("{} FOLLOWING", rng.range(0, 3)),
            }
        };
        match self.rng.below(14) {
            0 => format!("row_number() OVER ({total})"),
            1 => format!("rank() OVER ({peers})"),
            2 => format!("dense_rank() OVER ({peers})"),
            3 => format!(
                "{}() OVER ({peers})",
                self.rng.pick(&["percent_rank", "cume_dist"])
            ),
            4 => format!("ntile({}) OVER ({total})", self.rng.range(1, 7)),
            5 => {
                let ty = self.rng.pick(&[Ty::Int, Ty::Text]);
                let value = self.expr(ty, 1);
                let default = self.literal(ty);
                format!(
                    "{}({value}, {}, {default}) OVER ({total})",
                    self.rng.pick(&["lag", "lead"]),
                    self.rng.range(0, 3)
                )
            }
            6 => {
                let value = self.expr(Ty::Int, 1);
                let f = match self.rng.below(3) {
                    0 => format!("first_value({value})"),
                    1 => format!("last_value({value})"),
                    _ => format!("nth_value({value}, {})", self.rng.range(1, 4)),
                };
                let frame = format!(
                    " ROWS BETWEEN {} AND UNBOUNDED FOLLOWING",
                    bound(&mut self.rng, true)
                );
                let frame = if self.rng.chance(50) {
                    frame
                } else {
                    String::new()
                };
                format!("{f} OVER ({total}{frame})")
            }
            7..=9 => {
                // A ROWS frame: start ≤ end in every generated pair.
                let (a, b) = match self.rng.below(4) {
                    0 => (
                        "UNBOUNDED PRECEDING".to_string(),
                        bound(&mut self.rng, false),
                    ),
                    1 => (
                        format!("{} PRECEDING", self.rng.range(0, 3)),
                        format!("{} FOLLOWING", self.rng.range(0, 3)),
                    ),
                    2 => ("CURRENT ROW".to_string(), "UNBOUNDED FOLLOWING".to_string()),
                    _ => (
                        format!("{} PRECEDING", self.rng.range(2, 4)),
                        format!("{} PRECEDING", self.rng.range(0, 2)),
                    ),
                };
                let call = self.aggregate_call();
                format!("{call} OVER ({total} ROWS BETWEEN {a} AND {b})")
            }
            10 => {
                let call = self.aggregate_call();
                format!("{call} OVER ({peers})")
            }
            11 => {
                let call = self.aggregate_call();
                let a = self.rng.range(0, 2);
                let b = self.rng.range(0, 2);
                format!("{call} OVER ({peers} GROUPS BETWEEN {a} PRECEDING AND {b} FOLLOWING)")
            }
            12 => {
                // RANGE with offsets over one integer column.
                let column = self.column(Ty::Int).expect("every table has an int column");
                let desc = if self.rng.chance(40) { " DESC" } else { "" };
                let call = self.aggregate_call();
                format!(
                    "{call} OVER ({partition}ORDER BY {column}{desc} RANGE BETWEEN {} PRECEDING AND {} FOLLOWING)",
                    self.rng.range(0, 4),
                    self.rng.range(0, 4)
                )
            }
            _ => {
                let call = self.aggregate_call();
                format!("{call} OVER ({partition})")
            }
        }
    }

    fn aggregate_call(&mut self) -> String {
        let call = self.plain_aggregate_call();
        if self.rng.chance(20) {
            // Only rows whose filter is true reach the aggregate.
            let filter = self.pred(1);
            format!("{call} FILTER (WHERE {filter})")
        } else {
            call
        }
    }

    fn plain_aggregate_call(&mut self) -> String {
        match self.rng.below(9) {
            0 => "count(*)".to_string(),
            1 => {
                let ty = self.rng.pick(&[Ty::Int, Ty::Float, Ty::Text, Ty::Bool]);
                format!("count({})", self.leaf(ty))
            }
            2 | 3 => {
                let ty = self.rng.pick(&[Ty::Int, Ty::Float]);
                format!("sum({})", self.expr(ty, 1))
            }
            4 => {
                let ty = self.rng.pick(&[Ty::Int, Ty::Float, Ty::Text]);
                format!("min({})", self.expr(ty, 1))
            }
            // min/max of boolean do not exist (42883): bool_and/bool_or instead.
            5 if self.rng.chance(3) => format!("max({})", self.pred(1)),
            5 => {
                let ty = self.rng.pick(&[Ty::Int, Ty::Float, Ty::Text]);
                format!("max({})", self.expr(ty, 1))
            }
            6 | 7 => {
                let ty = self.rng.pick(&[Ty::Int, Ty::Float]);
                format!("avg({})", self.expr(ty, 1))
            }
            _ => format!("count(DISTINCT {})", self.leaf(Ty::Int)),
        }
    }

    fn having(&mut self, depth: u32) -> String {
        match self.rng.below(6) {
            0 => format!("count(*) > {}", self.rng.range(0, 6)),
            1 => format!("sum({}) > {}", self.leaf(Ty::Int), self.literal(Ty::Int)),
            2 => format!("min({}) < {}", self.leaf(Ty::Text), self.literal(Ty::Text)),
            3 => format!(
                "avg({}) >= {}",
                self.leaf(Ty::Float),
                self.literal(Ty::Float)
            ),
            4 if depth < 2 => format!("({} OR {})", self.having(depth + 1), self.having(depth + 1)),
            _ if depth < 2 => format!(
                "({} AND {})",
                self.having(depth + 1),
                self.having(depth + 1)
            ),
            _ => format!("max({}) IS NOT NULL", self.leaf(Ty::Int)),
        }
    }

    /// SELECT keys, aggregates FROM … [WHERE] GROUP BY keys [HAVING] [ORDER BY [LIMIT]].
    fn group_by(&mut self) -> Query {
        let from = self.choose_from(true);
        let mut keys = Vec::new();
        for _ in 0..self.rng.range(1, 2) {
            let ty = self.rng.pick(&[Ty::Int, Ty::Int, Ty::Text, Ty::Bool]);
            let key = if self.rng.chance(25) && ty != Ty::Bool {
                // An expression, repeated in the select list: PostgreSQL matches it by its text.
                // A bare constant is a position (`GROUP BY 8`, `GROUP BY (-3)`: 42P10 when out of
                // the select list) or refused (`GROUP BY 'a'`: 42601).
                Some(self.expr(ty, 1))
            } else {
                self.column(ty)
            };
            if let Some(k) = key
                && !keys.contains(&k)
            {
                keys.push(k);
            }
        }
        if keys.is_empty() {
            keys.push(self.column(Ty::Int).expect("every table has an int column"));
        }
        let mut columns = keys.clone();
        for _ in 0..self.rng.range(1, 3) {
            columns.push(self.aggregate_call());
        }
        self.subqueries = self.rng.chance(30);
        let mut sql = format!("SELECT {} FROM {from}", columns.join(", "));
        sql.push_str(&self.where_clause());
        self.subqueries = false;
        let _ = write!(sql, " GROUP BY {}", keys.join(", "));
        if self.rng.chance(40) {
            let _ = write!(sql, " HAVING {}", self.having(0));
        }
        let order_by = self.order_by(columns.len(), &mut sql);
        Query { sql, order_by }
    }

    /// Aggregates over the whole (filtered) input: always one row.
    fn aggregate(&mut self) -> Query {
        let from = self.choose_from(true);
        let columns: Vec<String> = (0..self.rng.range(1, 4))
            .map(|_| self.aggregate_call())
            .collect();
        self.subqueries = self.rng.chance(30);
        let mut sql = format!("SELECT {} FROM {from}", columns.join(", "));
        sql.push_str(&self.where_clause());
        self.subqueries = false;
        if self.rng.chance(15) {
            // HAVING without GROUP BY: one group, kept or not.
            let _ = write!(sql, " HAVING {}", self.having(0));
        }
        Query {
            sql,
            order_by: None,
        }
    }

    /// Two or three single-table SELECTs of the same column types combined by set operations.
    fn set_operation(&mut self) -> Query {
        let width = self.rng.range(1, 2) as usize;
        let types: Vec<Ty> = (0..width)
            .map(|_| self.rng.pick(&[Ty::Int, Ty::Int, Ty::Text, Ty::Float]))
            .collect();
        let mut sides = Vec::new();
        // Sometimes three operands: INTERSECT binds tighter than UNION and EXCEPT.
        let operands = if self.rng.chance(25) { 3 } else { 2 };
        for _ in 0..operands {
            let from = self.choose_from(false);
            let columns: Vec<String> = types
                .iter()
                .map(|&ty| {
                    if self.rng.chance(60) {
                        self.leaf(ty)
                    } else {
                        self.expr(ty, 1)
                    }
                })
                .collect();
            let mut side = format!("SELECT {} FROM {from}", columns.join(", "));
            side.push_str(&self.where_clause());
            sides.push(side);
        }
        let mut sql = sides[0].clone();
        for side in &sides[1..] {
            let op = self.rng.pick(&[
                "UNION",
                "UNION ALL",
                "INTERSECT",
                "INTERSECT ALL",
                "EXCEPT",
                "EXCEPT ALL",
            ]);
            let _ = write!(sql, " {op} {side}");
        }
        let order_by = self.order_by(width, &mut sql);
        Query { sql, order_by }
    }

    /// A statement both systems must refuse, with the same SQLSTATE. Each fails on every row it
    /// reads (or at once), so the plan cannot decide whether it fails.
    fn failing(&mut self) -> Query {
        let sql = self.rng.pick(&[
            // 22012 division_by_zero
            "SELECT x.id / (x.id - x.id) FROM t1 AS x",
            "SELECT x.id % 0 FROM t1 AS x",
            "SELECT x.k / 0 FROM t3 AS x",
            "SELECT x.id FROM t1 AS x WHERE x.id / 0 > 1",
            "SELECT sum(x.id / 0) FROM t1 AS x",
            "SELECT CAST(x.id AS float8) / 0 FROM t1 AS x",
            // 22003 numeric_value_out_of_range
            "SELECT x.id * 2147483647 FROM t1 AS x",
            "SELECT x.id + 2147483647 FROM t1 AS x",
            "SELECT x.k * 9223372036854775807 FROM t3 AS x",
            "SELECT abs(x.id - x.id - 2147483647 - 1) FROM t1 AS x",
            "SELECT -(x.id - x.id - 2147483647 - 1) FROM t1 AS x",
            "SELECT x.id + 9223372036854775808::int8 FROM t1 AS x",
            "SELECT CAST(-9223372036854775809 AS int8) FROM t1 AS x",
            // 21000 cardinality_violation
            "SELECT (SELECT y.id FROM t2 AS y) FROM t3 AS x",
            // 42703 undefined_column, 42P01 undefined_table
            "SELECT x.nope FROM t1 AS x",
            "SELECT 1 FROM nope",
        ]);
        Query {
            sql: sql.to_string(),
            order_by: None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running and comparing.
// ---------------------------------------------------------------------------------------------

type Row = Vec<Option<String>>;

/// How a column's values are compared, from its type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// int2, int4, int8: as integers, exactly.
    Int,
    /// float4, float8: as numbers, within a relative tolerance.
    Float,
    /// Everything else, `numeric` (exact, with its scale) included: the text forms must be
    /// identical.
    Exact,
}

fn kind_of(t: &tokio_postgres::types::Type) -> Kind {
    use tokio_postgres::types::Type;
    if [Type::INT2, Type::INT4, Type::INT8].contains(t) {
        Kind::Int
    } else if [Type::FLOAT4, Type::FLOAT8].contains(t) {
        Kind::Float
    } else {
        Kind::Exact
    }
}

/// A successful answer: the kind of each column and the rows in the order returned.
#[derive(Clone, Debug)]
struct Rows {
    kinds: Vec<Kind>,
    rows: Vec<Row>,
}

/// Rows, or the SQLSTATE of the failure (with its message).
type Answer = Result<Rows, (String, String)>;

/// Runs `sql` and returns its answer. The statement is prepared first only to learn its column
/// types; its rows come from the simple protocol, in text form.
async fn answer(c: &Client, sql: &str, system: &str) -> Answer {
    let error = |e: tokio_postgres::Error| match e.as_db_error() {
        Some(db) => (db.code().code().to_string(), db.message().to_string()),
        None => panic!("{system} failed without a SQLSTATE on {sql}: {e}"),
    };
    let timed_out = format!("{system} did not answer within {STATEMENT_TIMEOUT:?}: {sql}");
    let statement = tokio::time::timeout(STATEMENT_TIMEOUT, c.prepare(sql))
        .await
        .unwrap_or_else(|_| panic!("{timed_out}"))
        .map_err(error)?;
    let kinds = statement
        .columns()
        .iter()
        .map(|c| kind_of(c.type_()))
        .collect();
    let messages = tokio::time::timeout(STATEMENT_TIMEOUT, c.simple_query(sql))
        .await
        .unwrap_or_else(|_| panic!("{timed_out}"))
        .map_err(error)?;
    let rows = messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect();
    Ok(Rows { kinds, rows })
}

/// Runs statements that must succeed on both systems (setting up).
async fn execute_both(clients: &[(&str, &Client)], sql: &str) {
    for (system, c) in clients {
        let run = tokio::time::timeout(STATEMENT_TIMEOUT, c.batch_execute(sql));
        match run.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("{system} failed to run {sql}: {e:?}"),
            Err(_) => panic!("{system} did not answer within {STATEMENT_TIMEOUT:?}: {sql}"),
        }
    }
}

/// How the values of a column in both answers compare: numerically if either system says it
/// is a float, as integers if both say so, else by text.
fn merge(b: Kind, p: Kind) -> Kind {
    match (b, p) {
        (Kind::Float, _) | (_, Kind::Float) => Kind::Float,
        (Kind::Int, Kind::Int) => Kind::Int,
        _ => Kind::Exact,
    }
}

/// Equal numbers are equal whatever their form (`2.5` and numeric's `2.5000000000000000`), -0
/// and 0 included: SQL's `=` says so, and a system may show either one for both after DISTINCT,
/// GROUP BY, a set operation or a sort.
fn values_equal(kind: Kind, a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match kind {
        Kind::Exact => false,
        Kind::Int => matches!(
            (a.parse::<i128>(), b.parse::<i128>()),
            (Ok(x), Ok(y)) if x == y
        ),
        Kind::Float => match (a.parse::<f64>(), b.parse::<f64>()) {
            (Ok(x), Ok(y)) if x.is_nan() || y.is_nan() => x.is_nan() && y.is_nan(),
            (Ok(x), Ok(y)) => x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()),
            _ => false,
        },
    }
}

fn cells_equal(kind: Kind, a: &Option<String>, b: &Option<String>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => values_equal(kind, a, b),
        _ => false,
    }
}

fn rows_equal(kinds: &[Kind], a: &Row, b: &Row) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .zip(kinds)
            .all(|((x, y), &k)| cells_equal(k, x, y))
}

/// A total order of one column's values: numbers as numbers (-0 equal to 0, NaN last), then
/// anything that does not parse, by text.
fn value_order(kind: Kind, x: &str, y: &str) -> Ordering {
    fn by_parse<T>(x: &str, y: &str, order: impl Fn(T, T) -> Ordering) -> Ordering
    where
        T: std::str::FromStr,
    {
        match (x.parse::<T>(), y.parse::<T>()) {
            (Ok(p), Ok(q)) => order(p, q),
            (Ok(_), Err(_)) => Ordering::Less,
            (Err(_), Ok(_)) => Ordering::Greater,
            (Err(_), Err(_)) => x.cmp(y),
        }
    }
    match kind {
        Kind::Exact => x.cmp(y),
        Kind::Int => by_parse(x, y, |p: i128, q: i128| p.cmp(&q)),
        Kind::Float => by_parse(x, y, |p: f64, q: f64| {
            p.is_nan()
                .cmp(&q.is_nan())
                .then(p.partial_cmp(&q).unwrap_or(Ordering::Equal))
        }),
    }
}

/// A canonical order of rows for multiset comparison: NULL first.
fn canonical(kinds: &[Kind], a: &Row, b: &Row) -> Ordering {
    for ((x, y), &k) in a.iter().zip(b).zip(kinds) {
        let o = match (x, y) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => value_order(k, x, y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// Why the two answers disagree, if they do.
fn compare(q: &Query, borealis: &Answer, postgres: &Answer) -> Option<String> {
    let (b, p) = match (borealis, postgres) {
        (Err((b, _)), Err((p, _))) => {
            return (b != p).then(|| format!("SQLSTATE {b} from Borealis, {p} from PostgreSQL"));
        }
        (Err((b, _)), Ok(_)) => return Some(format!("only Borealis failed (SQLSTATE {b})")),
        (Ok(_), Err((p, _))) => return Some(format!("only PostgreSQL failed (SQLSTATE {p})")),
        (Ok(b), Ok(p)) => (b, p),
    };
    if b.kinds.len() != p.kinds.len() {
        return Some(format!(
            "{} columns from Borealis, {} from PostgreSQL",
            b.kinds.len(),
            p.kinds.len()
        ));
    }
    let kinds: Vec<Kind> = b
        .kinds
        .iter()
        .zip(&p.kinds)
        .map(|(&x, &y)| merge(x, y))
        .collect();
    if b.rows.len() != p.rows.len() {
        return Some(format!(
            "{} rows from Borealis, {} from PostgreSQL",
            b.rows.len(),
            p.rows.len()
        ));
    }
    if let Some(row) = b
        .rows
        .iter()
        .chain(&p.rows)
        .find(|r| r.len() != kinds.len())
    {
        return Some(format!("a row of {} columns: {}", row.len(), show_row(row)));
    }
    if let Some(keys) = &q.order_by {
        for (i, (rb, rp)) in b.rows.iter().zip(&p.rows).enumerate() {
            if !keys.iter().all(|&k| cells_equal(kinds[k], &rb[k], &rp[k])) {
                return Some(format!("ORDER BY keys differ at row {i}"));
            }
        }
    }
    let mut b = b.rows.clone();
    let mut p = p.rows.clone();
    b.sort_by(|x, y| canonical(&kinds, x, y));
    p.sort_by(|x, y| canonical(&kinds, x, y));
    b.iter()
        .zip(&p)
        .find(|(x, y)| !rows_equal(&kinds, x, y))
        .map(|(x, y)| {
            format!(
                "the rows differ; first difference (rows sorted): Borealis {} against \
                 PostgreSQL {}",
                show_row(x),
                show_row(y)
            )
        })
}

fn show_row(r: &Row) -> String {
    let cells: Vec<&str> = r.iter().map(|c| c.as_deref().unwrap_or("NULL")).collect();
    format!("({})", cells.join(", "))
}

fn show(answer: &Answer) -> String {
    match answer {
        Err((code, message)) => format!("ERROR {code}: {message}"),
        Ok(Rows { rows, .. }) => {
            let mut out = format!("{} rows", rows.len());
            for r in rows.iter().take(ROWS_SHOWN_MAX) {
                let _ = write!(out, "\n    {}", show_row(r));
            }
            if rows.len() > ROWS_SHOWN_MAX {
                out.push_str("\n    …");
            }
            out
        }
    }
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_queries_answer_as_postgresql_does() {
    let _g = serial();
    let (seeds, queries) = match env_number("BOREALIS_DIFF_SEED") {
        Some(seed) => {
            let queries = env_number("BOREALIS_DIFF_QUERIES")
                .map_or(QUERIES_PER_SEED, |n| (n as usize).min(QUERIES_MAX));
            (vec![seed], queries)
        }
        None => (SEEDS.to_vec(), QUERIES_PER_SEED),
    };
    let postgres = Postgres::start("differential");
    let pg = postgres.client("postgres").await;
    let cluster = Cluster::start("differential");
    let bo = cluster.client().await;

    let verbose = std::env::var_os("BOREALIS_DIFF_VERBOSE").is_some();
    let mut mismatches = Vec::new();
    let mut failed = 0usize;
    let started = std::time::Instant::now();
    'seeds: for &seed in &seeds {
        let mut rng = Rng::new(seed);
        let both = [("PostgreSQL", &pg), ("Borealis", &bo)];
        for sql in schema_and_rows(&mut rng) {
            execute_both(&both, &sql).await;
        }
        execute_both(&both, "ANALYZE").await;
        let mut generator = Gen::new(rng);
        for i in 0..queries {
            let q = generator.query();
            let t0 = std::time::Instant::now();
            let b = answer(&bo, &q.sql, "Borealis").await;
            let t1 = std::time::Instant::now();
            let p = answer(&pg, &q.sql, "PostgreSQL").await;
            if p.is_err() {
                failed += 1;
            }
            if verbose {
                eprintln!(
                    "-- query {i} (Borealis {:?}, PostgreSQL {:?}): {}\n{}",
                    t1 - t0,
                    t1.elapsed(),
                    q.sql,
                    show(&p)
                );
            }
            if let Some(why) = compare(&q, &b, &p) {
                mismatches.push(format!(
                    "seed {seed}, query {i}: {why}\n  SQL: {}\n  Borealis: {}\n  PostgreSQL: {}",
                    q.sql,
                    show(&b),
                    show(&p)
                ));
                if mismatches.len() >= MISMATCHES_MAX {
                    break 'seeds;
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches between Borealis and PostgreSQL (replay one with \
         BOREALIS_DIFF_SEED=N BOREALIS_DIFF_QUERIES=M):\n\n{}",
        mismatches.len(),
        mismatches.join("\n\n")
    );
    eprintln!(
        "{} seeds × {queries} queries agreed ({failed} failed alike) in {:?}",
        seeds.len(),
        started.elapsed()
    );
}

/// The comparison itself: it must catch what differs and accept only what may.
#[test]
fn comparison_catches_differences() {
    let row =
        |cells: &[Option<&str>]| -> Row { cells.iter().map(|c| c.map(String::from)).collect() };
    let answer = |rows: Vec<Row>| -> Answer {
        Ok(Rows {
            kinds: vec![Kind::Int, Kind::Exact],
            rows,
        })
    };
    let unordered = Query {
        sql: String::new(),
        order_by: None,
    };
    let ordered = Query {
        sql: String::new(),
        order_by: Some(vec![0]),
    };
    let a = answer(vec![row(&[Some("1"), Some("x")]), row(&[Some("2"), None])]);
    let swapped = answer(vec![row(&[Some("2"), None]), row(&[Some("1"), Some("x")])]);
    assert!(compare(&unordered, &a, &swapped).is_none());
    assert!(compare(&ordered, &a, &swapped).is_some());
    let null_moved = answer(vec![row(&[Some("1"), None]), row(&[Some("2"), Some("x")])]);
    assert!(compare(&unordered, &a, &null_moved).is_some());
    let fewer = answer(vec![row(&[Some("1"), Some("x")])]);
    assert!(compare(&unordered, &a, &fewer).is_some());
    let mut wider = a.clone();
    if let Ok(r) = &mut wider {
        r.kinds.push(Kind::Int);
    }
    assert!(compare(&unordered, &a, &wider).is_some());
    // Integers exactly; floats within 1e-9, numeric's form next to float8's; text exactly.
    assert!(!values_equal(Kind::Int, "10", "11"));
    assert!(!values_equal(Kind::Float, "10", "11"));
    assert!(!values_equal(
        Kind::Int,
        "9007199254740993",
        "9007199254740992"
    ));
    assert!(values_equal(Kind::Float, "2.5", "2.5000000000000000"));
    assert!(values_equal(Kind::Float, "0.30000000000000004", "0.3"));
    assert!(!values_equal(Kind::Float, "0.3001", "0.3"));
    assert!(values_equal(Kind::Float, "-0", "0"));
    assert!(!values_equal(Kind::Exact, "2.5", "2.50"));
    assert!(!values_equal(Kind::Exact, "-0", "0"));
    assert!(!values_equal(Kind::Exact, "t", "f"));
    // Errors: the same SQLSTATE, or a mismatch.
    let e1: Answer = Err(("22012".into(), String::new()));
    let e2: Answer = Err(("22003".into(), String::new()));
    assert!(compare(&unordered, &e1, &e1.clone()).is_none());
    assert!(compare(&unordered, &e1, &e2).is_some());
    assert!(compare(&unordered, &e1, &a).is_some());
}
