//! The audit trail and the change feed in PostgreSQL.

use hearth_domain::audit::{AuditFilter, ItemVersionRef};
use hearth_domain::{
    AccountId, AppId, AuditAction, AuditEntry, AuditOutcome, Change, ChangeKind, ItemId, RecordId, Timestamp,
};
use hearth_store::codec::{decode_refs, decode_strings, encode_refs, encode_strings};
use hearth_store::{StoreError, StoreResult};
use postgres::Row;
use postgres::types::ToSql;
use uuid::Uuid;

use crate::PostgresStore;
use crate::db::{Db, col};
use crate::people::require_rk;

/// Appends one entry; `items` replaces the entry's own list (the store fills in what it touched).
pub(crate) fn insert(
    db: &mut Db<'_>,
    e: &AuditEntry,
    rk: Option<i64>,
    items: &[ItemVersionRef],
) -> StoreResult<i64> {
    let (outcome, detail) = match &e.outcome {
        AuditOutcome::Success => ("success", None),
        AuditOutcome::Failure(d) => ("failure", Some(d.as_str())),
    };
    let row = db.one(
        "INSERT INTO audit (at, account, app, online, rk, action, outcome, detail, data_types, items)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        &[
            &e.at.0,
            &e.account.map(|a| a.0),
            &e.app.as_ref().map(|a| a.0.as_str()),
            &e.online,
            &rk,
            &e.action.as_str(),
            &outcome,
            &detail,
            &encode_strings(&e.data_types),
            &encode_refs(items),
        ],
    )?;
    col(&row, 0)
}

const AUDIT_COLS: &str = "id, at, account, app, online, action, outcome, detail, data_types, items";

fn to_entry(record: Option<RecordId>, r: &Row) -> StoreResult<AuditEntry> {
    let action: String = col(r, 5)?;
    let outcome: String = col(r, 6)?;
    let detail: Option<String> = col(r, 7)?;
    let dts: String = col(r, 8)?;
    let items: String = col(r, 9)?;
    Ok(AuditEntry {
        id: col(r, 0)?,
        at: Timestamp(col(r, 1)?),
        account: col::<Option<Uuid>>(r, 2)?.map(AccountId),
        app: col::<Option<String>>(r, 3)?.map(AppId),
        online: col(r, 4)?,
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

/// Every entry of a record, oldest first (export), streamed.
pub(crate) fn each_oldest_first(
    db: &mut Db<'_>,
    record: RecordId,
    rk: i64,
    f: &mut dyn FnMut(&AuditEntry) -> StoreResult<()>,
) -> StoreResult<()> {
    let sql = format!("SELECT {AUDIT_COLS} FROM audit WHERE rk = $1 ORDER BY id");
    db.each(&sql, &[&rk], &mut |r| f(&to_entry(Some(record), r)?))
}

pub(crate) fn trail(db: &mut Db<'_>, record: RecordId, f: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
    let rk = require_rk(db, record)?;
    let mut sql = format!("SELECT {AUDIT_COLS} FROM audit WHERE rk = $1");
    let mut args: Vec<Box<dyn ToSql + Sync>> = vec![Box::new(rk)];
    let mut push = |cond: &str, v: Box<dyn ToSql + Sync>, sql: &mut String| {
        args.push(v);
        sql.push_str(&format!(" AND {cond} ${}", args.len()));
    };
    if let Some(a) = f.account {
        push("account =", Box::new(a.0), &mut sql);
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
    let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|b| b.as_ref()).collect();
    db.query(&sql, &params)?
        .iter()
        .map(|r| to_entry(Some(record), r))
        .collect()
}

/// Entries about an account that belong to no record, newest first (the `audit_account` index).
pub(crate) fn account_trail(db: &mut Db<'_>, account: AccountId, limit: u32) -> StoreResult<Vec<AuditEntry>> {
    let limit = i64::from(if limit == 0 { 100 } else { limit.min(1000) });
    let sql =
        format!("SELECT {AUDIT_COLS} FROM audit WHERE account = $1 AND rk IS NULL ORDER BY id DESC LIMIT $2");
    db.query(&sql, &[&account.0, &limit])?
        .iter()
        .map(|r| to_entry(None, r))
        .collect()
}

/// Appends an entry that came with a sign-in or consent write, in that write's transaction.
pub(crate) fn insert_own(db: &mut Db<'_>, e: &AuditEntry) -> StoreResult<i64> {
    let rk = match e.record {
        Some(r) => crate::people::rk_of(db, r)?,
        None => None,
    };
    insert(db, e, rk, &e.items)
}

pub(crate) fn changes(
    store: &PostgresStore,
    db: &mut Db<'_>,
    record: RecordId,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<Change>> {
    let rk = require_rk(db, record)?;
    let limit = i64::from(if limit == 0 { 1000 } else { limit.min(10_000) });
    let rows = db.query(
        "SELECT v.seq, v.kind, i.id, v.version, v.dt, v.effective, v.at FROM versions v
         JOIN items i ON i.ik = v.ik WHERE v.rk = $1 AND v.seq > $2 ORDER BY v.seq LIMIT $3",
        &[&rk, &after, &limit],
    )?;
    let mut dts = Vec::with_capacity(rows.len());
    for r in &rows {
        dts.push(col::<i64>(r, 4)?);
    }
    store.ensure_known(db, [], dts)?;
    rows.iter()
        .map(|r| {
            let kind: i16 = col(r, 1)?;
            let version: i32 = col(r, 3)?;
            Ok(Change {
                seq: col(r, 0)?,
                kind: ChangeKind::from_code(kind.into())
                    .ok_or_else(|| StoreError::Corrupt(format!("change kind {kind}")))?,
                item: ItemId(col(r, 2)?),
                version: version as u32,
                data_type: store.dt_cached(col(r, 4)?)?,
                effective: Timestamp(col(r, 5)?),
                at: Timestamp(col(r, 6)?),
            })
        })
        .collect()
}
