//! Opening the configured backends: SQLite under the data directory unless the database URL
//! names PostgreSQL; blobs always under the data directory.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use hearth_core::Services;
use hearth_core::auth::{AuthSettings, Mailer, OutboxMailer};
use hearth_core::bulk::BulkSettings;
use hearth_store::{LocalBlobStore, Store};

use crate::config::Config;
use crate::mail::SmtpMailer;

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
    Ok(Services::new(
        store,
        Arc::new(blobs),
        crate::clock::clock_for(config.clock_offset_file.as_ref()),
    ))
}

/// The services with sign-in settings and a mailer (an SMTP relay when configured, else the
/// outbox directory under the data directory), and bulk export settings (files kept
/// `bulk_expiry_secs`, written first under `<data dir>/bulk-tmp`).
pub fn open_serving_services(config: &Config) -> anyhow::Result<Services> {
    let svc = open_services(config)?;
    let mailer: Arc<dyn Mailer> = match &config.smtp_url {
        Some(url) => Arc::new(SmtpMailer::new(url, &config.mail_from)?),
        None => {
            let dir = config.data_dir.join("outbox");
            tracing::info!(outbox = %dir.display(), "no SMTP relay configured; mail goes to the outbox");
            Arc::new(
                OutboxMailer::new(dir.clone(), config.mail_from.clone())
                    .with_context(|| format!("cannot create the outbox {}", dir.display()))?,
            )
        }
    };
    let settings = AuthSettings {
        public_url: config.public_url.clone(),
        ..AuthSettings::default()
    };
    let bulk = BulkSettings {
        expiry_secs: config.bulk_expiry_secs,
        temp_dir: Some(config.data_dir.join("bulk-tmp")),
        ..BulkSettings::default()
    };
    Ok(svc
        .with_auth(settings, mailer)
        .with_files(hearth_core::files::FileSettings {
            max_upload_bytes: config.max_upload_bytes,
        })
        .with_bulk(bulk)
        .with_export_blobs(Arc::new(hearth_store::LocalBlobStore::open_dir(
            config.data_dir.join("exports"),
        )?)))
}
