//! Accounts, records and access in SQLite.

use hearth_domain::{
    Access, AccessLevel, Account, AccountId, AuditEntry, ItemId, Record, RecordId, Relationship, Timestamp,
};
use hearth_store::codec::{decode_strings, encode_strings};
use hearth_store::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, ToSql, TransactionBehavior, params};

use crate::{SqliteStore, audit, db_err, uuid_bytes};

pub(crate) fn rk_of(conn: &Connection, id: RecordId) -> StoreResult<Option<i64>> {
    conn.prepare_cached("SELECT rk FROM records WHERE id = ?1")
        .and_then(|mut s| s.query_row([&id.as_bytes()[..]], |r| r.get(0)).optional())
        .map_err(db_err)
}

pub(crate) fn require_rk(conn: &Connection, id: RecordId) -> StoreResult<i64> {
    rk_of(conn, id)?.ok_or(StoreError::RecordNotFound(id))
}

pub(crate) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

pub(crate) fn is_fk_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
}

pub(crate) fn create_account(store: &SqliteStore, account: &Account, entry: &AuditEntry) -> StoreResult<()> {
    let mut conn = store.writer()?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    tx.execute(
        "INSERT INTO accounts (id, email, display_name, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![
            &account.id.as_bytes()[..],
            account.email,
            account.display_name,
            account.created_at.0
        ],
    )
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::DuplicateEmail
        } else {
            db_err(e)
        }
    })?;
    audit::insert(&tx, entry, None, &entry.items)?;
    tx.commit().map_err(db_err)
}

pub(crate) fn account(conn: &Connection, cond: &str, arg: &dyn ToSql) -> StoreResult<Option<Account>> {
    let sql = format!("SELECT id, email, display_name, created_at FROM accounts WHERE {cond}");
    let row = conn
        .prepare_cached(&sql)
        .and_then(|mut s| {
            s.query_row([arg], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .optional()
        })
        .map_err(db_err)?;
    row.map(|(id, email, display_name, at)| {
        Ok(Account {
            id: AccountId::from_bytes(uuid_bytes(&id)?),
            email,
            display_name,
            created_at: Timestamp(at),
        })
    })
    .transpose()
}

const RECORD_COLS: &str = "r.id, r.display_name, r.patient_item, r.created_at, r.last_seq";

/// (id, display name, patient item, created at, last seq) as stored.
type RecordRow = (Vec<u8>, String, Vec<u8>, i64, i64);

fn record_from_row(r: &Row<'_>) -> rusqlite::Result<RecordRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn to_record(raw: RecordRow) -> StoreResult<Record> {
    let (id, display_name, patient, created_at, last_seq) = raw;
    Ok(Record {
        id: RecordId::from_bytes(uuid_bytes(&id)?),
        display_name,
        patient_item: ItemId::from_bytes(uuid_bytes(&patient)?),
        created_at: Timestamp(created_at),
        last_seq,
    })
}

pub(crate) fn record(conn: &Connection, id: RecordId) -> StoreResult<Option<Record>> {
    let sql = format!("SELECT {RECORD_COLS} FROM records r WHERE r.id = ?1");
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row([&id.as_bytes()[..]], record_from_row).optional())
        .map_err(db_err)?
        .map(to_record)
        .transpose()
}

pub(crate) fn list_records(conn: &Connection) -> StoreResult<Vec<Record>> {
    let sql = format!("SELECT {RECORD_COLS} FROM records r ORDER BY r.rk");
    let mut st = conn.prepare_cached(&sql).map_err(db_err)?;
    let rows = st.query_map([], record_from_row).map_err(db_err)?;
    rows.map(|r| to_record(r.map_err(db_err)?)).collect()
}

/// The access columns every access query selects, in this order.
pub(crate) const ACCESS_COLS: &str =
    "a.account_id, a.relationship, a.level, a.granted_at, a.data_types, a.expires_at, a.audit";

/// An access from the [`ACCESS_COLS`] starting at column `i`.
pub(crate) fn access_at(record_id: RecordId, r: &rusqlite::Row<'_>, i: usize) -> StoreResult<Access> {
    let account: Vec<u8> = r.get(i).map_err(db_err)?;
    let rel: String = r.get(i + 1).map_err(db_err)?;
    let level: String = r.get(i + 2).map_err(db_err)?;
    let types: Option<String> = r.get(i + 4).map_err(db_err)?;
    Ok(Access {
        record_id,
        account_id: AccountId::from_bytes(uuid_bytes(&account)?),
        relationship: rel.parse().unwrap_or(Relationship::Other),
        level: AccessLevel::parse(&level)
            .ok_or_else(|| StoreError::Corrupt(format!("access level {level:?}")))?,
        granted_at: Timestamp(r.get(i + 3).map_err(db_err)?),
        data_types: types.map(|t| decode_strings(&t)).transpose()?,
        expires_at: r.get::<_, Option<i64>>(i + 5).map_err(db_err)?.map(Timestamp),
        audit: r.get(i + 6).map_err(db_err)?,
    })
}

pub(crate) fn records_of(conn: &Connection, account: AccountId) -> StoreResult<Vec<(Record, Access)>> {
    let sql = format!(
        "SELECT {RECORD_COLS}, {ACCESS_COLS} FROM record_access a
         JOIN records r ON r.rk = a.rk WHERE a.account_id = ?1 ORDER BY r.rk"
    );
    let mut st = conn.prepare_cached(&sql).map_err(db_err)?;
    let mut rows = st.query([&account.as_bytes()[..]]).map_err(db_err)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db_err)? {
        let rec = to_record(record_from_row(r).map_err(db_err)?)?;
        let access = access_at(rec.id, r, 5)?;
        out.push((rec, access));
    }
    Ok(out)
}

pub(crate) fn accesses(conn: &Connection, record: RecordId) -> StoreResult<Vec<Access>> {
    let rk = require_rk(conn, record)?;
    let sql = format!("SELECT {ACCESS_COLS} FROM record_access a WHERE a.rk = ?1 ORDER BY a.granted_at");
    let mut st = conn.prepare_cached(&sql).map_err(db_err)?;
    let mut rows = st.query([rk]).map_err(db_err)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(db_err)? {
        out.push(access_at(record, r, 0)?);
    }
    Ok(out)
}

pub(crate) fn custodian_count(conn: &Connection, rk: i64) -> StoreResult<i64> {
    conn.query_row(
        "SELECT count(*) FROM record_access WHERE rk = ?1 AND level = 'custodian'",
        [rk],
        |r| r.get(0),
    )
    .map_err(db_err)
}

pub(crate) fn insert_access(conn: &Connection, rk: i64, access: &Access) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO record_access (rk, account_id, relationship, level, granted_at, data_types, expires_at, audit)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (rk, account_id) DO UPDATE SET relationship = excluded.relationship,
             level = excluded.level, granted_at = excluded.granted_at, data_types = excluded.data_types,
             expires_at = excluded.expires_at, audit = excluded.audit",
    )
    .and_then(|mut s| {
        s.execute(params![
            rk,
            &access.account_id.as_bytes()[..],
            access.relationship.as_str(),
            access.level.as_str(),
            access.granted_at.0,
            access.data_types.as_deref().map(encode_strings),
            access.expires_at.map(|t| t.0),
            access.audit,
        ])
    })
    .map_err(|e| {
        if is_fk_violation(&e) {
            StoreError::AccountNotFound
        } else {
            db_err(e)
        }
    })?;
    Ok(())
}

pub(crate) fn put_access(store: &SqliteStore, access: &Access, entry: &AuditEntry) -> StoreResult<()> {
    let mut conn = store.writer()?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let rk = require_rk(&tx, access.record_id)?;
    insert_access(&tx, rk, access)?;
    if custodian_count(&tx, rk)? == 0 {
        return Err(StoreError::LastCustodian);
    }
    audit::insert(&tx, entry, Some(rk), &entry.items)?;
    tx.commit().map_err(db_err)
}

pub(crate) fn remove_access(
    store: &SqliteStore,
    record: RecordId,
    account: AccountId,
    entry: &AuditEntry,
) -> StoreResult<()> {
    let mut conn = store.writer()?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let rk = require_rk(&tx, record)?;
    let n = tx
        .execute(
            "DELETE FROM record_access WHERE rk = ?1 AND account_id = ?2",
            params![rk, &account.as_bytes()[..]],
        )
        .map_err(db_err)?;
    if n == 0 {
        return Err(StoreError::AccountNotFound);
    }
    if custodian_count(&tx, rk)? == 0 {
        return Err(StoreError::LastCustodian);
    }
    audit::insert(&tx, entry, Some(rk), &entry.items)?;
    tx.commit().map_err(db_err)
}

pub(crate) fn record_by_patient_client_id(
    conn: &Connection,
    account: AccountId,
    writer: &str,
    client_id: &str,
) -> StoreResult<Option<RecordId>> {
    let id: Option<Vec<u8>> = conn
        .prepare_cached(
            "SELECT r.id FROM client_ids c
             JOIN records r ON r.rk = c.rk
             JOIN record_access a ON a.rk = c.rk AND a.account_id = ?1
             JOIN items i ON i.ik = c.ik AND i.id = r.patient_item
             WHERE c.writer = ?2 AND c.client_id = ?3 AND c.patient = 1 ORDER BY r.rk LIMIT 1",
        )
        .and_then(|mut s| {
            s.query_row(params![&account.as_bytes()[..], writer, client_id], |r| r.get(0))
                .optional()
        })
        .map_err(db_err)?;
    id.map(|b| Ok(RecordId::from_bytes(uuid_bytes(&b)?))).transpose()
}

pub(crate) const ITEM_RECORD_SQL: &str =
    "SELECT r.id FROM items i JOIN records r ON r.rk = i.rk WHERE i.id = ?1";

pub(crate) fn item_record(conn: &Connection, item: ItemId) -> StoreResult<Option<RecordId>> {
    let id: Option<Vec<u8>> = conn
        .prepare_cached(ITEM_RECORD_SQL)
        .and_then(|mut s| s.query_row([&item.as_bytes()[..]], |r| r.get(0)).optional())
        .map_err(db_err)?;
    id.map(|b| Ok(RecordId::from_bytes(uuid_bytes(&b)?))).transpose()
}
