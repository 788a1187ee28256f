//! OAuth 2.1 endpoints (token, revocation RFC 7009, introspection RFC 7662), OpenID Connect
//! (discovery, JWKS, userinfo) and SMART App Launch 2.0 discovery
//! (`/.well-known/smart-configuration`). The authorization endpoint and consent page are pages
//! (see `crate::web`). Token responses are never cached.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine;
use hearth_core::auth::apps::ClientCredentials;
use hearth_core::auth::oauth::OAuthError;
use serde_json::{Value, json};

use super::bearer::Bearer;
use super::error::{blocking, fhir_error, json_body, oauth_error};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/oauth/revoke", post(revoke))
        .route("/oauth/introspect", post(introspect))
        .route("/oauth/userinfo", get(userinfo).post(userinfo))
        .route("/oauth/jwks", get(jwks))
        .route("/oauth/authorization", delete(remove_own_authorization))
        .route("/.well-known/openid-configuration", get(openid_configuration))
        .route("/.well-known/smart-configuration", get(smart_configuration))
        .route("/fhir/.well-known/smart-configuration", get(smart_configuration))
}

fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// Parses an `application/x-www-form-urlencoded` body; a parameter sent twice is an error
/// (RFC 6749 §3.1).
fn parse_form(body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        if out.insert(k.to_string(), v.to_string()).is_some() {
            return Err(OAuthError::new(
                "invalid_request",
                format!("parameter {k} is repeated"),
            ));
        }
    }
    Ok(out)
}

/// The client's credentials from HTTP Basic (RFC 6749 §2.3.1) or the body; both at once is an
/// error.
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<ClientCredentials, OAuthError> {
    let mut creds = ClientCredentials {
        client_id: form.get("client_id").cloned(),
        secret: form.get("client_secret").cloned(),
        assertion: None,
    };
    if let Some(auth) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
        && let Some(b64) = auth.strip_prefix("Basic ")
    {
        let bad = || OAuthError::new("invalid_client", "malformed Basic credentials");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let (id, secret) = raw.split_once(':').ok_or_else(bad)?;
        let dec = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.to_string())
        };
        let (id, secret) = (dec(id).ok_or_else(bad)?, dec(secret).ok_or_else(bad)?);
        if creds.secret.is_some() || creds.client_id.as_ref().is_some_and(|c| c != &id) {
            return Err(OAuthError::new(
                "invalid_request",
                "use one client authentication method",
            ));
        }
        creds.client_id = Some(id);
        creds.secret = Some(secret);
    }
    if let Some(a) = form.get("client_assertion") {
        if form.get("client_assertion_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return Err(OAuthError::new(
                "invalid_request",
                "unsupported client_assertion_type",
            ));
        }
        if creds.secret.is_some() {
            return Err(OAuthError::new(
                "invalid_request",
                "use one client authentication method",
            ));
        }
        creds.assertion = Some(a.clone());
    }
    Ok(creds)
}

/// Runs a token-endpoint style call off the async threads: parses the form and the client's
/// credentials, then `f`; the answer is JSON (or an empty 200 for `None`), never cached.
async fn form_call<F>(state: AppState, headers: HeaderMap, body: Bytes, f: F) -> Response
where
    F: FnOnce(
            &hearth_core::Services,
            &HashMap<String, String>,
            ClientCredentials,
        ) -> Result<Option<Value>, OAuthError>
        + Send
        + 'static,
{
    let svc = state.services.clone();
    let result = tokio::task::spawn_blocking(move || {
        let form = parse_form(&body)?;
        let creds = client_credentials(&headers, &form)?;
        f(&svc, &form, creds)
    })
    .await
    .unwrap_or_else(|_| Err(OAuthError::new("server_error", "internal error")));
    no_store(match result {
        Ok(Some(v)) => json_body(StatusCode::OK, "application/json", &v),
        Ok(None) => StatusCode::OK.into_response(),
        Err(e) => oauth_error(e),
    })
}

fn required<'a>(form: &'a HashMap<String, String>, name: &str) -> Result<&'a str, OAuthError> {
    form.get(name)
        .map(String::as_str)
        .ok_or_else(|| OAuthError::new("invalid_request", format!("{name} is required")))
}

async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    form_call(state, headers, body, |svc, form, creds| {
        let get = |k: &str| form.get(k).map(String::as_str);
        let resp = match get("grant_type") {
            Some("authorization_code") => svc.exchange_code(
                &creds,
                required(form, "code")?,
                get("redirect_uri"),
                get("code_verifier"),
            )?,
            Some("refresh_token") => svc.refresh(&creds, required(form, "refresh_token")?, get("scope"))?,
            Some("client_credentials") => svc.client_credentials(&creds, get("scope"))?,
            Some(other) => {
                return Err(OAuthError::new(
                    "unsupported_grant_type",
                    format!("grant_type {other} is not supported"),
                ));
            }
            None => return Err(OAuthError::new("invalid_request", "grant_type is required")),
        };
        serde_json::to_value(resp)
            .map(Some)
            .map_err(|e| OAuthError::new("server_error", e.to_string()))
    })
    .await
}

async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    form_call(state, headers, body, |svc, form, creds| {
        svc.revoke(&creds, required(form, "token")?)?;
        Ok(None)
    })
    .await
}

async fn introspect(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    form_call(state, headers, body, |svc, form, creds| {
        Ok(Some(svc.introspect(&creds, required(form, "token")?)?))
    })
    .await
}

async fn userinfo(State(state): State<AppState>, bearer: Bearer) -> Response {
    let svc = state.services.clone();
    let r = blocking(move || svc.userinfo(&bearer.token)).await;
    no_store(match r {
        Ok(v) => json_body(StatusCode::OK, "application/json", &v),
        Err(e) => fhir_error(e),
    })
}

async fn remove_own_authorization(State(state): State<AppState>, bearer: Bearer) -> Response {
    let svc = state.services.clone();
    let r = blocking(move || svc.app_removes_authorisation(&bearer.context, &bearer.token.family)).await;
    match r {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => fhir_error(e),
    }
}

async fn jwks(State(state): State<AppState>) -> Response {
    let svc = state.services.clone();
    match blocking(move || svc.jwks()).await {
        Ok(v) => json_body(StatusCode::OK, "application/jwk-set+json", &v),
        Err(e) => fhir_error(e),
    }
}

const SCOPES: &[&str] = &[
    "openid",
    "fhirUser",
    "profile",
    "launch/patient",
    "offline_access",
    "online_access",
    "patient/*.cruds",
    "user/*.cruds",
    "system/*.cruds",
    "patient/*.rs",
    "user/*.rs",
];

async fn openid_configuration(State(state): State<AppState>) -> Response {
    let s = state.services.auth_settings();
    json_body(
        StatusCode::OK,
        "application/json",
        &json!({
            "issuer": s.public_url,
            "authorization_endpoint": s.url("/oauth/authorize"),
            "token_endpoint": s.url("/oauth/token"),
            "userinfo_endpoint": s.url("/oauth/userinfo"),
            "jwks_uri": s.url("/oauth/jwks"),
            "revocation_endpoint": s.url("/oauth/revoke"),
            "introspection_endpoint": s.url("/oauth/introspect"),
            "scopes_supported": SCOPES,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384", "RS256", "ES256"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "fhirUser", "name"],
            "authorization_response_iss_parameter_supported": true,
        }),
    )
}

async fn smart_configuration(State(state): State<AppState>) -> Response {
    let s = state.services.auth_settings();
    json_body(
        StatusCode::OK,
        "application/json",
        &json!({
            "issuer": s.public_url,
            "jwks_uri": s.url("/oauth/jwks"),
            "authorization_endpoint": s.url("/oauth/authorize"),
            "token_endpoint": s.url("/oauth/token"),
            "revocation_endpoint": s.url("/oauth/revoke"),
            "introspection_endpoint": s.url("/oauth/introspect"),
            "userinfo_endpoint": s.url("/oauth/userinfo"),
            "management_endpoint": s.url("/records"),
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384", "RS256", "ES256"],
            "scopes_supported": SCOPES,
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "capabilities": [
                "launch-standalone",
                "client-public",
                "client-confidential-symmetric",
                "client-confidential-asymmetric",
                "context-standalone-patient",
                "permission-offline",
                "permission-online",
                "permission-patient",
                "permission-user",
                "permission-v1",
                "permission-v2",
                "sso-openid-connect"

            ],
        }),
    )
}
