//! The FHIR R4 REST API (https://hl7.org/fhir/R4/http.html) under `/fhir`, JSON only
//! (`application/fhir+json`). Every request needs a bearer token and is confined by the services
//! to the token's records and rules; errors are OperationOutcomes. The handlers parse requests,
//! call `hearth_core::fhir` and shape answers ([`respond`]).
//!
//! - [`capability`]: `GET /fhir/metadata`, with the SMART security extension.
//! - [`instance`]: read, vread, update, patch, delete, instance history, `$everything`, and
//!   compartment searches (`Patient/[id]/[type]`).
//! - [`types`]: search (GET and `POST _search`), create, conditional update and delete, type
//!   history, and the custodian views `AuditEvent` and `Provenance`.
//! - [`system`]: batches and transactions (`POST /fhir`) and system history.

pub mod capability;
pub mod instance;
pub mod respond;
pub mod system;
pub mod types;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/fhir/metadata", get(capability::metadata))
        .route("/fhir", post(system::bundle))
        .route("/fhir/", post(system::bundle))
        .route("/fhir/_history", get(system::history))
        .route(
            "/fhir/{rtype}",
            get(types::search_get)
                .post(types::create)
                .put(types::conditional_update)
                .delete(types::conditional_delete),
        )
        .route("/fhir/{rtype}/_search", post(types::search_post))
        .route("/fhir/{rtype}/_history", get(types::history))
        .route(
            "/fhir/{rtype}/{id}",
            get(instance::read)
                .put(instance::update)
                .patch(instance::patch)
                .delete(instance::delete),
        )
        .route("/fhir/{rtype}/{id}/_history", get(instance::history))
        .route("/fhir/{rtype}/{id}/_history/{vid}", get(instance::vread))
        .route(
            "/fhir/{rtype}/{id}/{op}",
            get(instance::operation).post(instance::operation_post),
        )
}

/// Decoded query pairs, in order.
pub(crate) fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// A resource type named in a URL, or 404.
pub(crate) fn check_type(rtype: &str) -> Result<(), hearth_core::ServiceError> {
    if hearth_fhir::is_resource_type(rtype) {
        Ok(())
    } else {
        Err(hearth_core::ServiceError::NotFound(format!(
            "{rtype} is not a FHIR R4 resource type"
        )))
    }
}

/// The JSON body of a request, or a 400 naming what is wrong.
pub(crate) fn json_body(body: &[u8]) -> Result<serde_json::Value, hearth_core::ServiceError> {
    if body.is_empty() {
        return Err(hearth_core::ServiceError::invalid(
            "required",
            "",
            "the request has no body",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        hearth_core::ServiceError::invalid("structure", "", format!("the body is not JSON: {e}"))
    })
}

/// Runs a write on a blocking thread and answers it as `Prefer: return=` asks (the written
/// version is read back, and audited as read, only when the answer carries it).
pub(crate) async fn write_and_answer(
    state: &AppState,
    ctx: hearth_core::Context,
    headers: &axum::http::HeaderMap,
    write: impl FnOnce(
        &hearth_core::Services,
        &hearth_core::Context,
    ) -> Result<hearth_core::fhir::Written, hearth_core::ServiceError>
    + Send
    + 'static,
) -> axum::response::Response {
    let svc = state.services.clone();
    let prefer = respond::Prefer::of(headers);
    let base = svc.auth_settings().fhir_base();
    let wants_body = !matches!(
        prefer.ret,
        Some(respond::Return::Minimal | respond::Return::OperationOutcome)
    );
    let r = crate::api::error::blocking(move || {
        let w = write(&svc, &ctx)?;
        let item = if wants_body {
            svc.read(&ctx, w.record, &[w.meta.id])?.pop()
        } else {
            None
        };
        Ok((w, item))
    })
    .await;
    match r {
        Ok((w, item)) => respond::written(&base, &w, item.as_ref(), prefer),
        Err(e) => crate::api::error::fhir_error(e),
    }
}
