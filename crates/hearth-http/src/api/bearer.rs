//! `Authorization: Bearer` (RFC 6750): resolves the access token into the acting context once
//! per request. A missing, unknown, expired or revoked token is a 401 with `WWW-Authenticate`.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum::response::Response;
use hearth_core::{Context, ServiceError, Services};
use hearth_domain::auth::TokenRecord;

use super::error::{blocking, fhir_error};
use crate::AppState;

pub struct Bearer {
    pub context: Context,
    pub token: TokenRecord,
}

/// The bearer token as sent, resolved later on the blocking thread that serves the request:
/// the busiest handlers (read, search) so make one trip off the async threads instead of two.
pub struct BearerToken(String);

impl BearerToken {
    /// The acting context, or "unauthenticated" (a 401).
    pub fn resolve(&self, svc: &Services) -> Result<Context, ServiceError> {
        svc.resolve_bearer(&self.0).map(|(ctx, _)| ctx)
    }
}

impl FromRequestParts<AppState> for BearerToken {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .map(BearerToken)
            .ok_or_else(|| {
                // No credentials at all: the challenge carries no error code (RFC 6750 §3.1).
                let mut r = fhir_error(ServiceError::Unauthenticated(
                    "an access token is required".into(),
                ));
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    axum::http::HeaderValue::from_static("Bearer realm=\"hearth\""),
                );
                r
            })
    }
}

impl FromRequestParts<AppState> for Bearer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let BearerToken(token) = BearerToken::from_request_parts(parts, state).await?;
        let svc = state.services.clone();
        let (context, token) = blocking(move || svc.resolve_bearer(&token))
            .await
            .map_err(fhir_error)?;
        Ok(Bearer { context, token })
    }
}
