//! SELECT: binding into a plan, and execution over the engine.
//!
//! ```text
//!  scan (or primary-key point lookup) ─▶ filter ─▶ [aggregate ─▶ having] ─▶ project
//!        ─▶ [distinct] ─▶ [sort] ─▶ offset/limit
//! ```
//!
//! A plan reads the table in batches through the transaction, so it sees the transaction's own
//! writes. Without ORDER BY or aggregates it stops reading once LIMIT is reached. A cost-based
//! planner with indexes, joins and statistics is the SQL-engine issue's work.

use crate::catalog::{self, TableDef, decode_row, encode_key_value};
use crate::error::{SqlError, SqlResult};
use crate::expr::{
    AggCall, AggFunc, AggMode, BinOp, Binder, EvalContext, Expr, ScopeColumn, SessionInfo,
    ident_name, object_name,
};
use crate::types::{DataType, Value};
use borealis_engine::{Engine, Txn};
use sqlparser::ast;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::ops::Bound;

/// Rows fetched from the engine per call.
pub const SCAN_BATCH_ROWS: usize = 1024;

/// A result column.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnInfo {
    pub name: String,
    pub ty: DataType,
}

enum SortKey {
    Output(usize),
    Expr(Expr),
}

struct AggPlan {
    group_by: Vec<Expr>,
    aggs: Vec<AggCall>,
    having: Option<Expr>,
}

/// A bound SELECT.
pub struct SelectPlan {
    table: Option<TableDef>,
    filter: Option<Expr>,
    /// Values of every primary-key column when the filter pins them: a point lookup.
    key_eq: Option<Vec<(usize, Expr)>>,
    aggregate: Option<AggPlan>,
    projections: Vec<Expr>,
    pub columns: Vec<ColumnInfo>,
    order_by: Vec<(SortKey, bool, bool)>,
    limit: Option<Expr>,
    offset: Option<Expr>,
    distinct: bool,
}

/// Reads a table definition through the transaction (it sees its own DDL).
pub fn lookup_table(engine: &Engine, txn: &Txn, name: &str) -> SqlResult<TableDef> {
    match engine.get(txn, borealis_engine::CATALOG, name.as_bytes())? {
        Some(bytes) => TableDef::decode(&bytes),
        None => Err(SqlError::UndefinedTable(name.into())),
    }
}

/// The scope of one table: its columns, qualified by its name or alias.
#[must_use]
pub fn table_scope(def: &TableDef, alias: Option<&str>) -> Vec<ScopeColumn> {
    let t = alias.unwrap_or(&def.name).to_string();
    def.columns
        .iter()
        .map(|c| ScopeColumn {
            table: Some(t.clone()),
            name: c.name.clone(),
            ty: c.ty,
        })
        .collect()
}

/// Resolves the single table of a FROM clause.
pub fn single_table(from: &[ast::TableWithJoins]) -> SqlResult<Option<(String, Option<String>)>> {
    match from {
        [] => Ok(None),
        [twj] if twj.joins.is_empty() => match &twj.relation {
            ast::TableFactor::Table {
                name,
                alias,
                args: None,
                ..
            } => Ok(Some((
                object_name(name)?,
                alias.as_ref().map(|a| ident_name(&a.name)),
            ))),
            other => Err(SqlError::FeatureNotSupported(format!("FROM {other}"))),
        },
        _ => Err(SqlError::FeatureNotSupported("joins".into())),
    }
}

/// Finds `pk_col = <constant or parameter>` for every primary-key column among the AND-ed terms.
pub fn key_equalities(def: &TableDef, filter: Option<&Expr>) -> Option<Vec<(usize, Expr)>> {
    fn walk(e: &Expr, out: &mut Vec<(usize, Expr)>) {
        match e {
            Expr::Binary {
                op: BinOp::And,
                left,
                right,
                ..
            } => {
                walk(left, out);
                walk(right, out);
            }
            Expr::Binary {
                op: BinOp::Eq,
                left,
                right,
                ..
            } => match (&**left, &**right) {
                (Expr::Column(c), v @ (Expr::Literal(_) | Expr::Param(_)))
                | (v @ (Expr::Literal(_) | Expr::Param(_)), Expr::Column(c)) => {
                    out.push((*c, v.clone()))
                }
                _ => {}
            },
            _ => {}
        }
    }
    if def.pk.is_empty() {
        return None;
    }
    let mut eqs = Vec::new();
    walk(filter?, &mut eqs);
    let mut key = Vec::with_capacity(def.pk.len());
    for &c in &def.pk {
        key.push((c, eqs.iter().find(|(col, _)| *col == c)?.1.clone()));
    }
    Some(key)
}

/// Rows of a table that pass `filter`, as (key, row), read through `txn`. With `key_eq` a single
/// point lookup replaces the scan. `stop_after` bounds how many matching rows are wanted.
#[allow(clippy::too_many_arguments)]
pub fn matching_rows(
    engine: &Engine,
    txn: &Txn,
    def: &TableDef,
    filter: Option<&Expr>,
    key_eq: Option<&[(usize, Expr)]>,
    params: &[Value],
    session: &SessionInfo,
    stop_after: Option<usize>,
    mut sink: impl FnMut(Vec<u8>, Vec<Value>) -> SqlResult<()>,
) -> SqlResult<()> {
    let ncols = def.columns.len();
    let passes = |row: &[Value]| -> SqlResult<bool> {
        match filter {
            None => Ok(true),
            Some(f) => {
                let cx = EvalContext {
                    row,
                    params,
                    aggs: &[],
                    group_keys: &[],
                    session,
                };
                Ok(f.eval(&cx)? == Value::Bool(true))
            }
        }
    };
    if let Some(eqs) = key_eq {
        let mut key = Vec::new();
        for (col, e) in eqs {
            let cx = EvalContext {
                row: &[],
                params,
                aggs: &[],
                group_keys: &[],
                session,
            };
            let v = e.eval(&cx)?;
            if v.is_null() {
                return Ok(());
            }
            let v = match v.cast(def.columns[*col].ty) {
                Ok(v) => v,
                // A constant out of the column's range matches nothing.
                Err(SqlError::NumericOutOfRange(_)) => return Ok(()),
                Err(e) => return Err(e),
            };
            encode_key_value(&v, &mut key);
        }
        if let Some(bytes) = engine.get(txn, def.tree, &key)? {
            let row = decode_row(&bytes, ncols)?;
            if passes(&row)? {
                sink(key, row)?;
            }
        }
        return Ok(());
    }
    let mut seen = 0usize;
    let mut from: Option<Vec<u8>> = None;
    loop {
        let lower = match &from {
            Some(k) => Bound::Excluded(k.as_slice()),
            None => Bound::Unbounded,
        };
        let batch = engine.scan(txn, def.tree, lower, Bound::Unbounded, SCAN_BATCH_ROWS)?;
        let full = batch.len() == SCAN_BATCH_ROWS;
        let mut last = None;
        for (k, v) in batch {
            let row = decode_row(&v, ncols)?;
            if passes(&row)? {
                seen += 1;
                sink(k.clone(), row)?;
                if stop_after.is_some_and(|n| seen >= n) {
                    return Ok(());
                }
            }
            last = Some(k);
        }
        if !full {
            return Ok(());
        }
        from = last;
    }
}

fn output_name(item: &ast::Expr) -> String {
    match item {
        ast::Expr::Identifier(id) => ident_name(id),
        ast::Expr::CompoundIdentifier(parts) => {
            parts.last().map_or_else(|| "?column?".into(), ident_name)
        }
        ast::Expr::Function(f) => object_name(&f.name).unwrap_or_else(|_| "?column?".into()),
        ast::Expr::Cast {
            expr, data_type, ..
        } => match &**expr {
            ast::Expr::Identifier(_)
            | ast::Expr::CompoundIdentifier(_)
            | ast::Expr::Function(_) => output_name(expr),
            _ => crate::expr::data_type(data_type)
                .map_or_else(|_| "?column?".into(), |t| pg_type_label(t).into()),
        },
        ast::Expr::Nested(inner) => output_name(inner),
        ast::Expr::Case { .. } => "case".into(),
        _ => "?column?".into(),
    }
}

fn pg_type_label(t: DataType) -> &'static str {
    match t {
        DataType::Bool => "bool",
        DataType::Int4 => "int4",
        DataType::Int8 => "int8",
        DataType::Float8 => "float8",
        DataType::Text => "text",
    }
}

fn constant_usize(
    e: &Expr,
    params: &[Value],
    session: &SessionInfo,
    what: &str,
) -> SqlResult<Option<usize>> {
    let cx = EvalContext {
        row: &[],
        params,
        aggs: &[],
        group_keys: &[],
        session,
    };
    match e.eval(&cx)? {
        Value::Null => Ok(None),
        Value::Int(i) if i >= 0 => Ok(Some(usize::try_from(i).unwrap_or(usize::MAX))),
        Value::Int(_) => Err(SqlError::InvalidParameterValue(format!(
            "{what} must not be negative"
        ))),
        Value::Text(s) => crate::types::parse_text(&s, DataType::Int8).map(|v| {
            if let Value::Int(i) = v {
                Some(usize::try_from(i.max(0)).unwrap_or(usize::MAX))
            } else {
                None
            }
        }),
        other => Err(SqlError::DatatypeMismatch(format!(
            "argument of {what} must be type bigint, not {other:?}"
        ))),
    }
}

impl SelectPlan {
    /// Binds a query against the catalog as `txn` sees it.
    pub fn bind(
        engine: &Engine,
        txn: &Txn,
        query: &ast::Query,
        params: &mut Vec<Option<DataType>>,
    ) -> SqlResult<SelectPlan> {
        if query.with.is_some() {
            return Err(SqlError::FeatureNotSupported("WITH".into()));
        }
        if query.fetch.is_some() || !query.locks.is_empty() {
            return Err(SqlError::FeatureNotSupported(
                "FETCH and locking clauses".into(),
            ));
        }
        let select = match &*query.body {
            ast::SetExpr::Select(s) => s,
            ast::SetExpr::Query(q) if query.order_by.is_none() && query.limit_clause.is_none() => {
                return SelectPlan::bind(engine, txn, q, params);
            }
            other => return Err(SqlError::FeatureNotSupported(format!("query {other}"))),
        };
        let table = match single_table(&select.from)? {
            Some((name, alias)) => Some((lookup_table(engine, txn, &name)?, alias)),
            None => None,
        };
        let scope = match &table {
            Some((def, alias)) => table_scope(def, alias.as_deref()),
            None => Vec::new(),
        };
        let mut binder = Binder {
            scope: &scope,
            params,
        };
        let filter = match &select.selection {
            Some(w) => {
                let f = binder.bind(w, &mut AggMode::Forbidden("WHERE"))?;
                if let Some(t) = binder.type_of(&f)
                    && t != DataType::Bool
                {
                    return Err(SqlError::DatatypeMismatch(format!(
                        "argument of WHERE must be type boolean, not type {}",
                        t.name()
                    )));
                }
                Some(f)
            }
            None => None,
        };

        // Expand the select list.
        let mut items: Vec<(ast::Expr, String)> = Vec::new();
        for item in &select.projection {
            match item {
                ast::SelectItem::UnnamedExpr(e) => items.push((e.clone(), output_name(e))),
                ast::SelectItem::ExprWithAlias { expr, alias } => {
                    items.push((expr.clone(), ident_name(alias)))
                }
                ast::SelectItem::Wildcard(_) | ast::SelectItem::QualifiedWildcard(..) => {
                    let Some((def, _)) = &table else {
                        return Err(SqlError::Syntax(
                            "SELECT * with no tables specified is not valid".into(),
                        ));
                    };
                    for c in &def.columns {
                        items.push((
                            ast::Expr::Identifier(ast::Ident::new(c.name.clone())),
                            c.name.clone(),
                        ));
                    }
                }
                other => {
                    return Err(SqlError::FeatureNotSupported(format!(
                        "select item {other}"
                    )));
                }
            }
        }

        let group_exprs: Vec<ast::Expr> = match &select.group_by {
            ast::GroupByExpr::Expressions(g, mods) if mods.is_empty() => g.clone(),
            ast::GroupByExpr::Expressions(..) | ast::GroupByExpr::All(_) => {
                return Err(SqlError::FeatureNotSupported("GROUP BY modifiers".into()));
            }
        };
        let order_exprs: Vec<ast::OrderByExpr> = match &query.order_by {
            None => Vec::new(),
            Some(ob) => match &ob.kind {
                ast::OrderByKind::Expressions(v) => v.clone(),
                ast::OrderByKind::All(_) => {
                    return Err(SqlError::FeatureNotSupported("ORDER BY ALL".into()));
                }
            },
        };

        // Does the query aggregate? Try binding the select list plainly first.
        let mut probe_aggs = Vec::new();
        let mut aggregating = !group_exprs.is_empty() || select.having.is_some();
        if !aggregating {
            for (e, _) in &items {
                let mut probe_params = binder.params.clone();
                let mut probe = Binder {
                    scope: &scope,
                    params: &mut probe_params,
                };
                let mut mode = AggMode::Collect {
                    group_by: &[],
                    aggs: &mut probe_aggs,
                };
                // Errors surface when the list is bound for real below.
                let _ = probe.bind(e, &mut mode);
                if !probe_aggs.is_empty() {
                    aggregating = true;
                    break;
                }
            }
        }

        let mut projections = Vec::with_capacity(items.len());
        let mut columns = Vec::with_capacity(items.len());
        let mut aggregate = None;
        let mut order_by = Vec::with_capacity(order_exprs.len());
        if aggregating {
            let mut group_by = Vec::with_capacity(group_exprs.len());
            let mut group_keys: Vec<(String, DataType)> = Vec::with_capacity(group_exprs.len());
            for g in &group_exprs {
                // GROUP BY may name an output column by position or alias.
                let g = resolve_output_ref(g, &items)?.unwrap_or_else(|| g.clone());
                let b = binder.bind(&g, &mut AggMode::Forbidden("GROUP BY"))?;
                group_keys.push((g.to_string(), binder.type_of(&b).unwrap_or(DataType::Text)));
                group_by.push(b);
            }
            let mut aggs = Vec::new();
            for (e, name) in &items {
                let b = binder.bind(
                    e,
                    &mut AggMode::Collect {
                        group_by: &group_keys,
                        aggs: &mut aggs,
                    },
                )?;
                columns.push(ColumnInfo {
                    name: name.clone(),
                    ty: slot_type(&binder, &b, &aggs, &group_keys),
                });
                projections.push(b);
            }
            let having = match &select.having {
                Some(h) => Some(binder.bind(
                    h,
                    &mut AggMode::Collect {
                        group_by: &group_keys,
                        aggs: &mut aggs,
                    },
                )?),
                None => None,
            };
            for o in &order_exprs {
                let key = match output_position(&o.expr, &items)? {
                    Some(i) => SortKey::Output(i),
                    None => SortKey::Expr(binder.bind(
                        &o.expr,
                        &mut AggMode::Collect {
                            group_by: &group_keys,
                            aggs: &mut aggs,
                        },
                    )?),
                };
                order_by.push(sort_spec(key, o));
            }
            aggregate = Some(AggPlan {
                group_by,
                aggs,
                having,
            });
        } else {
            for (e, name) in &items {
                let b = binder.bind(e, &mut AggMode::Forbidden("this context"))?;
                columns.push(ColumnInfo {
                    name: name.clone(),
                    ty: binder.type_of(&b).unwrap_or(DataType::Text),
                });
                projections.push(b);
            }
            for o in &order_exprs {
                let key = match output_position(&o.expr, &items)? {
                    Some(i) => SortKey::Output(i),
                    None => {
                        SortKey::Expr(binder.bind(&o.expr, &mut AggMode::Forbidden("ORDER BY"))?)
                    }
                };
                order_by.push(sort_spec(key, o));
            }
        }
        let (limit, offset) = match &query.limit_clause {
            None => (None, None),
            Some(ast::LimitClause::LimitOffset {
                limit,
                offset,
                limit_by,
            }) if limit_by.is_empty() => {
                let mut forbid = AggMode::Forbidden("LIMIT");
                let l = match limit {
                    Some(e) => Some(binder.bind(e, &mut forbid)?),
                    None => None,
                };
                let o = match offset {
                    Some(o) => Some(binder.bind(&o.value, &mut forbid)?),
                    None => None,
                };
                (l, o)
            }
            Some(other) => return Err(SqlError::FeatureNotSupported(format!("{other}"))),
        };
        for e in [&limit, &offset].into_iter().flatten() {
            if let Expr::Param(i) = e
                && binder.params[*i].is_none()
            {
                binder.params[*i] = Some(DataType::Int8);
            }
        }
        let distinct = match &select.distinct {
            None => false,
            Some(ast::Distinct::Distinct) => true,
            Some(other) => return Err(SqlError::FeatureNotSupported(format!("{other}"))),
        };
        let key_eq = match &table {
            Some((def, _)) => key_equalities(def, filter.as_ref()),
            None => None,
        };
        Ok(SelectPlan {
            table: table.map(|(d, _)| d),
            filter,
            key_eq,
            aggregate,
            projections,
            columns,
            order_by,
            limit,
            offset,
            distinct,
        })
    }

    /// Runs the plan.
    pub fn execute(
        &self,
        engine: &Engine,
        txn: &Txn,
        params: &[Value],
        session: &SessionInfo,
    ) -> SqlResult<Vec<Vec<Value>>> {
        let limit = match &self.limit {
            Some(e) => constant_usize(e, params, session, "LIMIT")?,
            None => None,
        };
        let offset = match &self.offset {
            Some(e) => constant_usize(e, params, session, "OFFSET")?.unwrap_or(0),
            None => 0,
        };
        let streaming = self.order_by.is_empty() && self.aggregate.is_none() && !self.distinct;
        let stop_after = if streaming {
            limit.map(|l| l.saturating_add(offset))
        } else {
            None
        };

        // (output row, sort keys)
        let mut out: Vec<(Vec<Value>, Vec<Value>)> = Vec::new();
        let emit = |row: &[Value],
                    aggs: &[Value],
                    keys: &[Value],
                    out: &mut Vec<(Vec<Value>, Vec<Value>)>|
         -> SqlResult<()> {
            let cx = EvalContext {
                row,
                params,
                aggs,
                group_keys: keys,
                session,
            };
            let mut vals = Vec::with_capacity(self.projections.len());
            for p in &self.projections {
                vals.push(p.eval(&cx)?);
            }
            let mut sort = Vec::with_capacity(self.order_by.len());
            for (k, _, _) in &self.order_by {
                sort.push(match k {
                    SortKey::Output(i) => vals[*i].clone(),
                    SortKey::Expr(e) => e.eval(&cx)?,
                });
            }
            out.push((vals, sort));
            Ok(())
        };

        match &self.aggregate {
            None => match &self.table {
                None => {
                    let passes = match &self.filter {
                        None => true,
                        Some(f) => {
                            f.eval(&EvalContext {
                                row: &[],
                                params,
                                aggs: &[],
                                group_keys: &[],
                                session,
                            })? == Value::Bool(true)
                        }
                    };
                    if passes {
                        emit(&[], &[], &[], &mut out)?;
                    }
                }
                Some(def) => {
                    matching_rows(
                        engine,
                        txn,
                        def,
                        self.filter.as_ref(),
                        self.key_eq.as_deref(),
                        params,
                        session,
                        stop_after,
                        |_, row| emit(&row, &[], &[], &mut out),
                    )?;
                }
            },
            Some(agg) => {
                let mut groups: HashMap<Vec<u8>, (Vec<Value>, Vec<Accumulator>)> = HashMap::new();
                let mut order: Vec<Vec<u8>> = Vec::new();
                let mut feed = |row: &[Value]| -> SqlResult<()> {
                    let cx = EvalContext {
                        row,
                        params,
                        aggs: &[],
                        group_keys: &[],
                        session,
                    };
                    let mut keys = Vec::with_capacity(agg.group_by.len());
                    let mut hash_key = Vec::new();
                    for g in &agg.group_by {
                        let v = g.eval(&cx)?;
                        encode_key_value(&v, &mut hash_key);
                        hash_key.push(u8::from(v.is_null()));
                        keys.push(v);
                    }
                    let entry = groups.entry(hash_key.clone()).or_insert_with(|| {
                        order.push(hash_key);
                        (keys, agg.aggs.iter().map(Accumulator::new).collect())
                    });
                    for (acc, call) in entry.1.iter_mut().zip(&agg.aggs) {
                        let v = match &call.arg {
                            Some(a) => a.eval(&cx)?,
                            None => Value::Bool(true),
                        };
                        acc.add(v)?;
                    }
                    Ok(())
                };
                match &self.table {
                    None => feed(&[])?,
                    Some(def) => matching_rows(
                        engine,
                        txn,
                        def,
                        self.filter.as_ref(),
                        self.key_eq.as_deref(),
                        params,
                        session,
                        None,
                        |_, row| feed(&row),
                    )?,
                }
                // An aggregate without GROUP BY yields one row even over no input.
                if agg.group_by.is_empty() && groups.is_empty() {
                    order.push(Vec::new());
                    groups.insert(
                        Vec::new(),
                        (Vec::new(), agg.aggs.iter().map(Accumulator::new).collect()),
                    );
                }
                for k in order {
                    let Some((keys, accs)) = groups.remove(&k) else {
                        continue;
                    };
                    let results: Vec<Value> = accs
                        .into_iter()
                        .map(Accumulator::finish)
                        .collect::<SqlResult<_>>()?;
                    if let Some(h) = &agg.having {
                        let cx = EvalContext {
                            row: &[],
                            params,
                            aggs: &results,
                            group_keys: &keys,
                            session,
                        };
                        if h.eval(&cx)? != Value::Bool(true) {
                            continue;
                        }
                    }
                    emit(&[], &results, &keys, &mut out)?;
                }
            }
        }

        if self.distinct {
            let mut seen = HashSet::new();
            out.retain(|(vals, _)| {
                let mut k = Vec::new();
                for v in vals {
                    encode_key_value(v, &mut k);
                    k.push(u8::from(v.is_null()));
                }
                seen.insert(k)
            });
        }
        if !self.order_by.is_empty() {
            out.sort_by(|a, b| {
                for (i, (_, desc, nulls_first)) in self.order_by.iter().enumerate() {
                    let (x, y) = (&a.1[i], &b.1[i]);
                    let o = match (x.is_null(), y.is_null()) {
                        (true, true) => Ordering::Equal,
                        (true, false) => {
                            if *nulls_first {
                                Ordering::Less
                            } else {
                                Ordering::Greater
                            }
                        }
                        (false, true) => {
                            if *nulls_first {
                                Ordering::Greater
                            } else {
                                Ordering::Less
                            }
                        }
                        _ => {
                            let o = x.sort_cmp(y);
                            if *desc { o.reverse() } else { o }
                        }
                    };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                Ordering::Equal
            });
        }
        let rows = out
            .into_iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .map(|(v, _)| v)
            .collect();
        Ok(rows)
    }
}

fn sort_spec(key: SortKey, o: &ast::OrderByExpr) -> (SortKey, bool, bool) {
    let desc = matches!(o.options.sort, Some(ast::OrderBySort::Desc));
    // PostgreSQL: NULLs sort as larger than everything: last ascending, first descending.
    let nulls_first = o.options.nulls_first.unwrap_or(desc);
    (key, desc, nulls_first)
}

/// `ORDER BY 2` or `ORDER BY alias` refer to output columns.
fn output_position(e: &ast::Expr, items: &[(ast::Expr, String)]) -> SqlResult<Option<usize>> {
    match e {
        ast::Expr::Value(v) => {
            if let ast::Value::Number(n, _) = &v.value {
                let i: usize = n.parse().map_err(|_| {
                    SqlError::Syntax(format!("non-integer constant in ORDER BY: {n}"))
                })?;
                if i == 0 || i > items.len() {
                    return Err(SqlError::Syntax(format!(
                        "ORDER BY position {i} is not in select list"
                    )));
                }
                return Ok(Some(i - 1));
            }
            Ok(None)
        }
        ast::Expr::Identifier(id) => {
            let name = ident_name(id);
            // An output alias that is not simply the column of the same name.
            Ok(items.iter().position(|(expr, n)| {
                *n == name && !matches!(expr, ast::Expr::Identifier(x) if ident_name(x) == name)
            }))
        }
        _ => Ok(None),
    }
}

fn resolve_output_ref(
    e: &ast::Expr,
    items: &[(ast::Expr, String)],
) -> SqlResult<Option<ast::Expr>> {
    Ok(output_position(e, items)?.map(|i| items[i].0.clone()))
}

fn slot_type(
    binder: &Binder<'_>,
    e: &Expr,
    aggs: &[AggCall],
    groups: &[(String, DataType)],
) -> DataType {
    match e {
        Expr::Agg(i) => aggs[*i].ty,
        Expr::GroupKey(i) => groups[*i].1,
        other => binder.type_of(other).unwrap_or(DataType::Text),
    }
}

/// Running state of one aggregate over one group.
struct Accumulator {
    func: AggFunc,
    ty: DataType,
    distinct: Option<HashSet<Vec<u8>>>,
    count: i64,
    int_sum: i128,
    float_sum: f64,
    best: Value,
}

impl Accumulator {
    fn new(call: &AggCall) -> Self {
        Accumulator {
            func: call.func,
            ty: call.ty,
            distinct: call.distinct.then(HashSet::new),
            count: 0,
            int_sum: 0,
            float_sum: 0.0,
            best: Value::Null,
        }
    }

    fn add(&mut self, v: Value) -> SqlResult<()> {
        if self.func == AggFunc::CountStar {
            self.count += 1;
            return Ok(());
        }
        if v.is_null() {
            return Ok(());
        }
        if let Some(seen) = &mut self.distinct {
            let mut k = Vec::new();
            encode_key_value(&v, &mut k);
            if !seen.insert(k) {
                return Ok(());
            }
        }
        self.count += 1;
        match self.func {
            AggFunc::CountStar | AggFunc::Count => {}
            AggFunc::Sum | AggFunc::Avg => match v {
                Value::Int(i) => {
                    self.int_sum += i128::from(i);
                    self.float_sum += i as f64;
                }
                Value::Float(f) => self.float_sum += f,
                Value::Text(s) => {
                    self.float_sum += s.trim().parse::<f64>().map_err(|_| {
                        SqlError::InvalidTextRepresentation {
                            ty: "double precision".into(),
                            value: s.clone(),
                        }
                    })?
                }
                other => return Err(SqlError::UndefinedFunction(format!("sum({other:?})"))),
            },
            AggFunc::Min | AggFunc::Max => {
                let replace = match self.best.compare(&v)? {
                    None => true,
                    Some(o) => {
                        (self.func == AggFunc::Min && o == Ordering::Greater)
                            || (self.func == AggFunc::Max && o == Ordering::Less)
                    }
                };
                if replace {
                    self.best = v;
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> SqlResult<Value> {
        Ok(match self.func {
            AggFunc::CountStar | AggFunc::Count => Value::Int(self.count),
            _ if self.count == 0 => Value::Null,
            AggFunc::Sum if self.ty == DataType::Int8 => Value::Int(
                i64::try_from(self.int_sum)
                    .map_err(|_| SqlError::NumericOutOfRange("bigint".into()))?,
            ),
            AggFunc::Sum => Value::Float(self.float_sum),
            AggFunc::Avg => Value::Float(self.float_sum / self.count as f64),
            AggFunc::Min | AggFunc::Max => self.best,
        })
    }
}

/// The key of a row in its table's tree.
pub fn row_key(
    def: &TableDef,
    row: &[Value],
    rowid: impl FnOnce() -> SqlResult<u64>,
) -> SqlResult<Vec<u8>> {
    if def.pk.is_empty() {
        Ok(catalog::rowid_key(rowid()?))
    } else {
        Ok(catalog::pk_key(def, row))
    }
}
