//! Unaudited reads in PostgreSQL: current versions, given versions and
//! queries. The services audit what they return through the audit log, whose entries
//! [`append_audits`] writes in one transaction per batch.

use std::collections::HashMap;

use hearth_domain::audit::ItemVersionRef;
use hearth_domain::{AuditEntry, Item, ItemId, ItemQuery, Page, RecordId};
use hearth_store::StoreResult;
use uuid::Uuid;

use crate::db::{Db, col};
use crate::people::{require_rk, rk_of};
use crate::read::{COLS, current_items, run_query, to_items};
use crate::{PostgresStore, audit, with_auto};

pub(crate) fn fetch_any(store: &PostgresStore, ids: &[ItemId]) -> StoreResult<Vec<Item>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    with_auto(store, |db| {
        let uuids: Vec<Uuid> = ids.iter().map(|i| i.0).collect();
        let sql = format!(
            "SELECT {COLS}, v.body, r.id FROM items i JOIN versions v ON v.ik = i.ik AND v.version = i.version
             JOIN records r ON r.rk = i.rk WHERE i.id = ANY($1)"
        );
        let rows = db.query(&sql, &[&uuids])?;
        let mut by_id: HashMap<ItemId, Item> = HashMap::with_capacity(rows.len());
        for r in &rows {
            let record = RecordId(col(r, 15)?);
            let item = to_items(store, db, record, std::slice::from_ref(r), true)?.remove(0);
            by_id.insert(item.meta.id, item);
        }
        Ok(ids.iter().filter_map(|i| by_id.remove(i)).collect())
    })
}

pub(crate) fn fetch(store: &PostgresStore, record: RecordId, ids: &[ItemId]) -> StoreResult<Vec<Item>> {
    with_auto(store, |db| {
        let rk = require_rk(db, record)?;
        current_items(store, db, record, rk, ids, true)
    })
}

pub(crate) fn fetch_versions(
    store: &PostgresStore,
    record: RecordId,
    versions: &[ItemVersionRef],
) -> StoreResult<Vec<Item>> {
    if versions.is_empty() {
        return Ok(vec![]);
    }
    with_auto(store, |db| {
        let rk = require_rk(db, record)?;
        let ids: Vec<Uuid> = versions.iter().map(|r| r.id.0).collect();
        let nums: Vec<i32> = versions
            .iter()
            .map(|r| i32::try_from(r.version).unwrap_or(i32::MAX))
            .collect();
        let sql = format!(
            "SELECT {COLS}, v.body FROM unnest($1::uuid[], $2::int4[]) AS w(id, version)
             JOIN items i ON i.id = w.id AND i.rk = $3
             JOIN versions v ON v.ik = i.ik AND v.version = w.version"
        );
        let rows = db.query(&sql, &[&ids, &nums, &rk])?;
        let items = to_items(store, db, record, &rows, true)?;
        let by_key: HashMap<(ItemId, u32), &Item> =
            items.iter().map(|i| ((i.meta.id, i.meta.version), i)).collect();
        Ok(versions
            .iter()
            .filter_map(|r| by_key.get(&(r.id, r.version)).map(|i| (*i).clone()))
            .collect())
    })
}

pub(crate) fn scan(store: &PostgresStore, record: RecordId, q: &ItemQuery) -> StoreResult<Page> {
    with_auto(store, |db| {
        let rk = require_rk(db, record)?;
        run_query(store, db, record, rk, q)
    })
}

pub(crate) fn append_audits(store: &PostgresStore, entries: &[AuditEntry]) -> StoreResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut conn = store.conn()?;
    let mut db = Db::begin(&mut conn)?;
    for e in entries {
        let rk = match e.record {
            Some(r) => rk_of(&mut db, r)?,
            None => None,
        };
        audit::insert(&mut db, e, rk, &e.items)?;
    }
    db.commit()
}
