//! OAuth tokens (authorization codes, access and refresh tokens) and the server's signing keys
//! in SQLite. Tokens are keyed by their SHA-256; a token confined to a record names it by its
//! internal key (`rk`).

use hearth_domain::auth::{SigningKey, SpendOutcome, TokenKind, TokenRecord};
use hearth_domain::{AccountId, AppId, AuditEntry, Timestamp};
use hearth_store::codec::{enum_from_name, enum_name, from_json, to_json};
use hearth_store::{StoreError, StoreResult};
use rusqlite::{Connection, Row, params};

use crate::auth::{
    account_fk, get, opt_account_at, opt_record_at, opt_time_at, query_all, query_opt, write_tx,
};
use crate::people::require_rk;
use crate::{SqliteStore, audit, db_err};

pub(crate) const TOKEN_SQL: &str =
    "SELECT t.hash, t.kind, t.app, t.account, r.id, t.scope, t.online, t.issuer, t.family,
     t.issued_at, t.expires_at, t.used_at, t.revoked_at, t.code
     FROM oauth_tokens t LEFT JOIN records r ON r.rk = t.rk WHERE t.hash = ?1";
pub(crate) const REVOKE_FAMILY_SQL: &str =
    "UPDATE oauth_tokens SET revoked_at = ?2 WHERE family = ?1 AND revoked_at IS NULL";
pub(crate) const REVOKE_OF_ACCOUNT_SQL: &str =
    "UPDATE oauth_tokens SET revoked_at = ?3 WHERE app = ?1 AND account = ?2 AND revoked_at IS NULL";
pub(crate) const REVOKE_OF_NO_ACCOUNT_SQL: &str =
    "UPDATE oauth_tokens SET revoked_at = ?2 WHERE app = ?1 AND account IS NULL AND revoked_at IS NULL";
pub(crate) const DELETE_EXPIRED_SQL: &str = "DELETE FROM oauth_tokens WHERE expires_at < ?1";

fn token_from(r: &Row<'_>) -> StoreResult<TokenRecord> {
    let kind: String = get(r, 1)?;
    let code: Option<String> = get(r, 13)?;
    Ok(TokenRecord {
        hash: get(r, 0)?,
        kind: TokenKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("token kind {kind:?}")))?,
        app: AppId(get(r, 2)?),
        account: opt_account_at(r, 3)?,
        record: opt_record_at(r, 4)?,
        scope: get(r, 5)?,
        online: get(r, 6)?,
        issuer: enum_from_name("token issuer", &get::<String>(r, 7)?)?,
        family: get(r, 8)?,
        issued_at: Timestamp(get(r, 9)?),
        expires_at: Timestamp(get(r, 10)?),
        used_at: opt_time_at(r, 11)?,
        revoked_at: opt_time_at(r, 12)?,
        code: code
            .map(|c| from_json("authorization code data", &c))
            .transpose()?,
    })
}

pub(crate) fn token(conn: &Connection, hash: &str) -> StoreResult<Option<TokenRecord>> {
    query_opt(conn, TOKEN_SQL, [hash], token_from)
}

pub(crate) fn put_token(store: &SqliteStore, t: &TokenRecord, entry: Option<&AuditEntry>) -> StoreResult<()> {
    let issuer = enum_name(&t.issuer)?;
    let code = t.code.as_ref().map(to_json).transpose()?;
    write_tx(store, |tx| {
        let rk = t.record.map(|r| require_rk(tx, r)).transpose()?;
        tx.prepare_cached(
            "INSERT INTO oauth_tokens (hash, kind, app, account, rk, scope, online, issuer, family, issued_at,
                 expires_at, used_at, revoked_at, code)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )
        .and_then(|mut s| {
            s.execute(params![
                t.hash,
                t.kind.as_str(),
                t.app.0,
                t.account.map(|a| a.as_bytes().to_vec()),
                rk,
                t.scope,
                t.online,
                issuer,
                t.family,
                t.issued_at.0,
                t.expires_at.0,
                t.used_at.map(|u| u.0),
                t.revoked_at.map(|u| u.0),
                code,
            ])
        })
        .map_err(account_fk)?;
        if let Some(e) = entry {
            audit::insert_own(tx, e)?;
        }
        Ok(())
    })
}

/// The conditional update and the read that follows run in one write transaction, so of two
/// callers exactly one sees [`SpendOutcome::Spent`].
pub(crate) fn spend_token(store: &SqliteStore, hash: &str, at: Timestamp) -> StoreResult<SpendOutcome> {
    write_tx(store, |tx| {
        let n = tx
            .prepare_cached("UPDATE oauth_tokens SET used_at = ?2 WHERE hash = ?1 AND used_at IS NULL")
            .and_then(|mut s| s.execute(params![hash, at.0]))
            .map_err(db_err)?;
        Ok(match token(tx, hash)? {
            None => SpendOutcome::NotFound,
            Some(t) if n == 1 => SpendOutcome::Spent(t),
            Some(t) => SpendOutcome::AlreadyUsed(t),
        })
    })
}

pub(crate) fn revoke_token(
    store: &SqliteStore,
    hash: &str,
    at: Timestamp,
    entry: Option<&AuditEntry>,
) -> StoreResult<bool> {
    write_tx(store, |tx| {
        let n = tx
            .prepare_cached("UPDATE oauth_tokens SET revoked_at = ?2 WHERE hash = ?1 AND revoked_at IS NULL")
            .and_then(|mut s| s.execute(params![hash, at.0]))
            .map_err(db_err)?;
        if let Some(e) = entry {
            audit::insert_own(tx, e)?;
        }
        Ok(n == 1)
    })
}

pub(crate) fn revoke_family(
    store: &SqliteStore,
    family: &str,
    at: Timestamp,
    entry: Option<&AuditEntry>,
) -> StoreResult<u64> {
    write_tx(store, |tx| {
        let n = tx
            .prepare_cached(REVOKE_FAMILY_SQL)
            .and_then(|mut s| s.execute(params![family, at.0]))
            .map_err(db_err)?;
        if let Some(e) = entry {
            audit::insert_own(tx, e)?;
        }
        Ok(n as u64)
    })
}

pub(crate) fn revoke_tokens_of(
    store: &SqliteStore,
    app: &AppId,
    account: Option<AccountId>,
    at: Timestamp,
) -> StoreResult<u64> {
    write_tx(store, |tx| {
        let n = match account {
            Some(a) => tx
                .prepare_cached(REVOKE_OF_ACCOUNT_SQL)
                .and_then(|mut s| s.execute(params![app.0, &a.as_bytes()[..], at.0])),
            None => tx
                .prepare_cached(REVOKE_OF_NO_ACCOUNT_SQL)
                .and_then(|mut s| s.execute(params![app.0, at.0])),
        }
        .map_err(db_err)?;
        Ok(n as u64)
    })
}

pub(crate) fn delete_expired_tokens(store: &SqliteStore, before: Timestamp) -> StoreResult<u64> {
    write_tx(store, |tx| {
        let n = tx
            .prepare_cached(DELETE_EXPIRED_SQL)
            .and_then(|mut s| s.execute([before.0]))
            .map_err(db_err)?;
        Ok(n as u64)
    })
}

// ---- signing keys ---------------------------------------------------------------------------

pub(crate) fn put_signing_key(store: &SqliteStore, k: &SigningKey) -> StoreResult<()> {
    let jwk = to_json(&k.public_jwk)?;
    write_tx(store, |tx| {
        tx.prepare_cached(
            "INSERT INTO signing_keys (kid, alg, private_pem, public_jwk, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut s| s.execute(params![k.kid, k.alg, k.private_pem, jwk, k.created_at.0]))
        .map_err(db_err)?;
        Ok(())
    })
}

fn signing_key_from(r: &Row<'_>) -> StoreResult<SigningKey> {
    Ok(SigningKey {
        kid: get(r, 0)?,
        alg: get(r, 1)?,
        private_pem: get(r, 2)?,
        public_jwk: from_json("signing key JWK", &get::<String>(r, 3)?)?,
        created_at: Timestamp(get(r, 4)?),
    })
}

pub(crate) fn signing_keys(conn: &Connection) -> StoreResult<Vec<SigningKey>> {
    query_all(
        conn,
        "SELECT kid, alg, private_pem, public_jwk, created_at FROM signing_keys ORDER BY created_at DESC, kid DESC",
        [],
        signing_key_from,
    )
}
