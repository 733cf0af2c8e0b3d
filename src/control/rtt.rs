//! The round-trip time a path has without a queue (its floor), and the
//! test that says a queue is building: shared by the rate controller,
//! which cuts the target when a queue builds, and the repair policy,
//! which stops repairs from feeding one; and what a growing queue says
//! of the bottleneck's rate.

use std::collections::VecDeque;

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

/// A round trip the delivery rate is read from only when it rose by at
/// least this much since the last (feedback timing moves samples by a
/// few milliseconds).
const DELIVERY_MIN_RISE_US: u64 = 10_000;

/// One round-trip measurement of the media path, and what went into the
/// path since the one before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RoundTrip {
    /// The round trip of the newest packet the peer acknowledged.
    pub rtt_us: u64,
    /// What this side put on the wire since the previous measurement,
    /// bits per second.
    pub sent_bps: Option<u64>,
    /// What the bottleneck delivered meanwhile, bits per second, when the
    /// round trip rose: see [`RoundTripMeter`].
    pub delivered_bps: Option<u64>,
    /// The same over the last [`EARLY_BASELINE_US`] only: less exact, but
    /// it does not reach back to before a capacity drop, so that the
    /// first cut after one can go below the new rate.
    pub early_delivered_bps: Option<u64>,
}

/// How far back [`RoundTripMeter`] keeps the bytes sent (past the
/// longest round trip a queue it reads can have).
const SENT_HISTORY_US: u64 = 3_000_000;

/// The delivery rate is read between samples at least this far apart:
/// a sample's round trip belongs to a packet acknowledged up to one read
/// earlier (the transport reads every 25 ms), which moves a rate read
/// over 200 ms by up to an eighth. The first rate read
/// as a queue starts reads low (the bottleneck idled for part of that
/// time).
const DELIVERY_BASELINE_US: u64 = 200_000;
/// The early delivery rate is read over this, which that moves by up to
/// a quarter. Over 200 ms, the first read after a capacity drop spans the
/// drop (2 → 0.5 Mbit/s read about 1 Mbit/s), and the queue grew by
/// 1.6 ms every millisecond until a second cut met it.
const EARLY_BASELINE_US: u64 = 100_000;

/// Makes [`RoundTrip`]s from successive round trips and the bytes sent so
/// far. The packets two samples acknowledge left at `now - rtt` of each;
/// while a queue holds packets at the bottleneck, everything sent between
/// those two moments went through it between the two acknowledgements,
/// so those bytes over the time between the samples are the bottleneck's
/// rate. That is known a few samples after a queue starts to build — long
/// before an estimate that waits for the delay trend, and whatever the
/// estimate was before.
#[derive(Debug, Clone, Default)]
pub struct RoundTripMeter {
    /// (when, bytes sent since the connection began), oldest first.
    sent: VecDeque<(u64, u64)>,
    /// Earlier samples: (when, their round trip), oldest first.
    rtts: VecDeque<(u64, u64)>,
}

impl RoundTripMeter {
    /// A round trip measured at `now_us`, with `bytes_sent` put on the
    /// wire since the connection began.
    pub fn measure(&mut self, now_us: u64, rtt_us: u64, bytes_sent: u64) -> RoundTrip {
        let mut rt = RoundTrip {
            rtt_us,
            ..RoundTrip::default()
        };
        if let Some(&(at, bytes)) = self.sent.back() {
            let dt = now_us.saturating_sub(at);
            if dt > 0 && bytes_sent >= bytes {
                rt.sent_bps = Some((bytes_sent - bytes) * 8 * 1_000_000 / dt);
            }
        }
        if self.sent.back().is_some_and(|&(_, b)| bytes_sent < b) {
            self.sent.clear(); // a counter that went back: start over
        }
        self.sent.push_back((now_us, bytes_sent));
        let old = |t: u64| now_us.saturating_sub(t) > SENT_HISTORY_US;
        while self.sent.front().is_some_and(|&(t, _)| old(t)) {
            self.sent.pop_front();
        }
        while self.rtts.front().is_some_and(|&(t, _)| old(t)) {
            self.rtts.pop_front();
        }
        rt.delivered_bps = self.delivered(now_us, rtt_us, DELIVERY_BASELINE_US);
        rt.early_delivered_bps = self.delivered(now_us, rtt_us, EARLY_BASELINE_US);
        self.rtts.push_back((now_us, rtt_us));
        rt
    }

    /// What the bottleneck delivered between the latest sample at least
    /// `baseline_us` old and this one, when the round trip rose between
    /// them.
    fn delivered(&self, now_us: u64, rtt_us: u64, baseline_us: u64) -> Option<u64> {
        let &(at, base_rtt) = self
            .rtts
            .iter()
            .rev()
            .find(|&&(t, _)| now_us.saturating_sub(t) >= baseline_us)?;
        if rtt_us < base_rtt + DELIVERY_MIN_RISE_US {
            return None;
        }
        let first = at.checked_sub(base_rtt)?;
        let second = now_us.checked_sub(rtt_us).filter(|&s| s > first)?;
        let (a, b) = (self.sent_at(first)?, self.sent_at(second)?);
        let dt = now_us.saturating_sub(at);
        Some(((b - a) * 8.0 * 1e6 / dt as f64) as u64)
    }

    /// Bytes sent until `t_us`, between the samples around it.
    fn sent_at(&self, t_us: u64) -> Option<f64> {
        let after = self.sent.iter().position(|&(t, _)| t >= t_us)?;
        let (t1, b1) = self.sent[after];
        if after == 0 {
            return (t1 == t_us).then_some(b1 as f64);
        }
        let (t0, b0) = self.sent[after - 1];
        let f = (t_us - t0) as f64 / (t1 - t0).max(1) as f64;
        Some(b0 as f64 + f * (b1 - b0) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000;

    #[test]
    fn a_steady_path_gives_the_send_rate_and_no_delivery_rate() {
        let mut m = RoundTripMeter::default();
        let first = m.measure(0, 20 * MS, 0);
        assert_eq!((first.sent_bps, first.delivered_bps), (None, None));
        for i in 1..10 {
            // 1 Mbit/s: 25 000 bytes per 200 ms.
            let rt = m.measure(i * 200 * MS, (20 + i % 3) * MS, i * 25_000);
            assert_eq!(rt.sent_bps, Some(1_000_000), "sample {i}");
            assert_eq!(rt.delivered_bps, None, "sample {i}");
        }
    }

    /// A sender at `send_bps(ms)` through a bottleneck of `rate_bps(ms)`
    /// for `length_ms`, over a path of `path_ms` without the queue; a
    /// round trip (of the newest packet acknowledged: sent at s, back at
    /// s + the path + the queue it met) measured every `every_ms`.
    /// Returns each measurement with when it was made.
    fn path(
        length_ms: u64,
        path_ms: f64,
        every_ms: u64,
        send_bps: impl Fn(u64) -> f64,
        rate_bps: impl Fn(u64) -> f64,
    ) -> Vec<(u64, RoundTrip)> {
        let mut m = RoundTripMeter::default();
        let (mut bytes, mut queue_ms) = (0.0f64, 0.0f64);
        // Per ms sent: (bytes sent until then, the queue met in ms).
        let mut sent: Vec<(f64, f64)> = Vec::new();
        let mut out = Vec::new();
        for ms in 0..length_ms {
            bytes += send_bps(ms) / 8.0 / 1000.0;
            queue_ms = (queue_ms + send_bps(ms) / rate_bps(ms) - 1.0).max(0.0);
            sent.push((bytes, queue_ms));
            if ms % every_ms == 0 {
                let acked = (0..=ms as usize)
                    .rev()
                    .find(|&s| s as f64 + path_ms + sent[s].1 <= ms as f64);
                if let Some(s) = acked {
                    let rtt = ((path_ms + sent[s].1) * 1000.0) as u64;
                    out.push((ms, m.measure(ms * MS, rtt, bytes as u64)));
                }
            }
        }
        out
    }

    /// Sends at half of a `rate_bps` bottleneck for a second, then at
    /// `send_bps` (a quarter of it from `cut_at_ms`), over a 20 ms path,
    /// reading a round trip every 100 ms; returns the delivery rates read.
    fn queue(send_bps: u64, rate_bps: u64, cut_at_ms: u64) -> Vec<(u64, u64)> {
        let send = |ms: u64| match ms {
            _ if ms < 1000 => rate_bps as f64 / 2.0,
            _ if ms >= cut_at_ms => send_bps as f64 / 4.0,
            _ => send_bps as f64,
        };
        path(2500, 20.0, 100, send, |_| rate_bps as f64)
            .into_iter()
            .filter_map(|(ms, rt)| rt.delivered_bps.map(|d| (ms, d)))
            .collect()
    }

    /// The rates read must be the bottleneck's, but for the first (which
    /// spans the queue's start) that may read low.
    fn check(read: &[(u64, u64)]) {
        assert!(read.len() >= 5, "{read:?}");
        assert!(read[0].1 >= 250_000, "{read:?}");
        for (ms, d) in &read[1..] {
            assert!((400_000..=620_000).contains(d), "{d} at {ms} ms: {read:?}");
        }
    }

    #[test]
    fn the_early_read_after_a_capacity_drop_is_the_new_rate() {
        // 1.36 Mbit/s through a 2 Mbit/s bottleneck that falls to 0.5 at
        // 1 s, over a 2 ms path; a round trip read every 25 ms.
        let rate = |ms: u64| if ms < 1000 { 2_000_000.0 } else { 500_000.0 };
        let (ms, rt) = path(1400, 2.0, 25, |_| 1_360_000.0, rate)
            .into_iter()
            .find(|(_, rt)| rt.rtt_us > 52 * MS)
            .expect("the queue shows");
        // The read over 200 ms spans the drop; the early one does not.
        let early = rt.early_delivered_bps.expect("an early read");
        assert!((400_000..=650_000).contains(&early), "{ms} ms: {rt:?}");
        assert!(
            rt.delivered_bps.is_none_or(|d| d > 700_000),
            "{ms} ms: {rt:?}"
        );
    }

    #[test]
    fn a_growing_queue_gives_the_bottleneck_rate() {
        // 1.33 Mbit/s into 0.5 Mbit/s.
        check(&queue(1_330_000, 500_000, u64::MAX));
    }

    #[test]
    fn packets_sent_before_a_cut_still_read_the_bottleneck() {
        // The sender cuts to a quarter 500 ms into the queue; the round
        // trip keeps rising while what was sent before drains: still
        // 0.5 Mbit/s, not the new send rate.
        let read = queue(1_330_000, 500_000, 1500);
        assert!(read.iter().any(|&(ms, _)| ms > 1500), "{read:?}");
        check(&read);
    }
}
