//! SQL for Borealis: the PostgreSQL dialect, parsed by `sqlparser`, bound against the catalog
//! (which the engine stores in pages), and executed over the engine's B+trees.
//!
//! ```text
//!  text ─parse─▶ AST ─bind─▶ plan (typed expressions, parameter types) ─execute─▶ rows / tag
//!                                   │                                      │
//!                             catalog tree (pages)              engine transaction (write set)
//! ```
//!
//! This layer knows nothing of the wire: it returns [`session::Output`] and [`error::SqlError`];
//! the front end turns them into messages and SQLSTATE codes.
//!
//! - [`activity`]: the registry of live sessions behind `pg_stat_activity`,
//!   `pg_cancel_backend` and `pg_terminate_backend`.
//! - [`array`](mod@array): one-dimensional arrays' text and binary forms, order and functions.
//! - [`catalog`]: table definitions and the row and key encodings in the engine's trees.
//! - [`catalog_views`]: `pg_catalog` / `information_schema` as virtual tables computed from the
//!   catalog at execution, and the catalog functions (`format_type`, `pg_get_indexdef`, …).
//! - [`copy`]: COPY's text and CSV formats, streamed line by line.
//! - [`cursor`]: SQL cursors (DECLARE, FETCH, MOVE, CLOSE, `pg_cursors`): a result kept at
//!   DECLARE in a store that spills beyond `work_mem`, read by position.
//! - [`ddl_parse`]: the DDL forms the parser lacks (`ALTER … SET SCHEMA`, CREATE SCHEMA with
//!   schema elements, the cursor statements), recognised by a strict parser of their own.
//! - [`depend`]: what views read, and what a DROP refuses or takes along (2BP01, CASCADE).
//! - [`expr`], [`query`]: binding, planning and executing expressions and queries, with the
//!   access paths (primary-key lookups and ranges, secondary-index lookups and ranges).
//! - [`functions`]: PostgreSQL's everyday scalar functions (strings, regular expressions,
//!   hashes, trigonometry, `random`, `to_char`/`to_number` for numbers, `GREATEST`/`LEAST`).
//! - [`index`]: secondary-index maintenance on every write, index builds, default names.
//! - [`namespace`]: schemas, the catalog keys that qualify relations with theirs, and name
//!   resolution through `search_path` and the session's temporary schema.
//! - [`sequence`]: sequence definitions, and `nextval` handing out values from blocks reserved
//!   durably in small transactions of their own.
//! - [`spill`]: temporary files for operators that outgrow `work_mem` (hash aggregates,
//!   DISTINCT, hash joins) and the sorter (quicksort, top-N heapsort, external merge).
//! - [`settings`]: the settings `SET`/`SHOW`/`RESET` and `pg_settings` know, as PostgreSQL 15
//!   describes them.
//! - [`session`]: transactions, DML (defaults, RETURNING, ON CONFLICT, CHECK and FOREIGN KEY
//!   enforcement), DDL (tables, sequences, views; TRUNCATE and ALTER TABLE … ADD PRIMARY KEY,
//!   which rebuilds a table as a B+tree keyed by the new key), VACUUM, COPY, SET/SHOW.
//!
//! A statement can be cancelled: the session's [`expr::CancelFlag`] is checked between rows
//! (scans, join steps, generated series, COPY rows) and interrupts row-lock waits.

pub mod activity;
pub mod aggregate;
pub mod array;
pub mod catalog;
pub mod catalog_views;
pub mod comments;
pub mod copy;
pub mod cost;
pub mod cursor;
pub mod datetime;
pub mod ddl_parse;
pub mod depend;
pub mod dialect;
pub mod error;
pub mod expr;
pub mod functions;
pub mod index;
mod info_schema;
pub mod json;
pub mod jsonpath;
pub mod namespace;
pub mod numeric;
pub mod query;
pub mod record;
pub mod sequence;
pub mod session;
pub mod settings;
pub mod spill;
pub mod srf;
pub mod stats;
#[cfg(test)]
mod test_support;
pub mod types;
pub mod tz;
pub mod updatable;
pub mod window;

pub use error::{SqlError, SqlResult};
pub use session::{Database, Executed, Output, PlanSlot, Session, TxnStatus, parse};
pub use types::{DataType, Value};
