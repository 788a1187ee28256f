//! Unaudited reads in SQLite, on the reader connections: current versions,
//! given versions and queries. The services audit what they return through the audit log, whose
//! entries [`append_audits`] writes in one transaction per batch.

use hearth_domain::audit::ItemVersionRef;
use hearth_domain::{AuditEntry, Item, ItemId, ItemQuery, Page, RecordId};
use hearth_store::StoreResult;
use rusqlite::{TransactionBehavior, params};

use crate::people::{require_rk, rk_of};
use crate::read::{COLS, current_items, raw, run_query, to_item};
use crate::{SqliteStore, audit, db_err, uuid_bytes};

pub(crate) fn fetch_any(store: &SqliteStore, ids: &[ItemId]) -> StoreResult<Vec<Item>> {
    let conn = store.reader()?;
    let sql = format!(
        "SELECT {COLS}, v.body, r.id FROM items i JOIN versions v ON v.ik = i.ik AND v.version = i.version
         JOIN records r ON r.rk = i.rk WHERE i.id = ?1"
    );
    let mut st = conn.prepare_cached(&sql).map_err(db_err)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let mut rows = st.query([&id.as_bytes()[..]]).map_err(db_err)?;
        if let Some(row) = rows.next().map_err(db_err)? {
            let rid: Vec<u8> = row.get(15).map_err(db_err)?;
            let record = RecordId::from_bytes(uuid_bytes(&rid)?);
            let rr = raw(row, true).map_err(db_err)?;
            out.push(to_item(store, &conn, record, rr)?);
        }
    }
    Ok(out)
}

pub(crate) fn fetch(store: &SqliteStore, record: RecordId, ids: &[ItemId]) -> StoreResult<Vec<Item>> {
    let conn = store.reader()?;
    let rk = require_rk(&conn, record)?;
    current_items(store, &conn, record, rk, ids, true)
}

pub(crate) fn fetch_versions(
    store: &SqliteStore,
    record: RecordId,
    versions: &[ItemVersionRef],
) -> StoreResult<Vec<Item>> {
    let conn = store.reader()?;
    let rk = require_rk(&conn, record)?;
    let sql = format!(
        "SELECT {COLS}, v.body FROM items i JOIN versions v ON v.ik = i.ik
         WHERE i.id = ?1 AND i.rk = ?2 AND v.version = ?3"
    );
    let mut st = conn.prepare_cached(&sql).map_err(db_err)?;
    let mut out = Vec::with_capacity(versions.len());
    for r in versions {
        let mut rows = st
            .query(params![&r.id.as_bytes()[..], rk, r.version])
            .map_err(db_err)?;
        if let Some(row) = rows.next().map_err(db_err)? {
            let rr = raw(row, true).map_err(db_err)?;
            out.push(to_item(store, &conn, record, rr)?);
        }
    }
    Ok(out)
}

pub(crate) fn scan(store: &SqliteStore, record: RecordId, q: &ItemQuery) -> StoreResult<Page> {
    let conn = store.reader()?;
    let rk = require_rk(&conn, record)?;
    run_query(store, &conn, record, rk, q)
}

pub(crate) fn append_audits(store: &SqliteStore, entries: &[AuditEntry]) -> StoreResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut conn = store.writer()?;
    // IMMEDIATE: take the write lock up front, so a busy database is waited for (busy timeout)
    // rather than failing the upgrade of a read snapshot another process wrote past.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    for e in entries {
        let rk = match e.record {
            Some(r) => rk_of(&tx, r)?,
            None => None,
        };
        audit::insert(&tx, e, rk, &e.items)?;
    }
    tx.commit().map_err(db_err)
}
