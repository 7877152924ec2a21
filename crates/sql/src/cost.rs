//! Estimates: how many rows a condition keeps and what reading or joining them costs, from the
//! statistics ANALYZE gathers ([`crate::stats`]), else from PostgreSQL's defaults.
//!
//! ```text
//!  conjunct ─▶ selectivity ──┬─ col = const   most common value's frequency, else the rest
//!                            │                 spread over the other distinct values
//!                            ├─ col < const   MCVs below + histogram fraction (interpolated)
//!                            ├─ lo < col < hi  the two ranges combined (lo + hi − 1)
//!                            ├─ col IS NULL   null_frac
//!                            ├─ AND / OR / NOT  product / a + b − ab / 1 − s
//!                            └─ a = b (join)   (1 − nf_a)(1 − nf_b) / max(nd_a, nd_b)
//! ```
//!
//! These follow PostgreSQL's `eqsel`, `scalarineqsel`, `clauselist_selectivity` and `eqjoinsel`
//! in their simplest forms. Without statistics a column has PostgreSQL's default estimates: an
//! equality keeps 0.5 %, an inequality a third, a range pair 0.5 %, and a column has 200
//! distinct values (its row count when smaller, or when it alone is a unique key).
//!
//! Costs use the units EXPLAIN prints: reading a page costs 1, handling a row 0.01, and a page
//! holds [`ROWS_PER_PAGE`] rows. A table is clustered by its primary key, so a primary-key range
//! reads only the pages of its rows, while a secondary index reads the table's page of every
//! row it finds: that is what makes a full scan cheaper than an index for an unselective
//! predicate ([`index_cost`], [`seq_cost`]).
//!
//! An index-only read costs what a primary-key range does: the entries it finds are all it
//! reads. Once the order is fixed, each join step's method is chosen by [`join_method`]: a hash
//! join, a merge join (paying a sort for each side not already in key order, winning when its
//! sorted output saves a sort above it) or an index nested loop; the session's `enable_*`
//! settings add [`DISABLE_COST`] to what they switch off ([`Methods`]).
//!
//! The join order search ([`order_joins`]) is dynamic programming over the connected subsets of
//! up to [`DP_RELATIONS_MAX`] relations, building left-deep orders (the executor joins one
//! relation at a time into the partial rows), each step costed as the cheaper of a hash join and
//! an index nested-loop join; wider joins take a greedy order (cheapest next step first), which
//! is linear in the number of steps and never recurses.

use crate::catalog::TableDef;
use crate::expr::{BinOp, Expr};
use crate::query::{Access, KeyRange};
use crate::stats::{ColumnStats, TableStats};
use crate::types::{DataType, Value};
use borealis_engine::Engine;
use std::cmp::Ordering;

/// PostgreSQL's `DEFAULT_EQ_SEL`.
pub const DEFAULT_EQ_SEL: f64 = 0.005;
/// PostgreSQL's `DEFAULT_INEQ_SEL`.
pub const DEFAULT_INEQ_SEL: f64 = 1.0 / 3.0;
/// PostgreSQL's `DEFAULT_RANGE_INEQ_SEL`.
pub const DEFAULT_RANGE_INEQ_SEL: f64 = 0.005;
/// PostgreSQL's `DEFAULT_NUM_DISTINCT`.
pub const DEFAULT_NUM_DISTINCT: f64 = 200.0;
/// Rows assumed per page when costing a read.
pub const ROWS_PER_PAGE: f64 = 100.0;
/// Cost of reading one page.
pub const PAGE_COST: f64 = 1.0;
/// Cost of handling one row.
pub const ROW_COST: f64 = 0.01;
/// Most relations whose join order is searched exhaustively (2^n subsets); more take the greedy
/// order.
pub const DP_RELATIONS_MAX: usize = 8;
/// Levels of a tree assumed when the engine cannot say.
const TREE_HEIGHT_DEFAULT: u16 = 3;

/// Cost added to a plan that uses a method the session switched off (`enable_hashjoin = off`
/// and friends): PostgreSQL's `disable_cost`. The method stays possible, so a query that has no
/// other way still runs.
pub const DISABLE_COST: f64 = 1.0e10;

/// Which plan methods the planner may use: the session's `enable_*` settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Methods {
    pub hashjoin: bool,
    pub mergejoin: bool,
    pub nestloop: bool,
    pub seqscan: bool,
    pub indexscan: bool,
    pub indexonlyscan: bool,
}

impl Default for Methods {
    fn default() -> Methods {
        Methods {
            hashjoin: true,
            mergejoin: true,
            nestloop: true,
            seqscan: true,
            indexscan: true,
            indexonlyscan: true,
        }
    }
}

impl Methods {
    /// The methods `setting` (a session's value of a setting by name) allows.
    pub fn from_settings<'s>(setting: impl Fn(&str) -> Option<&'s str>) -> Methods {
        let on = |name: &str| setting(name) != Some("off");
        Methods {
            hashjoin: on("enable_hashjoin"),
            mergejoin: on("enable_mergejoin"),
            nestloop: on("enable_nestloop"),
            seqscan: on("enable_seqscan"),
            indexscan: on("enable_indexscan"),
            indexonlyscan: on("enable_indexonlyscan"),
        }
    }
}

/// `cost`, plus [`DISABLE_COST`] when its method is off.
#[must_use]
pub fn penalised(cost: f64, allowed: bool) -> f64 {
    if allowed { cost } else { cost + DISABLE_COST }
}

/// What the estimator knows about one table read in a query.
#[derive(Clone, Copy, Debug)]
pub struct TableInfo<'a> {
    pub def: &'a TableDef,
    pub stats: Option<&'a TableStats>,
    /// Estimated rows in the table now.
    pub rows: f64,
}

/// A table's estimated row count: the live-row counter, or with statistics, `reltuples`
/// corrected by the rows inserted and deleted since the analyze.
#[must_use]
pub fn table_rows(engine: &Engine, def: &TableDef, stats: Option<&TableStats>) -> f64 {
    let t = engine.tree_stats(def.tree);
    let live = t.inserted.saturating_sub(t.deleted) as f64;
    match stats {
        // Never analyzed, or rewritten since: the counters of its current tree.
        None => live,
        Some(s) if !s.current(def) => live,
        Some(s) => {
            let [ins, _, del] = s.counters_at_analyze;
            if t.inserted >= ins && t.deleted >= del {
                (s.reltuples + (t.inserted - ins) as f64 - (t.deleted - del) as f64).max(0.0)
            } else {
                // The counters restarted since the analyze: they count changes since then.
                (s.reltuples + live).max(0.0)
            }
        }
    }
}

impl TableInfo<'_> {
    fn column(&self, c: usize) -> Option<&ColumnStats> {
        self.stats.and_then(|s| s.column(self.def, c))
    }

    fn column_type(&self, c: usize) -> Option<DataType> {
        self.def.columns.get(c).map(|col| col.ty)
    }

    /// Whether column `c` alone is the primary key or a unique index.
    fn unique(&self, c: usize) -> bool {
        self.def.pk == [c]
            || self
                .def
                .indexes
                .iter()
                .any(|ix| ix.unique && ix.columns == [c])
    }

    /// Distinct non-NULL values of column `c` (PostgreSQL's `get_variable_numdistinct`).
    #[must_use]
    pub fn distinct(&self, c: usize) -> f64 {
        let rows = self.rows.max(1.0);
        if let Some(cs) = self.column(c) {
            return cs.distinct(rows).min(rows).max(1.0);
        }
        if self.unique(c) || rows < DEFAULT_NUM_DISTINCT {
            rows
        } else {
            DEFAULT_NUM_DISTINCT
        }
    }

    fn null_frac(&self, c: usize) -> f64 {
        self.column(c).map_or(0.0, |cs| cs.null_frac)
    }
}

fn order(a: &Value, b: &Value) -> Option<Ordering> {
    a.compare(b).ok().flatten()
}

/// The value of a constant operand, read as column type `ty` where it is an untyped string.
fn constant(e: &Expr, ty: Option<DataType>) -> Option<Value> {
    match e {
        Expr::Literal(Value::Text(s)) => match ty {
            Some(t) if t != DataType::Text => crate::types::parse_text(s, t).ok(),
            _ => Some(Value::Text(s.clone())),
        },
        Expr::Literal(v) => Some(v.clone()),
        Expr::Cast { expr, ty: to } => match constant(expr, Some(*to))? {
            Value::Text(s) if *to != DataType::Text => crate::types::parse_text(&s, *to).ok(),
            v => Some(v),
        },
        _ => None,
    }
}

/// Whether `e` is a value fixed for the statement (a constant, parameter or outer reference):
/// its value is unknown to the planner only when it is not a literal.
fn fixed(e: &Expr) -> bool {
    match e {
        Expr::Literal(_) | Expr::Param(_) | Expr::Outer { .. } => true,
        Expr::Cast { expr, .. } => fixed(expr),
        _ => false,
    }
}

/// `col op e` with `e` fixed: (column, operator as seen from the column, operand).
fn column_term<'e>(op: BinOp, left: &'e Expr, right: &'e Expr) -> Option<(usize, BinOp, &'e Expr)> {
    let strip = |e: &'e Expr| match e {
        Expr::Cast { expr, .. } if matches!(**expr, Expr::Column(_)) => expr,
        other => other,
    };
    match (strip(left), strip(right)) {
        (Expr::Column(c), v) if fixed(v) => Some((*c, op, v)),
        (v, Expr::Column(c)) if fixed(v) => {
            let flipped = match op {
                BinOp::Lt => BinOp::Gt,
                BinOp::LtEq => BinOp::GtEq,
                BinOp::Gt => BinOp::Lt,
                BinOp::GtEq => BinOp::LtEq,
                other => other,
            };
            Some((*c, flipped, v))
        }
        _ => None,
    }
}

/// Fraction of rows where column `c` equals `v` (`None`: a value unknown when planning).
fn eq_selectivity(t: &TableInfo<'_>, c: usize, v: Option<&Value>) -> f64 {
    if matches!(v, Some(Value::Null)) {
        return 0.0;
    }
    let nd = t.distinct(c);
    let Some(cs) = t.column(c) else {
        return if t.unique(c) || t.rows < DEFAULT_NUM_DISTINCT {
            1.0 / nd
        } else {
            DEFAULT_EQ_SEL
        };
    };
    let Some(v) = v else {
        // PostgreSQL's var_eq_non_const: one distinct value's share, at most the top MCV's.
        let s = (1.0 - cs.null_frac) / nd;
        return cs.mcv_freqs.first().map_or(s, |&f| s.min(f));
    };
    for (m, f) in cs.mcv.iter().zip(&cs.mcv_freqs) {
        if order(m, v) == Some(Ordering::Equal) {
            return *f;
        }
    }
    let common: f64 = cs.mcv_freqs.iter().sum();
    let mut s = (1.0 - common - cs.null_frac).clamp(0.0, 1.0);
    let other = nd - cs.mcv.len() as f64;
    if other > 1.0 {
        s /= other;
    }
    if let Some(&least) = cs.mcv_freqs.last() {
        s = s.min(least);
    }
    s
}

/// A value as a point on a line, for interpolating within a histogram bin.
fn scalar(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        Value::Float4(f) => Some(f64::from(*f)),
        Value::Numeric(n) => Some(n.to_f64()),
        Value::Date(d) => Some(f64::from(*d)),
        Value::Timestamp(t) | Value::TimestampTz(t) | Value::Time(t) => Some(*t as f64),
        _ => None,
    }
}

/// Fraction of the histogram's values below `v` (PostgreSQL's `ineq_histogram_selectivity`).
fn histogram_below(hist: &[Value], v: &Value) -> f64 {
    let bins = (hist.len() - 1) as f64;
    // The first bound above v.
    let i = hist.partition_point(|b| order(b, v) == Some(Ordering::Less));
    if i == 0 {
        return 0.0;
    }
    if i >= hist.len() {
        return 1.0;
    }
    let within = match (scalar(&hist[i - 1]), scalar(&hist[i]), scalar(v)) {
        (Some(lo), Some(hi), Some(x)) if hi > lo => ((x - lo) / (hi - lo)).clamp(0.0, 1.0),
        _ => 0.5,
    };
    ((i - 1) as f64 + within) / bins
}

/// Fraction of rows where `col op v` holds, `op` one of `<`, `<=`, `>`, `>=`.
fn ineq_selectivity(t: &TableInfo<'_>, c: usize, op: BinOp, v: Option<&Value>) -> f64 {
    let (Some(cs), Some(v)) = (t.column(c), v) else {
        return DEFAULT_INEQ_SEL;
    };
    if v.is_null() {
        return 0.0;
    }
    let holds = |m: &Value| match (order(m, v), op) {
        (Some(o), BinOp::Lt) => o == Ordering::Less,
        (Some(o), BinOp::LtEq) => o != Ordering::Greater,
        (Some(o), BinOp::Gt) => o == Ordering::Greater,
        (Some(o), BinOp::GtEq) => o != Ordering::Less,
        _ => false,
    };
    let mcv: f64 = cs
        .mcv
        .iter()
        .zip(&cs.mcv_freqs)
        .filter(|(m, _)| holds(m))
        .map(|(_, f)| f)
        .sum();
    let common: f64 = cs.mcv_freqs.iter().sum();
    let rest = (1.0 - common - cs.null_frac).max(0.0);
    let hist = if cs.histogram.len() >= 2 {
        let below = histogram_below(&cs.histogram, v);
        let f = if matches!(op, BinOp::Lt | BinOp::LtEq) {
            below
        } else {
            1.0 - below
        };
        // Never quite empty: a bin's edges are only a sample's.
        f.clamp(0.5 / (cs.histogram.len() as f64 * 10.0), 1.0)
    } else {
        0.5
    };
    (mcv + rest * hist).clamp(0.0, 1.0)
}

/// The fraction of a table's rows that condition `e` (over the table's own row) keeps; `t` is
/// `None` for a relation that is not a table (defaults only).
#[must_use]
pub fn selectivity(e: &Expr, t: Option<&TableInfo<'_>>) -> f64 {
    let s = match e {
        Expr::Binary { op: BinOp::And, .. } => return conjunction_selectivity(&conjuncts(e), t),
        Expr::Binary {
            op: BinOp::Or,
            left,
            right,
            ..
        } => {
            let (a, b) = (selectivity(left, t), selectivity(right, t));
            a + b - a * b
        }
        Expr::Binary {
            op, left, right, ..
        } => match (t, column_term(*op, left, right)) {
            (Some(t), Some((c, op, v))) => {
                let value = constant(v, t.column_type(c));
                match op {
                    BinOp::Eq => eq_selectivity(t, c, value.as_ref()),
                    BinOp::NotEq => {
                        (1.0 - eq_selectivity(t, c, value.as_ref()) - t.null_frac(c)).max(0.0)
                    }
                    BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq => {
                        ineq_selectivity(t, c, op, value.as_ref())
                    }
                    _ => 0.5,
                }
            }
            _ => match op {
                BinOp::Eq => DEFAULT_EQ_SEL,
                BinOp::NotEq => 1.0 - DEFAULT_EQ_SEL,
                BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq => DEFAULT_INEQ_SEL,
                _ => 0.5,
            },
        },
        Expr::Between {
            expr,
            low,
            high,
            negated,
        } => {
            let s = match (t, &**expr) {
                (Some(t), Expr::Column(c)) if fixed(low) && fixed(high) => {
                    let ty = t.column_type(*c);
                    let lo = ineq_selectivity(t, *c, BinOp::GtEq, constant(low, ty).as_ref());
                    let hi = ineq_selectivity(t, *c, BinOp::LtEq, constant(high, ty).as_ref());
                    range_pair(lo, hi, t.column(*c).is_some())
                }
                _ => DEFAULT_RANGE_INEQ_SEL,
            };
            if *negated { 1.0 - s } else { s }
        }
        Expr::IsNull { expr, negated } => {
            let s = match (t, &**expr) {
                (Some(t), Expr::Column(c)) if t.column(*c).is_some() => t.null_frac(*c),
                _ => DEFAULT_EQ_SEL,
            };
            if *negated { 1.0 - s } else { s }
        }
        Expr::InList {
            expr,
            list,
            negated,
        } => {
            let s = match (t, &**expr) {
                (Some(t), Expr::Column(c)) => list
                    .iter()
                    .map(|v| {
                        let value = constant(v, t.column_type(*c));
                        eq_selectivity(t, *c, value.as_ref())
                    })
                    .sum::<f64>()
                    .min(1.0),
                _ => (DEFAULT_EQ_SEL * list.len() as f64).min(1.0),
            };
            if *negated { 1.0 - s } else { s }
        }
        Expr::Like { .. } => DEFAULT_EQ_SEL,
        Expr::Not(inner) => 1.0 - selectivity(inner, t),
        // A boolean column as a condition: `col = true`.
        Expr::Column(c) => match t {
            Some(t) if t.column_type(*c) == Some(DataType::Bool) => {
                eq_selectivity(t, *c, Some(&Value::Bool(true)))
            }
            _ => 0.5,
        },
        _ => 0.5,
    };
    s.clamp(0.0, 1.0)
}

/// `lo` (col ≥ a) and `hi` (col ≤ b) together, as PostgreSQL's `clauselist_selectivity` pairs
/// them: `lo + hi − 1`, or the default when that is not a real estimate.
fn range_pair(lo: f64, hi: f64, with_stats: bool) -> f64 {
    if !with_stats {
        return DEFAULT_RANGE_INEQ_SEL;
    }
    let s = lo + hi - 1.0;
    if s <= 0.0 {
        // Ranges that do not overlap, or estimates too rough to subtract: nearly nothing.
        if s < -0.01 {
            1e-4
        } else {
            DEFAULT_RANGE_INEQ_SEL.min(lo).min(hi)
        }
    } else {
        s
    }
}

/// The conjuncts of `e` (split at AND).
#[must_use]
pub fn conjuncts(e: &Expr) -> Vec<&Expr> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Binary {
                op: BinOp::And,
                left,
                right,
                ..
            } => {
                stack.push(right);
                stack.push(left);
            }
            other => out.push(other),
        }
    }
    out
}

/// The fraction of rows that every one of `parts` keeps: the product of their selectivities,
/// except that a lower and an upper bound on the same column count as one range.
#[must_use]
pub fn conjunction_selectivity(parts: &[&Expr], t: Option<&TableInfo<'_>>) -> f64 {
    // Per column: (lower-bound selectivity, upper-bound selectivity).
    let mut ranges: Vec<(usize, Option<f64>, Option<f64>)> = Vec::new();
    let mut s = 1.0;
    for p in parts {
        if let (
            Some(t),
            Expr::Binary {
                op, left, right, ..
            },
        ) = (t, p)
            && matches!(op, BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq)
            && let Some((c, op, v)) = column_term(*op, left, right)
        {
            let sel = ineq_selectivity(t, c, op, constant(v, t.column_type(c)).as_ref());
            let i = match ranges.iter().position(|r| r.0 == c) {
                Some(i) => i,
                None => {
                    ranges.push((c, None, None));
                    ranges.len() - 1
                }
            };
            let slot = if matches!(op, BinOp::Gt | BinOp::GtEq) {
                &mut ranges[i].1
            } else {
                &mut ranges[i].2
            };
            *slot = Some(slot.map_or(sel, |x: f64| x.min(sel)));
            continue;
        }
        s *= selectivity(p, t);
    }
    for (c, lo, hi) in ranges {
        s *= match (lo, hi) {
            (Some(lo), Some(hi)) => range_pair(lo, hi, t.is_some_and(|t| t.column(c).is_some())),
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => 1.0,
        };
    }
    s.clamp(0.0, 1.0)
}

/// The fraction of pairs an equi-join `a = b` keeps, columns `a` of `ta` and `b` of `tb`
/// (PostgreSQL's `eqjoinsel` without the MCV matching).
#[must_use]
pub fn join_selectivity(
    a: (Option<&TableInfo<'_>>, usize),
    b: (Option<&TableInfo<'_>>, usize),
) -> f64 {
    let side = |(t, c): (Option<&TableInfo<'_>>, usize)| match t {
        Some(t) => (t.distinct(c), t.null_frac(c)),
        None => (DEFAULT_NUM_DISTINCT, 0.0),
    };
    let (nda, nfa) = side(a);
    let (ndb, nfb) = side(b);
    fn mcvs<'s>((t, c): (Option<&TableInfo<'s>>, usize)) -> Option<&'s ColumnStats> {
        t.and_then(|t| t.stats)
            .and_then(|s| s.column(t?.def, c))
            .filter(|cs| !cs.mcv.is_empty())
    }
    if let (Some(x), Some(y)) = (mcvs(a), mcvs(b)) {
        return mcv_join_selectivity(x, y, nda, ndb).clamp(0.0, 1.0);
    }
    ((1.0 - nfa) * (1.0 - nfb) / nda.max(ndb).max(1.0)).clamp(0.0, 1.0)
}

/// PostgreSQL's `eqjoinsel_inner` with both most-common-value lists: the matching values'
/// frequencies exactly, the rest spread over the other distinct values.
fn mcv_join_selectivity(x: &ColumnStats, y: &ColumnStats, nd1: f64, nd2: f64) -> f64 {
    let mut matched_y = vec![false; y.mcv.len()];
    let (mut prod, mut match1, mut match2, mut nmatches) = (0.0, 0.0, 0.0, 0.0);
    for (v1, f1) in x.mcv.iter().zip(&x.mcv_freqs) {
        for (j, (v2, f2)) in y.mcv.iter().zip(&y.mcv_freqs).enumerate() {
            if !matched_y[j] && order(v1, v2) == Some(Ordering::Equal) {
                matched_y[j] = true;
                prod += f1 * f2;
                match1 += f1;
                match2 += f2;
                nmatches += 1.0;
                break;
            }
        }
    }
    let common1: f64 = x.mcv_freqs.iter().sum();
    let common2: f64 = y.mcv_freqs.iter().sum();
    let unmatch1 = (common1 - match1).max(0.0);
    let unmatch2 = (common2 - match2).max(0.0);
    let other1 = (1.0 - x.null_frac - common1).max(0.0);
    let other2 = (1.0 - y.null_frac - common2).max(0.0);
    let (n1, n2) = (x.mcv.len() as f64, y.mcv.len() as f64);
    let mut total1 = prod;
    if nd2 > n2 {
        total1 += unmatch1 * other2 / (nd2 - n2);
    }
    if nd2 > nmatches {
        total1 += other1 * (other2 + unmatch2) / (nd2 - nmatches);
    }
    let mut total2 = prod;
    if nd1 > n1 {
        total2 += unmatch2 * other1 / (nd1 - n1);
    }
    if nd1 > nmatches {
        total2 += other2 * (other1 + unmatch1) / (nd1 - nmatches);
    }
    total1.min(total2)
}

/// Cost of reading a whole table of `rows` rows and checking `quals` conditions on each.
#[must_use]
pub fn seq_cost(rows: f64, quals: usize) -> f64 {
    (rows / ROWS_PER_PAGE).ceil() * PAGE_COST + rows * (ROW_COST + 0.0025 * quals as f64)
}

/// Cost of reading `rows` rows through a key: descending the tree, then for the primary key
/// (the table's own tree, ordered by it) the pages holding those rows, for a secondary index
/// the table's page of every row found.
#[must_use]
pub fn index_cost(height: Option<u16>, primary: bool, rows: f64) -> f64 {
    let levels = f64::from(height.unwrap_or(TREE_HEIGHT_DEFAULT));
    if primary {
        levels * PAGE_COST + (rows / ROWS_PER_PAGE).ceil() * PAGE_COST + rows * ROW_COST
    } else {
        levels * PAGE_COST * 2.0 + rows * (PAGE_COST + ROW_COST)
    }
}

/// The fraction of `t`'s rows a read of key range `range` finds (its equalities and bounds).
#[must_use]
pub fn key_selectivity(t: &TableInfo<'_>, range: &KeyRange) -> f64 {
    let cols: &[usize] = match range.index {
        None => &t.def.pk,
        Some(i) => &t.def.indexes[i].columns,
    };
    let mut s = 1.0;
    for (k, e) in range.eq.iter().enumerate() {
        let Some(&c) = cols.get(k) else { break };
        s *= eq_selectivity(t, c, constant(e, t.column_type(c)).as_ref());
    }
    if let Some(&c) = cols.get(range.eq.len()) {
        let ty = t.column_type(c);
        let bound = |b: &Option<(Expr, bool)>, lower: bool| {
            b.as_ref().map(|(e, inclusive)| {
                let op = match (lower, inclusive) {
                    (true, true) => BinOp::GtEq,
                    (true, false) => BinOp::Gt,
                    (false, true) => BinOp::LtEq,
                    (false, false) => BinOp::Lt,
                };
                ineq_selectivity(t, c, op, constant(e, ty).as_ref())
            })
        };
        s *= match (bound(&range.lower, true), bound(&range.upper, false)) {
            (Some(lo), Some(hi)) => range_pair(lo, hi, t.column(c).is_some()),
            (Some(x), None) | (None, Some(x)) => x,
            (None, None) => 1.0,
        };
    }
    s.clamp(0.0, 1.0)
}

/// The tree a key range reads and whether it is the table's own (primary key) tree.
fn key_tree(def: &TableDef, range: &KeyRange) -> (borealis_engine::TreeId, bool) {
    match range.index {
        None => (def.tree, true),
        Some(i) => (def.indexes[i].tree, false),
    }
}

/// Cost of reading the rows of `range` in `t`: descending its key, then its rows. An
/// index-only read costs what a primary-key range does: the entries it finds are all it reads.
#[must_use]
pub fn range_cost(engine: &Engine, t: &TableInfo<'_>, range: &KeyRange, quals: usize) -> f64 {
    let (tree, primary) = key_tree(t.def, range);
    let rows = t.rows * key_selectivity(t, range);
    index_cost(
        engine.tree_height(tree).ok(),
        primary || range.index_only,
        rows,
    ) + rows * 0.0025 * quals as f64
}

/// Cost of sorting `rows` rows (what EXPLAIN charges a `Sort`).
#[must_use]
pub fn sort_cost(rows: f64) -> f64 {
    let n = rows.max(1.0);
    2.0 * ROW_COST * n * n.log2().max(1.0)
}

/// The cheapest way to read `t` for `filter` (over its own row): a full scan or one of the key
/// ranges the filter allows. A key pinned to one row is always taken.
#[must_use]
pub fn choose_access(engine: &Engine, t: &TableInfo<'_>, filter: Option<&Expr>) -> Access {
    let quals = filter.map_or(0, |f| conjuncts(f).len());
    let mut best = (seq_cost(t.rows, quals), Access::Full);
    for ((pinned, ..), range) in crate::query::access_candidates(t.def, filter) {
        if pinned {
            return Access::Range(range);
        }
        let cost = range_cost(engine, t, &range, quals);
        if cost < best.0 {
            best = (cost, Access::Range(range));
        }
    }
    best.1
}

/// How a statement reads the rows of `def` that `filter` keeps (UPDATE and DELETE): the rule's
/// choice, or with statistics the cheapest one. A key pinned to one row needs no statistics.
pub fn planned_access(
    engine: &Engine,
    txn: &borealis_engine::Txn,
    def: &TableDef,
    filter: Option<&Expr>,
) -> crate::error::SqlResult<Access> {
    let access = crate::query::choose_access(def, filter);
    if access.is_point(def) {
        return Ok(access);
    }
    Ok(match crate::stats::for_planner(engine, txn, def)? {
        Some(st) => {
            let t = TableInfo {
                def,
                stats: Some(&st),
                rows: table_rows(engine, def, Some(&st)),
            };
            choose_access(engine, &t, filter)
        }
        None => access,
    })
}

/// Cost of a table read through `access`.
#[must_use]
pub fn access_cost(engine: &Engine, t: &TableInfo<'_>, access: &Access, quals: usize) -> f64 {
    match access {
        Access::Full => seq_cost(t.rows, quals),
        Access::Range(r) => range_cost(engine, t, r, quals),
    }
}

/// Rows one probe of column `c`'s key finds, and its cost, when `c` leads the primary key or an
/// index of `t` (an index nested-loop join's inner side).
#[must_use]
pub fn probe(engine: &Engine, t: &TableInfo<'_>, c: usize) -> Option<(f64, f64)> {
    let key = [Expr::Column(c)];
    let lookup = crate::query::probe_key(t.def, &key)?;
    let (unique, range) = lookup;
    let rows = if unique {
        1.0
    } else {
        (t.rows / t.distinct(c)).max(1.0)
    };
    let (tree, primary) = key_tree(t.def, &range);
    Some((
        index_cost(engine.tree_height(tree).ok(), primary, rows),
        rows,
    ))
}

/// One relation as the join order search sees it.
#[derive(Clone, Debug)]
pub struct JoinRel {
    /// Rows after its own filter.
    pub rows: f64,
    /// Cost of reading them (its chosen access path).
    pub cost: f64,
}

/// An equi-join or other condition between relations, for the search.
#[derive(Clone, Debug)]
pub struct JoinEdge {
    /// The relations it references.
    pub rels: Vec<usize>,
    /// Fraction of row combinations it keeps.
    pub selectivity: f64,
    /// For `a = b` between two relations: whether the inner side (`rels[i]`'s key) can be
    /// probed by index: cost per probe and rows per probe, per side.
    pub probe: Vec<Option<(f64, f64)>>,
    /// Whether it is an equality usable as a hash-join key.
    pub equi: bool,
}

/// The result of a join step: estimated rows and cumulative cost.
#[derive(Clone, Copy, Debug)]
struct Partial {
    rows: f64,
    cost: f64,
}

/// Partial rows above which the executor does not probe an index per row (it hashes).
pub const INDEX_JOIN_OUTER_ROWS_MAX: f64 = 1024.0;

/// Joins relation `r` into a partial result over `set`: its estimated rows and cost.
fn step(
    rels: &[JoinRel],
    edges: &[JoinEdge],
    in_set: &dyn Fn(usize) -> bool,
    outer: Partial,
    r: usize,
) -> Partial {
    let mut sel = 1.0;
    let mut probe_cost: Option<f64> = None;
    let mut equi = false;
    for e in edges {
        let covered = e.rels.iter().all(|&x| x == r || in_set(x));
        if !covered || !e.rels.contains(&r) {
            continue;
        }
        sel *= e.selectivity;
        if e.equi {
            equi = true;
            if let Some(i) = e.rels.iter().position(|&x| x == r)
                && let Some(Some((per_probe, _))) = e.probe.get(i)
            {
                probe_cost = Some(probe_cost.map_or(*per_probe, |p: f64| p.min(*per_probe)));
            }
        }
    }
    let inner = &rels[r];
    let rows = (outer.rows * inner.rows * sel).max(1.0);
    let hash = inner.cost + (outer.rows + inner.rows) * ROW_COST + rows * ROW_COST;
    let nested = if equi {
        hash
    } else {
        // A cross product (or a condition that is not an equality): every pair is looked at.
        inner.cost + outer.rows * inner.rows * ROW_COST
    };
    let index = match probe_cost {
        Some(p) if outer.rows <= INDEX_JOIN_OUTER_ROWS_MAX => {
            outer.rows.max(1.0) * p + rows * ROW_COST
        }
        _ => f64::INFINITY,
    };
    Partial {
        rows,
        cost: outer.cost + nested.min(index),
    }
}

/// How a join step with equi-join keys runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinMethod {
    /// Build a hash table of the relation's rows, probe it per partial row.
    Hash,
    /// Sort both sides on the keys (unless they arrive sorted) and merge equal runs.
    Merge,
    /// Probe the relation's key per partial row (an index nested-loop join).
    IndexNestedLoop,
}

/// What choosing a join step's method needs to know: sizes, the relation's read cost, whether
/// each side arrives sorted on the join keys, the cost of one index probe when the relation's
/// key can be probed, and what a sort of the step's result costs when only a merge join would
/// deliver it in the order the query wants.
#[derive(Clone, Copy, Debug)]
pub struct JoinStepInput {
    pub outer_rows: f64,
    pub inner_rows: f64,
    pub inner_cost: f64,
    /// Rows the step produces.
    pub rows: f64,
    pub outer_sorted: bool,
    pub inner_sorted: bool,
    pub probe_cost: Option<f64>,
    /// The sort a merge join saves above it (its output is in key order); 0 when none.
    pub order_saved: f64,
    /// What reading a side through a key in key order (so that it needs no sort) costs a merge
    /// join more (or less) than the side's own read; 0 when no side is read so.
    pub merge_read_extra: f64,
}

/// The cheapest method for one join step, with the costs PostgreSQL's planner weighs: a hash
/// join reads both sides once and handles every row; a merge join handles every row as well but
/// must have both sides in key order, paying a [`sort_cost`] for each side that is not (so it
/// wins when its inputs come sorted and its sorted output saves a sort above it, or when hashing
/// is switched off); an index nested loop pays one probe per partial row and is considered only
/// below [`INDEX_JOIN_OUTER_ROWS_MAX`] partial rows, as the executor runs it. Methods the
/// session switched off cost [`DISABLE_COST`] more. Ties go to the hash join.
#[must_use]
pub fn join_method(x: &JoinStepInput, methods: Methods) -> (JoinMethod, f64) {
    let rows_cost = (x.outer_rows + x.inner_rows) * ROW_COST + x.rows * ROW_COST;
    let hash = penalised(x.inner_cost + rows_cost + x.order_saved, methods.hashjoin);
    let sorts = if x.outer_sorted {
        0.0
    } else {
        sort_cost(x.outer_rows)
    } + if x.inner_sorted {
        0.0
    } else {
        sort_cost(x.inner_rows)
    };
    let merge = penalised(
        x.inner_cost + sorts + rows_cost + x.merge_read_extra,
        methods.mergejoin,
    );
    let index = match x.probe_cost {
        Some(p) if x.outer_rows <= INDEX_JOIN_OUTER_ROWS_MAX => penalised(
            x.outer_rows.max(1.0) * p + x.rows * ROW_COST + x.order_saved,
            methods.nestloop,
        ),
        _ => f64::INFINITY,
    };
    let mut best = (JoinMethod::Hash, hash);
    for (m, c) in [
        (JoinMethod::IndexNestedLoop, index),
        (JoinMethod::Merge, merge),
    ] {
        if c < best.1 {
            best = (m, c);
        }
    }
    best
}

/// Whether `r` shares an equi-join condition with a relation of `set`.
fn connected(edges: &[JoinEdge], in_set: &dyn Fn(usize) -> bool, r: usize) -> bool {
    edges
        .iter()
        .any(|e| e.equi && e.rels.contains(&r) && e.rels.iter().any(|&x| x != r && in_set(x)))
}

/// The order to join `rels` in: dynamic programming over connected subsets when there are at
/// most [`DP_RELATIONS_MAX`], else greedy. A relation joins a set it is connected to when any
/// is, so cross products come last, as few as possible.
#[must_use]
pub fn order_joins(rels: &[JoinRel], edges: &[JoinEdge]) -> Vec<usize> {
    let n = rels.len();
    if n <= 1 {
        return (0..n).collect();
    }
    if n <= DP_RELATIONS_MAX {
        let full = (1u64 << n) - 1;
        let mut best: Vec<Option<(Partial, Vec<usize>)>> = vec![None; 1 << n];
        for (r, rel) in rels.iter().enumerate() {
            best[1 << r] = Some((
                Partial {
                    rows: rel.rows.max(1.0),
                    cost: rel.cost,
                },
                vec![r],
            ));
        }
        for set in 1..=full {
            let Some((partial, order)) = best[set as usize].clone() else {
                continue;
            };
            let in_set = |x: usize| set & (1 << x) != 0;
            let any_connected = (0..n).any(|r| !in_set(r) && connected(edges, &in_set, r));
            for r in 0..n {
                if in_set(r) || (any_connected && !connected(edges, &in_set, r)) {
                    continue;
                }
                let next = step(rels, edges, &in_set, partial, r);
                let slot = &mut best[(set | (1 << r)) as usize];
                if slot.as_ref().is_none_or(|(p, _)| next.cost < p.cost) {
                    let mut o = order.clone();
                    o.push(r);
                    *slot = Some((next, o));
                }
            }
        }
        if let Some((_, order)) = best[full as usize].take() {
            return order;
        }
    }
    // Greedy: the cheapest relation to start, then the cheapest connected step each time.
    let first = (0..n)
        .min_by(|&a, &b| rels[a].rows.total_cmp(&rels[b].rows))
        .unwrap_or(0);
    let mut order = vec![first];
    let mut joined = vec![false; n];
    joined[first] = true;
    let mut partial = Partial {
        rows: rels[first].rows.max(1.0),
        cost: rels[first].cost,
    };
    while order.len() < n {
        let in_set = |x: usize| joined.get(x).copied().unwrap_or(false);
        let candidates: Vec<usize> = (0..n).filter(|&r| !joined[r]).collect();
        let linked: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&r| connected(edges, &in_set, r))
            .collect();
        let pool = if linked.is_empty() {
            &candidates
        } else {
            &linked
        };
        let (r, next) = pool
            .iter()
            .map(|&r| (r, step(rels, edges, &in_set, partial, r)))
            .min_by(|a, b| a.1.cost.total_cmp(&b.1.cost))
            .unwrap_or((candidates[0], partial));
        joined[r] = true;
        partial = next;
        order.push(r);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_joins_win_only_on_sorted_inputs_or_when_hashing_is_off() {
        let base = JoinStepInput {
            outer_rows: 100_000.0,
            inner_rows: 100_000.0,
            inner_cost: 2_000.0,
            rows: 100_000.0,
            outer_sorted: true,
            inner_sorted: true,
            probe_cost: None,
            order_saved: 0.0,
            merge_read_extra: 0.0,
        };
        let on = Methods::default();
        // Both sides in key order: as cheap as hashing, and a tie goes to the hash join.
        assert_eq!(join_method(&base, on).0, JoinMethod::Hash);
        // ... unless its sorted output saves a sort above it.
        let ordered = JoinStepInput {
            order_saved: sort_cost(base.rows),
            ..base
        };
        assert_eq!(join_method(&ordered, on).0, JoinMethod::Merge);
        // A side to sort costs more than hashing it.
        let unsorted = JoinStepInput {
            inner_sorted: false,
            ..ordered
        };
        assert_eq!(join_method(&unsorted, on).0, JoinMethod::Hash);
        // Switched off, hashing loses even to sorting both sides; switched off too, merging
        // loses as well (the hash join still runs: some method must).
        let no_hash = Methods {
            hashjoin: false,
            ..on
        };
        let both_unsorted = JoinStepInput {
            outer_sorted: false,
            inner_sorted: false,
            ..base
        };
        assert_eq!(join_method(&both_unsorted, no_hash).0, JoinMethod::Merge);
        let neither = Methods {
            mergejoin: false,
            ..no_hash
        };
        assert_eq!(join_method(&both_unsorted, neither).0, JoinMethod::Hash);
        // Few partial rows and a key to probe: the index nested loop, unless switched off.
        let few = JoinStepInput {
            outer_rows: 10.0,
            rows: 10.0,
            probe_cost: Some(4.0),
            ..base
        };
        assert_eq!(join_method(&few, on).0, JoinMethod::IndexNestedLoop);
        let no_loop = Methods {
            nestloop: false,
            ..on
        };
        assert_ne!(join_method(&few, no_loop).0, JoinMethod::IndexNestedLoop);
        let many = JoinStepInput {
            outer_rows: 5_000.0,
            ..few
        };
        assert_ne!(join_method(&many, on).0, JoinMethod::IndexNestedLoop);
    }

    #[test]
    fn join_search_starts_from_the_selective_side_and_follows_the_edges() {
        // 0: big fact table; 1: a dimension filtered to one row; 2, 3: dimensions of 0.
        let rels = vec![
            JoinRel {
                rows: 100_000.0,
                cost: 1_000.0,
            },
            JoinRel {
                rows: 1.0,
                cost: 2.0,
            },
            JoinRel {
                rows: 100.0,
                cost: 2.0,
            },
            JoinRel {
                rows: 1_000.0,
                cost: 20.0,
            },
        ];
        let edge = |a: usize, b: usize, sel: f64, probe_b: bool| JoinEdge {
            rels: vec![a, b],
            selectivity: sel,
            probe: vec![None, probe_b.then_some((4.0, 100.0))],
            equi: true,
        };
        let edges = vec![
            edge(1, 0, 1.0 / 1_000.0, true),
            edge(0, 2, 1.0 / 100.0, false),
            edge(0, 3, 1.0 / 1_000.0, false),
        ];
        let order = order_joins(&rels, &edges);
        assert_eq!(order[..2], [1, 0], "{order:?}");
        // Beyond the exhaustive search the greedy order still starts small and stays connected.
        let many: Vec<JoinRel> = (0..20)
            .map(|i| JoinRel {
                rows: 1000.0 - f64::from(i),
                cost: 10.0,
            })
            .collect();
        let chain: Vec<JoinEdge> = (0..19).map(|i| edge(i, i + 1, 0.001, false)).collect();
        let order = order_joins(&many, &chain);
        assert_eq!(order[0], 19);
        assert_eq!(order[1], 18);
        assert_eq!(order.len(), 20);
    }
}
