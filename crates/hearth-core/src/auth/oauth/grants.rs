//! The token endpoint's grants: `authorization_code` (with PKCE), `refresh_token` (rotation and
//! reuse detection, OAuth 2.1 §4.3.1) and `client_credentials` (SMART Backend Services), with
//! the token response, ID token (OpenID Connect Core §2) and SMART launch context.

use hearth_domain::auth::{
    AppKind, ScopeContext, Scopes, SpendOutcome, TokenIssuer, TokenKind, TokenRecord, scope::narrow,
};
use hearth_domain::{AccountId, AuditAction, AuditEntry, AuditOutcome, RecordId, Relationship};
use serde_json::json;

use super::*;
use crate::auth::apps::ClientCredentials;
use crate::auth::secrets::{fingerprint, new_token};
use crate::{ServiceError, ServiceResult, Services};

impl Services {
    pub(super) fn token_audit(&self, t: &TokenRecord, action: AuditAction) -> AuditEntry {
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

    pub(super) fn new_access(&self, from: &TokenRecord, online: bool, scope: &str) -> (String, TokenRecord) {
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

    pub(super) fn new_refresh(&self, from: &TokenRecord, scope: &str) -> (String, TokenRecord) {
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
    pub(super) fn patient_of(&self, record: Option<RecordId>) -> ServiceResult<Option<String>> {
        Ok(match record {
            Some(r) => self.store.record(r)?.map(|rec| rec.patient_item.to_string()),
            None => None,
        })
    }

    /// `fhirUser`: the Patient of the account's own record, when it has one.
    pub(super) fn fhir_user(&self, account: AccountId) -> ServiceResult<Option<String>> {
        Ok(self
            .live_records_of(account)?
            .into_iter()
            .find(|(_, a)| a.relationship == Relationship::SelfRecord)
            .map(|(r, _)| format!("{}/Patient/{}", self.auth.settings.fhir_base(), r.patient_item)))
    }

    pub(super) fn id_token(
        &self,
        t: &TokenRecord,
        scopes: &Scopes,
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
        if scopes.profile {
            let a = self.account(account)?;
            claims["name"] = json!(a.display_name);
        }
        self.sign_jwt(&claims)
    }

    pub(super) fn active_grant(&self, t: &TokenRecord) -> ServiceResult<bool> {
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

    pub(super) fn respond(
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
            Some(self.id_token(&rec, &scopes, nonce, fhir_user.as_deref())?)
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
}
