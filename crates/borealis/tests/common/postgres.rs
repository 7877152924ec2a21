//! A real PostgreSQL 15 for tests that compare Borealis with it: initdb into a temporary
//! directory, a server on an ephemeral loopback port, stopped and removed on drop.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use tokio_postgres::Client;

/// Where Debian's postgresql-15 package installs the server and client programs.
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A PostgreSQL 15 server on an ephemeral loopback port. Dropping it stops the server and removes
/// its directory, also when the test panics.
pub struct Postgres {
    /// The server's directory (data, socket, log); files a test writes here go with it.
    pub dir: PathBuf,
    data: PathBuf,
    pub port: u16,
    /// initdb and postgres refuse to run as root: then they run as the `postgres` user.
    as_postgres_user: bool,
    started: bool,
}

impl Postgres {
    pub fn start(name: &str) -> Postgres {
        let server = Path::new(PG_BIN).join("postgres");
        assert!(
            server.is_file(),
            "{} does not exist: this test needs PostgreSQL 15 (install the postgresql-15 package)",
            server.display()
        );
        let as_postgres_user = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir =
            std::env::temp_dir().join(format!("borealis-{name}-pg-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("PostgreSQL test directory");
        let mut pg = Postgres {
            data: dir.join("data"),
            dir,
            port: 0,
            as_postgres_user,
            started: false,
        };
        if as_postgres_user {
            let status = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&pg.dir)
                .status()
                .expect("run chown");
            assert!(status.success(), "chown of {} failed", pg.dir.display());
        }
        let out = pg
            .command("initdb")
            .arg("-D")
            .arg(&pg.data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The port is free when we look; another process may take it before the server binds
        // it, so a failed start is retried on another port.
        for attempt in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            let options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
                 -c shared_buffers=32MB -c max_connections=10",
                pg.dir.display()
            );
            let out = pg
                .command("pg_ctl")
                .arg("-D")
                .arg(&pg.data)
                .args(["-o", &options, "-l"])
                .arg(pg.dir.join("postgres.log"))
                .args(["-w", "-t", "60", "start"])
                .output()
                .expect("run pg_ctl start");
            if out.status.success() {
                pg.port = port;
                pg.started = true;
                return pg;
            }
            let log = std::fs::read_to_string(pg.dir.join("postgres.log")).unwrap_or_default();
            assert!(attempt < 4, "PostgreSQL did not start; its log:\n{log}");
        }
        unreachable!("the loop above returns or panics")
    }

    /// A PostgreSQL server program, run as the user that owns the server.
    pub fn command(&self, program: &str) -> Command {
        let exe = Path::new(PG_BIN).join(program);
        if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    /// A connection to database `db`.
    pub async fn client(&self, db: &str) -> Client {
        let config = format!(
            "host=127.0.0.1 port={} user=postgres dbname={db}",
            self.port
        );
        let (client, conn) = tokio_postgres::connect(&config, tokio_postgres::NoTls)
            .await
            .expect("connect to PostgreSQL");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.started {
            let _ = self
                .command("pg_ctl")
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "immediate", "-w", "-t", "30", "stop"])
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
