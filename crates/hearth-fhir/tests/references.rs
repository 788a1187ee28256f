//! Reference walking and rewriting on real Synthea Claim / ExplanationOfBenefit resources.

mod common;

use hearth_fhir::{references, rewrite_references, validate_resource};
use serde_json::{Value, json};

/// Every `"reference": "..."` string anywhere in the JSON (a schema-free cross-check).
fn all_reference_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if k == "reference"
                    && let Value::String(s) = x
                {
                    out.push(s.clone());
                }
                all_reference_strings(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| all_reference_strings(x, out)),
        _ => {}
    }
}

fn first_of(rt: &str) -> Value {
    for file in common::synthea_files() {
        let bundle = common::load(&file);
        for r in common::entries(&bundle) {
            if r["resourceType"] == rt && r.get("contained").is_some() == (rt == "ExplanationOfBenefit") {
                return r.clone();
            }
        }
    }
    panic!("no {rt} found");
}

#[test]
fn claim_references() {
    let claim = first_of("Claim");
    let sites = references(&claim);
    let mut expected = Vec::new();
    all_reference_strings(&claim, &mut expected);
    let got: Vec<String> = sites.iter().map(|s| s.reference.clone()).collect();
    assert_eq!(got, expected);
    assert!(sites.iter().any(|s| s.path == "Claim.patient"), "{sites:#?}");
    assert!(sites.iter().any(|s| s.path == "Claim.provider"));
    assert!(
        sites
            .iter()
            .any(|s| s.path.starts_with("Claim.item[0].encounter[0]"))
    );
}

#[test]
fn eob_references_include_contained() {
    let eob = first_of("ExplanationOfBenefit");
    let sites = references(&eob);
    let mut expected = Vec::new();
    all_reference_strings(&eob, &mut expected);
    assert_eq!(
        sites.iter().map(|s| s.reference.clone()).collect::<Vec<_>>(),
        expected
    );
    assert!(
        sites
            .iter()
            .any(|s| s.path.starts_with("ExplanationOfBenefit.contained[")),
        "{sites:#?}"
    );
    assert!(sites.iter().any(|s| s.path == "ExplanationOfBenefit.claim"));
}

#[test]
fn rewrite_synthea_references() {
    for rt in ["Claim", "ExplanationOfBenefit"] {
        let mut r = first_of(rt);
        let before = references(&r);
        let mut seen = Vec::new();
        let n = rewrite_references(&mut r, &mut |s| {
            seen.push(s.to_owned());
            s.strip_prefix("urn:uuid:").map(|id| format!("Resource/{id}"))
        });
        assert_eq!(
            seen,
            before.iter().map(|s| s.reference.clone()).collect::<Vec<_>>()
        );
        let uuids = before
            .iter()
            .filter(|s| s.reference.starts_with("urn:uuid:"))
            .count();
        assert_eq!(n, uuids);
        assert!(n > 0, "{rt} has urn:uuid references");
        let after = references(&r);
        assert_eq!(after.len(), before.len());
        for (a, b) in after.iter().zip(&before) {
            assert_eq!(a.path, b.path);
            match b.reference.strip_prefix("urn:uuid:") {
                Some(id) => assert_eq!(a.reference, format!("Resource/{id}")),
                None => assert_eq!(a.reference, b.reference),
            }
        }
        assert!(validate_resource(&r).iter().all(|i| !i.is_error()));
    }
}

#[test]
fn references_in_extensions_and_primitive_extensions() {
    let mut v = json!({
        "resourceType": "Patient",
        "extension": [{"url": "http://x.org/a", "valueReference": {"reference": "Practitioner/1"}}],
        "_birthDate": {"extension": [{"url": "http://x.org/b", "valueReference": {"reference": "Patient/2"}}]},
        "generalPractitioner": [{"reference": "Practitioner/3", "identifier": {"assigner": {"reference": "Organization/4"}}}],
        "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">reference</div>"}
    });
    let sites: Vec<(String, String)> = references(&v)
        .into_iter()
        .map(|s| (s.path, s.reference))
        .collect();
    assert_eq!(
        sites,
        vec![
            (
                "Patient.extension[0].valueReference".into(),
                "Practitioner/1".into()
            ),
            (
                "Patient._birthDate.extension[0].valueReference".into(),
                "Patient/2".into()
            ),
            ("Patient.generalPractitioner[0]".into(), "Practitioner/3".into()),
            (
                "Patient.generalPractitioner[0].identifier.assigner".into(),
                "Organization/4".into()
            ),
        ]
    );
    assert_eq!(rewrite_references(&mut v, &mut |_| None), 0);
    assert_eq!(rewrite_references(&mut v, &mut |s| Some(format!("{s}x"))), 4);
    assert_eq!(
        v["generalPractitioner"][0]["identifier"]["assigner"]["reference"],
        "Organization/4x"
    );
}
