//! `Authorization: Bearer` (RFC 6750): resolves the access token into the acting context once
//! per request. A missing, unknown, expired or revoked token is a 401 with `WWW-Authenticate`.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum::response::Response;
use hearth_core::{Context, ServiceError};
use hearth_domain::auth::TokenRecord;

use super::error::{blocking, fhir_error};
use crate::AppState;

pub struct Bearer {
    pub context: Context,
    pub token: TokenRecord,
}

impl FromRequestParts<AppState> for Bearer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                fhir_error(ServiceError::Unauthenticated(
                    "an access token is required".into(),
                ))
            })?;
        // A token seen in the last second resolves without a trip to the database.
        let resolved = match state.services.resolve_bearer_cached(&token) {
            Some(r) => r,
            None => {
                let svc = state.services.clone();
                blocking(move || svc.resolve_bearer(&token)).await
            }
        };
        let (context, token) = resolved.map_err(fhir_error)?;
        Ok(Bearer { context, token })
    }
}
