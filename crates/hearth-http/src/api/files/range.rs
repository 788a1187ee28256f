//! The HTTP headers a file download answers to: `Range` (RFC 9110 §14.1.2, §14.2: one byte
//! range; several ranges are answered with the whole file, as §14.2 allows), `If-Range` (a date
//! equal to `Last-Modified`; weak ETags never match it), `If-None-Match` (§13.1.2, weak
//! comparison), `If-Match` on writes (a version, `W/"n"`), and the choice between the FHIR
//! resource and the raw bytes (`Accept`, `_format`; https://hl7.org/fhir/R4/http.html#binary).

use axum::http::{HeaderMap, header};
use hearth_core::{ServiceError, ServiceResult};

/// What to send of a file of a given size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ranged {
    Whole,
    /// `len` bytes from `start` (206).
    Part {
        start: u64,
        len: u64,
    },
    /// No byte of the range exists (416).
    Unsatisfiable,
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// The part of a file of `size` bytes the request asks for. An absent, malformed or
/// multi-range `Range`, or one whose `If-Range` does not match `last_modified`, gets the whole.
pub fn requested_range(headers: &HeaderMap, size: u64, last_modified: &str) -> Ranged {
    let Some(spec) = header_str(headers, header::RANGE) else {
        return Ranged::Whole;
    };
    if let Some(cond) = header_str(headers, header::IF_RANGE)
        && cond != last_modified
    {
        return Ranged::Whole;
    }
    let Some(set) = spec.strip_prefix("bytes=") else {
        return Ranged::Whole;
    };
    if set.contains(',') {
        return Ranged::Whole;
    }
    let Some((first, last)) = set.trim().split_once('-') else {
        return Ranged::Whole;
    };
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (first.is_empty(), last.is_empty()) {
        // bytes=-n: the last n bytes.
        (true, false) => match num(last) {
            Some(0) => Ranged::Unsatisfiable,
            Some(_) if size == 0 => Ranged::Unsatisfiable,
            Some(n) => {
                let len = n.min(size);
                Ranged::Part {
                    start: size - len,
                    len,
                }
            }
            None => Ranged::Whole,
        },
        // bytes=a- or bytes=a-b
        (false, _) => {
            let Some(start) = num(first) else {
                return Ranged::Whole;
            };
            let end = if last.is_empty() {
                None
            } else {
                match num(last) {
                    Some(e) if e >= start => Some(e),
                    _ => return Ranged::Whole,
                }
            };
            if start >= size {
                return Ranged::Unsatisfiable;
            }
            let end = end.map_or(size - 1, |e| e.min(size - 1));
            Ranged::Part {
                start,
                len: end - start + 1,
            }
        }
        (true, true) => Ranged::Whole,
    }
}

/// Whether `If-None-Match` names this version's ETag (`W/"v"`; weak comparison; `*` matches).
pub fn not_modified(headers: &HeaderMap, version: u32) -> bool {
    let Some(list) = header_str(headers, header::IF_NONE_MATCH) else {
        return false;
    };
    list.split(',').map(str::trim).any(|tag| {
        tag == "*" || {
            let opaque = tag.strip_prefix("W/").unwrap_or(tag);
            opaque == format!("\"{version}\"")
        }
    })
}

/// The version `If-Match` requires (`W/"3"`, `"3"`), if it is given.
pub fn if_match(headers: &HeaderMap) -> ServiceResult<Option<u32>> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = v.to_str().unwrap_or("").trim();
    let opaque = text.strip_prefix("W/").unwrap_or(text);
    opaque
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .and_then(|s| s.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            ServiceError::invalid(
                "value",
                "",
                format!("If-Match {text:?} is not a version ETag such as W/\"3\""),
            )
        })
}

/// Whether the caller asked for the FHIR resource rather than the raw bytes: `_format=json`
/// (or a FHIR JSON media type) or an `Accept` naming FHIR JSON. FHIR XML is refused.
pub fn wants_fhir_json(headers: &HeaderMap, format: Option<&str>) -> ServiceResult<bool> {
    let fhir_xml = || {
        ServiceError::invalid(
            "not-supported",
            "",
            "this server speaks FHIR JSON only (application/fhir+json)",
        )
    };
    if let Some(f) = format {
        return match f.trim() {
            "json" | "application/json" | "application/fhir+json" | "application/json+fhir" => Ok(true),
            "xml" | "text/xml" | "application/xml" | "application/fhir+xml" => Err(fhir_xml()),
            other => Err(ServiceError::invalid(
                "value",
                "",
                format!("_format {other:?} is not json"),
            )),
        };
    }
    let Some(accept) = header_str(headers, header::ACCEPT) else {
        return Ok(false);
    };
    let mut json = false;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        let refused = parts.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=")
                .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q == 0.0))
        });
        if !refused && hearth_core::files::media_type::is_fhir_json(media) {
            json = true;
        }
    }
    Ok(json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(name: header::HeaderName, v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(v).unwrap());
        h
    }

    fn range(v: &str, size: u64) -> Ranged {
        requested_range(&with(header::RANGE, v), size, "Thu, 01 Jan 2026 00:00:00 GMT")
    }

    #[test]
    fn byte_ranges() {
        let part = |start, len| Ranged::Part { start, len };
        assert_eq!(range("bytes=0-9", 100), part(0, 10));
        assert_eq!(range("bytes=90-200", 100), part(90, 10));
        assert_eq!(range("bytes=10-", 100), part(10, 90));
        assert_eq!(range("bytes=-30", 100), part(70, 30));
        assert_eq!(range("bytes=-300", 100), part(0, 100));
        assert_eq!(range("bytes=99-99", 100), part(99, 1));
        assert_eq!(range("bytes=100-", 100), Ranged::Unsatisfiable);
        assert_eq!(range("bytes=-0", 100), Ranged::Unsatisfiable);
        assert_eq!(range("bytes=0-0", 0), Ranged::Unsatisfiable);
        assert_eq!(range("bytes=-5", 0), Ranged::Unsatisfiable);
        // Malformed, other units and several ranges: the whole file.
        for v in [
            "bytes=5-1",
            "bytes=a-b",
            "items=0-1",
            "bytes=0-1,5-6",
            "bytes=-",
            "bytes=1",
        ] {
            assert_eq!(range(v, 100), Ranged::Whole, "{v}");
        }
        assert_eq!(requested_range(&HeaderMap::new(), 100, "x"), Ranged::Whole);
        let mut h = with(header::RANGE, "bytes=0-1");
        h.insert(header::IF_RANGE, HeaderValue::from_static("W/\"1\""));
        assert_eq!(
            requested_range(&h, 100, "Thu, 01 Jan 2026 00:00:00 GMT"),
            Ranged::Whole
        );
        h.insert(
            header::IF_RANGE,
            HeaderValue::from_static("Thu, 01 Jan 2026 00:00:00 GMT"),
        );
        assert_eq!(
            requested_range(&h, 100, "Thu, 01 Jan 2026 00:00:00 GMT"),
            part(0, 2)
        );
    }

    #[test]
    fn conditions_and_formats() {
        assert!(not_modified(&with(header::IF_NONE_MATCH, "W/\"3\""), 3));
        assert!(not_modified(&with(header::IF_NONE_MATCH, "\"1\", \"3\""), 3));
        assert!(not_modified(&with(header::IF_NONE_MATCH, "*"), 3));
        assert!(!not_modified(&with(header::IF_NONE_MATCH, "W/\"2\""), 3));
        assert!(!not_modified(&HeaderMap::new(), 3));
        assert_eq!(if_match(&with(header::IF_MATCH, "W/\"7\"")).unwrap(), Some(7));
        assert_eq!(if_match(&HeaderMap::new()).unwrap(), None);
        assert!(if_match(&with(header::IF_MATCH, "seven")).is_err());
        assert!(wants_fhir_json(&with(header::ACCEPT, "application/fhir+json"), None).unwrap());
        assert!(wants_fhir_json(&HeaderMap::new(), Some("json")).unwrap());
        assert!(!wants_fhir_json(&with(header::ACCEPT, "*/*"), None).unwrap());
        assert!(!wants_fhir_json(&with(header::ACCEPT, "application/pdf"), None).unwrap());
        assert!(!wants_fhir_json(&with(header::ACCEPT, "application/fhir+json;q=0, */*"), None).unwrap());
        assert!(!wants_fhir_json(&HeaderMap::new(), None).unwrap());
        assert!(wants_fhir_json(&HeaderMap::new(), Some("xml")).is_err());
    }
}
