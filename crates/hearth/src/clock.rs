//! The clock `hearth serve` gives the services: the system clock, or, for test servers whose
//! configuration names a `clock_offset_file`, the system clock plus the number of seconds that
//! file holds (re-read every 100 ms by a background thread, so reading the time stays a load
//! of one atomic). End-to-end tests use it to move past expiry dates.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use hearth_domain::{Clock, SystemClock, Timestamp};

pub struct OffsetClock {
    offset_micros: Arc<AtomicI64>,
}

impl Clock for OffsetClock {
    fn now(&self) -> Timestamp {
        Timestamp(SystemClock.now().0 + self.offset_micros.load(Ordering::Relaxed))
    }
}

fn read_offset(path: &PathBuf) -> i64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.trim().parse::<i64>().ok())
        .unwrap_or(0)
}

/// The clock for `config`.
pub fn clock_for(offset_file: Option<&PathBuf>) -> Arc<dyn Clock> {
    let Some(path) = offset_file.cloned() else {
        return Arc::new(SystemClock);
    };
    tracing::warn!(file = %path.display(), "the clock follows an offset file: for test servers only");
    let offset = Arc::new(AtomicI64::new(read_offset(&path) * 1_000_000));
    let shared = offset.clone();
    std::thread::Builder::new()
        .name("clock-offset".into())
        .spawn(move || {
            loop {
                shared.store(read_offset(&path) * 1_000_000, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
        .ok();
    Arc::new(OffsetClock {
        offset_micros: offset,
    })
}
