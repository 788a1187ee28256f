//! Sharing, history and emergency access over real HTTP, with the FHIR API asked the same
//! questions through a token for the same person: one authorisation decision behind both.

use hearth_core::{Context, ItemRequest};
use hearth_domain::{AccessLevel, Relationship};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;

fn day(s: &TestServer, days: i64) -> String {
    s.services.now().plus_seconds(days * 86_400).to_rfc3339()[..10].to_string()
}

#[tokio::test]
async fn a_viewer_of_chosen_types_is_held_to_them_on_pages_and_the_fhir_api() {
    let s = TestServer::start(false).await;
    let (ann, bo) = (browser(), browser());
    register(&s, &ann, "ann@example.org", "Ann").await;
    register(&s, &bo, "bo@example.org", "Bo").await;
    sign_in(&s, &ann, "ann@example.org", PASSWORD, "/records").await;
    sign_in(&s, &bo, "bo@example.org", PASSWORD, "/records").await;
    let svc = s.services.clone();
    let ann_id = svc.account_by_email("ann@example.org").unwrap().unwrap().id;
    let bo_id = svc.account_by_email("bo@example.org").unwrap().unwrap().id;
    let record = svc
        .create_record(
            &Context::person(ann_id),
            ann_id,
            "Cleo",
            Relationship::Child,
            None,
        )
        .unwrap();
    let r = record.id;
    let patient = format!("Patient/{}", record.patient_item);
    let out = svc
        .write(
            &Context::person(ann_id),
            r,
            vec![
                ItemRequest::Create {
                    id: None,
                    resource: json!({"resourceType": "Observation", "status": "final",
                        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
                        "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
                        "subject": {"reference": patient}, "effectiveDateTime": "2026-10-01",
                        "valueQuantity": {"value": 18.5, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}),
                    envelope: Default::default(),
                },
                ItemRequest::Create {
                    id: None,
                    resource: json!({"resourceType": "AllergyIntolerance", "code": {"text": "Peanuts"},
                        "patient": {"reference": patient}}),
                    envelope: Default::default(),
                },
            ],
        )
        .unwrap();
    let (weight, allergy) = (out[0].meta().id, out[1].meta().id);

    // Ann invites Bo to view weights only, for two days.
    let csrf = page_csrf(&s, &ann, &format!("/records/{r}/sharing")).await;
    let until = day(&s, 2);
    let sent = post(
        &ann,
        &s,
        &format!("/records/{r}/sharing/invite"),
        &[
            ("csrf", &csrf),
            ("email", "bo@example.org"),
            ("name", "Bo"),
            ("relationship", "guardian"),
            ("level", "view"),
            ("scope", "chosen"),
            ("types", "weight"),
            ("access_expires", &until),
            ("invitation_days", "7"),
        ],
    )
    .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let link = mailed_link(&s, "bo@example.org", "/invitations/").expect("an invitation mail");
    let shown = get(&bo, &s, &link).await;
    assert!(
        shown.body.contains("Weight") && shown.body.contains("View"),
        "{}",
        shown.body
    );
    let accepted = post(&bo, &s, &format!("{link}/accept"), &[("csrf", &shown.csrf())]).await;
    assert_eq!(accepted.location(), format!("/records/{r}"));

    // Pages: no sharing, no history, no changing the sharing with a valid token of Bo's own.
    let bo_csrf = page_csrf(&s, &bo, "/records").await;
    assert_eq!(
        get(&bo, &s, &format!("/records/{r}/sharing")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&bo, &s, &format!("/records/{r}/history")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&bo, &s, &format!("/records/{r}/emergency")).await.status,
        StatusCode::FORBIDDEN
    );
    let sneaky = post(
        &bo,
        &s,
        &format!("/records/{r}/sharing/people/{bo_id}"),
        &[("csrf", &bo_csrf), ("level", "custodian")],
    )
    .await;
    assert_eq!(sneaky.status, StatusCode::FORBIDDEN, "{}", sneaky.body);
    let access = svc.accesses(&Context::person(ann_id), r).unwrap();
    assert_eq!(
        access.iter().find(|a| a.account_id == bo_id).unwrap().level,
        AccessLevel::View
    );

    // The FHIR API with a token for Bo: weights yes, allergies no, writes no.
    let (token, _) = svc
        .issue_operator_token(
            &Context::operator(),
            None,
            Some(bo_id),
            "user/*.cruds",
            30 * 86_400,
        )
        .unwrap();
    let http = reqwest::Client::new();
    let fhir = |path: String| {
        http.get(s.url(&format!("/fhir/{path}")))
            .bearer_auth(&token)
            .header("accept", "application/fhir+json")
            .send()
    };
    assert_eq!(
        fhir(format!("Observation/{weight}")).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        fhir(format!("AllergyIntolerance/{allergy}"))
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let found: serde_json::Value = serde_json::from_str(
        &fhir("AllergyIntolerance".into())
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(found["total"], 0, "{found}");
    let del = http
        .delete(s.url(&format!("/fhir/Observation/{weight}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), StatusCode::FORBIDDEN);

    // Ann reads the history, which shows Bo's reads.
    let history = get(&ann, &s, &format!("/records/{r}/history?person={bo_id}")).await;
    assert_eq!(history.status, StatusCode::OK);
    assert!(
        history.body.contains("Accepted an invitation") && history.body.contains("Read items"),
        "{}",
        history.body
    );

    // Three days on, Bo's access has stopped everywhere.
    s.clock.advance_seconds(3 * 86_400);
    assert_eq!(
        fhir(format!("Observation/{weight}")).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    sign_in(&s, &bo, "bo@example.org", PASSWORD, "/records").await;
    let records = get(&bo, &s, "/records").await;
    assert!(!records.body.contains(&r.to_string()), "{}", records.body);

    // Emergency access: a code, its wallet card, the public page.
    sign_in(&s, &ann, "ann@example.org", PASSWORD, "/records").await;
    let csrf = page_csrf(&s, &ann, &format!("/records/{r}/emergency")).await;
    let made = post(
        &ann,
        &s,
        &format!("/records/{r}/emergency/codes"),
        &[("csrf", &csrf)],
    )
    .await;
    let code = between(&made.body, "id=\"new-code\">", "<").unwrap().to_string();
    let card = ann
        .post(s.url(&format!("/records/{r}/emergency/card")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(urlencoded(&[("csrf", &csrf), ("code", &code)]))
        .send()
        .await
        .unwrap();
    assert_eq!(card.headers()["content-type"], "application/pdf");
    assert!(card.bytes().await.unwrap().starts_with(b"%PDF-"));
    let medic = browser();
    let opened = post(&medic, &s, "/emergency", &[("code", &code)]).await;
    assert_eq!(opened.status, StatusCode::OK);
    assert!(
        opened.body.contains("Peanuts") && opened.body.contains("Cleo"),
        "{}",
        opened.body
    );
    assert_eq!(opened.header("cache-control"), "no-store");
    assert!(mails_to(&s.outbox(), "ann@example.org") >= 1);
    let wrong = post(&medic, &s, "/emergency", &[("code", "0000-0000-0000-0000")]).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    s.stop().await;
}
