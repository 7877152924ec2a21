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

pub mod catalog;
pub mod error;
pub mod expr;
pub mod query;
pub mod session;
pub mod types;

pub use error::{SqlError, SqlResult};
pub use session::{Database, Executed, Output, Session, TxnStatus, parse};
pub use types::{DataType, Value};
