//! Encodings shared by the database backends, so both store the same bytes:
//! - resource bodies are zstd-compressed UTF-8 JSON (the text exactly as prepared);
//! - the rarely-filled envelope fields (source, note, tags, links, blobs, codes, end date) go in
//!   one small JSON document, `NULL` when all are empty;
//! - audit entries' item lists and data types are compact JSON arrays;
//! - sign-in and consent values (app rules, redirect URIs, JWK sets, granted rules, recovery
//!   codes, authorization-code data) are their serde JSON, and enums are their serde names.

use std::cell::RefCell;

use hearth_domain::audit::ItemVersionRef;
use hearth_domain::{BlobRef, ItemContent, ItemLink, Timestamp};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{StoreError, StoreResult};

/// zstd level for bodies: fast enough for bulk import, about 3× smaller than the JSON.
const ZSTD_LEVEL: i32 = 3;

/// The zstd dictionary bodies are compressed with, trained on the official FHIR R4 examples
/// (`examples/train_dictionary.rs`). Frames record the dictionary id, so bodies written with a
/// later dictionary, or with none, stay readable as long as their dictionary ships.
static DICTIONARY: &[u8] = include_bytes!("../data/fhir-r4.zdict");

thread_local! {
    // zstd contexts are large to set up; each thread keeps one of each and reuses it.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
    static PLAIN_DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// Largest body accepted when decompressing (a sanity bound against corrupt frames).
const MAX_BODY: usize = 256 * 1024 * 1024;

fn zstd_err(e: std::io::Error) -> StoreError {
    StoreError::Backend(format!("zstd: {e}"))
}

pub fn compress_body(json: &str) -> StoreResult<Vec<u8>> {
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let c = match &mut *slot {
            Some(c) => c,
            None => slot
                .insert(zstd::bulk::Compressor::with_dictionary(ZSTD_LEVEL, DICTIONARY).map_err(zstd_err)?),
        };
        c.compress(json.as_bytes()).map_err(zstd_err)
    })
}

pub fn decompress_body(bytes: &[u8]) -> StoreResult<String> {
    let size = match zstd::zstd_safe::get_frame_content_size(bytes) {
        Ok(Some(n)) if (n as usize) <= MAX_BODY => n as usize,
        _ => {
            return Err(StoreError::Corrupt(
                "zstd frame without a valid content size".into(),
            ));
        }
    };
    let with_dict = zstd::zstd_safe::get_dict_id_from_frame(bytes).is_some();
    let cell = if with_dict {
        &DECOMPRESSOR
    } else {
        &PLAIN_DECOMPRESSOR
    };
    let raw = cell.with(|cell| {
        let mut slot = cell.borrow_mut();
        let d = match &mut *slot {
            Some(d) => d,
            None => slot.insert(if with_dict {
                zstd::bulk::Decompressor::with_dictionary(DICTIONARY).map_err(zstd_err)?
            } else {
                zstd::bulk::Decompressor::new().map_err(zstd_err)?
            }),
        };
        d.decompress(bytes, size)
            .map_err(|e| StoreError::Corrupt(format!("zstd: {e}")))
    })?;
    String::from_utf8(raw).map_err(|e| StoreError::Corrupt(format!("body is not UTF-8: {e}")))
}

/// Envelope fields that are usually empty.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Extras {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<ItemLink>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blobs: Vec<BlobRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

impl Extras {
    /// The rarely-filled envelope fields of a write.
    pub fn of(c: &ItemContent) -> Self {
        Extras {
            source: c.source.clone(),
            note: c.note.clone(),
            tags: c.tags.clone(),
            links: c.links.clone(),
            blobs: c.blobs.clone(),
            codes: c.codes.clone(),
            end: c.end_date,
            client_id: c.client_id.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Extras::default()
    }

    pub fn encode(&self) -> Option<String> {
        (!self.is_empty()).then(|| serde_json::to_string(self).unwrap_or_default())
    }

    pub fn decode(text: Option<&str>) -> StoreResult<Self> {
        match text {
            None => Ok(Extras::default()),
            Some(t) => serde_json::from_str(t).map_err(|e| StoreError::Corrupt(format!("envelope: {e}"))),
        }
    }
}

pub fn encode_refs(refs: &[ItemVersionRef]) -> String {
    let mut s = String::with_capacity(refs.len() * 40 + 2);
    s.push('[');
    for (i, r) in refs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push('"');
        s.push_str(&r.id.0.simple().to_string());
        s.push('/');
        s.push_str(&r.version.to_string());
        s.push('"');
    }
    s.push(']');
    s
}

pub fn decode_refs(text: &str) -> StoreResult<Vec<ItemVersionRef>> {
    let raw: Vec<String> =
        serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("audit items: {e}")))?;
    raw.iter()
        .map(|s| {
            let (id, v) = s
                .split_once('/')
                .ok_or_else(|| StoreError::Corrupt(format!("audit item {s:?}")))?;
            Ok(ItemVersionRef {
                id: id
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("audit item {s:?}")))?,
                version: v
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("audit item {s:?}")))?,
            })
        })
        .collect()
}

pub fn encode_strings(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

pub fn decode_strings(text: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("string list: {e}")))
}

/// The serde JSON text of a value (app rules, granted rules, JWK sets…).
pub fn to_json<T: Serialize + ?Sized>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(format!("encoding JSON: {e}")))
}

/// Reads back what [`to_json`] wrote; `what` names the column in the error.
pub fn from_json<T: DeserializeOwned>(what: &str, text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// The serde name of a unit enum variant (`"confidential-web"`, `"client_secret_basic"`…),
/// which is how such enums are stored.
pub fn enum_name<T: Serialize>(v: &T) -> StoreResult<String> {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(StoreError::Backend("value is not a unit enum variant".into())),
    }
}

/// Reads back what [`enum_name`] wrote; `what` names the column in the error.
pub fn enum_from_name<T: DeserializeOwned>(what: &str, name: &str) -> StoreResult<T> {
    serde_json::from_value(serde_json::Value::String(name.to_owned()))
        .map_err(|_| StoreError::Corrupt(format!("{what}: unknown value {name:?}")))
}

/// Splits a `system|code` query into (system, code); `None` system matches any.
pub fn split_code(q: &str) -> (Option<&str>, &str) {
    match q.split_once('|') {
        Some((sys, code)) => (Some(sys), code),
        None => (None, q),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_domain::ItemId;

    #[test]
    fn bodies_round_trip_exactly() {
        let json = r#"{"resourceType":"Observation","valueQuantity":{"value":72.50,"unit":"kg"},"_status":{"extension":[]}}"#;
        assert_eq!(decompress_body(&compress_body(json).unwrap()).unwrap(), json);
    }

    #[test]
    fn refs_round_trip() {
        let refs = vec![
            ItemVersionRef {
                id: ItemId::new(),
                version: 3,
            },
            ItemVersionRef {
                id: ItemId::new(),
                version: 1,
            },
        ];
        assert_eq!(decode_refs(&encode_refs(&refs)).unwrap(), refs);
        assert!(Extras::default().encode().is_none());
    }

    #[test]
    fn enum_names_are_serde_names() {
        use hearth_domain::auth::{AppKind, ClientAuth, TokenIssuer};
        assert_eq!(
            enum_name(&AppKind::ConfidentialWeb).unwrap(),
            AppKind::ConfidentialWeb.as_str()
        );
        assert_eq!(
            enum_name(&ClientAuth::PrivateKeyJwt).unwrap(),
            ClientAuth::PrivateKeyJwt.as_str()
        );
        let issuer: TokenIssuer = enum_from_name("issuer", "operator").unwrap();
        assert_eq!(issuer, TokenIssuer::Operator);
        assert!(enum_from_name::<AppKind>("kind", "nope").is_err());
    }
}
