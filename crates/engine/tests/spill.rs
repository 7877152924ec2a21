//! Large transactions: writes beyond the write-buffer budget are spilled into pages as versions
//! of an uncommitted transaction, so a transaction's memory stays bounded whatever it writes.
//! The spilled versions are invisible to everyone else until the commit MTR flips the
//! transaction's status entry, garbage after a rollback or a crash, and lock their rows.

#![allow(clippy::unwrap_used)]

use borealis_common::pagestore::{MemStore, PageStore};
use borealis_engine::{Engine, EngineConfig, EngineError, Isolation, LockMode, LockWait, TreeId};
use std::ops::Bound;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// Rows a "large" transaction writes in these tests: far beyond the smallest write buffer.
const ROWS: u32 = 3000;

fn open(store: &Arc<MemStore>) -> Engine {
    let store: Arc<dyn PageStore> = store.clone();
    Engine::open(
        store,
        EngineConfig {
            buffer_pool_pages: 64,
            // Raised to the smallest budget the engine accepts (a few KiB).
            txn_write_buffer_bytes: 0,
            ..EngineConfig::default()
        },
    )
    .unwrap()
}

fn key(i: u32) -> Vec<u8> {
    format!("key-{i:06}").into_bytes()
}

fn value(i: u32, round: u32) -> Vec<u8> {
    format!("value {i} of round {round} {}", "x".repeat(40)).into_bytes()
}

fn count(engine: &Engine, txn: &borealis_engine::Txn, tree: TreeId) -> usize {
    let mut n = 0;
    let mut from: Option<Vec<u8>> = None;
    loop {
        let lower = from.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        let batch = engine
            .scan(txn, tree, lower, Bound::Unbounded, 500)
            .unwrap();
        n += batch.len();
        if batch.len() < 500 {
            return n;
        }
        from = batch.last().map(|(k, _)| k.clone());
    }
}

fn visible_rows(engine: &Engine, tree: TreeId) -> usize {
    let txn = engine.begin();
    let n = count(engine, &txn, tree);
    engine.rollback(txn);
    n
}

/// Inserts `ROWS` rows in one transaction and returns it uncommitted.
fn big_insert(engine: &Engine, tree: TreeId, round: u32) -> borealis_engine::Txn {
    let mut txn = engine.begin();
    for i in 0..ROWS {
        engine
            .insert(&mut txn, tree, &key(i), &value(i, round))
            .unwrap();
    }
    txn
}

#[test]
fn a_large_transaction_spills_keeps_its_memory_bounded_and_commits_atomically() {
    let store = Arc::new(MemStore::new());
    let engine = open(&store);
    let tree = engine.create_tree().unwrap();
    let pages_before = engine.tree_pages(tree).unwrap();
    let txn = big_insert(&engine, tree, 1);
    assert!(txn.has_spilled());
    // Memory holds at most one write buffer's worth of writes and of row locks.
    assert!(
        txn.buffered_write_bytes() < 8 * 1024,
        "{} bytes buffered",
        txn.buffered_write_bytes()
    );
    assert!(txn.rows_locked() < 100, "{} rows locked", txn.rows_locked());
    // The rows are in pages already, and the transaction reads them back.
    assert!(engine.tree_pages(tree).unwrap() > pages_before + 10);
    assert_eq!(count(&engine, &txn, tree), ROWS as usize);
    assert_eq!(
        engine.get(&txn, tree, &key(17)).unwrap(),
        Some(value(17, 1))
    );
    // Nobody else sees any of them, at any snapshot.
    assert_eq!(visible_rows(&engine, tree), 0);
    let other = engine.begin();
    assert_eq!(engine.get(&other, tree, &key(17)).unwrap(), None);
    engine.commit(txn).unwrap().unwrap();
    // A transaction begun before the commit still sees nothing; new ones see every row.
    assert_eq!(count(&engine, &other, tree), 0);
    engine.rollback(other);
    assert_eq!(visible_rows(&engine, tree), ROWS as usize);
}

#[test]
fn a_large_update_and_delete_spill_over_committed_rows() {
    let store = Arc::new(MemStore::new());
    let engine = open(&store);
    let tree = engine.create_tree().unwrap();
    engine.commit(big_insert(&engine, tree, 1)).unwrap();
    let mut reader = engine.begin_with(Isolation::RepeatableRead);
    engine.new_statement(&mut reader);
    assert_eq!(count(&engine, &reader, tree), ROWS as usize);

    let mut txn = engine.begin();
    for i in 0..ROWS {
        if i % 3 == 0 {
            assert!(engine.delete(&mut txn, tree, &key(i)).unwrap());
        } else {
            engine.put(&mut txn, tree, &key(i), &value(i, 2)).unwrap();
        }
    }
    assert!(txn.has_spilled());
    // Writing a row again after it was spilled replaces the transaction's own version.
    engine.put(&mut txn, tree, &key(1), &value(1, 3)).unwrap();
    assert!(!engine.delete(&mut txn, tree, &key(0)).unwrap());
    engine
        .insert(&mut txn, tree, &key(0), &value(0, 3))
        .unwrap();
    assert!(matches!(
        engine.insert(&mut txn, tree, &key(2), &value(2, 3)),
        Err(EngineError::DuplicateKey)
    ));
    let survivors = ROWS as usize - (ROWS as usize).div_ceil(3) + 1;
    assert_eq!(count(&engine, &txn, tree), survivors);
    engine.commit(txn).unwrap().unwrap();

    // The old snapshot still reads the old rows; a new one reads the new ones.
    assert_eq!(count(&engine, &reader, tree), ROWS as usize);
    assert_eq!(
        engine.get(&reader, tree, &key(1)).unwrap(),
        Some(value(1, 1))
    );
    engine.rollback(reader);
    let txn = engine.begin();
    assert_eq!(count(&engine, &txn, tree), survivors);
    assert_eq!(engine.get(&txn, tree, &key(1)).unwrap(), Some(value(1, 3)));
    assert_eq!(engine.get(&txn, tree, &key(0)).unwrap(), Some(value(0, 3)));
    assert_eq!(engine.get(&txn, tree, &key(3)).unwrap(), None);
    assert_eq!(engine.get(&txn, tree, &key(4)).unwrap(), Some(value(4, 2)));
}

#[test]
fn a_rolled_back_spill_leaves_nothing_visible_and_vacuum_removes_it() {
    let store = Arc::new(MemStore::new());
    let engine = open(&store);
    let tree = engine.create_tree().unwrap();
    let mut first = engine.begin();
    engine
        .insert(&mut first, tree, &key(ROWS + 5), b"kept")
        .unwrap();
    engine.commit(first).unwrap();

    let mut txn = big_insert(&engine, tree, 1);
    // The row committed before is the transaction's to change too, and the change is undone.
    assert!(engine.delete(&mut txn, tree, &key(ROWS + 5)).unwrap());
    assert_eq!(count(&engine, &txn, tree), ROWS as usize);
    engine.rollback(txn);
    assert_eq!(visible_rows(&engine, tree), 1);
    let txn = engine.begin();
    assert_eq!(
        engine.get(&txn, tree, &key(ROWS + 5)).unwrap(),
        Some(b"kept".to_vec())
    );
    engine.rollback(txn);
    // Nothing blocks the rows the dead transaction wrote.
    let mut again = engine.begin();
    engine.insert(&mut again, tree, &key(7), b"seven").unwrap();
    engine.commit(again).unwrap();
    // Every spilled row goes (the last few writes never left memory).
    let stats = engine.vacuum(tree).unwrap();
    assert!(
        stats.keys_removed >= u64::from(ROWS) - 100,
        "vacuum removed only {} keys",
        stats.keys_removed
    );
    assert_eq!(visible_rows(&engine, tree), 2);
}

#[test]
fn a_spilled_transaction_lost_in_a_crash_is_garbage_after_the_restart() {
    let store = Arc::new(MemStore::new());
    let tree;
    let spilled_id;
    {
        let engine = open(&store);
        tree = engine.create_tree().unwrap();
        let txn = big_insert(&engine, tree, 1);
        spilled_id = txn.id();
        // The writer dies with the transaction running: nothing of it ends in memory or pages.
        std::mem::forget(txn);
    }
    let engine = open(&store);
    assert_eq!(visible_rows(&engine, tree), 0);
    // The dead transaction's id is never handed out again: its versions stay garbage.
    let mut txn = engine.begin();
    assert!(txn.id() > spilled_id, "{} reused", txn.id());
    // Its rows are not locked: inserting them succeeds at once.
    for i in 0..10 {
        engine
            .insert(&mut txn, tree, &key(i), &value(i, 2))
            .unwrap();
    }
    engine.commit(txn).unwrap();
    assert_eq!(visible_rows(&engine, tree), 10);
    let stats = engine.vacuum(tree).unwrap();
    assert!(stats.keys_removed >= u64::from(ROWS) - 100);
}

#[test]
fn writers_wait_for_a_spilled_transaction_then_see_its_outcome() {
    for commit in [true, false] {
        let store = Arc::new(MemStore::new());
        let engine = Arc::new(open(&store));
        let tree = engine.create_tree().unwrap();
        let big = big_insert(&engine, tree, 1);
        // The spilled row 3 holds no in-memory lock; its version is the lock.
        let (tx, rx) = mpsc::channel();
        let waiter = {
            let engine = engine.clone();
            thread::spawn(move || {
                let mut txn = engine.begin();
                let r = engine.insert(&mut txn, tree, &key(3), b"mine");
                tx.send(()).unwrap();
                match r {
                    Ok(()) => {
                        engine.commit(txn).unwrap();
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            })
        };
        // It blocks while the big transaction runs.
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
        assert_eq!(engine.lock_waiters(), 1);
        if commit {
            engine.commit(big).unwrap();
        } else {
            engine.rollback(big);
        }
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let outcome = waiter.join().unwrap();
        if commit {
            assert!(
                matches!(outcome, Err(EngineError::DuplicateKey)),
                "{outcome:?}"
            );
        } else {
            outcome.unwrap();
            let txn = engine.begin();
            assert_eq!(
                engine.get(&txn, tree, &key(3)).unwrap(),
                Some(b"mine".to_vec())
            );
        }
    }
}

#[test]
fn nowait_skip_locked_timeouts_and_first_updater_wins_apply_to_spilled_rows() {
    let store = Arc::new(MemStore::new());
    let engine = Arc::new(open(&store));
    let tree = engine.create_tree().unwrap();
    engine.commit(big_insert(&engine, tree, 1)).unwrap();

    let mut rr = engine.begin_with(Isolation::RepeatableRead);
    engine.new_statement(&mut rr);
    assert!(engine.get(&rr, tree, &key(9)).unwrap().is_some());

    let mut big = engine.begin();
    for i in 0..ROWS {
        engine.put(&mut big, tree, &key(i), &value(i, 2)).unwrap();
    }
    assert!(big.has_spilled());

    let mut other = engine.begin();
    let k = key(9);
    assert!(matches!(
        engine.lock_row(
            &mut other,
            tree,
            &k,
            LockMode::Share,
            LockWait::NoWait,
            None
        ),
        Err(EngineError::LockNotAvailable)
    ));
    assert_eq!(
        engine
            .lock_row(
                &mut other,
                tree,
                &k,
                LockMode::Update,
                LockWait::SkipLocked,
                None
            )
            .unwrap(),
        None
    );
    assert!(matches!(
        engine.lock_row(
            &mut other,
            tree,
            &k,
            LockMode::Update,
            LockWait::Block,
            Some(Duration::from_millis(50))
        ),
        Err(EngineError::LockTimeout)
    ));
    engine.rollback(other);

    // REPEATABLE READ: the concurrent update commits, so the second updater fails.
    let (tx, rx) = mpsc::channel();
    let h = {
        let engine = engine.clone();
        thread::spawn(move || {
            let r = engine.put(&mut rr, tree, &key(9), b"rr");
            tx.send(()).unwrap();
            (r, rr)
        })
    };
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    engine.commit(big).unwrap();
    let (r, rr) = h.join().unwrap();
    assert!(
        matches!(r, Err(EngineError::SerializationFailure(_))),
        "{r:?}"
    );
    engine.rollback(rr);
}

#[test]
fn waiting_on_a_spilled_transaction_takes_part_in_deadlock_detection() {
    let store = Arc::new(MemStore::new());
    let engine = Arc::new(open(&store));
    let tree = engine.create_tree().unwrap();
    let mut big = big_insert(&engine, tree, 1);
    // Another transaction holds row "b"; the big one then waits for it...
    let mut small = engine.begin();
    engine.insert(&mut small, tree, b"b", b"small").unwrap();
    let h = {
        let engine = engine.clone();
        thread::spawn(move || {
            let r = engine.insert(&mut big, tree, b"b", b"big");
            (r, big)
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while engine.lock_waiters() == 0 {
        assert!(std::time::Instant::now() < deadline);
        thread::sleep(Duration::from_millis(5));
    }
    // ...and the small one waiting for a row the big one spilled closes the cycle.
    let r = engine.put(&mut small, tree, &key(1), b"small");
    assert!(matches!(r, Err(EngineError::Deadlock)), "{r:?}");
    engine.rollback(small);
    let (r, big) = h.join().unwrap();
    r.unwrap();
    engine.commit(big).unwrap();
    assert_eq!(visible_rows(&engine, tree), ROWS as usize + 1);
}

#[test]
fn savepoints_and_serializable_keep_their_writes_in_memory() {
    let store = Arc::new(MemStore::new());
    let engine = open(&store);
    let tree = engine.create_tree().unwrap();
    let mut txn = engine.begin();
    let sp = engine.savepoint(&mut txn);
    for i in 0..ROWS {
        engine
            .insert(&mut txn, tree, &key(i), &value(i, 1))
            .unwrap();
    }
    assert!(!txn.has_spilled());
    engine.rollback_to(&mut txn, sp).unwrap();
    assert_eq!(count(&engine, &txn, tree), 0);
    engine.rollback(txn);

    let mut ser = engine.begin_with(Isolation::Serializable);
    engine.new_statement(&mut ser);
    for i in 0..ROWS {
        engine
            .insert(&mut ser, tree, &key(i), &value(i, 1))
            .unwrap();
    }
    assert!(!ser.has_spilled());
    engine.commit(ser).unwrap();
    assert_eq!(visible_rows(&engine, tree), ROWS as usize);
}

/// Inserts into a tree the transaction created take no row locks (nothing names the tree for
/// anyone else until the commit) and still refuse a duplicate key, whether its first row is
/// buffered or already spilled; once committed, the tree locks as any other.
#[test]
fn inserts_into_a_tree_the_transaction_created_take_no_row_locks_and_refuse_duplicates() {
    let store = Arc::new(MemStore::new());
    let engine = open(&store);
    let mut txn = engine.begin();
    let tree = engine.create_tree_in(&mut txn).unwrap();
    for i in 0..ROWS {
        engine
            .insert(&mut txn, tree, &key(i), &value(i, 1))
            .unwrap();
    }
    assert!(txn.has_spilled());
    // Only the transaction's own lock, which its spilled versions stand for.
    assert!(txn.rows_locked() <= 1, "{} rows locked", txn.rows_locked());
    for i in [0, ROWS / 2, ROWS - 1] {
        assert!(
            matches!(
                engine.insert(&mut txn, tree, &key(i), b"again"),
                Err(EngineError::DuplicateKey)
            ),
            "key {i} inserted twice"
        );
    }
    // Past every spilled key: found among the buffered writes alone.
    engine
        .insert(&mut txn, tree, &key(ROWS + 1), b"past")
        .unwrap();
    assert!(matches!(
        engine.insert(&mut txn, tree, &key(ROWS + 1), b"again"),
        Err(EngineError::DuplicateKey)
    ));
    assert!(engine.delete(&mut txn, tree, &key(ROWS + 1)).unwrap());
    // A row the transaction deleted may be inserted again.
    assert!(engine.delete(&mut txn, tree, &key(5)).unwrap());
    engine.insert(&mut txn, tree, &key(5), b"new").unwrap();
    assert_eq!(count(&engine, &txn, tree), ROWS as usize);
    assert_eq!(
        engine.get(&txn, tree, &key(5)).unwrap(),
        Some(b"new".to_vec())
    );
    assert_eq!(visible_rows(&engine, tree), 0);
    engine.commit(txn).unwrap().unwrap();
    assert_eq!(visible_rows(&engine, tree), ROWS as usize);
    let mut later = engine.begin();
    engine
        .insert(&mut later, tree, &key(ROWS), b"more")
        .unwrap();
    assert_eq!(later.rows_locked(), 1);
    assert!(matches!(
        engine.insert(&mut later, tree, &key(1), b"again"),
        Err(EngineError::DuplicateKey)
    ));
    engine.commit(later).unwrap();
}
