//! The buffer pool: a bounded cache of page images, each with the LSN of its newest change.
//!
//! The compute never writes a page anywhere. A page enters the pool either from storage (a miss
//! reads it at the volume durable LSN) or by being created in an MTR, and it leaves by eviction.
//! Because storage can only rebuild a page from records it holds durably, the one rule of eviction
//! (the Aurora paper, SIGMOD 2017, "Reads"; DESIGN.md §3) is:
//!
//! > a frame may be evicted only if its page LSN ≤ the store's durable LSN,
//!
//! so that a later miss, which reads at the durable LSN, gets back exactly the image that was
//! dropped. Frames changed by an MTR still under way are pinned as well: their newest bytes are not
//! in any record yet. When no frame is evictable the pool grows past its capacity rather than wait
//! (nothing would wake a waiter while the caller holds the engine lock); it shrinks back on later
//! misses.
//!
//! Replacement is the clock algorithm: each frame has a reference bit set on every access; the hand
//! sweeps the frames, clearing bits, and evicts the first evictable frame whose bit is clear.
//!
//! ```text
//!   map: PageId -> frame         clock: [Some(page) | None (free)] ...
//!                                          ^ hand
//!   frame = { lsn, image (8 KiB), referenced, pinned, clock slot }
//! ```
//!
//! The frames live in the map itself, not in a vector the map points into: on a big table the
//! pages a lookup reads are not in the processor's cache, and each access would otherwise read
//! the map's bucket, then the frame, then the page, each waiting for the one before. The clock
//! names pages, so a sweep looks each one up; sweeps run only on a miss.
//!
//! The page's LSN is never kept inside the page bytes: storage returns it with the image, and MTRs
//! set it from the LSNs the store assigns.

use crate::EngineError;
use crate::limits::EVICTION_SWEEPS_MAX;
use crate::page::{self, Page};
use borealis_common::fasthash::FastMap;
use borealis_common::pagestore::PageStore;
use borealis_common::{Lsn, PageId};

/// Counters for tests and monitoring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Accesses served from the pool.
    pub hits: u64,
    /// Accesses that read the page from storage.
    pub misses: u64,
    /// Frames dropped to make room.
    pub evictions: u64,
    /// Frames currently resident.
    pub resident_pages: usize,
}

pub(crate) struct Frame {
    pub(crate) page: PageId,
    /// LSN of the newest record that changed this page (0: created and never logged yet).
    pub(crate) lsn: Lsn,
    pub(crate) image: Box<Page>,
    referenced: bool,
    /// Changed by the MTR under way: not evictable whatever its LSN.
    pub(crate) pinned: bool,
    /// Where the page sits in the clock.
    clock_slot: usize,
}

pub(crate) struct BufferPool {
    capacity_pages: usize,
    map: FastMap<PageId, Frame>,
    /// The resident pages in the hand's order; `None` is a free slot.
    clock: Vec<Option<PageId>>,
    free: Vec<usize>,
    hand: usize,
    stats: PoolStats,
}

impl BufferPool {
    pub(crate) fn new(capacity_pages: usize) -> BufferPool {
        assert!(capacity_pages > 0, "a buffer pool needs at least one frame");
        BufferPool {
            capacity_pages,
            map: FastMap::with_capacity_and_hasher(capacity_pages, Default::default()),
            clock: Vec::with_capacity(capacity_pages),
            free: Vec::new(),
            hand: 0,
            stats: PoolStats::default(),
        }
    }

    pub(crate) fn stats(&self) -> PoolStats {
        PoolStats {
            resident_pages: self.map.len(),
            ..self.stats
        }
    }

    /// The resident frame of `page`, if any, without counting as an access.
    pub(crate) fn peek(&self, page: PageId) -> Option<&Frame> {
        self.map.get(&page)
    }

    /// The resident frame of `page`, if any. Counts as an access.
    pub(crate) fn resident(&mut self, page: PageId) -> Option<&mut Frame> {
        let frame = self.map.get_mut(&page)?;
        frame.referenced = true;
        Some(frame)
    }

    /// The frame of `page`, read from storage at its durable LSN on a miss. `None` if storage has
    /// never seen the page. A page read from storage is validated before anyone sees it.
    pub(crate) fn fetch(
        &mut self,
        store: &dyn PageStore,
        page: PageId,
    ) -> Result<Option<&mut Frame>, EngineError> {
        // Looked up twice on a hit: a frame returned from the first lookup's `if let` would
        // keep the map borrowed on the miss path too. The second finds the same bucket in the
        // processor's cache.
        if self.map.contains_key(&page) {
            self.stats.hits += 1;
            let frame = self.map.get_mut(&page).expect("the frame was just found");
            frame.referenced = true;
            return Ok(Some(frame));
        }
        self.stats.misses += 1;
        let read_point = store.durable_lsn();
        let Some(version) = store.get_page(page, read_point)? else {
            return Ok(None);
        };
        if version.lsn == Lsn::ZERO || version.lsn > read_point {
            return Err(EngineError::Corrupted(format!(
                "page {page}: storage returned LSN {} for read point {read_point}",
                version.lsn
            )));
        }
        page::validate(page, &version.image)
            .map_err(|why| EngineError::Corrupted(format!("page {page}: {why}")))?;
        Ok(Some(self.install(
            store,
            page,
            version.lsn,
            version.image,
            false,
        )))
    }

    /// Adds a frame for a page that is not resident, evicting another if the pool is full.
    pub(crate) fn install(
        &mut self,
        store: &dyn PageStore,
        page: PageId,
        lsn: Lsn,
        image: Box<Page>,
        pinned: bool,
    ) -> &mut Frame {
        assert!(
            !self.map.contains_key(&page),
            "page {page} installed twice in the buffer pool"
        );
        self.make_room(store);
        let clock_slot = match self.free.pop() {
            Some(slot) => {
                self.clock[slot] = Some(page);
                slot
            }
            None => {
                self.clock.push(Some(page));
                self.clock.len() - 1
            }
        };
        let frame = Frame {
            page,
            lsn,
            image,
            referenced: true,
            pinned,
            clock_slot,
        };
        self.map.entry(page).insert_entry(frame).into_mut()
    }

    /// Drops a frame whatever its state: only for pages created by an MTR that was abandoned, so
    /// storage never saw them.
    pub(crate) fn forget(&mut self, page: PageId) {
        if let Some(frame) = self.map.remove(&page) {
            self.clock[frame.clock_slot] = None;
            self.free.push(frame.clock_slot);
        }
    }

    /// Evicts until there is room for one more frame, or nothing more is evictable.
    fn make_room(&mut self, store: &dyn PageStore) {
        if self.map.len() < self.capacity_pages {
            return;
        }
        let durable = store.durable_lsn();
        let excess = self.map.len() + 1 - self.capacity_pages;
        for _ in 0..excess {
            if !self.evict_one(durable) {
                break;
            }
        }
    }

    /// One clock sweep (at most [`EVICTION_SWEEPS_MAX`] turns). Returns whether a frame went.
    fn evict_one(&mut self, durable: Lsn) -> bool {
        let n = self.clock.len();
        if n == 0 {
            return false;
        }
        for _ in 0..EVICTION_SWEEPS_MAX * n {
            let slot = self.hand;
            self.hand = (self.hand + 1) % n;
            let Some(page) = self.clock[slot] else {
                continue;
            };
            let frame = self
                .map
                .get_mut(&page)
                .expect("the clock names a resident page");
            debug_assert_eq!(frame.clock_slot, slot, "a frame knows its clock slot");
            if frame.pinned || frame.lsn > durable {
                continue;
            }
            if frame.referenced {
                frame.referenced = false;
                continue;
            }
            assert!(
                !frame.pinned && frame.lsn <= durable,
                "evicting page {} at LSN {} above the durable LSN {durable}",
                frame.page,
                frame.lsn
            );
            self.map.remove(&page);
            self.clock[slot] = None;
            self.free.push(slot);
            self.stats.evictions += 1;
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use borealis_common::PAGE_SIZE;
    use borealis_common::pagestore::{MemStore, RecordDraft};
    use borealis_common::redo::init_image;

    /// A store whose durable LSN the test controls, over a MemStore.
    struct Lagging {
        inner: MemStore,
        durable: std::sync::Mutex<Lsn>,
    }

    impl PageStore for Lagging {
        fn durable_lsn(&self) -> Lsn {
            *self.durable.lock().unwrap()
        }
        fn get_page(
            &self,
            page: PageId,
            read_point: Lsn,
        ) -> Result<
            Option<borealis_common::pagestore::PageVersion>,
            borealis_common::pagestore::StoreError,
        > {
            self.inner.get_page(page, read_point)
        }
        fn append_mtr(
            &self,
            records: Vec<RecordDraft>,
        ) -> Result<Lsn, borealis_common::pagestore::StoreError> {
            self.inner.append_mtr(records)
        }
    }

    fn leaf(id: PageId) -> Box<Page> {
        let mut p = Box::new([0u8; PAGE_SIZE]);
        page::init_node(&mut p, id, page::Kind::Leaf, 0, id, 0);
        p
    }

    #[test]
    fn frames_above_the_durable_lsn_are_never_evicted() {
        let store = Lagging {
            inner: MemStore::new(),
            durable: std::sync::Mutex::new(Lsn(0)),
        };
        let mut pool = BufferPool::new(2);
        // Three pages written to storage at LSNs 1..=3, resident with those LSNs.
        for i in 0..3u64 {
            let id = PageId(10 + i);
            let lsn = store
                .append_mtr(vec![RecordDraft {
                    page: id,
                    prev_page_lsn: Lsn(0),
                    payload: init_image(&leaf(id)),
                }])
                .unwrap();
            pool.install(&store, id, lsn, leaf(id), false);
        }
        // Nothing was durable: the pool grew past its capacity instead of evicting.
        assert_eq!(pool.stats().resident_pages, 3);
        assert_eq!(pool.stats().evictions, 0);
        // Page 10 becomes durable: it alone may go.
        *store.durable.lock().unwrap() = Lsn(1);
        pool.install(&store, PageId(99), Lsn(0), leaf(PageId(99)), true);
        assert_eq!(pool.stats().evictions, 1);
        assert!(pool.resident(PageId(10)).is_none());
        assert!(pool.resident(PageId(11)).is_some());
        assert!(pool.resident(PageId(12)).is_some());
        // Everything durable, but page 99 is pinned: it stays.
        *store.durable.lock().unwrap() = Lsn(3);
        for i in 0..4u64 {
            let id = PageId(200 + i);
            pool.install(&store, id, Lsn(0), leaf(id), false);
        }
        assert!(pool.resident(PageId(99)).is_some());
        // A miss reads the evicted page back at the durable LSN, with its LSN.
        let f = pool.fetch(&store, PageId(10)).unwrap().unwrap();
        assert_eq!(f.lsn, Lsn(1));
        assert_eq!(*f.image, *leaf(PageId(10)));
    }
}
