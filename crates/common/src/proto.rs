//! The storage protocol: what the compute (writer, and later readers) and storage nodes say to
//! each other, and what storage nodes say to their peers when they gossip.
//!
//! Every message travels in one [`frame`](crate::frame) whose kind byte is the message kind. Every
//! request carries a `req_id` that its response echoes, so a connection may have many requests in
//! flight. Requests from a writer carry the volume epoch and the writer's id; a node orders them as
//! the pair `(epoch, writer)` and rejects a pair lower than the one it has durably adopted
//! ([`ErrorCode::StaleEpoch`]): that is the whole of fencing. Because the writer id breaks ties,
//! two writers that picked the same epoch number cannot both be accepted: the one with the lower
//! id is fenced wherever the other one has been seen (see [`Term`]).
//!
//! Requests from a writer also carry the protection group's membership epoch (see
//! [`Membership`]): `Open` carries the whole membership, which the node stores durably beside
//! the term; `Write` and `GetPage` carry its epoch, and a node refuses one that is not exactly
//! the membership it adopted (lower: [`ErrorCode::StaleMembership`]; higher: "Open first"), and
//! refuses writes and reads altogether when the membership it adopted does not name it.
//!
//! ```text
//! writer ──Open{epoch, peers, truncations,──▶ node   adopt epoch and membership (durably),
//!              membership, me}                        apply truncations
//!        ◀─────────────State{scl, ...}────────
//! writer ──Write{epoch, membership epoch,──▶ node
//!               horizon, records}   persist (fsync) BEFORE acknowledging;
//!                                                     collect below the read horizon
//!        ◀─────────────WriteAck{scl per PG}──
//! writer ──GetPage{epoch, page, read_point}─▶ node   only if SCL ≥ read_point
//!        ◀─────────────Page{lsn, image}──────
//! node   ──FetchRecords{pg, after, upto}────▶ peer   gossip: fill a gap found through backlinks
//!        ◀─────────────Records{...}──────────
//! node   ──FetchBase{pg, floor, after, ...}─▶ peer   copy repair: the peer's state at its
//!        ◀─────────────Base{floor, items, next}─     collection floor, page by page
//! ```
//!
//! `FetchBase` is how a segment below its peers' collection floor catches up: gossip cannot
//! (`FetchRecords` below the floor is refused `BelowHorizon`: those records are gone), so the
//! segment copies the peer's *cut* at its floor — for every page, the held records and base images
//! a build of its newest version at or below the floor needs — then restarts its chain from that
//! floor, and gossips from there. The answer is paginated with a cursor in (page, LSN) order and
//! bounded in bytes ([`COPY_ANSWER_BYTES_MAX`]); each carries the peer's term and truncations, like
//! `Records`, and the floor it describes, so an asker whose peer collected further meanwhile starts
//! over instead of mixing two cuts.
//!
//! Byte layouts are in docs/formats.md.

use crate::codec::{DecodeError, DecodeResult, Put, Reader};
use crate::frame;
use crate::ids::{Epoch, Lsn, MembershipEpoch, NodeId, PageId, PgId, WriterId};
use crate::limits::{
    COPY_ANSWER_BYTES_MAX, MAP_PGS_MAX, MEMBERS_MAX, PEERS_MAX, PGS_MAX, RECORDS_PER_MESSAGE_MAX,
    STRING_BYTES_MAX, TAIL_RECORDS_MAX, TRUNCATIONS_MAX,
};
use crate::redo::{PAGE_SIZE, RedoRecord};

/// The pair storage orders writers by: the epoch first, then the writer id. A node adopts a term
/// only upwards and refuses requests carrying a lower one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Term {
    pub epoch: Epoch,
    pub writer: WriterId,
}

impl std::fmt::Display for Term {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{:016x}", self.epoch, self.writer.0)
    }
}

/// The segments of a protection group, by storage node address, with the epoch of this version
/// of the set (DESIGN.md §2; Aurora SIGMOD 2018 §3, "membership changes").
///
/// Stable: six `members`, slot order is placement (slots `2k`, `2k+1` in AZ `k`); a write is
/// durable on 4 of them, recovery reads 3. Replacing the member of slot `s` by node `G` goes
/// through two changes, each one epoch higher:
///
/// ```text
///   m    {A B C D E F}                      4/6 of ABCDEF
///   m+1  {A B C D E F}, joining (5, G)      4/6 of ABCDEF AND 4/6 of ABCDEG   (dual quorum)
///   m+2  {A B C D E G}                      4/6 of ABCDEG
/// ```
///
/// Epoch 0 with no members: nothing adopted yet (a fresh node, or a volume that predates
/// memberships).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Membership {
    pub epoch: MembershipEpoch,
    /// The six members, by slot.
    pub members: Vec<String>,
    /// During a replacement: the slot being replaced and the node joining in its place.
    pub joining: Option<(u32, String)>,
}

impl Membership {
    /// The first membership of a volume: these six nodes, epoch 1.
    #[must_use]
    pub fn initial(members: Vec<String>) -> Membership {
        Membership {
            epoch: MembershipEpoch(1),
            members,
            joining: None,
        }
    }

    /// Whether `addr` is a member of either quorum set (the joining node included).
    #[must_use]
    pub fn names(&self, addr: &str) -> bool {
        self.members.iter().any(|m| m == addr)
            || self.joining.as_ref().is_some_and(|(_, j)| j == addr)
    }

    /// The quorum sets: one when stable, two (old and new) during a replacement.
    #[must_use]
    pub fn sets(&self) -> Vec<Vec<String>> {
        let mut sets = vec![self.members.clone()];
        if let Some((slot, joiner)) = &self.joining {
            let mut new = self.members.clone();
            new[*slot as usize] = joiner.clone();
            sets.push(new);
        }
        sets
    }

    /// Begins replacing the member of `slot` by `joiner`: the dual-quorum state, one epoch up.
    #[must_use]
    pub fn replacing(&self, slot: usize, joiner: String) -> Membership {
        assert!(self.joining.is_none(), "one replacement at a time");
        assert!(slot < self.members.len(), "no such slot");
        assert!(!self.names(&joiner), "the joining node is a member already");
        Membership {
            epoch: MembershipEpoch(self.epoch.0 + 1),
            members: self.members.clone(),
            joining: Some((u32::try_from(slot).expect("slot"), joiner)),
        }
    }

    /// Completes the replacement: the joining node takes its slot, the old member is dropped.
    #[must_use]
    pub fn completed(&self) -> Membership {
        let (slot, joiner) = self.joining.clone().expect("a replacement in progress");
        let mut members = self.members.clone();
        members[slot as usize] = joiner;
        Membership {
            epoch: MembershipEpoch(self.epoch.0 + 1),
            members,
            joining: None,
        }
    }

    fn put(&self, b: &mut Vec<u8>) {
        b.put_u64(self.epoch.0);
        b.put_u32(u32::try_from(self.members.len()).expect("too many members"));
        for m in &self.members {
            b.put_str(m);
        }
        match &self.joining {
            None => b.put_u8(0),
            Some((slot, joiner)) => {
                b.put_u8(1);
                b.put_u32(*slot);
                b.put_str(joiner);
            }
        }
    }

    /// Decodes a membership from untrusted bytes (used by the wire and the meta file).
    pub fn get(r: &mut Reader<'_>) -> DecodeResult<Membership> {
        let epoch = MembershipEpoch(r.u64()?);
        let n = r.count(MEMBERS_MAX)?;
        let mut members = Vec::with_capacity(n as usize);
        for _ in 0..n {
            members.push(r.string(STRING_BYTES_MAX)?);
        }
        let joining = match r.u8()? {
            0 => None,
            1 => {
                let slot = r.u32()?;
                if slot as usize >= members.len() {
                    return Err(DecodeError("joining slot out of range".into()));
                }
                Some((slot, r.string(STRING_BYTES_MAX)?))
            }
            other => return Err(DecodeError(format!("bad joining flag {other}"))),
        };
        Ok(Membership {
            epoch,
            members,
            joining,
        })
    }

    /// Encodes for the meta file (the same bytes as on the wire).
    pub fn encode_into(&self, b: &mut Vec<u8>) {
        self.put(b);
    }
}

/// A durable decision of a writer's recovery: records of `pg` with `above < lsn <= upto` are
/// discarded everywhere, forever. Tagged with the epoch of the writer that made it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Truncation {
    pub epoch: Epoch,
    pub pg: PgId,
    pub above: Lsn,
    pub upto: Lsn,
}

impl Truncation {
    #[must_use]
    pub fn covers(&self, pg: PgId, lsn: Lsn) -> bool {
        self.pg == pg && self.above < lsn && lsn <= self.upto
    }
}

/// The volume map as storage keeps it (in the meta file of every segment of PG 0): the pages
/// per protection group and each PG's membership when it was created, by PG id. It only grows;
/// its version is its number of PGs. A PG's *current* membership is the highest one its nodes
/// adopted (replacements move it on); the map says which PGs exist and where to look first.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct StoredMap {
    pub pages_per_pg: u64,
    pub pgs: Vec<Membership>,
}

impl StoredMap {
    /// The version: the number of protection groups (the map only grows).
    #[must_use]
    pub fn version(&self) -> usize {
        self.pgs.len()
    }

    fn put(&self, b: &mut Vec<u8>) {
        b.put_u64(self.pages_per_pg);
        b.put_u32(u32::try_from(self.pgs.len()).expect("too many PGs"));
        for m in &self.pgs {
            m.put(b);
        }
    }

    /// Decodes a map from untrusted bytes (the wire and the meta file).
    pub fn get(r: &mut Reader<'_>) -> DecodeResult<StoredMap> {
        let pages_per_pg = r.u64()?;
        if pages_per_pg == 0 {
            return Err(DecodeError("a volume map with 0 pages per PG".into()));
        }
        let n = r.count(MAP_PGS_MAX)?;
        let mut pgs = Vec::with_capacity((n as usize).min(1024));
        for _ in 0..n {
            pgs.push(Membership::get(r)?);
        }
        Ok(StoredMap { pages_per_pg, pgs })
    }

    /// Encodes for the meta file (the same bytes as on the wire).
    pub fn encode_into(&self, b: &mut Vec<u8>) {
        self.put(b);
    }
}

fn put_map(b: &mut Vec<u8>, map: Option<&StoredMap>) {
    match map {
        None => b.put_u8(0),
        Some(m) => {
            b.put_u8(1);
            m.put(b);
        }
    }
}

/// An optional map: a presence byte, then the map.
pub fn get_map(r: &mut Reader<'_>) -> DecodeResult<Option<StoredMap>> {
    match r.u8()? {
        0 => Ok(None),
        1 => Ok(Some(StoredMap::get(r)?)),
        other => Err(DecodeError(format!("bad map presence flag {other}"))),
    }
}

/// The shape of one record, without its payload: enough for recovery to follow backlinks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordMeta {
    pub lsn: Lsn,
    pub prev_pg_lsn: Lsn,
    pub cpl: bool,
}

/// What a writer tells storage, with every `Write`, about what it may still read and what every
/// segment already holds (issue 3, item 3; Aurora SIGMOD 2018 §3.3, PGMRPL). Storage collects
/// page versions and log below `min(pgmrpl, held_by_all) − retention` and never above.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ReadHorizon {
    /// The lowest read point the writer may still use (its reads are at VDL, so this is the
    /// lowest VDL of any read still in flight, or VDL itself). 0: nothing may be collected.
    pub pgmrpl: Lsn,
    /// The lowest SCL the writer knows of any segment of the volume: every segment holds every
    /// record at or below it, so no peer will ask for those records by gossip.
    pub held_by_all: Lsn,
}

/// What a segment holds of one protection group.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PgState {
    pub pg: PgId,
    /// Segment complete LSN: every record of the PG with LSN ≤ scl is held.
    pub scl: Lsn,
    /// The highest CPL at or below `scl` (0 if none).
    pub scl_cpl: Lsn,
    /// Records held above `scl` (they wait for a gap below them to fill), in LSN order.
    pub above: Vec<RecordMeta>,
    /// Every LSN of the *volume* up to here is known durable: the highest `known_vdl` of a record
    /// held, or the collection floor, whichever is higher. (For recovery over several PGs.)
    pub complete_floor: Lsn,
    /// The highest CPL known at or below `complete_floor`.
    pub cpl_floor: Lsn,
    /// The highest LSN of a record of this PG held (or collected) at or below `complete_floor`:
    /// where the PG's chain stands at the floor.
    pub floor_tail: Lsn,
    /// Every record held above `complete_floor`, chained or not, in LSN order (at most
    /// `TAIL_RECORDS_MAX`; about LAL since records are allocated at most LAL above VDL).
    pub held: Vec<RecordMeta>,
}

/// A storage node's state, as reported to a writer.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SegmentState {
    pub node: NodeId,
    pub epoch: Epoch,
    /// The writer whose `Open` the node adopted with `epoch` (`WriterId::NONE` if none).
    pub writer: WriterId,
    /// The membership the node adopted (epoch 0: none).
    pub membership: Membership,
    pub truncations: Vec<Truncation>,
    pub pgs: Vec<PgState>,
    /// The volume map this segment keeps (segments of PG 0 only; `None` elsewhere, and on a
    /// volume from before auto-growth).
    pub map: Option<StoredMap>,
}

/// Requests, from a writer or a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// A writer's handshake: adopt `epoch` (durably) if it is not lower than the node's, learn the
    /// peers to gossip with, and apply `truncations`. Answered with `State`.
    ///
    /// It also carries the PG's `membership`, adopted (durably) if its epoch is not below the
    /// node's (a lower one is refused with `StaleMembership`), and `me`, the address the writer
    /// knows the node by: the node serves writes and reads only while the adopted membership
    /// names it.
    Open {
        epoch: Epoch,
        writer: WriterId,
        /// The protection group whose segment on this node is opened (created if new).
        pg: PgId,
        peers: Vec<String>,
        truncations: Vec<Truncation>,
        membership: Membership,
        me: String,
        /// For segments of PG 0: the volume map, kept if newer than the one held.
        map: Option<StoredMap>,
    },
    /// Persist records, then acknowledge with the SCL of every PG they touch. `horizon` tells
    /// the node what it may collect (see [`ReadHorizon`]).
    Write {
        epoch: Epoch,
        writer: WriterId,
        /// The protection group of every record.
        pg: PgId,
        membership: MembershipEpoch,
        horizon: ReadHorizon,
        records: Vec<RedoRecord>,
    },
    /// The page (of PG `pg`) as of `read_point`. `pg_point` is the PG's last record at or below
    /// the read point as the writer knows it (or a later record of the PG, at most VDL): every
    /// record of the PG up to the read point lies at or below it, so the segment can answer once
    /// its SCL reaches it, and is refused with `NotReady` before. (A PG's SCL stands at its own
    /// last record: comparing it with the read point would refuse every PG that received nothing
    /// lately.)
    GetPage {
        epoch: Epoch,
        writer: WriterId,
        pg: PgId,
        membership: MembershipEpoch,
        page: PageId,
        read_point: Lsn,
        pg_point: Lsn,
    },
    /// The state of the node's segment of `pg`, as `Open` returns it, without changing
    /// anything. Answered whatever its epoch (read-only): recovery learns the current epoch from
    /// it. A node holding no segment of `pg` answers an empty state (epoch 0, no membership).
    GetState { epoch: Epoch, pg: PgId },
    /// Gossip: records of `pg` with `after < lsn <= upto`, at most `max_records`.
    FetchRecords {
        pg: PgId,
        after: Lsn,
        upto: Lsn,
        max_records: u32,
    },
    /// Copy repair: the peer's cut of `pg` at its collection floor, the items after `after` in
    /// (page, LSN) order, at most `bytes_max` bytes of them (clamped to
    /// [`COPY_ANSWER_BYTES_MAX`]). `floor` is the cut being copied (0 to start one): a peer whose
    /// floor is no longer `floor` answers the first items of its current cut instead.
    FetchBase {
        pg: PgId,
        floor: Lsn,
        after: Option<(PageId, Lsn)>,
        bytes_max: u32,
    },
}

/// Bytes of one base image as it travels in a [`BaseItem`]: exactly a storage node's image file
/// entry (`crc32c:u32 | pg:u32 | page:u64 | lsn:u64 | image`), so the CRC computed when the image
/// was built is checked again by the node that stores the copy.
pub const BASE_IMAGE_ENTRY_BYTES: usize = 24 + PAGE_SIZE;

/// One item of a copy: a held record at or below the floor and, if the peer holds a base image at
/// that version, the image entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseItem {
    pub record: RedoRecord,
    pub image: Option<Vec<u8>>,
}

/// An answer to `FetchBase`: part of the peer's cut of one PG at its collection floor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseAnswer {
    pub epoch: Epoch,
    pub writer: WriterId,
    pub truncations: Vec<Truncation>,
    pub pg: PgId,
    /// The cut: the highest chained LSN at or below the peer's collection horizon.
    pub floor: Lsn,
    /// The highest CPL at or below `floor`.
    pub floor_cpl: Lsn,
    /// Reads below this are refused on the peer (and on the copy).
    pub horizon: Lsn,
    /// Items in strictly increasing (page, LSN) order, after the request's cursor.
    pub items: Vec<BaseItem>,
    /// The cursor to ask with next; `None`: the cut is complete.
    pub next: Option<(PageId, Lsn)>,
}

/// Responses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    State(SegmentState),
    WriteAck {
        scls: Vec<(PgId, Lsn)>,
    },
    /// `lsn` is the LSN of the newest record applied (the page's version); `image` is `None`
    /// when no record of the page exists at or below the read point.
    Page {
        lsn: Lsn,
        image: Option<Box<[u8; PAGE_SIZE]>>,
    },
    /// Gossip answer. Carries the responder's term and truncations so a lagging peer learns them.
    Records {
        epoch: Epoch,
        writer: WriterId,
        truncations: Vec<Truncation>,
        records: Vec<RedoRecord>,
    },
    /// Copy answer (see [`BaseAnswer`]).
    Base(Box<BaseAnswer>),
    Error {
        code: ErrorCode,
        message: String,
    },
}

/// Why a storage node refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request's epoch is below the node's: the sender has been fenced.
    StaleEpoch = 1,
    /// The segment cannot serve the read point yet (SCL too low).
    NotReady = 2,
    /// The node found corrupted data and will not serve it.
    Corrupted = 3,
    /// The request is malformed or not allowed in this state.
    BadRequest = 4,
    /// Something failed inside the node (disk error).
    Internal = 5,
    /// The read point is below what the node has collected (PGMRPL minus retention): the page
    /// versions it would need are gone, on every segment.
    BelowHorizon = 6,
    /// The request's membership epoch is below the node's, or the node is not a member of the
    /// membership it adopted: the sender's view of the PG's segments is out of date.
    StaleMembership = 7,
}

impl ErrorCode {
    fn from_u16(v: u16) -> DecodeResult<ErrorCode> {
        Ok(match v {
            1 => ErrorCode::StaleEpoch,
            2 => ErrorCode::NotReady,
            3 => ErrorCode::Corrupted,
            4 => ErrorCode::BadRequest,
            5 => ErrorCode::Internal,
            6 => ErrorCode::BelowHorizon,
            7 => ErrorCode::StaleMembership,
            _ => return Err(DecodeError(format!("unknown error code {v}"))),
        })
    }
}

const REQ_OPEN: u8 = 1;
const REQ_WRITE: u8 = 2;
const REQ_GET_PAGE: u8 = 3;
const REQ_GET_STATE: u8 = 4;
const REQ_FETCH_RECORDS: u8 = 5;
const REQ_FETCH_BASE: u8 = 6;
const RESP_STATE: u8 = 101;
const RESP_WRITE_ACK: u8 = 102;
const RESP_PAGE: u8 = 103;
const RESP_RECORDS: u8 = 105;
const RESP_BASE: u8 = 106;
const RESP_ERROR: u8 = 127;

fn put_truncations(out: &mut Vec<u8>, ts: &[Truncation]) {
    out.put_u32(u32::try_from(ts.len()).expect("too many truncations"));
    for t in ts {
        out.put_u64(t.epoch.0);
        out.put_u32(t.pg.0);
        out.put_u64(t.above.0);
        out.put_u64(t.upto.0);
    }
}

/// A count-prefixed list of record descriptors (at most `TAIL_RECORDS_MAX`).
fn get_record_metas(r: &mut Reader<'_>) -> DecodeResult<Vec<RecordMeta>> {
    let m = r.count(TAIL_RECORDS_MAX)?;
    let mut out = Vec::with_capacity((m as usize).min(4096));
    for _ in 0..m {
        let lsn = Lsn(r.u64()?);
        let prev_pg_lsn = Lsn(r.u64()?);
        if prev_pg_lsn >= lsn {
            return Err(DecodeError(format!(
                "record {lsn}: backlinks must point backwards"
            )));
        }
        out.push(RecordMeta {
            lsn,
            prev_pg_lsn,
            cpl: r.u8()? != 0,
        });
    }
    Ok(out)
}

fn get_truncations(r: &mut Reader<'_>) -> DecodeResult<Vec<Truncation>> {
    let n = r.count(TRUNCATIONS_MAX)?;
    let mut v = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let t = Truncation {
            epoch: Epoch(r.u64()?),
            pg: PgId(r.u32()?),
            above: Lsn(r.u64()?),
            upto: Lsn(r.u64()?),
        };
        if t.above > t.upto {
            return Err(DecodeError("truncation range is inverted".into()));
        }
        v.push(t);
    }
    Ok(v)
}

fn put_records(out: &mut Vec<u8>, records: &[RedoRecord]) {
    out.put_u32(u32::try_from(records.len()).expect("too many records"));
    for rec in records {
        rec.encode(out);
    }
}

fn put_cursor(out: &mut Vec<u8>, c: Option<(PageId, Lsn)>) {
    match c {
        Some((page, lsn)) => {
            out.put_u8(1);
            out.put_u64(page.0);
            out.put_u64(lsn.0);
        }
        None => out.put_u8(0),
    }
}

fn get_cursor(r: &mut Reader<'_>) -> DecodeResult<Option<(PageId, Lsn)>> {
    match r.u8()? {
        0 => Ok(None),
        1 => Ok(Some((PageId(r.u64()?), Lsn(r.u64()?)))),
        other => Err(DecodeError(format!("bad cursor flag {other}"))),
    }
}

fn get_records(r: &mut Reader<'_>) -> DecodeResult<Vec<RedoRecord>> {
    let n = r.count(RECORDS_PER_MESSAGE_MAX)?;
    let mut v = Vec::with_capacity((n as usize).min(4096));
    for _ in 0..n {
        v.push(RedoRecord::decode(r)?);
    }
    Ok(v)
}

impl Request {
    /// Encodes `(kind, body)`; the body starts with the `req_id`.
    #[must_use]
    pub fn encode(&self, req_id: u64) -> (u8, Vec<u8>) {
        let mut b = Vec::new();
        b.put_u64(req_id);
        let kind = match self {
            Request::Open {
                epoch,
                writer,
                pg,
                peers,
                truncations,
                membership,
                me,
                map,
            } => {
                b.put_u64(epoch.0);
                b.put_u64(writer.0);
                b.put_u32(pg.0);
                b.put_u32(u32::try_from(peers.len()).expect("too many peers"));
                for p in peers {
                    b.put_str(p);
                }
                put_truncations(&mut b, truncations);
                membership.put(&mut b);
                b.put_str(me);
                put_map(&mut b, map.as_ref());
                REQ_OPEN
            }
            Request::Write {
                epoch,
                writer,
                pg,
                membership,
                horizon,
                records,
            } => {
                b.put_u64(epoch.0);
                b.put_u64(writer.0);
                b.put_u32(pg.0);
                b.put_u64(membership.0);
                b.put_u64(horizon.pgmrpl.0);
                b.put_u64(horizon.held_by_all.0);
                put_records(&mut b, records);
                REQ_WRITE
            }
            Request::GetPage {
                epoch,
                writer,
                pg,
                membership,
                page,
                read_point,
                pg_point,
            } => {
                b.put_u64(epoch.0);
                b.put_u64(writer.0);
                b.put_u32(pg.0);
                b.put_u64(membership.0);
                b.put_u64(page.0);
                b.put_u64(read_point.0);
                b.put_u64(pg_point.0);
                REQ_GET_PAGE
            }
            Request::GetState { epoch, pg } => {
                b.put_u64(epoch.0);
                b.put_u32(pg.0);
                REQ_GET_STATE
            }
            Request::FetchRecords {
                pg,
                after,
                upto,
                max_records,
            } => {
                b.put_u32(pg.0);
                b.put_u64(after.0);
                b.put_u64(upto.0);
                b.put_u32(*max_records);
                REQ_FETCH_RECORDS
            }
            Request::FetchBase {
                pg,
                floor,
                after,
                bytes_max,
            } => {
                b.put_u32(pg.0);
                b.put_u64(floor.0);
                put_cursor(&mut b, *after);
                b.put_u32(*bytes_max);
                REQ_FETCH_BASE
            }
        };
        (kind, b)
    }

    /// Decodes a request from untrusted bytes.
    pub fn decode(kind: u8, body: &[u8]) -> DecodeResult<(u64, Request)> {
        let mut r = Reader::new(body);
        let req_id = r.u64()?;
        let req = match kind {
            REQ_OPEN => {
                let epoch = Epoch(r.u64()?);
                let writer = WriterId(r.u64()?);
                let pg = PgId(r.u32()?);
                let n = r.count(PEERS_MAX)?;
                let mut peers = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    peers.push(r.string(STRING_BYTES_MAX)?);
                }
                let truncations = get_truncations(&mut r)?;
                let membership = Membership::get(&mut r)?;
                let me = r.string(STRING_BYTES_MAX)?;
                let map = get_map(&mut r)?;
                Request::Open {
                    epoch,
                    writer,
                    pg,
                    peers,
                    truncations,
                    membership,
                    me,
                    map,
                }
            }
            REQ_WRITE => Request::Write {
                epoch: Epoch(r.u64()?),
                writer: WriterId(r.u64()?),
                pg: PgId(r.u32()?),
                membership: MembershipEpoch(r.u64()?),
                horizon: ReadHorizon {
                    pgmrpl: Lsn(r.u64()?),
                    held_by_all: Lsn(r.u64()?),
                },
                records: get_records(&mut r)?,
            },
            REQ_GET_PAGE => Request::GetPage {
                epoch: Epoch(r.u64()?),
                writer: WriterId(r.u64()?),
                pg: PgId(r.u32()?),
                membership: MembershipEpoch(r.u64()?),
                page: PageId(r.u64()?),
                read_point: Lsn(r.u64()?),
                pg_point: Lsn(r.u64()?),
            },
            REQ_GET_STATE => Request::GetState {
                epoch: Epoch(r.u64()?),
                pg: PgId(r.u32()?),
            },
            REQ_FETCH_RECORDS => Request::FetchRecords {
                pg: PgId(r.u32()?),
                after: Lsn(r.u64()?),
                upto: Lsn(r.u64()?),
                max_records: r.u32()?.min(RECORDS_PER_MESSAGE_MAX),
            },
            REQ_FETCH_BASE => Request::FetchBase {
                pg: PgId(r.u32()?),
                floor: Lsn(r.u64()?),
                after: get_cursor(&mut r)?,
                bytes_max: r.u32()?.min(COPY_ANSWER_BYTES_MAX),
            },
            other => return Err(DecodeError(format!("unknown request kind {other}"))),
        };
        r.finish()?;
        Ok((req_id, req))
    }
}

/// Encodes a `Write` request from records already encoded with [`RedoRecord::encode`], so a
/// writer encodes each record once however many segments it sends it to. Byte-identical to
/// `Request::Write{..}.encode(req_id)`.
#[must_use]
pub fn encode_write_request<'a>(
    req_id: u64,
    epoch: Epoch,
    writer: WriterId,
    pg: PgId,
    membership: MembershipEpoch,
    horizon: ReadHorizon,
    encoded_records: impl ExactSizeIterator<Item = &'a [u8]> + Clone,
) -> (u8, Vec<u8>) {
    let fields = (req_id, epoch, writer, pg, membership, horizon);
    (REQ_WRITE, write_request(0, fields, encoded_records))
}

/// [`encode_write_request`] as a whole frame (see [`frame::seal_frame`]), ready to send: a
/// batch of up to `WRITE_BATCH_BYTES_MAX` is built once, in the buffer that goes out, rather
/// than built and then copied into a frame (for each of six segments).
#[must_use]
pub fn encode_write_frame<'a>(
    req_id: u64,
    epoch: Epoch,
    writer: WriterId,
    pg: PgId,
    membership: MembershipEpoch,
    horizon: ReadHorizon,
    encoded_records: impl ExactSizeIterator<Item = &'a [u8]> + Clone,
) -> Vec<u8> {
    let fields = (req_id, epoch, writer, pg, membership, horizon);
    let mut b = write_request(frame::FRAME_HEADER_BYTES, fields, encoded_records);
    frame::seal_frame(REQ_WRITE, &mut b);
    b
}

/// A write request's body after `reserved` zero bytes.
fn write_request<'a>(
    reserved: usize,
    (req_id, epoch, writer, pg, membership, horizon): (
        u64,
        Epoch,
        WriterId,
        PgId,
        MembershipEpoch,
        ReadHorizon,
    ),
    encoded_records: impl ExactSizeIterator<Item = &'a [u8]> + Clone,
) -> Vec<u8> {
    // Sized once: a batch is up to WRITE_BATCH_BYTES_MAX, and growing to it by doubling copied
    // it over and over (a tenth of the writer's CPU during a bulk load, six segments over).
    let bytes: usize = encoded_records.clone().map(<[u8]>::len).sum();
    let mut b = Vec::with_capacity(reserved + WRITE_REQUEST_HEADER_BYTES + bytes);
    b.resize(reserved, 0);
    b.put_u64(req_id);
    b.put_u64(epoch.0);
    b.put_u64(writer.0);
    b.put_u32(pg.0);
    b.put_u64(membership.0);
    b.put_u64(horizon.pgmrpl.0);
    b.put_u64(horizon.held_by_all.0);
    b.put_u32(u32::try_from(encoded_records.len()).expect("too many records"));
    debug_assert_eq!(b.len(), reserved + WRITE_REQUEST_HEADER_BYTES);
    for rec in encoded_records {
        b.extend_from_slice(rec);
    }
    b
}

/// A write request's fields before its records: request id, epoch, writer, PG, membership,
/// the two horizon LSNs and the record count.
const WRITE_REQUEST_HEADER_BYTES: usize = 8 + 8 + 8 + 4 + 8 + 8 + 8 + 4;

impl Response {
    #[must_use]
    pub fn encode(&self, req_id: u64) -> (u8, Vec<u8>) {
        let mut b = Vec::new();
        b.put_u64(req_id);
        let kind = match self {
            Response::State(s) => {
                b.put_u32(s.node.0);
                b.put_u64(s.epoch.0);
                b.put_u64(s.writer.0);
                s.membership.put(&mut b);
                put_truncations(&mut b, &s.truncations);
                b.put_u32(u32::try_from(s.pgs.len()).expect("too many PGs"));
                for pg in &s.pgs {
                    b.put_u32(pg.pg.0);
                    b.put_u64(pg.scl.0);
                    b.put_u64(pg.scl_cpl.0);
                    b.put_u32(u32::try_from(pg.above.len()).expect("tail too long"));
                    for m in &pg.above {
                        b.put_u64(m.lsn.0);
                        b.put_u64(m.prev_pg_lsn.0);
                        b.put_u8(u8::from(m.cpl));
                    }
                    b.put_u64(pg.complete_floor.0);
                    b.put_u64(pg.cpl_floor.0);
                    b.put_u64(pg.floor_tail.0);
                    b.put_u32(u32::try_from(pg.held.len()).expect("held list too long"));
                    for m in &pg.held {
                        b.put_u64(m.lsn.0);
                        b.put_u64(m.prev_pg_lsn.0);
                        b.put_u8(u8::from(m.cpl));
                    }
                }
                put_map(&mut b, s.map.as_ref());
                RESP_STATE
            }
            Response::WriteAck { scls } => {
                b.put_u32(u32::try_from(scls.len()).expect("too many PGs"));
                for (pg, scl) in scls {
                    b.put_u32(pg.0);
                    b.put_u64(scl.0);
                }
                RESP_WRITE_ACK
            }
            Response::Page { lsn, image } => {
                b.put_u64(lsn.0);
                match image {
                    Some(img) => {
                        b.put_u8(1);
                        b.extend_from_slice(&img[..]);
                    }
                    None => b.put_u8(0),
                }
                RESP_PAGE
            }
            Response::Records {
                epoch,
                writer,
                truncations,
                records,
            } => {
                b.put_u64(epoch.0);
                b.put_u64(writer.0);
                put_truncations(&mut b, truncations);
                put_records(&mut b, records);
                RESP_RECORDS
            }
            Response::Base(a) => {
                b.put_u64(a.epoch.0);
                b.put_u64(a.writer.0);
                put_truncations(&mut b, &a.truncations);
                b.put_u32(a.pg.0);
                b.put_u64(a.floor.0);
                b.put_u64(a.floor_cpl.0);
                b.put_u64(a.horizon.0);
                b.put_u32(u32::try_from(a.items.len()).expect("too many items"));
                for item in &a.items {
                    item.record.encode(&mut b);
                    match &item.image {
                        Some(img) => {
                            assert_eq!(img.len(), BASE_IMAGE_ENTRY_BYTES, "an image entry");
                            b.put_u8(1);
                            b.extend_from_slice(img);
                        }
                        None => b.put_u8(0),
                    }
                }
                put_cursor(&mut b, a.next);
                RESP_BASE
            }
            Response::Error { code, message } => {
                b.put_u16(*code as u16);
                b.put_str(message);
                RESP_ERROR
            }
        };
        (kind, b)
    }

    pub fn decode(kind: u8, body: &[u8]) -> DecodeResult<(u64, Response)> {
        let mut r = Reader::new(body);
        let req_id = r.u64()?;
        let resp = match kind {
            RESP_STATE => {
                let node = NodeId(r.u32()?);
                let epoch = Epoch(r.u64()?);
                let writer = WriterId(r.u64()?);
                let membership = Membership::get(&mut r)?;
                let truncations = get_truncations(&mut r)?;
                let n = r.count(PGS_MAX)?;
                let mut pgs = Vec::with_capacity((n as usize).min(1024));
                for _ in 0..n {
                    let pg = PgId(r.u32()?);
                    let scl = Lsn(r.u64()?);
                    let scl_cpl = Lsn(r.u64()?);
                    let above = get_record_metas(&mut r)?;
                    let complete_floor = Lsn(r.u64()?);
                    let cpl_floor = Lsn(r.u64()?);
                    let floor_tail = Lsn(r.u64()?);
                    if cpl_floor > complete_floor || floor_tail > complete_floor {
                        return Err(DecodeError(format!(
                            "PG {pg}: CPL floor {cpl_floor} or floor tail {floor_tail} above the \
                             complete floor {complete_floor}"
                        )));
                    }
                    let held = get_record_metas(&mut r)?;
                    pgs.push(PgState {
                        pg,
                        scl,
                        scl_cpl,
                        above,
                        complete_floor,
                        cpl_floor,
                        floor_tail,
                        held,
                    });
                }
                let map = get_map(&mut r)?;
                Response::State(SegmentState {
                    node,
                    epoch,
                    writer,
                    membership,
                    truncations,
                    pgs,
                    map,
                })
            }
            RESP_WRITE_ACK => {
                let n = r.count(PGS_MAX)?;
                let mut scls = Vec::with_capacity((n as usize).min(1024));
                for _ in 0..n {
                    scls.push((PgId(r.u32()?), Lsn(r.u64()?)));
                }
                Response::WriteAck { scls }
            }
            RESP_PAGE => {
                let lsn = Lsn(r.u64()?);
                let image = match r.u8()? {
                    0 => None,
                    1 => {
                        let mut img = Box::new([0u8; PAGE_SIZE]);
                        img.copy_from_slice(r.take(PAGE_SIZE)?);
                        Some(img)
                    }
                    other => return Err(DecodeError(format!("bad page presence flag {other}"))),
                };
                Response::Page { lsn, image }
            }
            RESP_RECORDS => Response::Records {
                epoch: Epoch(r.u64()?),
                writer: WriterId(r.u64()?),
                truncations: get_truncations(&mut r)?,
                records: get_records(&mut r)?,
            },
            RESP_BASE => {
                let epoch = Epoch(r.u64()?);
                let writer = WriterId(r.u64()?);
                let truncations = get_truncations(&mut r)?;
                let pg = PgId(r.u32()?);
                let floor = Lsn(r.u64()?);
                let floor_cpl = Lsn(r.u64()?);
                let horizon = Lsn(r.u64()?);
                if floor_cpl > floor {
                    return Err(DecodeError(format!(
                        "floor CPL {floor_cpl} is above the floor {floor}"
                    )));
                }
                let n = r.count(RECORDS_PER_MESSAGE_MAX)?;
                let mut items = Vec::with_capacity((n as usize).min(1024));
                for _ in 0..n {
                    let record = RedoRecord::decode(&mut r)?;
                    let image = match r.u8()? {
                        0 => None,
                        1 => Some(r.take(BASE_IMAGE_ENTRY_BYTES)?.to_vec()),
                        other => {
                            return Err(DecodeError(format!("bad image presence flag {other}")));
                        }
                    };
                    items.push(BaseItem { record, image });
                }
                let next = get_cursor(&mut r)?;
                Response::Base(Box::new(BaseAnswer {
                    epoch,
                    writer,
                    truncations,
                    pg,
                    floor,
                    floor_cpl,
                    horizon,
                    items,
                    next,
                }))
            }
            RESP_ERROR => Response::Error {
                code: ErrorCode::from_u16(r.u16()?)?,
                message: r.string(STRING_BYTES_MAX)?,
            },
            other => return Err(DecodeError(format!("unknown response kind {other}"))),
        };
        r.finish()?;
        Ok((req_id, resp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redo::Payload;

    #[test]
    fn messages_round_trip() {
        let rec = RedoRecord {
            lsn: Lsn(2),
            pg: PgId(0),
            prev_pg_lsn: Lsn(1),
            page: PageId(3),
            prev_page_lsn: Lsn(0),
            known_vdl: Lsn::ZERO,
            cpl: true,
            payload: Payload::Init(vec![9; 10]),
        };
        let t = Truncation {
            epoch: Epoch(2),
            pg: PgId(0),
            above: Lsn(5),
            upto: Lsn(100),
        };
        let reqs = vec![
            Request::Open {
                epoch: Epoch(3),
                writer: WriterId(77),
                pg: PgId(2),
                peers: vec!["127.0.0.1:1".into()],
                truncations: vec![t],
                membership: Membership::initial(vec!["a".into(), "b".into()])
                    .replacing(1, "c".into()),
                me: "a".into(),
                map: Some(StoredMap {
                    pages_per_pg: 64,
                    pgs: vec![Membership::initial(vec!["a".into(), "b".into()])],
                }),
            },
            Request::Write {
                epoch: Epoch(3),
                writer: WriterId(77),
                pg: PgId(0),
                membership: MembershipEpoch(2),
                horizon: ReadHorizon {
                    pgmrpl: Lsn(4),
                    held_by_all: Lsn(2),
                },
                records: vec![rec.clone()],
            },
            Request::GetPage {
                epoch: Epoch(3),
                writer: WriterId(77),
                pg: PgId(1),
                membership: MembershipEpoch(2),
                page: PageId(7),
                read_point: Lsn(9),
                pg_point: Lsn(6),
            },
            Request::GetState {
                epoch: Epoch(1),
                pg: PgId(3),
            },
            Request::FetchRecords {
                pg: PgId(0),
                after: Lsn(1),
                upto: Lsn(9),
                max_records: 10,
            },
            Request::FetchBase {
                pg: PgId(0),
                floor: Lsn(0),
                after: None,
                bytes_max: 1 << 20,
            },
            Request::FetchBase {
                pg: PgId(0),
                floor: Lsn(40),
                after: Some((PageId(7), Lsn(33))),
                bytes_max: 4096,
            },
        ];
        for (i, q) in reqs.into_iter().enumerate() {
            let (k, b) = q.encode(i as u64);
            assert_eq!(Request::decode(k, &b).unwrap(), (i as u64, q));
        }
        let resps = vec![
            Response::State(SegmentState {
                node: NodeId(1),
                epoch: Epoch(2),
                writer: WriterId(5),
                membership: Membership::initial(vec!["a".into()]),
                truncations: vec![t],
                pgs: vec![PgState {
                    pg: PgId(0),
                    scl: Lsn(4),
                    scl_cpl: Lsn(3),
                    above: vec![RecordMeta {
                        lsn: Lsn(6),
                        prev_pg_lsn: Lsn(5),
                        cpl: true,
                    }],
                    complete_floor: Lsn(2),
                    cpl_floor: Lsn(1),
                    floor_tail: Lsn(2),
                    held: vec![RecordMeta {
                        lsn: Lsn(3),
                        prev_pg_lsn: Lsn(1),
                        cpl: true,
                    }],
                }],
                map: Some(StoredMap {
                    pages_per_pg: 8,
                    pgs: vec![Membership::initial(vec!["a".into()]); 2],
                }),
            }),
            Response::WriteAck {
                scls: vec![(PgId(0), Lsn(5))],
            },
            Response::Page {
                lsn: Lsn(5),
                image: Some(Box::new([3u8; PAGE_SIZE])),
            },
            Response::Page {
                lsn: Lsn(0),
                image: None,
            },
            Response::Records {
                epoch: Epoch(1),
                writer: WriterId(9),
                truncations: vec![],
                records: vec![rec.clone()],
            },
            Response::Base(Box::new(BaseAnswer {
                epoch: Epoch(1),
                writer: WriterId(9),
                truncations: vec![t],
                pg: PgId(0),
                floor: Lsn(40),
                floor_cpl: Lsn(39),
                horizon: Lsn(41),
                items: vec![
                    BaseItem {
                        record: rec.clone(),
                        image: Some(vec![5u8; BASE_IMAGE_ENTRY_BYTES]),
                    },
                    BaseItem {
                        record: rec,
                        image: None,
                    },
                ],
                next: Some((PageId(3), Lsn(2))),
            })),
            Response::Error {
                code: ErrorCode::StaleEpoch,
                message: "fenced".into(),
            },
        ];
        for (i, p) in resps.into_iter().enumerate() {
            let (k, b) = p.encode(i as u64);
            assert_eq!(Response::decode(k, &b).unwrap(), (i as u64, p));
        }
    }

    #[test]
    fn raw_write_encoding_matches() {
        let recs: Vec<RedoRecord> = (1..4)
            .map(|i| RedoRecord {
                lsn: Lsn(i),
                pg: PgId(0),
                prev_pg_lsn: Lsn(i - 1),
                page: PageId(i),
                prev_page_lsn: Lsn(0),
                known_vdl: Lsn::ZERO,
                cpl: i == 3,
                payload: Payload::Init(vec![i as u8; 3]),
            })
            .collect();
        let encoded: Vec<Vec<u8>> = recs
            .iter()
            .map(|r| {
                let mut v = Vec::new();
                r.encode(&mut v);
                v
            })
            .collect();
        let horizon = ReadHorizon {
            pgmrpl: Lsn(1),
            held_by_all: Lsn(1),
        };
        let raw = encode_write_request(
            7,
            Epoch(2),
            WriterId(3),
            PgId(0),
            MembershipEpoch(4),
            horizon,
            encoded.iter().map(|v| v.as_slice()),
        );
        // Sized once, exactly.
        assert_eq!(raw.1.capacity(), raw.1.len());
        // As a frame: the same body behind the header a frame of it has, sized once.
        let framed = encode_write_frame(
            7,
            Epoch(2),
            WriterId(3),
            PgId(0),
            MembershipEpoch(4),
            horizon,
            encoded.iter().map(|v| v.as_slice()),
        );
        assert_eq!(framed.capacity(), framed.len());
        let mut expected = Vec::new();
        frame::encode_frame(raw.0, &raw.1, &mut expected);
        assert_eq!(framed, expected);
        assert_eq!(
            raw,
            Request::Write {
                epoch: Epoch(2),
                writer: WriterId(3),
                pg: PgId(0),
                membership: MembershipEpoch(4),
                horizon,
                records: recs
            }
            .encode(7)
        );
    }

    #[test]
    fn malformed_copy_messages_are_refused() {
        let answer = Response::Base(Box::new(BaseAnswer {
            epoch: Epoch(1),
            writer: WriterId(1),
            truncations: vec![],
            pg: PgId(0),
            floor: Lsn(10),
            floor_cpl: Lsn(9),
            horizon: Lsn(10),
            items: vec![],
            next: None,
        }));
        let (k, b) = answer.encode(1);
        // A floor CPL above the floor.
        let mut bad = b.clone();
        bad[8 + 16 + 4 + 4 + 8..8 + 16 + 4 + 4 + 16].copy_from_slice(&11u64.to_le_bytes());
        assert!(Response::decode(k, &bad).is_err());
        // A bad cursor flag, and a truncated body.
        let mut bad = b.clone();
        let last = bad.len() - 1;
        bad[last] = 7;
        assert!(Response::decode(k, &bad).is_err());
        assert!(Response::decode(k, &b[..b.len() - 1]).is_err());
        // An item claiming an image shorter than an image entry.
        let rec = RedoRecord {
            lsn: Lsn(2),
            pg: PgId(0),
            prev_pg_lsn: Lsn(1),
            page: PageId(3),
            prev_page_lsn: Lsn(0),
            known_vdl: Lsn::ZERO,
            cpl: true,
            payload: Payload::Init(vec![9; 10]),
        };
        let mut body = b[..b.len() - 5].to_vec();
        body.extend_from_slice(&1u32.to_le_bytes());
        rec.encode(&mut body);
        body.push(1);
        body.extend_from_slice(&[0u8; 100]);
        body.push(0);
        assert!(Response::decode(k, &body).is_err());
        // A request asking for more than an answer may carry is clamped.
        let (k, b) = Request::FetchBase {
            pg: PgId(0),
            floor: Lsn(0),
            after: None,
            bytes_max: u32::MAX,
        }
        .encode(3);
        assert!(matches!(
            Request::decode(k, &b),
            Ok((3, Request::FetchBase { bytes_max, .. })) if bytes_max == COPY_ANSWER_BYTES_MAX
        ));
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 12345u64;
        for _ in 0..2000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (seed >> 33) as usize % 200;
            let bytes: Vec<u8> = (0..len).map(|i| (seed >> (i % 56)) as u8).collect();
            let kind = (seed >> 20) as u8;
            let _ = Request::decode(kind, &bytes);
            let _ = Response::decode(kind, &bytes);
        }
    }
}
