//! A short-lived cache of resolved bearer tokens, so a busy app's requests do not each look its
//! token (and its app) up in the database. An entry lives at most [`TTL`] of real time and is
//! dropped at once when anything in this process revokes a token, changes a grant or an access,
//! or turns an app off ([`BearerCache::invalidate`]); a revocation made by another process (the
//! `hearth admin` command line) takes effect within [`TTL`]. Expiry is still checked on every
//! request against the injected clock.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hearth_domain::auth::TokenRecord;

/// How long a resolved token is trusted without looking again.
pub const TTL: Duration = Duration::from_secs(1);
/// Entries kept at most; the cache empties itself when full.
const CAPACITY: usize = 100_000;

#[derive(Default)]
pub struct BearerCache {
    generation: AtomicU64,
    entries: Mutex<HashMap<String, (u64, Instant, TokenRecord)>>,
}

impl BearerCache {
    pub fn get(&self, fingerprint: &str) -> Option<TokenRecord> {
        let generation = self.generation.load(Ordering::Acquire);
        let entries = self.entries.lock().ok()?;
        let (g, at, t) = entries.get(fingerprint)?;
        (*g == generation && at.elapsed() < TTL).then(|| t.clone())
    }

    pub fn put(&self, fingerprint: String, token: TokenRecord) {
        let generation = self.generation.load(Ordering::Acquire);
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(fingerprint, (generation, Instant::now(), token));
        }
    }

    /// Forgets every entry: something that decides whether tokens work has changed.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}
