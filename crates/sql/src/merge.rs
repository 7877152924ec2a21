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
//! Both sides go through the spilling sort ([`crate::spill::Sorter`]) on their keys, so a merge
//! join keeps within `work_mem`: the partial rows wait in a [`RowStore`] until their input ends,
//! the relation's sorted rows in another, read once in step with the sorted partial rows; the
//! relation's current run of equal keys is a third store, re-read for every partial row with that
//! key (PostgreSQL's mark and restore over its materialised inner side). "Sorted input" is a
//! planning fact: a side read through a key in that key's order (a table in its primary-key order,
//! an index range in its index order, see [`delivers`]) is costed with no sort, a table read in
//! full may instead be read through a key that starts with the join column when that costs less
//! than sorting it (an index that holds every column the query reads, read index-only), and EXPLAIN
//! shows a `Sort` only above the sides that do not arrive sorted. The executor sorts both sides
//! whatever the plan says (sorted input sorts in one linear pass), so a wrong planning fact costs
//! time, never a wrong answer.
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
use crate::cursor::RowStore;
use crate::error::SqlResult;
use crate::expr::{EvalContext, Expr};
use crate::spill::Sorter;
use crate::types::Value;
use std::cmp::Ordering;

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
    /// with the rows of `rel`. Both sides go through the spilling sort ([`Sorter`]) on their
    /// keys; the relation's sorted rows wait in a [`RowStore`] (a file past `work_mem`) and are
    /// read once, in step with the partial rows; the current run of equal keys is one more
    /// store, re-read for every partial row of the run.
    pub(super) fn merge_step(
        &self,
        from: &FromPlan,
        rel: &Relation,
        step: &JoinStep,
        rows: &RowStore,
        outer: Option<&EvalContext<'_>>,
        emit: &mut Emit<'_>,
    ) -> SqlResult<()> {
        let cancel = &self.session.cancel;
        let pad_outer = matches!(step.kind, JoinKind::Left | JoinKind::Full);
        let pad_inner = matches!(step.kind, JoinKind::Right | JoinKind::Full);
        // Sort keys are one value: the key's bytes, compared as bytes.
        let order = |a: &[Value], b: &[Value]| match (a.first(), b.first()) {
            (Some(Value::Bytes(x)), Some(Value::Bytes(y))) => x.cmp(y),
            _ => Ordering::Equal,
        };
        let key_of = |keys: &[Value]| -> Vec<u8> {
            match keys.first() {
                Some(Value::Bytes(k)) => k.clone(),
                _ => Vec::new(),
            }
        };
        // The relation's rows with a key, sorted (the key after the row), and those without.
        let mut inner_null = RowStore::new(rel.width, self.work_mem);
        let mut inner_sorted = RowStore::new(rel.width + 1, self.work_mem);
        {
            let mut sorter = Sorter::new(&order, cancel, self.work_mem, None);
            self.for_each_relation_row(rel, outer, &mut |row| match self.merge_key(
                &step.build,
                row,
                outer,
            )? {
                Some(k) => sorter.push(row.to_vec(), vec![Value::Bytes(k)]),
                None if pad_inner => inner_null.push(row.to_vec()),
                None => Ok(()),
            })?;
            sorter.finish(&mut |mut vals, keys| {
                vals.extend(keys);
                inner_sorted.push(vals)?;
                Ok(true)
            })?;
        }
        inner_sorted.finish_writing()?;
        inner_null.finish_writing()?;
        let mut inner = inner_sorted.reader()?;
        let next_inner = |inner: &mut crate::cursor::RowStoreReader<'_>| -> SqlResult<Option<(Vec<Value>, Vec<u8>)>> {
            Ok(inner.next_row()?.map(|mut row| {
                let key = match row.pop() {
                    Some(Value::Bytes(k)) => k,
                    _ => Vec::new(),
                };
                (row, key)
            }))
        };
        // A relation row that matched nothing, with NULLs for the partial row's relations.
        let inner_alone = |row: &[Value], emit: &mut Emit<'_>| -> SqlResult<()> {
            let mut joined = vec![Value::Null; from.width];
            joined[rel.offset..rel.offset + rel.width].clone_from_slice(row);
            emit(joined)
        };
        // The partial rows with a key, sorted; those without wait for the end.
        let mut outer_null = RowStore::new(from.width, self.work_mem);
        let mut sorter = Sorter::new(&order, cancel, self.work_mem, None);
        rows.for_each(&mut |row| match self.merge_key(&step.probe, row, outer)? {
            Some(k) => sorter.push(row.to_vec(), vec![Value::Bytes(k)]),
            None if pad_outer => outer_null.push(row.to_vec()),
            None => Ok(()),
        })?;
        outer_null.finish_writing()?;
        // The look-ahead relation row, the current run of relation rows with one key (and
        // which of them matched), and that key.
        let mut ahead = next_inner(&mut inner)?;
        // The run is a store like the sides: past `work_mem` it is a file, re-read per row.
        let mut run = RowStore::new(rel.width, self.work_mem);
        let mut matched_inner: Vec<bool> = Vec::new();
        let mut run_key: Option<Vec<u8>> = None;
        let close_run = |run: &mut RowStore,
                         matched_inner: &mut Vec<bool>,
                         emit: &mut Emit<'_>|
         -> SqlResult<()> {
            if pad_inner {
                let mut at = 0;
                run.for_each(&mut |row| {
                    if !matched_inner[at] {
                        inner_alone(row, emit)?;
                    }
                    at += 1;
                    Ok(())
                })?;
            }
            run.clear();
            matched_inner.clear();
            Ok(())
        };
        let mut n = 0u64;
        sorter.finish(&mut |partial, keys| {
            n += 1;
            if n.is_multiple_of(1024) {
                cancel.check()?;
            }
            let ko = key_of(&keys);
            if run_key.as_ref() != Some(&ko) {
                close_run(&mut run, &mut matched_inner, emit)?;
                // Relation rows below the key match no partial row.
                while let Some((row, k)) = &ahead
                    && *k < ko
                {
                    if pad_inner {
                        inner_alone(row, emit)?;
                    }
                    ahead = next_inner(&mut inner)?;
                }
                // The run of relation rows with this key, re-read for every partial row of
                // the partial rows' run (PostgreSQL's mark and restore).
                while let Some((_, k)) = &ahead
                    && *k == ko
                {
                    if let Some((row, _)) = ahead.take() {
                        run.push(row)?;
                    }
                    ahead = next_inner(&mut inner)?;
                }
                run.finish_writing()?;
                #[allow(clippy::cast_possible_truncation)] // a flag per row of the run
                let rows = run.len() as usize;
                matched_inner = vec![false; rows];
                run_key = Some(ko);
            }
            let mut matched = false;
            let mut at = 0;
            run.for_each(&mut |row| {
                if self.join_row(rel, step, &partial, row, outer, emit)? {
                    matched = true;
                    matched_inner[at] = true;
                }
                at += 1;
                Ok(())
            })?;
            if pad_outer && !matched {
                self.pad_left(step, &partial, outer, emit)?;
            }
            Ok(true)
        })?;
        close_run(&mut run, &mut matched_inner, emit)?;
        if pad_inner {
            while let Some((row, _)) = ahead {
                inner_alone(&row, emit)?;
                ahead = next_inner(&mut inner)?;
            }
            inner_null.for_each(&mut |row| inner_alone(row, emit))?;
        }
        if pad_outer {
            let mut n = 0u64;
            outer_null.for_each(&mut |row| {
                n += 1;
                if n.is_multiple_of(1024) {
                    cancel.check()?;
                }
                self.pad_left(step, row, outer, emit)
            })?;
        }
        Ok(())
    }
}
