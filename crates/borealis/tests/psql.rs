//! psql's meta-commands against a real cluster: each runs PostgreSQL 15's own catalog queries
//! (pg_class, pg_namespace, pg_attribute, pg_index, pg_constraint, …) and must list the right
//! objects. Also `\x`, `\timing`, `psql -f FILE` and `\copy` in both directions.

#![allow(clippy::unwrap_used)]

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

fn psql_path() -> std::path::PathBuf {
    find_program("psql")
        .unwrap_or_else(|| panic!("psql is not installed (Debian: postgresql-client-15)"))
}

/// Runs psql with `args` (after the connection options); returns stdout, failing on errors.
fn psql(cluster: &Cluster, args: &[&str]) -> String {
    let addr = cluster.writer.as_ref().unwrap().addr.clone();
    let (host, port) = addr.rsplit_once(':').unwrap();
    let out = Command::new(psql_path())
        .args([
            "-X", "-h", host, "-p", port, "-U", "borealis", "-d", "borealis",
        ])
        .args(["-v", "ON_ERROR_STOP=1"])
        .args(args)
        .current_dir(&cluster.dir)
        .output()
        .expect("run psql");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.status.success() && !stderr.contains("ERROR"),
        "psql {args:?} failed:\n{stdout}\n{stderr}"
    );
    stdout
}

fn lines_with(out: &str, word: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.split('|').any(|f| f.trim() == word))
        .map(str::to_string)
        .collect()
}

#[test]
fn psql_meta_commands_list_the_right_objects() {
    let _g = serial();
    let cluster = Cluster::start("psql");
    let script = cluster.dir.join("setup.sql");
    std::fs::write(
        &script,
        "CREATE TABLE accounts (id int PRIMARY KEY, owner varchar(20) NOT NULL, balance bigint);\n\
         CREATE TABLE events (at timestamp, note char(8));\n\
         INSERT INTO accounts VALUES (1, 'ann', 10), (2, 'bob', 20);\n",
    )
    .unwrap();
    let out = psql(&cluster, &["-f", script.to_str().unwrap()]);
    assert!(out.contains("INSERT 0 2"), "{out}");

    let l = psql(&cluster, &["-c", "\\l"]);
    assert_eq!(lines_with(&l, "borealis").len(), 1, "{l}");
    assert!(l.contains("UTF8"), "{l}");

    let dn = psql(&cluster, &["-c", "\\dn"]);
    assert_eq!(lines_with(&dn, "public").len(), 1, "{dn}");
    assert!(!dn.contains("pg_catalog"), "{dn}");

    for cmd in ["\\dt", "\\d"] {
        let dt = psql(&cluster, &["-c", cmd]);
        for t in ["accounts", "events"] {
            let ls = lines_with(&dt, t);
            assert_eq!(ls.len(), 1, "{cmd}: {dt}");
            assert!(ls[0].contains("table") && ls[0].contains("public"), "{dt}");
        }
        assert!(!dt.contains("accounts_pkey"), "{cmd} lists no index: {dt}");
    }

    let d = psql(&cluster, &["-c", "\\d accounts"]);
    assert!(d.contains("Table \"public.accounts\""), "{d}");
    let id = lines_with(&d, "id");
    assert!(
        id[0].contains("integer") && id[0].contains("not null"),
        "{d}"
    );
    assert!(
        lines_with(&d, "owner")[0].contains("character varying(20)"),
        "{d}"
    );
    assert!(lines_with(&d, "balance")[0].contains("bigint"), "{d}");
    assert!(
        d.contains("\"accounts_pkey\" PRIMARY KEY, btree (id)"),
        "{d}"
    );
    let d = psql(&cluster, &["-c", "\\d events"]);
    assert!(
        lines_with(&d, "at")[0].contains("timestamp without time zone"),
        "{d}"
    );
    assert!(lines_with(&d, "note")[0].contains("character(8)"), "{d}");

    // The verbose forms: sizes, storage, access method.
    let dtp = psql(&cluster, &["-c", "\\dt+"]);
    let acc = lines_with(&dtp, "accounts");
    assert!(acc[0].contains("heap") && acc[0].contains("bytes"), "{dtp}");
    let dp = psql(&cluster, &["-c", "\\d+ accounts"]);
    assert!(dp.contains("Access method: heap"), "{dp}");
    assert!(lines_with(&dp, "owner")[0].contains("extended"), "{dp}");

    let di = psql(&cluster, &["-c", "\\di"]);
    let idx = lines_with(&di, "accounts_pkey");
    assert_eq!(idx.len(), 1, "{di}");
    assert!(
        idx[0].contains("index") && idx[0].contains("accounts"),
        "{di}"
    );

    for cmd in ["\\dv", "\\ds"] {
        let out = psql(&cluster, &["-c", cmd]);
        assert!(out.is_empty() || !out.contains("accounts"), "{cmd}: {out}");
    }

    let du = psql(&cluster, &["-c", "\\du"]);
    assert_eq!(lines_with(&du, "borealis").len(), 1, "{du}");
    assert!(du.contains("Superuser"), "{du}");

    let x = psql(
        &cluster,
        &[
            "-c",
            "\\x",
            "-c",
            "SELECT id, owner FROM accounts WHERE id = 1",
        ],
    );
    assert!(x.contains("-[ RECORD 1 ]"), "{x}");
    assert!(lines_with(&x, "ann").len() == 1, "{x}");

    let t = psql(&cluster, &["-c", "\\timing", "-c", "SELECT 1"]);
    assert!(t.contains("Time: "), "{t}");

    // \copy out, then back in through COPY FROM STDIN.
    let out = psql(&cluster, &["-c", "\\copy accounts to 'accounts.tsv'"]);
    assert!(out.contains("COPY 2"), "{out}");
    let tsv = std::fs::read_to_string(cluster.dir.join("accounts.tsv")).unwrap();
    assert_eq!(tsv, "1\tann\t10\n2\tbob\t20\n");
    std::fs::write(cluster.dir.join("more.csv"), "3,cy,30\n4,dee,\n").unwrap();
    let out = psql(
        &cluster,
        &["-c", "\\copy accounts from 'more.csv' with csv"],
    );
    assert!(out.contains("COPY 2"), "{out}");
    let all = psql(
        &cluster,
        &[
            "-A",
            "-t",
            "-c",
            "SELECT id, owner, balance FROM accounts ORDER BY id",
        ],
    );
    assert_eq!(all, "1|ann|10\n2|bob|20\n3|cy|30\n4|dee|\n");
}
