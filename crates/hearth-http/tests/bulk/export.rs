//! `$export` over real HTTP: kick-off headers and parameters, polling to the manifest, files
//! whose line counts match the manifest and the items exported, downloads by the same and by
//! another app, `_type`, `_since`, the POST form, the system level, cancelling, expiry on the
//! clock, a revoked grant, and the per-requester limit.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hearth_domain::AppId;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

use crate::server::{BulkServer, EXPIRY_SECS, START, updated_weight, write};

const FHIR_JSON: &str = "application/fhir+json";

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn kick(c: &Client, s: &BulkServer, token: &str, path: &str, query: &[(&str, &str)]) -> Response {
    c.get(with_query(&s.url(path), query))
        .bearer_auth(token)
        .header("accept", FHIR_JSON)
        .header("prefer", "respond-async")
        .send()
        .await
        .unwrap()
}

/// `url?name=value&…`, form-encoded.
pub fn with_query(url: &str, query: &[(&str, &str)]) -> String {
    if query.is_empty() {
        return url.to_string();
    }
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        q.append_pair(k, v);
    }
    format!("{url}?{}", q.finish())
}

pub async fn json_of(r: Response) -> Value {
    let text = r.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn header<'a>(r: &'a Response, name: &str) -> &'a str {
    r.headers().get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

/// Kicks off and returns the status URL.
async fn started(c: &Client, s: &BulkServer, token: &str, path: &str, query: &[(&str, &str)]) -> String {
    let r = kick(c, s, token, path, query).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let location = header(&r, "content-location").to_string();
    assert!(
        location.starts_with(&format!("{}/fhir/bulk/", s.base)),
        "{location}"
    );
    let body: Value = json_of(r).await;
    assert_eq!(body["resourceType"], "OperationOutcome");
    location
}

/// Polls until the job is done; returns the final response (200 manifest or an error).
async fn poll(c: &Client, token: &str, status_url: &str) -> Response {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = c.get(status_url).bearer_auth(token).send().await.unwrap();
        if r.status() != StatusCode::ACCEPTED {
            return r;
        }
        assert!(!header(&r, "x-progress").is_empty());
        assert_eq!(header(&r, "retry-after"), "1");
        assert!(Instant::now() < deadline, "the export did not finish");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn manifest(c: &Client, token: &str, status_url: &str) -> Value {
    let r = poll(c, token, status_url).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, "content-type"), "application/json");
    let m: Value = json_of(r).await;
    assert_eq!(m["requiresAccessToken"], true);
    assert!(m["transactionTime"].as_str().unwrap().ends_with('Z'));
    m
}

/// Downloads every output file: lines per type, checking each file's count and content type.
async fn download_all(c: &Client, token: &str, m: &Value) -> BTreeMap<String, Vec<Value>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for f in m["output"].as_array().unwrap() {
        let r = c
            .get(f["url"].as_str().unwrap())
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "content-type"), "application/fhir+ndjson");
        let text = r.text().await.unwrap();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len() as u64, f["count"].as_u64().unwrap());
        for l in &lines {
            assert_eq!(l["resourceType"], f["type"]);
        }
        out.entry(f["type"].as_str().unwrap().to_string())
            .or_default()
            .extend(lines);
    }
    out
}

fn counts(m: &Value) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for f in m["output"].as_array().unwrap() {
        *out.entry(f["type"].as_str().unwrap().to_string()).or_default() += f["count"].as_u64().unwrap();
    }
    out
}

fn expected(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[tokio::test]
async fn a_patient_export_from_kick_off_to_files() {
    let s = BulkServer::start(true).await;
    let c = client();
    s.register_app("exporter");
    let token = s.person_token("exporter", &[s.a.id, s.b.id]);
    let status_url = started(
        &c,
        &s,
        &token,
        "/fhir/Patient/$export",
        &[("_outputFormat", "application/fhir+ndjson")],
    )
    .await;
    let m = manifest(&c, &token, &status_url).await;
    assert_eq!(
        m["request"],
        format!(
            "{}/fhir/Patient/$export?_outputFormat=application%2Ffhir%2Bndjson",
            s.base
        )
    );
    assert_eq!(m["error"], json!([]));
    // Six weights, one condition, two patients: the manifest's counts and the files agree.
    let want = expected(&[("Condition", 1), ("Observation", 6), ("Patient", 2)]);
    assert_eq!(counts(&m), want);
    let files = download_all(&c, &token, &m).await;
    let got: BTreeMap<String, u64> = files.iter().map(|(k, v)| (k.clone(), v.len() as u64)).collect();
    assert_eq!(got, want);
    // Files split at two lines: three Observation files.
    let obs_files = m["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["type"] == "Observation")
        .count();
    assert_eq!(obs_files, 3);
    let patients: Vec<&str> = files["Patient"]
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    for r in [&s.a, &s.b] {
        assert!(patients.contains(&r.patient_item.to_string().as_str()));
    }

    // Another app, even one Ann authorised, sees neither the job nor its files.
    s.register_app("other");
    let other = s.person_token("other", &[s.a.id]);
    let first_file = m["output"][0]["url"].as_str().unwrap();
    for url in [status_url.as_str(), first_file] {
        let r = c.get(url).bearer_auth(&other).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let body: Value = json_of(r).await;
        assert_eq!(body["resourceType"], "OperationOutcome");
    }
    let r = c.delete(&status_url).bearer_auth(&other).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Without a token: 401.
    let r = c.get(first_file).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&r, "www-authenticate").starts_with("Bearer"));
    // A file number that does not exist.
    let r = c
        .get(format!("{status_url}/file/99"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The FHIR read beside the export routes still answers.
    let r = c
        .get(s.url(&format!("/fhir/Patient/{}", s.a.patient_item)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    s.stop().await;
}

#[tokio::test]
async fn kick_off_headers_and_parameters_are_checked() {
    let s = BulkServer::start(false).await;
    let c = client();
    s.register_app("exporter");
    let token = s.person_token("exporter", &[s.a.id]);
    let url = s.url("/fhir/Patient/$export");
    // Neither header: one OperationOutcome naming both.
    let r = c.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = json_of(r).await;
    let named: Vec<&str> = body["issue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["expression"][0].as_str().unwrap())
        .collect();
    assert_eq!(named, ["Accept", "Prefer"]);
    let r = c
        .get(&url)
        .bearer_auth(&token)
        .header("accept", FHIR_JSON)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("respond-async"));

    for (query, word) in [
        (vec![("_outputFormat", "text/csv")], "_outputFormat"),
        (vec![("_type", "Nonsense")], "Nonsense"),
        (vec![("_typeFilter", "Observation?code=1")], "not supported"),
        (vec![("_elements", "id")], "not supported"),
        (
            vec![("includeAssociatedData", "LatestProvenanceResources")],
            "not supported",
        ),
        (vec![("_since", "yesterday")], "instant"),
    ] {
        let r = kick(&c, &s, &token, "/fhir/Patient/$export", &query).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{query:?}");
        let text = r.text().await.unwrap();
        assert!(text.contains(word), "{query:?}: {text}");
    }
    // Without a token: 401.
    let r = c
        .get(&url)
        .header("accept", FHIR_JSON)
        .header("prefer", "respond-async")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // A person's app is not a backend service: no system-level export.
    let r = kick(&c, &s, &token, "/fhir/$export", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // An unknown Patient.
    let r = kick(
        &c,
        &s,
        &token,
        &format!("/fhir/Patient/{}/$export", s.b.patient_item),
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "record B is not granted");

    // Queued (no worker yet): 202 with progress; two jobs, then 429 with Retry-After.
    let status_url = started(&c, &s, &token, "/fhir/Patient/$export", &[]).await;
    let r = c.get(&status_url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(header(&r, "x-progress"), "queued");
    assert_eq!(header(&r, "retry-after"), "1");
    started(&c, &s, &token, "/fhir/Patient/$export", &[]).await;
    let r = kick(&c, &s, &token, "/fhir/Patient/$export", &[]).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&r, "retry-after"), "60");
    let body: Value = json_of(r).await;
    assert_eq!(body["issue"][0]["code"], "throttled");
    s.stop().await;
}

#[tokio::test]
async fn type_since_and_the_post_form_narrow_the_export() {
    let s = BulkServer::start(true).await;
    let c = client();
    s.register_app("exporter");
    let token = s.person_token("exporter", &[s.a.id, s.b.id]);

    let status_url = started(
        &c,
        &s,
        &token,
        "/fhir/Patient/$export",
        &[("_type", "Condition,Patient")],
    )
    .await;
    let m = manifest(&c, &token, &status_url).await;
    assert_eq!(counts(&m), expected(&[("Condition", 1), ("Patient", 2)]));

    // A minute later one weight changes; `_since` half a minute ago finds just it.
    s.clock.advance_seconds(60);
    let changed = {
        let svc = s.services.clone();
        let b = s.b.clone();
        tokio::task::spawn_blocking(move || {
            let page = svc
                .query(
                    &hearth_core::Context::operator(),
                    b.id,
                    &hearth_domain::ItemQuery {
                        data_types: vec!["weight".into()],
                        ..Default::default()
                    },
                )
                .unwrap();
            let id = page.items[0].meta.id;
            svc.write(
                &hearth_core::Context::operator(),
                b.id,
                vec![hearth_core::ItemRequest::Update {
                    id,
                    expected_version: None,
                    resource: updated_weight(b.patient_item),
                    envelope: Default::default(),
                }],
            )
            .unwrap();
            id
        })
        .await
        .unwrap()
    };
    let since = START.plus_seconds(30).to_rfc3339();
    let status_url = started(&c, &s, &token, "/fhir/Patient/$export", &[("_since", &since)]).await;
    let m = manifest(&c, &token, &status_url).await;
    let files = download_all(&c, &token, &m).await;
    assert_eq!(files.len(), 1);
    assert_eq!(files["Observation"].len(), 1);
    assert_eq!(files["Observation"][0]["id"], changed.to_string());
    assert_eq!(files["Observation"][0]["meta"]["versionId"], "2");

    // The POST form: a Parameters body, for one Patient.
    let path = format!("/fhir/Patient/{}/$export", s.b.patient_item);
    let r = c
        .post(s.url(&path))
        .bearer_auth(&token)
        .header("accept", FHIR_JSON)
        .header("prefer", "respond-async")
        .header("content-type", FHIR_JSON)
        .body(
            json!({"resourceType": "Parameters", "parameter": [
                {"name": "_type", "valueString": "Observation"},
                {"name": "_outputFormat", "valueString": "ndjson"}
            ]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let status_url = header(&r, "content-location").to_string();
    let m = manifest(&c, &token, &status_url).await;
    assert_eq!(m["request"], s.url(&path));
    assert_eq!(counts(&m), expected(&[("Observation", 2)]));
    let r = c
        .post(s.url(&path))
        .bearer_auth(&token)
        .header("accept", FHIR_JSON)
        .header("prefer", "respond-async")
        .body(json!({"resourceType": "Patient"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    s.stop().await;
}

#[tokio::test]
async fn a_backend_service_exports_at_the_system_level() {
    let s = BulkServer::start(true).await;
    let c = client();
    let token = s.backend_token(&c, "clinic").await;
    let status_url = started(&c, &s, &token, "/fhir/$export", &[]).await;
    let m = manifest(&c, &token, &status_url).await;
    // Ann granted it record A only.
    assert_eq!(
        counts(&m),
        expected(&[("Condition", 1), ("Observation", 4), ("Patient", 1)])
    );
    let files = download_all(&c, &token, &m).await;
    assert_eq!(files["Patient"][0]["id"], s.a.patient_item.to_string());
    s.stop().await;
}

#[tokio::test]
async fn cancelling_answers_202_then_404_and_the_files_go() {
    let s = BulkServer::start(false).await;
    let c = client();
    s.register_app("exporter");
    let token = s.person_token("exporter", &[s.a.id]);
    // Cancelled while queued: the worker never runs it.
    let queued = started(&c, &s, &token, "/fhir/Patient/$export", &[]).await;
    let r = c.delete(&queued).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    for _ in 0..2 {
        let r = c.get(&queued).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    let r = c.delete(&queued).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // A finished export, cancelled: its files go with the next sweep.
    let mut s = s;
    s.start_worker();
    let done = started(&c, &s, &token, "/fhir/Patient/$export", &[]).await;
    let m = manifest(&c, &token, &done).await;
    let id = done.rsplit('/').next().unwrap().to_string();
    let job = s
        .services
        .store()
        .export_job(id.parse().unwrap())
        .unwrap()
        .unwrap();
    let r = c.delete(&done).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = c
        .get(m["output"][0]["url"].as_str().unwrap())
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    wait_until_swept(&s, &job).await;
    let queued_id = queued.rsplit('/').next().unwrap().parse().unwrap();
    assert!(s.services.store().export_job(queued_id).unwrap().is_none());
    s.stop().await;
}

/// Waits for the worker's sweep to delete the job and its files.
async fn wait_until_swept(s: &BulkServer, job: &hearth_domain::bulk::ExportJob) {
    assert!(!job.outputs.is_empty());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let gone = s.services.store().export_job(job.id).unwrap().is_none()
            && job
                .outputs
                .iter()
                .all(|o| s.services.blobs().size(&o.blob).unwrap().is_none());
        if gone {
            return;
        }
        assert!(Instant::now() < deadline, "the sweep did not delete the job");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn files_expire_on_the_clock() {
    let s = BulkServer::start(true).await;
    let c = client();
    s.register_app("exporter");
    let token = s.person_token("exporter", &[s.a.id]);
    let status_url = started(&c, &s, &token, "/fhir/Patient/$export", &[]).await;
    let m = manifest(&c, &token, &status_url).await;
    let file = m["output"][0]["url"].as_str().unwrap().to_string();
    let id = status_url.rsplit('/').next().unwrap().to_string();
    let job = s
        .services
        .store()
        .export_job(id.parse().unwrap())
        .unwrap()
        .unwrap();
    s.clock.advance_seconds(EXPIRY_SECS - 1);
    let r = c.get(&file).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    s.clock.advance_seconds(1);
    for url in [&status_url, &file] {
        let r = c.get(url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{url}");
    }
    wait_until_swept(&s, &job).await;
    s.stop().await;
}

#[tokio::test]
async fn a_revoked_grant_fails_the_job_and_refuses_its_files() {
    let mut s = BulkServer::start(false).await;
    let c = client();
    s.register_app("exporter");
    let token = s.person_token("exporter", &[s.a.id, s.b.id]);
    let app = AppId("exporter".into());

    // Revoked after the kick-off, before the worker reads record B: the job fails.
    let failing = started(&c, &s, &token, "/fhir/Patient/$export", &[]).await;
    s.services.revoke_consent(s.ann, &app, s.b.id, s.ann).unwrap();
    s.start_worker();
    let r = poll(&c, &token, &failing).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = json_of(r).await;
    assert_eq!(body["resourceType"], "OperationOutcome");
    assert_eq!(body["issue"][0]["code"], "forbidden");
    assert!(
        body["issue"][0]["diagnostics"]
            .as_str()
            .unwrap()
            .contains("not authorised")
    );

    // Granted again, exported, then revoked: files holding B's data are refused, A's are not.
    s.services
        .grant_consent(
            s.ann,
            &app,
            s.b.id,
            &hearth_domain::auth::Scopes::parse("offline_access user/*.rs").unwrap(),
            &hearth_core::auth::consent::ConsentAnswer { optional: vec![] },
        )
        .unwrap();
    let status_url = started(
        &c,
        &s,
        &token,
        "/fhir/Patient/$export",
        &[("_type", "Observation")],
    )
    .await;
    let m = manifest(&c, &token, &status_url).await;
    s.services.revoke_consent(s.ann, &app, s.b.id, s.ann).unwrap();
    let statuses: Vec<StatusCode> = {
        let mut v = Vec::new();
        for f in m["output"].as_array().unwrap() {
            let r = c
                .get(f["url"].as_str().unwrap())
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            v.push(r.status());
        }
        v
    };
    // A's four weights fill two files; B's two weights the third.
    assert_eq!(statuses, [StatusCode::OK, StatusCode::OK, StatusCode::FORBIDDEN]);
    s.stop().await;
}

#[tokio::test]
async fn items_written_after_a_completed_export_wait_for_the_next_one() {
    let s = BulkServer::start(true).await;
    let c = client();
    s.register_app("exporter");
    let token = s.person_token("exporter", &[s.a.id]);
    let first = started(
        &c,
        &s,
        &token,
        "/fhir/Patient/$export",
        &[("_type", "Observation")],
    )
    .await;
    let m = manifest(&c, &token, &first).await;
    assert_eq!(counts(&m), expected(&[("Observation", 4)]));
    let svc = s.services.clone();
    let a = s.a.clone();
    tokio::task::spawn_blocking(move || write(&svc, a.id, updated_weight(a.patient_item)))
        .await
        .unwrap();
    // The finished job's manifest does not change; a new one holds the new item.
    let again = manifest(&c, &token, &first).await;
    assert_eq!(counts(&again), expected(&[("Observation", 4)]));
    let second = started(
        &c,
        &s,
        &token,
        "/fhir/Patient/$export",
        &[("_type", "Observation")],
    )
    .await;
    assert_ne!(first, second);
    let m = manifest(&c, &token, &second).await;
    assert_eq!(counts(&m), expected(&[("Observation", 5)]));
    s.stop().await;
}
