//! Date/time values as half-open ranges of Unix microseconds, per the implicit
//! precision rules of <https://hl7.org/fhir/R4/search.html#date>: `2013` is the
//! whole year, `2013-01-14T10:00` that minute, `…:05.25` that hundredth of a
//! second. Values without a timezone offset (dates, and date-times that omit
//! it) are taken as UTC.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds in one day.
pub(crate) const DAY: i64 = 86_400_000_000;

/// `[lo, hi)` in Unix microseconds; `i64::MIN` / `i64::MAX` are unbounded ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    pub lo: i64,
    pub hi: i64,
}

impl Range {
    pub(crate) fn overlaps(self, o: Range) -> bool {
        self.lo < o.hi && o.lo < self.hi
    }

    pub(crate) fn contains(self, o: Range) -> bool {
        self.lo <= o.lo && o.hi <= self.hi
    }

    pub(crate) fn union(self, o: Range) -> Range {
        Range {
            lo: self.lo.min(o.lo),
            hi: self.hi.max(o.hi),
        }
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

fn num(b: &[u8], at: usize, len: usize) -> Option<u32> {
    let s = b.get(at..at + len)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Parses a FHIR date, dateTime or instant (and the search forms
/// `YYYY-MM-DDThh:mm[Z|±hh:mm]` without seconds) into its implicit range.
pub(crate) fn parse_range(s: &str) -> Option<Range> {
    let b = s.as_bytes();
    let year = num(b, 0, 4)?;
    let y = i64::from(year);
    if b.len() == 4 {
        let lo = days_from_civil(y, 1, 1) * DAY;
        return Some(Range {
            lo,
            hi: days_from_civil(y + 1, 1, 1) * DAY,
        });
    }
    if b.get(4) != Some(&b'-') {
        return None;
    }
    let month = num(b, 5, 2)?;
    if !(1..=12).contains(&month) {
        return None;
    }
    if b.len() == 7 {
        let (ny, nm) = if month == 12 { (y + 1, 1) } else { (y, month + 1) };
        return Some(Range {
            lo: days_from_civil(y, month, 1) * DAY,
            hi: days_from_civil(ny, nm, 1) * DAY,
        });
    }
    if b.get(7) != Some(&b'-') {
        return None;
    }
    let day = num(b, 8, 2)?;
    if day < 1 || day > days_in_month(y, month) {
        return None;
    }
    let day_start = days_from_civil(y, month, day) * DAY;
    if b.len() == 10 {
        return Some(Range {
            lo: day_start,
            hi: day_start + DAY,
        });
    }
    if b.get(10) != Some(&b'T') {
        return None;
    }
    let hour = num(b, 11, 2)?;
    if b.get(13) != Some(&b':') {
        return None;
    }
    let minute = num(b, 14, 2)?;
    if hour > 23 || minute > 59 {
        return None;
    }
    let mut i = 16;
    let mut second = 0u32;
    let mut width: i64 = 60_000_000;
    let mut micros: i64 = 0;
    if b.get(i) == Some(&b':') {
        second = num(b, i + 1, 2)?;
        if second > 60 {
            return None;
        }
        second = second.min(59); // a leap second counts as :59
        width = 1_000_000;
        i += 3;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                if i - start < 6 {
                    micros = micros * 10 + i64::from(b[i] - b'0');
                    width /= 10;
                }
                i += 1;
            }
            if i == start {
                return None;
            }
            let kept = (i - start).min(6);
            micros *= 10i64.pow(6 - kept as u32);
        }
    }
    let offset_min: i64 = match b.get(i) {
        None => 0,
        Some(b'Z') if i + 1 == b.len() => 0,
        Some(&c @ (b'+' | b'-')) if b.len() == i + 6 && b[i + 3] == b':' => {
            let oh = i64::from(num(b, i + 1, 2)?);
            let om = i64::from(num(b, i + 4, 2)?);
            if oh > 14 || om > 59 {
                return None;
            }
            let o = oh * 60 + om;
            if c == b'-' { -o } else { o }
        }
        _ => return None,
    };
    let lo = day_start
        + i64::from(hour) * 3_600_000_000
        + i64::from(minute) * 60_000_000
        + i64::from(second) * 1_000_000
        + micros
        - offset_min * 60_000_000;
    Some(Range { lo, hi: lo + width })
}

/// Unix microseconds of a [`SystemTime`] (saturating).
pub(crate) fn system_time_micros(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_micros()).map_or(i64::MIN, |v| -v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000;

    #[test]
    fn precision_ranges() {
        let y = parse_range("2013").unwrap();
        assert_eq!(y.lo, 1_356_998_400_000_000);
        assert_eq!(y.hi, parse_range("2014").unwrap().lo);
        let m = parse_range("2013-02").unwrap();
        assert_eq!(m.hi - m.lo, 28 * DAY);
        assert_eq!(
            parse_range("2012-02").unwrap().hi,
            parse_range("2012-03").unwrap().lo
        );
        assert_eq!(
            parse_range("2013-12").unwrap().hi,
            parse_range("2014-01").unwrap().lo
        );
        let d = parse_range("2013-01-14").unwrap();
        assert_eq!(d.hi - d.lo, DAY);
        let t = parse_range("2013-01-14T10:00").unwrap();
        assert_eq!(t.lo, d.lo + 10 * 60 * MIN);
        assert_eq!(t.hi - t.lo, MIN);
        let s = parse_range("2013-01-14T10:00:00Z").unwrap();
        assert_eq!((s.lo, s.hi - s.lo), (t.lo, 1_000_000));
        let f = parse_range("2013-01-14T10:00:00.25+01:00").unwrap();
        assert_eq!(f.lo, t.lo - 60 * MIN + 250_000);
        assert_eq!(f.hi - f.lo, 10_000);
        let n = parse_range("2013-01-14T10:00:00.123456789Z").unwrap();
        assert_eq!((n.lo - s.lo, n.hi - n.lo), (123_456, 1));
        assert_eq!(parse_range("1900-01-01").unwrap().lo, -2_208_988_800_000_000);
        for bad in [
            "",
            "13",
            "2013-13",
            "2013-02-29",
            "2013-01-14T",
            "2013-01-14T25:00",
            "2013-01-14T10:00+1",
            "2013-01-14 10:00",
            "2013-01-14T10:00:00.",
            "2013/01/14",
            "2013-1-4",
        ] {
            assert!(parse_range(bad).is_none(), "{bad}");
        }
        assert!(parse_range("2012-02-29").is_some());
    }
}
