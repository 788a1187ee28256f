//! The search engine on real data: the Synthea R4 sample bundles (with their
//! `urn:uuid:` references rewritten to `Type/id`, as the store does), plus
//! hand-written DocumentReference, Device and Location resources (Synthea has
//! none). Every parameter of the stored resource types evaluates without
//! error; matching, compartments, includes, sorting and subsetting agree with
//! direct inspection; and the per-match cost is measured.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hearth_fhir::rewrite_references;
use hearth_fhir::search::{
    self, Criteria, Handling, IndexValue, ParseOptions, Summary, apply_elements, apply_summary, date_bounds,
    extract_values, in_patient_compartment, parse, reference_targets, sort_key,
};
use serde_json::{Value, json};

const TYPES: &[&str] = &[
    "Patient",
    "Observation",
    "Condition",
    "Encounter",
    "Procedure",
    "MedicationRequest",
    "Immunization",
    "AllergyIntolerance",
    "DiagnosticReport",
    "CarePlan",
    "Claim",
    "ExplanationOfBenefit",
    "DocumentReference",
    "Device",
    "ImagingStudy",
    "Organization",
    "Practitioner",
    "Location",
];

/// How many bundles the tests read (sorted by name; the first ones hold every
/// resource type Synthea produces).
const BUNDLES: usize = 6;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_735_689_600)
}

/// The resources of the first bundles, references rewritten to `Type/id`.
fn resources() -> Vec<Value> {
    let files = common::synthea_files();
    assert!(
        files.len() >= BUNDLES,
        "expected Synthea bundles in {:?}",
        common::synthea_dir()
    );
    let mut out = Vec::new();
    for f in files.iter().take(BUNDLES) {
        let bundle = common::load(f);
        let mut map: HashMap<String, String> = HashMap::new();
        for e in bundle["entry"].as_array().expect("entries") {
            let r = &e["resource"];
            if let (Some(full), Some(t), Some(id)) = (
                e["fullUrl"].as_str(),
                r["resourceType"].as_str(),
                r["id"].as_str(),
            ) {
                map.insert(full.to_owned(), format!("{t}/{id}"));
            }
        }
        for r in common::entries(&bundle) {
            let mut r = r.clone();
            rewrite_references(&mut r, &mut |s| map.get(s).cloned());
            r["meta"] = json!({"lastUpdated": "2024-06-01T12:00:00Z"});
            out.push(r);
        }
    }
    out
}

fn fixtures() -> Vec<Value> {
    vec![
        json!({"resourceType": "DocumentReference", "id": "doc1", "status": "current", "docStatus": "final",
            "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.3.6.1.4.1.21367.2005.3.7"},
            "identifier": [{"system": "http://example.org/docs", "value": "D-1"}],
            "type": {"coding": [{"system": "http://loinc.org", "code": "34108-1", "display": "Outpatient Note"}]},
            "category": [{"coding": [{"system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category", "code": "clinical-note"}]}],
            "subject": {"reference": "Patient/p1"}, "date": "2020-05-01T10:00:00Z",
            "author": [{"reference": "Practitioner/pr1"}], "authenticator": {"reference": "Organization/o1"},
            "custodian": {"reference": "Organization/o1"}, "description": "Physical exam",
            "relatesTo": [{"code": "appends", "target": {"reference": "DocumentReference/doc0"}}],
            "securityLabel": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "N"}],
            "content": [{"attachment": {"contentType": "text/plain", "language": "en-US",
                "url": "http://example.org/fhir/Binary/b1", "title": "note"},
                "format": {"system": "urn:oid:1.3.6.1.4.1.19376.1.2.3", "code": "urn:ihe:pcc:handp:2008"}}],
            "context": {"encounter": [{"reference": "Encounter/e1"}],
                "event": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "T-D8200"}]}],
                "period": {"start": "2020-05-01T09:00:00Z", "end": "2020-05-01T10:00:00Z"},
                "facilityType": {"coding": [{"system": "http://snomed.info/sct", "code": "225732001"}]},
                "practiceSetting": {"coding": [{"system": "http://snomed.info/sct", "code": "408467006"}]},
                "related": [{"reference": "Patient/p1"}]}}),
        json!({"resourceType": "Device", "id": "dev1", "status": "active", "url": "http://example.org/devices/dev1",
            "identifier": [{"system": "http://example.org/serial", "value": "S-42"}],
            "udiCarrier": [{"deviceIdentifier": "09504000059118", "carrierHRF": "(01)09504000059118(17)141120"}],
            "deviceName": [{"name": "Insulin pump", "type": "user-friendly-name"}],
            "manufacturer": "Acme Devices", "modelNumber": "AP-1",
            "type": {"coding": [{"system": "http://snomed.info/sct", "code": "69805005", "display": "Insulin pump"}], "text": "Insulin pump"},
            "patient": {"reference": "Patient/p1"}, "owner": {"reference": "Organization/o1"},
            "location": {"reference": "Location/l1"}}),
        json!({"resourceType": "Location", "id": "l1", "status": "active", "name": "Südklinik Ward 3",
            "alias": ["Ward III"], "identifier": [{"system": "http://example.org/loc", "value": "W3"}],
            "operationalStatus": {"system": "http://terminology.hl7.org/CodeSystem/v2-0116", "code": "O"},
            "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "HOSP"}]}],
            "address": {"use": "work", "line": ["1 Hospital Road"], "city": "Köln", "postalCode": "50667", "country": "DE"},
            "position": {"longitude": 6.95, "latitude": 50.94},
            "managingOrganization": {"reference": "Organization/o1"}, "partOf": {"reference": "Location/l0"},
            "endpoint": [{"reference": "Endpoint/ep1"}]}),
    ]
}

#[test]
fn every_parameter_evaluates_on_real_resources() {
    let mut all = resources();
    all.extend(fixtures());
    let mut evaluated: BTreeMap<&str, usize> = BTreeMap::new();
    let mut with_values: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut errors = Vec::new();
    for r in &all {
        let ty = r["resourceType"].as_str().unwrap();
        let Some(&t) = TYPES.iter().find(|t| **t == ty) else {
            continue;
        };
        *evaluated.entry(t).or_default() += 1;
        for def in search::search_params(ty).into_iter().filter(|d| d.is_supported()) {
            match extract_values(r, def) {
                Ok(v) if !v.is_empty() => {
                    *with_values
                        .entry((ty.to_owned(), def.code().to_owned()))
                        .or_default() += 1
                }
                Ok(_) => {}
                Err(e) => errors.push(format!("{ty}/{}: {e}", r["id"])),
            }
        }
    }
    eprintln!("resources evaluated per type: {evaluated:?}");
    eprintln!("(type, parameter) pairs with values: {}", with_values.len());
    assert!(
        errors.is_empty(),
        "{} errors, e.g. {:?}",
        errors.len(),
        &errors[..errors.len().min(10)]
    );
    for t in TYPES {
        assert!(evaluated.contains_key(t), "no {t} evaluated");
    }
    // Parameters every resource of a type has a value for.
    for (t, code) in [
        ("Observation", "code"),
        ("Observation", "patient"),
        ("Observation", "date"),
        ("Observation", "_lastUpdated"),
        ("Encounter", "date"),
        ("Encounter", "patient"),
        ("Condition", "code"),
        ("Patient", "name"),
        ("Patient", "birthdate"),
        ("Patient", "deceased"),
        ("Claim", "patient"),
        ("Immunization", "vaccine-code"),
        ("DocumentReference", "relatesto"),
        ("Device", "device-name"),
        ("Location", "address-city"),
    ] {
        let n = with_values
            .get(&(t.to_owned(), code.to_owned()))
            .copied()
            .unwrap_or(0);
        assert_eq!(
            n, evaluated[t],
            "{t}.{code} has values in {n} of {} resources",
            evaluated[t]
        );
    }
}

fn criteria(ty: &str, q: &str) -> Criteria {
    let pairs: Vec<(String, String)> = q
        .split('&')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    parse(ty, &pairs, &ParseOptions::new(Handling::Strict, now())).unwrap_or_else(|e| panic!("{q}: {e:?}"))
}

fn count(all: &[Value], ty: &str, q: &str) -> usize {
    let c = criteria(ty, q);
    all.iter().filter(|r| c.matches(r)).count()
}

#[test]
fn matching_agrees_with_direct_inspection() {
    let all = resources();
    let patient = all.iter().find(|r| r["resourceType"] == "Patient").unwrap();
    let pid = patient["id"].as_str().unwrap();
    let obs: Vec<&Value> = all
        .iter()
        .filter(|r| r["resourceType"] == "Observation")
        .collect();
    let mine = obs
        .iter()
        .filter(|o| o["subject"]["reference"] == format!("Patient/{pid}"))
        .count();
    assert!(mine > 0);
    assert_eq!(count(&all, "Observation", &format!("patient={pid}")), mine);
    assert_eq!(
        count(&all, "Observation", &format!("subject=Patient/{pid}")),
        mine
    );
    assert_eq!(
        count(&all, "Observation", &format!("subject:Patient={pid}")),
        mine
    );
    // Body height by code, with and without system.
    let heights = obs
        .iter()
        .filter(|o| {
            o["code"]["coding"][0]["code"] == "8302-2"
                && o["code"]["coding"][0]["system"] == "http://loinc.org"
        })
        .count();
    assert!(heights > 0);
    assert_eq!(
        count(&all, "Observation", "code=http://loinc.org|8302-2"),
        heights
    );
    assert_eq!(count(&all, "Observation", "code=8302-2"), heights);
    assert_eq!(count(&all, "Observation", "code:text=body height"), heights);
    assert_eq!(count(&all, "Observation", "code:not=8302-2"), obs.len() - heights);
    // Blood pressure panels carry the systolic code in a component.
    let panels = obs
        .iter()
        .filter(|o| o["code"]["coding"][0]["code"] == "55284-4")
        .count();
    assert!(panels > 0);
    assert_eq!(
        count(&all, "Observation", "component-code=http://loinc.org|8480-6"),
        panels
    );
    assert_eq!(count(&all, "Observation", "combo-code=8480-6,55284-4"), panels);
    assert_eq!(count(&all, "Observation", "code=8480-6"), 0);
    assert!(count(&all, "Observation", "component-value-quantity=gt60||mm[Hg]") > 0);
    // Dates: every observation is either before 2015 or from 2015 on.
    let before = count(&all, "Observation", "date=lt2015");
    let after = count(&all, "Observation", "date=ge2015");
    assert_eq!(before + after, obs.len());
    assert_eq!(count(&all, "Observation", "date=sa2014-12-31&date=eb2100"), after);
    // Quantities in UCUM.
    let tall = obs
        .iter()
        .filter(|o| {
            o["valueQuantity"]["code"] == "cm"
                && o["valueQuantity"]["value"].as_f64().is_some_and(|v| v > 150.0)
        })
        .count();
    assert_eq!(
        count(
            &all,
            "Observation",
            "value-quantity=gt150|http://unitsofmeasure.org|cm"
        ),
        tall
    );
    // The patient by name, birth date and gender.
    let family = patient["name"][0]["family"].as_str().unwrap();
    let birth = patient["birthDate"].as_str().unwrap();
    let gender = patient["gender"].as_str().unwrap();
    let q = format!(
        "family={}&birthdate={birth}&gender={gender}",
        &family[..3].to_lowercase()
    );
    assert_eq!(count(&all, "Patient", &q), 1);
    assert_eq!(count(&all, "Patient", &format!("_id={pid}")), 1);
    assert_eq!(
        count(&all, "Patient", "_lastUpdated=2024-06"),
        all.iter().filter(|r| r["resourceType"] == "Patient").count()
    );
    // Conditions and encounters of the patient.
    let conds = all
        .iter()
        .filter(|r| r["resourceType"] == "Condition" && r["subject"]["reference"] == format!("Patient/{pid}"))
        .count();
    assert_eq!(count(&all, "Condition", &format!("patient={pid}")), conds);
    let encs = all
        .iter()
        .filter(|r| r["resourceType"] == "Encounter" && r["subject"]["reference"] == format!("Patient/{pid}"))
        .count();
    assert_eq!(
        count(&all, "Encounter", &format!("patient=Patient/{pid}&date=ge1900")),
        encs
    );
}

#[test]
fn compartments_includes_sorting_and_subsetting() {
    let all = resources();
    let patient = all.iter().find(|r| r["resourceType"] == "Patient").unwrap();
    let pid = patient["id"].as_str().unwrap();
    let target = format!("Patient/{pid}");
    // Compartment membership: every resource that mentions the patient in a compartment parameter.
    let mut members = 0;
    for r in &all {
        let inside = in_patient_compartment(r, pid);
        let ty = r["resourceType"].as_str().unwrap();
        let mentions = serde_json::to_string(r)
            .unwrap()
            .contains(&format!("\"{target}\""));
        if ty == "Patient" {
            assert_eq!(inside, r["id"] == pid);
        } else if search::patient_compartment_params(ty).is_empty() {
            assert!(!inside, "{ty} is not in the Patient compartment");
        } else if inside {
            assert!(mentions);
        }
        members += usize::from(inside);
    }
    assert!(members > 100, "{members} compartment members");
    let codes: Vec<&str> = search::patient_compartment_params("Observation")
        .iter()
        .map(|d| d.code())
        .collect();
    assert_eq!(codes, ["performer", "subject"]);
    // _include targets.
    let enc = all.iter().find(|r| r["resourceType"] == "Encounter").unwrap();
    let def = search::search_param("Encounter", "patient").unwrap();
    assert_eq!(
        reference_targets(enc, def),
        [(
            Some("Patient".to_owned()),
            enc["subject"]["reference"].as_str().unwrap()[8..].to_owned()
        )]
    );
    let sp = search::search_param("Encounter", "service-provider").unwrap();
    assert_eq!(reference_targets(enc, sp)[0].0.as_deref(), Some("Organization"));
    // Sorting by date: ascending keys are non-decreasing after sorting, descending use the end.
    let date = search::search_param("Observation", "date").unwrap();
    let mut keyed: Vec<_> = all
        .iter()
        .filter(|r| r["resourceType"] == "Observation")
        .map(|r| (sort_key(r, date, false).unwrap(), r))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let first = keyed.first().unwrap().1["effectiveDateTime"].as_str().unwrap();
    let last = keyed.last().unwrap().1["effectiveDateTime"].as_str().unwrap();
    assert!(first <= last);
    let b = date_bounds(keyed[0].1, date).unwrap();
    assert!(b.0 < b.1);
    let name = search::search_param("Patient", "name").unwrap();
    let mut pats: Vec<_> = all
        .iter()
        .filter(|r| r["resourceType"] == "Patient")
        .map(|r| {
            (
                sort_key(r, name, false).unwrap(),
                r["name"][0]["family"].as_str().unwrap().to_lowercase(),
            )
        })
        .collect();
    pats.sort();
    assert!(pats.len() >= BUNDLES);
    // _summary / _elements on real resources.
    let mut p = patient.clone();
    apply_summary(&mut p, Summary::True);
    assert!(p.get("name").is_some() && p.get("text").is_none() && p.get("extension").is_none());
    assert_eq!(p["meta"]["tag"][0]["code"], "SUBSETTED");
    let mut o = keyed[0].1.clone();
    apply_elements(&mut o, &["code".to_owned(), "value".to_owned()]);
    let keys: Vec<&str> = o.as_object().unwrap().keys().map(String::as_str).collect();
    assert!(
        keys.iter().all(|k| [
            "resourceType",
            "id",
            "meta",
            "status",
            "code",
            "valueQuantity",
            "valueCodeableConcept",
            "valueString"
        ]
        .contains(k)),
        "{keys:?}"
    );
    assert!(matches!(
        extract_values(&o, search::search_param("Observation", "code").unwrap()).unwrap()[0],
        IndexValue::Token { .. }
    ));
}

/// Every resource that matches also satisfies the index hints.
#[test]
fn hints_hold_for_every_match() {
    let all = resources();
    let queries = [
        (
            "Observation",
            "code=http://loinc.org|8302-2,29463-7&date=ge2012-03&date=lt2018",
        ),
        ("Observation", "code=|8302-2,http://loinc.org|55284-4&date=sa2013"),
        ("Observation", "date=eb2014-06-01,gt2019&code=72514-3"),
        ("Encounter", "date=le2015-01-01T10:00&date=ap2012"),
        (
            "Condition",
            "code=http://snomed.info/sct|162864005,444814009&onset-date=ge1992",
        ),
        ("Immunization", "vaccine-code=140,08&date=le2016"),
        ("Procedure", "date=2014,2016"),
    ];
    for (ty, q) in queries {
        let c = criteria(ty, q);
        let h = c.hints();
        let mut n = 0;
        for r in all.iter().filter(|r| c.matches(r)) {
            n += 1;
            if let Some(codes) = &h.codes {
                let values = extract_values(r, codes.param).unwrap();
                assert!(
                    values
                        .iter()
                        .any(|v| matches!(v, IndexValue::Token { system, code: Some(code) }
                        if codes.codes.iter().any(|(s, c)| c == code && (s.is_none() || s == system)))),
                    "{q}: {r}"
                );
            }
            for d in &h.dates {
                let (lo, hi) = date_bounds(r, d.param).expect("a matching resource has dates");
                assert!(
                    d.end.is_none_or(|e| lo < e) && d.start.is_none_or(|s| hi > s),
                    "{q}: {lo}..{hi} vs {d:?}"
                );
            }
        }
        assert!(h.codes.is_some() || !q.contains("code"), "{q}");
        assert!(!h.dates.is_empty(), "{q}");
        eprintln!("{ty}?{q}: {n} matches");
    }
}

/// Per-match cost: 4 filters (patient, code, date, status) against every
/// Observation of the bundles. Run with `--release -- --nocapture` for the
/// representative figure.
#[test]
fn per_match_cost() {
    let all = resources();
    let obs: Vec<&Value> = all
        .iter()
        .filter(|r| r["resourceType"] == "Observation")
        .collect();
    let pid = all.iter().find(|r| r["resourceType"] == "Patient").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let queries = [
        format!(
            "patient={pid}&code=http://loinc.org|29463-7,http://loinc.org|55284-4&date=ge2015&status=final"
        ),
        "code=http://loinc.org|8302-2&value-quantity=gt150|http://unitsofmeasure.org|cm&date=le2020-12-31"
            .to_owned(),
        "category=vital-signs&_lastUpdated=gt2023&subject:missing=false".to_owned(),
    ];
    for q in &queries {
        let c = criteria("Observation", q);
        let rounds = 20;
        let mut hits = 0;
        let t = Instant::now();
        for _ in 0..rounds {
            hits += obs.iter().filter(|o| c.matches(o)).count();
        }
        let per = t.elapsed().as_nanos() as f64 / (rounds * obs.len()) as f64;
        eprintln!(
            "{q}\n  {:.0} ns per match over {} observations ({} hits){}",
            per,
            obs.len(),
            hits / rounds,
            if cfg!(debug_assertions) {
                " [debug build]"
            } else {
                ""
            }
        );
        if !cfg!(debug_assertions) {
            assert!(per < 20_000.0, "matching takes {per} ns per resource");
        }
    }
}
