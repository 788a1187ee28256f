//! Records: create, rename, picture, leave, delete.

use hearth_core::Context;
use hearth_domain::{AccessLevel, RecordId, Relationship};
use reqwest::{Client, StatusCode};

use crate::common::*;

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00,
    0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00,
    0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0xF8, 0xCF, 0xC0, 0xF0, 0x1F, 0x00, 0x05,
    0x00, 0x01, 0xFF, 0x89, 0x99, 0x3D, 0x1D, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42,
    0x60, 0x82,
];

async fn upload(c: &Client, s: &TestServer, id: &str, csrf: Option<&str>, bytes: &[u8]) -> Page {
    let mut form = reqwest::multipart::Form::new();
    if let Some(t) = csrf {
        form = form.text("csrf", t.to_string());
    }
    let part = reqwest::multipart::Part::bytes(bytes.to_vec())
        .file_name("me.png")
        .mime_str("image/png")
        .unwrap();
    form = form.part("picture", part);
    page(
        c.post(s.url(&format!("/records/{id}/picture")))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn records_create_rename_picture_leave_and_delete() {
    let s = TestServer::start(false).await;
    let c = browser();
    register(&s, &c, "gil@example.org", "Gil Example").await;
    sign_in(&s, &c, "gil@example.org", PASSWORD, "").await;

    let list = get(&c, &s, "/records").await;
    assert!(
        list.body.contains("<option value=\"pet\""),
        "relationship choices"
    );
    let csrf = list.csrf();
    let empty = post(
        &c,
        &s,
        "/records",
        &[("name", "  "), ("relationship", "pet"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert!(empty.body.contains("id=\"name-error\""));
    let odd = post(
        &c,
        &s,
        "/records",
        &[("name", "Rex"), ("relationship", "cousin"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(odd.status, StatusCode::BAD_REQUEST);
    assert!(odd.body.contains("id=\"relationship-error\""));
    let made = post(
        &c,
        &s,
        "/records",
        &[("name", "Rex"), ("relationship", "pet"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let id = made
        .location()
        .strip_prefix("/records/")
        .unwrap()
        .strip_suffix("/settings?notice=created")
        .unwrap()
        .to_string();
    let record_id: RecordId = id.parse().unwrap();
    let settings = get(&c, &s, made.location()).await;
    assert!(settings.body.contains("<h1>Rex</h1>") && settings.body.contains("The record is created."));
    assert!(
        settings.body.contains("custodian (full control)")
            && settings.body.contains("No app may use this record.")
    );
    assert!(
        get(&c, &s, "/records")
            .await
            .body
            .contains(&format!("href=\"/records/{id}\""))
    );

    let csrf = settings.csrf();
    let renamed = post(
        &c,
        &s,
        &format!("/records/{id}/rename"),
        &[("name", "Rex the dog"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(
        renamed.location(),
        format!("/records/{id}/settings?notice=renamed")
    );
    let blank = post(
        &c,
        &s,
        &format!("/records/{id}/rename"),
        &[("name", ""), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST);
    assert!(blank.body.contains("id=\"name-error\"") && blank.body.contains("<h1>Rex the dog</h1>"));

    assert_eq!(
        get(&c, &s, &format!("/records/{id}/picture")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(upload(&c, &s, &id, None, PNG).await.status, StatusCode::FORBIDDEN);
    let not_image = upload(&c, &s, &id, Some(&csrf), b"<html><script>alert(1)</script>").await;
    assert_eq!(not_image.status, StatusCode::BAD_REQUEST);
    assert!(not_image.body.contains("id=\"picture-error\""));
    let saved = upload(&c, &s, &id, Some(&csrf), PNG).await;
    assert_eq!(
        saved.location(),
        format!("/records/{id}/settings?notice=picture"),
        "{}",
        saved.body
    );
    let res = c
        .get(s.url(&format!("/records/{id}/picture")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.bytes().await.unwrap().as_ref(), PNG);
    assert!(
        get(&c, &s, &format!("/records/{id}"))
            .await
            .body
            .contains(&format!("src=\"/records/{id}/picture\""))
    );

    let leave = post(&c, &s, &format!("/records/{id}/leave"), &[("csrf", &csrf)]).await;
    assert_eq!(leave.status, StatusCode::CONFLICT);
    assert!(leave.body.contains("last custodian"), "{}", leave.body);

    // Someone given access can see the record and leave it; a stranger cannot see it.
    let other = browser();
    register(&s, &other, "hal@example.org", "Hal Example").await;
    sign_in(&s, &other, "hal@example.org", PASSWORD, "").await;
    assert_eq!(
        get(&other, &s, &format!("/records/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    let hal = s.services.account_by_email("hal@example.org").unwrap().unwrap();
    s.services
        .grant_access(
            &Context::operator(),
            record_id,
            hal.id,
            Relationship::Friend,
            AccessLevel::View,
        )
        .unwrap();
    let seen = get(&other, &s, &format!("/records/{id}/settings")).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(
        seen.body.contains("can view") && !seen.body.contains("/delete\""),
        "viewers get no delete form"
    );
    let left = post(
        &other,
        &s,
        &format!("/records/{id}/leave"),
        &[("csrf", &seen.csrf())],
    )
    .await;
    assert_eq!(left.location(), "/records?notice=left");
    assert_eq!(
        get(&other, &s, &format!("/records/{id}")).await.status,
        StatusCode::NOT_FOUND
    );

    let wrong = post(
        &c,
        &s,
        &format!("/records/{id}/delete"),
        &[("confirm", "Rex"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains("id=\"confirm-error\""));
    let deleted = post(
        &c,
        &s,
        &format!("/records/{id}/delete"),
        &[("confirm", "Rex the dog"), ("csrf", &csrf)],
    )
    .await;
    assert_eq!(deleted.location(), "/records?notice=deleted");
    assert_eq!(
        get(&c, &s, &format!("/records/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(!get(&c, &s, "/records").await.body.contains("Rex the dog"));
    s.stop().await;
}
