//! The engine clock: microseconds since the engine started, monotonic.
//! The shell (threads, devices) reads it; decision code takes `now` as an
//! argument instead.

use std::time::{Duration, Instant, SystemTime};

/// How far in the past a wall-clock time may lie and still be mapped.
const MAX_AGE: Duration = Duration::from_secs(10);
/// How far in the future it may lie (clock granularity, rounding).
const MAX_AHEAD: Duration = Duration::from_millis(5);

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

    /// Wall-clock time `t` (a sender's capture time, from its RTCP sender
    /// reports) on this clock, when it is plausible: at most 10 s ago and
    /// not in the future (beyond 5 ms). `None` when the clocks disagree
    /// that much (hosts whose wall clocks are not synchronised).
    pub fn at_system_time(&self, t: SystemTime) -> Option<u64> {
        let (now_sys, now_us) = (SystemTime::now(), self.now_us());
        match now_sys.duration_since(t) {
            Ok(age) if age <= MAX_AGE => Some(now_us.saturating_sub(age.as_micros() as u64)),
            Ok(_) => None,
            Err(e) if e.duration() <= MAX_AHEAD => Some(now_us),
            Err(_) => None,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_clock_times_map_when_plausible() {
        let clock = Clock::new();
        std::thread::sleep(Duration::from_millis(30));
        let now = SystemTime::now();
        let at = clock
            .at_system_time(now - Duration::from_millis(20))
            .unwrap();
        let expected = clock.now_us() - 20_000;
        assert!(at.abs_diff(expected) < 5_000, "{at} vs {expected}");
        assert!(clock
            .at_system_time(now - Duration::from_secs(60))
            .is_none());
        assert!(clock.at_system_time(now + Duration::from_secs(1)).is_none());
        assert!(clock
            .at_system_time(now + Duration::from_millis(1))
            .is_some());
    }
}
