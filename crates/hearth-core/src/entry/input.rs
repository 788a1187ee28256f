//! The kinds of form input and how their text becomes FHIR JSON and back
//! (https://hl7.org/fhir/R4/datatypes.html: `date`, `dateTime`, `instant`, `decimal`,
//! `integer`, `url`, Coding, CodeableConcept).
//!
//! Date-times are typed and shown in UTC (`2026-01-15T08:30` → `2026-01-15T08:30:00Z`); a stored
//! value a date input cannot show (a year only, another offset) is shown as stored text and kept
//! as it is unless the person changes it.

use hearth_domain::Timestamp;
use hearth_domain::datatypes::parse_fhir_datetime;
use serde_json::{Value, json};

/// One choice of a list: the stored code and the words people read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    pub code: &'static str,
    pub label: &'static str,
}

pub const fn c(code: &'static str, label: &'static str) -> Choice {
    Choice { code, label }
}

/// What a field holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Input {
    Text,
    LongText,
    /// FHIR `date`: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    Date,
    /// FHIR `dateTime`, typed in UTC.
    DateTime,
    /// FHIR `instant` (a date alone means its midnight UTC).
    Instant,
    Decimal,
    Integer,
    Url,
    Email,
    Phone,
    /// A `code` among the choices.
    Code(&'static [Choice]),
    /// A CodeableConcept coded in `system`, among the choices.
    Concept {
        system: &'static str,
        choices: &'static [Choice],
    },
    /// A Coding in `system`, among the choices.
    Coding {
        system: &'static str,
        choices: &'static [Choice],
    },
    /// A UCUM unit among the choices (measurements; written by the measurement shape).
    Unit(&'static [Choice]),
}

impl Input {
    /// The choices of a list input; empty for free inputs.
    pub fn choices(&self) -> &'static [Choice] {
        match self {
            Input::Code(c) | Input::Unit(c) => c,
            Input::Concept { choices, .. } | Input::Coding { choices, .. } => choices,
            _ => &[],
        }
    }

    /// The HTML input type that shows `value` (a stored value a date input cannot show is text).
    pub fn html_type(&self, value: &str) -> &'static str {
        match self {
            Input::Date if value.is_empty() || is_full_date(value) => "date",
            Input::DateTime | Input::Instant if value.is_empty() || is_local_datetime(value) => {
                "datetime-local"
            }
            Input::Decimal | Input::Integer => "text",
            Input::Url => "url",
            Input::Email => "email",
            Input::Phone => "tel",
            _ => "text",
        }
    }
}

fn is_full_date(s: &str) -> bool {
    s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-' && parse_fhir_datetime(s).is_some()
}

fn is_local_datetime(s: &str) -> bool {
    (s.len() == 16 || s.len() == 19) && s.as_bytes().get(10) == Some(&b'T') && !s.ends_with('Z')
}

/// The text a field shows for the JSON at its path.
pub fn show(input: &Input, v: &Value) -> String {
    match input {
        Input::Concept { system, .. } => v
            .get("coding")
            .and_then(Value::as_array)
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c.get("system").and_then(Value::as_str) == Some(system))
            })
            .and_then(|c| c.get("code"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        Input::Coding { system, .. } => {
            if v.get("system").and_then(Value::as_str) == Some(system) {
                v.get("code").and_then(Value::as_str).unwrap_or("").to_string()
            } else {
                String::new()
            }
        }
        Input::DateTime | Input::Instant => v.as_str().map(show_datetime).unwrap_or_default(),
        _ => scalar_text(v),
    }
}

/// A JSON scalar as text: strings as they are, numbers as written.
pub fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// A stored date-time as a `datetime-local` value in UTC, or as stored when it has no time.
pub fn show_datetime(s: &str) -> String {
    if !s.contains('T') {
        return s.to_string();
    }
    match parse_fhir_datetime(s) {
        Some(t) => local_utc(t),
        None => s.to_string(),
    }
}

/// `YYYY-MM-DDTHH:MM` (with `:SS` when not zero) in UTC.
pub fn local_utc(t: Timestamp) -> String {
    let s = t.to_rfc3339();
    match (s.get(0..16), s.get(16..19)) {
        (Some(min), Some(":00")) | (Some(min), None) => min.to_string(),
        (Some(min), Some(sec)) => format!("{min}{sec}"),
        _ => s,
    }
}

/// The JSON a field's text becomes: `Ok(None)` when empty, `Err(words)` when it cannot be read.
pub fn parse(input: &Input, text: &str) -> Result<Option<Value>, String> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let v = match input {
        Input::Text | Input::LongText | Input::Phone => json!(t),
        Input::Date => json!(fhir_date(t).ok_or("Enter a date as YYYY-MM-DD (or YYYY-MM, or YYYY).")?),
        Input::DateTime => {
            json!(fhir_datetime(t).ok_or("Enter a date and time, e.g. 2026-01-15T08:30 (UTC).")?)
        }
        Input::Instant => {
            json!(fhir_instant(t).ok_or("Enter a date and time, e.g. 2026-01-15T08:30 (UTC).")?)
        }
        Input::Decimal => decimal(t).ok_or("Enter a number, e.g. 72.5.")?,
        Input::Integer => {
            let n: i64 = t.parse().map_err(|_| "Enter a whole number.")?;
            if !(0..=i64::from(i32::MAX)).contains(&n) {
                return Err("Enter a whole number from 0.".into());
            }
            json!(n)
        }
        Input::Url => {
            if !(t.starts_with("https://") || t.starts_with("http://")) || t.contains(char::is_whitespace) {
                return Err("Enter a web address starting with https://.".into());
            }
            json!(t)
        }
        Input::Email => {
            if !t.contains('@') || t.contains(char::is_whitespace) {
                return Err("Enter an email address, e.g. name@example.org.".into());
            }
            json!(t)
        }
        Input::Code(choices) | Input::Unit(choices) => json!(choose(choices, t)?.code),
        Input::Concept { system, choices } => {
            let ch = choose(choices, t)?;
            json!({"coding": [{"system": system, "code": ch.code, "display": ch.label}], "text": ch.label})
        }
        Input::Coding { system, choices } => {
            let ch = choose(choices, t)?;
            json!({"system": system, "code": ch.code, "display": ch.label})
        }
    };
    Ok(Some(v))
}

fn choose(choices: &'static [Choice], t: &str) -> Result<&'static Choice, String> {
    choices
        .iter()
        .find(|c| c.code == t)
        .ok_or_else(|| "Choose one of the options.".to_string())
}

/// A FHIR decimal from typed text (`72,5` is read as `72.5`), keeping the digits as typed.
pub fn decimal(t: &str) -> Option<Value> {
    let t = t.trim().trim_start_matches('+').replace(',', ".");
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.as_str()),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let int = if int.is_empty() && frac.is_some() {
        "0"
    } else {
        int
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let mut text = String::new();
    if neg {
        text.push('-');
    }
    text.push_str(int);
    if let Some(f) = frac {
        text.push('.');
        text.push_str(f);
    }
    serde_json::from_str(&text).ok()
}

/// A number rounded to `decimals` places, as a FHIR decimal.
pub fn rounded(v: f64, decimals: usize) -> Value {
    let text = format!("{v:.decimals$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    let text = if text == "-0" { "0".to_string() } else { text };
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, checked to be a real date.
pub fn fhir_date(t: &str) -> Option<String> {
    let parts: Vec<&str> = t.split('-').collect();
    let ok = match parts.as_slice() {
        [y] => y.len() == 4 && digits(y),
        [y, m] => y.len() == 4 && digits(y) && m.len() == 2 && digits(m),
        [y, m, d] => y.len() == 4 && digits(y) && m.len() == 2 && digits(m) && d.len() == 2 && digits(d),
        _ => false,
    };
    (ok && parse_fhir_datetime(t).is_some()).then(|| t.to_string())
}

/// A date, or a date and time (UTC unless a zone is given), as a FHIR dateTime.
pub fn fhir_datetime(t: &str) -> Option<String> {
    if let Some(d) = fhir_date(t) {
        return Some(d);
    }
    fhir_instant_time(t)
}

/// A date and time as a FHIR instant (a date alone is its midnight UTC).
pub fn fhir_instant(t: &str) -> Option<String> {
    if let Some(d) = fhir_date(t).filter(|d| d.len() == 10) {
        return Some(format!("{d}T00:00:00Z"));
    }
    fhir_instant_time(t)
}

fn fhir_instant_time(t: &str) -> Option<String> {
    let t = t.replacen(' ', "T", 1);
    let (date, rest) = t.split_once('T')?;
    fhir_date(date).filter(|d| d.len() == 10)?;
    let zone_at = rest.find(['Z', '+', '-']).unwrap_or(rest.len());
    let (time, zone) = rest.split_at(zone_at);
    let time = match time.len() {
        5 => format!("{time}:00"),
        8 => time.to_string(),
        n if n > 9 && time.as_bytes()[8] == b'.' => time.to_string(),
        _ => return None,
    };
    let zone = if zone.is_empty() { "Z" } else { zone };
    let out = format!("{date}T{time}{zone}");
    let tb = time.as_bytes();
    let shape =
        tb[2] == b':' && tb[5] == b':' && digits(&time[0..2]) && digits(&time[3..5]) && digits(&time[6..8]);
    (shape && parse_fhir_datetime(&out).is_some()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_digits() {
        assert_eq!(decimal("72.50").unwrap().to_string(), "72.50");
        assert_eq!(decimal("72,5").unwrap().to_string(), "72.5");
        assert_eq!(decimal("007").unwrap().to_string(), "7");
        assert_eq!(decimal(".5").unwrap().to_string(), "0.5");
        assert!(decimal("7e3").is_none() && decimal("abc").is_none() && decimal("1.").is_none());
        assert_eq!(rounded(74.842_741, 2).to_string(), "74.84");
        assert_eq!(rounded(120.0, 0).to_string(), "120");
        assert_eq!(rounded(37.0, 2).to_string(), "37");
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(fhir_datetime("2026-01-15T08:30").unwrap(), "2026-01-15T08:30:00Z");
        assert_eq!(
            fhir_datetime("2026-01-15 08:30:05").unwrap(),
            "2026-01-15T08:30:05Z"
        );
        assert_eq!(fhir_datetime("2026-01").unwrap(), "2026-01");
        assert_eq!(
            fhir_datetime("2026-01-15T08:30:00+02:00").unwrap(),
            "2026-01-15T08:30:00+02:00"
        );
        assert!(fhir_datetime("2026-02-30").is_none());
        assert!(fhir_datetime("15/01/2026").is_none());
        assert_eq!(fhir_instant("2026-01-15").unwrap(), "2026-01-15T00:00:00Z");
        assert!(fhir_instant("2026").is_none());
        assert_eq!(show_datetime("2026-01-15T08:30:00Z"), "2026-01-15T08:30");
        assert_eq!(show_datetime("2026-01-15T10:30:00+02:00"), "2026-01-15T08:30");
        assert_eq!(show_datetime("2026"), "2026");
        assert_eq!(Input::DateTime.html_type("2026"), "text");
        assert_eq!(Input::DateTime.html_type("2026-01-15T08:30"), "datetime-local");
    }
}
