//! FHIR Bulk Data Access export (IG STU2, https://hl7.org/fhir/uv/bulkdata/STU2/export.html):
//! kick-off, status, cancelling and file downloads as services, and the worker that runs jobs.
//!
//! A kick-off resolves the records the token reaches and queues a job that remembers the token's
//! standing ([`hearth_domain::bulk::Requester`]). The worker claims jobs from the store (a lease
//! it renews on every page, so a crashed worker's job is run again), reads each record through
//! [`crate::Services::query`]'s checks — authorised with the job's standing on every page, so a
//! revoked grant stops the job, and audited as `bulk-export` — and streams one NDJSON file per
//! resource type through temporary files into the [`hearth_store::BlobStore`]. Files expire;
//! expired and cancelled jobs are swept with their blobs (unless another job lists the same
//! blob).
//!
//! - [`params`]: the kick-off parameters.
//! - `jobs`: kick-off, status, cancel and downloads.
//! - `run`: running one job; `files`: the NDJSON files it writes.
//! - [`worker`]: the background thread, and the sweep.

pub mod params;
pub mod worker;

mod files;
mod jobs;
mod run;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

pub use params::{KickOff, KickOffLevel};
pub use worker::BulkWorker;

/// Limits and lifetimes of bulk export. Passed in; never global.
#[derive(Clone, Debug)]
pub struct BulkSettings {
    /// A file is split when it would grow past this many lines…
    pub max_file_lines: u64,
    /// …or this many bytes.
    pub max_file_bytes: u64,
    /// Files and the job's status are kept this long after the job completes or fails.
    pub expiry_secs: i64,
    /// Queued and running jobs one requester may have (one runs at a time).
    pub max_active_jobs: u32,
    /// The polling interval advertised while a job is queued or running (`Retry-After`).
    pub poll_secs: i64,
    /// `Retry-After` when a requester already has `max_active_jobs`.
    pub busy_retry_secs: i64,
    /// How long a worker's claim on a running job lasts without being renewed.
    pub lease_secs: i64,
    /// Items read per page.
    pub page_size: u32,
    /// Where files are written before they go into the blob store (the system's temporary
    /// directory when `None`).
    pub temp_dir: Option<PathBuf>,
    /// How long the idle worker waits before looking for work again (a kick-off wakes it).
    pub idle_wait: Duration,
}

impl Default for BulkSettings {
    fn default() -> Self {
        BulkSettings {
            max_file_lines: 100_000,
            max_file_bytes: 256 * 1024 * 1024,
            expiry_secs: 24 * 60 * 60,
            max_active_jobs: 3,
            poll_secs: 2,
            busy_retry_secs: 60,
            lease_secs: 120,
            page_size: hearth_domain::ItemQuery::MAX_LIMIT,
            temp_dir: None,
            idle_wait: Duration::from_secs(10),
        }
    }
}

/// What the services carry for bulk export: the settings, this process's runner id, and the
/// signals between kick-offs and the worker.
#[derive(Debug)]
pub struct BulkRuntime {
    pub settings: BulkSettings,
    /// Names this process's claims on running jobs.
    pub(crate) runner: String,
    pending: Mutex<bool>,
    signal: Condvar,
    stopping: AtomicBool,
}

impl BulkRuntime {
    pub fn new(settings: BulkSettings) -> Self {
        BulkRuntime {
            settings,
            runner: uuid::Uuid::new_v4().to_string(),
            pending: Mutex::new(false),
            signal: Condvar::new(),
            stopping: AtomicBool::new(false),
        }
    }

    /// Tells the worker there is work (a new job, a cancelled one).
    pub(crate) fn wake(&self) {
        *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.signal.notify_all();
    }

    /// Waits until woken or `timeout` passes.
    pub(crate) fn wait(&self, timeout: Duration) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if !*pending {
            pending = self
                .signal
                .wait_timeout(pending, timeout)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        *pending = false;
    }

    pub(crate) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.wake();
    }
}
