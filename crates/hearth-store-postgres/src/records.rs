//! Renaming a record and deleting one for good in PostgreSQL. Both lock the record row first,
//! so they wait for (and are waited on by) writers of the record.

use hearth_domain::{AuditEntry, RecordId};
use hearth_store::StoreResult;

use crate::auth::in_tx;
use crate::people::lock_record;
use crate::{PostgresStore, audit};

pub(crate) fn rename_record(
    store: &PostgresStore,
    record: RecordId,
    display_name: &str,
    entry: &AuditEntry,
) -> StoreResult<()> {
    in_tx(store, |db| {
        let rk = lock_record(db, record)?;
        db.exec(
            "UPDATE records SET display_name = $2 WHERE rk = $1",
            &[&rk, &display_name],
        )?;
        audit::insert(db, entry, Some(rk), &entry.items)?;
        Ok(())
    })
}

/// Deletes the rows of a record from every table that keeps some, children before `records`;
/// each searches an index that starts with `rk`.
const DELETE_RECORD_ROWS: &[&str] = &[
    "DELETE FROM item_codes WHERE rk = $1",
    "DELETE FROM client_ids WHERE rk = $1",
    "DELETE FROM versions WHERE rk = $1",
    "DELETE FROM items WHERE rk = $1",
    "DELETE FROM record_access WHERE rk = $1",
    "DELETE FROM grants WHERE rk = $1",
    "DELETE FROM oauth_tokens WHERE rk = $1",
    "DELETE FROM invitations WHERE rk = $1",
    "DELETE FROM emergency_profiles WHERE rk = $1",
    "DELETE FROM emergency_codes WHERE rk = $1",
    "DELETE FROM audit WHERE rk = $1",
    "DELETE FROM records WHERE rk = $1",
];

/// Removes every row of the record, then appends `entry` with no record, in one transaction.
pub(crate) fn delete_record(store: &PostgresStore, record: RecordId, entry: &AuditEntry) -> StoreResult<()> {
    in_tx(store, |db| {
        let rk = lock_record(db, record)?;
        for sql in DELETE_RECORD_ROWS {
            db.exec(sql, &[&rk])?;
        }
        audit::insert(db, entry, None, &entry.items)?;
        Ok(())
    })
}
