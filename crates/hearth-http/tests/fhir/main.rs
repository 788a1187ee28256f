//! The FHIR R4 API over real HTTP, on SQLite and (with `HEARTH_TEST_POSTGRES_URL`) PostgreSQL:
//! the interactions with their version preconditions and `Prefer` forms, records as patient
//! compartments (`patient/` and `user/` tokens), transactions and batches, search and paging,
//! history, `$everything`, and the custodian views.

#![allow(clippy::unwrap_used)]

mod interactions;
mod search;
#[path = "../files/server.rs"]
#[allow(dead_code)]
mod server;
mod transactions;

use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;

pub use server::{Env, Fixture};

pub fn header(r: &Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// Sends a request and returns the status, the headers we check and the JSON body (Null if
/// empty).
pub async fn send(req: RequestBuilder) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let r = req.send().await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {text}"))
    };
    (status, headers, body)
}

pub fn get(env: &Env, token: &str, path: &str) -> RequestBuilder {
    env.http.get(env.url(path)).bearer_auth(token)
}

pub fn post(env: &Env, token: &str, path: &str, body: &Value) -> RequestBuilder {
    env.http
        .post(env.url(path))
        .bearer_auth(token)
        .header("content-type", "application/fhir+json")
        .body(body.to_string())
}

pub fn put(env: &Env, token: &str, path: &str, body: &Value) -> RequestBuilder {
    env.http
        .put(env.url(path))
        .bearer_auth(token)
        .header("content-type", "application/fhir+json")
        .body(body.to_string())
}

/// The ids of a searchset's match entries, following `next` links.
pub async fn all_ids(env: &Env, token: &str, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut url = env.url(path);
    loop {
        let (status, _, b) = send(env.http.get(&url).bearer_auth(token)).await;
        assert_eq!(status, StatusCode::OK, "{b}");
        for e in b["entry"].as_array().cloned().unwrap_or_default() {
            if e["search"]["mode"] == "match" {
                out.push(e["resource"]["id"].as_str().unwrap().to_string());
            }
        }
        match b["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
        {
            Some(l) => url = l["url"].as_str().unwrap().to_string(),
            None => return out,
        }
    }
}

/// A Synthea bundle from the shared test data, by position in the sorted listing.
pub fn synthea(n: usize) -> Value {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/synthea-r4");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    serde_json::from_slice(&std::fs::read(&files[n]).unwrap()).unwrap()
}

pub fn weight(patient: &str, kg: &str) -> Value {
    serde_json::from_str(&format!(
        r#"{{"resourceType":"Observation","status":"final",
        "category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}}]}}],
        "code":{{"coding":[{{"system":"http://loinc.org","code":"29463-7","display":"Body weight"}}]}},
        "subject":{{"reference":"Patient/{patient}"}},
        "effectiveDateTime":"2024-03-01T08:00:00Z",
        "valueQuantity":{{"value":{kg},"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}}}"#
    ))
    .unwrap()
}
