//! Codes: the code systems the catalogue uses, walking simple FHIRPath-like paths through a
//! resource's JSON, reading codings (FHIR R4 CodeableConcept and Coding), and each resource
//! type's primary code element ([`primary_codes`]).

use serde_json::Value;

pub const LOINC: &str = "http://loinc.org";
pub const SNOMED: &str = "http://snomed.info/sct";
pub const UCUM: &str = "http://unitsofmeasure.org";
pub const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
/// HealthVault's vocabulary system as used by microsoft/healthvault-fhir-library.
pub const HEALTHVAULT_VOCAB: &str = "http://healthvault.com/vocabularies/";
/// HealthVault's thing-type-name vocabulary as used by microsoft/healthvault-fhir-library.
pub const HEALTHVAULT_THING_TYPES: &str = "http://healthvault.com/fhir/stu3/ValueSet/wc/thing-type-names";
/// Hearth's own tag system (in `meta.tag`), e.g. `personal-picture` on a Media resource.
pub const HEARTH_TAG: &str = "urn:hearth:tag";

/// The canonical URI of a code system written in another accepted form: LOINC, SNOMED CT and
/// UCUM by their HL7 OIDs, and a trailing `/` on `http://loinc.org/`. Other systems unchanged.
pub fn canonical_system(system: &str) -> &str {
    match system {
        "urn:oid:2.16.840.1.113883.6.1" | "http://loinc.org/" => LOINC,
        "urn:oid:2.16.840.1.113883.6.96" | "http://snomed.info/sct/" => SNOMED,
        "urn:oid:2.16.840.1.113883.6.8" => UCUM,
        s => s,
    }
}

/// Calls `f` with every value at `path` (dot-separated field names; arrays on the way and at the
/// end are flattened), e.g. `context.period.start`, `meta.tag`, `type`.
pub(crate) fn for_each_at<'a>(v: &'a Value, path: &str, f: &mut dyn FnMut(&'a Value)) {
    fn walk<'a>(v: &'a Value, mut parts: std::str::Split<'_, char>, f: &mut dyn FnMut(&'a Value)) {
        match v {
            Value::Array(items) => {
                for item in items {
                    walk(item, parts.clone(), f);
                }
            }
            _ => match parts.next() {
                None => f(v),
                Some(field) => {
                    if let Some(next) = v.get(field) {
                        walk(next, parts, f);
                    }
                }
            },
        }
    }
    walk(v, path.split('.'), f);
}

/// The first value at `path` (first array element wherever there is an array).
pub(crate) fn first_at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for field in path.split('.') {
        cur = descend_first(cur)?.get(field)?;
    }
    descend_first(cur)
}

fn descend_first(v: &Value) -> Option<&Value> {
    match v {
        Value::Array(items) => items.first(),
        other => Some(other),
    }
}

/// Calls `f(system, code)` for every coding in `v`: a CodeableConcept's `coding[*]`, or `v`
/// itself if it is a Coding. A missing system is passed as "".
pub(crate) fn for_each_coding<'a>(v: &'a Value, f: &mut dyn FnMut(&'a str, &'a str)) {
    let mut one = |c: &'a Value| {
        if let Some(code) = c.get("code").and_then(Value::as_str) {
            f(c.get("system").and_then(Value::as_str).unwrap_or(""), code);
        }
    };
    match v.get("coding") {
        Some(Value::Array(codings)) => codings.iter().for_each(&mut one),
        _ => one(v),
    }
}

/// True if `v` (a CodeableConcept or Coding) has a coding with this system and code.
pub(crate) fn has_coding(v: &Value, system: &str, code: &str) -> bool {
    let mut found = false;
    for_each_coding(v, &mut |s, c| {
        if c == code && canonical_system(s) == system {
            found = true;
        }
    });
    found
}

/// The path of each resource type's primary code element (relative to the resource).
pub fn primary_code_path(resource_type: &str) -> Option<&'static str> {
    Some(match resource_type {
        "Observation" | "Condition" | "Procedure" | "AllergyIntolerance" | "DiagnosticReport"
        | "Medication" | "ServiceRequest" | "Task" | "ClinicalImpression" | "RiskAssessment" | "Flag"
        | "List" | "Basic" | "DetectedIssue" | "Questionnaire" | "ChargeItem" => "code",
        "Immunization" | "ImmunizationRecommendation" => "vaccineCode",
        "MedicationRequest" | "MedicationStatement" | "MedicationAdministration" | "MedicationDispense" => {
            "medicationCodeableConcept"
        }
        "Encounter"
        | "DocumentReference"
        | "Claim"
        | "ExplanationOfBenefit"
        | "Coverage"
        | "Device"
        | "Composition"
        | "Media"
        | "Specimen"
        | "EpisodeOfCare"
        | "Location"
        | "HealthcareService"
        | "Organization"
        | "Account" => "type",
        "CarePlan" | "CareTeam" | "Consent" | "Communication" | "CommunicationRequest" => "category",
        "Goal" => "description",
        "ImagingStudy" => "procedureCode",
        "FamilyMemberHistory" => "condition.code",
        "RelatedPerson" => "relationship",
        "Appointment" => "serviceType",
        "AdverseEvent" => "event",
        "DeviceRequest" => "codeCodeableConcept",
        _ => return None,
    })
}

/// Codings of the resource's primary code element as `system|code` (system may be empty:
/// `|code`), in document order without duplicates. Systems are reported as written.
pub fn primary_codes(resource: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let Some(path) = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .and_then(primary_code_path)
    else {
        return out;
    };
    for_each_at(resource, path, &mut |v| {
        for_each_coding(v, &mut |system, code| {
            let s = format!("{system}|{code}");
            if !out.contains(&s) {
                out.push(s);
            }
        })
    });
    out
}
