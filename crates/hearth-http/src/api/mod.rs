//! What apps and operators call: OAuth 2.1 / SMART App Launch 2.0 endpoints and discovery, the
//! admin API, the FHIR endpoints (files: `Binary` and attachments, in [`files`]), and FHIR Bulk
//! Data export ([`bulk`]). Errors are JSON (OAuth) or OperationOutcomes (FHIR), built in [`error`].

pub mod admin;
pub mod bearer;
pub mod bulk;
pub mod error;
pub mod fhir;
pub mod files;
pub mod oauth;

use axum::Router;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(oauth::routes())
        .merge(admin::routes())
        .merge(fhir::routes())
        .merge(files::routes())
        .merge(bulk::routes())
}
