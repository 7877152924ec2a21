//! Image files: materialised base images of pages, written by the materialiser and read by page
//! builds (issue 3, item 3; Aurora SIGMOD 2017 §3.3, step 5 "coalesce log records into new page
//! versions").
//!
//! Image files are numbered like the log, `img-00000001`, `img-00000002`, … and append-only. The
//! node appends only to the newest; after a restart it starts a new one, so a torn tail from a
//! crash is never appended to (it was never referenced: a base is used, and named in a checkpoint,
//! only after the image's `sync_data` returned). A file no base points into any more is deleted
//! after the next checkpoint. The byte layout is in docs/formats.md ("Storage node image files"):
//!
//! ```text
//!  file  := header image*
//!  header (16 B) := magic "BRLSIMG\0" | version:u32 = 1 | crc32c(magic, version):u32
//!  image (24 B + PAGE_SIZE) := crc32c(rest):u32 | pg:u32 | page:u64 | lsn:u64 | bytes[PAGE_SIZE]
//! ```
//!
//! Every image is CRC-checked on every read, and must be the image it is expected to be (page and
//! LSN): a mismatch is corruption, never served.

use crate::limits::IMAGE_FILE_BYTES_MAX;
use crate::log::sync_dir;
use crate::numbered;
use crate::segment::Location;
use borealis_common::{Lsn, PAGE_SIZE, PageId, PgId};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const MAGIC: &[u8; 8] = b"BRLSIMG\0";
const VERSION: u32 = 1;
/// Bytes of an image file's header.
pub use crate::numbered::FILE_HEADER_BYTES;
/// Bytes of one image entry: header and page.
pub const IMAGE_ENTRY_BYTES: usize = 24 + PAGE_SIZE;

const _: () = assert!(IMAGE_FILE_BYTES_MAX > FILE_HEADER_BYTES + IMAGE_ENTRY_BYTES as u64);

/// The name of image file number `n`.
#[must_use]
pub fn file_name(n: u32) -> String {
    numbered::file_name("img", n)
}

/// The number of a image file, from its name.
#[must_use]
pub fn parse_file_name(name: &str) -> Option<u32> {
    numbered::parse_file_name("img", name)
}

fn file_header() -> [u8; FILE_HEADER_BYTES as usize] {
    numbered::file_header(MAGIC, VERSION)
}

/// Encodes one image entry.
#[must_use]
pub fn encode_image(pg: PgId, page: PageId, lsn: Lsn, image: &[u8; PAGE_SIZE]) -> Vec<u8> {
    let mut out = vec![0u8; IMAGE_ENTRY_BYTES];
    out[4..8].copy_from_slice(&pg.0.to_le_bytes());
    out[8..16].copy_from_slice(&page.0.to_le_bytes());
    out[16..24].copy_from_slice(&lsn.0.to_le_bytes());
    out[24..].copy_from_slice(image);
    let crc = crc32c::crc32c(&out[4..]);
    out[..4].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Checks one image entry: its CRC, and that it is the image of `page` at `lsn`.
pub fn decode_image(entry: &[u8], page: PageId, lsn: Lsn) -> Result<Box<[u8; PAGE_SIZE]>, String> {
    if entry.len() != IMAGE_ENTRY_BYTES {
        return Err(format!("image entry of {} bytes", entry.len()));
    }
    let crc = u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
    if crc32c::crc32c(&entry[4..]) != crc {
        return Err("image CRC mismatch".into());
    }
    let got_page = PageId(u64::from_le_bytes(
        entry[8..16].try_into().expect("8 bytes"),
    ));
    let got_lsn = Lsn(u64::from_le_bytes(
        entry[16..24].try_into().expect("8 bytes"),
    ));
    if (got_page, got_lsn) != (page, lsn) {
        return Err(format!(
            "expected the image of page {page} at {lsn}, found page {got_page} at {got_lsn}"
        ));
    }
    let mut img = Box::new([0u8; PAGE_SIZE]);
    img.copy_from_slice(&entry[24..]);
    Ok(img)
}

/// Reads and checks the image at `loc`.
pub fn read_image(
    file: &File,
    loc: Location,
    page: PageId,
    lsn: Lsn,
) -> Result<Box<[u8; PAGE_SIZE]>, crate::log::ReadError> {
    let corrupted = |why: String| crate::log::ReadError::Corrupted {
        file: loc.file,
        offset: loc.offset,
        why: format!("image file: {why}"),
    };
    if loc.len as usize != IMAGE_ENTRY_BYTES {
        return Err(corrupted(format!("image length {}", loc.len)));
    }
    let mut buf = vec![0u8; IMAGE_ENTRY_BYTES];
    file.read_exact_at(&mut buf, loc.offset).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            corrupted("image extends past the end of the file".into())
        } else {
            crate::log::ReadError::Io(e)
        }
    })?;
    decode_image(&buf, page, lsn).map_err(corrupted)
}

/// Read handles of files an append created.
pub type NewFiles = Vec<(u32, Arc<File>)>;

/// The appending end of the image files. Owned by the materialiser alone.
pub struct ImageWriter {
    dir: PathBuf,
    file_no: u32,
    file: File,
    len: u64,
}

/// The image files found on disk, and a writer that starts a new one after them.
pub struct OpenedImages {
    pub writer: ImageWriter,
    /// A read handle per image file, the new one included.
    pub files: Vec<(u32, Arc<File>)>,
}

/// Opens every image file in `dir` for reading and starts a new one for appending.
pub fn open(dir: &Path) -> io::Result<OpenedImages> {
    let mut numbers = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        if let Some(n) = entry?.file_name().to_str().and_then(parse_file_name) {
            numbers.push(n);
        }
    }
    numbers.sort_unstable();
    let mut files = Vec::new();
    for &n in &numbers {
        files.push((n, Arc::new(File::open(dir.join(file_name(n)))?)));
    }
    let next = numbers
        .last()
        .map_or(Some(1), |n| n.checked_add(1))
        .ok_or_else(|| io::Error::other("image file numbers exhausted"))?;
    let file = create_file(dir, next)?;
    files.push((next, Arc::new(File::open(dir.join(file_name(next)))?)));
    Ok(OpenedImages {
        writer: ImageWriter {
            dir: dir.to_path_buf(),
            file_no: next,
            file,
            len: FILE_HEADER_BYTES,
        },
        files,
    })
}

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

impl ImageWriter {
    /// The file being appended to: never deleted.
    #[must_use]
    pub fn current_file(&self) -> u32 {
        self.file_no
    }

    /// Appends encoded image entries and returns once they are synced, with their locations and
    /// the read handles of files it created.
    pub fn append(&mut self, entries: &[Vec<u8>]) -> io::Result<(Vec<Location>, NewFiles)> {
        let mut locations = Vec::with_capacity(entries.len());
        let mut new_files = Vec::new();
        let mut buf = Vec::new();
        for e in entries {
            assert_eq!(
                e.len(),
                IMAGE_ENTRY_BYTES,
                "an image entry has a fixed size"
            );
            if self.len + (buf.len() + e.len()) as u64 > IMAGE_FILE_BYTES_MAX {
                self.file.write_all(&buf)?;
                self.file.sync_data()?;
                buf.clear();
                let next = self
                    .file_no
                    .checked_add(1)
                    .ok_or_else(|| io::Error::other("image file numbers exhausted"))?;
                self.file = create_file(&self.dir, next)?;
                self.file_no = next;
                self.len = FILE_HEADER_BYTES;
                new_files.push((next, Arc::new(File::open(self.dir.join(file_name(next)))?)));
            }
            locations.push(Location {
                file: self.file_no,
                offset: self.len + buf.len() as u64,
                len: IMAGE_ENTRY_BYTES as u32,
            });
            buf.extend_from_slice(e);
        }
        self.file.write_all(&buf)?;
        self.len += buf.len() as u64;
        self.file.sync_data()?;
        Ok((locations, new_files))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_round_trip_and_corruption_is_caught() {
        let dir = std::env::temp_dir().join(format!("borealis-img-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let mut opened = open(&dir).expect("open");
        let img = Box::new([7u8; PAGE_SIZE]);
        let e = encode_image(PgId(0), PageId(3), Lsn(9), &img);
        let (locs, _) = opened.writer.append(&[e.clone(), e]).expect("append");
        let f = &opened.files[0].1;
        assert_eq!(
            read_image(f, locs[1], PageId(3), Lsn(9)).expect("read")[..],
            img[..]
        );
        assert!(
            read_image(f, locs[1], PageId(3), Lsn(8)).is_err(),
            "another version"
        );
        let path = dir.join(file_name(1));
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[locs[0].offset as usize + 100] ^= 1;
        std::fs::write(&path, &bytes).expect("write");
        let f = File::open(&path).expect("open");
        assert!(read_image(&f, locs[0], PageId(3), Lsn(9)).is_err(), "CRC");
        // A restart starts a new file after the existing ones.
        let again = open(&dir).expect("reopen");
        assert_eq!(again.writer.current_file(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
