//! `$binary-access-write` and `$binary-access-read` on DocumentReference and Media over HTTP.

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha1::Digest;

use crate::server::{Env, Fixture};
use crate::{header, outcome, shared_file};

/// A query parameter value, encoded.
fn q(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

async fn create(env: &Env, resource: Value) -> String {
    let rt = resource["resourceType"].as_str().unwrap().to_string();
    let r = env
        .http
        .post(env.url(&format!("/fhir/{rt}")))
        .bearer_auth(&env.tokens.all)
        .header("content-type", "application/fhir+json")
        .body(resource.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    v["id"].as_str().unwrap().to_string()
}

async fn write(
    env: &Env,
    token: &str,
    target: &str,
    path: &str,
    ct: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    env.http
        .post(env.url(&format!("/fhir/{target}/$binary-access-write?path={}", q(path))))
        .bearer_auth(token)
        .header("content-type", ct)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

async fn read(
    env: &Env,
    token: &str,
    target: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut req = env
        .http
        .get(env.url(&format!("/fhir/{target}/$binary-access-read?path={}", q(path))))
        .bearer_auth(token);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

#[test]
fn document_attachments_are_written_and_read_back() {
    for fx in Fixture::all(1 << 30) {
        fx.run(|env| async move {
            let t = env.tokens.all.clone();
            let id = create(
                &env,
                json!({"resourceType": "DocumentReference", "status": "current",
                "subject": {"reference": format!("Patient/{}", env.patient)},
                "content": [
                    {"attachment": {"contentType": "text/plain", "data": "aGVsbG8=", "title": "note"}},
                    {"attachment": {"contentType": "application/xml", "url": "https://example.org/ccd.xml"}}
                ]}),
            )
            .await;
            let target = format!("DocumentReference/{id}");
            let first = "DocumentReference.content[0].attachment";
            let second = "DocumentReference.content[1].attachment";
            // Inline data is served decoded.
            let r = read(&env, &t, &target, first, &[]).await;
            assert_eq!(r.status(), StatusCode::OK, "{}", env.backend);
            assert_eq!(header(&r, "content-type"), "text/plain");
            assert_eq!(header(&r, "etag"), "W/\"1\"");
            assert_eq!(&r.bytes().await.unwrap()[..], b"hello");
            let r = read(&env, &t, &target, first, &[("range", "bytes=-3")]).await;
            assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
            assert_eq!(&r.bytes().await.unwrap()[..], b"llo");
            // Only an external url: nothing stored here.
            assert_eq!(
                outcome(read(&env, &t, &target, second, &[]).await).await.0,
                StatusCode::NOT_FOUND
            );

            // Write a real C-CDA document into the second attachment.
            let ccd = shared_file("ccda/Documents_CCD_CCD_1_CCD.XML");
            let r = write(&env, &t, &target, second, "application/xml", ccd.clone()).await;
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(header(&r, "etag"), "W/\"2\"");
            let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            assert_eq!(v["meta"]["versionId"], "2");
            let a = &v["content"][1]["attachment"];
            assert_eq!(a["contentType"], "application/xml");
            assert_eq!(a["size"], json!(ccd.len()));
            let sha1 = base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(&ccd));
            assert_eq!(a["hash"], json!(sha1), "base64 SHA-1 of the bytes");
            let url = a["url"].as_str().unwrap().to_string();
            assert!(
                url.starts_with(&format!("{}/fhir/{target}/$binary-access-read?path=", env.base)),
                "{url}"
            );
            assert_eq!(
                v["content"][0]["attachment"]["data"], "aGVsbG8=",
                "the other attachment is kept"
            );
            // The resource as the generic read returns it says the same.
            let r = env
                .http
                .get(env.url(&format!("/fhir/{target}")))
                .bearer_auth(&t)
                .send()
                .await
                .unwrap();
            let generic: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            assert_eq!(generic["content"][1]["attachment"]["hash"], json!(sha1));

            // The url reads it back, byte-exact, with ranges and validators.
            let r = env.http.get(&url).bearer_auth(&t).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(header(&r, "content-type"), "application/xml");
            assert_eq!(header(&r, "content-length"), ccd.len().to_string());
            assert_eq!(header(&r, "accept-ranges"), "bytes");
            assert_eq!(r.bytes().await.unwrap().to_vec(), ccd);
            let r = read(&env, &t, &target, second, &[("range", "bytes=0-4")]).await;
            assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
            assert_eq!(header(&r, "content-range"), format!("bytes 0-4/{}", ccd.len()));
            assert_eq!(r.bytes().await.unwrap().to_vec(), ccd[..5]);
            let r = read(&env, &t, &target, second, &[("range", "bytes=99999999-")]).await;
            assert_eq!(header(&r, "content-range"), format!("bytes */{}", ccd.len()));
            assert_eq!(outcome(r).await.0, StatusCode::RANGE_NOT_SATISFIABLE);
            let r = read(&env, &t, &target, second, &[("if-none-match", "W/\"2\"")]).await;
            assert_eq!(r.status(), StatusCode::NOT_MODIFIED);

            // Stale If-Match; paths that are wrong, each saying why.
            let r = env
                .http
                .post(env.url(&format!("/fhir/{target}/$binary-access-write?path={}", q(first))))
                .bearer_auth(&t)
                .header("content-type", "text/plain")
                .header("if-match", "W/\"1\"")
                .body("late")
                .send()
                .await
                .unwrap();
            assert_eq!(outcome(r).await.0, StatusCode::PRECONDITION_FAILED);
            for (path, why) in [
                ("DocumentReference.content[5].attachment", "2 content element"),
                ("DocumentReference.subject", "content[n].attachment"),
                ("Media.content", "must start with"),
                ("DocumentReference.content[one].attachment", "whole number"),
            ] {
                let (status, said) =
                    outcome(write(&env, &t, &target, path, "text/plain", b"x".to_vec()).await).await;
                assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
                assert!(said.contains(why), "{path}: {said}");
                let (status, _) = outcome(read(&env, &t, &target, path, &[]).await).await;
                assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
            }
            let r = env
                .http
                .get(env.url(&format!("/fhir/{target}/$binary-access-read")))
                .bearer_auth(&t)
                .send()
                .await
                .unwrap();
            let (status, said) = outcome(r).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert!(said.contains("path"), "{said}");
            let r = env
                .http
                .get(env.url(&format!("/fhir/{target}/$binary-access-write")))
                .bearer_auth(&t)
                .send()
                .await
                .unwrap();
            assert_eq!(outcome(r).await.0, StatusCode::METHOD_NOT_ALLOWED);
            let (status, _) = outcome(
                read(
                    &env,
                    &t,
                    &format!("Patient/{}", env.patient),
                    "Patient.photo",
                    &[],
                )
                .await,
            )
            .await;
            assert_eq!(status, StatusCode::NOT_FOUND);

            // Scopes: a DocumentReference reader reads but cannot write; a Binary reader sees
            // nothing; another record's token finds nothing.
            let tk = env.tokens.clone();
            assert_eq!(
                read(&env, &tk.documents_read, &target, second, &[])
                    .await
                    .status(),
                StatusCode::OK
            );
            let (status, _) = outcome(
                write(
                    &env,
                    &tk.documents_read,
                    &target,
                    second,
                    "text/plain",
                    b"x".to_vec(),
                )
                .await,
            )
            .await;
            assert_eq!(status, StatusCode::FORBIDDEN);
            for other in [&tk.binary_read, &tk.other] {
                assert_eq!(
                    outcome(read(&env, other, &target, second, &[]).await).await.0,
                    StatusCode::NOT_FOUND
                );
            }
        });
    }
}

#[test]
fn media_content_is_written_and_read_back() {
    for fx in Fixture::all(1 << 30) {
        fx.run(|env| async move {
            let t = env.tokens.all.clone();
            let id = create(
                &env,
                json!({"resourceType": "Media", "status": "completed",
                    "subject": {"reference": format!("Patient/{}", env.patient)},
                    "content": {"contentType": "application/dicom", "title": "CT"}}),
            )
            .await;
            let target = format!("Media/{id}");
            let dicom = shared_file("dicom/CT_small.dcm");
            let r = write(
                &env,
                &t,
                &target,
                "Media.content",
                "application/dicom",
                dicom.clone(),
            )
            .await;
            assert_eq!(r.status(), StatusCode::OK, "{}", env.backend);
            let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            assert_eq!(v["content"]["size"], json!(dicom.len()));
            assert_eq!(v["content"]["title"], "CT");
            let r = read(&env, &t, &target, "Media.content", &[]).await;
            assert_eq!(r.bytes().await.unwrap().to_vec(), dicom);
            let r = read(&env, &t, &target, "Media.content", &[("range", "bytes=128-131")]).await;
            assert_eq!(&r.bytes().await.unwrap()[..], b"DICM");
            assert_eq!(
                read(&env, &env.tokens.documents_read, &target, "Media.content", &[])
                    .await
                    .status(),
                StatusCode::OK
            );
        });
    }
}
