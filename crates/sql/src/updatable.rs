//! Automatically updatable views: INSERT, UPDATE and DELETE through a "simple" view are
//! rewritten onto the relation the view reads, as PostgreSQL's rewriter does
//! (`rewriteTargetView`).
//!
//! A view is simple when its query reads exactly one table or view, without joins, derived
//! tables, DISTINCT, GROUP BY, HAVING, LIMIT/OFFSET, set operations, WITH, aggregates, window
//! functions or set-returning functions in its output. A column of a simple view that is a plain
//! reference to a column of that relation is updatable; any other column is read-only.
//!
//! ```text
//!   UPDATE v AS a SET x = 1 WHERE y > 2 RETURNING *          v: SELECT b AS x, c + 1 AS y
//!        │  one level per view, outermost first                   FROM t WHERE b > 0
//!        ▼
//!   UPDATE t AS a SET b = 1 WHERE ((a.c + 1)) > 2 AND (a.b > 0)
//!        RETURNING (a.b) AS x, (a.c + 1) AS y                  checks: [("v", a.b > 0)] if
//!                                                              v has a CHECK OPTION
//! ```
//!
//! The rewrite works on the statement's syntax tree: every reference to a view column (bare, or
//! qualified by the view's name or the statement's alias) becomes the view's expression for
//! it, qualified by that same name, which the rewritten statement gives the base relation as its
//! alias. A view over a view is rewritten again, level by level, until the target is a table.
//! UPDATE and DELETE get the view's WHERE as an extra conjunct, so rows the view does not show
//! are never touched. A column an INSERT does not give takes the base relation's default.
//!
//! `WITH [LOCAL | CASCADED] CHECK OPTION` conditions are collected as PostgreSQL collects its
//! `WithCheckOption`s: a view with the option checks its own condition; CASCADED makes every
//! view beneath it check its condition too. They come back innermost first (PostgreSQL's order,
//! which decides which view a failing row is reported against), for the session to bind over
//! the base row and test on every row the statement writes.
//!
//! Invariant: the loop follows at most [`VIEW_DEPTH_MAX`] views, so a catalog damaged into a
//! cycle cannot hold a statement forever.

use crate::catalog::{CheckOption, ViewDef};
use crate::error::{SqlError, SqlResult};
use crate::expr::ident_name;
use borealis_engine::{Engine, Txn};
use sqlparser::ast::{self, VisitMut, VisitorMut};
use std::ops::ControlFlow;

/// Most views one statement is rewritten through (a view over a view over …).
pub const VIEW_DEPTH_MAX: usize = 64;

/// The statement a view DML is aimed at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    Insert,
    Update,
    Delete,
}

impl Command {
    fn verb(self) -> &'static str {
        match self {
            Command::Insert => "insert into",
            Command::Update => "update",
            Command::Delete => "delete from",
        }
    }

    fn hint(self) -> &'static str {
        match self {
            Command::Insert => {
                "To enable inserting into the view, provide an INSTEAD OF INSERT trigger or an unconditional ON INSERT DO INSTEAD rule."
            }
            Command::Update => {
                "To enable updating the view, provide an INSTEAD OF UPDATE trigger or an unconditional ON UPDATE DO INSTEAD rule."
            }
            Command::Delete => {
                "To enable deleting from the view, provide an INSTEAD OF DELETE trigger or an unconditional ON DELETE DO INSTEAD rule."
            }
        }
    }
}

/// The relation a simple view reads.
#[derive(Clone, Debug)]
pub enum Base {
    Table(crate::catalog::TableDef),
    View(ViewDef),
}

impl Base {
    fn column_names(&self) -> Vec<String> {
        match self {
            Base::Table(t) => t.columns.iter().map(|c| c.name.clone()).collect(),
            Base::View(v) => v.columns.iter().map(|c| c.name.clone()).collect(),
        }
    }
}

/// A simple view, taken apart: what it reads, its columns and its condition.
#[derive(Clone, Debug)]
pub struct Simple {
    /// The relation's (qualified) name, as the view's query names it.
    pub base_name: ast::ObjectName,
    pub base: Base,
    /// Per view column: its expression over the base relation (qualified by the name the
    /// analysis was asked for) and, when it is a plain column reference, that column's index.
    pub columns: Vec<(String, ast::Expr, Option<usize>)>,
    /// The view's WHERE, qualified the same way.
    pub filter: Option<ast::Expr>,
}

/// Why a view is not automatically updatable: PostgreSQL's DETAIL for it.
pub type NotUpdatable = &'static str;

const SINGLE: NotUpdatable =
    "Views that do not select from a single table or view are not automatically updatable.";
const NO_COLUMNS: NotUpdatable =
    "Views that have no updatable columns are not automatically updatable.";
const NOT_BASE_COLUMN: &str =
    "View columns that are not columns of their base relation are not updatable.";

/// Functions that return sets, which make a view's output not updatable.
const SET_RETURNING: &[&str] = &[
    "generate_series",
    "generate_subscripts",
    "unnest",
    "regexp_matches",
    "regexp_split_to_table",
    "json_array_elements",
    "jsonb_array_elements",
    "json_array_elements_text",
    "jsonb_array_elements_text",
    "json_each",
    "jsonb_each",
    "json_each_text",
    "jsonb_each_text",
    "json_object_keys",
    "jsonb_object_keys",
    "jsonb_path_query",
    "json_populate_recordset",
    "jsonb_populate_recordset",
    "json_to_recordset",
    "jsonb_to_recordset",
];

/// Takes `view` apart when it is simple (its expressions qualified by `qualifier`), or says
/// why it is not, in PostgreSQL's words and order of checks.
pub fn analyse(
    engine: &Engine,
    txn: &Txn,
    view: &ViewDef,
    qualifier: &str,
) -> SqlResult<Result<Simple, NotUpdatable>> {
    let q = crate::query::parse_view_query(view)?;
    let ast::SetExpr::Select(s) = &*q.body else {
        return Ok(Err(match &*q.body {
            ast::SetExpr::SetOperation { .. } => {
                "Views containing UNION, INTERSECT, or EXCEPT are not automatically updatable."
            }
            _ => SINGLE,
        }));
    };
    if s.distinct.is_some() {
        return Ok(Err(
            "Views containing DISTINCT are not automatically updatable.",
        ));
    }
    let grouped = match &s.group_by {
        ast::GroupByExpr::All(_) => true,
        ast::GroupByExpr::Expressions(e, _) => !e.is_empty(),
    };
    if grouped {
        return Ok(Err(
            "Views containing GROUP BY are not automatically updatable.",
        ));
    }
    if s.having.is_some() {
        return Ok(Err(
            "Views containing HAVING are not automatically updatable.",
        ));
    }
    if q.with.is_some() {
        return Ok(Err(
            "Views containing WITH are not automatically updatable.",
        ));
    }
    if q.limit_clause.is_some() || q.fetch.is_some() {
        return Ok(Err(
            "Views containing LIMIT or OFFSET are not automatically updatable.",
        ));
    }
    let (aggregates, windows, sets) = output_functions(&s.projection);
    if aggregates {
        return Ok(Err(
            "Views that return aggregate functions are not automatically updatable.",
        ));
    }
    if windows {
        return Ok(Err(
            "Views that return window functions are not automatically updatable.",
        ));
    }
    if sets {
        return Ok(Err(
            "Views that return set-returning functions are not automatically updatable.",
        ));
    }
    let [from] = s.from.as_slice() else {
        return Ok(Err(SINGLE));
    };
    let ast::TableFactor::Table {
        name, alias, args, ..
    } = &from.relation
    else {
        return Ok(Err(SINGLE));
    };
    if !from.joins.is_empty() || args.is_some() {
        return Ok(Err(SINGLE));
    }
    let Some(base) = base_relation(engine, txn, name)? else {
        return Ok(Err(SINGLE));
    };
    let base_columns = base.column_names();
    // The names the view's query calls its relation by.
    let own: Vec<String> = match alias {
        Some(a) => vec![ident_name(&a.name)],
        None => name
            .0
            .last()
            .and_then(ast::ObjectNamePart::as_ident)
            .map(|i| vec![ident_name(i)])
            .unwrap_or_default(),
    };
    let requalify = |e: &ast::Expr| requalify(e, &own, &base_columns, qualifier, true);
    let mut exprs: Vec<(ast::Expr, Option<usize>)> = Vec::new();
    for item in &s.projection {
        match item {
            ast::SelectItem::Wildcard(_) | ast::SelectItem::QualifiedWildcard(..) => {
                for (i, c) in base_columns.iter().enumerate() {
                    exprs.push((qualified(qualifier, c), Some(i)));
                }
            }
            ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
                let column = match e {
                    ast::Expr::Identifier(id) => Some(ident_name(id)),
                    ast::Expr::CompoundIdentifier(parts)
                        if parts.len() >= 2
                            && own.contains(&ident_name(&parts[parts.len() - 2])) =>
                    {
                        parts.last().map(ident_name)
                    }
                    _ => None,
                };
                let index = column.and_then(|c| base_columns.iter().position(|b| *b == c));
                exprs.push((requalify(e), index));
            }
            ast::SelectItem::ExprWithAliases { .. } => return Ok(Err(SINGLE)),
        }
    }
    let columns = view
        .columns
        .iter()
        .zip(exprs)
        .map(|(c, (e, i))| (c.name.clone(), e, i))
        .collect();
    Ok(Ok(Simple {
        base_name: name.clone(),
        base,
        columns,
        filter: s.selection.as_ref().map(requalify),
    }))
}

/// The table or view `name` names, or `None` for any other relation (a catalog, a sequence).
fn base_relation(engine: &Engine, txn: &Txn, name: &ast::ObjectName) -> SqlResult<Option<Base>> {
    let key = match crate::namespace::existing(engine, txn, name) {
        Ok(k) => k,
        Err(_) => return Ok(None),
    };
    if let Some(v) = crate::query::lookup_view(engine, txn, &key)? {
        return Ok(Some(Base::View(v)));
    }
    Ok(crate::query::lookup_table(engine, txn, &key)
        .ok()
        .map(Base::Table))
}

/// Whether the output list calls aggregates, window functions or set-returning functions
/// (outside subqueries, which compute their own).
fn output_functions(items: &[ast::SelectItem]) -> (bool, bool, bool) {
    struct Finder {
        depth: usize,
        found: (bool, bool, bool),
    }
    impl VisitorMut for Finder {
        type Break = ();
        fn pre_visit_query(&mut self, _: &mut ast::Query) -> ControlFlow<()> {
            self.depth += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _: &mut ast::Query) -> ControlFlow<()> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, e: &mut ast::Expr) -> ControlFlow<()> {
            if self.depth == 0
                && let ast::Expr::Function(f) = e
            {
                let name = f
                    .name
                    .0
                    .last()
                    .and_then(ast::ObjectNamePart::as_ident)
                    .map(ident_name)
                    .unwrap_or_default();
                if f.over.is_some() {
                    self.found.1 = true;
                } else if crate::expr::AggFunc::from_name(&name, false).is_some() {
                    self.found.0 = true;
                } else if SET_RETURNING.contains(&name.as_str()) {
                    self.found.2 = true;
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut f = Finder {
        depth: 0,
        found: (false, false, false),
    };
    for item in items {
        let mut item = item.clone();
        let _ = item.visit(&mut f);
    }
    f.found
}

/// `qualifier.column`, both quoted as needed.
fn qualified(qualifier: &str, column: &str) -> ast::Expr {
    ast::Expr::CompoundIdentifier(vec![quoted(qualifier), quoted(column)])
}

/// An identifier that reads back as exactly `name`.
fn quoted(name: &str) -> ast::Ident {
    ast::Ident::with_quote('"', name)
}

/// `e` with its references to `columns` of the relation called `from` (or, with `bare`, not
/// qualified at all) qualified by `to` instead. References inside subqueries are followed only
/// when qualified: a bare name there may be a column of the subquery's own relations.
fn requalify(
    e: &ast::Expr,
    from: &[String],
    columns: &[String],
    to: &str,
    bare: bool,
) -> ast::Expr {
    let mut e = e.clone();
    let mut v = Substitute {
        depth: 0,
        replace: &|q: Option<&str>, c: &str| {
            let ours = match q {
                Some(q) => from.iter().any(|f| f == q),
                None => bare,
            };
            (ours && columns.iter().any(|k| k == c)).then(|| qualified(to, c))
        },
    };
    let _ = e.visit(&mut v);
    e
}

/// Replaces column references: `replace(qualifier, column)` gives the new expression (the
/// qualifier `None` for a bare name, tried only outside subqueries).
struct Substitute<'a> {
    depth: usize,
    replace: &'a dyn Fn(Option<&str>, &str) -> Option<ast::Expr>,
}

impl VisitorMut for Substitute<'_> {
    type Break = ();
    fn pre_visit_query(&mut self, _: &mut ast::Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }
    fn post_visit_query(&mut self, _: &mut ast::Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }
    fn post_visit_expr(&mut self, e: &mut ast::Expr) -> ControlFlow<()> {
        let new = match e {
            ast::Expr::Identifier(id) if self.depth == 0 => (self.replace)(None, &ident_name(id)),
            ast::Expr::CompoundIdentifier(parts) if parts.len() >= 2 => (self.replace)(
                Some(&ident_name(&parts[parts.len() - 2])),
                &ident_name(&parts[parts.len() - 1]),
            ),
            _ => None,
        };
        if let Some(n) = new {
            *e = n;
        }
        ControlFlow::Continue(())
    }
}

/// One level of the rewrite: the view, the name its rows go by in the statement, and the view
/// taken apart.
struct Level {
    view: ViewDef,
    alias: String,
    simple: Simple,
}

impl Level {
    fn open(
        engine: &Engine,
        txn: &Txn,
        view: ViewDef,
        alias: String,
        command: Command,
    ) -> SqlResult<Level> {
        let simple = match analyse(engine, txn, &view, &alias)? {
            Ok(s) if command == Command::Delete || s.columns.iter().any(|c| c.2.is_some()) => s,
            Ok(_) => return Err(not_updatable(&view, command, NO_COLUMNS)),
            Err(detail) => return Err(not_updatable(&view, command, detail)),
        };
        Ok(Level {
            view,
            alias,
            simple,
        })
    }

    /// The view column `name` (`column "…" of relation "v" does not exist` if none).
    fn column(&self, name: &str) -> SqlResult<usize> {
        self.simple
            .columns
            .iter()
            .position(|c| c.0 == name)
            .ok_or_else(|| {
                SqlError::UndefinedColumn(format!("{name}\" of relation \"{}", self.view.name))
            })
    }

    /// The base column that view column `i` writes, or 0A000 naming the command.
    fn target(&self, i: usize, verb: &str) -> SqlResult<ast::Ident> {
        match self.simple.columns[i].2 {
            Some(b) => Ok(quoted(&self.simple.base.column_names()[b])),
            None => Err(SqlError::NotSupportedDetail {
                message: format!(
                    "cannot {verb} column \"{}\" of view \"{}\"",
                    self.simple.columns[i].0, self.view.name
                ),
                detail: NOT_BASE_COLUMN.into(),
                hint: String::new(),
            }),
        }
    }

    /// `e` over the view's columns (called by `quals`, or bare) made over the base relation's.
    fn substitute(&self, e: &ast::Expr, quals: &[&str], to: &str) -> ast::Expr {
        let mut e = e.clone();
        let cols = &self.simple.columns;
        let alias = self.alias.clone();
        let base = self.simple.base.column_names();
        let mut v = Substitute {
            depth: 0,
            replace: &|q: Option<&str>, c: &str| {
                if q.is_some_and(|q| !quals.contains(&q)) {
                    return None;
                }
                let col = cols.iter().find(|k| k.0 == c)?;
                let expr = if to == alias {
                    col.1.clone()
                } else {
                    requalify(&col.1, std::slice::from_ref(&alias), &base, to, false)
                };
                Some(ast::Expr::Nested(Box::new(expr)))
            },
        };
        let _ = e.visit(&mut v);
        e
    }

    /// `e` as the statement's own expressions are rewritten.
    fn rewrite(&self, e: &ast::Expr) -> ast::Expr {
        self.substitute(e, &[self.alias.as_str()], &self.alias)
    }

    /// The view's columns, named as the view names them (what `*` means in RETURNING).
    fn star(&self) -> Vec<ast::SelectItem> {
        self.simple
            .columns
            .iter()
            .map(|(n, e, _)| ast::SelectItem::ExprWithAlias {
                expr: e.clone(),
                alias: quoted(n),
            })
            .collect()
    }

    /// RETURNING items rewritten; `others` are the names of the statement's other relations
    /// (FROM / USING), whose columns a bare `*` includes after the view's.
    fn returning(&self, items: &[ast::SelectItem], others: &[String]) -> Vec<ast::SelectItem> {
        let mut out = Vec::new();
        for item in items {
            match item {
                ast::SelectItem::Wildcard(o) => {
                    out.extend(self.star());
                    for n in others {
                        out.push(ast::SelectItem::QualifiedWildcard(
                            ast::SelectItemQualifiedWildcardKind::ObjectName(
                                ast::ObjectName::from(vec![quoted(n)]),
                            ),
                            o.clone(),
                        ));
                    }
                }
                ast::SelectItem::QualifiedWildcard(
                    ast::SelectItemQualifiedWildcardKind::ObjectName(n),
                    _,
                ) if n
                    .0
                    .last()
                    .and_then(ast::ObjectNamePart::as_ident)
                    .is_some_and(|i| ident_name(i) == self.alias) =>
                {
                    out.extend(self.star());
                }
                ast::SelectItem::UnnamedExpr(e) => {
                    let new = self.rewrite(e);
                    if new == *e {
                        out.push(item.clone());
                    } else {
                        out.push(ast::SelectItem::ExprWithAlias {
                            expr: new,
                            alias: quoted(&crate::query::output_name(e)),
                        });
                    }
                }
                ast::SelectItem::ExprWithAlias { expr, alias } => {
                    out.push(ast::SelectItem::ExprWithAlias {
                        expr: self.rewrite(expr),
                        alias: alias.clone(),
                    });
                }
                other => out.push(other.clone()),
            }
        }
        out
    }

    /// `SET` assignments rewritten onto the base relation's columns. A view column without a
    /// default set to DEFAULT becomes NULL, as in PostgreSQL.
    fn assignments(&self, assignments: &[ast::Assignment]) -> SqlResult<Vec<ast::Assignment>> {
        let mut out = Vec::with_capacity(assignments.len());
        for a in assignments {
            let ast::AssignmentTarget::ColumnName(cn) = &a.target else {
                return Err(SqlError::FeatureNotSupported("tuple assignment".into()));
            };
            let name = crate::expr::object_name(cn)?;
            let i = self.column(&name)?;
            let target = self.target(i, "update")?;
            let value = if is_default(&a.value) {
                ast::Expr::Value(ast::Value::Null.into())
            } else {
                self.rewrite(&a.value)
            };
            out.push(ast::Assignment {
                target: ast::AssignmentTarget::ColumnName(ast::ObjectName::from(vec![target])),
                value,
            });
        }
        Ok(out)
    }

    /// The statement's WHERE with the view's condition added.
    fn selection(&self, selection: Option<&ast::Expr>) -> Option<ast::Expr> {
        let own = selection.map(|w| self.rewrite(w));
        match (own, &self.simple.filter) {
            (Some(w), Some(f)) => Some(ast::Expr::BinaryOp {
                left: Box::new(ast::Expr::Nested(Box::new(w))),
                op: ast::BinaryOperator::And,
                right: Box::new(ast::Expr::Nested(Box::new(f.clone()))),
            }),
            (Some(w), None) => Some(w),
            (None, f) => f.clone(),
        }
    }

    /// The target relation the rewritten statement names, under the level's alias.
    fn relation(&self) -> ast::TableFactor {
        ast::TableFactor::Table {
            name: self.simple.base_name.clone(),
            alias: Some(ast::TableAlias {
                explicit: true,
                name: quoted(&self.alias),
                columns: Vec::new(),
                at: None,
            }),
            args: None,
            with_hints: Vec::new(),
            version: None,
            with_ordinality: false,
            partitions: Vec::new(),
            json_path: None,
            sample: None,
            index_hints: Vec::new(),
        }
    }

    /// The next view down, if the base relation is one.
    fn next_view(&self) -> Option<ViewDef> {
        match &self.simple.base {
            Base::View(v) => Some(v.clone()),
            Base::Table(_) => None,
        }
    }
}

fn is_default(e: &ast::Expr) -> bool {
    matches!(e, ast::Expr::Identifier(id) if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("default"))
}

/// PostgreSQL's 55000 for a view that is not automatically updatable.
fn not_updatable(view: &ViewDef, command: Command, detail: NotUpdatable) -> SqlError {
    SqlError::ViewNotUpdatable {
        message: format!("cannot {} view \"{}\"", command.verb(), view.name),
        detail: detail.into(),
        hint: command.hint().into(),
    }
}

/// CHECK OPTION conditions, as PostgreSQL collects them while it goes down through the views.
#[derive(Default)]
struct Checks {
    /// Innermost first: (view name, condition over the base relation).
    list: Vec<(String, ast::Expr)>,
    /// Whether the last view with a check option above this level had CASCADED.
    cascaded: bool,
}

impl Checks {
    fn add(&mut self, level: &Level) {
        let mut has = level.view.check_option.is_some();
        let mut cascaded = level.view.check_option == Some(CheckOption::Cascaded);
        if self.cascaded {
            has = true;
            cascaded = true;
        }
        if has && (cascaded || level.simple.filter.is_some()) {
            if let Some(f) = &level.simple.filter {
                self.list.insert(0, (level.view.name.clone(), f.clone()));
            }
            self.cascaded = cascaded;
        }
    }
}

/// A DML statement on a view, rewritten onto a table.
pub struct Rewritten<S> {
    pub statement: S,
    /// The name the table's rows go by in the statement (the alias it was given).
    pub alias: String,
    /// CHECK OPTION conditions over the table's row: (view name, condition), innermost first.
    pub checks: Vec<(String, ast::Expr)>,
}

fn bare_name(name: &ast::ObjectName) -> String {
    name.0
        .last()
        .and_then(ast::ObjectNamePart::as_ident)
        .map(ident_name)
        .unwrap_or_default()
}

/// The names the relations of FROM / USING go by.
fn relation_names(from: &[ast::TableWithJoins]) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |f: &ast::TableFactor| match f {
        ast::TableFactor::Table { alias: Some(a), .. }
        | ast::TableFactor::Derived { alias: Some(a), .. } => out.push(ident_name(&a.name)),
        ast::TableFactor::Table { name, .. } => out.push(bare_name(name)),
        _ => {}
    };
    for t in from {
        add(&t.relation);
        for j in &t.joins {
            add(&j.relation);
        }
    }
    out
}

/// Follows the views from `view` down, one [`Level`] each.
fn levels(
    engine: &Engine,
    txn: &Txn,
    view: ViewDef,
    alias: String,
    command: Command,
    mut each: impl FnMut(&Level) -> SqlResult<()>,
) -> SqlResult<(Vec<(String, ast::Expr)>, ast::ObjectName)> {
    let mut checks = Checks::default();
    let mut next = Some(view);
    let mut base = None;
    for _ in 0..VIEW_DEPTH_MAX {
        let Some(v) = next.take() else { break };
        let level = Level::open(engine, txn, v, alias.clone(), command)?;
        each(&level)?;
        checks.add(&level);
        next = level.next_view();
        base = Some(level.simple.base_name.clone());
    }
    match (next, base) {
        (None, Some(b)) => Ok((checks.list, b)),
        _ => Err(SqlError::ProgramLimitExceeded(format!(
            "views nested more than {VIEW_DEPTH_MAX} deep"
        ))),
    }
}

/// INSERT into `view`: `given` is how many values each source row holds (the columns an
/// INSERT without a column list fills, in the view's order).
pub fn insert(
    engine: &Engine,
    txn: &Txn,
    view: ViewDef,
    ins: &ast::Insert,
    given: usize,
) -> SqlResult<Rewritten<ast::Insert>> {
    let alias = match &ins.table_alias {
        Some(a) => ident_name(&a.alias),
        None => view.name.clone(),
    };
    let mut out = ins.clone();
    // The view's columns the statement names, as names.
    let mut names: Vec<String> = if ins.columns.is_empty() {
        view.columns
            .iter()
            .take(given)
            .map(|c| c.name.clone())
            .collect()
    } else {
        ins.columns
            .iter()
            .map(crate::expr::object_name)
            .collect::<SqlResult<_>>()?
    };
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(SqlError::DuplicateColumn(n.clone()));
        }
    }
    let (checks, base) = levels(engine, txn, view, alias.clone(), Command::Insert, |level| {
        let mut targets = Vec::with_capacity(names.len());
        for n in &names {
            let i = level.column(n)?;
            targets.push(level.target(i, "insert into")?);
        }
        names = targets.iter().map(ident_name).collect();
        if let Some(r) = &out.returning {
            out.returning = Some(level.returning(r, &[]));
        }
        if let Some(ast::OnInsert::OnConflict(oc)) = &mut out.on {
            if let Some(ast::ConflictTarget::Columns(cols)) = &mut oc.conflict_target {
                for c in cols.iter_mut() {
                    let name = ident_name(c);
                    let i = level
                        .simple
                        .columns
                        .iter()
                        .position(|k| k.0 == name)
                        .ok_or_else(|| SqlError::UndefinedColumn(name.clone()))?;
                    *c = level.target(i, "insert into")?;
                }
            }
            if let ast::OnConflictAction::DoUpdate(du) = &mut oc.action {
                du.assignments = level.assignments(&du.assignments)?;
                for a in &mut du.assignments {
                    a.value = level.substitute(&a.value, &["excluded"], "excluded");
                }
                du.selection = du
                    .selection
                    .as_ref()
                    .map(|w| level.substitute(&level.rewrite(w), &["excluded"], "excluded"));
            }
        }
        Ok(())
    })?;
    out.table = ast::TableObject::TableName(base);
    out.table_alias = Some(ast::TableAliasWithoutColumns {
        explicit: true,
        alias: quoted(&alias),
    });
    out.columns = names
        .iter()
        .map(|n| ast::ObjectName::from(vec![quoted(n)]))
        .collect();
    Ok(Rewritten {
        statement: out,
        alias,
        checks,
    })
}

/// UPDATE of `view`, whose name or alias in the statement is `alias`.
pub fn update(
    engine: &Engine,
    txn: &Txn,
    view: ViewDef,
    alias: String,
    u: &ast::Update,
) -> SqlResult<Rewritten<ast::Update>> {
    let mut out = u.clone();
    let others = match &u.from {
        Some(ast::UpdateTableFromKind::AfterSet(f) | ast::UpdateTableFromKind::BeforeSet(f)) => {
            relation_names(f)
        }
        None => Vec::new(),
    };
    let mut relation = None;
    let (checks, _) = levels(engine, txn, view, alias.clone(), Command::Update, |level| {
        out.assignments = level.assignments(&out.assignments)?;
        out.selection = level.selection(out.selection.as_ref());
        if let Some(r) = &out.returning {
            out.returning = Some(level.returning(r, &others));
        }
        relation = Some(level.relation());
        Ok(())
    })?;
    if let Some(r) = relation {
        out.table.relation = r;
    }
    Ok(Rewritten {
        statement: out,
        alias,
        checks,
    })
}

/// DELETE from `view`, whose name or alias in the statement is `alias`.
pub fn delete(
    engine: &Engine,
    txn: &Txn,
    view: ViewDef,
    alias: String,
    d: &ast::Delete,
) -> SqlResult<Rewritten<ast::Delete>> {
    let mut out = d.clone();
    let others = d.using.as_deref().map(relation_names).unwrap_or_default();
    let mut relation = None;
    let (checks, _) = levels(engine, txn, view, alias.clone(), Command::Delete, |level| {
        out.selection = level.selection(out.selection.as_ref());
        if let Some(r) = &out.returning {
            out.returning = Some(level.returning(r, &others));
        }
        relation = Some(level.relation());
        Ok(())
    })?;
    if let Some(r) = relation {
        match &mut out.from {
            ast::FromTable::WithFromKeyword(f) | ast::FromTable::WithoutKeyword(f) => {
                if let Some(first) = f.first_mut() {
                    first.relation = r;
                }
            }
        }
    }
    Ok(Rewritten {
        statement: out,
        alias,
        checks,
    })
}

/// What PostgreSQL's `pg_relation_is_updatable` reports for a view (limited to the view
/// columns `include`, all when `None`): (INSERT and UPDATE, DELETE).
pub fn events(
    engine: &Engine,
    txn: &Txn,
    view: &ViewDef,
    include: Option<&[usize]>,
) -> SqlResult<(bool, bool)> {
    events_at(engine, txn, view, include, 0)
}

fn events_at(
    engine: &Engine,
    txn: &Txn,
    view: &ViewDef,
    include: Option<&[usize]>,
    depth: usize,
) -> SqlResult<(bool, bool)> {
    if depth >= VIEW_DEPTH_MAX {
        return Ok((false, false));
    }
    let Ok(simple) = analyse(engine, txn, view, &view.name)? else {
        return Ok((false, false));
    };
    let mapped: Vec<usize> = simple
        .columns
        .iter()
        .enumerate()
        .filter(|(i, _)| include.is_none_or(|inc| inc.contains(i)))
        .filter_map(|(_, c)| c.2)
        .collect();
    match &simple.base {
        Base::Table(_) => Ok((!mapped.is_empty(), true)),
        Base::View(inner) => {
            let (write, delete) = events_at(engine, txn, inner, Some(&mapped), depth + 1)?;
            Ok((write && !mapped.is_empty(), delete))
        }
    }
}

/// Whether `view` can take a CHECK OPTION (it must be automatically updatable): the reason
/// it cannot, in PostgreSQL's words, if not.
pub fn check_option_refusal(
    engine: &Engine,
    txn: &Txn,
    view: &ViewDef,
) -> SqlResult<Option<NotUpdatable>> {
    Ok(match analyse(engine, txn, view, &view.name)? {
        Ok(s) if s.columns.iter().any(|c| c.2.is_some()) => None,
        Ok(_) => Some(NO_COLUMNS),
        Err(why) => Some(why),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expr(text: &str) -> ast::Expr {
        sqlparser::parser::Parser::new(&sqlparser::dialect::PostgreSqlDialect {})
            .try_with_sql(text)
            .unwrap()
            .parse_expr()
            .unwrap()
    }

    #[test]
    fn requalify_follows_bare_names_only_outside_subqueries() {
        let cols = vec!["a".to_string(), "b".to_string()];
        let e = expr("a + t.b + x.a + (SELECT a FROM u WHERE u.z = t.a)");
        let got = requalify(&e, &["t".into()], &cols, "v", true).to_string();
        assert_eq!(
            got,
            "\"v\".\"a\" + \"v\".\"b\" + x.a + (SELECT a FROM u WHERE u.z = \"v\".\"a\")"
        );
    }

    #[test]
    fn cascaded_check_options_reach_every_view_beneath() {
        let view = |name: &str, check: Option<CheckOption>| ViewDef {
            name: name.into(),
            schema: "public".into(),
            oid: 1,
            sql: String::new(),
            columns: Vec::new(),
            depends: None,
            check_option: check,
        };
        let level = |v: ViewDef, filter: bool| Level {
            view: v,
            alias: "x".into(),
            simple: Simple {
                base_name: ast::ObjectName::from(vec![quoted("t")]),
                base: Base::View(view("t", None)),
                columns: Vec::new(),
                filter: filter.then(|| expr("x.a > 0")),
            },
        };
        // Outermost first: a CASCADED view over a plain view over a LOCAL one.
        let mut c = Checks::default();
        c.add(&level(view("top", Some(CheckOption::Cascaded)), true));
        c.add(&level(view("mid", None), true));
        c.add(&level(view("low", Some(CheckOption::Local)), true));
        let names: Vec<&str> = c.list.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(names, ["low", "mid", "top"]);
        // LOCAL checks only its own condition (and those of views with their own option).
        let mut c = Checks::default();
        c.add(&level(view("top", Some(CheckOption::Local)), true));
        c.add(&level(view("mid", None), true));
        c.add(&level(view("low", Some(CheckOption::Local)), true));
        let names: Vec<&str> = c.list.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(names, ["low", "top"]);
    }

    #[test]
    fn refusals_carry_postgresql_hints() {
        let v = ViewDef {
            name: "v".into(),
            schema: "public".into(),
            oid: 1,
            sql: String::new(),
            columns: Vec::new(),
            depends: None,
            check_option: None,
        };
        let SqlError::ViewNotUpdatable {
            message,
            detail,
            hint,
        } = not_updatable(&v, Command::Delete, SINGLE)
        else {
            panic!("wrong error");
        };
        assert_eq!(message, "cannot delete from view \"v\"");
        assert_eq!(detail, SINGLE);
        assert!(hint.starts_with("To enable deleting from the view"));
    }
}
