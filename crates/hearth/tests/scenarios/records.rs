//! Scenarios 6 and 7: NDJSON import, and `--record` taking the input's Patient.

use serde_json::json;

use crate::common::{Backend, Summary};
use crate::scenarios::malformed::{new_urn, weight};

// ---------------------------------------------------------------------------------------------
// 6. NDJSON

pub fn ndjson(backend: Backend) {
    let h = backend.install();
    h.create_account("n@example.org", "N");
    let lines = [
        json!({"resourceType": "Patient", "id": "p1", "name": [{"given": ["Nora", "Jane"], "family": "Dee"}],
               "gender": "female", "birthDate": "1980-02-03"}),
        json!({"resourceType": "Observation", "id": "o1", "status": "final",
               "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
               "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2024-01-01",
               "valueQuantity": {"value": 61.0, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}),
        json!({"resourceType": "Observation", "id": "o2", "status": "final",
               "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
               "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2024-01-01",
               "valueQuantity": {"value": 64, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}}),
        json!({"resourceType": "Observation", "id": "o3", "status": "final",
               "code": {"text": "weight check"},
               "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2024-01-02",
               "derivedFrom": [{"reference": "Observation/o1"}],
               "valueString": "stable"}),
    ];
    let text: String = lines
        .iter()
        .map(|l| format!("{}\n", serde_json::to_string(l).unwrap()))
        .collect();
    let file = h.write("in/export.ndjson", text);
    let path = file.to_str().unwrap();

    let s = h.import_ok(["--owner", "n@example.org", path]);
    assert_eq!(
        s,
        Summary {
            units: 1,
            resources: 4,
            created: 4,
            records_created: 1,
            records_touched: 1,
            ..Default::default()
        }
    );
    let records = h.list_records(Some("n@example.org"));
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].1, "Nora Jane Dee");

    let again = h.import_ok(["--owner", "n@example.org", path]);
    assert_eq!(
        again,
        Summary {
            units: 1,
            resources: 4,
            unchanged: 4,
            records_touched: 1,
            ..Default::default()
        }
    );
    assert_eq!(h.list_records(None), records);

    // References point at the items; client ids are the source Type/id.
    let exp = h.export(&records[0].0);
    let current = exp.current_by_client_id();
    let id_of = |cid: &str| {
        current
            .get(cid)
            .unwrap_or_else(|| panic!("no item with client id {cid}: {:?}", current.keys()))
            .0["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let patient = id_of("Patient/p1");
    assert_eq!(patient, exp.patient_item());
    for o in ["Observation/o1", "Observation/o2", "Observation/o3"] {
        assert_eq!(
            current[o].1["subject"]["reference"],
            format!("Patient/{patient}").as_str()
        );
    }
    assert_eq!(
        current["Observation/o3"].1["derivedFrom"][0]["reference"],
        format!("Observation/{}", id_of("Observation/o1")).as_str()
    );
    assert_eq!(
        current["Observation/o1"].1["valueQuantity"]["value"].to_string(),
        "61.0"
    );
    assert_eq!(exp.items(), 4);

    // Across files and units: a directory with Patient.ndjson (imported first) and a file of more
    // than one unit (2,000 lines each) whose last line refers to an Observation of the first.
    let n = 2001;
    let mut obs = String::new();
    for i in 1..=n {
        let mut w = weight(
            "x",
            &format!("{}.{}", 50 + i % 40, i % 10),
            "kg",
            1 + (i % 28) as u32,
        );
        w["id"] = json!(format!("w{i}"));
        w["subject"]["reference"] = json!("Patient/p2");
        obs.push_str(&serde_json::to_string(&w).unwrap());
        obs.push('\n');
    }
    let last = json!({"resourceType": "Observation", "id": "summary", "status": "final",
        "code": {"text": "first weight"}, "subject": {"reference": "Patient/p2"},
        "effectiveDateTime": "2024-04-01", "derivedFrom": [{"reference": "Observation/w1"}],
        "valueString": "baseline"});
    obs.push_str(&serde_json::to_string(&last).unwrap());
    obs.push('\n');
    h.write("dir/Observation.ndjson", obs);
    h.write(
        "dir/Patient.ndjson",
        format!(
            "{}\n",
            json!({"resourceType": "Patient", "id": "p2", "name": [{"given": ["Ola"], "family": "Ek"}]})
        ),
    );
    let dir = h.path("dir");
    let dir = dir.to_str().unwrap();
    let s = h.import_ok(["--owner", "n@example.org", dir]);
    assert_eq!(
        s,
        Summary {
            units: 3,
            resources: n as u64 + 2,
            created: n as u64 + 2,
            records_created: 1,
            records_touched: 1,
            ..Default::default()
        }
    );
    let again = h.import_ok(["--owner", "n@example.org", dir]);
    assert_eq!(
        (again.created, again.updated, again.unchanged),
        (0, 0, n as u64 + 2)
    );
    let records = h.list_records(Some("n@example.org"));
    assert_eq!(records.len(), 2);
    let ola = records.iter().find(|r| r.1 == "Ola Ek").expect("Ola's record");
    let exp = h.export(&ola.0);
    assert_eq!(exp.items(), n as u64 + 2);
    let current = exp.current_by_client_id();
    assert_eq!(
        current["Observation/summary"].1["derivedFrom"][0]["reference"],
        format!(
            "Observation/{}",
            current["Observation/w1"].0["id"].as_str().unwrap()
        )
        .as_str()
    );
}

/// `--record`: the input's one Patient becomes the record's Patient (a new version of it), and
/// references to it point at the record's Patient item; a second run changes nothing.
pub fn record_takes_the_input_patient(backend: Backend) {
    let h = backend.install();
    h.create_account("r@example.org", "R");
    let record = h.create_record("r@example.org", "Robin");
    let patient_url = new_urn();
    let weight_url = new_urn();
    let patient = json!({"resourceType": "Patient", "name": [{"family": "Doe", "given": ["Robin"]}], "gender": "female", "birthDate": "2015-06-01"});
    let obs = weight(&patient_url.replace("urn:uuid:", ""), "21.50", "kg", 3);
    let mut obs = obs;
    obs["subject"] = json!({"reference": patient_url});
    let doc = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": patient_url, "resource": patient, "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": weight_url, "resource": obs, "request": {"method": "POST", "url": "Observation"}},
    ]});
    let file = h.write("robin.json", serde_json::to_vec(&doc).unwrap());
    let s = h.import_ok(["--record", &record, file.to_str().unwrap()]);
    assert_eq!(
        (s.resources, s.created, s.updated, s.records_created),
        (2, 1, 1, 0),
        "{s:?}"
    );
    let exp = h.export(&record);
    let patient_item = exp.patient_item();
    let current = exp.current_by_client_id();
    let (pmeta, presource) = &current[&patient_url];
    assert_eq!(
        pmeta["id"].as_str(),
        Some(patient_item.as_str()),
        "the input Patient is the record's Patient"
    );
    assert_eq!(pmeta["version"], 2);
    assert_eq!(presource["birthDate"], "2015-06-01");
    let (_, wresource) = &current[&weight_url];
    assert_eq!(
        wresource["subject"]["reference"],
        format!("Patient/{patient_item}")
    );
    assert_eq!(wresource["valueQuantity"]["value"].to_string(), "21.50");
    let again = h.import_ok(["--record", &record, file.to_str().unwrap()]);
    assert_eq!(
        (again.created, again.updated, again.unchanged),
        (0, 0, 2),
        "{again:?}"
    );
}
