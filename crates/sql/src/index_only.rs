//! Index-only scans and reads in key order: choices made once a query is bound, when every
//! column it reads and its ORDER BY and LIMIT are known.
//!
//! ```text
//!  bound SELECT ─▶ columns read per relation ─┬─▶ a key holds them all (decodable types)?
//!                 (select list, WHERE, ON,      │     then read the key alone: Index Only Scan
//!                  GROUP BY, aggregates,        ├─▶ one table, ORDER BY = its key's order
//!                  ORDER BY, join keys)         │     (or its reverse)? then no Sort, read
//!                                               │     forwards (backwards); LIMIT stops it
//!                                               └─▶ only min/max of key columns? one entry
//!                                                     from a key's end per call
//! ```
//!
//! An index-only read decodes each row's needed values from the key it finds (see
//! [`catalog::decode_index_key`](crate::catalog::decode_index_key)) and never fetches the
//! table's row. That is exact with no visibility check: index trees are MVCC trees like tables,
//! and an entry is written and removed in the same transaction as its row, so the entries a
//! snapshot sees are exactly those of the rows it sees (EXPLAIN ANALYZE's `Heap Fetches` is
//! always 0). The primary key is the table's own tree: a read of it that needs only key columns
//! decodes them from the key too, and prints as PostgreSQL's `Index Only Scan using t_pkey`.
//! Only columns whose key encoding gives the stored value back can be read this way
//! ([`key_decodable`]); a key holding a lossy column (float, interval, jsonb, numeric without a
//! scale) is never read index-only.
//!
//! A single table read through a key in ascending order (its equality-pinned leading columns
//! skipped) delivers the rows in the order of the key's next columns, NULLs last; an ORDER BY of
//! those columns (ASC, NULLS LAST) then needs no sort, and LIMIT ends the read after its rows.
//! Read backwards (the engine's descending scan, PostgreSQL's `Index Scan Backward`), the same
//! key delivers those columns all DESC with NULLS FIRST, which is what `DESC` means by default:
//! `ORDER BY id DESC LIMIT 10` reads ten entries from the key's end. An index's columns keep
//! the order they were declared in (`DESC`, `NULLS FIRST`; see
//! [`catalog::encode_index_column`](crate::catalog::encode_index_column)), so an index
//! `(a DESC, b)` delivers `ORDER BY a DESC, b` forwards and `ORDER BY a, b DESC` backwards
//! ([`direction`]); an order that is no key's either way still sorts. A secondary index's
//! entries end with the table key, so its order goes on with the primary key's columns: an index
//! on `customer_id` delivers `WHERE customer_id = $1 ORDER BY id DESC` read backwards (see
//! [`delivers`]; PostgreSQL sorts there).
//!
//! An aggregate of nothing but `min(col)` and `max(col)` calls over one table, with no GROUP
//! BY, is PostgreSQL's min/max case: each call reads, from a key whose column after the
//! WHERE clause's equality-pinned ones is `col`, the first entry that is not NULL and passes
//! the filter — forwards for `min`, backwards for `max` — and the aggregate runs over those
//! rows alone ([`SelectPlan::minmax`](super::SelectPlan), EXPLAIN's `Result` over one
//! `InitPlan` per call). It is taken when those reads cost less than aggregating the table.
//!
//! Each choice is costed ([`crate::cost`]) against the access path the binder chose: an
//! index-only read of a key range costs what a primary-key range does (its entries are all it
//! reads), a sort costs what EXPLAIN charges for one, and under a LIMIT a presorted read costs
//! the fraction of its rows the LIMIT takes. The session's `enable_seqscan`, `enable_indexscan`
//! and `enable_indexonlyscan` add PostgreSQL's `disable_cost` to the methods they switch off.

use super::{
    Access, Body, KeyRange, Planner, QueryPlan, SelectPlan, SortKey, SortSpec, Source,
    access_candidates, constant_usize, has_subquery, mark_columns,
};
use crate::catalog::{TableDef, key_decodable};
use crate::cost::{self, TableInfo, penalised};
use crate::expr::{AggFunc, Expr, SessionInfo};
use crate::types::DataType;

impl Planner<'_> {
    /// Marks the reads of `plan`'s relations that can be index-only and, for a query over one
    /// table, reads it in ORDER BY order when that is cheaper than sorting; a min/max
    /// aggregate may be read from keys' ends (in a subquery too: EXPLAIN numbers its InitPlans
    /// before the subquery's own, as PostgreSQL does).
    pub(super) fn choose_scans(&self, plan: &mut QueryPlan) {
        let limit = plan
            .limit
            .as_ref()
            .map(|l| constant_rows(l).zip(plan.offset.as_ref().map_or(Some(0.0), constant_rows)));
        let Body::Select(s) = &mut plan.body else {
            return;
        };
        // Unknown (a correlated subquery may read any column): every column is needed, so only
        // a key holding the whole row is read alone.
        let known = columns_read_by_relation(s, &plan.order_by);
        let needed = known.clone().unwrap_or_else(|| {
            s.from
                .relations
                .iter()
                .map(|r| vec![true; r.width])
                .collect()
        });
        // A join's tables decode only the columns the query reads (a single table's read
        // works its mask out when it runs, see `columns_read`).
        if let Some(known) = known
            && s.from.relations.len() > 1
        {
            for (rel, own) in s.from.relations.iter_mut().zip(known) {
                if matches!(rel.source, Source::Table(_)) && own.contains(&false) {
                    rel.needed = Some(own);
                }
            }
        }
        let single = single_table_order(s, &plan.order_by);
        let mut presorted = false;
        for (r, own) in needed.iter().enumerate() {
            let rel = &s.from.relations[r];
            let Source::Table(def) = &rel.source else {
                continue;
            };
            if rel.lateral {
                continue;
            }
            let sort = match &single {
                Some(keys) if r == 0 => Some(keys.as_slice()),
                _ => None,
            };
            let (access, sorted) = self.best_read(def, rel, own, sort, limit.flatten());
            if r == 0 {
                presorted = sorted;
            }
            s.from.relations[r].access = access;
        }
        let joined_in_order = self.choose_join_methods(s, &plan.order_by, &needed);
        // The inner side of an index nested-loop join: index-only when its key holds it all.
        for step in &mut s.from.steps {
            let rel = &s.from.relations[step.rel];
            if let (Some(lookup), Source::Table(def)) = (&mut step.lookup, &rel.source) {
                lookup.range.index_only = self.methods.indexonlyscan
                    && covers(def, lookup.range.index, &needed[step.rel]);
            }
        }
        plan.presorted = (presorted && single.is_some()) || joined_in_order;
        s.minmax = self.minmax_reads(s);
    }

    /// PostgreSQL's min/max rewrite: for an aggregate of only `min(col)` / `max(col)` calls
    /// (no GROUP BY, HAVING, FILTER, DISTINCT or subquery) over one table, a key range per
    /// call whose first row, read forwards for `min` and backwards for `max` with NULL entries
    /// skipped, is the call's answer; empty when some call has no such key (then the table is
    /// aggregated as usual). A call's key is one whose column after the equality-pinned
    /// leading ones (from the WHERE clause) is the argument; the most pinned columns win. Taken
    /// when the one-row reads cost less than aggregating the table as read now (a table of a
    /// page or two is cheaper to scan than to descend into once per call), as PostgreSQL
    /// decides.
    fn minmax_reads(&self, s: &SelectPlan) -> Vec<KeyRange> {
        let from = &s.from;
        let Some(agg) = &s.aggregate else {
            return Vec::new();
        };
        let one = from.relations.len() == 1
            && from.steps.len() == 1
            && from.steps[0].filter.is_none()
            && from.residual.is_none()
            && from.relations[0].offset == 0
            && !from.relations[0].lateral
            && agg.group_by.is_empty()
            && agg.having.is_none()
            && !agg.aggs.is_empty()
            && s.windows.calls.is_empty()
            && !s.distinct
            && s.distinct_on.is_empty();
        if !one {
            return Vec::new();
        }
        let rel = &from.relations[0];
        let Source::Table(def) = &rel.source else {
            return Vec::new();
        };
        // A subquery anywhere would number its own InitPlans among these.
        let plain = s
            .projections
            .iter()
            .chain(s.srfs.iter().flat_map(|c| &c.args))
            .chain(rel.filter.iter())
            .all(|e| !has_subquery(e));
        if !plain {
            return Vec::new();
        }
        let candidates = access_candidates(def, rel.filter.as_ref());
        let mut reads = Vec::with_capacity(agg.aggs.len());
        for call in &agg.aggs {
            let max = match call.func {
                AggFunc::Min => false,
                AggFunc::Max => true,
                _ => return Vec::new(),
            };
            let Some(Expr::Column(c)) = call.arg else {
                return Vec::new();
            };
            if call.filter.is_some() || !key_orders(def.columns[c].ty) {
                return Vec::new();
            }
            // The columns the read looks at: the argument and what the filter reads.
            let mut own = vec![false; def.columns.len()];
            own[c] = true;
            if let Some(f) = &rel.filter
                && !mark_columns(f, &mut own)
            {
                return Vec::new();
            }
            let whole_keys = (!def.pk.is_empty())
                .then_some(None)
                .into_iter()
                .chain((0..def.indexes.len()).map(Some))
                .map(|index| KeyRange {
                    index,
                    eq: Vec::new(),
                    lower: None,
                    upper: None,
                    rows: None,
                    index_only: false,
                    backward: false,
                    not_null: false,
                });
            let best = candidates
                .iter()
                .map(|(_, r)| r.clone())
                .chain(whole_keys)
                .filter(|r| key_columns(def, r.index).get(r.eq.len()) == Some(&c))
                // The read skips NULLs where they sort last ascending (see `not_null`).
                .filter(|r| {
                    r.index
                        .is_none_or(|i| def.indexes[i].option(r.eq.len()) == 0)
                })
                .max_by_key(|r| (r.eq.len(), r.lower.is_some() || r.upper.is_some()));
            let Some(mut range) = best else {
                return Vec::new();
            };
            range.index_only = self.methods.indexonlyscan && covers(def, range.index, &own);
            if !range.index_only && !self.methods.indexscan {
                return Vec::new();
            }
            range.backward = max;
            range.not_null = true;
            reads.push(range);
        }
        let stats = rel.stats.as_deref();
        let t = TableInfo {
            def,
            stats,
            rows: cost::table_rows(self.engine, def, stats),
        };
        let quals = rel.filter.as_ref().map_or(0, |f| cost::conjuncts(f).len());
        let scan = match &rel.access {
            Access::Full => penalised(cost::seq_cost(t.rows, quals), self.methods.seqscan),
            Access::Range(r) => cost::range_cost(self.engine, &t, r, quals),
        };
        let aggregate = scan + t.rows * cost::ROW_COST * reads.len() as f64;
        let one_each: f64 = reads
            .iter()
            .map(|r| {
                let tree = r.index.map_or(def.tree, |i| def.indexes[i].tree);
                let height = self.engine.tree_height(tree).ok();
                cost::index_cost(height, r.index.is_none() || r.index_only, 1.0)
            })
            .sum();
        if one_each < aggregate {
            reads
        } else {
            Vec::new()
        }
    }

    /// The cheapest read of `def` for the relation's filter among its current access path, the
    /// index-only reads of its key ranges and, when `order` is given (the columns a single-table
    /// ORDER BY sorts on, with their directions), the reads in that order, forwards or
    /// backwards; and whether the chosen read is in `order`.
    fn best_read(
        &self,
        def: &TableDef,
        rel: &super::Relation,
        own: &[bool],
        order: Option<&[OrderColumn]>,
        limit: Option<(f64, f64)>,
    ) -> (Access, bool) {
        let mut current = rel.access.clone();
        let methods = self.methods;
        if let Access::Range(r) = &mut current {
            r.index_only = methods.indexonlyscan && covers(def, r.index, own);
        }
        let in_order = |access: &Access| match (access, order) {
            (Access::Range(r), Some(cols)) => {
                direction(def, r.index, r.eq.len(), cols) == Some(r.backward)
            }
            _ => false,
        };
        // A range that delivers the order when read in some direction is read so.
        let directed = |mut range: KeyRange| {
            if let Some(cols) = order
                && let Some(backward) = direction(def, range.index, range.eq.len(), cols)
            {
                range.backward = backward;
            }
            range
        };
        if let Access::Range(r) = current {
            current = Access::Range(directed(r));
        }
        // A key pinned to one row: nothing to choose but whether the key holds it all.
        if current.is_point(def) {
            let sorted = in_order(&current) || order.is_some();
            return (current, sorted);
        }
        let stats = rel.stats.as_deref();
        let t = TableInfo {
            def,
            stats,
            rows: cost::table_rows(self.engine, def, stats),
        };
        let parts = rel.filter.as_ref().map(cost::conjuncts).unwrap_or_default();
        let rows = (t.rows * cost::conjunction_selectivity(&parts, Some(&t))).max(1.0);
        let total = |access: &Access| -> f64 {
            let read = match access {
                Access::Full => penalised(cost::seq_cost(t.rows, parts.len()), methods.seqscan),
                Access::Range(r) => penalised(
                    cost::range_cost(self.engine, &t, r, parts.len()),
                    r.index_only || methods.indexscan,
                ),
            };
            if order.is_some() && !in_order(access) {
                return read + cost::sort_cost(rows);
            }
            // Rows come in the wanted order (or none is wanted): LIMIT stops the read.
            match limit {
                Some((n, off)) => read * ((n + off) / rows).min(1.0),
                None => read,
            }
        };
        let mut best = (total(&current), current);
        let consider = |range: KeyRange, best: &mut (f64, Access)| {
            let access = Access::Range(range);
            let c = total(&access);
            if c < best.0 {
                *best = (c, access);
            }
        };
        for (_, range) in access_candidates(def, rel.filter.as_ref()) {
            let mut range = directed(range);
            range.index_only = methods.indexonlyscan && covers(def, range.index, own);
            // A plain index read is the binder's to choose, unless it saves the sort or
            // sequential scans are switched off.
            if range.index_only || !methods.seqscan || in_order(&Access::Range(range.clone())) {
                consider(range, &mut best);
            }
        }
        if !methods.indexscan {
            let c = total(&Access::Full);
            if c < best.0 {
                best = (c, Access::Full);
            }
        }
        if order.is_some() {
            let keys = (!def.pk.is_empty())
                .then_some(None)
                .into_iter()
                .chain((0..def.indexes.len()).map(Some));
            for index in keys {
                let range = directed(KeyRange {
                    index,
                    eq: Vec::new(),
                    lower: None,
                    upper: None,
                    rows: None,
                    index_only: methods.indexonlyscan && covers(def, index, own),
                    backward: false,
                    not_null: false,
                });
                if in_order(&Access::Range(range.clone())) {
                    consider(range, &mut best);
                }
            }
        }
        let sorted = in_order(&best.1);
        (best.1, sorted)
    }
}

/// A constant row count (LIMIT or OFFSET) known at planning time.
fn constant_rows(e: &Expr) -> Option<f64> {
    let session = SessionInfo::default();
    constant_usize(
        e,
        &[],
        &session,
        crate::query::RowCount::Limit { with_ties: false },
    )
    .ok()
    .flatten()
    .map(|n| n as f64)
}

/// The columns of each relation's own row the select reads anywhere (select list, WHERE and ON
/// conditions, join keys, GROUP BY, aggregate arguments and filters, HAVING, DISTINCT ON, ORDER
/// BY); `None` when that cannot be known (a correlated subquery, a window function or a
/// LATERAL item may read any column).
fn columns_read_by_relation(s: &SelectPlan, order_by: &[SortSpec]) -> Option<Vec<Vec<bool>>> {
    // A LATERAL item reads the columns of the items before it through its own query or
    // arguments, which this walk does not see.
    if !s.windows.calls.is_empty() || s.from.relations.iter().any(|r| r.lateral) {
        return None;
    }
    let from = &s.from;
    let mut full = vec![false; from.width];
    let mut exprs: Vec<&Expr> = Vec::new();
    exprs.extend(&s.projections);
    exprs.extend(s.srfs.iter().flat_map(|c| &c.args));
    exprs.extend(&s.distinct_on);
    for spec in order_by {
        if let SortKey::Expr(e) = &spec.key {
            exprs.push(e);
        }
    }
    if let Some(agg) = &s.aggregate {
        exprs.extend(&agg.group_by);
        for call in &agg.aggs {
            exprs.extend(call.arg.iter().chain(call.filter.iter()));
        }
        exprs.extend(agg.having.iter());
    }
    for step in &from.steps {
        exprs.extend(&step.probe);
        exprs.extend(step.on.iter().chain(step.filter.iter()));
    }
    exprs.extend(from.residual.iter());
    for e in exprs {
        if !mark_columns(e, &mut full) {
            return None;
        }
    }
    let mut out = Vec::with_capacity(from.relations.len());
    for rel in &from.relations {
        let mut own = full.get(rel.offset..rel.offset + rel.width)?.to_vec();
        if let Some(f) = &rel.filter
            && !mark_columns(f, &mut own)
        {
            return None;
        }
        out.push(own);
    }
    for step in &from.steps {
        let own = out.get_mut(step.rel)?;
        for b in &step.build {
            if !mark_columns(b, own) {
                return None;
            }
        }
    }
    Some(out)
}

/// For a SELECT that reads one table and only sorts its rows (no join, grouping, window or
/// DISTINCT), the table's columns its ORDER BY sorts on, of types whose key order is their sort
/// order, each with its direction and NULLs' place; which key reads deliver it, forwards or
/// backwards, is [`direction`]'s to say.
fn single_table_order(s: &SelectPlan, order_by: &[SortSpec]) -> Option<Vec<OrderColumn>> {
    let from = &s.from;
    let one = from.relations.len() == 1
        && from.steps.len() == 1
        && from.steps[0].filter.is_none()
        && from.residual.is_none()
        && from.relations[0].offset == 0
        && s.aggregate.is_none()
        && s.windows.calls.is_empty()
        && !s.distinct
        && s.distinct_on.is_empty()
        && !order_by.is_empty();
    let Source::Table(def) = &from.relations.first()?.source else {
        return None;
    };
    if !one {
        return None;
    }
    let mut cols = Vec::with_capacity(order_by.len());
    for spec in order_by {
        let e = match &spec.key {
            SortKey::Output(i) => s.projections.get(*i)?,
            SortKey::Expr(e) => e,
        };
        let Expr::Column(c) = e else { return None };
        if !key_orders(def.columns.get(*c)?.ty) {
            return None;
        }
        cols.push(OrderColumn {
            column: *c,
            desc: spec.desc,
            nulls_first: spec.nulls_first,
        });
    }
    Some(cols)
}

/// Whether keys of type `ty` sort as ORDER BY sorts its values (bytewise order is `sort_cmp`'s
/// order: text compares by bytes, float keys put NaN last and -0 with 0).
pub(super) fn key_orders(ty: DataType) -> bool {
    !matches!(ty, DataType::Interval | DataType::Json | DataType::Jsonb)
}

/// The columns of the key a read goes through: the primary key's (the table's tree) or an
/// index's.
fn key_columns(def: &TableDef, index: Option<usize>) -> &[usize] {
    match index {
        None => &def.pk,
        Some(i) => &def.indexes[i].columns,
    }
}

/// Whether the key `index` (`None`: the primary key) holds every column `own` marks, and all of
/// its columns decode back to their values.
pub(super) fn covers(def: &TableDef, index: Option<usize>, own: &[bool]) -> bool {
    let cols = key_columns(def, index);
    if cols.is_empty() {
        // A table without a primary key is keyed by a hidden row id, which holds no column.
        return false;
    }
    own.iter()
        .enumerate()
        .all(|(c, &needed)| !needed || cols.contains(&c))
        && cols.iter().all(|&c| key_decodable(&def.columns[c]))
}

/// Whether a read of key `index` whose first `eq_len` columns are pinned by equalities yields
/// rows ordered by `order` (table columns, each ascending, NULLs last), read forwards: see
/// [`direction`].
pub(super) fn delivers(
    def: &TableDef,
    index: Option<usize>,
    eq_len: usize,
    order: &[usize],
) -> bool {
    let ascending: Vec<OrderColumn> = order
        .iter()
        .map(|&column| OrderColumn {
            column,
            desc: false,
            nulls_first: false,
        })
        .collect();
    direction(def, index, eq_len, &ascending) == Some(false)
}

/// One column of an ORDER BY on a table's columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct OrderColumn {
    pub column: usize,
    pub desc: bool,
    pub nulls_first: bool,
}

/// Whether a read of key `index` whose first `eq_len` columns are pinned by equalities yields
/// rows ordered by `order`, and in which direction: `Some(false)` read forwards, `Some(true)`
/// backwards, `None` not at all. Each ordered column is pinned or is the key's next column, in
/// the key column's declared order (an index's `DESC` / `NULLS FIRST`, see
/// [`IndexDef::option`](crate::catalog::IndexDef::option)) forwards, or in its reverse
/// backwards, for every column alike: an index `(a DESC, b)` delivers `ORDER BY a DESC, b`
/// forwards and `ORDER BY a, b DESC` backwards. A secondary index's entries of equal columns
/// are ordered by the table key that ends them (see
/// [`catalog::index_entry`](crate::catalog::index_entry); a unique index's entries without
/// NULLs never tie), so its order goes on with the primary key's columns, ascending: an index
/// on `customer_id` delivers `ORDER BY customer_id, id`.
pub(super) fn direction(
    def: &TableDef,
    index: Option<usize>,
    eq_len: usize,
    order: &[OrderColumn],
) -> Option<bool> {
    let own = key_columns(def, index);
    if own.is_empty() {
        return None;
    }
    let mut cols = own.to_vec();
    if index.is_some() && !def.pk.iter().any(|c| own.contains(c)) {
        cols.extend(&def.pk);
    }
    let option = |p: usize| match index {
        Some(i) if p < own.len() => def.indexes[i].option(p),
        _ => 0,
    };
    let pinned = &cols[..eq_len.min(cols.len())];
    let mut next = pinned.len();
    let (mut forwards, mut backwards) = (true, true);
    for o in order {
        if pinned.contains(&o.column) {
            continue;
        }
        if cols.get(next) != Some(&o.column) {
            return None;
        }
        let desc = option(next) & crate::catalog::INDOPTION_DESC != 0;
        let nulls_first = option(next) & crate::catalog::INDOPTION_NULLS_FIRST != 0;
        forwards &= o.desc == desc && o.nulls_first == nulls_first;
        backwards &= o.desc != desc && o.nulls_first != nulls_first;
        next += 1;
    }
    if forwards {
        Some(false)
    } else if backwards {
        Some(true)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Column, IndexDef};
    use crate::cost::Methods;
    use borealis_common::PageId;

    fn table() -> TableDef {
        TableDef {
            name: "t".into(),
            schema: "public".into(),
            oid: 0,
            tree: PageId(9),
            columns: vec![
                Column::new("id", DataType::Int4, true),
                Column::new("a", DataType::Text, false),
                Column::new("b", DataType::Int8, false),
                Column::new("f", DataType::Float8, false),
            ],
            pk: vec![0],
            indexes: vec![
                IndexDef {
                    name: "t_a_b".into(),
                    oid: 0,
                    tree: PageId(11),
                    columns: vec![1, 2],
                    unique: false,
                    constraint: false,
                    options: Vec::new(),
                    ordered: false,
                },
                IndexDef {
                    name: "t_f".into(),
                    oid: 0,
                    tree: PageId(13),
                    columns: vec![3, 0],
                    unique: false,
                    constraint: false,
                    options: Vec::new(),
                    ordered: false,
                },
            ],
            checks: Vec::new(),
            foreign_keys: Vec::new(),
            pk_name_kept: None,
        }
    }

    #[test]
    fn a_key_covers_only_the_decodable_columns_it_holds() {
        let def = table();
        assert!(covers(&def, Some(0), &[false, true, true, false]));
        assert!(covers(&def, Some(0), &[false, true, false, false]));
        assert!(!covers(&def, Some(0), &[true, true, false, false]), "id");
        assert!(covers(&def, None, &[true, false, false, false]));
        assert!(!covers(&def, None, &[true, true, false, false]));
        // A float key is lossy: never read index-only, whatever it holds.
        assert!(!covers(&def, Some(1), &[true, false, false, false]));
        let mut rowid = def.clone();
        rowid.pk.clear();
        assert!(
            !covers(&rowid, None, &[false; 4]),
            "a hidden row id holds nothing"
        );
        assert_eq!(Methods::default(), Methods::from_settings(|_| None));
    }

    #[test]
    fn a_key_delivers_the_order_of_its_columns_after_the_pinned_ones() {
        let def = table();
        assert!(delivers(&def, Some(0), 0, &[1]));
        assert!(delivers(&def, Some(0), 0, &[1, 2]));
        assert!(!delivers(&def, Some(0), 0, &[2]));
        assert!(delivers(&def, Some(0), 1, &[2]), "a = const: ordered by b");
        assert!(delivers(&def, Some(0), 1, &[1, 2]));
        assert!(!delivers(&def, Some(0), 0, &[2, 1]));
        assert!(delivers(&def, None, 0, &[0]));
        assert!(!delivers(&def, None, 0, &[1]));
        // An index's entries of equal columns are in table-key order.
        assert!(
            delivers(&def, Some(0), 2, &[0]),
            "a = const AND b = const: ordered by id"
        );
        assert!(delivers(&def, Some(0), 0, &[1, 2, 0]));
        assert!(!delivers(&def, Some(0), 1, &[0]), "b comes before id");
        assert!(delivers(&def, Some(1), 0, &[3, 0]));
        assert!(
            !delivers(&def, Some(1), 0, &[3, 0, 1]),
            "nothing after the columns"
        );
    }
}
