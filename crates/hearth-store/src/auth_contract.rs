//! The storage contract for sign-in and consent: credentials, sessions, emailed tokens, apps,
//! grants, pseudonymous subjects, OAuth tokens and signing keys. Every backend implements
//! [`AuthStore`] next to [`crate::Store`]; the conformance suite checks both.
//!
//! Promises:
//! - Secrets arrive hashed; the store never sees a password, session id or token string.
//! - [`AuthStore::spend_token`] and [`AuthStore::take_email_token`] are atomic: of two
//!   concurrent callers exactly one spends the token.
//! - Writes that carry an [`AuditEntry`] append it in the same transaction.

use hearth_domain::auth::{
    App, Credentials, EmailPurpose, EmailToken, Grant, Session, SigningKey, SpendOutcome, TokenRecord,
};
use hearth_domain::{AccountId, AppId, AuditEntry, RecordId, Timestamp};

use crate::StoreResult;

/// Which kind of use to note on a grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantUse {
    Read,
    Write,
}

pub trait AuthStore: Send + Sync {
    // ---- credentials ----------------------------------------------------------------------
    fn credentials(&self, account: AccountId) -> StoreResult<Option<Credentials>>;
    /// Inserts or replaces the account's credentials (and appends `audit`, if any).
    fn put_credentials(&self, creds: &Credentials, audit: Option<&AuditEntry>) -> StoreResult<()>;

    // ---- sessions -------------------------------------------------------------------------
    fn create_session(&self, session: &Session) -> StoreResult<()>;
    fn session(&self, id_hash: &str) -> StoreResult<Option<Session>>;
    /// Replaces a session's mutable fields (last seen, expiry, second-factor state).
    fn update_session(&self, session: &Session) -> StoreResult<()>;
    fn delete_session(&self, id_hash: &str) -> StoreResult<()>;
    /// Ends every session of an account; returns how many ended.
    fn delete_sessions_of(&self, account: AccountId) -> StoreResult<u64>;

    // ---- emailed one-time tokens ----------------------------------------------------------
    fn put_email_token(&self, token: &EmailToken) -> StoreResult<()>;
    /// Marks the token used and returns it, if it exists with this purpose, is unused and has
    /// not expired at `now`. Atomic.
    fn take_email_token(
        &self,
        hash: &str,
        purpose: EmailPurpose,
        now: Timestamp,
    ) -> StoreResult<Option<EmailToken>>;

    // ---- apps -----------------------------------------------------------------------------
    /// Fails with [`crate::StoreError::DuplicateApp`] if the client id is taken.
    fn create_app(&self, app: &App, audit: &AuditEntry) -> StoreResult<()>;
    /// Fails with [`crate::StoreError::AppNotFound`] if there is no such app.
    fn update_app(&self, app: &App, audit: &AuditEntry) -> StoreResult<()>;
    fn app(&self, id: &AppId) -> StoreResult<Option<App>>;
    /// Every app, ordered by client id.
    fn list_apps(&self) -> StoreResult<Vec<App>>;

    // ---- grants (consent) -----------------------------------------------------------------
    /// Inserts or replaces the grant for (app, record, account).
    fn put_grant(&self, grant: &Grant, audit: &AuditEntry) -> StoreResult<()>;
    fn grant(&self, app: &AppId, record: RecordId, account: AccountId) -> StoreResult<Option<Grant>>;
    /// Every grant on a record (active and revoked), ordered by app then account.
    fn grants_for_record(&self, record: RecordId) -> StoreResult<Vec<Grant>>;
    /// Every grant an app holds (active and revoked), ordered by record then account.
    fn grants_of_app(&self, app: &AppId) -> StoreResult<Vec<Grant>>;
    /// Every grant a person made (active and revoked).
    fn grants_by_account(&self, account: AccountId) -> StoreResult<Vec<Grant>>;
    /// Notes the app's latest read or write under a grant.
    fn touch_grant(
        &self,
        app: &AppId,
        record: RecordId,
        account: AccountId,
        used: GrantUse,
        at: Timestamp,
    ) -> StoreResult<()>;

    // ---- pseudonymous subjects ------------------------------------------------------------
    /// The app's own identifier for an account, created (random, stable) on first use.
    fn app_subject(&self, app: &AppId, account: AccountId) -> StoreResult<String>;

    // ---- OAuth tokens ---------------------------------------------------------------------
    fn put_token(&self, token: &TokenRecord, audit: Option<&AuditEntry>) -> StoreResult<()>;
    fn token(&self, hash: &str) -> StoreResult<Option<TokenRecord>>;
    /// Marks a single-use token (code, refresh token) used at `at`. Atomic.
    fn spend_token(&self, hash: &str, at: Timestamp) -> StoreResult<SpendOutcome>;
    /// Revokes one token; returns whether it existed and was not yet revoked.
    fn revoke_token(&self, hash: &str, at: Timestamp, audit: Option<&AuditEntry>) -> StoreResult<bool>;
    /// Revokes every token of a family; returns how many were revoked now.
    fn revoke_family(&self, family: &str, at: Timestamp, audit: Option<&AuditEntry>) -> StoreResult<u64>;
    /// Revokes every token an app holds for an account (all records); returns how many.
    fn revoke_tokens_of(&self, app: &AppId, account: Option<AccountId>, at: Timestamp) -> StoreResult<u64>;
    /// Deletes tokens that expired before `before`; returns how many.
    fn delete_expired_tokens(&self, before: Timestamp) -> StoreResult<u64>;

    // ---- signing keys ---------------------------------------------------------------------
    fn put_signing_key(&self, key: &SigningKey) -> StoreResult<()>;
    /// Every signing key, newest first.
    fn signing_keys(&self) -> StoreResult<Vec<SigningKey>>;

    // ---- account-level audit --------------------------------------------------------------
    /// Entries about an account that belong to no record (sign-ins, password and two-factor
    /// changes, tokens), newest first.
    fn account_audit(&self, account: AccountId, limit: u32) -> StoreResult<Vec<AuditEntry>>;
}
