//! FHIR R4 `date`, `dateTime` and `instant` text to a [`Timestamp`]
//! (https://hl7.org/fhir/R4/datatypes.html#dateTime).
//!
//! Accepted forms: `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, and `YYYY-MM-DDThh:mm:ss[.f…](Z|±hh:mm)`.
//! Leniencies, for data in the wild: a date-time without a zone is taken as UTC, seconds may be
//! omitted (`hh:mm`), any number of fraction digits is accepted (truncated to microseconds), and
//! a leap second `:60` is read as the last microsecond of `:59`. Anything else is `None`.

use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

use crate::Timestamp;

/// How much of a date-time the text gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Precision {
    Year,
    Month,
    Day,
    Time,
}

struct Parsed {
    start: Timestamp,
    precision: Precision,
    year: i32,
    month: u8,
}

/// The start of the period the text denotes, in UTC ("2019" → 2019-01-01T00:00:00Z).
pub fn parse_fhir_datetime(s: &str) -> Option<Timestamp> {
    parse(s).map(|p| p.start)
}

/// The last microsecond of the period a date denotes ("2019-05" → 2019-05-31T23:59:59.999999Z);
/// a value with a time of day is that instant. Used for end-of-relevance dates, where FHIR's
/// Period.end "includes any matching date/time".
pub fn parse_fhir_datetime_end(s: &str) -> Option<Timestamp> {
    let p = parse(s)?;
    let next = match p.precision {
        Precision::Time => return Some(p.start),
        Precision::Day => p.start.plus_seconds(86_400),
        Precision::Month => {
            let (y, m) = if p.month == 12 {
                (p.year + 1, 1)
            } else {
                (p.year, p.month + 1)
            };
            date_start(y, m, 1)?
        }
        Precision::Year => date_start(p.year + 1, 1, 1)?,
    };
    Some(Timestamp(next.0 - 1))
}

fn date_start(year: i32, month: u8, day: u8) -> Option<Timestamp> {
    let date = Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
    Some(Timestamp::from_datetime(
        PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc(),
    ))
}

/// Reads exactly `n` ASCII digits at `*pos`.
fn digits(b: &[u8], pos: &mut usize, n: usize) -> Option<u32> {
    let chunk = b.get(*pos..*pos + n)?;
    let mut v = 0u32;
    for &c in chunk {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    *pos += n;
    Some(v)
}

fn expect(b: &[u8], pos: &mut usize, c: u8) -> Option<()> {
    (b.get(*pos) == Some(&c)).then(|| *pos += 1)
}

fn parse(s: &str) -> Option<Parsed> {
    let b = s.trim().as_bytes();
    let mut pos = 0;
    let year = digits(b, &mut pos, 4)? as i32;
    if year == 0 {
        return None;
    }
    let done = |pos: usize| pos == b.len();
    if done(pos) {
        return Some(Parsed {
            start: date_start(year, 1, 1)?,
            precision: Precision::Year,
            year,
            month: 1,
        });
    }
    expect(b, &mut pos, b'-')?;
    let month = digits(b, &mut pos, 2)? as u8;
    if done(pos) {
        return Some(Parsed {
            start: date_start(year, month, 1)?,
            precision: Precision::Month,
            year,
            month,
        });
    }
    expect(b, &mut pos, b'-')?;
    let day = digits(b, &mut pos, 2)? as u8;
    if done(pos) {
        return Some(Parsed {
            start: date_start(year, month, day)?,
            precision: Precision::Day,
            year,
            month,
        });
    }
    expect(b, &mut pos, b'T')?;
    let hour = digits(b, &mut pos, 2)? as u8;
    expect(b, &mut pos, b':')?;
    let minute = digits(b, &mut pos, 2)? as u8;
    let mut second = 0u8;
    let mut micro = 0u32;
    if b.get(pos) == Some(&b':') {
        pos += 1;
        second = digits(b, &mut pos, 2)? as u8;
        if b.get(pos) == Some(&b'.') {
            pos += 1;
            let from = pos;
            while pos < b.len() && b[pos].is_ascii_digit() {
                if pos - from < 6 {
                    micro = micro * 10 + u32::from(b[pos] - b'0');
                }
                pos += 1;
            }
            let n = pos - from;
            if n == 0 {
                return None;
            }
            for _ in n..6 {
                micro *= 10;
            }
        }
    }
    let leap = second == 60;
    if leap {
        second = 59;
        micro = 999_999;
    }
    let offset = match b.get(pos) {
        None => UtcOffset::UTC,
        Some(b'Z') => {
            pos += 1;
            UtcOffset::UTC
        }
        Some(&sign @ (b'+' | b'-')) => {
            pos += 1;
            let oh = digits(b, &mut pos, 2)? as i8;
            expect(b, &mut pos, b':')?;
            let om = digits(b, &mut pos, 2)? as i8;
            if oh > 14 || om > 59 {
                return None;
            }
            let k = if sign == b'-' { -1 } else { 1 };
            UtcOffset::from_hms(k * oh, k * om, 0).ok()?
        }
        Some(_) => return None,
    };
    if !done(pos) {
        return None;
    }
    let date = Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
    let time = Time::from_hms_micro(hour, minute, second, micro).ok()?;
    let dt = PrimitiveDateTime::new(date, time).assume_offset(offset);
    Some(Parsed {
        start: Timestamp::from_datetime(dt),
        precision: Precision::Time,
        year,
        month,
    })
}
