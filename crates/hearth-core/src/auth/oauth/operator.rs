//! Tokens the operator issues from the command line: record- or account-bound data tokens and
//! admin-API keys; audited and revocable like any other.

use hearth_domain::auth::{ScopeContext, Scopes, TokenIssuer, TokenKind, TokenRecord};
use hearth_domain::{AccountId, AppId, AuditAction, RecordId};

use super::*;
use crate::auth::secrets::fingerprint;
use crate::context::Principal;
use crate::{Context, ServiceError, ServiceResult, Services};

impl Services {
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
        let revoked = self.store.revoke_family(&t.family, self.now(), Some(&e))? > 0;
        Ok(revoked)
    }
}
