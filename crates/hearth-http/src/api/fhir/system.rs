//! System-level interactions: batches and transactions (`POST /fhir` with a Bundle) and the
//! history of everything the token reaches (`GET /fhir/_history`).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use hearth_core::fhir::history::HistoryScope;

use super::instance::run_history;
use super::json_body;
use super::respond::{self, Prefer};
use crate::AppState;
use crate::api::bearer::Bearer;
use crate::api::error::{blocking, fhir_error, fhir_json};

pub async fn bundle(
    State(state): State<AppState>,
    bearer: Bearer,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let svc = state.services.clone();
    let base = svc.auth_settings().fhir_base();
    let prefer = Prefer::of(&headers);
    let now = svc.now();
    match blocking(move || {
        let bundle = json_body(&body)?;
        svc.fhir_bundle(&bearer.context, &bundle)
    })
    .await
    {
        Ok((kind, results)) => fhir_json(
            StatusCode::OK,
            &respond::bundle_response(&base, kind, results, prefer, now),
        ),
        Err(e) => fhir_error(e),
    }
}

pub async fn history(State(state): State<AppState>, bearer: Bearer, RawQuery(q): RawQuery) -> Response {
    let svc = state.services.clone();
    let base = svc.auth_settings().fhir_base();
    run_history(svc, bearer, HistoryScope::All, q, base, "_history".into()).await
}
