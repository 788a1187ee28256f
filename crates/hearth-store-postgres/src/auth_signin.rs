//! Sign-in state in PostgreSQL: credentials (password hash, two-factor, recovery codes), browser
//! sessions, and single-use emailed tokens.

use hearth_domain::auth::{Credentials, EmailPurpose, EmailToken, Session};
use hearth_domain::{AccountId, AuditEntry, Timestamp};
use hearth_store::codec::{from_json, to_json};
use hearth_store::{StoreError, StoreResult};
use postgres::Row;

use crate::auth::{account_fk, in_tx, opt_time_at};
use crate::db::{Db, col};
use crate::{PostgresStore, audit};

// ---- credentials ----------------------------------------------------------------------------

fn credentials_from(r: &Row) -> StoreResult<Credentials> {
    Ok(Credentials {
        account: AccountId(col(r, 0)?),
        password_hash: col(r, 1)?,
        password_changed_at: Timestamp(col(r, 2)?),
        email_verified_at: opt_time_at(r, 3)?,
        totp_secret: col(r, 4)?,
        totp_enabled_at: opt_time_at(r, 5)?,
        totp_last_step: col(r, 6)?,
        recovery_codes: from_json("recovery codes", &col::<String>(r, 7)?)?,
    })
}

pub(crate) fn credentials(db: &mut Db<'_>, account: AccountId) -> StoreResult<Option<Credentials>> {
    db.opt(
        "SELECT account, password_hash, password_changed_at, email_verified_at, totp_secret,
                totp_enabled_at, totp_last_step, recovery_codes
         FROM credentials WHERE account = $1",
        &[&account.0],
    )?
    .as_ref()
    .map(credentials_from)
    .transpose()
}

pub(crate) fn put_credentials(
    store: &PostgresStore,
    c: &Credentials,
    entry: Option<&AuditEntry>,
) -> StoreResult<()> {
    let codes = to_json(&c.recovery_codes)?;
    in_tx(store, |db| {
        db.try_exec(
            "INSERT INTO credentials (account, password_hash, password_changed_at, email_verified_at,
                 totp_secret, totp_enabled_at, totp_last_step, recovery_codes)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (account) DO UPDATE SET password_hash = excluded.password_hash,
                 password_changed_at = excluded.password_changed_at,
                 email_verified_at = excluded.email_verified_at, totp_secret = excluded.totp_secret,
                 totp_enabled_at = excluded.totp_enabled_at, totp_last_step = excluded.totp_last_step,
                 recovery_codes = excluded.recovery_codes",
            &[
                &c.account.0,
                &c.password_hash,
                &c.password_changed_at.0,
                &c.email_verified_at.map(|t| t.0),
                &c.totp_secret,
                &c.totp_enabled_at.map(|t| t.0),
                &c.totp_last_step,
                &codes,
            ],
        )
        .map_err(account_fk)?;
        if let Some(e) = entry {
            audit::insert_own(db, e)?;
        }
        Ok(())
    })
}

// ---- sessions -------------------------------------------------------------------------------

fn session_from(r: &Row) -> StoreResult<Session> {
    Ok(Session {
        id_hash: col(r, 0)?,
        account: AccountId(col(r, 1)?),
        created_at: Timestamp(col(r, 2)?),
        expires_at: Timestamp(col(r, 3)?),
        last_seen_at: Timestamp(col(r, 4)?),
        mfa_pending: col(r, 5)?,
        user_agent: col(r, 6)?,
    })
}

pub(crate) fn create_session(db: &mut Db<'_>, s: &Session) -> StoreResult<()> {
    db.try_exec(
        "INSERT INTO sessions (id_hash, account, created_at, expires_at, last_seen_at, mfa_pending, user_agent)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &s.id_hash,
            &s.account.0,
            &s.created_at.0,
            &s.expires_at.0,
            &s.last_seen_at.0,
            &s.mfa_pending,
            &s.user_agent,
        ],
    )
    .map_err(account_fk)?;
    Ok(())
}

pub(crate) fn session(db: &mut Db<'_>, id_hash: &str) -> StoreResult<Option<Session>> {
    db.opt(
        "SELECT id_hash, account, created_at, expires_at, last_seen_at, mfa_pending, user_agent
         FROM sessions WHERE id_hash = $1",
        &[&id_hash],
    )?
    .as_ref()
    .map(session_from)
    .transpose()
}

pub(crate) fn update_session(db: &mut Db<'_>, s: &Session) -> StoreResult<()> {
    db.exec(
        "UPDATE sessions SET expires_at = $2, last_seen_at = $3, mfa_pending = $4 WHERE id_hash = $1",
        &[&s.id_hash, &s.expires_at.0, &s.last_seen_at.0, &s.mfa_pending],
    )?;
    Ok(())
}

// ---- emailed tokens -------------------------------------------------------------------------

pub(crate) fn put_email_token(db: &mut Db<'_>, t: &EmailToken) -> StoreResult<()> {
    db.try_exec(
        "INSERT INTO email_tokens (hash, account, purpose, created_at, expires_at, used_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &t.hash,
            &t.account.0,
            &t.purpose.as_str(),
            &t.created_at.0,
            &t.expires_at.0,
            &t.used_at.map(|u| u.0),
        ],
    )
    .map_err(account_fk)?;
    Ok(())
}

/// One statement marks the token used only if it is unused and live; a concurrent caller waits
/// for the row lock, re-checks `used_at` and gets nothing.
pub(crate) fn take_email_token(
    db: &mut Db<'_>,
    hash: &str,
    purpose: EmailPurpose,
    now: Timestamp,
) -> StoreResult<Option<EmailToken>> {
    let row = db.opt(
        "UPDATE email_tokens SET used_at = $3
         WHERE hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
         RETURNING hash, account, purpose, created_at, expires_at, used_at",
        &[&hash, &purpose.as_str(), &now.0],
    )?;
    row.map(|r| {
        let purpose: String = col(&r, 2)?;
        Ok(EmailToken {
            hash: col(&r, 0)?,
            account: AccountId(col(&r, 1)?),
            purpose: EmailPurpose::parse(&purpose)
                .ok_or_else(|| StoreError::Corrupt(format!("email token purpose {purpose:?}")))?,
            created_at: Timestamp(col(&r, 3)?),
            expires_at: Timestamp(col(&r, 4)?),
            used_at: opt_time_at(&r, 5)?,
        })
    })
    .transpose()
}
