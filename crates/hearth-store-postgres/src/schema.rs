//! Schema migrations for PostgreSQL: numbered SQL files applied in order, recorded in
//! `schema_migrations`. All pending migrations run in one transaction that first takes a
//! transaction-scoped advisory lock, so servers starting at the same time apply them once.

use hearth_store::StoreResult;

use crate::db::{Db, PgConn, col};

/// (version, SQL) in order. Append only.
pub const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_init.sql")),
    (2, include_str!("../migrations/0002_auth.sql")),
    (3, include_str!("../migrations/0003_bulk.sql")),
    (4, include_str!("../migrations/0004_sharing.sql")),
];

/// Advisory lock key for migrations ("hearth" in ASCII).
const MIGRATION_LOCK: i64 = 0x6865_6172_7468;

pub(crate) fn migrate(conn: &mut PgConn) -> StoreResult<()> {
    let mut db = Db::begin(conn)?;
    db.exec("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    db.batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )?;
    let row = db.one(
        "SELECT coalesce(max(version), 0)::bigint FROM schema_migrations",
        &[],
    )?;
    let current: i64 = col(&row, 0)?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        db.batch(sql)?;
        db.exec(
            "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, extract(epoch from now())::bigint)",
            &[version],
        )?;
    }
    db.commit()
}
