//! A SQL session: transaction state, settings, and statement execution.
//!
//! Every statement runs in a transaction: the session's explicit one (BEGIN … COMMIT) or an
//! implicit one that commits when the statement succeeds. A commit yields the LSN of its commit
//! record; the caller acknowledges the commit to the client only once the volume's VDL covers it.
//! After an error inside an explicit transaction, every statement but COMMIT/ROLLBACK fails
//! (PostgreSQL's "current transaction is aborted"), and COMMIT rolls back.
//!
//! DDL is transactional in its catalog entry (a CREATE TABLE rolled back leaves no table), but the
//! B+tree root a CREATE allocates is not reclaimed yet. Sequences are the documented exception:
//! the values `nextval` hands out are never given back (see [`crate::sequence`]); a statement
//! that received one is acknowledged only once the block it came from is durable, so its
//! `Executed::commit_lsn` may be set even when it committed nothing.
//!
//! Writes go through one path per statement kind, each applying, per row: column defaults, NOT
//! NULL, CHECK constraints, the table's foreign keys (share-locking the referenced row), unique
//! and primary keys (through the engine's duplicate-key check, or as ON CONFLICT arbiters), and
//! then — for UPDATE and DELETE — the actions of the foreign keys that reference the table.

use crate::activity::{Activity, Backend, PublishedSetting, SettingSource};
use crate::catalog::{
    CheckDef, Column, FkAction, ForeignKeyDef, Identity, IndexDef, TableDef, decode_row,
    encode_row, pk_key, rowid_key, rowid_of_key,
};
use crate::copy::{CopyFormat, LineSplitter};
use crate::cursor::RowStore;
use crate::error::{SqlError, SqlResult};
use crate::expr::{AggMode, Binder, Expr, ScopeColumn, SessionInfo, ident_name, object_name};
use crate::index::{self, NameOwner};
use crate::query::explain::{
    Conflict, Dml, DmlActual, DmlCommand, DmlSource, Instrument, Options, Part, Walk,
};
use crate::query::{
    Access, ColumnInfo, Executor, Planner, QueryPlan, lookup_table, matching_rows, single_table,
    table_scope,
};
use crate::sequence::{
    SequenceAccess, SequenceOptions, Sequences, SessionSequences, lookup_sequence, user_sequences,
};
use crate::settings;
use crate::types::{DataType, Value};
use borealis_common::Lsn;
use borealis_engine::{
    CATALOG, Engine, EngineError, Isolation, LockMode, LockWait, SavepointId, TreeId, Txn,
};
use sqlparser::ast;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

#[path = "cte.rs"]
mod cte;

/// State shared by every session of an instance.
pub struct Database {
    pub engine: Arc<Engine>,
    /// Next hidden row id per table, seeded from the table's greatest key on first use.
    rowids: Mutex<HashMap<TreeId, u64>>,
    /// The sequences' states (see [`crate::sequence`]).
    pub sequences: Sequences,
    /// Every live session (see [`crate::activity`]).
    pub activity: Arc<Activity>,
}

impl Database {
    #[must_use]
    pub fn new(engine: Arc<Engine>) -> Arc<Database> {
        Arc::new(Database {
            engine,
            rowids: Mutex::new(HashMap::new()),
            sequences: Sequences::default(),
            activity: Arc::default(),
        })
    }

    /// Removes every relation of temporary schema `schema` (a session's, at its end) in a
    /// transaction of its own: catalog entries, the comments on them, sequence states held in
    /// memory. The trees become unreachable, as a dropped table's do.
    pub fn drop_temp_schema(&self, schema: &str) -> SqlResult<Option<Lsn>> {
        let engine = &self.engine;
        let mut txn = engine.begin();
        let r = (|| {
            for key in crate::namespace::relation_keys(engine, &txn, schema)? {
                let resolved = crate::query::resolve_key(engine, &txn, &key);
                let oids: Vec<u32> = match resolved {
                    Ok(crate::query::Resolved::Table(d)) => std::iter::once(d.oid)
                        .chain(d.indexes.iter().map(|ix| ix.oid))
                        .collect(),
                    Ok(crate::query::Resolved::Sequence(q)) => {
                        self.sequences.forget(q.tree);
                        vec![q.oid]
                    }
                    Ok(crate::query::Resolved::View(v)) => vec![v.oid],
                    _ => Vec::new(),
                };
                for o in oids {
                    crate::comments::drop_all(engine, &mut txn, PG_CLASS_OID, o)?;
                }
                engine.delete(&mut txn, CATALOG, key.as_bytes())?;
            }
            Ok(())
        })();
        match r {
            Ok(()) => Ok(engine.commit(txn)?),
            Err(e) => {
                engine.rollback(txn);
                Err(e)
            }
        }
    }

    /// Removes the temporary relations sessions left behind when the instance stopped
    /// (a crash, a kill): no session survives a restart, so none of them is in use. Reads only
    /// the catalog's range of temporary schemas.
    pub fn drop_leftover_temp_relations(&self) -> SqlResult<usize> {
        let txn = self.engine.begin();
        let schemas = crate::namespace::temp_schemas_in_catalog(&self.engine, &txn);
        self.engine.rollback(txn);
        let schemas = schemas?;
        for s in &schemas {
            self.drop_temp_schema(s)?;
        }
        Ok(schemas.len())
    }

    fn next_rowid(&self, txn: &Txn, tree: TreeId) -> SqlResult<u64> {
        let mut ids = self.rowids.lock().expect("poisoned");
        let next = match ids.get(&tree) {
            Some(n) => *n,
            None => match self.engine.last_key(txn, tree)? {
                Some(k) => {
                    rowid_of_key(&k)
                        .ok_or_else(|| SqlError::Corrupted("hidden row id key".into()))?
                        + 1
                }
                None => 1,
            },
        };
        ids.insert(tree, next + 1);
        Ok(next)
    }
}

/// The name and arguments of SQL `EXECUTE name [(args)]` (not `EXECUTE IMMEDIATE`, `INTO` or
/// `USING`, which are other dialects').
fn sql_execute(stmt: &ast::Statement) -> Option<(&ast::ObjectName, &[ast::Expr])> {
    match stmt {
        ast::Statement::Execute {
            name: Some(name),
            parameters,
            immediate: false,
            into,
            using,
            ..
        } if into.is_empty() && using.is_empty() => Some((name, parameters)),
        _ => None,
    }
}

/// The lines of a `COPY … TO STDOUT`, encoded as rows arrive, in a store that spills.
struct CopyLines<'f> {
    format: &'f CopyFormat,
    store: RowStore,
}

impl CopyLines<'_> {
    /// The CSV header line, if the format has one.
    fn header(&mut self, names: &[String]) -> SqlResult<()> {
        if self.format.header {
            let mut h = String::new();
            self.format.encode_header(names, &mut h);
            self.store.push(vec![Value::Text(h)])?;
        }
        Ok(())
    }

    fn encode(&mut self, row: &[Value]) -> SqlResult<()> {
        let mut line = String::new();
        self.format.encode_row(row, &mut line);
        self.store.push(vec![Value::Text(line)])
    }
}

impl crate::query::ResultSink for CopyLines<'_> {
    fn push_row(&mut self, row: Vec<Value>) -> SqlResult<()> {
        self.encode(&row)
    }

    fn row_count(&self) -> usize {
        // The header line is not a row: LIMIT counts rows.
        let header = usize::from(self.format.header);
        usize::try_from(self.store.len()).unwrap_or(usize::MAX) - header
    }
}

/// What a statement produced.
#[derive(Debug, PartialEq)]
pub enum Output {
    Rows {
        columns: Vec<ColumnInfo>,
        rows: Vec<Vec<Value>>,
    },
    /// A command tag such as `INSERT 0 3`.
    Command { tag: String },
    /// The tag of SAVEPOINT, RELEASE or ROLLBACK TO: the transaction block goes on (a wire front
    /// end must not read `ROLLBACK` here as the end of the block).
    InBlockCommand { tag: String },
    /// `COPY … FROM STDIN`: the client sends the data next, through [`Session::copy_in_start`]
    /// and friends (this output only says so when `execute` is given a COPY FROM).
    CopyIn { columns: usize },
    /// Rows of `INSERT`/`UPDATE`/`DELETE … RETURNING`: the tag is `tag` followed by the row
    /// count (`INSERT 0 2`).
    Returning {
        tag: String,
        columns: Vec<ColumnInfo>,
        rows: Vec<Vec<Value>>,
    },
    /// `COPY … TO STDOUT`: one encoded line per row, then the tag `COPY n`.
    CopyOut { columns: usize, lines: Vec<String> },
    /// `COPY … TO STDOUT` whose lines outgrew the result budget: each row of the store is one
    /// line (a text value), the CSV header first if there is one.
    StoredCopyOut { columns: usize, lines: RowStore },
    /// A query's rows that outgrew the result budget ([`Session::result_memory_bytes`]), kept in
    /// a temporary file and read back as they are sent.
    StoredRows {
        columns: Vec<ColumnInfo>,
        rows: RowStore,
    },
    /// Rows of a `FETCH` (tag `FETCH n`); `binary`: the cursor was declared BINARY, so a simple
    /// query sends them in binary form (through the extended protocol, Bind's formats decide).
    Fetched {
        columns: Vec<ColumnInfo>,
        rows: Vec<Vec<Value>>,
        binary: bool,
    },
}

/// A statement's outcome. When `commit_lsn` is set, the statement committed a transaction that
/// may be acknowledged only once the volume is durable up to that LSN.
#[derive(Debug)]
pub struct Executed {
    pub output: Output,
    pub commit_lsn: Option<Lsn>,
    /// A notice for the client (e.g. "there is no transaction in progress").
    pub notice: Option<String>,
}

/// Transaction status as the wire protocol reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxnStatus {
    Idle,
    InBlock,
    Failed,
}

/// Settings PostgreSQL reports to the client (ParameterStatus) whenever they change.
const REPORTED: &[&str] = &[
    "application_name",
    "client_encoding",
    "DateStyle",
    "IntervalStyle",
    "TimeZone",
    "standard_conforming_strings",
    "is_superuser",
    "integer_datetimes",
    "server_encoding",
    "server_version",
];

/// Parses a PostgreSQL duration setting (`0`, `1500`, `'2s'`, `'100ms'`, `'1min'`) to ms.
pub fn parse_duration_ms(v: &str) -> Option<u64> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: u64 = num.parse().ok()?;
    let factor = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1000,
        "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// A `synchronous_commit` value as PostgreSQL accepts it: whether commits wait for durability.
fn synchronous_commit_named(v: &str) -> Option<bool> {
    match v.to_lowercase().as_str() {
        "off" | "false" | "no" | "0" => Some(false),
        "on" | "true" | "yes" | "1" | "local" | "remote_write" | "remote_apply" => Some(true),
        _ => None,
    }
}

/// Parses SQL text into statements (PostgreSQL dialect).
pub fn parse(sql: &str) -> SqlResult<Vec<ast::Statement>> {
    if let Some(stmt) = crate::ddl_parse::recognise(sql)? {
        return Ok(vec![stmt]);
    }
    // Expression and window forms the parser lacks or misreads (BETWEEN SYMMETRIC, TRIM,
    // EXCLUDE, FETCH FIRST counts, `t.*::type`): see `dialect.rs`. The rewritten text holds
    // none of them, so the second pass does not rewrite again.
    if let Some(fixed) = crate::dialect::rewrite(sql) {
        let mut stmts = self::parse(&fixed)?;
        crate::dialect::restore(&mut stmts);
        return Ok(stmts);
    }
    let parse = |text: &str| {
        sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::PostgreSqlDialect {}, text)
    };
    match parse(sql) {
        Ok(s) => {
            // Several statements, some of them cursor statements or RENAME forms: those are
            // read by `ddl_parse`, which knows all of PostgreSQL's forms, each on its own.
            if s.len() > 1
                && (sql.to_ascii_lowercase().contains("rename")
                    || s.iter().any(|st| {
                        matches!(
                            st,
                            ast::Statement::Declare { .. }
                                | ast::Statement::Fetch { .. }
                                | ast::Statement::Close { .. }
                        )
                    }))
                && let Some(pieces) = crate::ddl_parse::split_statements(sql)
            {
                let mut out = Vec::with_capacity(pieces.len());
                for p in pieces {
                    out.extend(self::parse(p)?);
                }
                return Ok(out);
            }
            Ok(s)
        }
        Err(e) => {
            // Several statements, one of them a form the parser lacks: each on its own.
            if let Some(pieces) = crate::ddl_parse::split_statements(sql) {
                let mut out = Vec::with_capacity(pieces.len());
                for p in pieces {
                    out.extend(self::parse(p)?);
                }
                return Ok(out);
            }
            // Forms of PostgreSQL's grammar the parser lacks, for single statements.
            if let Some(stmts) = parse_fallback(sql, &parse) {
                return Ok(stmts);
            }
            // Positioned UPDATE/DELETE through a cursor: cursors here hold a copy of their
            // rows, not a position in the table (see `cursor.rs`).
            let words: Vec<String> = sql.split_whitespace().map(str::to_lowercase).collect();
            if words
                .windows(3)
                .any(|w| w[0] == "where" && w[1] == "current" && w[2] == "of")
            {
                return Err(SqlError::FeatureNotSupported("WHERE CURRENT OF".into()));
            }
            Err(SqlError::Syntax(
                e.to_string()
                    .trim_start_matches("sql parser error: ")
                    .to_string(),
            ))
        }
    }
}

/// A view's `check_option` from `CREATE VIEW … WITH (check_option = local | cascaded)`, the
/// form `… AS query WITH [LOCAL | CASCADED] CHECK OPTION` arrives in too (see
/// [`check_option_suffix`]).
fn view_check_option(
    options: &ast::CreateTableOptions,
) -> SqlResult<Option<crate::catalog::CheckOption>> {
    use crate::catalog::CheckOption;
    let ast::CreateTableOptions::With(opts) = options else {
        return Ok(None);
    };
    let mut out = None;
    for o in opts {
        if let ast::SqlOption::KeyValue { key, value } = o
            && ident_name(key) == "check_option"
        {
            let word = match value {
                ast::Expr::Identifier(i) => ident_name(i),
                ast::Expr::Value(v) => match &v.value {
                    ast::Value::SingleQuotedString(t) => t.to_lowercase(),
                    _ => String::new(),
                },
                _ => String::new(),
            };
            out = Some(match word.as_str() {
                "local" => CheckOption::Local,
                "cascaded" => CheckOption::Cascaded,
                _ => {
                    return Err(SqlError::InvalidParameterValue(
                        "invalid value for enum option \"check_option\": ".to_string() + &word,
                    ));
                }
            });
        }
    }
    Ok(out)
}

/// `CREATE VIEW … AS query WITH [LOCAL | CASCADED] CHECK OPTION`, which the parser does not
/// read: the text without the clause, and the option as the `WITH (check_option = …)` form
/// names it. `None` when `text` does not end so.
fn check_option_suffix(text: &str) -> Option<(String, &'static str)> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let n = words.len();
    if n < 4
        || !words[n - 2].eq_ignore_ascii_case("check")
        || !words[n - 1].eq_ignore_ascii_case("option")
    {
        return None;
    }
    let (kind, cut) = if words[n - 3].eq_ignore_ascii_case("with") {
        ("cascaded", 3)
    } else if n >= 5 && words[n - 4].eq_ignore_ascii_case("with") {
        match words[n - 3].to_ascii_lowercase().as_str() {
            "local" => ("local", 4),
            "cascaded" => ("cascaded", 4),
            _ => return None,
        }
    } else {
        return None;
    };
    // Cut at the byte offset of the clause's first word, counted from the end.
    let mut end = text.len();
    for _ in 0..cut {
        let trimmed = text[..end].trim_end();
        end = trimmed.rfind(char::is_whitespace).map_or(0, |i| i + 1);
    }
    Some((text[..end].trim_end().to_string(), kind))
}

/// `pg_class`'s and `pg_namespace`'s OIDs, as comments name the catalog of their object.
const PG_CLASS_OID: u32 = 1259;
const PG_NAMESPACE_OID: u32 = 2615;

/// `ALTER SEQUENCE [IF EXISTS] name [AS type] [INCREMENT …] [MINVALUE …] [MAXVALUE …]
/// [START …] [RESTART [[WITH] n]] [CACHE …] [[NO] CYCLE] [OWNED BY table.column | NONE]`.
///
/// The parser has no ALTER SEQUENCE, so the statement travels as a `CALL` of a function whose
/// name (`ALTER SEQUENCE`, with its space) no parsed CALL can have, holding the statement's text;
/// [`AlterSequence::parse`] reads it — the options through the parser's CREATE SEQUENCE, RESTART
/// by itself.
struct AlterSequence {
    if_exists: bool,
    name: ast::ObjectName,
    data_type: Option<ast::DataType>,
    options: Vec<ast::SequenceOptions>,
    owned_by: Option<ast::ObjectName>,
    /// `RESTART`: `Some(None)` restarts at the start value.
    restart: Option<Option<i64>>,
}

const ALTER_SEQUENCE_CARRIER: &str = "ALTER SEQUENCE";
use crate::ddl_parse::{RENAME_CARRIER, SCHEMA_ELEMENTS_CARRIER, SET_SCHEMA_CARRIER};

/// Fails with [`SqlError::NoSuchParameter`] when `stmt` names a parameter `$n` beyond the
/// `given` values (a simple query has none), as PostgreSQL's parse analysis does, for the
/// first such `$n` in the text; a SELECT finds them as it binds. Without this an INSERT,
/// UPDATE or DELETE would read a missing parameter as NULL.
fn check_parameters(stmt: &ast::Statement, given: usize) -> SqlResult<()> {
    use std::ops::ControlFlow;
    let missing = ast::visit_expressions(stmt, |e| {
        if let ast::Expr::Value(v) = e
            && let ast::Value::Placeholder(p) = &v.value
            && let Some(n) = p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok())
            && n > given
        {
            return ControlFlow::Break(n);
        }
        ControlFlow::Continue(())
    });
    match missing {
        ControlFlow::Break(n) => Err(SqlError::NoSuchParameter(n)),
        ControlFlow::Continue(()) => Ok(()),
    }
}

impl AlterSequence {
    fn carrier(text: &str) -> ast::Statement {
        crate::ddl_parse::carrier(ALTER_SEQUENCE_CARRIER, text)
    }

    /// The statement's text, if `stmt` carries an ALTER SEQUENCE.
    fn carried(stmt: &ast::Statement) -> Option<&str> {
        crate::ddl_parse::carried(stmt, ALTER_SEQUENCE_CARRIER)
    }

    fn parse(text: &str) -> SqlResult<AlterSequence> {
        let syntax = |m: &str| SqlError::Syntax(m.to_string());
        let text = text.trim().trim_end_matches(';').trim();
        let words: Vec<&str> = text.split_whitespace().collect();
        let lw: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
        let mut i = 2;
        let if_exists = lw.get(2).map(String::as_str) == Some("if");
        if if_exists {
            if lw.get(3).map(String::as_str) != Some("exists") {
                return Err(syntax("syntax error at or near \"if\""));
            }
            i = 4;
        }
        // RESTART [[WITH] n] is taken out; the rest reads as CREATE SEQUENCE's options.
        let mut restart = None;
        let mut rest: Vec<&str> = Vec::new();
        let mut k = i;
        while k < words.len() {
            if lw[k] == "restart" {
                let mut j = k + 1;
                if lw.get(j).map(String::as_str) == Some("with") {
                    j += 1;
                }
                match words.get(j).and_then(|w| w.parse::<i64>().ok()) {
                    Some(n) => {
                        restart = Some(Some(n));
                        k = j + 1;
                    }
                    None if j > k + 1 => return Err(syntax("syntax error at end of input")),
                    None => {
                        restart = Some(None);
                        k = j;
                    }
                }
                continue;
            }
            rest.push(words[k]);
            k += 1;
        }
        if rest.is_empty() {
            return Err(syntax("syntax error at end of input"));
        }
        let create = format!("CREATE SEQUENCE {}", rest.join(" "));
        let create = sequence_options_in_parser_order(&create).unwrap_or(create);
        let stmts = sqlparser::parser::Parser::parse_sql(
            &sqlparser::dialect::PostgreSqlDialect {},
            &create,
        )
        .map_err(|e| syntax(e.to_string().trim_start_matches("sql parser error: ")))?;
        match stmts.into_iter().next() {
            Some(ast::Statement::CreateSequence {
                name,
                data_type,
                sequence_options,
                owned_by,
                ..
            }) => Ok(AlterSequence {
                if_exists,
                name,
                data_type,
                options: sequence_options,
                owned_by,
                restart,
            }),
            _ => Err(syntax("syntax error in ALTER SEQUENCE")),
        }
    }
}

/// `VACUUM [FULL] [FREEZE] [VERBOSE] [ANALYZE] [(options)] [table [, …]]`, and COPY options
/// written `FREEZE ON` / `HEADER ON` (the parser wants `TRUE`).
fn parse_fallback(
    sql: &str,
    parse: &dyn Fn(&str) -> Result<Vec<ast::Statement>, sqlparser::parser::ParserError>,
) -> Option<Vec<ast::Statement>> {
    let text = sql.trim().trim_end_matches(';').trim();
    if text.contains(';') {
        // Several statements: without quotes, `;` separates them and each can be parsed alone.
        if text.contains(['\'', '"', '$', '-', '/']) {
            return None;
        }
        let mut out = Vec::new();
        for piece in text.split(';').filter(|p| !p.trim().is_empty()) {
            match parse(piece) {
                Ok(s) => out.extend(s),
                Err(_) => out.extend(parse_fallback(piece, parse)?),
            }
        }
        return Some(out);
    }
    if let Ok(Some(stmt)) = crate::ddl_parse::recognise(text) {
        return Some(vec![stmt]);
    }
    if let Some(fixed) = weaker_lock_clauses(text) {
        return parse(&fixed).ok();
    }
    let lower = text.to_lowercase();
    if lower.starts_with("create")
        && let Some((rest, kind)) = check_option_suffix(text)
    {
        let mut stmts = parse(&rest).ok()?;
        let [ast::Statement::CreateView(cv)] = stmts.as_mut_slice() else {
            return None;
        };
        let option = ast::SqlOption::KeyValue {
            key: ast::Ident::new("check_option"),
            value: ast::Expr::Identifier(ast::Ident::new(kind)),
        };
        match &mut cv.options {
            ast::CreateTableOptions::With(o) => o.push(option),
            other => *other = ast::CreateTableOptions::With(vec![option]),
        }
        return Some(stmts);
    }
    let first = lower.split_whitespace().next()?;
    if lower.starts_with("alter sequence") {
        // Checked now, so a malformed one fails at parse time as PostgreSQL's would.
        AlterSequence::parse(text).ok()?;
        return Some(vec![AlterSequence::carrier(text)]);
    }
    if lower.starts_with("create sequence") && !text.contains(['\'', '"', '(']) {
        return parse(&sequence_options_in_parser_order(text)?).ok();
    }
    match first {
        "vacuum" | "analyze" | "analyse" => {
            let mut rest = text[first.len()..].trim_start();
            // VACUUM with ANALYZE (a word or an option) gathers statistics too; it arrives as
            // an ANALYZE marked `compute_statistics` (see `Session::analyze`).
            let mut analyze = first != "vacuum";
            let mut vacuum_analyze = false;
            if rest.starts_with('(') {
                let options = rest[1..rest.find(')')?].to_lowercase();
                vacuum_analyze |= options
                    .split(',')
                    .any(|o| matches!(o.split_whitespace().next(), Some("analyze" | "analyse")));
                rest = rest[rest.find(')')? + 1..].trim_start();
            }
            loop {
                let word = rest.split_whitespace().next().unwrap_or("").to_lowercase();
                if matches!(
                    word.as_str(),
                    "full" | "freeze" | "verbose" | "analyze" | "analyse"
                ) {
                    vacuum_analyze |= matches!(word.as_str(), "analyze" | "analyse");
                    rest = rest[word.len()..].trim_start();
                } else {
                    break;
                }
            }
            let marked = first == "vacuum" && vacuum_analyze;
            analyze |= marked;
            let statement = |table: &str| -> Option<ast::Statement> {
                if !analyze {
                    return parse(&format!("VACUUM {table}")).ok()?.pop();
                }
                let mut s = parse(&format!("ANALYZE {table}")).ok()?.pop()?;
                if let ast::Statement::Analyze(a) = &mut s {
                    a.compute_statistics = marked;
                }
                Some(s)
            };
            let mut out = Vec::new();
            if rest.is_empty() {
                out.push(statement("")?);
            }
            // Tables are separated by commas outside their column lists.
            let mut depth = 0usize;
            let mut start = 0;
            let mut tables = Vec::new();
            for (i, ch) in rest.char_indices() {
                match ch {
                    '(' => depth += 1,
                    ')' => depth = depth.saturating_sub(1),
                    ',' if depth == 0 => {
                        tables.push(&rest[start..i]);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            if !rest.is_empty() {
                tables.push(&rest[start..]);
            }
            for table in tables {
                let table = table.trim();
                if table.is_empty() {
                    return None;
                }
                let table = if analyze {
                    table
                } else {
                    table.split('(').next()?.trim()
                };
                out.push(statement(table)?);
            }
            Some(out)
        }
        "copy" => {
            let words: Vec<&str> = text.split_whitespace().collect();
            let mut fixed = Vec::with_capacity(words.len());
            for (i, w) in words.iter().enumerate() {
                let prev = i
                    .checked_sub(1)
                    .map(|p| words[p].trim_start_matches('(').to_lowercase());
                let lw = w.trim_end_matches([')', ',']).to_lowercase();
                let tail = &w[lw.len()..];
                if matches!(prev.as_deref(), Some("freeze" | "header"))
                    && matches!(lw.as_str(), "on" | "off" | "1" | "0")
                {
                    let b = if matches!(lw.as_str(), "on" | "1") {
                        "true"
                    } else {
                        "false"
                    };
                    fixed.push(format!("{b}{tail}"));
                } else {
                    fixed.push((*w).to_string());
                }
            }
            parse(&fixed.join(" ")).ok()
        }
        _ => None,
    }
}

/// What [`Session::add_index`] builds: the key columns, in order, and how.
struct IndexShape {
    columns: Vec<usize>,
    unique: bool,
    /// Made by a UNIQUE constraint.
    constraint: bool,
    /// Per column, PostgreSQL's `indoption` bits (empty: all ascending, NULLs last).
    options: Vec<u8>,
}

/// The relation an `ALTER … RENAME` names.
enum RenameSubject {
    Table(TableDef),
    View(crate::catalog::ViewDef),
    Sequence(crate::sequence::SequenceDef),
    /// An index of the table: its position, `None` for the primary key.
    Index(TableDef, Option<usize>),
}

impl RenameSubject {
    /// The schema the relation is in (and stays in).
    fn schema(&self) -> &str {
        match self {
            RenameSubject::Table(d) | RenameSubject::Index(d, _) => &d.schema,
            RenameSubject::View(v) => &v.schema,
            RenameSubject::Sequence(q) => &q.schema,
        }
    }
}

/// PostgreSQL's refusal of a column (or constraint) rename of sequence `name`: its ALTER TABLE
/// checks the relation as a column rename's first.
fn sequence_columns(name: &str) -> SqlError {
    SqlError::WrongObjectTypeDetail {
        message: format!("cannot rename columns of relation \"{name}\""),
        detail: "This operation is not supported for sequences.".into(),
    }
}

/// The names of a table's constraints (PostgreSQL's `pg_constraint` rows of it), which are
/// unique per table.
fn constraint_names(def: &TableDef) -> Vec<String> {
    let mut out = Vec::with_capacity(1 + def.indexes.len() + def.checks.len());
    if !def.pk.is_empty() {
        out.push(def.pk_name());
    }
    out.extend(
        def.indexes
            .iter()
            .filter(|ix| ix.constraint)
            .map(|ix| ix.name.clone()),
    );
    out.extend(def.checks.iter().map(|c| c.name.clone()));
    out.extend(def.foreign_keys.iter().map(|f| f.name.clone()));
    out
}

/// Where a moved or renamed relation is now: its (schema, name) as a query names it to its
/// new (schema, name), `None` for a relation that stays.
type RelationMap<'a> = dyn Fn(&str, &str) -> Option<(String, String)> + 'a;

/// Renames relations in a view's query for [`Session::rename_in_views`]: `moved` maps a
/// relation's (schema, name) to its new ones; names of CTEs are not relations.
struct RelationRenamer<'a> {
    ctes: Vec<String>,
    moved: &'a RelationMap<'a>,
    changed: bool,
}

impl RelationRenamer<'_> {
    /// Where relation `name` goes, if `moved` moves it: (old name, new schema, new name).
    fn target(&self, name: &ast::ObjectName) -> Option<(String, String, String)> {
        let (schema, rel) = crate::namespace::split_name(name).ok()?;
        if schema.is_none() && self.ctes.contains(&rel) {
            return None;
        }
        let schema = schema.unwrap_or_else(|| crate::namespace::PUBLIC.into());
        let (new_schema, new_name) = (self.moved)(&schema, &rel)?;
        Some((rel, new_schema, new_name))
    }
}

/// An identifier as the parser would read `s` back: quoted only when it must be.
fn ident_as_written(s: &str) -> ast::Ident {
    if crate::catalog_views::quote_ident(s) == s {
        ast::Ident::new(s)
    } else {
        ast::Ident::with_quote('"', s)
    }
}

impl ast::VisitorMut for RelationRenamer<'_> {
    type Break = ();

    fn pre_visit_table_factor(
        &mut self,
        factor: &mut ast::TableFactor,
    ) -> std::ops::ControlFlow<()> {
        if let ast::TableFactor::Table {
            name,
            alias: alias @ None,
            args: None,
            ..
        } = factor
            && let Some((old, _, new)) = self.target(name)
            && old != new
        {
            *alias = Some(ast::TableAlias {
                explicit: true,
                name: ident_as_written(&old),
                columns: Vec::new(),
                at: None,
            });
        }
        std::ops::ControlFlow::Continue(())
    }

    fn pre_visit_relation(&mut self, name: &mut ast::ObjectName) -> std::ops::ControlFlow<()> {
        if let Some((_, schema, rel)) = self.target(name) {
            let mut parts = Vec::with_capacity(2);
            if schema != crate::namespace::PUBLIC {
                parts.push(ident_as_written(&schema));
            }
            parts.push(ident_as_written(&rel));
            *name = ast::ObjectName::from(parts);
            self.changed = true;
        }
        std::ops::ControlFlow::Continue(())
    }
}

/// The names the WITH clauses of a query (and of the queries inside it) give their CTEs.
fn cte_names(q: &ast::Query) -> Vec<String> {
    use sqlparser::ast::{Visit, Visitor};
    use std::ops::ControlFlow;
    struct Names(Vec<String>);
    impl Visitor for Names {
        type Break = ();
        fn pre_visit_query(&mut self, q: &ast::Query) -> ControlFlow<()> {
            if let Some(with) = &q.with {
                self.0
                    .extend(with.cte_tables.iter().map(|c| ident_name(&c.alias.name)));
            }
            ControlFlow::Continue(())
        }
    }
    let mut names = Names(Vec::new());
    let _ = q.visit(&mut names);
    names.0
}

/// `CREATE SEQUENCE` with its options in the order the parser wants (see
/// [`crate::dialect::sequence_options_in_order`]). `None` if the text has words no option
/// starts with.
fn sequence_options_in_parser_order(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let lw: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    // CREATE SEQUENCE [IF NOT EXISTS] name [AS type]
    let mut i = 2;
    if lw.get(2).map(String::as_str) == Some("if") {
        i += 3;
    }
    i += 1;
    if lw.get(i).map(String::as_str) == Some("as") {
        i += 2;
    }
    let head = words.get(..i)?.join(" ");
    let options = crate::dialect::sequence_options_in_order(words.get(i..)?)?;
    Some(if options.is_empty() {
        head
    } else {
        format!("{head} {options}")
    })
}

/// `FOR NO KEY UPDATE` → `FOR UPDATE` and `FOR KEY SHARE` → `FOR SHARE` outside quotes (the
/// parser knows only the latter; the engine locks them the same, see
/// [`LockingQuery`](crate::query::LockingQuery)). `None` if there is nothing to rewrite.
fn weaker_lock_clauses(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut quote: Option<char> = None;
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < text.len() {
        let c = text[i..].chars().next()?;
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
        } else if c == '\'' || c == '"' {
            quote = Some(c);
        } else if (c == 'f' || c == 'F') && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) {
            let rest = &text[i..];
            let words: Vec<&str> = rest.split_whitespace().take(4).collect();
            let lw: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
            let lw: Vec<&str> = lw.iter().map(String::as_str).collect();
            let (skip, with) = match lw.as_slice() {
                ["for", "no", "key", "update", ..] => (4, "FOR UPDATE"),
                ["for", "key", "share", ..] => (3, "FOR SHARE"),
                _ => (0, ""),
            };
            if skip > 0 {
                // Advance past `skip` words.
                let mut j = 0;
                for _ in 0..skip {
                    let r = &rest[j..];
                    let start = r.len() - r.trim_start().len();
                    let word = r.split_whitespace().next()?;
                    j += start + word.len();
                }
                out.push_str(with);
                i += j;
                changed = true;
                continue;
            }
        }
        out.push(c);
        i += c.len_utf8();
    }
    changed.then_some(out)
}

/// Separates a notice's message from its detail in [`Session::take_notices`]'s strings.
pub const NOTICE_DETAIL: char = '\u{2}';

/// How a CREATE makes its relation: `TEMPORARY`, `IF NOT EXISTS`, `ON COMMIT`.
#[derive(Clone, Copy, Default)]
struct Creation<'a> {
    temporary: bool,
    if_not_exists: bool,
    on_commit: Option<&'a ast::OnCommit>,
}

/// One client session.
pub struct Session {
    db: Arc<Database>,
    txn: Option<Txn>,
    in_block: bool,
    failed: bool,
    /// Current values by lower-case name, as `SHOW` prints them, and where each came from.
    settings: BTreeMap<String, (String, SettingSource)>,
    /// What `RESET` returns each setting to: its value after the connection's startup.
    reset_values: BTreeMap<String, (String, SettingSource)>,
    /// This session in the instance's registry of sessions.
    backend: Arc<Backend>,
    pub info: SessionInfo,
    /// Notices raised by the last statement beyond `Executed::notice` (e.g. DROP … IF EXISTS).
    notices: Vec<String>,
    /// Reported parameters (ParameterStatus) that SET changed since last taken.
    changed_reported: Vec<&'static str>,
    /// An open `COPY … FROM STDIN`.
    copy_in: Option<CopyIn>,
    /// The error that ended a COPY FROM STDIN early: later data is discarded and the error is
    /// reported when the client ends the copy, as the protocol expects.
    copy_error: Option<SqlError>,
    /// Open savepoints of the transaction block, oldest first.
    savepoints: Vec<(String, SavepointId)>,
    /// Statements run in the current transaction block (the isolation level can change only
    /// before the first).
    statements_in_block: usize,
    /// The transaction block's access mode if `BEGIN`/`SET TRANSACTION` gave one (`true`: READ
    /// ONLY); otherwise `default_transaction_read_only` decides.
    block_read_only: Option<bool>,
    /// `currval`, `lastval`, and the sequence commits an acknowledgement waits for.
    sequences: SessionSequences,
    /// Statements prepared with SQL `PREPARE`, by name (the protocol's named statements live in
    /// the front end).
    sql_prepared: HashMap<String, SqlPrepared>,
    /// Moves on every settings change: a cached plan is bound under the settings of its time
    /// (`search_path` decides which relations names mean).
    settings_epoch: std::cell::Cell<u64>,
    /// The settings every statement reads at its start, parsed under `settings_epoch`.
    derived_settings: std::cell::RefCell<Option<DerivedSettings>>,
    /// The plan cache of the prepared statement being executed (see [`Session::execute_with_plan_cache`]).
    plan_slot: Option<Arc<PlanSlot>>,
    /// Whether this session has made temporary relations (its `pg_temp_N` schema exists).
    temp_in_use: bool,
    /// Temporary tables with `ON COMMIT DELETE ROWS` (`false`) or `ON COMMIT DROP` (`true`),
    /// by OID.
    on_commit: Vec<(u32, bool)>,
    /// The session's open SQL cursors (see [`crate::cursor`]).
    cursors: crate::cursor::Cursors,
    /// EXPLAIN ANALYZE of INSERT/UPDATE/DELETE: the instrument the executors that find or
    /// compute the statement's rows carry, lent to each in turn.
    explain_instrument: std::cell::Cell<Option<Instrument>>,
    /// EXPLAIN ANALYZE of INSERT … ON CONFLICT: rows proposed and rows inserted (counted by
    /// every ON CONFLICT, read after the one EXPLAIN ANALYZE runs).
    explain_conflicts: std::cell::Cell<(u64, u64)>,
}

/// The settings every statement reads at its start, parsed: `search_path`'s entries, the time
/// zone, `work_mem`, the parallel settings and the default isolation level. A prepared point
/// query costs a few thousand instructions, and parsing these (lowercasing names, splitting
/// `search_path`, reading the zone) on every statement was a third of them; they are parsed
/// again only when a setting changes, which moves `Session::settings_epoch`.
struct DerivedSettings {
    /// The `settings_epoch` these were parsed under.
    epoch: u64,
    /// `search_path`, as [`crate::namespace::parse_search_path`] gives it.
    search_path: Vec<String>,
    /// `TimeZone` (UTC if unreadable).
    zone: crate::datetime::Zone,
    /// `work_mem`, in bytes.
    work_mem_bytes: usize,
    /// `max_parallel_workers_per_gather` and whether `force_parallel_mode` is on.
    parallel: (usize, bool),
    /// `default_transaction_isolation`.
    isolation: Isolation,
    /// The session's temporary schema's name: not a setting, but every statement's name
    /// context carries it, and formatting it each time cost as much as the rest.
    temp_schema: String,
}

/// Where a prepared statement keeps its plan between executions. The plan is reused while the
/// catalog generation ([`Engine::catalog_generation`]) and the session's settings are those it
/// was bound under, and never inside a transaction that has changed the catalog itself.
/// A statement's result type is fixed by its first plan: a later one that would change it is
/// refused, as PostgreSQL refuses it (0A000).
#[derive(Default)]
pub struct PlanSlot(std::sync::Mutex<(Option<CachedPlan>, Option<Vec<DataType>>)>);

impl std::fmt::Debug for PlanSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlanSlot")
    }
}

struct CachedPlan {
    catalog: u64,
    settings: u64,
    plan: Arc<crate::query::QueryPlan>,
}

/// A statement prepared with SQL `PREPARE name (types) AS statement`.
struct SqlPrepared {
    stmt: ast::Statement,
    param_types: Vec<DataType>,
    /// Which parameters were declared `bpchar` / `character`: their arguments are bpchars.
    param_bpchar: Vec<bool>,
    /// Its plan between executions, as the protocol's prepared statements keep theirs: bound
    /// again by name after DDL (a renamed relation is no longer found, as in PostgreSQL), and
    /// refused when its result type would change.
    slot: Arc<PlanSlot>,
}

impl Drop for Session {
    fn drop(&mut self) {
        // A session's temporary relations end with it, however its connection ended.
        if self.temp_in_use {
            if let Some(t) = self.txn.take() {
                self.db.engine.rollback(t);
            }
            // On failure (a fenced writer, storage gone) they are left for the next start.
            let _ = self.db.drop_temp_schema(&self.temp_schema_name());
        }
        self.db.activity.unregister(&self.backend);
    }
}

/// The state of a `COPY … FROM STDIN` between the data messages.
struct CopyIn {
    def: TableDef,
    targets: Vec<usize>,
    /// Bound defaults of the columns the data does not give.
    defaults: Vec<(usize, Expr)>,
    checks: Vec<(String, Expr)>,
    splitter: LineSplitter,
    rows: u64,
}

fn command(tag: impl Into<String>) -> Output {
    Output::Command { tag: tag.into() }
}

impl Session {
    #[cfg(test)]
    pub(crate) fn engine(&self) -> &Arc<Engine> {
        &self.db.engine
    }

    #[must_use]
    pub fn new(db: Arc<Database>, mut info: SessionInfo) -> Session {
        let settings: BTreeMap<String, (String, SettingSource)> = settings::SETTINGS
            .iter()
            .map(|d| {
                (
                    d.name.to_lowercase(),
                    (d.boot.to_string(), SettingSource::Default),
                )
            })
            .collect();
        info.activity = db.activity.clone();
        let backend = db.activity.register(
            info.backend_pid,
            &info.database,
            &info.user,
            info.cancel.clone(),
        );
        let session = Session {
            db,
            txn: None,
            in_block: false,
            failed: false,
            reset_values: settings.clone(),
            settings,
            backend,
            info,
            notices: Vec::new(),
            changed_reported: Vec::new(),
            copy_in: None,
            copy_error: None,
            savepoints: Vec::new(),
            statements_in_block: 0,
            block_read_only: None,
            sequences: SessionSequences::default(),
            sql_prepared: HashMap::new(),
            settings_epoch: std::cell::Cell::new(0),
            derived_settings: std::cell::RefCell::new(None),
            plan_slot: None,
            temp_in_use: false,
            on_commit: Vec::new(),
            cursors: crate::cursor::Cursors::default(),
            explain_instrument: std::cell::Cell::new(None),
            explain_conflicts: std::cell::Cell::new((0, 0)),
        };
        session.publish_settings();
        session
    }

    /// This session's entry in the registry of sessions (the front end reports through it).
    #[must_use]
    pub fn backend(&self) -> &Arc<Backend> {
        &self.backend
    }

    /// Shows the current settings to other sessions' `pg_settings` and `current_setting`.
    /// Every settings change comes here, so it also retires the session's cached plans.
    fn publish_settings(&self) {
        self.settings_epoch.set(self.settings_epoch.get() + 1);
        let isolation = self
            .setting("transaction_isolation")
            .unwrap_or("read committed")
            .to_string();
        self.backend
            .publish_settings(self.settings.iter().map(|(k, (value, source))| {
                let value = if k == "transaction_isolation" {
                    isolation.clone()
                } else {
                    value.clone()
                };
                let reset = self
                    .reset_values
                    .get(k)
                    .map_or_else(|| value.clone(), |(v, _)| v.clone());
                (
                    k.clone(),
                    PublishedSetting {
                        value,
                        source: *source,
                        reset,
                    },
                )
            }));
    }

    /// An executor for a statement of this session (it reaches the sequences).
    fn executor<'a>(&'a self, txn: &'a Txn, params: &'a [Value]) -> Executor<'a> {
        let mut e = Executor::new(&self.db.engine, txn, params, &self.info).with_sequences(
            SequenceAccess {
                shared: &self.db.sequences,
                session: &self.sequences,
            },
        );
        (e.work_mem, e.parallel) = self.with_derived(|d| (d.work_mem_bytes, d.parallel));
        e
    }

    /// Runs `f` on the parsed settings ([`DerivedSettings`]), parsing them first if a setting
    /// has changed since they were last parsed.
    fn with_derived<T>(&self, f: impl FnOnce(&DerivedSettings) -> T) -> T {
        let epoch = self.settings_epoch.get();
        if let Some(d) = self
            .derived_settings
            .borrow()
            .as_ref()
            .filter(|d| d.epoch == epoch)
        {
            return f(d);
        }
        let d = DerivedSettings {
            epoch,
            search_path: crate::namespace::parse_search_path(
                self.setting("search_path").unwrap_or("\"$user\", public"),
            ),
            zone: self
                .setting("timezone")
                .and_then(crate::datetime::parse_zone_setting)
                .unwrap_or_default(),
            work_mem_bytes: self.parse_work_mem_bytes(),
            parallel: self.parse_parallel_settings(),
            isolation: self
                .setting("default_transaction_isolation")
                .and_then(isolation_named)
                .unwrap_or(Isolation::ReadCommitted),
            temp_schema: self.temp_schema_name(),
        };
        let r = f(&d);
        *self.derived_settings.borrow_mut() = Some(d);
        r
    }

    /// `max_parallel_workers_per_gather` and whether `force_parallel_mode` is on.
    fn parse_parallel_settings(&self) -> (usize, bool) {
        let workers = self
            .setting("max_parallel_workers_per_gather")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let force = self
            .setting("force_parallel_mode")
            .is_some_and(|v| matches!(v, "on" | "regress"));
        (workers, force)
    }

    /// A planner for a statement of this session: it plans with the methods the session's
    /// `enable_*` settings allow.
    fn planner<'a>(&self, engine: &'a Engine, txn: &'a Txn) -> Planner<'a> {
        Planner {
            engine,
            txn,
            methods: crate::cost::Methods::from_settings(|name| self.setting(name)),
        }
    }

    /// The session's `work_mem`, in bytes.
    /// Bytes of a statement's result (query rows, COPY lines) kept in memory before the rest
    /// goes to a temporary file: `work_mem`, but at least [`crate::query::RESULT_MEMORY_MIN`]
    /// (a result is sent as soon as it is complete, and most fit).
    pub fn result_memory_bytes(&self) -> usize {
        self.work_mem_bytes().max(crate::query::RESULT_MEMORY_MIN)
    }

    fn work_mem_bytes(&self) -> usize {
        self.with_derived(|d| d.work_mem_bytes)
    }

    /// `work_mem` read from the settings (see [`Session::work_mem_bytes`]).
    fn parse_work_mem_bytes(&self) -> usize {
        self.memory_setting_bytes("work_mem")
            .unwrap_or(crate::query::WORK_MEM_DEFAULT)
    }

    /// `maintenance_work_mem`, in bytes: the memory of an index build's sort.
    fn maintenance_work_mem_bytes(&self) -> usize {
        self.memory_setting_bytes("maintenance_work_mem")
            .unwrap_or(crate::query::MAINTENANCE_WORK_MEM_DEFAULT)
    }

    /// A memory setting (in kB) read from the settings, in bytes.
    fn memory_setting_bytes(&self, name: &str) -> Option<usize> {
        settings::lookup(name)
            .zip(self.setting(name))
            .and_then(|(def, v)| settings::base_value(def, v))
            .and_then(|kb| usize::try_from(kb).ok())
            .map(|kb| kb.saturating_mul(1024))
    }

    /// The isolation level of transactions that do not choose one.
    fn default_isolation(&self) -> Isolation {
        self.with_derived(|d| d.isolation)
    }

    fn savepoint(&mut self, name: &str) -> SqlResult<Output> {
        if !self.in_block {
            return Err(SqlError::NoActiveTransaction("SAVEPOINT".into()));
        }
        if self.failed {
            return Err(SqlError::InFailedTransaction);
        }
        let txn = self
            .txn
            .as_mut()
            .expect("a transaction block has a transaction");
        let id = self.db.engine.savepoint(txn);
        self.savepoints.push((name.to_string(), id));
        Ok(Output::InBlockCommand {
            tag: "SAVEPOINT".into(),
        })
    }

    fn find_savepoint(&self, name: &str, what: &str) -> SqlResult<usize> {
        if !self.in_block {
            return Err(SqlError::NoActiveTransaction(what.into()));
        }
        // The newest savepoint of that name, as in PostgreSQL.
        self.savepoints
            .iter()
            .rposition(|(n, _)| n == name)
            .ok_or_else(|| SqlError::NoSuchSavepoint(name.to_string()))
    }

    fn release_savepoint(&mut self, name: &str) -> SqlResult<Output> {
        let at = self.find_savepoint(name, "RELEASE SAVEPOINT")?;
        if self.failed {
            return Err(SqlError::InFailedTransaction);
        }
        let id = self.savepoints[at].1;
        let txn = self
            .txn
            .as_mut()
            .expect("a transaction block has a transaction");
        self.db.engine.release_savepoint(txn, id)?;
        self.savepoints.truncate(at);
        self.cursors.released(at);
        Ok(Output::InBlockCommand {
            tag: "RELEASE".into(),
        })
    }

    fn rollback_to_savepoint(&mut self, name: &str) -> SqlResult<Output> {
        let at = self.find_savepoint(name, "ROLLBACK TO SAVEPOINT")?;
        let id = self.savepoints[at].1;
        let txn = self
            .txn
            .as_mut()
            .expect("a transaction block has a transaction");
        self.db.engine.rollback_to(txn, id)?;
        // The savepoint stays; later ones are gone; the block is usable again.
        self.savepoints.truncate(at + 1);
        if !self.cursors.is_empty() {
            self.cursors.rolled_back_to(at);
            self.publish_cursors();
        }
        self.failed = false;
        Ok(Output::InBlockCommand {
            tag: "ROLLBACK".into(),
        })
    }

    /// Takes the reported parameters (PostgreSQL's GUC_REPORT set) that SET changed, with their
    /// new values, under the names ParameterStatus uses.
    pub fn take_parameter_changes(&mut self) -> Vec<(String, String)> {
        let names = std::mem::take(&mut self.changed_reported);
        names
            .into_iter()
            .map(|n| {
                (
                    n.to_string(),
                    self.setting(n).unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// Takes the notices the last statement raised, in order.
    pub fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }

    #[must_use]
    pub fn status(&self) -> TxnStatus {
        match (self.in_block, self.failed) {
            (false, _) => TxnStatus::Idle,
            (true, false) => TxnStatus::InBlock,
            (true, true) => TxnStatus::Failed,
        }
    }

    /// Whether the current (or next implicit) transaction is READ ONLY.
    fn read_only(&self) -> bool {
        match (self.in_block, self.block_read_only) {
            (true, Some(ro)) => ro,
            _ => self
                .settings
                .get("default_transaction_read_only")
                .and_then(|(v, _)| settings_bool(v))
                .unwrap_or(false),
        }
    }

    /// `SET TRANSACTION READ ONLY | READ WRITE` inside a block: a read-only transaction cannot
    /// become read-write once it ran a query (25001), as in PostgreSQL.
    fn set_block_access(&mut self, read_only: bool) -> SqlResult<()> {
        if !read_only && self.read_only() && self.statements_in_block > 0 {
            return Err(SqlError::ReadWriteAfterQuery);
        }
        self.block_read_only = Some(read_only);
        Ok(())
    }

    /// The session's time zone and its transaction's and statement's start, for the date/time
    /// types (see `datetime.rs`).
    #[must_use]
    pub fn clock(&self) -> crate::datetime::Clock {
        let mut clock = crate::datetime::session_clock(None, &self.backend.state());
        clock.zone = self.with_derived(|d| d.zone.clone());
        clock
    }

    /// A setting's current value.
    #[must_use]
    pub fn setting(&self, name: &str) -> Option<&str> {
        // Names are stored in lower case, and the server's own lookups already use it: they
        // need no lowercased copy.
        let name: std::borrow::Cow<'_, str> = if name
            .bytes()
            .any(|b| b.is_ascii_uppercase() || !b.is_ascii())
        {
            std::borrow::Cow::Owned(name.to_lowercase())
        } else {
            std::borrow::Cow::Borrowed(name)
        };
        if name == "transaction_isolation" {
            let current = match (&self.txn, self.in_block) {
                (Some(t), true) => t.isolation(),
                _ => self.default_isolation(),
            };
            return Some(isolation_name(current));
        }
        if name == "transaction_read_only" {
            return Some(if self.read_only() { "on" } else { "off" });
        }
        self.settings.get(name.as_ref()).map(|(v, _)| v.as_str())
    }

    /// Sets a setting from a startup parameter of the connection: it is also what `RESET`
    /// returns to.
    pub fn set_startup(&mut self, name: &str, value: &str) -> SqlResult<()> {
        self.set_from(name, value, SettingSource::Client)?;
        let name = name.to_lowercase();
        if let Some(v) = self.settings.get(&name) {
            self.reset_values.insert(name, v.clone());
        }
        self.publish_settings();
        Ok(())
    }

    /// Sets a setting, as SET does.
    pub fn set(&mut self, name: &str, value: &str) -> SqlResult<()> {
        self.set_from(name, value, SettingSource::Session)
    }

    fn set_from(&mut self, name: &str, value: &str, source: SettingSource) -> SqlResult<()> {
        let name = name.to_lowercase();
        let def =
            settings::lookup(&name).ok_or_else(|| SqlError::UndefinedParameter(name.clone()))?;
        let checked = settings::check(def, value)?;
        let value = checked.as_str();
        if matches!(
            name.as_str(),
            "statement_timeout" | "lock_timeout" | "idle_in_transaction_session_timeout"
        ) && parse_duration_ms(value).is_none()
        {
            return Err(SqlError::InvalidParameterValue(format!(
                "invalid value for parameter \"{name}\": \"{value}\""
            )));
        }
        if matches!(
            name.as_str(),
            "default_transaction_isolation" | "transaction_isolation"
        ) && isolation_named(value).is_none()
        {
            return Err(SqlError::InvalidParameterValue(format!(
                "invalid value for parameter \"{name}\": \"{value}\""
            )));
        }
        if name == "synchronous_commit" && synchronous_commit_named(value).is_none() {
            return Err(SqlError::InvalidParameterValue(format!(
                "invalid value for parameter \"{name}\": \"{value}\""
            )));
        }
        if name == "transaction_read_only" {
            let on = settings_bool(value).ok_or_else(|| {
                SqlError::InvalidParameterValue(format!(
                    "parameter \"{name}\" requires a Boolean value"
                ))
            })?;
            if self.in_block {
                self.set_block_access(on)?;
            }
            return Ok(());
        }
        if name == "transaction_isolation" {
            let level = isolation_named(value).expect("validated above");
            if self.in_block {
                if self.statements_in_block > 0 {
                    return Err(SqlError::IsolationAfterQuery);
                }
                if let Some(old) = self.txn.replace(self.db.engine.begin_with(level)) {
                    self.db.engine.rollback(old);
                }
            }
            return Ok(());
        }
        if let Some(reported) = REPORTED.iter().find(|r| r.eq_ignore_ascii_case(&name))
            && !self.changed_reported.contains(reported)
        {
            self.changed_reported.push(reported);
        }
        self.settings.insert(name, (value.to_string(), source));
        self.publish_settings();
        Ok(())
    }

    /// `RESET name` / `RESET ALL`: back to the value after the connection's startup.
    fn reset(&mut self, name: Option<&str>) -> SqlResult<()> {
        let names: Vec<String> = match name {
            Some(n) => {
                let n = n.to_lowercase();
                if settings::lookup(&n).is_none() {
                    return Err(SqlError::UndefinedParameter(n));
                }
                vec![n]
            }
            None => settings::SETTINGS
                .iter()
                .filter(|d| d.context == "user")
                .map(|d| d.name.to_lowercase())
                .collect(),
        };
        for n in names {
            if n == "transaction_isolation" {
                continue;
            }
            if let Some((value, source)) = self.reset_values.get(&n).cloned() {
                if let Some(reported) = REPORTED.iter().find(|r| r.eq_ignore_ascii_case(&n))
                    && !self.changed_reported.contains(reported)
                    && self.settings.get(&n).map(|v| &v.0) != Some(&value)
                {
                    self.changed_reported.push(reported);
                }
                self.settings.insert(n, (value, source));
            }
        }
        self.publish_settings();
        Ok(())
    }

    /// Whether a commit must be durable before it is acknowledged (`synchronous_commit` is not
    /// `off`). Every level but `off` waits for the write quorum: Borealis has no weaker
    /// durability to offer short of not waiting.
    #[must_use]
    pub fn synchronous_commit(&self) -> bool {
        self.setting("synchronous_commit")
            .and_then(synchronous_commit_named)
            .unwrap_or(true)
    }

    /// statement_timeout in milliseconds; 0 means none.
    #[must_use]
    pub fn statement_timeout_ms(&self) -> u64 {
        self.setting("statement_timeout")
            .and_then(parse_duration_ms)
            .unwrap_or(0)
    }

    /// Ends whatever transaction is open (the connection is closing).
    pub fn abort(&mut self) {
        self.copy_in = None;
        self.copy_error = None;
        if let Some(t) = self.txn.take() {
            self.db.engine.rollback(t);
        }
        self.end_cursors(false);
        self.in_block = false;
        self.failed = false;
        self.savepoints.clear();
        self.block_read_only = None;
    }

    /// Parameter types and result columns of a statement, without running it.
    pub fn describe(
        &mut self,
        stmt: &ast::Statement,
        declared: &[Option<DataType>],
    ) -> SqlResult<(Vec<DataType>, Vec<ColumnInfo>)> {
        let _clock = crate::datetime::install(self.clock());
        let _names = crate::namespace::install(self.name_context());
        let mut params: Vec<Option<DataType>> = declared.to_vec();
        let txn = self.txn.take().unwrap_or_else(|| self.db.engine.begin());
        let r = self.bind_only(&txn, stmt, &mut params);
        if self.in_block {
            self.txn = Some(txn);
        } else {
            self.db.engine.rollback(txn);
        }
        let columns = r?;
        Ok((
            params
                .into_iter()
                .map(|p| p.unwrap_or(DataType::Text))
                .collect(),
            columns,
        ))
    }

    fn bind_only(
        &self,
        txn: &Txn,
        stmt: &ast::Statement,
        params: &mut Vec<Option<DataType>>,
    ) -> SqlResult<Vec<ColumnInfo>> {
        let engine = &self.db.engine;
        match stmt {
            ast::Statement::Query(q) if cte::is_data_modifying_with(q) => {
                self.describe_data_modifying_with(txn, q, params)
            }
            ast::Statement::Query(q) if !q.locks.is_empty() => Ok(self
                .planner(engine, txn)
                .bind_locking(q, params)?
                .plan
                .columns),
            ast::Statement::Query(q) => {
                Ok(self.planner(engine, txn).bind_query(q, params)?.columns)
            }
            ast::Statement::Insert(ins) => Ok(self
                .plan_insert(txn, ins, params)?
                .returning
                .map(|r| r.columns)
                .unwrap_or_default()),
            ast::Statement::Update(u) => Ok(self
                .plan_update(txn, u, params)?
                .returning
                .map(|r| r.columns)
                .unwrap_or_default()),
            ast::Statement::Delete(d) => Ok(self
                .plan_delete(txn, d, params)?
                .returning
                .map(|r| r.columns)
                .unwrap_or_default()),
            ast::Statement::ShowVariable { variable } if show_name(variable) == "all" => {
                Ok(show_all_columns())
            }
            other
                if crate::ddl_parse::carried(other, crate::ddl_parse::CURSOR_CARRIER).is_some() =>
            {
                let text = crate::ddl_parse::carried(other, crate::ddl_parse::CURSOR_CARRIER)
                    .unwrap_or_default();
                self.describe_cursor_statement(txn, text, params)
            }
            ast::Statement::Explain { statement, .. } => {
                // The explained statement's parameters take the types it gives them.
                if matches!(
                    **statement,
                    ast::Statement::Query(_)
                        | ast::Statement::Insert(_)
                        | ast::Statement::Update(_)
                        | ast::Statement::Delete(_)
                ) {
                    self.bind_only(txn, statement, params)?;
                }
                Ok(explain_columns())
            }
            ast::Statement::ShowVariable { variable } => {
                Ok(vec![ColumnInfo::text(show_name(variable))])
            }
            _ => Ok(Vec::new()),
        }
    }

    /// Executes one statement with its parameter values.
    /// [`execute`](Self::execute) for a statement prepared through the protocol, whose plan is
    /// kept in `slot` between executions (queries only; see [`PlanSlot`]).
    pub fn execute_with_plan_cache(
        &mut self,
        stmt: &ast::Statement,
        params: &[Value],
        slot: &Arc<PlanSlot>,
    ) -> SqlResult<Executed> {
        self.plan_slot = Some(slot.clone());
        let result = self.execute(stmt, params);
        self.plan_slot = None;
        result
    }

    /// The plan of query `q` from `slot` if it is still valid, else bound now (and kept when
    /// it can be reused).
    fn cached_plan(
        &self,
        txn: &Txn,
        q: &ast::Query,
        params: &[Value],
        slot: &PlanSlot,
    ) -> SqlResult<Arc<crate::query::QueryPlan>> {
        let engine = &self.db.engine;
        // Read before binding: a catalog commit during the bind leaves the plan stale.
        let catalog = engine.catalog_generation();
        let settings = self.settings_epoch.get();
        let reusable = !txn.wrote_catalog();
        let mut guard = slot.0.lock().unwrap_or_else(|e| e.into_inner());
        let (cached, result) = &mut *guard;
        if reusable
            && let Some(c) = &*cached
            && c.catalog == catalog
            && c.settings == settings
        {
            return Ok(c.plan.clone());
        }
        let mut types = vec![None; params.len()];
        let plan = Arc::new(self.planner(engine, txn).bind_query(q, &mut types)?);
        let columns: Vec<DataType> = plan.columns.iter().map(|c| c.ty).collect();
        match result {
            Some(first) if *first != columns => {
                return Err(SqlError::NotSupported(
                    "cached plan must not change result type".into(),
                ));
            }
            Some(_) => {}
            None => *result = Some(columns),
        }
        *cached = reusable.then(|| CachedPlan {
            catalog,
            settings,
            plan: plan.clone(),
        });
        Ok(plan)
    }

    pub fn execute(&mut self, stmt: &ast::Statement, params: &[Value]) -> SqlResult<Executed> {
        let _clock = crate::datetime::install(self.clock());
        let _names = crate::namespace::install(self.name_context());
        let plain = |output| {
            Ok(Executed {
                output,
                commit_lsn: None,
                notice: None,
            })
        };
        match stmt {
            ast::Statement::StartTransaction { modes, .. } => {
                if self.in_block {
                    return Ok(Executed {
                        output: command("BEGIN"),
                        commit_lsn: None,
                        notice: Some("there is already a transaction in progress".into()),
                    });
                }
                let (isolation, access) = check_modes(modes)?;
                let isolation = isolation.unwrap_or_else(|| self.default_isolation());
                self.block_read_only = access;
                self.in_block = true;
                self.failed = false;
                self.savepoints.clear();
                if let Some(old) = self.txn.replace(self.db.engine.begin_with(isolation)) {
                    self.db.engine.rollback(old);
                }
                self.statements_in_block = 0;
                return plain(command("BEGIN"));
            }
            ast::Statement::Commit { chain: false, .. } => {
                if !self.in_block {
                    return Ok(Executed {
                        output: command("COMMIT"),
                        commit_lsn: None,
                        notice: Some("there is no transaction in progress".into()),
                    });
                }
                let failed = self.failed;
                self.in_block = false;
                self.failed = false;
                self.block_read_only = None;
                let txn = self.txn.take();
                if failed {
                    if let Some(t) = txn {
                        self.db.engine.rollback(t);
                    }
                    self.end_cursors(false);
                    return plain(command("ROLLBACK"));
                }
                let lsn = match txn {
                    Some(t) => self.commit(t).inspect_err(|_| self.end_cursors(false))?,
                    None => None,
                };
                self.end_cursors(true);
                return Ok(Executed {
                    output: command("COMMIT"),
                    commit_lsn: lsn,
                    notice: None,
                });
            }
            ast::Statement::Rollback {
                chain: false,
                savepoint: None,
            } => {
                let was = self.in_block;
                self.abort();
                return Ok(Executed {
                    output: command("ROLLBACK"),
                    commit_lsn: None,
                    notice: (!was).then(|| "there is no transaction in progress".into()),
                });
            }
            ast::Statement::Savepoint { name } => {
                return self.savepoint(&ident_name(name)).and_then(plain);
            }
            ast::Statement::ReleaseSavepoint { name } => {
                return self.release_savepoint(&ident_name(name)).and_then(plain);
            }
            ast::Statement::Rollback {
                chain: false,
                savepoint: Some(name),
            } => {
                return self
                    .rollback_to_savepoint(&ident_name(name))
                    .and_then(plain);
            }
            ast::Statement::Set(ast::Set::SetTransaction {
                modes,
                snapshot: None,
                session,
            }) => {
                let (isolation, access) = check_modes(modes)?;
                if *session {
                    if let Some(i) = isolation {
                        self.settings.insert(
                            "default_transaction_isolation".into(),
                            (isolation_name(i).into(), SettingSource::Session),
                        );
                    }
                    if let Some(ro) = access {
                        self.settings.insert(
                            "default_transaction_read_only".into(),
                            (
                                (if ro { "on" } else { "off" }).into(),
                                SettingSource::Session,
                            ),
                        );
                    }
                    self.publish_settings();
                    return plain(command("SET"));
                }
                if self.failed {
                    return Err(SqlError::InFailedTransaction);
                }
                if !self.in_block {
                    // PostgreSQL warns and does nothing outside a transaction block.
                    return Ok(Executed {
                        output: command("SET"),
                        commit_lsn: None,
                        notice: Some(
                            "SET TRANSACTION can only be used in transaction blocks".into(),
                        ),
                    });
                }
                if let Some(ro) = access {
                    self.set_block_access(ro)?;
                }
                if let Some(i) = isolation {
                    if self.statements_in_block > 0 {
                        return Err(SqlError::IsolationAfterQuery);
                    }
                    if let Some(old) = self.txn.replace(self.db.engine.begin_with(i)) {
                        self.db.engine.rollback(old);
                    }
                }
                return plain(command("SET"));
            }
            _ => {}
        }
        if self.failed {
            return Err(SqlError::InFailedTransaction);
        }
        if let Some(text) = crate::ddl_parse::carried(stmt, crate::ddl_parse::CURSOR_CARRIER) {
            let r = self.cursor_statement(text, params);
            if r.is_err() && self.in_block {
                self.failed = true;
            }
            return r;
        }
        if self.read_only()
            && let Some(command) = write_command(stmt)
        {
            if self.in_block {
                self.failed = true;
            }
            return Err(SqlError::ReadOnlyTransaction(command));
        }
        if let ast::Statement::Vacuum(v) = stmt {
            // The parser reads a bare `VACUUM ANALYZE` as a vacuum of a table named analyze.
            if let Some(n) = &v.table_name
                && let [ast::ObjectNamePart::Identifier(id)] = n.0.as_slice()
                && id.quote_style.is_none()
                && matches!(id.value.to_lowercase().as_str(), "analyze" | "analyse")
            {
                self.vacuum(None)?;
                let mut txn = self.db.engine.begin();
                let all = ast::Analyze {
                    has_table_keyword: false,
                    table_name: None,
                    for_columns: false,
                    columns: Vec::new(),
                    partitions: None,
                    cache_metadata: false,
                    noscan: false,
                    compute_statistics: true,
                };
                return match self.analyze(&mut txn, &all) {
                    Ok(output) => Ok(Executed {
                        output,
                        commit_lsn: self.commit(txn)?,
                        notice: None,
                    }),
                    Err(e) => {
                        self.db.engine.rollback(txn);
                        Err(e)
                    }
                };
            }
            return self.vacuum(v.table_name.as_ref()).and_then(plain);
        }
        // `VACUUM ANALYZE`: the vacuum outside any transaction, then the analyze below.
        if let ast::Statement::Analyze(a) = stmt
            && a.compute_statistics
        {
            self.vacuum(a.table_name.as_ref())?;
        }
        match stmt {
            ast::Statement::Prepare {
                name,
                data_types,
                statement,
            } => {
                let r = self.prepare_sql(&ident_name(name), data_types, statement);
                if r.is_err() && self.in_block {
                    self.failed = true;
                }
                return r.and_then(plain);
            }
            ast::Statement::Execute { .. } if sql_execute(stmt).is_some() => {
                let (name, parameters) = sql_execute(stmt).expect("matched above");
                return self.execute_prepared(&object_name(name)?, parameters);
            }
            ast::Statement::Lock(_) if !self.in_block => {
                return Err(SqlError::NoActiveTransaction("LOCK TABLE".into()));
            }
            _ => {}
        }
        if let ast::Statement::Copy {
            to: false,
            target: ast::CopyTarget::Stdin,
            ..
        } = stmt
        {
            let columns = self.copy_in_start(stmt)?;
            return plain(Output::CopyIn { columns });
        }
        if self.txn.is_none() {
            self.txn = Some(self.db.engine.begin_with(self.default_isolation()));
        }
        let mut txn = self.txn.take().expect("a transaction is open");
        self.db.engine.new_statement(&mut txn);
        if self.in_block {
            self.statements_in_block += 1;
        }
        self.info.cancel.arm(txn.cancel_handle());
        let result = self.run(&mut txn, stmt, params);
        // `set_config` calls of the statement take effect as SET would (with its checks).
        let result = result.and_then(|output| {
            for (name, value) in self.backend.take_pending() {
                self.set(&name, &value)?;
            }
            Ok(output)
        });
        // Values a sequence handed out are shown only once the block they came from is durable.
        let sequence_lsn = self.sequences.take_wait_lsn();
        match result {
            Ok(output) => {
                if self.in_block {
                    self.txn = Some(txn);
                    Ok(Executed {
                        output,
                        commit_lsn: sequence_lsn,
                        notice: None,
                    })
                } else {
                    let lsn = self.commit(txn)?;
                    Ok(Executed {
                        output,
                        commit_lsn: lsn.max(sequence_lsn),
                        notice: None,
                    })
                }
            }
            Err(e) => {
                if self.in_block {
                    self.failed = true;
                    self.txn = Some(txn);
                } else {
                    self.db.engine.rollback(txn);
                }
                Err(e)
            }
        }
    }

    /// DECLARE, FETCH, MOVE or CLOSE (see [`crate::cursor`]).
    fn cursor_statement(&mut self, text: &str, params: &[Value]) -> SqlResult<Executed> {
        use crate::cursor::{Cursor, CursorStatement};
        let stmt = crate::ddl_parse::parse_cursor_statement(text)?
            .ok_or_else(|| SqlError::Syntax("syntax error in a cursor statement".into()))?;
        let output = match stmt {
            CursorStatement::Declare {
                name,
                binary,
                scroll,
                hold,
                query,
            } => {
                if !hold && !self.in_block {
                    return Err(SqlError::NoActiveTransaction("DECLARE CURSOR".into()));
                }
                self.cursors.check_new(&name)?;
                let q = cursor_query(&query)?;
                let created_us = crate::types::now_us();
                let ex = self.execute(&ast::Statement::Query(Box::new(q)), params)?;
                let (columns, store) = match ex.output {
                    Output::Rows { columns, rows } | Output::Returning { columns, rows, .. } => {
                        let mut store = RowStore::new(columns.len(), self.work_mem_bytes());
                        for r in rows {
                            store.push(r)?;
                        }
                        (columns, store)
                    }
                    Output::StoredRows { columns, rows } => (columns, rows),
                    _ => {
                        return Err(SqlError::Internal(
                            "a cursor's query returned no rows".into(),
                        ));
                    }
                };
                let mut c = Cursor::new(
                    text.to_string(),
                    columns,
                    store,
                    (binary, scroll != Some(false), hold),
                    created_us,
                );
                // Outside a block the implicit transaction has committed already.
                c.in_open_transaction = self.in_block;
                c.savepoint_level = self.savepoints.len();
                self.cursors.declare(&name, c)?;
                self.publish_cursors();
                return Ok(Executed {
                    output: command("DECLARE CURSOR"),
                    commit_lsn: ex.commit_lsn,
                    notice: None,
                });
            }
            CursorStatement::Fetch {
                name,
                direction,
                move_only,
            } => {
                if self.in_block {
                    self.statements_in_block += 1;
                }
                let c = self.cursors.get_mut(&name)?;
                let f = c.fetch(direction, move_only)?;
                if move_only {
                    command(format!("MOVE {}", f.count))
                } else {
                    Output::Fetched {
                        columns: c.columns.clone(),
                        rows: f.rows,
                        binary: c.binary,
                    }
                }
            }
            CursorStatement::Close { name } => {
                self.cursors.close(name.as_deref())?;
                self.publish_cursors();
                command(if name.is_some() {
                    "CLOSE CURSOR"
                } else {
                    "CLOSE CURSOR ALL"
                })
            }
        };
        Ok(Executed {
            output,
            commit_lsn: None,
            notice: None,
        })
    }

    /// What a cursor statement describes: a FETCH the cursor's columns (when it is open), a
    /// DECLARE the types of its query's parameters.
    fn describe_cursor_statement(
        &self,
        txn: &Txn,
        text: &str,
        params: &mut Vec<Option<DataType>>,
    ) -> SqlResult<Vec<ColumnInfo>> {
        use crate::cursor::CursorStatement;
        match crate::ddl_parse::parse_cursor_statement(text)? {
            Some(CursorStatement::Declare { query, .. }) => {
                let q = cursor_query(&query)?;
                self.planner(&self.db.engine, txn).bind_query(&q, params)?;
                Ok(Vec::new())
            }
            Some(CursorStatement::Fetch {
                name,
                move_only: false,
                ..
            }) => Ok(self
                .cursors
                .get(&name)
                .map(|c| c.columns.clone())
                .unwrap_or_default()),
            _ => Ok(Vec::new()),
        }
    }

    /// The columns of SQL cursor `name` and whether it is BINARY, if it is open (the
    /// protocol's Describe of a portal reaches SQL cursors too).
    #[must_use]
    pub fn cursor_columns(&self, name: &str) -> Option<(Vec<ColumnInfo>, bool)> {
        self.cursors
            .get(name)
            .map(|c| (c.columns.clone(), c.binary))
    }

    /// The transaction ends (`committed` or not): cursors close as [`crate::cursor`] says.
    fn end_cursors(&mut self, committed: bool) {
        if !self.cursors.is_empty() {
            self.cursors.transaction_ended(committed);
            self.publish_cursors();
        }
    }

    /// Shows the open cursors to `pg_cursors`.
    fn publish_cursors(&self) {
        self.backend.publish_cursors(
            self.cursors
                .iter()
                .map(|(name, c)| crate::activity::CursorListing {
                    name: name.clone(),
                    statement: c.statement.clone(),
                    is_holdable: c.hold,
                    is_binary: c.binary,
                    is_scrollable: c.scroll,
                    creation_us: c.created_us,
                })
                .collect(),
        );
    }

    /// SQL `PREPARE`: binds the statement now (as the protocol's Parse does), so errors in it
    /// are reported here, and keeps it under its name for `EXECUTE`.
    fn prepare_sql(
        &mut self,
        name: &str,
        data_types: &[ast::DataType],
        statement: &ast::Statement,
    ) -> SqlResult<Output> {
        if self.sql_prepared.contains_key(name) {
            return Err(SqlError::DuplicatePreparedStatement(name.into()));
        }
        let declared = data_types
            .iter()
            .map(|t| crate::expr::data_type(t).map(Some))
            .collect::<SqlResult<Vec<_>>>()?;
        let (param_types, _) = self.describe(statement, &declared)?;
        let param_bpchar = data_types.iter().map(crate::expr::is_bpchar_type).collect();
        self.sql_prepared.insert(
            name.into(),
            SqlPrepared {
                stmt: statement.clone(),
                param_types,
                param_bpchar,
                slot: Arc::new(PlanSlot::default()),
            },
        );
        Ok(command("PREPARE"))
    }

    /// SQL `EXECUTE name (args)`: the arguments are constant expressions, each converted to its
    /// parameter's type, then the prepared statement runs as if sent on its own.
    fn execute_prepared(&mut self, name: &str, args: &[ast::Expr]) -> SqlResult<Executed> {
        match self.prepared_with_args(name, args) {
            Ok((stmt, values, slot)) => self.execute_with_plan_cache(&stmt, &values, &slot),
            Err(e) => {
                if self.in_block {
                    self.failed = true;
                }
                Err(e)
            }
        }
    }

    /// The statement SQL `PREPARE` named `name`, with `args` evaluated to its parameters' types.
    fn prepared_with_args(
        &self,
        name: &str,
        args: &[ast::Expr],
    ) -> SqlResult<(ast::Statement, Vec<Value>, Arc<PlanSlot>)> {
        let p = self
            .sql_prepared
            .get(name)
            .ok_or_else(|| SqlError::UndefinedPreparedStatement(name.into()))?;
        if args.len() != p.param_types.len() {
            return Err(SqlError::Syntax(format!(
                "wrong number of parameters for prepared statement \"{name}\""
            )));
        }
        let mut values = Vec::with_capacity(args.len());
        for (i, (a, ty)) in args.iter().zip(&p.param_types).enumerate() {
            let mut no_params = Vec::new();
            let bound = Binder::new(&[], &mut no_params)
                .bind(a, &mut AggMode::Forbidden("EXECUTE parameter"))?;
            let v = bound.eval(&crate::expr::EvalContext::new(&[], &[], &self.info))?;
            values.push(match v.cast(*ty)? {
                Value::Text(s) if p.param_bpchar.get(i) == Some(&true) => Value::Bpchar(s),
                v => v,
            });
        }
        Ok((p.stmt.clone(), values, p.slot.clone()))
    }

    /// `DEALLOCATE name` of a statement SQL `PREPARE` made; `false` if there is none.
    pub fn deallocate_sql(&mut self, name: &str) -> bool {
        self.sql_prepared.remove(name).is_some()
    }

    /// `DEALLOCATE ALL`: forgets every statement SQL `PREPARE` made.
    pub fn deallocate_all_sql(&mut self) {
        self.sql_prepared.clear();
    }

    /// `LOCK TABLE` (inside a transaction block). Borealis takes no table-level locks: DDL is
    /// transactional through MVCC on the catalog, so a reader's snapshot keeps a table's
    /// definition and rows whatever concurrent DDL does. The modes that conflict only with
    /// SHARE and stronger locks (ACCESS SHARE, ROW SHARE, ROW EXCLUSIVE) therefore hold already
    /// and are granted at once; the stronger modes would have to block other writers, which
    /// Borealis cannot do yet, and are refused rather than pretended.
    fn lock_table(&self, txn: &Txn, lock: &ast::Lock) -> SqlResult<Output> {
        use ast::LockTableMode as M;
        let mode = lock.lock_mode.clone().unwrap_or(M::AccessExclusive);
        for target in &lock.tables {
            let name = object_name(&target.name)?;
            match crate::query::resolve_relation(&self.db.engine, txn, &target.name)? {
                crate::query::Resolved::Table(_) | crate::query::Resolved::View(_) => {}
                _ => {
                    return Err(SqlError::WrongObjectType(format!(
                        "\"{name}\" is not a table or view"
                    )));
                }
            }
        }
        if !matches!(mode, M::AccessShare | M::RowShare | M::RowExclusive) {
            return Err(SqlError::FeatureNotSupported(format!(
                "LOCK TABLE in {mode} mode"
            )));
        }
        Ok(command("LOCK TABLE"))
    }

    /// `COMMENT ON TABLE | VIEW | COLUMN | INDEX | SEQUENCE | SCHEMA … IS '…' | NULL`.
    fn comment_on(
        &mut self,
        txn: &mut Txn,
        kind: &ast::CommentObject,
        name: &ast::ObjectName,
        text: Option<&str>,
    ) -> SqlResult<Output> {
        use ast::CommentObject as K;
        let engine = self.db.engine.clone();
        let (classoid, objoid, subid) = match kind {
            K::Table => {
                let n = crate::namespace::existing(&engine, txn, name)?;
                let oid = match lookup_table(&engine, txn, &n) {
                    Ok(def) => def.oid,
                    Err(SqlError::WrongObjectType(_))
                        if let Some(v) = crate::query::lookup_view(&engine, txn, &n)? =>
                    {
                        v.oid
                    }
                    Err(e) => return Err(e),
                };
                (PG_CLASS_OID, oid, 0)
            }
            K::Column => {
                let parts: Vec<String> = name
                    .0
                    .iter()
                    .map(|p| match p {
                        ast::ObjectNamePart::Identifier(id) => Ok(ident_name(id)),
                        other => Err(SqlError::Syntax(format!("column name {other}"))),
                    })
                    .collect::<SqlResult<_>>()?;
                let (schema, table, column) = match parts.as_slice() {
                    [.., s, t, c] if parts.len() >= 3 => (Some(s.clone()), t, c),
                    [t, c] => (None, t, c),
                    _ => return Err(SqlError::Syntax("column name must be qualified".into())),
                };
                let key = crate::namespace::find_parts(&engine, txn, schema.as_deref(), table)?
                    .ok_or_else(|| SqlError::UndefinedTable(table.clone()))?;
                let def = lookup_table(&engine, txn, &key)?;
                let i = def.column_index(column).ok_or_else(|| {
                    SqlError::UndefinedColumn(format!("{column}\" of relation \"{table}"))
                })?;
                (PG_CLASS_OID, def.oid, i as i32 + 1)
            }
            K::Index => {
                let (schema, n) = crate::namespace::split_name(name)?;
                let oid = match crate::namespace::find_index(&engine, txn, schema.as_deref(), &n)? {
                    Some((d, None)) => d.pk_oid(),
                    Some((d, Some(i))) => d.indexes[i].oid,
                    None => return Err(SqlError::UndefinedTable(n)),
                };
                (PG_CLASS_OID, oid, 0)
            }
            K::Sequence => {
                let n = crate::namespace::existing(&engine, txn, name)?;
                let seq = lookup_sequence(&engine, txn, &n)?.ok_or_else(|| {
                    SqlError::WrongObjectType(format!(
                        "\"{}\" is not a sequence",
                        crate::namespace::split_key(&n).1
                    ))
                })?;
                (PG_CLASS_OID, seq.oid, 0)
            }
            K::Schema => {
                let n = object_name(name)?;
                let oid = match crate::namespace::get(&engine, txn, &n)? {
                    Some(d) => d.oid,
                    None if n == crate::namespace::PUBLIC => crate::catalog_views::PUBLIC_NAMESPACE,
                    None => return Err(SqlError::UndefinedSchema(n)),
                };
                (PG_NAMESPACE_OID, oid, 0)
            }
            other => {
                return Err(SqlError::FeatureNotSupported(format!("COMMENT ON {other}")));
            }
        };
        crate::comments::set(&engine, txn, classoid, objoid, subid, text)?;
        Ok(command("COMMENT"))
    }

    /// `SHOW ALL`: every setting `pg_settings` lists, by name, as `SHOW` prints it.
    fn show_all(&self) -> Output {
        let mut defs: Vec<&settings::SettingDef> =
            settings::SETTINGS.iter().filter(|d| !d.hidden).collect();
        defs.sort_by_key(|d| d.name.to_lowercase());
        let rows = defs
            .into_iter()
            .map(|d| {
                let value = self.setting(&d.name.to_lowercase()).unwrap_or(d.boot);
                vec![
                    Value::Text(d.name.to_string()),
                    Value::Text(value.to_string()),
                    Value::Text(d.short_desc.to_string()),
                ]
            })
            .collect();
        Output::Rows {
            columns: show_all_columns(),
            rows,
        }
    }

    fn commit(&mut self, mut txn: Txn) -> SqlResult<Option<Lsn>> {
        if !self.on_commit.is_empty() {
            self.run_on_commit(&mut txn)?;
        }
        match self.db.engine.commit(txn) {
            Ok(lsn) => Ok(lsn),
            Err(EngineError::DuplicateKey) => Err(SqlError::UniqueViolation {
                constraint: "primary key".into(),
                detail: "A concurrent transaction committed the same key first.".into(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// The `ON COMMIT DELETE ROWS | DROP` actions of this session's temporary tables, run in
    /// the committing transaction. Emptying a table that has rows gives it new trees, as
    /// TRUNCATE does; one without rows is left alone, so a commit costs nothing more than a
    /// look at each table.
    fn run_on_commit(&mut self, txn: &mut Txn) -> SqlResult<()> {
        let engine = self.db.engine.clone();
        let temp = self.temp_schema_name();
        let tables: Vec<TableDef> = crate::catalog_views::user_tables(&engine, txn)?
            .into_iter()
            .filter(|d| d.schema == temp)
            .collect();
        self.on_commit
            .retain(|(oid, _)| tables.iter().any(|d| d.oid == *oid));
        for (oid, drop) in self.on_commit.clone() {
            let Some(def) = tables.iter().find(|d| d.oid == oid) else {
                continue;
            };
            if drop {
                self.drop_table_entry(txn, def)?;
            } else if engine.last_key(txn, def.tree)?.is_some() {
                let mut def = def.clone();
                def.tree = engine.create_tree()?;
                for ix in &mut def.indexes {
                    ix.tree = engine.create_tree()?;
                }
                engine.put(txn, CATALOG, def.key().as_bytes(), &def.encode())?;
            }
        }
        Ok(())
    }

    /// `EXPLAIN [ANALYZE]`: the plan of a query (see [`crate::query::explain`]); with ANALYZE
    /// the statement runs, with counters, and its rows are dropped.
    fn explain(
        &mut self,
        txn: &mut Txn,
        stmt: &ast::Statement,
        params: &[Value],
    ) -> SqlResult<Output> {
        let ast::Statement::Explain {
            analyze,
            verbose,
            format,
            options,
            statement,
            query_plan: false,
            estimate: false,
            describe_alias: ast::DescribeAlias::Explain,
        } = stmt
        else {
            return Err(SqlError::FeatureNotSupported(format!("{stmt}")));
        };
        let o = Options::parse(*analyze, *verbose, format.as_ref(), options.as_deref())?;
        let planning = std::time::Instant::now();
        let (node, planning_ms, execution_ms) = match &**statement {
            ast::Statement::Query(q) if q.locks.is_empty() => {
                let mut types = vec![None; params.len()];
                let engine = &self.db.engine;
                let plan = self.planner(engine, txn).bind_query(q, &mut types)?;
                let planning_ms = elapsed_ms(planning);
                let mut instrument = None;
                let mut execution_ms = None;
                if o.analyze {
                    let started = std::time::Instant::now();
                    let mut exec = self.executor(txn, params).with_instrument(o.timing);
                    exec.run(&plan, None)?;
                    instrument = exec.take_instrument();
                    execution_ms = Some(elapsed_ms(started));
                }
                let walk = Walk::new(engine, o, instrument.as_ref(), &plan)
                    .with_parallel((!o.analyze).then(|| self.with_derived(|d| d.parallel)));
                (walk.query(&plan)?, planning_ms, execution_ms)
            }
            ast::Statement::Insert(_) | ast::Statement::Update(_) | ast::Statement::Delete(_) => {
                self.explain_dml(txn, statement, params, o, planning)?
            }
            // The plan of a statement SQL `PREPARE` made, with its parameters' values.
            ast::Statement::Execute { .. } if sql_execute(statement).is_some() => {
                let (name, parameters) = sql_execute(statement).expect("matched above");
                let (prepared, values, _) =
                    self.prepared_with_args(&object_name(name)?, parameters)?;
                let mut inner = stmt.clone();
                if let ast::Statement::Explain { statement, .. } = &mut inner {
                    **statement = prepared;
                }
                return self.explain(txn, &inner, &values);
            }
            other => {
                return Err(SqlError::FeatureNotSupported(format!(
                    "EXPLAIN of {}",
                    other
                        .to_string()
                        .split_whitespace()
                        .next()
                        .unwrap_or("this statement")
                )));
            }
        };
        let mut lines = crate::query::explain::render(&node, o);
        if o.summary {
            lines.push(format!("Planning Time: {planning_ms:.3} ms"));
        }
        if let (true, Some(ms)) = (o.summary, execution_ms) {
            lines.push(format!("Execution Time: {ms:.3} ms"));
        }
        Ok(Output::Rows {
            columns: explain_columns(),
            rows: lines.into_iter().map(|l| vec![Value::Text(l)]).collect(),
        })
    }

    /// EXPLAIN of INSERT, UPDATE or DELETE: the statement's node over the one giving its rows;
    /// under ANALYZE the statement runs for real (its changes stay unless the transaction rolls
    /// back, as in PostgreSQL). Returns the plan, the planning and the execution time.
    fn explain_dml(
        &mut self,
        txn: &mut Txn,
        stmt: &ast::Statement,
        params: &[Value],
        o: Options,
        planning: std::time::Instant,
    ) -> SqlResult<(crate::query::explain::Node, f64, Option<f64>)> {
        let mut types = vec![None; params.len()];
        match stmt {
            ast::Statement::Insert(ins) => {
                let plan = self.plan_insert(txn, ins, &mut types)?;
                let planning_ms = elapsed_ms(planning);
                let run = if o.analyze {
                    Some(self.explain_dml_run(o, |s| s.insert_planned(txn, &plan, params))?)
                } else {
                    None
                };
                let def = &plan.def;
                let conflict = plan.on_conflict.as_ref().map(|oc| Conflict {
                    update: oc.update.is_some(),
                    arbiters: oc
                        .arbiters
                        .iter()
                        .flatten()
                        .map(|a| match a {
                            Arbiter::PrimaryKey => def.pk_name(),
                            Arbiter::Index(i) => def.indexes[*i].name.clone(),
                        })
                        .collect(),
                    filter: oc.update.as_ref().and_then(|(_, f)| f.as_ref()),
                });
                let dml = Dml {
                    command: DmlCommand::Insert,
                    def,
                    alias: None,
                    source: match &plan.source {
                        InsertSource::Values(rows) => DmlSource::Values(rows),
                        InsertSource::Query(q) => DmlSource::Query(q),
                    },
                    conflict,
                    returning: plan
                        .returning
                        .as_ref()
                        .map(|r| (r.exprs.as_slice(), r.columns.as_slice())),
                    targets: &plan.targets,
                    partner_columns: Vec::new(),
                    assigned: Vec::new(),
                    actual: run.as_ref().map(|r| r.0),
                };
                let node = dml.node(&self.db.engine, o, run.as_ref().and_then(|r| r.1.as_ref()))?;
                Ok((node, planning_ms, run.map(|r| r.2)))
            }
            ast::Statement::Update(_) | ast::Statement::Delete(_) => {
                let (plan, command, alias) = match stmt {
                    ast::Statement::Update(u) => (
                        self.plan_update(txn, u, &mut types)?,
                        DmlCommand::Update,
                        single_table(std::slice::from_ref(&u.table))?.and_then(|(_, a)| a),
                    ),
                    ast::Statement::Delete(d) => {
                        let from = match &d.from {
                            ast::FromTable::WithFromKeyword(f)
                            | ast::FromTable::WithoutKeyword(f) => f,
                        };
                        (
                            self.plan_delete(txn, d, &mut types)?,
                            DmlCommand::Delete,
                            single_table(from)?.and_then(|(_, a)| a),
                        )
                    }
                    _ => unreachable!("matched above"),
                };
                let planning_ms = elapsed_ms(planning);
                let run = if o.analyze {
                    Some(self.explain_dml_run(o, |s| match command {
                        DmlCommand::Update => s.update_planned(txn, &plan, params),
                        _ => s.delete_planned(txn, &plan, params),
                    })?)
                } else {
                    None
                };
                let dml = Dml {
                    command,
                    def: &plan.def,
                    alias: alias.as_deref(),
                    source: DmlSource::Target {
                        filter: plan.filter.as_ref(),
                        access: &plan.access,
                        join: plan.join.as_ref().map(|j| &j.sources),
                        // As the planner reads them: not for a key pinned to one row.
                        stats: if plan.access.is_point(&plan.def) {
                            None
                        } else {
                            crate::stats::for_planner(&self.db.engine, txn, &plan.def)?
                        },
                    },
                    conflict: None,
                    returning: plan
                        .returning
                        .as_ref()
                        .map(|r| (r.exprs.as_slice(), r.columns.as_slice())),
                    targets: &[],
                    partner_columns: plan.join.as_ref().map_or_else(Vec::new, |j| {
                        j.scope
                            .iter()
                            .map(|c| (c.table.clone().unwrap_or_default(), c.name.clone()))
                            .collect()
                    }),
                    assigned: plan.sets.iter().map(|(_, e)| e).collect(),
                    actual: run.as_ref().map(|r| r.0),
                };
                let node = dml.node(&self.db.engine, o, run.as_ref().and_then(|r| r.1.as_ref()))?;
                Ok((node, planning_ms, run.map(|r| r.2)))
            }
            _ => Err(SqlError::Internal(
                "EXPLAIN of a statement that is not DML".into(),
            )),
        }
    }

    /// Runs a planned INSERT/UPDATE/DELETE under EXPLAIN ANALYZE: what it did, the counters of
    /// the executors that found or computed its rows, and its time in milliseconds.
    fn explain_dml_run(
        &mut self,
        o: Options,
        run: impl FnOnce(&mut Session) -> SqlResult<Output>,
    ) -> SqlResult<(DmlActual, Option<Instrument>, f64)> {
        self.explain_instrument.set(Some(Instrument::new(o.timing)));
        self.explain_conflicts.set((0, 0));
        let started = std::time::Instant::now();
        let out = run(self);
        let instrument = self.explain_instrument.take();
        let (proposed, inserted) = self.explain_conflicts.take();
        let out = out?;
        let returned = match &out {
            Output::Returning { rows, .. } => rows.len() as u64,
            _ => 0,
        };
        let ms = elapsed_ms(started);
        let actual = DmlActual {
            top: crate::query::explain::Counters {
                loops: 1,
                rows: returned,
                time_ns: if o.timing {
                    u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX)
                } else {
                    0
                },
            },
            inserted,
            conflicting: proposed.saturating_sub(inserted),
        };
        Ok((actual, instrument, ms))
    }

    fn run(&mut self, txn: &mut Txn, stmt: &ast::Statement, params: &[Value]) -> SqlResult<Output> {
        match stmt {
            ast::Statement::Query(q) if cte::is_data_modifying_with(q) => {
                check_parameters(stmt, params.len())?;
                self.run_data_modifying_with(txn, q, params)
            }
            ast::Statement::Insert(_) | ast::Statement::Update(_) | ast::Statement::Delete(_) => {
                check_parameters(stmt, params.len())?;
                match stmt {
                    ast::Statement::Insert(ins) => self.insert(txn, ins, params),
                    ast::Statement::Update(u) => self.update(txn, u, params),
                    ast::Statement::Delete(d) => self.delete(txn, d, params),
                    _ => unreachable!("matched above"),
                }
            }
            ast::Statement::Query(q) if !q.locks.is_empty() => self.select_locking(txn, q, params),
            ast::Statement::Query(q) if matches!(&*q.body, ast::SetExpr::Select(sel) if sel.into.is_some()) =>
            {
                let mut q = q.clone();
                let ast::SetExpr::Select(sel) = &mut *q.body else {
                    unreachable!("matched above")
                };
                let into = sel.into.take().expect("matched above");
                if into.unlogged {
                    return Err(SqlError::FeatureNotSupported(
                        "SELECT INTO an unlogged table".into(),
                    ));
                }
                let name = match into.targets.as_slice() {
                    [ast::Expr::Identifier(id)] => ast::ObjectName::from(vec![id.clone()]),
                    [ast::Expr::CompoundIdentifier(ids)] => ast::ObjectName::from(ids.clone()),
                    _ => {
                        return Err(SqlError::Syntax(format!(
                            "syntax error at or near \"{into}\""
                        )));
                    }
                };
                let creation = Creation {
                    temporary: into.temporary,
                    ..Creation::default()
                };
                self.create_table_as(txn, &name, &[], &q, creation, "SELECT 0")
            }
            ast::Statement::Query(q) => {
                let plan = match self.plan_slot.take() {
                    Some(slot) => self.cached_plan(txn, q, params, &slot)?,
                    None => {
                        let mut types = vec![None; params.len()];
                        let engine = &self.db.engine;
                        let plan = self.planner(engine, txn).bind_query(q, &mut types)?;
                        if types.len() > params.len() {
                            return Err(SqlError::NoSuchParameter(types.len()));
                        }
                        Arc::new(plan)
                    }
                };
                let mut rows = RowStore::new(plan.columns.len(), self.result_memory_bytes());
                self.executor(txn, params)
                    .run_into(&plan, None, &mut rows)?;
                let columns = plan.columns.clone();
                Ok(match rows.spilled() {
                    true => Output::StoredRows { columns, rows },
                    false => Output::Rows {
                        columns,
                        rows: rows.into_memory().unwrap_or_default(),
                    },
                })
            }
            ast::Statement::Explain { .. } => self.explain(txn, stmt, params),
            ast::Statement::CreateTable(ct) => self.create_table(txn, ct),
            ast::Statement::CreateIndex(ci) => self.create_index(txn, ci),
            ast::Statement::Drop {
                object_type: ast::ObjectType::Table,
                if_exists,
                names,
                cascade,
                ..
            } => self.drop_tables(txn, names, *if_exists, *cascade),
            ast::Statement::Drop {
                object_type: ast::ObjectType::Index,
                if_exists,
                names,
                cascade: false,
                ..
            } => self.drop_indexes(txn, names, *if_exists),
            ast::Statement::CreateSequence {
                temporary,
                if_not_exists,
                name,
                data_type,
                sequence_options,
                owned_by,
            } => self.create_sequence(
                txn,
                Creation {
                    temporary: *temporary,
                    if_not_exists: *if_not_exists,
                    on_commit: None,
                },
                name,
                data_type.as_ref(),
                sequence_options,
                owned_by.as_ref(),
            ),
            ast::Statement::Drop {
                object_type: ast::ObjectType::Sequence,
                if_exists,
                names,
                cascade,
                ..
            } => self.drop_sequences(txn, names, *if_exists, *cascade),
            ast::Statement::CreateView(cv) => self.create_view(txn, cv, params),
            ast::Statement::CreateSchema {
                schema_name,
                or_replace: false,
                if_not_exists,
                with: None,
                options: None,
                default_collate_spec: None,
                clone: None,
            } => self.create_schema(txn, schema_name, *if_not_exists),
            ast::Statement::Drop {
                object_type: ast::ObjectType::Schema,
                if_exists,
                names,
                cascade,
                ..
            } => self.drop_schemas(txn, names, *if_exists, *cascade),
            ast::Statement::AlterSchema(a) => self.alter_schema(txn, a),
            ast::Statement::Drop {
                object_type: ast::ObjectType::View,
                if_exists,
                names,
                cascade,
                ..
            } => self.drop_views(txn, names, *if_exists, *cascade),
            ast::Statement::Set(set) => self.set_statement(set),
            ast::Statement::Reset(r) => {
                match &r.reset {
                    ast::Reset::ALL => self.reset(None)?,
                    ast::Reset::ConfigurationParameter(n) => {
                        self.reset(Some(&n.to_string()))?;
                    }
                    ast::Reset::SessionAuthorization => {}
                }
                Ok(command("RESET"))
            }
            ast::Statement::Truncate(t) => self.truncate(txn, t),
            ast::Statement::Lock(l) => self.lock_table(txn, l),
            ast::Statement::Comment {
                object_type,
                object_name,
                comment,
                if_exists: false,
            } => self.comment_on(txn, object_type, object_name, comment.as_deref()),
            other if crate::ddl_parse::carried(other, SET_SCHEMA_CARRIER).is_some() => {
                let text = crate::ddl_parse::carried(other, SET_SCHEMA_CARRIER).unwrap_or_default();
                let set = crate::ddl_parse::SetSchema::parse(text)
                    .ok_or_else(|| SqlError::Syntax("syntax error in SET SCHEMA".into()))?;
                self.set_schema(txn, &set)
            }
            other if crate::ddl_parse::carried(other, RENAME_CARRIER).is_some() => {
                let text = crate::ddl_parse::carried(other, RENAME_CARRIER).unwrap_or_default();
                let r = crate::ddl_parse::Rename::parse(text)
                    .ok_or_else(|| SqlError::Syntax("syntax error in RENAME".into()))?;
                self.rename(txn, &r)
            }
            other if crate::ddl_parse::carried(other, SCHEMA_ELEMENTS_CARRIER).is_some() => {
                let text =
                    crate::ddl_parse::carried(other, SCHEMA_ELEMENTS_CARRIER).unwrap_or_default();
                self.create_schema_with_elements(txn, text)
            }
            ast::Statement::Grant(g) => self.grant(txn, g),
            other if AlterSequence::carried(other).is_some() => {
                let text = AlterSequence::carried(other).unwrap_or_default();
                self.alter_sequence(txn, &AlterSequence::parse(text)?)
            }
            ast::Statement::AlterTable(at) => self.alter_table(txn, at),
            ast::Statement::Analyze(a) => self.analyze(txn, a),
            ast::Statement::Copy {
                source,
                to: true,
                target: ast::CopyTarget::Stdout,
                options,
                legacy_options,
                ..
            } => self.copy_out(txn, source, options, legacy_options, params),
            ast::Statement::Copy { .. } => Err(SqlError::FeatureNotSupported(
                "COPY to or from a file or program (use STDIN/STDOUT)".into(),
            )),
            ast::Statement::ShowVariable { variable } if show_name(variable) == "all" => {
                Ok(self.show_all())
            }
            ast::Statement::ShowVariable { variable } => {
                let name = show_name(variable);
                let value = self
                    .setting(&name)
                    .ok_or_else(|| SqlError::UndefinedParameter(name.clone()))?
                    .to_string();
                Ok(Output::Rows {
                    columns: vec![ColumnInfo::text(name)],
                    rows: vec![vec![Value::Text(value)]],
                })
            }
            other => Err(SqlError::FeatureNotSupported(format!(
                "statement {}",
                first_words(&other.to_string())
            ))),
        }
    }

    fn set_statement(&mut self, set: &ast::Set) -> SqlResult<Output> {
        match set {
            ast::Set::SingleAssignment {
                variable, values, ..
            } => {
                let name = variable.to_string().to_lowercase();
                let value = values
                    .iter()
                    .map(|v| match v {
                        ast::Expr::Value(v) => match &v.value {
                            ast::Value::SingleQuotedString(s) => s.clone(),
                            ast::Value::Number(n, _) => n.clone(),
                            other => other.to_string(),
                        },
                        ast::Expr::Identifier(id) => id.value.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let value = if value.eq_ignore_ascii_case("default") {
                    settings::lookup(&name).map_or(value, |d| d.boot.to_string())
                } else if name == "search_path" {
                    search_path_value(values)
                } else {
                    value
                };
                self.set(&name, &value)?;
                Ok(command("SET"))
            }
            // `SET TIME ZONE x` is `SET timezone = x`; `LOCAL` and `DEFAULT` are the default.
            ast::Set::SetTimeZone { value, .. } => {
                let value = match value {
                    ast::Expr::Value(v) => match &v.value {
                        ast::Value::SingleQuotedString(s) => s.clone(),
                        ast::Value::Number(n, _) => n.clone(),
                        other => other.to_string(),
                    },
                    ast::Expr::Identifier(id) => id.value.clone(),
                    other => other.to_string(),
                };
                let value = if value.eq_ignore_ascii_case("default")
                    || value.eq_ignore_ascii_case("local")
                {
                    settings::lookup("timezone").map_or(value, |d| d.boot.to_string())
                } else {
                    value
                };
                self.set("timezone", &value)?;
                Ok(command("SET"))
            }
            other => Err(SqlError::FeatureNotSupported(format!("{other}"))),
        }
    }

    fn create_table(&mut self, txn: &mut Txn, ct: &ast::CreateTable) -> SqlResult<Output> {
        if ct.or_replace {
            return Err(SqlError::FeatureNotSupported(
                "CREATE OR REPLACE TABLE".into(),
            ));
        }
        if let Some(q) = &ct.query
            && cte::is_data_modifying_with(q)
        {
            return self.create_table_as_data_modifying(txn, ct, q);
        }
        if let Some(q) = &ct.query {
            let names: Vec<String> = ct.columns.iter().map(|c| ident_name(&c.name)).collect();
            return self.create_table_as(
                txn,
                &ct.name,
                &names,
                q,
                Creation {
                    temporary: ct.temporary,
                    if_not_exists: ct.if_not_exists,
                    on_commit: ct.on_commit.as_ref(),
                },
                "CREATE TABLE AS",
            );
        }
        let (schema, name) = self.creation_target(txn, &ct.name, ct.temporary)?;
        let engine = &self.db.engine;
        let key = crate::namespace::rel_key(&schema, &name);
        if let Some(owner) = index::name_owner(engine, txn, &key)? {
            if ct.if_not_exists && matches!(owner, NameOwner::Table) {
                self.notices
                    .push(format!("relation \"{name}\" already exists, skipping"));
                return Ok(command("CREATE TABLE"));
            }
            return Err(SqlError::DuplicateTable(name));
        }
        let mut columns: Vec<Column> = Vec::with_capacity(ct.columns.len());
        // Sequences to create for serial and identity columns: (column, options, identity).
        let mut owned: Vec<(usize, SequenceOptions, bool)> = Vec::new();
        let mut pk: Vec<usize> = Vec::new();
        // UNIQUE constraints: (constraint name, column names), in declaration order.
        let mut uniques: Vec<(Option<String>, Vec<String>)> = Vec::new();
        // `CONSTRAINT name PRIMARY KEY`: the key's own name (pg_dump writes it so).
        let mut pk_given: Option<String> = None;
        // CHECK constraints: (constraint name, expression), in declaration order.
        let mut checks: Vec<(Option<String>, ast::Expr)> = Vec::new();
        // FOREIGN KEY constraints with their referencing columns.
        let mut foreign_keys: Vec<(ast::ForeignKeyConstraint, Vec<String>)> = Vec::new();
        for (i, c) in ct.columns.iter().enumerate() {
            let cname = ident_name(&c.name);
            if columns.iter().any(|x| x.name == cname) {
                return Err(SqlError::DuplicateColumn(cname));
            }
            let serial = serial_type(&c.data_type);
            let (ty, text_kind) = match serial {
                Some(20) => (DataType::Int8, crate::catalog::TextKind::Text),
                Some(_) => (DataType::Int4, crate::catalog::TextKind::Text),
                None => crate::expr::column_type(&c.data_type)?,
            };
            let mut not_null = false;
            let mut default: Option<String> = None;
            let mut identity = Identity::None;
            if let Some(type_oid) = serial {
                owned.push((
                    i,
                    SequenceOptions {
                        type_oid: Some(type_oid),
                        ..SequenceOptions::default()
                    },
                    false,
                ));
                not_null = true;
            }
            for opt in &c.options {
                match &opt.option {
                    ast::ColumnOption::Default(e) => {
                        if serial.is_some() || default.is_some() {
                            return Err(SqlError::Syntax(format!(
                                "multiple default values specified for column \"{cname}\" of table \"{name}\""
                            )));
                        }
                        default = Some(self.default_text(txn, e, ty, text_kind)?);
                    }
                    ast::ColumnOption::Generated {
                        generated_as:
                            generated @ (ast::GeneratedAs::Always | ast::GeneratedAs::ByDefault),
                        sequence_options,
                        generation_expr: None,
                        ..
                    } => {
                        if !matches!(ty, DataType::Int2 | DataType::Int4 | DataType::Int8) {
                            return Err(SqlError::DatatypeMismatch(
                                "identity column type must be smallint, integer, or bigint".into(),
                            ));
                        }
                        identity = if matches!(generated, ast::GeneratedAs::Always) {
                            Identity::Always
                        } else {
                            Identity::ByDefault
                        };
                        let mut o = SequenceOptions::from_ast(
                            None,
                            sequence_options.as_deref().unwrap_or(&[]),
                        )?;
                        o.type_oid = Some(ty.oid());
                        owned.push((i, o, true));
                        not_null = true;
                    }
                    ast::ColumnOption::NotNull => not_null = true,
                    ast::ColumnOption::ForeignKey(fk) => {
                        let mut fk = fk.clone();
                        if fk.name.is_none() {
                            fk.name = opt.name.clone();
                        }
                        foreign_keys.push((fk, vec![cname.clone()]));
                    }
                    ast::ColumnOption::Check(ck) => checks.push((
                        opt.name.as_ref().or(ck.name.as_ref()).map(ident_name),
                        (*ck.expr).clone(),
                    )),
                    ast::ColumnOption::Null => {}
                    ast::ColumnOption::PrimaryKey(p) => {
                        if !pk.is_empty() {
                            return Err(SqlError::Syntax(format!(
                                "multiple primary keys for table \"{name}\" are not allowed"
                            )));
                        }
                        pk_given = opt.name.as_ref().or(p.name.as_ref()).map(ident_name);
                        pk.push(i);
                        not_null = true;
                    }
                    ast::ColumnOption::Unique(u) => {
                        let cn = opt.name.as_ref().or(u.name.as_ref()).map(ident_name);
                        uniques.push((cn, vec![cname.clone()]));
                    }
                    other => {
                        return Err(SqlError::FeatureNotSupported(format!(
                            "column option {other}"
                        )));
                    }
                }
            }
            if identity != Identity::None && (default.is_some() || serial.is_some()) {
                return Err(SqlError::Syntax(format!(
                    "both default and identity specified for column \"{cname}\" of table \"{name}\""
                )));
            }
            columns.push(Column {
                name: cname,
                ty,
                not_null,
                text_kind,
                default,
                identity,
            });
        }
        for tc in &ct.constraints {
            match tc {
                ast::TableConstraint::PrimaryKey(p) => {
                    if !pk.is_empty() {
                        return Err(SqlError::Syntax(format!(
                            "multiple primary keys for table \"{name}\" are not allowed"
                        )));
                    }
                    pk_given = p.name.as_ref().map(ident_name);
                    for ic in &p.columns {
                        let ast::Expr::Identifier(id) = &ic.column.expr else {
                            return Err(SqlError::FeatureNotSupported(
                                "expressions in a primary key".into(),
                            ));
                        };
                        let cname = ident_name(id);
                        let i = columns
                            .iter()
                            .position(|c| c.name == cname)
                            .ok_or_else(|| {
                                SqlError::UndefinedColumn(format!(
                                    "{cname}\" named in key does not exist"
                                ))
                            })?;
                        columns[i].not_null = true;
                        pk.push(i);
                    }
                }
                ast::TableConstraint::Unique(u) => {
                    let mut cols = Vec::with_capacity(u.columns.len());
                    for ic in &u.columns {
                        let ast::Expr::Identifier(id) = &ic.column.expr else {
                            return Err(SqlError::FeatureNotSupported(
                                "expressions in a unique constraint".into(),
                            ));
                        };
                        cols.push(ident_name(id));
                    }
                    uniques.push((u.name.as_ref().map(ident_name), cols));
                }
                ast::TableConstraint::Check(ck) => {
                    checks.push((ck.name.as_ref().map(ident_name), (*ck.expr).clone()));
                }
                ast::TableConstraint::ForeignKey(fk) => {
                    let cols = fk.columns.iter().map(ident_name).collect();
                    foreign_keys.push((fk.clone(), cols));
                }
                other => {
                    return Err(SqlError::FeatureNotSupported(format!(
                        "table constraint {other}"
                    )));
                }
            }
        }
        let tree = engine.create_tree_in(txn)?;
        let mut def = TableDef {
            name: name.clone(),
            schema: schema.clone(),
            oid: TableDef::oid_for_tree(tree),
            tree,
            columns,
            pk,
            indexes: Vec::new(),
            checks: Vec::new(),
            foreign_keys: Vec::new(),
            pk_name_kept: None,
        };
        if let Some(n) = pk_given {
            self.name_primary_key(txn, &mut def, n)?;
        }
        for (cname, expr) in checks {
            self.add_check(txn, &mut def, cname, &expr, false)?;
        }
        for (fk, cols) in &foreign_keys {
            self.add_foreign_key(txn, &mut def, fk, cols, false)?;
        }
        for (cname, cols) in uniques {
            let cols = key_positions(&def, &cols)?;
            self.add_unique_constraint(txn, &mut def, cname, cols)?;
        }
        let mut taken: Vec<String> = def
            .indexes
            .iter()
            .map(|ix| ix.name.clone())
            .chain((!def.pk.is_empty()).then(|| def.pk_name()))
            .chain([def.name.clone()])
            .collect();
        for (i, options, identity) in owned {
            let column = def.columns[i].name.clone();
            let seq_name = index::choose_name(
                engine,
                txn,
                &schema,
                &def.name,
                &[column.as_str()],
                "seq",
                &taken,
            )?;
            taken.push(seq_name.clone());
            let seq_tree = engine.create_tree()?;
            let mut seq = options.define(
                &crate::namespace::rel_key(&schema, &seq_name),
                TableDef::oid_for_tree(seq_tree),
                seq_tree,
                20,
            )?;
            seq.owned_by = Some((def.oid, i as u32));
            seq.identity = identity;
            def.columns[i].default = Some(nextval_text_in(&schema, &seq_name));
            engine.insert(txn, CATALOG, seq.key().as_bytes(), &seq.encode())?;
        }
        engine.insert(txn, CATALOG, key.as_bytes(), &def.encode())?;
        self.after_create(&def, ct.on_commit.as_ref())?;
        Ok(command("CREATE TABLE"))
    }

    /// Adds a CHECK constraint to `def`, named `t_col_check` (or `t_check` when it reads other
    /// than one column) unless named; with `validate`, every row the transaction sees must pass
    /// it. The caller writes `def` to the catalog.
    fn add_check(
        &self,
        txn: &Txn,
        def: &mut TableDef,
        name: Option<String>,
        expr: &ast::Expr,
        validate: bool,
    ) -> SqlResult<()> {
        let text = deparse(expr, "text", false, 0);
        let pretty = deparse(expr, "text", true, 0);
        let columns = columns_named(def, &text);
        let name = match name {
            Some(n) => {
                if def.checks.iter().any(|c| c.name == n) {
                    return Err(SqlError::DuplicateObject(format!(
                        "constraint \"{n}\" for relation \"{}\" already exists",
                        def.name
                    )));
                }
                n
            }
            None => {
                let taken: Vec<String> = def.checks.iter().map(|c| c.name.clone()).collect();
                let names: Vec<&str> = match columns.as_slice() {
                    [one] => vec![def.columns[*one].name.as_str()],
                    _ => Vec::new(),
                };
                let base = if names.is_empty() {
                    format!("{}_check", def.name)
                } else {
                    format!("{}_{}_check", def.name, names[0])
                };
                (0..)
                    .map(|n| {
                        if n == 0 {
                            base.clone()
                        } else {
                            format!("{base}{n}")
                        }
                    })
                    .find(|n| !taken.contains(n))
                    .expect("an unused name")
            }
        };
        let check = CheckDef {
            name,
            oid: def.next_check_oid(),
            expr: text,
            pretty,
            columns,
        };
        // Bind it now: a CHECK names only the table's columns and yields a boolean.
        let bound = self.bind_check(txn, def, &check)?;
        if validate {
            let exec = self.executor(txn, &[]);
            let mut violated = false;
            matching_rows(&exec, def, None, &Access::Full, None, None, |_, row| {
                violated |= bound.eval(&exec.cx(&row, None))? == Value::Bool(false);
                Ok(())
            })?;
            if violated {
                return Err(SqlError::CheckViolation {
                    message: format!(
                        "check constraint \"{}\" of relation \"{}\" is violated by some row",
                        check.name, def.name
                    ),
                    detail: String::new(),
                });
            }
        }
        def.checks.push(check);
        Ok(())
    }

    /// Binds a CHECK expression over the table's row.
    fn bind_check(&self, txn: &Txn, def: &TableDef, check: &CheckDef) -> SqlResult<Expr> {
        let dialect = sqlparser::dialect::PostgreSqlDialect {};
        let ast = sqlparser::parser::Parser::new(&dialect)
            .try_with_sql(&check.expr)
            .and_then(|mut p| p.parse_expr())
            .map_err(|e| SqlError::Syntax(e.to_string()))?;
        let scope = table_scope(def, None);
        let mut params = Vec::new();
        let engine = &self.db.engine;
        let planner = self.planner(engine, txn);
        let mut binder = Binder::new(&scope, &mut params);
        binder.planner = Some(&planner);
        let e = binder.bind(&ast, &mut AggMode::Forbidden("check constraints"))?;
        match binder.type_of(&e) {
            Some(DataType::Bool) | None => Ok(e),
            Some(t) => Err(SqlError::DatatypeMismatch(format!(
                "argument of CHECK must be type boolean, not type {}",
                t.name()
            ))),
        }
    }

    /// The table's CHECK constraints, bound for a statement that writes rows.
    fn bind_checks(&self, txn: &Txn, def: &TableDef) -> SqlResult<Vec<(String, Expr)>> {
        def.checks
            .iter()
            .map(|c| Ok((c.name.clone(), self.bind_check(txn, def, c)?)))
            .collect()
    }

    /// Fails with 23514 if `row` makes a CHECK false (NULL passes, as in PostgreSQL).
    fn check_row(
        &self,
        txn: &Txn,
        def: &TableDef,
        checks: &[(String, Expr)],
        row: &[Value],
    ) -> SqlResult<()> {
        if checks.is_empty() {
            return Ok(());
        }
        let exec = self.executor(txn, &[]);
        let cx = exec.cx(row, None);
        for (name, e) in checks {
            if e.eval(&cx)? == Value::Bool(false) {
                return Err(SqlError::CheckViolation {
                    message: format!(
                        "new row for relation \"{}\" violates check constraint \"{name}\"",
                        def.name
                    ),
                    detail: failing_row(row),
                });
            }
        }
        Ok(())
    }

    /// `CREATE TABLE t [(names)] AS query` and `SELECT … INTO t`: a table (no key: hidden row
    /// ids) with the query's columns, filled with its rows in the same transaction. The tag is
    /// `SELECT n`, as PostgreSQL's.
    fn create_table_as(
        &mut self,
        txn: &mut Txn,
        name: &ast::ObjectName,
        names: &[String],
        q: &ast::Query,
        creation: Creation<'_>,
        skip_tag: &str,
    ) -> SqlResult<Output> {
        let engine = self.db.engine.clone();
        let (schema, name) = self.creation_target(txn, name, creation.temporary)?;
        let key = crate::namespace::rel_key(&schema, &name);
        if index::name_owner(&engine, txn, &key)?.is_some() {
            if creation.if_not_exists {
                self.notices
                    .push(format!("relation \"{name}\" already exists, skipping"));
                return Ok(command(skip_tag));
            }
            return Err(SqlError::DuplicateTable(name));
        }
        let mut types = Vec::new();
        let plan = self.planner(&engine, txn).bind_query(q, &mut types)?;
        if !types.is_empty() {
            return Err(SqlError::NotSupported(
                "there is no parameter $1 in CREATE TABLE AS".into(),
            ));
        }
        if names.len() > plan.columns.len() {
            return Err(SqlError::Syntax(
                "too many column names were specified".into(),
            ));
        }
        let mut columns: Vec<Column> = plan
            .columns
            .iter()
            .map(|c| Column {
                // A char(n) result makes a char(n) column, as in PostgreSQL.
                text_kind: match c.bpchar.and_then(|t| u32::try_from(t - 4).ok()) {
                    Some(n) if n > 0 => crate::catalog::TextKind::Char(n),
                    _ => crate::catalog::TextKind::Text,
                },
                ..Column::new(c.name.clone(), c.ty, false)
            })
            .collect();
        for (c, n) in columns.iter_mut().zip(names) {
            c.name = n.clone();
        }
        for (i, c) in columns.iter().enumerate() {
            if columns[..i].iter().any(|d| d.name == c.name) {
                return Err(SqlError::DuplicateColumn(c.name.clone()));
            }
            // A record is never stored: tables have no composite columns here.
            if matches!(c.ty, DataType::Record | DataType::Array(DataType::Record)) {
                return Err(SqlError::InvalidTableDefinition(format!(
                    "column \"{}\" has pseudo-type {}",
                    c.name,
                    c.ty.name()
                )));
            }
        }
        let rows = self.executor(txn, &[]).run(&plan, None)?;
        let count = rows.len();
        let tree = engine.create_tree_in(txn)?;
        let def = TableDef {
            name: name.clone(),
            schema,
            oid: TableDef::oid_for_tree(tree),
            tree,
            columns,
            pk: Vec::new(),
            indexes: Vec::new(),
            checks: Vec::new(),
            foreign_keys: Vec::new(),
            pk_name_kept: None,
        };
        engine.insert(txn, CATALOG, key.as_bytes(), &def.encode())?;
        self.after_create(&def, creation.on_commit)?;
        let mut buf = Vec::new();
        for row in rows {
            self.info.cancel.check()?;
            // Each value as its column stores it: a bpchar in a text column is its text.
            let row = row
                .into_iter()
                .zip(&def.columns)
                .map(|(v, c)| c.fit(v))
                .collect::<SqlResult<Vec<_>>>()?;
            buf.clear();
            encode_row(&row, &mut buf);
            let key = rowid_key(self.db.next_rowid(txn, def.tree)?);
            engine.insert(txn, def.tree, &key, &buf)?;
        }
        Ok(command(format!("SELECT {count}")))
    }

    /// The stored text of a `DEFAULT` expression, checked by binding it (a default cannot
    /// name columns, aggregates or subqueries).
    fn default_text(
        &self,
        txn: &Txn,
        e: &ast::Expr,
        ty: DataType,
        text_kind: crate::catalog::TextKind,
    ) -> SqlResult<String> {
        // Constants are cast to the type without its length, as PostgreSQL prints them.
        let display = match text_kind {
            crate::catalog::TextKind::Char(_) | crate::catalog::TextKind::CharPadded(_) => {
                "bpchar".to_string()
            }
            crate::catalog::TextKind::Varchar(_) => "character varying".to_string(),
            crate::catalog::TextKind::Text | crate::catalog::TextKind::Typmod(_) => {
                ty.name().to_string()
            }
        };
        let text = match (e, ty, text_kind) {
            // A string for a column of restricted interval fields is read with them now, and
            // kept with its type, as PostgreSQL keeps `'05:00:00'::interval hour` for
            // `DEFAULT '5'`.
            (
                ast::Expr::Value(ast::ValueWithSpan {
                    value: ast::Value::SingleQuotedString(s),
                    ..
                }),
                DataType::Interval,
                crate::catalog::TextKind::Typmod(typmod),
            ) if crate::datetime::interval_range(typmod).is_some() => format!(
                "'{}'::{}",
                crate::datetime::format_interval(&crate::datetime::parse_interval_typmod(
                    s, typmod
                )?),
                crate::types::type_display(ty, typmod)
            ),
            _ => deparse_default(e, &display),
        };
        self.bind_default_text(txn, &text)?;
        Ok(text)
    }

    /// Binds a stored default expression.
    fn bind_default_text(&self, txn: &Txn, text: &str) -> SqlResult<Expr> {
        let dialect = sqlparser::dialect::PostgreSqlDialect {};
        let ast = sqlparser::parser::Parser::new(&dialect)
            .try_with_sql(text)
            .and_then(|mut p| p.parse_expr())
            .map_err(|e| SqlError::Syntax(e.to_string()))?;
        let scope = Vec::new();
        let mut params = Vec::new();
        let engine = &self.db.engine;
        let planner = self.planner(engine, txn);
        let mut binder = Binder::new(&scope, &mut params);
        binder.planner = Some(&planner);
        match binder.bind(&ast, &mut AggMode::Forbidden("DEFAULT expressions")) {
            Err(SqlError::UndefinedColumn(_) | SqlError::MissingFromEntry(_)) => Err(
                SqlError::NotSupported("cannot use column reference in DEFAULT expression".into()),
            ),
            other => other,
        }
    }

    /// The bound default of column `i` of `def` (NULL when it has none).
    fn bind_default(&self, txn: &Txn, def: &TableDef, i: usize) -> SqlResult<Expr> {
        match &def.columns[i].default {
            Some(text) => self.bind_default_text(txn, text),
            None => Ok(Expr::Literal(Value::Null)),
        }
    }

    /// `CREATE [OR REPLACE] VIEW name [(columns)] AS query`: the query is bound now (it must be
    /// valid and names its columns) and stored as text, in the transaction like any DDL. A
    /// replacement keeps the old columns, by name and type, and may add more at the end.
    fn create_view(
        &mut self,
        txn: &mut Txn,
        cv: &ast::CreateView,
        params: &[Value],
    ) -> SqlResult<Output> {
        let engine = self.db.engine.clone();
        if cv.materialized || cv.or_alter || cv.to.is_some() {
            return Err(SqlError::FeatureNotSupported(
                "materialized and ALTER views".into(),
            ));
        }
        if !params.is_empty() {
            return Err(SqlError::NotSupported(
                "there is no parameter $1 in a view definition".into(),
            ));
        }
        let mut types = Vec::new();
        let (plan, read) = crate::query::recording(|| {
            self.planner(&engine, txn).bind_query(&cv.query, &mut types)
        });
        let plan = plan?;
        let depends = crate::depend::from_recorded(&engine, txn, &read)?;
        let mut query = (*cv.query).clone();
        crate::namespace::qualify_relations(&engine, txn, &mut query)?;
        // A view that reads a temporary relation is temporary too, as in PostgreSQL.
        let temporary = cv.temporary || crate::namespace::reads_temp(&query);
        let (schema, name) = self.creation_target(txn, &cv.name, temporary)?;
        if temporary && !cv.temporary {
            self.notices
                .push(format!("view \"{name}\" will be a temporary view"));
        }
        let key = crate::namespace::rel_key(&schema, &name);
        if !types.is_empty() {
            return Err(SqlError::NotSupported(
                "there is no parameter $1 in a view definition".into(),
            ));
        }
        if cv.columns.len() > plan.columns.len() {
            return Err(SqlError::Syntax(
                "CREATE VIEW specifies more column names than columns".into(),
            ));
        }
        let mut columns: Vec<crate::catalog::Column> = plan
            .columns
            .iter()
            .map(|c| {
                let mut column = crate::catalog::Column::new(c.name.clone(), c.ty, false);
                column.text_kind = c.kind;
                column
            })
            .collect();
        for (c, given) in columns.iter_mut().zip(&cv.columns) {
            c.name = ident_name(&given.name);
        }
        for (i, c) in columns.iter().enumerate() {
            if columns[..i].iter().any(|d| d.name == c.name) {
                return Err(SqlError::DuplicateColumn(c.name.clone()));
            }
        }
        let oid = match crate::query::lookup_view(&engine, txn, &key)? {
            Some(old) if cv.or_replace => {
                if old.columns.len() > columns.len() {
                    return Err(SqlError::InvalidTableDefinition(
                        "cannot drop columns from view".into(),
                    ));
                }
                for (o, n) in old.columns.iter().zip(&columns) {
                    let (o, ot, n, nt) = (&o.name, o, &n.name, n);
                    if o != n {
                        return Err(SqlError::InvalidTableDefinitionHint {
                            message: format!(
                                "cannot change name of view column \"{o}\" to \"{n}\""
                            ),
                            hint: "Use ALTER VIEW ... RENAME COLUMN ... to change name of view column instead.".into(),
                        });
                    }
                    // The type with its modifier, as PostgreSQL compares them.
                    if (ot.ty, ot.typmod()) != (nt.ty, nt.typmod()) {
                        return Err(SqlError::InvalidTableDefinition(format!(
                            "cannot change data type of view column \"{o}\" from {} to {}",
                            ot.type_display(),
                            nt.type_display()
                        )));
                    }
                }
                old.oid
            }
            _ => {
                if index::name_owner(&engine, txn, &key)?.is_some() {
                    return Err(SqlError::DuplicateTable(name));
                }
                TableDef::oid_for_tree(engine.create_tree()?)
            }
        };
        let view = crate::catalog::ViewDef {
            name: name.clone(),
            schema,
            oid,
            sql: query.to_string(),
            columns,
            depends: Some(depends),
            check_option: view_check_option(&cv.options)?,
        };
        if view.check_option.is_some()
            && let Some(why) = crate::updatable::check_option_refusal(&engine, txn, &view)?
        {
            return Err(SqlError::NotSupportedDetail {
                message: "WITH CHECK OPTION is supported only on automatically updatable views"
                    .into(),
                detail: String::new(),
                hint: why.into(),
            });
        }
        engine.put(txn, CATALOG, key.as_bytes(), &view.encode())?;
        Ok(command("CREATE VIEW"))
    }

    /// `DROP VIEW [IF EXISTS] name [, …] [CASCADE]`: the views that read one go with it under
    /// CASCADE, and make it fail without.
    fn drop_views(
        &mut self,
        txn: &mut Txn,
        names: &[ast::ObjectName],
        if_exists: bool,
        cascade: bool,
    ) -> SqlResult<Output> {
        let engine = self.db.engine.clone();
        let mut roots = Vec::new();
        for n in names {
            let Some(key) = self.find_for_drop(txn, n, "view", if_exists)? else {
                continue;
            };
            if let Some(view) = crate::query::lookup_view(&engine, txn, &key)? {
                if !roots
                    .iter()
                    .any(|r: &crate::depend::Object| r.oid() == view.oid)
                {
                    roots.push(crate::depend::Object::View(view));
                }
            } else if let Some(owner) = index::name_owner(&engine, txn, &key)? {
                return Err(wrong_drop(&engine, txn, &key, "view", &owner)?);
            }
        }
        self.drop_with_dependents(txn, roots, cascade)?;
        Ok(command("DROP VIEW"))
    }

    /// Drops `roots` (tables, views, sequences named by a DROP) with what depends on them
    /// under `cascade`; without it, anything that depends on them is PostgreSQL's 2BP01.
    fn drop_with_dependents(
        &mut self,
        txn: &mut Txn,
        roots: Vec<crate::depend::Object>,
        cascade: bool,
    ) -> SqlResult<()> {
        use crate::depend::{Object, Target};
        let engine = self.db.engine.clone();
        if roots.is_empty() {
            return Ok(());
        }
        let graph = crate::depend::Graph::load(&engine, txn)?;
        let dropped: Vec<u32> = roots.iter().map(Object::oid).collect();
        let walk_roots = roots
            .iter()
            .map(|r| {
                let target = match r {
                    Object::Table(d) => Target::Relation(d.oid, Some(d)),
                    other => Target::Relation(other.oid(), None),
                };
                (graph.dependents(target), r.describe(&engine, txn))
            })
            .collect();
        let reached = graph.walk(&engine, txn, walk_roots, &dropped, &[]);
        if !reached.is_empty() && !cascade {
            let root = (roots.len() == 1).then(|| roots[0].describe(&engine, txn));
            return Err(crate::depend::still_exist(root.as_deref(), &reached));
        }
        let mut all: Vec<Object> = reached.iter().map(|r| r.object.clone()).collect();
        all.extend(roots);
        self.drop_objects(txn, &all, &dropped)?;
        if let Some(n) = crate::depend::cascade_notice(&reached) {
            self.notices.push(n);
        }
        Ok(())
    }

    /// Drops `objects`: foreign keys first (from their tables, unless the table is among
    /// `doomed`), then the rest in order.
    fn drop_objects(
        &mut self,
        txn: &mut Txn,
        objects: &[crate::depend::Object],
        doomed: &[u32],
    ) -> SqlResult<()> {
        use crate::depend::Object;
        let engine = self.db.engine.clone();
        let doomed: Vec<u32> = doomed
            .iter()
            .copied()
            .chain(objects.iter().filter_map(|o| match o {
                Object::Table(d) => Some(d.oid),
                _ => None,
            }))
            .collect();
        for o in objects {
            if let Object::ForeignKey { table, name, .. } = o
                && !doomed.contains(&table.oid)
            {
                let mut def = lookup_table(&engine, txn, &table.key())?;
                def.foreign_keys.retain(|f| &f.name != name);
                engine.put(txn, CATALOG, def.key().as_bytes(), &def.encode())?;
            }
        }
        for o in objects {
            match o {
                Object::ForeignKey { .. } => {}
                Object::Default { table, column } => {
                    if !doomed.contains(&table.oid)
                        && let Ok(mut def) = lookup_table(&engine, txn, &table.key())
                        && let Some(c) = def.columns.get_mut(*column)
                    {
                        c.default = None;
                        engine.put(txn, CATALOG, def.key().as_bytes(), &def.encode())?;
                    }
                }
                Object::View(v) => {
                    engine.delete(txn, CATALOG, v.key().as_bytes())?;
                    crate::comments::drop_all(&engine, txn, PG_CLASS_OID, v.oid)?;
                }
                Object::Table(d) => {
                    if let Ok(def) = lookup_table(&engine, txn, &d.key()) {
                        self.drop_table_entry(txn, &def)?;
                    }
                }
                Object::Sequence(q) => {
                    if lookup_sequence(&engine, txn, &q.key())?.is_some() {
                        engine.delete(txn, CATALOG, q.key().as_bytes())?;
                        crate::comments::drop_all(&engine, txn, PG_CLASS_OID, q.oid)?;
                        self.db.sequences.forget(q.tree);
                    }
                }
            }
        }
        Ok(())
    }

    /// `CREATE SEQUENCE [IF NOT EXISTS] name [AS type] [options] [OWNED BY t.c | NONE]`.
    fn create_sequence(
        &mut self,
        txn: &mut Txn,
        creation: Creation<'_>,
        name: &ast::ObjectName,
        data_type: Option<&ast::DataType>,
        options: &[ast::SequenceOptions],
        owned_by: Option<&ast::ObjectName>,
    ) -> SqlResult<Output> {
        let engine = self.db.engine.clone();
        let (schema, name) = self.creation_target(txn, name, creation.temporary)?;
        let key = crate::namespace::rel_key(&schema, &name);
        if index::name_owner(&engine, txn, &key)?.is_some() {
            if creation.if_not_exists {
                self.notices
                    .push(format!("relation \"{name}\" already exists, skipping"));
                return Ok(command("CREATE SEQUENCE"));
            }
            return Err(SqlError::DuplicateTable(name));
        }
        let options = SequenceOptions::from_ast(data_type, options)?;
        let owner = match owned_by {
            None => None,
            Some(o) if o.to_string().eq_ignore_ascii_case("none") => None,
            Some(o) => Some(self.sequence_owner(txn, o)?),
        };
        let tree = engine.create_tree()?;
        let mut seq = options.define(&key, TableDef::oid_for_tree(tree), tree, 20)?;
        seq.owned_by = owner;
        engine.insert(txn, CATALOG, key.as_bytes(), &seq.encode())?;
        Ok(command("CREATE SEQUENCE"))
    }

    /// `ALTER SEQUENCE`: the options given replace the definition's, checked as CREATE SEQUENCE
    /// checks them; RESTART sets the state (at once, as `setval` does).
    fn alter_sequence(&mut self, txn: &mut Txn, alter: &AlterSequence) -> SqlResult<Output> {
        let engine = self.db.engine.clone();
        let key = crate::namespace::find(&engine, txn, &alter.name)?;
        let old = match &key {
            Some(k) => crate::sequence::lookup_sequence(&engine, txn, k)?,
            None => None,
        };
        let (Some(old), Some(name)) = (old, key) else {
            let name = object_name(&alter.name)?;
            if alter.if_exists {
                self.notices
                    .push(format!("relation \"{name}\" does not exist, skipping"));
                return Ok(command("ALTER SEQUENCE"));
            }
            return Err(SqlError::UndefinedTable(name));
        };
        let given = SequenceOptions::from_ast(alter.data_type.as_ref(), &alter.options)?;
        let merged = SequenceOptions {
            type_oid: given.type_oid.or(Some(old.type_oid)),
            increment: given.increment.or(Some(old.increment)),
            min: given.min.or(Some(Some(old.min))),
            max: given.max.or(Some(Some(old.max))),
            start: given.start.or(Some(old.start)),
            cache: given.cache.or(Some(old.cache)),
            cycle: given.cycle.or(Some(old.cycle)),
        };
        let mut seq = merged.define(&old.key(), old.oid, old.tree, old.type_oid)?;
        seq.identity = old.identity;
        seq.owned_by = match &alter.owned_by {
            None => old.owned_by,
            Some(o) if o.to_string().eq_ignore_ascii_case("none") => None,
            Some(o) => Some(self.sequence_owner(txn, o)?),
        };
        engine.put(txn, CATALOG, name.as_bytes(), &seq.encode())?;
        if let Some(at) = alter.restart {
            let last = at.unwrap_or(seq.start);
            if last < seq.min || last > seq.max {
                return Err(SqlError::InvalidParameterValue(format!(
                    "RESTART value ({last}) cannot be {} than {} ({})",
                    if last < seq.min { "less" } else { "greater" },
                    if last < seq.min {
                        "MINVALUE"
                    } else {
                        "MAXVALUE"
                    },
                    if last < seq.min { seq.min } else { seq.max },
                )));
            }
            let lsn = self.db.sequences.set(
                &engine,
                &seq,
                crate::sequence::SequenceState {
                    last,
                    is_called: false,
                },
            )?;
            self.sequences.note_lsn(lsn);
        }
        Ok(command("ALTER SEQUENCE"))
    }

    /// The column `OWNED BY table.column` names: (table OID, column position).
    fn sequence_owner(&self, txn: &Txn, o: &ast::ObjectName) -> SqlResult<(u32, u32)> {
        let parts: Vec<String> =
            o.0.iter()
                .map(|p| match p {
                    ast::ObjectNamePart::Identifier(id) => Ok(ident_name(id)),
                    other => Err(SqlError::Syntax(format!("invalid OWNED BY option {other}"))),
                })
                .collect::<SqlResult<_>>()?;
        let (schema, table, column) = match parts.as_slice() {
            [.., s, t, c] if parts.len() >= 3 => (Some(s.as_str()), t, c),
            [t, c] => (None, t, c),
            _ => {
                return Err(SqlError::Syntax(
                    "invalid OWNED BY option\nHINT:  Specify OWNED BY table.column or OWNED BY NONE."
                        .into(),
                ));
            }
        };
        let key = crate::namespace::find_parts(&self.db.engine, txn, schema, table)?
            .ok_or_else(|| SqlError::UndefinedTable(table.clone()))?;
        let def = lookup_table(&self.db.engine, txn, &key)?;
        let i = def.column_index(column).ok_or_else(|| {
            SqlError::UndefinedColumn(format!("{column}\" of relation \"{table}"))
        })?;
        Ok((def.oid, i as u32))
    }

    /// `DROP SEQUENCE [IF EXISTS] name [, …] [CASCADE]`. A sequence a column default calls
    /// (or a view reads) is refused without CASCADE, as PostgreSQL refuses it; with CASCADE the
    /// defaults are dropped (the columns stay, without a default) and the views go.
    fn drop_sequences(
        &mut self,
        txn: &mut Txn,
        names: &[ast::ObjectName],
        if_exists: bool,
        cascade: bool,
    ) -> SqlResult<Output> {
        let engine = self.db.engine.clone();
        let mut roots: Vec<crate::depend::Object> = Vec::new();
        for n in names {
            let Some(name) = self.find_for_drop(txn, n, "sequence", if_exists)? else {
                continue;
            };
            let Some(seq) = lookup_sequence(&engine, txn, &name)? else {
                if let Some(owner) = index::name_owner(&engine, txn, &name)? {
                    return Err(wrong_drop(&engine, txn, &name, "sequence", &owner)?);
                }
                continue;
            };
            if !roots.iter().any(|r| r.oid() == seq.oid) {
                roots.push(crate::depend::Object::Sequence(seq));
            }
        }
        self.drop_with_dependents(txn, roots, cascade)?;
        Ok(command("DROP SEQUENCE"))
    }

    /// Adds a unique constraint (and its index, built over the rows the transaction sees) to
    /// `def`, named `t_a_b_key` unless named. The caller writes `def` to the catalog.
    fn add_unique_constraint(
        &self,
        txn: &mut Txn,
        def: &mut TableDef,
        name: Option<String>,
        columns: Vec<usize>,
    ) -> SqlResult<()> {
        let engine = &self.db.engine;
        let taken: Vec<String> = def
            .indexes
            .iter()
            .map(|ix| ix.name.clone())
            .chain((!def.pk.is_empty()).then(|| def.pk_name()))
            .chain([def.name.clone()])
            .collect();
        let name = match name {
            Some(n) => {
                if taken.contains(&n)
                    || index::name_owner(engine, txn, &crate::namespace::rel_key(&def.schema, &n))?
                        .is_some()
                {
                    return Err(SqlError::DuplicateTable(n));
                }
                n
            }
            None => {
                let names: Vec<&str> = columns
                    .iter()
                    .map(|&i| def.columns[i].name.as_str())
                    .collect();
                index::choose_name(engine, txn, &def.schema, &def.name, &names, "key", &taken)?
            }
        };
        let shape = IndexShape {
            columns,
            unique: true,
            constraint: true,
            options: Vec::new(),
        };
        self.add_index(txn, def, name, shape)
    }

    /// Creates the tree of a new index, fills it from the table's rows, and adds it to `def`.
    fn add_index(
        &self,
        txn: &mut Txn,
        def: &mut TableDef,
        name: String,
        shape: IndexShape,
    ) -> SqlResult<()> {
        let IndexShape {
            columns,
            unique,
            constraint,
            options,
        } = shape;
        if columns.len() > crate::catalog::INDEX_COLUMNS_MAX {
            return Err(SqlError::FeatureNotSupported(format!(
                "indexes of more than {} columns",
                crate::catalog::INDEX_COLUMNS_MAX
            )));
        }
        let engine = &self.db.engine;
        let tree = engine.create_tree_in(txn)?;
        let ix = IndexDef {
            name,
            oid: TableDef::oid_for_tree(tree),
            tree,
            columns,
            unique,
            constraint,
            options,
            ordered: true,
        };
        let work_mem = self.maintenance_work_mem_bytes();
        index::build(engine, txn, def, &ix, work_mem, &self.info.cancel)?;
        def.indexes.push(ix);
        Ok(())
    }

    /// `CREATE [UNIQUE] INDEX [IF NOT EXISTS] [name] ON t (a, b, …)`: a B-tree over plain
    /// columns, built over the rows the transaction sees, in the same transaction as its catalog
    /// entry (a rollback takes both away). Unnamed indexes are named as PostgreSQL names them.
    fn create_index(&mut self, txn: &mut Txn, ci: &ast::CreateIndex) -> SqlResult<Output> {
        let engine = self.db.engine.clone();
        if ci.predicate.is_some()
            || !ci.include.is_empty()
            || !ci.with.is_empty()
            || ci.nulls_distinct == Some(false)
            || !ci.index_options.is_empty()
            || !ci.alter_options.is_empty()
        {
            return Err(SqlError::FeatureNotSupported(
                "partial indexes, INCLUDE, WITH and NULLS NOT DISTINCT".into(),
            ));
        }
        // CONCURRENTLY builds as a plain build does (neither locks writers out: see "What is not
        // built yet" in the architecture notes); like PostgreSQL it may not run inside a
        // transaction block.
        if ci.concurrently && self.in_block {
            return Err(SqlError::ActiveSqlTransaction(
                "CREATE INDEX CONCURRENTLY cannot run inside a transaction block".into(),
            ));
        }
        if let Some(using) = &ci.using
            && !using.to_string().eq_ignore_ascii_case("btree")
        {
            return Err(SqlError::FeatureNotSupported(format!(
                "index access method {using}"
            )));
        }
        let mut def = crate::namespace::table(&engine, txn, &ci.table_name)?;
        let mut names = Vec::with_capacity(ci.columns.len());
        let mut options = Vec::with_capacity(ci.columns.len());
        for c in &ci.columns {
            let ast::Expr::Identifier(id) = &c.column.expr else {
                return Err(SqlError::FeatureNotSupported(
                    "expressions in an index".into(),
                ));
            };
            // PostgreSQL's defaults: NULLs last ascending, first descending.
            let desc = matches!(c.column.options.sort, Some(ast::OrderBySort::Desc));
            let nulls_first = c.column.options.nulls_first.unwrap_or(desc);
            options.push(
                if desc {
                    crate::catalog::INDOPTION_DESC
                } else {
                    0
                } | if nulls_first {
                    crate::catalog::INDOPTION_NULLS_FIRST
                } else {
                    0
                },
            );
            names.push(ident_name(id));
        }
        let mut columns = Vec::with_capacity(names.len());
        for n in &names {
            columns.push(
                def.column_index(n)
                    .ok_or_else(|| SqlError::UndefinedColumn(n.clone()))?,
            );
        }
        let name = match &ci.name {
            Some(n) => {
                let n = object_name(n)?;
                let key = crate::namespace::rel_key(&def.schema, &n);
                if index::name_owner(&engine, txn, &key)?.is_some() {
                    if ci.if_not_exists {
                        self.notices
                            .push(format!("relation \"{n}\" already exists, skipping"));
                        return Ok(command("CREATE INDEX"));
                    }
                    return Err(SqlError::DuplicateTable(n));
                }
                n
            }
            None => {
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                index::choose_name(&engine, txn, &def.schema, &def.name, &refs, "idx", &[])?
            }
        };
        // Entries are built in the declared order of each column.
        let options = if options.iter().any(|&o| o != 0) {
            options
        } else {
            Vec::new()
        };
        let shape = IndexShape {
            columns,
            unique: ci.unique,
            constraint: false,
            options,
        };
        self.add_index(txn, &mut def, name, shape)?;
        engine.put(txn, CATALOG, def.key().as_bytes(), &def.encode())?;
        Ok(command("CREATE INDEX"))
    }

    /// `DROP INDEX [IF EXISTS] name [, …]`. An index a constraint needs (the primary key's, a
    /// unique constraint's) is refused, as PostgreSQL refuses it. The tree is left unreachable.
    fn drop_indexes(
        &mut self,
        txn: &mut Txn,
        names: &[ast::ObjectName],
        if_exists: bool,
    ) -> SqlResult<Output> {
        let engine = self.db.engine.clone();
        for n in names {
            let Some(key) = self.find_for_drop(txn, n, "index", if_exists)? else {
                continue;
            };
            let name = crate::namespace::split_key(&key).1.to_string();
            match index::name_owner(&engine, txn, &key)? {
                None => {}
                Some(NameOwner::Table) => {
                    return Err(SqlError::WrongObjectType(format!(
                        "\"{name}\" is not an index"
                    )));
                }
                Some(NameOwner::Index(def, i)) => {
                    let constraint = i.is_none_or(|i| def.indexes[i].constraint);
                    if constraint {
                        return Err(SqlError::DependentObjectsStillExist {
                            message: format!(
                                "cannot drop index {name} because constraint {name} on table {} requires it",
                                def.name
                            ),
                            detail: String::new(),
                            hint: format!(
                                "You can drop constraint {name} on table {} instead.",
                                def.name
                            ),
                        });
                    }
                    let mut def = def;
                    if let Some(i) = i {
                        let ix = def.indexes.remove(i);
                        crate::comments::drop_all(&engine, txn, PG_CLASS_OID, ix.oid)?;
                    }
                    engine.put(txn, CATALOG, def.key().as_bytes(), &def.encode())?;
                }
            }
        }
        Ok(command("DROP INDEX"))
    }

    /// `DROP TABLE [IF EXISTS] name [, …] [CASCADE]`: the views that read a table and the
    /// foreign keys that reference it go with it under CASCADE, and make it fail without.
    fn drop_tables(
        &mut self,
        txn: &mut Txn,
        names: &[ast::ObjectName],
        if_exists: bool,
        cascade: bool,
    ) -> SqlResult<Output> {
        let engine = self.db.engine.clone();
        let mut roots: Vec<crate::depend::Object> = Vec::new();
        for n in names {
            let Some(key) = self.find_for_drop(txn, n, "table", if_exists)? else {
                continue;
            };
            let name = crate::namespace::split_key(&key).1.to_string();
            let other = if lookup_sequence(&engine, txn, &key)?.is_some() {
                Some("SEQUENCE to remove a sequence")
            } else if crate::query::lookup_view(&engine, txn, &key)?.is_some() {
                Some("VIEW to remove a view")
            } else {
                None
            };
            if let Some(what) = other {
                return Err(SqlError::WrongObjectTypeHint {
                    message: format!("\"{name}\" is not a table"),
                    hint: format!("Use DROP {what}."),
                });
            }
            if let Some(owner @ NameOwner::Index(..)) = index::name_owner(&engine, txn, &key)? {
                return Err(wrong_drop(&engine, txn, &key, "table", &owner)?);
            }
            let def = lookup_table(&engine, txn, &key)?;
            if !roots.iter().any(|r| r.oid() == def.oid) {
                roots.push(crate::depend::Object::Table(def));
            }
        }
        self.drop_with_dependents(txn, roots, cascade)?;
        Ok(command("DROP TABLE"))
    }

    /// Removes a table's catalog entry, the comments on it and its indexes, and the sequences
    /// its columns own. Its trees become unreachable.
    fn drop_table_entry(&mut self, txn: &mut Txn, def: &TableDef) -> SqlResult<()> {
        let engine = self.db.engine.clone();
        engine.delete(txn, CATALOG, def.key().as_bytes())?;
        crate::comments::drop_all(&engine, txn, PG_CLASS_OID, def.oid)?;
        crate::stats::drop_table(&engine, txn, def.oid)?;
        for ix in &def.indexes {
            crate::comments::drop_all(&engine, txn, PG_CLASS_OID, ix.oid)?;
        }
        // Sequences the table's columns own go with it.
        for seq in user_sequences(&engine, txn)? {
            if seq.owned_by.is_some_and(|(t, _)| t == def.oid) {
                engine.delete(txn, CATALOG, seq.key().as_bytes())?;
                crate::comments::drop_all(&engine, txn, PG_CLASS_OID, seq.oid)?;
                self.db.sequences.forget(seq.tree);
            }
        }
        Ok(())
    }

    /// The catalog key of a relation a `DROP kind [IF EXISTS]` names, or `None` (after a
    /// notice) when it does not exist and `if_exists`. A qualifier naming no schema is
    /// PostgreSQL's `schema "…" does not exist`.
    fn find_for_drop(
        &mut self,
        txn: &Txn,
        name: &ast::ObjectName,
        kind: &str,
        if_exists: bool,
    ) -> SqlResult<Option<String>> {
        let engine = &self.db.engine;
        let (schema, rel) = crate::namespace::split_name(name)?;
        if let Some(s) = &schema
            && !crate::namespace::exists(engine, txn, s)?
        {
            if if_exists {
                self.notices
                    .push(format!("schema \"{s}\" does not exist, skipping"));
                return Ok(None);
            }
            return Err(SqlError::UndefinedSchema(s.clone()));
        }
        if let Some(k) = crate::namespace::find_parts(engine, txn, schema.as_deref(), &rel)? {
            return Ok(Some(k));
        }
        // An index's name: the caller says it is not of the kind dropped.
        let index = crate::namespace::find_index(engine, txn, schema.as_deref(), &rel)?;
        match index {
            Some((def, _)) => Ok(Some(crate::namespace::rel_key(&def.schema, &rel))),
            None if if_exists => {
                self.notices
                    .push(format!("{kind} \"{rel}\" does not exist, skipping"));
                Ok(None)
            }
            None if kind == "index" => Err(SqlError::UndefinedObject(format!(
                "index \"{rel}\" does not exist"
            ))),
            None => Err(SqlError::UndefinedRelation(format!(
                "{kind} \"{rel}\" does not exist"
            ))),
        }
    }

    /// `CREATE SCHEMA [IF NOT EXISTS] name [AUTHORIZATION role]` and `CREATE SCHEMA
    /// AUTHORIZATION role` (named after the role).
    fn create_schema(
        &mut self,
        txn: &mut Txn,
        schema_name: &ast::SchemaName,
        if_not_exists: bool,
    ) -> SqlResult<Output> {
        let engine = self.db.engine.clone();
        let (name, role) = match schema_name {
            ast::SchemaName::Simple(n) => (object_name(n)?, None),
            ast::SchemaName::UnnamedAuthorization(r) => (ident_name(r), Some(ident_name(r))),
            ast::SchemaName::NamedAuthorization(n, r) => (object_name(n)?, Some(ident_name(r))),
        };
        let owner = match role {
            Some(r) if r != self.info.user => {
                return Err(SqlError::UndefinedObject(format!(
                    "role \"{r}\" does not exist"
                )));
            }
            _ => self.info.user.clone(),
        };
        if crate::namespace::exists(&engine, txn, &name)? || name.starts_with("pg_temp_") {
            if if_not_exists {
                self.notices
                    .push(format!("schema \"{name}\" already exists, skipping"));
                return Ok(command("CREATE SCHEMA"));
            }
            return Err(SqlError::DuplicateSchema(name));
        }
        if name.starts_with("pg_") {
            return Err(SqlError::ReservedName {
                message: format!("unacceptable schema name \"{name}\""),
                detail: "The prefix \"pg_\" is reserved for system schemas.".into(),
            });
        }
        let oid = TableDef::oid_for_tree(engine.create_tree()?);
        crate::namespace::create(
            &engine,
            txn,
            &crate::namespace::SchemaDef { name, oid, owner },
        )?;
        Ok(command("CREATE SCHEMA"))
    }

    /// `DROP SCHEMA [IF EXISTS] name [, …] [CASCADE | RESTRICT]`. Without CASCADE a schema
    /// that holds relations is refused, listing them as PostgreSQL does; with it they go too
    /// (and the foreign keys of other schemas' tables that reference them).
    fn drop_schemas(
        &mut self,
        txn: &mut Txn,
        names: &[ast::ObjectName],
        if_exists: bool,
        cascade: bool,
    ) -> SqlResult<Output> {
        let engine = self.db.engine.clone();
        for n in names {
            let name = object_name(n)?;
            if matches!(name.as_str(), "pg_catalog" | "information_schema") {
                return Err(SqlError::DependentObjectsStillExist {
                    message: format!(
                        "cannot drop schema {name} because it is required by the database system"
                    ),
                    detail: String::new(),
                    hint: String::new(),
                });
            }
            if name == crate::namespace::PUBLIC {
                return Err(SqlError::FeatureNotSupported("DROP SCHEMA public".into()));
            }
            let Some(schema_def) = crate::namespace::get(&engine, txn, &name)? else {
                if if_exists {
                    self.notices
                        .push(format!("schema \"{name}\" does not exist, skipping"));
                    continue;
                }
                return Err(SqlError::UndefinedSchema(name));
            };
            let schema_oid = schema_def.oid;
            // The schema's relations; a sequence a column owns goes with its table unnamed.
            // Views and foreign keys elsewhere that read or reference them are reached through
            // them (see `crate::depend`).
            use crate::depend::Object;
            let tables: Vec<TableDef> = crate::catalog_views::user_tables(&engine, txn)?
                .into_iter()
                .filter(|d| d.schema == name)
                .collect();
            let mut members: Vec<Object> = tables.iter().cloned().map(Object::Table).collect();
            for v in crate::catalog_views::user_views(&engine, txn)? {
                if v.schema == name {
                    members.push(Object::View(v));
                }
            }
            for q in user_sequences(&engine, txn)? {
                if q.schema == name
                    && !q
                        .owned_by
                        .is_some_and(|(t, _)| tables.iter().any(|d| d.oid == t))
                {
                    members.push(Object::Sequence(q));
                }
            }
            let doomed: Vec<u32> = tables.iter().map(|d| d.oid).collect();
            let graph = crate::depend::Graph::load(&engine, txn)?;
            let reached = graph.walk(
                &engine,
                txn,
                vec![(members, format!("schema {name}"))],
                &[],
                &doomed,
            );
            if reached.is_empty() {
                crate::namespace::remove(&engine, txn, &name)?;
                crate::comments::drop_all(&engine, txn, PG_NAMESPACE_OID, schema_oid)?;
                continue;
            }
            if !cascade {
                return Err(crate::depend::still_exist(
                    Some(&format!("schema {name}")),
                    &reached,
                ));
            }
            let all: Vec<Object> = reached.iter().map(|r| r.object.clone()).collect();
            self.drop_objects(txn, &all, &doomed)?;
            for key in crate::namespace::relation_keys(&engine, txn, &name)? {
                if let Some(q) = lookup_sequence(&engine, txn, &key)? {
                    self.db.sequences.forget(q.tree);
                    crate::comments::drop_all(&engine, txn, PG_CLASS_OID, q.oid)?;
                } else if let Some(v) = crate::query::lookup_view(&engine, txn, &key)? {
                    crate::comments::drop_all(&engine, txn, PG_CLASS_OID, v.oid)?;
                } else if let Ok(d) = lookup_table(&engine, txn, &key) {
                    self.drop_table_entry(txn, &d)?;
                    continue;
                }
                engine.delete(txn, CATALOG, key.as_bytes())?;
            }
            crate::namespace::remove(&engine, txn, &name)?;
            crate::comments::drop_all(&engine, txn, PG_NAMESPACE_OID, schema_oid)?;
            if let Some(n) = crate::depend::cascade_notice(&reached) {
                self.notices.push(n);
            }
        }
        Ok(command("DROP SCHEMA"))
    }

    /// `ALTER SCHEMA name RENAME TO new` (every relation's catalog key moves with it) and
    /// `OWNER TO` the session's role.
    fn alter_schema(&mut self, txn: &mut Txn, a: &ast::AlterSchema) -> SqlResult<Output> {
        let engine = self.db.engine.clone();
        let name = object_name(&a.name)?;
        let Some(def) = crate::namespace::get(&engine, txn, &name)? else {
            if name == crate::namespace::PUBLIC {
                return Err(SqlError::FeatureNotSupported("ALTER SCHEMA public".into()));
            }
            if a.if_exists {
                return Ok(command("ALTER SCHEMA"));
            }
            return Err(SqlError::UndefinedSchema(name));
        };
        for op in &a.operations {
            match op {
                ast::AlterSchemaOperation::Rename { name: new } => {
                    let new = object_name(new)?;
                    if crate::namespace::exists(&engine, txn, &new)? {
                        return Err(SqlError::DuplicateSchema(new));
                    }
                    if new.starts_with("pg_") {
                        return Err(SqlError::ReservedName {
                            message: format!("unacceptable schema name \"{new}\""),
                            detail: "The prefix \"pg_\" is reserved for system schemas.".into(),
                        });
                    }
                    self.rename_schema(txn, &def, &new)?;
                }
                ast::AlterSchemaOperation::OwnerTo { owner } => {
                    let role = owner.to_string();
                    let role = crate::namespace::parse_text_name(&role)
                        .pop()
                        .unwrap_or_default();
                    if role != self.info.user
                        && !matches!(role.as_str(), "current_user" | "session_user")
                    {
                        return Err(SqlError::UndefinedObject(format!(
                            "role \"{role}\" does not exist"
                        )));
                    }
                }
                other => {
                    return Err(SqlError::FeatureNotSupported(format!(
                        "ALTER SCHEMA … {other}"
                    )));
                }
            }
        }
        Ok(command("ALTER SCHEMA"))
    }

    /// Moves schema `def` and every relation of it to the name `new`: catalog keys carry the
    /// schema, and so do the foreign keys (anywhere) that reference its tables and the column
    /// defaults that name its sequences.
    fn rename_schema(
        &mut self,
        txn: &mut Txn,
        def: &crate::namespace::SchemaDef,
        new: &str,
    ) -> SqlResult<()> {
        let engine = self.db.engine.clone();
        let old = def.name.as_str();
        for key in crate::namespace::relation_keys(&engine, txn, old)? {
            let Some(bytes) = engine.get(txn, CATALOG, key.as_bytes())? else {
                continue;
            };
            let rel = crate::namespace::split_key(&key).1;
            engine.delete(txn, CATALOG, key.as_bytes())?;
            engine.insert(
                txn,
                CATALOG,
                crate::namespace::rel_key(new, rel).as_bytes(),
                &bytes,
            )?;
        }
        let old_prefix = format!("{}.", crate::catalog_views::quote_ident(old));
        let new_prefix = format!("{}.", crate::catalog_views::quote_ident(new));
        for mut t in crate::catalog_views::user_tables(&engine, txn)? {
            let mut changed = false;
            for f in &mut t.foreign_keys {
                if crate::namespace::split_key(&f.ref_table).0 == old {
                    let rel = crate::namespace::split_key(&f.ref_table).1.to_string();
                    f.ref_table = crate::namespace::rel_key(new, &rel);
                    changed = true;
                }
            }
            for c in &mut t.columns {
                if let Some(d) = &c.default
                    && d.contains(&format!("'{old_prefix}"))
                {
                    c.default =
                        Some(d.replace(&format!("'{old_prefix}"), &format!("'{new_prefix}")));
                    changed = true;
                }
            }
            if changed {
                engine.put(txn, CATALOG, t.key().as_bytes(), &t.encode())?;
            }
        }
        self.rename_in_views(txn, &|schema, name| {
            (schema == old).then(|| (new.to_string(), name.to_string()))
        })?;
        crate::namespace::remove(&engine, txn, old)?;
        crate::namespace::create(
            &engine,
            txn,
            &crate::namespace::SchemaDef {
                name: new.to_string(),
                ..def.clone()
            },
        )?;
        Ok(())
    }

    /// `ALTER TABLE | VIEW | SEQUENCE [IF EXISTS] name SET SCHEMA s`: the relation's catalog
    /// key moves to the schema, and with a table its indexes and constraints (they live in its
    /// definition) and the sequences its columns own. What names it by key or text follows:
    /// foreign keys that reference it, column defaults that call its sequences, and the views
    /// that read it (their stored queries name it anew). OIDs do not change, so comments,
    /// statistics and the dependencies views record stay as they are.
    fn set_schema(
        &mut self,
        txn: &mut Txn,
        set: &crate::ddl_parse::SetSchema,
    ) -> SqlResult<Output> {
        use crate::ddl_parse::RelKind;
        use crate::namespace::{rel_key, split_key};
        let engine = self.db.engine.clone();
        let tag = set.kind.tag();
        let (qualifier, rel) = crate::namespace::split_name(&set.name)?;
        let Some(key) = crate::namespace::find_parts(&engine, txn, qualifier.as_deref(), &rel)?
        else {
            let shown = match &qualifier {
                Some(q) => format!("{q}.{rel}"),
                None => rel.clone(),
            };
            if set.if_exists {
                self.notices
                    .push(format!("relation \"{shown}\" does not exist, skipping"));
                return Ok(command(tag));
            }
            return Err(SqlError::UndefinedTable(shown));
        };
        let resolved = crate::query::resolve_key(&engine, txn, &key)?;
        let wrong = |what: &str| SqlError::WrongObjectType(format!("\"{rel}\" is not a {what}"));
        match (&resolved, set.kind) {
            (crate::query::Resolved::View(_), RelKind::View | RelKind::Table)
            | (crate::query::Resolved::Sequence(_), RelKind::Sequence | RelKind::Table)
            | (crate::query::Resolved::Table(_), RelKind::Table) => {}
            (_, RelKind::View) => return Err(wrong("view")),
            (_, RelKind::Sequence) => return Err(wrong("sequence")),
            (_, RelKind::Table | RelKind::Index) => return Err(wrong("table")),
        }
        let mut new = ident_name(&set.schema);
        if new == "pg_temp" {
            new = self.temp_schema_name();
        }
        if matches!(new.as_str(), "pg_catalog" | "information_schema") {
            return Err(SqlError::InsufficientPrivilege(format!(
                "permission denied for schema {new}"
            )));
        }
        let old = split_key(&key).0.to_string();
        let temp = crate::namespace::is_temp(&new) || crate::namespace::is_temp(&old);
        if !temp && !crate::namespace::exists(&engine, txn, &new)? {
            return Err(SqlError::UndefinedSchema(new));
        }
        if temp {
            return Err(SqlError::NotSupported(
                "cannot move objects into or out of temporary schemas".into(),
            ));
        }
        if new == old {
            return Ok(command(tag));
        }
        // The relations that move, and the names each takes in the new schema.
        let sequences = user_sequences(&engine, txn)?;
        let mut moving: Vec<String> = vec![key.clone()];
        let mut names: Vec<String> = vec![rel.clone()];
        match &resolved {
            crate::query::Resolved::Table(def) => {
                if !def.pk.is_empty() {
                    names.push(def.pk_name());
                }
                names.extend(def.indexes.iter().map(|ix| ix.name.clone()));
                for q in &sequences {
                    if q.owned_by.is_some_and(|(t, _)| t == def.oid) && q.schema == old {
                        moving.push(q.key());
                        names.push(q.name.clone());
                    }
                }
            }
            crate::query::Resolved::Sequence(q) => {
                if let Some((t, _)) = q.owned_by {
                    let table = crate::catalog_views::user_tables(&engine, txn)?
                        .into_iter()
                        .find(|d| d.oid == t)
                        .map(|d| d.name)
                        .unwrap_or_default();
                    return Err(SqlError::NotSupportedDetail {
                        message: "cannot move an owned sequence into another schema".into(),
                        detail: format!("Sequence \"{rel}\" is linked to table \"{table}\"."),
                        hint: String::new(),
                    });
                }
            }
            _ => {}
        }
        for n in &names {
            if index::name_owner(&engine, txn, &rel_key(&new, n))?.is_some() {
                return Err(SqlError::DuplicateRelation(format!(
                    "relation \"{n}\" already exists in schema \"{new}\""
                )));
            }
        }
        for k in &moving {
            let Some(bytes) = engine.get(txn, CATALOG, k.as_bytes())? else {
                continue;
            };
            let name = split_key(k).1;
            engine.delete(txn, CATALOG, k.as_bytes())?;
            engine.insert(txn, CATALOG, rel_key(&new, name).as_bytes(), &bytes)?;
        }
        // Foreign keys name the tables they reference by key; defaults name sequences by text.
        let moved_names: Vec<&str> = moving.iter().map(|k| split_key(k).1).collect();
        for mut t in crate::catalog_views::user_tables(&engine, txn)? {
            let mut changed = false;
            for f in &mut t.foreign_keys {
                if f.ref_table == key {
                    f.ref_table = rel_key(&new, &rel);
                    changed = true;
                }
            }
            for c in &mut t.columns {
                for q in moved_names.iter().skip(1) {
                    if c.default.as_deref() == Some(nextval_text_in(&old, q).as_str()) {
                        c.default = Some(nextval_text_in(&new, q));
                        changed = true;
                    }
                }
            }
            if changed {
                engine.put(txn, CATALOG, t.key().as_bytes(), &t.encode())?;
            }
        }
        self.rename_in_views(txn, &|schema, name| {
            (schema == old && moved_names.contains(&name)).then(|| (new.clone(), name.to_string()))
        })?;
        Ok(command(tag))
    }

    /// `ALTER TABLE | VIEW | INDEX | SEQUENCE [IF EXISTS] name RENAME …` (see
    /// [`crate::ddl_parse::Rename`]), as PostgreSQL does it:
    /// - ALTER VIEW and ALTER SEQUENCE take only a relation of their kind (42809); ALTER TABLE
    ///   and ALTER INDEX rename any relation, an index included;
    /// - `RENAME TO new` keeps the schema and refuses a name any relation of it has (42P07).
    ///   A table keeps its primary key's name, its indexes and constraints; what names the
    ///   relation by key or text follows it: the foreign keys that reference a table, column
    ///   defaults that call a sequence (PostgreSQL stores a regclass, which prints the new name)
    ///   and the views that read it (their stored queries rewritten). OIDs do not change, so
    ///   statistics, comments, recorded dependencies and the sequences a table's columns own
    ///   stay as they are. An index that backs a constraint (primary key, UNIQUE) renames the
    ///   constraint with it;
    /// - `RENAME CONSTRAINT old TO new` of a table: a CHECK or FOREIGN KEY constraint by
    ///   itself, a primary key or UNIQUE constraint with its index;
    /// - `RENAME [COLUMN] a TO b` of a table or a view, followed into the views that read it.
    fn rename(&mut self, txn: &mut Txn, r: &crate::ddl_parse::Rename) -> SqlResult<Output> {
        use crate::ddl_parse::{RelKind, RenameTarget};
        let engine = self.db.engine.clone();
        let tag = r.kind.tag();
        let (qualifier, rel) = crate::namespace::split_name(&r.name)?;
        let found = match crate::namespace::find_parts(&engine, txn, qualifier.as_deref(), &rel)? {
            Some(key) => match crate::query::resolve_key(&engine, txn, &key)? {
                crate::query::Resolved::Table(def) => Some(RenameSubject::Table(def)),
                crate::query::Resolved::View(v) => Some(RenameSubject::View(v)),
                crate::query::Resolved::Sequence(q) => Some(RenameSubject::Sequence(q)),
                crate::query::Resolved::Virtual(_) => None,
            },
            None => crate::namespace::find_index(&engine, txn, qualifier.as_deref(), &rel)?
                .map(|(def, i)| RenameSubject::Index(def, i)),
        };
        let Some(found) = found else {
            let shown = match &qualifier {
                Some(q) => format!("{q}.{rel}"),
                None => rel.clone(),
            };
            if r.if_exists {
                self.notices
                    .push(format!("relation \"{shown}\" does not exist, skipping"));
                return Ok(command(tag));
            }
            return Err(SqlError::UndefinedTable(shown));
        };
        let wrong = |what: &str| SqlError::WrongObjectType(format!("\"{rel}\" is not a {what}"));
        match (&found, r.kind) {
            (RenameSubject::View(_), RelKind::View)
            | (RenameSubject::Sequence(_), RelKind::Sequence)
            | (_, RelKind::Table | RelKind::Index) => {}
            (_, RelKind::View) => return Err(wrong("view")),
            (_, RelKind::Sequence) => return Err(wrong("sequence")),
        }
        match &r.target {
            RenameTarget::Relation(new) => self.rename_relation(txn, found, &ident_name(new))?,
            RenameTarget::Constraint(old, new) => {
                self.rename_constraint(txn, found, &ident_name(old), &ident_name(new))?;
            }
            RenameTarget::Column(old, new) => {
                self.rename_column(txn, found, &ident_name(old), &ident_name(new))?;
            }
        }
        Ok(command(tag))
    }

    /// `RENAME TO new` of the relation `subject` (see [`Session::rename`]).
    fn rename_relation(
        &mut self,
        txn: &mut Txn,
        subject: RenameSubject,
        new: &str,
    ) -> SqlResult<()> {
        use crate::namespace::rel_key;
        let engine = self.db.engine.clone();
        let schema = subject.schema().to_string();
        let new_key = rel_key(&schema, new);
        if index::name_owner(&engine, txn, &new_key)?.is_some() {
            return Err(SqlError::DuplicateTable(new.to_string()));
        }
        let sequence = matches!(subject, RenameSubject::Sequence(_));
        // The relation's entry moves to its new key, with its new name inside.
        let moved = match subject {
            RenameSubject::Index(mut def, i) => {
                let constraint = match i {
                    None => true,
                    Some(i) => def.indexes[i].constraint,
                };
                if constraint && constraint_names(&def).iter().any(|n| n == new) {
                    return Err(SqlError::DuplicateObject(format!(
                        "constraint \"{new}\" for relation \"{}\" already exists",
                        def.name
                    )));
                }
                match i {
                    None => def.pk_name_kept = Some(new.to_string()),
                    Some(i) => def.indexes[i].name = new.to_string(),
                }
                engine.put(txn, CATALOG, def.key().as_bytes(), &def.encode())?;
                return Ok(());
            }
            RenameSubject::Table(mut def) => {
                let old_key = def.key();
                if !def.pk.is_empty() && def.pk_name_kept.is_none() {
                    def.pk_name_kept = Some(def.pk_name());
                }
                let old = std::mem::replace(&mut def.name, new.to_string());
                (old_key, old, def.encode())
            }
            RenameSubject::View(mut v) => {
                let old_key = v.key();
                let old = std::mem::replace(&mut v.name, new.to_string());
                (old_key, old, v.encode())
            }
            RenameSubject::Sequence(mut q) => {
                let old_key = q.key();
                let old = std::mem::replace(&mut q.name, new.to_string());
                (old_key, old, q.encode())
            }
        };
        let (old_key, old, entry) = moved;
        engine.delete(txn, CATALOG, old_key.as_bytes())?;
        engine.insert(txn, CATALOG, new_key.as_bytes(), &entry)?;
        // Foreign keys name the tables they reference by key; defaults name sequences by text
        // (`nextval('s'::regclass)`: the regclass literal is what changes).
        for mut t in crate::catalog_views::user_tables(&engine, txn)? {
            let mut changed = false;
            for f in &mut t.foreign_keys {
                if f.ref_table == old_key {
                    f.ref_table = new_key.clone();
                    changed = true;
                }
            }
            for c in &mut t.columns {
                if sequence
                    && let Some(d) = &c.default
                    && let Some(r) =
                        crate::depend::rename_sequence_in_default(d, &schema, &old, new)
                {
                    c.default = Some(r);
                    changed = true;
                }
            }
            if changed {
                engine.put(txn, CATALOG, t.key().as_bytes(), &t.encode())?;
            }
        }
        self.rename_in_views(txn, &|s, n| {
            (s == schema && n == old).then(|| (schema.clone(), new.to_string()))
        })?;
        Ok(())
    }

    /// `ALTER TABLE t RENAME CONSTRAINT old TO new` (see [`Session::rename`]): PostgreSQL
    /// checks a primary key's or UNIQUE constraint's new name as its index's first (42P07),
    /// then among the table's constraints (42710).
    fn rename_constraint(
        &mut self,
        txn: &mut Txn,
        subject: RenameSubject,
        old: &str,
        new: &str,
    ) -> SqlResult<()> {
        let engine = self.db.engine.clone();
        let missing = |table: &str| {
            SqlError::UndefinedObject(format!(
                "constraint \"{old}\" for table \"{table}\" does not exist"
            ))
        };
        let mut def = match subject {
            RenameSubject::Table(def) => def,
            RenameSubject::Sequence(q) => return Err(sequence_columns(&q.name)),
            RenameSubject::View(v) => return Err(missing(&v.name)),
            RenameSubject::Index(def, i) => {
                let name = i.map_or_else(|| def.pk_name(), |i| def.indexes[i].name.clone());
                return Err(missing(&name));
            }
        };
        let exists = || {
            SqlError::DuplicateObject(format!(
                "constraint \"{new}\" for relation \"{}\" already exists",
                def.name
            ))
        };
        let taken = constraint_names(&def).iter().any(|n| n == new);
        let indexed = if !def.pk.is_empty() && def.pk_name() == old {
            Some(None)
        } else {
            def.indexes
                .iter()
                .position(|ix| ix.constraint && ix.name == old)
                .map(Some)
        };
        if let Some(i) = indexed {
            let key = crate::namespace::rel_key(&def.schema, new);
            if index::name_owner(&engine, txn, &key)?.is_some() {
                return Err(SqlError::DuplicateTable(new.to_string()));
            }
            if taken {
                return Err(exists());
            }
            match i {
                None => def.pk_name_kept = Some(new.to_string()),
                Some(i) => def.indexes[i].name = new.to_string(),
            }
        } else if let Some(c) = def.checks.iter().position(|c| c.name == old) {
            if taken {
                return Err(exists());
            }
            def.checks[c].name = new.to_string();
        } else if let Some(f) = def.foreign_keys.iter().position(|f| f.name == old) {
            if taken {
                return Err(exists());
            }
            def.foreign_keys[f].name = new.to_string();
        } else {
            return Err(missing(&def.name));
        }
        engine.put(txn, CATALOG, def.key().as_bytes(), &def.encode())?;
        Ok(())
    }

    /// `RENAME [COLUMN] old TO new` of a table or a view (see [`Session::rename`]).
    fn rename_column(
        &mut self,
        txn: &mut Txn,
        subject: RenameSubject,
        old: &str,
        new: &str,
    ) -> SqlResult<()> {
        let engine = self.db.engine.clone();
        let exists = |rel: &str| {
            SqlError::ColumnExists(format!(
                "column \"{new}\" of relation \"{rel}\" already exists"
            ))
        };
        let oid = match subject {
            RenameSubject::Table(mut def) => {
                let i = def
                    .column_index(old)
                    .ok_or_else(|| SqlError::UndefinedColumn(old.to_string()))?;
                if def.column_index(new).is_some() {
                    return Err(exists(&def.name));
                }
                def.columns[i].name = new.to_string();
                engine.put(txn, CATALOG, def.key().as_bytes(), &def.encode())?;
                def.oid
            }
            RenameSubject::View(mut v) => {
                let i = v
                    .columns
                    .iter()
                    .position(|c| c.name == old)
                    .ok_or_else(|| SqlError::UndefinedColumn(old.to_string()))?;
                if v.columns.iter().any(|c| c.name == new) {
                    return Err(exists(&v.name));
                }
                v.columns[i].name = new.to_string();
                engine.put(txn, CATALOG, v.key().as_bytes(), &v.encode())?;
                v.oid
            }
            RenameSubject::Sequence(q) => return Err(sequence_columns(&q.name)),
            RenameSubject::Index(..) => {
                return Err(SqlError::FeatureNotSupported(
                    "renaming a column of an index".into(),
                ));
            }
        };
        self.rename_column_in_views(txn, oid, old, new)
    }

    /// Rewrites the relation names in every view's stored query that `moved` maps: (schema,
    /// name) as stored (an unqualified name is in `public`) to the schema and name the relation
    /// has now. Names of `public` are written unqualified, as
    /// [`crate::namespace::qualify_relations`] writes them. A relation whose name changes and
    /// that the query reads with no alias gets its old name as alias, so that the columns the
    /// query qualifies with it (`t.a`) still bind.
    fn rename_in_views(&self, txn: &mut Txn, moved: &RelationMap<'_>) -> SqlResult<()> {
        let engine = self.db.engine.clone();
        for mut v in crate::catalog_views::user_views(&engine, txn)? {
            let Ok(mut q) = crate::query::parse_view_query(&v) else {
                continue;
            };
            let mut renamer = RelationRenamer {
                ctes: cte_names(&q),
                moved,
                changed: false,
            };
            let _ = ast::VisitMut::visit(&mut q, &mut renamer);
            if renamer.changed {
                v.sql = q.to_string();
                engine.put(txn, CATALOG, v.key().as_bytes(), &v.encode())?;
            }
        }
        Ok(())
    }

    /// `CREATE SCHEMA name [AUTHORIZATION role] element [...]`: the schema, then its elements
    /// in PostgreSQL's order (sequences, tables, views, indexes, grants), each created in it —
    /// it comes first on the search path while they run — in the statement's transaction.
    fn create_schema_with_elements(&mut self, txn: &mut Txn, text: &str) -> SqlResult<Output> {
        let e = crate::ddl_parse::SchemaElements::parse(text)?
            .ok_or_else(|| SqlError::Syntax("syntax error in CREATE SCHEMA".into()))?;
        if e.if_not_exists {
            return Err(SqlError::NotSupported(
                "CREATE SCHEMA IF NOT EXISTS cannot include schema elements".into(),
            ));
        }
        let schema_name = match (&e.name, &e.role) {
            (Some(n), Some(r)) => ast::SchemaName::NamedAuthorization(
                ast::ObjectName::from(vec![n.clone()]),
                r.clone(),
            ),
            (Some(n), None) => ast::SchemaName::Simple(ast::ObjectName::from(vec![n.clone()])),
            (None, Some(r)) => ast::SchemaName::UnnamedAuthorization(r.clone()),
            (None, None) => return Err(SqlError::Syntax("syntax error in CREATE SCHEMA".into())),
        };
        let name = match (&e.name, &e.role) {
            (Some(n), _) | (None, Some(n)) => ident_name(n),
            (None, None) => String::new(),
        };
        // Each element, with its place in PostgreSQL's order.
        let mut elements: Vec<(u8, ast::Statement)> = Vec::with_capacity(e.elements.len());
        for text in &e.elements {
            let mut parsed = parse(text)?;
            let (Some(stmt), true) = (parsed.pop(), parsed.is_empty()) else {
                return Err(SqlError::Syntax(format!(
                    "syntax error at or near \"{}\"",
                    text.split_whitespace().next().unwrap_or_default()
                )));
            };
            let (order, named) = match &stmt {
                ast::Statement::CreateSequence { name, .. } => (0, Some(name)),
                ast::Statement::CreateTable(ct) => (1, Some(&ct.name)),
                ast::Statement::CreateView(cv) => (2, Some(&cv.name)),
                ast::Statement::CreateIndex(ci) => (3, Some(&ci.table_name)),
                ast::Statement::Grant(_) => (4, None),
                _ => {
                    let word = text.split_whitespace().nth(1).unwrap_or_default();
                    return Err(SqlError::Syntax(format!(
                        "syntax error at or near \"{word}\""
                    )));
                }
            };
            if let Some(n) = named
                && let (Some(other), _) = crate::namespace::split_name(n)?
                && other != name
            {
                return Err(SqlError::InvalidSchemaDefinition(format!(
                    "CREATE specifies a schema ({other}) different from the one being created ({name})"
                )));
            }
            elements.push((order, stmt));
        }
        elements.sort_by_key(|(order, _)| *order);
        self.create_schema(txn, &schema_name, false)?;
        let mut cx = self.name_context();
        cx.search_path.insert(0, name);
        let _names = crate::namespace::install(cx);
        for (_, stmt) in &elements {
            self.run(txn, stmt, &[])?;
        }
        Ok(command("CREATE SCHEMA"))
    }

    /// `GRANT privileges ON [TABLE | SEQUENCE] name [, …] TO role [, …]`. There is one role,
    /// which owns every object and so holds every privilege already: a grant to it changes
    /// nothing (as a grant to an owner changes nothing in PostgreSQL); a grant to another role
    /// or to PUBLIC is refused, since no privileges of other roles are kept.
    fn grant(&mut self, txn: &mut Txn, g: &ast::Grant) -> SqlResult<Output> {
        let engine = self.db.engine.clone();
        let names = match &g.objects {
            Some(ast::GrantObjects::Tables(n) | ast::GrantObjects::Sequences(n)) => n,
            _ => return Err(SqlError::FeatureNotSupported(format!("{g}"))),
        };
        for n in names {
            crate::namespace::existing(&engine, txn, n)?;
        }
        for grantee in &g.grantees {
            match (&grantee.grantee_type, &grantee.name) {
                (ast::GranteesType::Public, _) => {
                    return Err(SqlError::FeatureNotSupported(
                        "GRANT to PUBLIC (privileges of other roles are not kept)".into(),
                    ));
                }
                (_, Some(ast::GranteeName::ObjectName(r))) => {
                    let role = object_name(r)?;
                    if role != self.info.user
                        && !matches!(role.as_str(), "current_user" | "session_user")
                    {
                        return Err(SqlError::UndefinedObject(format!(
                            "role \"{role}\" does not exist"
                        )));
                    }
                }
                _ => return Err(SqlError::FeatureNotSupported(format!("{g}"))),
            }
        }
        Ok(command("GRANT"))
    }

    /// The session's temporary schema, `pg_temp_N`.
    fn temp_schema_name(&self) -> String {
        format!(
            "{}{}",
            crate::namespace::TEMP_PREFIX,
            self.info.backend_pid.unsigned_abs()
        )
    }

    /// What this session's statements resolve names with (see [`crate::namespace`]).
    fn name_context(&self) -> crate::namespace::Context {
        crate::namespace::Context {
            search_path: self.with_derived(|d| d.search_path.clone()),
            user: self.info.user.clone(),
            temp_schema: self.with_derived(|d| d.temp_schema.clone()),
            temp_in_use: self.temp_in_use,
        }
    }

    /// The schema and bare name a new relation `name` gets; `temporary` (or a `pg_temp`
    /// qualifier) puts it in the session's temporary schema.
    fn creation_target(
        &mut self,
        txn: &Txn,
        name: &ast::ObjectName,
        temporary: bool,
    ) -> SqlResult<(String, String)> {
        let (schema, rel) = crate::namespace::split_name(name)?;
        let temp = self.temp_schema_name();
        match schema {
            Some(s) if s == temp => {}
            Some(_) if temporary => {
                return Err(SqlError::InvalidTableDefinition(
                    "cannot create temporary relation in non-temporary schema".into(),
                ));
            }
            Some(_) => return crate::namespace::for_create(&self.db.engine, txn, name),
            None if temporary => {}
            None => return crate::namespace::for_create(&self.db.engine, txn, name),
        }
        if !self.temp_in_use {
            self.temp_in_use = true;
            crate::namespace::set_temp_in_use();
        }
        Ok((temp, rel))
    }

    /// After a CREATE TABLE: checks `ON COMMIT` and remembers what it asks of this session's
    /// commits.
    fn after_create(&mut self, def: &TableDef, on_commit: Option<&ast::OnCommit>) -> SqlResult<()> {
        let Some(action) = on_commit else {
            return Ok(());
        };
        if !crate::namespace::is_temp(&def.schema) {
            return Err(SqlError::InvalidTableDefinition(
                "ON COMMIT can only be used on temporary tables".into(),
            ));
        }
        match action {
            ast::OnCommit::PreserveRows => {}
            ast::OnCommit::DeleteRows => self.on_commit.push((def.oid, false)),
            ast::OnCommit::Drop => self.on_commit.push((def.oid, true)),
        }
        Ok(())
    }

    fn plan_insert(
        &self,
        txn: &Txn,
        ins: &ast::Insert,
        params: &mut Vec<Option<DataType>>,
    ) -> SqlResult<InsertPlan> {
        let engine = &self.db.engine;
        let ast::TableObject::TableName(tname) = &ins.table else {
            return Err(SqlError::FeatureNotSupported(
                "INSERT into a table function".into(),
            ));
        };
        let key = crate::namespace::existing(engine, txn, tname)?;
        if let Some(view) = crate::query::lookup_view(engine, txn, &key)? {
            // Through a simple view: the statement rewritten onto its table.
            let given = match ins.source.as_deref() {
                // Only an INSERT without a column list fills the view's first columns.
                Some(_) if !ins.columns.is_empty() => 0,
                None => 0,
                Some(source) => match &*source.body {
                    ast::SetExpr::Values(v) => v.rows.iter().map(|r| r.len()).max().unwrap_or(0),
                    _ => self
                        .planner(engine, txn)
                        .bind_query(source, params)?
                        .columns
                        .len(),
                },
            };
            let rw = crate::updatable::insert(engine, txn, view, ins, given)?;
            let mut plan = self.plan_insert(txn, &rw.statement, params)?;
            plan.view_checks = self.bind_view_checks(txn, &plan.def, &rw, params)?;
            return Ok(plan);
        }
        let def = crate::query::lookup_table(engine, txn, &key)?;
        let alias = ins.table_alias.as_ref().map(|a| ident_name(&a.alias));
        let targets: Vec<usize> = if ins.columns.is_empty() {
            (0..def.columns.len()).collect()
        } else {
            let mut t = Vec::with_capacity(ins.columns.len());
            for c in &ins.columns {
                let cname = object_name(c)?;
                let i = def.column_index(&cname).ok_or_else(|| {
                    SqlError::UndefinedColumn(format!("{cname}\" of relation \"{}", def.name))
                })?;
                if t.contains(&i) {
                    return Err(SqlError::DuplicateColumn(cname));
                }
                t.push(i);
            }
            t
        };
        let rows = match ins.source.as_ref() {
            // `INSERT … DEFAULT VALUES`: every column takes its default.
            None => InsertSource::Values(vec![Vec::new()]),
            Some(source) => match &*source.body {
                ast::SetExpr::Values(values)
                    if source.order_by.is_none() && source.limit_clause.is_none() =>
                {
                    let mut rows = Vec::with_capacity(values.rows.len());
                    let scope = Vec::new();
                    let planner = self.planner(engine, txn);
                    let mut binder = Binder::new(&scope, params);
                    binder.planner = Some(&planner);
                    for r in &values.rows {
                        if r.len() > targets.len() {
                            return Err(SqlError::Syntax(
                                "INSERT has more expressions than target columns".into(),
                            ));
                        }
                        let mut exprs = Vec::with_capacity(r.len());
                        for (k, e) in r.iter().enumerate() {
                            let col = &def.columns[targets[k]];
                            let b = if is_default_keyword(e) {
                                self.bind_default(txn, &def, targets[k])?
                            } else {
                                if col.identity == Identity::Always {
                                    return Err(SqlError::GeneratedAlways(col.name.clone()));
                                }
                                binder.bind(e, &mut AggMode::Forbidden("VALUES"))?
                            };
                            if let Expr::Param(i) = b
                                && binder.params[i].is_none()
                            {
                                binder.params[i] = Some(col.ty);
                            }
                            exprs.push(b);
                        }
                        rows.push(exprs);
                    }
                    InsertSource::Values(rows)
                }
                _ => {
                    let plan = self.planner(engine, txn).bind_query(source, params)?;
                    if plan.columns.len() > targets.len() {
                        return Err(SqlError::Syntax(
                            "INSERT has more expressions than target columns".into(),
                        ));
                    }
                    if let Some(&i) = targets[..plan.columns.len()]
                        .iter()
                        .find(|&&i| def.columns[i].identity == Identity::Always)
                    {
                        return Err(SqlError::GeneratedAlways(def.columns[i].name.clone()));
                    }
                    InsertSource::Query(Box::new(plan))
                }
            },
        };
        // Columns the source gives no value take their defaults, evaluated per row.
        let given = match &rows {
            InsertSource::Values(v) => v.iter().map(Vec::len).max().unwrap_or(0),
            InsertSource::Query(q) => q.columns.len(),
        };
        let mut defaults = Vec::new();
        for i in 0..def.columns.len() {
            let short = targets
                .iter()
                .position(|&t| t == i)
                .is_none_or(|k| k >= given);
            if short && def.columns[i].default.is_some() {
                defaults.push((i, self.bind_default(txn, &def, i)?));
            }
        }
        let returning = match &ins.returning {
            Some(items) => {
                Some(self.bind_returning(txn, &def, items, params, alias.as_deref(), &[])?)
            }
            None => None,
        };
        let on_conflict = match &ins.on {
            None => None,
            Some(ast::OnInsert::OnConflict(oc)) => {
                Some(self.plan_on_conflict(txn, &def, alias.as_deref(), oc, params)?)
            }
            Some(other) => return Err(SqlError::FeatureNotSupported(format!("{other}"))),
        };
        Ok(InsertPlan {
            def,
            targets,
            source: rows,
            defaults,
            returning,
            on_conflict,
            view_checks: Vec::new(),
        })
    }

    /// Binds the CHECK OPTION conditions of a statement rewritten from a view, over the row of
    /// its table (`def`), which the statement calls by the rewrite's alias.
    fn bind_view_checks<S>(
        &self,
        txn: &Txn,
        def: &TableDef,
        rw: &crate::updatable::Rewritten<S>,
        params: &mut Vec<Option<DataType>>,
    ) -> SqlResult<Vec<(String, Expr)>> {
        let scope = table_scope(def, Some(&rw.alias));
        let planner = self.planner(&self.db.engine, txn);
        let mut binder = Binder::new(&scope, params);
        binder.planner = Some(&planner);
        rw.checks
            .iter()
            .map(|(view, e)| {
                Ok((
                    view.clone(),
                    binder.bind(e, &mut AggMode::Forbidden("check options"))?,
                ))
            })
            .collect()
    }

    /// Fails with 44000 if `row` (of the view's table) is not one the view shows: a CHECK
    /// OPTION condition that is false or NULL, as PostgreSQL's `ExecWithCheckOptions`.
    fn check_view_row(
        &self,
        txn: &Txn,
        checks: &[(String, Expr)],
        params: &[Value],
        row: &[Value],
    ) -> SqlResult<()> {
        if checks.is_empty() {
            return Ok(());
        }
        let exec = self.executor(txn, params);
        let cx = exec.cx(row, None);
        for (view, e) in checks {
            if e.eval(&cx)? != Value::Bool(true) {
                return Err(SqlError::WithCheckOptionViolation {
                    message: format!("new row violates check option for view \"{view}\""),
                    detail: failing_row(row),
                });
            }
        }
        Ok(())
    }

    /// Binds `ON CONFLICT [target] DO NOTHING | DO UPDATE SET … [WHERE …]`: infers the arbiters
    /// (the primary key or unique indexes over exactly the named columns, or the named
    /// constraint) and binds the update over the existing row followed by `excluded`.
    fn plan_on_conflict(
        &self,
        txn: &Txn,
        def: &TableDef,
        alias: Option<&str>,
        oc: &ast::OnConflict,
        params: &mut Vec<Option<DataType>>,
    ) -> SqlResult<OnConflictPlan> {
        let arbiters = match &oc.conflict_target {
            None => None,
            Some(ast::ConflictTarget::Columns(cols)) => {
                let mut wanted: Vec<usize> = Vec::with_capacity(cols.len());
                for c in cols {
                    let name = ident_name(c);
                    let i = def
                        .column_index(&name)
                        .ok_or_else(|| SqlError::UndefinedColumn(name.clone()))?;
                    wanted.push(i);
                }
                wanted.sort_unstable();
                wanted.dedup();
                let same = |cols: &[usize]| {
                    let mut c = cols.to_vec();
                    c.sort_unstable();
                    c == wanted
                };
                let mut found = Vec::new();
                if !def.pk.is_empty() && same(&def.pk) {
                    found.push(Arbiter::PrimaryKey);
                }
                for (i, ix) in def.indexes.iter().enumerate() {
                    if ix.unique && same(&ix.columns) {
                        found.push(Arbiter::Index(i));
                    }
                }
                if found.is_empty() {
                    return Err(SqlError::InvalidColumnReference(
                        "there is no unique or exclusion constraint matching the ON CONFLICT specification"
                            .into(),
                    ));
                }
                Some(found)
            }
            Some(ast::ConflictTarget::OnConstraint(n)) => {
                let name = object_name(n)?;
                if !def.pk.is_empty() && def.pk_name() == name {
                    Some(vec![Arbiter::PrimaryKey])
                } else if let Some(i) = def
                    .indexes
                    .iter()
                    .position(|ix| ix.constraint && ix.name == name)
                {
                    Some(vec![Arbiter::Index(i)])
                } else {
                    return Err(SqlError::UndefinedObject(format!(
                        "constraint \"{name}\" for table \"{}\" does not exist",
                        def.name
                    )));
                }
            }
        };
        let update = match &oc.action {
            ast::OnConflictAction::DoNothing => None,
            ast::OnConflictAction::DoUpdate(du) => {
                if arbiters.is_none() {
                    return Err(SqlError::Syntax(
                        "ON CONFLICT DO UPDATE requires inference specification or constraint name"
                            .into(),
                    ));
                }
                let engine = &self.db.engine;
                let mut scope = table_scope(def, alias);
                scope.extend(table_scope(def, Some("excluded")));
                let planner = self.planner(engine, txn);
                let mut binder = Binder::new(&scope, params);
                binder.planner = Some(&planner);
                let mut sets = Vec::with_capacity(du.assignments.len());
                for a in &du.assignments {
                    let ast::AssignmentTarget::ColumnName(cn) = &a.target else {
                        return Err(SqlError::FeatureNotSupported("tuple assignment".into()));
                    };
                    let cname = object_name(cn)?;
                    let i = def.column_index(&cname).ok_or_else(|| {
                        SqlError::UndefinedColumn(format!("{cname}\" of relation \"{}", def.name))
                    })?;
                    let b = if is_default_keyword(&a.value) {
                        self.bind_default(txn, def, i)?
                    } else {
                        if def.columns[i].identity == Identity::Always {
                            return Err(SqlError::GeneratedAlwaysUpdate(cname));
                        }
                        binder.bind(&a.value, &mut AggMode::Forbidden("UPDATE"))?
                    };
                    if let Expr::Param(p) = b
                        && binder.params[p].is_none()
                    {
                        binder.params[p] = Some(def.columns[i].ty);
                    }
                    sets.push((i, b));
                }
                let filter = match &du.selection {
                    Some(w) => Some(binder.bind(w, &mut AggMode::Forbidden("WHERE"))?),
                    None => None,
                };
                Some((sets, filter))
            }
        };
        Ok(OnConflictPlan { arbiters, update })
    }

    /// Inserts one row under `ON CONFLICT`: the row goes in unless an arbiter finds a conflicting
    /// row, committed or being inserted concurrently (the engine's insert waits for the other
    /// inserter, as PostgreSQL's speculative insertion does). Then DO NOTHING leaves it, and DO
    /// UPDATE locks the conflicting row and updates its newest version. Returns the row written,
    /// if any. `touched` holds the keys of rows this command wrote: meeting one again is 21000.
    #[allow(clippy::too_many_arguments)]
    fn insert_on_conflict(
        &self,
        txn: &mut Txn,
        def: &TableDef,
        oc: &OnConflictPlan,
        row: &[Value],
        key: &[u8],
        touched: &mut std::collections::HashSet<Vec<u8>>,
        params: &[Value],
    ) -> SqlResult<Option<Vec<Value>>> {
        let engine = &self.db.engine;
        let (proposed, inserted) = self.explain_conflicts.get();
        self.explain_conflicts
            .set((proposed.saturating_add(1), inserted));
        for _ in 0..ON_CONFLICT_RETRIES_MAX {
            // The arbiters are checked first, as PostgreSQL does, so a conflict they settle is
            // not reported by another unique constraint of the same row.
            let conflict =
                match self.arbiter_conflict(txn, def, row, key, oc.arbiters.as_deref())? {
                    Some(a) => a,
                    None => {
                        let sp = engine.savepoint(txn);
                        match self.try_insert(txn, def, row, key, oc.arbiters.as_deref())? {
                            None => {
                                engine.release_savepoint(txn, sp)?;
                                touched.insert(key.to_vec());
                                let (proposed, inserted) = self.explain_conflicts.get();
                                self.explain_conflicts
                                    .set((proposed, inserted.saturating_add(1)));
                                return Ok(Some(row.to_vec()));
                            }
                            Some(a) => {
                                engine.rollback_to(txn, sp)?;
                                engine.release_savepoint(txn, sp)?;
                                a
                            }
                        }
                    }
                };
            let Some((sets, filter)) = &oc.update else {
                return Ok(None);
            };
            // The conflicting row, by its table key.
            let (existing_key, entry) = match conflict {
                Arbiter::PrimaryKey => (key.to_vec(), None),
                Arbiter::Index(i) => {
                    let ix = &def.indexes[i];
                    let (entry, _) = crate::catalog::index_entry(ix, row, key);
                    match engine.newest_version(txn, ix.tree, &entry)?.value {
                        Some(k) => (k, Some((i, entry))),
                        // Gone again (its inserter rolled back, or it was deleted): retry.
                        None => continue,
                    }
                }
            };
            if touched.contains(&existing_key) {
                return Err(SqlError::CardinalityViolationWithHint {
                    message: "ON CONFLICT DO UPDATE command cannot affect row a second time"
                        .into(),
                    hint: "Ensure that no rows proposed for insertion within the same command have duplicate constrained values.".into(),
                });
            }
            let Some(version) = engine.lock_row(
                txn,
                def.tree,
                &existing_key,
                LockMode::Update,
                LockWait::Block,
                self.lock_timeout(),
            )?
            else {
                continue;
            };
            let Some(bytes) = version.value else {
                continue;
            };
            let existing = decode_row(&bytes, def.columns.len())?;
            if let Some((i, entry)) = &entry
                && crate::catalog::index_entry(&def.indexes[*i], &existing, &existing_key).0
                    != *entry
            {
                // Changed its key while we waited: the insert may go through now.
                continue;
            }
            let mut combined = existing.clone();
            combined.extend_from_slice(row);
            let new = {
                let exec = self.executor(txn, params);
                let cx = exec.cx(&combined, None);
                if let Some(f) = filter
                    && f.eval(&cx)? != Value::Bool(true)
                {
                    return Ok(None);
                }
                let mut new = existing.clone();
                for (i, e) in sets {
                    let col = &def.columns[*i];
                    new[*i] = col.assign(e.eval(&cx)?)?;
                }
                new
            };
            check_not_null(def, &new)?;
            self.check_row(txn, def, &self.bind_checks(txn, def)?, &new)?;
            check_foreign_keys(engine, txn, self.lock_timeout(), def, &new, Some(&existing))?;
            let new_key = if def.pk.is_empty() {
                existing_key.clone()
            } else {
                pk_key(def, &new)
            };
            self.rewrite_row(txn, def, &existing_key, &existing, &new)?;
            if self.is_referenced(txn, def)? {
                self.referencing_actions(txn, def, &existing, Some(&new), 0)?;
            }
            touched.insert(new_key);
            return Ok(Some(new));
        }
        Err(SqlError::SerializationFailure(
            "could not serialize access: the conflicting row kept changing".into(),
        ))
    }

    /// The arbiter a committed (or this transaction's) row already conflicts with, if any.
    fn arbiter_conflict(
        &self,
        txn: &Txn,
        def: &TableDef,
        row: &[Value],
        key: &[u8],
        arbiters: Option<&[Arbiter]>,
    ) -> SqlResult<Option<Arbiter>> {
        let engine = &self.db.engine;
        let is_arbiter = |a: Arbiter| arbiters.is_none_or(|v| v.contains(&a));
        if !def.pk.is_empty()
            && is_arbiter(Arbiter::PrimaryKey)
            && engine.newest_version(txn, def.tree, key)?.value.is_some()
        {
            return Ok(Some(Arbiter::PrimaryKey));
        }
        for (i, ix) in def.indexes.iter().enumerate() {
            if !ix.unique
                || !is_arbiter(Arbiter::Index(i))
                || ix.columns.iter().any(|&c| row[c].is_null())
            {
                continue;
            }
            let (k, _) = crate::catalog::index_entry(ix, row, key);
            if engine.newest_version(txn, ix.tree, &k)?.value.is_some() {
                return Ok(Some(Arbiter::Index(i)));
            }
        }
        Ok(None)
    }

    /// Inserts a row and its index entries; a duplicate key on an arbiter (every unique
    /// constraint when `arbiters` is `None`) is returned as the conflict, on any other unique
    /// index it is a unique violation. The caller undoes a partial insert.
    fn try_insert(
        &self,
        txn: &mut Txn,
        def: &TableDef,
        row: &[Value],
        key: &[u8],
        arbiters: Option<&[Arbiter]>,
    ) -> SqlResult<Option<Arbiter>> {
        let engine = &self.db.engine;
        let is_arbiter = |a: Arbiter| arbiters.is_none_or(|v| v.contains(&a));
        let mut buf = Vec::new();
        encode_row(row, &mut buf);
        match engine.insert(txn, def.tree, key, &buf) {
            Ok(()) => {}
            Err(EngineError::DuplicateKey)
                if !def.pk.is_empty() && is_arbiter(Arbiter::PrimaryKey) =>
            {
                return Ok(Some(Arbiter::PrimaryKey));
            }
            Err(EngineError::DuplicateKey) => return Err(unique_violation(def, row)),
            Err(e) => return Err(e.into()),
        }
        for (i, ix) in def.indexes.iter().enumerate() {
            let (k, v) = crate::catalog::index_entry(ix, row, key);
            match engine.insert(txn, ix.tree, &k, &v) {
                Ok(()) => {}
                Err(EngineError::DuplicateKey) if ix.unique && is_arbiter(Arbiter::Index(i)) => {
                    return Ok(Some(Arbiter::Index(i)));
                }
                Err(EngineError::DuplicateKey) => {
                    return Err(index::unique_violation(def, ix, row));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    /// Binds a RETURNING list over the rows of `def`.
    /// `extra`: the columns of `UPDATE … FROM` / `DELETE … USING`'s other relations, which
    /// follow the table's columns in the rows RETURNING sees.
    fn bind_returning(
        &self,
        txn: &Txn,
        def: &TableDef,
        items: &[ast::SelectItem],
        params: &mut Vec<Option<DataType>>,
        alias: Option<&str>,
        extra: &[ScopeColumn],
    ) -> SqlResult<Returning> {
        let engine = &self.db.engine;
        let mut scope = table_scope(def, alias);
        scope.extend(extra.iter().cloned());
        let planner = self.planner(engine, txn);
        let mut binder = Binder::new(&scope, params);
        binder.planner = Some(&planner);
        let mut exprs = Vec::new();
        let mut columns = Vec::new();
        for item in items {
            let (e, name) = match item {
                ast::SelectItem::UnnamedExpr(e) => (e, crate::query::output_name(e)),
                ast::SelectItem::ExprWithAlias { expr, alias } => (expr, ident_name(alias)),
                ast::SelectItem::ExprWithAliases { .. } => {
                    return Err(SqlError::FeatureNotSupported(format!("{item}")));
                }
                ast::SelectItem::Wildcard(_) | ast::SelectItem::QualifiedWildcard(..) => {
                    let qualifier = match item {
                        ast::SelectItem::QualifiedWildcard(
                            ast::SelectItemQualifiedWildcardKind::ObjectName(n),
                            _,
                        ) => Some(object_name(n)?),
                        _ => None,
                    };
                    let before = exprs.len();
                    if qualifier
                        .as_deref()
                        .is_none_or(|q| q == alias.unwrap_or(&def.name))
                    {
                        for (i, c) in def.columns.iter().enumerate() {
                            exprs.push(Expr::Column(i));
                            columns.push(ColumnInfo {
                                name: c.name.clone(),
                                ty: c.ty,
                                bpchar: c.bpchar_typmod(),
                                kind: c.text_kind,
                                source: Some((def.oid, i16::try_from(i + 1).unwrap_or(i16::MAX))),
                            });
                        }
                    }
                    for (i, c) in extra.iter().enumerate() {
                        if qualifier.is_none() || qualifier == c.table {
                            exprs.push(Expr::Column(def.columns.len() + i));
                            columns.push(ColumnInfo {
                                name: c.name.clone(),
                                ty: c.ty,
                                bpchar: c.bpchar,
                                kind: c.kind,
                                source: c.source,
                            });
                        }
                    }
                    if let Some(q) = qualifier
                        && exprs.len() == before
                    {
                        return Err(SqlError::MissingFromEntry(q));
                    }
                    continue;
                }
            };
            let b = binder.bind(e, &mut AggMode::Forbidden("RETURNING"))?;
            columns.push(ColumnInfo {
                name,
                ty: binder.type_of(&b).unwrap_or(DataType::Text),
                bpchar: binder.bpchar_typmod(&b),
                kind: binder.declared_kind(&b),
                source: binder.column_source(&b),
            });
            exprs.push(b);
        }
        Ok(Returning { exprs, columns })
    }

    /// The output of a DML statement: its tag, or the RETURNING rows computed over `rows`.
    fn dml_output(
        &self,
        txn: &Txn,
        params: &[Value],
        returning: Option<&Returning>,
        tag: &str,
        rows: &[Vec<Value>],
    ) -> SqlResult<Output> {
        let Some(r) = returning else {
            return Ok(command(format!("{tag} {}", rows.len())));
        };
        let exec = self.executor(txn, params);
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let cx = exec.cx(row, None);
            out.push(
                r.exprs
                    .iter()
                    .map(|e| e.eval(&cx))
                    .collect::<SqlResult<Vec<_>>>()?,
            );
        }
        Ok(Output::Returning {
            tag: tag.to_string(),
            columns: r.columns.clone(),
            rows: out,
        })
    }

    fn insert(&mut self, txn: &mut Txn, ins: &ast::Insert, params: &[Value]) -> SqlResult<Output> {
        let mut types = vec![None; params.len()];
        let plan = self.plan_insert(txn, ins, &mut types)?;
        self.insert_planned(txn, &plan, params)
    }

    fn insert_planned(
        &mut self,
        txn: &mut Txn,
        plan: &InsertPlan,
        params: &[Value],
    ) -> SqlResult<Output> {
        let engine = &self.db.engine;
        let def = &plan.def;
        // Every new row is computed (defaults included) before the first write.
        let mut rows: Vec<Vec<Value>> = Vec::new();
        {
            let mut exec = self
                .executor(txn, params)
                .lend_instrument(self.explain_instrument.take());
            let started = exec.node_start();
            let sourced: Vec<Vec<Value>> = match &plan.source {
                InsertSource::Values(rows) => {
                    let mut out = Vec::with_capacity(rows.len());
                    for r in rows {
                        let cx = exec.cx(&[], None);
                        out.push(
                            r.iter()
                                .map(|e| e.eval(&cx))
                                .collect::<SqlResult<Vec<_>>>()?,
                        );
                    }
                    if let Some(i) = exec.instrument() {
                        i.record(rows, Part::Body, started, out.len());
                    }
                    out
                }
                InsertSource::Query(q) => exec.run(q, None)?,
            };
            self.explain_instrument.set(exec.take_instrument());
            for values in sourced {
                let mut row = vec![Value::Null; def.columns.len()];
                for (k, v) in values.into_iter().enumerate() {
                    let col = &def.columns[plan.targets[k]];
                    row[plan.targets[k]] = col.assign(v)?;
                }
                let cx = exec.cx(&[], None);
                for (i, e) in &plan.defaults {
                    let col = &def.columns[*i];
                    row[*i] = col.assign(e.eval(&cx)?)?;
                }
                rows.push(row);
            }
        }
        let checks = self.bind_checks(txn, def)?;
        if let Some(oc) = &plan.on_conflict {
            let mut touched = std::collections::HashSet::new();
            let mut written = Vec::with_capacity(rows.len());
            for row in &rows {
                check_not_null(def, row)?;
                self.check_row(txn, def, &checks, row)?;
                check_foreign_keys(engine, txn, self.lock_timeout(), def, row, None)?;
                let key = if def.pk.is_empty() {
                    rowid_key(self.db.next_rowid(txn, def.tree)?)
                } else {
                    pk_key(def, row)
                };
                if let Some(r) =
                    self.insert_on_conflict(txn, def, oc, row, &key, &mut touched, params)?
                {
                    self.check_view_row(txn, &plan.view_checks, params, &r)?;
                    written.push(r);
                }
            }
            return self.dml_output(txn, params, plan.returning.as_ref(), "INSERT 0", &written);
        }
        let mut buf = Vec::new();
        for row in &rows {
            check_not_null(def, row)?;
            self.check_row(txn, def, &checks, row)?;
            check_foreign_keys(engine, txn, self.lock_timeout(), def, row, None)?;
            let key = if def.pk.is_empty() {
                rowid_key(self.db.next_rowid(txn, def.tree)?)
            } else {
                pk_key(def, row)
            };
            buf.clear();
            encode_row(row, &mut buf);
            match engine.insert(txn, def.tree, &key, &buf) {
                Ok(()) => {}
                Err(EngineError::DuplicateKey) => return Err(unique_violation(def, row)),
                Err(e) => return Err(e.into()),
            }
            index::insert_entries(engine, txn, def, row, &key)?;
            self.check_view_row(txn, &plan.view_checks, params, row)?;
        }
        self.dml_output(txn, params, plan.returning.as_ref(), "INSERT 0", &rows)
    }

    fn plan_update(
        &self,
        txn: &Txn,
        u: &ast::Update,
        params: &mut Vec<Option<DataType>>,
    ) -> SqlResult<UpdatePlan> {
        if u.limit.is_some() || !u.order_by.is_empty() {
            return Err(SqlError::FeatureNotSupported(
                "UPDATE with ORDER BY or LIMIT".into(),
            ));
        }
        let from = match &u.from {
            None => None,
            Some(ast::UpdateTableFromKind::AfterSet(f)) => Some(f),
            Some(ast::UpdateTableFromKind::BeforeSet(_)) => {
                return Err(SqlError::Syntax("FROM before SET".into()));
            }
        };
        let (name, alias) = single_table(std::slice::from_ref(&u.table))?
            .ok_or_else(|| SqlError::Syntax("UPDATE needs a table".into()))?;
        let engine = &self.db.engine;
        let key = crate::namespace::existing(engine, txn, &name)?;
        if let Some(view) = crate::query::lookup_view(engine, txn, &key)? {
            let alias = alias.unwrap_or_else(|| view.name.clone());
            let rw = crate::updatable::update(engine, txn, view, alias, u)?;
            let mut plan = self.plan_update(txn, &rw.statement, params)?;
            plan.view_checks = self.bind_view_checks(txn, &plan.def, &rw, params)?;
            return Ok(plan);
        }
        let def = crate::query::lookup_table(engine, txn, &key)?;
        let mut scope = table_scope(&def, alias.as_deref());
        let planner = self.planner(engine, txn);
        let join = match from {
            Some(f) => Some(planner.bind_dml_join(f, u.selection.as_ref(), &scope, params)?),
            None => None,
        };
        let extra: Vec<ScopeColumn> = join.as_ref().map_or_else(Vec::new, |j| j.scope.clone());
        scope.extend(extra.iter().cloned());
        let mut binder = Binder::new(&scope, params);
        binder.planner = Some(&planner);
        let mut sets = Vec::with_capacity(u.assignments.len());
        for a in &u.assignments {
            let ast::AssignmentTarget::ColumnName(cn) = &a.target else {
                return Err(SqlError::FeatureNotSupported("tuple assignment".into()));
            };
            let cname = object_name(cn)?;
            let i = def.column_index(&cname).ok_or_else(|| {
                SqlError::UndefinedColumn(format!("{cname}\" of relation \"{}", def.name))
            })?;
            let b = if is_default_keyword(&a.value) {
                self.bind_default(txn, &def, i)?
            } else {
                if def.columns[i].identity == Identity::Always {
                    return Err(SqlError::GeneratedAlwaysUpdate(cname));
                }
                binder.bind(&a.value, &mut AggMode::Forbidden("UPDATE"))?
            };
            if let Expr::Param(p) = b
                && binder.params[p].is_none()
            {
                binder.params[p] = Some(def.columns[i].ty);
            }
            sets.push((i, b));
        }
        let filter = match (&join, &u.selection) {
            (Some(j), _) => j.target_filter.clone(),
            (None, Some(w)) => Some(binder.bind(w, &mut AggMode::Forbidden("WHERE"))?),
            (None, None) => None,
        };
        let access = crate::cost::planned_access(&self.db.engine, txn, &def, filter.as_ref())?;
        let returning = match &u.returning {
            Some(items) => {
                Some(self.bind_returning(txn, &def, items, params, alias.as_deref(), &extra)?)
            }
            None => None,
        };
        Ok(UpdatePlan {
            def,
            sets,
            filter,
            access,
            returning,
            join,
            view_checks: Vec::new(),
        })
    }

    fn update(&mut self, txn: &mut Txn, u: &ast::Update, params: &[Value]) -> SqlResult<Output> {
        let mut types = vec![None; params.len()];
        let plan = self.plan_update(txn, u, &mut types)?;
        self.update_planned(txn, &plan, params)
    }

    fn update_planned(
        &mut self,
        txn: &mut Txn,
        plan: &UpdatePlan,
        params: &[Value],
    ) -> SqlResult<Output> {
        let engine = &self.db.engine;
        let def = &plan.def;
        // Every new row is computed before the first write: the statement sees the table as it
        // was when it started.
        let found = self.dml_targets(txn, plan, params)?;
        // Lock every matching row, then compute its new version from the newest committed one
        // (PostgreSQL's READ COMMITTED: a row changed since the snapshot is re-checked against
        // the WHERE clause and updated from its newest version, so no update is lost).
        let mut locked = Vec::with_capacity(found.len());
        for (key, old, partner) in found {
            let before = old.clone();
            if let Some(row) =
                self.lock_for_write(txn, def, plan.filter.as_ref(), params, &key, old)?
            {
                let partner = if row == before {
                    Some(partner)
                } else {
                    self.dml_partner(txn, plan, params, &row)?
                };
                if let Some(p) = partner {
                    locked.push((key, row, p));
                }
            }
        }
        let mut targets = Vec::with_capacity(locked.len());
        let mut partners = Vec::with_capacity(locked.len());
        {
            let exec = self.executor(txn, params);
            for (key, old, partner) in locked {
                let mut joined = old.clone();
                joined.extend(partner.iter().cloned());
                let cx = exec.cx(&joined, None);
                let mut row = old.clone();
                for (i, e) in &plan.sets {
                    let col = &def.columns[*i];
                    row[*i] = col.assign(e.eval(&cx)?)?;
                }
                targets.push((key, old, row));
                partners.push(partner);
            }
        }
        let checks = self.bind_checks(txn, def)?;
        let referenced = self.is_referenced(txn, def)?;
        for (key, old, row) in &targets {
            check_not_null(def, row)?;
            self.check_row(txn, def, &checks, row)?;
            check_foreign_keys(engine, txn, self.lock_timeout(), def, row, Some(old))?;
            self.rewrite_row(txn, def, key, old, row)?;
            self.check_view_row(txn, &plan.view_checks, params, row)?;
            if referenced {
                self.referencing_actions(txn, def, old, Some(row), 0)?;
            }
        }
        let rows: Vec<Vec<Value>> = targets
            .into_iter()
            .zip(partners)
            .map(|((_, _, mut row), partner)| {
                row.extend(partner);
                row
            })
            .collect();
        self.dml_output(txn, params, plan.returning.as_ref(), "UPDATE", &rows)
    }

    /// `SELECT … FOR UPDATE/SHARE [NOWAIT | SKIP LOCKED]` over one table, as PostgreSQL's
    /// `LockRows` does it: the candidates (rows the snapshot sees that pass WHERE, in ORDER BY
    /// order) are locked one by one until OFFSET + LIMIT rows are locked. A row locked by another
    /// transaction is waited for (bounded by `lock_timeout`, deadlock detection and cancels), fails
    /// the statement (NOWAIT) or is left out (SKIP LOCKED). Under READ COMMITTED a row that
    /// changed while we waited is re-checked against WHERE and returned as its newest version (or
    /// left out if deleted or no longer matching); under REPEATABLE READ and SERIALIZABLE the
    /// engine fails such a lock with a serialization failure.
    fn select_locking(
        &mut self,
        txn: &mut Txn,
        q: &ast::Query,
        params: &[Value],
    ) -> SqlResult<Output> {
        let mut types = vec![None; params.len()];
        let engine = &self.db.engine;
        let lq = self.planner(engine, txn).bind_locking(q, &mut types)?;
        let (candidates, (limit, offset)) = {
            let exec = self.executor(txn, params);
            (exec.locking_candidates(&lq)?, exec.limit_offset(&lq.plan)?)
        };
        let wanted = limit.map_or(usize::MAX, |l| l.saturating_add(offset));
        let timeout = self.lock_timeout();
        let mut rows = Vec::new();
        let mut locked = 0usize;
        for c in candidates {
            if locked >= wanted {
                break;
            }
            self.info.cancel.check()?;
            let Some(v) = engine.lock_row(txn, lq.def.tree, &c.key, lq.mode, lq.wait, timeout)?
            else {
                continue;
            };
            let output = if v.changed {
                let Some(bytes) = v.value else { continue };
                let newest = decode_row(&bytes, lq.def.columns.len())?;
                let exec = self.executor(txn, params);
                if !exec.locking_passes(&lq, &newest)? {
                    continue;
                }
                exec.locking_output(&lq, &newest)?
            } else {
                c.output
            };
            locked += 1;
            if locked > offset {
                rows.push(output);
            }
        }
        Ok(Output::Rows {
            columns: lq.plan.columns,
            rows,
        })
    }

    /// Locks a row that `UPDATE`/`DELETE` found at the statement's snapshot. Returns the row to
    /// act on: the version found, or — when it changed while we waited (READ COMMITTED) — its
    /// newest committed version if that still passes `filter`, as PostgreSQL re-checks; `None`
    /// when the row is gone or no longer matches.
    fn lock_for_write(
        &self,
        txn: &mut Txn,
        def: &TableDef,
        filter: Option<&Expr>,
        params: &[Value],
        key: &[u8],
        found: Vec<Value>,
    ) -> SqlResult<Option<Vec<Value>>> {
        let engine = &self.db.engine;
        let timeout = self.lock_timeout();
        let version = match engine.lock_row(
            txn,
            def.tree,
            key,
            LockMode::Update,
            LockWait::Block,
            timeout,
        )? {
            None => return Ok(None),
            Some(v) => v,
        };
        if !version.changed {
            return Ok(Some(found));
        }
        let Some(bytes) = version.value else {
            return Ok(None);
        };
        let newest = decode_row(&bytes, def.columns.len())?;
        if let Some(f) = filter {
            let exec = self.executor(txn, params);
            if f.eval(&exec.cx(&newest, None))? != Value::Bool(true) {
                return Ok(None);
            }
        }
        Ok(Some(newest))
    }

    /// The rows an UPDATE or DELETE acts on, as the statement's snapshot sees them: (key, row,
    /// partner row of `UPDATE … FROM` / `DELETE … USING`, empty without one). A row without a
    /// partner is left alone.
    #[allow(clippy::type_complexity)]
    fn dml_targets(
        &self,
        txn: &Txn,
        plan: &UpdatePlan,
        params: &[Value],
    ) -> SqlResult<Vec<(Vec<u8>, Vec<Value>, Vec<Value>)>> {
        let mut exec = self
            .executor(txn, params)
            .lend_instrument(self.explain_instrument.take());
        let started = exec.node_start();
        let mut found = Vec::new();
        matching_rows(
            &exec,
            &plan.def,
            plan.filter.as_ref(),
            &plan.access,
            None,
            None,
            |k, row| {
                found.push((k, row));
                Ok(())
            },
        )?;
        let mut out = Vec::with_capacity(found.len());
        let found_rows = found.len();
        for (k, row) in found {
            let partner = match &plan.join {
                None => Vec::new(),
                Some(j) => {
                    self.info.cancel.check()?;
                    match exec
                        .subquery_rows(&j.sources, &exec.cx(&row, None), Some(1))?
                        .first()?
                    {
                        Some(p) => p,
                        None => continue,
                    }
                }
            };
            out.push((k, row, partner));
        }
        if let Some(i) = exec.instrument() {
            i.record(&plan.access, Part::Scan, started, found_rows);
            if plan.join.is_some() {
                i.record(&plan.access, Part::Join, started, out.len());
            }
        }
        self.explain_instrument.set(exec.take_instrument());
        Ok(out)
    }

    /// The partner of a row that changed while the statement waited for its lock (READ
    /// COMMITTED re-checks the join against the newest version, as PostgreSQL does).
    fn dml_partner(
        &self,
        txn: &Txn,
        plan: &UpdatePlan,
        params: &[Value],
        row: &[Value],
    ) -> SqlResult<Option<Vec<Value>>> {
        let Some(j) = &plan.join else {
            return Ok(Some(Vec::new()));
        };
        let exec = self.executor(txn, params);
        exec.subquery_rows(&j.sources, &exec.cx(row, None), Some(1))?
            .first()
    }

    fn plan_delete(
        &self,
        txn: &Txn,
        d: &ast::Delete,
        params: &mut Vec<Option<DataType>>,
    ) -> SqlResult<UpdatePlan> {
        if d.limit.is_some() || !d.order_by.is_empty() || !d.tables.is_empty() {
            return Err(SqlError::FeatureNotSupported(
                "DELETE with ORDER BY or LIMIT".into(),
            ));
        }
        let from = match &d.from {
            ast::FromTable::WithFromKeyword(f) | ast::FromTable::WithoutKeyword(f) => f,
        };
        let (name, alias) =
            single_table(from)?.ok_or_else(|| SqlError::Syntax("DELETE needs a table".into()))?;
        let engine = &self.db.engine;
        let key = crate::namespace::existing(engine, txn, &name)?;
        if let Some(view) = crate::query::lookup_view(engine, txn, &key)? {
            let alias = alias.unwrap_or_else(|| view.name.clone());
            let rw = crate::updatable::delete(engine, txn, view, alias, d)?;
            return self.plan_delete(txn, &rw.statement, params);
        }
        let def = crate::query::lookup_table(engine, txn, &key)?;
        let scope = table_scope(&def, alias.as_deref());
        let planner = self.planner(engine, txn);
        let join = match &d.using {
            Some(using) => {
                Some(planner.bind_dml_join(using, d.selection.as_ref(), &scope, params)?)
            }
            None => None,
        };
        let filter = match (&join, &d.selection) {
            (Some(j), _) => j.target_filter.clone(),
            (None, Some(w)) => {
                let mut binder = Binder::new(&scope, params);
                binder.planner = Some(&planner);
                Some(binder.bind(w, &mut AggMode::Forbidden("WHERE"))?)
            }
            (None, None) => None,
        };
        let access = crate::cost::planned_access(&self.db.engine, txn, &def, filter.as_ref())?;
        let extra: Vec<ScopeColumn> = join.as_ref().map_or_else(Vec::new, |j| j.scope.clone());
        let returning = match &d.returning {
            Some(items) => {
                Some(self.bind_returning(txn, &def, items, params, alias.as_deref(), &extra)?)
            }
            None => None,
        };
        Ok(UpdatePlan {
            def,
            sets: Vec::new(),
            filter,
            access,
            returning,
            join,
            view_checks: Vec::new(),
        })
    }

    fn delete(&mut self, txn: &mut Txn, d: &ast::Delete, params: &[Value]) -> SqlResult<Output> {
        let mut types = vec![None; params.len()];
        let plan = self.plan_delete(txn, d, &mut types)?;
        self.delete_planned(txn, &plan, params)
    }

    fn delete_planned(
        &mut self,
        txn: &mut Txn,
        plan: &UpdatePlan,
        params: &[Value],
    ) -> SqlResult<Output> {
        let engine = &self.db.engine;
        let found = self.dml_targets(txn, plan, params)?;
        let referenced = self.is_referenced(txn, &plan.def)?;
        let mut deleted = Vec::new();
        for (k, old, partner) in found {
            let before = old.clone();
            let Some(row) =
                self.lock_for_write(txn, &plan.def, plan.filter.as_ref(), params, &k, old)?
            else {
                continue;
            };
            let partner = if row == before {
                partner
            } else {
                match self.dml_partner(txn, plan, params, &row)? {
                    Some(p) => p,
                    None => continue,
                }
            };
            if engine.delete(txn, plan.def.tree, &k)? {
                index::delete_entries(engine, txn, &plan.def, &row, &k)?;
                if referenced {
                    self.referencing_actions(txn, &plan.def, &row, None, 0)?;
                }
                let mut out = row;
                out.extend(partner);
                deleted.push(out);
            }
        }
        self.dml_output(txn, params, plan.returning.as_ref(), "DELETE", &deleted)
    }
}

/// Most levels of ON DELETE/UPDATE CASCADE, SET NULL and SET DEFAULT followed from one row
/// (a chain of tables referencing each other; a cycle of rows would otherwise not end).
const FK_CASCADE_DEPTH_MAX: usize = 64;

/// The rows of `child` that reference `old` through `fk`, as the newest committed versions show
/// them: a referencing row whose inserter committed after the statement's snapshot (it held the
/// parent row in share mode until then, which is what this transaction waited for) must be seen
/// even before it is durable, as PostgreSQL's referential checks use a fresh snapshot (at every
/// isolation level: a REPEATABLE READ transaction's DELETE of the parent fails with 23503 too;
/// acting on such a row, a CASCADE, fails as any write of a row changed since the snapshot does).
fn referencing_rows(
    engine: &Engine,
    txn: &Txn,
    child: &TableDef,
    fk: &crate::catalog::ForeignKeyDef,
    old: &[Value],
) -> SqlResult<Vec<(Vec<u8>, Vec<Value>)>> {
    let ncols = child.columns.len();
    let mut out = Vec::new();
    let mut from: Option<Vec<u8>> = None;
    loop {
        let lower = from
            .as_deref()
            .map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        let batch = engine.scan_latest(
            txn,
            child.tree,
            lower,
            std::ops::Bound::Unbounded,
            crate::query::SCAN_BATCH_ROWS,
        )?;
        let full = batch.len() == crate::query::SCAN_BATCH_ROWS;
        for (k, v) in &batch {
            let row = decode_row(v, ncols)?;
            if same_key(&row, &fk.columns, old, &fk.ref_columns) {
                out.push((k.clone(), row));
            }
        }
        if !full {
            return Ok(out);
        }
        from = batch.last().map(|(k, _)| k.clone());
    }
}

/// The error of a referencing row whose key is not in the referenced table.
fn fk_missing(def: &TableDef, fk: &ForeignKeyDef, row: &[Value]) -> SqlError {
    SqlError::ForeignKeyViolation {
        message: format!(
            "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
            def.name, fk.name
        ),
        detail: format!(
            "Key {} is not present in table \"{}\".",
            index::key_text(def, &fk.columns, row),
            crate::namespace::split_key(&fk.ref_table).1
        ),
    }
}

/// Whether two rows hold equal values in the given columns (as keys compare them).
fn same_key(a: &[Value], a_cols: &[usize], b: &[Value], b_cols: &[usize]) -> bool {
    a_cols.iter().zip(b_cols).all(|(&i, &j)| {
        let (mut x, mut y) = (Vec::new(), Vec::new());
        crate::catalog::encode_key_value(&a[i], &mut x);
        crate::catalog::encode_key_value(&b[j], &mut y);
        x == y
    })
}

/// Finds the row of `parent` whose `ref_columns` hold `values` (in `ref_columns` order),
/// through its primary key or a unique index, and locks it in share mode: a concurrent DELETE
/// or key UPDATE of it waits for this transaction, as PostgreSQL's `FOR KEY SHARE` makes it.
fn lock_referenced(
    engine: &Engine,
    txn: &mut Txn,
    timeout: Option<std::time::Duration>,
    parent: &TableDef,
    ref_columns: &[usize],
    values: &[&Value],
) -> SqlResult<bool> {
    let value_of = |c: usize| ref_columns.iter().position(|&r| r == c).map(|k| values[k]);
    let same_set = |cols: &[usize]| {
        cols.len() == ref_columns.len() && cols.iter().all(|c| ref_columns.contains(c))
    };
    let key = if !parent.pk.is_empty() && same_set(&parent.pk) {
        let mut k = Vec::new();
        for &c in &parent.pk {
            let v = value_of(c).expect("same column set");
            crate::catalog::encode_key_value(&referenced_key_value(&parent.columns[c], v)?, &mut k);
        }
        k
    } else {
        let Some(ix) = parent
            .indexes
            .iter()
            .find(|ix| ix.unique && same_set(&ix.columns))
        else {
            return Err(SqlError::Internal(format!(
                "no unique key of \"{}\" for a foreign key",
                parent.name
            )));
        };
        let mut entry = Vec::new();
        for (p, &c) in ix.columns.iter().enumerate() {
            let v = value_of(c).expect("same column set");
            crate::catalog::encode_index_column(
                &referenced_key_value(&parent.columns[c], v)?,
                ix.option(p),
                &mut entry,
            );
        }
        match engine.newest_version(txn, ix.tree, &entry)?.value {
            Some(k) => k,
            None => return Ok(false),
        }
    };
    let Some(version) = engine.lock_row(
        txn,
        parent.tree,
        &key,
        LockMode::Share,
        LockWait::Block,
        timeout,
    )?
    else {
        return Ok(false);
    };
    let Some(bytes) = version.value else {
        return Ok(false);
    };
    let row = decode_row(&bytes, parent.columns.len())?;
    let wanted: Vec<Value> = ref_columns
        .iter()
        .zip(values)
        .map(|(&c, v)| match parent.columns[c].text_kind {
            // Compared as the parent keys them: a bpchar's blanks do not count.
            crate::catalog::TextKind::Char(_) | crate::catalog::TextKind::CharPadded(_) => {
                referenced_key_value(&parent.columns[c], v)
            }
            _ => Ok((*v).clone()),
        })
        .collect::<SqlResult<_>>()?;
    let positions: Vec<usize> = (0..wanted.len()).collect();
    Ok(same_key(&row, ref_columns, &wanted, &positions))
}

/// A referencing value as the referenced column `col` keys it: of its type, and for a
/// `char(n)` column as that column stores it (a bpchar, or padded text in a column written
/// before bpchar values), whatever character type the referencing column has.
fn referenced_key_value(col: &crate::catalog::Column, v: &Value) -> SqlResult<Value> {
    let v = v.clone().cast(col.ty)?;
    match col.text_kind {
        crate::catalog::TextKind::Char(_) | crate::catalog::TextKind::CharPadded(_)
            if !v.is_null() =>
        {
            col.fit(v)
        }
        _ => Ok(v),
    }
}

/// Checks every foreign key of `def` for a new or changed row (`old` is the row before an
/// UPDATE: keys whose columns did not change are not checked again, as in PostgreSQL).
fn check_foreign_keys(
    engine: &Engine,
    txn: &mut Txn,
    timeout: Option<std::time::Duration>,
    def: &TableDef,
    row: &[Value],
    old: Option<&[Value]>,
) -> SqlResult<()> {
    for fk in &def.foreign_keys {
        let values: Vec<&Value> = fk.columns.iter().map(|&c| &row[c]).collect();
        // MATCH SIMPLE: a NULL in the key matches nothing and passes.
        if values.iter().any(|v| v.is_null()) {
            continue;
        }
        if old.is_some_and(|o| same_key(o, &fk.columns, row, &fk.columns)) {
            continue;
        }
        let parent = if fk.ref_table == def.key() {
            def.clone()
        } else {
            lookup_table(engine, txn, &fk.ref_table)?
        };
        // A row referencing itself (or another row of this statement) is there already.
        if !lock_referenced(engine, txn, timeout, &parent, &fk.ref_columns, &values)? {
            return Err(fk_missing(def, fk, row));
        }
    }
    Ok(())
}

impl Session {
    /// Applies the foreign keys that reference `parent` after one of its rows was deleted
    /// (`new` is `None`) or updated: NO ACTION and RESTRICT refuse while a referencing row
    /// exists, CASCADE deletes or updates the referencing rows, SET NULL and SET DEFAULT change
    /// their key columns. Referencing rows are found in the newest snapshot the isolation level
    /// allows (READ COMMITTED takes a new one, so rows committed while this statement waited for
    /// the parent's lock are seen).
    fn referencing_actions(
        &self,
        txn: &mut Txn,
        parent: &TableDef,
        old: &[Value],
        new: Option<&[Value]>,
        depth: usize,
    ) -> SqlResult<()> {
        let engine = self.db.engine.clone();
        let children: Vec<TableDef> = crate::catalog_views::user_tables(&engine, txn)?
            .into_iter()
            .filter(|t| t.foreign_keys.iter().any(|f| f.ref_table == parent.key()))
            .collect();
        if children.is_empty() {
            return Ok(());
        }
        if depth >= FK_CASCADE_DEPTH_MAX {
            return Err(SqlError::ProgramLimitExceeded(format!(
                "foreign key actions nested more than {FK_CASCADE_DEPTH_MAX} deep"
            )));
        }
        for child in children {
            for fk in child
                .foreign_keys
                .iter()
                .filter(|f| f.ref_table == parent.key())
            {
                if fk.ref_columns.iter().any(|&c| old[c].is_null()) {
                    continue;
                }
                if let Some(n) = new
                    && same_key(old, &fk.ref_columns, n, &fk.ref_columns)
                {
                    continue;
                }
                let referencing = referencing_rows(&engine, txn, &child, fk, old)?;
                if referencing.is_empty() {
                    continue;
                }
                let action = if new.is_some() {
                    fk.on_update
                } else {
                    fk.on_delete
                };
                match action {
                    FkAction::NoAction | FkAction::Restrict => {
                        return Err(SqlError::ForeignKeyViolation {
                            message: format!(
                                "update or delete on table \"{}\" violates foreign key constraint \"{}\" on table \"{}\"",
                                parent.name, fk.name, child.name
                            ),
                            detail: format!(
                                "Key {} is still referenced from table \"{}\".",
                                index::key_text(parent, &fk.ref_columns, old),
                                child.name
                            ),
                        });
                    }
                    FkAction::Cascade if new.is_none() => {
                        for (k, found) in referencing {
                            let Some(row) =
                                self.lock_for_write(txn, &child, None, &[], &k, found)?
                            else {
                                continue;
                            };
                            if engine.delete(txn, child.tree, &k)? {
                                index::delete_entries(&engine, txn, &child, &row, &k)?;
                                self.referencing_actions(txn, &child, &row, None, depth + 1)?;
                            }
                        }
                    }
                    _ => {
                        // CASCADE on update, SET NULL, SET DEFAULT: the key columns change.
                        let defaults: Vec<Expr> = match action {
                            FkAction::SetDefault => fk
                                .columns
                                .iter()
                                .map(|&c| self.bind_default(txn, &child, c))
                                .collect::<SqlResult<_>>()?,
                            _ => Vec::new(),
                        };
                        let checks = self.bind_checks(txn, &child)?;
                        for (k, found) in referencing {
                            let Some(row) =
                                self.lock_for_write(txn, &child, None, &[], &k, found)?
                            else {
                                continue;
                            };
                            let mut changed = row.clone();
                            for (n, &c) in fk.columns.iter().enumerate() {
                                let col = &child.columns[c];
                                changed[c] = match action {
                                    FkAction::Cascade => {
                                        let v = new.expect("an update")[fk.ref_columns[n]].clone();
                                        col.assign(v)?
                                    }
                                    FkAction::SetNull => Value::Null,
                                    _ => {
                                        let exec = self.executor(txn, &[]);
                                        let v = defaults[n].eval(&exec.cx(&[], None))?;
                                        col.assign(v)?
                                    }
                                };
                            }
                            check_not_null(&child, &changed)?;
                            self.check_row(txn, &child, &checks, &changed)?;
                            if action == FkAction::SetDefault {
                                check_foreign_keys(
                                    &engine,
                                    txn,
                                    self.lock_timeout(),
                                    &child,
                                    &changed,
                                    None,
                                )?;
                            }
                            self.rewrite_row(txn, &child, &k, &row, &changed)?;
                            self.referencing_actions(txn, &child, &row, Some(&changed), depth + 1)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Every row of `def` the transaction sees, with its table key (for statements that rewrite
    /// a whole table).
    fn all_rows(&self, txn: &Txn, def: &TableDef) -> SqlResult<Vec<(Vec<u8>, Vec<Value>)>> {
        let mut rows = Vec::new();
        matching_rows(
            &self.executor(txn, &[]),
            def,
            None,
            &Access::Full,
            None,
            None,
            |k, row| {
                rows.push((k, row));
                Ok(())
            },
        )?;
        Ok(rows)
    }

    /// Whether some table's foreign key references `def` (then its UPDATE and DELETE run
    /// [`Self::referencing_actions`] for every row).
    fn is_referenced(&self, txn: &Txn, def: &TableDef) -> SqlResult<bool> {
        Ok(crate::catalog_views::user_tables(&self.db.engine, txn)?
            .iter()
            .any(|t| t.foreign_keys.iter().any(|f| f.ref_table == def.key())))
    }

    /// Writes `new` over the row `old` at table key `key` (moving it if its primary key
    /// changed) and its index entries.
    fn rewrite_row(
        &self,
        txn: &mut Txn,
        def: &TableDef,
        key: &[u8],
        old: &[Value],
        new: &[Value],
    ) -> SqlResult<()> {
        let engine = &self.db.engine;
        let mut buf = Vec::new();
        encode_row(new, &mut buf);
        let new_key = if def.pk.is_empty() {
            key.to_vec()
        } else {
            pk_key(def, new)
        };
        if new_key == key {
            engine.put(txn, def.tree, key, &buf)?;
        } else {
            engine.delete(txn, def.tree, key)?;
            match engine.insert(txn, def.tree, &new_key, &buf) {
                Ok(()) => {}
                Err(EngineError::DuplicateKey) => return Err(unique_violation(def, new)),
                Err(e) => return Err(e.into()),
            }
        }
        index::update_entries(engine, txn, def, (old, key), (new, &new_key))
    }

    /// Adds a FOREIGN KEY to `def` (named `t_a_b_fkey` unless named). With `validate`, every row
    /// the transaction sees must reference an existing row. The caller writes `def`.
    fn add_foreign_key(
        &self,
        txn: &mut Txn,
        def: &mut TableDef,
        fk: &ast::ForeignKeyConstraint,
        columns: &[String],
        validate: bool,
    ) -> SqlResult<()> {
        let engine = self.db.engine.clone();
        let ref_key = crate::namespace::existing(&engine, txn, &fk.foreign_table).or_else(|e| {
            // The table being created may reference itself (it is not in the catalog yet).
            let (schema, n) = crate::namespace::split_name(&fk.foreign_table)?;
            if n == def.name && schema.as_ref().is_none_or(|s| *s == def.schema) {
                Ok(def.key())
            } else {
                Err(e)
            }
        })?;
        let parent = if ref_key == def.key() {
            def.clone()
        } else {
            lookup_table(&engine, txn, &ref_key)?
        };
        let in_fk = |d: &TableDef, names: &[String]| {
            names
                .iter()
                .map(|n| {
                    d.column_index(n).ok_or_else(|| {
                        SqlError::UndefinedColumn(format!(
                            "{n}\" referenced in foreign key constraint does not exist"
                        ))
                    })
                })
                .collect::<SqlResult<Vec<usize>>>()
        };
        let cols = in_fk(def, columns)?;
        let ref_cols = if fk.referred_columns.is_empty() {
            if parent.pk.is_empty() {
                return Err(SqlError::InvalidForeignKey(format!(
                    "there is no primary key for referenced table \"{}\"",
                    parent.name
                )));
            }
            parent.pk.clone()
        } else {
            let names: Vec<String> = fk.referred_columns.iter().map(ident_name).collect();
            in_fk(&parent, &names)?
        };
        if cols.len() != ref_cols.len() {
            return Err(SqlError::InvalidForeignKey(
                "number of referencing and referenced columns for foreign key disagree".into(),
            ));
        }
        let same_set =
            |c: &[usize]| c.len() == ref_cols.len() && c.iter().all(|x| ref_cols.contains(x));
        let keyed = (!parent.pk.is_empty() && same_set(&parent.pk))
            || parent
                .indexes
                .iter()
                .any(|ix| ix.unique && same_set(&ix.columns));
        if !keyed {
            return Err(SqlError::InvalidForeignKey(format!(
                "there is no unique constraint matching given keys for referenced table \"{}\"",
                parent.name
            )));
        }
        let action = |a: &Option<ast::ReferentialAction>| match a {
            None | Some(ast::ReferentialAction::NoAction) => FkAction::NoAction,
            Some(ast::ReferentialAction::Restrict) => FkAction::Restrict,
            Some(ast::ReferentialAction::Cascade) => FkAction::Cascade,
            Some(ast::ReferentialAction::SetNull) => FkAction::SetNull,
            Some(ast::ReferentialAction::SetDefault) => FkAction::SetDefault,
        };
        let name = match &fk.name {
            Some(n) => ident_name(n),
            None => {
                let names: Vec<&str> = cols.iter().map(|&i| def.columns[i].name.as_str()).collect();
                let taken: Vec<String> = def
                    .foreign_keys
                    .iter()
                    .map(|f| f.name.clone())
                    .chain(def.checks.iter().map(|c| c.name.clone()))
                    .collect();
                index::choose_name(&engine, txn, &def.schema, &def.name, &names, "fkey", &taken)?
            }
        };
        let fk = ForeignKeyDef {
            name,
            oid: def.next_check_oid(),
            columns: cols,
            ref_table: parent.key(),
            ref_columns: ref_cols,
            on_delete: action(&fk.on_delete),
            on_update: action(&fk.on_update),
        };
        if validate {
            let mut rows = Vec::new();
            matching_rows(
                &self.executor(txn, &[]),
                def,
                None,
                &Access::Full,
                None,
                None,
                |_, row| {
                    rows.push(row);
                    Ok(())
                },
            )?;
            let mut with_fk = def.clone();
            with_fk.foreign_keys = vec![fk.clone()];
            for row in rows {
                self.info.cancel.check()?;
                check_foreign_keys(&engine, txn, self.lock_timeout(), &with_fk, &row, None)?;
            }
        }
        def.foreign_keys.push(fk);
        Ok(())
    }
}

/// The error of `DROP VIEW`/`DROP SEQUENCE` (`wanted`) naming a relation of another kind, with
/// PostgreSQL's hint naming the DROP that fits it.
fn wrong_drop(
    engine: &Engine,
    txn: &Txn,
    name: &str,
    wanted: &str,
    owner: &NameOwner,
) -> SqlResult<SqlError> {
    let what = match owner {
        NameOwner::Index(..) => "INDEX to remove an index",
        NameOwner::Table => {
            if lookup_sequence(engine, txn, name)?.is_some() {
                "SEQUENCE to remove a sequence"
            } else if crate::query::lookup_view(engine, txn, name)?.is_some() {
                "VIEW to remove a view"
            } else {
                "TABLE to remove a table"
            }
        }
    };
    Ok(SqlError::WrongObjectTypeHint {
        message: format!(
            "\"{}\" is not a {wanted}",
            crate::namespace::split_key(name).1
        ),
        hint: format!("Use DROP {what}."),
    })
}

/// The sequence type of a `smallserial`, `serial` or `bigserial` column.
fn serial_type(dt: &ast::DataType) -> Option<u32> {
    let ast::DataType::Custom(name, args) = dt else {
        return None;
    };
    if !args.is_empty() || name.0.len() != 1 {
        return None;
    }
    match name.to_string().to_lowercase().as_str() {
        "smallserial" | "serial2" => Some(21),
        "serial" | "serial4" => Some(23),
        "bigserial" | "serial8" => Some(20),
        _ => None,
    }
}

/// `SET search_path`'s value as PostgreSQL keeps it: one element per item, an identifier folded
/// as identifiers are, a string taken as it is (one element, even with commas in it), each
/// quoted where it needs to be.
fn search_path_value(values: &[ast::Expr]) -> String {
    values
        .iter()
        .map(|v| {
            let name = match v {
                ast::Expr::Identifier(id) => ident_name(id),
                ast::Expr::Value(v) => match &v.value {
                    ast::Value::SingleQuotedString(s) => s.clone(),
                    other => other.to_string(),
                },
                other => other.to_string(),
            };
            crate::catalog_views::quote_ident(&name)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The default of a column a sequence of `schema` numbers, as `pg_get_expr` prints it with the
/// schema on the search path; qualified unless in `public`, so that the stored default finds the
/// sequence whatever the search path when it is evaluated.
fn nextval_text_in(schema: &str, sequence: &str) -> String {
    let name = if schema == crate::namespace::PUBLIC {
        crate::catalog_views::quote_ident(sequence)
    } else {
        format!(
            "{}.{}",
            crate::catalog_views::quote_ident(schema),
            crate::catalog_views::quote_ident(sequence)
        )
    };
    let quoted = name.replace('\'', "''");
    format!("nextval('{quoted}'::regclass)")
}

/// Whether a VALUES item or SET value is the keyword `DEFAULT`.
fn is_default_keyword(e: &ast::Expr) -> bool {
    matches!(e, ast::Expr::Identifier(id) if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("default"))
}

/// A default expression written the way PostgreSQL's `pg_get_expr` prints it: constants other
/// than plain numbers carry a cast to the column's type, operators are parenthesised, and a
/// sequence named in `nextval` is cast to `regclass`.
fn deparse_default(e: &ast::Expr, ty_display: &str) -> String {
    deparse(e, ty_display, false, 0)
}

/// The binding strength of an operator as PostgreSQL's deparser weighs it.
fn precedence(op: &ast::BinaryOperator) -> u8 {
    use ast::BinaryOperator as B;
    match op {
        B::Or => 1,
        B::And => 2,
        B::Eq | B::NotEq | B::Lt | B::LtEq | B::Gt | B::GtEq => 4,
        B::Plus | B::Minus => 6,
        B::Multiply | B::Divide | B::Modulo => 7,
        _ => 5,
    }
}

/// Writes an expression as PostgreSQL's deparser does: string constants cast to `ty_display`
/// (negative numbers to `integer` unless `ty_display` is a column's type); every operator in
/// parentheses, or (`pretty`) only where precedence needs them.
fn deparse(e: &ast::Expr, ty_display: &str, pretty: bool, parent: u8) -> String {
    use ast::{Expr as E, Value as V};
    let literal = |s: &str, ty: &str| format!("'{}'::{ty}", s.replace('\'', "''"));
    match e {
        E::Value(v) => match &v.value {
            V::Number(n, _) => n.clone(),
            V::SingleQuotedString(t) => literal(t, ty_display),
            V::Boolean(b) => b.to_string(),
            V::Null => "NULL".into(),
            other => other.to_string(),
        },
        E::UnaryOp {
            op: ast::UnaryOperator::Minus,
            expr,
        } if matches!(&**expr, E::Value(v) if matches!(v.value, V::Number(..))) => {
            let ty = if ty_display == "text" {
                "integer"
            } else {
                ty_display
            };
            literal(&format!("-{expr}"), ty)
        }
        E::Nested(inner) => deparse(inner, ty_display, pretty, parent),
        E::BinaryOp { left, op, right } => {
            let p = precedence(op);
            let l = deparse(left, "text", pretty, p);
            // The right operand of a left-associative operator binds tighter.
            let r = deparse(right, "text", pretty, p + 1);
            if pretty && p >= parent {
                format!("{l} {op} {r}")
            } else {
                format!("({l} {op} {r})")
            }
        }
        E::Function(f)
            if object_name(&f.name).is_ok_and(|n| n == "nextval")
                && matches!(&f.args, ast::FunctionArguments::List(l)
                    if l.args.len() == 1
                        && matches!(&l.args[0], ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(E::Value(v)))
                            if matches!(v.value, V::SingleQuotedString(_)))) =>
        {
            let ast::FunctionArguments::List(l) = &f.args else {
                unreachable!("matched above")
            };
            let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(E::Value(v))) = &l.args[0]
            else {
                unreachable!("matched above")
            };
            let V::SingleQuotedString(name) = &v.value else {
                unreachable!("matched above")
            };
            format!("nextval('{}'::regclass)", name.replace('\'', "''"))
        }
        other => other.to_string(),
    }
}

/// The columns of `def` an expression's text names, in column order (a CHECK's `conkey`).
fn columns_named(def: &TableDef, text: &str) -> Vec<usize> {
    let mut names: Vec<String> = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            // Skip a string constant ('' inside is a quote).
            while let Some(d) = chars.next() {
                if d == '\'' && chars.peek() != Some(&'\'') {
                    break;
                }
                if d == '\'' {
                    chars.next();
                }
            }
        } else if c == '"' {
            let mut name = String::new();
            while let Some(d) = chars.next() {
                if d == '"' {
                    if chars.peek() == Some(&'"') {
                        chars.next();
                        name.push('"');
                        continue;
                    }
                    break;
                }
                name.push(d);
            }
            names.push(name);
        } else if c.is_alphabetic() || c == '_' {
            let mut word = c.to_string();
            while let Some(&d) = chars.peek() {
                if d.is_alphanumeric() || d == '_' {
                    word.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            names.push(word.to_lowercase());
        } else if c.is_ascii_digit() {
            while chars
                .peek()
                .is_some_and(|d| d.is_alphanumeric() || *d == '_' || *d == '.')
            {
                chars.next();
            }
        }
    }
    let mut cols: Vec<usize> = names.iter().filter_map(|n| def.column_index(n)).collect();
    cols.sort_unstable();
    cols.dedup();
    cols
}

enum InsertSource {
    Values(Vec<Vec<Expr>>),
    Query(Box<QueryPlan>),
}

struct InsertPlan {
    def: TableDef,
    targets: Vec<usize>,
    source: InsertSource,
    /// Bound defaults of the columns the source gives no value.
    defaults: Vec<(usize, Expr)>,
    returning: Option<Returning>,
    on_conflict: Option<OnConflictPlan>,
    /// CHECK OPTION conditions of the views the statement was written through (view name,
    /// condition over the table's row), innermost first.
    view_checks: Vec<(String, Expr)>,
}

/// Retries of one row's ON CONFLICT when the conflicting row vanishes or changes its key
/// between the failed insert and its lock (each retry follows another transaction's commit).
const ON_CONFLICT_RETRIES_MAX: usize = 64;

/// What settles a conflict: the primary key or secondary index `i` (unique).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arbiter {
    PrimaryKey,
    Index(usize),
}

/// A bound ON CONFLICT clause.
struct OnConflictPlan {
    /// `None`: every unique constraint (DO NOTHING without a target).
    arbiters: Option<Vec<Arbiter>>,
    /// DO UPDATE's assignments and WHERE, over the existing row then `excluded`.
    update: Option<ConflictUpdate>,
}

/// `DO UPDATE SET …` (column, value) and its `WHERE`.
type ConflictUpdate = (Vec<(usize, Expr)>, Option<Expr>);

struct UpdatePlan {
    def: TableDef,
    sets: Vec<(usize, Expr)>,
    /// Over the table's row alone (with `join`, the conjuncts of WHERE that are).
    filter: Option<Expr>,
    access: Access,
    returning: Option<Returning>,
    /// `UPDATE … FROM` / `DELETE … USING`: the other relations. SET and RETURNING see the
    /// table's row followed by the partner row they found.
    join: Option<crate::query::DmlJoin>,
    /// As [`InsertPlan::view_checks`], for the new version of each updated row.
    view_checks: Vec<(String, Expr)>,
}

/// A bound RETURNING list: expressions over the table's row, and the columns they make.
struct Returning {
    exprs: Vec<Expr>,
    columns: Vec<ColumnInfo>,
}

/// PostgreSQL's `Failing row contains (…)` detail.
fn failing_row(row: &[Value]) -> String {
    let vals: Vec<String> = row
        .iter()
        .map(|v| v.to_text().unwrap_or_else(|| "null".into()))
        .collect();
    format!("Failing row contains ({}).", vals.join(", "))
}

fn check_not_null(def: &TableDef, row: &[Value]) -> SqlResult<()> {
    for (c, v) in def.columns.iter().zip(row) {
        if c.not_null && v.is_null() {
            return Err(SqlError::NotNullViolation {
                table: def.name.clone(),
                column: c.name.clone(),
                detail: failing_row(row),
            });
        }
    }
    Ok(())
}

fn unique_violation(def: &TableDef, row: &[Value]) -> SqlError {
    let names: Vec<&str> = def
        .pk
        .iter()
        .map(|&i| def.columns[i].name.as_str())
        .collect();
    let vals: Vec<String> = def
        .pk
        .iter()
        .map(|&i| row[i].to_text().unwrap_or_default())
        .collect();
    SqlError::UniqueViolation {
        constraint: def.pk_name(),
        detail: format!(
            "Key ({})=({}) already exists.",
            names.join(", "),
            vals.join(", ")
        ),
    }
}

/// The isolation level a list of transaction modes asks for, if any.
fn check_modes(modes: &[ast::TransactionMode]) -> SqlResult<(Option<Isolation>, Option<bool>)> {
    let mut isolation = None;
    let mut read_only = None;
    for m in modes {
        match m {
            ast::TransactionMode::IsolationLevel(level) => {
                isolation = Some(match level {
                    // PostgreSQL runs READ UNCOMMITTED as READ COMMITTED.
                    ast::TransactionIsolationLevel::ReadUncommitted
                    | ast::TransactionIsolationLevel::ReadCommitted => Isolation::ReadCommitted,
                    ast::TransactionIsolationLevel::RepeatableRead => Isolation::RepeatableRead,
                    ast::TransactionIsolationLevel::Serializable => Isolation::Serializable,
                    ast::TransactionIsolationLevel::Snapshot => {
                        return Err(SqlError::FeatureNotSupported(
                            "isolation level SNAPSHOT".into(),
                        ));
                    }
                });
            }
            ast::TransactionMode::AccessMode(ast::TransactionAccessMode::ReadWrite) => {
                read_only = Some(false);
            }
            ast::TransactionMode::AccessMode(ast::TransactionAccessMode::ReadOnly) => {
                read_only = Some(true);
            }
        }
    }
    Ok((isolation, read_only))
}

/// EXPLAIN's one result column.
fn explain_columns() -> Vec<ColumnInfo> {
    vec![ColumnInfo::text("QUERY PLAN")]
}

/// Milliseconds since `since`.
fn elapsed_ms(since: std::time::Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// The command a read-only transaction refuses, as PostgreSQL names it in the error; `None`
/// for statements that write nothing.
/// The query of a DECLARE: one SELECT (or VALUES, or a set operation), not FOR UPDATE/SHARE.
fn cursor_query(text: &str) -> SqlResult<ast::Query> {
    let mut stmts = parse(text)?;
    match (stmts.pop(), stmts.is_empty()) {
        (Some(ast::Statement::Query(q)), true) => {
            if cte::is_data_modifying_with(&q) {
                return Err(SqlError::NotSupported(
                    "DECLARE CURSOR must not contain data-modifying statements in WITH".into(),
                ));
            }
            if !q.locks.is_empty() {
                return Err(SqlError::FeatureNotSupported(
                    "DECLARE CURSOR … FOR UPDATE/SHARE".into(),
                ));
            }
            Ok(*q)
        }
        _ => Err(SqlError::Syntax(format!(
            "syntax error at or near \"{}\"",
            text.split_whitespace().next().unwrap_or_default()
        ))),
    }
}

fn write_command(stmt: &ast::Statement) -> Option<&'static str> {
    Some(match stmt {
        // EXPLAIN ANALYZE runs its statement.
        ast::Statement::Explain {
            analyze,
            verbose,
            format,
            options,
            statement,
            ..
        } => {
            let o = Options::parse(*analyze, *verbose, format.as_ref(), options.as_deref());
            return if o.is_ok_and(|o| o.analyze) {
                write_command(statement)
            } else {
                None
            };
        }
        ast::Statement::Query(q) if cte::is_data_modifying_with(q) => cte::write_command(q),
        ast::Statement::Insert(_) => "INSERT",
        ast::Statement::Update(_) => "UPDATE",
        ast::Statement::Delete(_) => "DELETE",
        ast::Statement::Copy { to: false, .. } => "COPY FROM",
        ast::Statement::Copy {
            source: ast::CopySource::Query(q),
            ..
        } if cte::is_data_modifying_with(q) => cte::write_command(q),
        ast::Statement::CreateTable(_) => "CREATE TABLE",
        ast::Statement::CreateIndex(_) => "CREATE INDEX",
        ast::Statement::CreateView { .. } => "CREATE VIEW",
        ast::Statement::CreateSequence { .. } => "CREATE SEQUENCE",
        other if AlterSequence::carried(other).is_some() => "ALTER SEQUENCE",
        other if crate::ddl_parse::carried(other, SET_SCHEMA_CARRIER).is_some() => {
            crate::ddl_parse::carried(other, SET_SCHEMA_CARRIER)
                .and_then(crate::ddl_parse::SetSchema::parse)
                .map_or("ALTER TABLE", |s| s.kind.tag())
        }
        other if crate::ddl_parse::carried(other, RENAME_CARRIER).is_some() => {
            crate::ddl_parse::carried(other, RENAME_CARRIER)
                .and_then(crate::ddl_parse::Rename::parse)
                .map_or("ALTER TABLE", |r| r.kind.tag())
        }
        other if crate::ddl_parse::carried(other, SCHEMA_ELEMENTS_CARRIER).is_some() => {
            "CREATE SCHEMA"
        }
        ast::Statement::Comment { .. } => "COMMENT",
        ast::Statement::AlterTable(_) => "ALTER TABLE",
        ast::Statement::Truncate(_) => "TRUNCATE TABLE",
        ast::Statement::Drop { object_type, .. } => match object_type {
            ast::ObjectType::Table => "DROP TABLE",
            ast::ObjectType::Index => "DROP INDEX",
            ast::ObjectType::View => "DROP VIEW",
            ast::ObjectType::Sequence => "DROP SEQUENCE",
            _ => return None,
        },
        ast::Statement::Query(q) if !q.locks.is_empty() => match q.locks[0].lock_type {
            ast::LockType::Update => "SELECT FOR UPDATE",
            ast::LockType::Share => "SELECT FOR SHARE",
        },
        _ => return None,
    })
}

/// A Boolean setting's value as PostgreSQL reads it (on/off, true/false, yes/no, 1/0, and
/// unique prefixes of them).
pub(crate) fn settings_bool(v: &str) -> Option<bool> {
    let v = v.trim().to_ascii_lowercase();
    match v.as_str() {
        "on" | "1" => Some(true),
        "off" | "0" => Some(false),
        _ if !v.is_empty() && ("true".starts_with(&v) || "yes".starts_with(&v)) => Some(true),
        _ if !v.is_empty() && v.len() >= 2 && "off".starts_with(&v) => Some(false),
        _ if !v.is_empty() && ("false".starts_with(&v) || "no".starts_with(&v)) => Some(false),
        _ => None,
    }
}

/// An isolation level by its PostgreSQL name (`default_transaction_isolation` values).
fn isolation_named(name: &str) -> Option<Isolation> {
    match name.trim().to_lowercase().as_str() {
        "read uncommitted" | "read committed" => Some(Isolation::ReadCommitted),
        "repeatable read" => Some(Isolation::RepeatableRead),
        "serializable" => Some(Isolation::Serializable),
        _ => None,
    }
}

fn isolation_name(i: Isolation) -> &'static str {
    match i {
        Isolation::ReadCommitted => "read committed",
        Isolation::RepeatableRead => "repeatable read",
        Isolation::Serializable => "serializable",
    }
}

/// The setting a `SHOW` names; PostgreSQL's grammar spells a few as several words.
fn show_all_columns() -> Vec<ColumnInfo> {
    ["name", "setting", "description"]
        .iter()
        .map(|n| ColumnInfo::text(*n))
        .collect()
}

fn show_name(variable: &[ast::Ident]) -> String {
    let name = variable
        .iter()
        .map(|i| i.value.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
    match name.as_str() {
        "transaction isolation level" => "transaction_isolation".into(),
        "time zone" => "timezone".into(),
        "session authorization" => "session_authorization".into(),
        _ => name,
    }
}

fn first_words(s: &str) -> String {
    s.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// Maintenance, table rebuilds and COPY.
impl Session {
    /// `lock_timeout` as the engine takes it; `None` waits without limit.
    fn lock_timeout(&self) -> Option<std::time::Duration> {
        match self.setting("lock_timeout").and_then(parse_duration_ms) {
            None | Some(0) => None,
            Some(ms) => Some(std::time::Duration::from_millis(ms)),
        }
    }

    /// Ends the current statement after an error: an explicit transaction becomes failed, an
    /// implicit one rolls back.
    fn fail_statement(&mut self, txn: Txn) {
        if self.in_block {
            self.failed = true;
            self.txn = Some(txn);
        } else {
            self.db.engine.rollback(txn);
        }
    }

    /// `VACUUM [table]`: prunes row versions no snapshot needs. Like PostgreSQL, it refuses to
    /// run inside a transaction block. (Statistics for ANALYZE are not gathered yet.)
    fn vacuum(&mut self, table: Option<&ast::ObjectName>) -> SqlResult<Output> {
        if self.in_block {
            return Err(SqlError::ActiveSqlTransaction(
                "VACUUM cannot run inside a transaction block".into(),
            ));
        }
        let engine = &self.db.engine;
        let txn = engine.begin();
        let trees: SqlResult<Vec<TreeId>> = match table {
            Some(n) => crate::namespace::table(engine, &txn, n).map(|d| vec![d.tree]),
            None => crate::catalog_views::user_tables(engine, &txn)
                .map(|ts| ts.into_iter().map(|d| d.tree).collect()),
        };
        engine.rollback(txn);
        for tree in trees? {
            engine.vacuum(tree)?;
        }
        Ok(command("VACUUM"))
    }

    /// `ANALYZE [table [(columns)]]`: gathers the planner's statistics of one table (some of
    /// its columns) or of every table, in the statement's transaction (see [`crate::stats`]).
    /// `VACUUM ANALYZE` arrives here marked `compute_statistics`, its vacuum already done.
    fn analyze(&mut self, txn: &mut Txn, a: &ast::Analyze) -> SqlResult<Output> {
        let engine = self.db.engine.clone();
        let defs = match &a.table_name {
            Some(n) => vec![lookup_table(&engine, txn, &object_name(n)?)?],
            None => crate::catalog_views::user_tables(&engine, txn)?,
        };
        for def in defs {
            let columns = if a.columns.is_empty() {
                None
            } else {
                let mut cs = Vec::with_capacity(a.columns.len());
                for id in &a.columns {
                    let name = crate::expr::ident_name(id);
                    let c = def
                        .columns
                        .iter()
                        .position(|c| c.name == name)
                        .ok_or_else(|| {
                            SqlError::UndefinedColumn(format!(
                                "{name}\" of relation \"{}",
                                def.name
                            ))
                        })?;
                    cs.push(c);
                }
                Some(cs)
            };
            crate::stats::analyze(&engine, txn, &def, columns.as_deref(), false)?;
        }
        Ok(command(if a.compute_statistics {
            "VACUUM"
        } else {
            "ANALYZE"
        }))
    }

    /// `TRUNCATE t [, …]`: each table gets a new, empty tree in the same transaction (the old
    /// tree is left unreachable, as DROP TABLE leaves it).
    fn truncate(&mut self, txn: &mut Txn, t: &ast::Truncate) -> SqlResult<Output> {
        let engine = &self.db.engine;
        let mut defs = Vec::with_capacity(t.table_names.len());
        for target in &t.table_names {
            defs.push(crate::namespace::table(engine, txn, &target.name)?);
        }
        for other in crate::catalog_views::user_tables(engine, txn)? {
            if defs.iter().any(|d| d.key() == other.key()) {
                continue;
            }
            if let Some(fk) = other
                .foreign_keys
                .iter()
                .find(|f| defs.iter().any(|d| d.key() == f.ref_table))
            {
                return Err(SqlError::NotSupportedDetail {
                    message: "cannot truncate a table referenced in a foreign key constraint"
                        .into(),
                    detail: format!(
                        "Table \"{}\" references \"{}\".",
                        other.name,
                        crate::namespace::split_key(&fk.ref_table).1
                    ),
                    hint: format!(
                        "Truncate table \"{}\" at the same time, or use TRUNCATE ... CASCADE.",
                        other.name
                    ),
                });
            }
        }
        for mut def in defs {
            def.tree = engine.create_tree_in(txn)?;
            for ix in &mut def.indexes {
                ix.tree = engine.create_tree_in(txn)?;
            }
            engine.put(txn, CATALOG, def.key().as_bytes(), &def.encode())?;
        }
        Ok(command("TRUNCATE TABLE"))
    }

    /// `ALTER TABLE t …`, each action in turn, all in the statement's transaction:
    /// - `ADD [CONSTRAINT c] PRIMARY KEY (cols)` rebuilds the table as a B+tree keyed by the new
    ///   primary key (and its indexes, whose entries point at rows by that key), checking that the
    ///   key columns hold no NULL (23502) and no duplicate (23505), as PostgreSQL's build does;
    /// - `ADD [CONSTRAINT c] UNIQUE (cols)` builds a unique index (23505 on duplicates);
    /// - `ADD [CONSTRAINT c] CHECK (…)` and `FOREIGN KEY (…) REFERENCES …` check the rows there;
    /// - `DROP CONSTRAINT [IF EXISTS] c` drops a unique (with its index), CHECK or FOREIGN KEY
    ///   constraint;
    /// - `ALTER COLUMN c SET/DROP DEFAULT`, `SET NOT NULL` (checking the rows) and `DROP NOT NULL`;
    /// - `RENAME COLUMN a TO b` (indexes name columns by position, so they follow; the views that
    ///   read the column have their stored queries rewritten to the new name, see
    ///   [`crate::depend::rename_column_in_query`]).
    fn alter_table(&mut self, txn: &mut Txn, at: &ast::AlterTable) -> SqlResult<Output> {
        let engine = self.db.engine.clone();
        // `OWNER TO` (which PostgreSQL takes for tables, views and sequences alike): the one
        // role is the session's, and it owns everything already.
        if !at.operations.is_empty()
            && at
                .operations
                .iter()
                .all(|op| matches!(op, ast::AlterTableOperation::OwnerTo { .. }))
        {
            for op in &at.operations {
                if let ast::AlterTableOperation::OwnerTo {
                    new_owner: ast::Owner::Ident(role),
                } = op
                {
                    let role = ident_name(role);
                    let user = if self.info.user.is_empty() {
                        "borealis"
                    } else {
                        self.info.user.as_str()
                    };
                    if role != user {
                        return Err(SqlError::UndefinedObject(format!(
                            "role \"{role}\" does not exist"
                        )));
                    }
                }
            }
            crate::namespace::existing(&engine, txn, &at.name)?;
            return Ok(command("ALTER TABLE"));
        }
        let mut def = crate::namespace::table(&engine, txn, &at.name)?;
        let mut renamed: Vec<(String, String)> = Vec::new();
        for op in &at.operations {
            match op {
                ast::AlterTableOperation::AddConstraint {
                    constraint: ast::TableConstraint::PrimaryKey(p),
                    ..
                } => {
                    let mut names = Vec::with_capacity(p.columns.len());
                    for ic in &p.columns {
                        let ast::Expr::Identifier(id) = &ic.column.expr else {
                            return Err(SqlError::FeatureNotSupported(
                                "expressions in a primary key".into(),
                            ));
                        };
                        names.push(ident_name(id));
                    }
                    def = self.add_primary_key(txn, def, &names)?;
                    if let Some(n) = &p.name {
                        self.name_primary_key(txn, &mut def, ident_name(n))?;
                    }
                }
                ast::AlterTableOperation::AddConstraint {
                    constraint: ast::TableConstraint::Unique(u),
                    ..
                } => {
                    let mut names = Vec::with_capacity(u.columns.len());
                    for ic in &u.columns {
                        let ast::Expr::Identifier(id) = &ic.column.expr else {
                            return Err(SqlError::FeatureNotSupported(
                                "expressions in a unique constraint".into(),
                            ));
                        };
                        names.push(ident_name(id));
                    }
                    let cols = key_positions(&def, &names)?;
                    self.add_unique_constraint(
                        txn,
                        &mut def,
                        u.name.as_ref().map(ident_name),
                        cols,
                    )?;
                }
                ast::AlterTableOperation::AddConstraint {
                    constraint: ast::TableConstraint::ForeignKey(fk),
                    ..
                } => {
                    let cols: Vec<String> = fk.columns.iter().map(ident_name).collect();
                    self.add_foreign_key(txn, &mut def, fk, &cols, true)?;
                }
                ast::AlterTableOperation::AddConstraint {
                    constraint: ast::TableConstraint::Check(ck),
                    ..
                } => {
                    let name = ck.name.as_ref().map(ident_name);
                    self.add_check(txn, &mut def, name, &ck.expr, true)?;
                }
                ast::AlterTableOperation::DropConstraint {
                    if_exists,
                    name,
                    drop_behavior,
                } => {
                    if matches!(drop_behavior, Some(ast::DropBehavior::Cascade)) {
                        return Err(SqlError::FeatureNotSupported(
                            "DROP CONSTRAINT … CASCADE".into(),
                        ));
                    }
                    let name = ident_name(name);
                    let check = def.checks.iter().position(|c| c.name == name);
                    let foreign = def.foreign_keys.iter().position(|f| f.name == name);
                    match def
                        .indexes
                        .iter()
                        .position(|ix| ix.constraint && ix.name == name)
                    {
                        Some(i) => {
                            def.indexes.remove(i);
                        }
                        None if check.is_some() => {
                            def.checks.remove(check.expect("checked"));
                        }
                        None if foreign.is_some() => {
                            def.foreign_keys.remove(foreign.expect("checked"));
                        }
                        None if !def.pk.is_empty() && def.pk_name() == name => {
                            return Err(SqlError::FeatureNotSupported(
                                "dropping a primary key".into(),
                            ));
                        }
                        None if *if_exists => self.notices.push(format!(
                            "constraint \"{name}\" of relation \"{}\" does not exist, skipping",
                            def.name
                        )),
                        None => {
                            return Err(SqlError::UndefinedObject(format!(
                                "constraint \"{name}\" of relation \"{}\" does not exist",
                                def.name
                            )));
                        }
                    }
                }
                ast::AlterTableOperation::AddColumn {
                    if_not_exists,
                    column_def,
                    column_position: None,
                    ..
                } => {
                    let cname = ident_name(&column_def.name);
                    if def.column_index(&cname).is_some() {
                        if *if_not_exists {
                            self.notices.push(format!(
                                "column \"{cname}\" of relation \"{}\" already exists, skipping",
                                def.name
                            ));
                            continue;
                        }
                        return Err(SqlError::ColumnExists(format!(
                            "column \"{cname}\" of relation \"{}\" already exists",
                            def.name
                        )));
                    }
                    self.add_column(txn, &mut def, column_def)?;
                }
                ast::AlterTableOperation::DropColumn {
                    column_names,
                    if_exists,
                    drop_behavior,
                    ..
                } => {
                    let cascade = matches!(drop_behavior, Some(ast::DropBehavior::Cascade));
                    for n in column_names {
                        let cname = ident_name(n);
                        match def.column_index(&cname) {
                            Some(i) => self.drop_column(txn, &mut def, i, cascade)?,
                            None if *if_exists => self.notices.push(format!(
                                "column \"{cname}\" of relation \"{}\" does not exist, skipping",
                                def.name
                            )),
                            None => {
                                return Err(SqlError::UndefinedColumn(format!(
                                    "{cname}\" of relation \"{}",
                                    def.name
                                )));
                            }
                        }
                    }
                }
                ast::AlterTableOperation::AlterColumn { column_name, op } => {
                    let cname = ident_name(column_name);
                    let i = def.column_index(&cname).ok_or_else(|| {
                        SqlError::UndefinedColumn(format!("{cname}\" of relation \"{}", def.name))
                    })?;
                    let identity_error = |hint: bool| {
                        SqlError::Syntax(format!(
                            "column \"{cname}\" of relation \"{}\" is an identity column{}",
                            def.name,
                            if hint {
                                "\nHINT:  Use ALTER TABLE ... ALTER COLUMN ... DROP IDENTITY instead."
                            } else {
                                ""
                            }
                        ))
                    };
                    match op {
                        ast::AlterColumnOperation::SetNotNull => {
                            self.check_no_nulls(txn, &def, i)?;
                            def.columns[i].not_null = true;
                        }
                        ast::AlterColumnOperation::DropNotNull => {
                            if def.pk.contains(&i) {
                                return Err(SqlError::InvalidTableDefinition(format!(
                                    "column \"{cname}\" is in a primary key"
                                )));
                            }
                            if def.columns[i].identity != Identity::None {
                                return Err(SqlError::Syntax(format!(
                                    "column \"{cname}\" of relation \"{}\" is an identity column",
                                    def.name
                                )));
                            }
                            def.columns[i].not_null = false;
                        }
                        ast::AlterColumnOperation::SetDefault { value } => {
                            if def.columns[i].identity != Identity::None {
                                return Err(identity_error(false));
                            }
                            let c = &def.columns[i];
                            let text = self.default_text(txn, value, c.ty, c.text_kind)?;
                            def.columns[i].default = Some(text);
                        }
                        ast::AlterColumnOperation::DropDefault => {
                            if def.columns[i].identity != Identity::None {
                                return Err(identity_error(true));
                            }
                            def.columns[i].default = None;
                        }
                        other => {
                            return Err(SqlError::FeatureNotSupported(format!(
                                "ALTER TABLE … ALTER COLUMN … {other}"
                            )));
                        }
                    }
                }
                ast::AlterTableOperation::RenameColumn {
                    old_column_name,
                    new_column_name,
                } => {
                    let (old, new) = (ident_name(old_column_name), ident_name(new_column_name));
                    let i = def
                        .column_index(&old)
                        .ok_or_else(|| SqlError::UndefinedColumn(old.clone()))?;
                    if def.column_index(&new).is_some() {
                        return Err(SqlError::ColumnExists(format!(
                            "column \"{new}\" of relation \"{}\" already exists",
                            def.name
                        )));
                    }
                    renamed.push((old, new.clone()));
                    def.columns[i].name = new;
                }
                // The new name of a relation is a bare name (it stays in its schema); the
                // plain form is read by [`crate::ddl_parse::Rename`].
                ast::AlterTableOperation::RenameTable { .. } => {
                    return Err(SqlError::Syntax("syntax error at or near \".\"".into()));
                }
                _ => return Err(SqlError::FeatureNotSupported(format!("ALTER TABLE {op}"))),
            }
        }
        engine.put(txn, CATALOG, def.key().as_bytes(), &def.encode())?;
        for (old, new) in renamed {
            self.rename_column_in_views(txn, def.oid, &old, &new)?;
        }
        Ok(command("ALTER TABLE"))
    }

    /// Follows the rename of a column of table or view `oid` (from `old` to `new`) into the
    /// stored query
    /// of every view that reads it, in this transaction (see
    /// [`crate::depend::rename_column_in_query`]).
    fn rename_column_in_views(
        &mut self,
        txn: &mut Txn,
        oid: u32,
        old: &str,
        new: &str,
    ) -> SqlResult<()> {
        let engine = self.db.engine.clone();
        let graph = crate::depend::Graph::load(&engine, txn)?;
        // Every view that reads the table: a view whose dependencies are computed when asked
        // (created before they were recorded) no longer binds once the column is renamed, and
        // then depends on the table as a whole. The rewrite changes only the views whose query
        // reads the column.
        let views: Vec<crate::catalog::ViewDef> = graph
            .views_reading(oid, None)
            .into_iter()
            .cloned()
            .collect();
        for mut v in views {
            let mut q = crate::query::parse_view_query(&v)?;
            if crate::depend::rename_column_in_query(&engine, txn, &mut q, oid, old, new) {
                v.sql = q.to_string();
                engine.put(txn, CATALOG, v.key().as_bytes(), &v.encode())?;
            }
        }
        Ok(())
    }

    /// `ADD COLUMN c type [DEFAULT e] [NOT NULL] [CHECK (…)] [REFERENCES …] [UNIQUE]` (and serial
    /// types): every row the transaction sees gets the default, evaluated per row (a `nextval`
    /// numbers them), and is rewritten; NOT NULL with no default fails on a non-empty table.
    fn add_column(
        &mut self,
        txn: &mut Txn,
        def: &mut TableDef,
        cd: &ast::ColumnDef,
    ) -> SqlResult<()> {
        let engine = self.db.engine.clone();
        let cname = ident_name(&cd.name);
        let serial = serial_type(&cd.data_type);
        let (ty, text_kind) = match serial {
            Some(20) => (DataType::Int8, crate::catalog::TextKind::Text),
            Some(_) => (DataType::Int4, crate::catalog::TextKind::Text),
            None => crate::expr::column_type(&cd.data_type)?,
        };
        let mut column = Column {
            text_kind,
            not_null: serial.is_some(),
            ..Column::new(cname.clone(), ty, false)
        };
        let mut checks = Vec::new();
        let mut foreign_keys = Vec::new();
        let mut unique: Option<Option<String>> = None;
        for opt in &cd.options {
            match &opt.option {
                ast::ColumnOption::Default(e) if serial.is_none() => {
                    column.default = Some(self.default_text(txn, e, ty, text_kind)?);
                }
                ast::ColumnOption::NotNull => column.not_null = true,
                ast::ColumnOption::Null => {}
                ast::ColumnOption::Check(ck) => checks.push((
                    opt.name.as_ref().or(ck.name.as_ref()).map(ident_name),
                    (*ck.expr).clone(),
                )),
                ast::ColumnOption::ForeignKey(fk) => {
                    let mut fk = fk.clone();
                    if fk.name.is_none() {
                        fk.name = opt.name.clone();
                    }
                    foreign_keys.push(fk);
                }
                ast::ColumnOption::Unique(u) => {
                    unique = Some(opt.name.as_ref().or(u.name.as_ref()).map(ident_name));
                }
                other => {
                    return Err(SqlError::FeatureNotSupported(format!(
                        "ADD COLUMN with {other}"
                    )));
                }
            }
        }
        let i = def.columns.len();
        if let Some(type_oid) = serial {
            let taken = vec![def.name.clone()];
            let seq_name = index::choose_name(
                &engine,
                txn,
                &def.schema,
                &def.name,
                &[cname.as_str()],
                "seq",
                &taken,
            )?;
            let seq_tree = engine.create_tree()?;
            let mut seq = SequenceOptions {
                type_oid: Some(type_oid),
                ..SequenceOptions::default()
            }
            .define(
                &crate::namespace::rel_key(&def.schema, &seq_name),
                TableDef::oid_for_tree(seq_tree),
                seq_tree,
                20,
            )?;
            seq.owned_by = Some((def.oid, i as u32));
            column.default = Some(nextval_text_in(&def.schema, &seq_name));
            engine.insert(txn, CATALOG, seq.key().as_bytes(), &seq.encode())?;
        }
        // Every existing row gets the new column's value.
        let default = self.bind_default_text_opt(txn, column.default.as_deref())?;
        let rows = self.all_rows(txn, def)?;
        def.columns.push(column);
        let mut buf = Vec::new();
        for (key, mut row) in rows {
            self.info.cancel.check()?;
            let v = match &default {
                Some(e) => {
                    let exec = self.executor(txn, &[]);
                    let col = &def.columns[i];
                    col.assign(e.eval(&exec.cx(&[], None))?)?
                }
                None => Value::Null,
            };
            if v.is_null() && def.columns[i].not_null {
                return Err(SqlError::NotNullInExisting {
                    table: def.name.clone(),
                    column: cname,
                });
            }
            row.push(v);
            buf.clear();
            encode_row(&row, &mut buf);
            engine.put(txn, def.tree, &key, &buf)?;
        }
        for (name, expr) in checks {
            self.add_check(txn, def, name, &expr, true)?;
        }
        for fk in &foreign_keys {
            self.add_foreign_key(txn, def, fk, std::slice::from_ref(&cname), true)?;
        }
        if let Some(name) = unique {
            self.add_unique_constraint(txn, def, name, vec![i])?;
        }
        Ok(())
    }

    /// A stored default bound, if there is one.
    fn bind_default_text_opt(&self, txn: &Txn, text: Option<&str>) -> SqlResult<Option<Expr>> {
        text.map(|t| self.bind_default_text(txn, t)).transpose()
    }

    /// `DROP COLUMN`: indexes, CHECK and FOREIGN KEY constraints over the column go with it (as
    /// PostgreSQL drops them), so do sequences it owns; every row is rewritten without it and
    /// positions after it shift down. A primary-key column, or one another table's foreign key
    /// references, is refused.
    fn drop_column(
        &mut self,
        txn: &mut Txn,
        def: &mut TableDef,
        i: usize,
        cascade: bool,
    ) -> SqlResult<()> {
        let engine = self.db.engine.clone();
        let cname = def.columns[i].name.clone();
        if def.pk.contains(&i) {
            return Err(SqlError::FeatureNotSupported(
                "dropping a primary-key column".into(),
            ));
        }
        // Views that read the column and foreign keys elsewhere that reference it.
        let graph = crate::depend::Graph::load(&engine, txn)?;
        let root = format!(
            "column {cname} of table {}",
            crate::namespace::qualified_if_needed(&engine, txn, &def.schema, &def.name)
        );
        let direct = graph.dependents(crate::depend::Target::Column(def, i));
        let reached = graph.walk(&engine, txn, vec![(direct, root.clone())], &[def.oid], &[]);
        if !reached.is_empty() {
            if !cascade {
                return Err(crate::depend::still_exist(Some(&root), &reached));
            }
            let all: Vec<crate::depend::Object> =
                reached.iter().map(|r| r.object.clone()).collect();
            self.drop_objects(txn, &all, &[])?;
            if let Some(n) = crate::depend::cascade_notice(&reached) {
                self.notices.push(n);
            }
        }
        // The column numbers views record of the columns after it move down by one.
        for mut v in crate::catalog_views::user_views(&engine, txn)? {
            let Some(deps) = v.depends.as_mut() else {
                continue;
            };
            let mut changed = false;
            for d in deps.iter_mut() {
                if d.oid == def.oid && d.column as usize > i + 1 {
                    d.column -= 1;
                    changed = true;
                }
            }
            if changed {
                engine.put(txn, CATALOG, v.key().as_bytes(), &v.encode())?;
            }
        }
        crate::comments::drop_column(&engine, txn, PG_CLASS_OID, def.oid, i as i32 + 1)?;
        crate::stats::drop_column(&engine, txn, def.oid, i)?;
        let shift = |c: &mut usize| {
            if *c > i {
                *c -= 1;
            }
        };
        def.indexes.retain(|ix| !ix.columns.contains(&i));
        for ix in &mut def.indexes {
            ix.columns.iter_mut().for_each(shift);
        }
        def.pk.iter_mut().for_each(shift);
        def.checks.retain(|c| !c.columns.contains(&i));
        for c in &mut def.checks {
            c.columns.iter_mut().for_each(shift);
        }
        let own = def.key();
        def.foreign_keys.retain(|f| {
            !(f.columns.contains(&i) || (f.ref_table == own && f.ref_columns.contains(&i)))
        });
        for f in &mut def.foreign_keys {
            f.columns.iter_mut().for_each(shift);
            if f.ref_table == own {
                f.ref_columns.iter_mut().for_each(shift);
            }
        }
        for mut seq in user_sequences(&engine, txn)? {
            match seq.owned_by {
                Some((t, c)) if t == def.oid && c as usize == i => {
                    engine.delete(txn, CATALOG, seq.key().as_bytes())?;
                    self.db.sequences.forget(seq.tree);
                }
                Some((t, c)) if t == def.oid && c as usize > i => {
                    seq.owned_by = Some((t, c - 1));
                    engine.put(txn, CATALOG, seq.key().as_bytes(), &seq.encode())?;
                }
                _ => {}
            }
        }
        let rows = self.all_rows(txn, def)?;
        def.columns.remove(i);
        let mut buf = Vec::new();
        for (key, mut row) in rows {
            self.info.cancel.check()?;
            row.remove(i);
            buf.clear();
            encode_row(&row, &mut buf);
            engine.put(txn, def.tree, &key, &buf)?;
        }
        Ok(())
    }

    /// `SET NOT NULL`: fails if a row the transaction sees has NULL in column `i`.
    fn check_no_nulls(&self, txn: &Txn, def: &TableDef, i: usize) -> SqlResult<()> {
        let mut found = false;
        matching_rows(
            &self.executor(txn, &[]),
            def,
            None,
            &Access::Full,
            None,
            None,
            |_, row| {
                found |= row[i].is_null();
                Ok(())
            },
        )?;
        if found {
            return Err(SqlError::NotNullInExisting {
                table: def.name.clone(),
                column: def.columns[i].name.clone(),
            });
        }
        Ok(())
    }

    /// Rebuilds `def` as a B+tree keyed by a new primary key over the columns `names`, and its
    /// indexes over the new keys. Returns the new definition; the caller writes it.
    /// Gives the primary key of `def` the name its `CONSTRAINT name PRIMARY KEY` declared,
    /// when that is not the name derived from the table's (see [`TableDef::pk_name_kept`]).
    fn name_primary_key(&self, txn: &Txn, def: &mut TableDef, name: String) -> SqlResult<()> {
        if name == def.pk_name() {
            return Ok(());
        }
        let key = crate::namespace::rel_key(&def.schema, &name);
        if index::name_owner(&self.db.engine, txn, &key)?.is_some() {
            return Err(SqlError::DuplicateTable(name));
        }
        def.pk_name_kept = Some(name);
        Ok(())
    }

    fn add_primary_key(
        &mut self,
        txn: &mut Txn,
        def: TableDef,
        names: &[String],
    ) -> SqlResult<TableDef> {
        let engine = self.db.engine.clone();
        if !def.pk.is_empty() {
            return Err(SqlError::InvalidTableDefinition(format!(
                "multiple primary keys for table \"{}\" are not allowed",
                def.name
            )));
        }
        let mut pk = Vec::with_capacity(names.len());
        for cname in names {
            let i = def.column_index(cname).ok_or_else(|| {
                SqlError::UndefinedColumn(format!("{cname}\" named in key does not exist"))
            })?;
            if pk.contains(&i) {
                return Err(SqlError::DuplicateColumn(cname.clone()));
            }
            pk.push(i);
        }
        let mut rebuilt = def.clone();
        rebuilt.pk = pk;
        rebuilt.indexes.clear();
        for &i in &rebuilt.pk {
            rebuilt.columns[i].not_null = true;
        }
        rebuilt.tree = engine.create_tree_in(txn)?;
        // Copy the rows batch by batch (bounded memory): each keeps its encoded value and gets
        // its primary-key key.
        let mut from: Option<Vec<u8>> = None;
        loop {
            self.info.cancel.check()?;
            let lower = match &from {
                Some(k) => std::ops::Bound::Excluded(k.as_slice()),
                None => std::ops::Bound::Unbounded,
            };
            let batch = engine.scan(
                txn,
                def.tree,
                lower,
                std::ops::Bound::Unbounded,
                crate::query::SCAN_BATCH_ROWS,
            )?;
            let full = batch.len() == crate::query::SCAN_BATCH_ROWS;
            for (k, value) in &batch {
                let row = decode_row(value, def.columns.len())?;
                for &i in &rebuilt.pk {
                    if row[i].is_null() {
                        return Err(SqlError::NotNullInExisting {
                            table: def.name.clone(),
                            column: def.columns[i].name.clone(),
                        });
                    }
                }
                match engine.insert(txn, rebuilt.tree, &pk_key(&rebuilt, &row), value) {
                    Ok(()) => {}
                    Err(EngineError::DuplicateKey) => {
                        let SqlError::UniqueViolation { detail, .. } =
                            unique_violation(&rebuilt, &row)
                        else {
                            unreachable!("unique_violation returns UniqueViolation")
                        };
                        return Err(SqlError::UniqueIndexBuild {
                            index: rebuilt.pk_name(),
                            detail: detail.replace("already exists", "is duplicated"),
                        });
                    }
                    Err(e) => return Err(e.into()),
                }
                from = Some(k.clone());
            }
            if !full {
                break;
            }
        }
        // The entries of every index point at rows by the new key: rebuild them on new trees
        // (an index keeps its name and OID).
        let work_mem = self.maintenance_work_mem_bytes();
        for ix in &def.indexes {
            let mut ix = ix.clone();
            ix.tree = engine.create_tree_in(txn)?;
            index::build(&engine, txn, &rebuilt, &ix, work_mem, &self.info.cancel)?;
            rebuilt.indexes.push(ix);
        }
        Ok(rebuilt)
    }

    /// `COPY t [(cols)] TO STDOUT` or `COPY (query) TO STDOUT`, text or CSV. The lines are
    /// encoded as the rows come and kept in a store that spills to a temporary file past the
    /// result budget, so a table of any size can be copied out.
    fn copy_out(
        &mut self,
        txn: &mut Txn,
        source: &ast::CopySource,
        options: &[ast::CopyOption],
        legacy: &[ast::CopyLegacyOption],
        params: &[Value],
    ) -> SqlResult<Output> {
        let format = CopyFormat::from_options(options, legacy)?;
        let engine = &self.db.engine;
        let mut lines = CopyLines {
            format: &format,
            store: RowStore::new(1, self.result_memory_bytes()),
        };
        let columns = match source {
            ast::CopySource::Table {
                table_name,
                columns,
            } => {
                let def = crate::namespace::table(engine, txn, table_name)?;
                let targets = copy_targets(&def, columns)?;
                let names: Vec<String> = targets
                    .iter()
                    .map(|&i| def.columns[i].name.clone())
                    .collect();
                lines.header(&names)?;
                let mut row = Vec::with_capacity(targets.len());
                matching_rows(
                    &self.executor(txn, params),
                    &def,
                    None,
                    &Access::Full,
                    None,
                    None,
                    |_, r| {
                        row.clear();
                        row.extend(targets.iter().map(|&i| r[i].clone()));
                        lines.encode(&row)
                    },
                )?;
                names.len()
            }
            ast::CopySource::Query(q) if cte::is_data_modifying_with(q) => {
                match self.run_data_modifying_with(txn, q, params)? {
                    Output::Rows { columns, rows } | Output::Returning { columns, rows, .. } => {
                        let names: Vec<String> = columns.into_iter().map(|c| c.name).collect();
                        lines.header(&names)?;
                        for r in &rows {
                            lines.encode(r)?;
                        }
                        names.len()
                    }
                    _ => {
                        return Err(SqlError::NotSupported(
                            "COPY query must have a RETURNING clause".into(),
                        ));
                    }
                }
            }
            ast::CopySource::Query(q) => {
                let mut types = vec![None; params.len()];
                let plan = self.planner(engine, txn).bind_query(q, &mut types)?;
                let names: Vec<String> = plan.columns.iter().map(|c| c.name.clone()).collect();
                lines.header(&names)?;
                self.executor(txn, params)
                    .run_into(&plan, None, &mut lines)?;
                names.len()
            }
        };
        let store = lines.store;
        if store.spilled() {
            return Ok(Output::StoredCopyOut {
                columns,
                lines: store,
            });
        }
        let lines = store
            .into_memory()
            .unwrap_or_default()
            .into_iter()
            .map(|mut r| match r.pop() {
                Some(Value::Text(l)) => l,
                _ => unreachable!("a COPY line is one text value"),
            })
            .collect();
        Ok(Output::CopyOut { columns, lines })
    }

    /// Starts `COPY t [(cols)] FROM STDIN`: checks the table and options and opens the
    /// statement's transaction. Returns the number of columns the data must have.
    pub fn copy_in_start(&mut self, stmt: &ast::Statement) -> SqlResult<usize> {
        let ast::Statement::Copy {
            source,
            to: false,
            options,
            legacy_options,
            ..
        } = stmt
        else {
            return Err(SqlError::Internal("not a COPY FROM statement".into()));
        };
        let ast::CopySource::Table {
            table_name,
            columns,
        } = source
        else {
            return Err(SqlError::Syntax("COPY FROM needs a table".into()));
        };
        let mut txn = match self.txn.take() {
            Some(t) => t,
            None => self.db.engine.begin(),
        };
        self.db.engine.new_statement(&mut txn);
        let started = (|| {
            let format = CopyFormat::from_options(options, legacy_options)?;
            let def = crate::namespace::table(&self.db.engine, &txn, table_name)?;
            let targets = copy_targets(&def, columns)?;
            let mut defaults = Vec::new();
            for i in 0..def.columns.len() {
                if !targets.contains(&i) && def.columns[i].default.is_some() {
                    defaults.push((i, self.bind_default(&txn, &def, i)?));
                }
            }
            let checks = self.bind_checks(&txn, &def)?;
            Ok::<_, SqlError>((format, def, targets, defaults, checks))
        })();
        match started {
            Ok((format, def, targets, defaults, checks)) => {
                let n = targets.len();
                self.txn = Some(txn);
                self.copy_in = Some(CopyIn {
                    def,
                    targets,
                    defaults,
                    checks,
                    splitter: LineSplitter::new(format),
                    rows: 0,
                });
                Ok(n)
            }
            Err(e) => {
                self.fail_statement(txn);
                Err(e)
            }
        }
    }

    /// Feeds one chunk of COPY data: complete lines become rows in the transaction at once.
    pub fn copy_in_data(&mut self, data: &[u8]) -> SqlResult<()> {
        let _clock = crate::datetime::install(self.clock());
        let _names = crate::namespace::install(self.name_context());
        if self.copy_error.is_some() {
            return Ok(());
        }
        let Some(mut copy) = self.copy_in.take() else {
            return Err(SqlError::Internal("no COPY in progress".into()));
        };
        let Some(mut txn) = self.txn.take() else {
            return Err(SqlError::Internal("COPY without a transaction".into()));
        };
        let db = self.db.clone();
        let cancel = self.info.cancel.clone();
        let r = copy.splitter.feed(data, |fields| {
            cancel.check()?;
            copy_row(
                &db,
                &mut txn,
                (&copy.def, &copy.targets, &copy.defaults, &copy.checks),
                fields,
                (&self.info, &self.sequences),
            )?;
            copy.rows += 1;
            Ok(())
        });
        match r {
            Ok(()) => {
                self.txn = Some(txn);
                self.copy_in = Some(copy);
                Ok(())
            }
            Err(e) => {
                self.fail_statement(txn);
                self.copy_error = Some(copy_context(e, &copy));
                Ok(())
            }
        }
    }

    /// Ends COPY FROM STDIN: the statement succeeds (and an implicit transaction commits).
    pub fn copy_in_done(&mut self) -> SqlResult<Executed> {
        let _clock = crate::datetime::install(self.clock());
        let _names = crate::namespace::install(self.name_context());
        if let Some(e) = self.copy_error.take() {
            return Err(e);
        }
        let Some(mut copy) = self.copy_in.take() else {
            return Err(SqlError::Internal("no COPY in progress".into()));
        };
        let Some(mut txn) = self.txn.take() else {
            return Err(SqlError::Internal("COPY without a transaction".into()));
        };
        let db = self.db.clone();
        let r = copy.splitter.finish(|fields| {
            copy_row(
                &db,
                &mut txn,
                (&copy.def, &copy.targets, &copy.defaults, &copy.checks),
                fields,
                (&self.info, &self.sequences),
            )?;
            copy.rows += 1;
            Ok(())
        });
        if let Err(e) = r {
            self.fail_statement(txn);
            return Err(copy_context(e, &copy));
        }
        let output = command(format!("COPY {}", copy.rows));
        let sequence_lsn = self.sequences.take_wait_lsn();
        if self.in_block {
            self.txn = Some(txn);
            return Ok(Executed {
                output,
                commit_lsn: sequence_lsn,
                notice: None,
            });
        }
        let lsn = self.commit(txn)?;
        Ok(Executed {
            output,
            commit_lsn: lsn.max(sequence_lsn),
            notice: None,
        })
    }

    /// The client gave up the COPY (CopyFail) or the connection broke: the statement fails.
    pub fn copy_in_fail(&mut self, message: &str) -> SqlError {
        self.copy_in = None;
        if let Some(e) = self.copy_error.take() {
            return e;
        }
        if let Some(txn) = self.txn.take() {
            self.fail_statement(txn);
        }
        SqlError::QueryCanceledWith(format!("COPY from stdin failed: {message}"))
    }

    /// Whether a COPY FROM STDIN is waiting for data.
    #[must_use]
    pub fn copy_in_progress(&self) -> bool {
        self.copy_in.is_some()
    }
}

fn copy_context(e: SqlError, copy: &CopyIn) -> SqlError {
    match e {
        SqlError::BadCopyFileFormat(m) => SqlError::BadCopyFileFormat(format!(
            "{m} (COPY {}, line {})",
            copy.def.name, copy.splitter.line
        )),
        other => other,
    }
}

/// The columns a COPY names, or all of them.
fn copy_targets(def: &TableDef, columns: &[ast::Ident]) -> SqlResult<Vec<usize>> {
    if columns.is_empty() {
        return Ok((0..def.columns.len()).collect());
    }
    let mut t = Vec::with_capacity(columns.len());
    for c in columns {
        let name = ident_name(c);
        let i = def.column_index(&name).ok_or_else(|| {
            SqlError::UndefinedColumn(format!("{name}\" of relation \"{}", def.name))
        })?;
        if t.contains(&i) {
            return Err(SqlError::DuplicateColumn(name));
        }
        t.push(i);
    }
    Ok(t)
}

/// Inserts one COPY row given as text fields.
/// The table side of a COPY FROM: definition, target columns, bound defaults and checks.
type CopyTarget<'a> = (
    &'a TableDef,
    &'a [usize],
    &'a [(usize, Expr)],
    &'a [(String, Expr)],
);

/// Inserts one COPY row given as text fields; the other columns take their defaults.
fn copy_row(
    db: &Database,
    txn: &mut Txn,
    (def, targets, defaults, checks): CopyTarget<'_>,
    fields: Vec<Option<String>>,
    (info, sequences): (&SessionInfo, &SessionSequences),
) -> SqlResult<()> {
    if fields.len() > targets.len() {
        return Err(SqlError::BadCopyFileFormat(
            "extra data after last expected column".into(),
        ));
    }
    if fields.len() < targets.len() {
        return Err(SqlError::BadCopyFileFormat(format!(
            "missing data for column \"{}\"",
            def.columns[targets[fields.len()]].name
        )));
    }
    let mut row = vec![Value::Null; def.columns.len()];
    for (f, &i) in fields.into_iter().zip(targets) {
        if let Some(text) = f {
            let col = &def.columns[i];
            row[i] = match col.ty {
                DataType::Interval => col.assign(Value::Text(text))?,
                _ => col.fit(crate::types::parse_text(&text, col.ty)?)?,
            };
        }
    }
    if !defaults.is_empty() || !checks.is_empty() {
        let exec = Executor::new(&db.engine, txn, &[], info).with_sequences(SequenceAccess {
            shared: &db.sequences,
            session: sequences,
        });
        for (i, e) in defaults {
            let col = &def.columns[*i];
            row[*i] = col.assign(e.eval(&exec.cx(&[], None))?)?;
        }
        let cx = exec.cx(&row, None);
        for (name, e) in checks {
            if e.eval(&cx)? == Value::Bool(false) {
                return Err(SqlError::CheckViolation {
                    message: format!(
                        "new row for relation \"{}\" violates check constraint \"{name}\"",
                        def.name
                    ),
                    detail: failing_row(&row),
                });
            }
        }
    }
    check_not_null(def, &row)?;
    check_foreign_keys(&db.engine, txn, None, def, &row, None)?;
    let key = if def.pk.is_empty() {
        rowid_key(db.next_rowid(txn, def.tree)?)
    } else {
        pk_key(def, &row)
    };
    let mut buf = Vec::new();
    encode_row(&row, &mut buf);
    match db.engine.insert(txn, def.tree, &key, &buf) {
        Ok(()) => {}
        Err(EngineError::DuplicateKey) => return Err(unique_violation(def, &row)),
        Err(e) => return Err(e.into()),
    }
    index::insert_entries(&db.engine, txn, def, &row, &key)
}

/// Column positions of the names in a key or unique constraint.
fn key_positions(def: &TableDef, names: &[String]) -> SqlResult<Vec<usize>> {
    names
        .iter()
        .map(|n| {
            def.column_index(n).ok_or_else(|| {
                SqlError::UndefinedColumn(format!("{n}\" named in key does not exist"))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::run;

    fn session() -> Session {
        crate::test_support::session_with(SessionInfo {
            database: "db".into(),
            user: "alice".into(),
            backend_pid: 1,
            ..SessionInfo::default()
        })
    }

    /// A cursor's rows are the DECLARE's snapshot: a held one keeps them after its COMMIT,
    /// however the table changes; one without HOLD needs a block and ends with it; a cursor's
    /// rows beyond `work_mem` are kept in a file; statements after a DECLARE in the same text
    /// are each read.
    #[test]
    fn cursors_keep_the_declare_snapshot_and_end_with_their_transaction() {
        let mut s = session();
        run(
            &mut s,
            "CREATE TABLE t (a int PRIMARY KEY, b text); \
             INSERT INTO t SELECT g, repeat('b', 40) FROM generate_series(1, 3000) g",
        );
        assert!(matches!(
            fails(&mut s, "DECLARE c CURSOR FOR SELECT a FROM t"),
            SqlError::NoActiveTransaction(_)
        ));
        run(&mut s, "SET work_mem = '64kB'");
        run(
            &mut s,
            "DECLARE h CURSOR WITH HOLD FOR SELECT a, b FROM t ORDER BY a",
        );
        assert!(
            s.cursors
                .get("h")
                .is_some_and(crate::cursor::Cursor::spilled)
        );
        run(&mut s, "DELETE FROM t WHERE a > 1");
        assert_eq!(run(&mut s, "FETCH LAST FROM h")[0][0], "3000");
        assert_eq!(
            run(
                &mut s,
                "BEGIN; DECLARE c CURSOR FOR SELECT a FROM t; FETCH ALL FROM c"
            ),
            [["1"]]
        );
        run(&mut s, "COMMIT");
        assert!(matches!(
            fails(&mut s, "FETCH c"),
            SqlError::UndefinedCursor(_)
        ));
        assert_eq!(run(&mut s, "FETCH ABSOLUTE 2 FROM h")[0][0], "2");
        run(&mut s, "CLOSE ALL");
        assert!(s.cursors.is_empty());
        // Refused with 0A000: locking cursors and positioned writes through them.
        assert!(matches!(
            fails(
                &mut s,
                "DECLARE u CURSOR WITH HOLD FOR SELECT a FROM t FOR UPDATE"
            ),
            SqlError::FeatureNotSupported(_)
        ));
        assert!(matches!(
            parse("UPDATE t SET b = 'x' WHERE CURRENT OF h"),
            Err(SqlError::FeatureNotSupported(_))
        ));
    }

    fn fails(s: &mut Session, sql: &str) -> SqlError {
        let stmt = parse(sql).unwrap().pop().unwrap();
        s.execute(&stmt, &[]).unwrap_err()
    }

    #[test]
    fn the_user_schema_comes_first_and_schemas_survive_a_restart() {
        let mut s = session();
        run(
            &mut s,
            "create table t (a int); insert into t values (1);
             create schema authorization alice;
             create table t (b text); insert into t values ('mine')",
        );
        // `"$user"` (alice) is first on the default search path: the new table went there.
        assert_eq!(run(&mut s, "select b from t"), [["mine"]]);
        assert_eq!(run(&mut s, "select a from public.t"), [["1"]]);
        assert_eq!(
            run(&mut s, "select current_schemas(false)"),
            [["{alice,public}"]]
        );
        assert!(matches!(
            fails(&mut s, "create schema authorization bob"),
            SqlError::UndefinedObject(_)
        ));
        // Everything is in the catalog: a fresh instance over the same store sees it.
        let engine = s.engine().clone();
        drop(s);
        let mut s2 = Session::new(
            Database::new(engine),
            SessionInfo {
                user: "alice".into(),
                ..SessionInfo::default()
            },
        );
        assert_eq!(run(&mut s2, "select b from alice.t"), [["mine"]]);
        assert_eq!(run(&mut s2, "select b from t"), [["mine"]]);
        run(&mut s2, "set search_path = public");
        assert_eq!(run(&mut s2, "select a from t"), [["1"]]);
        assert_eq!(
            run(
                &mut s2,
                "select nspname from pg_namespace where nspname = 'alice'"
            ),
            [["alice"]]
        );
    }

    #[test]
    fn temporary_relations_are_private_and_end_with_their_session() {
        let mut a = session();
        let db = a.db.clone();
        let mut b = Session::new(
            db.clone(),
            SessionInfo {
                user: "alice".into(),
                backend_pid: 2,
                ..SessionInfo::default()
            },
        );
        run(
            &mut a,
            "create table t (x int); insert into t values (1);
             create temp table t (a int primary key, b text); create index on t (b);
             insert into t values (7, 'seven'); create temp sequence q; create temp view v as select a from t",
        );
        assert_eq!(run(&mut a, "select a, b from t"), [["7", "seven"]]);
        assert_eq!(run(&mut a, "select x from public.t"), [["1"]]);
        assert_eq!(run(&mut b, "select x from t"), [["1"]], "b reads public.t");
        assert!(matches!(
            fails(&mut b, "select * from pg_temp_1.t"),
            SqlError::UndefinedTable(_)
        ));
        assert!(matches!(
            fails(&mut b, "select * from v"),
            SqlError::UndefinedTable(_)
        ));
        assert_eq!(
            run(
                &mut b,
                "select count(*) from pg_class where relname in ('t_pkey', 'q', 'v')"
            ),
            [["0"]],
            "another session's temporary relations are not listed"
        );
        // b's own temporary table of the same name is another table.
        run(
            &mut b,
            "create temp table t (a int); insert into t values (8)",
        );
        assert_eq!(run(&mut b, "select a from t"), [["8"]]);
        assert_eq!(run(&mut a, "select a from t"), [["7"]]);
        let in_catalog = |db: &Database| {
            let txn = db.engine.begin();
            let schemas = crate::namespace::temp_schemas_in_catalog(&db.engine, &txn).unwrap();
            db.engine.rollback(txn);
            schemas
        };
        assert_eq!(in_catalog(&db), ["pg_temp_1", "pg_temp_2"]);
        // The end of a session (however its connection ended) takes its relations away.
        drop(a);
        assert_eq!(in_catalog(&db), ["pg_temp_2"]);
        assert_eq!(run(&mut b, "select x from public.t"), [["1"]]);
        // A crash leaves them for the next start, which removes them.
        std::mem::forget(b);
        assert_eq!(db.drop_leftover_temp_relations().unwrap(), 1);
        assert!(in_catalog(&db).is_empty());
        let mut c = Session::new(db, SessionInfo::default());
        assert_eq!(run(&mut c, "select x from t"), [["1"]]);
        // A temporary table stays in its schema; a table moves into another, not into one.
        run(&mut c, "create schema s; create temp table tt (a int)");
        for sql in [
            "alter table tt set schema s",
            "alter table t set schema pg_temp",
        ] {
            assert!(matches!(
                fails(&mut c, sql),
                SqlError::NotSupported(m) if m == "cannot move objects into or out of temporary schemas"
            ));
        }
        run(&mut c, "alter table t set schema s");
        assert_eq!(run(&mut c, "select x from s.t"), [["1"]]);
    }

    #[test]
    fn defaults_fill_omitted_columns_and_show_as_postgresql_shows_them() {
        let mut s = session();
        run(
            &mut s,
            "create table t (id serial primary key, a int default 5, b text default 'x',
                 d int default -1, e varchar(5) default 'ab', g bigint default 1+2, n int);
             insert into t (n) values (1);
             insert into t (a, n) values (default, 2), (7, default);
             insert into t default values",
        );
        assert_eq!(
            run(&mut s, "select id, a, b, d, e, g, n from t order by id"),
            [
                ["1", "5", "x", "-1", "ab", "3", "1"],
                ["2", "5", "x", "-1", "ab", "3", "2"],
                ["3", "7", "x", "-1", "ab", "3", "NULL"],
                ["4", "5", "x", "-1", "ab", "3", "NULL"],
            ]
        );
        assert_eq!(
            run(
                &mut s,
                "select adnum, pg_get_expr(adbin, adrelid) from pg_attrdef order by adnum"
            ),
            [
                ["1", "nextval('t_id_seq'::regclass)"],
                ["2", "5"],
                ["3", "'x'::text"],
                ["4", "'-1'::integer"],
                ["5", "'ab'::character varying"],
                ["6", "(1 + 2)"],
            ]
        );
        run(
            &mut s,
            "alter table t alter column a drop default; alter table t alter column n set default 9;
             update t set b = default, n = default where id = 3",
        );
        assert_eq!(
            run(
                &mut s,
                "insert into t (b) values ('y') returning a, n, id * 10 as x"
            ),
            [["NULL", "9", "50"]]
        );
        assert_eq!(run(&mut s, "select b, n from t where id = 3"), [["x", "9"]]);
        // SET NOT NULL checks the rows there; DROP NOT NULL of a key column is refused.
        assert!(matches!(
            fails(&mut s, "alter table t alter column a set not null"),
            SqlError::NotNullInExisting { .. }
        ));
        assert!(matches!(
            fails(&mut s, "alter table t alter column id drop not null"),
            SqlError::InvalidTableDefinition(_)
        ));
        assert!(matches!(
            fails(&mut s, "create table u (a int default b)"),
            SqlError::NotSupported(_)
        ));
        // A rolled-back ALTER leaves the old default.
        run(
            &mut s,
            "begin; alter table t alter column n set default 1; rollback",
        );
        assert_eq!(
            run(
                &mut s,
                "select pg_get_expr(adbin, adrelid) from pg_attrdef where adnum = 7"
            ),
            [["9"]]
        );
    }

    #[test]
    fn sequences_follow_postgresql_and_never_repeat_a_value() {
        let mut s = session();
        run(&mut s, "create sequence s maxvalue 3");
        assert!(matches!(
            fails(&mut s, "select currval('s')"),
            SqlError::ObjectNotInPrerequisiteState(_)
        ));
        assert!(matches!(
            fails(&mut s, "select lastval()"),
            SqlError::ObjectNotInPrerequisiteState(_)
        ));
        assert_eq!(
            run(&mut s, "select nextval('s'), nextval('s')"),
            [["1", "2"]]
        );
        // Not transactional: a rolled-back nextval is not given back.
        run(&mut s, "begin; select nextval('s'); rollback");
        let e = fails(&mut s, "select nextval('s')");
        assert_eq!(
            e.to_string(),
            "nextval: reached maximum value of sequence \"s\" (3)"
        );
        assert!(matches!(e, SqlError::SequenceLimit(_)));
        assert_eq!(run(&mut s, "select currval('s'), lastval()"), [["3", "3"]]);
        assert!(matches!(
            fails(&mut s, "select setval('s', 0)"),
            SqlError::NumericValueOutOfRange(_)
        ));
        assert_eq!(
            run(&mut s, "select setval('s', 1, false), nextval('s')"),
            [["1", "1"]]
        );
        run(
            &mut s,
            "create sequence c increment -2 minvalue -5 maxvalue 0 cycle",
        );
        assert_eq!(
            run(
                &mut s,
                "select nextval('c'), nextval('c'), nextval('c'), nextval('c')"
            ),
            [["0", "-2", "-4", "0"]]
        );
        assert!(matches!(
            fails(&mut s, "create sequence s"),
            SqlError::DuplicateTable(_)
        ));
        run(&mut s, "create sequence if not exists s");
        assert_eq!(s.take_notices().len(), 1);
        assert!(matches!(
            fails(&mut s, "create sequence z increment 0"),
            SqlError::InvalidParameterValue(_)
        ));
        // Options in any order, as a dump writes them.
        run(
            &mut s,
            "create sequence d as integer start with 5 increment by 2 no minvalue no maxvalue cache 1",
        );
        assert_eq!(
            run(&mut s, "select nextval('d'), nextval('d')"),
            [["5", "7"]]
        );
        // Values come from blocks reserved durably: a fresh instance over the same store (a
        // restart) continues after the reserved block, never handing a value out twice.
        run(&mut s, "create sequence big");
        let first: i64 = run(&mut s, "select nextval('big')")[0][0].parse().unwrap();
        let engine = s.engine().clone();
        let mut s2 = Session::new(Database::new(engine), SessionInfo::default());
        let after: i64 = run(&mut s2, "select nextval('big')")[0][0].parse().unwrap();
        assert_eq!(first, 1);
        assert_eq!(after, 1 + i64::from(crate::sequence::SEQUENCE_BLOCK_VALUES));
        // Serial columns own their sequence; DROP TABLE drops it.
        run(&mut s, "create table t (id bigserial, v text)");
        assert_eq!(
            run(
                &mut s,
                "select pg_get_serial_sequence('t', 'id'), relkind from pg_class where relname = 't_id_seq'"
            ),
            [["public.t_id_seq", "S"]]
        );
        assert!(matches!(
            fails(&mut s, "drop sequence t_id_seq"),
            SqlError::DependentObjectsStillExist { .. }
        ));
        run(&mut s, "drop table t");
        assert!(run(&mut s, "select * from pg_class where relname = 't_id_seq'").is_empty());
        assert!(matches!(
            fails(&mut s, "drop sequence t_id_seq"),
            SqlError::UndefinedRelation(_)
        ));
        // Identity columns.
        run(
            &mut s,
            "create table i (id int generated always as identity (increment by 5 start with 10), v int)",
        );
        assert_eq!(
            run(&mut s, "insert into i (v) values (1), (2) returning *"),
            [["10", "1"], ["15", "2"]]
        );
        assert!(matches!(
            fails(&mut s, "insert into i (id, v) values (1, 1)"),
            SqlError::GeneratedAlways(_)
        ));
        assert!(matches!(
            fails(&mut s, "update i set id = 1"),
            SqlError::GeneratedAlwaysUpdate(_)
        ));
        assert_eq!(
            run(
                &mut s,
                "select attname, attidentity, atthasdef from pg_attribute where attrelid = 'i'::regclass and attnum > 0"
            ),
            [["id", "a", "f"], ["v", "", "f"]]
        );
        assert_eq!(
            run(&mut s, "delete from i where v = 2 returning id, v + 1"),
            [["15", "3"]]
        );
    }

    #[test]
    fn on_conflict_does_nothing_or_updates_as_postgresql_does() {
        let mut s = session();
        run(
            &mut s,
            "create table oc (id int primary key, v int, u int unique);
             insert into oc values (1, 1, 1)",
        );
        assert_eq!(
            run(
                &mut s,
                "insert into oc values (1, 5, 9) on conflict (id) do update set v = oc.v + excluded.v returning *"
            ),
            [["1", "6", "1"]]
        );
        assert!(matches!(
            fails(
                &mut s,
                "insert into oc values (2, 5, 1) on conflict (v) do nothing"
            ),
            SqlError::InvalidColumnReference(_)
        ));
        assert!(matches!(
            fails(
                &mut s,
                "insert into oc values (2, 5, 1) on conflict on constraint nope do nothing"
            ),
            SqlError::UndefinedObject(_)
        ));
        assert!(matches!(
            fails(
                &mut s,
                "insert into oc values (1, 1, 1), (1, 2, 2) on conflict (id) do update set v = excluded.v"
            ),
            SqlError::CardinalityViolationWithHint { .. }
        ));
        assert!(
            run(
                &mut s,
                "insert into oc values (1, 1, 1), (1, 2, 2) on conflict do nothing returning *"
            )
            .is_empty()
        );
        // A conflict on an index that is not the arbiter is a unique violation.
        assert!(matches!(
            fails(
                &mut s,
                "insert into oc values (3, 1, 1) on conflict (id) do update set v = 0"
            ),
            SqlError::UniqueViolation { .. }
        ));
        assert!(matches!(
            fails(
                &mut s,
                "insert into oc values (3, 1, 1) on conflict do update set v = 0"
            ),
            SqlError::Syntax(_)
        ));
        assert!(
            run(&mut s, "insert into oc values (1, 7, 7) on conflict (id) do update set v = 0 where oc.v > 100 returning *")
                .is_empty()
        );
        assert_eq!(
            run(
                &mut s,
                "insert into oc values (5, 7, 1) on conflict on constraint oc_u_key do update set v = excluded.v returning *"
            ),
            [["1", "7", "1"]]
        );
        // New rows go in, conflicting ones are updated, in one statement.
        assert_eq!(
            run(
                &mut s,
                "insert into oc values (1, 0, 1), (2, 2, 2) on conflict (u) do update set v = excluded.v + 100 returning id, v"
            ),
            [["1", "100"], ["2", "2"]]
        );
        assert_eq!(
            run(&mut s, "select id, v, u from oc order by id"),
            [["1", "100", "1"], ["2", "2", "2"]]
        );
    }

    #[test]
    fn check_constraints_are_named_printed_and_enforced_as_in_postgresql() {
        let mut s = session();
        run(
            &mut s,
            "create table ck (a int check (a > 0), b int, c text, check (a < b),
                 check (b > 0 and c <> 'x'), constraint named check (b < 1000))",
        );
        assert_eq!(
            run(
                &mut s,
                "select conname, contype, pg_get_constraintdef(oid), pg_get_constraintdef(oid, true), conkey
                 from pg_constraint where conrelid = 'ck'::regclass order by 1"
            ),
            [
                ["ck_a_check", "c", "CHECK ((a > 0))", "CHECK (a > 0)", "{1}"],
                ["ck_check", "c", "CHECK ((a < b))", "CHECK (a < b)", "{1,2}"],
                [
                    "ck_check1",
                    "c",
                    "CHECK (((b > 0) AND (c <> 'x'::text)))",
                    "CHECK (b > 0 AND c <> 'x'::text)",
                    "{2,3}"
                ],
                ["named", "c", "CHECK ((b < 1000))", "CHECK (b < 1000)", "{2}"],
            ]
        );
        let e = fails(&mut s, "insert into ck values (-1, 5, 'a')");
        assert_eq!(
            e,
            SqlError::CheckViolation {
                message: "new row for relation \"ck\" violates check constraint \"ck_a_check\""
                    .into(),
                detail: "Failing row contains (-1, 5, a).".into(),
            }
        );
        // NULL passes a CHECK.
        run(&mut s, "insert into ck values (1, 5, null)");
        assert!(matches!(
            fails(&mut s, "update ck set b = 2000"),
            SqlError::CheckViolation { .. }
        ));
        let e = fails(&mut s, "alter table ck add constraint pos check (a > 3)");
        assert_eq!(
            e.to_string(),
            "check constraint \"pos\" of relation \"ck\" is violated by some row"
        );
        run(&mut s, "alter table ck add check (b > 1)");
        assert_eq!(
            run(
                &mut s,
                "select relchecks from pg_class where relname = 'ck'"
            ),
            [["5"]]
        );
        run(&mut s, "alter table ck drop constraint named");
        run(&mut s, "update ck set b = 2000");
        run(
            &mut s,
            "create table ck2 (a int, check (a > 0), check (a > 1))",
        );
        assert_eq!(
            run(
                &mut s,
                "select conname from pg_constraint where conrelid = 'ck2'::regclass order by 1"
            ),
            [["ck2_a_check"], ["ck2_a_check1"]]
        );
    }

    fn detail_of(e: &SqlError) -> (String, String) {
        match e {
            SqlError::DependentObjectsStillExist {
                message, detail, ..
            } => (message.clone(), detail.clone()),
            other => panic!("not 2BP01: {other:?}"),
        }
    }

    #[test]
    fn views_record_what_they_read_and_drops_follow_it() {
        let mut s = session();
        run(
            &mut s,
            "create table t (a int, b int, c int);
             create view v as select a, b + 1 as bb from t;
             create view v2 as select a from v;
             create view v3 as select * from t;
             create view v4 as select count(*) from t",
        );
        // Columns read, by number; a relation read for none of its columns as a whole.
        let deps = run(
            &mut s,
            "select c.relname, d.refobjid::regclass::text, d.refobjsubid, d.deptype
             from pg_depend d join pg_rewrite r on r.oid = d.objid
             join pg_class c on c.oid = r.ev_class
             where d.classid = 'pg_rewrite'::regclass and d.refobjid <> c.oid
             order by 1, 2, 3",
        );
        let want: Vec<Vec<&str>> = vec![
            vec!["v", "t", "1", "n"],
            vec!["v", "t", "2", "n"],
            vec!["v2", "v", "1", "n"],
            vec!["v3", "t", "1", "n"],
            vec!["v3", "t", "2", "n"],
            vec!["v3", "t", "3", "n"],
            vec!["v4", "t", "0", "n"],
        ];
        assert_eq!(deps, want);
        let (m, d) = detail_of(&fails(&mut s, "drop table t"));
        assert_eq!(m, "cannot drop table t because other objects depend on it");
        assert_eq!(
            d,
            "view v depends on table t\nview v2 depends on view v\n\
             view v3 depends on table t\nview v4 depends on table t"
        );
        let (m, d) = detail_of(&fails(&mut s, "alter table t drop column b"));
        assert_eq!(
            m,
            "cannot drop column b of table t because other objects depend on it"
        );
        assert_eq!(
            d,
            "view v depends on column b of table t\nview v2 depends on view v\n\
             view v3 depends on column b of table t"
        );
        let (_, d) = detail_of(&fails(&mut s, "drop view v"));
        assert_eq!(d, "view v2 depends on view v");
        // Dropping v3 frees column c; the column numbers recorded after it move down.
        run(&mut s, "drop view v3; alter table t drop column c");
        run(
            &mut s,
            "alter table t add column z int; alter table t drop column z",
        );
        assert_eq!(run(&mut s, "select count(*) from v"), [["0"]]);
        // CASCADE takes the views along, in one statement that a rollback undoes.
        run(&mut s, "begin; drop table t cascade");
        assert_eq!(
            s.take_notices(),
            vec![format!(
                "drop cascades to 3 other objects{NOTICE_DETAIL}drop cascades to view v\n\
                 drop cascades to view v2\ndrop cascades to view v4"
            )]
        );
        run(&mut s, "rollback");
        assert_eq!(run(&mut s, "select count(*) from v2"), [["0"]]);
        run(&mut s, "drop view v cascade");
        assert_eq!(
            s.take_notices(),
            vec!["drop cascades to view v2".to_string()]
        );
        assert!(matches!(
            fails(&mut s, "select * from v2"),
            SqlError::UndefinedTable(_)
        ));
    }

    #[test]
    fn a_view_stored_without_dependencies_gets_them_when_asked() {
        let mut s = session();
        run(
            &mut s,
            "create schema s; create table s.t (a int, b int); create table u (x int);
             create view old as select b from s.t join u on x = a",
        );
        // Rewrite the view's entry as a catalog from before dependencies were recorded.
        let engine = s.db.engine.clone();
        let mut txn = engine.begin();
        let mut v = crate::query::lookup_view(&engine, &txn, "old")
            .unwrap()
            .unwrap();
        v.depends = None;
        engine.put(&mut txn, CATALOG, b"old", &v.encode()).unwrap();
        engine.commit(txn).unwrap();
        let txn = engine.begin();
        let back = crate::query::lookup_view(&engine, &txn, "old")
            .unwrap()
            .unwrap();
        assert_eq!(back.depends, None);
        drop(txn);
        assert_eq!(run(&mut s, "select * from old"), Vec::<Vec<String>>::new());
        let (_, d) = detail_of(&fails(&mut s, "alter table s.t drop column b"));
        assert_eq!(d, "view old depends on column b of table s.t");
        let (_, d) = detail_of(&fails(&mut s, "drop table u"));
        assert_eq!(d, "view old depends on table u");
        // A column it does not read goes; one it reads stays.
        run(
            &mut s,
            "alter table u add column y int; alter table u drop column y",
        );
        let (m, d) = detail_of(&fails(&mut s, "drop schema s"));
        assert_eq!(m, "cannot drop schema s because other objects depend on it");
        assert_eq!(
            d,
            "table s.t depends on schema s\nview old depends on table s.t"
        );
    }

    #[test]
    fn set_schema_moves_a_table_with_what_belongs_to_it() {
        let mut s = session();
        run(
            &mut s,
            "create schema s2;
             create table mt (id serial primary key, v text unique, w int check (w > 0));
             create index mt_w_idx on mt (w);
             create table r (m int references mt (id));
             create view mv as select id, v from mt;
             insert into mt (v, w) values ('a', 1)",
        );
        assert!(matches!(
            fails(&mut s, "alter sequence mt_id_seq set schema s2"),
            SqlError::NotSupportedDetail { .. }
        ));
        assert!(matches!(
            fails(&mut s, "alter view mt set schema s2"),
            SqlError::WrongObjectType(m) if m == "\"mt\" is not a view"
        ));
        run(&mut s, "begin; alter table mt set schema s2; rollback");
        assert_eq!(run(&mut s, "select v from mt"), [["a"]]);
        run(&mut s, "alter table mt set schema s2");
        assert!(matches!(
            fails(&mut s, "select * from mt"),
            SqlError::UndefinedTable(_)
        ));
        // The view reads it where it went; defaults, indexes, keys and constraints came along.
        assert_eq!(run(&mut s, "select id, v from mv"), [["1", "a"]]);
        run(&mut s, "insert into s2.mt (v, w) values ('b', 2)");
        assert_eq!(run(&mut s, "select id from s2.mt where v = 'b'"), [["2"]]);
        assert!(matches!(
            fails(&mut s, "insert into s2.mt (v, w) values ('c', 0)"),
            SqlError::CheckViolation { .. }
        ));
        assert!(matches!(
            fails(&mut s, "insert into r values (7)"),
            SqlError::ForeignKeyViolation { .. }
        ));
        assert_eq!(
            run(
                &mut s,
                "select schemaname, indexname from pg_indexes where tablename = 'mt' order by 2"
            ),
            [["s2", "mt_pkey"], ["s2", "mt_v_key"], ["s2", "mt_w_idx"]]
        );
        assert_eq!(
            run(
                &mut s,
                "select pg_get_expr(adbin, adrelid) from pg_attrdef
                 where adrelid = 's2.mt'::regclass"
            ),
            [["nextval('s2.mt_id_seq'::regclass)"]]
        );
        run(
            &mut s,
            "create table dup (a int); create table s2.dup (a int)",
        );
        assert!(matches!(
            fails(&mut s, "alter table dup set schema s2"),
            SqlError::DuplicateRelation(m) if m == "relation \"dup\" already exists in schema \"s2\""
        ));
        // A view and a free sequence move too; back to public, the names are bare again.
        run(
            &mut s,
            "alter view mv set schema s2; create sequence q; alter sequence q set schema s2;
             alter table s2.mt set schema public",
        );
        assert_eq!(run(&mut s, "select count(*) from s2.mv"), [["2"]]);
        assert_eq!(run(&mut s, "select nextval('s2.q')"), [["1"]]);
        let txn = s.db.engine.begin();
        let mv = crate::query::lookup_view(&s.db.engine, &txn, "s2\0mv")
            .unwrap()
            .unwrap();
        assert_eq!(mv.sql, "SELECT id, v FROM mt");
        drop(txn);
        // Renaming a schema renames it in the queries of the views that read its relations.
        run(
            &mut s,
            "create schema r1; create table r1.t (a int); insert into r1.t values (7);
             create view rv as with w as (select 1 as b) select t.a from r1.t, w;
             alter schema r1 rename to r2",
        );
        assert_eq!(run(&mut s, "select * from rv"), [["7"]]);
        let txn = s.db.engine.begin();
        let rv = crate::query::lookup_view(&s.db.engine, &txn, "rv")
            .unwrap()
            .unwrap();
        assert!(rv.sql.contains("FROM r2.t, w"), "{}", rv.sql);
    }

    #[test]
    fn create_schema_runs_its_elements_inside_it_in_one_transaction() {
        let mut s = session();
        run(
            &mut s,
            "create schema e1 create view v as select a from t
                 create table t (a int primary key, b text) create index on t (b)
                 create sequence q start 5 grant select on t to alice",
        );
        assert_eq!(
            run(
                &mut s,
                "select c.relname, c.relkind from pg_class c join pg_namespace n
                 on n.oid = c.relnamespace where n.nspname = 'e1' order by 1"
            ),
            [
                ["q", "S"],
                ["t", "r"],
                ["t_b_idx", "i"],
                ["t_pkey", "i"],
                ["v", "v"]
            ]
        );
        assert!(matches!(
            fails(&mut s, "create schema e2 create table e1.x (a int)"),
            SqlError::InvalidSchemaDefinition(m)
                if m == "CREATE specifies a schema (e1) different from the one being created (e2)"
        ));
        assert!(matches!(
            fails(
                &mut s,
                "create schema e2 create table t (a int) create table t (b int)"
            ),
            SqlError::DuplicateTable(_)
        ));
        assert!(matches!(
            fails(
                &mut s,
                "create schema if not exists e2 create table t (a int)"
            ),
            SqlError::NotSupported(_)
        ));
        assert!(matches!(
            fails(
                &mut s,
                "create schema e2 create table t (a int) grant select on t to bob"
            ),
            SqlError::UndefinedObject(_)
        ));
        assert_eq!(
            run(
                &mut s,
                "select count(*) from pg_namespace where nspname = 'e2'"
            ),
            [["0"]]
        );
        run(
            &mut s,
            "begin; create schema e3 create table t (a int); rollback",
        );
        assert_eq!(
            run(
                &mut s,
                "select count(*) from pg_namespace where nspname = 'e3'"
            ),
            [["0"]]
        );
        assert!(matches!(
            parse("create schema e4 create function f() returns int"),
            Err(SqlError::Syntax(m)) if m == "syntax error at or near \"function\""
        ));
    }

    #[test]
    fn check_option_clauses_are_cut_from_create_view() {
        assert_eq!(
            check_option_suffix(
                "create view v as select a from t where a > 0 with local check option"
            ),
            Some((
                "create view v as select a from t where a > 0".into(),
                "local"
            ))
        );
        assert_eq!(
            check_option_suffix("CREATE VIEW v AS SELECT 1\n WITH CHECK  OPTION"),
            Some(("CREATE VIEW v AS SELECT 1".into(), "cascaded"))
        );
        assert_eq!(
            check_option_suffix("create view v as select 1 with cascaded check option"),
            Some(("create view v as select 1".into(), "cascaded"))
        );
        assert_eq!(
            check_option_suffix("create view v as select 1 with odd check option"),
            None
        );
        assert_eq!(check_option_suffix("create view v as select option"), None);
        let created = parse("create view v as select 1 as a with local check option").unwrap();
        let [ast::Statement::CreateView(cv)] = created.as_slice() else {
            panic!("not a CREATE VIEW: {created:?}");
        };
        assert_eq!(
            view_check_option(&cv.options).unwrap(),
            Some(crate::catalog::CheckOption::Local)
        );
    }

    #[test]
    fn views_expand_where_read_and_are_listed() {
        let mut s = session();
        run(
            &mut s,
            "create table vt (a int, b text);
             insert into vt values (1, 'x'), (2, 'y');
             create view v as select a, b from vt where a > 1;
             create view v2 (x) as select a * 10 from vt",
        );
        assert_eq!(run(&mut s, "select * from v"), [["2", "y"]]);
        assert_eq!(
            run(&mut s, "select * from v2 join v on v.a * 10 = v2.x"),
            [["20", "2", "y"]]
        );
        assert_eq!(
            run(
                &mut s,
                "select count(*) from (select x from v2 where x > 5) s"
            ),
            [["2"]]
        );
        assert!(matches!(
            fails(&mut s, "create or replace view v as select b from vt"),
            SqlError::InvalidTableDefinition(_)
        ));
        assert!(matches!(
            fails(
                &mut s,
                "create or replace view v as select a as z, b from vt"
            ),
            SqlError::InvalidTableDefinitionHint { .. }
        ));
        run(
            &mut s,
            "create or replace view v as select a, b, a + 1 as c from vt",
        );
        assert_eq!(run(&mut s, "select c from v order by c"), [["2"], ["3"]]);
        assert!(matches!(
            fails(&mut s, "drop view vt"),
            SqlError::WrongObjectTypeHint { .. }
        ));
        assert!(matches!(
            fails(&mut s, "drop table v"),
            SqlError::WrongObjectTypeHint { .. }
        ));
        // A simple view writes through to its table; one without updatable columns refuses.
        run(&mut s, "insert into v values (3, 'z')");
        assert_eq!(run(&mut s, "select b from vt where a = 3"), [["z"]]);
        run(&mut s, "delete from v where a = 3");
        assert_eq!(run(&mut s, "select count(*) from vt"), [["2"]]);
        assert!(matches!(
            fails(&mut s, "insert into v2 values (1)"),
            SqlError::ViewNotUpdatable { .. }
        ));
        assert!(matches!(
            fails(&mut s, "create view vt as select 1"),
            SqlError::DuplicateTable(_)
        ));
        assert_eq!(
            run(
                &mut s,
                "select c.relkind, c.relnatts, v.viewname from pg_class c join pg_views v on v.viewname = c.relname order by 3"
            ),
            [["v", "3", "v"], ["v", "1", "v2"]]
        );
        assert_eq!(
            run(
                &mut s,
                "select pg_get_viewdef('v2'::regclass) = pg_get_viewdef('v2')"
            ),
            [["t"]]
        );
        // DDL is transactional: a rolled-back DROP VIEW leaves the view.
        run(&mut s, "begin; drop view v2; rollback");
        assert_eq!(run(&mut s, "select x from v2 order by x"), [["10"], ["20"]]);
        run(&mut s, "drop view v, v2; drop view if exists v");
        assert!(matches!(
            fails(&mut s, "drop view v"),
            SqlError::UndefinedRelation(_)
        ));
    }

    #[test]
    fn foreign_keys_check_both_sides_and_run_their_actions() {
        let mut s = session();
        run(
            &mut s,
            "create table p (id int primary key, u int unique);
             create table c (cid int primary key, pid int references p,
                 pu int, foreign key (pu) references p(u) on delete cascade on update set null);
             insert into p values (1, 10), (2, 20), (3, 30)",
        );
        let e = fails(&mut s, "insert into c values (1, 5, null)");
        assert_eq!(
            e,
            SqlError::ForeignKeyViolation {
                message:
                    "insert or update on table \"c\" violates foreign key constraint \"c_pid_fkey\""
                        .into(),
                detail: "Key (pid)=(5) is not present in table \"p\".".into(),
            }
        );
        run(
            &mut s,
            "insert into c values (1, 1, 10), (2, null, 20), (3, null, 30)",
        );
        let e = fails(&mut s, "delete from p where id = 1");
        assert_eq!(
            e,
            SqlError::ForeignKeyViolation {
                message: "update or delete on table \"p\" violates foreign key constraint \"c_pid_fkey\" on table \"c\"".into(),
                detail: "Key (id)=(1) is still referenced from table \"c\".".into(),
            }
        );
        // ON DELETE CASCADE and ON UPDATE SET NULL.
        run(
            &mut s,
            "delete from p where id = 2; update p set u = 31 where id = 3",
        );
        assert_eq!(
            run(&mut s, "select cid, pid, pu from c order by cid"),
            [["1", "1", "10"], ["3", "NULL", "NULL"]]
        );
        assert!(matches!(
            fails(&mut s, "update c set pid = 9 where cid = 1"),
            SqlError::ForeignKeyViolation { .. }
        ));
        assert!(matches!(
            fails(&mut s, "truncate p"),
            SqlError::NotSupportedDetail { .. }
        ));
        assert!(matches!(
            fails(&mut s, "drop table p"),
            SqlError::DependentObjectsStillExist { .. }
        ));
        assert!(matches!(
            fails(&mut s, "create table c3 (a int references c(pid))"),
            SqlError::InvalidForeignKey(_)
        ));
        assert_eq!(
            run(&mut s, "select conname, pg_get_constraintdef(oid), confupdtype, confdeltype, conkey, confkey
                 from pg_constraint where contype = 'f' order by 1"),
            [
                ["c_pid_fkey", "FOREIGN KEY (pid) REFERENCES p(id)", "a", "a", "{2}", "{1}"],
                ["c_pu_fkey", "FOREIGN KEY (pu) REFERENCES p(u) ON UPDATE SET NULL ON DELETE CASCADE", "n", "c", "{3}", "{2}"],
            ]
        );
        // ADD CONSTRAINT checks the rows there.
        run(
            &mut s,
            "create table d (x int); insert into d values (1), (7)",
        );
        assert!(matches!(
            fails(
                &mut s,
                "alter table d add constraint d_x_fkey foreign key (x) references p"
            ),
            SqlError::ForeignKeyViolation { .. }
        ));
        run(
            &mut s,
            "delete from d where x = 7; alter table d add foreign key (x) references p on delete set null on update cascade",
        );
        run(
            &mut s,
            "update c set pid = null; update p set id = 100 where id = 1",
        );
        assert_eq!(run(&mut s, "select x from d"), [["100"]]);
        run(&mut s, "delete from p where id = 100");
        assert_eq!(run(&mut s, "select x from d"), [["NULL"]]);
        // A self-reference.
        run(
            &mut s,
            "create table tree (id int primary key, parent int references tree on delete cascade);
                     insert into tree values (1, null), (2, 1), (3, 2);
                     delete from tree where id = 1",
        );
        assert!(run(&mut s, "select * from tree").is_empty());
    }

    #[test]
    fn add_and_drop_column_rewrite_rows_and_follow_dependents() {
        let mut s = session();
        run(
            &mut s,
            "create table ac (id int primary key, v text, w int);
             create index on ac (w);
             create index ac_vw on ac (v, w);
             insert into ac values (1, 'a', 10), (2, 'b', 20);
             alter table ac add column n int default 7, add column s serial, add column t timestamp default now()",
        );
        assert_eq!(
            run(&mut s, "select id, n, s, t is not null from ac order by id"),
            [["1", "7", "1", "t"], ["2", "7", "2", "t"]]
        );
        assert!(matches!(
            fails(&mut s, "alter table ac add column nn int not null"),
            SqlError::NotNullInExisting { .. }
        ));
        assert!(matches!(
            fails(&mut s, "alter table ac add column id int"),
            SqlError::ColumnExists(_)
        ));
        assert!(matches!(
            fails(
                &mut s,
                "alter table ac add column c int check (c > 0) default 0"
            ),
            SqlError::CheckViolation { .. }
        ));
        // Dropping w takes its indexes; later columns, their index and sequence shift down.
        run(
            &mut s,
            "create index on ac (s); alter table ac drop column w",
        );
        assert_eq!(
            run(
                &mut s,
                "select indexname from pg_indexes where tablename = 'ac' order by 1"
            ),
            [["ac_pkey"], ["ac_s_idx"]]
        );
        assert_eq!(
            run(&mut s, "select id, v, n, s from ac where s = 2"),
            [["2", "b", "7", "2"]]
        );
        run(&mut s, "insert into ac (id, v) values (3, 'c')");
        assert_eq!(
            run(
                &mut s,
                "select s, pg_get_serial_sequence('ac', 's') from ac where id = 3"
            ),
            [["3", "public.ac_s_seq"]]
        );
        run(&mut s, "alter table ac drop column s");
        assert!(run(&mut s, "select * from pg_class where relname = 'ac_s_seq'").is_empty());
        assert!(matches!(
            fails(&mut s, "alter table ac drop column id"),
            SqlError::FeatureNotSupported(_)
        ));
        run(&mut s, "alter table ac drop column if exists nope");
        assert_eq!(
            run(&mut s, "select id, v, n from ac order by id"),
            [["1", "a", "7"], ["2", "b", "7"], ["3", "c", "7"]]
        );
    }

    #[test]
    fn create_table_as_and_select_into_copy_rows_and_columns() {
        let mut s = session();
        run(
            &mut s,
            "create table src (a int, b text); insert into src values (1, 'x'), (2, 'y');
             create table c1 as select a, b || '!' as bb, a * 2 from src",
        );
        assert_eq!(
            run(
                &mut s,
                "select attname, atttypid from pg_attribute where attrelid = 'c1'::regclass order by attnum"
            ),
            [["a", "23"], ["bb", "25"], ["?column?", "23"]]
        );
        assert_eq!(
            run(&mut s, "select * from c1 order by a"),
            [["1", "x!", "2"], ["2", "y!", "4"]]
        );
        let stmt = parse("select * into c2 from src where a > 1")
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(
            s.execute(&stmt, &[]).unwrap().output,
            Output::Command {
                tag: "SELECT 1".into()
            }
        );
        assert_eq!(run(&mut s, "select * from c2"), [["2", "y"]]);
        assert!(matches!(
            fails(&mut s, "create table c1 as select 1"),
            SqlError::DuplicateTable(_)
        ));
        run(&mut s, "create table if not exists c1 as select 1");
        assert_eq!(s.take_notices().len(), 1);
        // Transactional like any DDL.
        run(
            &mut s,
            "begin; create table c4 as select 1 as one; rollback",
        );
        assert!(matches!(
            fails(&mut s, "select * from c4"),
            SqlError::UndefinedTable(_)
        ));
    }

    #[test]
    fn pgbench_ddl_char_padding_and_timestamps() {
        let mut s = session();
        run(
            &mut s,
            "create table t(tid int not null, f char(4), v varchar(3), m timestamp) with (fillfactor=100);
             insert into t(tid, f, v, m) values (1, 'ab', 'xyz', '2024-01-02 03:04:05.5');
             insert into t(tid, m) values (2, CURRENT_TIMESTAMP)",
        );
        assert_eq!(
            run(&mut s, "select f, f || '|', v, m from t where tid = 1"),
            // The value keeps its padding; `||` casts it to text, which drops it.
            [["ab  ", "ab|", "xyz", "2024-01-02 03:04:05.5"]]
        );
        assert!(matches!(
            fails(&mut s, "insert into t(tid, v) values (3, 'abcd')"),
            SqlError::StringDataRightTruncation(_)
        ));
        assert_eq!(
            run(&mut s, "select count(*) from t where m > '2020-01-01'"),
            [["2"]]
        );
    }

    #[test]
    fn tpcb_updates_are_primary_key_lookups() {
        let mut s = session();
        run(
            &mut s,
            "create table pgbench_accounts(aid int not null, bid int, abalance int, filler char(84));
             alter table pgbench_accounts add primary key (aid)",
        );
        let engine = s.engine().clone();
        let txn = engine.begin();
        for sql in [
            "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
            "UPDATE pgbench_accounts SET abalance = abalance + -5 WHERE aid = 7",
        ] {
            let Some(ast::Statement::Update(u)) = parse(sql).unwrap().pop() else {
                panic!("an UPDATE")
            };
            let plan = s.plan_update(&txn, &u, &mut vec![None; 2]).unwrap();
            assert!(
                plan.access.is_point(&plan.def),
                "a point lookup, not a scan: {sql}"
            );
        }
        engine.rollback(txn);
    }

    #[test]
    fn add_primary_key_rebuilds_and_checks_uniqueness() {
        let mut s = session();
        run(
            &mut s,
            "create table a(aid int not null, x int);
             insert into a select g, g * 10 from generate_series(1, 50) as g;
             alter table a add primary key (aid)",
        );
        assert_eq!(run(&mut s, "select x from a where aid = 7"), [["70"]]);
        let err = fails(&mut s, "insert into a values (7, 1)");
        assert!(matches!(err, SqlError::UniqueViolation { .. }), "{err:?}");
        run(
            &mut s,
            "create table d(k int, y int); insert into d values (1, 1), (1, 2)",
        );
        match fails(&mut s, "alter table d add primary key (k)") {
            SqlError::UniqueIndexBuild { index, detail } => {
                assert_eq!(index, "d_pkey");
                assert_eq!(detail, "Key (k)=(1) is duplicated.");
            }
            other => panic!("{other:?}"),
        }
        run(&mut s, "create table n(k int); insert into n values (NULL)");
        assert!(matches!(
            fails(&mut s, "alter table n add primary key (k)"),
            SqlError::NotNullInExisting { .. }
        ));
        assert!(matches!(
            fails(&mut s, "alter table a add primary key (x)"),
            SqlError::InvalidTableDefinition(_)
        ));
    }

    /// The conjuncts of `filter` that a read of its chosen key range still checks per row when
    /// every term of the range is exact (see [`crate::query::KeyRange::residual`]).
    fn residual_of(s: &mut Session, table: &str, filter: &str) -> Vec<String> {
        let plan = update_plan(s, table, filter);
        let (Access::Range(range), Some(f)) = (&plan.access, &plan.filter) else {
            panic!("{filter}: a key range, a filter")
        };
        let all = crate::query::Exact {
            eq: u64::MAX,
            lower: true,
            upper: true,
        };
        match range.residual(&plan.def, f, all) {
            Some(kept) => kept.iter().map(|e| format!("{e:?}")).collect(),
            None => vec!["(all)".into()],
        }
    }

    #[test]
    fn a_key_range_leaves_out_only_the_terms_it_enforces() {
        let mut s = session();
        run(
            &mut s,
            "create table t(id int primary key, x int, name text, f double precision);
             create index on t (x, name)",
        );
        // Column 3 is f, 1 is x, 0 is id.
        let kept = residual_of(&mut s, "t", "id between 5 and 5 + 99 and f > 3");
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert!(kept[0].contains("Column(3)"), "{kept:?}");
        assert_eq!(
            residual_of(&mut s, "t", "id >= 5 and id < 9"),
            Vec::<String>::new()
        );
        // Only the term the range was built from: the second lower bound stays.
        let kept = residual_of(&mut s, "t", "id >= 5 and id >= 7");
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert!(kept[0].contains("Int(7)"), "{kept:?}");
        assert_eq!(
            residual_of(&mut s, "t", "x = 3 and name = 'n3'"),
            Vec::<String>::new()
        );
        let kept = residual_of(
            &mut s,
            "t",
            "x = 3 and name > 'a' and name <= 'z' and f < 1",
        );
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert!(kept[0].contains("Column(3)"), "{kept:?}");
        // A row comparison bounds the read more widely than its terms: it is kept whole.
        assert_eq!(
            residual_of(&mut s, "t", "(x, name) > (3, 'a')"),
            vec!["(all)".to_string()]
        );
        // A term on a column after the bounded one is not the range's.
        let kept = residual_of(&mut s, "t", "x >= 3 and name = 'a'");
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert!(kept[0].contains("Column(2)"), "{kept:?}");
    }

    /// Ranges whose terms the read enforces exactly answer as a full scan does, over keys whose
    /// encodings are prefixes of one another, NULLs, descending columns and values that are
    /// not of the key column's type.
    #[test]
    fn exact_key_ranges_answer_like_full_scans() {
        let mut s = session();
        run(
            &mut s,
            "create table k(name text primary key, x int8, b bytea, c char(4), ts timestamp);
             insert into k values ('n', 1, '\\x00', 'a', '2026-01-01'),
               ('n3', 2, '\\x0000', 'a  ', '2026-01-02'), ('n30', 3, '\\x0001', 'ab', NULL),
               ('n3x', NULL, '\\x01', NULL, '2026-01-03'), ('n4', -9223372036854775807, NULL, 'b', '2026-01-01 12:00'),
               ('', 9223372036854775807, '\\x', '', '2025-12-31'), ('n3\n', 4, '\\x0100', 'a', '2026-01-02')",
        );
        let queries = [
            "select name from k where name > 'n3' order by name",
            "select name from k where name >= 'n3' and name <= 'n3' order by name",
            "select name from k where name <= 'n3' order by name",
            "select name from k where name < 'n30' and name > 'n' order by name",
            "select name from k where name between '' and 'n3' order by name",
            "select name from k where x > 1 order by name",
            "select name from k where x <= 3 order by name",
            "select name from k where x >= -9223372036854775807 and x < 9223372036854775807 order by name",
            "select name from k where x > 1.5 order by name",
            "select name from k where x < 2.0 order by name",
            "select name from k where x = 2.0 order by name",
            "select name from k where x between 2 and 3 and name <> 'n30' order by name",
            "select name from k where b > '\\x00' order by name",
            "select name from k where b <= '\\x0000' order by name",
            "select name from k where b = '\\x00' order by name",
            "select name from k where c = 'a' order by name",
            "select name from k where c > 'a' order by name",
            "select name from k where c <= 'ab  ' order by name",
            "select name from k where ts >= '2026-01-01' and ts < '2026-01-02' order by name",
            "select name from k where ts > '2026-01-01' order by name",
        ];
        let before: Vec<_> = queries.iter().map(|q| run(&mut s, q)).collect();
        run(
            &mut s,
            "create index on k (x desc); create index on k (b); create index on k (c desc nulls last);
             create index on k (ts)",
        );
        for (q, want) in queries.iter().zip(&before) {
            assert_eq!(&run(&mut s, q), want, "{q}");
        }
        let plain = queries.iter().map(|q| run(&mut s, q)).collect::<Vec<_>>();
        run(&mut s, "set enable_seqscan = off");
        for ((q, want), got) in queries.iter().zip(&before).zip(&plain) {
            assert_eq!(got, want, "{q}");
            assert_eq!(&run(&mut s, q), want, "{q} (index forced)");
        }
    }

    /// The rows behind a secondary index's entries are fetched a batch at a time: inside a
    /// transaction they are its own versions (updated, deleted, inserted, moved to another
    /// index value), across more than one batch, with and without a LIMIT, as a scan that
    /// cannot use the index reads them.
    #[test]
    fn index_reads_in_a_transaction_see_its_own_writes_batch_by_batch() {
        let mut s = session();
        run(
            &mut s,
            "create table t(id int8 primary key, g int4, v text);
             insert into t select i, i % 2, 'v' || i from generate_series(1, 3000) i;
             create index on t (g)",
        );
        run(
            &mut s,
            "begin;
             update t set v = 'own' where id % 10 = 0;
             delete from t where id % 15 = 0;
             insert into t select i, i % 2, 'new' from generate_series(3001, 3100) i;
             update t set g = 1 - g where id % 21 = 0;
             set enable_seqscan = off",
        );
        for g in [0, 1] {
            for tail in ["", " limit 7", " limit 1500"] {
                let by_index = format!("select id, v from t where g = {g} order by id{tail}");
                let by_scan = format!("select id, v from t where g + 0 = {g} order by id{tail}");
                let plan = run(&mut s, &format!("explain {by_index}"));
                assert!(
                    plan.iter()
                        .flatten()
                        .any(|l| l.contains("Index Scan using t_g_idx")),
                    "{by_index}: {plan:?}"
                );
                let want = run(&mut s, &by_scan);
                assert!(want.len() > 1, "{by_scan}");
                assert_eq!(run(&mut s, &by_index), want, "{by_index}");
            }
        }
        run(&mut s, "rollback");
    }

    /// The access path UPDATE would take for `where`.
    fn access_of(s: &mut Session, table: &str, filter: &str) -> Access {
        update_plan(s, table, filter).access
    }

    /// The plan of `update table set x = x where filter`.
    fn update_plan(s: &mut Session, table: &str, filter: &str) -> UpdatePlan {
        let stmt = parse(&format!("update {table} set x = x where {filter}"))
            .unwrap()
            .pop()
            .unwrap();
        let ast::Statement::Update(u) = stmt else {
            panic!("an update")
        };
        let txn = s.db.engine.begin();
        let plan = s.plan_update(&txn, &u, &mut Vec::new()).unwrap();
        s.db.engine.rollback(txn);
        plan
    }

    #[test]
    fn secondary_indexes_answer_like_full_scans() {
        let mut s = session();
        run(
            &mut s,
            "create table t(id int primary key, x int, name text, f double precision);
             insert into t select g, g % 17, 'n' || (g % 5), g / 3.0 from generate_series(1, 400) as g;
             insert into t values (401, NULL, NULL, NULL), (402, -5, '', -0.0)",
        );
        let queries = [
            "select id from t where x = 3 order by id",
            "select id from t where x = 3 and name = 'n3' order by id",
            "select id from t where x > 14 order by id",
            "select id from t where x >= 14 and x < 16 order by id",
            "select id from t where x between 2 and 4 and id < 100 order by id",
            "select id from t where 5 > x order by id",
            "select id from t where x < 0 order by id",
            "select id from t where x = NULL",
            "select id from t where x = '7' order by id",
            "select id from t where x = 3.5",
            "select id from t where x = 3.0 order by id",
            "select id from t where x > 14.0 and x <= 15.0 order by id",
            "select id from t where id = 7.0",
            "select id from t where x > 15.5 order by id",
            "select id from t where name >= 'n3' and x = 1 order by id",
            "select id from t where f = 0 order by id",
            "select id from t where f > 132 order by id",
            "select id from t where id > 390 order by id",
            "select id from t where id between 10 and 12 order by id",
            "select count(*) from t where x is null",
        ];
        let before: Vec<_> = queries.iter().map(|q| run(&mut s, q)).collect();
        run(
            &mut s,
            "create index on t (x, name); create index t_f on t (f)",
        );
        assert!(matches!(access_of(&mut s, "t", "x = 3"), Access::Range(r) if r.index == Some(0)));
        assert!(
            matches!(access_of(&mut s, "t", "x = 3 and id = 4"), Access::Range(r) if r.index.is_none())
        );
        assert!(matches!(access_of(&mut s, "t", "f > 1"), Access::Range(r) if r.index == Some(1)));
        assert!(matches!(
            access_of(&mut s, "t", "name = 'n1'"),
            Access::Full
        ));
        for (q, want) in queries.iter().zip(&before) {
            assert_eq!(&run(&mut s, q), want, "{q}");
        }
        assert_eq!(
            run(&mut s, "select count(*) from t where x = 3"),
            [["24"]],
            "the index was built over existing rows"
        );
        // Writes keep the entries in step.
        run(
            &mut s,
            "update t set x = 100 where id <= 10;
             update t set id = id + 1000 where id between 11 and 20;
             delete from t where x = 4",
        );
        let after: Vec<_> = queries.iter().map(|q| run(&mut s, q)).collect();
        assert_eq!(
            run(&mut s, "select count(*) from t where x = 100"),
            [["10"]]
        );
        assert_eq!(
            run(&mut s, "select count(*) from t where x >= 0 and id > 1000"),
            [["10"]]
        );
        run(&mut s, "drop index t_x_name_idx; drop index t_f");
        for (q, want) in queries.iter().zip(&after) {
            assert_eq!(&run(&mut s, q), want, "{q} after writes");
        }
    }

    #[test]
    fn unique_indexes_refuse_duplicates_but_not_nulls() {
        let mut s = session();
        run(
            &mut s,
            "create table u(id int primary key, a int unique, b text, c int, unique (b, c));
             insert into u values (1, 1, 'x', 1), (2, NULL, 'x', NULL), (3, NULL, 'x', NULL)",
        );
        match fails(&mut s, "insert into u values (4, 1, 'y', 1)") {
            SqlError::UniqueViolation { constraint, detail } => {
                assert_eq!(constraint, "u_a_key");
                assert_eq!(detail, "Key (a)=(1) already exists.");
            }
            other => panic!("{other:?}"),
        }
        match fails(&mut s, "update u set c = 1 where id = 2") {
            SqlError::UniqueViolation { constraint, detail } => {
                assert_eq!(constraint, "u_b_c_key");
                assert_eq!(detail, "Key (b, c)=(x, 1) already exists.");
            }
            other => panic!("{other:?}"),
        }
        run(
            &mut s,
            "update u set a = 5 where id = 1; insert into u values (4, 1, 'y', 1)",
        );
        assert_eq!(run(&mut s, "select id from u where a = 1"), [["4"]]);
        assert_eq!(run(&mut s, "select id from u where a = 5"), [["1"]]);
        match fails(&mut s, "create unique index on u (b)") {
            SqlError::UniqueIndexBuild { index, detail } => {
                assert_eq!(index, "u_b_idx");
                assert_eq!(detail, "Key (b)=(x) is duplicated.");
            }
            other => panic!("{other:?}"),
        }
        // The failed build left no index behind.
        run(&mut s, "create unique index on u (id, b)");
        assert_eq!(
            run(
                &mut s,
                "select indexname from pg_indexes where tablename = 'u' order by 1"
            ),
            [["u_a_key"], ["u_b_c_key"], ["u_id_b_idx"], ["u_pkey"]]
        );
        assert!(matches!(
            fails(&mut s, "drop index u_a_key"),
            SqlError::DependentObjectsStillExist { .. }
        ));
        run(
            &mut s,
            "alter table u drop constraint u_a_key; insert into u values (5, 1, 'z', 9)",
        );
        assert_eq!(run(&mut s, "select count(*) from u where a = 1"), [["2"]]);
        // TRUNCATE empties the indexes too; ADD CONSTRAINT builds over the rows there are.
        run(
            &mut s,
            "truncate u; insert into u values (1, 1, 'x', 1);
             alter table u add constraint u_a_uq unique (a)",
        );
        assert!(matches!(
            fails(&mut s, "insert into u values (2, 1, 'q', 2)"),
            SqlError::UniqueViolation { constraint, .. } if constraint == "u_a_uq"
        ));
    }

    #[test]
    fn index_ddl_is_transactional_and_names_follow_postgresql() {
        let mut s = session();
        run(
            &mut s,
            "create table w(k int, v int); insert into w values (1, 1), (2, 1);
             begin; create index on w (v); rollback",
        );
        assert!(run(&mut s, "select indexname from pg_indexes").is_empty());
        run(&mut s, "create index on w (v); create index on w (v)");
        assert_eq!(
            run(&mut s, "select indexname from pg_indexes order by 1"),
            [["w_v_idx"], ["w_v_idx1"]]
        );
        assert!(matches!(
            fails(&mut s, "create index w on w (k)"),
            SqlError::DuplicateTable(_)
        ));
        assert!(matches!(
            fails(&mut s, "create table w_v_idx (x int)"),
            SqlError::DuplicateTable(_)
        ));
        // ADD PRIMARY KEY rebuilds the indexes over the new keys.
        run(
            &mut s,
            "alter table w add primary key (k); update w set v = 7 where k = 2",
        );
        assert_eq!(run(&mut s, "select k from w where v = 7"), [["2"]]);
        assert_eq!(run(&mut s, "select k from w where v = 1"), [["1"]]);
        run(&mut s, "alter table w rename column v to vv");
        assert_eq!(run(&mut s, "select k from w where vv = 7"), [["2"]]);
        run(&mut s, "begin");
        assert!(matches!(
            fails(&mut s, "create index concurrently on w (k, vv)"),
            SqlError::ActiveSqlTransaction(_)
        ));
        run(&mut s, "rollback; create index concurrently on w (k, vv)");
        assert_eq!(
            run(&mut s, "select k from w where k = 2 and vv = 7"),
            [["2"]]
        );
        run(&mut s, "drop table w");
        assert!(run(&mut s, "select indexname from pg_indexes").is_empty());
    }

    #[test]
    fn locking_clauses_parse_lock_and_refuse_what_postgresql_refuses() {
        assert_eq!(
            weaker_lock_clauses("SELECT 'for key share' FROM t FOR KEY SHARE SKIP LOCKED")
                .as_deref(),
            Some("SELECT 'for key share' FROM t FOR SHARE SKIP LOCKED")
        );
        assert_eq!(
            weaker_lock_clauses("select * from t for  no key update nowait").as_deref(),
            Some("select * from t FOR UPDATE nowait")
        );
        assert_eq!(weaker_lock_clauses("SELECT 1"), None);
        let mut s = session();
        run(&mut s, "CREATE TABLE q (id int PRIMARY KEY, v int)");
        run(&mut s, "INSERT INTO q VALUES (1, 10), (2, 20), (3, 30)");
        assert_eq!(
            run(
                &mut s,
                "SELECT v FROM q ORDER BY id DESC LIMIT 1 OFFSET 1 FOR NO KEY UPDATE"
            ),
            vec![vec!["20".to_string()]]
        );
        for sql in [
            "SELECT count(*) FROM q FOR UPDATE",
            "SELECT DISTINCT v FROM q FOR SHARE",
            "SELECT * FROM q a, q b FOR UPDATE",
            "SELECT * FROM (SELECT * FROM q FOR UPDATE) s",
        ] {
            assert!(
                matches!(fails(&mut s, sql), SqlError::FeatureNotSupported(_)),
                "{sql}"
            );
        }
    }

    #[test]
    fn truncate_vacuum_and_drop_notices() {
        let mut s = session();
        run(
            &mut s,
            "create table h(a int); insert into h values (1), (2);
             begin; truncate table h; insert into h values (3); commit",
        );
        assert_eq!(run(&mut s, "select a from h"), [["3"]]);
        run(&mut s, "begin; truncate h; rollback");
        assert_eq!(
            run(&mut s, "select a from h"),
            [["3"]],
            "TRUNCATE rolls back"
        );
        run(&mut s, "vacuum analyze h; vacuum h; analyze h");
        run(&mut s, "begin");
        assert!(matches!(
            fails(&mut s, "vacuum h"),
            SqlError::ActiveSqlTransaction(_)
        ));
        run(&mut s, "rollback");
        run(&mut s, "drop table if exists nope, h");
        assert_eq!(
            s.take_notices(),
            ["table \"nope\" does not exist, skipping"]
        );
    }

    #[test]
    fn copy_in_streams_rows_and_copy_out_encodes_them() {
        let mut s = session();
        run(
            &mut s,
            "create table c(a int primary key, b text, f char(3))",
        );
        let stmt = parse("copy c from stdin with (freeze on)")
            .unwrap()
            .pop()
            .unwrap();
        assert!(matches!(
            s.execute(&stmt, &[]).unwrap().output,
            Output::CopyIn { columns: 3 }
        ));
        s.copy_in_data(b"1\tone\tx\n2\t\\N\t").unwrap();
        s.copy_in_data(b"\n3\tth").unwrap();
        s.copy_in_data(b"ree\t\\N\n").unwrap();
        let done = s.copy_in_done().unwrap();
        assert!(matches!(done.output, Output::Command { ref tag } if tag == "COPY 3"));
        assert_eq!(
            run(&mut s, "copy c to stdout"),
            [["1\tone\tx  \n"], ["2\t\\N\t   \n"], ["3\tthree\t\\N\n"]]
        );
        assert_eq!(
            run(
                &mut s,
                "copy (select a, b from c where a < 3) to stdout with (format csv, header)"
            ),
            [["a,b\n"], ["1,one\n"], ["2,\n"]]
        );
        // A bad row fails the COPY when it ends; nothing of it stays.
        let stmt = parse("copy c (a, b) from stdin csv")
            .unwrap()
            .pop()
            .unwrap();
        s.execute(&stmt, &[]).unwrap();
        s.copy_in_data(b"4,four\n5\n6,six\n").unwrap();
        assert!(matches!(
            s.copy_in_done().unwrap_err(),
            SqlError::BadCopyFileFormat(_)
        ));
        assert_eq!(run(&mut s, "select count(*) from c"), [["3"]]);
    }

    #[test]
    fn catalog_views_answer_psql_and_pgbench_queries() {
        let mut s = session();
        run(
            &mut s,
            "create table pgbench_accounts(aid int not null, filler char(84));
             alter table pgbench_accounts add primary key (aid);
             create table other(x text)",
        );
        // pgbench's table check (LATERAL, current_schemas, array_position).
        assert_eq!(
            run(
                &mut s,
                "select o.n, p.partstrat, pg_catalog.count(i.inhparent) from pg_catalog.pg_class as c \
                 join pg_catalog.pg_namespace as n on (n.oid = c.relnamespace) \
                 cross join lateral (select pg_catalog.array_position(pg_catalog.current_schemas(true), n.nspname)) as o(n) \
                 left join pg_catalog.pg_partitioned_table as p on (p.partrelid = c.oid) \
                 left join pg_catalog.pg_inherits as i on (c.oid = i.inhparent) \
                 where c.relname = 'pgbench_accounts' and o.n is not null group by 1, 2 order by 1 asc limit 1"
            ),
            [["2", "NULL", "0"]]
        );
        // psql's \dt.
        assert_eq!(
            run(
                &mut s,
                "SELECT n.nspname as \"Schema\", c.relname as \"Name\", \
                 CASE c.relkind WHEN 'r' THEN 'table' WHEN 'i' THEN 'index' END as \"Type\", \
                 pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\" \
                 FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam \
                 WHERE c.relkind IN ('r','p','') AND n.nspname <> 'pg_catalog' AND n.nspname !~ '^pg_toast' \
                 AND n.nspname <> 'information_schema' AND pg_catalog.pg_table_is_visible(c.oid) ORDER BY 1,2"
            ),
            [
                ["public", "other", "table", "alice"],
                ["public", "pgbench_accounts", "table", "alice"]
            ]
        );
        let oid = run(
            &mut s,
            "SELECT c.oid FROM pg_catalog.pg_class c WHERE c.relname OPERATOR(pg_catalog.~) \
             '^(pgbench_accounts)$' COLLATE pg_catalog.default",
        );
        let oid = &oid[0][0];
        assert_eq!(
            run(
                &mut s,
                &format!(
                    "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull \
                     FROM pg_catalog.pg_attribute a WHERE a.attrelid = '{oid}' AND a.attnum > 0 \
                     AND NOT a.attisdropped ORDER BY a.attnum"
                )
            ),
            [["aid", "integer", "t"], ["filler", "character(84)", "f"]]
        );
        assert_eq!(
            run(
                &mut s,
                &format!(
                    "SELECT c2.relname, pg_catalog.pg_get_indexdef(i.indexrelid, 0, true), \
                     pg_catalog.pg_get_constraintdef(con.oid, true), c.oid::pg_catalog.regclass \
                     FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i \
                     LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN ('p','u','x')) \
                     WHERE c.oid = '{oid}' AND c.oid = i.indrelid AND i.indexrelid = c2.oid"
                )
            ),
            [[
                "pgbench_accounts_pkey",
                "CREATE UNIQUE INDEX pgbench_accounts_pkey ON public.pgbench_accounts USING btree (aid)",
                "PRIMARY KEY (aid)",
                "pgbench_accounts"
            ]]
        );
        assert_eq!(
            run(
                &mut s,
                "select 'pgbench_accounts'::regclass::oid = c.oid, 'd' = any('{a,d}'), \
                 array_to_string(array(select relname from pg_class where relkind = 'r' order by 1), ',') \
                 from pg_class c where relname = 'pgbench_accounts'"
            ),
            [["t", "t", "other,pgbench_accounts"]]
        );
    }

    /// Answers as PostgreSQL 15 gives them: COPY and CREATE TABLE AS over a data-modifying
    /// WITH run it once, and COPY of one without RETURNING is refused with PostgreSQL's message.
    #[test]
    fn copy_and_create_table_as_run_data_modifying_with_once() {
        let mut s = session();
        run(&mut s, "CREATE TABLE t8 (id int PRIMARY KEY, v int)");
        let stmt = parse("COPY (WITH x AS (SELECT 1) INSERT INTO t8 VALUES (1, 1)) TO STDOUT")
            .unwrap()
            .pop()
            .unwrap();
        let e = s.execute(&stmt, &[]).unwrap_err();
        assert_eq!(e.to_string(), "COPY query must have a RETURNING clause");
        assert_eq!(
            run(
                &mut s,
                "COPY (WITH x AS (SELECT 2) INSERT INTO t8 VALUES (2, 2) RETURNING *) TO STDOUT"
            ),
            [["2\t2\n"]]
        );
        assert_eq!(
            run(
                &mut s,
                "COPY (WITH d AS (INSERT INTO t8 VALUES (3, 3) RETURNING *) SELECT * FROM d) TO STDOUT"
            ),
            [["3\t3\n"]]
        );
        run(
            &mut s,
            "CREATE TABLE t9 AS WITH d AS (INSERT INTO t8 VALUES (4, 4) RETURNING *) SELECT * FROM d",
        );
        assert_eq!(run(&mut s, "SELECT * FROM t9"), [["4", "4"]]);
        assert_eq!(
            run(&mut s, "SELECT id FROM t8 ORDER BY id"),
            [["2"], ["3"], ["4"]]
        );
        // A read-only transaction refuses them, naming the main statement.
        run(&mut s, "BEGIN READ ONLY");
        let stmt = parse("COPY (INSERT INTO t8 VALUES (5, 5) RETURNING *) TO STDOUT")
            .unwrap()
            .pop()
            .unwrap();
        let e = s.execute(&stmt, &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot execute INSERT in a read-only transaction"
        );
    }

    /// The stored query of view `v`, as `pg_get_viewdef` prints it.
    fn viewdef(s: &mut Session, v: &str) -> String {
        run(s, &format!("select pg_get_viewdef('{v}')"))[0][0].clone()
    }

    #[test]
    fn a_renamed_table_keeps_its_keys_and_what_reads_it_follows() {
        let mut s = session();
        run(
            &mut s,
            "create table t (a int primary key, b int unique, c int check (c > 0));
             create index ti on t (b);
             create table u (x int references t, y serial);
             create view v as select t.a, b from t where t.c > 0;
             create view w as select q.a from t q join v on v.a = q.a;
             insert into t values (1, 10, 5); insert into u (x) values (1)",
        );
        run(&mut s, "alter table t rename to t2");
        // The primary key keeps its name; the views read t2 (t as its alias where they had
        // none, so `t.a` still binds).
        assert_eq!(
            run(
                &mut s,
                "select conname from pg_constraint where conrelid = 't2'::regclass order by 1"
            ),
            [["t_b_key"], ["t_c_check"], ["t_pkey"]]
        );
        assert_eq!(
            viewdef(&mut s, "v"),
            " SELECT t.a, b FROM t2 AS t WHERE t.c > 0;"
        );
        assert_eq!(
            viewdef(&mut s, "w"),
            " SELECT q.a FROM t2 q JOIN v ON v.a = q.a;"
        );
        assert_eq!(run(&mut s, "select * from v"), [["1", "10"]]);
        assert_eq!(run(&mut s, "select * from w"), [["1"]]);
        assert!(matches!(
            fails(&mut s, "select * from t"),
            SqlError::UndefinedTable(_)
        ));
        // The foreign key references t2: it still checks and it still blocks a delete.
        assert!(matches!(
            fails(&mut s, "insert into u (x) values (2)"),
            SqlError::ForeignKeyViolation { .. }
        ));
        assert!(matches!(
            fails(&mut s, "delete from t2"),
            SqlError::ForeignKeyViolation { .. }
        ));
        // The unique index still refuses duplicates, the primary key too.
        assert!(matches!(
            fails(&mut s, "insert into t2 values (2, 10, 1)"),
            SqlError::UniqueViolation { .. }
        ));
        assert!(matches!(
            fails(&mut s, "insert into t2 values (1, 11, 1)"),
            SqlError::UniqueViolation { constraint, .. } if constraint == "t_pkey"
        ));
        // Names any relation of the schema has are refused, the indexes' included.
        for name in ["u", "v", "ti", "t_pkey", "u_y_seq", "t2"] {
            assert!(
                matches!(
                    fails(&mut s, &format!("alter table t2 rename to {name}")),
                    SqlError::DuplicateTable(n) if n == name
                ),
                "{name}"
            );
        }
        // A sequence rename reaches the defaults that call it.
        run(&mut s, "alter sequence u_y_seq rename to ys");
        assert_eq!(
            run(
                &mut s,
                "select column_default from information_schema.columns \
                 where table_name = 'u' and column_name = 'y'"
            ),
            [["nextval('ys'::regclass)"]]
        );
        // (The refused insert above took 2.)
        assert_eq!(
            run(&mut s, "insert into u (x) values (1) returning y"),
            [["3"]]
        );
        assert_eq!(
            run(&mut s, "select pg_get_serial_sequence('u', 'y')"),
            [["public.ys"]]
        );
    }

    #[test]
    fn renames_are_transactional_and_invisible_to_others_until_commit() {
        let mut a = session();
        let mut b = Session::new(
            a.db.clone(),
            SessionInfo {
                user: "alice".into(),
                backend_pid: 2,
                ..SessionInfo::default()
            },
        );
        run(
            &mut a,
            "create table t (a int primary key); insert into t values (1);
             create view v as select a from t; create sequence q;
             create table u (a int default nextval('q'))",
        );
        run(
            &mut a,
            "begin; alter table t rename to t2; alter view v rename to v2;
             alter sequence q rename to q2; alter index t_pkey rename to k",
        );
        assert_eq!(run(&mut a, "select a from v2"), [["1"]]);
        // The other session still sees the old names.
        assert_eq!(run(&mut b, "select a from v"), [["1"]]);
        assert_eq!(run(&mut b, "select a from t"), [["1"]]);
        run(&mut a, "rollback");
        assert_eq!(run(&mut a, "select a from v"), [["1"]]);
        assert_eq!(viewdef(&mut a, "v"), " SELECT a FROM t;");
        assert_eq!(
            run(
                &mut a,
                "select relname from pg_class where relname in ('t', 't2', 'v', 'v2', 'q', 'q2', 't_pkey', 'k') order by 1"
            ),
            [["q"], ["t"], ["t_pkey"], ["v"]]
        );
        assert_eq!(
            run(&mut a, "select pg_get_expr(adbin, adrelid) from pg_attrdef"),
            [["nextval('q'::regclass)"]]
        );
        // Committed, the other session sees the new names only.
        run(&mut a, "alter table t rename to t3");
        assert!(matches!(
            fails(&mut b, "select a from t"),
            SqlError::UndefinedTable(_)
        ));
        assert_eq!(run(&mut b, "select a from v"), [["1"]]);
    }

    #[test]
    fn constraints_indexes_and_view_columns_are_renamed_as_postgresql_does() {
        let mut s = session();
        run(
            &mut s,
            "create table t (a int primary key, b int unique, c int check (c > 0));
             create index ti on t (b);
             create view v as select a, b from t; create view vv as select b from v",
        );
        // An index that backs a constraint renames the constraint too, and back.
        run(&mut s, "alter index t_pkey rename to tpk");
        run(&mut s, "alter table t rename constraint t_b_key to bk");
        run(&mut s, "alter table t rename constraint t_c_check to cc");
        assert_eq!(
            run(
                &mut s,
                "select conname, contype from pg_constraint where conrelid = 't'::regclass order by 1"
            ),
            [["bk", "u"], ["cc", "c"], ["tpk", "p"]]
        );
        assert_eq!(
            run(&mut s, "select pg_get_indexdef('bk'::regclass)"),
            [["CREATE UNIQUE INDEX bk ON public.t USING btree (b)"]]
        );
        assert!(matches!(
            fails(&mut s, "alter table t rename constraint cc to bk"),
            SqlError::DuplicateObject(_)
        ));
        assert!(matches!(
            fails(&mut s, "alter table t rename constraint bk to ti"),
            SqlError::DuplicateTable(_)
        ));
        assert!(matches!(
            fails(&mut s, "alter table t rename constraint nope to x"),
            SqlError::UndefinedObject(_)
        ));
        // A CHECK may take an index's name: only index-backed constraints are relations.
        run(&mut s, "alter table t rename constraint cc to ti");
        // ALTER VIEW and ALTER SEQUENCE take only their kind; ALTER INDEX takes a table.
        assert!(matches!(
            fails(&mut s, "alter view t rename to x"),
            SqlError::WrongObjectType(_)
        ));
        assert!(matches!(
            fails(&mut s, "alter sequence ti rename to x"),
            SqlError::WrongObjectType(_)
        ));
        run(
            &mut s,
            "alter index t rename to t2; alter table ti rename to ti2",
        );
        assert_eq!(
            run(
                &mut s,
                "select indexrelid::regclass::text from pg_index where indrelid = 't2'::regclass order by 1"
            ),
            [["bk"], ["ti2"], ["tpk"]]
        );
        // A view's column, followed into the view that reads it.
        run(
            &mut s,
            "insert into t2 values (1, 2, 3); alter view v rename column b to bee",
        );
        assert!(matches!(
            fails(&mut s, "alter view v rename column a to bee"),
            SqlError::ColumnExists(_)
        ));
        assert_eq!(run(&mut s, "select a, bee from v"), [["1", "2"]]);
        assert_eq!(run(&mut s, "select * from vv"), [["2"]]);
        assert_eq!(viewdef(&mut s, "vv"), " SELECT bee AS b FROM v;");
        // IF EXISTS skips a missing relation with a notice.
        run(&mut s, "alter index if exists nope rename to x");
        assert!(matches!(
            fails(&mut s, "alter table nope rename to x"),
            SqlError::UndefinedTable(_)
        ));
    }

    #[test]
    fn a_renamed_temporary_table_stays_temporary() {
        let mut s = session();
        run(
            &mut s,
            "create table t (a int); create temp table t (b int); insert into t values (5);
             alter table t rename to t2",
        );
        assert_eq!(run(&mut s, "select b from t2"), [["5"]]);
        // The permanent t shows again; the temporary table keeps its schema.
        assert_eq!(run(&mut s, "select count(*) from t"), [["0"]]);
        assert_eq!(
            run(
                &mut s,
                "select relpersistence from pg_class where relname = 't2'"
            ),
            [["t"]]
        );
    }

    #[test]
    fn a_column_rename_is_followed_into_the_views_that_read_it_only() {
        let mut s = session();
        run(
            &mut s,
            "create table t (a int, b text); create table u (a int, c text);
             insert into t values (1, 'a'), (2, 'x'); insert into u values (1, 'a');
             create view v as select a, 'a' as lit from t where b = 'a' order by a;
             create view w as select t.a, u.a as ua from t join u on u.a = t.a;
             create view x as select q.a as qa from t q where q.a in (select a from u);
             create view y as select a from u;
             create view z as select b as a from t order by a",
        );
        let before_y = viewdef(&mut s, "y");
        run(&mut s, "alter table t rename column a to k");
        // Every reference to t.a now names k; the output names, the literal 'a', u's column a
        // and the output alias a that ORDER BY reads stay.
        assert_eq!(
            viewdef(&mut s, "v"),
            " SELECT k AS a, 'a' AS lit FROM t WHERE b = 'a' ORDER BY k;"
        );
        assert_eq!(
            viewdef(&mut s, "w"),
            " SELECT t.k AS a, u.a AS ua FROM t JOIN u ON u.a = t.k;"
        );
        assert_eq!(
            viewdef(&mut s, "x"),
            " SELECT q.k AS qa FROM t q WHERE q.k IN (SELECT a FROM u);"
        );
        assert_eq!(viewdef(&mut s, "y"), before_y);
        assert_eq!(viewdef(&mut s, "z"), " SELECT b AS a FROM t ORDER BY a;");
        assert_eq!(run(&mut s, "select * from v"), [["1", "a"]]);
        assert_eq!(run(&mut s, "select * from w"), [["1", "1"]]);
        assert_eq!(run(&mut s, "select * from x"), [["1"]]);
        // A later column named a is not what the view reads.
        run(&mut s, "alter table t add column a int; update t set a = 7");
        assert_eq!(run(&mut s, "select a from v"), [["1"]]);
        // Rolled back, the rename and the views' rewrite go together.
        run(&mut s, "begin; alter table t rename column k to m");
        assert_eq!(run(&mut s, "select * from w"), [["1", "1"]]);
        run(&mut s, "rollback");
        assert_eq!(
            viewdef(&mut s, "w"),
            " SELECT t.k AS a, u.a AS ua FROM t JOIN u ON u.a = t.k;"
        );
        // A rename of a column no view reads touches no view.
        let before_v = viewdef(&mut s, "v");
        run(&mut s, "alter table t rename column a to n");
        assert_eq!(viewdef(&mut s, "v"), before_v);
    }

    #[test]
    fn drop_sequence_cascade_drops_the_defaults_that_call_it() {
        let mut s = session();
        run(
            &mut s,
            "create sequence q; create table t (id int default nextval('q'), x int);
             create table t2 (k bigint default nextval('q') + 1);
             create table d (id serial, y int);
             create table lit (s text default 'nextval(''q'')')",
        );
        let e = fails(&mut s, "drop sequence q");
        let SqlError::DependentObjectsStillExist {
            message, detail, ..
        } = e
        else {
            panic!("{e:?}");
        };
        assert_eq!(
            message,
            "cannot drop sequence q because other objects depend on it"
        );
        // A string default that spells the call is no dependency.
        assert_eq!(
            detail,
            "default value for column id of table t depends on sequence q\n\
             default value for column k of table t2 depends on sequence q"
        );
        run(&mut s, "drop sequence q cascade");
        assert_eq!(
            s.take_notices(),
            vec![format!(
                "drop cascades to 2 other objects{NOTICE_DETAIL}\
                 drop cascades to default value for column id of table t\n\
                 drop cascades to default value for column k of table t2"
            )]
        );
        run(&mut s, "insert into t (x) values (1)");
        assert_eq!(run(&mut s, "select * from t"), [["NULL", "1"]]);
        run(&mut s, "drop sequence d_id_seq cascade");
        assert_eq!(
            s.take_notices(),
            vec!["drop cascades to default value for column id of table d".to_string()]
        );
        assert!(matches!(
            fails(&mut s, "insert into d (y) values (1)"),
            SqlError::NotNullViolation { .. }
        ));
        assert_eq!(
            run(
                &mut s,
                "select column_default from information_schema.columns where table_name = 'lit'"
            ),
            [["'nextval(''q'')'::text"]]
        );
    }
}
