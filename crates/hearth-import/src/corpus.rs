//! A benchmark corpus: Synthea patient bundles cloned with fresh ids. Every UUID in a bundle's
//! text (fullUrls, ids, references, identifiers) is replaced by a fresh one, consistently within
//! the clone, so each clone is a new patient whose references still resolve.

use std::collections::HashMap;

use crate::ImportError;
use crate::source::{Unit, parse_json};

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// Whether `w` (36 bytes) looks like a hyphenated UUID.
fn is_uuid(w: &[u8]) -> bool {
    w.len() == 36
        && w.iter().enumerate().all(|(i, &b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                b == b'-'
            } else {
                is_hex(b)
            }
        })
}

/// The bundle text with every UUID replaced by a fresh one (the same old UUID → the same new one).
pub fn refresh_uuids(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut map: HashMap<&[u8], String> = HashMap::new();
    let mut i = 0;
    while i < text.len() {
        if i + 36 <= text.len()
            && is_hex(text[i])
            && (i == 0 || !is_hex(text[i - 1]))
            && is_uuid(&text[i..i + 36])
        {
            let old = &text[i..i + 36];
            let new = map
                .entry(old)
                .or_insert_with(|| uuid::Uuid::new_v4().hyphenated().to_string());
            out.extend_from_slice(new.as_bytes());
            i += 36;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    out
}

/// One clone of a bundle as a unit.
pub fn clone_unit(name: &str, text: &[u8], clone: u64) -> Result<Unit, ImportError> {
    parse_json(&format!("{name} (clone {clone})"), &refresh_uuids(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_replaced_consistently() {
        let text = br#"{"a":"urn:uuid:018f428e-34f6-4707-8009-5ad742f901e7","b":"Patient/018f428e-34f6-4707-8009-5ad742f901e7","c":"x-not-a-uuid"}"#;
        let out = String::from_utf8(refresh_uuids(text)).unwrap();
        assert!(!out.contains("018f428e-34f6"));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let a = v["a"].as_str().unwrap().trim_start_matches("urn:uuid:");
        let b = v["b"].as_str().unwrap().trim_start_matches("Patient/");
        assert_eq!(a, b);
        assert_eq!(v["c"], "x-not-a-uuid");
    }
}
