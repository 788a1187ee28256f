//! Opening the configured backends: SQLite under the data directory unless the database URL
//! names PostgreSQL; blobs always under the data directory.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use hearth_core::Services;
use hearth_domain::SystemClock;
use hearth_store::{LocalBlobStore, Store};

use crate::config::Config;

pub fn sqlite_path(config: &Config) -> PathBuf {
    match config
        .database_url
        .as_deref()
        .and_then(|u| u.strip_prefix("sqlite://"))
    {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => config.data_dir.join("hearth.db"),
    }
}

pub fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
    match config.database_url.as_deref() {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let store = hearth_store_postgres::PostgresStore::connect(url)
                .context("cannot open the PostgreSQL database")?;
            Ok(Arc::new(store))
        }
        _ => {
            let path = sqlite_path(config);
            let store = hearth_store_sqlite::SqliteStore::open(&path)
                .with_context(|| format!("cannot open the SQLite database {}", path.display()))?;
            Ok(Arc::new(store))
        }
    }
}

pub fn open_services(config: &Config) -> anyhow::Result<Services> {
    let store = open_store(config)?;
    let blob_dir = config.data_dir.join("blobs");
    let blobs = LocalBlobStore::open_dir(&blob_dir)
        .with_context(|| format!("cannot open the blob directory {}", blob_dir.display()))?;
    Ok(Services::new(store, Arc::new(blobs), Arc::new(SystemClock)))
}
