//! Sign-in and consent in PostgreSQL: [`AuthStore`] for [`PostgresStore`] and the helpers its
//! modules share. Credentials, sessions and emailed tokens are in `auth_signin`; apps, grants
//! and subjects in `auth_apps`; OAuth tokens and signing keys in `auth_tokens`. Writes of more
//! than one statement (those carrying an audit entry, spending a token) run in one read-committed
//! transaction; single-statement writes and reads run in autocommit mode.

use hearth_domain::auth::{
    App, Credentials, EmailPurpose, EmailToken, Grant, Session, SigningKey, SpendOutcome, TokenRecord,
};
use hearth_domain::{AccountId, AppId, AuditEntry, RecordId, Timestamp};
use hearth_store::{AuthStore, GrantUse, StoreError, StoreResult};
use postgres::Row;

use crate::db::{Db, col, db_err, is_fk_violation};
use crate::{PostgresStore, audit, auth_apps, auth_signin as signin, auth_tokens, with_auto};

// ---- helpers shared by the auth modules -----------------------------------------------------

/// Runs `f` in a read-committed transaction and commits; an error rolls everything back.
pub(crate) fn in_tx<T>(
    store: &PostgresStore,
    f: impl FnOnce(&mut Db<'_>) -> StoreResult<T>,
) -> StoreResult<T> {
    let mut conn = store.conn()?;
    let mut db = Db::begin(&mut conn)?;
    let out = f(&mut db)?;
    db.commit()?;
    Ok(out)
}

pub(crate) fn opt_time_at(r: &Row, i: usize) -> StoreResult<Option<Timestamp>> {
    Ok(col::<Option<i64>>(r, i)?.map(Timestamp))
}

/// A foreign-key failure on an account column means the account does not exist.
pub(crate) fn account_fk(e: postgres::Error) -> StoreError {
    if is_fk_violation(&e) {
        StoreError::AccountNotFound
    } else {
        db_err(e)
    }
}

// ---- the trait ------------------------------------------------------------------------------

impl AuthStore for PostgresStore {
    fn credentials(&self, account: AccountId) -> StoreResult<Option<Credentials>> {
        with_auto(self, |db| signin::credentials(db, account))
    }

    fn put_credentials(&self, creds: &Credentials, audit: Option<&AuditEntry>) -> StoreResult<()> {
        signin::put_credentials(self, creds, audit)
    }

    fn create_session(&self, session: &Session) -> StoreResult<()> {
        with_auto(self, |db| signin::create_session(db, session))
    }

    fn session(&self, id_hash: &str) -> StoreResult<Option<Session>> {
        with_auto(self, |db| signin::session(db, id_hash))
    }

    fn update_session(&self, session: &Session) -> StoreResult<()> {
        with_auto(self, |db| signin::update_session(db, session))
    }

    fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        with_auto(self, |db| {
            db.exec("DELETE FROM sessions WHERE id_hash = $1", &[&id_hash])
                .map(|_| ())
        })
    }

    fn delete_sessions_of(&self, account: AccountId) -> StoreResult<u64> {
        with_auto(self, |db| {
            db.exec("DELETE FROM sessions WHERE account = $1", &[&account.0])
        })
    }

    fn put_email_token(&self, token: &EmailToken) -> StoreResult<()> {
        with_auto(self, |db| signin::put_email_token(db, token))
    }

    fn take_email_token(
        &self,
        hash: &str,
        purpose: EmailPurpose,
        now: Timestamp,
    ) -> StoreResult<Option<EmailToken>> {
        with_auto(self, |db| signin::take_email_token(db, hash, purpose, now))
    }

    fn create_app(&self, app: &App, audit: &AuditEntry) -> StoreResult<()> {
        auth_apps::create_app(self, app, audit)
    }

    fn update_app(&self, app: &App, audit: &AuditEntry) -> StoreResult<()> {
        auth_apps::update_app(self, app, audit)
    }

    fn app(&self, id: &AppId) -> StoreResult<Option<App>> {
        with_auto(self, |db| auth_apps::app(db, id))
    }

    fn list_apps(&self) -> StoreResult<Vec<App>> {
        with_auto(self, auth_apps::list_apps)
    }

    fn put_grant(&self, grant: &Grant, audit: &AuditEntry) -> StoreResult<()> {
        auth_apps::put_grant(self, grant, audit)
    }

    fn grant(&self, app: &AppId, record: RecordId, account: AccountId) -> StoreResult<Option<Grant>> {
        with_auto(self, |db| auth_apps::grant(db, app, record, account))
    }

    fn grants_for_record(&self, record: RecordId) -> StoreResult<Vec<Grant>> {
        with_auto(self, |db| auth_apps::grants_for_record(db, record))
    }

    fn grants_of_app(&self, app: &AppId) -> StoreResult<Vec<Grant>> {
        with_auto(self, |db| auth_apps::grants_of_app(db, app))
    }

    fn grants_by_account(&self, account: AccountId) -> StoreResult<Vec<Grant>> {
        with_auto(self, |db| auth_apps::grants_by_account(db, account))
    }

    fn touch_grant(
        &self,
        app: &AppId,
        record: RecordId,
        account: AccountId,
        used: GrantUse,
        at: Timestamp,
    ) -> StoreResult<()> {
        with_auto(self, |db| {
            auth_apps::touch_grant(db, app, record, account, used, at)
        })
    }

    fn app_subject(&self, app: &AppId, account: AccountId) -> StoreResult<String> {
        with_auto(self, |db| auth_apps::app_subject(db, app, account))
    }

    fn put_token(&self, token: &TokenRecord, audit: Option<&AuditEntry>) -> StoreResult<()> {
        auth_tokens::put_token(self, token, audit)
    }

    fn token(&self, hash: &str) -> StoreResult<Option<TokenRecord>> {
        with_auto(self, |db| auth_tokens::token(db, hash))
    }

    fn spend_token(&self, hash: &str, at: Timestamp) -> StoreResult<SpendOutcome> {
        auth_tokens::spend_token(self, hash, at)
    }

    fn revoke_token(&self, hash: &str, at: Timestamp, audit: Option<&AuditEntry>) -> StoreResult<bool> {
        auth_tokens::revoke_token(self, hash, at, audit)
    }

    fn revoke_family(&self, family: &str, at: Timestamp, audit: Option<&AuditEntry>) -> StoreResult<u64> {
        auth_tokens::revoke_family(self, family, at, audit)
    }

    fn revoke_tokens_of(&self, app: &AppId, account: Option<AccountId>, at: Timestamp) -> StoreResult<u64> {
        with_auto(self, |db| auth_tokens::revoke_tokens_of(db, app, account, at))
    }

    fn delete_expired_tokens(&self, before: Timestamp) -> StoreResult<u64> {
        with_auto(self, |db| {
            db.exec("DELETE FROM oauth_tokens WHERE expires_at < $1", &[&before.0])
        })
    }

    fn put_signing_key(&self, key: &SigningKey) -> StoreResult<()> {
        with_auto(self, |db| auth_tokens::put_signing_key(db, key))
    }

    fn signing_keys(&self) -> StoreResult<Vec<SigningKey>> {
        with_auto(self, auth_tokens::signing_keys)
    }

    fn account_audit(&self, account: AccountId, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        with_auto(self, |db| audit::account_trail(db, account, limit))
    }
}
