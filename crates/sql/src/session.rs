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

use crate::catalog::{Column, TableDef, encode_row, pk_key, rowid_key, rowid_of_key};
use crate::error::{SqlError, SqlResult};
use crate::expr::{AggMode, Binder, Expr, SessionInfo, data_type, ident_name, object_name};
use crate::query::{
    ColumnInfo, Executor, Planner, QueryPlan, key_equalities, lookup_table, matching_rows,
    single_table, table_scope,
};
use crate::types::{DataType, Value};
use borealis_common::Lsn;
use borealis_engine::{CATALOG, Engine, EngineError, TreeId, Txn};
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

/// Parses SQL text into statements (PostgreSQL dialect).
pub fn parse(sql: &str) -> SqlResult<Vec<ast::Statement>> {
    sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::PostgreSqlDialect {}, sql).map_err(
        |e| {
            SqlError::Syntax(
                e.to_string()
                    .trim_start_matches("sql parser error: ")
                    .to_string(),
            )
        },
    )
}

/// One client session.
pub struct Session {
    db: Arc<Database>,
    txn: Option<Txn>,
    in_block: bool,
    failed: bool,
    settings: BTreeMap<String, String>,
    pub info: SessionInfo,
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
        }
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
        self.settings.get(&name.to_lowercase()).map(String::as_str)
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
        self.settings.insert(name, value.to_string());
        Ok(())
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
        if let Some(t) = self.txn.take() {
            self.db.engine.rollback(t);
        }
        self.in_block = false;
        self.failed = false;
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
                check_modes(modes)?;
                self.in_block = true;
                self.failed = false;
                if self.txn.is_none() {
                    self.txn = Some(self.db.engine.begin());
                }
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
            _ => {}
        }
        if self.failed {
            return Err(SqlError::InFailedTransaction);
        }
        if self.txn.is_none() {
            self.txn = Some(self.db.engine.begin());
        }
        let mut txn = self.txn.take().expect("a transaction is open");
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
            ast::Statement::Set(set) => self.set_statement(set),
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
        if engine.get(txn, CATALOG, name.as_bytes())?.is_some() {
            if ct.if_not_exists {
                return Ok(command("CREATE TABLE"));
            }
            return Err(SqlError::DuplicateTable(name));
        }
        let mut columns: Vec<Column> = Vec::with_capacity(ct.columns.len());
        let mut pk: Vec<usize> = Vec::new();
        for (i, c) in ct.columns.iter().enumerate() {
            let cname = ident_name(&c.name);
            if columns.iter().any(|x| x.name == cname) {
                return Err(SqlError::DuplicateColumn(cname));
            }
            let ty = data_type(&c.data_type)?;
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
                other => {
                    return Err(SqlError::FeatureNotSupported(format!(
                        "table constraint {other}"
                    )));
                }
            }
        }
        let tree = engine.create_tree()?;
        let def = TableDef {
            name: name.clone(),
            tree,
            columns,
            pk,
        };
        engine.insert(txn, CATALOG, name.as_bytes(), &def.encode())?;
        Ok(command("CREATE TABLE"))
    }

    /// `CREATE INDEX` is accepted and checked (the table and its columns must exist) but builds
    /// nothing yet: secondary indexes are the SQL-engine issue's work, and no plan would use one.
    /// The index name is not recorded, so a second index of the same name is not refused.
    fn create_index(&mut self, txn: &mut Txn, ci: &ast::CreateIndex) -> SqlResult<Output> {
        let def = lookup_table(&self.db.engine, txn, &object_name(&ci.table_name)?)?;
        for c in &ci.columns {
            let ast::Expr::Identifier(id) = &c.column.expr else {
                return Err(SqlError::FeatureNotSupported(
                    "expressions in an index".into(),
                ));
            };
            let cname = ident_name(id);
            if def.column_index(&cname).is_none() {
                return Err(SqlError::UndefinedColumn(cname));
            }
        }
        Ok(command("CREATE INDEX"))
    }

    fn drop_tables(
        &mut self,
        txn: &mut Txn,
        names: &[ast::ObjectName],
        if_exists: bool,
    ) -> SqlResult<Output> {
        for n in names {
            let name = object_name(n)?;
            if !self.db.engine.delete(txn, CATALOG, name.as_bytes())? && !if_exists {
                return Err(SqlError::UndefinedTable(name));
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
                row[plan.targets[k]] = v.clone().cast(col.ty)?;
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
        let key_eq = key_equalities(&def, filter.as_ref());
        Ok(UpdatePlan {
            def,
            sets,
            filter,
            key_eq,
        })
    }

    fn update(&mut self, txn: &mut Txn, u: &ast::Update, params: &[Value]) -> SqlResult<Output> {
        let mut types = vec![None; params.len()];
        let plan = self.plan_update(txn, u, &mut types)?;
        let engine = &self.db.engine;
        let def = &plan.def;
        // Every new row is computed before the first write: the statement sees the table as it
        // was when it started.
        let mut targets = Vec::new();
        {
            let exec = Executor::new(engine, txn, params, &self.info);
            let mut found = Vec::new();
            matching_rows(
                &exec,
                def,
                plan.filter.as_ref(),
                plan.key_eq.as_deref(),
                None,
                None,
                |k, row| {
                    found.push((k, row));
                    Ok(())
                },
            )?;
            for (key, old) in found {
                let mut row = old.clone();
                let cx = exec.cx(&old, None);
                for (i, e) in &plan.sets {
                    row[*i] = e.eval(&cx)?.cast(def.columns[*i].ty)?;
                }
                targets.push((key, row));
            }
        }
        let mut buf = Vec::new();
        for (key, row) in &targets {
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
        }
        Ok(command(format!("UPDATE {}", targets.len())))
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
        let key_eq = key_equalities(&def, filter.as_ref());
        Ok(UpdatePlan {
            def,
            sets: Vec::new(),
            filter,
            key_eq,
        })
    }

    fn delete(&mut self, txn: &mut Txn, d: &ast::Delete, params: &[Value]) -> SqlResult<Output> {
        let mut types = vec![None; params.len()];
        let plan = self.plan_delete(txn, d, &mut types)?;
        let engine = &self.db.engine;
        let mut keys = Vec::new();
        matching_rows(
            &Executor::new(engine, txn, params, &self.info),
            &plan.def,
            plan.filter.as_ref(),
            plan.key_eq.as_deref(),
            None,
            None,
            |k, _| {
                keys.push(k);
                Ok(())
            },
        )?;
        for k in &keys {
            engine.delete(txn, plan.def.tree, k)?;
        }
        Ok(command(format!("DELETE {}", keys.len())))
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
    key_eq: Option<Vec<(usize, Expr)>>,
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

fn check_modes(modes: &[ast::TransactionMode]) -> SqlResult<()> {
    for m in modes {
        match m {
            ast::TransactionMode::IsolationLevel(ast::TransactionIsolationLevel::ReadCommitted)
            | ast::TransactionMode::AccessMode(ast::TransactionAccessMode::ReadWrite) => {}
            other => {
                return Err(SqlError::FeatureNotSupported(format!(
                    "transaction mode {other}"
                )));
            }
        }
    }
    Ok(())
}

fn show_name(variable: &[ast::Ident]) -> String {
    variable
        .iter()
        .map(|i| i.value.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

fn first_words(s: &str) -> String {
    s.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}
