//! sqllogictest over the real wire protocol against a real cluster, in simple and extended query
//! mode, with a per-file minimum pass count so that a regression fails.
//!
//! The full report (every file of the corpus, both modes, the first failures of each):
//!
//! ```text
//! BOREALIS_SLT_FILES=all cargo test -p borealis --test slt -- --nocapture
//! ```
//!
//! By default the test runs select1–select5 (the CI set). `BOREALIS_SLT_FILES` may also name
//! files (`select4.test,evidence/in1.test`). `BOREALIS_SLT_URL=postgres://…` runs the same files
//! against another server instead of a fresh cluster (for instance a stock PostgreSQL, to check
//! the harness itself: it passes every query of select1–5) and asserts nothing.

#![allow(clippy::await_holding_lock, clippy::unwrap_used)]

mod common;

use borealis_slt::{FileReport, Mode, run_script};
use common::{Cluster, serial};
use std::path::{Path, PathBuf};

/// Files run by default, with the queries each must pass in simple and extended mode. Raise the
/// numbers as the engine improves; never lower them to make a change pass.
const MINIMUMS: &[(&str, usize, usize)] = &[
    ("select1.test", 1000, 1000),
    ("select2.test", 1000, 1000),
    ("select3.test", 3320, 3320),
    ("select4.test", 2832, 2832),
    ("select5.test", 732, 732),
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sqllogictest")
}

fn files() -> Vec<String> {
    match std::env::var("BOREALIS_SLT_FILES") {
        Ok(v) if v == "all" => {
            let mut all: Vec<String> = MINIMUMS.iter().map(|m| m.0.to_string()).collect();
            let mut evidence: Vec<String> = std::fs::read_dir(corpus_dir().join("evidence"))
                .map(|d| {
                    d.filter_map(Result::ok)
                        .map(|e| format!("evidence/{}", e.file_name().to_string_lossy()))
                        .filter(|n| n.ends_with(".test"))
                        .collect()
                })
                .unwrap_or_default();
            evidence.sort();
            all.extend(evidence);
            all
        }
        Ok(v) if !v.is_empty() => v.split(',').map(|s| s.trim().to_string()).collect(),
        _ => MINIMUMS.iter().map(|m| m.0.to_string()).collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqllogictest_corpus() {
    let _g = serial();
    let dir = corpus_dir();
    assert!(
        dir.join("select1.test").exists(),
        "the sqllogictest corpus is expected in {} (shared/ beside the repository)",
        dir.display()
    );
    let external = std::env::var("BOREALIS_SLT_URL").ok();
    let mut reports: Vec<(Mode, FileReport)> = Vec::new();
    for file in files() {
        let script =
            std::fs::read_to_string(dir.join(&file)).unwrap_or_else(|e| panic!("read {file}: {e}"));
        for mode in [Mode::Simple, Mode::Extended] {
            let started = std::time::Instant::now();
            // A fresh cluster per run: every file creates its own tables.
            let cluster = external.is_none().then(|| Cluster::start("slt"));
            let url = match (&external, &cluster) {
                (Some(u), _) => u.clone(),
                (None, Some(c)) => c.url(),
                (None, None) => unreachable!("a cluster or a URL"),
            };
            let report = run_script(&url, &file, &script, mode).await;
            println!(
                "{}  ({:.1} s)",
                report.summary(mode),
                started.elapsed().as_secs_f64()
            );
            for f in &report.failures {
                let short: String = f.lines().take(12).collect::<Vec<_>>().join("\n    ");
                println!("    {short}");
            }
            reports.push((mode, report));
            if external.is_some() {
                // Drop what the file created so the next mode starts clean.
                cleanup_external(&url, &script).await;
            }
        }
    }
    if external.is_some() {
        return;
    }
    let mut short = Vec::new();
    for (mode, r) in &reports {
        let Some(&(_, simple_min, extended_min)) = MINIMUMS.iter().find(|m| m.0 == r.name) else {
            continue;
        };
        let min = if *mode == Mode::Simple {
            simple_min
        } else {
            extended_min
        };
        if r.queries_passed < min {
            short.push(format!(
                "{} ({}): {} queries passed, at least {min} expected",
                r.name,
                mode.name(),
                r.queries_passed
            ));
        }
    }
    assert!(short.is_empty(), "regressions:\n{}", short.join("\n"));
}

/// Drops the tables and views a script creates, on a server the test did not start.
async fn cleanup_external(url: &str, script: &str) {
    let Ok((client, conn)) = tokio_postgres::connect(url, tokio_postgres::NoTls).await else {
        return;
    };
    tokio::spawn(async move {
        let _ = conn.await;
    });
    for line in script.lines() {
        let words: Vec<String> = line
            .split(|c: char| c.is_whitespace() || c == '(')
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect();
        let kind = match words.get(..2) {
            Some([a, b]) if a == "create" && (b == "table" || b == "view") => b.clone(),
            _ => continue,
        };
        if let Some(name) = words.get(2) {
            let _ = client
                .batch_execute(&format!("DROP {kind} IF EXISTS {name} CASCADE"))
                .await;
        }
    }
}
