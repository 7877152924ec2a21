//! Framing for every Borealis TCP stream (storage protocol, peer gossip).
//!
//! ```text
//! +-----------+-------------+---------+------------------+
//! | len: u32  | crc32c: u32 | kind:u8 | body (len-1 B)   |
//! +-----------+-------------+---------+------------------+
//!   len counts kind + body; crc32c covers kind + body
//! ```
//!
//! A frame longer than [`FRAME_BYTES_MAX`] or with a wrong CRC is a protocol error: the reader
//! returns an error and the connection is closed. Nothing is allocated before the length is
//! checked.

use crate::limits::FRAME_BYTES_MAX;
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

#[derive(Debug, Error)]
pub enum FrameError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("corrupted frame: {0}")]
    Corrupted(String),
}

/// Bytes before a frame's body: its length, its CRC and its kind.
pub const FRAME_HEADER_BYTES: usize = 9;

/// Makes `frame` a frame of `kind`: its first [`FRAME_HEADER_BYTES`] bytes, reserved by the
/// caller, get the header of the body that follows them. For a body built in place, which then
/// goes out without being copied into a frame of its own.
pub fn seal_frame(kind: u8, frame: &mut [u8]) {
    let (header, body) = frame.split_at_mut(FRAME_HEADER_BYTES);
    let len = u32::try_from(body.len() + 1).expect("frame too long");
    assert!(
        len <= FRAME_BYTES_MAX,
        "frame of {len} bytes exceeds FRAME_BYTES_MAX"
    );
    let crc = crc32c::crc32c_append(crc32c::crc32c(&[kind]), body);
    header[..4].copy_from_slice(&len.to_le_bytes());
    header[4..8].copy_from_slice(&crc.to_le_bytes());
    header[8] = kind;
}

/// Appends one frame to `out`.
pub fn encode_frame(kind: u8, body: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(body.len() + 1).expect("frame too long");
    assert!(
        len <= FRAME_BYTES_MAX,
        "frame of {len} bytes exceeds FRAME_BYTES_MAX"
    );
    let mut crc = crc32c::crc32c(&[kind]);
    crc = crc32c::crc32c_append(crc, body);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.push(kind);
    out.extend_from_slice(body);
}

/// Reads one frame. `Ok(None)` on a clean end of stream before a frame starts.
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
) -> Result<Option<(u8, Vec<u8>)>, FrameError> {
    let mut header = [0u8; 9];
    match r.read_exact(&mut header[..1]).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    r.read_exact(&mut header[1..]).await?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let kind = header[8];
    if len == 0 || len > FRAME_BYTES_MAX {
        return Err(FrameError::Corrupted(format!(
            "frame length {len} out of bounds"
        )));
    }
    let mut body = vec![0u8; len as usize - 1];
    r.read_exact(&mut body).await?;
    if crc32c::crc32c_append(crc32c::crc32c(&[kind]), &body) != crc {
        return Err(FrameError::Corrupted("frame CRC mismatch".into()));
    }
    Ok(Some((kind, body)))
}

/// Writes pre-encoded frames and flushes.
pub async fn write_frames<W: AsyncWrite + Unpin>(
    w: &mut W,
    frames: &[u8],
) -> Result<(), FrameError> {
    w.write_all(frames).await?;
    w.flush().await?;
    Ok(())
}
