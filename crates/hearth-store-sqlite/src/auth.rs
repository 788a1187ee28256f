//! Sign-in and consent in SQLite: [`AuthStore`] for [`SqliteStore`] and the helpers its modules
//! share. Credentials, sessions and emailed tokens are in `auth_signin`; apps, grants and
//! subjects in `auth_apps`; OAuth tokens and signing keys in `auth_tokens`. Writes run on the
//! writer connection in `BEGIN IMMEDIATE` transactions (audit entries they carry are appended in
//! the same one); reads use reader connections.

use hearth_domain::auth::{
    App, Credentials, EmailPurpose, EmailToken, Grant, Session, SigningKey, SpendOutcome, TokenRecord,
};
use hearth_domain::{AccountId, AppId, AuditEntry, RecordId, Timestamp};
use hearth_store::{AuthStore, GrantUse, StoreError, StoreResult};
use rusqlite::types::FromSql;
use rusqlite::{Connection, Params, Row, Transaction, TransactionBehavior};

use crate::auth_signin::{self as signin, DELETE_SESSIONS_OF_SQL};
use crate::people::is_fk_violation;
use crate::{SqliteStore, audit, auth_apps, auth_tokens, db_err, uuid_bytes};

// ---- helpers shared by the auth modules -----------------------------------------------------

/// Runs `f` in a `BEGIN IMMEDIATE` transaction on the writer connection and commits.
pub(crate) fn write_tx<T>(
    store: &SqliteStore,
    f: impl FnOnce(&Transaction<'_>) -> StoreResult<T>,
) -> StoreResult<T> {
    let mut conn = store.writer()?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let out = f(&tx)?;
    tx.commit().map_err(db_err)?;
    Ok(out)
}

pub(crate) fn get<T: FromSql>(r: &Row<'_>, i: usize) -> StoreResult<T> {
    r.get(i).map_err(db_err)
}

pub(crate) fn account_at(r: &Row<'_>, i: usize) -> StoreResult<AccountId> {
    Ok(AccountId::from_bytes(uuid_bytes(&get::<Vec<u8>>(r, i)?)?))
}

pub(crate) fn opt_account_at(r: &Row<'_>, i: usize) -> StoreResult<Option<AccountId>> {
    get::<Option<Vec<u8>>>(r, i)?
        .map(|b| Ok(AccountId::from_bytes(uuid_bytes(&b)?)))
        .transpose()
}

pub(crate) fn record_at(r: &Row<'_>, i: usize) -> StoreResult<RecordId> {
    Ok(RecordId::from_bytes(uuid_bytes(&get::<Vec<u8>>(r, i)?)?))
}

pub(crate) fn opt_record_at(r: &Row<'_>, i: usize) -> StoreResult<Option<RecordId>> {
    get::<Option<Vec<u8>>>(r, i)?
        .map(|b| Ok(RecordId::from_bytes(uuid_bytes(&b)?)))
        .transpose()
}

pub(crate) fn opt_time_at(r: &Row<'_>, i: usize) -> StoreResult<Option<Timestamp>> {
    Ok(get::<Option<i64>>(r, i)?.map(Timestamp))
}

/// Every row of a query, each turned into a value by `f`.
pub(crate) fn query_all<T>(
    conn: &Connection,
    sql: &str,
    args: impl Params,
    f: fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut st = conn.prepare_cached(sql).map_err(db_err)?;
    let mut rows = st.query(args).map_err(db_err)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db_err)? {
        out.push(f(r)?);
    }
    Ok(out)
}

/// The first row of a query, if any, turned into a value by `f`.
pub(crate) fn query_opt<T>(
    conn: &Connection,
    sql: &str,
    args: impl Params,
    f: fn(&Row<'_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut st = conn.prepare_cached(sql).map_err(db_err)?;
    let mut rows = st.query(args).map_err(db_err)?;
    rows.next().map_err(db_err)?.map(f).transpose()
}

/// A foreign-key failure on an account column means the account does not exist.
pub(crate) fn account_fk(e: rusqlite::Error) -> StoreError {
    if is_fk_violation(&e) {
        StoreError::AccountNotFound
    } else {
        db_err(e)
    }
}

/// The statements of the sign-in and consent tables that look rows up by something other than
/// their primary key, by name, for `EXPLAIN QUERY PLAN` checks.
const PLANNED: &[(&str, &str)] = &[
    ("account audit", audit::ACCOUNT_AUDIT_SQL),
    ("record of an item", crate::people::ITEM_RECORD_SQL),
    ("sessions of an account", DELETE_SESSIONS_OF_SQL),
    ("grant", auth_apps::GRANT_SQL),
    ("grants of a record", auth_apps::GRANTS_FOR_RECORD_SQL),
    ("grants of an app", auth_apps::GRANTS_OF_APP_SQL),
    ("grants by an account", auth_apps::GRANTS_BY_ACCOUNT_SQL),
    ("note a read under a grant", auth_apps::TOUCH_READ_SQL),
    ("token", auth_tokens::TOKEN_SQL),
    ("tokens of a family", auth_tokens::REVOKE_FAMILY_SQL),
    (
        "tokens of an app for an account",
        auth_tokens::REVOKE_OF_ACCOUNT_SQL,
    ),
    (
        "tokens of an app for no account",
        auth_tokens::REVOKE_OF_NO_ACCOUNT_SQL,
    ),
    ("expired tokens", auth_tokens::DELETE_EXPIRED_SQL),
];

// ---- the trait ------------------------------------------------------------------------------

impl AuthStore for SqliteStore {
    fn credentials(&self, account: AccountId) -> StoreResult<Option<Credentials>> {
        signin::credentials(&*self.reader()?, account)
    }

    fn put_credentials(&self, creds: &Credentials, audit: Option<&AuditEntry>) -> StoreResult<()> {
        signin::put_credentials(self, creds, audit)
    }

    fn create_session(&self, session: &Session) -> StoreResult<()> {
        signin::create_session(self, session)
    }

    fn session(&self, id_hash: &str) -> StoreResult<Option<Session>> {
        query_opt(
            &*self.reader()?,
            "SELECT id_hash, account, created_at, expires_at, last_seen_at, mfa_pending, user_agent
             FROM sessions WHERE id_hash = ?1",
            [id_hash],
            signin::session_from,
        )
    }

    fn update_session(&self, session: &Session) -> StoreResult<()> {
        signin::update_session(self, session)
    }

    fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        write_tx(self, |tx| {
            tx.execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])
                .map_err(db_err)?;
            Ok(())
        })
    }

    fn delete_sessions_of(&self, account: AccountId) -> StoreResult<u64> {
        write_tx(self, |tx| {
            let n = tx
                .execute(DELETE_SESSIONS_OF_SQL, [&account.as_bytes()[..]])
                .map_err(db_err)?;
            Ok(n as u64)
        })
    }

    fn put_email_token(&self, token: &EmailToken) -> StoreResult<()> {
        signin::put_email_token(self, token)
    }

    fn take_email_token(
        &self,
        hash: &str,
        purpose: EmailPurpose,
        now: Timestamp,
    ) -> StoreResult<Option<EmailToken>> {
        signin::take_email_token(self, hash, purpose, now)
    }

    fn create_app(&self, app: &App, audit: &AuditEntry) -> StoreResult<()> {
        auth_apps::create_app(self, app, audit)
    }

    fn update_app(&self, app: &App, audit: &AuditEntry) -> StoreResult<()> {
        auth_apps::update_app(self, app, audit)
    }

    fn app(&self, id: &AppId) -> StoreResult<Option<App>> {
        auth_apps::app(&*self.reader()?, id)
    }

    fn list_apps(&self) -> StoreResult<Vec<App>> {
        auth_apps::list_apps(&*self.reader()?)
    }

    fn put_grant(&self, grant: &Grant, audit: &AuditEntry) -> StoreResult<()> {
        auth_apps::put_grant(self, grant, audit)
    }

    fn grant(&self, app: &AppId, record: RecordId, account: AccountId) -> StoreResult<Option<Grant>> {
        auth_apps::grant(&*self.reader()?, app, record, account)
    }

    fn grants_for_record(&self, record: RecordId) -> StoreResult<Vec<Grant>> {
        auth_apps::grants_for_record(&*self.reader()?, record)
    }

    fn grants_of_app(&self, app: &AppId) -> StoreResult<Vec<Grant>> {
        auth_apps::grants_of_app(&*self.reader()?, app)
    }

    fn grants_by_account(&self, account: AccountId) -> StoreResult<Vec<Grant>> {
        auth_apps::grants_by_account(&*self.reader()?, account)
    }

    fn touch_grant(
        &self,
        app: &AppId,
        record: RecordId,
        account: AccountId,
        used: GrantUse,
        at: Timestamp,
    ) -> StoreResult<()> {
        auth_apps::touch_grant(self, app, record, account, used, at)
    }

    fn app_subject(&self, app: &AppId, account: AccountId) -> StoreResult<String> {
        auth_apps::app_subject(self, app, account)
    }

    fn put_token(&self, token: &TokenRecord, audit: Option<&AuditEntry>) -> StoreResult<()> {
        auth_tokens::put_token(self, token, audit)
    }

    fn token(&self, hash: &str) -> StoreResult<Option<TokenRecord>> {
        auth_tokens::token(&*self.reader()?, hash)
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
        auth_tokens::revoke_tokens_of(self, app, account, at)
    }

    fn delete_expired_tokens(&self, before: Timestamp) -> StoreResult<u64> {
        auth_tokens::delete_expired_tokens(self, before)
    }

    fn put_signing_key(&self, key: &SigningKey) -> StoreResult<()> {
        auth_tokens::put_signing_key(self, key)
    }

    fn signing_keys(&self) -> StoreResult<Vec<SigningKey>> {
        auth_tokens::signing_keys(&*self.reader()?)
    }

    fn account_audit(&self, account: AccountId, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        audit::account_trail(&*self.reader()?, account, limit)
    }
}

impl SqliteStore {
    /// SQLite's plan (`EXPLAIN QUERY PLAN`) for each sign-in and consent statement that looks
    /// rows up by something other than their primary key, and for each statement that deletes a
    /// record's rows, by name (a deletion is named by its SQL); the tests use it to prove they
    /// search indexes.
    pub fn explain_auth_queries(&self) -> StoreResult<Vec<(&'static str, Vec<String>)>> {
        let conn = self.reader()?;
        let deletions = crate::records::DELETE_RECORD_ROWS.iter().map(|sql| (*sql, *sql));
        PLANNED
            .iter()
            .copied()
            .chain(deletions)
            .map(|(name, sql)| {
                let mut st = conn
                    .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .map_err(db_err)?;
                let nulls = vec![rusqlite::types::Null; st.parameter_count()];
                let rows = st
                    .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
                    .map_err(db_err)?;
                let plan = rows.map(|r| r.map_err(db_err)).collect::<StoreResult<Vec<_>>>()?;
                Ok((name, plan))
            })
            .collect()
    }
}
