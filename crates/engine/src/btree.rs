//! B+trees over byte-string keys and values, on slotted pages, changed only through an [`Mtr`].
//!
//! A tree is named by its root page, which never moves: when the root overflows, its contents
//! move into two new children and the root becomes an internal page one level higher pointing at
//! them. So a `TreeId` stored in the catalog stays valid forever.
//!
//! ```text
//!                    root (level 2, never moves)
//!                   /           |            \
//!        internal (level 1)   internal     internal        link = leftmost child;
//!        /     |     \          ...          ...           cell i = (key_i, child_i):
//!     leaf -> leaf -> leaf -> ... -> leaf  (level 0)        child_i holds [key_i, key_i+1)
//!            right-sibling links between leaves
//! ```
//!
//! Operations descend from the root, checking on the way down that every page belongs to the tree
//! (its `tree` field), is not a root, and sits exactly one level below its parent. Levels strictly
//! decrease and are bounded by `TREE_LEVELS_MAX`, so a descent over corrupted pages still ends,
//! with `EngineError::Corrupted`. Scans follow the leaf sibling links, bounded by the number of
//! pages ever allocated, and check that keys keep ascending across leaves. Leaves have no left
//! links: a backward scan ([`ReverseCursor`]) re-descends from the root to the leaf below the
//! current one's lower fence (the separator its parent holds for it), checking that fences and
//! keys keep descending.
//!
//! Inserting into a full leaf splits it by bytes into two halves (both always fit: see
//! `limits`), the right half in a newly allocated page, and inserts the right half's first key
//! into the parent as separator; a full parent splits the same way, promoting its middle
//! separator, up to the root. All pages of one split change in the caller's MTR, so storage sees
//! the split atomically.
//!
//! Not done yet (later issues): deletes leave pages underfull and never merge or free them (an
//! empty leaf stays linked and is skipped by scans); separators are whole keys (no suffix
//! truncation); splits are always even, even for ascending inserts.

use crate::META_PAGE;
use crate::limits::TREE_LEVELS_MAX;
use crate::mtr::Mtr;
use crate::page::{self, Kind, Page};
use crate::{EngineError, Entry};
use borealis_common::PageId;
use std::ops::Bound;

/// Checks that `tree` names a live B+tree root; returns the tree's height minus one (its root's
/// level).
pub(crate) fn root_level(mtr: &mut Mtr<'_>, tree: PageId) -> Result<u16, EngineError> {
    let Some(p) = mtr.read_opt(tree)? else {
        return Err(EngineError::NoSuchTree(tree));
    };
    let live = matches!(page::kind(p), Some(Kind::Leaf | Kind::Internal))
        && page::is_root(p)
        && page::tree(p) == tree;
    if !live {
        return Err(EngineError::NoSuchTree(tree));
    }
    Ok(page::level(p))
}

/// Reads a non-root page of `tree` expected at `level`, checking that it is what its parent (or
/// left sibling) says it is.
fn read_node<'m>(
    mtr: &'m mut Mtr<'_>,
    id: PageId,
    tree: PageId,
    level: u16,
) -> Result<&'m Page, EngineError> {
    if id == tree {
        return Err(EngineError::Corrupted(format!(
            "tree {tree}: a page points back at the root"
        )));
    }
    let p = mtr.read(id)?;
    let kind_ok = matches!(page::kind(p), Some(Kind::Leaf | Kind::Internal));
    if !kind_ok || page::is_root(p) || page::tree(p) != tree || page::level(p) != level {
        return Err(EngineError::Corrupted(format!(
            "page {id}: expected a level-{level} page of tree {tree}, found kind {:?} level {} of tree {}",
            page::kind(p),
            page::level(p),
            page::tree(p)
        )));
    }
    Ok(p)
}

/// Reads a page of `tree` at `level`, the root included.
fn read_at<'m>(
    mtr: &'m mut Mtr<'_>,
    id: PageId,
    tree: PageId,
    level: u16,
) -> Result<&'m Page, EngineError> {
    if id == tree {
        mtr.read(id)
    } else {
        read_node(mtr, id, tree, level)
    }
}

/// Descends to the leaf whose range holds `key` (the leftmost leaf for `None`). Returns the
/// internal pages on the way, root first, and the leaf.
fn descend(
    mtr: &mut Mtr<'_>,
    tree: PageId,
    key: Option<&[u8]>,
) -> Result<(Vec<PageId>, PageId), EngineError> {
    let mut path = Vec::new();
    let leaf = descend_with(mtr, tree, key, Some(&mut path))?;
    Ok((path, leaf))
}

/// [`descend`] that only records the path when asked to (a lookup needs the leaf alone, and
/// then allocates nothing).
fn descend_with(
    mtr: &mut Mtr<'_>,
    tree: PageId,
    key: Option<&[u8]>,
    mut path: Option<&mut Vec<PageId>>,
) -> Result<PageId, EngineError> {
    let mut level = root_level(mtr, tree)?;
    let mut id = tree;
    loop {
        let p = read_at(mtr, id, tree, level)?;
        if level == 0 {
            return Ok(id);
        }
        let next = match key {
            Some(k) => page::child_for(p, k),
            None => PageId(page::link(p)),
        };
        if let Some(path) = path.as_deref_mut() {
            path.push(id);
        }
        id = next;
        level -= 1;
    }
}

/// The value stored under `key`.
pub(crate) fn get(
    mtr: &mut Mtr<'_>,
    tree: PageId,
    key: &[u8],
) -> Result<Option<Vec<u8>>, EngineError> {
    let leaf = descend_with(mtr, tree, Some(key), None)?;
    let p = mtr.read(leaf)?;
    Ok(page::search(p, key)
        .ok()
        .map(|i| page::value(p, i).to_vec()))
}

/// Where the last of a run of lookups in one read-only MTR went: the page it read at each
/// level, root to leaf. A run of lookups whose keys lie close together (the table rows behind
/// a secondary index's entries come in key order) starts each one at the lowest of those pages
/// whose own keys show that it holds the new key, rather than at the root: the upper levels'
/// binary searches are most of a lookup's cost.
///
/// Only valid while nothing changes the tree, which a read-only MTR under the engine lock
/// guarantees; a new MTR starts with a new finger.
#[derive(Default)]
pub(crate) struct Finger {
    /// Indexed by level; set from the root down by the first lookup.
    path: [Option<PageId>; TREE_LEVELS_MAX as usize],
    /// The leaf the next lookup's key lies in, found before by [`leaf_ids`] in the same MTR.
    next_leaf: Option<PageId>,
}

impl Finger {
    /// Tells the next lookup its leaf, which [`leaf_ids`] found for its key in this MTR: it
    /// reads (and checks) that leaf instead of finding it again.
    pub(crate) fn expect_leaf(&mut self, leaf: PageId) {
        self.next_leaf = Some(leaf);
    }
}

/// Hands `key`'s stored value to `f` in place, in its leaf; `None` when the key is absent.
/// Starts from `finger` where it can (see [`Finger`]) and leaves it on this lookup's path.
pub(crate) fn with_value<R>(
    mtr: &mut Mtr<'_>,
    tree: PageId,
    key: &[u8],
    finger: &mut Finger,
    f: impl FnOnce(&[u8]) -> Result<R, EngineError>,
) -> Result<Option<R>, EngineError> {
    let leaf = leaf_near(mtr, tree, key, finger)?;
    let p = mtr.read(leaf)?;
    match page::search(p, key) {
        Ok(i) => f(page::value(p, i)).map(Some),
        Err(_) => Ok(None),
    }
}

/// The leaf whose range holds `key`, found from the lowest page on `finger`'s path known to
/// hold it:
///
/// - a leaf holds `key` when it lies between the leaf's first and last keys (a leaf's range is
///   contiguous and holds both);
/// - an internal page holds it when it lies from the page's first separator up to, not
///   including, its last: every separator lies in the page's own range, so `key` does too, and
///   the page's choice of child is the one a descent from the root would make;
/// - the root holds every key.
///
/// With an empty finger it descends from the root, which checks that the tree is live. A leaf
/// the finger was told of ([`Finger::expect_leaf`]) is the answer at once.
fn leaf_near(
    mtr: &mut Mtr<'_>,
    tree: PageId,
    key: &[u8],
    finger: &mut Finger,
) -> Result<PageId, EngineError> {
    if let Some(leaf) = finger.next_leaf.take() {
        read_at(mtr, leaf, tree, 0)?;
        finger.path[0] = Some(leaf);
        return Ok(leaf);
    }
    let mut start = None;
    for (level, &id) in (0..TREE_LEVELS_MAX).zip(&finger.path) {
        let Some(id) = id else {
            break;
        };
        let p = read_at(mtr, id, tree, level)?;
        let n = page::count(p);
        let from_first = n > 0 && page::compare_keys(page::key(p, 0), key).is_le();
        let last = || page::compare_keys(key, page::key(p, n - 1));
        if level == 0 {
            if from_first && last().is_le() {
                return Ok(id);
            }
        } else if id == tree || (from_first && last().is_lt()) {
            start = Some((page::child_for(p, key), level - 1));
            break;
        }
    }
    let (mut id, mut level) = match start {
        Some(start) => start,
        None => (tree, root_level(mtr, tree)?),
    };
    loop {
        let p = read_at(mtr, id, tree, level)?;
        finger.path[usize::from(level)] = Some(id);
        if level == 0 {
            return Ok(id);
        }
        id = page::child_for(p, key);
        level -= 1;
    }
}

/// The leaf whose range holds each of `keys`, in order, as `(leaf, key)` pairs appended to
/// `out`, without reading the leaves themselves (nor checking them: the lookups that follow
/// read them, see [`Finger::expect_leaf`]).
///
/// The keys descend together, one level at a time: every key starts at the root; at each
/// level the pages the keys have reached are first read ahead together ([`touch_pages`]),
/// then each key is sent on to its child. On a table bigger than the processor's cache the
/// internal pages below the root are as cold as the leaves, and a descent per key would read
/// them one after another; here a level's reads are under way at once.
///
/// Within a run of keys at the same page, a key that lies between the separators around the
/// last key's child goes to that child with two comparisons and no search: every key of the
/// run lies in the page's range (its parent sent it there), so a side the page does not bound
/// within itself needs no check. Keys in ascending order, such as the table keys behind one
/// value of a secondary index, then cost a search of a page only where they move to another
/// child of it.
pub(crate) fn leaf_ids<'k>(
    mtr: &mut Mtr<'_>,
    tree: PageId,
    keys: impl Iterator<Item = &'k [u8]>,
    out: &mut Vec<(PageId, &'k [u8])>,
) -> Result<(), EngineError> {
    let first = out.len();
    out.extend(keys.map(|key| (tree, key)));
    let top = root_level(mtr, tree)?;
    for level in (1..=top).rev() {
        let lookups = &mut out[first..];
        if level < top {
            touch_pages(mtr, lookups, level);
        }
        let mut i = 0;
        while i < lookups.len() {
            let id = lookups[i].0;
            let p = read_at(mtr, id, tree, level)?;
            let n = page::count(p);
            let sep = |j: usize| page::key(p, j);
            // Child `j` (0 for the leftmost, the page's link) holds the keys from separator
            // `j - 1` up to, not including, separator `j`.
            let child = |key: &[u8]| {
                let j = match page::search(p, key) {
                    Ok(i) => i + 1,
                    Err(i) => i,
                };
                let id = match j {
                    0 => PageId(page::link(p)),
                    j => page::child(p, j - 1),
                };
                (id, j.checked_sub(1).map(sep), (j < n).then(|| sep(j)))
            };
            let (mut to, mut low, mut high) = child(lookups[i].1);
            while let Some(lookup) = lookups.get_mut(i).filter(|l| l.0 == id) {
                let key = lookup.1;
                let in_child = low.is_none_or(|low| page::compare_keys(low, key).is_le())
                    && high.is_none_or(|high| page::compare_keys(key, high).is_lt());
                if !in_child {
                    (to, low, high) = child(key);
                }
                lookup.0 = to;
                i += 1;
            }
        }
    }
    Ok(())
}

/// Reads, from the page of each of `lookups` (page, key) the buffer pool holds, what a search
/// of it for the key reads: its frame, its header, its first and last keys and the key the
/// search probes first after them (see [`page::touch_first_probe`]). On a table bigger than
/// the processor's cache each of those is a read from memory, and a lookup makes them one
/// after another. Here each step is taken for the whole batch in a short loop whose iterations
/// do not depend on each other, so the processor has many pages' reads under way at once, and
/// the searches that follow find them in its cache. Nothing is decided, and nothing is read
/// from storage: a page the pool lacks, or that is not a page of a tree at `level`, is left
/// for its lookup to read (and one that cannot be read, or is not what it should be, for it to
/// report). Of keys at the same page, only the first is probed.
pub(crate) fn touch_pages(mtr: &Mtr<'_>, lookups: &[(PageId, &[u8])], level: u16) {
    let mut pages = Vec::with_capacity(lookups.len());
    let mut last = None;
    for &(id, key) in lookups {
        if last.replace(id) != Some(id)
            && let Some(p) = mtr.resident(id)
        {
            pages.push((p, key));
        }
    }
    pages.retain(|&(p, _)| {
        let tree_page = matches!(page::kind(p), Some(Kind::Leaf | Kind::Internal));
        let n = page::count(p);
        if tree_page && page::level(p) == level && n > 0 {
            std::hint::black_box(page::key(p, 0).first());
            std::hint::black_box(page::key(p, n - 1).first());
            true
        } else {
            false
        }
    });
    for &(p, key) in &pages {
        page::touch_first_probe(p, key);
    }
}

/// Inserts or replaces `key`. The caller has checked the entry against the limits.
pub(crate) fn put(
    mtr: &mut Mtr<'_>,
    tree: PageId,
    key: &[u8],
    value: &[u8],
) -> Result<(), EngineError> {
    let (path, leaf) = descend(mtr, tree, Some(key))?;
    {
        let p = mtr.read(leaf)?;
        if let Ok(i) = page::search(p, key)
            && page::value(p, i) == value
        {
            return Ok(());
        }
    }
    let cell = page::leaf_cell(key, value);
    let p = mtr.write(leaf)?;
    let pos = match page::search(p, key) {
        Ok(i) => {
            page::remove_cell(p, i);
            i
        }
        Err(i) => i,
    };
    if page::insert_cell(p, pos, &cell) {
        return Ok(());
    }
    // An entry past every key of the rightmost leaf: the tree is likely filled in key order.
    let append = pos == page::count(p) && page::link(p) == 0;
    let mut cells = page::cells(p);
    cells.insert(pos, cell);
    split(mtr, tree, path, leaf, cells, append)
}

/// Removes `key`; returns whether it was there.
pub(crate) fn remove(mtr: &mut Mtr<'_>, tree: PageId, key: &[u8]) -> Result<bool, EngineError> {
    let (_, leaf) = descend(mtr, tree, Some(key))?;
    let Ok(i) = page::search(mtr.read(leaf)?, key) else {
        return Ok(false);
    };
    page::remove_cell(mtr.write(leaf)?, i);
    Ok(true)
}

/// How full a split leaves the rightmost leaf's left half when the entry that overflowed it
/// went past all its keys, in percent of a page (PostgreSQL's leaf fillfactor, 90, which it
/// applies the same way): a table or index filled in key order (a serial key, a bulk load, an
/// index built from sorted entries) then gets leaves this full rather than half full, and half
/// as many of them to write, log and read.
const APPEND_SPLIT_FILL_PERCENT: usize = 90;

/// Where to cut an overfull page's cells: the cut minimising the larger half. For a leaf the right
/// half is `cells[m..]`; for an internal page `cells[m]` moves up and the right half is
/// `cells[m + 1..]`. Both halves are non-empty and fit in a page.
///
/// With `append` (a leaf, its last cell new and past every other, see [`put`]), the cut is
/// instead the last one that leaves the left half at most [`APPEND_SPLIT_FILL_PERCENT`] full.
fn split_point(cells: &[Vec<u8>], leaf: bool, append: bool) -> usize {
    let n = cells.len();
    let sizes: Vec<usize> = cells.iter().map(|c| page::cell_footprint(c)).collect();
    let total: usize = sizes.iter().sum();
    let (first, last) = if leaf { (1, n - 1) } else { (1, n - 2) };
    assert!(
        n >= 3 && first <= last,
        "an overfull page has at least three cells"
    );
    if append && leaf {
        let fill = page::NODE_CAPACITY_BYTES * APPEND_SPLIT_FILL_PERCENT / 100;
        let mut left = sizes[0];
        let mut m = first;
        while m < last && left + sizes[m] <= fill {
            left += sizes[m];
            m += 1;
        }
        // The right half holds at least the new cell; it fits when the left is not emptier
        // than half: otherwise the general cut below decides.
        if total - left <= page::NODE_CAPACITY_BYTES && left >= total / 2 {
            return m;
        }
    }
    let mut best = (usize::MAX, first);
    let mut left: usize = sizes[..first].iter().sum();
    for (m, size) in sizes.iter().enumerate().take(last + 1).skip(first) {
        let right = total - left - if leaf { 0 } else { *size };
        let worst = left.max(right);
        if worst < best.0 {
            best = (worst, m);
        }
        left += size;
    }
    assert!(
        best.0 <= page::NODE_CAPACITY_BYTES,
        "split halves of {} bytes overflow a page: entry limits too large",
        best.0
    );
    best.1
}

/// Splits the overfull page `id` whose cells (the new one included) are `cells`, and carries the
/// separator up `path` as far as needed. If the root splits, it keeps its page and grows a level.
fn split(
    mtr: &mut Mtr<'_>,
    tree: PageId,
    mut path: Vec<PageId>,
    mut id: PageId,
    mut cells: Vec<Vec<u8>>,
    mut append: bool,
) -> Result<(), EngineError> {
    loop {
        let (level, link) = {
            let p = mtr.read(id)?;
            (page::level(p), page::link(p))
        };
        let leaf = level == 0;
        let kind = if leaf { Kind::Leaf } else { Kind::Internal };
        let m = split_point(&cells, leaf, append);
        append = false;
        let mut right = cells.split_off(m);
        let left = cells;
        let (separator, right_leftmost) = if leaf {
            (page::cell_key(true, &right[0]).to_vec(), 0)
        } else {
            let middle = right.remove(0);
            (
                page::cell_key(false, &middle).to_vec(),
                page::cell_child(&middle).0,
            )
        };
        if id == tree {
            if level + 1 >= TREE_LEVELS_MAX {
                // Unreachable with real data (it would take over 7^15 entries): only a damaged
                // root claiming a huge level gets here.
                return Err(EngineError::Corrupted(format!(
                    "tree {tree} would grow past {TREE_LEVELS_MAX} levels"
                )));
            }
            let (l, _) = mtr.allocate()?;
            let (r, _) = mtr.allocate()?;
            let (l_link, r_link) = if leaf {
                (r.0, 0)
            } else {
                (link, right_leftmost)
            };
            page::write_node(mtr.write(l)?, l, kind, level, tree, l_link, &left);
            page::write_node(mtr.write(r)?, r, kind, level, tree, r_link, &right);
            let root_cells = [page::internal_cell(&separator, r)];
            page::write_node(
                mtr.write(tree)?,
                tree,
                Kind::Internal,
                level + 1,
                tree,
                l.0,
                &root_cells,
            );
            return Ok(());
        }
        let (r, _) = mtr.allocate()?;
        let (l_link, r_link) = if leaf {
            (r.0, link)
        } else {
            (link, right_leftmost)
        };
        page::write_node(mtr.write(r)?, r, kind, level, tree, r_link, &right);
        page::write_node(mtr.write(id)?, id, kind, level, tree, l_link, &left);
        let parent = path
            .pop()
            .expect("a non-root page has its parent on the path");
        let cell = page::internal_cell(&separator, r);
        let pp = mtr.write(parent)?;
        // A separator already present means the parent's ranges disagree with its children's
        // keys: only damaged pages from storage can do that.
        let pos = match page::search(pp, &separator) {
            Err(pos) => pos,
            Ok(_) => {
                return Err(EngineError::Corrupted(format!(
                    "page {parent}: separator already present; children disagree with their parent"
                )));
            }
        };
        if page::insert_cell(pp, pos, &cell) {
            return Ok(());
        }
        let mut parent_cells = page::cells(pp);
        parent_cells.insert(pos, cell);
        cells = parent_cells;
        id = parent;
    }
}

/// Decides, for a leaf entry (key and stored value), whether [`last_key`] should return it.
/// It may read other pages (a transaction status lookup) through the MTR it is given.
pub(crate) type Take<'t> = dyn FnMut(&mut Mtr<'_>, &[u8], &[u8]) -> Result<bool, EngineError> + 't;

/// The greatest key of the tree whose entry `take` accepts.
pub(crate) fn last_key(
    mtr: &mut Mtr<'_>,
    tree: PageId,
    take: &mut Take<'_>,
) -> Result<Option<Vec<u8>>, EngineError> {
    let level = root_level(mtr, tree)?;
    last_in(mtr, tree, tree, level, take)
}

/// Right-to-left search of a subtree. Recursion depth is bounded by the level, which strictly
/// decreases and starts at most at `TREE_LEVELS_MAX`.
fn last_in(
    mtr: &mut Mtr<'_>,
    tree: PageId,
    id: PageId,
    level: u16,
    take: &mut Take<'_>,
) -> Result<Option<Vec<u8>>, EngineError> {
    let p = read_at(mtr, id, tree, level)?;
    if level == 0 {
        let entries: Vec<Entry> = (0..page::count(p))
            .map(|i| (page::key(p, i).to_vec(), page::value(p, i).to_vec()))
            .collect();
        for (k, v) in entries.into_iter().rev() {
            if take(mtr, &k, &v)? {
                return Ok(Some(k));
            }
        }
        return Ok(None);
    }
    for child in page::children(p).into_iter().rev() {
        if let Some(k) = last_in(mtr, tree, child, level - 1, take)? {
            return Ok(Some(k));
        }
    }
    Ok(None)
}

/// Up to `parts - 1` keys of the root that cut the tree into `parts` key ranges of about the
/// same number of the root's children, in order (none when the root is a leaf).
pub(crate) fn split_keys(
    mtr: &mut Mtr<'_>,
    tree: PageId,
    parts: usize,
) -> Result<Vec<Vec<u8>>, EngineError> {
    root_level(mtr, tree)?;
    let p = mtr.read(tree)?;
    if page::is_leaf(p) || parts < 2 {
        return Ok(Vec::new());
    }
    // The root's k-th key starts its child k + 1; there are count + 1 children.
    let children = page::count(p) + 1;
    let mut keys: Vec<Vec<u8>> = (1..parts)
        .map(|k| k * children / parts)
        .filter(|&c| c >= 1)
        .map(|c| page::key(p, c - 1).to_vec())
        .collect();
    keys.dedup();
    Ok(keys)
}

/// Number of pages reachable from the tree's root, the root included: the tree's size.
pub(crate) fn page_count(mtr: &mut Mtr<'_>, tree: PageId) -> Result<u64, EngineError> {
    let level = root_level(mtr, tree)?;
    pages_in(mtr, tree, tree, level)
}

/// Pages of a subtree; recursion bounded as in [`last_in`].
fn pages_in(mtr: &mut Mtr<'_>, tree: PageId, id: PageId, level: u16) -> Result<u64, EngineError> {
    let p = read_at(mtr, id, tree, level)?;
    if level == 0 {
        return Ok(1);
    }
    let mut n = 1;
    for child in page::children(p) {
        n += pages_in(mtr, tree, child, level - 1)?;
    }
    Ok(n)
}

/// A forward cursor over a tree's entries. Valid only while the engine lock is held (the tree
/// must not change under it).
pub(crate) struct Cursor {
    tree: PageId,
    /// The leaf under the cursor; `None` once past the last leaf.
    leaf: Option<PageId>,
    slot: usize,
    /// Sibling links followed so far, and the most there can be (pages ever allocated).
    hops: u64,
    hops_max: u64,
    /// The greatest key of the leaves left behind (empty before the first), to check that
    /// keys ascend from leaf to leaf; within a leaf, the page's own validation has checked it.
    last: Vec<u8>,
    started: bool,
    /// Whether the current leaf was read through [`read_node`] (its tree and level checked)
    /// and the cross-leaf order check done: then the next entries of the same leaf are read
    /// with a plain page lookup.
    checked: bool,
}

impl Cursor {
    /// A cursor on the first entry at or after `from`.
    pub(crate) fn seek(
        mtr: &mut Mtr<'_>,
        tree: PageId,
        from: Bound<&[u8]>,
    ) -> Result<Cursor, EngineError> {
        let hops_max = page::meta_next_free_page(mtr.read(META_PAGE)?);
        let key = match from {
            Bound::Unbounded => None,
            Bound::Included(k) | Bound::Excluded(k) => Some(k),
        };
        let (_, leaf) = descend(mtr, tree, key)?;
        let p = mtr.read(leaf)?;
        let slot = match from {
            Bound::Unbounded => 0,
            Bound::Included(k) => page::search(p, k).unwrap_or_else(|i| i),
            Bound::Excluded(k) => page::search(p, k).map_or_else(|i| i, |i| i + 1),
        };
        Ok(Cursor {
            tree,
            leaf: Some(leaf),
            slot,
            hops: 0,
            hops_max,
            last: Vec::new(),
            started: false,
            checked: false,
        })
    }

    /// The entry under the cursor, then moves past it.
    pub(crate) fn next(&mut self, mtr: &mut Mtr<'_>) -> Result<Option<Entry>, EngineError> {
        let (mut k, mut v) = (Vec::new(), Vec::new());
        Ok(self.next_into(mtr, &mut k, &mut v)?.then_some((k, v)))
    }

    /// Like [`next`](Self::next), but copies the entry into `key` and `value` (replacing their
    /// contents), so a scan reuses two buffers instead of allocating per entry. `false` past
    /// the end.
    pub(crate) fn next_into(
        &mut self,
        mtr: &mut Mtr<'_>,
        key: &mut Vec<u8>,
        value: &mut Vec<u8>,
    ) -> Result<bool, EngineError> {
        self.visit(mtr, &mut |k, v| {
            key.clear();
            key.extend_from_slice(k);
            value.clear();
            value.extend_from_slice(v);
            Ok(Visit::Stop)
        })
    }

    /// Moves the cursor from leaf `p` (its entries used up) to its right sibling, or past the
    /// end. The next leaf's keys must all be above `p`'s greatest, which is kept for the check.
    fn leave(&mut self, p: &Page) -> Result<(), EngineError> {
        let count = page::count(p);
        if count > 0 {
            self.last.clear();
            self.last.extend_from_slice(page::key(p, count - 1));
            self.started = true;
        }
        let next = page::link(p);
        if next == 0 {
            self.leaf = None;
            return Ok(());
        }
        self.hops += 1;
        if self.hops > self.hops_max {
            return Err(EngineError::Corrupted(format!(
                "tree {}: leaf sibling chain longer than the volume",
                self.tree
            )));
        }
        self.leaf = Some(PageId(next));
        self.slot = 0;
        self.checked = false;
        Ok(())
    }

    /// Hands the entries from the cursor on to `visit` in place, as slices of the leaf, until
    /// `visit` halts or the tree ends; `false` once past the end. The leaf is looked up once
    /// for all the entries taken from it and nothing is copied: a full scan's cost per row is
    /// the visitor's. A leaf reached through a sibling link has its tree and level checked,
    /// and its first key must be above the last leaf's greatest.
    pub(crate) fn visit(
        &mut self,
        mtr: &mut Mtr<'_>,
        visit: &mut Visitor<'_>,
    ) -> Result<bool, EngineError> {
        loop {
            let Some(id) = self.leaf else {
                return Ok(false);
            };
            let p = if self.checked {
                mtr.read(id)?
            } else if self.hops == 0 {
                read_at(mtr, id, self.tree, 0)?
            } else {
                read_node(mtr, id, self.tree, 0)?
            };
            let count = page::count(p);
            while self.slot < count {
                let k = page::key(p, self.slot);
                if !self.checked && self.started && self.last.as_slice() >= k {
                    return Err(EngineError::Corrupted(format!(
                        "tree {}: keys stop ascending at leaf {id}",
                        self.tree
                    )));
                }
                self.checked = true;
                self.started = true;
                match visit(k, page::value(p, self.slot))? {
                    Visit::Next => self.slot += 1,
                    Visit::Stop => {
                        self.slot += 1;
                        return Ok(true);
                    }
                    Visit::Defer => return Ok(true),
                }
            }
            self.leave(p)?;
        }
    }
}

/// What [`Cursor::visit`] hands each entry to: its key and stored value, in the leaf.
pub(crate) type Visitor<'v> = dyn FnMut(&[u8], &[u8]) -> Result<Visit, EngineError> + 'v;

/// What a [`Cursor::visit`] visitor makes of an entry.
pub(crate) enum Visit {
    /// Taken (or passed over): on to the next entry.
    Next,
    /// Taken, and the walk halts past it.
    Stop,
    /// Not taken: the walk halts on it, so the next read returns it again.
    Defer,
}

/// Descends to the leaf holding the greatest key at or below `to` (below it when excluded; the
/// rightmost leaf when unbounded). Returns the leaf and its lower fence: the separator its parent
/// chain gives as the least key it may hold (`None` for the leftmost leaf of the tree).
///
/// At an internal page the child chosen is the last whose separator is at or below the bound
/// (strictly below for an excluded bound); leaving that child's range to the left then means
/// going below its separator, which is the fence.
fn descend_before(
    mtr: &mut Mtr<'_>,
    tree: PageId,
    to: Bound<&[u8]>,
) -> Result<(PageId, Option<Vec<u8>>), EngineError> {
    let mut level = root_level(mtr, tree)?;
    let mut id = tree;
    let mut fence: Option<Vec<u8>> = None;
    loop {
        let p = read_at(mtr, id, tree, level)?;
        if level == 0 {
            return Ok((id, fence));
        }
        // How many separators lie at or below (strictly below) the bound: the chosen child is
        // the one after that many, the leftmost link when there are none.
        let below = match to {
            Bound::Unbounded => page::count(p),
            Bound::Included(k) => page::search(p, k).map_or_else(|i| i, |i| i + 1),
            Bound::Excluded(k) => page::search(p, k).unwrap_or_else(|i| i),
        };
        let next = if below == 0 {
            PageId(page::link(p))
        } else {
            fence = Some(page::key(p, below - 1).to_vec());
            page::child(p, below - 1)
        };
        id = next;
        level -= 1;
    }
}

/// A backward cursor over a tree's entries, from the greatest key at or below a bound down to
/// the least. Valid only while the engine lock is held (the tree must not change under it).
///
/// Leaves link only to their right sibling, so moving left re-descends from the root to the
/// leaf holding the keys just below the current leaf's lower fence (the separator above it), as
/// a B-tree without left links does. Fences strictly decrease from leaf to leaf, so the walk
/// ends even over empty leaves, and it costs one descent per leaf, the levels' pages being hot
/// in the buffer pool.
///
/// ```text
///            [ 10 | 20 ]             leaf [20..] exhausted: descend for "below 20"
///           /     |     \            → leaf [10..20), fence 10; then "below 10"
///      [..10)  [10..20)  [20..)      → leftmost leaf, fence None: last leaf
/// ```
pub(crate) struct ReverseCursor {
    tree: PageId,
    /// The leaf under the cursor and its lower fence; `None` once past the first leaf.
    leaf: Option<(PageId, Option<Vec<u8>>)>,
    /// Entries of the leaf not returned yet: the next one is at `slot - 1`.
    slot: usize,
    /// Descents after the first, and the most there can be (pages ever allocated).
    hops: u64,
    hops_max: u64,
    /// The key returned last, to check that keys descend.
    last: Vec<u8>,
    started: bool,
}

impl ReverseCursor {
    /// A cursor on the last entry at or before `to`.
    pub(crate) fn seek(
        mtr: &mut Mtr<'_>,
        tree: PageId,
        to: Bound<&[u8]>,
    ) -> Result<ReverseCursor, EngineError> {
        let hops_max = page::meta_next_free_page(mtr.read(META_PAGE)?);
        let (leaf, fence) = descend_before(mtr, tree, to)?;
        let p = mtr.read(leaf)?;
        let slot = match to {
            Bound::Unbounded => page::count(p),
            Bound::Included(k) => page::search(p, k).map_or_else(|i| i, |i| i + 1),
            Bound::Excluded(k) => page::search(p, k).unwrap_or_else(|i| i),
        };
        Ok(ReverseCursor {
            tree,
            leaf: Some((leaf, fence)),
            slot,
            hops: 0,
            hops_max,
            last: Vec::new(),
            started: false,
        })
    }

    /// Copies the entry under the cursor into `key` and `value` (replacing their contents) and
    /// moves before it; `false` past the first entry.
    pub(crate) fn prev_into(
        &mut self,
        mtr: &mut Mtr<'_>,
        key: &mut Vec<u8>,
        value: &mut Vec<u8>,
    ) -> Result<bool, EngineError> {
        loop {
            let Some((id, fence)) = &self.leaf else {
                return Ok(false);
            };
            let id = *id;
            let p = read_at(mtr, id, self.tree, 0)?;
            if self.slot > page::count(p) {
                return Err(EngineError::Corrupted(format!(
                    "tree {}: leaf {id} shrank under a backward scan",
                    self.tree
                )));
            }
            if self.slot > 0 {
                let k = page::key(p, self.slot - 1);
                let below_fence = fence.as_deref().is_some_and(|f| k < f);
                if below_fence || (self.started && self.last.as_slice() <= k) {
                    return Err(EngineError::Corrupted(format!(
                        "tree {}: keys stop descending at leaf {id}",
                        self.tree
                    )));
                }
                key.clear();
                key.extend_from_slice(k);
                value.clear();
                value.extend_from_slice(page::value(p, self.slot - 1));
                self.last.clear();
                self.last.extend_from_slice(k);
                self.started = true;
                self.slot -= 1;
                return Ok(true);
            }
            let Some(fence) = fence.clone() else {
                self.leaf = None;
                continue;
            };
            self.hops += 1;
            if self.hops > self.hops_max {
                return Err(EngineError::Corrupted(format!(
                    "tree {}: backward walk visits more leaves than the volume holds",
                    self.tree
                )));
            }
            let (leaf, lower) = descend_before(mtr, self.tree, Bound::Excluded(&fence))?;
            if lower
                .as_ref()
                .is_some_and(|l| l.as_slice() >= fence.as_slice())
            {
                return Err(EngineError::Corrupted(format!(
                    "tree {}: separators stop descending below leaf {id}",
                    self.tree
                )));
            }
            let p = mtr.read(leaf)?;
            self.slot = page::search(p, &fence).unwrap_or_else(|i| i);
            self.leaf = Some((leaf, lower));
        }
    }
}
