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
    // A name that does not resolve: the caret under its first use, as PostgreSQL draws it.
    for (sql, caret) in [
        ("SELECT 'nocol', nocol FROM pg_class", 24),
        ("SELECT 1 FROM no_such_table", 22),
        ("SELECT no_such_function(1)", 15),
    ] {
        let (_, err) = psql(&cluster, &["-c", sql]);
        let line = format!("LINE 1: {sql}\n{}^", " ".repeat(caret));
        assert!(err.contains(&line), "{sql}: {err}");
    }
    let (_, err) = psql(&cluster, &["-c", "SELECT no_such_function(1)"]);
    assert!(
        err.contains("HINT:  No function matches the given name and argument types."),
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

/// A connection speaking the protocol message by message, for portal traces.
struct Raw {
    s: std::net::TcpStream,
}

impl Raw {
    fn connect(addr: &str, user: &str, database: &str) -> Raw {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut startup = Vec::new();
        startup.extend_from_slice(&196_608u32.to_be_bytes());
        for kv in ["user", user, "database", database] {
            startup.extend_from_slice(kv.as_bytes());
            startup.push(0);
        }
        startup.push(0);
        let mut msg = ((startup.len() + 4) as u32).to_be_bytes().to_vec();
        msg.extend_from_slice(&startup);
        s.write_all(&msg).unwrap();
        let mut r = Raw { s };
        r.until_ready();
        r
    }

    fn send(&mut self, kind: u8, body: &[u8]) {
        let mut m = vec![kind];
        m.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        m.extend_from_slice(body);
        self.s.write_all(&m).unwrap();
    }

    fn cstr(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    }

    fn query(&mut self, sql: &str) -> Vec<String> {
        let mut b = Vec::new();
        Raw::cstr(&mut b, sql);
        self.send(b'Q', &b);
        self.until_ready()
    }

    fn parse(&mut self, stmt: &str, sql: &str) {
        let mut b = Vec::new();
        Raw::cstr(&mut b, stmt);
        Raw::cstr(&mut b, sql);
        b.extend_from_slice(&0u16.to_be_bytes());
        self.send(b'P', &b);
    }

    fn bind(&mut self, portal: &str, stmt: &str) {
        let mut b = Vec::new();
        Raw::cstr(&mut b, portal);
        Raw::cstr(&mut b, stmt);
        b.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        self.send(b'B', &b);
    }

    fn execute(&mut self, portal: &str, max_rows: u32) {
        let mut b = Vec::new();
        Raw::cstr(&mut b, portal);
        b.extend_from_slice(&max_rows.to_be_bytes());
        self.send(b'E', &b);
    }

    fn describe_portal(&mut self, portal: &str) {
        let mut b = vec![b'P'];
        Raw::cstr(&mut b, portal);
        self.send(b'D', &b);
    }

    fn close_portal(&mut self, portal: &str) {
        let mut b = vec![b'P'];
        Raw::cstr(&mut b, portal);
        self.send(b'C', &b);
    }

    fn sync(&mut self) -> Vec<String> {
        self.send(b'S', &[]);
        self.until_ready()
    }

    /// The messages up to ReadyForQuery, each summarised: rows as `D a|b`, tags as `C tag`,
    /// errors as `E sqlstate message`, PortalSuspended as `s`; notices and parameter status
    /// left out.
    fn until_ready(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let mut head = [0u8; 5];
            self.s.read_exact(&mut head).unwrap();
            let len = u32::from_be_bytes(head[1..5].try_into().unwrap()) as usize;
            let mut body = vec![0u8; len - 4];
            self.s.read_exact(&mut body).unwrap();
            let text = |b: &[u8]| {
                String::from_utf8_lossy(b)
                    .trim_end_matches('\0')
                    .to_string()
            };
            match head[0] {
                b'Z' => {
                    out.push(format!("Z {}", body[0] as char));
                    return out;
                }
                b'D' => {
                    let n = u16::from_be_bytes([body[0], body[1]]) as usize;
                    let mut at = 2;
                    let mut fields = Vec::new();
                    for _ in 0..n {
                        let l = i32::from_be_bytes(body[at..at + 4].try_into().unwrap());
                        at += 4;
                        if l < 0 {
                            fields.push("NULL".to_string());
                        } else {
                            let f = &body[at..at + l as usize];
                            fields.push(if f.iter().any(|&b| b < 0x20) {
                                f.iter().map(|b| format!("{b:02x}")).collect()
                            } else {
                                text(f)
                            });
                            at += l as usize;
                        }
                    }
                    out.push(format!("D {}", fields.join("|")));
                }
                b'C' => out.push(format!("C {}", text(&body))),
                b'E' => {
                    let mut code = String::new();
                    let mut message = String::new();
                    for f in body.split(|&b| b == 0).filter(|f| !f.is_empty()) {
                        match f[0] {
                            b'C' => code = text(&f[1..]),
                            b'M' => message = text(&f[1..]),
                            _ => {}
                        }
                    }
                    out.push(format!("E {code} {message}"));
                }
                b's' => out.push("s".into()),
                b'T' => {
                    // Each column as name:type-oid:format.
                    let n = u16::from_be_bytes([body[0], body[1]]) as usize;
                    let mut at = 2;
                    let mut cols = Vec::new();
                    for _ in 0..n {
                        let end = at + body[at..].iter().position(|&b| b == 0).unwrap();
                        let name = text(&body[at..end]);
                        at = end + 1;
                        let oid = u32::from_be_bytes(body[at + 6..at + 10].try_into().unwrap());
                        let format = u16::from_be_bytes([body[at + 16], body[at + 17]]);
                        at += 18;
                        cols.push(format!("{name}:{oid}:{format}"));
                    }
                    out.push(format!("T {}", cols.join(",")));
                }
                b'1' | b'2' | b'3' | b'n' => out.push((head[0] as char).to_string()),
                _ => {}
            }
        }
    }
}

/// Extended-protocol portals with a row limit, traced message by message and compared with
/// PostgreSQL 15's trace of the same messages: Execute with `max_rows` sends that many rows
/// and PortalSuspended, the next Execute goes on, the last one completes with the count of its
/// own rows; a named portal in a transaction block lasts over Syncs until Close or the block's
/// end; outside a block the unnamed and named portals end at Sync; an unknown portal is 34000.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portals_with_row_limits_trace_as_postgresql_does() {
    let _g = serial();
    fn trace(r: &mut Raw) -> Vec<String> {
        let mut t = Vec::new();
        t.extend(r.query(
            "CREATE TABLE pt (a int); INSERT INTO pt VALUES (1), (2), (3), (4), (5), (6), (7)",
        ));
        // The unnamed portal, outside a block: three Executes of 3 rows, one Sync.
        r.parse("", "SELECT a FROM pt ORDER BY a");
        r.bind("", "");
        r.describe_portal("");
        for _ in 0..4 {
            r.execute("", 3);
        }
        t.extend(r.sync());
        // Gone with the implicit transaction.
        r.execute("", 1);
        t.extend(r.sync());
        // A named portal outside a block: it ends at Sync too.
        r.parse("s1", "SELECT a * 10 FROM pt ORDER BY a");
        r.bind("p1", "s1");
        r.execute("p1", 2);
        t.extend(r.sync());
        r.execute("p1", 2);
        t.extend(r.sync());
        // In a block, named and unnamed portals last over Syncs.
        t.extend(r.query("BEGIN"));
        r.bind("p1", "s1");
        r.bind("", "s1");
        r.execute("p1", 2);
        r.execute("", 1);
        t.extend(r.sync());
        r.execute("p1", 4);
        r.execute("", 1);
        t.extend(r.sync());
        r.execute("p1", 0);
        t.extend(r.sync());
        // Close ends one portal; Execute of it then fails, which fails the block.
        r.bind("p2", "s1");
        r.close_portal("p2");
        r.execute("p2", 1);
        t.extend(r.sync());
        t.extend(r.query("ROLLBACK"));
        // A suspended portal of a failed block gives no more rows.
        t.extend(r.query("BEGIN"));
        r.bind("p4", "s1");
        r.execute("p4", 1);
        t.extend(r.sync());
        t.extend(r.query("SELECT 1 / 0"));
        r.execute("p4", 1);
        t.extend(r.sync());
        t.extend(r.query("ROLLBACK"));
        // COMMIT ends the block's portals.
        t.extend(r.query("BEGIN"));
        r.bind("p3", "s1");
        r.execute("p3", 1);
        t.extend(r.sync());
        t.extend(r.query("COMMIT"));
        r.execute("p3", 1);
        t.extend(r.sync());
        r.describe_portal("nope");
        t.extend(r.sync());
        // FETCH through a simple query sends a BINARY cursor's rows in binary; through the
        // extended protocol, Describe gives the cursor's columns and Bind's formats decide.
        t.extend(r.query(
            "BEGIN; DECLARE b BINARY CURSOR FOR SELECT a, a::text AS t FROM pt ORDER BY a; \
             FETCH 2 FROM b",
        ));
        r.parse("f", "FETCH FORWARD 2 FROM b");
        r.bind("", "f");
        r.describe_portal("");
        r.execute("", 0);
        r.parse("m", "MOVE BACKWARD 1 IN b");
        r.bind("", "m");
        r.describe_portal("");
        r.execute("", 0);
        t.extend(r.sync());
        t.extend(r.query("FETCH RELATIVE 0 FROM b; CLOSE b; COMMIT"));
        t
    }
    let pg = common::postgres::Postgres::start("portals");
    let mut on_pg = Raw::connect(&format!("127.0.0.1:{}", pg.port), "postgres", "postgres");
    let want = trace(&mut on_pg);
    drop(on_pg);
    drop(pg);
    let cluster = Cluster::start("portals");
    let addr = cluster.writer.as_ref().unwrap().addr.clone();
    let mut on_us = Raw::connect(&addr, "borealis", "borealis");
    let got = trace(&mut on_us);
    assert_eq!(got, want, "\nBorealis:   {got:?}\nPostgreSQL: {want:?}");
    // What the trace holds, independently of the recording.
    let first: Vec<&str> = want.iter().map(String::as_str).take(20).collect();
    assert!(
        first.contains(&"s") && first.contains(&"C SELECT 1"),
        "{first:?}"
    );
    assert!(
        want.iter()
            .any(|l| l.starts_with("E 34000 portal \"p2\" does not exist")),
        "{want:?}"
    );
}
