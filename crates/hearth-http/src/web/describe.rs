//! An item in a line, for tables and the record home: what it is (its name in the resource: an
//! Observation's `code`, a medication, a vaccine, a document's title…), its value (a measured
//! quantity with its unit, both blood pressure numbers, a coded answer, a status) and its date.
//! Read from FHIR R4 elements; anything missing falls back to the data type's name.

use hearth_core::entry::ENTERED_QUANTITY;
use hearth_domain::datatypes::registry;
use hearth_domain::{Item, ItemState, Timestamp};
use serde_json::Value;

/// One item as a row.
pub struct Summary {
    pub id: String,
    pub title: String,
    pub value: String,
    pub date: String,
    pub type_name: String,
    pub deleted: bool,
}

fn text_of(v: Option<&Value>) -> Option<String> {
    let v = v?;
    if let Some(s) = v.as_str() {
        return Some(s.to_string());
    }
    if let Some(a) = v.as_array() {
        return a.iter().find_map(|x| text_of(Some(x)));
    }
    if let Some(t) = v.get("text").and_then(Value::as_str) {
        return Some(t.to_string());
    }
    if let Some(d) = v.get("display").and_then(Value::as_str) {
        return Some(d.to_string());
    }
    if let Some(cs) = v.get("coding").and_then(Value::as_array) {
        return cs.iter().find_map(|c| {
            c.get("display")
                .or_else(|| c.get("code"))
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    }
    None
}

fn at<'v>(r: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = r;
    for p in path.split('.') {
        cur = match cur {
            Value::Array(a) => a.first()?.get(p)?,
            _ => cur.get(p)?,
        };
    }
    Some(cur)
}

/// What a resource is called, by its resource type.
pub fn title_of(r: &Value) -> Option<String> {
    let rt = r.get("resourceType").and_then(Value::as_str).unwrap_or("");
    if matches!(rt, "RelatedPerson" | "Patient") {
        return Some(person_name(r)).filter(|n| !n.is_empty());
    }
    let paths: &[&str] = match rt {
        "MedicationStatement" | "MedicationRequest" | "MedicationAdministration" | "MedicationDispense" => {
            &["medicationCodeableConcept", "medicationReference"]
        }
        "Immunization" => &["vaccineCode"],
        "Encounter" => &["type", "class"],
        "Appointment" => &["description", "serviceType"],
        "DocumentReference" => &["content.attachment.title", "description", "type"],
        "Media" => &["content.title", "type"],
        "Goal" => &["description"],
        "CarePlan" => &["title", "description", "category"],
        "Device" => &["deviceName.name", "type"],
        "Coverage" => &["payor", "type"],
        "ExplanationOfBenefit" | "Claim" => &["type", "insurer"],
        "FamilyMemberHistory" => &["relationship"],
        "ImagingStudy" => &["description", "modality"],
        _ => &["code", "description", "title", "name", "type"],
    };
    let found = paths.iter().find_map(|p| text_of(at(r, p)))?;
    if rt == "FamilyMemberHistory"
        && let Some(c) = text_of(at(r, "condition.code"))
    {
        return Some(format!("{found}: {c}"));
    }
    if matches!(rt, "RelatedPerson" | "Patient")
        && r.get("name").and_then(|n| n.get(0)?.get("text")).is_none()
    {
        return Some(person_name(r));
    }
    Some(found)
}

/// A person's name from `name[0]` (text, else given names and family name).
pub fn person_name(r: &Value) -> String {
    let Some(n) = r.get("name").and_then(|n| n.get(0)) else {
        return String::new();
    };
    if let Some(t) = n.get("text").and_then(Value::as_str) {
        return t.to_string();
    }
    let mut parts: Vec<String> = n
        .get("given")
        .and_then(Value::as_array)
        .map(|g| g.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    if let Some(f) = n.get("family").and_then(Value::as_str) {
        parts.push(f.to_string());
    }
    parts.join(" ")
}

/// The quantity as typed, when the stored one was converted from it (the entered-quantity
/// extension of `hearth_core::entry`): `46.3 lb`.
fn typed_text(q: &Value) -> Option<String> {
    let typed = q
        .get("extension")?
        .as_array()?
        .iter()
        .find(|e| e.get("url").and_then(Value::as_str) == Some(ENTERED_QUANTITY))?
        .get("valueQuantity")?;
    plain_quantity(typed)
}

/// A number as written, with its unit, and what was typed when it was converted.
fn quantity_text(q: &Value) -> Option<String> {
    let stored = plain_quantity(q)?;
    Some(match typed_text(q) {
        Some(t) => format!("{stored} ({t})"),
        None => stored,
    })
}

fn plain_quantity(q: &Value) -> Option<String> {
    let v = q.get("value")?;
    let n = match v {
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let unit = q
        .get("unit")
        .or_else(|| q.get("code"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let comparator = q.get("comparator").and_then(Value::as_str).unwrap_or("");
    Some(format!("{comparator}{n} {unit}").trim().to_string())
}

fn component_value(r: &Value, code: &str) -> Option<String> {
    r.get("component")?.as_array()?.iter().find_map(|c| {
        let coded = c.get("code")?.get("coding")?.as_array()?;
        coded
            .iter()
            .any(|x| x.get("code").and_then(Value::as_str) == Some(code))
            .then(|| c.get("valueQuantity")?.get("value").map(|v| v.to_string()))
            .flatten()
    })
}

/// The value an item shows: a measurement with its unit, a blood pressure, an answer, a status.
pub fn value_of(r: &Value) -> String {
    if let (Some(s), Some(d)) = (component_value(r, "8480-6"), component_value(r, "8462-4")) {
        let unit = at(r, "component.valueQuantity.unit")
            .and_then(Value::as_str)
            .unwrap_or("mmHg");
        return format!("{s}/{d} {unit}");
    }
    if let Some(q) = r.get("valueQuantity").and_then(quantity_text) {
        return q;
    }
    if let Some(t) = text_of(r.get("valueCodeableConcept")) {
        return t;
    }
    if let Some(s) = r.get("valueString").and_then(Value::as_str) {
        return s.to_string();
    }
    let status = r
        .get("clinicalStatus")
        .and_then(|c| text_of(Some(c)))
        .or_else(|| r.get("status").and_then(Value::as_str).map(str::to_string))
        .or_else(|| {
            r.get("lifecycleStatus")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    status.unwrap_or_default()
}

/// A date for people: the day, with the time (UTC, which pages say) when it is not midnight.
pub fn date_text(t: Timestamp) -> String {
    let s = t.to_rfc3339();
    match (s.get(0..10), s.get(10..19), s.get(11..16)) {
        (Some(day), Some("T00:00:00"), _) => day.to_string(),
        (Some(day), _, Some(time)) => format!("{day} {time}"),
        _ => s,
    }
}

pub fn summarize(item: &Item) -> Summary {
    let dt = registry().get(&item.meta.data_type);
    let type_name = dt.map_or_else(|| item.meta.data_type.clone(), |d| d.name.to_string());
    let resource: Value = item
        .body
        .as_deref()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    let mut title = title_of(&resource).unwrap_or_default();
    if title.trim().is_empty() {
        title = type_name.clone();
    }
    Summary {
        id: item.meta.id.to_string(),
        title,
        value: value_of(&resource),
        date: date_text(item.meta.effective),
        type_name,
        deleted: item.meta.state == ItemState::Deleted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_read_as_a_line() {
        let bp = json!({"resourceType": "Observation", "code": {"text": "Blood pressure"}, "component": [
            {"code": {"coding": [{"code": "8480-6"}]}, "valueQuantity": {"value": 120, "unit": "mmHg"}},
            {"code": {"coding": [{"code": "8462-4"}]}, "valueQuantity": {"value": 80, "unit": "mmHg"}}]});
        assert_eq!(value_of(&bp), "120/80 mmHg");
        assert_eq!(title_of(&bp).unwrap(), "Blood pressure");
        let med = json!({"resourceType": "MedicationStatement", "status": "active",
            "medicationCodeableConcept": {"coding": [{"display": "Metformin 500 mg"}]}});
        assert_eq!(title_of(&med).unwrap(), "Metformin 500 mg");
        assert_eq!(value_of(&med), "active");
        let p = json!({"resourceType": "RelatedPerson", "name": [{"given": ["Ada"], "family": "Lovelace"}]});
        assert_eq!(title_of(&p).unwrap(), "Ada Lovelace");
        assert_eq!(date_text(Timestamp(0)), "1970-01-01");
        let w = json!({"resourceType": "Observation", "valueQuantity": {"extension": [{"url": ENTERED_QUANTITY,
            "valueQuantity": {"value": 46.3, "unit": "lb", "code": "[lb_av]"}}], "value": 21, "unit": "kg"}});
        assert_eq!(value_of(&w), "21 kg (46.3 lb)");
    }
}
