//! End-to-end tests of the `hearth` binary: each scenario runs the real executable as a
//! subprocess against a fresh installation (a temporary data directory, and a scratch database
//! when on PostgreSQL). Every scenario runs on SQLite, and on PostgreSQL when
//! `HEARTH_TEST_POSTGRES_URL` names a server (e.g. `postgres://postgres@127.0.0.1:5432/postgres`);
//! otherwise the PostgreSQL variant prints "skipped" and passes.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use common::{Backend, ChildGuard, SYNTHEA_DIR, Summary, clean_command, http};

/// `scenario!(name)` makes `name::sqlite` and `name::postgres` tests calling `name(Backend)`.
macro_rules! scenario {
    ($name:ident) => {
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(super::Backend::Sqlite);
            }
            #[test]
            fn postgres() {
                super::common::on_postgres(stringify!($name), super::$name);
            }
        }
    };
}

scenario!(serve);
scenario!(admin);
scenario!(synthea_import_and_export);
scenario!(malformed_input_changes_nothing);
scenario!(ndjson);
scenario!(record_takes_the_input_patient);

// ---------------------------------------------------------------------------------------------
// 1. serve

fn serve(backend: Backend) {
    let install = backend.install();
    // No configuration at all: a fresh working directory and no HEARTH_* variables, except the
    // database URL on PostgreSQL (given through the environment, as an operator would).
    let cwd = install.path("cwd");
    std::fs::create_dir(&cwd).unwrap();
    let stderr_path = install.path("serve.stderr");
    let mut cmd = clean_command(&cwd);
    if let Some(url) = &install.database_url {
        cmd.env("HEARTH_DATABASE_URL", url);
    }
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap());
    let mut server = ChildGuard::new(cmd.spawn().expect("start hearth serve"));
    let stdout = server
        .child
        .as_mut()
        .and_then(|c| c.stdout.take())
        .expect("stdout");

    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next());
        for _ in lines {} // Drain until the server exits.
    });
    let first = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Some(Ok(line))) => line,
        other => panic!(
            "the server printed no address ({other:?}); stderr:\n{}",
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        ),
    };
    let addr: SocketAddr = first
        .strip_prefix("hearth listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .parse()
        .unwrap_or_else(|e| panic!("bad address in {first:?}: {e}"));
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");

    let r = http::get(addr, "/healthz");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"status": "ok"}));
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{:?}",
        r.headers
    );

    let r = http::get(addr, "/readyz");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("\"ready\""), "{}", r.text());

    let r = http::get(addr, "/no-such-route");
    assert_eq!(r.status, 404, "{}", r.text());

    // The default data directory is ./hearth-data in the working directory.
    let data = cwd.join("hearth-data");
    assert!(data.is_dir(), "{} was not created", data.display());
    match backend {
        Backend::Sqlite => assert!(data.join("hearth.db").is_file(), "no SQLite database"),
        Backend::Postgres { .. } => assert!(
            !data.join("hearth.db").exists(),
            "a SQLite database was created although PostgreSQL was configured"
        ),
    }

    // SIGTERM stops it cleanly.
    let status = server.terminate(30);
    assert!(
        status.success(),
        "the server exited with {status} on SIGTERM; stderr:\n{}",
        std::fs::read_to_string(&stderr_path).unwrap_or_default()
    );
    let log = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(!log.contains("warning: unknown environment variable"), "{log}");
}

// ---------------------------------------------------------------------------------------------
// 2. admin

fn admin(backend: Backend) {
    let h = backend.install();
    let ann = h.create_account("ann@example.org", "Ann Example");

    // A second account with the same email is refused, clearly.
    let dup = h
        .run([
            "admin",
            "create-account",
            "--email",
            "ann@example.org",
            "--name",
            "Ann Again",
        ])
        .failure();
    dup.stderr_has(&["already exists"]);
    assert!(dup.stdout.is_empty(), "{}", dup.stdout);

    // A record for herself (default relationship) and one for her child.
    let own = h.create_record("ann@example.org", "Ann");
    let child = h.ok([
        "admin",
        "create-record",
        "--owner",
        "ann@example.org",
        "--name",
        "Ben",
        "--relationship",
        "parent",
    ]);
    let child = common::single_id(&child);
    assert_ne!(own, child);
    assert_ne!(own, ann);

    let records = h.list_records(Some("ann@example.org"));
    let by_id: HashMap<_, _> = records
        .iter()
        .map(|(id, n, p)| (id.clone(), (n.clone(), p.clone())))
        .collect();
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(
        by_id[&own],
        ("Ann".into(), "ann@example.org:self:custodian".into())
    );
    assert_eq!(
        by_id[&child],
        ("Ben".into(), "ann@example.org:parent:custodian".into())
    );
    assert_eq!(h.list_records(None).len(), 2);

    // Another account sees only its own.
    h.create_account("carl@example.org", "Carl");
    let carls = h.create_record("carl@example.org", "Carl");
    let listed = h.list_records(Some("carl@example.org"));
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, carls);
    assert_eq!(h.list_records(None).len(), 3);

    // A bogus relationship names the allowed values and creates nothing.
    let r = h
        .run([
            "admin",
            "create-record",
            "--owner",
            "ann@example.org",
            "--name",
            "X",
            "--relationship",
            "bogus",
        ])
        .failure();
    r.stderr_has(&["bogus", "self", "parent", "expected one of"]);

    // An unknown owner is refused by name.
    let r = h
        .run([
            "admin",
            "create-record",
            "--owner",
            "nobody@example.org",
            "--name",
            "X",
        ])
        .failure();
    r.stderr_has(&["nobody@example.org"]);
    h.run(["admin", "list-records", "--owner", "nobody@example.org"])
        .failure()
        .stderr_has(&["nobody@example.org"]);
    h.run(["import", "--owner", "nobody@example.org", SYNTHEA_DIR])
        .failure()
        .stderr_has(&["nobody@example.org"]);
    let missing = uuid::Uuid::new_v4().to_string();
    let one = h.write("one.json", r#"{"resourceType":"Basic","code":{"text":"x"}}"#);
    h.run(["import", "--quiet", "--record", &missing, one.to_str().unwrap()])
        .failure()
        .stderr_line_has(&["one.json", &missing, "not found"]);
    h.run(["export", "--record", "not-an-id", "--out", "x"])
        .failure()
        .stderr_has(&["not-an-id"]);
    assert_eq!(h.list_records(None).len(), 3, "a failed command created a record");

    // A bad email is refused.
    h.run([
        "admin",
        "create-account",
        "--email",
        "not an email",
        "--name",
        "X",
    ])
    .failure()
    .stderr_has(&["not an email"]);
}

// ---------------------------------------------------------------------------------------------
// 3. + 4. the whole Synthea sample, idempotency, practitioners, export round trip

fn synthea_files() -> (Vec<PathBuf>, PathBuf) {
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

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn entries(bundle: &Value) -> &Vec<Value> {
    bundle["entry"].as_array().expect("Bundle.entry")
}

/// "Given… Family" of a Patient's first name, as Hearth names its record.
fn patient_name(bundle: &Value) -> String {
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

fn synthea_import_and_export(backend: Backend) {
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
fn assert_round_trip(bundle: &Value, exp: &common::export::Export) {
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
fn rewrite_references(v: &mut Value, f: &mut dyn FnMut(&str) -> Option<String>) {
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

// ---------------------------------------------------------------------------------------------
// 5. malformed input

/// A body-weight Observation of `patient` (an item id) with the given value and unit.
fn weight(patient: &str, value: &str, unit: &str, day: u32) -> Value {
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

fn new_urn() -> String {
    format!("urn:uuid:{}", uuid::Uuid::new_v4())
}

fn bundle(kind: &str, resources: Vec<Value>) -> Vec<u8> {
    let entry: Vec<Value> = resources
        .into_iter()
        .map(|r| {
            let rt = r["resourceType"].clone();
            json!({"fullUrl": new_urn(), "resource": r, "request": {"method": "POST", "url": rt}})
        })
        .collect();
    serde_json::to_vec(&json!({"resourceType": "Bundle", "type": kind, "entry": entry})).unwrap()
}

fn malformed_input_changes_nothing(backend: Backend) {
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

// ---------------------------------------------------------------------------------------------
// 6. NDJSON

fn ndjson(backend: Backend) {
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
fn record_takes_the_input_patient(backend: Backend) {
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
