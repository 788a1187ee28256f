//! Sign-in state of an account: password hash, email verification, TOTP two-factor and
//! recovery codes; browser sessions; one-time emailed tokens (verification, password reset).
//!
//! Every secret here is stored hashed: passwords with argon2id (PHC string), session ids,
//! emailed tokens and recovery codes with SHA-256 (they are long random values). The TOTP seed
//! must be readable to check codes, so it is the one secret kept as is.

use serde::{Deserialize, Serialize};

use crate::{AccountId, Timestamp};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub account: AccountId,
    /// argon2id PHC string.
    pub password_hash: String,
    pub password_changed_at: Timestamp,
    pub email_verified_at: Option<Timestamp>,
    /// Base32 TOTP seed (RFC 6238, SHA-1, 6 digits, 30 s) once two-factor is being set up.
    pub totp_secret: Option<String>,
    /// Set when the person proved the authenticator works; two-factor is on from then.
    pub totp_enabled_at: Option<Timestamp>,
    /// The last accepted TOTP time step, so a code cannot be replayed.
    pub totp_last_step: i64,
    /// SHA-256 (hex) of each unused recovery code.
    pub recovery_codes: Vec<String>,
}

impl Credentials {
    /// A password's credentials: email unconfirmed, two-factor off.
    pub fn new(account: AccountId, password_hash: String, now: Timestamp) -> Self {
        Credentials {
            account,
            password_hash,
            password_changed_at: now,
            email_verified_at: None,
            totp_secret: None,
            totp_enabled_at: None,
            totp_last_step: 0,
            recovery_codes: vec![],
        }
    }

    pub fn two_factor_on(&self) -> bool {
        self.totp_enabled_at.is_some() && self.totp_secret.is_some()
    }
}

/// A signed-in browser. The cookie carries the random session token; the store has its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// SHA-256 (hex) of the session token.
    pub id_hash: String,
    pub account: AccountId,
    pub created_at: Timestamp,
    /// Absolute end of the session.
    pub expires_at: Timestamp,
    /// Last request; the session ends after a period of inactivity.
    pub last_seen_at: Timestamp,
    /// The password was right but the second factor is still owed.
    pub mfa_pending: bool,
    pub user_agent: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EmailPurpose {
    Verify,
    Reset,
}

impl EmailPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailPurpose::Verify => "verify",
            EmailPurpose::Reset => "reset",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "verify" => Some(EmailPurpose::Verify),
            "reset" => Some(EmailPurpose::Reset),
            _ => None,
        }
    }
}

/// A single-use link sent by email.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailToken {
    /// SHA-256 (hex) of the token in the link.
    pub hash: String,
    pub account: AccountId,
    pub purpose: EmailPurpose,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}
