//! Backward scans ([`Engine::scan_batch_rev`]) against forward scans of the same snapshot.
//!
//! Trees of many leaves and several levels hold committed rows, rows deleted after commit
//! (leaving empty leaves behind), versions of transactions still running and of transactions
//! rolled back (both spilled into pages: the write buffer is the smallest there is), and the
//! reading transaction's own writes; every backward read of a random range, whole or paged,
//! must be the forward read reversed.

#![allow(clippy::unwrap_used)]

use borealis_common::pagestore::{MemStore, PageStore};
use borealis_engine::{Engine, EngineConfig, Isolation, ScanBatch, TreeId, Txn};
use std::ops::Bound;
use std::sync::Arc;

type Rows = Vec<(Vec<u8>, Vec<u8>)>;

fn open(store: &Arc<MemStore>) -> Engine {
    let store: Arc<dyn PageStore> = store.clone();
    Engine::open(
        store,
        EngineConfig {
            buffer_pool_pages: 16,
            txn_write_buffer_bytes: 0,
            ..EngineConfig::default()
        },
    )
    .unwrap()
}

/// xorshift64.
fn next(seed: &mut u64) -> u64 {
    let mut x = *seed;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *seed = x;
    x
}

/// Keys of varied length (so leaves hold varied counts) that sort by `i`.
fn key(i: u64) -> Vec<u8> {
    let mut k = format!("k{i:06}").into_bytes();
    k.resize(8 + (i as usize * 7919) % 300, b'.');
    k
}

fn forward(engine: &Engine, txn: &Txn, tree: TreeId, range: (Bound<&[u8]>, Bound<&[u8]>)) -> Rows {
    engine
        .scan(txn, tree, range.0, range.1, usize::MAX)
        .unwrap()
}

/// A backward read of a range in pages of `page` rows, each resuming below the last key.
fn backward(
    engine: &Engine,
    txn: &Txn,
    tree: TreeId,
    (from, to): (Bound<&[u8]>, Bound<&[u8]>),
    page: usize,
) -> Rows {
    let mut out: Rows = Vec::new();
    let mut batch = ScanBatch::default();
    loop {
        let upper = match out.last() {
            Some((k, _)) => Bound::Excluded(k.as_slice()),
            None => to,
        };
        engine
            .scan_batch_rev(txn, tree, from, upper, page, &mut batch)
            .unwrap();
        let full = batch.len() == page;
        let rows: Rows = batch
            .iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect();
        out.extend(rows);
        if !full {
            return out;
        }
    }
}

fn bound(seed: &mut u64, keys: &[Vec<u8>]) -> Bound<Vec<u8>> {
    let k = keys[(next(seed) % keys.len() as u64) as usize].clone();
    match next(seed) % 4 {
        0 => Bound::Unbounded,
        1 => Bound::Included(k),
        2 => Bound::Excluded(k),
        // A key between stored ones.
        _ => Bound::Included([k.as_slice(), b"!"].concat()),
    }
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    b.as_ref().map(Vec::as_slice)
}

fn check_ranges(engine: &Engine, txn: &Txn, tree: TreeId, keys: &[Vec<u8>], seed: &mut u64) {
    let whole = (Bound::Unbounded, Bound::Unbounded);
    let mut want = forward(engine, txn, tree, whole);
    want.reverse();
    assert_eq!(backward(engine, txn, tree, whole, 100_000), want);
    assert_eq!(backward(engine, txn, tree, whole, 7), want);
    for _ in 0..200 {
        let (from, to) = (bound(seed, keys), bound(seed, keys));
        let range = (as_ref(&from), as_ref(&to));
        let mut want = forward(engine, txn, tree, range);
        want.reverse();
        let page = 1 + (next(seed) % 50) as usize;
        assert_eq!(
            backward(engine, txn, tree, range, page),
            want,
            "range {from:?} .. {to:?} in pages of {page}"
        );
        // A limit takes the greatest keys of the range.
        let mut batch = ScanBatch::default();
        engine
            .scan_batch_rev(txn, tree, range.0, range.1, 3, &mut batch)
            .unwrap();
        let got: Rows = batch
            .iter()
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect();
        assert_eq!(got.as_slice(), &want[..want.len().min(3)]);
    }
}

#[test]
fn an_empty_tree_reads_nothing_backwards() {
    let store = Arc::new(MemStore::new());
    let engine = open(&store);
    let tree = engine.create_tree().unwrap();
    let txn = engine.begin();
    for (from, to) in [
        (Bound::Unbounded, Bound::Unbounded),
        (Bound::Included(&b"a"[..]), Bound::Included(&b"z"[..])),
        (Bound::Excluded(&b"a"[..]), Bound::Excluded(&b"a"[..])),
        (Bound::Included(&b"z"[..]), Bound::Included(&b"a"[..])),
    ] {
        assert!(backward(&engine, &txn, tree, (from, to), 10).is_empty());
    }
    // Own writes alone, in descending order; an inverted range stays empty.
    let mut txn = txn;
    for k in [b"b", b"a", b"c"] {
        engine.insert(&mut txn, tree, k, k).unwrap();
    }
    let keys: Vec<Vec<u8>> = backward(&engine, &txn, tree, (Bound::Unbounded, Bound::Unbounded), 2)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys, [b"c".to_vec(), b"b".to_vec(), b"a".to_vec()]);
    let inverted = (Bound::Included(&b"c"[..]), Bound::Included(&b"a"[..]));
    assert!(backward(&engine, &txn, tree, inverted, 10).is_empty());
    engine.rollback(txn);
}

#[test]
fn backward_scans_are_forward_scans_reversed() {
    let store = Arc::new(MemStore::new());
    let engine = open(&store);
    let tree = engine.create_tree().unwrap();
    let mut seed = 0x5eed_u64;
    let n = 6000;
    let keys: Vec<Vec<u8>> = (0..n).map(key).collect();
    for chunk in keys.chunks(500) {
        let mut txn = engine.begin();
        for k in chunk {
            engine.insert(&mut txn, tree, k, &k[..6]).unwrap();
        }
        engine.commit(txn).unwrap();
    }
    assert!(
        engine.tree_height(tree).unwrap() >= 2,
        "a tree of several levels"
    );
    // Whole leaves emptied by committed deletes stay linked and must be stepped over.
    let mut txn = engine.begin();
    for k in keys[1000..2500].iter().chain(&keys[4000..4100]) {
        assert!(engine.delete(&mut txn, tree, k).unwrap());
    }
    for i in (0..n).step_by(13) {
        engine.delete(&mut txn, tree, &keys[i as usize]).unwrap();
    }
    engine.commit(txn).unwrap();
    // A running transaction's and a rolled-back one's versions, spilled into the pages.
    let mut running = engine.begin();
    let mut aborted = engine.begin();
    for i in (1..n).step_by(17) {
        let k = [keys[i as usize].as_slice(), b"+"].concat();
        engine.insert(&mut running, tree, &k, b"running").unwrap();
        engine
            .delete(&mut running, tree, &keys[(i - 1) as usize])
            .unwrap();
    }
    // (Rows the running transaction wrote are left alone: writing them would wait for it.)
    let busy = |i: u64| i.is_multiple_of(17);
    for i in (5..n).step_by(19).filter(|&i| !busy(i)) {
        let k = [keys[i as usize].as_slice(), b"-"].concat();
        engine.insert(&mut aborted, tree, &k, b"aborted").unwrap();
        engine
            .put(&mut aborted, tree, &keys[i as usize], b"aborted")
            .unwrap();
    }
    engine.rollback(aborted);
    let mut reader = engine.begin_with(Isolation::RepeatableRead);
    check_ranges(&engine, &reader, tree, &keys, &mut seed);
    // None of the other transactions' versions shows.
    let all = backward(
        &engine,
        &reader,
        tree,
        (Bound::Unbounded, Bound::Unbounded),
        64,
    );
    assert!(all.iter().all(|(_, v)| v.len() == 6));
    // The reader's own writes: inserts between stored keys, updates and deletes.
    for i in (3..n).step_by(11) {
        let k = [keys[i as usize].as_slice(), b"*"].concat();
        engine.insert(&mut reader, tree, &k, b"own").unwrap();
    }
    for i in (2..n).step_by(23).filter(|&i| !busy(i)) {
        engine
            .put(&mut reader, tree, &keys[i as usize], b"own update")
            .unwrap();
    }
    for i in (4..n).step_by(29).filter(|&i| !busy(i)) {
        engine.delete(&mut reader, tree, &keys[i as usize]).unwrap();
    }
    check_ranges(&engine, &reader, tree, &keys, &mut seed);
    engine.rollback(reader);
    engine.rollback(running);
}

#[test]
fn a_paged_backward_scan_keeps_its_snapshot_while_others_split_leaves() {
    let store = Arc::new(MemStore::new());
    let engine = open(&store);
    let tree = engine.create_tree().unwrap();
    let mut txn = engine.begin();
    for i in (0..3000).step_by(2) {
        engine.insert(&mut txn, tree, &key(i), b"old").unwrap();
    }
    engine.commit(txn).unwrap();
    let reader = engine.begin_with(Isolation::RepeatableRead);
    let mut want = forward(&engine, &reader, tree, (Bound::Unbounded, Bound::Unbounded));
    want.reverse();
    let mut got: Rows = Vec::new();
    let mut batch = ScanBatch::default();
    let mut inserted = 1;
    loop {
        let upper = match got.last() {
            Some((k, _)) => Bound::Excluded(k.as_slice()),
            None => Bound::Unbounded,
        };
        engine
            .scan_batch_rev(&reader, tree, Bound::Unbounded, upper, 50, &mut batch)
            .unwrap();
        let full = batch.len() == 50;
        got.extend(batch.iter().map(|(k, v)| (k.to_vec(), v.to_vec())));
        // Between pages another transaction commits keys on both sides of the resume point,
        // splitting the leaves the scan has yet to visit and those it left.
        let mut writer = engine.begin();
        for _ in 0..40 {
            if inserted < 3000 {
                engine
                    .insert(&mut writer, tree, &key(inserted), b"new")
                    .unwrap();
                inserted += 2;
            }
        }
        engine.commit(writer).unwrap();
        if !full {
            break;
        }
    }
    assert_eq!(got, want, "the reader sees its snapshot, each row once");
    engine.rollback(reader);
    // A new reader sees everything, backwards.
    let now = engine.begin();
    let all = backward(
        &engine,
        &now,
        tree,
        (Bound::Unbounded, Bound::Unbounded),
        33,
    );
    assert_eq!(all.len(), 1500 + (inserted as usize - 1) / 2);
    assert!(all.windows(2).all(|w| w[0].0 > w[1].0));
    engine.rollback(now);
}
