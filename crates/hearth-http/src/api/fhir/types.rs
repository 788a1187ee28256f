//! Type-level interactions: search (`GET /fhir/[type]?…` and `POST /fhir/[type]/_search` with a
//! form body), create (`POST`, with `If-None-Exist`), conditional update and delete
//! (`PUT|DELETE /fhir/[type]?…`), type history, and the custodian views `AuditEvent?patient=`
//! and `Provenance?target=`.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use hearth_core::ServiceError;
use hearth_core::fhir::history::HistoryScope;
use hearth_core::fhir::search::{Hit, SearchPage, SearchRequest};
use serde_json::Value;

use super::capability::VIEWS;
use super::instance::{not_allowed, run_history};
use super::respond::{self, Prefer};
use super::{check_type, json_body, pairs, write_and_answer};
use crate::AppState;
use crate::api::bearer::{Bearer, BearerToken};
use crate::api::error::{blocking, fhir_error, fhir_json};

async fn run_search(
    state: AppState,
    token: BearerToken,
    rtype: String,
    pairs: Vec<(String, String)>,
    prefer: Prefer,
) -> Response {
    let svc = state.services.clone();
    let base = svc.auth_settings().fhir_base();
    let now = svc.now();
    let path = rtype.clone();
    let r = blocking(move || {
        let ctx = token.resolve(&svc)?;
        check_type(&rtype)?;
        if VIEWS.contains(&rtype.as_str()) {
            return view_search(&svc, &ctx, &rtype, &pairs);
        }
        svc.fhir_search(
            &ctx,
            &SearchRequest {
                resource_type: rtype,
                pairs,
                strict: prefer.strict,
                record: None,
            },
        )
    })
    .await;
    match r {
        Ok(page) => fhir_json(StatusCode::OK, &respond::searchset(&base, &path, &page, now)),
        Err(e) => fhir_error(e),
    }
}

/// `AuditEvent?patient=[id]` (with `date` bounds and `_count`) and `Provenance?target=[ref]`.
fn view_search(
    svc: &hearth_core::Services,
    ctx: &hearth_core::Context,
    rtype: &str,
    pairs: &[(String, String)],
) -> Result<SearchPage, ServiceError> {
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let page = |hits: Vec<Hit>, next: Option<String>, applied: Vec<(String, String)>| SearchPage {
        total: next.is_none().then_some(hits.len()),
        hits,
        next,
        previous: None,
        applied,
        ignored: vec![],
        count_only: false,
    };
    let hit = |v: Value| Hit {
        meta: view_meta(rtype),
        resource: v,
        included: false,
    };
    if rtype == "AuditEvent" {
        let patient = get("patient").or_else(|| get("entity")).ok_or_else(|| {
            ServiceError::invalid(
                "required",
                "patient",
                "AuditEvent searches need patient=[Patient id]",
            )
        })?;
        let pid = patient.rsplit('/').next().unwrap_or(patient);
        let item = svc.fhir_read(ctx, "Patient", pid)?;
        let mut from = None;
        let mut to = None;
        for (k, v) in pairs.iter().filter(|(k, _)| k == "date") {
            let _ = k;
            let (prefix, value) = v.split_at(v.len().min(2));
            let bound = |s: &str| {
                hearth_domain::datatypes::parse_fhir_datetime(s)
                    .ok_or_else(|| ServiceError::invalid("value", "date", format!("{v:?} is not a date")))
            };
            match prefix {
                "ge" | "gt" => from = Some(bound(value)?),
                "le" | "lt" => to = Some(bound(value)?),
                _ => {
                    return Err(ServiceError::invalid(
                        "value",
                        "date",
                        "AuditEvent dates take ge/gt/le/lt",
                    ));
                }
            }
        }
        let count = get("_count").and_then(|c| c.parse().ok());
        let events = svc.fhir_audit_events(ctx, item.meta.record_id, from, to, count, get("_page"))?;
        let mut applied: Vec<(String, String)> = vec![("patient".into(), pid.into())];
        applied.extend(
            pairs
                .iter()
                .filter(|(k, _)| k == "date" || k == "_count")
                .cloned(),
        );
        return Ok(page(
            events.events.into_iter().map(hit).collect(),
            events.next,
            applied,
        ));
    }
    let target = get("target").ok_or_else(|| {
        ServiceError::invalid(
            "required",
            "target",
            "Provenance searches need target=[type]/[id]",
        )
    })?;
    let (t, id) = target
        .rsplit_once('/')
        .map(|(t, id)| (t.rsplit('/').next().unwrap_or(t), id))
        .ok_or_else(|| ServiceError::invalid("value", "target", "target must be [type]/[id]"))?;
    let list = svc.fhir_provenance(ctx, t, id)?;
    Ok(page(
        list.into_iter().map(hit).collect(),
        None,
        vec![("target".into(), target.into())],
    ))
}

/// An envelope for a view resource (only its type and id are used, for `fullUrl`).
fn view_meta(rtype: &str) -> hearth_domain::ItemMeta {
    let stamp = hearth_domain::Stamp {
        at: hearth_domain::Timestamp(0),
        account: None,
        app: None,
        online: false,
    };
    hearth_domain::ItemMeta {
        id: hearth_domain::ItemId::from_bytes([0; 16]),
        record_id: hearth_domain::RecordId::from_bytes([0; 16]),
        version: 1,
        state: hearth_domain::ItemState::Active,
        resource_type: rtype.to_string(),
        data_type: String::new(),
        effective: stamp.at,
        end_date: None,
        flags: Default::default(),
        source: None,
        note: None,
        tags: vec![],
        links: vec![],
        blobs: vec![],
        codes: vec![],
        client_id: None,
        writer: String::new(),
        created: stamp.clone(),
        updated: stamp,
        seq: 0,
    }
}

pub async fn search_get(
    State(state): State<AppState>,
    token: BearerToken,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    run_search(state, token, rtype, pairs(q.as_deref()), Prefer::of(&headers)).await
}

pub async fn search_post(
    State(state): State<AppState>,
    token: BearerToken,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if !body.is_empty() && !form {
        return fhir_error(ServiceError::invalid(
            "not-supported",
            "Content-Type",
            "_search takes its parameters as application/x-www-form-urlencoded",
        ));
    }
    let mut all = pairs(q.as_deref());
    all.extend(url::form_urlencoded::parse(&body).into_owned());
    run_search(state, token, rtype, all, Prefer::of(&headers)).await
}

pub async fn create(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if VIEWS.contains(&rtype.as_str()) {
        return not_allowed(&format!(
            "{rtype} resources are kept by the server and cannot be created"
        ));
    }
    let base = state.services.auth_settings().fhir_base();
    let if_none_exist = headers
        .get("if-none-exist")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim_start_matches(&format!("{base}/")).to_string());
    write_and_answer(&state, bearer.context, &headers, move |svc, ctx| {
        check_type(&rtype)?;
        let resource = json_body(&body)?;
        if resource.get("resourceType").and_then(Value::as_str) != Some(rtype.as_str()) {
            return Err(ServiceError::invalid(
                "invalid",
                "resourceType",
                format!("the body is not a {rtype}"),
            ));
        }
        let query = if_none_exist.map(|q| q.split_once('?').map_or(q.clone(), |(_, q)| q.to_string()));
        svc.fhir_create(ctx, resource, query.as_deref())
    })
    .await
}

pub async fn conditional_update(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let h = headers.clone();
    write_and_answer(&state, bearer.context, &headers, move |svc, ctx| {
        check_type(&rtype)?;
        let query = q.unwrap_or_default();
        if query.is_empty() {
            return Err(ServiceError::NotAllowed(
                "PUT needs a resource id or search criteria".into(),
            ));
        }
        let version = respond::if_match(&h)?;
        svc.fhir_conditional_update(ctx, &rtype, &query, json_body(&body)?, version)
    })
    .await
}

pub async fn conditional_delete(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(rtype): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let svc = state.services.clone();
    match blocking(move || {
        check_type(&rtype)?;
        let query = q.unwrap_or_default();
        if query.is_empty() {
            return Err(ServiceError::NotAllowed(
                "DELETE needs a resource id or search criteria".into(),
            ));
        }
        svc.fhir_conditional_delete(&bearer.context, &rtype, &query)
    })
    .await
    {
        Ok(_) => {
            let mut r = Response::new(axum::body::Body::empty());
            *r.status_mut() = StatusCode::NO_CONTENT;
            r
        }
        Err(e) => fhir_error(e),
    }
}

pub async fn history(
    State(state): State<AppState>,
    bearer: Bearer,
    Path(rtype): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let svc = state.services.clone();
    let base = svc.auth_settings().fhir_base();
    let path = format!("{rtype}/_history");
    run_history(svc, bearer, HistoryScope::Type(rtype), q, base, path).await
}
