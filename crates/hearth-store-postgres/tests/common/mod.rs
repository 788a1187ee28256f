//! Scratch databases for the tests: each test gets `hearth_test_<uuid>` on the server named by
//! `HEARTH_TEST_POSTGRES_URL`, dropped (with `FORCE`) when the guard goes.

use postgres::{Client, NoTls};

pub const URL_VAR: &str = "HEARTH_TEST_POSTGRES_URL";

/// Drops the scratch database when the test ends.
pub struct ScratchDb {
    admin_url: String,
    name: String,
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        if let Ok(mut c) = Client::connect(&self.admin_url, NoTls) {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// Creates `hearth_test_<uuid>` on the server named by the variable; returns its URL.
pub fn scratch() -> Option<(ScratchDb, String)> {
    let admin_url = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty())?;
    let name = format!("hearth_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = Client::connect(&admin_url, NoTls).expect("connect to HEARTH_TEST_POSTGRES_URL");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create scratch database");
    let url = with_dbname(&admin_url, &name);
    Some((ScratchDb { admin_url, name }, url))
}

/// The admin URL with its database name swapped for the scratch one.
fn with_dbname(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin_url, String::new()),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    format!("{base}/{name}{query}")
}
