//! Files in the FHIR API over real HTTP, on SQLite and (with `HEARTH_TEST_POSTGRES_URL`)
//! PostgreSQL: `Binary` raw and as FHIR JSON, byte ranges, conditional requests, versions,
//! scopes and records, limits; the attachments of DocumentReference and Media.

#![allow(clippy::unwrap_used)]

mod attachments;
mod binary;
mod server;

use reqwest::{Response, StatusCode};
use serde_json::Value;

/// A real file from the shared test data.
pub fn shared_file(rel: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub fn header(r: &Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// The status and the OperationOutcome's first diagnostics.
pub async fn outcome(r: Response) -> (StatusCode, String) {
    let status = r.status();
    assert!(
        header(&r, "content-type").starts_with("application/fhir+json"),
        "{status}: {:?}",
        r.headers()
    );
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v["resourceType"], "OperationOutcome", "{v}");
    (
        status,
        v["issue"][0]["diagnostics"].as_str().unwrap_or("").to_string(),
    )
}
