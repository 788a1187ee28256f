//! `Binary` over HTTP.

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::server::{Env, Fixture, raw_request};
use crate::{header, outcome, shared_file};

const DICOM: &str = "dicom/CT_small.dcm";

async fn upload(env: &Env, token: &str, ct: &str, bytes: Vec<u8>) -> reqwest::Response {
    env.http
        .post(env.url("/fhir/Binary"))
        .bearer_auth(token)
        .header("content-type", ct)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

/// The id in a `Location` of the form …/Binary/{id}/_history/{v}.
fn id_of(location: &str) -> String {
    let parts: Vec<&str> = location.rsplit('/').collect();
    assert_eq!(parts[1], "_history", "{location}");
    parts[2].to_string()
}

async fn get(env: &Env, path: &str, token: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = env.http.get(env.url(path)).bearer_auth(token);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

#[test]
fn raw_files_round_trip_with_every_range_form() {
    for fx in Fixture::all(1 << 30) {
        fx.run(|env| async move {
            let bytes = shared_file(DICOM);
            let n = bytes.len();
            let t = &env.tokens.all;
            let r = upload(&env, t, "application/dicom", bytes.clone()).await;
            assert_eq!(r.status(), StatusCode::CREATED, "{}", env.backend);
            assert_eq!(header(&r, "etag"), "W/\"1\"");
            let location = header(&r, "location");
            assert!(
                location.starts_with(&format!("{}/fhir/Binary/", env.base)),
                "{location}"
            );
            let id = id_of(&location);
            assert!(!header(&r, "last-modified").is_empty());
            let path = format!("/fhir/Binary/{id}");

            for accept in [None, Some("*/*"), Some("application/dicom")] {
                let r = match accept {
                    Some(a) => get(&env, &path, t, &[("accept", a)]).await,
                    None => get(&env, &path, t, &[]).await,
                };
                assert_eq!(r.status(), StatusCode::OK);
                assert_eq!(header(&r, "content-type"), "application/dicom");
                assert_eq!(header(&r, "content-length"), n.to_string());
                assert_eq!(header(&r, "accept-ranges"), "bytes");
                assert_eq!(header(&r, "etag"), "W/\"1\"");
                assert!(header(&r, "last-modified").ends_with(" GMT"));
                assert_eq!(r.bytes().await.unwrap().to_vec(), bytes, "byte-exact");
            }
            let last_modified = header(&get(&env, &path, t, &[]).await, "last-modified");

            let ranged = |spec: &'static str| {
                let env = env.clone();
                let path = path.clone();
                async move { get(&env, &path, &env.tokens.all, &[("range", spec)]).await }
            };
            let r = ranged("bytes=128-131").await;
            assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
            assert_eq!(header(&r, "content-range"), format!("bytes 128-131/{n}"));
            assert_eq!(header(&r, "content-length"), "4");
            assert_eq!(&r.bytes().await.unwrap()[..], b"DICM");
            let r = ranged("bytes=30000-").await;
            assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
            assert_eq!(header(&r, "content-range"), format!("bytes 30000-{}/{n}", n - 1));
            assert_eq!(r.bytes().await.unwrap().to_vec(), bytes[30000..]);
            let r = ranged("bytes=-100").await;
            assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
            assert_eq!(
                header(&r, "content-range"),
                format!("bytes {}-{}/{n}", n - 100, n - 1)
            );
            assert_eq!(r.bytes().await.unwrap().to_vec(), bytes[n - 100..]);
            let r = get(&env, &path, t, &[("range", &format!("bytes=10-{}", n + 50))]).await;
            assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
            assert_eq!(r.bytes().await.unwrap().to_vec(), bytes[10..]);
            // Past the end: 416 with the size.
            let r = get(&env, &path, t, &[("range", &format!("bytes={n}-"))]).await;
            assert_eq!(header(&r, "content-range"), format!("bytes */{n}"));
            let (status, why) = outcome(r).await;
            assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE, "{why}");
            // Several ranges: the whole file.
            let r = ranged("bytes=0-1,10-20").await;
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(r.bytes().await.unwrap().to_vec(), bytes);
            // If-Range: the date matches, a weak ETag never does.
            let r = get(
                &env,
                &path,
                t,
                &[("range", "bytes=0-9"), ("if-range", &last_modified)],
            )
            .await;
            assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
            let r = get(&env, &path, t, &[("range", "bytes=0-9"), ("if-range", "W/\"1\"")]).await;
            assert_eq!(r.status(), StatusCode::OK);
            // If-None-Match.
            let r = get(&env, &path, t, &[("if-none-match", "W/\"1\"")]).await;
            assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
            assert_eq!(header(&r, "etag"), "W/\"1\"");
            assert!(r.bytes().await.unwrap().is_empty());
            let r = get(&env, &path, t, &[("if-none-match", "W/\"7\"")]).await;
            assert_eq!(r.status(), StatusCode::OK);
            // HEAD: the headers without the body.
            let r = env.http.head(env.url(&path)).bearer_auth(t).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(header(&r, "content-length"), n.to_string());

            // The FHIR form of the same Binary carries the bytes as base64.
            let r = get(&env, &path, t, &[("accept", "application/fhir+json")]).await;
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(header(&r, "etag"), "W/\"1\"");
            let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            assert_eq!(v["resourceType"], "Binary");
            assert_eq!(v["id"], id);
            assert_eq!(v["contentType"], "application/dicom");
            assert_eq!(v["meta"]["versionId"], "1");
            let data = base64::engine::general_purpose::STANDARD
                .decode(v["data"].as_str().unwrap())
                .unwrap();
            assert_eq!(data, bytes);
            let r = get(&env, &format!("{path}?_format=json"), t, &[]).await;
            assert_eq!(header(&r, "content-type"), "application/fhir+json; charset=utf-8");
            // A C-CDA document (XML) as well.
            let ccd = shared_file("ccda/Documents_CCD_CCD_1_CCD.XML");
            let r = upload(&env, t, "application/xml; charset=utf-8", ccd.clone()).await;
            assert_eq!(r.status(), StatusCode::CREATED);
            let id = id_of(&header(&r, "location"));
            let r = get(&env, &format!("/fhir/Binary/{id}"), t, &[]).await;
            assert_eq!(header(&r, "content-type"), "application/xml; charset=utf-8");
            assert_eq!(r.bytes().await.unwrap().to_vec(), ccd);
        });
    }
}

/// The official example (`Binary-example.json`, a PDF) when the R4 examples are installed
/// (`scripts/test` fetches them), else a small Binary written here.
fn official_binary() -> Value {
    let dirs = [
        std::env::var("HEARTH_R4_EXAMPLES").ok(),
        Some(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../target/fhir-r4-examples/package"
            )
            .to_string(),
        ),
    ];
    for dir in dirs.into_iter().flatten() {
        let p = std::path::Path::new(&dir).join("Binary-example.json");
        if let Ok(text) = std::fs::read_to_string(&p) {
            return serde_json::from_str(&text).unwrap();
        }
    }
    eprintln!("Binary-example.json not found (HEARTH_R4_EXAMPLES); using a small embedded Binary");
    json!({"resourceType": "Binary", "id": "example", "contentType": "application/pdf",
        "securityContext": {"reference": "DocumentReference/example"},
        "data": "JVBERi0xLjUNJeLjz9MNCjEwIDAgb2JqDTw8L0xpbmVhcml6ZWQgMS9MIDEzMDA2OC9PIDEyL0Ug MTI1NzM1L04gMS9UIDEyOTc2NC9IIFsgNTQ2IDIwNF0+Pg1lbmRvYmoNICAgICAgICAgICAgICAg"})
}

#[test]
fn the_official_binary_example_round_trips_as_fhir_json() {
    for fx in Fixture::all(1 << 30) {
        fx.run(|env| async move {
            let t = &env.tokens.all;
            // Its security context must resolve in the record: a DocumentReference made here.
            let doc = json!({"resourceType": "DocumentReference", "status": "current",
                "subject": {"reference": format!("Patient/{}", env.patient)},
                "content": [{"attachment": {"contentType": "application/pdf", "url": "https://example.org/x.pdf"}}]});
            let r = env
                .http
                .post(env.url("/fhir/DocumentReference"))
                .bearer_auth(t)
                .header("content-type", "application/fhir+json")
                .body(doc.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            let doc_id = serde_json::from_str::<Value>(&r.text().await.unwrap()).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string();
            let mut original = official_binary();
            original["securityContext"]["reference"] = json!(format!("DocumentReference/{doc_id}"));
            let r = env
                .http
                .post(env.url("/fhir/Binary"))
                .bearer_auth(t)
                .header("content-type", "application/fhir+json")
                .header("prefer", "return=representation")
                .body(original.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED, "{}", env.backend);
            let id = id_of(&header(&r, "location"));
            let created: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            assert_eq!(created["id"], id);

            let r = get(&env, &format!("/fhir/Binary/{id}"), t, &[("accept", "application/fhir+json")]).await;
            assert_eq!(r.status(), StatusCode::OK);
            let length: usize = header(&r, "content-length").parse().unwrap();
            let text = r.text().await.unwrap();
            assert_eq!(text.len(), length);
            let mut back: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(back, created);
            assert_eq!(back["meta"]["versionId"], "1");
            // Unchanged apart from id and meta; data is the same base64Binary value, written
            // without the whitespace the example wraps it with.
            let compact = |v: &Value| -> String {
                v.as_str().unwrap().chars().filter(|c| !c.is_whitespace()).collect()
            };
            assert_eq!(compact(&back["data"]), compact(&original["data"]));
            assert!(!back["data"].as_str().unwrap().contains(' '));
            for v in [&mut back, &mut original] {
                let o = v.as_object_mut().unwrap();
                o.shift_remove("id");
                o.shift_remove("meta");
                o.shift_remove("data");
            }
            assert_eq!(back, original);
            // The raw form is the decoded PDF.
            let r = get(&env, &format!("/fhir/Binary/{id}"), t, &[]).await;
            assert_eq!(header(&r, "content-type"), "application/pdf");
            let pdf = r.bytes().await.unwrap();
            assert!(pdf.starts_with(b"%PDF-1."), "{:?}", &pdf[..8]);
        });
    }
}

#[test]
fn versions_if_match_deletes_and_methods() {
    for fx in Fixture::all(1 << 30) {
        fx.run(|env| async move {
            let t = &env.tokens.all;
            let r = upload(&env, t, "text/plain", b"first".to_vec()).await;
            let id = id_of(&header(&r, "location"));
            let path = format!("/fhir/Binary/{id}");
            let put = |if_match: Option<&'static str>, body: &'static [u8]| {
                let env = env.clone();
                let path = path.clone();
                async move {
                    let mut req = env
                        .http
                        .put(env.url(&path))
                        .bearer_auth(&env.tokens.all)
                        .header("content-type", "text/plain")
                        .body(body);
                    if let Some(m) = if_match {
                        req = req.header("if-match", m);
                    }
                    req.send().await.unwrap()
                }
            };
            let (status, why) = outcome(put(Some("W/\"3\""), b"stale").await).await;
            assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{}: {why}", env.backend);
            let r = put(Some("W/\"1\""), b"second").await;
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(header(&r, "etag"), "W/\"2\"");
            assert!(header(&r, "location").ends_with(&format!("/Binary/{id}/_history/2")));
            let r = put(None, b"third").await;
            assert_eq!(header(&r, "etag"), "W/\"3\"");
            let (status, _) = outcome(put(Some("three"), b"x").await).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);

            let body = |r: reqwest::Response| async move { r.bytes().await.unwrap().to_vec() };
            assert_eq!(body(get(&env, &path, t, &[]).await).await, b"third");
            let r = get(&env, &format!("{path}/_history/1"), t, &[]).await;
            assert_eq!(header(&r, "etag"), "W/\"1\"");
            assert_eq!(body(r).await, b"first");
            let r = get(&env, &format!("{path}/_history/2"), t, &[("range", "bytes=0-2")]).await;
            assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
            assert_eq!(body(r).await, b"sec");
            for v in ["9", "x"] {
                let (status, _) = outcome(get(&env, &format!("{path}/_history/{v}"), t, &[]).await).await;
                assert_eq!(status, StatusCode::NOT_FOUND);
            }

            // Hearth chooses ids: PUT to an unknown one is 405.
            let unknown = uuid::Uuid::now_v7();
            let r = env
                .http
                .put(env.url(&format!("/fhir/Binary/{unknown}")))
                .bearer_auth(t)
                .header("content-type", "text/plain")
                .body("x")
                .send()
                .await
                .unwrap();
            assert!(!header(&r, "allow").is_empty());
            assert_eq!(outcome(r).await.0, StatusCode::METHOD_NOT_ALLOWED);
            let r = env
                .http
                .patch(env.url(&path))
                .bearer_auth(t)
                .send()
                .await
                .unwrap();
            assert_eq!(header(&r, "allow"), "GET, HEAD, PUT, DELETE");
            assert_eq!(outcome(r).await.0, StatusCode::METHOD_NOT_ALLOWED);
            let r = get(&env, "/fhir/Binary", t, &[]).await;
            assert_eq!(outcome(r).await.0, StatusCode::METHOD_NOT_ALLOWED);

            // Delete: a stale version is refused; then the Binary is gone.
            let r = env
                .http
                .delete(env.url(&path))
                .bearer_auth(t)
                .header("if-match", "W/\"1\"")
                .send()
                .await
                .unwrap();
            assert_eq!(outcome(r).await.0, StatusCode::PRECONDITION_FAILED);
            let r = env
                .http
                .delete(env.url(&path))
                .bearer_auth(t)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::NO_CONTENT);
            assert_eq!(outcome(get(&env, &path, t, &[]).await).await.0, StatusCode::GONE);
            assert_eq!(
                outcome(get(&env, &format!("/fhir/Binary/{unknown}"), t, &[]).await)
                    .await
                    .0,
                StatusCode::NOT_FOUND
            );
        });
    }
}

#[test]
fn scopes_records_and_content_types() {
    for fx in Fixture::all(1 << 30) {
        fx.run(|env| async move {
            let tk = env.tokens.clone();
            let r = upload(&env, &tk.all, "image/png", vec![0x89, b'P', b'N', b'G']).await;
            let path = format!("/fhir/Binary/{}", id_of(&header(&r, "location")));
            // Reading needs Binary read; a token without it sees nothing (404).
            assert_eq!(
                get(&env, &path, &tk.binary_read, &[]).await.status(),
                StatusCode::OK
            );
            let (status, _) = outcome(get(&env, &path, &tk.observations, &[]).await).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{}", env.backend);
            // Another record's token: not found either.
            let (status, why) = outcome(get(&env, &path, &tk.other, &[]).await).await;
            assert_eq!(status, StatusCode::NOT_FOUND);
            assert!(why.contains("Binary/"), "{why}");
            // Writing needs Binary create.
            for t in [&tk.binary_read, &tk.observations] {
                let (status, _) = outcome(upload(&env, t, "image/png", vec![1, 2, 3]).await).await;
                assert_eq!(status, StatusCode::FORBIDDEN);
            }
            // No token.
            let r = env.http.get(env.url(&path)).send().await.unwrap();
            assert_eq!(outcome(r).await.0, StatusCode::UNAUTHORIZED);

            // A user/ token reaching two records names one with X-Security-Context.
            let (status, why) = outcome(upload(&env, &tk.user, "text/plain", b"x".to_vec()).await).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert!(why.contains("X-Security-Context"), "{why}");
            let r = env
                .http
                .post(env.url("/fhir/Binary"))
                .bearer_auth(&tk.user)
                .header("content-type", "text/plain")
                .header("x-security-context", format!("Patient/{}", env.other_patient))
                .body("for Ben")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            let bens = format!("/fhir/Binary/{}", id_of(&header(&r, "location")));
            let r = get(&env, &bens, &tk.other, &[("accept", "application/fhir+json")]).await;
            let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
            assert_eq!(
                v["securityContext"]["reference"],
                format!("Patient/{}", env.other_patient)
            );
            assert_eq!(
                outcome(get(&env, &bens, &tk.all, &[]).await).await.0,
                StatusCode::NOT_FOUND
            );
            assert_eq!(get(&env, &bens, &tk.user, &[]).await.status(), StatusCode::OK);
            let r = env
                .http
                .post(env.url("/fhir/Binary"))
                .bearer_auth(&tk.user)
                .header("content-type", "text/plain")
                .header("x-security-context", "Patient/nobody")
                .body("x")
                .send()
                .await
                .unwrap();
            assert_eq!(outcome(r).await.0, StatusCode::BAD_REQUEST);

            // Content types are checked.
            for ct in ["nonsense", "text/plain; charset", "application/fhir+xml"] {
                let (status, why) = outcome(upload(&env, &tk.all, ct, b"x".to_vec()).await).await;
                assert_eq!(status, StatusCode::BAD_REQUEST, "{ct}: {why}");
            }
            let r = env
                .http
                .post(env.url("/fhir/Binary"))
                .bearer_auth(&tk.all)
                .body("x")
                .send()
                .await
                .unwrap();
            let (status, why) = outcome(r).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert!(why.contains("Content-Type"), "{why}");
            let (status, _) =
                outcome(upload(&env, &tk.all, "application/fhir+json", b"{".to_vec()).await).await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
            let r = get(&env, &path, &tk.all, &[("accept", "application/fhir+json")]).await;
            assert_eq!(r.status(), StatusCode::OK);
        });
    }
}

#[test]
fn uploads_over_the_limit_are_refused_with_nothing_stored() {
    const LIMIT: u64 = 64 * 1024;
    for fx in Fixture::all(LIMIT) {
        fx.run(|env| async move {
            let t = env.tokens.all.clone();
            let auth = format!("Bearer {t}");
            let headers = [
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/octet-stream"),
            ];
            // Declared too large: refused before reading.
            let big = vec![1u8; 100 * 1024];
            let r = upload(&env, &t, "application/octet-stream", big).await;
            let (status, why) = outcome(r).await;
            assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{}: {why}", env.backend);
            assert!(why.contains(&LIMIT.to_string()), "{why}");
            // Streamed (chunked) past the limit: refused while reading.
            let mut left = 20;
            let (status, head, body) = raw_request(env.addr, "POST /fhir/Binary", &headers, None, || {
                left -= 1;
                (left > 0).then(|| vec![2u8; 16 * 1024])
            })
            .await;
            assert_eq!(status, 413, "{head}");
            let v: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["issue"][0]["code"], "too-costly");
            // A Binary as FHIR JSON whose data decodes past the limit.
            let data = base64::engine::general_purpose::STANDARD.encode(vec![3u8; LIMIT as usize + 1]);
            let json =
                json!({"resourceType": "Binary", "contentType": "text/plain", "data": data}).to_string();
            let (status, _) =
                outcome(upload(&env, &t, "application/fhir+json", json.into_bytes()).await).await;
            assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
            // Nothing was stored: no blob, no temporary file, no item.
            let count = |dir: &std::path::Path| std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
            assert_eq!(count(&env.blob_dir.join("tmp")), 0);
            assert_eq!(count(&env.blob_dir), 1, "only tmp/ in {}", env.blob_dir.display());
            let svc = env.services.clone();
            let record = env.record;
            let items = tokio::task::spawn_blocking(move || {
                svc.query(&hearth_core::Context::operator(), record, &Default::default())
                    .unwrap()
                    .items
            })
            .await
            .unwrap();
            assert!(items.iter().all(|i| i.meta.resource_type != "Binary"));
            // At the limit, streamed: accepted.
            let mut left = 4;
            let (status, head, _) = raw_request(env.addr, "POST /fhir/Binary", &headers, None, || {
                left -= 1;
                (left >= 0).then(|| vec![4u8; 16 * 1024])
            })
            .await;
            assert_eq!(status, 201, "{head}");
        });
    }
}
