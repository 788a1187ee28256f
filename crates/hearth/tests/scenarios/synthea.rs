//! Scenarios 3 and 4: the whole Synthea sample imported (twice: idempotent), the practitioner
//! directory into one record, and the export round trip.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{self, Backend, SYNTHEA_DIR, Summary};

// ---------------------------------------------------------------------------------------------
// 3. + 4. the whole Synthea sample, idempotency, practitioners, export round trip

pub fn synthea_files() -> (Vec<PathBuf>, PathBuf) {
    let mut patients = Vec::new();
    let mut practitioners = None;
    for e in std::fs::read_dir(SYNTHEA_DIR).expect("the Synthea sample (see shared/data/README.md)") {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".json") {
            continue;
        }
        if name.starts_with("practitionerInformation") {
            assert!(practitioners.replace(p).is_none(), "two practitioner files");
        } else {
            patients.push(p);
        }
    }
    patients.sort();
    (patients, practitioners.expect("the practitioner file"))
}

pub fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub fn entries(bundle: &Value) -> &Vec<Value> {
    bundle["entry"].as_array().expect("Bundle.entry")
}

/// "Given… Family" of a Patient's first name, as Hearth names its record.
pub fn patient_name(bundle: &Value) -> String {
    let patient = entries(bundle)
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == "Patient")
        .expect("a Patient");
    let n = &patient["name"][0];
    let given: Vec<&str> = n["given"]
        .as_array()
        .map(|g| g.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    format!("{} {}", given.join(" "), n["family"].as_str().unwrap_or(""))
        .trim()
        .to_string()
}

pub fn synthea_import_and_export(backend: Backend) {
    let h = backend.install();
    let (patients, practitioner_file) = synthea_files();
    assert_eq!(patients.len(), 123);
    h.create_account("importer@example.org", "Importer");

    // The whole directory, one record per Patient.
    let s = h.import_ok(["--owner", "importer@example.org", SYNTHEA_DIR]);
    assert_eq!(
        s,
        Summary {
            units: 124,
            resources: 36206,
            created: 36206 - 102,
            updated: 0,
            unchanged: 0,
            records_created: 123,
            records_touched: 123,
            unplaced: 102,
        }
    );
    let records = h.list_records(Some("importer@example.org"));
    assert_eq!(records.len(), 123);
    for (_, _, people) in &records {
        assert_eq!(people, "importer@example.org:other:custodian");
    }

    // Again: nothing changes.
    let again = h.import_ok(["--owner", "importer@example.org", SYNTHEA_DIR]);
    assert_eq!(
        again,
        Summary {
            units: 124,
            resources: 36206,
            created: 0,
            updated: 0,
            unchanged: 36206 - 102,
            records_created: 0,
            records_touched: 123,
            unplaced: 102,
        }
    );
    assert_eq!(h.list_records(None), records);

    // The export of the first file's patient matches the source, entry by entry.
    let first = read_json(&patients[0]);
    let name = patient_name(&first);
    let matching: Vec<&(String, String, String)> = records.iter().filter(|r| r.1 == name).collect();
    assert_eq!(matching.len(), 1, "records named {name:?}: {matching:?}");
    let record = matching[0].0.clone();
    let exp = h.export(&record);
    assert_eq!(exp.manifest["record"]["id"], record.as_str());
    assert_eq!(exp.manifest["record"]["display_name"], name.as_str());
    assert_round_trip(&first, &exp);
    assert_eq!(exp.items(), entries(&first).len() as u64);
    assert_eq!(exp.versions(), entries(&first).len() as u64);

    // The practitioners into a new, empty record: all created, then all unchanged.
    let fresh = h.create_record("importer@example.org", "Practitioners");
    let prac_path = practitioner_file.to_str().unwrap();
    let s = h.import_ok(["--record", &fresh, prac_path]);
    assert_eq!(
        s,
        Summary {
            units: 1,
            resources: 102,
            created: 102,
            records_touched: 1,
            ..Default::default()
        }
    );
    let s = h.import_ok(["--record", &fresh, prac_path]);
    assert_eq!(
        s,
        Summary {
            units: 1,
            resources: 102,
            unchanged: 102,
            records_touched: 1,
            ..Default::default()
        }
    );
    let prac_export = h.export(&fresh);
    assert_eq!(prac_export.items(), 103, "102 Practitioners and the Patient");
    assert_round_trip(&read_json(&practitioner_file), &prac_export);

    // Into the first patient's record, whose bundle already holds some of these Practitioners
    // (same fullUrl, different content): those get a new version, the rest are created.
    let practitioners = read_json(&practitioner_file);
    let source_by_url: HashMap<&str, &Value> = entries(&first)
        .iter()
        .map(|e| (e["fullUrl"].as_str().unwrap(), &e["resource"]))
        .collect();
    let (mut same, mut changed) = (0, 0);
    for e in entries(&practitioners) {
        match source_by_url.get(e["fullUrl"].as_str().unwrap()) {
            Some(r) if **r == e["resource"] => same += 1,
            Some(_) => changed += 1,
            None => {}
        }
    }
    assert!(same + changed > 0, "the sample changed: no overlap");
    let s = h.import_ok(["--record", &record, prac_path]);
    assert_eq!(
        s,
        Summary {
            units: 1,
            resources: 102,
            created: 102 - same - changed,
            updated: changed,
            unchanged: same,
            records_touched: 1,
            ..Default::default()
        }
    );
    let s = h.import_ok(["--record", &record, prac_path]);
    assert_eq!((s.created, s.updated, s.unchanged), (0, 0, 102));
    let after = h.export(&record);
    assert_eq!(after.items(), exp.items() + 102 - same - changed);
    assert_eq!(after.versions(), exp.versions() + 102 - same);
    assert_eq!(h.list_records(None).len(), 124);
}

/// Every entry of `bundle` is the current version of the item with its fullUrl as client id, and
/// equals the source resource with its id and `urn:uuid:` references replaced by item ids.
pub fn assert_round_trip(bundle: &Value, exp: &common::export::Export) {
    let current = exp.current_by_client_id();
    let mut target_of_url: HashMap<String, String> = HashMap::new();
    for e in entries(bundle) {
        let url = e["fullUrl"].as_str().expect("fullUrl");
        let (meta, _) = current
            .get(url)
            .unwrap_or_else(|| panic!("no exported item has client id {url}"));
        target_of_url.insert(
            url.to_string(),
            format!(
                "{}/{}",
                e["resource"]["resourceType"].as_str().unwrap(),
                meta["id"].as_str().unwrap()
            ),
        );
    }
    let mut unmatched: BTreeMap<&String, ()> = current.keys().map(|k| (k, ())).collect();
    for (i, e) in entries(bundle).iter().enumerate() {
        let url = e["fullUrl"].as_str().unwrap();
        unmatched.remove(&url.to_string());
        let (meta, exported) = &current[url];
        let item = meta["id"].as_str().unwrap();
        assert_eq!(meta["resource_type"], e["resource"]["resourceType"]);
        // Provenance: written by the importer under the source's fullUrl as client id.
        assert_eq!(meta["created"]["app"], "hearth-import");
        assert_eq!(meta["client_id"].as_str(), Some(url));
        assert_eq!(
            exported["meta"]["versionId"].as_str(),
            Some(meta["version"].to_string().as_str())
        );
        assert!(exported["meta"]["lastUpdated"].is_string());

        let mut want = e["resource"].clone();
        want["id"] = Value::String(item.to_string());
        rewrite_references(&mut want, &mut |r| {
            if r.starts_with("urn:uuid:") {
                Some(
                    target_of_url
                        .get(r)
                        .unwrap_or_else(|| panic!("entry {i}: {r} is not in the bundle"))
                        .clone(),
                )
            } else {
                None
            }
        });
        let mut got = exported.clone();
        let m = got["meta"].as_object_mut().expect("meta");
        m.shift_remove("versionId");
        m.shift_remove("lastUpdated");
        if m.is_empty() && want.get("meta").is_none() {
            got.as_object_mut().unwrap().shift_remove("meta");
        }
        if got != want {
            panic!(
                "entry {i} ({url}) differs after export\n--- source (rewritten)\n{}\n--- exported\n{}",
                serde_json::to_string(&want).unwrap(),
                serde_json::to_string(&got).unwrap()
            );
        }
        // Byte for byte, key order included: "resourceType" and "id" first, then the source's
        // order (and the text of every number).
        let mut ordered = serde_json::Map::new();
        let w = want.as_object().unwrap();
        for k in ["resourceType", "id"] {
            ordered.insert(k.to_string(), w[k].clone());
        }
        for (k, v) in w {
            if k != "resourceType" && k != "id" {
                ordered.insert(k.clone(), v.clone());
            }
        }
        assert_eq!(
            serde_json::to_string(&got).unwrap(),
            serde_json::to_string(&Value::Object(ordered)).unwrap(),
            "entry {i} ({url}): the exported text differs (key order or number text)"
        );
    }
    // Nothing else carries a client id (the record's own Patient, made by the operator, has none).
    let left: Vec<&String> = unmatched.into_keys().collect();
    assert!(left.is_empty(), "exported items not in the bundle: {left:?}");
}

/// Applies `f` to every `reference` string (as in FHIR `Reference.reference`).
pub fn rewrite_references(v: &mut Value, f: &mut dyn FnMut(&str) -> Option<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "reference"
                    && let Value::String(s) = x
                {
                    if let Some(new) = f(s) {
                        *s = new;
                    }
                } else {
                    rewrite_references(x, f);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rewrite_references(x, f)),
        _ => {}
    }
}
