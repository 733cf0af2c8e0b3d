//! The sender's audio clock against ours: how many parts per million
//! slower it runs, from the transit times of its packets (arrival on our
//! clock less media time on its clock). A sender whose clock is slow
//! sends 20 ms frames a little more than 20 ms apart; its transit times
//! climb by that much every second, and a buffer that only plays what
//! comes runs dry now and then. Jitter and queues move transit times by
//! milliseconds either way, so the estimate compares the least transit of
//! 5 s windows, which only a clock (or a route that got longer)
//! moves: the least of the first against the least of the last complete
//! one, 10 s later.
//!
//! Pure: arrival times in, an estimate out.

use std::collections::VecDeque;

const WINDOW_US: u64 = 5_000_000;
/// Windows kept: the oldest is compared with the newest complete one (the
/// last is still filling).
const WINDOWS: usize = 4;
/// Slopes beyond this are not a clock: a new stream, or a timeline jump.
const MAX_PPM: f64 = 20_000.0;

/// See the module docs.
#[derive(Debug, Default, Clone)]
pub struct ClockDrift {
    /// (window index, least transit in it).
    windows: VecDeque<(u64, i64)>,
}

impl ClockDrift {
    /// A packet whose media time is `transit_us` behind its arrival at
    /// `arrival_us`.
    pub fn observe(&mut self, arrival_us: u64, transit_us: i64) {
        let window = arrival_us / WINDOW_US;
        match self.windows.back_mut() {
            Some((w, least)) if *w == window => *least = (*least).min(transit_us),
            Some((w, _)) if *w > window => {} // out of order: ignored
            _ => {
                self.windows.push_back((window, transit_us));
                while self.windows.len() > WINDOWS {
                    self.windows.pop_front();
                }
            }
        }
    }

    /// How much slower the sender's clock runs than ours, in parts per
    /// million (negative: faster); 0 until 15 s of arrivals were seen or
    /// when the slope is not a clock's.
    pub fn slow_ppm(&self) -> f64 {
        if self.windows.len() < WINDOWS {
            return 0.0;
        }
        let (w0, t0) = self.windows[0];
        let (w1, t1) = self.windows[self.windows.len() - 2];
        if w1 <= w0 {
            return 0.0;
        }
        let ppm = (t1 - t0) as f64 / ((w1 - w0) * WINDOW_US) as f64 * 1e6;
        if ppm.abs() > MAX_PPM {
            0.0
        } else {
            ppm
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames 20 ms apart on a sender clock `ppm` slow, with up to 8 ms of
    /// jitter: the slope comes out within 100 ppm and 5 % once 15 s were
    /// seen.
    #[test]
    fn a_slow_or_fast_sender_is_measured_through_jitter() {
        for ppm in [-5_000.0, -300.0, 0.0, 300.0, 5_000.0] {
            let mut d = ClockDrift::default();
            let mut rng = fastrand::Rng::with_seed(3);
            for i in 0..1_000u64 {
                let media_us = i * 20_000;
                let arrival =
                    (media_us as f64 * (1.0 + ppm / 1e6)) as u64 + 40_000 + rng.u64(0..8_000);
                d.observe(arrival, arrival as i64 - media_us as i64);
                if i == 500 {
                    assert_eq!(d.slow_ppm(), 0.0, "10 s are not enough");
                }
            }
            let got = d.slow_ppm();
            let tolerance = 100.0 + 0.05 * f64::abs(ppm);
            assert!((got - ppm).abs() < tolerance, "{ppm} ppm measured as {got}");
        }
    }

    #[test]
    fn a_timeline_jump_is_not_a_clock() {
        let mut d = ClockDrift::default();
        for i in 0..1_000u64 {
            let media_us = i * 20_000 + if i > 600 { 5_000_000 } else { 0 };
            let arrival = i * 20_000 + 40_000;
            d.observe(arrival, arrival as i64 - media_us as i64);
        }
        assert_eq!(d.slow_ppm(), 0.0);
    }
}
