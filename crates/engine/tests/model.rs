//! Model test: the engine against `BTreeMap`s, over a buffer pool of 8 pages.
//!
//! Random transactions of random size insert, upsert, delete, get (one key or a batch), scan
//! (forwards and backwards) and ask for the last key on a few trees; each is committed or rolled
//! back at random, and the engine is reopened on the same store now and then. Every answer is
//! compared with a model built from plain maps. Keys mix short and long ones (up to 1000 bytes) so
//! that trees grow several levels, and the tiny pool forces pages out and back in from the store,
//! which checks that the redo diffs rebuild every page exactly.
//!
//! Runs with odd seeds give the engine the smallest write buffer, so big transactions spill
//! their writes into pages before committing or rolling back.
//!
//! Each run is seeded; a failure prints its seed, and `BOREALIS_ENGINE_SEED=<n>` replays it alone.

#![allow(clippy::unwrap_used)]

use borealis_common::pagestore::{MemStore, PageStore};
use borealis_engine::limits::ENTRY_BYTES_MAX;
use borealis_engine::{CATALOG, Engine, EngineConfig, EngineError, ScanBatch, TreeId, Txn};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

/// xorshift64: small, deterministic, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Prints the seed if the test panics while it is alive.
struct SeedGuard(u64);

impl Drop for SeedGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "model test failed with seed {}; replay with BOREALIS_ENGINE_SEED={}",
                self.0, self.0
            );
        }
    }
}

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

struct Keys {
    known: Vec<Vec<u8>>,
}

impl Keys {
    /// A key seen before (so gets, deletes and duplicate inserts hit) or a fresh one.
    fn pick(&mut self, rng: &mut Rng) -> Vec<u8> {
        if !self.known.is_empty() && rng.chance(50) {
            return self.known[rng.below(self.known.len())].clone();
        }
        let len = if rng.chance(70) {
            1 + rng.below(40)
        } else {
            200 + rng.below(800)
        };
        // A small first byte clusters keys, so comparisons often run deep into shared prefixes.
        let mut k = vec![rng.below(4) as u8];
        k.extend((1..len).map(|_| {
            if rng.chance(50) {
                b'a'
            } else {
                rng.next() as u8
            }
        }));
        self.known.push(k.clone());
        k
    }
}

fn value(rng: &mut Rng, key: &[u8]) -> Vec<u8> {
    let room = ENTRY_BYTES_MAX - key.len();
    let len = if rng.chance(5) {
        room
    } else {
        rng.below(300.min(room) + 1)
    };
    (0..len).map(|_| rng.next() as u8).collect()
}

fn bound(rng: &mut Rng, keys: &mut Keys) -> Bound<Vec<u8>> {
    match rng.below(3) {
        0 => Bound::Unbounded,
        1 => Bound::Included(keys.pick(rng)),
        _ => Bound::Excluded(keys.pick(rng)),
    }
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(k) => Bound::Included(k.as_slice()),
        Bound::Excluded(k) => Bound::Excluded(k.as_slice()),
    }
}

fn in_range(k: &[u8], from: Bound<&[u8]>, to: Bound<&[u8]>) -> bool {
    let above = match from {
        Bound::Unbounded => true,
        Bound::Included(f) => k >= f,
        Bound::Excluded(f) => k > f,
    };
    let below = match to {
        Bound::Unbounded => true,
        Bound::Included(t) => k <= t,
        Bound::Excluded(t) => k < t,
    };
    above && below
}

/// The model of what a transaction sees: committed maps overlaid with its own writes.
fn view(
    committed: &BTreeMap<TreeId, Map>,
    own: &BTreeMap<TreeId, BTreeMap<Vec<u8>, Option<Vec<u8>>>>,
    tree: TreeId,
) -> Map {
    let mut m = committed[&tree].clone();
    if let Some(w) = own.get(&tree) {
        for (k, v) in w {
            match v {
                Some(v) => m.insert(k.clone(), v.clone()),
                None => m.remove(k),
            };
        }
    }
    m
}

/// Every entry of a tree, read through the engine in pages of `page` entries.
fn read_all(engine: &Engine, tree: TreeId, page: usize) -> Map {
    let txn = engine.begin();
    let mut out = Map::new();
    let mut from: Option<Vec<u8>> = None;
    loop {
        let lower = from.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        let chunk = engine
            .scan(&txn, tree, lower, Bound::Unbounded, page)
            .unwrap();
        let done = chunk.len() < page;
        if let Some((k, _)) = chunk.last() {
            from = Some(k.clone());
        }
        for (k, v) in chunk {
            assert!(out.insert(k, v).is_none(), "a scan page repeated a key");
        }
        if done {
            break;
        }
    }
    engine.rollback(txn);
    out
}

/// At most `limit` entries of a range in descending key order, through the engine's backward
/// scan.
fn scan_rev(
    engine: &Engine,
    txn: &Txn,
    tree: TreeId,
    (from, to): (Bound<&[u8]>, Bound<&[u8]>),
    limit: usize,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut batch = ScanBatch::default();
    engine
        .scan_batch_rev(txn, tree, from, to, limit, &mut batch)
        .unwrap();
    batch
        .iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect()
}

/// Every entry of a tree, read backwards through the engine in pages of `page` entries, each
/// page resuming below the last key of the one before.
fn read_all_rev(engine: &Engine, tree: TreeId, page: usize) -> Map {
    let txn = engine.begin();
    let mut out = Map::new();
    let mut to: Option<Vec<u8>> = None;
    let mut previous: Option<Vec<u8>> = None;
    loop {
        let upper = to.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        let chunk = scan_rev(engine, &txn, tree, (Bound::Unbounded, upper), page);
        let done = chunk.len() < page;
        if let Some((k, _)) = chunk.last() {
            to = Some(k.clone());
        }
        for (k, v) in chunk {
            assert!(
                previous.as_ref().is_none_or(|p| &k < p),
                "a backward scan stopped descending"
            );
            previous = Some(k.clone());
            assert!(out.insert(k, v).is_none(), "a scan page repeated a key");
        }
        if done {
            break;
        }
    }
    engine.rollback(txn);
    out
}

/// Odd seeds run with the smallest write buffer, so that big transactions spill their writes
/// into pages before they commit or roll back.
fn open(store: &Arc<MemStore>, seed: u64) -> Engine {
    let store: Arc<dyn PageStore> = store.clone();
    let defaults = EngineConfig::default();
    Engine::open(
        store,
        EngineConfig {
            buffer_pool_pages: 8,
            txn_write_buffer_bytes: if seed % 2 == 1 {
                0
            } else {
                defaults.txn_write_buffer_bytes
            },
            ..defaults
        },
    )
    .unwrap()
}

fn run(seed: u64, ops: usize) -> (u16, u64) {
    let _guard = SeedGuard(seed);
    let mut rng = Rng::new(seed);
    let store = Arc::new(MemStore::new());
    let mut engine = open(&store, seed);
    let mut trees = vec![CATALOG];
    for _ in 0..2 {
        trees.push(engine.create_tree().unwrap());
    }
    let mut committed: BTreeMap<TreeId, Map> = trees.iter().map(|&t| (t, Map::new())).collect();
    let mut keys = Keys { known: Vec::new() };
    let mut evictions = 0;
    let mut done = 0;
    while done < ops {
        let mut txn = engine.begin();
        let mut own: BTreeMap<TreeId, BTreeMap<Vec<u8>, Option<Vec<u8>>>> = BTreeMap::new();
        let big = rng.chance(10);
        let size = 1 + rng.below(if big { 200 } else { 30 });
        for _ in 0..size {
            done += 1;
            let tree = trees[rng.below(trees.len())];
            let seen = view(&committed, &own, tree);
            match rng.below(100) {
                0..35 => {
                    let k = keys.pick(&mut rng);
                    let v = value(&mut rng, &k);
                    let r = engine.insert(&mut txn, tree, &k, &v);
                    if seen.contains_key(&k) {
                        assert!(matches!(r, Err(EngineError::DuplicateKey)), "{r:?}");
                    } else {
                        r.unwrap();
                        own.entry(tree).or_default().insert(k, Some(v));
                    }
                }
                35..55 => {
                    let k = keys.pick(&mut rng);
                    let v = value(&mut rng, &k);
                    engine.put(&mut txn, tree, &k, &v).unwrap();
                    own.entry(tree).or_default().insert(k, Some(v));
                }
                55..70 => {
                    let k = keys.pick(&mut rng);
                    let was = engine.delete(&mut txn, tree, &k).unwrap();
                    assert_eq!(was, seen.contains_key(&k));
                    own.entry(tree).or_default().insert(k, None);
                }
                70..80 => {
                    let k = keys.pick(&mut rng);
                    assert_eq!(engine.get(&txn, tree, &k).unwrap(), seen.get(&k).cloned());
                }
                80..85 => {
                    // Keys known and fresh, often ascending (the order in which each lookup can
                    // start where the last one ended), sometimes repeated.
                    let mut batch_keys: Vec<Vec<u8>> =
                        (0..rng.below(80)).map(|_| keys.pick(&mut rng)).collect();
                    if rng.chance(60) {
                        batch_keys.sort();
                    }
                    let mut got = ScanBatch::default();
                    engine
                        .get_batch(&txn, tree, batch_keys.iter().map(Vec::as_slice), &mut got)
                        .unwrap();
                    let want: Vec<_> = batch_keys
                        .iter()
                        .filter_map(|k| seen.get(k).map(|v| (k.clone(), v.clone())))
                        .collect();
                    let got: Vec<_> = got.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
                    assert_eq!(got, want, "batched lookups");
                }
                85..91 => {
                    let (from, to) = (bound(&mut rng, &mut keys), bound(&mut rng, &mut keys));
                    let limit = rng.below(60);
                    let got = scan_rev(&engine, &txn, tree, (as_ref(&from), as_ref(&to)), limit);
                    let want: Vec<_> = seen
                        .iter()
                        .rev()
                        .filter(|(k, _)| in_range(k, as_ref(&from), as_ref(&to)))
                        .take(limit)
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    assert_eq!(got, want, "backward scan");
                }
                91..96 => {
                    let (from, to) = (bound(&mut rng, &mut keys), bound(&mut rng, &mut keys));
                    let limit = rng.below(60);
                    let got = engine
                        .scan(&txn, tree, as_ref(&from), as_ref(&to), limit)
                        .unwrap();
                    let want: Vec<_> = seen
                        .iter()
                        .filter(|(k, _)| in_range(k, as_ref(&from), as_ref(&to)))
                        .take(limit)
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    assert_eq!(got, want);
                }
                _ => {
                    let want = seen.keys().next_back().cloned();
                    assert_eq!(engine.last_key(&txn, tree).unwrap(), want);
                }
            }
        }
        if rng.chance(80) {
            let wrote = !txn.is_read_only();
            let lsn = engine.commit(txn).unwrap();
            assert_eq!(lsn.is_some(), wrote);
            for (tree, writes) in own {
                let m = committed.get_mut(&tree).unwrap();
                for (k, v) in writes {
                    match v {
                        Some(v) => m.insert(k, v),
                        None => m.remove(&k),
                    };
                }
            }
        } else {
            engine.rollback(txn);
        }
        if rng.chance(3) {
            evictions += engine.buffer_pool_stats().unwrap().evictions;
            drop(engine);
            engine = open(&store, seed);
        }
        if rng.chance(5) {
            for &tree in &trees {
                assert_eq!(
                    read_all(&engine, tree, 1 + rng.below(100)),
                    committed[&tree]
                );
                assert_eq!(
                    read_all_rev(&engine, tree, 1 + rng.below(100)),
                    committed[&tree]
                );
            }
        }
    }
    evictions += engine.buffer_pool_stats().unwrap().evictions;
    drop(engine);
    let engine = open(&store, seed);
    let mut height = 0;
    for &tree in &trees {
        assert_eq!(read_all(&engine, tree, 37), committed[&tree]);
        assert_eq!(read_all_rev(&engine, tree, 41), committed[&tree]);
        height = height.max(engine.tree_height(tree).unwrap());
    }
    (height, evictions)
}

#[test]
fn engine_matches_a_btreemap_model_with_a_tiny_buffer_pool() {
    if let Some(seed) = std::env::var("BOREALIS_ENGINE_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        run(seed, 6000);
        return;
    }
    for seed in [0x5eed_0001, 0xdead_beef_1234, 42, 7] {
        let (height, evictions) = run(seed, 6000);
        eprintln!("seed {seed}: height {height}, evictions {evictions}");
        assert!(
            height >= 3,
            "seed {seed}: trees only reached {height} levels"
        );
        assert!(evictions > 100, "seed {seed}: only {evictions} evictions");
    }
}
