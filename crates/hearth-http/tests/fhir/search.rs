//! Search over HTTP: parameters and prefixes, paging that stays correct while data changes,
//! `_summary=count`, `_include`/`_revinclude`, `_sort`, strict and lenient handling; type and
//! system history; `$everything` paging; the custodian views.

use reqwest::StatusCode;
use serde_json::json;

use super::*;

/// Loads the first Synthea patient with the user token; returns its Patient id.
async fn load(env: &Env) -> String {
    let (status, _, resp) = send(post(env, &env.tokens.user, "/fhir", &synthea(0))).await;
    assert_eq!(status, StatusCode::OK, "{resp}");
    resp["entry"][0]["response"]["location"]
        .as_str()
        .unwrap()
        .split('/')
        .nth(1)
        .unwrap()
        .to_string()
}

#[test]
fn parameters_counts_includes_and_strictness() {
    for fx in Fixture::all(1 << 20) {
        fx.run(|env| async move {
            let u = &env.tokens.user;
            let p = load(&env).await;
            let (_, _, all_obs) = send(get(
                &env,
                u,
                &format!("/fhir/Observation?patient={p}&_count=1000"),
            ))
            .await;
            let obs: Vec<&serde_json::Value> = all_obs["entry"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| &e["resource"])
                .collect();
            // Independent count of body heights (LOINC 8302-2) and of those from 2015 on.
            let heights: Vec<_> = obs
                .iter()
                .filter(|o| o["code"]["coding"][0]["code"] == "8302-2")
                .collect();
            let since_2015 = heights
                .iter()
                .filter(|o| o["effectiveDateTime"].as_str().unwrap() >= "2015")
                .count();
            assert!(!heights.is_empty());
            let found = all_ids(
                &env,
                u,
                &format!("/fhir/Observation?patient={p}&code=http://loinc.org|8302-2&_count=3"),
            )
            .await;
            assert_eq!(found.len(), heights.len());
            let found = all_ids(
                &env,
                u,
                &format!("/fhir/Observation?patient={p}&code=8302-2&date=ge2015"),
            )
            .await;
            assert_eq!(found.len(), since_2015);
            // _summary=count; _total=accurate.
            let (_, _, c) = send(get(
                &env,
                u,
                &format!("/fhir/Observation?patient={p}&code=8302-2&_summary=count"),
            ))
            .await;
            assert_eq!(c["total"], heights.len());
            assert!(c.get("entry").is_none());
            // _include brings the encounters; _revinclude brings observations to a patient.
            let (_, _, inc) = send(get(
                &env,
                u,
                &format!("/fhir/Observation?patient={p}&code=8302-2&_include=Observation:encounter&_count=2"),
            ))
            .await;
            let modes: Vec<(&str, &str)> = inc["entry"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["resource"]["resourceType"].as_str().unwrap(),
                        e["search"]["mode"].as_str().unwrap(),
                    )
                })
                .collect();
            assert!(
                modes.contains(&("Observation", "match")) && modes.contains(&("Encounter", "include")),
                "{modes:?}"
            );
            let (_, _, rev) = send(get(
                &env,
                u,
                &format!("/fhir/Patient?_id={p}&_revinclude=Observation:patient"),
            ))
            .await;
            let included = rev["entry"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["search"]["mode"] == "include")
                .count();
            assert_eq!(included, obs.len());
            // Unknown parameters: ignored (and reported) by default, 400 under strict handling.
            let (status, _, lenient) = send(get(
                &env,
                u,
                &format!("/fhir/Observation?patient={p}&code=8302-2&nonsense=1"),
            ))
            .await;
            assert_eq!(status, StatusCode::OK);
            assert!(!lenient["link"][0]["url"].as_str().unwrap().contains("nonsense"));
            let (status, _, oo) =
                send(get(&env, u, "/fhir/Observation?nonsense=1").header("prefer", "handling=strict")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{oo}");
            // _sort=-date orders by effective date, newest first.
            let (_, _, sorted) = send(get(
                &env,
                u,
                &format!("/fhir/Observation?patient={p}&code=8302-2&_sort=-date"),
            ))
            .await;
            let dates: Vec<&str> = sorted["entry"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["resource"]["effectiveDateTime"].as_str().unwrap())
                .collect();
            let mut expect = dates.clone();
            expect.sort_by(|a, b| b.cmp(a));
            assert_eq!(dates, expect);
            // POST _search gives the same as GET.
            let r = env
                .http
                .post(env.url("/fhir/Observation/_search"))
                .bearer_auth(u)
                .form(&[("patient", p.as_str()), ("code", "8302-2"), ("_summary", "count")])
                .send()
                .await
                .unwrap();
            let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            assert_eq!(v["total"], heights.len());
        });
    }
}

#[test]
fn paging_is_stable_while_data_changes() {
    for fx in Fixture::all(1 << 20) {
        fx.run(|env| async move {
            let t = &env.tokens.all;
            let p = env.patient.to_string();
            let mut ids = Vec::new();
            for i in 0..7 {
                let mut w = weight(&p, &format!("{}", 60 + i));
                w["effectiveDateTime"] = json!(format!("2024-03-0{}T08:00:00Z", i + 1));
                let (_, _, c) = send(post(&env, t, "/fhir/Observation", &w)).await;
                ids.push(c["id"].as_str().unwrap().to_string());
            }
            // First page (newest first), then a write lands before the client asks for page 2.
            let (_, _, page1) = send(get(&env, t, "/fhir/Observation?_count=3")).await;
            let first: Vec<String> = page1["entry"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
                .collect();
            let next = page1["link"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["relation"] == "next")
                .unwrap()["url"]
                .as_str()
                .unwrap()
                .to_string();
            let mut newest = weight(&p, "99");
            newest["effectiveDateTime"] = json!("2024-03-09T08:00:00Z");
            send(post(&env, t, "/fhir/Observation", &newest)).await;
            let (_, _, page2) = send(env.http.get(&next).bearer_auth(t)).await;
            let second: Vec<String> = page2["entry"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
                .collect();
            let mut expected: Vec<String> = ids.iter().rev().cloned().collect();
            assert_eq!(first, expected[..3].to_vec());
            assert_eq!(second, expected[3..6].to_vec());
            // And back: the previous page is the first page again.
            let prev = page2["link"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["relation"] == "previous")
                .unwrap()["url"]
                .as_str()
                .unwrap()
                .to_string();
            let (_, _, back) = send(env.http.get(&prev).bearer_auth(t)).await;
            let back: Vec<String> = back["entry"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["resource"]["id"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(back, first);
            expected.truncate(0);
        });
    }
}

#[test]
fn history_everything_and_custodian_views() {
    for fx in Fixture::all(1 << 20) {
        fx.run(|env| async move {
            let u = &env.tokens.user;
            let p = load(&env).await;
            let n = synthea(0)["entry"].as_array().unwrap().len();
            // $everything in pages of 50 holds every resource once, the Patient first.
            let ids = all_ids(&env, u, &format!("/fhir/Patient/{p}/$everything?_count=50")).await;
            assert_eq!(ids.len(), n);
            assert_eq!(ids[0], p);
            let unique: std::collections::HashSet<_> = ids.iter().collect();
            assert_eq!(unique.len(), n);
            let (_, _, only) = send(get(
                &env,
                u,
                &format!("/fhir/Patient/{p}/$everything?_type=Condition,Patient"),
            ))
            .await;
            assert!(only["entry"].as_array().unwrap().iter().all(|e| matches!(
                e["resource"]["resourceType"].as_str(),
                Some("Condition" | "Patient")
            )));
            // Type history and system history.
            let (_, _, th) = send(get(&env, u, "/fhir/Condition/_history?_count=1000")).await;
            let conditions = synthea(0)["entry"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["resource"]["resourceType"] == "Condition")
                .count();
            assert_eq!(th["entry"].as_array().map_or(0, |a| a.len()), conditions);
            let (_, _, sh) = send(get(&env, u, "/fhir/_history?_count=10")).await;
            assert_eq!(sh["entry"].as_array().unwrap().len(), 10);
            assert!(
                sh["link"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|l| l["relation"] == "next")
            );
            // The audit trail as AuditEvent, and an item's versions as Provenance.
            let (status, _, ae) = send(get(&env, u, &format!("/fhir/AuditEvent?patient={p}&_count=5"))).await;
            assert_eq!(status, StatusCode::OK, "{ae}");
            assert_eq!(ae["entry"].as_array().unwrap().len(), 5);
            assert_eq!(ae["entry"][0]["resource"]["resourceType"], "AuditEvent");
            let (status, _, prov) = send(get(&env, u, &format!("/fhir/Provenance?target=Patient/{p}"))).await;
            assert_eq!(status, StatusCode::OK, "{prov}");
            assert_eq!(
                prov["entry"][0]["resource"]["target"][0]["reference"],
                format!("Patient/{p}/_history/1")
            );
            // A token scoped to Binary only may not read the audit trail.
            let (status, _, _) = send(get(
                &env,
                &env.tokens.binary_read,
                &format!("/fhir/AuditEvent?patient={}", env.patient),
            ))
            .await;
            assert!(
                status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND,
                "{status}"
            );
        });
    }
}
