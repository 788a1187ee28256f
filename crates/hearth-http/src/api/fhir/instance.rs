//! Instance-level interactions: `GET|PUT|PATCH|DELETE /fhir/[type]/[id]`, `…/_history`,
//! `…/_history/[vid]`, `Patient/[id]/$everything`, and compartment searches
//! `Patient/[id]/[type]` (https://hl7.org/fhir/R4/compartmentdefinition.html).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use hearth_core::ServiceError;
use hearth_core::fhir::everything::EverythingRequest;
use hearth_core::fhir::history::{HistoryRequest, HistoryScope};
use hearth_core::fhir::search::SearchRequest;
use hearth_domain::Timestamp;
use serde_json::json;

use super::respond::{self, Prefer};
use super::{check_type, json_body, pairs, write_and_answer};
use crate::AppState;
use crate::api::bearer::{Bearer, BearerToken};
use crate::api::error::{blocking, fhir_error, fhir_json};

pub async fn read(
    State(state): State<AppState>,
    token: BearerToken,
    Path((rtype, id)): Path<(String, String)>,
) -> Response {
    let svc = state.services.clone();
    match blocking(move || {
        let ctx = token.resolve(&svc)?;
        check_type(&rtype)?;
        svc.fhir_read(&ctx, &rtype, &id)
    })
    .await
    {
        Ok(item) => respond::resource(StatusCode::OK, &item),
        Err(e) => fhir_error(e),
    }
}

pub async fn vread(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((rtype, id, vid)): Path<(String, String, String)>,
) -> Response {
    let svc = state.services.clone();
    match blocking(move || {
        check_type(&rtype)?;
        svc.fhir_vread(&bearer.context, &rtype, &id, &vid)
    })
    .await
    {
        Ok(item) => respond::resource(StatusCode::OK, &item),
        Err(e) => fhir_error(e),
    }
}

pub async fn update(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((rtype, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let h = headers.clone();
    write_and_answer(&state, bearer.context, &headers, move |svc, ctx| {
        check_type(&rtype)?;
        let version = respond::if_match(&h)?;
        svc.fhir_update(ctx, &rtype, &id, json_body(&body)?, version)
    })
    .await
}

pub async fn patch(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((rtype, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let h = headers.clone();
    write_and_answer(&state, bearer.context, &headers, move |svc, ctx| {
        check_type(&rtype)?;
        let ct = h
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !ct.starts_with("application/json-patch+json") {
            return Err(ServiceError::invalid(
                "not-supported",
                "Content-Type",
                "PATCH takes a JSON Patch (Content-Type: application/json-patch+json)",
            ));
        }
        let version = respond::if_match(&h)?;
        svc.fhir_patch(ctx, &rtype, &id, json_body(&body)?, version)
    })
    .await
}

pub async fn delete(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((rtype, id)): Path<(String, String)>,
) -> Response {
    let svc = state.services.clone();
    match blocking(move || {
        check_type(&rtype)?;
        svc.fhir_delete(&bearer.context, &rtype, &id)
    })
    .await
    {
        Ok(Some(meta)) => {
            let mut r = Response::new(axum::body::Body::empty());
            *r.status_mut() = StatusCode::NO_CONTENT;
            if let Ok(v) = respond::etag(&meta).parse() {
                r.headers_mut().insert(header::ETAG, v);
            }
            r
        }
        Ok(None) => {
            let mut r = Response::new(axum::body::Body::empty());
            *r.status_mut() = StatusCode::NO_CONTENT;
            r
        }
        Err(e) => fhir_error(e),
    }
}

/// `path` with the request's parameters except `_page` (for self and next links).
pub(crate) fn with_query(path: &str, q: Option<&str>) -> String {
    let kept: Vec<(String, String)> = pairs(q).into_iter().filter(|(k, _)| k != "_page").collect();
    if kept.is_empty() {
        return path.to_string();
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .finish();
    format!("{path}?{query}")
}

/// `_since`, `_count` and `_page` of a history or `$everything` request.
type SinceCountPage = (Option<Timestamp>, Option<u32>, Option<String>);

pub(crate) fn since_count_page(pairs: &[(String, String)]) -> Result<SinceCountPage, ServiceError> {
    let mut since = None;
    let mut count = None;
    let mut page = None;
    for (k, v) in pairs {
        match k.as_str() {
            "_since" => {
                since = Some(hearth_domain::datatypes::parse_fhir_datetime(v).ok_or_else(|| {
                    ServiceError::invalid("value", "_since", format!("{v:?} is not a FHIR instant"))
                })?)
            }
            "_count" => {
                count = Some(v.parse().map_err(|_| {
                    ServiceError::invalid("value", "_count", format!("{v:?} is not a number"))
                })?)
            }
            "_page" => page = Some(v.clone()),
            _ => {}
        }
    }
    Ok((since, count, page))
}

pub async fn history(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((rtype, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    let svc = state.services.clone();
    let base = svc.auth_settings().fhir_base();
    let path = format!("{rtype}/{id}/_history");
    run_history(
        svc,
        bearer,
        HistoryScope::Instance {
            resource_type: rtype,
            id,
        },
        q,
        base,
        path,
    )
    .await
}

pub(crate) async fn run_history(
    svc: std::sync::Arc<hearth_core::Services>,
    bearer: Bearer,
    scope: HistoryScope,
    q: Option<String>,
    base: String,
    path: String,
) -> Response {
    let kept = with_query(&path, q.as_deref());
    let path = kept;
    let svc2 = svc.clone();
    match blocking(move || {
        if let HistoryScope::Instance { resource_type, .. } | HistoryScope::Type(resource_type) = &scope {
            check_type(resource_type)?;
        }
        let (since, count, page) = since_count_page(&pairs(q.as_deref()))?;
        svc2.fhir_history(&bearer.context, &scope, &HistoryRequest { since, count, page })
    })
    .await
    {
        Ok(page) => fhir_json(
            StatusCode::OK,
            &respond::history(
                &base,
                &path,
                &page.entries,
                page.next.as_deref(),
                page.total,
                svc.now(),
            ),
        ),
        Err(e) => fhir_error(e),
    }
}

/// `GET /fhir/Patient/[id]/$everything` and `GET /fhir/Patient/[id]/[type]`.
pub async fn operation(
    State(state): State<AppState>,
    bearer: Bearer,
    Path((rtype, id, op)): Path<(String, String, String)>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let svc = state.services.clone();
    let base = svc.auth_settings().fhir_base();
    let prefer = Prefer::of(&headers);
    let now = svc.now();
    if rtype == "Patient" && op == "$everything" {
        let path = with_query(&format!("Patient/{id}/$everything"), q.as_deref());
        let r = blocking(move || {
            let pairs = pairs(q.as_deref());
            let (since, count, page) = since_count_page(&pairs)?;
            let types = pairs
                .iter()
                .filter(|(k, _)| k == "_type")
                .flat_map(|(_, v)| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(str::to_string)
                })
                .collect();
            svc.fhir_everything(
                &bearer.context,
                &id,
                &EverythingRequest {
                    since,
                    types,
                    count,
                    page,
                },
            )
        })
        .await;
        return match r {
            Ok(p) => respond::fhir_text(
                StatusCode::OK,
                respond::searchset_text(&base, &path, &p.items, p.next.as_deref(), p.total, now),
            ),
            Err(e) => fhir_error(e),
        };
    }
    if rtype == "Patient" && hearth_fhir::is_resource_type(&op) {
        let path = format!("Patient/{id}/{op}");
        let r = blocking(move || {
            let patient = svc.fhir_read(&bearer.context, "Patient", &id)?;
            let mut req = SearchRequest {
                resource_type: op,
                pairs: pairs(q.as_deref()),
                strict: prefer.strict,
                record: Some(patient.meta.record_id),
            };
            req.pairs.retain(|(k, _)| k != "patient");
            svc.fhir_search(&bearer.context, &req)
        })
        .await;
        return match r {
            Ok(page) => fhir_json(StatusCode::OK, &respond::searchset(&base, &path, &page, now)),
            Err(e) => fhir_error(e),
        };
    }
    fhir_error(ServiceError::NotFound(format!(
        "{rtype}/{id}/{op}: no such operation or compartment"
    )))
}

/// `POST /fhir/Patient/[id]/$everything` with no parameters in the body.
pub async fn operation_post(
    state: State<AppState>,
    bearer: Bearer,
    path: Path<(String, String, String)>,
    headers: HeaderMap,
    q: RawQuery,
    body: Bytes,
) -> Response {
    if !body.is_empty() {
        match json_body(&body) {
            Ok(v)
                if v.get("resourceType").and_then(|t| t.as_str()) == Some("Parameters")
                    && v.get("parameter")
                        .is_none_or(|p| p.as_array().is_some_and(|a| a.is_empty())) => {}
            Ok(_) => {
                return fhir_error(ServiceError::invalid(
                    "not-supported",
                    "",
                    "pass the operation's parameters in the URL",
                ));
            }
            Err(e) => return fhir_error(e),
        }
    }
    operation(state, bearer, path, headers, q).await
}

/// A 405 OperationOutcome for an interaction a view does not allow.
pub(crate) fn not_allowed(what: &str) -> Response {
    fhir_json(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-supported", "diagnostics": what}]}),
    )
}
