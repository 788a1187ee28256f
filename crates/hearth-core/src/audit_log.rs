//! The audit log's group commit. Reads served from the reader connections append their audit
//! entry here and wait until it is stored: the first caller to find no commit under way becomes
//! the committer and appends every entry waiting at that moment in one transaction
//! ([`hearth_store::Store::append_audits`]), then wakes the others. A read is answered only once
//! its entry is stored, and concurrent reads share one commit instead of each queueing for the
//! database's single writer; a lone read commits its own entry without any thread hand-off.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};

use hearth_domain::AuditEntry;
use hearth_store::Store;

use crate::{ServiceError, ServiceResult};

/// At most this many entries go into one transaction.
const MAX_BATCH: usize = 512;

#[derive(Default)]
struct State {
    /// Entries waiting for a commit, with their tickets (increasing).
    pending: Vec<(u64, AuditEntry)>,
    next_ticket: u64,
    /// Every ticket up to this one has been committed (or has failed, see `failed`).
    done_upto: u64,
    failed: HashMap<u64, String>,
    committing: bool,
}

struct Inner {
    store: Arc<dyn Store>,
    state: Mutex<State>,
    settled: Condvar,
}

#[derive(Clone)]
pub struct AuditLog {
    inner: Arc<Inner>,
}

impl AuditLog {
    pub fn start(store: Arc<dyn Store>) -> Self {
        AuditLog {
            inner: Arc::new(Inner {
                store,
                state: Mutex::new(State::default()),
                settled: Condvar::new(),
            }),
        }
    }

    /// Appends `entry` and returns once it is stored.
    pub fn append(&self, entry: AuditEntry) -> ServiceResult<()> {
        let poisoned = || ServiceError::Internal("the audit log lock was poisoned".into());
        let mut st = self.inner.state.lock().map_err(|_| poisoned())?;
        st.next_ticket += 1;
        let ticket = st.next_ticket;
        st.pending.push((ticket, entry));
        loop {
            if ticket <= st.done_upto {
                return match st.failed.remove(&ticket) {
                    None => Ok(()),
                    Some(e) => Err(ServiceError::Internal(format!("audit entry not stored: {e}"))),
                };
            }
            if st.committing {
                st = self.inner.settled.wait(st).map_err(|_| poisoned())?;
                continue;
            }
            // Commit everything waiting (up to a batch), outside the lock.
            st.committing = true;
            let n = st.pending.len().min(MAX_BATCH);
            let batch: Vec<(u64, AuditEntry)> = st.pending.drain(..n).collect();
            drop(st);
            let failures = self.commit(&batch);
            st = self.inner.state.lock().map_err(|_| poisoned())?;
            if let Some((last, _)) = batch.last() {
                st.done_upto = st.done_upto.max(*last);
            }
            st.failed.extend(failures);
            st.committing = false;
            self.inner.settled.notify_all();
        }
    }

    /// Stores a batch; returns the tickets that could not be stored, with why.
    fn commit(&self, batch: &[(u64, AuditEntry)]) -> Vec<(u64, String)> {
        let entries: Vec<AuditEntry> = batch.iter().map(|(_, e)| e.clone()).collect();
        if self.inner.store.append_audits(&entries).is_ok() {
            return vec![];
        }
        // One bad entry must not fail its neighbours: store them one by one.
        let mut failed = Vec::new();
        for (ticket, e) in batch {
            if let Err(err) = self.inner.store.append_audits(std::slice::from_ref(e)) {
                tracing::error!(error = %err, "could not append an audit entry");
                failed.push((*ticket, err.to_string()));
            }
        }
        failed
    }
}
