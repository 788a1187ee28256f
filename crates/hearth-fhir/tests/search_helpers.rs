//! Helpers for the REST layer: `_summary` / `_elements` subsetting, sort keys,
//! `_include` targets, index hints and compartment membership.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hearth_fhir::search::{
    self, Criteria, Handling, IndexValue, ParseOptions, SUBSETTED_SYSTEM, Summary, apply_elements,
    apply_summary, date_bounds, extract_values, in_patient_compartment, parse, primary_code_param,
    reference_targets, sort_key,
};
use serde_json::{Value, json};

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_735_689_600)
}

fn criteria(ty: &str, q: &str) -> Criteria {
    let pairs: Vec<(String, String)> = q
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    parse(ty, &pairs, &ParseOptions::new(Handling::Strict, now())).unwrap_or_else(|e| panic!("{q}: {e:?}"))
}

fn observation() -> Value {
    json!({
        "resourceType": "Observation", "id": "bp", "meta": {"versionId": "2", "lastUpdated": "2024-01-01T00:00:00Z"},
        "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">BP</div>"},
        "extension": [{"url": "http://example.org/x", "valueString": "y"}],
        "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        "subject": {"reference": "Patient/p1"},
        "performer": [{"reference": "Practitioner/dr"}, {"reference": "https://other.example/fhir/Organization/o9"},
                      {"reference": "#c1"}, {"reference": "urn:uuid:abc"}],
        "effectiveDateTime": "2020-05-01T10:00:00Z",
        "_effectiveDateTime": {"extension": [{"url": "http://example.org/e", "valueString": "z"}]},
        "interpretation": [{"text": "normal"}],
        "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
             "valueQuantity": {"value": 120, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"},
             "interpretation": [{"text": "normal"}], "extension": [{"url": "http://example.org/c", "valueString": "c"}]},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
             "valueQuantity": {"value": 80, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}
        ]
    })
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

fn subsetted(v: &Value) -> bool {
    v["meta"]["tag"].as_array().is_some_and(|t| {
        t.iter()
            .any(|t| t["system"] == SUBSETTED_SYSTEM && t["code"] == "SUBSETTED")
    })
}

#[test]
fn summary_true_keeps_summary_elements_recursively() {
    let mut o = observation();
    apply_summary(&mut o, Summary::True);
    assert_eq!(
        keys(&o),
        [
            "resourceType",
            "id",
            "meta",
            "status",
            "code",
            "subject",
            "performer",
            "effectiveDateTime",
            "_effectiveDateTime",
            "component"
        ]
    );
    // Backbone children: code and value are summary, interpretation and extension are not.
    assert_eq!(keys(&o["component"][0]), ["code", "valueQuantity"]);
    assert!(subsetted(&o));
    assert_eq!(o["meta"]["versionId"], "2");
    // Idempotent tag.
    apply_summary(&mut o, Summary::True);
    assert_eq!(o["meta"]["tag"].as_array().unwrap().len(), 1);
}

#[test]
fn summary_text_data_count_false() {
    let mut t = observation();
    apply_summary(&mut t, Summary::Text);
    assert_eq!(keys(&t), ["resourceType", "id", "meta", "text", "status", "code"]);
    assert!(subsetted(&t));
    let mut d = observation();
    apply_summary(&mut d, Summary::Data);
    assert!(d.get("text").is_none() && d.get("component").is_some() && d.get("extension").is_some());
    assert!(subsetted(&d));
    for s in [Summary::Count, Summary::False] {
        let mut u = observation();
        apply_summary(&mut u, s);
        assert_eq!(u, observation());
    }
    // Resources without meta get one.
    let mut p =
        json!({"resourceType": "Patient", "id": "p", "name": [{"family": "X"}], "photo": [{"url": "x"}]});
    apply_summary(&mut p, Summary::True);
    assert_eq!(keys(&p), ["resourceType", "id", "name", "meta"]);
    assert!(subsetted(&p));
}

#[test]
fn elements_keep_requested_and_mandatory_elements() {
    let mut o = observation();
    apply_elements(&mut o, &["effective".to_owned(), "category".to_owned()]);
    // status and code are mandatory (1..1), so they stay.
    assert_eq!(
        keys(&o),
        [
            "resourceType",
            "id",
            "meta",
            "status",
            "category",
            "code",
            "effectiveDateTime",
            "_effectiveDateTime"
        ]
    );
    assert!(subsetted(&o));
    let c = criteria("Observation", "_elements=Observation.subject,value");
    let mut o = observation();
    apply_elements(&mut o, c.elements.as_deref().unwrap());
    assert_eq!(
        keys(&o),
        ["resourceType", "id", "meta", "status", "code", "subject"]
    );
}

#[test]
fn include_targets() {
    let o = observation();
    let perf = search::search_param("Observation", "performer").unwrap();
    assert_eq!(
        reference_targets(&o, perf),
        [
            (Some("Practitioner".to_owned()), "dr".to_owned()),
            (Some("Organization".to_owned()), "o9".to_owned())
        ]
    );
    let patient = search::search_param("Observation", "patient").unwrap();
    assert_eq!(
        reference_targets(&o, patient),
        [(Some("Patient".to_owned()), "p1".to_owned())]
    );
    let code = search::search_param("Observation", "code").unwrap();
    assert!(reference_targets(&o, code).is_empty());
    // A bare id takes the type of a single-target parameter.
    let enc = json!({"resourceType": "Encounter", "id": "e", "partOf": {"reference": "e0"}});
    let part_of = search::search_param("Encounter", "part-of").unwrap();
    assert_eq!(
        reference_targets(&enc, part_of),
        [(Some("Encounter".to_owned()), "e0".to_owned())]
    );
    // Bundle.composition points at the first entry's resource.
    let bundle = json!({"resourceType": "Bundle", "id": "b", "type": "document",
        "entry": [{"resource": {"resourceType": "Composition", "id": "c1"}}, {"resource": {"resourceType": "Patient", "id": "p"}}]});
    let comp = search::search_param("Bundle", "composition").unwrap();
    assert_eq!(
        reference_targets(&bundle, comp),
        [(Some("Composition".to_owned()), "c1".to_owned())]
    );
    assert!(criteria("Bundle", "composition=Composition/c1").matches(&bundle));
    assert!(!criteria("Bundle", "composition=Composition/c2").matches(&bundle));
}

#[test]
fn sort_keys() {
    let d = search::search_param("Observation", "date").unwrap();
    let at = |v: Value| {
        let mut o = observation();
        o.as_object_mut().unwrap().remove("effectiveDateTime");
        o["effectivePeriod"] = v;
        o
    };
    let a = at(json!({"start": "2020-01-01", "end": "2020-12-31"}));
    let b = at(json!({"start": "2020-06-01", "end": "2020-07-01"}));
    // Ascending by start: a first; descending by end: a first too (ends later).
    assert!(sort_key(&a, d, false) < sort_key(&b, d, false));
    assert!(sort_key(&a, d, true) > sort_key(&b, d, true));
    let open = at(json!({"start": "2019-01-01"}));
    assert!(sort_key(&open, d, true) > sort_key(&a, d, true));
    assert_eq!(sort_key(&json!({"resourceType": "Observation"}), d, false), None);
    // Strings fold; the lowest value for ascending, the highest for descending.
    let n = search::search_param("Patient", "name").unwrap();
    let p = |fam: &str, given: &str| json!({"resourceType": "Patient", "name": [{"family": fam, "given": [given]}]});
    assert!(sort_key(&p("Émile", "Zed"), n, false) < sort_key(&p("Fox", "Zed"), n, false));
    assert!(sort_key(&p("émile", "Zed"), n, true) > sort_key(&p("Fox", "Young"), n, true));
    let f = search::search_param("Patient", "family").unwrap();
    assert!(sort_key(&p("Émile", "a"), f, false) == sort_key(&p("emile", "b"), f, false));
    // Numbers and quantities by value, exactly.
    let q = search::search_param("Observation", "component-value-quantity").unwrap();
    let o = observation();
    let lo = sort_key(&o, q, false).unwrap();
    let hi = sort_key(&o, q, true).unwrap();
    assert!(lo < hi);
    let tok = search::search_param("Observation", "code").unwrap();
    assert!(sort_key(&o, tok, false).is_some());
}

#[test]
fn extract_values_and_date_bounds() {
    let o = observation();
    let d = search::search_param("Observation", "date").unwrap();
    let b = date_bounds(&o, d).unwrap();
    assert_eq!(b.1 - b.0, 1_000_000);
    assert_eq!(
        extract_values(&o, d).unwrap(),
        [IndexValue::Date { start: b.0, end: b.1 }]
    );
    let q = search::search_param("Observation", "component-value-quantity").unwrap();
    assert_eq!(
        extract_values(&o, q).unwrap()[1],
        IndexValue::Quantity {
            low: Some("80".into()),
            high: Some("80".into()),
            system: Some("http://unitsofmeasure.org".into()),
            code: Some("mm[Hg]".into()),
            unit: Some("mmHg".into())
        }
    );
    let s = search::search_param("Observation", "subject").unwrap();
    assert_eq!(
        extract_values(&o, s).unwrap(),
        [IndexValue::Reference {
            ty: Some("Patient".into()),
            id: Some("p1".into()),
            url: Some("Patient/p1".into())
        }]
    );
    // Malformed values are errors naming the parameter.
    let mut bad = observation();
    bad["effectiveDateTime"] = json!("yesterday");
    assert!(extract_values(&bad, d).unwrap_err().contains("date"));
    bad["code"] = json!("8480-6");
    let code = search::search_param("Observation", "code").unwrap();
    assert!(extract_values(&bad, code).unwrap_err().contains("not an object"));
    let mut p = json!({"resourceType": "RiskAssessment", "prediction": [{"probabilityDecimal": "0.5"}]});
    let prob = search::search_param("RiskAssessment", "probability").unwrap();
    assert!(extract_values(&p, prob).is_err());
    p["prediction"][0]["probabilityDecimal"] = serde_json::from_str("0.50").unwrap();
    assert_eq!(
        extract_values(&p, prob).unwrap(),
        [IndexValue::Number {
            low: Some("0.50".into()),
            high: Some("0.50".into())
        }]
    );
}

#[test]
fn hints_are_conservative() {
    assert_eq!(primary_code_param("Observation").unwrap().code(), "code");
    assert_eq!(primary_code_param("Immunization").unwrap().code(), "vaccine-code");
    assert_eq!(primary_code_param("MedicationRequest").unwrap().code(), "code");
    assert!(primary_code_param("Patient").is_none());
    let h = criteria(
        "Observation",
        "code=http://loinc.org|8480-6,1234&date=ge2020&date=lt2021-06&status=final",
    )
    .hints();
    let codes = h.codes.unwrap();
    assert_eq!(codes.param.code(), "code");
    assert_eq!(
        codes.codes,
        [
            (Some("http://loinc.org".to_owned()), "8480-6".to_owned()),
            (None, "1234".to_owned())
        ]
    );
    assert_eq!(h.dates.len(), 1);
    let (s2020, e2021) = (1_577_836_800_000_000, 1_622_505_600_000_000);
    assert_eq!((h.dates[0].start, h.dates[0].end), (Some(s2020), Some(e2021)));
    // No code hint for modifiers or system-only tokens; no date hint for ne.
    for q in [
        "code:not=1",
        "code=http://loinc.org|",
        "code:text=bp",
        "code:missing=false",
    ] {
        assert!(criteria("Observation", q).hints().codes.is_none(), "{q}");
    }
    assert!(criteria("Observation", "date=ne2020").hints().dates.is_empty());
    let h = criteria("Observation", "date=gt2020,lt2010").hints();
    assert_eq!((h.dates[0].start, h.dates[0].end), (None, None));
    let h = criteria(
        "Immunization",
        "vaccine-code=http://hl7.org/fhir/sid/cvx|140&_lastUpdated=sa2024",
    )
    .hints();
    assert_eq!(h.codes.unwrap().codes.len(), 1);
    assert_eq!(h.dates[0].param.code(), "_lastUpdated");
    assert!(h.dates[0].end.is_none());
}

#[test]
fn compartment_membership() {
    let o = observation();
    assert!(in_patient_compartment(&o, "p1"));
    assert!(!in_patient_compartment(&o, "p2"));
    let p = json!({"resourceType": "Patient", "id": "p1", "link": [{"other": {"reference": "Patient/p3"}, "type": "seealso"}]});
    assert!(in_patient_compartment(&p, "p1"));
    assert!(in_patient_compartment(&p, "p3"));
    let org = json!({"resourceType": "Organization", "id": "p1"});
    assert!(!in_patient_compartment(&org, "p1"));
    let claim = json!({"resourceType": "Claim", "id": "c", "patient": {"reference": "Patient/p9"},
        "payee": {"type": {"text": "x"}, "party": {"reference": "Patient/p1"}}});
    assert!(in_patient_compartment(&claim, "p1"));
    assert!(in_patient_compartment(&claim, "p9"));
}
