//! `GET /fhir/metadata`: the CapabilityStatement (https://hl7.org/fhir/R4/capabilitystatement.html)
//! listing exactly what this server supports, with the SMART App Launch security extension
//! (https://hl7.org/fhir/smart-app-launch/conformance.html). Built once per base URL.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hearth_fhir::search as sp;
use serde_json::{Value, json};

use crate::AppState;

/// Resource types served as read-only views built from Hearth's own records.
pub const VIEWS: &[&str] = &["AuditEvent", "Provenance"];

fn build(state: &AppState) -> Value {
    let s = state.services.auth_settings();
    let resources: Vec<Value> = hearth_fhir::resource_types()
        .into_iter()
        .map(|t| {
            let params: Vec<Value> = sp::search_params(t)
                .into_iter()
                .filter(|p| p.is_supported())
                .map(|p| json!({"name": p.code(), "definition": p.url(), "type": p.param_type().code()}))
                .collect();
            let reference_params: Vec<String> = sp::search_params(t)
                .into_iter()
                .filter(|p| p.is_supported() && p.param_type() == sp::ParamType::Reference)
                .map(|p| format!("{t}:{}", p.code()))
                .collect();
            if VIEWS.contains(&t) {
                let view_params: Vec<Value> = params
                    .into_iter()
                    .filter(|p| matches!(p["name"].as_str(), Some("patient" | "target" | "date")))
                    .collect();
                let mut v = json!({"type": t, "interaction": [{"code": "search-type"}]});
                if !view_params.is_empty() {
                    v["searchParam"] = json!(view_params);
                }
                return v;
            }
            // Binary is served by the file routes (raw bytes), which answer these only.
            let codes: &[&str] = if t == "Binary" {
                &["read", "vread", "update", "delete", "history-instance", "create"]
            } else {
                &[
                    "read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type",
                ]
            };
            let interactions: Vec<Value> = codes
                .iter()
            .map(|c| json!({"code": c}))
            .collect();
            let mut r = json!({
                "type": t,
                "interaction": interactions,
                "versioning": "versioned-update",
                "readHistory": true,
                "updateCreate": false,
                "conditionalCreate": true,
                "conditionalRead": "not-supported",
                "conditionalUpdate": true,
                "conditionalDelete": "single",
                "referencePolicy": ["literal", "enforced", "local"],
            });
            // FHIR JSON has no empty arrays; Binary has no search.
            if t == "Binary" {
                return r;
            }
            if !reference_params.is_empty() {
                r["searchInclude"] = json!(reference_params);
            }
            if !params.is_empty() {
                r["searchParam"] = json!(params);
            }
            if t == "Patient" {
                r["operation"] = json!([
                    {"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"},
                    {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"}
                ]);
            }
            r
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-23",
        "publisher": "Hearth",
        "kind": "instance",
        "instantiates": ["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"],
        "software": {"name": "Hearth", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "Hearth personal health record", "url": s.fhir_base()},
        "fhirVersion": "4.0.1",
        "format": ["json", "application/fhir+json"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [{
            "mode": "server",
            "documentation": "Every request needs a SMART bearer token; a patient/ token reaches one record, a user/ token every record its person reaches. Search parameters are the R4 definitions (no chaining, no _has, no composite parameters); unknown parameters are ignored unless Prefer: handling=strict.",
            "security": {
                "cors": false,
                "extension": [{
                    "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                    "extension": [
                        {"url": "authorize", "valueUri": s.url("/oauth/authorize")},
                        {"url": "token", "valueUri": s.url("/oauth/token")},
                        {"url": "revoke", "valueUri": s.url("/oauth/revoke")},
                        {"url": "introspect", "valueUri": s.url("/oauth/introspect")},
                        {"url": "manage", "valueUri": s.url("/records")}
                    ]
                }],
                "service": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                    "code": "SMART-on-FHIR"
                }]}]
            },
            "resource": resources,
            "interaction": [{"code": "transaction"}, {"code": "batch"}, {"code": "history-system"}],
            "operation": [{
                "name": "export",
                "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
                "documentation": "Bulk Data export for backend services (Patient/$export and Patient/[id]/$export for any token); _outputFormat, _since and _type are supported, _typeFilter is not."
            }],
            "searchParam": [
                {"name": "_count", "type": "number"},
                {"name": "_sort", "type": "string"},
                {"name": "_summary", "type": "token"},
                {"name": "_elements", "type": "string"},
                {"name": "_include", "type": "string"},
                {"name": "_revinclude", "type": "string"},
                {"name": "_total", "type": "token"}
            ]
        }]
    })
}

static CACHE: OnceLock<Mutex<HashMap<String, Bytes>>> = OnceLock::new();

pub async fn metadata(State(state): State<AppState>) -> Response {
    let base = state.services.auth_settings().fhir_base();
    let cache = CACHE.get_or_init(Default::default);
    let cached = cache.lock().ok().and_then(|c| c.get(&base).cloned());
    let body = match cached {
        Some(b) => b,
        None => {
            let b = Bytes::from(build(&state).to_string());
            if let Ok(mut c) = cache.lock() {
                c.insert(base, b.clone());
            }
            b
        }
    };
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+json; charset=utf-8"),
    );
    r
}
