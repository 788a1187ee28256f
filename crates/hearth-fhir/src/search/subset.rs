//! Subsetting resources for `_elements` and `_summary`
//! (<https://hl7.org/fhir/R4/search.html#elements>,
//! <https://hl7.org/fhir/R4/search.html#summary>): the result keeps
//! `resourceType`, `id` and `meta`, and is marked with the `SUBSETTED` tag
//! of <http://terminology.hl7.org/CodeSystem/v3-ObservationValue>.
//! `_summary=true` keeps the elements marked isSummary in the R4
//! StructureDefinition of the type, recursively through backbone elements.

use serde_json::{Map, Value, json};

use crate::search::query::Summary;
use crate::search::registry::{SummaryTree, type_info};

/// System of the `SUBSETTED` tag.
pub const SUBSETTED_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";

/// Whether JSON property `key` holds element `name` (`_name` too; for choice
/// elements `nameType` / `_nameType`).
fn key_is(key: &str, name: &str, choice: bool) -> bool {
    let k = key.strip_prefix('_').unwrap_or(key);
    if choice {
        k.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
    } else {
        k == name
    }
}

/// Adds the SUBSETTED tag to `meta.tag` (once).
fn mark_subsetted(obj: &mut Map<String, Value>) {
    let meta = obj.entry("meta").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    let Some(meta) = meta.as_object_mut() else { return };
    let tags = meta.entry("tag").or_insert_with(|| json!([]));
    if !tags.is_array() {
        *tags = json!([]);
    }
    let Some(tags) = tags.as_array_mut() else { return };
    let present = tags.iter().any(|t| {
        t.get("system").and_then(Value::as_str) == Some(SUBSETTED_SYSTEM)
            && t.get("code").and_then(Value::as_str) == Some("SUBSETTED")
    });
    if !present {
        tags.push(json!({"system": SUBSETTED_SYSTEM, "code": "SUBSETTED", "display": "subsetted"}));
    }
}

/// Keeps `resourceType`, `id`, `meta`, the mandatory top-level elements (the
/// spec: servers SHOULD return them) and the named top-level `elements`
/// (names without `[x]`, as in [`super::Criteria::elements`]), then tags the
/// resource SUBSETTED. Unknown resource types are left untouched.
pub fn apply_elements(resource: &mut Value, elements: &[String]) {
    let Some(ty) = resource.get("resourceType").and_then(Value::as_str) else {
        return;
    };
    let Some(info) = type_info(ty) else { return };
    let Some(obj) = resource.as_object_mut() else {
        return;
    };
    obj.retain(|key, _| {
        matches!(key.as_str(), "resourceType" | "id" | "meta")
            || info.elements.iter().any(|(name, choice)| {
                (info.mandatory.contains(name) || elements.iter().any(|e| e == &**name))
                    && key_is(key, name, *choice)
            })
    });
    mark_subsetted(obj);
}

fn keep_summary(tree: &SummaryTree, node: u32, obj: &mut Map<String, Value>) {
    let children = &tree.nodes[node as usize];
    obj.retain(|key, value| {
        if node == 0 && key == "resourceType" {
            return true;
        }
        let Some((_, _, sub)) = children
            .iter()
            .find(|(name, choice, _)| key_is(key, name, *choice))
        else {
            return false;
        };
        if let Some(sub) = sub
            && !key.starts_with('_')
        {
            match value {
                Value::Object(o) => keep_summary(tree, *sub, o),
                Value::Array(items) => {
                    for item in items {
                        if let Value::Object(o) = item {
                            keep_summary(tree, *sub, o);
                        }
                    }
                }
                _ => {}
            }
        }
        true
    });
}

/// Applies `_summary` to one resource: `true` keeps the isSummary elements,
/// `text` keeps `text`, `id`, `meta` and the mandatory top-level elements,
/// `data` drops `text`; each of those tags the resource SUBSETTED. `count`
/// and `false` leave it unchanged (for `count` the caller returns no entries).
pub fn apply_summary(resource: &mut Value, summary: Summary) {
    let Some(ty) = resource.get("resourceType").and_then(Value::as_str) else {
        return;
    };
    let Some(info) = type_info(ty) else { return };
    let Some(obj) = resource.as_object_mut() else {
        return;
    };
    match summary {
        Summary::Count | Summary::False => return,
        Summary::True => keep_summary(&info.summary, 0, obj),
        Summary::Text => {
            obj.retain(|key, _| {
                matches!(key.as_str(), "resourceType" | "id" | "meta" | "text")
                    || info
                        .elements
                        .iter()
                        .any(|(name, choice)| info.mandatory.contains(name) && key_is(key, name, *choice))
            });
        }
        Summary::Data => {
            obj.remove("text");
            obj.remove("_text");
        }
    }
    mark_subsetted(obj);
}
