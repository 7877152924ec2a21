//! End-to-end tests of a storage node through its real TCP protocol, on loopback ephemeral ports
//! and files in unique temporary directories.

use borealis_common::frame::{encode_frame, read_frame, write_frames};
use borealis_common::proto::{ErrorCode, PgState, Request, Response, SegmentState, Truncation};
use borealis_common::redo::{self, Patch};
use borealis_common::{
    Epoch, Lsn, NodeId, PAGE_SIZE, PageId, Payload, PgId, RedoRecord, TxnId, WriterId,
};
use borealis_storage::{NodeConfig, serve};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The one writer identity these tests speak as.
const WRITER: WriterId = WriterId(1);

fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "borealis-storage-{name}-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

struct Server {
    addr: String,
    task: JoinHandle<()>,
}

async fn start(node: u32, dir: &Path) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let config = NodeConfig::new(NodeId(node), dir.to_path_buf());
    let task = tokio::spawn(async move {
        if let Err(e) = serve(listener, config).await {
            panic!("storage node stopped: {e}");
        }
    });
    Server { addr, task }
}

impl Server {
    /// Stops the node as abruptly as the test harness can: every task is dropped mid-flight.
    async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
        // Let the runtime drop the aborted connection and background tasks.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Client {
    stream: TcpStream,
    next_id: u64,
}

impl Client {
    async fn connect(addr: &str) -> Client {
        Client {
            stream: TcpStream::connect(addr).await.expect("connect"),
            next_id: 1,
        }
    }

    async fn send(&mut self, req: &Request) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let (kind, body) = req.encode(id);
        let mut frame = Vec::new();
        encode_frame(kind, &body, &mut frame);
        write_frames(&mut self.stream, &frame).await.expect("send");
        id
    }

    async fn recv(&mut self) -> (u64, Response) {
        let (kind, body) =
            tokio::time::timeout(Duration::from_secs(10), read_frame(&mut self.stream))
                .await
                .expect("answer in time")
                .expect("frame")
                .expect("not closed");
        Response::decode(kind, &body).expect("decodes")
    }

    async fn call(&mut self, req: Request) -> Response {
        let id = self.send(&req).await;
        let (got, resp) = self.recv().await;
        assert_eq!(got, id, "responses echo the request id");
        resp
    }

    async fn open(
        &mut self,
        epoch: u64,
        peers: Vec<String>,
        truncations: Vec<Truncation>,
    ) -> SegmentState {
        match self
            .call(Request::Open {
                epoch: Epoch(epoch),
                writer: WRITER,
                pg: PgId(0),
                peers,
                truncations,
                membership: Default::default(),
                me: String::new(),
                map: None,
            })
            .await
        {
            Response::State(s) => s,
            other => panic!("Open answered {other:?}"),
        }
    }

    async fn state(&mut self, epoch: u64) -> SegmentState {
        match self
            .call(Request::GetState {
                epoch: Epoch(epoch),
                pg: PgId(0),
            })
            .await
        {
            Response::State(s) => s,
            other => panic!("GetState answered {other:?}"),
        }
    }

    async fn write(&mut self, epoch: u64, records: &[RedoRecord]) -> Response {
        self.call(Request::Write {
            epoch: Epoch(epoch),
            writer: WRITER,
            pg: PgId(0),
            membership: Default::default(),
            horizon: Default::default(),
            records: records.to_vec(),
        })
        .await
    }

    async fn page(&mut self, epoch: u64, page: u64, read_point: u64) -> Response {
        self.call(Request::GetPage {
            epoch: Epoch(epoch),
            writer: WRITER,
            pg: PgId(0),
            membership: Default::default(),
            page: PageId(page),
            read_point: Lsn(read_point),
            pg_point: Lsn(read_point),
        })
        .await
    }
}

const PAGES: u64 = 4;

/// A deterministic PG chain `1..=n` over a few pages: each page starts with an `Init`, then gets
/// patches; every fifth record is a commit; every third is a CPL.
fn workload(n: u64) -> Vec<RedoRecord> {
    let mut last_of_page = [0u64; PAGES as usize];
    (1..=n)
        .map(|lsn| {
            let (page, payload, prev_page) = if lsn % 5 == 0 {
                (
                    PageId::NONE,
                    Payload::Commit {
                        txn: TxnId(lsn),
                        time_us: lsn * 1000,
                    },
                    0,
                )
            } else {
                let p = lsn % PAGES;
                let prev = last_of_page[p as usize];
                last_of_page[p as usize] = lsn;
                let payload = if prev == 0 || lsn % 17 == 0 {
                    // A recognisable image: the LSN repeated.
                    Payload::Init(
                        (0..100u64)
                            .flat_map(|i| (lsn * 1000 + i).to_le_bytes())
                            .collect(),
                    )
                } else {
                    Payload::Patch(vec![
                        Patch {
                            offset: ((lsn * 37) % (PAGE_SIZE as u64 - 8)) as u16,
                            bytes: lsn.to_le_bytes().to_vec(),
                        },
                        Patch {
                            offset: 8000,
                            bytes: vec![lsn as u8; 50],
                        },
                    ])
                };
                (PageId(p), payload, prev)
            };
            RedoRecord {
                lsn: Lsn(lsn),
                pg: PgId(0),
                prev_pg_lsn: Lsn(lsn - 1),
                page,
                prev_page_lsn: Lsn(prev_page),
                known_vdl: Lsn::ZERO,
                cpl: lsn % 3 == 0,
                payload,
            }
        })
        .collect()
}

/// The page at a read point, by applying the records by hand.
fn expected(
    records: &[RedoRecord],
    page: u64,
    read_point: u64,
) -> (Lsn, Option<Box<[u8; PAGE_SIZE]>>) {
    let mut img = Box::new([0u8; PAGE_SIZE]);
    let mut lsn = Lsn::ZERO;
    for r in records
        .iter()
        .filter(|r| r.page == PageId(page) && r.lsn.0 <= read_point)
    {
        redo::apply(&mut img, &r.payload);
        lsn = r.lsn;
    }
    (lsn, (lsn != Lsn::ZERO).then_some(img))
}

fn assert_page(resp: Response, records: &[RedoRecord], page: u64, read_point: u64) {
    let (lsn, image) = expected(records, page, read_point);
    match resp {
        Response::Page {
            lsn: got,
            image: got_image,
        } => {
            assert_eq!(got, lsn, "page {page} at {read_point}: version");
            assert!(
                got_image == image,
                "page {page} at {read_point}: image differs"
            );
        }
        other => panic!("page {page} at {read_point}: {other:?}"),
    }
}

fn error_code(resp: &Response) -> Option<ErrorCode> {
    match resp {
        Response::Error { code, .. } => Some(*code),
        _ => None,
    }
}

fn pg0(s: &SegmentState) -> &PgState {
    s.pgs
        .iter()
        .find(|p| p.pg == PgId(0))
        .expect("PG 0 reported")
}

fn log_file(dir: &Path) -> PathBuf {
    dir.join("log-00000001")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_ack_scl_and_pages_materialise_at_every_read_point() {
    let dir = temp_dir("pages");
    let server = start(1, &dir).await;
    let mut c = Client::connect(&server.addr).await;
    let s = c.open(1, vec![], vec![]).await;
    assert_eq!(
        (s.node, s.epoch, pg0(&s).scl),
        (NodeId(1), Epoch(1), Lsn(0))
    );
    let recs = workload(60);
    // Out of order: 31..=60 first (a gap below), then duplicates, then the gap.
    match c.write(1, &recs[30..]).await {
        Response::WriteAck { scls } => assert_eq!(scls, vec![(PgId(0), Lsn(0))]),
        other => panic!("{other:?}"),
    }
    let s = c.state(1).await;
    assert_eq!(pg0(&s).above.len(), 30, "records above the gap are held");
    assert_eq!(pg0(&s).above[0].lsn, Lsn(31));
    assert_eq!(
        error_code(&c.page(1, 1, 10).await),
        Some(ErrorCode::NotReady)
    );
    match c.write(1, &recs[..30]).await {
        Response::WriteAck { scls } => assert_eq!(scls, vec![(PgId(0), Lsn(60))]),
        other => panic!("{other:?}"),
    }
    match c.write(1, &recs[10..20]).await {
        Response::WriteAck { scls } => {
            assert_eq!(scls, vec![(PgId(0), Lsn(60))], "duplicates are idempotent")
        }
        other => panic!("{other:?}"),
    }
    let s = c.state(1).await;
    assert_eq!((pg0(&s).scl, pg0(&s).scl_cpl), (Lsn(60), Lsn(60)));
    assert!(pg0(&s).above.is_empty());
    assert_eq!(
        error_code(&c.page(1, 1, 61).await),
        Some(ErrorCode::NotReady)
    );
    // Every page at every read point, newest first (so the cache is warm for the older reads),
    // then oldest first.
    for page in 0..PAGES {
        for rp in (0..=60).rev().chain(0..=60) {
            assert_page(c.page(1, page, rp).await, &recs, page, rp);
        }
    }
    assert_page(c.page(1, 99, 60).await, &recs, 99, 60);
    // Several requests in flight on one connection; answers matched by request id.
    let mut ids = Vec::new();
    for rp in [60u64, 7, 33, 12] {
        ids.push((
            c.send(&Request::GetPage {
                epoch: Epoch(1),
                writer: WRITER,
                pg: PgId(0),
                membership: Default::default(),
                page: PageId(2),
                read_point: Lsn(rp),
                pg_point: Lsn(rp),
            })
            .await,
            rp,
        ));
    }
    for _ in 0..ids.len() {
        let (id, resp) = c.recv().await;
        let rp = ids
            .iter()
            .find(|(i, _)| *i == id)
            .expect("known request id")
            .1;
        assert_page(resp, &recs, 2, rp);
    }
    // Peer gossip reads, in LSN order, bounded.
    match c
        .call(Request::FetchRecords {
            pg: PgId(0),
            after: Lsn(10),
            upto: Lsn(40),
            max_records: 5,
        })
        .await
    {
        Response::Records { epoch, records, .. } => {
            assert_eq!(epoch, Epoch(1));
            assert_eq!(records, recs[10..15].to_vec());
        }
        other => panic!("{other:?}"),
    }
    server.kill().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_recovers_identical_state_and_survives_a_torn_tail() {
    let dir = temp_dir("restart");
    let recs = workload(80);
    let server = start(2, &dir).await;
    let mut c = Client::connect(&server.addr).await;
    let peers = vec!["127.0.0.1:9".to_string()];
    c.open(3, peers.clone(), vec![]).await;
    // A gap at 71 so that state includes records above the SCL.
    for chunk in recs[..70].chunks(7) {
        assert!(matches!(c.write(3, chunk).await, Response::WriteAck { .. }));
    }
    assert!(matches!(
        c.write(3, &recs[71..]).await,
        Response::WriteAck { .. }
    ));
    let before = c.state(3).await;
    assert_eq!(pg0(&before).scl, Lsn(70));
    assert_eq!(pg0(&before).above.len(), 9);
    drop(c);
    server.kill().await;

    let server = start(2, &dir).await;
    let mut c = Client::connect(&server.addr).await;
    let after = c.state(3).await;
    assert_eq!(after, before, "state survives a restart");
    for page in 0..PAGES {
        for rp in [1, 33, 50, 70] {
            assert_page(c.page(3, page, rp).await, &recs, page, rp);
        }
    }
    drop(c);
    server.kill().await;

    // A torn tail: half an entry and some garbage after the last good entry.
    let path = log_file(&dir);
    let good_len = std::fs::metadata(&path).expect("log").len();
    let mut bytes = std::fs::read(&path).expect("log");
    let tail: Vec<u8> = bytes[bytes.len() - 60..bytes.len() - 20].to_vec();
    bytes.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3, 4, 1]);
    bytes.extend_from_slice(&tail);
    std::fs::write(&path, &bytes).expect("log");
    let server = start(2, &dir).await;
    let mut c = Client::connect(&server.addr).await;
    assert_eq!(
        c.state(3).await,
        before,
        "earlier records intact after a torn tail"
    );
    assert_eq!(
        std::fs::metadata(&path).expect("log").len(),
        good_len,
        "tail cut back"
    );
    // The node works: the gap fills and the SCL moves to the end.
    match c.write(3, &recs[70..71]).await {
        Response::WriteAck { scls } => assert_eq!(scls, vec![(PgId(0), Lsn(80))]),
        other => panic!("{other:?}"),
    }
    assert_page(c.page(3, 1, 80).await, &recs, 1, 80);
    drop(c);
    server.kill().await;
    let server = start(2, &dir).await;
    let mut c = Client::connect(&server.addr).await;
    assert_eq!(
        pg0(&c.state(3).await).scl,
        Lsn(80),
        "records written after the cut survive too"
    );
    drop(c);
    server.kill().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// Finds the single place a record's recognisable `Init` image lies in the log.
fn find_image(bytes: &[u8], lsn: u64) -> usize {
    let needle: Vec<u8> = (0..4u64)
        .flat_map(|i| (lsn * 1000 + i).to_le_bytes())
        .collect();
    let hits: Vec<usize> = bytes
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle.as_slice())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(hits.len(), 1, "image of record {lsn} is in the log once");
    hits[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_bytes_on_disk_are_never_served() {
    let dir = temp_dir("corrupt");
    let recs = workload(40);
    let server = start(3, &dir).await;
    let mut c = Client::connect(&server.addr).await;
    c.open(1, vec![], vec![]).await;
    assert!(matches!(c.write(1, &recs).await, Response::WriteAck { .. }));
    // Record 34 is an Init of page 2 (34 % 17 == 0), never read so far: flip one of its payload
    // bytes while the node runs. The read must check the CRC and refuse.
    let path = log_file(&dir);
    let mut bytes = std::fs::read(&path).expect("log");
    let at = find_image(&bytes, 34) + 3;
    bytes[at] ^= 0x5A;
    std::fs::write(&path, &bytes).expect("log");
    assert_eq!(
        error_code(&c.page(1, 2, 40).await),
        Some(ErrorCode::Corrupted)
    );
    assert_eq!(
        error_code(&c.page(1, 2, 34).await),
        Some(ErrorCode::Corrupted)
    );
    // Older versions do not need record 34 and are still served exactly.
    assert_page(c.page(1, 2, 33).await, &recs, 2, 33);
    // Gossip answers stop before the bad entry.
    match c
        .call(Request::FetchRecords {
            pg: PgId(0),
            after: Lsn(30),
            upto: Lsn(40),
            max_records: 100,
        })
        .await
    {
        Response::Records { records, .. } => assert_eq!(records, recs[30..33].to_vec()),
        other => panic!("{other:?}"),
    }
    drop(c);
    server.kill().await;

    // Also flip a byte of record 17 (an Init of page 1) while the node is stopped: recovery skips
    // both bad entries, and the SCL falls back below the first.
    let mut bytes = std::fs::read(&path).expect("log");
    let at = find_image(&bytes, 17) + 1;
    bytes[at] ^= 0x01;
    std::fs::write(&path, &bytes).expect("log");
    let server = start(3, &dir).await;
    let mut c = Client::connect(&server.addr).await;
    let s = c.state(1).await;
    assert_eq!(
        pg0(&s).scl,
        Lsn(16),
        "the chain stops below the corrupted record 17"
    );
    assert_eq!(
        pg0(&s).above.len(),
        40 - 17 - 1,
        "the records after it are held, 34 is not"
    );
    for page in 0..PAGES {
        match c.page(1, page, 40).await {
            Response::Error { code, .. } => assert_eq!(code, ErrorCode::NotReady),
            other => panic!("page {page}: {other:?}"),
        }
        assert_page(c.page(1, page, 16).await, &recs, page, 16);
    }
    // A healthy copy (from the writer or a peer) repairs the segment.
    assert!(matches!(
        c.write(1, &recs[16..17]).await,
        Response::WriteAck { .. }
    ));
    assert_eq!(pg0(&c.state(1).await).scl, Lsn(33));
    assert!(matches!(
        c.write(1, &recs[33..34]).await,
        Response::WriteAck { .. }
    ));
    assert_eq!(pg0(&c.state(1).await).scl, Lsn(40));
    for page in 0..PAGES {
        assert_page(c.page(1, page, 40).await, &recs, page, 40);
    }
    drop(c);
    server.kill().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epochs_fence_old_writers_and_truncations_drop_records() {
    let dir = temp_dir("epoch");
    let recs = workload(30);
    let server = start(4, &dir).await;
    let mut c = Client::connect(&server.addr).await;
    assert_eq!(
        error_code(&c.write(1, &recs).await),
        Some(ErrorCode::BadRequest),
        "Open first"
    );
    c.open(1, vec![], vec![]).await;
    assert!(matches!(
        c.write(1, &recs[..25]).await,
        Response::WriteAck { .. }
    ));
    assert!(matches!(
        c.write(1, &recs[26..]).await,
        Response::WriteAck { .. }
    ));
    // A new writer recovers at VDL 18 and truncates everything above it that the old one wrote.
    let t = Truncation {
        epoch: Epoch(2),
        pg: PgId(0),
        above: Lsn(18),
        upto: Lsn(1000),
    };
    let s = c.open(2, vec![], vec![t]).await;
    assert_eq!(s.epoch, Epoch(2));
    assert_eq!(s.truncations, vec![t]);
    assert_eq!((pg0(&s).scl, pg0(&s).scl_cpl), (Lsn(18), Lsn(18)));
    assert!(
        pg0(&s).above.is_empty(),
        "records above the truncation point are gone"
    );
    assert_eq!(
        error_code(&c.write(1, &recs[25..26]).await),
        Some(ErrorCode::StaleEpoch)
    );
    assert_eq!(
        error_code(&c.page(1, 1, 18).await),
        Some(ErrorCode::StaleEpoch)
    );
    // GetState is read-only and answered whatever its epoch: recovery learns the epoch from it.
    match c
        .call(Request::GetState {
            epoch: Epoch(1),
            pg: PgId(0),
        })
        .await
    {
        Response::State(s) => assert_eq!(s.epoch, Epoch(2)),
        other => panic!("GetState answered {other:?}"),
    }
    assert_eq!(
        error_code(
            &c.call(Request::Open {
                epoch: Epoch(1),
                writer: WRITER,
                pg: PgId(0),
                peers: vec![],
                truncations: vec![],
                membership: Default::default(),
                me: String::new(),
                map: None,
            })
            .await
        ),
        Some(ErrorCode::StaleEpoch)
    );
    assert_eq!(
        error_code(&c.write(3, &recs[..1]).await),
        Some(ErrorCode::BadRequest)
    );
    // Truncated records are refused even from the current epoch; the new writer goes on above.
    match c.write(2, &recs[18..20]).await {
        Response::WriteAck { scls } => assert_eq!(scls, vec![(PgId(0), Lsn(18))]),
        other => panic!("{other:?}"),
    }
    let new = RedoRecord {
        lsn: Lsn(1001),
        pg: PgId(0),
        prev_pg_lsn: Lsn(18),
        page: PageId(1),
        prev_page_lsn: Lsn(17),
        known_vdl: Lsn::ZERO,
        cpl: true,
        payload: Payload::Patch(vec![Patch {
            offset: 4,
            bytes: vec![0xEE; 4],
        }]),
    };
    match c.write(2, std::slice::from_ref(&new)).await {
        Response::WriteAck { scls } => assert_eq!(scls, vec![(PgId(0), Lsn(1001))]),
        other => panic!("{other:?}"),
    }
    let mut kept: Vec<RedoRecord> = recs[..18].to_vec();
    kept.push(new);
    assert_page(c.page(2, 1, 1001).await, &kept, 1, 1001);
    assert_page(c.page(2, 2, 1001).await, &kept, 2, 1001);
    let before = c.state(2).await;
    drop(c);
    server.kill().await;
    // The epoch and the truncation are durable; the truncation is re-applied on restart.
    let server = start(4, &dir).await;
    let mut c = Client::connect(&server.addr).await;
    assert_eq!(c.state(2).await, before);
    assert_eq!(
        error_code(&c.write(1, &recs[..1]).await),
        Some(ErrorCode::StaleEpoch)
    );
    assert_page(c.page(2, 1, 1001).await, &kept, 1, 1001);
    drop(c);
    server.kill().await;
    // The directory belongs to node 4.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = NodeConfig::new(NodeId(5), dir.clone());
    assert!(
        serve(listener, config).await.is_err(),
        "another node id is refused"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Reads until the server closes the connection; returns what was received.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return got,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the connection was not closed"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_closes_only_its_own_connection() {
    let dir = temp_dir("garbage");
    let server = start(5, &dir).await;
    let mut good = Client::connect(&server.addr).await;
    good.open(1, vec![], vec![]).await;
    // A huge length prefix.
    let mut bad = TcpStream::connect(&server.addr).await.expect("connect");
    bad.write_all(&[0xFF; 64]).await.expect("write");
    read_until_closed(&mut bad).await;
    // A well-framed (CRC-correct) message that does not decode: answered BadRequest, then closed.
    let mut bad = TcpStream::connect(&server.addr).await.expect("connect");
    let mut frame = Vec::new();
    let mut body = 77u64.to_le_bytes().to_vec();
    body.extend_from_slice(&[1, 2, 3]);
    encode_frame(4, &body, &mut frame);
    bad.write_all(&frame).await.expect("write");
    let got = read_until_closed(&mut bad).await;
    let mut r = got.as_slice();
    let (kind, body) = read_frame(&mut r)
        .await
        .expect("frame")
        .expect("an error frame");
    match Response::decode(kind, &body).expect("decodes") {
        (77, Response::Error { code, .. }) => assert_eq!(code, ErrorCode::BadRequest),
        other => panic!("{other:?}"),
    }
    // A bad CRC.
    let mut bad = TcpStream::connect(&server.addr).await.expect("connect");
    let (kind, body) = Request::GetState {
        epoch: Epoch(1),
        pg: PgId(0),
    }
    .encode(1);
    let mut frame = Vec::new();
    encode_frame(kind, &body, &mut frame);
    let last = frame.len() - 1;
    frame[last] ^= 1;
    bad.write_all(&frame).await.expect("write");
    read_until_closed(&mut bad).await;
    // The well-behaved connection, opened before, and a new one are still served.
    assert_eq!(good.state(1).await.node, NodeId(5));
    let mut fresh = Client::connect(&server.addr).await;
    assert_eq!(fresh.state(1).await.epoch, Epoch(1));
    drop((good, fresh));
    server.kill().await;
    let _ = std::fs::remove_dir_all(&dir);
}

async fn wait_for_scl(addr: &str, epoch: u64, scl: u64) -> SegmentState {
    let mut c = Client::connect(addr).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let s = c.state(epoch).await;
        if pg0(&s).scl == Lsn(scl) || tokio::time::Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gossip_fills_gaps_and_catches_up_from_peers() {
    let (dir_a, dir_b, dir_c) = (
        temp_dir("gossip-a"),
        temp_dir("gossip-b"),
        temp_dir("gossip-c"),
    );
    let recs = workload(300);
    let a = start(10, &dir_a).await;
    let b = start(11, &dir_b).await;
    let c = start(12, &dir_c).await;
    let mut ca = Client::connect(&a.addr).await;
    ca.open(1, vec![b.addr.clone()], vec![]).await;
    for chunk in recs.chunks(50) {
        assert!(matches!(
            ca.write(1, chunk).await,
            Response::WriteAck { .. }
        ));
    }
    // B missed the first 200 records: a gap below everything it holds.
    let mut cb = Client::connect(&b.addr).await;
    cb.open(1, vec![a.addr.clone()], vec![]).await;
    assert!(matches!(
        cb.write(1, &recs[200..]).await,
        Response::WriteAck { .. }
    ));
    // C missed everything: no gap, but its peers are ahead.
    let mut cc = Client::connect(&c.addr).await;
    cc.open(1, vec![b.addr.clone()], vec![]).await;
    let sb = wait_for_scl(&b.addr, 1, 300).await;
    assert_eq!(pg0(&sb).scl, Lsn(300), "B filled its gap from A");
    assert!(pg0(&sb).above.is_empty());
    let sc = wait_for_scl(&c.addr, 1, 300).await;
    assert_eq!(pg0(&sc).scl, Lsn(300), "C caught up through B");
    for page in 0..PAGES {
        assert_page(cb.page(1, page, 300).await, &recs, page, 300);
        assert_page(cc.page(1, page, 150).await, &recs, page, 150);
    }
    // A newer epoch and its truncation spread by gossip too.
    let t = Truncation {
        epoch: Epoch(2),
        pg: PgId(0),
        above: Lsn(250),
        upto: Lsn(10_000),
    };
    ca.open(2, vec![b.addr.clone()], vec![t]).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let sc = loop {
        let s = cc.state(2).await;
        if s.epoch == Epoch(2) || tokio::time::Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(sc.epoch, Epoch(2), "C learned the new epoch from its peer");
    assert_eq!(sc.truncations, vec![t]);
    assert_eq!(pg0(&sc).scl, Lsn(250));
    assert_eq!(
        error_code(&cc.write(1, &recs[..1]).await),
        Some(ErrorCode::StaleEpoch)
    );
    drop((ca, cb, cc));
    for s in [a, b, c] {
        s.kill().await;
    }
    for d in [dir_a, dir_b, dir_c] {
        let _ = std::fs::remove_dir_all(&d);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scrub_finds_corruption_nobody_read_and_repairs_it_from_a_peer() {
    let (dir_a, dir_b) = (temp_dir("scrub-a"), temp_dir("scrub-b"));
    let recs = workload(40);
    let a = start(20, &dir_a).await;
    let b = start(21, &dir_b).await;
    let mut ca = Client::connect(&a.addr).await;
    ca.open(1, vec![b.addr.clone()], vec![]).await;
    assert!(matches!(
        ca.write(1, &recs).await,
        Response::WriteAck { .. }
    ));
    let mut cb = Client::connect(&b.addr).await;
    cb.open(1, vec![a.addr.clone()], vec![]).await;
    assert!(matches!(
        cb.write(1, &recs).await,
        Response::WriteAck { .. }
    ));

    // Bit rot in B's log while B runs: record 34 (an Init of page 2) has never been read, and
    // nobody reads it now. Only the scrub can find it.
    let path = log_file(&dir_b);
    let bytes = std::fs::read(&path).expect("log");
    let image_at = find_image(&bytes, 34);
    let original = bytes[image_at + 3];
    // Flip the byte in place: rewriting the whole file would briefly truncate it under the
    // running node.
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("log");
        f.seek(SeekFrom::Start((image_at + 3) as u64))
            .expect("seek");
        f.write_all(&[original ^ 0x5A]).expect("flip");
        f.sync_all().expect("sync");
    }
    let mut healthy = bytes[image_at..image_at + 32].to_vec();
    healthy[3] = original;
    let healthy_copy_appended = || {
        let mut found = false;
        for entry in std::fs::read_dir(&dir_b).expect("node dir").flatten() {
            let p = entry.path();
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            if name.starts_with("log-") {
                let b = std::fs::read(&p).expect("log");
                let from = if p == path { image_at + 32 } else { 0 };
                found |= b.len() > from && b[from..].windows(32).any(|w| w == healthy.as_slice());
            }
        }
        found
    };

    // The scrub finds it, gossip fetches a healthy copy from A, and B appends it anew: the log
    // grows by one entry although nothing was written.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if healthy_copy_appended() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the corrupted record was not repaired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The bad bytes are still in the file, where they were (nothing is rewritten in place); the
    // healthy copy follows, and every read now uses it.
    let bytes = std::fs::read(&path).expect("log");
    assert_eq!(bytes[image_at + 3], original ^ 0x5A);
    assert!(healthy_copy_appended(), "the healthy copy is appended");
    // The copy reaches the file just before the node's index points at it: a read in between
    // still meets the bad entry and fails with a clear 'corrupted' error, never wrong bytes.
    for read_point in [34, 40] {
        let resp = loop {
            let resp = cb.page(1, 2, read_point).await;
            if error_code(&resp) != Some(ErrorCode::Corrupted)
                || tokio::time::Instant::now() >= deadline
            {
                break resp;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_page(resp, &recs, 2, read_point);
    }
    match cb
        .call(Request::FetchRecords {
            pg: PgId(0),
            after: Lsn(30),
            upto: Lsn(40),
            max_records: 100,
        })
        .await
    {
        Response::Records { records, .. } => assert_eq!(records, recs[30..40].to_vec()),
        other => panic!("{other:?}"),
    }
    assert_eq!(pg0(&cb.state(1).await).scl, Lsn(40));

    // After a restart, recovery skips the bad entry and finds the healthy copy after it.
    drop(cb);
    b.kill().await;
    let b = start(21, &dir_b).await;
    let mut cb = Client::connect(&b.addr).await;
    assert_eq!(pg0(&cb.state(1).await).scl, Lsn(40));
    for page in 0..PAGES {
        assert_page(cb.page(1, page, 40).await, &recs, page, 40);
    }
    drop((ca, cb));
    for s in [a, b] {
        s.kill().await;
    }
    for d in [dir_a, dir_b] {
        let _ = std::fs::remove_dir_all(&d);
    }
}

/// A node holds one segment per protection group it is a member of: an `Open` of a new PG
/// creates it (its own directory, log and meta file), requests are routed by the PG they name,
/// a PG-1 segment takes only PG-1 records, and PG 0's segment keeps the volume map, which only
/// grows. All of it survives a restart.
#[tokio::test]
async fn a_node_holds_a_segment_per_protection_group() {
    use borealis_common::proto::{Membership, StoredMap};
    let dir = temp_dir("pgs");
    let server = start(1, &dir).await;
    let mut c = Client::connect(&server.addr).await;
    let me = server.addr.clone();
    let members = |pg: u32| -> Membership {
        let mut m: Vec<String> = (0..6)
            .map(|i| format!("127.0.0.1:{}", 1 + i + pg))
            .collect();
        m[0] = me.clone();
        Membership::initial(m)
    };
    let open = |pg: u32, map: Option<StoredMap>| Request::Open {
        epoch: Epoch(1),
        writer: WRITER,
        pg: PgId(pg),
        peers: vec![],
        truncations: vec![],
        membership: members(pg),
        me: me.clone(),
        map,
    };
    let map_of = |n: u32| StoredMap {
        pages_per_pg: 8,
        pgs: (0..n).map(members).collect(),
    };
    // Before any Open of PG 1: an empty state, and writes are refused.
    match c
        .call(Request::GetState {
            epoch: Epoch(0),
            pg: PgId(1),
        })
        .await
    {
        Response::State(s) => assert!(s.pgs.is_empty() && s.epoch == Epoch(0)),
        other => panic!("GetState of PG 1 answered {other:?}"),
    }
    let rec = |pg: u32, lsn: u64, prev: u64, page: u64| RedoRecord {
        lsn: Lsn(lsn),
        pg: PgId(pg),
        prev_pg_lsn: Lsn(prev),
        page: PageId(page),
        prev_page_lsn: Lsn::ZERO,
        known_vdl: Lsn::ZERO,
        cpl: true,
        payload: Payload::Init(vec![lsn as u8; 64]),
    };
    let write = |pg: u32, records: Vec<RedoRecord>| Request::Write {
        epoch: Epoch(1),
        writer: WRITER,
        pg: PgId(pg),
        membership: borealis_common::MembershipEpoch(1),
        horizon: Default::default(),
        records,
    };
    assert!(matches!(
        c.call(write(1, vec![rec(1, 2, 0, 9)])).await,
        Response::Error {
            code: ErrorCode::BadRequest,
            ..
        }
    ));
    // PG 0 with a map of two PGs, then PG 1.
    match c.call(open(0, Some(map_of(2)))).await {
        Response::State(s) => assert_eq!(s.map, Some(map_of(2))),
        other => panic!("Open of PG 0 answered {other:?}"),
    }
    match c.call(open(1, None)).await {
        Response::State(s) => {
            assert_eq!(s.membership, members(1));
            assert_eq!(s.map, None, "only PG 0 keeps the map");
        }
        other => panic!("Open of PG 1 answered {other:?}"),
    }
    // A map sent to another PG is refused; an older map changes nothing.
    assert!(matches!(
        c.call(open(1, Some(map_of(2)))).await,
        Response::Error {
            code: ErrorCode::BadRequest,
            ..
        }
    ));
    match c.call(open(0, Some(map_of(1)))).await {
        Response::State(s) => assert_eq!(s.map, Some(map_of(2)), "the map only grows"),
        other => panic!("Open of PG 0 answered {other:?}"),
    }
    // LSN 1 went to PG 0, LSN 2 to PG 1 (page 9 lies in PG 1 with 8 pages per PG), 3 to PG 0.
    assert!(matches!(
        c.call(write(0, vec![rec(0, 1, 0, 1)])).await,
        Response::WriteAck { .. }
    ));
    assert!(matches!(
        c.call(write(1, vec![rec(1, 2, 0, 9)])).await,
        Response::WriteAck { .. }
    ));
    assert!(matches!(
        c.call(write(0, vec![rec(0, 3, 1, 2)])).await,
        Response::WriteAck { .. }
    ));
    // A PG-0 record sent to PG 1's segment is refused.
    assert!(matches!(
        c.call(write(1, vec![rec(0, 4, 3, 1)])).await,
        Response::Error {
            code: ErrorCode::BadRequest,
            ..
        }
    ));
    let get = |pg: u32, page: u64, read_point: u64, pg_point: u64| Request::GetPage {
        epoch: Epoch(1),
        writer: WRITER,
        pg: PgId(pg),
        membership: borealis_common::MembershipEpoch(1),
        page: PageId(page),
        read_point: Lsn(read_point),
        pg_point: Lsn(pg_point),
    };
    let check = |pg: u32, lsn: u64| {
        move |state: SegmentState| {
            let p = state.pgs.iter().find(|p| p.pg == PgId(pg)).expect("the PG");
            assert_eq!(p.scl, Lsn(lsn));
        }
    };
    let mut server = server;
    for round in 0..2 {
        // PG 1's SCL stands at its own last record (2), below the read point 3: it answers
        // because the PG point says there is nothing of PG 1 in (2, 3].
        match c.call(get(1, 9, 3, 2)).await {
            Response::Page { lsn, image } => {
                assert_eq!(lsn, Lsn(2));
                assert_eq!(image.expect("an image")[0], 2);
            }
            other => panic!("GetPage of PG 1 answered {other:?}"),
        }
        assert!(matches!(
            c.call(get(1, 9, 3, 3)).await,
            Response::Error {
                code: ErrorCode::NotReady,
                ..
            }
        ));
        match c
            .call(Request::GetState {
                epoch: Epoch(1),
                pg: PgId(1),
            })
            .await
        {
            Response::State(s) => check(1, 2)(s),
            other => panic!("{other:?}"),
        }
        match c
            .call(Request::GetState {
                epoch: Epoch(1),
                pg: PgId(0),
            })
            .await
        {
            Response::State(s) => {
                check(0, 3)(s.clone());
                assert_eq!(s.map, Some(map_of(2)));
                assert!(s.pgs.iter().all(|p| p.pg == PgId(0)));
            }
            other => panic!("{other:?}"),
        }
        // Everything survives a restart: the PG-1 segment is found in its directory. (The node
        // comes back on another port; it knows itself by the address in its meta file.)
        if round == 0 {
            server.kill().await;
            server = start(1, &dir).await;
            c = Client::connect(&server.addr).await;
        }
    }
    assert!(dir.join("pg-00000001").is_dir());
    server.kill().await;
    let _ = std::fs::remove_dir_all(&dir);
}
