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
                    .and_then(|v| v.columns.iter().position(|(n, _)| n == c))
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
        }
    }

    /// The key dependents are visited in, descending: the OID, for a foreign key that of its
    /// table first (its own OIDs are from another range, but it was made with or after its
    /// table, which orders it among views as PostgreSQL's OIDs do).
    fn order(&self) -> (u32, u32) {
        match self {
            Object::ForeignKey { table, oid, .. } => (table.oid, *oid),
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
        Ok(Graph {
            views,
            tables: crate::catalog_views::user_tables(engine, txn)?,
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
        if walk.visited.contains(&object.oid())
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
        walk.visited.push(object.oid());
        let what = object.describe(engine, txn);
        let children = match &object {
            Object::Table(d) => self.direct(Target::Relation(d.oid, Some(d))),
            Object::View(v) => self.direct(Target::Relation(v.oid, None)),
            Object::Sequence(s) => self.direct(Target::Relation(s.oid, None)),
            Object::ForeignKey { .. } => Vec::new(),
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
