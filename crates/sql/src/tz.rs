//! Named time zones with their real rules, read from the system's compiled time zone database.
//!
//! A zone file is TZif (RFC 8536): a header, a table of transitions (UTC instants at which the
//! local time type changes), the local time types (offset east of UTC, daylight saving or not,
//! abbreviation) and, from version 2 on, the same data again with 64-bit times followed by a
//! footer: a POSIX `TZ` string (`EST5EDT,M3.2.0,M11.1.0`) that gives the rule for every instant
//! after the last transition. Version 1 files have only the 32-bit block.
//!
//! ```text
//!   "TZif" version(1) reserved(15) isutcnt isstdcnt leapcnt timecnt typecnt charcnt (u32 BE)
//!   v1 block: timecnt×time32 | timecnt×u8 type | typecnt×(i32 utoff, u8 isdst, u8 abbrind)
//!             | charcnt abbreviation bytes | leapcnt×8 | isstdcnt | isutcnt
//!   v2+:      a second header, the block again with time64 and leapcnt×12, then "\nTZ\n"
//! ```
//!
//! Files come from outside the database, so they are untrusted input: every count is bounded
//! (`FILE_BYTES_MAX`, `TRANSITIONS_MAX`, …), every index is checked, and a bad file is an error
//! naming what is wrong, never a panic. Zones that count leap seconds (`right/…`) are refused, as
//! PostgreSQL refuses them.
//!
//! The database is the directory named by the `TZDIR` environment variable, else
//! `/usr/share/zoneinfo`. A zone name is looked up case-insensitively, one path component at a
//! time (`america/new_york` finds `America/New_York`, which becomes its canonical name); names
//! that could leave the directory (`..`, an absolute path) are refused. Parsed zones are cached
//! (at most `CACHE_ENTRIES_MAX` names, misses included); a name that is not a file may still be a
//! POSIX `TZ` string with daylight saving rules, which [`parse_posix`] reads.
//!
//! Local time to UTC follows PostgreSQL (`DetermineTimeZoneOffset`): take the offset in effect
//! a day before the local time read as UTC and the first transition after that; when the local
//! time falls inside the transition, a spring-forward gap takes the offset before it (so
//! `02:30` on a spring-forward night is read as standard time and prints as `03:30` daylight
//! time) and a fall-back overlap takes the offset after it (standard time).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Largest zone file read (real ones are below 4 KiB).
const FILE_BYTES_MAX: u64 = 256 * 1024;
/// Most transitions a zone file may hold.
const TRANSITIONS_MAX: usize = 8192;
/// Most local time types a zone file may hold (TZif indexes them with a byte).
const TYPES_MAX: usize = 256;
/// Most abbreviation bytes a zone file may hold.
const ABBREVIATION_BYTES_MAX: usize = 1024;
/// Most zone names remembered by the cache (found or not).
const CACHE_ENTRIES_MAX: usize = 2048;
/// Longest zone name looked up (PostgreSQL's `TZ_STRLEN_MAX`).
pub const NAME_LEN_MAX: usize = 255;
/// Most path components in a zone name.
const NAME_COMPONENTS_MAX: usize = 8;
/// Most files listed by [`list_zone_names`], and directories deep it goes.
const LISTED_FILES_MAX: usize = 8192;
const LISTED_DEPTH_MAX: usize = 4;
/// Offsets beyond a day are not local times (RFC 8536 bounds them to -89999 ..= 93599).
const OFFSET_ABS_MAX_SECS: i32 = 93_599;

const SECS_PER_DAY: i64 = 86_400;

/// The default zone database directory.
pub const DEFAULT_TZDIR: &str = "/usr/share/zoneinfo";

/// What is wrong with a zone file or a `TZ` string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TzError {
    #[error("time zone file is corrupted: {0}")]
    Corrupted(String),
    #[error("time zone \"{0}\" appears to use leap seconds")]
    LeapSeconds(String),
    #[error("invalid POSIX time zone specification: {0}")]
    BadPosix(String),
}

fn corrupt(what: &str) -> TzError {
    TzError::Corrupted(what.to_string())
}

/// One local time type: an offset east of UTC, whether it is daylight saving time, its
/// abbreviation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalType {
    pub east_secs: i32,
    pub is_dst: bool,
    pub abbreviation: String,
}

/// The day a POSIX rule names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RuleDay {
    /// `Jn`: day 1..=365, February 29 never counted.
    Julian1(u16),
    /// `n`: day 0..=365, February 29 counted.
    Julian0(u16),
    /// `Mm.w.d`: day `d` (0 = Sunday) of week `w` (5 = last) of month `m`.
    MonthWeekDay { month: u8, week: u8, weekday: u8 },
}

/// A transition rule: a day and a local time of day (seconds, possibly negative or beyond a
/// day, as version 3 allows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rule {
    day: RuleDay,
    secs: i32,
}

/// A POSIX `TZ` string: standard time, and optionally daylight saving time with its rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PosixTz {
    standard: LocalType,
    daylight: Option<(LocalType, Rule, Rule)>,
}

/// A zone's rules: transitions from its file, then its POSIX footer.
#[derive(Debug, PartialEq, Eq)]
pub struct TimeZone {
    /// The canonical name (`America/New_York`), or the POSIX string as given.
    pub name: String,
    /// Transition instants, seconds since 1970 UTC, strictly increasing.
    transitions: Vec<i64>,
    /// The local time type each transition starts (indexes into `types`).
    transition_types: Vec<u8>,
    types: Vec<LocalType>,
    footer: Option<PosixTz>,
}

impl TimeZone {
    /// The local time type in effect at a UTC instant (seconds).
    #[must_use]
    pub fn type_at(&self, utc_secs: i64) -> &LocalType {
        let n = self.transitions.partition_point(|&t| t <= utc_secs);
        if n == self.transitions.len()
            && let Some(f) = &self.footer
        {
            return f.type_at(utc_secs);
        }
        if n == 0 {
            // Before the first transition: time type 0 (RFC 8536 §3.2).
            return &self.types[0];
        }
        &self.types[usize::from(self.transition_types[n - 1])]
    }

    /// The offset east of UTC, in seconds, at a UTC instant.
    #[must_use]
    pub fn east_secs_at(&self, utc_secs: i64) -> i32 {
        self.type_at(utc_secs).east_secs
    }

    /// The type in effect at `t` and the first transition strictly after it (its instant and
    /// the type it starts), as PostgreSQL's `pg_next_dst_boundary` finds them.
    fn boundary_after(&self, t: i64) -> (&LocalType, Option<(i64, &LocalType)>) {
        let n = self.transitions.partition_point(|&x| x <= t);
        if n < self.transitions.len() {
            let before = if n == 0 {
                &self.types[0]
            } else {
                &self.types[usize::from(self.transition_types[n - 1])]
            };
            let after = &self.types[usize::from(self.transition_types[n])];
            return (before, Some((self.transitions[n], after)));
        }
        match &self.footer {
            Some(f) => f.boundary_after(t),
            None => (self.type_at(t), None),
        }
    }

    /// The UTC instant (seconds) of a local time (seconds since 1970 read as if UTC), with
    /// PostgreSQL's choice inside transitions: a gap takes the offset before it, an overlap
    /// the offset after it.
    #[must_use]
    pub fn utc_of_local(&self, local_secs: i64) -> i64 {
        local_secs - i64::from(self.east_secs_of_local(local_secs))
    }

    /// The offset (east, seconds) that applies to a local time (see [`Self::utc_of_local`]).
    #[must_use]
    pub fn east_secs_of_local(&self, local_secs: i64) -> i32 {
        let prev = local_secs.saturating_sub(SECS_PER_DAY);
        let (before, next) = self.boundary_after(prev);
        let Some((boundary, after)) = next else {
            return before.east_secs;
        };
        let before_time = local_secs - i64::from(before.east_secs);
        let after_time = local_secs - i64::from(after.east_secs);
        if before_time < boundary && after_time < boundary {
            return before.east_secs;
        }
        if before_time > boundary && after_time >= boundary {
            return after.east_secs;
        }
        if before_time > after_time {
            before.east_secs
        } else {
            after.east_secs
        }
    }

    /// Whether the zone has a single local time type: no transitions, no daylight saving time.
    #[must_use]
    pub fn is_fixed(&self) -> bool {
        self.transitions.is_empty()
            && self.footer.as_ref().is_none_or(|f| f.daylight.is_none())
            && self.types.len() == 1
    }
}

// ---------------------------------------------------------------------------------------------
// POSIX TZ strings.

impl PosixTz {
    fn type_at(&self, utc_secs: i64) -> &LocalType {
        let Some((dst, start, end)) = &self.daylight else {
            return &self.standard;
        };
        let year = year_of(utc_secs + i64::from(self.standard.east_secs));
        let (s, e) = self.switches(year, start, end, dst);
        let in_dst = if s < e {
            utc_secs >= s && utc_secs < e
        } else {
            !(utc_secs >= e && utc_secs < s)
        };
        if in_dst { dst } else { &self.standard }
    }

    /// The UTC instants at which daylight saving time starts and ends in `year`.
    fn switches(&self, year: i64, start: &Rule, end: &Rule, dst: &LocalType) -> (i64, i64) {
        // A start is written in standard local time, an end in daylight local time.
        let s = rule_local_secs(year, start) - i64::from(self.standard.east_secs);
        let e = rule_local_secs(year, end) - i64::from(dst.east_secs);
        (s, e)
    }

    fn boundary_after(&self, t: i64) -> (&LocalType, Option<(i64, &LocalType)>) {
        let before = self.type_at(t);
        let Some((dst, start, end)) = &self.daylight else {
            return (before, None);
        };
        let year = year_of(t + i64::from(self.standard.east_secs));
        let mut best: Option<(i64, &LocalType)> = None;
        for y in year - 1..=year + 1 {
            let (s, e) = self.switches(y, start, end, dst);
            for (at, ty) in [(s, dst), (e, &self.standard)] {
                if at > t && best.is_none_or(|(b, _)| at < b) {
                    best = Some((at, ty));
                }
            }
        }
        (before, best)
    }
}

/// The year (proleptic Gregorian) of an instant's day.
fn year_of(secs: i64) -> i64 {
    crate::datetime::civil_from_days(secs.div_euclid(SECS_PER_DAY)).0
}

fn is_leap(y: i64) -> bool {
    y.rem_euclid(4) == 0 && (y.rem_euclid(100) != 0 || y.rem_euclid(400) == 0)
}

/// Seconds since 1970 (local, read as UTC) at which a rule fires in `year`.
fn rule_local_secs(year: i64, rule: &Rule) -> i64 {
    let jan1 = crate::datetime::days_from_civil(year, 1, 1);
    let day = match rule.day {
        RuleDay::Julian1(n) => {
            let n = i64::from(n);
            // Days from 1 to 365, February 29 skipped.
            jan1 + n - 1 + i64::from(is_leap(year) && n >= 60)
        }
        RuleDay::Julian0(n) => jan1 + i64::from(n),
        RuleDay::MonthWeekDay {
            month,
            week,
            weekday,
        } => {
            let m = i64::from(month);
            let first = crate::datetime::days_from_civil(year, m, 1);
            // 1970-01-01 was a Thursday (weekday 4).
            let first_wd = (first + 4).rem_euclid(7);
            let mut d = first + (i64::from(weekday) - first_wd).rem_euclid(7);
            let len = match m {
                2 if is_leap(year) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            for _ in 1..week {
                if d + 7 >= first + len {
                    break;
                }
                d += 7;
            }
            d
        }
    };
    day * SECS_PER_DAY + i64::from(rule.secs)
}

/// A cursor over a POSIX `TZ` string.
struct Posix<'a> {
    s: &'a [u8],
    i: usize,
}

impl Posix<'_> {
    fn bad(&self, what: &str) -> TzError {
        TzError::BadPosix(format!("{what} at byte {}", self.i))
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// A zone abbreviation: three or more letters, or `<…>` of letters, digits and signs.
    fn name(&mut self) -> Result<String, TzError> {
        let start = self.i;
        if self.peek() == Some(b'<') {
            self.i += 1;
            let from = self.i;
            while let Some(c) = self.peek() {
                if c == b'>' {
                    let n = String::from_utf8_lossy(&self.s[from..self.i]).into_owned();
                    self.i += 1;
                    if n.len() < 3 {
                        return Err(self.bad("abbreviation too short"));
                    }
                    return Ok(n);
                }
                if !(c.is_ascii_alphanumeric() || c == b'+' || c == b'-') {
                    return Err(self.bad("bad character in abbreviation"));
                }
                self.i += 1;
            }
            return Err(self.bad("unterminated abbreviation"));
        }
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.i += 1;
        }
        if self.i - start < 3 {
            return Err(self.bad("abbreviation too short"));
        }
        Ok(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    fn number(&mut self, max: i64) -> Result<i64, TzError> {
        let start = self.i;
        let mut n: i64 = 0;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            n = n * 10 + i64::from(c - b'0');
            if n > max {
                return Err(self.bad("number out of range"));
            }
            self.i += 1;
        }
        if self.i == start {
            return Err(self.bad("number expected"));
        }
        Ok(n)
    }

    /// `[+-]hh[:mm[:ss]]` as seconds, with the sign as written; `hours_max` bounds the hours.
    fn hms(&mut self, hours_max: i64) -> Result<i64, TzError> {
        let neg = match self.peek() {
            Some(b'-') => {
                self.i += 1;
                true
            }
            Some(b'+') => {
                self.i += 1;
                false
            }
            _ => false,
        };
        let mut secs = self.number(hours_max)? * 3600;
        for scale in [60, 1] {
            if self.peek() != Some(b':') {
                break;
            }
            self.i += 1;
            secs += self.number(59)? * scale;
        }
        Ok(if neg { -secs } else { secs })
    }

    fn rule(&mut self) -> Result<Rule, TzError> {
        let day = match self.peek() {
            Some(b'J') => {
                self.i += 1;
                let n = self.number(365)?;
                if n == 0 {
                    return Err(self.bad("Julian day out of range"));
                }
                RuleDay::Julian1(n as u16)
            }
            Some(b'M') => {
                self.i += 1;
                let month = self.number(12)?;
                self.expect(b'.')?;
                let week = self.number(5)?;
                self.expect(b'.')?;
                let weekday = self.number(6)?;
                if month == 0 || week == 0 {
                    return Err(self.bad("month or week out of range"));
                }
                RuleDay::MonthWeekDay {
                    month: month as u8,
                    week: week as u8,
                    weekday: weekday as u8,
                }
            }
            _ => RuleDay::Julian0(self.number(365)? as u16),
        };
        // The time of day: 02:00 unless given; version 3 allows -167 ..= 167 hours.
        let secs = if self.peek() == Some(b'/') {
            self.i += 1;
            self.hms(167)?
        } else {
            7200
        };
        Ok(Rule {
            day,
            secs: secs as i32,
        })
    }

    fn expect(&mut self, c: u8) -> Result<(), TzError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.bad(&format!("'{}' expected", char::from(c))))
        }
    }
}

/// Reads a POSIX `TZ` string (`EST5EDT,M3.2.0,M11.1.0`, `<+03>-3`, `AEST-10AEDT,M10.1.0,M4.1.0/3`).
/// Offsets are written west of UTC; daylight time defaults to one hour ahead of standard time
/// and, without rules, to the United States' rules (`M3.2.0,M11.1.0`), as PostgreSQL defaults.
pub fn parse_posix(s: &str) -> Result<PosixTz, TzError> {
    if s.len() > NAME_LEN_MAX {
        return Err(TzError::BadPosix("too long".into()));
    }
    let mut p = Posix {
        s: s.as_bytes(),
        i: 0,
    };
    let std_name = p.name()?;
    let std_west = p.hms(24)?;
    let standard = LocalType {
        east_secs: -std_west as i32,
        is_dst: false,
        abbreviation: std_name,
    };
    if p.peek().is_none() {
        return Ok(PosixTz {
            standard,
            daylight: None,
        });
    }
    let dst_name = p.name()?;
    let dst_west = match p.peek() {
        Some(c) if c != b',' => p.hms(24)?,
        _ => std_west - 3600,
    };
    let daylight = LocalType {
        east_secs: -dst_west as i32,
        is_dst: true,
        abbreviation: dst_name,
    };
    let (start, end) = if p.peek().is_none() {
        let mut d = Posix {
            s: b"M3.2.0,M11.1.0",
            i: 0,
        };
        let a = d.rule()?;
        d.expect(b',')?;
        (a, d.rule()?)
    } else {
        p.expect(b',')?;
        let a = p.rule()?;
        p.expect(b',')?;
        (a, p.rule()?)
    };
    if p.peek().is_some() {
        return Err(p.bad("trailing characters"));
    }
    Ok(PosixTz {
        standard,
        daylight: Some((daylight, start, end)),
    })
}

/// A zone of a POSIX `TZ` string's rules alone, named by the string.
#[must_use]
pub fn posix_zone(name: &str, tz: PosixTz) -> TimeZone {
    TimeZone {
        name: name.to_string(),
        transitions: Vec::new(),
        transition_types: Vec::new(),
        types: vec![tz.standard.clone()],
        footer: Some(tz),
    }
}

/// A zone of one fixed offset (seconds east) with an abbreviation, named `name`: what a
/// numeric or POSIX `TimeZone` setting without daylight saving time stands for.
#[must_use]
pub fn fixed_zone(name: &str, east_secs: i32, abbreviation: &str) -> TimeZone {
    TimeZone {
        name: name.to_string(),
        transitions: Vec::new(),
        transition_types: Vec::new(),
        types: vec![LocalType {
            east_secs,
            is_dst: false,
            abbreviation: abbreviation.to_string(),
        }],
        footer: None,
    }
}

// ---------------------------------------------------------------------------------------------
// TZif files.

/// A bounds-checked reader of a byte slice.
struct Bytes<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TzError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| corrupt("file is truncated"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, TzError> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn i32(&mut self) -> Result<i32, TzError> {
        Ok(self.u32()? as i32)
    }

    fn i64(&mut self) -> Result<i64, TzError> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(i64::from_be_bytes(a))
    }
}

#[derive(Clone, Copy)]
struct Header {
    version: u8,
    isutcnt: usize,
    isstdcnt: usize,
    leapcnt: usize,
    timecnt: usize,
    typecnt: usize,
    charcnt: usize,
}

fn header(r: &mut Bytes<'_>) -> Result<Header, TzError> {
    if r.take(4)? != b"TZif" {
        return Err(corrupt("not a TZif file"));
    }
    let version = r.take(1)?[0];
    if !matches!(version, 0 | b'2' | b'3' | b'4') {
        return Err(corrupt("unknown version"));
    }
    r.take(15)?;
    let mut n = [0usize; 6];
    for x in &mut n {
        *x = r.u32()? as usize;
    }
    let h = Header {
        version,
        isutcnt: n[0],
        isstdcnt: n[1],
        leapcnt: n[2],
        timecnt: n[3],
        typecnt: n[4],
        charcnt: n[5],
    };
    if h.typecnt == 0 || h.typecnt > TYPES_MAX {
        return Err(corrupt("bad number of local time types"));
    }
    if h.timecnt > TRANSITIONS_MAX
        || h.charcnt == 0
        || h.charcnt > ABBREVIATION_BYTES_MAX
        || h.leapcnt > TRANSITIONS_MAX
        || (h.isutcnt != 0 && h.isutcnt != h.typecnt)
        || (h.isstdcnt != 0 && h.isstdcnt != h.typecnt)
    {
        return Err(corrupt("bad counts in header"));
    }
    Ok(h)
}

/// Reads a TZif file's contents into a zone called `name`.
pub fn parse_tzif(name: &str, data: &[u8]) -> Result<TimeZone, TzError> {
    let mut r = Bytes { b: data, at: 0 };
    let h1 = header(&mut r)?;
    let (h, time_len) = if h1.version == 0 {
        (h1, 4)
    } else {
        // Skip the version 1 block; the 64-bit block follows with its own header.
        let v1_len = h1.timecnt * 5
            + h1.typecnt * 6
            + h1.charcnt
            + h1.leapcnt * 8
            + h1.isstdcnt
            + h1.isutcnt;
        r.take(v1_len)?;
        (header(&mut r)?, 8)
    };
    if h.leapcnt != 0 {
        return Err(TzError::LeapSeconds(name.to_string()));
    }
    let mut transitions = Vec::with_capacity(h.timecnt);
    for _ in 0..h.timecnt {
        let t = if time_len == 4 {
            i64::from(r.i32()?)
        } else {
            r.i64()?
        };
        if transitions.last().is_some_and(|&p| t <= p) {
            return Err(corrupt("transitions out of order"));
        }
        transitions.push(t);
    }
    let transition_types = r.take(h.timecnt)?.to_vec();
    if transition_types
        .iter()
        .any(|&t| usize::from(t) >= h.typecnt)
    {
        return Err(corrupt("transition names a missing local time type"));
    }
    let mut raw_types = Vec::with_capacity(h.typecnt);
    for _ in 0..h.typecnt {
        let off = r.i32()?;
        let dst = r.take(2)?;
        if off.checked_abs().is_none_or(|a| a > OFFSET_ABS_MAX_SECS) {
            return Err(corrupt("offset out of range"));
        }
        if dst[0] > 1 {
            return Err(corrupt("bad daylight saving flag"));
        }
        raw_types.push((off, dst[0] == 1, usize::from(dst[1])));
    }
    let chars = r.take(h.charcnt)?;
    let mut types = Vec::with_capacity(h.typecnt);
    for (off, dst, idx) in raw_types {
        if idx >= chars.len() {
            return Err(corrupt("abbreviation index out of range"));
        }
        let end = chars[idx..]
            .iter()
            .position(|&c| c == 0)
            .ok_or_else(|| corrupt("abbreviation not terminated"))?;
        let abbreviation = std::str::from_utf8(&chars[idx..idx + end])
            .map_err(|_| corrupt("abbreviation is not UTF-8"))?
            .to_string();
        types.push(LocalType {
            east_secs: off,
            is_dst: dst,
            abbreviation,
        });
    }
    r.take(h.isstdcnt + h.isutcnt)?;
    let mut footer = None;
    if h.version != 0 {
        let rest = &data[r.at..];
        let (first, tail) = rest
            .split_first()
            .ok_or_else(|| corrupt("footer missing"))?;
        if *first != b'\n' {
            return Err(corrupt("footer missing"));
        }
        let end = tail
            .iter()
            .position(|&c| c == b'\n')
            .ok_or_else(|| corrupt("footer not terminated"))?;
        let text = std::str::from_utf8(&tail[..end]).map_err(|_| corrupt("footer is not UTF-8"))?;
        if !text.is_empty() {
            footer = Some(parse_posix(text).map_err(|e| corrupt(&format!("footer: {e}")))?);
        }
    }
    Ok(TimeZone {
        name: name.to_string(),
        transitions,
        transition_types,
        types,
        footer,
    })
}

// ---------------------------------------------------------------------------------------------
// The database directory and the cache.

/// The zone database directory: `TZDIR`, else the standard location.
#[must_use]
pub fn tzdir() -> PathBuf {
    std::env::var_os("TZDIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_TZDIR), PathBuf::from)
}

/// Finds a zone file under `dir`, matching each component case-insensitively (an exact match
/// first); returns its path and canonical name.
fn find_file(dir: &Path, name: &str) -> Option<(PathBuf, String)> {
    if name.is_empty() || name.len() > NAME_LEN_MAX || name.starts_with('/') {
        return None;
    }
    let parts: Vec<&str> = name.split('/').collect();
    if parts.len() > NAME_COMPONENTS_MAX
        || parts
            .iter()
            .any(|p| p.is_empty() || *p == "." || *p == ".." || p.contains('\0'))
    {
        return None;
    }
    let mut path = dir.to_path_buf();
    let mut canonical = Vec::with_capacity(parts.len());
    for part in parts {
        let exact = path.join(part);
        if exact.exists() {
            path = exact;
            canonical.push(part.to_string());
            continue;
        }
        let found = std::fs::read_dir(&path)
            .ok()?
            .take(LISTED_FILES_MAX)
            .filter_map(Result::ok)
            .find(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(part))
            })?;
        canonical.push(found.file_name().to_str()?.to_string());
        path = found.path();
    }
    path.is_file().then(|| (path, canonical.join("/")))
}

/// Reads and parses the zone `name` from `dir`. `Ok(None)` when there is no such file.
pub fn load_from(dir: &Path, name: &str) -> Result<Option<TimeZone>, TzError> {
    let Some((path, canonical)) = find_file(dir, name) else {
        return Ok(None);
    };
    let Ok(meta) = std::fs::metadata(&path) else {
        return Ok(None);
    };
    if meta.len() > FILE_BYTES_MAX {
        return Err(corrupt("file too large"));
    }
    let Ok(data) = std::fs::read(&path) else {
        return Ok(None);
    };
    parse_tzif(&canonical, &data).map(Some)
}

type Cache = Mutex<HashMap<String, Result<Option<Arc<TimeZone>>, TzError>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The zone called `name` in the database (cached). `Ok(None)` when there is no such zone
/// file (or no database).
pub fn lookup(name: &str) -> Result<Option<Arc<TimeZone>>, TzError> {
    let key = name.to_ascii_lowercase();
    if let Some(hit) = cache().lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return hit.clone();
    }
    let found = load_from(&tzdir(), name).map(|z| z.map(Arc::new));
    let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
    if c.len() < CACHE_ENTRIES_MAX {
        c.insert(key, found.clone());
    }
    found
}

/// The names of every zone in the database that loads (leap-second zones and files that are
/// not zones left out), sorted.
#[must_use]
pub fn list_zone_names() -> Vec<String> {
    let root = tzdir();
    let mut out = Vec::new();
    let mut stack = vec![(root.clone(), 0usize)];
    let mut seen = 0usize;
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.filter_map(Result::ok) {
            seen += 1;
            if seen > LISTED_FILES_MAX {
                break;
            }
            let path = e.path();
            let Some(fname) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if fname.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                if depth + 1 < LISTED_DEPTH_MAX {
                    stack.push((path, depth + 1));
                }
                continue;
            }
            let Ok(rel) = path.strip_prefix(&root) else {
                continue;
            };
            let Some(rel) = rel.to_str() else {
                continue;
            };
            let mut head = [0u8; 4];
            let is_tzif = std::fs::File::open(&path)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
                .is_ok()
                && &head == b"TZif";
            if is_tzif && lookup(rel).is_ok_and(|z| z.is_some()) {
                out.push(rel.to_string());
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version 2 TZif file with the given transitions (64-bit block only meaningful) and
    /// footer.
    fn tzif(transitions: &[(i64, u8)], types: &[(i32, bool, &str)], footer: &str) -> Vec<u8> {
        let mut chars = Vec::new();
        let mut idx = Vec::new();
        for (_, _, a) in types {
            idx.push(chars.len() as u8);
            chars.extend_from_slice(a.as_bytes());
            chars.push(0);
        }
        let block = |wide: bool| {
            let mut b = Vec::new();
            b.extend_from_slice(b"TZif2");
            b.extend_from_slice(&[0; 15]);
            for n in [0, 0, 0, transitions.len(), types.len(), chars.len()] {
                b.extend_from_slice(&(n as u32).to_be_bytes());
            }
            for (t, _) in transitions {
                if wide {
                    b.extend_from_slice(&t.to_be_bytes());
                } else {
                    b.extend_from_slice(&(*t as i32).to_be_bytes());
                }
            }
            for (_, ty) in transitions {
                b.push(*ty);
            }
            for (i, (off, dst, _)) in types.iter().enumerate() {
                b.extend_from_slice(&off.to_be_bytes());
                b.push(u8::from(*dst));
                b.push(idx[i]);
            }
            b.extend_from_slice(&chars);
            b
        };
        let mut out = block(false);
        out.extend(block(true));
        out.push(b'\n');
        out.extend_from_slice(footer.as_bytes());
        out.push(b'\n');
        out
    }

    fn ts(s: &str) -> i64 {
        crate::datetime::parse_timestamp(s).unwrap() / 1_000_000
    }

    fn new_york() -> TimeZone {
        // LMT until 1883-11-18 17:00 UTC, then EST; 2007-03-11 07:00 UTC EDT, 2007-11-04
        // 06:00 UTC EST; the footer for the rest.
        let data = tzif(
            &[
                (ts("1883-11-18 17:00:00"), 1),
                (ts("2007-03-11 07:00:00"), 2),
                (ts("2007-11-04 06:00:00"), 1),
            ],
            &[
                (-17_762, false, "LMT"),
                (-18_000, false, "EST"),
                (-14_400, true, "EDT"),
            ],
            "EST5EDT,M3.2.0,M11.1.0",
        );
        parse_tzif("America/New_York", &data).unwrap()
    }

    #[test]
    fn tzif_transitions_and_footer_give_the_offsets() {
        let z = new_york();
        assert_eq!(z.type_at(ts("1800-01-01 00:00:00")).abbreviation, "LMT");
        assert_eq!(z.east_secs_at(ts("2007-07-01 00:00:00")), -14_400);
        assert_eq!(z.east_secs_at(ts("2007-12-01 00:00:00")), -18_000);
        // Past the last transition the footer's rule applies: 2024-03-10 07:00 UTC.
        assert_eq!(z.east_secs_at(ts("2024-03-10 06:59:59")), -18_000);
        assert_eq!(z.east_secs_at(ts("2024-03-10 07:00:00")), -14_400);
        assert_eq!(z.type_at(ts("2024-11-03 05:59:59")).abbreviation, "EDT");
        assert_eq!(z.type_at(ts("2024-11-03 06:00:00")).abbreviation, "EST");
        // A gap reads as the offset before it, an overlap as the offset after it.
        assert_eq!(
            z.utc_of_local(ts("2024-03-10 02:30:00")),
            ts("2024-03-10 07:30:00")
        );
        assert_eq!(
            z.utc_of_local(ts("2024-11-03 01:30:00")),
            ts("2024-11-03 06:30:00")
        );
        assert_eq!(
            z.utc_of_local(ts("2007-03-11 02:30:00")),
            ts("2007-03-11 07:30:00")
        );
        assert_eq!(
            z.utc_of_local(ts("2024-07-01 12:00:00")),
            ts("2024-07-01 16:00:00")
        );
    }

    #[test]
    fn posix_strings_read_southern_rules_and_defaults() {
        let z = posix_zone(
            "AEST-10AEDT,M10.1.0,M4.1.0/3",
            parse_posix("AEST-10AEDT,M10.1.0,M4.1.0/3").unwrap(),
        );
        assert_eq!(z.east_secs_at(ts("2024-01-15 00:00:00")), 11 * 3600);
        assert_eq!(z.east_secs_at(ts("2024-07-15 00:00:00")), 10 * 3600);
        // DST ends 2024-04-07 03:00 AEDT = 2024-04-06 16:00 UTC.
        assert_eq!(z.east_secs_at(ts("2024-04-06 15:59:59")), 11 * 3600);
        assert_eq!(z.east_secs_at(ts("2024-04-06 16:00:00")), 10 * 3600);
        let p = parse_posix("<+03>-3").unwrap();
        assert_eq!(p.standard.east_secs, 3 * 3600);
        assert_eq!(p.standard.abbreviation, "+03");
        let d = parse_posix("XYZ3ABC").unwrap();
        let (dst, start, _) = d.daylight.unwrap();
        assert_eq!(dst.east_secs, -2 * 3600);
        assert_eq!(
            start.day,
            RuleDay::MonthWeekDay {
                month: 3,
                week: 2,
                weekday: 0
            }
        );
        for bad in [
            "",
            "E5",
            "EST",
            "EST5EDT,M13.1.0,M11.1.0",
            "EST5EDT,M3.2.0",
            "<+03-3",
            "EST5x",
        ] {
            assert!(parse_posix(bad).is_err(), "{bad}");
        }
        // Julian days: J60 is March 1 in every year.
        let j = Rule {
            day: RuleDay::Julian1(60),
            secs: 0,
        };
        assert_eq!(rule_local_secs(2024, &j), ts("2024-03-01 00:00:00"));
        assert_eq!(rule_local_secs(2023, &j), ts("2023-03-01 00:00:00"));
    }

    #[test]
    fn malformed_files_are_errors_not_panics() {
        let good = tzif(&[(0, 0)], &[(3600, false, "ABC")], "ABC-1");
        assert!(parse_tzif("x", &good).is_ok());
        // Every truncation of a good file is refused.
        for n in 0..good.len() - 1 {
            assert!(parse_tzif("x", &good[..n]).is_err(), "truncated at {n}");
        }
        let bad_magic = [b"TZXX".as_slice(), &good[4..]].concat();
        assert!(matches!(
            parse_tzif("x", &bad_magic),
            Err(TzError::Corrupted(_))
        ));
        // A transition naming a type that does not exist.
        let bad_type = tzif(&[(0, 5)], &[(3600, false, "ABC")], "ABC-1");
        assert!(parse_tzif("x", &bad_type).is_err());
        // Transitions out of order.
        let unordered = tzif(&[(10, 0), (5, 0)], &[(3600, false, "ABC")], "ABC-1");
        assert!(parse_tzif("x", &unordered).is_err());
        // An absurd offset, a bad footer.
        assert!(parse_tzif("x", &tzif(&[], &[(200_000, false, "ABC")], "")).is_err());
        assert!(parse_tzif("x", &tzif(&[], &[(0, false, "ABC")], "ABC?")).is_err());
        // Huge counts are refused before anything is allocated.
        let mut huge = good.clone();
        huge[32..36].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse_tzif("x", &huge).is_err());
        // Random bytes after a valid header never panic.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            let mut f = good.clone();
            for _ in 0..4 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let at = (seed % f.len() as u64) as usize;
                f[at] = (seed >> 32) as u8;
            }
            let _ = parse_tzif("x", &f);
        }
    }

    #[test]
    fn leap_second_zones_are_refused() {
        let mut f = tzif(&[], &[(0, false, "UTC")], "UTC0");
        // Set the second header's leapcnt to 1 and append a leap record: the parser must say
        // why, before reading further.
        let second = f.windows(5).rposition(|w| w == b"TZif2").unwrap();
        f[second + 28..second + 32].copy_from_slice(&1u32.to_be_bytes());
        assert!(matches!(
            parse_tzif("right/UTC", &f),
            Err(TzError::LeapSeconds(_))
        ));
    }

    #[test]
    fn zones_are_found_case_insensitively_under_the_directory() {
        let dir = std::env::temp_dir().join(format!("borealis-tz-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("Mars")).unwrap();
        let data = tzif(&[], &[(3600, false, "MST")], "MST-1");
        std::fs::write(dir.join("Mars").join("Olympus_Mons"), &data).unwrap();
        std::fs::write(dir.join("Mars").join("Broken"), &data[..data.len() / 2]).unwrap();
        let z = load_from(&dir, "mars/olympus_mons").unwrap().unwrap();
        assert_eq!(z.name, "Mars/Olympus_Mons");
        assert_eq!(z.east_secs_at(0), 3600);
        assert!(z.is_fixed());
        assert!(matches!(
            load_from(&dir, "Mars/Broken"),
            Err(TzError::Corrupted(_))
        ));
        assert_eq!(load_from(&dir, "Mars/Valles"), Ok(None));
        // No database at all: no zone, and no error.
        assert_eq!(
            load_from(&dir.join("missing"), "Mars/Olympus_Mons"),
            Ok(None)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_cannot_leave_the_directory() {
        let dir = std::env::temp_dir();
        for bad in ["../etc/passwd", "/etc/passwd", "a//b", "", "./x"] {
            assert!(find_file(&dir, bad).is_none(), "{bad}");
        }
    }
}
