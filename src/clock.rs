//! The engine clock: microseconds since the engine started, monotonic.
//! The shell (threads, devices) reads it; decision code takes `now` as an
//! argument instead.

use std::time::{Duration, Instant, SystemTime};

/// How far in the past a wall-clock time may lie and still be mapped.
const MAX_AGE: Duration = Duration::from_secs(10);
/// How far in the future it may lie (clock granularity, rounding).
const MAX_AHEAD: Duration = Duration::from_millis(5);

/// A cheap, cloneable monotonic clock with a fixed epoch, and the wall
/// clock's reading at that epoch (wall-clock times map through this one
/// anchor, as str0m maps its `Instant`s to the NTP times of its sender
/// reports).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    epoch: Instant,
    wall: SystemTime,
}

/// Tries at reading the wall clock between two monotonic reads.
const ANCHOR_TRIES: usize = 5;

/// The monotonic clock and the wall clock read at (nearly) one moment:
/// the wall clock between two monotonic reads, the closest pair of a few
/// tries. A thread preempted between two plain reads pairs them tens of
/// milliseconds apart on a loaded machine, and every wall-clock time
/// mapped through the pair (a capture time from a sender report) would
/// be off by as much.
pub(crate) fn anchor() -> (Instant, SystemTime) {
    let mut best: Option<(Duration, Instant, SystemTime)> = None;
    for _ in 0..ANCHOR_TRIES {
        let before = Instant::now();
        let wall = SystemTime::now();
        let spread = before.elapsed();
        if best.is_none_or(|(s, _, _)| spread < s) {
            best = Some((spread, before + spread / 2, wall));
        }
        if spread < Duration::from_micros(50) {
            break;
        }
    }
    let (_, at, wall) = best.expect("at least one try");
    (at, wall)
}

impl Clock {
    pub fn new() -> Self {
        let (epoch, wall) = anchor();
        Self::starting_at(epoch, wall)
    }

    /// A clock whose epoch is `epoch` (a simulation's virtual start), when
    /// the wall clock read `wall`.
    pub fn starting_at(epoch: Instant, wall: SystemTime) -> Self {
        Clock { epoch, wall }
    }

    /// Microseconds since the epoch.
    pub fn now_us(&self) -> u64 {
        self.us_at(Instant::now())
    }

    /// `t` in microseconds since the epoch (0 before it).
    pub fn us_at(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_micros() as u64
    }

    /// Wall-clock time `t` (a sender's capture time, from its RTCP sender
    /// reports) on this clock, seen at `now_us`, when it is plausible: at
    /// most 10 s ago and not in the future (beyond 5 ms). `None` when the
    /// clocks disagree that much (hosts whose wall clocks are not
    /// synchronised).
    pub fn at_system_time(&self, now_us: u64, t: SystemTime) -> Option<u64> {
        let now_sys = self.wall + Duration::from_micros(now_us);
        match now_sys.duration_since(t) {
            Ok(age) if age <= MAX_AGE => Some(now_us.saturating_sub(age.as_micros() as u64)),
            Ok(_) => None,
            Err(e) if e.duration() <= MAX_AHEAD => Some(now_us),
            Err(_) => None,
        }
    }

    /// The `Instant` at `us` microseconds past the epoch.
    pub fn instant_at(&self, us: u64) -> Instant {
        self.epoch + Duration::from_micros(us)
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
        let epoch = Instant::now();
        let clock = Clock::starting_at(epoch, SystemTime::now());
        let now_us = 30_000;
        let now = clock.wall + Duration::from_micros(now_us);
        let at = clock
            .at_system_time(now_us, now - Duration::from_millis(20))
            .unwrap();
        assert_eq!(at, 10_000);
        assert!(clock
            .at_system_time(now_us, now - Duration::from_secs(60))
            .is_none());
        assert!(clock
            .at_system_time(now_us, now + Duration::from_secs(1))
            .is_none());
        assert_eq!(
            clock.at_system_time(now_us, now + Duration::from_millis(1)),
            Some(now_us)
        );
        assert_eq!(clock.us_at(epoch + Duration::from_millis(7)), 7_000);
        assert_eq!(clock.us_at(epoch - Duration::from_millis(1)), 0);
        assert_eq!(clock.instant_at(7_000), epoch + Duration::from_millis(7));
    }
}
