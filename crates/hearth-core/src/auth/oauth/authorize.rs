//! The authorization endpoint's logic (RFC 6749 §4.1.1, OAuth 2.1, PKCE S256 only, RFC 9207
//! `iss`): checking a request, declining, and issuing a single-use code after consent.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hearth_domain::auth::{
    AppKind, CodeData, Grant, ScopeContext, Scopes, TokenIssuer, TokenKind, scope::narrow,
};
use hearth_domain::{AccountId, AppId, RecordId};

use super::*;
use crate::{ServiceResult, Services};

impl Services {
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
}
