//! sqllogictest over the PostgreSQL wire protocol.
//!
//! This crate runs sqllogictest scripts (the corpus described in `shared/sqllogictest/README.md`)
//! against any server that speaks the PostgreSQL protocol, through a real client connection, and
//! counts what passes per file. It is a test harness: the `borealis` crate's `slt` test starts a
//! real cluster and asserts a minimum pass count per file, so a regression fails CI.
//!
//! ```text
//!  script ─prepare─▶ text ─parse─▶ records ─┬─ query: expected column types ─▶ ExpectedTypes
//!                                           ▼                                      │
//!                                  sqllogictest Runner ──run(sql)──▶ PgWire ◀──────┘
//!                                           │                     simple: Query message (text)
//!                                           │                     extended: Parse/Bind/Execute
//!                                           ▼                     (binary results, decoded here)
//!                                  pass / fail per record ─▶ FileReport
//! ```
//!
//! The corpus needs four adjustments to run with the `sqllogictest` crate, all made here:
//!
//! 1. Trailing comments on condition lines (`onlyif mysql # not compatible`) are stripped, since
//!    the crate's parser rejects them ([`prepare_script`]).
//! 2. The corpus writes one value per line, so every script starts with
//!    `control resultmode valuewise`.
//! 3. The hash threshold defaults to 8 (files that declare none expect 8).
//! 4. The runner does not tell the database the expected column types, so the adapter learns them
//!    from each query record before running it ([`ExpectedTypes`]) and formats `I` columns as
//!    integers and `R` columns with three decimals, as the corpus's reference harness printed
//!    them ([`format_value`]).
//!
//! A `halt` guarded by conditions (`onlyif mssql` / `halt`) is resolved while preparing the
//! script: the crate's parser would otherwise carry those conditions over to the next record.
//! Records run with the label `postgresql`, so `skipif postgresql` / `onlyif postgresql` apply.

use async_trait::async_trait;
use sqllogictest::{
    AsyncDB, Condition, DBOutput, DefaultColumnType, QueryExpect, Record, Runner, StatementExpect,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_postgres::types::{FromSql, Type};

/// The label under which records run.
pub const LABEL: &str = "postgresql";
/// Results with more values than this are compared by hash, unless a file says otherwise.
pub const HASH_THRESHOLD: usize = 8;
/// Failure messages kept per file for the report.
pub const FAILURES_KEPT_MAX: usize = 5;
/// Longest a single record may take before the rest of the file is abandoned.
pub const RECORD_TIMEOUT: Duration = Duration::from_secs(60);

/// Which protocol flow statements use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One `Query` message per statement; results in text form.
    Simple,
    /// Parse / Bind / Describe / Execute / Sync; results in binary form.
    Extended,
}

impl Mode {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Mode::Simple => "simple",
            Mode::Extended => "extended",
        }
    }
}

/// The column types the current query record expects, shared between the driver loop (which
/// knows the record) and the adapter (which formats the values).
pub type ExpectedTypes = Arc<Mutex<Vec<DefaultColumnType>>>;

/// A connection to a PostgreSQL-protocol server, as the runner's database.
pub struct PgWire {
    client: tokio_postgres::Client,
    mode: Mode,
    expected: ExpectedTypes,
    connection: tokio::task::JoinHandle<()>,
}

impl PgWire {
    /// Connects to `url` (a `postgres://` URL).
    pub async fn connect(
        url: &str,
        mode: Mode,
        expected: ExpectedTypes,
    ) -> Result<PgWire, WireError> {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        let connection = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(PgWire {
            client,
            mode,
            expected,
            connection,
        })
    }

    fn format_rows(
        &self,
        rows: Vec<Vec<Option<String>>>,
        ncols: usize,
    ) -> DBOutput<DefaultColumnType> {
        let expected = self.expected.lock().map(|g| g.clone()).unwrap_or_default();
        let types: Vec<DefaultColumnType> = (0..ncols)
            .map(|i| expected.get(i).cloned().unwrap_or(DefaultColumnType::Any))
            .collect();
        let rows = rows
            .into_iter()
            .map(|r| {
                r.iter()
                    .zip(&types)
                    .map(|(v, t)| format_value(v.as_deref(), t))
                    .collect()
            })
            .collect();
        DBOutput::Rows { types, rows }
    }

    async fn run_simple(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, WireError> {
        let messages = self.client.simple_query(sql).await?;
        let mut rows = Vec::new();
        let mut ncols = None;
        let mut count = 0;
        for m in messages {
            match m {
                tokio_postgres::SimpleQueryMessage::RowDescription(cols) => {
                    ncols = Some(cols.len());
                    rows.clear();
                }
                tokio_postgres::SimpleQueryMessage::Row(r) => {
                    ncols = Some(r.len());
                    rows.push((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect());
                }
                tokio_postgres::SimpleQueryMessage::CommandComplete(n) => count = n,
                _ => {}
            }
        }
        Ok(match ncols {
            Some(n) => self.format_rows(rows, n),
            None => DBOutput::StatementComplete(count),
        })
    }

    async fn run_extended(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, WireError> {
        let stmt = self.client.prepare(sql).await?;
        if stmt.columns().is_empty() {
            let n = self.client.execute(&stmt, &[]).await?;
            return Ok(DBOutput::StatementComplete(n));
        }
        let ncols = stmt.columns().len();
        let result = self.client.query(&stmt, &[]).await?;
        let mut rows = Vec::with_capacity(result.len());
        for r in &result {
            let mut row = Vec::with_capacity(ncols);
            for i in 0..ncols {
                let raw: Raw = r.try_get(i)?;
                row.push(raw.0);
            }
            rows.push(row);
        }
        Ok(self.format_rows(rows, ncols))
    }
}

#[async_trait]
impl AsyncDB for PgWire {
    type Error = WireError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, Self::Error> {
        match self.mode {
            Mode::Simple => self.run_simple(sql).await,
            Mode::Extended => self.run_extended(sql).await,
        }
    }

    async fn shutdown(&mut self) {
        self.connection.abort();
    }

    fn engine_name(&self) -> &str {
        LABEL
    }

    async fn sleep(dur: Duration) {
        tokio::time::sleep(dur).await;
    }

    fn error_sql_state(err: &Self::Error) -> Option<String> {
        err.0.code().map(|c| c.code().to_string())
    }
}

/// A client error whose message carries the server's SQLSTATE and message (the driver's own
/// `Display` says only "db error").
#[derive(Debug)]
pub struct WireError(pub tokio_postgres::Error);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_db_error() {
            Some(db) => write!(f, "{} {}", db.code().code(), db.message()),
            None => write!(f, "{}", self.0),
        }
    }
}

impl std::error::Error for WireError {}

impl From<tokio_postgres::Error> for WireError {
    fn from(e: tokio_postgres::Error) -> Self {
        WireError(e)
    }
}

/// A result value of any type in binary form, turned into PostgreSQL's text form.
struct Raw(Option<String>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(Some(binary_to_text(ty, raw)?)))
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(None))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

/// PostgreSQL's text form of a binary-format value of the types the corpus returns.
fn binary_to_text(ty: &Type, raw: &[u8]) -> Result<String, BoxError> {
    Ok(match *ty {
        Type::BOOL => if bool::from_sql(ty, raw)? { "t" } else { "f" }.to_string(),
        Type::INT2 => i16::from_sql(ty, raw)?.to_string(),
        Type::INT4 => i32::from_sql(ty, raw)?.to_string(),
        Type::INT8 => i64::from_sql(ty, raw)?.to_string(),
        Type::FLOAT4 => f32::from_sql(ty, raw)?.to_string(),
        Type::FLOAT8 => f64::from_sql(ty, raw)?.to_string(),
        Type::NUMERIC => numeric_to_text(raw)?,
        _ => String::from_utf8(raw.to_vec())?,
    })
}

/// Decodes PostgreSQL's binary numeric: ndigits, weight, sign, dscale, then base-10000 digits.
fn numeric_to_text(raw: &[u8]) -> Result<String, BoxError> {
    let word = |i: usize| -> Result<i32, BoxError> {
        let b = raw.get(i * 2..i * 2 + 2).ok_or("numeric value too short")?;
        Ok(i32::from(i16::from_be_bytes([b[0], b[1]])))
    };
    let ndigits = usize::try_from(word(0)?)?;
    let weight = word(1)?;
    let sign = word(2)? as u16;
    let dscale = usize::try_from(word(3)?)?;
    if sign == 0xC000 {
        return Ok("NaN".into());
    }
    let digits: Vec<i32> = (0..ndigits)
        .map(|i| word(4 + i))
        .collect::<Result<_, _>>()?;
    let mut int_part = String::new();
    for w in 0..=weight.max(0) {
        let d = if weight < 0 {
            0
        } else {
            digits.get(w as usize).copied().unwrap_or(0)
        };
        if int_part.is_empty() {
            int_part = d.to_string();
        } else {
            int_part.push_str(&format!("{d:04}"));
        }
    }
    if weight < 0 {
        int_part = "0".into();
    }
    let mut frac = String::new();
    let mut i = weight + 1;
    while frac.len() < dscale {
        let d = if i < 0 {
            0
        } else {
            digits.get(i as usize).copied().unwrap_or(0)
        };
        frac.push_str(&format!("{d:04}"));
        i += 1;
    }
    frac.truncate(dscale);
    let minus = if sign == 0x4000 { "-" } else { "" };
    Ok(if dscale > 0 {
        format!("{minus}{int_part}.{frac}")
    } else {
        format!("{minus}{int_part}")
    })
}

/// Formats one value as the corpus expects it for its column type: `NULL`; `I` as an integer
/// (a fractional value truncated toward zero, a boolean as 0 or 1); `R` with three decimals;
/// text with the empty string as `(empty)` and unprintable characters as `@`.
#[must_use]
pub fn format_value(v: Option<&str>, ty: &DefaultColumnType) -> String {
    let Some(s) = v else {
        return "NULL".into();
    };
    match ty {
        DefaultColumnType::Integer => {
            if let Ok(i) = s.parse::<i64>() {
                i.to_string()
            } else if let Ok(f) = s.parse::<f64>() {
                (f.trunc() as i64).to_string()
            } else {
                match s {
                    "t" => "1".into(),
                    "f" => "0".into(),
                    _ => s.to_string(),
                }
            }
        }
        DefaultColumnType::FloatingPoint => match s.parse::<f64>() {
            Ok(f) => format!("{f:.3}"),
            Err(_) => s.to_string(),
        },
        DefaultColumnType::Text | DefaultColumnType::Any => {
            if s.is_empty() {
                "(empty)".into()
            } else {
                s.chars()
                    .map(|c| if (' '..='~').contains(&c) { c } else { '@' })
                    .collect()
            }
        }
    }
}

/// Does a record with these conditions run under [`LABEL`]?
fn runs(conditions: &[Condition]) -> bool {
    conditions.iter().all(|c| match c {
        Condition::OnlyIf { label } => label == LABEL,
        Condition::SkipIf { label } => label != LABEL,
    })
}

/// Applies the adjustments the corpus needs (see the module documentation): strips trailing
/// comments from condition lines, resolves guarded `halt`s, and selects value-wise results.
#[must_use]
pub fn prepare_script(script: &str) -> String {
    let mut out = String::from("control resultmode valuewise\n");
    // Condition lines seen since the last record, held until we know what they guard.
    let mut pending: Vec<String> = Vec::new();
    for line in script.lines() {
        let trimmed = line.trim_end();
        let is_condition = trimmed.starts_with("onlyif ") || trimmed.starts_with("skipif ");
        if is_condition {
            let cond = trimmed.split('#').next().unwrap_or("").trim_end();
            pending.push(cond.to_string());
            continue;
        }
        if trimmed == "halt" {
            let conds: Vec<Condition> = pending
                .iter()
                .filter_map(|c| {
                    let mut w = c.split_whitespace();
                    let (kind, label) = (w.next()?, w.next()?.to_string());
                    Some(if kind == "onlyif" {
                        Condition::OnlyIf { label }
                    } else {
                        Condition::SkipIf { label }
                    })
                })
                .collect();
            pending.clear();
            if runs(&conds) {
                break;
            }
            continue;
        }
        for c in pending.drain(..) {
            out.push_str(&c);
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// What happened to one file's records.
#[derive(Clone, Debug, Default)]
pub struct FileReport {
    pub name: String,
    pub queries_passed: usize,
    pub queries_failed: usize,
    pub queries_skipped: usize,
    pub statements_passed: usize,
    pub statements_failed: usize,
    /// The first few failures, with the SQL and what differed.
    pub failures: Vec<String>,
    /// Set when the file could not run to its end (parse error, lost connection, timeout).
    pub aborted: Option<String>,
}

impl FileReport {
    #[must_use]
    pub fn queries_total(&self) -> usize {
        self.queries_passed + self.queries_failed
    }

    /// One line: `select1.test  simple  queries 1000/1000  statements 31/31`.
    #[must_use]
    pub fn summary(&self, mode: Mode) -> String {
        format!(
            "{:<32} {:<8} queries {:>5}/{:<5} skipped {:>4}  statements {:>4}/{:<4}{}",
            self.name,
            mode.name(),
            self.queries_passed,
            self.queries_total(),
            self.queries_skipped,
            self.statements_passed,
            self.statements_passed + self.statements_failed,
            self.aborted
                .as_ref()
                .map_or(String::new(), |a| format!("  ABORTED: {a}"))
        )
    }
}

enum Kind {
    Query,
    Statement,
    Other,
}

/// Runs one script against the server at `url` through a fresh connection.
pub async fn run_script(url: &str, name: &str, script: &str, mode: Mode) -> FileReport {
    let mut report = FileReport {
        name: name.to_string(),
        ..FileReport::default()
    };
    let prepared = prepare_script(script);
    let records = match sqllogictest::parse_with_name::<DefaultColumnType>(&prepared, name) {
        Ok(r) => r,
        Err(e) => {
            report.aborted = Some(format!("parse error: {e}"));
            return report;
        }
    };
    let expected: ExpectedTypes = Arc::default();
    let (url_owned, exp) = (url.to_string(), expected.clone());
    let mut runner = Runner::new(move || {
        let (url, exp) = (url_owned.clone(), exp.clone());
        async move { PgWire::connect(&url, mode, exp).await }
    });
    runner.add_label(LABEL);
    runner.with_hash_threshold(HASH_THRESHOLD);
    for record in records {
        let kind = match &record {
            Record::Query {
                conditions,
                expected: q,
                ..
            } => {
                if !runs(conditions) {
                    report.queries_skipped += 1;
                    continue;
                }
                let types = match q {
                    QueryExpect::Results { types, .. } => types.clone(),
                    QueryExpect::Error(_) => Vec::new(),
                };
                if let Ok(mut g) = expected.lock() {
                    *g = types;
                }
                Kind::Query
            }
            Record::Statement {
                conditions,
                expected:
                    StatementExpect::Ok | StatementExpect::Count(_) | StatementExpect::Error(_),
                ..
            } => {
                if !runs(conditions) {
                    continue;
                }
                Kind::Statement
            }
            _ => Kind::Other,
        };
        let sql = match &record {
            Record::Query { sql, .. } | Record::Statement { sql, .. } => sql.clone(),
            _ => String::new(),
        };
        let outcome = match tokio::time::timeout(RECORD_TIMEOUT, runner.run_async(record)).await {
            Ok(r) => r,
            Err(_) => {
                report.aborted = Some(format!("timed out on: {sql}"));
                break;
            }
        };
        let ok = match outcome {
            Ok(_) => true,
            Err(e) => {
                if report.failures.len() < FAILURES_KEPT_MAX {
                    report.failures.push(e.to_string());
                }
                false
            }
        };
        match (kind, ok) {
            (Kind::Query, true) => report.queries_passed += 1,
            (Kind::Query, false) => report.queries_failed += 1,
            (Kind::Statement, true) => report.statements_passed += 1,
            (Kind::Statement, false) => report.statements_failed += 1,
            (Kind::Other, _) => {}
        }
    }
    runner.shutdown_async().await;
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_formatted_by_expected_type() {
        use DefaultColumnType as T;
        assert_eq!(format_value(None, &T::Integer), "NULL");
        assert_eq!(format_value(Some("42"), &T::Integer), "42");
        assert_eq!(format_value(Some("-7.9"), &T::Integer), "-7");
        assert_eq!(format_value(Some("2.5"), &T::FloatingPoint), "2.500");
        assert_eq!(format_value(Some("3"), &T::FloatingPoint), "3.000");
        assert_eq!(format_value(Some(""), &T::Text), "(empty)");
        assert_eq!(format_value(Some("a\tb"), &T::Text), "a@b");
    }

    #[test]
    fn scripts_are_prepared() {
        let s = "onlyif mssql\nhalt\n\nskipif mysql # not compatible\nquery I nosort\nSELECT 1\n----\n1\n";
        let p = prepare_script(s);
        assert!(p.starts_with("control resultmode valuewise\n"));
        assert!(
            !p.contains("mssql"),
            "a halt that does not apply is dropped with its guard"
        );
        assert!(p.contains("skipif mysql\nquery I"), "{p}");
        let h = prepare_script("onlyif postgresql\nhalt\nquery I nosort\nSELECT 1\n");
        assert!(!h.contains("SELECT"), "a halt that applies ends the script");
    }

    #[test]
    fn binary_numeric_decodes() {
        // 12.50: ndigits 2, weight 0, sign +, dscale 2, digits [12, 5000].
        let raw = [0, 2, 0, 0, 0, 0, 0, 2, 0, 12, 0x13, 0x88];
        assert_eq!(numeric_to_text(&raw).unwrap(), "12.50");
        // -0.05: ndigits 1, weight -1, sign -, dscale 2, digits [500].
        let raw = [0, 1, 0xff, 0xff, 0x40, 0, 0, 2, 0x01, 0xf4];
        assert_eq!(numeric_to_text(&raw).unwrap(), "-0.05");
    }
}
