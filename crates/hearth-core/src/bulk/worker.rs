//! The bulk export worker: one background thread per server process that sweeps expired and
//! cancelled jobs, then runs queued jobs one after another, then sleeps until a kick-off wakes
//! it (or [`super::BulkSettings::idle_wait`] passes). Several processes sharing a PostgreSQL
//! database each run one; the store's claims keep them from running the same job. Stopping lets
//! the current job's lease lapse at once, so the next start runs it again from the beginning.

use std::thread::JoinHandle;

use crate::{ServiceResult, Services};

/// Jobs deleted per sweep query.
const SWEEP_BATCH: u32 = 100;

impl Services {
    /// Deletes jobs whose files expired, and cancelled jobs, with their blobs (those no other
    /// job lists). Returns how many jobs went.
    pub fn sweep_exports(&self) -> ServiceResult<u32> {
        let mut gone = 0;
        loop {
            let ids = self.store.expired_export_jobs(self.now(), SWEEP_BATCH)?;
            if ids.is_empty() {
                return Ok(gone);
            }
            for id in &ids {
                if self
                    .store
                    .delete_export_job(*id, &mut |b| self.export_blobs().delete(b))?
                {
                    gone += 1;
                }
            }
            if (ids.len() as u32) < SWEEP_BATCH {
                return Ok(gone);
            }
        }
    }
}

/// The running worker thread; stopped (and joined) by [`BulkWorker::stop`] or on drop.
pub struct BulkWorker {
    services: Services,
    thread: Option<JoinHandle<()>>,
}

impl BulkWorker {
    /// Starts the worker on its own thread.
    pub fn start(services: Services) -> std::io::Result<BulkWorker> {
        services
            .bulk
            .stopping
            .store(false, std::sync::atomic::Ordering::SeqCst);
        let svc = services.clone();
        let thread = std::thread::Builder::new()
            .name("hearth-bulk".into())
            .spawn(move || work(&svc))?;
        Ok(BulkWorker {
            services,
            thread: Some(thread),
        })
    }

    /// Stops after the current page and waits for the thread.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.services.bulk.stop();
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("the bulk export worker panicked");
        }
    }
}

impl Drop for BulkWorker {
    fn drop(&mut self) {
        self.halt();
    }
}

fn work(svc: &Services) {
    let rt = &svc.bulk;
    while !rt.stopping() {
        if let Err(e) = svc.sweep_exports() {
            tracing::warn!(error = %e, "sweeping expired export jobs failed");
        }
        while !rt.stopping() {
            match svc.run_next_export() {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "the export queue could not be read");
                    break;
                }
            }
        }
        if !rt.stopping() {
            rt.wait(rt.settings.idle_wait);
        }
    }
}
