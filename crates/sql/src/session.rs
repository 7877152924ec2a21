//! A SQL session: transaction state, settings, and statement execution.
//!
//! Every statement runs in a transaction: the session's explicit one (BEGIN … COMMIT) or an
//! implicit one that commits when the statement succeeds. A commit yields the LSN of its commit
//! record; the caller acknowledges the commit to the client only once the volume's VDL covers it.
//! After an error inside an explicit transaction, every statement but COMMIT/ROLLBACK fails
//! (PostgreSQL's "current transaction is aborted"), and COMMIT rolls back.
//!
//! DDL is transactional in its catalog entry (a CREATE TABLE rolled back leaves no table), but the
//! B+tree root a CREATE allocates is not reclaimed yet.

use crate::catalog::{
    Column, IndexDef, TableDef, decode_row, encode_row, pk_key, rowid_key, rowid_of_key,
};
use crate::copy::{CopyFormat, LineSplitter};
use crate::error::{SqlError, SqlResult};
use crate::expr::{AggMode, Binder, Expr, SessionInfo, ident_name, object_name};
use crate::index::{self, NameOwner};
use crate::query::{
    Access, ColumnInfo, Executor, Planner, QueryPlan, choose_access, lookup_table, matching_rows,
    single_table, table_scope,
};
use crate::types::{DataType, Value};
use borealis_common::Lsn;
use borealis_engine::{
    CATALOG, Engine, EngineError, Isolation, LockMode, LockWait, SavepointId, TreeId, Txn,
};
use sqlparser::ast;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// State shared by every session of an instance.
pub struct Database {
    pub engine: Arc<Engine>,
    /// Next hidden row id per table, seeded from the table's greatest key on first use.
    rowids: Mutex<HashMap<TreeId, u64>>,
}

impl Database {
    #[must_use]
    pub fn new(engine: Arc<Engine>) -> Arc<Database> {
        Arc::new(Database {
            engine,
            rowids: Mutex::new(HashMap::new()),
        })
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
    /// `COPY … TO STDOUT`: one encoded line per row, then the tag `COPY n`.
    CopyOut { columns: usize, lines: Vec<String> },
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

/// Settings clients read and write, with PostgreSQL 15's defaults.
const SETTINGS: &[(&str, &str)] = &[
    ("application_name", ""),
    ("client_encoding", "UTF8"),
    ("client_min_messages", "notice"),
    ("datestyle", "ISO, MDY"),
    ("default_transaction_isolation", "read committed"),
    ("extra_float_digits", "1"),
    ("idle_in_transaction_session_timeout", "0"),
    ("integer_datetimes", "on"),
    ("intervalstyle", "postgres"),
    ("is_superuser", "on"),
    ("lock_timeout", "0"),
    ("max_identifier_length", "63"),
    ("search_path", "\"$user\", public"),
    ("server_encoding", "UTF8"),
    ("server_version", "15.8"),
    ("server_version_num", "150008"),
    ("standard_conforming_strings", "on"),
    ("statement_timeout", "0"),
    ("synchronous_commit", "on"),
    ("timezone", "UTC"),
    ("transaction_isolation", "read committed"),
    ("work_mem", "4MB"),
];

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
    let parse = |text: &str| {
        sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::PostgreSqlDialect {}, text)
    };
    match parse(sql) {
        Ok(s) => Ok(s),
        Err(e) => {
            // Forms of PostgreSQL's grammar the parser lacks, for single statements.
            if let Some(stmts) = parse_fallback(sql, &parse) {
                return Ok(stmts);
            }
            Err(SqlError::Syntax(
                e.to_string()
                    .trim_start_matches("sql parser error: ")
                    .to_string(),
            ))
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
    if let Some(fixed) = weaker_lock_clauses(text) {
        return parse(&fixed).ok();
    }
    let lower = text.to_lowercase();
    let first = lower.split_whitespace().next()?;
    match first {
        "vacuum" | "analyze" | "analyse" => {
            let mut rest = text[first.len()..].trim_start();
            if rest.starts_with('(') {
                rest = rest[rest.find(')')? + 1..].trim_start();
            }
            loop {
                let word = rest.split_whitespace().next().unwrap_or("").to_lowercase();
                if matches!(
                    word.as_str(),
                    "full" | "freeze" | "verbose" | "analyze" | "analyse"
                ) {
                    rest = rest[word.len()..].trim_start();
                } else {
                    break;
                }
            }
            let mut out = Vec::new();
            if rest.is_empty() {
                out.extend(parse("VACUUM").ok()?);
            }
            for table in rest.split(',') {
                let table = table.split('(').next()?.trim();
                if table.is_empty() {
                    return None;
                }
                out.extend(parse(&format!("VACUUM {table}")).ok()?);
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

/// One client session.
pub struct Session {
    db: Arc<Database>,
    txn: Option<Txn>,
    in_block: bool,
    failed: bool,
    settings: BTreeMap<String, String>,
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
}

/// The state of a `COPY … FROM STDIN` between the data messages.
struct CopyIn {
    def: TableDef,
    targets: Vec<usize>,
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
    pub fn new(db: Arc<Database>, info: SessionInfo) -> Session {
        let settings = SETTINGS
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        Session {
            db,
            txn: None,
            in_block: false,
            failed: false,
            settings,
            info,
            notices: Vec::new(),
            changed_reported: Vec::new(),
            copy_in: None,
            copy_error: None,
            savepoints: Vec::new(),
            statements_in_block: 0,
        }
    }

    /// The isolation level of transactions that do not choose one.
    fn default_isolation(&self) -> Isolation {
        self.setting("default_transaction_isolation")
            .and_then(isolation_named)
            .unwrap_or(Isolation::ReadCommitted)
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

    /// A setting's current value.
    #[must_use]
    pub fn setting(&self, name: &str) -> Option<&str> {
        let name = name.to_lowercase();
        if name == "transaction_isolation" {
            let current = match (&self.txn, self.in_block) {
                (Some(t), true) => t.isolation(),
                _ => self.default_isolation(),
            };
            return Some(isolation_name(current));
        }
        self.settings.get(&name).map(String::as_str)
    }

    /// Sets a setting, as a startup parameter or SET does.
    pub fn set(&mut self, name: &str, value: &str) -> SqlResult<()> {
        let name = name.to_lowercase();
        if !self.settings.contains_key(&name) {
            return Err(SqlError::UndefinedParameter(name));
        }
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
        self.settings.insert(name, value.to_string());
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
        self.in_block = false;
        self.failed = false;
        self.savepoints.clear();
    }

    /// Parameter types and result columns of a statement, without running it.
    pub fn describe(
        &mut self,
        stmt: &ast::Statement,
        declared: &[Option<DataType>],
    ) -> SqlResult<(Vec<DataType>, Vec<ColumnInfo>)> {
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
            ast::Statement::Query(q) if !q.locks.is_empty() => Ok(Planner { engine, txn }
                .bind_locking(q, params)?
                .plan
                .columns),
            ast::Statement::Query(q) => Ok(Planner { engine, txn }.bind_query(q, params)?.columns),
            ast::Statement::Insert(ins) => {
                self.plan_insert(txn, ins, params)?;
                Ok(Vec::new())
            }
            ast::Statement::Update(u) => {
                self.plan_update(txn, u, params)?;
                Ok(Vec::new())
            }
            ast::Statement::Delete(d) => {
                self.plan_delete(txn, d, params)?;
                Ok(Vec::new())
            }
            ast::Statement::ShowVariable { variable } => Ok(vec![ColumnInfo {
                name: show_name(variable),
                ty: DataType::Text,
            }]),
            _ => Ok(Vec::new()),
        }
    }

    /// Executes one statement with its parameter values.
    pub fn execute(&mut self, stmt: &ast::Statement, params: &[Value]) -> SqlResult<Executed> {
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
                let isolation = check_modes(modes)?.unwrap_or_else(|| self.default_isolation());
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
                let txn = self.txn.take();
                if failed {
                    if let Some(t) = txn {
                        self.db.engine.rollback(t);
                    }
                    return plain(command("ROLLBACK"));
                }
                let lsn = match txn {
                    Some(t) => self.commit(t)?,
                    None => None,
                };
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
                let isolation = check_modes(modes)?;
                if *session {
                    if let Some(i) = isolation {
                        self.settings.insert(
                            "default_transaction_isolation".into(),
                            isolation_name(i).into(),
                        );
                    }
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
        if let ast::Statement::Vacuum(v) = stmt {
            return self.vacuum(v.table_name.as_ref()).and_then(plain);
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
        match result {
            Ok(output) => {
                if self.in_block {
                    self.txn = Some(txn);
                    plain(output)
                } else {
                    let lsn = self.commit(txn)?;
                    Ok(Executed {
                        output,
                        commit_lsn: lsn,
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

    fn commit(&self, txn: Txn) -> SqlResult<Option<Lsn>> {
        match self.db.engine.commit(txn) {
            Ok(lsn) => Ok(lsn),
            Err(EngineError::DuplicateKey) => Err(SqlError::UniqueViolation {
                constraint: "primary key".into(),
                detail: "A concurrent transaction committed the same key first.".into(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    fn run(&mut self, txn: &mut Txn, stmt: &ast::Statement, params: &[Value]) -> SqlResult<Output> {
        match stmt {
            ast::Statement::Query(q) if !q.locks.is_empty() => self.select_locking(txn, q, params),
            ast::Statement::Query(q) => {
                let mut types = vec![None; params.len()];
                let engine = &self.db.engine;
                let plan = Planner { engine, txn }.bind_query(q, &mut types)?;
                let rows = Executor::new(engine, txn, params, &self.info).run(&plan, None)?;
                Ok(Output::Rows {
                    columns: plan.columns,
                    rows,
                })
            }
            ast::Statement::Insert(ins) => self.insert(txn, ins, params),
            ast::Statement::Update(u) => self.update(txn, u, params),
            ast::Statement::Delete(d) => self.delete(txn, d, params),
            ast::Statement::CreateTable(ct) => self.create_table(txn, ct),
            ast::Statement::CreateIndex(ci) => self.create_index(txn, ci),
            ast::Statement::Drop {
                object_type: ast::ObjectType::Table,
                if_exists,
                names,
                cascade: false,
                ..
            } => self.drop_tables(txn, names, *if_exists),
            ast::Statement::Drop {
                object_type: ast::ObjectType::Index,
                if_exists,
                names,
                cascade: false,
                ..
            } => self.drop_indexes(txn, names, *if_exists),
            ast::Statement::Set(set) => self.set_statement(set),
            ast::Statement::Truncate(t) => self.truncate(txn, t),
            ast::Statement::AlterTable(at) => self.alter_table(txn, at),
            ast::Statement::Analyze(a) => {
                if let Some(n) = &a.table_name {
                    lookup_table(&self.db.engine, txn, &object_name(n)?)?;
                }
                Ok(command("ANALYZE"))
            }
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
            ast::Statement::ShowVariable { variable } => {
                let name = show_name(variable);
                let value = self
                    .setting(&name)
                    .ok_or_else(|| SqlError::UndefinedParameter(name.clone()))?
                    .to_string();
                Ok(Output::Rows {
                    columns: vec![ColumnInfo {
                        name,
                        ty: DataType::Text,
                    }],
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
                    SETTINGS
                        .iter()
                        .find(|(k, _)| *k == name)
                        .map_or(value, |(_, d)| (*d).to_string())
                } else {
                    value
                };
                self.set(&name, &value)?;
                Ok(command("SET"))
            }
            other => Err(SqlError::FeatureNotSupported(format!("{other}"))),
        }
    }

    fn create_table(&mut self, txn: &mut Txn, ct: &ast::CreateTable) -> SqlResult<Output> {
        let engine = &self.db.engine;
        if ct.query.is_some() || ct.temporary || ct.or_replace {
            return Err(SqlError::FeatureNotSupported(
                "CREATE TABLE AS, TEMPORARY and OR REPLACE".into(),
            ));
        }
        let name = object_name(&ct.name)?;
        if let Some(owner) = index::name_owner(engine, txn, &name)? {
            if ct.if_not_exists && matches!(owner, NameOwner::Table) {
                self.notices
                    .push(format!("relation \"{name}\" already exists, skipping"));
                return Ok(command("CREATE TABLE"));
            }
            return Err(SqlError::DuplicateTable(name));
        }
        let mut columns: Vec<Column> = Vec::with_capacity(ct.columns.len());
        let mut pk: Vec<usize> = Vec::new();
        // UNIQUE constraints: (constraint name, column names), in declaration order.
        let mut uniques: Vec<(Option<String>, Vec<String>)> = Vec::new();
        for (i, c) in ct.columns.iter().enumerate() {
            let cname = ident_name(&c.name);
            if columns.iter().any(|x| x.name == cname) {
                return Err(SqlError::DuplicateColumn(cname));
            }
            let (ty, text_kind) = crate::expr::column_type(&c.data_type)?;
            let mut not_null = false;
            for opt in &c.options {
                match &opt.option {
                    ast::ColumnOption::NotNull => not_null = true,
                    ast::ColumnOption::Null => {}
                    ast::ColumnOption::PrimaryKey(_) => {
                        if !pk.is_empty() {
                            return Err(SqlError::Syntax(format!(
                                "multiple primary keys for table \"{name}\" are not allowed"
                            )));
                        }
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
            columns.push(Column {
                name: cname,
                ty,
                not_null,
                text_kind,
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
                other => {
                    return Err(SqlError::FeatureNotSupported(format!(
                        "table constraint {other}"
                    )));
                }
            }
        }
        let tree = engine.create_tree()?;
        let mut def = TableDef {
            name: name.clone(),
            oid: TableDef::oid_for_tree(tree),
            tree,
            columns,
            pk,
            indexes: Vec::new(),
        };
        for (cname, cols) in uniques {
            let cols = key_positions(&def, &cols)?;
            self.add_unique_constraint(txn, &mut def, cname, cols)?;
        }
        engine.insert(txn, CATALOG, name.as_bytes(), &def.encode())?;
        Ok(command("CREATE TABLE"))
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
                if taken.contains(&n) || index::name_owner(engine, txn, &n)?.is_some() {
                    return Err(SqlError::DuplicateTable(n));
                }
                n
            }
            None => {
                let names: Vec<&str> = columns
                    .iter()
                    .map(|&i| def.columns[i].name.as_str())
                    .collect();
                index::choose_name(engine, txn, &def.name, &names, "key", &taken)?
            }
        };
        self.add_index(txn, def, name, columns, true, true)
    }

    /// Creates the tree of a new index, fills it from the table's rows, and adds it to `def`.
    fn add_index(
        &self,
        txn: &mut Txn,
        def: &mut TableDef,
        name: String,
        columns: Vec<usize>,
        unique: bool,
        constraint: bool,
    ) -> SqlResult<()> {
        if columns.len() > crate::catalog::INDEX_COLUMNS_MAX {
            return Err(SqlError::FeatureNotSupported(format!(
                "indexes of more than {} columns",
                crate::catalog::INDEX_COLUMNS_MAX
            )));
        }
        let engine = &self.db.engine;
        let tree = engine.create_tree()?;
        let ix = IndexDef {
            name,
            oid: TableDef::oid_for_tree(tree),
            tree,
            columns,
            unique,
            constraint,
        };
        index::build(engine, txn, def, &ix, &self.info.cancel)?;
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
        let mut def = lookup_table(&engine, txn, &object_name(&ci.table_name)?)?;
        let mut names = Vec::with_capacity(ci.columns.len());
        for c in &ci.columns {
            let ast::Expr::Identifier(id) = &c.column.expr else {
                return Err(SqlError::FeatureNotSupported(
                    "expressions in an index".into(),
                ));
            };
            if c.column
                .options
                .sort
                .as_ref()
                .is_some_and(|s| !matches!(s, ast::OrderBySort::Asc))
                || c.column.options.nulls_first == Some(true)
            {
                return Err(SqlError::FeatureNotSupported(
                    "DESC and NULLS FIRST/LAST in an index".into(),
                ));
            }
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
                if index::name_owner(&engine, txn, &n)?.is_some() {
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
                index::choose_name(&engine, txn, &def.name, &refs, "idx", &[])?
            }
        };
        self.add_index(txn, &mut def, name, columns, ci.unique, false)?;
        engine.put(txn, CATALOG, def.name.as_bytes(), &def.encode())?;
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
            let name = object_name(n)?;
            match index::name_owner(&engine, txn, &name)? {
                None if if_exists => {
                    self.notices
                        .push(format!("index \"{name}\" does not exist, skipping"));
                }
                None => {
                    return Err(SqlError::UndefinedObject(format!(
                        "index \"{name}\" does not exist"
                    )));
                }
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
                            hint: format!(
                                "You can drop constraint {name} on table {} instead.",
                                def.name
                            ),
                        });
                    }
                    let mut def = def;
                    if let Some(i) = i {
                        def.indexes.remove(i);
                    }
                    engine.put(txn, CATALOG, def.name.as_bytes(), &def.encode())?;
                }
            }
        }
        Ok(command("DROP INDEX"))
    }

    fn drop_tables(
        &mut self,
        txn: &mut Txn,
        names: &[ast::ObjectName],
        if_exists: bool,
    ) -> SqlResult<Output> {
        for n in names {
            let name = object_name(n)?;
            if !self.db.engine.delete(txn, CATALOG, name.as_bytes())? {
                if !if_exists {
                    return Err(SqlError::UndefinedTable(name));
                }
                self.notices
                    .push(format!("table \"{name}\" does not exist, skipping"));
            }
        }
        Ok(command("DROP TABLE"))
    }

    fn plan_insert(
        &self,
        txn: &Txn,
        ins: &ast::Insert,
        params: &mut Vec<Option<DataType>>,
    ) -> SqlResult<InsertPlan> {
        let engine = &self.db.engine;
        if ins.on.is_some() || ins.returning.is_some() {
            return Err(SqlError::FeatureNotSupported(
                "ON CONFLICT and RETURNING".into(),
            ));
        }
        let ast::TableObject::TableName(tname) = &ins.table else {
            return Err(SqlError::FeatureNotSupported(
                "INSERT into a table function".into(),
            ));
        };
        let def = lookup_table(engine, txn, &object_name(tname)?)?;
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
        let source = ins
            .source
            .as_ref()
            .ok_or_else(|| SqlError::FeatureNotSupported("INSERT without VALUES".into()))?;
        let rows = match &*source.body {
            ast::SetExpr::Values(values)
                if source.order_by.is_none() && source.limit_clause.is_none() =>
            {
                let mut rows = Vec::with_capacity(values.rows.len());
                let scope = Vec::new();
                let planner = Planner { engine, txn };
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
                        let b = if matches!(e, ast::Expr::Identifier(id) if id.value.eq_ignore_ascii_case("default") && id.quote_style.is_none())
                        {
                            Expr::Literal(Value::Null)
                        } else {
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
                let plan = Planner { engine, txn }.bind_query(source, params)?;
                if plan.columns.len() > targets.len() {
                    return Err(SqlError::Syntax(
                        "INSERT has more expressions than target columns".into(),
                    ));
                }
                InsertSource::Query(Box::new(plan))
            }
        };
        Ok(InsertPlan {
            def,
            targets,
            source: rows,
        })
    }

    fn insert(&mut self, txn: &mut Txn, ins: &ast::Insert, params: &[Value]) -> SqlResult<Output> {
        let mut types = vec![None; params.len()];
        let plan = self.plan_insert(txn, ins, &mut types)?;
        let engine = &self.db.engine;
        let rows: Vec<Vec<Value>> = match &plan.source {
            InsertSource::Values(rows) => {
                let mut out = Vec::with_capacity(rows.len());
                let exec = Executor::new(engine, txn, params, &self.info);
                for r in rows {
                    let cx = exec.cx(&[], None);
                    out.push(
                        r.iter()
                            .map(|e| e.eval(&cx))
                            .collect::<SqlResult<Vec<_>>>()?,
                    );
                }
                out
            }
            InsertSource::Query(q) => {
                Executor::new(engine, txn, params, &self.info).run(q, None)?
            }
        };
        let def = &plan.def;
        let mut buf = Vec::new();
        for values in &rows {
            let mut row = vec![Value::Null; def.columns.len()];
            for (k, v) in values.iter().enumerate() {
                let col = &def.columns[plan.targets[k]];
                row[plan.targets[k]] = col.fit(v.clone().cast(col.ty)?)?;
            }
            check_not_null(def, &row)?;
            let key = if def.pk.is_empty() {
                rowid_key(self.db.next_rowid(txn, def.tree)?)
            } else {
                pk_key(def, &row)
            };
            buf.clear();
            encode_row(&row, &mut buf);
            match engine.insert(txn, def.tree, &key, &buf) {
                Ok(()) => {}
                Err(EngineError::DuplicateKey) => return Err(unique_violation(def, &row)),
                Err(e) => return Err(e.into()),
            }
            index::insert_entries(engine, txn, def, &row, &key)?;
        }
        Ok(command(format!("INSERT 0 {}", rows.len())))
    }

    fn plan_update(
        &self,
        txn: &Txn,
        u: &ast::Update,
        params: &mut Vec<Option<DataType>>,
    ) -> SqlResult<UpdatePlan> {
        if u.from.is_some() || u.returning.is_some() || u.limit.is_some() || !u.order_by.is_empty()
        {
            return Err(SqlError::FeatureNotSupported(
                "UPDATE with FROM, RETURNING, ORDER BY or LIMIT".into(),
            ));
        }
        let (name, alias) = single_table(std::slice::from_ref(&u.table))?
            .ok_or_else(|| SqlError::Syntax("UPDATE needs a table".into()))?;
        let engine = &self.db.engine;
        let def = lookup_table(engine, txn, &name)?;
        let scope = table_scope(&def, alias.as_deref());
        let planner = Planner { engine, txn };
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
            let b = binder.bind(&a.value, &mut AggMode::Forbidden("UPDATE"))?;
            if let Expr::Param(p) = b
                && binder.params[p].is_none()
            {
                binder.params[p] = Some(def.columns[i].ty);
            }
            sets.push((i, b));
        }
        let filter = match &u.selection {
            Some(w) => Some(binder.bind(w, &mut AggMode::Forbidden("WHERE"))?),
            None => None,
        };
        let access = choose_access(&def, filter.as_ref());
        Ok(UpdatePlan {
            def,
            sets,
            filter,
            access,
        })
    }

    fn update(&mut self, txn: &mut Txn, u: &ast::Update, params: &[Value]) -> SqlResult<Output> {
        let mut types = vec![None; params.len()];
        let plan = self.plan_update(txn, u, &mut types)?;
        let engine = &self.db.engine;
        let def = &plan.def;
        // Every new row is computed before the first write: the statement sees the table as it
        // was when it started.
        let mut found = Vec::new();
        matching_rows(
            &Executor::new(engine, txn, params, &self.info),
            def,
            plan.filter.as_ref(),
            &plan.access,
            None,
            None,
            |k, row| {
                found.push((k, row));
                Ok(())
            },
        )?;
        // Lock every matching row, then compute its new version from the newest committed one
        // (PostgreSQL's READ COMMITTED: a row changed since the snapshot is re-checked against
        // the WHERE clause and updated from its newest version, so no update is lost).
        let mut locked = Vec::with_capacity(found.len());
        for (key, old) in found {
            if let Some(row) =
                self.lock_for_write(txn, def, plan.filter.as_ref(), params, &key, old)?
            {
                locked.push((key, row));
            }
        }
        let mut targets = Vec::with_capacity(locked.len());
        {
            let exec = Executor::new(engine, txn, params, &self.info);
            for (key, old) in locked {
                let cx = exec.cx(&old, None);
                let mut row = old.clone();
                for (i, e) in &plan.sets {
                    let col = &def.columns[*i];
                    row[*i] = col.fit(e.eval(&cx)?.cast(col.ty)?)?;
                }
                targets.push((key, old, row));
            }
        }
        let mut buf = Vec::new();
        for (key, old, row) in &targets {
            check_not_null(def, row)?;
            buf.clear();
            encode_row(row, &mut buf);
            let new_key = if def.pk.is_empty() {
                key.clone()
            } else {
                pk_key(def, row)
            };
            if new_key == *key {
                engine.put(txn, def.tree, key, &buf)?;
            } else {
                engine.delete(txn, def.tree, key)?;
                match engine.insert(txn, def.tree, &new_key, &buf) {
                    Ok(()) => {}
                    Err(EngineError::DuplicateKey) => return Err(unique_violation(def, row)),
                    Err(e) => return Err(e.into()),
                }
            }
            index::update_entries(engine, txn, def, (old, key), (row, &new_key))?;
        }
        Ok(command(format!("UPDATE {}", targets.len())))
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
        let lq = Planner { engine, txn }.bind_locking(q, &mut types)?;
        let (candidates, (limit, offset)) = {
            let exec = Executor::new(engine, txn, params, &self.info);
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
                let exec = Executor::new(engine, txn, params, &self.info);
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
            let exec = Executor::new(engine, txn, params, &self.info);
            if f.eval(&exec.cx(&newest, None))? != Value::Bool(true) {
                return Ok(None);
            }
        }
        Ok(Some(newest))
    }

    fn plan_delete(
        &self,
        txn: &Txn,
        d: &ast::Delete,
        params: &mut Vec<Option<DataType>>,
    ) -> SqlResult<UpdatePlan> {
        if d.using.is_some()
            || d.returning.is_some()
            || d.limit.is_some()
            || !d.order_by.is_empty()
            || !d.tables.is_empty()
        {
            return Err(SqlError::FeatureNotSupported(
                "DELETE with USING, RETURNING, ORDER BY or LIMIT".into(),
            ));
        }
        let from = match &d.from {
            ast::FromTable::WithFromKeyword(f) | ast::FromTable::WithoutKeyword(f) => f,
        };
        let (name, alias) =
            single_table(from)?.ok_or_else(|| SqlError::Syntax("DELETE needs a table".into()))?;
        let engine = &self.db.engine;
        let def = lookup_table(engine, txn, &name)?;
        let scope = table_scope(&def, alias.as_deref());
        let planner = Planner { engine, txn };
        let mut binder = Binder::new(&scope, params);
        binder.planner = Some(&planner);
        let filter = match &d.selection {
            Some(w) => Some(binder.bind(w, &mut AggMode::Forbidden("WHERE"))?),
            None => None,
        };
        let access = choose_access(&def, filter.as_ref());
        Ok(UpdatePlan {
            def,
            sets: Vec::new(),
            filter,
            access,
        })
    }

    fn delete(&mut self, txn: &mut Txn, d: &ast::Delete, params: &[Value]) -> SqlResult<Output> {
        let mut types = vec![None; params.len()];
        let plan = self.plan_delete(txn, d, &mut types)?;
        let engine = &self.db.engine;
        let mut found = Vec::new();
        matching_rows(
            &Executor::new(engine, txn, params, &self.info),
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
        let mut deleted = 0usize;
        for (k, old) in found {
            let Some(row) =
                self.lock_for_write(txn, &plan.def, plan.filter.as_ref(), params, &k, old)?
            else {
                continue;
            };
            if engine.delete(txn, plan.def.tree, &k)? {
                index::delete_entries(engine, txn, &plan.def, &row, &k)?;
                deleted += 1;
            }
        }
        Ok(command(format!("DELETE {deleted}")))
    }
}

enum InsertSource {
    Values(Vec<Vec<Expr>>),
    Query(Box<QueryPlan>),
}

struct InsertPlan {
    def: TableDef,
    targets: Vec<usize>,
    source: InsertSource,
}

struct UpdatePlan {
    def: TableDef,
    sets: Vec<(usize, Expr)>,
    filter: Option<Expr>,
    access: Access,
}

fn check_not_null(def: &TableDef, row: &[Value]) -> SqlResult<()> {
    for (c, v) in def.columns.iter().zip(row) {
        if c.not_null && v.is_null() {
            return Err(SqlError::NotNullViolation {
                table: def.name.clone(),
                column: c.name.clone(),
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
fn check_modes(modes: &[ast::TransactionMode]) -> SqlResult<Option<Isolation>> {
    let mut isolation = None;
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
            ast::TransactionMode::AccessMode(ast::TransactionAccessMode::ReadWrite) => {}
            other => {
                return Err(SqlError::FeatureNotSupported(format!(
                    "transaction mode {other}"
                )));
            }
        }
    }
    Ok(isolation)
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
            Some(n) => object_name(n)
                .and_then(|name| lookup_table(engine, &txn, &name))
                .map(|d| vec![d.tree]),
            None => crate::catalog_views::user_tables(engine, &txn)
                .map(|ts| ts.into_iter().map(|d| d.tree).collect()),
        };
        engine.rollback(txn);
        for tree in trees? {
            engine.vacuum(tree)?;
        }
        Ok(command("VACUUM"))
    }

    /// `TRUNCATE t [, …]`: each table gets a new, empty tree in the same transaction (the old
    /// tree is left unreachable, as DROP TABLE leaves it).
    fn truncate(&mut self, txn: &mut Txn, t: &ast::Truncate) -> SqlResult<Output> {
        let engine = &self.db.engine;
        let mut defs = Vec::with_capacity(t.table_names.len());
        for target in &t.table_names {
            defs.push(lookup_table(engine, txn, &object_name(&target.name)?)?);
        }
        for mut def in defs {
            def.tree = engine.create_tree()?;
            for ix in &mut def.indexes {
                ix.tree = engine.create_tree()?;
            }
            engine.put(txn, CATALOG, def.name.as_bytes(), &def.encode())?;
        }
        Ok(command("TRUNCATE TABLE"))
    }

    /// `ALTER TABLE t …`, each action in turn, all in the statement's transaction:
    /// - `ADD [CONSTRAINT c] PRIMARY KEY (cols)` rebuilds the table as a B+tree keyed by the new
    ///   primary key (and its indexes, whose entries point at rows by that key), checking that the
    ///   key columns hold no NULL (23502) and no duplicate (23505), as PostgreSQL's build does;
    /// - `ADD [CONSTRAINT c] UNIQUE (cols)` builds a unique index (23505 on duplicates);
    /// - `DROP CONSTRAINT [IF EXISTS] c` drops a unique constraint and its index;
    /// - `RENAME COLUMN a TO b` (indexes name columns by position, so they follow).
    fn alter_table(&mut self, txn: &mut Txn, at: &ast::AlterTable) -> SqlResult<Output> {
        let engine = self.db.engine.clone();
        let mut def = lookup_table(&engine, txn, &object_name(&at.name)?)?;
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
                    match def
                        .indexes
                        .iter()
                        .position(|ix| ix.constraint && ix.name == name)
                    {
                        Some(i) => {
                            def.indexes.remove(i);
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
                ast::AlterTableOperation::RenameColumn {
                    old_column_name,
                    new_column_name,
                } => {
                    let (old, new) = (ident_name(old_column_name), ident_name(new_column_name));
                    let i = def
                        .column_index(&old)
                        .ok_or_else(|| SqlError::UndefinedColumn(old.clone()))?;
                    if def.column_index(&new).is_some() {
                        return Err(SqlError::DuplicateColumn(format!(
                            "{new}\" of relation \"{}",
                            def.name
                        )));
                    }
                    def.columns[i].name = new;
                }
                _ => return Err(SqlError::FeatureNotSupported(format!("ALTER TABLE {op}"))),
            }
        }
        engine.put(txn, CATALOG, def.name.as_bytes(), &def.encode())?;
        Ok(command("ALTER TABLE"))
    }

    /// Rebuilds `def` as a B+tree keyed by a new primary key over the columns `names`, and its
    /// indexes over the new keys. Returns the new definition; the caller writes it.
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
        rebuilt.tree = engine.create_tree()?;
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
        for ix in &def.indexes {
            let mut ix = ix.clone();
            ix.tree = engine.create_tree()?;
            index::build(&engine, txn, &rebuilt, &ix, &self.info.cancel)?;
            rebuilt.indexes.push(ix);
        }
        Ok(rebuilt)
    }

    /// `COPY t [(cols)] TO STDOUT` or `COPY (query) TO STDOUT`, text or CSV.
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
        let (names, rows) = match source {
            ast::CopySource::Table {
                table_name,
                columns,
            } => {
                let def = lookup_table(engine, txn, &object_name(table_name)?)?;
                let targets = copy_targets(&def, columns)?;
                let mut rows = Vec::new();
                matching_rows(
                    &Executor::new(engine, txn, params, &self.info),
                    &def,
                    None,
                    &Access::Full,
                    None,
                    None,
                    |_, row| {
                        rows.push(targets.iter().map(|&i| row[i].clone()).collect::<Vec<_>>());
                        Ok(())
                    },
                )?;
                let names = targets
                    .iter()
                    .map(|&i| def.columns[i].name.clone())
                    .collect();
                (names, rows)
            }
            ast::CopySource::Query(q) => {
                let mut types = vec![None; params.len()];
                let plan = Planner { engine, txn }.bind_query(q, &mut types)?;
                let rows = Executor::new(engine, txn, params, &self.info).run(&plan, None)?;
                let names: Vec<String> = plan.columns.iter().map(|c| c.name.clone()).collect();
                (names, rows)
            }
        };
        let mut lines = Vec::with_capacity(rows.len() + 1);
        if format.header {
            let mut h = String::new();
            format.encode_header(&names, &mut h);
            lines.push(h);
        }
        for r in &rows {
            let mut line = String::new();
            format.encode_row(r, &mut line);
            lines.push(line);
        }
        Ok(Output::CopyOut {
            columns: names.len(),
            lines,
        })
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
            let def = lookup_table(&self.db.engine, &txn, &object_name(table_name)?)?;
            let targets = copy_targets(&def, columns)?;
            Ok::<_, SqlError>((format, def, targets))
        })();
        match started {
            Ok((format, def, targets)) => {
                let n = targets.len();
                self.txn = Some(txn);
                self.copy_in = Some(CopyIn {
                    def,
                    targets,
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
            copy_row(&db, &mut txn, &copy.def, &copy.targets, fields)?;
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
            copy_row(&db, &mut txn, &copy.def, &copy.targets, fields)?;
            copy.rows += 1;
            Ok(())
        });
        if let Err(e) = r {
            self.fail_statement(txn);
            return Err(copy_context(e, &copy));
        }
        let output = command(format!("COPY {}", copy.rows));
        if self.in_block {
            self.txn = Some(txn);
            return Ok(Executed {
                output,
                commit_lsn: None,
                notice: None,
            });
        }
        let lsn = self.commit(txn)?;
        Ok(Executed {
            output,
            commit_lsn: lsn,
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
fn copy_row(
    db: &Database,
    txn: &mut Txn,
    def: &TableDef,
    targets: &[usize],
    fields: Vec<Option<String>>,
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
            row[i] = col.fit(crate::types::parse_text(&text, col.ty)?)?;
        }
    }
    check_not_null(def, &row)?;
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
    use borealis_common::pagestore::MemStore;
    use borealis_engine::EngineConfig;

    fn session() -> Session {
        let engine = Engine::open(Arc::new(MemStore::new()), EngineConfig::default()).unwrap();
        Session::new(
            Database::new(Arc::new(engine)),
            SessionInfo {
                database: "db".into(),
                user: "alice".into(),
                backend_pid: 1,
                ..SessionInfo::default()
            },
        )
    }

    fn run(s: &mut Session, sql: &str) -> Vec<Vec<String>> {
        let mut last = Vec::new();
        for stmt in parse(sql).unwrap() {
            last = match s.execute(&stmt, &[]).unwrap().output {
                Output::Rows { rows, .. } => rows
                    .iter()
                    .map(|r| {
                        r.iter()
                            .map(|v| v.to_text().unwrap_or_else(|| "NULL".into()))
                            .collect()
                    })
                    .collect(),
                Output::CopyOut { lines, .. } => lines.into_iter().map(|l| vec![l]).collect(),
                _ => Vec::new(),
            };
        }
        last
    }

    fn fails(s: &mut Session, sql: &str) -> SqlError {
        let stmt = parse(sql).unwrap().pop().unwrap();
        s.execute(&stmt, &[]).unwrap_err()
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
            run(&mut s, "select f || '|', v, m from t where tid = 1"),
            [["ab  |", "xyz", "2024-01-02 03:04:05.5"]]
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

    /// The access path UPDATE would take for `where`.
    fn access_of(s: &mut Session, table: &str, filter: &str) -> Access {
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
        plan.access
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
}
