//! Number, quantity, token, string, reference and uri search, and the
//! `:missing`, `:not`, `:exact`, `:contains`, `:text`, `:of-type`,
//! `:identifier`, `:[type]`, `:below` and `:above` modifiers
//! (<https://hl7.org/fhir/R4/search.html>).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hearth_fhir::search::{Criteria, Handling, ParseOptions, parse};
use serde_json::{Value, json};

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_735_689_600)
}

fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn criteria(ty: &str, query: &str) -> Criteria {
    let opts = ParseOptions::new(Handling::Strict, now());
    parse(ty, &pairs(query), &opts).unwrap_or_else(|e| panic!("{query}: {e:?}"))
}

fn matches(query: &str, r: &Value) -> bool {
    criteria(r["resourceType"].as_str().unwrap(), query).matches(r)
}

fn rejects(ty: &str, query: &str) -> String {
    let opts = ParseOptions::new(Handling::Strict, now());
    match parse(ty, &pairs(query), &opts) {
        Ok(_) => panic!("{query} was accepted"),
        Err(e) => e.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; "),
    }
}

fn risk(p: Value) -> Value {
    let key = if p.is_object() {
        "probabilityRange"
    } else {
        "probabilityDecimal"
    };
    json!({"resourceType": "RiskAssessment", "id": "r", "status": "final",
        "subject": {"reference": "Patient/p"}, "prediction": [{key: p}]})
}

fn number(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn number_precision_and_prefixes() {
    let r = |t: &str| risk(number(t));
    // 100 = [99.5, 100.5)
    for (v, m) in [
        ("99.5", true),
        ("100", true),
        ("100.4999", true),
        ("100.5", false),
        ("99.4999", false),
    ] {
        assert_eq!(matches("probability=100", &r(v)), m, "100 vs {v}");
        assert_eq!(matches("probability=ne100", &r(v)), !m, "ne100 vs {v}");
    }
    // 100.00 = [99.995, 100.005)
    assert!(matches("probability=100.00", &r("100.004")));
    assert!(!matches("probability=100.00", &r("100.005")));
    assert!(!matches("probability=100.00", &r("99.994")));
    // 1e2: one significant figure, [50, 150).
    assert!(matches("probability=1e2", &r("149")));
    assert!(!matches("probability=1e2", &r("150")));
    // Comparisons ignore precision.
    assert!(matches("probability=gt100", &r("100.1")));
    assert!(!matches("probability=gt100", &r("100")));
    assert!(matches("probability=ge100", &r("100")));
    assert!(!matches("probability=ge100", &r("99.99")));
    assert!(matches("probability=lt100", &r("99.9")));
    assert!(!matches("probability=lt100", &r("100")));
    assert!(matches("probability=le100", &r("100.0")));
    assert!(matches("probability=sa100", &r("100.01")));
    assert!(!matches("probability=sa100", &r("100")));
    assert!(matches("probability=eb100", &r("99")));
    // ap: within 10%.
    assert!(matches("probability=ap100", &r("109.9")));
    assert!(matches("probability=ap100", &r("90")));
    assert!(!matches("probability=ap100", &r("110.1")));
    // Exact decimal arithmetic, beyond f64.
    assert!(matches("probability=0.1", &r("0.14999999999999999999")));
    assert!(!matches("probability=0.1", &r("0.15000000000000000000")));
    assert!(matches(
        "probability=gt12345678901234567890",
        &r("12345678901234567891")
    ));
    // Range targets.
    let range = risk(json!({"low": {"value": 10}, "high": {"value": 20}}));
    assert!(matches("probability=lt15", &range));
    assert!(matches("probability=gt15", &range));
    assert!(!matches("probability=gt25", &range));
    assert!(!matches("probability=eq15", &range));
    assert!(matches("probability=ap19", &range));
    assert!(matches("probability=eb21", &range));
    assert!(matches("probability=sa9.5", &range));
    // OR lists.
    assert!(matches("probability=5,100", &r("100")));
    assert!(rejects("RiskAssessment", "probability=abc").contains("probability"));
    assert!(rejects("RiskAssessment", "probability=zz100").contains("is not a number"));
}

fn obs_qty(q: Value) -> Value {
    json!({"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"}, "valueQuantity": q})
}

const UCUM: &str = "http://unitsofmeasure.org";

#[test]
fn quantity_units_precision_and_prefixes() {
    let mg = obs_qty(json!({"value": 5.4, "unit": "milligram", "system": UCUM, "code": "mg"}));
    assert!(matches(&format!("value-quantity=5.4|{UCUM}|mg"), &mg));
    assert!(!matches(&format!("value-quantity=5.4|{UCUM}|g"), &mg));
    assert!(!matches("value-quantity=5.4|http://other|mg", &mg));
    assert!(matches("value-quantity=5.4||mg", &mg));
    assert!(matches("value-quantity=5.4||milligram", &mg));
    assert!(!matches("value-quantity=5.4||g", &mg));
    assert!(matches("value-quantity=5.4", &mg));
    // Precision of the search value: 5.4 = [5.35, 5.45).
    let q = |v: &str| obs_qty(json!({"value": number(v), "system": UCUM, "code": "mg"}));
    assert!(matches("value-quantity=5.4||mg", &q("5.449")));
    assert!(!matches("value-quantity=5.4||mg", &q("5.45")));
    assert!(!matches("value-quantity=5.40||mg", &q("5.449")));
    assert!(matches(&format!("value-quantity=gt5|{UCUM}|mg"), &q("5.01")));
    assert!(!matches(&format!("value-quantity=lt5|{UCUM}|mg"), &q("5")));
    assert!(matches("value-quantity=le5||mg", &q("5")));
    assert!(matches("value-quantity=ap5||mg", &q("5.4")));
    assert!(!matches("value-quantity=ap5||mg", &q("5.6")));
    // Unit text only.
    let text_unit = obs_qty(json!({"value": 7, "unit": "mmol/L"}));
    assert!(matches("value-quantity=7||mmol/L", &text_unit));
    assert!(!matches(&format!("value-quantity=7|{UCUM}|mmol/L"), &text_unit));
    // A comparator makes the target a half-line.
    let under = obs_qty(json!({"value": 5, "comparator": "<", "system": UCUM, "code": "mg"}));
    assert!(matches("value-quantity=lt4||mg", &under));
    assert!(!matches("value-quantity=gt6||mg", &under));
    assert!(!matches("value-quantity=5||mg", &under));
    // SampledData never matches a value but counts as present.
    let sampled = json!({"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"},
        "valueSampledData": {"origin": {"value": 0}, "period": 1, "dimensions": 1, "data": "1 2"}});
    assert!(!matches("value-quantity=0", &sampled));
    assert!(matches("value-quantity:missing=false", &sampled));
    assert!(matches(
        "value-quantity:missing=true",
        &json!({"resourceType": "Observation", "id": "o"})
    ));
    // Age and Range on Condition.onset.
    let age = json!({"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/p"},
        "onsetAge": {"value": 30, "unit": "yr", "system": UCUM, "code": "a"}});
    assert!(matches(&format!("onset-age=30|{UCUM}|a"), &age));
    assert!(matches("onset-age=ge18||a", &age));
    let range = json!({"resourceType": "Condition", "id": "c", "subject": {"reference": "Patient/p"},
        "onsetRange": {"low": {"value": 20, "system": UCUM, "code": "a"}, "high": {"value": 40, "system": UCUM, "code": "a"}}});
    assert!(matches("onset-age=lt25||a", &range));
    assert!(!matches("onset-age=gt45||a", &range));
    // Duration (Encounter.length) and Money (Invoice.totalNet).
    let enc = json!({"resourceType": "Encounter", "id": "e", "status": "finished", "class": {"code": "AMB"},
        "length": {"value": 45, "unit": "min", "system": UCUM, "code": "min"}});
    assert!(matches("length=gt30||min", &enc));
    let invoice = json!({"resourceType": "Invoice", "id": "i", "status": "issued",
        "totalNet": {"value": 99.99, "currency": "EUR"}});
    assert!(matches("totalnet=99.99|urn:iso:std:iso:4217|EUR", &invoice));
    assert!(matches("totalnet=lt100||EUR", &invoice));
    assert!(!matches("totalnet=99.99||USD", &invoice));
    // Syntax.
    assert!(
        rejects("Observation", "value-quantity=5.4|http://unitsofmeasure.org").contains("value-quantity")
    );
    assert!(rejects("Observation", "value-quantity=mg").contains("not a number"));
    assert!(rejects("Observation", "value-quantity=5|http://unitsofmeasure.org|").contains("unit code"));
}

fn observation() -> Value {
    json!({
        "resourceType": "Observation", "id": "o1", "status": "final",
        "meta": {"tag": [{"system": "http://example.org/tags", "code": "vip"}],
                 "security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}],
                 "profile": ["http://hl7.org/fhir/StructureDefinition/vitalsigns|4.0.1"],
                 "source": "http://device.example/123#abc"},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"},
                            {"code": "HR", "display": "Pulse, radial"}],
                 "text": "Heart beat"},
        "subject": {"reference": "Patient/123"},
        "valueQuantity": {"value": 72, "unit": "beats/minute", "system": UCUM, "code": "/min"}
    })
}

#[test]
fn token_forms() {
    let o = observation();
    assert!(matches("code=8867-4", &o));
    assert!(matches("code=http://loinc.org|8867-4", &o));
    assert!(!matches("code=http://snomed.info/sct|8867-4", &o));
    assert!(!matches("code=|8867-4", &o));
    assert!(matches("code=|HR", &o));
    assert!(matches("code=http://loinc.org|", &o));
    assert!(!matches("code=http://snomed.info/sct|", &o));
    assert!(matches(
        "code=http://snomed.info/sct|1,http://loinc.org|8867-4",
        &o
    ));
    assert!(!matches("code=8867", &o));
    assert!(matches("category=vital-signs&code=8867-4&status=final", &o));
    assert!(!matches(
        "category=vital-signs&code=8867-4&status=preliminary",
        &o
    ));
    // Common parameters.
    assert!(matches("_id=o1", &o));
    assert!(matches("_id=x,o1", &o));
    assert!(!matches("_id=o", &o));
    assert!(matches("_tag=http://example.org/tags|vip", &o));
    assert!(matches("_tag=vip", &o));
    assert!(!matches("_tag=http://other|vip", &o));
    assert!(matches("_security=R", &o));
    assert!(matches(
        "_profile=http://hl7.org/fhir/StructureDefinition/vitalsigns",
        &o
    ));
    assert!(matches(
        "_profile=http://hl7.org/fhir/StructureDefinition/vitalsigns|4.0.1",
        &o
    ));
    assert!(!matches(
        "_profile=http://hl7.org/fhir/StructureDefinition/vitalsigns|3.0",
        &o
    ));
    assert!(matches("_source=http://device.example/123#abc", &o));
    assert!(matches("_source:below=http://device.example/", &o));
    // Codes bound to a required value set carry its system implicitly.
    let p = json!({"resourceType": "Patient", "id": "p", "gender": "male", "active": true});
    assert!(matches("gender=male", &p));
    assert!(matches(
        "gender=http://hl7.org/fhir/administrative-gender|male",
        &p
    ));
    assert!(!matches("gender=http://example.org/gender|male", &p));
    assert!(matches("gender=|male", &p));
    assert!(matches("gender=http://hl7.org/fhir/administrative-gender|", &p));
    assert!(matches("active=true", &p));
    assert!(!matches("active=false", &p));
    assert!(matches("status=http://hl7.org/fhir/observation-status|final", &o));
}

#[test]
fn token_identifiers_contact_points_and_escapes() {
    let p = json!({"resourceType": "Patient", "id": "p",
        "identifier": [
            {"system": "http://hospital.example/mrn", "value": "12,34|5",
             "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR", "display": "Medical record number"}]}},
            {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-99-9999", "type": {"text": "Social Security"}}],
        "telecom": [{"system": "phone", "value": "555-0100", "use": "home"},
                    {"system": "email", "value": "zoe@example.org"}]});
    assert!(matches(r"identifier=http://hospital.example/mrn|12\,34\|5", &p));
    assert!(matches(r"identifier=12\,34\|5", &p));
    assert!(!matches("identifier=12", &p));
    assert!(matches(
        "identifier=http://hl7.org/fhir/sid/us-ssn|999-99-9999",
        &p
    ));
    assert!(matches(
        r"identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|12\,34\|5",
        &p
    ));
    assert!(!matches(
        "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|999-99-9999",
        &p
    ));
    assert!(matches("identifier:text=social", &p));
    assert!(matches("identifier:text=medical rec", &p));
    assert!(!matches("identifier:text=ecord", &p));
    assert!(matches("telecom=555-0100", &p));
    assert!(matches("telecom=phone|555-0100", &p));
    assert!(!matches("telecom=email|555-0100", &p));
    assert!(matches("phone=555-0100", &p));
    assert!(!matches("email=555-0100", &p));
    assert!(matches("email=zoe@example.org", &p));
    assert!(rejects("Patient", "identifier:of-type=a|b").contains(":of-type"));
    assert!(rejects("Patient", "gender:of-type=a|b|c").contains("of-type"));
    assert!(rejects("Patient", "identifier=|").contains("neither"));
}

#[test]
fn token_not_text_and_terminology_modifiers() {
    let o = observation();
    assert!(!matches("code:not=8867-4", &o));
    assert!(matches("code:not=1234-5", &o));
    assert!(!matches("code:not=1234-5,HR", &o));
    // Resources without the element match :not.
    let female = json!({"resourceType": "Patient", "id": "f", "gender": "female"});
    let unknown = json!({"resourceType": "Patient", "id": "u"});
    assert!(matches("gender:not=male", &female));
    assert!(matches("gender:not=male", &unknown));
    assert!(!matches("gender:not=female", &female));
    // :text: case/accent-insensitive prefix of any word of text or display.
    assert!(matches("code:text=heart", &o));
    assert!(matches("code:text=HEART RA", &o));
    assert!(matches("code:text=radial", &o));
    assert!(matches("code:text=beat", &o));
    assert!(!matches("code:text=eart", &o));
    // Terminology-dependent modifiers are explicit errors.
    assert!(rejects("Observation", "code:in=http://example.org/vs").contains("terminology"));
    assert!(rejects("Observation", "code:not-in=http://example.org/vs").contains("terminology"));
    assert!(rejects("Observation", "code:below=http://loinc.org|8867-4").contains("subsumption"));
    assert!(rejects("Observation", "code:above=http://loinc.org|8867-4").contains("subsumption"));
    assert!(rejects("Observation", "code:exact=8867-4").contains(":exact is not valid"));
    assert!(rejects("Observation", "code:fuzzy=8867-4").contains("unknown modifier :fuzzy"));
}

#[test]
fn boolean_expression_token() {
    let alive = json!({"resourceType": "Patient", "id": "a", "deceasedBoolean": false});
    let dead = json!({"resourceType": "Patient", "id": "d", "deceasedDateTime": "2020-01-01"});
    let dead_flag = json!({"resourceType": "Patient", "id": "d", "deceasedBoolean": true});
    let unknown = json!({"resourceType": "Patient", "id": "u"});
    assert!(matches("deceased=false", &alive));
    assert!(matches("deceased=true", &dead));
    assert!(matches("deceased=true", &dead_flag));
    assert!(!matches("deceased=true", &unknown));
    assert!(matches("deceased=false", &unknown));
    assert!(matches("deceased:not=true", &alive));
}

#[test]
fn strings_fold_case_and_accents() {
    let p = json!({"resourceType": "Patient", "id": "p",
        "name": [{"family": "Dvořák", "given": ["Zoë", "Anne-Marie"], "prefix": ["Dr."], "text": "Dr. Zoë Dvořák"}],
        "address": [{"line": ["123 Main St"], "city": "Boston", "state": "MA", "postalCode": "02101", "country": "USA"}]});
    assert!(matches("name=dvor", &p));
    assert!(matches("name=DVOŘ", &p));
    assert!(matches("name=zoe", &p));
    assert!(matches("name=anne", &p));
    assert!(matches("name=dr", &p));
    assert!(!matches("name=orak", &p));
    assert!(matches("name:contains=orak", &p));
    assert!(matches("name:contains=MARIE", &p));
    assert!(matches("family=DVORAK", &p));
    assert!(!matches("family=zoe", &p));
    assert!(matches("given=Zoe", &p));
    assert!(matches("given:exact=Zoë", &p));
    assert!(!matches("given:exact=zoë", &p));
    assert!(!matches("given:exact=Zo", &p));
    assert!(!matches("given:exact=Zoe", &p));
    assert!(matches("address=bost", &p));
    assert!(matches("address=123", &p));
    assert!(!matches("address=main", &p));
    assert!(matches("address:contains=main", &p));
    assert!(matches("address-city=BOSTON", &p));
    assert!(matches("address-postalcode=021", &p));
    assert!(matches("address-country=usa", &p));
    assert!(matches("name=xyz,zo", &p));
    assert!(matches(r"name=dvo&given=z", &p));
    assert!(!matches(r"name=dvo&given=x", &p));
    // Organization.name | Organization.alias
    let org =
        json!({"resourceType": "Organization", "id": "o", "name": "Hôpital Saint-Éloi", "alias": ["HSE"]});
    assert!(matches("name=hopital saint-e", &org));
    assert!(matches("name=hse", &org));
    assert!(matches("name:contains=eloi", &org));
    assert!(rejects("Patient", "name:not=x").contains(":not is not valid"));
    assert!(rejects("Patient", "name:below=x").contains(":below is not valid"));
}

fn obs_subject(subject: Value) -> Value {
    json!({"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"}, "subject": subject})
}

#[test]
fn reference_forms() {
    let o = obs_subject(json!({"reference": "Patient/123"}));
    assert!(matches("subject=Patient/123", &o));
    assert!(matches("subject=123", &o));
    assert!(matches("subject:Patient=123", &o));
    assert!(!matches("subject:Group=123", &o));
    assert!(!matches("subject=Group/123", &o));
    assert!(!matches("subject=Patient/12", &o));
    assert!(matches("subject=Patient/123/_history/4", &o));
    assert!(matches("patient=123", &o));
    assert!(matches("patient=Patient/123", &o));
    assert!(matches("subject=Device/9,Patient/123", &o));
    // Absolute URLs: local when under the base URL, else compared as URLs;
    // a stored absolute URL ending in Type/id is that reference.
    assert!(!matches("subject=https://h.example/fhir/Patient/123", &o));
    let mut opts = ParseOptions::new(Handling::Strict, now());
    opts.base_url = Some("https://h.example/fhir/");
    let c = parse(
        "Observation",
        &pairs("subject=https://h.example/fhir/Patient/123"),
        &opts,
    )
    .unwrap();
    assert!(c.matches(&o));
    let abs = obs_subject(json!({"reference": "https://other.example/fhir/Patient/123"}));
    assert!(matches("subject=Patient/123", &abs));
    assert!(matches("subject=https://other.example/fhir/Patient/123", &abs));
    assert!(!matches("subject=https://third.example/fhir/Patient/123", &abs));
    // resolve() is Patient: from the literal, a contained resource, or Reference.type.
    let group = obs_subject(json!({"reference": "Group/7"}));
    assert!(matches("subject=7", &group));
    assert!(!matches("patient=7", &group));
    assert!(matches("patient:missing=true", &group));
    let mut contained = obs_subject(json!({"reference": "#p1"}));
    contained["contained"] = json!([{"resourceType": "Patient", "id": "p1"}]);
    assert!(matches("patient:missing=false", &contained));
    assert!(!matches("patient=p1", &contained));
    let typed =
        obs_subject(json!({"reference": "urn:uuid:5e3c1a52-0000-4000-8000-000000000000", "type": "Patient"}));
    assert!(matches("patient:missing=false", &typed));
    assert!(matches(
        "patient=urn:uuid:5e3c1a52-0000-4000-8000-000000000000",
        &typed
    ));
    // :identifier
    let logical = obs_subject(
        json!({"identifier": {"system": "http://hospital.example/mrn", "value": "A1"}, "type": "Patient"}),
    );
    assert!(matches(
        "subject:identifier=http://hospital.example/mrn|A1",
        &logical
    ));
    assert!(matches("subject:identifier=A1", &logical));
    assert!(!matches("subject:identifier=http://other|A1", &logical));
    assert!(!matches("subject=A1", &logical));
    assert!(matches("subject:missing=false", &logical));
    assert!(matches(
        "subject:missing=true",
        &json!({"resourceType": "Observation", "id": "o"})
    ));
    // Canonical references (version optional in the search value).
    let proc = json!({"resourceType": "Procedure", "id": "pr", "status": "completed", "subject": {"reference": "Patient/1"},
        "instantiatesCanonical": ["http://example.org/fhir/PlanDefinition/kidney|2.0"]});
    assert!(matches(
        "instantiates-canonical=http://example.org/fhir/PlanDefinition/kidney",
        &proc
    ));
    assert!(matches(
        "instantiates-canonical=http://example.org/fhir/PlanDefinition/kidney|2.0",
        &proc
    ));
    assert!(!matches(
        "instantiates-canonical=http://example.org/fhir/PlanDefinition/kidney|1.0",
        &proc
    ));
    assert!(matches("instantiates-canonical=PlanDefinition/kidney", &proc));
    // Errors.
    assert!(rejects("Observation", "subject=Medication/1").contains("not a target type"));
    assert!(rejects("Observation", "subject:Medication=1").contains("not a target type"));
    assert!(rejects("Observation", "subject:Patient=Group/1").contains("contradicts"));
    assert!(rejects("Observation", "subject=a b").contains("not a reference"));
    assert!(rejects("Observation", "subject:exact=1").contains(":exact is not valid"));
    assert!(rejects("Observation", "subject.name=peter").contains("chained parameters are not supported"));
    assert!(rejects("Observation", "subject:Patient.name=peter").contains("chained"));
}

#[test]
fn uri_exact_below_above() {
    let d = json!({"resourceType": "Device", "id": "d", "url": "http://acme.org/fhir/devices/123"});
    assert!(matches("url=http://acme.org/fhir/devices/123", &d));
    assert!(!matches("url=http://acme.org/fhir/devices", &d));
    assert!(!matches("url=HTTP://acme.org/fhir/devices/123", &d));
    assert!(matches("url:below=http://acme.org/fhir/", &d));
    assert!(!matches("url:below=http://acme.org/other/", &d));
    assert!(matches("url:above=http://acme.org/fhir/devices/123/parts/7", &d));
    assert!(!matches("url:above=http://acme.org/fhir/", &d));
    assert!(matches("url:missing=false", &d));
    assert!(rejects("Device", "url:contains=acme").contains(":contains is not valid"));
}

#[test]
fn missing_for_every_type() {
    let empty = json!({"resourceType": "Patient", "id": "p"});
    let full = json!({"resourceType": "Patient", "id": "p", "birthDate": "1970", "gender": "other",
        "name": [{"family": "X"}], "managingOrganization": {"reference": "Organization/o"}});
    for p in ["birthdate", "gender", "name", "organization", "family"] {
        assert!(matches(&format!("{p}:missing=true"), &empty), "{p}");
        assert!(!matches(&format!("{p}:missing=false"), &empty), "{p}");
        assert!(!matches(&format!("{p}:missing=true"), &full), "{p}");
        assert!(matches(&format!("{p}:missing=false"), &full), "{p}");
    }
    let no_prob = json!({"resourceType": "RiskAssessment", "id": "r", "status": "final", "subject": {"reference": "Patient/p"}});
    assert!(matches("probability:missing=true", &no_prob));
    assert!(matches("probability:missing=false", &risk(json!(0.5))));
    assert!(matches(
        "url:missing=true",
        &json!({"resourceType": "Device", "id": "d"})
    ));
}

#[test]
fn criteria_check_the_resource_type() {
    let o = observation();
    assert!(criteria("Observation", "").matches(&o));
    assert!(!criteria("Condition", "").matches(&o));
}
