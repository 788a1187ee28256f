//! The authorisation server's token logic: OAuth 2.1 authorization code with PKCE (S256 only),
//! refresh tokens with rotation and reuse detection, `client_credentials` for backend services,
//! revocation (RFC 7009), introspection (RFC 7662), OpenID Connect ID tokens, SMART App Launch
//! 2.0 launch context (`patient`, `fhirUser`), operator-issued tokens, and resolving a bearer
//! token into a [`Context`] for every API request.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hearth_domain::auth::{
    App, AppKind, CodeData, Grant, ScopeContext, Scopes, SpendOutcome, TokenIssuer, TokenKind, TokenRecord,
    scope::narrow,
};
use hearth_domain::{AccountId, AppId, AuditAction, AuditEntry, AuditOutcome, RecordId, Relationship};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::apps::ClientCredentials;
use super::secrets::{fingerprint, new_token};
use crate::context::{AppAccess, Principal};
use crate::{Context, ServiceError, ServiceResult, Services};

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

    /// Checks an authorization request before anyone signs in.
    pub fn check_authorize(&self, p: &AuthorizeParams) -> Result<AuthorizeRequest, AuthorizeError> {
        let client_id = p
            .client_id
            .clone()
            .ok_or_else(|| AuthorizeError::Show("The request names no app (client_id is missing).".into()))?;
        let app = self
            .store
            .app(&AppId(client_id))
            .map_err(|_| AuthorizeError::Show("Hearth could not look up this app; try again later.".into()))?
            .filter(|a| !a.disabled && a.kind != AppKind::BackendService)
            .ok_or_else(|| {
                AuthorizeError::Show("This app is not registered with this Hearth server.".into())
            })?;
        let redirect_uri = match &p.redirect_uri {
            Some(u) if app.redirect_uris.iter().any(|r| r == u) => u.clone(),
            Some(_) => {
                return Err(AuthorizeError::Show(
                    "The app sent a redirect address it did not register.".into(),
                ));
            }
            None if app.redirect_uris.len() == 1 => app.redirect_uris[0].clone(),
            None => return Err(AuthorizeError::Show("The request names no redirect_uri.".into())),
        };
        let fail = |error: &str, desc: &str| {
            let mut params = vec![("error", error), ("error_description", desc)];
            if let Some(s) = &p.state {
                params.push(("state", s));
            }
            let iss = self.auth.settings.public_url.clone();
            params.push(("iss", &iss));
            AuthorizeError::Redirect(with_query(&redirect_uri, &params))
        };
        if p.response_type.as_deref() != Some("code") {
            return Err(fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
        let Some(challenge) = p.code_challenge.clone().filter(|c| !c.is_empty()) else {
            return Err(fail(
                "invalid_request",
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            ));
        };
        if p.code_challenge_method.as_deref() != Some("S256") {
            return Err(fail(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not accepted)",
            ));
        }
        if challenge.len() != 43 || URL_SAFE_NO_PAD.decode(&challenge).is_err() {
            return Err(fail(
                "invalid_request",
                "code_challenge must be the base64url SHA-256 of the verifier",
            ));
        }
        if let Some(aud) = &p.aud
            && aud.trim_end_matches('/') != self.auth.settings.fhir_base()
        {
            return Err(fail(
                "invalid_request",
                "aud does not name this server's FHIR endpoint",
            ));
        }
        let scopes =
            Scopes::parse(p.scope.as_deref().unwrap_or("")).map_err(|e| fail("invalid_scope", &e))?;
        if scopes.has_context(ScopeContext::System) {
            return Err(fail(
                "invalid_scope",
                "system/ scopes are for backend services (client_credentials)",
            ));
        }
        if scopes.resources.is_empty() && !scopes.openid {
            return Err(fail(
                "invalid_scope",
                "ask for at least one patient/ or user/ scope",
            ));
        }
        Ok(AuthorizeRequest {
            app,
            redirect_uri,
            scopes,
            state: p.state.clone(),
            code_challenge: challenge,
            nonce: p.nonce.clone(),
        })
    }

    /// The redirect that tells the app the person declined.
    pub fn authorize_denied(&self, req: &AuthorizeRequest) -> String {
        let mut params = vec![
            ("error", "access_denied"),
            ("error_description", "the person declined"),
        ];
        if let Some(s) = &req.state {
            params.push(("state", s));
        }
        let iss = self.auth.settings.public_url.clone();
        params.push(("iss", &iss));
        with_query(&req.redirect_uri, &params)
    }

    /// After consent: issues a single-use code for the app and returns the redirect URI.
    pub fn issue_code(
        &self,
        account: AccountId,
        req: &AuthorizeRequest,
        record: RecordId,
        grant: &Grant,
    ) -> ServiceResult<String> {
        let allowed = |t: &str| grant.perms(t, true);
        let mut scopes = narrow(&req.scopes, allowed);
        let offline = scopes.offline_access && grant.rules.iter().any(|r| r.offline);
        scopes.offline_access = offline;
        let confined = scopes.launch_patient || scopes.has_context(ScopeContext::Patient);
        let (code, rec) = self.mint(
            "hac",
            Minted {
                kind: TokenKind::Code,
                app: req.app.id.clone(),
                account: Some(account),
                record: confined.then_some(record),
                scope: scopes.to_string(),
                online: true,
                issuer: TokenIssuer::Consent,
                ttl_secs: self.auth.settings.code_secs,
                code: Some(CodeData {
                    redirect_uri: req.redirect_uri.clone(),
                    code_challenge: req.code_challenge.clone(),
                    nonce: req.nonce.clone(),
                }),
            },
        );
        self.store.put_token(&rec, None)?;
        let mut params = vec![("code", code.as_str())];
        if let Some(s) = &req.state {
            params.push(("state", s));
        }
        let iss = self.auth.settings.public_url.clone();
        params.push(("iss", &iss));
        Ok(with_query(&req.redirect_uri, &params))
    }

    fn token_audit(&self, t: &TokenRecord, action: AuditAction) -> AuditEntry {
        AuditEntry {
            id: 0,
            at: self.now(),
            account: t.account,
            app: Some(t.app.clone()),
            online: t.online,
            record: t.record,
            action,
            items: vec![],
            data_types: vec![],
            outcome: AuditOutcome::Success,
        }
    }

    fn new_access(&self, from: &TokenRecord, online: bool, scope: &str) -> (String, TokenRecord) {
        let token = new_token("hat");
        let now = self.now();
        let rec = TokenRecord {
            hash: fingerprint(&token),
            kind: TokenKind::Access,
            online,
            scope: scope.into(),
            issued_at: now,
            expires_at: now.plus_seconds(self.auth.settings.access_token_secs),
            used_at: None,
            revoked_at: None,
            code: None,
            ..from.clone()
        };
        (token, rec)
    }

    fn new_refresh(&self, from: &TokenRecord, scope: &str) -> (String, TokenRecord) {
        let token = new_token("hrt");
        let now = self.now();
        let rec = TokenRecord {
            hash: fingerprint(&token),
            kind: TokenKind::Refresh,
            online: false,
            scope: scope.into(),
            issued_at: now,
            expires_at: now.plus_seconds(self.auth.settings.refresh_token_secs),
            used_at: None,
            revoked_at: None,
            code: None,
            ..from.clone()
        };
        (token, rec)
    }

    /// The patient id of a token's record, for the SMART `patient` launch context.
    fn patient_of(&self, record: Option<RecordId>) -> ServiceResult<Option<String>> {
        Ok(match record {
            Some(r) => self.store.record(r)?.map(|rec| rec.patient_item.to_string()),
            None => None,
        })
    }

    /// `fhirUser`: the Patient of the account's own record, when it has one.
    fn fhir_user(&self, account: AccountId) -> ServiceResult<Option<String>> {
        Ok(self
            .store
            .records_of(account)?
            .into_iter()
            .find(|(_, a)| a.relationship == Relationship::SelfRecord)
            .map(|(r, _)| format!("{}/Patient/{}", self.auth.settings.fhir_base(), r.patient_item)))
    }

    fn id_token(
        &self,
        t: &TokenRecord,
        nonce: Option<&str>,
        fhir_user: Option<&str>,
    ) -> ServiceResult<String> {
        let account = t
            .account
            .ok_or_else(|| ServiceError::Internal("an ID token needs a person".into()))?;
        let now = self.now().0 / 1_000_000;
        let mut claims = json!({
            "iss": self.auth.settings.public_url,
            "sub": self.store.app_subject(&t.app, account)?,
            "aud": t.app.0,
            "iat": now,
            "exp": now + self.auth.settings.access_token_secs,
        });
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        if let Some(u) = fhir_user {
            claims["fhirUser"] = json!(u);
        }
        if Scopes::parse(&t.scope).is_ok_and(|s| s.profile) {
            let a = self.account(account)?;
            claims["name"] = json!(a.display_name);
        }
        self.sign_jwt(&claims)
    }

    fn active_grant(&self, t: &TokenRecord) -> ServiceResult<bool> {
        if t.issuer == TokenIssuer::Operator {
            return Ok(true);
        }
        let Some(account) = t.account else {
            return Ok(true);
        };
        Ok(match t.record {
            Some(r) => self
                .store
                .grant(&t.app, r, account)?
                .is_some_and(|g| g.is_active()),
            None => self
                .store
                .grants_by_account(account)?
                .iter()
                .any(|g| g.app == t.app && g.is_active()),
        })
    }

    fn respond(
        &self,
        access: (String, TokenRecord),
        refresh: Option<(String, TokenRecord)>,
        nonce: Option<&str>,
    ) -> ServiceResult<TokenResponse> {
        let (token, rec) = access;
        let scopes = Scopes::parse(&rec.scope).unwrap_or_default();
        let fhir_user = match rec.account {
            Some(a) if scopes.fhir_user => self.fhir_user(a)?,
            _ => None,
        };
        let id_token = if scopes.openid && rec.account.is_some() {
            Some(self.id_token(&rec, nonce, fhir_user.as_deref())?)
        } else {
            None
        };
        self.store
            .put_token(&rec, Some(&self.token_audit(&rec, AuditAction::TokenIssued)))?;
        if let Some((_, r)) = &refresh {
            self.store.put_token(r, None)?;
        }
        Ok(TokenResponse {
            access_token: token,
            token_type: "Bearer",
            expires_in: self.auth.settings.access_token_secs,
            scope: rec.scope.clone(),
            refresh_token: refresh.map(|(t, _)| t),
            id_token,
            patient: self.patient_of(rec.record)?,
            fhir_user,
        })
    }

    /// `grant_type=authorization_code`.
    pub fn exchange_code(
        &self,
        client: &ClientCredentials,
        code: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        let app = self.authenticate_client(client)?;
        let invalid = |d: &str| OAuthError::new("invalid_grant", d);
        let t = match self
            .store
            .spend_token(&fingerprint(code), self.now())
            .map_err(ServiceError::from)?
        {
            SpendOutcome::Spent(t) if t.kind == TokenKind::Code => t,
            SpendOutcome::AlreadyUsed(t) if t.kind == TokenKind::Code => {
                // A replayed code: everything issued from it is revoked (OAuth 2.1 §4.1.3).
                let e = self.token_audit(&t, AuditAction::TokenRevoked);
                self.store
                    .revoke_family(&t.family, self.now(), Some(&e))
                    .map_err(ServiceError::from)?;
                return Err(invalid(
                    "the code was already used; tokens issued from it are revoked",
                ));
            }
            _ => return Err(invalid("unknown code")),
        };
        if t.app != app.id {
            return Err(invalid("the code was issued to another client"));
        }
        if t.revoked_at.is_some() || self.now() >= t.expires_at {
            return Err(invalid("the code has expired"));
        }
        let data = t.code.clone().ok_or_else(|| invalid("unknown code"))?;
        if redirect_uri.is_some_and(|u| u != data.redirect_uri) {
            return Err(invalid("redirect_uri does not match the authorization request"));
        }
        let Some(v) = verifier else {
            return Err(OAuthError::new(
                "invalid_request",
                "code_verifier is required (PKCE)",
            ));
        };
        if !pkce_ok(v, &data.code_challenge) {
            return Err(invalid("code_verifier does not match the code_challenge"));
        }
        if !self.active_grant(&t)? {
            return Err(invalid("the authorisation was revoked"));
        }
        let scopes = Scopes::parse(&t.scope).unwrap_or_default();
        let access = self.new_access(&t, true, &t.scope);
        let refresh = scopes.offline_access.then(|| self.new_refresh(&t, &t.scope));
        Ok(self.respond(access, refresh, data.nonce.as_deref())?)
    }

    /// `grant_type=refresh_token`: rotates the refresh token; reuse revokes the family.
    pub fn refresh(
        &self,
        client: &ClientCredentials,
        refresh_token: &str,
        scope: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        let app = self.authenticate_client(client)?;
        let invalid = |d: &str| OAuthError::new("invalid_grant", d);
        let now = self.now();
        let t = match self
            .store
            .spend_token(&fingerprint(refresh_token), now)
            .map_err(ServiceError::from)?
        {
            SpendOutcome::Spent(t) if t.kind == TokenKind::Refresh => t,
            SpendOutcome::AlreadyUsed(t) if t.kind == TokenKind::Refresh => {
                let e = self.token_audit(&t, AuditAction::TokenRevoked);
                self.store
                    .revoke_family(&t.family, now, Some(&e))
                    .map_err(ServiceError::from)?;
                tracing::warn!(app = %t.app, "a spent refresh token was reused; its family is revoked");
                return Err(invalid(
                    "the refresh token was already used; every token of this authorisation is revoked",
                ));
            }
            _ => return Err(invalid("unknown refresh token")),
        };
        if t.app != app.id {
            return Err(invalid("the refresh token was issued to another client"));
        }
        if t.revoked_at.is_some() || now >= t.expires_at {
            return Err(invalid("the refresh token has expired or was revoked"));
        }
        if !self.active_grant(&t)? {
            return Err(invalid("the authorisation was revoked"));
        }
        let granted = Scopes::parse(&t.scope).unwrap_or_default();
        let scope = match scope {
            None => t.scope.clone(),
            Some(s) => {
                let asked = Scopes::parse(s).map_err(|e| OAuthError::new("invalid_scope", e))?;
                let narrowed = narrow(&asked, |dt| granted.perms_for(dt));
                Scopes {
                    openid: asked.openid && granted.openid,
                    fhir_user: asked.fhir_user && granted.fhir_user,
                    profile: asked.profile && granted.profile,
                    launch_patient: granted.launch_patient,
                    offline_access: granted.offline_access,
                    ..narrowed
                }
                .to_string()
            }
        };
        let access = self.new_access(&t, false, &scope);
        let refresh = self.new_refresh(&t, &t.scope);
        let e = self.token_audit(&t, AuditAction::TokenRefreshed);
        self.store.append_audit(&e).map_err(ServiceError::from)?;
        Ok(self.respond(access, Some(refresh), None)?)
    }

    /// `grant_type=client_credentials` for backend services (`system/` scopes).
    pub fn client_credentials(
        &self,
        client: &ClientCredentials,
        scope: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        let app = self.authenticate_client(client)?;
        if app.kind != AppKind::BackendService {
            return Err(OAuthError::new(
                "unauthorized_client",
                "client_credentials is for backend services",
            ));
        }
        let scopes = Scopes::parse(scope.unwrap_or("")).map_err(|e| OAuthError::new("invalid_scope", e))?;
        if scopes.resources.is_empty() || scopes.resources.iter().any(|r| r.context != ScopeContext::System) {
            return Err(OAuthError::new("invalid_scope", "ask for system/ scopes only"));
        }
        let rules = |dt: &str| {
            app.rules
                .iter()
                .filter(|r| r.offline && r.data_types.contains(dt))
                .fold(hearth_domain::auth::Perms::NONE, |p, r| p.union(r.permissions))
        };
        let narrowed = Scopes {
            resources: narrow(&scopes, rules).resources,
            ..Scopes::default()
        };
        let access = self.mint(
            "hat",
            Minted {
                kind: TokenKind::Access,
                app: app.id.clone(),
                account: None,
                record: None,
                scope: narrowed.to_string(),
                online: false,
                issuer: TokenIssuer::Consent,
                ttl_secs: self.auth.settings.access_token_secs,
                code: None,
            },
        );
        Ok(self.respond(access, None, None)?)
    }

    /// RFC 7009: revokes a token the client owns (a refresh token takes its family along).
    /// Unknown tokens are not an error.
    pub fn revoke(&self, client: &ClientCredentials, token: &str) -> ServiceResult<()> {
        let app = self.authenticate_client(client)?;
        let Some(t) = self.store.token(&fingerprint(token))? else {
            return Ok(());
        };
        if t.app != app.id || t.kind == TokenKind::Code {
            return Ok(());
        }
        let e = self.token_audit(&t, AuditAction::TokenRevoked);
        match t.kind {
            TokenKind::Refresh => {
                self.store.revoke_family(&t.family, self.now(), Some(&e))?;
            }
            _ => {
                self.store.revoke_token(&t.hash, self.now(), Some(&e))?;
            }
        }
        Ok(())
    }

    /// RFC 7662: what a token stands for, if it is active. Clients see only their own tokens.
    pub fn introspect(&self, client: &ClientCredentials, token: &str) -> ServiceResult<Value> {
        let app = self.authenticate_client(client)?;
        let inactive = json!({ "active": false });
        let Some(t) = self.store.token(&fingerprint(token))? else {
            return Ok(inactive);
        };
        if t.app != app.id || t.kind == TokenKind::Code || !t.is_live(self.now()) || !self.active_grant(&t)? {
            return Ok(inactive);
        }
        let mut v = json!({
            "active": true,
            "client_id": t.app.0,
            "scope": t.scope,
            "token_type": if t.kind == TokenKind::Access { "Bearer" } else { "refresh_token" },
            "exp": t.expires_at.0 / 1_000_000,
            "iat": t.issued_at.0 / 1_000_000,
            "iss": self.auth.settings.public_url,
        });
        if let Some(a) = t.account {
            v["sub"] = json!(self.store.app_subject(&t.app, a)?);
        }
        if let Some(p) = self.patient_of(t.record)? {
            v["patient"] = json!(p);
        }
        Ok(v)
    }

    /// Resolves `Authorization: Bearer …` into the acting context, or "unauthenticated" when the
    /// token is unknown, expired, revoked, or its app is disabled. The grant itself is checked by
    /// the authorisation decision on each access.
    pub fn resolve_bearer(&self, token: &str) -> ServiceResult<(Context, TokenRecord)> {
        let bad = || ServiceError::Unauthenticated("the access token is not valid".into());
        let t = self.store.token(&fingerprint(token))?.ok_or_else(bad)?;
        if t.kind != TokenKind::Access || !t.is_live(self.now()) || t.app.0 == ADMIN_KEY_APP {
            return Err(bad());
        }
        if t.issuer == TokenIssuer::Consent && self.store.app(&t.app)?.is_none_or(|a| a.disabled) {
            return Err(bad());
        }
        let scopes = Scopes::parse(&t.scope).map_err(|_| bad())?;
        let ctx = Context::app(AppAccess {
            app: t.app.clone(),
            account: t.account,
            online: t.online,
            record: t.record,
            scopes,
            issuer: t.issuer,
        });
        Ok((ctx, t))
    }

    /// OpenID Connect userinfo for an access token that acts for a person.
    pub fn userinfo(&self, t: &TokenRecord) -> ServiceResult<Value> {
        let account = t
            .account
            .ok_or_else(|| ServiceError::Forbidden("this token acts for no person".into()))?;
        let scopes = Scopes::parse(&t.scope).unwrap_or_default();
        if !scopes.openid {
            return Err(ServiceError::Forbidden("userinfo needs the openid scope".into()));
        }
        let mut v = json!({ "sub": self.store.app_subject(&t.app, account)? });
        if scopes.fhir_user
            && let Some(u) = self.fhir_user(account)?
        {
            v["fhirUser"] = json!(u);
        }
        if scopes.profile {
            v["name"] = json!(self.account(account)?.display_name);
        }
        Ok(v)
    }

    /// `hearth admin issue-token`: a bearer token confined to one record (`patient/` scopes) or
    /// reaching every record of an account (`user/` scopes). Audited and revocable like any.
    pub fn issue_operator_token(
        &self,
        ctx: &Context,
        record: Option<RecordId>,
        account: Option<AccountId>,
        scope: &str,
        ttl_secs: i64,
    ) -> ServiceResult<(String, TokenRecord)> {
        if !matches!(ctx.principal, Principal::Operator) {
            return Err(ServiceError::Forbidden(
                "only the operator issues tokens directly".into(),
            ));
        }
        let scopes = Scopes::parse(scope).map_err(|e| ServiceError::invalid("value", "scope", e))?;
        if scopes.resources.is_empty() {
            return Err(ServiceError::invalid(
                "value",
                "scope",
                "give at least one patient/ or user/ scope",
            ));
        }
        match (record, account) {
            (Some(r), None) => {
                if scopes
                    .resources
                    .iter()
                    .any(|s| s.context != ScopeContext::Patient)
                {
                    return Err(ServiceError::invalid(
                        "value",
                        "scope",
                        "a record token takes patient/ scopes",
                    ));
                }
                self.store
                    .record(r)?
                    .ok_or_else(|| ServiceError::NotFound(format!("record {r} not found")))?;
            }
            (None, Some(a)) => {
                if scopes.resources.iter().any(|s| s.context != ScopeContext::User) {
                    return Err(ServiceError::invalid(
                        "value",
                        "scope",
                        "an account token takes user/ scopes",
                    ));
                }
                self.account(a)?;
            }
            _ => {
                return Err(ServiceError::invalid(
                    "value",
                    "target",
                    "give exactly one of a record or an account",
                ));
            }
        }
        if ttl_secs <= 0 {
            return Err(ServiceError::invalid(
                "value",
                "ttl",
                "the lifetime must be positive",
            ));
        }
        let (token, rec) = self.mint(
            "hat",
            Minted {
                kind: TokenKind::Access,
                app: AppId(OPERATOR_APP.into()),
                account,
                record,
                scope: scopes.to_string(),
                online: false,
                issuer: TokenIssuer::Operator,
                ttl_secs,
                code: None,
            },
        );
        self.store
            .put_token(&rec, Some(&self.token_audit(&rec, AuditAction::TokenIssued)))?;
        Ok((token, rec))
    }

    /// A key for the admin API (`hearth admin issue-admin-key`): stored hashed, revocable.
    pub fn issue_admin_key(&self, ctx: &Context, ttl_secs: i64) -> ServiceResult<String> {
        if !matches!(ctx.principal, Principal::Operator) {
            return Err(ServiceError::Forbidden(
                "only the operator issues admin keys".into(),
            ));
        }
        let (token, rec) = self.mint(
            "hak",
            Minted {
                kind: TokenKind::Access,
                app: AppId(ADMIN_KEY_APP.into()),
                account: None,
                record: None,
                scope: String::new(),
                online: false,
                issuer: TokenIssuer::Operator,
                ttl_secs,
                code: None,
            },
        );
        self.store
            .put_token(&rec, Some(&self.token_audit(&rec, AuditAction::TokenIssued)))?;
        Ok(token)
    }

    /// The operator context an admin key stands for.
    pub fn resolve_admin_key(&self, key: &str) -> ServiceResult<Context> {
        let bad = || ServiceError::Unauthenticated("the admin key is not valid".into());
        let t = self.store.token(&fingerprint(key))?.ok_or_else(bad)?;
        if t.app.0 != ADMIN_KEY_APP || t.issuer != TokenIssuer::Operator || !t.is_live(self.now()) {
            return Err(bad());
        }
        Ok(Context::operator())
    }

    /// Revokes an operator-issued (or any) token by its value (operator only).
    pub fn revoke_as_operator(&self, ctx: &Context, token: &str) -> ServiceResult<bool> {
        if !matches!(ctx.principal, Principal::Operator) {
            return Err(ServiceError::Forbidden(
                "only the operator revokes tokens directly".into(),
            ));
        }
        let Some(t) = self.store.token(&fingerprint(token))? else {
            return Ok(false);
        };
        let e = self.token_audit(&t, AuditAction::TokenRevoked);
        Ok(self.store.revoke_family(&t.family, self.now(), Some(&e))? > 0)
    }
}

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
