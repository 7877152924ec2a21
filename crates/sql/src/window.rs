//! Window functions: binding of `f(…) OVER (…)` and the executor stage that computes them.
//!
//! A window function sees the rows of its query after FROM, WHERE, GROUP BY and HAVING, and
//! before the select list is projected, DISTINCT applied and the query sorted. Its result is a
//! slot ([`Expr::Window`]) in the row's evaluation context, as an aggregate's is:
//!
//! ```text
//!  input rows (FROM rows, or groups after HAVING)
//!     │  per distinct window (PARTITION BY + ORDER BY): evaluate the keys once per row,
//!     │  sort the row numbers by (partition keys, order keys) once, cut into partitions
//!     ▼  and, inside a partition, into peer groups (rows equal on the order keys)
//!  per partition, per call of that window:
//!     ranking (row_number, rank, dense_rank, percent_rank, cume_dist, ntile): from positions
//!              and peer groups;
//!     offsets (lag, lead): the row `n` positions away in the partition;
//!     framed  (first_value, last_value, nth_value, every aggregate): over the call's frame
//!  ─▶ one value per (input row, call) ─▶ select list, ORDER BY, DISTINCT
//! ```
//!
//! Frames follow PostgreSQL: ROWS counts rows, GROUPS counts peer groups and RANGE compares the
//! single ORDER BY value with an offset; the default frame is RANGE BETWEEN UNBOUNDED PRECEDING
//! AND CURRENT ROW, so the frame of a row ends with its last peer. A frame's bounds move forward
//! (never back) as the current row does; an aggregate keeps one `Accumulator` per partition
//! and only adds the rows that enter the frame while its start stays put (UNBOUNDED PRECEDING:
//! a running aggregate, linear in the partition), and restarts at the new start when the start
//! moves (a sliding frame costs the frame's size per row). Rows with the same frame share the
//! result. A frame's EXCLUDE (CURRENT ROW, GROUP, TIES) punches a hole around the current
//! row: the frame becomes up to three runs of positions (`FrameRuns`), and an aggregate over
//! such a frame starts afresh for each row (rows whose runs are the same share it).
//!
//! Memory stays within `work_mem` whatever the input, as PostgreSQL's stack of WindowAgg
//! nodes over tuplestores keeps it ([`run`]):
//!
//! ```text
//!  rows ─▶ Sorter(window 1 keys) ─▶ partition ─▶ stores ─▶ window 1's calls ─▶ row ++ results
//!       ─▶ Sorter(window 2 keys) ─▶ partition ─▶ stores ─▶ window 2's calls ─▶ … ─▶ emit
//! ```
//!
//! - Each window definition is a stage: its rows go through a [`crate::spill::Sorter`] on
//!   its keys (spilling sorted runs past `work_mem`), and the calls of the earlier windows
//!   travel as extra columns of the row. The sorts are stable, so the rows come out in the
//!   same order whatever `work_mem` is.
//! - A partition, as the sort gives it, goes into three [`RowStore`]s, each in memory up to a
//!   share of `work_mem` and in a temporary file beyond: the rows; per row its ORDER BY keys
//!   and the calls' argument values, evaluated once; and the peer groups' `[start, end)`.
//! - The calls are then computed row by row, in order. Every pointer into the partition — the
//!   current row, a frame's start and end (a RANGE bound found by moving forward from where
//!   it was, a GROUPS bound read from the peer groups), lag/lead's target, the row an
//!   aggregate adds next — is a `Probe` with its own reader, which mostly moves forward; a
//!   jump elsewhere reopens it at the store's index of row offsets, and the last rows it read
//!   are kept, so a sliding frame re-reads its few rows from memory.
//!
//! What a probe keeps (`PROBE_RECENT_ROWS` rows) is bounded by a row count, not bytes; a
//! single row is never split.
use crate::cursor::RowStore;
use crate::error::{SqlError, SqlResult};
use crate::expr::{AggCall, AggFunc, AggMode, Binder, EvalContext, Expr, ident_name};
use crate::query::Accumulator;
use crate::types::{DataType, Numeric, Value};
use sqlparser::ast;
use std::cmp::Ordering;

/// What a window call computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowFunc {
    RowNumber,
    Rank,
    DenseRank,
    PercentRank,
    CumeDist,
    Ntile,
    Lag,
    Lead,
    FirstValue,
    LastValue,
    NthValue,
    /// An aggregate over the frame (its [`AggCall`] is in [`WindowCall::agg`]).
    Aggregate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameUnits {
    Rows,
    Range,
    Groups,
}

#[derive(Clone, Debug)]
pub enum FrameBound {
    UnboundedPreceding,
    Preceding(Expr),
    CurrentRow,
    Following(Expr),
    UnboundedFollowing,
}

/// A frame's `EXCLUDE` clause: which rows around the current one leave its frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FrameExclude {
    /// `EXCLUDE NO OTHERS`, the default: the frame is what its bounds say.
    #[default]
    NoOthers,
    /// `EXCLUDE CURRENT ROW`.
    CurrentRow,
    /// `EXCLUDE GROUP`: the current row and its peers.
    Group,
    /// `EXCLUDE TIES`: the current row's peers, but not the row itself.
    Ties,
}

impl FrameExclude {
    /// The clause a marker argument names (see `crate::dialect`).
    #[must_use]
    pub fn named(name: &str) -> Option<FrameExclude> {
        Some(match name {
            "no others" => FrameExclude::NoOthers,
            "current row" => FrameExclude::CurrentRow,
            "group" => FrameExclude::Group,
            "ties" => FrameExclude::Ties,
            _ => return None,
        })
    }
}

/// The rows of a partition a framed call sees, relative to the current row.
#[derive(Clone, Debug)]
pub struct Frame {
    pub units: FrameUnits,
    pub start: FrameBound,
    pub end: FrameBound,
    pub exclude: FrameExclude,
}

impl Frame {
    /// RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW.
    fn default_frame() -> Frame {
        Frame {
            units: FrameUnits::Range,
            start: FrameBound::UnboundedPreceding,
            end: FrameBound::CurrentRow,
            exclude: FrameExclude::NoOthers,
        }
    }
}

/// The positions of a frame `[lo, hi)` left after its exclusion, as up to three ascending,
/// disjoint runs: before the excluded peers, the current row itself (EXCLUDE TIES), after them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FrameRuns([(usize, usize); 3]);

impl FrameRuns {
    /// The runs of frame `[lo, hi)` for the row at `pos` in peer group `[gs, ge)`.
    fn new(lo: usize, hi: usize, exclude: FrameExclude, pos: usize, group: (usize, usize)) -> Self {
        let hi = hi.max(lo);
        let (cut_start, cut_end, keep_current) = match exclude {
            FrameExclude::NoOthers => return FrameRuns([(lo, hi), (hi, hi), (hi, hi)]),
            FrameExclude::CurrentRow => (pos, pos + 1, false),
            FrameExclude::Group => (group.0, group.1, false),
            FrameExclude::Ties => (group.0, group.1, true),
        };
        let clamp = |x: usize| x.clamp(lo, hi);
        let current = if keep_current && (lo..hi).contains(&pos) {
            (pos, pos + 1)
        } else {
            (hi, hi)
        };
        FrameRuns([(lo, clamp(cut_start)), current, (clamp(cut_end), hi)])
    }

    fn positions(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().flat_map(|&(a, b)| a..b)
    }

    fn first(&self) -> Option<usize> {
        self.0.iter().find(|(a, b)| a < b).map(|r| r.0)
    }

    fn last(&self) -> Option<usize> {
        self.0.iter().rev().find(|(a, b)| a < b).map(|r| r.1 - 1)
    }

    /// The `k`-th position (from 0).
    fn nth(&self, mut k: usize) -> Option<usize> {
        for &(a, b) in &self.0 {
            let len = b.saturating_sub(a);
            if k < len {
                return Some(a + k);
            }
            k -= len;
        }
        None
    }
}

/// One ORDER BY key of a window.
#[derive(Clone, Debug)]
pub struct WindowOrder {
    pub expr: Expr,
    pub desc: bool,
    pub nulls_first: bool,
}

/// A distinct (PARTITION BY, ORDER BY): the rows are sorted once per definition.
#[derive(Clone, Debug)]
pub struct WindowDef {
    pub partition: Vec<Expr>,
    pub order: Vec<WindowOrder>,
    /// Text of the clauses, to find calls over the same window.
    key: String,
}

/// A window function call found while binding.
#[derive(Clone, Debug)]
pub struct WindowCall {
    pub func: WindowFunc,
    pub args: Vec<Expr>,
    /// The aggregate of [`WindowFunc::Aggregate`].
    pub agg: Option<AggCall>,
    /// Index into the definitions.
    pub def: usize,
    pub frame: Frame,
    pub ty: DataType,
    /// Text of the call, to find repeated uses.
    key: String,
}

/// The window calls of one SELECT and the windows they use.
#[derive(Clone, Debug, Default)]
pub struct WindowPlan {
    pub defs: Vec<WindowDef>,
    pub calls: Vec<WindowCall>,
}

/// Collects window calls while a select list and ORDER BY are bound (see [`Binder::windows`]).
#[derive(Clone, Debug, Default)]
pub struct WindowCollector {
    /// `WINDOW name AS (…)` of the SELECT, each with its frame's EXCLUDE (taken out of the
    /// specification, see [`take_exclude`]).
    named: Vec<(String, ast::NamedWindowExpr, FrameExclude)>,
    defs: Vec<WindowDef>,
    /// Set while binding inside a call or a window definition: why a window call is refused.
    inside: Option<&'static str>,
    pub calls: Vec<WindowCall>,
}

impl WindowCollector {
    /// A collector for a SELECT with these named windows. A name defined twice is refused, as
    /// PostgreSQL does.
    pub fn new(named: &[ast::NamedWindowDefinition]) -> SqlResult<WindowCollector> {
        let mut c = WindowCollector::default();
        for ast::NamedWindowDefinition(name, expr) in named {
            let n = ident_name(name);
            if c.named.iter().any(|(x, _, _)| *x == n) {
                return Err(SqlError::Windowing(format!(
                    "window \"{n}\" is already defined"
                )));
            }
            let (expr, exclude) = match expr {
                ast::NamedWindowExpr::WindowSpec(s) => {
                    let (s, exclude) = take_exclude(s)?;
                    (ast::NamedWindowExpr::WindowSpec(s), exclude)
                }
                other => (other.clone(), FrameExclude::NoOthers),
            };
            c.named.push((n, expr, exclude));
        }
        Ok(c)
    }

    /// The plan, once binding is over.
    #[must_use]
    pub fn finish(self) -> WindowPlan {
        WindowPlan {
            defs: self.defs,
            calls: self.calls,
        }
    }

    /// The specification a window name stands for.
    fn named_spec(&self, name: &str) -> SqlResult<ast::WindowSpec> {
        let Some((_, expr, _)) = self.named.iter().find(|(n, _, _)| n == name) else {
            return Err(SqlError::UndefinedObject(format!(
                "window \"{name}\" does not exist"
            )));
        };
        match expr {
            ast::NamedWindowExpr::WindowSpec(s) => self.resolve(s),
            ast::NamedWindowExpr::NamedWindow(other) => self.named_spec(&ident_name(other)),
        }
    }

    /// The EXCLUDE of the frame a window name stands for.
    fn named_exclude(&self, name: &str) -> FrameExclude {
        match self.named.iter().find(|(n, _, _)| n == name) {
            Some((_, ast::NamedWindowExpr::NamedWindow(other), _)) => {
                self.named_exclude(&ident_name(other))
            }
            Some((_, _, exclude)) => *exclude,
            None => FrameExclude::NoOthers,
        }
    }

    /// A specification with its base window (`OVER (w ORDER BY …)`) merged in, with
    /// PostgreSQL's rules: the new one may add ORDER BY and a frame, nothing else.
    fn resolve(&self, spec: &ast::WindowSpec) -> SqlResult<ast::WindowSpec> {
        let Some(base_name) = &spec.window_name else {
            return Ok(spec.clone());
        };
        let n = ident_name(base_name);
        let base = self.named_spec(&n)?;
        if !spec.partition_by.is_empty() {
            return Err(SqlError::Windowing(format!(
                "cannot override PARTITION BY clause of window \"{n}\""
            )));
        }
        if !spec.order_by.is_empty() && !base.order_by.is_empty() {
            return Err(SqlError::Windowing(format!(
                "cannot override ORDER BY clause of window \"{n}\""
            )));
        }
        if base.window_frame.is_some() {
            return Err(SqlError::Windowing(format!(
                "cannot copy window \"{n}\" because it has a frame clause"
            )));
        }
        Ok(ast::WindowSpec {
            window_name: None,
            partition_by: base.partition_by,
            order_by: if spec.order_by.is_empty() {
                base.order_by
            } else {
                spec.order_by.clone()
            },
            window_frame: spec.window_frame.clone(),
        })
    }
}

/// A window specification without the EXCLUDE marker the parser's rewrite put last in its
/// ORDER BY (see `crate::dialect`), and the exclusion it stood for.
fn take_exclude(spec: &ast::WindowSpec) -> SqlResult<(ast::WindowSpec, FrameExclude)> {
    let Some(last) = spec.order_by.last() else {
        return Ok((spec.clone(), FrameExclude::NoOthers));
    };
    let Some(name) = crate::dialect::frame_exclude_marker(&last.expr) else {
        return Ok((spec.clone(), FrameExclude::NoOthers));
    };
    let exclude = FrameExclude::named(&name)
        .ok_or_else(|| SqlError::Syntax(format!("syntax error at or near \"{name}\"")))?;
    let mut spec = spec.clone();
    spec.order_by.pop();
    Ok((spec, exclude))
}

/// The refusal of a window call where none may be.
fn not_allowed(binder: &Binder<'_>, mode: &AggMode<'_>) -> SqlError {
    if let Some(c) = &binder.windows
        && let Some(why) = c.inside
    {
        return SqlError::Windowing(why.into());
    }
    let clause = match mode {
        AggMode::Forbidden("aggregate function calls cannot be nested") => {
            return SqlError::Grouping(
                "aggregate function calls cannot contain window function calls".into(),
            );
        }
        AggMode::Forbidden("JOIN/ON") => "JOIN conditions",
        AggMode::Forbidden(c) => c,
        AggMode::Collect { .. } => "HAVING",
    };
    SqlError::Windowing(format!("window functions are not allowed in {clause}"))
}

/// Binds `f(…) OVER …` into a window slot.
pub(crate) fn bind_call(
    b: &mut Binder<'_>,
    f: &ast::Function,
    name: &str,
    over: &ast::WindowType,
    mode: &mut AggMode<'_>,
    d: usize,
) -> SqlResult<Expr> {
    let Some(collector) = &b.windows else {
        return Err(not_allowed(b, mode));
    };
    // Inside a plain aggregate's argument or FILTER the binder still collects (the select list
    // is being bound) but the call is refused.
    if collector.inside.is_some()
        || matches!(
            mode,
            AggMode::Forbidden("aggregate function calls cannot be nested" | "FILTER")
        )
    {
        return Err(not_allowed(b, mode));
    }
    let key = f.to_string();
    if let Some(i) = collector.calls.iter().position(|c| c.key == key) {
        return Ok(Expr::Window(i));
    }
    let (spec, exclude) = match over {
        ast::WindowType::NamedWindow(n) => {
            let n = ident_name(n);
            (collector.named_spec(&n)?, collector.named_exclude(&n))
        }
        ast::WindowType::WindowSpec(s) => {
            let (s, exclude) = take_exclude(s)?;
            (collector.resolve(&s)?, exclude)
        }
    };
    let (args, distinct, star, has_order) = match &f.args {
        ast::FunctionArguments::None => (Vec::new(), false, false, false),
        ast::FunctionArguments::List(list) => {
            let mut args = Vec::new();
            let mut star = false;
            for a in &list.args {
                match a {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                        args.push(e.clone())
                    }
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard) => star = true,
                    other => {
                        return Err(SqlError::FeatureNotSupported(format!("argument {other}")));
                    }
                }
            }
            let distinct = matches!(
                list.duplicate_treatment,
                Some(ast::DuplicateTreatment::Distinct)
            );
            let order = list
                .clauses
                .iter()
                .any(|c| matches!(c, ast::FunctionArgumentClause::OrderBy(_)));
            (args, distinct, star, order)
        }
        ast::FunctionArguments::Subquery(_) => {
            return Err(SqlError::FeatureNotSupported("subquery arguments".into()));
        }
    };
    let agg_func = AggFunc::from_name(name, star);
    if let Some(AggFunc::Ordered(_)) = agg_func {
        return Err(SqlError::NotSupported(format!(
            "OVER is not supported for ordered-set aggregate {name}"
        )));
    }
    let func = match name {
        _ if agg_func.is_some() => WindowFunc::Aggregate,
        "row_number" => WindowFunc::RowNumber,
        "rank" => WindowFunc::Rank,
        "dense_rank" => WindowFunc::DenseRank,
        "percent_rank" => WindowFunc::PercentRank,
        "cume_dist" => WindowFunc::CumeDist,
        "ntile" => WindowFunc::Ntile,
        "lag" => WindowFunc::Lag,
        "lead" => WindowFunc::Lead,
        "first_value" => WindowFunc::FirstValue,
        "last_value" => WindowFunc::LastValue,
        "nth_value" => WindowFunc::NthValue,
        _ => {
            return Err(SqlError::WrongObjectType(format!(
                "OVER specified, but {name} is not a window function nor an aggregate function"
            )));
        }
    };
    if func == WindowFunc::Aggregate {
        if distinct {
            return Err(SqlError::NotSupported(
                "DISTINCT is not implemented for window functions".into(),
            ));
        }
        if has_order {
            return Err(SqlError::NotSupported(
                "aggregate ORDER BY is not implemented for window functions".into(),
            ));
        }
    } else {
        if f.filter.is_some() {
            return Err(SqlError::NotSupported(
                "FILTER is not implemented for non-aggregate window functions".into(),
            ));
        }
        let arity_ok = match func {
            WindowFunc::Ntile | WindowFunc::FirstValue | WindowFunc::LastValue => args.len() == 1,
            WindowFunc::Lag | WindowFunc::Lead => (1..=3).contains(&args.len()),
            WindowFunc::NthValue => args.len() == 2,
            _ => args.is_empty(),
        };
        if !arity_ok || star || distinct {
            return Err(SqlError::UndefinedFunction(format!(
                "{name} with {} arguments",
                args.len()
            )));
        }
    }

    // The window: its clauses see the rows as the select list does, but no window calls.
    let def = bind_def(b, &spec, mode, d)?;
    let frame = bind_frame(b, &spec, exclude, def, mode, d)?;

    set_inside(b, Some("window function calls cannot be nested"));
    let bound = bind_arguments(b, f, name, func, agg_func, &args, key.clone(), mode, d);
    set_inside(b, None);
    let (args, agg, ty) = bound?;
    let Some(c) = &mut b.windows else {
        return Err(SqlError::Internal("window collector vanished".into()));
    };
    c.calls.push(WindowCall {
        func,
        args,
        agg,
        def,
        frame,
        ty,
        key,
    });
    Ok(Expr::Window(c.calls.len() - 1))
}

fn set_inside(b: &mut Binder<'_>, why: Option<&'static str>) {
    if let Some(c) = &mut b.windows {
        c.inside = why;
    }
}

/// Binds a call's arguments: (arguments, aggregate, result type).
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn bind_arguments(
    b: &mut Binder<'_>,
    f: &ast::Function,
    name: &str,
    func: WindowFunc,
    agg_func: Option<AggFunc>,
    args: &[ast::Expr],
    key: String,
    mode: &mut AggMode<'_>,
    d: usize,
) -> SqlResult<(Vec<Expr>, Option<AggCall>, DataType)> {
    if let Some(af) = agg_func {
        let call = b.aggregate_call(af, name, f, args, false, key, d, Some(mode))?;
        let ty = call.ty;
        return Ok((Vec::new(), Some(call), ty));
    }
    let mut bound = Vec::with_capacity(args.len());
    for a in args {
        bound.push(b.bind_depth(a, mode, d)?);
    }
    let int_arg = |b: &Binder<'_>, e: &Expr, what: &str| -> SqlResult<()> {
        match b.type_of(e) {
            None | Some(DataType::Int4 | DataType::Int8) => Ok(()),
            Some(t) => Err(SqlError::UndefinedFunction(format!("{what}({})", t.name()))),
        }
    };
    let ty = match func {
        WindowFunc::RowNumber | WindowFunc::Rank | WindowFunc::DenseRank => DataType::Int8,
        WindowFunc::PercentRank | WindowFunc::CumeDist => DataType::Float8,
        WindowFunc::Ntile => {
            int_arg(b, &bound[0], name)?;
            DataType::Int4
        }
        WindowFunc::Lag | WindowFunc::Lead => {
            if let Some(o) = bound.get(1) {
                int_arg(b, o, name)?;
            }
            let value = b.type_of(&bound[0]);
            let default = bound.get(2).and_then(|x| b.type_of(x));
            match (value, default) {
                (Some(v), Some(dt)) if v != dt => {
                    use DataType as T;
                    match (v, dt) {
                        (T::Int4 | T::Int8, T::Int4 | T::Int8) => T::Int8,
                        (T::Int4 | T::Int8 | T::Numeric, T::Int4 | T::Int8 | T::Numeric) => {
                            T::Numeric
                        }
                        (
                            T::Int4 | T::Int8 | T::Numeric | T::Float8,
                            T::Int4 | T::Int8 | T::Numeric | T::Float8,
                        ) => T::Float8,
                        _ => {
                            return Err(SqlError::UndefinedFunction(format!(
                                "{name}({}, integer, {})",
                                v.name(),
                                dt.name()
                            )));
                        }
                    }
                }
                (Some(v), _) => v,
                (None, Some(dt)) => dt,
                (None, None) => DataType::Text,
            }
        }
        WindowFunc::FirstValue | WindowFunc::LastValue => {
            b.type_of(&bound[0]).unwrap_or(DataType::Text)
        }
        WindowFunc::NthValue => {
            int_arg(b, &bound[1], name)?;
            b.type_of(&bound[0]).unwrap_or(DataType::Text)
        }
        WindowFunc::Aggregate => DataType::Text,
    };
    Ok((bound, None, ty))
}

/// Binds (or finds) the (PARTITION BY, ORDER BY) of a window; returns its index.
fn bind_def(
    b: &mut Binder<'_>,
    spec: &ast::WindowSpec,
    mode: &mut AggMode<'_>,
    d: usize,
) -> SqlResult<usize> {
    let key = format!(
        "{:?}|{:?}",
        spec.partition_by
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        spec.order_by
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    );
    if let Some(c) = &b.windows
        && let Some(i) = c.defs.iter().position(|x| x.key == key)
    {
        return Ok(i);
    }
    set_inside(
        b,
        Some("window functions are not allowed in window definitions"),
    );
    let bound = (|| -> SqlResult<WindowDef> {
        let mut partition = Vec::with_capacity(spec.partition_by.len());
        for p in &spec.partition_by {
            partition.push(b.bind_depth(p, mode, d)?);
        }
        let mut order = Vec::with_capacity(spec.order_by.len());
        for o in &spec.order_by {
            let desc = matches!(o.options.sort, Some(ast::OrderBySort::Desc));
            order.push(WindowOrder {
                expr: b.bind_depth(&o.expr, mode, d)?,
                desc,
                nulls_first: o.options.nulls_first.unwrap_or(desc),
            });
        }
        Ok(WindowDef {
            partition,
            order,
            key,
        })
    })();
    set_inside(b, None);
    let def = bound?;
    let Some(c) = &mut b.windows else {
        return Err(SqlError::Internal("window collector vanished".into()));
    };
    c.defs.push(def);
    Ok(c.defs.len() - 1)
}

/// Binds a window's frame clause, with PostgreSQL's checks on its shape.
fn bind_frame(
    b: &mut Binder<'_>,
    spec: &ast::WindowSpec,
    exclude: FrameExclude,
    def: usize,
    mode: &mut AggMode<'_>,
    d: usize,
) -> SqlResult<Frame> {
    let Some(wf) = &spec.window_frame else {
        return Ok(Frame::default_frame());
    };
    let units = match wf.units {
        ast::WindowFrameUnits::Rows => FrameUnits::Rows,
        ast::WindowFrameUnits::Range => FrameUnits::Range,
        ast::WindowFrameUnits::Groups => FrameUnits::Groups,
    };
    let order_len = b
        .windows
        .as_ref()
        .and_then(|c| c.defs.get(def))
        .map_or(0, |x| x.order.len());
    let order_ty = b
        .windows
        .as_ref()
        .and_then(|c| c.defs.get(def))
        .and_then(|x| x.order.first())
        .and_then(|o| b.type_of(&o.expr));
    let unit_name = match units {
        FrameUnits::Rows => "ROWS",
        FrameUnits::Range => "RANGE",
        FrameUnits::Groups => "GROUPS",
    };
    let mut bound = |b: &mut Binder<'_>, x: &ast::WindowFrameBound, start: bool| {
        let mut offset = |b: &mut Binder<'_>, e: &ast::Expr| -> SqlResult<Expr> {
            // The parser reads a string constant before PRECEDING/FOLLOWING as an interval
            // literal; without a unit it is the constant itself.
            let e = match e {
                ast::Expr::Interval(iv)
                    if iv.leading_field.is_none()
                        && iv.last_field.is_none()
                        && matches!(
                            &*iv.value,
                            ast::Expr::Value(v) if matches!(v.value, ast::Value::SingleQuotedString(_))
                        ) =>
                {
                    &*iv.value
                }
                other => other,
            };
            set_inside(
                b,
                Some("window functions are not allowed in window definitions"),
            );
            let r = b.bind_depth(e, mode, d);
            set_inside(b, None);
            let r = r?;
            let mut variable = false;
            r.visit(&mut |n| {
                if matches!(
                    n,
                    Expr::Column(_) | Expr::Outer { .. } | Expr::Agg(_) | Expr::GroupKey(_)
                ) {
                    variable = true;
                }
            });
            if variable {
                return Err(SqlError::InvalidColumnReference(format!(
                    "argument of {unit_name} must not contain variables"
                )));
            }
            // A string constant is of unknown type: it takes the type the bound needs.
            let ty = match &r {
                Expr::Literal(Value::Text(_)) => None,
                other => b.type_of(other),
            };
            match units {
                FrameUnits::Range => {
                    if order_len != 1 {
                        return Err(SqlError::Windowing(
                            "RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column".into(),
                        ));
                    }
                    let ok = match (order_ty, ty) {
                        (_, None) => true,
                        (Some(DataType::Int4 | DataType::Int8), Some(t)) => {
                            matches!(t, DataType::Int4 | DataType::Int8)
                        }
                        (Some(DataType::Float8 | DataType::Numeric), Some(t)) => t.is_numeric(),
                        _ => false,
                    };
                    if !ok {
                        return Err(SqlError::NotSupported(format!(
                            "RANGE with offset PRECEDING/FOLLOWING is not supported for column type {} and offset type {}",
                            order_ty.map_or("unknown", DataType::name),
                            ty.map_or("unknown", DataType::name)
                        )));
                    }
                }
                _ => {
                    if !matches!(ty, None | Some(DataType::Int4 | DataType::Int8)) {
                        return Err(SqlError::DatatypeMismatch(format!(
                            "argument of {unit_name} must be type bigint"
                        )));
                    }
                }
            }
            Ok(r)
        };
        Ok::<_, SqlError>(match x {
            ast::WindowFrameBound::CurrentRow => FrameBound::CurrentRow,
            ast::WindowFrameBound::Preceding(None) => {
                if !start {
                    return Err(SqlError::Windowing(
                        "frame end cannot be UNBOUNDED PRECEDING".into(),
                    ));
                }
                FrameBound::UnboundedPreceding
            }
            ast::WindowFrameBound::Following(None) => {
                if start {
                    return Err(SqlError::Windowing(
                        "frame start cannot be UNBOUNDED FOLLOWING".into(),
                    ));
                }
                FrameBound::UnboundedFollowing
            }
            ast::WindowFrameBound::Preceding(Some(e)) => FrameBound::Preceding(offset(b, e)?),
            ast::WindowFrameBound::Following(Some(e)) => FrameBound::Following(offset(b, e)?),
        })
    };
    let start = bound(b, &wf.start_bound, true)?;
    let end = match &wf.end_bound {
        Some(e) => bound(b, e, false)?,
        None => FrameBound::CurrentRow,
    };
    let rank = |x: &FrameBound| match x {
        FrameBound::UnboundedPreceding => 0,
        FrameBound::Preceding(_) => 1,
        FrameBound::CurrentRow => 2,
        FrameBound::Following(_) => 3,
        FrameBound::UnboundedFollowing => 4,
    };
    if rank(&start) == 2 && rank(&end) == 1 {
        return Err(SqlError::Windowing(
            "frame starting from current row cannot have preceding rows".into(),
        ));
    }
    if rank(&start) == 3 && rank(&end) <= 2 {
        return Err(SqlError::Windowing(
            "frame starting from following row cannot have preceding or current rows".into(),
        ));
    }
    Ok(Frame {
        units,
        start,
        end,
        exclude,
    })
}

/// A row's keys under window `def`: its partition keys, then its ORDER BY keys (what
/// [`cmp_keys`] compares).
pub(crate) fn row_keys(def: &WindowDef, cx: &EvalContext<'_>) -> SqlResult<Vec<Value>> {
    let mut k = Vec::with_capacity(def.partition.len() + def.order.len());
    for p in &def.partition {
        k.push(p.eval(cx)?);
    }
    for o in &def.order {
        k.push(o.expr.eval(cx)?);
    }
    Ok(k)
}

/// Compares two rows' keys in a window's sort order (partition keys ascending, NULLs last, then
/// the ORDER BY keys as written).
pub(crate) fn cmp_keys(a: &[Value], b: &[Value], def: &WindowDef) -> Ordering {
    let np = def.partition.len();
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let o = if i < np {
            x.sort_cmp(y)
        } else {
            let s = &def.order[i - np];
            order_cmp(x, y, s.desc, s.nulls_first)
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// One ORDER BY key's comparison.
fn order_cmp(x: &Value, y: &Value, desc: bool, nulls_first: bool) -> Ordering {
    match (x.is_null(), y.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) if nulls_first => Ordering::Less,
        (true, false) => Ordering::Greater,
        (false, true) if nulls_first => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => {
            let o = x.sort_cmp(y);
            if desc { o.reverse() } else { o }
        }
    }
}

/// A window partition's rows may take `work_mem / ROWS_SHARE` in memory before their store
/// spills; with [`VALUES_SHARE`] and [`GROUPS_SHARE`] the three stores of a partition keep
/// within `work_mem` together (the stage's sort has its own `work_mem`, as PostgreSQL's Sort
/// node below a WindowAgg has).
const ROWS_SHARE: usize = 2;
/// The share of `work_mem` for a partition's per-row keys and argument values.
const VALUES_SHARE: usize = 4;
/// The share of `work_mem` for a partition's peer groups.
const GROUPS_SHARE: usize = 4;

/// What the window stages used, for EXPLAIN ANALYZE: the sorts' worst method, the most
/// memory one stage's rows took at once, the bytes written to temporary files.
#[derive(Clone, Copy, Debug)]
pub struct WindowStats {
    /// External merge when any stage's sort or partition store spilled, else quicksort.
    pub method: crate::spill::SortMethod,
    /// The most bytes one stage's sort and partition stores held in memory.
    pub peak_bytes: usize,
    /// Bytes the stages wrote to temporary files.
    pub disk_bytes: u64,
    /// Rows given to `emit`.
    pub rows: usize,
}

/// Builds a row's evaluation context: from the input row (a FROM row, or a group in the
/// caller's encoding) and the window results computed so far, it calls the closure.
pub type WithContext<'a> = dyn Fn(&[Value], &[Value], &mut dyn FnMut(&EvalContext<'_>) -> SqlResult<()>) -> SqlResult<()>
    + 'a;

/// Gives every input row of a window stage to the function it is called with.
pub type RowFeed<'a> = dyn FnMut(&mut dyn FnMut(Vec<Value>) -> SqlResult<()>) -> SqlResult<()> + 'a;
/// Takes each row with its window results.
pub type WindowEmit<'a> = dyn FnMut(&[Value], &[Value]) -> SqlResult<()> + 'a;

/// Computes every window call of `plan` over the rows `feed` gives, as PostgreSQL stacks one
/// WindowAgg per window definition:
///
/// ```text
///  feed ─▶ row ++ [NULL per call] ─▶ Sorter(def 1 keys) ─▶ partitions ─▶ calls of def 1 set
///        ─▶ Sorter(def 2 keys) ─▶ partitions ─▶ calls of def 2 set ─▶ … ─▶ emit(row, results)
/// ```
///
/// Each stage's sort keeps within `work_mem` (spilling sorted runs) and each partition is
/// kept in [`RowStore`]s that spill past their share of `work_mem`, read back through
/// `Probe`s; the earlier stages' results travel as extra columns of the row. The sorts are
/// stable, so the rows come out in the same order whatever `work_mem` is.
pub fn run(
    plan: &WindowPlan,
    work_mem: usize,
    cancel: &crate::expr::CancelFlag,
    feed: &mut RowFeed<'_>,
    with_cx: &WithContext<'_>,
    emit: &mut WindowEmit<'_>,
) -> SqlResult<WindowStats> {
    use crate::spill::{SortMethod, Sorter};
    let stages: Vec<usize> = (0..plan.defs.len())
        .filter(|&d| plan.calls.iter().any(|c| c.def == d))
        .collect();
    let mut stats = WindowStats {
        method: SortMethod::Quicksort,
        peak_bytes: 0,
        disk_bytes: 0,
        rows: 0,
    };
    let ncalls = plan.calls.len();
    let base = std::cell::Cell::new(None::<usize>);
    let split = |row: &[Value]| -> (usize, usize) {
        let b = base.get().unwrap_or(row.len().saturating_sub(ncalls));
        (b, row.len())
    };
    let keys_of = |d: usize, row: &[Value]| -> SqlResult<Vec<Value>> {
        let (b, _) = split(row);
        let mut keys = Vec::new();
        with_cx(&row[..b], &row[b..], &mut |cx| {
            keys = row_keys(&plan.defs[d], cx)?;
            Ok(())
        })?;
        Ok(keys)
    };
    let Some(&first) = stages.first() else {
        return Ok(stats);
    };
    let orders: Vec<Box<crate::spill::KeyOrder<'_>>> = stages
        .iter()
        .map(|&d| {
            let def = &plan.defs[d];
            Box::new(move |a: &[Value], b: &[Value]| cmp_keys(a, b, def))
                as Box<crate::spill::KeyOrder<'_>>
        })
        .collect();
    let mut sorter = Sorter::new(&*orders[0], cancel, work_mem, None);
    feed(&mut |mut row| {
        if base.get().is_none() {
            base.set(Some(row.len()));
        }
        row.resize(row.len() + ncalls, Value::Null);
        let keys = keys_of(first, &row)?;
        sorter.push(row, keys)
    })?;
    for (i, &d) in stages.iter().enumerate() {
        let def = &plan.defs[d];
        let np = def.partition.len();
        let calls: Vec<usize> = (0..ncalls).filter(|&c| plan.calls[c].def == d).collect();
        let mut next = stages
            .get(i + 1)
            .map(|_| Sorter::new(&*orders[i + 1], cancel, work_mem, None));
        let mut forward = |row: Vec<Value>| -> SqlResult<()> {
            match (&mut next, stages.get(i + 1)) {
                (Some(s), Some(&nd)) => {
                    let keys = keys_of(nd, &row)?;
                    s.push(row, keys)
                }
                _ => {
                    let (b, _) = split(&row);
                    stats.rows += 1;
                    emit(&row[..b], &row[b..])
                }
            }
        };
        let mut building: Option<PartitionBuilder<'_>> = None;
        let mut store_peak = 0usize;
        let mut store_disk = 0u64;
        let mut done = |b: PartitionBuilder<'_>,
                        forward: &mut dyn FnMut(Vec<Value>) -> SqlResult<()>|
         -> SqlResult<()> {
            cancel.check()?;
            let (peak, disk) = b.finish(&plan.calls, cancel, forward, &split)?;
            store_peak = store_peak.max(peak);
            store_disk += disk;
            Ok(())
        };
        let sorted = sorter.finish(&mut |row, keys| {
            if let Some(b) = &building
                && cmp_keys(&b.partition_keys, &keys[..np], def) != Ordering::Equal
                && let Some(b) = building.take()
            {
                done(b, &mut forward)?;
            }
            let b = building.get_or_insert_with(|| {
                PartitionBuilder::new(def, &plan.calls, &calls, keys[..np].to_vec(), work_mem)
            });
            let (base_len, _) = split(&row);
            b.push(row, &keys[np..], base_len, with_cx)?;
            Ok(true)
        })?;
        if let Some(b) = building.take() {
            done(b, &mut forward)?;
        }
        if sorted.method == SortMethod::ExternalMerge || store_disk > 0 {
            stats.method = SortMethod::ExternalMerge;
        }
        stats.peak_bytes = stats.peak_bytes.max(sorted.memory_bytes + store_peak);
        stats.disk_bytes += sorted.disk_bytes + store_disk;
        match next {
            Some(s) => sorter = s,
            None => break,
        }
    }
    Ok(stats)
}

/// Rows a [`Probe`] keeps of those it read last: a sliding frame that restarts its aggregate
/// a few rows back reads them again from memory rather than reopening its reader (which
/// decodes up to [`crate::cursor::ROW_INDEX_STRIDE`] rows to reach a position).
const PROBE_RECENT_ROWS: usize = 128;

/// Reads the rows of a [`RowStore`] by position. A read a little ahead of the last continues
/// its reader; one further ahead, or behind the rows it keeps, reopens the reader there
/// (through the store's index of row offsets). The last [`PROBE_RECENT_ROWS`] consecutive
/// rows read are kept, so a frame pointer that looks back a little reads nothing twice. Each
/// pointer into a partition (the current row, a frame's start, its end, a call's input) has
/// its own probe, and each mostly moves forward.
struct Probe<'s> {
    store: &'s RowStore,
    /// The reader and the position of the row it gives next.
    reader: Option<(crate::cursor::RowStoreReader<'s>, u64)>,
    /// Rows `[recent_start, recent_start + recent.len())`.
    recent: std::collections::VecDeque<Vec<Value>>,
    recent_start: u64,
}

impl<'s> Probe<'s> {
    fn new(store: &'s RowStore) -> Probe<'s> {
        Probe {
            store,
            reader: None,
            recent: std::collections::VecDeque::new(),
            recent_start: 0,
        }
    }

    /// The row at `pos` (from 0).
    fn row(&mut self, pos: usize) -> SqlResult<&[Value]> {
        let pos = pos as u64;
        let end = self.recent_start + self.recent.len() as u64;
        if pos < self.recent_start || pos >= end {
            let reopen = match &self.reader {
                Some((_, next)) => pos < *next || pos - *next > crate::cursor::ROW_INDEX_STRIDE,
                None => true,
            };
            if reopen {
                self.reader = Some((self.store.reader_from(pos)?, pos));
            }
            let Some((reader, next)) = &mut self.reader else {
                return Err(SqlError::Internal(
                    "window partition reader vanished".into(),
                ));
            };
            while *next <= pos {
                let row = reader.next_row()?.ok_or_else(|| {
                    SqlError::Internal(format!("window partition read beyond its rows at {pos}"))
                })?;
                if *next != self.recent_start + self.recent.len() as u64 {
                    self.recent.clear();
                    self.recent_start = *next;
                }
                self.recent.push_back(row);
                if self.recent.len() > PROBE_RECENT_ROWS {
                    self.recent.pop_front();
                    self.recent_start += 1;
                }
                *next += 1;
            }
        }
        #[allow(clippy::cast_possible_truncation)] // below PROBE_RECENT_ROWS
        let i = (pos - self.recent_start) as usize;
        Ok(self.recent.get(i).map_or(&[][..], Vec::as_slice))
    }
}

/// A peer group `[start, end)` from the partition's group store.
fn group_at(probe: &mut Probe<'_>, g: usize) -> SqlResult<(usize, usize)> {
    let row = probe.row(g)?;
    let at = |i: usize| match row.get(i) {
        Some(Value::Int(x)) => usize::try_from(*x).map_err(|_| bad_group()),
        _ => Err(bad_group()),
    };
    Ok((at(0)?, at(1)?))
}

fn bad_group() -> SqlError {
    SqlError::Internal("a window partition's peer group is damaged".into())
}

/// The first position of `[0, n)` at which `before` (true for a prefix) turns false, read
/// through `probe` from the previous answer `hint`: a frame bound moves forward with the
/// current row, so the search costs the rows it moves over; a bound that moved back (never
/// expected) is found again by bisection.
fn point(
    probe: &mut Probe<'_>,
    hint: &mut usize,
    n: usize,
    before: &dyn Fn(&Value) -> bool,
) -> SqlResult<usize> {
    let key = |probe: &mut Probe<'_>, p: usize| -> SqlResult<bool> {
        Ok(before(probe.row(p)?.first().unwrap_or(&Value::Null)))
    };
    let mut p = (*hint).min(n);
    if p > 0 && !key(probe, p - 1)? {
        let (mut lo, mut hi) = (0, p - 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if key(probe, mid)? {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        p = lo;
    } else {
        while p < n && key(probe, p)? {
            p += 1;
        }
    }
    *hint = p;
    Ok(p)
}

/// A partition read from the sorted input: its rows, per row its ORDER BY keys and the
/// argument values of the window's calls, and its peer groups, each in a [`RowStore`] that
/// spills past its share of `work_mem`.
struct PartitionBuilder<'p> {
    def: &'p WindowDef,
    all: &'p [WindowCall],
    /// The calls of this window: (slot, where its values start in a values row).
    calls: Vec<(usize, usize)>,
    partition_keys: Vec<Value>,
    work_mem: usize,
    rows: Option<RowStore>,
    /// Per row: its ORDER BY keys, then each call's argument values (an aggregate's: whether
    /// its FILTER passes, and its argument).
    values: RowStore,
    /// Per peer group: its `[start, end)` positions.
    groups: RowStore,
    n: usize,
    ng: usize,
    group_start: usize,
    last_order: Option<Vec<Value>>,
    /// The type of the first non-NULL ORDER BY value (a RANGE offset given as text takes it).
    order_type: Option<DataType>,
    /// Each call's frame offsets, evaluated at the partition's first row (they are constants).
    raw_offsets: Vec<(Option<Value>, Option<Value>)>,
}

impl<'p> PartitionBuilder<'p> {
    fn new(
        def: &'p WindowDef,
        all: &'p [WindowCall],
        calls: &[usize],
        partition_keys: Vec<Value>,
        work_mem: usize,
    ) -> PartitionBuilder<'p> {
        let mut at = def.order.len();
        let mut layout = Vec::with_capacity(calls.len());
        for &c in calls {
            layout.push((c, at));
            at += match all[c].func {
                WindowFunc::Aggregate => 2,
                _ => all[c].args.len(),
            };
        }
        PartitionBuilder {
            def,
            all,
            calls: layout,
            partition_keys,
            work_mem,
            rows: None,
            values: RowStore::new(at, work_mem / VALUES_SHARE),
            groups: RowStore::new(2, work_mem / GROUPS_SHARE),
            n: 0,
            ng: 0,
            group_start: 0,
            last_order: None,
            order_type: None,
            raw_offsets: Vec::new(),
        }
    }

    /// Adds the next row (in window order) with its ORDER BY keys; `base` values of the row
    /// are its input, the rest the window results.
    fn push(
        &mut self,
        row: Vec<Value>,
        order: &[Value],
        base: usize,
        with_cx: &WithContext<'_>,
    ) -> SqlResult<()> {
        if let Some(last) = &self.last_order
            && cmp_order(last, order, self.def) != Ordering::Equal
        {
            self.close_group()?;
        }
        if self.order_type.is_none() {
            self.order_type = match order.first() {
                Some(Value::Float(_)) => Some(DataType::Float8),
                Some(Value::Numeric(_)) => Some(DataType::Numeric),
                Some(Value::Int(_)) => Some(DataType::Int8),
                _ => None,
            };
        }
        let mut vals = order.to_vec();
        let first = self.n == 0;
        let mut offsets = Vec::new();
        let (all, calls) = (self.all, &self.calls);
        with_cx(&row[..base], &row[base..], &mut |cx| {
            for &(c, _) in calls {
                let call = &all[c];
                if first {
                    offsets.push((
                        raw_offset(&call.frame.start, cx)?,
                        raw_offset(&call.frame.end, cx)?,
                    ));
                }
                match (&call.agg, call.func) {
                    (Some(agg), WindowFunc::Aggregate) => {
                        let pass = match &agg.filter {
                            Some(f) => f.eval(cx)? == Value::Bool(true),
                            None => true,
                        };
                        vals.push(Value::Bool(pass));
                        vals.push(match (&agg.arg, pass) {
                            (_, false) => Value::Null,
                            (Some(a), true) => a.eval(cx)?,
                            (None, true) => Value::Bool(true),
                        });
                    }
                    (None, WindowFunc::Aggregate) => {
                        return Err(SqlError::Internal("window aggregate without a call".into()));
                    }
                    _ => {
                        for a in &call.args {
                            vals.push(a.eval(cx)?);
                        }
                    }
                }
            }
            Ok(())
        })?;
        if first {
            self.raw_offsets = offsets;
        }
        self.values.push(vals)?;
        self.last_order = Some(order.to_vec());
        let budget = self.work_mem / ROWS_SHARE;
        let width = row.len();
        self.rows
            .get_or_insert_with(|| RowStore::new(width, budget))
            .push(row)?;
        self.n += 1;
        Ok(())
    }

    /// Ends the peer group that runs up to the current row.
    fn close_group(&mut self) -> SqlResult<()> {
        self.groups.push(vec![
            Value::Int(i64::try_from(self.group_start).unwrap_or(i64::MAX)),
            Value::Int(i64::try_from(self.n).unwrap_or(i64::MAX)),
        ])?;
        self.ng += 1;
        self.group_start = self.n;
        Ok(())
    }

    /// Computes the window's calls for every row of the partition, in order, and gives each
    /// row, its results set, to `forward`. Returns the bytes the stores held in memory and
    /// wrote to temporary files.
    fn finish(
        mut self,
        all: &[WindowCall],
        cancel: &crate::expr::CancelFlag,
        forward: &mut dyn FnMut(Vec<Value>) -> SqlResult<()>,
        split: &dyn Fn(&[Value]) -> (usize, usize),
    ) -> SqlResult<(usize, u64)> {
        let Some(mut rows) = self.rows.take() else {
            return Ok((0, 0));
        };
        self.close_group()?;
        rows.finish_writing()?;
        self.values.finish_writing()?;
        self.groups.finish_writing()?;
        let part = Partition {
            def: self.def,
            n: self.n,
            ng: self.ng,
            values: &self.values,
            groups: &self.groups,
        };
        let mut states = Vec::with_capacity(self.calls.len());
        for (k, &(c, at)) in self.calls.iter().enumerate() {
            let raw = self.raw_offsets.get(k).cloned().unwrap_or((None, None));
            states.push(CallState::new(
                &all[c],
                c,
                at,
                offsets(&all[c], raw, self.order_type)?,
                &part,
            ));
        }
        let mut here = Probe::new(&self.values);
        let mut group_probe = Probe::new(&self.groups);
        let mut reader = rows.reader()?;
        let (mut g, mut gs, mut ge) = (0usize, 0usize, 0usize);
        for pos in 0..self.n {
            if pos % 1024 == 0 {
                cancel.check()?;
            }
            if pos >= ge {
                if pos > 0 {
                    g += 1;
                }
                (gs, ge) = group_at(&mut group_probe, g)?;
            }
            let current = here.row(pos)?.to_vec();
            let mut row = reader.next_row()?.ok_or_else(|| {
                SqlError::Internal("a window partition's rows ended early".into())
            })?;
            let (base, _) = split(&row);
            for st in &mut states {
                let v = st.value(&part, pos, &current, (g, gs, ge))?;
                if let Some(slot) = row.get_mut(base + st.slot) {
                    *slot = v;
                }
            }
            forward(row)?;
        }
        let memory = rows.memory_bytes() + self.values.memory_bytes() + self.groups.memory_bytes();
        let disk = rows.disk_bytes() + self.values.disk_bytes() + self.groups.disk_bytes();
        Ok((memory, disk))
    }
}

/// A frame bound's offset evaluated at a row (NULL-checked later, per partition).
fn raw_offset(b: &FrameBound, cx: &EvalContext<'_>) -> SqlResult<Option<Value>> {
    match b {
        FrameBound::Preceding(e) | FrameBound::Following(e) => e.eval(cx).map(Some),
        _ => Ok(None),
    }
}

/// A call's frame offsets, checked and converted: (start, end).
fn offsets(
    call: &WindowCall,
    raw: (Option<Value>, Option<Value>),
    order_type: Option<DataType>,
) -> SqlResult<(Option<Value>, Option<Value>)> {
    let check = |v: Option<Value>, which: &str| -> SqlResult<Option<Value>> {
        let Some(v) = v else {
            return Ok(None);
        };
        let negative = match &v {
            Value::Null => {
                return Err(SqlError::NullFrameOffset(format!(
                    "frame {which} offset must not be null"
                )));
            }
            Value::Int(i) => *i < 0,
            Value::Float(f) => *f < 0.0 || f.is_nan(),
            Value::Numeric(x) => x.to_f64() < 0.0 || x.to_f64().is_nan(),
            Value::Text(t) => t.trim().starts_with('-'),
            _ => false,
        };
        if negative {
            return Err(SqlError::InvalidFrameOffset(match call.frame.units {
                FrameUnits::Range => {
                    "invalid preceding or following size in window function".into()
                }
                _ => format!("frame {which} offset must not be negative"),
            }));
        }
        Ok(Some(match (v, call.frame.units) {
            (Value::Text(t), FrameUnits::Range) => match order_type {
                Some(DataType::Float8) => crate::types::parse_text(&t, DataType::Float8)?,
                Some(DataType::Numeric) => crate::types::parse_text(&t, DataType::Numeric)?,
                _ => crate::types::parse_text(&t, DataType::Int8)?,
            },
            (Value::Text(t), _) => crate::types::parse_text(&t, DataType::Int8)?,
            (v, _) => v,
        }))
    };
    Ok((check(raw.0, "starting")?, check(raw.1, "ending")?))
}

/// Compares two rows' ORDER BY keys in the window's order.
fn cmp_order(a: &[Value], b: &[Value], def: &WindowDef) -> Ordering {
    for ((x, y), o) in a.iter().zip(b).zip(&def.order) {
        let c = order_cmp(x, y, o.desc, o.nulls_first);
        if c != Ordering::Equal {
            return c;
        }
    }
    Ordering::Equal
}

/// A partition whose rows are all stored: what every call reads.
struct Partition<'s> {
    def: &'s WindowDef,
    n: usize,
    ng: usize,
    values: &'s RowStore,
    groups: &'s RowStore,
}

impl Partition<'_> {
    /// A key compared with a RANGE bound, in the window's sort order.
    fn cmp_target(&self, x: &Value, target: &Value) -> Ordering {
        let o = &self.def.order[0];
        order_cmp(x, target, o.desc, o.nulls_first)
    }

    /// The ORDER BY value a RANGE offset bound sits at: the current row's value `v` moved by
    /// the offset towards the preceding (or following) rows. A NULL current value stays NULL:
    /// its frame is its NULL peers.
    fn range_target(&self, v: &Value, offset: Option<&Value>, preceding: bool) -> SqlResult<Value> {
        let k = offset.unwrap_or(&Value::Null);
        // Preceding rows have smaller values ascending, larger descending.
        let subtract = preceding != self.def.order[0].desc;
        Ok(match (v, k) {
            (Value::Null, _) => Value::Null,
            (Value::Int(a), Value::Int(b)) => {
                let t = if subtract {
                    i128::from(*a) - i128::from(*b)
                } else {
                    i128::from(*a) + i128::from(*b)
                };
                // Beyond bigint, the bound is beyond every value.
                i64::try_from(t).map_or(Value::Float(t as f64), Value::Int)
            }
            (Value::Numeric(_), _) | (_, Value::Numeric(_)) => {
                let to_num = |x: &Value| match x {
                    Value::Numeric(n) => n.clone(),
                    Value::Int(i) => Numeric::from_i64(*i),
                    Value::Float(f) => Numeric::from_f64(*f, 17),
                    _ => Numeric::from_i64(0),
                };
                let (a, b) = (to_num(v), to_num(k));
                Value::Numeric(if subtract { a.sub(&b)? } else { a.add(&b)? })
            }
            (a, b) => {
                let f = |x: &Value| match x {
                    Value::Int(i) => *i as f64,
                    Value::Float(f) => *f,
                    _ => 0.0,
                };
                Value::Float(if subtract { f(a) - f(b) } else { f(a) + f(b) })
            }
        })
    }
}

/// One call's progress through a partition: the state its value for the next row needs.
struct CallState<'s> {
    call: &'s WindowCall,
    slot: usize,
    /// Where the call's argument values start in a values row.
    at: usize,
    offsets: (Option<Value>, Option<Value>),
    /// Reads the row a value comes from (lag's target, a frame's first row, an aggregate's
    /// next input).
    target: Probe<'s>,
    start_groups: Probe<'s>,
    end_groups: Probe<'s>,
    start_keys: Probe<'s>,
    end_keys: Probe<'s>,
    lo_hint: usize,
    hi_hint: usize,
    /// An aggregate's running state over positions `[acc_lo, acc_hi)`.
    acc: Option<Accumulator>,
    acc_lo: usize,
    acc_hi: usize,
    /// The last frame (or exclusion runs) and its value, shared by rows with the same frame.
    last: Option<((usize, usize), Value)>,
    last_runs: Option<(FrameRuns, Value)>,
    /// ntile: the bucket count, rows per bucket, buckets with one more, current bucket, rows
    /// left in it.
    ntile: Option<(Option<usize>, usize, usize, usize, usize)>,
}

impl<'s> CallState<'s> {
    fn new(
        call: &'s WindowCall,
        slot: usize,
        at: usize,
        offsets: (Option<Value>, Option<Value>),
        part: &Partition<'s>,
    ) -> CallState<'s> {
        CallState {
            call,
            slot,
            at,
            offsets,
            target: Probe::new(part.values),
            start_groups: Probe::new(part.groups),
            end_groups: Probe::new(part.groups),
            start_keys: Probe::new(part.values),
            end_keys: Probe::new(part.values),
            lo_hint: 0,
            hi_hint: 0,
            acc: None,
            acc_lo: 0,
            acc_hi: 0,
            last: None,
            last_runs: None,
            ntile: None,
        }
    }

    /// The call's value at the row at `pos`, whose values row is `here` and whose peer group
    /// is number `g`, `[gs, ge)`.
    fn value(
        &mut self,
        part: &Partition<'_>,
        pos: usize,
        here: &[Value],
        (g, gs, ge): (usize, usize, usize),
    ) -> SqlResult<Value> {
        let n = part.n;
        let call = self.call;
        let at = self.at;
        let arg = |i: usize| here.get(at + i).cloned().unwrap_or(Value::Null);
        Ok(match call.func {
            WindowFunc::RowNumber => Value::Int(pos as i64 + 1),
            WindowFunc::Rank => Value::Int(gs as i64 + 1),
            WindowFunc::DenseRank => Value::Int(g as i64 + 1),
            WindowFunc::PercentRank if n > 1 => Value::Float(gs as f64 / (n - 1) as f64),
            WindowFunc::PercentRank => Value::Float(0.0),
            WindowFunc::CumeDist => Value::Float(ge as f64 / n as f64),
            WindowFunc::Ntile => {
                if self.ntile.is_none() {
                    // The bucket count is read once per partition, at its first row.
                    let buckets = match arg(0) {
                        Value::Null => None,
                        Value::Int(k) if k <= 0 => return Err(SqlError::InvalidNtileArgument),
                        Value::Int(k) => Some(usize::try_from(k).unwrap_or(usize::MAX)),
                        other => {
                            return Err(SqlError::DatatypeMismatch(format!("ntile of {other:?}")));
                        }
                    };
                    // PostgreSQL's buckets: n / k rows each, the first n % k one row more.
                    let (per, extra) = match buckets {
                        Some(k) => (n / k, n % k),
                        None => (0, 0),
                    };
                    self.ntile = Some((buckets, per, extra, 1, per + usize::from(extra > 0)));
                }
                match &mut self.ntile {
                    Some((None, ..)) | None => Value::Null,
                    Some((Some(_), per, extra, bucket, left)) => {
                        if *left == 0 {
                            *bucket += 1;
                            *left = *per + usize::from(*bucket <= *extra);
                        }
                        *left = left.saturating_sub(1);
                        Value::Int(*bucket as i64)
                    }
                }
            }
            WindowFunc::Lag | WindowFunc::Lead => {
                let offset = match call.args.get(1) {
                    None => Some(1i64),
                    Some(_) => match arg(1) {
                        Value::Null => None,
                        Value::Int(k) => Some(k),
                        other => {
                            return Err(SqlError::DatatypeMismatch(format!("offset of {other:?}")));
                        }
                    },
                };
                let v = match offset {
                    None => Value::Null,
                    Some(k) => {
                        let k = if call.func == WindowFunc::Lag {
                            k.checked_neg()
                        } else {
                            Some(k)
                        };
                        let target = k.and_then(|k| (pos as i64).checked_add(k));
                        match target.and_then(|t| usize::try_from(t).ok()) {
                            Some(t) if t < n => self.arg_at(t, 0)?,
                            _ => match call.args.get(2) {
                                Some(_) => arg(2),
                                None => Value::Null,
                            },
                        }
                    }
                };
                coerce(v, call.ty)
            }
            WindowFunc::FirstValue | WindowFunc::LastValue | WindowFunc::NthValue => {
                let (lo, hi) = self.frame(part, pos, here, (g, gs, ge))?;
                let runs = FrameRuns::new(lo, hi, call.frame.exclude, pos, (gs, ge));
                let p = match call.func {
                    WindowFunc::FirstValue => runs.first(),
                    WindowFunc::LastValue => runs.last(),
                    _ => match arg(1) {
                        Value::Null => None,
                        Value::Int(k) if k <= 0 => {
                            return Err(SqlError::InvalidNthValueArgument);
                        }
                        Value::Int(k) => usize::try_from(k - 1).ok().and_then(|k| runs.nth(k)),
                        other => {
                            return Err(SqlError::DatatypeMismatch(format!(
                                "nth_value of {other:?}"
                            )));
                        }
                    },
                };
                match p {
                    Some(p) => self.arg_at(p, 0)?,
                    None => Value::Null,
                }
            }
            WindowFunc::Aggregate => self.aggregate(part, pos, here, (g, gs, ge))?,
        })
    }

    /// Argument `i` of the call at position `p`.
    fn arg_at(&mut self, p: usize, i: usize) -> SqlResult<Value> {
        Ok(self
            .target
            .row(p)?
            .get(self.at + i)
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// An aggregate's input at position `p`: `None` when its FILTER leaves the row out.
    fn agg_input(&mut self, p: usize) -> SqlResult<Option<Value>> {
        let row = self.target.row(p)?;
        Ok(match row.get(self.at) {
            Some(Value::Bool(true)) => Some(row.get(self.at + 1).cloned().unwrap_or(Value::Null)),
            _ => None,
        })
    }

    /// An aggregate over the row's frame. While the frame's start stays put the running
    /// state only adds the rows that entered it; when the start moves it restarts there; an
    /// exclusion's holes move with the row, so each row's aggregate starts afresh (rows with
    /// the same runs share it).
    fn aggregate(
        &mut self,
        part: &Partition<'_>,
        pos: usize,
        here: &[Value],
        (g, gs, ge): (usize, usize, usize),
    ) -> SqlResult<Value> {
        let call = self.call;
        let Some(agg) = &call.agg else {
            return Err(SqlError::Internal("window aggregate without a call".into()));
        };
        let (lo, hi) = self.frame(part, pos, here, (g, gs, ge))?;
        let hi = hi.max(lo);
        if call.frame.exclude != FrameExclude::NoOthers {
            let runs = FrameRuns::new(lo, hi, call.frame.exclude, pos, (gs, ge));
            if let Some((f, v)) = &self.last_runs
                && *f == runs
            {
                return Ok(v.clone());
            }
            let mut acc = Accumulator::new(agg);
            for p in runs.positions() {
                if let Some(v) = self.agg_input(p)? {
                    acc.add(v)?;
                }
            }
            let v = acc.current()?;
            self.last_runs = Some((runs, v.clone()));
            return Ok(v);
        }
        if let Some((f, v)) = &self.last
            && *f == (lo, hi)
        {
            return Ok(v.clone());
        }
        if self.acc.is_none() || lo != self.acc_lo || hi < self.acc_hi {
            self.acc = Some(Accumulator::new(agg));
            self.acc_lo = lo;
            self.acc_hi = lo;
        }
        while self.acc_hi < hi {
            if let Some(v) = self.agg_input(self.acc_hi)?
                && let Some(acc) = &mut self.acc
            {
                acc.add(v)?;
            }
            self.acc_hi += 1;
        }
        let v = match &self.acc {
            Some(acc) => acc.current()?,
            None => Value::Null,
        };
        self.last = Some(((lo, hi), v.clone()));
        Ok(v)
    }

    /// The frame `[lo, hi)` of the row at `pos`, in peer group `g`, `[gs, ge)`.
    fn frame(
        &mut self,
        part: &Partition<'_>,
        pos: usize,
        here: &[Value],
        (g, gs, ge): (usize, usize, usize),
    ) -> SqlResult<(usize, usize)> {
        let call = self.call;
        let (n, ng) = (part.n, part.ng);
        let off = |v: &Option<Value>| -> usize {
            match v {
                Some(Value::Int(k)) => usize::try_from(*k).unwrap_or(usize::MAX),
                _ => 0,
            }
        };
        let key = here.first().unwrap_or(&Value::Null);
        let lo = match (&call.frame.start, call.frame.units) {
            (FrameBound::UnboundedPreceding, _) => 0,
            (FrameBound::CurrentRow, FrameUnits::Rows) => pos,
            (FrameBound::CurrentRow, _) => gs,
            (FrameBound::Preceding(_), FrameUnits::Rows) => {
                pos.saturating_sub(off(&self.offsets.0))
            }
            (FrameBound::Following(_), FrameUnits::Rows) => {
                pos.saturating_add(off(&self.offsets.0)).min(n)
            }
            (FrameBound::Preceding(_), FrameUnits::Groups) => {
                group_at(
                    &mut self.start_groups,
                    g.saturating_sub(off(&self.offsets.0)),
                )?
                .0
            }
            (FrameBound::Following(_), FrameUnits::Groups) => {
                match g.checked_add(off(&self.offsets.0)).filter(|&x| x < ng) {
                    Some(x) => group_at(&mut self.start_groups, x)?.0,
                    None => n,
                }
            }
            (FrameBound::Preceding(_) | FrameBound::Following(_), FrameUnits::Range) => {
                let preceding = matches!(call.frame.start, FrameBound::Preceding(_));
                let target = part.range_target(key, self.offsets.0.as_ref(), preceding)?;
                point(&mut self.start_keys, &mut self.lo_hint, n, &|x| {
                    part.cmp_target(x, &target) == Ordering::Less
                })?
            }
            (FrameBound::UnboundedFollowing, _) => n,
        };
        let hi = match (&call.frame.end, call.frame.units) {
            (FrameBound::UnboundedFollowing, _) => n,
            (FrameBound::CurrentRow, FrameUnits::Rows) => pos + 1,
            (FrameBound::CurrentRow, _) => ge,
            (FrameBound::Preceding(_), FrameUnits::Rows) => {
                (pos + 1).saturating_sub(off(&self.offsets.1))
            }
            (FrameBound::Following(_), FrameUnits::Rows) => pos
                .saturating_add(off(&self.offsets.1))
                .saturating_add(1)
                .min(n),
            (FrameBound::Preceding(_), FrameUnits::Groups) => {
                match g.checked_sub(off(&self.offsets.1)) {
                    Some(x) => group_at(&mut self.end_groups, x)?.1,
                    None => 0,
                }
            }
            (FrameBound::Following(_), FrameUnits::Groups) => {
                let x = g
                    .saturating_add(off(&self.offsets.1))
                    .min(ng.saturating_sub(1));
                group_at(&mut self.end_groups, x)?.1
            }
            (FrameBound::Preceding(_) | FrameBound::Following(_), FrameUnits::Range) => {
                let preceding = matches!(call.frame.end, FrameBound::Preceding(_));
                let target = part.range_target(key, self.offsets.1.as_ref(), preceding)?;
                point(&mut self.end_keys, &mut self.hi_hint, n, &|x| {
                    part.cmp_target(x, &target) != Ordering::Greater
                })?
            }
            (FrameBound::UnboundedPreceding, _) => 0,
        };
        Ok((lo, hi))
    }
}

/// A value widened to a call's result type (lag's default may be an integer for a numeric).
fn coerce(v: Value, ty: DataType) -> Value {
    match (v, ty) {
        (Value::Int(i), DataType::Float8) => Value::Float(i as f64),
        (Value::Int(i), DataType::Numeric) => Value::Numeric(Numeric::from_i64(i)),
        (Value::Float(f), DataType::Numeric) => Value::Numeric(Numeric::from_f64(f, 15)),
        (Value::Numeric(n), DataType::Float8) => Value::Float(n.to_f64()),
        (v, _) => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Session;
    use crate::test_support::{run, session};

    /// A probe reads any position of a store, in memory or spilled: forward a row at a time,
    /// far ahead, one row back (from its recent rows) and far back (reopened at the index).
    #[test]
    fn probes_read_any_position_of_a_partition_store() {
        for budget in [1 << 20, 512] {
            let mut store = RowStore::new(2, budget);
            for i in 0..2000i64 {
                store
                    .push(vec![Value::Int(i), Value::Text(format!("r{i}"))])
                    .unwrap();
            }
            store.finish_writing().unwrap();
            assert_eq!(store.spilled(), budget == 512);
            assert_eq!(store.disk_bytes() > 0, budget == 512);
            let mut a = Probe::new(&store);
            let mut b = Probe::new(&store);
            let want = |i: usize| vec![Value::Int(i as i64), Value::Text(format!("r{i}"))];
            for pos in [
                0, 1, 2, 1, 3, 300, 299, 300, 1999, 5, 128, 127, 129, 1000, 1998,
            ] {
                assert_eq!(a.row(pos).unwrap(), want(pos).as_slice(), "at {pos}");
                // A second probe keeps its own place.
                assert_eq!(b.row(1999 - pos).unwrap(), want(1999 - pos).as_slice());
            }
            assert!(a.row(2000).is_err());
            // A reader from a position gives the rest in order, and nothing from the end.
            let mut r = store.reader_from(1500).unwrap();
            let mut n = 1500;
            while let Some(row) = r.next_row().unwrap() {
                assert_eq!(row, want(n));
                n += 1;
            }
            assert_eq!(n, 2000);
            assert_eq!(store.reader_from(2000).unwrap().next_row().unwrap(), None);
        }
    }

    /// A frame bound found from its previous place moves forward over the rows between, and
    /// a bound that moved back is found again by bisection.
    #[test]
    fn frame_points_move_forward_from_their_hint() {
        let mut store = RowStore::new(1, 256);
        for i in 0..1000i64 {
            store.push(vec![Value::Int(i / 3)]).unwrap();
        }
        store.finish_writing().unwrap();
        assert!(store.spilled());
        let mut probe = Probe::new(&store);
        let mut hint = 0;
        for target in [0i64, 1, 5, 5, 100, 333, 334] {
            let before = |x: &Value| x.sort_cmp(&Value::Int(target)) == Ordering::Less;
            let p = point(&mut probe, &mut hint, 1000, &before).unwrap();
            assert_eq!(
                p,
                usize::try_from(target * 3).unwrap().min(1000),
                "{target}"
            );
        }
        let before = |x: &Value| x.sort_cmp(&Value::Int(10)) == Ordering::Less;
        assert_eq!(point(&mut probe, &mut hint, 1000, &before).unwrap(), 30);
        assert_eq!(hint, 30);
    }

    /// One partition larger than `work_mem`, and several windows in one query, answer the
    /// same at 64kB and 64MB, and at 64kB they spill to temporary files.
    #[test]
    fn one_large_partition_and_several_windows_answer_the_same_beyond_work_mem() {
        let mut s = session();
        run(
            &mut s,
            "CREATE TABLE w (id int PRIMARY KEY, k int, t text);
             INSERT INTO w SELECT g, CASE WHEN g % 89 = 0 THEN NULL ELSE g % 500 END,
                 'v' || (g % 7) FROM generate_series(1, 6000) g",
        );
        let queries = [
            "SELECT id, sum(k) OVER (ORDER BY id ROWS BETWEEN 3 PRECEDING AND 2 FOLLOWING),
                 avg(k) OVER (ORDER BY k RANGE BETWEEN 5 PRECEDING AND 5 FOLLOWING),
                 count(*) OVER (ORDER BY k GROUPS BETWEEN 2 PRECEDING AND 1 FOLLOWING
                     EXCLUDE TIES)
                 FROM w ORDER BY id",
            "SELECT id, lag(t, 2500) OVER (ORDER BY id), lead(k, 3000, -1) OVER (ORDER BY id),
                 first_value(id) OVER (ORDER BY k ROWS BETWEEN 10 PRECEDING AND 10 FOLLOWING),
                 last_value(id) OVER (ORDER BY k), nth_value(id, 3) OVER (ORDER BY t, id)
                 FROM w ORDER BY id",
            "SELECT id, rank() OVER (ORDER BY k), dense_rank() OVER (ORDER BY k),
                 percent_rank() OVER (ORDER BY k), cume_dist() OVER (ORDER BY t),
                 ntile(7) OVER (ORDER BY id DESC), row_number() OVER (PARTITION BY t ORDER BY k)
                 FROM w ORDER BY id",
            "SELECT k % 10, count(*), sum(sum(id)) OVER (ORDER BY k % 10),
                 rank() OVER (ORDER BY count(*) DESC, k % 10)
                 FROM w GROUP BY k % 10 ORDER BY 1",
        ];
        let answers = |s: &mut Session, work_mem: &str| -> Vec<(Vec<Vec<String>>, bool)> {
            run(s, &format!("SET work_mem = '{work_mem}'"));
            queries
                .iter()
                .map(|q| {
                    let before = crate::spill::files_created_on_this_thread();
                    let rows = run(s, q);
                    (rows, crate::spill::files_created_on_this_thread() > before)
                })
                .collect()
        };
        let large = answers(&mut s, "64MB");
        let small = answers(&mut s, "64kB");
        for ((q, (l, l_spilled)), (m, m_spilled)) in queries.iter().zip(&large).zip(&small) {
            assert!(!l.is_empty(), "{q}");
            assert!(l == m, "{q}: the answers differ beyond work_mem");
            assert!(!l_spilled, "{q} spilled at 64MB");
            if l.len() > 100 {
                assert!(m_spilled, "{q} did not spill at 64kB");
            }
        }
        // Spot checks against what the frames say.
        assert_eq!(large[1].0[0][1], "NULL");
        assert_eq!(large[1].0[2500][1], "v1");
        assert_eq!(large[1].0[5999][2], "-1");
        assert_eq!(large[2].0[0][5], "7");
        assert_eq!(large[2].0[5999][5], "1");
    }

    #[test]
    fn exclusions_leave_up_to_three_runs() {
        // Frame [1, 6) of the row at 3, whose peers are [2, 5).
        let runs = |x| FrameRuns::new(1, 6, x, 3, (2, 5));
        let all = |r: FrameRuns| r.positions().collect::<Vec<_>>();
        assert_eq!(all(runs(FrameExclude::NoOthers)), [1, 2, 3, 4, 5]);
        assert_eq!(all(runs(FrameExclude::CurrentRow)), [1, 2, 4, 5]);
        assert_eq!(all(runs(FrameExclude::Group)), [1, 5]);
        assert_eq!(all(runs(FrameExclude::Ties)), [1, 3, 5]);
        let ties = runs(FrameExclude::Ties);
        assert_eq!((ties.first(), ties.last()), (Some(1), Some(5)));
        assert_eq!(
            (ties.nth(1), ties.nth(2), ties.nth(3)),
            (Some(3), Some(5), None)
        );
        // A frame inside the excluded peers is empty, or just the row itself.
        let inner = |x| FrameRuns::new(3, 4, x, 3, (2, 5));
        assert_eq!(inner(FrameExclude::Group).first(), None);
        assert_eq!(all(inner(FrameExclude::Ties)), [3]);
    }
}
