//! The round-trip time a path has without a queue (its floor), and the
//! test that says a queue is building: shared by the rate controller,
//! which cuts the target when a queue builds, and the repair policy,
//! which stops repairs from feeding one.

/// The floor is the least RTT seen over about this long (the current and
/// the previous window), so a path that got longer for good is learned.
const FLOOR_WINDOW_US: u64 = 10_000_000;
/// A round trip this much above the floor (and at least
/// [`RISE_MIN_US`] above it) means a queue is building.
const RISE_FACTOR: f64 = 2.0;
const RISE_MIN_US: u64 = 50_000;

/// See the module docs.
#[derive(Debug, Clone, Default)]
pub struct RttFloor {
    /// Least RTT of the current window: (value, window start).
    current: Option<(u64, u64)>,
    previous: Option<u64>,
}

impl RttFloor {
    /// The least RTT seen lately.
    pub fn get(&self) -> Option<u64> {
        match (self.current.map(|(v, _)| v), self.previous) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A round trip measured at `now_us`; starts a new window when the
    /// current one is old.
    pub fn observe(&mut self, now_us: u64, rtt_us: u64) {
        match self.current {
            Some((_, start)) if now_us.saturating_sub(start) >= FLOOR_WINDOW_US => {
                self.previous = self.current.map(|(v, _)| v);
                self.current = Some((rtt_us, now_us));
            }
            Some((v, start)) => self.current = Some((v.min(rtt_us), start)),
            None => self.current = Some((rtt_us, now_us)),
        }
    }

    /// A round trip that may only lower the current window's floor.
    pub fn lower(&mut self, now_us: u64, rtt_us: u64) {
        match self.current {
            Some((v, start)) => self.current = Some((v.min(rtt_us), start)),
            None => self.current = Some((rtt_us, now_us)),
        }
    }

    /// The path itself changed: `rtt_us` is its floor from now on.
    pub fn reset_to(&mut self, now_us: u64, rtt_us: u64) {
        self.current = Some((rtt_us, now_us));
        self.previous = None;
    }
}

/// Whether `rtt_us` shows a queue on a path whose floor is `floor_us`.
pub fn queue_building(floor_us: u64, rtt_us: u64) -> bool {
    rtt_us as f64 > floor_us as f64 * RISE_FACTOR && rtt_us > floor_us + RISE_MIN_US
}
