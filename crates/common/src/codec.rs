//! Little-endian encoding helpers with bounds checks.
//!
//! [`Reader`] never panics on short or hostile input: every read returns [`DecodeError`] when the
//! bytes run out, and every length prefix is checked against a caller-supplied bound before
//! anything is allocated.

use thiserror::Error;

/// Bytes that do not decode. Always means the peer or the disk handed us something malformed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("malformed bytes: {0}")]
pub struct DecodeError(pub String);

pub type DecodeResult<T> = Result<T, DecodeError>;

/// Appends little-endian values to a byte vector.
pub trait Put {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    /// A `u32` length followed by the bytes.
    fn put_bytes(&mut self, v: &[u8]);
    fn put_str(&mut self, v: &str) {
        self.put_bytes(v.as_bytes());
    }
}

impl Put for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_bytes(&mut self, v: &[u8]) {
        let len = u32::try_from(v.len()).expect("byte string longer than u32");
        self.put_u32(len);
        self.extend_from_slice(v);
    }
}

/// A cursor over untrusted bytes.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    #[inline]
    #[must_use]
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    #[inline]
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[cold]
    #[inline(never)]
    fn short(&self, n: usize) -> DecodeError {
        DecodeError(format!(
            "need {n} bytes at offset {}, have {}",
            self.pos,
            self.remaining()
        ))
    }

    #[inline]
    pub fn take(&mut self, n: usize) -> DecodeResult<&'a [u8]> {
        if self.remaining() < n {
            return Err(self.short(n));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> DecodeResult<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    #[inline]
    pub fn u8(&mut self) -> DecodeResult<u8> {
        Ok(self.array::<1>()?[0])
    }
    #[inline]
    pub fn u16(&mut self) -> DecodeResult<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    #[inline]
    pub fn u32(&mut self) -> DecodeResult<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    #[inline]
    pub fn u64(&mut self) -> DecodeResult<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A `u32` length (at most `max`) followed by that many bytes.
    #[inline]
    pub fn bytes(&mut self, max: u32) -> DecodeResult<&'a [u8]> {
        let len = self.u32()?;
        if len > max {
            return Err(DecodeError(format!("length {len} exceeds bound {max}")));
        }
        self.take(len as usize)
    }

    #[inline]
    pub fn string(&mut self, max: u32) -> DecodeResult<String> {
        let b = self.bytes(max)?;
        String::from_utf8(b.to_vec()).map_err(|_| DecodeError("string is not UTF-8".into()))
    }

    /// A `u32` element count, checked against `max`.
    #[inline]
    pub fn count(&mut self, max: u32) -> DecodeResult<u32> {
        let n = self.u32()?;
        if n > max {
            return Err(DecodeError(format!("count {n} exceeds bound {max}")));
        }
        Ok(n)
    }

    /// Fails unless every byte was consumed: trailing garbage is a malformed message.
    #[inline]
    pub fn finish(&self) -> DecodeResult<()> {
        if self.remaining() != 0 {
            return Err(DecodeError(format!("{} trailing bytes", self.remaining())));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_input_is_an_error_not_a_panic() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert!(r.u32().is_err());
        let mut r = Reader::new(&[255, 255, 255, 255]);
        assert!(
            r.bytes(1024).is_err(),
            "a huge length prefix must be refused"
        );
    }

    #[test]
    fn round_trip() {
        let mut v = Vec::new();
        v.put_u8(7);
        v.put_u16(513);
        v.put_u32(70000);
        v.put_u64(u64::MAX - 1);
        v.put_str("héllo");
        let mut r = Reader::new(&v);
        assert_eq!(r.u8().unwrap(), 7);
        assert_eq!(r.u16().unwrap(), 513);
        assert_eq!(r.u32().unwrap(), 70000);
        assert_eq!(r.u64().unwrap(), u64::MAX - 1);
        assert_eq!(r.string(100).unwrap(), "héllo");
        r.finish().unwrap();
    }
}
