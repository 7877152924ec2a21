//! PostgreSQL drivers and an ORM against a real cluster: each is a small program in `drivers/`
//! that connects with the driver's defaults, runs DDL, parameterised INSERT/SELECT/UPDATE/DELETE
//! over int/bigint/float8/text/bool/timestamp, commits and rolls back, checks that a unique
//! violation surfaces as the driver's exception with SQLSTATE 23505, and prints OK.
//! (tokio-postgres, prepared and binary, is covered by `sql_wire.rs`.)
//!
//! A missing runtime or driver fails the test with the package to install.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Cluster, serial};
use std::path::{Path, PathBuf};
use std::process::Command;

fn drivers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/drivers")
}

/// Fails with `install` unless `program args` runs successfully.
fn require(program: &str, args: &[&str], install: &str) {
    let ok = Command::new(program)
        .args(args)
        .current_dir(drivers_dir())
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "{install}");
}

/// Runs `program args URL` against a fresh cluster and asserts it printed OK.
fn run_driver(name: &str, program: &str, args: &[&str]) {
    let _g = serial();
    let cluster = Cluster::start(name);
    let url = cluster.url();
    let out = Command::new(program)
        .args(args)
        .arg(&url)
        .env("DATABASE_URL", &url)
        .current_dir(drivers_dir())
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.lines().any(|l| l == "OK"),
        "{name} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
}

fn python_driver(name: &str, module: &str, pip: &str) {
    require(
        "python3",
        &["-c", &format!("import {module}")],
        &format!("the Python module {module} is missing: pip install {pip}"),
    );
    run_driver(name, "python3", &[&format!("{name}_driver.py")]);
}

#[test]
fn psycopg() {
    python_driver("psycopg", "psycopg", "'psycopg[binary]'");
}

#[test]
fn psycopg2() {
    python_driver("psycopg2", "psycopg2", "psycopg2-binary");
}

#[test]
fn sqlalchemy() {
    require(
        "python3",
        &["-c", "import psycopg"],
        "SQLAlchemy's default PostgreSQL driver is missing: pip install 'psycopg[binary]'",
    );
    python_driver("sqlalchemy", "sqlalchemy", "sqlalchemy");
}

#[test]
fn asyncpg() {
    python_driver("asyncpg", "asyncpg", "asyncpg");
}

#[test]
fn node_postgres() {
    require(
        "node",
        &["-e", "require('pg')"],
        "node-postgres is missing: install Node.js and npm, then run `npm ci` in \
         crates/borealis/tests/drivers",
    );
    run_driver("node-postgres", "node", &["node_postgres.js"]);
}

/// Debian's libpostgresql-jdbc-java puts the driver here.
const PGJDBC_JAR: &str = "/usr/share/java/postgresql.jar";

#[test]
fn pgjdbc() {
    let jar = std::env::var("PGJDBC_JAR").unwrap_or_else(|_| PGJDBC_JAR.into());
    assert!(
        Path::new(&jar).is_file(),
        "pgjdbc is missing: apt-get install libpostgresql-jdbc-java (or set PGJDBC_JAR)"
    );
    require(
        "java",
        &["-version"],
        "Java 17 or later is missing: apt-get install openjdk-17-jre-headless",
    );
    run_driver("pgjdbc", "java", &["-cp", &jar, "Pgjdbc.java"]);
}
