//! The shared storage conformance suite on SQLite.

use hearth_store::conformance::Fixture;
use hearth_store_sqlite::SqliteStore;

fn sqlite_fixture() -> Option<Fixture> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("hearth.db")).expect("open sqlite");
    Some(Fixture {
        store: Box::new(store),
        guard: Box::new(dir),
    })
}

hearth_store::conformance_tests!(sqlite_fixture);
