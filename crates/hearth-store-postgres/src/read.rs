//! Reads in PostgreSQL: by id, by version, history, queries and export. Reads that return
//! health data run in one repeatable-read transaction with their audit row.

use std::collections::HashMap;

use hearth_domain::audit::ItemVersionRef;
use hearth_domain::{
    AuditEntry, Cursor, Item, ItemFlags, ItemId, ItemMeta, ItemQuery, ItemState, Order, Page, RecordId,
    Stamp, StateFilter, Timestamp,
};
use hearth_store::codec::{Extras, decompress_body, split_code};
use hearth_store::contract::{ClientIdMatch, ExportSink};
use hearth_store::{StoreError, StoreResult};
use postgres::Row;
use postgres::types::ToSql;
use uuid::Uuid;

use crate::db::{Db, col};
use crate::people::{require_rk, rk_of};
use crate::{PostgresStore, audit};

pub(crate) const COLS: &str = "i.ik, i.id, i.resource_type, i.created_at, i.created_by, v.version, v.seq, v.state, \
                               v.at, v.actor, v.dt, v.effective, v.flags, v.extras";

/// Column 14 is the body when a query selects it.
const BODY: usize = 14;

fn ik_of(r: &Row) -> StoreResult<i64> {
    col(r, 0)
}

/// Makes sure the actors and data types these rows name are in the in-memory cache.
fn ensure_names(store: &PostgresStore, db: &mut Db<'_>, rows: &[Row]) -> StoreResult<()> {
    let mut actors = Vec::with_capacity(rows.len() * 2);
    let mut dts = Vec::with_capacity(rows.len());
    for r in rows {
        actors.push(col::<i64>(r, 4)?);
        actors.push(col::<i64>(r, 9)?);
        dts.push(col::<i64>(r, 10)?);
    }
    store.ensure_known(db, actors, dts)
}

/// Converts a row (names already cached, see [`ensure_names`]).
pub(crate) fn to_item(
    store: &PostgresStore,
    record: RecordId,
    r: &Row,
    with_body: bool,
) -> StoreResult<Item> {
    let extras_text: Option<String> = col(r, 13)?;
    let extras = Extras::decode(extras_text.as_deref())?;
    let creator = store.actor_cached(col(r, 4)?)?;
    let updater = store.actor_cached(col(r, 9)?)?;
    let state: i16 = col(r, 7)?;
    let version: i32 = col(r, 5)?;
    let flags: i16 = col(r, 12)?;
    let meta = ItemMeta {
        id: ItemId(col(r, 1)?),
        record_id: record,
        version: version as u32,
        state: ItemState::from_code(state.into())
            .ok_or_else(|| StoreError::Corrupt(format!("state {state}")))?,
        resource_type: col(r, 2)?,
        data_type: store.dt_cached(col(r, 10)?)?,
        effective: Timestamp(col(r, 11)?),
        end_date: extras.end,
        flags: ItemFlags::from_bits(flags.into()),
        source: extras.source,
        note: extras.note,
        tags: extras.tags,
        links: extras.links,
        blobs: extras.blobs,
        codes: extras.codes,
        client_id: extras.client_id,
        writer: creator.writer_key(),
        created: Stamp::new(&creator, Timestamp(col(r, 3)?)),
        updated: Stamp::new(&updater, Timestamp(col(r, 8)?)),
        seq: col(r, 6)?,
    };
    let body = if with_body {
        col::<Option<&[u8]>>(r, BODY)?.map(decompress_body).transpose()?
    } else {
        None
    };
    Ok(Item { meta, body })
}

pub(crate) fn to_items(
    store: &PostgresStore,
    db: &mut Db<'_>,
    record: RecordId,
    rows: &[Row],
    with_body: bool,
) -> StoreResult<Vec<Item>> {
    ensure_names(store, db, rows)?;
    rows.iter()
        .map(|r| to_item(store, record, r, with_body))
        .collect()
}

pub(crate) fn meta_by_ik(
    store: &PostgresStore,
    db: &mut Db<'_>,
    record: RecordId,
    ik: i64,
) -> StoreResult<ItemMeta> {
    let sql = format!(
        "SELECT {COLS} FROM items i JOIN versions v ON v.ik = i.ik AND v.version = i.version WHERE i.ik = $1"
    );
    let row = db.one(&sql, &[&ik])?;
    Ok(to_items(store, db, record, &[row], false)?.remove(0).meta)
}

/// Current versions of the items with these ids, in the order asked (unknown ids left out).
pub(crate) fn current_items(
    store: &PostgresStore,
    db: &mut Db<'_>,
    record: RecordId,
    rk: i64,
    ids: &[ItemId],
    with_body: bool,
) -> StoreResult<Vec<Item>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let body = if with_body { ", v.body" } else { "" };
    let sql = format!(
        "SELECT {COLS}{body} FROM items i JOIN versions v ON v.ik = i.ik AND v.version = i.version
         WHERE i.id = ANY($1) AND i.rk = $2"
    );
    let uuids: Vec<Uuid> = ids.iter().map(|i| i.0).collect();
    let rows = db.query(&sql, &[&uuids, &rk])?;
    let items = to_items(store, db, record, &rows, with_body)?;
    let by_id: HashMap<ItemId, &Item> = items.iter().map(|i| (i.meta.id, i)).collect();
    Ok(ids
        .iter()
        .filter_map(|id| by_id.get(id).map(|i| (*i).clone()))
        .collect())
}

pub(crate) fn current_meta(
    store: &PostgresStore,
    db: &mut Db<'_>,
    record: RecordId,
    ids: &[ItemId],
) -> StoreResult<Vec<ItemMeta>> {
    let rk = require_rk(db, record)?;
    Ok(current_items(store, db, record, rk, ids, false)?
        .into_iter()
        .map(|i| i.meta)
        .collect())
}

pub(crate) fn find_by_client_ids(
    store: &PostgresStore,
    db: &mut Db<'_>,
    record: RecordId,
    writer: &str,
    client_ids: &[String],
) -> StoreResult<Vec<ClientIdMatch>> {
    let rk = require_rk(db, record)?;
    if client_ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT {COLS}, c.client_id, c.content_hash FROM client_ids c
         JOIN items i ON i.ik = c.ik JOIN versions v ON v.ik = i.ik AND v.version = i.version
         WHERE c.rk = $1 AND c.writer = $2 AND c.client_id = ANY($3)"
    );
    let rows = db.query(&sql, &[&rk, &writer, &client_ids])?;
    ensure_names(store, db, &rows)?;
    let mut by_cid = HashMap::with_capacity(rows.len());
    for r in &rows {
        let cid: String = col(r, 14)?;
        let hash: &[u8] = col(r, 15)?;
        let content_hash: [u8; 16] = hash
            .try_into()
            .map_err(|_| StoreError::Corrupt("content hash".into()))?;
        by_cid.insert(cid, (to_item(store, record, r, false)?.meta, content_hash));
    }
    Ok(client_ids
        .iter()
        .filter_map(|cid| {
            by_cid.get(cid).map(|(meta, hash)| ClientIdMatch {
                client_id: cid.clone(),
                meta: meta.clone(),
                content_hash: *hash,
            })
        })
        .collect())
}

/// Runs a read in one repeatable-read transaction with its audit row.
fn audited<T>(
    store: &PostgresStore,
    record: RecordId,
    entry: &AuditEntry,
    f: impl FnOnce(&mut Db<'_>, i64) -> StoreResult<(T, Returned)>,
) -> StoreResult<T> {
    let mut conn = store.conn()?;
    let mut db = Db::snapshot(&mut conn)?;
    let rk = rk_of(&mut db, record)?.ok_or(StoreError::RecordNotFound(record))?;
    let (value, (refs, data_types)) = f(&mut db, rk)?;
    if entry.data_types.is_empty() && !data_types.is_empty() {
        let filled = AuditEntry {
            data_types,
            ..entry.clone()
        };
        audit::insert(&mut db, &filled, Some(rk), &refs)?;
    } else {
        audit::insert(&mut db, entry, Some(rk), &refs)?;
    }
    db.commit()?;
    Ok(value)
}

/// What a read returned, for its audit entry: item versions and their data types.
type Returned = (Vec<ItemVersionRef>, Vec<String>);

fn refs_of(items: &[Item]) -> Returned {
    let refs = items
        .iter()
        .map(|i| ItemVersionRef {
            id: i.meta.id,
            version: i.meta.version,
        })
        .collect();
    let mut dts: Vec<String> = items.iter().map(|i| i.meta.data_type.clone()).collect();
    dts.sort();
    dts.dedup();
    (refs, dts)
}

pub(crate) fn read(
    store: &PostgresStore,
    record: RecordId,
    ids: &[ItemId],
    entry: &AuditEntry,
) -> StoreResult<Vec<Item>> {
    audited(store, record, entry, |db, rk| {
        let items = current_items(store, db, record, rk, ids, true)?;
        let returned = refs_of(&items);
        Ok((items, returned))
    })
}

fn versions_of(
    store: &PostgresStore,
    db: &mut Db<'_>,
    record: RecordId,
    rk: i64,
    id: ItemId,
    version: Option<u32>,
) -> StoreResult<Vec<Item>> {
    let base = format!(
        "SELECT {COLS}, v.body FROM items i JOIN versions v ON v.ik = i.ik WHERE i.id = $1 AND i.rk = $2"
    );
    let rows = match version {
        Some(v) => {
            let v = i32::try_from(v).unwrap_or(i32::MAX);
            db.query(&format!("{base} AND v.version = $3"), &[&id.0, &rk, &v])?
        }
        None => db.query(&format!("{base} ORDER BY v.version DESC"), &[&id.0, &rk])?,
    };
    to_items(store, db, record, &rows, true)
}

pub(crate) fn read_version(
    store: &PostgresStore,
    record: RecordId,
    id: ItemId,
    version: u32,
    entry: &AuditEntry,
) -> StoreResult<Option<Item>> {
    audited(store, record, entry, |db, rk| {
        let item = versions_of(store, db, record, rk, id, Some(version))?
            .into_iter()
            .next();
        let returned = refs_of(item.as_slice());
        Ok((item, returned))
    })
}

pub(crate) fn history(
    store: &PostgresStore,
    record: RecordId,
    id: ItemId,
    entry: &AuditEntry,
) -> StoreResult<Vec<Item>> {
    audited(store, record, entry, |db, rk| {
        let items = versions_of(store, db, record, rk, id, None)?;
        let returned = refs_of(&items);
        Ok((items, returned))
    })
}

pub(crate) fn query(
    store: &PostgresStore,
    record: RecordId,
    q: &ItemQuery,
    entry: &AuditEntry,
) -> StoreResult<Page> {
    audited(store, record, entry, |db, rk| {
        let page = run_query(store, db, record, rk, q)?;
        let returned = refs_of(&page.items);
        Ok((page, returned))
    })
}

/// Escapes `%`, `_` and `\` for a LIKE pattern.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

pub(crate) fn run_query(
    store: &PostgresStore,
    db: &mut Db<'_>,
    record: RecordId,
    rk: i64,
    q: &ItemQuery,
) -> StoreResult<Page> {
    let empty = Page {
        items: vec![],
        next: None,
        positions: vec![],
    };
    let limit = q.effective_limit();
    let (col_name, desc) = match q.order {
        Order::EffectiveDesc => ("i.effective", true),
        Order::EffectiveAsc => ("i.effective", false),
        Order::UpdatedDesc => ("i.updated_at", true),
        Order::UpdatedAsc => ("i.updated_at", false),
    };
    // Another server process may have interned a data type or actor this one has not seen.
    let by_actor = q.created_by_account.is_some()
        || q.created_by_app.is_some()
        || q.updated_by_account.is_some()
        || q.updated_by_app.is_some();
    if by_actor || store.dt_keys_known(&q.data_types).len() < q.data_types.len() {
        store.refresh_interns(db)?;
    }
    let mut sql = format!(
        "SELECT {COLS}, v.body FROM items i JOIN versions v ON v.ik = i.ik AND v.version = i.version WHERE i.rk = $1"
    );
    let mut args: Vec<Box<dyn ToSql + Sync>> = vec![Box::new(rk)];
    let arg = |v: Box<dyn ToSql + Sync>, args: &mut Vec<Box<dyn ToSql + Sync>>| {
        args.push(v);
        format!("${}", args.len())
    };
    if !q.data_types.is_empty() {
        let dts = store.dt_keys_known(&q.data_types);
        if dts.is_empty() {
            return Ok(empty);
        }
        let p = arg(Box::new(dts), &mut args);
        sql.push_str(&format!(" AND i.dt = ANY({p})"));
    }
    if let Some(from) = q.effective_from {
        let p = arg(Box::new(from.0), &mut args);
        sql.push_str(&format!(" AND i.effective >= {p}"));
    }
    if let Some(to) = q.effective_to {
        let p = arg(Box::new(to.0), &mut args);
        sql.push_str(&format!(" AND i.effective < {p}"));
    }
    if let Some(since) = q.updated_since {
        let p = arg(Box::new(since.0), &mut args);
        sql.push_str(&format!(" AND i.updated_at >= {p}"));
    }
    match q.state {
        StateFilter::Active => sql.push_str(" AND i.state = 0"),
        StateFilter::Deleted => sql.push_str(" AND i.state = 1"),
        StateFilter::Any => sql.push_str(" AND i.state < 2"),
    }
    if !q.include_personal {
        sql.push_str(" AND (i.flags & 1) = 0");
    }
    for (actor_col, account, app) in [
        ("i.created_by", q.created_by_account, q.created_by_app.as_ref()),
        ("i.updated_by", q.updated_by_account, q.updated_by_app.as_ref()),
    ] {
        if account.is_some() || app.is_some() {
            let keys = store.actor_keys_matching(account, app);
            if keys.is_empty() {
                return Ok(empty);
            }
            let p = arg(Box::new(keys), &mut args);
            sql.push_str(&format!(" AND {actor_col} = ANY({p})"));
        }
    }
    if let Some(code) = &q.code {
        match split_code(code) {
            (Some(system), code) => {
                let p = arg(Box::new(format!("{system}|{code}")), &mut args);
                sql.push_str(&format!(
                    " AND i.ik IN (SELECT ik FROM item_codes WHERE rk = $1 AND code = {p})"
                ));
            }
            (None, code) => {
                let p = arg(Box::new(like_escape(code)), &mut args);
                sql.push_str(&format!(
                    " AND i.ik IN (SELECT ik FROM item_codes WHERE rk = $1 AND code LIKE '%|' || {p})"
                ));
            }
        }
    }
    if let Some(Cursor { key, tie }) = q.after {
        let k = arg(Box::new(key), &mut args);
        let t = arg(Box::new(tie), &mut args);
        let cmp = if desc { "<" } else { ">" };
        sql.push_str(&format!(" AND ({col_name}, i.ik) {cmp} ({k}, {t})"));
    }
    let dir = if desc { "DESC" } else { "ASC" };
    sql.push_str(&format!(
        " ORDER BY {col_name} {dir}, i.ik {dir} LIMIT {}",
        limit + 1
    ));

    let params: Vec<&(dyn ToSql + Sync)> = args.iter().map(|b| b.as_ref()).collect();
    let mut rows = db.query(&sql, &params)?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let mut positions = Vec::with_capacity(rows.len());
    for r in &rows {
        let key = match q.order {
            Order::EffectiveDesc | Order::EffectiveAsc => col(r, 11)?,
            Order::UpdatedDesc | Order::UpdatedAsc => col(r, 8)?,
        };
        positions.push(Cursor { key, tie: ik_of(r)? });
    }
    let next = if more { positions.last().copied() } else { None };
    let items = to_items(store, db, record, &rows, true)?;
    Ok(Page {
        items,
        next,
        positions,
    })
}

pub(crate) fn export(store: &PostgresStore, record: RecordId, sink: &mut dyn ExportSink) -> StoreResult<()> {
    let mut conn = store.conn()?;
    let mut db = Db::snapshot(&mut conn)?;
    let rk = require_rk(&mut db, record)?;
    // Every key the snapshot's rows name was committed before them: load them all up front,
    // since the rows are streamed and the connection cannot stop to look one up.
    store.refresh_interns(&mut db)?;
    let sql = format!(
        "SELECT {COLS}, v.body FROM versions v JOIN items i ON i.ik = v.ik WHERE v.rk = $1 ORDER BY v.seq"
    );
    db.each(&sql, &[&rk], &mut |r| {
        sink.version(&to_item(store, record, r, true)?)
    })?;
    audit::each_oldest_first(&mut db, record, rk, &mut |e| sink.audit(e))?;
    db.commit()
}
