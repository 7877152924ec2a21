//! The PostgreSQL wire-protocol front end of an instance, built on the `pgwire` crate.
//!
//! ```text
//!  TCP ─▶ pgwire (startup, simple & extended query) ─▶ Handler ─▶ sql::Session (blocking thread)
//!                                                         │
//!                       commit LSN ─▶ Durability::wait ───┘ acknowledge only once VDL ≥ LSN
//! ```
//!
//! Each connection owns a [`Session`]. Statements run on blocking threads (the engine is
//! synchronous and may wait for storage). A statement that committed is acknowledged to the client
//! only after the storage tier reports the commit durable on a write quorum; `statement_timeout`
//! bounds that wait. This module is the one place that assigns SQLSTATE codes.

use async_trait::async_trait;
use borealis_common::Lsn;
use borealis_common::pagestore::StoreError;
use borealis_sql::expr::SessionInfo;
use borealis_sql::query::ColumnInfo;
use borealis_sql::{DataType, Database, Executed, Output, Session, SqlError, Value};
use futures::{Sink, stream};
use pgwire::api::auth::{
    ServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{
    DataRowEncoder, DescribePortalResponse, DescribeStatementResponse, FieldFormat, FieldInfo,
    QueryResponse, Response, Tag,
};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::{ClientInfo, PgWireServerHandlers, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::SecretKey;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use sqlparser::ast;
use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;

/// Waits for a commit LSN to become durable. The writer's implementation waits for the volume's
/// VDL.
pub trait Durability: Send + Sync + 'static {
    fn wait(&self, lsn: Lsn) -> Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + '_>>;
}

/// What SQLSTATE a SQL error carries, and its message and detail. The only place codes are chosen.
fn error_info(e: &FrontError) -> ErrorInfo {
    let (code, detail) = match e {
        FrontError::Sql(e) => (
            match e {
                SqlError::Syntax(_) => "42601",
                SqlError::UndefinedTable(_) | SqlError::MissingFromEntry(_) => "42P01",
                SqlError::DuplicateTable(_) => "42P07",
                SqlError::UndefinedColumn(_) => "42703",
                SqlError::DuplicateColumn(_) => "42701",
                SqlError::AmbiguousColumn(_) => "42702",
                SqlError::UndefinedFunction(_) => "42883",
                SqlError::UniqueViolation { .. } => "23505",
                SqlError::NotNullViolation { .. } => "23502",
                SqlError::DatatypeMismatch(_) => "42804",
                SqlError::InvalidTextRepresentation { .. } => "22P02",
                SqlError::NumericOutOfRange(_) => "22003",
                SqlError::DivisionByZero => "22012",
                SqlError::Grouping(_) => "42803",
                SqlError::CardinalityViolation(_) => "21000",
                SqlError::DuplicateAlias(_) => "42712",
                SqlError::InvalidColumnReference(_) => "42P10",
                SqlError::FeatureNotSupported(_) => "0A000",
                SqlError::InFailedTransaction => "25P02",
                SqlError::InvalidParameterValue(_) => "22023",
                SqlError::UndefinedParameter(_) => "42704",
                SqlError::ProgramLimitExceeded(_) => "54000",
                SqlError::Storage(StoreError::Fenced) => "25006",
                SqlError::Storage(StoreError::Corrupted(_)) | SqlError::Corrupted(_) => "XX001",
                SqlError::Storage(StoreError::Unavailable(_)) => "58000",
                SqlError::Internal(_) => "XX000",
            },
            match e {
                SqlError::UniqueViolation { detail, .. } if !detail.is_empty() => {
                    Some(detail.clone())
                }
                _ => None,
            },
        ),
        FrontError::CommitNotDurable => (
            "57014",
            Some(
                "The transaction committed on the writer but is not yet durable on a write quorum \
                 of storage nodes; it becomes durable when enough storage nodes return."
                    .into(),
            ),
        ),
        FrontError::Fenced => ("25006", None),
        FrontError::Internal(_) => ("XX000", None),
    };
    let mut info = ErrorInfo::new("ERROR".into(), code.into(), e.to_string());
    info.detail = detail;
    info
}

#[derive(Debug, thiserror::Error)]
enum FrontError {
    #[error("{0}")]
    Sql(SqlError),
    #[error("canceling statement due to statement timeout")]
    CommitNotDurable,
    #[error("this instance is no longer the writer: a newer writer has fenced it")]
    Fenced,
    #[error("internal error: {0}")]
    Internal(String),
}

fn user_error(e: &FrontError) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(e)))
}

fn pg_type(t: DataType) -> Type {
    match t {
        DataType::Bool => Type::BOOL,
        DataType::Int4 => Type::INT4,
        DataType::Int8 => Type::INT8,
        DataType::Float8 => Type::FLOAT8,
        DataType::Text => Type::TEXT,
    }
}

fn our_type(t: &Type) -> Option<DataType> {
    Some(match *t {
        Type::BOOL => DataType::Bool,
        Type::INT4 => DataType::Int4,
        Type::INT8 => DataType::Int8,
        Type::FLOAT8 => DataType::Float8,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => DataType::Text,
        _ => return None,
    })
}

/// Decodes one bound parameter.
fn decode_param(raw: Option<&[u8]>, ty: DataType, binary: bool) -> Result<Value, SqlError> {
    let Some(raw) = raw else {
        return Ok(Value::Null);
    };
    if !binary {
        let s = std::str::from_utf8(raw)
            .map_err(|_| SqlError::InvalidParameterValue("parameter is not valid UTF-8".into()))?;
        return borealis_sql::types::parse_text(s, ty);
    }
    let bad = || {
        SqlError::InvalidParameterValue(format!(
            "incorrect binary data format in bind parameter of type {}",
            ty.name()
        ))
    };
    Ok(match ty {
        DataType::Bool => match raw {
            [b] => Value::Bool(*b != 0),
            _ => return Err(bad()),
        },
        DataType::Int4 => Value::Int(i64::from(i32::from_be_bytes(
            raw.try_into().map_err(|_| bad())?,
        ))),
        DataType::Int8 => Value::Int(i64::from_be_bytes(raw.try_into().map_err(|_| bad())?)),
        DataType::Float8 => Value::Float(f64::from_be_bytes(raw.try_into().map_err(|_| bad())?)),
        DataType::Text => Value::Text(String::from_utf8(raw.to_vec()).map_err(|_| bad())?),
    })
}

/// A statement prepared through the extended protocol.
#[derive(Debug, Clone)]
pub struct Prepared {
    stmt: Option<Arc<ast::Statement>>,
    param_types: Vec<DataType>,
    columns: Vec<ColumnInfo>,
}

struct SessionSlot(Arc<tokio::sync::Mutex<Session>>);

/// The front end of one instance: shared by every connection.
pub struct Frontend {
    db: Arc<Database>,
    durability: Arc<dyn Durability>,
    next_pid: AtomicI32,
}

impl Frontend {
    #[must_use]
    pub fn new(db: Arc<Database>, durability: Arc<dyn Durability>) -> Arc<Frontend> {
        Arc::new(Frontend {
            db,
            durability,
            next_pid: AtomicI32::new(1000),
        })
    }

    fn session<C: ClientInfo>(
        &self,
        client: &C,
    ) -> Result<Arc<tokio::sync::Mutex<Session>>, FrontError> {
        client
            .session_extensions()
            .get::<SessionSlot>()
            .map(|s| s.0.clone())
            .ok_or_else(|| FrontError::Internal("no session for this connection".into()))
    }

    /// Runs one statement: on a blocking thread, then waits for its commit to be durable.
    async fn run(
        &self,
        session: Arc<tokio::sync::Mutex<Session>>,
        stmt: Arc<ast::Statement>,
        params: Vec<Value>,
    ) -> Result<Executed, FrontError> {
        let guard = session.lock_owned().await;
        let (guard, result) = tokio::task::spawn_blocking(move || {
            let mut guard = guard;
            let r = guard.execute(&stmt, &params);
            (guard, r)
        })
        .await
        .map_err(|e| FrontError::Internal(format!("statement task failed: {e}")))?;
        let executed = result.map_err(FrontError::Sql)?;
        if let Some(lsn) = executed.commit_lsn {
            let timeout_ms = guard.statement_timeout_ms();
            drop(guard);
            let wait = self.durability.wait(lsn);
            let outcome = if timeout_ms == 0 {
                wait.await
            } else {
                match tokio::time::timeout(Duration::from_millis(timeout_ms), wait).await {
                    Ok(r) => r,
                    Err(_) => return Err(FrontError::CommitNotDurable),
                }
            };
            match outcome {
                Ok(()) => {}
                Err(StoreError::Fenced) => return Err(FrontError::Fenced),
                Err(e) => return Err(FrontError::Sql(SqlError::Storage(e))),
            }
        }
        Ok(executed)
    }
}

fn response(executed: Executed, formats: &Format) -> PgWireResult<Response> {
    match executed.output {
        Output::Command { tag } => Ok(match tag.as_str() {
            "BEGIN" => Response::TransactionStart(Tag::new(&tag)),
            "COMMIT" | "ROLLBACK" => Response::TransactionEnd(Tag::new(&tag)),
            _ => Response::Execution(Tag::new(&tag)),
        }),
        Output::Rows { columns, rows } => {
            let fields: Vec<FieldInfo> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    FieldInfo::new(
                        c.name.clone(),
                        None,
                        None,
                        pg_type(c.ty),
                        formats.format_for(i),
                    )
                })
                .collect();
            let schema = Arc::new(fields);
            let mut encoder = DataRowEncoder::new(schema.clone());
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                for (i, v) in row.iter().enumerate() {
                    let field = &schema[i];
                    if field.format() == FieldFormat::Text {
                        encoder.encode_field(&v.to_text())?;
                        continue;
                    }
                    match (v, columns[i].ty) {
                        (Value::Null, _) => encoder.encode_field(&None::<i32>)?,
                        (Value::Int(x), DataType::Int4) => encoder.encode_field(&(*x as i32))?,
                        (Value::Int(x), _) => encoder.encode_field(x)?,
                        (Value::Float(f), _) => encoder.encode_field(f)?,
                        (Value::Bool(b), _) => encoder.encode_field(b)?,
                        (Value::Text(s), _) => encoder.encode_field(s)?,
                    }
                }
                out.push(Ok(encoder.take_row()));
            }
            Ok(Response::Query(QueryResponse::new(
                schema,
                stream::iter(out),
            )))
        }
    }
}

/// The pgwire handler.
pub struct Handler {
    frontend: Arc<Frontend>,
    parser: Arc<Parser>,
}

/// Parses and describes statements for the extended protocol.
pub struct Parser {
    frontend: Arc<Frontend>,
}

#[async_trait]
impl QueryParser for Parser {
    type Statement = Prepared;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let mut stmts = borealis_sql::parse(sql).map_err(|e| user_error(&FrontError::Sql(e)))?;
        if stmts.len() > 1 {
            return Err(user_error(&FrontError::Sql(SqlError::Syntax(
                "cannot insert multiple commands into a prepared statement".into(),
            ))));
        }
        let Some(stmt) = stmts.pop() else {
            return Ok(None);
        };
        let declared: Vec<Option<DataType>> = types
            .iter()
            .map(|t| t.as_ref().and_then(our_type))
            .collect();
        let session = self.frontend.session(client).map_err(|e| user_error(&e))?;
        let stmt = Arc::new(stmt);
        let s2 = stmt.clone();
        let guard = session.lock_owned().await;
        let described = tokio::task::spawn_blocking(move || {
            let mut guard = guard;
            guard.describe(&s2, &declared)
        })
        .await
        .map_err(|e| user_error(&FrontError::Internal(e.to_string())))?
        .map_err(|e| user_error(&FrontError::Sql(e)))?;
        Ok(Some(Prepared {
            stmt: Some(stmt),
            param_types: described.0,
            columns: described.1,
        }))
    }

    fn get_parameter_types(&self, stmt: &Prepared) -> PgWireResult<Vec<Type>> {
        Ok(stmt.param_types.iter().map(|t| pg_type(*t)).collect())
    }

    fn get_result_schema(
        &self,
        stmt: &Prepared,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        Ok(stmt
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let fmt = column_format.map_or(FieldFormat::Text, |f| f.format_for(i));
                FieldInfo::new(c.name.clone(), None, None, pg_type(c.ty), fmt)
            })
            .collect())
    }
}

#[async_trait]
impl SimpleQueryHandler for Handler {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let stmts = match borealis_sql::parse(query) {
            Ok(s) => s,
            Err(e) => {
                return Ok(vec![Response::Error(Box::new(error_info(
                    &FrontError::Sql(e),
                )))]);
            }
        };
        let session = self.frontend.session(client).map_err(|e| user_error(&e))?;
        let mut out = Vec::with_capacity(stmts.len());
        for stmt in stmts {
            match self
                .frontend
                .run(session.clone(), Arc::new(stmt), Vec::new())
                .await
            {
                Ok(ex) => out.push(response(ex, &Format::UnifiedText)?),
                Err(e) => {
                    // The rest of the message is skipped, as PostgreSQL does.
                    out.push(Response::Error(Box::new(error_info(&e))));
                    break;
                }
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl ExtendedQueryHandler for Handler {
    type Statement = Prepared;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Prepared>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let prepared = &portal.statement.statement;
        let Some(stmt) = prepared.stmt.clone() else {
            return Ok(Response::EmptyQuery);
        };
        if portal.parameters.len() != prepared.param_types.len() {
            return Err(user_error(&FrontError::Sql(SqlError::Syntax(format!(
                "bind message supplies {} parameters, but prepared statement requires {}",
                portal.parameters.len(),
                prepared.param_types.len()
            )))));
        }
        let mut params = Vec::with_capacity(portal.parameters.len());
        for (i, raw) in portal.parameters.iter().enumerate() {
            let v = decode_param(
                raw.as_deref(),
                prepared.param_types[i],
                portal.parameter_format.is_binary(i),
            )
            .map_err(|e| user_error(&FrontError::Sql(e)))?;
            params.push(v);
        }
        let session = self.frontend.session(client).map_err(|e| user_error(&e))?;
        match self.frontend.run(session, stmt, params).await {
            Ok(ex) => response(ex, &portal.result_column_format),
            Err(e) => Ok(Response::Error(Box::new(error_info(&e)))),
        }
    }

    async fn do_describe_statement<C>(
        &self,
        _client: &mut C,
        stmt: &StoredStatement<Prepared>,
    ) -> PgWireResult<DescribeStatementResponse>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let p = &stmt.statement;
        let params = p.param_types.iter().map(|t| pg_type(*t)).collect();
        let fields = self.parser.get_result_schema(p, None)?;
        Ok(DescribeStatementResponse::new(params, fields))
    }

    async fn do_describe_portal<C>(
        &self,
        _client: &mut C,
        portal: &Portal<Prepared>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let fields = self.parser.get_result_schema(
            &portal.statement.statement,
            Some(&portal.result_column_format),
        )?;
        Ok(DescribePortalResponse::new(fields))
    }
}

/// ParameterStatus values, as PostgreSQL 15 reports them at startup.
struct Parameters;

impl ServerParameterProvider for Parameters {
    fn server_parameters<C>(&self, client: &C) -> Option<HashMap<String, String>>
    where
        C: ClientInfo,
    {
        let md = client.metadata();
        let user = md.get("user").cloned().unwrap_or_else(|| "borealis".into());
        let mut p = HashMap::new();
        for (k, v) in [
            ("server_version", "15.8"),
            ("server_encoding", "UTF8"),
            ("client_encoding", "UTF8"),
            ("DateStyle", "ISO, MDY"),
            ("IntervalStyle", "postgres"),
            ("TimeZone", "UTC"),
            ("integer_datetimes", "on"),
            ("standard_conforming_strings", "on"),
            ("is_superuser", "on"),
            ("default_transaction_read_only", "off"),
            ("in_hot_standby", "off"),
        ] {
            p.insert(k.to_string(), v.to_string());
        }
        p.insert("session_authorization".into(), user);
        p.insert(
            "application_name".into(),
            md.get("application_name").cloned().unwrap_or_default(),
        );
        Some(p)
    }
}

#[async_trait]
impl StartupHandler for Handler {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let PgWireFrontendMessage::Startup(ref startup) = message else {
            return Ok(());
        };
        protocol_negotiation(client, startup).await?;
        save_startup_parameters_to_metadata(client, startup);
        let pid = self.frontend.next_pid.fetch_add(1, Ordering::Relaxed);
        let secret = i32::from_le_bytes(std::array::from_fn(|i| {
            (std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
                >> (i * 8)) as u8
        }));
        client.set_pid_and_secret_key(pid, SecretKey::I32(secret));
        let md = client.metadata();
        let info = SessionInfo {
            database: md
                .get("database")
                .or_else(|| md.get("user"))
                .cloned()
                .unwrap_or_else(|| "borealis".into()),
            backend_pid: pid,
        };
        let mut session = Session::new(self.frontend.db.clone(), info);
        for (k, v) in md.iter() {
            // Drivers send settings as startup parameters; quotes around values are PostgreSQL's
            // way of writing 'utf-8'.
            let v = v.trim_matches('\'');
            let v = if k.eq_ignore_ascii_case("client_encoding") && v.eq_ignore_ascii_case("utf-8")
            {
                "UTF8"
            } else {
                v
            };
            let _ = session.set(k, v);
        }
        client
            .session_extensions()
            .insert(SessionSlot(Arc::new(tokio::sync::Mutex::new(session))));
        finish_authentication(client, &Parameters).await?;
        Ok(())
    }
}

struct Factory {
    handler: Arc<Handler>,
}

impl PgWireServerHandlers for Factory {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.handler.clone()
    }
    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.handler.clone()
    }
    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.handler.clone()
    }
}

/// Serves PostgreSQL clients on `listener` until the task is dropped. A connection that sends
/// garbage is closed; the others are unaffected.
pub async fn serve(listener: TcpListener, frontend: Arc<Frontend>) -> std::io::Result<()> {
    let handler = Arc::new(Handler {
        parser: Arc::new(Parser {
            frontend: frontend.clone(),
        }),
        frontend,
    });
    let factory = Arc::new(Factory { handler });
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("instance: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let factory = factory.clone();
        tokio::spawn(async move {
            if let Err(e) = pgwire::tokio::process_socket(socket, None, factory).await {
                eprintln!("instance: connection from {peer} closed: {e}");
            }
        });
    }
}
