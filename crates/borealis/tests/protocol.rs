//! Protocol details clients rely on, against a real cluster: CancelRequest stops a running
//! statement (57014) and the connection stays usable; COMMIT/BEGIN outside/inside a block warn
//! as PostgreSQL does; SET of a reported parameter sends ParameterStatus; a syntax error carries
//! its position (psql draws the caret from it); EXPLAIN completes with the tag `EXPLAIN`.

// The test holds the serial lock across awaits on purpose: one cluster at a time.
#![allow(clippy::await_holding_lock, clippy::unwrap_used)]

mod common;

use common::{Cluster, serial, sqlstate};
use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

/// Finds a PostgreSQL client program: on the PATH, else where Debian's PostgreSQL 15 packages put it.
fn find_program(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([std::path::PathBuf::from("/usr/lib/postgresql/15/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn psql(cluster: &Cluster, args: &[&str]) -> (String, String) {
    let addr = cluster.writer.as_ref().unwrap().addr.clone();
    let (host, port) = addr.rsplit_once(':').unwrap();
    let psql = find_program("psql").expect("psql is not installed (Debian: postgresql-client-15)");
    let out = Command::new(psql)
        .args([
            "-X", "-h", host, "-p", port, "-U", "borealis", "-d", "borealis",
        ])
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Sends one simple query over a raw connection and returns the backend messages up to
/// ReadyForQuery, as (type byte, body).
fn raw_query(addr: &str, sql: &str) -> Vec<(u8, Vec<u8>)> {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut startup = Vec::new();
    startup.extend_from_slice(&196_608u32.to_be_bytes());
    for kv in ["user", "borealis", "database", "borealis"] {
        startup.extend_from_slice(kv.as_bytes());
        startup.push(0);
    }
    startup.push(0);
    let mut msg = ((startup.len() + 4) as u32).to_be_bytes().to_vec();
    msg.extend_from_slice(&startup);
    s.write_all(&msg).unwrap();
    let read_until_ready = |s: &mut std::net::TcpStream| {
        let mut out = Vec::new();
        loop {
            let mut head = [0u8; 5];
            s.read_exact(&mut head).unwrap();
            let len = u32::from_be_bytes(head[1..5].try_into().unwrap()) as usize;
            let mut body = vec![0u8; len - 4];
            s.read_exact(&mut body).unwrap();
            let ready = head[0] == b'Z';
            out.push((head[0], body));
            if ready {
                return out;
            }
        }
    };
    read_until_ready(&mut s);
    let mut q = vec![b'Q'];
    q.extend_from_slice(&((sql.len() + 5) as u32).to_be_bytes());
    q.extend_from_slice(sql.as_bytes());
    q.push(0);
    s.write_all(&q).unwrap();
    read_until_ready(&mut s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_warnings_parameter_status_and_error_positions() {
    let _g = serial();
    let cluster = Cluster::start("protocol");
    let c = cluster.client().await;

    // A long cross join, cancelled from another connection.
    let token = c.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel_query(tokio_postgres::NoTls).await.unwrap();
    });
    let started = Instant::now();
    let err = c
        .query(
            "SELECT count(*) FROM generate_series(1, 20000) AS a, generate_series(1, 20000) AS b \
             WHERE a.a + b.b < 0",
            &[],
        )
        .await
        .unwrap_err();
    canceller.await.unwrap();
    assert_eq!(sqlstate(&err), "57014", "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the cancel stopped the statement"
    );
    // The connection is still usable, and an old cancel does not hit the next statement.
    let n: i32 = c.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(n, 1);

    let (_, err) = psql(&cluster, &["-c", "COMMIT", "-c", "BEGIN", "-c", "BEGIN"]);
    assert!(
        err.contains("WARNING:  there is no transaction in progress"),
        "{err}"
    );
    assert!(
        err.contains("WARNING:  there is already a transaction in progress"),
        "{err}"
    );

    let (_, err) = psql(&cluster, &["-c", "SELECT 1 FRO x"]);
    assert!(
        err.contains("ERROR:") && err.contains("LINE 1: SELECT 1 FRO x"),
        "{err}"
    );

    // EXPLAIN's CommandComplete is `EXPLAIN`, with no row count (a SELECT's has one).
    let msgs = raw_query(
        cluster.writer.as_ref().unwrap().addr.as_str(),
        "EXPLAIN SELECT 1; SELECT 1",
    );
    let tags: Vec<String> = msgs
        .iter()
        .filter(|(t, _)| *t == b'C')
        .map(|(_, b)| {
            String::from_utf8_lossy(b)
                .trim_end_matches('\0')
                .to_string()
        })
        .collect();
    assert_eq!(tags, ["EXPLAIN", "SELECT 1"]);
    // The extended protocol's too: a client reads no row count from it.
    assert_eq!(c.execute("EXPLAIN SELECT 1", &[]).await.unwrap(), 0);
    assert_eq!(c.execute("SELECT 1", &[]).await.unwrap(), 1);

    let msgs = raw_query(
        cluster.writer.as_ref().unwrap().addr.as_str(),
        "SET application_name = 'probe'",
    );
    let status: Vec<String> = msgs
        .iter()
        .filter(|(t, _)| *t == b'S')
        .map(|(_, b)| String::from_utf8_lossy(b).replace('\0', "="))
        .collect();
    assert!(
        status
            .iter()
            .any(|s| s.starts_with("application_name=probe")),
        "no ParameterStatus after SET: {status:?}"
    );
}
