//! Unit tests of the registry, classifier, dates, units and rules.

use serde_json::{Value, json};

use super::*;
use crate::Timestamp;

fn ts(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

fn obs(system: &str, code: &str) -> Value {
    json!({"resourceType": "Observation", "status": "final",
           "code": {"coding": [{"system": system, "code": code}]}})
}

fn approx(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}

// ---- catalogue ------------------------------------------------------------------------------

#[test]
fn catalogue_is_well_formed() {
    let r = registry();
    assert!(r.named().len() >= 30, "only {} named types", r.named().len());
    for dt in r.named() {
        assert!(
            dt.key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "key {} is not lowercase-kebab",
            dt.key
        );
        assert!(!dt.is_generic());
        assert!(
            r.get(&generic_key(dt.resource_type)).is_some(),
            "{} is not an R4 type",
            dt.resource_type
        );
        assert!(dt.description.ends_with('.'), "{}", dt.key);
        if let Some(u) = &dt.unit {
            assert!(
                u.accepted.contains(&u.canonical),
                "{}: canonical not accepted",
                dt.key
            );
            for a in u.accepted {
                // every accepted unit converts to the canonical one, except HbA1c's IFCC scale
                // nor steps per day, a rate that 24-hour step counts may be written in
                if !(dt.key == "hba1c" && *a == "mmol/mol" || dt.key == "steps" && a.ends_with("/d")) {
                    assert!(
                        u.to_canonical(1.0, a).is_some(),
                        "{}: {a} does not convert",
                        dt.key
                    );
                }
            }
        }
    }
    assert_eq!(r.all().len(), r.named().len() + catalogue::GENERIC.len());
    assert_eq!(r.get("weight").unwrap().name, "Weight");
    assert_eq!(r.get("fhir:Claim").unwrap().resource_type, "Claim");
    assert!(r.get("fhir:Claim").unwrap().is_generic());
    assert!(r.get("nope").is_none());
}

#[test]
fn generic_keys() {
    assert_eq!(generic_key("Observation"), "fhir:Observation");
    assert!(is_generic_key("fhir:Observation"));
    assert!(!is_generic_key("weight"));
}

#[test]
fn for_resource_type_lists_named_then_generic() {
    let keys: Vec<&str> = registry()
        .for_resource_type("DocumentReference")
        .iter()
        .map(|d| d.key)
        .collect();
    assert_eq!(keys, ["clinical-document", "file", "fhir:DocumentReference"]);
    let obs: Vec<&str> = registry()
        .for_resource_type("Observation")
        .iter()
        .map(|d| d.key)
        .collect();
    assert!(obs.contains(&"weight") && obs.contains(&"lab-result"));
    assert_eq!(obs.last(), Some(&"fhir:Observation"));
    assert!(registry().for_resource_type("NotAType").is_empty());
}

// ---- classification -------------------------------------------------------------------------

#[test]
fn classification_precedence() {
    let r = registry();
    // a specific code beats the laboratory category
    let mut w = obs(LOINC, "29463-7");
    w["category"] = json!([{"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory"}]}]);
    let c = r.classify(&w);
    assert_eq!(c.key, "weight");
    assert_eq!(c.named.unwrap().key, "weight");
    // unknown code with laboratory category → lab-result
    let mut lab = obs(LOINC, "6299-2");
    lab["category"] = json!([{"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory"}]}]);
    assert_eq!(r.classify(&lab).key, "lab-result");
    // vital-signs category, unknown code → vital-signs
    let mut vs = obs(LOINC, "72514-3");
    vs["category"] = json!([{"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs"}]}]);
    assert_eq!(r.classify(&vs).key, "vital-signs");
    // nothing matches → generic
    let c = r.classify(&obs(LOINC, "0000-0"));
    assert_eq!(c.key, "fhir:Observation");
    assert!(c.is_generic());
    // code in the wrong system does not match
    assert_eq!(r.classify(&obs(SNOMED, "29463-7")).key, "fhir:Observation");
    // LOINC by OID matches
    assert_eq!(
        r.classify(&obs("urn:oid:2.16.840.1.113883.6.1", "8867-4")).key,
        "heart-rate"
    );
    // second coding matches
    let two = json!({"resourceType": "Observation", "code": {"coding": [
        {"system": SNOMED, "code": "27113001"}, {"system": LOINC, "code": "29463-7"}]}});
    assert_eq!(r.classify(&two).key, "weight");
    // HealthVault library exercise export
    assert_eq!(r.classify(&obs(HEALTHVAULT_VOCAB, "exercise")).key, "exercise");
    // catch-alls and documents
    assert_eq!(r.classify(&json!({"resourceType": "Condition"})).key, "condition");
    assert_eq!(r.classify(&json!({"resourceType": "Claim"})).key, "fhir:Claim");
    let ccd = json!({"resourceType": "DocumentReference",
        "type": {"coding": [{"system": LOINC, "code": "34133-9"}]}});
    assert_eq!(r.classify(&ccd).key, "clinical-document");
    assert_eq!(
        r.classify(&json!({"resourceType": "DocumentReference"})).key,
        "file"
    );
    let pic = json!({"resourceType": "Media", "meta": {"tag": [{"system": HEARTH_TAG, "code": "personal-picture"}]}});
    assert_eq!(r.classify(&pic).key, "personal-picture");
    assert_eq!(r.classify(&json!({"resourceType": "Media"})).key, "fhir:Media");
    // not a resource / unknown type
    assert_eq!(r.classify(&json!({"a": 1})).key, "fhir:Resource");
    assert_eq!(r.classify(&json!("x")).key, "fhir:Resource");
    assert_eq!(r.classify(&json!({"resourceType": "Foo"})).key, "fhir:Foo");
}

#[test]
fn primary_codes_by_type() {
    let o = json!({"resourceType": "Observation", "code": {"coding": [
        {"system": LOINC, "code": "29463-7"}, {"code": "w"}, {"system": LOINC, "code": "29463-7"}]}});
    assert_eq!(primary_codes(&o), ["http://loinc.org|29463-7", "|w"]);
    let e = json!({"resourceType": "Encounter", "type": [
        {"coding": [{"system": SNOMED, "code": "1"}]}, {"coding": [{"system": SNOMED, "code": "2"}]}]});
    assert_eq!(
        primary_codes(&e),
        ["http://snomed.info/sct|1", "http://snomed.info/sct|2"]
    );
    let m = json!({"resourceType": "MedicationRequest", "medicationCodeableConcept": {"coding": [
        {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "123"}]}});
    assert_eq!(
        primary_codes(&m),
        ["http://www.nlm.nih.gov/research/umls/rxnorm|123"]
    );
    let i = json!({"resourceType": "Immunization", "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140"}]}});
    assert_eq!(primary_codes(&i), ["http://hl7.org/fhir/sid/cvx|140"]);
    let g = json!({"resourceType": "Goal", "description": {"text": "walk more"}});
    assert!(primary_codes(&g).is_empty());
    assert!(primary_codes(&json!({"resourceType": "Patient"})).is_empty());
}

// ---- dates ----------------------------------------------------------------------------------

#[test]
fn parse_fhir_datetime_precisions_and_zones() {
    let p = |s| parse_fhir_datetime(s);
    assert_eq!(p("2019"), Some(ts("2019-01-01T00:00:00Z")));
    assert_eq!(p("2019-05"), Some(ts("2019-05-01T00:00:00Z")));
    assert_eq!(p("2019-05-04"), Some(ts("2019-05-04T00:00:00Z")));
    assert_eq!(p("2019-05-04T10:00:00Z"), Some(ts("2019-05-04T10:00:00Z")));
    assert_eq!(p("2019-05-04T10:00:00+02:00"), Some(ts("2019-05-04T08:00:00Z")));
    assert_eq!(p("2019-05-04T10:00:00-05:30"), Some(ts("2019-05-04T15:30:00Z")));
    assert_eq!(p("2019-05-04T10:00:00+00:00"), Some(ts("2019-05-04T10:00:00Z")));
    assert_eq!(p("2019-05-04T23:30:00-02:00"), Some(ts("2019-05-05T01:30:00Z")));
    // fractions: 1..=9 digits, truncated to microseconds
    assert_eq!(p("2019-05-04T10:00:00.5Z"), Some(ts("2019-05-04T10:00:00.5Z")));
    assert_eq!(p("2019-05-04T10:00:00.123456Z").unwrap().0 % 1_000_000, 123_456);
    assert_eq!(
        p("2019-05-04T10:00:00.123456789+01:00").unwrap().0 % 1_000_000,
        123_456
    );
    assert_eq!(p("2020-06-16T19:08:38.458+00:00").unwrap().0 % 1_000_000, 458_000);
    // leniencies: no zone = UTC, no seconds, leap second
    assert_eq!(p("2019-05-04T10:00:00"), Some(ts("2019-05-04T10:00:00Z")));
    assert_eq!(p("2019-05-04T10:00Z"), Some(ts("2019-05-04T10:00:00Z")));
    assert_eq!(
        p("2016-12-31T23:59:60Z"),
        Some(Timestamp(ts("2017-01-01T00:00:00Z").0 - 1))
    );
    assert_eq!(p("1900-01-01"), Some(ts("1900-01-01T00:00:00Z")));
    // unparsable
    for bad in [
        "",
        "19",
        "2019-5",
        "2019-13",
        "2019-02-30",
        "2019-05-04T",
        "2019-05-04T25:00:00Z",
        "2019-05-04T10:00:00+2",
        "2019-05-04T10:00:00.Z",
        "2019-05-04 10:00:00",
        "0000",
        "2019-05-04T10:00:00Zx",
        "abcd",
        "2019-05-04T10:00:00+15:00",
    ] {
        assert_eq!(p(bad), None, "{bad:?} parsed");
    }
}

#[test]
fn parse_fhir_datetime_end_of_period() {
    let e = |s| parse_fhir_datetime_end(s).unwrap();
    assert_eq!(e("2019"), Timestamp(ts("2020-01-01T00:00:00Z").0 - 1));
    assert_eq!(e("2019-12"), Timestamp(ts("2020-01-01T00:00:00Z").0 - 1));
    assert_eq!(e("2020-02"), Timestamp(ts("2020-03-01T00:00:00Z").0 - 1));
    assert_eq!(e("2019-05-04"), Timestamp(ts("2019-05-05T00:00:00Z").0 - 1));
    assert_eq!(e("2019-05-04T10:00:00+02:00"), ts("2019-05-04T08:00:00Z"));
}

#[test]
fn effective_and_end_dates() {
    let r = |v: Value| effective_date(&v);
    assert_eq!(
        r(
            json!({"resourceType": "Observation", "effectivePeriod": {"start": "2020-01-02"}, "issued": "2021-01-01T00:00:00Z"})
        ),
        Some(ts("2020-01-02T00:00:00Z"))
    );
    assert_eq!(
        r(json!({"resourceType": "Observation", "issued": "2021-01-01T00:00:00Z"})),
        Some(ts("2021-01-01T00:00:00Z"))
    );
    assert_eq!(
        r(
            json!({"resourceType": "Observation", "effectiveDateTime": "garbage", "effectiveInstant": "2021-03-01T00:00:00Z"})
        ),
        Some(ts("2021-03-01T00:00:00Z"))
    );
    assert_eq!(
        r(json!({"resourceType": "Condition", "recordedDate": "2018"})),
        Some(ts("2018-01-01T00:00:00Z"))
    );
    assert_eq!(
        r(json!({"resourceType": "Encounter", "period": {"start": "2018-02"}})),
        Some(ts("2018-02-01T00:00:00Z"))
    );
    assert_eq!(
        r(json!({"resourceType": "DocumentReference", "context": {"period": {"start": "2017-01-01"}}})),
        Some(ts("2017-01-01T00:00:00Z"))
    );
    assert_eq!(
        r(
            json!({"resourceType": "Claim", "created": "2019-01-01", "billablePeriod": {"start": "2018-12-31"}})
        ),
        Some(ts("2018-12-31T00:00:00Z"))
    );
    assert_eq!(
        r(json!({"resourceType": "Patient", "birthDate": "1970-01-01"})),
        None
    );
    assert_eq!(r(json!({"resourceType": "Observation"})), None);
    assert_eq!(r(json!({"no": "type"})), None);

    let e = |v: Value| end_date(&v);
    assert_eq!(
        e(json!({"resourceType": "Condition", "abatementDateTime": "2019-05-04T10:00:00Z"})),
        Some(ts("2019-05-04T10:00:00Z"))
    );
    assert_eq!(
        e(json!({"resourceType": "Encounter", "period": {"start": "2019-01-01", "end": "2019-01-02"}})),
        Some(Timestamp(ts("2019-01-03T00:00:00Z").0 - 1))
    );
    assert_eq!(
        e(
            json!({"resourceType": "MedicationRequest", "dispenseRequest": {"validityPeriod": {"end": "2020-01-01T00:00:00Z"}}})
        ),
        Some(ts("2020-01-01T00:00:00Z"))
    );
    assert_eq!(
        e(json!({"resourceType": "Observation", "effectivePeriod": {"end": "2020"}})),
        None
    );
    assert_eq!(e(json!({"resourceType": "Condition"})), None);
}

// ---- units ----------------------------------------------------------------------------------

#[test]
fn mass_and_length() {
    assert_eq!(convert(1.0, "[lb_av]", "kg"), Some(0.45359237));
    assert!(approx(convert(0.45359237, "kg", "[lb_av]").unwrap(), 1.0));
    assert!(approx(
        convert(70.0, "kg", "[lb_av]").unwrap(),
        154.323_583_529_414_4
    ));
    assert!(approx(convert(16.0, "[oz_av]", "[lb_av]").unwrap(), 1.0));
    assert!(approx(convert(1500.0, "g", "kg").unwrap(), 1.5));
    assert!(approx(convert(1.0, "[in_i]", "cm").unwrap(), 2.54));
    assert!(approx(convert(6.0, "[ft_i]", "m").unwrap(), 1.8288));
    assert!(approx(convert(180.0, "cm", "m").unwrap(), 1.8));
    assert_eq!(convert(1.0, "kg", "cm"), None);
    assert_eq!(convert(1.0, "kg", "furlong"), None);
    assert_eq!(convert(3.0, "whatever", "whatever"), Some(3.0));
}

#[test]
fn temperature() {
    assert!(approx(convert(100.0, "Cel", "[degF]").unwrap(), 212.0));
    assert!(approx(convert(98.6, "[degF]", "Cel").unwrap(), 37.0));
    assert!(approx(convert(-40.0, "[degF]", "Cel").unwrap(), -40.0));
    assert!(approx(convert(0.0, "Cel", "K").unwrap(), 273.15));
    assert!(approx(convert(310.15, "K", "[degF]").unwrap(), 98.6));
    assert_eq!(convert(37.0, "Cel", "kg"), None);
}

#[test]
fn concentrations_need_a_substance() {
    assert_eq!(convert(100.0, "mg/dL", "mmol/L"), None);
    assert!(approx(
        convert_substance(5.5, "mmol/L", "mg/dL", Substance::Glucose).unwrap(),
        5.5 * 18.0156
    ));
    assert!(approx(
        convert_substance(180.156, "mg/dL", "mmol/L", Substance::Glucose).unwrap(),
        10.0
    ));
    assert!(approx(
        convert_substance(1.0, "g/L", "mmol/L", Substance::Glucose).unwrap(),
        100.0 / 18.0156
    ));
    assert!(approx(
        convert_substance(5.0, "mmol/L", "mg/dL", Substance::Cholesterol).unwrap(),
        193.325
    ));
    assert!(approx(
        convert_substance(1.0, "mmol/L", "mg/dL", Substance::Triglycerides).unwrap(),
        88.57
    ));
    assert_eq!(Substance::for_lipid_code("2571-8"), Substance::Triglycerides);
    // the glucose type's unit spec knows its substance
    let g = registry().get("blood-glucose").unwrap().unit.unwrap();
    assert!(approx(g.to_canonical(90.0, "mg/dL").unwrap(), 90.0 / 18.0156));
    assert!(approx(convert(1.0, "mmol/L", "umol/L").unwrap(), 1000.0));
}

#[test]
fn other_dimensions() {
    assert!(approx(
        convert(760.0, "mm[Hg]", "kPa").unwrap(),
        101.325_014_435_4
    ));
    assert!(approx(convert(1.0, "L", "mL").unwrap(), 1000.0));
    assert!(approx(convert(72.0, "{beats}/min", "/min").unwrap(), 72.0));
    assert!(approx(convert(1.0, "/s", "/min").unwrap(), 60.0));
    assert!(approx(convert(5.0, "L/s", "L/min").unwrap(), 300.0));
    assert!(approx(convert(90.0, "min", "h").unwrap(), 1.5));
    assert!(approx(convert(1000.0, "{steps}", "1").unwrap(), 1000.0));
    assert!(approx(convert(1.0, "kcal", "kJ").unwrap(), 4.184));
    assert_eq!(convert(6.0, "%", "mmol/mol"), None);
}

// ---- rules ----------------------------------------------------------------------------------

fn dt(key: &str) -> &'static DataType {
    registry().get(key).unwrap()
}

fn weight(value: Value, code: &str) -> Value {
    json!({"resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "29463-7"}]},
        "valueQuantity": {"value": value, "unit": code, "system": UCUM, "code": code}})
}

#[test]
fn weight_rules() {
    assert!(check_rules(dt("weight"), &weight(json!(70.5), "kg")).is_empty());
    assert!(check_rules(dt("weight"), &weight(json!(155), "[lb_av]")).is_empty());
    let issues = check_rules(dt("weight"), &weight(json!(70), "cm"));
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].path, "Observation.valueQuantity.code");
    assert!(
        issues[0].message.contains("'cm'") && issues[0].message.contains("Weight"),
        "{}",
        issues[0].message
    );

    let neg = check_rules(dt("weight"), &weight(json!(-1), "kg"));
    assert_eq!(neg[0].path, "Observation.valueQuantity.value");

    let mut no_system = weight(json!(70), "kg");
    no_system["valueQuantity"]
        .as_object_mut()
        .unwrap()
        .remove("system");
    assert_eq!(
        check_rules(dt("weight"), &no_system)[0].path,
        "Observation.valueQuantity.system"
    );

    let mut as_string = weight(json!(70), "kg");
    as_string.as_object_mut().unwrap().remove("valueQuantity");
    as_string["valueString"] = json!("70 kg");
    assert_eq!(
        check_rules(dt("weight"), &as_string)[0].path,
        "Observation.valueString"
    );

    let mut absent = weight(json!(70), "kg");
    absent.as_object_mut().unwrap().remove("valueQuantity");
    assert_eq!(check_rules(dt("weight"), &absent)[0].path, "Observation.value[x]");
    absent["dataAbsentReason"] = json!({"text": "refused"});
    assert!(check_rules(dt("weight"), &absent).is_empty());

    let wrong_rt = json!({"resourceType": "Condition"});
    assert_eq!(check_rules(dt("weight"), &wrong_rt)[0].path, "resourceType");
}

fn bp(components: Value) -> Value {
    json!({"resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]}, "component": components})
}

fn bp_part(code: &str, value: f64, unit: &str) -> Value {
    json!({"code": {"coding": [{"system": LOINC, "code": code}]},
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}})
}

#[test]
fn blood_pressure_rules() {
    let good = bp(json!([
        bp_part("8480-6", 120.0, "mm[Hg]"),
        bp_part("8462-4", 80.0, "mm[Hg]")
    ]));
    assert!(check_rules(dt("blood-pressure"), &good).is_empty());
    let no_dia = bp(json!([bp_part("8480-6", 120.0, "mm[Hg]")]));
    let issues = check_rules(dt("blood-pressure"), &no_dia);
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].path, "Observation.component");
    assert!(issues[0].message.contains("diastolic"));
    let wrong_unit = bp(json!([
        bp_part("8480-6", 120.0, "mm[Hg]"),
        bp_part("8462-4", 80.0, "kg")
    ]));
    assert_eq!(
        check_rules(dt("blood-pressure"), &wrong_unit)[0].path,
        "Observation.component[1].valueQuantity.code"
    );
    let with_pulse = bp(json!([
        bp_part("8480-6", 120.0, "mm[Hg]"),
        bp_part("8462-4", 80.0, "mm[Hg]"),
        bp_part("8867-4", 60.0, "mm[Hg]")
    ]));
    assert_eq!(
        check_rules(dt("blood-pressure"), &with_pulse)[0].path,
        "Observation.component[2].valueQuantity.code"
    );
    assert_eq!(check_rules(dt("blood-pressure"), &bp(json!([]))).len(), 2);
    // Synthea writes some components with no unit at all: read as mm[Hg]
    let unitless = |code: &str| {
        json!({"code": {"coding": [{"system": LOINC, "code": code}]},
        "valueQuantity": {"value": 100.0, "system": UCUM}})
    };
    assert!(
        check_rules(
            dt("blood-pressure"),
            &bp(json!([unitless("8480-6"), unitless("8462-4")]))
        )
        .is_empty()
    );
    // ... but not for a weight
    let mut w = weight(json!(70), "kg");
    w["valueQuantity"].as_object_mut().unwrap().remove("code");
    assert_eq!(
        check_rules(dt("weight"), &w)[0].path,
        "Observation.valueQuantity.code"
    );
}

#[test]
fn other_measurement_rules() {
    let q = |code: &str, value: f64, unit: &str| {
        json!({"resourceType": "Observation", "code": {"coding": [{"system": LOINC, "code": code}]},
            "valueQuantity": {"value": value, "system": UCUM, "code": unit}})
    };
    assert!(check_rules(dt("heart-rate"), &q("8867-4", 60.0, "/min")).is_empty());
    assert!(!check_rules(dt("heart-rate"), &q("8867-4", 60.0, "Hz")).is_empty());
    assert!(check_rules(dt("body-temperature"), &q("8310-5", 98.6, "[degF]")).is_empty());
    assert!(!check_rules(dt("body-temperature"), &q("8310-5", 37.0, "K")).is_empty());
    assert!(check_rules(dt("blood-glucose"), &q("2339-0", 90.0, "mg/dL")).is_empty());
    assert!(check_rules(dt("blood-glucose"), &q("15074-8", 5.0, "mmol/L")).is_empty());
    assert!(!check_rules(dt("blood-glucose"), &q("15074-8", 5.0, "%")).is_empty());
    assert!(check_rules(dt("blood-oxygen"), &q("59408-5", 97.0, "%")).is_empty());
    assert_eq!(
        check_rules(dt("blood-oxygen"), &q("59408-5", 197.0, "%"))[0].path,
        "Observation.valueQuantity.value"
    );
    // lipid panel grouping Observation needs no value; a member does
    let panel = json!({"resourceType": "Observation", "code": {"coding": [{"system": LOINC, "code": "57698-3"}]},
        "hasMember": [{"reference": "Observation/1"}]});
    assert!(check_rules(dt("lipid-panel"), &panel).is_empty());
    let member =
        json!({"resourceType": "Observation", "code": {"coding": [{"system": LOINC, "code": "2093-3"}]}});
    assert!(!check_rules(dt("lipid-panel"), &member).is_empty());
    // steps: value optional
    let steps =
        json!({"resourceType": "Observation", "code": {"coding": [{"system": LOINC, "code": "55423-8"}]}});
    assert!(check_rules(dt("steps"), &steps).is_empty());
    // generic types have no rules
    assert!(check_rules(dt("fhir:Observation"), &obs(LOINC, "x")).is_empty());
}

#[test]
fn clinical_and_document_rules() {
    assert!(
        check_rules(
            dt("condition"),
            &json!({"resourceType": "Condition", "code": {"text": "Asthma"}})
        )
        .is_empty()
    );
    assert_eq!(
        check_rules(dt("condition"), &json!({"resourceType": "Condition"}))[0].path,
        "Condition.code"
    );
    let file = json!({"resourceType": "DocumentReference", "content": [{"attachment": {"url": "Binary/1"}}]});
    assert!(check_rules(dt("file"), &file).is_empty());
    let empty = json!({"resourceType": "DocumentReference", "content": [{"attachment": {"title": "x"}}]});
    assert_eq!(
        check_rules(dt("file"), &empty)[0].path,
        "DocumentReference.content[0].attachment"
    );
    let pic = json!({"resourceType": "Media", "content": {"contentType": "image/jpeg", "url": "Binary/2"}});
    assert!(check_rules(dt("personal-picture"), &pic).is_empty());
    let pdf = json!({"resourceType": "Media", "content": {"contentType": "application/pdf"}});
    assert_eq!(
        check_rules(dt("personal-picture"), &pdf)[0].path,
        "Media.content.contentType"
    );
}

#[test]
fn arbitrary_precision_values_are_read() {
    let v: Value = serde_json::from_str(
        r#"{"resourceType":"Observation","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},
            "valueQuantity":{"value":70.12345678901234567890,"system":"http://unitsofmeasure.org","code":"kg"}}"#,
    )
    .unwrap();
    assert!(check_rules(dt("weight"), &v).is_empty());
}
