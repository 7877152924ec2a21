//! The PostgreSQL wire-protocol front end of an instance, built on the `pgwire` crate.
//!
//! ```text
//!  TCP ─▶ pgwire (startup, simple & extended query) ─▶ Handler ─▶ sql::Session (its own thread)
//!                                                         │
//!                       commit LSN ─▶ Durability::wait ───┘ acknowledge only once VDL ≥ LSN
//! ```
//!
//! Each connection owns a [`Session`] and a thread of its own, which reads the client's messages
//! and runs its statements there (the engine is synchronous and may wait for storage; see
//! [`serve`]). A statement that committed is acknowledged to the client only after the storage
//! tier reports the commit durable on a write quorum. This module is the one place that assigns
//! SQLSTATE codes.
//!
//! Timeouts:
//! - `statement_timeout` bounds the whole statement: a timer raises the session's cancel flag at
//!   the deadline, which stops execution between rows and ends a row-lock wait at once (57014,
//!   "canceling statement due to statement timeout"; inside a transaction block the block is then
//!   failed, 25P02 until ROLLBACK); what is left of it bounds the wait for the commit to be
//!   durable.
//! - `idle_in_transaction_session_timeout`: after a statement that leaves the session inside a
//!   transaction block, a timer is armed; if no statement started when it fires, the transaction
//!   rolls back (releasing its row locks), the client gets FATAL 25P03 and the connection is shut
//!   down through a second handle on its socket, kept from accept time.
//!
//! `synchronous_commit = off` (SET, or `-c synchronous_commit=off` in the startup `options`)
//! acknowledges a commit as soon as the writer has its commit LSN, before it is durable, as
//! PostgreSQL does: a crash may lose the last such commits (whole, never in part). Rule that keeps
//! a session's own writes visible to it: the connection remembers the highest commit LSN it
//! acknowledged early, and its next statement first waits for VDL to reach it (bounded by that
//! statement's `statement_timeout`), so the snapshot the statement takes, at the durable LSN,
//! covers the session's last commit. Other sessions see the commit once it is durable, as with
//! every commit.
//!
//! Beyond queries:
//! - COPY: `COPY … FROM STDIN` answers CopyInResponse; CopyData is gathered into batches of
//!   `COPY_BATCH_BYTES` and handed to the session, which turns complete lines into rows in the
//!   statement's transaction (an error is reported at CopyDone, as clients expect); CopyDone
//!   commits an implicit transaction and waits for durability. `COPY … TO STDOUT` sends one
//!   CopyData per row.
//! - CancelRequest: every session's cancel flag is registered under its (pid, secret key) (see
//!   `CancelRegistry`); a request raises it, and the executor checks it between rows (57014).
//! - Portals: an Execute with a row limit sends that many rows and PortalSuspended; the library
//!   keeps the rest of the result (which the session built whole) in the portal for the next
//!   Execute, whose CommandComplete counts only its own rows, as PostgreSQL's does. Portals end
//!   with their transaction: at Sync, or after a simple query, when the session is outside a
//!   block (inside one they last until COMMIT/ROLLBACK or Close, the unnamed one until the next
//!   Bind). An unknown portal is 34000; a started portal of a failed block answers 25P02.
//! - SQL cursors share the portals' names: Describe of a portal that is a cursor describes the
//!   cursor's columns (psycopg's server-side cursors ask), and FETCH from a BINARY cursor sends
//!   binary rows to a simple query (through the extended protocol, Bind's formats decide).
//! - Notices and warnings a statement raises (DROP … IF EXISTS, "there is no transaction in
//!   progress") and ParameterStatus for reported settings changed by SET are sent before the
//!   statement's response; a parser error carries its position.

use async_trait::async_trait;
use borealis_common::Lsn;
use borealis_common::pagestore::StoreError;
use borealis_sql::cursor::RowStore;
use borealis_sql::datetime as dt;
use borealis_sql::expr::SessionInfo;
use borealis_sql::query::ColumnInfo;
use borealis_sql::{DataType, Database, Executed, Output, PlanSlot, Session, SqlError, Value};
use bytes::{BufMut, BytesMut};
use futures::{Sink, SinkExt, stream};
use pgwire::api::auth::{
    ServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::cancel::CancelHandler;
use pgwire::api::copy::CopyHandler;
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::CopyResponse;
use pgwire::api::results::{
    DescribePortalResponse, DescribeStatementResponse, FieldFormat, FieldInfo, QueryResponse,
    Response, Tag,
};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireServerHandlers, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail};
use pgwire::messages::data::{NoData, ParameterDescription};
use pgwire::messages::extendedquery::{Describe, TARGET_TYPE_BYTE_STATEMENT};
use pgwire::messages::response::NoticeResponse;
use pgwire::messages::startup::{ParameterStatus, SecretKey};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use sqlparser::ast;
use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
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
            sql_state(e),
            match e {
                SqlError::UniqueViolation { detail, .. }
                | SqlError::UniqueIndexBuild { detail, .. }
                | SqlError::DependentObjectsStillExist { detail, .. }
                | SqlError::CheckViolation { detail, .. }
                | SqlError::ViewNotUpdatable { detail, .. }
                | SqlError::NotNullViolation { detail, .. }
                | SqlError::WithCheckOptionViolation { detail, .. }
                | SqlError::ForeignKeyViolation { detail, .. }
                | SqlError::NotSupportedDetail { detail, .. }
                | SqlError::WrongObjectTypeDetail { detail, .. }
                | SqlError::ReservedName { detail, .. }
                | SqlError::NumericFieldOverflow { detail }
                | SqlError::InvalidJson { detail }
                | SqlError::MalformedArray { detail, .. }
                | SqlError::UnsupportedUnicodeEscape { detail }
                | SqlError::StackDepthExceeded(detail)
                | SqlError::InvalidJsonPath(detail)
                | SqlError::InvalidParameterValueDetail { detail, .. }
                    if !detail.is_empty() =>
                {
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
        FrontError::Terminated => ("57P01", None),
        FrontError::UndefinedPortal(_) => ("34000", None),
    };
    // A FATAL error ends the connection once it is sent.
    let severity = if matches!(e, FrontError::Terminated) {
        "FATAL"
    } else {
        "ERROR"
    };
    let mut info = ErrorInfo::new(severity.into(), code.into(), e.to_string());
    info.detail = detail;
    if let FrontError::Sql(
        SqlError::DependentObjectsStillExist { hint, .. }
        | SqlError::CardinalityViolationWithHint { hint, .. }
        | SqlError::WrongObjectTypeHint { hint, .. }
        | SqlError::InvalidTableDefinitionHint { hint, .. }
        | SqlError::InvalidParameterValueHint { hint, .. }
        | SqlError::NotSupportedDetail { hint, .. }
        | SqlError::ViewNotUpdatable { hint, .. },
    ) = e
        && !hint.is_empty()
    {
        info.hint = Some(hint.clone());
    }
    match e {
        FrontError::Sql(SqlError::InvalidFromReference(t)) => {
            info.hint = Some(format!(
                "There is an entry for table \"{t}\", but it cannot be referenced from this \
                 part of the query."
            ));
        }
        FrontError::Sql(SqlError::UndefinedFunction(_)) => {
            info.hint = Some(
                "No function matches the given name and argument types. You might need to add \
                 explicit type casts."
                    .into(),
            );
        }
        FrontError::Sql(SqlError::UndefinedOperator(_)) => {
            info.hint = Some(
                "No operator matches the given name and argument types. You might need to add \
                 explicit type casts."
                    .into(),
            );
        }
        _ => {}
    }
    if let FrontError::Sql(SqlError::CursorNoScroll) = e {
        info.hint = Some("Declare it with SCROLL option to enable backward scan.".into());
    }
    if let FrontError::Sql(SqlError::InvalidBase64End) = e {
        info.hint =
            Some("Input data is missing padding, is truncated, or is otherwise corrupted.".into());
    }
    if let FrontError::Sql(
        SqlError::GeneratedAlways(column) | SqlError::GeneratedAlwaysUpdate(column),
    ) = e
    {
        info.detail = Some(format!(
            "Column \"{column}\" is an identity column defined as GENERATED ALWAYS."
        ));
        if matches!(e, FrontError::Sql(SqlError::GeneratedAlways(_))) {
            info.hint = Some("Use OVERRIDING SYSTEM VALUE to override.".into());
        }
    }
    info
}

/// The 1-based character position of a parser error in `query`, from the parser's
/// "Line: L, Column: C" (PostgreSQL reports it as the error's position field).
fn error_position(e: &FrontError, query: &str) -> Option<String> {
    // A name that does not resolve points at its first use in the text, where PostgreSQL's
    // parse analysis points (psql's `LINE 1: … ^`).
    let name = match e {
        FrontError::Sql(
            SqlError::UndefinedColumn(n)
            | SqlError::UndefinedQualifiedColumn(n)
            | SqlError::UndefinedTable(n),
        ) => Some(n.as_str()),
        FrontError::Sql(SqlError::UndefinedFunction(sig)) => {
            sig.split(['(', ' ']).next().filter(|n| !n.is_empty())
        }
        _ => None,
    };
    if let Some(name) = name {
        return word_position(query, name).map(|p| p.to_string());
    }
    // A parameter the statement was not given points at its first use.
    if let FrontError::Sql(SqlError::NoSuchParameter(n)) = e {
        return word_position(query, &format!("${n}")).map(|p| p.to_string());
    }
    let FrontError::Sql(SqlError::Syntax(m)) = e else {
        return None;
    };
    let at = m.rfind("Line: ")?;
    let (line, col) = m[at + 6..].split_once(", Column: ")?;
    let line: usize = line.trim().parse().ok()?;
    let col: usize = col
        .trim()
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()?;
    let before: usize = query
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(|l| l.chars().count())
        .sum();
    Some((before + col).to_string())
}

/// The 1-based character position of the first use of `word` in `query` as a whole word
/// (case-insensitive, not inside a string literal or a comment).
fn word_position(query: &str, word: &str) -> Option<usize> {
    let chars: Vec<char> = query.chars().collect();
    let target: Vec<char> = word.chars().flat_map(char::to_lowercase).collect();
    if target.is_empty() {
        return None;
    }
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\'' => {
                // Skip the literal ('' is a quote inside it).
                i += 1;
                while i < chars.len() {
                    if chars[i] == '\'' {
                        if chars.get(i + 1) == Some(&'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
                continue;
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        let starts_word = i == 0 || !ident(chars[i - 1]);
        if starts_word {
            let end = i + target.len();
            let same = end <= chars.len()
                && chars[i..end]
                    .iter()
                    .flat_map(|c| c.to_lowercase())
                    .eq(target.iter().copied());
            if same && chars.get(end).is_none_or(|c| !ident(*c)) {
                return Some(i + 1);
            }
        }
        i += 1;
    }
    None
}

/// The SQLSTATE of a SQL error.
fn sql_state(e: &SqlError) -> &'static str {
    match e {
        // invalid_recursion: WITH RECURSIVE's shape and its references to itself.
        SqlError::Syntax(m) if m.starts_with("recursive ") => "42P19",
        SqlError::Syntax(_) => "42601",
        SqlError::UndefinedTable(_)
        | SqlError::UndefinedRelation(_)
        | SqlError::MissingFromEntry(_)
        | SqlError::InvalidFromReference(_) => "42P01",
        SqlError::DuplicateTable(_) | SqlError::DuplicateRelation(_) => "42P07",
        SqlError::InvalidSchemaDefinition(_) => "42P15",
        SqlError::UndefinedColumn(_)
        | SqlError::UndefinedQualifiedColumn(_)
        | SqlError::UndefinedRecordField(_)
        | SqlError::UsingColumnMissing { .. } => "42703",
        SqlError::DuplicateColumn(_) | SqlError::ColumnExists(_) => "42701",
        SqlError::AmbiguousColumn(_) | SqlError::UsingColumnAmbiguous { .. } => "42702",
        SqlError::UndefinedFunction(_) | SqlError::UndefinedOperator(_) => "42883",
        SqlError::UniqueViolation { .. } => "23505",
        SqlError::NotNullViolation { .. } => "23502",
        SqlError::CheckViolation { .. } => "23514",
        SqlError::ForeignKeyViolation { .. } => "23503",
        SqlError::InvalidForeignKey(_) => "42830",
        SqlError::DuplicateObject(_) => "42710",
        SqlError::DatatypeMismatch(_) => "42804",
        SqlError::InvalidTextRepresentation { .. } | SqlError::InvalidInput(_) => "22P02",
        SqlError::NumericOutOfRange(_) => "22003",
        SqlError::DivisionByZero => "22012",
        SqlError::NumericFieldOverflow { .. } => "22003",
        SqlError::InvalidArgumentForPower(_) => "2201F",
        SqlError::InvalidArgumentForLog(_) => "2201E",
        SqlError::CannotCoerce(_) => "42846",
        SqlError::DatetimeFieldOverflow(_) => "22008",
        SqlError::DatetimeValueOutOfRange(_) => "22008",
        SqlError::InvalidDatetimeFormat(_) => "22007",
        SqlError::IntervalFieldOverflow(_) => "22015",
        SqlError::Grouping(_) => "42803",
        SqlError::Windowing(_) => "42P20",
        SqlError::NullFrameOffset(_) => "22004",
        SqlError::InvalidFrameOffset(_) => "22013",
        SqlError::InvalidRowCountInLimit(_) => "2201W",
        SqlError::InvalidRowCountInOffset => "2201X",
        SqlError::InvalidNtileArgument => "22014",
        SqlError::InvalidNthValueArgument => "22016",
        SqlError::CardinalityViolation(_) | SqlError::CardinalityViolationWithHint { .. } => {
            "21000"
        }
        SqlError::DuplicateAlias(_) => "42712",
        SqlError::InvalidColumnReference(_) => "42P10",
        SqlError::FeatureNotSupported(_)
        | SqlError::NotSupported(_)
        | SqlError::NotSupportedDetail { .. } => "0A000",
        SqlError::InFailedTransaction => "25P02",
        SqlError::InvalidParameterValue(_) => "22023",
        SqlError::UndefinedParameter(_) => "42704",
        SqlError::NoSuchParameter(_) => "42P02",
        SqlError::ProgramLimitExceeded(_) => "54000",
        SqlError::InvalidJson { .. } | SqlError::MalformedArray { .. } => "22P02",
        SqlError::InvalidBinaryRepresentation(_) => "22P03",
        SqlError::IndeterminateDatatype(_) => "42P18",
        SqlError::UnsupportedUnicodeEscape { .. } => "22P05",
        SqlError::StackDepthExceeded(_) => "54001",
        SqlError::SqlJsonSingletonRequired(_) => "22038",
        SqlError::SqlJsonNonNumeric(_) => "2203B",
        SqlError::SqlJsonNonNumericItem(_) => "22036",
        SqlError::NotImplemented(_) => "0A000",
        SqlError::SqlJsonMemberNotFound(_) => "2203A",
        SqlError::SqlJsonObjectNotFound(_) => "2203C",
        SqlError::SqlJsonArrayNotFound(_) => "22039",
        SqlError::SqlJsonInvalidSubscript(_) => "22033",
        SqlError::InvalidJsonPath(_) => "42601",
        SqlError::InvalidParameterValueDetail { .. } => "22023",
        SqlError::NullValueNotAllowed(_) => "22004",
        SqlError::StringDataRightTruncation(_) => "22001",
        SqlError::UniqueIndexBuild { .. } => "23505",
        SqlError::NotNullInExisting { .. } => "23502",
        SqlError::WrongObjectType(_)
        | SqlError::WrongObjectTypeHint { .. }
        | SqlError::WrongObjectTypeDetail { .. } => "42809",
        SqlError::InvalidTableDefinition(_) | SqlError::InvalidTableDefinitionHint { .. } => {
            "42P16"
        }
        SqlError::BadCopyFileFormat(_) => "22P04",
        SqlError::InvalidRegularExpression(_) => "2201B",
        SqlError::InvalidSubstringLength(_) => "22011",
        SqlError::InvalidBase64End | SqlError::InvalidParameterValueHint { .. } => "22023",
        SqlError::InvalidArgumentForWidthBucket(_) => "2201G",
        SqlError::InvalidEscapeSequence(_) => "22025",
        SqlError::UndefinedObject(_) => "42704",
        SqlError::DependentObjectsStillExist { .. } => "2BP01",
        SqlError::ObjectNotInPrerequisiteState(_) | SqlError::ViewNotUpdatable { .. } => "55000",
        SqlError::WithCheckOptionViolation { .. } => "44000",
        SqlError::SequenceLimit(_) => "2200H",
        SqlError::NumericValueOutOfRange(_) => "22003",
        SqlError::GeneratedAlways(_) | SqlError::GeneratedAlwaysUpdate(_) => "428C9",
        SqlError::QueryCanceled | SqlError::QueryCanceledWith(_) => "57014",
        SqlError::ActiveSqlTransaction(_) => "25001",
        SqlError::SerializationFailure(_) => "40001",
        SqlError::Deadlock(_) => "40P01",
        SqlError::LockNotAvailable(_) => "55P03",
        SqlError::NoSuchSavepoint(_) => "3B001",
        SqlError::UndefinedCursor(_) => "34000",
        SqlError::DuplicateCursor(_) => "42P03",
        SqlError::CursorNoScroll => "55000",
        SqlError::UndefinedPreparedStatement(_) => "26000",
        SqlError::DuplicatePreparedStatement(_) => "42P05",
        SqlError::UndefinedSchema(_) | SqlError::InvalidSchemaName(_) => "3F000",
        SqlError::DuplicateSchema(_) => "42P06",
        SqlError::InsufficientPrivilege(_) => "42501",
        SqlError::ReservedName { .. } => "42939",
        SqlError::AmbiguousFunction(_) => "42725",
        SqlError::NoActiveTransaction(_) => "25P01",
        SqlError::IsolationAfterQuery | SqlError::ReadWriteAfterQuery => "25001",
        SqlError::ReadOnlyTransaction(_) => "25006",
        SqlError::SnapshotTooOld => "72000",
        SqlError::Storage(StoreError::Fenced) => "25006",
        SqlError::Storage(StoreError::Corrupted(_)) | SqlError::Corrupted(_) => "XX001",
        SqlError::Storage(StoreError::Unavailable(_)) => "58000",
        SqlError::Internal(_) | SqlError::Enough => "XX000",
    }
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
    /// `pg_terminate_backend` named this connection.
    #[error("terminating connection due to administrator command")]
    Terminated,
    /// An Execute or Describe of a portal that is not open (closed, or ended with its
    /// transaction).
    #[error("portal \"{0}\" does not exist")]
    UndefinedPortal(String),
}

fn user_error(e: &FrontError) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(e)))
}

fn pg_type(t: DataType) -> Type {
    match t {
        DataType::Bool => Type::BOOL,
        DataType::Int2 => Type::INT2,
        DataType::Int4 => Type::INT4,
        DataType::Float4 => Type::FLOAT4,
        DataType::Int8 => Type::INT8,
        DataType::Float8 => Type::FLOAT8,
        DataType::Text => Type::TEXT,
        DataType::Timestamp => Type::TIMESTAMP,
        DataType::Numeric => Type::NUMERIC,
        DataType::Bytea => Type::BYTEA,
        DataType::Uuid => Type::UUID,
        DataType::Date => Type::DATE,
        DataType::TimestampTz => Type::TIMESTAMPTZ,
        DataType::Time => Type::TIME,
        DataType::TimeTz => Type::TIMETZ,
        DataType::Interval => Type::INTERVAL,
        DataType::Json => Type::JSON,
        DataType::Jsonb => Type::JSONB,
        DataType::JsonPath => Type::JSONPATH,
        DataType::Array(_) => Type::from_oid(t.oid()).unwrap_or(Type::TEXT_ARRAY),
        DataType::Record => Type::RECORD,
    }
}

/// The description of a result column: its type (a `character(n)` column, held as text, as
/// bpchar with its modifier) in `format`.
fn field_info(c: &borealis_sql::query::ColumnInfo, format: FieldFormat) -> FieldInfo {
    use borealis_sql::catalog::TextKind;
    // A column read straight from a table names it, by OID (an unsigned 32-bit number on the
    // wire) and column number.
    let (table, column) = c.source.map_or((None, None), |(oid, attnum)| {
        (Some(i32::from_be_bytes(oid.to_be_bytes())), Some(attnum))
    });
    let field = |ty: Type| FieldInfo::new(c.name.clone(), table, column, ty, format);
    match (c.bpchar, c.kind) {
        (Some(typmod), _) => field(Type::BPCHAR).with_type_modifier(typmod),
        // A column with a declared modifier is described with it, as PostgreSQL describes
        // it: `varchar(20)` as varchar with 24, `numeric(10,3)` with its precision and scale,
        // `char(3)[]` as bpchar[] with 7.
        (None, kind)
            if matches!(kind, TextKind::Varchar(_) | TextKind::Typmod(_))
                || (matches!(kind, TextKind::Char(_)) && c.ty.is_array()) =>
        {
            let ty = Type::from_oid(kind.type_oid(c.ty)).unwrap_or_else(|| pg_type(c.ty));
            field(ty).with_type_modifier(kind.typmod())
        }
        _ => field(pg_type(c.ty)),
    }
}

/// The SQL type a parameter declared as `t` takes. Drivers declare the narrowest type that
/// holds a value (psycopg sends a small Python int as `int2`, pgjdbc a Java float as
/// `float4`); those widen, as PostgreSQL's implicit casts do.
fn our_type(t: &Type) -> Option<DataType> {
    Some(match *t {
        Type::BOOL => DataType::Bool,
        Type::INT2 | Type::INT4 => DataType::Int4,
        Type::FLOAT4 => DataType::Float8,
        Type::INT8 => DataType::Int8,
        Type::FLOAT8 => DataType::Float8,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => DataType::Text,
        Type::TIMESTAMP => DataType::Timestamp,
        Type::NUMERIC => DataType::Numeric,
        Type::BYTEA => DataType::Bytea,
        Type::UUID => DataType::Uuid,
        Type::DATE => DataType::Date,
        Type::TIMESTAMPTZ => DataType::TimestampTz,
        Type::TIME => DataType::Time,
        Type::TIMETZ => DataType::TimeTz,
        Type::INTERVAL => DataType::Interval,
        Type::JSON => DataType::Json,
        Type::JSONB => DataType::Jsonb,
        Type::JSONPATH => DataType::JsonPath,
        // Arrays keep their element type exactly: a binary array carries its elements' OID.
        Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY | Type::NAME_ARRAY => DataType::Text.array_of(),
        _ => match DataType::from_oid(t.oid()) {
            Some(a @ DataType::Array(_)) => a,
            _ => return None,
        },
    })
}

/// The type a parameter was declared with, if it is one we take: a statement describes its
/// parameters as declared (pgjdbc refuses a `varchar` parameter described back as `text`), and
/// a narrower one (`int2`, `float4`) arrives in its own binary form.
fn declared_wire_type(t: &Type) -> Option<Type> {
    our_type(t).map(|_| t.clone())
}

/// Decodes one bound parameter of SQL type `ty`, sent in the binary form of `wire` if given.
fn decode_param(
    raw: Option<&[u8]>,
    ty: DataType,
    wire: Option<&Type>,
    binary: bool,
) -> Result<Value, SqlError> {
    let Some(raw) = raw else {
        return Ok(Value::Null);
    };
    // A parameter declared `bpchar` is one (its trailing blanks do not count); its binary
    // form is its text, as for `text`.
    if wire == Some(&Type::BPCHAR) && ty == DataType::Text {
        let s = std::str::from_utf8(raw)
            .map_err(|_| SqlError::InvalidParameterValue("parameter is not valid UTF-8".into()))?;
        return Ok(Value::Bpchar(s.to_string()));
    }
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
    match wire {
        Some(&Type::INT2) => {
            return Ok(Value::Int(i64::from(i16::from_be_bytes(
                raw.try_into().map_err(|_| bad())?,
            ))));
        }
        Some(&Type::FLOAT4) => {
            return Ok(Value::Float(f64::from(f32::from_be_bytes(
                raw.try_into().map_err(|_| bad())?,
            ))));
        }
        _ => {}
    }
    Ok(match ty {
        DataType::Bool => match raw {
            [b] => Value::Bool(*b != 0),
            _ => return Err(bad()),
        },
        DataType::Int2 => Value::Int(i64::from(i16::from_be_bytes(
            raw.try_into().map_err(|_| bad())?,
        ))),
        DataType::Float4 => Value::Float4(f32::from_be_bytes(raw.try_into().map_err(|_| bad())?)),
        DataType::Int4 => Value::Int(i64::from(i32::from_be_bytes(
            raw.try_into().map_err(|_| bad())?,
        ))),
        DataType::Int8 => Value::Int(i64::from_be_bytes(raw.try_into().map_err(|_| bad())?)),
        DataType::Float8 => Value::Float(f64::from_be_bytes(raw.try_into().map_err(|_| bad())?)),
        DataType::Text => Value::Text(String::from_utf8(raw.to_vec()).map_err(|_| bad())?),
        DataType::Timestamp => Value::Timestamp(
            dt::ts_from_wire(i64::from_be_bytes(raw.try_into().map_err(|_| bad())?))
                .ok_or_else(bad)?,
        ),
        DataType::Numeric => {
            Value::Numeric(borealis_sql::types::Numeric::from_wire(raw).ok_or_else(bad)?)
        }
        DataType::Bytea => Value::Bytes(raw.to_vec()),
        DataType::Uuid => Value::Uuid(u128::from_be_bytes(raw.try_into().map_err(|_| bad())?)),
        DataType::Date => Value::Date(dt::date_from_wire(i32::from_be_bytes(
            raw.try_into().map_err(|_| bad())?,
        ))),
        DataType::TimestampTz => Value::TimestampTz(
            dt::ts_from_wire(i64::from_be_bytes(raw.try_into().map_err(|_| bad())?))
                .ok_or_else(bad)?,
        ),
        DataType::Time => Value::Time(i64::from_be_bytes(raw.try_into().map_err(|_| bad())?)),
        DataType::TimeTz => {
            let (t, east_secs) = dt::timetz_from_wire(raw).ok_or_else(bad)?;
            Value::TimeTz(t, east_secs)
        }
        DataType::Interval => Value::Interval(dt::interval_from_wire(raw).ok_or_else(bad)?),
        // json's binary form is its text; jsonb's is a version byte (1) and the text.
        DataType::Json => {
            let text = std::str::from_utf8(raw).map_err(|_| bad())?;
            borealis_sql::types::parse_text(text, DataType::Json)?
        }
        DataType::Jsonb => match raw.split_first() {
            Some((1, rest)) => {
                let text = std::str::from_utf8(rest).map_err(|_| bad())?;
                borealis_sql::types::parse_text(text, DataType::Jsonb)?
            }
            _ => return Err(bad()),
        },
        // jsonpath's binary form, like jsonb's, is a version byte (1) and the text.
        DataType::JsonPath => match raw.split_first() {
            Some((1, rest)) => {
                let text = std::str::from_utf8(rest).map_err(|_| bad())?;
                borealis_sql::types::parse_text(text, DataType::JsonPath)?
            }
            _ => return Err(bad()),
        },
        DataType::Array(elem) => Value::Array(borealis_sql::array::from_binary(raw, *elem)?),
        DataType::Record => return Err(bad()),
    })
}

/// The parameter types a statement describes: as declared, as PostgreSQL keeps them, else as
/// inferred.
fn param_wire_types(p: &Prepared) -> Vec<Type> {
    p.param_types
        .iter()
        .zip(&p.param_wire_types)
        .map(|(t, w)| w.clone().unwrap_or_else(|| pg_type(*t)))
        .collect()
}

/// `DEALLOCATE name` forgets one named prepared statement; `DEALLOCATE ALL` every named one
/// prepared so far (the unnamed statement stays, as in PostgreSQL). Statements prepared through
/// the protocol live in this layer; those SQL `PREPARE` made live in the session, which is asked
/// when the name is not one of ours.
async fn deallocate<C>(client: &C, conn: &Conn, name: &ast::Ident) -> Result<Response, SqlError>
where
    C: ClientPortalStore,
    C::PortalStore: PortalStore,
{
    if name.quote_style.is_none() && name.value.eq_ignore_ascii_case("all") {
        conn.deallocations.fetch_add(1, Ordering::AcqRel);
        conn.session.lock().await.deallocate_all_sql();
        return Ok(Response::Execution(Tag::new("DEALLOCATE ALL")));
    }
    // SQL PREPARE's statements share the namespace; they live in the session.
    if conn.session.lock().await.deallocate_sql(&name.value) {
        return Ok(Response::Execution(Tag::new("DEALLOCATE")));
    }
    let store = client.portal_store();
    let live = match store.get_statement(&name.value) {
        Some(Entry::Value(p)) => (&p.statement as &dyn std::any::Any)
            .downcast_ref::<Prepared>()
            .is_none_or(|p| p.deallocations >= conn.deallocations.load(Ordering::Acquire)),
        Some(Entry::Empty) => true,
        None => false,
    };
    if !live {
        return Err(SqlError::UndefinedPreparedStatement(name.value.clone()));
    }
    store.rm_statement(&name.value);
    Ok(Response::Execution(Tag::new("DEALLOCATE")))
}

/// A statement prepared through the extended protocol.
#[derive(Debug, Clone)]
pub struct Prepared {
    stmt: Option<Arc<ast::Statement>>,
    param_types: Vec<DataType>,
    /// Per parameter, the type it was declared with (see [`declared_wire_type`]).
    param_wire_types: Vec<Option<Type>>,
    /// The connection's `DEALLOCATE ALL` count when this statement was prepared.
    deallocations: u64,
    columns: Vec<ColumnInfo>,
    /// The text the client prepared (for `pg_stat_activity`).
    text: Arc<str>,
    /// The statement's cached plan, reused from execution to execution.
    plan: Arc<PlanSlot>,
}

/// One connection's session and its cancel handle (registered with the connection manager).
#[derive(Clone)]
struct Conn {
    session: Arc<tokio::sync::Mutex<Session>>,
    /// Statements started on this connection: an idle-in-transaction timer armed after
    /// statement n fires only if no statement started since.
    statements: Arc<AtomicU64>,
    /// A second handle on the connection's socket, through which an idle-in-transaction
    /// timeout sends its FATAL error and shuts the connection down.
    socket: Arc<std::sync::Mutex<Option<std::net::TcpStream>>>,
    /// The LSN of the last commit acknowledged before it was durable (`synchronous_commit =
    /// off`), 0 if none is pending: the next statement waits for it to be durable first.
    unacknowledged_lsn: Arc<AtomicU64>,
    /// COPY FROM STDIN data not yet handed to the session: clients send a message per row, so
    /// rows are passed on in batches of [`COPY_BATCH_BYTES`].
    copy_buffer: Arc<std::sync::Mutex<Vec<u8>>>,
    /// How many `DEALLOCATE ALL`s this connection has run: a named statement prepared before
    /// the last one no longer exists.
    deallocations: Arc<AtomicU64>,
}

/// COPY data gathered before it goes to the session's thread (one hop per batch, not per row).
const COPY_BATCH_BYTES: usize = 256 * 1024;

struct SessionSlot(Conn);

/// The cancel flag of every session, by its (pid, secret key). A CancelRequest raises the flag
/// of the session it names; the executor checks it between rows and a row-lock wait ends on it
/// (57014). Each statement lowers it as it starts, so a request that arrives between statements
/// cancels nothing, as in PostgreSQL. Nothing runs per statement to watch for requests.
#[derive(Default)]
struct CancelRegistry {
    flags: std::sync::Mutex<
        HashMap<(i32, bytes::Bytes), std::sync::Weak<borealis_sql::expr::CancelFlag>>,
    >,
}

/// A session's entry in the [`CancelRegistry`], removed when the connection ends (it lives in
/// the connection's extensions).
struct CancelRegistration {
    key: (i32, bytes::Bytes),
    registry: Arc<CancelRegistry>,
}

impl Drop for CancelRegistration {
    fn drop(&mut self) {
        self.registry
            .flags
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.key);
    }
}

#[async_trait]
impl CancelHandler for CancelRegistry {
    async fn on_cancel_request(&self, request: pgwire::messages::cancel::CancelRequest) {
        // Keys compare in their wire form, whichever way the request's parser typed them.
        let flag = self
            .flags
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(request.pid, request.secret_key.to_bytes()))
            .and_then(std::sync::Weak::upgrade);
        if let Some(flag) = flag {
            flag.cancel();
        }
    }
}

/// The front end of one instance: shared by every connection.
pub struct Frontend {
    db: Arc<Database>,
    durability: Arc<dyn Durability>,
    next_pid: AtomicI32,
    /// Sessions' cancel flags by (pid, secret key), for CancelRequest.
    cancels: Arc<CancelRegistry>,
    /// Second handles on accepted sockets, by peer address, until the startup handler takes
    /// them into the connection's [`Conn`].
    sockets: std::sync::Mutex<HashMap<std::net::SocketAddr, std::net::TcpStream>>,
    /// The instance's shared runtime, for what must go on while a connection's own thread runs
    /// a statement (its statement timer, the idle-in-transaction timeout, termination).
    runtime: tokio::runtime::Handle,
}

impl Frontend {
    /// # Panics
    /// Outside a Tokio runtime: the frontend keeps the caller's runtime for its timers.
    #[must_use]
    pub fn new(db: Arc<Database>, durability: Arc<dyn Durability>) -> Arc<Frontend> {
        Arc::new(Frontend {
            db,
            durability,
            next_pid: AtomicI32::new(1000),
            cancels: Arc::default(),
            sockets: std::sync::Mutex::new(HashMap::new()),
            runtime: tokio::runtime::Handle::current(),
        })
    }

    fn session<C: ClientInfo>(&self, client: &C) -> Result<Conn, FrontError> {
        client
            .session_extensions()
            .get::<SessionSlot>()
            .map(|s| s.0.clone())
            .ok_or_else(|| FrontError::Internal("no session for this connection".into()))
    }

    /// Runs one statement on the connection's thread, then waits for its commit to be durable.
    /// Notices the statement raised come back beside its outcome. `text` is what
    /// `pg_stat_activity` shows: the client's query string, as PostgreSQL shows it.
    async fn run(
        &self,
        session: Conn,
        stmt: Arc<ast::Statement>,
        params: Vec<Value>,
        text: String,
    ) -> (Result<Executed, FrontError>, Vec<String>) {
        self.on_session(session, Some(text), move |s| s.execute(&stmt, &params))
            .await
    }

    /// Runs `f` on the session, on the connection's own thread (see [`serve`]), then waits for
    /// the commit it made (if any) to be durable.
    /// `query` is the statement's text for `pg_stat_activity` (none: the statement goes on, as
    /// a COPY's data does).
    async fn on_session(
        &self,
        conn: Conn,
        query: Option<String>,
        f: impl FnOnce(&mut Session) -> Result<Executed, SqlError> + Send + 'static,
    ) -> (Result<Executed, FrontError>, Vec<String>) {
        let guard = conn.session.clone().lock_owned().await;
        let backend = guard.backend().clone();
        if backend.is_terminated() {
            return (Err(FrontError::Terminated), Vec::new());
        }
        if let Some(q) = &query {
            backend.statement_started(q, guard.status() != borealis_sql::TxnStatus::Idle);
        }
        let statement = conn.statements.fetch_add(1, Ordering::AcqRel) + 1;
        // A cancel request fires the watcher, which raises the session's cancel flag; the next
        // statement's start_query ends the watcher without raising it.
        let cancel = guard.info.cancel.clone();
        cancel.reset();
        // statement_timeout bounds the whole statement: execution (row-lock waits included,
        // through the same cancel flag) and then the wait for its commit to be durable.
        let timeout_ms = guard.statement_timeout_ms();
        let deadline = (timeout_ms > 0)
            .then(|| tokio::time::Instant::now() + Duration::from_millis(timeout_ms));
        let timed_out = Arc::new(AtomicBool::new(false));
        let timer = deadline.map(|at| {
            let timed_out = timed_out.clone();
            let cancel = cancel.clone();
            // On the shared runtime: this connection's thread is busy with the statement.
            self.runtime.spawn(async move {
                tokio::time::sleep_until(at).await;
                timed_out.store(true, Ordering::Release);
                cancel.cancel();
            })
        });
        // Read-your-writes after `synchronous_commit = off`: snapshots are taken at the volume
        // durable LSN, so a statement that follows an early-acknowledged commit first waits for
        // that commit to be durable; its snapshot then covers it.
        let pending = Lsn(conn.unacknowledged_lsn.swap(0, Ordering::AcqRel));
        if pending > Lsn(0) {
            let wait = self.durability.wait(pending);
            let waited = match deadline {
                None => Ok(wait.await),
                Some(at) => tokio::time::timeout_at(at, wait).await,
            };
            let failure = match waited {
                Ok(Ok(())) => None,
                Ok(Err(StoreError::Fenced)) => Some(FrontError::Fenced),
                Ok(Err(e)) => Some(FrontError::Sql(SqlError::Storage(e))),
                Err(_) => Some(FrontError::CommitNotDurable),
            };
            if let Some(e) = failure {
                conn.unacknowledged_lsn
                    .fetch_max(pending.0, Ordering::AcqRel);
                if let Some(t) = timer {
                    t.abort();
                }
                return (Err(e), Vec::new());
            }
        }
        let joined = run_caught(move || {
            let mut guard = guard;
            let r = f(&mut guard);
            guard.backend().statement_ended(guard.status());
            // pg_terminate_backend: the statement it cancelled ends the connection (FATAL).
            if guard.backend().is_terminated() {
                guard.abort();
                return (guard, Err(SqlError::QueryCanceled), Vec::new());
            }
            // A statement timeout reached while committing must not cancel what follows.
            let r = match r {
                Err(SqlError::QueryCanceled) if timed_out.load(Ordering::Acquire) => {
                    Err(SqlError::QueryCanceledWith(
                        "canceling statement due to statement timeout".into(),
                    ))
                }
                r => r,
            };
            let mut notices = guard.take_notices();
            if let Ok(ex) = &r
                && let Some(n) = &ex.notice
            {
                notices.push(n.clone());
            }
            for (name, value) in guard.take_parameter_changes() {
                notices.push(format!("{PARAMETER_PREFIX}{name}\0{value}"));
            }
            (guard, r, notices)
        });
        let (guard, result, notices) = match joined {
            Ok((guard, _, _)) if guard.backend().is_terminated() => {
                conn.statements.store(u64::MAX, Ordering::Release);
                if let Some(t) = timer {
                    t.abort();
                }
                return (Err(FrontError::Terminated), Vec::new());
            }
            Ok(x) => x,
            Err(e) => {
                return (
                    Err(FrontError::Internal(format!("statement task failed: {e}"))),
                    Vec::new(),
                );
            }
        };
        let idle_ms = match guard.status() {
            borealis_sql::TxnStatus::Idle => 0,
            _ => guard
                .setting("idle_in_transaction_session_timeout")
                .and_then(borealis_sql::session::parse_duration_ms)
                .unwrap_or(0),
        };
        let outcome = match result {
            Ok(executed) if !guard.synchronous_commit() => {
                // Acknowledged at once, as PostgreSQL does: a crash of the writer (or of the
                // storage quorum) right now may lose this commit, never part of it.
                drop(guard);
                if let Some(lsn) = executed.commit_lsn {
                    conn.unacknowledged_lsn.fetch_max(lsn.0, Ordering::AcqRel);
                }
                Ok(executed)
            }
            Ok(executed) => self.durable(guard, executed, deadline).await,
            Err(e) => {
                drop(guard);
                Err(FrontError::Sql(e))
            }
        };
        if let Some(t) = timer {
            t.abort();
        }
        if idle_ms > 0 {
            self.runtime.spawn(idle_timeout(
                conn,
                statement,
                Duration::from_millis(idle_ms),
            ));
        }
        (outcome, notices)
    }

    /// Waits for a statement's commit to be durable before it may be acknowledged.
    async fn durable(
        &self,
        guard: tokio::sync::OwnedMutexGuard<Session>,
        executed: Executed,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Executed, FrontError> {
        if let Some(lsn) = executed.commit_lsn {
            drop(guard);
            let wait = self.durability.wait(lsn);
            let outcome = match deadline {
                None => wait.await,
                Some(at) => match tokio::time::timeout_at(at, wait).await {
                    Ok(r) => r,
                    Err(_) => return Err(FrontError::CommitNotDurable),
                },
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

/// `idle_in_transaction_session_timeout`: armed after statement `statement` left the session
/// inside a transaction block. If no statement started since when it fires, the transaction
/// rolls back (releasing its row locks), the client gets PostgreSQL's FATAL 25P03 and the
/// connection is shut down.
async fn idle_timeout(conn: Conn, statement: u64, after: Duration) {
    tokio::time::sleep(after).await;
    if conn.statements.load(Ordering::Acquire) != statement {
        return;
    }
    // A statement that started meanwhile holds the session (and bumped the counter).
    let Ok(mut session) = conn.session.clone().try_lock_owned() else {
        return;
    };
    if conn.statements.load(Ordering::Acquire) != statement
        || session.status() == borealis_sql::TxnStatus::Idle
    {
        return;
    }
    // Refuse every later statement of this connection (the client may race the shutdown).
    conn.statements.store(u64::MAX, Ordering::Release);
    session.abort();
    let socket = conn
        .socket
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(mut socket) = socket {
        let frame = fatal_frame(
            "25P03",
            "terminating connection due to idle-in-transaction timeout",
        );
        let _ = std::io::Write::write_all(&mut socket, &frame);
        let _ = socket.shutdown(std::net::Shutdown::Both);
    }
}

/// `pg_terminate_backend` of this connection: once the session is free (its statement, if any,
/// was cancelled and has ended), an idle connection is sent FATAL 57P01 and shut down. A
/// statement that was running ends the connection itself (see [`Frontend::on_session`]).
async fn terminate(
    session: std::sync::Weak<tokio::sync::Mutex<Session>>,
    statements: Arc<AtomicU64>,
    socket: Arc<std::sync::Mutex<Option<std::net::TcpStream>>>,
) {
    let Some(session) = session.upgrade() else {
        return;
    };
    let mut session = session.lock_owned().await;
    if statements.swap(u64::MAX, Ordering::AcqRel) == u64::MAX {
        return;
    }
    session.abort();
    drop(session);
    let socket = socket
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(mut socket) = socket {
        let frame = fatal_frame(
            "57P01",
            "terminating connection due to administrator command",
        );
        let _ = std::io::Write::write_all(&mut socket, &frame);
        let _ = socket.shutdown(std::net::Shutdown::Both);
    }
}

/// An ErrorResponse message of severity FATAL, as bytes on the wire:
/// `'E' | len: i32 BE | ('S' | "FATAL\0") ('V' | "FATAL\0") ('C' | code\0) ('M' | message\0) | 0`.
fn fatal_frame(code: &str, message: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for (field, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', code),
        (b'M', message),
    ] {
        body.push(field);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    let len = i32::try_from(body.len() + 4).unwrap_or(i32::MAX);
    let mut frame = Vec::with_capacity(body.len() + 5);
    frame.push(b'E');
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&body);
    frame
}

/// Sends notices to the client ahead of the statement's response.
async fn send_notices<C>(client: &mut C, notices: Vec<String>) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    for n in notices {
        if let Some(rest) = n.strip_prefix(PARAMETER_PREFIX) {
            let (name, value) = rest.split_once('\0').unwrap_or((rest, ""));
            client
                .send(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                    name.to_string(),
                    value.to_string(),
                )))
                .await?;
            continue;
        }
        let code = notice_code(&n);
        // PostgreSQL raises the transaction-block complaints as warnings.
        let severity = if code.starts_with("25") {
            "WARNING"
        } else {
            "NOTICE"
        };
        let (message, detail) = match n.split_once(borealis_sql::session::NOTICE_DETAIL) {
            Some((m, d)) => (m.to_string(), Some(d.to_string())),
            None => (n, None),
        };
        let mut info = ErrorInfo::new(severity.into(), code.into(), message);
        info.detail = detail;
        client
            .send(PgWireBackendMessage::NoticeResponse(NoticeResponse::from(
                info,
            )))
            .await?;
    }
    Ok(())
}

/// Marks a ParameterStatus carried in the notice list ("\u{1}name\0value"): both must reach the
/// client before the statement's response, in order.
const PARAMETER_PREFIX: &str = "\u{1}";

/// PostgreSQL's SQLSTATE for the notices Borealis raises.
fn notice_code(message: &str) -> &'static str {
    if message.contains("there is no transaction in progress") {
        "25P01"
    } else if message.contains("already a transaction in progress") {
        "25001"
    } else if message.starts_with("schema ") && message.contains("already exists, skipping") {
        "42P06"
    } else {
        "00000"
    }
}

/// Runs `f` with the session's time zone installed on this thread: the text forms of
/// `timestamptz` values read and print in it. Never across an await.
fn in_zone<T>(zone: dt::Zone, f: impl FnOnce() -> T) -> T {
    let _zone = dt::install_zone(zone);
    f()
}

/// The command tag of rows a statement returns: `EXPLAIN` for EXPLAIN (sent without a row
/// count, see [`Reply`]), else `SELECT`.
fn rows_tag(stmt: &ast::Statement) -> &'static str {
    match stmt {
        ast::Statement::Explain { .. } => "EXPLAIN",
        _ => "SELECT",
    }
}

fn response(executed: Executed, formats: &Format, rows_tag: &str) -> PgWireResult<Response> {
    match executed.output {
        Output::CopyIn { columns } => Ok(Response::CopyIn(CopyResponse::new(
            0,
            columns,
            stream::empty(),
        ))),
        Output::CopyOut { columns, lines } => {
            let data = lines
                .into_iter()
                .map(|l| Ok(CopyData::new(bytes::Bytes::from(l.into_bytes()))));
            Ok(Response::CopyOut(CopyResponse::new(
                0,
                columns,
                stream::iter(data),
            )))
        }
        Output::Command { tag } => Ok(match tag.as_str() {
            "BEGIN" => Response::TransactionStart(Tag::new(&tag)),
            "COMMIT" | "ROLLBACK" => Response::TransactionEnd(Tag::new(&tag)),
            _ => Response::Execution(Tag::new(&tag)),
        }),
        Output::InBlockCommand { tag } => Ok(Response::Execution(Tag::new(&tag))),
        Output::Rows { columns, rows } => rows_response(&columns, rows, formats, rows_tag),
        Output::Returning { tag, columns, rows } => rows_response(&columns, rows, formats, &tag),
        Output::Fetched { columns, rows, .. } => rows_response(&columns, rows, formats, "FETCH"),
        Output::StoredRows { columns, rows } => {
            stored_rows_response(&columns, rows, formats, rows_tag)
        }
        Output::StoredCopyOut { columns, lines } => {
            let data = StoredRows::new(lines).map(|r| match r {
                Ok(mut line) => match line.pop() {
                    Some(Value::Text(l)) => Ok(CopyData::new(bytes::Bytes::from(l.into_bytes()))),
                    _ => Err(user_error(&FrontError::Internal(
                        "a COPY line is one text value".into(),
                    ))),
                },
                Err(e) => Err(user_error(&FrontError::Sql(e))),
            });
            Ok(Response::CopyOut(CopyResponse::new(
                0,
                columns,
                stream::iter(data),
            )))
        }
    }
}

/// Encodes rows of one result into DataRow messages in the formats Bind asked for.
///
/// The rows are written one after another into one buffer, [`ROW_CHUNK_BYTES`] allocated at a
/// time, and each message takes its row's part of it (`BytesMut::split`, which shares the
/// allocation): a result of small rows costs an allocation per chunk, not per row. NULLs,
/// strings, integers and the binary forms the SQL layer makes are written as their bytes; the
/// rest (floats, booleans in binary, text forms for a column described as an array) go through
/// the wire types' own encoders, as `DataRowEncoder` would write them.
struct RowEncoder {
    schema: Arc<Vec<FieldInfo>>,
    types: Vec<DataType>,
    /// Per column: the type it is described with, and whether it is sent as text.
    wire: Vec<(Type, bool)>,
    buf: BytesMut,
    format_options: pgwire::types::format::FormatOptions,
}

/// The buffer [`RowEncoder`] writes rows into is topped up by this much when less than
/// [`ROW_ROOM_BYTES`] is left: 64 KiB holds about a thousand rows of a few short columns.
const ROW_CHUNK_BYTES: usize = 64 * 1024;
/// The room a row starts with; a longer row grows the buffer as it is written.
const ROW_ROOM_BYTES: usize = 1024;
const _: () = assert!(ROW_ROOM_BYTES < ROW_CHUNK_BYTES);

impl RowEncoder {
    fn new(columns: &[borealis_sql::query::ColumnInfo], formats: &Format) -> RowEncoder {
        let fields: Vec<FieldInfo> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| field_info(c, formats.format_for(i)))
            .collect();
        let schema = Arc::new(fields);
        let wire = schema
            .iter()
            .map(|f| (f.datatype().clone(), f.format() == FieldFormat::Text))
            .collect();
        RowEncoder {
            schema,
            types: columns.iter().map(|c| c.ty).collect(),
            wire,
            buf: BytesMut::new(),
            format_options: pgwire::types::format::FormatOptions::default(),
        }
    }

    /// Writes one field's length and bytes.
    fn put_bytes(&mut self, bytes: &[u8]) {
        self.buf.put_i32(bytes.len() as i32);
        self.buf.put_slice(bytes);
    }

    /// Writes an integer's text form, without going through `fmt`.
    fn put_decimal(&mut self, x: i64) {
        let mut digits = [0u8; 20];
        let text = decimal(x, &mut digits);
        self.put_bytes(text);
    }

    /// Writes `value` as column `i` is described (its type and format), through the wire
    /// type's own encoder, as `DataRowEncoder::encode_field` does: the length is written as -1
    /// (NULL) first, then set to the bytes' length unless the value was NULL.
    fn put<T: postgres_types::ToSql + pgwire::types::ToSqlText>(
        &mut self,
        i: usize,
        value: &T,
    ) -> PgWireResult<()> {
        let (ty, text) = &self.wire[i];
        let at = self.buf.len();
        self.buf.put_i32(-1);
        let is_null = if *text {
            value.to_sql_text(ty, &mut self.buf, &self.format_options)
        } else {
            value.to_sql(ty, &mut self.buf)
        }
        .map_err(PgWireError::ApiError)?;
        if let postgres_types::IsNull::No = is_null {
            let len = (self.buf.len() - at - 4) as i32;
            self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
        Ok(())
    }

    fn encode(&mut self, row: &[Value]) -> PgWireResult<pgwire::messages::data::DataRow> {
        if self.buf.capacity() - self.buf.len() < ROW_ROOM_BYTES {
            self.buf.reserve(ROW_CHUNK_BYTES);
        }
        for (i, v) in row.iter().enumerate() {
            if let Value::Null = v {
                self.buf.put_i32(-1);
                continue;
            }
            let (ty, text) = &self.wire[i];
            if *text {
                match v {
                    // A string is sent as it is, unless the column is described as an array
                    // (the wire's encoder then quotes it as an element).
                    Value::Text(s) | Value::Bpchar(s) | Value::Json(s)
                        if !matches!(ty.kind(), postgres_types::Kind::Array(_)) =>
                    {
                        self.put_bytes(s.as_bytes())
                    }
                    Value::Text(s) | Value::Bpchar(s) | Value::Json(s) => {
                        self.put(i, &s.as_str())?
                    }
                    Value::Bool(b) => self.put_bytes(if *b { b"t" } else { b"f" }),
                    Value::Int(x) => self.put_decimal(*x),
                    // An array's text, written as it is: the encoder would quote a
                    // string sent for an array column as an element.
                    Value::Array(items) => {
                        self.put_bytes(borealis_sql::array::format(items).as_bytes())
                    }
                    other => self.put(i, &other.to_text())?,
                }
                continue;
            }
            match (v, self.types[i]) {
                (Value::Null, _) => self.buf.put_i32(-1),
                (Value::Int(x), DataType::Int4) => self.put_bytes(&(*x as i32).to_be_bytes()),
                (Value::Int(x), DataType::Int2) => self.put_bytes(&(*x as i16).to_be_bytes()),
                (Value::Int(x), DataType::Int8) => self.put_bytes(&x.to_be_bytes()),
                (Value::Float4(f), _) => self.put(i, f)?,
                (Value::Int(x), _) => self.put(i, x)?,
                (Value::Float(f), _) => self.put(i, f)?,
                (Value::Bool(b), _) => self.put(i, b)?,
                // A string's binary form is its bytes.
                (Value::Text(s) | Value::Bpchar(s), _) => self.put_bytes(s.as_bytes()),
                // The other types' binary forms are sent as their bytes.
                (Value::Timestamp(t) | Value::TimestampTz(t), _) => {
                    self.put_bytes(&dt::ts_to_wire(*t).to_be_bytes())
                }
                (Value::Time(t), _) => self.put_bytes(&t.to_be_bytes()),
                (Value::Date(d), _) => self.put_bytes(&dt::date_to_wire(*d).to_be_bytes()),
                (Value::TimeTz(t, east_secs), _) => {
                    self.put_bytes(&dt::timetz_to_wire(*t, *east_secs))
                }
                (Value::Interval(iv), _) => self.put_bytes(&dt::interval_to_wire(iv)),
                (Value::Bytes(b), _) => self.put_bytes(b),
                (Value::Uuid(u), _) => self.put_bytes(&u.to_be_bytes()),
                (Value::Numeric(n), _) => self.put_bytes(&n.to_wire()),
                (Value::Json(s), _) => self.put(i, s)?,
                (Value::Array(items), ty) => {
                    let mut b = Vec::new();
                    borealis_sql::array::to_binary(
                        items,
                        ty.element().unwrap_or(DataType::Text),
                        &mut b,
                    );
                    self.put_bytes(&b)
                }
                (Value::Record(r), _) => {
                    let mut b = Vec::new();
                    borealis_sql::record::to_binary(r, &mut b);
                    self.put_bytes(&b)
                }
                // jsonpath and jsonb: a version byte, then the text.
                (Value::JsonPath(p), _) => {
                    let mut b = vec![1u8];
                    b.extend_from_slice(p.as_bytes());
                    self.put_bytes(&b)
                }
                (Value::Jsonb(j), _) => {
                    let mut b = vec![1u8];
                    b.extend_from_slice(j.to_string().as_bytes());
                    self.put_bytes(&b)
                }
            }
        }
        Ok(pgwire::messages::data::DataRow::new(
            self.buf.split(),
            row.len() as i16,
        ))
    }
}

/// The decimal digits of `x` (with a minus sign), written at the end of `digits`: twenty bytes
/// hold `i64::MIN`.
fn decimal(x: i64, digits: &mut [u8; 20]) -> &[u8] {
    let mut at = digits.len();
    let mut n = x.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if x < 0 {
        at -= 1;
        digits[at] = b'-';
    }
    &digits[at..]
}

/// A row-returning response whose command tag is `tag` and the row count.
fn rows_response(
    columns: &[borealis_sql::query::ColumnInfo],
    rows: Vec<Vec<Value>>,
    formats: &Format,
    tag: &str,
) -> PgWireResult<Response> {
    let mut encoder = RowEncoder::new(columns, formats);
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(Ok(encoder.encode(&row)?));
    }
    let mut response = QueryResponse::new(encoder.schema.clone(), stream::iter(out));
    response.set_command_tag(tag);
    Ok(Response::Query(response))
}

/// Rows read back from a result store as they are sent, [`STORED_ROWS_CHUNK`] at a time: a
/// result past the result budget never sits in memory whole, here or in the session.
fn stored_rows_response(
    columns: &[borealis_sql::query::ColumnInfo],
    store: RowStore,
    formats: &Format,
    tag: &str,
) -> PgWireResult<Response> {
    let mut encoder = RowEncoder::new(columns, formats);
    let schema = encoder.schema.clone();
    let rows = StoredRows::new(store).map(move |r| {
        r.map_err(|e| user_error(&FrontError::Sql(e)))
            .and_then(|row| encoder.encode(&row))
    });
    let mut response = QueryResponse::new(schema, stream::iter(rows));
    response.set_command_tag(tag);
    Ok(Response::Query(response))
}

/// Rows read back from a result store per chunk.
const STORED_ROWS_CHUNK: u64 = 256;

/// An iterator over a result store's rows, reading [`STORED_ROWS_CHUNK`] at a time; after an
/// error it ends.
struct StoredRows {
    store: RowStore,
    next: u64,
    chunk: std::vec::IntoIter<Vec<Value>>,
    failed: bool,
}

impl StoredRows {
    fn new(store: RowStore) -> StoredRows {
        StoredRows {
            store,
            next: 1,
            chunk: Vec::new().into_iter(),
            failed: false,
        }
    }
}

impl Iterator for StoredRows {
    type Item = Result<Vec<Value>, SqlError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(row) = self.chunk.next() {
            return Some(Ok(row));
        }
        if self.failed || self.next > self.store.len() {
            return None;
        }
        let last = (self.next + STORED_ROWS_CHUNK - 1).min(self.store.len());
        match self.store.range(self.next, last) {
            Ok(rows) => {
                self.next = last + 1;
                self.chunk = rows.into_iter();
                self.chunk.next().map(Ok)
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// The pgwire handler.
pub struct Handler {
    frontend: Arc<Frontend>,
    parser: Arc<Parser>,
}

impl Handler {
    /// Closes every portal of the connection once its session is outside a transaction block:
    /// portals live no longer than the transaction that made them.
    async fn end_portals_if_idle<C>(&self, client: &C)
    where
        C: ClientInfo + ClientPortalStore,
        C::PortalStore: PortalStore,
    {
        if let Ok(conn) = self.frontend.session(client)
            && conn.session.lock().await.status() == borealis_sql::TxnStatus::Idle
        {
            client.portal_store().clear_portals();
        }
    }
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
        let mut stmts = borealis_sql::parse(sql).map_err(|e| {
            let e = FrontError::Sql(e);
            let mut info = error_info(&e);
            info.position = error_position(&e, sql);
            PgWireError::UserError(Box::new(info))
        })?;
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
        let param_wire_types: Vec<Option<Type>> = types
            .iter()
            .map(|t| t.as_ref().and_then(declared_wire_type))
            .collect();
        let conn = self.frontend.session(client).map_err(|e| user_error(&e))?;
        let deallocations = conn.deallocations.load(Ordering::Acquire);
        let stmt = Arc::new(stmt);
        let s2 = stmt.clone();
        let guard = conn.session.lock_owned().await;
        let described = run_caught(move || {
            let mut guard = guard;
            guard.describe(&s2, &declared)
        })
        .map_err(|e| user_error(&FrontError::Internal(e.to_string())))?
        .map_err(|e| user_error(&FrontError::Sql(e)))?;
        Ok(Some(Prepared {
            stmt: Some(stmt),
            param_wire_types: (0..described.0.len())
                .map(|i| param_wire_types.get(i).cloned().flatten())
                .collect(),
            param_types: described.0,
            deallocations,
            columns: described.1,
            text: Arc::from(sql.trim()),
            plan: Arc::default(),
        }))
    }

    fn get_parameter_types(&self, stmt: &Prepared) -> PgWireResult<Vec<Type>> {
        Ok(param_wire_types(stmt))
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
                field_info(c, fmt)
            })
            .collect())
    }
}

/// The client connection a statement answers through. Two differences from the library's:
/// - It sends `EXPLAIN` where the library would send `EXPLAIN n`: PostgreSQL's CommandComplete
///   of an EXPLAIN carries no row count, and the library appends one to the tag of every
///   response with rows.
/// - It holds what it is given in the connection's write buffer until the client waits for an
///   answer: ReadyForQuery (the end of a simple query or of a Sync) or a COPY response (the
///   client must act on it). The library flushes after most messages, which cost a round of
///   `send` (and, on loopback, the receiver's wakeup) per message: four per prepared point
///   query instead of one. PostgreSQL too writes its answers out only at Sync, at Flush (the
///   library's `on_flush` flushes the connection itself) and when its buffer fills (the
///   framed writer still flushes past its high-water mark).
struct Reply<'a, C> {
    client: &'a mut C,
    /// A message the client waits for was given: the next flush goes through.
    urgent: bool,
}

impl<'a, C> Reply<'a, C> {
    fn new(client: &'a mut C) -> Reply<'a, C> {
        Reply {
            client,
            urgent: false,
        }
    }
}

impl<C: ClientInfo> ClientInfo for Reply<'_, C> {
    fn socket_addr(&self) -> std::net::SocketAddr {
        self.client.socket_addr()
    }
    fn is_secure(&self) -> bool {
        self.client.is_secure()
    }
    fn protocol_version(&self) -> pgwire::messages::ProtocolVersion {
        self.client.protocol_version()
    }
    fn set_protocol_version(&mut self, version: pgwire::messages::ProtocolVersion) {
        self.client.set_protocol_version(version);
    }
    fn pid_and_secret_key(&self) -> (i32, SecretKey) {
        self.client.pid_and_secret_key()
    }
    fn set_pid_and_secret_key(&mut self, pid: i32, secret_key: SecretKey) {
        self.client.set_pid_and_secret_key(pid, secret_key);
    }
    fn state(&self) -> pgwire::api::PgWireConnectionState {
        self.client.state()
    }
    fn set_state(&mut self, new_state: pgwire::api::PgWireConnectionState) {
        self.client.set_state(new_state);
    }
    fn transaction_status(&self) -> pgwire::messages::response::TransactionStatus {
        self.client.transaction_status()
    }
    fn set_transaction_status(
        &mut self,
        new_status: pgwire::messages::response::TransactionStatus,
    ) {
        self.client.set_transaction_status(new_status);
    }
    fn metadata(&self) -> &HashMap<String, String> {
        self.client.metadata()
    }
    fn metadata_mut(&mut self) -> &mut HashMap<String, String> {
        self.client.metadata_mut()
    }
    fn session_extensions(&self) -> &pgwire::api::SessionExtensions {
        self.client.session_extensions()
    }
}

impl<C: ClientPortalStore> ClientPortalStore for Reply<'_, C> {
    type PortalStore = C::PortalStore;
    fn portal_store(&self) -> &Self::PortalStore {
        self.client.portal_store()
    }
}

impl<C: Sink<PgWireBackendMessage> + Unpin> Sink<PgWireBackendMessage> for Reply<'_, C> {
    type Error = C::Error;

    fn poll_ready(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        Pin::new(&mut *self.client).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: PgWireBackendMessage) -> Result<(), Self::Error> {
        let item = match item {
            PgWireBackendMessage::CommandComplete(mut c) if c.tag.starts_with("EXPLAIN ") => {
                c.tag = "EXPLAIN".into();
                PgWireBackendMessage::CommandComplete(c)
            }
            other => other,
        };
        if matches!(
            item,
            PgWireBackendMessage::ReadyForQuery(_)
                | PgWireBackendMessage::CopyInResponse(_)
                | PgWireBackendMessage::CopyOutResponse(_)
                | PgWireBackendMessage::CopyBothResponse(_)
        ) {
            self.urgent = true;
        }
        Pin::new(&mut *self.client).start_send(item)
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        if !self.urgent {
            return std::task::Poll::Ready(Ok(()));
        }
        let flushed = Pin::new(&mut *self.client).poll_flush(cx);
        if let std::task::Poll::Ready(Ok(())) = flushed {
            self.urgent = false;
        }
        flushed
    }

    fn poll_close(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        Pin::new(&mut *self.client).poll_close(cx)
    }
}

#[async_trait]
impl SimpleQueryHandler for Handler {
    async fn on_query<C>(
        &self,
        client: &mut C,
        query: pgwire::messages::simplequery::Query,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self._on_query(&mut Reply::new(client), query).await?;
        self.end_portals_if_idle(client).await;
        Ok(())
    }

    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let stmts = match borealis_sql::parse(query) {
            Ok(s) => s,
            Err(e) => {
                let e = FrontError::Sql(e);
                let mut info = error_info(&e);
                info.position = error_position(&e, query);
                return Ok(vec![Response::Error(Box::new(info))]);
            }
        };
        let session = self.frontend.session(client).map_err(|e| user_error(&e))?;
        let mut out = Vec::with_capacity(stmts.len());
        for stmt in stmts {
            if let ast::Statement::Deallocate { name, .. } = &stmt {
                match deallocate(client, &session, name).await {
                    Ok(r) => out.push(r),
                    Err(e) => {
                        out.push(Response::Error(Box::new(error_info(&FrontError::Sql(e)))));
                        break;
                    }
                }
                continue;
            }
            let tag = rows_tag(&stmt);
            let (result, notices) = self
                .frontend
                .run(
                    session.clone(),
                    Arc::new(stmt),
                    Vec::new(),
                    query.to_string(),
                )
                .await;
            send_notices(client, notices).await?;
            match result {
                Ok(ex) => {
                    let copy_in = matches!(ex.output, Output::CopyIn { .. });
                    // A BINARY cursor's rows go in binary form to a simple query only.
                    let format = if matches!(ex.output, Output::Fetched { binary: true, .. }) {
                        Format::UnifiedBinary
                    } else {
                        Format::UnifiedText
                    };
                    let zone = session.session.lock().await.clock().zone;
                    out.push(in_zone(zone, || response(ex, &format, tag))?);
                    if copy_in {
                        // The data follows; later statements of the message are not run.
                        break;
                    }
                }
                Err(FrontError::Terminated) => return Err(user_error(&FrontError::Terminated)),
                Err(e) => {
                    // The rest of the message is skipped, as PostgreSQL does.
                    let mut info = error_info(&e);
                    info.position = error_position(&e, query);
                    out.push(Response::Error(Box::new(info)));
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

    /// Describing a statement that returns no rows answers ParameterDescription then NoData, as
    /// PostgreSQL does; the library's default sends an empty RowDescription when the statement
    /// has parameters, which pgjdbc takes for a result set ("A result was returned when none was
    /// expected").
    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if message.target_type != TARGET_TYPE_BYTE_STATEMENT {
            let name = message.name.as_deref().unwrap_or(pgwire::api::DEFAULT_NAME);
            if client.portal_store().get_portal(name).is_none() {
                let shown = message.name.clone().unwrap_or_default();
                // SQL cursors share the portals' names, as in PostgreSQL: drivers describe a
                // cursor they declared (psycopg's server-side cursors) to learn its columns.
                let conn = self.frontend.session(client).map_err(|e| user_error(&e))?;
                let cursor = conn.session.lock().await.cursor_columns(&shown);
                let Some((columns, binary)) = cursor else {
                    return Err(user_error(&FrontError::UndefinedPortal(shown)));
                };
                let format = if binary {
                    FieldFormat::Binary
                } else {
                    FieldFormat::Text
                };
                let fields: Vec<FieldInfo> =
                    columns.iter().map(|c| field_info(c, format)).collect();
                client
                    .send(PgWireBackendMessage::RowDescription(
                        pgwire::messages::data::RowDescription::new(
                            fields.iter().map(Into::into).collect(),
                        ),
                    ))
                    .await?;
                return Ok(());
            }
        }
        if message.target_type == TARGET_TYPE_BYTE_STATEMENT {
            let name = message.name.as_deref().unwrap_or("");
            if let Some(Entry::Value(stmt)) = client.portal_store().get_statement(name)
                && stmt.statement.columns.is_empty()
            {
                let oids = param_wire_types(&stmt.statement)
                    .iter()
                    .map(Type::oid)
                    .collect();
                client
                    .send(PgWireBackendMessage::ParameterDescription(
                        ParameterDescription::new(oids),
                    ))
                    .await?;
                client
                    .send(PgWireBackendMessage::NoData(NoData::new()))
                    .await?;
                return Ok(());
            }
        }
        self._on_describe(&mut Reply::new(client), message).await
    }

    fn query_parser(&self) -> Arc<Parser> {
        self.parser.clone()
    }

    /// As the library's, but ParseComplete waits in the write buffer for the Sync (or Flush)
    /// that follows (see `Reply`).
    async fn on_parse<C>(
        &self,
        client: &mut C,
        message: pgwire::messages::extendedquery::Parse,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message
            .name
            .clone()
            .unwrap_or_else(|| pgwire::api::DEFAULT_NAME.to_owned());
        match StoredStatement::parse(client, &message, self.query_parser()).await? {
            Some(stmt) => client.portal_store().put_statement(Arc::new(stmt)),
            None => client.portal_store().put_empty_statement(&name),
        }
        client
            .feed(PgWireBackendMessage::ParseComplete(
                pgwire::messages::extendedquery::ParseComplete::new(),
            ))
            .await?;
        Ok(())
    }

    /// As the library's, but BindComplete waits in the write buffer for the Sync (or Flush)
    /// that follows (see `Reply`).
    async fn on_bind<C>(
        &self,
        client: &mut C,
        message: pgwire::messages::extendedquery::Bind,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statement = message
            .statement_name
            .as_deref()
            .unwrap_or(pgwire::api::DEFAULT_NAME);
        let portal = message
            .portal_name
            .as_deref()
            .unwrap_or(pgwire::api::DEFAULT_NAME);
        match client.portal_store().get_statement(statement) {
            Some(Entry::Value(stmt)) => {
                client
                    .portal_store()
                    .put_portal(Arc::new(Portal::try_new(&message, stmt)?));
            }
            Some(Entry::Empty) if message.parameters.is_empty() => {
                client.portal_store().put_empty_portal(portal);
            }
            Some(Entry::Empty) => {
                return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                    "ERROR".to_owned(),
                    "08P01".to_owned(),
                    format!(
                        "bind message supplies {} parameters, but prepared statement \"{}\" requires 0",
                        message.parameters.len(),
                        if statement == pgwire::api::DEFAULT_NAME {
                            ""
                        } else {
                            statement
                        }
                    ),
                ))));
            }
            None => return Err(PgWireError::StatementNotFound(statement.to_owned())),
        }
        client
            .feed(PgWireBackendMessage::BindComplete(
                pgwire::messages::extendedquery::BindComplete::new(),
            ))
            .await?;
        Ok(())
    }

    async fn on_execute<C>(
        &self,
        client: &mut C,
        message: pgwire::messages::extendedquery::Execute,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let name = message.name.as_deref().unwrap_or(pgwire::api::DEFAULT_NAME);
        let Some(entry) = client.portal_store().get_portal(name) else {
            let shown = message.name.clone().unwrap_or_default();
            return Err(user_error(&FrontError::UndefinedPortal(shown)));
        };
        // A started portal's next rows come from the library's copy of its result, without
        // the session: in a failed block they are refused here, as the session would.
        if let Entry::Value(portal) = entry
            && !matches!(
                *portal.state().lock().await,
                pgwire::api::portal::PortalExecutionState::Initial
            )
        {
            let conn = self.frontend.session(client).map_err(|e| user_error(&e))?;
            if conn.session.lock().await.status() == borealis_sql::TxnStatus::Failed {
                return Err(user_error(&FrontError::Sql(SqlError::InFailedTransaction)));
            }
        }
        self._on_execute(&mut Reply::new(client), message).await
    }

    /// Sync ends the implicit transaction of the messages before it: outside a transaction
    /// block every portal closes with it (inside one, portals last until the block ends, the
    /// unnamed one included, as in PostgreSQL).
    async fn on_sync<C>(
        &self,
        client: &mut C,
        _message: pgwire::messages::extendedquery::Sync,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.end_portals_if_idle(client).await;
        let status = client.transaction_status();
        client
            .send(PgWireBackendMessage::ReadyForQuery(
                pgwire::messages::response::ReadyForQuery::new(status),
            ))
            .await?;
        client.flush().await?;
        Ok(())
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Prepared>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let prepared = &portal.statement.statement;
        let Some(stmt) = prepared.stmt.clone() else {
            return Ok(Response::EmptyQuery);
        };
        let session = self.frontend.session(client).map_err(|e| user_error(&e))?;
        let id = &portal.statement.id;
        if !id.is_empty() && prepared.deallocations < session.deallocations.load(Ordering::Acquire)
        {
            let e = SqlError::UndefinedPreparedStatement(id.clone());
            return Err(user_error(&FrontError::Sql(e)));
        }
        if let ast::Statement::Deallocate { name, .. } = &*stmt {
            return deallocate(client, &session, name)
                .await
                .map_err(|e| user_error(&FrontError::Sql(e)));
        }
        if portal.parameters.len() != prepared.param_types.len() {
            return Err(user_error(&FrontError::Sql(SqlError::Syntax(format!(
                "bind message supplies {} parameters, but prepared statement requires {}",
                portal.parameters.len(),
                prepared.param_types.len()
            )))));
        }
        let mut params = Vec::with_capacity(portal.parameters.len());
        let zone = session.session.lock().await.clock().zone;
        for (i, raw) in portal.parameters.iter().enumerate() {
            let v = in_zone(zone.clone(), || {
                decode_param(
                    raw.as_deref(),
                    prepared.param_types[i],
                    prepared.param_wire_types[i].as_ref(),
                    portal.parameter_format.is_binary(i),
                )
            })
            .map_err(|e| user_error(&FrontError::Sql(e)))?;
            params.push(v);
        }
        let text = prepared.text.to_string();
        let slot = prepared.plan.clone();
        let tag = rows_tag(&stmt);
        let (result, notices) = self
            .frontend
            .on_session(session, Some(text), move |s| {
                s.execute_with_plan_cache(&stmt, &params, &slot)
            })
            .await;
        send_notices(client, notices).await?;
        match result {
            Ok(ex) => in_zone(zone, || response(ex, &portal.result_column_format, tag)),
            Err(FrontError::Terminated) => Err(user_error(&FrontError::Terminated)),
            Err(e) => {
                let mut info = error_info(&e);
                info.position = error_position(&e, &prepared.text);
                Ok(Response::Error(Box::new(info)))
            }
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
        let params = param_wire_types(p);
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
        // The key that lets a CancelRequest stop this session's statements: random, so that
        // another client cannot guess it.
        let mut key = [0u8; 4];
        if borealis_sql::functions::os_random(&mut key).is_err() {
            key = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
                .to_le_bytes();
        }
        let secret = i32::from_le_bytes(key);
        client.set_pid_and_secret_key(pid, SecretKey::I32(secret));
        let md = client.metadata();
        let info = SessionInfo {
            database: md
                .get("database")
                .or_else(|| md.get("user"))
                .cloned()
                .unwrap_or_else(|| "borealis".into()),
            user: md.get("user").cloned().unwrap_or_else(|| "borealis".into()),
            backend_pid: pid,
            cancel: Default::default(),
            // Session::new puts the instance's registry here.
            activity: Default::default(),
            random: Default::default(),
        };
        let mut session = Session::new(self.frontend.db.clone(), info);
        let registry = self.frontend.cancels.clone();
        registry
            .flags
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                (pid, SecretKey::I32(secret).to_bytes()),
                Arc::downgrade(&session.info.cancel),
            );
        client.session_extensions().insert(CancelRegistration {
            key: (pid, SecretKey::I32(secret).to_bytes()),
            registry,
        });
        let socket = self
            .frontend
            .sockets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&client.socket_addr());
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
            if k == "options" {
                // `-c name=value` and `--name=value`, as libpq's PGOPTIONS carries them.
                let mut words = v.split_whitespace();
                while let Some(w) = words.next() {
                    let setting = match w {
                        "-c" => words.next(),
                        _ => w.strip_prefix("--").or_else(|| w.strip_prefix("-c")),
                    };
                    if let Some((name, value)) = setting.and_then(|s| s.split_once('=')) {
                        let _ = session.set_startup(&name.replace('-', "_"), value);
                    }
                }
                continue;
            }
            let _ = session.set_startup(k, v);
        }
        let backend = session.backend().clone();
        backend.set_client(client.socket_addr());
        let conn = Conn {
            session: Arc::new(tokio::sync::Mutex::new(session)),
            statements: Arc::default(),
            unacknowledged_lsn: Arc::default(),
            socket: Arc::new(std::sync::Mutex::new(socket)),
            copy_buffer: Arc::default(),
            deallocations: Arc::default(),
        };
        // The hook holds the session weakly: the session owns the registry entry that owns
        // the hook.
        let weak = Arc::downgrade(&conn.session);
        let statements = conn.statements.clone();
        let socket = conn.socket.clone();
        let runtime = self.frontend.runtime.clone();
        backend.set_terminate_hook(Box::new(move || {
            runtime.spawn(terminate(weak.clone(), statements.clone(), socket.clone()));
        }));
        client.session_extensions().insert(SessionSlot(conn));
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
    fn copy_handler(&self) -> Arc<impl CopyHandler> {
        self.handler.clone()
    }
    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        self.handler.frontend.cancels.clone()
    }
}

/// `COPY … FROM STDIN` data: each chunk goes into the statement's transaction as it arrives.
#[async_trait]
impl CopyHandler for Handler {
    async fn on_copy_data<C>(&self, client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = self.frontend.session(client).map_err(|e| user_error(&e))?;
        let batch = {
            let mut buf = conn.copy_buffer.lock().unwrap_or_else(|e| e.into_inner());
            buf.extend_from_slice(&copy_data.data);
            if buf.len() < COPY_BATCH_BYTES {
                return Ok(());
            }
            std::mem::take(&mut *buf)
        };
        let guard = conn.session.lock_owned().await;
        run_caught(move || {
            let mut guard = guard;
            guard.copy_in_data(&batch)
        })
        .map_err(|e| user_error(&FrontError::Internal(e.to_string())))?
        .map_err(|e| user_error(&FrontError::Sql(e)))
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let conn = self.frontend.session(client).map_err(|e| user_error(&e))?;
        let rest = std::mem::take(&mut *conn.copy_buffer.lock().unwrap_or_else(|e| e.into_inner()));
        let (result, notices) = self
            .frontend
            .on_session(conn, None, move |s| {
                s.copy_in_data(&rest)?;
                s.copy_in_done()
            })
            .await;
        send_notices(client, notices).await?;
        let ex = result.map_err(|e| user_error(&e))?;
        let Output::Command { tag } = ex.output else {
            return Err(user_error(&FrontError::Internal(
                "COPY ended without a tag".into(),
            )));
        };
        client
            .send(PgWireBackendMessage::CommandComplete(Tag::new(&tag).into()))
            .await?;
        Ok(())
    }

    async fn on_copy_fail<C>(&self, client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let session = match self.frontend.session(client) {
            Ok(s) => s,
            Err(e) => return user_error(&e),
        };
        session
            .copy_buffer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        let mut guard = session.session.lock().await;
        user_error(&FrontError::Sql(guard.copy_in_fail(&fail.message)))
    }
}

/// The accepted socket, as a standard stream (still non-blocking) for its connection's
/// thread, and a second handle on it.
fn second_handle(
    socket: tokio::net::TcpStream,
) -> std::io::Result<(std::net::TcpStream, std::net::TcpStream)> {
    let std_socket = socket.into_std()?;
    let second = std_socket.try_clone()?;
    Ok((std_socket, second))
}

fn frontend_of(factory: &Factory) -> Arc<Frontend> {
    factory.handler.frontend.clone()
}

fn sockets_of(
    frontend: &Frontend,
) -> std::sync::MutexGuard<'_, HashMap<std::net::SocketAddr, std::net::TcpStream>> {
    frontend
        .sockets
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Serves PostgreSQL clients on `listener` until the task is dropped (a connection already
/// accepted goes on until its client leaves). Each connection has its own thread (see
/// `connection`). A connection that sends garbage is closed; the others are unaffected.
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
        // Keep a second handle on the socket for the idle-in-transaction timeout.
        let socket = match second_handle(socket) {
            Ok((socket, second)) => {
                sockets_of(&frontend_of(&factory)).insert(peer, second);
                socket
            }
            Err(e) => {
                eprintln!("instance: connection from {peer} dropped: {e}");
                continue;
            }
        };
        let frontend = frontend_of(&factory);
        let factory = factory.clone();
        let spawned = std::thread::Builder::new()
            .name("connection".into())
            .stack_size(borealis_sql::query::STATEMENT_STACK_BYTES)
            .spawn(move || connection(socket, peer, factory));
        if let Err(e) = spawned {
            sockets_of(&frontend).remove(&peer);
            eprintln!("instance: connection from {peer} dropped: no thread for it: {e}");
        }
    }
}

/// Serves one client on its own thread, as a PostgreSQL backend does: the thread reads the
/// client's messages, runs its statements and writes the answers, so a statement costs no
/// hand-off between threads. The thread's own runtime drives only this socket; what must run
/// while a statement is busy (timers, termination, the volume's reads) runs on the shared
/// runtime.
fn connection(socket: std::net::TcpStream, peer: std::net::SocketAddr, factory: Arc<Factory>) {
    let frontend = frontend_of(&factory);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let served = match runtime {
        Ok(rt) => rt.block_on(async move {
            let socket = tokio::net::TcpStream::from_std(socket)?;
            pgwire::tokio::process_socket(socket, None, factory)
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))
        }),
        Err(e) => Err(e),
    };
    if let Err(e) = served {
        eprintln!("instance: connection from {peer} closed: {e}");
    }
    sockets_of(&frontend).remove(&peer);
}

/// Runs `f` here and now, a panic in it becoming an internal error (the statement fails, the
/// connection and everyone else go on).
fn run_caught<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|panic| {
        panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panicked".into())
    })
}

#[cfg(test)]
mod position_tests {
    use super::word_position;

    #[test]
    fn integers_are_written_as_display_writes_them() {
        let mut digits = [0u8; 20];
        for x in [
            0,
            7,
            -7,
            10,
            -10,
            1234567890,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
        ] {
            assert_eq!(super::decimal(x, &mut digits), x.to_string().as_bytes());
        }
    }

    #[test]
    fn names_are_found_as_whole_words_outside_literals() {
        assert_eq!(word_position("select nocol from t", "nocol"), Some(8));
        assert_eq!(word_position("SELECT x FROM Missing", "missing"), Some(15));
        assert_eq!(
            word_position("select 'nocol', xnocol, nocol from t", "nocol"),
            Some(25)
        );
        assert_eq!(word_position("select t.nocol from t", "t.nocol"), Some(8));
        assert_eq!(word_position("-- nocol\nselect nocol", "nocol"), Some(17));
        assert_eq!(word_position("select 1", "nocol"), None);
        assert_eq!(word_position("select aa, a from t", "a"), Some(12));
    }

    #[test]
    fn a_missing_parameter_points_at_its_first_use() {
        use super::{FrontError, SqlError, error_position};
        let at =
            |n: usize, q: &str| error_position(&FrontError::Sql(SqlError::NoSuchParameter(n)), q);
        // Not inside a literal, and `$12` is not `$1`.
        assert_eq!(
            at(2, "insert into t values ($1, '$2', $2)").as_deref(),
            Some("33")
        );
        assert_eq!(at(1, "update t set a = $12, b = $1").as_deref(), Some("27"));
        assert_eq!(at(3, "delete from t").as_deref(), None);
    }
}
