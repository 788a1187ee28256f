//! The record profile's parts beyond the Patient form: emergency contacts and the blood type.
//!
//! - Emergency contacts are the Patient's `contact` elements (FHIR R4 Patient.contact): a name
//!   (`name.text`), a relationship (`relationship[0]`: HL7 v2-0131 `C` "Emergency Contact" plus
//!   the words typed, e.g. "Mother") and a phone (`telecom` with system `phone`). Contacts are
//!   matched by position; what the form does not show of each is kept.
//! - The blood type is an Observation, LOINC 882-1 "ABO and Rh group [Type] in Blood", category
//!   `laboratory`, with a SNOMED CT blood group as `valueCodeableConcept` (as US Core and lab
//!   feeds send it), so it is an ordinary lab result apps can read; the newest one counts.

use hearth_domain::ItemId;
use hearth_domain::datatypes::{LOINC, OBSERVATION_CATEGORY};
use serde_json::{Value, json};

use super::input::{Choice, scalar_text};
use super::path;
use super::vocab::{BLOOD_GROUPS, CONTACT_ROLE, SNOMED};

/// LOINC 882-1, ABO and Rh group.
pub const BLOOD_TYPE_CODE: &str = "882-1";

/// The choices of blood type.
pub fn blood_groups() -> &'static [Choice] {
    BLOOD_GROUPS
}

/// One emergency contact as the profile form shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContactRow {
    pub name: String,
    pub relationship: String,
    pub phone: String,
}

impl ContactRow {
    pub fn is_empty(&self) -> bool {
        self.name.trim().is_empty() && self.relationship.trim().is_empty() && self.phone.trim().is_empty()
    }
}

fn contact_name(c: &Value) -> String {
    if let Some(t) = c.get("name").and_then(|n| n.get("text")).and_then(Value::as_str) {
        return t.to_string();
    }
    let n = c.get("name");
    let given: Vec<String> = n
        .and_then(|n| n.get("given"))
        .and_then(Value::as_array)
        .map(|g| g.iter().map(scalar_text).collect())
        .unwrap_or_default();
    let family = n
        .and_then(|n| n.get("family"))
        .map(scalar_text)
        .unwrap_or_default();
    given
        .into_iter()
        .chain(std::iter::once(family))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn contact_relationship(c: &Value) -> String {
    let Some(rels) = c.get("relationship").and_then(Value::as_array) else {
        return String::new();
    };
    rels.iter()
        .find_map(|r| r.get("text").and_then(Value::as_str).map(str::to_string))
        .or_else(|| {
            rels.iter().find_map(|r| {
                r.get("coding")?
                    .as_array()?
                    .iter()
                    .find_map(|c| c.get("display").and_then(Value::as_str).map(str::to_string))
            })
        })
        .unwrap_or_default()
}

fn show(c: &Value) -> ContactRow {
    ContactRow {
        name: contact_name(c),
        relationship: contact_relationship(c),
        phone: path::get(c, "telecom[system=phone].value")
            .map(scalar_text)
            .unwrap_or_default(),
    }
}

/// The Patient's contacts as rows.
pub fn contacts(patient: &Value) -> Vec<ContactRow> {
    patient
        .get("contact")
        .and_then(Value::as_array)
        .map(|cs| cs.iter().map(show).collect())
        .unwrap_or_default()
}

/// Merges `rows` into the Patient's contacts by position: an empty row removes its contact, a
/// changed field replaces only its element.
pub fn set_contacts(patient: &mut Value, rows: &[ContactRow]) {
    let old: Vec<Value> = patient
        .get("contact")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if row.is_empty() {
            continue;
        }
        let mut c = old.get(i).cloned().unwrap_or_else(|| json!({}));
        let was = show(&c);
        if row.name.trim() != was.name {
            path::set(&mut c, "name", Some(json!({"text": row.name.trim()})));
            if row.name.trim().is_empty() {
                path::set(&mut c, "name", None);
            }
        }
        if row.relationship.trim() != was.relationship {
            let mut rel =
                json!({"coding": [{"system": CONTACT_ROLE, "code": "C", "display": "Emergency Contact"}]});
            if !row.relationship.trim().is_empty() {
                rel["text"] = json!(row.relationship.trim());
            }
            path::set(&mut c, "relationship", Some(json!([rel])));
        }
        if row.phone.trim() != was.phone {
            let v = (!row.phone.trim().is_empty()).then(|| json!(row.phone.trim()));
            path::set(&mut c, "telecom[system=phone].value", v);
        }
        if c.as_object().is_some_and(|o| !o.is_empty()) {
            out.push(c);
        }
    }
    match patient.as_object_mut() {
        Some(obj) if out.is_empty() => {
            obj.shift_remove("contact");
        }
        Some(obj) => {
            obj.insert("contact".into(), Value::Array(out));
        }
        None => {}
    }
}

/// The SNOMED CT blood group a blood-type Observation holds.
pub fn blood_type_of(obs: &Value) -> Option<String> {
    path::get(obs, &format!("valueCodeableConcept.coding[system={SNOMED}].code"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A blood-type Observation saying `code` (a [`blood_groups`] code) as of `date` (FHIR
/// dateTime), merged into `base` when there is one.
pub fn blood_type_resource(base: Option<&Value>, code: &str, date: &str, patient: ItemId) -> Option<Value> {
    let choice = BLOOD_GROUPS.iter().find(|c| c.code == code)?;
    let mut r = base.cloned().unwrap_or_else(|| {
        json!({
            "resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory", "display": "Laboratory"}]}],
            "code": {"coding": [{"system": LOINC, "code": BLOOD_TYPE_CODE, "display": "ABO and Rh group [Type] in Blood"}], "text": "Blood type"},
            "subject": {"reference": format!("Patient/{patient}")},
        })
    });
    r["effectiveDateTime"] = json!(date);
    r["valueCodeableConcept"] = json!({
        "coding": [{"system": SNOMED, "code": choice.code, "display": format!("Blood group {}", choice.label)}],
        "text": choice.label,
    });
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_merge_by_position_and_keep_the_rest() {
        let mut p = json!({"resourceType": "Patient", "contact": [
            {"name": {"given": ["Ada"], "family": "Lovelace"}, "gender": "female",
             "telecom": [{"system": "email", "value": "ada@example.org"}]},
            {"name": {"text": "Bob"}}
        ]});
        let mut rows = contacts(&p);
        assert_eq!(rows[0].name, "Ada Lovelace");
        rows[0].phone = "+44 1".into();
        rows[1] = ContactRow::default();
        rows.push(ContactRow {
            name: "Cy".into(),
            relationship: "Brother".into(),
            phone: String::new(),
        });
        set_contacts(&mut p, &rows);
        let cs = p["contact"].as_array().unwrap();
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0]["gender"], "female");
        assert_eq!(cs[0]["name"]["family"], "Lovelace");
        assert_eq!(path::get(&cs[0], "telecom[system=phone].value").unwrap(), "+44 1");
        assert_eq!(cs[1]["relationship"][0]["text"], "Brother");
        assert_eq!(contacts(&p)[1].relationship, "Brother");
        set_contacts(&mut p, &[]);
        assert!(p.get("contact").is_none());
    }

    #[test]
    fn a_blood_type_is_a_coded_lab_result() {
        let r = blood_type_resource(None, "278149003", "2026-01-01", ItemId::new()).unwrap();
        assert_eq!(blood_type_of(&r).as_deref(), Some("278149003"));
        assert_eq!(
            hearth_domain::datatypes::registry().classify(&r).key,
            "lab-result"
        );
        assert!(hearth_fhir::validate_resource(&r).is_empty());
        assert!(blood_type_resource(None, "nope", "2026", ItemId::new()).is_none());
    }
}
