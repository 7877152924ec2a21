//! Numbered, self-describing files: the storage node's log files (`log-NNNNNNNN`) and base-image
//! files (`img-NNNNNNNN`) share their naming and their 16-byte header.
//!
//! ```text
//! header := magic: 8 bytes | version: u32 LE | crc32c(magic ‖ version): u32 LE
//! ```

/// Size of the header at the start of every numbered file.
pub const FILE_HEADER_BYTES: u64 = 16;

/// The name of file number `n` of a family (`prefix` is `log` or `img`).
#[must_use]
pub fn file_name(prefix: &str, n: u32) -> String {
    format!("{prefix}-{n:08}")
}

/// The number of a file of the family `prefix`, from its name.
#[must_use]
pub fn parse_file_name(prefix: &str, name: &str) -> Option<u32> {
    let digits = name.strip_prefix(prefix)?.strip_prefix('-')?;
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The header of a file with this magic and format version.
#[must_use]
pub fn file_header(magic: &[u8; 8], version: u32) -> [u8; FILE_HEADER_BYTES as usize] {
    let mut h = [0u8; FILE_HEADER_BYTES as usize];
    h[..8].copy_from_slice(magic);
    h[8..12].copy_from_slice(&version.to_le_bytes());
    let crc = crc32c::crc32c(&h[..12]);
    h[12..].copy_from_slice(&crc.to_le_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_refused() {
        assert_eq!(file_name("log", 7), "log-00000007");
        assert_eq!(parse_file_name("log", "log-00000007"), Some(7));
        assert_eq!(parse_file_name("img", "log-00000007"), None);
        assert_eq!(parse_file_name("log", "log-7"), None);
        assert_eq!(parse_file_name("log", "log-0000000x"), None);
        assert_ne!(file_header(b"BRLSLOG\0", 1), file_header(b"BRLSIMG\0", 1));
    }
}
