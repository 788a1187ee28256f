//! Writes in PostgreSQL: [`apply`] runs a whole change set in one transaction that first locks
//! the rows of the records it writes (in key order, so concurrent change sets cannot deadlock),
//! and [`purge`] drops an item's content.

use std::collections::HashMap;

use hearth_domain::audit::ItemVersionRef;
use hearth_domain::{
    Actor, AuditEntry, ChangeKind, ItemContent, ItemId, ItemMeta, ItemState, RecordId, Stamp, Timestamp,
    VersionPosition, WriteOp,
};
use hearth_store::codec::{Extras, compress_body};
use hearth_store::contract::{BatchResult, ChangeSet, WriteBatch};
use hearth_store::{StoreError, StoreResult};
use uuid::Uuid;

use crate::db::{Db, col, db_err, is_unique_violation};
use crate::people::{insert_access, lock_record};
use crate::{PostgresStore, audit, bulk};

/// What the current row of an item says.
struct Current {
    ik: i64,
    version: u32,
    state: ItemState,
    resource_type: String,
    created_at: i64,
    created_by: i64,
}

fn current(db: &mut Db<'_>, rk: i64, id: ItemId) -> StoreResult<Option<Current>> {
    let Some(r) = db.opt(
        "SELECT ik, version, state, resource_type, created_at, created_by FROM items WHERE id = $1 AND rk = $2",
        &[&id.0, &rk],
    )?
    else {
        return Ok(None);
    };
    let state: i16 = col(&r, 2)?;
    let version: i32 = col(&r, 1)?;
    Ok(Some(Current {
        ik: col(&r, 0)?,
        version: version as u32,
        state: ItemState::from_code(state.into())
            .ok_or_else(|| StoreError::Corrupt(format!("item state {state}")))?,
        resource_type: col(&r, 3)?,
        created_at: col(&r, 4)?,
        created_by: col(&r, 5)?,
    }))
}

/// The current row of an item that exists in the record and is not purged.
fn live(db: &mut Db<'_>, rk: i64, id: ItemId) -> StoreResult<Current> {
    current(db, rk, id)?
        .filter(|c| c.state != ItemState::Purged)
        .ok_or(StoreError::ItemNotFound(id))
}

pub(crate) fn flags_of(c: &ItemContent) -> i16 {
    c.flags.bits() as i16
}

fn version_param(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// Interned keys computed before the transaction starts.
pub(crate) struct Keys {
    actors: HashMap<Actor, i64>,
    pub dts: HashMap<String, i64>,
}

fn intern_all(store: &PostgresStore, db: &mut Db<'_>, changes: &ChangeSet) -> StoreResult<Keys> {
    let mut keys = Keys {
        actors: HashMap::new(),
        dts: HashMap::new(),
    };
    for actor in changes.distinct_actors() {
        keys.actors.insert(actor.clone(), store.actor_key(db, actor)?);
    }
    for dt in changes.distinct_data_types() {
        keys.dts.insert(dt.to_string(), store.dt_key(db, dt)?);
    }
    Ok(keys)
}

pub(crate) fn apply(store: &PostgresStore, changes: &ChangeSet) -> StoreResult<Vec<BatchResult>> {
    let mut conn = store.conn()?;
    let keys = intern_all(store, &mut Db::auto(&mut conn), changes)?;
    let mut db = Db::begin(&mut conn)?;
    for nr in &changes.new_records {
        let row = db.one(
            "INSERT INTO records (id, display_name, patient_item, created_at, last_seq) VALUES ($1, $2, $3, $4, 0)
             RETURNING rk",
            &[&nr.record.id.0, &nr.record.display_name, &nr.record.patient_item.0, &nr.record.created_at.0],
        )?;
        let rk: i64 = col(&row, 0)?;
        insert_access(&mut db, rk, &nr.access)?;
        audit::insert(&mut db, &nr.audit, Some(rk), &nr.audit.items)?;
    }
    // Lock every record written, in key order; an unknown record fails when its batch comes.
    let mut ids: Vec<Uuid> = changes.batches.iter().map(|b| b.record.0).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut rks = HashMap::with_capacity(ids.len());
    if !ids.is_empty() {
        for r in db.query(
            "SELECT id, rk FROM records WHERE id = ANY($1) ORDER BY rk FOR UPDATE",
            &[&ids],
        )? {
            rks.insert(RecordId(col(&r, 0)?), col::<i64>(&r, 1)?);
        }
    }
    let mut results = Vec::with_capacity(changes.batches.len());
    for batch in &changes.batches {
        let rk = *rks
            .get(&batch.record)
            .ok_or(StoreError::RecordNotFound(batch.record))?;
        results.push(apply_batch(store, &mut db, &keys, rk, batch)?);
    }
    db.commit()?;
    Ok(results)
}

fn apply_batch(
    store: &PostgresStore,
    db: &mut Db<'_>,
    keys: &Keys,
    rk: i64,
    b: &WriteBatch,
) -> StoreResult<BatchResult> {
    let mut seq: i64 = col(&db.one("SELECT last_seq FROM records WHERE rk = $1", &[&rk])?, 0)?;
    let actor = keys.actors[&b.actor];
    let w = Writing {
        rk,
        actor,
        stamp: Stamp::new(&b.actor, b.at),
        writer: b.actor.writer_key(),
        record: b.record,
    };
    let mut versions = Vec::with_capacity(b.ops.len());
    if let Some(creates) = bulk::bulk_creates(&b.ops) {
        versions = bulk::create_many(db, keys, &w, seq, &creates)?;
        seq += versions.len() as i64;
    }
    for op in b.ops.iter().skip(versions.len()) {
        seq += 1;
        let meta = match op {
            WriteOp::Create { id, content } => create(db, keys, &w, seq, *id, content)?,
            WriteOp::Update {
                id,
                expected_version,
                content,
            } => {
                let cur = live(db, rk, *id)?;
                check_version(*id, *expected_version, &cur)?;
                update(store, db, keys, &w, seq, *id, &cur, content)?
            }
            WriteOp::Delete { id, expected_version } | WriteOp::Restore { id, expected_version } => {
                let cur = live(db, rk, *id)?;
                check_version(*id, *expected_version, &cur)?;
                let (kind, state) = if matches!(op, WriteOp::Delete { .. }) {
                    (ChangeKind::Delete, ItemState::Deleted)
                } else {
                    (ChangeKind::Restore, ItemState::Active)
                };
                copy_version(store, db, &w, seq, &cur, kind, state)?
            }
        };
        versions.push(meta);
    }
    if !b.must_exist.is_empty() {
        let wanted: Vec<Uuid> = b.must_exist.iter().map(|i| i.0).collect();
        let mut found = std::collections::HashSet::new();
        for r in db.query(
            "SELECT id FROM items WHERE rk = $1 AND id = ANY($2) AND state <> 2",
            &[&rk, &wanted],
        )? {
            found.insert(ItemId(col(&r, 0)?));
        }
        if let Some(missing) = b.must_exist.iter().find(|id| !found.contains(id)) {
            return Err(StoreError::MissingReference(*missing));
        }
    }
    db.exec("UPDATE records SET last_seq = $1 WHERE rk = $2", &[&seq, &rk])?;
    let refs: Vec<ItemVersionRef> = versions
        .iter()
        .map(|m| ItemVersionRef {
            id: m.id,
            version: m.version,
        })
        .collect();
    audit::insert(db, &b.audit, Some(rk), &refs)?;
    Ok(BatchResult {
        record: b.record,
        versions,
    })
}

/// What every op of one batch shares.
pub(crate) struct Writing {
    pub rk: i64,
    pub actor: i64,
    pub stamp: Stamp,
    pub writer: String,
    pub record: RecordId,
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

fn set_codes(db: &mut Db<'_>, rk: i64, ik: i64, codes: &[String], replace: bool) -> StoreResult<()> {
    if replace {
        db.exec("DELETE FROM item_codes WHERE rk = $1 AND ik = $2", &[&rk, &ik])?;
    }
    if !codes.is_empty() {
        db.exec(
            "INSERT INTO item_codes (rk, code, ik) SELECT $1, c, $3 FROM unnest($2::text[]) AS c ON CONFLICT DO NOTHING",
            &[&rk, &codes, &ik],
        )?;
    }
    Ok(())
}

/// Claims (or refreshes) the item's client id. One statement: the upsert only touches a row
/// that already belongs to this item, so no row back means another item holds the key.
fn set_client_id(db: &mut Db<'_>, rk: i64, writer: &str, ik: i64, content: &ItemContent) -> StoreResult<()> {
    let Some(cid) = &content.client_id else {
        return Ok(());
    };
    let hash = &content.content_hash()[..16];
    let rows = db
        .try_query(
            "INSERT INTO client_ids (rk, writer, client_id, ik, content_hash, patient) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (rk, writer, client_id) DO UPDATE SET content_hash = excluded.content_hash
             WHERE client_ids.ik = excluded.ik
             RETURNING ik",
            &[&rk, &writer, cid, &ik, &hash, &(content.resource_type == "Patient")],
        )
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::DuplicateClientId(cid.clone())
            } else {
                db_err(e)
            }
        })?;
    if rows.is_empty() {
        return Err(StoreError::DuplicateClientId(cid.clone()));
    }
    Ok(())
}

pub(crate) fn meta_of(
    w: &Writing,
    id: ItemId,
    version: u32,
    content: &ItemContent,
    writer: &str,
    created: Stamp,
    seq: i64,
) -> ItemMeta {
    ItemMeta::of_content(
        VersionPosition {
            id,
            record_id: w.record,
            version,
            state: ItemState::Active,
            writer: writer.to_string(),
            created,
            updated: w.stamp.clone(),
            seq,
        },
        content,
    )
}

/// The item row and its first version in one statement; an existing id (in any record) inserts
/// nothing and returns no row.
fn create(
    db: &mut Db<'_>,
    keys: &Keys,
    w: &Writing,
    seq: i64,
    id: ItemId,
    content: &ItemContent,
) -> StoreResult<ItemMeta> {
    let dt = keys.dts[&content.data_type];
    let body = compress_body(&content.body)?;
    let rows = db
        .try_query(
            "WITH i AS (
                 INSERT INTO items (id, rk, resource_type, version, state, dt, effective, flags,
                                    created_at, created_by, updated_at, updated_by)
                 VALUES ($1, $2, $3, 1, 0, $4, $5, $6, $7, $8, $7, $8)
                 ON CONFLICT (id) DO NOTHING
                 RETURNING ik)
             INSERT INTO versions (ik, version, rk, seq, kind, state, at, actor, dt, effective, flags, extras, body)
             SELECT ik, 1, $2, $9, $10, 0, $7, $8, $4, $5, $6, $11, $12 FROM i
             RETURNING ik",
            &[
                &id.0,
                &w.rk,
                &content.resource_type,
                &dt,
                &content.effective.0,
                &flags_of(content),
                &w.stamp.at.0,
                &w.actor,
                &seq,
                &(ChangeKind::Create.code() as i16),
                &Extras::of(content).encode(),
                &body,
            ],
        )
        .map_err(|e| if is_unique_violation(&e) { StoreError::DuplicateItem(id) } else { db_err(e) })?;
    let ik: i64 = match rows.first() {
        Some(r) => col(r, 0)?,
        None => return Err(StoreError::DuplicateItem(id)),
    };
    set_codes(db, w.rk, ik, &content.codes, false)?;
    set_client_id(db, w.rk, &w.writer, ik, content)?;
    Ok(meta_of(w, id, 1, content, &w.writer, w.stamp.clone(), seq))
}

#[allow(clippy::too_many_arguments)]
fn update(
    store: &PostgresStore,
    db: &mut Db<'_>,
    keys: &Keys,
    w: &Writing,
    seq: i64,
    id: ItemId,
    cur: &Current,
    content: &ItemContent,
) -> StoreResult<ItemMeta> {
    if content.resource_type != cur.resource_type {
        return Err(StoreError::Backend(format!(
            "item {id} holds a {}, not a {}",
            cur.resource_type, content.resource_type
        )));
    }
    let dt = keys.dts[&content.data_type];
    let version = cur.version + 1;
    let body = compress_body(&content.body)?;
    db.exec(
        "WITH u AS (
             UPDATE items SET version = $2, state = 0, dt = $3, effective = $4, flags = $5, updated_at = $6,
                              updated_by = $7
             WHERE ik = $1 RETURNING ik, rk)
         INSERT INTO versions (ik, version, rk, seq, kind, state, at, actor, dt, effective, flags, extras, body)
         SELECT ik, $2, rk, $8, $9, 0, $6, $7, $3, $4, $5, $10, $11 FROM u",
        &[
            &cur.ik,
            &version_param(version),
            &dt,
            &content.effective.0,
            &flags_of(content),
            &w.stamp.at.0,
            &w.actor,
            &seq,
            &(ChangeKind::Update.code() as i16),
            &Extras::of(content).encode(),
            &body,
        ],
    )?;
    set_codes(db, w.rk, cur.ik, &content.codes, true)?;
    set_client_id(db, w.rk, &w.writer, cur.ik, content)?;
    store.ensure_known(db, [cur.created_by], [])?;
    let creator = store.actor_cached(cur.created_by)?;
    let created = Stamp::new(&creator, Timestamp(cur.created_at));
    Ok(meta_of(
        w,
        id,
        version,
        content,
        &creator.writer_key(),
        created,
        seq,
    ))
}

/// A new version with the current content and a new state (delete, restore).
fn copy_version(
    store: &PostgresStore,
    db: &mut Db<'_>,
    w: &Writing,
    seq: i64,
    cur: &Current,
    kind: ChangeKind,
    state: ItemState,
) -> StoreResult<ItemMeta> {
    let version = cur.version + 1;
    db.exec(
        "INSERT INTO versions (ik, version, rk, seq, kind, state, at, actor, dt, effective, flags, extras, body)
         SELECT ik, $3, rk, $4, $5, $6, $7, $8, dt, effective, flags, extras, body FROM versions
         WHERE ik = $1 AND version = $2",
        &[
            &cur.ik,
            &version_param(cur.version),
            &version_param(version),
            &seq,
            &(kind.code() as i16),
            &(state.code() as i16),
            &w.stamp.at.0,
            &w.actor,
        ],
    )?;
    db.exec(
        "UPDATE items SET version = $1, state = $2, updated_at = $3, updated_by = $4 WHERE ik = $5",
        &[
            &version_param(version),
            &(state.code() as i16),
            &w.stamp.at.0,
            &w.actor,
            &cur.ik,
        ],
    )?;
    let mut meta = crate::read::meta_by_ik(store, db, w.record, cur.ik)?;
    meta.version = version;
    meta.state = state;
    meta.updated = w.stamp.clone();
    meta.seq = seq;
    Ok(meta)
}

pub(crate) fn purge(
    store: &PostgresStore,
    record: RecordId,
    id: ItemId,
    actor: &Actor,
    at: Timestamp,
    entry: &AuditEntry,
) -> StoreResult<ItemMeta> {
    let mut conn = store.conn()?;
    let actor_k = store.actor_key(&mut Db::auto(&mut conn), actor)?;
    let mut db = Db::begin(&mut conn)?;
    let rk = lock_record(&mut db, record)?;
    let cur = live(&mut db, rk, id)?;
    let seq: i64 = col(
        &db.one(
            "UPDATE records SET last_seq = last_seq + 1 WHERE rk = $1 RETURNING last_seq",
            &[&rk],
        )?,
        0,
    )?;
    let version = cur.version + 1;
    db.exec(
        "INSERT INTO versions (ik, version, rk, seq, kind, state, at, actor, dt, effective, flags, extras, body)
         SELECT ik, $3, rk, $4, $5, $6, $7, $8, dt, effective, flags, NULL, NULL FROM versions
         WHERE ik = $1 AND version = $2",
        &[
            &cur.ik,
            &version_param(cur.version),
            &version_param(version),
            &seq,
            &(ChangeKind::Purge.code() as i16),
            &(ItemState::Purged.code() as i16),
            &at.0,
            &actor_k,
        ],
    )?;
    db.exec(
        "UPDATE versions SET body = NULL, extras = NULL WHERE ik = $1",
        &[&cur.ik],
    )?;
    db.exec(
        "DELETE FROM item_codes WHERE rk = $1 AND ik = $2",
        &[&rk, &cur.ik],
    )?;
    db.exec(
        "DELETE FROM client_ids WHERE rk = $1 AND ik = $2",
        &[&rk, &cur.ik],
    )?;
    db.exec(
        "UPDATE items SET version = $1, state = $2, updated_at = $3, updated_by = $4 WHERE ik = $5",
        &[
            &version_param(version),
            &(ItemState::Purged.code() as i16),
            &at.0,
            &actor_k,
            &cur.ik,
        ],
    )?;
    let mut meta = crate::read::meta_by_ik(store, &mut db, record, cur.ik)?;
    meta.updated = Stamp::new(actor, at);
    audit::insert(&mut db, entry, Some(rk), &[ItemVersionRef { id, version }])?;
    db.commit()?;
    Ok(meta)
}
