//! The shared conformance suite on PostgreSQL. Set `HEARTH_TEST_POSTGRES_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`) to run it; each case gets a fresh database,
//! dropped afterwards. Without the variable every case prints that it was skipped.

mod common;

use hearth_store::conformance::Fixture;
use hearth_store_postgres::PostgresStore;

fn pg_fixture() -> Option<Fixture> {
    let (guard, url) = common::scratch()?;
    let store = PostgresStore::connect(&url).expect("connect to scratch database");
    Some(Fixture {
        store: Box::new(store),
        guard: Box::new(guard),
    })
}

hearth_store::conformance_tests!(pg_fixture);
