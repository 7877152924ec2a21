//! One multiplexed connection to a storage node.
//!
//! Requests carry a `req_id`; a reader task hands each response to the caller waiting for that id,
//! so page reads never queue behind a write's fsync on the same connection. When the stream fails,
//! every waiter gets [`ConnError::Closed`] and the connection is dead for good: its owner makes a
//! new one.

use borealis_common::frame::{self, encode_frame};
use borealis_common::proto::Response;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thiserror::Error;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use crate::limits::{CONN_SEND_QUEUE_FRAMES, CONNECT_TIMEOUT_MS};

#[derive(Debug, Error, Clone)]
pub enum ConnError {
    #[error("cannot connect to {0}: {1}")]
    Connect(String, String),
    #[error("connection closed")]
    Closed,
    #[error("request timed out")]
    Timeout,
}

type Waiters = Arc<Mutex<HashMap<u64, oneshot::Sender<Response>>>>;

pub struct Conn {
    tx: mpsc::Sender<Vec<u8>>,
    waiters: Waiters,
    next_id: AtomicU64,
    alive: Arc<AtomicBool>,
}

impl Conn {
    pub async fn connect(addr: &str) -> Result<Arc<Conn>, ConnError> {
        let sock_addr: SocketAddr = addr
            .parse()
            .map_err(|e| ConnError::Connect(addr.into(), format!("{e}")))?;
        let stream = tokio::time::timeout(
            Duration::from_millis(CONNECT_TIMEOUT_MS),
            TcpStream::connect(sock_addr),
        )
        .await
        .map_err(|_| ConnError::Connect(addr.into(), "timed out".into()))?
        .map_err(|e| ConnError::Connect(addr.into(), e.to_string()))?;
        let _ = stream.set_nodelay(true);
        let (mut rd, mut wr) = stream.into_split();
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(CONN_SEND_QUEUE_FRAMES);
        let waiters: Waiters = Arc::default();
        let alive = Arc::new(AtomicBool::new(true));

        let alive_w = alive.clone();
        tokio::spawn(async move {
            while let Some(mut frames) = rx.recv().await {
                // Coalesce whatever else is queued into one write.
                while let Ok(more) = rx.try_recv() {
                    frames.extend_from_slice(&more);
                }
                if wr.write_all(&frames).await.is_err() || wr.flush().await.is_err() {
                    break;
                }
            }
            alive_w.store(false, Ordering::Release);
        });

        let waiters_r = waiters.clone();
        let alive_r = alive.clone();
        tokio::spawn(async move {
            loop {
                match frame::read_frame(&mut rd).await {
                    Ok(Some((kind, body))) => match Response::decode(kind, &body) {
                        Ok((id, resp)) => {
                            let waiter = waiters_r.lock().expect("poisoned").remove(&id);
                            if let Some(w) = waiter {
                                let _ = w.send(resp);
                            }
                        }
                        Err(e) => {
                            eprintln!("volume: malformed response from storage node: {e}");
                            break;
                        }
                    },
                    Ok(None) => break,
                    Err(e) => {
                        eprintln!("volume: storage connection failed: {e}");
                        break;
                    }
                }
            }
            alive_r.store(false, Ordering::Release);
            // Dropping every sender wakes every waiter with an error.
            waiters_r.lock().expect("poisoned").clear();
        });

        Ok(Arc::new(Conn {
            tx,
            waiters,
            next_id: AtomicU64::new(1),
            alive,
        }))
    }

    #[must_use]
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    /// Allocates a request id.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends an encoded request (`kind`, `body` starting with `req_id`) and waits for its response.
    pub async fn call(
        &self,
        req_id: u64,
        kind: u8,
        body: &[u8],
        timeout_ms: u64,
    ) -> Result<Response, ConnError> {
        if !self.is_alive() {
            return Err(ConnError::Closed);
        }
        let mut frame = Vec::with_capacity(body.len() + frame::FRAME_HEADER_BYTES);
        encode_frame(kind, body, &mut frame);
        self.call_frame(req_id, frame, timeout_ms).await
    }

    /// [`Self::call`] with the request already a frame (`proto::encode_write_frame`).
    pub async fn call_frame(
        &self,
        req_id: u64,
        frame: Vec<u8>,
        timeout_ms: u64,
    ) -> Result<Response, ConnError> {
        if !self.is_alive() {
            return Err(ConnError::Closed);
        }
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().expect("poisoned").insert(req_id, tx);
        if self.tx.send(frame).await.is_err() {
            self.waiters.lock().expect("poisoned").remove(&req_id);
            return Err(ConnError::Closed);
        }
        match tokio::time::timeout(Duration::from_millis(timeout_ms), rx).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(ConnError::Closed),
            Err(_) => {
                self.waiters.lock().expect("poisoned").remove(&req_id);
                Err(ConnError::Timeout)
            }
        }
    }
}
