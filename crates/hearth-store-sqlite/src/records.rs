//! Renaming a record and deleting one for good in SQLite.

use hearth_domain::{AuditEntry, RecordId};
use hearth_store::StoreResult;
use rusqlite::params;

use crate::auth::write_tx;
use crate::people::require_rk;
use crate::{SqliteStore, audit, db_err};

pub(crate) fn rename_record(
    store: &SqliteStore,
    record: RecordId,
    display_name: &str,
    entry: &AuditEntry,
) -> StoreResult<()> {
    write_tx(store, |tx| {
        let rk = require_rk(tx, record)?;
        tx.execute(
            "UPDATE records SET display_name = ?2 WHERE rk = ?1",
            params![rk, display_name],
        )
        .map_err(db_err)?;
        audit::insert(tx, entry, Some(rk), &entry.items)?;
        Ok(())
    })
}

/// Deletes the rows of a record from every table that keeps some, children before `records`;
/// each searches an index that starts with `rk`.
pub(crate) const DELETE_RECORD_ROWS: &[&str] = &[
    "DELETE FROM item_codes WHERE rk = ?1",
    "DELETE FROM client_ids WHERE rk = ?1",
    "DELETE FROM versions WHERE rk = ?1",
    "DELETE FROM items WHERE rk = ?1",
    "DELETE FROM record_access WHERE rk = ?1",
    "DELETE FROM grants WHERE rk = ?1",
    "DELETE FROM oauth_tokens WHERE rk = ?1",
    "DELETE FROM invitations WHERE rk = ?1",
    "DELETE FROM emergency_profiles WHERE rk = ?1",
    "DELETE FROM emergency_codes WHERE rk = ?1",
    "DELETE FROM audit WHERE rk = ?1",
    "DELETE FROM records WHERE rk = ?1",
];

/// Removes every row of the record, then appends `entry` with no record, in one transaction.
pub(crate) fn delete_record(store: &SqliteStore, record: RecordId, entry: &AuditEntry) -> StoreResult<()> {
    write_tx(store, |tx| {
        let rk = require_rk(tx, record)?;
        for sql in DELETE_RECORD_ROWS {
            tx.prepare_cached(sql)
                .and_then(|mut s| s.execute([rk]))
                .map_err(db_err)?;
        }
        audit::insert(tx, entry, None, &entry.items)?;
        Ok(())
    })
}
