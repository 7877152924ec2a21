//! A repeatable workload for profiling the SQL layer alone: one session over an in-memory
//! engine, a table like the SQL benchmark's `orders` (`bench/sql.py`), and one query run a
//! fixed number of times. Instruction counts under a counting profiler are the same from run
//! to run, so a change to the executor can be measured without a cluster or a quiet machine.
//!
//! ```text
//! cargo run --release -p borealis-sql --example query_profile -- ROWS RUNS 'QUERY'
//! ```
//!
//! The table: `orders (id int8 PRIMARY KEY, customer_id int4, ref int8, amount int8,
//! status int4, note text)` with `ROWS` rows, an index on `customer_id` (ROWS / 100 customers)
//! and ANALYZE run. `$1` in the query takes the run's number modulo ROWS / 100, plus 1.
//! Statements before the last one in QUERY (`SET …;`) run once before it. With
//! `QUERY_PROFILE_EXPLAIN` set in the environment, the query's plan is printed first.
//!
//! With `PREPARED=1` in the environment the query runs the way a statement prepared over the
//! wire protocol does: described once (as a Parse message does), then each run executes it
//! through the plan cache with a bound parameter (as Bind and Execute do). That is the path the
//! benchmark's `pgbench -M prepared` takes, so it is the one to measure for its queries. The
//! table also has an index on `ref` (`ref = id * 3`), as the benchmark's does.

use borealis_common::pagestore::MemStore;
use borealis_engine::{Engine, EngineConfig};
use borealis_sql::PlanSlot;
use borealis_sql::expr::SessionInfo;
use borealis_sql::session::{Database, Session};
use borealis_sql::types::Value;
use std::sync::Arc;

/// The server binary's allocator: allocation costs differ enough between allocators to move
/// a profile's picture.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn run(s: &mut Session, sql: &str, params: &[Value]) -> Result<(), String> {
    let stmts = borealis_sql::parse(sql).map_err(|e| format!("{sql}: {e}"))?;
    for stmt in stmts {
        s.execute(&stmt, params)
            .map_err(|e| format!("{sql}: {e}"))?;
    }
    Ok(())
}

/// The measured part: under a counting profiler, collect only this function
/// (`--toggle-collect='query_profile::workload'`).
#[inline(never)]
fn workload(
    s: &mut Session,
    stmt: &sqlparser::ast::Statement,
    runs: u64,
    customers: u64,
    needs_param: bool,
    plan: Option<&Arc<PlanSlot>>,
) -> Result<(), String> {
    for i in 0..runs {
        let params = if needs_param {
            vec![Value::Int((i % customers + 1) as i64)]
        } else {
            Vec::new()
        };
        match plan {
            Some(slot) => s.execute_with_plan_cache(stmt, &params, slot),
            None => s.execute(stmt, &params),
        }
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let [_, rows, runs, query] = args.as_slice() else {
        return Err("usage: query_profile ROWS RUNS 'QUERY'".into());
    };
    let rows: u64 = rows.parse().map_err(|_| "ROWS is a number")?;
    let runs: u64 = runs.parse().map_err(|_| "RUNS is a number")?;
    // A pool big enough for the whole table, as a server's is (an eighth of memory): the
    // workload measures reads from the pool, not evictions.
    let config = EngineConfig {
        buffer_pool_pages: 256 * 1024,
        ..EngineConfig::default()
    };
    let engine = Engine::open(Arc::new(MemStore::new()), config).map_err(|e| e.to_string())?;
    let mut s = Session::new(Database::new(Arc::new(engine)), SessionInfo::default());
    let customers = (rows / 100).max(1);
    run(
        &mut s,
        "CREATE TABLE orders (id int8 PRIMARY KEY, customer_id int4, ref int8, amount int8, \
         status int4, note text)",
        &[],
    )?;
    run(
        &mut s,
        &format!(
            "INSERT INTO orders SELECT g, 1 + (g * 7919) % {customers}, g * 3, g % 1000, g % 5, \
             'order note ' || g FROM generate_series(CAST(1 AS int8), {rows}) g"
        ),
        &[],
    )?;
    run(&mut s, "CREATE INDEX ON orders (customer_id)", &[])?;
    run(&mut s, "CREATE INDEX ON orders (ref)", &[])?;
    run(&mut s, "ANALYZE orders", &[])?;
    // Statements before the last one (settings) run once; the last one is the workload.
    let mut stmts = borealis_sql::parse(query).map_err(|e| e.to_string())?;
    let stmt = stmts.pop().ok_or("no query")?;
    for setup in &stmts {
        s.execute(setup, &[]).map_err(|e| e.to_string())?;
    }
    if std::env::var_os("QUERY_PROFILE_EXPLAIN").is_some() {
        // The plan the workload runs, printed once (with the first run's parameter).
        let explain = borealis_sql::parse(&format!("EXPLAIN {stmt}")).map_err(|e| e.to_string())?;
        let params = [Value::Int(1)];
        let params = if query.contains("$1") {
            &params[..]
        } else {
            &[]
        };
        for e in &explain {
            let out = s.execute(e, params).map_err(|e| e.to_string())?;
            if let borealis_sql::session::Output::Rows { rows, .. } = out.output {
                for row in rows {
                    println!(
                        "{}",
                        row.iter()
                            .map(|v| format!("{v:?}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    );
                }
            }
        }
    }
    let needs_param = query.contains("$1");
    // A prepared statement is described once at Parse, with the parameter's type left open.
    let prepared = std::env::var("PREPARED").is_ok_and(|v| v == "1");
    let plan = if prepared {
        let declared = if needs_param { vec![None] } else { Vec::new() };
        s.describe(&stmt, &declared).map_err(|e| e.to_string())?;
        Some(Arc::new(PlanSlot::default()))
    } else {
        None
    };
    let started = std::time::Instant::now();
    workload(&mut s, &stmt, runs, customers, needs_param, plan.as_ref())?;
    let per_run = started.elapsed() / runs.max(1) as u32;
    println!("{runs} runs, {per_run:?} per run");
    Ok(())
}
