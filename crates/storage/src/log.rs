//! The node's append-only log: where every record is made durable before it is acknowledged.
//!
//! The log is a numbered sequence of files in the data directory, `log-00000001`,
//! `log-00000002`, … Only the last file is appended to; a file that would grow past
//! [`LOG_FILE_BYTES_MAX`] is synced and the next one started. Nothing is ever rewritten in place:
//! a duplicate or a truncated record stays in the log and is ignored on the way back in. The byte
//! layout is in docs/formats.md ("Storage node log").
//!
//! ```text
//!  file := header entry*
//!  header (16 B) := magic "BRLSLOG\0" | version:u32 = 1 | crc32c(magic, version):u32
//!  entry := len:u32 | crc32c(kind, body):u32 | kind:u8 | body     (len = 1 + body length)
//!           kind 1: body = one RedoRecord, as RedoRecord::encode writes it
//! ```
//!
//! Durability: [`LogWriter::append`] writes a whole group of entries and returns only after
//! `sync_data` returned, and a new file's header and directory entry are synced before any entry
//! goes into it. So after a crash every acknowledged entry is intact, and at most the entries of
//! the last, unacknowledged group are torn.
//!
//! Recovery ([`recover`]) reads every file from the start and checks every entry's CRC. A bad
//! entry followed by good ones is isolated corruption: it is skipped (the segment then misses
//! that record, its SCL stops below it, and gossip fetches it again from a peer). A bad or partial
//! entry with nothing good after it is a torn tail: the last file is cut back to the last good
//! entry. A restart starts the scan at the log position of the last checkpoint (`checkpoint.rs`),
//! so its work is bounded by the log written since; files wholly below every record and version
//! still held are deleted after a checkpoint.
//!
//! Reads ([`read_record`]) are positioned reads of one entry, with the CRC checked every time: a
//! mismatch is [`ReadError::Corrupted`] and the bytes are never served.

use crate::StorageError;
use crate::limits::{LOG_ENTRY_BYTES_MAX, LOG_FILE_BYTES_MAX};
use crate::numbered;
use crate::segment::Location;
use borealis_common::RedoRecord;
use borealis_common::codec::Reader;
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const MAGIC: &[u8; 8] = b"BRLSLOG\0";
const VERSION: u32 = 1;
/// Bytes of a log file's header.
pub use crate::numbered::FILE_HEADER_BYTES;
/// Bytes of an entry's header (`len`, `crc32c`).
pub const ENTRY_HEADER_BYTES: u64 = 8;
/// Entry kind of a redo record.
pub const KIND_RECORD: u8 = 1;

const _: () = assert!(LOG_FILE_BYTES_MAX > FILE_HEADER_BYTES);

/// A record could not be read back from the log.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    #[error("corrupted log entry at file {file} offset {offset}: {why}")]
    Corrupted { file: u32, offset: u64, why: String },
}

/// The name of log file number `n`.
#[must_use]
pub fn file_name(n: u32) -> String {
    numbered::file_name("log", n)
}

/// The number of a log file, from its name.
#[must_use]
pub fn parse_file_name(name: &str) -> Option<u32> {
    numbered::parse_file_name("log", name)
}

fn file_header() -> [u8; FILE_HEADER_BYTES as usize] {
    numbered::file_header(MAGIC, VERSION)
}

/// Appends one entry holding `rec` to `out`.
pub fn encode_entry(rec: &RedoRecord, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; ENTRY_HEADER_BYTES as usize]);
    out.push(KIND_RECORD);
    rec.encode(out);
    let len = u32::try_from(out.len() - start - ENTRY_HEADER_BYTES as usize)
        .expect("log entry longer than u32");
    assert!(
        len <= LOG_ENTRY_BYTES_MAX,
        "log entry of {len} bytes exceeds its bound"
    );
    let crc = crc32c::crc32c(&out[start + ENTRY_HEADER_BYTES as usize..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Checks and decodes one whole entry (header included).
pub fn decode_entry(entry: &[u8]) -> Result<RedoRecord, String> {
    if entry.len() < ENTRY_HEADER_BYTES as usize + 1 {
        return Err("entry shorter than its header".into());
    }
    let len = u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
    let crc = u32::from_le_bytes([entry[4], entry[5], entry[6], entry[7]]);
    let rest = &entry[ENTRY_HEADER_BYTES as usize..];
    if len as usize != rest.len() {
        return Err(format!("length {len} does not match {} bytes", rest.len()));
    }
    if crc32c::crc32c(rest) != crc {
        return Err("CRC mismatch".into());
    }
    if rest[0] != KIND_RECORD {
        return Err(format!("unknown entry kind {}", rest[0]));
    }
    let mut r = Reader::new(&rest[1..]);
    let rec = RedoRecord::decode(&mut r).map_err(|e| e.to_string())?;
    r.finish().map_err(|e| e.to_string())?;
    Ok(rec)
}

/// Reads the record at `loc`, checking its CRC.
pub fn read_record(file: &File, loc: Location) -> Result<RedoRecord, ReadError> {
    let corrupted = |why: String| ReadError::Corrupted {
        file: loc.file,
        offset: loc.offset,
        why,
    };
    if loc.len > LOG_ENTRY_BYTES_MAX + ENTRY_HEADER_BYTES as u32 {
        return Err(corrupted(format!("entry length {} out of bounds", loc.len)));
    }
    let mut buf = vec![0u8; loc.len as usize];
    file.read_exact_at(&mut buf, loc.offset).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            corrupted("entry extends past the end of the file".into())
        } else {
            ReadError::Io(e)
        }
    })?;
    decode_entry(&buf).map_err(corrupted)
}

/// fsyncs a directory, so that files created or renamed in it survive a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The appending end of the log. Owned by the log-writer task alone.
pub struct LogWriter {
    dir: PathBuf,
    file_no: u32,
    file: File,
    len: u64,
}

/// What one [`LogWriter::append`] did.
pub struct Appended {
    /// Where each entry landed, in the order given.
    pub locations: Vec<Location>,
    /// Read handles of files the append created.
    pub new_files: Vec<(u32, Arc<File>)>,
    /// `sync_data` returned for every file written: the entries are durable.
    pub synced: bool,
    /// The log position after the append (set by the caller from [`LogWriter::position`]).
    pub end: (u32, u64),
}

impl LogWriter {
    /// Where the next entry will go: `(file, offset)`. Every entry before it has been appended.
    #[must_use]
    pub fn position(&self) -> (u32, u64) {
        (self.file_no, self.len)
    }

    /// Appends `records` (already encoded as entries by [`encode_entry`], one per element), rolling
    /// to new files as needed, and returns once everything is synced to disk.
    pub fn append(&mut self, entries: &[Vec<u8>]) -> io::Result<Appended> {
        let mut locations = Vec::with_capacity(entries.len());
        let mut new_files = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        for e in entries {
            let e_len = e.len() as u64;
            if self.len + buf.len() as u64 + e_len > LOG_FILE_BYTES_MAX
                && self.len + buf.len() as u64 > FILE_HEADER_BYTES
            {
                self.file.write_all(&buf)?;
                self.len += buf.len() as u64;
                buf.clear();
                self.file.sync_data()?;
                let next = self
                    .file_no
                    .checked_add(1)
                    .ok_or_else(|| io::Error::other("log file numbers exhausted"))?;
                self.file = create_file(&self.dir, next)?;
                self.file_no = next;
                self.len = FILE_HEADER_BYTES;
                new_files.push((next, Arc::new(File::open(self.dir.join(file_name(next)))?)));
            }
            locations.push(Location {
                file: self.file_no,
                offset: self.len + buf.len() as u64,
                len: u32::try_from(e.len()).map_err(|_| io::Error::other("entry too long"))?,
            });
            buf.extend_from_slice(e);
        }
        self.file.write_all(&buf)?;
        self.len += buf.len() as u64;
        self.file.sync_data()?;
        Ok(Appended {
            locations,
            new_files,
            synced: true,
            end: (self.file_no, self.len),
        })
    }
}

/// Creates log file `n` with its header, synced, and its directory entry synced.
fn create_file(dir: &Path, n: u32) -> io::Result<File> {
    let path = dir.join(file_name(n));
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)?;
    f.write_all(&file_header())?;
    f.sync_data()?;
    sync_dir(dir)?;
    drop(f);
    OpenOptions::new().append(true).open(&path)
}

/// The log as found on disk, ready to serve and to append to.
pub struct Recovered {
    pub writer: LogWriter,
    /// A read handle per log file.
    pub files: Vec<(u32, Arc<File>)>,
    /// Entries read and checked: the restart work the log cost.
    pub entries_scanned: u64,
}

/// Scans the log files in `dir` in order from `start` (a checkpoint's log position; `None`: from
/// the beginning), hands each good record and its location to `on_record`, cuts a torn tail off
/// the last file, and opens the last file for appending (creating the first file of an empty
/// log). Files before `start` are opened for reading but not read. `node` only labels log lines.
pub fn recover(
    dir: &Path,
    node: borealis_common::NodeId,
    start: Option<(u32, u64)>,
    mut on_record: impl FnMut(RedoRecord, Location),
) -> Result<Recovered, StorageError> {
    let (start_file, start_offset) = start.unwrap_or((0, FILE_HEADER_BYTES));
    let mut entries_scanned = 0u64;
    let io_err = |what: String| move |e: io::Error| StorageError::Io { what, source: e };
    let mut numbers = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(format!("listing {}", dir.display())))? {
        let entry = entry.map_err(io_err(format!("listing {}", dir.display())))?;
        if let Some(n) = entry.file_name().to_str().and_then(parse_file_name) {
            numbers.push(n);
        }
    }
    numbers.sort_unstable();
    for w in numbers.windows(2) {
        if w[1] != w[0] + 1 {
            eprintln!(
                "storage node {node}: log files {} to {} are missing; their records will be fetched from peers",
                file_name(w[0] + 1),
                file_name(w[1] - 1)
            );
        }
    }
    let mut files = Vec::new();
    let Some(&last) = numbers.last() else {
        let file = create_file(dir, 1).map_err(io_err(format!("creating {}", file_name(1))))?;
        let read = File::open(dir.join(file_name(1))).map_err(io_err("opening log".into()))?;
        files.push((1, Arc::new(read)));
        return Ok(Recovered {
            writer: LogWriter {
                dir: dir.to_path_buf(),
                file_no: 1,
                file,
                len: FILE_HEADER_BYTES,
            },
            files,
            entries_scanned,
        });
    };
    let mut last_len = FILE_HEADER_BYTES;
    for &n in &numbers {
        let path = dir.join(file_name(n));
        let is_last = n == last;
        if n < start_file {
            if is_last {
                unreachable!("the last log file is never before the checkpoint's position");
            }
        } else {
            let from = if n == start_file {
                start_offset.max(FILE_HEADER_BYTES)
            } else {
                FILE_HEADER_BYTES
            };
            let mut counted = |rec, loc| {
                entries_scanned += 1;
                on_record(rec, loc);
            };
            let end = scan_file(&path, n, is_last, from, node, &mut counted)?;
            if is_last {
                last_len = end;
            }
        }
        let read = File::open(&path).map_err(io_err(format!("opening {}", path.display())))?;
        files.push((n, Arc::new(read)));
    }
    let path = dir.join(file_name(last));
    let file = OpenOptions::new()
        .append(true)
        .open(&path)
        .map_err(io_err(format!("opening {}", path.display())))?;
    Ok(Recovered {
        writer: LogWriter {
            dir: dir.to_path_buf(),
            file_no: last,
            file,
            len: last_len,
        },
        files,
        entries_scanned,
    })
}

/// Scans one file; returns the length at which appending may resume (only meaningful for the
/// last file, which is cut back to it).
fn scan_file(
    path: &Path,
    n: u32,
    is_last: bool,
    from: u64,
    node: borealis_common::NodeId,
    on_record: &mut impl FnMut(RedoRecord, Location),
) -> Result<u64, StorageError> {
    let io_err = |e: io::Error| StorageError::Io {
        what: format!("reading {}", path.display()),
        source: e,
    };
    let file = File::open(path).map_err(io_err)?;
    let file_len = file.metadata().map_err(io_err)?.len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut header = [0u8; FILE_HEADER_BYTES as usize];
    let header_ok = file_len >= FILE_HEADER_BYTES && {
        r.read_exact(&mut header).map_err(io_err)?;
        header == file_header()
    };
    if !header_ok {
        if is_last && file_len <= FILE_HEADER_BYTES {
            // Torn while being created: no entry can have been written to it yet.
            eprintln!(
                "storage node {node}: {} has a torn header; rewriting it",
                path.display()
            );
            let mut f = OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(path)
                .map_err(io_err)?;
            f.write_all(&file_header()).map_err(io_err)?;
            f.sync_data().map_err(io_err)?;
            return Ok(FILE_HEADER_BYTES);
        }
        return Err(StorageError::Corrupted(format!(
            "{} does not start with a log file header",
            path.display()
        )));
    }
    let mut offset = FILE_HEADER_BYTES;
    if from > FILE_HEADER_BYTES {
        if from > file_len {
            return Err(StorageError::Corrupted(format!(
                "{} is shorter ({file_len} bytes) than the checkpoint's position {from}",
                path.display()
            )));
        }
        r.seek_relative(i64::try_from(from - FILE_HEADER_BYTES).expect("file offset"))
            .map_err(io_err)?;
        offset = from;
    }
    // Bad entries not (yet) followed by a good one: a torn tail unless a good entry follows.
    let mut suspects: Vec<(u64, String)> = Vec::new();
    let mut entry = Vec::new();
    let break_at = loop {
        if file_len - offset < ENTRY_HEADER_BYTES {
            break offset;
        }
        let mut h = [0u8; ENTRY_HEADER_BYTES as usize];
        r.read_exact(&mut h).map_err(io_err)?;
        let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        if len == 0
            || len > LOG_ENTRY_BYTES_MAX
            || u64::from(len) > file_len - offset - ENTRY_HEADER_BYTES
        {
            break offset;
        }
        entry.clear();
        entry.extend_from_slice(&h);
        entry.resize(ENTRY_HEADER_BYTES as usize + len as usize, 0);
        r.read_exact(&mut entry[ENTRY_HEADER_BYTES as usize..])
            .map_err(io_err)?;
        let loc = Location {
            file: n,
            offset,
            len: len + ENTRY_HEADER_BYTES as u32,
        };
        offset += u64::from(loc.len);
        match decode_entry(&entry) {
            Ok(rec) => {
                for (at, why) in suspects.drain(..) {
                    eprintln!(
                        "storage node {node}: skipping corrupted entry in {} at offset {at}: {why}",
                        path.display()
                    );
                }
                on_record(rec, loc);
            }
            Err(why) => suspects.push((loc.offset, why)),
        }
    };
    let resume = suspects.first().map_or(break_at, |(at, _)| *at);
    if resume < file_len {
        if is_last {
            eprintln!(
                "storage node {node}: {} ends with a torn or corrupted tail; cutting it from {file_len} to {resume} bytes",
                path.display()
            );
            let f = OpenOptions::new().write(true).open(path).map_err(io_err)?;
            f.set_len(resume).map_err(io_err)?;
            f.sync_all().map_err(io_err)?;
        } else {
            eprintln!(
                "storage node {node}: {} is corrupted from offset {resume} to its end ({file_len}); those records will be fetched from peers",
                path.display()
            );
        }
    }
    Ok(resume)
}

#[cfg(test)]
mod tests {
    use super::*;
    use borealis_common::{Lsn, NodeId, PageId, Payload, PgId};

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "borealis-log-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    }

    fn rec(lsn: u64, fill: u8, len: usize) -> RedoRecord {
        RedoRecord {
            lsn: Lsn(lsn),
            pg: PgId(0),
            prev_pg_lsn: Lsn(lsn - 1),
            page: PageId(1),
            prev_page_lsn: Lsn::ZERO,
            known_vdl: Lsn::ZERO,
            cpl: true,
            payload: Payload::Init(vec![fill; len]),
        }
    }

    fn collect(dir: &Path) -> (Vec<(RedoRecord, Location)>, Recovered) {
        let mut got = Vec::new();
        let rec = recover(dir, NodeId(0), None, |r, l| got.push((r, l))).expect("recover");
        (got, rec)
    }

    #[test]
    fn entries_round_trip_roll_over_and_read_back() {
        let dir = temp_dir("roll");
        let (got, mut recovered) = collect(&dir);
        assert!(got.is_empty());
        // Enough full pages to need a second file.
        let n = LOG_FILE_BYTES_MAX / 8192 + 10;
        let recs: Vec<RedoRecord> = (1..=n).map(|i| rec(i, i as u8, 8192)).collect();
        let entries: Vec<Vec<u8>> = recs
            .iter()
            .map(|r| {
                let mut e = Vec::new();
                encode_entry(r, &mut e);
                e
            })
            .collect();
        let appended = recovered.writer.append(&entries).expect("append");
        assert_eq!(
            appended.new_files.len(),
            1,
            "the log rolled to a second file"
        );
        assert_eq!(appended.locations.last().map(|l| l.file), Some(2));
        let (_, f2) = &appended.new_files[0];
        let last_loc = appended.locations[recs.len() - 1];
        assert_eq!(
            read_record(f2, last_loc).expect("read"),
            recs[recs.len() - 1]
        );
        drop(recovered);
        let (got, _) = collect(&dir);
        assert_eq!(got.len(), recs.len());
        assert!(got.iter().zip(&recs).all(|((a, _), b)| a == b));
        assert_eq!(
            got.iter().map(|(_, l)| *l).collect::<Vec<_>>(),
            appended.locations
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn torn_tail_is_cut_and_isolated_corruption_is_skipped() {
        let dir = temp_dir("torn");
        let (_, mut recovered) = collect(&dir);
        let recs: Vec<RedoRecord> = (1..=5).map(|i| rec(i, 0xA0 + i as u8, 100)).collect();
        let entries: Vec<Vec<u8>> = recs
            .iter()
            .map(|r| {
                let mut e = Vec::new();
                encode_entry(r, &mut e);
                e
            })
            .collect();
        let appended = recovered.writer.append(&entries).expect("append");
        drop(recovered);
        let path = dir.join(file_name(1));
        let good_len = std::fs::metadata(&path).expect("meta").len();
        // A torn tail: half an entry.
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(&entries[0][..entries[0].len() / 2])
            .expect("write");
        drop(f);
        // Isolated corruption: one payload byte of record 3.
        let mut bytes = std::fs::read(&path).expect("read");
        let at = appended.locations[2].offset as usize + appended.locations[2].len as usize - 1;
        bytes[at] ^= 0xFF;
        std::fs::write(&path, &bytes).expect("write");
        let (got, mut recovered) = collect(&dir);
        assert_eq!(
            got.iter().map(|(r, _)| r.lsn.0).collect::<Vec<_>>(),
            vec![1, 2, 4, 5]
        );
        assert_eq!(std::fs::metadata(&path).expect("meta").len(), good_len);
        let f = File::open(&path).expect("open");
        assert!(matches!(
            read_record(&f, appended.locations[2]),
            Err(ReadError::Corrupted { .. })
        ));
        // Appending resumes at the cut.
        let more = recovered.writer.append(&entries[..1]).expect("append");
        assert_eq!(more.locations[0].offset, good_len);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
