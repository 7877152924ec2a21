//! The seam between the engine and the storage tier.
//!
//! The engine never writes pages anywhere: it hands the redo of each mini-transaction to a
//! [`PageStore`], which assigns LSNs and ships the records, and it reads pages it does not have in
//! its buffer pool at a read point. The real implementation is the volume client (quorum writes to
//! six storage nodes); [`MemStore`] keeps everything in memory for engine tests.
//!
//! Calls are blocking: the engine is synchronous code run on blocking threads.

use crate::ids::{Lsn, PageId, PgId};
use crate::redo::{self, PAGE_SIZE, Payload, RedoRecord};
use std::collections::HashMap;
use std::sync::Mutex;
use thiserror::Error;

/// One record of an MTR before the store gives it an LSN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordDraft {
    pub page: PageId,
    /// The page's LSN before this change (0 for a page never written): the page backlink.
    pub prev_page_lsn: Lsn,
    pub payload: Payload,
}

/// A page image as of some LSN.
#[derive(Clone, Debug)]
pub struct PageVersion {
    /// LSN of the newest record applied to the page.
    pub lsn: Lsn,
    pub image: Box<[u8; PAGE_SIZE]>,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// Not enough storage nodes answered in time.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A newer writer has taken over the volume: this one may not write again.
    #[error("this writer has been fenced by a newer epoch")]
    Fenced,
    /// Storage holds corrupted data for the request and no healthy copy was reachable.
    #[error("corrupted data: {0}")]
    Corrupted(String),
}

impl StoreError {
    /// Whether retrying the same call later can succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// What the engine needs from the storage tier.
pub trait PageStore: Send + Sync {
    /// The volume durable LSN: every MTR at or below it is on a write quorum. Reads at this point
    /// see every change whose page has been evicted from the buffer pool.
    fn durable_lsn(&self) -> Lsn;

    /// The page as of `read_point` (≤ [`durable_lsn`](Self::durable_lsn)), or `None` if it was
    /// never written.
    fn get_page(&self, page: PageId, read_point: Lsn) -> Result<Option<PageVersion>, StoreError>;

    /// Ships one MTR. The store assigns consecutive LSNs (the returned one is the first; record `i`
    /// gets `first + i`), sets the backlinks and marks the last record as a CPL. Blocks only for
    /// back-pressure (the LAL bound). The records are not yet durable when this returns.
    fn append_mtr(&self, records: Vec<RecordDraft>) -> Result<Lsn, StoreError>;
}

/// An in-memory page store: everything is durable the moment it is appended. For engine tests.
#[derive(Default)]
pub struct MemStore {
    inner: Mutex<MemInner>,
}

/// Every version of one page, oldest first.
type Versions = Vec<(Lsn, Box<[u8; PAGE_SIZE]>)>;

#[derive(Default)]
struct MemInner {
    last: Lsn,
    pages: HashMap<PageId, Versions>,
    records: Vec<RedoRecord>,
}

impl MemStore {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Every record appended so far, in LSN order.
    pub fn records(&self) -> Vec<RedoRecord> {
        self.inner.lock().expect("poisoned").records.clone()
    }
}

impl PageStore for MemStore {
    fn durable_lsn(&self) -> Lsn {
        self.inner.lock().expect("poisoned").last
    }

    fn get_page(&self, page: PageId, read_point: Lsn) -> Result<Option<PageVersion>, StoreError> {
        let inner = self.inner.lock().expect("poisoned");
        Ok(inner.pages.get(&page).and_then(|versions| {
            versions
                .iter()
                .rev()
                .find(|(lsn, _)| *lsn <= read_point)
                .map(|(lsn, img)| PageVersion {
                    lsn: *lsn,
                    image: img.clone(),
                })
        }))
    }

    fn append_mtr(&self, drafts: Vec<RecordDraft>) -> Result<Lsn, StoreError> {
        assert!(!drafts.is_empty(), "an MTR has at least one record");
        let mut inner = self.inner.lock().expect("poisoned");
        let first = inner.last.next();
        let n = drafts.len();
        for (i, d) in drafts.into_iter().enumerate() {
            let lsn = inner.last.next();
            let prev_pg_lsn = inner.last;
            inner.last = lsn;
            if d.page != PageId::NONE {
                let versions = inner.pages.entry(d.page).or_default();
                let prev = versions.last().map_or(Lsn::ZERO, |(l, _)| *l);
                assert_eq!(
                    prev, d.prev_page_lsn,
                    "page backlink of {} does not match its last version",
                    d.page
                );
                let mut img = versions
                    .last()
                    .map_or_else(|| Box::new([0u8; PAGE_SIZE]), |(_, i)| i.clone());
                redo::apply(&mut img, &d.payload);
                versions.push((lsn, img));
            }
            inner.records.push(RedoRecord {
                lsn,
                pg: PgId(0),
                prev_pg_lsn,
                page: d.page,
                prev_page_lsn: d.prev_page_lsn,
                known_vdl: Lsn::ZERO,
                cpl: i + 1 == n,
                payload: d.payload,
            });
        }
        Ok(first)
    }
}
