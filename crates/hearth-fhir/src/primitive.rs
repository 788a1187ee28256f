//! Checks of FHIR R4 primitive values in JSON (<https://hl7.org/fhir/R4/datatypes.html#primitive>,
//! <https://hl7.org/fhir/R4/json.html#primitive>): the JSON kind (boolean, number or
//! string) and hand-written equivalents of the regexes of the R4 definitions.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prim {
    Base64Binary,
    Boolean,
    Canonical,
    Code,
    Date,
    DateTime,
    Decimal,
    Id,
    Instant,
    Integer,
    Markdown,
    Oid,
    PositiveInt,
    String,
    Time,
    UnsignedInt,
    Uri,
    Url,
    Uuid,
    Xhtml,
}

impl Prim {
    pub(crate) fn from_name(name: &str) -> Option<Prim> {
        Some(match name {
            "base64Binary" => Prim::Base64Binary,
            "boolean" => Prim::Boolean,
            "canonical" => Prim::Canonical,
            "code" => Prim::Code,
            "date" => Prim::Date,
            "dateTime" => Prim::DateTime,
            "decimal" => Prim::Decimal,
            "id" => Prim::Id,
            "instant" => Prim::Instant,
            "integer" => Prim::Integer,
            "markdown" => Prim::Markdown,
            "oid" => Prim::Oid,
            "positiveInt" => Prim::PositiveInt,
            "string" => Prim::String,
            "time" => Prim::Time,
            "unsignedInt" => Prim::UnsignedInt,
            "uri" => Prim::Uri,
            "url" => Prim::Url,
            "uuid" => Prim::Uuid,
            "xhtml" => Prim::Xhtml,
            _ => return None,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Prim::Base64Binary => "base64Binary",
            Prim::Boolean => "boolean",
            Prim::Canonical => "canonical",
            Prim::Code => "code",
            Prim::Date => "date",
            Prim::DateTime => "dateTime",
            Prim::Decimal => "decimal",
            Prim::Id => "id",
            Prim::Instant => "instant",
            Prim::Integer => "integer",
            Prim::Markdown => "markdown",
            Prim::Oid => "oid",
            Prim::PositiveInt => "positiveInt",
            Prim::String => "string",
            Prim::Time => "time",
            Prim::UnsignedInt => "unsignedInt",
            Prim::Uri => "uri",
            Prim::Url => "url",
            Prim::Uuid => "uuid",
            Prim::Xhtml => "xhtml",
        }
    }
}

/// Why a primitive value is invalid.
pub(crate) enum PrimError {
    /// Wrong JSON kind (e.g. a number where a string is expected).
    Kind(String),
    /// Right kind, invalid lexical value.
    Value(String),
}

/// Describes the JSON kind of a value, for messages ("a number", "an array").
pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn check(p: Prim, v: &Value) -> Result<(), PrimError> {
    match p {
        Prim::Boolean => match v {
            Value::Bool(_) => Ok(()),
            other => Err(PrimError::Kind(format!(
                "expected a boolean but found {}",
                json_kind(other)
            ))),
        },
        Prim::Decimal | Prim::Integer | Prim::PositiveInt | Prim::UnsignedInt => match v {
            Value::Number(n) => check_number(p, n),
            other => Err(PrimError::Kind(format!(
                "expected a number but found {}",
                json_kind(other)
            ))),
        },
        _ => match v {
            Value::String(s) => check_string(p, s),
            other => Err(PrimError::Kind(format!(
                "expected a string but found {}",
                json_kind(other)
            ))),
        },
    }
}

fn check_number(p: Prim, n: &serde_json::Number) -> Result<(), PrimError> {
    if p == Prim::Decimal {
        // Every JSON number matches the decimal regex; the exact text is kept
        // (arbitrary_precision), so `72.50` stays `72.50`.
        return Ok(());
    }
    let (lo, hi) = match p {
        Prim::PositiveInt => (1, i64::from(i32::MAX)),
        Prim::UnsignedInt => (0, i64::from(i32::MAX)),
        _ => (i64::from(i32::MIN), i64::from(i32::MAX)),
    };
    match n.as_i64() {
        Some(i) if (lo..=hi).contains(&i) => Ok(()),
        Some(i) => Err(PrimError::Value(format!(
            "{i} is out of range for {} ({lo}..={hi})",
            p.name()
        ))),
        None if n.is_u64() => Err(PrimError::Value(format!("{n} is out of range for {}", p.name()))),
        None => Err(PrimError::Value(format!(
            "{n} is not a valid {} (must be a whole number)",
            p.name()
        ))),
    }
}

/// Java regex `\s`, as used by the FHIR definitions.
#[inline]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn invalid(p: Prim, s: &str) -> Result<(), PrimError> {
    let shown: String = if s.chars().count() > 60 {
        s.chars().take(60).chain("...".chars()).collect()
    } else {
        s.to_owned()
    };
    Err(PrimError::Value(format!(
        "\"{shown}\" is not a valid {}",
        p.name()
    )))
}

fn check_string(p: Prim, s: &str) -> Result<(), PrimError> {
    if s.is_empty() {
        return Err(PrimError::Value(format!(
            "empty string is not a valid {}",
            p.name()
        )));
    }
    let b = s.as_bytes();
    let ok = match p {
        // [ \r\n\t\S]+
        Prim::String | Prim::Markdown => !b.iter().any(|&c| c == 0x0b || c == 0x0c),
        // \S*
        Prim::Uri | Prim::Url | Prim::Canonical => !b.iter().any(|&c| is_ws(c)),
        // [^\s]+(\s[^\s]+)*
        Prim::Code => {
            !is_ws(b[0]) && !is_ws(b[b.len() - 1]) && !b.windows(2).any(|w| is_ws(w[0]) && is_ws(w[1]))
        }
        // [A-Za-z0-9\-\.]{1,64}
        Prim::Id => {
            b.len() <= 64
                && b.iter()
                    .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
        }
        Prim::Oid => is_oid(s),
        Prim::Uuid => is_uuid(s),
        Prim::Base64Binary => is_base64(b),
        Prim::Date => parse_date_time(b, false, false),
        Prim::DateTime => parse_date_time(b, true, false),
        Prim::Instant => parse_date_time(b, true, true),
        Prim::Time => parse_time(b) == Some(b.len()),
        Prim::Xhtml => true,
        Prim::Boolean | Prim::Decimal | Prim::Integer | Prim::PositiveInt | Prim::UnsignedInt => true,
    };
    if ok { Ok(()) } else { invalid(p, s) }
}

/// urn:oid:[0-2](\.(0|[1-9][0-9]*))+
fn is_oid(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("urn:oid:") else {
        return false;
    };
    let mut parts = rest.split('.');
    let first = parts.next().unwrap_or("");
    if !matches!(first, "0" | "1" | "2") {
        return false;
    }
    let mut n = 0;
    for part in parts {
        n += 1;
        let pb = part.as_bytes();
        if pb.is_empty() || !pb.iter().all(u8::is_ascii_digit) || (pb.len() > 1 && pb[0] == b'0') {
            return false;
        }
    }
    n >= 1
}

/// urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}
fn is_uuid(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("urn:uuid:") else {
        return false;
    };
    let b = rest.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

/// (\s*([0-9a-zA-Z\+/=]){4}\s*)+
fn is_base64(b: &[u8]) -> bool {
    let mut n = 0usize;
    for &c in b {
        if c.is_ascii_alphanumeric() || c == b'+' || c == b'/' || c == b'=' {
            n += 1;
        } else if !is_ws(c) {
            return false;
        }
    }
    n > 0 && n.is_multiple_of(4)
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let d = b.get(at..at + n)?;
    if !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(d.iter().fold(0, |acc, &c| acc * 10 + u32::from(c - b'0')))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// date: YYYY(-MM(-DD)?)?; dateTime adds (Thh:mm:ss(.f+)?TZ)? after a full date;
/// instant requires all of it. The day must exist in its month.
fn parse_date_time(b: &[u8], allow_time: bool, require_time: bool) -> bool {
    let Some(year) = digits(b, 0, 4) else { return false };
    if year == 0 {
        return false;
    }
    if b.len() == 4 {
        return !require_time;
    }
    if b[4] != b'-' {
        return false;
    }
    let Some(month) = digits(b, 5, 2) else {
        return false;
    };
    if !(1..=12).contains(&month) {
        return false;
    }
    if b.len() == 7 {
        return !require_time;
    }
    if b.get(7) != Some(&b'-') {
        return false;
    }
    let Some(day) = digits(b, 8, 2) else { return false };
    if day == 0 || day > days_in_month(year, month) {
        return false;
    }
    if b.len() == 10 {
        return !require_time;
    }
    if !allow_time || b[10] != b'T' {
        return false;
    }
    let rest = &b[11..];
    let Some(t) = parse_time(rest) else { return false };
    is_timezone(&rest[t..])
}

/// ([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)? ; returns the length matched.
fn parse_time(b: &[u8]) -> Option<usize> {
    let h = digits(b, 0, 2)?;
    let m = digits(b, 3, 2)?;
    let s = digits(b, 6, 2)?;
    if b[2] != b':' || b[5] != b':' || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let mut i = 8;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    Some(i)
}

/// Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)
fn is_timezone(b: &[u8]) -> bool {
    if b == b"Z" {
        return true;
    }
    if b.len() != 6 || !matches!(b[0], b'+' | b'-') || b[3] != b':' {
        return false;
    }
    match (digits(b, 1, 2), digits(b, 4, 2)) {
        (Some(14), Some(0)) => true,
        (Some(h), Some(m)) => h <= 13 && m <= 59,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(p: Prim, s: &str) -> bool {
        check_string(p, s).is_ok()
    }

    #[test]
    fn dates() {
        assert!(ok(Prim::Date, "2020"));
        assert!(ok(Prim::Date, "2020-02"));
        assert!(ok(Prim::Date, "2020-02-29"));
        assert!(!ok(Prim::Date, "2019-02-29"));
        assert!(!ok(Prim::Date, "2020-13-45"));
        assert!(!ok(Prim::Date, "0000"));
        assert!(!ok(Prim::Date, "2020-01-01T10:00:00Z"));
        assert!(ok(Prim::DateTime, "2020-01-01T10:00:00Z"));
        assert!(ok(Prim::DateTime, "2020-01-01T10:00:00.123+14:00"));
        assert!(!ok(Prim::DateTime, "2020-01-01T10:00:00"));
        assert!(!ok(Prim::DateTime, "2020-01-01T10:00Z"));
        assert!(!ok(Prim::DateTime, "2020-01-01T10:00:00+14:30"));
        assert!(ok(Prim::Instant, "2020-01-01T10:00:00-05:00"));
        assert!(!ok(Prim::Instant, "2020-01-01"));
        assert!(ok(Prim::Time, "23:59:60.5"));
        assert!(!ok(Prim::Time, "24:00:00"));
    }

    #[test]
    fn strings() {
        assert!(ok(Prim::Code, "a b"));
        assert!(!ok(Prim::Code, " a"));
        assert!(!ok(Prim::Code, "a  b"));
        assert!(ok(Prim::Id, "abc-1.2"));
        assert!(!ok(Prim::Id, "abc_1"));
        assert!(!ok(Prim::Id, &"a".repeat(65)));
        assert!(ok(Prim::Oid, "urn:oid:1.2.840.10008"));
        assert!(!ok(Prim::Oid, "urn:oid:1.02"));
        assert!(ok(Prim::Uuid, "urn:uuid:c757873d-ec9a-4326-a141-556f43239520"));
        assert!(!ok(Prim::Uuid, "urn:uuid:C757873D-ec9a-4326-a141-556f43239520"));
        assert!(ok(Prim::Base64Binary, "aGVs bG8="));
        assert!(!ok(Prim::Base64Binary, "aGVsbG8"));
        assert!(!ok(Prim::Uri, "http://a b"));
        assert!(!ok(Prim::String, ""));
    }
}
