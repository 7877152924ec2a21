//! Connections: frames in, requests handled concurrently, responses out in completion order.
//!
//! ```text
//!  socket ─read_frame─▶ Request::decode ─▶ spawn handler ──┐   (≤ REQUESTS_IN_FLIGHT_PER_CONNECTION_MAX)
//!                                          spawn handler ──┼─▶ response queue ─▶ writer ─▶ socket
//!                                          spawn handler ──┘   (responses carry the req_id)
//! ```
//!
//! Bytes from the network are untrusted. A frame with a bad length or CRC, or a message that does
//! not decode, ends that connection: its handlers are cancelled, one `Error{BadRequest}` is sent,
//! the socket is closed and one line is logged. Other connections are not affected.
//!
//! Every task lives in a `JoinSet` owned by its parent (the accept loop owns the connections, a
//! connection owns its handlers), so dropping `serve` stops everything it started.

use crate::limits::{
    CONNECTIONS_MAX, REQUESTS_IN_FLIGHT_PER_CONNECTION_MAX, RESPONSE_WRITE_BYTES_MAX,
};
use crate::log::LogWriter;
use crate::node::{self, Node};
use crate::{NodeConfig, StorageError, gossip, housekeeping, scrub};
use borealis_common::PgId;
use borealis_common::frame::{FrameError, encode_frame, read_frame, write_frames};
use borealis_common::limits::MAP_PGS_MAX;
use borealis_common::proto::SegmentState;
use borealis_common::proto::{ErrorCode, Request, Response};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinSet};

/// See [`crate::serve`].
pub(crate) async fn serve(listener: TcpListener, config: NodeConfig) -> Result<(), StorageError> {
    let dir = config.data_dir.clone();
    let existing = tokio::task::spawn_blocking(move || node::segment_dirs(&dir))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
    let (spawn_tx, mut spawn_rx) = mpsc::unbounded_channel();
    let host = Arc::new(Host {
        config,
        segments: Mutex::new(BTreeMap::new()),
        creating: tokio::sync::Mutex::new(()),
        spawn: spawn_tx,
    });
    let mut background: JoinSet<Result<(), StorageError>> = JoinSet::new();
    for pg in std::iter::once(PgId(0)).chain(existing) {
        host.segment(pg, true).await?;
    }
    let id = host.config.node;
    let mut connections: JoinSet<()> = JoinSet::new();
    loop {
        // Segments opened since the last turn (at start-up, or by an `Open` of a new PG) get
        // their log writer and background tasks.
        while let Ok(opened) = spawn_rx.try_recv() {
            spawn_segment(&mut background, opened);
        }
        while connections.try_join_next().is_some() {}
        if connections.len() >= CONNECTIONS_MAX {
            tokio::select! {
                _ = connections.join_next() => continue,
                done = background.join_next() => return background_ended(done),
                Some(opened) = spawn_rx.recv() => spawn_segment(&mut background, opened),
            }
            continue;
        }
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve_connection(Arc::clone(&host), stream, addr));
                }
                Err(e) => {
                    eprintln!("storage node {id}: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            done = background.join_next() => return background_ended(done),
            Some(opened) = spawn_rx.recv() => spawn_segment(&mut background, opened),
        }
    }
}

/// A segment just opened: the node, its log writer and the log queue's receiving end.
type Opened = (Arc<Node>, LogWriter, mpsc::Receiver<node::Batch>);

fn spawn_segment(background: &mut JoinSet<Result<(), StorageError>>, opened: Opened) {
    let (node, writer, log_rx) = opened;
    background.spawn(node::log_writer(Arc::clone(&node), log_rx, writer));
    background.spawn(gossip::run(Arc::clone(&node)));
    background.spawn(scrub::run(Arc::clone(&node)));
    background.spawn(housekeeping::run(node));
}

/// The storage node process: one segment per protection group it holds a share of.
struct Host {
    config: NodeConfig,
    segments: Mutex<BTreeMap<PgId, Arc<Node>>>,
    /// Serialises the creation of segments.
    creating: tokio::sync::Mutex<()>,
    /// Hands new segments to the accept loop, which runs their tasks.
    spawn: mpsc::UnboundedSender<Opened>,
}

impl Host {
    /// The segment of `pg`; with `create`, opened (from its files, or new and empty) if it is
    /// not open yet.
    async fn segment(&self, pg: PgId, create: bool) -> Result<Option<Arc<Node>>, StorageError> {
        if let Some(n) = self.segments.lock().expect("poisoned").get(&pg) {
            return Ok(Some(Arc::clone(n)));
        }
        if !create {
            return Ok(None);
        }
        let _serial = self.creating.lock().await;
        if let Some(n) = self.segments.lock().expect("poisoned").get(&pg) {
            return Ok(Some(Arc::clone(n)));
        }
        let config = self.config.clone();
        let (node, writer, log_rx) = tokio::task::spawn_blocking(move || Node::open(&config, pg))
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?;
        self.segments
            .lock()
            .expect("poisoned")
            .insert(pg, Arc::clone(&node));
        if pg != PgId(0) {
            eprintln!(
                "storage node {}: holds a segment of PG {pg}",
                self.config.node
            );
        }
        let _ = self.spawn.send((Arc::clone(&node), writer, log_rx));
        Ok(Some(node))
    }

    /// Routes a request to the segment of the PG it names. An `Open` of a PG the node holds no
    /// segment of creates one; `GetState` of such a PG answers an empty state (recovery asks
    /// every node it knows of); anything else is refused.
    async fn handle(&self, req: Request) -> Response {
        let (pg, create) = match &req {
            Request::Open { pg, .. } => (*pg, true),
            Request::Write { pg, .. }
            | Request::GetPage { pg, .. }
            | Request::GetState { pg, .. }
            | Request::FetchRecords { pg, .. }
            | Request::FetchBase { pg, .. } => (*pg, false),
        };
        if pg.0 >= MAP_PGS_MAX {
            return Response::Error {
                code: ErrorCode::BadRequest,
                message: format!("PG {pg} is beyond the largest volume ({MAP_PGS_MAX} PGs)"),
            };
        }
        match self.segment(pg, create).await {
            Ok(Some(node)) => node.handle(req).await,
            Ok(None) if matches!(req, Request::GetState { .. }) => Response::State(SegmentState {
                node: self.config.node,
                ..SegmentState::default()
            }),
            Ok(None) => Response::Error {
                code: ErrorCode::BadRequest,
                message: format!(
                    "storage node {} holds no segment of PG {pg}: Open first",
                    self.config.node
                ),
            },
            Err(e) => {
                eprintln!(
                    "storage node {}: cannot open a segment of PG {pg}: {e}",
                    self.config.node
                );
                Response::Error {
                    code: ErrorCode::Internal,
                    message: format!("opening the segment of PG {pg}: {e}"),
                }
            }
        }
    }
}

fn background_ended(
    done: Option<Result<Result<(), StorageError>, JoinError>>,
) -> Result<(), StorageError> {
    match done {
        Some(Ok(Err(e))) => Err(e),
        Some(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        _ => Err(StorageError::Io {
            what: "a background task of the node stopped".into(),
            source: std::io::Error::other("background task ended"),
        }),
    }
}

async fn serve_connection(host: Arc<Host>, stream: TcpStream, addr: SocketAddr) {
    let id = host.config.node;
    let (mut rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::channel::<Vec<u8>>(REQUESTS_IN_FLIGHT_PER_CONNECTION_MAX + 1);
    let mut writer = JoinSet::new();
    writer.spawn(write_responses(wr, rx));
    let mut handlers: JoinSet<()> = JoinSet::new();
    loop {
        while handlers.try_join_next().is_some() {}
        while handlers.len() >= REQUESTS_IN_FLIGHT_PER_CONNECTION_MAX {
            handlers.join_next().await;
        }
        let bad = match read_frame(&mut rd).await {
            Ok(None) => break,
            Ok(Some((kind, body))) => match Request::decode(kind, &body) {
                Ok((req_id, req)) => {
                    let host = Arc::clone(&host);
                    let tx = tx.clone();
                    handlers.spawn(async move {
                        let resp = host.handle(req).await;
                        let _ = tx.send(frame(req_id, &resp)).await;
                    });
                    continue;
                }
                Err(e) => {
                    let req_id = body
                        .get(..8)
                        .and_then(|b| b.try_into().ok())
                        .map_or(0, u64::from_le_bytes);
                    (req_id, format!("undecodable request: {e}"))
                }
            },
            Err(FrameError::Corrupted(why)) => (0, format!("bad frame: {why}")),
            Err(FrameError::Io(e)) => {
                if e.kind() != std::io::ErrorKind::UnexpectedEof
                    && e.kind() != std::io::ErrorKind::ConnectionReset
                {
                    eprintln!("storage node {id}: connection from {addr}: {e}");
                }
                break;
            }
        };
        let (req_id, why) = bad;
        eprintln!("storage node {id}: closing connection from {addr}: {why}");
        handlers.abort_all();
        let resp = Response::Error {
            code: ErrorCode::BadRequest,
            message: why,
        };
        let _ = tx.send(frame(req_id, &resp)).await;
        break;
    }
    // Let in-flight requests answer (unless the connection was bad), then flush and close.
    drop(rd);
    while handlers.join_next().await.is_some() {}
    drop(tx);
    while writer.join_next().await.is_some() {}
}

fn frame(req_id: u64, resp: &Response) -> Vec<u8> {
    let (kind, body) = resp.encode(req_id);
    let mut out = Vec::with_capacity(body.len() + 9);
    encode_frame(kind, &body, &mut out);
    out
}

async fn write_responses(mut wr: OwnedWriteHalf, mut rx: mpsc::Receiver<Vec<u8>>) {
    while let Some(mut buf) = rx.recv().await {
        while buf.len() < RESPONSE_WRITE_BYTES_MAX {
            match rx.try_recv() {
                Ok(more) => buf.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        if write_frames(&mut wr, &buf).await.is_err() {
            return;
        }
    }
    let _ = wr.shutdown().await;
}
