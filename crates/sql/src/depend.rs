//! What depends on what: views on the relations (and columns) they read, foreign keys on the
//! tables they reference, a schema's relations on their schema — and what a DROP must refuse,
//! or take with it under CASCADE, because of it.
//!
//! A view records what its query reads when it is created (PostgreSQL's `pg_depend` rows of
//! the view's `_RETURN` rule, kept in the view's catalog entry: see
//! [`crate::catalog::ViewDef::depends`]): every column it reads by its number, and a relation
//! it reads no column of as a whole. Dependencies name relations by OID, which moving a
//! relation to another schema or renaming its schema does not change. A view created before
//! dependencies were recorded has none stored; they are computed from its query when asked
//! ([`of_view`]), so older catalogs work unchanged.
//!
//! A column default that calls a sequence (`nextval('s'::regclass)`) depends on it
//! (PostgreSQL's `pg_depend` row of the `pg_attrdef` entry; [`default_sequences`] reads the
//! calls from the stored expression), so `DROP SEQUENCE` refuses or, under CASCADE, drops the
//! default and keeps the column. A view's stored query names columns as written, so a column
//! rename is followed into the views that read it by rewriting their queries
//! ([`rename_column_in_query`]): the recorded dependencies (by column number) say which views
//! to rewrite, and the rewrite keeps each view's output names. A relation's rename is followed
//! by name too: the session rewrites the relation names of the views' queries, and
//! [`rename_sequence_in_default`] the sequence a default calls.
//!
//! A DROP walks the dependents of what it drops the way PostgreSQL's `findDependentObjects`
//! does, so that its error DETAIL and its CASCADE notice list the same objects in the same
//! order:
//!
//! ```text
//!   visit(x): for each direct dependent d of x, by OID descending, not yet visited:
//!                 visit(d), remembering that d was reached through x
//!             append x                                   (post-order)
//!   report:   the post-order reversed, without the objects dropped by name
//! ```

use crate::catalog::{Dependency, TableDef, ViewDef};
use crate::error::SqlResult;
use crate::sequence::SequenceDef;
use borealis_engine::{Engine, Txn};
use sqlparser::ast;

/// Most objects one DROP walks (every view and constraint of a catalog is far fewer).
const WALK_OBJECTS_MAX: usize = 1 << 20;
/// Deepest chain of dependents a walk follows: views on views are at most as deep as a query
/// may expand them (64, see `query.rs`), so this bounds the recursion without cutting a chain.
const WALK_DEPTH_MAX: usize = 1024;

/// Turns what a recorded bind read ([`crate::query::recording`]) into a view's dependencies:
/// the columns read of each relation, or the relation as a whole when none.
pub fn from_recorded(
    engine: &Engine,
    txn: &Txn,
    recorded: &[(u32, Option<String>)],
) -> SqlResult<Vec<Dependency>> {
    let tables = crate::catalog_views::user_tables(engine, txn)?;
    let views = crate::catalog_views::user_views(engine, txn)?;
    let mut out: Vec<Dependency> = Vec::new();
    for (oid, column) in recorded {
        let position = column.as_deref().and_then(|c| {
            if let Some(t) = tables.iter().find(|t| t.oid == *oid) {
                t.column_index(c)
            } else {
                views
                    .iter()
                    .find(|v| v.oid == *oid)
                    .and_then(|v| v.columns.iter().position(|vc| vc.name == *c))
            }
        });
        let column = position.map_or(0, |p| p as u32 + 1);
        out.push(Dependency { oid: *oid, column });
    }
    // The whole relation only when no column of it is read, as PostgreSQL records it.
    let read: Vec<u32> = out.iter().filter(|d| d.column > 0).map(|d| d.oid).collect();
    out.retain(|d| d.column > 0 || !read.contains(&d.oid));
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The dependencies of view `v`: those recorded at its creation, or, for a view created before
/// they were recorded, those of its query bound now (its stored names read as they were
/// stored: qualified, or in `public`). A query that no longer binds depends on the relations
/// it names that still exist, as wholes.
pub fn of_view(engine: &Engine, txn: &Txn, v: &ViewDef) -> Vec<Dependency> {
    if let Some(d) = &v.depends {
        return d.clone();
    }
    let Ok(q) = crate::query::parse_view_query(v) else {
        return Vec::new();
    };
    let mut cx = crate::namespace::context();
    cx.search_path = vec![crate::namespace::PUBLIC.to_string()];
    let _names = crate::namespace::install(cx);
    let planner = crate::query::Planner {
        engine,
        txn,
        methods: crate::cost::Methods::default(),
    };
    let (bound, recorded) =
        crate::query::recording(|| planner.bind_query(&q, &mut Vec::new()).map(|_| ()));
    if bound.is_ok()
        && let Ok(deps) = from_recorded(engine, txn, &recorded)
    {
        return deps;
    }
    let mut out: Vec<Dependency> = named_relations(engine, txn, &q)
        .into_iter()
        .map(|oid| Dependency { oid, column: 0 })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The OIDs of the existing relations a stored query names (read as stored).
fn named_relations(engine: &Engine, txn: &Txn, q: &ast::Query) -> Vec<u32> {
    use std::ops::ControlFlow;
    let mut out = Vec::new();
    let _ = ast::visit_relations(q, |name| {
        if let Ok((schema, rel)) = crate::namespace::split_name(name) {
            let key = crate::namespace::rel_key(
                schema.as_deref().unwrap_or(crate::namespace::PUBLIC),
                &rel,
            );
            if let Ok(r) = crate::query::resolve_key(engine, txn, &key) {
                match r {
                    crate::query::Resolved::Table(d) => out.push(d.oid),
                    crate::query::Resolved::View(w) => out.push(w.oid),
                    crate::query::Resolved::Sequence(s) => out.push(s.oid),
                    crate::query::Resolved::Virtual(_) => {}
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
    out
}

/// The OIDs of the sequences a stored column default (`nextval('s'::regclass)`, as
/// PostgreSQL prints it) names in a call of `nextval`, `currval` or `setval`: the default
/// depends on them (PostgreSQL's `pg_depend` row of the `pg_attrdef` entry). A name is read
/// as stored: qualified, or in `public`. Only the expression's function calls count, so a
/// string literal elsewhere that spells a sequence's name is no dependency.
pub fn default_sequences(engine: &Engine, txn: &Txn, default: &str) -> Vec<u32> {
    use std::ops::ControlFlow;
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let Ok(expr) = sqlparser::parser::Parser::new(&dialect)
        .try_with_sql(default)
        .and_then(|mut p| p.parse_expr())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let _ = ast::visit_expressions(&expr, |e| {
        if let ast::Expr::Function(f) = e
            && let Some(name) = f.name.0.last().and_then(ast::ObjectNamePart::as_ident)
            && ["nextval", "currval", "setval"].contains(&name.value.to_ascii_lowercase().as_str())
            && let ast::FunctionArguments::List(list) = &f.args
            && let Some(ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(first))) =
                list.args.first()
            && let Some(oid) = sequence_literal(engine, txn, first)
        {
            out.push(oid);
        }
        ControlFlow::<()>::Continue(())
    });
    out.sort_unstable();
    out.dedup();
    out
}

/// Follows the rename of sequence `old` of `schema` to `new` into a stored column default:
/// every call of `nextval`, `currval` or `setval` whose name argument (`'name'` or
/// `'name'::regclass`, read as [`default_sequences`] reads it) names the sequence gets the new
/// name, as the regclass PostgreSQL stores prints it. The rest of the text is kept as stored
/// (only the literal changes). `None` when the default calls no such sequence.
pub fn rename_sequence_in_default(
    default: &str,
    schema: &str,
    old: &str,
    new: &str,
) -> Option<String> {
    let names_sequence = |text: &str| {
        let dialect = sqlparser::dialect::PostgreSqlDialect {};
        sqlparser::parser::Parser::new(&dialect)
            .try_with_sql(text)
            .and_then(|mut p| p.parse_object_name(false))
            .ok()
            .and_then(|name| crate::namespace::split_name(&name).ok())
            .is_some_and(|(s, rel)| {
                s.as_deref().unwrap_or(crate::namespace::PUBLIC) == schema && rel == old
            })
    };
    let renamed = if schema == crate::namespace::PUBLIC {
        crate::catalog_views::quote_ident(new)
    } else {
        format!(
            "{}.{}",
            crate::catalog_views::quote_ident(schema),
            crate::catalog_views::quote_ident(new)
        )
    };
    // Walk the text literal by literal (and past quoted names); a literal that is the first
    // argument of one of the calls and names the sequence is replaced.
    let b = default.as_bytes();
    let mut out = String::with_capacity(default.len() + new.len());
    let mut copied = 0;
    let mut changed = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1 + default[i + 1..].find('"')? + 1;
            }
            b'\'' => {
                let start = i;
                let mut text = String::new();
                i += 1;
                loop {
                    let n = default[i..].find('\'')?;
                    text.push_str(&default[i..i + n]);
                    i += n + 1;
                    if b.get(i) == Some(&b'\'') {
                        text.push('\'');
                        i += 1;
                    } else {
                        break;
                    }
                }
                let before = default[..start].trim_end();
                let call = before.strip_suffix('(').is_some_and(|f| {
                    let f = f.trim_end().to_ascii_lowercase();
                    ["nextval", "currval", "setval"].iter().any(|n| {
                        f.strip_suffix(n).is_some_and(|p| {
                            !p.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                        })
                    })
                });
                if call && names_sequence(&text) {
                    out.push_str(&default[copied..start]);
                    out.push('\'');
                    out.push_str(&renamed.replace('\'', "''"));
                    out.push('\'');
                    copied = i;
                    changed = true;
                }
            }
            _ => i += 1,
        }
    }
    out.push_str(&default[copied..]);
    changed.then_some(out)
}

/// The OID of the sequence a `'name'` or `'name'::regclass` argument names, if it exists.
fn sequence_literal(engine: &Engine, txn: &Txn, e: &ast::Expr) -> Option<u32> {
    let text = match e {
        ast::Expr::Cast { expr, .. } => match expr.as_ref() {
            ast::Expr::Value(v) => match &v.value {
                ast::Value::SingleQuotedString(s) => s.clone(),
                _ => return None,
            },
            _ => return None,
        },
        ast::Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) => s.clone(),
            _ => return None,
        },
        _ => return None,
    };
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    let name = sqlparser::parser::Parser::new(&dialect)
        .try_with_sql(&text)
        .and_then(|mut p| p.parse_object_name(false))
        .ok()?;
    let (schema, rel) = crate::namespace::split_name(&name).ok()?;
    let key =
        crate::namespace::rel_key(schema.as_deref().unwrap_or(crate::namespace::PUBLIC), &rel);
    crate::sequence::lookup_sequence(engine, txn, &key)
        .ok()
        .flatten()
        .map(|s| s.oid)
}

/// An object a DROP may reach.
#[derive(Clone, Debug)]
pub enum Object {
    Table(TableDef),
    View(ViewDef),
    Sequence(SequenceDef),
    /// Foreign key `name` (OID `oid`) of table `table`.
    ForeignKey {
        table: TableDef,
        name: String,
        oid: u32,
    },
    /// The default of column `column` (0-based) of table `table` (it has no OID of its own
    /// here: it is reached only from the sequences it calls, and nothing depends on it).
    Default {
        table: TableDef,
        column: usize,
    },
}

impl Object {
    /// The OID dependents are ordered by.
    #[must_use]
    pub fn oid(&self) -> u32 {
        match self {
            Object::Table(d) => d.oid,
            Object::View(v) => v.oid,
            Object::Sequence(s) => s.oid,
            Object::ForeignKey { oid, .. } => *oid,
            Object::Default { table, .. } => table.oid,
        }
    }

    /// The key dependents are visited in, descending: the OID, for a foreign key that of its
    /// table first (its own OIDs are from another range, but it was made with or after its
    /// table, which orders it among views as PostgreSQL's OIDs do).
    fn order(&self) -> (u32, u32) {
        match self {
            Object::ForeignKey { table, oid, .. } => (table.oid, *oid),
            Object::Default { table, column } => (table.oid, *column as u32 + 1),
            other => (other.oid(), 0),
        }
    }

    /// How messages name the object (`view v`, `constraint f on table s.t`).
    #[must_use]
    pub fn describe(&self, engine: &Engine, txn: &Txn) -> String {
        let q = |schema: &str, name: &str| {
            crate::namespace::qualified_if_needed(engine, txn, schema, name)
        };
        match self {
            Object::Table(d) => format!("table {}", q(&d.schema, &d.name)),
            Object::View(v) => format!("view {}", q(&v.schema, &v.name)),
            Object::Sequence(s) => format!("sequence {}", q(&s.schema, &s.name)),
            Object::ForeignKey { table, name, .. } => {
                format!(
                    "constraint {name} on table {}",
                    q(&table.schema, &table.name)
                )
            }
            Object::Default { table, column } => format!(
                "default value for column {} of table {}",
                table.columns[*column].name,
                q(&table.schema, &table.name)
            ),
        }
    }
}

/// What a dependent depends on directly.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// A relation (OID) and, for a table, its definition (the foreign keys that reference it).
    Relation(u32, Option<&'a TableDef>),
    /// Column `position` of a table.
    Column(&'a TableDef, usize),
}

/// The catalog's views (with their dependencies) and tables, read once for a walk.
pub struct Graph {
    views: Vec<(ViewDef, Vec<Dependency>)>,
    tables: Vec<TableDef>,
    /// Each column default that calls a sequence: (sequence OID, table index, column).
    defaults: Vec<(u32, usize, usize)>,
}

/// A walk's state (see [`Graph::walk`]).
struct Walk {
    visited: Vec<u32>,
    /// Tables dropped whatever the walk finds.
    doomed: Vec<u32>,
    /// The objects reached, in post-order.
    post: Vec<Reached>,
}

/// One object a DROP reaches: the object, how messages name it, and what it was reached
/// through (`table t`, `schema s`).
#[derive(Clone, Debug)]
pub struct Reached {
    pub object: Object,
    pub what: String,
    pub on: String,
}

impl Graph {
    pub fn load(engine: &Engine, txn: &Txn) -> SqlResult<Graph> {
        let views = crate::catalog_views::user_views(engine, txn)?
            .into_iter()
            .map(|v| {
                let d = of_view(engine, txn, &v);
                (v, d)
            })
            .collect();
        let tables = crate::catalog_views::user_tables(engine, txn)?;
        let mut defaults = Vec::new();
        for (t, def) in tables.iter().enumerate() {
            for (c, column) in def.columns.iter().enumerate() {
                if let Some(text) = column.default.as_deref() {
                    for seq in default_sequences(engine, txn, text) {
                        defaults.push((seq, t, c));
                    }
                }
            }
        }
        Ok(Graph {
            views,
            tables,
            defaults,
        })
    }

    /// The views that read relation `oid` (any column of it when `column` is `None`).
    #[must_use]
    pub fn views_reading(&self, oid: u32, column: Option<u32>) -> Vec<&ViewDef> {
        self.views
            .iter()
            .filter(|(_, deps)| {
                deps.iter()
                    .any(|d| d.oid == oid && column.is_none_or(|c| d.column == c))
            })
            .map(|(v, _)| v)
            .collect()
    }

    /// The direct dependents of `target`, by OID descending.
    fn direct(&self, target: Target<'_>) -> Vec<Object> {
        let mut out: Vec<Object> = Vec::new();
        let (oid, column, table) = match target {
            Target::Relation(oid, table) => (oid, None, table),
            Target::Column(t, i) => (t.oid, Some(i as u32 + 1), Some(t)),
        };
        for v in self.views_reading(oid, column) {
            out.push(Object::View(v.clone()));
        }
        if column.is_none() {
            for &(_, t, c) in self.defaults.iter().filter(|(s, ..)| *s == oid) {
                out.push(Object::Default {
                    table: self.tables[t].clone(),
                    column: c,
                });
            }
        }
        if let Some(t) = table {
            let key = t.key();
            for other in self.tables.iter().filter(|o| o.oid != t.oid) {
                for f in &other.foreign_keys {
                    let column_hit = match target {
                        Target::Column(_, i) => f.ref_columns.contains(&i),
                        Target::Relation(..) => true,
                    };
                    if f.ref_table == key && column_hit {
                        out.push(Object::ForeignKey {
                            table: other.clone(),
                            name: f.name.clone(),
                            oid: f.oid,
                        });
                    }
                }
            }
        }
        out.sort_by_key(|o| std::cmp::Reverse(o.order()));
        out
    }

    /// The objects a DROP of `roots` reaches, in the order PostgreSQL reports them (see the
    /// module comment). Each root comes with its direct dependents (for a schema, its
    /// relations) and how messages name the root; `dropped` are the OIDs dropped by name,
    /// never reported, and `doomed` the tables that go anyway (their foreign keys with them).
    pub fn walk(
        &self,
        engine: &Engine,
        txn: &Txn,
        roots: Vec<(Vec<Object>, String)>,
        dropped: &[u32],
        doomed: &[u32],
    ) -> Vec<Reached> {
        let mut walk = Walk {
            visited: dropped.to_vec(),
            doomed: [dropped, doomed].concat(),
            post: Vec::new(),
        };
        for (direct, on) in roots {
            let mut direct = direct;
            direct.sort_by_key(|o| std::cmp::Reverse(o.order()));
            for d in direct {
                self.visit(engine, txn, d, &on, &mut walk, 0);
            }
        }
        walk.post.reverse();
        walk.post
    }

    fn visit(
        &self,
        engine: &Engine,
        txn: &Txn,
        object: Object,
        on: &str,
        walk: &mut Walk,
        depth: usize,
    ) {
        // A default has no OID of its own (see `Object::Default`): each is reached once, from
        // the sequence it calls, and goes unreported with a table that goes anyway.
        if let Object::Default { table, .. } = &object {
            if walk.doomed.contains(&table.oid) {
                return;
            }
        } else if walk.visited.contains(&object.oid())
            || walk.visited.len() >= WALK_OBJECTS_MAX
            || depth >= WALK_DEPTH_MAX
        {
            return;
        }
        // A foreign key of a table that goes anyway goes with it, unreported.
        if let Object::ForeignKey { table, .. } = &object
            && walk.doomed.contains(&table.oid)
        {
            return;
        }
        if !matches!(object, Object::Default { .. }) {
            walk.visited.push(object.oid());
        }
        let what = object.describe(engine, txn);
        let children = match &object {
            Object::Table(d) => self.direct(Target::Relation(d.oid, Some(d))),
            Object::View(v) => self.direct(Target::Relation(v.oid, None)),
            Object::Sequence(s) => self.direct(Target::Relation(s.oid, None)),
            Object::ForeignKey { .. } | Object::Default { .. } => Vec::new(),
        };
        for c in children {
            self.visit(engine, txn, c, &what, walk, depth + 1);
        }
        walk.post.push(Reached {
            object,
            what,
            on: on.to_string(),
        });
    }

    /// The direct dependents of `target` (for [`Graph::walk`]'s roots).
    #[must_use]
    pub fn dependents(&self, target: Target<'_>) -> Vec<Object> {
        self.direct(target)
    }
}

/// PostgreSQL's 2BP01 for a DROP of `root` (`table t`, `column b of table t`; `None` when the
/// statement drops several objects) that `reached` depend on.
#[must_use]
pub fn still_exist(root: Option<&str>, reached: &[Reached]) -> crate::error::SqlError {
    let detail: Vec<String> = reached
        .iter()
        .map(|r| format!("{} depends on {}", r.what, r.on))
        .collect();
    crate::error::SqlError::DependentObjectsStillExist {
        message: match root {
            Some(root) => format!("cannot drop {root} because other objects depend on it"),
            None => "cannot drop desired object(s) because other objects depend on them".into(),
        },
        detail: detail.join("\n"),
        hint: "Use DROP ... CASCADE to drop the dependent objects too.".into(),
    }
}

/// The notice of a DROP … CASCADE that took `reached` with it (none when nothing).
#[must_use]
pub fn cascade_notice(reached: &[Reached]) -> Option<String> {
    let lines: Vec<String> = reached
        .iter()
        .map(|r| format!("drop cascades to {}", r.what))
        .collect();
    match lines.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        many => Some(format!(
            "drop cascades to {} other objects{}{}",
            many.len(),
            crate::session::NOTICE_DETAIL,
            many.join("\n")
        )),
    }
}

/// Follows `ALTER TABLE | VIEW … RENAME COLUMN old TO new` of relation `table` (a table or a
/// view, by OID) into the stored query of a
/// view that reads the column, as PostgreSQL's views follow it (they refer to columns by
/// number). The query is re-read as a tree and every column reference that binds to the
/// table's column is renamed: `a` and `t.a` (or `alias.a`) where the table is the nearest
/// FROM entry with such a column, in the select list, WHERE, GROUP BY, HAVING, ORDER BY, JOIN
/// ON and subqueries. A select-list item that was the bare column gets an alias keeping its
/// old output name (`SELECT t.a` becomes `SELECT t.new AS a`), so the view's columns and the
/// queries that read them are unchanged. String literals, other relations' columns of the same
/// name and output aliases are left alone. Returns whether anything changed.
pub fn rename_column_in_query(
    engine: &Engine,
    txn: &Txn,
    q: &mut ast::Query,
    table: u32,
    old: &str,
    new: &str,
) -> bool {
    let mut r = Renamer {
        engine,
        txn,
        table,
        old,
        new,
        scopes: Vec::new(),
        in_order_by: 0,
        changed: false,
    };
    let _ = ast::VisitMut::visit(q, &mut r);
    r.changed
}

/// One FROM entry as a column reference sees it.
struct FromEntry {
    /// The alias, or the relation's own name.
    name: String,
    columns: Vec<String>,
    /// Whether it is the table whose column is renamed.
    target: bool,
}

/// The FROM entries of one SELECT, and its output aliases (an ORDER BY name matches those
/// first).
struct Scope {
    entries: Vec<FromEntry>,
    aliases: Vec<String>,
}

struct Renamer<'a> {
    engine: &'a Engine,
    txn: &'a Txn,
    table: u32,
    old: &'a str,
    new: &'a str,
    scopes: Vec<Scope>,
    in_order_by: usize,
    changed: bool,
}

/// An identifier for `name`, quoted when it is not a plain lower-case word.
fn ident_for(name: &str) -> ast::Ident {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        ast::Ident::new(name)
    } else {
        ast::Ident::with_quote('"', name)
    }
}

impl Renamer<'_> {
    /// The FROM entries `factor` brings into scope (a join's entries in order).
    fn entries(&self, factor: &ast::TableFactor, out: &mut Vec<FromEntry>) {
        match factor {
            ast::TableFactor::Table { name, alias, .. } => {
                let Ok((schema, rel)) = crate::namespace::split_name(name) else {
                    return;
                };
                let key = crate::namespace::rel_key(
                    schema.as_deref().unwrap_or(crate::namespace::PUBLIC),
                    &rel,
                );
                let (columns, target) = match crate::query::resolve_key(self.engine, self.txn, &key)
                {
                    Ok(crate::query::Resolved::Table(d)) => {
                        let target = d.oid == self.table;
                        let columns = d
                            .columns
                            .iter()
                            .map(|c| {
                                // The table already carries the new name; the query still
                                // reads the old one.
                                if target && c.name == self.new {
                                    self.old.to_string()
                                } else {
                                    c.name.clone()
                                }
                            })
                            .collect();
                        (columns, target)
                    }
                    Ok(crate::query::Resolved::View(v)) => {
                        // A view's column can be renamed too (ALTER VIEW … RENAME COLUMN).
                        let target = v.oid == self.table;
                        let columns = v
                            .columns
                            .iter()
                            .map(|c| {
                                if target && c.name == self.new {
                                    self.old.to_string()
                                } else {
                                    c.name.clone()
                                }
                            })
                            .collect();
                        (columns, target)
                    }
                    _ => (Vec::new(), false),
                };
                let name = alias
                    .as_ref()
                    .map_or(rel, |a| crate::expr::ident_name(&a.name));
                out.push(FromEntry {
                    name,
                    columns,
                    target,
                });
            }
            ast::TableFactor::Derived {
                subquery, alias, ..
            } => {
                let columns = match subquery.body.as_ref() {
                    ast::SetExpr::Select(s) => {
                        s.projection.iter().filter_map(output_name).collect()
                    }
                    _ => Vec::new(),
                };
                out.push(FromEntry {
                    name: alias
                        .as_ref()
                        .map(|a| crate::expr::ident_name(&a.name))
                        .unwrap_or_default(),
                    columns,
                    target: false,
                });
            }
            ast::TableFactor::NestedJoin {
                table_with_joins, ..
            } => {
                self.entries(&table_with_joins.relation, out);
                for j in &table_with_joins.joins {
                    self.entries(&j.relation, out);
                }
            }
            _ => {}
        }
    }

    fn scope(&self, select: &ast::Select) -> Scope {
        let mut entries = Vec::new();
        for t in &select.from {
            self.entries(&t.relation, &mut entries);
            for j in &t.joins {
                self.entries(&j.relation, &mut entries);
            }
        }
        let aliases = select
            .projection
            .iter()
            .filter_map(|i| match i {
                ast::SelectItem::ExprWithAlias { alias, .. } => {
                    Some(crate::expr::ident_name(alias))
                }
                _ => None,
            })
            .collect();
        Scope { entries, aliases }
    }

    /// Whether a bare column name `name` binds to the renamed column: the nearest scope with
    /// an entry that has such a column decides, and it must be the table, alone.
    fn bare_is_target(&self, name: &str) -> bool {
        if name != self.old {
            return false;
        }
        for (depth, s) in self.scopes.iter().enumerate().rev() {
            if self.in_order_by > 0
                && depth + 1 == self.scopes.len()
                && s.aliases.iter().any(|a| a == name)
            {
                return false;
            }
            let having: Vec<&FromEntry> = s
                .entries
                .iter()
                .filter(|e| e.columns.iter().any(|c| c == name))
                .collect();
            if !having.is_empty() {
                return having.len() == 1 && having[0].target;
            }
        }
        false
    }

    /// Whether `qualifier.name` binds to the renamed column.
    fn qualified_is_target(&self, qualifier: &str, name: &str) -> bool {
        if name != self.old {
            return false;
        }
        for s in self.scopes.iter().rev() {
            if let Some(e) = s.entries.iter().find(|e| e.name == qualifier) {
                return e.target;
            }
        }
        false
    }

    /// Whether expression `e` is a reference to the renamed column.
    fn is_target(&self, e: &ast::Expr) -> bool {
        match e {
            ast::Expr::Identifier(id) => self.bare_is_target(&crate::expr::ident_name(id)),
            ast::Expr::CompoundIdentifier(parts) if parts.len() >= 2 => self.qualified_is_target(
                &crate::expr::ident_name(&parts[parts.len() - 2]),
                &crate::expr::ident_name(&parts[parts.len() - 1]),
            ),
            _ => false,
        }
    }
}

/// The output name a select-list item gives its column, when it names one.
fn output_name(item: &ast::SelectItem) -> Option<String> {
    match item {
        ast::SelectItem::ExprWithAlias { alias, .. } => Some(crate::expr::ident_name(alias)),
        ast::SelectItem::UnnamedExpr(ast::Expr::Identifier(id)) => {
            Some(crate::expr::ident_name(id))
        }
        ast::SelectItem::UnnamedExpr(ast::Expr::CompoundIdentifier(parts)) => {
            parts.last().map(crate::expr::ident_name)
        }
        _ => None,
    }
}

impl ast::VisitorMut for Renamer<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, q: &mut ast::Query) -> std::ops::ControlFlow<()> {
        // A query's ORDER BY sees its SELECT's FROM and output names.
        let scope = match q.body.as_ref() {
            ast::SetExpr::Select(s) => self.scope(s),
            _ => Scope {
                entries: Vec::new(),
                aliases: Vec::new(),
            },
        };
        self.scopes.push(scope);
        std::ops::ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _q: &mut ast::Query) -> std::ops::ControlFlow<()> {
        self.scopes.pop();
        std::ops::ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, s: &mut ast::Select) -> std::ops::ControlFlow<()> {
        let scope = self.scope(s);
        self.scopes.push(scope);
        // The bare column keeps its output name under the new one.
        for item in &mut s.projection {
            if let ast::SelectItem::UnnamedExpr(e) = item
                && self.is_target(e)
            {
                *item = ast::SelectItem::ExprWithAlias {
                    expr: e.clone(),
                    alias: ident_for(self.old),
                };
            }
        }
        std::ops::ControlFlow::Continue(())
    }

    fn post_visit_select(&mut self, _s: &mut ast::Select) -> std::ops::ControlFlow<()> {
        self.scopes.pop();
        std::ops::ControlFlow::Continue(())
    }

    fn pre_visit_order_by(&mut self, _o: &mut ast::OrderBy) -> std::ops::ControlFlow<()> {
        self.in_order_by += 1;
        std::ops::ControlFlow::Continue(())
    }

    fn post_visit_order_by(&mut self, _o: &mut ast::OrderBy) -> std::ops::ControlFlow<()> {
        self.in_order_by -= 1;
        std::ops::ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &mut ast::Expr) -> std::ops::ControlFlow<()> {
        if self.is_target(e) {
            let renamed = ident_for(self.new);
            match e {
                ast::Expr::Identifier(id) => *id = renamed,
                ast::Expr::CompoundIdentifier(parts) => {
                    if let Some(last) = parts.last_mut() {
                        *last = renamed;
                    }
                }
                _ => {}
            }
            self.changed = true;
        }
        std::ops::ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sequence_rename_reaches_the_calls_of_a_default_only() {
        let r = |d: &str, schema: &str| rename_sequence_in_default(d, schema, "s", "s2");
        assert_eq!(
            r("nextval('s'::regclass)", "public").as_deref(),
            Some("nextval('s2'::regclass)")
        );
        assert_eq!(
            r("nextval('shop.s'::REGCLASS)", "shop").as_deref(),
            Some("nextval('shop.s2'::REGCLASS)")
        );
        assert_eq!(
            r("pg_catalog.currval('s') + length('s')", "public").as_deref(),
            Some("pg_catalog.currval('s2') + length('s')")
        );
        assert_eq!(
            r("nextval('\"S\"'::regclass)", "public"),
            None,
            "a quoted name is another sequence"
        );
        // Another schema's s, another sequence, a literal that is no call: untouched.
        assert_eq!(r("nextval('s'::regclass)", "shop"), None);
        assert_eq!(r("nextval('ss'::regclass)", "public"), None);
        assert_eq!(r("'s'", "public"), None);
    }
}
