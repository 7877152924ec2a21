//! Merge joins: a join step that orders both sides on the equi-join keys and joins runs of
//! equal keys, and the planner's choice between it, the hash join and the index nested loop.
//!
//! ```text
//!  partial rows ──key──▶ sort (unless in key order) ─┐
//!                                                    ├─▶ merge: advance the side with the lower
//!  relation rows ─key──▶ sort (unless in key order) ─┘   key; on equal keys pair the outer run
//!                                                        with the inner run (re-read from its
//!                                                        mark for every outer row of the run)
//! ```
//!
//! A side's key is the memcomparable encoding ([`encode_key_value`]) of its join-key values, the
//! same bytes the hash join compares, so the two joins pair exactly the same rows; a row with a
//! NULL key has no key and matches nothing. The merge follows PostgreSQL's `ExecMergeJoin`: when
//! the keys are equal, every outer row of the run is joined with every inner row of the run
//! (mark/restore), the step's remaining ON condition deciding which pairs match. A LEFT or FULL
//! step adds the outer rows that matched nothing with NULLs for the relation, a RIGHT or FULL
//! step the relation's rows that matched nothing with NULLs for the rest, as the hash join does.
//! Outer rows come out in key order, those with a NULL key last (PostgreSQL's NULLS LAST).
//!
//! The executor holds every row set in memory, so "sorted input" is a planning fact: a side
//! read through a key in that key's order (a table in its primary-key order, an index range in
//! its index order, see [`delivers`]) needs no sort, a table read in full may instead be read
//! through a key that starts with the join column when that costs less than sorting it (an
//! index that holds every column the query reads, read index-only), and EXPLAIN shows a `Sort`
//! only above the sides that do not arrive sorted. The executor still checks the order (one linear pass over
//! sorted input) and sorts whatever is not in it, so a wrong planning fact costs time, never a
//! wrong answer.
//!
//! The choice ([`Planner::choose_join_methods`]) weighs [`cost::join_method`]: with both sides
//! in key order a merge join costs what a hash join does (ties go to the hash join, as
//! PostgreSQL's choice of a hash join for two tables joined on their primary keys), and it wins
//! when its sorted output saves the sort of an ORDER BY on the join keys (PostgreSQL's choice
//! for `… JOIN … ON a.id = b.id ORDER BY a.id`), or when `enable_hashjoin` is off.

use super::index_only::{covers, delivers, key_orders};
use super::{
    Access, Emit, Executor, FromPlan, JoinKind, JoinStep, KeyRange, Planner, Relation, SelectPlan,
    SortKey, SortSpec, Source,
};
use crate::catalog::encode_key_value;
use crate::cost::{self, JoinMethod, JoinStepInput, TableInfo};
use crate::error::SqlResult;
use crate::expr::{EvalContext, Expr};
use crate::types::Value;

/// A join step run as a merge join, and which of its sides arrive in key order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct MergeJoin {
    /// The partial rows arrive sorted on the probe keys.
    pub outer_sorted: bool,
    /// The relation's rows arrive sorted on the build keys.
    pub inner_sorted: bool,
}

/// A plain column under at most a cast: its position.
fn column(e: &Expr) -> Option<usize> {
    match e {
        Expr::Column(c) => Some(*c),
        Expr::Cast { expr, .. } => match &**expr {
            Expr::Column(c) => Some(*c),
            _ => None,
        },
        _ => None,
    }
}

/// Whether a relation's rows are read in the order of its own column `col` (ascending, NULLs
/// last): a table read in full (its primary-key order) whose key starts with `col`, or through a
/// key range whose order puts `col` next.
fn read_in_order(rel: &Relation, col: usize) -> bool {
    let Source::Table(def) = &rel.source else {
        return false;
    };
    match &rel.access {
        Access::Full => def.pk.first() == Some(&col),
        Access::Range(r) => !r.backward && delivers(def, r.index, r.eq.len(), &[col]),
    }
}

/// The choice for one join step.
struct Decision {
    step: usize,
    method: JoinMethod,
    outer_sorted: bool,
    inner_sorted: bool,
    /// The merge join's output is in ORDER BY order.
    ordered: bool,
    /// New reads for a merge join: the first relation's and the step's relation's, through a
    /// key in the join key's order (so that they need no sort).
    outer_read: Option<KeyRange>,
    inner_read: Option<KeyRange>,
}

impl Planner<'_> {
    /// Chooses for every join step with equi-join keys how it runs (see
    /// [`cost::join_method`]) and returns whether the FROM clause's rows then come in ORDER BY
    /// order (its last step a merge join on the ORDER BY columns, in a query that only sorts).
    /// `needed` marks the columns each relation's row must give (for index-only reads).
    pub(super) fn choose_join_methods(
        &self,
        s: &mut SelectPlan,
        order_by: &[SortSpec],
        needed: &[Vec<bool>],
    ) -> bool {
        if s.from.steps.len() < 2 {
            return false;
        }
        let order = join_order_columns(s, order_by);
        let decisions = self.join_decisions(&s.from, order.as_deref(), needed);
        let mut presorted = false;
        let from = &mut s.from;
        for d in decisions {
            let step = &mut from.steps[d.step];
            // A semi- or anti-join step probes the index only when that is the cheaper
            // method (it stops at a key's first row, so the estimate is the cost's to make).
            if (!self.methods.nestloop || step.kind.filters_only())
                && d.method != JoinMethod::IndexNestedLoop
            {
                step.lookup = None;
            }
            if d.method != JoinMethod::Merge {
                continue;
            }
            step.lookup = None;
            step.merge = Some(MergeJoin {
                outer_sorted: d.outer_sorted,
                inner_sorted: d.inner_sorted,
            });
            presorted |= d.ordered;
            let rel = step.rel;
            let first = from.steps[0].rel;
            for (r, read) in [(first, d.outer_read), (rel, d.inner_read)] {
                if let Some(range) = read {
                    from.relations[r].access = Access::Range(range);
                }
            }
        }
        presorted
    }

    /// A read of `rel` (a table read in full) in the order of its column `col`: through its
    /// primary key or an index that starts with `col`, index-only when the key holds every
    /// column `own` marks; the cheapest, with its cost.
    fn ordered_read(
        &self,
        rel: &Relation,
        t: &TableInfo<'_>,
        col: usize,
        own: &[bool],
    ) -> Option<(KeyRange, f64)> {
        if !matches!(rel.access, Access::Full) {
            return None;
        }
        let def = t.def;
        let quals = rel.filter.as_ref().map_or(0, |f| cost::conjuncts(f).len());
        let keys = (!def.pk.is_empty())
            .then_some(None)
            .into_iter()
            .chain((0..def.indexes.len()).map(Some));
        let mut best: Option<(KeyRange, f64)> = None;
        for index in keys {
            if !delivers(def, index, 0, &[col]) {
                continue;
            }
            let range = KeyRange {
                index,
                eq: Vec::new(),
                lower: None,
                upper: None,
                rows: None,
                index_only: self.methods.indexonlyscan && covers(def, index, own),
                backward: false,
                not_null: false,
            };
            let c = cost::penalised(
                cost::range_cost(self.engine, t, &range, quals),
                index.is_none() || range.index_only || self.methods.indexscan,
            );
            if best.as_ref().is_none_or(|(_, b)| c < *b) {
                best = Some((range, c));
            }
        }
        best
    }

    /// The method of each join step with equi-join keys, from estimates of the rows each step
    /// gets and gives.
    fn join_decisions(
        &self,
        from: &FromPlan,
        order: Option<&[usize]>,
        needed: &[Vec<bool>],
    ) -> Vec<Decision> {
        let infos: Vec<Option<TableInfo<'_>>> = from
            .relations
            .iter()
            .map(|r| match &r.source {
                Source::Table(def) => Some(TableInfo {
                    def,
                    stats: r.stats.as_deref(),
                    rows: cost::table_rows(self.engine, def, r.stats.as_deref()),
                }),
                _ => None,
            })
            .collect();
        // Rows and read cost of each relation.
        let estimates: Vec<(f64, f64)> = from
            .relations
            .iter()
            .zip(&infos)
            .map(|(r, info)| match (info, &r.source) {
                (Some(t), Source::Table(def)) => {
                    let parts = r.filter.as_ref().map(cost::conjuncts).unwrap_or_default();
                    let rows = if r.access.is_point(def) {
                        1.0
                    } else {
                        t.rows * cost::conjunction_selectivity(&parts, Some(t))
                    };
                    (
                        rows.max(1.0),
                        cost::access_cost(self.engine, t, &r.access, parts.len()),
                    )
                }
                (_, Source::Derived(_)) => (1000.0, 1000.0 * cost::ROW_COST),
                _ => (100.0, 100.0 * cost::ROW_COST),
            })
            .collect();
        // A side of a merge join read in key order: (new read, if any; its extra cost), when
        // that costs less than sorting the side.
        let side = |r: usize, col: Option<usize>, rows: f64| -> Option<(Option<KeyRange>, f64)> {
            let rel = &from.relations[r];
            let col = col?;
            if read_in_order(rel, col) {
                // A full read in primary-key order is a read of the primary key from end to
                // end: the same read, shown as PostgreSQL shows it.
                let range = match (&rel.access, &rel.source) {
                    (Access::Full, Source::Table(def)) => Some(KeyRange {
                        index: None,
                        eq: Vec::new(),
                        lower: None,
                        upper: None,
                        rows: None,
                        index_only: self.methods.indexonlyscan && covers(def, None, needed.get(r)?),
                        backward: false,
                        not_null: false,
                    }),
                    _ => None,
                };
                return Some((range, 0.0));
            }
            let (range, c) = self.ordered_read(rel, infos[r].as_ref()?, col, needed.get(r)?)?;
            let extra = c - estimates[r].1;
            (extra < cost::sort_cost(rows)).then_some((Some(range), extra))
        };
        let first = from.steps[0].rel;
        let mut outer_rows = estimates[first].0;
        let last = from.steps.len() - 1;
        let mut out = Vec::new();
        for (k, step) in from.steps.iter().enumerate().skip(1) {
            let rel = &from.relations[step.rel];
            let (inner_rows, inner_cost) = estimates[step.rel];
            let mut sel = 1.0;
            for (p, b) in step.probe.iter().zip(&step.build) {
                sel *= match (column(p), column(b)) {
                    (Some(pc), Some(bc)) => {
                        let r = super::relation_of(&from.relations, pc);
                        cost::join_selectivity(
                            (infos[r].as_ref(), pc - from.relations[r].offset),
                            (infos[step.rel].as_ref(), bc),
                        )
                    }
                    _ => cost::DEFAULT_EQ_SEL,
                };
            }
            let mut rows = (outer_rows * inner_rows * sel).max(1.0);
            if matches!(step.kind, JoinKind::Left | JoinKind::Full) {
                rows = rows.max(outer_rows);
            }
            // A semi-join passes a partial row at most once, an anti-join the rest.
            if step.kind == JoinKind::Semi {
                rows = rows.min(outer_rows);
            } else if step.kind == JoinKind::Anti {
                rows = (outer_rows - rows.min(outer_rows)).max(1.0);
            }
            if !step.build.is_empty() && !rel.lateral {
                // Only a single key can come from a key's order; the partial rows are in an
                // order of their own only before the first join.
                let single = step.probe.len() == 1;
                let outer = if single && k == 1 {
                    let r = &from.relations[first];
                    let col = column(&step.probe[0])
                        .filter(|&c| c >= r.offset && c < r.offset + r.width)
                        .map(|c| c - r.offset);
                    side(first, col, outer_rows)
                } else {
                    None
                };
                let inner = if single {
                    side(step.rel, column(&step.build[0]), inner_rows)
                } else {
                    None
                };
                let ordered = k == last && merge_keeps_order(step, rel, order);
                let probe_cost = match (&step.lookup, &infos[step.rel]) {
                    (Some(l), Some(t)) => l
                        .range
                        .columns(t.def)
                        .first()
                        .and_then(|&c| cost::probe(self.engine, t, c))
                        .map(|(c, _)| c),
                    _ => None,
                };
                let input = JoinStepInput {
                    outer_rows,
                    inner_rows,
                    inner_cost,
                    rows,
                    outer_sorted: outer.is_some(),
                    inner_sorted: inner.is_some(),
                    probe_cost,
                    order_saved: if ordered { cost::sort_cost(rows) } else { 0.0 },
                    merge_read_extra: outer.as_ref().map_or(0.0, |o| o.1)
                        + inner.as_ref().map_or(0.0, |i| i.1),
                };
                let (mut method, _) = cost::join_method(&input, self.methods);
                // The merge join has no semi- or anti-join mode: those hash instead.
                if step.kind.filters_only() && method == JoinMethod::Merge {
                    method = JoinMethod::Hash;
                }
                out.push(Decision {
                    step: k,
                    method,
                    outer_sorted: outer.is_some(),
                    inner_sorted: inner.is_some(),
                    ordered: ordered && method == JoinMethod::Merge,
                    outer_read: outer.and_then(|o| o.0),
                    inner_read: inner.and_then(|i| i.0),
                });
            }
            outer_rows = rows;
        }
        out
    }
}

/// The FROM-row columns a query that only sorts (no grouping, window or DISTINCT) orders by,
/// each ascending with NULLs last and of a type whose key order is its sort order; `None`
/// otherwise.
fn join_order_columns(s: &SelectPlan, order_by: &[SortSpec]) -> Option<Vec<usize>> {
    if order_by.is_empty()
        || s.aggregate.is_some()
        || !s.windows.calls.is_empty()
        || s.distinct
        || !s.distinct_on.is_empty()
    {
        return None;
    }
    let mut cols = Vec::with_capacity(order_by.len());
    for spec in order_by {
        if spec.desc || spec.nulls_first {
            return None;
        }
        let e = match &spec.key {
            SortKey::Output(i) => s.projections.get(*i)?,
            SortKey::Expr(e) => e,
        };
        let Expr::Column(c) = e else { return None };
        let r = super::relation_of(&s.from.relations, *c);
        let rel = &s.from.relations[r];
        let Source::Table(def) = &rel.source else {
            return None;
        };
        if !key_orders(def.columns.get(c - rel.offset)?.ty) {
            return None;
        }
        cols.push(*c);
    }
    Some(cols)
}

/// Whether a merge join of `step` gives its rows in the order of `order` (FROM-row columns):
/// each ordered column is the step's next join key, on the outer side (or, for an inner join,
/// on either side: the keys are equal).
fn merge_keeps_order(step: &JoinStep, rel: &Relation, order: Option<&[usize]>) -> bool {
    let Some(order) = order else { return false };
    if order.len() > step.probe.len() || !matches!(step.kind, JoinKind::Inner | JoinKind::Left) {
        return false;
    }
    order.iter().enumerate().all(|(i, &c)| {
        let outer = matches!(step.probe[i], Expr::Column(p) if p == c);
        let inner = step.kind == JoinKind::Inner
            && matches!(step.build[i], Expr::Column(b) if b + rel.offset == c);
        outer || inner
    })
}

/// Positions of the rows with a key, ordered by key (stable); the rows without one (a NULL
/// key) last, in their own order.
fn key_order(keys: &[Option<Vec<u8>>]) -> (Vec<usize>, Vec<usize>) {
    let (mut with, without): (Vec<usize>, Vec<usize>) =
        (0..keys.len()).partition(|&i| keys[i].is_some());
    if !with.is_sorted_by(|&a, &b| keys[a] <= keys[b]) {
        with.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
    }
    (with, without)
}

impl Executor<'_> {
    /// The key of `row` over the key expressions `exprs`: their values' encodings, or `None`
    /// when one is NULL (such a row matches nothing).
    fn merge_key(
        &self,
        exprs: &[Expr],
        row: &[Value],
        outer: Option<&EvalContext<'_>>,
    ) -> SqlResult<Option<Vec<u8>>> {
        let cx = self.cx(row, outer);
        let mut key = Vec::new();
        for e in exprs {
            let v = e.eval(&cx)?;
            if v.is_null() {
                return Ok(None);
            }
            encode_key_value(&v, &mut key);
        }
        Ok(Some(key))
    }

    /// Runs a join step as a merge join (see the module docs): the partial rows `rows` joined
    /// with the rows of `rel`.
    pub(super) fn merge_step(
        &self,
        from: &FromPlan,
        rel: &Relation,
        step: &JoinStep,
        rows: &[Vec<Value>],
        outer: Option<&EvalContext<'_>>,
        emit: &mut Emit<'_>,
    ) -> SqlResult<()> {
        let rel_rows = self.relation_rows(rel, outer, None)?;
        let mut outer_keys = Vec::with_capacity(rows.len());
        for row in rows {
            outer_keys.push(self.merge_key(&step.probe, row, outer)?);
        }
        let mut inner_keys = Vec::with_capacity(rel_rows.len());
        for row in &rel_rows {
            inner_keys.push(self.merge_key(&step.build, row, outer)?);
        }
        let (outer_order, outer_null) = key_order(&outer_keys);
        let (inner_order, inner_null) = key_order(&inner_keys);
        let pad_outer = matches!(step.kind, JoinKind::Left | JoinKind::Full);
        let pad_inner = matches!(step.kind, JoinKind::Right | JoinKind::Full);
        // A relation row that matched nothing, with NULLs for the partial row's relations.
        let inner_alone = |row: &[Value], emit: &mut Emit<'_>| -> SqlResult<()> {
            let mut joined = vec![Value::Null; from.width];
            joined[rel.offset..rel.offset + rel.width].clone_from_slice(row);
            emit(joined)
        };
        let (mut i, mut j) = (0, 0);
        while i < outer_order.len() {
            self.session.cancel.check()?;
            let o = outer_order[i];
            let ko = &outer_keys[o];
            // Relation rows below the outer key match no partial row.
            while j < inner_order.len() && inner_keys[inner_order[j]] < *ko {
                if pad_inner {
                    inner_alone(&rel_rows[inner_order[j]], emit)?;
                }
                j += 1;
            }
            // The run of relation rows with this key: [mark, end).
            let mark = j;
            let mut end = mark;
            while end < inner_order.len() && inner_keys[inner_order[end]] == *ko {
                end += 1;
            }
            if mark == end {
                if pad_outer {
                    self.pad_left(step, &rows[o], outer, emit)?;
                }
                i += 1;
                continue;
            }
            // Every partial row of the run meets every relation row of the run (restored to
            // the mark for each).
            let mut matched_inner = vec![false; end - mark];
            while i < outer_order.len() && outer_keys[outer_order[i]] == *ko {
                self.session.cancel.check()?;
                let partial = &rows[outer_order[i]];
                let mut matched = false;
                for (m, &c) in inner_order[mark..end].iter().enumerate() {
                    if self.join_row(rel, step, partial, &rel_rows[c], outer, emit)? {
                        matched = true;
                        matched_inner[m] = true;
                    }
                }
                if pad_outer && !matched {
                    self.pad_left(step, partial, outer, emit)?;
                }
                i += 1;
            }
            if pad_inner {
                for (m, &c) in inner_order[mark..end].iter().enumerate() {
                    if !matched_inner[m] {
                        inner_alone(&rel_rows[c], emit)?;
                    }
                }
            }
            j = end;
        }
        if pad_inner {
            for &c in inner_order[j..].iter().chain(&inner_null) {
                inner_alone(&rel_rows[c], emit)?;
            }
        }
        if pad_outer {
            for &o in &outer_null {
                self.session.cancel.check()?;
                self.pad_left(step, &rows[o], outer, emit)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_order_by_key_with_the_keyless_last() {
        let k = |v: i64| {
            let mut b = Vec::new();
            encode_key_value(&Value::Int(v), &mut b);
            Some(b)
        };
        let keys = vec![k(3), None, k(-1), k(3), None, k(0)];
        let (with, without) = key_order(&keys);
        assert_eq!(with, [2, 5, 0, 3], "by key, equal keys in their own order");
        assert_eq!(without, [1, 4]);
        let sorted = vec![k(1), k(2), k(2)];
        assert_eq!(key_order(&sorted).0, [0, 1, 2]);
    }
}
