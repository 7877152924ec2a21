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
//! (never back) as the current row does; an aggregate keeps one [`Accumulator`] per partition
//! and only adds the rows that enter the frame while its start stays put (UNBOUNDED PRECEDING:
//! a running aggregate, linear in the partition), and restarts at the new start when the start
//! moves (a sliding frame costs the frame's size per row). Rows with the same frame share the
//! result. A frame's EXCLUDE (CURRENT ROW, GROUP, TIES) punches a hole around the current
//! row: the frame becomes up to three runs of positions ([`FrameRuns`]), and an aggregate over
//! such a frame starts afresh for each row (rows whose runs are the same share it).
//!
//! Every partition is materialised, with the keys and one value per row and call. The input
//! is held in memory while it fits in `work_mem`; beyond, when every call shares one window,
//! the executor sorts the input by that window's keys within `work_mem` (spilling sorted runs,
//! see [`crate::spill::Sorter`]) and hands [`compute`] one partition at a time, so only the
//! largest partition has to fit in memory (a single partition is not bounded). Calls over
//! several different windows need the whole input at once: it stays in memory.

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

/// Computes every window call for `inputs` (one evaluation context per input row): the result
/// holds, per input row, one value per call.
pub fn compute(
    plan: &WindowPlan,
    inputs: &[EvalContext<'_>],
    session: &crate::expr::SessionInfo,
) -> SqlResult<Vec<Vec<Value>>> {
    let n = inputs.len();
    let mut out = vec![vec![Value::Null; plan.calls.len()]; n];
    for (d, def) in plan.defs.iter().enumerate() {
        let calls: Vec<usize> = (0..plan.calls.len())
            .filter(|&c| plan.calls[c].def == d)
            .collect();
        if calls.is_empty() {
            continue;
        }
        let mut keys = Vec::with_capacity(n);
        for cx in inputs {
            keys.push(row_keys(def, cx)?);
        }
        let mut sorted: Vec<usize> = (0..n).collect();
        sorted.sort_by(|&a, &b| cmp_keys(&keys[a], &keys[b], def));
        let np = def.partition.len();
        let mut start = 0;
        while start < n {
            session.cancel.check()?;
            let mut end = start + 1;
            while end < n
                && cmp_keys(&keys[sorted[start]][..np], &keys[sorted[end]][..np], def)
                    == Ordering::Equal
            {
                end += 1;
            }
            let part = Partition::new(&sorted[start..end], &keys, def);
            for &c in &calls {
                part.compute(&plan.calls[c], c, inputs, &mut out)?;
            }
            start = end;
        }
    }
    Ok(out)
}

/// One partition: its input rows in window order and their peer groups.
struct Partition<'p> {
    rows: &'p [usize],
    keys: &'p [Vec<Value>],
    def: &'p WindowDef,
    /// Peer group of each position.
    group_of: Vec<usize>,
    /// `[start, end)` positions of each peer group.
    groups: Vec<(usize, usize)>,
}

impl<'p> Partition<'p> {
    fn new(rows: &'p [usize], keys: &'p [Vec<Value>], def: &'p WindowDef) -> Partition<'p> {
        let np = def.partition.len();
        let mut group_of = Vec::with_capacity(rows.len());
        let mut groups: Vec<(usize, usize)> = Vec::new();
        for (pos, &r) in rows.iter().enumerate() {
            let peer = pos > 0
                && cmp_keys(&keys[rows[pos - 1]][np..], &keys[r][np..], def) == Ordering::Equal;
            if !peer {
                groups.push((pos, pos));
            }
            if let Some(g) = groups.last_mut() {
                g.1 = pos + 1;
            }
            group_of.push(groups.len() - 1);
        }
        Partition {
            rows,
            keys,
            def,
            group_of,
            groups,
        }
    }

    fn compute(
        &self,
        call: &WindowCall,
        slot: usize,
        inputs: &[EvalContext<'_>],
        out: &mut [Vec<Value>],
    ) -> SqlResult<()> {
        let n = self.rows.len();
        let cx = |pos: usize| &inputs[self.rows[pos]];
        match call.func {
            WindowFunc::RowNumber
            | WindowFunc::Rank
            | WindowFunc::DenseRank
            | WindowFunc::PercentRank
            | WindowFunc::CumeDist => {
                for pos in 0..n {
                    let g = self.group_of[pos];
                    let (gs, ge) = self.groups[g];
                    out[self.rows[pos]][slot] = match call.func {
                        WindowFunc::RowNumber => Value::Int(pos as i64 + 1),
                        WindowFunc::Rank => Value::Int(gs as i64 + 1),
                        WindowFunc::DenseRank => Value::Int(g as i64 + 1),
                        WindowFunc::PercentRank if n > 1 => {
                            Value::Float(gs as f64 / (n - 1) as f64)
                        }
                        WindowFunc::PercentRank => Value::Float(0.0),
                        _ => Value::Float(ge as f64 / n as f64),
                    };
                }
            }
            WindowFunc::Ntile => {
                // The bucket count is read once per partition, at its first row.
                let buckets = match call.args[0].eval(cx(0))? {
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
                let mut bucket = 1usize;
                let mut left = per + usize::from(extra > 0);
                for pos in 0..n {
                    out[self.rows[pos]][slot] = match buckets {
                        None => Value::Null,
                        Some(_) => {
                            if left == 0 {
                                bucket += 1;
                                left = per + usize::from(bucket <= extra);
                            }
                            left = left.saturating_sub(1);
                            Value::Int(bucket as i64)
                        }
                    };
                }
            }
            WindowFunc::Lag | WindowFunc::Lead => {
                for pos in 0..n {
                    let here = cx(pos);
                    let offset = match call.args.get(1) {
                        None => Some(1i64),
                        Some(e) => match e.eval(here)? {
                            Value::Null => None,
                            Value::Int(k) => Some(k),
                            other => {
                                return Err(SqlError::DatatypeMismatch(format!(
                                    "offset of {other:?}"
                                )));
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
                                Some(t) if t < n => call.args[0].eval(cx(t))?,
                                _ => match call.args.get(2) {
                                    Some(dflt) => dflt.eval(here)?,
                                    None => Value::Null,
                                },
                            }
                        }
                    };
                    out[self.rows[pos]][slot] = coerce(v, call.ty);
                }
            }
            WindowFunc::FirstValue | WindowFunc::LastValue | WindowFunc::NthValue => {
                let offsets = self.offsets(call, inputs)?;
                for pos in 0..n {
                    let (lo, hi) = self.frame(call, pos, &offsets)?;
                    let runs = self.runs(call, pos, lo, hi);
                    let at = match call.func {
                        WindowFunc::FirstValue => runs.first(),
                        WindowFunc::LastValue => runs.last(),
                        _ => match call.args[1].eval(cx(pos))? {
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
                    out[self.rows[pos]][slot] = match at {
                        Some(p) => call.args[0].eval(cx(p))?,
                        None => Value::Null,
                    };
                }
            }
            WindowFunc::Aggregate => {
                let Some(agg) = &call.agg else {
                    return Err(SqlError::Internal("window aggregate without a call".into()));
                };
                // The aggregate's input per row, evaluated once.
                let mut values = Vec::with_capacity(n);
                for pos in 0..n {
                    let here = cx(pos);
                    let pass = match &agg.filter {
                        Some(f) => f.eval(here)? == Value::Bool(true),
                        None => true,
                    };
                    values.push(if !pass {
                        None
                    } else {
                        Some(match &agg.arg {
                            Some(a) => a.eval(here)?,
                            None => Value::Bool(true),
                        })
                    });
                }
                let offsets = self.offsets(call, inputs)?;
                let mut acc = Accumulator::new(agg);
                let (mut acc_lo, mut acc_hi) = (0usize, 0usize);
                let mut last: Option<((usize, usize), Value)> = None;
                let mut last_runs: Option<(FrameRuns, Value)> = None;
                for pos in 0..n {
                    let (lo, hi) = self.frame(call, pos, &offsets)?;
                    let hi = hi.max(lo);
                    if call.frame.exclude != FrameExclude::NoOthers {
                        // With an exclusion the frame has holes that move with the row: each
                        // row's aggregate starts afresh (rows with the same runs share it).
                        let runs = self.runs(call, pos, lo, hi);
                        if let Some((f, v)) = &last_runs
                            && *f == runs
                        {
                            out[self.rows[pos]][slot] = v.clone();
                            continue;
                        }
                        let mut acc = Accumulator::new(agg);
                        for p in runs.positions() {
                            if let Some(v) = &values[p] {
                                acc.add(v.clone())?;
                            }
                        }
                        let v = acc.current()?;
                        out[self.rows[pos]][slot] = v.clone();
                        last_runs = Some((runs, v));
                        continue;
                    }
                    if let Some((f, v)) = &last
                        && *f == (lo, hi)
                    {
                        out[self.rows[pos]][slot] = v.clone();
                        continue;
                    }
                    if lo != acc_lo || hi < acc_hi {
                        acc = Accumulator::new(agg);
                        acc_lo = lo;
                        acc_hi = lo;
                    }
                    while acc_hi < hi {
                        if let Some(v) = &values[acc_hi] {
                            acc.add(v.clone())?;
                        }
                        acc_hi += 1;
                    }
                    let v = acc.current()?;
                    out[self.rows[pos]][slot] = v.clone();
                    last = Some(((lo, hi), v));
                }
            }
        }
        Ok(())
    }

    /// The frame offsets of a call, evaluated once (they are constants): (start, end).
    fn offsets(
        &self,
        call: &WindowCall,
        inputs: &[EvalContext<'_>],
    ) -> SqlResult<(Option<Value>, Option<Value>)> {
        let cx = &inputs[self.rows[0]];
        let eval = |b: &FrameBound, which: &str| -> SqlResult<Option<Value>> {
            let (FrameBound::Preceding(e) | FrameBound::Following(e)) = b else {
                return Ok(None);
            };
            let v = e.eval(cx)?;
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
                (Value::Text(t), FrameUnits::Range) => match self.order_value_type() {
                    Some(DataType::Float8) => crate::types::parse_text(&t, DataType::Float8)?,
                    Some(DataType::Numeric) => crate::types::parse_text(&t, DataType::Numeric)?,
                    _ => crate::types::parse_text(&t, DataType::Int8)?,
                },
                (Value::Text(t), _) => crate::types::parse_text(&t, DataType::Int8)?,
                (v, _) => v,
            }))
        };
        Ok((
            eval(&call.frame.start, "starting")?,
            eval(&call.frame.end, "ending")?,
        ))
    }

    /// The positions of the frame `[lo, hi)` of the row at `pos` that its EXCLUDE leaves.
    fn runs(&self, call: &WindowCall, pos: usize, lo: usize, hi: usize) -> FrameRuns {
        FrameRuns::new(
            lo,
            hi,
            call.frame.exclude,
            pos,
            self.groups[self.group_of[pos]],
        )
    }

    /// The runtime type of the ORDER BY key, from the first non-NULL value.
    fn order_value_type(&self) -> Option<DataType> {
        let np = self.def.partition.len();
        self.rows.iter().find_map(|&r| match self.keys[r].get(np)? {
            Value::Float(_) => Some(DataType::Float8),
            Value::Numeric(_) => Some(DataType::Numeric),
            Value::Int(_) => Some(DataType::Int8),
            _ => None,
        })
    }

    /// The frame `[lo, hi)` of the row at `pos`.
    fn frame(
        &self,
        call: &WindowCall,
        pos: usize,
        offsets: &(Option<Value>, Option<Value>),
    ) -> SqlResult<(usize, usize)> {
        let n = self.rows.len();
        let off = |v: &Option<Value>| -> usize {
            match v {
                Some(Value::Int(k)) => usize::try_from(*k).unwrap_or(usize::MAX),
                _ => 0,
            }
        };
        let g = self.group_of[pos];
        let ng = self.groups.len();
        let lo = match (&call.frame.start, call.frame.units) {
            (FrameBound::UnboundedPreceding, _) => 0,
            (FrameBound::CurrentRow, FrameUnits::Rows) => pos,
            (FrameBound::CurrentRow, _) => self.groups[g].0,
            (FrameBound::Preceding(_), FrameUnits::Rows) => pos.saturating_sub(off(&offsets.0)),
            (FrameBound::Following(_), FrameUnits::Rows) => {
                pos.saturating_add(off(&offsets.0)).min(n)
            }
            (FrameBound::Preceding(_), FrameUnits::Groups) => {
                self.groups[g.saturating_sub(off(&offsets.0))].0
            }
            (FrameBound::Following(_), FrameUnits::Groups) => {
                match g.checked_add(off(&offsets.0)).filter(|&x| x < ng) {
                    Some(x) => self.groups[x].0,
                    None => n,
                }
            }
            (FrameBound::Preceding(_) | FrameBound::Following(_), FrameUnits::Range) => {
                let preceding = matches!(call.frame.start, FrameBound::Preceding(_));
                let target = self.range_target(pos, offsets.0.as_ref(), preceding)?;
                self.partition_point(|x| self.cmp_target(x, &target) == Ordering::Less)
            }
            (FrameBound::UnboundedFollowing, _) => n,
        };
        let hi = match (&call.frame.end, call.frame.units) {
            (FrameBound::UnboundedFollowing, _) => n,
            (FrameBound::CurrentRow, FrameUnits::Rows) => pos + 1,
            (FrameBound::CurrentRow, _) => self.groups[g].1,
            (FrameBound::Preceding(_), FrameUnits::Rows) => {
                (pos + 1).saturating_sub(off(&offsets.1))
            }
            (FrameBound::Following(_), FrameUnits::Rows) => {
                pos.saturating_add(off(&offsets.1)).saturating_add(1).min(n)
            }
            (FrameBound::Preceding(_), FrameUnits::Groups) => {
                match g.checked_sub(off(&offsets.1)) {
                    Some(x) => self.groups[x].1,
                    None => 0,
                }
            }
            (FrameBound::Following(_), FrameUnits::Groups) => {
                self.groups[g.saturating_add(off(&offsets.1)).min(ng - 1)].1
            }
            (FrameBound::Preceding(_) | FrameBound::Following(_), FrameUnits::Range) => {
                let preceding = matches!(call.frame.end, FrameBound::Preceding(_));
                let target = self.range_target(pos, offsets.1.as_ref(), preceding)?;
                self.partition_point(|x| self.cmp_target(x, &target) != Ordering::Greater)
            }
            (FrameBound::UnboundedPreceding, _) => 0,
        };
        Ok((lo, hi))
    }

    /// The first position at which `before` turns false (it holds for a prefix).
    fn partition_point(&self, before: impl Fn(&Value) -> bool) -> usize {
        let np = self.def.partition.len();
        let (mut lo, mut hi) = (0, self.rows.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if before(&self.keys[self.rows[mid]][np]) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// A key compared with a RANGE bound, in the window's sort order.
    fn cmp_target(&self, x: &Value, target: &Value) -> Ordering {
        let o = &self.def.order[0];
        order_cmp(x, target, o.desc, o.nulls_first)
    }

    /// The ORDER BY value a RANGE offset bound sits at: the current row's value moved by the
    /// offset towards the preceding (or following) rows. A NULL current value stays NULL: its
    /// frame is its NULL peers.
    fn range_target(
        &self,
        pos: usize,
        offset: Option<&Value>,
        preceding: bool,
    ) -> SqlResult<Value> {
        let np = self.def.partition.len();
        let v = &self.keys[self.rows[pos]][np];
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
