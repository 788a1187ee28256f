//! Schema migrations for SQLite: numbered SQL files applied in order, each in its own
//! transaction, recorded in `schema_migrations`.

use rusqlite::Connection;

use hearth_store::StoreResult;

use crate::db_err;

/// (version, SQL) in order. Append only.
pub const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_auth.sql")),
    (3, include_str!("../migrations/0003_bulk.sql")),
    (4, include_str!("../migrations/0004_sharing.sql")),
];

pub fn migrate(conn: &Connection) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .map_err(db_err)?;
    let current: i64 = conn
        .query_row("SELECT ifnull(max(version), 0) FROM schema_migrations", [], |r| {
            r.get(0)
        })
        .map_err(db_err)?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let tx = conn.unchecked_transaction().map_err(db_err)?;
        tx.execute_batch(sql).map_err(db_err)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, strftime('%s','now'))",
            [version],
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
    }
    Ok(())
}
