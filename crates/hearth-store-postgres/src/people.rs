//! Accounts, records and access in PostgreSQL. Access changes lock the record row first, so
//! two concurrent removals cannot both see "another custodian remains".

use hearth_domain::{
    Access, AccessLevel, Account, AccountId, AuditEntry, ItemId, Record, RecordId, Relationship, Timestamp,
};
use hearth_store::codec::{decode_strings, encode_strings};
use hearth_store::{StoreError, StoreResult};
use postgres::Row;
use postgres::types::ToSql;
use uuid::Uuid;

use crate::db::{Db, col, db_err, is_fk_violation, is_unique_violation};
use crate::{PostgresStore, audit};

pub(crate) fn rk_of(db: &mut Db<'_>, id: RecordId) -> StoreResult<Option<i64>> {
    db.opt("SELECT rk FROM records WHERE id = $1", &[&id.0])?
        .map(|r| col(&r, 0))
        .transpose()
}

pub(crate) fn require_rk(db: &mut Db<'_>, id: RecordId) -> StoreResult<i64> {
    rk_of(db, id)?.ok_or(StoreError::RecordNotFound(id))
}

/// The record's key, with its row locked until the transaction ends.
pub(crate) fn lock_record(db: &mut Db<'_>, id: RecordId) -> StoreResult<i64> {
    db.opt("SELECT rk FROM records WHERE id = $1 FOR UPDATE", &[&id.0])?
        .map(|r| col(&r, 0))
        .transpose()?
        .ok_or(StoreError::RecordNotFound(id))
}

pub(crate) fn create_account(
    store: &PostgresStore,
    account: &Account,
    entry: &AuditEntry,
) -> StoreResult<()> {
    let mut conn = store.conn()?;
    let mut db = Db::begin(&mut conn)?;
    db.try_exec(
        "INSERT INTO accounts (id, email, display_name, created_at) VALUES ($1, $2, $3, $4)",
        &[
            &account.id.0,
            &account.email,
            &account.display_name,
            &account.created_at.0,
        ],
    )
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::DuplicateEmail
        } else {
            db_err(e)
        }
    })?;
    audit::insert(&mut db, entry, None, &entry.items)?;
    db.commit()
}

pub(crate) fn account(db: &mut Db<'_>, cond: &str, arg: &(dyn ToSql + Sync)) -> StoreResult<Option<Account>> {
    let sql = format!("SELECT id, email, display_name, created_at FROM accounts WHERE {cond}");
    db.opt(&sql, &[arg])?
        .map(|r| {
            Ok(Account {
                id: AccountId(col(&r, 0)?),
                email: col(&r, 1)?,
                display_name: col(&r, 2)?,
                created_at: Timestamp(col(&r, 3)?),
            })
        })
        .transpose()
}

const RECORD_COLS: &str = "r.id, r.display_name, r.patient_item, r.created_at, r.last_seq";

fn to_record(r: &Row) -> StoreResult<Record> {
    Ok(Record {
        id: RecordId(col(r, 0)?),
        display_name: col(r, 1)?,
        patient_item: ItemId(col(r, 2)?),
        created_at: Timestamp(col(r, 3)?),
        last_seq: col(r, 4)?,
    })
}

pub(crate) fn record(db: &mut Db<'_>, id: RecordId) -> StoreResult<Option<Record>> {
    let sql = format!("SELECT {RECORD_COLS} FROM records r WHERE r.id = $1");
    db.opt(&sql, &[&id.0])?.as_ref().map(to_record).transpose()
}

pub(crate) fn list_records(db: &mut Db<'_>) -> StoreResult<Vec<Record>> {
    let sql = format!("SELECT {RECORD_COLS} FROM records r ORDER BY r.rk");
    db.query(&sql, &[])?.iter().map(to_record).collect()
}

/// The access columns every access query selects, in this order.
pub(crate) const ACCESS_COLS: &str =
    "a.account_id, a.relationship, a.level, a.granted_at, a.data_types, a.expires_at, a.audit";

/// An access from the [`ACCESS_COLS`] starting at column `i`.
pub(crate) fn access_at(record_id: RecordId, r: &postgres::Row, i: usize) -> StoreResult<Access> {
    let rel: String = col(r, i + 1)?;
    let level: String = col(r, i + 2)?;
    let types: Option<String> = col(r, i + 4)?;
    Ok(Access {
        record_id,
        account_id: AccountId(col::<Uuid>(r, i)?),
        relationship: rel.parse().unwrap_or(Relationship::Other),
        level: AccessLevel::parse(&level)
            .ok_or_else(|| StoreError::Corrupt(format!("access level {level:?}")))?,
        granted_at: Timestamp(col(r, i + 3)?),
        data_types: types.map(|t| decode_strings(&t)).transpose()?,
        expires_at: col::<Option<i64>>(r, i + 5)?.map(Timestamp),
        audit: col(r, i + 6)?,
    })
}

pub(crate) fn records_of(db: &mut Db<'_>, account: AccountId) -> StoreResult<Vec<(Record, Access)>> {
    let sql = format!(
        "SELECT {RECORD_COLS}, {ACCESS_COLS} FROM record_access a
         JOIN records r ON r.rk = a.rk WHERE a.account_id = $1 ORDER BY r.rk"
    );
    db.query(&sql, &[&account.0])?
        .iter()
        .map(|r| {
            let rec = to_record(r)?;
            let access = access_at(rec.id, r, 5)?;
            Ok((rec, access))
        })
        .collect()
}

pub(crate) fn accesses(db: &mut Db<'_>, record: RecordId) -> StoreResult<Vec<Access>> {
    let rk = require_rk(db, record)?;
    let sql = format!(
        "SELECT {ACCESS_COLS} FROM record_access a WHERE a.rk = $1 ORDER BY a.granted_at, a.account_id"
    );
    db.query(&sql, &[&rk])?
        .iter()
        .map(|r| access_at(record, r, 0))
        .collect()
}

pub(crate) fn custodian_count(db: &mut Db<'_>, rk: i64) -> StoreResult<i64> {
    col(
        &db.one(
            "SELECT count(*) FROM record_access WHERE rk = $1 AND level = 'custodian'",
            &[&rk],
        )?,
        0,
    )
}

pub(crate) fn insert_access(db: &mut Db<'_>, rk: i64, access: &Access) -> StoreResult<()> {
    db.try_exec(
        "INSERT INTO record_access (rk, account_id, relationship, level, granted_at, data_types, expires_at, audit)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (rk, account_id) DO UPDATE SET relationship = excluded.relationship,
             level = excluded.level, granted_at = excluded.granted_at, data_types = excluded.data_types,
             expires_at = excluded.expires_at, audit = excluded.audit",
        &[
            &rk,
            &access.account_id.0,
            &access.relationship.as_str(),
            &access.level.as_str(),
            &access.granted_at.0,
            &access.data_types.as_deref().map(encode_strings),
            &access.expires_at.map(|t| t.0),
            &access.audit,
        ],
    )
    .map_err(|e| if is_fk_violation(&e) { StoreError::AccountNotFound } else { db_err(e) })?;
    Ok(())
}

pub(crate) fn put_access(store: &PostgresStore, access: &Access, entry: &AuditEntry) -> StoreResult<()> {
    let mut conn = store.conn()?;
    let mut db = Db::begin(&mut conn)?;
    let rk = lock_record(&mut db, access.record_id)?;
    insert_access(&mut db, rk, access)?;
    if custodian_count(&mut db, rk)? == 0 {
        return Err(StoreError::LastCustodian);
    }
    audit::insert(&mut db, entry, Some(rk), &entry.items)?;
    db.commit()
}

pub(crate) fn remove_access(
    store: &PostgresStore,
    record: RecordId,
    account: AccountId,
    entry: &AuditEntry,
) -> StoreResult<()> {
    let mut conn = store.conn()?;
    let mut db = Db::begin(&mut conn)?;
    let rk = lock_record(&mut db, record)?;
    let n = db.exec(
        "DELETE FROM record_access WHERE rk = $1 AND account_id = $2",
        &[&rk, &account.0],
    )?;
    if n == 0 {
        return Err(StoreError::AccountNotFound);
    }
    if custodian_count(&mut db, rk)? == 0 {
        return Err(StoreError::LastCustodian);
    }
    audit::insert(&mut db, entry, Some(rk), &entry.items)?;
    db.commit()
}

pub(crate) fn record_by_patient_client_id(
    db: &mut Db<'_>,
    account: AccountId,
    writer: &str,
    client_id: &str,
) -> StoreResult<Option<RecordId>> {
    db.opt(
        "SELECT r.id FROM client_ids c
         JOIN records r ON r.rk = c.rk
         JOIN record_access a ON a.rk = c.rk AND a.account_id = $1
         JOIN items i ON i.ik = c.ik AND i.id = r.patient_item
         WHERE c.writer = $2 AND c.client_id = $3 AND c.patient ORDER BY r.rk LIMIT 1",
        &[&account.0, &writer, &client_id],
    )?
    .map(|r| Ok(RecordId(col(&r, 0)?)))
    .transpose()
}

pub(crate) fn item_record(db: &mut Db<'_>, item: ItemId) -> StoreResult<Option<RecordId>> {
    db.opt(
        "SELECT r.id FROM items i JOIN records r ON r.rk = i.rk WHERE i.id = $1",
        &[&item.0],
    )?
    .map(|r| Ok(RecordId(col(&r, 0)?)))
    .transpose()
}
