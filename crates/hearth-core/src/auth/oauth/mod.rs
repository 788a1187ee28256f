//! The authorisation server's token logic: OAuth 2.1 authorization code with PKCE (S256 only),
//! refresh tokens with rotation and reuse detection, `client_credentials` for backend services,
//! revocation (RFC 7009), introspection (RFC 7662), OpenID Connect ID tokens, SMART App Launch
//! 2.0 launch context (`patient`, `fhirUser`), operator-issued tokens, and resolving a bearer
//! token into a [`Context`] for every API request.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hearth_domain::auth::{App, CodeData, Scopes, TokenIssuer, TokenKind, TokenRecord};
use hearth_domain::{AccountId, AppId, RecordId};
use sha2::{Digest, Sha256};

use super::secrets::{fingerprint, new_token};
use crate::{ServiceError, Services};

/// The app id operator-issued data tokens carry.
pub const OPERATOR_APP: &str = "hearth-admin";
/// The app id of admin-API keys.
pub const ADMIN_KEY_APP: &str = "hearth-operator";

/// An OAuth error response (RFC 6749 §5.2): the code and a sentence for the developer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            error,
            description: description.into(),
        }
    }
}

impl From<ServiceError> for OAuthError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Unauthenticated(m) => OAuthError::new("invalid_client", m),
            ServiceError::Throttled { retry_after_secs } => OAuthError::new(
                "slow_down",
                format!("too many failed attempts; retry in {retry_after_secs} s"),
            ),
            ServiceError::Invalid(_) => OAuthError::new("invalid_request", e.public_message()),
            other => {
                if matches!(other, ServiceError::Internal(_)) {
                    tracing::error!(error = %other, "token endpoint failure");
                }
                OAuthError::new("server_error", other.public_message())
            }
        }
    }
}

/// The parameters of an authorization request (RFC 6749 §4.1.1, PKCE, SMART, OIDC).
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub nonce: Option<String>,
    pub aud: Option<String>,
}

/// A checked authorization request.
#[derive(Clone, Debug)]
pub struct AuthorizeRequest {
    pub app: App,
    pub redirect_uri: String,
    pub scopes: Scopes,
    pub state: Option<String>,
    pub code_challenge: String,
    pub nonce: Option<String>,
}

/// Why an authorization request fails: shown to the person when the redirect URI cannot be
/// trusted, otherwise sent back to the app.
#[derive(Clone, Debug)]
pub enum AuthorizeError {
    /// Unknown client or unregistered redirect URI: never redirect (RFC 6749 §4.1.2.1).
    Show(String),
    /// Redirect here with the error.
    Redirect(String),
}

/// A successful token response (RFC 6749 §5.1 + OIDC + SMART).
#[derive(Clone, Debug, serde::Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// SMART launch context: the record's Patient id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", rename = "fhirUser")]
    pub fhir_user: Option<String>,
}

/// Appends query parameters to a URI that may already have some.
pub fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let mut u = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        u.append_pair(k, v);
    }
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{}", u.finish())
}

fn pkce_ok(verifier: &str, challenge: &str) -> bool {
    let valid = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    valid
        && super::secrets::same_secret(
            &URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
            challenge,
        )
}

/// A token record's fields that vary; the rest (times, hash, family) are filled by `mint`.
pub(crate) struct Minted {
    pub kind: TokenKind,
    pub app: AppId,
    pub account: Option<AccountId>,
    pub record: Option<RecordId>,
    pub scope: String,
    pub online: bool,
    pub issuer: TokenIssuer,
    pub ttl_secs: i64,
    pub code: Option<CodeData>,
}

impl Services {
    /// A new random token (with `prefix`) and its record, starting a new family.
    pub(crate) fn mint(&self, prefix: &str, m: Minted) -> (String, TokenRecord) {
        let token = new_token(prefix);
        let now = self.now();
        let rec = TokenRecord {
            hash: fingerprint(&token),
            kind: m.kind,
            app: m.app,
            account: m.account,
            record: m.record,
            scope: m.scope,
            online: m.online,
            issuer: m.issuer,
            family: uuid::Uuid::new_v4().to_string(),
            issued_at: now,
            expires_at: now.plus_seconds(m.ttl_secs),
            used_at: None,
            revoked_at: None,
            code: m.code,
        };
        (token, rec)
    }
}

mod authorize;
mod grants;
mod operator;
mod tokens;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_an_independent_computation() {
        // Challenge computed with `openssl dgst -sha256 -binary | base64` (URL-safe, no padding).
        let challenge = "5rx4EqLZ_k5ubLIlkO3N43IHKA5q3ic8LsAe6JnF4CY";
        assert!(pkce_ok("dBjftJeZ4CVP-mJ92K6o14x53bYRuH8zOG7hzojymsw", challenge));
        assert!(!pkce_ok("dBjftJeZ4CVP-mJ92K6o14x53bYRuH8zOG7hzojymsx", challenge));
        assert!(!pkce_ok("short", challenge));
    }

    #[test]
    fn query_parameters_are_appended_and_encoded() {
        assert_eq!(
            with_query("https://a/cb", &[("code", "x y"), ("state", "s&t")]),
            "https://a/cb?code=x+y&state=s%26t"
        );
        assert_eq!(
            with_query("https://a/cb?k=v", &[("code", "c")]),
            "https://a/cb?k=v&code=c"
        );
    }
}
