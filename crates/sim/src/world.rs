//! The simulated world: six member storage nodes and six spares, the writers, the network, the fault injector, the
//! workload and the checkers, all advanced by one event queue in virtual time.
//!
//! A storage node holds one segment per protection group, each with its own core, meta file,
//! log and images, as the real node does (`Node` here is one segment: segment `pg·NODES + i` is
//! node `i`'s share of PG `pg`). A node's crash, restart, partition or lost disk acts on all of
//! its segments at once. On a third of the seeds the volume grows: pages are spread over
//! `PGS_GROWING` PGs of `PAGES_PER_PG_GROWING` pages, and the writer grows the volume the way the
//! real one does (place, open the new PG's segments, store the map on PG 0, then ship).

use crate::limits::{
    MEMBERS_INITIAL, NODES, PAGES, PAGES_PER_PG_GROWING, PERMANENT_LOSSES_MAX, PGS_GROWING,
    POLL_GIVE_UP_MS, POLL_MS, PROGRESS_WINDOW_MS, RESEND_MS, SETTLE_MS_MAX, SIM_CHECKPOINT_MS,
    SIM_CHECKPOINT_RECORDS, WRITER_TICK_MS, WRITERS_MAX,
};
use crate::rng::Rng;
use crate::{Options, Report};
use borealis_common::limits::COPY_ANSWER_BYTES_MAX;
use borealis_common::limits::RECORDS_PER_MESSAGE_MAX;
use borealis_common::pagestore::RecordDraft;
use borealis_common::proto::{
    self, BaseItem, ErrorCode, Membership, Request, Response, SegmentState, StoredMap, Term,
    Truncation,
};
use borealis_common::redo::{self, Patch};
use borealis_common::{Lsn, NodeId, PAGE_SIZE, PageId, Payload, PgId, RedoRecord, TxnId, WriterId};
use borealis_storage::checkpoint::Checkpoint;
use borealis_storage::core::{
    CopyOutcome, CopyProgress, GossipAsk, GossipCore, HousekeepingCore, NodeCore, Origin, Step,
    build_page,
};
use borealis_storage::image::{IMAGE_ENTRY_BYTES, decode_image, encode_image};
use borealis_storage::limits::{GOSSIP_INTERVAL_MS, PEER_LAG_LSNS_MAX, RETENTION_LSNS_DEFAULT};
use borealis_storage::log::{decode_entry, encode_entry};
use borealis_storage::meta::Meta;
use borealis_storage::segment::{Base, Location, PagePlan};
use borealis_volume::limits::{
    PAGES_PER_PG_DEFAULT, RECOVERY_ALL_SEGMENTS_WAIT_MS, SLOTS, WRITE_QUORUM,
};
use borealis_volume::map::{StorageNode, VolumeMap};
use borealis_volume::recovery::{self, Plan};
use borealis_volume::writer::{
    AppendError, MembershipChange, PG, Recovered, RecoveredPg, Spare, WriterCore, pg_of_slot,
    slot_addrs,
};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};

/// An endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Addr {
    Node(usize),
    Writer(usize),
}

/// A message in flight: the encoded bytes of one request or response, as on the wire.
#[derive(Clone, Debug)]
struct Msg {
    from: Addr,
    to: Addr,
    kind: u8,
    body: Vec<u8>,
}

/// `Sync` and `NodeTick` name a segment; `NodeRestart` and `Unisolate` a node.
#[derive(Debug)]
enum Event {
    Deliver(Msg),
    Sync { node: usize, incarnation: u64 },
    NodeTick { node: usize, incarnation: u64 },
    NodeRestart { node: usize },
    Unisolate { node: usize },
    WriterTick { writer: usize },
    StartWriter,
    Fault,
    Check,
}

/// A batch waiting for the node's next sync (group commit).
struct Pending {
    reply_to: Option<(Addr, u64)>,
    origin: Origin,
    records: Vec<RedoRecord>,
}

/// One segment of a storage node: the real core, a simulated disk, and its driver state.
struct Node {
    up: bool,
    incarnation: u64,
    core: NodeCore,
    gossip: GossipCore,
    /// The durable meta file (`None`: never written, or the disk was lost).
    meta: Option<Meta>,
    /// The durable log: encoded entries (the last one may be torn after a crash).
    log: Vec<Vec<u8>>,
    pending: Vec<Pending>,
    sync_scheduled: bool,
    asks: BTreeMap<u64, GossipAsk>,
    next_req: u64,
    isolated: bool,
    /// The disk was lost: the node counts as unavailable until its SCL reaches this again.
    rehydrate_to: Option<Lsn>,
    housekeeping: HousekeepingCore,
    /// The durable image file: encoded base images (written and synced at once).
    images: Vec<Vec<u8>>,
    /// The durable checkpoint file (replaced atomically).
    checkpoint: Option<Vec<u8>>,
    /// Retention below PGMRPL, in LSNs.
    retention: u64,
    /// How far below PGMRPL a lagging peer holds collection back, in LSNs.
    peer_lag: u64,
    /// Bytes asked for per copy answer.
    copy_bytes: u32,
    /// The node is gone for good: it never restarts, its disk is never read again.
    lost_forever: bool,
}

fn empty_meta(i: usize, pg: PgId) -> Meta {
    Meta {
        node: node_id(i),
        pg,
        ..Meta::default()
    }
}

/// The segment of node `i` for `pg`.
fn seg_of(i: usize, pg: PgId) -> usize {
    pg.0 as usize * NODES + i
}

/// The node a segment belongs to.
fn phys(seg: usize) -> usize {
    seg % NODES
}

/// The PG a segment is of.
fn seg_pg(seg: usize) -> PgId {
    PgId(u32::try_from(seg / NODES).expect("PG id"))
}

/// The segment of flat writer slot `g`, in the writer's current membership of its PG.
fn slot_seg(core: &WriterCore, g: usize) -> Option<usize> {
    let pg = pg_of_slot(g);
    slot_nodes(core.membership_of(pg))[g % SLOTS].map(|n| seg_of(n, pg))
}

fn node_id(i: usize) -> NodeId {
    NodeId(u32::try_from(i + 1).expect("node id"))
}

fn peer_name(i: usize) -> String {
    format!("node-{i}")
}

fn peer_index(name: &str) -> Option<usize> {
    name.strip_prefix("node-")?.parse().ok()
}

/// The AZ of a node: the original members two per AZ, then the spares in turn a, b, c.
fn az_of(i: usize) -> usize {
    if i < MEMBERS_INITIAL {
        i / 2
    } else {
        (i - MEMBERS_INITIAL) % 3
    }
}

/// The node of each slot of a membership (`None`: an empty slot).
fn slot_nodes(m: &Membership) -> [Option<usize>; SLOTS] {
    slot_addrs(m).map(|a| a.as_deref().and_then(peer_index))
}

/// The spares every writer is given (one per AZ).
fn spares() -> Vec<Spare> {
    (MEMBERS_INITIAL..NODES)
        .map(|i| Spare {
            addr: peer_name(i),
            az: az_of(i),
        })
        .collect()
}

impl Node {
    fn new(seg: usize) -> Node {
        Node {
            up: true,
            incarnation: 0,
            core: NodeCore::new(&empty_meta(phys(seg), seg_pg(seg))),
            gossip: GossipCore::new(),
            meta: None,
            log: Vec::new(),
            pending: Vec::new(),
            sync_scheduled: false,
            asks: BTreeMap::new(),
            next_req: 0,
            isolated: false,
            rehydrate_to: None,
            housekeeping: HousekeepingCore::with_checkpoints(
                SIM_CHECKPOINT_RECORDS,
                SIM_CHECKPOINT_MS,
            ),
            images: Vec::new(),
            checkpoint: None,
            retention: RETENTION_LSNS_DEFAULT,
            peer_lag: PEER_LAG_LSNS_MAX,
            copy_bytes: COPY_ANSWER_BYTES_MAX,
            lost_forever: false,
        }
    }

    fn read(&self, loc: Location) -> Result<RedoRecord, String> {
        let idx = usize::try_from(loc.offset).map_err(|e| e.to_string())?;
        let entry = self.log.get(idx).ok_or("entry past the end of the log")?;
        decode_entry(entry)
    }

    /// Carries out a page plan: from its base (an image, CRC-checked) and the log.
    fn build(
        &self,
        page: PageId,
        base: Base,
        records: &[(Lsn, Location)],
    ) -> Result<(Lsn, Box<[u8; PAGE_SIZE]>), String> {
        let base = match base {
            Base::Zero => None,
            Base::Cached(_) => unreachable!("the simulated node has no page cache"),
            Base::Image { lsn, loc } => {
                let idx = usize::try_from(loc.offset).map_err(|e| e.to_string())?;
                let entry = self
                    .images
                    .get(idx)
                    .ok_or("image past the end of the file")?;
                Some((lsn, decode_image(entry, page, lsn)?))
            }
        };
        build_page(page, base, records, |loc| self.read(loc))
    }

    /// The page at `read_point`, as the node would answer a `GetPage`.
    fn page(&mut self, page: PageId, read_point: Lsn) -> Result<PageVersionModel, String> {
        let term = self.core.term();
        let req = Request::GetPage {
            epoch: term.epoch,
            writer: term.writer,
            pg: self.core.pg(),
            membership: self.core.membership().epoch,
            page,
            read_point,
            // A node's own read at a point: it answers only with every record of its PG up to
            // the point (the caller reads at points its SCL reached).
            pg_point: Lsn::ZERO,
        };
        match self.core.handle(req, &|_| None) {
            Step::Reply(Response::Page { lsn, image: None }) => Ok((lsn, None)),
            Step::BuildPage {
                page,
                base,
                records,
            } => {
                let (lsn, img) = self.build(page, base, &records)?;
                Ok((lsn, Some(img)))
            }
            other => Err(format!("page {page} at {read_point}: {other:?}")),
        }
    }

    /// The materialiser's tick: bases are written and synced at once; a checkpoint collects and
    /// stores the segment with the log position (the log's length) it covers.
    fn housekeeping(&mut self, now: u64) {
        let work = self.housekeeping.tick(now, &self.core);
        for (pg, page, lsn, plan) in work.builds {
            let PagePlan::Build { base, records } = plan else {
                continue;
            };
            let Ok((got, img)) = self.build(page, base, &records) else {
                continue;
            };
            assert_eq!(got, lsn, "a base is built at the planned version");
            let loc = Location {
                file: 1,
                offset: self.images.len() as u64,
                len: u32::try_from(IMAGE_ENTRY_BYTES).expect("fits"),
            };
            self.images.push(encode_image(pg, page, lsn, &img));
            self.core.materialised(pg, page, lsn, loc);
        }
        if work.checkpoint {
            self.core.collect();
            let ck = Checkpoint {
                log_file: 1,
                log_offset: self.log.len() as u64,
                segment: self.core.segment().snapshot(),
            };
            self.checkpoint = Some(ck.encode());
            self.core.checkpointed();
        }
    }
}

/// Recovery of a writer, as a small state machine over the pure steps of `recovery`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Every node's state of PG 0: its membership, the map.
    GetState,
    /// Every node's state of each other PG the map names: their memberships.
    GetStatePgs,
    Open,
    Truncate,
    Poll,
}

struct Recovering {
    phase: Phase,
    phase_started: u64,
    last_send: u64,
    /// This phase's answers, by (PG, node).
    answers: BTreeMap<(u32, usize), SegmentState>,
    /// The states of the first two phases (every PG), for the term and the truncations.
    learned: Vec<SegmentState>,
    term: Term,
    truncations: Vec<Truncation>,
    plan: Option<Plan>,
    /// The volume map PG 0's segments keep (`None`: the volume never stored one).
    map: Option<StoredMap>,
    /// The membership recovery chose for each PG, by PG id.
    memberships: Vec<Membership>,
    /// Per PG, the SCLs by slot of its membership.
    scls: Vec<[Lsn; SLOTS]>,
    /// The plan of a volume of several PGs: VDL, the end of the truncation, each PG's tail.
    volume: Option<(Lsn, Lsn, Vec<Lsn>)>,
}

/// A growth in progress: the new PGs' segments are opened, then the map stored on PG 0.
struct Growing {
    added: Vec<(PgId, Membership)>,
    map: StoredMap,
    /// Storing the map (after the new PGs' segments adopted).
    storing: bool,
    /// Answers of this step, by (PG, node), with the map version the answer shows.
    answers: BTreeMap<(u32, usize), usize>,
    last_send: u64,
}

/// The six nodes a fresh volume is configured with (the spares are known besides).
fn configured() -> Vec<String> {
    (0..MEMBERS_INITIAL).map(peer_name).collect()
}

enum WriterState {
    Recovering(Box<Recovering>),
    Running(Box<WriterCore>),
    Fenced,
    Crashed,
}

/// What an outstanding request of a writer was for.
#[derive(Clone, Copy, Debug)]
enum Ask {
    Recovery(Phase),
    SegmentOpen {
        slot: usize,
    },
    Write {
        slot: usize,
    },
    Read {
        page: PageId,
        read_point: Lsn,
    },
    /// A read of the reader, at the read point it holds.
    ReaderRead {
        page: PageId,
        read_point: Lsn,
    },
    Grow,
}

struct Writer {
    id: WriterId,
    state: WriterState,
    /// Outstanding requests: the segment asked, and what for.
    asks: BTreeMap<u64, (usize, Ask)>,
    next_req: u64,
    /// Per flat slot: when its `Open` was sent, if one is outstanding.
    opening: Vec<Option<u64>>,
    /// A growth of the volume in progress (no MTR is issued meanwhile).
    growing: Option<Growing>,
    page_lsns: BTreeMap<PageId, Lsn>,
    /// Commit LSNs allocated and not yet durable, with the time they were allocated.
    cpls: VecDeque<(Lsn, u64)>,
    last_vdl: Lsn,
    /// The recovered VDL this writer started from (its epoch's history begins above it).
    recovered_vdl: Lsn,
    /// The reader beside this writer, as a read replica would be: the read point it holds
    /// (registered with the writer, so PGMRPL never passes it) and when it took it. It lags
    /// behind VDL and moves on now and then.
    reader: Option<(Lsn, u64)>,
}

impl Writer {
    fn running(&self) -> Option<&WriterCore> {
        match &self.state {
            WriterState::Running(c) if !c.is_fenced() => Some(c),
            _ => None,
        }
    }
}

/// A page as the model has it: the LSN of its version and its image (`None`: never written).
type PageVersionModel = (Lsn, Option<Box<[u8; PAGE_SIZE]>>);

/// Every record any writer ever allocated, by LSN, and what was acknowledged.
#[derive(Default)]
struct Oracle {
    records: BTreeMap<Lsn, (usize, RedoRecord)>,
    /// Acknowledged commits, with the term of the writer that acknowledged them.
    acked: BTreeMap<Lsn, Term>,
    /// Every truncation range `(above, upto]` some segment adopted: the volume's history at a
    /// point is every record allocated at or below it outside these.
    truncated: BTreeSet<(Lsn, Lsn)>,
}

pub(crate) struct Sim {
    opts: Options,
    rng: Rng,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    events: BTreeMap<u64, Event>,
    /// Segments: `pgs` per node (see [`seg_of`]).
    nodes: Vec<Node>,
    /// Protection groups the volume grows to (1, or `PGS_GROWING` on growing seeds).
    pgs: usize,
    /// Pages per PG of a new volume.
    pages_per_pg: u64,
    writers: Vec<Writer>,
    oracle: Oracle,
    loss_per_mille: u64,
    dup_per_mille: u64,
    faults_on: bool,
    mtrs_target: usize,
    mtrs_issued: usize,
    calm_since: u64,
    failure: Option<String>,
    pub(crate) report: Report,
    trace: u64,
    /// Odd seeds: the writer keeps almost no durable records for lagging segments.
    tiny_send_log: bool,
    /// How often a page record is an `Init` (per mille): seeds with copy repair write mostly
    /// patches, so pages reach long delta chains and get bases, and copies carry images.
    init_per_mille: u64,
}

impl Sim {
    pub(crate) fn new(seed: u64, opts: Options) -> Sim {
        let mut rng = Rng::new(seed);
        let loss_per_mille = rng.range(0, 50);
        let dup_per_mille = rng.range(0, 30);
        let mtrs_target = usize::try_from(rng.range(opts.mtrs / 2, opts.mtrs)).expect("fits");
        // Half the seeds collect below PGMRPL with a tiny retention, and half of those with a
        // tiny peer lag too: peers then collect past a segment that lags (a lost disk, a joiner,
        // a long partition), which catches up by a copy of a peer's cut (copy repair), asked for
        // in small answers so that a copy takes many of them.
        let collecting = rng.chance(500);
        let small_peer_lag = collecting && rng.chance(500);
        // A third of the seeds grow the volume to several PGs.
        let growing = seed % 3 == 2;
        let pgs = if growing { PGS_GROWING } else { 1 };
        let mut nodes: Vec<Node> = (0..NODES * pgs).map(Node::new).collect();
        if collecting {
            for n in &mut nodes {
                n.retention = rng.range(0, 40);
                n.core.set_retention(n.retention);
                if small_peer_lag {
                    n.peer_lag = rng.range(0, 60);
                    n.core.set_peer_lag(n.peer_lag);
                }
                n.copy_bytes = u32::try_from(rng.range(100, 20_000)).expect("fits");
                n.core.set_copy_bytes_max(n.copy_bytes);
            }
        }
        let report = Report {
            collecting,
            small_peer_lag,
            growing,
            ..Report::default()
        };
        Sim {
            opts,
            rng,
            now: 0,
            seq: 0,
            queue: BinaryHeap::new(),
            events: BTreeMap::new(),
            nodes,
            pgs,
            pages_per_pg: if growing {
                PAGES_PER_PG_GROWING
            } else {
                PAGES_PER_PG_DEFAULT
            },
            writers: Vec::new(),
            oracle: Oracle::default(),
            loss_per_mille,
            dup_per_mille,
            faults_on: true,
            mtrs_target,
            mtrs_issued: 0,
            calm_since: 0,
            failure: None,
            report,
            trace: seed,
            tiny_send_log: seed % 2 == 1,
            init_per_mille: if small_peer_lag { 30 } else { 300 },
        }
    }

    fn at(&mut self, delay_ms: u64, ev: Event) {
        self.seq += 1;
        self.queue.push(Reverse((self.now + delay_ms, self.seq)));
        self.events.insert(self.seq, ev);
    }

    fn fail(&mut self, why: String) {
        if self.failure.is_none() {
            self.failure = Some(format!("at t={} ms: {why}\n{}", self.now, self.summary()));
        }
    }

    /// The state of the world, for a failure report.
    fn summary(&self) -> String {
        let mut out = format!(
            "  collecting {} (small peer lag {}); copies begun {}, installed {}, given up {}\n",
            self.report.collecting,
            self.report.small_peer_lag,
            self.report.copies_begun,
            self.report.copies_installed,
            self.report.copies_abandoned
        );
        for (i, n) in self.nodes.iter().enumerate() {
            out.push_str(&format!(
                "  node {i}: up {} lost for good {} isolated {} term {} membership {} SCL {} truncations {} rehydrating {:?}\n",
                n.up,
                n.lost_forever,
                n.isolated,
                n.core.term(),
                n.core.membership().epoch,
                n.core.segment().scl(n.core.pg()),
                n.core.segment().truncations().len(),
                n.rehydrate_to
            ));
        }
        for (w, wr) in self.writers.iter().enumerate() {
            let state = match &wr.state {
                WriterState::Recovering(r) => format!(
                    "recovering {:?} term {} answers {:?} scls {:?}",
                    r.phase,
                    r.term,
                    r.answers.keys().collect::<Vec<_>>(),
                    r.scls
                ),
                WriterState::Running(c) => format!(
                    "running term {} membership {:?} fenced {} VDL {} connected {} unsent {} pending commits {} SCLs {:?} next LSN {}",
                    c.term(),
                    c.membership(),
                    c.is_fenced(),
                    c.vdl(),
                    c.connected_count(),
                    c.unsent_records(),
                    wr.cpls.len(),
                    (0..c.slots()).map(|i| c.scl(i).0).collect::<Vec<_>>(),
                    c.next_lsn()
                ),
                WriterState::Fenced => "fenced".into(),
                WriterState::Crashed => "crashed".into(),
            };
            out.push_str(&format!("  writer {w} ({:016x}): {state}\n", wr.id.0));
        }
        out
    }

    fn mix(&mut self, v: u64) {
        self.trace = (self.trace ^ v)
            .wrapping_mul(0x0100_0000_01b3)
            .rotate_left(5);
    }

    /// Runs until the queue is empty, the deadline passes, or a check fails.
    fn run_until(&mut self, deadline: u64, mut done: impl FnMut(&Sim) -> bool) -> bool {
        while self.failure.is_none() {
            if done(self) {
                return true;
            }
            let Some(Reverse((t, seq))) = self.queue.pop() else {
                return done(self);
            };
            if t > deadline {
                self.queue.push(Reverse((t, seq)));
                return done(self);
            }
            self.now = t;
            let ev = self
                .events
                .remove(&seq)
                .expect("every queued event is stored");
            self.report.events += 1;
            self.dispatch(ev);
        }
        false
    }

    fn dispatch(&mut self, ev: Event) {
        match ev {
            Event::Deliver(m) => self.deliver(m),
            Event::Sync { node, incarnation } => {
                if self.nodes[node].up && self.nodes[node].incarnation == incarnation {
                    self.sync(node);
                }
            }
            Event::NodeTick { node, incarnation } => {
                if self.nodes[node].up && self.nodes[node].incarnation == incarnation {
                    self.node_tick(node);
                }
            }
            Event::NodeRestart { node } => self.restart_node(node),
            Event::Unisolate { node } => {
                for seg in self.segs(node) {
                    self.nodes[seg].isolated = false;
                }
            }
            Event::WriterTick { writer } => self.writer_tick(writer),
            Event::StartWriter => {
                if !self
                    .writers
                    .iter()
                    .any(|w| matches!(w.state, WriterState::Recovering(_)) || w.running().is_some())
                {
                    self.start_writer();
                }
            }
            Event::Fault => self.fault(),
            Event::Check => self.check_progress(),
        }
    }

    // ---------------------------------------------------------------- network

    fn send(&mut self, from: Addr, to: Addr, kind: u8, body: Vec<u8>) {
        self.report.messages += 1;
        if self.rng.chance(self.loss_per_mille) {
            return;
        }
        let copies = if self.rng.chance(self.dup_per_mille) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            // Mostly short delays; sometimes a long one, which reorders.
            let delay = if self.rng.chance(50) {
                self.rng.range(50, 800)
            } else {
                self.rng.range(1, 8)
            };
            let msg = Msg {
                from,
                to,
                kind,
                body: body.clone(),
            };
            self.at(delay, Event::Deliver(msg));
        }
    }

    fn send_request(&mut self, from: Addr, to: Addr, req_id: u64, req: &Request) {
        let (kind, body) = req.encode(req_id);
        self.send(from, to, kind, body);
    }

    fn send_response(&mut self, from: Addr, to: Addr, req_id: u64, resp: &Response) {
        let (kind, body) = resp.encode(req_id);
        self.send(from, to, kind, body);
    }

    fn reachable(&self, a: Addr) -> bool {
        match a {
            Addr::Node(i) => self.nodes[i].up && !self.nodes[i].isolated,
            Addr::Writer(w) => matches!(
                self.writers[w].state,
                WriterState::Recovering(_) | WriterState::Running(_)
            ),
        }
    }

    fn deliver(&mut self, m: Msg) {
        // A partition or a dead process drops the message, whenever it is noticed.
        if !self.reachable(m.from) || !self.reachable(m.to) {
            return;
        }
        self.mix(m.kind as u64 ^ (m.body.len() as u64) << 8);
        match m.to {
            Addr::Node(i) => {
                if m.kind < 100 {
                    match Request::decode(m.kind, &m.body) {
                        Ok((req_id, req)) => self.node_request(i, m.from, req_id, req),
                        Err(e) => self.fail(format!("node {i} could not decode a request: {e}")),
                    }
                } else {
                    match Response::decode(m.kind, &m.body) {
                        Ok((req_id, resp)) => self.node_response(i, req_id, resp),
                        Err(e) => self.fail(format!("node {i} could not decode a response: {e}")),
                    }
                }
            }
            Addr::Writer(w) => match Response::decode(m.kind, &m.body) {
                Ok((req_id, resp)) => {
                    let Addr::Node(seg) = m.from else {
                        unreachable!("writers only talk to nodes")
                    };
                    self.writer_response(w, seg, req_id, resp);
                }
                Err(e) => self.fail(format!("writer {w} could not decode a response: {e}")),
            },
        }
    }

    // ---------------------------------------------------------------- storage nodes

    fn node_request(&mut self, i: usize, from: Addr, req_id: u64, req: Request) {
        // A request of a membership older than the node's, or a write or read to a node its
        // membership does not name, must be refused: it could count a dropped member.
        let adopted = self.nodes[i].core.membership().clone();
        let me = peer_name(phys(i));
        let must_refuse = match &req {
            Request::Open { membership, .. } => membership.epoch < adopted.epoch,
            Request::Write { membership, .. } | Request::GetPage { membership, .. } => {
                *membership < adopted.epoch || (adopted.epoch.0 > 0 && !adopted.names(&me))
            }
            _ => false,
        };
        let step = self.nodes[i].core.handle(req, &|_| None);
        if must_refuse {
            match &step {
                Step::Reply(Response::Error {
                    code: ErrorCode::StaleMembership | ErrorCode::StaleEpoch,
                    ..
                }) => self.report.stale_refused += 1,
                other => {
                    return self.fail(format!(
                        "node {i} (membership {}) did not refuse a stale-membership request: {other:?}",
                        adopted.epoch
                    ));
                }
            }
        }
        let resp = match step {
            Step::Reply(r) => r,
            Step::StoreMeta(meta) => {
                // The meta file is replaced atomically: durable at once in the simulation.
                self.learn_truncations(&meta.truncations);
                let n = &mut self.nodes[i];
                n.meta = Some(meta.clone());
                n.core.adopted(meta);
                Response::State(n.core.state())
            }
            Step::Append { origin, records } => {
                self.nodes[i].pending.push(Pending {
                    reply_to: Some((from, req_id)),
                    origin,
                    records,
                });
                self.schedule_sync(i);
                return;
            }
            Step::Cached { .. } => unreachable!("the simulated node has no page cache"),
            Step::BuildPage {
                page,
                base,
                records,
            } => {
                let n = &self.nodes[i];
                match n.build(page, base, &records) {
                    Ok((lsn, image)) => Response::Page {
                        lsn,
                        image: Some(image),
                    },
                    Err(why) => Response::Error {
                        code: ErrorCode::Corrupted,
                        message: why,
                    },
                }
            }
            Step::Fetch { pg, locations } => {
                let n = &self.nodes[i];
                let mut records = Vec::new();
                for (lsn, loc) in locations {
                    match n.read(loc) {
                        Ok(r) if r.lsn == lsn && r.pg == pg => records.push(r),
                        _ => break,
                    }
                }
                n.core.records_answer(records)
            }
            Step::FetchBase { pg, batch } => {
                let n = &self.nodes[i];
                let mut items = Vec::new();
                for item in &batch.items {
                    let record = match n.read(item.loc) {
                        Ok(r) if r.lsn == item.lsn && r.pg == pg && r.page == item.page => r,
                        _ => break,
                    };
                    let image = match item.image {
                        None => None,
                        Some(l) => {
                            let entry = usize::try_from(l.offset)
                                .ok()
                                .and_then(|idx| n.images.get(idx));
                            match entry {
                                Some(e) if decode_image(e, item.page, item.lsn).is_ok() => {
                                    Some(e.clone())
                                }
                                _ => break,
                            }
                        }
                    };
                    items.push(BaseItem { record, image });
                }
                if items.is_empty() && !batch.items.is_empty() {
                    Response::Error {
                        code: ErrorCode::Corrupted,
                        message: "copy batch unreadable".into(),
                    }
                } else {
                    n.core.base_answer(pg, &batch, items)
                }
            }
        };
        self.send_response(Addr::Node(i), from, req_id, &resp);
    }

    fn schedule_sync(&mut self, i: usize) {
        if !self.nodes[i].sync_scheduled {
            self.nodes[i].sync_scheduled = true;
            let delay = if self.rng.chance(100) {
                self.rng.range(10, 60)
            } else {
                self.rng.range(1, 4)
            };
            let incarnation = self.nodes[i].incarnation;
            self.at(
                delay,
                Event::Sync {
                    node: i,
                    incarnation,
                },
            );
        }
    }

    /// The group commit: append every pending batch's new records, "sync", insert, answer.
    fn sync(&mut self, i: usize) {
        let pending = std::mem::take(&mut self.nodes[i].pending);
        self.nodes[i].sync_scheduled = false;
        let chosen = {
            let batches: Vec<&[RedoRecord]> =
                pending.iter().map(|p| p.records.as_slice()).collect();
            self.nodes[i].core.select(&batches)
        };
        for &(bi, ri) in &chosen {
            let rec = &pending[bi].records[ri];
            // Storage holds only records some writer wrote, byte for byte.
            match self.oracle.records.get(&rec.lsn) {
                Some((_, o)) if o == rec => {}
                _ => {
                    let why = format!("node {i} logs record {} that no writer wrote", rec.lsn);
                    self.fail(why);
                    return;
                }
            }
            let mut entry = Vec::new();
            encode_entry(rec, &mut entry);
            let n = &mut self.nodes[i];
            let loc = Location {
                file: 1,
                offset: n.log.len() as u64,
                len: u32::try_from(entry.len()).expect("entry length"),
            };
            n.log.push(entry);
            n.core.logged(rec, loc);
        }
        for p in pending {
            let answer = self.nodes[i].core.answer_write(p.origin, &p.records);
            if let Some((to, req_id)) = p.reply_to {
                let resp = match answer {
                    Ok(scls) => Response::WriteAck { scls },
                    Err((code, message)) => Response::Error { code, message },
                };
                self.send_response(Addr::Node(i), to, req_id, &resp);
            }
        }
        self.mix(self.nodes[i].core.segment().scl(seg_pg(i)).0);
    }

    fn node_tick(&mut self, i: usize) {
        self.nodes[i].housekeeping(self.now);
        let asks = {
            let n = &mut self.nodes[i];
            for pg in n.gossip.stalled_copies(self.now, &n.core) {
                if n.core.abandon_copy(pg).is_some() {
                    self.report.copies_abandoned += 1;
                }
            }
            n.gossip.tick(self.now, &n.core)
        };
        for ask in asks {
            let Some(peer) = peer_index(&ask.peer) else {
                continue;
            };
            let n = &mut self.nodes[i];
            n.next_req += 1;
            let req_id = n.next_req;
            let req = ask.request();
            n.asks.insert(req_id, ask);
            // Gossip goes to the peer's segment of the same PG.
            let to = seg_of(peer, seg_pg(i));
            self.send_request(Addr::Node(i), Addr::Node(to), req_id, &req);
        }
        let incarnation = self.nodes[i].incarnation;
        self.at(
            GOSSIP_INTERVAL_MS,
            Event::NodeTick {
                node: i,
                incarnation,
            },
        );
        if let Some(target) = self.nodes[i].rehydrate_to
            && self.nodes[i].core.segment().scl(seg_pg(i)) >= target
        {
            self.nodes[i].rehydrate_to = None;
        }
    }

    fn node_response(&mut self, i: usize, req_id: u64, resp: Response) {
        let Some(ask) = self.nodes[i].asks.remove(&req_id) else {
            return;
        };
        if ask.copy.is_some() {
            return self.copy_answer(i, &ask, resp);
        }
        let outcome = GossipCore::on_answer(&self.nodes[i].core, &ask, resp);
        if let Some(peer) = outcome.copy_from {
            if self.nodes[i].core.begin_copy(ask.pg, &peer) {
                self.report.copies_begun += 1;
            }
            return;
        }
        if let Some((term, truncations)) = outcome.adopt {
            let n = &mut self.nodes[i];
            match n.core.prepare_adopt(term, &truncations, None, None, None) {
                Ok(Some(meta)) => {
                    for t in &meta.truncations {
                        self.oracle.truncated.insert((t.above, t.upto));
                    }
                    n.meta = Some(meta.clone());
                    n.core.adopted(meta);
                }
                Ok(None) => {}
                Err(_) => return,
            }
        }
        if !outcome.records.is_empty() {
            assert!(
                outcome.records.len() <= RECORDS_PER_MESSAGE_MAX as usize,
                "a gossip answer is bounded"
            );
            self.nodes[i].pending.push(Pending {
                reply_to: None,
                origin: Origin::Gossip,
                records: outcome.records,
            });
            self.schedule_sync(i);
        }
    }

    /// A copy answer: checked, term and truncations adopted, items "appended and synced" to the
    /// log and the image file at once, and once the cut is complete the checkpoint of the
    /// installed segment stored before the install (as the real node does).
    fn copy_answer(&mut self, i: usize, ask: &GossipAsk, resp: Response) {
        let outcome = GossipCore::on_base_answer(&self.nodes[i].core, ask, resp);
        let (adopt, answer) = match outcome {
            CopyOutcome::Stale => return,
            CopyOutcome::Abandon(_) => {
                if self.nodes[i].core.abandon_copy(ask.pg).is_some() {
                    self.report.copies_abandoned += 1;
                }
                return;
            }
            CopyOutcome::Persist { adopt, answer } => (adopt, answer),
        };
        if let Some((term, truncations)) = adopt {
            let n = &mut self.nodes[i];
            match n.core.prepare_adopt(term, &truncations, None, None, None) {
                Ok(Some(meta)) => {
                    for t in &meta.truncations {
                        self.oracle.truncated.insert((t.above, t.upto));
                    }
                    n.meta = Some(meta.clone());
                    n.core.adopted(meta);
                }
                Ok(None) => {}
                Err(_) => {
                    if n.core.abandon_copy(ask.pg).is_some() {
                        self.report.copies_abandoned += 1;
                    }
                    return;
                }
            }
        }
        let mut record_locs = Vec::new();
        let mut image_locs = Vec::new();
        for item in &answer.items {
            let rec = &item.record;
            // Storage holds only records some writer wrote, byte for byte: copies included.
            match self.oracle.records.get(&rec.lsn) {
                Some((_, o)) if o == rec => {}
                _ => {
                    let why = format!("node {i} copies record {} that no writer wrote", rec.lsn);
                    return self.fail(why);
                }
            }
            let mut entry = Vec::new();
            encode_entry(rec, &mut entry);
            let n = &mut self.nodes[i];
            record_locs.push(Location {
                file: 1,
                offset: n.log.len() as u64,
                len: u32::try_from(entry.len()).expect("entry length"),
            });
            n.log.push(entry);
            if let Some(img) = &item.image {
                image_locs.push(Location {
                    file: 1,
                    offset: n.images.len() as u64,
                    len: u32::try_from(IMAGE_ENTRY_BYTES).expect("fits"),
                });
                n.images.push(img.clone());
            }
        }
        let Some(asked) = ask.copy else { return };
        let n = &mut self.nodes[i];
        match n
            .core
            .copied(&ask.peer, asked, &answer, &record_locs, &image_locs)
        {
            CopyProgress::Ignored | CopyProgress::More => {}
            CopyProgress::Complete => match n.core.prepare_install(ask.pg) {
                Ok(segment) => {
                    let ck = Checkpoint {
                        log_file: 1,
                        log_offset: n.log.len() as u64,
                        segment,
                    };
                    n.checkpoint = Some(ck.encode());
                    let c = n
                        .core
                        .install_copy(ask.pg)
                        .unwrap_or_else(|e| panic!("a prepared copy installs: {e}"));
                    n.gossip.follow(ask.pg, &c.peer);
                    self.report.copies_installed += 1;
                    self.report.copy_restarts += u64::from(c.restarts);
                    self.report.copy_bytes += c.bytes;
                    self.mix(c.floor.0 ^ 0xc0b1);
                }
                Err(_) => {
                    n.core.abandon_copy(ask.pg);
                    self.report.copies_abandoned += 1;
                }
            },
        }
    }

    /// The segments of node `i`.
    fn segs(&self, i: usize) -> Vec<usize> {
        (0..self.pgs)
            .map(|k| seg_of(i, PgId(u32::try_from(k).expect("PG id"))))
            .collect()
    }

    /// Records a truncation some segment adopted.
    fn learn_truncations(&mut self, truncations: &[Truncation]) {
        for t in truncations {
            self.oracle.truncated.insert((t.above, t.upto));
        }
    }

    /// Node `i` crashes: every one of its segments, each losing its unsynced writes (some may
    /// reach the disk, the last one torn), and with `lose_disk` all their files.
    fn crash_node(&mut self, i: usize, lose_disk: bool) {
        self.report.node_crashes += 1;
        if lose_disk {
            self.report.disks_lost += 1;
        }
        for seg in self.segs(i) {
            self.crash_segment(seg, lose_disk);
        }
        // A process crash resets its TCP connections: connected writers notice at once.
        for w in &mut self.writers {
            if let WriterState::Running(c) = &mut w.state {
                for g in 0..c.slots() {
                    if slot_seg(c, g).is_some_and(|seg| phys(seg) == i) {
                        c.disconnected(g);
                        if let Some(o) = w.opening.get_mut(g) {
                            *o = None;
                        }
                    }
                }
            }
        }
        if !self.nodes[i].lost_forever {
            let delay = self.rng.range(100, 3_000);
            self.at(delay, Event::NodeRestart { node: i });
        }
    }

    fn crash_segment(&mut self, i: usize, lose_disk: bool) {
        let torn = self.rng.chance(700);
        let keep = self.rng.range(1, 4) as usize;
        let tear_at = self.rng.next_u64();
        let n = &mut self.nodes[i];
        n.up = false;
        n.incarnation += 1;
        // Writes issued but not yet synced: some may have reached the disk, the last one torn.
        if torn && !n.pending.is_empty() {
            let batches: Vec<&[RedoRecord]> =
                n.pending.iter().map(|p| p.records.as_slice()).collect();
            let chosen = n.core.select(&batches);
            for (k, &(bi, ri)) in chosen.iter().take(keep).enumerate() {
                let mut entry = Vec::new();
                encode_entry(&n.pending[bi].records[ri], &mut entry);
                if k + 1 == keep.min(chosen.len()) {
                    let len = entry.len() as u64;
                    entry.truncate(usize::try_from(tear_at % len).expect("fits"));
                    self.report.torn_writes += 1;
                }
                n.log.push(entry);
            }
        }
        n.pending.clear();
        n.sync_scheduled = false;
        n.asks.clear();
        if lose_disk {
            n.meta = None;
            n.log.clear();
            n.images.clear();
            n.checkpoint = None;
            let pg = seg_pg(i);
            let target = (0..NODES)
                .map(|j| self.nodes[seg_of(j, pg)].core.segment().scl(pg))
                .max()
                .unwrap_or(Lsn::ZERO);
            self.nodes[i].rehydrate_to = Some(target);
        }
    }

    /// A node lost for good (the machine is gone): it crashes and never comes back. The writer
    /// replaces it by the spare of its AZ once it has been unreachable for `SEGMENT_LOST_MS`.
    fn lose_node_forever(&mut self, i: usize) {
        self.report.permanent_losses += 1;
        for seg in self.segs(i) {
            self.nodes[seg].lost_forever = true;
        }
        self.crash_node(i, false);
    }

    /// Restart: rebuild each segment's core from its meta file and a scan of its log, as the
    /// real node does.
    fn restart_node(&mut self, i: usize) {
        for seg in self.segs(i) {
            self.restart_segment(seg);
        }
    }

    fn restart_segment(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        if n.up || n.lost_forever {
            return;
        }
        let meta = n
            .meta
            .clone()
            .unwrap_or_else(|| empty_meta(phys(i), seg_pg(i)));
        // From the checkpoint if there is one: only the log written after it is scanned.
        let ck = n.checkpoint.as_deref().map(Checkpoint::decode);
        let (mut core, from) = match ck {
            Some(Ok(c)) => (
                NodeCore::restore(&meta, &c.segment),
                usize::try_from(c.log_offset).expect("fits"),
            ),
            Some(Err(e)) => unreachable!("a checkpoint is replaced atomically: {e}"),
            None => (NodeCore::new(&meta), 0),
        };
        core.set_retention(n.retention);
        core.set_peer_lag(n.peer_lag);
        core.set_copy_bytes_max(n.copy_bytes);
        if from > 0 {
            self.report.checkpoint_restarts += 1;
        }
        self.report.restart_entries_scanned += n.log.len().saturating_sub(from) as u64;
        self.report.restart_entries_skipped += from.min(n.log.len()) as u64;
        let mut cut = None;
        for (idx, entry) in n.log.iter().enumerate().skip(from) {
            match decode_entry(entry) {
                Ok(rec) => {
                    let loc = Location {
                        file: 1,
                        offset: idx as u64,
                        len: u32::try_from(entry.len()).expect("entry length"),
                    };
                    core.recover(&rec, loc);
                }
                Err(_) => {
                    // A torn tail: cut it off (only the last entry can be torn here).
                    cut = Some(idx);
                    break;
                }
            }
        }
        if let Some(idx) = cut {
            n.log.truncate(idx);
        }
        n.core = core;
        n.gossip = GossipCore::new();
        n.housekeeping =
            HousekeepingCore::with_checkpoints(SIM_CHECKPOINT_RECORDS, SIM_CHECKPOINT_MS);
        n.up = true;
        let incarnation = n.incarnation;
        self.at(
            1,
            Event::NodeTick {
                node: i,
                incarnation,
            },
        );
    }

    // ---------------------------------------------------------------- writers

    fn start_writer(&mut self) {
        if self.faults_on && self.writers.len() >= WRITERS_MAX {
            return;
        }
        let id = if self.opts.same_writer_id {
            WriterId(1)
        } else {
            WriterId(self.rng.next_u64().max(1))
        };
        self.writers.push(Writer {
            id,
            state: WriterState::Recovering(Box::new(Recovering {
                phase: Phase::GetState,
                phase_started: self.now,
                last_send: 0,
                answers: BTreeMap::new(),
                learned: Vec::new(),
                term: Term::default(),
                truncations: Vec::new(),
                plan: None,
                map: None,
                memberships: vec![Membership::initial(configured())],
                scls: vec![[Lsn::ZERO; SLOTS]],
                volume: None,
            })),
            asks: BTreeMap::new(),
            next_req: 0,
            opening: vec![None; SLOTS],
            growing: None,
            page_lsns: BTreeMap::new(),
            cpls: VecDeque::new(),
            last_vdl: Lsn::ZERO,
            recovered_vdl: Lsn::ZERO,
            reader: None,
        });
        self.report.writers += 1;
        let w = self.writers.len() - 1;
        self.calm_since = self.now;
        self.recovery_send(w);
        self.at(WRITER_TICK_MS, Event::WriterTick { writer: w });
    }

    fn writer_req(&mut self, w: usize, seg: usize, ask: Ask, req: &Request) {
        let wr = &mut self.writers[w];
        wr.next_req += 1;
        let req_id = wr.next_req;
        wr.asks.insert(req_id, (seg, ask));
        self.send_request(Addr::Writer(w), Addr::Node(seg), req_id, req);
    }

    /// Sends the current recovery phase's request to every segment that has not answered it: in
    /// the first two phases every node known (members and spares, as the real writer does: a
    /// replacement may have made a spare a member), for PG 0 and then the other PGs of the map;
    /// then the members of each PG's chosen membership.
    fn recovery_send(&mut self, w: usize) {
        let WriterState::Recovering(r) = &mut self.writers[w].state else {
            return;
        };
        r.last_send = self.now;
        let phase = r.phase;
        let term = r.term;
        let pgs = r.memberships.len();
        let mut reqs: Vec<(usize, Request)> = Vec::new();
        for k in 0..pgs {
            let pg = PgId(u32::try_from(k).expect("PG id"));
            let targets: Vec<usize> = match phase {
                Phase::GetState if k == 0 => (0..NODES).collect(),
                Phase::GetState => Vec::new(),
                Phase::GetStatePgs if k > 0 => (0..NODES).collect(),
                Phase::GetStatePgs => Vec::new(),
                _ => slot_nodes(&r.memberships[k])
                    .into_iter()
                    .flatten()
                    .collect(),
            };
            let membership = r.memberships[k].clone();
            let addrs: Vec<String> = slot_addrs(&membership).into_iter().flatten().collect();
            let own: Vec<Truncation> = r
                .truncations
                .iter()
                .filter(|t| t.pg == pg)
                .copied()
                .collect();
            let map = (k == 0).then(|| {
                r.map.clone().unwrap_or_else(|| StoredMap {
                    pages_per_pg: self.pages_per_pg,
                    pgs: vec![Membership::initial(configured())],
                })
            });
            for node in targets {
                if r.answers.contains_key(&(pg.0, node)) && phase != Phase::Poll {
                    continue;
                }
                let me = peer_name(node);
                let req = match phase {
                    Phase::GetState | Phase::GetStatePgs | Phase::Poll => Request::GetState {
                        epoch: term.epoch,
                        pg,
                    },
                    Phase::Open | Phase::Truncate => Request::Open {
                        epoch: term.epoch,
                        writer: term.writer,
                        pg,
                        peers: addrs.iter().filter(|a| **a != me).cloned().collect(),
                        truncations: own.clone(),
                        membership: membership.clone(),
                        me,
                        map: map.clone(),
                    },
                };
                reqs.push((seg_of(node, pg), req));
            }
        }
        for (seg, req) in reqs {
            self.writer_req(w, seg, Ask::Recovery(phase), &req);
        }
    }

    /// Moves recovery on when a phase has its quorum: a write quorum of every quorum set of the
    /// membership of every PG, and every segment asked or a short wait.
    fn recovery_step(&mut self, w: usize) {
        let now = self.now;
        let id = self.writers[w].id;
        let WriterState::Recovering(r) = &mut self.writers[w].state else {
            return;
        };
        let waited = now - r.phase_started >= RECOVERY_ALL_SEGMENTS_WAIT_MS;
        let states_of = |r: &Recovering, k: usize| -> Vec<SegmentState> {
            r.answers
                .iter()
                .filter(|((pg, _), _)| *pg as usize == k)
                .map(|(_, s)| s.clone())
                .collect()
        };
        let answered_of = |r: &Recovering, k: usize| -> Vec<String> {
            r.answers
                .keys()
                .filter(|(pg, _)| *pg as usize == k)
                .map(|&(_, n)| peer_name(n))
                .collect()
        };
        // Which PGs this phase asks, and the membership each answer set must cover.
        let pgs: Vec<usize> = match r.phase {
            Phase::GetState => vec![0],
            Phase::GetStatePgs => (1..r.memberships.len()).collect(),
            _ => (0..r.memberships.len()).collect(),
        };
        let mut chosen = Vec::new();
        let mut enough = true;
        for &k in &pgs {
            let states = states_of(r, k);
            let m = match r.phase {
                Phase::GetState => recovery::choose_membership(&states, &configured()),
                Phase::GetStatePgs => {
                    let first = &r.map.as_ref().expect("a map names the other PGs").pgs[k];
                    recovery::choose_membership(&states, &first.members)
                }
                _ => r.memberships[k].clone(),
            };
            let asked = if matches!(r.phase, Phase::GetState | Phase::GetStatePgs) {
                NODES
            } else {
                slot_nodes(&m).into_iter().flatten().count()
            };
            enough &= recovery::quorum_of(&m, &answered_of(r, k), WRITE_QUORUM)
                && (states.len() == asked || waited);
            chosen.push(m);
        }
        let all_states: Vec<SegmentState> = r.answers.values().cloned().collect();
        let mut scan_mismatch = None;
        match r.phase {
            Phase::GetState if enough => {
                r.map = recovery::choose_map(&all_states);
                r.learned = all_states;
                r.memberships = vec![chosen[0].clone()];
                let n = r.map.as_ref().map_or(1, StoredMap::version);
                if n > 1 {
                    let first = r.map.as_ref().expect("a map").pgs.clone();
                    r.memberships.extend(first.into_iter().skip(1));
                    r.phase = Phase::GetStatePgs;
                } else {
                    r.term = recovery::choose_term(&r.learned, id);
                    r.truncations = recovery::known_truncations(&r.learned);
                    r.phase = Phase::Open;
                }
                r.scls = vec![[Lsn::ZERO; SLOTS]; r.memberships.len()];
            }
            Phase::GetStatePgs if enough => {
                for (&k, m) in pgs.iter().zip(chosen) {
                    r.memberships[k] = m;
                }
                r.learned.extend(all_states);
                r.term = recovery::choose_term(&r.learned, id);
                r.truncations = recovery::known_truncations(&r.learned);
                r.phase = Phase::Open;
            }
            Phase::Open if enough => {
                // The map may have grown since the first phase (a writer we are fencing placed
                // a PG meanwhile): it shows in these answers if it was stored on a write quorum
                // of PG 0 before our term was. Recover again with it.
                let fenced: Vec<SegmentState> = r
                    .answers
                    .iter()
                    .filter(|((pg, _), _)| *pg == 0)
                    .map(|(_, s)| s.clone())
                    .collect();
                if !self.opts.stale_map
                    && recovery::choose_map(&fenced)
                        .is_some_and(|m| m.version() > r.memberships.len())
                {
                    self.restart_recovery(w);
                    return;
                }
                if r.memberships.len() == 1 {
                    let plan = recovery::plan(r.term, &r.truncations, &all_states);
                    // The scan that several PGs need must agree with the PG chain when there
                    // is one PG (the truncations it is given are those known before this
                    // recovery's own).
                    let before = &plan.truncations[..plan.truncations.len() - 1];
                    let scan = recovery::scan_volume(&all_states, before);
                    self.report.volume_scans += 1;
                    self.report.volume_scan_records += scan.records;
                    if scan.vdl != plan.recovery.vdl {
                        scan_mismatch = Some(format!(
                            "writer {w}: the volume scan recovered VDL {} (floor {}, VCL {}), the PG \
                             chain {} (complete to {})",
                            scan.vdl,
                            scan.floor,
                            scan.vcl,
                            plan.recovery.vdl,
                            plan.recovery.complete_lsn
                        ));
                    }
                    r.truncations.clone_from(&plan.truncations);
                    r.volume = Some((
                        plan.recovery.vdl,
                        plan.truncation.upto,
                        vec![plan.recovery.vdl],
                    ));
                    r.plan = Some(plan);
                } else {
                    let plan = recovery::plan_volume(
                        r.term,
                        &r.truncations,
                        &all_states,
                        r.memberships.len(),
                    );
                    self.report.volume_scans += 1;
                    r.truncations.clone_from(&plan.truncations);
                    r.volume = Some((plan.vdl, plan.upto, plan.tails));
                }
                r.phase = Phase::Truncate;
            }
            Phase::Truncate if enough => {
                for (&(pg, node), s) in &r.answers {
                    let k = pg as usize;
                    if let Some(slot) = recovery::slot_of(&r.memberships[k], &peer_name(node)) {
                        r.scls[k][slot] = recovery::scl_of(s, PgId(pg));
                    }
                }
                r.phase = Phase::Poll;
            }
            Phase::Poll => {
                if r.answers.values().any(|s| recovery::overtaken(r.term, s)) {
                    self.fence(w);
                    return;
                }
                for (&(pg, node), s) in &r.answers {
                    let k = pg as usize;
                    if let Some(slot) = recovery::slot_of(&r.memberships[k], &peer_name(node)) {
                        r.scls[k][slot] = r.scls[k][slot].max(recovery::scl_of(s, PgId(pg)));
                    }
                }
                let (vdl, upto, tails) = r.volume.clone().expect("planned before polling");
                if now - r.phase_started >= POLL_GIVE_UP_MS {
                    self.writers[w].state = WriterState::Crashed;
                    self.report.writer_crashes += 1;
                    self.at(1, Event::StartWriter);
                    return;
                }
                let on_quorum = (0..r.memberships.len())
                    .all(|k| recovery::vdl_on_write_quorum(&r.memberships[k], r.scls[k], tails[k]));
                if on_quorum {
                    let map = r.map.clone().unwrap_or_else(|| StoredMap {
                        pages_per_pg: self.pages_per_pg,
                        pgs: vec![Membership::initial(configured())],
                    });
                    let recovered = Recovered {
                        term: r.term,
                        truncations: r.truncations.clone(),
                        vdl,
                        upto,
                        pages_per_pg: map.pages_per_pg,
                        pgs: (0..r.memberships.len())
                            .map(|k| RecoveredPg {
                                membership: r.memberships[k].clone(),
                                scls: r.scls[k],
                                tail: tails[k],
                            })
                            .collect(),
                        map: map.pgs,
                    };
                    self.finish_recovery(w, recovered);
                    return;
                }
                if now - r.last_send >= POLL_MS {
                    r.answers.clear();
                    self.recovery_send(w);
                }
                return;
            }
            _ => {
                if now - r.last_send >= RESEND_MS {
                    self.recovery_send(w);
                }
                return;
            }
        }
        r.answers.clear();
        r.phase_started = now;
        if let Some(why) = scan_mismatch {
            return self.fail(why);
        }
        self.recovery_send(w);
        self.recovery_step(w);
    }

    /// A node refused our recovery's `Open` because it adopted a newer membership than the one we
    /// chose (a change completed between our first phase and this one): start recovery again from
    /// the first phase, which will see the newer membership.
    fn restart_recovery(&mut self, w: usize) {
        let WriterState::Recovering(r) = &mut self.writers[w].state else {
            return;
        };
        self.report.recovery_restarts += 1;
        r.phase = Phase::GetState;
        r.phase_started = self.now;
        r.answers.clear();
        r.learned.clear();
        r.plan = None;
        r.volume = None;
        r.map = None;
        r.memberships = vec![Membership::initial(configured())];
        r.scls = vec![[Lsn::ZERO; SLOTS]];
        self.recovery_send(w);
    }

    fn finish_recovery(&mut self, w: usize, rec: Recovered) {
        let vdl = rec.vdl;
        let term = rec.term;
        // The truncation this recovery made is known to the segments that adopted it.
        self.learn_truncations(&rec.truncations);
        // No acknowledged commit is lost: every one is in the recovered history.
        let chain = match self.history(vdl) {
            Ok(c) => c,
            Err(e) => return self.fail(format!("writer {w} recovered VDL {vdl}: {e}")),
        };
        // Each PG resumes from its tail at VDL: its last record in the history.
        for (k, p) in rec.pgs.iter().enumerate() {
            let want = chain
                .iter()
                .rev()
                .find(|l| self.oracle.records[l].1.pg.0 as usize == k)
                .copied()
                .unwrap_or(Lsn::ZERO);
            if p.tail != want {
                return self.fail(format!(
                    "writer {w} recovered PG {k}'s tail at {} but the history has {want} (VDL {vdl})",
                    p.tail
                ));
            }
        }
        let on_chain: BTreeSet<Lsn> = chain.iter().copied().collect();
        // (A writer with a newer term may have acknowledged commits meanwhile: this one is
        // fenced already and will learn it at its first Open.)
        if let Some((lost, by)) = self
            .oracle
            .acked
            .iter()
            .find(|(l, t)| **t < term && !on_chain.contains(l))
        {
            let why = format!(
                "commit {lost} acknowledged by term {by} is not on the chain recovered by writer {w} with term {term} (VDL {vdl})"
            );
            return self.fail(why);
        }
        // Page backlinks: what the engine would read back at VDL.
        let mut page_lsns = BTreeMap::new();
        for l in &chain {
            let (_, r) = &self.oracle.records[l];
            if r.page != PageId::NONE {
                page_lsns.insert(r.page, *l);
            }
        }
        let wr = &mut self.writers[w];
        wr.page_lsns = page_lsns;
        wr.last_vdl = vdl;
        wr.recovered_vdl = vdl;
        wr.reader = None;
        let mut core = WriterCore::new(rec);
        // Half the seeds keep almost no durable records for lagging segments: they then fill
        // their gaps from peers rather than from the writer.
        if self.tiny_send_log {
            core.set_send_log_durable_bytes(512);
        }
        // A replacement hydrates by gossip from the start of the PG's chain, and by a copy of a
        // peer's cut where its peers collected past it.
        core.set_spares(spares());
        wr.opening = vec![None; core.slots()];
        wr.growing = None;
        if core.pg_count() > 1 {
            self.report.multi_pg_recoveries += 1;
        }
        wr.state = WriterState::Running(Box::new(core));
        self.calm_since = self.now;
        self.report.recoveries += 1;
    }

    fn writer_tick(&mut self, w: usize) {
        match &self.writers[w].state {
            WriterState::Crashed | WriterState::Fenced => return,
            WriterState::Recovering(_) => self.recovery_step(w),
            WriterState::Running(c) if c.is_fenced() => {
                self.writers[w].state = WriterState::Fenced;
                return;
            }
            WriterState::Running(_) => self.running_tick(w),
        }
        if self.failure.is_none() {
            self.at(WRITER_TICK_MS, Event::WriterTick { writer: w });
        }
    }

    fn running_tick(&mut self, w: usize) {
        let now = self.now;
        // The membership policy: replace a member lost for good, complete a replacement.
        let change = {
            let wr = &mut self.writers[w];
            let WriterState::Running(core) = &mut wr.state else {
                unreachable!("running")
            };
            let change = core.tick(now);
            if let Some(
                MembershipChange::Began { pg, .. } | MembershipChange::Completed { pg, .. },
            ) = &change
            {
                // Every slot of the PG is opened again with the new membership (perhaps
                // another node).
                let base = pg.0 as usize * SLOTS;
                for o in &mut wr.opening[base..base + SLOTS] {
                    *o = None;
                }
            }
            change
        };
        if let Some(change) = change {
            self.membership_changed(w, &change);
            if self.failure.is_some() {
                return;
            }
        }
        let opens = {
            let wr = &mut self.writers[w];
            let WriterState::Running(core) = &mut wr.state else {
                unreachable!("running")
            };
            for slot in core.expire(now) {
                wr.opening[slot] = None;
            }
            let mut opens = Vec::new();
            for g in 0..core.slots() {
                let stale = wr.opening[g].is_some_and(|t| now - t >= RESEND_MS);
                if !core.is_connected(g)
                    && (wr.opening[g].is_none() || stale)
                    && let Some(open) = core.open_request(g)
                    && let Some(seg) = slot_seg(core, g)
                {
                    wr.opening[g] = Some(now);
                    opens.push((g, seg, open));
                }
            }
            opens
        };
        for (slot, seg, req) in opens {
            self.writer_req(w, seg, Ask::SegmentOpen { slot }, &req);
        }
        // A growth in progress: its requests again if answers are missing.
        if self.writers[w]
            .growing
            .as_ref()
            .is_some_and(|g| now - g.last_send >= RESEND_MS)
        {
            self.grow_send(w);
        }
        // The workload: an MTR now and then, each ending in its commit record.
        if self.mtrs_issued < self.mtrs_target
            && self.writers[w].growing.is_none()
            && self.rng.chance(150)
        {
            self.issue_mtr(w);
        }
        // Boxcarring: one Write in flight per slot, carrying whatever is unsent.
        let slots = self.writers[w].running().map_or(0, WriterCore::slots);
        for g in 0..slots {
            let wr = &mut self.writers[w];
            let WriterState::Running(core) = &mut wr.state else {
                return;
            };
            let Some(seg) = slot_seg(core, g) else {
                continue;
            };
            let req_id = wr.next_req + 1;
            let Some(batch) = core.next_write(g, req_id, now) else {
                continue;
            };
            wr.next_req = req_id;
            wr.asks.insert(req_id, (seg, Ask::Write { slot: g }));
            let term = core.term();
            let (kind, body) = proto::encode_write_request(
                req_id,
                term.epoch,
                term.writer,
                batch.pg,
                batch.membership,
                batch.horizon,
                batch.records.iter().map(|e| e.bytes.as_slice()),
            );
            self.send(Addr::Writer(w), Addr::Node(seg), kind, body);
        }
        // A read at the current VDL from one segment of the page's PG that holds it.
        if self.rng.chance(60) {
            let page = PageId(self.rng.below(PAGES));
            let wr = &self.writers[w];
            let Some(core) = wr.running() else { return };
            let read_point = core.vdl();
            let Some(target) = core.read_target(page) else {
                return;
            };
            let base = target.pg.0 as usize * SLOTS;
            let candidates: Vec<usize> = (base..base + SLOTS)
                .filter(|&g| core.is_connected(g) && core.scl(g) >= target.pg_point)
                .filter_map(|g| slot_seg(core, g))
                .collect();
            if read_point > wr.recovered_vdl && !candidates.is_empty() {
                let seg = candidates[self.rng.index(candidates.len())];
                let term = core.term();
                let req = Request::GetPage {
                    epoch: term.epoch,
                    writer: term.writer,
                    pg: target.pg,
                    membership: target.membership,
                    page,
                    read_point,
                    pg_point: target.pg_point,
                };
                if let WriterState::Running(core) = &mut self.writers[w].state {
                    core.read_started(read_point);
                }
                self.writer_req(w, seg, Ask::Read { page, read_point }, &req);
            }
        }
        self.reader_tick(w);
    }

    /// The reader: it holds a read point behind VDL (registered with the writer, which keeps
    /// PGMRPL at or below it), moves it to the current VDL every 0.5–3 s, and reads pages at it
    /// from one segment of the page's PG. Its reads are checked against the model like the
    /// writer's, at a point storage may already have collected around.
    fn reader_tick(&mut self, w: usize) {
        let now = self.now;
        let hold_ms = self.rng.range(500, 3_000);
        let wr = &mut self.writers[w];
        let WriterState::Running(core) = &mut wr.state else {
            return;
        };
        if wr.reader.is_none_or(|(_, since)| now - since >= hold_ms) {
            if let Some((old, _)) = wr.reader.take() {
                core.read_finished(old);
            }
            let point = core.vdl();
            core.read_started(point);
            wr.reader = Some((point, now));
        }
        if !self.rng.chance(60) {
            return;
        }
        let page = PageId(self.rng.below(PAGES));
        let wr = &self.writers[w];
        let (Some(core), Some((read_point, _))) = (wr.running(), wr.reader) else {
            return;
        };
        let Some(target) = core.read_target(page) else {
            return;
        };
        let base = target.pg.0 as usize * SLOTS;
        let candidates: Vec<usize> = (base..base + SLOTS)
            .filter(|&g| core.is_connected(g) && core.scl(g) >= target.pg_point)
            .filter_map(|g| slot_seg(core, g))
            .collect();
        if read_point <= wr.recovered_vdl || candidates.is_empty() {
            return;
        }
        let seg = candidates[self.rng.index(candidates.len())];
        let term = core.term();
        let req = Request::GetPage {
            epoch: term.epoch,
            writer: term.writer,
            pg: target.pg,
            membership: target.membership,
            page,
            read_point,
            pg_point: target.pg_point,
        };
        // The read holds its point until it is answered, even if the reader moves on meanwhile.
        if let WriterState::Running(core) = &mut self.writers[w].state {
            core.read_started(read_point);
        }
        self.writer_req(w, seg, Ask::ReaderRead { page, read_point }, &req);
    }

    /// Begins growing the volume to hold `page`, as the real writer does: place the new PGs
    /// over every node, spares included, two per AZ (`VolumeMap::grow_to`), open their segments,
    /// then store the new map on PG 0 (see `grow_send` and `grow_answer`).
    fn begin_growth(&mut self, w: usize, page: PageId) {
        let wr = &mut self.writers[w];
        let WriterState::Running(core) = &wr.state else {
            return;
        };
        let pgs: Vec<Membership> = (0..core.pg_count())
            .map(|k| {
                core.membership_of(PgId(u32::try_from(k).expect("PG id")))
                    .clone()
            })
            .collect();
        let mut map = VolumeMap::from_parts(core.pages_per_pg(), pgs);
        // Every node, the spares too, as the real writer places over its nodes and spares.
        let nodes: Vec<StorageNode> = (0..NODES)
            .map(|i| StorageNode {
                addr: peer_name(i),
                az: az_of(i),
            })
            .collect();
        let dropped = core.spares_and_dropped().1.to_vec();
        let added = match map.grow_to(page, &nodes, &|n| !dropped.contains(&n.addr)) {
            Ok(a) => a,
            Err(e) => return self.fail(format!("writer {w} cannot grow to page {page}: {e}")),
        };
        let mut stored = core.stored_map();
        let added: Vec<(PgId, Membership)> = added
            .into_iter()
            .map(|pg| (pg, map.membership(pg).expect("added").clone()))
            .collect();
        stored.pgs.extend(added.iter().map(|(_, m)| m.clone()));
        wr.growing = Some(Growing {
            added,
            map: stored,
            storing: false,
            answers: BTreeMap::new(),
            last_send: 0,
        });
        self.report.growths += 1;
        self.grow_send(w);
    }

    /// Sends the growth step's requests to the segments that have not answered it.
    fn grow_send(&mut self, w: usize) {
        let now = self.now;
        let wr = &mut self.writers[w];
        let (WriterState::Running(core), Some(g)) = (&wr.state, &mut wr.growing) else {
            return;
        };
        g.last_send = now;
        // Each request with the PG it is for, by the node's address.
        let addressed: Vec<(PgId, String, Request)> = if g.storing {
            core.map_open_requests(&g.map)
                .into_iter()
                .map(|(a, r)| (PG, a, r))
                .collect()
        } else {
            g.added
                .iter()
                .flat_map(|(pg, m)| {
                    core.new_pg_open_requests(*pg, m)
                        .into_iter()
                        .map(|(a, r)| (*pg, a, r))
                })
                .collect()
        };
        let reqs: Vec<(usize, Request)> = addressed
            .into_iter()
            .filter_map(|(pg, addr, req)| {
                let node = peer_index(&addr)?;
                (!g.answers.contains_key(&(pg.0, node))).then(|| (seg_of(node, pg), req))
            })
            .collect();
        for (seg, req) in reqs {
            self.writer_req(w, seg, Ask::Grow, &req);
        }
    }

    /// A segment answered a growth request: once a write quorum of every new PG adopted it, the
    /// map is stored on PG 0; once a write quorum of PG 0 holds the map, the core ships the new
    /// PGs.
    fn grow_answer(&mut self, w: usize, seg: usize, state: &SegmentState) {
        let wr = &mut self.writers[w];
        let (WriterState::Running(core), Some(g)) = (&mut wr.state, &mut wr.growing) else {
            return;
        };
        let pg = seg_pg(seg);
        if g.storing != (pg == PG) || state.epoch != core.term().epoch {
            return;
        }
        g.answers.insert(
            (pg.0, phys(seg)),
            state.map.as_ref().map_or(0, StoredMap::version),
        );
        let answered = |g: &Growing, pg: PgId, version: usize| -> Vec<String> {
            g.answers
                .iter()
                .filter(|((p, _), v)| *p == pg.0 && **v >= version)
                .map(|((_, n), _)| peer_name(*n))
                .collect()
        };
        if !g.storing {
            let all = g
                .added
                .iter()
                .all(|(pg, m)| recovery::quorum_of(m, &answered(g, *pg, 0), WRITE_QUORUM));
            if all {
                g.storing = true;
                g.answers.clear();
                self.grow_send(w);
            }
            return;
        }
        let version = g.map.version();
        if recovery::quorum_of(core.membership(), &answered(g, PG, version), WRITE_QUORUM) {
            for (pg, m) in std::mem::take(&mut g.added) {
                let got = core.add_pg(m);
                assert_eq!(got, pg, "PGs are added in order");
            }
            wr.opening.resize(core.slots(), None);
            wr.growing = None;
        }
    }

    /// A writer changed the membership: count it, and check that the change keeps four live
    /// copies of every acknowledged record in every quorum set of the new membership.
    fn membership_changed(&mut self, w: usize, change: &MembershipChange) {
        let (pg, m, joiner) = match change {
            MembershipChange::Began {
                pg,
                membership,
                joiner,
                ..
            } => {
                self.report.repairs_begun += 1;
                (*pg, membership.clone(), joiner.clone())
            }
            MembershipChange::Completed {
                pg,
                membership,
                joiner,
                ..
            } => {
                self.report.repairs_completed += 1;
                (*pg, membership.clone(), joiner.clone())
            }
        };
        self.mix(m.epoch.0 ^ 0x5eed);
        if let Some(node) = peer_index(&joiner)
            && self.nodes[node].lost_forever
        {
            return self.fail(format!(
                "writer {w} chose node {node}, lost for good, to join membership {}",
                m.epoch
            ));
        }
        // A joiner takes its slot only holding every acknowledged record of its PG: from now on
        // it counts toward the quorum of every one of them.
        if m.joining.is_none()
            && let Some(node) = peer_index(&joiner)
            && !self.lost_data(node)
        {
            let seg = self.nodes[seg_of(node, pg)].core.segment();
            let floor = seg.floor(pg);
            let held: BTreeSet<Lsn> = seg
                .fetch(pg, floor, Lsn(u64::MAX), usize::MAX)
                .into_iter()
                .map(|(l, _)| l)
                .collect();
            if let Some(missing) = self
                .acked_records(pg)
                .into_iter()
                .find(|l| *l > floor && !held.contains(l))
            {
                return self.fail(format!(
                    "writer {w} completed PG {pg}'s membership {} with node {node}, which lacks acknowledged record {missing}",
                    m.epoch
                ));
            }
        }
        self.check_copies(
            pg,
            &m,
            &format!("writer {w} moved PG {pg} to membership {}", m.epoch),
        );
    }

    fn issue_mtr(&mut self, w: usize) {
        let pages = self.rng.range(1, 3);
        let mut chosen: Vec<PageId> = Vec::new();
        for _ in 0..pages {
            let p = PageId(self.rng.below(PAGES));
            if !chosen.contains(&p) {
                chosen.push(p);
            }
        }
        let mut payloads = Vec::new();
        for _ in &chosen {
            payloads.push(self.random_payload());
        }
        let txn = TxnId(self.rng.next_u64());
        let now = self.now;
        let wr = &mut self.writers[w];
        let WriterState::Running(core) = &mut wr.state else {
            return;
        };
        let mut drafts: Vec<RecordDraft> = chosen
            .iter()
            .zip(payloads)
            .map(|(p, payload)| RecordDraft {
                page: *p,
                prev_page_lsn: wr.page_lsns.get(p).copied().unwrap_or(Lsn::ZERO),
                payload,
            })
            .collect();
        drafts.push(RecordDraft {
            page: PageId::NONE,
            prev_page_lsn: Lsn::ZERO,
            payload: Payload::Commit {
                txn,
                time_us: now * 1000,
            },
        });
        // What the records carry as their known VDL: the writer's VDL when it allocated them.
        let known_vdl = core.vdl();
        let n = drafts.len();
        // Each PG's tail before this MTR: the backlink of its first record in it.
        let mut tails: BTreeMap<PgId, Lsn> = drafts
            .iter()
            .filter_map(|d| core.pg_of(d.page))
            .map(|pg| (pg, core.pg_tail_of(pg)))
            .collect();
        let first = match core.append_mtr(drafts.clone()) {
            Ok(first) => first,
            Err(AppendError::LalExceeded | AppendError::Fenced) => return,
            Err(AppendError::Grow { page }) => return self.begin_growth(w, page),
        };
        self.mtrs_issued += 1;
        self.report.mtrs += 1;
        for (k, d) in drafts.into_iter().enumerate() {
            let lsn = Lsn(first.0 + k as u64);
            if d.page != PageId::NONE {
                wr.page_lsns.insert(d.page, lsn);
            }
            let pg = core.pg_of(d.page).expect("the MTR was appended");
            let prev = tails.insert(pg, lsn).unwrap_or(Lsn::ZERO);
            let rec = RedoRecord {
                lsn,
                pg,
                prev_pg_lsn: prev,
                page: d.page,
                prev_page_lsn: d.prev_page_lsn,
                known_vdl,
                cpl: k + 1 == n,
                payload: d.payload,
            };
            if let Some((other, _)) = self.oracle.records.get(&lsn) {
                let why = format!(
                    "LSN {lsn} allocated by writer {w} was already allocated by writer {other}"
                );
                self.fail(why);
                return;
            }
            self.oracle.records.insert(lsn, (w, rec));
        }
        wr.cpls.push_back((Lsn(first.0 + n as u64 - 1), now));
    }

    fn random_payload(&mut self) -> Payload {
        if self.rng.chance(self.init_per_mille) {
            let len = self.rng.range(0, 64) as usize;
            let mut image = Vec::with_capacity(len);
            for _ in 0..len {
                image.push(self.rng.next_u64() as u8);
            }
            Payload::Init(image)
        } else {
            let n = self.rng.range(1, 3);
            let mut patches = Vec::new();
            for _ in 0..n {
                let len = self.rng.range(1, 8) as usize;
                let offset = self.rng.below((PAGE_SIZE - len) as u64);
                let bytes = (0..len).map(|_| self.rng.next_u64() as u8).collect();
                patches.push(Patch {
                    offset: u16::try_from(offset).expect("page offset"),
                    bytes,
                });
            }
            Payload::Patch(patches)
        }
    }

    fn writer_response(&mut self, w: usize, seg: usize, req_id: u64, resp: Response) {
        let Some((asked_seg, ask)) = self.writers[w].asks.remove(&req_id) else {
            return;
        };
        assert_eq!(asked_seg, seg, "answers come from the node asked");
        if let Response::Error {
            code: ErrorCode::StaleEpoch,
            ..
        } = resp
        {
            self.fence(w);
            return;
        }
        if let Response::Error {
            code: ErrorCode::StaleMembership,
            ..
        } = resp
            && matches!(ask, Ask::Recovery(Phase::Open | Phase::Truncate))
        {
            self.restart_recovery(w);
            return;
        }
        match ask {
            Ask::Recovery(phase) => {
                let WriterState::Recovering(r) = &mut self.writers[w].state else {
                    return;
                };
                if r.phase == phase
                    && let Response::State(s) = resp
                {
                    r.answers.insert((seg_pg(seg).0, phys(seg)), s);
                    self.recovery_step(w);
                }
            }
            Ask::SegmentOpen { slot } => {
                let wr = &mut self.writers[w];
                let WriterState::Running(core) = &mut wr.state else {
                    return;
                };
                // An answer for a slot that another node holds now (the membership changed).
                if slot_seg(core, slot) != Some(seg) {
                    return;
                }
                wr.opening[slot] = None;
                if let Response::State(s) = resp {
                    let scl = recovery::scl_of(&s, seg_pg(seg));
                    let advanced = core.connected(slot, scl, s.membership.epoch);
                    self.vdl_advanced(w, advanced);
                }
            }
            Ask::Write { slot } => {
                let WriterState::Running(core) = &mut self.writers[w].state else {
                    return;
                };
                if slot_seg(core, slot) != Some(seg) {
                    return;
                }
                let pg = seg_pg(seg);
                let seg = slot;
                match resp {
                    Response::WriteAck { scls } => {
                        let scl = scls
                            .iter()
                            .find(|(p, _)| *p == pg)
                            .map_or(Lsn::ZERO, |(_, s)| *s);
                        let advanced = core.write_acked(seg, req_id, scl);
                        self.vdl_advanced(w, advanced);
                    }
                    _ => core.write_failed(seg, req_id),
                }
            }
            Ask::Read { page, read_point } => {
                if let WriterState::Running(core) = &mut self.writers[w].state {
                    core.read_finished(read_point);
                }
                if let Response::Error {
                    code: ErrorCode::BelowHorizon,
                    message,
                } = &resp
                {
                    return self.fail(format!(
                        "writer {w} read page {page} at {read_point}, a read point still in use, from node {seg}: {message}"
                    ));
                }
                if let Response::Page { lsn, image } = resp {
                    self.check_read(w, seg, page, read_point, lsn, image.as_deref());
                }
            }
            Ask::ReaderRead { page, read_point } => {
                if let WriterState::Running(core) = &mut self.writers[w].state {
                    core.read_finished(read_point);
                }
                if let Response::Error {
                    code: ErrorCode::BelowHorizon,
                    message,
                } = &resp
                {
                    return self.fail(format!(
                        "the reader of writer {w} read page {page} at {read_point}, the read point it holds, from node {seg}: {message}"
                    ));
                }
                if let Response::Page { lsn, image } = resp {
                    self.report.reader_reads += 1;
                    self.check_read(w, seg, page, read_point, lsn, image.as_deref());
                }
            }
            Ask::Grow => {
                if let Response::State(s) = resp {
                    self.grow_answer(w, seg, &s);
                }
            }
        }
    }

    fn fence(&mut self, w: usize) {
        match &mut self.writers[w].state {
            WriterState::Running(core) => {
                if !core.is_fenced() {
                    self.report.fenced += 1;
                }
                core.fence();
            }
            WriterState::Recovering(_) => {
                self.report.fenced += 1;
                self.writers[w].state = WriterState::Fenced;
            }
            _ => {}
        }
        self.calm_since = self.now;
        if !self
            .writers
            .iter()
            .any(|x| matches!(x.state, WriterState::Recovering(_)) || x.running().is_some())
        {
            let delay = self.rng.range(50, 500);
            self.at(delay, Event::StartWriter);
        }
    }

    fn vdl_advanced(&mut self, w: usize, advanced: Option<Lsn>) {
        let Some(vdl) = advanced else { return };
        let wr = &mut self.writers[w];
        let Some(term) = wr.running().map(WriterCore::term) else {
            return;
        };
        if vdl <= wr.last_vdl {
            let why = format!("writer {w}: VDL went from {} back to {vdl}", wr.last_vdl);
            return self.fail(why);
        }
        wr.last_vdl = vdl;
        // Acknowledge every commit the VDL now covers (group commit).
        while let Some(&(cpl, _)) = wr.cpls.front() {
            if cpl > vdl {
                break;
            }
            wr.cpls.pop_front();
            self.oracle.acked.insert(cpl, term);
            self.report.acked += 1;
        }
        self.mix(vdl.0);
    }

    /// A read at `read_point` must return exactly the page as the model has it there.
    fn check_read(
        &mut self,
        w: usize,
        seg: usize,
        page: PageId,
        read_point: Lsn,
        lsn: Lsn,
        image: Option<&[u8; PAGE_SIZE]>,
    ) {
        self.report.reads += 1;
        let (want_lsn, want) = match self.page_at(read_point, page) {
            Ok(v) => v,
            Err(e) => return self.fail(format!("writer {w} read at {read_point}: {e}")),
        };
        let same = lsn == want_lsn
            && match (image, &want) {
                (None, None) => true,
                (Some(a), Some(b)) => a[..] == b[..],
                _ => false,
            };
        if !same {
            let why = format!(
                "writer {w} read page {page} at {read_point} from node {seg}: got version {lsn}, the model has {want_lsn} (images {})",
                if image.is_some() == want.is_some() {
                    "differ"
                } else {
                    "present/absent differ"
                }
            );
            self.fail(why);
        }
    }

    // ---------------------------------------------------------------- the model

    /// The chain ending at `head`, following PG backlinks through the records writers allocated,
    /// oldest first.
    fn chain(&self, head: Lsn) -> Result<Vec<Lsn>, String> {
        let mut out = Vec::new();
        let mut at = head;
        while at != Lsn::ZERO {
            let Some((_, r)) = self.oracle.records.get(&at) else {
                return Err(format!(
                    "the chain from {head} reaches {at}, which no writer allocated"
                ));
            };
            out.push(at);
            at = r.prev_pg_lsn;
        }
        out.reverse();
        Ok(out)
    }

    /// The volume's history up to `head`, oldest first: every record a writer allocated at or
    /// below it outside every truncation range a segment adopted. With one PG it is exactly the
    /// PG chain ending at `head` (checked).
    fn history(&self, head: Lsn) -> Result<Vec<Lsn>, String> {
        let out: Vec<Lsn> = self
            .oracle
            .records
            .range(..=head)
            .map(|(l, _)| *l)
            .filter(|l| {
                !self
                    .oracle
                    .truncated
                    .iter()
                    .any(|&(above, upto)| above < *l && *l <= upto)
            })
            .collect();
        if self.pgs == 1 {
            let chain = self.chain(head)?;
            if chain != out {
                return Err(format!(
                    "the history up to {head} ({} records) is not the PG chain ending there ({} records)",
                    out.len(),
                    chain.len()
                ));
            }
        }
        Ok(out)
    }

    /// The acknowledged records of `pg` a repair must keep: the acknowledged commits (PG 0), or
    /// the PG's records in the history up to the last acknowledged commit.
    fn acked_records(&self, pg: PgId) -> Vec<Lsn> {
        if pg == PG {
            return self.oracle.acked.keys().copied().collect();
        }
        let Some(&last) = self.oracle.acked.keys().next_back() else {
            return Vec::new();
        };
        self.history(last)
            .unwrap_or_default()
            .into_iter()
            .filter(|l| self.oracle.records[l].1.pg == pg)
            .collect()
    }

    /// The page as of `read_point`, from the history up to there.
    fn page_at(&self, read_point: Lsn, page: PageId) -> Result<PageVersionModel, String> {
        let mut image: Option<Box<[u8; PAGE_SIZE]>> = None;
        let mut version = Lsn::ZERO;
        for l in self.history(read_point)? {
            let (_, r) = &self.oracle.records[&l];
            if r.page == page {
                let img = image.get_or_insert_with(|| Box::new([0u8; PAGE_SIZE]));
                redo::apply(img, &r.payload);
                version = l;
            }
        }
        Ok((version, image))
    }

    // ---------------------------------------------------------------- faults

    /// The memberships acknowledgements are counted over now, by PG: those of the running writer
    /// with the highest term, or else the highest each PG's segments adopted.
    fn live_memberships(&self) -> Vec<Membership> {
        let writer = self
            .writers
            .iter()
            .filter_map(Writer::running)
            .max_by_key(|c| c.term())
            .map(|c| {
                (0..c.pg_count())
                    .map(|k| {
                        c.membership_of(PgId(u32::try_from(k).expect("PG id")))
                            .clone()
                    })
                    .collect::<Vec<_>>()
            });
        writer.unwrap_or_else(|| {
            (0..self.pgs)
                .map(|k| {
                    let pg = PgId(u32::try_from(k).expect("PG id"));
                    (0..NODES)
                        .map(|i| self.nodes[seg_of(i, pg)].core.membership())
                        .max_by_key(|m| m.epoch)
                        .filter(|m| m.epoch.0 > 0)
                        .cloned()
                        .unwrap_or_else(|| Membership::initial(configured()))
                })
                .take(1.max(self.pgs_opened()))
                .collect()
        })
    }

    /// PG 0's live membership.
    fn live_membership(&self) -> Membership {
        self.live_memberships().swap_remove(0)
    }

    /// How many PGs some segment has adopted a membership of (1 at least).
    fn pgs_opened(&self) -> usize {
        (0..self.pgs)
            .filter(|&k| {
                let pg = PgId(u32::try_from(k).expect("PG id"));
                (0..NODES).any(|i| self.nodes[seg_of(i, pg)].core.membership().epoch.0 > 0)
            })
            .count()
            .max(1)
    }

    /// Whether every PG of a writer is repaired.
    fn all_repaired(&self, c: &WriterCore) -> bool {
        (0..c.pg_count())
            .all(|k| self.repaired(c.membership_of(PgId(u32::try_from(k).expect("PG id")))))
    }

    /// Whether `m` is repaired: no replacement in progress, and no member lost for good.
    fn repaired(&self, m: &Membership) -> bool {
        m.joining.is_none()
            && !m
                .members
                .iter()
                .any(|a| peer_index(a).is_some_and(|i| self.nodes[i].lost_forever))
    }

    /// Whether an AZ has a member lost for good that is not replaced yet. Its other nodes are
    /// spared other faults meanwhile: with one spare per AZ, a second member of the AZ unreachable
    /// for `SEGMENT_LOST_MS` could take the spare, and the lost one could never be replaced.
    fn az_awaits_repair(&self, az: usize) -> bool {
        self.live_memberships().iter().any(|m| {
            (0..NODES).any(|n| {
                az_of(n) == az
                    && self.nodes[n].lost_forever
                    && (m.names(&peer_name(n)) || m.joining.is_some())
            })
        })
    }

    /// Whether node `i` holds no usable copy of what it once held: lost for good, or an emptied
    /// disk not yet refilled from its peers (in any of its segments).
    fn lost_data(&self, i: usize) -> bool {
        self.nodes[i].lost_forever
            || self
                .segs(i)
                .into_iter()
                .any(|s| self.nodes[s].rehydrate_to.is_some())
    }

    /// Members (slots 0–5) unavailable now, in the PG that has the most: down, partitioned,
    /// lost for good, or an emptied disk not yet refilled. The joining node is not counted:
    /// nothing is durable by it alone, and the old set keeps counting without it.
    fn unavailable(&self) -> usize {
        self.live_memberships()
            .iter()
            .map(|m| {
                m.members
                    .iter()
                    .filter_map(|a| peer_index(a))
                    .filter(|&i| {
                        let n = &self.nodes[i];
                        !n.up || n.isolated || self.lost_data(i)
                    })
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    /// A repair never lowers durability: in every quorum set of `m`, every acknowledged commit is
    /// held by four members whose data is live — less one for each member whose data a fault
    /// took (lost for good, an emptied disk refilling) and, in the new set of a replacement, for
    /// the joining node while it hydrates. A replacement that completed before its joiner held
    /// everything acknowledged, or that dropped a member still needed, fails here.
    fn check_copies(&mut self, pg: PgId, m: &Membership, when: &str) {
        let acked: Vec<Lsn> = self.acked_records(pg);
        if acked.is_empty() {
            return;
        }
        self.report.copy_checks += 1;
        let joiner = m.joining.as_ref().and_then(|(_, j)| peer_index(j));
        let held = |s: &Sim, i: usize| -> BTreeSet<Lsn> {
            let seg = s.nodes[seg_of(i, pg)].core.segment();
            let floor = seg.floor(pg);
            let mut set: BTreeSet<Lsn> = seg
                .fetch(pg, floor, Lsn(u64::MAX), usize::MAX)
                .into_iter()
                .map(|(l, _)| l)
                .collect();
            set.extend(acked.iter().copied().filter(|l| *l <= floor));
            set
        };
        for set in m.sets() {
            let nodes: Vec<usize> = set.iter().filter_map(|a| peer_index(a)).collect();
            assert_eq!(nodes.len(), set.len(), "every member is a simulated node");
            let holdings: Vec<(usize, BTreeSet<Lsn>)> =
                nodes.iter().map(|&i| (i, held(self, i))).collect();
            for &l in &acked {
                let copies = holdings
                    .iter()
                    .filter(|(i, h)| !self.lost_data(*i) && h.contains(&l))
                    .count();
                let slack = holdings
                    .iter()
                    .filter(|(i, h)| self.lost_data(*i) || (Some(*i) == joiner && !h.contains(&l)))
                    .count();
                if copies + slack < WRITE_QUORUM {
                    let why = format!(
                        "{when}: acknowledged record {l} of PG {pg} is held by {copies} live members of {set:?} ({slack} lost or hydrating)"
                    );
                    return self.fail(why);
                }
            }
        }
    }

    fn fault(&mut self) {
        if !self.faults_on {
            return;
        }
        self.report.faults += 1;
        let budget = 2usize.saturating_sub(self.unavailable());
        let roll = self.rng.below(100);
        let i = self.rng.index(NODES);
        let members = self.live_membership();
        if self.az_awaits_repair(az_of(i)) && roll < 50 {
            // Node faults in an AZ awaiting its repair are skipped (see `az_awaits_repair`).
            let d = self.rng.range(100, 1_500);
            self.at(d, Event::Fault);
            return;
        }
        let az_healthy = (0..NODES).filter(|&n| az_of(n) == az_of(i)).all(|n| {
            let node = &self.nodes[n];
            node.up && !node.isolated && node.rehydrate_to.is_none()
        });
        // A member lost for good needs an unused spare in its AZ that is alive (so one loss for
        // good per AZ at most).
        // Every PG must be able to replace it: no replacement under way in any PG, and a spare
        // of its AZ that no segment has ever used.
        let all = self.live_memberships();
        let spare_ready = members.members.contains(&peer_name(i))
            && !(0..NODES).any(|n| az_of(n) == az_of(i) && self.nodes[n].lost_forever)
            && all.iter().all(|m| m.joining.is_none())
            && (MEMBERS_INITIAL..NODES).any(|s| {
                az_of(s) == az_of(i)
                    && all.iter().all(|m| !m.names(&peer_name(s)))
                    && !self.nodes[s].lost_forever
                    && self
                        .segs(s)
                        .into_iter()
                        .all(|seg| self.nodes[seg].meta.is_none())
            });
        let lost_pending = self.nodes.iter().any(|n| n.rehydrate_to.is_some());
        match roll {
            0..=19 if budget >= 1 && self.nodes[i].up => self.crash_node(i, false),
            20..=34 if budget >= 1 && self.nodes[i].up && !self.nodes[i].isolated => {
                for seg in self.segs(i) {
                    self.nodes[seg].isolated = true;
                }
                let d = self.rng.range(200, 6_000);
                self.at(d, Event::Unisolate { node: i });
            }
            35..=44 if budget >= 2 => {
                // A whole AZ: all of its nodes, its spare too.
                let az = az_of(i);
                for node in (0..NODES).filter(|&n| az_of(n) == az) {
                    if self.nodes[node].up && !self.nodes[node].isolated {
                        for seg in self.segs(node) {
                            self.nodes[seg].isolated = true;
                        }
                        let d = self.rng.range(500, 6_000);
                        self.at(d, Event::Unisolate { node });
                    }
                }
                self.report.az_partitions += 1;
            }
            45..=49 if budget >= 1 && !lost_pending && self.nodes[i].up => {
                self.crash_node(i, true);
            }
            50..=56 => {
                // The writer process dies; a new one starts and recovers with a new epoch.
                for w in 0..self.writers.len() {
                    if self.writers[w].running().is_some()
                        || matches!(self.writers[w].state, WriterState::Recovering(_))
                    {
                        self.writers[w].state = WriterState::Crashed;
                        self.report.writer_crashes += 1;
                    }
                }
                let d = self.rng.range(50, 1_000);
                self.at(d, Event::StartWriter);
            }
            57..=62 => {
                // A second writer fences the first, which keeps trying to write.
                self.start_writer();
            }
            63..=65 => {
                // Two writers start at the same moment and pick the same epoch number.
                self.start_writer();
                self.start_writer();
                self.report.dueling_starts += 1;
            }
            66..=71
                if budget >= 1
                    && spare_ready
                    && az_healthy
                    && self.nodes[i].up
                    && (self.report.permanent_losses as usize) < PERMANENT_LOSSES_MAX =>
            {
                self.lose_node_forever(i);
            }
            _ => {}
        }
        let d = self.rng.range(100, 1_500);
        self.at(d, Event::Fault);
    }

    /// Liveness: with at most two segments unavailable, durability keeps progressing.
    fn check_progress(&mut self) {
        for (k, m) in self.live_memberships().into_iter().enumerate() {
            let pg = PgId(u32::try_from(k).expect("PG id"));
            self.check_copies(pg, &m, "a periodic check");
        }
        if self.unavailable() > 2 {
            self.calm_since = self.now;
        }
        let calm_since = self.calm_since;
        for w in 0..self.writers.len() {
            let wr = &self.writers[w];
            if wr.running().is_none() {
                continue;
            }
            if let Some(&(cpl, at)) = wr.cpls.front()
                && self.now - at.max(calm_since) > PROGRESS_WINDOW_MS
            {
                let why = format!(
                    "writer {w}: commit {cpl} not durable after {PROGRESS_WINDOW_MS} ms with at most two segments unavailable (VDL {})",
                    wr.last_vdl
                );
                return self.fail(why);
            }
        }
        self.at(500, Event::Check);
    }

    // ---------------------------------------------------------------- the run

    pub(crate) fn run(&mut self) -> Result<(), String> {
        self.start_writer();
        for i in 0..self.nodes.len() {
            self.at(
                1 + i as u64,
                Event::NodeTick {
                    node: i,
                    incarnation: 0,
                },
            );
        }
        self.at(300, Event::Fault);
        self.at(500, Event::Check);
        let end = self.opts.duration_ms;
        self.run_until(end, |s| s.mtrs_issued >= s.mtrs_target && s.now > end / 2);
        self.heal();
        // Let the live writer finish: every MTR it issued becomes durable, and every member lost
        // for good has been replaced (repairs complete once the cluster heals).
        let deadline = self.now + SETTLE_MS_MAX;
        let settled = self.run_until(deadline, |s| {
            s.writers.iter().any(|w| {
                w.running().is_some_and(|c| s.all_repaired(c))
                    && w.cpls.is_empty()
                    && w.growing.is_none()
            })
        });
        if !settled {
            self.fail(
                "the live writer did not finish (every commit durable, every lost member replaced) once everything was healed"
                    .into(),
            );
        }
        // A final recovery by a brand-new writer, which issues nothing more.
        self.mtrs_target = self.mtrs_issued;
        for w in &mut self.writers {
            w.state = WriterState::Crashed;
        }
        self.start_writer();
        let deadline = self.now + SETTLE_MS_MAX;
        // It may recover a replacement in progress (or one completed only in its predecessor's
        // core): it completes it before anything is checked.
        let recovered = self.run_until(deadline, |s| {
            s.writers
                .iter()
                .any(|w| w.running().is_some_and(|c| s.all_repaired(c)))
        });
        if !recovered {
            self.fail("the final recovery did not complete".into());
        }
        if let Some(f) = self.failure.take() {
            return Err(f);
        }
        let fin = self
            .writers
            .iter()
            .position(|w| w.running().is_some())
            .expect("a writer recovered");
        let vdl = self.writers[fin].recovered_vdl;
        self.report.final_vdl = vdl.0;
        // The segments of every PG's final membership, with the PG's tail at VDL.
        let (members, tails): (Vec<usize>, Vec<Lsn>) = match &self.writers[fin].state {
            WriterState::Running(c) => {
                self.report.final_pgs = c.pg_count() as u64;
                let mut segs = Vec::new();
                let mut tails = Vec::new();
                for k in 0..c.pg_count() {
                    let pg = PgId(u32::try_from(k).expect("PG id"));
                    segs.extend(
                        slot_nodes(c.membership_of(pg))
                            .into_iter()
                            .flatten()
                            .map(|n| seg_of(n, pg)),
                    );
                    tails.push(c.durable_tail(pg));
                }
                (segs, tails)
            }
            _ => unreachable!("the final writer runs"),
        };
        if let Some(&lost) = members.iter().find(|&&i| self.nodes[i].lost_forever) {
            return Err(format!(
                "the final membership still counts node {}, lost for good\n{}",
                phys(lost),
                self.summary()
            ));
        }
        // Every member converges on the recovered history through gossip (a dropped member, or
        // a spare never used, is not read again): each segment reaches its PG's tail at VDL.
        let deadline = self.now + SETTLE_MS_MAX;
        let converged = self.run_until(deadline, |s| {
            members.iter().all(|&i| {
                let pg = seg_pg(i);
                s.nodes[i].core.segment().scl(pg) >= tails[pg.0 as usize]
            })
        });
        if !converged {
            let scls: Vec<(usize, Lsn)> = members
                .iter()
                .map(|&i| (i, self.nodes[i].core.segment().scl(seg_pg(i))))
                .collect();
            self.fail(format!(
                "segments did not converge on VDL {vdl} (tails {tails:?}): SCLs {scls:?}"
            ));
        }
        if let Some(f) = self.failure.take() {
            return Err(f);
        }
        for (k, m) in self.live_memberships().into_iter().enumerate() {
            let pg = PgId(u32::try_from(k).expect("PG id"));
            self.check_copies(pg, &m, "after healing");
        }
        if let Some(f) = self.failure.take() {
            return Err(f);
        }
        let checked = self.final_checks(vdl, &members);
        checked.map_err(|e| format!("{e}\n{}", self.summary()))
    }

    fn heal(&mut self) {
        self.faults_on = false;
        self.loss_per_mille = 0;
        self.dup_per_mille = 0;
        for i in 0..NODES {
            for seg in self.segs(i) {
                self.nodes[seg].isolated = false;
            }
            if !self.nodes[i].up {
                self.restart_node(i);
            }
        }
        self.calm_since = self.now;
        if !self
            .writers
            .iter()
            .any(|w| matches!(w.state, WriterState::Recovering(_)) || w.running().is_some())
        {
            self.start_writer();
        }
    }

    fn final_checks(&mut self, vdl: Lsn, members: &[usize]) -> Result<(), String> {
        let chain = self.history(vdl)?;
        let on_chain: BTreeSet<Lsn> = chain.iter().copied().collect();
        if let Some(lost) = self.oracle.acked.keys().find(|l| !on_chain.contains(l)) {
            return Err(format!(
                "acknowledged commit {lost} lost: not in the final history (VDL {vdl})"
            ));
        }
        for &i in members {
            let pg = seg_pg(i);
            let n = &self.nodes[i];
            // The segment's chain up to VDL is exactly the model's history of its PG, record
            // for record, above what it collected.
            let floor = n.core.segment().floor(pg);
            self.report.horizon_max = self.report.horizon_max.max(n.core.segment().horizon(pg).0);
            let held = n.core.segment().fetch(pg, floor, vdl, usize::MAX);
            let lsns: Vec<Lsn> = held.iter().map(|(l, _)| *l).collect();
            let chain: Vec<Lsn> = chain
                .iter()
                .copied()
                .filter(|l| *l > floor && self.oracle.records[l].1.pg == pg)
                .collect();
            if lsns != chain {
                return Err(format!(
                    "node {} holds {} records of PG {pg} up to VDL {vdl}, the history has {}",
                    phys(i),
                    lsns.len(),
                    chain.len()
                ));
            }
            for (lsn, loc) in held {
                let rec = n
                    .read(loc)
                    .map_err(|e| format!("node {}: record {lsn}: {e}", phys(i)))?;
                if self.oracle.records.get(&lsn).map(|(_, r)| r) != Some(&rec) {
                    return Err(format!(
                        "node {}: record {lsn} differs from what was written",
                        phys(i)
                    ));
                }
            }
            // Every page of the PG, materialised at every read point from the collection horizon
            // up to VDL, equals the model: bases and collection change nothing a reader in range
            // can see.
            let horizon = n.core.segment().horizon(pg);
            let points: Vec<Lsn> = chain
                .iter()
                .copied()
                .filter(|l| *l >= horizon)
                .chain([vdl])
                .collect();
            let pages_per_pg = self
                .writers
                .iter()
                .find_map(|w| w.running().map(WriterCore::pages_per_pg))
                .unwrap_or(self.pages_per_pg);
            for p in (0..PAGES).filter(|p| p / pages_per_pg == u64::from(pg.0)) {
                for &rp in &points {
                    let page = PageId(p);
                    let (want_lsn, want) = self.page_at(rp, page)?;
                    let got = self.nodes[i]
                        .page(page, rp)
                        .map_err(|e| format!("node {}: {e}", phys(i)))?;
                    let same = got.0 == want_lsn
                        && match (&got.1, &want) {
                            (None, None) => true,
                            (Some(a), Some(b)) => a[..] == b[..],
                            _ => false,
                        };
                    if !same {
                        let seg = self.nodes[i].core.segment();
                        return Err(format!(
                            "node {}: page {page} of PG {pg} at read point {rp} (VDL {vdl}) is version {} but the model has {want_lsn} (floor {}, horizon {}, plan {:?})",
                            phys(i),
                            got.0,
                            seg.floor(pg),
                            seg.horizon(pg),
                            seg.page_plan(page, rp, Lsn::ZERO, None)
                        ));
                    }
                }
            }
        }
        self.report.trace = self.trace;
        Ok(())
    }
}
