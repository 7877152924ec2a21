//! Multi-version rows: version chains in B+tree leaves, the transaction status tree, visibility
//! at a snapshot LSN, and pruning (DESIGN.md §3, "MVCC where a snapshot is an LSN").
//!
//! A B+tree entry of a user tree (the catalog included) holds, under the row's key, the row's
//! committed versions, newest first, each tagged with the id of the transaction that committed it:
//!
//! ```text
//!  key ──► chain = flags:u8 │ txn:u64 len:u16 value │ txn:u64 len:u16 value │ ...
//!                            └──── newest ─────────┘ └──── older ─────────┘
//!          len = 0xFFFF: a tombstone (the row was deleted by that transaction), no value bytes
//!          flags bit 0 ("history cut"): older versions were dropped to make the chain fit in a
//!          cell while a snapshot might still have needed them
//! ```
//!
//! Write sets are applied at commit, inside the commit's MTR, so a small transaction's versions
//! reach pages already committed. What a page alone does not say is *when* a version's
//! transaction committed; that lives in the transaction status tree (page
//! [`STATUS`]), written in the same MTR as the versions, so storage and read
//! replicas that replay the redo stream learn both at once:
//!
//! ```text
//!  status tree entry:  key = bucket:u16 BE ‖ txn:u64 BE   (bucket = txn mod STATUS_BUCKETS)
//!                      value = visibility LSN:u64 LE, or UNCOMMITTED (u64::MAX)
//! ```
//!
//! A large transaction cannot keep its write set in memory: once it holds more than the engine's
//! write-buffer budget, it is *spilled*. The first spill writes the transaction's status entry as
//! [`UNCOMMITTED`] (and reserves its id on the meta page, so the id is never handed out again),
//! then the buffered writes go into their chains as versions of the transaction, in bounded MTRs,
//! and leave memory. Such a version is invisible to every snapshot but its own transaction's,
//! because `UNCOMMITTED` is above every LSN. The commit MTR overwrites the entry with the
//! visibility LSN, which makes every spilled version visible at once, exactly as if it had been
//! written by the commit MTR itself. A rollback writes nothing: the entry stays `UNCOMMITTED`, and
//! so does the entry of a transaction that was running when the writer crashed. Whether an
//! `UNCOMMITTED` transaction is still running is known only in memory (the *live* set); versions
//! of a transaction that is not live are garbage, skipped by every read and removed by pruning.
//! Recovery therefore still has no undo to do. A spilled version at the head of a chain is also
//! the row's write lock (its in-memory row lock is released at the spill, to bound memory): a
//! writer that finds a live foreign version at the head waits for that transaction to end, as
//! PostgreSQL waits on a tuple's xmax.
//!
//! The visibility LSN `v` of a transaction satisfies `previous CPL < v ≤ commit LSN`, where the
//! previous CPL is the last LSN the engine had appended before the commit's MTR. The exact commit
//! LSN cannot be written into a page of the MTR that it ends (the store assigns LSNs at append),
//! but `v` decides visibility identically for every read point that is a CPL, and every snapshot
//! is one (it is a volume durable LSN, and VDL is a CPL by definition): for such a snapshot `S`,
//! `commit LSN ≤ S` ⇔ the whole commit MTR is at or below `S` ⇔ `v ≤ S`.
//!
//! A version of transaction `t` is visible to snapshot `S` iff `v(t) ≤ S`. A transaction id that
//! has no status entry committed so long ago that every snapshot in use sees it: status entries are
//! truncated only once `v(t)` is at or below the horizon (the oldest snapshot anyone may still
//! read at), and a transaction never appears in a page without its entry having been written in
//! the same MTR. So "absent" simply means "visible to all".
//!
//! Keying the status tree by bucket first spreads the entries of consecutive transactions over
//! `STATUS_BUCKETS` key ranges. Each commit inserts into its bucket and truncates old entries of the
//! same bucket, so every leaf keeps receiving inserts and losing old entries at the same rate, and
//! the tree's size stays bounded without page merges (keyed by id alone, inserts would go to the
//! rightmost leaf while truncation emptied the leftmost ones, which B+trees here never reclaim).
//!
//! Pruning a chain at horizon `H` keeps every version newer than `H` plus the newest version at or
//! below `H` (which every snapshot in use sees, or would see through a newer one); a kept base that
//! is a tombstone is dropped too, since "no visible version" already reads as absent, and a chain
//! left empty removes the key. Pruning runs on every chain a commit rewrites, and over whole
//! trees in [`Engine::vacuum`](crate::Engine::vacuum) and
//! [`Engine::vacuum_step`](crate::Engine::vacuum_step).

use crate::btree;
use crate::limits::{CELL_ENTRY_BYTES_MAX, STATUS_BUCKETS, STATUS_CACHE_ENTRIES_MAX};
use crate::mtr::Mtr;
use crate::{EngineError, STATUS, TreeId};
use borealis_common::fasthash::FastMap;
use borealis_common::{Lsn, TxnId};
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

/// Bytes of a chain's header (the flags byte).
pub(crate) const CHAIN_HEADER_BYTES: usize = 1;
/// Bytes of a version besides its value: transaction id and length.
pub(crate) const VERSION_HEADER_BYTES: usize = 10;
/// The length that marks a tombstone.
const TOMBSTONE_LEN: u16 = u16::MAX;
/// Chain flag: older versions were dropped to fit while a snapshot might have needed them.
const FLAG_HISTORY_CUT: u8 = 1;
/// Status entry of a spilled transaction that has not committed (running, rolled back, or lost
/// in a crash): above every LSN, so no snapshot sees its versions.
pub(crate) const UNCOMMITTED: Lsn = Lsn(u64::MAX);

/// Spilled transactions still running in this process (see the module essay). Shared by the
/// engine's status cache and every transaction, which leaves it when it ends.
#[derive(Default)]
pub(crate) struct LiveSet(Mutex<HashSet<TxnId>>);

impl LiveSet {
    fn guard(&self) -> MutexGuard<'_, HashSet<TxnId>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn insert(&self, txn: TxnId) {
        self.guard().insert(txn);
    }

    pub(crate) fn remove(&self, txn: TxnId) {
        self.guard().remove(&txn);
    }

    pub(crate) fn contains(&self, txn: TxnId) -> bool {
        self.guard().contains(&txn)
    }
}

/// Where a transaction whose id appears in a chain stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TxnState {
    /// Committed with this visibility LSN (`None`: visible to every snapshot).
    Committed(Option<Lsn>),
    /// Spilled and still running.
    Live,
    /// Spilled and never committed: its versions are garbage.
    Dead,
}

/// One committed version of a row: its transaction and its value (`None`: deleted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Version {
    pub(crate) txn: TxnId,
    pub(crate) value: Option<Vec<u8>>,
}

/// A row's versions, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Chain {
    pub(crate) history_cut: bool,
    pub(crate) versions: Vec<Version>,
}

impl Chain {
    /// Decodes stored bytes; they come from storage, so nothing is trusted.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Chain, EngineError> {
        let raw = RawChain::new(bytes)?;
        let mut versions = Vec::new();
        for v in raw.versions() {
            let (txn, value) = v?;
            versions.push(Version {
                txn,
                value: value.map(|r| bytes[r].to_vec()),
            });
        }
        Ok(Chain {
            history_cut: raw.history_cut,
            versions,
        })
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        assert!(!self.versions.is_empty(), "an empty chain is a removed key");
        let mut out = Vec::with_capacity(self.encoded_len());
        out.push(if self.history_cut {
            FLAG_HISTORY_CUT
        } else {
            0
        });
        for v in &self.versions {
            out.extend_from_slice(&v.txn.0.to_le_bytes());
            match &v.value {
                None => out.extend_from_slice(&TOMBSTONE_LEN.to_le_bytes()),
                Some(value) => {
                    let len = u16::try_from(value.len())
                        .ok()
                        .filter(|&l| l != TOMBSTONE_LEN)
                        .expect("a value longer than the entry limit reached a chain");
                    out.extend_from_slice(&len.to_le_bytes());
                    out.extend_from_slice(value);
                }
            }
        }
        out
    }

    fn encoded_len(&self) -> usize {
        CHAIN_HEADER_BYTES
            + self
                .versions
                .iter()
                .map(|v| VERSION_HEADER_BYTES + v.value.as_ref().map_or(0, Vec::len))
                .sum::<usize>()
    }

    /// Whether key and chain fit in a leaf cell as they are.
    pub(crate) fn fits(&self, key_bytes: usize) -> bool {
        key_bytes + self.encoded_len() <= CELL_ENTRY_BYTES_MAX
    }

    /// Drops the oldest versions until key and chain fit in a leaf cell, marking the history cut
    /// if a dropped version might still be read. The newest version always fits (the entry limits
    /// leave room for its header).
    pub(crate) fn fit(&mut self, key_bytes: usize) {
        while key_bytes + self.encoded_len() > CELL_ENTRY_BYTES_MAX {
            assert!(
                self.versions.len() > 1,
                "a single version exceeds the cell limit"
            );
            self.versions.pop();
            self.history_cut = true;
        }
    }
}

/// The status tree key of a transaction.
pub(crate) fn status_key(txn: TxnId) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[..2].copy_from_slice(&status_bucket(txn).to_be_bytes());
    k[2..].copy_from_slice(&txn.0.to_be_bytes());
    k
}

/// The bucket of a transaction in the status tree.
pub(crate) fn status_bucket(txn: TxnId) -> u16 {
    u16::try_from(txn.0 % u64::from(STATUS_BUCKETS)).expect("bucket count fits in u16")
}

/// Decodes a status tree entry.
pub(crate) fn decode_status(key: &[u8], value: &[u8]) -> Result<(TxnId, Lsn), EngineError> {
    let (Ok(k), Ok(v)) = (<[u8; 10]>::try_from(key), <[u8; 8]>::try_from(value)) else {
        return Err(EngineError::Corrupted(
            "transaction status entry of the wrong size".into(),
        ));
    };
    let mut id = [0u8; 8];
    id.copy_from_slice(&k[2..]);
    let txn = TxnId(u64::from_be_bytes(id));
    if status_key(txn) != k {
        return Err(EngineError::Corrupted(format!(
            "transaction status entry of {txn} in the wrong bucket"
        )));
    }
    Ok((txn, Lsn(u64::from_le_bytes(v))))
}

/// A bounded in-memory cache of the status tree: transaction id → visibility LSN, `None` for
/// "no entry: visible to every snapshot". Entries never need invalidating: an entry goes from
/// present to absent only once every snapshot in use sees the transaction, so a cached LSN and
/// "absent" give the same answer to every snapshot that can still ask; and the one other change,
/// `UNCOMMITTED` to a visibility LSN at a spilled transaction's commit, is made through this cache
/// under the engine lock.
pub(crate) struct StatusCache {
    map: FastMap<TxnId, Option<Lsn>>,
    live: Arc<LiveSet>,
}

impl StatusCache {
    pub(crate) fn new(live: Arc<LiveSet>) -> StatusCache {
        StatusCache {
            map: FastMap::default(),
            live,
        }
    }

    /// Where `txn` stands: committed (and when), or spilled and live or dead.
    pub(crate) fn state(&mut self, mtr: &mut Mtr<'_>, txn: TxnId) -> Result<TxnState, EngineError> {
        Ok(match self.lookup(mtr, txn)? {
            Some(UNCOMMITTED) if self.live.contains(txn) => TxnState::Live,
            Some(UNCOMMITTED) => TxnState::Dead,
            v => TxnState::Committed(v),
        })
    }

    /// Marks a transaction spilled: its entry is `UNCOMMITTED` and it is live.
    pub(crate) fn spilled(&mut self, txn: TxnId) {
        self.make_room();
        self.map.insert(txn, Some(UNCOMMITTED));
        self.live.insert(txn);
    }

    /// Records a commit's visibility LSN (called right after its MTR is appended); a spilled
    /// transaction stops being live here, under the engine lock, in the same step.
    pub(crate) fn insert(&mut self, txn: TxnId, visibility: Lsn) {
        self.make_room();
        self.map.insert(txn, Some(visibility));
        self.live.remove(txn);
    }

    fn make_room(&mut self) {
        if self.map.len() >= STATUS_CACHE_ENTRIES_MAX {
            // Dropping entries is always correct (the status tree is the truth); the oldest half
            // by id is the least likely to be asked about again.
            let mut ids: Vec<TxnId> = self.map.keys().copied().collect();
            ids.sort_unstable();
            for id in &ids[..ids.len() / 2] {
                self.map.remove(id);
            }
        }
    }

    /// The visibility LSN of a committed transaction, `None` if it is visible to every snapshot.
    pub(crate) fn lookup(
        &mut self,
        mtr: &mut Mtr<'_>,
        txn: TxnId,
    ) -> Result<Option<Lsn>, EngineError> {
        if let Some(v) = self.map.get(&txn) {
            return Ok(*v);
        }
        let key = status_key(txn);
        let found = match btree::get(mtr, STATUS, &key)? {
            None => None,
            Some(v) => Some(decode_status(&key, &v)?.1),
        };
        self.make_room();
        self.map.insert(txn, found);
        Ok(found)
    }

    /// [`lookup`](Self::lookup) of a transaction whose status is cached already; `None` if it
    /// is not (then it must be looked up in the status tree).
    #[inline]
    pub(crate) fn cached(&self, txn: TxnId) -> Option<Option<Lsn>> {
        self.map.get(&txn).copied()
    }

    /// Whether `txn`'s versions are visible to `snapshot`.
    pub(crate) fn visible(
        &mut self,
        mtr: &mut Mtr<'_>,
        txn: TxnId,
        snapshot: Lsn,
    ) -> Result<bool, EngineError> {
        Ok(self.lookup(mtr, txn)?.is_none_or(|v| v <= snapshot))
    }

    /// Forgets a truncated entry (it now reads as "visible to all", which it is).
    pub(crate) fn forget(&mut self, txn: TxnId) {
        self.map.remove(&txn);
    }
}

/// A stored chain read in place: the same checks as [`Chain::decode`], without copying a
/// value. Scans use it to find the visible version of each row with no allocation.
pub(crate) struct RawChain<'a> {
    bytes: &'a [u8],
    pub(crate) history_cut: bool,
}

impl<'a> RawChain<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Result<RawChain<'a>, EngineError> {
        let (&flags, rest) = bytes.split_first().ok_or_else(|| chain_corrupt("empty"))?;
        if flags & !FLAG_HISTORY_CUT != 0 {
            return Err(chain_corrupt("unknown flags"));
        }
        if rest.is_empty() {
            return Err(chain_corrupt("no version"));
        }
        Ok(RawChain {
            bytes,
            history_cut: flags & FLAG_HISTORY_CUT != 0,
        })
    }

    /// Each version, newest first: its transaction and where its value lies in the chain's
    /// bytes (`None`: deleted). Ends at the first malformed version, with the error.
    pub(crate) fn versions(
        &self,
    ) -> impl Iterator<Item = Result<(TxnId, Option<std::ops::Range<usize>>), EngineError>> + 'a
    {
        let bytes = self.bytes;
        let mut at = 1usize;
        let mut failed = false;
        std::iter::from_fn(move || {
            if failed || at == bytes.len() {
                return None;
            }
            let rest = &bytes[at..];
            if rest.len() < VERSION_HEADER_BYTES {
                failed = true;
                return Some(Err(chain_corrupt("truncated version header")));
            }
            let mut id = [0u8; 8];
            id.copy_from_slice(&rest[..8]);
            let len = u16::from_le_bytes([rest[8], rest[9]]);
            at += VERSION_HEADER_BYTES;
            let value = if len == TOMBSTONE_LEN {
                None
            } else {
                let len = usize::from(len);
                if bytes.len() - at < len {
                    failed = true;
                    return Some(Err(chain_corrupt("value runs past the cell")));
                }
                at += len;
                Some(at - len..at)
            };
            Some(Ok((TxnId(u64::from_le_bytes(id)), value)))
        })
    }
}

fn chain_corrupt(why: &str) -> EngineError {
    EngineError::Corrupted(format!("version chain: {why}"))
}

/// Where in `raw` (a stored chain) the value that `snapshot` of transaction `own` sees lies,
/// `None` if it sees no row: [`read_at`] without decoding the chain or copying the value.
/// Writers of versions too new for the snapshot are added to `newer`.
pub(crate) fn visible_in(
    cache: &mut StatusCache,
    mtr: &mut Mtr<'_>,
    raw: &[u8],
    snapshot: Lsn,
    own: TxnId,
    newer: &mut Vec<TxnId>,
) -> Result<Option<std::ops::Range<usize>>, EngineError> {
    let chain = RawChain::new(raw)?;
    for v in chain.versions() {
        let (txn, value) = v?;
        if txn == own {
            return Ok(value);
        }
        match cache.lookup(mtr, txn)? {
            Some(UNCOMMITTED) => continue,
            Some(l) if l > snapshot => newer.push(txn),
            _ => return Ok(value),
        }
    }
    if chain.history_cut {
        return Err(EngineError::SnapshotTooOld { snapshot });
    }
    Ok(None)
}

/// [`visible_in`] answered from statuses at hand: `status(txn)` is the cached status of `txn`
/// (as [`StatusCache::lookup`] gives it), `None` when not cached. Returns `Ok(None)`, with
/// `newer` as it was, at the first writer whose status is not at hand: the caller then asks
/// [`visible_in`], which reads it. Lets a scan decide a row while it holds the row's page.
pub(crate) fn visible_cached(
    status: &mut impl FnMut(TxnId) -> Option<Option<Lsn>>,
    raw: &[u8],
    snapshot: Lsn,
    own: TxnId,
    newer: &mut Vec<TxnId>,
) -> Result<Option<Option<std::ops::Range<usize>>>, EngineError> {
    let newer_before = newer.len();
    let chain = RawChain::new(raw)?;
    for v in chain.versions() {
        let (txn, value) = v?;
        if txn == own {
            return Ok(Some(value));
        }
        let Some(committed) = status(txn) else {
            newer.truncate(newer_before);
            return Ok(None);
        };
        match committed {
            Some(UNCOMMITTED) => continue,
            Some(l) if l > snapshot => newer.push(txn),
            _ => return Ok(Some(value)),
        }
    }
    if chain.history_cut {
        return Err(EngineError::SnapshotTooOld { snapshot });
    }
    Ok(Some(None))
}

/// What a snapshot sees of one chain.
pub(crate) struct Seen {
    /// The visible value (`None`: no visible row).
    pub(crate) value: Option<Vec<u8>>,
    /// Transactions whose versions of this row were too new for the snapshot (serializable
    /// reads turn them into rw-antidependencies).
    pub(crate) newer: Vec<TxnId>,
}

/// The version of `chain` that `snapshot` of transaction `own` sees (its own spilled versions
/// included). `SnapshotTooOld` if the version it needed was dropped to make the chain fit.
pub(crate) fn read_at(
    cache: &mut StatusCache,
    mtr: &mut Mtr<'_>,
    chain: &Chain,
    snapshot: Lsn,
    own: TxnId,
) -> Result<Seen, EngineError> {
    let mut newer = Vec::new();
    for v in &chain.versions {
        if v.txn == own {
            return Ok(Seen {
                value: v.value.clone(),
                newer,
            });
        }
        match cache.lookup(mtr, v.txn)? {
            // Never committed (yet): no snapshot sees it, and it is no rw-antidependency.
            Some(UNCOMMITTED) => continue,
            Some(l) if l > snapshot => newer.push(v.txn),
            _ => {
                return Ok(Seen {
                    value: v.value.clone(),
                    newer,
                });
            }
        }
    }
    if chain.history_cut {
        return Err(EngineError::SnapshotTooOld { snapshot });
    }
    Ok(Seen { value: None, newer })
}

/// Prunes `chain` at `horizon` (see the module essay). Returns the number of versions dropped;
/// an emptied chain means the key goes.
pub(crate) fn prune(
    cache: &mut StatusCache,
    mtr: &mut Mtr<'_>,
    chain: &mut Chain,
    horizon: Lsn,
) -> Result<usize, EngineError> {
    let before = chain.versions.len();
    let mut dead = Vec::new();
    for (i, v) in chain.versions.iter().enumerate() {
        if cache.state(mtr, v.txn)? == TxnState::Dead {
            dead.push(i);
        }
    }
    for i in dead.into_iter().rev() {
        chain.versions.remove(i);
    }
    let mut base = None;
    for (i, v) in chain.versions.iter().enumerate() {
        if cache.visible(mtr, v.txn, horizon)? {
            base = Some(i);
            break;
        }
    }
    if let Some(i) = base {
        chain.versions.truncate(i + 1);
        // Every snapshot in use is at or above the horizon and finds its version at or above
        // the base, so nothing it needs was dropped, now or earlier.
        chain.history_cut = false;
        if chain.versions[i].value.is_none() {
            chain.versions.pop();
        }
    }
    Ok(before - chain.versions.len())
}

/// Whether the chain's newest version that is not garbage (transaction `own`'s, a committed one,
/// or a live spilled one) holds a row.
pub(crate) fn newest_value(
    cache: &mut StatusCache,
    mtr: &mut Mtr<'_>,
    chain: &Chain,
    own: TxnId,
) -> Result<bool, EngineError> {
    for v in &chain.versions {
        if v.txn == own || cache.state(mtr, v.txn)? != TxnState::Dead {
            return Ok(v.value.is_some());
        }
    }
    Ok(false)
}

/// A tree's stored chain for `key`, decoded.
pub(crate) fn chain_of(
    mtr: &mut Mtr<'_>,
    tree: TreeId,
    key: &[u8],
) -> Result<Option<Chain>, EngineError> {
    btree::get(mtr, tree, key)?
        .map(|bytes| Chain::decode(&bytes))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_round_trip_and_refuse_damage() {
        let chain = Chain {
            history_cut: true,
            versions: vec![
                Version {
                    txn: TxnId(9),
                    value: None,
                },
                Version {
                    txn: TxnId(7),
                    value: Some(b"seven".to_vec()),
                },
                Version {
                    txn: TxnId(3),
                    value: Some(Vec::new()),
                },
            ],
        };
        let bytes = chain.encode();
        assert_eq!(bytes.len(), chain.encoded_len());
        assert_eq!(Chain::decode(&bytes).unwrap(), chain);
        for cut in 0..bytes.len() {
            // Every prefix either decodes to fewer versions or is refused; never a panic.
            if let Ok(c) = Chain::decode(&bytes[..cut]) {
                assert!(c.versions.len() < 3);
            }
        }
        assert!(Chain::decode(&[2, 0, 0]).is_err());
        assert!(Chain::decode(&[0]).is_err());
    }

    #[test]
    fn status_keys_spread_over_buckets_and_decode() {
        let a = status_key(TxnId(5));
        let b = status_key(TxnId(6));
        assert_ne!(a[..2], b[..2]);
        assert_eq!(
            decode_status(&a, &7u64.to_le_bytes()).unwrap(),
            (TxnId(5), Lsn(7))
        );
        let mut wrong = a;
        wrong[1] ^= 1;
        assert!(decode_status(&wrong, &[0; 8]).is_err());
        assert!(decode_status(&a[..9], &[0; 8]).is_err());
    }

    #[test]
    fn fit_drops_the_oldest_and_marks_the_cut() {
        let big = vec![1u8; 1500];
        let mut chain = Chain {
            history_cut: false,
            versions: vec![
                Version {
                    txn: TxnId(2),
                    value: Some(big.clone()),
                },
                Version {
                    txn: TxnId(1),
                    value: Some(big),
                },
            ],
        };
        chain.fit(10);
        assert_eq!(chain.versions.len(), 1);
        assert!(chain.history_cut);
    }
}
