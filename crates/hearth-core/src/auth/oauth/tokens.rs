//! Tokens after issue: revocation (RFC 7009), introspection (RFC 7662), resolving a bearer token
//! (RFC 6750) into the acting context, and OpenID Connect userinfo.

use hearth_domain::AuditAction;
use hearth_domain::auth::{Scopes, TokenIssuer, TokenKind, TokenRecord};
use serde_json::{Value, json};

use super::*;
use crate::auth::apps::ClientCredentials;
use crate::auth::secrets::fingerprint;
use crate::context::AppAccess;
use crate::{Context, ServiceError, ServiceResult, Services};

impl Services {
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
        if t.kind != TokenKind::Access || t.app.0 == ADMIN_KEY_APP {
            return Err(bad());
        }
        if t.issuer == TokenIssuer::Consent && self.store.app(&t.app)?.is_none_or(|a| a.disabled) {
            return Err(bad());
        }
        self.bearer_context(t)
    }

    fn bearer_context(&self, t: TokenRecord) -> ServiceResult<(Context, TokenRecord)> {
        let bad = || ServiceError::Unauthenticated("the access token is not valid".into());
        if !t.is_live(self.now()) {
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
}
