//! Sign-in state in SQLite: credentials (password hash, two-factor, recovery codes), browser
//! sessions, and single-use emailed tokens.

use hearth_domain::auth::{Credentials, EmailPurpose, EmailToken, Session};
use hearth_domain::{AccountId, AuditEntry, Timestamp};
use hearth_store::codec::{from_json, to_json};
use hearth_store::{StoreError, StoreResult};
use rusqlite::{Connection, Row, params};

use crate::auth::{account_at, account_fk, get, opt_time_at, query_opt, write_tx};
use crate::{SqliteStore, audit, db_err};

// ---- credentials ----------------------------------------------------------------------------

fn credentials_from(r: &Row<'_>) -> StoreResult<Credentials> {
    Ok(Credentials {
        account: account_at(r, 0)?,
        password_hash: get(r, 1)?,
        password_changed_at: Timestamp(get(r, 2)?),
        email_verified_at: opt_time_at(r, 3)?,
        totp_secret: get(r, 4)?,
        totp_enabled_at: opt_time_at(r, 5)?,
        totp_last_step: get(r, 6)?,
        recovery_codes: from_json("recovery codes", &get::<String>(r, 7)?)?,
    })
}

pub(crate) fn credentials(conn: &Connection, account: AccountId) -> StoreResult<Option<Credentials>> {
    query_opt(
        conn,
        "SELECT account, password_hash, password_changed_at, email_verified_at, totp_secret,
                totp_enabled_at, totp_last_step, recovery_codes
         FROM credentials WHERE account = ?1",
        [&account.as_bytes()[..]],
        credentials_from,
    )
}

pub(crate) fn put_credentials(
    store: &SqliteStore,
    c: &Credentials,
    entry: Option<&AuditEntry>,
) -> StoreResult<()> {
    let codes = to_json(&c.recovery_codes)?;
    write_tx(store, |tx| {
        tx.prepare_cached(
            "INSERT INTO credentials (account, password_hash, password_changed_at, email_verified_at,
                 totp_secret, totp_enabled_at, totp_last_step, recovery_codes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (account) DO UPDATE SET password_hash = excluded.password_hash,
                 password_changed_at = excluded.password_changed_at,
                 email_verified_at = excluded.email_verified_at, totp_secret = excluded.totp_secret,
                 totp_enabled_at = excluded.totp_enabled_at, totp_last_step = excluded.totp_last_step,
                 recovery_codes = excluded.recovery_codes",
        )
        .and_then(|mut s| {
            s.execute(params![
                &c.account.as_bytes()[..],
                c.password_hash,
                c.password_changed_at.0,
                c.email_verified_at.map(|t| t.0),
                c.totp_secret,
                c.totp_enabled_at.map(|t| t.0),
                c.totp_last_step,
                codes,
            ])
        })
        .map_err(account_fk)?;
        if let Some(e) = entry {
            audit::insert_own(tx, e)?;
        }
        Ok(())
    })
}

// ---- sessions -------------------------------------------------------------------------------

pub(crate) const DELETE_SESSIONS_OF_SQL: &str = "DELETE FROM sessions WHERE account = ?1";

pub(crate) fn session_from(r: &Row<'_>) -> StoreResult<Session> {
    Ok(Session {
        id_hash: get(r, 0)?,
        account: account_at(r, 1)?,
        created_at: Timestamp(get(r, 2)?),
        expires_at: Timestamp(get(r, 3)?),
        last_seen_at: Timestamp(get(r, 4)?),
        mfa_pending: get(r, 5)?,
        user_agent: get(r, 6)?,
    })
}

pub(crate) fn create_session(store: &SqliteStore, s: &Session) -> StoreResult<()> {
    write_tx(store, |tx| {
        tx.prepare_cached(
            "INSERT INTO sessions (id_hash, account, created_at, expires_at, last_seen_at, mfa_pending, user_agent)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .and_then(|mut st| {
            st.execute(params![
                s.id_hash,
                &s.account.as_bytes()[..],
                s.created_at.0,
                s.expires_at.0,
                s.last_seen_at.0,
                s.mfa_pending,
                s.user_agent,
            ])
        })
        .map_err(account_fk)?;
        Ok(())
    })
}

pub(crate) fn update_session(store: &SqliteStore, s: &Session) -> StoreResult<()> {
    write_tx(store, |tx| {
        tx.prepare_cached(
            "UPDATE sessions SET expires_at = ?2, last_seen_at = ?3, mfa_pending = ?4 WHERE id_hash = ?1",
        )
        .and_then(|mut st| {
            st.execute(params![
                s.id_hash,
                s.expires_at.0,
                s.last_seen_at.0,
                s.mfa_pending
            ])
        })
        .map_err(db_err)?;
        Ok(())
    })
}

// ---- emailed tokens -------------------------------------------------------------------------

pub(crate) fn put_email_token(store: &SqliteStore, t: &EmailToken) -> StoreResult<()> {
    write_tx(store, |tx| {
        tx.prepare_cached(
            "INSERT INTO email_tokens (hash, account, purpose, created_at, expires_at, used_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut st| {
            st.execute(params![
                t.hash,
                &t.account.as_bytes()[..],
                t.purpose.as_str(),
                t.created_at.0,
                t.expires_at.0,
                t.used_at.map(|u| u.0),
            ])
        })
        .map_err(account_fk)?;
        Ok(())
    })
}

fn email_token_from(r: &Row<'_>) -> StoreResult<EmailToken> {
    let purpose: String = get(r, 2)?;
    Ok(EmailToken {
        hash: get(r, 0)?,
        account: account_at(r, 1)?,
        purpose: EmailPurpose::parse(&purpose)
            .ok_or_else(|| StoreError::Corrupt(format!("email token purpose {purpose:?}")))?,
        created_at: Timestamp(get(r, 3)?),
        expires_at: Timestamp(get(r, 4)?),
        used_at: opt_time_at(r, 5)?,
    })
}

/// One statement marks the token used only if it is unused and live, so of two callers exactly
/// one gets it.
pub(crate) fn take_email_token(
    store: &SqliteStore,
    hash: &str,
    purpose: EmailPurpose,
    now: Timestamp,
) -> StoreResult<Option<EmailToken>> {
    write_tx(store, |tx| {
        query_opt(
            tx,
            "UPDATE email_tokens SET used_at = ?3
             WHERE hash = ?1 AND purpose = ?2 AND used_at IS NULL AND expires_at > ?3
             RETURNING hash, account, purpose, created_at, expires_at, used_at",
            params![hash, purpose.as_str(), now.0],
            email_token_from,
        )
    })
}
