//! The engine clock: microseconds since the engine started, monotonic.
//! The shell (threads, devices) reads it; decision code takes `now` as an
//! argument instead.

use std::time::Instant;

/// A cheap, cloneable monotonic clock with a fixed epoch.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: Instant,
}

impl Clock {
    pub fn new() -> Self {
        Clock {
            epoch: Instant::now(),
        }
    }

    /// Microseconds since the epoch.
    pub fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    /// The `Instant` at `us` microseconds past the epoch.
    pub fn instant_at(&self, us: u64) -> Instant {
        self.epoch + std::time::Duration::from_micros(us)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}
