//! Writes in SQLite: [`apply`] runs a whole change set in one `BEGIN IMMEDIATE` transaction, and
//! [`purge`] drops an item's content.

use std::collections::HashMap;

use hearth_domain::audit::ItemVersionRef;
use hearth_domain::{
    Actor, AuditEntry, ChangeKind, ItemContent, ItemId, ItemMeta, ItemState, RecordId, Stamp, Timestamp,
    VersionPosition, WriteOp,
};
use hearth_store::codec::{Extras, compress_body};
use hearth_store::contract::{BatchResult, ChangeSet, WriteBatch};
use hearth_store::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::people::{insert_access, require_rk};
use crate::{SqliteStore, audit, db_err};

/// What the current row of an item says.
struct Current {
    ik: i64,
    version: u32,
    state: ItemState,
    resource_type: String,
    created_at: i64,
    created_by: i64,
}

fn current(conn: &Connection, rk: i64, id: ItemId) -> StoreResult<Option<Current>> {
    conn.prepare_cached(
        "SELECT ik, version, state, resource_type, created_at, created_by FROM items WHERE id = ?1 AND rk = ?2",
    )
    .and_then(|mut s| {
        s.query_row(params![&id.as_bytes()[..], rk], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
        })
        .optional()
    })
    .map_err(db_err)?
    .map(|(ik, version, state, resource_type, created_at, created_by)| {
        Ok(Current {
            ik,
            version,
            state: ItemState::from_code(state).ok_or_else(|| StoreError::Corrupt(format!("item state {state}")))?,
            resource_type,
            created_at,
            created_by,
        })
    })
    .transpose()
}

/// Interned keys computed before the transaction starts.
struct Keys {
    actors: HashMap<Actor, i64>,
    dts: HashMap<String, i64>,
}

fn intern_all(store: &SqliteStore, conn: &Connection, changes: &ChangeSet) -> StoreResult<Keys> {
    let mut keys = Keys {
        actors: HashMap::new(),
        dts: HashMap::new(),
    };
    for actor in changes.distinct_actors() {
        keys.actors.insert(actor.clone(), store.actor_key(conn, actor)?);
    }
    for dt in changes.distinct_data_types() {
        keys.dts.insert(dt.to_string(), store.dt_key(conn, dt)?);
    }
    Ok(keys)
}

pub(crate) fn apply(store: &SqliteStore, changes: &ChangeSet) -> StoreResult<Vec<BatchResult>> {
    let mut conn = store.writer()?;
    let keys = intern_all(store, &conn, changes)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    for nr in &changes.new_records {
        tx.prepare_cached(
            "INSERT INTO records (id, display_name, patient_item, created_at, last_seq) VALUES (?1, ?2, ?3, ?4, 0)",
        )
        .and_then(|mut s| {
            s.execute(params![
                &nr.record.id.as_bytes()[..],
                nr.record.display_name,
                &nr.record.patient_item.as_bytes()[..],
                nr.record.created_at.0
            ])
        })
        .map_err(db_err)?;
        let rk = tx.last_insert_rowid();
        insert_access(&tx, rk, &nr.access)?;
        audit::insert(&tx, &nr.audit, Some(rk), &nr.audit.items)?;
    }
    let mut results = Vec::with_capacity(changes.batches.len());
    for batch in &changes.batches {
        results.push(apply_batch(store, &tx, &keys, batch)?);
    }
    tx.commit().map_err(db_err)?;
    Ok(results)
}

fn apply_batch(
    store: &SqliteStore,
    tx: &Connection,
    keys: &Keys,
    b: &WriteBatch,
) -> StoreResult<BatchResult> {
    let rk = require_rk(tx, b.record)?;
    let mut seq: i64 = tx
        .query_row("SELECT last_seq FROM records WHERE rk = ?1", [rk], |r| r.get(0))
        .map_err(db_err)?;
    let actor = keys.actors[&b.actor];
    let stamp = Stamp::new(&b.actor, b.at);
    let writer = b.actor.writer_key();
    let mut versions = Vec::with_capacity(b.ops.len());
    for op in &b.ops {
        seq += 1;
        let meta = match op {
            WriteOp::Create { id, content } => {
                create(tx, keys, rk, actor, seq, *id, content, &writer, &stamp, b.record)?
            }
            WriteOp::Update {
                id,
                expected_version,
                content,
            } => {
                let cur = current(tx, rk, *id)?
                    .filter(|c| c.state != ItemState::Purged)
                    .ok_or(StoreError::ItemNotFound(*id))?;
                check_version(*id, *expected_version, &cur)?;
                update(
                    store, tx, keys, rk, actor, seq, *id, &cur, content, &writer, &stamp, b.record,
                )?
            }
            WriteOp::Delete { id, expected_version } | WriteOp::Restore { id, expected_version } => {
                let cur = current(tx, rk, *id)?
                    .filter(|c| c.state != ItemState::Purged)
                    .ok_or(StoreError::ItemNotFound(*id))?;
                check_version(*id, *expected_version, &cur)?;
                let (kind, state) = if matches!(op, WriteOp::Delete { .. }) {
                    (ChangeKind::Delete, ItemState::Deleted)
                } else {
                    (ChangeKind::Restore, ItemState::Active)
                };
                copy_version(store, tx, actor, seq, &cur, kind, state, &stamp, b.record)?
            }
        };
        versions.push(meta);
    }
    for id in &b.must_exist {
        let ok = current(tx, rk, *id)?.is_some_and(|c| c.state != ItemState::Purged);
        if !ok {
            return Err(StoreError::MissingReference(*id));
        }
    }
    tx.execute("UPDATE records SET last_seq = ?1 WHERE rk = ?2", params![seq, rk])
        .map_err(db_err)?;
    let refs: Vec<ItemVersionRef> = versions
        .iter()
        .map(|m| ItemVersionRef {
            id: m.id,
            version: m.version,
        })
        .collect();
    audit::insert(tx, &b.audit, Some(rk), &refs)?;
    Ok(BatchResult {
        record: b.record,
        versions,
    })
}

fn check_version(id: ItemId, expected: u32, cur: &Current) -> StoreResult<()> {
    if cur.version != expected {
        return Err(StoreError::VersionConflict {
            id,
            expected,
            actual: cur.version,
        });
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn insert_version(
    tx: &Connection,
    ik: i64,
    version: u32,
    rk: i64,
    seq: i64,
    kind: ChangeKind,
    state: ItemState,
    at: Timestamp,
    actor: i64,
    dt: i64,
    content: &ItemContent,
) -> StoreResult<()> {
    let body = compress_body(&content.body)?;
    tx.prepare_cached(
        "INSERT INTO versions (ik, version, rk, seq, kind, state, at, actor, dt, effective, flags, extras, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )
    .and_then(|mut s| {
        s.execute(params![
            ik,
            version,
            rk,
            seq,
            kind.code(),
            state.code(),
            at.0,
            actor,
            dt,
            content.effective.0,
            content.flags.bits(),
            Extras::of(content).encode(),
            body
        ])
    })
    .map_err(db_err)?;
    Ok(())
}

fn set_codes(tx: &Connection, rk: i64, ik: i64, codes: &[String], replace: bool) -> StoreResult<()> {
    if replace {
        tx.prepare_cached("DELETE FROM item_codes WHERE rk = ?1 AND ik = ?2 AND code IS NOT NULL")
            .and_then(|mut s| s.execute(params![rk, ik]))
            .map_err(db_err)?;
    }
    let mut st = tx
        .prepare_cached("INSERT OR IGNORE INTO item_codes (rk, code, ik) VALUES (?1, ?2, ?3)")
        .map_err(db_err)?;
    for c in codes {
        st.execute(params![rk, c, ik]).map_err(db_err)?;
    }
    Ok(())
}

fn set_client_id(tx: &Connection, rk: i64, writer: &str, ik: i64, content: &ItemContent) -> StoreResult<()> {
    let Some(cid) = &content.client_id else {
        return Ok(());
    };
    let hash = &content.content_hash()[..16];
    let owner: Option<i64> = tx
        .prepare_cached("SELECT ik FROM client_ids WHERE rk = ?1 AND writer = ?2 AND client_id = ?3")
        .and_then(|mut s| s.query_row(params![rk, writer, cid], |r| r.get(0)).optional())
        .map_err(db_err)?;
    match owner {
        Some(other) if other != ik => Err(StoreError::DuplicateClientId(cid.clone())),
        Some(_) => tx
            .prepare_cached("UPDATE client_ids SET content_hash = ?4 WHERE rk = ?1 AND writer = ?2 AND client_id = ?3")
            .and_then(|mut s| s.execute(params![rk, writer, cid, hash]))
            .map(|_| ())
            .map_err(db_err),
        None => tx
            .prepare_cached(
                "INSERT INTO client_ids (rk, writer, client_id, ik, content_hash, patient) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| s.execute(params![rk, writer, cid, ik, hash, content.resource_type == "Patient"]))
            .map(|_| ())
            .map_err(db_err),
    }
}

#[allow(clippy::too_many_arguments)]
fn meta_of(
    id: ItemId,
    record: RecordId,
    version: u32,
    state: ItemState,
    content: &ItemContent,
    writer: &str,
    created: Stamp,
    updated: &Stamp,
    seq: i64,
) -> ItemMeta {
    ItemMeta::of_content(
        VersionPosition {
            id,
            record_id: record,
            version,
            state,
            writer: writer.to_string(),
            created,
            updated: updated.clone(),
            seq,
        },
        content,
    )
}

#[allow(clippy::too_many_arguments)]
fn create(
    tx: &Connection,
    keys: &Keys,
    rk: i64,
    actor: i64,
    seq: i64,
    id: ItemId,
    content: &ItemContent,
    writer: &str,
    stamp: &Stamp,
    record: RecordId,
) -> StoreResult<ItemMeta> {
    let exists: bool = tx
        .prepare_cached("SELECT 1 FROM items WHERE id = ?1")
        .and_then(|mut s| s.exists([&id.as_bytes()[..]]))
        .map_err(db_err)?;
    if exists {
        return Err(StoreError::DuplicateItem(id));
    }
    let dt = keys.dts[&content.data_type];
    tx.prepare_cached(
        "INSERT INTO items (id, rk, resource_type, version, state, dt, effective, flags, created_at, created_by, updated_at, updated_by)
         VALUES (?1, ?2, ?3, 1, 0, ?4, ?5, ?6, ?7, ?8, ?7, ?8)",
    )
    .and_then(|mut s| {
        s.execute(params![
            &id.as_bytes()[..],
            rk,
            content.resource_type,
            dt,
            content.effective.0,
            content.flags.bits(),
            stamp.at.0,
            actor
        ])
    })
    .map_err(db_err)?;
    let ik = tx.last_insert_rowid();
    insert_version(
        tx,
        ik,
        1,
        rk,
        seq,
        ChangeKind::Create,
        ItemState::Active,
        stamp.at,
        actor,
        dt,
        content,
    )?;
    set_codes(tx, rk, ik, &content.codes, false)?;
    set_client_id(tx, rk, writer, ik, content)?;
    Ok(meta_of(
        id,
        record,
        1,
        ItemState::Active,
        content,
        writer,
        stamp.clone(),
        stamp,
        seq,
    ))
}

#[allow(clippy::too_many_arguments)]
fn update(
    store: &SqliteStore,
    tx: &Connection,
    keys: &Keys,
    rk: i64,
    actor: i64,
    seq: i64,
    id: ItemId,
    cur: &Current,
    content: &ItemContent,
    writer: &str,
    stamp: &Stamp,
    record: RecordId,
) -> StoreResult<ItemMeta> {
    if content.resource_type != cur.resource_type {
        return Err(StoreError::Backend(format!(
            "item {id} holds a {}, not a {}",
            cur.resource_type, content.resource_type
        )));
    }
    let dt = keys.dts[&content.data_type];
    let version = cur.version + 1;
    tx.prepare_cached(
        "UPDATE items SET version = ?1, state = 0, dt = ?2, effective = ?3, flags = ?4, updated_at = ?5, updated_by = ?6
         WHERE ik = ?7",
    )
    .and_then(|mut s| s.execute(params![version, dt, content.effective.0, content.flags.bits(), stamp.at.0, actor, cur.ik]))
    .map_err(db_err)?;
    insert_version(
        tx,
        cur.ik,
        version,
        rk,
        seq,
        ChangeKind::Update,
        ItemState::Active,
        stamp.at,
        actor,
        dt,
        content,
    )?;
    set_codes(tx, rk, cur.ik, &content.codes, true)?;
    set_client_id(tx, rk, writer, cur.ik, content)?;
    let creator = store.actor_of(tx, cur.created_by)?;
    let created = Stamp::new(&creator, Timestamp(cur.created_at));
    Ok(meta_of(
        id,
        record,
        version,
        ItemState::Active,
        content,
        &creator.writer_key(),
        created,
        stamp,
        seq,
    ))
}

/// A new version with the current content and a new state (delete, restore).
#[allow(clippy::too_many_arguments)]
fn copy_version(
    store: &SqliteStore,
    tx: &Connection,
    actor: i64,
    seq: i64,
    cur: &Current,
    kind: ChangeKind,
    state: ItemState,
    stamp: &Stamp,
    record: RecordId,
) -> StoreResult<ItemMeta> {
    let version = cur.version + 1;
    tx.prepare_cached(
        "INSERT INTO versions (ik, version, rk, seq, kind, state, at, actor, dt, effective, flags, extras, body)
         SELECT ik, ?3, rk, ?4, ?5, ?6, ?7, ?8, dt, effective, flags, extras, body FROM versions
         WHERE ik = ?1 AND version = ?2",
    )
    .and_then(|mut s| s.execute(params![cur.ik, cur.version, version, seq, kind.code(), state.code(), stamp.at.0, actor]))
    .map_err(db_err)?;
    tx.prepare_cached(
        "UPDATE items SET version = ?1, state = ?2, updated_at = ?3, updated_by = ?4 WHERE ik = ?5",
    )
    .and_then(|mut s| s.execute(params![version, state.code(), stamp.at.0, actor, cur.ik]))
    .map_err(db_err)?;
    let mut meta = crate::read::meta_by_ik(store, tx, record, cur.ik)?;
    meta.version = version;
    meta.state = state;
    meta.updated = stamp.clone();
    meta.seq = seq;
    Ok(meta)
}

pub(crate) fn purge(
    store: &SqliteStore,
    record: RecordId,
    id: ItemId,
    actor: &Actor,
    at: Timestamp,
    entry: &AuditEntry,
) -> StoreResult<ItemMeta> {
    let mut conn = store.writer()?;
    let actor_k = store.actor_key(&conn, actor)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let rk = require_rk(&tx, record)?;
    let cur = current(&tx, rk, id)?
        .filter(|c| c.state != ItemState::Purged)
        .ok_or(StoreError::ItemNotFound(id))?;
    let seq: i64 = tx
        .query_row(
            "UPDATE records SET last_seq = last_seq + 1 WHERE rk = ?1 RETURNING last_seq",
            [rk],
            |r| r.get(0),
        )
        .map_err(db_err)?;
    let stamp = Stamp::new(actor, at);
    let version = cur.version + 1;
    tx.execute(
        "INSERT INTO versions (ik, version, rk, seq, kind, state, at, actor, dt, effective, flags, extras, body)
         SELECT ik, ?3, rk, ?4, ?5, ?6, ?7, ?8, dt, effective, flags, NULL, NULL FROM versions WHERE ik = ?1 AND version = ?2",
        params![cur.ik, cur.version, version, seq, ChangeKind::Purge.code(), ItemState::Purged.code(), at.0, actor_k],
    )
    .map_err(db_err)?;
    tx.execute(
        "UPDATE versions SET body = NULL, extras = NULL WHERE ik = ?1",
        [cur.ik],
    )
    .map_err(db_err)?;
    tx.execute(
        "DELETE FROM item_codes WHERE rk = ?1 AND ik = ?2",
        params![rk, cur.ik],
    )
    .map_err(db_err)?;
    tx.execute(
        "DELETE FROM client_ids WHERE rk = ?1 AND ik = ?2",
        params![rk, cur.ik],
    )
    .map_err(db_err)?;
    tx.execute(
        "UPDATE items SET version = ?1, state = ?2, updated_at = ?3, updated_by = ?4 WHERE ik = ?5",
        params![version, ItemState::Purged.code(), at.0, actor_k, cur.ik],
    )
    .map_err(db_err)?;
    let mut meta = crate::read::meta_by_ik(store, &tx, record, cur.ik)?;
    meta.updated = stamp;
    audit::insert(&tx, entry, Some(rk), &[ItemVersionRef { id, version }])?;
    tx.commit().map_err(db_err)?;
    Ok(meta)
}
