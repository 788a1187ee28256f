//! OAuth artefacts (RFC 6749, OAuth 2.1): authorization codes, access tokens and refresh tokens,
//! and the server's signing keys (OpenID Connect ID tokens).
//!
//! All three token kinds are opaque random strings; the store keeps only their SHA-256, so a
//! leaked database yields no usable token, and every token can be revoked at once. A refresh
//! token belongs to a *family* (every token descended from one authorization); reusing a spent
//! refresh token revokes the whole family (OAuth 2.1 §4.3.1, RFC 9700 §4.14).

use serde::{Deserialize, Serialize};

use crate::{AccountId, AppId, RecordId, Timestamp};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenKind {
    Code,
    Access,
    Refresh,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Code => "code",
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "code" => Some(TokenKind::Code),
            "access" => Some(TokenKind::Access),
            "refresh" => Some(TokenKind::Refresh),
            _ => None,
        }
    }
}

/// What an authorization code remembers until it is exchanged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeData {
    pub redirect_uri: String,
    /// PKCE S256 challenge (base64url SHA-256 of the verifier).
    pub code_challenge: String,
    pub nonce: Option<String>,
}

/// Who issued the token's standing: a person's consent to an app, or the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenIssuer {
    /// Issued to an app under a person's grant (or a backend service's grants).
    Consent,
    /// Issued by the operator (`hearth admin issue-token`); no app grant applies.
    Operator,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// SHA-256 (hex) of the token string.
    pub hash: String,
    pub kind: TokenKind,
    pub app: AppId,
    /// The person the app acts for; none for backend services and record-bound operator tokens.
    pub account: Option<AccountId>,
    /// The record the token is confined to (`patient/` scopes, SMART `patient` launch context).
    pub record: Option<RecordId>,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// Whether the person is present (tokens from an authorization code) or not (refreshed
    /// tokens, backend services): offline tokens use only offline rules.
    pub online: bool,
    pub issuer: TokenIssuer,
    /// Every token descended from one authorization shares this id.
    pub family: String,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    /// Codes and refresh tokens are single-use.
    pub used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub code: Option<CodeData>,
}

impl TokenRecord {
    /// Not revoked, not expired (and for single-use kinds, not used).
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none()
            && now < self.expires_at
            && (self.kind == TokenKind::Access || self.used_at.is_none())
    }
}

/// What [`crate::auth::TokenKind::Code`] and refresh exchanges learn when spending a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpendOutcome {
    /// First use: the token is now spent.
    Spent(TokenRecord),
    /// It had been spent before (replay: the caller revokes the family).
    AlreadyUsed(TokenRecord),
    NotFound,
}

/// A key the server signs ID tokens with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKey {
    pub kid: String,
    /// JOSE algorithm, e.g. "RS256".
    pub alg: String,
    /// PKCS#8 PEM.
    pub private_pem: String,
    /// The public JWK as published at the JWKS endpoint.
    pub public_jwk: serde_json::Value,
    pub created_at: Timestamp,
}
