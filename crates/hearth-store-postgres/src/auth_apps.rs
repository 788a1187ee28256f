//! Registered apps, consent grants and each app's pseudonymous subjects in PostgreSQL. Grants
//! name their record by its internal key (`rk`), like every other table.

use hearth_domain::auth::{App, Grant};
use hearth_domain::{AccountId, AppId, AuditEntry, RecordId, Timestamp};
use hearth_store::codec::{enum_from_name, enum_name, from_json, to_json};
use hearth_store::{GrantUse, StoreError, StoreResult};
use postgres::Row;
use postgres::types::ToSql;

use crate::auth::{account_fk, in_tx, opt_time_at};
use crate::db::{Db, col, db_err, is_unique_violation};
use crate::people::require_rk;
use crate::{PostgresStore, audit};

// ---- apps -----------------------------------------------------------------------------------

const APP_COLS: &str = "id, name, description, logo_uri, redirect_uris, kind, auth_method, secret_hash, jwks,
     rules, created_at, updated_at, disabled";

fn app_from(r: &Row) -> StoreResult<App> {
    let jwks: Option<String> = col(r, 8)?;
    Ok(App {
        id: AppId(col(r, 0)?),
        name: col(r, 1)?,
        description: col(r, 2)?,
        logo_uri: col(r, 3)?,
        redirect_uris: from_json("app redirect URIs", &col::<String>(r, 4)?)?,
        kind: enum_from_name("app kind", &col::<String>(r, 5)?)?,
        auth_method: enum_from_name("app auth method", &col::<String>(r, 6)?)?,
        secret_hash: col(r, 7)?,
        jwks: jwks.map(|j| from_json("app jwks", &j)).transpose()?,
        rules: from_json("app rules", &col::<String>(r, 9)?)?,
        created_at: Timestamp(col(r, 10)?),
        updated_at: Timestamp(col(r, 11)?),
        disabled: col(r, 12)?,
    })
}

/// Runs `sql` with the app's columns as `$1`…`$13`, in [`APP_COLS`] order.
fn exec_with_app(db: &mut Db<'_>, sql: &str, a: &App) -> StoreResult<Result<u64, postgres::Error>> {
    let redirect_uris = to_json(&a.redirect_uris)?;
    let kind = enum_name(&a.kind)?;
    let auth_method = enum_name(&a.auth_method)?;
    let jwks = a.jwks.as_ref().map(to_json).transpose()?;
    let rules = to_json(&a.rules)?;
    let args: [&(dyn ToSql + Sync); 13] = [
        &a.id.0,
        &a.name,
        &a.description,
        &a.logo_uri,
        &redirect_uris,
        &kind,
        &auth_method,
        &a.secret_hash,
        &jwks,
        &rules,
        &a.created_at.0,
        &a.updated_at.0,
        &a.disabled,
    ];
    Ok(db.try_exec(sql, &args))
}

pub(crate) fn create_app(store: &PostgresStore, app: &App, entry: &AuditEntry) -> StoreResult<()> {
    in_tx(store, |db| {
        let sql = format!(
            "INSERT INTO apps ({APP_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        );
        exec_with_app(db, &sql, app)?.map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::DuplicateApp
            } else {
                db_err(e)
            }
        })?;
        audit::insert_own(db, entry)?;
        Ok(())
    })
}

pub(crate) fn update_app(store: &PostgresStore, app: &App, entry: &AuditEntry) -> StoreResult<()> {
    in_tx(store, |db| {
        let n = exec_with_app(
            db,
            "UPDATE apps SET name = $2, description = $3, logo_uri = $4, redirect_uris = $5, kind = $6,
                 auth_method = $7, secret_hash = $8, jwks = $9, rules = $10, created_at = $11,
                 updated_at = $12, disabled = $13
             WHERE id = $1",
            app,
        )?
        .map_err(db_err)?;
        if n == 0 {
            return Err(StoreError::AppNotFound);
        }
        audit::insert_own(db, entry)?;
        Ok(())
    })
}

pub(crate) fn app(db: &mut Db<'_>, id: &AppId) -> StoreResult<Option<App>> {
    let sql = format!("SELECT {APP_COLS} FROM apps WHERE id = $1");
    db.opt(&sql, &[&id.0])?.as_ref().map(app_from).transpose()
}

pub(crate) fn list_apps(db: &mut Db<'_>) -> StoreResult<Vec<App>> {
    let sql = format!("SELECT {APP_COLS} FROM apps ORDER BY id");
    db.query(&sql, &[])?.iter().map(app_from).collect()
}

// ---- grants ---------------------------------------------------------------------------------

/// The columns of a grant, with its record's public id.
const GRANT_SELECT: &str = "SELECT g.app, r.id, g.account, g.rules, g.granted_at, g.updated_at, g.revoked_at,
     g.last_read_at, g.last_write_at FROM grants g JOIN records r ON r.rk = g.rk";

fn grant_from(r: &Row) -> StoreResult<Grant> {
    Ok(Grant {
        app: AppId(col(r, 0)?),
        record: RecordId(col(r, 1)?),
        account: AccountId(col(r, 2)?),
        rules: from_json("granted rules", &col::<String>(r, 3)?)?,
        granted_at: Timestamp(col(r, 4)?),
        updated_at: Timestamp(col(r, 5)?),
        revoked_at: opt_time_at(r, 6)?,
        last_read_at: opt_time_at(r, 7)?,
        last_write_at: opt_time_at(r, 8)?,
    })
}

fn grants_where(db: &mut Db<'_>, cond: &str, args: &[&(dyn ToSql + Sync)]) -> StoreResult<Vec<Grant>> {
    let sql = format!("{GRANT_SELECT} WHERE {cond}");
    db.query(&sql, args)?.iter().map(grant_from).collect()
}

pub(crate) fn put_grant(store: &PostgresStore, g: &Grant, entry: &AuditEntry) -> StoreResult<()> {
    let rules = to_json(&g.rules)?;
    in_tx(store, |db| {
        if db.opt("SELECT 1 FROM apps WHERE id = $1", &[&g.app.0])?.is_none() {
            return Err(StoreError::AppNotFound);
        }
        let rk = require_rk(db, g.record)?;
        db.try_exec(
            "INSERT INTO grants (app, rk, account, rules, granted_at, updated_at, revoked_at, last_read_at,
                 last_write_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (app, rk, account) DO UPDATE SET rules = excluded.rules,
                 granted_at = excluded.granted_at, updated_at = excluded.updated_at,
                 revoked_at = excluded.revoked_at, last_read_at = excluded.last_read_at,
                 last_write_at = excluded.last_write_at",
            &[
                &g.app.0,
                &rk,
                &g.account.0,
                &rules,
                &g.granted_at.0,
                &g.updated_at.0,
                &g.revoked_at.map(|t| t.0),
                &g.last_read_at.map(|t| t.0),
                &g.last_write_at.map(|t| t.0),
            ],
        )
        .map_err(account_fk)?;
        audit::insert_own(db, entry)?;
        Ok(())
    })
}

pub(crate) fn grant(
    db: &mut Db<'_>,
    app: &AppId,
    record: RecordId,
    account: AccountId,
) -> StoreResult<Option<Grant>> {
    let sql = format!("{GRANT_SELECT} WHERE g.app = $1 AND r.id = $2 AND g.account = $3");
    db.opt(&sql, &[&app.0, &record.0, &account.0])?
        .as_ref()
        .map(grant_from)
        .transpose()
}

pub(crate) fn grants_for_record(db: &mut Db<'_>, record: RecordId) -> StoreResult<Vec<Grant>> {
    grants_where(db, "r.id = $1 ORDER BY g.app, g.account", &[&record.0])
}

pub(crate) fn grants_of_app(db: &mut Db<'_>, app: &AppId) -> StoreResult<Vec<Grant>> {
    grants_where(db, "g.app = $1 ORDER BY r.id, g.account", &[&app.0])
}

pub(crate) fn grants_by_account(db: &mut Db<'_>, account: AccountId) -> StoreResult<Vec<Grant>> {
    grants_where(db, "g.account = $1 ORDER BY g.app, r.id", &[&account.0])
}

/// Keeps the latest time seen (`GREATEST` skips NULL), so uses noted out of order never move it
/// back.
pub(crate) fn touch_grant(
    db: &mut Db<'_>,
    app: &AppId,
    record: RecordId,
    account: AccountId,
    used: GrantUse,
    at: Timestamp,
) -> StoreResult<()> {
    let sql = match used {
        GrantUse::Read => {
            "UPDATE grants SET last_read_at = GREATEST(last_read_at, $4)
             WHERE app = $1 AND rk = (SELECT rk FROM records WHERE id = $2) AND account = $3"
        }
        GrantUse::Write => {
            "UPDATE grants SET last_write_at = GREATEST(last_write_at, $4)
             WHERE app = $1 AND rk = (SELECT rk FROM records WHERE id = $2) AND account = $3"
        }
    };
    db.exec(sql, &[&app.0, &record.0, &account.0, &at.0])?;
    Ok(())
}

// ---- subjects -------------------------------------------------------------------------------

/// Reads the subject, or inserts one with `ON CONFLICT DO NOTHING` and reads again: a
/// concurrent caller's insert wins and both return its subject.
pub(crate) fn app_subject(db: &mut Db<'_>, app: &AppId, account: AccountId) -> StoreResult<String> {
    const SELECT: &str = "SELECT subject FROM app_subjects WHERE app = $1 AND account = $2";
    if let Some(r) = db.opt(SELECT, &[&app.0, &account.0])? {
        return col(&r, 0);
    }
    let subject = uuid::Uuid::new_v4().to_string();
    db.try_exec(
        "INSERT INTO app_subjects (app, account, subject) VALUES ($1, $2, $3)
         ON CONFLICT (app, account) DO NOTHING",
        &[&app.0, &account.0, &subject],
    )
    .map_err(account_fk)?;
    col(&db.one(SELECT, &[&app.0, &account.0])?, 0)
}
