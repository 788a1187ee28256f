//! Brute-force throttling for passwords, second-factor codes and emailed-link requests.
//!
//! Failures are counted per key (an account, an email as typed, a client address). Within a
//! window of 15 minutes the first [`Policy::free`] failures cost nothing; each further failure
//! doubles a lock-out that starts at one second and is capped at [`Policy::max_lock`]. A success
//! clears the key. State lives in memory (it resets on restart) and reads time from the injected
//! clock, so tests move time instead of sleeping.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hearth_domain::{Clock, Timestamp};

#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Failures allowed before any lock-out.
    pub free: u32,
    /// Window after the last failure in which failures are remembered, seconds.
    pub window_secs: i64,
    /// Longest lock-out, seconds.
    pub max_lock_secs: i64,
}

impl Policy {
    /// Passwords per account or per typed email: 5 free failures.
    pub const SIGN_IN: Policy = Policy {
        free: 5,
        window_secs: 15 * 60,
        max_lock_secs: 15 * 60,
    };
    /// Per client address, across accounts: 20 free failures.
    pub const ADDRESS: Policy = Policy {
        free: 20,
        window_secs: 15 * 60,
        max_lock_secs: 15 * 60,
    };
    /// Second-factor codes per account: 5 free failures.
    pub const TOTP: Policy = Policy {
        free: 5,
        window_secs: 15 * 60,
        max_lock_secs: 15 * 60,
    };
    /// Emailed links (reset, verification) per address typed: 3 per window, then waits.
    pub const MAIL: Policy = Policy {
        free: 3,
        window_secs: 60 * 60,
        max_lock_secs: 60 * 60,
    };
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    failures: u32,
    last: Timestamp,
    locked_until: Timestamp,
}

/// A set of counters sharing one clock.
#[derive(Clone)]
pub struct Throttle {
    clock: Arc<dyn Clock>,
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

/// Refused: try again after this many seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttled {
    pub retry_after_secs: i64,
}

impl From<Throttled> for crate::ServiceError {
    fn from(t: Throttled) -> Self {
        crate::ServiceError::Throttled {
            retry_after_secs: t.retry_after_secs,
        }
    }
}

impl Throttle {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Throttle {
            clock,
            entries: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether an attempt under `key` may go ahead now.
    pub fn check(&self, key: &str) -> Result<(), Throttled> {
        let now = self.clock.now();
        match self.lock().get(key) {
            Some(e) if e.locked_until.0 > now.0 => Err(Throttled {
                retry_after_secs: ((e.locked_until.0 - now.0) + 999_999) / 1_000_000,
            }),
            _ => Ok(()),
        }
    }

    /// Counts a failure under `key`.
    pub fn fail(&self, key: &str, policy: Policy) {
        let now = self.clock.now();
        let mut map = self.lock();
        if map.len() > 100_000 {
            map.retain(|_, e| now.0 - e.last.0 < policy.window_secs * 1_000_000);
        }
        let e = map.entry(key.to_string()).or_insert(Entry {
            failures: 0,
            last: now,
            locked_until: Timestamp(0),
        });
        if now.0 - e.last.0 > policy.window_secs * 1_000_000 {
            e.failures = 0;
        }
        e.failures += 1;
        e.last = now;
        if e.failures > policy.free {
            let exp = (e.failures - policy.free - 1).min(20);
            let secs = (1i64 << exp).min(policy.max_lock_secs);
            e.locked_until = now.plus_seconds(secs);
        }
    }

    /// Counts an attempt that always counts (e.g. emailed links), failing or not.
    pub fn hit(&self, key: &str, policy: Policy) -> Result<(), Throttled> {
        self.check(key)?;
        self.fail(key, policy);
        Ok(())
    }

    /// Clears `key` after a success.
    pub fn clear(&self, key: &str) {
        self.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_domain::time::ManualClock;

    #[test]
    fn lockouts_double_after_the_free_failures_and_expire() {
        let clock = Arc::new(ManualClock::new(Timestamp(1_700_000_000_000_000)));
        let t = Throttle::new(clock.clone());
        for _ in 0..5 {
            assert!(t.check("k").is_ok());
            t.fail("k", Policy::SIGN_IN);
        }
        assert!(t.check("k").is_ok());
        t.fail("k", Policy::SIGN_IN);
        assert_eq!(t.check("k"), Err(Throttled { retry_after_secs: 1 }));
        clock.advance_seconds(1);
        t.fail("k", Policy::SIGN_IN);
        assert_eq!(t.check("k"), Err(Throttled { retry_after_secs: 2 }));
        for _ in 0..20 {
            t.fail("k", Policy::SIGN_IN);
        }
        assert_eq!(
            t.check("k"),
            Err(Throttled {
                retry_after_secs: 900
            })
        );
        clock.advance_seconds(900);
        assert!(t.check("k").is_ok());
        t.clear("k");
        t.fail("k", Policy::SIGN_IN);
        assert!(t.check("k").is_ok());
    }
}
