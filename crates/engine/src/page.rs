//! Page formats: the meta page and slotted B+tree pages, with the checks that guard them.
//!
//! Every engine page starts with the same four bytes (magic, format version, kind, flags), so a
//! page read from storage can be recognised before anything else in it is trusted. The layouts are
//! described byte by byte in `docs/formats.md` ("Engine pages"); in short:
//!
//! ```text
//! meta page (page 0)
//!  0 u8 magic   1 u8 version   2 u8 kind=1   3 u8 flags=0   4 u32 reserved=0
//!  8 [u8; 8] "BOREALIS"   16 u64 next_free_page   24 u64 next_txn_id   32 u64 catalog_root
//! 40 u64 status_root
//!
//! B+tree page (leaf kind=2, internal kind=3, dropped root kind=4)
//! +--------+-------------------+---------------->      <-------------------------+
//! | header | slot[0] slot[1].. |  free space             cells (grow downwards)  |
//! +--------+-------------------+---------------->      <-------------------------+
//! 0        40                  40+2n            heap_start                    8192
//!  0 u8 magic   1 u8 version   2 u8 kind   3 u8 flags (bit 0: tree root)
//!  4 u16 level (0 = leaf)   6 u16 count   8 u16 heap_start   10 u16 garbage_bytes
//! 12 u32 reserved=0   16 u64 link   24 u64 tree   32 u64 page (its own id)
//!
//! leaf cell:     u16 key_len, u16 value_len, key, value
//! internal cell: u16 key_len, u64 child, key
//! ```
//!
//! Slots hold the offsets of cells in ascending key order. In an internal page, `link` is the
//! leftmost child (keys below the first separator) and cell `i`'s child holds keys `>= key[i]` and
//! `< key[i+1]`; in a leaf, `link` is the right sibling (0 = none: page 0 is the meta page, never a
//! leaf). `tree` is the root page of the owning tree, so a pointer into another tree is detected;
//! `page` is the page's own id, so a misdirected read (storage answering with another page) is.
//! Deleting a cell leaves its bytes as garbage inside the heap; an insert that finds too little
//! contiguous free space compacts the page first.
//!
//! Invariants, checked by [`validate`] after every read from storage (a failure is
//! `EngineError::Corrupted`) and, as an assertion, before every changed page is logged:
//! magic and version known, counts and offsets in bounds, cells inside the heap and not
//! overlapping, `heap_start - (40 + 2 * count)` free and `sum(cells) + garbage` exactly filling the
//! heap, keys strictly ascending, entry sizes within `limits`, child pointers plausible.
//!
//! The accessors below assume a page that passed [`validate`] (or that the engine itself built):
//! they index without checks, and a panic there would be an engine bug, not bad input.

use crate::limits::{CELL_ENTRY_BYTES_MAX, KEY_BYTES_MAX, TREE_LEVELS_MAX};
use borealis_common::{PAGE_SIZE, PageId};

/// One page image.
pub(crate) type Page = [u8; PAGE_SIZE];

/// First byte of every engine page.
pub(crate) const MAGIC: u8 = 0xEB;
/// Second byte of every engine page. Bumped on any incompatible layout change.
pub(crate) const FORMAT_VERSION: u8 = 2;

/// Size of the common B+tree page header.
pub(crate) const HEADER_BYTES: usize = 40;
/// Size of one slot (a cell offset).
pub(crate) const SLOT_BYTES: usize = 2;
/// Bytes of a leaf cell besides its key and value.
pub(crate) const LEAF_CELL_OVERHEAD: usize = 4;
/// Bytes of an internal cell besides its key.
pub(crate) const INTERNAL_CELL_OVERHEAD: usize = 10;

/// The meta page's identifying bytes.
const META_SIGNATURE: &[u8; 8] = b"BOREALIS";

/// Flag bit: this page is the root of its tree.
pub(crate) const FLAG_ROOT: u8 = 1;

// Header offsets.
const OFF_MAGIC: usize = 0;
const OFF_VERSION: usize = 1;
const OFF_KIND: usize = 2;
const OFF_FLAGS: usize = 3;
const OFF_LEVEL: usize = 4;
const OFF_COUNT: usize = 6;
const OFF_HEAP_START: usize = 8;
const OFF_GARBAGE: usize = 10;
const OFF_RESERVED: usize = 12;
const OFF_LINK: usize = 16;
const OFF_TREE: usize = 24;
const OFF_PAGE: usize = 32;

// Meta page offsets.
const OFF_META_SIGNATURE: usize = 8;
const OFF_META_NEXT_FREE: usize = 16;
const OFF_META_NEXT_TXN: usize = 24;
const OFF_META_CATALOG: usize = 32;
const OFF_META_STATUS: usize = 40;
const META_BYTES: usize = 48;

const _: () = assert!(PAGE_SIZE <= u16::MAX as usize + 1);
const _: () = assert!(HEADER_BYTES == OFF_PAGE + 8);

/// What a page holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Meta = 1,
    Leaf = 2,
    Internal = 3,
    /// The root page of a dropped tree: header only.
    Dropped = 4,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Kind> {
        match b {
            1 => Some(Kind::Meta),
            2 => Some(Kind::Leaf),
            3 => Some(Kind::Internal),
            4 => Some(Kind::Dropped),
            _ => None,
        }
    }
}

fn get_u16(p: &Page, off: usize) -> u16 {
    u16::from_le_bytes([p[off], p[off + 1]])
}

fn put_u16(p: &mut Page, off: usize, v: u16) {
    p[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

fn get_u64(p: &Page, off: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&p[off..off + 8]);
    u64::from_le_bytes(b)
}

fn put_u64(p: &mut Page, off: usize, v: u64) {
    p[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

fn to_u16(v: usize) -> u16 {
    u16::try_from(v).expect("page offset exceeds u16")
}

/// The page's kind, if it is an engine page of a known kind and version.
pub(crate) fn kind(p: &Page) -> Option<Kind> {
    if p[OFF_MAGIC] != MAGIC || p[OFF_VERSION] != FORMAT_VERSION {
        return None;
    }
    Kind::from_byte(p[OFF_KIND])
}

// ---------------------------------------------------------------------------------------------
// Meta page.

/// Formats a fresh meta page.
pub(crate) fn init_meta(
    p: &mut Page,
    next_free_page: u64,
    next_txn_id: u64,
    catalog: PageId,
    status: PageId,
) {
    p.fill(0);
    p[OFF_MAGIC] = MAGIC;
    p[OFF_VERSION] = FORMAT_VERSION;
    p[OFF_KIND] = Kind::Meta as u8;
    p[OFF_META_SIGNATURE..OFF_META_SIGNATURE + 8].copy_from_slice(META_SIGNATURE);
    put_u64(p, OFF_META_NEXT_FREE, next_free_page);
    put_u64(p, OFF_META_NEXT_TXN, next_txn_id);
    put_u64(p, OFF_META_CATALOG, catalog.0);
    put_u64(p, OFF_META_STATUS, status.0);
}

pub(crate) fn meta_next_free_page(p: &Page) -> u64 {
    get_u64(p, OFF_META_NEXT_FREE)
}

pub(crate) fn set_meta_next_free_page(p: &mut Page, v: u64) {
    put_u64(p, OFF_META_NEXT_FREE, v);
}

pub(crate) fn meta_next_txn_id(p: &Page) -> u64 {
    get_u64(p, OFF_META_NEXT_TXN)
}

pub(crate) fn set_meta_next_txn_id(p: &mut Page, v: u64) {
    put_u64(p, OFF_META_NEXT_TXN, v);
}

fn validate_meta(id: PageId, p: &Page) -> Result<(), String> {
    if id != crate::META_PAGE {
        return Err("a meta page outside page 0".into());
    }
    if p[OFF_FLAGS] != 0 || p[4..8] != [0; 4] {
        return Err("meta page has non-zero flags or reserved bytes".into());
    }
    if &p[OFF_META_SIGNATURE..OFF_META_SIGNATURE + 8] != META_SIGNATURE {
        return Err("meta page signature mismatch".into());
    }
    let next_free = meta_next_free_page(p);
    if next_free <= crate::STATUS.0 || next_free >= PageId::NONE.0 - 1 {
        return Err(format!("meta page next free page {next_free} out of range"));
    }
    // Far beyond any real use, and leaves room for reservations without overflow.
    if meta_next_txn_id(p) == 0 || meta_next_txn_id(p) >= 1 << 63 {
        return Err("meta page next transaction id out of range".into());
    }
    if get_u64(p, OFF_META_CATALOG) != crate::CATALOG.0 {
        return Err("meta page names another catalog root".into());
    }
    if get_u64(p, OFF_META_STATUS) != crate::STATUS.0 {
        return Err("meta page names another transaction status root".into());
    }
    if p[META_BYTES..].iter().any(|&b| b != 0) {
        return Err("meta page has bytes past its fields".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// B+tree pages: header.

/// Formats an empty B+tree page (or a dropped-root page).
pub(crate) fn init_node(p: &mut Page, id: PageId, kind: Kind, level: u16, tree: PageId, link: u64) {
    assert!(
        matches!(kind, Kind::Leaf | Kind::Internal | Kind::Dropped),
        "init_node formats tree pages only"
    );
    assert!(
        (kind == Kind::Internal) == (level > 0),
        "leaves and only leaves are at level 0"
    );
    p.fill(0);
    p[OFF_MAGIC] = MAGIC;
    p[OFF_VERSION] = FORMAT_VERSION;
    p[OFF_KIND] = kind as u8;
    p[OFF_FLAGS] = if id == tree { FLAG_ROOT } else { 0 };
    put_u16(p, OFF_LEVEL, level);
    put_u16(p, OFF_COUNT, 0);
    put_u16(p, OFF_HEAP_START, to_u16(PAGE_SIZE));
    put_u16(p, OFF_GARBAGE, 0);
    put_u64(p, OFF_LINK, link);
    put_u64(p, OFF_TREE, tree.0);
    put_u64(p, OFF_PAGE, id.0);
}

pub(crate) fn is_root(p: &Page) -> bool {
    p[OFF_FLAGS] & FLAG_ROOT != 0
}

pub(crate) fn level(p: &Page) -> u16 {
    get_u16(p, OFF_LEVEL)
}

pub(crate) fn count(p: &Page) -> usize {
    get_u16(p, OFF_COUNT) as usize
}

fn heap_start(p: &Page) -> usize {
    get_u16(p, OFF_HEAP_START) as usize
}

fn garbage(p: &Page) -> usize {
    get_u16(p, OFF_GARBAGE) as usize
}

/// Leaf: right sibling (0 = none). Internal: leftmost child.
pub(crate) fn link(p: &Page) -> u64 {
    get_u64(p, OFF_LINK)
}

pub(crate) fn tree(p: &Page) -> PageId {
    PageId(get_u64(p, OFF_TREE))
}

fn slot(p: &Page, i: usize) -> usize {
    get_u16(p, HEADER_BYTES + SLOT_BYTES * i) as usize
}

pub(crate) fn is_leaf(p: &Page) -> bool {
    p[OFF_KIND] == Kind::Leaf as u8
}

/// Length of the cell at `off`.
fn cell_len_at(p: &Page, off: usize) -> usize {
    let key_len = get_u16(p, off) as usize;
    if is_leaf(p) {
        LEAF_CELL_OVERHEAD + key_len + get_u16(p, off + 2) as usize
    } else {
        INTERNAL_CELL_OVERHEAD + key_len
    }
}

pub(crate) fn key(p: &Page, i: usize) -> &[u8] {
    let off = slot(p, i);
    let key_len = get_u16(p, off) as usize;
    let start = off
        + if is_leaf(p) {
            LEAF_CELL_OVERHEAD
        } else {
            INTERNAL_CELL_OVERHEAD
        };
    &p[start..start + key_len]
}

pub(crate) fn value(p: &Page, i: usize) -> &[u8] {
    assert!(is_leaf(p), "values live in leaves");
    let off = slot(p, i);
    let key_len = get_u16(p, off) as usize;
    let value_len = get_u16(p, off + 2) as usize;
    let start = off + LEAF_CELL_OVERHEAD + key_len;
    &p[start..start + value_len]
}

pub(crate) fn child(p: &Page, i: usize) -> PageId {
    assert!(!is_leaf(p), "children live in internal pages");
    PageId(get_u64(p, slot(p, i) + 2))
}

/// Binary search: `Ok(i)` if key `i` equals `key`, else `Err(i)` with `i` the insertion point.
/// Every lookup and every step of a descent runs it, so it reads the cell layout once rather
/// than per probe and compares keys with [`compare_keys`].
///
/// A page that is not in the processor's cache costs a memory read per probe: each probe's
/// cell lies elsewhere in the page, and a probe cannot start before the one before it has
/// decided where it goes. On a big table those reads are most of a lookup's time, so the
/// search takes fewer of them:
/// - A page of [`INTERPOLATE_MIN`] keys or more is first searched by interpolation (see
///   [`interpolate`]): its first and last keys (two reads that overlap) place the key
///   wanted, a guess is read, and the answer is bracketed from there by doubling steps.
///   Keys as most tables have them (rising numbers, keys spread over a range) are found in
///   one or two probes after the first and last, where a binary search takes seven or more.
/// - Whatever is left to search, or the whole page when interpolation does not apply, is
///   searched by halves. Each probe then also reads the first byte of both cells the next
///   probe may compare: their reads overlap this probe's instead of following it, and
///   whichever way the comparison goes, the next cell is on its way.
///
/// Both only narrow the range holding the answer, each probe by a comparison with the key
/// itself, so the answer is the binary search's whatever the keys' spread.
pub(crate) fn search(p: &Page, key_wanted: &[u8]) -> Result<usize, usize> {
    let overhead = if is_leaf(p) {
        LEAF_CELL_OVERHEAD
    } else {
        INTERNAL_CELL_OVERHEAD
    };
    let key_at = |i: usize| {
        let off = slot(p, i);
        let start = off + overhead;
        &p[start..start + get_u16(p, off) as usize]
    };
    let n = count(p);
    let (mut lo, mut hi) = (0, n);
    if n >= INTERPOLATE_MIN {
        match interpolate(n, key_at, key_wanted) {
            Ok(found) => return found,
            Err(range) => (lo, hi) = range,
        }
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        // The next probe is the middle of [lo, mid) or of [mid + 1, hi).
        if mid > lo {
            std::hint::black_box(p[slot(p, lo + (mid - lo) / 2)]);
        }
        if mid + 1 < hi {
            std::hint::black_box(p[slot(p, mid + 1 + (hi - mid - 1) / 2)]);
        }
        match compare_keys(key_at(mid), key_wanted) {
            std::cmp::Ordering::Less => lo = mid + 1,
            std::cmp::Ordering::Greater => hi = mid,
            std::cmp::Ordering::Equal => return Ok(mid),
        }
    }
    Err(lo)
}

/// The fewest keys a page needs for [`search`] to start by interpolation: below it, the two
/// extra probes of the first and last keys cost more than they save.
const INTERPOLATE_MIN: usize = 8;

/// Interpolation search over the `n` sorted keys that `key_at` reads. Either the answer
/// (`Ok`, as [`search`] gives it) or a range `[lo, hi)` that holds it (`Err`): every key
/// before `lo` is below `key_wanted`, every key from `hi` on is above it.
///
/// Keys strictly between the first and the last share the prefix those two share (a key
/// differing from it earlier would sort outside them). The eight bytes after that prefix,
/// read as a big-endian number (zero past a key's end), rise with the keys, so the key
/// wanted's number places it between the first's and the last's. The key at that place is
/// read; from it, steps of 1, 2, 4, … towards the key wanted find a key on its other side.
fn interpolate<'p>(
    n: usize,
    key_at: impl Fn(usize) -> &'p [u8],
    key_wanted: &[u8],
) -> Result<Result<usize, usize>, (usize, usize)> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    debug_assert!(n >= 3);
    let (first, last) = (key_at(0), key_at(n - 1));
    match compare_keys(key_wanted, first) {
        Less => return Ok(Err(0)),
        Equal => return Ok(Ok(0)),
        Greater => {}
    }
    match compare_keys(key_wanted, last) {
        Greater => return Ok(Err(n)),
        Equal => return Ok(Ok(n - 1)),
        Less => {}
    }
    // key 0 < key wanted < key n-1: the answer lies in [1, n - 1).
    let (mut lo, mut hi) = (1, n - 1);
    let Some(guess) = interpolation_guess(n, first, last, key_wanted) else {
        return Err((lo, hi));
    };
    match compare_keys(key_at(guess), key_wanted) {
        Equal => return Ok(Ok(guess)),
        Less => {
            lo = guess + 1;
            let mut step = 1;
            while guess + step < hi {
                let at = guess + step;
                match compare_keys(key_at(at), key_wanted) {
                    Less => lo = at + 1,
                    Equal => return Ok(Ok(at)),
                    Greater => {
                        hi = at;
                        break;
                    }
                }
                step *= 2;
            }
        }
        Greater => {
            hi = guess;
            let mut step = 1;
            while step < guess && guess - step >= lo {
                let at = guess - step;
                match compare_keys(key_at(at), key_wanted) {
                    Greater => hi = at,
                    Equal => return Ok(Ok(at)),
                    Less => {
                        lo = at + 1;
                        break;
                    }
                }
                step *= 2;
            }
        }
    }
    Err((lo, hi))
}

/// Where `key_wanted`, lying strictly between `first` (at 0) and `last` (at `n - 1`), would
/// be if the keys between were spread evenly: in [1, n - 2]. `None` when the keys differ only
/// past the eight bytes read after their shared prefix, which leaves nothing to place it by.
fn interpolation_guess(n: usize, first: &[u8], last: &[u8], key_wanted: &[u8]) -> Option<usize> {
    let shared = first
        .iter()
        .zip(last)
        .position(|(a, b)| a != b)
        .unwrap_or(first.len().min(last.len()));
    let (f, l, k) = (
        number_after(first, shared),
        number_after(last, shared),
        number_after(key_wanted, shared),
    );
    if l <= f || k < f || k > l {
        return None;
    }
    let guess = ((k - f) as f64 / (l - f) as f64 * (n - 1) as f64) as usize;
    Some(guess.clamp(1, n - 2))
}

/// Reads, and nothing more, the cell a [`search`] of leaf `p` for `key_wanted` reads first
/// after the first and last keys (the interpolation's guess), so that a search soon after
/// finds it in the processor's cache. For [`crate::btree::touch_pages`], which has checked
/// that `p` is a page of a tree.
pub(crate) fn touch_first_probe(p: &Page, key_wanted: &[u8]) {
    let n = count(p);
    if n < INTERPOLATE_MIN {
        return;
    }
    let (first, last) = (key(p, 0), key(p, n - 1));
    if compare_keys(first, key_wanted).is_lt()
        && compare_keys(key_wanted, last).is_lt()
        && let Some(guess) = interpolation_guess(n, first, last, key_wanted)
    {
        std::hint::black_box(key(p, guess).first());
    }
}

/// The eight bytes of `key` from `at` as a big-endian number, zeros past the key's end.
fn number_after(key: &[u8], at: usize) -> u64 {
    let tail = key.get(at..).unwrap_or(&[]);
    let mut b = [0u8; 8];
    let len = tail.len().min(8);
    b[..len].copy_from_slice(&tail[..len]);
    u64::from_be_bytes(b)
}

/// Byte-wise (lexicographic) order of two keys, as `<[u8]>::cmp` gives it. Most keys are at
/// least eight bytes long (an encoded `int8` is), and their first eight bytes usually decide:
/// comparing them as one big-endian number settles most probes of a binary search without a
/// call into the general slice comparison.
#[inline]
pub(crate) fn compare_keys(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    if let (Some((ha, ra)), Some((hb, rb))) =
        (a.split_first_chunk::<8>(), b.split_first_chunk::<8>())
    {
        match u64::from_be_bytes(*ha).cmp(&u64::from_be_bytes(*hb)) {
            std::cmp::Ordering::Equal => ra.cmp(rb),
            unequal => unequal,
        }
    } else {
        a.cmp(b)
    }
}

/// The child of an internal page whose key range holds `key`.
pub(crate) fn child_for(p: &Page, key_wanted: &[u8]) -> PageId {
    match search(p, key_wanted) {
        Ok(i) => child(p, i),
        Err(0) => PageId(link(p)),
        Err(i) => child(p, i - 1),
    }
}

/// Every child of an internal page, leftmost first.
pub(crate) fn children(p: &Page) -> Vec<PageId> {
    let mut out = Vec::with_capacity(count(p) + 1);
    out.push(PageId(link(p)));
    out.extend((0..count(p)).map(|i| child(p, i)));
    out
}

// ---------------------------------------------------------------------------------------------
// B+tree pages: cells.

/// Builds a leaf cell. The caller has checked the entry against the limits.
pub(crate) fn leaf_cell(key: &[u8], value: &[u8]) -> Vec<u8> {
    assert!(
        key.len() <= KEY_BYTES_MAX && key.len() + value.len() <= CELL_ENTRY_BYTES_MAX,
        "entry exceeds the limits"
    );
    let mut c = Vec::with_capacity(LEAF_CELL_OVERHEAD + key.len() + value.len());
    c.extend_from_slice(&to_u16(key.len()).to_le_bytes());
    c.extend_from_slice(&to_u16(value.len()).to_le_bytes());
    c.extend_from_slice(key);
    c.extend_from_slice(value);
    c
}

/// Builds an internal cell.
pub(crate) fn internal_cell(key: &[u8], child: PageId) -> Vec<u8> {
    assert!(
        key.len() <= KEY_BYTES_MAX,
        "separator exceeds the key limit"
    );
    let mut c = Vec::with_capacity(INTERNAL_CELL_OVERHEAD + key.len());
    c.extend_from_slice(&to_u16(key.len()).to_le_bytes());
    c.extend_from_slice(&child.0.to_le_bytes());
    c.extend_from_slice(key);
    c
}

/// The key of a raw cell of the given kind.
pub(crate) fn cell_key(leaf: bool, cell: &[u8]) -> &[u8] {
    let key_len = u16::from_le_bytes([cell[0], cell[1]]) as usize;
    let start = if leaf {
        LEAF_CELL_OVERHEAD
    } else {
        INTERNAL_CELL_OVERHEAD
    };
    &cell[start..start + key_len]
}

/// The child of a raw internal cell.
pub(crate) fn cell_child(cell: &[u8]) -> PageId {
    let mut b = [0u8; 8];
    b.copy_from_slice(&cell[2..10]);
    PageId(u64::from_le_bytes(b))
}

/// Every cell of the page, in key order.
pub(crate) fn cells(p: &Page) -> Vec<Vec<u8>> {
    (0..count(p))
        .map(|i| {
            let off = slot(p, i);
            p[off..off + cell_len_at(p, off)].to_vec()
        })
        .collect()
}

/// Space a cell takes in a page, its slot included.
pub(crate) fn cell_footprint(cell: &[u8]) -> usize {
    cell.len() + SLOT_BYTES
}

/// Space available for cells and slots in an empty page.
pub(crate) const NODE_CAPACITY_BYTES: usize = PAGE_SIZE - HEADER_BYTES;

/// Inserts `cell` at slot position `i`, compacting the page first if its free space is
/// fragmented. Returns false, leaving the page unchanged, if the cell does not fit at all.
pub(crate) fn insert_cell(p: &mut Page, i: usize, cell: &[u8]) -> bool {
    let n = count(p);
    assert!(i <= n, "slot position past the end");
    let need = cell_footprint(cell);
    let contiguous = heap_start(p) - (HEADER_BYTES + SLOT_BYTES * n);
    if contiguous < need {
        if contiguous + garbage(p) < need {
            return false;
        }
        compact(p);
    }
    let off = heap_start(p) - cell.len();
    p[off..off + cell.len()].copy_from_slice(cell);
    let slots = HEADER_BYTES + SLOT_BYTES * i;
    let slots_end = HEADER_BYTES + SLOT_BYTES * n;
    p.copy_within(slots..slots_end, slots + SLOT_BYTES);
    put_u16(p, slots, to_u16(off));
    put_u16(p, OFF_COUNT, to_u16(n + 1));
    put_u16(p, OFF_HEAP_START, to_u16(off));
    true
}

/// Removes the cell at slot position `i`. Its bytes become garbage, unless it sits at the start of
/// the heap, in which case the heap simply shrinks.
pub(crate) fn remove_cell(p: &mut Page, i: usize) {
    let n = count(p);
    assert!(i < n, "slot position past the end");
    let off = slot(p, i);
    let len = cell_len_at(p, off);
    if off == heap_start(p) {
        put_u16(p, OFF_HEAP_START, to_u16(off + len));
    } else {
        put_u16(p, OFF_GARBAGE, to_u16(garbage(p) + len));
    }
    let slots = HEADER_BYTES + SLOT_BYTES * i;
    let slots_end = HEADER_BYTES + SLOT_BYTES * n;
    p.copy_within(slots + SLOT_BYTES..slots_end, slots);
    put_u16(p, OFF_COUNT, to_u16(n - 1));
}

/// Rewrites the heap without garbage, cells in key order from the end of the page.
fn compact(p: &mut Page) {
    let cells = cells(p);
    let mut off = PAGE_SIZE;
    for (i, c) in cells.iter().enumerate() {
        off -= c.len();
        p[off..off + c.len()].copy_from_slice(c);
        put_u16(p, HEADER_BYTES + SLOT_BYTES * i, to_u16(off));
    }
    put_u16(p, OFF_HEAP_START, to_u16(off));
    put_u16(p, OFF_GARBAGE, 0);
}

/// Rewrites a B+tree page wholesale with the given header and cells (sorted, fitting).
pub(crate) fn write_node(
    p: &mut Page,
    id: PageId,
    kind: Kind,
    level: u16,
    tree: PageId,
    link: u64,
    cells: &[Vec<u8>],
) {
    init_node(p, id, kind, level, tree, link);
    for (i, c) in cells.iter().enumerate() {
        assert!(
            insert_cell(p, i, c),
            "cells given to write_node overflow the page"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Validation.

/// Checks every invariant of a page that claims to be an engine page. `id` is where it was read
/// from. Never panics, whatever the bytes.
pub(crate) fn validate(id: PageId, p: &Page) -> Result<(), String> {
    if p[OFF_MAGIC] != MAGIC {
        return Err(format!("bad magic byte {:#04x}", p[OFF_MAGIC]));
    }
    if p[OFF_VERSION] != FORMAT_VERSION {
        return Err(format!("unknown format version {}", p[OFF_VERSION]));
    }
    let Some(k) = Kind::from_byte(p[OFF_KIND]) else {
        return Err(format!("unknown page kind {}", p[OFF_KIND]));
    };
    if (k == Kind::Meta) != (id == crate::META_PAGE) {
        return Err("page 0 and only page 0 is the meta page".into());
    }
    match k {
        Kind::Meta => validate_meta(id, p),
        Kind::Dropped => validate_dropped(id, p),
        Kind::Leaf | Kind::Internal => validate_node(id, p, k),
    }
}

fn validate_dropped(id: PageId, p: &Page) -> Result<(), String> {
    if p[OFF_FLAGS] != FLAG_ROOT || tree(p) != id || get_u64(p, OFF_PAGE) != id.0 {
        return Err("a dropped page that was not a tree root".into());
    }
    if p[HEADER_BYTES..].iter().any(|&b| b != 0)
        || count(p) != 0
        || level(p) != 0
        || link(p) != 0
        || heap_start(p) != PAGE_SIZE
        || garbage(p) != 0
    {
        return Err("a dropped root page that is not empty".into());
    }
    Ok(())
}

fn validate_node(id: PageId, p: &Page, k: Kind) -> Result<(), String> {
    let flags = p[OFF_FLAGS];
    if flags & !FLAG_ROOT != 0 {
        return Err(format!("unknown flags {flags:#04x}"));
    }
    if get_u16(p, OFF_RESERVED) != 0 || get_u16(p, OFF_RESERVED + 2) != 0 {
        return Err("reserved header bytes are not zero".into());
    }
    if get_u64(p, OFF_PAGE) != id.0 {
        return Err(format!(
            "page claims to be page {}: a misdirected read",
            get_u64(p, OFF_PAGE)
        ));
    }
    let root = flags & FLAG_ROOT != 0;
    if root != (tree(p) == id) {
        return Err(format!(
            "root flag {root} disagrees with owning tree {}",
            tree(p)
        ));
    }
    let lvl = level(p);
    if (k == Kind::Leaf) != (lvl == 0) || lvl >= TREE_LEVELS_MAX {
        return Err(format!("level {lvl} impossible for a {k:?} page"));
    }
    let n = count(p);
    let heap = heap_start(p);
    let slots_end = HEADER_BYTES + SLOT_BYTES * n;
    if slots_end > heap || heap > PAGE_SIZE {
        return Err(format!(
            "{n} slots and heap start {heap} overlap or overflow"
        ));
    }
    let overhead = if k == Kind::Leaf {
        LEAF_CELL_OVERHEAD
    } else {
        INTERNAL_CELL_OVERHEAD
    };
    let lnk = link(p);
    if k == Kind::Internal && !plausible_child(lnk, id) {
        return Err(format!("implausible leftmost child {lnk}"));
    }
    if k == Kind::Leaf && (lnk == id.0 || lnk == PageId::NONE.0 || (root && lnk != 0)) {
        return Err(format!("implausible right sibling {lnk}"));
    }
    let mut extents: Vec<(usize, usize)> = Vec::with_capacity(n);
    let mut previous: Option<&[u8]> = None;
    for i in 0..n {
        let off = slot(p, i);
        if off < heap || off + overhead > PAGE_SIZE {
            return Err(format!("slot {i} offset {off} outside the heap"));
        }
        let key_len = get_u16(p, off) as usize;
        if key_len > KEY_BYTES_MAX {
            return Err(format!("slot {i} key of {key_len} bytes"));
        }
        let len = overhead
            + key_len
            + if k == Kind::Leaf {
                let value_len = get_u16(p, off + 2) as usize;
                if key_len + value_len > CELL_ENTRY_BYTES_MAX {
                    return Err(format!("slot {i} entry of {} bytes", key_len + value_len));
                }
                value_len
            } else {
                0
            };
        if off + len > PAGE_SIZE {
            return Err(format!("slot {i} cell runs past the page"));
        }
        if k == Kind::Internal && !plausible_child(get_u64(p, off + 2), id) {
            return Err(format!(
                "slot {i} implausible child {}",
                get_u64(p, off + 2)
            ));
        }
        let key_now = &p[off + overhead..off + overhead + key_len];
        if previous.is_some_and(|prev| prev >= key_now) {
            return Err(format!("slot {i} key out of order"));
        }
        previous = Some(key_now);
        extents.push((off, len));
    }
    extents.sort_unstable();
    let mut used = 0usize;
    for w in extents.windows(2) {
        if w[0].0 + w[0].1 > w[1].0 {
            return Err(format!("cells at {} and {} overlap", w[0].0, w[1].0));
        }
    }
    for e in &extents {
        used += e.1;
    }
    if used + garbage(p) != PAGE_SIZE - heap {
        return Err(format!(
            "free space inconsistent: cells {used} + garbage {} != heap {}",
            garbage(p),
            PAGE_SIZE - heap
        ));
    }
    Ok(())
}

/// A child pointer may not name the meta page, "no page" or the page itself.
/// (That it belongs to the same tree and sits one level lower is checked on the way down.)
fn plausible_child(child: u64, parent: PageId) -> bool {
    child != crate::META_PAGE.0 && child != PageId::NONE.0 && child != parent.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf() -> Box<Page> {
        let mut p = Box::new([0u8; PAGE_SIZE]);
        init_node(&mut p, PageId(9), Kind::Leaf, 0, PageId(7), 0);
        p
    }

    /// The fast comparison must order keys exactly as byte-wise slice order does, whatever
    /// their lengths (shorter than, equal to, longer than its eight-byte head).
    #[test]
    fn compare_keys_agrees_with_byte_order() {
        let keys: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![1],
            vec![0xff],
            vec![1, 2, 3, 4, 5, 6, 7],
            vec![1, 2, 3, 4, 5, 6, 7, 8],
            vec![1, 2, 3, 4, 5, 6, 7, 9],
            vec![1, 2, 3, 4, 5, 6, 7, 8, 0],
            vec![1, 2, 3, 4, 5, 6, 7, 8, 1],
            vec![1, 2, 3, 4, 5, 6, 7, 8, 1, 0],
            vec![1, 2, 3, 4, 5, 6, 8],
            vec![0x80, 0, 0, 0, 0, 0, 0, 1],
            vec![0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            vec![0xff; 12],
        ];
        for a in &keys {
            for b in &keys {
                assert_eq!(compare_keys(a, b), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }

    /// Search finds every key of a page of eight-byte and longer keys, and the insertion
    /// point of absent ones, as a linear walk does.
    #[test]
    fn search_finds_long_keys() {
        let mut p = leaf();
        let keys: Vec<Vec<u8>> = (0u64..200)
            .map(|i| {
                let mut k = (i * 3).to_be_bytes().to_vec();
                k.extend(std::iter::repeat_n(7u8, (i % 3) as usize));
                k
            })
            .collect();
        for (i, k) in keys.iter().enumerate() {
            assert!(insert_cell(&mut p, i, &leaf_cell(k, b"v")));
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(search(&p, k), Ok(i));
            let mut absent = k.clone();
            absent.push(0);
            let expected = keys.iter().filter(|x| **x <= absent).count();
            assert_eq!(search(&p, &absent), Err(expected));
        }
    }

    /// Search gives the answer a linear walk gives, on pages whose keys are spread every way
    /// interpolation meets: rising numbers, numbers far apart and bunched, random bytes of
    /// random lengths, keys that are prefixes of others, keys alike in their first eight bytes
    /// after a shared prefix. Each page is probed with its keys, with keys just beside them,
    /// and with keys below and above all of them.
    #[test]
    fn search_agrees_with_a_linear_walk_however_keys_are_spread() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut sets: Vec<Vec<Vec<u8>>> = Vec::new();
        for n in [3u64, 7, 8, 9, 50, 250] {
            sets.push((0..n).map(|i| (1_000 + i).to_be_bytes().to_vec()).collect());
            sets.push(
                (0..n)
                    .map(|i| (i * i * i * 977).to_be_bytes().to_vec())
                    .collect(),
            );
            sets.push(
                (0..n)
                    .map(|i| (1u64 << (i % 64)).to_be_bytes().to_vec())
                    .collect(),
            );
            sets.push(
                (0..n)
                    .map(|_| {
                        let len = (next() % 12) as usize;
                        (0..len).map(|_| (next() % 4) as u8).collect()
                    })
                    .collect(),
            );
            sets.push(
                (0..n)
                    .map(|i| {
                        let mut k = b"prefix".to_vec();
                        k.extend_from_slice(&[0; 8]);
                        k.extend_from_slice(&(i * 7 + next() % 5).to_be_bytes());
                        k
                    })
                    .collect(),
            );
            sets.push(
                (0..n)
                    .map(|i| {
                        let mut k = vec![0u8; (i % 20) as usize];
                        k.push((next() % 3) as u8);
                        k
                    })
                    .collect(),
            );
        }
        for mut keys in sets {
            keys.sort();
            keys.dedup();
            let mut p = leaf();
            for (i, k) in keys.iter().enumerate() {
                assert!(
                    insert_cell(&mut p, i, &leaf_cell(k, b"")),
                    "the keys fit a page"
                );
            }
            let mut probes = vec![vec![], vec![0xff; 24]];
            for k in &keys {
                probes.push(k.clone());
                let mut longer = k.clone();
                longer.push(0);
                probes.push(longer);
                if let Some((last, head)) = k.split_last() {
                    let mut below = head.to_vec();
                    below.push(last.wrapping_sub(1));
                    probes.push(below);
                    probes.push(head.to_vec());
                }
            }
            for probe in &probes {
                let expected = match keys.iter().position(|k| k == probe) {
                    Some(i) => Ok(i),
                    None => Err(keys.iter().filter(|k| *k < probe).count()),
                };
                assert_eq!(search(&p, probe), expected, "{probe:?} in {keys:?}");
            }
        }
    }

    #[test]
    fn insert_remove_keep_the_page_valid_and_sorted() {
        let mut p = leaf();
        let id = PageId(9);
        for k in [5u8, 1, 9, 3, 7] {
            let pos = search(&p, &[k]).unwrap_err();
            assert!(insert_cell(&mut p, pos, &leaf_cell(&[k], &[k; 10])));
            validate(id, &p).unwrap();
        }
        let keys: Vec<u8> = (0..count(&p)).map(|i| key(&p, i)[0]).collect();
        assert_eq!(keys, [1, 3, 5, 7, 9]);
        remove_cell(&mut p, 2);
        validate(id, &p).unwrap();
        assert_eq!(search(&p, &[5]), Err(2));
        assert_eq!(value(&p, 2), &[7; 10]);
    }

    #[test]
    fn a_full_page_compacts_its_garbage_before_refusing() {
        let mut p = leaf();
        let id = PageId(9);
        let mut n = 0u16;
        while insert_cell(&mut p, n as usize, &leaf_cell(&n.to_be_bytes(), &[1; 100])) {
            n += 1;
        }
        assert!(n > 10);
        // Free the second cell: its bytes become garbage, not contiguous space.
        remove_cell(&mut p, 1);
        validate(id, &p).unwrap();
        assert!(garbage(&p) > 0);
        assert!(insert_cell(
            &mut p,
            1,
            &leaf_cell(&1u16.to_be_bytes(), &[2; 100])
        ));
        validate(id, &p).unwrap();
        assert_eq!(garbage(&p), 0);
        assert_eq!(value(&p, 1), &[2; 100]);
    }

    #[test]
    fn validate_refuses_damage_without_panicking() {
        let mut p = leaf();
        for k in 0u8..20 {
            assert!(insert_cell(&mut p, k as usize, &leaf_cell(&[k], &[k; 30])));
        }
        let id = PageId(9);
        validate(id, &p).unwrap();
        // Swap two slots: keys out of order.
        let mut bad = p.clone();
        bad.copy_within(HEADER_BYTES..HEADER_BYTES + 2, HEADER_BYTES + 2);
        assert!(validate(id, &bad).is_err());
        // Every single-byte corruption of the header and slots is either refused or harmless.
        for at in 0..HEADER_BYTES + 40 {
            let mut bad = p.clone();
            bad[at] ^= 0xFF;
            let _ = validate(id, &bad);
        }
        // A garbage page.
        let mut seed = 0x1234_5678_9abc_def0u64;
        for _ in 0..100 {
            let mut bad = p.clone();
            for b in bad.iter_mut().skip(HEADER_BYTES) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = seed as u8;
            }
            assert!(validate(id, &bad).is_err());
        }
    }
}
