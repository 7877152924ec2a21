//! Mini-transactions: the only way a page changes.
//!
//! An [`Mtr`] borrows the buffer pool for the duration of one engine operation. Every page access
//! goes through it. The first time the MTR writes a page it keeps the page's before-image and pins
//! the frame (a pinned frame holds bytes no record describes yet, so it must not be evicted).
//! [`Mtr::finish`] then turns the changes into redo:
//!
//! ```text
//!  touched pages, first-touch order      records (one MTR)                 after append
//!  ---------------------------------     -------------------------------   ----------------------
//!  page A  before-image, new image  -->  A: Patch = diff(before, new)  \    frame A.lsn = first
//!  page B  created in this MTR      -->  B: Init  = init_image(new)     >   frame B.lsn = first+1
//!  page C  unchanged                -->  (no record)                   /    pins released
//!  [commit payload, if any]         -->  NONE: Commit{txn, time}  (CPL)
//! ```
//!
//! Each record's page backlink is the frame's LSN before the change. The store assigns consecutive
//! LSNs and flags the last record as the CPL, so storage, replicas and recovery see the MTR as one
//! atomic unit: a B+tree split, or a whole transaction's writes plus its commit record, is either
//! wholly below the volume durable LSN or absent.
//!
//! Invariants: every changed page passes `page::validate` before it is logged (a failure is an
//! engine bug and stops the process); a page's LSN only grows; pages created in this MTR come from
//! the meta page's next-free counter, which the same MTR advances.
//!
//! If the MTR is dropped without [`Mtr::finish`] (an operation failed half way: a read error,
//! corruption found, a duplicate key), every touched frame gets its before-image back and created
//! pages leave the pool, so the buffer pool looks as if the operation never started. The same
//! happens when the append itself fails; the engine then refuses further work (see `Engine`),
//! because it cannot know whether storage kept any of the records.

use crate::EngineError;
use crate::META_PAGE;
use crate::page::{self, Page};
use crate::pool::BufferPool;
use borealis_common::fasthash::FastMap;
use borealis_common::pagestore::{PageStore, RecordDraft};
use borealis_common::redo;
use borealis_common::{Lsn, PAGE_SIZE, PageId, Payload};

struct Touched {
    page: PageId,
    /// The image before this MTR first wrote it; `None` for a page this MTR created.
    before: Option<Box<Page>>,
}

pub(crate) struct Mtr<'a> {
    pool: &'a mut BufferPool,
    store: &'a dyn PageStore,
    touched: Vec<Touched>,
    index: FastMap<PageId, usize>,
    finished: bool,
}

impl<'a> Mtr<'a> {
    pub(crate) fn begin(pool: &'a mut BufferPool, store: &'a dyn PageStore) -> Mtr<'a> {
        Mtr {
            pool,
            store,
            touched: Vec::new(),
            index: FastMap::default(),
            finished: false,
        }
    }

    /// The page, or `None` if storage has never seen it.
    pub(crate) fn read_opt(&mut self, id: PageId) -> Result<Option<&Page>, EngineError> {
        Ok(self.pool.fetch(self.store, id)?.map(|f| &*f.image))
    }

    /// The page if the buffer pool holds it, without reading it from storage, nor counting
    /// as an access: for reads ahead of the accesses that follow.
    pub(crate) fn resident(&self, id: PageId) -> Option<&Page> {
        self.pool.peek(id).map(|f| &*f.image)
    }

    /// A page that must exist because another page points at it.
    pub(crate) fn read(&mut self, id: PageId) -> Result<&Page, EngineError> {
        self.read_opt(id)?.ok_or_else(|| missing(id))
    }

    /// The page, for writing. Its before-image is kept the first time.
    pub(crate) fn write(&mut self, id: PageId) -> Result<&mut Page, EngineError> {
        let frame = self
            .pool
            .fetch(self.store, id)?
            .ok_or_else(|| missing(id))?;
        if self.index.contains_key(&id) {
            assert!(frame.pinned, "page {id} touched by this MTR but not pinned");
        } else {
            assert!(!frame.pinned, "page {id} pinned by another MTR");
            frame.pinned = true;
            self.index.insert(id, self.touched.len());
            self.touched.push(Touched {
                page: id,
                before: Some(frame.image.clone()),
            });
        }
        Ok(&mut frame.image)
    }

    /// Takes the next page id from the meta page and returns its (zeroed) frame for writing.
    pub(crate) fn allocate(&mut self) -> Result<(PageId, &mut Page), EngineError> {
        let meta = self.write(META_PAGE)?;
        let next = page::meta_next_free_page(meta);
        assert!(
            next < PageId::NONE.0 - 1,
            "the volume's page id space is exhausted"
        );
        page::set_meta_next_free_page(meta, next + 1);
        let id = PageId(next);
        if self.pool.resident(id).is_some() {
            return Err(EngineError::Corrupted(format!(
                "the meta page's next free page {id} is already in use"
            )));
        }
        Ok((id, self.create(id)))
    }

    /// A frame for a page that storage has never seen (the meta page and the catalog root at
    /// bootstrap, otherwise pages from [`allocate`](Self::allocate)).
    pub(crate) fn create(&mut self, id: PageId) -> &mut Page {
        assert!(
            !self.index.contains_key(&id),
            "page {id} created after being touched"
        );
        assert!(
            self.pool.resident(id).is_none(),
            "a newly allocated page {id} is already in the buffer pool"
        );
        self.index.insert(id, self.touched.len());
        self.touched.push(Touched {
            page: id,
            before: None,
        });
        let frame = self
            .pool
            .install(self.store, id, Lsn::ZERO, Box::new([0u8; PAGE_SIZE]), true);
        &mut frame.image
    }

    /// Logs the MTR: one record per changed page in first-touch order, then `tail` (a commit
    /// payload) if given. Returns the LSN of the last record (the CPL), or `None` if nothing
    /// changed and there is no tail, in which case nothing is appended.
    pub(crate) fn finish(mut self, tail: Option<Payload>) -> Result<Option<Lsn>, EngineError> {
        self.finished = true;
        if self.touched.is_empty() && tail.is_none() {
            // A read: nothing to log, and nothing to allocate for it.
            self.unpin();
            return Ok(None);
        }
        let mut drafts = Vec::with_capacity(self.touched.len() + 1);
        let mut logged = Vec::with_capacity(self.touched.len());
        for t in &self.touched {
            let frame = self
                .pool
                .resident(t.page)
                .expect("a page touched by an MTR left the buffer pool");
            assert!(frame.pinned, "page {} touched but not pinned", t.page);
            if let Err(why) = page::validate(t.page, &frame.image) {
                panic!("page {} fails its invariants before logging: {why}", t.page);
            }
            let payload = match &t.before {
                None => Some(redo::init_image(&frame.image)),
                Some(before) => redo::diff(before, &frame.image),
            };
            if let Some(payload) = payload {
                drafts.push(RecordDraft {
                    page: t.page,
                    prev_page_lsn: frame.lsn,
                    payload,
                });
                logged.push(t.page);
            }
        }
        if let Some(payload) = tail {
            assert!(
                matches!(payload, Payload::Commit { .. }),
                "only a commit record may end an MTR without a page"
            );
            drafts.push(RecordDraft {
                page: PageId::NONE,
                prev_page_lsn: Lsn::ZERO,
                payload,
            });
        }
        if drafts.is_empty() {
            self.unpin();
            return Ok(None);
        }
        let records = drafts.len() as u64;
        let first = match self.store.append_mtr(drafts) {
            Ok(first) => first,
            Err(e) => {
                self.restore();
                return Err(e.into());
            }
        };
        for (i, id) in logged.iter().enumerate() {
            let lsn = Lsn(first.0 + i as u64);
            let frame = self.pool.resident(*id).expect("logged page resident");
            assert!(
                lsn > frame.lsn,
                "page {id}: new LSN {lsn} not above its previous LSN {}",
                frame.lsn
            );
            frame.lsn = lsn;
        }
        self.unpin();
        Ok(Some(Lsn(first.0 + records - 1)))
    }

    fn unpin(&mut self) {
        for t in std::mem::take(&mut self.touched) {
            if let Some(frame) = self.pool.resident(t.page) {
                frame.pinned = false;
            }
        }
        self.index.clear();
    }

    /// Puts every touched frame back as it was before the MTR.
    fn restore(&mut self) {
        for t in std::mem::take(&mut self.touched).into_iter().rev() {
            match t.before {
                None => self.pool.forget(t.page),
                Some(before) => {
                    if let Some(frame) = self.pool.resident(t.page) {
                        frame.image = before;
                        frame.pinned = false;
                    }
                }
            }
        }
        self.index.clear();
    }
}

impl Drop for Mtr<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.restore();
        }
    }
}

fn missing(id: PageId) -> EngineError {
    EngineError::Corrupted(format!(
        "page {id} is referenced but storage has never seen it"
    ))
}
