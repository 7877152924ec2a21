//! Queries: binding (names → positions, types), planning (join order, predicate placement) and
//! execution over the engine.
//!
//! ```text
//!  ast::Query ─Planner─▶ QueryPlan ─Executor─▶ rows
//!
//!  QueryPlan = body ─▶ [sort] ─▶ offset/limit
//!  body      = Select | Set(UNION/INTERSECT/EXCEPT [ALL], left, right) | Query (parenthesised)
//!  Select    = FromPlan ─▶ [aggregate ─▶ having] ─▶ [windows] ─▶ project ─▶ [distinct]
//!              (DISTINCT ON keeps the first row of each run after the sort)
//!  FromPlan  = relations (tables, derived tables), each read once with its own filter
//!              through an access path (primary-key lookup or range, secondary-index lookup or
//!              range, else a full scan; see [`choose_access`]), joined step by step:
//!
//!     partial rows (full width, NULL where not yet joined)
//!        │  step: relation r, hash on the equi-join keys that connect r to what is joined,
//!        ▼        then the conjuncts that became fully covered; LEFT steps pad with NULLs,
//!                 RIGHT steps add r's rows that found no partner, FULL steps do both
//!     partial rows ─▶ … ─▶ residual conjuncts (those with correlated subqueries)
//! ```
//!
//! The binder splits WHERE (and inner-join ON) into conjuncts. A conjunct over one relation is
//! rewritten onto that relation's own row and applied while scanning it; a conjunct over several
//! is applied at the first join step that covers them; `a = b` between the new relation and the
//! joined ones becomes a hash-join key. When any table of the join has statistics (ANALYZE, see
//! [`crate::stats`]), the access paths and the join order are chosen by estimated cost
//! ([`crate::cost`]: dynamic programming over connected subsets of up to eight relations, greedy
//! beyond). Otherwise the join order is greedy by rule: start from a relation whose
//! filter pins its primary key (or has any filter), then repeatedly take a relation connected by
//! an equi-join to what is joined, else the next in FROM order (a cross product). With a LEFT
//! JOIN the FROM order is kept. A RIGHT or FULL JOIN takes everything joined before it as its
//! left operand, which is what the partial rows are in a single FROM item's left-deep chain; so
//! with one in the query every join keeps its ON conditions, WHERE runs after the last step and
//! nothing is pushed into a scan (any relation may come out NULL-extended). `USING` and `NATURAL`
//! become ON equalities; the column a USING merges away is hidden from unqualified names and
//! `SELECT *` lists the merged ones first (`using_join`). Either order makes many-way comma
//! joins over equalities linear instead of exponential. When the equi-join keys of a step pin leading columns of the inner table's
//! primary key or of an index (`IndexLookup`) and few partial rows reach the step (at most
//! [`INDEX_JOIN_OUTER_ROWS_MAX`]), the step probes that key per partial row instead of hashing
//! the whole table: an index nested-loop join.
//!
//! Once a query is bound, `index_only` marks the table reads whose key holds every column the
//! query reads (an index-only scan: rows are decoded from the keys, the table's rows are never
//! fetched), lets a single-table query read a key in its ORDER BY order with no sort (forwards
//! for the key's declared order, or backwards for its exact reverse: `Index Scan Backward`),
//! and reads an aggregate of only
//! `min`/`max` calls from one end of a key each (PostgreSQL's min/max rewrite); and
//! `merge` chooses, per join step with equalities, between the hash join, a merge join (both
//! sides sorted on the keys, equal runs joined) and the index nested loop, by cost and by the
//! session's `enable_*` settings.
//!
//! `WITH` puts its CTEs in a scope stack while the query binds; a reference binds the CTE's
//! query in place, as a derived table. `WITH RECURSIVE` of the form `anchor UNION [ALL] step`
//! becomes `Body::Recursive`: the step's reference to the CTE reads a work table holding the
//! previous round's new rows, and rounds run until one adds nothing (UNION drops rows seen
//! before, so a cycle ends), as PostgreSQL's recursive union does.
//!
//! Sublinks are pulled up (`pull_up_sublinks`), as PostgreSQL does: a WHERE conjunct
//! `EXISTS (subquery)`, `NOT EXISTS (subquery)` or `x IN (SELECT col …)` whose subquery is one
//! plain SELECT over one table, correlated only by equalities between its columns and the
//! enclosing row, becomes a semi-join (anti-join for NOT EXISTS) step after the query's other
//! steps, on those equalities: the hash join's build and spill with one row per key kept and
//! each partial row passed at most once, or the index nested loop stopping at a key's first
//! row. Any other subquery stays a conjunct run per row.
//!
//! Window functions run as a stage of their own between HAVING and the projection (see
//! [`crate::window`]); their results are slots of the row's evaluation context.
//!
//! Subqueries are plans inside expressions ([`crate::expr::Subquery`]); the [`Executor`] runs
//! them, caching uncorrelated ones for the statement. [`SUBQUERY_DEPTH_MAX`] bounds the nesting
//! of subqueries (binding and execution recurse through them).
//!
//! Memory. A plain select or an aggregate over one table reads the scan row by row. A join
//! runs as a pipeline (`Executor::for_each_joined`): each joined row goes on through the
//! later steps as soon as it is made, into the aggregate, the sort or the output, so no step
//! holds the rows it produced (only what its method needs: a hash table, a nested loop's
//! relation, a merge join's input, each within `work_mem`), and a LIMIT stops it early.
//! A derived table (and so a CTE reference, bound in place) streams: its query's rows go to
//! the scan, the hash join's build or the first join step as the query makes them
//! (`Executor::for_each_derived_row`); a nested loop over one keeps its rows in a
//! [`crate::cursor::RowStore`] (spilled past `work_mem`, re-read per partial row), and a
//! LATERAL subquery's rows join as it makes them.
//! UNION / INTERSECT / EXCEPT stream both inputs (`setop`). The operators that would
//! otherwise hold a whole input keep within the session's `work_mem` and spill to temporary
//! files ([`crate::spill`]) beyond it: the hash aggregate (`Executor::aggregate_into`),
//! DISTINCT (that aggregate over the output columns), ORDER BY ([`crate::spill::Sorter`]:
//! quicksort, top-N heapsort under a LIMIT, external merge), the hash join's table
//! (`Executor::hash_join_into`: a grace hash join), the set operations' duplicate
//! elimination and counts (`setop`) and window functions (one sort per window, each partition
//! in spilling stores: `Executor::windows_over`, [`crate::window::run`]). Each gives the same
//! rows in the same order whatever `work_mem` is, except that spilled set operations give
//! theirs in another order (PostgreSQL defines none without ORDER BY). DISTINCT ON reads the
//! spilling sort (on the ORDER BY keys, then its own values) and keeps only the previous
//! row's values. A recursive CTE's rows stream out as each round makes them; its work table
//! is a [`crate::cursor::RowStore`]. A merge join sorts both sides with the spilling sort and
//! keeps the relation's current run of equal keys in a `RowStore` too. The
//! rows between pipelines of a long FROM clause are a `RowStore`. Still held whole: a
//! recursive UNION's set of rows seen ([`RECURSIVE_ROWS_MAX`]).
//!
//! Locking clauses (`FOR UPDATE`, `FOR NO KEY UPDATE`, `FOR SHARE`, `FOR KEY SHARE`, with NOWAIT
//! or SKIP LOCKED) are planned by [`Planner::bind_locking`] for a top-level query over one
//! table; the session locks the candidates in output order, below OFFSET/LIMIT, as PostgreSQL's
//! `LockRows` does (see [`LockingQuery`]).
//!
//! Known differences from PostgreSQL: `avg` and decimal literals are double precision (PostgreSQL
//! uses numeric, so `SELECT 1.50` prints `1.5` here); set operations cannot yet resolve an untyped
//! NULL column against a typed one.

use crate::catalog::{self, TableDef, TextKind, decode_columns_into, encode_key_value};
use crate::catalog_views::VirtualTable;
use crate::error::{SqlError, SqlResult};
use crate::expr::{
    AggCall, AggFunc, AggMode, BinOp, Binder, EvalContext, Expr, ScopeColumn, SessionInfo,
    Subquery, ident_name, object_name,
};
use crate::types::{DataType, Numeric, Value};
use crate::window::{WindowCollector, WindowPlan};
use borealis_common::fasthash::FastMap;
use borealis_engine::{Engine, ScanBatch, Txn};
use sqlparser::ast;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::rc::Rc;

#[path = "explain.rs"]
pub mod explain;
#[path = "index_only.rs"]
mod index_only;
#[path = "merge.rs"]
mod merge;
#[path = "setop.rs"]
mod setop;

/// Where a query's final rows go: a vector, or a store that spills past a byte budget
/// ([`crate::cursor::RowStore`]).
pub trait ResultSink {
    /// Takes the next row.
    fn push_row(&mut self, row: Vec<Value>) -> SqlResult<()>;
    /// Rows taken so far.
    fn row_count(&self) -> usize;
}

impl ResultSink for Vec<Vec<Value>> {
    fn push_row(&mut self, row: Vec<Value>) -> SqlResult<()> {
        self.push(row);
        Ok(())
    }

    fn row_count(&self) -> usize {
        self.len()
    }
}

/// Row buffers an executor keeps for reuse (see [`Executor::recycle_row`]): one per join step
/// a row passes through at once is enough.
const SPARE_ROWS_MAX: usize = 16;

/// Rows fetched from the engine per call.
pub const SCAN_BATCH_ROWS: usize = 1024;

/// `work_mem` when the executor is not told the session's (PostgreSQL's default, 4 MB).
pub const WORK_MEM_DEFAULT: usize = 4 << 20;
/// `maintenance_work_mem` when a session's is unreadable (PostgreSQL's default, 64 MB).
pub const MAINTENANCE_WORK_MEM_DEFAULT: usize = 64 << 20;
/// Fewest estimated rows of a table whose aggregate is read in parallel (below, starting the
/// threads costs more than they save).
pub const PARALLEL_ROWS_MIN: f64 = 200_000.0;
/// Most estimated groups of an aggregate read in parallel: the partial groups are merged in
/// memory.
pub const PARALLEL_GROUPS_MAX: f64 = 50_000.0;
/// Functions whose value depends on when or where they run, which a parallel worker must not
/// evaluate (the session's random generator, sequences, the clock).
const VOLATILE_FUNCTIONS: &[&str] = &[
    "fn_random",
    "fn_setseed",
    "fn_gen_random_uuid",
    "nextval",
    "setval",
    "currval",
    "lastval",
    "clock_timestamp",
    "timeofday",
    "txid_current",
];
/// Whether `name` is a relation inside a parenthesized join with an alias among `from`'s
/// items: `(a JOIN b …) AS j` hides `a` and `b` (PostgreSQL keeps them in the FROM clause's
/// namespace, not visible, and calls a reference to one invalid rather than missing).
fn hidden_by_join_aliases(from: &[ast::TableWithJoins], name: &str) -> bool {
    fn named(f: &ast::TableFactor, name: &str) -> bool {
        match f {
            ast::TableFactor::Table { alias: Some(a), .. }
            | ast::TableFactor::Derived { alias: Some(a), .. }
            | ast::TableFactor::Function { alias: Some(a), .. }
            | ast::TableFactor::UNNEST { alias: Some(a), .. }
            | ast::TableFactor::NestedJoin { alias: Some(a), .. } => ident_name(&a.name) == name,
            ast::TableFactor::Table {
                name: n,
                alias: None,
                ..
            } => {
                n.0.last()
                    .and_then(ast::ObjectNamePart::as_ident)
                    .is_some_and(|i| ident_name(i) == name)
            }
            _ => false,
        }
    }
    fn inside(twj: &ast::TableWithJoins, name: &str) -> bool {
        std::iter::once(&twj.relation)
            .chain(twj.joins.iter().map(|j| &j.relation))
            .any(|f| {
                named(f, name)
                    || matches!(f, ast::TableFactor::NestedJoin { table_with_joins, .. }
                        if inside(table_with_joins, name))
            })
    }
    from.iter().any(|twj| {
        std::iter::once(&twj.relation)
            .chain(twj.joins.iter().map(|j| &j.relation))
            .any(|f| match f {
                ast::TableFactor::NestedJoin {
                    table_with_joins,
                    alias: Some(_),
                } => inside(table_with_joins, name),
                ast::TableFactor::NestedJoin {
                    table_with_joins,
                    alias: None,
                } => hidden_by_join_aliases(std::slice::from_ref(table_with_joins), name),
                _ => false,
            })
    })
}

/// A part of a table's key space.
type TablePart = (Bound<Vec<u8>>, Bound<Vec<u8>>);
/// Least memory for a statement's result before it spills (see
/// [`crate::session::Session::result_memory_bytes`]).
pub const RESULT_MEMORY_MIN: usize = 16 << 20;
/// Deepest nesting of subqueries: binding and execution recurse through them.
pub const SUBQUERY_DEPTH_MAX: usize = 32;
/// Most rows of a `generate_series` or a work table read whole into memory (a FROM clause of
/// that one relation whose rows are needed at once); in a join they stream instead.
pub const JOIN_ROWS_MAX: usize = 4_000_000;
/// Most relations in one FROM clause.
pub const RELATIONS_MAX: usize = 256;
/// The stack a thread running statements needs: binding recurses once per level of an
/// expression (up to 256 levels: a WHERE clause of 255 ANDs), and so does a join pipeline per
/// step. Servers run their statements on threads this big (a thread's stack is reserved, not
/// used, until it is needed).
pub const STATEMENT_STACK_BYTES: usize = 8 << 20;
/// Most join steps run as one pipeline (it recurses once per step); longer FROM clauses keep
/// the rows between pipelines in a store that spills past `work_mem`.
pub const PIPELINE_STEPS_MAX: usize = 16;
/// Most partial rows for which a join step probes the inner table's primary key or index once
/// per row (an index nested-loop join) rather than reading the whole table into a hash table:
/// up to this many key lookups cost less than a scan of any but a small table, and a selective
/// outer side is exactly the OLTP join.
pub const INDEX_JOIN_OUTER_ROWS_MAX: usize = 1024;

/// A result column.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnInfo {
    pub name: String,
    pub ty: DataType,
    /// `Some(typmod)` when the column is a `character(n)` (`bpchar`), which is held as text:
    /// the wire describes it as PostgreSQL's bpchar (OID 1042) with `typmod` (`n + 4`, or -1
    /// without a length).
    pub bpchar: Option<i32>,
    /// The declared type's modifier where the column has one: read straight from a
    /// `numeric(10,3)` or `varchar(20)` column, or cast to such a type. A view's column keeps
    /// it, and the wire describes the column with it, as PostgreSQL does.
    pub kind: TextKind,
    /// The table (or view, or catalog) column the value is read straight from, as its OID and
    /// column number: the wire describes the column with them (drivers look the column up
    /// with them), as PostgreSQL does; through subqueries and CTEs too. `None` for anything
    /// computed.
    pub source: Option<(u32, i16)>,
}

impl ColumnInfo {
    /// A computed `text` column (SHOW's, EXPLAIN's).
    #[must_use]
    pub fn text(name: impl Into<String>) -> ColumnInfo {
        ColumnInfo {
            name: name.into(),
            ty: DataType::Text,
            bpchar: None,
            kind: TextKind::Text,
            source: None,
        }
    }
}

#[derive(Debug)]
enum SortKey {
    Output(usize),
    Expr(Expr),
}

#[derive(Debug)]
struct SortSpec {
    key: SortKey,
    desc: bool,
    nulls_first: bool,
}

#[derive(Debug)]
struct AggPlan {
    group_by: Vec<Expr>,
    aggs: Vec<AggCall>,
    having: Option<Expr>,
}

/// Feeds every row of an input to the function it is given.
type RowSource<'a> = dyn FnMut(&mut dyn FnMut(&[Value]) -> SqlResult<()>) -> SqlResult<()> + 'a;

/// Takes the rows a join step produces, one by one.
type Emit<'a> = dyn FnMut(Vec<Value>) -> SqlResult<()> + 'a;

/// What the rows of a FROM clause go to, one at a time: the row is the consumer's to take
/// values out of (it is dropped, or overwritten by the next, once the call returns).
type FromRowSink<'a> = dyn FnMut(&mut Vec<Value>) -> SqlResult<()> + 'a;

/// A hash join's state between its phases (see [`Executor::hash_join_into`]).
struct HashTable {
    /// RIGHT or FULL: relation rows without a partner are padded at the end.
    outer_join: bool,
    /// LEFT or FULL: partial rows without a partner are padded.
    pads_left: bool,
    depth: u32,
    state: borealis_common::fasthash::FastState,
    build_rows: Vec<Vec<Value>>,
    /// Build key to the build rows that have it.
    table: FastMap<Vec<u8>, Vec<usize>>,
    /// What the table holds, roughly.
    bytes: usize,
    /// Once the table outgrew `work_mem`: the build rows by partition, and the partial rows.
    build_files: Vec<crate::spill::SpillFile>,
    probe_files: Vec<crate::spill::SpillFile>,
    /// RIGHT and FULL joins: which relation rows found a partner.
    partnered: Vec<bool>,
    probed: u64,
    key: Vec<u8>,
    buf: Vec<u8>,
}

impl HashTable {
    /// The partition of the key last computed.
    fn partition(&self) -> usize {
        use std::hash::BuildHasher;
        (self.state.hash_one(self.key.as_slice()) % crate::spill::SPILL_PARTITIONS as u64) as usize
    }
}

/// A join step in the pipeline of [`Executor::for_each_joined`].
#[derive(Default)]
struct Stage {
    run: StageRun,
    /// The first step: its one partial row is the empty one.
    first: bool,
    /// Rows it produced.
    rows: usize,
    stats: SpillStats,
    /// Its input ended and it finished.
    done: bool,
}

/// What a join step holds while its partial rows come (see [`Executor::for_each_joined`]).
#[derive(Default)]
enum StageRun {
    /// No partial row came yet.
    #[default]
    Fresh,
    /// An index nested loop: the partial rows to look up, at most
    /// [`INDEX_JOIN_OUTER_ROWS_MAX`] of them.
    Lookup(Vec<Vec<Value>>),
    /// A merge join: every partial row (in a store that spills past `work_mem`), sorted at
    /// the end.
    Merge(crate::cursor::RowStore),
    Hash(HashTable),
    /// The first step's relation, read once for the one empty partial row.
    Streamed,
    /// An inner or left nested loop's first partial row, waiting: if no other comes, the
    /// relation is read once, straight into the join, instead of being kept for re-reading
    /// (a nested loop below one outer row, as a lookup of one customer gives).
    NestedFirst(Vec<Value>),
    /// A nested loop: the relation's rows and, for a RIGHT or FULL join, which found a
    /// partner.
    Nested {
        rows: crate::cursor::RowStore,
        partnered: Vec<bool>,
    },
}

/// Whether a join step reads its relation by key lookups per partial row (while there are
/// few of them).
fn looks_up_keys(rel: &Relation, step: &JoinStep) -> bool {
    step.lookup.is_some() && matches!(rel.source, Source::Table(_)) && !rel.lateral
}

/// Whether a join step runs as a plain nested loop (no keys to hash, merge or look up, not
/// LATERAL) that needs nothing beyond each partial row's own matches: an inner or left join,
/// which may read its relation straight into the join when only one partial row comes
/// ([`StageRun::NestedFirst`]).
fn nests_alone(step: &JoinStep) -> bool {
    step.build.is_empty()
        && step.merge.is_none()
        && step.lookup.is_none()
        && matches!(step.kind, JoinKind::Inner | JoinKind::Left)
}

/// The relation of a FROM clause that is one relation read as it is (no lateral, no key
/// lookups, no merge, no filters beyond its own), whose rows are the FROM clause's rows.
fn single_scan(from: &FromPlan) -> Option<&Relation> {
    let [step] = from.steps.as_slice() else {
        return None;
    };
    let rel = &from.relations[step.rel];
    let single = from.residual.is_none()
        && step.filter.is_none()
        && from.relations[0].offset == 0
        && !rel.lateral
        && !looks_up_keys(rel, step)
        && step.merge.is_none();
    single.then_some(rel)
}

/// Whether function `name` gives the same value for the same arguments within a statement and
/// has no effect, so that one call may stand for many: not volatile, not `set_config`, not a
/// `pg_` function (sleeps, locks, backend control).
pub(crate) fn same_value_per_call(name: &str) -> bool {
    !VOLATILE_FUNCTIONS.contains(&name) && name != "set_config" && !name.starts_with("pg_")
}

/// Whether condition `f`, over no relation of its FROM clause, may be checked once per read
/// of the FROM clause rather than once per row: nothing in it reads the row (not even through
/// a correlated subquery) or gives another value per call (`random()`, `nextval`, the clock).
fn checked_once(f: &Expr) -> bool {
    let mut once = true;
    f.visit(&mut |x| {
        once &= match x {
            Expr::Column(_) | Expr::Srf(_) | Expr::Agg(_) | Expr::Window(_) | Expr::GroupKey(_) => {
                false
            }
            Expr::ScalarSubquery(q) | Expr::ArraySubquery(q) => !q.correlated,
            Expr::Exists { query, .. } | Expr::InSubquery { query, .. } => !query.correlated,
            Expr::Func { name, .. } => same_value_per_call(name),
            _ => true,
        };
    });
    once
}

/// One group of a hash aggregate: its key values, its accumulators, its first row.
type Group = (Vec<Value>, Vec<Accumulator>, Vec<Value>);

/// What a hash aggregate used: batches (1, plus one per spill file aggregated), the most
/// memory its groups took at once, the bytes written to temporary files.
#[derive(Default)]
struct SpillStats {
    batches: usize,
    peak_bytes: usize,
    disk_bytes: u64,
    /// A hash join's most build rows in one batch's table.
    rows_peak: usize,
}

impl SpillStats {
    /// Adds a parallel part's counts (its peak adds too: the parts ran at once).
    fn merge(&mut self, other: &SpillStats) {
        self.batches = self.batches.max(other.batches);
        self.peak_bytes += other.peak_bytes;
        self.disk_bytes += other.disk_bytes;
        self.rows_peak = self.rows_peak.max(other.rows_peak);
    }

    fn memory_use(&self) -> explain::MemoryUse {
        explain::MemoryUse {
            batches: self.batches,
            peak_bytes: self.peak_bytes,
            disk_bytes: self.disk_bytes,
            rows_peak: self.rows_peak,
            sort: None,
        }
    }
}

#[derive(Debug)]
enum Source {
    Table(TableDef),
    Derived(Box<QueryPlan>),
    /// A `pg_catalog` / `information_schema` table computed from the catalog.
    Virtual(&'static VirtualTable),
    /// `generate_series(start, stop [, step])` over integers; the arguments may reference
    /// enclosing queries.
    Series(Vec<Expr>),
    /// `unnest(array)`: one row per element of an array, of the array's element type (an
    /// array in text form, from a catalog column, is read as one of that type).
    Unnest(Expr, DataType),
    /// `pg_options_to_table(options)`: one row (`option_name`, `option_value`) per `name=value`
    /// element of an options array.
    Options(Expr),
    /// `pg_partition_ancestors(rel)`: Borealis has no partitioned tables, so a relation's only
    /// ancestor is itself.
    PartitionAncestors(Expr),
    /// A sequence's state as one row: `last_value`, `log_cnt`, `is_called`.
    Sequence(crate::sequence::SequenceDef),
    /// A recursive common table expression's reference to itself: the rows of the previous
    /// round (see [`Body::Recursive`]).
    WorkTable(usize),
    /// A json set-returning function (`jsonb_each(j)` and friends, see `json::set_rows`);
    /// LATERAL when its argument reads the FROM items before it.
    JsonRows(String, Expr),
}

/// One FROM item: where its rows come from and where they sit in the joined row.
#[derive(Debug)]
struct Relation {
    source: Source,
    offset: usize,
    width: usize,
    /// Applied to the relation's own row while reading it.
    filter: Option<Expr>,
    /// How a table's rows are read, chosen from `filter` (see [`choose_access`]).
    access: Access,
    /// The columns of a table's own row that the query reads (its filter's, its join keys',
    /// and those the joined row's expressions read), when the planner could tell; the others
    /// are never decoded and read as NULL ([`Planner::choose_scans`]). `None`: every column.
    needed: Option<Vec<bool>>,
    /// A table's statistics, when the planner read them (see [`crate::stats`]).
    stats: Option<std::sync::Arc<crate::stats::TableStats>>,
    /// A LATERAL derived table: run once per row of the relations before it.
    lateral: bool,
    /// `WITH ORDINALITY` on a function in FROM: each row ends with its 1-based number.
    ordinality: bool,
    /// The name the query refers to the relation by (its alias, else its own name), and its
    /// column names: EXPLAIN prints them.
    label: String,
    column_names: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum JoinKind {
    Inner,
    Left,
    /// Everything joined so far RIGHT JOIN the relation: relation rows that matched no partial
    /// row are added with NULLs elsewhere.
    Right,
    /// LEFT and RIGHT at once.
    Full,
    /// A semi-join (`WHERE EXISTS (…)` or `x IN (SELECT …)` pulled up, see
    /// [`pull_up_sublinks`]): each partial row goes on once, unchanged, if some relation row
    /// matches its keys.
    Semi,
    /// An anti-join (`WHERE NOT EXISTS (…)` pulled up): each partial row goes on, unchanged,
    /// only if no relation row matches its keys (a NULL key matches nothing, so it goes on).
    Anti,
}

impl JoinKind {
    /// A semi- or anti-join: the relation's columns never reach the joined row.
    fn filters_only(self) -> bool {
        matches!(self, JoinKind::Semi | JoinKind::Anti)
    }
}

/// Joins one relation into the partial rows.
#[derive(Debug)]
struct JoinStep {
    rel: usize,
    kind: JoinKind,
    /// Hash-join keys: `probe[i]` over the partial row equals `build[i]` over the relation's row.
    probe: Vec<Expr>,
    build: Vec<Expr>,
    /// A LEFT JOIN's remaining ON condition, over the joined row.
    on: Option<Expr>,
    /// Conjuncts covered once this relation is joined, over the joined row.
    filter: Option<Expr>,
    /// A table's key that the hash-join keys can probe (see [`IndexLookup`]).
    lookup: Option<IndexLookup>,
    /// Run as a merge join instead of a hash join (see [`merge`]).
    merge: Option<merge::MergeJoin>,
}

/// An index nested-loop join: per partial row, the values of some hash-join probe keys pin the
/// leading columns of the inner table's primary key or of one of its indexes, and only the rows
/// under that prefix are read. Every hash-join key is still compared afterwards, as the hash
/// join compares them, so the answer does not depend on which join ran.
#[derive(Debug)]
struct IndexLookup {
    /// The key read; `eq` holds one placeholder per pinned column, set from the probe values.
    range: KeyRange,
    /// `probe_of[slot]`: which probe expression gives `range.eq[slot]`.
    probe_of: Vec<usize>,
}

/// The key of `def` whose leading columns the build keys (over the table's row) cover best: a
/// fully pinned primary key or unique index first, then the most leading columns.
fn index_lookup(def: &TableDef, build: &[Expr]) -> Option<IndexLookup> {
    let mut keys: Vec<(Option<usize>, &[usize], bool)> = Vec::new();
    if !def.pk.is_empty() {
        keys.push((None, &def.pk, true));
    }
    for (i, ix) in def.indexes.iter().enumerate() {
        keys.push((Some(i), &ix.columns, ix.unique));
    }
    let mut best: Option<((bool, usize), IndexLookup)> = None;
    for (index, cols, unique) in keys {
        let mut probe_of = Vec::new();
        for c in cols {
            match build
                .iter()
                .position(|b| matches!(b, Expr::Column(x) if x == c))
            {
                Some(i) => probe_of.push(i),
                None => break,
            }
        }
        if probe_of.is_empty() {
            continue;
        }
        let score = (unique && probe_of.len() == cols.len(), probe_of.len());
        if best.as_ref().is_none_or(|(b, _)| score > *b) {
            best = Some((
                score,
                IndexLookup {
                    range: KeyRange {
                        index,
                        eq: vec![Expr::Literal(Value::Null); probe_of.len()],
                        lower: None,
                        upper: None,
                        rows: None,
                        index_only: false,
                        backward: false,
                        not_null: false,
                    },
                    probe_of,
                },
            ));
        }
    }
    best.map(|(_, l)| l)
}

/// The key an equi-join on `build` (over `def`'s row) can probe: whether it pins one row, and
/// its range.
pub(crate) fn probe_key(def: &TableDef, build: &[Expr]) -> Option<(bool, KeyRange)> {
    let l = index_lookup(def, build)?;
    let unique = l.range.pinned(def) && l.probe_of.len() == l.range.columns(def).len();
    Some((unique, l.range))
}

#[derive(Debug)]
struct FromPlan {
    relations: Vec<Relation>,
    width: usize,
    steps: Vec<JoinStep>,
    residual: Option<Expr>,
}

#[derive(Debug)]
struct SelectPlan {
    from: FromPlan,
    aggregate: Option<AggPlan>,
    /// Window function calls, computed after the aggregate and HAVING, before the projection.
    windows: WindowPlan,
    projections: Vec<Expr>,
    distinct: bool,
    /// `DISTINCT ON (…)`: after the sort, only the first row of each run of equal values.
    distinct_on: Vec<Expr>,
    /// PostgreSQL's min/max rewrite: when not empty, the aggregate (only `min`s and `max`es of
    /// key columns, no GROUP BY) reads, for each of its calls in order, the one row this key
    /// range gives first (its NULLs skipped, `max` read backwards) instead of the whole table.
    /// The aggregate over those few rows is the aggregate over all: each call's extreme row is
    /// among them, and no other row beats it. Chosen after binding ([`Planner::choose_scans`]).
    minmax: Vec<KeyRange>,
    /// The select list's set-returning calls: each projected row becomes as many rows as the
    /// longest of their value lists (see [`crate::srf`]).
    srfs: Vec<crate::srf::SrfCall>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SetOp {
    Union,
    Intersect,
    Except,
}

#[derive(Debug)]
enum Body {
    Select(Box<SelectPlan>),
    Set {
        op: SetOp,
        all: bool,
        left: Box<QueryPlan>,
        right: Box<QueryPlan>,
    },
    Query(Box<QueryPlan>),
    /// `VALUES (…), (…)`: rows of expressions, each cast to its column's type.
    Values(Vec<Vec<Expr>>),
    /// `WITH RECURSIVE`'s `anchor UNION [ALL] step`: `step` reads work table `id` (the rows the
    /// previous round added) until a round adds none.
    Recursive {
        id: usize,
        all: bool,
        anchor: Box<QueryPlan>,
        step: Box<QueryPlan>,
    },
}

/// A bound query.
#[derive(Debug)]
pub struct QueryPlan {
    body: Body,
    order_by: Vec<SortSpec>,
    limit: Option<Expr>,
    offset: Option<Expr>,
    /// `FETCH FIRST n ROWS WITH TIES`: past the limit, the rows whose ORDER BY keys equal the
    /// last row's are kept too.
    with_ties: bool,
    pub columns: Vec<ColumnInfo>,
    /// The body's rows come in ORDER BY order already (a single table read in the order of
    /// its key, or a last merge join on the ORDER BY columns; see [`Planner::choose_scans`]):
    /// no sort, and for a single table LIMIT stops the read early.
    presorted: bool,
}

/// The columns of a sequence read as a relation.
const SEQUENCE_COLUMNS: [(&str, DataType); 3] = [
    ("last_value", DataType::Int8),
    ("log_cnt", DataType::Int8),
    ("is_called", DataType::Bool),
];

/// The element type of an array `unnest` reads: the element type of an explicit cast
/// (`'{1,2}'::oid[]`), else text; used when the argument has no array type of its own (a
/// catalog column that carries an array as text).
fn array_element_type(e: &ast::Expr) -> DataType {
    match e {
        ast::Expr::Cast {
            data_type: ast::DataType::Array(elem),
            ..
        } => match elem {
            ast::ArrayElemTypeDef::AngleBracket(t)
            | ast::ArrayElemTypeDef::SquareBracket(t, _)
            | ast::ArrayElemTypeDef::Parenthesis(t)
            | ast::ArrayElemTypeDef::Qualified(t, _) => {
                crate::expr::data_type(t).unwrap_or(DataType::Text)
            }
            ast::ArrayElemTypeDef::None => DataType::Text,
        },
        ast::Expr::Nested(inner) => array_element_type(inner),
        _ => DataType::Text,
    }
}

/// The scope of a function in FROM, qualified by `table`: its `columns`, then, `WITH ORDINALITY`,
/// a bigint `ordinality`; the alias's column list renames them in order.
fn function_scope(
    table: &str,
    columns: &[(&str, DataType)],
    ordinality: bool,
    alias: Option<&ast::TableAlias>,
) -> Vec<ScopeColumn> {
    let ordinal = ordinality.then_some(("ordinality", DataType::Int8));
    let mut cols: Vec<ScopeColumn> = columns
        .iter()
        .copied()
        .chain(ordinal)
        .map(|(name, ty)| ScopeColumn {
            nullable: false,
            table: Some(table.to_string()),
            name: name.to_string(),
            ty,
            bpchar: None,
            kind: TextKind::Text,
            plain_text: false,
            rel_oid: None,
            origin: None,
            source: None,
            hidden: false,
            merged: Vec::new(),
        })
        .collect();
    if let Some(a) = alias {
        for (c, a) in cols.iter_mut().zip(&a.columns) {
            c.name = ident_name(&a.name);
        }
    }
    cols
}

/// What a name in FROM refers to.
pub enum Resolved {
    Table(TableDef),
    Virtual(&'static VirtualTable),
    View(crate::catalog::ViewDef),
    /// A sequence read as a relation: one row of its state (`SELECT last_value FROM seq`).
    Sequence(crate::sequence::SequenceDef),
}

/// A common table expression in scope while the query of its WITH is bound. A reference binds
/// the CTE's query in place, as a derived table, seeing the CTEs defined before it (all of its
/// WITH's, for WITH RECURSIVE) and never those of the query that refers to it.
struct CteEntry {
    name: String,
    columns: Vec<String>,
    query: ast::Query,
    recursive: bool,
    /// Index after the last CTE of the same WITH.
    group_end: usize,
    state: CteState,
    /// A data-modifying CTE of a top-level WITH, already run: what it returned.
    returned: Option<Rc<CteRows>>,
}

/// What a data-modifying CTE of a top-level WITH returned (see [`with_top_level_ctes`]).
pub(crate) struct CteRows {
    /// Whether it has a RETURNING clause (without one, a reference to it is an error).
    pub returning: bool,
    pub columns: Vec<ColumnInfo>,
    pub rows: Vec<Vec<Value>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CteState {
    /// Bound in place wherever it is referenced.
    Plain,
    /// Its non-recursive term is being bound: it may not refer to the CTE.
    Anchor,
    /// A recursive CTE not of the form `anchor UNION [ALL] step`: it may not refer to itself.
    NotUnion,
    /// Its recursive term is being bound: a reference reads work table `id`; `refs` counts them.
    /// `depth`: how many enclosing scopes the term has; a reference from deeper is inside a
    /// subquery.
    Step {
        id: usize,
        refs: usize,
        depth: usize,
    },
}

/// Whether a CTE's query is a data-modifying statement: the statement, if so.
pub(crate) fn data_modifying(query: &ast::Query) -> Option<&ast::Statement> {
    match &*query.body {
        ast::SetExpr::Insert(s) | ast::SetExpr::Update(s) | ast::SetExpr::Delete(s) => Some(s),
        _ => None,
    }
}

/// A WITH the binder meets is never a top-level one with data-modifying CTEs (those are run by
/// the session, which binds what follows them with [`with_top_level_ctes`]): refuses one, as
/// PostgreSQL does. Kept out of [`Planner::bind`]'s frame.
#[inline(never)]
fn refuse_nested_data_modifying(with: &ast::With) -> SqlResult<()> {
    if with
        .cte_tables
        .iter()
        .any(|c| data_modifying(&c.query).is_some())
    {
        return Err(SqlError::NotSupported(
            "WITH clause containing a data-modifying statement must be at the top level".into(),
        ));
    }
    Ok(())
}

/// The scope entries of the first `count` CTEs of `with`, whose group ends at `group_end`;
/// `returned[k]` holds what data-modifying CTE `k` already returned. A name given twice is
/// refused as PostgreSQL refuses it (42712).
#[inline(never)]
fn cte_entries(
    with: &ast::With,
    count: usize,
    group_end: usize,
    returned: &[Option<Rc<CteRows>>],
) -> SqlResult<Vec<CteEntry>> {
    let mut entries: Vec<CteEntry> = Vec::with_capacity(count);
    for (k, cte) in with.cte_tables.iter().take(count).enumerate() {
        let name = ident_name(&cte.alias.name);
        if entries.iter().any(|e| e.name == name) {
            return Err(SqlError::DuplicateAlias(format!(
                "WITH query name \"{name}\" specified more than once"
            )));
        }
        entries.push(CteEntry {
            name,
            columns: cte
                .alias
                .columns
                .iter()
                .map(|c| ident_name(&c.name))
                .collect(),
            query: (*cte.query).clone(),
            recursive: with.recursive,
            group_end,
            state: CteState::Plain,
            returned: returned.get(k).cloned().flatten(),
        });
    }
    Ok(entries)
}

/// Runs `f` with the first `count` CTEs of top-level WITH `with` in scope, as the binder puts
/// a WITH's CTEs in scope for its query. `returned[k]`: what data-modifying CTE `k` returned
/// (it has run already); a reference to it reads those rows, never runs it again. Refuses
/// duplicate names as [`Planner::bind`] does.
pub(crate) fn with_top_level_ctes<R>(
    with: &ast::With,
    count: usize,
    returned: &[Option<Rc<CteRows>>],
    f: impl FnOnce() -> SqlResult<R>,
) -> SqlResult<R> {
    let base = CTES.with(|c| c.borrow().len());
    let group_end = base + count;
    let entries = cte_entries(with, count, group_end, returned)?;
    CTES.with(|c| c.borrow_mut().extend(entries));
    let out = f();
    CTES.with(|c| c.borrow_mut().truncate(base));
    out
}

/// A reference to CTE `i` if it is a data-modifying one that has run: its rows, as constants.
#[inline(never)]
fn returned_reference(i: usize) -> Option<SqlResult<(CteSource, String)>> {
    let (name, aliases, returned) = CTES.with(|c| {
        let c = c.borrow();
        let e = &c[i];
        e.returned
            .clone()
            .map(|r| (e.name.clone(), e.columns.clone(), r))
    })?;
    if !returned.returning {
        return Some(Err(SqlError::NotSupported(format!(
            "WITH query \"{name}\" does not have a RETURNING clause"
        ))));
    }
    let mut columns = returned.columns.clone();
    if aliases.len() > columns.len() {
        return Some(Err(SqlError::InvalidColumnReference(format!(
            "WITH query \"{name}\" has {} columns available but {} columns specified",
            columns.len(),
            aliases.len()
        ))));
    }
    for (c, a) in columns.iter_mut().zip(&aliases) {
        c.name.clone_from(a);
    }
    let rows = returned
        .rows
        .iter()
        .map(|r| r.iter().cloned().map(Expr::Literal).collect())
        .collect();
    let plan = QueryPlan {
        body: Body::Values(rows),
        order_by: Vec::new(),
        limit: None,
        offset: None,
        with_ties: false,
        columns,
        presorted: false,
    };
    Some(Ok((CteSource::Plan(plan), name)))
}

/// Most distinct rows a recursive UNION (not UNION ALL) remembers to drop repeats: that set
/// stays in memory, as PostgreSQL's recursive union keeps its hash table. The result itself
/// streams and the work table spills, so UNION ALL has no bound (PostgreSQL's neither).
pub const RECURSIVE_ROWS_MAX: usize = JOIN_ROWS_MAX;

thread_local! {
    /// CTEs in scope on this thread's current bind, innermost last.
    static CTES: RefCell<Vec<CteEntry>> = const { RefCell::new(Vec::new()) };
}

/// What a reference to a CTE binds to.
enum CteSource {
    Plan(QueryPlan),
    /// Inside the CTE's own recursive term: work table `id`, with these columns.
    Work(usize, Vec<ColumnInfo>),
}

thread_local! {
    /// The columns of the work tables whose recursive terms are being bound.
    static WORK_COLUMNS: RefCell<HashMap<usize, Vec<ColumnInfo>>> = RefCell::new(HashMap::new());
}

/// Numbers work tables.
static WORK_TABLE_IDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Most views expanded inside one another while binding a query (a view redefined to read
/// itself, through others, would expand without end).
const VIEW_DEPTH_MAX: usize = 64;

thread_local! {
    /// Views being expanded on this thread's current bind.
    static VIEW_DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// What a recorded bind read: (OID, column name or `None` for the relation itself).
pub type Recorded = Vec<(u32, Option<String>)>;

thread_local! {
    /// The relations and columns the query being bound reads, while a CREATE VIEW records
    /// them (see [`recording`]).
    static RECORDED: RefCell<Option<Recorded>> = const { RefCell::new(None) };
}

/// Runs `f` (a bind) and returns, with its result, the user relations and columns it read —
/// directly, not through the views it expanded.
pub fn recording<T>(f: impl FnOnce() -> T) -> (T, Recorded) {
    let previous = RECORDED.with(|r| r.borrow_mut().replace(Vec::new()));
    let out = f();
    let recorded = RECORDED.with(|r| std::mem::replace(&mut *r.borrow_mut(), previous));
    (out, recorded.unwrap_or_default())
}

/// Notes that the query being bound reads relation `oid` (when a bind is being recorded).
fn record_relation(oid: u32) {
    RECORDED.with(|r| {
        if let Some(v) = r.borrow_mut().as_mut()
            && !v.iter().any(|(o, c)| *o == oid && c.is_none())
        {
            v.push((oid, None));
        }
    });
}

/// Notes that the query being bound reads column `name` of relation `oid`.
pub fn record_column(oid: u32, name: &str) {
    RECORDED.with(|r| {
        if let Some(v) = r.borrow_mut().as_mut()
            && !v
                .iter()
                .any(|(o, c)| *o == oid && c.as_deref() == Some(name))
        {
            v.push((oid, Some(name.to_string())));
        }
    });
}

/// Resolves a possibly schema-qualified relation name: `pg_catalog.x` and
/// `information_schema.x` are virtual catalog tables; any other name is looked up as
/// [`crate::namespace`] says (a qualified name in its schema, an unqualified one through the
/// session's temporary schema and `search_path`), else, unqualified, a `pg_catalog` table
/// (pg_catalog is implicitly on every search path).
pub fn resolve_relation(engine: &Engine, txn: &Txn, name: &ast::ObjectName) -> SqlResult<Resolved> {
    let (schema, table) = crate::namespace::split_name(name)?;
    if let Some(s @ ("pg_catalog" | "information_schema")) = schema.as_deref() {
        return crate::catalog_views::lookup(Some(s), &table)
            .map(Resolved::Virtual)
            .ok_or_else(|| SqlError::UndefinedTable(format!("{s}.{table}")));
    }
    let Some(key) = crate::namespace::find_parts(engine, txn, schema.as_deref(), &table)? else {
        return match schema {
            Some(s) => Err(SqlError::UndefinedTable(format!("{s}.{table}"))),
            None => crate::catalog_views::lookup(None, &table)
                .map(Resolved::Virtual)
                .ok_or(SqlError::UndefinedTable(table)),
        };
    };
    resolve_key(engine, txn, &key)
}

/// The relation of an existing catalog key.
pub fn resolve_key(engine: &Engine, txn: &Txn, key: &str) -> SqlResult<Resolved> {
    match lookup_table(engine, txn, key) {
        Ok(def) => Ok(Resolved::Table(def)),
        Err(SqlError::WrongObjectType(_)) if let Some(view) = lookup_view(engine, txn, key)? => {
            Ok(Resolved::View(view))
        }
        Err(SqlError::WrongObjectType(_))
            if let Some(seq) = crate::sequence::lookup_sequence(engine, txn, key)? =>
        {
            Ok(Resolved::Sequence(seq))
        }
        Err(e) => Err(e),
    }
}

/// Reads a table definition through the transaction (it sees its own DDL).
pub fn lookup_table(engine: &Engine, txn: &Txn, name: &str) -> SqlResult<TableDef> {
    match engine.get(txn, borealis_engine::CATALOG, name.as_bytes())? {
        Some(bytes)
            if matches!(
                bytes.first(),
                Some(&crate::catalog::VIEW_DEF_TAG | &crate::sequence::SEQUENCE_DEF_TAG)
            ) =>
        {
            Err(SqlError::WrongObjectType(format!(
                "\"{}\" is not a table",
                crate::namespace::split_key(name).1
            )))
        }
        Some(bytes) => {
            let mut def = TableDef::decode(&bytes)?;
            def.schema = crate::namespace::split_key(name).0.to_string();
            Ok(def)
        }
        None => Err(SqlError::UndefinedTable(crate::namespace::display_key(
            name,
        ))),
    }
}

/// The view named `name`, if the catalog entry of that name is one.
pub fn lookup_view(
    engine: &Engine,
    txn: &Txn,
    name: &str,
) -> SqlResult<Option<crate::catalog::ViewDef>> {
    match engine.get(txn, borealis_engine::CATALOG, name.as_bytes())? {
        Some(bytes) => Ok(crate::catalog::ViewDef::decode(&bytes)?.map(|mut v| {
            v.schema = crate::namespace::split_key(name).0.to_string();
            v
        })),
        None => Ok(None),
    }
}

/// Parses a view's stored query.
pub fn parse_view_query(view: &crate::catalog::ViewDef) -> SqlResult<ast::Query> {
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let mut stmts = sqlparser::parser::Parser::parse_sql(&dialect, &view.sql)
        .map_err(|e| SqlError::Corrupted(format!("view \"{}\": {e}", view.name)))?;
    match stmts.pop() {
        Some(ast::Statement::Query(q)) if stmts.is_empty() => Ok(*q),
        _ => Err(SqlError::Corrupted(format!(
            "view \"{}\" is not a query",
            view.name
        ))),
    }
}

/// The declared modifier of a set operation's column: the one both sides share, when they
/// share the type too (PostgreSQL's `select_common_typmod`); else, as PostgreSQL resolves the
/// type from the left, `character varying` without a length where the left side is a
/// `varchar` and the right a string; else none.
fn set_column_kind(l: &ColumnInfo, r: &ColumnInfo) -> TextKind {
    match (l.kind, r.kind) {
        (a, b) if a == b && l.ty == r.ty => a,
        (TextKind::Varchar(_), TextKind::Varchar(_) | TextKind::Text)
            if l.ty == DataType::Text && r.ty == DataType::Text =>
        {
            TextKind::Varchar(None)
        }
        _ => TextKind::Text,
    }
}

/// The column number (PostgreSQL's attnum) of the column at `position`.
fn attnum(position: usize) -> i16 {
    i16::try_from(position + 1).unwrap_or(i16::MAX)
}

/// The scope of one table: its columns, qualified by its name or alias.
#[must_use]
pub fn table_scope(def: &TableDef, alias: Option<&str>) -> Vec<ScopeColumn> {
    let t = alias.unwrap_or(&def.name).to_string();
    def.columns
        .iter()
        .enumerate()
        .map(|(i, c)| ScopeColumn {
            nullable: false,
            table: Some(t.clone()),
            name: c.name.clone(),
            ty: c.ty,
            bpchar: c.bpchar_typmod(),
            kind: c.text_kind,
            plain_text: c.ty == DataType::Text
                && matches!(c.text_kind, crate::catalog::TextKind::Text),
            rel_oid: Some(def.oid),
            origin: Some(def.oid),
            source: Some((def.oid, attnum(i))),
            hidden: false,
            merged: Vec::new(),
        })
        .collect()
}

/// Resolves the single table of a FROM clause (UPDATE and DELETE).
pub fn single_table(
    from: &[ast::TableWithJoins],
) -> SqlResult<Option<(ast::ObjectName, Option<String>)>> {
    match from {
        [] => Ok(None),
        [twj] if twj.joins.is_empty() => match &twj.relation {
            ast::TableFactor::Table {
                name,
                alias,
                args: None,
                ..
            } => Ok(Some((
                name.clone(),
                alias.as_ref().map(|a| ident_name(&a.name)),
            ))),
            other => Err(SqlError::FeatureNotSupported(format!("FROM {other}"))),
        },
        _ => Err(SqlError::FeatureNotSupported("joins here".into())),
    }
}

/// Binds queries against the catalog as a transaction sees it.
pub struct Planner<'a> {
    pub engine: &'a Engine,
    pub txn: &'a Txn,
    /// The plan methods the session allows (`enable_hashjoin` and friends).
    pub methods: crate::cost::Methods,
}

/// A WHERE or inner-join ON conjunct waiting for the join step that covers it.
struct Conjunct {
    expr: Expr,
    /// Relations referenced; `None` when unknown (a correlated subquery): all of them.
    rels: Option<Vec<usize>>,
}

fn relation_of(relations: &[Relation], col: usize) -> usize {
    relations
        .iter()
        .position(|r| col >= r.offset && col < r.offset + r.width)
        .unwrap_or(0)
}

fn referenced_relations(e: &Expr, relations: &[Relation]) -> Option<Vec<usize>> {
    let mut cols = Vec::new();
    let mut correlated = false;
    e.visit(&mut |x| match x {
        Expr::Column(c) => cols.push(*c),
        Expr::ScalarSubquery(q)
        | Expr::ArraySubquery(q)
        | Expr::Exists { query: q, .. }
        | Expr::InSubquery { query: q, .. }
            if q.correlated =>
        {
            correlated = true
        }
        _ => {}
    });
    if correlated {
        return None;
    }
    let mut rels: Vec<usize> = cols.iter().map(|c| relation_of(relations, *c)).collect();
    rels.sort_unstable();
    rels.dedup();
    Some(rels)
}

fn split_conjuncts(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::Binary {
            op: BinOp::And,
            left,
            right,
            ..
        } => {
            split_conjuncts(*left, out);
            split_conjuncts(*right, out);
        }
        other => out.push(other),
    }
}

fn and_all(mut es: Vec<Expr>) -> Option<Expr> {
    let first = if es.is_empty() {
        return None;
    } else {
        es.remove(0)
    };
    Some(es.into_iter().fold(first, |l, r| Expr::Binary {
        op: BinOp::And,
        left: Box::new(l),
        right: Box::new(r),
        ty: DataType::Bool,
    }))
}

/// The element type of `generate_series` from its arguments' types, as PostgreSQL resolves
/// the overloads: a timestamp argument makes a timestamp series, a date or timestamptz one a
/// timestamptz series (dates are cast to timestamptz), a numeric one a numeric series, bigint
/// a bigint series, else integer.
pub(crate) fn series_type(args: &[Option<DataType>]) -> SqlResult<DataType> {
    let has = |t: DataType| args.contains(&Some(t));
    Ok(if has(DataType::Timestamp) {
        DataType::Timestamp
    } else if has(DataType::TimestampTz) || has(DataType::Date) {
        DataType::TimestampTz
    } else if has(DataType::Numeric) {
        DataType::Numeric
    } else if has(DataType::Int8) {
        DataType::Int8
    } else {
        DataType::Int4
    })
}

/// The scope positions a GROUP BY determines beyond its own expressions: every column of a
/// table whose whole primary key it lists as plain columns.
fn dependent_columns(relations: &[Relation], group_by: &[Expr], width: usize) -> Vec<bool> {
    let mut out = vec![false; width];
    for r in relations {
        let Source::Table(def) = &r.source else {
            continue;
        };
        let grouped = |c: usize| {
            group_by
                .iter()
                .any(|g| matches!(g, Expr::Column(i) if *i == r.offset + c))
        };
        if !def.pk.is_empty() && def.pk.iter().all(|&c| grouped(c)) {
            for d in out.iter_mut().skip(r.offset).take(r.width) {
                *d = true;
            }
        }
    }
    out
}

fn hash_class(t: Option<DataType>) -> Option<u8> {
    match t? {
        DataType::Int2 | DataType::Int4 | DataType::Int8 => Some(1),
        DataType::Float4 | DataType::Float8 => Some(2),
        DataType::Text => Some(3),
        DataType::Bool => Some(4),
        DataType::Timestamp => Some(5),
        DataType::Numeric => Some(6),
        DataType::Bytea => Some(7),
        DataType::Uuid => Some(8),
        DataType::Date => Some(9),
        DataType::TimestampTz => Some(10),
        DataType::Time => Some(11),
        DataType::TimeTz => Some(14),
        DataType::Interval => Some(12),
        DataType::Jsonb => Some(13),
        // json and jsonpath have no equality operator.
        DataType::Json | DataType::JsonPath => None,
        // Arrays hash by their key encoding, which tells equal arrays of equal classes apart
        // from every other value.
        DataType::Array(e) => hash_class(Some(*e)).map(|c| c | 0x80),
        // Records hash by their key encoding, like arrays; fields of any class.
        DataType::Record => Some(15),
    }
}

fn unify_set_types(a: DataType, b: DataType, op: &str) -> SqlResult<DataType> {
    crate::array::common_pair(a, b).ok_or_else(|| {
        SqlError::DatatypeMismatch(format!(
            "{op} types {} and {} cannot be matched",
            a.name(),
            b.name()
        ))
    })
}

impl<'a> Planner<'a> {
    /// Binds a top-level query.
    pub fn bind_query(
        &self,
        q: &ast::Query,
        params: &mut Vec<Option<DataType>>,
    ) -> SqlResult<QueryPlan> {
        Ok(self.bind(q, params, &[])?.0)
    }

    /// Binds a subquery seeing the `outer` scopes (outermost first). Returns the plan and how many
    /// levels up its deepest outer reference reaches (0: not correlated).
    pub fn bind_subquery(
        &self,
        q: &ast::Query,
        params: &mut Vec<Option<DataType>>,
        outer: &[&[ScopeColumn]],
    ) -> SqlResult<(QueryPlan, usize)> {
        if outer.len() > SUBQUERY_DEPTH_MAX {
            return Err(SqlError::ProgramLimitExceeded(
                "subqueries nested too deeply".into(),
            ));
        }
        self.bind(q, params, outer)
    }

    fn bind(
        &self,
        query: &ast::Query,
        params: &mut Vec<Option<DataType>>,
        outer: &[&[ScopeColumn]],
    ) -> SqlResult<(QueryPlan, usize)> {
        if let Some(with) = &query.with {
            let base = CTES.with(|c| c.borrow().len());
            let group_end = base + with.cte_tables.len();
            let entries = cte_entries(with, with.cte_tables.len(), group_end, &[])?;
            refuse_nested_data_modifying(with)?;
            CTES.with(|c| c.borrow_mut().extend(entries));
            let mut body = query.clone();
            body.with = None;
            let bound = self.bind(&body, params, outer);
            CTES.with(|c| c.borrow_mut().truncate(base));
            return bound;
        }
        if let Some(f) = &query.fetch {
            if f.percent {
                return Err(SqlError::Syntax(
                    "syntax error at or near \"PERCENT\"".into(),
                ));
            }
            if matches!(
                query.limit_clause,
                Some(ast::LimitClause::LimitOffset { limit: Some(_), .. })
            ) {
                return Err(SqlError::Syntax(
                    "multiple LIMIT clauses not allowed".into(),
                ));
            }
            if f.with_ties && query.order_by.is_none() {
                return Err(SqlError::Syntax(
                    "WITH TIES cannot be specified without ORDER BY clause".into(),
                ));
            }
        }
        if !query.locks.is_empty() {
            // Only a top-level query over one table may lock rows ([`Planner::bind_locking`]).
            return Err(SqlError::FeatureNotSupported(
                "FOR UPDATE/SHARE in a subquery, a join, or over a non-table source".into(),
            ));
        }
        let order_exprs: Vec<ast::OrderByExpr> = match &query.order_by {
            None => Vec::new(),
            Some(ob) => match &ob.kind {
                ast::OrderByKind::Expressions(v) => v.clone(),
                ast::OrderByKind::All(_) => {
                    return Err(SqlError::FeatureNotSupported("ORDER BY ALL".into()));
                }
            },
        };
        let (body, columns, order_by, mut depth) = match &*query.body {
            ast::SetExpr::Select(s) => {
                let (plan, columns, order_by, depth) =
                    self.bind_select(s, &order_exprs, params, outer)?;
                (Body::Select(Box::new(plan)), columns, order_by, depth)
            }
            other => {
                let (body, columns, depth) = self.bind_set_expr(other, params, outer)?;
                let mut order_by = Vec::with_capacity(order_exprs.len());
                for o in &order_exprs {
                    let i = set_output_position(&o.expr, &columns)?;
                    order_by.push(sort_spec(SortKey::Output(i), o));
                }
                (body, columns, order_by, depth)
            }
        };
        let scope: Vec<ScopeColumn> = Vec::new();
        let mut binder = Binder {
            scope: &scope,
            params,
            outer,
            planner: Some(self),
            outer_depth_used: 0,
            windows: None,
            slot_types: Default::default(),
            srfs: None,
        };
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
            Some(ast::LimitClause::OffsetCommaLimit { .. }) => {
                return Err(SqlError::Syntax("LIMIT #,# syntax is not supported".into()));
            }
            Some(other) => return Err(SqlError::FeatureNotSupported(format!("{other}"))),
        };
        // `FETCH FIRST n ROWS ONLY` is a LIMIT (of 1 without a count); `WITH TIES` also keeps
        // the rows that sort equal to the last one.
        let (limit, offset, with_ties) = match &query.fetch {
            None => (limit, offset, false),
            Some(f) => {
                let l = match &f.quantity {
                    Some(e) => binder.bind(e, &mut AggMode::Forbidden("LIMIT"))?,
                    None => Expr::Literal(Value::Int(1)),
                };
                (Some(l), offset, f.with_ties)
            }
        };
        for e in [&limit, &offset].into_iter().flatten() {
            if let Expr::Param(i) = e
                && binder.params[*i].is_none()
            {
                binder.params[*i] = Some(DataType::Int8);
            }
        }
        depth = depth.max(binder.outer_depth_used);
        let mut plan = QueryPlan {
            body,
            order_by,
            limit,
            offset,
            with_ties,
            columns,
            presorted: false,
        };
        self.choose_scans(&mut plan);
        Ok((plan, depth))
    }

    fn bind_set_expr(
        &self,
        se: &ast::SetExpr,
        params: &mut Vec<Option<DataType>>,
        outer: &[&[ScopeColumn]],
    ) -> SqlResult<(Body, Vec<ColumnInfo>, usize)> {
        let plain = |body: Body, columns: Vec<ColumnInfo>| QueryPlan {
            body,
            order_by: Vec::new(),
            limit: None,
            offset: None,
            with_ties: false,
            columns,
            presorted: false,
        };
        match se {
            ast::SetExpr::Select(s) => {
                let (plan, columns, _, depth) = self.bind_select(s, &[], params, outer)?;
                Ok((Body::Select(Box::new(plan)), columns, depth))
            }
            ast::SetExpr::Query(q) => {
                let (plan, depth) = self.bind(q, params, outer)?;
                let columns = plan.columns.clone();
                Ok((Body::Query(Box::new(plan)), columns, depth))
            }
            ast::SetExpr::SetOperation {
                op,
                set_quantifier,
                left,
                right,
            } => {
                let (op, name) = match op {
                    ast::SetOperator::Union => (SetOp::Union, "UNION"),
                    ast::SetOperator::Intersect => (SetOp::Intersect, "INTERSECT"),
                    ast::SetOperator::Except | ast::SetOperator::Minus => (SetOp::Except, "EXCEPT"),
                };
                let all = match set_quantifier {
                    ast::SetQuantifier::All => true,
                    ast::SetQuantifier::None | ast::SetQuantifier::Distinct => false,
                    other => {
                        return Err(SqlError::FeatureNotSupported(format!("{name} {other}")));
                    }
                };
                let (lb, lc, ld) = self.bind_set_expr(left, params, outer)?;
                let (rb, rc, rd) = self.bind_set_expr(right, params, outer)?;
                if lc.len() != rc.len() {
                    return Err(SqlError::Syntax(format!(
                        "each {name} query must have the same number of columns"
                    )));
                }
                let mut columns = Vec::with_capacity(lc.len());
                for (l, r) in lc.iter().zip(&rc) {
                    columns.push(ColumnInfo {
                        name: l.name.clone(),
                        ty: unify_set_types(l.ty, r.ty, name)?,
                        bpchar: if l.bpchar == r.bpchar {
                            l.bpchar
                        } else {
                            l.bpchar.and(r.bpchar).map(|_| -1)
                        },
                        kind: set_column_kind(l, r),
                        source: None,
                    });
                }
                Ok((
                    Body::Set {
                        op,
                        all,
                        left: Box::new(plain(lb, lc)),
                        right: Box::new(plain(rb, rc)),
                    },
                    columns,
                    ld.max(rd),
                ))
            }
            ast::SetExpr::Values(values) => {
                let empty: Vec<ScopeColumn> = Vec::new();
                let mut binder = Binder {
                    scope: &empty,
                    params,
                    outer,
                    planner: Some(self),
                    outer_depth_used: 0,
                    windows: None,
                    slot_types: Default::default(),
                    srfs: None,
                };
                let width = values.rows.first().map_or(0, |r| r.content.len());
                let mut rows = Vec::with_capacity(values.rows.len());
                let mut types: Vec<Option<DataType>> = vec![None; width];
                for r in &values.rows {
                    let r = &r.content;
                    if r.len() != width {
                        return Err(SqlError::Syntax(
                            "VALUES lists must all be the same length".into(),
                        ));
                    }
                    let mut row = Vec::with_capacity(width);
                    for (i, e) in r.iter().enumerate() {
                        let b = binder.bind(e, &mut AggMode::Forbidden("VALUES"))?;
                        // A string literal's type is unknown until its column's type is
                        // known (`VALUES (1), ('2')` is integer): it does not vote.
                        let unknown = matches!(b, Expr::Literal(Value::Text(_)));
                        if let Some(t) = binder.type_of(&b).filter(|_| !unknown) {
                            types[i] = Some(match types[i] {
                                None => t,
                                Some(prev) => unify_set_types(prev, t, "VALUES")?,
                            });
                        }
                        row.push(b);
                    }
                    rows.push(row);
                }
                let types: Vec<DataType> = types
                    .into_iter()
                    .map(|t| t.unwrap_or(DataType::Text))
                    .collect();
                for row in &mut rows {
                    for (e, ty) in row.iter_mut().zip(&types) {
                        if let Expr::Param(i) = e
                            && binder.params[*i].is_none()
                        {
                            binder.params[*i] = Some(*ty);
                        }
                        let retype = match binder.type_of(e) {
                            Some(t) => t != *ty,
                            // An untyped string literal takes its column's type.
                            None => matches!(e, Expr::Literal(Value::Text(_))),
                        };
                        if retype {
                            let inner = std::mem::replace(e, Expr::Literal(Value::Null));
                            *e = Expr::Cast {
                                expr: Box::new(inner),
                                ty: *ty,
                            };
                        }
                    }
                }
                let columns = types
                    .iter()
                    .enumerate()
                    .map(|(i, ty)| ColumnInfo {
                        name: format!("column{}", i + 1),
                        ty: *ty,
                        bpchar: None,
                        kind: TextKind::Text,
                        source: None,
                    })
                    .collect();
                Ok((Body::Values(rows), columns, binder.outer_depth_used))
            }
            other => Err(SqlError::FeatureNotSupported(format!("query {other}"))),
        }
    }

    /// Binds a reference to CTE `i` of the scope stack: its query in place (hiding the CTEs it
    /// may not see), or, inside its own recursive term, the work table.
    fn cte_reference(
        &self,
        i: usize,
        params: &mut Vec<Option<DataType>>,
        outer: &[&[ScopeColumn]],
    ) -> SqlResult<(CteSource, String)> {
        if let Some(returned) = returned_reference(i) {
            return returned;
        }
        let (name, state, recursive, group_end) = CTES.with(|c| {
            let c = c.borrow();
            let e = &c[i];
            (e.name.clone(), e.state, e.recursive, e.group_end)
        });
        match state {
            CteState::Anchor => {
                return Err(SqlError::Syntax(format!(
                    "recursive reference to query \"{name}\" must not appear within its \
                     non-recursive term"
                )));
            }
            CteState::NotUnion => {
                return Err(SqlError::Syntax(format!(
                    "recursive query \"{name}\" does not have the form non-recursive-term \
                     UNION [ALL] recursive-term"
                )));
            }
            CteState::Step { id, refs, depth } => {
                if outer.len() != depth {
                    return Err(SqlError::Syntax(format!(
                        "recursive reference to query \"{name}\" must not appear within a subquery"
                    )));
                }
                if refs > 0 {
                    return Err(SqlError::Syntax(format!(
                        "recursive reference to query \"{name}\" must not appear more than once"
                    )));
                }
                let cols = CTES.with(|c| {
                    let mut c = c.borrow_mut();
                    c[i].state = CteState::Step {
                        id,
                        refs: refs + 1,
                        depth,
                    };
                    WORK_COLUMNS.with(|w| w.borrow().get(&id).cloned().unwrap_or_default())
                });
                return Ok((CteSource::Work(id, cols), name));
            }
            CteState::Plain => {}
        }
        // Hide what the CTE may not see: later CTEs of a plain WITH, itself included, and every
        // CTE of the queries inside its WITH's.
        let visible = if recursive { group_end } else { i };
        let (query, aliases) = CTES.with(|c| {
            let c = c.borrow();
            (c[i].query.clone(), c[i].columns.clone())
        });
        let hidden = CTES.with(|c| c.borrow_mut().split_off(visible));
        let bound = self.bind_cte(i, &name, recursive, &query, &aliases, params, outer);
        CTES.with(|c| c.borrow_mut().extend(hidden));
        Ok((CteSource::Plan(bound?), name))
    }

    /// Binds CTE `i`'s query (`recursive`: of a WITH RECURSIVE, where entry `i` is visible).
    #[allow(clippy::too_many_arguments)]
    fn bind_cte(
        &self,
        i: usize,
        name: &str,
        recursive: bool,
        query: &ast::Query,
        aliases: &[String],
        params: &mut Vec<Option<DataType>>,
        outer: &[&[ScopeColumn]],
    ) -> SqlResult<QueryPlan> {
        let set_state = |state: CteState| {
            CTES.with(|c| {
                if let Some(e) = c.borrow_mut().get_mut(i) {
                    e.state = state;
                }
            });
        };
        let rename = |columns: &mut Vec<ColumnInfo>| -> SqlResult<()> {
            if aliases.len() > columns.len() {
                return Err(SqlError::InvalidColumnReference(format!(
                    "WITH query \"{name}\" has {} columns available but {} columns specified",
                    columns.len(),
                    aliases.len()
                )));
            }
            for (c, a) in columns.iter_mut().zip(aliases) {
                c.name.clone_from(a);
            }
            Ok(())
        };
        let union = match &*query.body {
            ast::SetExpr::SetOperation {
                op: ast::SetOperator::Union,
                set_quantifier,
                left,
                right,
            } if recursive && query.with.is_none() => Some((
                matches!(set_quantifier, ast::SetQuantifier::All),
                left,
                right,
            )),
            _ => None,
        };
        let Some((all, left, right)) = union else {
            // Not of the form `anchor UNION [ALL] step`: a reference to itself is an error.
            if recursive {
                set_state(CteState::NotUnion);
            }
            let bound = self.bind(query, params, outer);
            set_state(CteState::Plain);
            let mut plan = bound?.0;
            rename(&mut plan.columns)?;
            return Ok(plan);
        };
        let plain = |body: Body, columns: Vec<ColumnInfo>| QueryPlan {
            body,
            order_by: Vec::new(),
            limit: None,
            offset: None,
            with_ties: false,
            columns,
            presorted: false,
        };
        set_state(CteState::Anchor);
        let anchor = self.bind_set_expr(left, params, outer);
        set_state(CteState::Plain);
        let (anchor_body, mut anchor_columns, _) = anchor?;
        rename(&mut anchor_columns)?;
        let id = WORK_TABLE_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        WORK_COLUMNS.with(|w| w.borrow_mut().insert(id, anchor_columns.clone()));
        set_state(CteState::Step {
            id,
            refs: 0,
            depth: outer.len(),
        });
        let step = self.bind_set_expr(right, params, outer);
        let refs = CTES.with(|c| match c.borrow().get(i).map(|e| e.state) {
            Some(CteState::Step { refs, .. }) => refs,
            _ => 0,
        });
        set_state(CteState::Plain);
        WORK_COLUMNS.with(|w| w.borrow_mut().remove(&id));
        let (step_body, step_columns, _) = step?;
        if refs == 0 {
            // No reference to itself: an ordinary UNION.
            let mut plan = self.bind(query, params, outer)?.0;
            rename(&mut plan.columns)?;
            return Ok(plan);
        }
        if query.order_by.is_some() {
            return Err(SqlError::FeatureNotSupported(
                "ORDER BY in a recursive query is not implemented".into(),
            ));
        }
        if query.limit_clause.is_some() {
            return Err(SqlError::FeatureNotSupported(
                "OFFSET/LIMIT in a recursive query is not implemented".into(),
            ));
        }
        if step_columns.len() != anchor_columns.len() {
            return Err(SqlError::Syntax(
                "each UNION query must have the same number of columns".into(),
            ));
        }
        for (n, (a, b)) in anchor_columns.iter().zip(&step_columns).enumerate() {
            if a.ty != b.ty {
                return Err(SqlError::DatatypeMismatch(format!(
                    "recursive query \"{name}\" column {} has type {} in non-recursive term \
                     but type {} overall",
                    n + 1,
                    a.ty.name(),
                    b.ty.name()
                )));
            }
        }
        Ok(QueryPlan {
            body: Body::Recursive {
                id,
                all,
                anchor: Box::new(plain(anchor_body, anchor_columns.clone())),
                step: Box::new(plain(step_body, step_columns)),
            },
            order_by: Vec::new(),
            limit: None,
            offset: None,
            with_ties: false,
            columns: anchor_columns,
            presorted: false,
        })
    }

    /// Adds one FROM item's relation and scope columns.
    fn add_relation(
        &self,
        factor: &ast::TableFactor,
        params: &mut Vec<Option<DataType>>,
        outer: &[&[ScopeColumn]],
        relations: &mut Vec<Relation>,
        scope: &mut Vec<ScopeColumn>,
        depth_used: &mut usize,
    ) -> SqlResult<(usize, Vec<usize>)> {
        if relations.len() >= RELATIONS_MAX {
            return Err(SqlError::ProgramLimitExceeded(format!(
                "more than {RELATIONS_MAX} relations in FROM"
            )));
        }
        let offset = scope.len();
        let mut lateral = false;
        let mut ordinality = false;
        // The positions in `cols` that `SELECT *` lists, in its order, when not all of them.
        let mut star = None;
        let (source, cols) = match factor {
            ast::TableFactor::NestedJoin {
                table_with_joins,
                alias: Some(alias),
            } => {
                // `(a JOIN b …) AS j`: the join's `SELECT *` as a derived table; the relations
                // inside are not visible outside it.
                let query = select_star(table_with_joins)?;
                let derived = ast::TableFactor::Derived {
                    lateral: false,
                    subquery: Box::new(query),
                    alias: Some(alias.clone()),
                    sample: None,
                };
                return self.add_relation(&derived, params, outer, relations, scope, depth_used);
            }
            ast::TableFactor::NestedJoin {
                table_with_joins,
                alias: None,
            } => {
                // A LATERAL item inside sees the FROM items before the block too, as one more
                // enclosing scope; the block then runs once per row of them.
                let sees_siblings = has_lateral(table_with_joins);
                let mut chain: Vec<&[ScopeColumn]> = outer.to_vec();
                if sees_siblings {
                    chain.push(scope.as_slice());
                }
                let (plan, block, depth) = self
                    .bind_join_block(table_with_joins, params, &chain)
                    .map_err(|e| match e {
                    // A relation of this FROM clause, outside the parentheses.
                    SqlError::MissingFromEntry(t)
                        if scope.iter().any(|c| c.table.as_deref() == Some(t.as_str())) =>
                    {
                        SqlError::InvalidFromReference(t)
                    }
                    e => e,
                })?;
                if sees_siblings {
                    lateral = depth >= 1;
                    *depth_used = (*depth_used).max(depth.saturating_sub(1));
                } else {
                    *depth_used = (*depth_used).max(depth);
                }
                let mut cols = block.scope;
                for c in &mut cols {
                    for p in &mut c.merged {
                        *p += offset;
                    }
                }
                star = Some(block.star);
                (Source::Derived(Box::new(plan)), cols)
            }
            ast::TableFactor::Table {
                name,
                alias,
                args: None,
                ..
            } => {
                let alias_name = alias.as_ref().map(|a| ident_name(&a.name));
                if let [part] = name.0.as_slice()
                    && let Some(id) = part.as_ident()
                    && let Some(i) = CTES.with(|c| {
                        let n = ident_name(id);
                        c.borrow().iter().rposition(|e| e.name == n)
                    })
                {
                    let (plan_or_work, t) = self.cte_reference(i, params, outer)?;
                    let t = alias_name.unwrap_or(t);
                    let (source, columns) = match plan_or_work {
                        CteSource::Plan(plan) => {
                            let cols = plan.columns.clone();
                            (Source::Derived(Box::new(plan)), cols)
                        }
                        CteSource::Work(id, cols) => (Source::WorkTable(id), cols),
                    };
                    let mut cols: Vec<ScopeColumn> = columns
                        .iter()
                        .map(|c| ScopeColumn {
                            nullable: false,
                            table: Some(t.clone()),
                            name: c.name.clone(),
                            ty: c.ty,
                            bpchar: c.bpchar,
                            kind: c.kind,
                            plain_text: false,
                            rel_oid: None,
                            origin: None,
                            source: c.source,
                            hidden: false,
                            merged: Vec::new(),
                        })
                        .collect();
                    if let Some(a) = alias {
                        for (c, a) in cols.iter_mut().zip(&a.columns) {
                            c.name = ident_name(&a.name);
                        }
                    }
                    (source, cols)
                } else {
                    let alias = alias_name;
                    let resolved = resolve_relation(self.engine, self.txn, name)?;
                    match &resolved {
                        Resolved::Table(def) => record_relation(def.oid),
                        Resolved::View(view) => record_relation(view.oid),
                        Resolved::Sequence(seq) => record_relation(seq.oid),
                        Resolved::Virtual(_) => {}
                    }
                    match resolved {
                        Resolved::Table(def) => {
                            let cols = table_scope(&def, alias.as_deref());
                            (Source::Table(def), cols)
                        }
                        Resolved::View(view) => {
                            let query = parse_view_query(&view)?;
                            let depth = VIEW_DEPTH.with(|d| d.get());
                            if depth >= VIEW_DEPTH_MAX {
                                return Err(SqlError::ObjectNotInPrerequisiteState(format!(
                                    "infinite recursion detected in rules for relation \"{}\"",
                                    view.name
                                )));
                            }
                            VIEW_DEPTH.with(|d| d.set(depth + 1));
                            // A view sees only its own FROM, never the query that reads it (nor
                            // its CTEs).
                            let ctes = CTES.with(|c| std::mem::take(&mut *c.borrow_mut()));
                            // What the view reads is its own dependency, not the reader's.
                            let recording = RECORDED.with(|r| r.borrow_mut().take());
                            let bound = self.bind_subquery(&query, params, &[]);
                            RECORDED.with(|r| *r.borrow_mut() = recording);
                            CTES.with(|c| *c.borrow_mut() = ctes);
                            VIEW_DEPTH.with(|d| d.set(depth));
                            let (plan, _) = bound?;
                            let t = alias.unwrap_or_else(|| view.name.clone());
                            let cols = view
                                .columns
                                .iter()
                                .zip(&plan.columns)
                                .enumerate()
                                .map(|(i, (vc, c))| ScopeColumn {
                                    nullable: false,
                                    table: Some(t.clone()),
                                    name: vc.name.clone(),
                                    ty: c.ty,
                                    bpchar: c.bpchar,
                                    kind: c.kind,
                                    plain_text: false,
                                    rel_oid: None,
                                    origin: Some(view.oid),
                                    source: Some((view.oid, attnum(i))),
                                    hidden: false,
                                    merged: Vec::new(),
                                })
                                .collect();
                            (Source::Derived(Box::new(plan)), cols)
                        }
                        Resolved::Sequence(seq) => {
                            let t = alias.unwrap_or_else(|| seq.name.clone());
                            let cols = SEQUENCE_COLUMNS
                                .iter()
                                .enumerate()
                                .map(|(i, (c, ty))| ScopeColumn {
                                    nullable: false,
                                    table: Some(t.clone()),
                                    name: (*c).to_string(),
                                    ty: *ty,
                                    bpchar: None,
                                    kind: TextKind::Text,
                                    plain_text: false,
                                    rel_oid: Some(seq.oid),
                                    origin: None,
                                    source: Some((seq.oid, attnum(i))),
                                    hidden: false,
                                    merged: Vec::new(),
                                })
                                .collect();
                            (Source::Sequence(seq), cols)
                        }
                        Resolved::Virtual(vt) => {
                            let t = alias.unwrap_or_else(|| vt.name.to_string());
                            let cols = vt
                                .columns
                                .iter()
                                .enumerate()
                                .map(|(i, (c, ty))| ScopeColumn {
                                    nullable: false,
                                    table: Some(t.clone()),
                                    name: (*c).to_string(),
                                    ty: *ty,
                                    bpchar: None,
                                    kind: TextKind::Text,
                                    plain_text: false,
                                    rel_oid: crate::catalog_views::catalog_oid(vt.name),
                                    origin: None,
                                    source: crate::catalog_views::catalog_oid(vt.name)
                                        .map(|o| (o, attnum(i))),
                                    hidden: false,
                                    merged: Vec::new(),
                                })
                                .collect();
                            (Source::Virtual(vt), cols)
                        }
                    }
                }
            }
            ast::TableFactor::Table {
                name,
                alias,
                args: Some(targs),
                with_ordinality,
                ..
            } if object_name(name)
                .ok()
                .and_then(|n| crate::json::set_columns(&n))
                .is_some() =>
            {
                ordinality = *with_ordinality;
                let (source, cols, reads_from) = self.json_from_function(
                    &object_name(name)?,
                    alias.as_ref(),
                    targs,
                    params,
                    outer,
                    scope,
                    depth_used,
                    ordinality,
                )?;
                lateral = reads_from;
                (source, cols)
            }
            ast::TableFactor::Table {
                name,
                alias,
                args: Some(targs),
                with_ordinality,
                ..
            } => {
                let fname = object_name(name)?;
                if !matches!(
                    fname.as_str(),
                    "generate_series" | "unnest" | "pg_options_to_table" | "pg_partition_ancestors"
                ) {
                    return Err(SqlError::UndefinedFunction(format!("{fname} in FROM")));
                }
                ordinality = *with_ordinality;
                let options = fname == "pg_options_to_table";
                let ancestors = fname == "pg_partition_ancestors";
                let unnest = fname == "unnest" || options || ancestors;
                // The arguments see the enclosing queries (not FROM siblings).
                let empty: Vec<ScopeColumn> = Vec::new();
                let mut binder = Binder {
                    scope: &empty,
                    params,
                    outer,
                    planner: Some(self),
                    outer_depth_used: 0,
                    windows: None,
                    slot_types: Default::default(),
                    srfs: None,
                };
                let mut args = Vec::with_capacity(targs.args.len());
                for a in &targs.args {
                    let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) = a else {
                        return Err(SqlError::FeatureNotSupported(format!("argument {a}")));
                    };
                    let b = binder.bind(e, &mut AggMode::Forbidden("functions in FROM"))?;
                    if let Expr::Param(i) = b
                        && binder.params[i].is_none()
                    {
                        binder.params[i] = Some(if unnest {
                            DataType::Text
                        } else {
                            DataType::Int8
                        });
                    }
                    args.push(b);
                }
                if unnest && args.len() != 1 {
                    return Err(SqlError::UndefinedFunction(format!(
                        "{fname} with {} arguments",
                        args.len()
                    )));
                }
                *depth_used = (*depth_used).max(binder.outer_depth_used);
                if options || ancestors {
                    // `pg_options_to_table(reloptions)`: one row per `name=value` of an options
                    // array. `pg_partition_ancestors(rel)`: the relation and the partitioned
                    // tables above it.
                    let t = alias
                        .as_ref()
                        .map_or(fname.clone(), |a| ident_name(&a.name));
                    let (names, source): (&[(&str, DataType)], Source) = if options {
                        (
                            &[
                                ("option_name", DataType::Text),
                                ("option_value", DataType::Text),
                            ],
                            Source::Options(args.remove(0)),
                        )
                    } else {
                        (
                            &[("relid", DataType::Int8)],
                            Source::PartitionAncestors(args.remove(0)),
                        )
                    };
                    (
                        source,
                        function_scope(&t, names, ordinality, alias.as_ref()),
                    )
                } else {
                    if !unnest && !(2..=3).contains(&args.len()) {
                        return Err(SqlError::UndefinedFunction(format!(
                            "generate_series with {} arguments",
                            args.len()
                        )));
                    }
                    let ty = if unnest {
                        match (args.first().and_then(|a| binder.type_of(a)), &targs.args[0]) {
                            (Some(DataType::Array(e)), _) => *e,
                            (_, ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e))) => {
                                array_element_type(e)
                            }
                            _ => DataType::Text,
                        }
                    } else {
                        series_type(&args.iter().map(|a| binder.type_of(a)).collect::<Vec<_>>())?
                    };
                    // A function of one column names it after the alias, or after itself.
                    let t = alias
                        .as_ref()
                        .map_or(fname.clone(), |a| ident_name(&a.name));
                    let cols = function_scope(&t, &[(&t, ty)], ordinality, alias.as_ref());
                    (
                        if unnest {
                            Source::Unnest(args.remove(0), ty)
                        } else {
                            Source::Series(args)
                        },
                        cols,
                    )
                }
            }
            ast::TableFactor::Derived {
                lateral: true,
                subquery,
                alias: Some(alias),
                ..
            } => {
                // A LATERAL subquery sees the FROM items before it, as one more enclosing scope.
                let mut chain: Vec<&[ScopeColumn]> = outer.to_vec();
                chain.push(scope.as_slice());
                let (plan, depth) = self.bind_subquery(subquery, params, &chain)?;
                if depth > 1 {
                    *depth_used = (*depth_used).max(depth - 1);
                }
                lateral = true;
                let t = ident_name(&alias.name);
                let mut cols: Vec<ScopeColumn> = plan
                    .columns
                    .iter()
                    .map(|c| ScopeColumn {
                        nullable: false,
                        table: Some(t.clone()),
                        name: c.name.clone(),
                        ty: c.ty,
                        bpchar: c.bpchar,
                        kind: c.kind,
                        plain_text: false,
                        rel_oid: None,
                        origin: None,
                        source: c.source,
                        hidden: false,
                        merged: Vec::new(),
                    })
                    .collect();
                for (c, a) in cols.iter_mut().zip(&alias.columns) {
                    c.name = ident_name(&a.name);
                }
                (Source::Derived(Box::new(plan)), cols)
            }
            ast::TableFactor::Derived {
                lateral: false,
                subquery,
                alias: Some(alias),
                ..
            } => {
                // A derived table sees the enclosing queries, not its FROM siblings.
                let (plan, depth) = self.bind_subquery(subquery, params, outer)?;
                *depth_used = (*depth_used).max(depth);
                let t = ident_name(&alias.name);
                let mut cols: Vec<ScopeColumn> = plan
                    .columns
                    .iter()
                    .map(|c| ScopeColumn {
                        nullable: false,
                        table: Some(t.clone()),
                        name: c.name.clone(),
                        ty: c.ty,
                        bpchar: c.bpchar,
                        kind: c.kind,
                        plain_text: false,
                        rel_oid: None,
                        origin: None,
                        source: c.source,
                        hidden: false,
                        merged: Vec::new(),
                    })
                    .collect();
                for (c, a) in cols.iter_mut().zip(&alias.columns) {
                    c.name = ident_name(&a.name);
                }
                (Source::Derived(Box::new(plan)), cols)
            }
            ast::TableFactor::Derived { alias: None, .. } => {
                return Err(SqlError::Syntax(
                    "subquery in FROM must have an alias".into(),
                ));
            }
            ast::TableFactor::UNNEST {
                alias,
                array_exprs,
                with_offset: false,
                with_ordinality,
                ..
            } if array_exprs.len() == 1 => {
                ordinality = *with_ordinality;
                // The argument sees the enclosing queries (not FROM siblings).
                let empty: Vec<ScopeColumn> = Vec::new();
                let mut binder = Binder {
                    scope: &empty,
                    params,
                    outer,
                    planner: Some(self),
                    outer_depth_used: 0,
                    windows: None,
                    slot_types: Default::default(),
                    srfs: None,
                };
                let arg = binder.bind(
                    &array_exprs[0],
                    &mut AggMode::Forbidden("functions in FROM"),
                )?;
                if let Expr::Param(i) = arg
                    && binder.params[i].is_none()
                {
                    binder.params[i] = Some(DataType::Text);
                }
                *depth_used = (*depth_used).max(binder.outer_depth_used);
                let ty = match binder.type_of(&arg) {
                    Some(DataType::Array(e)) => *e,
                    _ => array_element_type(&array_exprs[0]),
                };
                let t = alias
                    .as_ref()
                    .map_or_else(|| "unnest".to_string(), |a| ident_name(&a.name));
                let cols = function_scope(&t, &[(&t, ty)], ordinality, alias.as_ref());
                (Source::Unnest(arg, ty), cols)
            }
            other => return Err(SqlError::FeatureNotSupported(format!("FROM {other}"))),
        };
        // Every relation name the new columns bring (a join block brings several) must be new.
        let mut previous = None;
        for t in cols.iter().filter_map(|c| c.table.as_deref()) {
            if previous != Some(t) && scope.iter().any(|c| c.table.as_deref() == Some(t)) {
                return Err(SqlError::DuplicateAlias(t.to_string()));
            }
            previous = Some(t);
        }
        let width = cols.len();
        // A join block has no name of its own: PostgreSQL calls such a join `unnamed_join`.
        let label = match star {
            Some(_) => "unnamed_join".to_string(),
            None => cols
                .first()
                .and_then(|c| c.table.clone())
                .unwrap_or_default(),
        };
        let column_names = cols.iter().map(|c| c.name.clone()).collect();
        scope.extend(cols);
        relations.push(Relation {
            source,
            offset,
            width,
            filter: None,
            access: Access::Full,
            needed: None,
            stats: None,
            lateral,
            ordinality,
            label,
            column_names,
        });
        let star = star.map_or_else(
            || (offset..offset + width).collect(),
            |s| s.into_iter().map(|p| offset + p).collect(),
        );
        Ok((relations.len() - 1, star))
    }

    /// Binds a join on its own: a parenthesized join in FROM, or a FROM item with RIGHT or
    /// FULL joins beside other FROM items (those take everything joined before them as their
    /// left side, which must then be this item alone). The plan's row is every column of its
    /// relations, hidden ones too; the block's scope keeps their relation names, so the
    /// enclosing FROM refers to them as if they were its own.
    fn bind_join_block(
        &self,
        twj: &ast::TableWithJoins,
        params: &mut Vec<Option<DataType>>,
        outer: &[&[ScopeColumn]],
    ) -> SqlResult<(QueryPlan, JoinBlock, usize)> {
        let query = select_star(twj)?;
        let ast::SetExpr::Select(select) = &*query.body else {
            return Err(SqlError::Internal("a join block is not a SELECT".into()));
        };
        let mut block = JoinBlock::default();
        let (plan, columns, _, depth) =
            self.bind_select_in(select, &[], params, outer, Some(&mut block))?;
        let mut plan = QueryPlan {
            body: Body::Select(Box::new(plan)),
            order_by: Vec::new(),
            limit: None,
            offset: None,
            with_ties: false,
            columns,
            presorted: false,
        };
        self.choose_scans(&mut plan);
        Ok((plan, block, depth))
    }

    /// Binds a json set-returning function in FROM. Its argument sees the FROM items before
    /// it (as one more enclosing scope, like a LATERAL subquery): the third result says
    /// whether it reads them, and so runs once per row of those items.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn json_from_function(
        &self,
        fname: &str,
        alias: Option<&ast::TableAlias>,
        targs: &ast::TableFunctionArgs,
        params: &mut Vec<Option<DataType>>,
        outer: &[&[ScopeColumn]],
        scope: &[ScopeColumn],
        depth_used: &mut usize,
        ordinality: bool,
    ) -> SqlResult<(Source, Vec<ScopeColumn>, bool)> {
        let columns = crate::json::set_columns(fname)
            .ok_or_else(|| SqlError::UndefinedFunction(format!("{fname} in FROM")))?;
        let [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e))] = targs.args.as_slice()
        else {
            return Err(SqlError::UndefinedFunction(format!(
                "{fname} with {} arguments",
                targs.args.len()
            )));
        };
        let mut chain: Vec<&[ScopeColumn]> = outer.to_vec();
        chain.push(scope);
        let empty: Vec<ScopeColumn> = Vec::new();
        let mut binder = Binder {
            scope: &empty,
            params,
            outer: &chain,
            planner: Some(self),
            outer_depth_used: 0,
            windows: None,
            slot_types: Default::default(),
            srfs: None,
        };
        let arg = binder.bind(e, &mut AggMode::Forbidden("functions in FROM"))?;
        if let Expr::Param(i) = arg
            && binder.params[i].is_none()
        {
            binder.params[i] = Some(if fname.starts_with("jsonb_") {
                DataType::Jsonb
            } else {
                DataType::Json
            });
        }
        let used = binder.outer_depth_used;
        if used > 1 {
            *depth_used = (*depth_used).max(used - 1);
        }
        let t = alias.map_or_else(|| fname.to_string(), |a| ident_name(&a.name));
        let mut cols = function_scope(&t, &columns, ordinality, alias);
        // A function of one unnamed column (`jsonb_object_keys`) names it after the alias.
        if let Some(a) = alias
            && fname.ends_with("_object_keys")
            && a.columns.is_empty()
        {
            cols[0].name = ident_name(&a.name);
        }
        Ok((Source::JsonRows(fname.to_string(), arg), cols, used >= 1))
    }

    #[allow(clippy::type_complexity)]
    fn bind_select(
        &self,
        select: &ast::Select,
        order_exprs: &[ast::OrderByExpr],
        params: &mut Vec<Option<DataType>>,
        outer: &[&[ScopeColumn]],
    ) -> SqlResult<(SelectPlan, Vec<ColumnInfo>, Vec<SortSpec>, usize)> {
        self.bind_select_in(select, order_exprs, params, outer, None)
    }

    /// [`Self::bind_select`]; with `block`, binds FROM alone as a join block (see
    /// [`Self::bind_join_block`]), the select list left unread.
    #[allow(clippy::type_complexity)]
    fn bind_select_in(
        &self,
        select: &ast::Select,
        order_exprs: &[ast::OrderByExpr],
        params: &mut Vec<Option<DataType>>,
        outer: &[&[ScopeColumn]],
        block: Option<&mut JoinBlock>,
    ) -> SqlResult<(SelectPlan, Vec<ColumnInfo>, Vec<SortSpec>, usize)> {
        self.bind_select_items(select, order_exprs, params, outer, block)
            .map_err(|e| match e {
                // `(a JOIN b …) AS j` keeps `a` and `b` out of reach, not unknown.
                SqlError::MissingFromEntry(t) if hidden_by_join_aliases(&select.from, &t) => {
                    SqlError::InvalidFromReference(t)
                }
                e => e,
            })
    }

    fn bind_select_items(
        &self,
        select: &ast::Select,
        order_exprs: &[ast::OrderByExpr],
        params: &mut Vec<Option<DataType>>,
        outer: &[&[ScopeColumn]],
        block: Option<&mut JoinBlock>,
    ) -> SqlResult<(SelectPlan, Vec<ColumnInfo>, Vec<SortSpec>, usize)> {
        // FROM: relations in order, their scope, and the joins between them.
        let mut relations = Vec::new();
        let mut scope: Vec<ScopeColumn> = Vec::new();
        // (relation, kind, ON condition) for every relation on the right of a JOIN.
        let mut joins: Vec<(usize, JoinKind, Option<ast::Expr>)> = Vec::new();
        // Per FROM item, the scope positions `SELECT *` lists (see `using_join`).
        let mut star: Vec<Vec<usize>> = Vec::new();
        let mut derived_depth = 0;
        let flat = flatten_joins(&select.from);
        let from = flat.as_deref().unwrap_or(&select.from);
        for twj in from {
            let d = &mut derived_depth;
            if from.len() > 1
                && twj.joins.iter().any(|j| {
                    matches!(
                        j.join_operator,
                        ast::JoinOperator::Right(_)
                            | ast::JoinOperator::RightOuter(_)
                            | ast::JoinOperator::FullOuter(_)
                    )
                })
            {
                let nested = ast::TableFactor::NestedJoin {
                    table_with_joins: Box::new(twj.clone()),
                    alias: None,
                };
                let (_, listed) =
                    self.add_relation(&nested, params, outer, &mut relations, &mut scope, d)?;
                star.push(listed);
                continue;
            }
            let (_, mut listed) =
                self.add_relation(&twj.relation, params, outer, &mut relations, &mut scope, d)?;
            for j in &twj.joins {
                let d = &mut derived_depth;
                let (r, right) =
                    self.add_relation(&j.relation, params, outer, &mut relations, &mut scope, d)?;
                use ast::JoinOperator as J;
                let (constraint, kind) = match &j.join_operator {
                    J::Join(c) | J::Inner(c) => (Some(c), JoinKind::Inner),
                    J::Left(c) | J::LeftOuter(c) => (Some(c), JoinKind::Left),
                    J::Right(c) | J::RightOuter(c) => (Some(c), JoinKind::Right),
                    J::FullOuter(c) => (Some(c), JoinKind::Full),
                    J::CrossJoin(_) => (None, JoinKind::Inner),
                    other => {
                        return Err(SqlError::FeatureNotSupported(format!("join {other:?}")));
                    }
                };
                let on = match constraint {
                    None | Some(ast::JoinConstraint::None) => {
                        listed.extend(right);
                        None
                    }
                    Some(ast::JoinConstraint::On(e)) => {
                        listed.extend(right);
                        Some(e.clone())
                    }
                    Some(ast::JoinConstraint::Using(names)) => {
                        let names = names.iter().map(object_name).collect::<SqlResult<_>>()?;
                        using_join(&mut scope, &mut listed, &right, names, kind)?
                    }
                    Some(ast::JoinConstraint::Natural) => {
                        // The columns both sides have, in the left side's order.
                        let names: Vec<String> = listed
                            .iter()
                            .map(|&i| scope[i].name.clone())
                            .filter(|n| right.iter().any(|&k| scope[k].name == *n))
                            .collect();
                        using_join(&mut scope, &mut listed, &right, names, kind)?
                    }
                };
                joins.push((r, kind, on));
            }
            star.push(listed);
        }
        // A relation an outer join may null-extend: its whole-row reference is NULL in the rows
        // the join pads (see `Binder::whole_row`).
        for (r, kind, _) in &joins {
            let nullable: Vec<usize> = match kind {
                JoinKind::Inner | JoinKind::Semi | JoinKind::Anti => Vec::new(),
                JoinKind::Left => vec![*r],
                JoinKind::Right => (0..*r).collect(),
                JoinKind::Full => (0..=*r).collect(),
            };
            for n in nullable {
                let rel = &relations[n];
                for c in &mut scope[rel.offset..rel.offset + rel.width] {
                    c.nullable = true;
                }
            }
        }
        // RIGHT and FULL joins take everything joined before them as their left side, so they
        // are planned in FROM order with every ON condition at its own join and WHERE after
        // all joins (see `plan_joins`).
        let outer_joins = joins
            .iter()
            .any(|(_, k, _)| matches!(k, JoinKind::Right | JoinKind::Full));
        if outer_joins && (from.len() > 1 || relations.iter().any(|r| r.lateral)) {
            return Err(SqlError::FeatureNotSupported(
                "RIGHT or FULL JOIN beside other FROM items or LATERAL".into(),
            ));
        }
        let mut local_joins: Vec<(usize, JoinKind, Option<&ast::Expr>)> = Vec::new();
        let mut on_conditions: Vec<&ast::Expr> = Vec::new();
        for (r, kind, on) in &joins {
            if outer_joins || *kind != JoinKind::Inner {
                local_joins.push((*r, *kind, on.as_ref()));
            } else if let Some(e) = on {
                on_conditions.push(e);
            }
        }
        let mut binder = Binder {
            scope: &scope,
            params,
            outer,
            planner: Some(self),
            outer_depth_used: 0,
            windows: None,
            slot_types: Default::default(),
            srfs: None,
        };
        let mut where_conjuncts = Vec::new();
        for (w, clause) in select
            .selection
            .iter()
            .map(|w| (w, "WHERE"))
            .chain(on_conditions.iter().map(|e| (*e, "JOIN/ON")))
        {
            let f = binder.bind(w, &mut AggMode::Forbidden(clause))?;
            check_boolean(&binder, &f, clause)?;
            split_conjuncts(f, &mut where_conjuncts);
        }
        let mut left_on = Vec::with_capacity(local_joins.len());
        for (r, kind, on) in &local_joins {
            let mut cs = Vec::new();
            if let Some(e) = on {
                let f = binder.bind(e, &mut AggMode::Forbidden("JOIN/ON"))?;
                check_boolean(&binder, &f, "JOIN/ON")?;
                split_conjuncts(f, &mut cs);
            }
            left_on.push((*r, *kind, cs));
        }
        let semis = if relations.is_empty() {
            Vec::new()
        } else {
            pull_up_sublinks(&binder, &mut where_conjuncts)
        };
        let mut from = plan_joins(&binder, relations, where_conjuncts, left_on, outer_joins)?;
        add_semi_steps(&binder, &mut from, semis)?;
        if let Some(block) = block {
            let columns = scope
                .iter()
                .map(|c| ColumnInfo {
                    name: c.name.clone(),
                    ty: c.ty,
                    bpchar: c.bpchar,
                    kind: c.kind,
                    source: c.source,
                })
                .collect();
            let depth = binder.outer_depth_used.max(derived_depth);
            block.scope = scope.clone();
            block.star = star.concat();
            let plan = SelectPlan {
                from,
                aggregate: None,
                windows: WindowPlan::default(),
                projections: (0..scope.len()).map(Expr::Column).collect(),
                distinct: false,
                distinct_on: Vec::new(),
                minmax: Vec::new(),
                srfs: Vec::new(),
            };
            return Ok((plan, columns, Vec::new(), depth));
        }
        let collector = WindowCollector::new(&select.named_window)?;

        // Expand the select list.
        let mut items: Vec<(ast::Expr, String)> = Vec::new();
        for item in &select.projection {
            match item {
                ast::SelectItem::UnnamedExpr(e) => items.push((e.clone(), output_name(e))),
                ast::SelectItem::ExprWithAlias { expr, alias } => {
                    items.push((expr.clone(), ident_name(alias)))
                }
                ast::SelectItem::Wildcard(_) | ast::SelectItem::QualifiedWildcard(..) => {
                    let qualifier = match item {
                        ast::SelectItem::QualifiedWildcard(
                            ast::SelectItemQualifiedWildcardKind::ObjectName(n),
                            _,
                        ) => Some(object_name(n)?),
                        ast::SelectItem::QualifiedWildcard(..) => {
                            return Err(SqlError::FeatureNotSupported(format!("{item}")));
                        }
                        _ => None,
                    };
                    if scope.is_empty() {
                        return Err(SqlError::Syntax(
                            "SELECT * with no tables specified is not valid".into(),
                        ));
                    }
                    let before = items.len();
                    // `*` lists each FROM item's columns with USING's merged ones first;
                    // `t.*` every column of t.
                    let positions: Vec<usize> = match qualifier {
                        None => star.iter().flatten().copied().collect(),
                        Some(_) => (0..scope.len()).collect(),
                    };
                    for &i in &positions {
                        let c = &scope[i];
                        let t = c.table.clone().unwrap_or_default();
                        if qualifier.as_ref().is_some_and(|q| *q != t) {
                            continue;
                        }
                        let e = if qualifier.is_none() && !c.merged.is_empty() {
                            scope_column_ast(&scope, i)
                        } else {
                            crate::expr::star_item(i, &t, &c.name)
                        };
                        items.push((e, c.name.clone()));
                    }
                    if let Some(q) = qualifier
                        && items.len() == before
                    {
                        return Err(SqlError::MissingFromEntry(q));
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

        // Does the query aggregate? Probe the select list for aggregate calls.
        let mut aggregating = !group_exprs.is_empty() || select.having.is_some();
        if !aggregating {
            let mut probe_aggs = Vec::new();
            for (e, _) in &items {
                if contains_aggregate(e) {
                    let mut probe_params = binder.params.clone();
                    let mut probe = Binder {
                        scope: &scope,
                        params: &mut probe_params,
                        outer,
                        planner: Some(self),
                        outer_depth_used: 0,
                        windows: WindowCollector::new(&select.named_window).ok(),
                        slot_types: Default::default(),
                        srfs: Some(Vec::new()),
                    };
                    let mut mode = AggMode::Collect {
                        group_by: &[],
                        dependent: &[],
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
        }

        let mut projections = Vec::with_capacity(items.len());
        let mut columns = Vec::with_capacity(items.len());
        let mut aggregate = None;
        let mut order_by = Vec::with_capacity(order_exprs.len());
        let distinct_exprs: &[ast::Expr] = match &select.distinct {
            Some(ast::Distinct::On(exprs)) => exprs,
            _ => &[],
        };
        let mut distinct_on = Vec::with_capacity(distinct_exprs.len());
        let srfs;
        if aggregating {
            let mut group_by = Vec::with_capacity(group_exprs.len());
            let mut group_keys: Vec<(String, DataType)> = Vec::with_capacity(group_exprs.len());
            for g in &group_exprs {
                // GROUP BY may name an output column by position or alias.
                let bound = resolve_output_ref(g, &items).and_then(|r| {
                    let g = r.unwrap_or_else(|| g.clone());
                    let b = binder.bind(&g, &mut AggMode::Forbidden("GROUP BY"))?;
                    Ok((g, b))
                });
                let (g, b) = match bound {
                    Ok(x) => x,
                    Err(e) => {
                        // PostgreSQL transforms the select list before GROUP BY: an error there
                        // (other than a grouping one, checked last) comes first.
                        let mut probe_params = binder.params.clone();
                        let mut probe = Binder {
                            scope: &scope,
                            params: &mut probe_params,
                            outer,
                            planner: Some(self),
                            outer_depth_used: 0,
                            windows: WindowCollector::new(&select.named_window).ok(),
                            slot_types: Default::default(),
                            srfs: Some(Vec::new()),
                        };
                        for (item, _) in &items {
                            let mut probe_aggs = Vec::new();
                            let mut mode = AggMode::Collect {
                                group_by: &[],
                                dependent: &[],
                                aggs: &mut probe_aggs,
                            };
                            match probe.bind(item, &mut mode) {
                                Err(SqlError::Grouping(_)) | Ok(_) => {}
                                Err(first) => return Err(first),
                            }
                        }
                        return Err(e);
                    }
                };
                group_keys.push((g.to_string(), binder.type_of(&b).unwrap_or(DataType::Text)));
                group_by.push(b);
            }
            let dependent = dependent_columns(&from.relations, &group_by, scope.len());
            let mut aggs = Vec::new();
            binder.windows = Some(collector);
            binder.srfs = Some(Vec::new());
            for (e, name) in &items {
                let b = binder.bind(
                    e,
                    &mut AggMode::Collect {
                        group_by: &group_keys,
                        dependent: &dependent,
                        aggs: &mut aggs,
                    },
                )?;
                // A grouped column is read from its GROUP BY key.
                let source = match &b {
                    Expr::GroupKey(k) => group_by.get(*k).and_then(|g| binder.column_source(g)),
                    b => binder.column_source(b),
                };
                columns.push(ColumnInfo {
                    name: name.clone(),
                    ty: slot_type(&binder, &b, &aggs, &group_keys),
                    bpchar: binder.bpchar_typmod(&b),
                    kind: binder.declared_kind(&b),
                    source,
                });
                projections.push(b);
            }
            srfs = binder.srfs.take().unwrap_or_default();
            let windows = binder.windows.take();
            let having = match &select.having {
                Some(h) => Some(binder.bind(
                    h,
                    &mut AggMode::Collect {
                        group_by: &group_keys,
                        dependent: &dependent,
                        aggs: &mut aggs,
                    },
                )?),
                None => None,
            };
            binder.windows = windows;
            for o in order_exprs {
                let key = match output_position(&o.expr, &items, "ORDER BY")? {
                    Some(i) => SortKey::Output(i),
                    None => SortKey::Expr(binder.bind(
                        &o.expr,
                        &mut AggMode::Collect {
                            group_by: &group_keys,
                            dependent: &dependent,
                            aggs: &mut aggs,
                        },
                    )?),
                };
                order_by.push(sort_spec(key, o));
            }
            for e in distinct_exprs {
                let b = match output_position(e, &items, "SELECT DISTINCT ON")? {
                    Some(i) => projections[i].clone(),
                    None => binder.bind(
                        e,
                        &mut AggMode::Collect {
                            group_by: &group_keys,
                            dependent: &dependent,
                            aggs: &mut aggs,
                        },
                    )?,
                };
                distinct_on.push(b);
            }
            aggregate = Some(AggPlan {
                group_by,
                aggs,
                having,
            });
        } else {
            binder.windows = Some(collector);
            binder.srfs = Some(Vec::new());
            for (e, name) in &items {
                let b = binder.bind(e, &mut AggMode::Forbidden("this context"))?;
                columns.push(ColumnInfo {
                    name: name.clone(),
                    ty: binder.type_of(&b).unwrap_or(DataType::Text),
                    bpchar: binder.bpchar_typmod(&b),
                    kind: binder.declared_kind(&b),
                    source: binder.column_source(&b),
                });
                projections.push(b);
            }
            srfs = binder.srfs.take().unwrap_or_default();
            for o in order_exprs {
                let key = match output_position(&o.expr, &items, "ORDER BY")? {
                    Some(i) => SortKey::Output(i),
                    None => {
                        SortKey::Expr(binder.bind(&o.expr, &mut AggMode::Forbidden("ORDER BY"))?)
                    }
                };
                order_by.push(sort_spec(key, o));
            }
            for e in distinct_exprs {
                let b = match output_position(e, &items, "SELECT DISTINCT ON")? {
                    Some(i) => projections[i].clone(),
                    None => binder.bind(e, &mut AggMode::Forbidden("DISTINCT ON"))?,
                };
                distinct_on.push(b);
            }
        }
        let windows = binder
            .windows
            .take()
            .map(WindowCollector::finish)
            .unwrap_or_default();
        let distinct = matches!(select.distinct, Some(ast::Distinct::Distinct));
        if !distinct_exprs.is_empty() {
            check_distinct_on(distinct_exprs, order_exprs, &items)?;
        }
        let depth = binder.outer_depth_used.max(derived_depth);
        Ok((
            SelectPlan {
                from,
                aggregate,
                windows,
                projections,
                distinct,
                distinct_on,
                minmax: Vec::new(),
                srfs,
            },
            columns,
            order_by,
            depth,
        ))
    }
}

fn check_boolean(binder: &Binder<'_>, f: &Expr, clause: &str) -> SqlResult<()> {
    match binder.type_of(f) {
        Some(t) if t != DataType::Bool => Err(SqlError::DatatypeMismatch(format!(
            "argument of {clause} must be type boolean, not type {}",
            t.name()
        ))),
        _ => Ok(()),
    }
}

/// What a join block leaves to the enclosing FROM (see [`Planner::bind_join_block`]): the scope
/// of its plan's row, and the positions in it that `SELECT *` lists, in its order.
#[derive(Default)]
struct JoinBlock {
    scope: Vec<ScopeColumn>,
    star: Vec<usize>,
}

/// Whether a join has a LATERAL subquery among its relations, at any depth of parentheses.
fn has_lateral(twj: &ast::TableWithJoins) -> bool {
    std::iter::once(&twj.relation)
        .chain(twj.joins.iter().map(|j| &j.relation))
        .any(|f| match f {
            ast::TableFactor::Derived { lateral, .. } => *lateral,
            ast::TableFactor::NestedJoin {
                table_with_joins, ..
            } => has_lateral(table_with_joins),
            _ => false,
        })
}

/// The FROM list with parenthesized joins spliced into the joins around them where that
/// keeps the query's meaning, as PostgreSQL folds them into one join problem: the planner then
/// orders, pushes predicates into and picks index nested loops over their relations, where a
/// join block (see [`Planner::bind_join_block`]) is planned on its own. `None` when nothing
/// was spliced. Two shapes are spliced; a parenthesized join with an alias, or with a LATERAL
/// item inside, stays a block:
///
/// ```text
///   (b J1 c …) J2 a …          ─▶  b J1 c … J2 a …          joins associate to the left
///   a [INNER] JOIN (b JOIN c ON p) ON q
///                              ─▶  a CROSS JOIN b JOIN c ON (p) AND (q)
/// ```
///
/// The second only when every join inside is an inner join with ON (or CROSS) and its ON
/// conditions name every column through a relation inside the parentheses: unqualified, a
/// name could mean a column of a relation outside them once they are gone, and a relation
/// outside is not visible inside (PostgreSQL's 42P01, which the block gives).
fn flatten_joins(from: &[ast::TableWithJoins]) -> Option<Vec<ast::TableWithJoins>> {
    fn block(f: &ast::TableFactor) -> Option<&ast::TableWithJoins> {
        match f {
            ast::TableFactor::NestedJoin {
                table_with_joins,
                alias: None,
            } if !has_lateral(table_with_joins) => Some(table_with_joins),
            _ => None,
        }
    }
    fn on_of(op: &ast::JoinOperator) -> Option<Option<&ast::Expr>> {
        use ast::JoinOperator as J;
        match op {
            J::Join(c) | J::Inner(c) => match c {
                ast::JoinConstraint::On(e) => Some(Some(e)),
                ast::JoinConstraint::None => Some(None),
                _ => None,
            },
            J::CrossJoin(ast::JoinConstraint::None) => Some(None),
            _ => None,
        }
    }
    /// The name a relation inside the parentheses is referred to by; `None` for one without
    /// an alias that is not a table (a subquery, a function, another block).
    fn exposed_name(f: &ast::TableFactor) -> Option<String> {
        match f {
            ast::TableFactor::Table { alias: Some(a), .. }
            | ast::TableFactor::Derived { alias: Some(a), .. }
            | ast::TableFactor::Function { alias: Some(a), .. }
            | ast::TableFactor::UNNEST { alias: Some(a), .. } => Some(ident_name(&a.name)),
            ast::TableFactor::Table {
                name, alias: None, ..
            } => name
                .0
                .last()
                .and_then(ast::ObjectNamePart::as_ident)
                .map(ident_name),
            _ => None,
        }
    }
    /// Whether `e` names every column through one of `names`: nothing it reads can be a
    /// column of a relation outside the parentheses. (A subquery's own qualifiers count as
    /// outside: such a join stays a block, which is only slower.)
    fn qualified(e: &ast::Expr, names: &[String]) -> bool {
        let mut inside = true;
        let _ = ast::visit_expressions(e, |x| {
            inside &= match x {
                ast::Expr::Identifier(_) => false,
                ast::Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                    names.contains(&ident_name(&parts[parts.len() - 2]))
                }
                _ => true,
            };
            std::ops::ControlFlow::<()>::Continue(())
        });
        inside
    }
    fn flatten(twj: &ast::TableWithJoins, changed: &mut bool) -> ast::TableWithJoins {
        let mut out = match block(&twj.relation) {
            Some(inner) => {
                *changed = true;
                flatten(inner, changed)
            }
            None => ast::TableWithJoins {
                relation: twj.relation.clone(),
                joins: Vec::new(),
            },
        };
        for j in &twj.joins {
            let spliced = block(&j.relation).and_then(|inner| {
                let outer_on = on_of(&j.join_operator)?;
                let inner = flatten(inner, &mut false);
                let names = std::iter::once(&inner.relation)
                    .chain(inner.joins.iter().map(|ij| &ij.relation))
                    .map(exposed_name)
                    .collect::<Option<Vec<String>>>()?;
                for ij in &inner.joins {
                    if on_of(&ij.join_operator)?.is_some_and(|e| !qualified(e, &names)) {
                        return None;
                    }
                }
                Some((inner, outer_on))
            });
            let Some((inner, outer_on)) = spliced else {
                out.joins.push(j.clone());
                continue;
            };
            *changed = true;
            let mut joins = Vec::with_capacity(inner.joins.len() + 1);
            joins.push(ast::Join {
                relation: inner.relation,
                global: false,
                join_operator: ast::JoinOperator::CrossJoin(ast::JoinConstraint::None),
            });
            joins.extend(inner.joins);
            // The outer ON condition joins the last relation, with that relation's own.
            if let Some(q) = outer_on {
                let last = joins.last_mut().expect("a relation was pushed");
                let own = on_of(&last.join_operator).flatten().cloned();
                let on = match own {
                    Some(p) => ast::Expr::BinaryOp {
                        left: Box::new(ast::Expr::Nested(Box::new(p))),
                        op: ast::BinaryOperator::And,
                        right: Box::new(ast::Expr::Nested(Box::new(q.clone()))),
                    },
                    None => q.clone(),
                };
                last.join_operator = ast::JoinOperator::Inner(ast::JoinConstraint::On(on));
            }
            out.joins.extend(joins);
        }
        out
    }
    let mut changed = false;
    let flat: Vec<ast::TableWithJoins> = from.iter().map(|t| flatten(t, &mut changed)).collect();
    changed.then_some(flat)
}

/// `SELECT * FROM twj`, for a join bound as a subquery.
fn select_star(twj: &ast::TableWithJoins) -> SqlResult<ast::Query> {
    let sql = format!("SELECT * FROM {twj}");
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    match sqlparser::parser::Parser::parse_sql(&dialect, &sql)
        .map_err(|e| SqlError::Syntax(e.to_string()))?
        .pop()
    {
        Some(ast::Statement::Query(q)) => Ok(*q),
        _ => Err(SqlError::Internal("a join is not a query".into())),
    }
}

/// `JOIN … USING (names)` (and NATURAL JOIN, with the common names): the ON condition that
/// equates each name's column on the left (`listed`, the FROM item's columns so far) with the
/// right relation's (`right`, the columns its `SELECT *` lists). The merged column answers
/// unqualified references: the left one for inner and LEFT joins, the right one for RIGHT joins,
/// and for FULL joins the left one made the COALESCE of both (see [`ScopeColumn::merged`]); its
/// partner is hidden. `SELECT *` lists the merged columns first, then the rest of the left side,
/// then the rest of the right.
fn using_join(
    scope: &mut [ScopeColumn],
    listed: &mut Vec<usize>,
    right: &[usize],
    names: Vec<String>,
    kind: JoinKind,
) -> SqlResult<Option<ast::Expr>> {
    let mut conds: Vec<ast::Expr> = Vec::new();
    let mut merged = Vec::new();
    let mut used_left = Vec::new();
    let mut used_right = Vec::new();
    for (k, name) in names.iter().enumerate() {
        if names[..k].contains(name) {
            return Err(SqlError::DuplicateColumn(name.clone()));
        }
        let find = |cols: &[usize], side: &'static str| -> SqlResult<usize> {
            let hits: Vec<usize> = cols
                .iter()
                .copied()
                .filter(|&i| scope[i].name == *name && !scope[i].hidden)
                .collect();
            let name = name.clone();
            match hits.as_slice() {
                [i] => Ok(*i),
                [] => Err(SqlError::UsingColumnMissing { name, side }),
                _ => Err(SqlError::UsingColumnAmbiguous { name, side }),
            }
        };
        let l = find(listed, "left")?;
        let r = find(right, "right")?;
        conds.push(ast::Expr::BinaryOp {
            left: Box::new(scope_column_ast(scope, l)),
            op: ast::BinaryOperator::Eq,
            right: Box::new(scope_column_ast(scope, r)),
        });
        if kind == JoinKind::Right {
            scope[l].hidden = true;
            merged.push(r);
        } else {
            if kind == JoinKind::Full {
                let partners: Vec<usize> = std::iter::once(r)
                    .chain(scope[r].merged.iter().copied())
                    .collect();
                scope[l].merged.extend(partners);
            }
            scope[r].hidden = true;
            merged.push(l);
        }
        used_left.push(l);
        used_right.push(r);
    }
    let mut next = merged;
    next.extend(listed.iter().copied().filter(|i| !used_left.contains(i)));
    next.extend(right.iter().copied().filter(|i| !used_right.contains(i)));
    *listed = next;
    Ok(conds.into_iter().reduce(|a, b| ast::Expr::BinaryOp {
        left: Box::new(a),
        op: ast::BinaryOperator::And,
        right: Box::new(b),
    }))
}

/// An expression that reads scope column `i` as an unqualified reference would: its qualified
/// name, or for a FULL JOIN's merged column the COALESCE of it and its partners (for a USING
/// condition, and for `SELECT *`, whose items must name the column whatever else is in scope).
fn scope_column_ast(scope: &[ScopeColumn], i: usize) -> ast::Expr {
    let column = |c: &ScopeColumn| {
        ast::Expr::CompoundIdentifier(vec![
            ast::Ident::with_quote('"', c.table.clone().unwrap_or_default()),
            ast::Ident::with_quote('"', c.name.clone()),
        ])
    };
    if scope[i].merged.is_empty() {
        return column(&scope[i]);
    }
    let args = std::iter::once(i)
        .chain(scope[i].merged.iter().copied())
        .map(|p| ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(column(&scope[p]))))
        .collect();
    ast::Expr::Function(ast::Function {
        name: ast::ObjectName::from(vec![ast::Ident::new("coalesce")]),
        uses_odbc_syntax: false,
        parameters: ast::FunctionArguments::None,
        args: ast::FunctionArguments::List(ast::FunctionArgumentList {
            duplicate_treatment: None,
            args,
            clauses: Vec::new(),
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: Vec::new(),
    })
}

/// PostgreSQL's rule for DISTINCT ON with ORDER BY: walking the ORDER BY keys, once one that is
/// not a DISTINCT ON expression has passed, no DISTINCT ON expression may follow or be left
/// over ("SELECT DISTINCT ON expressions must match initial ORDER BY expressions"). Expressions
/// match by their text, an output column's position or alias standing for its expression.
fn check_distinct_on(
    distinct: &[ast::Expr],
    order: &[ast::OrderByExpr],
    items: &[(ast::Expr, String)],
) -> SqlResult<()> {
    let text = |e: &ast::Expr| -> String {
        match output_position(e, items, "ORDER BY") {
            Ok(Some(i)) => items[i].0.to_string(),
            _ => e.to_string(),
        }
    };
    let on: Vec<String> = distinct.iter().map(text).collect();
    let mut covered: Vec<&String> = Vec::new();
    let mut skipped = false;
    let refuse = || {
        Err(SqlError::InvalidColumnReference(
            "SELECT DISTINCT ON expressions must match initial ORDER BY expressions".into(),
        ))
    };
    for o in order {
        let t = text(&o.expr);
        match on.iter().find(|x| **x == t) {
            Some(_) if skipped => return refuse(),
            Some(x) => covered.push(x),
            None => skipped = true,
        }
    }
    if skipped && on.iter().any(|x| !covered.contains(&x)) {
        return refuse();
    }
    Ok(())
}

/// Whether an expression's text calls a function at all (aggregates are functions): a cheap
/// pre-check before probing the select list.
fn contains_aggregate(e: &ast::Expr) -> bool {
    let s = e.to_string();
    s.contains('(')
}

/// Places conjuncts and orders the joins (see the module documentation).
/// `left_on`: the joins whose ON conditions stay at their own step (LEFT joins, and every join
/// when `outer_joins`). With RIGHT or FULL joins (`outer_joins`) any relation may come out
/// NULL-extended, so WHERE is applied after the last join and nothing is pushed into a scan.
fn plan_joins(
    binder: &Binder<'_>,
    mut relations: Vec<Relation>,
    conjuncts: Vec<Expr>,
    left_on: Vec<(usize, JoinKind, Vec<Expr>)>,
    outer_joins: bool,
) -> SqlResult<FromPlan> {
    let width = relations.last().map_or(0, |r| r.offset + r.width);
    let n = relations.len();
    let nullable: Vec<bool> = (0..n)
        .map(|r| outer_joins || left_on.iter().any(|(l, _, _)| *l == r))
        .collect();
    let mut conjuncts = conjuncts;
    if !outer_joins {
        add_implied_equalities(binder, &mut conjuncts);
    }
    let mut pool: Vec<Conjunct> = Vec::new();
    let mut constant: Vec<Expr> = Vec::new();
    let mut after_joins: Vec<Expr> = Vec::new();
    for c in conjuncts {
        if outer_joins {
            after_joins.push(c);
            continue;
        }
        let rels = referenced_relations(&c, &relations);
        match rels.as_deref() {
            Some([]) => constant.push(c),
            Some([r]) if !nullable[*r] => {
                let rel = &mut relations[*r];
                let mut local = c;
                let offset = rel.offset;
                local.shift_columns(offset);
                rel.filter = and_all(rel.filter.take().into_iter().chain([local]).collect());
            }
            // A correlated subquery with one relation reads that relation's row as it is.
            None if n == 1 && !nullable[0] => {
                let rel = &mut relations[0];
                rel.filter = and_all(rel.filter.take().into_iter().chain([c]).collect());
            }
            _ => pool.push(Conjunct { expr: c, rels }),
        }
    }
    for rel in &mut relations {
        choose_relation_access(binder, rel)?;
    }

    // Join order.
    let any_lateral = relations.iter().any(|r| r.lateral);
    let costed = match binder.planner {
        Some(p) if left_on.is_empty() && n > 1 && !any_lateral => {
            cost_based_order(p.engine, &relations, &pool)
        }
        _ => None,
    };
    let order: Vec<usize> = if let Some(order) = costed {
        order
    } else if left_on.is_empty() && n > 1 && !any_lateral {
        let mut joined: Vec<bool> = vec![false; n];
        let mut order = Vec::with_capacity(n);
        let is_point = |r: &Relation| matches!(&r.source, Source::Table(d) if r.access.is_point(d));
        let first = (0..n)
            .find(|&r| is_point(&relations[r]))
            .or_else(|| (0..n).find(|&r| !matches!(relations[r].access, Access::Full)))
            .or_else(|| (0..n).find(|&r| relations[r].filter.is_some()))
            .unwrap_or(0);
        joined[first] = true;
        order.push(first);
        while order.len() < n {
            let connected = |r: usize| {
                pool.iter().any(|c| {
                    c.rels
                        .as_ref()
                        .is_some_and(|rs| rs.contains(&r) && rs.iter().any(|x| joined[*x]))
                        && equi_sides(&c.expr, &relations, r, &joined).is_some()
                })
            };
            let candidates: Vec<usize> = (0..n).filter(|&r| !joined[r] && connected(r)).collect();
            let next = candidates
                .iter()
                .copied()
                .find(|&r| relations[r].filter.is_some())
                .or_else(|| candidates.first().copied())
                .or_else(|| (0..n).find(|&r| !joined[r]))
                .unwrap_or(0);
            joined[next] = true;
            order.push(next);
        }
        order
    } else {
        (0..n).collect()
    };

    let mut joined = vec![false; n];
    let mut steps = Vec::with_capacity(n);
    let mut left_on = left_on;
    for (k, &r) in order.iter().enumerate() {
        let (kind, on_conjuncts, local) = match left_on.iter().position(|(l, _, _)| *l == r) {
            Some(i) => {
                let (_, kind, on) = left_on.swap_remove(i);
                (kind, on, true)
            }
            None => (JoinKind::Inner, Vec::new(), false),
        };
        let mut probe = Vec::new();
        let mut build = Vec::new();
        let lateral = relations[r].lateral;
        let mut take_equi = |e: &Expr, joined: &[bool]| -> bool {
            if lateral {
                return false;
            }
            if let Some((mut p, mut b)) = equi_sides(e, &relations, r, joined)
                && hash_class(binder.type_of(&p)).is_some()
                && hash_class(binder.type_of(&p)) == hash_class(binder.type_of(&b))
            {
                // bpchar meets a string as a bpchar (as the comparison does): the other side's
                // key drops its trailing blanks too.
                match (binder.bpchar_typmod(&p), binder.bpchar_typmod(&b)) {
                    (Some(_), None) => b = as_bpchar(b),
                    (None, Some(_)) => p = as_bpchar(p),
                    _ => {}
                }
                b.shift_columns(relations[r].offset);
                probe.push(p);
                build.push(b);
                return true;
            }
            false
        };
        let mut on_rest = Vec::new();
        if local {
            for c in on_conjuncts {
                if !take_equi(&c, &joined) {
                    on_rest.push(c);
                }
            }
        } else {
            let mut i = 0;
            while i < pool.len() {
                if pool[i].rels.is_some() && take_equi(&pool[i].expr, &joined) {
                    pool.swap_remove(i);
                } else {
                    i += 1;
                }
            }
        }
        joined[r] = true;
        let mut covered = Vec::new();
        let mut i = 0;
        while i < pool.len() {
            if pool[i]
                .rels
                .as_ref()
                .is_some_and(|rs| rs.iter().all(|x| joined[*x]))
            {
                covered.push(pool.swap_remove(i).expr);
            } else {
                i += 1;
            }
        }
        if k == 0 {
            covered.append(&mut constant);
        }
        let lookup = match &relations[r].source {
            // A RIGHT or FULL join must see every row of the relation.
            _ if matches!(kind, JoinKind::Right | JoinKind::Full) => None,
            Source::Table(def) if k > 0 && !relations[r].access.is_point(def) => {
                index_lookup(def, &build)
            }
            _ => None,
        };
        steps.push(JoinStep {
            rel: r,
            kind,
            probe,
            build,
            on: and_all(on_rest),
            filter: and_all(covered),
            lookup,
            merge: None,
        });
    }
    let mut residual: Vec<Expr> = pool.into_iter().map(|c| c.expr).collect();
    residual.append(&mut constant);
    residual.append(&mut after_joins);
    Ok(FromPlan {
        relations,
        width,
        steps,
        residual: and_all(residual),
    })
}

/// Chooses how a table relation is read from its filter: by cost when the table has
/// statistics, else by rule (a key pinned to one row needs neither).
fn choose_relation_access(binder: &Binder<'_>, rel: &mut Relation) -> SqlResult<()> {
    let Source::Table(def) = &rel.source else {
        return Ok(());
    };
    rel.access = choose_access(def, rel.filter.as_ref());
    if let Some(p) = binder.planner
        && !rel.access.is_point(def)
    {
        rel.stats = crate::stats::for_planner(p.engine, p.txn, def)?;
        if let Some(st) = rel.stats.as_deref() {
            let t = crate::cost::TableInfo {
                def,
                stats: Some(st),
                rows: crate::cost::table_rows(p.engine, def, Some(st)),
            };
            rel.access = crate::cost::choose_access(p.engine, &t, rel.filter.as_ref());
        }
    }
    Ok(())
}

/// A WHERE conjunct's subquery pulled up into a semi- or anti-join step (see
/// [`pull_up_sublinks`]).
struct SemiJoin {
    /// The subquery's one table, its filter only the conjuncts over its own row.
    relation: Relation,
    kind: JoinKind,
    /// `probe[i]` over the enclosing query's row equals `build[i]` over the table's row.
    probe: Vec<Expr>,
    build: Vec<Expr>,
}

/// PostgreSQL's pull-up of sublinks: takes out of `conjuncts` (a WHERE clause's top-level
/// AND, and inner joins' ON conditions) each `EXISTS (subquery)`, `NOT EXISTS (subquery)` and
/// `x IN (SELECT col …)` whose subquery can run as a semi-join (anti-join for NOT EXISTS) with
/// the enclosing query's rows, instead of once per row. The subquery qualifies when it is one
/// plain SELECT over one table (no aggregate, GROUP BY, HAVING, window, set-returning call,
/// DISTINCT ON, LIMIT or OFFSET) whose WHERE conjuncts are either over the table alone or
/// equalities `table column = expression over enclosing rows` of one hash class (as a
/// hash-join key is; `char(n)` columns are left out), and EXISTS is correlated by at least one
/// (an uncorrelated EXISTS runs once anyway). `x IN (SELECT col …)` adds `x = col`. NOT IN is
/// never pulled up: with a NULL on either side it is NULL, not false, so it is no anti-join.
/// Whatever does not qualify stays a conjunct evaluated per row.
///
/// The steps run after every other join step (see [`add_semi_steps`]), where the WHERE clause
/// holds whatever the joins are: so LEFT, RIGHT and FULL joins in the FROM clause are safe.
fn pull_up_sublinks(binder: &Binder<'_>, conjuncts: &mut Vec<Expr>) -> Vec<SemiJoin> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < conjuncts.len() {
        let semi = match &conjuncts[i] {
            Expr::Exists { query, negated } if query.correlated => {
                semi_join_of(binder, query, None, *negated)
            }
            Expr::InSubquery {
                expr,
                query,
                negated: false,
            } => semi_join_of(binder, query, Some(expr), false),
            _ => None,
        };
        match semi {
            Some(s) => {
                conjuncts.remove(i);
                out.push(s);
            }
            None => i += 1,
        }
    }
    out
}

/// The semi- or anti-join a subquery runs as, when it qualifies (see [`pull_up_sublinks`]);
/// `in_expr`: the left side of `IN`.
fn semi_join_of(
    binder: &Binder<'_>,
    query: &Subquery,
    in_expr: Option<&Expr>,
    negated: bool,
) -> Option<SemiJoin> {
    let plan = &*query.plan;
    if plan.limit.is_some() || plan.offset.is_some() {
        return None;
    }
    let Body::Select(s) = &plan.body else {
        return None;
    };
    if s.aggregate.is_some()
        || !s.windows.calls.is_empty()
        || !s.srfs.is_empty()
        || !s.distinct_on.is_empty()
        || !s.minmax.is_empty()
    {
        return None;
    }
    let (from, [rel], [step]) = (
        &s.from,
        s.from.relations.as_slice(),
        s.from.steps.as_slice(),
    ) else {
        return None;
    };
    let Source::Table(def) = &rel.source else {
        return None;
    };
    if rel.lateral
        || rel.ordinality
        || rel.offset != 0
        || step.filter.is_some()
        || step.on.is_some()
        || from.residual.is_some()
    {
        return None;
    }
    // A key pair, if its types hash alike: a plain column of the table and an expression over
    // the enclosing rows.
    let key = |p: &Expr, col: usize| -> bool {
        let Some(c) = def.columns.get(col) else {
            return false;
        };
        let bpchar = matches!(
            c.text_kind,
            catalog::TextKind::Char(_) | catalog::TextKind::CharPadded(_)
        );
        let class = hash_class(binder.type_of(p));
        class.is_some()
            && class == hash_class(Some(c.ty))
            && !bpchar
            && binder.bpchar_typmod(p).is_none()
    };
    let mut probe = Vec::new();
    let mut build = Vec::new();
    if let Some(x) = in_expr {
        let ([Expr::Column(col)], false) = (s.projections.as_slice(), has_subquery(x)) else {
            return None;
        };
        if !key(x, *col) {
            return None;
        }
        probe.push(x.clone());
        build.push(Expr::Column(*col));
    }
    let mut parts = Vec::new();
    if let Some(f) = &rel.filter {
        split_conjuncts(f.clone(), &mut parts);
    }
    let mut local = Vec::new();
    for c in parts {
        if self_contained(&c) {
            local.push(c);
            continue;
        }
        let Expr::Binary {
            op: BinOp::Eq,
            left,
            right,
            ..
        } = &c
        else {
            return None;
        };
        let ((Expr::Column(col), other) | (other, Expr::Column(col))) = (&**left, &**right) else {
            return None;
        };
        let mut p = other.clone();
        if !p.lift_outer() || !key(&p, *col) {
            return None;
        }
        probe.push(p);
        build.push(Expr::Column(*col));
    }
    if probe.is_empty() {
        return None;
    }
    let relation = Relation {
        source: Source::Table(def.clone()),
        offset: 0,
        width: rel.width,
        filter: and_all(local),
        access: Access::Full,
        needed: None,
        stats: None,
        lateral: false,
        ordinality: false,
        label: rel.label.clone(),
        column_names: rel.column_names.clone(),
    };
    let kind = if negated {
        JoinKind::Anti
    } else {
        JoinKind::Semi
    };
    Some(SemiJoin {
        relation,
        kind,
        probe,
        build,
    })
}

/// Whether `e` reads nothing but its own row: no enclosing row, no correlated subquery.
fn self_contained(e: &Expr) -> bool {
    let mut own = true;
    e.visit(&mut |x| match x {
        Expr::Outer { .. } => own = false,
        Expr::ScalarSubquery(q)
        | Expr::ArraySubquery(q)
        | Expr::Exists { query: q, .. }
        | Expr::InSubquery { query: q, .. }
            if q.correlated =>
        {
            own = false
        }
        _ => {}
    });
    own
}

/// Whether `e` holds a subquery.
fn has_subquery(e: &Expr) -> bool {
    let mut found = false;
    e.visit(&mut |x| {
        found |= matches!(
            x,
            Expr::ScalarSubquery(_)
                | Expr::ArraySubquery(_)
                | Expr::Exists { .. }
                | Expr::InSubquery { .. }
        )
    });
    found
}

/// Appends the pulled-up subqueries' relations to `from` (after its columns, which no
/// output reads) and their semi- and anti-join steps after its last step.
fn add_semi_steps(binder: &Binder<'_>, from: &mut FromPlan, semis: Vec<SemiJoin>) -> SqlResult<()> {
    for s in semis {
        let mut rel = s.relation;
        rel.offset = from.width;
        from.width += rel.width;
        choose_relation_access(binder, &mut rel)?;
        let lookup = match &rel.source {
            Source::Table(def) if !rel.access.is_point(def) => index_lookup(def, &s.build),
            _ => None,
        };
        // A semi-join whose keys pin a unique key of the table finds at most one row per
        // partial row: it is an inner join (PostgreSQL's reduction of unique semi-joins).
        let unique = matches!(&rel.source, Source::Table(def)
            if probe_key(def, &s.build).is_some_and(|(unique, _)| unique));
        let kind = if s.kind == JoinKind::Semi && unique {
            JoinKind::Inner
        } else {
            s.kind
        };
        from.steps.push(JoinStep {
            rel: from.relations.len(),
            kind,
            probe: s.probe,
            build: s.build,
            on: None,
            filter: None,
            lookup,
            merge: None,
        });
        from.relations.push(rel);
    }
    Ok(())
}

/// The join order by estimated cost ([`crate::cost::order_joins`]), when any table of the
/// query has statistics; `None` leaves the rule-based order.
fn cost_based_order(
    engine: &Engine,
    relations: &[Relation],
    pool: &[Conjunct],
) -> Option<Vec<usize>> {
    use crate::cost::{JoinEdge, JoinRel, TableInfo};
    if !relations.iter().any(|r| r.stats.is_some()) {
        return None;
    }
    let infos: Vec<Option<TableInfo<'_>>> = relations
        .iter()
        .map(|r| match &r.source {
            Source::Table(def) => Some(TableInfo {
                def,
                stats: r.stats.as_deref(),
                rows: crate::cost::table_rows(engine, def, r.stats.as_deref()),
            }),
            _ => None,
        })
        .collect();
    let rels: Vec<JoinRel> = relations
        .iter()
        .zip(&infos)
        .map(|(r, info)| match info {
            Some(t) => {
                let parts = r
                    .filter
                    .as_ref()
                    .map(crate::cost::conjuncts)
                    .unwrap_or_default();
                let rows = if r.access.is_point(t.def) {
                    1.0
                } else {
                    t.rows * crate::cost::conjunction_selectivity(&parts, Some(t))
                };
                JoinRel {
                    rows,
                    cost: crate::cost::access_cost(engine, t, &r.access, parts.len()),
                }
            }
            None => {
                let rows = match &r.source {
                    Source::Derived(_) => 1000.0,
                    _ => 100.0,
                };
                JoinRel {
                    rows,
                    cost: rows * crate::cost::ROW_COST,
                }
            }
        })
        .collect();
    // A column of one relation: (relation, its column).
    let column = |e: &Expr| -> Option<(usize, usize)> {
        let e = match e {
            Expr::Cast { expr, .. } => &**expr,
            other => other,
        };
        match e {
            Expr::Column(c) => {
                let r = relation_of(relations, *c);
                Some((r, c - relations[r].offset))
            }
            _ => None,
        }
    };
    let mut edges = Vec::new();
    for c in pool {
        let Some(rs) = &c.rels else { continue };
        if rs.len() < 2 {
            continue;
        }
        let edge = match &c.expr {
            Expr::Binary {
                op: BinOp::Eq,
                left,
                right,
                ..
            } => match (column(left), column(right)) {
                (Some((ra, ca)), Some((rb, cb))) if ra != rb => {
                    let probe = |r: usize, col: usize| {
                        infos[r]
                            .as_ref()
                            .and_then(|t| crate::cost::probe(engine, t, col))
                    };
                    JoinEdge {
                        rels: vec![ra, rb],
                        selectivity: crate::cost::join_selectivity(
                            (infos[ra].as_ref(), ca),
                            (infos[rb].as_ref(), cb),
                        ),
                        probe: vec![probe(ra, ca), probe(rb, cb)],
                        equi: true,
                    }
                }
                _ => {
                    let sides = referenced_relations(left, relations)
                        .zip(referenced_relations(right, relations));
                    let equi =
                        sides.is_some_and(|(l, r)| l.len() == 1 && r.len() == 1 && l[0] != r[0]);
                    JoinEdge {
                        rels: rs.clone(),
                        selectivity: crate::cost::DEFAULT_EQ_SEL,
                        probe: vec![None; rs.len()],
                        equi,
                    }
                }
            },
            other => JoinEdge {
                rels: rs.clone(),
                selectivity: crate::cost::selectivity(other, None),
                probe: vec![None; rs.len()],
                equi: false,
            },
        };
        edges.push(edge);
    }
    Some(crate::cost::order_joins(&rels, &edges))
}

/// With `a = b` and `a = K` among the conjuncts (`K` a constant or a parameter), every row that
/// passes has `b = K` too: that conjunct is added, for each column so joined to a pinned one
/// (PostgreSQL's equivalence classes do the same). It lets `b`'s relation be read by key on
/// its own, before the join, instead of once per joined row: `orders o JOIN customers c ON
/// c.id = o.customer_id WHERE o.customer_id = 42` reads customer 42 once. Only columns of one
/// type are joined into a class, so that the added comparison means what the original did. An
/// equality between two columns pinned to the same value is then dropped: the pins imply it.
fn add_implied_equalities(binder: &Binder<'_>, conjuncts: &mut Vec<Expr>) {
    fn pinned(e: &Expr) -> bool {
        match e {
            Expr::Literal(v) => !v.is_null(),
            Expr::Param(_) => true,
            Expr::Cast { expr, .. } => pinned(expr),
            _ => false,
        }
    }
    fn equality(e: &Expr) -> Option<(&Expr, &Expr)> {
        match e {
            Expr::Binary {
                op: BinOp::Eq,
                left,
                right,
                ..
            } => Some((left, right)),
            _ => None,
        }
    }
    // Classes of columns joined by equalities, as a small union-find over column positions.
    let mut parent: Vec<(usize, usize)> = Vec::new();
    fn root(parent: &[(usize, usize)], mut c: usize) -> usize {
        while let Some(&(_, p)) = parent.iter().find(|(x, _)| *x == c) {
            if p == c {
                break;
            }
            c = p;
        }
        c
    }
    for e in conjuncts.iter() {
        if let Some((Expr::Column(a), Expr::Column(b))) = equality(e)
            && a != b
            && binder.type_of(&Expr::Column(*a)) == binder.type_of(&Expr::Column(*b))
        {
            let (ra, rb) = (root(&parent, *a), root(&parent, *b));
            if ra != rb {
                parent.retain(|(x, _)| *x != ra);
                parent.push((ra, rb));
            }
        }
    }
    if parent.is_empty() || parent.len() > MAX_IMPLIED_CLASS_COLUMNS {
        return;
    }
    let mut members: Vec<usize> = parent.iter().flat_map(|&(x, p)| [x, p]).collect();
    members.sort_unstable();
    members.dedup();
    // The columns pinned by a conjunct of their own, and one such conjunct per class.
    let mut pinned_columns: Vec<usize> = Vec::new();
    let mut by_class: Vec<(usize, usize, usize)> = Vec::new(); // (root, column, conjunct)
    for (k, e) in conjuncts.iter().enumerate() {
        let column = match equality(e) {
            Some((Expr::Column(c), other)) | Some((other, Expr::Column(c))) if pinned(other) => *c,
            _ => continue,
        };
        pinned_columns.push(column);
        let r = root(&parent, column);
        if members.contains(&column) && !by_class.iter().any(|(x, _, _)| *x == r) {
            by_class.push((r, column, k));
        }
    }
    let mut added = Vec::new();
    // Column pairs whose equality the added conjuncts imply (both are pinned to one value).
    let mut redundant: Vec<Vec<usize>> = Vec::new();
    for &(r, column, k) in &by_class {
        let mut same = vec![column];
        for &m in &members {
            if m == column || pinned_columns.contains(&m) || root(&parent, m) != r {
                continue;
            }
            let mut e = conjuncts[k].clone();
            if let Expr::Binary { left, right, .. } = &mut e {
                for side in [left, right] {
                    if matches!(**side, Expr::Column(c) if c == column) {
                        **side = Expr::Column(m);
                    }
                }
            }
            added.push(e);
            same.push(m);
        }
        redundant.push(same);
    }
    // `a = b` with both pinned to one value is implied by the pins; kept, it would be read as a
    // join condition and its selectivity counted twice.
    conjuncts.retain(|e| match equality(e) {
        Some((Expr::Column(a), Expr::Column(b))) => !redundant
            .iter()
            .any(|same| same.contains(a) && same.contains(b)),
        _ => true,
    });
    conjuncts.extend(added);
}

/// Columns joined into equivalence classes past which no equality is implied (the quadratic
/// search stays cheap; join graphs this wide are rare).
const MAX_IMPLIED_CLASS_COLUMNS: usize = 64;

/// `e` cast to `bpchar` (no length): its value as it is, as a bpchar.
fn as_bpchar(e: Expr) -> Expr {
    Expr::Func {
        name: "bpchar_length",
        args: vec![e, Expr::Literal(Value::Int(-1))],
    }
}

/// If `e` is `x = y` with one side over relation `r` only and the other over joined relations
/// only, returns (joined side, `r` side).
fn equi_sides(e: &Expr, relations: &[Relation], r: usize, joined: &[bool]) -> Option<(Expr, Expr)> {
    let Expr::Binary {
        op: BinOp::Eq,
        left,
        right,
        ..
    } = e
    else {
        return None;
    };
    let l = referenced_relations(left, relations)?;
    let rr = referenced_relations(right, relations)?;
    let only_r = |s: &[usize]| s == [r];
    let only_joined = |s: &[usize]| !s.is_empty() && s.iter().all(|x| joined[*x] && *x != r);
    if only_r(&rr) && only_joined(&l) {
        Some(((**left).clone(), (**right).clone()))
    } else if only_r(&l) && only_joined(&rr) {
        Some(((**right).clone(), (**left).clone()))
    } else {
        None
    }
}

/// `ORDER BY` of a set operation names an output column by position or name.
fn set_output_position(e: &ast::Expr, columns: &[ColumnInfo]) -> SqlResult<usize> {
    if let Some(i) = constant_position(e, columns.len(), "ORDER BY")? {
        return Ok(i);
    }
    if let ast::Expr::Identifier(id) = e {
        let name = ident_name(id);
        if let Some(i) = columns.iter().position(|c| c.name == name) {
            return Ok(i);
        }
        return Err(SqlError::UndefinedColumn(name));
    }
    Err(SqlError::FeatureNotSupported(
        "ORDER BY on a UNION/INTERSECT/EXCEPT result must be on output columns".into(),
    ))
}

/// The values an uncorrelated `IN (subquery)` compares with, hashed (PostgreSQL's hashed
/// SubPlan): their key encodings, the one type they share, and whether one was NULL.
pub struct InSet {
    /// Every non-NULL value is this kind of [`Value`] (`None`: there is none).
    kind: Option<std::mem::Discriminant<Value>>,
    keys: borealis_common::fasthash::FastSet<Vec<u8>>,
    has_null: bool,
    /// The subquery gave no rows.
    empty: bool,
    /// The probe's key, encoded into one buffer for every row.
    probe: RefCell<Vec<u8>>,
}

impl InSet {
    /// Whether the values hold `x` (not NULL): `None` when `x` is of another kind than the
    /// values (compared one by one instead), else `Some(true)` when one equals it,
    /// `Some(false)` when none does and none is NULL; a NULL among them makes a miss unknown,
    /// which is `Some(false)` with [`InSet::has_null`].
    #[must_use]
    pub fn holds(&self, x: &Value) -> Option<bool> {
        match self.kind {
            Some(k) if k == std::mem::discriminant(x) => {
                let mut key = self.probe.borrow_mut();
                key.clear();
                encode_key_value(x, &mut key);
                Some(self.keys.contains(key.as_slice()))
            }
            Some(_) => None,
            None => Some(false),
        }
    }

    #[must_use]
    pub fn has_null(&self) -> bool {
        self.has_null
    }

    /// Whether the subquery gave no rows.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.empty
    }
}

/// Runs plans within one statement: reads through the transaction, evaluates subqueries, and
/// caches the rows of uncorrelated ones.
pub struct Executor<'a> {
    pub engine: &'a Engine,
    pub txn: &'a Txn,
    pub params: &'a [Value],
    pub session: &'a SessionInfo,
    /// Sequences for `nextval` and friends; absent where a statement cannot reach them.
    pub sequences: Option<crate::sequence::SequenceAccess<'a>>,
    cache: RefCell<FastMap<usize, Rc<crate::cursor::RowStore>>>,
    /// The hashed values of uncorrelated `IN (subquery)`s, or `None` for one whose rows
    /// cannot be hashed (see [`Executor::in_set`]).
    in_sets: RefCell<FastMap<usize, Option<Rc<InSet>>>>,
    /// The rows of each running recursive CTE's previous round (see [`Body::Recursive`]).
    work_tables: RefCell<HashMap<usize, Rc<crate::cursor::RowStore>>>,
    /// Joined rows given back once read (see [`Executor::spare_row`]): a join step builds its
    /// rows in these instead of allocating one per row.
    spare_rows: RefCell<Vec<Vec<Value>>>,
    /// EXPLAIN ANALYZE's counters; `None` (no counting, no clock reads) otherwise.
    instrument: Option<explain::Instrument>,
    /// Bytes a hash aggregate, DISTINCT, a sort or a hash join's table may hold before it
    /// spills (the session's `work_mem`).
    pub work_mem: usize,
    /// Threads an aggregate over a large table may add to its own to read and aggregate it in
    /// parts (the session's `max_parallel_workers_per_gather`), and whether size is ignored
    /// (`force_parallel_mode`; see `parallel_aggregate`).
    pub parallel: (usize, bool),
}

impl<'a> Executor<'a> {
    #[must_use]
    pub fn new(
        engine: &'a Engine,
        txn: &'a Txn,
        params: &'a [Value],
        session: &'a SessionInfo,
    ) -> Executor<'a> {
        Executor {
            engine,
            txn,
            params,
            session,
            sequences: None,
            cache: RefCell::new(FastMap::default()),
            in_sets: RefCell::new(FastMap::default()),
            work_tables: RefCell::new(HashMap::new()),
            spare_rows: RefCell::new(Vec::new()),
            instrument: None,
            work_mem: WORK_MEM_DEFAULT,
            parallel: (0, false),
        }
    }

    /// The executor counting rows, loops and (with `timing`) time per plan node, for EXPLAIN
    /// ANALYZE.
    #[must_use]
    pub fn with_instrument(mut self, timing: bool) -> Executor<'a> {
        self.instrument = Some(explain::Instrument::new(timing));
        self
    }

    /// The counters EXPLAIN ANALYZE collected.
    pub fn take_instrument(&mut self) -> Option<explain::Instrument> {
        self.instrument.take()
    }

    /// A row of `values` (`width` of them), built in a buffer given back by
    /// [`Executor::recycle_row`] when there is one: its values from an earlier row are
    /// overwritten in place, text and bytes into the buffers they already have. A join makes
    /// its rows this way, so a join whose rows are read and dropped allocates nothing per row.
    fn spare_row<'v>(&self, width: usize, values: impl Iterator<Item = &'v Value>) -> Vec<Value> {
        let mut row = self.take_spare(width);
        if row.len() != width {
            row.clear();
            row.resize(width, Value::Null);
        }
        let mut n = 0;
        for (slot, v) in row.iter_mut().zip(values) {
            assign_value(slot, v);
            n += 1;
        }
        debug_assert_eq!(n, width, "a spare row is filled whole");
        row
    }

    /// A buffer given back by [`Executor::recycle_row`] that holds `width` values and not
    /// many more (a row kept in a result keeps its buffer's size), its values those of an
    /// earlier row; a new empty one when there is none.
    fn take_spare(&self, width: usize) -> Vec<Value> {
        let mut spare = self.spare_rows.borrow_mut();
        let fits = |r: &Vec<Value>| (width..=2 * width + 4).contains(&r.capacity());
        match spare.iter().rposition(fits) {
            Some(i) => spare.swap_remove(i),
            None => Vec::with_capacity(width),
        }
    }

    /// The row a join step makes of `partial` and relation `rel`'s `row` (see
    /// [`joined_row`]), in a spare buffer.
    fn joined(&self, rel: &Relation, partial: &[Value], row: &[Value]) -> Vec<Value> {
        assert_eq!(
            row.len(),
            rel.width,
            "a relation row has the relation's width"
        );
        let values = partial[..rel.offset]
            .iter()
            .chain(row)
            .chain(&partial[rel.offset + rel.width..]);
        self.spare_row(partial.len(), values)
    }

    /// Gives a row that was read and is done with back for [`Executor::spare_row`] to build
    /// another in. At most [`SPARE_ROWS_MAX`] are kept (for the statement's length), the
    /// oldest making way: buffers of a width no longer asked for do not stay.
    fn recycle_row(&self, row: Vec<Value>) {
        if row.capacity() == 0 {
            return;
        }
        let mut spare = self.spare_rows.borrow_mut();
        if spare.len() >= SPARE_ROWS_MAX {
            spare.remove(0);
        }
        spare.push(row);
    }

    /// The executor carrying `instrument`, counters another executor of the same statement
    /// began (EXPLAIN ANALYZE of INSERT/UPDATE/DELETE, whose parts run on several executors).
    #[must_use]
    pub fn lend_instrument(mut self, instrument: Option<explain::Instrument>) -> Executor<'a> {
        self.instrument = instrument;
        self
    }

    /// The counters EXPLAIN ANALYZE collects, if it does.
    #[must_use]
    pub fn instrument(&self) -> Option<&explain::Instrument> {
        self.instrument.as_ref()
    }

    /// The instant a node starts, when EXPLAIN ANALYZE times nodes; free otherwise.
    pub(crate) fn node_start(&self) -> Option<std::time::Instant> {
        match &self.instrument {
            Some(i) if i.timing => Some(std::time::Instant::now()),
            _ => None,
        }
    }

    /// Counts one loop of a plan node that produced `rows` rows (EXPLAIN ANALYZE only).
    fn node_done<T>(
        &self,
        node: &T,
        part: explain::Part,
        started: Option<std::time::Instant>,
        rows: usize,
    ) {
        if let Some(i) = &self.instrument {
            i.record(node, part, started, rows);
        }
    }

    /// The executor with access to sequences.
    #[must_use]
    pub fn with_sequences(
        mut self,
        sequences: crate::sequence::SequenceAccess<'a>,
    ) -> Executor<'a> {
        self.sequences = Some(sequences);
        self
    }

    /// An evaluation context over `row` that can run subqueries.
    #[must_use]
    pub fn cx<'b>(
        &'b self,
        row: &'b [Value],
        outer: Option<&'b EvalContext<'b>>,
    ) -> EvalContext<'b> {
        EvalContext {
            row,
            params: self.params,
            aggs: &[],
            group_keys: &[],
            windows: &[],
            srfs: &[],
            session: self.session,
            outer,
            exec: Some(self),
        }
    }

    /// The rows of a subquery for the current row of `cx`.
    pub fn subquery_rows(
        &self,
        q: &Subquery,
        cx: &EvalContext<'_>,
        cap: Option<usize>,
    ) -> SqlResult<Rc<crate::cursor::RowStore>> {
        // Kept like a statement's result: past `work_mem` in a temporary file, re-read by
        // each use (PostgreSQL's subplan rescans its query instead).
        let run = |outer| -> SqlResult<crate::cursor::RowStore> {
            let mut rows = crate::cursor::RowStore::new(q.plan.columns.len(), self.work_mem);
            self.run_capped(&q.plan, outer, cap, &mut rows)?;
            rows.finish_writing()?;
            Ok(rows)
        };
        if q.correlated {
            return Ok(Rc::new(run(Some(cx))?));
        }
        let key = std::sync::Arc::as_ptr(&q.plan) as usize;
        if let Some(rows) = self.cache.borrow().get(&key) {
            return Ok(rows.clone());
        }
        let rows = Rc::new(run(None)?);
        self.cache.borrow_mut().insert(key, rows.clone());
        Ok(rows)
    }

    /// The hashed values of uncorrelated subquery `q` (its first column) for an IN, built
    /// once per statement from its rows (read back from their file if they spilled); `None`
    /// when they are compared one by one instead: a correlated subquery, keys past twice
    /// `work_mem` or [`RESULT_MEMORY_MIN`] (PostgreSQL hashes a subquery whose table fits
    /// in `hash_mem`, twice `work_mem`), or values of several kinds or of a kind whose
    /// equality is not its key encoding's (json, arrays, records).
    pub fn in_set(&self, q: &Subquery, cx: &EvalContext<'_>) -> SqlResult<Option<Rc<InSet>>> {
        if q.correlated {
            return Ok(None);
        }
        let key = std::sync::Arc::as_ptr(&q.plan) as usize;
        if let Some(set) = self.in_sets.borrow().get(&key) {
            return Ok(set.clone());
        }
        let rows = self.subquery_rows(q, cx, None)?;
        let budget = (2 * self.work_mem).max(RESULT_MEMORY_MIN);
        let mut set = Some(InSet {
            kind: None,
            keys: borealis_common::fasthash::FastSet::default(),
            has_null: false,
            empty: rows.is_empty(),
            probe: RefCell::new(Vec::new()),
        });
        if let Some(building) = &mut set {
            let mut key = Vec::new();
            // A key's bytes, its vector and about a slot of the table.
            let mut bytes = 0usize;
            let built = rows.for_each(&mut |r| {
                let v = &r[0];
                if v.is_null() {
                    building.has_null = true;
                    return Ok(());
                }
                let kind = std::mem::discriminant(v);
                let hashable = !matches!(
                    v,
                    Value::Json(_) | Value::JsonPath(_) | Value::Array(_) | Value::Record(_)
                );
                if !hashable || building.kind.is_some_and(|k| k != kind) {
                    return Err(SqlError::Enough);
                }
                building.kind = Some(kind);
                key.clear();
                encode_key_value(v, &mut key);
                if !building.keys.contains(&key) {
                    bytes += key.len() + 2 * std::mem::size_of::<Vec<u8>>();
                    if bytes > budget {
                        return Err(SqlError::Enough);
                    }
                    building.keys.insert(key.clone());
                }
                Ok(())
            });
            match built {
                Ok(()) => {}
                Err(SqlError::Enough) => set = None,
                Err(e) => return Err(e),
            }
        }
        let set = set.map(Rc::new);
        self.in_sets.borrow_mut().insert(key, set.clone());
        Ok(set)
    }

    /// Runs a query plan; `outer` is the enclosing row's context for a correlated subquery.
    pub fn run(
        &self,
        plan: &QueryPlan,
        outer: Option<&EvalContext<'_>>,
    ) -> SqlResult<Vec<Vec<Value>>> {
        let mut rows = Vec::new();
        self.run_into(plan, outer, &mut rows)?;
        Ok(rows)
    }

    /// Runs a query plan, its final rows going to `rows` (a statement's result goes to a store
    /// that spills past a budget, so that its size is not bounded by memory).
    pub fn run_into(
        &self,
        plan: &QueryPlan,
        outer: Option<&EvalContext<'_>>,
        rows: &mut dyn ResultSink,
    ) -> SqlResult<()> {
        self.run_capped(plan, outer, None, rows)
    }

    /// [`Executor::run_into`], giving at most `cap` rows when that is less than the plan's own
    /// LIMIT (an EXISTS needs one row, a scalar subquery two to tell that it has too many): a
    /// query that streams stops reading once they are out.
    fn run_capped(
        &self,
        plan: &QueryPlan,
        outer: Option<&EvalContext<'_>>,
        cap: Option<usize>,
        rows: &mut dyn ResultSink,
    ) -> SqlResult<()> {
        let started = self.node_start();
        let limit = match &plan.limit {
            Some(e) => constant_usize(
                e,
                self.params,
                self.session,
                RowCount::Limit {
                    with_ties: plan.with_ties,
                },
            )?,
            None => None,
        };
        // WITH TIES may give more rows than its LIMIT: those are the plan's to give.
        let limit = match (limit, cap) {
            (Some(l), Some(c)) if !plan.with_ties => Some(l.min(c)),
            (None, Some(c)) => Some(c),
            (l, _) => l,
        };
        let offset = match &plan.offset {
            Some(e) => constant_usize(e, self.params, self.session, RowCount::Offset)?.unwrap_or(0),
            None => 0,
        };
        // After the body: the sort (within `work_mem`, bounded by a LIMIT when nothing
        // between them drops rows), DISTINCT ON, OFFSET and LIMIT, row by row.
        let distinct_on = match &plan.body {
            Body::Select(s) => !s.distinct_on.is_empty(),
            _ => false,
        };
        let n = plan.order_by.len();
        // DISTINCT ON sorts on the ORDER BY keys and then on its own values (as PostgreSQL's
        // sort below a Unique does), so that rows of equal DISTINCT ON values arrive together
        // and only the previous row's values need keeping: the sort spills past `work_mem`.
        let order = |a: &[Value], b: &[Value]| {
            compare_keys(a, b, &plan.order_by).then_with(|| {
                if distinct_on {
                    compare_distinct_on(a.get(n..).unwrap_or(&[]), b.get(n..).unwrap_or(&[]))
                } else {
                    Ordering::Equal
                }
            })
        };
        let bound = limit
            .filter(|_| !distinct_on && !plan.with_ties)
            .map(|l| l.saturating_add(offset));
        // Rows that arrive in ORDER BY order already (an index read in key order) skip it.
        let mut sorter = ((!plan.order_by.is_empty() && !plan.presorted) || distinct_on)
            .then(|| crate::spill::Sorter::new(&order, &self.session.cancel, self.work_mem, bound));
        let mut previous_on: Option<Vec<u8>> = None;
        let (mut unique, mut skipped) = (0usize, 0usize);
        let mut last_keys: Option<Vec<Value>> = None;
        // Takes the next row in order; whether more are wanted.
        let mut tail = |vals: Vec<Value>, keys: Vec<Value>| -> SqlResult<bool> {
            if distinct_on {
                // The first row of each run of equal DISTINCT ON values.
                let on = row_hash_key(keys.get(n..).unwrap_or(&[]));
                if previous_on.as_ref() == Some(&on) {
                    return Ok(true);
                }
                previous_on = Some(on);
                unique += 1;
            }
            if skipped < offset {
                skipped += 1;
                return Ok(true);
            }
            if limit.is_some_and(|l| rows.row_count() >= l) {
                // WITH TIES: a row that sorts equal to the last one kept is kept too.
                let tie = plan.with_ties
                    && last_keys.as_deref().is_some_and(|k| {
                        compare_keys(k, keys.get(..n).unwrap_or(&[]), &plan.order_by)
                            == Ordering::Equal
                    });
                if !tie {
                    return Ok(false);
                }
                rows.push_row(vals)?;
                return Ok(true);
            }
            if plan.with_ties {
                last_keys = Some(keys.get(..n).unwrap_or(&[]).to_vec());
            }
            rows.push_row(vals)?;
            Ok(plan.with_ties || limit.is_none_or(|l| rows.row_count() < l))
        };
        let mut body_rows = 0usize;
        {
            let mut sink = |vals: Vec<Value>, keys: Vec<Value>| -> SqlResult<()> {
                body_rows += 1;
                match &mut sorter {
                    Some(s) => {
                        // A LIMIT's sort drops rows: their buffers make the next ones.
                        if let Some((vals, keys)) = s.push_giving_back(vals, keys)? {
                            self.recycle_row(vals);
                            self.recycle_row(keys);
                        }
                        Ok(())
                    }
                    None => tail(vals, keys).map(drop),
                }
            };
            match &plan.body {
                Body::Select(s) => {
                    let streaming = (plan.order_by.is_empty() || plan.presorted)
                        && s.aggregate.is_none()
                        && !s.distinct
                        && s.distinct_on.is_empty()
                        && s.windows.calls.is_empty();
                    let stop_after = if streaming && !plan.with_ties {
                        limit.map(|l| l.saturating_add(offset))
                    } else {
                        None
                    };
                    self.run_select(s, &plan.order_by, outer, stop_after, &mut sink)?;
                }
                Body::Query(q) => {
                    with_output_keys(self.run(q, outer)?, &plan.order_by, &mut sink)?;
                }
                Body::Values(values) => {
                    let cx = self.cx(&[], outer);
                    let mut rows = Vec::with_capacity(values.len());
                    for r in values {
                        let mut row = Vec::with_capacity(r.len());
                        for e in r {
                            row.push(e.eval(&cx)?);
                        }
                        rows.push(row);
                    }
                    with_output_keys(rows, &plan.order_by, &mut sink)?;
                }
                Body::Set {
                    op,
                    all,
                    left,
                    right,
                } => {
                    // Both inputs stream through the operation (see `setop`), which
                    // holds at most `work_mem` of keys and spills the rest.
                    let run = setop::SetOpRun {
                        op: *op,
                        all: *all,
                        width: plan.columns.len(),
                        work_mem: self.work_mem,
                        cancel: &self.session.cancel,
                    };
                    let columns = &plan.columns;
                    let feed = |q: &QueryPlan,
                                g: &mut dyn FnMut(Vec<Value>) -> SqlResult<()>|
                     -> SqlResult<()> {
                        self.run_into(
                            q,
                            outer,
                            &mut FnSink {
                                rows: 0,
                                f: &mut |row| g(widen_set_row(row, columns)?),
                            },
                        )
                    };
                    let mut stats = setop::SetOpStats::default();
                    let mut out =
                        |row: Vec<Value>| with_output_keys(vec![row], &plan.order_by, &mut sink);
                    run.run(
                        &mut |g| feed(left, g),
                        &mut |g| feed(right, g),
                        &mut out,
                        &mut stats,
                    )?;
                    if let Some(i) = &self.instrument
                        && !(*op == SetOp::Union && *all)
                    {
                        i.record_memory(
                            plan,
                            explain::Part::Body,
                            explain::MemoryUse {
                                batches: stats.batches,
                                peak_bytes: stats.peak_bytes,
                                disk_bytes: stats.disk_bytes,
                                ..explain::MemoryUse::default()
                            },
                        );
                    }
                }
                Body::Recursive {
                    id,
                    all,
                    anchor,
                    step,
                } => {
                    let width = plan.columns.len();
                    self.run_recursive((*id, *all, width), anchor, step, outer, &mut |row| {
                        with_output_keys(vec![row], &plan.order_by, &mut sink)
                    })?;
                }
            }
        }
        self.node_done(plan, explain::Part::Body, started, body_rows);
        if let Some(sorter) = sorter {
            let mut sorted = 0usize;
            let stats = sorter.finish(&mut |vals, keys| {
                sorted += 1;
                tail(vals, keys)
            })?;
            if let Some(i) = &self.instrument {
                i.record_memory(
                    plan,
                    explain::Part::Sort,
                    explain::MemoryUse::of_sort(stats.method, stats.memory_bytes, stats.disk_bytes),
                );
            }
            self.node_done(plan, explain::Part::Sort, started, sorted);
        }
        if distinct_on {
            self.node_done(plan, explain::Part::Unique, started, unique);
        }
        self.node_done(plan, explain::Part::Limit, started, rows.row_count());
        Ok(())
    }

    /// Runs `anchor UNION [ALL] step` as PostgreSQL does: the anchor's rows (without duplicates
    /// for UNION) are the first work table; each round runs `step` over the work table, and its
    /// new rows (for UNION, those not produced before) go to `emit` as they come and make the
    /// next work table, until a round adds none. Nothing keeps the result; a work table is a
    /// [`crate::cursor::RowStore`], in a temporary file past `work_mem`. UNION's set of rows
    /// seen stays in memory (as PostgreSQL's recursive union keeps its hash table), bounded by
    /// [`RECURSIVE_ROWS_MAX`] distinct rows.
    fn run_recursive(
        &self,
        (id, all, width): (usize, bool, usize),
        anchor: &QueryPlan,
        step: &QueryPlan,
        outer: Option<&EvalContext<'_>>,
        emit: &mut dyn FnMut(Vec<Value>) -> SqlResult<()>,
    ) -> SqlResult<()> {
        use crate::cursor::RowStore;
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        // Once `emit` wanted no more rows, every later row stops the query again (a join
        // pipeline inside the step may swallow one stop and go on).
        let stopped = std::cell::Cell::new(false);
        let mut add = |row: Vec<Value>, work: &mut RowStore| -> SqlResult<()> {
            if stopped.get() {
                return Err(SqlError::Enough);
            }
            if !all {
                if seen.len() >= RECURSIVE_ROWS_MAX {
                    return Err(SqlError::ProgramLimitExceeded(format!(
                        "a recursive UNION produced more than {RECURSIVE_ROWS_MAX} distinct rows"
                    )));
                }
                if !seen.insert(row_hash_key(&row)) {
                    return Ok(());
                }
            }
            work.push(row.clone())?;
            let r = emit(row);
            stopped.set(matches!(r, Err(SqlError::Enough)));
            r
        };
        let mut work = RowStore::new(width, self.work_mem);
        let mut ran = self.run_into(
            anchor,
            outer,
            &mut FnSink {
                rows: 0,
                f: &mut |row| add(row, &mut work),
            },
        );
        loop {
            if stopped.get() {
                return Err(SqlError::Enough);
            }
            ran?;
            if work.is_empty() {
                return Ok(());
            }
            self.session.cancel.check()?;
            work.finish_writing()?;
            let table = Rc::new(std::mem::replace(
                &mut work,
                RowStore::new(width, self.work_mem),
            ));
            let previous = self.work_tables.borrow_mut().insert(id, table);
            ran = self.run_into(
                step,
                outer,
                &mut FnSink {
                    rows: 0,
                    f: &mut |row| add(row, &mut work),
                },
            );
            match previous {
                Some(p) => self.work_tables.borrow_mut().insert(id, p),
                None => self.work_tables.borrow_mut().remove(&id),
            };
        }
    }

    /// Reads one relation's rows (its own layout) that pass its filter.
    fn relation_rows(
        &self,
        rel: &Relation,
        outer: Option<&EvalContext<'_>>,
        stop_after: Option<usize>,
    ) -> SqlResult<Vec<Vec<Value>>> {
        let started = self.node_start();
        let rows = self.relation_rows_uncounted(rel, outer, stop_after)?;
        self.node_done(rel, explain::Part::Scan, started, rows.len());
        Ok(rows)
    }

    fn relation_rows_uncounted(
        &self,
        rel: &Relation,
        outer: Option<&EvalContext<'_>>,
        stop_after: Option<usize>,
    ) -> SqlResult<Vec<Vec<Value>>> {
        let mut rows = Vec::new();
        match &rel.source {
            Source::Table(def) => for_each_matching_row(
                self,
                def,
                rel.filter.as_ref(),
                &rel.access,
                outer,
                (stop_after, rel.needed.as_deref()),
                &mut |_, row| {
                    rows.push(std::mem::take(row));
                    Ok(())
                },
            )?,
            Source::Virtual(vt) => {
                for row in crate::catalog_views::rows(
                    vt,
                    self.engine,
                    self.txn,
                    self.session,
                    self.sequences.map(|s| s.shared),
                )? {
                    let pass = match &rel.filter {
                        None => true,
                        Some(f) => f.eval(&self.cx(&row, outer))? == Value::Bool(true),
                    };
                    if pass {
                        rows.push(row);
                    }
                }
            }
            Source::JsonRows(name, arg) => rows = self.json_rows(rel, name, arg, outer, true)?,
            Source::Options(arg) => {
                let items = match arg.eval(&self.cx(&[], outer))? {
                    Value::Null => Vec::new(),
                    v => crate::array::element_texts(&v)?,
                };
                for (n, item) in items.into_iter().flatten().enumerate() {
                    let (name, value) = match item.split_once('=') {
                        Some((n, v)) => (n.to_string(), Value::Text(v.to_string())),
                        None => (item, Value::Null),
                    };
                    let mut row = vec![Value::Text(name), value];
                    if rel.ordinality {
                        row.push(Value::Int(n as i64 + 1));
                    }
                    let pass = match &rel.filter {
                        None => true,
                        Some(f) => f.eval(&self.cx(&row, outer))? == Value::Bool(true),
                    };
                    if pass {
                        rows.push(row);
                    }
                }
            }
            Source::PartitionAncestors(arg) => {
                let cx = self.cx(&[], outer);
                let relid = match arg.eval(&cx)? {
                    Value::Null => None,
                    Value::Int(o) => Some(o),
                    name @ Value::Text(_) => {
                        match crate::catalog_views::eval_function("regclass", &[name], &cx)? {
                            Some(Value::Int(o)) => Some(o),
                            _ => None,
                        }
                    }
                    other => {
                        return Err(SqlError::DatatypeMismatch(format!(
                            "pg_partition_ancestors needs a relation, not {other:?}"
                        )));
                    }
                };
                if let Some(o) = relid {
                    let mut row = vec![Value::Int(o)];
                    if rel.ordinality {
                        row.push(Value::Int(1));
                    }
                    let pass = match &rel.filter {
                        None => true,
                        Some(f) => f.eval(&self.cx(&row, outer))? == Value::Bool(true),
                    };
                    if pass {
                        rows.push(row);
                    }
                }
            }
            Source::Sequence(seq) => {
                let shared = self.sequences.map(|s| s.shared).ok_or_else(|| {
                    SqlError::FeatureNotSupported("reading a sequence here".into())
                })?;
                let state = shared.peek(self.engine, seq)?;
                // Values are reserved in blocks (see `sequence`); PostgreSQL's `log_cnt` counts
                // what is left of the logged block, which Borealis does not expose: 0.
                let row = vec![
                    Value::Int(state.last),
                    Value::Int(0),
                    Value::Bool(state.is_called),
                ];
                let pass = match &rel.filter {
                    None => true,
                    Some(f) => f.eval(&self.cx(&row, outer))? == Value::Bool(true),
                };
                if pass {
                    rows.push(row);
                }
            }
            Source::Unnest(arg, ty) => {
                let items = match arg.eval(&self.cx(&[], outer))? {
                    Value::Null => Vec::new(),
                    Value::Array(items) => items,
                    v => crate::array::parse(&v.to_text().unwrap_or_default(), *ty)?,
                };
                for (n, item) in items.into_iter().enumerate() {
                    let mut row = vec![item];
                    if rel.ordinality {
                        row.push(Value::Int(n as i64 + 1));
                    }
                    let pass = match &rel.filter {
                        None => true,
                        Some(f) => f.eval(&self.cx(&row, outer))? == Value::Bool(true),
                    };
                    if pass {
                        rows.push(row);
                    }
                }
            }
            Source::Series(args) => {
                self.for_each_series_row(rel, args, outer, stop_after, &mut |row| {
                    if rows.len() >= JOIN_ROWS_MAX {
                        return Err(SqlError::ProgramLimitExceeded(format!(
                            "generate_series produced more than {JOIN_ROWS_MAX} rows"
                        )));
                    }
                    rows.push(row);
                    Ok(())
                })?;
            }
            Source::WorkTable(id) => {
                self.for_each_work_table_row(rel, *id, outer, stop_after, &mut |row| {
                    if rows.len() >= JOIN_ROWS_MAX {
                        return Err(SqlError::ProgramLimitExceeded(format!(
                            "a work table read whole has more than {JOIN_ROWS_MAX} rows"
                        )));
                    }
                    rows.push(row.to_vec());
                    Ok(())
                })?;
            }
            Source::Derived(plan) => {
                for row in self.run(plan, outer)? {
                    let pass = match &rel.filter {
                        None => true,
                        Some(f) => f.eval(&self.cx(&row, outer))? == Value::Bool(true),
                    };
                    if pass {
                        rows.push(row);
                    }
                }
            }
        }
        Ok(rows)
    }

    /// The rows of a FROM clause of one relation read whole (see [`single_scan`]) that pass
    /// its filter. A join never comes here: it streams ([`Executor::for_each_joined`]).
    fn run_from(
        &self,
        from: &FromPlan,
        outer: Option<&EvalContext<'_>>,
        stop_after: Option<usize>,
    ) -> SqlResult<Vec<Vec<Value>>> {
        let started = self.node_start();
        let rel = single_scan(from)
            .ok_or_else(|| SqlError::Internal("a join read as one relation".into()))?;
        let rows = self.relation_rows(rel, outer, stop_after)?;
        self.node_done(from, explain::Part::From, started, rows.len());
        Ok(rows)
    }

    /// Hash aggregation of the rows `input` produces (rows `width` wide) into `out`: one group
    /// per distinct GROUP BY key, with its accumulators and its first row. Once the groups
    /// take more than `work_mem`, rows of keys not seen yet are written to
    /// [`SPILL_PARTITIONS`](crate::spill::SPILL_PARTITIONS) temporary files by hash and each
    /// file is aggregated afterwards (`depth` levels deep at most
    /// [`SPILL_DEPTH_MAX`](crate::spill::SPILL_DEPTH_MAX), then in memory whatever its size):
    /// a key's rows all stay in memory or all go to one file, so no group is split.
    fn aggregate_into(
        &self,
        agg: &AggPlan,
        outer: Option<&EvalContext<'_>>,
        (width, depth): (usize, u32),
        input: &mut RowSource<'_>,
        out: &mut Vec<Group>,
        stats: &mut SpillStats,
    ) -> SqlResult<()> {
        use crate::spill::{SPILL_DEPTH_MAX, SPILL_PARTITIONS, SpillFile, value_bytes};
        use std::hash::BuildHasher;
        let state = borealis_common::fasthash::FastState::default();
        let may_spill = !agg.group_by.is_empty() && depth < SPILL_DEPTH_MAX;
        let mut groups: Vec<Group> = Vec::new();
        let mut index: FastMap<Vec<u8>, usize> = FastMap::default();
        let mut hash_key = Vec::new();
        let mut keys = Vec::with_capacity(agg.group_by.len());
        let mut bytes = 0usize;
        let mut files: Vec<SpillFile> = Vec::new();
        let mut buf = Vec::new();
        // When every grouping key is a plain column, the row's own values are hashed in place
        // and copied only for a new group: most rows find their group, and a key evaluated
        // per row would be copied, pushed and dropped for nothing. (Other keys are evaluated
        // once per row, as a volatile one must be.)
        let key_columns: Option<Vec<usize>> = agg
            .group_by
            .iter()
            .map(|g| match g {
                Expr::Column(i) => Some(*i),
                _ => None,
            })
            .collect();
        input(&mut |row| {
            let cx = self.cx(row, outer);
            keys.clear();
            hash_key.clear();
            match &key_columns {
                Some(columns) => {
                    for &i in columns {
                        let v = row.get(i).ok_or_else(|| {
                            SqlError::Internal(format!("column {i} is not in the row"))
                        })?;
                        push_hash_key(v, &mut hash_key);
                    }
                }
                None => {
                    for g in &agg.group_by {
                        let v = g.eval(&cx)?;
                        push_hash_key(&v, &mut hash_key);
                        keys.push(v);
                    }
                }
            }
            let found = if agg.group_by.is_empty() {
                // One group: no key to look up.
                (!groups.is_empty()).then_some(0)
            } else {
                index.get(hash_key.as_slice()).copied()
            };
            let g = match found {
                Some(g) => g,
                None if files.is_empty() && (bytes <= self.work_mem || !may_spill) => {
                    if let Some(columns) = &key_columns {
                        // Checked above: each is in the row.
                        keys.extend(columns.iter().filter_map(|&i| row.get(i)).cloned());
                    }
                    // Keys, first row, accumulators and the index entry.
                    bytes += keys.iter().chain(row).map(value_bytes).sum::<usize>()
                        + 2 * hash_key.len()
                        + agg.aggs.len() * std::mem::size_of::<Accumulator>()
                        + 64;
                    index.insert(hash_key.clone(), groups.len());
                    groups.push((
                        keys.clone(),
                        agg.aggs.iter().map(Accumulator::new).collect(),
                        row.to_vec(),
                    ));
                    groups.len() - 1
                }
                None => {
                    if files.is_empty() {
                        files = (0..SPILL_PARTITIONS)
                            .map(|_| SpillFile::create())
                            .collect::<SqlResult<_>>()?;
                    }
                    let p =
                        (state.hash_one(hash_key.as_slice()) % SPILL_PARTITIONS as u64) as usize;
                    return files[p].write_row(row, &mut buf);
                }
            };
            for (acc, call) in groups[g].1.iter_mut().zip(&agg.aggs) {
                if let Some(f) = &call.filter
                    && f.eval(&cx)? != Value::Bool(true)
                {
                    continue;
                }
                if call.order_by.is_empty() {
                    // A column argument is read in place (see `Accumulator::add_ref`).
                    match &call.arg {
                        Some(Expr::Column(i)) if *i < row.len() => acc.add_ref(&row[*i])?,
                        Some(a) => acc.add(a.eval(&cx)?)?,
                        None => acc.add(Value::Bool(true))?,
                    }
                    continue;
                }
                let v = match &call.arg {
                    Some(a) => a.eval(&cx)?,
                    None => Value::Bool(true),
                };
                let keys = call
                    .order_by
                    .iter()
                    .map(|(k, _, _)| k.eval(&cx))
                    .collect::<SqlResult<Vec<Value>>>()?;
                acc.add_ordered(keys, v);
            }
            Ok(())
        })?;
        stats.batches += 1;
        stats.peak_bytes = stats.peak_bytes.max(bytes);
        out.append(&mut groups);
        drop(index);
        // Written partitions hold no descriptor or buffer while they wait to be read.
        for f in &mut files {
            f.finish_writing()?;
        }
        for mut f in files {
            self.session.cancel.check()?;
            if f.rows == 0 {
                continue;
            }
            stats.disk_bytes += f.bytes;
            self.aggregate_into(
                agg,
                outer,
                (width, depth + 1),
                &mut |g| f.for_each_row(width, g),
                out,
                stats,
            )?;
        }
        Ok(())
    }

    /// Gives the rows of `generate_series(args)` (read as relation `rel`, with its ordinal
    /// under WITH ORDINALITY) that pass its filter to `f` as the series makes them, stopping
    /// once `stop_after` passed; how many passed.
    fn for_each_series_row(
        &self,
        rel: &Relation,
        args: &[Expr],
        outer: Option<&EvalContext<'_>>,
        stop_after: Option<usize>,
        f: &mut dyn FnMut(Vec<Value>) -> SqlResult<()>,
    ) -> SqlResult<usize> {
        let cx = self.cx(&[], outer);
        let mut vals = Vec::with_capacity(args.len());
        for a in args {
            vals.push(a.eval(&cx)?);
        }
        if vals.iter().any(Value::is_null) {
            return Ok(0);
        }
        let ty = match rel.width - usize::from(rel.ordinality) {
            1 => series_type(
                &vals
                    .iter()
                    .map(|v| Some(crate::expr::value_type(v)))
                    .collect::<Vec<_>>(),
            )?,
            _ => DataType::Int8,
        };
        let (mut made, mut passed) = (0i64, 0usize);
        crate::srf::series(&vals, ty, &self.session.cancel, &mut |value| {
            made += 1;
            let mut row = vec![value];
            if rel.ordinality {
                row.push(Value::Int(made));
            }
            if let Some(filter) = &rel.filter
                && filter.eval(&self.cx(&row, outer))? != Value::Bool(true)
            {
                return Ok(true);
            }
            passed += 1;
            f(row)?;
            Ok(stop_after.is_none_or(|s| passed < s))
        })?;
        Ok(passed)
    }

    /// Calls `f` with each row of the FROM clause: a single table's rows straight from the
    /// scan (no row is kept), anything else from [`run_from`](Self::run_from).
    /// `needed` marks the columns `f` reads (see [`columns_read`]); `stop_after` bounds how
    /// many rows are wanted.
    fn for_each_from_row(
        &self,
        from: &FromPlan,
        outer: Option<&EvalContext<'_>>,
        (needed, stop_after): (Option<&[bool]>, Option<usize>),
        f: &mut FromRowSink<'_>,
    ) -> SqlResult<()> {
        let one = from.steps.len() == 1
            && from.residual.is_none()
            && from.relations[0].offset == 0
            && from.relations.len() == 1;
        // A condition over no relation (EXPLAIN's One-Time Filter) is checked once, before
        // the read, as PostgreSQL's Result node does: when it fails nothing is read.
        let one_time = match from.steps.first().and_then(|s| s.filter.as_ref()) {
            Some(f) if one && checked_once(f) => {
                if f.eval(&self.cx(&[], outer))? != Value::Bool(true) {
                    let started = self.node_start();
                    self.node_done(&from.steps[0], explain::Part::Join, started, 0);
                    self.node_done(from, explain::Part::From, started, 0);
                    return Ok(());
                }
                true
            }
            _ => false,
        };
        let single = one && (from.steps[0].filter.is_none() || one_time);
        // The Result node of a One-Time Filter passed on every row its scan gave.
        let passed_once = |started, n: usize| {
            if one_time {
                self.node_done(&from.steps[0], explain::Part::Join, started, n);
            }
        };
        if single
            && let rel = &from.relations[from.steps[0].rel]
            && !rel.lateral
            && let Source::Table(def) = &rel.source
        {
            let started = self.node_start();
            let mut n = 0usize;
            // The filter reads its columns too.
            let mut mask = needed.map(<[bool]>::to_vec);
            if let (Some(m), Some(filter)) = (&mut mask, &rel.filter) {
                mark_columns(filter, m);
            }
            for_each_matching_row(
                self,
                def,
                rel.filter.as_ref(),
                &rel.access,
                outer,
                (
                    stop_after,
                    mask.as_deref().filter(|m| m.len() == def.columns.len()),
                ),
                &mut |_, row| {
                    n += 1;
                    f(row)
                },
            )?;
            self.node_done(rel, explain::Part::Scan, started, n);
            passed_once(started, n);
            self.node_done(from, explain::Part::From, started, n);
            return Ok(());
        }
        if single
            && let rel = &from.relations[from.steps[0].rel]
            && !rel.lateral
            && let Source::Derived(plan) = &rel.source
        {
            // A derived table read once streams: its rows are never held.
            let started = self.node_start();
            let n = self.for_each_derived_row(rel, plan, outer, stop_after, f)?;
            self.node_done(rel, explain::Part::Scan, started, n);
            passed_once(started, n);
            self.node_done(from, explain::Part::From, started, n);
            return Ok(());
        }
        if single
            && let rel = &from.relations[from.steps[0].rel]
            && !rel.lateral
            && let Source::WorkTable(id) = &rel.source
        {
            // A recursive query's step over its work table alone streams it.
            let started = self.node_start();
            // The store's rows are read in place: the consumer gets its own copy of each.
            let n = self.for_each_work_table_row(rel, *id, outer, stop_after, &mut |row| {
                f(&mut row.to_vec())
            })?;
            self.node_done(rel, explain::Part::Scan, started, n);
            passed_once(started, n);
            self.node_done(from, explain::Part::From, started, n);
            return Ok(());
        }
        if single
            && let rel = &from.relations[from.steps[0].rel]
            && !rel.lateral
            && let Source::Series(args) = &rel.source
        {
            let started = self.node_start();
            let n =
                self.for_each_series_row(rel, args, outer, stop_after, &mut |mut row| f(&mut row))?;
            self.node_done(rel, explain::Part::Scan, started, n);
            passed_once(started, n);
            self.node_done(from, explain::Part::From, started, n);
            return Ok(());
        }
        if single_scan(from).is_some() {
            for mut row in self.run_from(from, outer, stop_after)? {
                f(&mut row)?;
            }
            return Ok(());
        }
        // A join: its rows as the pipeline makes them, stopping once `stop_after` came.
        let started = self.node_start();
        let mut n = 0usize;
        let ran = self.for_each_joined(from, outer, started, &mut |mut row| {
            n += 1;
            f(&mut row)?;
            self.recycle_row(row);
            match stop_after {
                Some(wanted) if n >= wanted => Err(SqlError::Enough),
                _ => Ok(()),
            }
        });
        match ran {
            Ok(()) | Err(SqlError::Enough) => {}
            Err(e) => return Err(e),
        }
        self.node_done(from, explain::Part::From, started, n);
        Ok(())
    }

    /// The rows the min/max rewrite aggregates ([`SelectPlan::minmax`]): for each call's key
    /// range, the first row it gives that passes the relation's filter.
    fn minmax_rows(
        &self,
        plan: &SelectPlan,
        outer: Option<&EvalContext<'_>>,
        f: &mut dyn FnMut(&[Value]) -> SqlResult<()>,
    ) -> SqlResult<()> {
        let rel = &plan.from.relations[0];
        let Source::Table(def) = &rel.source else {
            unreachable!("the min/max rewrite reads a table");
        };
        for range in &plan.minmax {
            let started = self.node_start();
            let mut n = 0usize;
            for_each_matching_row(
                self,
                def,
                rel.filter.as_ref(),
                &Access::Range(range.clone()),
                outer,
                (Some(1), None),
                &mut |_, row| {
                    n += 1;
                    f(row)
                },
            )?;
            self.node_done(range, explain::Part::Scan, started, n);
        }
        Ok(())
    }

    /// Runs a FROM clause's join steps as a pipeline: each joined row goes on to the next
    /// step as soon as it is made, and the last step's rows that pass the residual filter go
    /// to `sink`. A step holds only what its method needs: a hash join its table (within
    /// `work_mem`, see [`Executor::hash_join_into`]), a nested loop the relation's rows, an
    /// index nested loop up to [`INDEX_JOIN_OUTER_ROWS_MAX`] partial rows (beyond them it turns
    /// into the step's hash join, or what the step would otherwise be), a merge join its
    /// partial rows (in a store that spills past `work_mem`). Steps that can only finish once their
    /// input has ended (the pads of a RIGHT or FULL join, a spilled hash join's partitions, a
    /// merge join, the index lookups) finish in order, each feeding the steps after it.
    fn for_each_joined(
        &self,
        from: &FromPlan,
        outer: Option<&EvalContext<'_>>,
        started: Option<std::time::Instant>,
        sink: &mut Emit<'_>,
    ) -> SqlResult<()> {
        let mut stages: Vec<Stage> = from.steps.iter().map(|_| Stage::default()).collect();
        if let Some(s) = stages.first_mut() {
            s.first = true;
        }
        let mut sink = |row: Vec<Value>| {
            if let Some(f) = &from.residual
                && f.eval(&self.cx(&row, outer))? != Value::Bool(true)
            {
                self.recycle_row(row);
                return Ok(());
            }
            sink(row)
        };
        // The first step joins its relation to the one empty partial row. A pipeline recurses
        // once per step, so a FROM clause of more than PIPELINE_STEPS_MAX steps runs as several
        // pipelines, the rows between them held in a store that spills past `work_mem`.
        if from.steps.is_empty() {
            // No FROM clause: one row of nothing.
            return sink(vec![Value::Null; from.width]);
        }
        let mut rows = crate::cursor::RowStore::new(from.width, self.work_mem);
        rows.push(vec![Value::Null; from.width])?;
        let segments = from.steps.len().div_ceil(PIPELINE_STEPS_MAX);
        let mut ran = Ok(());
        for (i, (steps, stages)) in from
            .steps
            .chunks(PIPELINE_STEPS_MAX)
            .zip(stages.chunks_mut(PIPELINE_STEPS_MAX))
            .enumerate()
        {
            let mut held = crate::cursor::RowStore::new(from.width, self.work_mem);
            let mut keep = |row: Vec<Value>| held.push(row);
            let out: &mut Emit<'_> = if i + 1 == segments {
                &mut sink
            } else {
                &mut keep
            };
            ran = rows
                .finish_writing()
                .and_then(|()| {
                    let mut n = 0u64;
                    rows.for_each(&mut |r| {
                        n += 1;
                        if n.is_multiple_of(1024) {
                            self.session.cancel.check()?;
                        }
                        self.push_row(from, (steps, &mut *stages), r.to_vec(), outer, out)
                    })
                })
                .and_then(|()| {
                    self.finish_stages(from, (steps, &mut *stages), outer, started, out)
                });
            if ran.is_err() {
                break;
            }
            rows = held;
        }
        if let Err(SqlError::Enough) = ran {
            // The consumer stopped the pipeline: the steps made what they made so far.
            for (stage, step) in stages.iter().zip(&from.steps) {
                let part = match stage.run {
                    StageRun::Lookup(_) => explain::Part::IndexJoin,
                    _ => explain::Part::Join,
                };
                if !stage.done && (!matches!(stage.run, StageRun::Fresh) || stage.rows > 0) {
                    self.node_done(step, part, started, stage.rows);
                }
            }
        }
        ran
    }

    /// Gives one partial row to the first of `stages` (for the first of `steps`), whose rows
    /// go on through the rest, and past the last to `sink`.
    fn push_row(
        &self,
        from: &FromPlan,
        (steps, stages): (&[JoinStep], &mut [Stage]),
        partial: Vec<Value>,
        outer: Option<&EvalContext<'_>>,
        sink: &mut Emit<'_>,
    ) -> SqlResult<()> {
        let (Some((step, steps)), Some((stage, rest))) =
            (steps.split_first(), stages.split_first_mut())
        else {
            return sink(partial);
        };
        let mut produced = 0usize;
        let mut down = |row: Vec<Value>| {
            produced += 1;
            self.push_row(from, (steps, &mut *rest), row, outer, sink)
        };
        let pushed = self.stage_push(from, step, stage, partial, outer, &mut down);
        stage.rows += produced;
        pushed
    }

    /// One partial row through one join step (see [`Executor::for_each_joined`]).
    fn stage_push(
        &self,
        from: &FromPlan,
        step: &JoinStep,
        stage: &mut Stage,
        partial: Vec<Value>,
        outer: Option<&EvalContext<'_>>,
        down: &mut Emit<'_>,
    ) -> SqlResult<()> {
        let rel = &from.relations[step.rel];
        if rel.lateral {
            return self.lateral_row(rel, step, &partial, outer, down);
        }
        if let StageRun::Fresh = stage.run {
            if nests_alone(step) && !stage.first {
                stage.run = StageRun::NestedFirst(partial);
                return Ok(());
            }
            stage.run = if looks_up_keys(rel, step) {
                StageRun::Lookup(Vec::new())
            } else {
                self.stage_start(from, step, stage.first, &mut stage.stats, outer, down)?
            };
        }
        if let StageRun::NestedFirst(_) = stage.run {
            // A second partial row: the relation's rows are kept for both, and more.
            let StageRun::NestedFirst(first) = std::mem::replace(
                &mut stage.run,
                self.stage_start(from, step, stage.first, &mut stage.stats, outer, down)?,
            ) else {
                unreachable!("matched above")
            };
            self.stage_push(from, step, stage, first, outer, down)?;
        }
        let pushed = match &mut stage.run {
            StageRun::Fresh | StageRun::NestedFirst(_) => {
                Err(SqlError::Internal("a join step did not start".into()))
            }
            StageRun::Lookup(held) => {
                held.push(partial);
                if held.len() <= INDEX_JOIN_OUTER_ROWS_MAX {
                    return Ok(());
                }
                // Too many partial rows to look each up: the step's other method.
                let held = std::mem::take(held);
                stage.run =
                    self.stage_start(from, step, stage.first, &mut stage.stats, outer, down)?;
                for p in held {
                    self.stage_push(from, step, stage, p, outer, down)?;
                }
                return Ok(());
            }
            StageRun::Merge(held) => return held.push(partial),
            StageRun::Hash(t) => self.hash_probe(t, (rel, step), &partial, outer, down),
            StageRun::Streamed => self.for_each_relation_row(rel, outer, &mut |row| {
                self.join_row(rel, step, &partial, row, outer, down)
                    .map(drop)
            }),
            StageRun::Nested { rows, partnered } => {
                self.session.cancel.check()?;
                let mut matched = false;
                let mut c = 0usize;
                rows.for_each(&mut |row| {
                    let m = self.join_row(rel, step, &partial, row, outer, down)?;
                    if m && !partnered.is_empty() {
                        partnered[c] = true;
                    }
                    c += 1;
                    matched |= m;
                    Ok(())
                })?;
                if matches!(step.kind, JoinKind::Left | JoinKind::Full) && !matched {
                    self.pad_left(step, &partial, outer, down)?;
                }
                Ok(())
            }
        };
        // The partial row was read and not kept: its buffer makes a later row.
        self.recycle_row(partial);
        pushed
    }

    /// How a join step that does not look up keys runs, decided at its first partial row (or
    /// at its end, if none came): a merge join, a hash join (its table built now), the first
    /// step's relation streamed past the one empty partial row, or a nested loop over the
    /// relation's rows.
    fn stage_start(
        &self,
        from: &FromPlan,
        step: &JoinStep,
        first: bool,
        stats: &mut SpillStats,
        outer: Option<&EvalContext<'_>>,
        down: &mut Emit<'_>,
    ) -> SqlResult<StageRun> {
        let rel = &from.relations[step.rel];
        Ok(if step.merge.is_some() {
            StageRun::Merge(crate::cursor::RowStore::new(from.width, self.work_mem))
        } else if !step.build.is_empty() {
            StageRun::Hash(self.hash_build(
                (from, rel, step),
                outer,
                0,
                &mut |f| self.for_each_relation_row(rel, outer, f),
                down,
                stats,
            )?)
        } else if first && step.kind == JoinKind::Inner {
            StageRun::Streamed
        } else {
            // The relation's rows are read again for every partial row: kept in a store that
            // spills past `work_mem` (PostgreSQL's Materialize below a nested loop).
            let mut rows = crate::cursor::RowStore::new(rel.width, self.work_mem);
            self.for_each_relation_row(rel, outer, &mut |row| rows.push(row.to_vec()))?;
            rows.finish_writing()?;
            let outer_join = matches!(step.kind, JoinKind::Right | JoinKind::Full);
            let held = usize::try_from(rows.len()).unwrap_or(usize::MAX);
            let partnered = vec![false; if outer_join { held } else { 0 }];
            StageRun::Nested { rows, partnered }
        })
    }

    /// Ends the first of `stages` (its input has ended), giving what it still makes to the
    /// steps after it, then ends those in order.
    fn finish_stages(
        &self,
        from: &FromPlan,
        (steps, stages): (&[JoinStep], &mut [Stage]),
        outer: Option<&EvalContext<'_>>,
        started: Option<std::time::Instant>,
        sink: &mut Emit<'_>,
    ) -> SqlResult<()> {
        let (Some((step, steps)), Some((stage, rest))) =
            (steps.split_first(), stages.split_first_mut())
        else {
            return Ok(());
        };
        let rel = &from.relations[step.rel];
        let mut produced = 0usize;
        let mut down = |row: Vec<Value>| {
            produced += 1;
            self.push_row(from, (steps, &mut *rest), row, outer, sink)
        };
        let mut run = std::mem::take(&mut stage.run);
        if let StageRun::Fresh = run
            && !rel.lateral
        {
            // No partial row came: a lookup step counts as one with nothing to look up, and
            // a RIGHT or FULL join still pads every relation row.
            if looks_up_keys(rel, step) {
                run = StageRun::Lookup(Vec::new());
            } else if matches!(step.kind, JoinKind::Right | JoinKind::Full) {
                run =
                    self.stage_start(from, step, stage.first, &mut stage.stats, outer, &mut down)?;
            }
        }
        let mut part = explain::Part::Join;
        match run {
            StageRun::Fresh | StageRun::Streamed => {}
            StageRun::NestedFirst(partial) => {
                let mut matched = false;
                self.for_each_relation_row(rel, outer, &mut |row| {
                    matched |= self.join_row(rel, step, &partial, row, outer, &mut down)?;
                    Ok(())
                })?;
                if step.kind == JoinKind::Left && !matched {
                    self.pad_left(step, &partial, outer, &mut down)?;
                }
            }
            StageRun::Lookup(held) => {
                let (Some(lookup), Source::Table(def)) = (&step.lookup, &rel.source) else {
                    return Err(SqlError::Internal("index join without a lookup".into()));
                };
                self.lookup_step((rel, def), step, lookup, &held, outer, &mut down)?;
                part = explain::Part::IndexJoin;
            }
            StageRun::Merge(mut held) => {
                held.finish_writing()?;
                self.merge_step(from, rel, step, &held, outer, &mut down)?;
            }
            StageRun::Hash(t) => {
                self.hash_finish(t, (from, rel, step), outer, &mut down, &mut stage.stats)?;
                if let Some(i) = &self.instrument {
                    i.record_memory(step, explain::Part::Join, stage.stats.memory_use());
                }
            }
            StageRun::Nested { rows, partnered } => {
                let mut c = 0usize;
                rows.for_each(&mut |row| {
                    if !partnered.is_empty() && !partnered[c] {
                        pad_right(from, rel, row, &mut down)?;
                    }
                    c += 1;
                    Ok(())
                })?;
            }
        }
        stage.rows += produced;
        stage.done = true;
        self.node_done(step, part, started, stage.rows);
        self.finish_stages(from, (steps, rest), outer, started, sink)
    }

    /// Gives every row of one relation (its own layout) that passes its filter to `f`: a
    /// table's straight from its scan, any other's from its materialised rows.
    fn for_each_relation_row(
        &self,
        rel: &Relation,
        outer: Option<&EvalContext<'_>>,
        f: &mut dyn FnMut(&[Value]) -> SqlResult<()>,
    ) -> SqlResult<()> {
        if let Source::Table(def) = &rel.source
            && !rel.lateral
        {
            let started = self.node_start();
            let mut n = 0usize;
            let read = for_each_matching_row(
                self,
                def,
                rel.filter.as_ref(),
                &rel.access,
                outer,
                (None, rel.needed.as_deref()),
                &mut |_, row| {
                    n += 1;
                    f(row)
                },
            );
            // Counted also when a LIMIT stopped the reader.
            self.node_done(rel, explain::Part::Scan, started, n);
            return read;
        }
        if let Source::Derived(plan) = &rel.source
            && !rel.lateral
        {
            let started = self.node_start();
            let n = self.for_each_derived_row(rel, plan, outer, None, &mut |row| f(row))?;
            self.node_done(rel, explain::Part::Scan, started, n);
            return Ok(());
        }
        // A series or a work table streams too: a join step reading one may be a hash
        // join's build side or a merge join's sort, which keep within `work_mem` themselves.
        let started = self.node_start();
        let n = match &rel.source {
            Source::Series(args) => {
                self.for_each_series_row(rel, args, outer, None, &mut |row| f(&row))?
            }
            Source::WorkTable(id) => self.for_each_work_table_row(rel, *id, outer, None, f)?,
            _ => {
                let rows = self.relation_rows_uncounted(rel, outer, None)?;
                for row in &rows {
                    f(row)?;
                }
                rows.len()
            }
        };
        self.node_done(rel, explain::Part::Scan, started, n);
        Ok(())
    }

    /// Gives the rows of work table `id` (read as relation `rel`) that pass its filter to `f`,
    /// one at a time from its store, stopping once `stop_after` passed; how many passed.
    fn for_each_work_table_row(
        &self,
        rel: &Relation,
        id: usize,
        outer: Option<&EvalContext<'_>>,
        stop_after: Option<usize>,
        f: &mut dyn FnMut(&[Value]) -> SqlResult<()>,
    ) -> SqlResult<usize> {
        let work =
            self.work_tables.borrow().get(&id).cloned().ok_or_else(|| {
                SqlError::Internal("a work table read outside its recursion".into())
            })?;
        let mut n = 0usize;
        let mut read = 0u64;
        // Whether `stop_after` ended the read (a stop from `f` goes on to the caller).
        let mut limited = false;
        let ran = work.for_each(&mut |row| {
            read += 1;
            if read.is_multiple_of(1024) {
                self.session.cancel.check()?;
            }
            if stop_after.is_some_and(|s| n >= s) {
                limited = true;
                return Err(SqlError::Enough);
            }
            if let Some(filter) = &rel.filter
                && filter.eval(&self.cx(row, outer))? != Value::Bool(true)
            {
                return Ok(());
            }
            n += 1;
            f(row)
        });
        match ran {
            Err(SqlError::Enough) if limited => Ok(n),
            Ok(()) => Ok(n),
            Err(e) => Err(e),
        }
    }

    /// Gives the rows of derived table `rel` (its query `plan`) that pass its filter to `f`
    /// as the query makes them, none held, stopping once `stop_after` passed; how many passed.
    fn for_each_derived_row(
        &self,
        rel: &Relation,
        plan: &QueryPlan,
        outer: Option<&EvalContext<'_>>,
        stop_after: Option<usize>,
        f: &mut FromRowSink<'_>,
    ) -> SqlResult<usize> {
        if stop_after == Some(0) {
            return Ok(0);
        }
        let mut n = 0usize;
        // Whether `f` stopped the query (it wants no more rows: the stop goes on to its
        // caller) rather than `stop_after`.
        let mut consumer_stopped = false;
        let ran = self.run_into(
            plan,
            outer,
            &mut FnSink {
                rows: 0,
                f: &mut |mut row| {
                    // Once stopped, the query stays stopped (a join pipeline inside it may
                    // swallow one stop and go on: every later row stops it again).
                    if consumer_stopped || stop_after.is_some_and(|s| n >= s) {
                        return Err(SqlError::Enough);
                    }
                    if let Some(filter) = &rel.filter
                        && filter.eval(&self.cx(&row, outer))? != Value::Bool(true)
                    {
                        return Ok(());
                    }
                    n += 1;
                    let r = f(&mut row);
                    self.recycle_row(row);
                    consumer_stopped = matches!(r, Err(SqlError::Enough));
                    r
                },
            },
        );
        match ran {
            _ if consumer_stopped => Err(SqlError::Enough),
            Ok(()) | Err(SqlError::Enough) => Ok(n),
            Err(e) => Err(e),
        }
    }

    /// One hash-join step within `work_mem` (a grace hash join): the relation's rows from
    /// `build` go into a hash table on the step's build keys; once it holds more than
    /// `work_mem`, it and every later build row are written to
    /// [`SPILL_PARTITIONS`](crate::spill::SPILL_PARTITIONS) temporary files by the hash of
    /// their key, the partial rows from `probe` are written to as many files by the hash of
    /// their probe key, and each pair of files is joined afterwards the same way (with a fresh
    /// hash, `depth` levels deep at most [`SPILL_DEPTH_MAX`](crate::spill::SPILL_DEPTH_MAX),
    /// then in memory whatever its size). Rows with equal keys always meet in one pair, so
    /// every match, every LEFT padding (a partial row's matches are all in its pair) and every
    /// RIGHT padding (likewise for a relation row) is found exactly once. A key with a NULL
    /// never matches: such partial rows are padded or dropped at once, such relation rows are
    /// kept only by a RIGHT or FULL join, to be padded. Joined rows go to `emit`.
    ///
    /// The three phases are [`Executor::hash_build`], [`Executor::hash_probe`] per partial row
    /// and [`Executor::hash_finish`], so a pipeline can probe its rows as they come.
    #[allow(clippy::too_many_arguments)]
    fn hash_join_into(
        &self,
        (from, rel, step): (&FromPlan, &Relation, &JoinStep),
        outer: Option<&EvalContext<'_>>,
        depth: u32,
        build: &mut RowSource<'_>,
        probe: &mut RowSource<'_>,
        emit: &mut Emit<'_>,
        stats: &mut SpillStats,
    ) -> SqlResult<()> {
        let mut table = self.hash_build((from, rel, step), outer, depth, build, emit, stats)?;
        probe(&mut |partial| self.hash_probe(&mut table, (rel, step), partial, outer, emit))?;
        self.hash_finish(table, (from, rel, step), outer, emit, stats)
    }

    /// A hash join's first phase: the table of the relation's rows from `build`, or its
    /// partition files once they outgrow `work_mem` (see [`Executor::hash_join_into`]).
    /// Keyless relation rows of a RIGHT or FULL join that spills are padded to `emit` here.
    fn hash_build(
        &self,
        (from, rel, step): (&FromPlan, &Relation, &JoinStep),
        outer: Option<&EvalContext<'_>>,
        depth: u32,
        build: &mut RowSource<'_>,
        emit: &mut Emit<'_>,
        stats: &mut SpillStats,
    ) -> SqlResult<HashTable> {
        use crate::spill::{SPILL_DEPTH_MAX, SPILL_PARTITIONS, SpillFile, value_bytes};
        let mut t = HashTable {
            outer_join: matches!(step.kind, JoinKind::Right | JoinKind::Full),
            // An anti-join passes the partial rows without a match as a LEFT join pads them.
            pads_left: matches!(step.kind, JoinKind::Left | JoinKind::Full | JoinKind::Anti),
            depth,
            state: borealis_common::fasthash::FastState::default(),
            build_rows: Vec::new(),
            table: FastMap::default(),
            bytes: 0,
            build_files: Vec::new(),
            probe_files: Vec::new(),
            partnered: Vec::new(),
            probed: 0,
            key: Vec::new(),
            buf: Vec::new(),
        };
        build(&mut |row| {
            let keyed = self.hash_key(&step.build, row, outer, &mut t.key)?;
            if !t.build_files.is_empty() {
                return if keyed {
                    let p = t.partition();
                    t.build_files[p].write_row(row, &mut t.buf)
                } else if t.outer_join {
                    pad_right(from, rel, row, emit)
                } else {
                    Ok(())
                };
            }
            if !keyed && !t.outer_join {
                return Ok(());
            }
            // A semi- or anti-join asks only whether a key has a row: one row per key is
            // enough when no ON condition is left to tell its rows apart.
            if keyed
                && step.kind.filters_only()
                && step.on.is_none()
                && t.table.contains_key(t.key.as_slice())
            {
                return Ok(());
            }
            // The row, its slot, and its key in the table.
            t.bytes += row.iter().map(value_bytes).sum::<usize>()
                + std::mem::size_of::<Vec<Value>>()
                + if keyed { 2 * t.key.len() + 64 } else { 0 };
            if keyed {
                match t.table.get_mut(t.key.as_slice()) {
                    Some(rows) => rows.push(t.build_rows.len()),
                    None => {
                        t.table.insert(t.key.clone(), vec![t.build_rows.len()]);
                    }
                }
            }
            t.build_rows.push(row.to_vec());
            if t.bytes > self.work_mem && depth < SPILL_DEPTH_MAX {
                // Partition what is held, in input order, and every build row after it.
                stats.peak_bytes = stats.peak_bytes.max(t.bytes);
                stats.rows_peak = stats.rows_peak.max(t.build_rows.len());
                t.bytes = 0;
                t.table.clear();
                t.build_files = (0..SPILL_PARTITIONS)
                    .map(|_| SpillFile::create())
                    .collect::<SqlResult<_>>()?;
                for held in std::mem::take(&mut t.build_rows) {
                    if self.hash_key(&step.build, &held, outer, &mut t.key)? {
                        let p = t.partition();
                        t.build_files[p].write_row(&held, &mut t.buf)?;
                    } else {
                        pad_right(from, rel, &held, emit)?;
                    }
                }
            }
            Ok(())
        })?;
        // Written partitions hold no descriptor or buffer while they wait to be read.
        for f in &mut t.build_files {
            f.finish_writing()?;
        }
        if !t.build_files.is_empty() {
            t.probe_files = (0..SPILL_PARTITIONS)
                .map(|_| SpillFile::create())
                .collect::<SqlResult<_>>()?;
        }
        if t.outer_join {
            t.partnered = vec![false; t.build_rows.len()];
        }
        Ok(t)
    }

    /// A hash join's second phase for one partial row: its matches go to `emit` (or, once the
    /// table spilled, the row goes to its partition's file).
    fn hash_probe(
        &self,
        t: &mut HashTable,
        (rel, step): (&Relation, &JoinStep),
        partial: &[Value],
        outer: Option<&EvalContext<'_>>,
        emit: &mut Emit<'_>,
    ) -> SqlResult<()> {
        t.probed += 1;
        if t.probed.is_multiple_of(1024) {
            self.session.cancel.check()?;
        }
        if !self.hash_key(&step.probe, partial, outer, &mut t.key)? {
            return if t.pads_left {
                self.pad_left(step, partial, outer, emit)
            } else {
                Ok(())
            };
        }
        if !t.build_files.is_empty() {
            let p = t.partition();
            return t.probe_files[p].write_row(partial, &mut t.buf);
        }
        if step.kind.filters_only() {
            let mut matched = false;
            for &c in t.table.get(&t.key).map_or(&[][..], Vec::as_slice) {
                if self.semi_match(rel, step, partial, &t.build_rows[c], outer)? {
                    matched = true;
                    break;
                }
            }
            return self.semi_emit(step, matched, partial, outer, emit);
        }
        let mut matched = false;
        for &c in t.table.get(&t.key).map_or(&[][..], Vec::as_slice) {
            let m = self.join_row(rel, step, partial, &t.build_rows[c], outer, emit)?;
            if m && t.outer_join {
                t.partnered[c] = true;
            }
            matched |= m;
        }
        if t.pads_left && !matched {
            self.pad_left(step, partial, outer, emit)?;
        }
        Ok(())
    }

    /// A hash join's last phase: a RIGHT or FULL join's relation rows without a partner are
    /// padded, or, if the table spilled, each pair of partition files is joined.
    fn hash_finish(
        &self,
        mut t: HashTable,
        (from, rel, step): (&FromPlan, &Relation, &JoinStep),
        outer: Option<&EvalContext<'_>>,
        emit: &mut Emit<'_>,
        stats: &mut SpillStats,
    ) -> SqlResult<()> {
        if t.build_files.is_empty() {
            stats.batches += 1;
            stats.peak_bytes = stats.peak_bytes.max(t.bytes);
            stats.rows_peak = stats.rows_peak.max(t.build_rows.len());
            if t.outer_join {
                for (c, row) in t.build_rows.iter().enumerate() {
                    if !t.partnered[c] {
                        pad_right(from, rel, row, emit)?;
                    }
                }
            }
            return Ok(());
        }
        drop(std::mem::take(&mut t.table));
        for f in &mut t.probe_files {
            f.finish_writing()?;
        }
        for (mut b, mut p) in t.build_files.into_iter().zip(t.probe_files) {
            self.session.cancel.check()?;
            stats.disk_bytes += b.bytes + p.bytes;
            let joins = (b.rows > 0 && (p.rows > 0 || t.outer_join)) || (p.rows > 0 && t.pads_left);
            if !joins {
                // A batch with nothing to join (PostgreSQL counts it too).
                stats.batches += 1;
                continue;
            }
            self.hash_join_into(
                (from, rel, step),
                outer,
                t.depth + 1,
                &mut |f| b.for_each_row(rel.width, f),
                &mut |f| p.for_each_row(from.width, f),
                emit,
                stats,
            )?;
        }
        Ok(())
    }

    /// The key of `row` under `exprs` in `key`; false if a part of it is NULL.
    fn hash_key(
        &self,
        exprs: &[Expr],
        row: &[Value],
        outer: Option<&EvalContext<'_>>,
        key: &mut Vec<u8>,
    ) -> SqlResult<bool> {
        key.clear();
        let cx = self.cx(row, outer);
        for e in exprs {
            let v = e.eval(&cx)?;
            if v.is_null() {
                return Ok(false);
            }
            encode_key_value(&v, key);
        }
        Ok(true)
    }

    /// Joins `row` of `rel` to `partial` if the step's ON condition holds, and keeps the joined
    /// row if its filter holds too. Returns whether ON held (a LEFT JOIN's match).
    fn join_row(
        &self,
        rel: &Relation,
        step: &JoinStep,
        partial: &[Value],
        row: &[Value],
        outer: Option<&EvalContext<'_>>,
        emit: &mut Emit<'_>,
    ) -> SqlResult<bool> {
        let joined = self.joined(rel, partial, row);
        let cx = self.cx(&joined, outer);
        let on = match &step.on {
            Some(on) => on.eval(&cx)? == Value::Bool(true),
            None => true,
        };
        let passes = on
            && match &step.filter {
                Some(f) => f.eval(&cx)? == Value::Bool(true),
                None => true,
            };
        if passes {
            emit(joined)?;
        } else {
            self.recycle_row(joined);
        }
        Ok(on)
    }

    /// Whether relation row `row`, whose keys equal the partial row's, matches it in a semi- or
    /// anti-join: the step's ON condition, if any, holds over the two joined.
    fn semi_match(
        &self,
        rel: &Relation,
        step: &JoinStep,
        partial: &[Value],
        row: &[Value],
        outer: Option<&EvalContext<'_>>,
    ) -> SqlResult<bool> {
        let Some(on) = &step.on else {
            return Ok(true);
        };
        let joined = self.joined(rel, partial, row);
        let holds = on.eval(&self.cx(&joined, outer))? == Value::Bool(true);
        self.recycle_row(joined);
        Ok(holds)
    }

    /// A semi-join passes a partial row that `matched`, an anti-join one that did not; either
    /// passes it as it came (the relation's columns NULL), at most once.
    fn semi_emit(
        &self,
        step: &JoinStep,
        matched: bool,
        partial: &[Value],
        outer: Option<&EvalContext<'_>>,
        emit: &mut Emit<'_>,
    ) -> SqlResult<()> {
        if matched == (step.kind == JoinKind::Semi) {
            self.pad_left(step, partial, outer, emit)?;
        }
        Ok(())
    }

    /// A LEFT JOIN's partial row without a match: the relation's columns are still NULL.
    fn pad_left(
        &self,
        step: &JoinStep,
        partial: &[Value],
        outer: Option<&EvalContext<'_>>,
        emit: &mut Emit<'_>,
    ) -> SqlResult<()> {
        let pass = match &step.filter {
            None => true,
            Some(f) => f.eval(&self.cx(partial, outer))? == Value::Bool(true),
        };
        if pass {
            emit(self.spare_row(partial.len(), partial.iter()))?;
        }
        Ok(())
    }

    /// An index nested-loop join step (see [`IndexLookup`]): per partial row, reads the rows of
    /// the table under the key prefix its probe values pin, then compares every join key.
    fn lookup_step(
        &self,
        (rel, def): (&Relation, &TableDef),
        step: &JoinStep,
        lookup: &IndexLookup,
        rows: &[Vec<Value>],
        outer: Option<&EvalContext<'_>>,
        emit: &mut Emit<'_>,
    ) -> SqlResult<()> {
        let mut access = Access::Range(lookup.range.clone());
        let mut found: Vec<Vec<Value>> = Vec::new();
        let mut probe_key = Vec::new();
        let mut build_key = Vec::new();
        // The probe values `found` was read for: consecutive partial rows often probe the same
        // key (the orders of one customer all look up that customer), and the statement reads
        // one snapshot, so the rows read last time are still the answer.
        let mut found_for: Option<Vec<u8>> = None;
        for partial in rows {
            self.session.cancel.check()?;
            let cx = self.cx(partial, outer);
            probe_key.clear();
            let mut null = false;
            let Access::Range(range) = &mut access else {
                return Err(SqlError::Internal("lookup without a key range".into()));
            };
            for (i, p) in step.probe.iter().enumerate() {
                let v = p.eval(&cx)?;
                if v.is_null() {
                    null = true;
                    break;
                }
                encode_key_value(&v, &mut probe_key);
                if let Some(slot) = lookup.probe_of.iter().position(|&j| j == i) {
                    range.eq[slot] = Expr::Literal(v);
                }
            }
            let mut matched = false;
            if !null && found_for.as_deref() != Some(probe_key.as_slice()) {
                found.clear();
                let probe_started = self.node_start();
                for_each_matching_row(
                    self,
                    def,
                    rel.filter.as_ref(),
                    &access,
                    outer,
                    (None, rel.needed.as_deref()),
                    &mut |_, row| {
                        found.push(std::mem::take(row));
                        Ok(())
                    },
                )?;
                self.node_done(rel, explain::Part::Scan, probe_started, found.len());
                found_for = Some(probe_key.clone());
            }
            if !null {
                'rows: for row in &found {
                    build_key.clear();
                    let rcx = self.cx(row, outer);
                    for b in &step.build {
                        let v = b.eval(&rcx)?;
                        if v.is_null() {
                            continue 'rows;
                        }
                        encode_key_value(&v, &mut build_key);
                    }
                    if build_key != probe_key {
                        continue;
                    }
                    if !step.kind.filters_only() {
                        matched |= self.join_row(rel, step, partial, row, outer, emit)?;
                    } else if self.semi_match(rel, step, partial, row, outer)? {
                        matched = true;
                        break;
                    }
                }
            }
            if step.kind.filters_only() {
                self.semi_emit(step, matched, partial, outer, emit)?;
            } else if step.kind == JoinKind::Left && !matched {
                self.pad_left(step, partial, outer, emit)?;
            }
        }
        Ok(())
    }

    /// The rows of a json set-returning function, its argument evaluated with `outer` as the
    /// enclosing row (the partial row of the FROM items before it, when LATERAL); with
    /// `filter`, only those passing the relation's own filter.
    #[inline(never)]
    fn json_rows(
        &self,
        rel: &Relation,
        name: &str,
        arg: &Expr,
        outer: Option<&EvalContext<'_>>,
        filter: bool,
    ) -> SqlResult<Vec<Vec<Value>>> {
        let v = arg.eval(&self.cx(&[], outer))?;
        let mut rows = crate::json::set_rows(name, v)?;
        if rel.ordinality {
            for (n, row) in rows.iter_mut().enumerate() {
                row.push(Value::Int(n as i64 + 1));
            }
        }
        if let (true, Some(f)) = (filter, &rel.filter) {
            let mut kept = Vec::with_capacity(rows.len());
            for row in rows {
                if f.eval(&self.cx(&row, outer))? == Value::Bool(true) {
                    kept.push(row);
                }
            }
            rows = kept;
        }
        Ok(rows)
    }

    /// Joins a LATERAL relation to one partial row: its subquery runs seeing that row.
    fn lateral_row(
        &self,
        rel: &Relation,
        step: &JoinStep,
        partial: &[Value],
        outer: Option<&EvalContext<'_>>,
        emit: &mut Emit<'_>,
    ) -> SqlResult<()> {
        self.session.cancel.check()?;
        let pcx = self.cx(partial, outer);
        let mut matched = false;
        let mut join = |r: Vec<Value>, emit: &mut Emit<'_>| -> SqlResult<()> {
            if let Some(f) = &rel.filter
                && f.eval(&self.cx(&r, outer))? != Value::Bool(true)
            {
                return Ok(());
            }
            let joined = joined_row(rel, partial, r);
            let cx = self.cx(&joined, outer);
            if let Some(on) = &step.on
                && on.eval(&cx)? != Value::Bool(true)
            {
                return Ok(());
            }
            matched = true;
            if let Some(f) = &step.filter
                && f.eval(&cx)? != Value::Bool(true)
            {
                return Ok(());
            }
            emit(joined)
        };
        match &rel.source {
            Source::Derived(plan) => {
                // The subquery's rows join as it makes them, none held. Once `emit` wanted no
                // more, every later row stops the subquery again (a join pipeline inside it
                // may swallow one stop and go on).
                let mut stopped = false;
                let ran = self.run_into(
                    plan,
                    Some(&pcx),
                    &mut FnSink {
                        rows: 0,
                        f: &mut |r| {
                            if stopped {
                                return Err(SqlError::Enough);
                            }
                            let j = join(r, &mut *emit);
                            stopped = matches!(j, Err(SqlError::Enough));
                            j
                        },
                    },
                );
                if stopped {
                    return Err(SqlError::Enough);
                }
                ran?;
            }
            Source::JsonRows(name, arg) => {
                for r in self.json_rows(rel, name, arg, Some(&pcx), false)? {
                    join(r, &mut *emit)?;
                }
            }
            _ => return Err(SqlError::Internal("LATERAL over a non-subquery".into())),
        }
        if step.kind == JoinKind::Left && !matched {
            emit(partial.to_vec())?;
        }
        Ok(())
    }

    /// Runs a select, giving each output row to `sink` with its sort keys (then its DISTINCT
    /// ON values). DISTINCT is a hash aggregate grouping by every output column, so it spills
    /// beyond `work_mem` as GROUP BY does (see [`Executor::aggregate_into`]).
    /// The parallel read of an aggregate's table, if it gets one (see [`parallel_aggregate`]).
    #[allow(clippy::type_complexity)]
    fn parallel_parts<'p>(
        &self,
        plan: &'p SelectPlan,
        agg: &AggPlan,
        outer: Option<&EvalContext<'_>>,
    ) -> SqlResult<Option<(&'p TableDef, Option<&'p Expr>, Vec<TablePart>)>> {
        if outer.is_some() || self.instrument.is_some() {
            return Ok(None);
        }
        parallel_aggregate(self.engine, self.parallel, plan, agg)
    }

    /// A hash aggregate over a table read in parts, one thread per part (this one reads the
    /// first): each aggregates its part into its own groups (within its share of `work_mem`,
    /// spilling past it), then the partial groups are merged into `out` here, as PostgreSQL's
    /// Partial and Finalize Aggregate do. Every thread reads at the statement's snapshot.
    fn aggregate_parallel(
        &self,
        agg: &AggPlan,
        width: usize,
        (def, filter, parts): (&TableDef, Option<&Expr>, Vec<TablePart>),
        needed: Option<&[bool]>,
        (out, stats): (&mut Vec<Group>, &mut SpillStats),
    ) -> SqlResult<()> {
        let work_mem = (self.work_mem / parts.len()).max(64 << 10);
        // The filter reads its columns too.
        let mut mask = needed.map(<[bool]>::to_vec);
        if let (Some(m), Some(f)) = (&mut mask, filter) {
            mark_columns(f, m);
        }
        let needed = mask.as_deref().filter(|m| m.len() == def.columns.len());
        let partial = |range: TablePart| -> SqlResult<(Vec<Group>, SpillStats)> {
            let mut exec = Executor::new(self.engine, self.txn, self.params, self.session);
            exec.work_mem = work_mem;
            let mut groups = Vec::new();
            let mut stats = SpillStats::default();
            exec.aggregate_into(
                agg,
                None,
                (width, 0),
                &mut |f| {
                    for_each_row_between(
                        &exec,
                        def,
                        filter,
                        range.clone(),
                        needed,
                        &mut |_, row| f(row),
                    )
                },
                &mut groups,
                &mut stats,
            )?;
            Ok((groups, stats))
        };
        let mut parts = parts.into_iter();
        let first = parts.next().expect("at least two parts");
        let results: Vec<SqlResult<(Vec<Group>, SpillStats)>> = std::thread::scope(|s| {
            let workers: Vec<_> = parts
                .map(|range| {
                    std::thread::Builder::new()
                        .name("borealis-parallel".into())
                        .stack_size(STATEMENT_STACK_BYTES)
                        .spawn_scoped(s, || partial(range))
                })
                .collect();
            let mut results = vec![partial(first)];
            for w in workers {
                results.push(match w {
                    Ok(handle) => handle.join().unwrap_or_else(|_| {
                        Err(SqlError::Internal("a parallel worker panicked".into()))
                    }),
                    Err(e) => Err(SqlError::Internal(format!(
                        "could not start a parallel worker: {e}"
                    ))),
                });
            }
            results
        });
        // Merge: the first part's groups, then each other part's, by key.
        let mut index: FastMap<Vec<u8>, usize> = FastMap::default();
        let mut hash_key = Vec::new();
        for r in results {
            let (groups, s) = r?;
            stats.merge(&s);
            for (keys, accs, first_row) in groups {
                hash_key.clear();
                for k in &keys {
                    push_hash_key(k, &mut hash_key);
                }
                match index.get(hash_key.as_slice()) {
                    Some(&g) => {
                        for (acc, other) in out[g].1.iter_mut().zip(accs) {
                            acc.merge(other)?;
                        }
                    }
                    None => {
                        index.insert(hash_key.clone(), out.len());
                        out.push((keys, accs, first_row));
                    }
                }
            }
        }
        Ok(())
    }

    fn run_select(
        &self,
        plan: &SelectPlan,
        order_by: &[SortSpec],
        outer: Option<&EvalContext<'_>>,
        stop_after: Option<usize>,
        sink: &mut dyn FnMut(Vec<Value>, Vec<Value>) -> SqlResult<()>,
    ) -> SqlResult<()> {
        if !plan.distinct {
            return self.select_rows(plan, order_by, outer, stop_after, sink);
        }
        let started = self.node_start();
        let nvals = plan.projections.len();
        let width = nvals + order_by.len() + plan.distinct_on.len();
        let distinct = AggPlan {
            group_by: (0..nvals).map(Expr::Column).collect(),
            aggs: Vec::new(),
            having: None,
        };
        let mut groups: Vec<Group> = Vec::new();
        let mut stats = SpillStats::default();
        // A projected row is its output values followed by its keys.
        let mut row: Vec<Value> = Vec::with_capacity(width);
        self.aggregate_into(
            &distinct,
            outer,
            (width, 0),
            &mut |f| {
                self.select_rows(plan, order_by, outer, None, &mut |mut vals, mut keys| {
                    row.clear();
                    row.append(&mut vals);
                    row.append(&mut keys);
                    self.recycle_row(vals);
                    self.recycle_row(keys);
                    f(&row)
                })
            },
            &mut groups,
            &mut stats,
        )?;
        if let Some(i) = &self.instrument {
            i.record_memory(plan, explain::Part::Distinct, stats.memory_use());
        }
        let n = groups.len();
        for (_, _, mut vals) in groups {
            let keys = vals.split_off(nvals.min(vals.len()));
            sink(vals, keys)?;
        }
        self.node_done(plan, explain::Part::Distinct, started, n);
        Ok(())
    }

    /// The rows of a select before DISTINCT. A plain select streams its FROM rows into `sink`
    /// (one table's rows straight from the scan); an aggregate reads its input row by row and
    /// gives its groups; window functions sort their input once per window.
    fn select_rows(
        &self,
        plan: &SelectPlan,
        order_by: &[SortSpec],
        outer: Option<&EvalContext<'_>>,
        stop_after: Option<usize>,
        sink: &mut dyn FnMut(Vec<Value>, Vec<Value>) -> SqlResult<()>,
    ) -> SqlResult<()> {
        let started = self.node_start();
        // The output values and sort keys (sort keys, then the DISTINCT ON values, compared
        // after the sort) computed over `cx`, but for the outputs `taken` names (left NULL, to
        // be taken from the row) and the sort keys that are outputs (left NULL, copied from
        // the outputs once complete by `keys_of_outputs`).
        //
        // The output row is built in a spare buffer (see `Executor::spare_row`) when its reader
        // gives rows back (a derived table's reader does): a column or constant is copied
        // into the buffer's value from an earlier row, and a taken column swaps places with
        // it, so the scan decodes its next row into that value's buffer.
        let evaluate = |cx: &EvalContext<'_>, taken: u64| -> SqlResult<(Vec<Value>, Vec<Value>)> {
            let mut vals = self.take_spare(plan.projections.len());
            vals.resize(plan.projections.len(), Value::Null);
            for (slot, p) in vals.iter_mut().zip(&plan.projections) {
                match (is_taken(p, taken), p) {
                    (Some(_), _) => {}
                    (None, Expr::Column(_) | Expr::Literal(_)) => {
                        assign_value(slot, &*p.eval_ref(cx)?);
                    }
                    (None, _) => *slot = p.eval(cx)?,
                }
            }
            let sort_width = order_by.len() + plan.distinct_on.len();
            let mut sort = match sort_width {
                0 => Vec::new(),
                _ => {
                    let mut spare = self.take_spare(sort_width);
                    spare.clear();
                    spare
                }
            };
            for s in order_by {
                sort.push(match &s.key {
                    SortKey::Output(_) => Value::Null,
                    SortKey::Expr(e) => e.eval(cx)?,
                });
            }
            for e in &plan.distinct_on {
                sort.push(e.eval(cx)?);
            }
            Ok((vals, sort))
        };
        let keys_of_outputs = |vals: &[Value], sort: &mut [Value]| {
            for (s, slot) in order_by.iter().zip(sort.iter_mut()) {
                if let SortKey::Output(i) = s.key {
                    *slot = vals[i].clone();
                }
            }
        };
        let project = |cx: &EvalContext<'_>,
                       sink: &mut dyn FnMut(Vec<Value>, Vec<Value>) -> SqlResult<()>|
         -> SqlResult<()> {
            let (vals, mut sort) = evaluate(cx, 0)?;
            keys_of_outputs(&vals, &mut sort);
            sink(vals, sort)
        };
        // With set-returning calls, a row becomes as many rows as the longest of their lists.
        let (srf_stop_after, srf_rows) = (stop_after, std::cell::Cell::new(0usize));
        let emit = |cx: &EvalContext<'_>,
                    sink: &mut dyn FnMut(Vec<Value>, Vec<Value>) -> SqlResult<()>|
         -> SqlResult<()> {
            if plan.srfs.is_empty() {
                return project(cx, sink);
            }
            if let [call] = plan.srfs.as_slice() {
                let args = call
                    .args
                    .iter()
                    .map(|a| a.eval(cx))
                    .collect::<SqlResult<Vec<Value>>>()?;
                // Once a LIMIT's rows are out, the call makes no more values (for this FROM
                // row or the ones after it).
                let wanted = |made: usize| srf_stop_after.is_none_or(|n| made < n);
                if !wanted(srf_rows.get()) {
                    return Ok(());
                }
                let mut current = [Value::Null];
                return crate::srf::for_each_value(call, args, &self.session.cancel, &mut |v| {
                    current[0] = v;
                    let mut here = *cx;
                    here.srfs = &current;
                    project(&here, sink)?;
                    srf_rows.set(srf_rows.get() + 1);
                    Ok(wanted(srf_rows.get()))
                });
            }
            let mut lists = Vec::with_capacity(plan.srfs.len());
            for call in &plan.srfs {
                let args = call
                    .args
                    .iter()
                    .map(|a| a.eval(cx))
                    .collect::<SqlResult<Vec<Value>>>()?;
                lists.push(crate::srf::values(call, args, &self.session.cancel)?);
            }
            let n = lists.iter().map(Vec::len).max().unwrap_or(0);
            let mut current = vec![Value::Null; lists.len()];
            for k in 0..n {
                for (c, list) in current.iter_mut().zip(&lists) {
                    *c = list.get(k).cloned().unwrap_or(Value::Null);
                }
                let mut here = *cx;
                here.srfs = &current;
                project(&here, sink)?;
            }
            Ok(())
        };
        // A LIMIT counts output rows, which set-returning calls make more (or fewer) of.
        let stop_after = if plan.srfs.is_empty() {
            stop_after
        } else {
            None
        };
        if plan.aggregate.is_none() && plan.windows.calls.is_empty() {
            // Only the columns the select reads are decoded from each row.
            let needed = columns_read(plan, None, order_by);
            let taken = taken_outputs(plan, order_by);
            if taken == 0 {
                return self.for_each_from_row(
                    &plan.from,
                    outer,
                    (needed.as_deref(), stop_after),
                    &mut |row| emit(&self.cx(row, outer), sink),
                );
            }
            // Outputs that are plain columns read by nothing else are moved out of the row
            // (once everything else has been computed over it) rather than copied.
            return self.for_each_from_row(
                &plan.from,
                outer,
                (needed.as_deref(), stop_after),
                &mut |row| {
                    let (mut vals, mut sort) = evaluate(&self.cx(row, outer), taken)?;
                    for (v, p) in vals.iter_mut().zip(&plan.projections) {
                        // `v` is NULL or a value of an earlier output row: the row's slot
                        // gets it, to be overwritten when the row's buffer is next filled.
                        if let Some(c) = is_taken(p, taken) {
                            std::mem::swap(v, &mut row[c]);
                        }
                    }
                    keys_of_outputs(&vals, &mut sort);
                    sink(vals, sort)
                },
            );
        }
        // Window functions over the FROM rows: sorted per window within `work_mem`, one
        // partition at a time (see `windows_over`); an aggregate reads its input row by row.
        if plan.aggregate.is_none() {
            return self.windows_over(
                plan,
                outer,
                started,
                false,
                &mut |f| {
                    // Only the columns the select and its windows read are decoded.
                    let needed = columns_read(plan, None, order_by);
                    self.for_each_from_row(
                        &plan.from,
                        outer,
                        (needed.as_deref(), None),
                        &mut |row| f(std::mem::take(row)),
                    )
                },
                &mut |cx| emit(cx, sink),
            );
        }
        let rows: Vec<Vec<Value>> = Vec::new();
        // The groups that pass HAVING: (first row of the group, aggregate results, key values).
        let mut groups_out: Vec<(Vec<Value>, Vec<Value>, Vec<Value>)> = Vec::new();
        if let Some(agg) = &plan.aggregate {
            let needed = columns_read(plan, Some(agg), order_by);
            let mut groups: Vec<Group> = Vec::new();
            let mut stats = SpillStats::default();
            if let Some((def, filter, parts)) = self.parallel_parts(plan, agg, outer)? {
                self.aggregate_parallel(
                    agg,
                    plan.from.width,
                    (def, filter, parts),
                    needed.as_deref(),
                    (&mut groups, &mut stats),
                )?;
            } else {
                self.aggregate_into(
                    agg,
                    outer,
                    (plan.from.width, 0),
                    &mut |f| {
                        if plan.minmax.is_empty() {
                            self.for_each_from_row(
                                &plan.from,
                                outer,
                                (needed.as_deref(), None),
                                &mut |row| f(row),
                            )
                        } else {
                            self.minmax_rows(plan, outer, f)
                        }
                    },
                    &mut groups,
                    &mut stats,
                )?;
            }
            if let Some(i) = &self.instrument {
                i.record_memory(plan, explain::Part::Aggregate, stats.memory_use());
            }
            // An aggregate without GROUP BY yields one row even over no input.
            if agg.group_by.is_empty() && groups.is_empty() {
                groups.push((
                    Vec::new(),
                    agg.aggs.iter().map(Accumulator::new).collect(),
                    vec![Value::Null; plan.from.width],
                ));
            }
            for (keys, accs, first) in groups {
                let results: Vec<Value> = accs
                    .into_iter()
                    .map(Accumulator::finish)
                    .collect::<SqlResult<_>>()?;
                if let Some(h) = &agg.having {
                    let mut cx = self.cx(&first, outer);
                    cx.aggs = &results;
                    cx.group_keys = &keys;
                    if h.eval(&cx)? != Value::Bool(true) {
                        continue;
                    }
                }
                groups_out.push((first, results, keys));
            }
            self.node_done(plan, explain::Part::Aggregate, started, groups_out.len());
        }
        // What the select list sees: a row, or a group.
        let contexts: Vec<EvalContext<'_>> = match &plan.aggregate {
            None => rows.iter().map(|r| self.cx(r, outer)).collect(),
            Some(_) => groups_out
                .iter()
                .map(|(first, results, keys)| {
                    let mut cx = self.cx(first, outer);
                    cx.aggs = results;
                    cx.group_keys = keys;
                    cx
                })
                .collect(),
        };
        if plan.windows.calls.is_empty() {
            for cx in &contexts {
                emit(cx, sink)?;
            }
        } else {
            // Windows over the groups: each group travels through the window stages as one
            // row (see `encode_group`).
            drop(contexts);
            self.windows_over(
                plan,
                outer,
                started,
                true,
                &mut |f| {
                    for (first, results, keys) in &groups_out {
                        f(encode_group(first, results, keys))?;
                    }
                    Ok(())
                },
                &mut |cx| emit(cx, sink),
            )?;
        }
        Ok(())
    }
}

impl Executor<'_> {
    /// Computes the window functions of a select over its rows: FROM rows, or (`grouped`)
    /// groups as [`encode_group`] makes them, which `feed` gives. [`crate::window::run`]
    /// sorts them once per window within `work_mem` and keeps each partition in stores that
    /// spill past it; each row then reaches `emit` with its window results.
    fn windows_over(
        &self,
        plan: &SelectPlan,
        outer: Option<&EvalContext<'_>>,
        started: Option<std::time::Instant>,
        grouped: bool,
        feed: &mut crate::window::RowFeed<'_>,
        emit: &mut dyn FnMut(&EvalContext<'_>) -> SqlResult<()>,
    ) -> SqlResult<()> {
        let with_cx = |base: &[Value],
                       windows: &[Value],
                       f: &mut dyn FnMut(&EvalContext<'_>) -> SqlResult<()>|
         -> SqlResult<()> {
            let mut cx = if grouped {
                let (first, aggs, keys) = decode_group(base)?;
                let mut cx = self.cx(first, outer);
                cx.aggs = aggs;
                cx.group_keys = keys;
                cx
            } else {
                self.cx(base, outer)
            };
            cx.windows = windows;
            f(&cx)
        };
        let stats = crate::window::run(
            &plan.windows,
            self.work_mem,
            &self.session.cancel,
            feed,
            &with_cx,
            &mut |base, windows| with_cx(base, windows, emit),
        )?;
        if let Some(i) = &self.instrument {
            i.record_memory(
                plan,
                explain::Part::Window,
                explain::MemoryUse::of_sort(stats.method, stats.peak_bytes, stats.disk_bytes),
            );
        }
        self.node_done(plan, explain::Part::Window, started, stats.rows);
        Ok(())
    }
}

/// Sets `dst` to a copy of `src`, into the buffer `dst` already has when both are text or
/// bytes. A scalar over a scalar (the common case: a row's integers over the last row's) is
/// stored without the general clone and drop.
#[inline]
fn assign_value(dst: &mut Value, src: &Value) {
    let scalar = match src {
        Value::Null => Value::Null,
        Value::Int(v) => Value::Int(*v),
        Value::Bool(b) => Value::Bool(*b),
        Value::Float(f) => Value::Float(*f),
        _ => return assign_value_general(dst, src),
    };
    if matches!(
        dst,
        Value::Null | Value::Int(_) | Value::Bool(_) | Value::Float(_)
    ) {
        // The old value owns no memory: nothing to drop.
        std::mem::forget(std::mem::replace(dst, scalar));
    } else {
        *dst = scalar;
    }
}

/// [`assign_value`] of a value that may own memory.
#[inline(never)]
fn assign_value_general(dst: &mut Value, src: &Value) {
    match (dst, src) {
        (Value::Text(d), Value::Text(s)) | (Value::Bpchar(d), Value::Bpchar(s)) => d.clone_from(s),
        (Value::Bytes(d), Value::Bytes(s)) => d.clone_from(s),
        (dst, src) => *dst = src.clone(),
    }
}

/// A group of an aggregate as one row, to travel through the window stages: the lengths of
/// its first row and of its aggregate results, then the first row, the results and the key
/// values ([`decode_group`] takes it apart).
fn encode_group(first: &[Value], results: &[Value], keys: &[Value]) -> Vec<Value> {
    let mut row = Vec::with_capacity(2 + first.len() + results.len() + keys.len());
    row.push(Value::Int(i64::try_from(first.len()).unwrap_or(i64::MAX)));
    row.push(Value::Int(i64::try_from(results.len()).unwrap_or(i64::MAX)));
    row.extend_from_slice(first);
    row.extend_from_slice(results);
    row.extend_from_slice(keys);
    row
}

/// The first row, aggregate results and key values of a group [`encode_group`] made a row.
fn decode_group(row: &[Value]) -> SqlResult<(&[Value], &[Value], &[Value])> {
    let len = |i: usize| match row.get(i) {
        Some(Value::Int(n)) => usize::try_from(*n).ok(),
        _ => None,
    };
    let damaged = || SqlError::Internal("a group's row between window stages is damaged".into());
    let (Some(f), Some(r)) = (len(0), len(1)) else {
        return Err(damaged());
    };
    let rest = row.get(2..).ok_or_else(damaged)?;
    if f.saturating_add(r) > rest.len() {
        return Err(damaged());
    }
    let (first, rest) = rest.split_at(f);
    let (results, keys) = rest.split_at(r);
    Ok((first, results, keys))
}

/// The cores this process may use, read once (the standard library reads the affinity mask
/// and cgroup files on every call, too slow for each aggregate).
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES
        .get_or_init(|| std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get))
}

/// Whether an aggregate is run in parallel, and over what: one table read whole (no index, no
/// join); aggregates whose partial states merge (count, sum, avg, min, max, bool_and, bool_or,
/// without DISTINCT or ORDER BY); nothing a worker could not evaluate on its own (subqueries,
/// parameters, volatile functions); and, unless `force_parallel_mode` is on, at least
/// [`PARALLEL_ROWS_MIN`] estimated rows and at most [`PARALLEL_GROUPS_MAX`] estimated groups (the
/// partial groups are merged in memory). Gives the table, its filter and the key ranges to
/// read, one per thread (the workers allowed, plus the executor's own). EXPLAIN asks the same
/// question.
#[allow(clippy::type_complexity)]
fn parallel_aggregate<'p>(
    engine: &Engine,
    (workers, force): (usize, bool),
    plan: &'p SelectPlan,
    agg: &AggPlan,
) -> SqlResult<Option<(&'p TableDef, Option<&'p Expr>, Vec<TablePart>)>> {
    let threads = workers.saturating_add(1).min(cores());
    if threads < 2
        || !plan.minmax.is_empty()
        || !plan.windows.calls.is_empty()
        || plan.from.relations.len() != 1
        || plan.from.residual.is_some()
        || plan.from.steps.len() != 1
        || plan.from.steps[0].filter.is_some()
        || plan.from.relations[0].offset != 0
    {
        return Ok(None);
    }
    let rel = &plan.from.relations[0];
    let Source::Table(def) = &rel.source else {
        return Ok(None);
    };
    if !matches!(rel.access, Access::Full) || rel.lateral || rel.ordinality {
        return Ok(None);
    }
    let mergeable = agg.aggs.iter().all(|a| {
        matches!(
            a.func,
            AggFunc::CountStar
                | AggFunc::Count
                | AggFunc::Sum
                | AggFunc::Avg
                | AggFunc::Min
                | AggFunc::Max
                | AggFunc::BoolAnd
                | AggFunc::BoolOr
        ) && !a.distinct
            && a.order_by.is_empty()
    });
    let exprs = agg
        .group_by
        .iter()
        .chain(agg.aggs.iter().flat_map(|a| a.arg.iter().chain(&a.filter)))
        .chain(&rel.filter);
    let mut self_contained = true;
    for e in exprs {
        e.visit(&mut |x| {
            if matches!(
                x,
                Expr::ScalarSubquery(_)
                    | Expr::ArraySubquery(_)
                    | Expr::Exists { .. }
                    | Expr::InSubquery { .. }
                    | Expr::Outer { .. }
                    | Expr::Param(_)
            ) || matches!(x, Expr::Func { name, .. } if VOLATILE_FUNCTIONS.contains(name))
            {
                self_contained = false;
            }
        });
    }
    if !mergeable || !self_contained {
        return Ok(None);
    }
    if !force {
        let t = crate::cost::TableInfo {
            def,
            stats: rel.stats.as_deref(),
            rows: crate::cost::table_rows(engine, def, rel.stats.as_deref()),
        };
        if t.rows < PARALLEL_ROWS_MIN {
            return Ok(None);
        }
        let mut groups = 1.0f64;
        for g in &agg.group_by {
            groups *= match g {
                Expr::Column(c) => t.distinct(*c) + 1.0,
                _ => return Ok(None),
            };
        }
        if groups > PARALLEL_GROUPS_MAX {
            return Ok(None);
        }
    }
    let keys = engine.split_keys(def.tree, threads)?;
    if keys.is_empty() {
        return Ok(None);
    }
    let mut parts = Vec::with_capacity(keys.len() + 1);
    let mut from = Bound::Unbounded;
    for k in keys {
        parts.push((from, Bound::Excluded(k.clone())));
        from = Bound::Included(k);
    }
    parts.push((from, Bound::Unbounded));
    Ok(Some((def, rel.filter.as_ref(), parts)))
}

/// The columns of the FROM row that a select reads: with an aggregate its GROUP BY, aggregate
/// arguments and filters, HAVING, select list and ORDER BY (a select list may name a column
/// the GROUP BY determines, read from a group's first row), and its window functions' keys,
/// arguments and frame offsets. `None` (read every column) when a correlated subquery could
/// read any of them.
fn columns_read(
    plan: &SelectPlan,
    agg: Option<&AggPlan>,
    order_by: &[SortSpec],
) -> Option<Vec<bool>> {
    let mut needed = vec![false; plan.from.width];
    let mut exprs: Vec<&Expr> = Vec::new();
    // Window functions read their windows' keys, their arguments and their frames' offsets.
    for d in &plan.windows.defs {
        exprs.extend(&d.partition);
        exprs.extend(d.order.iter().map(|o| &o.expr));
    }
    for c in &plan.windows.calls {
        exprs.extend(&c.args);
        if let Some(a) = &c.agg {
            exprs.extend(a.arg.iter().chain(a.filter.iter()));
            exprs.extend(a.order_by.iter().map(|(e, _, _)| e));
        }
        for bound in [&c.frame.start, &c.frame.end] {
            if let crate::window::FrameBound::Preceding(e)
            | crate::window::FrameBound::Following(e) = bound
            {
                exprs.push(e);
            }
        }
    }
    if let Some(agg) = agg {
        exprs.extend(&agg.group_by);
        for call in &agg.aggs {
            exprs.extend(call.arg.iter().chain(call.filter.iter()));
        }
        exprs.extend(agg.having.iter());
    }
    exprs.extend(&plan.projections);
    exprs.extend(plan.srfs.iter().flat_map(|c| &c.args));
    exprs.extend(&plan.distinct_on);
    for s in order_by {
        if let SortKey::Expr(e) = &s.key {
            exprs.push(e);
        }
    }
    for e in exprs {
        if !mark_columns(e, &mut needed) {
            return None;
        }
    }
    Some(needed)
}

/// Marks in `needed` the row columns `e` reads; `false` if it may read others it cannot name
/// (a correlated subquery, or a column past the mask).
fn mark_columns(e: &Expr, needed: &mut [bool]) -> bool {
    let mut known = true;
    e.visit(&mut |x| match x {
        Expr::Column(c) => match needed.get_mut(*c) {
            Some(n) => *n = true,
            None => known = false,
        },
        Expr::ScalarSubquery(q)
        | Expr::ArraySubquery(q)
        | Expr::Exists { query: q, .. }
        | Expr::InSubquery { query: q, .. }
            if q.correlated =>
        {
            known = false
        }
        _ => {}
    });
    if !known {
        needed.iter_mut().for_each(|n| *n = true);
    }
    known
}

/// The FROM columns (as a bit set) a select without set-returning calls may move into its
/// outputs rather than copy: those that stand alone as exactly one output and that no other
/// output, sort expression or DISTINCT ON expression reads (an output used as a sort key is
/// copied from the output). Only the first 64 columns are ever taken. Computed without
/// allocating: a one-row statement runs it too.
fn taken_outputs(plan: &SelectPlan, order_by: &[SortSpec]) -> u64 {
    const WIDE: usize = u64::BITS as usize;
    if !plan.srfs.is_empty() {
        return 0;
    }
    let width = plan.from.width;
    let (mut once, mut more) = (0u64, 0u64);
    let mut other = [false; WIDE];
    let other = &mut other[..width.min(WIDE)];
    let mut known = true;
    let mut exprs = plan.projections.iter().filter(|p| {
        let Expr::Column(c) = p else {
            return true;
        };
        if *c >= WIDE {
            return false;
        }
        let bit = 1u64 << c;
        more |= once & bit;
        once |= bit;
        false
    });
    let sorts = order_by.iter().filter_map(|s| match &s.key {
        SortKey::Expr(e) => Some(e),
        SortKey::Output(_) => None,
    });
    for e in exprs.by_ref().chain(sorts).chain(&plan.distinct_on) {
        // A column past the 64th, or a correlated subquery, reads what it may: take nothing.
        if width > WIDE || !mark_columns(e, other) {
            known = false;
            break;
        }
    }
    if !known {
        return 0;
    }
    let read = other
        .iter()
        .enumerate()
        .fold(0u64, |m, (i, &r)| if r { m | (1 << i) } else { m });
    once & !more & !read
}

/// Whether output `p` is taken from the row under `taken` (see [`taken_outputs`]).
fn is_taken(p: &Expr, taken: u64) -> Option<usize> {
    match p {
        Expr::Column(c) if *c < 64 && taken & (1 << c) != 0 => Some(*c),
        _ => None,
    }
}

/// Partial row `partial` with relation `rel`'s columns set to `row`'s values (moved when `row`
/// is owned, copied when it is borrowed): each value is copied at most once, and the partial
/// row's own slots for the relation, which hold nothing, not at all.
fn joined_row<R>(rel: &Relation, partial: &[Value], row: R) -> Vec<Value>
where
    R: IntoIterator,
    R::IntoIter: ExactSizeIterator<Item = Value>,
{
    let row = row.into_iter();
    assert_eq!(
        row.len(),
        rel.width,
        "a relation row has the relation's width"
    );
    let mut joined = Vec::with_capacity(partial.len());
    joined.extend_from_slice(&partial[..rel.offset]);
    joined.extend(row);
    joined.extend_from_slice(&partial[rel.offset + rel.width..]);
    joined
}

/// A RIGHT or FULL join's relation row without a partner: NULLs in every other column.
fn pad_right(from: &FromPlan, rel: &Relation, row: &[Value], emit: &mut Emit<'_>) -> SqlResult<()> {
    let mut joined = vec![Value::Null; from.width];
    joined[rel.offset..rel.offset + rel.width].clone_from_slice(row);
    emit(joined)
}

/// Gives each row of a body that is not a select to `sink` with its sort keys: ORDER BY
/// names its output columns.
fn with_output_keys(
    rows: Vec<Vec<Value>>,
    order_by: &[SortSpec],
    sink: &mut dyn FnMut(Vec<Value>, Vec<Value>) -> SqlResult<()>,
) -> SqlResult<()> {
    for r in rows {
        let keys = order_by
            .iter()
            .map(|s| match s.key {
                SortKey::Output(i) => r.get(i).cloned().unwrap_or(Value::Null),
                SortKey::Expr(_) => Value::Null,
            })
            .collect();
        sink(r, keys)?;
    }
    Ok(())
}

/// The order DISTINCT ON sorts its values in after the ORDER BY keys: ascending, NULLs last.
fn compare_distinct_on(a: &[Value], b: &[Value]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            _ => x.sort_cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// A key under which equal rows (SQL equality, NULLs equal to each other) collide.
fn row_hash_key(vals: &[Value]) -> Vec<u8> {
    let mut k = Vec::new();
    for v in vals {
        push_hash_key(v, &mut k);
    }
    k
}

/// Appends one value of a [`row_hash_key`] (GROUP BY and DISTINCT keys are built from these).
fn push_hash_key(v: &Value, k: &mut Vec<u8>) {
    match v {
        // 1 and 1.0 are one value in a float column; integers keep their exact encoding.
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
            encode_key_value(&Value::Int(*f as i64), k)
        }
        other => encode_key_value(other, k),
    }
    k.push(u8::from(v.is_null()));
}

/// A row of one side of a set operation in the common column type (see
/// `array::common_pair`): a number widens, a date becomes a timestamp, a timestamp a
/// timestamptz.
fn widen_set_row(mut row: Vec<Value>, columns: &[ColumnInfo]) -> SqlResult<Vec<Value>> {
    for (v, c) in row.iter_mut().zip(columns) {
        let widens = matches!(
            (&*v, c.ty),
            (
                Value::Int(_),
                DataType::Numeric | DataType::Float4 | DataType::Float8
            ) | (Value::Numeric(_), DataType::Float4 | DataType::Float8)
                | (Value::Float4(_), DataType::Float8)
                | (Value::Date(_), DataType::Timestamp | DataType::TimestampTz)
                | (Value::Timestamp(_), DataType::TimestampTz)
        );
        if widens {
            *v = std::mem::replace(v, Value::Null).cast(c.ty)?;
        }
    }
    Ok(row)
}

/// A [`ResultSink`] that hands each row to a function.
struct FnSink<'f> {
    rows: usize,
    f: &'f mut dyn FnMut(Vec<Value>) -> SqlResult<()>,
}

impl ResultSink for FnSink<'_> {
    fn push_row(&mut self, row: Vec<Value>) -> SqlResult<()> {
        self.rows += 1;
        (self.f)(row)
    }

    fn row_count(&self) -> usize {
        self.rows
    }
}

fn sort_rows(out: &mut [(Vec<Value>, Vec<Value>)], order_by: &[SortSpec]) {
    out.sort_by(|a, b| compare_keys(&a.1, &b.1, order_by));
}

/// The order of two rows' sort keys under ORDER BY.
fn compare_keys(a: &[Value], b: &[Value], order_by: &[SortSpec]) -> Ordering {
    for (s, (x, y)) in order_by.iter().zip(a.iter().zip(b)) {
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                if s.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (false, true) => {
                if s.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            _ => {
                let o = x.sort_cmp(y);
                if s.desc { o.reverse() } else { o }
            }
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Reads the rows of a table that pass `filter`, found through `access`, at the snapshot of
/// the executor's transaction; `sink` gets each row's table key and values. Whatever the access
/// path, every row is checked against the whole filter again (an access path only narrows the
/// rows read, it never decides a match). `stop_after` bounds how many matching rows are wanted.
#[allow(clippy::too_many_arguments)]
pub fn matching_rows(
    exec: &Executor<'_>,
    def: &TableDef,
    filter: Option<&Expr>,
    access: &Access,
    outer: Option<&EvalContext<'_>>,
    stop_after: Option<usize>,
    mut sink: impl FnMut(Vec<u8>, Vec<Value>) -> SqlResult<()>,
) -> SqlResult<()> {
    for_each_matching_row(
        exec,
        def,
        filter,
        access,
        outer,
        (stop_after, None),
        &mut |key, row| sink(key.to_vec(), std::mem::take(row)),
    )
}

/// Decodes a stored row of `ncols` columns into a buffer (see [`scan_tree`]).
type RowDecoder<'a> = dyn Fn(&[u8], usize, &mut Vec<Value>) -> SqlResult<()> + 'a;
/// Whether a row passes a relation's filter (see [`scan_tree`]).
type RowTest<'a> = dyn Fn(&[Value]) -> SqlResult<bool> + 'a;

/// Gets a table key and a row buffer (see [`for_each_matching_row`]).
pub type RowSink<'a> = dyn FnMut(&[u8], &mut Vec<Value>) -> SqlResult<()> + 'a;

/// [`matching_rows`] without allocating per row: the sink borrows the table key and gets the
/// row in a buffer that is reused for the next row unless the sink takes it
/// (`std::mem::take`). Table rows are read in batches whose buffers are reused too. `needed`
/// marks the columns the caller (and `filter`) read; the others come out NULL (`None`: all).
pub fn for_each_matching_row(
    exec: &Executor<'_>,
    def: &TableDef,
    filter: Option<&Expr>,
    access: &Access,
    outer: Option<&EvalContext<'_>>,
    (stop_after, needed): (Option<usize>, Option<&[bool]>),
    sink: &mut RowSink<'_>,
) -> SqlResult<()> {
    let ncols = def.columns.len();
    let decode_row_into = |bytes: &[u8], ncols: usize, row: &mut Vec<Value>| {
        decode_columns_into(bytes, ncols, needed, row)
    };
    let bounds = match access {
        Access::Full => None,
        Access::Range(range) => match range.bounds(exec, def, outer)? {
            Some(b) => Some((range, b)),
            None => return Ok(()),
        },
    };
    // A range read's rows all satisfy the key terms its bounds enforce exactly: only the
    // other conjuncts are checked per row.
    let residual = match (&bounds, filter) {
        (Some((range, (KeyBounds::Range(..), exact))), Some(f)) => range.residual(def, f, *exact),
        _ => None,
    };
    let passes = |row: &[Value]| -> SqlResult<bool> {
        // Matched, not compared: no `true` is built and dropped per row.
        match (&residual, filter) {
            (Some(conjuncts), _) => {
                let cx = exec.cx(row, outer);
                for c in conjuncts {
                    if !matches!(c.eval(&cx)?, Value::Bool(true)) {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            (None, None) => Ok(true),
            (None, Some(f)) => Ok(matches!(f.eval(&exec.cx(row, outer))?, Value::Bool(true))),
        }
    };
    let mut row = Vec::with_capacity(ncols);
    let (tree, index, from, to) = match bounds {
        None => (def.tree, None, Bound::Unbounded, Bound::Unbounded),
        Some((range, (bounds, _))) => {
            match bounds {
                KeyBounds::Point(key) if range.index_only => {
                    let table_key = match range.index {
                        None => exec
                            .engine
                            .get(exec.txn, def.tree, &key)?
                            .map(|_| key.clone()),
                        Some(i) => exec.engine.get(exec.txn, def.indexes[i].tree, &key)?,
                    };
                    if let Some(tk) = table_key {
                        key_row(def, range.index, &key, &mut row)?;
                        if passes(&row)? {
                            sink(&tk, &mut row)?;
                        }
                    }
                    return Ok(());
                }
                KeyBounds::Point(key) => {
                    // A pinned primary key, or a pinned unique index (whose entry is the key
                    // alone): at most one row.
                    let table_key = match range.index {
                        None => Some(key),
                        Some(i) => exec.engine.get(exec.txn, def.indexes[i].tree, &key)?,
                    };
                    if let Some(tk) = table_key {
                        match exec.engine.get(exec.txn, def.tree, &tk)? {
                            Some(bytes) => {
                                decode_row_into(&bytes, ncols, &mut row)?;
                                if passes(&row)? {
                                    sink(&tk, &mut row)?;
                                }
                            }
                            None if range.index.is_some() => {
                                return Err(dangling_entry(def, range.index));
                            }
                            None => {}
                        }
                    }
                    return Ok(());
                }
                KeyBounds::Range(from, to) => match range.index {
                    None => (def.tree, None, from, to),
                    Some(i) => (def.indexes[i].tree, Some(i), from, to),
                },
            }
        }
    };
    let index_only = matches!(access, Access::Range(r) if r.index_only);
    let backward = matches!(access, Access::Range(r) if r.backward);
    scan_tree(
        exec,
        def,
        (tree, index),
        (from, to),
        (index_only, backward, stop_after),
        (&decode_row_into, &passes),
        &mut row,
        sink,
    )
}

/// Reads the rows of `def` whose table keys lie in `from..to` that pass `filter`, into `sink`:
/// one part of a table a parallel worker reads (see [`Executor::aggregate_parallel`]).
/// `needed` as for [`for_each_matching_row`].
pub(crate) fn for_each_row_between(
    exec: &Executor<'_>,
    def: &TableDef,
    filter: Option<&Expr>,
    (from, to): (Bound<Vec<u8>>, Bound<Vec<u8>>),
    needed: Option<&[bool]>,
    sink: &mut RowSink<'_>,
) -> SqlResult<()> {
    let decode_row_into = |bytes: &[u8], ncols: usize, row: &mut Vec<Value>| {
        decode_columns_into(bytes, ncols, needed, row)
    };
    let passes = |row: &[Value]| -> SqlResult<bool> {
        match filter {
            None => Ok(true),
            // Matched, not compared: no `true` is built and dropped per row.
            Some(f) => Ok(matches!(f.eval(&exec.cx(row, None))?, Value::Bool(true))),
        }
    };
    let mut row = Vec::with_capacity(def.columns.len());
    scan_tree(
        exec,
        def,
        (def.tree, None),
        (from, to),
        (false, false, None),
        (&decode_row_into, &passes),
        &mut row,
        sink,
    )
}

/// The scan of [`for_each_matching_row`]: the entries of `tree` (the table's, or index
/// `index`'s) in `from..to`, in batches, forwards or `backward`, each row decoded (or built
/// from the key, `index_only`) and passed to `sink` if it passes, until `stop_after` rows.
#[allow(clippy::too_many_arguments)]
fn scan_tree(
    exec: &Executor<'_>,
    def: &TableDef,
    (tree, index): (borealis_engine::TreeId, Option<usize>),
    (from, to): (Bound<Vec<u8>>, Bound<Vec<u8>>),
    (index_only, backward, stop_after): (bool, bool, Option<usize>),
    (decode_row_into, passes): (&RowDecoder<'_>, &RowTest<'_>),
    row: &mut Vec<Value>,
    sink: &mut RowSink<'_>,
) -> SqlResult<()> {
    let ncols = def.columns.len();
    // Under a LIMIT the first batch asks for the rows wanted (the filter may turn some down),
    // each later one for twice as many, up to a full batch: `ORDER BY id DESC LIMIT 10` copies
    // ten rows out of the tree, not a thousand.
    let mut batch_rows = stop_after.map_or(SCAN_BATCH_ROWS, |n| n.clamp(1, SCAN_BATCH_ROWS));
    let mut seen = 0usize;
    let mut last: Vec<u8> = Vec::new();
    let mut batch = ScanBuffers::take();
    let ScanBuffers { batch, fetched } = &mut *batch;
    loop {
        exec.session.cancel.check()?;
        // The next batch resumes past the last key of the one before: above it going
        // forwards, below it going backwards.
        let resume = if batch.is_empty() {
            None
        } else {
            last.clear();
            last.extend_from_slice(batch.last_key().expect("not empty"));
            Some(Bound::Excluded(last.as_slice()))
        };
        let (lower, upper) = (
            from.as_ref().map(Vec::as_slice),
            to.as_ref().map(Vec::as_slice),
        );
        if backward {
            exec.engine.scan_batch_rev(
                exec.txn,
                tree,
                lower,
                resume.unwrap_or(upper),
                batch_rows,
                batch,
            )?;
        } else {
            exec.engine.scan_batch(
                exec.txn,
                tree,
                resume.unwrap_or(lower),
                upper,
                batch_rows,
                batch,
            )?;
        }
        let full = batch.len() == batch_rows;
        batch_rows = batch_rows.saturating_mul(2).min(SCAN_BATCH_ROWS);
        // The rows behind a secondary index's entries, fetched for the whole batch at once:
        // one entry per row seen, in the entries' order.
        if index.is_some() && !index_only {
            exec.engine
                .get_batch(exec.txn, def.tree, batch.iter().map(|(_, v)| v), fetched)?;
        }
        let mut fetched_rows = fetched.iter().peekable();
        for (k, v) in batch.iter() {
            if index_only {
                key_row(def, index, k, row)?;
                if passes(row)? {
                    seen += 1;
                    // A secondary index's entry holds the table key; the table's key is its own.
                    sink(if index.is_some() { v } else { k }, row)?;
                }
                if seen > 0 && stop_after.is_some_and(|n| seen >= n) {
                    return Ok(());
                }
                continue;
            }
            match index {
                None => {
                    decode_row_into(v, ncols, row)?;
                    if passes(row)? {
                        seen += 1;
                        sink(k, row)?;
                    }
                }
                Some(i) => {
                    // An entry is written with its row, in the same transaction.
                    let Some((_, stored)) = fetched_rows.next_if(|(key, _)| *key == v) else {
                        return Err(dangling_entry(def, Some(i)));
                    };
                    decode_row_into(stored, ncols, row)?;
                    if passes(row)? {
                        seen += 1;
                        sink(v, row)?;
                    }
                }
            }
            if seen > 0 && stop_after.is_some_and(|n| seen >= n) {
                return Ok(());
            }
        }
        if !full {
            return Ok(());
        }
    }
}

/// A scan's reusable buffers: its batch of entries and the rows fetched behind a secondary
/// index's entries. Kept per thread between scans (a statement's first scan otherwise grows them
/// from nothing, a cost a point read or a join's lookups pay every time); a scan inside a scan
/// (a lookup under a join) takes a second set.
#[derive(Default)]
struct ScanBuffers {
    batch: ScanBatch,
    fetched: ScanBatch,
}

/// Buffers kept per thread, and the most bytes a kept batch may hold (a full batch of wide
/// rows is dropped rather than kept).
const SCAN_BUFFERS_KEPT: usize = 4;
const SCAN_BUFFER_KEPT_BYTES: usize = 1 << 20;

thread_local! {
    static SCAN_BUFFERS: std::cell::RefCell<Vec<ScanBuffers>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl ScanBuffers {
    /// A set from the thread's pool (or a new one), given back when dropped.
    fn take() -> PooledScanBuffers {
        PooledScanBuffers(Some(
            SCAN_BUFFERS
                .with(|p| p.borrow_mut().pop())
                .unwrap_or_default(),
        ))
    }
}

struct PooledScanBuffers(Option<ScanBuffers>);

impl std::ops::Deref for PooledScanBuffers {
    type Target = ScanBuffers;
    fn deref(&self) -> &ScanBuffers {
        self.0.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for PooledScanBuffers {
    fn deref_mut(&mut self) -> &mut ScanBuffers {
        self.0.as_mut().expect("held until dropped")
    }
}

impl Drop for PooledScanBuffers {
    fn drop(&mut self) {
        let Some(mut b) = self.0.take() else {
            return;
        };
        if b.batch.capacity_bytes() + b.fetched.capacity_bytes() > SCAN_BUFFER_KEPT_BYTES {
            return;
        }
        b.batch.clear();
        b.fetched.clear();
        // The thread's pool may be gone at thread exit: then the buffers are just dropped.
        let _ = SCAN_BUFFERS.try_with(|p| {
            let mut p = p.borrow_mut();
            if p.len() < SCAN_BUFFERS_KEPT {
                p.push(b);
            }
        });
    }
}

/// The row an index-only read gives for `key` (of the table's tree when `index` is `None`,
/// else of that index's): the key's columns decoded into their places, every other column NULL
/// (the query reads none of them).
fn key_row(
    def: &TableDef,
    index: Option<usize>,
    key: &[u8],
    row: &mut Vec<Value>,
) -> SqlResult<()> {
    row.clear();
    row.resize(def.columns.len(), Value::Null);
    let put = |c: usize, v: Value| row[c] = v;
    match index {
        None => catalog::decode_pk_key_each(def, key, put),
        Some(i) => catalog::decode_index_key_each(def, &def.indexes[i], key, put),
    }
}

/// How a table's rows are found.
#[derive(Clone, Debug, Default)]
pub enum Access {
    /// Every row, in table-key order.
    #[default]
    Full,
    /// The rows in a range of one ordered key: the table's own tree (ordered by its primary
    /// key) or a secondary index.
    Range(KeyRange),
}

impl Access {
    /// A lookup that yields at most one row (a pinned primary key or unique index).
    #[must_use]
    pub fn is_point(&self, def: &TableDef) -> bool {
        match self {
            Access::Full => false,
            Access::Range(r) => r.lower.is_none() && r.upper.is_none() && r.pinned(def),
        }
    }
}

/// A range of a key: equalities on its first columns, then at most a lower and an upper bound
/// on the next column, or on the row of the next columns (a row comparison, keyset
/// pagination's `(a, b) > (x, y)`). The expressions are constants, parameters or outer
/// references, evaluated once per read. A range may take more entries than its conditions
/// keep (a bound that is not a key of its column, a row bound cut short by a NULL): the
/// relation's filter, checked again on every row read for every term the read does not
/// enforce exactly (see `KeyRange::residual`), decides.
#[derive(Clone, Debug)]
pub struct KeyRange {
    /// `None`: the table's tree (primary key); `Some(i)`: `def.indexes[i]`.
    pub index: Option<usize>,
    pub eq: Vec<Expr>,
    /// (value, inclusive).
    pub lower: Option<(Expr, bool)>,
    pub upper: Option<(Expr, bool)>,
    /// A row comparison's further values (PostgreSQL's `ROW(a, b) > ROW(1, 2)` index
    /// condition), `None` for bounds on one column (see [`RowBounds`]). Boxed: most ranges
    /// have none.
    pub rows: Option<Box<RowBounds>>,
    /// An index-only read: the values the query needs are all columns of the key, so each row
    /// is decoded from its key (see [`catalog::decode_index_key`]) and the table's row is not
    /// fetched. Exact without any visibility check of the row: index trees are MVCC like the
    /// table's, an entry written and removed in the same transactions as its row, so the
    /// entries a snapshot sees are exactly those of the rows it sees. Chosen after binding
    /// (`Planner::choose_scans`).
    pub index_only: bool,
    /// Read from the range's high end down (PostgreSQL's `Index Scan Backward`): rows come in
    /// the key's declared order reversed (descending, NULLs first, for a default key). Chosen after binding, for an ORDER BY that is the
    /// key's order reversed (`Planner::choose_scans`).
    pub backward: bool,
    /// Only entries whose column after the pinned ones is not NULL (PostgreSQL's `Index Cond:
    /// (x IS NOT NULL)`): the read stops short of the NULL entries, which sort last. Set for
    /// the one-entry reads of `min`/`max` (`SelectPlan::minmax`).
    pub not_null: bool,
}

/// A key range's row comparison values after the first: a bound in [`KeyRange::lower`] with
/// values in `lower` is on the row of the key's columns from the one after the equalities on,
/// compared with `(lower.0, lower…)` in the key's order, inclusive or not as `lower.1` says.
/// Empty on a side whose bound is on one column.
#[derive(Clone, Debug, Default)]
pub struct RowBounds {
    pub lower: Vec<Expr>,
    pub upper: Vec<Expr>,
}

/// Evaluated bounds of a [`KeyRange`].
enum KeyBounds {
    /// Exactly this key (of the table's tree, or of a unique index's entry).
    Point(Vec<u8>),
    Range(Bound<Vec<u8>>, Bound<Vec<u8>>),
}

impl KeyRange {
    fn columns<'d>(&self, def: &'d TableDef) -> &'d [usize] {
        match self.index {
            None => &def.pk,
            Some(i) => &def.indexes[i].columns,
        }
    }

    /// The lower bound's row values after the first (empty: a bound on one column).
    #[must_use]
    pub fn lower_row(&self) -> &[Expr] {
        self.rows.as_ref().map_or(&[], |r| &r.lower)
    }

    /// The upper bound's row values after the first (empty: a bound on one column).
    #[must_use]
    pub fn upper_row(&self) -> &[Expr] {
        self.rows.as_ref().map_or(&[], |r| &r.upper)
    }

    fn unique(&self, def: &TableDef) -> bool {
        self.index.is_none_or(|i| def.indexes[i].unique)
    }

    fn pinned(&self, def: &TableDef) -> bool {
        self.unique(def) && self.eq.len() == self.columns(def).len()
    }

    /// The byte range to read, and which of the range's terms it enforces exactly; `None`
    /// when no row can match (a NULL compared, or an empty range).
    fn bounds(
        &self,
        exec: &Executor<'_>,
        def: &TableDef,
        outer: Option<&EvalContext<'_>>,
    ) -> SqlResult<Option<(KeyBounds, Exact)>> {
        let cols = self.columns(def);
        // Each key column in its declared order (an index's DESC / NULLS FIRST columns).
        let option = |p: usize| self.index.map_or(0, |i| def.indexes[i].option(p));
        let encode = |p: usize, v: &Value, out: &mut Vec<u8>| match self.index {
            None => encode_key_value(v, out),
            Some(_) => catalog::encode_index_column(v, option(p), out),
        };
        let cx = exec.cx(&[], outer);
        let mut prefix = Vec::new();
        let mut complete = true;
        let mut exact = Exact::default();
        for (k, e) in self.eq.iter().enumerate() {
            let v = e.eval(&cx)?;
            if v.is_null() {
                return Ok(None);
            }
            if k < 64 && exact_key_part(&v, &def.columns[cols[k]]) {
                exact.eq |= 1 << k;
            }
            match key_part(v, &def.columns[cols[k]]) {
                Some(v) => encode(k, &v, &mut prefix),
                // Not comparable as a key: read the wider range; the filter decides.
                None => {
                    complete = false;
                    break;
                }
            }
        }
        if complete && self.pinned(def) {
            return Ok(Some((KeyBounds::Point(prefix), exact)));
        }
        // A bound on a DESC column is the other end of the byte range: its values' bytes are
        // complemented, so larger values come first. NULLS FIRST moves only the NULL entries,
        // which no bound admits: the read leaves them out (`bounded` below), so a bound's
        // term need not be checked again (see [`KeyRange::residual`]).
        let desc = |p: usize| option(p) & catalog::INDOPTION_DESC != 0;
        let next = self.eq.len();
        // Each side, and whether it is exactly its one-column term (see [`Exact`]).
        let bound = |b: &Option<(Expr, bool)>, row: &[Expr]| -> SqlResult<(Side, bool)> {
            let Some((e, inclusive)) = b else {
                return Ok((Side::Open, false));
            };
            if !complete || next >= cols.len() {
                return Ok((Side::Open, false));
            }
            let v = e.eval(&cx)?;
            if v.is_null() {
                return Ok((Side::NoMatch, false));
            }
            let exact = row.is_empty() && exact_key_part(&v, &def.columns[cols[next]]);
            let Some(v) = key_part(v, &def.columns[cols[next]]) else {
                return Ok((Side::Open, false));
            };
            let mut b = prefix.clone();
            encode(next, &v, &mut b);
            // A row bound's further values: the key stops at the first one that cannot extend
            // it (a NULL, a value that is not a key of its column, a column read in the other
            // direction), and the bound then takes every entry of that shorter key, a superset
            // of the rows the comparison keeps.
            let mut inclusive = *inclusive;
            for (j, e) in row.iter().enumerate() {
                let p = next + 1 + j;
                let part = if p < cols.len() && desc(p) == desc(next) {
                    let v = e.eval(&cx)?;
                    if v.is_null() {
                        None
                    } else {
                        key_part(v, &def.columns[cols[p]])
                    }
                } else {
                    None
                };
                match part {
                    Some(v) => encode(p, &v, &mut b),
                    None => {
                        inclusive = true;
                        break;
                    }
                }
            }
            Ok((Side::At(b, inclusive), exact))
        };
        let ((lower, lower_exact), (upper, upper_exact)) = (
            bound(&self.lower, self.lower_row())?,
            bound(&self.upper, self.upper_row())?,
        );
        exact.lower = lower_exact;
        exact.upper = upper_exact;
        let (lower, upper) = if next < cols.len() && desc(next) {
            (upper, lower)
        } else {
            (lower, upper)
        };
        let plain = option(next) == 0;
        // A bound on the column keeps none of its NULLs: an index's NULL entries, before its
        // values (NULLS FIRST) or after them, are left out of the read, as the entries past
        // the bound's other side are.
        let bounded = self.index.is_some()
            && complete
            && (matches!(lower, Side::At(..)) || matches!(upper, Side::At(..)));
        let nulls_first = option(next) & catalog::INDOPTION_NULLS_FIRST != 0;
        let from = match lower {
            Side::NoMatch => return Ok(None),
            Side::At(b, true) => Bound::Included(b),
            Side::At(b, false) => match prefix_end(&b) {
                Some(e) => Bound::Included(e),
                None => return Ok(None),
            },
            Side::Open if bounded && nulls_first => {
                let mut b = prefix.clone();
                b.push(catalog::INDEX_VALUE);
                Bound::Included(b)
            }
            Side::Open if prefix.is_empty() => Bound::Unbounded,
            Side::Open => Bound::Included(prefix.clone()),
        };
        let to = match upper {
            Side::NoMatch => return Ok(None),
            Side::At(b, true) => prefix_end(&b).map_or(Bound::Unbounded, Bound::Excluded),
            Side::At(b, false) => Bound::Excluded(b),
            // An index entry's NULL is a marker above every value's: stop below it.
            Side::Open
                if (bounded && !nulls_first)
                    || (self.not_null && complete && plain && self.index.is_some()) =>
            {
                let mut b = prefix.clone();
                b.push(catalog::INDEX_NULL);
                Bound::Excluded(b)
            }
            Side::Open => prefix_end(&prefix).map_or(Bound::Unbounded, Bound::Excluded),
        };
        Ok(Some((KeyBounds::Range(from, to), exact)))
    }

    /// The conjuncts of `filter` that remain to be checked on the rows this range reads, when
    /// its bounds were `exact`: every conjunct but the key's own terms that the read enforces
    /// exactly (`id BETWEEN $1 AND $1 + 99` on a read of that key range, `customer_id = $1` on
    /// one of that index prefix), which are true of every row read. `None` when none is left
    /// out. The terms are recognised in the filter itself, by the column and the constant
    /// expression the range was built from, so a filter the range was not made from keeps
    /// all its conjuncts.
    pub(crate) fn residual<'f>(
        &self,
        def: &TableDef,
        filter: &'f Expr,
        exact: Exact,
    ) -> Option<Vec<&'f Expr>> {
        if exact.eq == 0 && !exact.lower && !exact.upper {
            return None;
        }
        let cols = self.columns(def);
        let next = cols.get(self.eq.len()).copied();
        let lower = self.lower.as_ref().filter(|_| exact.lower);
        let upper = self.upper.as_ref().filter(|_| exact.upper);
        let is_bound = |b: Option<&(Expr, bool)>, v: &Expr, inclusive: bool| {
            b.is_some_and(|(e, i)| *i == inclusive && same_constant(e, v))
        };
        let enforced = |e: &Expr| -> bool {
            match e {
                Expr::Binary {
                    op, left, right, ..
                } => {
                    let Some((c, op, v)) = column_term(*op, left, right) else {
                        return false;
                    };
                    match op {
                        BinOp::Eq => self.eq.iter().enumerate().any(|(k, e)| {
                            k < 64
                                && exact.eq & (1 << k) != 0
                                && cols[k] == c
                                && same_constant(e, v)
                        }),
                        BinOp::Gt | BinOp::GtEq if next == Some(c) => {
                            is_bound(lower, v, op == BinOp::GtEq)
                        }
                        BinOp::Lt | BinOp::LtEq if next == Some(c) => {
                            is_bound(upper, v, op == BinOp::LtEq)
                        }
                        _ => false,
                    }
                }
                Expr::Between {
                    expr,
                    low,
                    high,
                    negated: false,
                } => {
                    matches!(**expr, Expr::Column(c) if next == Some(c))
                        && is_bound(lower, low, true)
                        && is_bound(upper, high, true)
                }
                _ => false,
            }
        };
        let mut kept = crate::cost::conjuncts(filter);
        let all = kept.len();
        kept.retain(|e| !enforced(e));
        (kept.len() < all).then_some(kept)
    }
}

/// `column op value` written either way round, as (column, operator seen from the column,
/// value): `v < c` is `c > v`. A term comparing two columns is the left one's.
fn column_term<'e>(op: BinOp, left: &'e Expr, right: &'e Expr) -> Option<(usize, BinOp, &'e Expr)> {
    match (left, right) {
        (Expr::Column(c), v) => Some((*c, op, v)),
        (v, Expr::Column(c)) => {
            let op = match op {
                BinOp::Lt => BinOp::Gt,
                BinOp::LtEq => BinOp::GtEq,
                BinOp::Gt => BinOp::Lt,
                BinOp::GtEq => BinOp::LtEq,
                op => op,
            };
            Some((*c, op, v))
        }
        _ => None,
    }
}

/// Which terms of a [`KeyRange`] its evaluated bounds enforce exactly: every row the read
/// yields satisfies them, so the relation's filter need not check them again (see
/// [`KeyRange::residual`]). A term is exact when its value is of its key column's own type
/// (see [`exact_key_part`]) and was encoded whole into the bounds.
#[derive(Clone, Copy, Default)]
pub(crate) struct Exact {
    /// Bit `k`: the equality on the key's column `k`.
    pub(crate) eq: u64,
    /// The one-column lower bound (not a row comparison's).
    pub(crate) lower: bool,
    pub(crate) upper: bool,
}

/// Whether a key range term with value `v` on `col` keeps exactly the rows the term's
/// comparison does: `v` is already of the column's own kind, so [`key_part`] keeps it as it is,
/// and the column's key order and equality are [`Value::compare`]'s. Other pairs (an integer
/// against a float, a string read as a number, bpchar's trailing blanks, numeric's scales)
/// may bound a read more widely than the comparison, and their term is checked row by row.
fn exact_key_part(v: &Value, col: &catalog::Column) -> bool {
    match (v, col.ty) {
        (Value::Int(_), DataType::Int2 | DataType::Int4 | DataType::Int8) => true,
        (Value::Text(_), DataType::Text) => !matches!(col.text_kind, catalog::TextKind::Char(_)),
        (Value::Bool(_), DataType::Bool)
        | (Value::Date(_), DataType::Date)
        | (Value::Timestamp(_), DataType::Timestamp)
        | (Value::TimestampTz(_), DataType::TimestampTz)
        | (Value::Uuid(_), DataType::Uuid)
        | (Value::Bytes(_), DataType::Bytea) => true,
        _ => false,
    }
}

/// Whether two constant expressions of key range terms (see `access_candidates`'s
/// `constant`) are one expression: the same parameters, outer columns, literals, casts,
/// operators and calls. Conservative: anything else is not the same.
fn same_constant(a: &Expr, b: &Expr) -> bool {
    match (a, b) {
        (Expr::Param(a), Expr::Param(b)) => a == b,
        (Expr::Outer { depth, index }, Expr::Outer { depth: d, index: i }) => {
            depth == d && index == i
        }
        (Expr::Literal(a), Expr::Literal(b)) => {
            std::mem::discriminant(a) == std::mem::discriminant(b)
                && !a.is_null()
                && matches!(a.compare(b), Ok(Some(std::cmp::Ordering::Equal)))
        }
        (Expr::Neg(a), Expr::Neg(b)) => same_constant(a, b),
        (Expr::Cast { expr: a, ty }, Expr::Cast { expr: b, ty: t }) => {
            ty == t && same_constant(a, b)
        }
        (
            Expr::Binary {
                op,
                left,
                right,
                ty,
            },
            Expr::Binary {
                op: o,
                left: l,
                right: r,
                ty: t,
            },
        ) => op == o && ty == t && same_constant(left, l) && same_constant(right, r),
        (Expr::Func { name, args }, Expr::Func { name: n, args: a }) => {
            name == n
                && args.len() == a.len()
                && args.iter().zip(a).all(|(x, y)| same_constant(x, y))
        }
        (Expr::ScalarSubquery(a), Expr::ScalarSubquery(b)) => {
            std::sync::Arc::ptr_eq(&a.plan, &b.plan)
        }
        _ => false,
    }
}

/// One side of a key range, evaluated.
enum Side {
    /// Compared with NULL: no row matches.
    NoMatch,
    /// No bound (or one that cannot be a key bound; the filter checks it).
    Open,
    /// (encoded key prefix, inclusive).
    At(Vec<u8>, bool),
}

/// The least byte string above every string that starts with `p`; `None` when there is none
/// (`p` is empty or all 0xFF).
fn prefix_end(p: &[u8]) -> Option<Vec<u8>> {
    let mut v = p.to_vec();
    while let Some(last) = v.last_mut() {
        if *last == 0xFF {
            v.pop();
        } else {
            *last += 1;
            return Some(v);
        }
    }
    None
}

/// A non-NULL value as it must be encoded to be compared with `col`'s keys, following how
/// [`Value::compare`] compares the two: an integer against a float column compares as a float,
/// an untyped string is read as the column's type. `None` when the comparison is not a key
/// comparison (a fractional float against an integer column): such a term cannot narrow the read.
fn key_part(v: Value, col: &catalog::Column) -> Option<Value> {
    // A character(n) column's keys are bpchar keys: a string meets them as a bpchar (an
    // untyped constant resolves to bpchar), its trailing blanks ignored.
    if matches!(col.text_kind, catalog::TextKind::Char(_)) && col.ty == DataType::Text {
        return match v {
            Value::Text(s) | Value::Bpchar(s) => Some(Value::Bpchar(s)),
            _ => None,
        };
    }
    match (v, col.ty) {
        (Value::Int(i), DataType::Int2 | DataType::Int4 | DataType::Int8) => Some(Value::Int(i)),
        (Value::Float4(f), DataType::Float4 | DataType::Float8) => Some(Value::Float(f64::from(f))),
        (Value::Int(i), DataType::Float4) => Some(Value::Float(i as f64)),
        (Value::Float(f), DataType::Float4) => Some(Value::Float(f)),
        (Value::Int(i), DataType::Float8) => Some(Value::Float(i as f64)),
        (Value::Float(f), DataType::Float8) => Some(Value::Float(f)),
        // Integers compare with a float as floats: exact only for integral values below 2^53.
        (Value::Float(f), DataType::Int2 | DataType::Int4 | DataType::Int8)
            if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 =>
        {
            Some(Value::Int(f as i64))
        }
        (Value::Text(s), DataType::Text) => Some(Value::Text(s)),
        (Value::Bool(b), DataType::Bool) => Some(Value::Bool(b)),
        (Value::Timestamp(t), DataType::Timestamp) => Some(Value::Timestamp(t)),
        (Value::Numeric(n), DataType::Numeric) => Some(Value::Numeric(n)),
        (Value::Bytes(b), DataType::Bytea) => Some(Value::Bytes(b)),
        (Value::Uuid(u), DataType::Uuid) => Some(Value::Uuid(u)),
        (
            v @ (Value::Date(_)
            | Value::TimestampTz(_)
            | Value::Time(_)
            | Value::TimeTz(..)
            | Value::Interval(_)),
            ty,
        ) if crate::expr::value_type(&v) == ty => Some(v),
        (Value::Int(i), DataType::Numeric) => {
            Some(Value::Numeric(crate::types::Numeric::from_i64(i)))
        }
        (Value::Text(s), ty) => {
            let ty = if matches!(ty, DataType::Int2 | DataType::Int4) {
                DataType::Int8
            } else {
                ty
            };
            crate::types::parse_text(&s, ty)
                .ok()
                .and_then(|v| key_part(v, col))
                .filter(|v| !matches!(v, Value::Text(_)))
        }
        _ => None,
    }
}

/// An index entry whose row is missing: entries are written with their rows, in the same
/// transaction, so this is a broken invariant reported as corruption.
fn dangling_entry(def: &TableDef, index: Option<usize>) -> SqlError {
    let name = index.map_or_else(|| def.pk_name(), |i| def.indexes[i].name.clone());
    SqlError::Corrupted(format!(
        "index \"{name}\" has an entry for a row that does not exist"
    ))
}

/// Chooses how to read a table for `filter` (a conjunction over the table's own row), by rule:
/// a pinned primary key or unique index (one row) first, then the key with the most leading
/// equalities (primary key before indexes on a tie), then one with a range on its first column,
/// else a full scan. Only `column op constant` terms count, where constant is a literal, a
/// parameter or an outer reference; `BETWEEN` is a range, and a row comparison of columns with
/// constants a bound on the row of the key's columns it names in key order.
#[must_use]
pub fn choose_access(def: &TableDef, filter: Option<&Expr>) -> Access {
    // The first of the best scores: the primary key before indexes on a tie.
    let mut best: Option<((bool, usize, usize), KeyRange)> = None;
    for (score, range) in access_candidates(def, filter) {
        if best.as_ref().is_none_or(|(b, _)| score > *b) {
            best = Some((score, range));
        }
    }
    best.map_or(Access::Full, |(_, r)| Access::Range(r))
}

/// Every key `filter` can narrow a read of `def` through, with its rule score (pinned unique,
/// leading equalities, bounds on the next column); [`choose_access`] takes the best score, the
/// cost-based choice ([`crate::cost::choose_access`]) the cheapest read.
pub(crate) fn access_candidates(
    def: &TableDef,
    filter: Option<&Expr>,
) -> Vec<((bool, usize, usize), KeyRange)> {
    #[derive(Default)]
    struct Terms {
        eq: Vec<(usize, Expr)>,
        lower: Vec<(usize, Expr, bool)>,
        upper: Vec<(usize, Expr, bool)>,
        /// Row comparisons `(c1, c2, …) op (v1, v2, …)` of two or more columns, written with
        /// the columns on the left: (columns, values, op).
        rows: Vec<(Vec<usize>, Vec<Expr>, BinOp)>,
    }
    /// A value the read can compute once, before it starts: no column of the row, nothing
    /// whose value changes per call (`$1 + 99`, `now() - interval '1 day'`, `lower($1)`). The
    /// bound is evaluated at the read's start, as PostgreSQL evaluates an index qual's
    /// comparison value once per scan.
    fn constant(e: &Expr) -> bool {
        match e {
            Expr::Literal(_) | Expr::Param(_) | Expr::Outer { .. } => true,
            // Run once per statement (an InitPlan), before the read starts.
            Expr::ScalarSubquery(q) => !q.correlated,
            Expr::Cast { expr, .. } | Expr::Neg(expr) => constant(expr),
            Expr::Binary { left, right, .. } => constant(left) && constant(right),
            // Not a function with an effect or a changing value: the bound would run it once
            // more than the filter does, or see another value than the filter's.
            Expr::Func { name, args } => same_value_per_call(name) && args.iter().all(constant),
            _ => false,
        }
    }
    fn walk(e: &Expr, t: &mut Terms) {
        match e {
            Expr::Binary {
                op: BinOp::And,
                left,
                right,
                ..
            } => {
                walk(left, t);
                walk(right, t);
            }
            Expr::Binary { op: BinOp::Or, .. } => {
                if let Some(row) = row_bound(e) {
                    t.rows.push(row);
                }
            }
            Expr::Binary {
                op, left, right, ..
            } => {
                let Some((c, op, v)) = column_term(*op, left, right).filter(|t| constant(t.2))
                else {
                    return;
                };
                let v = v.clone();
                match op {
                    BinOp::Eq => t.eq.push((c, v)),
                    BinOp::Gt => t.lower.push((c, v, false)),
                    BinOp::GtEq => t.lower.push((c, v, true)),
                    BinOp::Lt => t.upper.push((c, v, false)),
                    BinOp::LtEq => t.upper.push((c, v, true)),
                    _ => {}
                }
            }
            Expr::Between {
                expr,
                low,
                high,
                negated: false,
            } => {
                if let Expr::Column(c) = &**expr
                    && constant(low)
                    && constant(high)
                {
                    t.lower.push((*c, (**low).clone(), true));
                    t.upper.push((*c, (**high).clone(), true));
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    let Some(f) = filter else {
        return out;
    };
    let mut terms = Terms::default();
    walk(f, &mut terms);
    let mut keys: Vec<(Option<usize>, &[usize], bool)> = Vec::new();
    if !def.pk.is_empty() {
        keys.push((None, &def.pk, true));
    }
    for (i, ix) in def.indexes.iter().enumerate() {
        keys.push((Some(i), &ix.columns, ix.unique));
    }
    for (index, cols, unique) in keys {
        let mut eq = Vec::new();
        for c in cols {
            match terms.eq.iter().find(|(col, _)| col == c) {
                Some((_, v)) => eq.push(v.clone()),
                None => break,
            }
        }
        let pinned = unique && eq.len() == cols.len();
        let (mut lower, mut upper) = (None, None);
        let (mut lower_row, mut upper_row) = (Vec::new(), Vec::new());
        if let Some(next) = cols.get(eq.len()) {
            lower = terms
                .lower
                .iter()
                .find(|(c, ..)| c == next)
                .map(|(_, v, i)| (v.clone(), *i));
            upper = terms
                .upper
                .iter()
                .find(|(c, ..)| c == next)
                .map(|(_, v, i)| (v.clone(), *i));
            // A row comparison over the key's next columns bounds the read from (or to) its
            // row of values; over fewer of them than it names, it bounds the columns it shares
            // with the key, inclusively (`(a, b) > (1, 2)` on a key of `a` alone reads `a >= 1`).
            // It replaces a one-column bound on the same side: it is the narrower.
            for (rc, vals, op) in &terms.rows {
                let shared = rc
                    .iter()
                    .zip(&cols[eq.len()..])
                    .take_while(|(a, b)| a == b)
                    .count();
                if shared == 0 {
                    continue;
                }
                let strict = matches!(op, BinOp::Gt | BinOp::Lt) && shared == rc.len();
                let bound = Some((vals[0].clone(), !strict));
                let row = vals[1..shared].to_vec();
                let (side, side_row) = if matches!(op, BinOp::Gt | BinOp::GtEq) {
                    (&mut lower, &mut lower_row)
                } else {
                    (&mut upper, &mut upper_row)
                };
                if side.is_none() || side_row.len() < row.len() {
                    *side = bound;
                    *side_row = row;
                }
            }
        }
        let bounds = usize::from(lower.is_some()) + usize::from(upper.is_some());
        if eq.is_empty() && bounds == 0 {
            continue;
        }
        out.push((
            (pinned, eq.len(), bounds),
            KeyRange {
                index,
                eq,
                lower,
                upper,
                rows: (!lower_row.is_empty() || !upper_row.is_empty()).then(|| {
                    Box::new(RowBounds {
                        lower: lower_row,
                        upper: upper_row,
                    })
                }),
                index_only: false,
                backward: false,
                not_null: false,
            },
        ));
    }
    out
}

/// `e` as a row comparison of two or more columns with constants (see [`row_comparison`]),
/// written with the columns on the left: (columns, values, op).
fn row_bound(e: &Expr) -> Option<(Vec<usize>, Vec<Expr>, BinOp)> {
    fn constant(e: &Expr) -> bool {
        match e {
            Expr::Literal(_) | Expr::Param(_) | Expr::Outer { .. } => true,
            Expr::Cast { expr, .. } => constant(expr),
            _ => false,
        }
    }
    let (op, left, right) = row_comparison(e)?;
    if left.len() < 2 {
        return None;
    }
    let columns = |side: &[&Expr]| -> Option<Vec<usize>> {
        side.iter()
            .map(|e| match e {
                Expr::Column(c) => Some(*c),
                _ => None,
            })
            .collect()
    };
    let values = |side: &[&Expr]| -> Option<Vec<Expr>> {
        side.iter()
            .map(|e| constant(e).then(|| (*e).clone()))
            .collect()
    };
    if let (Some(c), Some(v)) = (columns(&left), values(&right)) {
        return Some((c, v, op));
    }
    let (c, v) = (columns(&right)?, values(&left)?);
    let op = match op {
        BinOp::Lt => BinOp::Gt,
        BinOp::LtEq => BinOp::GtEq,
        BinOp::Gt => BinOp::Lt,
        _ => BinOp::LtEq,
    };
    Some((c, v, op))
}

/// A row comparison as the binder writes it (`(a, b) > (x, y)` is `a > x OR (a = x AND
/// b > y)`, see the binder's `row_comparison`), taken apart again: (op, left items, right
/// items). A lone `a > x` is a row comparison of one item. Only items that are columns,
/// constants, parameters and outer references (or casts of these) are recognised, as the
/// form repeats them; a condition written out by hand in this form is the same condition,
/// and is recognised too.
pub(crate) fn row_comparison(e: &Expr) -> Option<(BinOp, Vec<&Expr>, Vec<&Expr>)> {
    fn same(a: &Expr, b: &Expr) -> bool {
        match (a, b) {
            (Expr::Column(x), Expr::Column(y)) | (Expr::Param(x), Expr::Param(y)) => x == y,
            (Expr::Literal(x), Expr::Literal(y)) => x == y,
            (
                Expr::Outer {
                    depth: d1,
                    index: i1,
                },
                Expr::Outer {
                    depth: d2,
                    index: i2,
                },
            ) => d1 == d2 && i1 == i2,
            (Expr::Cast { expr: x, ty: t1 }, Expr::Cast { expr: y, ty: t2 }) => {
                t1 == t2 && same(x, y)
            }
            _ => false,
        }
    }
    match e {
        Expr::Binary {
            op: op @ (BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq),
            left,
            right,
            ..
        } => Some((*op, vec![&**left], vec![&**right])),
        Expr::Binary {
            op: BinOp::Or,
            left,
            right,
            ..
        } => {
            let Expr::Binary {
                op: strict @ (BinOp::Lt | BinOp::Gt),
                left: l1,
                right: r1,
                ..
            } = &**left
            else {
                return None;
            };
            let Expr::Binary {
                op: BinOp::And,
                left: equal,
                right: rest,
                ..
            } = &**right
            else {
                return None;
            };
            let Expr::Binary {
                op: BinOp::Eq,
                left: l2,
                right: r2,
                ..
            } = &**equal
            else {
                return None;
            };
            if !same(l1, l2) || !same(r1, r2) {
                return None;
            }
            let (op, mut ls, mut rs) = row_comparison(rest)?;
            let family = match op {
                BinOp::Lt | BinOp::LtEq => BinOp::Lt,
                _ => BinOp::Gt,
            };
            if family != *strict {
                return None;
            }
            ls.insert(0, &**l1);
            rs.insert(0, &**r1);
            Some((op, ls, rs))
        }
        _ => None,
    }
}

pub(crate) fn output_name(item: &ast::Expr) -> String {
    figure_name(item).0
}

/// An expression's column name and how strongly it holds it, as PostgreSQL's
/// `FigureColnameInternal`: 2 for a name of its own (a column, a function, `array`, `case`…),
/// 1 for a type's name (a cast of something nameless), 0 for `?column?`. A cast keeps its
/// operand's name only when that is a name of its own: `ARRAY[1]::text` is `array`, `x::int` is
/// `x`, `'5'::int::text` is `text`.
fn figure_name(item: &ast::Expr) -> (String, u8) {
    let own = |name: &str| (name.to_string(), 2);
    match item {
        ast::Expr::Identifier(id) => (ident_name(id), 2),
        ast::Expr::CompoundIdentifier(parts) => parts
            .last()
            .map_or_else(|| ("?column?".into(), 0), |p| (ident_name(p), 2)),
        ast::Expr::Function(f) => {
            object_name(&f.name).map_or_else(|_| ("?column?".into(), 0), |n| (n, 2))
        }
        ast::Expr::Cast {
            expr, data_type, ..
        } => match figure_name(expr) {
            (name, 2) => (name, 2),
            _ => (cast_label(data_type), 1),
        },
        // `DATE '…'`, `INTERVAL '…'`: named after their type, as a cast is.
        ast::Expr::TypedString(t) => (cast_label(&t.data_type), 1),
        ast::Expr::Interval(_) => ("interval".into(), 1),
        // `(SELECT a …)`: the subquery's column name.
        ast::Expr::Subquery(q) => match q.body.as_ref() {
            ast::SetExpr::Select(s) => match s.projection.first() {
                Some(ast::SelectItem::ExprWithAlias { alias, .. }) => (ident_name(alias), 2),
                Some(ast::SelectItem::UnnamedExpr(e)) => (output_name(e), 2),
                _ => ("?column?".into(), 0),
            },
            _ => ("?column?".into(), 0),
        },
        // `x[1]`, `(ARRAY[…])[1]`: named after what is subscripted.
        ast::Expr::CompoundFieldAccess { root, .. } => figure_name(root),
        ast::Expr::Nested(inner) => figure_name(inner),
        // Named after its ELSE result when that has a name of its own.
        ast::Expr::Case { else_result, .. } => match else_result.as_deref().map(figure_name) {
            Some((name, 2)) => (name, 2),
            _ => ("case".into(), 1),
        },
        // The syntax forms name their column after the function PostgreSQL calls.
        ast::Expr::Ceil { .. } => own("ceil"),
        ast::Expr::Floor { .. } => own("floor"),
        ast::Expr::Extract { .. } => own("extract"),
        ast::Expr::Substring { shorthand, .. } => {
            own(if *shorthand { "substr" } else { "substring" })
        }
        ast::Expr::Overlay { .. } => own("overlay"),
        ast::Expr::Position { .. } => own("position"),
        ast::Expr::Trim { trim_where, .. } => own(match trim_where {
            Some(ast::TrimWhereField::Leading) => "ltrim",
            Some(ast::TrimWhereField::Trailing) => "rtrim",
            _ => "btrim",
        }),
        ast::Expr::AtTimeZone { .. } => own("timezone"),
        ast::Expr::Array(_) => own("array"),
        ast::Expr::Exists { .. } => own("exists"),
        _ => ("?column?".into(), 0),
    }
}

/// The column name of a cast to `data_type` (or a typed literal): PostgreSQL's name of the
/// type, also for the types Borealis holds as another (`varchar` and `char` as text, the
/// `reg*` types as numbers).
fn cast_label(data_type: &ast::DataType) -> String {
    use ast::DataType as A;
    match data_type {
        A::Varchar(_) | A::CharacterVarying(_) => "varchar".into(),
        A::Char(_) | A::Character(_) => "bpchar".into(),
        A::Regclass => "regclass".into(),
        A::Custom(name, _)
            if matches!(
                name.to_string().to_lowercase().as_str(),
                "regtype" | "regproc" | "regnamespace" | "regrole" | "bpchar" | "oid" | "name"
            ) =>
        {
            name.to_string().to_lowercase()
        }
        _ => crate::expr::data_type(data_type)
            .map_or_else(|_| "?column?".into(), |t| pg_type_label(t).into()),
    }
}

fn pg_type_label(t: DataType) -> &'static str {
    match t {
        DataType::Bool => "bool",
        DataType::Int2 => "int2",
        DataType::Int4 => "int4",
        DataType::Float4 => "float4",
        DataType::Int8 => "int8",
        DataType::Float8 => "float8",
        DataType::Text => "text",
        DataType::Timestamp => "timestamp",
        DataType::Numeric => "numeric",
        DataType::Bytea => "bytea",
        DataType::Uuid => "uuid",
        DataType::Date => "date",
        DataType::TimestampTz => "timestamptz",
        DataType::Time => "time",
        DataType::TimeTz => "timetz",
        DataType::Interval => "interval",
        DataType::Json => "json",
        DataType::Jsonb => "jsonb",
        DataType::JsonPath => "jsonpath",
        // A cast to an array type names its column after the element type, as PostgreSQL does.
        DataType::Array(e) => pg_type_label(*e),
        DataType::Record => "record",
    }
}

/// Which row count a LIMIT, FETCH FIRST or OFFSET expression gives, for its errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RowCount {
    /// LIMIT or FETCH FIRST; `with_ties` refuses NULL, which otherwise means no limit.
    Limit {
        with_ties: bool,
    },
    Offset,
}

/// The value of a LIMIT/OFFSET expression (`None`: NULL, no limit), refused when negative
/// (2201W/2201X, as PostgreSQL refuses it when the query starts).
pub(crate) fn constant_usize(
    e: &Expr,
    params: &[Value],
    session: &SessionInfo,
    what: RowCount,
) -> SqlResult<Option<usize>> {
    let cx = EvalContext::new(&[], params, session);
    let negative = || match what {
        RowCount::Limit { .. } => {
            SqlError::InvalidRowCountInLimit("LIMIT must not be negative".into())
        }
        RowCount::Offset => SqlError::InvalidRowCountInOffset,
    };
    let name = match what {
        RowCount::Limit { .. } => "LIMIT",
        RowCount::Offset => "OFFSET",
    };
    let count = match e.eval(&cx)? {
        Value::Null => None,
        Value::Int(i) => Some(i),
        Value::Text(s) => match crate::types::parse_text(&s, DataType::Int8)? {
            Value::Int(i) => Some(i),
            _ => None,
        },
        other => {
            return Err(SqlError::DatatypeMismatch(format!(
                "argument of {name} must be type bigint, not {other:?}"
            )));
        }
    };
    match count {
        None if what == (RowCount::Limit { with_ties: true }) => {
            Err(SqlError::InvalidRowCountInLimit(
                "row count cannot be null in FETCH FIRST ... WITH TIES clause".into(),
            ))
        }
        None => Ok(None),
        Some(i) if i < 0 => Err(negative()),
        Some(i) => Ok(Some(usize::try_from(i).unwrap_or(usize::MAX))),
    }
}

fn sort_spec(key: SortKey, o: &ast::OrderByExpr) -> SortSpec {
    let desc = matches!(o.options.sort, Some(ast::OrderBySort::Desc));
    // PostgreSQL: NULLs sort as larger than everything: last ascending, first descending.
    let nulls_first = o.options.nulls_first.unwrap_or(desc);
    SortSpec {
        key,
        desc,
        nulls_first,
    }
}

/// A bare constant in ORDER BY or GROUP BY, as PostgreSQL's grammar sees one: an integer names
/// an output column by position (`Some(i)`), any other constant (string, float, boolean, NULL,
/// an integer beyond int4) is refused with 42601, and a position outside the select list with
/// 42P10. `None`: not a constant.
fn constant_position(e: &ast::Expr, len: usize, clause: &str) -> SqlResult<Option<usize>> {
    /// A numeric constant as the grammar folds it: parentheses vanish and each minus sign
    /// negates the constant beneath it. (number text, negated)
    fn numeric(e: &ast::Expr) -> Option<(&str, bool)> {
        match e {
            ast::Expr::Nested(inner) => numeric(inner),
            ast::Expr::Value(v) => match &v.value {
                ast::Value::Number(n, _) => Some((n.as_str(), false)),
                _ => None,
            },
            ast::Expr::UnaryOp {
                op: ast::UnaryOperator::Minus,
                expr,
            } => numeric(expr).map(|(n, negated)| (n, !negated)),
            _ => None,
        }
    }
    let mut bare = e;
    while let ast::Expr::Nested(inner) = bare {
        bare = inner;
    }
    let Some((n, negative)) = numeric(bare) else {
        return match bare {
            ast::Expr::Value(v) if !matches!(v.value, ast::Value::Placeholder(_)) => Err(
                SqlError::Syntax(format!("non-integer constant in {clause}")),
            ),
            _ => Ok(None),
        };
    };
    let Ok(i) = n.parse::<i32>() else {
        return Err(SqlError::Syntax(format!(
            "non-integer constant in {clause}"
        )));
    };
    let i = if negative { -i } else { i };
    match usize::try_from(i) {
        Ok(p) if p >= 1 && p <= len => Ok(Some(p - 1)),
        _ => Err(SqlError::InvalidColumnReference(format!(
            "{clause} position {i} is not in select list"
        ))),
    }
}

/// `ORDER BY 2` or `ORDER BY alias` refer to output columns.
fn output_position(
    e: &ast::Expr,
    items: &[(ast::Expr, String)],
    clause: &str,
) -> SqlResult<Option<usize>> {
    if let Some(i) = constant_position(e, items.len(), clause)? {
        return Ok(Some(i));
    }
    match e {
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
    Ok(output_position(e, items, "GROUP BY")?.map(|i| items[i].0.clone()))
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
#[derive(Debug)]
pub(crate) struct Accumulator {
    func: AggFunc,
    ty: DataType,
    distinct: Option<HashSet<Vec<u8>>>,
    count: i64,
    int_sum: i128,
    /// Sum of `numeric` inputs.
    numeric_sum: Option<crate::types::Numeric>,
    /// The numeric inputs summed as an integer count of `10^-scale` and that scale, while the
    /// sum fits in an i128 (see [`Accumulator::add_scaled`]); added to `numeric_sum` for the
    /// result.
    scaled_sum: Option<(i128, u32)>,
    /// Sum of `interval` inputs.
    interval_sum: crate::datetime::Interval,
    float_sum: f64,
    best: Value,
    separator: Option<String>,
    text: String,
    /// `array_agg`'s elements.
    items: Vec<Value>,
    /// With `ORDER BY` in the call: its (descending, NULLs first) per key, and the inputs
    /// with their keys, taken in that order at the end.
    order: Vec<(bool, bool)>,
    ordered: Vec<(Vec<Value>, Value)>,
    /// The state of the statistical, bitwise and ordered-set aggregates.
    more: Option<Box<crate::aggregate::State>>,
}

impl Accumulator {
    pub(crate) fn new(call: &AggCall) -> Self {
        Accumulator {
            func: call.func,
            ty: call.ty,
            distinct: call.distinct.then(HashSet::new),
            count: 0,
            int_sum: 0,
            numeric_sum: None,
            scaled_sum: None,
            interval_sum: crate::datetime::Interval::default(),
            // sum(float8) starts from its first input (so a sum of -0 is -0); -0 is the identity
            // of float addition. avg accumulates from +0 as PostgreSQL's float8_accum does.
            float_sum: if call.func == AggFunc::Sum { -0.0 } else { 0.0 },
            best: Value::Null,
            separator: call.separator.clone(),
            text: String::new(),
            items: Vec::new(),
            order: call.order_by.iter().map(|&(_, d, n)| (d, n)).collect(),
            ordered: Vec::new(),
            more: crate::aggregate::State::new(call.func, call.ty).map(Box::new),
        }
    }

    /// An input of an aggregate with `ORDER BY` in its call, and its sort keys.
    pub(crate) fn add_ordered(&mut self, keys: Vec<Value>, v: Value) {
        self.ordered.push((keys, v));
    }

    /// Takes one input. The most common inputs (`count`, and `sum`/`avg` of integers, without
    /// DISTINCT) are taken here, inlined into the aggregation loop; the rest in
    /// [`Accumulator::add_general`].
    #[inline]
    pub(crate) fn add(&mut self, v: Value) -> SqlResult<()> {
        if self.take_common(&v) {
            return Ok(());
        }
        self.add_general(v)
    }

    /// [`add`](Self::add) of a value the caller keeps (a column of the scanned row): the
    /// common inputs are taken by reference, so the aggregation loop neither copies the
    /// row's value nor drops the copy; only the rest are cloned for
    /// [`Accumulator::add_general`].
    #[inline]
    pub(crate) fn add_ref(&mut self, v: &Value) -> SqlResult<()> {
        if self.take_common(v) {
            return Ok(());
        }
        self.add_ref_rest(v)
    }

    /// [`Accumulator::add_ref`] of the inputs [`Accumulator::take_common`] leaves (out of
    /// line, off the integer path): a numeric sum's, a min or max compared where it lies and
    /// copied only when it is the new best (over the old best's buffer), the rest cloned for
    /// [`Accumulator::add_general`].
    #[inline(never)]
    fn add_ref_rest(&mut self, v: &Value) -> SqlResult<()> {
        if self.take_scaled(v) {
            return Ok(());
        }
        if matches!(self.func, AggFunc::Min | AggFunc::Max)
            && self.distinct.is_none()
            && self.more.is_none()
            && !v.is_null()
        {
            self.count += 1;
            let replace = match self.best.compare(v)? {
                None => true,
                Some(o) => {
                    (self.func == AggFunc::Min && o == Ordering::Greater)
                        || (self.func == AggFunc::Max && o == Ordering::Less)
                }
            };
            if replace {
                assign_value(&mut self.best, v);
            }
            return Ok(());
        }
        self.add_general(v.clone())
    }

    /// Takes `v` if it is a numeric input of `sum` or `avg` (without DISTINCT) that the i128
    /// part of the sum holds (see [`Accumulator::add_scaled`]); whether it did.
    fn take_scaled(&mut self, v: &Value) -> bool {
        if self.distinct.is_none()
            && self.more.is_none()
            && matches!(self.func, AggFunc::Sum | AggFunc::Avg)
            && let Value::Numeric(n) = v
            && let Some(scaled) = n.to_scaled()
            && self.add_scaled(scaled)
        {
            self.count += 1;
            return true;
        }
        false
    }

    /// Adds a numeric input given as `(v, scale)` (see [`Numeric::to_scaled`]) to the sum kept
    /// in an i128, at the larger of the two scales; whether it fit. When it does not, the sum
    /// so far is moved to `numeric_sum` and the input is for the general path: a sum of
    /// numerics allocates nothing per row until it passes 38 digits.
    fn add_scaled(&mut self, (v, scale): (i128, u32)) -> bool {
        let sum = self.scaled_sum.unwrap_or((0, scale));
        match crate::numeric::scaled_sum(sum, (v, scale)) {
            Some(s) => {
                self.scaled_sum = Some(s);
                true
            }
            None => {
                self.spill_scaled();
                false
            }
        }
    }

    /// Moves the i128 part of a numeric sum into `numeric_sum`.
    fn spill_scaled(&mut self) {
        if let Some((v, scale)) = self.scaled_sum.take() {
            let n = Numeric::from_scaled(v, scale);
            self.numeric_sum = Some(match self.numeric_sum.take() {
                None => n,
                // Both finite (a special value is never scaled) and within 38 digits plus
                // what the sum held: the addition cannot fail.
                Some(s) => s.add(&n).unwrap_or(n),
            });
        }
    }

    /// The numeric inputs' sum: `numeric_sum` and the i128 part together.
    fn numeric_total(&self) -> SqlResult<Option<Numeric>> {
        Ok(match (&self.numeric_sum, self.scaled_sum) {
            (s, None) => s.clone(),
            (None, Some((v, scale))) => Some(Numeric::from_scaled(v, scale)),
            (Some(s), Some((v, scale))) => Some(s.add(&Numeric::from_scaled(v, scale))?),
        })
    }

    /// Takes `v` if it is one of the common inputs (`count`, and `sum`/`avg` of integers,
    /// without DISTINCT); whether it did. Reads `v` by reference: a value moved into a match
    /// here would be dropped through the general (out-of-line) drop of [`Value`].
    #[inline]
    fn take_common(&mut self, v: &Value) -> bool {
        if self.distinct.is_some() {
            return false;
        }
        match (self.func, v) {
            (AggFunc::CountStar, _) => self.count += 1,
            (AggFunc::Count | AggFunc::Sum | AggFunc::Avg, Value::Null) => {}
            (AggFunc::Count, _) if self.more.is_none() => self.count += 1,
            (AggFunc::Sum | AggFunc::Avg, Value::Int(i)) if self.more.is_none() => {
                self.count += 1;
                self.int_sum += i128::from(*i);
                self.float_sum += *i as f64;
            }
            _ => return false,
        }
        true
    }

    #[inline(never)]
    fn add_general(&mut self, v: Value) -> SqlResult<()> {
        if self.take_scaled(&v) {
            return Ok(());
        }
        if self.func == AggFunc::CountStar {
            self.count += 1;
            return Ok(());
        }
        if v.is_null() && self.func != AggFunc::ArrayAgg {
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
        if let Some(state) = &mut self.more {
            return state.add(self.func, v);
        }
        match self.func {
            AggFunc::CountStar | AggFunc::Count => {}
            AggFunc::StringAgg => {
                if self.count > 1 {
                    self.text.push_str(self.separator.as_deref().unwrap_or(""));
                }
                match &v {
                    // string_agg takes text: a bpchar casts to it without its padding.
                    Value::Bpchar(s) => self.text.push_str(crate::types::bpchar_trim(s)),
                    v => self.text.push_str(&v.to_text().unwrap_or_default()),
                }
            }
            AggFunc::ArrayAgg
            | AggFunc::JsonAgg
            | AggFunc::JsonbAgg
            | AggFunc::JsonObjectAgg
            | AggFunc::JsonbObjectAgg => self.items.push(v),
            AggFunc::BoolAnd | AggFunc::BoolOr => {
                let b = v == Value::Bool(true);
                let acc = match self.best {
                    Value::Bool(a) if self.func == AggFunc::BoolAnd => a && b,
                    Value::Bool(a) => a || b,
                    _ => b,
                };
                self.best = Value::Bool(acc);
            }
            AggFunc::Sum | AggFunc::Avg => match v {
                Value::Int(i) => {
                    self.int_sum += i128::from(i);
                    self.float_sum += i as f64;
                }
                Value::Float(f) => self.float_sum += f,
                Value::Float4(f) => self.float_sum += f64::from(f),
                Value::Interval(iv) => self.interval_sum = self.interval_sum.checked_add(&iv)?,
                Value::Numeric(n) => {
                    self.numeric_sum = Some(match self.numeric_sum.take() {
                        None => n,
                        Some(s) => s.add(&n)?,
                    });
                }
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
            AggFunc::Spread(_) | AggFunc::Regr(_) | AggFunc::Bit(_) | AggFunc::Ordered(_) => {
                return Err(SqlError::Internal("aggregate without its state".into()));
            }
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

    /// Adds the state of the same aggregate over other rows of the group (a parallel part's):
    /// for the aggregates [`Executor::parallel_parts`] allows.
    fn merge(&mut self, other: Accumulator) -> SqlResult<()> {
        match self.func {
            AggFunc::CountStar | AggFunc::Count => {}
            AggFunc::Sum | AggFunc::Avg => {
                self.int_sum += other.int_sum;
                // sum(float8) starts both parts at -0, the identity of float addition.
                self.float_sum += other.float_sum;
                self.interval_sum = self.interval_sum.checked_add(&other.interval_sum)?;
                let others = other.numeric_total()?;
                self.spill_scaled();
                self.numeric_sum = match (self.numeric_sum.take(), others) {
                    (Some(a), Some(b)) => Some(a.add(&b)?),
                    (a, b) => a.or(b),
                };
            }
            AggFunc::Min | AggFunc::Max | AggFunc::BoolAnd | AggFunc::BoolOr => {
                if other.count > 0 {
                    // `add` counts the input: the counts are summed below instead.
                    let count = self.count;
                    self.add(other.best)?;
                    self.count = count;
                }
            }
            _ => {
                return Err(SqlError::Internal(
                    "a partial state of this aggregate cannot be merged".into(),
                ));
            }
        }
        self.count += other.count;
        Ok(())
    }

    fn finish(mut self) -> SqlResult<Value> {
        if !self.order.is_empty() {
            // The inputs in the call's order (stable: ties keep their input order).
            let mut inputs = std::mem::take(&mut self.ordered);
            let specs: Vec<SortSpec> = self
                .order
                .iter()
                .map(|&(desc, nulls_first)| SortSpec {
                    key: SortKey::Output(0),
                    desc,
                    nulls_first,
                })
                .collect();
            inputs.sort_by(|a, b| compare_keys(&a.0, &b.0, &specs));
            for (_, v) in inputs {
                self.add(v)?;
            }
        }
        self.current()
    }

    /// The aggregate's value over the inputs added so far; more may be added after (a window
    /// aggregate reads its running value once per frame).
    pub(crate) fn current(&self) -> SqlResult<Value> {
        if let Some(state) = &self.more {
            return state.current(self.func, self.ty);
        }
        Ok(match self.func {
            AggFunc::CountStar | AggFunc::Count => Value::Int(self.count),
            _ if self.count == 0 => Value::Null,
            AggFunc::Sum if self.ty == DataType::Int8 => Value::Int(
                i64::try_from(self.int_sum)
                    .map_err(|_| SqlError::NumericOutOfRange("bigint".into()))?,
            ),
            AggFunc::Sum | AggFunc::Avg if self.ty == DataType::Numeric => {
                crate::types::numeric_sum_avg(
                    self.func == AggFunc::Avg,
                    self.numeric_total()?,
                    self.int_sum,
                    self.count,
                )?
            }
            AggFunc::Sum if self.ty == DataType::Interval => Value::Interval(self.interval_sum),
            AggFunc::Avg if self.ty == DataType::Interval => Value::Interval(
                crate::datetime::interval_div(&self.interval_sum, self.count as f64)?,
            ),
            AggFunc::Sum if self.ty == DataType::Float4 => {
                Value::Float4(crate::types::float4_of(self.float_sum)?)
            }
            AggFunc::Sum => Value::Float(self.float_sum),
            AggFunc::Avg => Value::Float(self.float_sum / self.count as f64),
            AggFunc::Min | AggFunc::Max => self.best.clone(),
            AggFunc::StringAgg => Value::Text(self.text.clone()),
            AggFunc::ArrayAgg if self.items.is_empty() => Value::Null,
            // DISTINCT inputs come out in the type's order, as PostgreSQL sorts them to drop
            // the duplicates.
            AggFunc::ArrayAgg if self.distinct.is_some() && self.order.is_empty() => {
                let mut items = self.items.clone();
                items.sort_by(Value::sort_cmp);
                Value::Array(items)
            }
            AggFunc::ArrayAgg => Value::Array(self.items.clone()),
            AggFunc::BoolAnd | AggFunc::BoolOr => self.best.clone(),
            AggFunc::Spread(_) | AggFunc::Regr(_) | AggFunc::Bit(_) | AggFunc::Ordered(_) => {
                return Err(SqlError::Internal("aggregate without its state".into()));
            }
            AggFunc::JsonAgg
            | AggFunc::JsonbAgg
            | AggFunc::JsonObjectAgg
            | AggFunc::JsonbObjectAgg => {
                crate::json::finish_aggregate(self.func, &self.items, self.distinct.is_some())?
            }
        })
    }
}

/// The other relations of `UPDATE … FROM` and `DELETE … USING`, planned against one target
/// row at a time.
///
/// WHERE is split into conjuncts: those over the target alone filter (and choose the access
/// path of) the target's scan; the rest become the WHERE of `SELECT * FROM <other relations>`,
/// a subquery correlated with the target row (the target's columns are its outer references).
/// A target row is updated or deleted when that subquery returns a row, and an UPDATE computes
/// the new row (and RETURNING) from the first such row, as PostgreSQL uses one unspecified
/// partner. The subquery runs once per target row that passes the target's own conjuncts, or
/// once in all when it does not refer to the target (its rows are then cached): a join
/// condition costs a run of the other relations' plan per target row.
pub struct DmlJoin {
    /// Conjuncts over the target alone, over the target's row.
    pub target_filter: Option<Expr>,
    /// The other relations, filtered by the remaining conjuncts.
    pub sources: Subquery,
    /// Their columns, in the order of the subquery's output.
    pub scope: Vec<ScopeColumn>,
}

impl Planner<'_> {
    /// Binds the relations of `UPDATE … FROM` / `DELETE … USING` with the statement's WHERE
    /// (see [`DmlJoin`]); `target` is the scope of the target table.
    pub fn bind_dml_join(
        &self,
        from: &[ast::TableWithJoins],
        selection: Option<&ast::Expr>,
        target: &[ScopeColumn],
        params: &mut Vec<Option<DataType>>,
    ) -> SqlResult<DmlJoin> {
        // The other relations' columns, in the order `SELECT *` lists them.
        let mut relations = Vec::new();
        let mut scope: Vec<ScopeColumn> = Vec::new();
        let mut depth = 0;
        for twj in from {
            self.add_relation(
                &twj.relation,
                params,
                &[],
                &mut relations,
                &mut scope,
                &mut depth,
            )?;
            for j in &twj.joins {
                self.add_relation(
                    &j.relation,
                    params,
                    &[],
                    &mut relations,
                    &mut scope,
                    &mut depth,
                )?;
            }
        }
        if let Some(t) = target.first().and_then(|c| c.table.clone())
            && scope.iter().any(|c| c.table.as_deref() == Some(t.as_str()))
        {
            return Err(SqlError::DuplicateAlias(t));
        }
        fn conjuncts<'e>(e: &'e ast::Expr, out: &mut Vec<&'e ast::Expr>) {
            match e {
                ast::Expr::BinaryOp {
                    left,
                    op: ast::BinaryOperator::And,
                    right,
                } => {
                    conjuncts(left, out);
                    conjuncts(right, out);
                }
                ast::Expr::Nested(inner)
                    if matches!(
                        **inner,
                        ast::Expr::BinaryOp {
                            op: ast::BinaryOperator::And,
                            ..
                        }
                    ) =>
                {
                    conjuncts(inner, out)
                }
                other => out.push(other),
            }
        }
        let mut all = Vec::new();
        if let Some(w) = selection {
            conjuncts(w, &mut all);
        }
        // The WHERE clause sees the target and the other relations as one level, as
        // PostgreSQL's does: a name both have is ambiguous, even though the conjunct is then
        // bound with the target as the enclosing scope.
        let mut both: Vec<ScopeColumn> = target.to_vec();
        both.extend(scope.iter().map(|c| {
            let mut c = c.clone();
            for p in &mut c.merged {
                *p += target.len();
            }
            c
        }));
        for c in &all {
            let mut probe_params = params.clone();
            let mut probe = Binder::new(&both, &mut probe_params);
            probe.planner = Some(self);
            if let Err(e @ SqlError::AmbiguousColumn(_)) =
                probe.bind(c, &mut AggMode::Forbidden("WHERE"))
            {
                return Err(e);
            }
        }
        let mut target_filter = Vec::new();
        let mut rest = Vec::new();
        for c in all {
            // A conjunct that binds over the target alone (no other relation's column) filters
            // the target's scan.
            let mut probe_params = params.clone();
            let mut probe = Binder::new(target, &mut probe_params);
            probe.planner = Some(self);
            if probe.bind(c, &mut AggMode::Forbidden("WHERE")).is_ok() {
                let mut binder = Binder::new(target, params);
                binder.planner = Some(self);
                let f = binder.bind(c, &mut AggMode::Forbidden("WHERE"))?;
                check_boolean(&binder, &f, "WHERE")?;
                target_filter.push(f);
            } else {
                rest.push(format!("({c})"));
            }
        }
        let items: Vec<String> = from.iter().map(ToString::to_string).collect();
        let mut sql = format!("SELECT * FROM {}", items.join(", "));
        if !rest.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&rest.join(" AND "));
        }
        let dialect = sqlparser::dialect::PostgreSqlDialect {};
        let query = match sqlparser::parser::Parser::parse_sql(&dialect, &sql)
            .map_err(|e| SqlError::Syntax(e.to_string()))?
            .pop()
        {
            Some(ast::Statement::Query(q)) => q,
            _ => return Err(SqlError::Internal("FROM list is not a query".into())),
        };
        let (plan, depth) = self.bind_subquery(&query, params, &[target])?;
        Ok(DmlJoin {
            target_filter: and_all(target_filter),
            sources: Subquery {
                plan: std::sync::Arc::new(plan),
                correlated: depth >= 1,
            },
            scope,
        })
    }
}

/// A `SELECT … FOR UPDATE / FOR NO KEY UPDATE / FOR SHARE / FOR KEY SHARE [NOWAIT | SKIP LOCKED]`
/// over one table, planned for PostgreSQL's `LockRows` placement: above the scan, the filter and
/// the sort, below OFFSET/LIMIT. The session locks the candidate rows one by one, in output
/// order, until LIMIT rows are locked (so `LIMIT 1 FOR UPDATE SKIP LOCKED` locks one row, and
/// consumers of a queue get disjoint rows).
///
/// The engine has two lock strengths: FOR UPDATE and FOR NO KEY UPDATE take `Update`, FOR SHARE
/// and FOR KEY SHARE take `Share`. That is never weaker than PostgreSQL (whose KEY SHARE does
/// not conflict with a NO KEY UPDATE), only sometimes more blocking.
pub struct LockingQuery {
    pub plan: QueryPlan,
    pub def: TableDef,
    pub mode: borealis_engine::LockMode,
    pub wait: borealis_engine::LockWait,
}

/// A row a locking query may return: its key, its stored row, and its output.
pub struct LockCandidate {
    pub key: Vec<u8>,
    pub row: Vec<Value>,
    pub output: Vec<Value>,
}

impl Planner<'_> {
    /// Binds a top-level query that has locking clauses. Refuses (0A000) joins, aggregates,
    /// DISTINCT, set operations and non-table sources, as PostgreSQL refuses most of them.
    pub fn bind_locking(
        &self,
        q: &ast::Query,
        params: &mut Vec<Option<DataType>>,
    ) -> SqlResult<LockingQuery> {
        use borealis_engine::{LockMode, LockWait};
        let mut mode = LockMode::Share;
        let mut wait = LockWait::Block;
        for l in &q.locks {
            if l.lock_type == ast::LockType::Update {
                mode = LockMode::Update;
            }
            // PostgreSQL: NOWAIT wins over SKIP LOCKED, which wins over waiting.
            match l.nonblock {
                Some(ast::NonBlock::Nowait) => wait = LockWait::NoWait,
                Some(ast::NonBlock::SkipLocked) if wait == LockWait::Block => {
                    wait = LockWait::SkipLocked;
                }
                _ => {}
            }
        }
        let mut stripped = q.clone();
        stripped.locks.clear();
        let mut plan = self.bind(&stripped, params, &[])?.0;
        // A locked row is the table's row: never read from an index's keys alone.
        if let Body::Select(s) = &mut plan.body {
            for rel in &mut s.from.relations {
                if let Access::Range(r) = &mut rel.access {
                    r.index_only = false;
                }
            }
        }
        let refuse = |what: &str| {
            Err(SqlError::FeatureNotSupported(format!(
                "FOR UPDATE/SHARE is not allowed with {what}"
            )))
        };
        let Body::Select(s) = &plan.body else {
            return refuse("UNION/INTERSECT/EXCEPT");
        };
        if s.aggregate.is_some() {
            return refuse("aggregate functions or GROUP BY");
        }
        if s.distinct || !s.distinct_on.is_empty() {
            return refuse("DISTINCT clause");
        }
        if !s.windows.calls.is_empty() {
            return refuse("window functions");
        }
        if s.from.relations.len() != 1 {
            return refuse("joins (lock one table per query)");
        }
        let rel = &s.from.relations[0];
        let Source::Table(def) = &rel.source else {
            return refuse("a non-table source");
        };
        if rel.offset != 0 || rel.width != s.from.width || rel.lateral {
            return refuse("this FROM clause");
        }
        let def = def.clone();
        Ok(LockingQuery {
            plan,
            def,
            mode,
            wait,
        })
    }
}

impl Executor<'_> {
    fn locking_select<'p>(&self, lq: &'p LockingQuery) -> SqlResult<&'p SelectPlan> {
        match &lq.plan.body {
            Body::Select(s) if s.srfs.is_empty() => Ok(s),
            Body::Select(_) => Err(SqlError::NotSupported(
                "FOR UPDATE is not allowed with set-returning functions in the target list".into(),
            )),
            _ => Err(SqlError::Internal("locking query is not a SELECT".into())),
        }
    }

    /// Whether a (re-read) row still passes every condition of the locking query's WHERE.
    pub fn locking_passes(&self, lq: &LockingQuery, row: &[Value]) -> SqlResult<bool> {
        let s = self.locking_select(lq)?;
        let cx = self.cx(row, None);
        let rel = &s.from.relations[0];
        let step_filters = s.from.steps.iter().filter_map(|st| st.filter.as_ref());
        for f in rel
            .filter
            .iter()
            .chain(step_filters)
            .chain(s.from.residual.iter())
        {
            if f.eval(&cx)? != Value::Bool(true) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The output row of a stored row.
    pub fn locking_output(&self, lq: &LockingQuery, row: &[Value]) -> SqlResult<Vec<Value>> {
        let s = self.locking_select(lq)?;
        let cx = self.cx(row, None);
        s.projections.iter().map(|p| p.eval(&cx)).collect()
    }

    /// The rows the query's snapshot sees that pass its WHERE, in ORDER BY order, with keys.
    pub fn locking_candidates(&self, lq: &LockingQuery) -> SqlResult<Vec<LockCandidate>> {
        let s = self.locking_select(lq)?;
        let rel = &s.from.relations[0];
        let mut found = Vec::new();
        matching_rows(
            self,
            &lq.def,
            rel.filter.as_ref(),
            &rel.access,
            None,
            None,
            |k, row| {
                found.push((k, row));
                Ok(())
            },
        )?;
        let mut out = Vec::with_capacity(found.len());
        let mut keyed = Vec::with_capacity(found.len());
        for (key, row) in found {
            if !self.locking_passes(lq, &row)? {
                continue;
            }
            let output = self.locking_output(lq, &row)?;
            let cx = self.cx(&row, None);
            let mut sort = Vec::with_capacity(lq.plan.order_by.len());
            for spec in &lq.plan.order_by {
                sort.push(match &spec.key {
                    SortKey::Output(i) => output.get(*i).cloned().unwrap_or(Value::Null),
                    SortKey::Expr(e) => e.eval(&cx)?,
                });
            }
            // Sort (index, keys) pairs, then pick the candidates in that order.
            keyed.push((Vec::from([Value::Int(out.len() as i64)]), sort));
            out.push(Some(LockCandidate { key, row, output }));
        }
        if !lq.plan.order_by.is_empty() {
            sort_rows(&mut keyed, &lq.plan.order_by);
        }
        let mut sorted = Vec::with_capacity(out.len());
        for (idx, _) in keyed {
            if let Some(Value::Int(i)) = idx.first()
                && let Some(c) = out.get_mut(*i as usize).and_then(Option::take)
            {
                sorted.push(c);
            }
        }
        Ok(sorted)
    }

    /// The query's LIMIT (`None`: none) and OFFSET.
    pub fn limit_offset(&self, plan: &QueryPlan) -> SqlResult<(Option<usize>, usize)> {
        let limit = match &plan.limit {
            Some(e) => constant_usize(
                e,
                self.params,
                self.session,
                RowCount::Limit {
                    with_ties: plan.with_ties,
                },
            )?,
            None => None,
        };
        let offset = match &plan.offset {
            Some(e) => constant_usize(e, self.params, self.session, RowCount::Offset)?.unwrap_or(0),
            None => 0,
        };
        Ok((limit, offset))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Session;
    use crate::test_support::{run, session};

    fn bin(op: BinOp, left: Expr, right: Expr) -> Expr {
        Expr::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
            ty: DataType::Bool,
        }
    }

    fn int(i: i64) -> Expr {
        Expr::Literal(Value::Int(i))
    }

    /// `l1 strict r1 OR (l1 = r1 AND last)`, the binder's form of a row comparison.
    fn step(strict: BinOp, l: Expr, r: Expr, last: Expr) -> Expr {
        let first = bin(strict, l.clone(), r.clone());
        bin(
            BinOp::Or,
            first,
            bin(BinOp::And, bin(BinOp::Eq, l, r), last),
        )
    }

    /// Column names as PostgreSQL 15 gives them (checked there): a cast keeps its operand's
    /// own name (`array`, `exists`, a column's), else takes its type's; a CASE takes its ELSE's.
    #[test]
    fn column_names_follow_figure_colname() {
        let mut s = session();
        run(
            &mut s,
            "create table nm as select ARRAY[1]::text, (ARRAY[1])[1]::int8 as e, \
             exists(select 1)::int, '5'::int::int2, (1)::float8, a::text, \
             extract(year from date '2020-01-01')::int, case when true then 1 end::numeric, \
             case when true then 1 else b end, case when true then 1 else b end::text as c, \
             INTERVAL '1 day'::text as i, (select 1 as q)::text \
             from (select 1 as a, 2 as b) s",
        );
        let names: Vec<String> = run(
            &mut s,
            "select attname from pg_attribute where attrelid = 'nm'::regclass and attnum > 0 \
             order by attnum",
        )
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
        assert_eq!(
            names,
            [
                "array", "e", "exists", "int2", "float8", "a", "extract", "numeric", "b", "c", "i",
                "q"
            ]
        );
    }

    #[test]
    fn lift_outer_moves_enclosing_references_one_level_nearer() {
        let mut e = bin(
            BinOp::Add,
            Expr::Outer { depth: 1, index: 3 },
            Expr::Outer { depth: 2, index: 0 },
        );
        assert!(e.lift_outer());
        let Expr::Binary { left, right, .. } = &e else {
            panic!("{e:?}");
        };
        assert!(matches!(**left, Expr::Column(3)), "{e:?}");
        assert!(
            matches!(**right, Expr::Outer { depth: 1, index: 0 }),
            "{e:?}"
        );
        // The subquery's own row has no place in the enclosing one.
        let mut own = bin(
            BinOp::Add,
            Expr::Column(0),
            Expr::Outer { depth: 1, index: 1 },
        );
        assert!(!own.lift_outer());
        assert!(self_contained(&bin(BinOp::Eq, Expr::Column(0), int(1))));
        assert!(!self_contained(&bin(
            BinOp::Eq,
            Expr::Column(0),
            Expr::Outer { depth: 1, index: 0 }
        )));
    }

    #[test]
    fn row_comparisons_are_found_in_the_binders_form() {
        // (c0, c1) >= (1, 2)
        let e = step(
            BinOp::Gt,
            Expr::Column(0),
            int(1),
            bin(BinOp::GtEq, Expr::Column(1), int(2)),
        );
        let (cols, vals, op) = row_bound(&e).unwrap();
        assert_eq!((cols, op), (vec![0, 1], BinOp::GtEq));
        assert!(matches!(
            vals[..],
            [Expr::Literal(Value::Int(1)), Expr::Literal(Value::Int(2))]
        ));
        // (1, $1) < (c2, c0): columns on the right, the operator turned round.
        let e = step(
            BinOp::Lt,
            int(1),
            Expr::Column(2),
            bin(BinOp::Lt, Expr::Param(0), Expr::Column(0)),
        );
        let (cols, _, op) = row_bound(&e).unwrap();
        assert_eq!((cols, op), (vec![2, 0], BinOp::Gt));
        // The equality repeats another pair, or the directions differ: no row comparison.
        let other = bin(
            BinOp::Or,
            bin(BinOp::Gt, Expr::Column(0), int(1)),
            bin(
                BinOp::And,
                bin(BinOp::Eq, Expr::Column(0), int(3)),
                bin(BinOp::Gt, Expr::Column(1), int(2)),
            ),
        );
        assert!(row_bound(&other).is_none());
        let mixed = step(
            BinOp::Gt,
            Expr::Column(0),
            int(1),
            bin(BinOp::Lt, Expr::Column(1), int(2)),
        );
        assert!(row_bound(&mixed).is_none());
        // A column on each side, or an expression for a value: no key bound.
        let sides = step(
            BinOp::Gt,
            Expr::Column(0),
            int(1),
            bin(BinOp::Gt, int(2), Expr::Column(1)),
        );
        assert!(row_bound(&sides).is_none());
        let computed = step(
            BinOp::Gt,
            Expr::Column(0),
            int(1),
            bin(BinOp::Gt, Expr::Column(1), Expr::Column(2)),
        );
        assert!(row_bound(&computed).is_none());
        // One comparison alone is a row of one: a plain bound, not a row bound.
        assert!(row_bound(&bin(BinOp::Gt, Expr::Column(0), int(1))).is_none());
    }

    fn fails(s: &mut Session, sql: &str) -> SqlError {
        let stmt = crate::parse(sql).unwrap().pop().unwrap();
        s.execute(&stmt, &[]).unwrap_err()
    }

    #[test]
    fn negative_row_counts_are_refused_and_with_ties_refuses_null() {
        let mut s = session();
        run(
            &mut s,
            "CREATE TABLE r (v int); INSERT INTO r VALUES (1), (1), (2)",
        );
        assert!(matches!(
            fails(&mut s, "SELECT v FROM r LIMIT -1"),
            SqlError::InvalidRowCountInLimit(m) if m == "LIMIT must not be negative"
        ));
        assert!(matches!(
            fails(
                &mut s,
                "SELECT v FROM r ORDER BY v FETCH FIRST -2 ROWS ONLY"
            ),
            SqlError::InvalidRowCountInLimit(_)
        ));
        assert!(matches!(
            fails(&mut s, "SELECT v FROM r OFFSET -1 ROWS"),
            SqlError::InvalidRowCountInOffset
        ));
        assert!(matches!(
            fails(&mut s, "SELECT v FROM r ORDER BY v FETCH FIRST NULL ROWS WITH TIES"),
            SqlError::InvalidRowCountInLimit(m) if m.contains("WITH TIES")
        ));
        assert_eq!(
            run(
                &mut s,
                "SELECT v FROM r ORDER BY v FETCH FIRST 1 ROW WITH TIES"
            ),
            rows(&[&["1"], &["1"]])
        );
        assert_eq!(
            run(
                &mut s,
                "SELECT v FROM r ORDER BY v FETCH FIRST NULL ROWS ONLY"
            )
            .len(),
            3
        );
    }

    #[test]
    fn bpchar_meets_declared_text_as_text() {
        let mut s = session();
        run(
            &mut s,
            "CREATE TABLE bt (c char(4), t text, v varchar(4));
             INSERT INTO bt VALUES ('ab', 'ab ', 'ab ')",
        );
        // text: the bpchar loses its blanks, the text keeps its own.
        assert_eq!(
            run(
                &mut s,
                "SELECT c = t, t = c, c = 'ab '::text, c = rtrim(t) FROM bt"
            ),
            rows(&[&["f", "f", "f", "t"]])
        );
        // An untyped string or a varchar compares as a bpchar: blanks never count.
        assert_eq!(
            run(
                &mut s,
                "SELECT c = 'ab ', c = v, c = 'ab '::varchar FROM bt"
            ),
            rows(&[&["t", "t", "t"]])
        );
    }

    #[test]
    fn dialect_forms_run() {
        let mut s = session();
        run(
            &mut s,
            "CREATE TABLE w (id int, v int); INSERT INTO w VALUES (1, 1), (2, 2), (3, 2), (4, 3)",
        );
        assert_eq!(
            run(
                &mut s,
                "SELECT id, sum(v) OVER (ORDER BY v ROWS BETWEEN UNBOUNDED PRECEDING \
                 AND UNBOUNDED FOLLOWING EXCLUDE TIES), v BETWEEN SYMMETRIC 3 AND 2, \
                 trim(both from ' x ') FROM w ORDER BY id"
            ),
            rows(&[
                &["1", "8", "f", "x"],
                &["2", "6", "t", "x"],
                &["3", "6", "t", "x"],
                &["4", "8", "t", "x"],
            ])
        );
        assert_eq!(
            run(&mut s, "SELECT w.*::text FROM w WHERE id = 1"),
            rows(&[&["(1,1)"]])
        );
    }

    fn rows(spec: &[&[&str]]) -> Vec<Vec<String>> {
        spec.iter()
            .map(|r| r.iter().map(|v| (*v).to_string()).collect())
            .collect()
    }

    fn setup(s: &mut Session) {
        run(
            s,
            "CREATE TABLE a (id int PRIMARY KEY, b int, x varchar(10));
             CREATE TABLE b (id int PRIMARY KEY, c int);
             CREATE TABLE c (id int PRIMARY KEY, name text);
             INSERT INTO a VALUES (1, 10, 'one'), (2, 20, 'two'), (3, NULL, 'three');
             INSERT INTO b VALUES (10, 100), (20, 200), (30, 300);
             INSERT INTO c VALUES (100, 'hundred'), (200, 'two hundred');",
        );
    }

    /// UNION / INTERSECT / EXCEPT [ALL], derived tables and window functions give the same
    /// answers whether their inputs fit in `work_mem` or not, and the set operations and the
    /// window input spill beyond it (EXPLAIN ANALYZE says so).
    #[test]
    fn set_operations_derived_tables_and_windows_answer_the_same_beyond_work_mem() {
        let mut s = session();
        run(
            &mut s,
            "CREATE TABLE m1 (id int PRIMARY KEY, k int, t text);
             INSERT INTO m1 SELECT g, CASE WHEN g % 97 = 0 THEN NULL ELSE g % 3000 END,
                 'v' || (g % 11) FROM generate_series(1, 12000) g;
             CREATE TABLE m2 (id int PRIMARY KEY, k int);
             INSERT INTO m2 SELECT g, g % 4000 FROM generate_series(1, 8000) g",
        );
        let queries = [
            "SELECT k, t FROM m1 UNION SELECT k, 'v1' FROM m2 ORDER BY 1 NULLS FIRST, 2",
            "SELECT count(*), sum(k) FROM (SELECT k FROM m1 UNION ALL SELECT k FROM m2) u",
            "SELECT k FROM m1 INTERSECT SELECT k FROM m2 ORDER BY 1",
            "SELECT k FROM m1 INTERSECT ALL SELECT k FROM m2 ORDER BY 1",
            "SELECT k, t FROM m1 EXCEPT SELECT k, 'v3' FROM m2 ORDER BY 1 NULLS FIRST, 2",
            "SELECT k FROM m1 EXCEPT ALL SELECT k FROM m2 ORDER BY 1 NULLS FIRST",
            "SELECT id FROM m1 UNION SELECT id + 6000 FROM m2 ORDER BY 1 LIMIT 5 OFFSET 13990",
            "SELECT count(*), sum(d.id) FROM (SELECT id, k FROM m1 WHERE k > 10) d
                 JOIN (SELECT k, id FROM m2) e ON d.k = e.k",
            "SELECT * FROM (SELECT id, t FROM m1 ORDER BY t, id) d WHERE id % 7 = 0 LIMIT 4",
            "WITH c AS (SELECT k, count(*) AS n FROM m1 GROUP BY k)
                 SELECT count(*), sum(a.n) FROM c a JOIN c b ON a.k = b.k + 1",
            "SELECT id, k, row_number() OVER (PARTITION BY t ORDER BY id),
                 sum(k) OVER (PARTITION BY t ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)
                 FROM m1 ORDER BY id",
            "SELECT id, rank() OVER (ORDER BY k NULLS FIRST), lag(id) OVER (ORDER BY k NULLS FIRST)
                 FROM m1 ORDER BY id",
            "SELECT id, count(*) OVER (PARTITION BY k % 5), max(id) OVER (PARTITION BY t)
                 FROM m1 ORDER BY id",
            // A LIMIT past a streamed derived table stops it after exactly the rows wanted.
            "SELECT count(*) FROM (SELECT d.id FROM (SELECT id, k FROM m1) d
                 JOIN m2 ON d.k = m2.k LIMIT 3) x",
            "SELECT count(*) FROM (SELECT d.id FROM (SELECT id FROM m1 WHERE id > 5) d,
                 (SELECT 1) e LIMIT 5) x",
        ];
        let answers = |s: &mut Session, work_mem: &str| -> Vec<Vec<Vec<String>>> {
            run(s, &format!("SET work_mem = '{work_mem}'"));
            queries.iter().map(|q| run(s, q)).collect()
        };
        let large = answers(&mut s, "64MB");
        let small = answers(&mut s, "64kB");
        for ((q, l), m) in queries.iter().zip(&large).zip(&small) {
            assert!(!l.is_empty(), "{q}");
            assert!(
                l == m,
                "{q}: {} rows in memory, {} spilled",
                l.len(),
                m.len()
            );
        }
        assert_eq!(large[1], rows(&[&["20000", "33808278"]]));
        assert_eq!(large[6].len(), 5);
        assert_eq!(large[10].len(), 12000);
        assert_eq!(
            (&large[13], &large[14]),
            (&rows(&[&["3"]]), &rows(&[&["5"]]))
        );

        let explain = |s: &mut Session, q: &str| -> String {
            run(
                s,
                &format!("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {q}"),
            )
            .into_iter()
            .map(|r| r.join(""))
            .collect::<Vec<_>>()
            .join("\n")
        };
        let union = "SELECT k, t FROM m1 UNION SELECT k, 'v1' FROM m2";
        let window = "SELECT k, row_number() OVER (PARTITION BY t ORDER BY id DESC) FROM m1";
        run(&mut s, "SET work_mem = '64kB'");
        let plan = explain(&mut s, union);
        assert!(plan.contains("Disk Usage: "), "{plan}");
        let plan = explain(&mut s, window);
        assert!(
            plan.starts_with(
                "WindowAgg (actual rows=12000 loops=1)\n  ->  Sort (actual rows=12000 loops=1)\n        \
                 Sort Key: t, id DESC\n        Sort Method: external merge  Disk: "
            ),
            "{plan}"
        );
        run(&mut s, "SET work_mem = '64MB'");
        let plan = explain(&mut s, union);
        assert!(
            plan.contains("Batches: 1  Memory Usage: ") && !plan.contains("Disk"),
            "{plan}"
        );
        let plan = explain(&mut s, window);
        assert!(plan.contains("Sort Method: quicksort  Memory: "), "{plan}");
    }

    /// DISTINCT ON (off the spilling sort), recursive CTEs (their work tables), merge joins
    /// (both sides through the spilling sort), nested loops over a derived table, LATERAL
    /// subqueries and the rows between pipelines of a long FROM clause answer the same whether
    /// their rows fit in `work_mem` or not, and past it they spill to temporary files.
    #[test]
    fn distinct_on_recursion_merge_and_nested_loops_answer_the_same_beyond_work_mem() {
        let mut s = session();
        run(
            &mut s,
            "CREATE TABLE r1 (id int PRIMARY KEY, k int, t text);
             INSERT INTO r1 SELECT g, CASE WHEN g % 97 = 0 THEN NULL ELSE g % 3000 END,
                 'v' || (g % 11) FROM generate_series(1, 12000) g;
             CREATE TABLE r2 (id int PRIMARY KEY, k int, u text);
             INSERT INTO r2 SELECT g, CASE WHEN g % 89 = 0 THEN NULL ELSE g % 4000 END,
                 'w' || g FROM generate_series(1, 8000) g;
             CREATE TABLE r3 (id int PRIMARY KEY, k int, pad text);
             INSERT INTO r3 SELECT g, g % 2, repeat('p', 100) FROM generate_series(1, 3000) g",
        );
        let many = |q: &str| format!("SELECT count(*), sum(length(x::text)) FROM ({q}) x");
        // (query, whether it spills at 64kB); answers are small, so that the statement's own
        // result never needs a file.
        let queries: Vec<(String, bool)> = vec![
            (
                "SELECT DISTINCT ON (k) k, id, t FROM r1 ORDER BY k NULLS FIRST, id DESC
                     LIMIT 6 OFFSET 2000"
                    .into(),
                true,
            ),
            (
                many("SELECT DISTINCT ON (t, k) t, k, id FROM r1 ORDER BY t"),
                true,
            ),
            ("SELECT DISTINCT ON (k % 7) k % 7, id FROM r1".into(), true),
            (
                "WITH RECURSIVE s(n, d) AS (SELECT id, 0 FROM r1 UNION ALL
                     SELECT n, d + 1 FROM s WHERE d < 2) SELECT count(*), sum(n), sum(d) FROM s"
                    .into(),
                true,
            ),
            (
                "WITH RECURSIVE s(n) AS (SELECT k FROM r1 WHERE k IS NOT NULL UNION
                     SELECT (n * 7 + 3) % 3000 FROM s) SELECT count(*), sum(n) FROM s"
                    .into(),
                true,
            ),
            (
                "WITH RECURSIVE r(n) AS (VALUES (1) UNION SELECT r1.id FROM r JOIN r1
                     ON r1.id / 2 = r.n) SELECT count(*), sum(n), max(n) FROM r"
                    .into(),
                true,
            ),
            (
                "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 20000)
                     SELECT count(*), sum(n) FROM s"
                    .into(),
                false,
            ),
            (
                "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s)
                     SELECT n FROM s LIMIT 3"
                    .into(),
                false,
            ),
            (
                "SELECT count(*), sum(d.id), sum(r2.id) FROM r2 JOIN (SELECT id, t FROM r1
                     WHERE id <= 3000) d ON r2.id < d.id AND r2.id > d.id - 3 WHERE r2.id <= 300"
                    .into(),
                true,
            ),
            (
                "SELECT count(*), count(o.id), sum(d.id) FROM (SELECT id FROM r2 WHERE id <= 200) o
                     RIGHT JOIN (SELECT id, t FROM r1 WHERE id <= 3000) d
                     ON o.id < d.id AND o.id > d.id - 3"
                    .into(),
                true,
            ),
            (
                "SELECT count(*), sum(x.s) FROM r2 CROSS JOIN LATERAL
                     (SELECT r2.id * g AS s FROM generate_series(1, r2.id % 4) g) x"
                    .into(),
                false,
            ),
            (
                "SELECT r2.id, x.s FROM r2 LEFT JOIN LATERAL (SELECT r2.id * g AS s
                     FROM generate_series(1, r2.id % 3) g) x ON true ORDER BY 1 DESC, 2 LIMIT 4"
                    .into(),
                false,
            ),
        ];
        let merge_queries: Vec<String> = vec![
            many("SELECT r1.id AS a, r2.id AS b FROM r1 JOIN r2 ON r1.k = r2.k"),
            // Runs of 1 500 relation rows with one key, larger than 64kB each.
            many(
                "SELECT r1.id AS a, r3.id AS b, r3.pad FROM r1 FULL JOIN r3
                     ON r1.k = r3.k AND r1.id % 5 <> r3.id % 5",
            ),
            many("SELECT r1.id AS a, r2.id AS b FROM r1 LEFT JOIN r2 ON r1.k = r2.k"),
            many("SELECT r1.id AS a, r2.id AS b FROM r1 RIGHT JOIN r2 ON r1.k = r2.k"),
            many(
                "SELECT r1.id AS a, r2.id AS b FROM r1 FULL JOIN r2 ON r1.k = r2.k AND r1.id % 3 = r2.id % 3",
            ),
            "SELECT r1.id, r2.id FROM r1 JOIN r2 ON r1.k = r2.k ORDER BY r1.k DESC, 1 DESC, 2
                 LIMIT 4"
                .into(),
        ];
        let answers = |s: &mut Session, work_mem: &str| -> Vec<(Vec<Vec<String>>, bool)> {
            run(s, &format!("SET work_mem = '{work_mem}'"));
            let mut out = Vec::new();
            let mut one = |s: &mut Session, q: &str| {
                let before = crate::spill::files_created_on_this_thread();
                let rows = run(s, q);
                out.push((rows, crate::spill::files_created_on_this_thread() > before));
            };
            for (q, _) in &queries {
                one(s, q);
            }
            run(s, "SET enable_hashjoin = off");
            for q in &merge_queries {
                one(s, q);
            }
            run(s, "RESET enable_hashjoin");
            out
        };
        let large = answers(&mut s, "64MB");
        let small = answers(&mut s, "64kB");
        let all: Vec<(&str, bool)> = queries
            .iter()
            .map(|(q, spills)| (q.as_str(), *spills))
            .chain(merge_queries.iter().map(|q| (q.as_str(), true)))
            .collect();
        for (((q, spills), (l, l_spilled)), (m, m_spilled)) in all.iter().zip(&large).zip(&small) {
            assert!(!l.is_empty(), "{q}");
            assert_eq!(l, m, "{q}");
            assert!(!l_spilled, "{q} spilled within 64MB");
            assert_eq!(*m_spilled, *spills, "{q}: spilled at 64kB");
        }
        assert_eq!(large[0].0.len(), 6);
        assert_eq!(large[2].0.len(), 8, "seven remainders and NULL");
        assert_eq!(large[3].0, rows(&[&["36000", "216018000", "36000"]]));
        assert_eq!(large[5].0, rows(&[&["12000", "72006000", "12000"]]));
        assert_eq!(large[6].0, rows(&[&["20000", "200010000"]]));
        assert_eq!(large[7].0, rows(&[&["1"], &["2"], &["3"]]));
        // 9 600 pairs, 11 992 rows of r1 and 600 of r3 alone (see the query).
        assert_eq!(large[13].0[0][0], "22192");

        // The merge queries ran as merge joins.
        run(&mut s, "SET enable_hashjoin = off");
        let plan = run(
            &mut s,
            "EXPLAIN SELECT r1.id, r2.id FROM r1 FULL JOIN r2 ON r1.k = r2.k",
        );
        assert!(
            plan.iter().any(|r| r[0].contains("Merge Full Join")),
            "{plan:?}"
        );
        run(&mut s, "RESET enable_hashjoin");

        // EXPLAIN ANALYZE shows DISTINCT ON's sort, on its keys, spilling.
        run(&mut s, "SET work_mem = '64kB'");
        let plan = run(
            &mut s,
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
                 SELECT DISTINCT ON (t, k) t, k, id FROM r1 ORDER BY t",
        )
        .into_iter()
        .map(|r| r.join(""))
        .collect::<Vec<_>>()
        .join("\n");
        assert!(
            plan.starts_with("Unique (actual rows=")
                && plan.contains("Sort Key: t, k\n")
                && plan.contains("Sort Method: external merge  Disk: "),
            "{plan}"
        );
    }

    /// A join reads a `generate_series` or a recursive query's work table as its rows come
    /// (the hash join or merge join keeps within `work_mem` itself): more rows than one
    /// relation may hold in memory ([`JOIN_ROWS_MAX`]) join on either side.
    #[test]
    fn joins_stream_series_and_work_tables_past_the_rows_held_in_memory() {
        let mut s = session();
        let n = JOIN_ROWS_MAX + 1;
        assert_eq!(
            run(
                &mut s,
                &format!(
                    "SELECT count(*), sum(g) FROM generate_series(1, {n}) g
                         JOIN (VALUES (1), ({n})) v(x) ON v.x = g"
                )
            ),
            rows(&[&["2", &(n + 1).to_string()]])
        );
        assert_eq!(
            run(
                &mut s,
                &format!(
                    "SELECT count(*) FROM (VALUES (1), (2)) v(x)
                         LEFT JOIN generate_series(1, {n}) g ON v.x = g"
                )
            ),
            rows(&[&["2"]])
        );
        assert_eq!(
            run(
                &mut s,
                &format!(
                    "WITH RECURSIVE s(n, d) AS (SELECT g, 0 FROM generate_series(1, {n}) g
                         UNION ALL SELECT s.n, d + 1 FROM s JOIN (VALUES (7), ({n})) v(x)
                         ON s.n = v.x WHERE d < 2)
                     SELECT count(*), sum(d) FROM s"
                )
            ),
            rows(&[&[&(n + 4).to_string(), "6"]])
        );
    }

    /// A subquery reads only the rows its use needs (one for EXISTS, two for a scalar
    /// subquery), keeps the rows of IN and ARRAY within `work_mem` (a temporary file past
    /// it), and a select list's only set-returning call streams its values, stopping at a
    /// LIMIT: none of these lists a billion values first.
    #[test]
    fn subqueries_and_select_list_series_read_what_they_need_within_work_mem() {
        let mut s = session();
        let billion = "generate_series(1, 1000000000)";
        assert_eq!(
            run(
                &mut s,
                &format!(
                    "SELECT EXISTS (SELECT {billion}), NOT EXISTS (SELECT g FROM {billion} g
                         WHERE g > 10)"
                )
            ),
            rows(&[&["t", "f"]])
        );
        let stmt = crate::parse(&format!("SELECT (SELECT g FROM {billion} g)")).unwrap();
        assert!(matches!(
            s.execute(&stmt[0], &[]),
            Err(SqlError::CardinalityViolation(_))
        ));
        assert_eq!(
            run(&mut s, &format!("SELECT {billion} LIMIT 3 OFFSET 1")),
            rows(&[&["2"], &["3"], &["4"]])
        );
        assert_eq!(
            run(
                &mut s,
                &format!("SELECT x, {billion} FROM (VALUES (1), (2)) v(x) LIMIT 2")
            ),
            rows(&[&["1", "1"], &["1", "2"]])
        );
        let n = crate::srf::SRF_ROWS_MAX + 1;
        assert_eq!(
            run(
                &mut s,
                &format!("SELECT count(*), max(g) FROM (SELECT generate_series(1, {n}) g) s")
            ),
            rows(&[&[&n.to_string(), &n.to_string()]])
        );
        run(&mut s, "SET work_mem = '64kB'");
        let before = crate::spill::files_created_on_this_thread();
        assert_eq!(
            run(
                &mut s,
                "SELECT 49999 IN (SELECT generate_series(1, 50000)),
                        0 IN (SELECT generate_series(1, 50000)),
                        0 NOT IN (SELECT NULLIF(g, 7) FROM generate_series(1, 50000) g),
                        array_length(ARRAY(SELECT generate_series(1, 50000)), 1)"
            ),
            rows(&[&["t", "f", "NULL", "50000"]])
        );
        assert!(crate::spill::files_created_on_this_thread() > before);
    }

    /// A condition over no relation of a one-relation FROM (EXPLAIN's One-Time Filter) is
    /// checked before the read: when it fails the table is never read. One whose value changes
    /// per call stays a per-row filter.
    #[test]
    fn one_time_filters_are_checked_before_the_read() {
        let mut s = session();
        run(
            &mut s,
            "CREATE TABLE ot (id int PRIMARY KEY, r int);
             INSERT INTO ot SELECT g, g % 10 FROM generate_series(1, 100) g;
             CREATE SEQUENCE ots",
        );
        let plan = |s: &mut Session, q: &str| -> String {
            run(
                s,
                &format!("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {q}"),
            )
            .into_iter()
            .map(|r| r.join(""))
            .collect::<Vec<_>>()
            .join("\n")
        };
        let failed = plan(
            &mut s,
            "SELECT count(*) FROM ot WHERE EXISTS (SELECT 1 FROM ot o2 WHERE r = 13)",
        );
        assert!(
            failed.contains("One-Time Filter: ($0)")
                && failed.contains("Seq Scan on ot (never executed)"),
            "{failed}"
        );
        let passed = plan(
            &mut s,
            "SELECT count(*) FROM ot WHERE EXISTS (SELECT 1 FROM ot o2 WHERE r = 3)",
        );
        assert!(
            passed.contains("Result (actual rows=100 loops=1)")
                && passed.contains("Seq Scan on ot o2 (actual rows=1 loops=1)"),
            "{passed}"
        );
        // Correlated: checked once per run of the subquery, with the outer row's values.
        assert_eq!(
            run(
                &mut s,
                "SELECT o.id, (SELECT count(*) FROM ot i WHERE o.id > 98) FROM ot o
                 WHERE o.id > 97 ORDER BY 1"
            ),
            rows(&[&["98", "0"], &["99", "100"], &["100", "100"]])
        );
        // nextval gives another value per row: four rows pass, as on PostgreSQL.
        assert_eq!(
            run(&mut s, "SELECT count(*) FROM ot WHERE nextval('ots') < 5"),
            rows(&[&["4"]])
        );
    }

    /// The paths that spare the executor an allocation per row answer as PostgreSQL 15 does
    /// (each expected value checked there): LIKE and ILIKE over characters of several bytes
    /// and escapes, COALESCE evaluated lazily, numeric arithmetic, sums and comparisons with
    /// integers done in i128 up to 38 digits and past them, numeric columns decoded over the
    /// last row's value, min/max of text kept in one buffer.
    #[test]
    fn per_row_fast_paths_answer_as_postgresql_does() {
        let mut s = session();
        let cases: &[(&str, &[&str])] = &[
            (
                "SELECT 'héllo' LIKE 'h_llo', 'HeLLo' ILIKE 'hel%', 'a%b' LIKE 'a\\%b',
                        'a%b' LIKE 'a\\%c', 'ÄBC' ILIKE 'äb%', 'xÄy' LIKE '%Ä_',
                        'abc' ILIKE 'A_C', 'abc' LIKE 'a\\bc', 'ABC' ILIKE '%b%',
                        'ab' LIKE 'a%%b%'",
                &["t", "t", "t", "f", "t", "t", "t", "t", "t", "t"],
            ),
            // The second argument is evaluated only for a NULL first one.
            (
                "SELECT string_agg(coalesce(x, 1 / (x - x))::text, ',')
                   FROM (VALUES (1), (2)) v(x)",
                &["1,2"],
            ),
            (
                "SELECT 1.50 * 2, 1.5 + 2.25, 0.1 * 0.2, 2 - 0.005,
                        12345678901234567890.5 * 98765432109876543210.25,
                        99999999999999999999999999999999999999 + 1, -1.5 * -2.0",
                &[
                    "3.00",
                    "3.75",
                    "0.02",
                    "1.995",
                    "1219326311370217952289932936891510440477.625",
                    "100000000000000000000000000000000000000",
                    "3.00",
                ],
            ),
            (
                "SELECT sum(x), avg(x) FROM (VALUES (1.5), (2.25), (-0.125), (NULL), (3)) v(x)",
                &["6.625", "1.6562500000000000"],
            ),
            (
                "SELECT sum(x) FROM (VALUES (99999999999999999999999999999999999999),
                        (99999999999999999999999999999999999999), (1.5), ('NaN'::numeric)) v(x)",
                &["NaN"],
            ),
            (
                "SELECT sum(x) FROM (VALUES (99999999999999999999999999999999999999),
                        (99999999999999999999999999999999999999), (1.5)) v(x)",
                &["199999999999999999999999999999999999999.5"],
            ),
            (
                "SELECT sum(x), avg(x) FROM (VALUES (1.5), (-1.5)) v(x)",
                &["0.0", "0.00000000000000000000"],
            ),
            (
                "SELECT 1.50 > 1, 1.00 = 1, 0.5 < 1, -0.5 < 0,
                        100000000000000000000000000000000000000.5 > 1, 2.0 >= 2",
                &["t", "t", "t", "t", "t", "t"],
            ),
            (
                "SELECT 1.10 = 1.1, 1.10 < 1.11, 10.0 > 9.99, 0.0 = 0, 123.450 > 123.45",
                &["t", "t", "t", "t", "f"],
            ),
        ];
        for (q, want) in cases {
            assert_eq!(run(&mut s, q), rows(&[want]), "{q}");
        }
        // A numeric column read over the last row's value: every kind after every other.
        run(
            &mut s,
            "CREATE TABLE nums (id int PRIMARY KEY, n numeric, t text, b bytea);
             INSERT INTO nums VALUES (1, 12.50, 'a', '\\x01'), (2, 'NaN', NULL, NULL),
                 (3, 0.001, 'longer text', '\\x0203'), (4, 'Infinity', 'b', ''),
                 (5, NULL, '', '\\x04'), (6, -99999999999999999999999999999999999999999.5,
                 'ü', NULL), (7, 0, 'c', '\\xff'), (8, 7, 'd', '\\x05')",
        );
        assert_eq!(
            run(
                &mut s,
                "SELECT string_agg(n::text || '/' || coalesce(t, '-') || '/'
                                   || coalesce(encode(b, 'hex'), '-'), ' ' ORDER BY id),
                        sum(n) FILTER (WHERE n < 100), min(t), max(t)
                   FROM (SELECT * FROM nums ORDER BY id) s"
            ),
            rows(&[&[
                "12.50/a/01 NaN/-/- 0.001/longer text/0203 Infinity/b/ \
                 -99999999999999999999999999999999999999999.5/ü/- 0/c/ff 7/d/05",
                "-99999999999999999999999999999999999999979.999",
                "",
                "ü"
            ]])
        );
    }

    /// An uncorrelated `IN (subquery)` hashes its values once (EXPLAIN's `hashed SubPlan`)
    /// and answers as comparing them one by one would: NULLs on either side, values of
    /// another type than the probe's, equal floats and intervals of different forms.
    #[test]
    fn in_subqueries_hash_their_values_and_answer_as_comparisons_do() {
        let mut s = session();
        run(
            &mut s,
            "CREATE TABLE hv (id int PRIMARY KEY, i int, f float8, t text, c char(4),
                 iv interval, n numeric);
             INSERT INTO hv VALUES (1, 10, -0.0, 'a', 'x', '1 mon', 1.50),
                 (2, 20, 'NaN', 'b ', 'y  ', '2 days', 2),
                 (3, NULL, 2.5, NULL, NULL, NULL, NULL)",
        );
        let cases: &[(&str, &str)] = &[
            ("SELECT 10 IN (SELECT i FROM hv)", "t"),
            ("SELECT 11 IN (SELECT i FROM hv)", "NULL"),
            ("SELECT 11 IN (SELECT i FROM hv WHERE i IS NOT NULL)", "f"),
            (
                "SELECT 11 NOT IN (SELECT i FROM hv WHERE i IS NOT NULL)",
                "t",
            ),
            ("SELECT NULL::int IN (SELECT i FROM hv)", "NULL"),
            ("SELECT NULL::int IN (SELECT i FROM hv WHERE false)", "f"),
            ("SELECT 0.0::float8 IN (SELECT f FROM hv)", "t"),
            ("SELECT 'NaN'::float8 IN (SELECT f FROM hv)", "t"),
            ("SELECT 'b' IN (SELECT t FROM hv)", "NULL"),
            ("SELECT 'b ' IN (SELECT t FROM hv)", "t"),
            ("SELECT 'y'::char(2) IN (SELECT c FROM hv)", "t"),
            ("SELECT '30 days'::interval IN (SELECT iv FROM hv)", "t"),
            ("SELECT 1.5 IN (SELECT n FROM hv)", "t"),
            (
                "SELECT 2.000 IN (SELECT n FROM hv WHERE n IS NOT NULL)",
                "t",
            ),
            ("SELECT 2 IN (SELECT n FROM hv WHERE n IS NOT NULL)", "t"),
            ("SELECT 20.0 IN (SELECT i FROM hv WHERE i IS NOT NULL)", "t"),
            ("SELECT 20.5 IN (SELECT i FROM hv WHERE i IS NOT NULL)", "f"),
        ];
        for (q, want) in cases {
            assert_eq!(run(&mut s, q), rows(&[&[want]]), "{q}");
        }
        // Per row of an outer query, over one set built once.
        assert_eq!(
            run(
                &mut s,
                "SELECT count(*) FILTER (WHERE g IN (SELECT i FROM hv)),
                        count(*) FILTER (WHERE g NOT IN (SELECT i FROM hv WHERE i > 0))
                 FROM generate_series(1, 30) g"
            ),
            rows(&[&["2", "28"]])
        );
    }

    /// Sorts, hash joins and DISTINCT give the same answers (row for row, ties in input order)
    /// whether their rows fit in `work_mem` or spill to temporary files, and EXPLAIN ANALYZE
    /// says which happened.
    #[test]
    fn sorts_joins_and_distinct_answer_the_same_beyond_work_mem() {
        let mut s = session();
        run(
            &mut s,
            "CREATE TABLE big (id int PRIMARY KEY, k int, t text);
             INSERT INTO big SELECT g, CASE WHEN g % 97 = 0 THEN NULL ELSE g % 3000 END,
                 'v' || (g % 11) FROM generate_series(1, 12000) g;
             CREATE TABLE other (id int PRIMARY KEY, k int, u text);
             INSERT INTO other SELECT g, CASE WHEN g % 89 = 0 THEN NULL ELSE g % 4000 END,
                 'w' || g FROM generate_series(1, 8000) g",
        );
        let queries = [
            "SELECT id, k, t FROM big ORDER BY t DESC, k NULLS FIRST, id",
            // Ties on k keep the scan's order.
            "SELECT k, id FROM big ORDER BY k LIMIT 25 OFFSET 100",
            "SELECT k, t FROM big ORDER BY k DESC LIMIT 7000",
            "SELECT DISTINCT ON (t) t, id FROM big ORDER BY t, id DESC",
            "SELECT big.id, other.u FROM big JOIN other ON big.k = other.k ORDER BY 1, 2",
            "SELECT big.id, other.id FROM big LEFT JOIN other ON big.k = other.k
                 AND other.id % 3 = 0 ORDER BY 1, 2 NULLS FIRST",
            "SELECT big.id, other.id FROM big RIGHT JOIN other ON big.k = other.k
                 ORDER BY 2, 1 NULLS FIRST",
            "SELECT big.id, other.id FROM big FULL JOIN other ON big.k = other.k
                 ORDER BY 1 NULLS FIRST, 2 NULLS FIRST",
            "SELECT count(*), sum(big.id), sum(other.id) FROM big JOIN other ON big.k = other.k",
            "SELECT DISTINCT k % 500, t FROM big ORDER BY 1 NULLS FIRST, 2",
            "SELECT count(*) FROM (SELECT DISTINCT k, t FROM big) d",
            "SELECT a.id, b.id FROM big a JOIN big b ON a.id = b.k JOIN other o ON o.k = a.id
                 ORDER BY 1, 2",
            // One join key for every row: partitioning cannot split it, so after the last
            // level the pair is joined in memory whatever its size.
            "SELECT count(*), sum(other.id) FROM big JOIN other ON big.id % 1 = other.id % 1
                 WHERE big.id <= 30",
        ];
        let answers = |s: &mut Session, work_mem: &str| -> Vec<Vec<Vec<String>>> {
            run(s, &format!("SET work_mem = '{work_mem}'"));
            queries.iter().map(|q| run(s, q)).collect()
        };
        let large = answers(&mut s, "64MB");
        let small = answers(&mut s, "64kB");
        for ((q, l), m) in queries.iter().zip(&large).zip(&small) {
            assert!(!l.is_empty(), "{q}");
            assert!(
                l == m,
                "{q}: {} rows in memory, {} spilled",
                l.len(),
                m.len()
            );
        }
        assert_eq!(large[0].len(), 12000);
        assert_eq!(large[1].len(), 25);
        assert_eq!(large[3].len(), 11);
        assert_eq!(large[12], rows(&[&["240000", "960120000"]]));

        let explain = |s: &mut Session, q: &str| -> String {
            run(
                s,
                &format!("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {q}"),
            )
            .into_iter()
            .map(|r| r.join(""))
            .collect::<Vec<_>>()
            .join("\n")
        };
        let sort = "SELECT id, k, t FROM big ORDER BY t, id DESC";
        let top = "SELECT id, k, t FROM big ORDER BY t, id DESC LIMIT 10";
        let join = "SELECT big.id FROM big JOIN other ON big.k = other.k";
        let distinct = "SELECT DISTINCT k, t FROM big";
        run(&mut s, "SET work_mem = '64kB'");
        let plan = explain(&mut s, sort);
        assert!(
            plan.contains("Sort Method: external merge  Disk: "),
            "{plan}"
        );
        let plan = explain(&mut s, top);
        assert!(
            plan.contains("Sort Method: top-N heapsort  Memory: "),
            "{plan}"
        );
        let plan = explain(&mut s, join);
        // 32 partitions, some of them partitioned again (hashing decides which).
        let batches: usize = plan
            .split("Batches: ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(
            batches >= 32 && plan.contains(" (originally 1)  Memory Usage: "),
            "{plan}"
        );
        let plan = explain(
            &mut s,
            "SELECT big.id FROM big FULL JOIN other ON big.k = other.k",
        );
        assert!(
            plan.starts_with("Hash Full Join (actual rows=25678 "),
            "{plan}"
        );
        let plan = explain(&mut s, distinct);
        assert!(plan.contains("Disk Usage: "), "{plan}");
        run(&mut s, "SET work_mem = '64MB'");
        let plan = explain(&mut s, sort);
        assert!(plan.contains("Sort Method: quicksort  Memory: "), "{plan}");
        let plan = explain(&mut s, join);
        assert!(
            plan.contains("Buckets: 8192  Batches: 1  Memory Usage: "),
            "{plan}"
        );
        let plan = explain(&mut s, distinct);
        assert!(
            plan.contains("Batches: 1  Memory Usage: ") && !plan.contains("Disk"),
            "{plan}"
        );
    }

    #[test]
    fn comma_joins_follow_equalities_in_any_from_order() {
        let mut s = session();
        setup(&mut s);
        let want = rows(&[&["one", "hundred"], &["two", "two hundred"]]);
        for from in ["a, b, c", "c, b, a", "b, a AS a2, c"] {
            let alias = if from.contains("a2") { "a2" } else { "a" };
            let sql = format!(
                "SELECT {alias}.x, c.name FROM {from} WHERE {alias}.b = b.id AND b.c = c.id \
                 ORDER BY 1"
            );
            assert_eq!(run(&mut s, &sql), want, "{sql}");
        }
        // A cross product with a filter over both sides.
        assert_eq!(
            run(
                &mut s,
                "SELECT a.id, b.id FROM a CROSS JOIN b WHERE a.id * 10 + 10 > b.id AND b.id > 10 \
                 ORDER BY 1, 2"
            ),
            rows(&[&["2", "20"], &["3", "20"], &["3", "30"]])
        );
        assert_eq!(
            run(
                &mut s,
                "SELECT count(*) FROM a JOIN b ON a.b = b.id INNER JOIN c ON c.id = b.c"
            ),
            rows(&[&["2"]])
        );
    }

    /// The plan the planner binds for one SELECT.
    fn plan_of(engine: &Engine, txn: &Txn, sql: &str) -> QueryPlan {
        let Some(ast::Statement::Query(q)) = crate::parse(sql).unwrap().pop() else {
            panic!("not a query: {sql}");
        };
        Planner {
            engine,
            txn,
            methods: crate::cost::Methods::default(),
        }
        .bind_query(&q, &mut Vec::new())
        .unwrap()
    }

    #[test]
    fn the_planner_starts_at_a_pinned_key_and_hash_joins_the_rest() {
        let mut s = session();
        setup(&mut s);
        let engine = s.engine().clone();
        let txn = engine.begin();
        let plan = plan_of(
            &engine,
            &txn,
            "SELECT * FROM c, b, a WHERE a.id = 2 AND a.b = b.id AND b.c = c.id",
        );
        let Body::Select(sel) = &plan.body else {
            panic!("a select")
        };
        let order: Vec<usize> = sel.from.steps.iter().map(|s| s.rel).collect();
        assert_eq!(order, [2, 1, 0], "a (pinned) first, then b, then c");
        let Source::Table(a) = &sel.from.relations[2].source else {
            panic!("a is a table")
        };
        assert!(
            sel.from.relations[2].access.is_point(a),
            "a point lookup on a"
        );
        assert!(
            sel.from.steps[1..].iter().all(|s| s.probe.len() == 1),
            "every later step is a hash join"
        );
        engine.rollback(txn);
    }

    #[test]
    fn left_joins_pad_with_nulls_and_where_applies_after() {
        let mut s = session();
        setup(&mut s);
        assert_eq!(
            run(
                &mut s,
                "SELECT a.id, b.c FROM a LEFT JOIN b ON a.b = b.id ORDER BY a.id"
            ),
            rows(&[&["1", "100"], &["2", "200"], &["3", "NULL"]])
        );
        assert_eq!(
            run(
                &mut s,
                "SELECT a.id FROM a LEFT JOIN b ON a.b = b.id AND b.c > 150 WHERE b.id IS NULL \
                 ORDER BY 1"
            ),
            rows(&[&["1"], &["3"]])
        );
    }

    #[test]
    fn subqueries_scalar_exists_in_and_correlated() {
        let mut s = session();
        setup(&mut s);
        assert_eq!(
            run(
                &mut s,
                "SELECT id, (SELECT count(*) FROM a AS y WHERE y.id < a.id) FROM a ORDER BY id"
            ),
            rows(&[&["1", "0"], &["2", "1"], &["3", "2"]])
        );
        assert_eq!(
            run(
                &mut s,
                "SELECT id FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.id = a.b AND b.c > 150)"
            ),
            rows(&[&["2"]])
        );
        assert_eq!(
            run(
                &mut s,
                "SELECT id FROM b WHERE id IN (SELECT b FROM a) ORDER BY 1"
            ),
            rows(&[&["10"], &["20"]])
        );
        // NOT IN over a set holding NULL is never true.
        assert_eq!(
            run(&mut s, "SELECT id FROM b WHERE id NOT IN (SELECT b FROM a)"),
            rows(&[])
        );
        assert_eq!(
            run(
                &mut s,
                "SELECT CASE WHEN b > (SELECT avg(b) FROM a) THEN 'hi' ELSE 'lo' END FROM a \
                 WHERE b IS NOT NULL ORDER BY 1"
            ),
            rows(&[&["hi"], &["lo"]])
        );
        // Two levels up.
        assert_eq!(
            run(
                &mut s,
                "SELECT id FROM a WHERE EXISTS (SELECT 1 FROM b WHERE EXISTS \
                 (SELECT 1 FROM c WHERE c.id = b.c AND b.id = a.b AND c.name = 'hundred'))"
            ),
            rows(&[&["1"]])
        );
        // A derived table inside a correlated subquery sees the enclosing row.
        assert_eq!(
            run(
                &mut s,
                "SELECT id, (SELECT max(d.c) FROM (SELECT c FROM b WHERE b.id <= a.b) AS d) \
                 FROM a ORDER BY id"
            ),
            rows(&[&["1", "100"], &["2", "200"], &["3", "NULL"]])
        );
        assert!(matches!(
            fails(&mut s, "SELECT q.* FROM a"),
            SqlError::MissingFromEntry(_)
        ));
        assert!(matches!(
            fails(&mut s, "SELECT (SELECT id FROM a)"),
            SqlError::CardinalityViolation(_)
        ));
        assert_eq!(
            run(
                &mut s,
                "SELECT nullif(1, 1), nullif(2, 1), coalesce(NULL, 3)"
            ),
            rows(&[&["NULL", "2", "3"]])
        );
    }

    #[test]
    fn set_operations_follow_sql_multiset_rules() {
        let mut s = session();
        run(
            &mut s,
            "CREATE TABLE l (v int); CREATE TABLE r (v int);
             INSERT INTO l VALUES (1), (1), (2), (3), (NULL);
             INSERT INTO r VALUES (1), (3), (3), (NULL);",
        );
        let q = |s: &mut Session, op: &str| {
            run(
                s,
                &format!("SELECT v FROM l {op} SELECT v FROM r ORDER BY 1"),
            )
        };
        assert_eq!(
            q(&mut s, "UNION"),
            rows(&[&["1"], &["2"], &["3"], &["NULL"]])
        );
        assert_eq!(q(&mut s, "UNION ALL").len(), 9);
        assert_eq!(q(&mut s, "INTERSECT"), rows(&[&["1"], &["3"], &["NULL"]]));
        assert_eq!(
            q(&mut s, "INTERSECT ALL"),
            rows(&[&["1"], &["3"], &["NULL"]])
        );
        assert_eq!(q(&mut s, "EXCEPT"), rows(&[&["2"]]));
        assert_eq!(q(&mut s, "EXCEPT ALL"), rows(&[&["1"], &["2"]]));
        assert_eq!(
            run(&mut s, "SELECT 1 UNION SELECT 2.5 ORDER BY 1 DESC"),
            rows(&[&["2.5"], &["1"]])
        );
        assert!(matches!(
            fails(&mut s, "SELECT 1, 2 UNION SELECT 3"),
            SqlError::Syntax(_)
        ));
        assert!(matches!(
            fails(&mut s, "SELECT 1 UNION SELECT 'x'::text"),
            SqlError::DatatypeMismatch(_)
        ));
        assert!(matches!(
            fails(&mut s, "SELECT * FROM l, r AS l"),
            SqlError::DuplicateAlias(_)
        ));
    }

    #[test]
    fn aggregate_filter_keeps_only_rows_where_it_is_true() {
        let mut s = session();
        setup(&mut s);
        assert_eq!(
            run(
                &mut s,
                "SELECT count(*) FILTER (WHERE b > 10), sum(b) FILTER (WHERE x <> 'two'), \
                 count(*) FILTER (WHERE b IS NULL), max(id) FILTER (WHERE false), count(*) \
                 FROM a"
            ),
            rows(&[&["1", "10", "1", "NULL", "3"]])
        );
        // Per group, and the same call without the filter is another aggregate.
        assert_eq!(
            run(
                &mut s,
                "SELECT b IS NULL, count(*) FILTER (WHERE id > 1), count(*) FROM a \
                 GROUP BY 1 ORDER BY 1"
            ),
            rows(&[&["f", "1", "2"], &["t", "1", "1"]])
        );
        assert!(matches!(
            fails(&mut s, "SELECT count(*) FILTER (WHERE count(*) > 1) FROM a"),
            SqlError::Grouping(_)
        ));
        let e = fails(&mut s, "SELECT count(*) FILTER (WHERE id) FROM a");
        assert!(matches!(e, SqlError::DatatypeMismatch(_)), "{e:?}");
        assert!(matches!(
            fails(&mut s, "SELECT lower(x) FILTER (WHERE true) FROM a"),
            SqlError::WrongObjectType(_)
        ));
    }

    #[test]
    fn constants_in_group_by_and_order_by_are_positions_or_refused() {
        let mut s = session();
        setup(&mut s);
        assert_eq!(
            run(
                &mut s,
                "SELECT b, count(*) FROM a GROUP BY (1) ORDER BY 1 DESC"
            ),
            rows(&[&["NULL", "1"], &["20", "1"], &["10", "1"]])
        );
        for (sql, position) in [
            ("SELECT b FROM a GROUP BY 'a'", false),
            ("SELECT b FROM a GROUP BY 1.5", false),
            ("SELECT b FROM a GROUP BY 99999999999", false),
            ("SELECT b FROM a GROUP BY 2", true),
            ("SELECT b FROM a GROUP BY (-3)", true),
            ("SELECT b FROM a GROUP BY (-(-3))", true),
            ("SELECT b FROM a GROUP BY -(1.0)", false),
            ("SELECT b FROM a ORDER BY 'x'", false),
            ("SELECT b FROM a ORDER BY NULL", false),
            ("SELECT b FROM a ORDER BY true", false),
            ("SELECT b FROM a ORDER BY 0", true),
            ("SELECT b FROM a ORDER BY -1", true),
            ("SELECT b FROM a UNION SELECT c FROM b ORDER BY 'x'", false),
            ("SELECT b FROM a UNION SELECT c FROM b ORDER BY 2", true),
        ] {
            let e = fails(&mut s, sql);
            if position {
                assert!(
                    matches!(&e, SqlError::InvalidColumnReference(m) if m.contains("position")),
                    "{sql}: {e:?}"
                );
            } else {
                assert!(
                    matches!(&e, SqlError::Syntax(m) if m.starts_with("non-integer constant")),
                    "{sql}: {e:?}"
                );
            }
        }
    }

    #[test]
    fn scalar_edge_cases_answer_as_postgresql_does() {
        let mut s = session();
        setup(&mut s);
        for sql in [
            "SELECT abs(id - id - 2147483647 - 1) FROM a",
            "SELECT -(id - id - 2147483647 - 1) FROM a",
            "SELECT CAST(9223372036854775808 AS int8)",
            "SELECT CAST(-9223372036854775809 AS int8)",
        ] {
            assert!(
                matches!(fails(&mut s, sql), SqlError::NumericOutOfRange(_)),
                "{sql}"
            );
        }
        assert_eq!(
            run(
                &mut s,
                "SELECT abs(CAST(-2147483648 AS int8)), CAST(-9223372036854775808 AS int8), \
                 -(id - 4), 'x' || (id > 1), x || false FROM a WHERE id = 2"
            ),
            rows(&[&[
                "2147483648",
                "-9223372036854775808",
                "2",
                "xtrue",
                "twofalse"
            ]])
        );
        let e = fails(&mut s, "SELECT max(id > 1) FROM a");
        assert!(matches!(e, SqlError::UndefinedFunction(_)), "{e:?}");
        assert!(matches!(
            fails(&mut s, "SELECT min(true)"),
            SqlError::UndefinedFunction(_)
        ));
        // float8 sum starts from its first input: a sum of negative zeros is -0; avg is +0.
        assert_eq!(
            run(
                &mut s,
                "SELECT sum(CAST('-0' AS float8) * id), avg(CAST('-0' AS float8)) FROM a"
            ),
            rows(&[&["-0", "0"]])
        );
    }

    #[test]
    fn joins_stream_their_rows_into_what_reads_them() {
        // On a thread with the stack servers give statements.
        std::thread::Builder::new()
            .stack_size(STATEMENT_STACK_BYTES)
            .spawn(joins_stream)
            .unwrap()
            .join()
            .unwrap();
    }

    fn joins_stream() {
        let mut s = session();
        // More joined rows than any step may hold: an aggregate reads them as they are made.
        let n = 2_100;
        assert!(n * n > JOIN_ROWS_MAX);
        assert_eq!(
            run(
                &mut s,
                &format!(
                    "SELECT count(*), sum(a.a + b.b) FROM generate_series(1, {n}) a \
                     CROSS JOIN generate_series(1, {n}) b"
                )
            ),
            rows(&[&[&(n * n).to_string(), &(n * n * (n + 1)).to_string()]])
        );
        // An index nested loop that meets more partial rows than it looks up turns into the
        // step's hash join mid-stream, with the rows it held first; its answers do not change.
        run(
            &mut s,
            "CREATE TABLE p (id int PRIMARY KEY, g int);
             CREATE TABLE q (pid int, v int);
             INSERT INTO p SELECT i, i % 7 FROM generate_series(1, 3000) i;
             INSERT INTO q SELECT i % 3100, i FROM generate_series(1, 6000) i;",
        );
        for limit in [5, 900, 1100, 3100] {
            for join in ["JOIN", "LEFT JOIN"] {
                let probe = format!(
                    "SELECT count(*), count(p.id), sum(q.v), sum(p.g) FROM q {join} p \
                     ON p.id = q.pid AND p.g <> 3 WHERE q.pid < {limit}"
                );
                let hash = probe.replace("JOIN p ON", "JOIN (SELECT * FROM p) AS p ON");
                assert_eq!(run(&mut s, &probe), run(&mut s, &hash), "{probe}");
            }
        }
        // A LIMIT stops the pipeline once it has its rows.
        let explain = run(
            &mut s,
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) \
             SELECT q.v, p.g FROM q JOIN (SELECT * FROM p) p ON p.id = q.pid LIMIT 3",
        );
        let lines: Vec<&str> = explain.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(lines[0], "Limit (actual rows=3 loops=1)", "{lines:?}");
        assert_eq!(
            lines[1], "  ->  Hash Join (actual rows=3 loops=1)",
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("Seq Scan on q (actual rows=")),
            "{lines:?}"
        );
        // RIGHT and FULL joins still pad when no partial row reaches their step.
        assert_eq!(
            run(
                &mut s,
                "SELECT count(*), count(q.v), count(p.id) FROM q RIGHT JOIN p \
                 ON p.id = q.pid AND q.v < 0 WHERE p.id <= 3000"
            ),
            rows(&[&["3000", "0", "3000"]])
        );
        assert_eq!(
            run(
                &mut s,
                "SELECT count(*) FROM (SELECT * FROM q WHERE v < 0) q FULL JOIN p ON p.id = q.pid"
            ),
            rows(&[&["3000"]])
        );
        // The longest FROM clause runs as several pipelines, within the statement stack.
        let tables = RELATIONS_MAX;
        let mut ddl = String::new();
        for i in 0..tables {
            ddl.push_str(&format!(
                "CREATE TABLE c{i} (k int); INSERT INTO c{i} VALUES (1), (2);"
            ));
        }
        run(&mut s, &ddl);
        let from: Vec<String> = (0..tables).map(|i| format!("c{i}")).collect();
        let on: Vec<String> = (1..tables).map(|i| format!("c{i}.k = c0.k")).collect();
        assert_eq!(
            run(
                &mut s,
                &format!(
                    "SELECT count(*) FROM {} WHERE {}",
                    from.join(", "),
                    on.join(" AND ")
                )
            ),
            rows(&[&["2"]])
        );
    }

    /// Outputs that are plain columns are moved out of the FROM row rather than copied; the
    /// answers are those of the same queries with every output computed (copied), whatever
    /// else reads the column: the same column twice, a sort or DISTINCT ON expression, an
    /// output sort key, a correlated subquery, a join, a derived table, a window.
    #[test]
    fn outputs_taken_from_rows_answer_as_computed_ones() {
        let mut s = session();
        run(
            &mut s,
            "CREATE TABLE a (id int PRIMARY KEY, name text, k int);
             CREATE TABLE b (id int PRIMARY KEY, a_id int, note text);
             INSERT INTO a SELECT g, 'n' || (g % 7), g % 3 FROM generate_series(1, 60) g;
             INSERT INTO b SELECT g, g % 60 + 1, 'b' || g FROM generate_series(1, 200) g",
        );
        for (plain, computed) in [
            ("SELECT name, id FROM a", "SELECT name || '', id + 0 FROM a"),
            (
                "SELECT name, name, id FROM a",
                "SELECT name || '', name || '', id + 0 FROM a",
            ),
            (
                "SELECT name, id FROM a ORDER BY upper(name), id",
                "SELECT name || '', id + 0 FROM a ORDER BY upper(name), id",
            ),
            (
                "SELECT name, id FROM a ORDER BY 1, 2 DESC",
                "SELECT name || '', id + 0 FROM a ORDER BY 1, 2 DESC",
            ),
            (
                "SELECT name, id FROM a ORDER BY name DESC, id LIMIT 7",
                "SELECT name || '', id + 0 FROM a ORDER BY 1 DESC, 2 LIMIT 7",
            ),
            (
                "SELECT DISTINCT ON (name) name, id FROM a ORDER BY name, id DESC",
                "SELECT DISTINCT ON (name) name || '', id + 0 FROM a ORDER BY name, id DESC",
            ),
            (
                "SELECT DISTINCT name, k FROM a ORDER BY 1, 2",
                "SELECT DISTINCT name || '', k + 0 FROM a ORDER BY 1, 2",
            ),
            (
                "SELECT name, (SELECT count(*) FROM b WHERE b.a_id = a.id AND b.note > a.name) FROM a ORDER BY id",
                "SELECT name || '', (SELECT count(*) FROM b WHERE b.a_id = a.id AND b.note > a.name) FROM a ORDER BY id",
            ),
            (
                "SELECT a.name, b.note, b.id FROM a JOIN b ON b.a_id = a.id WHERE a.k = 1 ORDER BY b.id",
                "SELECT a.name || '', b.note || '', b.id + 0 FROM a JOIN b ON b.a_id = a.id WHERE a.k = 1 ORDER BY b.id",
            ),
            (
                "SELECT a.name, b.note FROM a LEFT JOIN b ON b.a_id = a.id AND b.id < 50 ORDER BY a.id, b.id",
                "SELECT a.name || '', b.note || '' FROM a LEFT JOIN b ON b.a_id = a.id AND b.id < 50 ORDER BY a.id, b.id",
            ),
            (
                "SELECT x.name, x.n FROM (SELECT name, count(*) AS n FROM a GROUP BY name) x ORDER BY 1",
                "SELECT x.name || '', x.n + 0 FROM (SELECT name, count(*) AS n FROM a GROUP BY name) x ORDER BY 1",
            ),
            (
                "SELECT name, id, row_number() OVER (PARTITION BY name ORDER BY id) FROM a ORDER BY id",
                "SELECT name || '', id + 0, row_number() OVER (PARTITION BY name ORDER BY id) FROM a ORDER BY id",
            ),
            (
                "SELECT name, generate_series(1, k) FROM a ORDER BY id, 2",
                "SELECT name || '', generate_series(1, k) FROM a ORDER BY id, 2",
            ),
            (
                "WITH RECURSIVE r(n, t) AS (SELECT 1, 'x' UNION ALL SELECT n + 1, t || n FROM r WHERE n < 5) SELECT t, n FROM r",
                "WITH RECURSIVE r(n, t) AS (SELECT 1, 'x' UNION ALL SELECT n + 1, t || n FROM r WHERE n < 5) SELECT t || '', n + 0 FROM r",
            ),
        ] {
            let want = run(&mut s, computed);
            assert!(!want.is_empty(), "{computed}");
            assert_eq!(run(&mut s, plain), want, "{plain}");
        }
        // Which outputs are taken: a plain column that nothing else reads, and only then.
        let engine = s.engine().clone();
        let txn = engine.begin();
        for (q, want) in [
            (
                "SELECT name, name, id, k, k + 1 FROM a",
                vec![None, None, Some(0), None, None],
            ),
            // A sort on a column reads it as an expression: it stays in the row.
            (
                "SELECT name, id, k FROM a ORDER BY id",
                vec![Some(1), None, Some(2)],
            ),
            (
                "SELECT name, id FROM a ORDER BY upper(name)",
                vec![None, Some(0)],
            ),
            ("SELECT k, name FROM a", vec![Some(2), Some(1)]),
            ("SELECT name, generate_series(1, 2) FROM a", vec![]),
        ] {
            let plan = plan_of(&engine, &txn, q);
            let Body::Select(sel) = &plan.body else {
                panic!("a select")
            };
            let taken = taken_outputs(sel, &plan.order_by);
            let per_output: Vec<Option<usize>> =
                sel.projections.iter().map(|p| is_taken(p, taken)).collect();
            let want = if want.is_empty() {
                vec![None; sel.projections.len()]
            } else {
                want
            };
            assert_eq!(per_output, want, "{q}");
        }
    }

    /// A key compared with an expression of constants and parameters (`id BETWEEN $1 AND
    /// $1 + 99`) is read through the key, as a plain constant is; a volatile function is not a
    /// bound (it would run once more, or give another value, than the filter's).
    #[test]
    fn computed_constants_bound_key_reads() {
        let mut s = session();
        run(
            &mut s,
            "CREATE TABLE k (id int8 PRIMARY KEY, v int); \
             INSERT INTO k SELECT i, i % 10 FROM generate_series(1, 5000) i;",
        );
        let engine = s.engine().clone();
        let txn = engine.begin();
        for (q, keyed) in [
            ("SELECT * FROM k WHERE id BETWEEN 40 AND 40 + 99", true),
            (
                "SELECT * FROM k WHERE id >= abs(-40) AND id < 40 * 2 + 1",
                true,
            ),
            ("SELECT * FROM k WHERE id = -(-7)", true),
            ("SELECT * FROM k WHERE id < (random() * 0)::int8 + 3", false),
            ("SELECT * FROM k WHERE id = v + 1", false),
        ] {
            let plan = plan_of(&engine, &txn, q);
            let Body::Select(sel) = &plan.body else {
                panic!("a select")
            };
            let access = &sel.from.relations[0].access;
            assert_eq!(matches!(access, Access::Range(_)), keyed, "{q}: {access:?}");
        }
        drop(txn);
        for q in [
            "SELECT count(*), sum(v) FROM k WHERE id BETWEEN 40 AND 40 + 99",
            "SELECT count(*), sum(v) FROM k WHERE id >= abs(-40) AND id < 40 * 2 + 1",
        ] {
            let full = q.replace("WHERE id", "WHERE id + 0");
            assert_eq!(run(&mut s, q), run(&mut s, &full), "{q}");
        }
        assert_eq!(
            run(
                &mut s,
                "SELECT count(*) FROM k WHERE id BETWEEN 40 AND 40 + 99"
            ),
            [["100"]]
        );
        // With a parameter, as a prepared statement runs it.
        run(
            &mut s,
            "PREPARE r(int8) AS SELECT count(*), sum(v) FROM k WHERE id BETWEEN $1 AND $1 + 99",
        );
        let plan = run(&mut s, "EXPLAIN EXECUTE r(40)").concat().join("\n");
        assert!(plan.contains("Index Scan using k_pkey on k"), "{plan}");
        assert_eq!(run(&mut s, "EXECUTE r(4950)"), [["51", "225"]]);
    }

    /// A join's tables decode only the columns the query reads (the planner's per-table
    /// mask), and answer as the same join over derived tables, which decode everything: a
    /// column missed by the mask would read as NULL and change the sums below.
    #[test]
    fn joins_decode_only_the_columns_they_read() {
        let mut s = session();
        run(
            &mut s,
            "CREATE TABLE a (id int PRIMARY KEY, g int, w text, note text);
             CREATE TABLE b (id int PRIMARY KEY, aid int, v int, label text);
             CREATE INDEX b_aid ON b (aid);
             CREATE INDEX a_g_w ON a (g, w);
             INSERT INTO a SELECT i, i % 7, 'w' || (i % 13), repeat('x', i % 50) \
               FROM generate_series(1, 300) i;
             INSERT INTO b SELECT i, i % 320, i % 11, 'l' || (i % 17) FROM generate_series(1, 900) i;
             ANALYZE a; ANALYZE b;",
        );
        let queries = [
            // Hash join, lookup join, the ON condition, WHERE across both, ORDER BY an
            // unprojected column.
            "SELECT sum(a.id), sum(length(b.label)) FROM a JOIN b ON b.aid = a.id",
            "SELECT a.w, b.v FROM a JOIN b ON b.aid = a.id WHERE a.id = 17 ORDER BY b.label, b.v",
            "SELECT count(*), sum(b.v) FROM a JOIN b ON b.aid = a.id AND b.label < a.w",
            "SELECT count(*) FROM a, b WHERE a.g = b.v AND length(a.note) > b.v",
            "SELECT a.id FROM a JOIN b ON b.aid = a.id ORDER BY a.note, b.label DESC, a.id LIMIT 7",
            // Outer joins pad with NULLs: a pruned column must not look like a padding.
            "SELECT count(*), count(b.label), count(a.note) FROM a LEFT JOIN b ON b.aid = a.id",
            "SELECT count(*), count(a.w), sum(b.v) FROM a RIGHT JOIN b ON b.aid = a.id AND a.g = 2",
            "SELECT count(*), count(a.note), count(b.label) FROM a FULL JOIN b ON b.aid = a.id \
             AND a.g < 3",
            // Grouping, HAVING and DISTINCT ON read columns of both sides.
            "SELECT a.w, count(*), max(b.label) FROM a JOIN b ON b.aid = a.id GROUP BY a.w \
             HAVING min(a.note) < 'xx' ORDER BY 1",
            "SELECT DISTINCT ON (a.g) a.g, b.label FROM a JOIN b ON b.aid = a.id \
             ORDER BY a.g, b.label",
            // A nested loop (no equi-join key) and a three-way join.
            "SELECT count(*), sum(a.id) FROM a JOIN b ON a.w < b.label AND b.id < 40",
            "SELECT sum(a.id + b.v + c.id) FROM a JOIN b ON b.aid = a.id JOIN a AS c \
             ON c.g = b.v WHERE c.note > 'xxxxx'",
            // Semi- and anti-joins read the inner side's keys and ON columns.
            "SELECT count(*) FROM a WHERE EXISTS (SELECT 1 FROM b WHERE b.aid = a.id \
             AND b.label > 'l5')",
            "SELECT count(*) FROM a WHERE NOT EXISTS (SELECT 1 FROM b WHERE b.v = a.g)",
        ];
        for q in queries {
            let derived = q
                .replace("FROM a JOIN", "FROM (SELECT * FROM a) AS a JOIN")
                .replace("FROM a LEFT", "FROM (SELECT * FROM a) AS a LEFT")
                .replace("FROM a RIGHT", "FROM (SELECT * FROM a) AS a RIGHT")
                .replace("FROM a FULL", "FROM (SELECT * FROM a) AS a FULL")
                .replace(
                    "FROM a, b",
                    "FROM (SELECT * FROM a) AS a, (SELECT * FROM b) AS b",
                )
                .replace("FROM b WHERE", "FROM (SELECT * FROM b) AS b WHERE")
                .replace("JOIN b ON", "JOIN (SELECT * FROM b) AS b ON")
                .replace("JOIN a AS c", "JOIN (SELECT * FROM a) AS c");
            assert_ne!(q, derived);
            assert_eq!(run(&mut s, q), run(&mut s, &derived), "{q}");
        }
        let engine = s.engine().clone();
        let txn = engine.begin();
        let plan = plan_of(
            &engine,
            &txn,
            "SELECT a.w, b.v FROM a JOIN b ON b.aid = a.id WHERE a.g = 3",
        );
        let Body::Select(sel) = &plan.body else {
            panic!("a select")
        };
        let masks: Vec<Option<Vec<bool>>> = sel
            .from
            .relations
            .iter()
            .map(|r| r.needed.clone())
            .collect();
        assert_eq!(
            masks,
            [
                Some(vec![true, true, true, false]),
                Some(vec![false, true, true, false])
            ],
            "a: id (key), g (filter), w (output); b: aid (key), v (output)"
        );
        // A LATERAL query reads the items before it through its own plan: every column.
        let lateral = "SELECT a.id, x.n FROM a, LATERAL (SELECT a.w || a.note AS n) x \
                       WHERE a.g = 1 ORDER BY a.id";
        let plan = plan_of(&engine, &txn, lateral);
        let Body::Select(sel) = &plan.body else {
            panic!("a select")
        };
        assert!(sel.from.relations.iter().all(|r| r.needed.is_none()));
        let rows = run(&mut s, lateral);
        assert_eq!(rows[0], ["1", "w1x"]);
        assert_eq!(rows.len(), 43);
    }

    #[test]
    fn index_nested_loop_joins_answer_as_hash_joins_do() {
        let mut s = session();
        run(
            &mut s,
            "CREATE TABLE p (id int PRIMARY KEY, g int, t text);
             CREATE TABLE q (pid bigint, v int, g int, PRIMARY KEY (pid, v));
             CREATE INDEX q_g ON q (g);
             INSERT INTO p SELECT i, i % 7, CAST(i % 5 AS text) FROM generate_series(1, 400) i;
             INSERT INTO p VALUES (401, NULL, NULL);
             INSERT INTO q SELECT i % 450, i, CASE WHEN i % 11 = 0 THEN NULL ELSE i % 7 END \
               FROM generate_series(1, 2000) i;",
        );
        // The inner side as a table (probed per outer row) and as a derived table (hashed).
        for (join, on) in [
            ("JOIN", "q.pid = p.id"),
            ("JOIN", "q.pid = p.id AND q.g = p.g"),
            ("JOIN", "q.g = p.g AND q.v < p.id"),
            ("LEFT JOIN", "q.pid = p.id AND q.g = p.g"),
            ("LEFT JOIN", "q.g = p.g AND q.pid = p.id + 1"),
        ] {
            let probe = format!(
                "SELECT count(*), count(q.v), sum(q.v), sum(p.id) FROM p {join} q ON {on} \
                 WHERE p.id > 350 OR p.id < 20"
            );
            let hash = probe.replace(" q ON", " (SELECT * FROM q) AS q ON");
            assert_eq!(run(&mut s, &probe), run(&mut s, &hash), "{probe}");
        }
        // Consecutive outer rows probing the same key (q in key order: pid repeats) reuse the
        // rows read for the first of them.
        let probe = "SELECT count(*), sum(p.id), sum(q.v), count(p.t) FROM q \
                     LEFT JOIN p ON p.id = q.pid AND p.g <> 3 WHERE q.pid < 30";
        let hash = probe.replace("JOIN p ON", "JOIN (SELECT * FROM p) AS p ON");
        let want = run(&mut s, &hash);
        assert_eq!(
            want[0][0], "149",
            "every q row with pid < 30, padded or not"
        );
        assert_eq!(run(&mut s, probe), want);
        let engine = s.engine().clone();
        let txn = engine.begin();
        let plan = plan_of(
            &engine,
            &txn,
            "SELECT * FROM p JOIN q ON q.pid = p.id JOIN q AS r ON r.g = q.g WHERE p.id = 3",
        );
        let Body::Select(sel) = &plan.body else {
            panic!("a select")
        };
        let lookups: Vec<Option<Option<usize>>> = sel
            .from
            .steps
            .iter()
            .map(|s| s.lookup.as_ref().map(|l| l.range.index))
            .collect();
        // p is pinned and read first; q is probed by the first column of its primary key, r by
        // its index on g.
        assert_eq!(lookups, [None, Some(None), Some(Some(0))]);
        engine.rollback(txn);
    }

    #[test]
    fn common_table_expressions_and_recursion() {
        let mut s = session();
        setup(&mut s);
        assert_eq!(
            run(
                &mut s,
                "WITH a AS (SELECT id, b FROM a WHERE b IS NOT NULL), c(total) AS \
                 (SELECT sum(b) FROM a) SELECT a.id, c.total FROM a, c ORDER BY 1"
            ),
            rows(&[&["1", "30"], &["2", "30"]])
        );
        // UNION ALL runs until a round adds nothing; UNION also drops rows seen before, so a
        // cycle ends.
        assert_eq!(
            run(
                &mut s,
                "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 4) \
                 SELECT count(*), sum(n) FROM t"
            ),
            rows(&[&["4", "10"]])
        );
        assert_eq!(
            run(
                &mut s,
                "WITH RECURSIVE t(n) AS (SELECT 0 UNION SELECT (n + 1) % 4 FROM t) \
                 SELECT n FROM t ORDER BY n"
            ),
            rows(&[&["0"], &["1"], &["2"], &["3"]])
        );
        // Walks the join graph: a.b → b.id → b.c → c.id.
        assert_eq!(
            run(
                &mut s,
                "WITH RECURSIVE r(k, depth) AS (SELECT 10, 0 UNION ALL \
                 SELECT b.c, r.depth + 1 FROM r JOIN b ON b.id = r.k) \
                 SELECT k, depth FROM r ORDER BY depth"
            ),
            rows(&[&["10", "0"], &["100", "1"]])
        );
        for sql in [
            "WITH RECURSIVE t(n) AS (SELECT n FROM t) SELECT * FROM t",
            "WITH RECURSIVE t(n) AS (SELECT n FROM t UNION ALL SELECT 1) SELECT * FROM t",
            "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT x.n FROM t x, t y) SELECT * FROM t",
            "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL \
             SELECT n FROM t WHERE n < (SELECT max(n) FROM t)) SELECT * FROM t",
        ] {
            let e = fails(&mut s, sql);
            assert!(
                matches!(&e, SqlError::Syntax(m) if m.starts_with("recursive ")),
                "{sql}: {e:?}"
            );
        }
        assert!(matches!(
            fails(
                &mut s,
                "WITH t AS (SELECT 1), t AS (SELECT 2) SELECT * FROM t"
            ),
            SqlError::DuplicateAlias(_)
        ));
        // A CTE does not see the ones after it.
        assert!(matches!(
            fails(
                &mut s,
                "WITH x AS (SELECT * FROM y), y AS (SELECT 1) SELECT * FROM x"
            ),
            SqlError::UndefinedTable(_) | SqlError::UndefinedRelation(_)
        ));
    }

    #[test]
    fn window_frames_see_peers_rows_and_ranges() {
        let mut s = session();
        run(
            &mut s,
            "CREATE TABLE t (id int PRIMARY KEY, g text, v int);
             INSERT INTO t VALUES (1, 'a', 1), (2, 'a', 2), (3, 'a', 2), (4, 'b', 5), (5, 'b', NULL)",
        );
        // Default frame: up to the last peer; ROWS: by position; RANGE: by value, NULLs are
        // their own peers.
        let sql = "SELECT id, sum(v) OVER (PARTITION BY g ORDER BY v), \
                   sum(v) OVER (PARTITION BY g ORDER BY v, id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW), \
                   count(*) OVER (PARTITION BY g ORDER BY v RANGE BETWEEN 1 PRECEDING AND 0 FOLLOWING), \
                   rank() OVER (PARTITION BY g ORDER BY v), dense_rank() OVER (ORDER BY v) \
                   FROM t ORDER BY id";
        assert_eq!(
            run(&mut s, sql),
            rows(&[
                &["1", "1", "1", "1", "1", "1"],
                &["2", "5", "3", "3", "2", "2"],
                &["3", "5", "4", "3", "2", "2"],
                &["4", "5", "5", "1", "1", "3"],
                &["5", "5", "5", "1", "2", "4"],
            ])
        );
        // Calls over the same window share one sort.
        let engine = s.engine().clone();
        let txn = engine.begin();
        let plan = plan_of(
            &engine,
            &txn,
            "SELECT rank() OVER w, sum(v) OVER w, lag(v) OVER w FROM t WINDOW w AS (ORDER BY v)",
        );
        let Body::Select(sel) = &plan.body else {
            panic!("not a select")
        };
        assert_eq!((sel.windows.defs.len(), sel.windows.calls.len()), (1, 3));
        assert!(matches!(
            fails(&mut s, "SELECT id FROM t WHERE rank() OVER () > 1"),
            SqlError::Windowing(_)
        ));
        assert!(matches!(
            fails(&mut s, "SELECT sum(rank() OVER ()) FROM t"),
            SqlError::Grouping(_)
        ));
    }

    #[test]
    fn right_and_full_joins_add_the_rows_without_partner() {
        let mut s = session();
        setup(&mut s);
        assert_eq!(
            run(
                &mut s,
                "SELECT a.id, b.id FROM a FULL JOIN b ON a.b = b.id ORDER BY a.id, b.id"
            ),
            rows(&[&["1", "10"], &["2", "20"], &["3", "NULL"], &["NULL", "30"]])
        );
        assert_eq!(
            run(
                &mut s,
                "SELECT a.id, b.id FROM a RIGHT JOIN b ON a.b = b.id WHERE b.c > 100 ORDER BY b.id"
            ),
            rows(&[&["2", "20"], &["NULL", "30"]])
        );
        // USING merges the column: unqualified it is the left one, `*` lists it first.
        assert_eq!(
            run(&mut s, "SELECT * FROM b JOIN c USING (id)"),
            Vec::<Vec<String>>::new()
        );
        run(
            &mut s,
            "CREATE TABLE d (c int, note text); INSERT INTO d VALUES (100, 'x')",
        );
        assert_eq!(
            run(&mut s, "SELECT * FROM b JOIN d USING (c)"),
            rows(&[&["100", "10", "x"]])
        );
    }

    #[test]
    fn update_from_changes_each_target_row_once() {
        let mut s = session();
        setup(&mut s);
        run(
            &mut s,
            "CREATE TABLE p (k int, v int);
             INSERT INTO p VALUES (1, 5), (1, 6), (9, 9);
             UPDATE a SET b = a.b + 1 FROM p WHERE p.k = a.id;
             UPDATE a SET x = left(c.name, 5) FROM b, c WHERE a.b = b.id AND b.c = c.id",
        );
        assert_eq!(
            run(&mut s, "SELECT id, b, x FROM a ORDER BY id"),
            rows(&[
                &["1", "11", "one"],
                &["2", "20", "two h"],
                &["3", "NULL", "three"]
            ])
        );
        run(&mut s, "DELETE FROM a USING p WHERE p.k = a.id");
        assert_eq!(
            run(&mut s, "SELECT id FROM a ORDER BY id"),
            rows(&[&["2"], &["3"]])
        );
    }
}
