//! A bounded cache of materialised page versions.
//!
//! For each page the cache keeps one image: the newest version any read has built. A read at a
//! read point at or above that version starts from it and applies only the records after it; a
//! read at an older read point ignores it and rebuilds from the page's newest `Init` at or below
//! the read point, so an old read point stays exact. Pages are evicted least recently used first
//! once [`PAGE_CACHE_PAGES_MAX`](crate::limits::PAGE_CACHE_PAGES_MAX) pages are cached.
//!
//! A truncation can remove the very record a cached version ends with, so learning a truncation
//! clears the cache and bumps its generation; a read that started before the truncation carries
//! the old generation and its result is not cached.

use borealis_common::{Lsn, PAGE_SIZE, PageId};
use std::collections::{BTreeMap, HashMap};

struct Entry {
    lsn: Lsn,
    image: Box<[u8; PAGE_SIZE]>,
    used: u64,
}

/// Newest materialised version per page, LRU-bounded.
pub struct PageCache {
    capacity: usize,
    entries: HashMap<PageId, Entry>,
    /// `used` tick → page, oldest first.
    lru: BTreeMap<u64, PageId>,
    tick: u64,
    generation: u64,
}

impl PageCache {
    #[must_use]
    pub fn new(capacity: usize) -> PageCache {
        assert!(capacity > 0, "a page cache holds at least one page");
        PageCache {
            capacity,
            entries: HashMap::new(),
            lru: BTreeMap::new(),
            tick: 0,
            generation: 0,
        }
    }

    /// The generation a read must present to [`insert`](Self::insert) its result.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Forgets everything (a truncation changed what pages look like).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.lru.clear();
        self.generation += 1;
    }

    /// The LSN of the cached version of `page`.
    #[must_use]
    pub fn lsn(&self, page: PageId) -> Option<Lsn> {
        self.entries.get(&page).map(|e| e.lsn)
    }

    /// A copy of the cached image of `page` if its version is `lsn`, marking it recently used.
    pub fn get(&mut self, page: PageId, lsn: Lsn) -> Option<Box<[u8; PAGE_SIZE]>> {
        self.tick += 1;
        let tick = self.tick;
        let e = self.entries.get_mut(&page)?;
        if e.lsn != lsn {
            return None;
        }
        self.lru.remove(&e.used);
        e.used = tick;
        self.lru.insert(tick, page);
        Some(e.image.clone())
    }

    /// Caches a version built by a read of generation `generation`, unless a newer version of the
    /// page is already cached.
    pub fn insert(&mut self, generation: u64, page: PageId, lsn: Lsn, image: &[u8; PAGE_SIZE]) {
        if generation != self.generation {
            return;
        }
        self.tick += 1;
        let tick = self.tick;
        if let Some(e) = self.entries.get_mut(&page) {
            if e.lsn >= lsn {
                return;
            }
            self.lru.remove(&e.used);
            e.lsn = lsn;
            e.image.copy_from_slice(image);
            e.used = tick;
            self.lru.insert(tick, page);
            return;
        }
        while self.entries.len() >= self.capacity {
            let Some((_, victim)) = self.lru.pop_first() else {
                break;
            };
            self.entries.remove(&victim);
        }
        self.entries.insert(
            page,
            Entry {
                lsn,
                image: Box::new(*image),
                used: tick,
            },
        );
        self.lru.insert(tick, page);
        assert!(
            self.entries.len() <= self.capacity && self.entries.len() == self.lru.len(),
            "page cache bookkeeping is out of step"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_version_evicts_lru_and_ignores_stale_generations() {
        let mut c = PageCache::new(2);
        let img = |b: u8| Box::new([b; PAGE_SIZE]);
        c.insert(0, PageId(1), Lsn(5), &img(5));
        c.insert(0, PageId(1), Lsn(3), &img(3));
        assert_eq!(
            c.lsn(PageId(1)),
            Some(Lsn(5)),
            "an older version never replaces a newer"
        );
        assert!(c.get(PageId(1), Lsn(3)).is_none());
        assert_eq!(c.get(PageId(1), Lsn(5)).map(|i| i[0]), Some(5));
        c.insert(0, PageId(2), Lsn(6), &img(6));
        assert!(c.get(PageId(1), Lsn(5)).is_some()); // page 1 is now the most recent
        c.insert(0, PageId(3), Lsn(7), &img(7));
        assert_eq!(c.lsn(PageId(2)), None, "page 2 was least recently used");
        assert_eq!(c.lsn(PageId(1)), Some(Lsn(5)));
        let g = c.generation();
        c.clear();
        c.insert(g, PageId(4), Lsn(8), &img(8));
        assert_eq!(
            c.lsn(PageId(4)),
            None,
            "a read from before the clear is not cached"
        );
        assert_eq!(c.lsn(PageId(1)), None);
    }
}
