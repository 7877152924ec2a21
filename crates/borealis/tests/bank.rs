//! The bank: concurrent clients move money between accounts at each isolation level, retrying
//! serialization failures and deadlocks; the total never changes, in any snapshot anyone reads.
//! Then the writer is killed with SIGKILL at random moments under the same load: after each
//! restart exactly the acknowledged transfers are there (plus perhaps some whose commit became
//! durable unacknowledged), never part of one.

#![allow(clippy::await_holding_lock, clippy::unwrap_used)]

mod common;

use common::{Cluster, serial};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_postgres::Client;

const ACCOUNTS: i64 = 1000;
const BALANCE: i64 = 1000;
const CLIENTS: usize = 16;

fn retryable(e: &tokio_postgres::Error) -> bool {
    matches!(e.code().map(|c| c.code()), Some("40001") | Some("40P01"))
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

async fn setup(c: &Client) {
    c.batch_execute("CREATE TABLE accounts (id int8 PRIMARY KEY, balance int8 NOT NULL); CREATE TABLE transfers (id int8 PRIMARY KEY, src int8, dst int8, amount int8)")
        .await
        .unwrap();
    let mut values = Vec::new();
    for id in 0..ACCOUNTS {
        values.push(format!("({id}, {BALANCE})"));
    }
    for chunk in values.chunks(250) {
        c.batch_execute(&format!("INSERT INTO accounts VALUES {}", chunk.join(",")))
            .await
            .unwrap();
    }
}

/// One transfer as one transaction; `Ok(true)` when acknowledged.
async fn transfer(
    c: &Client,
    level: &str,
    id: i64,
    src: i64,
    dst: i64,
    amount: i64,
) -> Result<bool, tokio_postgres::Error> {
    let sql = format!(
        "BEGIN ISOLATION LEVEL {level}; \
         UPDATE accounts SET balance = balance - {amount} WHERE id = {src}; \
         UPDATE accounts SET balance = balance + {amount} WHERE id = {dst}; \
         INSERT INTO transfers VALUES ({id}, {src}, {dst}, {amount}); \
         COMMIT"
    );
    match c.batch_execute(&sql).await {
        Ok(()) => Ok(true),
        Err(e) => {
            let _ = c.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

async fn total(c: &Client, level: &str) -> Result<i64, tokio_postgres::Error> {
    let rows = c
        .simple_query(&format!(
            "BEGIN ISOLATION LEVEL {level}; SELECT sum(balance) FROM accounts; COMMIT"
        ))
        .await?;
    Ok(rows
        .iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).and_then(|v| v.parse().ok()),
            _ => None,
        })
        .unwrap_or(-1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_keep_the_total_at_every_isolation_level() {
    let _g = serial();
    let cluster = Cluster::start("bank");
    let admin = cluster.client().await;
    setup(&admin).await;
    let next_id = Arc::new(AtomicU64::new(1));
    for level in ["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"] {
        let stop = Arc::new(AtomicBool::new(false));
        let committed = Arc::new(AtomicU64::new(0));
        let retried = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for w in 0..CLIENTS {
            let c = cluster.client().await;
            let (stop, committed, retried, next_id) = (
                stop.clone(),
                committed.clone(),
                retried.clone(),
                next_id.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut rng = Rng(0x9e37_79b9 + w as u64 * 7919);
                while !stop.load(Ordering::Relaxed) {
                    let src = (rng.next() % ACCOUNTS as u64) as i64;
                    let dst = (src + 1 + (rng.next() % (ACCOUNTS as u64 - 1)) as i64) % ACCOUNTS;
                    let amount = (rng.next() % 50) as i64 + 1;
                    let id = next_id.fetch_add(1, Ordering::Relaxed) as i64;
                    match transfer(&c, level, id, src, dst, amount).await {
                        Ok(_) => {
                            committed.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) if retryable(&e) => {
                            retried.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => panic!("transfer failed at {level}: {e:?}"),
                    }
                }
            }));
        }
        // Auditors read the total while transfers run: every snapshot balances.
        let auditor = cluster.client().await;
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            for read_level in ["READ COMMITTED", "REPEATABLE READ"] {
                match total(&auditor, read_level).await {
                    Ok(t) => assert_eq!(
                        t,
                        ACCOUNTS * BALANCE,
                        "a {read_level} snapshot saw money appear or vanish during {level}"
                    ),
                    Err(e) => panic!("audit failed: {e:?}"),
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }
        let n = committed.load(Ordering::Relaxed);
        eprintln!(
            "{level}: {n} transfers committed, {} retried",
            retried.load(Ordering::Relaxed)
        );
        assert!(n > 0, "no transfer committed at {level}");
        assert_eq!(
            total(&admin, "READ COMMITTED").await.unwrap(),
            ACCOUNTS * BALANCE
        );
        let logged: i64 = admin
            .query_one("SELECT count(*) FROM transfers", &[])
            .await
            .unwrap()
            .get(0);
        assert!(logged >= n as i64);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_writer_at_random_moments_leaves_exactly_whole_transactions() {
    let _g = serial();
    let mut cluster = Cluster::start("bank-crash");
    let admin = cluster.client().await;
    setup(&admin).await;
    drop(admin);
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let next_id = Arc::new(AtomicU64::new(1));
    let mut all_acked: HashSet<i64> = HashSet::new();
    for trial in 0..20 {
        let acked = Arc::new(Mutex::new(Vec::<i64>::new()));
        let mut tasks = Vec::new();
        for w in 0..4u64 {
            let c = cluster.client().await;
            let (acked, next_id) = (acked.clone(), next_id.clone());
            let seed = rng.next() ^ w;
            tasks.push(tokio::spawn(async move {
                let mut rng = Rng(seed | 1);
                loop {
                    let src = (rng.next() % ACCOUNTS as u64) as i64;
                    let dst = (src + 1) % ACCOUNTS;
                    let id = next_id.fetch_add(1, Ordering::Relaxed) as i64;
                    match transfer(&c, "READ COMMITTED", id, src, dst, 7).await {
                        Ok(_) => acked.lock().unwrap().push(id),
                        Err(e) if retryable(&e) => {}
                        Err(_) => return, // the writer died
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(50 + rng.next() % 400)).await;
        cluster.kill_writer();
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
        cluster.start_writer();
        let c = cluster.client().await;
        let present: HashSet<i64> = c
            .query("SELECT id FROM transfers", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        all_acked.extend(acked.lock().unwrap().iter().copied());
        for id in &all_acked {
            assert!(
                present.contains(id),
                "trial {trial}: acknowledged transfer {id} lost"
            );
        }
        // Whole transactions only: every logged transfer moved its money, nothing else moved.
        assert_eq!(
            total(&c, "READ COMMITTED").await.unwrap(),
            ACCOUNTS * BALANCE,
            "trial {trial}: money appeared or vanished"
        );
        let mut expected = vec![BALANCE; ACCOUNTS as usize];
        for r in c
            .query("SELECT src, dst, amount FROM transfers", &[])
            .await
            .unwrap()
        {
            let (src, dst, amount): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
            expected[src as usize] -= amount;
            expected[dst as usize] += amount;
        }
        for r in c
            .query("SELECT id, balance FROM accounts", &[])
            .await
            .unwrap()
        {
            let (id, balance): (i64, i64) = (r.get(0), r.get(1));
            assert_eq!(
                balance, expected[id as usize],
                "trial {trial}: account {id} disagrees with the transfer log"
            );
        }
    }
    eprintln!(
        "20 crash trials: {} acknowledged transfers, all present",
        all_acked.len()
    );
}
