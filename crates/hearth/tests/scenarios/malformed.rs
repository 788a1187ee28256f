//! Scenario 5: malformed input is refused with the file, entry and path, and changes nothing.

use serde_json::{Value, json};

use crate::common::Backend;
use crate::scenarios::synthea::synthea_files;

// ---------------------------------------------------------------------------------------------
// 5. malformed input

/// A body-weight Observation of `patient` (an item id) with the given value and unit.
pub fn weight(patient: &str, value: &str, unit: &str, day: u32) -> Value {
    serde_json::from_str(&format!(
        r#"{{"resourceType":"Observation","status":"final",
            "category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}}]}}],
            "code":{{"coding":[{{"system":"http://loinc.org","code":"29463-7","display":"Body Weight"}}]}},
            "subject":{{"reference":"Patient/{patient}"}},
            "effectiveDateTime":"2024-03-{day:02}T08:00:00Z",
            "valueQuantity":{{"value":{value},"unit":"{unit}","system":"http://unitsofmeasure.org","code":"{unit}"}}}}"#
    ))
    .unwrap()
}

pub fn new_urn() -> String {
    format!("urn:uuid:{}", uuid::Uuid::new_v4())
}

pub fn bundle(kind: &str, resources: Vec<Value>) -> Vec<u8> {
    let entry: Vec<Value> = resources
        .into_iter()
        .map(|r| {
            let rt = r["resourceType"].clone();
            json!({"fullUrl": new_urn(), "resource": r, "request": {"method": "POST", "url": rt}})
        })
        .collect();
    serde_json::to_vec(&json!({"resourceType": "Bundle", "type": kind, "entry": entry})).unwrap()
}

pub fn malformed_input_changes_nothing(backend: Backend) {
    let h = backend.install();
    let (patients, _) = synthea_files();
    h.create_account("m@example.org", "M");
    let s = h.import_ok(["--owner", "m@example.org", patients[0].to_str().unwrap()]);
    assert_eq!((s.records_created, s.unplaced), (1, 0));
    let records = h.list_records(None);
    let record = records[0].0.clone();
    let before = h.export(&record);
    let patient = before.patient_item();
    let fingerprint = before.data_fingerprint();

    let check = |name: &str, content: Vec<u8>, extra: &[&str], line_parts: &[&str]| {
        let file = h.write(&format!("bad/{name}"), content);
        let run = h.import(["--record", &record, file.to_str().unwrap()]).failure();
        run.stderr_has(&["import stopped"]).stderr_has(extra);
        let mut parts = vec![file.to_str().unwrap()];
        parts.extend_from_slice(line_parts);
        run.stderr_line_has(&parts);
        let after = h.export(&record);
        assert_eq!(
            (after.items(), after.versions()),
            (before.items(), before.versions()),
            "{name}: the record changed"
        );
        assert_eq!(
            after.data_fingerprint(),
            fingerprint,
            "{name}: the record changed"
        );
        assert_eq!(h.list_records(None), records, "{name}: records changed");
    };

    // (a) invalid JSON: cut off, and a syntax error.
    check(
        "cut.json",
        br#"{"resourceType":"Bundle","#.to_vec(),
        &[],
        &["line 1 column"],
    );
    check(
        "syntax.json",
        br#"{"resourceType":"Bundle","type":"batch","entry":[}"#.to_vec(),
        &[],
        &["invalid JSON", "line 1 column"],
    );

    // (b) a real bundle cut in half.
    let bytes = std::fs::read(&patients[0]).unwrap();
    check(
        "truncated.json",
        bytes[..bytes.len() / 2].to_vec(),
        &[],
        &["ends too early", "line 1 column"],
    );

    // (c) a wrong type.
    let mut bad = weight(&patient, "70.1", "kg", 1);
    bad["status"] = json!(5);
    check(
        "status.json",
        bundle("batch", vec![weight(&patient, "70.0", "kg", 2), bad]),
        &[],
        &["Bundle.entry[1].resource", "status"],
    );

    // (d) a reference to nothing in the bundle.
    let mut bad = weight(&patient, "70.1", "kg", 1);
    bad["subject"]["reference"] = json!(new_urn());
    check(
        "reference.json",
        bundle("transaction", vec![bad]),
        &[],
        &["Bundle.entry[0].resource", "subject"],
    );

    // (e) an unknown element.
    let mut bad = weight(&patient, "70.1", "kg", 1);
    let q = bad
        .as_object_mut()
        .unwrap()
        .shift_remove("valueQuantity")
        .unwrap();
    bad["valueQantity"] = q;
    check(
        "unknown.json",
        bundle("batch", vec![bad]),
        &[],
        &["Bundle.entry[0].resource", "valueQantity"],
    );

    // (f) a weight in centimetres breaks the weight rule.
    check(
        "cm.json",
        bundle("batch", vec![weight(&patient, "70.1", "cm", 1)]),
        &[],
        &["Bundle.entry[0].resource", "valueQuantity.code"],
    );

    // (g) three valid entries and one invalid: none is stored.
    let valid: Vec<Value> = (1..=3)
        .map(|d| weight(&patient, &format!("7{d}.50"), "kg", d))
        .collect();
    let mut with_bad = valid.clone();
    with_bad.insert(2, weight(&patient, "70", "cm", 9));
    check(
        "mixed.json",
        bundle("batch", with_bad),
        &[],
        &["Bundle.entry[2].resource", "valueQuantity.code"],
    );

    // (h) two Patients for one record.
    let p = json!({"resourceType": "Patient", "name": [{"family": "One"}]});
    let q = json!({"resourceType": "Patient", "name": [{"family": "Two"}]});
    check(
        "two-patients.json",
        bundle("collection", vec![p, q]),
        &[],
        &["more than one Patient"],
    );

    // The three valid entries alone are fine (so (g) failed for the one bad entry only).
    let file = h.write("good.json", bundle("batch", valid));
    let s = h.import_ok(["--record", &record, file.to_str().unwrap()]);
    assert_eq!((s.created, s.updated, s.unchanged), (3, 0, 0));
    let after = h.export(&record);
    assert_eq!(after.items(), before.items() + 3);
    let values: Vec<String> = after
        .resources
        .values()
        .filter(|r| {
            r["resourceType"] == "Observation"
                && r["subject"]["reference"] == format!("Patient/{patient}").as_str()
                && r["code"]["coding"][0]["code"] == "29463-7"
                && r["effectiveDateTime"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("2024-03"))
        })
        .map(|r| r["valueQuantity"]["value"].to_string())
        .collect();
    let mut values = values;
    values.sort();
    // The text of each number is kept: 71.50 stays 71.50.
    assert_eq!(values, ["71.50", "72.50", "73.50"]);
}
