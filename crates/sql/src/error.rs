//! Errors of the SQL layer. They say what went wrong; the wire front end alone turns them into
//! SQLSTATE codes.

use borealis_common::pagestore::StoreError;
use borealis_engine::EngineError;
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum SqlError {
    #[error("{0}")]
    Syntax(String),
    #[error("relation \"{0}\" does not exist")]
    UndefinedTable(String),
    /// A missing relation named by its kind (`sequence "s" does not exist`).
    #[error("{0}")]
    UndefinedRelation(String),
    #[error("missing FROM-clause entry for table \"{0}\"")]
    MissingFromEntry(String),
    /// A relation of the same FROM clause that this part of it cannot see (a parenthesized
    /// join's ON condition naming a relation outside the parentheses).
    #[error("invalid reference to FROM-clause entry for table \"{0}\"")]
    InvalidFromReference(String),
    #[error("relation \"{0}\" already exists")]
    DuplicateTable(String),
    #[error("column \"{0}\" does not exist")]
    UndefinedColumn(String),
    /// `t.c` where relation `t` has no column `c`: PostgreSQL prints it unquoted.
    #[error("column {0} does not exist")]
    UndefinedQualifiedColumn(String),
    /// `(record).name` of a field the record does not have.
    #[error("could not identify column \"{0}\" in record data type")]
    UndefinedRecordField(String),
    #[error("column \"{0}\" specified more than once")]
    DuplicateColumn(String),
    /// ADD COLUMN of a name the table has.
    #[error("{0}")]
    ColumnExists(String),
    #[error("column reference \"{0}\" is ambiguous")]
    AmbiguousColumn(String),
    /// A `JOIN … USING` name one side (`left` or `right`) lacks.
    #[error("column \"{name}\" specified in USING clause does not exist in {side} table")]
    UsingColumnMissing { name: String, side: &'static str },
    /// A `JOIN … USING` name one side has more than once.
    #[error("common column name \"{name}\" appears more than once in {side} table")]
    UsingColumnAmbiguous { name: String, side: &'static str },
    #[error("function {0} does not exist")]
    UndefinedFunction(String),
    /// No operator for the operand types: `operator does not exist: numeric + boolean`.
    #[error("operator does not exist: {0}")]
    UndefinedOperator(String),
    #[error("duplicate key value violates unique constraint \"{constraint}\"")]
    UniqueViolation { constraint: String, detail: String },
    #[error(
        "null value in column \"{column}\" of relation \"{table}\" violates not-null constraint"
    )]
    NotNullViolation {
        table: String,
        column: String,
        /// PostgreSQL's `Failing row contains (…)`.
        detail: String,
    },
    #[error("{0}")]
    DatatypeMismatch(String),
    #[error("invalid input syntax for type {ty}: \"{value}\"")]
    InvalidTextRepresentation { ty: String, value: String },
    /// Malformed input whose message names no value (`invalid input syntax for type bytea`).
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0} out of range")]
    NumericOutOfRange(String),
    #[error("division by zero")]
    DivisionByZero,
    /// A value that does not fit a `numeric(p, s)` column or cast; the detail names the bound.
    #[error("numeric field overflow")]
    NumericFieldOverflow { detail: String },
    /// `sqrt` of a negative number, zero to a negative power.
    #[error("{0}")]
    InvalidArgumentForPower(String),
    /// The logarithm of zero or of a negative number.
    #[error("{0}")]
    InvalidArgumentForLog(String),
    /// An explicit cast between types that have none (`cannot cast type boolean to numeric`).
    #[error("{0}")]
    CannotCoerce(String),
    /// A date/time field out of its range (`date/time field value out of range: "…"`).
    #[error("{0}")]
    DatetimeFieldOverflow(String),
    /// A date/time value beyond the type's range (`timestamp out of range`).
    #[error("{0}")]
    DatetimeValueOutOfRange(String),
    /// An interval field too large (`interval field value out of range: "…"`).
    #[error("{0}")]
    IntervalFieldOverflow(String),
    /// A malformed date/time format or pattern.
    #[error("{0}")]
    InvalidDatetimeFormat(String),
    #[error("{0}")]
    Grouping(String),
    /// A window function or window clause where it cannot be, or a frame that cannot be.
    #[error("{0}")]
    Windowing(String),
    /// A frame offset that is NULL.
    #[error("{0}")]
    NullFrameOffset(String),
    /// A frame offset that is negative.
    #[error("{0}")]
    InvalidFrameOffset(String),
    /// A LIMIT or FETCH FIRST count that is negative, or NULL with WITH TIES.
    #[error("{0}")]
    InvalidRowCountInLimit(String),
    /// An OFFSET that is negative.
    #[error("OFFSET must not be negative")]
    InvalidRowCountInOffset,
    /// `ntile` with a bucket count below one.
    #[error("argument of ntile must be greater than zero")]
    InvalidNtileArgument,
    /// `nth_value` with a position below one.
    #[error("argument of nth_value must be greater than zero")]
    InvalidNthValueArgument,
    #[error("{0}")]
    CardinalityViolation(String),
    /// A referencing row without its referenced row, or a referenced row still referenced.
    #[error("{message}")]
    ForeignKeyViolation { message: String, detail: String },
    /// A FOREIGN KEY that names no primary key or unique constraint.
    #[error("{0}")]
    InvalidForeignKey(String),
    /// A CHECK constraint is false for a row.
    #[error("{message}")]
    CheckViolation { message: String, detail: String },
    /// An object (a constraint) of that name is there already.
    #[error("{0}")]
    DuplicateObject(String),
    #[error("{message}")]
    CardinalityViolationWithHint { message: String, hint: String },
    #[error("table name \"{0}\" specified more than once")]
    DuplicateAlias(String),
    #[error("{0}")]
    InvalidColumnReference(String),
    #[error("{0} is not supported")]
    FeatureNotSupported(String),
    /// A feature PostgreSQL refuses, with its message, detail and hint.
    #[error("{message}")]
    NotSupportedDetail {
        message: String,
        detail: String,
        hint: String,
    },
    /// A feature PostgreSQL refuses, with its own message.
    #[error("{0}")]
    NotSupported(String),
    #[error("current transaction is aborted, commands ignored until end of transaction block")]
    InFailedTransaction,
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("unrecognized configuration parameter \"{0}\"")]
    UndefinedParameter(String),
    /// A query names `$n` beyond the values its statement was given (a simple query has none).
    #[error("there is no parameter ${0}")]
    NoSuchParameter(usize),
    #[error("value too long for type {0}")]
    StringDataRightTruncation(String),
    #[error("could not create unique index \"{index}\"")]
    UniqueIndexBuild { index: String, detail: String },
    #[error("column \"{column}\" of relation \"{table}\" contains null values")]
    NotNullInExisting { table: String, column: String },
    #[error("{0}")]
    WrongObjectType(String),
    /// DROP of the wrong kind of relation, with the hint naming the right DROP.
    /// An object of the wrong kind for the operation, with PostgreSQL's DETAIL (`This
    /// operation is not supported for sequences.`).
    #[error("{message}")]
    WrongObjectTypeDetail { message: String, detail: String },
    #[error("{message}")]
    WrongObjectTypeHint { message: String, hint: String },
    #[error("{0}")]
    InvalidTableDefinition(String),
    #[error("{message}")]
    InvalidTableDefinitionHint { message: String, hint: String },
    #[error("{0}")]
    BadCopyFileFormat(String),
    #[error("{0}")]
    InvalidRegularExpression(String),
    /// A negative length for `substr`/`overlay` (22011).
    #[error("{0}")]
    InvalidSubstringLength(String),
    /// Base64 input that ends mid-group (22023, with PostgreSQL's hint).
    #[error("invalid base64 end sequence")]
    InvalidBase64End,
    /// An invalid argument with a hint saying what to use instead (22023).
    #[error("{message}")]
    InvalidParameterValueHint { message: String, hint: String },
    /// A bad count or bounds for `width_bucket` (2201G).
    #[error("{0}")]
    InvalidArgumentForWidthBucket(String),
    /// A bad ESCAPE string for `SIMILAR TO` (22025).
    #[error("{0}")]
    InvalidEscapeSequence(String),
    #[error("{0}")]
    UndefinedObject(String),
    /// Dropping an object another one needs (an index a constraint requires).
    #[error("{message}")]
    DependentObjectsStillExist {
        message: String,
        detail: String,
        hint: String,
    },
    /// INSERT, UPDATE or DELETE on a view that is not automatically updatable (55000), with
    /// PostgreSQL's detail (why) and hint (what would make it updatable).
    #[error("{message}")]
    ViewNotUpdatable {
        message: String,
        detail: String,
        hint: String,
    },
    /// A row written through a view fails its `WITH CHECK OPTION` (44000).
    #[error("{message}")]
    WithCheckOptionViolation { message: String, detail: String },
    /// `currval` before `nextval`, `lastval` before any.
    #[error("{0}")]
    ObjectNotInPrerequisiteState(String),
    /// A sequence reached its bound.
    #[error("{0}")]
    SequenceLimit(String),
    /// A value out of a range the message names (e.g. `setval` beyond a sequence's bounds).
    #[error("{0}")]
    NumericValueOutOfRange(String),
    /// A value given for a `GENERATED ALWAYS` identity column.
    #[error("cannot insert a non-DEFAULT value into column \"{0}\"")]
    GeneratedAlways(String),
    /// A value other than DEFAULT set for a `GENERATED ALWAYS` identity column by UPDATE.
    #[error("column \"{0}\" can only be updated to DEFAULT")]
    GeneratedAlwaysUpdate(String),
    #[error("canceling statement due to user request")]
    QueryCanceled,
    #[error("{0}")]
    QueryCanceledWith(String),
    #[error("{0}")]
    ActiveSqlTransaction(String),
    #[error("{0}")]
    SerializationFailure(String),
    #[error("{0}")]
    Deadlock(String),
    #[error("{0}")]
    LockNotAvailable(String),
    #[error("prepared statement \"{0}\" does not exist")]
    UndefinedPreparedStatement(String),
    #[error("prepared statement \"{0}\" already exists")]
    DuplicatePreparedStatement(String),
    #[error("schema \"{0}\" does not exist")]
    UndefinedSchema(String),
    /// No schema to create in, or a schema name that cannot be used (3F000).
    #[error("{0}")]
    InvalidSchemaName(String),
    #[error("schema \"{0}\" already exists")]
    DuplicateSchema(String),
    /// A relation's name taken in the schema it is moved to (42P07, with PostgreSQL's
    /// message).
    #[error("{0}")]
    DuplicateRelation(String),
    /// A CREATE SCHEMA element that names another schema (42P15).
    #[error("{0}")]
    InvalidSchemaDefinition(String),
    #[error("{0}")]
    InsufficientPrivilege(String),
    /// A name with a prefix the system keeps for itself (`pg_`).
    #[error("{message}")]
    ReservedName { message: String, detail: String },
    #[error("{0}")]
    AmbiguousFunction(String),
    #[error("cursor \"{0}\" does not exist")]
    UndefinedCursor(String),
    #[error("cursor \"{0}\" already exists")]
    DuplicateCursor(String),
    /// A backward move of a NO SCROLL cursor (55000, with a hint to declare it SCROLL).
    #[error("cursor can only scan forward")]
    CursorNoScroll,
    #[error("savepoint \"{0}\" does not exist")]
    NoSuchSavepoint(String),
    #[error("{0} can only be used in transaction blocks")]
    NoActiveTransaction(String),
    #[error("SET TRANSACTION ISOLATION LEVEL must be called before any query")]
    IsolationAfterQuery,
    #[error("transaction read-write mode must be set before any query")]
    ReadWriteAfterQuery,
    /// A write in a READ ONLY transaction; the command as PostgreSQL names it.
    #[error("cannot execute {0} in a read-only transaction")]
    ReadOnlyTransaction(&'static str),
    #[error("snapshot too old: a row version this snapshot needs was removed")]
    SnapshotTooOld,
    #[error("{0}")]
    ProgramLimitExceeded(String),
    /// A value whose type nothing determines (`ARRAY[]` without a cast).
    #[error("{0}")]
    IndeterminateDatatype(String),
    /// Malformed binary input (a bound parameter's array).
    #[error("{0}")]
    InvalidBinaryRepresentation(String),
    /// Malformed array text input; the detail says what was unexpected, as PostgreSQL's does.
    #[error("malformed array literal: \"{value}\"")]
    MalformedArray { value: String, detail: String },
    /// Malformed `json`/`jsonb` input; the detail says what was wrong where.
    #[error("invalid input syntax for type json")]
    InvalidJson { detail: String },
    /// A `\u` escape `jsonb` cannot hold (`\u0000`).
    #[error("unsupported Unicode escape sequence")]
    UnsupportedUnicodeEscape { detail: String },
    /// Input nested deeper than a named limit allows (a JSON value's depth).
    #[error("stack depth limit exceeded")]
    StackDepthExceeded(String),
    /// A NULL where a value is required (a NULL element of a JSON path).
    #[error("{0}")]
    NullValueNotAllowed(String),
    #[error("{0}")]
    Storage(StoreError),
    #[error("data corrupted: {0}")]
    Corrupted(String),
    #[error("internal error: {0}")]
    Internal(String),
    /// A jsonpath operand or result that must be one item is not (22038).
    #[error("{0}")]
    SqlJsonSingletonRequired(String),
    /// A jsonpath operator on a non-numeric item that needs a number (2203B).
    #[error("{0}")]
    SqlJsonNonNumeric(String),
    /// A jsonpath item method on an item of a type it does not take (22036).
    #[error("{0}")]
    SqlJsonNonNumericItem(String),
    /// A feature PostgreSQL itself words as "… is not implemented" (0A000), message as is.
    #[error("{0}")]
    NotImplemented(String),
    /// A strict jsonpath member accessor on a missing key or a non-object (2203A).
    #[error("{0}")]
    SqlJsonMemberNotFound(String),
    /// A strict jsonpath wildcard member accessor or `.keyvalue()` on a non-object (2203C).
    #[error("{0}")]
    SqlJsonObjectNotFound(String),
    /// A strict jsonpath array accessor or `.size()` on a non-array (22039).
    #[error("{0}")]
    SqlJsonArrayNotFound(String),
    /// A jsonpath subscript that is not a number or is out of bounds (22033).
    #[error("{0}")]
    SqlJsonInvalidSubscript(String),
    /// Malformed `jsonpath` input PostgreSQL reports with a detail (42601, as its scanner's
    /// errors).
    #[error("invalid input syntax for type jsonpath")]
    InvalidJsonPath(String),
    /// An invalid argument with a detail saying what was expected (22023).
    #[error("{message}")]
    InvalidParameterValueDetail { message: String, detail: String },
    /// Not an error: a consumer of rows has all it wants (a LIMIT), and the producer stops. It
    /// is caught where it is raised, so a client never sees it.
    #[error("internal error: rows wanted no more")]
    Enough,
}

impl From<EngineError> for SqlError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Store(s) => SqlError::Storage(s),
            EngineError::Corrupted(m) => SqlError::Corrupted(m),
            EngineError::EntryTooLarge { .. } => {
                SqlError::ProgramLimitExceeded(format!("row is too big: {e}"))
            }
            // Duplicate keys are turned into unique violations with their detail by the caller,
            // which knows the table and key; one that reaches here lost that context.
            EngineError::DuplicateKey => SqlError::UniqueViolation {
                constraint: "unknown".into(),
                detail: String::new(),
            },
            EngineError::SerializationFailure(_) => SqlError::SerializationFailure(e.to_string()),
            EngineError::Deadlock => SqlError::Deadlock(e.to_string()),
            EngineError::LockNotAvailable | EngineError::LockTimeout => {
                SqlError::LockNotAvailable(e.to_string())
            }
            EngineError::Canceled => SqlError::QueryCanceled,
            EngineError::SnapshotTooOld { .. } => SqlError::SnapshotTooOld,
            EngineError::NoSuchSavepoint => SqlError::NoSuchSavepoint(String::new()),
            #[allow(unreachable_patterns)]
            other => SqlError::Internal(other.to_string()),
        }
    }
}

pub type SqlResult<T> = Result<T, SqlError>;
