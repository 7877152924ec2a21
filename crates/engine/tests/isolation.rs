//! Row locks and isolation anomalies at the engine level, one case per behaviour, each asserting
//! what PostgreSQL 15 does: which request blocks, which fails (and with which error), what each
//! transaction reads.

#![allow(clippy::unwrap_used)]

use borealis_common::pagestore::MemStore;
use borealis_engine::{
    Engine, EngineConfig, EngineError, Isolation, LockMode, LockWait, TreeId, Txn,
};
use std::ops::Bound;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

fn setup(rows: &[(&[u8], &[u8])]) -> (Arc<Engine>, TreeId) {
    let engine = Engine::open(Arc::new(MemStore::new()), EngineConfig::default()).unwrap();
    let tree = engine.create_tree().unwrap();
    let mut txn = engine.begin();
    for (k, v) in rows {
        engine.insert(&mut txn, tree, k, v).unwrap();
    }
    engine.commit(txn).unwrap();
    (Arc::new(engine), tree)
}

fn begin(engine: &Engine, level: Isolation) -> Txn {
    let mut txn = engine.begin_with(level);
    engine.new_statement(&mut txn);
    txn
}

fn int(v: &[u8]) -> i64 {
    std::str::from_utf8(v).unwrap().parse().unwrap()
}

fn get_int(engine: &Engine, txn: &Txn, tree: TreeId, k: &[u8]) -> i64 {
    int(&engine.get(txn, tree, k).unwrap().unwrap())
}

/// Waits until `n` lock requests wait (bounded: fails the test after ten seconds).
fn until_waiting(engine: &Engine, n: usize) {
    let start = Instant::now();
    while engine.lock_waiters() != n {
        assert!(start.elapsed() < Duration::from_secs(10), "nobody waits");
        thread::sleep(Duration::from_millis(1));
    }
}

fn is_serialization_failure<T: std::fmt::Debug>(r: &Result<T, EngineError>) -> bool {
    matches!(r, Err(EngineError::SerializationFailure(_)))
}

#[test]
fn dirty_write_waits_for_the_first_writer() {
    for first_commits in [true, false] {
        let (engine, tree) = setup(&[(b"x", b"0")]);
        let mut t1 = begin(&engine, Isolation::ReadCommitted);
        engine.put(&mut t1, tree, b"x", b"1").unwrap();
        // No dirty read either: others still see the committed value.
        let reader = begin(&engine, Isolation::ReadCommitted);
        assert_eq!(get_int(&engine, &reader, tree, b"x"), 0);
        let e = engine.clone();
        let second = thread::spawn(move || {
            let mut t2 = begin(&e, Isolation::ReadCommitted);
            e.put(&mut t2, tree, b"x", b"2").unwrap();
            e.commit(t2).unwrap()
        });
        until_waiting(&engine, 1);
        if first_commits {
            engine.commit(t1).unwrap();
        } else {
            engine.rollback(t1);
        }
        second.join().unwrap();
        let after = begin(&engine, Isolation::ReadCommitted);
        assert_eq!(get_int(&engine, &after, tree, b"x"), 2);
    }
}

#[test]
fn lost_update_under_repeatable_read_fails_the_second_updater() {
    let (engine, tree) = setup(&[(b"x", b"10")]);
    // Without waiting: the first updater committed before the second writes.
    let mut t1 = begin(&engine, Isolation::RepeatableRead);
    let mut t2 = begin(&engine, Isolation::RepeatableRead);
    let a = get_int(&engine, &t1, tree, b"x");
    let b = get_int(&engine, &t2, tree, b"x");
    engine
        .put(&mut t1, tree, b"x", (a + 1).to_string().as_bytes())
        .unwrap();
    engine.commit(t1).unwrap();
    let r = engine.put(&mut t2, tree, b"x", (b + 1).to_string().as_bytes());
    assert!(is_serialization_failure(&r), "{r:?}");
    assert!(r.unwrap_err().is_transaction_retryable());
    engine.rollback(t2);
    // With waiting: the second blocks on the lock, then fails when the first commits...
    let mut t1 = begin(&engine, Isolation::RepeatableRead);
    engine.put(&mut t1, tree, b"x", b"100").unwrap();
    let e = engine.clone();
    let waiter = thread::spawn(move || {
        let mut t2 = begin(&e, Isolation::RepeatableRead);
        e.put(&mut t2, tree, b"x", b"200").map(drop)
    });
    until_waiting(&engine, 1);
    engine.commit(t1).unwrap();
    assert!(is_serialization_failure(&waiter.join().unwrap()));
    // ...and succeeds when the first rolls back.
    let mut t1 = begin(&engine, Isolation::RepeatableRead);
    engine.put(&mut t1, tree, b"x", b"300").unwrap();
    let e = engine.clone();
    let waiter = thread::spawn(move || {
        let mut t2 = begin(&e, Isolation::RepeatableRead);
        e.put(&mut t2, tree, b"x", b"400")?;
        e.commit(t2).map(drop)
    });
    until_waiting(&engine, 1);
    engine.rollback(t1);
    waiter.join().unwrap().unwrap();
    let t = begin(&engine, Isolation::RepeatableRead);
    assert_eq!(get_int(&engine, &t, tree, b"x"), 400);
}

#[test]
fn read_committed_update_rechecks_the_newest_version_after_waiting() {
    let (engine, tree) = setup(&[(b"counter", b"0")]);
    let mut t1 = begin(&engine, Isolation::ReadCommitted);
    let row = engine
        .lock_row(
            &mut t1,
            tree,
            b"counter",
            LockMode::Update,
            LockWait::Block,
            None,
        )
        .unwrap()
        .unwrap();
    assert!(!row.changed);
    engine
        .put(
            &mut t1,
            tree,
            b"counter",
            (int(&row.value.unwrap()) + 1).to_string().as_bytes(),
        )
        .unwrap();
    let e = engine.clone();
    let second = thread::spawn(move || {
        // UPDATE counter = counter + 1: its statement snapshot saw 0.
        let mut t2 = begin(&e, Isolation::ReadCommitted);
        assert_eq!(get_int(&e, &t2, tree, b"counter"), 0);
        let row = e
            .lock_row(
                &mut t2,
                tree,
                b"counter",
                LockMode::Update,
                LockWait::Block,
                None,
            )
            .unwrap()
            .unwrap();
        // After waiting: the newest version, flagged as changed since the snapshot.
        assert!(row.changed);
        let newest = int(row.value.as_deref().unwrap());
        e.put(
            &mut t2,
            tree,
            b"counter",
            (newest + 1).to_string().as_bytes(),
        )
        .unwrap();
        e.commit(t2).unwrap();
    });
    until_waiting(&engine, 1);
    engine.commit(t1).unwrap();
    second.join().unwrap();
    let t = begin(&engine, Isolation::ReadCommitted);
    assert_eq!(
        get_int(&engine, &t, tree, b"counter"),
        2,
        "an update was lost"
    );
}

#[test]
fn read_skew_is_prevented_under_repeatable_read_but_not_read_committed() {
    for (level, skew_expected) in [
        (Isolation::RepeatableRead, false),
        (Isolation::Serializable, false),
        (Isolation::ReadCommitted, true),
    ] {
        let (engine, tree) = setup(&[(b"a", b"50"), (b"b", b"50")]);
        let mut reader = begin(&engine, level);
        let a = get_int(&engine, &reader, tree, b"a");
        // A transfer commits between the reader's two statements.
        let mut transfer = begin(&engine, Isolation::ReadCommitted);
        engine.put(&mut transfer, tree, b"a", b"10").unwrap();
        engine.put(&mut transfer, tree, b"b", b"90").unwrap();
        engine.commit(transfer).unwrap();
        engine.new_statement(&mut reader);
        let b = get_int(&engine, &reader, tree, b"b");
        assert_eq!(a + b != 100, skew_expected, "{level:?}: read {a} + {b}");
        engine.commit(reader).unwrap();
    }
}

/// Two doctors on call: each checks that the other is on call and goes off call.
fn write_skew(level: Isolation) -> (Result<(), EngineError>, Result<(), EngineError>) {
    let (engine, tree) = setup(&[(b"alice", b"1"), (b"bob", b"1")]);
    let mut t1 = begin(&engine, level);
    let mut t2 = begin(&engine, level);
    let on_call = |t: &Txn| {
        engine
            .scan(t, tree, Bound::Unbounded, Bound::Unbounded, 10)
            .unwrap()
            .iter()
            .filter(|(_, v)| v == b"1")
            .count()
    };
    assert_eq!(on_call(&t1), 2);
    assert_eq!(on_call(&t2), 2);
    let r1 = engine
        .put(&mut t1, tree, b"alice", b"0")
        .and_then(|()| engine.commit(t1).map(drop));
    let r2 = engine
        .put(&mut t2, tree, b"bob", b"0")
        .and_then(|()| engine.commit(t2).map(drop));
    (r1, r2)
}

#[test]
fn write_skew_is_allowed_under_repeatable_read_and_prevented_under_serializable() {
    let (r1, r2) = write_skew(Isolation::RepeatableRead);
    assert!(
        r1.is_ok() && r2.is_ok(),
        "snapshot isolation allows write skew"
    );
    let (r1, r2) = write_skew(Isolation::Serializable);
    assert!(r1.is_ok(), "{r1:?}");
    assert!(is_serialization_failure(&r2), "{r2:?}");
}

#[test]
fn serializable_catches_predicate_write_skew_and_lets_disjoint_work_commit() {
    // Each inserts into a range after finding it empty: a phantom-based write skew.
    let (engine, tree) = setup(&[(b"m", b"0")]);
    let mut t1 = begin(&engine, Isolation::Serializable);
    let mut t2 = begin(&engine, Isolation::Serializable);
    for t in [&t1, &t2] {
        let found = engine
            .scan(t, tree, Bound::Included(b"a"), Bound::Excluded(b"f"), 10)
            .unwrap();
        assert!(found.is_empty());
    }
    engine.insert(&mut t1, tree, b"b", b"1").unwrap();
    engine.insert(&mut t2, tree, b"c", b"1").unwrap();
    engine.commit(t1).unwrap();
    assert!(is_serialization_failure(&engine.commit(t2)));
    // Disjoint reads and writes: no false failure.
    let mut t1 = begin(&engine, Isolation::Serializable);
    let mut t2 = begin(&engine, Isolation::Serializable);
    engine.get(&t1, tree, b"p").unwrap();
    engine.get(&t2, tree, b"q").unwrap();
    engine.put(&mut t1, tree, b"p", b"1").unwrap();
    engine.put(&mut t2, tree, b"q", b"1").unwrap();
    engine.commit(t1).unwrap();
    engine.commit(t2).unwrap();
    // A read after the other's commit sees the newer version as too new: caught at read time
    // when the other transaction is already a pivot, here at commit.
    let mut t1 = begin(&engine, Isolation::Serializable);
    let mut t2 = begin(&engine, Isolation::Serializable);
    engine.get(&t1, tree, b"p").unwrap();
    engine.put(&mut t1, tree, b"q", b"2").unwrap();
    engine.commit(t1).unwrap();
    assert_eq!(
        engine.get(&t2, tree, b"q").unwrap().as_deref(),
        Some(&b"1"[..])
    );
    engine.put(&mut t2, tree, b"p", b"2").unwrap();
    assert!(is_serialization_failure(&engine.commit(t2)));
}

#[test]
fn deadlock_between_two_threads_is_detected() {
    let (engine, tree) = setup(&[(b"a", b"0"), (b"b", b"0")]);
    let mut t1 = begin(&engine, Isolation::ReadCommitted);
    let mut t2 = begin(&engine, Isolation::ReadCommitted);
    engine.put(&mut t1, tree, b"a", b"1").unwrap();
    engine.put(&mut t2, tree, b"b", b"2").unwrap();
    let e = engine.clone();
    let first = thread::spawn(move || {
        e.put(&mut t1, tree, b"b", b"1")?;
        e.commit(t1).map(drop)
    });
    until_waiting(&engine, 1);
    let r = engine.put(&mut t2, tree, b"a", b"2");
    assert!(matches!(r, Err(EngineError::Deadlock)), "{r:?}");
    assert!(r.unwrap_err().is_transaction_retryable());
    engine.rollback(t2);
    first.join().unwrap().unwrap();
    let t = begin(&engine, Isolation::ReadCommitted);
    assert_eq!(get_int(&engine, &t, tree, b"b"), 1);
}

#[test]
fn nowait_and_skip_locked() {
    let (engine, tree) = setup(&[(b"a", b"0"), (b"b", b"0"), (b"c", b"0")]);
    let mut t1 = begin(&engine, Isolation::ReadCommitted);
    let mut t2 = begin(&engine, Isolation::ReadCommitted);
    let mut t3 = begin(&engine, Isolation::ReadCommitted);
    engine
        .lock_row(&mut t1, tree, b"b", LockMode::Update, LockWait::Block, None)
        .unwrap();
    // SELECT ... FOR UPDATE SKIP LOCKED takes a and c, skips b.
    let mut taken = Vec::new();
    for k in [b"a", b"b", b"c"] {
        if engine
            .lock_row(
                &mut t2,
                tree,
                k,
                LockMode::Update,
                LockWait::SkipLocked,
                None,
            )
            .unwrap()
            .is_some()
        {
            taken.push(k.to_vec());
        }
    }
    assert_eq!(taken, [b"a".to_vec(), b"c".to_vec()]);
    // FOR SHARE NOWAIT on a row locked for update fails at once; shares coexist.
    assert!(matches!(
        engine.lock_row(&mut t3, tree, b"b", LockMode::Share, LockWait::NoWait, None),
        Err(EngineError::LockNotAvailable)
    ));
    engine.rollback(t1);
    engine.rollback(t2);
    let mut t4 = begin(&engine, Isolation::ReadCommitted);
    for t in [&mut t3, &mut t4] {
        engine
            .lock_row(t, tree, b"b", LockMode::Share, LockWait::NoWait, None)
            .unwrap()
            .unwrap();
    }
    // A writer cannot take a row two transactions share.
    let mut t5 = begin(&engine, Isolation::ReadCommitted);
    t5.set_lock_timeout(Some(Duration::from_millis(1)));
    assert!(matches!(
        engine.delete(&mut t5, tree, b"b"),
        Err(EngineError::LockTimeout)
    ));
}

#[test]
fn lock_waits_time_out_and_can_be_cancelled() {
    let (engine, tree) = setup(&[(b"a", b"0")]);
    let mut holder = begin(&engine, Isolation::ReadCommitted);
    engine.put(&mut holder, tree, b"a", b"1").unwrap();
    let mut t = begin(&engine, Isolation::ReadCommitted);
    let r = engine.lock_row(
        &mut t,
        tree,
        b"a",
        LockMode::Update,
        LockWait::Block,
        Some(Duration::from_millis(30)),
    );
    assert!(matches!(r, Err(EngineError::LockTimeout)), "{r:?}");
    assert_eq!(engine.lock_waiters(), 0);
    // A wait without a timeout ends when cancelled from another thread.
    let cancel = t.cancel_handle();
    let e = engine.clone();
    let waiter = thread::spawn(move || {
        e.lock_row(&mut t, tree, b"a", LockMode::Share, LockWait::Block, None)
            .map(drop)
    });
    until_waiting(&engine, 1);
    cancel.cancel();
    assert!(matches!(waiter.join().unwrap(), Err(EngineError::Canceled)));
    assert_eq!(engine.lock_waiters(), 0);
    engine.commit(holder).unwrap();
}

#[test]
fn locks_are_released_when_the_commit_has_its_lsn() {
    let (engine, tree) = setup(&[(b"hot", b"0")]);
    // A hundred writers in turn on one hot row, each waiting for the previous one's commit:
    // every commit LSN is above the previous, so acknowledging in LSN order stays safe.
    let mut handles = Vec::new();
    for _ in 0..8 {
        let e = engine.clone();
        handles.push(thread::spawn(move || {
            let mut lsns = Vec::new();
            for _ in 0..25 {
                let mut t = begin(&e, Isolation::ReadCommitted);
                let row = e
                    .lock_row(
                        &mut t,
                        tree,
                        b"hot",
                        LockMode::Update,
                        LockWait::Block,
                        None,
                    )
                    .unwrap()
                    .unwrap();
                let n = int(row.value.as_deref().unwrap()) + 1;
                e.put(&mut t, tree, b"hot", n.to_string().as_bytes())
                    .unwrap();
                lsns.push((n, e.commit(t).unwrap().unwrap()));
            }
            lsns
        }));
    }
    let mut all: Vec<_> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort();
    assert_eq!(all.len(), 200);
    for (i, w) in all.windows(2).enumerate() {
        assert_eq!(w[0].0, i as i64 + 1);
        assert!(w[1].1 > w[0].1, "the next holder committed at a lower LSN");
    }
    let t = begin(&engine, Isolation::ReadCommitted);
    assert_eq!(get_int(&engine, &t, tree, b"hot"), 200);
}
