//! What the crate's unit tests share: a session over an in-memory engine, and statements run
//! to their rows as text.

use crate::expr::SessionInfo;
use crate::session::{Database, Output, Session};
use borealis_common::pagestore::MemStore;
use borealis_engine::{Engine, EngineConfig};
use std::sync::Arc;

/// A session of `info` over a fresh in-memory engine.
pub(crate) fn session_with(info: SessionInfo) -> Session {
    let engine = Engine::open(Arc::new(MemStore::new()), EngineConfig::default()).unwrap();
    Session::new(Database::new(Arc::new(engine)), info)
}

/// A session with the default session information over a fresh in-memory engine.
pub(crate) fn session() -> Session {
    session_with(SessionInfo::default())
}

/// Runs every statement of `sql`, each of which must succeed; returns the rows of the last one
/// as text (NULL as `NULL`): a query's, RETURNING's or FETCH's rows, COPY TO's lines, nothing
/// for the rest.
pub(crate) fn run(s: &mut Session, sql: &str) -> Vec<Vec<String>> {
    let text = |rows: &[Vec<crate::types::Value>]| -> Vec<Vec<String>> {
        rows.iter()
            .map(|r| {
                r.iter()
                    .map(|v| v.to_text().unwrap_or_else(|| "NULL".into()))
                    .collect()
            })
            .collect()
    };
    let mut last = Vec::new();
    for stmt in crate::parse(sql).unwrap() {
        last = match s.execute(&stmt, &[]).unwrap().output {
            Output::Rows { rows, .. }
            | Output::Returning { rows, .. }
            | Output::Fetched { rows, .. } => text(&rows),
            Output::CopyOut { lines, .. } => lines.into_iter().map(|l| vec![l]).collect(),
            _ => Vec::new(),
        };
    }
    last
}
