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
use crate::node::{self, Node};
use crate::{NodeConfig, StorageError, gossip, housekeeping, scrub};
use borealis_common::frame::{FrameError, encode_frame, read_frame, write_frames};
use borealis_common::proto::{ErrorCode, Request, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinSet};

/// See [`crate::serve`].
pub(crate) async fn serve(listener: TcpListener, config: NodeConfig) -> Result<(), StorageError> {
    let opened = tokio::task::spawn_blocking(move || Node::open(&config))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    let (node, writer, log_rx) = opened?;
    let mut background: JoinSet<Result<(), StorageError>> = JoinSet::new();
    background.spawn(node::log_writer(Arc::clone(&node), log_rx, writer));
    background.spawn(gossip::run(Arc::clone(&node)));
    background.spawn(scrub::run(Arc::clone(&node)));
    background.spawn(housekeeping::run(Arc::clone(&node)));
    let mut connections: JoinSet<()> = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        if connections.len() >= CONNECTIONS_MAX {
            tokio::select! {
                _ = connections.join_next() => continue,
                done = background.join_next() => return background_ended(done),
            }
        }
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve_connection(Arc::clone(&node), stream, addr));
                }
                Err(e) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    eprintln!("storage node {}: accept failed: {e}", node.id);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            done = background.join_next() => return background_ended(done),
        }
    }
}

/// The log writer and the gossip task run as long as the node: one ending is fatal.
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

async fn serve_connection(node: Arc<Node>, stream: TcpStream, addr: SocketAddr) {
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
                    let node = Arc::clone(&node);
                    let tx = tx.clone();
                    handlers.spawn(async move {
                        let resp = node.handle(req).await;
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
                    eprintln!("storage node {}: connection from {addr}: {e}", node.id);
                }
                break;
            }
        };
        let (req_id, why) = bad;
        eprintln!(
            "storage node {}: closing connection from {addr}: {why}",
            node.id
        );
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
