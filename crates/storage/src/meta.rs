//! The node's meta file: the little state that is not a record — the adopted term (epoch and
//! writer id), the known truncations, the peers to gossip with, and the protection group's
//! membership with the address the writer knows this node by; the protection group the segment
//! belongs to, and in segments of PG 0 the volume map.
//!
//! The epoch and the truncations are what fence an old writer and discard its unfinished tail,
//! so they must survive a crash exactly: the file is replaced atomically (write `meta.tmp`, fsync
//! it, rename it over `meta`, fsync the directory) before the node acts on a new epoch. A meta file
//! that fails its CRC stops the node (`StorageError::Corrupted`): guessing an older epoch would
//! unfence a deposed writer. The byte layout is in docs/formats.md ("Storage node meta file").
//!
//! ```text
//!  magic "BRLSMETA" | version:u32 = 4 | body_len:u32 | crc32c(body):u32 | body
//!  body := node:u32 | epoch:u64 | writer:u64 | n:u32 | n × (epoch:u64 pg:u32 above:u64 upto:u64)
//!          | m:u32 | m × (len:u32 utf-8 address) | membership | me:(len:u32 utf-8 address)
//!          | pg:u32 | map_present:u8 [map]
//! ```
//!
//! Version 3 (before several protection groups) had no `pg` and no map; it is still read, as a
//! segment of PG 0 without a map.
//! Version 1 (before writer ids) had no `writer` field; it is still read, as writer 0 ("none").
//! Version 2 (before memberships) had no `membership` and `me`; it is still read, as membership
//! epoch 0 ("none adopted").

use crate::StorageError;
use crate::log::sync_dir;
use borealis_common::codec::{DecodeResult, Put, Reader};
use borealis_common::limits::{MEMBERS_MAX, PEERS_MAX, STRING_BYTES_MAX, TRUNCATIONS_MAX};
use borealis_common::proto::{Membership, StoredMap, Truncation, get_map};
use borealis_common::{Epoch, Lsn, NodeId, PgId, WriterId};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

const MAGIC: &[u8; 8] = b"BRLSMETA";
const VERSION: u32 = 4;
/// The version before several protection groups: no `pg`, no map.
const VERSION_3: u32 = 3;
/// The version before memberships: no `membership` and `me`.
const VERSION_2: u32 = 2;
/// The version before writer ids: no `writer` field.
const VERSION_1: u32 = 1;
const HEADER_BYTES: usize = 20;
/// The meta file's name in the data directory.
pub const FILE_NAME: &str = "meta";
const TEMP_NAME: &str = "meta.tmp";
/// Largest body a meta file can have: every bound at its maximum.
const BODY_BYTES_MAX: usize = 4
    + 8
    + 8
    + 4
    + TRUNCATIONS_MAX as usize * 28
    + 4
    + PEERS_MAX as usize * (4 + STRING_BYTES_MAX as usize)
    + 8
    + 4
    + MEMBERS_MAX as usize * (4 + STRING_BYTES_MAX as usize)
    + 1
    + 4
    + 4
    + STRING_BYTES_MAX as usize
    + 4
    + 1
    + MAP_BYTES_MAX;

/// Largest volume map a meta file holds (a map of `MAP_PGS_MAX` PGs with short addresses is far
/// below it).
const MAP_BYTES_MAX: usize = 16 << 20;

/// What the meta file holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Meta {
    pub node: NodeId,
    pub epoch: Epoch,
    /// The writer whose term (`epoch`, `writer`) the node adopted.
    pub writer: WriterId,
    pub truncations: Vec<Truncation>,
    pub peers: Vec<String>,
    /// The PG's membership, as the last `Open` carried it (epoch 0: none).
    pub membership: Membership,
    /// The address the writer knows this node by (empty: never told).
    pub me: String,
    /// The protection group this segment belongs to.
    pub pg: PgId,
    /// Segments of PG 0: the volume map, as the last `Open` that carried one said.
    pub map: Option<StoredMap>,
}

impl Meta {
    fn encode(&self) -> Vec<u8> {
        let mut body = Vec::new();
        body.put_u32(self.node.0);
        body.put_u64(self.epoch.0);
        body.put_u64(self.writer.0);
        body.put_u32(u32::try_from(self.truncations.len()).expect("too many truncations"));
        for t in &self.truncations {
            body.put_u64(t.epoch.0);
            body.put_u32(t.pg.0);
            body.put_u64(t.above.0);
            body.put_u64(t.upto.0);
        }
        body.put_u32(u32::try_from(self.peers.len()).expect("too many peers"));
        for p in &self.peers {
            body.put_str(p);
        }
        self.membership.encode_into(&mut body);
        body.put_str(&self.me);
        body.put_u32(self.pg.0);
        match &self.map {
            None => body.put_u8(0),
            Some(m) => {
                body.put_u8(1);
                m.encode_into(&mut body);
            }
        }
        assert!(body.len() <= BODY_BYTES_MAX, "meta body exceeds its bound");
        let mut out = Vec::with_capacity(HEADER_BYTES + body.len());
        out.extend_from_slice(MAGIC);
        out.put_u32(VERSION);
        out.put_u32(u32::try_from(body.len()).expect("meta body too long"));
        out.put_u32(crc32c::crc32c(&body));
        out.extend_from_slice(&body);
        out
    }

    fn decode_body(body: &[u8], version: u32) -> DecodeResult<Meta> {
        let mut r = Reader::new(body);
        let node = NodeId(r.u32()?);
        let epoch = Epoch(r.u64()?);
        let writer = if version == VERSION_1 {
            WriterId::NONE
        } else {
            WriterId(r.u64()?)
        };
        let n = r.count(TRUNCATIONS_MAX)?;
        let mut truncations = Vec::with_capacity(n as usize);
        for _ in 0..n {
            truncations.push(Truncation {
                epoch: Epoch(r.u64()?),
                pg: PgId(r.u32()?),
                above: Lsn(r.u64()?),
                upto: Lsn(r.u64()?),
            });
        }
        let m = r.count(PEERS_MAX)?;
        let mut peers = Vec::with_capacity(m as usize);
        for _ in 0..m {
            peers.push(r.string(STRING_BYTES_MAX)?);
        }
        let (membership, me) = if version >= VERSION_3 {
            (Membership::get(&mut r)?, r.string(STRING_BYTES_MAX)?)
        } else {
            (Membership::default(), String::new())
        };
        let (pg, map) = if version >= VERSION {
            (PgId(r.u32()?), get_map(&mut r)?)
        } else {
            (PgId(0), None)
        };
        r.finish()?;
        Ok(Meta {
            node,
            epoch,
            writer,
            truncations,
            peers,
            membership,
            me,
            pg,
            map,
        })
    }
}

/// Loads the meta file of `dir`, or `None` if the node has never written one.
pub fn load(dir: &Path) -> Result<Option<Meta>, StorageError> {
    let path = dir.join(FILE_NAME);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StorageError::Io {
                what: format!("reading {}", path.display()),
                source: e,
            });
        }
    };
    let corrupted = |why: &str| StorageError::Corrupted(format!("{}: {why}", path.display()));
    if bytes.len() < HEADER_BYTES || &bytes[..8] != MAGIC {
        return Err(corrupted("not a meta file"));
    }
    let word =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let version = word(8);
    if ![VERSION, VERSION_3, VERSION_2, VERSION_1].contains(&version) {
        return Err(corrupted("unknown version"));
    }
    let body_len = word(12) as usize;
    if body_len > BODY_BYTES_MAX || bytes.len() != HEADER_BYTES + body_len {
        return Err(corrupted("length mismatch"));
    }
    let body = &bytes[HEADER_BYTES..];
    if crc32c::crc32c(body) != word(16) {
        return Err(corrupted("CRC mismatch"));
    }
    Meta::decode_body(body, version)
        .map(Some)
        .map_err(|e| corrupted(&e.to_string()))
}

/// Replaces the meta file of `dir` atomically and durably.
pub fn store(dir: &Path, meta: &Meta) -> io::Result<()> {
    let tmp = dir.join(TEMP_NAME);
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&tmp)?;
    f.write_all(&meta.encode())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, dir.join(FILE_NAME))?;
    sync_dir(dir)?;
    // The rename is durable; make sure the file's own data is, too, on filesystems that reorder.
    File::open(dir.join(FILE_NAME))?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_round_trips_and_corruption_is_refused() {
        let dir = std::env::temp_dir().join(format!("borealis-meta-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        assert_eq!(load(&dir).expect("load"), None);
        let m = Meta {
            node: NodeId(3),
            epoch: Epoch(7),
            writer: WriterId(11),
            truncations: vec![Truncation {
                epoch: Epoch(7),
                pg: PgId(0),
                above: Lsn(10),
                upto: Lsn(99),
            }],
            peers: vec!["127.0.0.1:1".into(), "127.0.0.1:2".into()],
            membership: Membership::initial(vec!["127.0.0.1:0".into(), "127.0.0.1:1".into()])
                .replacing(0, "127.0.0.1:9".into()),
            me: "127.0.0.1:0".into(),
            pg: PgId(0),
            map: Some(StoredMap {
                pages_per_pg: 16,
                pgs: vec![Membership::initial(vec!["127.0.0.1:0".into()]); 3],
            }),
        };
        store(&dir, &m).expect("store");
        assert_eq!(load(&dir).expect("load"), Some(m));
        let path = dir.join(FILE_NAME);
        let mut bytes = std::fs::read(&path).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).expect("write");
        assert!(matches!(load(&dir), Err(StorageError::Corrupted(_))));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
