//! pgbench against a real cluster, at the sizes: `pgbench -i -s 10` (1,000,000
//! accounts) with its default steps (client-side COPY, VACUUM, ALTER TABLE … ADD PRIMARY KEY) and
//! with `-I dtGvp` (server-side generation), then TPC-B-like runs with 16 clients in every query
//! mode, select-only and simple-update, with no failed transactions, and the TPC-B balance invariant checked after each run: what the accounts,
//! tellers and branches gained equals what the history table recorded.
//!
//! pgbench comes from PostgreSQL 15's server package; without it the test fails with a message
//! saying so.

// The test holds the serial lock across awaits on purpose: one cluster at a time.
#![allow(clippy::await_holding_lock, clippy::unwrap_used)]

mod common;

use common::{Cluster, serial};
use std::process::Command;

/// Finds a PostgreSQL client program: on the PATH, else where Debian's PostgreSQL 15 packages put it.
fn find_program(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([std::path::PathBuf::from("/usr/lib/postgresql/15/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn pgbench_path() -> std::path::PathBuf {
    find_program("pgbench").unwrap_or_else(|| {
        panic!(
            "pgbench is not installed: install PostgreSQL 15's server package (Debian: \
             postgresql-15, which provides /usr/lib/postgresql/15/bin/pgbench)"
        )
    })
}

/// Runs pgbench against the cluster; returns its combined output, failing on a non-zero exit.
fn pgbench(cluster: &Cluster, args: &[&str]) -> String {
    let addr = cluster.writer.as_ref().unwrap().addr.clone();
    let (host, port) = addr.rsplit_once(':').unwrap();
    let out = Command::new(pgbench_path())
        .args(["-h", host, "-p", port, "-U", "borealis"])
        .args(args)
        .arg("borealis")
        .env_remove("PGPASSWORD")
        .output()
        .expect("run pgbench");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "pgbench {args:?} failed:\n{text}");
    text
}

/// (sum of abalance, sum of tbalance, sum of bbalance, sum of history delta, history rows).
async fn sums(c: &tokio_postgres::Client) -> [i64; 5] {
    let row = c
        .query_one(
            "SELECT (SELECT sum(abalance) FROM pgbench_accounts), \
                    (SELECT sum(tbalance) FROM pgbench_tellers), \
                    (SELECT sum(bbalance) FROM pgbench_branches), \
                    (SELECT coalesce(sum(delta), 0::int8) FROM pgbench_history), \
                    (SELECT count(*) FROM pgbench_history)",
            &[],
        )
        .await
        .unwrap();
    [0, 1, 2, 3, 4].map(|i| row.get::<_, Option<i64>>(i).unwrap_or(0))
}

fn no_failures(out: &str) {
    assert!(
        out.contains("number of failed transactions: 0"),
        "pgbench reported failures:\n{out}"
    );
    assert!(!out.contains("ERROR"), "pgbench saw errors:\n{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbench_init_and_every_mode_keep_balances_consistent() {
    let _g = serial();
    pgbench_path();
    let cluster = Cluster::start("pgbench");
    let c = cluster.client().await;

    // Server-side generation first, then the default (client-side COPY) over it.
    let out = pgbench(&cluster, &["-i", "-I", "dtGvp", "-s", "10"]);
    assert!(out.contains("server-side generate"), "{out}");
    let out = pgbench(&cluster, &["-i", "-s", "10"]);
    assert!(out.contains("client-side generate"), "{out}");
    let counts = c
        .query_one(
            "SELECT (SELECT count(*) FROM pgbench_accounts), (SELECT count(*) FROM pgbench_tellers), \
             (SELECT count(*) FROM pgbench_branches), (SELECT count(*) FROM pgbench_history)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        [0, 1, 2, 3].map(|i| counts.get::<_, i64>(i)),
        [1_000_000, 100, 10, 0]
    );
    // The primary keys exist: a duplicate account is refused.
    let err = c
        .execute("INSERT INTO pgbench_accounts VALUES (1, 1, 0, '')", &[])
        .await
        .unwrap_err();
    assert_eq!(common::sqlstate(&err), "23505");
    // char(84) is blank-padded, as in PostgreSQL.
    let filler: String = c
        .query_one("SELECT filler FROM pgbench_accounts WHERE aid = 42", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(filler.len(), 84);

    for mode in ["simple", "extended", "prepared"] {
        let before = sums(&c).await;
        // pgbench truncates pgbench_history before each run.
        let out = pgbench(&cluster, &["-T", "2", "-c", "16", "-M", mode]);
        no_failures(&out);
        let after = sums(&c).await;
        assert!(after[4] > 0, "{mode}: no transactions ran:\n{out}");
        for (i, what) in ["accounts", "tellers", "branches"].iter().enumerate() {
            assert_eq!(
                after[i] - before[i],
                after[3],
                "{mode}: {what} gained {} but history recorded {}",
                after[i] - before[i],
                after[3]
            );
        }
    }
    let before = sums(&c).await;
    let out = pgbench(&cluster, &["-T", "2", "-c", "16", "-S"]);
    no_failures(&out);
    let after = sums(&c).await;
    assert_eq!(before[..3], after[..3], "select-only changed balances");
    let out = pgbench(&cluster, &["-T", "2", "-c", "16", "-N"]);
    no_failures(&out);
    let after_n = sums(&c).await;
    assert_eq!(after_n[0] - after[0], after_n[3], "-N: accounts vs history");
    assert_eq!(after_n[1..3], after[1..3], "-N leaves tellers and branches");
}
