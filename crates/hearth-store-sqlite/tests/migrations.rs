//! Upgrading a database made by an earlier schema: the access level is filled in from the old
//! custodian flag.

use hearth_domain::{AccessLevel, AccountId, RecordId};
use hearth_store::Store;
use hearth_store_sqlite::SqliteStore;
use hearth_store_sqlite::schema::MIGRATIONS;
use rusqlite::{Connection, params};

#[test]
fn access_levels_come_from_the_custodian_flag() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let (record, owner, helper) = (RecordId::new(), AccountId::new(), AccountId::new());
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0].1).unwrap();
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
             INSERT INTO schema_migrations VALUES (1, 0);",
        )
        .unwrap();
        for (id, email) in [(owner, "o@example.org"), (helper, "h@example.org")] {
            conn.execute(
                "INSERT INTO accounts (id, email, display_name, created_at) VALUES (?1, ?2, 'x', 0)",
                params![&id.as_bytes()[..], email],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO records (rk, id, display_name, patient_item, created_at) VALUES (1, ?1, 'R', ?2, 0)",
            params![&record.as_bytes()[..], &RecordId::new().as_bytes()[..]],
        )
        .unwrap();
        for (id, custodian) in [(owner, true), (helper, false)] {
            conn.execute(
                "INSERT INTO record_access (rk, account_id, relationship, custodian, granted_at)
                 VALUES (1, ?1, 'self', ?2, 0)",
                params![&id.as_bytes()[..], custodian],
            )
            .unwrap();
        }
    }

    let store = SqliteStore::open(&path).unwrap();
    let mut levels: Vec<_> = store
        .accesses(record)
        .unwrap()
        .into_iter()
        .map(|a| (a.account_id, a.level))
        .collect();
    levels.sort();
    let mut expect = vec![(owner, AccessLevel::Custodian), (helper, AccessLevel::Modify)];
    expect.sort();
    assert_eq!(levels, expect);
    let version: i64 = Connection::open(&path)
        .unwrap()
        .query_row("SELECT max(version) FROM schema_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, MIGRATIONS.last().unwrap().0);
}
