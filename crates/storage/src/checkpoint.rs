//! The checkpoint file: the segment's index (held records, bases, collection floor) and the log
//! position it covers, so that a restart reads it and then scans only the log written after it
//! (issue 3, item 3; DESIGN §2: "restart time must not grow with the size of the log").
//!
//! The file is replaced atomically like the meta file (write `checkpoint.tmp`, fsync, rename over
//! `checkpoint`, fsync the directory). Every record named in it was synced before it was inserted
//! in the segment, and every base before it was added, so a checkpoint never names anything that
//! is not durable. The log position is the end of the log when the snapshot was taken: every entry
//! before it is reflected in the snapshot, entries after it are scanned on restart (one that was
//! already reflected is a harmless duplicate). The byte layout is in docs/formats.md
//! ("Storage node checkpoint"):
//!
//! ```text
//!  magic "BRLSCKPT" | version:u32 = 2 | body_len:u64 | crc32c(body):u32 | body
//!  body := log_file:u32 | log_offset:u64 | n_pgs:u32 | n_pgs × pg
//!  pg   := pg:u32 | floor:u64 | floor_cpl:u64 | horizon:u64 | known_vdl:u64
//!          | n:u64 | n × (lsn:u64 prev_pg_lsn:u64 page:u64 flags:u8 file:u32 offset:u64 len:u32)
//!          | m:u64 | m × (page:u64 lsn:u64 file:u32 offset:u64 len:u32)
//!  flags: bit 0 = CPL, bit 1 = Init
//! ```
//!
//! Version 1 (written before records carried a known VDL) lacks `known_vdl`; it is still read,
//! with `known_vdl = 0`.
//!
//! A copy repair installs a peer's cut through a checkpoint too (see `core.rs`, "Copy repair"):
//! the checkpoint of the segment with the cut installed is stored first, and the segment takes
//! the cut only then, so a crash in between restarts the node with the copy installed, and a crash
//! before it leaves the node as it was.
//!
//! A checkpoint that fails its CRC is ignored with a loud line: the node then scans its whole log,
//! as before checkpoints existed (records below a collection floor are then missing, so its SCL
//! stops there and gossip refills what peers still hold).

use crate::StorageError;
use crate::limits::CHECKPOINT_RECORDS_MAX;
use crate::log::sync_dir;
use crate::segment::{HeldRecord, Location, PgSnapshot, SegmentSnapshot};
use borealis_common::codec::{DecodeError, DecodeResult, Put, Reader};
use borealis_common::limits::PGS_MAX;
use borealis_common::{Lsn, PageId, PgId};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

const MAGIC: &[u8; 8] = b"BRLSCKPT";
const VERSION: u32 = 2;
/// The version before `known_vdl`: still read.
const VERSION_1: u32 = 1;
const HEADER_BYTES: usize = 24;
/// The checkpoint's name in the data directory.
pub const FILE_NAME: &str = "checkpoint";
const TEMP_NAME: &str = "checkpoint.tmp";
const RECORD_BYTES: u64 = 8 + 8 + 8 + 1 + 4 + 8 + 4;
const BASE_BYTES: u64 = 8 + 8 + 4 + 8 + 4;

/// A checkpoint: the segment as of the log position `(log_file, log_offset)`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Checkpoint {
    pub log_file: u32,
    pub log_offset: u64,
    pub segment: SegmentSnapshot,
}

fn put_loc(b: &mut Vec<u8>, l: Location) {
    b.put_u32(l.file);
    b.put_u64(l.offset);
    b.put_u32(l.len);
}

fn get_loc(r: &mut Reader<'_>) -> DecodeResult<Location> {
    Ok(Location {
        file: r.u32()?,
        offset: r.u64()?,
        len: r.u32()?,
    })
}

impl Checkpoint {
    /// The whole file.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        body.put_u32(self.log_file);
        body.put_u64(self.log_offset);
        body.put_u32(u32::try_from(self.segment.pgs.len()).expect("too many PGs"));
        for p in &self.segment.pgs {
            body.put_u32(p.pg.0);
            body.put_u64(p.floor.0);
            body.put_u64(p.floor_cpl.0);
            body.put_u64(p.horizon.0);
            body.put_u64(p.known_vdl.0);
            body.put_u64(p.records.len() as u64);
            for r in &p.records {
                body.put_u64(r.lsn.0);
                body.put_u64(r.prev_pg_lsn.0);
                body.put_u64(r.page.0);
                body.put_u8(u8::from(r.cpl) | (u8::from(r.init) << 1));
                put_loc(&mut body, r.loc);
            }
            body.put_u64(p.bases.len() as u64);
            for (page, lsn, loc) in &p.bases {
                body.put_u64(page.0);
                body.put_u64(lsn.0);
                put_loc(&mut body, *loc);
            }
        }
        let mut out = Vec::with_capacity(HEADER_BYTES + body.len());
        out.extend_from_slice(MAGIC);
        out.put_u32(VERSION);
        out.put_u64(body.len() as u64);
        out.put_u32(crc32c::crc32c(&body));
        out.extend_from_slice(&body);
        out
    }

    /// Decodes and checks a whole file; every count is bounded by what the bytes can hold.
    pub fn decode(bytes: &[u8]) -> DecodeResult<Checkpoint> {
        if bytes.len() < HEADER_BYTES || &bytes[..8] != MAGIC {
            return Err(DecodeError("not a checkpoint file".into()));
        }
        let mut h = Reader::new(&bytes[8..HEADER_BYTES]);
        let version = h.u32()?;
        let len = h.u64()?;
        let crc = h.u32()?;
        if version != VERSION && version != VERSION_1 {
            return Err(DecodeError(format!("checkpoint version {version}")));
        }
        let body = &bytes[HEADER_BYTES..];
        if body.len() as u64 != len {
            return Err(DecodeError("checkpoint length mismatch".into()));
        }
        if crc32c::crc32c(body) != crc {
            return Err(DecodeError("checkpoint CRC mismatch".into()));
        }
        let mut r = Reader::new(body);
        let log_file = r.u32()?;
        let log_offset = r.u64()?;
        let n_pgs = r.count(PGS_MAX)?;
        let mut pgs = Vec::new();
        for _ in 0..n_pgs {
            let pg = PgId(r.u32()?);
            let floor = Lsn(r.u64()?);
            let floor_cpl = Lsn(r.u64()?);
            let horizon = Lsn(r.u64()?);
            let known_vdl = if version == VERSION_1 {
                Lsn::ZERO
            } else {
                Lsn(r.u64()?)
            };
            let n = r.u64()?;
            if n > CHECKPOINT_RECORDS_MAX || n * RECORD_BYTES > body.len() as u64 {
                return Err(DecodeError(format!("{n} records in a checkpoint")));
            }
            let mut records = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let lsn = Lsn(r.u64()?);
                let prev_pg_lsn = Lsn(r.u64()?);
                let page = PageId(r.u64()?);
                let flags = r.u8()?;
                records.push(HeldRecord {
                    lsn,
                    prev_pg_lsn,
                    page,
                    cpl: flags & 1 != 0,
                    init: flags & 2 != 0,
                    loc: get_loc(&mut r)?,
                });
            }
            let m = r.u64()?;
            if m > CHECKPOINT_RECORDS_MAX || m * BASE_BYTES > body.len() as u64 {
                return Err(DecodeError(format!("{m} bases in a checkpoint")));
            }
            let mut bases = Vec::with_capacity(m as usize);
            for _ in 0..m {
                let page = PageId(r.u64()?);
                let lsn = Lsn(r.u64()?);
                bases.push((page, lsn, get_loc(&mut r)?));
            }
            pgs.push(PgSnapshot {
                pg,
                floor,
                floor_cpl,
                horizon,
                known_vdl,
                records,
                bases,
            });
        }
        r.finish()?;
        Ok(Checkpoint {
            log_file,
            log_offset,
            segment: SegmentSnapshot { pgs },
        })
    }
}

/// Replaces the checkpoint atomically.
pub fn store(dir: &Path, c: &Checkpoint) -> Result<(), StorageError> {
    let io = |what: &str| {
        let what = what.to_string();
        move |e| StorageError::Io { what, source: e }
    };
    let tmp = dir.join(TEMP_NAME);
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&tmp)
        .map_err(io("creating checkpoint.tmp"))?;
    f.write_all(&c.encode())
        .map_err(io("writing checkpoint.tmp"))?;
    f.sync_all().map_err(io("syncing checkpoint.tmp"))?;
    drop(f);
    std::fs::rename(&tmp, dir.join(FILE_NAME)).map_err(io("renaming the checkpoint"))?;
    sync_dir(dir).map_err(io("syncing the data directory"))
}

/// Loads the checkpoint: `None` if there is none, or if it cannot be trusted (said loudly; the
/// node then scans its whole log).
pub fn load(dir: &Path, node: borealis_common::NodeId) -> Result<Option<Checkpoint>, StorageError> {
    let path = dir.join(FILE_NAME);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StorageError::Io {
                what: format!("reading {}", path.display()),
                source: e,
            });
        }
    };
    match Checkpoint::decode(&bytes) {
        Ok(c) => Ok(Some(c)),
        Err(e) => {
            eprintln!(
                "storage node {node}: ignoring the checkpoint ({e}); scanning the whole log instead"
            );
            Ok(None)
        }
    }
}

/// Whether a file exists (used by tests).
#[must_use]
pub fn exists(dir: &Path) -> bool {
    File::open(dir.join(FILE_NAME)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_round_trip_and_reject_garbage() {
        let loc = Location {
            file: 3,
            offset: 99,
            len: 40,
        };
        let c = Checkpoint {
            log_file: 4,
            log_offset: 1234,
            segment: SegmentSnapshot {
                pgs: vec![PgSnapshot {
                    pg: PgId(0),
                    floor: Lsn(10),
                    floor_cpl: Lsn(9),
                    horizon: Lsn(12),
                    known_vdl: Lsn(9),
                    records: vec![HeldRecord {
                        lsn: Lsn(11),
                        prev_pg_lsn: Lsn(10),
                        page: PageId(2),
                        cpl: true,
                        init: false,
                        loc,
                    }],
                    bases: vec![(PageId(2), Lsn(8), loc)],
                }],
            },
        };
        let bytes = c.encode();
        assert_eq!(Checkpoint::decode(&bytes).expect("decode"), c);
        for i in [0, 9, 30, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[i] ^= 1;
            assert!(Checkpoint::decode(&bad).is_err(), "byte {i} flipped");
        }
        assert!(Checkpoint::decode(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn a_version_1_checkpoint_is_still_read_without_a_known_vdl() {
        let c = Checkpoint {
            log_file: 1,
            log_offset: 64,
            segment: SegmentSnapshot {
                pgs: vec![PgSnapshot {
                    pg: PgId(0),
                    floor: Lsn(5),
                    floor_cpl: Lsn(4),
                    horizon: Lsn(6),
                    known_vdl: Lsn(4),
                    records: vec![],
                    bases: vec![],
                }],
            },
        };
        let v2 = c.encode();
        // Version 1: the same body without the known VDL (after pg, floor, floor_cpl, horizon).
        let body_v2 = &v2[HEADER_BYTES..];
        let at = 4 + 8 + 4 + 4 + 8 + 8 + 8;
        let body: Vec<u8> = [&body_v2[..at], &body_v2[at + 8..]].concat();
        let mut v1 = Vec::new();
        v1.extend_from_slice(MAGIC);
        v1.put_u32(VERSION_1);
        v1.put_u64(body.len() as u64);
        v1.put_u32(crc32c::crc32c(&body));
        v1.extend_from_slice(&body);
        let mut want = c;
        want.segment.pgs[0].known_vdl = Lsn::ZERO;
        assert_eq!(Checkpoint::decode(&v1).expect("decode v1"), want);
    }
}
