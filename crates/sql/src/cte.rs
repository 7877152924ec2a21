//! Top-level WITH over data-modifying statements: `WITH … INSERT / UPDATE / DELETE`, and
//! `INSERT / UPDATE / DELETE … RETURNING` as CTEs (`WITH moved AS (DELETE … RETURNING *)
//! INSERT INTO b SELECT * FROM moved`), as PostgreSQL 15 runs them.
//!
//! A child of the session module: it runs the sub-statements with the session's own
//! INSERT / UPDATE / DELETE.
//!
//! ```text
//!   WITH a AS (SELECT …), d AS (DELETE … RETURNING *), i AS (INSERT … RETURNING id)  main
//!        │                 │                            │                             │
//!        │ bound in place  ├─ runs once, first ──► rows ┤                             │
//!        │ where referenced│   (sees a)                 ├─ runs once ──► rows         │
//!        │                 │                            │   (sees a, d's rows)        │
//!        └─────────────────┴────────────────────────────┴──── all in scope ──────────►┘
//! ```
//!
//! Invariants, as in PostgreSQL:
//! - each data-modifying CTE runs exactly once, to completion, in the order written, whether or
//!   not anything reads its output; a reference to it reads the rows its RETURNING produced
//!   (one without RETURNING may not be referenced: 0A000);
//! - a WITH holding a data-modifying statement is only allowed at the top level (the binder
//!   refuses any other, [`crate::query`]); a WITH RECURSIVE term that refers to itself may not
//!   be data-modifying (42P19);
//! - every part of the statement reads the state from before the statement: none sees another's
//!   changes to the tables, only its RETURNING rows. A transaction here sees its own writes at
//!   once, so the parts run inside a savepoint and the writes of each data-modifying CTE are set
//!   aside ([`borealis_engine::Engine::set_aside`], keeping its row locks) as soon as it has
//!   run; after the main statement they are put back. Where that cannot give PostgreSQL's
//!   answer the statement is refused (0A000) rather than answered differently: two parts
//!   writing the same row (PostgreSQL keeps the first change and skips the later ones); a
//!   unique violation in a part run while others' writes are set aside (the row it meets may be
//!   one PostgreSQL would count as already changed); parts changing tables linked by a foreign
//!   key (PostgreSQL checks those at the end of the statement, over every part's changes).
//!
//! ```text
//!   savepoint ─ CTE d runs ─ set aside ─ CTE i runs ─ set aside ─ main runs ─ put back d, i
//!               (pre-state)              (pre-state)              (pre-state)
//! ```

use super::{Output, Session};
use crate::catalog::TableDef;
use crate::error::{SqlError, SqlResult};
use crate::query::{
    ColumnInfo, CteRows, Resolved, data_modifying, resolve_relation, with_top_level_ctes,
};
use crate::types::{DataType, Value};
use borealis_engine::{SavepointId, Txn};
use sqlparser::ast;
use std::ops::ControlFlow;
use std::rc::Rc;

/// Whether `q` is a statement this module runs: a WITH before INSERT / UPDATE / DELETE, or a
/// WITH holding a data-modifying CTE.
pub(super) fn is_data_modifying_with(q: &ast::Query) -> bool {
    data_modifying(q).is_some()
        || q.with.as_ref().is_some_and(|w| {
            w.cte_tables
                .iter()
                .any(|c| data_modifying(&c.query).is_some())
        })
}

/// The command a read-only transaction refuses for such a statement: its main statement's, as
/// PostgreSQL names it.
pub(super) fn write_command(q: &ast::Query) -> &'static str {
    match data_modifying(q) {
        Some(ast::Statement::Insert(_)) => "INSERT",
        Some(ast::Statement::Update(_)) => "UPDATE",
        Some(ast::Statement::Delete(_)) => "DELETE",
        _ => "SELECT",
    }
}

/// The statement of data-modifying CTE `cte`, refusing what PostgreSQL refuses.
fn cte_statement<'q>(with: &ast::With, cte: &'q ast::Cte) -> SqlResult<Option<&'q ast::Statement>> {
    let Some(stmt) = data_modifying(&cte.query) else {
        return Ok(None);
    };
    if let Some(inner) = &cte.query.with {
        // Its own WITH may hold only queries, as any WITH below the top level.
        if inner
            .cte_tables
            .iter()
            .any(|c| data_modifying(&c.query).is_some())
        {
            return Err(SqlError::NotSupported(
                "WITH clause containing a data-modifying statement must be at the top level".into(),
            ));
        }
    }
    let name = crate::expr::ident_name(&cte.alias.name);
    if with.recursive
        && relation_names(stmt)
            .iter()
            .any(|n| single_name(n).as_ref() == Some(&name))
    {
        return Err(SqlError::Syntax(format!(
            "recursive query \"{name}\" must not contain data-modifying statements"
        )));
    }
    Ok(Some(stmt))
}

/// Runs `f` with the CTEs of `inner` (a data-modifying CTE's own WITH, of queries only) in
/// scope.
fn within<R>(inner: Option<&ast::With>, f: impl FnOnce() -> SqlResult<R>) -> SqlResult<R> {
    match inner {
        Some(w) => with_top_level_ctes(w, w.cte_tables.len(), &vec![None; w.cte_tables.len()], f),
        None => f(),
    }
}

/// A top-level WITH with its data-modifying statements, by CTE position.
struct Parts<'q> {
    with: &'q ast::With,
    statements: Vec<Option<&'q ast::Statement>>,
}

/// Every relation name `v` mentions (FROM items, DML targets, subqueries' too).
fn relation_names<V: ast::Visit>(v: &V) -> Vec<ast::ObjectName> {
    let mut names = Vec::new();
    let _ = ast::visit_relations(v, |n| {
        names.push(n.clone());
        ControlFlow::<()>::Continue(())
    });
    names
}

/// The name of a one-part relation name (a CTE reference can only be one), folded as an
/// identifier.
fn single_name(n: &ast::ObjectName) -> Option<String> {
    match n.0.as_slice() {
        [part] => part.as_ident().map(crate::expr::ident_name),
        _ => None,
    }
}

/// The target table of INSERT / UPDATE / DELETE `stmt`.
fn target_name(stmt: &ast::Statement) -> Option<&ast::ObjectName> {
    let factor = match stmt {
        ast::Statement::Insert(ins) => {
            return match &ins.table {
                ast::TableObject::TableName(n) => Some(n),
                _ => None,
            };
        }
        ast::Statement::Update(u) => &u.table.relation,
        ast::Statement::Delete(d) => match &d.from {
            ast::FromTable::WithFromKeyword(f) | ast::FromTable::WithoutKeyword(f) => {
                &f.first()?.relation
            }
        },
        _ => return None,
    };
    match factor {
        ast::TableFactor::Table { name, .. } => Some(name),
        _ => None,
    }
}

impl Session {
    /// Runs a statement for which [`is_data_modifying_with`] holds: the data-modifying CTEs
    /// first, in order, each once, then the main statement with every CTE in scope. Each part
    /// reads the state from before the statement: the writes of each data-modifying CTE are set
    /// aside once it has run, and put back after the main statement.
    pub(super) fn run_data_modifying_with(
        &mut self,
        txn: &mut Txn,
        q: &ast::Query,
        params: &[Value],
    ) -> SqlResult<Output> {
        self.run_with_parts(txn, q, params, &mut |s, txn, body| {
            s.run_main(txn, body, params)
        })
    }

    /// `CREATE TABLE … AS` over a query for which [`is_data_modifying_with`] holds: the table
    /// is created and filled by the main statement.
    pub(super) fn create_table_as_data_modifying(
        &mut self,
        txn: &mut Txn,
        ct: &ast::CreateTable,
        q: &ast::Query,
    ) -> SqlResult<Output> {
        self.run_with_parts(txn, q, &[], &mut |s, txn, body| {
            let mut ct = ct.clone();
            ct.query = Some(Box::new(body.clone()));
            s.create_table(txn, &ct)
        })
    }

    /// Runs the parts of `q` (see [`run_data_modifying_with`](Self::run_data_modifying_with)),
    /// its main statement by `main`, given `q` without its WITH.
    fn run_with_parts(
        &mut self,
        txn: &mut Txn,
        q: &ast::Query,
        params: &[Value],
        main: &mut dyn FnMut(&mut Self, &mut Txn, &ast::Query) -> SqlResult<Output>,
    ) -> SqlResult<Output> {
        // The statement is bound here, part by part: a plan cached for the whole query does
        // not apply.
        self.plan_slot = None;
        let mut body = q.clone();
        body.with = None;
        let Some(with) = q.with.as_ref() else {
            return main(self, txn, &body);
        };
        let mut parts = Vec::new();
        for cte in &with.cte_tables {
            parts.push(cte_statement(with, cte)?);
        }
        if parts.iter().all(Option::is_none) {
            let returned = vec![None; parts.len()];
            return with_top_level_ctes(with, parts.len(), &returned, || main(self, txn, &body));
        }
        self.refuse_foreign_keys_across_parts(txn, &parts, q)?;
        let sp = self.db.engine.savepoint(txn);
        let parts = Parts {
            with,
            statements: parts,
        };
        let out = self.run_parts(txn, &parts, &body, params, sp, main);
        if out.is_err() {
            self.db.engine.rollback_to(txn, sp)?;
        }
        self.db.engine.release_savepoint(txn, sp)?;
        out
    }

    /// [`run_data_modifying_with`](Self::run_data_modifying_with)'s parts, inside savepoint
    /// `sp`.
    fn run_parts(
        &mut self,
        txn: &mut Txn,
        parts: &Parts<'_>,
        body: &ast::Query,
        params: &[Value],
        sp: SavepointId,
        main: &mut dyn FnMut(&mut Self, &mut Txn, &ast::Query) -> SqlResult<Output>,
    ) -> SqlResult<Output> {
        let (with, parts) = (parts.with, &parts.statements);
        let mut returned: Vec<Option<Rc<CteRows>>> = vec![None; parts.len()];
        let mut aside = Vec::new();
        for (k, stmt) in parts.iter().enumerate() {
            let Some(stmt) = stmt else {
                continue;
            };
            let inner = with.cte_tables[k].query.with.as_ref();
            let out = with_top_level_ctes(with, k, &returned, || {
                within(inner, || self.run_modifying(txn, stmt, params))
            })
            .map_err(|e| behind_aside(e, !aside.is_empty()))?;
            aside.push(self.db.engine.set_aside(txn, sp)?);
            returned[k] = Some(Rc::new(match out {
                Output::Returning { columns, rows, .. } => CteRows {
                    returning: true,
                    columns,
                    rows,
                },
                _ => CteRows {
                    returning: false,
                    columns: Vec::new(),
                    rows: Vec::new(),
                },
            }));
        }
        let out = with_top_level_ctes(with, parts.len(), &returned, || main(self, txn, body))
            .map_err(|e| behind_aside(e, !aside.is_empty()))?;
        for a in aside {
            if let Err(tree) = self.db.engine.put_back(txn, a) {
                let table = crate::catalog_views::user_tables(&self.db.engine, txn)?
                    .into_iter()
                    .find(|t| t.tree == tree || t.indexes.iter().any(|i| i.tree == tree))
                    .map_or_else(|| "?".to_string(), |t| t.name);
                return Err(SqlError::NotSupported(format!(
                    "parts of a statement with data-modifying WITH queries change the same row \
                     of table \"{table}\""
                )));
            }
        }
        Ok(out)
    }

    /// Main statement `body` (the CTEs of its WITH in scope).
    fn run_main(
        &mut self,
        txn: &mut Txn,
        body: &ast::Query,
        params: &[Value],
    ) -> SqlResult<Output> {
        match data_modifying(body) {
            Some(stmt) => self.run_modifying(txn, stmt, params),
            None => self.run(txn, &ast::Statement::Query(Box::new(body.clone())), params),
        }
    }

    /// The result columns of such a statement, bound without running anything (a
    /// data-modifying CTE is taken to return no rows).
    pub(super) fn describe_data_modifying_with(
        &self,
        txn: &Txn,
        q: &ast::Query,
        params: &mut Vec<Option<DataType>>,
    ) -> SqlResult<Vec<ColumnInfo>> {
        let with = q.with.as_ref();
        let ctes = with.map_or(&[][..], |w| &w.cte_tables[..]);
        let mut returned: Vec<Option<Rc<CteRows>>> = vec![None; ctes.len()];
        if let Some(with) = with {
            for (k, cte) in ctes.iter().enumerate() {
                let Some(stmt) = cte_statement(with, cte)? else {
                    continue;
                };
                let inner = cte.query.with.as_ref();
                let columns = with_top_level_ctes(with, k, &returned, || {
                    within(inner, || self.bind_only(txn, stmt, params))
                })?;
                returned[k] = Some(Rc::new(CteRows {
                    returning: returning_of(stmt),
                    columns,
                    rows: Vec::new(),
                }));
            }
        }
        let mut body = q.clone();
        body.with = None;
        let mut main = || match data_modifying(&body) {
            Some(stmt) => self.bind_only(txn, stmt, params),
            None => self.bind_only(txn, &ast::Statement::Query(Box::new(body.clone())), params),
        };
        match with {
            Some(with) => with_top_level_ctes(with, ctes.len(), &returned, main),
            None => main(),
        }
    }

    /// Runs INSERT / UPDATE / DELETE `stmt`.
    fn run_modifying(
        &mut self,
        txn: &mut Txn,
        stmt: &ast::Statement,
        params: &[Value],
    ) -> SqlResult<Output> {
        match stmt {
            ast::Statement::Insert(ins) => self.insert(txn, ins, params),
            ast::Statement::Update(u) => self.update(txn, u, params),
            ast::Statement::Delete(d) => self.delete(txn, d, params),
            other => Err(SqlError::FeatureNotSupported(format!("{other} in WITH"))),
        }
    }

    /// Refuses the statement when one part changes a table that a foreign key links to a table
    /// another part changes (or to itself, when two parts change it): each part checks its
    /// foreign keys against the state from before the statement, where PostgreSQL checks them
    /// at its end, over every part's changes.
    fn refuse_foreign_keys_across_parts(
        &self,
        txn: &Txn,
        parts: &[Option<&ast::Statement>],
        q: &ast::Query,
    ) -> SqlResult<()> {
        let tables = crate::catalog_views::user_tables(&self.db.engine, txn)?;
        let main = data_modifying(q);
        let mut changed: Vec<Vec<&TableDef>> = Vec::new();
        for stmt in parts.iter().flatten().copied().chain(main) {
            let Some(target) = target_name(stmt) else {
                continue;
            };
            if let Ok(Resolved::Table(def)) = resolve_relation(&self.db.engine, txn, target) {
                let cascades = !matches!(stmt, ast::Statement::Insert(_));
                changed.push(changed_tables(&tables, &def, cascades));
            }
        }
        let linked = |a: &TableDef, b: &TableDef| {
            a.foreign_keys.iter().any(|f| f.ref_table == b.name)
                || b.foreign_keys.iter().any(|f| f.ref_table == a.name)
        };
        for (i, x) in changed.iter().enumerate() {
            for y in &changed[i + 1..] {
                for a in x {
                    if let Some(b) = y.iter().find(|b| linked(a, b)) {
                        return Err(SqlError::NotSupported(format!(
                            "data-modifying WITH queries that change tables linked by a foreign \
                             key (\"{}\" and \"{}\") in the same statement",
                            a.name, b.name
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Error `e` of a part run while earlier parts' writes are set aside (`aside`). A unique
/// violation there may be with a row an earlier part deleted or changed, which PostgreSQL
/// would not count (that part's change is its own): refused rather than reported.
fn behind_aside(e: SqlError, aside: bool) -> SqlError {
    match e {
        SqlError::UniqueViolation { .. } if aside => SqlError::NotSupported(
            "a unique key written next to a data-modifying WITH query that changes the same \
             table"
                .into(),
        ),
        e => e,
    }
}

/// Whether INSERT / UPDATE / DELETE `stmt` has a RETURNING clause.
fn returning_of(stmt: &ast::Statement) -> bool {
    match stmt {
        ast::Statement::Insert(ins) => ins.returning.is_some(),
        ast::Statement::Update(u) => u.returning.is_some(),
        ast::Statement::Delete(d) => d.returning.is_some(),
        _ => false,
    }
}

/// The tables a change of `def` may change: itself and, for UPDATE and DELETE (`cascades`),
/// the tables whose foreign keys reference it, transitively (their referential actions).
fn changed_tables<'t>(tables: &'t [TableDef], def: &TableDef, cascades: bool) -> Vec<&'t TableDef> {
    let mut out: Vec<&TableDef> = tables.iter().filter(|t| t.oid == def.oid).collect();
    if !cascades {
        return out;
    }
    let mut next = 0;
    while next < out.len() {
        let name = out[next].name.clone();
        for t in tables {
            if t.foreign_keys.iter().any(|f| f.ref_table == name)
                && !out.iter().any(|o| o.oid == t.oid)
            {
                out.push(t);
            }
        }
        next += 1;
    }
    out
}
