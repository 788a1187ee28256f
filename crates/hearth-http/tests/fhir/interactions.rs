//! Read, vread, create, update with `If-Match`, patch, delete, history, conditional
//! interactions, `Prefer`, and what each token reaches.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::*;

#[test]
fn create_read_update_patch_delete() {
    for fx in Fixture::all(1 << 20) {
        fx.run(|env| async move {
            let t = &env.tokens.all;
            let p = env.patient.to_string();
            // Create: 201 with Location and ETag; decimals kept exactly.
            let (status, h, created) = send(post(&env, t, "/fhir/Observation", &weight(&p, "72.50"))).await;
            assert_eq!(status, StatusCode::CREATED, "{} {created}", env.backend);
            let id = created["id"].as_str().unwrap().to_string();
            assert_eq!(h["etag"], "W/\"1\"");
            assert!(
                h["location"]
                    .to_str()
                    .unwrap()
                    .ends_with(&format!("/fhir/Observation/{id}/_history/1"))
            );
            let r = get(&env, t, &format!("/fhir/Observation/{id}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert!(header(&r, "last-modified").ends_with("GMT"));
            let text = r.text().await.unwrap();
            assert!(text.contains("\"value\":72.50"), "{text}");
            let read: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(read["meta"]["versionId"], "1");

            // Update: a stale If-Match is 412, the right one makes version 2.
            let mut changed = read.clone();
            changed["valueQuantity"]["value"] = json!(73);
            let (status, _, oo) = send(
                put(&env, t, &format!("/fhir/Observation/{id}"), &changed).header("if-match", "W/\"7\""),
            )
            .await;
            assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{oo}");
            assert_eq!(oo["resourceType"], "OperationOutcome");
            let (status, h, updated) = send(
                put(&env, t, &format!("/fhir/Observation/{id}"), &changed).header("if-match", "W/\"1\""),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{updated}");
            assert_eq!(h["etag"], "W/\"2\"");
            assert_eq!(updated["meta"]["versionId"], "2");

            // An id in the body that is not the URL's is refused; an unknown id is 405.
            let mut wrong = changed.clone();
            wrong["id"] = json!("01a20ad0-0000-7000-8000-000000000000");
            let (status, _, _) = send(put(&env, t, &format!("/fhir/Observation/{id}"), &wrong)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            let (status, _, _) = send(put(
                &env,
                t,
                "/fhir/Observation/01a20ad0-0000-7000-8000-000000000000",
                &wrong,
            ))
            .await;
            assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

            // JSON Patch, with Prefer: return=minimal.
            let (status, h, body) = send(
                env.http
                    .patch(env.url(&format!("/fhir/Observation/{id}")))
                    .bearer_auth(t)
                    .header("content-type", "application/json-patch+json")
                    .header("prefer", "return=minimal")
                    .body(json!([{"op": "replace", "path": "/status", "value": "amended"}]).to_string()),
            )
            .await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body, Value::Null);
            assert_eq!(h["etag"], "W/\"3\"");
            let (_, _, v3) = send(get(&env, t, &format!("/fhir/Observation/{id}"))).await;
            assert_eq!(v3["status"], "amended");

            // vread of an old version; history newest first.
            let (status, _, v1) = send(get(&env, t, &format!("/fhir/Observation/{id}/_history/1"))).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(v1["status"], "final");
            let (_, _, hist) = send(get(&env, t, &format!("/fhir/Observation/{id}/_history"))).await;
            assert_eq!(hist["type"], "history");
            let versions: Vec<&str> = hist["entry"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["resource"]["meta"]["versionId"].as_str().unwrap())
                .collect();
            assert_eq!(versions, ["3", "2", "1"]);

            // Delete: 204, then reads are 410 and history shows the deletion.
            let r = env
                .http
                .delete(env.url(&format!("/fhir/Observation/{id}")))
                .bearer_auth(t)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::NO_CONTENT);
            let (status, _, oo) = send(get(&env, t, &format!("/fhir/Observation/{id}"))).await;
            assert_eq!(status, StatusCode::GONE, "{oo}");
            let (_, _, hist) = send(get(&env, t, &format!("/fhir/Observation/{id}/_history"))).await;
            assert_eq!(hist["entry"][0]["request"]["method"], "DELETE");
            assert!(hist["entry"][0].get("resource").is_none());
            // A PUT brings it back as a new version.
            let (status, _, back) = send(put(&env, t, &format!("/fhir/Observation/{id}"), &changed)).await;
            assert_eq!(status, StatusCode::CREATED, "{back}");

            // The record's Patient cannot be deleted.
            let (status, _, oo) = send(
                env.http
                    .delete(env.url(&format!("/fhir/Patient/{p}")))
                    .bearer_auth(t),
            )
            .await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{oo}");
        });
    }
}

#[test]
fn invalid_resources_are_refused_with_the_path() {
    for fx in Fixture::all(1 << 20) {
        fx.run(|env| async move {
            let t = &env.tokens.all;
            let mut bad = weight(&env.patient.to_string(), "70");
            bad["statuss"] = json!("final");
            let (status, _, oo) = send(post(&env, t, "/fhir/Observation", &bad)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{oo}");
            assert!(
                oo["issue"][0]["diagnostics"]
                    .as_str()
                    .unwrap()
                    .contains("statuss"),
                "{oo}"
            );
            // A reference that does not resolve in the record: a business rule, 422.
            let dangling = weight("01a20ad0-0000-7000-8000-000000000000", "70");
            let (status, _, oo) = send(post(&env, t, "/fhir/Observation", &dangling)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{oo}");
            assert_eq!(oo["issue"][0]["expression"][0], "Observation.subject");
            // Not JSON; the wrong type for the URL.
            let r = env
                .http
                .post(env.url("/fhir/Observation"))
                .bearer_auth(t)
                .header("content-type", "application/fhir+json")
                .body("{not json")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST);
            let (status, _, _) = send(post(
                &env,
                t,
                "/fhir/Condition",
                &weight(&env.patient.to_string(), "70"),
            ))
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            let (status, _, _) = send(get(&env, t, "/fhir/NotAType/1")).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
        });
    }
}

#[test]
fn tokens_reach_their_records_only() {
    for fx in Fixture::all(1 << 20) {
        fx.run(|env| async move {
            let p = env.patient.to_string();
            let (_, _, created) = send(post(
                &env,
                &env.tokens.all,
                "/fhir/Observation",
                &weight(&p, "70"),
            ))
            .await;
            let id = created["id"].as_str().unwrap();
            // No token, a bad token: 401 with WWW-Authenticate.
            let r = env
                .http
                .get(env.url(&format!("/fhir/Observation/{id}")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            assert!(header(&r, "www-authenticate").starts_with("Bearer"));
            let (status, _, _) = send(get(&env, "hat_nonsense", &format!("/fhir/Observation/{id}"))).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            // Another record's token: as if it did not exist.
            let (status, _, _) = send(get(&env, &env.tokens.other, &format!("/fhir/Observation/{id}"))).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
            assert!(
                all_ids(&env, &env.tokens.other, "/fhir/Observation")
                    .await
                    .is_empty()
            );
            // A token without Observation in its scopes sees no Observations; the user token
            // reaches both records.
            let (status, _, _) = send(get(
                &env,
                &env.tokens.binary_read,
                &format!("/fhir/Observation/{id}"),
            ))
            .await;
            assert_eq!(status, StatusCode::NOT_FOUND);
            assert!(
                all_ids(&env, &env.tokens.binary_read, "/fhir/Observation")
                    .await
                    .is_empty()
            );
            assert_eq!(
                all_ids(&env, &env.tokens.user, "/fhir/Observation").await,
                vec![id.to_string()]
            );
            assert_eq!(all_ids(&env, &env.tokens.user, "/fhir/Patient").await.len(), 2);
            // A write beyond the scopes is refused.
            let (status, _, _) = send(post(
                &env,
                &env.tokens.binary_read,
                "/fhir/Observation",
                &weight(&p, "70"),
            ))
            .await;
            assert_eq!(status, StatusCode::FORBIDDEN);
        });
    }
}

#[test]
fn patients_start_records_only_with_user_tokens() {
    for fx in Fixture::all(1 << 20) {
        fx.run(|env| async move {
            let patient = json!({"resourceType": "Patient", "name": [{"family": "Carter", "given": ["Cleo"]}],
                "identifier": [{"system": "urn:example:mrn", "value": "C-1"}], "gender": "female", "birthDate": "2019-04-02"});
            let (status, _, oo) = send(post(&env, &env.tokens.all, "/fhir/Patient", &patient)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{oo}");
            let svc = env.services.clone();
            let records = move || {
                let svc = svc.clone();
                async move {
                    tokio::task::spawn_blocking(move || svc.fhir_records(&hearth_core::Context::operator()).unwrap().len())
                        .await
                        .unwrap()
                }
            };
            let before = records().await;
            let (status, _, created) = send(post(&env, &env.tokens.user, "/fhir/Patient", &patient)).await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
            let cleo = created["id"].as_str().unwrap().to_string();
            let after = records().await;
            assert_eq!(after, before + 1, "a new record");
            // An Observation about Cleo goes to her record; the first record's token cannot see it.
            let (status, _, obs) = send(post(&env, &env.tokens.user, "/fhir/Observation", &weight(&cleo, "14.2"))).await;
            assert_eq!(status, StatusCode::CREATED, "{obs}");
            let oid = obs["id"].as_str().unwrap();
            let (status, _, _) = send(get(&env, &env.tokens.all, &format!("/fhir/Observation/{oid}"))).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
            // Without a Patient reference, a user token reaching several records must say which.
            let mut loose = weight(&cleo, "1");
            loose.as_object_mut().unwrap().remove("subject");
            let (status, _, oo) = send(post(&env, &env.tokens.user, "/fhir/Observation", &loose)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{oo}");
            // Conditional create: the identifier matches, so nothing new.
            let (status, _, again) = send(
                post(&env, &env.tokens.user, "/fhir/Patient", &patient).header("if-none-exist", "identifier=urn:example:mrn|C-1"),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{again}");
            assert_eq!(again["id"], cleo.as_str());
            // Updating the record's own Patient edits its demographics.
            let mut edited = again.clone();
            edited["gender"] = json!("other");
            let (status, _, _) = send(put(&env, &env.tokens.user, &format!("/fhir/Patient/{cleo}"), &edited)).await;
            assert_eq!(status, StatusCode::OK);
            // Conditional update and delete by search.
            let (status, _, cu) = send(
                put(&env, &env.tokens.user, "/fhir/Observation", &weight(&cleo, "2"))
                    .query(&[("subject", format!("Patient/{cleo}")), ("value-quantity", "14.2".into())]),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{cu}");
            assert_eq!(cu["id"], oid);
            let r = env
                .http
                .delete(env.url("/fhir/Observation"))
                .query(&[("subject", format!("Patient/{cleo}"))])
                .bearer_auth(&env.tokens.user)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::NO_CONTENT);
            let (status, _, _) = send(get(&env, &env.tokens.user, &format!("/fhir/Observation/{oid}"))).await;
            assert_eq!(status, StatusCode::GONE);
        });
    }
}

#[test]
fn prefer_return_forms() {
    for fx in Fixture::all(1 << 20) {
        fx.run(|env| async move {
            let w = weight(&env.patient.to_string(), "70");
            let (status, h, body) =
                send(post(&env, &env.tokens.all, "/fhir/Observation", &w).header("prefer", "return=minimal"))
                    .await;
            assert_eq!((status, body), (StatusCode::CREATED, Value::Null));
            assert!(h.contains_key("location"));
            let (_, _, body) = send(
                post(&env, &env.tokens.all, "/fhir/Observation", &w)
                    .header("prefer", "return=OperationOutcome"),
            )
            .await;
            assert_eq!(body["resourceType"], "OperationOutcome");
            let (_, _, body) = send(
                post(&env, &env.tokens.all, "/fhir/Observation", &w)
                    .header("prefer", "return=representation"),
            )
            .await;
            assert_eq!(body["resourceType"], "Observation");
        });
    }
}
