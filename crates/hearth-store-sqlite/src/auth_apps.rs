//! Registered apps, consent grants and each app's pseudonymous subjects in SQLite. Grants name
//! their record by its internal key (`rk`), like every other table.

use hearth_domain::auth::{App, Grant};
use hearth_domain::{AccountId, AppId, AuditEntry, RecordId, Timestamp};
use hearth_store::codec::{enum_from_name, enum_name, from_json, to_json};
use hearth_store::{GrantUse, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::auth::{account_at, account_fk, get, opt_time_at, query_all, query_opt, record_at, write_tx};
use crate::people::{is_unique_violation, require_rk};
use crate::{SqliteStore, audit, db_err};

// ---- apps -----------------------------------------------------------------------------------

const APP_COLS: &str = "id, name, description, logo_uri, redirect_uris, kind, auth_method, secret_hash, jwks,
     rules, created_at, updated_at, disabled";

fn app_from(r: &Row<'_>) -> StoreResult<App> {
    let jwks: Option<String> = get(r, 8)?;
    Ok(App {
        id: AppId(get(r, 0)?),
        name: get(r, 1)?,
        description: get(r, 2)?,
        logo_uri: get(r, 3)?,
        redirect_uris: from_json("app redirect URIs", &get::<String>(r, 4)?)?,
        kind: enum_from_name("app kind", &get::<String>(r, 5)?)?,
        auth_method: enum_from_name("app auth method", &get::<String>(r, 6)?)?,
        secret_hash: get(r, 7)?,
        jwks: jwks.map(|j| from_json("app jwks", &j)).transpose()?,
        rules: from_json("app rules", &get::<String>(r, 9)?)?,
        created_at: Timestamp(get(r, 10)?),
        updated_at: Timestamp(get(r, 11)?),
        disabled: get(r, 12)?,
    })
}

/// The app's columns after `id`, in [`APP_COLS`] order, as stored.
type AppValues = (
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    i64,
    bool,
);

fn app_values(a: &App) -> StoreResult<AppValues> {
    Ok((
        a.name.clone(),
        a.description.clone(),
        a.logo_uri.clone(),
        to_json(&a.redirect_uris)?,
        enum_name(&a.kind)?,
        enum_name(&a.auth_method)?,
        a.secret_hash.clone(),
        a.jwks.as_ref().map(to_json).transpose()?,
        to_json(&a.rules)?,
        a.created_at.0,
        a.updated_at.0,
        a.disabled,
    ))
}

pub(crate) fn create_app(store: &SqliteStore, app: &App, entry: &AuditEntry) -> StoreResult<()> {
    let v = app_values(app)?;
    write_tx(store, |tx| {
        tx.prepare_cached(&format!(
            "INSERT INTO apps ({APP_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
        ))
        .and_then(|mut s| {
            s.execute(params![
                app.id.0, v.0, v.1, v.2, v.3, v.4, v.5, v.6, v.7, v.8, v.9, v.10, v.11
            ])
        })
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::DuplicateApp
            } else {
                db_err(e)
            }
        })?;
        audit::insert_own(tx, entry)?;
        Ok(())
    })
}

pub(crate) fn update_app(store: &SqliteStore, app: &App, entry: &AuditEntry) -> StoreResult<()> {
    let v = app_values(app)?;
    write_tx(store, |tx| {
        let n = tx
            .prepare_cached(
                "UPDATE apps SET name = ?2, description = ?3, logo_uri = ?4, redirect_uris = ?5, kind = ?6,
                     auth_method = ?7, secret_hash = ?8, jwks = ?9, rules = ?10, created_at = ?11,
                     updated_at = ?12, disabled = ?13
                 WHERE id = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    app.id.0, v.0, v.1, v.2, v.3, v.4, v.5, v.6, v.7, v.8, v.9, v.10, v.11
                ])
            })
            .map_err(db_err)?;
        if n == 0 {
            return Err(StoreError::AppNotFound);
        }
        audit::insert_own(tx, entry)?;
        Ok(())
    })
}

pub(crate) fn app(conn: &Connection, id: &AppId) -> StoreResult<Option<App>> {
    let sql = format!("SELECT {APP_COLS} FROM apps WHERE id = ?1");
    query_opt(conn, &sql, [&id.0], app_from)
}

pub(crate) fn list_apps(conn: &Connection) -> StoreResult<Vec<App>> {
    let sql = format!("SELECT {APP_COLS} FROM apps ORDER BY id");
    query_all(conn, &sql, [], app_from)
}

// ---- grants ---------------------------------------------------------------------------------

/// The columns of a grant, with its record's public id.
macro_rules! grant_select {
    () => {
        "SELECT g.app, r.id, g.account, g.rules, g.granted_at, g.updated_at, g.revoked_at,
             g.last_read_at, g.last_write_at FROM grants g JOIN records r ON r.rk = g.rk"
    };
}

pub(crate) const GRANT_SQL: &str = concat!(
    grant_select!(),
    " WHERE g.app = ?1 AND r.id = ?2 AND g.account = ?3"
);
pub(crate) const GRANTS_FOR_RECORD_SQL: &str =
    concat!(grant_select!(), " WHERE r.id = ?1 ORDER BY g.app, g.account");
pub(crate) const GRANTS_OF_APP_SQL: &str =
    concat!(grant_select!(), " WHERE g.app = ?1 ORDER BY r.id, g.account");
pub(crate) const GRANTS_BY_ACCOUNT_SQL: &str =
    concat!(grant_select!(), " WHERE g.account = ?1 ORDER BY g.app, r.id");
pub(crate) const TOUCH_READ_SQL: &str = "UPDATE grants SET last_read_at = max(coalesce(last_read_at, ?4), ?4)
     WHERE app = ?1 AND rk = (SELECT rk FROM records WHERE id = ?2) AND account = ?3";
const TOUCH_WRITE_SQL: &str = "UPDATE grants SET last_write_at = max(coalesce(last_write_at, ?4), ?4)
     WHERE app = ?1 AND rk = (SELECT rk FROM records WHERE id = ?2) AND account = ?3";

fn grant_from(r: &Row<'_>) -> StoreResult<Grant> {
    Ok(Grant {
        app: AppId(get(r, 0)?),
        record: record_at(r, 1)?,
        account: account_at(r, 2)?,
        rules: from_json("granted rules", &get::<String>(r, 3)?)?,
        granted_at: Timestamp(get(r, 4)?),
        updated_at: Timestamp(get(r, 5)?),
        revoked_at: opt_time_at(r, 6)?,
        last_read_at: opt_time_at(r, 7)?,
        last_write_at: opt_time_at(r, 8)?,
    })
}

pub(crate) fn put_grant(store: &SqliteStore, g: &Grant, entry: &AuditEntry) -> StoreResult<()> {
    let rules = to_json(&g.rules)?;
    write_tx(store, |tx| {
        let known: Option<i64> = tx
            .prepare_cached("SELECT 1 FROM apps WHERE id = ?1")
            .and_then(|mut s| s.query_row([&g.app.0], |r| r.get(0)).optional())
            .map_err(db_err)?;
        if known.is_none() {
            return Err(StoreError::AppNotFound);
        }
        let rk = require_rk(tx, g.record)?;
        tx.prepare_cached(
            "INSERT INTO grants (app, rk, account, rules, granted_at, updated_at, revoked_at, last_read_at,
                 last_write_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (app, rk, account) DO UPDATE SET rules = excluded.rules,
                 granted_at = excluded.granted_at, updated_at = excluded.updated_at,
                 revoked_at = excluded.revoked_at, last_read_at = excluded.last_read_at,
                 last_write_at = excluded.last_write_at",
        )
        .and_then(|mut s| {
            s.execute(params![
                g.app.0,
                rk,
                &g.account.as_bytes()[..],
                rules,
                g.granted_at.0,
                g.updated_at.0,
                g.revoked_at.map(|t| t.0),
                g.last_read_at.map(|t| t.0),
                g.last_write_at.map(|t| t.0),
            ])
        })
        .map_err(account_fk)?;
        audit::insert_own(tx, entry)?;
        Ok(())
    })
}

pub(crate) fn grant(
    conn: &Connection,
    app: &AppId,
    record: RecordId,
    account: AccountId,
) -> StoreResult<Option<Grant>> {
    query_opt(
        conn,
        GRANT_SQL,
        params![app.0, &record.as_bytes()[..], &account.as_bytes()[..]],
        grant_from,
    )
}

pub(crate) fn grants_for_record(conn: &Connection, record: RecordId) -> StoreResult<Vec<Grant>> {
    query_all(conn, GRANTS_FOR_RECORD_SQL, [&record.as_bytes()[..]], grant_from)
}

pub(crate) fn grants_of_app(conn: &Connection, app: &AppId) -> StoreResult<Vec<Grant>> {
    query_all(conn, GRANTS_OF_APP_SQL, [&app.0], grant_from)
}

pub(crate) fn grants_by_account(conn: &Connection, account: AccountId) -> StoreResult<Vec<Grant>> {
    query_all(conn, GRANTS_BY_ACCOUNT_SQL, [&account.as_bytes()[..]], grant_from)
}

/// Keeps the latest time seen, so uses noted out of order never move it back.
pub(crate) fn touch_grant(
    store: &SqliteStore,
    app: &AppId,
    record: RecordId,
    account: AccountId,
    used: GrantUse,
    at: Timestamp,
) -> StoreResult<()> {
    let sql = match used {
        GrantUse::Read => TOUCH_READ_SQL,
        GrantUse::Write => TOUCH_WRITE_SQL,
    };
    write_tx(store, |tx| {
        tx.prepare_cached(sql)
            .and_then(|mut s| {
                s.execute(params![
                    app.0,
                    &record.as_bytes()[..],
                    &account.as_bytes()[..],
                    at.0
                ])
            })
            .map_err(db_err)?;
        Ok(())
    })
}

// ---- subjects -------------------------------------------------------------------------------

/// Reads the subject or creates it, inside one write transaction, so two callers never make
/// two.
pub(crate) fn app_subject(store: &SqliteStore, app: &AppId, account: AccountId) -> StoreResult<String> {
    write_tx(store, |tx| {
        let found: Option<String> = tx
            .prepare_cached("SELECT subject FROM app_subjects WHERE app = ?1 AND account = ?2")
            .and_then(|mut s| {
                s.query_row(params![app.0, &account.as_bytes()[..]], |r| r.get(0))
                    .optional()
            })
            .map_err(db_err)?;
        if let Some(subject) = found {
            return Ok(subject);
        }
        let subject = uuid::Uuid::new_v4().to_string();
        tx.prepare_cached("INSERT INTO app_subjects (app, account, subject) VALUES (?1, ?2, ?3)")
            .and_then(|mut s| s.execute(params![app.0, &account.as_bytes()[..], subject]))
            .map_err(account_fk)?;
        Ok(subject)
    })
}
