//! From a submitted FHIR resource to the content of an item.
//!
//! Every resource is checked as FHIR R4 4.0.1 (structure, data types, cardinality, required
//! bindings: `hearth_fhir::validate_resource`), classified into a data type, checked against that
//! type's own rules (a weight is a mass in a UCUM unit…), given its item id, stripped of the
//! `meta` fields the envelope owns (`versionId`, `lastUpdated`), and its references collected so
//! the caller can check they resolve inside the record.
//! https://hl7.org/fhir/R4/validation.html, https://hl7.org/fhir/R4/references.html

use hearth_domain::datatypes::{self, registry};
use hearth_domain::{ItemContent, ItemId, Timestamp};
use serde_json::Value;

use crate::ValidationIssue;

/// A local reference found in a resource: `Type/id` where `id` names an item of the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalRef {
    pub path: String,
    pub resource_type: String,
    pub id: ItemId,
}

#[derive(Clone, Debug)]
pub struct Prepared {
    pub content: ItemContent,
    pub refs: Vec<LocalRef>,
}

/// The envelope fields a writer may set alongside the resource.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EnvelopeFields {
    pub flags: hearth_domain::ItemFlags,
    pub source: Option<String>,
    pub note: Option<String>,
    pub tags: Vec<String>,
    pub links: Vec<hearth_domain::ItemLink>,
    pub blobs: Vec<hearth_domain::BlobRef>,
    /// Overrides the end date derived from the resource.
    pub end_date: Option<Timestamp>,
    pub client_id: Option<String>,
}

pub const MAX_CLIENT_ID: usize = 255;

/// Validates and prepares `resource` as item `id`. `now` is the fallback effective date.
pub fn prepare(
    mut resource: Value,
    id: ItemId,
    env: &EnvelopeFields,
    now: Timestamp,
) -> Result<Prepared, Vec<ValidationIssue>> {
    let Some(obj) = resource.as_object() else {
        return Err(vec![ValidationIssue::error(
            "structure",
            "",
            "a resource must be a JSON object",
        )]);
    };
    let Some(rt) = obj.get("resourceType").and_then(Value::as_str).map(str::to_owned) else {
        return Err(vec![ValidationIssue::error(
            "required",
            "",
            "missing \"resourceType\"",
        )]);
    };
    if let Some(cid) = &env.client_id
        && (cid.is_empty() || cid.len() > MAX_CLIENT_ID)
    {
        return Err(vec![ValidationIssue::error(
            "value",
            "client-id",
            format!("a client id must have 1 to {MAX_CLIENT_ID} characters"),
        )]);
    }
    // The envelope owns the id and the version metadata; set them before validating so an
    // incoming id of another server's form is not held against the writer.
    set_id(&mut resource, id);
    strip_envelope_meta(&mut resource);

    let mut issues: Vec<ValidationIssue> = hearth_fhir::validate_resource(&resource)
        .into_iter()
        .map(|i| ValidationIssue {
            code: i.code.code(),
            path: i.path,
            message: i.message,
            warning: matches!(i.severity, hearth_fhir::Severity::Warning),
        })
        .collect();
    let class = registry().classify(&resource);
    if let Some(dt) = class.named {
        issues.extend(
            datatypes::check_rules(dt, &resource)
                .into_iter()
                .map(|r| ValidationIssue::error("business-rule", r.path, r.message)),
        );
    }
    let mut refs = Vec::new();
    for site in hearth_fhir::references(&resource) {
        match parse_local_ref(&site.reference) {
            RefKind::Local(resource_type, item) => refs.push(LocalRef {
                path: site.path,
                resource_type,
                id: item,
            }),
            RefKind::External | RefKind::Contained => {}
            RefKind::Unresolvable(why) => issues.push(ValidationIssue::error(
                "not-found",
                site.path,
                format!("reference {:?} {why}", site.reference),
            )),
        }
    }
    if issues.iter().any(|i| !i.warning) {
        issues.retain(|i| !i.warning);
        return Err(issues);
    }
    let content = ItemContent {
        resource_type: rt,
        data_type: class.key,
        effective: datatypes::effective_date(&resource).unwrap_or(now),
        end_date: env.end_date.or_else(|| datatypes::end_date(&resource)),
        codes: datatypes::primary_codes(&resource),
        body: serde_json::to_string(&resource).map_err(|e| {
            vec![ValidationIssue::error(
                "invalid",
                "",
                format!("resource cannot be serialised: {e}"),
            )]
        })?,
        flags: env.flags,
        source: env.source.clone(),
        note: env.note.clone(),
        tags: env.tags.clone(),
        links: env.links.clone(),
        blobs: env.blobs.clone(),
        client_id: env.client_id.clone(),
    };
    Ok(Prepared { content, refs })
}

/// Puts `"id"` right after `"resourceType"`, replacing any id the writer sent.
fn set_id(resource: &mut Value, id: ItemId) {
    let Some(obj) = resource.as_object_mut() else {
        return;
    };
    let id = Value::String(id.to_string());
    let rt_first = obj.keys().next().map(String::as_str) == Some("resourceType");
    let id_second = obj.keys().nth(1).map(String::as_str) == Some("id");
    if rt_first && id_second {
        obj.insert("id".into(), id);
        return;
    }
    obj.shift_remove("id");
    if let Some(rt) = obj.shift_remove("resourceType") {
        obj.shift_insert(0, "resourceType".into(), rt);
    }
    obj.shift_insert(1, "id".into(), id);
}

fn strip_envelope_meta(resource: &mut Value) {
    let Some(obj) = resource.as_object_mut() else {
        return;
    };
    let empty = match obj.get_mut("meta").and_then(Value::as_object_mut) {
        Some(meta) => {
            meta.shift_remove("versionId");
            meta.shift_remove("lastUpdated");
            meta.is_empty()
        }
        None => false,
    };
    if empty {
        obj.shift_remove("meta");
    }
}

enum RefKind {
    Local(String, ItemId),
    External,
    Contained,
    Unresolvable(&'static str),
}

fn parse_local_ref(r: &str) -> RefKind {
    if r.starts_with('#') {
        return RefKind::Contained;
    }
    if r.starts_with("urn:uuid:") || r.starts_with("urn:oid:") {
        return RefKind::Unresolvable("was not resolved to an item of this record");
    }
    if r.contains("://") {
        return RefKind::External;
    }
    let mut parts = r.split('/');
    let (Some(rt), Some(id)) = (parts.next(), parts.next()) else {
        return RefKind::Unresolvable("is not of the form Type/id");
    };
    let rest: Vec<&str> = parts.collect();
    let history_ok = rest.is_empty() || (rest.len() == 2 && rest[0] == "_history");
    if !hearth_fhir::is_resource_type(rt) || !history_ok {
        return RefKind::Unresolvable("is not of the form Type/id");
    }
    match id.parse::<ItemId>() {
        Ok(item) => RefKind::Local(rt.to_string(), item),
        Err(_) => RefKind::Unresolvable("does not resolve inside this record"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn weight(v: &str) -> Value {
        serde_json::from_str(&format!(
            r#"{{"resourceType":"Observation","id":"x","meta":{{"versionId":"9","lastUpdated":"2020-01-01T00:00:00Z","source":"s"}},"status":"final","category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}}]}}],"code":{{"coding":[{{"system":"http://loinc.org","code":"29463-7"}}]}},"effectiveDateTime":"2024-03-01T08:00:00Z","valueQuantity":{{"value":{v},"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn a_weight_is_prepared_exactly() {
        let id = ItemId::new();
        let p = prepare(weight("72.50"), id, &EnvelopeFields::default(), Timestamp(0)).unwrap();
        assert_eq!(p.content.data_type, "weight");
        assert!(p.content.body.contains("\"value\":72.50"), "{}", p.content.body);
        assert!(p.content.body.starts_with(&format!(
            r#"{{"resourceType":"Observation","id":"{id}","meta":{{"source":"s"}}"#
        )));
        assert_eq!(
            p.content.effective,
            hearth_domain::datatypes::parse_fhir_datetime("2024-03-01T08:00:00Z").unwrap()
        );
        assert_eq!(p.content.codes, vec!["http://loinc.org|29463-7".to_string()]);
    }

    #[test]
    fn bad_input_names_the_path() {
        let mut w = weight("72.5");
        w["valueQuantity"]["code"] = json!("cm");
        w["valueQuantity"]["unit"] = json!("cm");
        let issues = prepare(w, ItemId::new(), &EnvelopeFields::default(), Timestamp(0)).unwrap_err();
        assert!(
            issues.iter().any(|i| i.path.contains("valueQuantity.code")),
            "{issues:?}"
        );

        let mut w = weight("72.5");
        w["statuss"] = json!("final");
        let issues = prepare(w, ItemId::new(), &EnvelopeFields::default(), Timestamp(0)).unwrap_err();
        assert!(issues.iter().any(|i| i.message.contains("statuss")), "{issues:?}");

        let mut w = weight("72.5");
        w["subject"] = json!({"reference": "urn:uuid:0f4c0a0e-7c53-4e8b-9f6c-2d3c0d9a1b11"});
        let issues = prepare(w, ItemId::new(), &EnvelopeFields::default(), Timestamp(0)).unwrap_err();
        assert_eq!(issues[0].path, "Observation.subject", "{issues:?}");
    }

    #[test]
    fn local_references_are_collected() {
        let pid = ItemId::new();
        let mut w = weight("70");
        w["subject"] = json!({"reference": format!("Patient/{pid}")});
        w["performer"] = json!([{"reference": "https://example.org/fhir/Practitioner/1"}]);
        let p = prepare(w, ItemId::new(), &EnvelopeFields::default(), Timestamp(0)).unwrap();
        assert_eq!(p.refs.len(), 1);
        assert_eq!((p.refs[0].resource_type.as_str(), p.refs[0].id), ("Patient", pid));
    }
}
