//! Engine behaviour seen from outside: restart, the shape of the redo, duplicate keys, damaged
//! storage, the eviction rule under a lagging durable LSN, limits and tree lifecycle.

#![allow(clippy::unwrap_used)]

use borealis_common::pagestore::{MemStore, PageStore, PageVersion, RecordDraft, StoreError};
use borealis_common::{Lsn, PageId, Payload, RedoRecord};
use borealis_engine::limits::{ENTRY_BYTES_MAX, KEY_BYTES_MAX};
use borealis_engine::{CATALOG, Engine, EngineConfig, EngineError, STATUS, TreeId};
use std::ops::Bound;
use std::sync::{Arc, Mutex};

fn open_on(store: Arc<dyn PageStore>, pages: usize) -> Result<Engine, EngineError> {
    Engine::open(
        store,
        EngineConfig {
            buffer_pool_pages: pages,
            ..EngineConfig::default()
        },
    )
}

fn open(store: &Arc<MemStore>) -> Engine {
    open_on(store.clone(), 8).unwrap()
}

fn key(i: u32) -> Vec<u8> {
    format!("key-{i:06}").into_bytes()
}

fn all(engine: &Engine, tree: TreeId) -> Vec<(Vec<u8>, Vec<u8>)> {
    let txn = engine.begin();
    let rows = engine
        .scan(&txn, tree, Bound::Unbounded, Bound::Unbounded, usize::MAX)
        .unwrap();
    engine.rollback(txn);
    rows
}

/// Fills a new tree with `n` rows of 100-byte values, committed in batches of 50.
fn fill(engine: &Engine, n: u32) -> TreeId {
    let tree = engine.create_tree().unwrap();
    for batch in 0..n.div_ceil(50) {
        let mut txn = engine.begin();
        for i in batch * 50..(batch * 50 + 50).min(n) {
            engine
                .insert(&mut txn, tree, &key(i), &[i as u8; 100])
                .unwrap();
        }
        engine.commit(txn).unwrap();
    }
    tree
}

#[test]
fn bootstrap_is_one_mtr_of_the_meta_page_the_catalog_root_and_the_status_root() {
    let store = Arc::new(MemStore::new());
    let engine = open(&store);
    let records = store.records();
    assert_eq!(records.len(), 3);
    assert_eq!(records[0].page, PageId(0));
    assert_eq!(records[1].page, CATALOG);
    assert_eq!(records[2].page, STATUS);
    assert!(
        records
            .iter()
            .all(|r| matches!(r.payload, Payload::Init(_)))
    );
    assert!(!records[0].cpl && !records[1].cpl && records[2].cpl);
    // Opening again bootstraps nothing.
    drop(engine);
    let engine = open(&store);
    assert_eq!(store.records().len(), 3);
    assert_eq!(engine.tree_height(CATALOG).unwrap(), 1);
}

#[test]
fn restart_keeps_committed_data_and_nothing_else() {
    let store = Arc::new(MemStore::new());
    let engine = open(&store);
    let tree = fill(&engine, 500);
    let mut txn = engine.begin();
    engine
        .put(&mut txn, CATALOG, b"table t", b"definition")
        .unwrap();
    engine.delete(&mut txn, tree, &key(7)).unwrap();
    engine.commit(txn).unwrap();
    // Rolled back, and never finished: neither may leave a trace.
    let mut rolled_back = engine.begin();
    engine
        .put(&mut rolled_back, tree, b"rolled back", b"x")
        .unwrap();
    engine.delete(&mut rolled_back, tree, &key(8)).unwrap();
    engine.rollback(rolled_back);
    let mut unfinished = engine.begin();
    engine
        .put(&mut unfinished, tree, b"never committed", b"y")
        .unwrap();
    engine.delete(&mut unfinished, tree, &key(9)).unwrap();
    let records_before = store.records().len();
    drop(unfinished);
    drop(engine);
    assert_eq!(
        store.records().len(),
        records_before,
        "abandoned transactions wrote redo"
    );

    let engine = open(&store);
    let rows = all(&engine, tree);
    let want: Vec<_> = (0..500u32)
        .filter(|&i| i != 7)
        .map(|i| (key(i), vec![i as u8; 100]))
        .collect();
    assert_eq!(rows, want);
    assert!(engine.tree_height(tree).unwrap() >= 2);
    let txn = engine.begin();
    assert_eq!(
        engine.get(&txn, CATALOG, b"table t").unwrap().as_deref(),
        Some(&b"definition"[..])
    );
    assert_eq!(engine.get(&txn, tree, b"rolled back").unwrap(), None);
    assert_eq!(engine.get(&txn, tree, b"never committed").unwrap(), None);
    assert!(engine.get(&txn, tree, &key(8)).unwrap().is_some());
    assert!(engine.get(&txn, tree, &key(9)).unwrap().is_some());
}

#[test]
fn transaction_ids_keep_growing_across_restarts() {
    let store = Arc::new(MemStore::new());
    let mut last = 0;
    for _ in 0..3 {
        let engine = open(&store);
        for i in 0..5u32 {
            let mut txn = engine.begin();
            engine.put(&mut txn, CATALOG, &key(i), b"v").unwrap();
            engine.commit(txn).unwrap();
        }
    }
    for r in store.records() {
        if let Payload::Commit { txn, .. } = r.payload {
            assert!(
                txn.0 > last,
                "transaction id {} reused or going back",
                txn.0
            );
            last = txn.0;
        }
    }
    assert!(last > 0);
}

/// Rows inserted in key order leave the leaves they fill about 90% full (the split of the
/// rightmost leaf keeps most of it on the left), where rows in any other order leave them
/// between half and fully full: ascending keys take fewer pages than the same rows inserted
/// in descending or scattered order, and every row reads back either way.
#[test]
fn rows_inserted_in_key_order_fill_their_leaves() {
    let store = Arc::new(MemStore::new());
    let engine = open_on(store.clone(), 64).unwrap();
    const ROWS: u32 = 2_000;
    let mut pages = Vec::new();
    for order in ["ascending", "descending", "scattered"] {
        let tree = engine.create_tree().unwrap();
        // A transaction per row: a commit applies its writes in key order.
        for n in 0..ROWS {
            let i = match order {
                "ascending" => n,
                "descending" => ROWS - 1 - n,
                _ => n * 7919 % ROWS,
            };
            let mut txn = engine.begin();
            engine
                .insert(&mut txn, tree, &key(i), &[i as u8; 100])
                .unwrap();
            engine.commit(txn).unwrap();
        }
        let rows = all(&engine, tree);
        assert_eq!(rows.len(), ROWS as usize, "{order}");
        assert!(
            rows.iter()
                .enumerate()
                .all(|(i, (k, v))| *k == key(i as u32) && v.as_slice() == [i as u8; 100])
        );
        pages.push(engine.tree_pages(tree).unwrap());
    }
    // 2 000 rows of about 128 bytes with their cells: 32 leaves at 100%, 36 at 90%, 64 at 50%.
    let [ascending, descending, scattered] = pages[..] else {
        unreachable!()
    };
    assert!(ascending <= 40, "ascending keys took {ascending} pages");
    assert!(
        ascending * 4 < descending * 3 && ascending * 4 < scattered * 3,
        "ascending {ascending}, descending {descending}, scattered {scattered} pages"
    );
}

#[test]
fn each_commit_is_one_mtr_ending_with_its_commit_record() {
    let store = Arc::new(MemStore::new());
    let engine = open(&store);
    let tree = engine.create_tree().unwrap();
    let mut last_time_us = 0;
    for round in 0..4u32 {
        let before = store.records().len();
        let mut txn = engine.begin();
        let id = txn.id();
        // Enough long rows to split leaves (and, later, the root) inside this one commit.
        for i in 0..60 {
            engine
                .insert(&mut txn, tree, &key(round * 1000 + i), &[7; 400])
                .unwrap();
        }
        engine
            .put(&mut txn, CATALOG, &key(round), b"also here")
            .unwrap();
        let lsn = engine.commit(txn).unwrap().unwrap();
        let records: Vec<RedoRecord> = store.records().split_off(before);
        assert!(
            records.len() > 3,
            "a commit that split pages logged too little"
        );
        let (last, pages) = records.split_last().unwrap();
        assert_eq!(last.lsn, lsn, "commit returns its commit record's LSN");
        assert!(last.cpl, "the commit record ends the MTR");
        assert_eq!(last.page, PageId::NONE);
        let Payload::Commit { txn, time_us } = last.payload else {
            panic!("the last record is not a commit record: {last:?}");
        };
        assert_eq!(txn, id);
        assert!(time_us >= last_time_us && time_us > 0);
        last_time_us = time_us;
        let mut seen = std::collections::HashSet::new();
        for r in pages {
            assert!(!r.cpl, "an MTR has a single CPL, at its end");
            assert_ne!(r.page, PageId::NONE);
            assert!(
                seen.insert(r.page),
                "page {} logged twice in one MTR",
                r.page
            );
            assert!(matches!(r.payload, Payload::Init(_) | Payload::Patch(_)));
        }
        assert!(seen.contains(&CATALOG) && seen.contains(&tree) && seen.contains(&STATUS));
        // Consecutive LSNs.
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r.lsn.0, records[0].lsn.0 + i as u64);
        }
    }
    // A small change is logged as a small patch, not a page image.
    let before = store.records().len();
    let mut txn = engine.begin();
    engine
        .put(&mut txn, CATALOG, &key(0), b"changed!!")
        .unwrap();
    engine.commit(txn).unwrap();
    // The catalog leaf, the status tree leaf, the commit record.
    let records = store.records().split_off(before);
    assert_eq!(records.len(), 3, "{records:?}");
    for r in &records[..2] {
        let Payload::Patch(patches) = &r.payload else {
            panic!("expected a patch: {r:?}");
        };
        assert!(patches.iter().map(|p| p.bytes.len()).sum::<usize>() < 96);
    }
    // Read-only transactions and no-op writes append nothing.
    let before = store.records().len();
    let txn = engine.begin();
    assert_eq!(engine.commit(txn).unwrap(), None);
    let mut txn = engine.begin();
    assert!(!engine.delete(&mut txn, tree, b"absent").unwrap());
    assert_eq!(engine.commit(txn).unwrap(), None);
    assert_eq!(store.records().len(), before);
}

#[test]
fn duplicate_keys_are_refused_eagerly() {
    let store = Arc::new(MemStore::new());
    let engine = open(&store);
    let tree = fill(&engine, 10);
    let mut txn = engine.begin();
    assert!(matches!(
        engine.insert(&mut txn, tree, &key(3), b"again"),
        Err(EngineError::DuplicateKey)
    ));
    engine.insert(&mut txn, tree, b"new", b"1").unwrap();
    assert!(matches!(
        engine.insert(&mut txn, tree, b"new", b"2"),
        Err(EngineError::DuplicateKey)
    ));
    // Deleting a row makes room for inserting it again in the same transaction.
    assert!(engine.delete(&mut txn, tree, &key(3)).unwrap());
    engine.insert(&mut txn, tree, &key(3), b"replaced").unwrap();
    // Deleting an own insert forgets it.
    assert!(engine.delete(&mut txn, tree, b"new").unwrap());
    assert!(!engine.delete(&mut txn, tree, b"new").unwrap());
    engine.commit(txn).unwrap();
    let txn = engine.begin();
    assert_eq!(
        engine.get(&txn, tree, &key(3)).unwrap().as_deref(),
        Some(&b"replaced"[..])
    );
    assert_eq!(engine.get(&txn, tree, b"new").unwrap(), None);
}

#[test]
fn a_second_inserter_waits_for_the_first_and_then_sees_the_duplicate() {
    let store = Arc::new(MemStore::new());
    let engine = open(&store);
    let tree = fill(&engine, 200);
    let mut first = engine.begin();
    let mut second = engine.begin();
    second.set_lock_timeout(Some(std::time::Duration::from_millis(20)));
    engine
        .insert(&mut first, tree, b"contended", b"first")
        .unwrap();
    // The second transaction writes a lot (enough to split pages) plus the contended key, which
    // the first one holds locked: its insert times out rather than slipping in.
    for i in 0..100 {
        engine
            .put(&mut second, tree, &key(10_000 + i), &[9; 300])
            .unwrap();
    }
    assert!(matches!(
        engine.insert(&mut second, tree, b"contended", b"second"),
        Err(EngineError::LockTimeout)
    ));
    engine.commit(first).unwrap();
    // Once the first committed, the key is a duplicate at once.
    assert!(matches!(
        engine.insert(&mut second, tree, b"contended", b"second"),
        Err(EngineError::DuplicateKey)
    ));
    engine.commit(second).unwrap();
    // A rolled-back first inserter leaves the key free for the next.
    let mut third = engine.begin();
    engine.insert(&mut third, tree, b"free", b"3").unwrap();
    engine.rollback(third);
    let mut fourth = engine.begin();
    engine.insert(&mut fourth, tree, b"free", b"4").unwrap();
    engine.commit(fourth).unwrap();
    drop(engine);
    let engine = open(&store);
    let txn = engine.begin();
    assert_eq!(
        engine.get(&txn, tree, b"contended").unwrap().as_deref(),
        Some(&b"first"[..])
    );
    assert_eq!(
        engine.get(&txn, tree, b"free").unwrap().as_deref(),
        Some(&b"4"[..])
    );
    assert_eq!(all(&engine, tree).len(), 200 + 100 + 2);
}

/// A store that hands some pages back altered.
struct Tamper {
    inner: Arc<MemStore>,
    #[allow(clippy::type_complexity)]
    tamper: Box<dyn Fn(PageId, PageVersion) -> Option<PageVersion> + Send + Sync>,
}

impl PageStore for Tamper {
    fn durable_lsn(&self) -> Lsn {
        self.inner.durable_lsn()
    }
    fn get_page(&self, page: PageId, read_point: Lsn) -> Result<Option<PageVersion>, StoreError> {
        Ok(self
            .inner
            .get_page(page, read_point)?
            .and_then(|v| (self.tamper)(page, v)))
    }
    fn append_mtr(&self, records: Vec<RecordDraft>) -> Result<Lsn, StoreError> {
        self.inner.append_mtr(records)
    }
}

fn xorshift(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// Runs every kind of access over the tree; returns how many reported corruption. Any other error
/// or a panic fails the test.
fn corruption_seen(engine: &Engine, tree: TreeId, rows: u32) -> usize {
    let mut corrupted = 0;
    let mut note = |r: Result<(), EngineError>| match r {
        Ok(()) => {}
        Err(EngineError::Corrupted(_)) => corrupted += 1,
        Err(e) => panic!("expected Corrupted, got {e:?}"),
    };
    let txn = engine.begin();
    note(
        engine
            .scan(&txn, tree, Bound::Unbounded, Bound::Unbounded, usize::MAX)
            .map(drop),
    );
    note(engine.last_key(&txn, tree).map(drop));
    for i in 0..rows {
        note(engine.get(&txn, tree, &key(i)).map(drop));
    }
    let mut txn = engine.begin();
    let mut put_failed = false;
    for i in 0..rows {
        let r = engine.put(&mut txn, tree, &key(i), &[1; 200]);
        put_failed |= r.is_err();
        note(r);
    }
    // Writes read each row's newest version, so damage is usually seen before the commit; a
    // commit of the rows that could be written would change the shared store for later cases.
    if put_failed {
        engine.rollback(txn);
    } else {
        note(engine.commit(txn).map(drop));
    }
    corrupted
}

#[test]
fn corrupted_pages_from_storage_are_errors_not_panics() {
    // Enough rows for a tree of two levels and more than ten pages (leaves filled in key order
    // are 90% full).
    const ROWS: u32 = 800;
    let store = Arc::new(MemStore::new());
    let (tree, pages) = {
        let engine = open(&store);
        let tree = fill(&engine, ROWS);
        assert!(engine.tree_height(tree).unwrap() >= 2);
        let mut pages: Vec<PageId> = store
            .records()
            .iter()
            .map(|r| r.page)
            .filter(|p| p.0 > STATUS.0 && *p != PageId::NONE)
            .collect();
        pages.sort();
        pages.dedup();
        (tree, pages)
    };
    assert!(pages.len() > 10);
    type Damage = fn(PageId, PageVersion, u64) -> Option<PageVersion>;
    let damages: [(&str, Damage); 6] = [
        ("random bytes", |_, mut v, mut seed| {
            v.image
                .iter_mut()
                .for_each(|b| *b = xorshift(&mut seed) as u8);
            Some(v)
        }),
        ("random bytes after a valid header", |_, mut v, mut seed| {
            v.image[40..]
                .iter_mut()
                .for_each(|b| *b = xorshift(&mut seed) as u8);
            Some(v)
        }),
        ("first slot points past the page", |_, mut v, _| {
            v.image[40..42].copy_from_slice(&8190u16.to_le_bytes());
            Some(v)
        }),
        ("all zeros", |_, mut v, _| {
            v.image.fill(0);
            Some(v)
        }),
        ("missing", |_, _, _| None),
        ("impossible LSN", |_, mut v, _| {
            v.lsn = Lsn(u64::MAX);
            Some(v)
        }),
    ];
    for (name, damage) in damages {
        for &victim in &pages {
            let tampered = Tamper {
                inner: store.clone(),
                tamper: Box::new(move |page, v| {
                    if page == victim {
                        damage(page, v, 0x9e37_79b9 ^ page.0)
                    } else {
                        Some(v)
                    }
                }),
            };
            if victim == tree && name == "missing" {
                // A missing root is a tree that does not exist, not corruption (tested elsewhere).
                continue;
            }
            let engine = open_on(Arc::new(tampered), 4).unwrap();
            let seen = corruption_seen(&engine, tree, ROWS);
            assert!(seen > 0, "{name} at page {victim}: nobody noticed");
        }
    }
    // A page answered with another page of the same tree (a misdirected read).
    // A page answered with another leaf of the same tree (a misdirected read): structurally
    // perfect, so only the page's own id inside it can tell. Point reads must notice.
    let leaves: Vec<PageId> = pages
        .iter()
        .copied()
        .filter(|&p| {
            store
                .get_page(p, store.durable_lsn())
                .unwrap()
                .unwrap()
                .image[2]
                == 2
        })
        .collect();
    assert!(leaves.len() >= 4);
    let (a, b) = (leaves[1], leaves[leaves.len() - 1]);
    let b_image = store.get_page(b, store.durable_lsn()).unwrap().unwrap();
    let misdirected = Tamper {
        inner: store.clone(),
        tamper: Box::new(move |page, v| {
            Some(if page == a {
                PageVersion {
                    lsn: v.lsn,
                    image: b_image.image.clone(),
                }
            } else {
                v
            })
        }),
    };
    let engine = open_on(Arc::new(misdirected), 4).unwrap();
    let txn = engine.begin();
    let mut noticed = 0;
    for i in 0..ROWS {
        match engine.get(&txn, tree, &key(i)) {
            Ok(v) => assert_eq!(
                v,
                Some(vec![i as u8; 100]),
                "a misdirected read went unnoticed"
            ),
            Err(EngineError::Corrupted(_)) => noticed += 1,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert!(noticed > 0);
    // A damaged meta page stops the open.
    for damage in [0usize, 1, 2, 3, 8, 33, 41, 100] {
        let tampered = Tamper {
            inner: store.clone(),
            tamper: Box::new(move |page, mut v| {
                if page == PageId(0) {
                    v.image[damage] ^= 0x55;
                }
                Some(v)
            }),
        };
        assert!(matches!(
            open_on(Arc::new(tampered), 4),
            Err(EngineError::Corrupted(_))
        ));
    }
    // So does a damaged or missing transaction status root: visibility cannot be decided.
    type StatusDamage = fn(PageVersion) -> Option<PageVersion>;
    let status_damages: [StatusDamage; 2] = [
        |mut v| {
            v.image[60] ^= 0x55;
            v.image[0] ^= 0x55;
            Some(v)
        },
        |_| None,
    ];
    for damage in status_damages {
        let tampered = Tamper {
            inner: store.clone(),
            tamper: Box::new(move |page, v| if page == STATUS { damage(v) } else { Some(v) }),
        };
        assert!(matches!(
            open_on(Arc::new(tampered), 4),
            Err(EngineError::Corrupted(_))
        ));
    }
}

/// A store whose durable LSN only moves when the test says so.
struct Lagging {
    inner: MemStore,
    durable: Mutex<Lsn>,
}

impl PageStore for Lagging {
    fn durable_lsn(&self) -> Lsn {
        *self.durable.lock().unwrap()
    }
    fn get_page(&self, page: PageId, read_point: Lsn) -> Result<Option<PageVersion>, StoreError> {
        assert!(read_point <= self.durable_lsn());
        self.inner.get_page(page, read_point)
    }
    fn append_mtr(&self, records: Vec<RecordDraft>) -> Result<Lsn, StoreError> {
        self.inner.append_mtr(records)
    }
}

#[test]
fn pages_above_the_durable_lsn_stay_in_the_buffer_pool() {
    let store = Arc::new(Lagging {
        inner: MemStore::new(),
        durable: Mutex::new(Lsn(0)),
    });
    let engine = open_on(store.clone(), 4).unwrap();
    let tree = engine.create_tree().unwrap();
    for i in 0..300u32 {
        let mut txn = engine.begin();
        engine.insert(&mut txn, tree, &key(i), &[3; 200]).unwrap();
        engine.commit(txn).unwrap();
    }
    // Nothing is durable, so nothing could be evicted: the pool grew instead.
    let stats = engine.buffer_pool_stats().unwrap();
    assert_eq!(stats.evictions, 0);
    assert!(stats.resident_pages > 4, "{stats:?}");
    // Once everything is durable the pool shrinks back on later misses, and reads back the right
    // pages at the durable LSN.
    let durable = store.inner.durable_lsn();
    *store.durable.lock().unwrap() = durable;
    let rows = all(&engine, tree);
    assert_eq!(rows.len(), 300);
    let other = fill(&engine, 300);
    *store.durable.lock().unwrap() = store.inner.durable_lsn();
    assert_eq!(all(&engine, other).len(), 300);
    assert_eq!(all(&engine, tree), rows);
    let stats = engine.buffer_pool_stats().unwrap();
    assert!(stats.evictions > 0);
    assert!(stats.resident_pages <= 5, "{stats:?}");
}

/// A store that refuses appends once told to.
struct Failing {
    inner: MemStore,
    fail: Mutex<bool>,
}

impl PageStore for Failing {
    fn durable_lsn(&self) -> Lsn {
        self.inner.durable_lsn()
    }
    fn get_page(&self, page: PageId, read_point: Lsn) -> Result<Option<PageVersion>, StoreError> {
        self.inner.get_page(page, read_point)
    }
    fn append_mtr(&self, records: Vec<RecordDraft>) -> Result<Lsn, StoreError> {
        if *self.fail.lock().unwrap() {
            return Err(StoreError::Fenced);
        }
        self.inner.append_mtr(records)
    }
}

#[test]
fn a_failed_append_halts_the_engine_and_storage_keeps_the_last_commit() {
    let store = Arc::new(Failing {
        inner: MemStore::new(),
        fail: Mutex::new(false),
    });
    let engine = open_on(store.clone(), 4).unwrap();
    let tree = fill(&engine, 100);
    *store.fail.lock().unwrap() = true;
    let mut txn = engine.begin();
    engine.put(&mut txn, tree, b"lost", &[1; 1000]).unwrap();
    assert!(matches!(
        engine.commit(txn),
        Err(EngineError::Store(StoreError::Fenced))
    ));
    let txn = engine.begin();
    assert!(matches!(
        engine.get(&txn, tree, &key(1)),
        Err(EngineError::Halted(_))
    ));
    *store.fail.lock().unwrap() = false;
    drop(engine);
    let engine = open_on(store.clone(), 4).unwrap();
    assert_eq!(all(&engine, tree).len(), 100);
}

#[test]
fn entries_beyond_the_limits_are_refused() {
    let store = Arc::new(MemStore::new());
    let engine = open(&store);
    let mut txn = engine.begin();
    let long_key = vec![1u8; KEY_BYTES_MAX + 1];
    assert!(matches!(
        engine.insert(&mut txn, CATALOG, &long_key, b""),
        Err(EngineError::EntryTooLarge { .. })
    ));
    let big = vec![2u8; ENTRY_BYTES_MAX];
    assert!(matches!(
        engine.put(&mut txn, CATALOG, b"k", &big),
        Err(EngineError::EntryTooLarge { .. })
    ));
    // Exactly at the limits: accepted, and many of them split fine.
    for i in 0..20u32 {
        let k = [&i.to_be_bytes()[..], &vec![b'k'; KEY_BYTES_MAX - 4]].concat();
        let v = vec![i as u8; ENTRY_BYTES_MAX - KEY_BYTES_MAX];
        engine.insert(&mut txn, CATALOG, &k, &v).unwrap();
    }
    engine.commit(txn).unwrap();
    assert_eq!(all(&engine, CATALOG).len(), 20);
    assert!(engine.tree_height(CATALOG).unwrap() >= 2);
}

#[test]
fn dropped_trees_are_gone_and_the_catalog_is_permanent() {
    let store = Arc::new(MemStore::new());
    let engine = open(&store);
    let tree = fill(&engine, 100);
    engine.drop_tree(tree).unwrap();
    let mut txn = engine.begin();
    assert!(matches!(
        engine.get(&txn, tree, &key(1)),
        Err(EngineError::NoSuchTree(t)) if t == tree
    ));
    assert!(matches!(
        engine.put(&mut txn, tree, b"k", b"v"),
        Err(EngineError::NoSuchTree(_))
    ));
    assert!(matches!(
        engine.drop_tree(tree),
        Err(EngineError::NoSuchTree(_))
    ));
    assert!(matches!(
        engine.drop_tree(CATALOG),
        Err(EngineError::CatalogIsPermanent)
    ));
    // Ids that were never trees: the meta page, a non-root page, a page never written.
    for bogus in [PageId(0), PageId(tree.0 + 1), PageId(1 << 40)] {
        assert!(matches!(
            engine.get(&txn, bogus, b"k"),
            Err(EngineError::NoSuchTree(_))
        ));
    }
    drop(engine);
    let engine = open(&store);
    let txn = engine.begin();
    assert!(matches!(
        engine.scan(&txn, tree, Bound::Unbounded, Bound::Unbounded, 10),
        Err(EngineError::NoSuchTree(_))
    ));
    // A new tree gets a fresh root page.
    assert!(engine.create_tree().unwrap().0 > tree.0);
}

#[test]
fn reads_merge_the_write_set_over_the_tree() {
    let store = Arc::new(MemStore::new());
    let engine = open(&store);
    let tree = fill(&engine, 100);
    let mut txn = engine.begin();
    for i in 90..100 {
        engine.delete(&mut txn, tree, &key(i)).unwrap();
    }
    engine.put(&mut txn, tree, &key(5), b"mine").unwrap();
    engine
        .insert(&mut txn, tree, b"key-000005a", b"between")
        .unwrap();
    // The greatest visible key skips the transaction's deletes.
    assert_eq!(engine.last_key(&txn, tree).unwrap(), Some(key(89)));
    engine.insert(&mut txn, tree, b"zzz", b"last").unwrap();
    assert_eq!(engine.last_key(&txn, tree).unwrap(), Some(b"zzz".to_vec()));
    let rows = engine
        .scan(
            &txn,
            tree,
            Bound::Included(&key(4)),
            Bound::Excluded(&key(7)),
            10,
        )
        .unwrap();
    let keys: Vec<_> = rows.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys, [key(4), key(5), b"key-000005a".to_vec(), key(6)]);
    assert_eq!(rows[1].1, b"mine");
    // Paging with Excluded(last key) visits every visible row once.
    let mut seen = Vec::new();
    let mut from: Option<Vec<u8>> = None;
    loop {
        let lower = from.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        let page = engine.scan(&txn, tree, lower, Bound::Unbounded, 7).unwrap();
        if page.is_empty() {
            break;
        }
        from = Some(page.last().unwrap().0.clone());
        seen.extend(page.into_iter().map(|(k, _)| k));
    }
    assert_eq!(seen.len(), 100 - 10 + 2);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    // Other transactions see none of it until commit, then all of it from their next statement.
    let mut other = engine.begin();
    assert_eq!(engine.get(&other, tree, b"zzz").unwrap(), None);
    engine.commit(txn).unwrap();
    assert_eq!(engine.get(&other, tree, b"zzz").unwrap(), None);
    engine.new_statement(&mut other);
    assert_eq!(
        engine.get(&other, tree, b"zzz").unwrap().as_deref(),
        Some(&b"last"[..])
    );
    assert_eq!(engine.get(&other, tree, &key(95)).unwrap(), None);
    // Empty and inverted ranges are simply empty.
    for (from, to) in [
        (Bound::Excluded(&b"a"[..]), Bound::Excluded(&b"a"[..])),
        (Bound::Included(&b"b"[..]), Bound::Included(&b"a"[..])),
    ] {
        assert!(engine.scan(&other, tree, from, to, 10).unwrap().is_empty());
    }
}
