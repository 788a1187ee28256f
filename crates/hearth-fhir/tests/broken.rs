//! Validation of deliberately broken (and tricky but valid) resources.

use hearth_fhir::{Issue, IssueCode, Severity, operation_outcome, validate_resource};
use serde_json::{Value, json};

fn errors(v: &Value) -> Vec<Issue> {
    validate_resource(v)
        .into_iter()
        .filter(|i| i.severity == Severity::Error)
        .collect()
}

fn one_error(v: Value) -> Issue {
    let errs = errors(&v);
    assert_eq!(errs.len(), 1, "expected exactly one error, got {errs:#?}");
    errs.into_iter().next().unwrap()
}

fn assert_valid(v: Value) {
    let errs = errors(&v);
    assert!(errs.is_empty(), "unexpected errors: {errs:#?}");
}

fn observation() -> Value {
    json!({
        "resourceType": "Observation",
        "id": "obs-1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}], "text": "Heart rate"},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2020-01-01T10:00:00Z",
        "valueQuantity": {"value": 72.50, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}
    })
}

#[test]
fn valid_observation_and_patient() {
    assert_valid(observation());
    assert_valid(json!({
        "resourceType": "Patient",
        "name": [{"family": "Doe", "given": ["Jane", "Q"]}],
        "gender": "female",
        "birthDate": "1980-02-29",
        "_birthDate": {"extension": [{
            "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
            "valueDateTime": "1980-02-29T10:11:12+01:00"
        }]}
    }));
}

#[test]
fn decimal_keeps_arbitrary_precision() {
    let v: Value = serde_json::from_str(
        r#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":72.50}}"#,
    )
    .unwrap();
    assert_eq!(v["valueQuantity"]["value"].to_string(), "72.50");
    assert_valid(v);
}

#[test]
fn unknown_element() {
    let mut o = observation();
    let q = o.as_object_mut().unwrap().shift_remove("valueQuantity").unwrap();
    o["valueQantity"] = q;
    let e = one_error(o);
    assert_eq!(e.code, IssueCode::Structure);
    assert_eq!(e.path, "Observation.valueQantity");
    assert_eq!(e.message, "unknown element \"valueQantity\"");
}

#[test]
fn choice_types() {
    let mut o = observation();
    o.as_object_mut().unwrap().shift_remove("valueQuantity");
    o["valueString"] = json!("normal");
    assert_valid(o.clone());
    o["valueFoo"] = json!("x");
    let e = one_error(o.clone());
    assert_eq!(
        (e.path.as_str(), e.message.as_str()),
        ("Observation.valueFoo", "unknown element \"valueFoo\"")
    );
    o.as_object_mut().unwrap().shift_remove("valueFoo");
    o["valueBoolean"] = json!(true);
    let e = one_error(o);
    assert_eq!(e.path, "Observation.valueBoolean");
    assert!(e.message.contains("value[x]"), "{}", e.message);
}

#[test]
fn wrong_json_type() {
    let e = one_error(json!({"resourceType": "Patient", "active": "yes"}));
    assert_eq!(e.path, "Patient.active");
    assert_eq!(e.message, "expected a boolean but found a string");
    let e = one_error(json!({"resourceType": "Patient", "birthDate": 1980}));
    assert_eq!(e.message, "expected a string but found a number");
    let e = one_error(json!({"resourceType": "Patient", "maritalStatus": "M"}));
    assert_eq!(e.path, "Patient.maritalStatus");
    assert_eq!(
        e.message,
        "expected an object (CodeableConcept) but found a string"
    );
    let e = one_error(json!({"resourceType": "Patient", "multipleBirthInteger": 1.5}));
    assert_eq!(e.code, IssueCode::Value);
}

#[test]
fn array_cardinality() {
    let e = one_error(json!({"resourceType": "Patient", "gender": ["male"]}));
    assert_eq!(e.path, "Patient.gender");
    assert_eq!(
        e.message,
        "element \"gender\" has max cardinality 1 but is an array"
    );
    let e = one_error(json!({"resourceType": "Patient", "name": {"family": "Doe"}}));
    assert_eq!(e.path, "Patient.name");
    assert!(e.message.contains("must be an array"), "{}", e.message);
    let e = one_error(json!({"resourceType": "Patient", "name": []}));
    assert_eq!(e.message, "empty array is not allowed");
}

#[test]
fn missing_required_element() {
    let mut o = observation();
    o.as_object_mut().unwrap().shift_remove("status");
    let e = one_error(o);
    assert_eq!(e.code, IssueCode::Required);
    assert_eq!(e.path, "Observation");
    assert_eq!(e.message, "missing required element \"status\"");
    // Nested: Observation.component.code is 1..1.
    let mut o = observation();
    o["component"] = json!([{"code": {"text": "a"}}, {"valueString": "b"}]);
    let e = one_error(o);
    assert_eq!(
        (e.path.as_str(), e.message.as_str()),
        ("Observation.component[1]", "missing required element \"code\"")
    );
    // A primitive counts as present when only `_name` is given.
    let mut o = observation();
    o.as_object_mut().unwrap().shift_remove("status");
    o["_status"] = json!({"extension": [{"url": "http://example.org/x", "valueString": "unknown"}]});
    assert_valid(o);
}

#[test]
fn required_binding_codes() {
    let e = one_error(json!({"resourceType": "Patient", "gender": "malee"}));
    assert_eq!(e.code, IssueCode::CodeInvalid);
    assert_eq!(e.path, "Patient.gender");
    assert_eq!(
        e.message,
        "value \"malee\" is not in the required value set http://hl7.org/fhir/ValueSet/administrative-gender"
    );
    let mut o = observation();
    o["status"] = json!("bogus");
    let e = one_error(o);
    assert_eq!(e.path, "Observation.status");
    assert!(
        e.message
            .contains("http://hl7.org/fhir/ValueSet/observation-status")
    );
    // CodeableConcept under a required binding, coding from the bound system.
    let e = one_error(json!({
        "resourceType": "AllergyIntolerance",
        "patient": {"reference": "Patient/1"},
        "clinicalStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "gone"}]}
    }));
    assert_eq!(e.path, "AllergyIntolerance.clinicalStatus.coding[0].code");
    assert_eq!(e.code, IssueCode::CodeInvalid);
}

#[test]
fn bad_primitive_values() {
    let e = one_error(json!({"resourceType": "Patient", "birthDate": "2020-13-45"}));
    assert_eq!(e.code, IssueCode::Value);
    assert_eq!(e.path, "Patient.birthDate");
    assert_eq!(e.message, "\"2020-13-45\" is not a valid date");
    let e = one_error(json!({"resourceType": "Patient", "name": [{"family": ""}]}));
    assert_eq!(e.path, "Patient.name[0].family");
    assert_eq!(e.message, "empty string is not a valid string");
    let e = one_error(json!({"resourceType": "Patient", "id": "a_b"}));
    assert_eq!(e.path, "Patient.id");
    let e = one_error(json!({"resourceType": "Patient", "name": [{}]}));
    assert_eq!(
        (e.path.as_str(), e.message.as_str()),
        ("Patient.name[0]", "empty object is not allowed")
    );
}

#[test]
fn primitive_extensions_and_aligned_arrays() {
    assert_valid(json!({
        "resourceType": "Patient",
        "name": [{"given": ["A", null], "_given": [null, {"extension": [{"url": "http://x.org/e", "valueCode": "c"}]}]}]
    }));
    let e = one_error(json!({"resourceType": "Patient", "name": [{"given": ["A", null]}]}));
    assert_eq!(e.path, "Patient.name[0].given[1]");
    let e = one_error(json!({"resourceType": "Patient", "_birthDate": {"foo": 1}}));
    assert_eq!(
        (e.path.as_str(), e.message.as_str()),
        ("Patient._birthDate.foo", "unknown element \"foo\"")
    );
    let e = one_error(json!({"resourceType": "Patient", "_name": {"id": "x"}}));
    assert_eq!(e.message, "unknown element \"_name\"");
    let e = one_error(json!({"resourceType": "Patient", "extension": [{"valueString": "x"}]}));
    assert_eq!(
        (e.path.as_str(), e.message.as_str()),
        ("Patient.extension[0]", "missing required element \"url\"")
    );
}

#[test]
fn contained_resources() {
    let mut o = observation();
    o["contained"] = json!([{"resourceType": "Patient", "id": "p", "gender": "malee", "foo": 1}]);
    let errs = errors(&o);
    let got: Vec<(&str, &str)> = errs
        .iter()
        .map(|e| (e.path.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "Observation.contained[0].gender",
                "value \"malee\" is not in the required value set http://hl7.org/fhir/ValueSet/administrative-gender"
            ),
            ("Observation.contained[0].foo", "unknown element \"foo\""),
        ]
    );
    o["contained"] = json!([{"resourceType": "Nope", "id": "x"}]);
    let e = one_error(o.clone());
    assert_eq!(
        (e.path.as_str(), e.message.as_str()),
        (
            "Observation.contained[0].resourceType",
            "unknown resource type \"Nope\""
        )
    );
    o["contained"] = json!([{"id": "x"}]);
    assert_eq!(one_error(o).code, IssueCode::Required);
}

#[test]
fn resource_type_checks() {
    let e = one_error(json!({"id": "x"}));
    assert_eq!(e.message, "missing required element \"resourceType\"");
    let e = one_error(json!({"resourceType": "Patientt"}));
    assert_eq!(e.code, IssueCode::Invalid);
    assert_eq!(e.message, "unknown resource type \"Patientt\"");
    // resourceType only at resource roots.
    let e =
        one_error(json!({"resourceType": "Patient", "name": [{"resourceType": "HumanName", "family": "x"}]}));
    assert_eq!(e.path, "Patient.name[0].resourceType");
    assert!(hearth_fhir::is_resource_type("Observation"));
    assert!(!hearth_fhir::is_resource_type("DomainResource"));
    assert!(!hearth_fhir::is_resource_type("HumanName"));
}

#[test]
fn content_reference_recursion() {
    let e = one_error(json!({
        "resourceType": "Questionnaire", "status": "active",
        "item": [{"linkId": "1", "type": "group", "item": [{"linkId": "1.1", "type": "strin"}]}]
    }));
    assert_eq!(e.path, "Questionnaire.item[0].item[0].type");
    assert_eq!(e.code, IssueCode::CodeInvalid);
}

#[test]
fn outcome_and_prefix() {
    let issues = validate_resource(&json!({"resourceType": "Patient", "gender": "malee"}));
    let prefixed: Vec<Issue> = issues
        .iter()
        .map(|i| i.prefixed("Bundle.entry[3].resource."))
        .collect();
    assert_eq!(prefixed[0].path, "Bundle.entry[3].resource.Patient.gender");
    let oo = operation_outcome(&prefixed);
    assert_eq!(oo["resourceType"], "OperationOutcome");
    assert_eq!(oo["issue"][0]["severity"], "error");
    assert_eq!(oo["issue"][0]["code"], "code-invalid");
    assert_eq!(
        oo["issue"][0]["expression"][0],
        "Bundle.entry[3].resource.Patient.gender"
    );
    assert!(
        errors(&oo).is_empty(),
        "the OperationOutcome itself must be valid"
    );
    assert!(errors(&operation_outcome(&[])).is_empty());
}
