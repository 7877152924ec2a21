//! The redo record: the only thing the compute ever sends to storage.
//!
//! Payloads are engine-agnostic page operations, so a storage node can materialise any page
//! without knowing what the engine keeps in it (the idea of PostgreSQL's generic WAL):
//!
//! - `Init`: the page's full image (a new page, or a page rewritten wholesale). Bytes past the
//!   image's length are zero. Encoded without its longest run of zeros (a page's free space
//!   between its slots and its cells) when that run is long enough to be worth its 4 bytes,
//!   as PostgreSQL leaves the hole out of a full-page image.
//! - `Patch`: byte ranges to overwrite, computed by the engine as the delta between the page's old
//!   and new image.
//! - `Commit`: a transaction's commit record. It changes no page (`PageId::NONE`); it carries the
//!   transaction id and wall-clock time, which later maps a time to an LSN for point-in-time
//!   restore and backtrack.
//!
//! Every record carries two backlinks: to the previous record of the same protection group (this
//! is how a segment finds gaps and computes its SCL) and to the previous record of the same page
//! (so a page's version chain can be walked). The last record of every MTR is flagged as a CPL.
//!
//! Byte layout (little-endian), see docs/formats.md:
//!
//! ```text
//!  0  u64 lsn            20 u64 page           37 u8  kind (1 init, 2 patch, 3 commit,
//!                                                         4 init with a hole)
//!  8  u32 pg             28 u64 prev_page_lsn  38 u32 body_len
//! 12  u64 prev_pg_lsn    36 u8  flags (bit 0 = CPL, bit 1 = known VDL follows)
//! 42  body
//!
//! with flag bit 1:       38 u64 known_vdl      46 u32 body_len     50 body
//! ```
//!
//! `known_vdl` is the writer's VDL when it allocated the record: every LSN up to it was durable
//! then, in every protection group. Recovery over several PGs starts its scan there (see
//! `borealis-volume`'s `vcl` module). A record without the flag (all records written before the
//! field existed, and those allocated while VDL is 0) decodes with `known_vdl = 0`.

use crate::codec::{DecodeError, DecodeResult, Put, Reader};
use crate::ids::{Lsn, PageId, PgId, TxnId};
use crate::limits::PATCHES_PER_RECORD_MAX;

/// Size of a page, in the buffer pool and in storage.
pub const PAGE_SIZE: usize = 8192;

/// Fixed part of an encoded record.
pub const RECORD_HEADER_BYTES: usize = 42;

const FLAG_CPL: u8 = 1;
const FLAG_KNOWN_VDL: u8 = 2;
const KIND_INIT: u8 = 1;
const KIND_PATCH: u8 = 2;
const KIND_COMMIT: u8 = 3;
const KIND_INIT_HOLE: u8 = 4;

/// The shortest run of zeros an `Init` image is encoded without (see [`init_hole`]).
const INIT_HOLE_BYTES_MIN: usize = 64;

/// The longest run of zero bytes in `image` when it is at least [`INIT_HOLE_BYTES_MIN`] long:
/// (offset, length). An `Init` is encoded without it (kind 4).
///
/// Read eight bytes at a time: a run that long spans whole zero words, so within a word that is
/// not zero only the zeros at its two ends matter (they extend the run before it and start the
/// next). Runs inside such a word are shorter than eight bytes and never the answer.
fn init_hole(image: &[u8]) -> Option<(usize, usize)> {
    let mut best = (0, 0);
    // The run of zeros that reaches the current position: (start, length).
    let mut run = (0, 0);
    let mut words = image.chunks_exact(8);
    for (k, word) in words.by_ref().enumerate() {
        let at = k * 8;
        let w = u64::from_le_bytes(word.try_into().expect("a chunk of eight bytes"));
        if w == 0 {
            run = if run.1 == 0 {
                (at, 8)
            } else {
                (run.0, run.1 + 8)
            };
            continue;
        }
        // Little-endian: the word's first bytes in memory are its low bytes.
        let leading = (w.trailing_zeros() / 8) as usize;
        let ended = if run.1 == 0 {
            (at, leading)
        } else {
            (run.0, run.1 + leading)
        };
        if ended.1 > best.1 {
            best = ended;
        }
        let trailing = (w.leading_zeros() / 8) as usize;
        run = (at + 8 - trailing, trailing);
    }
    for (k, &b) in words.remainder().iter().enumerate() {
        let at = image.len() - words.remainder().len() + k;
        if b == 0 {
            run = if run.1 == 0 {
                (at, 1)
            } else {
                (run.0, run.1 + 1)
            };
        } else {
            if run.1 > best.1 {
                best = run;
            }
            run = (at + 1, 0);
        }
    }
    if run.1 > best.1 {
        best = run;
    }
    (best.1 >= INIT_HOLE_BYTES_MIN).then_some(best)
}

/// One byte range to overwrite in a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Patch {
    pub offset: u16,
    pub bytes: Vec<u8>,
}

/// What a record does to its page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// The page's new full image; bytes past its length are zero. At most `PAGE_SIZE` bytes.
    Init(Vec<u8>),
    /// Byte ranges to overwrite. Each lies wholly inside the page.
    Patch(Vec<Patch>),
    /// A transaction commits. Changes no page.
    Commit { txn: TxnId, time_us: u64 },
}

/// A redo record as shipped to storage and kept in its log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedoRecord {
    pub lsn: Lsn,
    pub pg: PgId,
    /// LSN of the previous record of the same protection group, or 0.
    pub prev_pg_lsn: Lsn,
    pub page: PageId,
    /// LSN of the previous record of the same page, or 0.
    pub prev_page_lsn: Lsn,
    /// The writer's VDL when it allocated this record (0: not known). Below the record's LSN.
    pub known_vdl: Lsn,
    /// This record ends an MTR: the volume is consistent at its LSN.
    pub cpl: bool,
    pub payload: Payload,
}

impl RedoRecord {
    pub fn encode(&self, out: &mut Vec<u8>) {
        assert!(
            self.prev_pg_lsn < self.lsn,
            "PG backlink must point backwards"
        );
        assert!(
            self.prev_page_lsn < self.lsn,
            "page backlink must point backwards"
        );
        out.put_u64(self.lsn.0);
        out.put_u32(self.pg.0);
        out.put_u64(self.prev_pg_lsn.0);
        out.put_u64(self.page.0);
        assert!(
            self.known_vdl < self.lsn,
            "a record cannot be durable before it is allocated"
        );
        out.put_u64(self.prev_page_lsn.0);
        let mut flags = if self.cpl { FLAG_CPL } else { 0 };
        if self.known_vdl != Lsn::ZERO {
            flags |= FLAG_KNOWN_VDL;
        }
        out.put_u8(flags);
        let hole = match &self.payload {
            Payload::Init(image) => init_hole(image),
            _ => None,
        };
        out.put_u8(match &self.payload {
            Payload::Init(_) if hole.is_some() => KIND_INIT_HOLE,
            Payload::Init(_) => KIND_INIT,
            Payload::Patch(_) => KIND_PATCH,
            Payload::Commit { .. } => KIND_COMMIT,
        });
        if self.known_vdl != Lsn::ZERO {
            out.put_u64(self.known_vdl.0);
        }
        let len_at = out.len();
        match &self.payload {
            Payload::Init(image) => {
                assert!(image.len() <= PAGE_SIZE, "init image larger than a page");
                match hole {
                    Some((at, len)) => {
                        let body = 4 + image.len() - len;
                        out.put_u32(u32::try_from(body).expect("an image is at most a page"));
                        out.put_u16(u16::try_from(at).expect("an offset within a page"));
                        out.put_u16(u16::try_from(len).expect("a length within a page"));
                        out.extend_from_slice(&image[..at]);
                        out.extend_from_slice(&image[at + len..]);
                    }
                    None => out.put_bytes(image),
                }
            }
            Payload::Patch(patches) => {
                out.put_u32(0);
                let start = out.len();
                let n = u16::try_from(patches.len()).expect("too many patches");
                assert!(
                    n <= PATCHES_PER_RECORD_MAX,
                    "too many patches in one record"
                );
                out.put_u16(n);
                for p in patches {
                    assert!(
                        p.offset as usize + p.bytes.len() <= PAGE_SIZE,
                        "patch outside the page"
                    );
                    out.put_u16(p.offset);
                    out.put_u16(u16::try_from(p.bytes.len()).expect("patch too long"));
                    out.extend_from_slice(&p.bytes);
                }
                let body = u32::try_from(out.len() - start).expect("body too long");
                out[len_at..len_at + 4].copy_from_slice(&body.to_le_bytes());
            }
            Payload::Commit { txn, time_us } => {
                out.put_u32(16);
                out.put_u64(txn.0);
                out.put_u64(*time_us);
            }
        }
    }

    /// Encoded size, for batching decisions.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        RECORD_HEADER_BYTES
            + if self.known_vdl == Lsn::ZERO { 0 } else { 8 }
            + match &self.payload {
                Payload::Init(image) => match init_hole(image) {
                    Some((_, len)) => 4 + image.len() - len,
                    None => image.len(),
                },
                Payload::Patch(patches) => {
                    2 + patches.iter().map(|p| 4 + p.bytes.len()).sum::<usize>()
                }
                Payload::Commit { .. } => 16,
            }
    }

    /// Decodes one record from untrusted bytes, checking every bound.
    pub fn decode(r: &mut Reader<'_>) -> DecodeResult<RedoRecord> {
        let lsn = Lsn(r.u64()?);
        let pg = PgId(r.u32()?);
        let prev_pg_lsn = Lsn(r.u64()?);
        let page = PageId(r.u64()?);
        let prev_page_lsn = Lsn(r.u64()?);
        let flags = r.u8()?;
        let kind = r.u8()?;
        let known_vdl = if flags & FLAG_KNOWN_VDL != 0 {
            Lsn(r.u64()?)
        } else {
            Lsn::ZERO
        };
        if lsn == Lsn::ZERO || prev_pg_lsn >= lsn || prev_page_lsn >= lsn || known_vdl >= lsn {
            return Err(DecodeError(format!(
                "record {lsn}: backlinks must point backwards"
            )));
        }
        if flags & !(FLAG_CPL | FLAG_KNOWN_VDL) != 0 {
            return Err(DecodeError(format!(
                "record {lsn}: unknown flags {flags:#x}"
            )));
        }
        let body = r.bytes(PAGE_SIZE as u32 * 2)?;
        let payload = match kind {
            KIND_INIT => {
                if body.len() > PAGE_SIZE {
                    return Err(DecodeError(format!("record {lsn}: init image too long")));
                }
                Payload::Init(body.to_vec())
            }
            KIND_INIT_HOLE => {
                let mut b = Reader::new(body);
                let at = usize::from(b.u16()?);
                let len = usize::from(b.u16()?);
                let rest = &body[4..];
                if at > rest.len() || rest.len() + len > PAGE_SIZE {
                    return Err(DecodeError(format!(
                        "record {lsn}: init image's hole outside the page"
                    )));
                }
                let mut image = Vec::with_capacity(rest.len() + len);
                image.extend_from_slice(&rest[..at]);
                image.resize(at + len, 0);
                image.extend_from_slice(&rest[at..]);
                Payload::Init(image)
            }
            KIND_PATCH => {
                let mut b = Reader::new(body);
                let n = b.u16()?;
                if n > PATCHES_PER_RECORD_MAX {
                    return Err(DecodeError(format!("record {lsn}: {n} patches")));
                }
                let mut patches = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let offset = b.u16()?;
                    let len = b.u16()?;
                    if offset as usize + len as usize > PAGE_SIZE {
                        return Err(DecodeError(format!("record {lsn}: patch outside the page")));
                    }
                    patches.push(Patch {
                        offset,
                        bytes: b.take(len as usize)?.to_vec(),
                    });
                }
                b.finish()?;
                Payload::Patch(patches)
            }
            KIND_COMMIT => {
                let mut b = Reader::new(body);
                let txn = TxnId(b.u64()?);
                let time_us = b.u64()?;
                b.finish()?;
                Payload::Commit { txn, time_us }
            }
            other => return Err(DecodeError(format!("record {lsn}: unknown kind {other}"))),
        };
        if matches!(payload, Payload::Commit { .. }) != (page == PageId::NONE) {
            return Err(DecodeError(format!(
                "record {lsn}: commit records and only they have no page"
            )));
        }
        Ok(RedoRecord {
            lsn,
            pg,
            prev_pg_lsn,
            page,
            prev_page_lsn,
            known_vdl,
            cpl: flags & FLAG_CPL != 0,
            payload,
        })
    }

    /// Whether applying this record needs the page's previous image.
    #[must_use]
    pub fn needs_base(&self) -> bool {
        matches!(self.payload, Payload::Patch(_))
    }
}

/// Applies a payload to a page image. `Commit` leaves the page alone.
pub fn apply(page: &mut [u8; PAGE_SIZE], payload: &Payload) {
    match payload {
        Payload::Init(image) => {
            page[..image.len()].copy_from_slice(image);
            page[image.len()..].fill(0);
        }
        Payload::Patch(patches) => {
            for p in patches {
                let start = p.offset as usize;
                page[start..start + p.bytes.len()].copy_from_slice(&p.bytes);
            }
        }
        Payload::Commit { .. } => {}
    }
}

/// The delta between two page images as a redo payload: `Patch` runs of changed bytes, runs that
/// lie closer than `GAP_BYTES_MAX` merged (a 4-byte patch header costs more than a few unchanged
/// bytes). Returns `None` when the images are equal. When the patches would be larger than the
/// page itself, a trimmed `Init` is cheaper and is returned instead.
#[must_use]
pub fn diff(old: &[u8; PAGE_SIZE], new: &[u8; PAGE_SIZE]) -> Option<Payload> {
    const GAP_BYTES_MAX: usize = 8;
    let mut patches: Vec<Patch> = Vec::new();
    let mut i = 0;
    let mut cost = 2usize;
    while i < PAGE_SIZE {
        if old[i] == new[i] {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i + 1; // exclusive end of the run of changes
        let mut j = end;
        while j < PAGE_SIZE && j - end < GAP_BYTES_MAX {
            if old[j] != new[j] {
                end = j + 1;
            }
            j += 1;
        }
        cost += 4 + (end - start);
        patches.push(Patch {
            offset: start as u16,
            bytes: new[start..end].to_vec(),
        });
        i = end;
    }
    if patches.is_empty() {
        return None;
    }
    if cost >= PAGE_SIZE || patches.len() > PATCHES_PER_RECORD_MAX as usize {
        return Some(init_image(new));
    }
    Some(Payload::Patch(patches))
}

/// A full-image payload with trailing zeros trimmed.
#[must_use]
pub fn init_image(page: &[u8; PAGE_SIZE]) -> Payload {
    let len = page.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    Payload::Init(page[..len].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(payload: Payload, page: PageId) -> RedoRecord {
        RedoRecord {
            lsn: Lsn(10),
            pg: PgId(0),
            prev_pg_lsn: Lsn(9),
            page,
            prev_page_lsn: Lsn(3),
            known_vdl: Lsn::ZERO,
            cpl: true,
            payload,
        }
    }

    #[test]
    fn the_known_vdl_is_optional_and_old_records_read_as_before() {
        let old = rec(Payload::Init(vec![1, 2, 3]), PageId(4));
        let mut buf = Vec::new();
        old.encode(&mut buf);
        // Without a known VDL the bytes are those of the original layout: header, then body.
        assert_eq!(buf[36], FLAG_CPL);
        assert_eq!(buf.len(), RECORD_HEADER_BYTES + 3);
        let mut with = old.clone();
        with.known_vdl = Lsn(7);
        let mut buf2 = Vec::new();
        with.encode(&mut buf2);
        assert_eq!(buf2.len(), with.encoded_len());
        assert_eq!(buf2.len(), buf.len() + 8);
        assert_eq!(buf2[36], FLAG_CPL | FLAG_KNOWN_VDL);
        assert_eq!(RedoRecord::decode(&mut Reader::new(&buf2)).unwrap(), with);
        // A known VDL at or above the record's own LSN is refused.
        let mut bad = buf2.clone();
        bad[38..46].copy_from_slice(&10u64.to_le_bytes());
        assert!(RedoRecord::decode(&mut Reader::new(&bad)).is_err());
        // An unknown flag bit is refused.
        let mut bad = buf2;
        bad[36] |= 4;
        assert!(RedoRecord::decode(&mut Reader::new(&bad)).is_err());
    }

    #[test]
    fn records_round_trip() {
        for r in [
            rec(Payload::Init(vec![1, 2, 3]), PageId(4)),
            rec(
                Payload::Patch(vec![Patch {
                    offset: 8190,
                    bytes: vec![7, 8],
                }]),
                PageId(4),
            ),
            rec(
                Payload::Commit {
                    txn: TxnId(5),
                    time_us: 99,
                },
                PageId::NONE,
            ),
        ] {
            let mut buf = Vec::new();
            r.encode(&mut buf);
            assert_eq!(buf.len(), r.encoded_len());
            let mut rd = Reader::new(&buf);
            assert_eq!(RedoRecord::decode(&mut rd).unwrap(), r);
            rd.finish().unwrap();
        }
    }

    /// An `Init` image with a long run of zeros (a page's free space) is sent without it, and
    /// reads back whole; one without such a run keeps kind 1. A hole that reaches past the
    /// page, or an offset past the bytes sent, is refused.
    #[test]
    fn init_images_leave_their_longest_run_of_zeros_out() {
        let mut page = vec![0u8; PAGE_SIZE];
        page[..40].fill(1);
        page[100] = 2;
        page[6000..].fill(3);
        let mut trailing = vec![5u8; 300];
        trailing.extend([0; 100]);
        for (image, hole) in [
            (page, Some(5899)),
            (vec![1, 2, 3], None),
            (vec![0; 63], None),
            (vec![0; 64], Some(64)),
            (trailing, Some(100)),
            (vec![], None),
        ] {
            let r = rec(Payload::Init(image.clone()), PageId(4));
            let mut buf = Vec::new();
            r.encode(&mut buf);
            assert_eq!(buf.len(), r.encoded_len());
            let kind = buf[37];
            match hole {
                Some(len) => {
                    assert_eq!(kind, KIND_INIT_HOLE);
                    assert_eq!(buf.len(), RECORD_HEADER_BYTES + 4 + image.len() - len);
                }
                None => assert_eq!(kind, KIND_INIT),
            }
            let mut rd = Reader::new(&buf);
            assert_eq!(RedoRecord::decode(&mut rd).unwrap(), r);
            rd.finish().unwrap();
        }
        // The word-at-a-time search finds what a byte-by-byte one does, wherever the runs
        // start and end.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..500 {
            let len = (next() % 600) as usize;
            let mut image: Vec<u8> = (0..len).map(|_| (next() % 256) as u8).collect();
            for _ in 0..(next() % 4) {
                let at = (next() % (len as u64 + 1)) as usize;
                let n = ((next() % 200) as usize).min(len - at);
                image[at..at + n].fill(0);
            }
            let mut reference = (0, 0);
            let mut i = 0;
            while i < image.len() {
                let start = i;
                while i < image.len() && image[i] == 0 {
                    i += 1;
                }
                if i - start > reference.1 {
                    reference = (start, i - start);
                }
                i += 1;
            }
            let reference = (reference.1 >= INIT_HOLE_BYTES_MIN).then_some(reference);
            assert_eq!(init_hole(&image), reference, "{image:?}");
        }
        let r = rec(Payload::Init(vec![0; 200]), PageId(4));
        let mut buf = Vec::new();
        r.encode(&mut buf);
        // Hole length so long the image passes the page's end.
        let mut bad = buf.clone();
        bad[RECORD_HEADER_BYTES + 2..RECORD_HEADER_BYTES + 4]
            .copy_from_slice(&8193u16.to_le_bytes());
        assert!(RedoRecord::decode(&mut Reader::new(&bad)).is_err());
        // Hole offset past the bytes sent.
        let mut bad = buf.clone();
        bad[RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + 2].copy_from_slice(&1u16.to_le_bytes());
        assert!(RedoRecord::decode(&mut Reader::new(&bad)).is_err());
        for n in 0..buf.len() {
            assert!(RedoRecord::decode(&mut Reader::new(&buf[..n])).is_err());
        }
    }

    #[test]
    fn hostile_records_are_refused() {
        let r = rec(
            Payload::Patch(vec![Patch {
                offset: 100,
                bytes: vec![1],
            }]),
            PageId(4),
        );
        let mut buf = Vec::new();
        r.encode(&mut buf);
        // Patch offset moved past the page end.
        let mut bad = buf.clone();
        bad[RECORD_HEADER_BYTES + 2..RECORD_HEADER_BYTES + 4]
            .copy_from_slice(&8192u16.to_le_bytes());
        assert!(RedoRecord::decode(&mut Reader::new(&bad)).is_err());
        // Every truncation of a valid record is an error, never a panic.
        for n in 0..buf.len() {
            assert!(RedoRecord::decode(&mut Reader::new(&buf[..n])).is_err());
        }
        // A forward backlink.
        let mut bad = buf.clone();
        bad[12..20].copy_from_slice(&11u64.to_le_bytes());
        assert!(RedoRecord::decode(&mut Reader::new(&bad)).is_err());
    }

    #[test]
    fn diff_then_apply_reproduces_the_new_image() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..200 {
            let mut old = [0u8; PAGE_SIZE];
            for b in old.iter_mut().take((next() % PAGE_SIZE as u64) as usize) {
                *b = next() as u8;
            }
            let mut new = old;
            let edits = if round % 10 == 0 {
                5000
            } else {
                (next() % 20) as usize
            };
            for _ in 0..edits {
                let at = (next() % PAGE_SIZE as u64) as usize;
                new[at] = next() as u8;
            }
            let mut page = old;
            if let Some(p) = diff(&old, &new) {
                apply(&mut page, &p);
            }
            assert_eq!(page, new, "round {round}");
        }
    }
}
