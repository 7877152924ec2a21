//! Schemas (PostgreSQL's namespaces) and how a relation's name finds its catalog entry.
//!
//! Every relation (table, view, sequence) is one entry of the catalog tree, keyed by its name
//! qualified with its schema. A relation of `public` keeps the key it had before schemas
//! existed (its bare name), so older catalogs load unchanged; a relation of any other schema is
//! keyed `schema NUL name` — no identifier contains a NUL byte, and no schema name is empty, so
//! the two forms never collide with each other nor with the entries whose keys start with NUL
//! (comments, schemas). A schema is an entry of its own:
//!
//! ```text
//!   relation in public:   name                      → table / view / sequence definition
//!   relation elsewhere:   schema 0x00 name          → same
//!   schema:               0x00 'n' name             → SCHEMA_DEF_TAG | oid:u32 | owner
//! ```
//!
//! `public` has no entry: it always exists (it cannot be dropped or renamed here).
//! `pg_catalog` and `information_schema` are the computed catalog views. A session's temporary
//! schema, `pg_temp_N`, has no entry either: it exists while the session has temporary
//! relations (see [`Context::temp_schema`]).
//!
//! Names resolve as PostgreSQL resolves them: a qualified name in its schema; an unqualified
//! one through the session's temporary schema (relations only), then each existing schema of
//! `search_path` in order (`"$user"` is the schema named after the session's role, when there
//! is one). A new relation goes into the first existing schema of `search_path`. The session
//! installs its [`Context`] on the thread for the duration of a statement (as it installs its
//! clock), so the binder reaches it without threading it through every call.

use crate::error::{SqlError, SqlResult};
use crate::expr::ident_name;
use borealis_common::codec::{DecodeError, Put, Reader};
use borealis_engine::{CATALOG, Engine, Txn};
use sqlparser::ast;
use std::cell::RefCell;
use std::ops::Bound;

/// The schema every database has.
pub const PUBLIC: &str = "public";
/// First byte of a schema's catalog entry (tables start with their version, sequences with
/// 0x81, views 0x82, comments 0x83).
pub const SCHEMA_DEF_TAG: u8 = 0x84;
const SCHEMA_KEY_PREFIX: &[u8] = b"\0n";
/// The first key after every schema's.
const SCHEMA_KEY_END: &[u8] = b"\0o";
const NAME_BYTES_MAX: u32 = 1024;
/// Catalog entries read per scan batch.
const BATCH: usize = 256;
/// Prefix of a session's temporary schema (`pg_temp_` + the session's number).
pub const TEMP_PREFIX: &str = "pg_temp_";

/// A user schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaDef {
    pub name: String,
    /// From a tree allocated for it, as views get theirs (OIDs are never reused).
    pub oid: u32,
    /// The owning role's name (`AUTHORIZATION`, else the creating role).
    pub owner: String,
}

impl SchemaDef {
    fn encode(&self) -> Vec<u8> {
        let mut b = vec![SCHEMA_DEF_TAG];
        b.put_u32(self.oid);
        b.put_str(&self.owner);
        b
    }

    fn decode(name: &str, bytes: &[u8]) -> SqlResult<SchemaDef> {
        let corrupt = |e: DecodeError| SqlError::Corrupted(format!("schema definition: {e}"));
        let mut r = Reader::new(bytes);
        if r.u8().map_err(corrupt)? != SCHEMA_DEF_TAG {
            return Err(SqlError::Corrupted("schema definition: bad tag".into()));
        }
        let oid = r.u32().map_err(corrupt)?;
        let owner = r.string(NAME_BYTES_MAX).map_err(corrupt)?;
        r.finish().map_err(corrupt)?;
        Ok(SchemaDef {
            name: name.to_string(),
            oid,
            owner,
        })
    }
}

fn schema_key(name: &str) -> Vec<u8> {
    let mut k = SCHEMA_KEY_PREFIX.to_vec();
    k.extend_from_slice(name.as_bytes());
    k
}

/// The catalog key of relation `name` in `schema`, as a string (see the module comment).
#[must_use]
pub fn rel_key(schema: &str, name: &str) -> String {
    if schema == PUBLIC {
        name.to_string()
    } else {
        format!("{schema}\0{name}")
    }
}

/// The schema and name of a relation's catalog key.
#[must_use]
pub fn split_key(key: &str) -> (&str, &str) {
    key.split_once('\0').unwrap_or((PUBLIC, key))
}

/// The schema of a catalog key read from the tree.
#[must_use]
pub fn key_schema(key: &[u8]) -> String {
    match key.iter().position(|&b| b == 0) {
        Some(i) => String::from_utf8_lossy(&key[..i]).into_owned(),
        None => PUBLIC.to_string(),
    }
}

/// A key as a message names the relation: `s.t`, or `t` in `public`.
#[must_use]
pub fn display_key(key: &str) -> String {
    match key.split_once('\0') {
        Some((s, n)) => format!("{s}.{n}"),
        None => key.to_string(),
    }
}

/// Writes a new schema's entry.
pub fn create(engine: &Engine, txn: &mut Txn, def: &SchemaDef) -> SqlResult<()> {
    engine.insert(txn, CATALOG, &schema_key(&def.name), &def.encode())?;
    Ok(())
}

/// Removes a schema's entry (its relations are the caller's).
pub fn remove(engine: &Engine, txn: &mut Txn, name: &str) -> SqlResult<()> {
    engine.delete(txn, CATALOG, &schema_key(name))?;
    Ok(())
}

/// The user schema named `name`, if there is one (not `public` nor the catalogs).
pub fn get(engine: &Engine, txn: &Txn, name: &str) -> SqlResult<Option<SchemaDef>> {
    match engine.get(txn, CATALOG, &schema_key(name))? {
        Some(v) => SchemaDef::decode(name, &v).map(Some),
        None => Ok(None),
    }
}

/// Every user schema the transaction sees, in name order.
pub fn all(engine: &Engine, txn: &Txn) -> SqlResult<Vec<SchemaDef>> {
    let mut out = Vec::new();
    let mut lower = Bound::Included(SCHEMA_KEY_PREFIX.to_vec());
    loop {
        let batch = engine.scan(
            txn,
            CATALOG,
            lower.as_ref().map(Vec::as_slice),
            Bound::Excluded(SCHEMA_KEY_END),
            BATCH,
        )?;
        let full = batch.len() == BATCH;
        for (k, v) in &batch {
            let name = std::str::from_utf8(&k[SCHEMA_KEY_PREFIX.len()..])
                .map_err(|_| SqlError::Corrupted("schema name".into()))?;
            out.push(SchemaDef::decode(name, v)?);
        }
        match batch.last() {
            Some((k, _)) if full => lower = Bound::Excluded(k.clone()),
            _ => return Ok(out),
        }
    }
}

/// The catalog keys of every relation in schema `name` (not `public`), in key order.
pub fn relation_keys(engine: &Engine, txn: &Txn, name: &str) -> SqlResult<Vec<String>> {
    assert!(name != PUBLIC, "public's relations have no common prefix");
    let prefix = format!("{name}\0");
    let end = format!("{name}\u{1}");
    let mut out = Vec::new();
    let mut lower = Bound::Included(prefix.as_bytes().to_vec());
    loop {
        let batch = engine.scan(
            txn,
            CATALOG,
            lower.as_ref().map(Vec::as_slice),
            Bound::Excluded(end.as_bytes()),
            BATCH,
        )?;
        let full = batch.len() == BATCH;
        for (k, _) in &batch {
            out.push(
                String::from_utf8(k.clone())
                    .map_err(|_| SqlError::Corrupted("relation key".into()))?,
            );
        }
        match batch.last() {
            Some((k, _)) if full => lower = Bound::Excluded(k.clone()),
            _ => return Ok(out),
        }
    }
}

/// The temporary schemas that hold relations in the catalog (sessions' `pg_temp_N`).
pub fn temp_schemas_in_catalog(engine: &Engine, txn: &Txn) -> SqlResult<Vec<String>> {
    // `pg_temp_` + digits: every such key sorts between these two.
    let start = TEMP_PREFIX.as_bytes().to_vec();
    let mut end = start.clone();
    *end.last_mut().expect("prefix is not empty") += 1;
    let mut out: Vec<String> = Vec::new();
    let mut lower = Bound::Included(start);
    loop {
        let batch = engine.scan(
            txn,
            CATALOG,
            lower.as_ref().map(Vec::as_slice),
            Bound::Excluded(end.as_slice()),
            BATCH,
        )?;
        let full = batch.len() == BATCH;
        for (k, _) in &batch {
            if let Some(i) = k.iter().position(|&b| b == 0) {
                let s = String::from_utf8_lossy(&k[..i]).into_owned();
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
        match batch.last() {
            Some((k, _)) if full => lower = Bound::Excluded(k.clone()),
            _ => return Ok(out),
        }
    }
}

/// What a session's statement resolves names with.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// `search_path`'s entries, unquoted, in order (`$user` as written).
    pub search_path: Vec<String>,
    /// The session's role, for `"$user"`.
    pub user: String,
    /// The session's temporary schema (`pg_temp_N`), named whether or not it is in use.
    pub temp_schema: String,
    /// Whether the session has temporary relations (its temporary schema exists).
    pub temp_in_use: bool,
}

thread_local! {
    static CONTEXT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// Restores the previous context when dropped.
pub struct ContextGuard {
    previous: Option<Context>,
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CONTEXT.with(|c| *c.borrow_mut() = previous);
    }
}

/// Installs a session's context on this thread until the guard drops.
pub fn install(cx: Context) -> ContextGuard {
    ContextGuard {
        previous: CONTEXT.with(|c| c.borrow_mut().replace(cx)),
    }
}

/// Marks the installed context's temporary schema as in use (its first temporary relation).
pub fn set_temp_in_use() {
    CONTEXT.with(|c| {
        if let Some(cx) = c.borrow_mut().as_mut() {
            cx.temp_in_use = true;
        }
    });
}

/// The installed context; with none (tests, background work), `search_path` is PostgreSQL's
/// default.
#[must_use]
pub fn context() -> Context {
    CONTEXT
        .with(|c| c.borrow().clone())
        .unwrap_or_else(|| Context {
            search_path: vec!["$user".into(), PUBLIC.into()],
            ..Context::default()
        })
}

/// Parses a `search_path` value into its entries.
#[must_use]
pub fn parse_search_path(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            if item.len() >= 2 && item.starts_with('"') && item.ends_with('"') {
                item[1..item.len() - 1].replace("\"\"", "\"")
            } else {
                item.to_lowercase()
            }
        })
        .collect()
}

/// Whether schema `name` exists for the installed context's session.
pub fn exists(engine: &Engine, txn: &Txn, name: &str) -> SqlResult<bool> {
    if matches!(name, PUBLIC | "pg_catalog" | "information_schema") {
        return Ok(true);
    }
    if name.starts_with(TEMP_PREFIX) {
        let cx = context();
        return Ok(name == cx.temp_schema && cx.temp_in_use);
    }
    Ok(get(engine, txn, name)?.is_some())
}

/// The schema a written name refers to: `pg_temp` is the session's temporary schema.
fn schema_alias(name: String) -> String {
    if name == "pg_temp" {
        context().temp_schema
    } else {
        name
    }
}

/// Splits a possibly qualified name into (schema, name); a catalog (database) part is ignored.
pub fn split_name(name: &ast::ObjectName) -> SqlResult<(Option<String>, String)> {
    let part = |p: &ast::ObjectNamePart| match p {
        ast::ObjectNamePart::Identifier(id) => Ok(ident_name(id)),
        _ => Err(SqlError::Syntax(format!("unsupported name {name}"))),
    };
    match name.0.as_slice() {
        [n] => Ok((None, part(n)?)),
        [.., s, n] => Ok((Some(schema_alias(part(s)?)), part(n)?)),
        [] => Err(SqlError::Syntax("empty name".into())),
    }
}

/// The user schemas an unqualified relation name is looked up in, in order: the session's
/// temporary schema when in use (first, unless `search_path` names `pg_temp` elsewhere), then
/// the existing schemas of `search_path` (without the catalog schemas, whose relations are
/// computed views).
pub fn lookup_path(engine: &Engine, txn: &Txn) -> SqlResult<Vec<String>> {
    let mut out = Vec::new();
    for s in candidate_schemas(&context()) {
        if exists(engine, txn, &s)? {
            out.push(s);
        }
    }
    Ok(out)
}

/// The existing schemas of `search_path` as `current_schemas(false)` lists them.
pub fn current_schemas(engine: &Engine, txn: &Txn) -> SqlResult<Vec<String>> {
    let cx = context();
    let mut out: Vec<String> = Vec::new();
    for s in &cx.search_path {
        let s = match s.as_str() {
            "$user" => cx.user.clone(),
            "pg_temp" if cx.temp_in_use => cx.temp_schema.clone(),
            "pg_temp" => continue,
            _ => s.clone(),
        };
        if !out.contains(&s) && exists(engine, txn, &s)? {
            out.push(s);
        }
    }
    Ok(out)
}

/// The catalog key of the existing relation `name` names, if any (tables, views, sequences).
pub fn find(engine: &Engine, txn: &Txn, name: &ast::ObjectName) -> SqlResult<Option<String>> {
    let (schema, rel) = split_name(name)?;
    find_parts(engine, txn, schema.as_deref(), &rel)
}

/// [`find`] for a name already split.
pub fn find_parts(
    engine: &Engine,
    txn: &Txn,
    schema: Option<&str>,
    rel: &str,
) -> SqlResult<Option<String>> {
    // A relation's key exists only while its schema does (DROP SCHEMA removes every key of
    // it), so finding the key is enough: no schema is looked up on the way.
    let cx = context();
    match schema {
        Some(s) => {
            if hidden(s, &cx.temp_schema) {
                return Ok(None);
            }
            let k = rel_key(s, rel);
            Ok(engine.get(txn, CATALOG, k.as_bytes())?.map(|_| k))
        }
        None => {
            for s in candidate_schemas(&cx) {
                let k = rel_key(&s, rel);
                if engine.get(txn, CATALOG, k.as_bytes())?.is_some() {
                    return Ok(Some(k));
                }
            }
            Ok(None)
        }
    }
}

/// The schemas an unqualified relation name may be in, in lookup order, whether or not they
/// exist (see [`lookup_path`]).
fn candidate_schemas(cx: &Context) -> Vec<String> {
    let mut out = Vec::with_capacity(cx.search_path.len() + 1);
    let placed = cx
        .search_path
        .iter()
        .any(|s| s == "pg_temp" || *s == cx.temp_schema);
    if cx.temp_in_use && !placed {
        out.push(cx.temp_schema.clone());
    }
    for s in &cx.search_path {
        let s = match s.as_str() {
            "$user" => cx.user.clone(),
            "pg_temp" if cx.temp_in_use => cx.temp_schema.clone(),
            "pg_temp" | "pg_catalog" | "information_schema" => continue,
            _ if hidden(s, &cx.temp_schema) => continue,
            _ => s.clone(),
        };
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// The key of the existing relation `name` names, or `relation "…" does not exist`.
pub fn existing(engine: &Engine, txn: &Txn, name: &ast::ObjectName) -> SqlResult<String> {
    let (schema, rel) = split_name(name)?;
    match find_parts(engine, txn, schema.as_deref(), &rel)? {
        Some(k) => Ok(k),
        None => Err(SqlError::UndefinedTable(match schema {
            Some(s) => format!("{s}.{rel}"),
            None => rel,
        })),
    }
}

/// The table `name` names (`relation "…" does not exist`, or `"…" is not a table`).
pub fn table(
    engine: &Engine,
    txn: &Txn,
    name: &ast::ObjectName,
) -> SqlResult<crate::catalog::TableDef> {
    crate::query::lookup_table(engine, txn, &existing(engine, txn, name)?)
}

/// The schema a new relation goes into: the first existing schema of `search_path`.
pub fn creation_schema(engine: &Engine, txn: &Txn) -> SqlResult<String> {
    let cx = context();
    for s in &cx.search_path {
        let s = match s.as_str() {
            "$user" => cx.user.clone(),
            "pg_temp" => continue,
            _ => s.clone(),
        };
        if exists(engine, txn, &s)? {
            return Ok(s);
        }
    }
    Err(SqlError::InvalidSchemaName(
        "no schema has been selected to create in".into(),
    ))
}

/// The schema a new relation named `name` goes into (its qualifier, which must exist, or the
/// creation schema), and its bare name.
pub fn for_create(
    engine: &Engine,
    txn: &Txn,
    name: &ast::ObjectName,
) -> SqlResult<(String, String)> {
    let (schema, rel) = split_name(name)?;
    let schema = match schema {
        Some(s) => {
            if matches!(s.as_str(), "pg_catalog" | "information_schema") {
                return Err(SqlError::InsufficientPrivilege(format!(
                    "permission denied to create \"{s}.{rel}\""
                )));
            }
            if !exists(engine, txn, &s)? {
                return Err(SqlError::UndefinedSchema(s));
            }
            s
        }
        None => creation_schema(engine, txn)?,
    };
    Ok((schema, rel))
}

/// Splits a name written as text (`'s.t'`, `'"My T"'`) into its parts, unquoting each and
/// folding unquoted ones to lower case, as PostgreSQL reads a `regclass` literal.
#[must_use]
pub fn parse_text_name(t: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = t.trim().chars().peekable();
    let mut quoted_part = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted_part = true;
                while let Some(q) = chars.next() {
                    if q == '"' {
                        if chars.peek() == Some(&'"') {
                            chars.next();
                            cur.push('"');
                        } else {
                            break;
                        }
                    } else {
                        cur.push(q);
                    }
                }
            }
            '.' => {
                parts.push(std::mem::take(&mut cur));
                quoted_part = false;
            }
            c if quoted_part => cur.push(c),
            c => cur.extend(c.to_lowercase()),
        }
    }
    parts.push(cur);
    parts
}

/// (schema, name) of a name written as text; a catalog part is ignored.
#[must_use]
pub fn split_text_name(t: &str) -> (Option<String>, String) {
    let mut parts = parse_text_name(t);
    let name = parts.pop().unwrap_or_default();
    (parts.pop().map(schema_alias), name)
}

/// The table that has index `name` (a primary key's included: `None` as position), looked up
/// as a relation name is: in `schema`, or through the search path.
pub fn find_index(
    engine: &Engine,
    txn: &Txn,
    schema: Option<&str>,
    name: &str,
) -> SqlResult<Option<(crate::catalog::TableDef, Option<usize>)>> {
    let path = match schema {
        Some(s) => vec![s.to_string()],
        None => lookup_path(engine, txn)?,
    };
    let tables = crate::catalog_views::user_tables(engine, txn)?;
    for s in &path {
        for def in tables.iter().filter(|d| &d.schema == s) {
            if !def.pk.is_empty() && def.pk_name() == name {
                return Ok(Some((def.clone(), None)));
            }
            if let Some(i) = def.indexes.iter().position(|ix| ix.name == name) {
                return Ok(Some((def.clone(), Some(i))));
            }
        }
    }
    Ok(None)
}

/// Qualifies the unqualified relation names of a view's query that resolve, now, to a relation
/// outside `public`, so that the stored text reads the same relations whatever the search
/// path when the view is expanded (names of `public` stay as written, as before schemas).
pub fn qualify_relations(engine: &Engine, txn: &Txn, q: &mut ast::Query) -> SqlResult<()> {
    use sqlparser::ast::{Visit, Visitor};
    use std::ops::ControlFlow;
    struct CteNames(Vec<String>);
    impl Visitor for CteNames {
        type Break = ();
        fn pre_visit_query(&mut self, q: &ast::Query) -> ControlFlow<()> {
            if let Some(with) = &q.with {
                for cte in &with.cte_tables {
                    self.0.push(ident_name(&cte.alias.name));
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut ctes = CteNames(Vec::new());
    let _ = q.visit(&mut ctes);
    let mut failed = None;
    let _ = ast::visit_relations_mut(q, |name| {
        if let [ast::ObjectNamePart::Identifier(id)] = name.0.as_slice() {
            let n = ident_name(id);
            if ctes.0.contains(&n) {
                return ControlFlow::Continue(());
            }
            match find_parts(engine, txn, None, &n) {
                Ok(Some(k)) => {
                    let (schema, _) = split_key(&k);
                    if schema != PUBLIC {
                        name.0.insert(
                            0,
                            ast::ObjectNamePart::Identifier(
                                if crate::catalog_views::quote_ident(schema) == schema {
                                    ast::Ident::new(schema)
                                } else {
                                    ast::Ident::with_quote('"', schema)
                                },
                            ),
                        );
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    failed = Some(e);
                    return ControlFlow::Break(());
                }
            }
        }
        ControlFlow::Continue(())
    });
    failed.map_or(Ok(()), Err)
}

/// Whether a query (its names qualified by [`qualify_relations`]) reads a temporary relation.
#[must_use]
pub fn reads_temp(q: &ast::Query) -> bool {
    use std::ops::ControlFlow;
    let found = ast::visit_relations(q, |name| match split_name(name) {
        Ok((Some(s), _)) if is_temp(&s) => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    });
    found.is_break()
}

/// Whether relations of `schema` are hidden from a session whose temporary schema is
/// `own_temp`: another session's temporary relations are invisible to it.
#[must_use]
pub fn hidden(schema: &str, own_temp: &str) -> bool {
    is_temp(schema) && schema != own_temp
}

/// Whether `schema` is a temporary schema (of any session).
#[must_use]
pub fn is_temp(schema: &str) -> bool {
    schema.starts_with(TEMP_PREFIX)
}

/// Whether an unqualified lookup of `name` finds the relation (or index) of `schema`
/// (PostgreSQL's `pg_table_is_visible`).
pub fn is_visible(engine: &Engine, txn: &Txn, schema: &str, name: &str) -> bool {
    match find_parts(engine, txn, None, name).ok().flatten() {
        Some(k) => split_key(&k).0 == schema,
        None => find_index(engine, txn, None, name)
            .ok()
            .flatten()
            .is_some_and(|(d, _)| d.schema == schema),
    }
}

/// How a relation of `schema` is named where a name must say which relation it is: bare when
/// an unqualified lookup of that name finds the same relation, else qualified (PostgreSQL's
/// rule for `regclass` output and deparsed names).
pub fn qualified_if_needed(engine: &Engine, txn: &Txn, schema: &str, name: &str) -> String {
    if is_visible(engine, txn, schema, name) {
        crate::catalog_views::quote_ident(name)
    } else {
        format!(
            "{}.{}",
            crate::catalog_views::quote_ident(schema),
            crate::catalog_views::quote_ident(name)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_public_bare_and_qualify_the_rest() {
        assert_eq!(rel_key("public", "t"), "t");
        assert_eq!(rel_key("s", "t"), "s\0t");
        assert_eq!(split_key("s\0t"), ("s", "t"));
        assert_eq!(split_key("t"), ("public", "t"));
        assert_eq!(display_key("s\0t"), "s.t");
        assert_eq!(
            parse_search_path("\"$user\", Public, \"My\"\"S\""),
            vec!["$user", "public", "My\"S"]
        );
        let d = SchemaDef {
            name: "s".into(),
            oid: 16_390,
            owner: "alice".into(),
        };
        assert_eq!(SchemaDef::decode("s", &d.encode()).unwrap(), d);
        assert!(SchemaDef::decode("s", &d.encode()[..3]).is_err());
        // Schema entries sort with the other NUL-prefixed entries, before every relation key.
        assert!(schema_key("zz").as_slice() < b"a".as_slice());
        assert!(schema_key("zz").as_slice() > b"\0c".as_slice());
    }
}
