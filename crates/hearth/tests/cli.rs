//! End-to-end tests of the `hearth` binary: each scenario runs the real executable as a
//! subprocess against a fresh installation (a temporary data directory, and a scratch database
//! when on PostgreSQL). Every scenario runs on SQLite, and on PostgreSQL when
//! `HEARTH_TEST_POSTGRES_URL` names a server (e.g. `postgres://postgres@127.0.0.1:5432/postgres`);
//! otherwise the PostgreSQL variant prints "skipped" and passes.

mod common;
mod scenarios;

use common::Backend;
use scenarios::basics::{admin, serve};
use scenarios::malformed::malformed_input_changes_nothing;
use scenarios::records::{ndjson, record_takes_the_input_patient};
use scenarios::synthea::synthea_import_and_export;

/// `scenario!(name)` makes `name::sqlite` and `name::postgres` tests calling `name(Backend)`.
macro_rules! scenario {
    ($name:ident) => {
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(super::Backend::Sqlite);
            }
            #[test]
            fn postgres() {
                super::common::on_postgres(stringify!($name), super::$name);
            }
        }
    };
}

scenario!(serve);
scenario!(admin);
scenario!(synthea_import_and_export);
scenario!(malformed_input_changes_nothing);
scenario!(ndjson);
scenario!(record_takes_the_input_patient);
