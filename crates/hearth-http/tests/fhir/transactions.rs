//! Transactions (all or nothing, `urn:uuid` references, a Synthea patient becoming a record)
//! and batches (each entry on its own).

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;

fn count_by_type(bundle: &Value) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for e in bundle["entry"].as_array().unwrap() {
        *m.entry(e["resource"]["resourceType"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    m
}

#[test]
fn a_synthea_bundle_becomes_a_record() {
    for fx in Fixture::all(1 << 20) {
        fx.run(|env| async move {
            let bundle = synthea(0);
            let n = bundle["entry"].as_array().unwrap().len();
            let (status, _, resp) = send(post(&env, &env.tokens.user, "/fhir", &bundle)).await;
            assert_eq!(status, StatusCode::OK, "{resp}");
            assert_eq!(resp["type"], "transaction-response");
            let entries = resp["entry"].as_array().unwrap();
            assert_eq!(entries.len(), n);
            assert!(
                entries.iter().all(|e| e["response"]["status"] == "201 Created"),
                "{resp}"
            );
            let patient = entries[0]["response"]["location"]
                .as_str()
                .unwrap()
                .split('/')
                .nth(1)
                .unwrap()
                .to_string();

            // Everything comes back, type by type, through $everything and through search.
            let everything = all_ids(
                &env,
                &env.tokens.user,
                &format!("/fhir/Patient/{patient}/$everything?_count=100"),
            )
            .await;
            assert_eq!(everything.len(), n, "{}", env.backend);
            for (t, expected) in count_by_type(&bundle) {
                let path = if t == "Patient" {
                    format!("/fhir/Patient?_id={patient}")
                } else {
                    format!("/fhir/Patient/{patient}/{t}?_count=500")
                };
                let found = all_ids(&env, &env.tokens.user, &path).await;
                assert_eq!(found.len(), expected, "{t}");
            }
            // References were rewritten to the new ids.
            let (_, _, enc) = send(get(
                &env,
                &env.tokens.user,
                &format!("/fhir/Encounter?patient={patient}&_count=1"),
            ))
            .await;
            assert_eq!(
                enc["entry"][0]["resource"]["subject"]["reference"],
                format!("Patient/{patient}")
            );
        });
    }
}

#[test]
fn transactions_are_all_or_nothing() {
    for fx in Fixture::all(1 << 20) {
        fx.run(|env| async move {
            let t = &env.tokens.all;
            let p = env.patient.to_string();
            let before = all_ids(&env, t, "/fhir/Observation").await.len();
            let mut bad = weight(&p, "70");
            bad["status"] = json!("not-a-status");
            let tx = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
                {"fullUrl": "urn:uuid:8c1c2d4e-1111-4e2b-9a6b-000000000001", "resource": weight(&p, "71"),
                 "request": {"method": "POST", "url": "Observation"}},
                {"resource": bad, "request": {"method": "POST", "url": "Observation"}}
            ]});
            let (status, _, oo) = send(post(&env, t, "/fhir", &tx)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{oo}");
            assert!(oo["issue"][0]["expression"][0].as_str().unwrap().starts_with("Bundle.entry[1]"), "{oo}");
            assert_eq!(all_ids(&env, t, "/fhir/Observation").await.len(), before, "nothing written");

            // A good one: an Encounter and an Observation referring to it by urn:uuid, a GET
            // processed after the writes, and a delete first.
            let (_, _, old) = send(post(&env, t, "/fhir/Observation", &weight(&p, "60"))).await;
            let old_id = old["id"].as_str().unwrap();
            let enc = json!({"resourceType": "Encounter", "status": "finished",
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
                "subject": {"reference": format!("Patient/{p}")}});
            let mut obs = weight(&p, "72");
            obs["encounter"] = json!({"reference": "urn:uuid:8c1c2d4e-1111-4e2b-9a6b-000000000002"});
            let tx = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
                {"request": {"method": "GET", "url": format!("Observation?subject=Patient/{p}")}},
                {"fullUrl": "urn:uuid:8c1c2d4e-1111-4e2b-9a6b-000000000003", "resource": obs, "request": {"method": "POST", "url": "Observation"}},
                {"fullUrl": "urn:uuid:8c1c2d4e-1111-4e2b-9a6b-000000000002", "resource": enc, "request": {"method": "POST", "url": "Encounter"}},
                {"request": {"method": "DELETE", "url": format!("Observation/{old_id}")}}
            ]});
            let (status, _, resp) = send(post(&env, t, "/fhir", &tx)).await;
            assert_eq!(status, StatusCode::OK, "{resp}");
            let e = resp["entry"].as_array().unwrap();
            assert_eq!(e[1]["response"]["status"], "201 Created");
            assert_eq!(e[2]["response"]["status"], "201 Created");
            assert_eq!(e[3]["response"]["status"], "204 No Content");
            // The GET ran last: it sees the new Observation, not the deleted one.
            let seen: Vec<&str> = e[0]["resource"]["entry"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|x| x["resource"]["id"].as_str())
                .collect();
            let new_obs = e[1]["response"]["location"].as_str().unwrap().split('/').nth(1).unwrap();
            let new_enc = e[2]["response"]["location"].as_str().unwrap().split('/').nth(1).unwrap();
            assert!(seen.contains(&new_obs) && !seen.contains(&old_id), "{seen:?}");
            let (_, _, read) = send(get(&env, t, &format!("/fhir/Observation/{new_obs}"))).await;
            assert_eq!(read["encounter"]["reference"], format!("Encounter/{new_enc}"));
        });
    }
}

#[test]
fn batches_run_each_entry_on_its_own() {
    for fx in Fixture::all(1 << 20) {
        fx.run(|env| async move {
            let t = &env.tokens.all;
            let p = env.patient.to_string();
            let batch = json!({"resourceType": "Bundle", "type": "batch", "entry": [
                {"resource": weight(&p, "70"), "request": {"method": "POST", "url": "Observation"}},
                {"resource": {"resourceType": "Observation"}, "request": {"method": "POST", "url": "Observation"}},
                {"request": {"method": "GET", "url": "Observation/01a20ad0-0000-7000-8000-000000000000"}}
            ]});
            let (status, _, resp) = send(post(&env, t, "/fhir", &batch)).await;
            assert_eq!(status, StatusCode::OK, "{resp}");
            assert_eq!(resp["type"], "batch-response");
            let e = resp["entry"].as_array().unwrap();
            assert_eq!(e[0]["response"]["status"], "201 Created");
            assert!(e[1]["response"]["status"].as_str().unwrap().starts_with("400"), "{resp}");
            assert_eq!(e[1]["response"]["outcome"]["resourceType"], "OperationOutcome");
            assert!(e[2]["response"]["status"].as_str().unwrap().starts_with("404"), "{resp}");
            assert_eq!(all_ids(&env, t, "/fhir/Observation").await.len(), 1);
        });
    }
}
