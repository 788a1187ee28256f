//! Accounts, records and access in SQLite.

use hearth_domain::{
    Access, AccessLevel, Account, AccountId, AuditEntry, ItemId, Record, RecordId, Relationship, Timestamp,
};
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

fn access_from(record_id: RecordId, account: &[u8], rel: &str, level: &str, at: i64) -> StoreResult<Access> {
    Ok(Access {
        record_id,
        account_id: AccountId::from_bytes(uuid_bytes(account)?),
        relationship: rel.parse().unwrap_or(Relationship::Other),
        level: AccessLevel::parse(level)
            .ok_or_else(|| StoreError::Corrupt(format!("access level {level:?}")))?,
        granted_at: Timestamp(at),
    })
}

pub(crate) fn records_of(conn: &Connection, account: AccountId) -> StoreResult<Vec<(Record, Access)>> {
    let sql = format!(
        "SELECT {RECORD_COLS}, a.relationship, a.level, a.granted_at FROM record_access a
         JOIN records r ON r.rk = a.rk WHERE a.account_id = ?1 ORDER BY r.rk"
    );
    let mut st = conn.prepare_cached(&sql).map_err(db_err)?;
    let rows = st
        .query_map([&account.as_bytes()[..]], |r| {
            Ok((
                record_from_row(r)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, i64>(7)?,
            ))
        })
        .map_err(db_err)?;
    rows.map(|row| {
        let (raw, rel, level, at) = row.map_err(db_err)?;
        let rec = to_record(raw)?;
        let access = access_from(rec.id, account.as_bytes(), &rel, &level, at)?;
        Ok((rec, access))
    })
    .collect()
}

pub(crate) fn accesses(conn: &Connection, record: RecordId) -> StoreResult<Vec<Access>> {
    let rk = require_rk(conn, record)?;
    let mut st = conn
        .prepare_cached(
            "SELECT account_id, relationship, level, granted_at FROM record_access WHERE rk = ?1 ORDER BY granted_at",
        )
        .map_err(db_err)?;
    let rows = st
        .query_map([rk], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .map_err(db_err)?;
    rows.map(|row| {
        let (acc, rel, level, at) = row.map_err(db_err)?;
        access_from(record, &acc, &rel, &level, at)
    })
    .collect()
}

fn custodian_count(conn: &Connection, rk: i64) -> StoreResult<i64> {
    conn.query_row(
        "SELECT count(*) FROM record_access WHERE rk = ?1 AND level = 'custodian'",
        [rk],
        |r| r.get(0),
    )
    .map_err(db_err)
}

pub(crate) fn insert_access(conn: &Connection, rk: i64, access: &Access) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO record_access (rk, account_id, relationship, level, granted_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (rk, account_id) DO UPDATE SET relationship = excluded.relationship,
             level = excluded.level, granted_at = excluded.granted_at",
    )
    .and_then(|mut s| {
        s.execute(params![
            rk,
            &access.account_id.as_bytes()[..],
            access.relationship.as_str(),
            access.level.as_str(),
            access.granted_at.0
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
