//! Temporary files for operators that outgrow `work_mem`.
//!
//! A [`SpillFile`] holds rows written once and read back once, each as a length-prefixed row
//! in the table row encoding (`catalog::encode_row`). Files live in the system's temporary
//! directory under a name unique to the process and are removed when dropped, so an error or
//! a cancelled statement leaves nothing behind (a crash may; the names start with
//! `borealis-spill-`).
//!
//! The hash aggregate uses them (see `Executor::aggregate_into` in `query.rs`): once its groups
//! fill `work_mem`, rows of groups it has not seen yet go to one of [`SPILL_PARTITIONS`] files
//! by hash, and each file is aggregated afterwards on its own, spilling again if need be.

use crate::catalog::{decode_row, encode_row};
use crate::error::{SqlError, SqlResult};
use crate::types::Value;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// Files a spilling operator splits its overflow into.
pub const SPILL_PARTITIONS: usize = 32;

/// Levels of re-spilling before a partition is aggregated in memory whatever its size (each
/// level divides the groups by [`SPILL_PARTITIONS`] with a fresh hash).
pub const SPILL_DEPTH_MAX: u32 = 4;

static NEXT_FILE: AtomicU64 = AtomicU64::new(0);

fn io_error(what: &str, e: &std::io::Error) -> SqlError {
    SqlError::Internal(format!("temporary file: {what}: {e}"))
}

/// One temporary file of rows.
pub struct SpillFile {
    path: PathBuf,
    writer: Option<BufWriter<File>>,
    /// Rows and bytes written.
    pub rows: u64,
    pub bytes: u64,
}

impl SpillFile {
    pub fn create() -> SqlResult<SpillFile> {
        let n = NEXT_FILE.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("borealis-spill-{}-{n}", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_error("create", &e))?;
        Ok(SpillFile {
            path,
            writer: Some(BufWriter::new(file)),
            rows: 0,
            bytes: 0,
        })
    }

    /// Appends a row; `buf` is scratch space reused between calls.
    pub fn write_row(&mut self, row: &[Value], buf: &mut Vec<u8>) -> SqlResult<()> {
        buf.clear();
        encode_row(row, buf);
        let w = self
            .writer
            .as_mut()
            .ok_or_else(|| SqlError::Internal("temporary file written after reading".into()))?;
        let len = u32::try_from(buf.len())
            .map_err(|_| SqlError::Internal("temporary file: row too large".into()))?;
        w.write_all(&len.to_le_bytes())
            .and_then(|()| w.write_all(buf))
            .map_err(|e| io_error("write", &e))?;
        self.rows += 1;
        self.bytes += 4 + buf.len() as u64;
        Ok(())
    }

    /// Reads every row back, in the order written, as rows of `width` values.
    pub fn for_each_row(
        &mut self,
        width: usize,
        f: &mut dyn FnMut(&[Value]) -> SqlResult<()>,
    ) -> SqlResult<()> {
        if let Some(w) = self.writer.take() {
            // Flushed, not synced: the file only has to outlive the statement.
            w.into_inner().map_err(|e| io_error("flush", e.error()))?;
        }
        let file = File::open(&self.path).map_err(|e| io_error("open", &e))?;
        let mut r = BufReader::new(file);
        let mut buf = Vec::new();
        for _ in 0..self.rows {
            let mut len = [0u8; 4];
            r.read_exact(&mut len).map_err(|e| io_error("read", &e))?;
            buf.resize(u32::from_le_bytes(len) as usize, 0);
            r.read_exact(&mut buf).map_err(|e| io_error("read", &e))?;
            let row = decode_row(&buf, width)?;
            f(&row)?;
        }
        Ok(())
    }
}

impl Drop for SpillFile {
    fn drop(&mut self) {
        self.writer = None;
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Roughly how many bytes `v` occupies in memory (its enum slot and what it points to), for
/// `work_mem` accounting.
#[must_use]
pub fn value_bytes(v: &Value) -> usize {
    std::mem::size_of::<Value>()
        + match v {
            Value::Text(s) | Value::Json(s) => s.len(),
            Value::Bytes(b) => b.len(),
            Value::Numeric(_) | Value::Jsonb(_) => 32,
            _ => 0,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_back_in_order_and_the_file_goes_away() {
        let mut f = SpillFile::create().unwrap();
        let path = f.path.clone();
        let mut buf = Vec::new();
        for i in 0..1000i64 {
            f.write_row(
                &[Value::Int(i), Value::Text(format!("r{i}")), Value::Null],
                &mut buf,
            )
            .unwrap();
        }
        let mut seen = Vec::new();
        f.for_each_row(3, &mut |row| {
            seen.push(row.to_vec());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.len(), 1000);
        assert_eq!(
            seen[7],
            vec![Value::Int(7), Value::Text("r7".into()), Value::Null]
        );
        assert!(path.exists());
        drop(f);
        assert!(!path.exists());
    }
}
