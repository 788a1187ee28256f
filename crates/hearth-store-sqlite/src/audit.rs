//! The audit trail and the change feed in SQLite.

use hearth_domain::audit::{AuditFilter, ItemVersionRef};
use hearth_domain::{
    AccountId, AppId, AuditAction, AuditEntry, AuditOutcome, Change, ChangeKind, ItemId, RecordId, Timestamp,
};
use hearth_store::codec::{decode_refs, decode_strings, encode_refs, encode_strings};
use hearth_store::{StoreError, StoreResult};
use rusqlite::{Connection, ToSql, params};

use crate::people::require_rk;
use crate::{SqliteStore, db_err, uuid_bytes};

/// Appends one entry; `items` replaces the entry's own list (the store fills in what it touched).
pub(crate) fn insert(
    conn: &Connection,
    e: &AuditEntry,
    rk: Option<i64>,
    items: &[ItemVersionRef],
) -> StoreResult<i64> {
    let (outcome, detail) = match &e.outcome {
        AuditOutcome::Success => ("success", None),
        AuditOutcome::Failure(d) => ("failure", Some(d.as_str())),
    };
    conn.prepare_cached(
        "INSERT INTO audit (at, account, app, online, rk, action, outcome, detail, data_types, items)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .and_then(|mut s| {
        s.execute(params![
            e.at.0,
            e.account.map(|a| a.as_bytes().to_vec()),
            e.app.as_ref().map(|a| a.0.as_str()),
            e.online,
            rk,
            e.action.as_str(),
            outcome,
            detail,
            encode_strings(&e.data_types),
            encode_refs(items),
        ])
    })
    .map_err(db_err)?;
    Ok(conn.last_insert_rowid())
}

type AuditRow = (
    i64,
    i64,
    Option<Vec<u8>>,
    Option<String>,
    bool,
    String,
    String,
    Option<String>,
    String,
    String,
);

fn audit_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

fn to_entry(record: Option<RecordId>, row: AuditRow) -> StoreResult<AuditEntry> {
    let (id, at, account, app, online, action, outcome, detail, dts, items) = row;
    Ok(AuditEntry {
        id,
        at: Timestamp(at),
        account: account
            .map(|b| uuid_bytes(&b).map(AccountId::from_bytes))
            .transpose()?,
        app: app.map(AppId),
        online,
        record,
        action: AuditAction::parse(&action)
            .ok_or_else(|| StoreError::Corrupt(format!("audit action {action}")))?,
        items: decode_refs(&items)?,
        data_types: decode_strings(&dts)?,
        outcome: if outcome == "success" {
            AuditOutcome::Success
        } else {
            AuditOutcome::Failure(detail.unwrap_or_default())
        },
    })
}

const AUDIT_COLS: &str = "id, at, account, app, online, action, outcome, detail, data_types, items";

/// Every entry of a record, oldest first (export).
pub(crate) fn each_oldest_first(
    conn: &Connection,
    record: RecordId,
    rk: i64,
    f: &mut dyn FnMut(&AuditEntry) -> StoreResult<()>,
) -> StoreResult<()> {
    let mut st = conn
        .prepare(&format!(
            "SELECT {AUDIT_COLS} FROM audit WHERE rk = ?1 ORDER BY id"
        ))
        .map_err(db_err)?;
    let mut rows = st.query([rk]).map_err(db_err)?;
    while let Some(r) = rows.next().map_err(db_err)? {
        f(&to_entry(Some(record), audit_row(r).map_err(db_err)?)?)?;
    }
    Ok(())
}

pub(crate) fn trail(conn: &Connection, record: RecordId, f: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
    let rk = require_rk(conn, record)?;
    let mut sql = String::from(
        "SELECT id, at, account, app, online, action, outcome, detail, data_types, items FROM audit WHERE rk = ?1",
    );
    let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(rk)];
    let mut push = |cond: &str, v: Box<dyn ToSql>, sql: &mut String| {
        args.push(v);
        sql.push_str(&format!(" AND {cond} ?{}", args.len()));
    };
    if let Some(a) = f.account {
        push("account =", Box::new(a.as_bytes().to_vec()), &mut sql);
    }
    if let Some(app) = &f.app {
        push("app =", Box::new(app.0.clone()), &mut sql);
    }
    if let Some(action) = f.action {
        push("action =", Box::new(action.as_str()), &mut sql);
    }
    if let Some(dt) = &f.data_type {
        // data_types is a JSON array of keys; keys never hold a quote.
        push(
            "data_types LIKE",
            Box::new(format!("%\"{}\"%", dt.replace(['"', '%', '_'], ""))),
            &mut sql,
        );
    }
    if let Some(from) = f.from {
        push("at >=", Box::new(from.0), &mut sql);
    }
    if let Some(to) = f.to {
        push("at <", Box::new(to.0), &mut sql);
    }
    if let Some(b) = f.before_id {
        push("id <", Box::new(b), &mut sql);
    }
    let limit = if f.limit == 0 { 100 } else { f.limit.min(1000) };
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {limit}"));
    let mut st = conn.prepare(&sql).map_err(db_err)?;
    let params: Vec<&dyn ToSql> = args.iter().map(|b| b.as_ref()).collect();
    let rows = st.query_map(params.as_slice(), audit_row).map_err(db_err)?;
    rows.map(|row| to_entry(Some(record), row.map_err(db_err)?))
        .collect()
}

/// Entries about an account that belong to no record, newest first (the `audit_account` index).
pub(crate) const ACCOUNT_AUDIT_SQL: &str =
    "SELECT id, at, account, app, online, action, outcome, detail, data_types, items FROM audit
     WHERE account = ?1 AND rk IS NULL ORDER BY id DESC LIMIT ?2";

pub(crate) fn account_trail(
    conn: &Connection,
    account: AccountId,
    limit: u32,
) -> StoreResult<Vec<AuditEntry>> {
    let limit = if limit == 0 { 100 } else { limit.min(1000) };
    let mut st = conn.prepare_cached(ACCOUNT_AUDIT_SQL).map_err(db_err)?;
    let rows = st
        .query_map(params![&account.as_bytes()[..], limit], audit_row)
        .map_err(db_err)?;
    rows.map(|row| to_entry(None, row.map_err(db_err)?)).collect()
}

/// Appends an entry that came with a sign-in or consent write, in that write's transaction.
pub(crate) fn insert_own(conn: &Connection, e: &AuditEntry) -> StoreResult<i64> {
    let rk = match e.record {
        Some(r) => crate::people::rk_of(conn, r)?,
        None => None,
    };
    insert(conn, e, rk, &e.items)
}

pub(crate) fn changes(
    store: &SqliteStore,
    conn: &Connection,
    record: RecordId,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<Change>> {
    let rk = require_rk(conn, record)?;
    let limit = if limit == 0 { 1000 } else { limit.min(10_000) };
    let mut st = conn
        .prepare_cached(
            "SELECT v.seq, v.kind, i.id, v.version, v.dt, v.effective, v.at FROM versions v
             JOIN items i ON i.ik = v.ik WHERE v.rk = ?1 AND v.seq > ?2 ORDER BY v.seq LIMIT ?3",
        )
        .map_err(db_err)?;
    let rows = st
        .query_map(params![rk, after, limit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, u32>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })
        .map_err(db_err)?;
    rows.map(|row| {
        let (seq, kind, id, version, dt, effective, at) = row.map_err(db_err)?;
        Ok(Change {
            seq,
            kind: ChangeKind::from_code(kind)
                .ok_or_else(|| StoreError::Corrupt(format!("change kind {kind}")))?,
            item: ItemId::from_bytes(uuid_bytes(&id)?),
            version,
            data_type: store.dt_name(conn, dt)?,
            effective: Timestamp(effective),
            at: Timestamp(at),
        })
    })
    .collect()
}
