//! The audit log's group commit. Reads served from the reader connections append their audit
//! entry here and wait: one writer thread takes every entry waiting, appends them in one
//! transaction ([`hearth_store::Store::append_audits`]) and then wakes each caller. A read is
//! answered only once its entry is stored, and concurrent reads share one commit instead of each
//! queueing for the database's single writer.

use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};

use hearth_domain::AuditEntry;
use hearth_store::Store;

use crate::{ServiceError, ServiceResult};

/// At most this many entries go into one transaction.
const MAX_BATCH: usize = 512;

struct Job {
    entry: AuditEntry,
    done: SyncSender<Result<(), String>>,
}

/// A handle on the writer thread; the thread ends when the last handle is dropped.
#[derive(Clone)]
pub struct AuditLog {
    tx: Arc<Mutex<Sender<Job>>>,
}

impl AuditLog {
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        let spawned = std::thread::Builder::new()
            .name("hearth-audit".into())
            .spawn(move || run(&*store, rx));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start the audit writer");
        }
        AuditLog {
            tx: Arc::new(Mutex::new(tx)),
        }
    }

    /// Appends `entry` and returns once it is stored.
    pub fn append(&self, entry: AuditEntry) -> ServiceResult<()> {
        let (done, wait) = mpsc::sync_channel(1);
        let stopped = || ServiceError::Internal("the audit writer has stopped".into());
        self.tx
            .lock()
            .map_err(|_| stopped())?
            .send(Job { entry, done })
            .map_err(|_| stopped())?;
        match wait.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ServiceError::Internal(format!("audit entry not stored: {e}"))),
            Err(_) => Err(stopped()),
        }
    }
}

fn run(store: &dyn Store, rx: Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let (entries, waiters): (Vec<AuditEntry>, Vec<SyncSender<Result<(), String>>>) =
            jobs.into_iter().map(|j| (j.entry, j.done)).unzip();
        match store.append_audits(&entries) {
            Ok(()) => {
                for w in waiters {
                    let _ = w.send(Ok(()));
                }
            }
            // One bad entry must not fail its neighbours: store them one by one.
            Err(_) => {
                for (e, w) in entries.into_iter().zip(waiters) {
                    let r = store
                        .append_audits(std::slice::from_ref(&e))
                        .map_err(|e| e.to_string());
                    if let Err(err) = &r {
                        tracing::error!(error = %err, "could not append an audit entry");
                    }
                    let _ = w.send(r);
                }
            }
        }
    }
}
