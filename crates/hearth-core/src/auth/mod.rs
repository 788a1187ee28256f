//! Sign-in and consent services (healthvault.md §3, §5.1; OAuth 2.1; SMART App Launch 2.0;
//! OpenID Connect Core 1.0).
//!
//! - [`secrets`]: random tokens, fingerprints, argon2id, the password policy.
//! - [`throttle`]: brute-force lock-outs on the injected clock.
//! - [`mail`]: the [`Mailer`] trait and the outbox.
//! - [`accounts`]: sign-up, email verification, sign-in, sessions, password reset, TOTP.
//! - [`apps`]: app registration and client authentication.
//! - [`consent`]: what an app asks, what a person grants, managing and revoking grants.
//! - [`oauth`]: codes, access and refresh tokens, introspection, revocation, bearer tokens.
//! - [`keys`]: the server's signing keys, JWKS and ID tokens.

pub mod accounts;
pub mod apps;
pub mod consent;
pub mod keys;
pub mod mail;
pub mod oauth;
pub mod secrets;
pub mod throttle;
pub mod totp;

use std::sync::Arc;

pub use mail::{Mail, Mailer, NoMailer, OutboxMailer};
pub use throttle::{Policy, Throttle, Throttled};

/// Lifetimes and addresses of the sign-in and token machinery. Passed in; never global.
#[derive(Clone, Debug)]
pub struct AuthSettings {
    /// Where people and apps reach this server, e.g. `https://hearth.example.org` (no trailing
    /// slash). It is the OAuth issuer, the base of emailed links, and decides Secure cookies.
    pub public_url: String,
    /// A session ends after this long without a request.
    pub session_idle_secs: i64,
    /// A session ends this long after sign-in, whatever happens.
    pub session_max_secs: i64,
    pub access_token_secs: i64,
    pub refresh_token_secs: i64,
    pub code_secs: i64,
    pub verify_link_secs: i64,
    pub reset_link_secs: i64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            public_url: "http://127.0.0.1:8080".into(),
            session_idle_secs: 60 * 60,
            session_max_secs: 12 * 60 * 60,
            access_token_secs: 60 * 60,
            refresh_token_secs: 90 * 24 * 60 * 60,
            code_secs: 60,
            verify_link_secs: 48 * 60 * 60,
            reset_link_secs: 60 * 60,
        }
    }
}

impl AuthSettings {
    /// Whether the public address is https (Secure cookies, HSTS).
    pub fn is_tls(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.public_url.trim_end_matches('/'))
    }

    /// The FHIR base URL apps talk to.
    pub fn fhir_base(&self) -> String {
        self.url("/fhir")
    }
}

/// The sign-in machinery the services carry.
#[derive(Clone)]
pub struct AuthRuntime {
    pub settings: AuthSettings,
    pub mailer: Arc<dyn Mailer>,
    pub throttle: Throttle,
    pub(crate) keys: Arc<keys::KeyCache>,
}
