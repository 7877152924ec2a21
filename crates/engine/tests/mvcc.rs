//! MVCC at the engine level: snapshots at LSNs and durability, transaction status in pages across
//! a restart, savepoints, and vacuum keeping trees bounded.

#![allow(clippy::unwrap_used)]

use borealis_common::pagestore::{MemStore, PageStore, PageVersion, RecordDraft, StoreError};
use borealis_common::{Lsn, PageId};
use borealis_engine::{Engine, EngineConfig, EngineError, Isolation, LockMode, LockWait, TreeId};
use std::ops::Bound;
use std::sync::{Arc, Mutex};

/// A store whose durable LSN moves only when the test says so. With `serve_newest`, reads return
/// the newest image of a page whatever the read point (labelled with the read point), as a
/// writer's buffer pool holds pages changed by commits that are not durable yet: visibility must
/// then come from the transaction status alone.
struct Lagging {
    inner: MemStore,
    durable: Mutex<Lsn>,
    serve_newest: bool,
}

impl Lagging {
    fn new(serve_newest: bool) -> Arc<Lagging> {
        Arc::new(Lagging {
            inner: MemStore::new(),
            durable: Mutex::new(Lsn(0)),
            serve_newest,
        })
    }
    /// Makes everything appended so far durable (the last record is a CPL).
    fn catch_up(&self) -> Lsn {
        let last = self.inner.durable_lsn();
        *self.durable.lock().unwrap() = last;
        last
    }
    fn set_durable(&self, lsn: Lsn) {
        *self.durable.lock().unwrap() = lsn;
    }
}

impl PageStore for Lagging {
    fn durable_lsn(&self) -> Lsn {
        *self.durable.lock().unwrap()
    }
    fn get_page(&self, page: PageId, read_point: Lsn) -> Result<Option<PageVersion>, StoreError> {
        if self.serve_newest {
            let newest = self.inner.get_page(page, self.inner.durable_lsn())?;
            return Ok(newest.map(|v| PageVersion {
                lsn: v.lsn.min(read_point),
                image: v.image,
            }));
        }
        self.inner.get_page(page, read_point)
    }
    fn append_mtr(&self, records: Vec<RecordDraft>) -> Result<Lsn, StoreError> {
        self.inner.append_mtr(records)
    }
}

fn open(store: Arc<dyn PageStore>) -> Engine {
    Engine::open(
        store,
        EngineConfig {
            buffer_pool_pages: 64,
            ..EngineConfig::default()
        },
    )
    .unwrap()
}

fn key(i: u32) -> Vec<u8> {
    format!("key-{i:06}").into_bytes()
}

fn put_one(engine: &Engine, tree: TreeId, k: &[u8], v: &[u8]) -> Lsn {
    let mut txn = engine.begin();
    engine.put(&mut txn, tree, k, v).unwrap();
    engine.commit(txn).unwrap().unwrap()
}

fn read(engine: &Engine, tree: TreeId, k: &[u8]) -> Option<Vec<u8>> {
    let txn = engine.begin();
    engine.get(&txn, tree, k).unwrap()
}

#[test]
fn a_commit_is_invisible_until_durable_then_visible() {
    let store = Lagging::new(false);
    let engine = open(store.clone());
    let tree = engine.create_tree().unwrap();
    let first = put_one(&engine, tree, b"x", b"one");
    // Committed but not durable: nobody sees it, not even a transaction begun after the commit.
    assert_eq!(read(&engine, tree, b"x"), None);
    store.set_durable(first);
    assert_eq!(read(&engine, tree, b"x").as_deref(), Some(&b"one"[..]));

    let mut rc = engine.begin_with(Isolation::ReadCommitted);
    let mut rr = engine.begin_with(Isolation::RepeatableRead);
    engine.new_statement(&mut rc);
    engine.new_statement(&mut rr);
    let second = put_one(&engine, tree, b"x", b"two");
    // The commit changed the page the readers read, but its LSN is above their snapshots.
    assert!(second > first);
    engine.new_statement(&mut rc);
    assert_eq!(
        engine.get(&rc, tree, b"x").unwrap().as_deref(),
        Some(&b"one"[..])
    );
    store.set_durable(second);
    // Durable now: READ COMMITTED sees it from its next statement, REPEATABLE READ never.
    assert_eq!(
        engine.get(&rc, tree, b"x").unwrap().as_deref(),
        Some(&b"one"[..])
    );
    engine.new_statement(&mut rc);
    assert_eq!(
        engine.get(&rc, tree, b"x").unwrap().as_deref(),
        Some(&b"two"[..])
    );
    engine.new_statement(&mut rr);
    assert_eq!(
        engine.get(&rr, tree, b"x").unwrap().as_deref(),
        Some(&b"one"[..])
    );
    assert_eq!(rr.snapshot(), first);
    // Scans and the greatest key follow the same rule.
    let third = {
        let mut txn = engine.begin();
        engine.insert(&mut txn, tree, b"y", b"new row").unwrap();
        engine.delete(&mut txn, tree, b"x").unwrap();
        engine.commit(txn).unwrap().unwrap()
    };
    engine.new_statement(&mut rc);
    let rows = engine
        .scan(&rc, tree, Bound::Unbounded, Bound::Unbounded, 10)
        .unwrap();
    assert_eq!(rows, vec![(b"x".to_vec(), b"two".to_vec())]);
    assert_eq!(engine.last_key(&rc, tree).unwrap(), Some(b"x".to_vec()));
    store.set_durable(third);
    engine.new_statement(&mut rc);
    let rows = engine
        .scan(&rc, tree, Bound::Unbounded, Bound::Unbounded, 10)
        .unwrap();
    assert_eq!(rows, vec![(b"y".to_vec(), b"new row".to_vec())]);
    assert_eq!(engine.last_key(&rr, tree).unwrap(), Some(b"x".to_vec()));
    assert_eq!(
        engine
            .scan(&rr, tree, Bound::Unbounded, Bound::Unbounded, 10)
            .unwrap(),
        vec![(b"x".to_vec(), b"one".to_vec())]
    );
}

#[test]
fn transaction_status_in_pages_decides_visibility_after_a_restart() {
    // Pages always come back newest: only the status tree can hide commits above the snapshot.
    let store = Lagging::new(true);
    let (tree, durable, later) = {
        let engine = open(store.clone());
        let tree = engine.create_tree().unwrap();
        for i in 0..300 {
            put_one(&engine, tree, &key(i), b"old");
        }
        let durable = store.catch_up();
        let mut txn = engine.begin();
        for i in 0..300 {
            if i % 3 == 0 {
                engine.delete(&mut txn, tree, &key(i)).unwrap();
            } else {
                engine.put(&mut txn, tree, &key(i), b"new").unwrap();
            }
        }
        engine.insert(&mut txn, tree, b"zzz", b"new").unwrap();
        let later = engine.commit(txn).unwrap().unwrap();
        (tree, durable, later)
    };
    let expect_old: Vec<_> = (0..300).map(|i| (key(i), b"old".to_vec())).collect();
    let mut expect_new: Vec<_> = (0..300)
        .filter(|i| i % 3 != 0)
        .map(|i| (key(i), b"new".to_vec()))
        .collect();
    expect_new.push((b"zzz".to_vec(), b"new".to_vec()));
    let scan = |engine: &Engine| {
        let txn = engine.begin();
        engine
            .scan(&txn, tree, Bound::Unbounded, Bound::Unbounded, usize::MAX)
            .unwrap()
    };
    for _ in 0..2 {
        let engine = open(store.clone());
        store.set_durable(durable);
        assert_eq!(scan(&engine), expect_old);
        store.set_durable(later);
        assert_eq!(scan(&engine), expect_new);
        store.set_durable(durable);
    }
}

#[test]
fn writes_set_aside_are_unseen_until_put_back_and_keep_their_locks() {
    let store = Arc::new(MemStore::new());
    let engine = open(store);
    let tree = engine.create_tree().unwrap();
    put_one(&engine, tree, b"a", b"a0");
    put_one(&engine, tree, b"b", b"b0");
    let mut txn = engine.begin();
    engine.put(&mut txn, tree, b"a", b"a1").unwrap();
    let sp = engine.savepoint(&mut txn);
    engine.put(&mut txn, tree, b"a", b"a2").unwrap();
    engine.delete(&mut txn, tree, b"b").unwrap();
    engine.insert(&mut txn, tree, b"c", b"c2").unwrap();
    let aside = engine.set_aside(&mut txn, sp).unwrap();
    // Reads are as at the savepoint: the write before it stays, those after are set aside.
    assert_eq!(
        engine.get(&txn, tree, b"a").unwrap().as_deref(),
        Some(&b"a1"[..])
    );
    assert_eq!(
        engine.get(&txn, tree, b"b").unwrap().as_deref(),
        Some(&b"b0"[..])
    );
    assert_eq!(engine.get(&txn, tree, b"c").unwrap(), None);
    // Their locks are still held.
    let mut other = engine.begin();
    assert!(matches!(
        engine.lock_row(
            &mut other,
            tree,
            b"b",
            LockMode::Update,
            LockWait::NoWait,
            None
        ),
        Err(EngineError::LockNotAvailable)
    ));
    engine.rollback(other);
    engine.put(&mut txn, tree, b"d", b"d3").unwrap();
    engine.put_back(&mut txn, aside).unwrap();
    assert_eq!(
        engine.get(&txn, tree, b"a").unwrap().as_deref(),
        Some(&b"a2"[..])
    );
    assert_eq!(engine.get(&txn, tree, b"b").unwrap(), None);
    assert_eq!(
        engine.get(&txn, tree, b"c").unwrap().as_deref(),
        Some(&b"c2"[..])
    );
    assert_eq!(
        engine.get(&txn, tree, b"d").unwrap().as_deref(),
        Some(&b"d3"[..])
    );
    // A key written again while set aside: nothing is put back.
    let sp2 = engine.savepoint(&mut txn);
    engine.put(&mut txn, tree, b"e", b"e1").unwrap();
    engine.put(&mut txn, tree, b"f", b"f1").unwrap();
    let aside = engine.set_aside(&mut txn, sp2).unwrap();
    engine.put(&mut txn, tree, b"f", b"f2").unwrap();
    assert_eq!(engine.put_back(&mut txn, aside).unwrap_err(), tree);
    assert_eq!(engine.get(&txn, tree, b"e").unwrap(), None);
    // A rollback to the savepoint undoes what was put back.
    engine.rollback_to(&mut txn, sp).unwrap();
    assert_eq!(
        engine.get(&txn, tree, b"a").unwrap().as_deref(),
        Some(&b"a1"[..])
    );
    assert_eq!(engine.get(&txn, tree, b"c").unwrap(), None);
    engine.commit(txn).unwrap();
}

#[test]
fn savepoints_undo_writes_and_locks_taken_after_them() {
    let store = Arc::new(MemStore::new());
    let engine = open(store);
    let tree = engine.create_tree().unwrap();
    put_one(&engine, tree, b"a", b"a0");
    put_one(&engine, tree, b"b", b"b0");
    let mut txn = engine.begin();
    engine.put(&mut txn, tree, b"a", b"a1").unwrap();
    let sp1 = engine.savepoint(&mut txn);
    engine.put(&mut txn, tree, b"a", b"a2").unwrap();
    engine.delete(&mut txn, tree, b"b").unwrap();
    engine.insert(&mut txn, tree, b"c", b"c2").unwrap();
    let sp2 = engine.savepoint(&mut txn);
    engine.put(&mut txn, tree, b"d", b"d3").unwrap();
    engine.rollback_to(&mut txn, sp2).unwrap();
    assert_eq!(engine.get(&txn, tree, b"d").unwrap(), None);
    assert_eq!(
        engine.get(&txn, tree, b"c").unwrap().as_deref(),
        Some(&b"c2"[..])
    );
    engine.rollback_to(&mut txn, sp1).unwrap();
    assert_eq!(
        engine.get(&txn, tree, b"a").unwrap().as_deref(),
        Some(&b"a1"[..])
    );
    assert_eq!(
        engine.get(&txn, tree, b"b").unwrap().as_deref(),
        Some(&b"b0"[..])
    );
    assert_eq!(engine.get(&txn, tree, b"c").unwrap(), None);
    // sp2 closed with the rollback to sp1; sp1 stays open.
    assert!(matches!(
        engine.rollback_to(&mut txn, sp2),
        Err(EngineError::NoSuchSavepoint)
    ));
    // Locks taken after sp1 (b, c, d) are free again; a (before sp1) is still held.
    let mut other = engine.begin();
    for k in [b"b", b"c", b"d"] {
        assert!(
            engine
                .lock_row(
                    &mut other,
                    tree,
                    k,
                    LockMode::Update,
                    LockWait::NoWait,
                    None
                )
                .unwrap()
                .is_some()
        );
    }
    assert!(matches!(
        engine.lock_row(
            &mut other,
            tree,
            b"a",
            LockMode::Update,
            LockWait::NoWait,
            None
        ),
        Err(EngineError::LockNotAvailable)
    ));
    engine.rollback(other);
    // Release keeps the changes made since the savepoint.
    engine.put(&mut txn, tree, b"e", b"e1").unwrap();
    engine.release_savepoint(&mut txn, sp1).unwrap();
    assert!(matches!(
        engine.release_savepoint(&mut txn, sp1),
        Err(EngineError::NoSuchSavepoint)
    ));
    engine.commit(txn).unwrap();
    let txn = engine.begin();
    let rows = engine
        .scan(&txn, tree, Bound::Unbounded, Bound::Unbounded, 10)
        .unwrap();
    assert_eq!(
        rows,
        vec![
            (b"a".to_vec(), b"a1".to_vec()),
            (b"b".to_vec(), b"b0".to_vec()),
            (b"e".to_vec(), b"e1".to_vec()),
        ]
    );
}

/// The issue asks for 1 M updates of 10 k rows; that figure belongs in the benchmark suite. Here:
/// 100 k updates of 1 k rows, then 2 k single-row transactions.
#[test]
fn tree_and_status_sizes_stay_bounded_under_updates() {
    let store = Arc::new(MemStore::new());
    let engine = open(store);
    let tree = engine.create_tree().unwrap();
    let value = |round: u32| format!("{round:050}").into_bytes();
    let mut txn = engine.begin();
    for i in 0..1000 {
        engine.insert(&mut txn, tree, &key(i), &value(0)).unwrap();
    }
    engine.commit(txn).unwrap();
    let pages_loaded = engine.tree_pages(tree).unwrap();
    for round in 1..=100u32 {
        for block in 0..10 {
            let mut txn = engine.begin();
            for i in block * 100..block * 100 + 100 {
                engine.put(&mut txn, tree, &key(i), &value(round)).unwrap();
            }
            engine.commit(txn).unwrap();
        }
    }
    for i in 0..2000u32 {
        put_one(&engine, tree, &key(i % 1000), &value(1000 + i));
    }
    let pages_updated = engine.tree_pages(tree).unwrap();
    let status_pages = engine.status_pages().unwrap();
    eprintln!(
        "tree pages: {pages_loaded} loaded, {pages_updated} after updates; status pages {status_pages}"
    );
    // Without pruning every row would carry a hundred versions: over fifty times the pages.
    // With it, a row holds a version or two: the leaves, loaded in key order 90% full, split
    // once as their rows grow (to about twice the pages) and no further.
    assert!(
        pages_updated <= 2 * pages_loaded + 2,
        "{pages_loaded} pages grew to {pages_updated}"
    );
    // 3000 commits; without truncation their status entries would fill about ten pages.
    assert!(status_pages <= 4, "status tree of {status_pages} pages");
    let txn = engine.begin();
    let rows = engine
        .scan(&txn, tree, Bound::Unbounded, Bound::Unbounded, usize::MAX)
        .unwrap();
    assert_eq!(rows.len(), 1000);
    assert_eq!(rows[999].1, value(1000 + 1999));
}

#[test]
fn old_snapshots_keep_their_versions_until_they_end_then_vacuum_removes_them() {
    let store = Arc::new(MemStore::new());
    let engine = open(store);
    let tree = engine.create_tree().unwrap();
    for i in 0..100 {
        put_one(&engine, tree, &key(i), b"v0");
    }
    let mut old = engine.begin_with(Isolation::RepeatableRead);
    engine.new_statement(&mut old);
    let external = engine.register_snapshot(engine.durable_lsn()).unwrap();
    for round in 1..=20u32 {
        let mut txn = engine.begin();
        for i in 0..100 {
            engine
                .put(&mut txn, tree, &key(i), format!("v{round}").as_bytes())
                .unwrap();
        }
        if round == 20 {
            for i in 0..10 {
                engine.delete(&mut txn, tree, &key(i)).unwrap();
            }
        }
        engine.commit(txn).unwrap();
    }
    // The old snapshot still reads its versions.
    for i in 0..100 {
        assert_eq!(
            engine.get(&old, tree, &key(i)).unwrap().as_deref(),
            Some(&b"v0"[..])
        );
    }
    assert!(engine.oldest_snapshot() <= old.snapshot());
    // Vacuum must not remove what the old snapshot or the external one may read.
    let stats = engine.vacuum(tree).unwrap();
    assert_eq!(stats.versions_removed, 0, "{stats:?}");
    engine.rollback(old);
    assert_eq!(engine.vacuum(tree).unwrap().versions_removed, 0);
    drop(external);
    // Now only the newest version of each row is needed: 20 older ones of each live row go, and
    // the 10 deleted rows go entirely (20 versions and the tombstone).
    let stats = engine.vacuum(tree).unwrap();
    assert_eq!(stats.versions_removed, 90 * 20 + 10 * 21, "{stats:?}");
    assert_eq!(stats.keys_removed, 10);
    assert!(stats.status_entries_removed > 0);
    assert_eq!(engine.vacuum(tree).unwrap().versions_removed, 0);
    // A snapshot below the horizon can no longer be registered.
    assert!(matches!(
        engine.register_snapshot(Lsn(1)),
        Err(EngineError::SnapshotTooOld { .. })
    ));
    let txn = engine.begin();
    let rows = engine
        .scan(&txn, tree, Bound::Unbounded, Bound::Unbounded, usize::MAX)
        .unwrap();
    assert_eq!(rows.len(), 90);
    assert!(rows.iter().all(|(_, v)| v == b"v20"));
}

#[test]
fn background_vacuum_steps_drain_the_written_trees() {
    let store = Arc::new(MemStore::new());
    let engine = open(store);
    let trees = [engine.create_tree().unwrap(), engine.create_tree().unwrap()];
    let hold = engine.register_snapshot(engine.durable_lsn()).unwrap();
    for round in 0..5u32 {
        let mut txn = engine.begin();
        for &tree in &trees {
            for i in 0..600 {
                engine
                    .put(&mut txn, tree, &key(i), format!("{round}").as_bytes())
                    .unwrap();
            }
        }
        engine.commit(txn).unwrap();
    }
    drop(hold);
    let mut removed = 0;
    let mut steps = 0;
    loop {
        let stats = engine.vacuum_step().unwrap();
        removed += stats.versions_removed;
        steps += 1;
        if stats.done {
            break;
        }
        assert!(steps < 100, "background vacuum does not finish");
    }
    // Two trees of 600 rows, each with four versions older than the newest: several bounded steps.
    assert_eq!(removed, 2 * 600 * 4);
    assert!(steps >= 4);
    assert_eq!(engine.vacuum_step().unwrap().versions_removed, 0);
}

#[test]
fn large_rows_that_cannot_keep_their_history_report_snapshot_too_old() {
    let store = Arc::new(MemStore::new());
    let engine = open(store);
    let tree = engine.create_tree().unwrap();
    put_one(&engine, tree, b"big", &[1; 2000]);
    let mut old = engine.begin_with(Isolation::RepeatableRead);
    engine.new_statement(&mut old);
    put_one(&engine, tree, b"big", &[2; 2000]);
    // Two 2000-byte versions do not fit in one cell: the old one had to go.
    assert!(matches!(
        engine.get(&old, tree, b"big"),
        Err(EngineError::SnapshotTooOld { .. })
    ));
    engine.rollback(old);
    assert_eq!(read(&engine, tree, b"big"), Some(vec![2; 2000]));
}

#[test]
fn tree_stats_count_writes_dead_versions_and_vacuums() {
    let store = Lagging::new(false);
    // Background vacuum passes at the first dead version.
    let engine = Engine::open(
        store.clone(),
        EngineConfig {
            buffer_pool_pages: 64,
            autovacuum_threshold: 0,
            autovacuum_scale_per_mille: 0,
            ..EngineConfig::default()
        },
    )
    .unwrap();
    let tree = engine.create_tree().unwrap();
    let mut txn = engine.begin();
    for i in 0..10 {
        engine.insert(&mut txn, tree, &key(i), b"v0").unwrap();
    }
    engine.commit(txn).unwrap();
    store.catch_up();
    let s = engine.tree_stats(tree);
    assert_eq!(
        (s.inserted, s.updated, s.deleted, s.dead_versions),
        (10, 0, 0, 0)
    );

    // A snapshot keeps the old versions: they are counted dead until vacuum removes them.
    let mut reader = engine.begin_with(Isolation::RepeatableRead);
    engine.new_statement(&mut reader);
    let mut txn = engine.begin();
    for i in 0..5 {
        engine.put(&mut txn, tree, &key(i), b"v1").unwrap();
    }
    for i in 5..7 {
        assert!(engine.delete(&mut txn, tree, &key(i)).unwrap());
    }
    assert!(!engine.delete(&mut txn, tree, &key(99)).unwrap());
    engine.commit(txn).unwrap();
    store.catch_up();
    let s = engine.tree_stats(tree);
    assert_eq!((s.inserted, s.updated, s.deleted), (10, 5, 2));
    assert_eq!(s.dead_versions, 5 + 2 * 2);
    engine.vacuum(tree).unwrap();
    assert_eq!(
        engine.tree_stats(tree).dead_versions,
        9,
        "the snapshot still reads them"
    );
    assert_eq!(engine.tree_stats(tree).vacuum_count, 1);
    // A background pass while the snapshot holds them keeps them too...
    for _ in 0..100 {
        if engine.vacuum_step().unwrap().done {
            break;
        }
    }
    let s = engine.tree_stats(tree);
    assert_eq!((s.autovacuum_count, s.dead_versions), (1, 9));
    engine.rollback(reader);

    // ...and background vacuum alone removes them once the snapshot is gone, though nobody
    // writes the tree again: the pass that had to keep them left the tree deferred.
    for _ in 0..100 {
        if engine.vacuum_step().unwrap().done {
            break;
        }
    }
    let s = engine.tree_stats(tree);
    assert_eq!(s.dead_versions, 0);
    assert_eq!(s.autovacuum_count, 2);
    assert!(s.last_autovacuum_us.is_some());
    let txn = engine.begin();
    let mut versions_left = 0;
    for i in 0..10 {
        versions_left += usize::from(engine.get(&txn, tree, &key(i)).unwrap().is_some());
    }
    assert_eq!(versions_left, 8);
    engine.rollback(txn);
    // Nothing left to do: further steps find no work.
    assert!(engine.vacuum_step().unwrap().done);
    assert_eq!(engine.tree_stats(tree).autovacuum_count, 2);
    assert_eq!(engine.tree_stats(PageId(12345)), Default::default());
}

#[test]
fn background_vacuum_waits_for_enough_dead_versions() {
    let store = Arc::new(MemStore::new());
    let engine = open(store);
    let tree = engine.create_tree().unwrap();
    let mut txn = engine.begin();
    for i in 0..1000 {
        engine.insert(&mut txn, tree, &key(i), b"v0").unwrap();
    }
    engine.commit(txn).unwrap();
    // 50 + 20% of 1000 live rows = 250: updates below that leave the tree alone.
    let hold = engine.register_snapshot(engine.durable_lsn()).unwrap();
    let update = |from: u32, to: u32| {
        let mut txn = engine.begin();
        for i in from..to {
            engine.put(&mut txn, tree, &key(i), b"v1").unwrap();
        }
        engine.commit(txn).unwrap();
    };
    update(0, 200);
    drop(hold);
    assert_eq!(engine.tree_stats(tree).dead_versions, 200);
    assert!(engine.vacuum_step().unwrap().done);
    assert_eq!(engine.tree_stats(tree).autovacuum_count, 0);
    let hold = engine.register_snapshot(engine.durable_lsn()).unwrap();
    update(200, 300);
    drop(hold);
    assert_eq!(engine.tree_stats(tree).dead_versions, 300);
    for _ in 0..100 {
        if engine.vacuum_step().unwrap().done {
            break;
        }
    }
    let s = engine.tree_stats(tree);
    assert_eq!((s.autovacuum_count, s.dead_versions), (1, 0));
}

#[test]
fn scan_latest_sees_commits_that_are_not_durable_yet() {
    let store = Lagging::new(false);
    let engine = open(store.clone());
    let tree = engine.create_tree().unwrap();
    let first = put_one(&engine, tree, b"a", b"durable");
    store.set_durable(first);
    put_one(&engine, tree, b"b", b"committed");
    let mut txn = engine.begin();
    engine.put(&mut txn, tree, b"c", b"own").unwrap();
    let all = |r: Vec<(Vec<u8>, Vec<u8>)>| r.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    let seen = engine
        .scan(&txn, tree, Bound::Unbounded, Bound::Unbounded, 10)
        .unwrap();
    assert_eq!(all(seen), vec![b"a".to_vec(), b"c".to_vec()]);
    let latest = engine
        .scan_latest(&txn, tree, Bound::Unbounded, Bound::Unbounded, 10)
        .unwrap();
    assert_eq!(
        all(latest),
        vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
    );
    engine.rollback(txn);
}

/// A scan paged in small batches sees what reading each key sees, for a snapshot taken before
/// later commits (it must step past their versions to older ones) and one taken after, with
/// the transaction's own writes merged in or not, right after a restart (no writer's status
/// cached: each row written by another transaction is read the long way first) and again
/// with every status cached.
#[test]
fn paged_scans_agree_with_point_reads_whatever_the_status_cache_holds() {
    let store = Lagging::new(false);
    let tree = {
        let engine = open(store.clone());
        let tree = engine.create_tree().unwrap();
        for i in 0..400 {
            put_one(&engine, tree, &key(i), format!("v{i}").as_bytes());
        }
        store.catch_up();
        tree
    };
    let engine = open(store.clone());
    let before = engine.begin();
    let mut txn = engine.begin();
    for i in (0..400).step_by(3) {
        if i % 2 == 0 {
            engine.delete(&mut txn, tree, &key(i)).unwrap();
        } else {
            engine.put(&mut txn, tree, &key(i), b"updated").unwrap();
        }
    }
    engine.commit(txn).unwrap().unwrap();
    store.catch_up();
    let paged = |txn: &borealis_engine::Txn, limit: usize| {
        let mut batch = borealis_engine::ScanBatch::default();
        let mut all = Vec::new();
        let mut last: Option<Vec<u8>> = None;
        loop {
            let from = last.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
            engine
                .scan_batch(txn, tree, from, Bound::Unbounded, limit, &mut batch)
                .unwrap();
            all.extend(batch.iter().map(|(k, v)| (k.to_vec(), v.to_vec())));
            if batch.len() < limit {
                return all;
            }
            last = batch.last_key().map(<[u8]>::to_vec);
        }
    };
    let point = |txn: &borealis_engine::Txn| {
        (0..400)
            .filter_map(|i| engine.get(txn, tree, &key(i)).unwrap().map(|v| (key(i), v)))
            .collect::<Vec<_>>()
    };
    for limit in [7, 1000] {
        assert_eq!(
            paged(&before, limit),
            point(&before),
            "old snapshot, limit {limit}"
        );
        let after = engine.begin();
        assert_eq!(
            paged(&after, limit),
            point(&after),
            "new snapshot, limit {limit}"
        );
        let mut own = engine.begin();
        engine.put(&mut own, tree, &key(5), b"own").unwrap();
        engine.delete(&mut own, tree, &key(7)).unwrap();
        assert_eq!(paged(&own, limit), point(&own), "own writes, limit {limit}");
        engine.rollback(own);
    }
    assert_eq!(point(&before).len(), 400);
}
