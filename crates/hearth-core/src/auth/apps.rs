//! Registered applications: registration and updates by the operator (command line and admin
//! API), and how an app proves who it is at the token endpoint (RFC 6749 §2.3: client secret;
//! RFC 7523 / SMART Backend Services: `private_key_jwt` client assertions).

use hearth_domain::auth::{App, AppKind, AppRule, ClientAuth, TokenIssuer, TokenKind};
use hearth_domain::{AppId, AuditAction, AuditEntry};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde::{Deserialize, Serialize};

use super::secrets::{fingerprint, new_token, same_secret};
use super::throttle::Policy;
use crate::context::Principal;
use crate::{Context, ServiceError, ServiceResult, Services};

/// What an operator submits to register (or update) an app.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppRegistration {
    /// Generated when absent.
    #[serde(default)]
    pub client_id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub logo_uri: Option<String>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    pub kind: AppKind,
    /// Defaults by kind: `none` for public apps, `client_secret_basic` for web apps,
    /// `private_key_jwt` for backend services.
    #[serde(default)]
    pub token_endpoint_auth_method: Option<ClientAuth>,
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    pub rules: Vec<AppRule>,
}

/// A registered app and, for secret-based apps, its secret (shown once, stored hashed).
#[derive(Clone, Debug)]
pub struct Registered {
    pub app: App,
    pub client_secret: Option<String>,
}

/// What a client sent to authenticate at the token endpoint.
#[derive(Clone, Debug, Default)]
pub struct ClientCredentials {
    pub client_id: Option<String>,
    pub secret: Option<String>,
    /// `client_assertion` (with `client_assertion_type` already checked by the adapter).
    pub assertion: Option<String>,
}

const ASSERTION_MAX_SECS: i64 = 300;

/// An app as operators see it (admin API, command line): every field but the secret's hash,
/// with the id named `client_id` as in RFC 7591; plus the client secret when it was just made.
pub fn app_view(app: &App, client_secret: Option<&str>) -> serde_json::Value {
    let mut v = serde_json::to_value(app).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("secret_hash");
        o.remove("id");
        o.insert("client_id".into(), app.id.0.clone().into());
        if let Some(secret) = client_secret {
            o.insert("client_secret".into(), secret.into());
        }
    }
    v
}

impl Services {
    fn require_operator(ctx: &Context) -> ServiceResult<()> {
        match ctx.principal {
            Principal::Operator => Ok(()),
            _ => Err(ServiceError::Forbidden("only the operator manages apps".into())),
        }
    }

    fn app_audit(&self, ctx: &Context, action: AuditAction) -> AuditEntry {
        self.audit_entry(ctx, None, action)
    }

    fn build_app(&self, reg: AppRegistration, existing: Option<&App>) -> ServiceResult<Registered> {
        let method = reg.token_endpoint_auth_method.unwrap_or(match reg.kind {
            AppKind::Public => ClientAuth::None,
            AppKind::ConfidentialWeb => ClientAuth::ClientSecretBasic,
            AppKind::BackendService => ClientAuth::PrivateKeyJwt,
        });
        let uses_secret = matches!(
            method,
            ClientAuth::ClientSecretBasic | ClientAuth::ClientSecretPost
        );
        let (secret, secret_hash) = match existing.and_then(|a| a.secret_hash.clone()) {
            Some(h) if uses_secret => (None, Some(h)),
            _ if uses_secret => {
                let s = new_token("hcs");
                let h = fingerprint(&s);
                (Some(s), Some(h))
            }
            _ => (None, None),
        };
        let now = self.now();
        let app = App {
            id: AppId(
                existing
                    .map(|a| a.id.0.clone())
                    .or(reg.client_id)
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            ),
            name: reg.name.trim().into(),
            description: reg.description.trim().into(),
            logo_uri: reg.logo_uri,
            redirect_uris: reg.redirect_uris,
            kind: reg.kind,
            auth_method: method,
            secret_hash,
            jwks: reg.jwks,
            rules: reg.rules,
            created_at: existing.map_or(now, |a| a.created_at),
            updated_at: now,
            disabled: existing.is_some_and(|a| a.disabled),
        };
        let mut problems = app.problems();
        if let Some(j) = &app.jwks
            && serde_json::from_value::<JwkSet>(j.clone()).is_err()
        {
            problems.push("jwks is not a valid JWK Set".into());
        }
        if !problems.is_empty() {
            return Err(ServiceError::Invalid(
                problems
                    .into_iter()
                    .map(|p| crate::ValidationIssue::error("invalid", "app", p))
                    .collect(),
            ));
        }
        Ok(Registered {
            app,
            client_secret: secret,
        })
    }

    /// Registers an app (operator only).
    pub fn register_app(&self, ctx: &Context, reg: AppRegistration) -> ServiceResult<Registered> {
        self.audited(ctx, None, AuditAction::RegisterApp, || {
            Self::require_operator(ctx)?;
            let r = self.build_app(reg, None)?;
            self.store
                .create_app(&r.app, &self.app_audit(ctx, AuditAction::RegisterApp))?;
            Ok(r)
        })
    }

    /// Replaces an app's registration, keeping its id, secret and creation time (operator only).
    /// Grants already made keep the rules as they were granted.
    pub fn update_app(&self, ctx: &Context, id: &AppId, reg: AppRegistration) -> ServiceResult<App> {
        self.audited(ctx, None, AuditAction::UpdateApp, || {
            Self::require_operator(ctx)?;
            let existing = self.require_app(id)?;
            let r = self.build_app(reg, Some(&existing))?;
            self.store
                .update_app(&r.app, &self.app_audit(ctx, AuditAction::UpdateApp))?;
            Ok(r.app)
        })
    }

    /// Turns an app off or on (operator only). A disabled app's tokens stop working at once.
    pub fn set_app_disabled(&self, ctx: &Context, id: &AppId, disabled: bool) -> ServiceResult<App> {
        self.audited(ctx, None, AuditAction::UpdateApp, || {
            Self::require_operator(ctx)?;
            let mut app = self.require_app(id)?;
            app.disabled = disabled;
            app.updated_at = self.now();
            self.store
                .update_app(&app, &self.app_audit(ctx, AuditAction::UpdateApp))?;
            Ok(app)
        })
    }

    pub fn app(&self, id: &AppId) -> ServiceResult<Option<App>> {
        Ok(self.store.app(id)?)
    }

    pub fn require_app(&self, id: &AppId) -> ServiceResult<App> {
        self.store
            .app(id)?
            .ok_or_else(|| ServiceError::NotFound(format!("no app with client id {:?}", id.0)))
    }

    pub fn list_apps(&self) -> ServiceResult<Vec<App>> {
        Ok(self.store.list_apps()?)
    }

    /// Checks how a client authenticated at the token endpoint and returns the app.
    pub fn authenticate_client(&self, creds: &ClientCredentials) -> ServiceResult<App> {
        let bad = || ServiceError::Unauthenticated("client authentication failed".into());
        let client_id = match (&creds.client_id, &creds.assertion) {
            (Some(c), _) => c.clone(),
            (None, Some(a)) => jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(a)
                .ok()
                .and_then(|d| d.claims.get("iss").and_then(|v| v.as_str()).map(String::from))
                .ok_or_else(bad)?,
            (None, None) => return Err(bad()),
        };
        let key = format!("client:{client_id}");
        self.auth.throttle.check(&key)?;
        let app = self
            .store
            .app(&AppId(client_id.clone()))?
            .filter(|a| !a.disabled)
            .ok_or_else(bad)?;
        let ok = match app.auth_method {
            ClientAuth::None => creds.secret.is_none() && creds.assertion.is_none(),
            ClientAuth::ClientSecretBasic | ClientAuth::ClientSecretPost => {
                match (&creds.secret, &app.secret_hash) {
                    (Some(s), Some(h)) => same_secret(&fingerprint(s), h),
                    _ => false,
                }
            }
            ClientAuth::PrivateKeyJwt => match &creds.assertion {
                Some(a) => self.check_assertion(&app, a)?,
                None => false,
            },
        };
        if !ok {
            self.auth.throttle.fail(&key, Policy::SIGN_IN);
            return Err(bad());
        }
        self.auth.throttle.clear(&key);
        Ok(app)
    }

    /// Verifies a `private_key_jwt` assertion: signed by a key of the app's JWKS (RS384, ES384,
    /// RS256 or ES256), `iss` = `sub` = client id, `aud` = the token endpoint, short-lived, and
    /// its `jti` never seen before.
    fn check_assertion(&self, app: &App, assertion: &str) -> ServiceResult<bool> {
        let Ok(header) = jsonwebtoken::decode_header(assertion) else {
            return Ok(false);
        };
        if !matches!(
            header.alg,
            Algorithm::RS384 | Algorithm::ES384 | Algorithm::RS256 | Algorithm::ES256
        ) {
            return Ok(false);
        }
        let Some(set) = app
            .jwks
            .clone()
            .and_then(|j| serde_json::from_value::<JwkSet>(j).ok())
        else {
            return Ok(false);
        };
        let jwk = match &header.kid {
            Some(kid) => set.find(kid),
            None if set.keys.len() == 1 => set.keys.first(),
            None => None,
        };
        let Some(key) = jwk.and_then(|k| DecodingKey::from_jwk(k).ok()) else {
            return Ok(false);
        };
        let mut v = Validation::new(header.alg);
        v.set_audience(&[self.auth.settings.url("/oauth/token")]);
        v.set_issuer(&[app.id.0.as_str()]);
        v.sub = Some(app.id.0.clone());
        v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        v.leeway = 30;
        let Ok(data) = jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &v) else {
            return Ok(false);
        };
        let now_s = self.now().0 / 1_000_000;
        let exp = data.claims.get("exp").and_then(|e| e.as_i64()).unwrap_or(0);
        if exp > now_s + ASSERTION_MAX_SECS || exp < now_s - 30 {
            return Ok(false);
        }
        let Some(jti) = data.claims.get("jti").and_then(|j| j.as_str()) else {
            return Ok(false);
        };
        // Remember the jti until the assertion expires; a second use is a replay.
        let hash = fingerprint(&format!("jti:{}:{jti}", app.id));
        let now = self.now();
        let (_, mut seen) = self.mint(
            "jti",
            super::oauth::Minted {
                kind: TokenKind::Code,
                app: app.id.clone(),
                account: None,
                record: None,
                scope: String::new(),
                online: false,
                issuer: TokenIssuer::Consent,
                ttl_secs: 0,
                code: None,
            },
        );
        seen.hash = hash.clone();
        seen.family = "client-assertion".into();
        seen.expires_at = hearth_domain::Timestamp((exp + 60) * 1_000_000);
        if self.store.token(&hash)?.is_some() {
            return Ok(false);
        }
        self.store.put_token(&seen, None)?;
        Ok(matches!(
            self.store.spend_token(&hash, now)?,
            hearth_domain::auth::SpendOutcome::Spent(_)
        ))
    }
}
