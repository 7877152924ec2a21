//! Dates, times, time stamps and intervals with PostgreSQL 15's semantics: their text forms
//! (DateStyle `ISO, MDY`, IntervalStyle `postgres`), calendar arithmetic, time zones, and the
//! date/time functions (`extract`, `date_trunc`, `age`, `to_char`, `make_*`, …).
//!
//! Representations (all in the proleptic Gregorian calendar, year 0 being 1 BC):
//!
//! ```text
//!   date         i32  days since 1970-01-01          i32::MIN/MAX = -infinity/infinity
//!   timestamp    i64  µs since 1970-01-01 (no zone)  i64::MIN/MAX = -infinity/infinity
//!   timestamptz  i64  µs since 1970-01-01 UTC        i64::MIN/MAX = -infinity/infinity
//!   time         i64  µs since midnight, 0 ..= 24:00:00
//!   timetz       i64  µs since midnight (local), i32 offset east of UTC in seconds
//!   interval     { months: i32, days: i32, micros: i64 }, kept apart as PostgreSQL keeps them
//! ```
//!
//! The wire's binary forms count from 2000-01-01 instead ([`PG_EPOCH_DAYS`]); the infinities
//! map to the same extremes there.
//!
//! A `timestamptz` prints in, and reads (when its text names no zone) in, the session's
//! `TimeZone`. Values have no session argument where they are read or printed (casts, COPY,
//! comparisons with an untyped string, the wire's text form), so the session installs its
//! [`Clock`] — zone, transaction start and statement start — on the thread that runs a
//! statement, for the statement's duration ([`install`]); the front end does the same around
//! encoding a result. Without one, UTC and the wall clock apply.
//!
//! A [`Zone`] is a fixed offset or a zone with rules. Fixed offsets read as PostgreSQL reads
//! them: a setting that is a number is hours east of UTC (`SET TIME ZONE 2`, `'+02'`); any
//! other offset is POSIX, hours *west* (`'UTC+3'` is three hours behind UTC, `'-05:30'` five and
//! a half ahead). Inside a date/time literal an offset is ISO (east). Named regions
//! (`Europe/Berlin`) come from the system's time zone database with their daylight saving rules
//! and historical offsets, and POSIX strings with rules (`EST5EDT,M3.2.0,M11.1.0`) are read as
//! such (see `tz.rs`). An instant prints with the offset in effect at it; a local time is read
//! with the offset PostgreSQL picks, also inside a transition's gap or overlap. `AT TIME ZONE`
//! and date/time literals also take a zone abbreviation (`PST`, a fixed offset); a `TimeZone`
//! setting does not, as in PostgreSQL.
//!
//! A declared precision (`timestamp(3)`, `interval(0)`) rounds the microseconds to that many
//! fractional digits, halves away from zero, on a cast and on assignment to a column, as
//! PostgreSQL's `Adjust*ForTypmod` do; a time stamp rounds from PostgreSQL's epoch, 2000-01-01
//! (so half a second before it rounds down), and `time(0)` may round up to `24:00:00`. An
//! interval's modifier keeps the precision in its low 16 bits beside a field range, which is
//! always the full range here (a field restriction such as `interval day to second` is not
//! applied).
//!
//! A `timetz` carries its own fixed offset; it orders by its UTC time of day, then by its
//! offset west of UTC, as PostgreSQL orders it. A `timetz` written without a zone, and a `time`
//! cast to one, take the session zone's offset on the transaction's date.

use crate::error::{SqlError, SqlResult};
use crate::types::{DataType, Numeric, Value};
use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::Arc;

pub const US_PER_SEC: i64 = 1_000_000;
pub const US_PER_MIN: i64 = 60 * US_PER_SEC;
pub const US_PER_HOUR: i64 = 60 * US_PER_MIN;
pub const US_PER_DAY: i64 = 24 * US_PER_HOUR;
/// Days from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
pub const PG_EPOCH_DAYS: i32 = 10_957;
/// `date` infinities.
pub const DATE_NEG_INF: i32 = i32::MIN;
pub const DATE_POS_INF: i32 = i32::MAX;
/// `timestamp`/`timestamptz` infinities.
pub const TS_NEG_INF: i64 = i64::MIN;
pub const TS_POS_INF: i64 = i64::MAX;
/// The first representable day, 4714-11-24 BC (Julian day 0).
const DATE_MIN_DAYS: i64 = days_from_civil(-4713, 11, 24);
/// The last representable date, 5874897-12-31.
const DATE_MAX_DAYS: i64 = days_from_civil(5_874_897, 12, 31);
/// Timestamps end where µs since 1970 run out of an i64 (late in the year 294246; the top
/// value itself is `infinity`): thirty years short of PostgreSQL's end, 294277-01-01, whose
/// count starts in 2000.
const TS_END_US: i64 = i64::MAX;
const TS_MIN_US: i64 = DATE_MIN_DAYS * US_PER_DAY;
/// Julian day number of 1970-01-01.
const UNIX_JULIAN_DAY: i64 = 2_440_588;
/// Longest input text a date/time parser looks at.
const INPUT_LEN_MAX: usize = 256;
/// Widest offset a zone may have, in seconds (PostgreSQL's limit).
const ZONE_OFFSET_MAX_SECS: i32 = 15 * 3600 + 59 * 60 + 59;

const _: () = assert!(TS_END_US > 0 && TS_MIN_US < 0);

/// Most fractional second digits a `time`, `timestamp` or `interval` keeps (microseconds); a
/// larger declared precision is reduced to it, as PostgreSQL reduces it (with a warning).
pub const SECOND_PRECISION_MAX: u64 = 6;
/// PostgreSQL's `INTERVAL_FULL_RANGE`: an interval modifier that restricts no fields, kept in
/// the modifier's upper half beside the precision.
const INTERVAL_FULL_RANGE: i32 = 0x7FFF;

/// The type modifier of a declared precision: `p` itself for the time and time stamp types,
/// `(full range << 16) | p` for `interval`, as PostgreSQL stores `atttypmod`.
#[must_use]
pub fn precision_typmod(p: u64, interval: bool) -> i32 {
    let p = i32::try_from(p.min(SECOND_PRECISION_MAX)).unwrap_or(6);
    if interval {
        (INTERVAL_FULL_RANGE << 16) | p
    } else {
        p
    }
}

/// The bits of an interval type's field restriction (`interval hour to minute`), as the upper
/// half of PostgreSQL's interval type modifier holds them (`INTERVAL_MASK` of its field
/// numbers).
pub mod interval_field {
    /// `month`.
    pub const MONTH: i32 = 1 << 1;
    /// `year`.
    pub const YEAR: i32 = 1 << 2;
    /// `day`.
    pub const DAY: i32 = 1 << 3;
    /// `hour`.
    pub const HOUR: i32 = 1 << 10;
    /// `minute`.
    pub const MINUTE: i32 = 1 << 11;
    /// `second`.
    pub const SECOND: i32 = 1 << 12;
}

/// PostgreSQL's `INTERVAL_FULL_PRECISION`: an interval modifier without a precision.
const INTERVAL_FULL_PRECISION: i32 = 0xFFFF;

/// The type modifier of `interval <fields>[(p)]`: the fields' bits (see [`interval_field`])
/// in the upper half, the precision (or none) in the lower, as PostgreSQL stores `atttypmod`.
#[must_use]
pub fn interval_typmod(range: i32, precision: Option<u64>) -> i32 {
    let p = precision.map_or(INTERVAL_FULL_PRECISION, |p| {
        i32::try_from(p.min(SECOND_PRECISION_MAX)).unwrap_or(6)
    });
    (range << 16) | p
}

/// The field restriction of an interval type modifier (see [`interval_field`]); `None` when
/// it keeps every field.
#[must_use]
pub fn interval_range(typmod: i32) -> Option<i32> {
    if typmod < 0 {
        return None;
    }
    let range = (typmod >> 16) & INTERVAL_FULL_RANGE;
    (range != INTERVAL_FULL_RANGE).then_some(range)
}

/// The fields a field restriction names, as a type's name spells them (`hour to minute`).
#[must_use]
pub fn interval_range_name(range: i32) -> Option<&'static str> {
    use interval_field::{DAY, HOUR, MINUTE, MONTH, SECOND, YEAR};
    Some(match range {
        YEAR => "year",
        MONTH => "month",
        DAY => "day",
        HOUR => "hour",
        MINUTE => "minute",
        SECOND => "second",
        r if r == YEAR | MONTH => "year to month",
        r if r == DAY | HOUR => "day to hour",
        r if r == DAY | HOUR | MINUTE => "day to minute",
        r if r == DAY | HOUR | MINUTE | SECOND => "day to second",
        r if r == HOUR | MINUTE => "hour to minute",
        r if r == HOUR | MINUTE | SECOND => "hour to second",
        r if r == MINUTE | SECOND => "minute to second",
        _ => return None,
    })
}

/// `iv` as a column or value of interval type modifier `typmod` holds it: the fields below its
/// last dropped (see [`truncate_interval_fields`]), then rounded to its precision.
#[must_use]
pub fn bound_interval(iv: Interval, typmod: i32) -> Interval {
    let iv = match interval_range(typmod) {
        Some(range) => truncate_interval_fields(iv, range),
        None => iv,
    };
    match typmod_precision(DataType::Interval, typmod) {
        Some(p) => Interval {
            micros: round_micros(iv.micros, p),
            ..iv
        },
        None => iv,
    }
}

/// Interval text read for type modifier `typmod`, as PostgreSQL's `interval_in` reads it with
/// one: its fields steer the reading (see [`parse_interval_in`]), then bound the value (see
/// [`bound_interval`]).
pub fn parse_interval_typmod(s: &str, typmod: i32) -> SqlResult<Interval> {
    Ok(bound_interval(
        parse_interval_in(s, interval_range(typmod))?,
        typmod,
    ))
}

/// Drops the fields of `iv` below the last one `range` keeps, toward zero, as PostgreSQL's
/// `AdjustIntervalForTypmod` does: `interval hour to minute` keeps months, days, hours and
/// minutes; `interval year` whole years only.
#[must_use]
pub fn truncate_interval_fields(iv: Interval, range: i32) -> Interval {
    use interval_field::{DAY, HOUR, MINUTE, MONTH, YEAR};
    let to = |unit: i64| iv.micros / unit * unit;
    match range {
        YEAR => Interval {
            months: iv.months / 12 * 12,
            days: 0,
            micros: 0,
        },
        r if r == MONTH || r == YEAR | MONTH => Interval {
            days: 0,
            micros: 0,
            ..iv
        },
        DAY => Interval { micros: 0, ..iv },
        r if r == HOUR || r == DAY | HOUR => Interval {
            micros: to(US_PER_HOUR),
            ..iv
        },
        r if r == MINUTE || r == HOUR | MINUTE || r == DAY | HOUR | MINUTE => Interval {
            micros: to(US_PER_MIN),
            ..iv
        },
        _ => iv,
    }
}

/// A unit of interval input (`1 day`, `3 mins`), under any of the spellings PostgreSQL reads.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum IntervalUnit {
    Microsecond,
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
    Decade,
    Century,
    Millennium,
}

impl IntervalUnit {
    fn parse(word: &str) -> Option<IntervalUnit> {
        use IntervalUnit::*;
        Some(match word {
            "microsecond" | "microseconds" | "us" | "usec" | "usecs" | "useconds" => Microsecond,
            "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" | "mseconds" => Millisecond,
            "second" | "seconds" | "s" | "sec" | "secs" => Second,
            "minute" | "minutes" | "m" | "min" | "mins" => Minute,
            "hour" | "hours" | "h" | "hr" | "hrs" => Hour,
            "day" | "days" | "d" => Day,
            "week" | "weeks" | "w" => Week,
            "month" | "months" | "mon" | "mons" => Month,
            "year" | "years" | "y" | "yr" | "yrs" => Year,
            "decade" | "decades" => Decade,
            "century" | "centuries" | "c" => Century,
            "millennium" | "millennia" | "millenniums" | "mil" | "mils" => Millennium,
            _ => return None,
        })
    }

    /// The field a count of this unit gives, as PostgreSQL's input marks fields to refuse one
    /// given twice.
    fn field_bit(self) -> u16 {
        1 << self as u16
    }
}

/// The unit a bare number in an interval's text counts under field restriction `range`:
/// its last field (`interval '10' minute` is ten minutes); seconds without one.
fn bare_number_unit(range: Option<i32>) -> IntervalUnit {
    use interval_field::{DAY, HOUR, MINUTE, MONTH, YEAR};
    match range {
        Some(YEAR) => IntervalUnit::Year,
        Some(r) if r == MONTH || r == YEAR | MONTH => IntervalUnit::Month,
        Some(DAY) => IntervalUnit::Day,
        Some(r) if r == HOUR || r == DAY | HOUR => IntervalUnit::Hour,
        Some(r) if r == MINUTE || r == HOUR | MINUTE || r == DAY | HOUR | MINUTE => {
            IntervalUnit::Minute
        }
        _ => IntervalUnit::Second,
    }
}

/// The precision a type modifier of `ty` declares (`None`: full microseconds).
#[must_use]
pub fn typmod_precision(ty: DataType, typmod: i32) -> Option<u32> {
    if typmod < 0 {
        return None;
    }
    let p = match ty {
        DataType::Interval => typmod & 0xFFFF,
        DataType::Time | DataType::TimeTz | DataType::Timestamp | DataType::TimestampTz => typmod,
        _ => return None,
    };
    u32::try_from(p)
        .ok()
        .filter(|p| u64::from(*p) < SECOND_PRECISION_MAX)
}

/// Rounds a microsecond count to `precision` fractional second digits, halves away from
/// zero, as PostgreSQL's `Adjust*ForTypmod` do. (Counts that round past the end of an i64
/// saturate; the callers' ranges stop well before.)
#[must_use]
pub fn round_micros(us: i64, precision: u32) -> i64 {
    let scale = 10_i64.pow(6 - precision.min(6));
    let half = scale / 2;
    if us >= 0 {
        us.saturating_add(half) / scale * scale
    } else {
        -(us.saturating_neg().saturating_add(half) / scale * scale)
    }
}

/// A time stamp rounded to `precision` digits. PostgreSQL rounds the count from its own epoch,
/// 2000-01-01, so a half second before it rounds down; the infinities stay as they are.
#[must_use]
pub fn round_timestamp(us: i64, precision: u32) -> i64 {
    if us == TS_NEG_INF || us == TS_POS_INF {
        return us;
    }
    let epoch = i64::from(PG_EPOCH_DAYS) * US_PER_DAY;
    round_micros(us.saturating_sub(epoch), precision).saturating_add(epoch)
}

/// An `interval`: months, days and microseconds, each kept apart (a month is not a fixed
/// number of days, nor a day of hours across daylight saving changes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

impl Interval {
    /// The span that orders and equates intervals: a month is 30 days, a day 24 hours.
    #[must_use]
    pub fn span_us(&self) -> i128 {
        (i128::from(self.months) * 30 + i128::from(self.days)) * i128::from(US_PER_DAY)
            + i128::from(self.micros)
    }

    pub fn checked_add(&self, o: &Interval) -> SqlResult<Interval> {
        Ok(Interval {
            months: self.months.checked_add(o.months).ok_or_else(iv_range)?,
            days: self.days.checked_add(o.days).ok_or_else(iv_range)?,
            micros: self.micros.checked_add(o.micros).ok_or_else(iv_range)?,
        })
    }

    pub fn checked_neg(&self) -> SqlResult<Interval> {
        Ok(Interval {
            months: self.months.checked_neg().ok_or_else(iv_range)?,
            days: self.days.checked_neg().ok_or_else(iv_range)?,
            micros: self.micros.checked_neg().ok_or_else(iv_range)?,
        })
    }

    pub fn checked_sub(&self, o: &Interval) -> SqlResult<Interval> {
        self.checked_add(&o.checked_neg()?)
    }
}

fn iv_range() -> SqlError {
    SqlError::DatetimeValueOutOfRange("interval out of range".into())
}

fn ts_range() -> SqlError {
    SqlError::DatetimeValueOutOfRange("timestamp out of range".into())
}

fn date_range() -> SqlError {
    SqlError::DatetimeValueOutOfRange("date out of range".into())
}

/// A time zone: a fixed offset from UTC, or a zone with rules (daylight saving time, historical
/// offsets) from the time zone database or a POSIX `TZ` string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Zone {
    /// A fixed offset, in seconds east of UTC.
    Fixed(i32),
    /// A zone with rules (see `tz.rs`).
    Named(Arc<crate::tz::TimeZone>),
}

impl Default for Zone {
    fn default() -> Zone {
        Zone::UTC
    }
}

impl Zone {
    pub const UTC: Zone = Zone::Fixed(0);

    /// The offset east of UTC, in seconds, in effect at a UTC instant (µs).
    #[must_use]
    pub fn east_secs_at(&self, utc_us: i64) -> i32 {
        match self {
            Zone::Fixed(e) => *e,
            Zone::Named(z) => z.east_secs_at(utc_us.div_euclid(US_PER_SEC)),
        }
    }

    /// The offset east of UTC, in seconds, that a local time (µs) is read with: inside a
    /// daylight saving transition PostgreSQL's choice (see `tz.rs`).
    #[must_use]
    pub fn east_secs_of_local(&self, local_us: i64) -> i32 {
        match self {
            Zone::Fixed(e) => *e,
            Zone::Named(z) => z.east_secs_of_local(local_us.div_euclid(US_PER_SEC)),
        }
    }

    /// The abbreviation in effect at a UTC instant (`EST`, `CEST`, `+03`); `None` for a fixed
    /// offset.
    #[must_use]
    pub fn abbreviation_at(&self, utc_us: i64) -> Option<String> {
        match self {
            Zone::Fixed(_) => None,
            Zone::Named(z) => Some(
                z.type_at(utc_us.div_euclid(US_PER_SEC))
                    .abbreviation
                    .clone(),
            ),
        }
    }

    /// Whether daylight saving time is in effect at a UTC instant.
    #[must_use]
    pub fn is_dst_at(&self, utc_us: i64) -> bool {
        match self {
            Zone::Fixed(_) => false,
            Zone::Named(z) => z.type_at(utc_us.div_euclid(US_PER_SEC)).is_dst,
        }
    }

    /// The offset east of UTC, in seconds, of a zone that has only one.
    #[must_use]
    pub fn fixed_east_secs(&self) -> Option<i32> {
        match self {
            Zone::Fixed(e) => Some(*e),
            Zone::Named(z) if z.is_fixed() => Some(z.east_secs_at(0)),
            Zone::Named(_) => None,
        }
    }

    /// The UTC instant of a local time in this zone (infinities kept).
    #[must_use]
    pub fn utc_of_local(&self, local_us: i64) -> i64 {
        if is_infinite_ts(local_us) {
            return local_us;
        }
        local_us.saturating_sub(i64::from(self.east_secs_of_local(local_us)) * US_PER_SEC)
    }

    /// The local time of a UTC instant in this zone (infinities kept).
    #[must_use]
    pub fn local_of_utc(&self, utc_us: i64) -> i64 {
        if is_infinite_ts(utc_us) {
            return utc_us;
        }
        utc_us.saturating_add(i64::from(self.east_secs_at(utc_us)) * US_PER_SEC)
    }
}

/// Whether a setting is a bare number (hours east: `2`, `+05.5`).
fn is_numeric_setting(t: &str) -> bool {
    !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.'))
}

/// Reads a `TimeZone` setting as PostgreSQL does; `None` when it is not one we know. Unlike
/// `AT TIME ZONE`, a setting never reads a zone abbreviation (`SET TIME ZONE 'PST'` fails).
#[must_use]
pub fn parse_zone_setting(s: &str) -> Option<Zone> {
    let t = s.trim();
    // A number is hours east of UTC (`SET TIME ZONE 2`, `'+05.5'`).
    if is_numeric_setting(t)
        && let Ok(h) = t.parse::<f64>()
    {
        let secs = (h * 3600.0).round();
        if secs.abs() > f64::from(ZONE_OFFSET_MAX_SECS) {
            return None;
        }
        return Some(numbered_zone(secs as i32));
    }
    // `INTERVAL '+05:30' HOUR TO MINUTE` as the grammar hands it over.
    if let Some(rest) = t
        .strip_prefix("interval")
        .or_else(|| t.strip_prefix("INTERVAL"))
    {
        // The quoted text; a field qualifier after it (`HOUR TO MINUTE`) changes nothing here.
        let rest = rest.trim();
        let text = match rest.strip_prefix('\'') {
            Some(r) => &r[..r.find('\'')?],
            None => rest,
        };
        let iv = parse_interval(text).ok()?;
        if iv.months != 0 || iv.days != 0 || iv.micros % US_PER_SEC != 0 {
            return None;
        }
        let east_secs = i32::try_from(iv.micros / US_PER_SEC).ok()?;
        if east_secs.unsigned_abs() > ZONE_OFFSET_MAX_SECS as u32 {
            return None;
        }
        return Some(numbered_zone(east_secs));
    }
    parse_zone_region(t)
}

/// The zone a number of hours (or an interval) names: PostgreSQL calls it `<+02>-02`, and its
/// abbreviation is `+02`.
fn numbered_zone(east_secs: i32) -> Zone {
    let mut east = String::new();
    push_offset(&mut east, east_secs);
    // The POSIX part counts hours west, and zero is written `-00`.
    let mut west = String::new();
    push_offset(&mut west, -east_secs);
    if east_secs == 0 {
        west = "-00".into();
    }
    Zone::Named(Arc::new(crate::tz::fixed_zone(
        &format!("<{east}>{west}"),
        east_secs,
        &east,
    )))
}

/// A `TimeZone` setting as `SHOW` prints it: a number of hours becomes the POSIX zone it
/// stands for (`2` → `<+02>-02`); a zone of the database its canonical name
/// (`america/new_york` → `America/New_York`); anything else stays as given. `None` when it is
/// not a zone.
#[must_use]
pub fn canonical_zone_setting(s: &str) -> Option<String> {
    match parse_zone_setting(s)? {
        Zone::Named(z) => Some(z.name.clone()),
        Zone::Fixed(_) => Some(s.to_string()),
    }
}

/// Reads a zone name as `AT TIME ZONE` does: an abbreviation (`PST`, a fixed offset), else as
/// a `TimeZone` setting names a zone.
#[must_use]
pub fn parse_zone_name(s: &str) -> Option<Zone> {
    let t = s.trim().to_ascii_lowercase();
    if let Some(z) = zone_abbreviation(&t) {
        return Some(z);
    }
    parse_zone_region(s.trim())
}

/// A zone by name: UTC and its aliases, a zone of the time zone database (case-insensitive),
/// and POSIX forms (`UTC+3`, `<+05>-05`, `-05:30`: offsets count hours west;
/// `EST5EDT,M3.2.0,M11.1.0`: with daylight saving rules).
fn parse_zone_region(s: &str) -> Option<Zone> {
    let t = s.trim().to_ascii_lowercase();
    if t.is_empty() || t.len() > crate::tz::NAME_LEN_MAX {
        return None;
    }
    // The time zone database; a damaged file is not a zone.
    if let Ok(Some(z)) = crate::tz::lookup(s.trim()) {
        return Some(Zone::Named(z));
    }
    // UTC's aliases work without the database too.
    if matches!(
        t.as_str(),
        "utc" | "gmt" | "z" | "zulu" | "uct" | "universal" | "etc/utc" | "etc/gmt" | "gmt0"
    ) {
        return Some(Zone::UTC);
    }
    if let Some(z) = parse_posix_fixed(&t) {
        return Some(z);
    }
    // A POSIX string with daylight saving time.
    let upper = s.trim().to_ascii_uppercase();
    let p = crate::tz::parse_posix(&upper).ok()?;
    Some(Zone::Named(Arc::new(crate::tz::posix_zone(&upper, p))))
}

/// POSIX without daylight saving time: a name (letters, or `<…>`), then an offset west of UTC.
fn parse_posix_fixed(t: &str) -> Option<Zone> {
    let rest = if let Some(r) = t.strip_prefix('<') {
        &r[r.find('>')? + 1..]
    } else if let Some(r) = t.strip_prefix("etc/") {
        r.trim_start_matches(|c: char| c.is_ascii_alphabetic())
    } else {
        let letters = t.bytes().take_while(u8::is_ascii_alphabetic).count();
        if letters != 0 && letters < 3 {
            return None;
        }
        &t[letters..]
    };
    if rest.is_empty() {
        return None;
    }
    let west = parse_offset(rest)?;
    // Named, as PostgreSQL names it, by the string in capitals; abbreviated by its name part.
    let upper = t.to_ascii_uppercase();
    let name_part = &upper[..upper.len() - rest.len()];
    let abbreviation = name_part
        .strip_prefix('<')
        .and_then(|n| n.strip_suffix('>'))
        .unwrap_or(name_part);
    Some(Zone::Named(Arc::new(crate::tz::fixed_zone(
        &upper,
        -west,
        abbreviation,
    ))))
}

/// Zone abbreviations accepted inside date/time literals (offsets east, in seconds).
fn zone_abbreviation(t: &str) -> Option<Zone> {
    // Minutes east of UTC, as PostgreSQL's `Default` abbreviation set has them.
    let m = match t {
        "utc" | "gmt" | "z" | "zulu" | "ut" | "wet" => 0,
        "hst" => -600,
        "akst" => -540,
        "akdt" | "pst" => -480,
        "pdt" | "mst" => -420,
        "mdt" | "cst" => -360,
        "cdt" | "est" => -300,
        "edt" | "ast" => -240,
        "adt" => -180,
        "nst" => -210,
        "ndt" => -150,
        "cet" | "bst" | "wat" | "met" => 60,
        "cest" | "eet" | "mest" | "sast" | "ist" => 120,
        "eest" | "msk" | "eat" => 180,
        "awst" | "hkt" | "sgt" => 480,
        "jst" | "kst" => 540,
        "acst" => 570,
        "aest" => 600,
        "acdt" => 630,
        "aedt" => 660,
        "nzst" => 720,
        "nzdt" => 780,
        _ => return None,
    };
    Some(Zone::Fixed(m * 60))
}

/// `[+-]hh[:mm[:ss]]` or `[+-]hhmm` as seconds with the sign as written.
fn parse_offset(s: &str) -> Option<i32> {
    let (neg, body) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit() || b == b':') {
        return None;
    }
    let parts: Vec<&str> = body.split(':').collect();
    let num = |p: &str| -> Option<i32> {
        if p.is_empty() || p.len() > 2 {
            None
        } else {
            p.parse().ok()
        }
    };
    let (h, m, sec) = match parts.as_slice() {
        [hm] if hm.len() == 4 => (hm[..2].parse().ok()?, hm[2..].parse().ok()?, 0),
        [h] => (num(h)?, 0, 0),
        [h, m] => (num(h)?, num(m)?, 0),
        [h, m, s] => (num(h)?, num(m)?, num(s)?),
        _ => return None,
    };
    if m > 59 || sec > 59 {
        return None;
    }
    let secs = h * 3600 + m * 60 + sec;
    if secs > ZONE_OFFSET_MAX_SECS {
        return None;
    }
    Some(if neg { -secs } else { secs })
}

/// The session's view of time for the statement running on this thread.
#[derive(Clone, Debug)]
pub struct Clock {
    pub zone: Zone,
    /// When the transaction started (`now()`), µs since 1970 UTC.
    pub transaction_us: i64,
    /// When the statement started (`statement_timestamp()`).
    pub statement_us: i64,
}

thread_local! {
    static CLOCK: RefCell<Option<Clock>> = const { RefCell::new(None) };
}

/// Puts the previous clock back when dropped.
#[must_use = "the clock is uninstalled when the guard drops"]
pub struct ClockGuard {
    previous: Option<Clock>,
}

impl Drop for ClockGuard {
    fn drop(&mut self) {
        CLOCK.with(|c| *c.borrow_mut() = self.previous.take());
    }
}

/// A session's clock: its `TimeZone` setting (UTC if unreadable) and the start of its
/// transaction and statement as `pg_stat_activity` records them (the wall clock where the
/// front end recorded none).
#[must_use]
pub fn session_clock(zone: Option<&str>, state: &crate::activity::BackendState) -> Clock {
    let now = crate::types::now_us();
    let statement_us = state.query_start_us.unwrap_or(now);
    Clock {
        zone: zone.and_then(parse_zone_setting).unwrap_or_default(),
        transaction_us: state.xact_start_us.unwrap_or(statement_us),
        statement_us,
    }
}

/// Installs `clock` on this thread until the guard drops.
pub fn install(clock: Clock) -> ClockGuard {
    ClockGuard {
        previous: CLOCK.with(|c| c.borrow_mut().replace(clock)),
    }
}

/// Installs just a zone (the clock's times read the wall clock): for printing results.
pub fn install_zone(zone: Zone) -> ClockGuard {
    let now = crate::types::now_us();
    install(Clock {
        zone,
        transaction_us: now,
        statement_us: now,
    })
}

fn clock() -> Clock {
    CLOCK.with(|c| c.borrow().clone()).unwrap_or_else(|| {
        let now = crate::types::now_us();
        Clock {
            zone: Zone::UTC,
            transaction_us: now,
            statement_us: now,
        }
    })
}

/// When the statement's transaction started (`now()`), µs since 1970 UTC.
#[must_use]
pub fn transaction_start_us() -> i64 {
    clock().transaction_us
}

/// The session's time zone.
#[must_use]
pub fn session_zone() -> Zone {
    CLOCK
        .with(|c| c.borrow().as_ref().map(|c| c.zone.clone()))
        .unwrap_or_default()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
#[must_use]
pub const fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number since 1970-01-01.
#[must_use]
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    y.rem_euclid(4) == 0 && (y.rem_euclid(100) != 0 || y.rem_euclid(400) == 0)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A date's day number if the date exists and is in `date`'s range.
fn checked_date(y: i64, m: i64, d: i64) -> Option<i64> {
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

fn date_in_range(days: i64) -> bool {
    (DATE_MIN_DAYS..=DATE_MAX_DAYS).contains(&days)
}

fn ts_in_range(us: i64) -> bool {
    (TS_MIN_US..TS_END_US).contains(&us)
}

// ---------------------------------------------------------------------------------------------
// Text output.

fn push_ymd(s: &mut String, days: i64) -> bool {
    let (y, m, d) = civil_from_days(days);
    let (year, bc) = if y <= 0 { (1 - y, true) } else { (y, false) };
    let _ = write!(s, "{year:04}-{m:02}-{d:02}");
    bc
}

fn push_hms(s: &mut String, us: i64) {
    let secs = us / US_PER_SEC;
    let frac = us % US_PER_SEC;
    let _ = write!(
        s,
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    push_fraction(s, frac);
}

fn push_fraction(s: &mut String, frac: i64) {
    if frac != 0 {
        let f = format!("{:06}", frac.abs());
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
}

/// A `date` in ISO form (`2024-05-01`, `0044-03-15 BC`, `infinity`).
#[must_use]
pub fn format_date(days: i32) -> String {
    match days {
        DATE_POS_INF => "infinity".into(),
        DATE_NEG_INF => "-infinity".into(),
        _ => {
            let mut s = String::with_capacity(13);
            if push_ymd(&mut s, i64::from(days)) {
                s.push_str(" BC");
            }
            s
        }
    }
}

/// A `timestamp` in ISO form (`2024-05-01 12:34:56.5`).
#[must_use]
pub fn format_timestamp(us: i64) -> String {
    format_local(us, None)
}

/// A `timestamptz` in the session's zone (`2024-05-01 14:34:56.5+02`).
#[must_use]
pub fn format_timestamptz(us: i64) -> String {
    format_timestamptz_in(us, session_zone())
}

/// A `timestamptz` in `zone`.
#[must_use]
pub fn format_timestamptz_in(us: i64, zone: Zone) -> String {
    if us == TS_POS_INF || us == TS_NEG_INF {
        return format_local(us, None);
    }
    let east_secs = zone.east_secs_at(us);
    format_local(
        us.saturating_add(i64::from(east_secs) * US_PER_SEC),
        Some(east_secs),
    )
}

fn format_local(us: i64, east_secs: Option<i32>) -> String {
    match us {
        TS_POS_INF => return "infinity".into(),
        TS_NEG_INF => return "-infinity".into(),
        _ => {}
    }
    let mut s = String::with_capacity(32);
    let bc = push_ymd(&mut s, us.div_euclid(US_PER_DAY));
    s.push(' ');
    push_hms(&mut s, us.rem_euclid(US_PER_DAY));
    if let Some(e) = east_secs {
        push_offset(&mut s, e);
    }
    if bc {
        s.push_str(" BC");
    }
    s
}

/// `+02`, `-05:30`, `+05:30:15`.
fn push_offset(s: &mut String, east_secs: i32) {
    let a = east_secs.abs();
    let _ = write!(
        s,
        "{}{:02}",
        if east_secs < 0 { '-' } else { '+' },
        a / 3600
    );
    if a % 3600 != 0 {
        let _ = write!(s, ":{:02}", a / 60 % 60);
        if a % 60 != 0 {
            let _ = write!(s, ":{:02}", a % 60);
        }
    }
}

/// A `time` (`13:04:05.25`).
#[must_use]
pub fn format_time(us: i64) -> String {
    let mut s = String::with_capacity(15);
    push_hms(&mut s, us);
    s
}

/// A `timetz` (`13:04:05.25+02`, `08:00:00-04:56:02`).
#[must_use]
pub fn format_timetz(us: i64, east_secs: i32) -> String {
    let mut s = String::with_capacity(20);
    push_hms(&mut s, us);
    push_offset(&mut s, east_secs);
    s
}

/// The order of `timetz` values, PostgreSQL's: by the UTC time of day they stand for, then by
/// the offset west of UTC (so equal values have equal offsets).
#[must_use]
pub fn timetz_sort_key(us: i64, east_secs: i32) -> (i64, i32) {
    (us - i64::from(east_secs) * US_PER_SEC, -east_secs)
}

/// Whether a `timetz` is one PostgreSQL can hold: a time of day up to 24:00:00 and an offset of
/// at most 15:59:59.
#[must_use]
pub fn timetz_in_range(us: i64, east_secs: i32) -> bool {
    (0..=US_PER_DAY).contains(&us) && east_secs.unsigned_abs() <= ZONE_OFFSET_MAX_SECS as u32
}

/// A local time of day given the session zone's offset on the current date (what PostgreSQL
/// gives a `time` cast to `timetz`, or a `timetz` written without a zone).
fn time_in_session_zone(us: i64) -> (i64, i32) {
    let c = clock();
    let today = local_of(c.transaction_us, &c.zone).div_euclid(US_PER_DAY);
    (us, c.zone.east_secs_of_local(today * US_PER_DAY + us))
}

/// An `interval` in IntervalStyle `postgres` (`1 year 2 mons -3 days +04:05:06`).
#[must_use]
pub fn format_interval(iv: &Interval) -> String {
    let mut s = String::new();
    let mut is_zero = true;
    let mut is_before = false;
    let year = iv.months / 12;
    let mon = iv.months % 12;
    for (value, unit) in [
        (i64::from(year), "year"),
        (i64::from(mon), "mon"),
        (i64::from(iv.days), "day"),
    ] {
        if value == 0 {
            continue;
        }
        let _ = write!(
            s,
            "{}{}{value} {unit}{}",
            if is_zero { "" } else { " " },
            if is_before && value > 0 { "+" } else { "" },
            if value != 1 { "s" } else { "" }
        );
        is_before = value < 0;
        is_zero = false;
    }
    let t = iv.micros;
    if is_zero || t != 0 {
        let a = t.unsigned_abs();
        let hours = a / 3_600_000_000;
        let mins = a / 60_000_000 % 60;
        let secs = a / 1_000_000 % 60;
        let frac = a % 1_000_000;
        let _ = write!(
            s,
            "{}{}{hours:02}:{mins:02}:{secs:02}",
            if is_zero { "" } else { " " },
            if t < 0 {
                "-"
            } else if is_before {
                "+"
            } else {
                ""
            }
        );
        push_fraction(&mut s, frac as i64);
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Text input.

fn syntax(ty: &str, s: &str) -> SqlError {
    SqlError::InvalidDatetimeFormat(format!("invalid input syntax for type {ty}: \"{s}\""))
}

fn field_range(s: &str) -> SqlError {
    SqlError::DatetimeFieldOverflow(format!("date/time field value out of range: \"{s}\""))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Special {
    PosInf,
    NegInf,
    Epoch,
    Now,
    Today,
    Tomorrow,
    Yesterday,
    Allballs,
}

#[derive(Debug, Default)]
struct Fields {
    special: Option<Special>,
    /// Year (astronomical once BC is applied), month, day.
    date: Option<(i64, i64, i64)>,
    time_us: Option<i64>,
    zone: Option<Zone>,
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

fn month_named(t: &str) -> Option<i64> {
    if t.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| m.starts_with(t) || (t.len() == 4 && t == "sept" && m.starts_with("sep")))
        .map(|i| i as i64 + 1)
}

/// `hh:mm[:ss[.ffffff]]` as µs; `Err(true)` for a field out of range, `Err(false)` for bad
/// syntax.
fn parse_clock(t: &str) -> Result<i64, bool> {
    let (hms, frac) = match t.split_once('.') {
        Some((a, b)) => (a, b),
        None => (t, ""),
    };
    let parts: Vec<&str> = hms.split(':').collect();
    if parts.len() < 2
        || parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || p.len() > 10 || !p.bytes().all(|b| b.is_ascii_digit()))
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || (!frac.is_empty() && parts.len() < 3)
    {
        return Err(false);
    }
    let n = |p: &str| p.parse::<i64>().map_err(|_| true);
    let h = n(parts[0])?;
    let m = n(parts[1])?;
    let s = if parts.len() == 3 { n(parts[2])? } else { 0 };
    let micros = fraction_us(frac);
    if m > 59 || s > 60 || h > 24 || (h == 24 && (m != 0 || s != 0 || micros != 0)) {
        return Err(true);
    }
    Ok(((h * 60 + m) * 60 + s) * US_PER_SEC + micros)
}

/// Digits after a decimal point as µs, rounded half away from zero at the sixth.
fn fraction_us(frac: &str) -> i64 {
    let digits: String = frac.chars().chain("0000000".chars()).take(7).collect();
    let n: i64 = digits.parse().unwrap_or(0);
    (n + 5) / 10
}

/// Splits a date/time text into its fields. `ty` names the type for errors.
fn parse_fields(s: &str, ty: &str) -> SqlResult<Fields> {
    if s.len() > INPUT_LEN_MAX {
        return Err(syntax(ty, s));
    }
    let lower = s.trim().to_ascii_lowercase();
    let mut f = Fields::default();
    let mut tokens: Vec<String> = Vec::new();
    for tok in lower.split_whitespace() {
        // ISO 8601's `T` between date and time.
        let b = tok.as_bytes();
        if let Some(i) = tok.find('t')
            && i > 0
            && b[i - 1].is_ascii_digit()
            && b.get(i + 1).is_some_and(u8::is_ascii_digit)
        {
            tokens.push(tok[..i].to_string());
            tokens.push(tok[i + 1..].to_string());
        } else {
            tokens.push(tok.to_string());
        }
    }
    if tokens.is_empty() {
        return Err(syntax(ty, s));
    }
    let mut bc = false;
    let mut pm: Option<bool> = None;
    let mut named_month: Option<i64> = None;
    let mut loose: Vec<&str> = Vec::new();
    for tok in &tokens {
        let t = tok.as_str();
        let special = match t {
            "infinity" | "+infinity" => Some(Special::PosInf),
            "-infinity" => Some(Special::NegInf),
            "epoch" => Some(Special::Epoch),
            "now" => Some(Special::Now),
            "today" => Some(Special::Today),
            "tomorrow" => Some(Special::Tomorrow),
            "yesterday" => Some(Special::Yesterday),
            "allballs" => Some(Special::Allballs),
            _ => None,
        };
        if let Some(sp) = special {
            if f.special.is_some() {
                return Err(syntax(ty, s));
            }
            f.special = Some(sp);
            continue;
        }
        match t {
            "bc" => {
                bc = true;
                continue;
            }
            "ad" => continue,
            "am" | "a.m." => {
                pm = Some(false);
                continue;
            }
            "pm" | "p.m." => {
                pm = Some(true);
                continue;
            }
            _ => {}
        }
        let first = t.as_bytes()[0];
        if (first == b'+' || first == b'-') && (f.date.is_some() || f.time_us.is_some()) {
            let off = parse_offset(t).ok_or_else(|| syntax(ty, s))?;
            f.zone = Some(Zone::Fixed(off));
            continue;
        }
        if first.is_ascii_alphabetic() {
            if let Some(z) = zone_abbreviation(t) {
                f.zone = Some(z);
            } else if let Some(m) = month_named(t) {
                named_month = Some(m);
            } else if WEEKDAYS.iter().any(|w| t.len() >= 3 && w.starts_with(t)) {
            } else if let Some(z) = parse_zone_name(t) {
                f.zone = Some(z);
            } else if t.contains('/') {
                // A region name (`Mars/Olympus`) that is not in the database.
                return Err(SqlError::InvalidParameterValue(format!(
                    "time zone \"{t}\" not recognized"
                )));
            } else {
                return Err(syntax(ty, s));
            }
            continue;
        }
        if t.contains(':') {
            // A time, perhaps with its zone attached (`12:00:00+02`, `12:00z`).
            let (clock_text, zone) = match t[1..].find(['+', '-']).map(|i| i + 1) {
                Some(i) => (
                    &t[..i],
                    Some(parse_offset(&t[i..]).ok_or_else(|| syntax(ty, s))?),
                ),
                None => match t.strip_suffix('z') {
                    Some(c) => (c, Some(0)),
                    None => (t, None),
                },
            };
            if f.time_us.is_some() {
                return Err(syntax(ty, s));
            }
            f.time_us = Some(
                parse_clock(clock_text)
                    .map_err(|range| if range { field_range(s) } else { syntax(ty, s) })?,
            );
            if let Some(z) = zone {
                f.zone = Some(Zone::Fixed(z));
            }
            continue;
        }
        let sep = t.bytes().find(|b| matches!(b, b'-' | b'/' | b'.'));
        if let Some(sep) = sep {
            let parts: Vec<&str> = t.split(char::from(sep)).collect();
            if parts.len() != 3
                || parts
                    .iter()
                    .any(|p| p.is_empty() || p.len() > 9 || !p.bytes().all(|b| b.is_ascii_digit()))
                || f.date.is_some()
            {
                return Err(syntax(ty, s));
            }
            let n: Vec<i64> = parts.iter().map(|p| p.parse().unwrap_or(0)).collect();
            f.date = Some(if parts[0].len() > 2 {
                (n[0], n[1], n[2])
            } else {
                // DateStyle MDY.
                (n[2], n[0], n[1])
            });
            continue;
        }
        if t.bytes().all(|b| b.is_ascii_digit()) {
            if t.len() == 8 && f.date.is_none() && named_month.is_none() {
                let n = |a: usize, b: usize| t[a..b].parse::<i64>().unwrap_or(0);
                f.date = Some((n(0, 4), n(4, 6), n(6, 8)));
            } else if t.len() <= 9 {
                loose.push(t);
            } else {
                return Err(syntax(ty, s));
            }
            continue;
        }
        return Err(syntax(ty, s));
    }
    if let Some(m) = named_month {
        // `Jan 5 2024`, `5 January 2024`: the number of three or more digits is the year.
        if f.date.is_some() || loose.len() != 2 {
            return Err(syntax(ty, s));
        }
        let (year, day) = if loose[0].len() > 2 {
            (loose[0], loose[1])
        } else {
            (loose[1], loose[0])
        };
        f.date = Some((year.parse().unwrap_or(0), m, day.parse().unwrap_or(0)));
    } else if !loose.is_empty() {
        return Err(syntax(ty, s));
    }
    if let Some((y, m, d)) = f.date {
        if y == 0 && !bc {
            return Err(field_range(s));
        }
        let y = if bc { 1 - y } else { y };
        if checked_date(y, m, d).is_none() {
            return Err(field_range(s));
        }
        f.date = Some((y, m, d));
    } else if bc {
        return Err(syntax(ty, s));
    }
    if let Some(pm) = pm {
        let Some(t) = f.time_us else {
            return Err(syntax(ty, s));
        };
        let h = t / US_PER_HOUR;
        if h > 12 {
            return Err(field_range(s));
        }
        let h12 = h % 12;
        f.time_us = Some(t - h * US_PER_HOUR + (h12 + if pm { 12 } else { 0 }) * US_PER_HOUR);
    }
    if f.special.is_some() && (f.date.is_some() || f.time_us.is_some()) {
        return Err(syntax(ty, s));
    }
    Ok(f)
}

/// The local time of an instant in the session's zone.
fn local_of(utc: i64, zone: &Zone) -> i64 {
    zone.local_of_utc(utc)
}

fn special_local_us(sp: Special, ty: &str, s: &str) -> SqlResult<i64> {
    let c = clock();
    let today = local_of(c.transaction_us, &c.zone).div_euclid(US_PER_DAY) * US_PER_DAY;
    Ok(match sp {
        Special::PosInf => TS_POS_INF,
        Special::NegInf => TS_NEG_INF,
        Special::Epoch => 0,
        Special::Now => local_of(c.transaction_us, &c.zone),
        Special::Today => today,
        Special::Tomorrow => today + US_PER_DAY,
        Special::Yesterday => today - US_PER_DAY,
        Special::Allballs => return Err(syntax(ty, s)),
    })
}

/// Reads `date` text input.
pub fn parse_date(s: &str) -> SqlResult<i32> {
    let f = parse_fields(s, "date")?;
    if let Some(sp) = f.special {
        return Ok(match sp {
            Special::PosInf => DATE_POS_INF,
            Special::NegInf => DATE_NEG_INF,
            other => i32::try_from(special_local_us(other, "date", s)?.div_euclid(US_PER_DAY))
                .map_err(|_| date_range())?,
        });
    }
    let Some((y, m, d)) = f.date else {
        return Err(syntax("date", s));
    };
    let days = days_from_civil(y, m, d);
    if !date_in_range(days) {
        return Err(SqlError::DatetimeValueOutOfRange(format!(
            "date out of range: \"{s}\""
        )));
    }
    Ok(days as i32)
}

fn local_timestamp(f: &Fields, ty: &str, s: &str) -> SqlResult<i64> {
    let Some((y, m, d)) = f.date else {
        return Err(syntax(ty, s));
    };
    let days = days_from_civil(y, m, d);
    let us = days
        .checked_mul(US_PER_DAY)
        .and_then(|x| x.checked_add(f.time_us.unwrap_or(0)))
        .ok_or_else(|| {
            SqlError::DatetimeValueOutOfRange(format!("timestamp out of range: \"{s}\""))
        })?;
    Ok(us)
}

/// Reads `timestamp` text input; a zone in the text is ignored, as PostgreSQL ignores it.
pub fn parse_timestamp(s: &str) -> SqlResult<i64> {
    let f = parse_fields(s, "timestamp")?;
    if let Some(sp) = f.special {
        return special_local_us(sp, "timestamp", s);
    }
    let us = local_timestamp(&f, "timestamp", s)?;
    if !ts_in_range(us) {
        return Err(SqlError::DatetimeValueOutOfRange(format!(
            "timestamp out of range: \"{s}\""
        )));
    }
    Ok(us)
}

/// Reads `timestamptz` text input: a local time in the text's zone, else the session's.
pub fn parse_timestamptz(s: &str) -> SqlResult<i64> {
    let f = parse_fields(s, "timestamp with time zone")?;
    let zone = session_zone();
    if let Some(sp) = f.special {
        return Ok(match sp {
            Special::PosInf => TS_POS_INF,
            Special::NegInf => TS_NEG_INF,
            Special::Epoch => 0,
            Special::Now => clock().transaction_us,
            other => zone.utc_of_local(special_local_us(other, "timestamp with time zone", s)?),
        });
    }
    let local = local_timestamp(&f, "timestamp with time zone", s)?;
    let us = f.zone.as_ref().unwrap_or(&zone).utc_of_local(local);
    if !ts_in_range(us) {
        return Err(SqlError::DatetimeValueOutOfRange(format!(
            "timestamp out of range: \"{s}\""
        )));
    }
    Ok(us)
}

/// Reads `time` text input (a date or zone in the text is ignored).
pub fn parse_time(s: &str) -> SqlResult<i64> {
    let f = parse_fields(s, "time without time zone")?;
    match f.special {
        Some(Special::Allballs) => return Ok(0),
        Some(Special::Now) => {
            let c = clock();
            return Ok(local_of(c.transaction_us, &c.zone).rem_euclid(US_PER_DAY));
        }
        Some(_) => return Err(syntax("time without time zone", s)),
        None => {}
    }
    f.time_us.ok_or_else(|| syntax("time without time zone", s))
}

/// Reads `timetz` text input: a time, and its zone (a zone with rules needs a date in the text
/// to say which offset applies); without one, the session's zone on the current date.
pub fn parse_timetz(s: &str) -> SqlResult<(i64, i32)> {
    const TY: &str = "time with time zone";
    let f = parse_fields(s, TY)?;
    let t = match f.special {
        // `allballs` is midnight UTC.
        Some(Special::Allballs) => return Ok((0, 0)),
        Some(Special::Now) => {
            let c = clock();
            let east = c.zone.east_secs_at(c.transaction_us);
            let local = c.transaction_us + i64::from(east) * US_PER_SEC;
            return Ok((local.rem_euclid(US_PER_DAY), east));
        }
        Some(_) => return Err(syntax(TY, s)),
        None => f.time_us.ok_or_else(|| syntax(TY, s))?,
    };
    if t > US_PER_DAY {
        return Err(field_range(s));
    }
    let east = match (&f.zone, f.date) {
        (Some(z), _) if z.fixed_east_secs().is_some() => z.fixed_east_secs().unwrap_or(0),
        (Some(z), Some((y, m, d))) => {
            z.east_secs_of_local(days_from_civil(y, m, d) * US_PER_DAY + t)
        }
        (Some(_), None) => return Err(syntax(TY, s)),
        (None, Some((y, m, d))) => {
            session_zone().east_secs_of_local(days_from_civil(y, m, d) * US_PER_DAY + t)
        }
        (None, None) => time_in_session_zone(t).1,
    };
    Ok((t, east))
}

/// Reads `interval` text input: PostgreSQL's verbose form (`1 year 2 mons 3 days 04:05:06`,
/// `@ 1 hour ago`, `1.5 days`), SQL year-month (`1-2`) and ISO 8601 (`P1Y2M3DT4H`).
pub fn parse_interval(s: &str) -> SqlResult<Interval> {
    parse_interval_in(s, None)
}

/// An interval's text read for a type restricted to the fields of `range` (see
/// [`interval_field`]), as PostgreSQL reads it: a bare number counts the last field
/// (`'10'` is ten minutes for `interval minute`), and `a:b` is minutes and seconds for
/// `interval minute to second`. The fields below the last are not dropped here (see
/// [`truncate_interval_fields`]).
pub fn parse_interval_in(s: &str, range: Option<i32>) -> SqlResult<Interval> {
    let bad = || syntax("interval", s);
    let overflow =
        || SqlError::IntervalFieldOverflow(format!("interval field value out of range: \"{s}\""));
    if s.len() > INPUT_LEN_MAX {
        return Err(bad());
    }
    let lower = s.trim().to_ascii_lowercase();
    if let Some(iso) = lower.strip_prefix('p') {
        return parse_iso_interval(iso)
            .ok_or_else(bad)?
            .ok_or_else(overflow);
    }
    let mut acc = Acc::default();
    let mut tokens: Vec<String> = Vec::new();
    for tok in lower.split_whitespace() {
        // A number and its unit may be written together (`10min`, `-2h`).
        let split = tok
            .char_indices()
            .find(|&(i, c)| c.is_ascii_alphabetic() && i > 0)
            .map(|(i, _)| i);
        match split {
            Some(i) if tok[..i].bytes().any(|b| b.is_ascii_digit()) => {
                tokens.push(tok[..i].to_string());
                tokens.push(tok[i..].to_string());
            }
            _ => tokens.push(tok.to_string()),
        }
    }
    if tokens.first().is_some_and(|t| t == "@") {
        tokens.remove(0);
    }
    let mut ago = false;
    if tokens.last().is_some_and(|t| t == "ago") {
        ago = true;
        tokens.pop();
    }
    if tokens.is_empty() {
        return Err(bad());
    }
    let implied = interval_bare_units(&tokens, range).ok_or_else(bad)?;
    let mut i = 0;
    while i < tokens.len() {
        let t = tokens[i].as_str();
        i += 1;
        if t.contains(':') {
            let (neg, body) = match t.as_bytes()[0] {
                b'-' => (true, &t[1..]),
                b'+' => (false, &t[1..]),
                _ => (false, t),
            };
            let minute_to_second = range == Some(interval_field::MINUTE | interval_field::SECOND);
            let us = parse_interval_clock(body, minute_to_second)
                .map_err(|range| if range { overflow() } else { bad() })?;
            acc.add_us(if neg { -us } else { us })
                .ok_or_else(overflow)?;
            continue;
        }
        // `1-2`: years and months.
        if let Some((y, m)) = year_month(t) {
            let y: i64 = y.parse().map_err(|_| overflow())?;
            let m: i64 = m.parse().map_err(|_| overflow())?;
            if m > 11 {
                return Err(field_range(s));
            }
            let months = y.checked_mul(12).and_then(|x| x.checked_add(m));
            let months = months.ok_or_else(overflow)?;
            acc.months = acc
                .months
                .checked_add(if t.starts_with('-') { -months } else { months })
                .ok_or_else(overflow)?;
            continue;
        }
        let num: f64 = match t.parse() {
            Ok(n) if t.bytes().any(|b| b.is_ascii_digit()) => n,
            _ => return Err(bad()),
        };
        let unit = match tokens.get(i) {
            Some(u) if u.as_bytes()[0].is_ascii_alphabetic() => {
                i += 1;
                IntervalUnit::parse(u).ok_or_else(bad)?
            }
            _ => implied[i - 1],
        };
        acc.add_unit(num, unit).ok_or_else(overflow)?;
    }
    let iv = acc.finish().ok_or_else(overflow)?;
    if ago { iv.checked_neg() } else { Ok(iv) }
}

/// `1-2` (years and months, the sign before): the years and months.
fn year_month(t: &str) -> Option<(&str, &str)> {
    let (y, m) = t.strip_prefix(['-', '+']).unwrap_or(t).split_once('-')?;
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    (digits(y) && digits(m)).then_some((y, m))
}

/// The unit of each bare number among an interval's `tokens` (the rest are seconds), found
/// as PostgreSQL finds them, from the last token back:
///
/// - a number before a unit counts that unit, and so does a bare number before it
///   (`1 2 days` names days twice);
/// - a number before a clock counts days (`1 2:03` is a day and two hours), and so does one
///   before an hour count (`1 2 hours`);
/// - the last bare number counts the last field of the type's restriction, else seconds.
///
/// `None` when a field is given twice (`1 day 2 days`, `2 hours 1:00`, `1 2`).
fn interval_bare_units(tokens: &[String], range: Option<i32>) -> Option<Vec<IntervalUnit>> {
    use IntervalUnit::{Day, Hour, Microsecond, Millisecond, Minute, Month, Second, Year};
    let mut units = vec![Second; tokens.len()];
    let mut next = None;
    let mut seen = 0u16;
    for (j, t) in tokens.iter().enumerate().rev() {
        let set = if t.contains(':') {
            next = Some(Day);
            Hour.field_bit() | Minute.field_bit() | Second.field_bit()
        } else if year_month(t).is_some() {
            Year.field_bit() | Month.field_bit()
        } else if t.as_bytes()[0].is_ascii_alphabetic() {
            // An unknown word is left for the reading to refuse.
            next = IntervalUnit::parse(t);
            0
        } else {
            let unit = next.unwrap_or_else(|| bare_number_unit(range));
            units[j] = unit;
            next = Some(if unit == Hour { Day } else { unit });
            match unit {
                // Seconds with a fraction set the smaller units too.
                Second if t.contains('.') => {
                    Second.field_bit() | Millisecond.field_bit() | Microsecond.field_bit()
                }
                unit => unit.field_bit(),
            }
        };
        if seen & set != 0 {
            return None;
        }
        seen |= set;
    }
    Some(units)
}

/// Interval time `h:m[:s[.f]]`, hours unbounded; `m:s.f` (a fraction after two parts) is
/// minutes and seconds, and so is `m:s` when `minute_to_second`. `Err(true)`: a minute or
/// second past 59 (a field out of range); `Err(false)`: not a time.
fn parse_interval_clock(t: &str, minute_to_second: bool) -> Result<i64, bool> {
    let (hms, frac) = t.split_once('.').unwrap_or((t, ""));
    let parts: Vec<&str> = hms.split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(false);
    }
    let number = |p: &str| p.parse::<i64>().map_err(|_| true);
    let first = number(parts[0])?;
    let m = number(parts[1])?;
    if parts.len() == 2 && (minute_to_second || t.contains('.')) {
        // Minutes and seconds.
        if first > 59 || m > 59 {
            return Err(true);
        }
        return Ok(first * US_PER_MIN + m * US_PER_SEC + fraction_us(frac));
    }
    let s = parts.get(2).map_or(Ok(0), |p| number(p))?;
    if m > 59 || s > 59 {
        return Err(true);
    }
    first
        .checked_mul(US_PER_HOUR)
        .and_then(|h| h.checked_add(m * US_PER_MIN + s * US_PER_SEC + fraction_us(frac)))
        .ok_or(true)
}

/// Fields of an interval being read, wide enough to detect overflow at the end.
#[derive(Default)]
struct Acc {
    months: i64,
    days: i64,
    micros: i64,
}

impl Acc {
    fn add_us(&mut self, us: i64) -> Option<()> {
        self.micros = self.micros.checked_add(us)?;
        Some(())
    }

    fn add_days_frac(&mut self, days: f64) -> Option<()> {
        let whole = days.trunc();
        self.days = self.days.checked_add(f64_to_i64(whole)?)?;
        self.add_us(f64_to_i64(((days - whole) * US_PER_DAY as f64).round())?)
    }

    fn add_months_frac(&mut self, months: f64) -> Option<()> {
        let whole = months.trunc();
        self.months = self.months.checked_add(f64_to_i64(whole)?)?;
        self.add_days_frac((months - whole) * 30.0)
    }

    /// Adds `n` of `unit`; `None` on overflow.
    fn add_unit(&mut self, n: f64, unit: IntervalUnit) -> Option<()> {
        use IntervalUnit::*;
        let us = |per: f64| f64_to_i64((n * per).round());
        match unit {
            Microsecond => self.add_us(us(1.0)?),
            Millisecond => self.add_us(us(1000.0)?),
            Second => self.add_us(us(1e6)?),
            Minute => self.add_us(us(US_PER_MIN as f64)?),
            Hour => self.add_us(us(US_PER_HOUR as f64)?),
            Day => self.add_days_frac(n),
            Week => self.add_days_frac(n * 7.0),
            Month => self.add_months_frac(n),
            Year => self.add_months_frac_years(n, 1.0),
            Decade => self.add_months_frac_years(n, 10.0),
            Century => self.add_months_frac_years(n, 100.0),
            Millennium => self.add_months_frac_years(n, 1000.0),
        }
    }

    /// Years: whole years in months, a fraction rounded to whole months.
    fn add_months_frac_years(&mut self, n: f64, per: f64) -> Option<()> {
        let years = n * per;
        let whole = years.trunc();
        let months =
            f64_to_i64(whole * 12.0)?.checked_add(f64_to_i64(((years - whole) * 12.0).round())?)?;
        self.months = self.months.checked_add(months)?;
        Some(())
    }

    fn finish(self) -> Option<Interval> {
        Some(Interval {
            months: i32::try_from(self.months).ok()?,
            days: i32::try_from(self.days).ok()?,
            micros: self.micros,
        })
    }
}

fn f64_to_i64(f: f64) -> Option<i64> {
    (f.is_finite() && f >= i64::MIN as f64 && f < -(i64::MIN as f64)).then_some(f as i64)
}

/// ISO 8601 durations after the `P`: `1Y2M3W4DT5H6M7.5S`. Outer `None`: bad syntax; inner:
/// overflow.
fn parse_iso_interval(t: &str) -> Option<Option<Interval>> {
    let mut acc = Acc::default();
    let mut in_time = false;
    let mut rest = t;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('t') {
            in_time = true;
            rest = r;
            continue;
        }
        let len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
            .unwrap_or(rest.len());
        if len == 0 || len == rest.len() {
            return None;
        }
        let n: f64 = rest[..len].parse().ok()?;
        let unit = match (rest.as_bytes()[len], in_time) {
            (b'y', false) => IntervalUnit::Year,
            (b'm', false) => IntervalUnit::Month,
            (b'w', false) => IntervalUnit::Week,
            (b'd', false) => IntervalUnit::Day,
            (b'h', true) => IntervalUnit::Hour,
            (b'm', true) => IntervalUnit::Minute,
            (b's', true) => IntervalUnit::Second,
            _ => return None,
        };
        if acc.add_unit(n, unit).is_none() {
            return Some(None);
        }
        rest = &rest[len + 1..];
    }
    Some(acc.finish())
}

// ---------------------------------------------------------------------------------------------
// Conversions and arithmetic.

/// A date's midnight as a timestamp.
#[must_use]
pub fn date_to_ts(d: i32) -> i64 {
    match d {
        DATE_POS_INF => TS_POS_INF,
        DATE_NEG_INF => TS_NEG_INF,
        _ => i64::from(d) * US_PER_DAY,
    }
}

/// The date of a timestamp.
pub fn ts_to_date(us: i64) -> SqlResult<i32> {
    Ok(match us {
        TS_POS_INF => DATE_POS_INF,
        TS_NEG_INF => DATE_NEG_INF,
        _ => i32::try_from(us.div_euclid(US_PER_DAY)).map_err(|_| date_range())?,
    })
}

/// A local timestamp read in the session's zone as an instant.
#[must_use]
pub fn ts_to_tz(us: i64) -> i64 {
    ts_to_tz_in(us, &session_zone())
}

fn ts_to_tz_in(us: i64, zone: &Zone) -> i64 {
    zone.utc_of_local(us)
}

/// An instant as the local time of the session's zone.
#[must_use]
pub fn tz_to_ts(us: i64) -> i64 {
    tz_to_ts_in(us, &session_zone())
}

fn tz_to_ts_in(us: i64, zone: &Zone) -> i64 {
    zone.local_of_utc(us)
}

fn is_infinite_ts(us: i64) -> bool {
    us == TS_POS_INF || us == TS_NEG_INF
}

/// A local timestamp plus an interval: months first (the day clamped to the month's end),
/// then days, then time.
pub fn ts_add_interval(us: i64, iv: &Interval) -> SqlResult<i64> {
    if is_infinite_ts(us) {
        return Ok(us);
    }
    let mut t = us;
    if iv.months != 0 {
        let days = t.div_euclid(US_PER_DAY);
        let tod = t.rem_euclid(US_PER_DAY);
        let (y, m, d) = civil_from_days(days);
        let total = y * 12 + (m - 1) + i64::from(iv.months);
        let (ny, nm) = (total.div_euclid(12), total.rem_euclid(12) + 1);
        let nd = d.min(days_in_month(ny, nm));
        t = days_from_civil(ny, nm, nd)
            .checked_mul(US_PER_DAY)
            .and_then(|x| x.checked_add(tod))
            .ok_or_else(ts_range)?;
    }
    t = t
        .checked_add(i64::from(iv.days) * US_PER_DAY)
        .and_then(|x| x.checked_add(iv.micros))
        .ok_or_else(ts_range)?;
    if !ts_in_range(t) {
        return Err(ts_range());
    }
    Ok(t)
}

/// A `timestamptz` plus an interval, as PostgreSQL adds them: the months, then the days, each
/// in the session's local time (so `+ interval '1 day'` keeps the time of day across a daylight
/// saving change), then the time as elapsed time (`+ interval '24 hours'` does not).
pub fn tz_add_interval(us: i64, iv: &Interval) -> SqlResult<i64> {
    if is_infinite_ts(us) {
        return Ok(us);
    }
    let zone = session_zone();
    let mut t = us;
    for step in [
        Interval {
            months: iv.months,
            days: 0,
            micros: 0,
        },
        Interval {
            months: 0,
            days: iv.days,
            micros: 0,
        },
    ] {
        if step.months != 0 || step.days != 0 {
            let local = ts_add_interval(zone.local_of_utc(t), &step)?;
            t = zone.utc_of_local(local);
        }
    }
    let t = t.checked_add(iv.micros).ok_or_else(ts_range)?;
    if !ts_in_range(t) {
        return Err(ts_range());
    }
    Ok(t)
}

/// `timestamp - timestamp`: the difference in days and time (PostgreSQL's justify_hours).
pub fn ts_diff(a: i64, b: i64) -> SqlResult<Interval> {
    if is_infinite_ts(a) || is_infinite_ts(b) {
        return Err(iv_range());
    }
    let us = a.checked_sub(b).ok_or_else(iv_range)?;
    Ok(justify_hours(Interval {
        months: 0,
        days: 0,
        micros: us,
    }))
}

#[must_use]
pub fn justify_hours(iv: Interval) -> Interval {
    let mut days = i64::from(iv.days) + iv.micros / US_PER_DAY;
    let mut micros = iv.micros % US_PER_DAY;
    if days > 0 && micros < 0 {
        micros += US_PER_DAY;
        days -= 1;
    } else if days < 0 && micros > 0 {
        micros -= US_PER_DAY;
        days += 1;
    }
    Interval {
        months: iv.months,
        days: i32::try_from(days).unwrap_or(if days > 0 { i32::MAX } else { i32::MIN }),
        micros,
    }
}

#[must_use]
pub fn justify_days(iv: Interval) -> Interval {
    let mut months = iv.months + iv.days / 30;
    let mut days = iv.days % 30;
    if months > 0 && days < 0 {
        days += 30;
        months -= 1;
    } else if months < 0 && days > 0 {
        days -= 30;
        months += 1;
    }
    Interval {
        months,
        days,
        micros: iv.micros,
    }
}

#[must_use]
pub fn justify_interval(iv: Interval) -> Interval {
    let mut months = i64::from(iv.months) + i64::from(iv.days) / 30;
    let mut days = i64::from(iv.days) % 30 + iv.micros / US_PER_DAY;
    let mut micros = iv.micros % US_PER_DAY;
    months += days / 30;
    days %= 30;
    if months > 0 && (days < 0 || (days == 0 && micros < 0)) {
        days += 30;
        months -= 1;
    } else if months < 0 && (days > 0 || (days == 0 && micros > 0)) {
        days -= 30;
        months += 1;
    }
    if days > 0 && micros < 0 {
        micros += US_PER_DAY;
        days -= 1;
    } else if days < 0 && micros > 0 {
        micros -= US_PER_DAY;
        days += 1;
    }
    Interval {
        months: months as i32,
        days: days as i32,
        micros,
    }
}

fn tsround(x: f64) -> f64 {
    (x * 1e6).round_ties_even() / 1e6
}

/// `interval * factor`, PostgreSQL's way: fractions of months cascade into days, of days into
/// time.
pub fn interval_mul(iv: &Interval, factor: f64) -> SqlResult<Interval> {
    let months_f = f64::from(iv.months) * factor;
    let days_f = f64::from(iv.days) * factor;
    if !months_f.is_finite()
        || !days_f.is_finite()
        || months_f.abs() > f64::from(i32::MAX)
        || days_f.abs() > f64::from(i32::MAX)
    {
        return Err(iv_range());
    }
    cascade(months_f, days_f, iv.micros as f64 * factor)
}

/// `interval / divisor`.
pub fn interval_div(iv: &Interval, divisor: f64) -> SqlResult<Interval> {
    if divisor == 0.0 {
        return Err(SqlError::DivisionByZero);
    }
    let months_f = f64::from(iv.months) / divisor;
    let days_f = f64::from(iv.days) / divisor;
    if !months_f.is_finite()
        || months_f.abs() > f64::from(i32::MAX)
        || days_f.abs() > f64::from(i32::MAX)
    {
        return Err(iv_range());
    }
    cascade(months_f, days_f, iv.micros as f64 / divisor)
}

fn cascade(months_f: f64, days_f: f64, time_f: f64) -> SqlResult<Interval> {
    let months = months_f.trunc();
    let mut days = days_f.trunc();
    let month_rem_days = tsround((months_f - months) * 30.0);
    let mut sec_rem = tsround((days_f - days + month_rem_days - month_rem_days.trunc()) * 86_400.0);
    if sec_rem.abs() >= 86_400.0 {
        let whole = (sec_rem / 86_400.0).trunc();
        days += whole;
        sec_rem -= whole * 86_400.0;
    }
    days += month_rem_days.trunc();
    let micros = (time_f + sec_rem * 1e6).round_ties_even();
    Ok(Interval {
        months: months as i32,
        days: i32::try_from(days as i64).map_err(|_| iv_range())?,
        micros: f64_to_i64(micros).ok_or_else(iv_range)?,
    })
}

fn num_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        Value::Numeric(n) => Some(n.to_f64()),
        _ => None,
    }
}

fn is_datetime(v: &Value) -> bool {
    matches!(
        v,
        Value::Date(_)
            | Value::TimestampTz(_)
            | Value::Timestamp(_)
            | Value::Time(_)
            | Value::TimeTz(..)
            | Value::Interval(_)
    )
}

/// Whether a binary operator over these values is date/time arithmetic.
#[must_use]
pub fn is_datetime_arith(a: &Value, b: &Value, ty: DataType) -> bool {
    is_datetime(a) || is_datetime(b) || is_datetime_type(ty)
}

#[must_use]
pub fn is_datetime_type(ty: DataType) -> bool {
    matches!(
        ty,
        DataType::Date
            | DataType::TimestampTz
            | DataType::Timestamp
            | DataType::Time
            | DataType::TimeTz
            | DataType::Interval
    )
}

/// The result type of `l op r` for date/time operands, PostgreSQL's operator table; `None`
/// when neither side is a date/time type. An untyped side (`None`) takes the type the
/// operator needs there, returned second.
pub fn binary_type(
    op: crate::expr::BinOp,
    l: Option<DataType>,
    r: Option<DataType>,
) -> Option<SqlResult<(DataType, Option<DataType>)>> {
    use crate::expr::BinOp as B;
    use DataType as T;
    let dt = |t: Option<DataType>| t.is_some_and(is_datetime_type);
    if !dt(l) && !dt(r) {
        return None;
    }
    let ts_like = |t: T| matches!(t, T::Date | T::Timestamp | T::TimestampTz);
    let int = |t: T| matches!(t, T::Int4);
    let num = |t: T| t.is_numeric();
    // The untyped side takes the type the operator wants there.
    let (l2, r2, untyped) = match (l, r, op) {
        (Some(a), None, B::Add) | (None, Some(a), B::Add) => {
            let want = match a {
                T::Date => T::Int4,
                T::Time => T::Date,
                _ => T::Interval,
            };
            let (x, y) = if l.is_some() { (a, want) } else { (want, a) };
            (x, y, Some(want))
        }
        (Some(a), None, B::Sub) => {
            let want = if a == T::Date { T::Date } else { a };
            (a, want, Some(want))
        }
        (None, Some(a), _) => (a, a, Some(a)),
        (Some(a), None, _) => {
            let want = if matches!(op, B::Mul | B::Div) {
                T::Float8
            } else {
                a
            };
            (a, want, Some(want))
        }
        (Some(a), Some(b), _) => (a, b, None),
        (None, None, _) => return None,
    };
    let ty = match (l2, op, r2) {
        (T::Date, B::Add | B::Sub, b) if int(b) => T::Date,
        (a, B::Add, T::Date) if int(a) => T::Date,
        (T::Date, B::Sub, T::Date) => T::Int4,
        (T::Date, B::Add | B::Sub, T::Interval) | (T::Interval, B::Add, T::Date) => T::Timestamp,
        (T::Date, B::Add, T::Time) | (T::Time, B::Add, T::Date) => T::Timestamp,
        (T::Timestamp, B::Add | B::Sub, T::Interval) | (T::Interval, B::Add, T::Timestamp) => {
            T::Timestamp
        }
        (T::TimestampTz, B::Add | B::Sub, T::Interval) | (T::Interval, B::Add, T::TimestampTz) => {
            T::TimestampTz
        }
        (a, B::Sub, b) if ts_like(a) && ts_like(b) => T::Interval,
        (T::Interval, B::Add | B::Sub, T::Interval) => T::Interval,
        (T::Interval, B::Mul | B::Div, b) if num(b) => T::Interval,
        (a, B::Mul, T::Interval) if num(a) => T::Interval,
        (T::Time, B::Add | B::Sub, T::Interval) | (T::Interval, B::Add, T::Time) => T::Time,
        (T::Time, B::Sub, T::Time) => T::Interval,
        (T::TimeTz, B::Add | B::Sub, T::Interval) | (T::Interval, B::Add, T::TimeTz) => T::TimeTz,
        (T::Date, B::Add, T::TimeTz) | (T::TimeTz, B::Add, T::Date) => T::TimestampTz,
        (a, _, b) => {
            return Some(Err(SqlError::UndefinedOperator(format!(
                "{} {} {}",
                a.name(),
                crate::expr::op_symbol(op),
                b.name()
            ))));
        }
    };
    Some(Ok((ty, untyped)))
}

/// Evaluates date/time arithmetic (types resolved by [`binary_type`]).
pub fn arith(op: crate::expr::BinOp, a: &Value, b: &Value, ty: DataType) -> SqlResult<Value> {
    use crate::expr::BinOp as B;
    let mismatch = || {
        SqlError::UndefinedOperator(format!(
            "{} {} {}",
            kind(a),
            crate::expr::op_symbol(op),
            kind(b)
        ))
    };
    let days_add = |d: i32, n: i64| -> SqlResult<Value> {
        if d == DATE_POS_INF || d == DATE_NEG_INF {
            return Ok(Value::Date(d));
        }
        let r = i64::from(d) + n;
        if !date_in_range(r) {
            return Err(date_range());
        }
        Ok(Value::Date(r as i32))
    };
    Ok(match (a, op, b) {
        (Value::Date(d), B::Add, Value::Int(n)) | (Value::Int(n), B::Add, Value::Date(d)) => {
            days_add(*d, *n)?
        }
        (Value::Date(d), B::Sub, Value::Int(n)) => days_add(*d, -*n)?,
        (Value::Date(x), B::Sub, Value::Date(y)) => {
            if [*x, *y]
                .iter()
                .any(|d| *d == DATE_POS_INF || *d == DATE_NEG_INF)
            {
                return Err(SqlError::DatetimeValueOutOfRange(
                    "cannot subtract infinite dates".into(),
                ));
            }
            Value::Int(i64::from(*x) - i64::from(*y))
        }
        (Value::Date(d), B::Add, Value::Time(t)) | (Value::Time(t), B::Add, Value::Date(d)) => {
            let base = date_to_ts(*d);
            if is_infinite_ts(base) {
                Value::Timestamp(base)
            } else {
                Value::Timestamp(base + t)
            }
        }
        (Value::Time(t), B::Add | B::Sub, Value::Interval(iv))
        | (Value::Interval(iv), B::Add, Value::Time(t)) => {
            let delta = if op == B::Sub { -iv.micros } else { iv.micros };
            Value::Time((t + delta % US_PER_DAY).rem_euclid(US_PER_DAY))
        }
        (Value::TimeTz(t, e), B::Add | B::Sub, Value::Interval(iv))
        | (Value::Interval(iv), B::Add, Value::TimeTz(t, e)) => {
            let delta = if op == B::Sub { -iv.micros } else { iv.micros };
            Value::TimeTz((t + delta % US_PER_DAY).rem_euclid(US_PER_DAY), *e)
        }
        (Value::Date(d), B::Add, Value::TimeTz(t, e))
        | (Value::TimeTz(t, e), B::Add, Value::Date(d)) => {
            let base = date_to_ts(*d);
            if is_infinite_ts(base) {
                Value::TimestampTz(base)
            } else {
                Value::TimestampTz(base + t - i64::from(*e) * US_PER_SEC)
            }
        }
        (Value::Time(x), B::Sub, Value::Time(y)) => Value::Interval(Interval {
            months: 0,
            days: 0,
            micros: x - y,
        }),
        (Value::Interval(x), B::Add, Value::Interval(y)) => Value::Interval(x.checked_add(y)?),
        (Value::Interval(x), B::Sub, Value::Interval(y)) => Value::Interval(x.checked_sub(y)?),
        (Value::Interval(iv), B::Mul, n) | (n, B::Mul, Value::Interval(iv)) => {
            Value::Interval(interval_mul(iv, num_f64(n).ok_or_else(mismatch)?)?)
        }
        (Value::Interval(iv), B::Div, n) => {
            Value::Interval(interval_div(iv, num_f64(n).ok_or_else(mismatch)?)?)
        }
        (x, B::Add | B::Sub, Value::Interval(iv)) | (Value::Interval(iv), B::Add, x) => {
            let iv = if op == B::Sub { iv.checked_neg()? } else { *iv };
            match (x, ty) {
                (Value::TimestampTz(t), _) => Value::TimestampTz(tz_add_interval(*t, &iv)?),
                (Value::Date(d), _) => Value::Timestamp(ts_add_interval(date_to_ts(*d), &iv)?),
                (Value::Timestamp(t), _) => Value::Timestamp(ts_add_interval(*t, &iv)?),
                _ => return Err(mismatch()),
            }
        }
        (x, B::Sub, y) => {
            let tz = matches!(x, Value::TimestampTz(_)) || matches!(y, Value::TimestampTz(_));
            let as_us = |v: &Value| -> Option<i64> {
                match v {
                    Value::Date(d) if tz => Some(ts_to_tz(date_to_ts(*d))),
                    Value::Date(d) => Some(date_to_ts(*d)),
                    Value::Timestamp(t) if tz => Some(ts_to_tz(*t)),
                    Value::Timestamp(t) | Value::TimestampTz(t) => Some(*t),
                    _ => None,
                }
            };
            let (Some(p), Some(q)) = (as_us(x), as_us(y)) else {
                return Err(mismatch());
            };
            Value::Interval(ts_diff(p, q)?)
        }
        _ => return Err(mismatch()),
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Date(_) => "date",
        Value::Timestamp(_) => "timestamp without time zone",
        Value::TimestampTz(_) => "timestamp with time zone",
        Value::Time(_) => "time without time zone",
        Value::TimeTz(..) => "time with time zone",
        Value::Interval(_) => "interval",
        Value::Int(_) => "integer",
        Value::Float(_) => "double precision",
        Value::Numeric(_) => "numeric",
        Value::Text(_) => "text",
        _ => "unknown",
    }
}

/// Orders two date/time values of possibly different types as PostgreSQL's cross-type
/// comparisons do (a date is its midnight; a timestamp meets a timestamptz in the session's
/// zone); `None` when the pair is not one of them.
#[must_use]
pub fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    let tz = matches!(a, Value::TimestampTz(_)) || matches!(b, Value::TimestampTz(_));
    let key = |v: &Value| -> Option<i64> {
        Some(match v {
            Value::Date(d) if tz => ts_to_tz(date_to_ts(*d)),
            Value::Date(d) => date_to_ts(*d),
            Value::Timestamp(t) if tz => ts_to_tz(*t),
            Value::Timestamp(t) | Value::TimestampTz(t) => *t,
            _ => return None,
        })
    };
    match (a, b) {
        (Value::Interval(x), Value::Interval(y)) => Some(x.span_us().cmp(&y.span_us())),
        (Value::Time(x), Value::Time(y)) => Some(x.cmp(y)),
        (Value::TimeTz(x, xe), Value::TimeTz(y, ye)) => {
            Some(timetz_sort_key(*x, *xe).cmp(&timetz_sort_key(*y, *ye)))
        }
        // A time meets a timetz as a timetz in the session's zone.
        (Value::TimeTz(x, xe), Value::Time(y)) => {
            let (y, ye) = time_in_session_zone(*y);
            Some(timetz_sort_key(*x, *xe).cmp(&timetz_sort_key(y, ye)))
        }
        (Value::Time(x), Value::TimeTz(y, ye)) => {
            let (x, xe) = time_in_session_zone(*x);
            Some(timetz_sort_key(x, xe).cmp(&timetz_sort_key(*y, *ye)))
        }
        (Value::Date(x), Value::Date(y)) => Some(x.cmp(y)),
        _ => Some(key(a)?.cmp(&key(b)?)),
    }
}

/// Casts between the date/time types and text; `None` when neither side is one of them.
pub fn cast(v: &Value, ty: DataType) -> Option<SqlResult<Value>> {
    let r = match (v, ty) {
        (Value::Date(d), DataType::Date) => Ok(Value::Date(*d)),
        (Value::Date(d), DataType::Timestamp) => Ok(Value::Timestamp(date_to_ts(*d))),
        (Value::Date(d), DataType::TimestampTz) => Ok(Value::TimestampTz(ts_to_tz(date_to_ts(*d)))),
        (Value::Date(d), DataType::Text) => Ok(Value::Text(format_date(*d))),
        (Value::Timestamp(t), DataType::Timestamp) => Ok(Value::Timestamp(*t)),
        (Value::Timestamp(t), DataType::Text) => Ok(Value::Text(format_timestamp(*t))),
        (Value::Timestamp(t), DataType::Date) => ts_to_date(*t).map(Value::Date),
        (Value::Timestamp(t), DataType::TimestampTz) => Ok(Value::TimestampTz(ts_to_tz(*t))),
        (Value::Timestamp(t), DataType::Time) => time_of(*t),
        (Value::TimestampTz(t), DataType::TimestampTz) => Ok(Value::TimestampTz(*t)),
        (Value::TimestampTz(t), DataType::Timestamp) => Ok(Value::Timestamp(tz_to_ts(*t))),
        (Value::TimestampTz(t), DataType::Date) => ts_to_date(tz_to_ts(*t)).map(Value::Date),
        (Value::TimestampTz(t), DataType::Time) => time_of(tz_to_ts(*t)),
        (Value::TimestampTz(t), DataType::Text) => Ok(Value::Text(format_timestamptz(*t))),
        (Value::Time(t), DataType::Time) => Ok(Value::Time(*t)),
        (Value::Time(t), DataType::TimeTz) => {
            let (t, e) = time_in_session_zone(*t);
            Ok(Value::TimeTz(t, e))
        }
        (Value::TimestampTz(t), DataType::TimeTz) => {
            if is_infinite_ts(*t) {
                return Some(Err(ts_range()));
            }
            let zone = session_zone();
            let east = zone.east_secs_at(*t);
            let local = t + i64::from(east) * US_PER_SEC;
            Ok(Value::TimeTz(local.rem_euclid(US_PER_DAY), east))
        }
        (Value::TimeTz(t, e), DataType::TimeTz) => Ok(Value::TimeTz(*t, *e)),
        (Value::TimeTz(t, _), DataType::Time) => Ok(Value::Time(*t)),
        (Value::TimeTz(t, e), DataType::Text) => Ok(Value::Text(format_timetz(*t, *e))),
        (Value::Time(t), DataType::Interval) => Ok(Value::Interval(Interval {
            months: 0,
            days: 0,
            micros: *t,
        })),
        (Value::Time(t), DataType::Text) => Ok(Value::Text(format_time(*t))),
        (Value::Interval(iv), DataType::Interval) => Ok(Value::Interval(*iv)),
        (Value::Interval(iv), DataType::Time) => Ok(Value::Time(iv.micros.rem_euclid(US_PER_DAY))),
        (Value::Interval(iv), DataType::Text) => Ok(Value::Text(format_interval(iv))),
        (v, ty) if is_datetime(v) || is_datetime_type(ty) => {
            if matches!(v, Value::Text(_) | Value::Null) {
                return None;
            }
            Err(SqlError::CannotCoerce(format!(
                "cannot cast type {} to {}",
                kind(v),
                ty.name()
            )))
        }
        _ => return None,
    };
    Some(r)
}

fn time_of(t: i64) -> SqlResult<Value> {
    if is_infinite_ts(t) {
        return Err(ts_range());
    }
    Ok(Value::Time(t.rem_euclid(US_PER_DAY)))
}

// ---------------------------------------------------------------------------------------------
// Functions.

/// The result type of a date/time function the binder resolved (named `dt_…`).
#[must_use]
pub fn function_type(name: &str) -> Option<DataType> {
    Some(match name {
        "dt_now"
        | "dt_statement_timestamp"
        | "dt_clock_timestamp"
        | "dt_trunc_tz"
        | "dt_to_timestamp"
        | "dt_make_timestamptz"
        | "dt_at_zone_to_tz"
        | "dt_bin_tz" => DataType::TimestampTz,
        "dt_localtimestamp" | "dt_trunc_ts" | "dt_make_timestamp" | "dt_at_zone_to_ts"
        | "dt_bin_ts" => DataType::Timestamp,
        "dt_current_date" | "dt_to_date" | "dt_make_date" => DataType::Date,
        "dt_localtime" | "dt_make_time" => DataType::Time,
        "dt_current_time" | "dt_at_zone_timetz" => DataType::TimeTz,
        "dt_age"
        | "dt_age1"
        | "dt_trunc_iv"
        | "dt_make_interval"
        | "dt_justify_days"
        | "dt_justify_hours"
        | "dt_justify_interval" => DataType::Interval,
        "dt_extract" => DataType::Numeric,
        "dt_date_part" => DataType::Float8,
        "dt_to_char" => DataType::Text,
        "dt_isfinite" => DataType::Bool,
        _ => return None,
    })
}

fn int_arg(v: &Value, what: &str) -> SqlResult<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Float(f) => Ok(f.round() as i64),
        Value::Numeric(n) => Ok(n.to_i64_rounded("integer")?.unwrap_or(0)),
        Value::Text(t) => t
            .trim()
            .parse()
            .map_err(|_| SqlError::InvalidTextRepresentation {
                ty: "integer".into(),
                value: t.clone(),
            }),
        _ => Err(SqlError::DatatypeMismatch(format!(
            "{what} must be a number"
        ))),
    }
}

fn text_arg(v: &Value) -> String {
    v.to_text().unwrap_or_default()
}

/// Evaluates a `dt_…` function; `None` for other names.
pub fn eval_function(name: &str, vals: &[Value]) -> SqlResult<Option<Value>> {
    if !name.starts_with("dt_") {
        return Ok(None);
    }
    let c = clock();
    // Functions of no argument read the clock; the rest are strict.
    match name {
        "dt_now" => return Ok(Some(Value::TimestampTz(c.transaction_us))),
        "dt_statement_timestamp" => return Ok(Some(Value::TimestampTz(c.statement_us))),
        "dt_clock_timestamp" => return Ok(Some(Value::TimestampTz(crate::types::now_us()))),
        "dt_localtimestamp" => {
            return Ok(Some(Value::Timestamp(local_of(c.transaction_us, &c.zone))));
        }
        "dt_current_date" => {
            return Ok(Some(Value::Date(ts_to_date(local_of(
                c.transaction_us,
                &c.zone,
            ))?)));
        }
        "dt_localtime" => {
            return Ok(Some(Value::Time(
                local_of(c.transaction_us, &c.zone).rem_euclid(US_PER_DAY),
            )));
        }
        "dt_current_time" => {
            let east = c.zone.east_secs_at(c.transaction_us);
            let local = c.transaction_us + i64::from(east) * US_PER_SEC;
            return Ok(Some(Value::TimeTz(local.rem_euclid(US_PER_DAY), east)));
        }
        _ => {}
    }
    if vals.iter().any(Value::is_null) {
        return Ok(Some(Value::Null));
    }
    let v = match name {
        "dt_isfinite" => Value::Bool(match &vals[0] {
            Value::Date(d) => *d != DATE_POS_INF && *d != DATE_NEG_INF,
            Value::Timestamp(t) | Value::TimestampTz(t) => !is_infinite_ts(*t),
            _ => true,
        }),
        "dt_extract" | "dt_date_part" => {
            let field = text_arg(&vals[0]).to_ascii_lowercase();
            match extract(&field, &vals[1])? {
                None => Value::Null,
                Some(n) if name == "dt_extract" => Value::Numeric(n),
                Some(n) => Value::Float(n.to_f64()),
            }
        }
        "dt_trunc_ts" | "dt_trunc_tz" | "dt_trunc_iv" => {
            let field = text_arg(&vals[0]).to_ascii_lowercase();
            match &vals[1] {
                Value::Interval(iv) => Value::Interval(trunc_interval(&field, iv)?),
                Value::Timestamp(t) => Value::Timestamp(trunc_local(&field, *t)?),
                other => {
                    let zone = match vals.get(2) {
                        Some(z) => zone_arg(z)?,
                        None => session_zone(),
                    };
                    let t = match other {
                        Value::TimestampTz(t) => *t,
                        Value::Date(d) => ts_to_tz(date_to_ts(*d)),
                        _ => return Err(SqlError::UndefinedFunction("date_trunc".into())),
                    };
                    if is_infinite_ts(t) {
                        Value::TimestampTz(t)
                    } else {
                        let east = i64::from(zone.east_secs_at(t)) * US_PER_SEC;
                        let local = trunc_local(&field, t + east)?;
                        // Units of a day and up find the offset of the truncated local time
                        // anew; smaller ones keep the value's own (PostgreSQL's `redotz`).
                        let whole_days = matches!(
                            unit_name(&field),
                            Some(
                                "day"
                                    | "week"
                                    | "month"
                                    | "quarter"
                                    | "year"
                                    | "decade"
                                    | "century"
                                    | "millennium"
                            )
                        );
                        Value::TimestampTz(if whole_days {
                            ts_to_tz_in(local, &zone)
                        } else {
                            local - east
                        })
                    }
                }
            }
        }
        "dt_age" => {
            let tz = matches!(vals[0], Value::TimestampTz(_));
            let a = local_ts_of(&vals[0])?;
            let b = local_ts_of(&vals[1])?;
            let _ = tz;
            Value::Interval(age(a, b)?)
        }
        "dt_age1" => {
            let today = local_of(c.transaction_us, &c.zone).div_euclid(US_PER_DAY) * US_PER_DAY;
            Value::Interval(age(today, local_ts_of(&vals[0])?)?)
        }
        "dt_justify_days" | "dt_justify_hours" | "dt_justify_interval" => {
            let Value::Interval(iv) = &vals[0] else {
                return Err(SqlError::UndefinedFunction(name[3..].into()));
            };
            Value::Interval(match name {
                "dt_justify_days" => justify_days(*iv),
                "dt_justify_hours" => justify_hours(*iv),
                _ => justify_interval(*iv),
            })
        }
        "dt_make_date" => {
            let (y, m, d) = (
                int_arg(&vals[0], "year")?,
                int_arg(&vals[1], "month")?,
                int_arg(&vals[2], "day")?,
            );
            Value::Date(make_date(y, m, d)? as i32)
        }
        "dt_make_time" => {
            let us = make_clock(
                int_arg(&vals[0], "hour")?,
                int_arg(&vals[1], "min")?,
                num_f64(&vals[2]).unwrap_or(0.0),
            )?;
            Value::Time(us)
        }
        "dt_make_timestamp" | "dt_make_timestamptz" => {
            let days = make_date(
                int_arg(&vals[0], "year")?,
                int_arg(&vals[1], "month")?,
                int_arg(&vals[2], "day")?,
            )?;
            let us = make_clock(
                int_arg(&vals[3], "hour")?,
                int_arg(&vals[4], "min")?,
                num_f64(&vals[5]).unwrap_or(0.0),
            )?;
            let local = days * US_PER_DAY + us;
            if name == "dt_make_timestamp" {
                Value::Timestamp(local)
            } else {
                let zone = match vals.get(6) {
                    Some(z) => zone_arg(z)?,
                    None => session_zone(),
                };
                Value::TimestampTz(ts_to_tz_in(local, &zone))
            }
        }
        "dt_make_interval" => {
            let i = |k: usize| vals.get(k).map_or(Ok(0), |v| int_arg(v, "interval field"));
            let years = i(0)?;
            let months = i(1)?;
            let weeks = i(2)?;
            let days = i(3)?;
            let hours = i(4)?;
            let mins = i(5)?;
            let secs = vals.get(6).and_then(num_f64).unwrap_or(0.0);
            let m = years
                .checked_mul(12)
                .and_then(|y| y.checked_add(months))
                .and_then(|x| i32::try_from(x).ok())
                .ok_or_else(iv_range)?;
            let d = weeks
                .checked_mul(7)
                .and_then(|w| w.checked_add(days))
                .and_then(|x| i32::try_from(x).ok())
                .ok_or_else(iv_range)?;
            let us = hours
                .checked_mul(US_PER_HOUR)
                .and_then(|h| h.checked_add(mins.checked_mul(US_PER_MIN)?))
                .and_then(|x| x.checked_add(f64_to_i64((secs * 1e6).round())?))
                .ok_or_else(iv_range)?;
            Value::Interval(Interval {
                months: m,
                days: d,
                micros: us,
            })
        }
        "dt_to_timestamp" => match (&vals[0], vals.get(1)) {
            (n, None) => {
                let f = num_f64(n)
                    .ok_or_else(|| SqlError::UndefinedFunction("to_timestamp(text)".into()))?;
                if f.is_infinite() {
                    Value::TimestampTz(if f > 0.0 { TS_POS_INF } else { TS_NEG_INF })
                } else {
                    let us = f64_to_i64((f * 1e6).round())
                        .filter(|u| ts_in_range(*u))
                        .ok_or_else(|| {
                            SqlError::DatetimeValueOutOfRange(format!(
                                "timestamp out of range: \"{}\"",
                                crate::types::format_float8(f)
                            ))
                        })?;
                    Value::TimestampTz(us)
                }
            }
            (t, Some(fmt)) => {
                let (local, zone) = to_timestamp(&text_arg(t), &text_arg(fmt))?;
                Value::TimestampTz(zone.unwrap_or_else(session_zone).utc_of_local(local))
            }
        },
        "dt_to_date" => {
            let (local, _) = to_timestamp(&text_arg(&vals[0]), &text_arg(&vals[1]))?;
            Value::Date(ts_to_date(local)?)
        }
        "dt_to_char" => {
            let fmt = text_arg(&vals[1]);
            let (local, zone) = match &vals[0] {
                Value::Timestamp(t) => (*t, None),
                Value::TimestampTz(t) => {
                    let z = session_zone();
                    (
                        tz_to_ts(*t),
                        Some((z.east_secs_at(*t), z.abbreviation_at(*t))),
                    )
                }
                Value::Date(d) => (date_to_ts(*d), None),
                Value::Interval(iv) => {
                    return Ok(Some(Value::Text(to_char_interval(iv, &fmt))));
                }
                other => {
                    return Err(SqlError::UndefinedFunction(format!(
                        "to_char({}, text)",
                        kind(other)
                    )));
                }
            };
            if is_infinite_ts(local) {
                return Ok(Some(Value::Null));
            }
            Value::Text(to_char(local, zone, &fmt))
        }
        "dt_at_zone_to_tz" => {
            // timestamp AT TIME ZONE zone: the local time read in that zone.
            let zone = zone_arg(&vals[1])?;
            match &vals[0] {
                Value::Timestamp(t) => Value::TimestampTz(ts_to_tz_in(*t, &zone)),
                Value::Date(d) => Value::TimestampTz(ts_to_tz_in(date_to_ts(*d), &zone)),
                _ => return Err(SqlError::UndefinedFunction("timezone".into())),
            }
        }
        "dt_at_zone_to_ts" => {
            let zone = zone_arg(&vals[1])?;
            match &vals[0] {
                Value::TimestampTz(t) => Value::Timestamp(tz_to_ts_in(*t, &zone)),
                _ => return Err(SqlError::UndefinedFunction("timezone".into())),
            }
        }
        "dt_at_zone_timetz" => {
            // timetz AT TIME ZONE zone: the same instant of the day in that zone, its offset
            // taken as of the transaction's start for a zone with rules.
            let zone = zone_arg(&vals[1])?;
            let (t, e) = match &vals[0] {
                Value::TimeTz(t, e) => (*t, *e),
                Value::Time(t) => time_in_session_zone(*t),
                _ => return Err(SqlError::UndefinedFunction("timezone".into())),
            };
            let east = zone.east_secs_at(c.transaction_us);
            let moved = t + (i64::from(east) - i64::from(e)) * US_PER_SEC;
            Value::TimeTz(moved.rem_euclid(US_PER_DAY), east)
        }
        "dt_bin_ts" | "dt_bin_tz" => {
            let Value::Interval(stride) = &vals[0] else {
                return Err(SqlError::UndefinedFunction("date_bin".into()));
            };
            let us = |v: &Value| match v {
                Value::Timestamp(t) | Value::TimestampTz(t) => Ok(*t),
                _ => Err(SqlError::UndefinedFunction("date_bin".into())),
            };
            let (src, origin) = (us(&vals[1])?, us(&vals[2])?);
            if stride.months != 0 {
                return Err(SqlError::FeatureNotSupported(
                    "timestamps cannot be binned into intervals containing months or years".into(),
                ));
            }
            let step = i64::from(stride.days)
                .checked_mul(US_PER_DAY)
                .and_then(|d| d.checked_add(stride.micros))
                .ok_or_else(iv_range)?;
            if step <= 0 {
                return Err(SqlError::InvalidParameterValue(
                    "stride must be greater than zero".into(),
                ));
            }
            let delta = src.checked_sub(origin).ok_or_else(ts_range)?;
            let binned = origin + delta.div_euclid(step) * step;
            if name == "dt_bin_ts" {
                Value::Timestamp(binned)
            } else {
                Value::TimestampTz(binned)
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(v))
}

fn local_ts_of(v: &Value) -> SqlResult<i64> {
    Ok(match v {
        Value::Timestamp(t) => *t,
        Value::TimestampTz(t) => tz_to_ts(*t),
        Value::Date(d) => date_to_ts(*d),
        other => {
            return Err(SqlError::UndefinedFunction(format!("age({})", kind(other))));
        }
    })
}

fn zone_arg(v: &Value) -> SqlResult<Zone> {
    match v {
        Value::Interval(iv) => {
            if iv.months != 0 || iv.days != 0 {
                return Err(SqlError::InvalidParameterValue(format!(
                    "interval time zone \"{}\" must not include months or days",
                    format_interval(iv)
                )));
            }
            Ok(Zone::Fixed(
                i32::try_from(iv.micros / US_PER_SEC).map_err(|_| iv_range())?,
            ))
        }
        other => {
            let t = text_arg(other);
            parse_zone_name(&t).ok_or_else(|| {
                SqlError::InvalidParameterValue(format!("time zone \"{t}\" not recognized"))
            })
        }
    }
}

fn make_date(y: i64, m: i64, d: i64) -> SqlResult<i64> {
    let y2 = if y < 0 { y + 1 } else { y };
    let bad = || {
        SqlError::DatetimeFieldOverflow(format!("date field value out of range: {y}-{m:02}-{d:02}"))
    };
    if y == 0 {
        return Err(bad());
    }
    let days = checked_date(y2, m, d).ok_or_else(bad)?;
    if !date_in_range(days) {
        return Err(SqlError::DatetimeValueOutOfRange(format!(
            "date out of range: {y}-{m:02}-{d:02}"
        )));
    }
    Ok(days)
}

fn make_clock(h: i64, m: i64, sec: f64) -> SqlResult<i64> {
    let us = (sec * 1e6).round();
    if !(0..=24).contains(&h) || !(0..=59).contains(&m) || !(0.0..=60e6).contains(&us) {
        return Err(SqlError::DatetimeFieldOverflow(format!(
            "time field value out of range: {h}:{m:02}:{:02}",
            crate::types::format_float8(sec)
        )));
    }
    Ok(h * US_PER_HOUR + m * US_PER_MIN + us as i64)
}

/// `age(a, b)`: the difference in years, months and days, borrowing as PostgreSQL does.
fn age(a: i64, b: i64) -> SqlResult<Interval> {
    if is_infinite_ts(a) || is_infinite_ts(b) {
        return Err(iv_range());
    }
    let split = |t: i64| {
        let (y, m, d) = civil_from_days(t.div_euclid(US_PER_DAY));
        (y, m, d, t.rem_euclid(US_PER_DAY))
    };
    let (y1, m1, d1, t1) = split(a);
    let (y2, m2, d2, t2) = split(b);
    let mut tim = t1 - t2;
    let mut day = d1 - d2;
    let mut mon = m1 - m2;
    let mut year = y1 - y2;
    let flip = a < b;
    if flip {
        tim = -tim;
        day = -day;
        mon = -mon;
        year = -year;
    }
    while tim < 0 {
        tim += US_PER_DAY;
        day -= 1;
    }
    while day < 0 {
        day += if flip {
            days_in_month(y1, m1)
        } else {
            days_in_month(y2, m2)
        };
        mon -= 1;
    }
    while mon < 0 {
        mon += 12;
        year -= 1;
    }
    if flip {
        tim = -tim;
        day = -day;
        mon = -mon;
        year = -year;
    }
    Ok(Interval {
        months: i32::try_from(year * 12 + mon).map_err(|_| iv_range())?,
        days: day as i32,
        micros: tim,
    })
}

fn unit_error(field: &str, ty: &str, recognized: bool) -> SqlError {
    if recognized {
        SqlError::NotSupported(format!("unit \"{field}\" not supported for type {ty}"))
    } else {
        SqlError::InvalidParameterValue(format!("unit \"{field}\" not recognized for type {ty}"))
    }
}

/// The canonical unit an `extract`/`date_trunc` field names.
fn unit_name(field: &str) -> Option<&'static str> {
    Some(match field {
        "microsecond" | "microseconds" | "us" | "usec" | "usecs" | "useconds" => "microseconds",
        "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" | "mseconds" => "milliseconds",
        "second" | "seconds" | "s" | "sec" | "secs" => "second",
        "minute" | "minutes" | "m" | "min" | "mins" => "minute",
        "hour" | "hours" | "h" | "hr" | "hrs" => "hour",
        "day" | "days" | "d" => "day",
        "week" | "weeks" | "w" => "week",
        "month" | "months" | "mon" | "mons" => "month",
        "quarter" | "qtr" => "quarter",
        "year" | "years" | "y" | "yr" | "yrs" => "year",
        "decade" | "decades" => "decade",
        "century" | "centuries" | "c" => "century",
        "millennium" | "millennia" | "millenium" | "mil" | "mils" => "millennium",
        "epoch" => "epoch",
        "julian" | "j" => "julian",
        "dow" => "dow",
        "isodow" => "isodow",
        "doy" => "doy",
        "isoyear" => "isoyear",
        "timezone" => "timezone",
        "timezone_hour" => "timezone_hour",
        "timezone_minute" => "timezone_minute",
        _ => return None,
    })
}

fn scaled(n: i128, scale: u32) -> SqlResult<Numeric> {
    if scale == 0 {
        return Ok(Numeric::from_i128(n));
    }
    let p = 10i128.pow(scale);
    let sign = if n < 0 { "-" } else { "" };
    let a = n.unsigned_abs();
    let p = p as u128;
    Numeric::parse(&format!(
        "{sign}{}.{:0width$}",
        a / p,
        a % p,
        width = scale as usize
    ))
}

/// ISO 8601 week-numbering year and week of a day.
fn iso_week(days: i64) -> (i64, i64) {
    let wd = (days + 3).rem_euclid(7) + 1; // Monday = 1
    let thursday = days + (4 - wd);
    let (y, _, _) = civil_from_days(thursday);
    (y, (thursday - days_from_civil(y, 1, 1)) / 7 + 1)
}

/// `extract(field FROM v)` as a numeric (PostgreSQL 15); `None` (NULL) for a field of an
/// infinite time stamp that is not itself infinite (`hour`, `timezone`, …), as PostgreSQL 14
/// and up answer.
fn extract(field: &str, v: &Value) -> SqlResult<Option<Numeric>> {
    let finite_stand_in = match v {
        Value::Date(d) if *d == DATE_POS_INF || *d == DATE_NEG_INF => Some(Value::Date(0)),
        Value::Timestamp(t) if is_infinite_ts(*t) => Some(Value::Timestamp(0)),
        Value::TimestampTz(t) if is_infinite_ts(*t) => Some(Value::TimestampTz(0)),
        _ => None,
    };
    let monotonic = matches!(
        unit_name(field),
        Some("epoch" | "julian" | "year" | "isoyear" | "decade" | "century" | "millennium")
    );
    if let Some(stand_in) = finite_stand_in
        && !monotonic
    {
        // An unknown unit is still an error, and so is a time unit of a date; a time stamp
        // answers NULL for every other unit (even `timezone` without a zone).
        if matches!(v, Value::Date(_)) || unit_name(field).is_none() {
            extract_finite(field, &stand_in)?;
        }
        return Ok(None);
    }
    extract_finite(field, v).map(Some)
}

fn extract_finite(field: &str, v: &Value) -> SqlResult<Numeric> {
    let unit = unit_name(field);
    let (ty, local, utc, zone) = match v {
        Value::Interval(iv) => return extract_interval(field, unit, iv),
        Value::TimeTz(t, e) => {
            let e = i64::from(*e);
            return match unit {
                Some("microseconds") => scaled(i128::from(t % US_PER_MIN), 0),
                Some("milliseconds") => scaled(i128::from(t % US_PER_MIN), 3),
                Some("second") => scaled(i128::from(t % US_PER_MIN), 6),
                Some("minute") => scaled(i128::from(t / US_PER_MIN % 60), 0),
                Some("hour") => scaled(i128::from(t / US_PER_HOUR), 0),
                Some("epoch") => scaled(i128::from(t - e * US_PER_SEC), 6),
                Some("timezone") => scaled(i128::from(e), 0),
                Some("timezone_hour") => scaled(i128::from(e / 3600), 0),
                Some("timezone_minute") => scaled(i128::from(e / 60 % 60), 0),
                Some(_) => Err(unit_error(field, "time with time zone", true)),
                None => Err(unit_error(field, "time with time zone", false)),
            };
        }
        Value::Time(t) => {
            return match unit {
                Some("microseconds") => scaled(i128::from(t % US_PER_MIN), 0),
                Some("milliseconds") => scaled(i128::from(t % US_PER_MIN), 3),
                Some("second") => scaled(i128::from(t % US_PER_MIN), 6),
                Some("minute") => scaled(i128::from(t / US_PER_MIN % 60), 0),
                Some("hour") => scaled(i128::from(t / US_PER_HOUR), 0),
                Some("epoch") => scaled(i128::from(*t), 6),
                Some(_) => Err(unit_error(field, "time without time zone", true)),
                None => Err(unit_error(field, "time without time zone", false)),
            };
        }
        Value::Date(d) => ("date", date_to_ts(*d), date_to_ts(*d), None),
        Value::Timestamp(t) => ("timestamp without time zone", *t, *t, None),
        Value::TimestampTz(t) => (
            "timestamp with time zone",
            tz_to_ts(*t),
            *t,
            Some(session_zone().east_secs_at(*t)),
        ),
        other => {
            return Err(SqlError::UndefinedFunction(format!(
                "extract(unknown, {})",
                kind(other)
            )));
        }
    };
    let Some(unit) = unit else {
        return Err(unit_error(field, ty, false));
    };
    if is_infinite_ts(local) {
        return match unit {
            "epoch" | "julian" | "year" | "isoyear" | "decade" | "century" | "millennium" => {
                Numeric::parse(if local > 0 { "Infinity" } else { "-Infinity" })
            }
            _ => Err(SqlError::NotSupported("infinite value".into())),
        };
    }
    let days = local.div_euclid(US_PER_DAY);
    let tod = local.rem_euclid(US_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let is_date = ty == "date";
    let time_unit = matches!(
        unit,
        "microseconds" | "milliseconds" | "second" | "minute" | "hour"
    );
    if is_date && (time_unit || unit.starts_with("timezone")) {
        return Err(unit_error(field, ty, true));
    }
    if zone.is_none() && unit.starts_with("timezone") {
        return Err(unit_error(field, ty, true));
    }
    let sec_us = i128::from(tod % US_PER_MIN);
    let int = |n: i64| scaled(i128::from(n), 0);
    let year_signed = if y > 0 { y } else { y - 1 };
    match unit {
        "microseconds" => scaled(sec_us, 0),
        "milliseconds" => scaled(sec_us, 3),
        "second" => scaled(sec_us, 6),
        "minute" => int(tod / US_PER_MIN % 60),
        "hour" => int(tod / US_PER_HOUR),
        "day" => int(d),
        "month" => int(m),
        "quarter" => int((m - 1) / 3 + 1),
        "week" => int(iso_week(days).1),
        "year" => int(year_signed),
        "isoyear" => {
            let iy = iso_week(days).0;
            int(if iy > 0 { iy } else { iy - 1 })
        }
        "decade" => int(if y >= 0 {
            y / 10
        } else {
            -((8 - (y - 1)) / 10)
        }),
        "century" => int(if y > 0 {
            (y + 99) / 100
        } else {
            -((99 - (y - 1)) / 100)
        }),
        "millennium" => int(if y > 0 {
            (y + 999) / 1000
        } else {
            -((999 - (y - 1)) / 1000)
        }),
        "dow" => int((days + 4).rem_euclid(7)),
        "isodow" => int((days + 3).rem_euclid(7) + 1),
        "doy" => int(days - days_from_civil(y, 1, 1) + 1),
        "epoch" if is_date => int(days * 86_400),
        "epoch" => scaled(i128::from(utc), 6),
        "julian" if is_date => int(days + UNIX_JULIAN_DAY),
        "julian" => {
            // Day number plus the fraction of the day, to numeric's precision.
            let whole = Numeric::from_i64(days + UNIX_JULIAN_DAY);
            let frac = Numeric::from_i64(tod).div(&Numeric::from_i64(US_PER_DAY))?;
            whole.add(&frac)
        }
        "timezone" => int(i64::from(zone.unwrap_or_default())),
        "timezone_hour" => int(i64::from(zone.unwrap_or_default() / 3600)),
        "timezone_minute" => int(i64::from(zone.unwrap_or_default() / 60 % 60)),
        _ => Err(unit_error(field, ty, true)),
    }
}

fn extract_interval(field: &str, unit: Option<&str>, iv: &Interval) -> SqlResult<Numeric> {
    let Some(unit) = unit else {
        return Err(unit_error(field, "interval", false));
    };
    let sec_us = i128::from(iv.micros % US_PER_MIN);
    let int = |n: i64| scaled(i128::from(n), 0);
    let years = i64::from(iv.months / 12);
    match unit {
        "microseconds" => scaled(sec_us, 0),
        "milliseconds" => scaled(sec_us, 3),
        "second" => scaled(sec_us, 6),
        "minute" => int(iv.micros / US_PER_MIN % 60),
        "hour" => int(iv.micros / US_PER_HOUR),
        "day" => int(i64::from(iv.days)),
        "month" => int(i64::from(iv.months % 12)),
        "quarter" => int(i64::from(iv.months % 12 / 3 + 1)),
        "year" => int(years),
        "decade" => int(years / 10),
        "century" => int(years / 100),
        "millennium" => int(years / 1000),
        "epoch" => {
            let secs = (1461 * i128::from(iv.months / 12)
                + 120 * i128::from(iv.months % 12)
                + 4 * i128::from(iv.days))
                * (86_400 / 4);
            scaled(secs * 1_000_000 + i128::from(iv.micros), 6)
        }
        _ => Err(unit_error(field, "interval", true)),
    }
}

fn trunc_local(field: &str, t: i64) -> SqlResult<i64> {
    if is_infinite_ts(t) {
        return Ok(t);
    }
    let days = t.div_euclid(US_PER_DAY);
    let tod = t.rem_euclid(US_PER_DAY);
    let (y, m, _) = civil_from_days(days);
    let at = |y: i64, m: i64, d: i64| days_from_civil(y, m, d) * US_PER_DAY;
    let floor_year = |n: i64, offset: i64| -> i64 {
        // Decades, centuries and millennia begin at years ≡ offset (mod n).
        if y > 0 {
            (y - offset).div_euclid(n) * n + offset
        } else {
            -((offset - y).div_euclid(n) * n) + offset
        }
    };
    Ok(match unit_name(field) {
        Some("microseconds") => t,
        Some("milliseconds") => days * US_PER_DAY + tod / 1000 * 1000,
        Some("second") => days * US_PER_DAY + tod / US_PER_SEC * US_PER_SEC,
        Some("minute") => days * US_PER_DAY + tod / US_PER_MIN * US_PER_MIN,
        Some("hour") => days * US_PER_DAY + tod / US_PER_HOUR * US_PER_HOUR,
        Some("day") => days * US_PER_DAY,
        Some("week") => (days - (days + 3).rem_euclid(7)) * US_PER_DAY,
        Some("month") => at(y, m, 1),
        Some("quarter") => at(y, (m - 1) / 3 * 3 + 1, 1),
        Some("year") => at(y, 1, 1),
        Some("decade") => at(if y > 0 { y - y % 10 } else { floor_year(10, 0) }, 1, 1),
        Some("century") => at(floor_year(100, 1), 1, 1),
        Some("millennium") => at(floor_year(1000, 1), 1, 1),
        Some(_) => {
            return Err(unit_error(field, "timestamp without time zone", true));
        }
        None => return Err(unit_error(field, "timestamp without time zone", false)),
    })
}

fn trunc_interval(field: &str, iv: &Interval) -> SqlResult<Interval> {
    let t = iv.micros;
    let years = iv.months / 12;
    let (months, days, micros) = match unit_name(field) {
        Some("microseconds") => (iv.months, iv.days, t),
        Some("milliseconds") => (iv.months, iv.days, t / 1000 * 1000),
        Some("second") => (iv.months, iv.days, t / US_PER_SEC * US_PER_SEC),
        Some("minute") => (iv.months, iv.days, t / US_PER_MIN * US_PER_MIN),
        Some("hour") => (iv.months, iv.days, t / US_PER_HOUR * US_PER_HOUR),
        Some("day") => (iv.months, iv.days, 0),
        Some("month") => (iv.months, 0, 0),
        Some("quarter") => (years * 12 + iv.months % 12 / 3 * 3, 0, 0),
        Some("year") => (years * 12, 0, 0),
        Some("decade") => (years / 10 * 120, 0, 0),
        Some("century") => (years / 100 * 1200, 0, 0),
        Some("millennium") => (years / 1000 * 12000, 0, 0),
        Some(_) => return Err(unit_error(field, "interval", true)),
        None => return Err(unit_error(field, "interval", false)),
    };
    Ok(Interval {
        months,
        days,
        micros,
    })
}

// ---------------------------------------------------------------------------------------------
// to_char and to_timestamp.

/// A piece of a `to_char` pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pat {
    Hh24,
    Hh12,
    Mi,
    Ss,
    Ms,
    Us,
    Sssss,
    Meridiem { upper: bool, dots: bool },
    Yyyy,
    Yyy,
    Yy,
    Y,
    MonthName(Case),
    MonAbbr(Case),
    Mm,
    DayName(Case),
    DayAbbr(Case),
    Ddd,
    Dd,
    D,
    Id,
    Iw,
    J,
    Q,
    Cc,
    Tz { upper: bool },
    Of,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Case {
    Upper,
    Capital,
    Lower,
}

enum Piece {
    Pat { pat: Pat, fill: bool },
    Lit(String),
}

/// Splits a format string into patterns and literal text.
fn compile(fmt: &str) -> Vec<Piece> {
    const TABLE: &[(&str, Pat)] = &[
        ("HH24", Pat::Hh24),
        ("HH12", Pat::Hh12),
        ("HH", Pat::Hh12),
        ("MI", Pat::Mi),
        ("SSSSS", Pat::Sssss),
        ("SSSS", Pat::Sssss),
        ("SS", Pat::Ss),
        ("MS", Pat::Ms),
        ("US", Pat::Us),
        (
            "A.M.",
            Pat::Meridiem {
                upper: true,
                dots: true,
            },
        ),
        (
            "P.M.",
            Pat::Meridiem {
                upper: true,
                dots: true,
            },
        ),
        (
            "a.m.",
            Pat::Meridiem {
                upper: false,
                dots: true,
            },
        ),
        (
            "p.m.",
            Pat::Meridiem {
                upper: false,
                dots: true,
            },
        ),
        (
            "AM",
            Pat::Meridiem {
                upper: true,
                dots: false,
            },
        ),
        (
            "PM",
            Pat::Meridiem {
                upper: true,
                dots: false,
            },
        ),
        (
            "am",
            Pat::Meridiem {
                upper: false,
                dots: false,
            },
        ),
        (
            "pm",
            Pat::Meridiem {
                upper: false,
                dots: false,
            },
        ),
        ("YYYY", Pat::Yyyy),
        ("YYY", Pat::Yyy),
        ("YY", Pat::Yy),
        ("Y", Pat::Y),
        ("MONTH", Pat::MonthName(Case::Upper)),
        ("Month", Pat::MonthName(Case::Capital)),
        ("month", Pat::MonthName(Case::Lower)),
        ("MON", Pat::MonAbbr(Case::Upper)),
        ("Mon", Pat::MonAbbr(Case::Capital)),
        ("mon", Pat::MonAbbr(Case::Lower)),
        ("MM", Pat::Mm),
        ("DAY", Pat::DayName(Case::Upper)),
        ("Day", Pat::DayName(Case::Capital)),
        ("day", Pat::DayName(Case::Lower)),
        ("DY", Pat::DayAbbr(Case::Upper)),
        ("Dy", Pat::DayAbbr(Case::Capital)),
        ("dy", Pat::DayAbbr(Case::Lower)),
        ("DDD", Pat::Ddd),
        ("DD", Pat::Dd),
        ("D", Pat::D),
        ("ID", Pat::Id),
        ("IW", Pat::Iw),
        ("J", Pat::J),
        ("Q", Pat::Q),
        ("CC", Pat::Cc),
        ("TZ", Pat::Tz { upper: true }),
        ("tz", Pat::Tz { upper: false }),
        ("OF", Pat::Of),
    ];
    let mut out = Vec::new();
    let mut rest = fmt;
    let mut lit = String::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('"') {
            // Quoted literal text, `\"` an escaped quote.
            let mut chars = r.char_indices();
            let mut end = r.len();
            while let Some((i, c)) = chars.next() {
                if c == '\\' {
                    if let Some((_, n)) = chars.next() {
                        lit.push(n);
                    }
                } else if c == '"' {
                    end = i + 1;
                    break;
                } else {
                    lit.push(c);
                }
            }
            rest = &r[end.min(r.len())..];
            continue;
        }
        let (fill, body) = match rest.strip_prefix("FM").or_else(|| rest.strip_prefix("fm")) {
            Some(b) => (true, b),
            None => (false, rest),
        };
        let upper_body = body;
        let hit = TABLE.iter().find(|(name, _)| {
            upper_body.starts_with(name)
                || (name.len() > 1
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                    && upper_body.len() >= name.len()
                    && upper_body.is_char_boundary(name.len())
                    && upper_body[..name.len()].eq_ignore_ascii_case(name)
                    && !TABLE.iter().any(|(n2, _)| {
                        n2.len() == name.len() && *n2 != *name && upper_body.starts_with(n2)
                    }))
        });
        if let Some((name, pat)) = hit {
            if !lit.is_empty() {
                out.push(Piece::Lit(std::mem::take(&mut lit)));
            }
            out.push(Piece::Pat { pat: *pat, fill });
            rest = &body[name.len()..];
            continue;
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            if c == '\\'
                && let Some(n) = chars.next()
            {
                lit.push(n);
                rest = &rest[1 + n.len_utf8()..];
                continue;
            }
            lit.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if !lit.is_empty() {
        out.push(Piece::Lit(lit));
    }
    out
}

fn cased(s: &str, case: Case) -> String {
    match case {
        Case::Upper => s.to_uppercase(),
        Case::Lower => s.to_lowercase(),
        Case::Capital => {
            let mut c = s.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => String::new(),
            }
        }
    }
}

/// `to_char(timestamp, format)`: `local` is the local time; `zone` is set for a timestamptz.
/// `zone` is the offset east in seconds and the abbreviation (for a zone with rules) of a
/// `timestamptz`.
fn to_char(local: i64, zone: Option<(i32, Option<String>)>, fmt: &str) -> String {
    let days = local.div_euclid(US_PER_DAY);
    let tod = local.rem_euclid(US_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let year = if y > 0 { y } else { 1 - y };
    let hour = tod / US_PER_HOUR;
    let dow = (days + 4).rem_euclid(7);
    let mut out = String::new();
    for piece in compile(fmt) {
        let (pat, fill) = match piece {
            Piece::Lit(s) => {
                out.push_str(&s);
                continue;
            }
            Piece::Pat { pat, fill } => (pat, fill),
        };
        let num = |out: &mut String, n: i64, width: usize| {
            if fill {
                let _ = write!(out, "{n}");
            } else {
                let _ = write!(out, "{n:0width$}");
            }
        };
        let name = |out: &mut String, s: &str, case: Case, width: usize| {
            let s = cased(s, case);
            if fill {
                out.push_str(&s);
            } else {
                let _ = write!(out, "{s:<width$}");
            }
        };
        match pat {
            Pat::Hh24 => num(&mut out, hour, 2),
            Pat::Hh12 => num(&mut out, if hour % 12 == 0 { 12 } else { hour % 12 }, 2),
            Pat::Mi => num(&mut out, tod / US_PER_MIN % 60, 2),
            Pat::Ss => num(&mut out, tod / US_PER_SEC % 60, 2),
            Pat::Ms => num(&mut out, tod / 1000 % 1000, 3),
            Pat::Us => num(&mut out, tod % US_PER_SEC, 6),
            Pat::Sssss => num(&mut out, tod / US_PER_SEC, 0),
            Pat::Meridiem { upper, dots } => {
                let s = match (hour >= 12, dots) {
                    (false, false) => "am",
                    (true, false) => "pm",
                    (false, true) => "a.m.",
                    (true, true) => "p.m.",
                };
                out.push_str(&if upper {
                    s.to_uppercase()
                } else {
                    s.to_string()
                });
            }
            Pat::Yyyy => num(&mut out, year, 4),
            Pat::Yyy => num(&mut out, year % 1000, 3),
            Pat::Yy => num(&mut out, year % 100, 2),
            Pat::Y => num(&mut out, year % 10, 1),
            Pat::MonthName(c) => name(&mut out, MONTHS[(m - 1) as usize], c, 9),
            Pat::MonAbbr(c) => name(&mut out, &MONTHS[(m - 1) as usize][..3], c, 3),
            Pat::Mm => num(&mut out, m, 2),
            Pat::DayName(c) => name(&mut out, WEEKDAYS[dow as usize], c, 9),
            Pat::DayAbbr(c) => name(&mut out, &WEEKDAYS[dow as usize][..3], c, 3),
            Pat::Ddd => num(&mut out, days - days_from_civil(y, 1, 1) + 1, 3),
            Pat::Dd => num(&mut out, d, 2),
            Pat::D => num(&mut out, dow + 1, 1),
            Pat::Id => num(&mut out, (days + 3).rem_euclid(7) + 1, 1),
            Pat::Iw => num(&mut out, iso_week(days).1, 2),
            Pat::J => num(&mut out, days + UNIX_JULIAN_DAY, 0),
            Pat::Q => num(&mut out, (m - 1) / 3 + 1, 1),
            Pat::Cc => num(
                &mut out,
                if y > 0 {
                    (y + 99) / 100
                } else {
                    -((99 - (y - 1)) / 100)
                },
                2,
            ),
            Pat::Tz { upper } => {
                if let Some((east_secs, abbreviation)) = &zone {
                    let mut s = String::new();
                    if let Some(a) = abbreviation {
                        s.push_str(a);
                    } else if *east_secs == 0 {
                        s.push_str("UTC");
                    } else {
                        push_offset(&mut s, *east_secs);
                    }
                    out.push_str(&if upper { s } else { s.to_lowercase() });
                }
            }
            Pat::Of => {
                // Hours and minutes only: seconds of an offset are not printed.
                if let Some((east_secs, _)) = &zone {
                    let a = east_secs.abs();
                    let _ = write!(
                        out,
                        "{}{:02}",
                        if *east_secs < 0 { '-' } else { '+' },
                        a / 3600
                    );
                    if a / 60 % 60 != 0 {
                        let _ = write!(out, ":{:02}", a / 60 % 60);
                    }
                }
            }
        }
    }
    out
}

fn to_char_interval(iv: &Interval, fmt: &str) -> String {
    // Intervals print their fields as a time stamp's would, hours not wrapped at 24.
    let mut out = String::new();
    let t = iv.micros;
    for piece in compile(fmt) {
        match piece {
            Piece::Lit(s) => out.push_str(&s),
            Piece::Pat { pat, fill } => {
                let n = match pat {
                    Pat::Hh24 => t / US_PER_HOUR,
                    Pat::Hh12 => (t / US_PER_HOUR) % 12,
                    Pat::Mi => t / US_PER_MIN % 60,
                    Pat::Ss => t / US_PER_SEC % 60,
                    Pat::Ms => t / 1000 % 1000,
                    Pat::Us => t % US_PER_SEC,
                    Pat::Dd => i64::from(iv.days),
                    Pat::Mm => i64::from(iv.months % 12),
                    Pat::Yyyy => i64::from(iv.months / 12),
                    _ => 0,
                };
                if fill {
                    let _ = write!(out, "{n}");
                } else {
                    let _ = write!(out, "{n:02}");
                }
            }
        }
    }
    out
}

/// `to_timestamp(text, format)` / `to_date`: the local time the text gives, and its zone
/// if it named one.
fn to_timestamp(text: &str, fmt: &str) -> SqlResult<(i64, Option<Zone>)> {
    let bad = |what: &str| SqlError::InvalidDatetimeFormat(what.to_string());
    let mut input = text;
    let (mut y, mut m, mut d) = (None::<i64>, None::<i64>, None::<i64>);
    let (mut h, mut mi, mut s, mut us) = (0i64, 0i64, 0i64, 0i64);
    let mut pm: Option<bool> = None;
    let mut h12 = false;
    let mut doy: Option<i64> = None;
    let mut julian: Option<i64> = None;
    let mut zone: Option<Zone> = None;
    let skip_space = |s: &str| s.trim_start().to_string();
    for piece in compile(fmt) {
        let pat = match piece {
            Piece::Lit(l) => {
                // Each literal character consumes one input character (spaces any run).
                for c in l.chars() {
                    if c == ' ' {
                        input = input.trim_start();
                    } else if let Some(first) = input.chars().next()
                        && !first.is_ascii_alphanumeric()
                    {
                        input = &input[first.len_utf8()..];
                    }
                }
                continue;
            }
            Piece::Pat { pat, .. } => pat,
        };
        let trimmed = skip_space(input);
        let owned = trimmed;
        let cur = owned.as_str();
        let consumed;
        let take_num = |cur: &str, max: usize| -> SqlResult<(i64, usize)> {
            let sign = usize::from(cur.starts_with('-'));
            let n = cur[sign..]
                .bytes()
                .take(max)
                .take_while(u8::is_ascii_digit)
                .count();
            if n == 0 {
                return Err(SqlError::InvalidDatetimeFormat(format!(
                    "invalid value \"{}\" for \"{}\"",
                    cur.chars().take(max.max(1)).collect::<String>(),
                    "pattern"
                )));
            }
            let v: i64 = cur[..sign + n].parse().unwrap_or(0);
            Ok((v, sign + n))
        };
        match pat {
            Pat::Yyyy | Pat::Yyy | Pat::Yy | Pat::Y => {
                let width = match pat {
                    Pat::Yyyy => 9,
                    Pat::Yyy => 3,
                    Pat::Yy => 2,
                    _ => 1,
                };
                let (v, n) = take_num(cur, width)?;
                consumed = n;
                y = Some(match pat {
                    Pat::Yy if n <= 2 => {
                        if v < 70 {
                            2000 + v
                        } else {
                            1900 + v
                        }
                    }
                    Pat::Yyy if n <= 3 => {
                        if v < 100 {
                            2000 + v
                        } else {
                            1000 + v
                        }
                    }
                    _ => v,
                });
            }
            Pat::Mm => (m, consumed) = take_num(cur, 2).map(|(v, n)| (Some(v), n))?,
            Pat::Dd => (d, consumed) = take_num(cur, 2).map(|(v, n)| (Some(v), n))?,
            Pat::Ddd => (doy, consumed) = take_num(cur, 3).map(|(v, n)| (Some(v), n))?,
            Pat::J => (julian, consumed) = take_num(cur, 9).map(|(v, n)| (Some(v), n))?,
            Pat::Hh24 | Pat::Hh12 => {
                let (v, n) = take_num(cur, 2)?;
                h = v;
                h12 = pat == Pat::Hh12;
                consumed = n;
            }
            Pat::Mi => (mi, consumed) = take_num(cur, 2)?,
            Pat::Ss => (s, consumed) = take_num(cur, 2)?,
            Pat::Ms | Pat::Us => {
                let max = if pat == Pat::Ms { 3 } else { 6 };
                let n = cur.bytes().take(max).take_while(u8::is_ascii_digit).count();
                if n == 0 {
                    return Err(bad("invalid fraction"));
                }
                let digits: String = cur[..n].chars().chain("000000".chars()).take(max).collect();
                let v: i64 = digits.parse().unwrap_or(0);
                us += if pat == Pat::Ms { v * 1000 } else { v };
                consumed = n;
            }
            Pat::Sssss => {
                let (v, n) = take_num(cur, 5)?;
                h = v / 3600;
                mi = v / 60 % 60;
                s = v % 60;
                consumed = n;
            }
            Pat::Meridiem { dots, .. } => {
                let n = if dots { 4 } else { 2 };
                let w = cur.get(..n).unwrap_or("").to_ascii_lowercase();
                pm = Some(match w.as_str() {
                    "am" | "a.m." => false,
                    "pm" | "p.m." => true,
                    _ => return Err(bad("invalid value for \"AM\"")),
                });
                consumed = n;
            }
            Pat::MonthName(_) | Pat::MonAbbr(_) => {
                let lower = cur.to_ascii_lowercase();
                let full = matches!(pat, Pat::MonthName(_));
                let hit = MONTHS.iter().enumerate().find_map(|(i, name)| {
                    if full && lower.starts_with(name) {
                        Some((i, name.len()))
                    } else if lower.starts_with(&name[..3]) {
                        Some((i, 3))
                    } else {
                        None
                    }
                });
                let (i, n) = hit.ok_or_else(|| {
                    bad(&format!(
                        "invalid value \"{}\" for \"{}\"",
                        cur.chars().take(3).collect::<String>(),
                        if full { "Month" } else { "Mon" }
                    ))
                })?;
                m = Some(i as i64 + 1);
                consumed = n;
            }
            Pat::DayName(_) | Pat::DayAbbr(_) => {
                let lower = cur.to_ascii_lowercase();
                let full = matches!(pat, Pat::DayName(_));
                consumed = WEEKDAYS
                    .iter()
                    .find_map(|name| {
                        if full && lower.starts_with(name) {
                            Some(name.len())
                        } else if lower.starts_with(&name[..3]) {
                            Some(3)
                        } else {
                            None
                        }
                    })
                    .ok_or_else(|| bad("invalid day name"))?;
            }
            Pat::Tz { .. } | Pat::Of => {
                let n = cur
                    .char_indices()
                    .find(|&(i, c)| {
                        !(c.is_ascii_alphanumeric()
                            || c == ':'
                            || (i == 0 && (c == '+' || c == '-')))
                    })
                    .map_or(cur.len(), |(i, _)| i);
                let t = &cur[..n];
                zone = Some(
                    parse_offset(t)
                        .map(Zone::Fixed)
                        .or_else(|| zone_abbreviation(&t.to_ascii_lowercase()))
                        .ok_or_else(|| bad("invalid time zone"))?,
                );
                consumed = n;
            }
            Pat::D | Pat::Id | Pat::Iw | Pat::Q | Pat::Cc => {
                let (_, n) = take_num(cur, 2)?;
                consumed = n;
            }
        }
        let used = input.len() - cur.len() + consumed;
        input = &input[used.min(input.len())..];
    }
    if let Some(p) = pm {
        if !(1..=12).contains(&h) {
            return Err(SqlError::DatetimeFieldOverflow(format!(
                "hour \"{h}\" is invalid for the 12-hour clock"
            )));
        }
        h = h % 12 + if p { 12 } else { 0 };
    } else if h12 && !(1..=12).contains(&h) {
        return Err(SqlError::DatetimeFieldOverflow(format!(
            "hour \"{h}\" is invalid for the 12-hour clock"
        )));
    }
    let days = if let Some(j) = julian {
        j - UNIX_JULIAN_DAY
    } else {
        let year = y.unwrap_or(1);
        let year = if year <= 0 { year + 1 } else { year };
        if let (Some(n), None) = (doy, m) {
            days_from_civil(year, 1, 1) + n - 1
        } else {
            let (m, d) = (m.unwrap_or(1), d.unwrap_or(1));
            checked_date(year, m, d).ok_or_else(|| {
                SqlError::DatetimeFieldOverflow(format!(
                    "date/time field value out of range: \"{text}\""
                ))
            })?
        }
    };
    if h > 24 || mi > 59 || s > 60 {
        return Err(SqlError::DatetimeFieldOverflow(format!(
            "date/time field value out of range: \"{text}\""
        )));
    }
    let local = days * US_PER_DAY + ((h * 60 + mi) * 60 + s) * US_PER_SEC + us;
    if !ts_in_range(local) {
        return Err(ts_range());
    }
    Ok((local, zone))
}

// ---------------------------------------------------------------------------------------------
// Wire forms.

/// A date's binary wire form: days since 2000-01-01.
#[must_use]
pub fn date_to_wire(d: i32) -> i32 {
    match d {
        DATE_POS_INF | DATE_NEG_INF => d,
        _ => d - PG_EPOCH_DAYS,
    }
}

#[must_use]
pub fn date_from_wire(w: i32) -> i32 {
    match w {
        DATE_POS_INF | DATE_NEG_INF => w,
        _ => w.saturating_add(PG_EPOCH_DAYS),
    }
}

/// A timestamp's binary wire form: µs since 2000-01-01.
#[must_use]
pub fn ts_to_wire(t: i64) -> i64 {
    if is_infinite_ts(t) {
        t
    } else {
        t - i64::from(PG_EPOCH_DAYS) * US_PER_DAY
    }
}

#[must_use]
pub fn ts_from_wire(w: i64) -> Option<i64> {
    if is_infinite_ts(w) {
        Some(w)
    } else {
        w.checked_add(i64::from(PG_EPOCH_DAYS) * US_PER_DAY)
    }
}

/// A `timetz`'s binary wire form: µs since midnight (i64), then the offset in seconds *west*
/// of UTC (i32), big-endian, as PostgreSQL sends it.
#[must_use]
pub fn timetz_to_wire(us: i64, east_secs: i32) -> Vec<u8> {
    let mut out = Vec::with_capacity(12);
    out.extend_from_slice(&us.to_be_bytes());
    out.extend_from_slice(&(-east_secs).to_be_bytes());
    out
}

/// Reads a `timetz`'s binary wire form; `None` when it is malformed or out of range.
#[must_use]
pub fn timetz_from_wire(b: &[u8]) -> Option<(i64, i32)> {
    if b.len() != 12 {
        return None;
    }
    let us = i64::from_be_bytes(b[..8].try_into().ok()?);
    let west = i32::from_be_bytes(b[8..].try_into().ok()?);
    if !(0..=US_PER_DAY).contains(&us) || west.checked_abs()? > ZONE_OFFSET_MAX_SECS {
        return None;
    }
    Some((us, -west))
}

/// An interval's binary wire form: µs (i64), days (i32), months (i32), big-endian.
#[must_use]
pub fn interval_to_wire(iv: &Interval) -> Vec<u8> {
    let mut out = Vec::with_capacity(16);
    out.extend_from_slice(&iv.micros.to_be_bytes());
    out.extend_from_slice(&iv.days.to_be_bytes());
    out.extend_from_slice(&iv.months.to_be_bytes());
    out
}

#[must_use]
pub fn interval_from_wire(b: &[u8]) -> Option<Interval> {
    if b.len() != 16 {
        return None;
    }
    Some(Interval {
        micros: i64::from_be_bytes(b[..8].try_into().ok()?),
        days: i32::from_be_bytes(b[8..12].try_into().ok()?),
        months: i32::from_be_bytes(b[12..].try_into().ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precisions_round_half_away_from_zero_from_postgresqls_epoch() {
        assert_eq!(round_micros(1_500_000, 0), 2_000_000);
        assert_eq!(round_micros(-1_500_000, 0), -2_000_000);
        assert_eq!(round_micros(1_449_999, 1), 1_400_000);
        assert_eq!(round_micros(1_234_567, 6), 1_234_567);
        // Half a second before 2000-01-01 rounds down, as PostgreSQL counts from there.
        let y2k = i64::from(PG_EPOCH_DAYS) * US_PER_DAY;
        assert_eq!(round_timestamp(y2k - 500_000, 0), y2k - 1_000_000);
        assert_eq!(round_timestamp(y2k + 500_000, 0), y2k + 1_000_000);
        assert_eq!(round_timestamp(TS_POS_INF, 0), TS_POS_INF);
        assert_eq!(precision_typmod(2, true), 2_147_418_114);
        assert_eq!(precision_typmod(9, false), 6);
        assert_eq!(typmod_precision(DataType::Interval, 2_147_418_114), Some(2));
        assert_eq!(typmod_precision(DataType::Time, 6), None);
        assert_eq!(typmod_precision(DataType::Time, -1), None);
    }

    fn iv(s: &str) -> String {
        format_interval(&parse_interval(s).unwrap())
    }

    #[test]
    fn intervals_read_and_print_as_postgresql_does() {
        for (input, out) in [
            ("1 day", "1 day"),
            ("2 hours 30 minutes", "02:30:00"),
            ("1-2", "1 year 2 mons"),
            ("P1Y2M", "1 year 2 mons"),
            ("@ 1 hour ago", "-01:00:00"),
            ("-1 day 2 hours", "-1 days +02:00:00"),
            (
                "1 year 2 mons 3 days 04:05:06",
                "1 year 2 mons 3 days 04:05:06",
            ),
            ("1.5 days", "1 day 12:00:00"),
            ("1.5 months", "1 mon 15 days"),
            ("10", "00:00:10"),
            ("-1 day -02:00:00", "-1 days -02:00:00"),
            ("1 day -02:00:00", "1 day -02:00:00"),
            ("-1 year +2 days", "-1 years +2 days"),
            ("P1DT2H", "1 day 02:00:00"),
            ("0", "00:00:00"),
            ("1 week", "7 days"),
            ("100:00:00.5", "100:00:00.5"),
        ] {
            assert_eq!(iv(input), out, "{input}");
        }
        assert!(parse_interval("1 foo").is_err());
        assert!(parse_interval("").is_err());
        assert!(matches!(
            parse_interval("3000000000 days"),
            Err(SqlError::IntervalFieldOverflow(_))
        ));
    }

    #[test]
    fn interval_arithmetic_cascades_fractions() {
        let p = |s: &str| parse_interval(s).unwrap();
        assert_eq!(
            format_interval(&interval_mul(&p("1 mon"), 1.5).unwrap()),
            "1 mon 15 days"
        );
        assert_eq!(
            format_interval(&interval_div(&p("1 day"), 3.0).unwrap()),
            "08:00:00"
        );
        assert_eq!(
            format_interval(&interval_mul(&p("1 year 1 day"), 0.3).unwrap()),
            "3 mons 18 days 07:12:00"
        );
        assert_eq!(format_interval(&justify_days(p("35 days"))), "1 mon 5 days");
        assert_eq!(
            format_interval(&justify_hours(p("27 hours"))),
            "1 day 03:00:00"
        );
        assert_eq!(
            format_interval(&justify_interval(p("1 mon -1 hour"))),
            "29 days 23:00:00"
        );
        assert_eq!(p("1 mon").span_us(), p("30 days").span_us());
    }

    #[test]
    fn dates_handle_leap_years_bc_and_range() {
        assert_eq!(format_date(parse_date("2024-02-29").unwrap()), "2024-02-29");
        assert!(matches!(
            parse_date("2023-02-29"),
            Err(SqlError::DatetimeFieldOverflow(_))
        ));
        assert!(matches!(
            parse_date("x"),
            Err(SqlError::InvalidDatetimeFormat(_))
        ));
        assert_eq!(format_date(parse_date("2000-02-29").unwrap()), "2000-02-29");
        assert!(parse_date("1900-02-29").is_err());
        assert_eq!(
            format_date(parse_date("4714-11-24 BC").unwrap()),
            "4714-11-24 BC"
        );
        assert!(matches!(
            parse_date("4714-11-23 BC"),
            Err(SqlError::DatetimeValueOutOfRange(_))
        ));
        assert_eq!(format_date(parse_date("01/02/2024").unwrap()), "2024-01-02");
        assert_eq!(format_date(parse_date("20240102").unwrap()), "2024-01-02");
        assert_eq!(format_date(parse_date("Jan 5 2024").unwrap()), "2024-01-05");
        assert_eq!(parse_date("infinity").unwrap(), DATE_POS_INF);
        assert_eq!(parse_date("epoch").unwrap(), 0);
        assert_eq!(
            format_date(parse_date("0001-01-01").unwrap() - 1),
            "0001-12-31 BC"
        );
    }

    #[test]
    fn fixed_zones_read_as_postgresql_reads_them() {
        let east = |s: &str| parse_zone_setting(s).and_then(|z| z.fixed_east_secs());
        assert_eq!(east("+02"), Some(7200));
        assert_eq!(east("2"), Some(7200));
        assert_eq!(east("-05:30"), Some(19_800));
        assert_eq!(east("UTC+3"), Some(-10_800));
        assert_eq!(east("<+05>-05"), Some(18_000));
        assert_eq!(east("GMT"), Some(0));
        // Named as PostgreSQL shows them, abbreviated as its to_char prints them.
        assert_eq!(canonical_zone_setting("2").as_deref(), Some("<+02>-02"));
        assert_eq!(canonical_zone_setting("utc+3").as_deref(), Some("UTC+3"));
        let utc3 = parse_zone_setting("UTC+3").unwrap();
        assert_eq!(utc3.abbreviation_at(0).as_deref(), Some("UTC"));
        assert_eq!(parse_zone_setting("garbage"), None);
        assert_eq!(parse_zone_setting("Nowhere/Land"), None);
        assert_eq!(parse_zone_setting("PST"), None);
        assert_eq!(parse_zone_name("PST"), Some(Zone::Fixed(-8 * 3600)));
        let t = parse_timestamptz("2024-01-01 00:00:00+00").unwrap();
        assert_eq!(
            format_timestamptz_in(t, Zone::Fixed(19_800)),
            "2024-01-01 05:30:00+05:30"
        );
        assert_eq!(
            format_timestamptz_in(t, Zone::Fixed(-10_800)),
            "2023-12-31 21:00:00-03"
        );
        assert_eq!(
            parse_timestamptz("2024-01-01 12:00 EST").unwrap() - t,
            17 * US_PER_HOUR
        );
    }

    #[test]
    fn times_and_timestamps_round_trip() {
        assert_eq!(format_time(parse_time("24:00:00").unwrap()), "24:00:00");
        assert_eq!(format_time(parse_time("allballs").unwrap()), "00:00:00");
        assert!(matches!(
            parse_time("25:00"),
            Err(SqlError::DatetimeFieldOverflow(_))
        ));
        assert_eq!(
            format_time(parse_time("1:02:03.5 pm").unwrap()),
            "13:02:03.5"
        );
        for s in [
            "2000-01-01 00:00:00",
            "1969-12-31 23:59:59.5",
            "0044-03-15 12:00:00 BC",
        ] {
            assert_eq!(format_timestamp(parse_timestamp(s).unwrap()), s);
        }
        assert_eq!(parse_timestamp("-infinity").unwrap(), TS_NEG_INF);
        assert!(parse_timestamp("294277-01-01").is_err());
    }

    #[test]
    fn age_borrows_from_the_right_month() {
        let p = |s: &str| parse_timestamp(s).unwrap();
        assert_eq!(
            format_interval(&age(p("2024-03-01"), p("2023-01-31 10:00")).unwrap()),
            "1 year 1 mon 14:00:00"
        );
        assert_eq!(
            format_interval(&age(p("2023-01-31"), p("2024-03-01 10:00")).unwrap()),
            "-1 years -1 mons -1 days -10:00:00"
        );
    }

    #[test]
    fn to_char_and_to_timestamp_patterns() {
        let t = parse_timestamp("2024-05-01 13:04:05.123456").unwrap();
        assert_eq!(
            to_char(
                t,
                None,
                "YYYY-MM-DD HH24:MI:SS.MS.US AM Mon Month Dy Day DDD J FMMonth FMDD HH12"
            ),
            "2024-05-01 13:04:05.123.123456 PM May May       Wed Wednesday 122 2460432 May 1 01"
        );
        let (local, _) = to_timestamp("05 Jan 2024", "DD Mon YYYY").unwrap();
        assert_eq!(format_timestamp(local), "2024-01-05 00:00:00");
        let (local, _) = to_timestamp("2024-05-01 13:04:05", "YYYY-MM-DD HH24:MI:SS").unwrap();
        assert_eq!(format_timestamp(local), "2024-05-01 13:04:05");
    }
}
