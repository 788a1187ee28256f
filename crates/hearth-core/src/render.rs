//! A stored item as the FHIR resource clients receive: the resource exactly as stored (key order
//! and number text kept by serde_json's `preserve_order` and `arbitrary_precision`), with
//! `meta.versionId` and `meta.lastUpdated` set from the envelope (FHIR R4 §2.6 Resource.meta).

use hearth_domain::ItemMeta;
use serde_json::{Map, Value};

/// The resource with its version metadata; the error says what is wrong with the stored text.
pub fn render_resource(meta: &ItemMeta, body: &str) -> Result<Value, String> {
    let corrupt = |why: &str| format!("item {} version {}: {why}", meta.id, meta.version);
    let mut resource: Value =
        serde_json::from_str(body).map_err(|e| corrupt(&format!("stored resource is not JSON: {e}")))?;
    let obj = resource
        .as_object_mut()
        .ok_or_else(|| corrupt("stored resource is not a JSON object"))?;
    if !obj.contains_key("meta") {
        let at = obj.keys().position(|k| k == "id").map_or(obj.len(), |i| i + 1);
        obj.shift_insert(at, "meta".into(), Value::Object(Map::new()));
    }
    let m = obj
        .get_mut("meta")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| corrupt("the stored resource's meta is not an object"))?;
    m.shift_remove("versionId");
    m.shift_remove("lastUpdated");
    m.shift_insert(0, "versionId".into(), Value::String(meta.version.to_string()));
    m.shift_insert(
        1,
        "lastUpdated".into(),
        Value::String(meta.updated.at.to_rfc3339()),
    );
    Ok(resource)
}

/// The same resource as [`render_resource`], as JSON text, spliced without parsing into a value.
pub fn render_resource_text(meta: &ItemMeta, body: &str) -> Result<String, String> {
    let corrupt = |why: &str| format!("item {} version {}: {why}", meta.id, meta.version);
    let members = top_level_members(body).ok_or_else(|| corrupt("stored resource is not a JSON object"))?;
    let version = format!(
        "\"versionId\":\"{}\",\"lastUpdated\":\"{}\"",
        meta.version,
        meta.updated.at.to_rfc3339()
    );
    let mut out = String::with_capacity(body.len() + version.len() + 16);
    match members.iter().find(|m| m.key == "meta") {
        Some(m) => {
            // `"meta":{` … : the version metadata goes first in the object.
            let open = body[m.value_start..]
                .find('{')
                .map(|i| m.value_start + i + 1)
                .filter(|_| body[m.value_start..].starts_with('{'))
                .ok_or_else(|| corrupt("the stored resource's meta is not an object"))?;
            let empty = body[open..].trim_start().starts_with('}');
            out.push_str(&body[..open]);
            out.push_str(&version);
            if !empty {
                out.push(',');
            }
            out.push_str(&body[open..]);
        }
        None => {
            // After `id` (or at the end when there is none), like the value renderer.
            let (at, lead) = match members.iter().find(|m| m.key == "id") {
                Some(m) => (m.value_end, true),
                None => match members.last() {
                    Some(m) => (m.value_end, true),
                    None => (body.find('{').map_or(0, |i| i + 1), false),
                },
            };
            out.push_str(&body[..at]);
            if lead {
                out.push(',');
            }
            out.push_str("\"meta\":{");
            out.push_str(&version);
            out.push('}');
            out.push_str(&body[at..]);
        }
    }
    Ok(out)
}

struct Member<'a> {
    key: &'a str,
    value_start: usize,
    value_end: usize,
}

/// The members of the top-level object of compact or pretty JSON text (keys without escapes
/// are enough: FHIR element names never need them).
fn top_level_members(text: &str) -> Option<Vec<Member<'_>>> {
    let b = text.as_bytes();
    let mut i = b.iter().position(|c| !c.is_ascii_whitespace())?;
    if b[i] != b'{' {
        return None;
    }
    i += 1;
    let mut out = Vec::new();
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b',') {
            i += 1;
        }
        if i >= b.len() {
            return None;
        }
        if b[i] == b'}' {
            return Some(out);
        }
        if b[i] != b'"' {
            return None;
        }
        let key_end = skip_string(b, i)?;
        let key = &text[i + 1..key_end - 1];
        i = key_end;
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b':') {
            i += 1;
        }
        let value_start = i;
        let value_end = skip_value(b, i)?;
        out.push(Member {
            key,
            value_start,
            value_end,
        });
        i = value_end;
    }
}

/// The index just past the string starting at `i` (a `"`).
fn skip_string(b: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The index just past the value starting at `i`.
fn skip_value(b: &[u8], mut i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => skip_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        i = skip_string(b, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            while i < b.len() && !matches!(b[i], b',' | b'}' | b']') && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            Some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_domain::{Actor, ItemFlags, ItemId, ItemState, RecordId, Stamp, Timestamp};

    fn meta(version: u32) -> ItemMeta {
        let stamp = Stamp::new(&Actor::operator(), Timestamp(1_700_000_000_123_456));
        ItemMeta {
            id: ItemId::new(),
            record_id: RecordId::new(),
            version,
            state: ItemState::Active,
            resource_type: "Observation".into(),
            data_type: "fhir:Observation".into(),
            effective: stamp.at,
            end_date: None,
            flags: ItemFlags::default(),
            source: None,
            note: None,
            tags: vec![],
            links: vec![],
            blobs: vec![],
            codes: vec![],
            client_id: None,
            writer: String::new(),
            created: stamp.clone(),
            updated: stamp,
            seq: 1,
        }
    }

    #[test]
    fn text_rendering_equals_value_rendering() {
        let bodies = [
            r#"{"resourceType":"Observation","id":"a","status":"final","valueQuantity":{"value":72.50}}"#,
            r#"{"resourceType":"Observation","id":"a","meta":{"tag":[{"code":"x"}]},"note":[{"text":"a \"quoted\" } ] brace"}]}"#,
            r#"{"resourceType":"Observation","status":"final"}"#,
            r#"{"resourceType":"Patient","meta":{"profile":["p"]},"id":"b","_birthDate":{"extension":[{"url":"u","valueBoolean":true}]}}"#,
            r#"{"resourceType":"Basic"}"#,
        ];
        for (k, body) in bodies.iter().enumerate() {
            let m = meta(k as u32 + 1);
            let text = render_resource_text(&m, body).unwrap();
            let value = render_resource(&m, body).unwrap();
            assert_eq!(text, value.to_string(), "body {k}");
        }
    }

    #[test]
    fn synthea_resources_render_the_same_both_ways() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/synthea-r4");
        let file = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "json"))
            .expect("a Synthea bundle");
        let bundle: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        let m = meta(3);
        let mut n = 0;
        for e in bundle["entry"].as_array().unwrap() {
            let body = e["resource"].to_string();
            assert_eq!(
                render_resource_text(&m, &body).unwrap(),
                render_resource(&m, &body).unwrap().to_string()
            );
            n += 1;
        }
        assert!(n > 10);
    }
}
