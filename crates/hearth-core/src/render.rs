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
