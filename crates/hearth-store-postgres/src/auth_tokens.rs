//! OAuth tokens (authorization codes, access and refresh tokens) and the server's signing keys
//! in PostgreSQL. Tokens are keyed by their SHA-256; a token confined to a record names it by its
//! internal key (`rk`).

use hearth_domain::auth::{SigningKey, SpendOutcome, TokenKind, TokenRecord};
use hearth_domain::{AccountId, AppId, AuditEntry, RecordId, Timestamp};
use hearth_store::codec::{enum_from_name, enum_name, from_json, to_json};
use hearth_store::{StoreError, StoreResult};
use postgres::Row;
use uuid::Uuid;

use crate::auth::{account_fk, in_tx, opt_time_at};
use crate::db::{Db, col};
use crate::people::require_rk;
use crate::{PostgresStore, audit};

fn token_from(r: &Row) -> StoreResult<TokenRecord> {
    let kind: String = col(r, 1)?;
    let code: Option<String> = col(r, 13)?;
    Ok(TokenRecord {
        hash: col(r, 0)?,
        kind: TokenKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("token kind {kind:?}")))?,
        app: AppId(col(r, 2)?),
        account: col::<Option<Uuid>>(r, 3)?.map(AccountId),
        record: col::<Option<Uuid>>(r, 4)?.map(RecordId),
        scope: col(r, 5)?,
        online: col(r, 6)?,
        issuer: enum_from_name("token issuer", &col::<String>(r, 7)?)?,
        family: col(r, 8)?,
        issued_at: Timestamp(col(r, 9)?),
        expires_at: Timestamp(col(r, 10)?),
        used_at: opt_time_at(r, 11)?,
        revoked_at: opt_time_at(r, 12)?,
        code: code
            .map(|c| from_json("authorization code data", &c))
            .transpose()?,
    })
}

pub(crate) fn token(db: &mut Db<'_>, hash: &str) -> StoreResult<Option<TokenRecord>> {
    db.opt(
        "SELECT t.hash, t.kind, t.app, t.account, r.id, t.scope, t.online, t.issuer, t.family,
                t.issued_at, t.expires_at, t.used_at, t.revoked_at, t.code
         FROM oauth_tokens t LEFT JOIN records r ON r.rk = t.rk WHERE t.hash = $1",
        &[&hash],
    )?
    .as_ref()
    .map(token_from)
    .transpose()
}

pub(crate) fn put_token(
    store: &PostgresStore,
    t: &TokenRecord,
    entry: Option<&AuditEntry>,
) -> StoreResult<()> {
    let issuer = enum_name(&t.issuer)?;
    let code = t.code.as_ref().map(to_json).transpose()?;
    in_tx(store, |db| {
        let rk = t.record.map(|r| require_rk(db, r)).transpose()?;
        db.try_exec(
            "INSERT INTO oauth_tokens (hash, kind, app, account, rk, scope, online, issuer, family, issued_at,
                 expires_at, used_at, revoked_at, code)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
            &[
                &t.hash,
                &t.kind.as_str(),
                &t.app.0,
                &t.account.map(|a| a.0),
                &rk,
                &t.scope,
                &t.online,
                &issuer,
                &t.family,
                &t.issued_at.0,
                &t.expires_at.0,
                &t.used_at.map(|u| u.0),
                &t.revoked_at.map(|u| u.0),
                &code,
            ],
        )
        .map_err(account_fk)?;
        if let Some(e) = entry {
            audit::insert_own(db, e)?;
        }
        Ok(())
    })
}

/// A concurrent caller's `UPDATE` waits for the row lock, re-checks `used_at IS NULL` and
/// changes nothing, so exactly one caller sees [`SpendOutcome::Spent`].
pub(crate) fn spend_token(store: &PostgresStore, hash: &str, at: Timestamp) -> StoreResult<SpendOutcome> {
    in_tx(store, |db| {
        let n = db.exec(
            "UPDATE oauth_tokens SET used_at = $2 WHERE hash = $1 AND used_at IS NULL",
            &[&hash, &at.0],
        )?;
        Ok(match token(db, hash)? {
            None => SpendOutcome::NotFound,
            Some(t) if n == 1 => SpendOutcome::Spent(t),
            Some(t) => SpendOutcome::AlreadyUsed(t),
        })
    })
}

pub(crate) fn revoke_token(
    store: &PostgresStore,
    hash: &str,
    at: Timestamp,
    entry: Option<&AuditEntry>,
) -> StoreResult<bool> {
    in_tx(store, |db| {
        let n = db.exec(
            "UPDATE oauth_tokens SET revoked_at = $2 WHERE hash = $1 AND revoked_at IS NULL",
            &[&hash, &at.0],
        )?;
        if let Some(e) = entry {
            audit::insert_own(db, e)?;
        }
        Ok(n == 1)
    })
}

pub(crate) fn revoke_family(
    store: &PostgresStore,
    family: &str,
    at: Timestamp,
    entry: Option<&AuditEntry>,
) -> StoreResult<u64> {
    in_tx(store, |db| {
        let n = db.exec(
            "UPDATE oauth_tokens SET revoked_at = $2 WHERE family = $1 AND revoked_at IS NULL",
            &[&family, &at.0],
        )?;
        if let Some(e) = entry {
            audit::insert_own(db, e)?;
        }
        Ok(n)
    })
}

pub(crate) fn revoke_tokens_of(
    db: &mut Db<'_>,
    app: &AppId,
    account: Option<AccountId>,
    at: Timestamp,
) -> StoreResult<u64> {
    match account {
        Some(a) => db.exec(
            "UPDATE oauth_tokens SET revoked_at = $3 WHERE app = $1 AND account = $2 AND revoked_at IS NULL",
            &[&app.0, &a.0, &at.0],
        ),
        None => db.exec(
            "UPDATE oauth_tokens SET revoked_at = $2 WHERE app = $1 AND account IS NULL AND revoked_at IS NULL",
            &[&app.0, &at.0],
        ),
    }
}

// ---- signing keys ---------------------------------------------------------------------------

pub(crate) fn put_signing_key(db: &mut Db<'_>, k: &SigningKey) -> StoreResult<()> {
    let jwk = to_json(&k.public_jwk)?;
    db.exec(
        "INSERT INTO signing_keys (kid, alg, private_pem, public_jwk, created_at) VALUES ($1, $2, $3, $4, $5)",
        &[&k.kid, &k.alg, &k.private_pem, &jwk, &k.created_at.0],
    )?;
    Ok(())
}

pub(crate) fn signing_keys(db: &mut Db<'_>) -> StoreResult<Vec<SigningKey>> {
    db.query(
        "SELECT kid, alg, private_pem, public_jwk, created_at FROM signing_keys
         ORDER BY created_at DESC, kid COLLATE \"C\" DESC",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(SigningKey {
            kid: col(r, 0)?,
            alg: col(r, 1)?,
            private_pem: col(r, 2)?,
            public_jwk: from_json("signing key JWK", &col::<String>(r, 3)?)?,
            created_at: Timestamp(col(r, 4)?),
        })
    })
    .collect()
}
