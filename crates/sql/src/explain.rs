//! EXPLAIN: the plan Borealis executes, printed as a tree of nodes in PostgreSQL's text layout.
//!
//! ```text
//!  QueryPlan ──walk──▶ Node tree ──render──▶ lines of the one `QUERY PLAN` column
//!                        ▲
//!  Executor (ANALYZE) ───┘ counters per plan node: loops, rows, time
//! ```
//!
//! The walk follows what [`Executor::run`](super::Executor::run) does, in PostgreSQL's
//! vocabulary, so that every node names work Borealis really does:
//!
//! - a relation read in full is a `Seq Scan`; one read through its primary key or an index is an
//!   `Index Scan using <key> on t` with the pinned columns as `Index Cond` and the rest of the
//!   relation's filter as `Filter` (every row is checked against the whole filter again, so the
//!   split is only how the work is shown); a read that decodes its rows from the key alone is
//!   an `Index Only Scan` (under ANALYZE with `Heap Fetches: 0`: entries are versioned with
//!   their rows, none is ever checked against the table); either is `… Scan Backward` when it
//!   reads the key from its high end down for a descending ORDER BY;
//! - a join step that hashes the relation is a `Hash Join` over a `Hash` of the relation's scan;
//!   one run as a merge join is a `Merge Join` with its `Merge Cond` and a `Sort` above each side
//!   that does not arrive in key order; one that probes the relation's key per partial row (an
//!   index nested-loop join) is a
//!   `Nested Loop` over an `Index Scan` whose `Index Cond` names the outer columns; a step
//!   without equi-join keys (a cross product, or a LATERAL subquery run per row) is a
//!   `Nested Loop`. A pulled-up `EXISTS` / `IN` step is a `Hash Semi Join` or `Nested Loop Semi
//!   Join`, a pulled-up `NOT EXISTS` one an `… Anti Join`. Whether a step probes is decided at
//!   run time by the number of partial rows
//!   (see [`INDEX_JOIN_OUTER_ROWS_MAX`]): plain EXPLAIN
//!   predicts it from the estimate, EXPLAIN ANALYZE prints what ran;
//! - grouping hashes (`HashAggregate`), an aggregate without GROUP BY is `Aggregate`, DISTINCT
//!   hashes too (`HashAggregate`), ORDER BY is a `Sort` (none when the rows are read or merged
//!   in ORDER BY order), DISTINCT ON a `Unique` over a `Sort` on the ORDER BY keys and then
//!   its own expressions (there even without ORDER BY), LIMIT/OFFSET a `Limit`; window
//!   functions are one `WindowAgg`, over a `Sort` on the window's keys when every call shares
//!   one window (as PostgreSQL shows it; calls over several windows are one `WindowAgg` with no
//!   `Sort`, where PostgreSQL stacks one pair per window); UNION ALL is an `Append`, UNION a
//!   `HashAggregate` over
//!   one, INTERSECT/EXCEPT a `HashSetOp`; a derived table or a CTE (bound in place at each
//!   reference, never materialised once) is a `Subquery Scan`; `WITH RECURSIVE` is a
//!   `Recursive Union` whose step reads a `WorkTable Scan`.
//!
//! A data-modifying statement ([`Dml`]) is its own node over the one that gives its rows:
//! `Insert on t` over a `Values Scan` (a `Result` for one row) or the SELECT's plan, `Update on
//! t` / `Delete on t` over the scan of the target with the access path the statement uses,
//! under a `Nested Loop` when `UPDATE … FROM` / `DELETE … USING` runs the other relations per
//! target row (the strategy Borealis runs, even where PostgreSQL would hash or start from the
//! other side). Without RETURNING the node gives no rows (`rows=0`, as PostgreSQL prints).
//!
//! Costs are Borealis's own estimates, not PostgreSQL's: a page holds [`ROWS_PER_PAGE`] rows,
//! reading a page costs 1 and handling a row 0.01. For a table with statistics (ANALYZE), row
//! counts and selectivities come from them through [`crate::cost`] (`reltuples` corrected by
//! the rows written since, most common values, histograms, distinct counts; GROUP BY of columns
//! counts their distinct values), so `rows=` is of the order PostgreSQL prints for the same data.
//! Without, a table's row count is its live-row counter (what `pg_stat_user_tables.n_live_tup`
//! shows) and an equality keeps 0.5 % of the rows, an inequality a third, as PostgreSQL's
//! defaults without statistics do. They rank plans roughly; they are not calibrated against
//! time.
//!
//! With ANALYZE, the nodes that keep within `work_mem` print what they used, in PostgreSQL's
//! words: a `HashAggregate` (GROUP BY or DISTINCT) `Batches: N  Memory Usage: NkB` (and `Disk
//! Usage: NkB` once it spilled), a `Sort` `Sort Method: quicksort | top-N heapsort  Memory: NkB`
//! or `Sort Method: external merge  Disk: NkB`, a hash join's `Hash` `Buckets: N  Batches: N
//! Memory Usage: NkB` (`Buckets: N (originally N)  Batches: N (originally 1)` once it
//! partitioned). Kilobytes are rounded up, as PostgreSQL rounds them.
//!
//! EXPLAIN ANALYZE runs the statement with an instrumented executor: each node's counters are
//! keyed by the address of its plan part (stable for the statement) and a [`Part`]. Every row
//! set is materialised, so a node's first row is ready only when all of its rows are: its
//! startup and total times are the same number, the inclusive time of one loop. Without ANALYZE
//! the executor carries no instrument and reads no clock. A DML statement runs its parts on
//! several executors (the rows' source, the target scan, each row's checks): the session lends
//! one instrument to each that computes or finds rows, and counts the statement's own node.

use super::{
    Access, AggPlan, Body, FromPlan, INDEX_JOIN_OUTER_ROWS_MAX, JoinKind, JoinStep, KeyRange,
    QueryPlan, Relation, SelectPlan, SetOp, SortKey, SortSpec, Source,
};
use crate::catalog::TableDef;
use crate::cost::TableInfo;
use crate::error::{SqlError, SqlResult};
use crate::expr::{AggCall, AggFunc, BinOp, Expr};
use crate::types::{DataType, Value};
use borealis_engine::Engine;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Instant;

/// Rows assumed per page when costing a read.
pub const ROWS_PER_PAGE: f64 = 100.0;
/// Cost of reading one page.
const PAGE_COST: f64 = 1.0;
/// Cost of handling one row.
const ROW_COST: f64 = 0.01;
/// Cost of evaluating one condition on a row.
const QUAL_COST: f64 = 0.0025;
/// Rows a set-returning function is assumed to give when its arguments are not constants.
const FUNCTION_ROWS: f64 = 1000.0;
/// Groups assumed for a GROUP BY without statistics.
const GROUPS_DEFAULT: f64 = 200.0;
/// Deepest plan printed: the walk recurses through subqueries, which binding already bounds.
const DEPTH_MAX: usize = 64;

/// Which part of a plan structure a counter belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// A query's body (before ORDER BY).
    Body,
    Sort,
    /// DISTINCT ON after the sort.
    Unique,
    /// The query's final rows (after OFFSET/LIMIT).
    Limit,
    /// A relation's rows read (per loop: per probe of an index nested-loop join).
    Scan,
    /// A join step run as a hash join or a nested loop.
    Join,
    /// A join step run as an index nested-loop join.
    IndexJoin,
    /// A FROM clause's rows after every join and the residual filter.
    From,
    Aggregate,
    Window,
    Distinct,
}

/// One node's counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counters {
    pub loops: u64,
    pub rows: u64,
    pub time_ns: u64,
}

/// EXPLAIN ANALYZE's counters, one set per plan part.
#[derive(Debug)]
pub struct Instrument {
    /// Whether nodes are timed (`TIMING OFF` counts rows only).
    pub timing: bool,
    nodes: RefCell<HashMap<(usize, Part), Counters>>,
    /// What the nodes that hold rows within `work_mem` used (hash aggregates, DISTINCT, sorts,
    /// hash joins' tables), per plan part.
    memory: RefCell<HashMap<(usize, Part), MemoryUse>>,
}

/// What a node that holds rows within `work_mem` used, over all its loops.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryUse {
    /// Batches: 1 in memory; a spilling hash node's in-memory passes.
    pub batches: usize,
    /// The most bytes its rows took in memory at once.
    pub peak_bytes: usize,
    /// Bytes written to temporary files.
    pub disk_bytes: u64,
    /// A hash join's most build rows in one batch.
    pub rows_peak: usize,
    /// How a sort ran.
    pub sort: Option<crate::spill::SortMethod>,
}

impl MemoryUse {
    /// A sorting node's use: how it sorted, its most bytes in memory and its bytes on disk.
    #[must_use]
    pub fn of_sort(
        method: crate::spill::SortMethod,
        peak_bytes: usize,
        disk_bytes: u64,
    ) -> MemoryUse {
        MemoryUse {
            sort: Some(method),
            peak_bytes,
            disk_bytes,
            ..MemoryUse::default()
        }
    }
}

impl Instrument {
    #[must_use]
    pub fn new(timing: bool) -> Instrument {
        Instrument {
            timing,
            nodes: RefCell::new(HashMap::new()),
            memory: RefCell::new(HashMap::new()),
        }
    }

    /// Counts one loop of `node`'s `part` that produced `rows` rows.
    pub fn record<T>(&self, node: &T, part: Part, started: Option<Instant>, rows: usize) {
        let mut nodes = self.nodes.borrow_mut();
        let c = nodes.entry((key(node), part)).or_default();
        c.loops += 1;
        c.rows += rows as u64;
        if let Some(s) = started {
            c.time_ns += u64::try_from(s.elapsed().as_nanos()).unwrap_or(u64::MAX);
        }
    }

    /// Adds one loop of a node that holds rows within `work_mem`: the most batches and memory
    /// of any loop, the disk of all of them, and the method of the last sort.
    pub fn record_memory<T>(&self, node: &T, part: Part, used: MemoryUse) {
        let mut m = self.memory.borrow_mut();
        let e = m.entry((key(node), part)).or_default();
        e.batches = e.batches.max(used.batches);
        e.peak_bytes = e.peak_bytes.max(used.peak_bytes);
        e.disk_bytes += used.disk_bytes;
        e.rows_peak = e.rows_peak.max(used.rows_peak);
        e.sort = used.sort.or(e.sort);
    }

    fn memory<T>(&self, node: &T, part: Part) -> Option<MemoryUse> {
        self.memory.borrow().get(&(key(node), part)).copied()
    }

    fn get<T>(&self, node: &T, part: Part) -> Option<Counters> {
        self.nodes.borrow().get(&(key(node), part)).copied()
    }
}

fn key<T>(node: &T) -> usize {
    std::ptr::from_ref(node) as usize
}

/// The output format asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
}

/// EXPLAIN's options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    pub analyze: bool,
    pub verbose: bool,
    pub costs: bool,
    pub timing: bool,
    pub summary: bool,
    pub format: Format,
}

impl Options {
    /// Reads the options of an `EXPLAIN` statement as PostgreSQL does: `EXPLAIN ANALYZE
    /// VERBOSE` or a parenthesised list whose Boolean options take an optional value.
    pub fn parse(
        analyze: bool,
        verbose: bool,
        format: Option<&sqlparser::ast::AnalyzeFormatKind>,
        options: Option<&[sqlparser::ast::UtilityOption]>,
    ) -> SqlResult<Options> {
        let mut o = Options {
            analyze,
            verbose,
            costs: true,
            timing: true,
            summary: analyze,
            format: Format::Text,
        };
        let mut timing_set = false;
        let mut summary_set = false;
        if let Some(f) = format {
            o.format = parse_format(&f.to_string())?;
        }
        for opt in options.unwrap_or(&[]) {
            let name = opt.name.value.to_lowercase();
            let arg = opt.arg.as_ref().map(|a| {
                let s = a.to_string();
                s.trim_matches('\'').to_string()
            });
            let flag = || -> SqlResult<bool> {
                match arg.as_deref() {
                    None => Ok(true),
                    Some(v) => crate::session::settings_bool(v).ok_or_else(|| {
                        SqlError::Syntax(format!("{name} requires a Boolean value"))
                    }),
                }
            };
            match name.as_str() {
                "analyze" => o.analyze = flag()?,
                "verbose" => o.verbose = flag()?,
                "costs" => o.costs = flag()?,
                "timing" => {
                    o.timing = flag()?;
                    timing_set = true;
                }
                "summary" => {
                    o.summary = flag()?;
                    summary_set = true;
                }
                // Accepted and ignored: Borealis counts neither buffers nor WAL per statement,
                // and prints no changed settings.
                "buffers" | "wal" | "settings" => {
                    flag()?;
                }
                "format" => o.format = parse_format(arg.as_deref().unwrap_or(""))?,
                _ => {
                    return Err(SqlError::Syntax(format!(
                        "unrecognized EXPLAIN option \"{name}\""
                    )));
                }
            }
        }
        if !summary_set {
            o.summary = o.analyze;
        }
        if timing_set && o.timing && !o.analyze {
            return Err(SqlError::InvalidParameterValue(
                "EXPLAIN option TIMING requires ANALYZE".into(),
            ));
        }
        if !o.analyze {
            o.timing = false;
        }
        Ok(o)
    }
}

fn parse_format(v: &str) -> SqlResult<Format> {
    match v.to_lowercase().as_str() {
        "text" => Ok(Format::Text),
        f @ ("json" | "yaml" | "xml") => Err(SqlError::FeatureNotSupported(format!(
            "EXPLAIN (FORMAT {}): only FORMAT TEXT is supported",
            f.to_uppercase()
        ))),
        other => Err(SqlError::InvalidParameterValue(format!(
            "unrecognized value for EXPLAIN option \"format\": \"{other}\""
        ))),
    }
}

/// One node of the printed plan.
#[derive(Debug, Default)]
pub struct Node {
    pub name: String,
    /// Lines under the node's name (`Filter: …`).
    pub details: Vec<String>,
    pub children: Vec<Node>,
    /// Subqueries in the node's expressions: (`SubPlan 1`, its plan).
    pub subplans: Vec<(String, Node)>,
    pub startup_cost: f64,
    pub total_cost: f64,
    pub rows: f64,
    pub width: u32,
    /// What ran, under ANALYZE; `None` for a node that never ran.
    pub actual: Option<Counters>,
}

/// What a walk needs besides the plan.
pub struct Walk<'a> {
    pub engine: &'a Engine,
    pub options: Options,
    pub instrument: Option<&'a Instrument>,
    /// Whether column names are qualified (more than one relation in the statement, or VERBOSE).
    prefix: bool,
    /// Whether `Output:` lists qualify column names (more than one relation).
    output_prefix: bool,
    subplans: RefCell<usize>,
    /// The InitPlan number before the first of each subquery's min/max reads, by the address
    /// of the subquery's plan.
    minmax_base: RefCell<HashMap<usize, usize>>,
    /// The number given to each subquery printed so far, by the address of its plan.
    numbered: RefCell<HashMap<usize, usize>>,
    depth: RefCell<usize>,
    /// The row an UPDATE … FROM / DELETE … USING join runs its other relations for: how
    /// their references to it print.
    outer: Vec<(String, String)>,
    /// The session's parallel settings, when aggregates are shown as they would run in
    /// parallel (see [`crate::query::parallel_aggregate`]); `None` under ANALYZE, whose
    /// counting runs them serially.
    parallel: Option<(usize, bool)>,
}

impl<'a> Walk<'a> {
    #[must_use]
    pub fn new(
        engine: &'a Engine,
        options: Options,
        instrument: Option<&'a Instrument>,
        plan: &QueryPlan,
    ) -> Walk<'a> {
        let many = relation_count(plan) > 1;
        Walk {
            engine,
            options,
            instrument,
            prefix: options.verbose || many,
            output_prefix: many,
            subplans: RefCell::new(0),
            minmax_base: RefCell::new(HashMap::new()),
            numbered: RefCell::new(HashMap::new()),
            depth: RefCell::new(0),
            outer: Vec::new(),
            parallel: None,
        }
    }

    /// Shows aggregates that would run in parallel under `settings` as they would run.
    #[must_use]
    pub fn with_parallel(mut self, settings: Option<(usize, bool)>) -> Walk<'a> {
        self.parallel = settings;
        self
    }

    /// A walk over a plan that is not a query (the source of a DML statement).
    #[must_use]
    pub fn with_prefix(mut self, prefix: bool) -> Walk<'a> {
        self.prefix = prefix || self.options.verbose;
        self.output_prefix = prefix;
        self
    }

    fn counters<T>(&self, node: &T, part: Part) -> Option<Counters> {
        self.instrument.and_then(|i| i.get(node, part))
    }

    /// The node tree of a query.
    pub fn query(&self, plan: &QueryPlan) -> SqlResult<Node> {
        {
            let mut d = self.depth.borrow_mut();
            *d += 1;
            if *d > DEPTH_MAX {
                return Err(SqlError::ProgramLimitExceeded(
                    "a plan nested too deep to explain".into(),
                ));
            }
        }
        let r = self.query_inner(plan);
        *self.depth.borrow_mut() -= 1;
        r
    }

    fn query_inner(&self, plan: &QueryPlan) -> SqlResult<Node> {
        let mut node = match &plan.body {
            Body::Select(s) => self.select(s, plan)?,
            Body::Query(q) => self.query(q)?,
            Body::Values(rows) => {
                let mut n = Node {
                    name: "Values Scan on \"*VALUES*\"".into(),
                    rows: rows.len() as f64,
                    width: width_of(&plan.columns),
                    ..Node::default()
                };
                n.total_cost = n.rows * ROW_COST;
                if self.options.verbose {
                    let cols: Vec<String> = (1..=plan.columns.len())
                        .map(|i| format!("\"*VALUES*\".column{i}"))
                        .collect();
                    n.details.push(format!("Output: {}", cols.join(", ")));
                }
                n.actual = self.counters(plan, Part::Body);
                n
            }
            Body::Set {
                op,
                all,
                left,
                right,
            } => {
                let l = self.query(left)?;
                let r = self.query(right)?;
                let rows = l.rows + r.rows;
                let cost = l.total_cost + r.total_cost;
                let append = Node {
                    name: "Append".into(),
                    startup_cost: 0.0,
                    total_cost: cost,
                    rows,
                    width: width_of(&plan.columns),
                    children: vec![l, r],
                    // Both inputs are read in full, once.
                    actual: self.counters(plan, Part::Body).map(|mut c| {
                        c.rows = self.child_rows(left) + self.child_rows(right);
                        c
                    }),
                    ..Node::default()
                };
                let keys = self.set_keys(plan, left);
                match (op, all) {
                    (SetOp::Union, true) => append,
                    (SetOp::Union, false) => Node {
                        name: "HashAggregate".into(),
                        details: std::iter::once(format!("Group Key: {keys}"))
                            .chain(self.hash_memory(plan, Part::Body))
                            .collect(),
                        startup_cost: cost + rows * ROW_COST,
                        total_cost: cost + rows * ROW_COST * 2.0,
                        rows: (rows * 0.5).max(1.0),
                        width: append.width,
                        actual: self.counters(plan, Part::Body),
                        children: vec![append],
                        ..Node::default()
                    },
                    (op, all) => Node {
                        name: format!(
                            "HashSetOp {}{}",
                            if *op == SetOp::Intersect {
                                "Intersect"
                            } else {
                                "Except"
                            },
                            if *all { " All" } else { "" }
                        ),
                        startup_cost: cost + rows * ROW_COST,
                        total_cost: cost + rows * ROW_COST * 2.0,
                        rows: (rows * 0.5).max(1.0),
                        width: append.width,
                        actual: self.counters(plan, Part::Body),
                        children: vec![append],
                        ..Node::default()
                    },
                }
            }
            Body::Recursive { anchor, step, .. } => {
                let a = self.query(anchor)?;
                let s = self.query(step)?;
                Node {
                    name: "Recursive Union".into(),
                    startup_cost: 0.0,
                    total_cost: a.total_cost + s.total_cost * 10.0,
                    rows: a.rows + s.rows * 10.0,
                    width: width_of(&plan.columns),
                    actual: self.counters(plan, Part::Body),
                    children: vec![a, s],
                    ..Node::default()
                }
            }
        };
        // A read in ORDER BY order needs no sort (see `Planner::choose_scans`).
        let distinct_on = matches!(&plan.body, Body::Select(s) if !s.distinct_on.is_empty());
        if (!plan.order_by.is_empty() && !plan.presorted) || distinct_on {
            let keys = self.sort_keys(plan)?;
            let used = self.instrument.and_then(|i| i.memory(plan, Part::Sort));
            let actual = self.counters(plan, Part::Sort);
            node = sort_node(node, keys, used, actual);
        }
        if let Body::Select(s) = &plan.body
            && !s.distinct_on.is_empty()
        {
            node = Node {
                name: "Unique".into(),
                startup_cost: node.startup_cost,
                total_cost: node.total_cost + node.rows * ROW_COST,
                rows: (node.rows * 0.5).max(1.0),
                width: node.width,
                actual: self.counters(plan, Part::Unique),
                children: vec![node],
                ..Node::default()
            };
        }
        if plan.limit.is_some() || plan.offset.is_some() {
            let limit = plan.limit.as_ref().and_then(constant_rows);
            let offset = plan.offset.as_ref().and_then(constant_rows).unwrap_or(0.0);
            let rows = match limit {
                Some(l) => (node.rows - offset).clamp(0.0, l),
                None => (node.rows - offset).max(0.0),
            };
            let fraction = if node.rows > 0.0 {
                ((rows + offset) / node.rows).min(1.0)
            } else {
                1.0
            };
            node = Node {
                name: "Limit".into(),
                startup_cost: node.startup_cost,
                total_cost: node.startup_cost + (node.total_cost - node.startup_cost) * fraction,
                rows,
                width: node.width,
                actual: self.counters(plan, Part::Limit),
                children: vec![node],
                ..Node::default()
            };
        }
        Ok(node)
    }

    /// A hash aggregate's (or DISTINCT's) `Batches:` line, as PostgreSQL prints it.
    fn hash_memory<T>(&self, node: &T, part: Part) -> Option<String> {
        let used = self.instrument?.memory(node, part)?;
        // PostgreSQL rounds kilobytes up.
        let mut line = format!(
            "Batches: {}  Memory Usage: {}kB",
            used.batches,
            used.peak_bytes.div_ceil(1024)
        );
        if used.disk_bytes > 0 {
            let _ = write!(line, "  Disk Usage: {}kB", used.disk_bytes.div_ceil(1024));
        }
        Some(line)
    }

    /// A hash join's `Buckets:` line on its `Hash` node, as PostgreSQL prints it. Buckets are
    /// PostgreSQL's: a power of two, at least 1024, one per row of the largest batch. A join
    /// starts with one batch and partitions when its table outgrows `work_mem`, so a spilled
    /// one says it began with one, as PostgreSQL does when its batches grow.
    fn hash_table_memory(&self, step: &JoinStep) -> Option<String> {
        let used = self.instrument?.memory(step, Part::Join)?;
        let buckets = used.rows_peak.max(1024).next_power_of_two();
        let batches = used.batches;
        let memory_kb = used.peak_bytes.div_ceil(1024);
        Some(if batches > 1 {
            format!(
                "Buckets: {buckets} (originally {buckets})  Batches: {batches} (originally 1)  Memory Usage: {memory_kb}kB"
            )
        } else {
            format!("Buckets: {buckets}  Batches: {batches}  Memory Usage: {memory_kb}kB")
        })
    }

    /// Rows a query gave over all its runs.
    fn child_rows(&self, plan: &QueryPlan) -> u64 {
        self.counters(plan, Part::Limit).map_or(0, |c| c.rows)
    }

    fn set_keys(&self, plan: &QueryPlan, left: &QueryPlan) -> String {
        // PostgreSQL names the output columns after the first input's.
        let names = self.output_names(left);
        (0..plan.columns.len())
            .map(|i| {
                names
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| plan.columns[i].name.clone())
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// How the output columns of a query print, as PostgreSQL shows them in the node above.
    fn output_names(&self, plan: &QueryPlan) -> Vec<String> {
        match &plan.body {
            Body::Select(s) => {
                let names = self.row_names(&s.from);
                let cx = Names {
                    cols: &names,
                    prefix: self.prefix,
                    agg: s.aggregate.as_ref(),
                    walk: self,
                    subplans: RefCell::new(Vec::new()),
                };
                s.projections.iter().map(|p| cx.expr(p)).collect()
            }
            Body::Query(q) => self.output_names(q),
            Body::Set { left, .. } => self.output_names(left),
            Body::Values(_) | Body::Recursive { .. } => (1..=plan.columns.len())
                .map(|i| format!("\"*VALUES*\".column{i}"))
                .collect(),
        }
    }

    fn sort_keys(&self, plan: &QueryPlan) -> SqlResult<String> {
        let (names, select) = match &plan.body {
            Body::Select(s) => (self.row_names(&s.from), Some(&**s)),
            _ => (Vec::new(), None),
        };
        let outputs = self.output_names(plan);
        let cx = Names {
            cols: &names,
            prefix: self.prefix,
            agg: select.and_then(|s| s.aggregate.as_ref()),
            walk: self,
            subplans: RefCell::new(Vec::new()),
        };
        let mut keys = Vec::new();
        let mut texts = Vec::new();
        for s in &plan.order_by {
            let (text, simple) = match (&s.key, select) {
                (SortKey::Output(i), Some(sel)) => match sel.projections.get(*i) {
                    Some(e) => (cx.expr(e), is_simple(e, sel.aggregate.as_ref())),
                    None => (String::from("?"), true),
                },
                (SortKey::Output(i), None) => (outputs.get(*i).cloned().unwrap_or_default(), true),
                (SortKey::Expr(e), _) => (cx.expr(e), is_simple(e, cx.agg)),
            };
            let text = if simple { text } else { format!("({text})") };
            texts.push(text.clone());
            keys.push(sort_key_text(text, s));
        }
        // DISTINCT ON sorts on its values not already sorted on, after the ORDER BY keys.
        if let Some(sel) = select {
            for e in &sel.distinct_on {
                let text = cx.expr(e);
                let text = if is_simple(e, cx.agg) {
                    text
                } else {
                    format!("({text})")
                };
                if !texts.contains(&text) {
                    texts.push(text.clone());
                    keys.push(text);
                }
            }
        }
        Ok(keys.join(", "))
    }

    /// Column names of a FROM clause's full-width row: (qualifier, name).
    fn row_names(&self, from: &FromPlan) -> Vec<(String, String)> {
        let mut names = vec![(String::new(), String::from("?")); from.width];
        for rel in &from.relations {
            for (i, c) in rel.column_names.iter().enumerate() {
                if let Some(slot) = names.get_mut(rel.offset + i) {
                    *slot = (rel.label.clone(), c.clone());
                }
            }
        }
        names
    }

    fn select(&self, s: &SelectPlan, plan: &QueryPlan) -> SqlResult<Node> {
        let names = self.row_names(&s.from);
        let mut node = self.from(&s.from, &names)?;
        let cx = Names {
            cols: &names,
            prefix: self.prefix,
            agg: s.aggregate.as_ref(),
            walk: self,
            subplans: RefCell::new(Vec::new()),
        };
        if !s.minmax.is_empty() {
            node = self.minmax(s, plan)?;
        } else if let Some(agg) = &s.aggregate {
            let groups = if agg.group_by.is_empty() {
                1.0
            } else if let Some(d) = self.group_distinct(&s.from, &agg.group_by) {
                // Columns with statistics: their distinct values, at most the input's rows.
                d.clamp(1.0, node.rows.max(1.0))
            } else {
                node.rows.clamp(1.0, GROUPS_DEFAULT)
            };
            let mut details = Vec::new();
            if !agg.group_by.is_empty() {
                let keys: Vec<String> = agg.group_by.iter().map(|g| cx.expr(g)).collect();
                details.push(format!("Group Key: {}", keys.join(", ")));
            }
            if let Some(h) = &agg.having {
                details.push(format!("Filter: {}", cx.top(h)));
            }
            if !agg.group_by.is_empty()
                && let Some(line) = self.hash_memory(s, Part::Aggregate)
            {
                details.push(line);
            }
            let input = node.rows;
            node = Node {
                name: if agg.group_by.is_empty() {
                    "Aggregate".into()
                } else {
                    "HashAggregate".into()
                },
                details,
                startup_cost: node.total_cost + input * ROW_COST * (agg.aggs.len() as f64 + 1.0),
                total_cost: node.total_cost
                    + input * ROW_COST * (agg.aggs.len() as f64 + 1.0)
                    + groups * ROW_COST,
                rows: if agg.having.is_some() {
                    (groups / 3.0).max(1.0)
                } else {
                    groups
                },
                width: width_of(&plan.columns),
                actual: self.counters(s, Part::Aggregate),
                children: vec![node],
                ..Node::default()
            };
            if let Some(settings) = self.parallel
                && let Some((_, _, parts)) =
                    crate::query::parallel_aggregate(self.engine, settings, s, agg)?
            {
                node = parallel_aggregate_nodes(node, parts.len());
            }
        }
        if let [def] = s.windows.defs.as_slice()
            && !(def.partition.is_empty() && def.order.is_empty())
        {
            // One window: its input is sorted on the window's keys first, as PostgreSQL
            // shows it (several windows are computed over the input as it is, in one node).
            let text = |e: &Expr| {
                let t = cx.expr(e);
                if is_simple(e, cx.agg) {
                    t
                } else {
                    format!("({t})")
                }
            };
            let mut keys: Vec<String> = def.partition.iter().map(text).collect();
            keys.extend(def.order.iter().map(|o| {
                sort_key_text(
                    text(&o.expr),
                    &SortSpec {
                        key: SortKey::Output(0),
                        desc: o.desc,
                        nulls_first: o.nulls_first,
                    },
                )
            }));
            let used = self.instrument.and_then(|i| i.memory(s, Part::Window));
            // Every input row is sorted.
            let actual = node.actual;
            node = sort_node(node, keys.join(", "), used, actual);
        }
        if !s.windows.calls.is_empty() {
            node = Node {
                name: "WindowAgg".into(),
                startup_cost: node.total_cost,
                total_cost: node.total_cost
                    + node.rows * ROW_COST * (1.0 + node.rows.max(2.0).log2()),
                rows: node.rows,
                width: width_of(&plan.columns),
                actual: self.counters(s, Part::Window),
                children: vec![node],
                ..Node::default()
            };
        }
        if !s.srfs.is_empty() {
            // Set-returning calls in the select list: each row becomes several.
            node = Node {
                name: "ProjectSet".into(),
                startup_cost: node.startup_cost,
                total_cost: node.total_cost + node.rows * ROW_COST * 10.0,
                rows: node.rows * 10.0,
                width: width_of(&plan.columns),
                children: vec![node],
                ..Node::default()
            };
        }
        if s.distinct {
            let outputs: Vec<String> = s.projections.iter().map(|p| cx.expr(p)).collect();
            let mut details = vec![format!("Group Key: {}", outputs.join(", "))];
            details.extend(self.hash_memory(s, Part::Distinct));
            node = Node {
                name: "HashAggregate".into(),
                details,
                startup_cost: node.total_cost + node.rows * ROW_COST,
                total_cost: node.total_cost + node.rows * ROW_COST * 2.0,
                rows: node.rows.clamp(1.0, GROUPS_DEFAULT),
                width: width_of(&plan.columns),
                actual: self.counters(s, Part::Distinct),
                children: vec![node],
                ..Node::default()
            };
        }
        node.width = width_of(&plan.columns);
        if self.options.verbose {
            let out = Names {
                prefix: self.output_prefix,
                ..cx
            };
            let outputs: Vec<String> = s.projections.iter().map(|p| out.expr(p)).collect();
            set_output(&mut node, outputs);
            node.subplans.extend(self.subplans(out)?);
            return Ok(node);
        }
        node.subplans.extend(self.subplans(cx)?);
        Ok(node)
    }

    /// The node tree of a FROM clause: the first relation's scan, then one join per step.
    fn from(&self, from: &FromPlan, names: &[(String, String)]) -> SqlResult<Node> {
        let cx = Names {
            cols: names,
            prefix: self.prefix,
            agg: None,
            walk: self,
            subplans: RefCell::new(Vec::new()),
        };
        let mut node: Option<Node> = None;
        for step in &from.steps {
            let rel = &from.relations[step.rel];
            let Some(outer) = node.take() else {
                let mut scan = self.scan(rel, None)?;
                if let Some(f) = &step.filter {
                    // Conditions over no relation: checked once per row of the first one.
                    scan = Node {
                        name: "Result".into(),
                        details: vec![format!("One-Time Filter: {}", cx.top(f))],
                        startup_cost: scan.startup_cost,
                        total_cost: scan.total_cost,
                        rows: scan.rows,
                        width: scan.width,
                        actual: self.counters(step, Part::Join),
                        children: vec![scan],
                        ..Node::default()
                    };
                }
                node = Some(scan);
                continue;
            };
            node = Some(self.join(from, step, rel, outer, &cx)?);
        }
        let mut node = match node {
            Some(n) => n,
            None => Node {
                name: "Result".into(),
                rows: 1.0,
                total_cost: ROW_COST,
                actual: self.counters(from, Part::From),
                ..Node::default()
            },
        };
        if let Some(r) = &from.residual {
            node.details.push(format!("Filter: {}", cx.top(r)));
            node.rows = (node.rows * selectivity(r)).max(1.0);
            node.actual = self.counters(from, Part::From);
        }
        node.subplans.extend(self.subplans(cx)?);
        Ok(node)
    }

    fn join(
        &self,
        from: &FromPlan,
        step: &JoinStep,
        rel: &Relation,
        outer: Node,
        cx: &Names<'_>,
    ) -> SqlResult<Node> {
        let kind = match step.kind {
            JoinKind::Inner => "",
            JoinKind::Left => " Left Join",
            JoinKind::Right => " Right Join",
            JoinKind::Full => " Full Join",
            JoinKind::Semi => " Semi Join",
            JoinKind::Anti => " Anti Join",
        };
        let mut join_filter: Vec<&Expr> = Vec::new();
        let mut filter: Vec<&Expr> = Vec::new();
        join_filter.extend(step.on.iter());
        // An inner join's covered conjuncts are part of the join; after an outer join they
        // filter the joined rows.
        if step.kind == JoinKind::Inner {
            join_filter.extend(step.filter.iter());
        } else {
            filter.extend(step.filter.iter());
        }
        let index_join = match (&step.lookup, &rel.source) {
            (Some(_), Source::Table(_)) if !rel.lateral => match self.instrument {
                Some(_) => {
                    let probed = self.counters(step, Part::IndexJoin).map_or(0, |c| c.loops);
                    let hashed = self.counters(step, Part::Join).map_or(0, |c| c.loops);
                    probed > 0 && probed >= hashed
                        || probed == 0 && hashed == 0 && {
                            outer.rows <= INDEX_JOIN_OUTER_ROWS_MAX as f64
                        }
                }
                None => outer.rows <= INDEX_JOIN_OUTER_ROWS_MAX as f64,
            },
            _ => false,
        };
        let mut details = Vec::new();
        let (name, inner, rows, cost, actual);
        if index_join {
            let (Some(lookup), Source::Table(def)) = (&step.lookup, &rel.source) else {
                return Err(SqlError::Internal("index join without a lookup".into()));
            };
            let mut conds = Vec::new();
            let key_cols = lookup.range.columns(def);
            for (slot, &probe) in lookup.probe_of.iter().enumerate() {
                if let (Some(c), Some(p)) = (key_cols.get(slot), step.probe.get(probe)) {
                    conds.push(format!(
                        "({} = {})",
                        self.column(rel, *c, self.options.verbose),
                        cx.operand(p)
                    ));
                }
            }
            // Join keys the probed key does not cover are compared after the read.
            let own = self.own_names(rel);
            for (i, (p, b)) in step.probe.iter().zip(&step.build).enumerate() {
                if !lookup.probe_of.contains(&i) {
                    details.push(format!(
                        "Join Filter: ({} = {})",
                        cx.operand(p),
                        own.names().operand(b)
                    ));
                }
            }
            let mut scan = self.scan(rel, Some((&lookup.range, conds)))?;
            let unique = lookup.range.pinned(def) && lookup.probe_of.len() == key_cols.len();
            scan.rows = if unique { 1.0 } else { (scan.rows).max(1.0) };
            scan.total_cost = self.index_cost(def, scan.rows);
            rows = outer.rows * scan.rows;
            cost = outer.total_cost + outer.rows.max(1.0) * scan.total_cost;
            name = format!("Nested Loop{kind}");
            actual = self.counters(step, Part::IndexJoin);
            inner = scan;
        } else if let Some(mj) = step.merge {
            let own = self.own_names(rel);
            // A key that is not a plain column prints in its own parentheses, as PostgreSQL
            // prints a merge key.
            let key = |names: &Names<'_>, e: &Expr| {
                let text = names.expr(e);
                if is_simple(e, None) {
                    text
                } else {
                    format!("({text})")
                }
            };
            let outer_keys: Vec<String> = step.probe.iter().map(|p| key(cx, p)).collect();
            let inner_keys: Vec<String> = step.build.iter().map(|b| key(&own.names(), b)).collect();
            let conds: Vec<String> = outer_keys
                .iter()
                .zip(&inner_keys)
                .map(|(p, b)| format!("({p} = {b})"))
                .collect();
            details.push(format!(
                "Merge Cond: {}",
                if conds.len() == 1 {
                    conds[0].clone()
                } else {
                    format!("({})", conds.join(" AND "))
                }
            ));
            let scan = self.scan(rel, None)?;
            rows = match self.join_selectivity(from, rel, step) {
                Some(sel) => (outer.rows * scan.rows * sel).max(1.0),
                None => (outer.rows * scan.rows * 0.005).max(1.0),
            };
            // A side that does not arrive in key order is sorted first, as PostgreSQL shows it.
            let sorted = |node: Node, keys: Vec<String>, in_order: bool| {
                if in_order {
                    return node;
                }
                let sort = crate::cost::sort_cost(node.rows);
                Node {
                    name: "Sort".into(),
                    details: vec![format!("Sort Key: {}", keys.join(", "))],
                    startup_cost: node.total_cost + sort,
                    total_cost: node.total_cost + sort + node.rows * ROW_COST,
                    rows: node.rows,
                    width: node.width,
                    actual: node.actual,
                    children: vec![node],
                    ..Node::default()
                }
            };
            let outer = sorted(outer, outer_keys, mj.outer_sorted);
            let sorted_inner = sorted(scan, inner_keys, mj.inner_sorted);
            cost = outer.total_cost
                + sorted_inner.total_cost
                + (outer.rows + sorted_inner.rows) * ROW_COST;
            name = if kind.is_empty() {
                "Merge Join".into()
            } else {
                format!("Merge{kind}")
            };
            actual = self.counters(step, Part::Join);
            return Ok(self.finish_join(
                name,
                details,
                join_filter,
                filter,
                outer,
                sorted_inner,
                rows,
                cost,
                actual,
                cx,
            ));
        } else if !step.build.is_empty() {
            let own = self.own_names(rel);
            let conds: Vec<String> = step
                .probe
                .iter()
                .zip(&step.build)
                .map(|(p, b)| format!("({} = {})", cx.operand(p), own.names().operand(b)))
                .collect();
            details.push(format!(
                "Hash Cond: {}",
                if conds.len() == 1 {
                    conds[0].clone()
                } else {
                    format!("({})", conds.join(" AND "))
                }
            ));
            let scan = self.scan(rel, None)?;
            let unique = match &rel.source {
                Source::Table(def) => super::index_lookup(def, &step.build).is_some_and(|l| {
                    l.range.pinned(def) && l.probe_of.len() == l.range.columns(def).len()
                }),
                _ => false,
            };
            rows = if unique {
                outer.rows
            } else if let Some(sel) = self.join_selectivity(from, rel, step) {
                (outer.rows * scan.rows * sel).max(1.0)
            } else {
                (outer.rows * scan.rows * 0.005).max(1.0)
            };
            cost = outer.total_cost + scan.total_cost + (outer.rows + scan.rows) * ROW_COST;
            // `kind` ends in "Join" for outer joins: "Hash Left Join", as PostgreSQL prints.
            name = if kind.is_empty() {
                "Hash Join".into()
            } else {
                format!("Hash{kind}")
            };
            actual = self.counters(step, Part::Join);
            inner = Node {
                name: "Hash".into(),
                details: self.hash_table_memory(step).into_iter().collect(),
                startup_cost: scan.total_cost,
                total_cost: scan.total_cost,
                rows: scan.rows,
                width: scan.width,
                actual: scan.actual,
                children: vec![scan],
                ..Node::default()
            };
        } else {
            let scan = self.scan(rel, None)?;
            rows = outer.rows * scan.rows;
            cost = outer.total_cost + scan.total_cost + outer.rows * scan.rows * ROW_COST;
            name = format!("Nested Loop{kind}");
            actual = self.counters(step, Part::Join);
            inner = scan;
        }
        // A semi-join passes each outer row at most once, an anti-join the others.
        let rows = match step.kind {
            JoinKind::Semi => rows.min(outer.rows),
            JoinKind::Anti => (outer.rows - rows.min(outer.rows)).max(1.0),
            _ => rows,
        };
        Ok(self.finish_join(
            name,
            details,
            join_filter,
            filter,
            outer,
            inner,
            rows,
            cost,
            actual,
            cx,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_join(
        &self,
        name: String,
        mut details: Vec<String>,
        join_filter: Vec<&Expr>,
        filter: Vec<&Expr>,
        outer: Node,
        inner: Node,
        rows: f64,
        cost: f64,
        actual: Option<Counters>,
        cx: &Names<'_>,
    ) -> Node {
        let mut rows = rows;
        if let Some(f) = and_text(cx, &join_filter) {
            details.push(format!("Join Filter: {f}"));
            rows *= join_filter.iter().map(|e| selectivity(e)).product::<f64>();
        }
        if let Some(f) = and_text(cx, &filter) {
            details.push(format!("Filter: {f}"));
            rows *= filter.iter().map(|e| selectivity(e)).product::<f64>();
        }
        Node {
            name,
            details,
            startup_cost: outer.startup_cost + inner.startup_cost,
            total_cost: cost,
            rows: rows.max(1.0),
            width: outer.width + inner.width,
            actual,
            children: vec![outer, inner],
            ..Node::default()
        }
    }

    /// Names over one relation's own row.
    fn own_names(&self, rel: &Relation) -> OwnedNames<'_> {
        OwnedNames {
            cols: rel
                .column_names
                .iter()
                .map(|c| (rel.label.clone(), c.clone()))
                .collect(),
            prefix: self.prefix,
            walk: self,
        }
    }

    fn column(&self, rel: &Relation, c: usize, prefix: bool) -> String {
        let name = rel.column_names.get(c).cloned().unwrap_or_default();
        if prefix {
            format!("{}.{}", quote_ident(&rel.label), quote_ident(&name))
        } else {
            quote_ident(&name)
        }
    }

    /// Groups a GROUP BY of plain columns makes, from their tables' statistics (the product of
    /// their distinct values, as PostgreSQL's `estimate_num_groups` starts); `None` when a key
    /// is not a column of a table with statistics.
    fn group_distinct(&self, from: &FromPlan, keys: &[Expr]) -> Option<f64> {
        let mut groups = 1.0;
        for k in keys {
            let Expr::Column(c) = k else { return None };
            let rel = from
                .relations
                .iter()
                .find(|r| *c >= r.offset && *c < r.offset + r.width)?;
            let (Source::Table(def), Some(stats)) = (&rel.source, rel.stats.as_deref()) else {
                return None;
            };
            let t = TableInfo {
                def,
                stats: Some(stats),
                rows: crate::cost::table_rows(self.engine, def, Some(stats)),
            };
            let col = c - rel.offset;
            stats.column(def, col)?;
            // NULL is a group of its own.
            let nulls = f64::from(u8::from(
                stats.column(def, col).is_some_and(|cs| cs.null_frac > 0.0),
            ));
            groups *= t.distinct(col) + nulls;
        }
        Some(groups)
    }

    /// The fraction of row pairs a hash join step's keys keep, from the statistics of the
    /// columns they compare; `None` when neither side's table has statistics.
    fn join_selectivity(&self, from: &FromPlan, rel: &Relation, step: &JoinStep) -> Option<f64> {
        fn info<'r>(engine: &Engine, r: &'r Relation) -> Option<TableInfo<'r>> {
            match &r.source {
                Source::Table(def) => Some(TableInfo {
                    def,
                    stats: r.stats.as_deref(),
                    rows: crate::cost::table_rows(engine, def, r.stats.as_deref()),
                }),
                _ => None,
            }
        }
        let column = |e: &Expr| match e {
            Expr::Cast { expr, .. } => match &**expr {
                Expr::Column(c) => Some(*c),
                _ => None,
            },
            Expr::Column(c) => Some(*c),
            _ => None,
        };
        let own = info(self.engine, rel);
        let mut any_stats = rel.stats.is_some();
        let mut sel = 1.0;
        for (p, b) in step.probe.iter().zip(&step.build) {
            let (Some(pc), Some(bc)) = (column(p), column(b)) else {
                sel *= crate::cost::DEFAULT_EQ_SEL;
                continue;
            };
            let Some(other) = from
                .relations
                .iter()
                .find(|r| pc >= r.offset && pc < r.offset + r.width)
            else {
                sel *= crate::cost::DEFAULT_EQ_SEL;
                continue;
            };
            any_stats |= other.stats.is_some();
            let other_info = info(self.engine, other);
            sel *= crate::cost::join_selectivity(
                (other_info.as_ref(), pc - other.offset),
                (own.as_ref(), bc),
            );
        }
        any_stats.then_some(sel)
    }

    fn index_cost(&self, def: &TableDef, rows: f64) -> f64 {
        let height = self.engine.tree_height(def.tree).unwrap_or(3);
        // Descend the key's tree (and, through a secondary index, the table's), then read
        // each row's page.
        f64::from(height) * PAGE_COST * 2.0 + rows * (PAGE_COST + ROW_COST)
    }

    /// The scan of one relation; `probe`: an index nested-loop join's key and conditions.
    fn scan(&self, rel: &Relation, probe: Option<(&KeyRange, Vec<String>)>) -> SqlResult<Node> {
        self.scan_as(rel, probe, None)
    }

    /// The `Result` over one `InitPlan` per call that the min/max rewrite runs
    /// ([`SelectPlan::minmax`]), each a `Limit` over the one-row read of its key, as PostgreSQL
    /// prints its MinMaxAgg plan.
    fn minmax(&self, s: &SelectPlan, plan: &QueryPlan) -> SqlResult<Node> {
        let rel = &s.from.relations[0];
        let mut subplans = Vec::with_capacity(s.minmax.len());
        // A subquery's reads are numbered where the subquery was (see `Names::subplan`).
        let base = self
            .minmax_base
            .borrow()
            .get(&(std::ptr::from_ref(plan) as usize))
            .copied()
            .unwrap_or(0);
        for (i, range) in s.minmax.iter().enumerate() {
            let scan = self.scan_as(rel, None, Some((range, i)))?;
            let limit = Node {
                name: "Limit".into(),
                startup_cost: scan.startup_cost,
                total_cost: scan.startup_cost + (scan.total_cost - scan.startup_cost) / scan.rows,
                rows: 1.0,
                width: scan.width,
                actual: self.counters(range, Part::Scan),
                children: vec![scan],
                ..Node::default()
            };
            let n = base + i;
            subplans.push((format!("InitPlan {} (returns ${n})", n + 1), limit));
        }
        let total: f64 = subplans.iter().map(|(_, n)| n.total_cost).sum();
        Ok(Node {
            name: "Result".into(),
            startup_cost: total,
            total_cost: total + ROW_COST,
            rows: 1.0,
            width: width_of(&plan.columns),
            actual: self.counters(s, Part::Aggregate),
            subplans,
            ..Node::default()
        })
    }

    /// [`scan`](Self::scan), or with `minmax` the `i`-th read of the min/max rewrite through
    /// `range`: PostgreSQL names the relation `t_i` in all but the first, and adds the key
    /// column's `IS NOT NULL` to the `Index Cond`.
    fn scan_as(
        &self,
        rel: &Relation,
        probe: Option<(&KeyRange, Vec<String>)>,
        minmax: Option<(&KeyRange, usize)>,
    ) -> SqlResult<Node> {
        // A scan's own conditions print unqualified (a subquery scan's qualified), as
        // PostgreSQL prints them.
        let mut own = self.own_names(rel);
        own.prefix = self.options.verbose || matches!(rel.source, Source::Derived(_));
        let cx = own.names();
        let label = match minmax {
            Some((_, i)) if i > 0 => {
                let base = match (&rel.source, rel.label.is_empty()) {
                    (Source::Table(def), true) => def.name.clone(),
                    _ => rel.label.clone(),
                };
                format!("{base}_{i}")
            }
            _ => rel.label.clone(),
        };
        let alias = |name: &str| {
            if label == name || label.is_empty() {
                quote_ident(name)
            } else {
                format!("{} {}", quote_ident(name), quote_ident(&rel.label))
            }
        };
        let qualified = |name: &str| {
            if self.options.verbose {
                format!("public.{}", quote_ident(name))
            } else {
                quote_ident(name)
            }
        };
        let mut node = Node {
            width: rel_width(rel),
            actual: self.counters(rel, Part::Scan),
            ..Node::default()
        };
        let conjuncts = conjuncts(rel.filter.as_ref());
        let mut filter: Vec<&Expr> = conjuncts.clone();
        match &rel.source {
            Source::Table(def) => {
                let stats = rel.stats.as_deref();
                let table_rows = crate::cost::table_rows(self.engine, def, stats);
                // With statistics, estimates come from them (crate::cost); without, from the
                // defaults below.
                let info = stats.map(|_| TableInfo {
                    def,
                    stats,
                    rows: table_rows,
                });
                let target = if label == def.name || label.is_empty() {
                    qualified(&def.name)
                } else {
                    format!("{} {}", qualified(&def.name), quote_ident(&label))
                };
                if let Some((range, _)) = minmax {
                    node.actual = self.counters(range, Part::Scan);
                }
                let range = match (&probe, minmax, &rel.access) {
                    (Some((r, _)), _, _) => Some(*r),
                    (None, Some((r, _)), _) => Some(r),
                    (None, None, Access::Range(r)) => Some(r),
                    (None, None, Access::Full) => None,
                };
                match range {
                    None => {
                        node.name = format!("Seq Scan on {target}");
                        node.rows = table_rows
                            * match &info {
                                Some(t) => crate::cost::conjunction_selectivity(&filter, Some(t)),
                                None => selectivity_all(&filter),
                            };
                        node.total_cost = (table_rows / ROWS_PER_PAGE).ceil() * PAGE_COST
                            + table_rows * (ROW_COST + QUAL_COST * filter.len() as f64);
                    }
                    Some(range) => {
                        let key_name = match range.index {
                            None => def.pk_name(),
                            Some(i) => def.indexes[i].name.clone(),
                        };
                        node.name = format!(
                            "{}{} using {} on {target}",
                            if range.index_only {
                                "Index Only Scan"
                            } else {
                                "Index Scan"
                            },
                            if range.backward { " Backward" } else { "" },
                            quote_ident(&key_name)
                        );
                        let conds = match &probe {
                            Some((_, conds)) => conds.clone(),
                            None => {
                                let (mut conds, used) = index_conditions(&cx, def, range);
                                filter.retain(|c| !used.contains(&cx.top(c)));
                                if range.not_null
                                    && let Some(&c) = range.columns(def).get(range.eq.len())
                                {
                                    let col = quote_ident(&def.columns[c].name);
                                    // Conditions print in key column order, the
                                    // column's own after its NULL test.
                                    let at = range.eq.len().min(conds.len());
                                    conds.insert(at, format!("({col} IS NOT NULL)"));
                                }
                                conds
                            }
                        };
                        if !conds.is_empty() {
                            node.details.push(format!(
                                "Index Cond: {}",
                                if conds.len() == 1 {
                                    conds[0].clone()
                                } else {
                                    format!("({})", conds.join(" AND "))
                                }
                            ));
                        }
                        let base = if range.pinned(def)
                            && range.lower.is_none()
                            && range.upper.is_none()
                        {
                            1.0
                        } else if range.lower.is_none() && range.upper.is_none() {
                            (table_rows * 0.005).max(1.0)
                        } else {
                            (table_rows / 3.0).max(1.0)
                        };
                        match &info {
                            Some(t) if base > 1.0 || !range.pinned(def) => {
                                // Rows one read finds: a probe's per outer row, else the range's.
                                let read = match &probe {
                                    Some(_) => {
                                        let cols = range.columns(def);
                                        let per: f64 = cols[..range.eq.len().min(cols.len())]
                                            .iter()
                                            .map(|&c| 1.0 / t.distinct(c))
                                            .product();
                                        (t.rows * per).max(1.0)
                                    }
                                    None => t.rows * crate::cost::key_selectivity(t, range),
                                };
                                node.rows = match &probe {
                                    Some(_) => {
                                        read * crate::cost::conjunction_selectivity(
                                            &filter,
                                            Some(t),
                                        )
                                    }
                                    None => {
                                        t.rows
                                            * crate::cost::conjunction_selectivity(
                                                &conjuncts,
                                                Some(t),
                                            )
                                    }
                                }
                                .max(1.0);
                                let height = self.engine.tree_height(match range.index {
                                    None => def.tree,
                                    Some(i) => def.indexes[i].tree,
                                });
                                node.total_cost = crate::cost::index_cost(
                                    height.ok(),
                                    range.index.is_none() || range.index_only,
                                    read,
                                );
                            }
                            _ if range.index_only => {
                                node.rows = (base * selectivity_all(&filter)).max(1.0);
                                let height = self.engine.tree_height(match range.index {
                                    None => def.tree,
                                    Some(i) => def.indexes[i].tree,
                                });
                                node.total_cost = crate::cost::index_cost(height.ok(), true, base);
                            }
                            _ => {
                                node.rows = (base * selectivity_all(&filter)).max(1.0);
                                node.total_cost = self.index_cost(def, base);
                            }
                        }
                    }
                }
            }
            Source::Derived(plan) => {
                let child = self.query(plan)?;
                node.name = format!("Subquery Scan on {}", quote_ident(&rel.label));
                node.rows = child.rows * selectivity_all(&filter);
                node.total_cost = child.total_cost + child.rows * ROW_COST;
                if rel.lateral {
                    node.actual = self.counters(&**plan, Part::Limit);
                }
                node.children.push(child);
            }
            Source::Virtual(vt) => {
                node.name = format!("Seq Scan on {}", alias(vt.name));
                node.rows = 100.0 * selectivity_all(&filter);
                node.total_cost = 1.0;
            }
            Source::Series(args) => {
                node.name = format!("Function Scan on {}", alias("generate_series"));
                let count = match args.as_slice() {
                    [a, b] => constant_i64(a)
                        .zip(constant_i64(b))
                        .map(|(a, b)| (b - a + 1).max(0) as f64),
                    [a, b, c] => match (constant_i64(a), constant_i64(b), constant_i64(c)) {
                        (Some(a), Some(b), Some(c)) if c != 0 => {
                            Some((((b - a) / c) + 1).max(0) as f64)
                        }
                        _ => None,
                    },
                    _ => None,
                };
                let count = count.unwrap_or(FUNCTION_ROWS);
                node.rows = count * selectivity_all(&filter);
                node.total_cost = count * ROW_COST;
            }
            Source::Unnest(..) => {
                node.name = format!("Function Scan on {}", alias("unnest"));
                node.rows = 100.0 * selectivity_all(&filter);
                node.total_cost = 1.0;
            }
            Source::JsonRows(name, _) => {
                node.name = format!("Function Scan on {}", alias(name));
                node.rows = 100.0 * selectivity_all(&filter);
                node.total_cost = 1.0;
            }
            Source::Options(_) => {
                node.name = format!("Function Scan on {}", alias("pg_options_to_table"));
                node.rows = 10.0 * selectivity_all(&filter);
                node.total_cost = 0.1;
            }
            Source::PartitionAncestors(_) => {
                node.name = format!("Function Scan on {}", alias("pg_partition_ancestors"));
                node.rows = 1.0;
                node.total_cost = ROW_COST;
            }
            Source::Sequence(seq) => {
                node.name = format!("Seq Scan on {}", alias(&seq.name));
                node.rows = 1.0;
                node.total_cost = ROW_COST;
            }
            Source::WorkTable(_) => {
                node.name = format!("WorkTable Scan on {}", quote_ident(&rel.label));
                node.rows = 10.0 * selectivity_all(&filter);
                node.total_cost = node.rows * ROW_COST;
            }
        }
        if let Some(f) = and_text(&cx, &filter) {
            node.details.push(format!("Filter: {f}"));
        }
        if self.instrument.is_some() && node.name.starts_with("Index Only Scan") {
            // Entries are versioned with their rows: no row is ever fetched to check one.
            node.details.push("Heap Fetches: 0".into());
        }
        node.rows = node.rows.max(1.0).round();
        if self.options.verbose {
            let cols: Vec<String> = (0..rel.width)
                .map(|c| self.column(rel, c, self.output_prefix))
                .collect();
            set_output(&mut node, cols);
        }
        node.subplans.extend(self.subplans(cx)?);
        Ok(node)
    }

    /// The subqueries an expression printer met, as nodes.
    fn subplans(&self, cx: Names<'_>) -> SqlResult<Vec<(String, Node)>> {
        let mut out = Vec::new();
        for (label, plan) in cx.subplans.into_inner() {
            out.push((label, self.query(&plan)?));
        }
        Ok(out)
    }
}

/// The command of a data-modifying statement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DmlCommand {
    Insert,
    Update,
    Delete,
}

/// Where a data-modifying statement's rows come from.
pub enum DmlSource<'p> {
    /// `INSERT … VALUES`: each row's expressions.
    Values(&'p Vec<Vec<Expr>>),
    /// `INSERT … SELECT`.
    Query(&'p QueryPlan),
    /// The rows an UPDATE or DELETE acts on: the table read through `access` and checked
    /// against `filter`, each row joined to the first partner row `join` finds for it
    /// (`UPDATE … FROM`, `DELETE … USING`).
    Target {
        filter: Option<&'p Expr>,
        access: &'p Access,
        join: Option<&'p crate::expr::Subquery>,
        /// The table's statistics, when it has some (estimates then come from them).
        stats: Option<std::sync::Arc<crate::stats::TableStats>>,
    },
}

/// `INSERT … ON CONFLICT`, as EXPLAIN prints it.
pub struct Conflict<'p> {
    /// DO UPDATE (else DO NOTHING).
    pub update: bool,
    /// The arbiter indexes' names; empty for DO NOTHING without a conflict target, which
    /// every unique constraint settles.
    pub arbiters: Vec<String>,
    /// DO UPDATE's WHERE, over the existing row followed by `excluded`.
    pub filter: Option<&'p Expr>,
}

/// What EXPLAIN ANALYZE of a data-modifying statement counted outside the instrument.
#[derive(Clone, Copy, Debug, Default)]
pub struct DmlActual {
    /// The statement's own node: one loop, the rows RETURNING gave (none without RETURNING, as
    /// PostgreSQL counts), the whole statement's time.
    pub top: Counters,
    /// ON CONFLICT: rows inserted, and rows that met a conflicting row.
    pub inserted: u64,
    pub conflicting: u64,
}

/// A data-modifying statement to explain: `Insert on t` / `Update on t` / `Delete on t` over
/// the node that gives its rows.
pub struct Dml<'p> {
    pub command: DmlCommand,
    pub def: &'p TableDef,
    /// The name the statement gives the table, when it gives one.
    pub alias: Option<&'p str>,
    pub source: DmlSource<'p>,
    pub conflict: Option<Conflict<'p>>,
    /// RETURNING's expressions, over the table's row followed by the join's partner row, and
    /// the columns they make.
    pub returning: Option<(&'p [Expr], &'p [super::ColumnInfo])>,
    /// INSERT's target columns, in the order the source gives their values.
    pub targets: &'p [usize],
    /// UPDATE's new values, over the same row: only their subqueries print (as PostgreSQL
    /// shows them, on the statement's node).
    pub assigned: Vec<&'p Expr>,
    /// The partner row's columns: (relation label, column name).
    pub partner_columns: Vec<(String, String)>,
    /// Under ANALYZE, what the statement did.
    pub actual: Option<DmlActual>,
}

impl Dml<'_> {
    /// The statement's node tree. `instrument` holds the counters of the executor that found
    /// or computed the rows (keyed by the parts of `source`).
    pub fn node(
        &self,
        engine: &Engine,
        options: Options,
        instrument: Option<&Instrument>,
    ) -> SqlResult<Node> {
        let def = self.def;
        let label = self.alias.unwrap_or(&def.name).to_string();
        let own: Vec<(String, String)> = def
            .columns
            .iter()
            .map(|c| (label.clone(), c.name.clone()))
            .collect();
        let joined = matches!(self.source, DmlSource::Target { join: Some(_), .. });
        let walk = Walk {
            engine,
            options,
            instrument,
            prefix: options.verbose || joined,
            output_prefix: joined,
            subplans: RefCell::new(0),
            minmax_base: RefCell::new(HashMap::new()),
            numbered: RefCell::new(HashMap::new()),
            depth: RefCell::new(0),
            outer: if joined { own.clone() } else { Vec::new() },
            parallel: None,
        };
        let child = match &self.source {
            DmlSource::Values(rows) => {
                let ncols = rows.first().map_or(0, Vec::len);
                let mut n = Node {
                    rows: rows.len() as f64,
                    total_cost: rows.len() as f64 * ROW_COST,
                    width: self
                        .targets
                        .iter()
                        .filter_map(|&i| def.columns.get(i))
                        .map(|c| type_width(c.ty))
                        .sum(),
                    actual: walk.counters(*rows, Part::Body),
                    ..Node::default()
                };
                if let [row] = rows.as_slice() {
                    // PostgreSQL plans a single VALUES row as a Result computing it.
                    n.name = "Result".into();
                    if options.verbose {
                        let cx = Names {
                            cols: &[],
                            prefix: false,
                            agg: None,
                            walk: &walk,
                            subplans: RefCell::new(Vec::new()),
                        };
                        let outputs: Vec<String> = row.iter().map(|e| cx.expr(e)).collect();
                        set_output(&mut n, outputs);
                        n.subplans.extend(walk.subplans(cx)?);
                    }
                } else {
                    n.name = "Values Scan on \"*VALUES*\"".into();
                    if options.verbose {
                        let cols: Vec<String> = (1..=ncols)
                            .map(|i| format!("\"*VALUES*\".column{i}"))
                            .collect();
                        set_output(&mut n, cols);
                    }
                }
                n
            }
            // The target is a relation of the statement too: column names print qualified,
            // as PostgreSQL prints them beside more than one relation. (PostgreSQL puts a
            // `Subquery Scan on "*SELECT*"` over a SELECT it cannot flatten, one that groups
            // for instance; Borealis computes the rows in place and shows no such node.)
            DmlSource::Query(plan) => Walk::new(engine, options, instrument, plan)
                .with_prefix(true)
                .query(plan)?,
            DmlSource::Target {
                filter,
                access,
                join,
                stats,
            } => {
                let rel = Relation {
                    source: Source::Table(def.clone()),
                    offset: 0,
                    width: def.columns.len(),
                    filter: filter.cloned(),
                    access: (*access).clone(),
                    needed: None,
                    stats: stats.clone(),
                    lateral: false,
                    ordinality: false,
                    label: label.clone(),
                    column_names: def.columns.iter().map(|c| c.name.clone()).collect(),
                };
                let mut scan = walk.scan(&rel, None)?;
                scan.actual = walk.counters(*access, Part::Scan);
                match join {
                    None => scan,
                    Some(j) => {
                        // Borealis runs the other relations once per target row and keeps
                        // the first partner row: a nested loop, whatever PostgreSQL would
                        // choose.
                        let inner = walk.query(&j.plan)?;
                        Node {
                            name: "Nested Loop".into(),
                            startup_cost: scan.startup_cost,
                            total_cost: scan.total_cost + scan.rows * inner.total_cost,
                            rows: scan.rows,
                            width: scan.width + inner.width,
                            actual: walk.counters(*access, Part::Join),
                            children: vec![scan, inner],
                            ..Node::default()
                        }
                    }
                }
            }
        };
        let target = if options.verbose {
            format!("public.{}", quote_ident(&def.name))
        } else {
            quote_ident(&def.name)
        };
        let target = match self.alias {
            Some(a) if a != def.name => format!("{target} {}", quote_ident(a)),
            _ => target,
        };
        let command = match self.command {
            DmlCommand::Insert => "Insert",
            DmlCommand::Update => "Update",
            DmlCommand::Delete => "Delete",
        };
        let mut node = Node {
            name: format!("{command} on {target}"),
            startup_cost: child.startup_cost,
            total_cost: child.total_cost,
            // Without RETURNING the node gives no rows.
            rows: if self.returning.is_some() {
                child.rows
            } else {
                0.0
            },
            width: 0,
            actual: self.actual.map(|a| a.top),
            ..Node::default()
        };
        if let Some((exprs, columns)) = self.returning {
            node.width = width_of(columns);
            if options.verbose {
                let mut cols = own.clone();
                cols.extend(self.partner_columns.iter().cloned());
                // PostgreSQL qualifies INSERT's RETURNING columns, and UPDATE's and DELETE's
                // only beside other relations.
                let cx = Names {
                    cols: &cols,
                    prefix: self.command == DmlCommand::Insert || joined,
                    agg: None,
                    walk: &walk,
                    subplans: RefCell::new(Vec::new()),
                };
                let outputs: Vec<String> = exprs.iter().map(|e| cx.expr(e)).collect();
                set_output(&mut node, outputs);
                node.subplans.extend(walk.subplans(cx)?);
            }
        }
        if !self.assigned.is_empty() {
            let mut cols = own.clone();
            cols.extend(self.partner_columns.iter().cloned());
            let cx = Names {
                cols: &cols,
                prefix: joined,
                agg: None,
                walk: &walk,
                subplans: RefCell::new(Vec::new()),
            };
            for e in &self.assigned {
                cx.expr(e);
            }
            node.subplans.extend(walk.subplans(cx)?);
        }
        if let Some(c) = &self.conflict {
            node.details.push(format!(
                "Conflict Resolution: {}",
                if c.update { "UPDATE" } else { "NOTHING" }
            ));
            if !c.arbiters.is_empty() {
                let names: Vec<String> = c.arbiters.iter().map(|a| quote_ident(a)).collect();
                node.details
                    .push(format!("Conflict Arbiter Indexes: {}", names.join(", ")));
            }
            if let Some(f) = c.filter {
                let mut cols = own.clone();
                cols.extend(
                    def.columns
                        .iter()
                        .map(|col| ("excluded".to_string(), col.name.clone())),
                );
                let cx = Names {
                    cols: &cols,
                    prefix: true,
                    agg: None,
                    walk: &walk,
                    subplans: RefCell::new(Vec::new()),
                };
                node.details.push(format!("Conflict Filter: {}", cx.top(f)));
                node.subplans.extend(walk.subplans(cx)?);
            }
            if let Some(a) = self.actual {
                node.details
                    .push(format!("Tuples Inserted: {}", a.inserted));
                node.details
                    .push(format!("Conflicting Tuples: {}", a.conflicting));
            }
        }
        node.children.push(child);
        Ok(node)
    }
}

/// Sets a node's `Output:` line (the first of its details), replacing one already there.
fn set_output(node: &mut Node, cols: Vec<String>) {
    let line = format!("Output: {}", cols.join(", "));
    match node.details.first_mut() {
        Some(first) if first.starts_with("Output: ") => *first = line,
        _ => node.details.insert(0, line),
    }
}

/// `Index Cond` parts of a key range over a relation's own row, and the text of the filter
/// conjuncts they stand for.
fn index_conditions(
    cx: &Names<'_>,
    def: &TableDef,
    range: &KeyRange,
) -> (Vec<String>, Vec<String>) {
    let cols = range.columns(def);
    // The key's column prints unqualified, as an index column does.
    let plain = Names {
        cols: cx.cols,
        prefix: cx.walk.options.verbose,
        agg: None,
        walk: cx.walk,
        subplans: RefCell::new(Vec::new()),
    };
    let col = |i: usize| plain.expr(&Expr::Column(cols.get(i).copied().unwrap_or(0)));
    let mut conds = Vec::new();
    for (i, e) in range.eq.iter().enumerate() {
        conds.push(format!("({} = {})", col(i), cx.operand(e)));
    }
    let next = range.eq.len();
    // A row bound prints as PostgreSQL's `ROW(a, b) > ROW(1, 2)`; it stands for the filter's
    // row comparison, printed the same way with the columns qualified or not.
    let mut rows = Vec::new();
    let mut bound = |b: &Option<(Expr, bool)>, row: &[Expr], op: &str, conds: &mut Vec<String>| {
        let Some((e, incl)) = b else { return };
        let op = if *incl {
            format!("{op}=")
        } else {
            op.to_string()
        };
        if row.is_empty() {
            conds.push(format!("({} {op} {})", col(next), cx.operand(e)));
            return;
        }
        let values: Vec<String> = std::iter::once(e)
            .chain(row)
            .map(|v| cx.operand(v))
            .collect();
        let names = |name: &dyn Fn(usize) -> String| {
            (next..=next + row.len())
                .map(name)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let qualified = |i: usize| cx.expr(&Expr::Column(cols.get(i).copied().unwrap_or(0)));
        conds.push(format!(
            "(ROW({}) {op} ROW({}))",
            names(&col),
            values.join(", ")
        ));
        // Also as written the other way round: `(1, 2) < (a, b)`.
        let flipped = match op.as_str() {
            ">" => "<",
            ">=" => "<=",
            "<" => ">",
            _ => ">=",
        };
        for name in [&col as &dyn Fn(usize) -> String, &qualified] {
            rows.push(format!(
                "(ROW({}) {op} ROW({}))",
                names(name),
                values.join(", ")
            ));
            rows.push(format!(
                "(ROW({}) {flipped} ROW({}))",
                values.join(", "),
                names(name)
            ));
        }
    };
    bound(&range.lower, range.lower_row(), ">", &mut conds);
    bound(&range.upper, range.upper_row(), "<", &mut conds);
    let mut used = conds.clone();
    used.extend(rows);
    let qualified = |i: usize| cx.expr(&Expr::Column(cols.get(i).copied().unwrap_or(0)));
    for i in 0..=next.min(cols.len().saturating_sub(1)) {
        let (p, q) = (col(i), qualified(i));
        if p != q {
            let extra: Vec<String> = used
                .iter()
                .map(|u| u.replace(&format!("({p} "), &format!("({q} ")))
                .collect();
            used.extend(extra);
        }
    }
    // `v < c` is printed as written but stands for `c > v`; BETWEEN stands for both bounds.
    if let (Some((lo, true)), Some((hi, true))) = (&range.lower, &range.upper) {
        used.push(format!(
            "(({c} >= {}) AND ({c} <= {}))",
            cx.operand(lo),
            cx.operand(hi),
            c = col(next)
        ));
    }
    let flipped: Vec<String> = used
        .iter()
        .filter_map(|u| {
            let inner = u.strip_prefix('(')?.strip_suffix(')')?;
            let mut parts = inner.splitn(3, ' ');
            let (l, op, r) = (parts.next()?, parts.next()?, parts.next()?);
            let op = match op {
                ">" => "<",
                ">=" => "<=",
                "<" => ">",
                "<=" => ">=",
                "=" => "=",
                _ => return None,
            };
            Some(format!("({r} {op} {l})"))
        })
        .collect();
    used.extend(flipped);
    (conds, used)
}

/// Whether a sort key prints without parentheses (a column, or what stands for one).
fn is_simple(e: &Expr, agg: Option<&AggPlan>) -> bool {
    match e {
        Expr::Column(_) | Expr::Outer { .. } | Expr::Param(_) => true,
        Expr::GroupKey(i) => agg
            .and_then(|a| a.group_by.get(*i))
            .is_some_and(|g| is_simple(g, None)),
        _ => false,
    }
}

/// A sort's `Sort Method:` line, as PostgreSQL prints it (kilobytes rounded up).
fn sort_method_line(method: crate::spill::SortMethod, used: MemoryUse) -> String {
    match method {
        crate::spill::SortMethod::ExternalMerge => format!(
            "Sort Method: {}  Disk: {}kB",
            method.name(),
            used.disk_bytes.div_ceil(1024)
        ),
        _ => format!(
            "Sort Method: {}  Memory: {}kB",
            method.name(),
            used.peak_bytes.div_ceil(1024)
        ),
    }
}

fn sort_key_text(text: String, s: &SortSpec) -> String {
    match (s.desc, s.nulls_first) {
        (false, false) => text,
        (false, true) => format!("{text} NULLS FIRST"),
        (true, true) => format!("{text} DESC"),
        (true, false) => format!("{text} DESC NULLS LAST"),
    }
}

fn constant_rows(e: &Expr) -> Option<f64> {
    constant_i64(e).map(|v| v.max(0) as f64)
}

fn constant_i64(e: &Expr) -> Option<i64> {
    match e {
        Expr::Literal(Value::Int(i)) => Some(*i),
        Expr::Cast { expr, .. } => constant_i64(expr),
        Expr::Neg(e) => constant_i64(e).map(|v| -v),
        _ => None,
    }
}

/// Relations in a plan and the plans under it, to decide whether names are qualified.
fn relation_count(plan: &QueryPlan) -> usize {
    match &plan.body {
        Body::Select(s) => s
            .from
            .relations
            .iter()
            .map(|r| match &r.source {
                Source::Derived(p) => 1 + relation_count(p),
                _ => 1,
            })
            .sum(),
        Body::Query(q) => relation_count(q),
        Body::Values(_) => 1,
        Body::Set { left, right, .. } => 2 + relation_count(left) + relation_count(right),
        Body::Recursive { anchor, step, .. } => 2 + relation_count(anchor) + relation_count(step),
    }
}

fn conjuncts(e: Option<&Expr>) -> Vec<&Expr> {
    e.map(crate::cost::conjuncts).unwrap_or_default()
}

fn and_text(cx: &Names<'_>, parts: &[&Expr]) -> Option<String> {
    let mut flat = Vec::new();
    for p in parts {
        flat.extend(conjuncts(Some(p)));
    }
    match flat.as_slice() {
        [] => None,
        [one] => Some(cx.top(one)),
        many => Some(format!(
            "({})",
            many.iter()
                .map(|e| cx.top(e))
                .collect::<Vec<_>>()
                .join(" AND ")
        )),
    }
}

/// The fraction of rows a condition keeps, by PostgreSQL's defaults without statistics.
fn selectivity(e: &Expr) -> f64 {
    match e {
        Expr::Binary {
            op, left, right, ..
        } => match op {
            BinOp::And => selectivity(left) * selectivity(right),
            BinOp::Or => {
                let (a, b) = (selectivity(left), selectivity(right));
                a + b - a * b
            }
            BinOp::Eq => 0.005,
            BinOp::NotEq => 0.995,
            BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq => 1.0 / 3.0,
            _ => 0.5,
        },
        Expr::Between { .. } => 0.005,
        Expr::IsNull { negated, .. } => {
            if *negated {
                0.995
            } else {
                0.005
            }
        }
        Expr::InList { list, .. } => (0.005 * list.len() as f64).min(1.0),
        Expr::Like { .. } => 0.005,
        Expr::Not(inner) => 1.0 - selectivity(inner),
        _ => 0.5,
    }
}

fn selectivity_all(parts: &[&Expr]) -> f64 {
    parts.iter().map(|e| selectivity(e)).product()
}

/// Bytes a value of a type takes on average, as PostgreSQL's widths count them.
fn type_width(t: DataType) -> u32 {
    match t {
        DataType::Bool => 1,
        DataType::Int2 => 2,
        DataType::Int4 | DataType::Float4 | DataType::Date => 4,
        DataType::Int8
        | DataType::Float8
        | DataType::Timestamp
        | DataType::TimestampTz
        | DataType::Time => 8,
        DataType::TimeTz => 12,
        DataType::Uuid | DataType::Interval => 16,
        _ => 32,
    }
}

fn width_of(cols: &[super::ColumnInfo]) -> u32 {
    cols.iter().map(|c| type_width(c.ty)).sum()
}

fn rel_width(rel: &Relation) -> u32 {
    match &rel.source {
        Source::Table(def) => def.columns.iter().map(|c| type_width(c.ty)).sum(),
        Source::Derived(p) => width_of(&p.columns),
        _ => 8 * rel.width as u32,
    }
}

/// An identifier as PostgreSQL prints it: quoted unless lower-case letters, digits and `_`.
fn quote_ident(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// Prints bound expressions with the names of the row they are evaluated over.
pub struct Names<'a> {
    cols: &'a [(String, String)],
    prefix: bool,
    agg: Option<&'a AggPlan>,
    walk: &'a Walk<'a>,
    /// Subqueries met, numbered in order: (label, plan).
    subplans: RefCell<Vec<(String, std::sync::Arc<QueryPlan>)>>,
}

/// [`Names`] over a relation's own row, owning its column list.
struct OwnedNames<'a> {
    cols: Vec<(String, String)>,
    prefix: bool,
    walk: &'a Walk<'a>,
}

impl OwnedNames<'_> {
    fn names(&self) -> Names<'_> {
        Names {
            cols: &self.cols,
            prefix: self.prefix,
            agg: None,
            walk: self.walk,
            subplans: RefCell::new(Vec::new()),
        }
    }
}

impl Names<'_> {
    /// A condition at the top of a `Filter:` line: always in parentheses.
    fn top(&self, e: &Expr) -> String {
        let s = self.expr(e);
        if s.starts_with('(') && balanced_outer(&s) {
            s
        } else {
            format!("({s})")
        }
    }

    /// An operand: an operator's argument gets its own parentheses.
    fn operand(&self, e: &Expr) -> String {
        self.expr(e)
    }

    fn subplan(&self, q: &crate::expr::Subquery) -> String {
        // A subquery printed twice (an `Index Cond` and the filter it stands for) is one plan.
        let key = std::sync::Arc::as_ptr(&q.plan) as usize;
        let seen = self.walk.numbered.borrow().get(&key).copied();
        if let Some(n) = seen {
            return if q.correlated {
                format!("(SubPlan {n})")
            } else {
                format!("${}", n - 1)
            };
        }
        let n = {
            let mut count = self.walk.subplans.borrow_mut();
            // PostgreSQL plans a subquery before numbering it: the InitPlans of its min/max
            // rewrite take the numbers (and `$n`) before its own.
            if let Body::Select(s) = &q.plan.body
                && !s.minmax.is_empty()
            {
                self.walk
                    .minmax_base
                    .borrow_mut()
                    .insert(std::sync::Arc::as_ptr(&q.plan) as usize, *count);
                *count += s.minmax.len();
            }
            *count += 1;
            *count
        };
        let label = if q.correlated {
            format!("SubPlan {n}")
        } else {
            format!("InitPlan {n} (returns ${})", n - 1)
        };
        self.walk.numbered.borrow_mut().insert(key, n);
        self.subplans.borrow_mut().push((label, q.plan.clone()));
        if q.correlated {
            format!("(SubPlan {n})")
        } else {
            format!("${}", n - 1)
        }
    }

    /// An expression in PostgreSQL's deparsed form.
    fn expr(&self, e: &Expr) -> String {
        match e {
            Expr::Literal(v) => literal(v),
            Expr::Column(i) => match self.cols.get(*i) {
                Some((q, c)) if self.prefix && !q.is_empty() => {
                    format!("{}.{}", quote_ident(q), quote_ident(c))
                }
                Some((_, c)) => quote_ident(c),
                None => format!("${i}"),
            },
            Expr::Param(i) => format!("${}", i + 1),
            Expr::Agg(i) => match self.agg.and_then(|a| a.aggs.get(*i)) {
                Some(call) => self.agg_call(call),
                None => format!("agg{i}"),
            },
            Expr::GroupKey(i) => match self.agg.and_then(|a| a.group_by.get(*i)) {
                Some(g) => self.expr(g),
                None => format!("key{i}"),
            },
            Expr::Window(i) => format!("window{}", i + 1),
            Expr::Srf(i) => format!("srf{}", i + 1),
            Expr::Neg(inner) => format!("(- {})", self.expr(inner)),
            Expr::Not(inner) => format!("(NOT {})", self.expr(inner)),
            Expr::Binary {
                op: op @ (BinOp::And | BinOp::Or),
                ..
            } => {
                // A row comparison prints as written, as PostgreSQL keeps it.
                if let Some((op, left, right)) = crate::query::row_comparison(e)
                    && left.len() >= 2
                {
                    let items = |side: &[&Expr]| {
                        side.iter()
                            .map(|e| self.expr(e))
                            .collect::<Vec<_>>()
                            .join(", ")
                    };
                    return format!(
                        "(ROW({}) {} ROW({}))",
                        items(&left),
                        crate::expr::op_symbol(op),
                        items(&right)
                    );
                }
                let mut parts = Vec::new();
                flatten(e, *op, &mut parts);
                let word = if *op == BinOp::And { " AND " } else { " OR " };
                format!(
                    "({})",
                    parts
                        .iter()
                        .map(|p| self.expr(p))
                        .collect::<Vec<_>>()
                        .join(word)
                )
            }
            Expr::Binary {
                op, left, right, ..
            } => format!(
                "({} {} {})",
                self.expr(left),
                crate::expr::op_symbol(*op),
                self.expr(right)
            ),
            Expr::IsNull { expr, negated } => format!(
                "({} IS {}NULL)",
                self.expr(expr),
                if *negated { "NOT " } else { "" }
            ),
            Expr::Cast { expr, ty } => match &**expr {
                Expr::Literal(v) => format!("{}::{}", quoted_literal(v), ty.name()),
                inner => format!("({})::{}", self.expr(inner), ty.name()),
            },
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let items: Vec<String> = list
                    .iter()
                    .map(|i| match i {
                        Expr::Literal(Value::Text(t)) => t.clone(),
                        Expr::Literal(v) => v.to_text().unwrap_or_default(),
                        other => self.expr(other),
                    })
                    .collect();
                let ty = list.first().map_or("text", |i| match i {
                    Expr::Literal(Value::Int(_)) => "integer",
                    _ => "text",
                });
                format!(
                    "({} {} ('{{{}}}'::{ty}[]))",
                    self.expr(expr),
                    if *negated { "<> ALL" } else { "= ANY" },
                    items.join(",")
                )
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let x = self.expr(expr);
                if *negated {
                    format!(
                        "(({x} < {}) OR ({x} > {}))",
                        self.expr(low),
                        self.expr(high)
                    )
                } else {
                    format!(
                        "(({x} >= {}) AND ({x} <= {}))",
                        self.expr(low),
                        self.expr(high)
                    )
                }
            }
            Expr::Like {
                expr,
                pattern,
                negated,
                case_insensitive,
                array,
            } => format!(
                "({} {}~~{} {})",
                self.expr(expr),
                if *negated { "!" } else { "" },
                if *case_insensitive { "*" } else { "" },
                match array {
                    None => self.expr(pattern),
                    Some(all) => format!(
                        "{} ({})",
                        if *all { "ALL" } else { "ANY" },
                        self.expr(pattern)
                    ),
                }
            ),
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                let mut s = String::from("CASE");
                if let Some(o) = operand {
                    let _ = write!(s, " {}", self.expr(o));
                }
                for (w, t) in whens {
                    let _ = write!(s, " WHEN {} THEN {}", self.expr(w), self.expr(t));
                }
                if let Some(o) = otherwise {
                    let _ = write!(s, " ELSE {}", self.expr(o));
                }
                s.push_str(" END");
                s
            }
            // A cast to bpchar or char(n), as PostgreSQL prints it.
            Expr::Func {
                name: "bpchar_length",
                args,
            } if args.len() == 2 => {
                let ty = match &args[1] {
                    Expr::Literal(Value::Int(n)) if *n >= 0 => format!("character({n})"),
                    _ => "bpchar".to_string(),
                };
                // The inner cast to text is how the value gets to the length: not shown.
                let inner = match &args[0] {
                    Expr::Cast { expr, .. } => &**expr,
                    e => e,
                };
                match inner {
                    Expr::Literal(v) => format!("{}::{ty}", quoted_literal(v)),
                    e => format!("({})::{ty}", self.expr(e)),
                }
            }
            Expr::Func { name, args } => format!(
                "{name}({})",
                args.iter()
                    .map(|a| self.expr(a))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Expr::Outer { depth: 1, index } => match self.walk.outer.get(*index) {
                Some((q, c)) => format!("{}.{}", quote_ident(q), quote_ident(c)),
                None => format!("$outer{index}"),
            },
            Expr::Outer { index, .. } => format!("$outer{index}"),
            Expr::ScalarSubquery(q) => self.subplan(q),
            Expr::Exists { query, negated } => {
                let s = self.subplan(query);
                if *negated { format!("(NOT {s})") } else { s }
            }
            Expr::InSubquery {
                expr,
                query,
                negated,
            } => {
                let s = format!("(hashed {})", self.subplan(query).trim_matches(['(', ')']));
                let _ = expr;
                if *negated { format!("(NOT {s})") } else { s }
            }
            Expr::AnyArray {
                expr,
                op,
                array,
                all,
            } => format!(
                "({} {} {}({}))",
                self.expr(expr),
                crate::expr::op_symbol(*op),
                if *all { "ALL " } else { "ANY " },
                self.expr(array)
            ),
            Expr::ArraySubquery(q) => format!("ARRAY({})", self.subplan(q)),
            Expr::Row { fields, .. } => format!(
                "ROW({})",
                fields
                    .iter()
                    .map(|f| self.expr(f))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            #[allow(unreachable_patterns)]
            _ => String::from("?"),
        }
    }

    fn agg_call(&self, call: &AggCall) -> String {
        if call.func == AggFunc::CountStar {
            return "count(*)".into();
        }
        let name = call.func.name();
        let args: Vec<String> = match &call.arg {
            Some(Expr::Func {
                name: "agg_args",
                args,
            }) => args.iter().map(|a| self.expr(a)).collect(),
            Some(a) => vec![self.expr(a)],
            None => Vec::new(),
        };
        if let AggFunc::Ordered(o) = call.func {
            // `percentile_cont(0.5) WITHIN GROUP (ORDER BY x)`: the key is the last argument.
            let key = args.last().cloned().unwrap_or_default();
            let direct = if o.has_fraction() {
                args.first().cloned().unwrap_or_default()
            } else {
                String::new()
            };
            return format!("{name}({direct}) WITHIN GROUP (ORDER BY {key})");
        }
        let arg = args.join(", ");
        let mut s = format!(
            "{name}({}{arg}{})",
            if call.distinct { "DISTINCT " } else { "" },
            call.separator
                .as_ref()
                .map(|sep| format!(", '{}'::text", sep.replace('\'', "''")))
                .unwrap_or_default()
        );
        if let Some(f) = &call.filter {
            let _ = write!(s, " FILTER (WHERE {})", self.expr(f));
        }
        s
    }
}

/// Whether the first `(` of `s` closes at its end.
fn balanced_outer(s: &str) -> bool {
    let mut depth = 0i32;
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth -= 1;
                if depth == 0 && i + 1 != s.len() {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

fn flatten<'e>(e: &'e Expr, op: BinOp, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::Binary {
            op: o, left, right, ..
        } if *o == op => {
            flatten(left, op, out);
            flatten(right, op, out);
        }
        other => out.push(other),
    }
}

fn quoted_literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        other => format!(
            "'{}'",
            other.to_text().unwrap_or_default().replace('\'', "''")
        ),
    }
}

/// A constant as PostgreSQL deparses it: integers and numerics bare when not negative, text
/// with its type, everything else quoted with its type.
fn literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) if *i >= 0 => i.to_string(),
        Value::Int(i) => format!("'{i}'::integer"),
        Value::Float(f) if *f >= 0.0 => format!("'{f}'::double precision"),
        Value::Text(t) => format!("'{}'::text", t.replace('\'', "''")),
        Value::Numeric(_) => {
            let t = v.to_text().unwrap_or_default();
            if t.starts_with('-') {
                format!("'{t}'::numeric")
            } else {
                t
            }
        }
        other => quoted_literal(other),
    }
}

/// The lines of a plan in PostgreSQL's text layout.
#[must_use]
pub fn render(root: &Node, options: Options) -> Vec<String> {
    let mut lines = Vec::new();
    render_node(root, 0, true, options, &mut lines);
    lines
}

fn render_node(node: &Node, column: usize, root: bool, o: Options, lines: &mut Vec<String>) {
    let mut head = String::new();
    let content = if root {
        0
    } else {
        head.push_str(&" ".repeat(column));
        head.push_str("->  ");
        column + 4
    };
    head.push_str(&node.name);
    if o.costs {
        let _ = write!(
            head,
            "  (cost={:.2}..{:.2} rows={:.0} width={})",
            node.startup_cost,
            node.total_cost.max(node.startup_cost),
            node.rows,
            node.width
        );
    }
    if o.analyze {
        head.push(' ');
        match node.actual {
            Some(c) if c.loops > 0 => {
                let loops = c.loops as f64;
                let rows = (c.rows as f64 / loops).round();
                if o.timing {
                    let ms = c.time_ns as f64 / 1e6 / loops;
                    let _ = write!(
                        head,
                        "(actual time={ms:.3}..{ms:.3} rows={rows:.0} loops={})",
                        c.loops
                    );
                } else {
                    let _ = write!(head, "(actual rows={rows:.0} loops={})", c.loops);
                }
            }
            _ => head.push_str("(never executed)"),
        }
    }
    lines.push(head);
    let inner = content + 2;
    for d in &node.details {
        lines.push(format!("{}{d}", " ".repeat(inner)));
    }
    // InitPlans (run once, before the node) print before its inputs, SubPlans after.
    let (init, sub): (Vec<_>, Vec<_>) = node
        .subplans
        .iter()
        .partition(|(label, _)| label.starts_with("InitPlan"));
    for (label, plan) in init {
        lines.push(format!("{}{label}", " ".repeat(inner)));
        render_node(plan, inner + 2, false, o, lines);
    }
    for c in &node.children {
        render_node(c, inner, false, o, lines);
    }
    for (label, plan) in sub {
        lines.push(format!("{}{label}", " ".repeat(inner)));
        render_node(plan, inner + 2, false, o, lines);
    }
}

/// A `Sort` on `keys` over `input`, with its method line when ANALYZE measured one (`used`).
fn sort_node(input: Node, keys: String, used: Option<MemoryUse>, actual: Option<Counters>) -> Node {
    let mut details = vec![format!("Sort Key: {keys}")];
    if let Some(used) = used
        && let Some(method) = used.sort
    {
        details.push(sort_method_line(method, used));
    }
    let n = input.rows.max(1.0);
    let sort_cost = 2.0 * ROW_COST * n * n.log2().max(1.0);
    Node {
        name: "Sort".into(),
        details,
        startup_cost: input.total_cost + sort_cost,
        total_cost: input.total_cost + sort_cost + n * ROW_COST,
        rows: input.rows,
        width: input.width,
        actual,
        children: vec![input],
        ..Node::default()
    }
}

/// An aggregate over a table read in `parts` parallel parts, as PostgreSQL shows one:
/// `Finalize` over a `Gather` of the workers' `Partial` aggregates over a `Parallel Seq Scan`
/// (each part reads about 1/`parts` of the rows). HAVING stays with the finalize step.
fn parallel_aggregate_nodes(mut finalize: Node, parts: usize) -> Node {
    let Some(mut scan) = finalize.children.pop() else {
        return finalize;
    };
    let n = parts as f64;
    if let Some(table) = scan.name.strip_prefix("Seq Scan on ") {
        scan.name = format!("Parallel Seq Scan on {table}");
    }
    scan.rows = (scan.rows / n).max(1.0);
    scan.total_cost /= n;
    let groups = finalize.rows;
    let partial = Node {
        name: format!("Partial {}", finalize.name),
        details: finalize
            .details
            .iter()
            .filter(|d| d.starts_with("Group Key:"))
            .cloned()
            .collect(),
        startup_cost: finalize.startup_cost / n,
        total_cost: finalize.total_cost / n,
        rows: groups,
        width: finalize.width,
        children: vec![scan],
        ..Node::default()
    };
    let gather = Node {
        name: "Gather".into(),
        details: vec![format!("Workers Planned: {}", parts - 1)],
        startup_cost: partial.startup_cost,
        total_cost: partial.total_cost + groups * n * ROW_COST,
        rows: groups * n,
        width: partial.width,
        children: vec![partial],
        ..Node::default()
    };
    finalize.name = format!("Finalize {}", finalize.name);
    finalize.startup_cost = gather.total_cost;
    finalize.total_cost = gather.total_cost + groups * n * ROW_COST;
    finalize.children = vec![gather];
    finalize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Database, Output, Session};
    use borealis_common::pagestore::MemStore;
    use borealis_engine::EngineConfig;
    use std::sync::Arc;

    fn session() -> Session {
        let engine = Engine::open(Arc::new(MemStore::new()), EngineConfig::default()).unwrap();
        Session::new(
            Database::new(Arc::new(engine)),
            crate::expr::SessionInfo::default(),
        )
    }

    fn run(s: &mut Session, sql: &str) -> SqlResult<Vec<String>> {
        let mut last = Vec::new();
        for stmt in crate::parse(sql).unwrap() {
            last = match s.execute(&stmt, &[])?.output {
                Output::Rows { rows, .. } => rows
                    .iter()
                    .map(|r| r[0].to_text().unwrap_or_default())
                    .collect(),
                _ => Vec::new(),
            };
        }
        Ok(last)
    }

    fn options(sql: &str) -> SqlResult<Options> {
        let Some(sqlparser::ast::Statement::Explain {
            analyze,
            verbose,
            format,
            options,
            ..
        }) = crate::parse(sql).unwrap().pop()
        else {
            panic!("not an EXPLAIN: {sql}");
        };
        Options::parse(analyze, verbose, format.as_ref(), options.as_deref())
    }

    #[test]
    fn options_follow_postgresql_defaults_and_refusals() {
        let o = options("EXPLAIN SELECT 1").unwrap();
        assert!(o.costs && !o.analyze && !o.summary && !o.timing);
        let o = options("EXPLAIN ANALYZE SELECT 1").unwrap();
        assert!(o.analyze && o.summary && o.timing);
        let o = options("EXPLAIN (ANALYZE, COSTS false, TIMING off, SUMMARY 0) SELECT 1").unwrap();
        assert!(o.analyze && !o.costs && !o.timing && !o.summary);
        // TIMING OFF without ANALYZE is accepted (it changes nothing), TIMING ON is not.
        assert!(options("EXPLAIN (TIMING OFF) SELECT 1").is_ok());
        assert!(matches!(
            options("EXPLAIN (TIMING) SELECT 1"),
            Err(SqlError::InvalidParameterValue(_))
        ));
        for f in ["JSON", "YAML", "XML"] {
            assert!(matches!(
                options(&format!("EXPLAIN (FORMAT {f}) SELECT 1")),
                Err(SqlError::FeatureNotSupported(_))
            ));
        }
        assert!(options("EXPLAIN (FORMAT TEXT) SELECT 1").is_ok());
        assert!(matches!(
            options("EXPLAIN (FORMAT CSV) SELECT 1"),
            Err(SqlError::InvalidParameterValue(_))
        ));
        assert!(matches!(
            options("EXPLAIN (NOPE) SELECT 1"),
            Err(SqlError::Syntax(_))
        ));
    }

    #[test]
    fn render_indents_as_postgresql_does() {
        let leaf = |name: &str, detail: &str| Node {
            name: name.into(),
            details: vec![detail.into()],
            ..Node::default()
        };
        let root = Node {
            name: "Hash Join".into(),
            details: vec!["Hash Cond: (a.x = b.y)".into()],
            children: vec![
                leaf("Seq Scan on a", "Filter: (z > 1)"),
                Node {
                    name: "Hash".into(),
                    children: vec![leaf("Seq Scan on b", "Filter: (w < 2)")],
                    ..Node::default()
                },
            ],
            actual: Some(Counters {
                loops: 2,
                rows: 7,
                time_ns: 3_000_000,
            }),
            ..Node::default()
        };
        let o = Options {
            analyze: true,
            verbose: false,
            costs: false,
            timing: true,
            summary: false,
            format: Format::Text,
        };
        assert_eq!(
            render(&root, o),
            [
                "Hash Join (actual time=1.500..1.500 rows=4 loops=2)",
                "  Hash Cond: (a.x = b.y)",
                "  ->  Seq Scan on a (never executed)",
                "        Filter: (z > 1)",
                "  ->  Hash (never executed)",
                "        ->  Seq Scan on b (never executed)",
                "              Filter: (w < 2)",
            ]
        );
        let o = Options {
            analyze: false,
            costs: true,
            ..o
        };
        let lines = render(&leaf("Result", "One-Time Filter: false"), o);
        assert_eq!(lines[0], "Result  (cost=0.00..0.00 rows=0 width=0)");
    }

    #[test]
    fn explain_runs_the_statement_only_under_analyze() {
        let mut s = session();
        run(&mut s, "CREATE TABLE t (id int PRIMARY KEY, v int)").unwrap();
        run(&mut s, "INSERT INTO t VALUES (1, 10), (2, 0)").unwrap();
        // Plain EXPLAIN plans the query without running it: no division happens.
        assert_eq!(
            run(&mut s, "EXPLAIN (COSTS OFF) SELECT 1 / v FROM t").unwrap(),
            ["Seq Scan on t"]
        );
        assert!(matches!(
            run(&mut s, "EXPLAIN ANALYZE SELECT 1 / v FROM t"),
            Err(SqlError::DivisionByZero)
        ));
        let lines = run(
            &mut s,
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT * FROM t WHERE v > 5",
        )
        .unwrap();
        assert_eq!(lines[0], "Seq Scan on t (actual rows=1 loops=1)");
        assert_eq!(lines[1], "  Filter: (v > 5)");
        assert!(
            lines[2].starts_with("Planning Time: ") && lines[3].starts_with("Execution Time: ")
        );
        // The estimate comes from the table's live-row counter.
        let lines = run(&mut s, "EXPLAIN SELECT * FROM t").unwrap();
        assert!(lines[0].contains(" rows=2 width=8)"), "{lines:?}");
    }

    #[test]
    fn dml_runs_only_under_analyze() {
        let mut s = session();
        run(&mut s, "CREATE TABLE t (id int PRIMARY KEY, v int)").unwrap();
        run(&mut s, "INSERT INTO t VALUES (1, 10), (2, 0)").unwrap();
        let count = |s: &mut Session| run(s, "SELECT count(*) FROM t").unwrap();
        assert_eq!(
            run(&mut s, "EXPLAIN (COSTS OFF) DELETE FROM t WHERE v > 5").unwrap(),
            [
                "Delete on t",
                "  ->  Seq Scan on t",
                "        Filter: (v > 5)"
            ]
        );
        assert_eq!(count(&mut s), ["2"]);
        // Plain EXPLAIN computes no new value; ANALYZE does, and fails as the UPDATE would.
        assert_eq!(
            run(&mut s, "EXPLAIN (COSTS OFF) UPDATE t SET v = 1 / v").unwrap()[0],
            "Update on t"
        );
        assert!(matches!(
            run(&mut s, "EXPLAIN ANALYZE UPDATE t SET v = 1 / v"),
            Err(SqlError::DivisionByZero)
        ));
        // A failed run leaves no counters behind for the next statement.
        assert_eq!(
            run(
                &mut s,
                "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) DELETE FROM t WHERE v > 5"
            )
            .unwrap(),
            [
                "Delete on t (actual rows=0 loops=1)",
                "  ->  Seq Scan on t (actual rows=1 loops=1)",
                "        Filter: (v > 5)"
            ]
        );
        assert_eq!(count(&mut s), ["1"]);
        let lines = run(
            &mut s,
            "EXPLAIN ANALYZE INSERT INTO t VALUES (3, 3), (4, 4)",
        )
        .unwrap();
        assert!(lines[0].starts_with("Insert on t  (cost="), "{lines:?}");
        assert!(lines[0].ends_with(" rows=0 loops=1)"), "{lines:?}");
        assert!(lines[1].ends_with(" rows=2 loops=1)"), "{lines:?}");
        assert!(
            lines[2].starts_with("Planning Time: ") && lines[3].starts_with("Execution Time: ")
        );
        assert_eq!(count(&mut s), ["3"]);
    }
}
