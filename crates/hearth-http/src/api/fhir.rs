//! The FHIR R4 endpoints a token reaches, in their first form: the CapabilityStatement with the
//! SMART security extension (https://hl7.org/fhir/smart-app-launch/conformance.html), read by id,
//! search by type, and create. Every request is confined to the token's records and rules by the
//! one authorisation decision in the services.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use hearth_core::render::render_resource;
use hearth_core::{ItemRequest, ServiceError, WriteOutcome};
use hearth_domain::datatypes::registry;
use hearth_domain::{Item, ItemId, ItemQuery};
use serde_json::{Value, json};

use super::bearer::Bearer;
use super::error::{blocking, fhir_error, fhir_json};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/fhir/metadata", get(metadata))
        .route("/fhir/{rtype}", get(search).post(create))
        .route("/fhir/{rtype}/{id}", get(read))
}

fn render(item: &Item) -> Result<Value, ServiceError> {
    let body = item
        .body
        .as_deref()
        .ok_or_else(|| ServiceError::Gone(format!("item {} was permanently removed", item.meta.id)))?;
    render_resource(&item.meta, body).map_err(ServiceError::Internal)
}

fn check_type(rtype: &str) -> Result<(), ServiceError> {
    if hearth_fhir::is_resource_type(rtype) {
        Ok(())
    } else {
        Err(ServiceError::NotFound(format!(
            "{rtype} is not a FHIR R4 resource type"
        )))
    }
}

async fn metadata(State(state): State<AppState>) -> Response {
    let s = state.services.auth_settings();
    let mut types: Vec<&str> = registry().all().iter().map(|d| d.resource_type).collect();
    types.sort_unstable();
    types.dedup();
    let resources: Vec<Value> = types
        .iter()
        .map(|t| json!({"type": t, "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "create"}]}))
        .collect();
    fhir_json(
        StatusCode::OK,
        &json!({
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-11-23",
            "kind": "instance",
            "software": {"name": "Hearth", "version": env!("CARGO_PKG_VERSION")},
            "implementation": {"description": "Hearth personal health record", "url": s.fhir_base()},
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [{
                "mode": "server",
                "security": {
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
                "resource": resources
            }]
        }),
    )
}

async fn read(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((rtype, id)): Path<(String, String)>,
) -> Response {
    let svc = state.services.clone();
    let r = blocking(move || {
        check_type(&rtype)?;
        let not_found = || ServiceError::NotFound(format!("{rtype}/{id} not found"));
        let item_id: ItemId = id.parse().map_err(|_| not_found())?;
        for record in svc.records_for(&bearer.context)? {
            if let Some(item) = svc.read(&bearer.context, record, &[item_id])?.pop()
                && item.meta.resource_type == rtype
            {
                return render(&item);
            }
        }
        Err(not_found())
    })
    .await;
    match r {
        Ok(v) => fhir_json(StatusCode::OK, &v),
        Err(e) => fhir_error(e),
    }
}

#[derive(serde::Deserialize)]
struct SearchParams {
    #[serde(rename = "_count")]
    count: Option<u32>,
}

async fn search(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(rtype): Path<String>,
    Query(p): Query<SearchParams>,
) -> Response {
    let svc = state.services.clone();
    let base = svc.auth_settings().fhir_base();
    let r = blocking(move || {
        check_type(&rtype)?;
        let q = ItemQuery {
            data_types: registry()
                .for_resource_type(&rtype)
                .iter()
                .map(|d| d.key.to_string())
                .collect(),
            limit: p.count.unwrap_or(50).clamp(1, ItemQuery::MAX_LIMIT),
            ..ItemQuery::default()
        };
        let mut entries = Vec::new();
        for record in svc.records_for(&bearer.context)? {
            for item in svc.query(&bearer.context, record, &q)?.items {
                let resource = render(&item)?;
                entries.push(json!({
                    "fullUrl": format!("{base}/{rtype}/{}", item.meta.id),
                    "resource": resource,
                    "search": {"mode": "match"}
                }));
            }
        }
        Ok(json!({
            "resourceType": "Bundle",
            "type": "searchset",
            "total": entries.len(),
            "entry": entries,
        }))
    })
    .await;
    match r {
        Ok(v) => fhir_json(StatusCode::OK, &v),
        Err(e) => fhir_error(e),
    }
}

async fn create(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(rtype): Path<String>,
    body: Bytes,
) -> Response {
    let svc = state.services.clone();
    let base = svc.auth_settings().fhir_base();
    let r = blocking(move || {
        check_type(&rtype)?;
        let resource: Value = serde_json::from_slice(&body)
            .map_err(|e| ServiceError::invalid("structure", "", format!("the body is not JSON: {e}")))?;
        if resource.get("resourceType").and_then(Value::as_str) != Some(rtype.as_str()) {
            return Err(ServiceError::invalid(
                "invalid",
                "resourceType",
                format!("the body is not a {rtype}"),
            ));
        }
        let records = svc.records_for(&bearer.context)?;
        let [record] = records.as_slice() else {
            return Err(ServiceError::invalid(
                "invalid",
                "",
                "this token reaches more than one record; create with a patient/ token",
            ));
        };
        let out = svc.write(
            &bearer.context,
            *record,
            vec![ItemRequest::Create {
                id: None,
                resource,
                envelope: Default::default(),
            }],
        )?;
        let meta = match out.into_iter().next() {
            Some(WriteOutcome::Created(m) | WriteOutcome::Updated(m) | WriteOutcome::Unchanged(m)) => m,
            _ => return Err(ServiceError::Internal("a create produced no outcome".into())),
        };
        let item = svc.read_one(&bearer.context, *record, meta.id)?;
        Ok((
            render(&item)?,
            format!("{base}/{rtype}/{}/_history/{}", meta.id, meta.version),
        ))
    })
    .await;
    match r {
        Ok((v, location)) => {
            let mut resp = fhir_json(StatusCode::CREATED, &v);
            if let Ok(h) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert(header::LOCATION, h);
            }
            resp
        }
        Err(e) => fhir_error(e),
    }
}
