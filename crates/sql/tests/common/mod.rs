//! Helpers shared by the planner tests: a session over an in-memory engine, statements run to
//! `a|b|c` lines, plans without costs.

#![allow(clippy::unwrap_used, dead_code)]

use borealis_common::pagestore::MemStore;
use borealis_engine::{Engine, EngineConfig};
use borealis_sql::expr::SessionInfo;
use borealis_sql::session::{Database, Output, Session};
use std::sync::Arc;

pub fn session() -> Session {
    let engine = Engine::open(Arc::new(MemStore::new()), EngineConfig::default()).unwrap();
    Session::new(Database::new(Arc::new(engine)), SessionInfo::default())
}

/// Runs every statement of `sql`; returns the rows of the last one as `a|b|c` lines.
pub fn run(s: &mut Session, sql: &str) -> Vec<String> {
    let mut last = Vec::new();
    for stmt in borealis_sql::parse(sql).unwrap() {
        last = match s
            .execute(&stmt, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .output
        {
            Output::Rows { rows, .. } => rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|v| v.to_text().unwrap_or_else(|| "NULL".into()))
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .collect(),
            _ => Vec::new(),
        };
    }
    last
}

/// The plan's lines, without costs.
pub fn plan(s: &mut Session, query: &str) -> String {
    run(s, &format!("EXPLAIN (COSTS OFF) {query}")).join("\n")
}

/// xorshift64: deterministic random data.
pub fn next(seed: &mut u64) -> u64 {
    let mut x = *seed;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *seed = x;
    x
}

/// A value of `0..n` as SQL text, NULL one time in `null_in` (never when `null_in` is 0).
pub fn value(seed: &mut u64, n: u64, null_in: u64) -> String {
    if null_in > 0 && next(seed).is_multiple_of(null_in) {
        "NULL".into()
    } else {
        (next(seed) % n).to_string()
    }
}
