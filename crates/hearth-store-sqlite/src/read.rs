//! Reads in SQLite: by id, by version, history, queries and export. Reads that return health
//! data run on the writer connection inside one transaction with their audit row.

use hearth_domain::audit::ItemVersionRef;
use hearth_domain::{
    AuditEntry, Cursor, Item, ItemFlags, ItemId, ItemMeta, ItemQuery, ItemState, Order, Page, RecordId,
    Stamp, StateFilter, Timestamp,
};
use hearth_store::codec::{Extras, decompress_body, split_code};
use hearth_store::contract::{ClientIdMatch, ExportSink};
use hearth_store::{StoreError, StoreResult};
use rusqlite::{Connection, Row, ToSql, TransactionBehavior, params};

use crate::people::{require_rk, rk_of};
use crate::{SqliteStore, audit, db_err, uuid_bytes};

pub(crate) const COLS: &str = "i.ik, i.id, i.resource_type, i.created_at, i.created_by, v.version, v.seq, v.state, v.at, \
                    v.actor, v.dt, v.effective, v.flags, v.extras";

pub(crate) struct RawRow {
    ik: i64,
    id: Vec<u8>,
    resource_type: String,
    created_at: i64,
    created_by: i64,
    version: u32,
    seq: i64,
    state: i64,
    at: i64,
    actor: i64,
    dt: i64,
    effective: i64,
    flags: i64,
    extras: Option<String>,
    body: Option<Vec<u8>>,
}

pub(crate) fn raw(r: &Row<'_>, with_body: bool) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        ik: r.get(0)?,
        id: r.get(1)?,
        resource_type: r.get(2)?,
        created_at: r.get(3)?,
        created_by: r.get(4)?,
        version: r.get(5)?,
        seq: r.get(6)?,
        state: r.get(7)?,
        at: r.get(8)?,
        actor: r.get(9)?,
        dt: r.get(10)?,
        effective: r.get(11)?,
        flags: r.get(12)?,
        extras: r.get(13)?,
        body: if with_body { r.get(14)? } else { None },
    })
}

pub(crate) fn to_item(
    store: &SqliteStore,
    conn: &Connection,
    record: RecordId,
    r: RawRow,
) -> StoreResult<Item> {
    let extras = Extras::decode(r.extras.as_deref())?;
    let creator = store.actor_of(conn, r.created_by)?;
    let updater = store.actor_of(conn, r.actor)?;
    let meta = ItemMeta {
        id: ItemId::from_bytes(uuid_bytes(&r.id)?),
        record_id: record,
        version: r.version,
        state: ItemState::from_code(r.state)
            .ok_or_else(|| StoreError::Corrupt(format!("state {}", r.state)))?,
        resource_type: r.resource_type,
        data_type: store.dt_name(conn, r.dt)?,
        effective: Timestamp(r.effective),
        end_date: extras.end,
        flags: ItemFlags::from_bits(r.flags),
        source: extras.source,
        note: extras.note,
        tags: extras.tags,
        links: extras.links,
        blobs: extras.blobs,
        codes: extras.codes,
        client_id: extras.client_id,
        writer: creator.writer_key(),
        created: Stamp::new(&creator, Timestamp(r.created_at)),
        updated: Stamp::new(&updater, Timestamp(r.at)),
        seq: r.seq,
    };
    let body = r.body.as_deref().map(decompress_body).transpose()?;
    Ok(Item { meta, body })
}

pub(crate) fn meta_by_ik(
    store: &SqliteStore,
    conn: &Connection,
    record: RecordId,
    ik: i64,
) -> StoreResult<ItemMeta> {
    let sql = format!(
        "SELECT {COLS} FROM items i JOIN versions v ON v.ik = i.ik AND v.version = i.version WHERE i.ik = ?1"
    );
    let r = conn
        .prepare_cached(&sql)
        .and_then(|mut s| s.query_row([ik], |r| raw(r, false)))
        .map_err(db_err)?;
    Ok(to_item(store, conn, record, r)?.meta)
}

pub(crate) fn current_items(
    store: &SqliteStore,
    conn: &Connection,
    record: RecordId,
    rk: i64,
    ids: &[ItemId],
    with_body: bool,
) -> StoreResult<Vec<Item>> {
    let body = if with_body { ", v.body" } else { "" };
    let sql = format!(
        "SELECT {COLS}{body} FROM items i JOIN versions v ON v.ik = i.ik AND v.version = i.version
         WHERE i.id = ?1 AND i.rk = ?2"
    );
    let mut st = conn.prepare_cached(&sql).map_err(db_err)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let mut rows = st.query(params![&id.as_bytes()[..], rk]).map_err(db_err)?;
        if let Some(r) = rows.next().map_err(db_err)? {
            let rr = raw(r, with_body).map_err(db_err)?;
            out.push(to_item(store, conn, record, rr)?);
        }
    }
    Ok(out)
}

pub(crate) fn current_meta(
    store: &SqliteStore,
    conn: &Connection,
    record: RecordId,
    ids: &[ItemId],
) -> StoreResult<Vec<ItemMeta>> {
    let rk = require_rk(conn, record)?;
    Ok(current_items(store, conn, record, rk, ids, false)?
        .into_iter()
        .map(|i| i.meta)
        .collect())
}

pub(crate) fn find_by_client_ids(
    store: &SqliteStore,
    conn: &Connection,
    record: RecordId,
    writer: &str,
    client_ids: &[String],
) -> StoreResult<Vec<ClientIdMatch>> {
    let rk = require_rk(conn, record)?;
    let mut st = conn
        .prepare_cached(
            "SELECT ik, content_hash FROM client_ids WHERE rk = ?1 AND writer = ?2 AND client_id = ?3",
        )
        .map_err(db_err)?;
    let mut out = Vec::new();
    for cid in client_ids {
        let mut rows = st.query(params![rk, writer, cid]).map_err(db_err)?;
        if let Some(r) = rows.next().map_err(db_err)? {
            let ik: i64 = r.get(0).map_err(db_err)?;
            let hash: Vec<u8> = r.get(1).map_err(db_err)?;
            let meta = meta_by_ik(store, conn, record, ik)?;
            out.push(ClientIdMatch {
                client_id: cid.clone(),
                meta,
                content_hash: hash
                    .as_slice()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("content hash".into()))?,
            });
        }
    }
    Ok(out)
}

/// Runs a read on the writer connection in one transaction with its audit row.
fn audited<T>(
    store: &SqliteStore,
    record: RecordId,
    entry: &AuditEntry,
    f: impl FnOnce(&Connection, i64) -> StoreResult<(T, Vec<ItemVersionRef>, Vec<String>)>,
) -> StoreResult<T> {
    let mut conn = store.writer()?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let rk = rk_of(&tx, record)?.ok_or(StoreError::RecordNotFound(record))?;
    let (value, refs, data_types) = f(&tx, rk)?;
    if entry.data_types.is_empty() && !data_types.is_empty() {
        let filled = AuditEntry {
            data_types,
            ..entry.clone()
        };
        audit::insert(&tx, &filled, Some(rk), &refs)?;
    } else {
        audit::insert(&tx, entry, Some(rk), &refs)?;
    }
    tx.commit().map_err(db_err)?;
    Ok(value)
}

/// What a read returned, for its audit entry: item versions and their data types.
fn refs_of(items: &[Item]) -> (Vec<ItemVersionRef>, Vec<String>) {
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
    store: &SqliteStore,
    record: RecordId,
    ids: &[ItemId],
    entry: &AuditEntry,
) -> StoreResult<Vec<Item>> {
    audited(store, record, entry, |conn, rk| {
        let items = current_items(store, conn, record, rk, ids, true)?;
        let (refs, dts) = refs_of(&items);
        Ok((items, refs, dts))
    })
}

fn versions_of(
    store: &SqliteStore,
    conn: &Connection,
    record: RecordId,
    rk: i64,
    id: ItemId,
    version: Option<u32>,
) -> StoreResult<Vec<Item>> {
    let sql = format!(
        "SELECT {COLS}, v.body FROM items i JOIN versions v ON v.ik = i.ik
         WHERE i.id = ?1 AND i.rk = ?2 AND (?3 IS NULL OR v.version = ?3) ORDER BY v.version DESC"
    );
    let mut st = conn.prepare_cached(&sql).map_err(db_err)?;
    let rows = st
        .query_map(params![&id.as_bytes()[..], rk, version], |r| raw(r, true))
        .map_err(db_err)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(to_item(store, conn, record, r.map_err(db_err)?)?);
    }
    Ok(out)
}

pub(crate) fn read_version(
    store: &SqliteStore,
    record: RecordId,
    id: ItemId,
    version: u32,
    entry: &AuditEntry,
) -> StoreResult<Option<Item>> {
    audited(store, record, entry, |conn, rk| {
        let item = versions_of(store, conn, record, rk, id, Some(version))?
            .into_iter()
            .next();
        let (refs, dts) = refs_of(item.as_slice());
        Ok((item, refs, dts))
    })
}

pub(crate) fn history(
    store: &SqliteStore,
    record: RecordId,
    id: ItemId,
    entry: &AuditEntry,
) -> StoreResult<Vec<Item>> {
    audited(store, record, entry, |conn, rk| {
        let items = versions_of(store, conn, record, rk, id, None)?;
        let (refs, dts) = refs_of(&items);
        Ok((items, refs, dts))
    })
}

pub(crate) fn query(
    store: &SqliteStore,
    record: RecordId,
    q: &ItemQuery,
    entry: &AuditEntry,
) -> StoreResult<Page> {
    audited(store, record, entry, |conn, rk| {
        let page = run_query(store, conn, record, rk, q)?;
        let (refs, dts) = refs_of(&page.items);
        Ok((page, refs, dts))
    })
}

/// The SQL and arguments of a query over record `rk`; `None` when it can match nothing (a data
/// type or writer never stored).
pub(crate) type QuerySql = (String, Vec<Box<dyn ToSql>>);

pub(crate) fn query_sql(
    store: &SqliteStore,
    conn: &Connection,
    rk: i64,
    q: &ItemQuery,
) -> StoreResult<Option<QuerySql>> {
    let limit = q.effective_limit();
    let (col, desc) = match q.order {
        Order::EffectiveDesc => ("i.effective", true),
        Order::EffectiveAsc => ("i.effective", false),
        Order::UpdatedDesc => ("i.updated_at", true),
        Order::UpdatedAsc => ("i.updated_at", false),
    };
    let mut sql = format!(
        "SELECT {COLS}, v.body FROM items i JOIN versions v ON v.ik = i.ik AND v.version = i.version WHERE i.rk = ?1"
    );
    let mut args: Vec<Box<dyn ToSql>> = vec![Box::new(rk)];
    let arg = |v: Box<dyn ToSql>, args: &mut Vec<Box<dyn ToSql>>| {
        args.push(v);
        format!("?{}", args.len())
    };
    if !q.data_types.is_empty() {
        let dts = store.dt_keys_known(conn, &q.data_types)?;
        if dts.is_empty() {
            return Ok(None);
        }
        let list: Vec<String> = dts.iter().map(|d| d.to_string()).collect();
        sql.push_str(&format!(" AND i.dt IN ({})", list.join(",")));
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
    for (col_name, account, app) in [
        ("i.created_by", q.created_by_account, q.created_by_app.as_ref()),
        ("i.updated_by", q.updated_by_account, q.updated_by_app.as_ref()),
    ] {
        if account.is_some() || app.is_some() {
            let keys = store.actor_keys_matching(conn, account, app)?;
            if keys.is_empty() {
                return Ok(None);
            }
            let list: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
            sql.push_str(&format!(" AND {col_name} IN ({})", list.join(",")));
        }
    }
    if let Some(code) = &q.code {
        match split_code(code) {
            (Some(system), code) => {
                let p = arg(Box::new(format!("{system}|{code}")), &mut args);
                sql.push_str(&format!(
                    " AND i.ik IN (SELECT ik FROM item_codes WHERE rk = ?1 AND code = {p})"
                ));
            }
            (None, code) => {
                let p = arg(
                    Box::new(format!("*|{}", code.replace(['*', '?', '['], ""))),
                    &mut args,
                );
                sql.push_str(&format!(
                    " AND i.ik IN (SELECT ik FROM item_codes WHERE rk = ?1 AND code GLOB {p})"
                ));
            }
        }
    }
    if let Some(Cursor { key, tie }) = q.after {
        let k = arg(Box::new(key), &mut args);
        let t = arg(Box::new(tie), &mut args);
        let cmp = if desc { "<" } else { ">" };
        sql.push_str(&format!(" AND ({col}, i.ik) {cmp} ({k}, {t})"));
    }
    let dir = if desc { "DESC" } else { "ASC" };
    sql.push_str(&format!(" ORDER BY {col} {dir}, i.ik {dir} LIMIT {}", limit + 1));
    Ok(Some((sql, args)))
}

pub(crate) fn run_query(
    store: &SqliteStore,
    conn: &Connection,
    record: RecordId,
    rk: i64,
    q: &ItemQuery,
) -> StoreResult<Page> {
    let limit = q.effective_limit();
    let Some((sql, args)) = query_sql(store, conn, rk, q)? else {
        return Ok(Page {
            items: vec![],
            next: None,
            positions: vec![],
        });
    };
    let mut st = conn.prepare_cached(&sql).map_err(db_err)?;
    let params: Vec<&dyn ToSql> = args.iter().map(|b| b.as_ref()).collect();
    let rows = st
        .query_map(params.as_slice(), |r| raw(r, true))
        .map_err(db_err)?;
    let mut items = Vec::new();
    let mut positions = Vec::new();
    let mut more = false;
    for r in rows {
        let r = r.map_err(db_err)?;
        if items.len() as u32 == limit {
            more = true;
            break;
        }
        let key = match q.order {
            Order::EffectiveDesc | Order::EffectiveAsc => r.effective,
            Order::UpdatedDesc | Order::UpdatedAsc => r.at,
        };
        positions.push(Cursor { key, tie: r.ik });
        items.push(to_item(store, conn, record, r)?);
    }
    Ok(Page {
        items,
        next: if more { positions.last().copied() } else { None },
        positions,
    })
}

pub(crate) fn export(
    store: &SqliteStore,
    conn: &Connection,
    record: RecordId,
    sink: &mut dyn ExportSink,
) -> StoreResult<()> {
    let rk = require_rk(conn, record)?;
    let tx = conn.unchecked_transaction().map_err(db_err)?;
    let sql = format!(
        "SELECT {COLS}, v.body FROM versions v JOIN items i ON i.ik = v.ik WHERE v.rk = ?1 ORDER BY v.seq"
    );
    {
        let mut st = tx.prepare(&sql).map_err(db_err)?;
        let mut rows = st.query([rk]).map_err(db_err)?;
        while let Some(r) = rows.next().map_err(db_err)? {
            let item = to_item(store, &tx, record, raw(r, true).map_err(db_err)?)?;
            sink.version(&item)?;
        }
    }
    audit::each_oldest_first(&tx, record, rk, &mut |e| sink.audit(e))?;
    tx.finish().map_err(db_err)?;
    Ok(())
}
