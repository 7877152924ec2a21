//! `information_schema`'s constraint and view views: `table_constraints`, `key_column_usage`,
//! `referential_constraints`, `constraint_column_usage`, `check_constraints` and `views`.
//!
//! ORMs and schema tools find keys and foreign keys by joining these views on the constraint's
//! schema and name, filtered by table name and `constraint_type`; they must list the same rows,
//! with the same columns in the same order, as PostgreSQL 15's definitions of them. The
//! tables are declared with the other virtual catalogs in
//! [`crate::catalog_views`]; their rows are computed here from the same table definitions
//! `pg_constraint` is built from, so the two always agree:
//!
//! ```text
//!   TableDef ─▶ constraints_of ─▶ [Constraint { name, kind, columns }] ─▶ one view's rows
//!     pk, unique indexes, checks, foreign keys, NOT NULL columns
//! ```
//!
//! As in PostgreSQL 15, a NOT NULL column counts as a CHECK constraint here (not in
//! `pg_constraint`), named `{namespace OID}_{table OID}_{attnum}_not_null`, with the clause
//! `col IS NOT NULL`; primary-key columns are NOT NULL. PostgreSQL's domains of these views
//! (`sql_identifier`, `character_data`, `cardinal_number`, `yes_or_no`) are `text` and `integer`
//! here, as in `information_schema.columns`. Borealis has one user, who owns every table, so
//! the privilege filters PostgreSQL applies let every row through.

use crate::catalog::{CheckDef, FkAction, ForeignKeyDef, TableDef, ViewDef};
use crate::catalog_views::{VirtualTable, row};
use crate::error::SqlResult;
use crate::types::Value;
use borealis_engine::{Engine, Txn};

/// What a constraint is, with what its kind needs to describe it.
enum Kind<'a> {
    PrimaryKey,
    Unique,
    Check(&'a CheckDef),
    ForeignKey(&'a ForeignKeyDef),
    /// A NOT NULL column, by position.
    NotNull(usize),
}

/// One constraint of a table, as the views list it.
struct Constraint<'a> {
    name: String,
    kind: Kind<'a>,
    /// The constrained columns (`conkey`), in key order.
    columns: Vec<usize>,
}

impl Constraint<'_> {
    /// `table_constraints.constraint_type`.
    fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::PrimaryKey => "PRIMARY KEY",
            Kind::Unique => "UNIQUE",
            Kind::Check(_) | Kind::NotNull(_) => "CHECK",
            Kind::ForeignKey(_) => "FOREIGN KEY",
        }
    }
}

/// The constraints of `def` in `pg_constraint`'s order, then its NOT NULL columns;
/// `namespace_oid` is its schema's OID (NOT NULL constraints' names hold it).
fn constraints_of(def: &TableDef, namespace_oid: u32) -> Vec<Constraint<'_>> {
    let mut out = Vec::new();
    if !def.pk.is_empty() {
        out.push(Constraint {
            name: def.pk_name(),
            kind: Kind::PrimaryKey,
            columns: def.pk.clone(),
        });
    }
    for ix in def.indexes.iter().filter(|ix| ix.constraint) {
        out.push(Constraint {
            name: ix.name.clone(),
            kind: Kind::Unique,
            columns: ix.columns.clone(),
        });
    }
    for c in &def.checks {
        out.push(Constraint {
            name: c.name.clone(),
            kind: Kind::Check(c),
            columns: c.columns.clone(),
        });
    }
    for fk in &def.foreign_keys {
        out.push(Constraint {
            name: fk.name.clone(),
            kind: Kind::ForeignKey(fk),
            columns: fk.columns.clone(),
        });
    }
    for (n, c) in def.columns.iter().enumerate() {
        if c.not_null || def.pk.contains(&n) {
            out.push(Constraint {
                name: format!("{namespace_oid}_{}_{}_not_null", def.oid, n + 1),
                kind: Kind::NotNull(n),
                columns: vec![n],
            });
        }
    }
    out
}

/// What a foreign key references: the table, and the key its columns match (the primary key
/// or a unique index with the same column set, as `pg_constraint.conindid` finds it) with the
/// key's constraint name when it has one.
struct Referenced {
    table: TableDef,
    /// The matched key's columns, in its order; empty when no key matches.
    key: Vec<usize>,
    /// The matched key's constraint, if it is a constraint (not a bare unique index).
    constraint: Option<String>,
}

fn referenced(
    engine: &Engine,
    txn: &Txn,
    def: &TableDef,
    fk: &ForeignKeyDef,
) -> Option<Referenced> {
    let table = if fk.ref_table == def.key() {
        def.clone()
    } else {
        crate::query::lookup_table(engine, txn, &fk.ref_table).ok()?
    };
    let same = |c: &[usize]| {
        c.len() == fk.ref_columns.len() && c.iter().all(|x| fk.ref_columns.contains(x))
    };
    let (key, constraint) = if !table.pk.is_empty() && same(&table.pk) {
        (table.pk.clone(), Some(table.pk_name()))
    } else {
        match table
            .indexes
            .iter()
            .find(|ix| ix.unique && same(&ix.columns))
        {
            Some(ix) => (ix.columns.clone(), ix.constraint.then(|| ix.name.clone())),
            None => (Vec::new(), None),
        }
    };
    Some(Referenced {
        table,
        key,
        constraint,
    })
}

/// `referential_constraints`' rule for a foreign-key action.
fn rule(action: FkAction) -> &'static str {
    match action {
        FkAction::NoAction => "NO ACTION",
        FkAction::Restrict => "RESTRICT",
        FkAction::Cascade => "CASCADE",
        FkAction::SetNull => "SET NULL",
        FkAction::SetDefault => "SET DEFAULT",
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// The rows of one of this module's views, or `None` when `vt` is not one of them.
/// `database` is the catalog name every row carries; `namespaces` the (OID, name) of every
/// schema; `views` the user views with their definitions as `pg_get_viewdef` prints them.
pub(crate) fn rows(
    vt: &VirtualTable,
    engine: &Engine,
    txn: &Txn,
    database: &str,
    namespaces: &[(u32, String, u32)],
    views: impl FnOnce() -> SqlResult<Vec<(ViewDef, String)>>,
) -> SqlResult<Option<Vec<Vec<Value>>>> {
    let nsp = |schema: &str| {
        namespaces
            .iter()
            .find(|n| n.1 == schema)
            .map_or(crate::catalog_views::PUBLIC_NAMESPACE, |n| n.0)
    };
    let mut out = Vec::new();
    if vt.name == "views" {
        for (v, definition) in views()? {
            let (write, delete) = crate::updatable::events(engine, txn, &v, None)?;
            let yes_no = |b: bool| text(if b { "YES" } else { "NO" });
            out.push(row(
                vt,
                &[
                    ("table_catalog", text(database)),
                    ("table_schema", Value::Text(v.schema.clone())),
                    ("table_name", Value::Text(v.name.clone())),
                    ("view_definition", Value::Text(definition)),
                    (
                        "check_option",
                        text(v.check_option.map_or("NONE", |c| c.name())),
                    ),
                    // PostgreSQL's `pg_relation_is_updatable`: UPDATE and DELETE both.
                    ("is_updatable", yes_no(write && delete)),
                    ("is_insertable_into", yes_no(write)),
                    ("is_trigger_updatable", text("NO")),
                    ("is_trigger_deletable", text("NO")),
                    ("is_trigger_insertable_into", text("NO")),
                ],
            ));
        }
        return Ok(Some(out));
    }
    if ![
        "table_constraints",
        "key_column_usage",
        "referential_constraints",
        "constraint_column_usage",
        "check_constraints",
    ]
    .contains(&vt.name)
    {
        return Ok(None);
    }
    for def in crate::catalog_views::user_tables(engine, txn)? {
        let schema = Value::Text(def.schema.clone());
        let table = Value::Text(def.name.clone());
        let column = |t: &TableDef, i: usize| Value::Text(t.columns[i].name.clone());
        for con in constraints_of(&def, nsp(&def.schema)) {
            let name = Value::Text(con.name.clone());
            let ident = [
                ("constraint_catalog", text(database)),
                ("constraint_schema", schema.clone()),
                ("constraint_name", name.clone()),
            ];
            let with = |more: &[(&str, Value)]| {
                let mut all = ident.to_vec();
                all.extend_from_slice(more);
                row(vt, &all)
            };
            match vt.name {
                "table_constraints" => out.push(with(&[
                    ("table_catalog", text(database)),
                    ("table_schema", schema.clone()),
                    ("table_name", table.clone()),
                    ("constraint_type", text(con.type_name())),
                    ("is_deferrable", text("NO")),
                    ("initially_deferred", text("NO")),
                    ("enforced", text("YES")),
                    (
                        "nulls_distinct",
                        if matches!(con.kind, Kind::Unique) {
                            text("YES")
                        } else {
                            Value::Null
                        },
                    ),
                ])),
                "key_column_usage" => {
                    let position_in_key: Box<dyn Fn(usize) -> Value> = match con.kind {
                        Kind::PrimaryKey | Kind::Unique => Box::new(|_| Value::Null),
                        Kind::ForeignKey(fk) => {
                            let key = referenced(engine, txn, &def, fk).map(|r| r.key);
                            Box::new(move |k: usize| {
                                let p = fk
                                    .ref_columns
                                    .get(k)
                                    .and_then(|rc| key.as_ref()?.iter().position(|c| c == rc));
                                p.map_or(Value::Null, |p| Value::Int(p as i64 + 1))
                            })
                        }
                        Kind::Check(_) | Kind::NotNull(_) => continue,
                    };
                    for (k, &c) in con.columns.iter().enumerate() {
                        out.push(with(&[
                            ("table_catalog", text(database)),
                            ("table_schema", schema.clone()),
                            ("table_name", table.clone()),
                            ("column_name", column(&def, c)),
                            ("ordinal_position", Value::Int(k as i64 + 1)),
                            ("position_in_unique_constraint", position_in_key(k)),
                        ]));
                    }
                }
                "referential_constraints" => {
                    let Kind::ForeignKey(fk) = con.kind else {
                        continue;
                    };
                    let unique = referenced(engine, txn, &def, fk).and_then(|r| {
                        r.constraint
                            .map(|n| (Value::Text(r.table.schema.clone()), Value::Text(n)))
                    });
                    let (unique_schema, unique_name, unique_catalog) = match unique {
                        Some((s, n)) => (s, n, text(database)),
                        None => (Value::Null, Value::Null, Value::Null),
                    };
                    out.push(with(&[
                        ("unique_constraint_catalog", unique_catalog),
                        ("unique_constraint_schema", unique_schema),
                        ("unique_constraint_name", unique_name),
                        // MATCH SIMPLE, the only kind Borealis has.
                        ("match_option", text("NONE")),
                        ("update_rule", text(rule(fk.on_update))),
                        ("delete_rule", text(rule(fk.on_delete))),
                    ]));
                }
                "constraint_column_usage" => {
                    // A foreign key uses the referenced columns; the others their own.
                    let (t, columns) = match con.kind {
                        Kind::ForeignKey(fk) => match referenced(engine, txn, &def, fk) {
                            Some(r) => (r.table, fk.ref_columns.clone()),
                            None => continue,
                        },
                        Kind::NotNull(_) => continue,
                        _ => (def.clone(), con.columns.clone()),
                    };
                    for c in columns {
                        out.push(with(&[
                            ("table_catalog", text(database)),
                            ("table_schema", Value::Text(t.schema.clone())),
                            ("table_name", Value::Text(t.name.clone())),
                            ("column_name", column(&t, c)),
                        ]));
                    }
                }
                "check_constraints" => {
                    let clause = match con.kind {
                        // `pg_get_constraintdef` without its leading `CHECK `.
                        Kind::Check(c) => {
                            format!("({})", crate::catalog_views::display_expr(&c.expr))
                        }
                        Kind::NotNull(n) => format!("{} IS NOT NULL", def.columns[n].name),
                        _ => continue,
                    };
                    out.push(with(&[("check_clause", Value::Text(clause))]));
                }
                _ => unreachable!("filtered above"),
            }
        }
    }
    Ok(Some(out))
}
